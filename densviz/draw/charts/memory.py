"""Chart 6, memory per layer: activations alive in inference, and what a training step keeps, naive vs memory-efficient."""

from __future__ import annotations

import json
from typing import Any

import plotly.graph_objects as go

from densviz.core.plan import ArchitecturePlan
from densviz.core.units import format_bytes
from densviz.draw.charts.style import (
    NBSP,
    SUBPLOT_TITLE_PX,
    bar,
    block_bands,
    figure,
    frame,
    grid,
    layer_ticks,
    row_color,
)

__all__ = ["memory_figure"]

_MIB = float(1 << 20)


def _saved_traces(plan: ArchitecturePlan, xs: list[int]) -> list[dict[str, Any]]:
    """The cumulative bytes a training step keeps for backward, naive and memory-efficient."""
    mem = plan.memory
    traces: list[dict[str, Any]] = []
    for label, attr, color, dash in (
        (f"naive (step total {format_bytes(mem.training_naive_bytes)})", "saved_naive_bytes", "#E15759", "solid"),
        (
            f"memory-efficient (step total {format_bytes(mem.training_efficient_bytes)})",
            "saved_efficient_bytes",
            "#4E79A7",
            "dash",
        ),
    ):
        total = 0
        ys = []
        for r in mem.layers:
            total += getattr(r, attr)
            ys.append(total / _MIB)
        traces.append(
            {
                "type": "scatter",
                "name": label,
                "x": xs,
                "y": ys,
                "mode": "lines",
                "line": {"color": color, "dash": dash, "width": 2.5},
                "hovertemplate": "%{y:.1f} MiB<extra>" + label.split(" (")[0] + "</extra>",
                "xaxis": "x2",
                "yaxis": "y2",
            }
        )
    return traces


def memory_figure(plan: ArchitecturePlan) -> go.Figure:
    """Chart 6: memory per layer: inference activations, and training naive vs memory-efficient."""
    mem = plan.memory
    rows = mem.layers
    xs = list(range(len(rows)))
    n = plan.input.batch
    traces: list[dict[str, Any]] = [
        bar(
            "alive in inference",
            xs,
            [r.live_bytes / _MIB for r in rows],
            [row_color(r) for r in plan.layers],
            [f"<b>{r.name}</b><br>{format_bytes(r.live_bytes)} alive" for r in rows],
            showlegend=False,
            xaxis="x",
            yaxis="y",
        ),
        *_saved_traces(plan, xs),
    ]
    grid_json = grid(
        2,
        1,
        shared_xaxes=True,
        vertical_spacing=0.12,
        subplot_titles=(
            "inference: activations alive per layer",
            "training: kept for the backward pass, cumulative",
        ),
    )
    base = json.loads(grid_json)
    shapes, _ = block_bands(plan, row=2, labels=False)
    layout = frame(
        "Memory per layer",
        f"float32, batch {n}; inference peak {format_bytes(mem.inference_peak_bytes)}; naive layers keep every concatenation "
        f"(quadratic in block length), memory-efficient ones recompute them (arXiv{NBSP}1707.06990)",
        height=680,
        top_extra=SUBPLOT_TITLE_PX,
    )
    layout |= {
        "shapes": shapes,
        "xaxis": {**base["xaxis"], **layer_ticks(plan)},
        "xaxis2": {**base["xaxis2"], **layer_ticks(plan), "title": {"text": "layers in forward order"}},
        "yaxis": {**base["yaxis"], "title": {"text": "MiB"}},
        "yaxis2": {**base["yaxis2"], "title": {"text": "MiB"}},
    }
    return figure(traces, layout, grid_json)
