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
