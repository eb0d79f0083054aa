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

