"""Every notebook in notebooks/ opened in JupyterLab in headless Chromium, run with Run All,
and checked the way a learner sees it: no error output, every plotly figure drawn, every
widget drawn (and a slider that drives a figure really redraws it), no error dialog.
A full-page screenshot of each notebook is saved under tests/browser/screenshots/.

Each notebook gets a fresh browser context and a fresh JupyterLab workspace. To stay within
the time budget, the next notebook's page is opened (JupyterLab boots, its kernel starts)
while the current notebook runs; the two never share a context, a workspace or a kernel."""
from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PLOTLY = "application/vnd.plotly.v1+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
OPEN_TIMEOUT = 60.0   # s, page load until the notebook's kernel is connected and idle
RUN_TIMEOUT = 120.0   # s, Run All until done (a lesson should need < 20 s)
AHEAD = 2             # notebooks whose pages open while the current one runs
STALL = 10.0          # s with the kernel idle, cells still queued and nothing changing: a hang
DRAW_TIMEOUT = 20.0   # s, after the run, for figures and widgets to draw
WIDTH, HEIGHT = 1280, 900
MAX_SHOT_HEIGHT = 60000   # px; JPEG allows 65535
SHOT_FORMAT = {"type": "jpeg", "quality": 80}   # PNG costs ~1 s more per notebook to encode

# ---------------------------------------------------------------- JavaScript run in the page
# JupyterLab runs with expose_app_in_browser, so window.jupyterapp is the application. Nothing
# here awaits a JupyterLab promise: page.evaluate has no timeout, so Python polls instead.

FIND_PANEL = """
(path) => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return null;
  for (const w of app.shell.widgets('main')) {
    if (w.context && w.context.path === path) return w;
  }
  return null;
}
"""

OPEN_STATUS = f"""
(path) => {{
  const app = window.jupyterapp;
  if (!app) return 'JupyterLab not loaded yet (no window.jupyterapp)';
  const dialogs = Array.from(document.querySelectorAll('.jp-Dialog')).map(d => d.innerText.slice(0, 300));
  if (dialogs.length) return 'dialog: ' + dialogs.join(' | ');
  const panel = ({FIND_PANEL})(path);
  if (!panel) return 'notebook panel not open yet';
  if (!panel.context.isReady) return 'notebook not loaded yet';
  const sc = panel.sessionContext;
  if (!sc.isReady || !sc.session || !sc.session.kernel) return 'no kernel session yet';
  const kernel = sc.session.kernel;
  if (kernel.connectionStatus !== 'connected') return 'kernel ' + kernel.connectionStatus;
  if (kernel.status !== 'idle') return 'kernel ' + kernel.status;
  return 'ready';
}}
"""

RUN_ALL = f"""
(path) => {{
  const app = window.jupyterapp;
  const panel = ({FIND_PANEL})(path);
  app.shell.collapseLeft();
  app.shell.activateById(panel.id);
  const t0 = performance.now();
  window.__sagalabRunAll = {{done: false}};
  app.commands.execute('notebook:run-all-cells').then(
    (ok) => {{ window.__sagalabRunAll = {{done: true, ok: ok, seconds: (performance.now() - t0) / 1000}}; }},
    (err) => {{ window.__sagalabRunAll = {{done: true, ok: false, error: String(err)}}; }});
}}
"""

STATE = f"""
(path) => {{
  const panel = ({FIND_PANEL})(path);
  const q = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = [];
  const widgetOutputs = [];
  panel.content.widgets.forEach((cell, index) => {{
    const m = cell.model;
    if (m.type !== 'code') return;
    const outputs = [];
    const children = cell.outputArea.widgets;
    for (let i = 0; i < m.outputs.length; i++) {{
      const o = m.outputs.get(i).toJSON();
      const mimes = Object.keys(o.data || {{}});
      outputs.push({{type: o.output_type, mimes: mimes, ename: o.ename, evalue: o.evalue}});
      // a widget view's output node carries no data-mime-type: reach it through the output area
      if (mimes.includes('{WIDGET_VIEW}') && i < children.length) {{
        const el = children[i].node;
        el.setAttribute('data-sagalab-widget-output', String(widgetOutputs.length));
        widgetOutputs.push({{
          cell: index,
          drawn: !!el.querySelector('.jupyter-widgets'),
          text: el.textContent.slice(0, 200),
          sliders: q('.widget-slider, .jupyter-widget-slider', el).length,
          plots: q('.js-plotly-plot', el).length,
          stderr: q('[data-mime-type="application/vnd.jupyter.stderr"]', el).map(e => e.textContent.slice(0, 500)),
        }});
      }}
    }}
    const source = m.sharedModel.getSource();
    cells.push({{index: index, source: source.slice(0, 80), empty: source.trim() === '',
                tags: m.getMetadata('tags') || [], count: m.executionCount, outputs: outputs,
                prompt: (cell.node.querySelector('.jp-InputArea-prompt') || {{}}).textContent || ''}});
  }});
  // plotly's mime renderer draws into .js-plotly-plot; its HTML renderers into .plotly-graph-div
  const plots = q('.js-plotly-plot, .plotly-graph-div');
  // textContent, not innerText: cells off screen are not rendered (content-visibility), and
  // innerText leaves their text out
  const text = panel.node.textContent;
  return {{
    runAll: window.__sagalabRunAll || null,
    kernel: kernel ? kernel.status : 'none',
    cells: cells,
    busyPrompts: q('.jp-InputArea-prompt', panel.node).filter(e => e.textContent.includes('*')).length,
    plots: plots.length,
    plotsDrawn: plots.filter(p => p.querySelector('svg.main-svg')).length,
    widgetOutputs: widgetOutputs,
    sliders: q('.widget-slider, .jupyter-widget-slider', panel.node).length,
    loadingWidget: text.includes('Loading widget'),
    errorWidget: text.includes('Error displaying widget'),
    dialogs: q('.jp-Dialog').map(d => d.innerText.slice(0, 500)),
    stderr: q('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]', panel.node).length,
  }};
}}
"""

SLIDER_FIGURE = """
() => {
  for (const el of document.querySelectorAll('[data-sagalab-widget-output]')) {
    const handle = el.querySelector('.widget-slider .noUi-handle, .jupyter-widget-slider .noUi-handle');
    const plot = el.querySelector('.js-plotly-plot');
    if (!handle || !plot || !plot.querySelector('svg.main-svg')) continue;
    el.setAttribute('data-sagalab-slider', '');
    return el.getAttribute('data-sagalab-widget-output');
  }
  return null;
}
"""

SLIDER_STATE = """
() => {
  const el = document.querySelector('[data-sagalab-slider]');
  const plot = el && el.querySelector('.js-plotly-plot');
  const svg = plot && plot.querySelector('svg.main-svg');
  return {readout: ((el && el.querySelector('.widget-readout')) || {}).textContent || '',
          figure: svg ? JSON.stringify((plot.data || []).map(t => [t.x, t.y])) + svg.outerHTML : null};
}
"""

NOTEBOOK_SIZE = """
() => {
  const outer = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');
  const inner = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-inner');
  if (outer) outer.scrollTop = 0;   // shoot from the notebook's first cell
  return outer && inner ? {visible: outer.clientHeight, content: inner.getBoundingClientRect().height}
                        : {visible: 0, content: 0};
}
"""


# ---------------------------------------------------------------- helpers

def stored_outputs(path: Path) -> dict:
    """What the committed notebook's own outputs contain (top level; widget contents aside)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    counts = {"plotly": 0, "widgets": 0}
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            data = output.get("data", {})
            counts["plotly"] += PLOTLY in data
            counts["widgets"] += WIDGET_VIEW in data
    return counts


def poll(page, script: str, arg, until, timeout: float, interval: float = 0.2):
    """Evaluate script(arg) in the page until until(result) holds or time is up; return the
    last result."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = page.evaluate(script, arg)
        except Exception as error:   # the page is still loading or navigating: ask again
            if "context was destroyed" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(interval)
            continue
        if until(result) or time.monotonic() >= deadline:
            return result
        time.sleep(interval)


def finished(state: dict) -> bool:
    return bool(state["runAll"] and state["runAll"]["done"] and state["kernel"] == "idle"
                and state["busyPrompts"] == 0)


def unexpected_errors(state: dict) -> list:
    """Error outputs, except in cells tagged raises-exception (nbval's and JupyterLab's tag for
    an error shown on purpose; Run All goes on past them)."""
    return [(c["index"], o["ename"], o["evalue"]) for c in state["cells"] for o in c["outputs"]
            if o["type"] == "error" and "raises-exception" not in c["tags"]]


class StallWatch:
    """until() for poll() during Run All. Stop waiting when the run is over (Run All's promise
    settled and the kernel is idle, or an error stopped it), or when it has stalled: the kernel
    is not busy while cells are still queued and nothing has changed for STALL seconds -- what
    the nest_asyncio trap looks like in JupyterLab -- or the kernel is gone."""

    def __init__(self):
        self.key, self.since = None, time.monotonic()

    def __call__(self, state: dict) -> bool:
        if finished(state) or state["dialogs"] or unexpected_errors(state):
            return True
        key = (state["kernel"], state["runAll"] and state["runAll"]["done"],
               tuple((c["count"], len(c["outputs"])) for c in state["cells"]))
        if key != self.key:
            self.key, self.since = key, time.monotonic()
            return False
        return state["kernel"] != "busy" and time.monotonic() - self.since > STALL


def pending_summary(state: dict) -> str:
    queued = [(c["index"], c["source"]) for c in state["cells"] if "*" in c["prompt"]]
    never = [(c["index"], c["source"]) for c in state["cells"] if not c["empty"] and c["count"] is None]
    return (f"kernel {state['kernel']}, run-all {state['runAll']}, {len(queued)} cell(s) "
            f"showing [*] (first: {queued[:2]}), {len(never)} cell(s) never ran (first: {never[:2]})")


def full_page_screenshot(page, path: Path) -> str:
    """JupyterLab scrolls inside its own panel (the page itself never scrolls), so a full-page
    screenshot means: make the viewport as tall as the notebook, let it lay out, then shoot.
    Cells off screen only have estimated heights until laid out: aim high, grow if needed."""
    height = page.viewport_size["height"]
    for overshoot in (1.2, 1.0, 1.0):
        size = page.evaluate(NOTEBOOK_SIZE)
        wanted = int(size["content"] * overshoot + height - size["visible"] + 40)
        wanted = min(MAX_SHOT_HEIGHT, max(HEIGHT, wanted))
        if wanted <= height:
            break
        height = wanted
        page.set_viewport_size({"width": WIDTH, "height": height})
        page.wait_for_timeout(250)
    page.evaluate(NOTEBOOK_SIZE)
    page.screenshot(path=str(path), full_page=True, **SHOT_FORMAT)
    return str(path) + ("" if height < MAX_SHOT_HEIGHT else f" (cut at {MAX_SHOT_HEIGHT} px)")


@dataclass
class OpenedPage:
    rel: str
    context: object
    page: object
    opened_at: float
    run_started_at: float | None = None
    errors: list = field(default_factory=list)

    def status(self) -> str:
        return self.page.evaluate(OPEN_STATUS, self.rel)

    def start_run(self) -> None:
        self.page.evaluate(RUN_ALL, self.rel)
        self.run_started_at = time.monotonic()


class PageOpener:
    """Opens each notebook in a fresh browser context and a fresh JupyterLab workspace.

    Pipelining, to keep within the time budget: while notebook N runs, the pages of the next
    AHEAD notebooks are opened (JupyterLab boots, their kernels start); once N has finished
    running, N+1's Run All is started, so it runs while N is checked and photographed. Only
    one notebook runs at a time; they never share a context, a workspace or a kernel."""

    def __init__(self, browser, server, order: list[str]):
        self.browser, self.server, self.order = browser, server, order
        self.ahead: list[OpenedPage] = []

    def open(self, rel: str) -> OpenedPage:
        context = self.browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
        page = context.new_page()
        opened = OpenedPage(rel, context, page, time.monotonic())
        page.on("pageerror", lambda error: opened.errors.append(str(error)))
        workspace = f"sagalab-test-{Path(rel).stem}-{secrets.token_hex(4)}"
        page.goto(f"{self.server.base_url}/lab/workspaces/{workspace}/tree/{rel}"
                  f"?reset&token={self.server.token}", wait_until="commit")
        return opened

    def take(self, rel: str) -> OpenedPage:
        """The page for rel (opened ahead if it was); pages opened ahead of it are closed and
        their sessions shut down (they are only there when a test was deselected)."""
        mine = next((p for p in self.ahead if p.rel == rel), None)
        if mine:
            skipped = [p for p in self.ahead[:self.ahead.index(mine)]]
            for page in skipped:
                page.context.close()
            self.ahead = self.ahead[self.ahead.index(mine) + 1:]
            if skipped:
                self.server.shutdown_kernels(only={p.rel for p in skipped})
        return mine or self.open(rel)

    def open_next(self, rel: str) -> None:
        """Make sure the AHEAD notebooks after rel are opening."""
        i = self.order.index(rel) + 1 if rel in self.order else len(self.order)
        for nxt in self.order[i:i + AHEAD]:
            if all(p.rel != nxt for p in self.ahead):
                self.ahead.append(self.open(nxt))

    def run_next(self) -> None:
        """Start the next notebook's Run All if its page is ready (never waits for it)."""
        if self.ahead and self.ahead[0].run_started_at is None:
            try:
                if self.ahead[0].status() == "ready":
                    self.ahead[0].start_run()
            except Exception:   # its own test will report what is wrong with it
                pass

    def done_with(self, opened: OpenedPage) -> None:
        opened.context.close()
        self.server.shutdown_kernels(only={opened.rel})

    def close(self) -> None:
        for page in self.ahead:
            page.context.close()
        self.ahead = []


@pytest.fixture(scope="module")
def pages(request, browser, lab_server, lab_root):
    order = [item.callspec.params["notebook"].relative_to(lab_root).as_posix()
             for item in request.session.items
             if hasattr(item, "callspec") and "notebook" in item.callspec.params]
    opener = PageOpener(browser, lab_server, order)
    try:
        yield opener
    finally:
        opener.close()


# ---------------------------------------------------------------- the test

def test_notebook_runs_and_renders_in_jupyterlab(notebook: Path, lab_root, screenshots_dir,
                                                 lab_server, pages, browser_report):
    """`notebook` is parametrized over notebooks/*.ipynb by conftest.pytest_generate_tests."""
    rel = notebook.relative_to(lab_root).as_posix()
    expected = stored_outputs(notebook)
    shot = screenshots_dir / f"{notebook.stem}.{SHOT_FORMAT['type'].replace('jpeg', 'jpg')}"
    log_size = lab_server.log_path.stat().st_size

    t0 = time.monotonic()
    opened = pages.take(rel)
    page = opened.page
    times: dict[str, float] = {}
    state = None
    shot_note = "(no screenshot)"
    notes = []
    try:
        if opened.run_started_at is None:
            status = poll(page, OPEN_STATUS, rel, lambda s: s == "ready" or s.startswith("dialog"),
                          OPEN_TIMEOUT)
            hint = (" (the notebook names no kernel: its metadata lacks a kernelspec; a learner "
                    "gets this dialog too)" if "Select Kernel" in status else "")
            assert status == "ready", (f"{rel}: not ready {OPEN_TIMEOUT:.0f} s after opening: "
                                       f"{status}{hint}")
            times["open"] = time.monotonic() - opened.opened_at
            if t0 - opened.opened_at > 1:
                notes.append(f"page opened {t0 - opened.opened_at:.1f} s ahead")
            opened.start_run()
        else:
            notes.append(f"opened and started {t0 - opened.run_started_at:.1f} s ahead, "
                         f"during the previous notebook")
        pages.open_next(rel)   # the next notebook boots while this one runs

        state = poll(page, STATE, rel, StallWatch(), RUN_TIMEOUT)
        if state["runAll"] and state["runAll"].get("seconds") is not None:
            times["run"] = state["runAll"]["seconds"]
        pages.run_next()       # ... and runs while this one is checked and photographed
        assert not state["dialogs"], f"{rel}: JupyterLab shows a dialog: {state['dialogs']}"
        assert not unexpected_errors(state), (
            f"{rel}: error output under Run All (cell index, exception, message): "
            f"{unexpected_errors(state)}; {pending_summary(state)}")
        assert finished(state), (f"{rel}: Run All did not finish (a notebook that passes nbval "
                                 f"but hangs in JupyterLab?): {pending_summary(state)}")

        # figures and widgets draw asynchronously after the outputs arrive
        t2 = time.monotonic()
        live_plotly = sum(PLOTLY in o["mimes"] for c in state["cells"] for o in c["outputs"])
        want_plots = max(expected["plotly"], live_plotly)
        want_widgets = max(expected["widgets"],
                           sum(WIDGET_VIEW in o["mimes"] for c in state["cells"] for o in c["outputs"]))

        def drawn(s: dict) -> bool:
            return (s["plotsDrawn"] >= want_plots and s["plotsDrawn"] == s["plots"]
                    and len(s["widgetOutputs"]) >= want_widgets
                    and all(w["drawn"] for w in s["widgetOutputs"])
                    and not s["loadingWidget"])

        state = poll(page, STATE, rel, drawn, DRAW_TIMEOUT)

        # a slider that drives a figure must redraw it: a round trip through the kernel
        if page.evaluate(SLIDER_FIGURE) is not None:
            before = page.evaluate(SLIDER_STATE)
            handle = page.locator("[data-sagalab-slider] .noUi-handle").first
            handle.scroll_into_view_if_needed()
            handle.focus()
            page.keyboard.press("ArrowRight")
            page.wait_for_timeout(150)
            if page.evaluate(SLIDER_STATE)["readout"] == before["readout"]:   # was at its maximum
                page.keyboard.press("ArrowLeft")
            after = poll(page, SLIDER_STATE, None,
                         lambda s: s["figure"] is not None and s["figure"] != before["figure"], 15.0)
            assert after["figure"] is not None and after["figure"] != before["figure"], (
                f"{rel}: moving a slider (readout {before['readout']!r} -> {after['readout']!r}) "
                f"did not redraw the figure it drives")
            notes.append(f"slider {before['readout']!r} -> {after['readout']!r} redrew its figure")
            state = poll(page, STATE, rel, drawn, DRAW_TIMEOUT)
        times["draw"] = time.monotonic() - t2
    finally:
        pages.run_next()
        t3 = time.monotonic()
        try:
            shot_note = full_page_screenshot(page, shot)
        except Exception as error:   # a failed screenshot must not hide the real failure
            shot_note = f"(screenshot failed: {error})"
        times["screenshot"] = time.monotonic() - t3
        pages.done_with(opened)
        line = (f"{rel}: {time.monotonic() - t0:.1f} s in its test ("
                + ", ".join(f"{k} {v:.1f} s" for k, v in times.items()) + ")"
                + (f"; {'; '.join(notes)}" if notes else ""))
        browser_report.append(line)
        browser_report.append(f"    screenshot: {shot_note}")
        print(f"\n{line}\n    screenshot: {shot_note}")

    # ---- what a learner would see
    errors = unexpected_errors(state)
    assert not errors, f"{rel}: error output after Run All (cell index, exception, message): {errors}"
    assert not state["runAll"].get("error"), f"{rel}: the Run All command failed: {state['runAll']}"
    never_ran = [(c["index"], c["source"]) for c in state["cells"] if not c["empty"] and c["count"] is None]
    assert not never_ran, f"{rel}: code cells that never ran: {never_ran}"
    assert not state["dialogs"], f"{rel}: JupyterLab shows a dialog: {state['dialogs']}"
    assert state["plotsDrawn"] == state["plots"], (
        f"{rel}: {state['plots'] - state['plotsDrawn']} of {state['plots']} plotly figure(s) have "
        f"no SVG (a renderer that loads plotly.js from the internet, or a missing extension?)")
    assert state["plotsDrawn"] >= want_plots, (
        f"{rel}: {state['plotsDrawn']} plotly figure(s) drawn, expected at least {want_plots} "
        f"(stored in the file: {expected['plotly']}, produced by this run: {live_plotly}); is the "
        f"jupyterlab-plotly extension installed (`jupyter labextension list`)?")
    assert not state["loadingWidget"], f"{rel}: a widget is stuck at 'Loading widget...'"
    assert not state["errorWidget"], f"{rel}: 'Error displaying widget' on the page"
    assert len(state["widgetOutputs"]) >= want_widgets, (
        f"{rel}: {len(state['widgetOutputs'])} widget output(s) on the page, expected {want_widgets}")
    undrawn = [(w["cell"], w["text"]) for w in state["widgetOutputs"] if not w["drawn"]]
    assert not undrawn, f"{rel}: widget output(s) not drawn (cell index, text): {undrawn}"
    widget_errors = [(w["cell"], w["stderr"]) for w in state["widgetOutputs"] if w["stderr"]]
    assert not widget_errors, f"{rel}: a widget's output shows an error: {widget_errors}"
    saves = [line for line in lab_server.log_text(since=log_size).splitlines()
             if "Saving file at" in line and rel in line]
    assert not saves, f"{rel}: JupyterLab saved the notebook during the test: {saves}"
    browser_report.append(
        f"    {state['plotsDrawn']} plotly figure(s) drawn (stored {expected['plotly']}, this run "
        f"{live_plotly} + any inside widgets), {len(state['widgetOutputs'])} widget output(s), "
        f"{state['sliders']} slider(s)"
        + (f", {state['stderr']} stderr output(s) (not errors)" if state["stderr"] else "")
        + (f"; browser page errors: {opened.errors[:3]}" if opened.errors else ""))
