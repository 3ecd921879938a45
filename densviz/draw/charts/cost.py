"""Chart 3, cost: parameters and MACs per layer and per stage (stem, each block, each transition, head)."""

from __future__ import annotations

import json
from typing import Any

import plotly.graph_objects as go

from densviz.core.plan import ArchitecturePlan, LayerPlan
from densviz.core.units import format_count, format_macs
from densviz.draw.charts.style import (
    NBSP,
    SUBPLOT_TITLE_PX,
    bar,
    dense_layers,
    figure,
    frame,
    grid,
    hover_text,
    layer_ticks,
    row_color,
    transitions,
)
from densviz.draw.palette import HEAD_COLOR, STEM_COLOR, TRANSITION_COLOR, block_color

__all__ = ["cost_figure"]


def _stages(plan: ArchitecturePlan) -> list[tuple[str, str, str, list[LayerPlan]]]:
    """(short label, name, colour, rows) for the stem, each block (``B1``), each transition (``T1``) and the head."""
    stages: list[tuple[str, str, str, list[LayerPlan]]] = [("stem", "stem", STEM_COLOR, list(plan.stem))]
    closing = transitions(plan)
    for s in plan.blocks:
        stages.append((f"B{s.index}", f"block {s.index}", block_color(s.index), dense_layers(plan, s.index)))
        if s.index in closing:
            stages.append((f"T{s.index}", f"transition {s.index}", TRANSITION_COLOR, [closing[s.index]]))
    stages.append(("head", "head", HEAD_COLOR, [plan.final_norm, plan.classifier]))
    return stages


def _stage_bar(labels: list[str], ys: list[int], colors: list[str], hover: list[str], axes: str) -> dict[str, Any]:
    """One bar per stage, without a legend entry, on axes ``x<axes>``/``y<axes>``."""
    return {
        "type": "bar",
        "x": labels,
        "y": ys,
        "marker": {"color": colors},
        "showlegend": False,
        "hovertext": hover,
        "hoverinfo": "text",
        "xaxis": f"x{axes}",
        "yaxis": f"y{axes}",
    }


def cost_figure(plan: ArchitecturePlan) -> go.Figure:
    """Chart 3: parameters and MACs per layer and per stage."""
    rows = plan.layers
    xs = list(range(len(rows)))
    colors = [row_color(r) for r in rows]
    hover = [hover_text(r) for r in rows]
    stages = _stages(plan)
    labels = [st[0] for st in stages]
    names = [st[1] for st in stages]
    params = [sum(r.params for r in st[3]) for st in stages]
    macs = [sum(r.macs for r in st[3]) for st in stages]
    stage_colors = [st[2] for st in stages]
    traces = [
        bar("parameters", xs, [r.params for r in rows], colors, hover, showlegend=False, xaxis="x", yaxis="y"),
        bar("MACs", xs, [r.macs for r in rows], colors, hover, showlegend=False, xaxis="x3", yaxis="y3"),
        _stage_bar(
            labels, params, stage_colors, [f"{n}: {p:,} params" for n, p in zip(names, params, strict=True)], "2"
        ),
        _stage_bar(
            labels, macs, stage_colors, [f"{n}: {format_macs(m)}" for n, m in zip(names, macs, strict=True)], "4"
        ),
    ]
    grid_json = grid(
        2,
        2,
        column_widths=(0.7, 0.3),
        vertical_spacing=0.16,
        horizontal_spacing=0.12,
        subplot_titles=("parameters per layer", "per stage", "MACs per layer (per image)", "per stage"),
    )
    base = json.loads(grid_json)
    t = plan.totals
    layout = frame(
        "Parameters and MACs",
        f"total {format_count(t.params)} parameters, {format_macs(t.macs)} per image "
        f"(convolutions and linear, no bias or BN; FLOPs{NBSP}={NBSP}2·MACs)",
        height=640,
        legend=False,
        top_extra=SUBPLOT_TITLE_PX,
    )
    layout |= {
        "xaxis": {**base["xaxis"], **layer_ticks(plan)},
        "xaxis3": {**base["xaxis3"], **layer_ticks(plan)},
        "yaxis": {**base["yaxis"], "title": {"text": "parameters"}},
        "yaxis3": {**base["yaxis3"], "title": {"text": "MACs"}},
    }
    return figure(traces, layout, grid_json)
