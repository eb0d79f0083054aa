"""Plotting helpers shared by the lessons (support code: it teaches nothing about the subject).

Figures use plotly's default renderer in Jupyter (`plotly_mimetype`): small, deterministic
JSON, drawn by JupyterLab's plotly extension. Lessons print the numbers a figure shows.
"""
from __future__ import annotations

import plotly.graph_objects as go


def architecture_diagram() -> go.Figure:
    """Both architectures side by side: a conductor calling services vs services around a bus."""
    fig = go.Figure()
    services = ["User", "Email", "Profile"]
    # Left: orchestration. The orchestrator calls each service and waits for the answer.
    hub = (1.0, 2.6)
    nodes = {"Orchestrator": hub} | {s: (x, 1.0) for s, x in zip(services, (0.2, 1.0, 1.8))}
    for i, s in enumerate(services, 1):
        fig.add_annotation(x=nodes[s][0], y=nodes[s][1] + 0.28, ax=hub[0], ay=hub[1] - 0.28,
                           xref="x", yref="y", axref="x", ayref="y", showarrow=True,
                           arrowhead=2, arrowwidth=1.5, arrowcolor="#1f77b4",
                           text="", standoff=4)
        fig.add_annotation(x=(nodes[s][0] + hub[0]) / 2 - 0.12, y=1.85, text=f"{i}. call",
                           showarrow=False, font=dict(size=11, color="#1f77b4"))
    # Right: choreography. Services publish to and subscribe from a bus; nobody is in charge.
    bus_y, left = 1.8, 3.0
    fig.add_shape(type="rect", x0=left, x1=left + 2.4, y0=bus_y - 0.15, y1=bus_y + 0.15,
                  fillcolor="#ffdd99", line=dict(color="#cc8800"))
    fig.add_annotation(x=left + 1.2, y=bus_y, text="event bus", showarrow=False)
    for s, x, y in (("Order", left + 0.2, 2.8), ("Payment", left + 1.2, 2.8),
                    ("Inventory", left + 2.2, 2.8), ("Shipment", left + 0.6, 0.8),
                    ("Notification", left + 1.8, 0.8)):
        nodes[s] = (x, y)
        toward = bus_y + (0.15 if y > bus_y else -0.15)
        fig.add_annotation(x=x, y=toward, ax=x, ay=y - (0.28 if y > bus_y else -0.28),
                           xref="x", yref="y", axref="x", ayref="y", showarrow=True,
                           arrowhead=2, arrowside="end+start", arrowcolor="#cc8800", text="")
    colours = {name: ("#1f77b4" if name == "Orchestrator" else "#cc8800" if x >= left else "#6baed6")
               for name, (x, _) in nodes.items()}
    fig.add_trace(go.Scatter(
        x=[p[0] for p in nodes.values()], y=[p[1] for p in nodes.values()], mode="markers+text",
        text=list(nodes), textposition="middle center", hoverinfo="text",
        marker=dict(size=[90 if n == "Orchestrator" else 70 for n in nodes],
                    color=[colours[n] for n in nodes], opacity=0.35, line=dict(width=1)),
        textfont=dict(size=11)))
    for x, title in ((1.0, "Orchestration: one conductor calls each service"),
                     (left + 1.2, "Choreography: services react to events")):
        fig.add_annotation(x=x, y=3.45, text=f"<b>{title}</b>", showarrow=False)
    fig.update_xaxes(visible=False, range=[-0.4, 5.8])
    fig.update_yaxes(visible=False, range=[0.3, 3.7])
    fig.update_layout(height=380, showlegend=False, margin=dict(l=10, r=10, t=10, b=10),
                      plot_bgcolor="white")
    return fig


# Plotly's default qualitative colours, assigned to categories in order of first appearance so
# the same category keeps its colour from one figure to the next in a lesson.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def timeline(rows, *, lane: str = "lane", start: str = "start", end: str = "end",
             label: str | None = None, color: str | None = None, title: str = "",
             marks: dict[str, float] | None = None, open_end: float | None = None,
             height: int | None = None) -> go.Figure:
    """A Gantt chart on a simulated-seconds axis: one horizontal bar per row of `rows`.

    `rows` is a pandas DataFrame (or anything `pd.DataFrame()` accepts); the column names are
    arguments: each bar spans `start`..`end` on lane `lane` (lanes top to bottom in order of
    first appearance), is coloured by `color` (one legend entry per value) and shows `label`
    as its text and hover. Rows whose `end` is missing (still in flight) are drawn up to
    `open_end` if given, else left out. `marks` draws labelled vertical lines,
    e.g. ``{"orchestrator stops": 0.6}``.
    """
    import pandas as pd

    df = pd.DataFrame(rows).copy()
    if open_end is not None:
        df[end] = df[end].fillna(open_end)
    df = df.dropna(subset=[end])
    lanes = list(dict.fromkeys(df[lane].astype(str)))
    groups = df.groupby(color, sort=False) if color else [("", df)]
    fig = go.Figure()
    for i, (value, part) in enumerate(groups):
        text = part[label].astype(str) if label else None
        fig.add_trace(go.Bar(
            y=part[lane].astype(str), base=part[start], x=part[end] - part[start],
            orientation="h", name=str(value), showlegend=bool(color),
            marker=dict(color=PALETTE[i % len(PALETTE)], line=dict(width=0.5, color="white")),
            text=text, textposition="inside", insidetextanchor="middle",
            customdata=list(zip(part[start], part[end])),
            hovertemplate=("%{y}<br>%{text}<br>" if label else "%{y}<br>")
            + "%{customdata[0]:.3f} s → %{customdata[1]:.3f} s<extra>%{fullData.name}</extra>"))
    for name, at in (marks or {}).items():
        fig.add_vline(x=at, line=dict(color="#d62728", dash="dash"),
                      annotation_text=name, annotation_position="top")
    fig.update_layout(
        title=title, barmode="overlay", bargap=0.25, plot_bgcolor="white",
        height=height or min(900, 140 + 26 * len(lanes)),
        margin=dict(l=10, r=10, t=50 if title else 20, b=40),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0))
    fig.update_xaxes(title="simulated time (s)", rangemode="tozero", gridcolor="#eeeeee")
    fig.update_yaxes(categoryorder="array", categoryarray=lanes, autorange="reversed")
    return fig


# --- lesson 02: the event bus ---------------------------------------------------------------

def swimlane(deliveries, log, *, title: str = "", height: int | None = None) -> go.Figure:
    """Events across services: one lane per service (consumer group or publisher).

    `deliveries` and `log` are `sagalab.bus.deliveries(bus)` and `event_log(bus)`, usually
    filtered to one key. Each handler run is a bar on its group's lane, coloured by event type;
    each publish is a diamond on the publisher's lane; a dotted line joins a publish to each
    handler run it caused.
    """
    import pandas as pd

    log = pd.DataFrame(log).copy()
    log["source"] = log["source"].fillna("outside")
    runs = pd.DataFrame(deliveries)
    fig = timeline(runs, lane="group", start="started", end="finished", label="topic",
                   color="topic", title=title)
    first = pd.concat([log.rename(columns={"source": "lane"})[["lane", "time"]],
                       runs.rename(columns={"group": "lane", "started": "time"})[["lane", "time"]]])
    lanes = list(dict.fromkeys(first.sort_values("time", kind="stable")["lane"]))
    published = dict(zip(log["id"], zip(log["time"], log["source"])))
    xs, ys = [], []
    for row in runs.itertuples():
        if row.event in published:
            at, lane = published[row.event]
            xs += [at, row.started, None]
            ys += [lane, row.group, None]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", showlegend=False, hoverinfo="skip",
                             line=dict(color="#999999", width=1, dash="dot")))
    fig.add_trace(go.Scatter(
        x=log["time"], y=log["source"], mode="markers", name="published",
        marker=dict(symbol="diamond", size=11, color="#333333"),
        customdata=list(zip(log["id"], log["topic"])),
        hovertemplate="%{y} published %{customdata[1]} (%{customdata[0]})"
                      "<br>t = %{x:.3f} s<extra></extra>"))
    fig.update_yaxes(categoryarray=lanes)
    fig.update_layout(height=height or 140 + 45 * len(lanes))
    return fig


def backlog(depth, *, by: str = "group", windows: dict[str, tuple[float, float]] | None = None,
            title: str = "", height: int = 360) -> go.Figure:
    """Backlog (events waiting or being handled) over time, one step line per group.

    `depth` is `sagalab.bus.queue_depth(bus)`; `windows` shades named time spans, e.g.
    ``{"Notification Service down": (10, 30)}``.
    """
    import pandas as pd

    fig = go.Figure()
    for i, (name, part) in enumerate(pd.DataFrame(depth).groupby(by, sort=False)):
        fig.add_trace(go.Scatter(x=part["time"], y=part["backlog"], mode="lines", name=str(name),
                                 line=dict(shape="hv", color=PALETTE[i % len(PALETTE)])))
    for name, (start, end) in (windows or {}).items():
        fig.add_vrect(x0=start, x1=end, fillcolor="#d62728", opacity=0.08, line_width=0,
                      annotation_text=name, annotation_position="top left")
    fig.update_layout(title=title, height=height, plot_bgcolor="white",
                      margin=dict(l=10, r=10, t=50 if title else 20, b=40),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0))
    fig.update_xaxes(title="simulated time (s)", rangemode="tozero", gridcolor="#eeeeee")
    fig.update_yaxes(title="backlog (events)", rangemode="tozero", gridcolor="#eeeeee")
    return fig


def topology_figure(edges, *, title: str = "", height: int = 380) -> go.Figure:
    """Publishers → topics → subscribers as a Sankey diagram, link widths = events.

    `edges` is `sagalab.bus.topology(bus)`. Topics are grey; a topic nobody subscribes to ends
    there; a subscription that received nothing is drawn thin.
    """
    import re

    import pandas as pd

    edges = pd.DataFrame(edges)
    topics = list(dict.fromkeys(edges["topic"]))
    services = list(dict.fromkeys([p for p in edges["publisher"] if isinstance(p, str)]
                                  + [s for s in edges["subscriber"] if isinstance(s, str)]))
    nodes = services + topics
    index = {("service", n): i for i, n in enumerate(services)}
    index |= {("topic", t): len(services) + i for i, t in enumerate(topics)}
    source, target, value, label = [], [], [], []
    for (publisher, topic), part in edges.groupby(["publisher", "topic"], sort=False):
        source.append(index["service", publisher]), target.append(index["topic", topic])
        value.append(max(int(part["published"].iloc[0]), 1))
        label.append(f"{int(part['published'].iloc[0])} published")
    for (topic, subscriber), part in edges.dropna(subset=["subscriber"]).groupby(
            ["topic", "subscriber"], sort=False):
        source.append(index["topic", topic]), target.append(index["service", subscriber])
        value.append(max(int(part["received"].iloc[0]), 1))
        label.append(f"{int(part['received'].iloc[0])} received")
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(services))] + ["#bbbbbb"] * len(topics)
    # Two short lines per label ("Notification<br>Service", "Shipment<br>Created"), so labels of
    # neighbouring columns do not overlap.
    labels = [n.replace(" ", "<br>", 1) for n in services] + [
        re.sub(r"(?<=[a-z])(?=[A-Z])", "<br>", t, count=1) for t in topics]
    fig = go.Figure(go.Sankey(
        arrangement="fixed",
        node=dict(label=labels, color=colours, pad=18, thickness=14,
                  hovertemplate="%{customdata}<extra></extra>", customdata=nodes),
        link=dict(source=source, target=target, value=value, customdata=label,
                  hovertemplate="%{source.label} → %{target.label}: %{customdata}<extra></extra>")))
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=50 if title else 20, b=10))
    return fig


# --- lesson 07: load testing ------------------------------------------------------------------

def load_curves(frame, *, y: str = "done mean", x: str = "rate", by: str = "style",
                title: str = "", y_title: str | None = None, x_title: str = "requests per second",
                log_y: bool = True, height: int = 360) -> go.Figure:
    """One line per value of `by`, `y` against `x`, a marker per load test.

    `frame` is `sagalab.load.table(runs)` (or rows like it). A saturated test has no meaningful
    latency: it is drawn as an ✕ in its line's colour at the top of the plot, labelled
    "saturated", with its queue growth in the hover.
    """
    import pandas as pd

    frame = pd.DataFrame(frame)
    stable = frame[frame["status"] != "saturated"]
    top = float(stable[y].max()) * 1.6 if len(stable) else 1.0
    fig = go.Figure()
    for i, (name, part) in enumerate(frame.groupby(by, sort=False)):
        colour = PALETTE[i % len(PALETTE)]
        ok = part[part["status"] != "saturated"]
        fig.add_trace(go.Scatter(x=ok[x], y=ok[y], mode="lines+markers", name=str(name),
                                 line=dict(color=colour), marker=dict(size=8)))
        over = part[part["status"] == "saturated"]
        if len(over):
            fig.add_trace(go.Scatter(
                x=over[x], y=[top] * len(over), mode="markers+text", showlegend=False,
                marker=dict(symbol="x", size=13, color=colour, line=dict(width=2)),
                text=["saturated"] * len(over), textposition="bottom center",
                customdata=over["queue growth/s"].round(2),
                hovertemplate=f"{name}: saturated, backlog grows %{{customdata}} requests/s"
                              "<extra></extra>"))
    fig.update_layout(title=title, height=height, plot_bgcolor="white",
                      margin=dict(l=10, r=10, t=50 if title else 20, b=40),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0))
    fig.update_xaxes(title=x_title, gridcolor="#eeeeee")
    fig.update_yaxes(title=y_title or y, type="log" if log_y else "linear", gridcolor="#eeeeee")
    return fig


def gauge_lines(gauges, *, column: str = "in_system", title: str = "",
                y_title: str = "requests in the system", until: float | None = None,
                points: int = 400, log_y: bool = False, height: int = 320) -> go.Figure:
    """A monitor's view over time: one line per named gauge frame (`LoadRun.gauge`: time,
    in_system, waiting), up to time `until`, thinned to about `points` samples each so the
    notebook stays small."""
    fig = go.Figure()
    for i, (name, gauge) in enumerate(dict(gauges).items()):
        if until is not None:
            gauge = gauge[gauge["time"] <= until]
        step = max(1, len(gauge) // points)
        part = gauge.iloc[::step]
        fig.add_trace(go.Scatter(x=part["time"].round(3), y=part[column], mode="lines",
                                 name=str(name), line=dict(color=PALETTE[i % len(PALETTE)])))
    fig.update_layout(title=title, height=height, plot_bgcolor="white",
                      margin=dict(l=10, r=10, t=50 if title else 20, b=40),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0))
    fig.update_xaxes(title="simulated time (s)", rangemode="tozero", gridcolor="#eeeeee")
    fig.update_yaxes(title=y_title, type="log" if log_y else "linear", gridcolor="#eeeeee")
    return fig


def worst_per_bin(series, *, bin_seconds: float = 1.0, start: float = 0.0,
                  end: float | None = None, title: str = "", height: int = 320) -> go.Figure:
    """The worst response time per `bin_seconds` of send time, one line per named
    (sent, response) pair of arrays, between `start` and `end`: a stall shows as a spike,
    unless the load generator stopped sending during it."""
    import numpy as np

    fig = go.Figure()
    for i, (name, (sent, response)) in enumerate(dict(series).items()):
        sent, response = np.asarray(sent), np.asarray(response)
        stop = end if end is not None else float(sent.max())
        keep = (sent >= start) & (sent < stop)
        bins = np.floor((sent[keep] - start) / bin_seconds).astype(int)
        worst = np.zeros(int(np.ceil((stop - start) / bin_seconds)))
        np.maximum.at(worst, bins, response[keep])
        fig.add_trace(go.Scatter(x=(start + bin_seconds * np.arange(len(worst))).round(3),
                                 y=worst.round(4), mode="lines", name=str(name),
                                 line=dict(shape="hv", color=PALETTE[i % len(PALETTE)])))
    fig.update_layout(title=title, height=height, plot_bgcolor="white",
                      margin=dict(l=10, r=10, t=50 if title else 20, b=40),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0))
    fig.update_xaxes(title="sent at (simulated s)", gridcolor="#eeeeee")
    fig.update_yaxes(title=f"worst response time per {bin_seconds:g} s (s)", rangemode="tozero",
                     gridcolor="#eeeeee")
    return fig


# --- lesson 06: tracing ---------------------------------------------------------------------

def waterfall(spans, *, title: str = "", now: float | None = None,
              height: int | None = None) -> go.Figure:
    """A trace as a waterfall: one row per span, parents above their children (tree order,
    names indented by depth), a bar from start to end coloured by service.

    `spans` is a span-store table (`sagalab.tracing.Tracer.frame()`), usually one trace;
    rows already in tree order (`sagalab.tracing.tree`) are kept as they are. A failed span has
    a red outline and a ✗; a span still in flight is hatched up to `now` (a dashed line); a
    send, which takes no time, is a diamond, any other span that took no time a dot; a link
    (a span that depends on another without being its child, e.g. the shipment that waited
    for two events) is a dotted line from the span it links to.
    """
    import pandas as pd

    rows = pd.DataFrame(spans)
    if "depth" not in rows.columns:
        from sagalab.tracing import tree
        rows = tree(rows)
    rows = rows.reset_index(drop=True)
    horizon = now if now is not None else max(rows.end.max(), rows.start.max())
    ends = rows.end.fillna(horizon)
    failed = rows.status == "error"
    colours = [c for c in PALETTE if c != "#d62728"]     # red is for failures
    fig = go.Figure()
    for i, service in enumerate(dict.fromkeys(rows.service)):
        part = rows[rows.service == service]
        colour = colours[i % len(colours)]
        timed = part[(ends[part.index] > part.start) | part.end.isna()]
        fig.add_trace(go.Bar(
            y=timed.index, base=timed.start, x=ends[timed.index] - timed.start, orientation="h",
            name=service, legendgroup=service, width=0.6,
            marker=dict(color=colour,
                        line=dict(color=["#d62728" if f else colour for f in failed[timed.index]],
                                  width=[3 if f else 0.5 for f in failed[timed.index]]),
                        pattern=dict(shape=["/" if o else "" for o in timed.end.isna()])),
            customdata=list(zip(timed.name, timed.kind, timed.start, timed.end.fillna(-1),
                                timed.status, timed.error.fillna(""))),
            hovertemplate="%{customdata[0]} (%{customdata[1]})<br>%{customdata[2]:.3f} s → "
                          "%{customdata[3]:.3f} s<br>%{customdata[4]} %{customdata[5]}"
                          "<extra>" + service + "</extra>"))
        instant = part.drop(timed.index)
        if len(instant):
            fig.add_trace(go.Scatter(
                y=instant.index, x=instant.start, mode="markers", name=service,
                legendgroup=service, showlegend=not len(timed),
                marker=dict(symbol=["diamond" if k == "producer" else "circle"
                                    for k in instant.kind], size=11, color=colour,
                            line=dict(color=["#d62728" if f else "#333333"
                                             for f in failed[instant.index]],
                                      width=[3 if f else 1 for f in failed[instant.index]])),
                customdata=list(zip(instant.name, instant.kind, instant.status,
                                    instant.error.fillna(""))),
                hovertemplate="%{customdata[0]} (%{customdata[1]})<br>t = %{x:.3f} s"
                              "<br>%{customdata[2]} %{customdata[3]}<extra>" + service
                              + "</extra>"))
    row_of = dict(zip(rows.span_id, rows.index))
    xs, ys = [], []
    for i, links in zip(rows.index, rows.links):
        for link in links:
            if link in row_of:
                j = row_of[link]
                xs += [ends[j], rows.start[i], None]
                ys += [j, i, None]
    if xs:
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="link", hoverinfo="skip",
                                 line=dict(color="#555555", width=1.5, dash="dot")))
    if now is not None:
        fig.add_vline(x=now, line=dict(color="#d62728", dash="dash"),
                      annotation_text=f"now: {now:g} s", annotation_position="bottom right")
    # Span names as left-aligned labels in the margin, indented by depth (tick labels are
    # right-aligned, which would hide the indentation).
    margin = 250
    for i, (depth, name, bad) in enumerate(zip(rows.depth, rows.name, failed)):
        fig.add_annotation(xref="paper", yref="y", x=0, y=i, xanchor="left", showarrow=False,
                           xshift=-margin + 6 + 14 * depth, text=name + (" ✗" if bad else ""),
                           font=dict(size=11, color="#d62728" if bad else "#333333"))
    fig.update_layout(title=title, barmode="overlay", plot_bgcolor="white",
                      height=height or min(1000, 130 + 24 * len(rows)),
                      margin=dict(l=margin, r=10, t=60 if title else 30, b=40),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0))
    fig.update_xaxes(title="simulated time (s)", gridcolor="#eeeeee")
    fig.update_yaxes(showticklabels=False, autorange="reversed")
    return fig
