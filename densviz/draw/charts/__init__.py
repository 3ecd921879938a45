"""Plotly figures of a plan: how a DenseNet's feature maps grow, and what they cost.

Every figure draws only the plan's numbers (no torch), colours each dense
block as the graph does (:mod:`densviz.draw.palette`), labels its axes with units
and carries the full module path and shape in its hover text.

Which file holds what:

* ``style``: what every chart shares: frame, subplot grid, layer axis ticks,
  block bands, bars, row colours and hover text, rows by role. Made for a
  phone's 350 px as much as a laptop: one-line titles with subtitles wrapped
  to a phone's width (the top margin grows with them), legends under the plot,
  short ``B1``/``T1`` ticks and band labels (full names in the hover text).
* ``growth``: chart 1, channel growth.
* ``volume``: chart 2, spatial size and activation volume.
* ``volume3d``: chart 5, the 3-D feature-map volumes, framed to fit a phone.
* ``cost``: chart 3, parameters and MACs per layer and per stage.
* ``adjacency``: chart 4, the concatenation adjacency heat map.
* ``memory``: chart 6, memory per layer (inference, training naive vs efficient).
* ``compare``: the Compare view's channel-growth overlay of several designs.
* ``training``: the Feature reuse view's loss and accuracy chart, from a run's
  plain numbers.
* ``figure5``: the paper's Figure 5, reuse heat maps of a trained model (imported
  from there directly; not re-exported here).
* this package: :class:`ChartKind`, :data:`CHARTS` and :func:`make_chart`, and
  every chart function re-exported.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import partial

import plotly.graph_objects as go

from densviz.core.config import ConfigError
from densviz.core.plan import ArchitecturePlan
from densviz.draw.charts.adjacency import adjacency_figure
from densviz.draw.charts.compare import growth_overlay_figure
from densviz.draw.charts.cost import cost_figure
from densviz.draw.charts.growth import channel_growth_figure
from densviz.draw.charts.memory import memory_figure
from densviz.draw.charts.training import training_figure
from densviz.draw.charts.volume import spatial_volume_figure
from densviz.draw.charts.volume3d import WIDE_FIT_WIDTH, volume_3d_figure

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
    "training_figure",
    "volume_3d_figure",
]


class ChartKind(StrEnum):
    """The charts densviz draws, by the name their files get."""

    CHANNELS = "channels"
    VOLUME = "volume"
    COST = "cost"
    CONNECTIVITY = "connectivity"
    VOLUME_3D = "volume3d"
    MEMORY = "memory"


CHARTS: dict[ChartKind, Callable[[ArchitecturePlan], go.Figure]] = {
    ChartKind.CHANNELS: channel_growth_figure,
    ChartKind.VOLUME: spatial_volume_figure,
    ChartKind.COST: cost_figure,
    ChartKind.CONNECTIVITY: adjacency_figure,
    ChartKind.VOLUME_3D: partial(volume_3d_figure, fit_width=WIDE_FIT_WIDTH),
    ChartKind.MEMORY: memory_figure,
}
"""Each chart's function, by kind, for files (1200 px wide images): the 3-D volumes fit that width.

The page draws the 3-D volumes with :func:`volume_3d_figure` itself, fitted to a phone.
"""


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
