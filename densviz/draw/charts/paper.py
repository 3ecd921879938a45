"""The paper's charts with your design on them: published error against published size.

Three figures, each laid out as the paper's Figure 3 (DenseNets and ResNets as
two marked series, every point labelled, error against size):

* :func:`paper_params_figure`: Table 2's error on C10+ (or C100+, SVHN…)
  against parameters as published, log-x.
* :func:`paper_macs_figure`: the same error against MACs per image for the
  DenseNet presets, whose MACs densviz's plan computes; the ResNets' MACs are
  not published there, so they are left off rather than guessed.
* :func:`imagenet_params_figure`: torchvision's ImageNet top-1 error
  (100 − acc@1) against its exact parameter counts, log-x.

The current design is a dashed vertical line at its size, labelled
"your design: 1.02 M": its error is unknown and is never drawn as a point.
Every number comes from :mod:`densviz.core.published`, which says where each
one is printed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any

import plotly.graph_objects as go

from densviz.core.config import PRESETS, ConfigError
from densviz.core.plan import make_plan
from densviz.core.published import COLUMNS, ERROR_COLUMNS, Family, PublishedRow, rows_with
from densviz.core.units import format_count, format_macs
from densviz.draw.charts.style import BAND_LABEL_PX, NBSP, figure, frame
from densviz.draw.palette import HEAD_COLOR

__all__ = ["DESIGN_LABEL", "imagenet_params_figure", "paper_macs_figure", "paper_params_figure", "preset_macs"]

DESIGN_LABEL = "your design"
"""The design line's label, before its size."""
_FAMILY_STYLE: dict[Family, tuple[str, str]] = {
    Family.DENSENET: ("#E15759", "circle"),
    Family.RESNET: ("#4E79A7", "square"),
}
_HEIGHT = 520
_X_PAD = 0.08
"""Room left and right of the outermost points and the design line, as a share of the log-x span."""
_Y_PAD = 0.14
"""Room above and below the points for their labels, as a share of the error span."""


@dataclass(frozen=True)
class _Point:
    """One published row placed on a chart."""

    row: PublishedRow
    x: float
    y: float
    hover: str


@cache
def preset_macs(name: str) -> int:
    """MACs per image of preset ``name`` at its published input, from densviz's plan."""
    preset = PRESETS[name]
    return make_plan(preset.config, preset.input).totals.macs


def _hover(row: PublishedRow, column: str, size: str) -> str:
    """A point's hover text: the model as published, its size, its result, and where each is printed."""
    result = row.results[column]
    lines = [
        f"<b>{row.model}</b>, L={row.depth}" + (f", k={row.k}" if row.k is not None else ""),
        size,
        f"top-1 error {row.error(column)}% = 100 − acc@1 {result.text}% ({result.source})"
        if column == "acc@1"
        else f"{column} error {result.text}% ({result.source})",
    ]
    if row.cites:
        lines.append(f"from {row.cites}")
    if row.preset:
        lines.append(f"densviz preset: {row.preset}")
    return "<br>".join(lines)


_SCREENS = ((290.0, 300.0, 1.0), (1000.0, 330.0, 3.0))
"""The plot areas, in px, that label placement weighs: a phone's and (three times as much) a laptop's."""
_CANDIDATES = ("top center", "bottom center", "middle right", "middle left")


def _label_box(x: float, y: float, text: str, where: str) -> tuple[float, float, float, float]:
    """The box (left, bottom, right, top), in px, that ``text`` takes at ``where`` around a marker at ``(x, y)``."""
    w, h, gap = 6.2 * len(text), 13.0, 7.0
    if where == "top center":
        return x - w / 2, y + gap, x + w / 2, y + gap + h
    if where == "bottom center":
        return x - w / 2, y - gap - h, x + w / 2, y - gap
    if where == "middle right":
        return x + gap, y - h / 2, x + gap + w, y + h / 2
    return x - gap - w, y - h / 2, x - gap, y + h / 2


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """The area two boxes share, in px²."""
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


class _Canvas:
    """The points in px on one screen, and the label boxes placed there so far."""

    def __init__(
        self,
        points: list[_Point],
        ranges: tuple[list[float], list[float]],
        design: float | None,
        screen: tuple[float, float],
    ):
        (x0, x1), (y0, y1) = ranges
        self.width, height = screen
        self.centres = [
            ((math.log10(p.x) - x0) / (x1 - x0) * self.width, (p.y - y0) / (y1 - y0) * height) for p in points
        ]
        self.markers = [(x - 6, y - 6, x + 6, y + 6) for x, y in self.centres]
        u = (math.log10(design) - x0) / (x1 - x0) * self.width if design and design > 0 else -1e9
        self.line = (u - 2, 0.0, u + 2, height)
        self.placed: list[tuple[float, float, float, float]] = []

    def box(self, i: int, text: str, where: str) -> tuple[float, float, float, float]:
        """Point ``i``'s label box at ``where``."""
        return _label_box(*self.centres[i], text, where)

    def cost(self, i: int, text: str, where: str) -> float:
        """How much point ``i``'s label at ``where`` covers: markers (worst), labels, the design line, the edges."""
        box = self.box(i, text, where)
        outside = max(0.0, -box[0]) + max(0.0, box[2] - self.width)
        hidden = 2 * sum(_overlap(box, m) for j, m in enumerate(self.markers) if j != i)
        crossed = 0.3 * _overlap(box, self.line)  # the dashed line shows through a label
        return hidden + sum(_overlap(box, b) for b in self.placed) + crossed + 13.0 * outside


def _label_positions(
    points: list[_Point], x_range: list[float], y_range: list[float], design: float | None
) -> list[str]:
    """Where each point's label goes: above it, else below, right or left, whichever covers least.

    Greedy, in order of size: a label should cover no marker, no label placed before it and not
    the design's line at ``design``, nor run out of the plot sideways, on a phone and on a laptop
    (:data:`_SCREENS`). Where points crowd a phone, labels may still touch; the hover text says the same.
    """
    canvases = [(_Canvas(points, (x_range, y_range), design, (w, h)), weight) for w, h, weight in _SCREENS]
    positions = [""] * len(points)
    for i in sorted(range(len(points)), key=lambda i: points[i].x):
        text = points[i].row.short
        scores = [(sum(c.cost(i, text, where) * wt for c, wt in canvases), n) for n, where in enumerate(_CANDIDATES)]
        positions[i] = _CANDIDATES[min(scores)[1]]
        for c, _ in canvases:
            c.placed.append(c.box(i, text, positions[i]))
    return positions


def _log_ticks(x_range: list[float]) -> dict[str, Any]:
    """Ticks at 1, 2, 3, 5, or 1, 2, 5, or 1 times powers of ten (fewer on a longer axis), written 1M, 20M, 1G.

    At most about eight, so that a phone's 290 px axis need not tilt them.
    """
    lo, hi = x_range
    span = hi - lo
    mantissas: tuple[int, ...] = (1, 2, 3, 5) if span < 1.6 else (1, 2, 5) if span < 2.4 else (1,)
    values = [m * 10.0**e for e in range(math.floor(lo), math.ceil(hi) + 1) for m in mantissas]
    values = [v for v in values if lo <= math.log10(v) <= hi]
    return {"tickvals": values, "ticktext": [_short(v) for v in values]}


def _short(v: float) -> str:
    """``2e7`` -> ``"20M"``, ``5e8`` -> ``"500M"``, ``1e9`` -> ``"1G"``."""
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= scale:
            return f"{v / scale:g}{prefix}"
    return f"{v:g}"


def _family_traces(
    points: list[_Point], ranges: tuple[list[float], list[float]], design: float | None, lines: bool
) -> list[dict[str, Any]]:
    """One marked, labelled series per family, DenseNet first, points in order of size; ``ranges`` are the axes'."""
    positions = dict(zip((id(p) for p in points), _label_positions(points, *ranges, design), strict=True))
    traces: list[dict[str, Any]] = []
    for family, (color, symbol) in _FAMILY_STYLE.items():
        mine = sorted((p for p in points if p.row.family is family), key=lambda p: p.x)
        if not mine:
            continue
        traces.append(
            {
                "type": "scatter",
                "name": f"{family.value}s",
                "x": [p.x for p in mine],
                "y": [p.y for p in mine],
                "mode": "lines+markers+text" if lines else "markers+text",
                "line": {"color": color, "width": 1.5},
                "marker": {"color": color, "symbol": symbol, "size": 10, "line": {"color": "white", "width": 1}},
                "text": [p.row.short for p in mine],
                "textposition": [positions[id(p)] for p in mine],
                "textfont": {"size": 11, "color": color},
                "hovertext": [p.hover for p in mine],
                "hoverinfo": "text",
                "cliponaxis": False,
            }
        )
    return traces


def _design(
    x: float | None, label: str, size: str, x_range: list[float]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The design's dashed vertical line (a shape, from the plot's bottom to its top) and ``label: size`` above the plot.

    The text sits in the top margin, so it covers no point; it reads rightwards from the line in the
    plot's left half and leftwards in its right half. ``x_range`` is the log-x axis's range (log10).
    The legend names the line "``label`` (error unknown)".
    """
    if x is None or x <= 0:
        return [], []
    line = {
        "type": "line",
        "name": f"{label} (error unknown)",
        "xref": "x",
        "yref": "y domain",
        "x0": x,
        "x1": x,
        "y0": 0,
        "y1": 1,
        "line": {"color": HEAD_COLOR, "width": 2, "dash": "dash"},
        "layer": "below",
        "showlegend": True,
        "legendrank": 2000,
    }
    left_half = (math.log10(x) - x_range[0]) / (x_range[1] - x_range[0]) < 0.5
    note = {
        "xref": "x",
        "yref": "y domain",
        "x": math.log10(x),  # an annotation on a log axis is placed by the log of its value
        "y": 1,
        "xanchor": "left" if left_half else "right",
        "yanchor": "bottom",
        "yshift": 2,
        "text": f"<b>{label}: {size}</b>",
        "showarrow": False,
        "font": {"color": HEAD_COLOR, "size": 12},
    }
    return [line], [note]


def _log_range(xs: list[float]) -> list[float]:
    """A log-x axis's range (in log10) around ``xs`` with :data:`_X_PAD` to spare on each side."""
    lo, hi = math.log10(min(xs)), math.log10(max(xs))
    pad = _X_PAD * ((hi - lo) or 1.0)
    return [lo - pad, hi + pad]


def _figure(
    points: list[_Point],
    design: tuple[float | None, str, str],
    *,
    titles: tuple[str, str],
    axes: tuple[str, str],
    lines: bool = False,
) -> go.Figure:
    """The shared layout: both families, the design line (``design``: x, label, size), log-x, the error axis padded."""
    x_design, label, size = design
    xs = [p.x for p in points] + ([x_design] if x_design and x_design > 0 else [])
    x_range = _log_range(xs)
    ys = [p.y for p in points]
    span = (max(ys) - min(ys)) or 1.0
    y_range = [min(ys) - _Y_PAD * span, max(ys) + _Y_PAD * span]
    shapes, notes = _design(x_design, label, size, x_range)
    layout = frame(*titles, height=_HEIGHT, top_extra=BAND_LABEL_PX)
    layout |= {
        "xaxis": {
            "title": {"text": axes[0]},
            "type": "log",
            "range": x_range,
            "zeroline": False,
            **_log_ticks(x_range),
        },
        "yaxis": {"title": {"text": axes[1]}, "range": y_range, "zeroline": False},
        "shapes": shapes,
        "annotations": notes,
    }
    return figure(_family_traces(points, (x_range, y_range), x_design, lines), layout)


def _check_column(column: str) -> None:
    """Refuse a column that is not one of Table 2's."""
    if column not in ERROR_COLUMNS:
        raise ConfigError("column", column, "one of " + ", ".join(ERROR_COLUMNS))


def paper_params_figure(
    column: str = "C10+", design_params: float | None = None, *, label: str = DESIGN_LABEL
) -> go.Figure:
    """Table 2's error in ``column`` against parameters as published, with the design's parameters as a line.

    Args:
        column: Table 2's column: ``"C10+"`` (the default), ``"C100+"``, ``"SVHN"`` (or ``"C10"``, ``"C100"``).
        design_params: The current design's parameters; None draws no line.
        label: The line's label, before its size.

    Raises:
        ConfigError: for a column that is not Table 2's.
    """
    _check_column(column)
    points = [
        _Point(
            r,
            r.params.value,
            r.results[column].value,
            _hover(r, column, f"{r.params.text} parameters ({r.params.source})"),
        )
        for r in rows_with(column)
    ]
    return _figure(
        points,
        (design_params, label, format_count(design_params or 0)),
        titles=(
            "Published error vs parameters",
            f"Huang et al. 2017, Table 2: {column} ({COLUMNS[column]}) test error, parameters as published",
        ),
        axes=("parameters (log scale)", f"{column} error (%)"),
    )


def paper_macs_figure(
    column: str = "C10+", design_macs: float | None = None, *, label: str = DESIGN_LABEL
) -> go.Figure:
    """Table 2's error in ``column`` against MACs per image for the DenseNet presets, the design's MACs as a line.

    The presets' MACs are densviz's plan at 32×32 (one multiply-add counted once; the paper's FLOPs
    are 2·MACs). The ResNets' MACs are not published in Table 2, so they are not drawn.

    Args:
        column: Table 2's column: ``"C10+"`` (the default), ``"C100+"``, ``"SVHN"`` (or ``"C10"``, ``"C100"``).
        design_macs: The current design's MACs per image; None draws no line.
        label: The line's label, before its size.

    Raises:
        ConfigError: for a column that is not Table 2's.
    """
    _check_column(column)
    points = []
    for r in rows_with(column):
        if r.preset is None:
            continue
        macs = preset_macs(r.preset)
        size = f"{format_macs(macs)} per image (densviz's plan of {r.preset}); {r.params.text} parameters"
        points.append(_Point(r, macs, r.results[column].value, _hover(r, column, size)))
    return _figure(
        points,
        (design_macs, label, format_macs(design_macs or 0)),
        titles=(
            "Published error vs MACs",
            f"Huang et al. 2017, Table 2: {column} test error of the DenseNet presets; MACs from densviz's plan "
            f"(no ResNet MACs are published, so no{NBSP}ResNets)",
        ),
        axes=(f"MACs per image, log (FLOPs{NBSP}={NBSP}2·MACs)", f"{column} error (%)"),
    )


def imagenet_params_figure(design_params: float | None = None, *, label: str = DESIGN_LABEL) -> go.Figure:
    """The ImageNet top-1 error torchvision publishes (100 − acc@1) against its parameter counts, the design's as a line.

    Args:
        design_params: The current design's parameters; None draws no line.
        label: The line's label, before its size.
    """
    points = []
    for r in rows_with("acc@1"):
        error = r.error("acc@1")
        assert error is not None  # rows_with("acc@1") has it
        size = f"{r.params.text} parameters ({r.params.source})"
        points.append(_Point(r, r.params.value, error, _hover(r, "acc@1", size)))
    return _figure(
        points,
        (design_params, label, format_count(design_params or 0)),
        titles=(
            "ImageNet top-1 error vs parameters",
            "torchvision's model docs, IMAGENET1K_V1 weights: top-1 error = 100 − acc@1 (224×224 centre crop)",
        ),
        axes=("parameters (log scale)", "top-1 error (%)"),
        lines=True,
    )
