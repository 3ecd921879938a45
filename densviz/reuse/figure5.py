"""Figure 5 of the paper from a model's weights: the heat maps' numbers and the paper's reading of them.

Huang et al. (arXiv 1608.06993, Sec. 5 "Feature Reuse") take, for every
convolutional layer ℓ of a dense block and every earlier source s (the block's
input and each earlier layer), the mean absolute weight of ℓ's convolution over
the input channels that came from s. A high value means ℓ makes strong use of
the maps s produced. :func:`reuse_maps` computes exactly that (plain numpy
arrays, ready to draw); :func:`readings` checks the paper's four observations
against them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
from torch import Tensor, nn

from densviz.nn.model import DenseBlock, DenseNet, Transition

__all__ = ["Reading", "ReuseMap", "mean_abs_by_source", "readings", "reuse_maps", "source_slices"]


def source_slices(in_channels: int, growth_rate: int, layers: int) -> list[slice]:
    """The input channels of a block's concatenation, by where they came from.

    Source 0 is the block's input (``in_channels`` maps: the stem's or the
    previous transition's), source s ≥ 1 is dense layer s (k maps each), in
    the order :class:`densviz.nn.model.DenseBlock` concatenates them.
    """
    edges = [0, in_channels, *(in_channels + growth_rate * s for s in range(1, layers + 1))]
    return [slice(a, b) for a, b in pairwise(edges)]


def mean_abs_by_source(weight: Tensor, slices: Sequence[slice]) -> np.ndarray:
    """Mean |w| of a convolution or linear weight over each source's input channels.

    ``weight`` is (out, in, …) as PyTorch stores it; the mean runs over the
    output channels, the source's input channels and the kernel, so sources of
    different widths compare fairly (the paper's "normalized by the number of
    input feature-maps").
    """
    w = weight.detach().abs().float().cpu()
    if w.shape[1] < slices[-1].stop:
        raise ValueError(f"a weight with {w.shape[1]} input channels cannot hold sources up to {slices[-1].stop}")
    return np.array([float(w[:, s].mean()) for s in slices])


@dataclass(frozen=True)
class ReuseMap:
    """One dense block's panel of Figure 5.

    Attributes:
        block: The block's number (1-based).
        last: ``transition`` (the transition after the block) or ``classifier`` (after the last block).
        raw: (sources, targets) mean absolute weights; NaN where the target cannot see the source.
            Sources: the block's input, then layers 1…n; targets: layers 1…n, then the transition or classifier.
        values: ``raw`` divided by each target's largest value (each column's strongest source is 1).
    """

    block: int
    last: str
    raw: np.ndarray
    values: np.ndarray

    @property
    def layers(self) -> int:
        """Dense layers in the block."""
        return int(self.values.shape[0]) - 1

    @property
    def source_labels(self) -> list[str]:
        """``in`` (the block's input) then ``1``…``n``."""
        return ["in", *map(str, range(1, self.layers + 1))]

    @property
    def target_labels(self) -> list[str]:
        """``1``…``n`` then ``T`` (transition) or ``C`` (classifier)."""
        return [*map(str, range(1, self.layers + 1)), "T" if self.last == "transition" else "C"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (NaN written as null)."""

        def rows(a: np.ndarray) -> list[list[float | None]]:
            return [[None if math.isnan(v) else round(float(v), 6) for v in r] for r in a]

        return {
            "block": self.block,
            "last": self.last,
            "sources": self.source_labels,
            "targets": self.target_labels,
            "values": rows(self.values),
            "raw": rows(self.raw),
        }


def _reading_conv(layer: nn.Module) -> Tensor:
    """The convolution of a dense layer that reads the concatenation: the bottleneck's 1×1, else the 3×3."""
    conv = layer.conv1
    assert isinstance(conv, nn.Conv2d)
    return conv.weight


def reuse_maps(model: DenseNet) -> list[ReuseMap]:
    """Figure 5 of the paper for this model: one :class:`ReuseMap` per dense block."""
    modules = dict(model.features.named_children())
    return [_block_map(model, modules, b, layers) for b, layers in enumerate(model.config.block_config, start=1)]


def _block_map(model: DenseNet, modules: dict[str, nn.Module], b: int, layers: int) -> ReuseMap:
    """Block ``b``'s panel: each dense layer's, then the transition's or classifier's, weight per source."""
    block = modules[f"denseblock{b}"]
    assert isinstance(block, DenseBlock)
    c0 = _reading_conv(block["denselayer1"]).shape[1]
    slices = source_slices(c0, model.config.growth_rate, layers)
    raw = np.full((layers + 1, layers + 1), np.nan)
    for t in range(1, layers + 1):
        raw[:t, t - 1] = mean_abs_by_source(_reading_conv(block[f"denselayer{t}"]), slices[:t])
    last, weight = _last_reader(model, modules, b)
    raw[:, layers] = mean_abs_by_source(weight, slices)
    with np.errstate(invalid="ignore"):
        values = raw / np.nanmax(raw, axis=0, keepdims=True)
    return ReuseMap(b, last, raw, values)


def _last_reader(model: DenseNet, modules: dict[str, nn.Module], b: int) -> tuple[str, Tensor]:
    """What reads block ``b``'s whole concatenation: (``transition`` or ``classifier``, its weight)."""
    if b < len(model.config.block_config):
        transition = modules[f"transition{b}"]
        assert isinstance(transition, Transition)
        return "transition", transition.conv.weight
    return "classifier", model.classifier.weight


@dataclass(frozen=True)
class Reading:
    """One sentence of the paper's reading of Figure 5, and this run's number for it.

    Attributes:
        title: The observation in a few words.
        claim: What the paper observes.
        measure: How the number is computed.
        value: This run's number, as text.
        holds: Whether this run agrees (``None`` where the network is too small to tell).
    """

    title: str
    claim: str
    measure: str
    value: str
    holds: bool | None


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def readings(maps: Sequence[ReuseMap]) -> list[Reading]:
    """The paper's four observations (Sec. 5), each checked against these heat maps."""
    return [_many_inputs(maps), _whole_block_transitions(maps), _transition_outputs(maps), _final_maps(maps)]


def _many_inputs(maps: Sequence[ReuseMap]) -> Reading:
    """1. Dense layers spread their weight over many inputs: early features are used deep in the block."""
    shares = [
        float(np.mean(m.values[:t, t - 1] >= 0.5)) for m in maps for t in range(2, m.layers + 1)
    ]  # layers with at least two sources
    share = _mean(shares)
    return Reading(
        "Layers use many inputs",
        "All layers spread their weights over many inputs in the same block: "
        "features extracted early are used directly by deep layers.",
        "dense layers' share of sources weighted ≥ 0.5 of their strongest",
        f"{share:.0%}" if shares else "n/a",
        (share >= 0.5) if shares else None,
    )


def _whole_block_transitions(maps: Sequence[ReuseMap]) -> Reading:
    """2. Transitions spread their weight over every layer of the block before them."""
    trans = [float(np.nanmin(m.values[:, -1])) for m in maps if m.last == "transition"]
    return Reading(
        "Transitions draw on the whole block",
        "The transition layers also spread their weight across all layers of the dense block before them: "
        "information flows from the first to the last layers through few indirections.",
        "weakest source of each transition, relative to its strongest",
        ", ".join(f"{v:.2f}" for v in trans) if trans else "n/a",
        all(v >= 0.3 for v in trans) if trans else None,
    )


def _transition_outputs(maps: Sequence[ReuseMap]) -> Reading:
    """3. In blocks 2 onwards, the transition's output (the first row) gets the least weight."""
    first_rows: list[tuple[float, float]] = []
    for m in maps[1:]:
        if m.layers < 2:
            continue
        dense = m.values[:, : m.layers]
        first_rows.append((_mean([v for v in dense[0] if not math.isnan(v)]), float(np.nanmean(dense[1:]))))
    return Reading(
        "Transition outputs get the least weight",
        "Layers in the second and later blocks assign the least weight to the outputs of the transition "
        "(the first row): those maps are redundant, which is what compression θ < 1 exploits.",
        "mean weight on the block input vs on earlier layers, blocks 2 onwards",
        "; ".join(f"{a:.2f} vs {b:.2f}" for a, b in first_rows) if first_rows else "n/a",
        all(a < b for a, b in first_rows) if first_rows else None,
    )


def _final_maps(maps: Sequence[ReuseMap]) -> Reading:
    """4. The classifier concentrates on the final feature maps."""
    last = maps[-1]
    column = last.values[:, -1]
    half = (len(column) + 1) // 2
    early, late = _mean(list(column[:half])), _mean(list(column[half:]))
    return Reading(
        "The classifier favours the final maps",
        "The classifier uses weights across the whole last block but concentrates on the final feature maps: "
        "more high-level features are produced late in the network.",
        "classifier's mean weight on the later half of the sources vs the earlier half",
        f"{late:.2f} vs {early:.2f}" if last.layers >= 1 else "n/a",
        (late > early) if last.layers >= 1 else None,
    )
