"""Chart 5: each stage's output (input, stem, every block and transition) as a 3-D box, framed to fit a phone.

The boxes go left to right in reading order and wrap into rows, as many per
row as makes them largest inside a chart :data:`FIT_WIDTH` px wide. The
camera is orthographic: plotly draws such a scene at a scale set by its
height alone (the width only shows more or less at the sides), so the scale
and the camera's centre computed here put every box and label inside the
view on any screen at least that wide, a phone's included.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from densviz.core.plan import ArchitecturePlan
from densviz.draw.charts.style import NBSP, figure, frame, transitions
from densviz.draw.palette import STEM_COLOR, TRANSITION_COLOR, block_color

__all__ = ["FIT_WIDTH", "WIDE_FIT_WIDTH", "volume_3d_figure"]

FIT_WIDTH = 340
"""The narrowest chart, in px, that shows every box and label: a phone's (390 px less the page's padding)."""
WIDE_FIT_WIDTH = 1150
"""The width the exported chart fits (its images are 1200 px wide): fewer, longer rows."""
_HEIGHT = 600
_EYE = (0.6, -1.8, 0.9)
"""Where the camera looks from (a direction: in an orthographic view its distance changes nothing)."""
_LABEL_PX = (8.5, 17.0)
"""A label's character width and line height, in px, at its 12 px font."""
_LABEL_HIGH = 2 * _LABEL_PX[1] + 6
"""A label's height above its anchor, in px: two lines and the gap plotly leaves under them."""
_PAD_PX = 8


@dataclass(frozen=True)
class _Stage:
    """One box: what it shows and its sides (C along x, W along y, H along z) in the scene's units."""

    name: str
    color: str
    channels: int
    hw: tuple[int, int]
    sides: tuple[float, float, float]

    @property
    def label(self) -> str:
        """``C×H×W`` on two lines (``C``, then ``×H×W``): narrow enough for three boxes to a row on a phone."""
        return f"{self.channels}<br>×{self.hw[0]}×{self.hw[1]}"

    @property
    def label_px(self) -> float:
        """The label's width in px."""
        return max(len(line) for line in self.label.split("<br>")) * _LABEL_PX[0]


def _stages(plan: ArchitecturePlan, side: Callable[[int], float]) -> list[_Stage]:
    """The input and each stage's output, in forward order."""
    cfg, spec = plan.config, plan.input
    raw: list[tuple[str, str, int, tuple[int, int]]] = [("input", "#9CA3AF", cfg.in_channels, spec.hw)]
    raw.append(("stem", STEM_COLOR, plan.stem[-1].out_channels, plan.stem[-1].out_hw))
    closing = transitions(plan)
    for s in plan.blocks:
        raw.append((f"block {s.index}", block_color(s.index), s.out_channels, s.hw))
        if s.index in closing:
            t = closing[s.index]
            raw.append((f"transition {s.index}", TRANSITION_COLOR, t.out_channels, t.out_hw))
    return [_Stage(n, c, ch, hw, (side(ch), side(hw[1]), side(hw[0]))) for n, c, ch, hw in raw]


def _screen_axes() -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The screen's right and up directions in the scene, for a camera looking from :data:`_EYE`, z up."""
    f = [-v / math.hypot(*_EYE) for v in _EYE]
    right = (f[1], -f[0], 0.0)  # f × (0, 0, 1)
    norm = math.hypot(*right)
    r = tuple(v / norm for v in right)
    up = (r[1] * f[2] - r[2] * f[1], r[2] * f[0] - r[0] * f[2], r[0] * f[1] - r[1] * f[0])  # r × f
    return r, up


_RIGHT, _UP = _screen_axes()


def _dot(p: Sequence[float], axis: Sequence[float]) -> float:
    return sum(a * b for a, b in zip(p, axis, strict=True))


@dataclass(frozen=True)
class _Layout:
    """Where the boxes go, and the scale that fits them: ``origins[i]`` is box i's (x0, z-centre)."""

    origins: list[tuple[float, float]]
    px_per_unit: float
    extent: tuple[float, float, float, float]  # left, right, bottom, top, in px at that scale
    clear: bool  # no label runs into another


def _items(stages: Sequence[_Stage], origins: Sequence[tuple[float, float]]) -> list[tuple[float, float, float]]:
    """Each box corner and label anchor on screen as (x, y, label width in px; 0 for a corner), in scene units."""
    items: list[tuple[float, float, float]] = []
    for st, (x0, zc) in zip(stages, origins, strict=True):
        dx, dy, dz = st.sides
        for cx in (x0, x0 + dx):
            for cy in (-dy / 2, dy / 2):
                for cz in (zc - dz / 2, zc + dz / 2):
                    items.append((_dot((cx, cy, cz), _RIGHT), _dot((cx, cy, cz), _UP), 0.0))
        anchor = (x0 + dx / 2, dy / 2, zc + dz / 2)
        items.append((_dot(anchor, _RIGHT), _dot(anchor, _UP), st.label_px))
    return items


def _extent(items: Sequence[tuple[float, float, float]], k: float) -> tuple[float, float, float, float]:
    """Left, right, bottom and top on screen, in px, at ``k`` px per scene unit (labels sit above their anchor)."""
    left = min(x * k - w / 2 for x, _, w in items)
    right = max(x * k + w / 2 for x, _, w in items)
    bottom = min(y * k for _, y, _ in items)
    top = max(y * k + (_LABEL_HIGH if w else 0) for _, y, w in items)
    return left, right, bottom, top


def _largest_scale(items: Sequence[tuple[float, float, float]], width: float, height: float) -> float:
    """The most px per unit at which ``items`` fit ``width`` × ``height`` px (bisection: the extent grows with it)."""
    lo, hi = 0.0, 1.0
    while _fits(items, hi, width, height):
        hi *= 2
    for _ in range(30):  # to a billionth of the first bracket
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _fits(items, mid, width, height) else (lo, mid)
    return lo


def _fits(items: Sequence[tuple[float, float, float]], k: float, width: float, height: float) -> bool:
    left, right, bottom, top = _extent(items, k)
    return right - left <= width and top - bottom <= height


def _rows(stages: Sequence[_Stage], per_row: int, gaps: tuple[float, float]) -> list[tuple[float, float]]:
    """Boxes left to right, ``per_row`` to a row, ``gaps`` (between boxes, between rows) apart, in scene units."""
    col_gap, row_gap = gaps
    origins: list[tuple[float, float]] = []
    top = 0.0
    for start in range(0, len(stages), per_row):
        row = stages[start : start + per_row]
        tallest = max(s.sides[2] for s in row)
        x = 0.0
        for s in row:
            origins.append((x, top - tallest / 2))
            x += s.sides[0] + col_gap
        top -= tallest + row_gap
    return origins


def _neighbours(stages: Sequence[_Stage], per_row: int) -> list[tuple[_Stage, _Stage]]:
    """The pairs of boxes side by side in a row."""
    return [(stages[i], stages[i + 1]) for i in range(len(stages) - 1) if (i + 1) % per_row]


def _gaps_needed(stages: Sequence[_Stage], per_row: int, k: float) -> tuple[float, float]:
    """The gaps, in scene units, that keep labels apart at ``k`` px per unit.

    Between boxes: their labels' half widths (the anchors sit over the boxes' middles, on their back
    edges). Between rows: a label's height, and the rise of a row's back edge on screen.
    """
    col = 0.0
    for a, b in _neighbours(stages, per_row):
        reach = ((a.label_px + b.label_px) / 2 + 8) / (k * _RIGHT[0])
        col = max(col, reach - (a.sides[0] + b.sides[0]) / 2 - (b.sides[1] - a.sides[1]) / 2 * _RIGHT[1] / _RIGHT[0])
    deepest = max(s.sides[1] for s in stages)
    return col, ((_LABEL_HIGH + 8) / k + deepest * abs(_UP[1])) / _UP[2]


def _arrange(stages: Sequence[_Stage], width: float, height: float) -> _Layout:
    """The row length at which the boxes come out largest in ``width`` × ``height`` px, labels clear of each other.

    The gaps that keep the labels apart are in px, the boxes in scene units: each row length is
    fitted a few times over, the gaps widened to what the last scale needs.
    """
    base = max(max(s.sides[0], s.sides[2]) for s in stages) * 0.25
    best: _Layout | None = None
    for per_row in range(1, len(stages) + 1):
        gaps = (base, 0.0)
        clear = False
        for _ in range(6):
            origins = _rows(stages, per_row, gaps)
            items = _items(stages, origins)
            k = _largest_scale(items, width, height)
            if k <= 0:
                break
            col, row = _gaps_needed(stages, per_row, k)
            clear = col <= gaps[0] * 1.001 and row <= gaps[1] * 1.001
            if clear:
                break
            gaps = (max(gaps[0], col), max(gaps[1], row))
        if best is None or (clear, k) > (best.clear, best.px_per_unit):
            best = _Layout(origins, k, _extent(items, k), clear)
    assert best is not None and best.px_per_unit > 0
    return best


def _box(x0: float, zc: float, st: _Stage, hover: str) -> dict[str, Any]:
    """A box [x0, x0+dx] × [−dy/2, dy/2] × [zc−dz/2, zc+dz/2] as 12 triangles."""
    dx, dy, dz = st.sides
    return {
        "type": "mesh3d",
        "x": [x0, x0 + dx, x0 + dx, x0, x0, x0 + dx, x0 + dx, x0],
        "y": [-dy / 2, -dy / 2, dy / 2, dy / 2, -dy / 2, -dy / 2, dy / 2, dy / 2],
        "z": [zc - dz / 2] * 4 + [zc + dz / 2] * 4,
        "i": [0, 0, 4, 4, 0, 0, 1, 1, 0, 0, 3, 3],
        "j": [1, 2, 5, 6, 1, 5, 2, 6, 3, 7, 2, 6],
        "k": [2, 3, 6, 7, 5, 4, 6, 5, 7, 4, 6, 7],
        "color": st.color,
        "opacity": 0.9,
        "flatshading": True,
        "name": f"{st.name}: {st.label.replace('<br>', '')}",
        "hovertext": hover,
        "hoverinfo": "text",
        "showlegend": False,
    }


def _scene(
    stages: Sequence[_Stage], at: _Layout, scene_height: float, labels: dict[str, list[float]]
) -> dict[str, Any]:
    """Axis ranges around every box and label, true proportions, and a camera centred on what it shows."""
    xs = [x for x, _ in at.origins] + [x + s.sides[0] for s, (x, _) in zip(stages, at.origins, strict=True)]
    zs = [z + sign * s.sides[2] / 2 for s, (_, z) in zip(stages, at.origins, strict=True) for sign in (-1, 1)]
    deep = max(s.sides[1] for s in stages) / 2
    lows = [min(xs), -deep, min(zs)]
    highs = [max([*xs, *labels["x"]]), deep, max([*zs, *labels["z"]])]
    pad = 0.05 * max(h - lo for lo, h in zip(lows, highs, strict=True))
    ranges = [[lo - pad, h + pad] for lo, h in zip(lows, highs, strict=True)]
    mid = [(lo + h) / 2 for lo, h in ranges]
    s = 2 * at.px_per_unit / scene_height  # scene units per data unit: plotly's view is 2 units tall
    left, right, bottom, top = at.extent
    # the screen point to centre, in px from the projection of ``mid``
    cx = (left + right) / 2 - _dot(mid, _RIGHT) * at.px_per_unit
    cy = (bottom + top) / 2 - _dot(mid, _UP) * at.px_per_unit
    center = [(cx * r + cy * u) * 2 / scene_height for r, u in zip(_RIGHT, _UP, strict=True)]
    reach = 4 * max(h - lo for lo, h in ranges) * s
    eye = [c + e / math.hypot(*_EYE) * reach for c, e in zip(center, _EYE, strict=True)]
    axis = {"visible": False}
    return {
        "xaxis": {**axis, "range": ranges[0]},
        "yaxis": {**axis, "range": ranges[1]},
        "zaxis": {**axis, "range": ranges[2]},
        "aspectmode": "manual",
        "aspectratio": dict(zip("xyz", [(h - lo) * s for lo, h in ranges], strict=True)),
        "camera": {
            "eye": dict(zip("xyz", eye, strict=True)),
            "center": dict(zip("xyz", center, strict=True)),
            "up": {"x": 0, "y": 0, "z": 1},
            "projection": {"type": "orthographic"},
        },
    }


def volume_3d_figure(plan: ArchitecturePlan, *, log_scale: bool = True, fit_width: int = FIT_WIDTH) -> go.Figure:
    """Chart 5: each stage's output as a box of C (left to right) × W (depth) × H (up).

    With ``log_scale`` (the default) each side is 1 + log₂ of its length, so
    that a 1024-channel 7×7 map and a 3-channel 224×224 image both stay
    visible; without it the proportions are true (long rods and flat plates).

    Args:
        plan: The network.
        log_scale: Sides of 1 + log₂(length) instead of the lengths.
        fit_width: The narrowest chart, in px, that must show every box and label (a wider one shows
            them at the same size, centred); the export, 1200 px wide, passes more.
    """
    stages = _stages(plan, (lambda v: 1 + math.log2(v)) if log_scale else float)
    scale = "each side 1 + log₂ of its length" if log_scale else "true proportions"
    layout = frame(
        "Feature-map volumes",
        f"each stage's output C{NBSP}×{NBSP}H{NBSP}×{NBSP}W as a box, in forward order ({scale}); "
        f"blocks widen C, transitions shrink C by θ and H,{NBSP}W by{NBSP}2",
        height=_HEIGHT,
        legend=False,
    )
    layout["margin"] = {"l": 0, "r": 0, "b": 0, "t": layout["margin"]["t"]}
    scene_height = _HEIGHT - layout["margin"]["t"]
    at = _arrange(stages, fit_width - 2 * _PAD_PX, scene_height - 2 * _PAD_PX)
    traces: list[dict[str, Any]] = []
    labels: dict[str, list[float]] = {"x": [], "y": [], "z": []}  # over each box's back top edge
    for st, (x0, zc) in zip(stages, at.origins, strict=True):
        c, (h, w) = st.channels, st.hw
        traces.append(_box(x0, zc, st, f"<b>{st.name}</b><br>{c} × {h} × {w} = {c * h * w:,} values"))
        for key, value in zip("xyz", (x0 + st.sides[0] / 2, st.sides[1] / 2, zc + st.sides[2] / 2), strict=True):
            labels[key].append(value)
    traces.append(
        {
            "type": "scatter3d",
            "name": "shapes",
            **labels,
            "text": [st.label for st in stages],
            "mode": "text",
            "textposition": "top center",
            "textfont": {"size": 12},
            "showlegend": False,
            "hoverinfo": "skip",
        }
    )
    layout["scene"] = _scene(stages, at, scene_height, labels)
    return figure(traces, layout)
