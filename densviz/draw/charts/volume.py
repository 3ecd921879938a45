"""Charts 2 and 5: spatial size and activation volume per layer, and each stage's output as a 3-D box."""

from __future__ import annotations

import json
import math
from typing import Any

import plotly.graph_objects as go

from densviz.core.plan import ArchitecturePlan, Role
from densviz.core.units import format_bytes
from densviz.draw.charts.style import (
    bar,
    block_bands,
    figure,
    frame,
    grid,
    layer_ticks,
    row_color,
    shape_text,
    transitions,
)
from densviz.draw.palette import STEM_COLOR, TRANSITION_COLOR, block_color

__all__ = ["spatial_volume_figure", "volume_3d_figure"]


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
        height=620,
    )
    layout |= {
        "shapes": top_shapes + bottom_shapes,
        "annotations": top_notes,
        "xaxis": {**base["xaxis"], **layer_ticks(plan)},
        "xaxis2": {**base["xaxis2"], **layer_ticks(plan)},
        "yaxis": {**base["yaxis"], "title": {"text": "H (pixels)"}, "rangemode": "tozero"},
        "yaxis2": {**base["yaxis2"], "title": {"text": "values per image"}, "type": "log"},
    }
    return figure(traces, layout, grid_json)


def _box(x0: float, dx: float, dy: float, dz: float, color: str, name: str, hover: str) -> dict[str, Any]:
    """A box [x0, x0+dx] × [−dy/2, dy/2] × [−dz/2, dz/2] as 12 triangles."""
    xs = [x0, x0 + dx, x0 + dx, x0, x0, x0 + dx, x0 + dx, x0]
    ys = [-dy / 2, -dy / 2, dy / 2, dy / 2, -dy / 2, -dy / 2, dy / 2, dy / 2]
    zs = [-dz / 2] * 4 + [dz / 2] * 4
    i = [0, 0, 4, 4, 0, 0, 1, 1, 0, 0, 3, 3]
    j = [1, 2, 5, 6, 1, 5, 2, 6, 3, 7, 2, 6]
    k = [2, 3, 6, 7, 5, 4, 6, 5, 7, 4, 6, 7]
    return {
        "type": "mesh3d",
        "x": xs,
        "y": ys,
        "z": zs,
        "i": i,
        "j": j,
        "k": k,
        "color": color,
        "opacity": 0.9,
        "flatshading": True,
        "name": name,
        "hovertext": hover,
        "hoverinfo": "text",
        "showlegend": False,
    }


def _volume_stages(plan: ArchitecturePlan) -> list[tuple[str, str, int, tuple[int, int]]]:
    """(label, colour, channels, (height, width)) of the input and each stage's output."""
    cfg, spec = plan.config, plan.input
    stages: list[tuple[str, str, int, tuple[int, int]]] = [("input", "#9CA3AF", cfg.in_channels, spec.hw)]
    stem_last = plan.stem[-1]
    stages.append(("stem", STEM_COLOR, stem_last.out_channels, stem_last.out_hw))
    closing = transitions(plan)
    for s in plan.blocks:
        stages.append((f"block {s.index}", block_color(s.index), s.out_channels, s.hw))
        if s.index in closing:
            t = closing[s.index]
            stages.append((f"transition {s.index}", TRANSITION_COLOR, t.out_channels, t.out_hw))
    return stages


def volume_3d_figure(plan: ArchitecturePlan, *, log_scale: bool = True) -> go.Figure:
    """Chart 5: each stage's output as a box of C (along the network) × W × H.

    With ``log_scale`` (the default) each side is 1 + log₂ of its length, so
    that a 1024-channel 7×7 map and a 3-channel 224×224 image both stay
    visible; without it the proportions are true (long rods and flat plates).
    """
    stages = _volume_stages(plan)

    def side(v: int) -> float:
        return 1 + math.log2(v) if log_scale else float(v)

    traces: list[dict[str, Any]] = []
    gap = max(side(c) for _, _, c, _ in stages) * 0.25
    x = 0.0
    for name, color, channels, hw in stages:
        dx, dy, dz = side(channels), side(hw[1]), side(hw[0])
        hover = f"<b>{name}</b><br>{channels} × {hw[0]} × {hw[1]} = {channels * hw[0] * hw[1]:,} values"
        traces.append(_box(x, dx, dy, dz, color, f"{name}: {channels}×{hw[0]}×{hw[1]}", hover))
        traces.append(
            {
                "type": "scatter3d",
                "x": [x + dx / 2],
                "y": [0],
                "z": [dz / 2 + gap * 0.3],
                "mode": "text",
                "text": [f"{channels}×{hw[0]}×{hw[1]}"],
                "showlegend": False,
                "hoverinfo": "skip",
            }
        )
        x += dx + gap
    axis = {"showticklabels": False, "showgrid": False, "zeroline": False, "showbackground": False}
    scale = "log₂ scale: each side is 1 + log₂(length)" if log_scale else "true proportions"
    layout = frame(
        "Feature-map volumes",
        f"each stage's output C × H × W ({scale}); blocks widen C, transitions shrink C by θ and H, W by 2",
        height=600,
    )
    layout["scene"] = {
        "xaxis": {**axis, "title": {"text": "channels C →"}},
        "yaxis": {**axis, "title": {"text": ""}},
        "zaxis": {**axis, "title": {"text": ""}},
        "aspectmode": "data",
        "camera": {"eye": {"x": 0.6, "y": -1.8, "z": 0.9}, "projection": {"type": "orthographic"}},
    }
    return figure(traces, layout)
