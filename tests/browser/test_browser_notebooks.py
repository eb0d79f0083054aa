"""Every notebook in notebooks/ opened in JupyterLab in headless Chromium, run with Run All,
and checked the way a learner sees it: no error output, every plotly figure drawn, every
widget drawn (and a slider that drives a figure really redraws it), no error dialog.
A full-page screenshot of each notebook is saved under tests/browser/screenshots/.

Booting JupyterLab costs a page about 6 s of CPU, and this machine has two cores, so notebooks
do not each get a new page. Two pages ("lanes"), each its own browser context with a fresh
JupyterLab workspace, take the notebooks in turn, as a learner's one JupyterLab window would:
the previous notebook's panel is closed and its kernel shut down, then the next is opened. While
one lane's notebook runs, the other lane opens and runs the next notebook; a lane whose
notebook failed is replaced by a new context and a freshly booted page.

The notebooks run in reverse order (conftest.pytest_generate_tests): the later lessons are the
longer ones (lesson 07's Run All takes ~12 s, the others 2 to 6 s), and a long notebook first
runs while the second page boots, and leaves a short one for the end, when the other page has
nothing left to do."""
from __future__ import annotations

import base64
import io
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
LANES = 2             # JupyterLab pages taking the notebooks in turn
AHEAD = LANES - 1     # notebooks opening while the current one runs
STALL = 10.0          # s with the kernel idle, cells still queued and nothing changing: a hang
DRAW_TIMEOUT = 20.0   # s, after the run, for figures and widgets to draw
WIDTH, HEIGHT = 1280, 900
MAX_SHOT_HEIGHT = 65000   # px; JPEG allows 65535
SHOT_CHUNK = 4000         # px, viewport height while photographing (see full_page_screenshot)
SHOT_QUALITY = 80         # JPEG; PNG costs ~1 s more per notebook to encode

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
([path, light]) => {{
  // light: what watching Run All needs, polled often while the kernel works, so it leaves
  // out what costs the page most (walking every widget and plot, the text of the notebook)
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
      if (!light && mimes.includes('{WIDGET_VIEW}') && i < children.length) {{
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
  const plots = light ? [] : q('.js-plotly-plot, .plotly-graph-div');
  // textContent, not innerText: cells off screen are not rendered (content-visibility), and
  // innerText leaves their text out
  const text = light ? '' : panel.node.textContent;
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

SCROLL = """
(y) => {
  // scroll the notebook to y (null: stay) and say where it is: the scroll area's position on
  // the page, its height, how far it is scrolled, and where the last cell ends
  const outer = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer');
  if (!outer) return null;
  if (y !== null) outer.scrollTop = y;
  const box = outer.getBoundingClientRect();
  const cells = outer.querySelectorAll('.jp-Cell');
  const last = cells.length ? cells[cells.length - 1].getBoundingClientRect().bottom : box.top;
  return {top: box.top, height: outer.clientHeight, scroll: outer.scrollTop,
          end: last - box.top + outer.scrollTop, page: document.documentElement.clientHeight};
}
"""

NEXT_FRAME = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"

CLOSE_NOTEBOOKS = """
() => {
  // close every document without the "save changes?" dialog: the test never saves
  const app = window.jupyterapp;
  for (const widget of Array.from(app.shell.widgets('main'))) {
    if (widget.context) widget.context.model.dirty = false;
    widget.dispose();
  }
}
"""

OPEN_NOTEBOOK = f"""
(path) => {{
  ({CLOSE_NOTEBOOKS})();
  window.__sagalabRunAll = null;
  window.jupyterapp.commands.execute('docmanager:open', {{path: path}});
}}
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


def poll(page, script: str, arg, until, timeout: float, interval: float = 0.2, tick=None):
    """Evaluate script(arg) in the page until until(result) holds or time is up; return the
    last result. tick(), if given, is called between two tries."""
    deadline = time.monotonic() + timeout
    while True:
        if tick is not None:
            tick()
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


def full_page_screenshot(page, path: Path, tick=None) -> str:
    """The whole notebook in one image. JupyterLab scrolls inside its own panel (the page never
    scrolls), so Playwright's full_page sees one screen. Making the viewport as tall as the
    notebook works, but headless Chromium's cost grows faster than the viewport (a 40,000 px one
    took 7 s of CPU, a 20,000 px one 1.5 s), so: a SHOT_CHUNK px viewport, the notebook scrolled
    one screen at a time, one shot per screen, stitched with Pillow. Cells below the fold have
    estimated heights until they are laid out, so where the notebook ends is asked anew at
    every step. tick(), if given, is called after every shot."""
    from PIL import Image

    # Chromium's own capture: Playwright's page.screenshot adds a style sheet hiding the caret
    # to every frame and takes it away after each shot, two restyles of the whole page a shot
    # (measured: 3.0 s of Chromium CPU for notebook 03's screenshot, against 3.4 s)
    cdp = page.context.new_cdp_session(page)

    def shoot(clip: dict) -> Image.Image:
        shot = cdp.send("Page.captureScreenshot", {"format": "jpeg", "quality": 95,
                                                   "clip": {**clip, "scale": 1}})
        return Image.open(io.BytesIO(base64.b64decode(shot["data"])))

    page.set_viewport_size({"width": WIDTH, "height": SHOT_CHUNK})
    page.evaluate(NEXT_FRAME)
    where = page.evaluate(SCROLL, 0)
    page.evaluate(NEXT_FRAME)
    frame = shoot({"x": 0, "y": 0, "width": WIDTH, "height": where["page"]})   # menus, toolbar
    top = int(where["top"])
    pieces = []
    while True:
        where = page.evaluate(SCROLL, None)
        pieces.append((where["scroll"], shoot({"x": 0, "y": top, "width": WIDTH,
                                               "height": where["height"]})))
        if tick is not None:
            tick()
        bottom = where["scroll"] + where["height"]
        if bottom >= where["end"] + 40 or top + bottom >= MAX_SHOT_HEIGHT:
            break
        page.evaluate(SCROLL, bottom)
        page.evaluate(NEXT_FRAME)
    status_bar = where["page"] - (top + where["height"])
    length = min(int(where["end"]) + 40, MAX_SHOT_HEIGHT - top - status_bar)
    image = Image.new("RGB", (WIDTH, top + length + status_bar), "white")
    image.paste(frame.crop((0, 0, WIDTH, top)), (0, 0))
    for scroll, piece in pieces:
        image.paste(piece, (0, top + int(scroll)))
    image.paste(frame.crop((0, where["page"] - status_bar, WIDTH, where["page"])),
                (0, top + length))
    image.save(path, "JPEG", quality=SHOT_QUALITY)
    cdp.detach()
    cut = int(where["end"]) + 40 > length
    return (f"{path} ({image.height} px, {len(pieces)} screens)"
            + (f" (cut at {MAX_SHOT_HEIGHT} px)" if cut else ""))


@dataclass
class Lane:
    """A browser context with one JupyterLab page, which takes one notebook after another."""
    context: object
    page: object
    current: "OpenedPage | None" = None   # the notebook it holds now
    booted: bool = False                  # JupyterLab loaded: open the next through its commands
    healthy: bool = True                  # its last notebook ended cleanly (else: replace it)


@dataclass
class OpenedPage:
    rel: str
    lane: Lane
    opened_at: float
    run_started_at: float | None = None
    errors: list = field(default_factory=list)

    @property
    def page(self):
        return self.lane.page

    def status(self) -> str:
        return self.page.evaluate(OPEN_STATUS, self.rel)

    def start_run(self) -> None:
        self.page.evaluate(RUN_ALL, self.rel)
        self.run_started_at = time.monotonic()


class PageOpener:
    """Opens each notebook in a JupyterLab page of its own lane (see the module docstring).

    Pipelining, to keep within the time budget: when notebook N is taken, the next AHEAD
    notebooks are opened in the other lanes (at the start, both pages boot together), and N+1's
    Run All starts as soon as its page is ready, while N still runs or is being checked: the two
    kernels and the two pages keep both cores busy. A page holds one notebook at a time."""

    def __init__(self, browser, server, order: list[str], say=lambda message: None):
        self.browser, self.server, self.order, self.say = browser, server, order, say
        self.lanes: list[Lane] = []
        self.ahead: list[OpenedPage] = []
        self.boots = 0

    def _lane(self) -> Lane:
        lane = next((lane for lane in self.lanes if lane.current is None), None)
        if lane is not None and lane.healthy:
            return lane
        if lane is not None:              # its last notebook failed: start from scratch
            self.lanes.remove(lane)
            lane.context.close()
        elif len(self.lanes) >= LANES:
            raise RuntimeError(f"all {LANES} JupyterLab pages are busy")
        context = self.browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
        lane = Lane(context, context.new_page())
        lane.page.on("pageerror",
                     lambda error: lane.current and lane.current.errors.append(str(error)))
        self.lanes.append(lane)
        return lane

    def open(self, rel: str) -> OpenedPage:
        lane = self._lane()
        opened = lane.current = OpenedPage(rel, lane, time.monotonic())
        if lane.booted:
            lane.page.evaluate(OPEN_NOTEBOOK, rel)
        else:
            workspace = f"sagalab-test-{len(self.lanes)}-{secrets.token_hex(4)}"
            lane.page.goto(f"{self.server.base_url}/lab/workspaces/{workspace}/tree/{rel}"
                           f"?reset&token={self.server.token}", wait_until="commit")
            lane.booted = True
            self.boots += 1
        return opened

    def take(self, rel: str) -> OpenedPage:
        """The page for rel (opened ahead if it was); pages opened ahead of it are let go
        (they are only there when a test was deselected)."""
        mine = next((p for p in self.ahead if p.rel == rel), None)
        if mine:
            skipped = self.ahead[:self.ahead.index(mine)]
            self.ahead = self.ahead[self.ahead.index(mine) + 1:]
            for page in skipped:
                self.done_with(page, healthy=False)
        return mine or self.open(rel)

    def open_next(self, rel: str) -> None:
        """Make sure the AHEAD notebooks after rel are opening, as far as pages are free."""
        i = self.order.index(rel) + 1 if rel in self.order else len(self.order)
        for nxt in self.order[i:i + AHEAD]:
            free = len(self.lanes) < LANES or any(lane.current is None for lane in self.lanes)
            if free and all(p.rel != nxt for p in self.ahead):
                self.ahead.append(self.open(nxt))

    def run_next(self) -> None:
        """Start the next notebook's Run All if its page is ready (never waits for it)."""
        if self.ahead and self.ahead[0].run_started_at is None:
            try:
                if self.ahead[0].status() == "ready":
                    self.ahead[0].start_run()
                    self.say(f"{Path(self.ahead[0].rel).name}: Run All started")
            except Exception:   # its own test will report what is wrong with it
                pass

    def done_with(self, opened: OpenedPage, healthy: bool) -> None:
        """Close the notebook's panel, shut its kernel down, free its lane for the next one."""
        lane = opened.lane
        try:
            lane.page.evaluate(CLOSE_NOTEBOOKS)
            lane.page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
        except Exception:
            healthy = False
        lane.current, lane.healthy = None, healthy
        self.server.shutdown_kernels(only={opened.rel})
        if self.ahead:   # the lane is free: the notebook after those already open can open
            self.open_next(self.ahead[-1].rel)

    def close(self) -> None:
        for lane in self.lanes:
            lane.context.close()
        self.lanes, self.ahead = [], []


@pytest.fixture(scope="module")
def pages(request, browser, lab_server, lab_root, browser_report, browser_progress):
    order = [item.callspec.params["notebook"].relative_to(lab_root).as_posix()
             for item in request.session.items
             if hasattr(item, "callspec") and "notebook" in item.callspec.params]
    browser_progress(f"{len(order)} notebook(s) to run in JupyterLab + headless Chromium, "
                     f"{LANES} at a time")
    opener = PageOpener(browser, lab_server, order, say=browser_progress)
    try:
        yield opener
    finally:
        opener.close()
        browser_report.append(f"JupyterLab pages booted: {opener.boots} for {len(order)} "
                              f"notebook(s), in {LANES} lanes")


# ---------------------------------------------------------------- the test

def test_notebook_runs_and_renders_in_jupyterlab(notebook: Path, lab_root, screenshots_dir,
                                                 lab_server, pages, browser_report,
                                                 browser_progress):
    """`notebook` is parametrized over notebooks/*.ipynb by conftest.pytest_generate_tests."""
    rel = notebook.relative_to(lab_root).as_posix()
    expected = stored_outputs(notebook)
    shot = screenshots_dir / f"{notebook.stem}.jpg"
    log_size = lab_server.log_path.stat().st_size

    t0 = time.monotonic()
    opened = pages.take(rel)
    pages.open_next(rel)   # the next notebook boots while this one opens and runs
    page = opened.page
    times: dict[str, float] = {}
    state = None
    shot_note = "(no screenshot)"
    notes = []
    completed = False
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
            browser_progress(f"{notebook.name}: Run All started")
        else:
            notes.append(f"opened and started {t0 - opened.run_started_at:.1f} s ahead, "
                         f"during the previous notebook")

        state = poll(page, STATE, [rel, True], StallWatch(), RUN_TIMEOUT, tick=pages.run_next)
        if state["runAll"] and state["runAll"].get("seconds") is not None:
            times["run"] = state["runAll"]["seconds"]
            browser_progress(f"{notebook.name}: Run All finished in {times['run']:.1f} s")
        assert not state["dialogs"], f"{rel}: JupyterLab shows a dialog: {state['dialogs']}"
        assert not unexpected_errors(state), (
            f"{rel}: error output under Run All (cell index, exception, message): "
            f"{unexpected_errors(state)}; {pending_summary(state)}")
        assert finished(state), (f"{rel}: Run All did not finish (a notebook that passes nbval "
                                 f"but hangs in JupyterLab?): {pending_summary(state)}")
        pages.run_next()

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

        state = poll(page, STATE, [rel, False], drawn, DRAW_TIMEOUT, tick=pages.run_next)

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
            notes.append(f"slider {before['readout']!r} -> {after['readout']!r} redrew its figure"
                         f" after {time.monotonic() - t2:.1f} s")
            state = poll(page, STATE, [rel, False], drawn, DRAW_TIMEOUT, tick=pages.run_next)
        times["draw"] = time.monotonic() - t2
        completed = True
    finally:
        pages.run_next()
        t3 = time.monotonic()
        try:
            shot_note = full_page_screenshot(page, shot, tick=pages.run_next)
        except Exception as error:   # a failed screenshot must not hide the real failure
            shot_note = f"(screenshot failed: {error})"
        times["screenshot"] = time.monotonic() - t3
        pages.done_with(opened, healthy=completed)
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
