"""The course's website (python3 course.py site) in headless Chromium: every page opens, every
plotly figure of its notebook is drawn, and nothing is written to the console as an error.

The site is built once per test run (sagalab.authoring.sitebuild.build_once, shared with
tests/test_site.py) and served from 127.0.0.1 on a free port by a thread of this process,
stopped when the module's tests end. The page may load nothing from the internet: a request
to another host is answered with an empty body and recorded, and fails the test. About 1 s a
page.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from sagalab.authoring import plotly_mime, sitebuild

DRAW_TIMEOUT = 20.0          # s for a page's figures to draw
PAGES = sitebuild.pages()

COUNT = f"""() => [document.querySelectorAll('.{plotly_mime.FIGURE_CLASS}').length,
                  document.querySelectorAll('.{plotly_mime.FIGURE_CLASS} .plot-container.plotly').length]"""


def figures_in_notebook(html: Path, name: str) -> int:
    """Figures the page must draw: those stored in the notebook it was built from."""
    if name == "index":
        return 0
    nb = json.loads(sitebuild.staged(html, name).read_text(encoding="utf-8"))
    return sum(plotly_mime.PLOTLY_MIME in o.get("data", {})
               for c in nb["cells"] for o in c.get("outputs", []))


@pytest.fixture(scope="module")
def site_url(browser_report):
    code, seconds, html, log = sitebuild.build_once()
    assert code == 0, f"the site does not build:\n{log[-4000:]}"
    browser_report.append(f"site: built in {seconds:.1f} s ({len(PAGES)} pages)")
    with sitebuild.serve(html) as base:
        yield base, html


@pytest.fixture(scope="module")
def site_context(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.outside = []          # requests to other hosts, answered empty

    def elsewhere(route):
        context.outside.append(route.request.url)
        route.fulfill(status=200, body="", content_type="text/plain")

    context.route(lambda url: urlparse(url).hostname not in ("127.0.0.1", None), elsewhere)
    yield context
    context.close()


@pytest.mark.parametrize("page_name", PAGES)
def test_site_page_draws_its_figures_without_console_errors(page_name, site_url, site_context):
    site_url, html = site_url
    expected = figures_in_notebook(html, page_name)
    errors: list[str] = []
    page = site_context.new_page()
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    before = len(site_context.outside)
    try:
        response = page.goto(f"{site_url}{page_name}.html", wait_until="load")
        assert response is not None and response.status == 200, f"{page_name}: HTTP {response and response.status}"
        deadline = time.monotonic() + DRAW_TIMEOUT
        divs, drawn = page.evaluate(COUNT)
        while drawn < expected and time.monotonic() < deadline:
            page.wait_for_timeout(200)
            divs, drawn = page.evaluate(COUNT)
        outside = site_context.outside[before:]
    finally:
        page.close()
    assert (divs, drawn) == (expected, expected), (
        f"{page_name}: its notebook has {expected} plotly figures; the page has {divs} figure "
        f"divs, {drawn} drawn")
    assert not errors, f"{page_name}: {errors}"
    assert not outside, (
        f"{page_name} loads from the internet: {outside}")
