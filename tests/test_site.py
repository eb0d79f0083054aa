"""The course as a website (python3 course.py site): Jupyter Book 1, offline, warnings as errors.

The site is built once per test run into a temporary folder (about 13 s on 2 cores), shared
with tests/browser/test_browser_site.py (sitebuild.build_once). The offline link check
(linkchecker, internal links only) takes about 12 s more.
"""
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from sagalab.authoring import plotly_mime, sitebuild

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def site():
    code, seconds, html, log = sitebuild.build_once()
    print(f"\n[site] built in {seconds:.1f} s")
    assert code == 0, f"the site does not build with warnings as errors:\n{log[-5000:]}"
    return html, seconds, log


def outputs(path: Path, mime: str) -> int:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return sum(mime in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))


# --------------------------------------------------------------------------- pieces

def test_a_figure_is_a_div_and_a_script_that_cannot_be_closed_early():
    text = plotly_mime.figure_html({"data": [{"name": "</script><b>"}], "layout": {}}, "plotly-figure-7")
    assert 'id="plotly-figure-7" class="plotly-graph-div"' in text
    assert text.count("</script>") == 1 and "<\\/script><b>" in text
    assert 'Plotly.newPlot("plotly-figure-7"' in text


@pytest.mark.parametrize("bad, message", [([1, 2], "must be a JSON object"),
                                          ({"layout": {}}, "needs a 'data' key")])
def test_a_malformed_figure_is_named(bad, message):
    with pytest.raises(ValueError, match=message):
        plotly_mime.figure_html(bad, "plotly-figure-1")


def test_figure_ids_count_per_page():
    class Page:
        pass
    one, two = Page(), Page()
    ids = [plotly_mime._next_figure_id(p) for p in (one, one, two, one)]
    assert ids == ["plotly-figure-1", "plotly-figure-2", "plotly-figure-1", "plotly-figure-3"]


def test_a_widget_links_to_its_notebook_on_binder():
    class Config:
        html_theme_options = {"repository_url": "https://github.com/ada/sagalab",
                              "repository_branch": "HEAD",
                              "launch_buttons": {"binderhub_url": "https://mybinder.org"}}
    url = plotly_mime.binder_url(Config, "notebooks/03_failures")
    assert url == ("https://mybinder.org/v2/gh/ada/sagalab/HEAD?urlpath=lab/tree/"
                   "notebooks/03_failures.ipynb")
    note = plotly_mime.widget_note_html("notebooks/03_failures", url)
    assert url in note and "python3 course.py lab" in note and "notebooks/03_failures.ipynb" in note


def test_the_table_of_contents_is_written_from_the_notebooks_present(tmp_path):
    """Notebooks and labs that land later (08, 09, 09b, 10; lab08, lab09) appear, in order."""
    for name in ["10_capstone", "00_welcome", "09b_redis", "01b_engine", "09_beyond", "01_orch"]:
        (tmp_path / "notebooks").mkdir(exist_ok=True)
        (tmp_path / "notebooks" / f"{name}.ipynb").write_text("{}")
    for name in ["lab09_beyond", "lab00_warmup", "lab08_hybrid"]:
        (tmp_path / "solutions").mkdir(exist_ok=True)
        (tmp_path / "solutions" / f"{name}.ipynb").write_text("{}")
    names = sitebuild.pages(tmp_path)
    assert names == ["index", "notebooks/00_welcome", "notebooks/01_orch", "notebooks/01b_engine",
                     "notebooks/09_beyond", "notebooks/09b_redis", "notebooks/10_capstone",
                     "labs/lab00_warmup", "labs/lab08_hybrid", "labs/lab09_beyond",
                     "solutions/lab00_warmup", "solutions/lab08_hybrid", "solutions/lab09_beyond"]
    toc = sitebuild.toc_yaml(names)
    assert toc.index("notebooks/09b_redis") < toc.index("notebooks/10_capstone") < toc.index("labs/")


def test_the_home_page_keeps_site_links_and_redirects_the_others():
    readme = ("# Title\n\nIntro with [tests](tests/) and [gone](nowhere.md).\n\n## Quick start\n\nx\n\n"
              "## Syllabus\n\n| 00 | [welcome](notebooks/00_welcome.ipynb) | "
              "[lab00](labs/lab00_warmup.ipynb) |\n\n## Layout\n\nnot on the home page\n")
    page = sitebuild.index_markdown(readme, {"notebooks/00_welcome", "labs/lab00_warmup"},
                                    "https://github.com/ada/sagalab")
    assert "[welcome](notebooks/00_welcome.ipynb)" in page
    assert "[lab00](labs/lab00_warmup.ipynb)" in page
    assert "[tests](https://github.com/ada/sagalab/blob/HEAD/tests/)" in page
    assert "[gone]" not in page and "gone" in page
    assert "not on the home page" not in page and "Quick start" not in page
    assert "https://mybinder.org/v2/gh/ada/sagalab/HEAD?urlpath=lab/tree/notebooks/00_welcome.ipynb" in page


def test_links_in_the_notebooks_work_in_jupyterlab():
    """A relative link in a lesson or a lab resolves to a file of the repository (JupyterLab
    opens it from the file beside it); on the site the same link is checked by linkchecker."""
    broken = []
    for path in sitebuild.lessons() + sitebuild.labs():
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "markdown":
                continue
            for target in re.findall(r"\]\(([^)\s]+)\)", cell.source):
                if re.match(r"[a-z]+:|#", target):
                    continue
                if not (path.parent / target.split("#")[0]).exists():
                    broken.append(f"{path.relative_to(ROOT)}: {target}")
    assert not broken, broken


# --------------------------------------------------------------------------- the built site

def test_the_site_builds_offline_with_warnings_as_errors(site):
    html, seconds, log = site
    assert "unknown_mime_type" not in log and "WARNING" not in log, log[-3000:]
    assert (html / "index.html").exists()


def test_every_lesson_lab_and_solution_is_a_page(site):
    html, _, _ = site
    missing = [name for name in sitebuild.pages() if not (html / f"{name}.html").exists()]
    assert not missing, f"no page for {missing}"
    index = (html / "index.html").read_text(encoding="utf-8")
    for lesson in sitebuild.lessons():
        assert f'href="notebooks/{lesson.stem}.html"' in index, f"{lesson.stem} not on the home page"


@pytest.mark.parametrize("lesson", sitebuild.lessons(), ids=lambda p: p.stem)
def test_every_figure_and_widget_of_a_lesson_is_on_its_page(site, lesson):
    html, _, _ = site
    page = (html / "notebooks" / f"{lesson.stem}.html").read_text(encoding="utf-8")
    source = sitebuild.staged(html, f"notebooks/{lesson.stem}")     # what the page was made of
    figures = outputs(source, plotly_mime.PLOTLY_MIME)
    ids = re.findall(r'<div id="(plotly-figure-\d+)" class="plotly-graph-div"', page)
    assert len(ids) == figures and len(set(ids)) == figures, (
        f"{lesson.name} has {figures} figures; its page has {len(ids)} figure divs, "
        f"{len(set(ids))} distinct ids")
    assert (figures > 0) == ('src="../_static/plotly.min.js' in page), "plotly.min.js on the page"
    widgets = outputs(source, plotly_mime.WIDGET_MIME)
    assert page.count(plotly_mime.WIDGET_CLASS) == widgets, (
        f"{lesson.name} shows {widgets} widgets; its page explains "
        f"{page.count(plotly_mime.WIDGET_CLASS)} of them")


def test_plotly_js_is_the_installed_copy_and_nothing_else_comes_from_a_cdn(site):
    """The figures need no network, and no page loads anything from elsewhere: the lessons
    write no TeX, which would bring Sphinx's MathJax from its CDN."""
    import plotly
    html, _, _ = site
    installed = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    copied = html / "_static" / "plotly.min.js"
    assert hashlib.sha256(copied.read_bytes()).digest() == hashlib.sha256(installed.read_bytes()).digest()
    remote = set()
    for page in html.rglob("*.html"):
        for url in re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"',
                              page.read_text(encoding="utf-8")):
            remote.add(f"{page.relative_to(html)}: {url}")
    assert not remote, sorted(remote)


@pytest.mark.skipif(not (BIN / "linkchecker").exists(),
                    reason="linkchecker is not installed (the `site` extra brings it)")
def test_no_internal_link_of_the_site_is_broken(site):
    html, _, _ = site
    done = subprocess.run([str(BIN / "linkchecker"), "--no-status", "--no-warnings",
                           (html / "index.html").as_uri()],
                          capture_output=True, text=True, timeout=300)
    summary = re.search(r"(\d+) links? in (\d+) URLs? checked", done.stdout)
    assert summary, done.stdout[-3000:] + done.stderr[-2000:]
    assert int(summary.group(2)) >= len(sitebuild.pages()), summary.group(0)
    assert re.search(r"\b0 errors found", done.stdout) and done.returncode == 0, done.stdout[-5000:]


def test_the_home_page_leaves_the_readme_badges_out():
    """A badge is an image from its service's site; the home page loads nothing from the
    internet (and has its own Binder link)."""
    readme = "# T\n\n[![Binder](https://mybinder.org/badge_logo.svg)](https://x)\nnote\n\nIntro.\n\n## Syllabus\n\nrows\n"
    page = sitebuild.index_markdown(readme, set(), "https://github.com/OWNER/REPO")
    assert "badge_logo" not in page and "Intro." in page
