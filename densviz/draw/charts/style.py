"""What every chart shares: frame, subplot grid, layer axis, block bands, bars, colours and hover text.

Rows are coloured and grouped by their :class:`~densviz.core.plan.Role`, never
by their names.
"""

from __future__ import annotations

import json
import textwrap
from functools import lru_cache
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from densviz.core.plan import ArchitecturePlan, LayerKind, LayerPlan, Role
from densviz.core.units import format_count, format_macs
from densviz.draw.palette import HEAD_COLOR, STEM_COLOR, TRANSITION_COLOR, block_color, tint

__all__ = [
    "BAND_LABEL_PX",
    "NBSP",
    "SUBPLOT_TITLE_PX",
    "SUBTITLE_CHARS",
    "TITLE_CHARS",
    "bar",
    "block_bands",
    "block_spans",
    "dense_layers",
    "figure",
    "frame",
    "grid",
    "hover_text",
    "layer_ticks",
    "legend_below",
    "row_color",
    "shape_text",
    "short_name",
    "title_block",
    "title_margin",
    "transitions",
    "wrap",
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


NBSP = "\u00a0"
"""Join words with this in a subtitle to keep them on one line; it is drawn as a plain space."""
TITLE_CHARS = 34
"""A title's most characters: a phone shows about this many of its 18 px font on one line."""
SUBTITLE_CHARS = 52
"""A subtitle line's most characters: a phone's chart is about 350 px wide, a subtitle character about 6.4 px."""
TITLE_LINE_PX = 23.7
"""One more line of the title block: plotly spaces lines by 1.3 × the title's font (1.4 × 13 px)."""
_TITLE_PAD_PX = 12
LEGEND_GAP_PX = 62
"""From the bottom of the plot area to the top of the legend: room for the tick labels and the axis title."""
LEGEND_ROW_PX = 26


def wrap(text: str, width: int = SUBTITLE_CHARS) -> list[str]:
    """``text`` in lines of at most ``width`` characters, never inside words joined by :data:`NBSP`."""
    lines = textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)
    return [line.replace(NBSP, " ") for line in lines]


def title_block(title: str, subtitle: str, height: int) -> tuple[dict[str, Any], int]:
    """The title (one line of at most :data:`TITLE_CHARS`) and its subtitle wrapped to a phone's width.

    plotly anchors a title of several lines by its first line's baseline, whatever its ``yanchor``:
    the block is placed from there, measured in Chromium (first line 17 px high, 14 px of it above
    the baseline; each further line 23.7 px).

    Args:
        title: One short line.
        subtitle: Wrapped at :data:`SUBTITLE_CHARS`; none when empty.
        height: The figure's height in px (the title is placed in px from its top).

    Returns:
        The layout's ``title``, its top :data:`_TITLE_PAD_PX` below the figure's, and the top margin it needs in px.
    """
    lines = [title, *(f"<sup>{line}</sup>" for line in wrap(subtitle))]
    above = 14 if len(lines) > 1 else 1
    placed = {
        "text": "<br>".join(lines),
        "x": 0,
        "xref": "container",
        "xanchor": "left",
        "y": 1 - (_TITLE_PAD_PX + above) / height,
        "yref": "container",
        "yanchor": "top",
        "pad": {"l": 12},
    }
    return placed, title_margin(title, subtitle)


def title_margin(title: str, subtitle: str) -> int:
    """The top margin, in px, that :func:`title_block`'s title and subtitle take, and 12 px under them."""
    lines = 1 + len(wrap(subtitle))
    block = 29 + TITLE_LINE_PX * (lines - 2) if lines > 1 else 17
    return round(_TITLE_PAD_PX + block + 12)


def legend_below(height: int, margin: dict[str, int]) -> dict[str, Any]:
    """A horizontal legend under the plot area, below the x axis's labels and title: it never covers a line.

    On a narrow screen it wraps into more rows, downwards; plotly widens the bottom margin to fit.
    """
    plot = max(height - margin["t"] - margin["b"], 1)
    return {
        "orientation": "h",
        "x": 0,
        "xanchor": "left",
        "y": -LEGEND_GAP_PX / plot,
        "yanchor": "top",
        "yref": "paper",
        "traceorder": "normal",
        "bgcolor": "rgba(0,0,0,0)",
    }


def frame(
    title: str, subtitle: str, height: int = 520, *, legend: bool = True, top_extra: int = 0, bottom: int = 60
) -> dict[str, Any]:
    """The layout every chart shares: template, font, title with subtitle, margins, the legend under the plot.

    Args:
        title: One short line.
        subtitle: Wrapped to a phone's width (:func:`wrap`); the top margin grows with its lines.
        height: The figure's height in px.
        legend: Whether the chart has a legend; it goes under the plot area, horizontal.
        top_extra: More top margin, in px (subplot titles above the top row).
        bottom: The bottom margin without a legend, in px (tick labels and the x axis's title).
    """
    block, top = title_block(title, subtitle, height)
    margin = {"l": 70, "r": 30, "t": top + top_extra, "b": bottom}
    if legend:
        margin["b"] = max(bottom, LEGEND_GAP_PX + LEGEND_ROW_PX + 10)
    layout: dict[str, Any] = {
        "template": _TEMPLATE,
        "font": _FONT,
        "title": block,
        "height": height,
        "margin": margin,
        "showlegend": legend,
        "hoverlabel": {"align": "left"},
    }
    if legend:
        layout["legend"] = legend_below(height, margin)
    return layout


@lru_cache(maxsize=8)
def grid(rows: int, cols: int, **kwargs: Any) -> str:
    """make_subplots' layout (axes domains, subplot titles) as JSON, computed once."""
    lists = {k: list(v) if isinstance(v, tuple) and k != "subplot_titles" else v for k, v in kwargs.items()}
    layout = make_subplots(rows=rows, cols=cols, **lists).layout
    layout.update(annotations=[{**a.to_plotly_json(), "font": {"size": 13}} for a in layout.annotations])
    return str(layout.to_json())


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


SUBPLOT_TITLE_PX = 22
"""Top margin a subplot grid's titles take above its top row."""
BAND_LABEL_PX = 20
"""Top margin the block bands' labels take above the plot area."""


def block_bands(
    plan: ArchitecturePlan, *, row: int = 1, labels: bool = True
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Shapes shading each dense block's span of the layer axis in its colour, and their labels.

    The labels are short (``B1``, the block's full name in their hover text) and sit just above the
    plot area, centred on their band: they cannot cover a bar or the axis titles, even on a phone,
    where DenseNet-264's first block is 12 px wide. Leave :data:`BAND_LABEL_PX` of top margin for them.
    """
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
                    "x": (first + last) / 2,
                    "y": 1,
                    "xanchor": "center",
                    "yanchor": "bottom",
                    "yshift": 2,
                    "text": f"B{s.index}",
                    "hovertext": f"dense block {s.index}: {s.layers} layers, {s.out_channels} channels out",
                    "showarrow": False,
                    "font": {"color": color, "size": 12},
                }
            )
    return shapes, notes


def layer_ticks(plan: ArchitecturePlan, *, blocks: bool = True) -> dict[str, Any]:
    """Short ticks on the layer axis: ``B1``… at each block's middle, or ``T1``… at each transition.

    Short so that they never run into each other on a phone (a 250 px wide plot of 140 layers);
    a chart whose bands are labelled (:func:`block_bands`) ticks the transitions instead.
    """
    if blocks:
        spans = block_spans(plan)
        ticks = [((spans[s.index][0] + spans[s.index][1]) / 2, f"B{s.index}") for s in plan.blocks]
    else:
        index = {r.name: i for i, r in enumerate(plan.layers)}
        ticks = [(float(index[t.name]), f"T{b}") for b, t in sorted(transitions(plan).items())]
    return {"tickvals": [t[0] for t in ticks], "ticktext": [t[1] for t in ticks], "tickangle": 0}


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
