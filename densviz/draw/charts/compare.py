"""The Compare view's chart: two or more designs' channel growth on one axis."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from densviz.core.plan import ArchitecturePlan, LayerKind, LayerPlan, Role
from densviz.draw.charts.style import figure, frame, short_name

__all__ = ["growth_overlay_figure"]

_COLORS = ("#4E79A7", "#F28E2B", "#59A14F", "#E15759")


def _channels_after(rows: tuple[LayerPlan, ...]) -> list[tuple[LayerPlan, int]]:
    """(row, channels after it) for the stem's conv, each dense layer (the running concatenation) and each transition."""
    points: list[tuple[LayerPlan, int]] = []
    for r in rows:
        if r.role is Role.DENSE_LAYER:
            points.append((r, r.in_channels + r.out_channels))
        elif r.role is Role.TRANSITION or (r.role is Role.STEM and r.kind is LayerKind.CONV and not points):
            points.append((r, r.out_channels))
    return points


def growth_overlay_figure(designs: list[tuple[str, ArchitecturePlan]]) -> go.Figure:
    """Two (or more) designs' channel growth on one axis: channels after each layer, in forward order.

    Inside a block the curve climbs by k per layer (the running concatenation,
    k₀ + k·ℓ after layer ℓ); a transition drops it to ⌊θ·m⌋.
    """
    traces: list[dict[str, Any]] = []
    for n, (label, plan) in enumerate(designs):
        points = _channels_after(plan.layers)
        traces.append(
            {
                "type": "scatter",
                "x": list(range(len(points))),
                "y": [c for _, c in points],
                "name": label,
                "mode": "lines+markers",
                "line": {"shape": "hv", "color": _COLORS[n % len(_COLORS)], "width": 2.5},
                "marker": {"size": 4},
                "hovertext": [
                    f"<b>{label}</b><br>{short_name(r.name)}<br>{c} channels at {r.out_hw[0]}×{r.out_hw[1]}"
                    for r, c in points
                ],
                "hoverinfo": "text",
            }
        )
    layout = frame(
        "Channel growth, side by side",
        "channels after the stem, each dense layer (+k) and each transition (⌊θ·m⌋), in forward order",
        height=420,
    )
    layout |= {
        "xaxis": {"title": {"text": "layers in forward order"}},
        "yaxis": {"title": {"text": "channels"}, "rangemode": "tozero"},
    }
    return figure(traces, layout)
