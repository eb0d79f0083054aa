"""Plotly figures and widgets on the course's website (myst-nb, Jupyter Book 1).

The notebooks store each figure as `application/vnd.plotly.v1+json` only (small JSON, no
plotly.js inside), which myst-nb skips as an unknown mime type. `PlotlyMime` is a myst-nb mime
renderer (registered in pyproject.toml under the entry point group `myst_nb.mime_renderers`):
it turns each figure into a `<div>` and a `Plotly.newPlot(...)` call. Div ids are numbered
per page (`plotly-figure-1`, `-2`, ...): hashing the figure's JSON collided when two figures
shared a template.

A widget (`application/vnd.jupyter.widget-view+json`) needs a running kernel, and the course
stores no widget state: on a static page it becomes a note saying so, with a link to the same
notebook on Binder.

Loaded as a Sphinx extension too (site/_config.yml, `sphinx.extra_extensions`), this module
copies plotly.min.js from the installed plotly into the site's _static/ (no CDN: the site
works offline) and adds it to the pages that have a figure. A Mermaid diagram (lesson 04b's
state machines, which JupyterLab draws) is shown as its text: mermaid.js is not installed here,
and the site loads nothing from a CDN.
"""
from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

from docutils import nodes

PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
ENTRY_POINT_GROUP = "myst_nb.mime_renderers"
PLOTLY_JS = "plotly.min.js"
FIGURE_CLASS = "plotly-graph-div"        # what plotly's own HTML export calls a figure's div
WIDGET_CLASS = "sagalab-widget-note"

# Drawn when the page has loaded plotly.min.js (it is added to the page's <head>; the check
# keeps a page whose script failed to load from throwing).
_DRAW = """<div id="{id}" class="{cls}"></div>
<script>
(function draw() {{
  if (!window.Plotly) {{ window.addEventListener("load", draw, {{once: true}}); return; }}
  Plotly.newPlot("{id}", {data}, {layout}, {{"responsive": true}});
}})();
</script>"""


def _json_for_script(value) -> str:
    """JSON that cannot close the <script> it sits in."""
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")


def _next_figure_id(document) -> str:
    count = getattr(document, "_sagalab_plotly_figures", 0) + 1
    document._sagalab_plotly_figures = count
    return f"plotly-figure-{count}"


def figure_html(figure: dict, div_id: str) -> str:
    """The <div> and script that draw one figure (`figure` as a notebook stores it)."""
    if not isinstance(figure, dict) or "data" not in figure:
        raise ValueError(f"a plotly output needs a 'data' key; got {sorted(figure)!r}"
                         if isinstance(figure, dict) else
                         f"a plotly output must be a JSON object, got {type(figure).__name__}")
    return _DRAW.format(id=div_id, cls=FIGURE_CLASS, data=_json_for_script(figure["data"]),
                        layout=_json_for_script(figure.get("layout", {})))


def binder_url(config, docname: str) -> str | None:
    """The Binder address of this page's notebook, from the site's repository settings."""
    options = getattr(config, "html_theme_options", {}) or {}
    repository = (options.get("repository_url") or "").rstrip("/")
    binderhub = ((options.get("launch_buttons") or {}).get("binderhub_url") or "").rstrip("/")
    if not repository.startswith("https://github.com/") or not binderhub:
        return None
    slug = repository.removeprefix("https://github.com/")
    branch = options.get("repository_branch") or "HEAD"
    return f"{binderhub}/v2/gh/{slug}/{branch}?urlpath=lab/tree/{docname}.ipynb"


def widget_note_html(docname: str | None, url: str | None) -> str:
    where = (f'<a class="reference external" href="{html.escape(url)}">open this notebook on '
             f'Binder</a>, or' if url else "")
    notebook = html.escape(f"{docname}.ipynb") if docname else "this notebook"
    return (f'<div class="admonition note {WIDGET_CLASS}"><p class="admonition-title">'
            f'An interactive widget stands here</p><p>Its sliders and buttons, and what they '
            f'draw, need a running Python kernel, which this static page does not have. To use '
            f'it, {where} run <code>python3 course.py lab</code> and open '
            f'<code>{notebook}</code>.</p></div>')


class PlotlyMime:
    """myst-nb mime renderer: plotly figures drawn by plotly.js, widgets explained."""

    # lower is preferred; the notebooks store a figure under this mime type alone
    mime_priority_overrides = [("html", PLOTLY_MIME, 5)]

    @staticmethod
    def handle_mime(renderer, data, inline: bool):
        document = renderer.renderer.document      # the page's docutils document
        if data.mime_type == PLOTLY_MIME:
            figure = data.content if isinstance(data.content, dict) else json.loads(data.string)
            text = figure_html(figure, _next_figure_id(document))
        elif data.mime_type == WIDGET_MIME:
            env = getattr(document.settings, "env", None)
            docname = getattr(env, "docname", None)
            url = binder_url(env.config, docname) if env is not None and docname else None
            text = widget_note_html(docname, url)
        else:
            return None
        return [nodes.raw(text=text, format="html")]


# --------------------------------------------------------------------------- Sphinx extension

def _registered() -> bool:
    from importlib.metadata import entry_points
    return any(ep.value.startswith(__name__) for ep in entry_points(group=ENTRY_POINT_GROUP))


def _page_scripts(app, pagename, templatename, context, doctree) -> None:
    """plotly.min.js on a page with a figure; and each script once. Jupyter Book 1.0.4 on
    Sphinx 7.4 adds sphinx-thebe's and sphinx-togglebutton's inline scripts twice (once with
    the file name None, once ""; so Sphinx keeps both), and the second `const THEBE_JS_URL` is
    an error in every page's console."""
    if FIGURE_CLASS in context.get("body", ""):
        app.add_js_file(PLOTLY_JS)
    scripts, seen = context.get("script_files"), set()
    if isinstance(scripts, list):
        unique = []
        for script in scripts:
            key = (getattr(script, "filename", str(script)) or "",     # None or "": inline
                   repr(sorted(getattr(script, "attributes", {}).items())))
            if key not in seen:
                seen.add(key)
                unique.append(script)
        scripts[:] = unique


def _copy_plotly_js(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        import plotly
        source = Path(plotly.__file__).parent / "package_data" / PLOTLY_JS
        target = Path(app.outdir) / "_static" / PLOTLY_JS
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def setup(app):
    from sphinx.errors import ExtensionError
    if not _registered():
        raise ExtensionError(
            f"the plotly renderer is not registered under the entry point group "
            f"{ENTRY_POINT_GROUP!r}, so every figure would be skipped: reinstall the course "
            f"(python3 course.py site does it; or pip install -e .)")
    from pygments.lexers.special import TextLexer
    app.add_lexer("mermaid", TextLexer)      # a diagram's source, shown as text (see above)
    app.connect("html-page-context", _page_scripts, priority=900)   # after the others' scripts
    app.connect("build-finished", _copy_plotly_js)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
