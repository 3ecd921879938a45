"""The paper's Figure 5 as a plotly figure: one heat map per dense block of how strongly each layer reads each source.

It draws the plain numbers of :class:`densviz.reuse.figure5.ReuseMap` (numpy
arrays, computed from a trained model by :func:`densviz.reuse.figure5.reuse_maps`);
it imports no torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from densviz.draw.charts.style import SUBPLOT_TITLE_PX, title_block, title_margin

if TYPE_CHECKING:
    from densviz.reuse.figure5 import ReuseMap

__all__ = ["reuse_figure"]

_PANELS_PER_ROW = 4
_TITLE = "Feature reuse (Figure 5)"


def reuse_figure(maps: Sequence[ReuseMap], subtitle: str = "") -> go.Figure:
    """The heat maps as one plotly figure: a panel per block, like the paper's Figure 5.

    Rows are sources (the block's input on top, then layers 1…n), columns are
    targets (layers 1…n, then the transition ``T`` or the classifier ``C``,
    outlined in black as in the paper). One colour scale for all panels, from
    the weakest value in any panel to 1; the numbers are in the hover text
    (and in the cells of small blocks).

    Args:
        maps: One panel per dense block, in order.
        subtitle: A line under the title (what was trained, how well); none when empty.
    """
    cols = min(len(maps), _PANELS_PER_ROW)
    rows = math.ceil(len(maps) / cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[f"Block {m.block} · {m.layers} layers" for m in maps],
        horizontal_spacing=0.06,
        vertical_spacing=0.16 if rows > 1 else 0.1,
    )
    for i, m in enumerate(maps):
        _add_panel(fig, m, i // cols + 1, i % cols + 1, last_row=i // cols + 1 == rows)
    fig.update_layout(**_layout(subtitle, _colour_floor(maps), rows))
    return fig


def _colour_floor(maps: Sequence[ReuseMap]) -> float:
    """The bottom of the shared colour scale: the weakest value of any panel, rounded down to 0.05."""
    low = min(float(np.nanmin(m.values)) for m in maps)
    return math.floor(low * 20) / 20 if low < 1 else 0.0


def _heatmap(m: ReuseMap) -> go.Heatmap:
    """One block's heat map: blank where a target cannot see a source, numbers in the cells of small blocks."""
    text = [["" if math.isnan(v) else f"{v:.2f}" for v in row] for row in m.values]
    return go.Heatmap(
        z=[[None if math.isnan(v) else float(v) for v in row] for row in m.values],
        x=m.target_labels,
        y=m.source_labels,
        coloraxis="coloraxis",
        text=text,
        texttemplate="%{text}" if m.layers <= 8 else None,
        textfont={"size": 10},
        customdata=[[f"{v:.4f}" if not math.isnan(v) else "" for v in row] for row in m.raw],
        hovertemplate=(
            "target %{x} ← source %{y}<br>relative weight %{z:.2f}<br>mean |w| %{customdata}<extra>"
            f"block {m.block}</extra>"
        ),
        xgap=1,
        ygap=1,
    )


def _add_panel(fig: go.Figure, m: ReuseMap, r: int, c: int, *, last_row: bool) -> None:
    """Block ``m``'s heat map at row ``r``, column ``c``, its last column (transition or classifier) outlined."""
    fig.add_trace(_heatmap(m), row=r, col=c)
    n = m.layers
    fig.add_shape(
        type="rect",
        x0=n - 0.5,
        x1=n + 0.5,
        y0=-0.5,
        y1=n + 0.5,
        line={"color": "black", "width": 2},
        row=r,
        col=c,
    )
    fig.update_xaxes(title_text="target layer ℓ" if last_row else None, tickangle=0, row=r, col=c)
    fig.update_yaxes(
        autorange="reversed", title_text="source layer s" if c == 1 else None, row=r, col=c, scaleanchor=None
    )


def _layout(subtitle: str, low: float, rows: int) -> dict[str, Any]:
    """The figure's title, shared colour scale (``low`` to 1) and a height for ``rows`` rows of panels."""
    what = "mean |weight| from each source to each layer, relative per target"
    line = f"{what} · {subtitle}" if subtitle else what
    top = title_margin(_TITLE, line) + SUBPLOT_TITLE_PX
    height = top + 360 * rows + 60
    title, _ = title_block(_TITLE, line, height)
    return {
        "template": "plotly_white",
        "font": {"family": "Helvetica, Arial, sans-serif", "size": 13},
        "title": title,
        "coloraxis": {
            "colorscale": "RdYlBu",
            "reversescale": True,
            "cmin": low,
            "cmax": 1.0,
            "colorbar": {"title": {"text": "relative<br>weight"}, "thickness": 14},
        },
        "showlegend": False,
        "height": height,
        "margin": {"l": 70, "r": 30, "t": top, "b": 60},
    }
