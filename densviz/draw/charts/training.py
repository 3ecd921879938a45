"""The Feature reuse view's training chart: loss per step and held-out accuracy per epoch, against seconds.

Plain numbers in (the log's loss points and epoch records), no torch: the
page redraws it twice a second while a run trains.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import plotly.graph_objects as go

from densviz.draw.charts.style import figure, frame

__all__ = ["EpochPoint", "training_figure"]

_LOSS_COLOR = "#4E79A7"
_ACCURACY_COLOR = "#E15759"


class EpochPoint(Protocol):
    """What the chart reads of an epoch's record (:class:`densviz.reuse.training.EpochRecord` has it)."""

    @property
    def epoch(self) -> int:
        """The epoch's number, from 1."""
        ...

    @property
    def seconds(self) -> float:
        """Seconds of training when it ended."""
        ...

    @property
    def test_accuracy(self) -> float:
        """Held-out accuracy then, 0–1."""
        ...


def training_figure(
    losses: Sequence[tuple[int, float, float]], epochs: Sequence[EpochPoint], title: str = "Training"
) -> go.Figure:
    """Training loss per step (left axis) and held-out accuracy per epoch (right axis, 0–100%), against seconds.

    The accuracy axis always runs from 0 to a little over 100%, ticked every 20%, so that a run near
    100% stays inside the plot; the legend sits under the plot, where no line can run into it.

    Args:
        losses: ``(step, seconds, loss)`` per step, in order (a copy of ``TrainLog.losses``).
        epochs: One record per finished epoch, in order.
        title: The chart's title.
    """
    traces: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "x": [s for _, s, _ in losses],
            "y": [v for _, _, v in losses],
            "name": "training loss (per step)",
            "mode": "lines",
            "line": {"color": _LOSS_COLOR, "width": 1.5},
            "hovertemplate": "%{x:.1f} s · loss %{y:.3f}<extra></extra>",
        },
        {
            "type": "scatter",
            "x": [e.seconds for e in epochs],
            "y": [e.test_accuracy for e in epochs],
            "name": "held-out accuracy (per epoch)",
            "mode": "lines+markers",
            "yaxis": "y2",
            "line": {"color": _ACCURACY_COLOR, "width": 2},
            "hovertemplate": "epoch %{customdata}: %{y:.1%} at %{x:.1f} s<extra></extra>",
            "customdata": [e.epoch for e in epochs],
        },
    ]
    last = epochs[-1] if epochs else None
    subtitle = (
        f"held-out accuracy {last.test_accuracy:.1%} after epoch {last.epoch}, {last.seconds:.1f} s"
        if last
        else "held-out accuracy is measured after each epoch"
    )
    layout = frame(title, subtitle, height=380)
    layout["margin"]["r"] = 70  # the accuracy axis's ticks and title
    layout |= {
        "xaxis": {"title": {"text": "seconds"}, "rangemode": "tozero"},
        "yaxis": {"title": {"text": "cross-entropy loss", "font": {"color": _LOSS_COLOR}}, "rangemode": "tozero"},
        "yaxis2": {
            "title": {"text": "held-out accuracy", "font": {"color": _ACCURACY_COLOR}},
            "overlaying": "y",
            "side": "right",
            "range": [0, 1.05],
            "tickmode": "array",
            "tickvals": [0, 0.2, 0.4, 0.6, 0.8, 1.0],
            "tickformat": ".0%",
            "showgrid": False,
            "zeroline": False,
        },
    }
    return figure(traces, layout)
