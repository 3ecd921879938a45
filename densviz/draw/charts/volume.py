"""Chart 2: spatial size and activation volume per layer (chart 5, the 3-D boxes, is in ``volume3d``)."""

from __future__ import annotations

import json
from typing import Any

import plotly.graph_objects as go

from densviz.core.plan import ArchitecturePlan, Role
from densviz.core.units import format_bytes
from densviz.draw.charts.style import (
    BAND_LABEL_PX,
    bar,
    block_bands,
    figure,
    frame,
    grid,
    layer_ticks,
    row_color,
    shape_text,
)
from densviz.draw.palette import TRANSITION_COLOR

__all__ = ["spatial_volume_figure"]


def spatial_volume_figure(plan: ArchitecturePlan) -> go.Figure:
    """Chart 2: H×W per layer, and the activation volume C×H×W (elements and bytes)."""
    rows = [r for r in plan.layers if r.role is not Role.CLASSIFIER]  # the classifier has no spatial size
    xs = list(range(len(rows)))
    n = plan.input.batch
    traces: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "name": "height",
            "x": xs,
            "y": [r.out_hw[0] for r in rows],
            "mode": "lines+markers",
            "line": {"shape": "hv", "color": TRANSITION_COLOR},
            "marker": {"size": 4},
            "hovertext": [f"<b>{r.name}</b><br>{r.out_hw[0]}×{r.out_hw[1]}" for r in rows],
            "hoverinfo": "text",
            "xaxis": "x",
            "yaxis": "y",
        }
    ]
    if any(r.out_hw[0] != r.out_hw[1] for r in rows):
        traces.append(
            {
                "type": "scatter",
                "name": "width",
                "x": xs,
                "y": [r.out_hw[1] for r in rows],
                "mode": "lines",
                "line": {"shape": "hv", "dash": "dot"},
                "xaxis": "x",
                "yaxis": "y",
            }
        )
    volumes = [r.out_channels * r.out_hw[0] * r.out_hw[1] for r in rows]
    hover = [
        f"<b>{r.name}</b><br>{shape_text(r)} = {v:,} values per image<br>{format_bytes(r.output_bytes)} at batch {n} (float32)"
        for r, v in zip(rows, volumes, strict=True)
    ]
    traces.append(bar("output volume C×H×W", xs, volumes, [row_color(r) for r in rows], hover, xaxis="x2", yaxis="y2"))
    dense = [(i, r) for i, r in enumerate(rows) if r.role is Role.DENSE_LAYER]
    traces.append(
        {
            "type": "scatter",
            "name": "concatenated input C_in×H×W",
            "x": [i for i, _ in dense],
            "y": [r.in_channels * r.in_hw[0] * r.in_hw[1] for _, r in dense],
            "mode": "markers",
            "marker": {"symbol": "line-ew-open", "size": 9, "color": "#6B7280"},
            "hovertext": [f"<b>{r.name}</b> reads {r.in_channels}×{r.in_hw[0]}×{r.in_hw[1]}" for _, r in dense],
            "hoverinfo": "text",
            "xaxis": "x2",
            "yaxis": "y2",
        }
    )
    top_shapes, top_notes = block_bands(plan, row=1)
    bottom_shapes, _ = block_bands(plan, row=2, labels=False)
    grid_json = grid(2, 1, shared_xaxes=True, vertical_spacing=0.08, row_heights=(0.35, 0.65))
    base = json.loads(grid_json)
    layout = frame(
        "Spatial size and activation volume",
        "inside a block every layer adds the same k×H×W volume; each transition halves H and W",
        height=640,
        top_extra=BAND_LABEL_PX,
    )
    layout |= {
        "shapes": top_shapes + bottom_shapes,
        "annotations": top_notes,
        "xaxis": {**base["xaxis"], **layer_ticks(plan, blocks=False)},
        "xaxis2": {**base["xaxis2"], **layer_ticks(plan, blocks=False), "title": {"text": "layers in forward order"}},
        "yaxis": {**base["yaxis"], "title": {"text": "H (pixels)"}, "rangemode": "tozero"},
        "yaxis2": {**base["yaxis2"], "title": {"text": "values per image"}, "type": "log"},
    }
    return figure(traces, layout, grid_json)
