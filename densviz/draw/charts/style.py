"""What every chart shares: frame, subplot grid, layer axis, block bands, bars, colours and hover text.

Rows are coloured and grouped by their :class:`~densviz.core.plan.Role`, never
by their names.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from densviz.core.plan import ArchitecturePlan, LayerKind, LayerPlan, Role
from densviz.core.units import format_count, format_macs
from densviz.draw.palette import HEAD_COLOR, STEM_COLOR, TRANSITION_COLOR, block_color, tint

__all__ = [
    "bar",
    "block_bands",
    "block_spans",
    "dense_layers",
    "figure",
    "frame",
    "grid",
    "hover_text",
    "layer_ticks",
    "row_color",
    "shape_text",
    "short_name",
    "transitions",
]

_TEMPLATE = "plotly_white"
_FONT = {"family": "Helvetica, Arial, sans-serif", "size": 13}


def row_color(row: LayerPlan) -> str:
    """A row's colour: its block's for a dense layer, else the transition, head or stem colour."""
    if row.role is Role.DENSE_LAYER:
        return block_color(row.block)
    if row.role is Role.TRANSITION:
        return TRANSITION_COLOR
    if row.role in (Role.FINAL_NORM, Role.CLASSIFIER):
        return HEAD_COLOR
    return STEM_COLOR


def dense_layers(plan: ArchitecturePlan, block: int) -> list[LayerPlan]:
    """The dense layers of block ``block`` (1-based), in order."""
    return [r for r in plan.with_role(Role.DENSE_LAYER) if r.block == block]


def transitions(plan: ArchitecturePlan) -> dict[int, LayerPlan]:
    """The transition rows, by the block each one closes."""
    return {r.block: r for r in plan.with_role(Role.TRANSITION) if r.block is not None}


def block_spans(plan: ArchitecturePlan) -> dict[int, tuple[int, int]]:
    """Each block's first and last dense layer, as positions in ``plan.layers``."""
    spans: dict[int, tuple[int, int]] = {}
    for i, r in enumerate(plan.layers):
        if r.role is Role.DENSE_LAYER and r.block is not None:
            spans[r.block] = (spans.get(r.block, (i, i))[0], i)
    return spans


def shape_text(row: LayerPlan) -> str:
    """A row's output shape, ``C×H×W`` (or ``C`` for the linear layer)."""
    if row.kind is LayerKind.LINEAR:
        return f"{row.out_channels}"
    return f"{row.out_channels}×{row.out_hw[0]}×{row.out_hw[1]}"


def short_name(name: str) -> str:
    """``features.denseblock3.denselayer7`` -> ``block3.layer7``."""
    return name.removeprefix("features.").replace("denseblock", "block").replace("denselayer", "layer")


def hover_text(row: LayerPlan) -> str:
    """A row's hover text: module path, channels, output shape, parameters and MACs."""
    return (
        f"<b>{row.name}</b><br>{row.kind.value}: {row.in_channels} → {row.out_channels} channels"
        f"<br>output {shape_text(row)}<br>{format_count(row.params)} params · {format_macs(row.macs)}"
    )


def frame(title: str, subtitle: str, height: int = 520) -> dict[str, Any]:
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
def grid(rows: int, cols: int, **kwargs: Any) -> str:
    """make_subplots' layout (axes domains, subplot titles) as JSON, computed once."""
    lists = {k: list(v) if isinstance(v, tuple) and k != "subplot_titles" else v for k, v in kwargs.items()}
    return str(make_subplots(rows=rows, cols=cols, **lists).layout.to_json())


def figure(traces: list[dict[str, Any]], layout: dict[str, Any], grid_json: str | None = None) -> go.Figure:
    """Build the figure in one go from plain dicts, on the subplot layout ``grid_json`` (from :func:`grid`) if given.

    Plotly validates a figure on every ``add_*``/``update_*`` call; composing
    dicts and validating once made the growth charts 5× faster (0.2 s → 0.04 s).
    """
    full = json.loads(grid_json) if grid_json else {}
    extra_notes = layout.pop("annotations", [])
    full.update(layout)
    full["annotations"] = [*full.get("annotations", []), *extra_notes]
    return go.Figure({"data": traces, "layout": full})


def _axis(n: int, letter: str) -> str:
    return letter if n == 1 else f"{letter}{n}"


def block_bands(
    plan: ArchitecturePlan, *, row: int = 1, labels: bool = True
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Shapes shading each dense block's span of the layer axis in its colour, and their labels."""
    spans = block_spans(plan)
    xref, yref = _axis(row, "x"), f"{_axis(row, 'y')} domain"
    shapes: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    for s in plan.blocks:
        first, last = spans[s.index]
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


def layer_ticks(plan: ArchitecturePlan) -> dict[str, Any]:
    """Tick at each block's middle and each transition, instead of 100+ names."""
    index = {r.name: i for i, r in enumerate(plan.layers)}
    spans = block_spans(plan)
    closing = transitions(plan)
    ticks: list[tuple[float, str]] = [(0, "stem")]
    for s in plan.blocks:
        first, last = spans[s.index]
        ticks.append(((first + last) / 2, f"block {s.index}"))
        if s.index in closing:
            ticks.append((index[closing[s.index].name], f"T{s.index}"))
    ticks.append((index[plan.classifier.name], "head"))
    return {"tickvals": [t[0] for t in ticks], "ticktext": [t[1] for t in ticks]}


def bar(
    name: str, xs: list[int], ys: list[Any], colors: list[str] | str, hover: list[str], **extra: Any
) -> dict[str, Any]:
    """A bar trace as a plain dict, hover text from ``hover``; ``extra`` keys are added as they are."""
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
