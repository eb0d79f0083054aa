"""Suite-wide ordering: fast unit tests first, the browser tests last.

The browser tests keep Playwright's (synchronous) event loop alive in the main thread for the
whole browser session; they are also the slowest. Running them last keeps a quick failure
quick and leaves every other test a thread with no running loop, as in a plain script.
"""


def pytest_collection_modifyitems(session, config, items):
    browser = [item for item in items if "tests/browser/" in item.nodeid]
    if browser:
        others = [item for item in items if "tests/browser/" not in item.nodeid]
        items[:] = others + browser
