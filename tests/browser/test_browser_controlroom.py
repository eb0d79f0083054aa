"""Lesson 10's control room in JupyterLab + headless Chromium: moving its controls redraws
its panels with changed numbers (issue 25).

The notebook is opened in a page of its own (test_browser_notebooks.py runs it with the other
notebooks too, and moves one slider); here, after Run All, six controls are moved the way a
learner would: the arrival rate's readout typed into, the outage dropdown, the consumers slider
with the keyboard, the preset menu, the arrivals dropdown (open to closed loop) and the tracing
checkbox. After each, the printed numbers (the text above the panels, which `report` computes
from the same results as the figure) and the figure's data must both change, and the new numbers
must be the ones the change implies; after tracing, only the text may change (spans per order
appear), since tracing moves no business number."""
from __future__ import annotations

import secrets
import time

from test_browser_notebooks import (OPEN_STATUS, RUN_ALL, STATE, StallWatch, finished, poll,
                                    unexpected_errors)

REL = "notebooks/10b_control_room.ipynb"
CHANGE_TIMEOUT = 45.0      # s per change: twelve simulated runs on a busy 2-core machine

PANELS = """
(path) => {
  // the control room's cell: its printed numbers and its figure's data
  const app = window.jupyterapp;
  let panel = null;
  for (const w of app.shell.widgets('main')) if (w.context && w.context.path === path) panel = w;
  if (!panel) return null;
  const cell = panel.content.widgets.find(
    c => c.model.type === 'code' && c.model.sharedModel.getSource().startsWith('controls = Controls()'));
  if (!cell) return null;
  const area = cell.outputArea.node;
  const pre = Array.from(area.querySelectorAll('.widget-output pre, .jupyter-widgets-output-area pre'));
  const plot = area.querySelector('.widget-output .js-plotly-plot, .jupyter-widgets-output-area .js-plotly-plot');
  const svg = plot && plot.querySelector('svg.main-svg');
  return {text: pre.map(p => p.textContent).join('\\n'),
          figure: svg ? JSON.stringify((plot.data || []).map(t => [t.x, t.y])) : null,
          link: (area.querySelector('.widget-html') || {}).textContent || ''};
}
"""


def _changed(before):
    return lambda s: (s is not None and s["figure"] is not None and "verdicts:" in s["text"]
                      and s["text"] != before["text"] and s["figure"] != before["figure"])


def _line(text: str, start: str) -> str:
    return next((line for line in text.splitlines() if line.strip().startswith(start)), "")


def test_moving_controls_redraws_the_panels_with_changed_numbers(browser, lab_server,
                                                                 screenshots_dir, browser_report):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    t0 = time.monotonic()
    notes = []
    try:
        page.goto(f"{lab_server.base_url}/lab/workspaces/controlroom-{secrets.token_hex(4)}/tree/"
                  f"{REL}?reset&token={lab_server.token}", wait_until="commit")
        status = poll(page, OPEN_STATUS, REL, lambda s: s == "ready" or s.startswith("dialog"), 90)
        assert status == "ready", f"{REL}: not ready: {status}"
        page.evaluate(RUN_ALL, REL)
        state = poll(page, STATE, [REL, True], StallWatch(), 150)
        assert not unexpected_errors(state), unexpected_errors(state)
        assert finished(state), f"{REL}: Run All did not finish"
        before = poll(page, PANELS, REL,
                      lambda s: s is not None and s["figure"] is not None and "verdicts:" in s["text"],
                      30)
        assert before and before["figure"], f"{REL}: the control room's panels were not drawn"
        assert "offered 2/s" in before["text"]

        def control(kind: str, label: str):
            box = page.locator(f".widget-{kind}", has=page.locator("label.widget-label",
                                                                  has_text=label)).first
            box.scroll_into_view_if_needed()
            return box

        def moved(what: str, check) -> dict:
            nonlocal before
            t = time.monotonic()
            after = poll(page, PANELS, REL, _changed(before), CHANGE_TIMEOUT)
            assert _changed(before)(after), f"moving {what} did not redraw the panels with new numbers"
            check(after)
            notes.append(f"{what}: redrawn in {time.monotonic() - t:.1f} s")
            before = after
            return after

        # 1 · the arrival rate, typed into the slider's readout
        readout = control("hslider", "orders per second").locator(".widget-readout")
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type("3.5")
        page.keyboard.press("Enter")
        moved("the arrival rate 2 -> 3.5",
              lambda s: "offered 3.5/s" in s["text"] and "TRANSIENT" in s["text"])

        # 2 · an outage of the coordinator: pick what (no outage yet: its length is 0), then
        # how long
        control("dropdown", "outage of").locator("select").select_option("coordinator")
        page.wait_for_timeout(500)
        poll(page, STATE, [REL, True], lambda s: s["kernel"] == "idle", CHANGE_TIMEOUT)
        before = poll(page, PANELS, REL, lambda s: s is not None and s["figure"] is not None
                      and "verdicts:" in s["text"], CHANGE_TIMEOUT)
        length = control("hslider", "outage length (s)").locator(".widget-readout")
        length.click()
        page.keyboard.press("Control+A")
        page.keyboard.type("20")
        page.keyboard.press("Enter")
        moved("an outage of the coordinator, 20 s",
              lambda s: "central engine" in _line(s["text"], "outage:")
              and "broker" in _line(s["text"], "outage:"))

        # 3 · consumers per group, with the keyboard on the slider's handle
        handle = control("hslider", "consumers per group").locator(".noUi-handle")
        handle.focus()
        page.keyboard.press("ArrowRight")
        moved("consumers per group 1 -> 2",
              lambda s: "ρ = 0.55" in s["text"] and "TRANSIENT" not in s["text"])

        # 4 · a preset: every knob at once, one redraw, a link to its lesson
        control("dropdown", "preset").locator("select").select_option("a retry storm")
        moved("the preset 'a retry storm'",
              lambda s: "03b_redelivery_and_idempotency.ipynb" in s["link"]
              and "Payment Service" in _line(s["text"], "outage:"))
        assert control("hslider", "attempts").locator(".widget-readout").inner_text().strip() == "8"

        # 5 · the arrivals: a closed loop of customers, whose pace the shop sets
        control("dropdown", "arrivals").locator("select").select_option("closed")
        moved("the arrivals open -> closed",
              lambda s: "closed loop: 8 customers" in s["text"] and "not a rate" in s["text"]
              and "customers' view" in s["text"] and "offered 2/s" not in s["text"])

        # 6 · tracing on: spans per order appear; no business number moves, so neither does
        # the figure (a redraw, the same data)
        box = page.locator(".widget-checkbox", has_text="tracing").first
        box.scroll_into_view_if_needed()
        box.locator("input[type=checkbox]").check()
        t = time.monotonic()
        traced = poll(page, PANELS, REL, lambda s: s is not None and s["figure"] is not None
                      and "verdicts:" in s["text"] and "spans per order" in s["text"],
                      CHANGE_TIMEOUT)
        assert traced and "spans per order" in traced["text"], "ticking tracing printed no spans"
        assert traced["figure"] == before["figure"], "tracing changed a business number"
        assert _line(traced["text"], "orchestrated  p50") == _line(before["text"], "orchestrated  p50")
        notes.append(f"tracing on: redrawn in {time.monotonic() - t:.1f} s")
    finally:
        try:
            page.screenshot(path=str(screenshots_dir / "10b_control_room_controls.jpg"), quality=80)
        except Exception:
            pass
        context.close()
        lab_server.shutdown_kernels(only={REL})
        browser_report.append(f"{REL} controls: {time.monotonic() - t0:.1f} s; " + "; ".join(notes))
