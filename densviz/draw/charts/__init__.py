"""Plotly figures of a plan: how a DenseNet's feature maps grow, and what they cost.

Every figure draws only the plan's numbers (no torch), colours each dense
block as the graph does (:mod:`densviz.draw.palette`), labels its axes with units
and carries the full module path and shape in its hover text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from enum import StrEnum
from functools import lru_cache
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from densviz.core.config import ConfigError
from densviz.core.plan import ArchitecturePlan, LayerKind, LayerPlan
from densviz.core.units import format_bytes, format_count, format_macs
from densviz.draw.palette import HEAD_COLOR, STEM_COLOR, TRANSITION_COLOR, block_color, tint

__all__ = [
    "CHARTS",
    "ChartKind",
    "adjacency_figure",
    "channel_growth_figure",
    "cost_figure",
    "growth_overlay_figure",
    "make_chart",
    "memory_figure",
    "spatial_volume_figure",
    "volume_3d_figure",
]

_MIB = float(1 << 20)
_TEMPLATE = "plotly_white"
_FONT = {"family": "Helvetica, Arial, sans-serif", "size": 13}


class ChartKind(StrEnum):
    """The charts densviz draws, by the name their files get."""

    CHANNELS = "channels"
    VOLUME = "volume"
    COST = "cost"
    CONNECTIVITY = "connectivity"
    VOLUME_3D = "volume3d"
    MEMORY = "memory"


def _row_color(row: LayerPlan) -> str:
    if row.kind is LayerKind.DENSE_LAYER:
        return block_color(row.block)
    if row.kind is LayerKind.TRANSITION:
        return TRANSITION_COLOR
    if row.kind is LayerKind.LINEAR or row.name == "features.norm5":
        return HEAD_COLOR
    return STEM_COLOR


def _shape(row: LayerPlan) -> str:
    if row.kind is LayerKind.LINEAR:
        return f"{row.out_channels}"
    return f"{row.out_channels}×{row.out_hw[0]}×{row.out_hw[1]}"


def _short(name: str) -> str:
    """``features.denseblock3.denselayer7`` -> ``block3.layer7``."""
    return name.removeprefix("features.").replace("denseblock", "block").replace("denselayer", "layer")


def _hover(row: LayerPlan) -> str:
    return (
        f"<b>{row.name}</b><br>{row.kind.value}: {row.in_channels} → {row.out_channels} channels"
        f"<br>output {_shape(row)}<br>{format_count(row.params)} params · {format_macs(row.macs)}"
    )


def _frame(title: str, subtitle: str, height: int = 520) -> dict[str, Any]:
    """The layout every chart shares: template, font, title with subtitle, legend."""
    return {
        "template": _TEMPLATE,
        "font": _FONT,
        "title": {"text": f"{title}<br><sup>{subtitle}</sup>", "x": 0.01, "xanchor": "left"},
        "height": height,
        "margin": {"l": 70, "r": 30, "t": 90, "b": 60},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        "hoverlabel": {"align": "left"},
    }


@lru_cache(maxsize=8)
def _grid(rows: int, cols: int, **kwargs: Any) -> str:
    """make_subplots' layout (axes domains, subplot titles) as JSON, computed once."""
    lists = {k: list(v) if isinstance(v, tuple) and k != "subplot_titles" else v for k, v in kwargs.items()}
    return str(make_subplots(rows=rows, cols=cols, **lists).layout.to_json())


def _figure(traces: list[dict[str, Any]], layout: dict[str, Any], grid: str | None = None) -> go.Figure:
    """Build the figure in one go from plain dicts.

    Plotly validates a figure on every ``add_*``/``update_*`` call; composing
    dicts and validating once made the growth charts 5× faster (0.2 s → 0.04 s).
    """
    full = json.loads(grid) if grid else {}
    extra_notes = layout.pop("annotations", [])
    full.update(layout)
    full["annotations"] = [*full.get("annotations", []), *extra_notes]
    return go.Figure({"data": traces, "layout": full})


def _axis(n: int, letter: str) -> str:
    return letter if n == 1 else f"{letter}{n}"


def _block_bands(
    plan: ArchitecturePlan, *, row: int = 1, labels: bool = True
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Shapes shading each dense block's span of the layer axis in its colour, and their labels."""
    index = {r.name: i for i, r in enumerate(plan.layers)}
    xref, yref = _axis(row, "x"), f"{_axis(row, 'y')} domain"
    shapes: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    for s in plan.blocks:
        first = index[f"{s.name}.denselayer1"]
        last = index[f"{s.name}.denselayer{s.layers}"]
        color = block_color(s.index)
        shapes.append(
            {
                "type": "rect",
                "xref": xref,
                "yref": yref,
                "x0": first - 0.5,
                "x1": last + 0.5,
                "y0": 0,
                "y1": 1,
                "fillcolor": tint(color, 0.75),
                "opacity": 0.35,
                "line": {"width": 0},
                "layer": "below",
            }
        )
        if labels:
            notes.append(
                {
                    "xref": xref,
                    "yref": yref,
                    "x": first - 0.5,
                    "y": 1,
                    "xanchor": "left",
                    "yanchor": "top",
                    "text": f"block {s.index}",
                    "showarrow": False,
                    "font": {"color": color},
                }
            )
    return shapes, notes


def _layer_ticks(plan: ArchitecturePlan) -> dict[str, Any]:
    """Tick at each block's middle and each transition, instead of 100+ names."""
    index = {r.name: i for i, r in enumerate(plan.layers)}
    ticks: list[tuple[float, str]] = [(0, "stem")]
    for s in plan.blocks:
        first, last = index[f"{s.name}.denselayer1"], index[f"{s.name}.denselayer{s.layers}"]
        ticks.append(((first + last) / 2, f"block {s.index}"))
        if s.transition_channels is not None:
            ticks.append((index[f"features.transition{s.index}"], f"T{s.index}"))
    ticks.append((len(plan.layers) - 1, "head"))
    return {"tickvals": [t[0] for t in ticks], "ticktext": [t[1] for t in ticks]}


def _bar(
    name: str, xs: list[int], ys: list[Any], colors: list[str] | str, hover: list[str], **extra: Any
) -> dict[str, Any]:
    return {
        "type": "bar",
        "name": name,
        "x": xs,
        "y": ys,
        "marker": {"color": colors},
        "hovertext": hover,
        "hoverinfo": "text",
        **extra,
    }


def channel_growth_figure(plan: ArchitecturePlan) -> go.Figure:
    """Chart 1: channels per layer, k₀ + k·(ℓ−1) read and k added, θ at each transition."""
    rows = plan.layers
    dense = [i for i, r in enumerate(rows) if r.kind is LayerKind.DENSE_LAYER]
    other = [i for i, r in enumerate(rows) if r.kind is not LayerKind.DENSE_LAYER]
    traces = [
        _bar(
            "concatenated input k₀ + k·(ℓ−1)",
            dense,
            [rows[i].in_channels for i in dense],
            [tint(block_color(rows[i].block), 0.55) for i in dense],
            [_hover(rows[i]) for i in dense],
        ),
        _bar(
            f"new maps (k = {plan.config.growth_rate})",
            dense,
            [rows[i].out_channels for i in dense],
            [block_color(rows[i].block) for i in dense],
            [_hover(rows[i]) for i in dense],
        ),
        _bar(
            "output channels (stem, transitions, head)",
            other,
            [rows[i].out_channels for i in other],
            [_row_color(rows[i]) for i in other],
            [_hover(rows[i]) for i in other],
        ),
    ]
    shapes, notes = _block_bands(plan)
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
        }
        for i, r in enumerate(rows)
        if r.kind is LayerKind.TRANSITION
    ]
    k = plan.config.growth_rate
    layout = _frame(
        "Channel growth",
        f"inside a block layer ℓ reads k₀ + k·(ℓ−1) channels and adds k = {k}; each transition keeps ⌊θ·m⌋",
    )
    layout |= {
        "barmode": "stack",
        "bargap": 0.08,
        "shapes": shapes,
        "annotations": notes,
        "xaxis": {"title": {"text": "layers in forward order"}, **_layer_ticks(plan)},
        "yaxis": {"title": {"text": "channels"}},
    }
    return _figure(traces, layout)


def spatial_volume_figure(plan: ArchitecturePlan) -> go.Figure:
    """Chart 2: H×W per layer, and the activation volume C×H×W (elements and bytes)."""
    rows = plan.layers[:-1]  # the classifier has no spatial size
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
        f"<b>{r.name}</b><br>{_shape(r)} = {v:,} values per image<br>{format_bytes(r.output_bytes)} at batch {n} (float32)"
        for r, v in zip(rows, volumes, strict=True)
    ]
    traces.append(
        _bar("output volume C×H×W", xs, volumes, [_row_color(r) for r in rows], hover, xaxis="x2", yaxis="y2")
    )
    dense = [(i, r) for i, r in enumerate(rows) if r.kind is LayerKind.DENSE_LAYER]
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
    top_shapes, top_notes = _block_bands(plan, row=1)
    bottom_shapes, _ = _block_bands(plan, row=2, labels=False)
    grid = _grid(2, 1, shared_xaxes=True, vertical_spacing=0.08, row_heights=(0.35, 0.65))
    base = json.loads(grid)
    layout = _frame(
        "Spatial size and activation volume",
        "inside a block every layer adds the same k×H×W volume; each transition halves H and W",
        height=620,
    )
    layout |= {
        "shapes": top_shapes + bottom_shapes,
        "annotations": top_notes,
        "xaxis": {**base["xaxis"], **_layer_ticks(plan)},
        "xaxis2": {**base["xaxis2"], **_layer_ticks(plan)},
        "yaxis": {**base["yaxis"], "title": {"text": "H (pixels)"}, "rangemode": "tozero"},
        "yaxis2": {**base["yaxis2"], "title": {"text": "values per image"}, "type": "log"},
    }
    return _figure(traces, layout, grid)


def _stages(plan: ArchitecturePlan) -> list[tuple[str, str, list[LayerPlan]]]:
    """(label, colour, rows) for the stem, each block, each transition and the head."""
    stages: list[tuple[str, str, list[LayerPlan]]] = [
        (
            "stem",
            STEM_COLOR,
            list(plan.stem),
        )
    ]
    for s in plan.blocks:
        stages.append(
            (
                f"block {s.index}",
                block_color(s.index),
                [r for r in plan.layers if r.block == s.index and r.kind is LayerKind.DENSE_LAYER],
            )
        )
        if s.transition_channels is not None:
            stages.append((f"transition {s.index}", TRANSITION_COLOR, [plan[f"features.transition{s.index}"]]))
    stages.append(("head", HEAD_COLOR, [plan["features.norm5"], plan["classifier"]]))
    return stages


def cost_figure(plan: ArchitecturePlan) -> go.Figure:
    """Chart 3: parameters and MACs per layer and per stage."""
    rows = plan.layers
    xs = list(range(len(rows)))
    colors = [_row_color(r) for r in rows]
    hover = [_hover(r) for r in rows]
    stages = _stages(plan)
    labels = [st[0] for st in stages]
    params = [sum(r.params for r in st[2]) for st in stages]
    macs = [sum(r.macs for r in st[2]) for st in stages]
    stage_colors = [st[1] for st in stages]
    traces = [
        _bar("parameters", xs, [r.params for r in rows], colors, hover, showlegend=False, xaxis="x", yaxis="y"),
        _bar("MACs", xs, [r.macs for r in rows], colors, hover, showlegend=False, xaxis="x3", yaxis="y3"),
        {
            "type": "bar",
            "x": labels,
            "y": params,
            "marker": {"color": stage_colors},
            "showlegend": False,
            "hovertext": [f"{lbl}: {p:,} params" for lbl, p in zip(labels, params, strict=True)],
            "hoverinfo": "text",
            "xaxis": "x2",
            "yaxis": "y2",
        },
        {
            "type": "bar",
            "x": labels,
            "y": macs,
            "marker": {"color": stage_colors},
            "showlegend": False,
            "hovertext": [f"{lbl}: {format_macs(m)}" for lbl, m in zip(labels, macs, strict=True)],
            "hoverinfo": "text",
            "xaxis": "x4",
            "yaxis": "y4",
        },
    ]
    grid = _grid(
        2,
        2,
        column_widths=(0.7, 0.3),
        vertical_spacing=0.14,
        horizontal_spacing=0.08,
        subplot_titles=("parameters per layer", "parameters per stage", "MACs per layer (per image)", "MACs per stage"),
    )
    base = json.loads(grid)
    t = plan.totals
    layout = _frame(
        "Parameters and MACs",
        f"total {format_count(t.params)} parameters, {format_macs(t.macs)} per image (convolutions and linear, no bias or BN; FLOPs = 2·MACs)",
        height=640,
    )
    layout |= {
        "xaxis": {**base["xaxis"], **_layer_ticks(plan)},
        "xaxis3": {**base["xaxis3"], **_layer_ticks(plan)},
        "yaxis": {**base["yaxis"], "title": {"text": "parameters"}},
        "yaxis3": {**base["yaxis3"], "title": {"text": "MACs"}},
    }
    return _figure(traces, layout, grid)


def adjacency_figure(plan: ArchitecturePlan, block: int | None = None) -> go.Figure:
    """Chart 4: which layer reads which earlier output, coloured by the channels it contributes.

    Rows are consumers (dense layers, transitions, ``features.norm5``), columns
    producers; a block of L layers fills a triangle of L(L+1)/2 + L + 1 cells.
    """
    if block is not None and not 1 <= block <= len(plan.blocks):
        raise ConfigError("block", block, f"a block number from 1 to {len(plan.blocks)}")
    consumers = [r for r in plan.layers if len(r.inputs) > 1 or r.kind is LayerKind.DENSE_LAYER]
    if block is not None:
        consumers = [
            r for r in consumers if r.block == block or (r.name == "features.norm5" and block == len(plan.blocks))
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
        "x": [_short(p) for p in producers],
        "y": [_short(c.name) for c in consumers],
        "text": text,
        "hoverinfo": "text",
        "colorscale": "Viridis",
        "colorbar": {"title": {"text": "channels"}},
        "xgap": 1 if len(producers) <= 60 else 0,
        "ygap": 1 if len(consumers) <= 60 else 0,
    }
    edges = sum(len(r.inputs) for r in consumers)
    scope = f"dense block {block}" if block else "every dense block"
    side = max(520, min(1400, 14 * len(consumers) + 200))
    layout = _frame(
        "Concatenation adjacency",
        f"{scope}: {edges:,} connections; each layer reads the block input and every earlier layer",
        height=side,
    )
    layout |= {
        "yaxis": {"autorange": "reversed", "title": {"text": "consumer (reads)"}, "showgrid": False},
        "xaxis": {"title": {"text": "producer (its output is concatenated)"}, "tickangle": -60, "showgrid": False},
    }
    return _figure([heat], layout)


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


def volume_3d_figure(plan: ArchitecturePlan, *, log_scale: bool = True) -> go.Figure:
    """Chart 5: each stage's output as a box of C (along the network) × W × H.

    With ``log_scale`` (the default) each side is 1 + log₂ of its length, so
    that a 1024-channel 7×7 map and a 3-channel 224×224 image both stay
    visible; without it the proportions are true (long rods and flat plates).
    """
    cfg, spec = plan.config, plan.input
    stages: list[tuple[str, str, int, tuple[int, int]]] = [("input", "#9CA3AF", cfg.in_channels, spec.hw)]
    stem_last = plan.stem[-1]
    stages.append(("stem", STEM_COLOR, stem_last.out_channels, stem_last.out_hw))
    for s in plan.blocks:
        stages.append((f"block {s.index}", block_color(s.index), s.out_channels, s.hw))
        if s.transition_channels is not None:
            t = plan[f"features.transition{s.index}"]
            stages.append((f"transition {s.index}", TRANSITION_COLOR, t.out_channels, t.out_hw))

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
    layout = _frame(
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
    return _figure(traces, layout)


def memory_figure(plan: ArchitecturePlan) -> go.Figure:
    """Chart 6: memory per layer: inference activations, and training naive vs memory-efficient."""
    mem = plan.memory
    rows = mem.layers
    xs = list(range(len(rows)))
    n = plan.input.batch
    traces: list[dict[str, Any]] = [
        _bar(
            "alive in inference",
            xs,
            [r.live_bytes / _MIB for r in rows],
            [_row_color(r) for r in plan.layers],
            [f"<b>{r.name}</b><br>{format_bytes(r.live_bytes)} alive" for r in rows],
            showlegend=False,
            xaxis="x",
            yaxis="y",
        )
    ]
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
        for r in rows:
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
    grid = _grid(
        2,
        1,
        shared_xaxes=True,
        vertical_spacing=0.12,
        subplot_titles=(
            "inference: activations alive while each layer runs",
            "training step: activations kept for the backward pass, cumulative",
        ),
    )
    base = json.loads(grid)
    shapes, _ = _block_bands(plan, row=2, labels=False)
    layout = _frame(
        "Memory per layer",
        f"float32, batch {n}; inference peak {format_bytes(mem.inference_peak_bytes)}; naive layers keep every concatenation "
        "(quadratic in block length), memory-efficient ones recompute them (arXiv 1707.06990)",
        height=640,
    )
    layout |= {
        "shapes": shapes,
        "xaxis": {**base["xaxis"], **_layer_ticks(plan)},
        "xaxis2": {**base["xaxis2"], **_layer_ticks(plan)},
        "yaxis": {**base["yaxis"], "title": {"text": "MiB"}},
        "yaxis2": {**base["yaxis2"], "title": {"text": "MiB"}},
        "legend": {
            "orientation": "v",
            "x": 0.01,
            "xanchor": "left",
            "y": 0.42,
            "yanchor": "top",
            "bgcolor": "rgba(255,255,255,0.75)",
        },
    }
    return _figure(traces, layout, grid)


CHARTS: dict[ChartKind, Callable[[ArchitecturePlan], go.Figure]] = {
    ChartKind.CHANNELS: channel_growth_figure,
    ChartKind.VOLUME: spatial_volume_figure,
    ChartKind.COST: cost_figure,
    ChartKind.CONNECTIVITY: adjacency_figure,
    ChartKind.VOLUME_3D: volume_3d_figure,
    ChartKind.MEMORY: memory_figure,
}


def growth_overlay_figure(designs: list[tuple[str, ArchitecturePlan]]) -> go.Figure:
    """Two (or more) designs' channel growth on one axis: channels after each layer, in forward order.

    Inside a block the curve climbs by k per layer (the running concatenation,
    k₀ + k·ℓ after layer ℓ); a transition drops it to ⌊θ·m⌋.
    """
    colors = ("#4E79A7", "#F28E2B", "#59A14F", "#E15759")
    traces: list[dict[str, Any]] = []
    for n, (label, plan) in enumerate(designs):
        xs: list[int] = []
        ys: list[int] = []
        hover: list[str] = []
        for r in plan.layers:
            if r.kind is LayerKind.DENSE_LAYER:
                channels = r.in_channels + r.out_channels
            elif r.kind is LayerKind.TRANSITION or (r.block is None and r.kind is LayerKind.CONV and not xs):
                channels = r.out_channels
            else:
                continue
            xs.append(len(xs))
            ys.append(channels)
            hover.append(f"<b>{label}</b><br>{_short(r.name)}<br>{channels} channels at {r.out_hw[0]}×{r.out_hw[1]}")
        traces.append(
            {
                "type": "scatter",
                "x": xs,
                "y": ys,
                "name": label,
                "mode": "lines+markers",
                "line": {"shape": "hv", "color": colors[n % len(colors)], "width": 2.5},
                "marker": {"size": 4},
                "hovertext": hover,
                "hoverinfo": "text",
            }
        )
    layout = _frame(
        "Channel growth, side by side",
        "channels after each layer: +k per dense layer, ⌊θ·m⌋ after each transition",
        height=420,
    )
    layout |= {
        "xaxis": {"title": {"text": "layers in forward order (stem, dense layers, transitions)"}},
        "yaxis": {"title": {"text": "channels"}, "rangemode": "tozero"},
    }
    return _figure(traces, layout)


def make_chart(plan: ArchitecturePlan, kind: ChartKind | str) -> go.Figure:
    """Build one chart by name.

    Raises:
        ConfigError: for an unknown chart name.
    """
    try:
        kind = ChartKind(kind)
    except ValueError:
        raise ConfigError("chart", kind, "one of " + ", ".join(c.value for c in ChartKind)) from None
    return CHARTS[kind](plan)
