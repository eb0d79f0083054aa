"""One-click start: Binder builds the repository with repo2docker from environment.yml.

repo2docker is run with --no-build --no-run: it reads the repository, picks its buildpack and
prints the Dockerfile it would build, offline and without a Docker engine (about 1 s). The
image itself is built by mybinder.org on the first launch after a change, which no test here
can do.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
REPO2DOCKER = Path(sys.executable).parent / "repo2docker"
BINDER_URL = re.compile(r"https://mybinder\.org/v2/gh/[\w.-]+/[\w.-]+/HEAD\?urlpath=lab/tree/"
                        r"(notebooks/[\w.-]+\.ipynb)")


@pytest.fixture(scope="module")
def dockerfile():
    if not REPO2DOCKER.exists() and not shutil.which("repo2docker"):
        pytest.skip("repo2docker is not installed (the `site` extra brings it)")
    command = [str(REPO2DOCKER) if REPO2DOCKER.exists() else "repo2docker",
               "--no-build", "--no-run", "--debug", str(ROOT)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"repo2docker refused the configuration:\n{done.stderr[-3000:]}"
    return done.stdout, done.stderr


def test_repo2docker_accepts_the_configuration_and_uses_environment_yml(dockerfile):
    text, log = dockerfile
    python = next(d for d in yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
                  if isinstance(d, str) and d.startswith("python="))
    assert f"Building conda environment for {python}" in log, log
    assert re.search(r'env update -p \$\{NB_PYTHON_PREFIX\} --file "environment\.yml"', text), (
        "the Dockerfile does not install environment.yml:\n" + text[-2000:])


def test_no_other_configuration_overrides_the_root_one():
    """repo2docker reads only binder/ (or .binder/) when it exists, and only a Dockerfile when
    there is one: either would silently replace environment.yml."""
    present = [name for name in ("binder", ".binder", "Dockerfile") if (ROOT / name).exists()]
    assert not present, f"{present} would make repo2docker ignore environment.yml"


def test_readme_badge_opens_jupyterlab_on_notebook_00():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    badge = re.search(r"\[!\[[^\]]*\]\(https://mybinder\.org/badge_logo\.svg\)\]\(([^)]+)\)", readme)
    assert badge, "README.md has no Binder badge [![Binder](https://mybinder.org/badge_logo.svg)](...)"
    target = BINDER_URL.fullmatch(badge.group(1))
    assert target, f"the badge's link {badge.group(1)!r} does not open JupyterLab on a notebook"
    assert target.group(1) == "notebooks/00_welcome.ipynb", target.group(1)
    assert (ROOT / target.group(1)).exists()


# -- the start script: the learners' JupyterLab settings on Binder too ----------------------------
START = ROOT / "start"


def _start(*command: str, **env: str) -> str:
    """Run `command` through the start script as repo2docker's entrypoint does; its output."""
    base = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_CONFIG_PATH", "REPO_DIR")}
    done = subprocess.run(["bash", str(START), *command], capture_output=True, text=True,
                          env={**base, **env}, timeout=60)
    assert done.returncode == 0, f"start {' '.join(command)} failed:\n{done.stderr[-2000:]}"
    return done.stdout + done.stderr


def test_repo2docker_runs_the_start_script_at_every_launch(dockerfile):
    text, _ = dockerfile
    assert os.access(START, os.X_OK), "start is not executable (git update-index --chmod=+x start)"
    assert 'ENV R2D_ENTRYPOINT="${REPO_DIR}/start"' in text, (
        "repo2docker does not take ./start as the launch script:\n" + text[-2000:])
    assert START.read_text().rstrip().splitlines()[-1] == 'exec "$@"', (
        "repo2docker requires the start script to end with exec \"$@\" (it runs JupyterLab)")


@pytest.mark.parametrize("repo_dir", [str(ROOT), None], ids=["REPO_DIR", "no REPO_DIR"])
def test_start_script_puts_jupyter_config_first_and_keeps_other_paths(repo_dir):
    env = {"JUPYTER_CONFIG_PATH": "/elsewhere"} | ({"REPO_DIR": repo_dir} if repo_dir else {})
    paths = _start(sys.executable, "-c", "import os; print(os.environ['JUPYTER_CONFIG_PATH'])",
                   **env).strip().split(os.pathsep)
    assert paths == [str(ROOT / "jupyter_config"), "/elsewhere"], paths
    # and what course.py lab does (the two launch routes must give one JupyterLab)
    sys.path.insert(0, str(ROOT))
    try:
        import course
    finally:
        sys.path.remove(str(ROOT))
    expected = course.learner_config({"JUPYTER_CONFIG_PATH": "/elsewhere"})["JUPYTER_CONFIG_PATH"]
    assert os.pathsep.join(paths) == expected, (paths, expected)


def test_start_script_turns_nbgrader_menus_off():
    jupyter = Path(sys.executable).parent / "jupyter"
    if not jupyter.exists():
        pytest.skip("no jupyter next to this Python")
    def nbgrader_line(output: str) -> str:
        plain = re.sub(r"\x1b\[[0-9;]*m", "", output)
        return next((l.strip() for l in plain.splitlines() if "@jupyter/nbgrader v" in l), "")
    without = nbgrader_line(_start(str(jupyter), "labextension", "list", REPO_DIR="/nowhere"))
    with_it = nbgrader_line(_start(str(jupyter), "labextension", "list", REPO_DIR=str(ROOT)))
    assert "enabled" in without, f"nbgrader's lab extension is not installed? {without!r}"
    assert "disabled" in with_it, (
        f"through ./start, nbgrader's lab extension is {with_it!r}: jupyter_config/ not read")
