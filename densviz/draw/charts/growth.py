"""Chart 1, channel growth: what each layer reads and adds, and what each transition keeps."""

from __future__ import annotations

import plotly.graph_objects as go

from densviz.core.plan import ArchitecturePlan, Role
from densviz.draw.charts.style import (
    BAND_LABEL_PX,
    NBSP,
    bar,
    block_bands,
    figure,
    frame,
    hover_text,
    layer_ticks,
    row_color,
)
from densviz.draw.palette import TRANSITION_COLOR, block_color, tint

__all__ = ["channel_growth_figure"]


def channel_growth_figure(plan: ArchitecturePlan) -> go.Figure:
    """Chart 1: channels per layer, k₀ + k·(ℓ−1) read and k added, θ at each transition."""
    rows = plan.layers
    dense = [i for i, r in enumerate(rows) if r.role is Role.DENSE_LAYER]
    other = [i for i, r in enumerate(rows) if r.role is not Role.DENSE_LAYER]
    traces = [
        bar(
            "concatenated input k₀ + k·(ℓ−1)",
            dense,
            [rows[i].in_channels for i in dense],
            [tint(block_color(rows[i].block), 0.55) for i in dense],
            [hover_text(rows[i]) for i in dense],
        ),
        bar(
            f"new maps (k = {plan.config.growth_rate})",
            dense,
            [rows[i].out_channels for i in dense],
            [block_color(rows[i].block) for i in dense],
            [hover_text(rows[i]) for i in dense],
        ),
        bar(
            "output channels (stem, transitions, head)",
            other,
            [rows[i].out_channels for i in other],
            [row_color(rows[i]) for i in other],
            [hover_text(rows[i]) for i in other],
        ),
    ]
    shapes, notes = block_bands(plan)
    notes += [
        {
            "x": i,
            "y": r.out_channels,
            "text": f"θ = {plan.config.compression:g}<br>{r.in_channels} → {r.out_channels}",
            "showarrow": True,
            "arrowhead": 2,
            "ax": 0,
            "ay": -40,
            "font": {"size": 11, "color": TRANSITION_COLOR},
            "bgcolor": "rgba(255,255,255,0.85)",
        }
        for i, r in enumerate(rows)
        if r.role is Role.TRANSITION
    ]
    k = plan.config.growth_rate
    reads = NBSP.join(("k₀", "+", "k·(ℓ−1)"))
    adds = NBSP.join(("adds", "k", "=", f"{k};"))
    layout = frame(
        "Channel growth",
        f"inside a block layer ℓ reads {reads} channels and {adds} each transition keeps ⌊θ·m⌋",
        top_extra=BAND_LABEL_PX,
    )
    layout |= {
        "barmode": "stack",
        "bargap": 0.08,
        "shapes": shapes,
        "annotations": notes,
        "xaxis": {"title": {"text": "layers in forward order"}, **layer_ticks(plan, blocks=False)},
        "yaxis": {"title": {"text": "channels"}},
    }
    return figure(traces, layout)
