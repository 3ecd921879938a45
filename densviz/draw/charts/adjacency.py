"""Chart 4, concatenation adjacency: which layer reads which earlier output, as a heat map."""

from __future__ import annotations

import plotly.graph_objects as go

from densviz.core.config import ConfigError
from densviz.core.plan import ArchitecturePlan, Role
from densviz.draw.charts.style import figure, frame, short_name

__all__ = ["adjacency_figure"]

_CONSUMERS = (Role.DENSE_LAYER, Role.TRANSITION, Role.FINAL_NORM)
"""The roles that read a concatenation."""


def adjacency_figure(plan: ArchitecturePlan, block: int | None = None) -> go.Figure:
    """Chart 4: which layer reads which earlier output, coloured by the channels it contributes.

    Rows are consumers (dense layers, transitions and the final norm), columns
    producers; a block of L layers fills a triangle of L(L+1)/2 + L + 1 cells.

    Raises:
        ConfigError: for a block number outside the plan.
    """
    if block is not None and not 1 <= block <= len(plan.blocks):
        raise ConfigError("block", block, f"a block number from 1 to {len(plan.blocks)}")
    consumers = [r for r in plan.layers if r.role in _CONSUMERS]
    if block is not None:
        consumers = [
            r for r in consumers if r.block == block or (r.role is Role.FINAL_NORM and block == len(plan.blocks))
        ]
    producers: list[str] = []
    for r in consumers:
        for src in r.inputs:
            if src not in producers:
                producers.append(src)
    column = {name: j for j, name in enumerate(producers)}
    z: list[list[float | None]] = []
    text: list[list[str]] = []
    for r in consumers:
        line: list[float | None] = [None] * len(producers)
        words = [""] * len(producers)
        for src in r.inputs:
            channels = plan[src].out_channels
            line[column[src]] = channels
            words[column[src]] = f"<b>{r.name}</b><br>reads {channels} channels from {src}"
        z.append(line)
        text.append(words)
    heat = {
        "type": "heatmap",
        "z": z,
        "x": [short_name(p) for p in producers],
        "y": [short_name(c.name) for c in consumers],
        "text": text,
        "hoverinfo": "text",
        "colorscale": "Viridis",
        # in the top right corner, which a lower triangle leaves empty: on a phone a colour bar at
        # the side would take a third of the width (and one above the plot moves plotly's title)
        "colorbar": {
            "orientation": "h",
            "x": 1,
            "xanchor": "right",
            "y": 1,
            "yanchor": "top",
            "ypad": 0,
            "len": 0.5,
            "thickness": 10,
            "title": {"text": "channels", "side": "top"},
        },
        "xgap": 1 if len(producers) <= 60 else 0,
        "ygap": 1 if len(consumers) <= 60 else 0,
    }
    edges = sum(len(r.inputs) for r in consumers)
    scope = f"dense block {block}" if block else "every dense block"
    side = max(520, min(1400, 14 * len(consumers) + 200))
    layout = frame(
        "Concatenation adjacency",
        f"{scope}: {edges:,} connections; each layer reads the block input and every earlier layer",
        height=side,
        legend=False,
    )
    layout["margin"]["r"] = 20
    layout |= {
        "yaxis": {"autorange": "reversed", "title": {"text": "consumer (reads)"}, "showgrid": False},
        "xaxis": {"title": {"text": "producer (its output is read)"}, "tickangle": -60, "showgrid": False},
    }
    return figure([heat], layout)
