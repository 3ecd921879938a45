"""The Design space view's chart: every kept design's parameters against its MACs, the front drawn, presets named."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from densviz.core.explore import Candidate, Design, Exploration, Metrics
from densviz.core.units import format_count, format_macs
from densviz.draw.charts.style import figure, frame

__all__ = ["COLOR_BY", "design_space_figure", "design_text"]

COLOR_BY = {"depth": "depth L", "growth_rate": "growth rate k"}
"""What the points may be coloured by, with the colour bar's title."""


def design_text(design: Design) -> str:
    """One line naming a design: k, blocks, θ, bottleneck, stem and input."""
    blocks = ",".join(map(str, design.block_config))
    bottleneck = f"bn_size {design.bn_size}" if design.bn_size else "no bottleneck"
    return (
        f"k={design.growth_rate} · blocks {blocks} · k₀={design.num_init_features} · θ={design.compression:g} · "
        f"{bottleneck} · {design.stem.value} {design.height}×{design.width}"
    )


def _hover(c: Candidate) -> str:
    m = c.metrics
    named = f"<b>{c.preset}</b><br>" if c.preset else ""
    front = "<br>on the front" if c.on_front else ""
    return (
        f"{named}{design_text(c.design)}<br>{format_count(m.params)} parameters · {format_macs(m.macs)} · "
        f"depth {m.depth} · {m.final_channels} final channels{front}"
    )


def _points(kept: tuple[Candidate, ...], color_by: str) -> dict[str, Any]:
    colour = [c.metrics.depth if color_by == "depth" else c.design.growth_rate for c in kept]
    return {
        "type": "scattergl" if len(kept) > 10_000 else "scatter",  # SVG points can be clicked and tested
        "mode": "markers",
        "name": "designs within the budget",
        "x": [c.metrics.params for c in kept],
        "y": [c.metrics.macs for c in kept],
        "customdata": list(range(len(kept))),  # the index the page reads back from a click
        "hovertext": [_hover(c) for c in kept],
        "hoverinfo": "text",
        "marker": {
            "size": 7,
            "color": colour,
            "colorscale": "Viridis",
            "opacity": 0.75,
            "colorbar": {"title": {"text": COLOR_BY[color_by]}, "thickness": 12, "len": 0.6, "y": 1, "yanchor": "top"},
        },
    }


def _front(kept: tuple[Candidate, ...]) -> dict[str, Any]:
    front = sorted((c for c in kept if c.on_front), key=lambda c: c.metrics.params)
    return {
        "type": "scatter",
        "mode": "lines",
        "name": "Pareto front",
        "x": [c.metrics.params for c in front],
        "y": [c.metrics.macs for c in front],
        "line": {"color": "#E15759", "width": 2, "shape": "hv"},
        "hoverinfo": "skip",
    }


def _presets(kept: tuple[Candidate, ...]) -> dict[str, Any]:
    named = [(i, c) for i, c in enumerate(kept) if c.preset]
    return {
        "type": "scatter",
        "mode": "markers+text",
        "name": "presets",
        "x": [c.metrics.params for _, c in named],
        "y": [c.metrics.macs for _, c in named],
        "text": [c.preset for _, c in named],
        "customdata": [i for i, _ in named],  # a click on a preset's mark loads it too
        "textposition": "top center",
        "marker": {"size": 11, "symbol": "diamond-open", "color": "#333", "line": {"width": 2}},
        "hoverinfo": "skip",
    }


def design_space_figure(found: Exploration, current: Metrics, color_by: str = "depth") -> go.Figure:
    """Parameters (x, log) against MACs per image (y, log) of every kept design; the current one starred.

    Args:
        found: The sweep.
        current: The current design's totals (drawn whether or not it is in the space).
        color_by: ``depth`` or ``growth_rate``.
    """
    traces = [
        _points(found.kept, color_by),
        _front(found.kept),
        _presets(found.kept),
        {
            "type": "scatter",
            "mode": "markers",
            "name": "your design",
            "x": [current.params],
            "y": [current.macs],
            "marker": {"size": 16, "symbol": "star", "color": "#F28E2B", "line": {"color": "#333", "width": 1}},
            "hovertext": [f"your design: {format_count(current.params)} parameters · {format_macs(current.macs)}"],
            "hoverinfo": "text",
        },
    ]
    front = sum(c.on_front for c in found.kept)
    objectives = ", ".join(str(o) for o in found.objectives)
    layout = frame(
        "Design space",
        f"{len(found.kept):,} of {found.evaluated:,} designs within the budget · {front} on the front ({objectives}) "
        "· click a point to make it the current design",
        height=560,
    )
    layout |= {
        "xaxis": {"title": {"text": "parameters"}, "type": "log"},
        "yaxis": {"title": {"text": "MACs per image"}, "type": "log"},
        "clickmode": "event+select",
        "dragmode": "zoom",
    }
    return figure(traces, layout)
