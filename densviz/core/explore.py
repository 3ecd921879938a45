"""The design space: every DenseNet of a space under a budget, and the Pareto front among them.

A :class:`Space` is the product of value lists (k, layers per block, blocks, θ,
bottleneck widths, stems, input sizes, k₀); :func:`sweep` prices every design in
closed form (:mod:`densviz.core.closed_form`, microseconds each), keeps those
within the :class:`Limits` and marks the Pareto front over the chosen
:class:`Objective` s. Designs that are no network (an input too small for the
transitions, a transition left with no channel) are counted and skipped. The
flags of ``densviz explore`` become a :class:`Space` in :mod:`densviz.cli.explore`.
Plain arithmetic: no torch, plotly or streamlit.
"""

from __future__ import annotations

import gc
import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from densviz.core.architecture import DenseNetConfig, InputSpec
from densviz.core.closed_form import compression_ratio, network_cost, stem_cost
from densviz.core.config import PRESETS
from densviz.core.errors import ConfigError
from densviz.core.layers import BYTES_PER_ELEMENT, Totals
from densviz.core.settings import SETTINGS, Stem

__all__ = [
    "DEFAULT_OBJECTIVES",
    "MAX_DESIGNS",
    "METRICS",
    "Candidate",
    "Design",
    "Exploration",
    "Limits",
    "Metrics",
    "Objective",
    "Space",
    "pareto_front",
    "sweep",
]

MAX_DESIGNS = 2_000_000
"""The most designs one sweep prices (seconds)."""

_MAX_K0 = int(SETTINGS["num_init_features"].high or 0)


class Metrics(NamedTuple):
    """What the sweep knows of a design: the objectives and limits are read from these.

    Attributes:
        params: Learnable parameters.
        macs: Multiply-accumulates per image.
        depth: The paper's L (convolutions plus the classifier).
        final_channels: Channels into the classifier.
        activation_bytes: Every module's float32 output for the batch.
    """

    params: int
    macs: int
    depth: int
    final_channels: int
    activation_bytes: int

    def totals(self) -> Totals:
        """The same numbers as :class:`~densviz.core.layers.Totals` (FLOPs and parameter bytes added)."""
        params, macs, depth, final_channels, activation_bytes = self
        return Totals(params, macs, 2 * macs, params * BYTES_PER_ELEMENT, activation_bytes, depth, final_channels)


METRICS: tuple[str, ...] = Metrics._fields
"""The names an objective may use: params, macs, depth, final_channels, activation_bytes."""


class Design(NamedTuple):
    """One point of a space: a configuration and its input, as plain values.

    A tuple, so that a sweep makes one in a fraction of a microsecond and a
    preset is found by a dictionary lookup; :meth:`config` validates it as a
    :class:`~densviz.core.architecture.DenseNetConfig`.
    """

    growth_rate: int
    block_config: tuple[int, ...]
    num_init_features: int
    bn_size: int
    compression: float
    num_classes: int
    in_channels: int
    stem: Stem
    height: int
    width: int

    @classmethod
    def of(cls, cfg: DenseNetConfig, spec: InputSpec) -> Design:
        """The design of a configuration and its input (drop rate and memory-efficient aside)."""
        network = (cfg.growth_rate, cfg.block_config, cfg.init_features, cfg.bn_size, cfg.compression)
        return cls(*network, cfg.num_classes, cfg.in_channels, cfg.stem, spec.height, spec.width)

    def config(self) -> DenseNetConfig:
        """The validated configuration."""
        fields = self._asdict()
        del fields["height"], fields["width"]
        return DenseNetConfig(**fields)

    def input(self, batch: int = 1) -> InputSpec:
        """The input, for ``batch`` images."""
        return InputSpec(batch=batch, height=self.height, width=self.width)

    def config_dict(self) -> dict[str, Any]:
        """``self.config().to_dict()`` without building the config: what ``--json`` writes per design."""
        return {
            "growth_rate": self.growth_rate,
            "block_config": list(self.block_config),
            "num_init_features": self.num_init_features,
            "bn_size": self.bn_size,
            "compression": self.compression,
            "drop_rate": 0.0,
            "num_classes": self.num_classes,
            "in_channels": self.in_channels,
            "stem": self.stem.value,
            "memory_efficient": False,
        }


_PRESET_OF: dict[Design, str] = {Design.of(p.config, p.input): name for name, p in PRESETS.items()}


@dataclass(frozen=True)
class Space:
    """The designs to sweep: the product of its value lists.

    Attributes:
        growth_rates: The values of k.
        layers: Layers per block: one list shared by every block (``per_block``
            false), or one list per block.
        blocks: Block counts (uniform layers only; per block, the number of lists).
        compressions: The values of θ.
        bn_sizes: Bottleneck widths; 0 is no bottleneck.
        stems: The stems.
        input_sizes: (height, width) pairs.
        init_features: Values of k₀; ``None`` is 2k (the paper's default).
        num_classes: Outputs of the classifier.
        in_channels: Image channels.
        batch: Images per batch, for the activation bytes.
        per_block: Whether ``layers`` holds one list per block.
    """

    growth_rates: tuple[int, ...]
    layers: tuple[tuple[int, ...], ...]
    blocks: tuple[int, ...]
    compressions: tuple[float, ...] = (0.5,)
    bn_sizes: tuple[int, ...] = (4,)
    stems: tuple[Stem, ...] = (Stem.IMAGENET,)
    input_sizes: tuple[tuple[int, int], ...] = ((224, 224),)
    init_features: tuple[int, ...] | None = None
    num_classes: int = 1000
    in_channels: int = 3
    batch: int = 1
    per_block: bool = False

    def __post_init__(self) -> None:
        """Check every value against the settings table, so that each design is a config but for its fit.

        Raises:
            ConfigError: for an empty list or a value the settings refuse.
        """
        lists: dict[str, Sequence[Any]] = {
            "growth_rate": self.growth_rates,
            "compression": self.compressions,
            "bn_size": self.bn_sizes,
            "stem": self.stems,
            "height": [h for h, _ in self.input_sizes],
            "width": [w for _, w in self.input_sizes],
            "num_init_features": (1,) if self.init_features is None else self.init_features,
            "block_config": [(n,) for values in self.layers for n in values] + [(1,) * n for n in self.blocks],
        }
        for name, values in lists.items():
            if not values:
                raise ConfigError(name, values, "at least one value", message=f"{name}: the space has no value.")
            for value in values:
                SETTINGS[name].check(value)
        for name in ("num_classes", "in_channels", "batch"):
            SETTINGS[name].check(getattr(self, name))

    def block_configs(self) -> Iterator[tuple[int, ...]]:
        """Every block_config of the space."""
        if self.per_block:
            yield from itertools.product(*self.layers)
            return
        for count in self.blocks:
            for n in self.layers[0]:
                yield (n,) * count

    @property
    def size(self) -> int:
        """How many designs the space holds (networks or not)."""
        blocks = math.prod(map(len, self.layers)) if self.per_block else len(self.blocks) * len(self.layers[0])
        k0 = len(self.init_features) if self.init_features is not None else 1
        dims = (self.growth_rates, self.compressions, self.bn_sizes, self.stems, self.input_sizes)
        return blocks * k0 * math.prod(map(len, dims))

    def k0_values(self, growth_rate: int) -> tuple[int, ...]:
        """The initial features swept with one growth rate."""
        if self.init_features is None:
            return (min(2 * growth_rate, _MAX_K0),)
        return self.init_features

    def contains(self, design: Design) -> bool:
        """Whether the design is one of the space's."""
        blocks = design.block_config
        if self.per_block:
            in_blocks = len(blocks) == len(self.layers) and all(
                n in v for n, v in zip(blocks, self.layers, strict=False)
            )
        else:
            in_blocks = len(blocks) in self.blocks and blocks[0] in self.layers[0] and len(set(blocks)) == 1
        return (
            in_blocks
            and design.growth_rate in self.growth_rates
            and design.num_init_features in self.k0_values(design.growth_rate)
            and design.bn_size in self.bn_sizes
            and design.compression in self.compressions
            and design.stem in self.stems
            and (design.height, design.width) in self.input_sizes
            and (design.num_classes, design.in_channels) == (self.num_classes, self.in_channels)
        )

    def check_size(self) -> None:
        """Refuse a space over :data:`MAX_DESIGNS`.

        Raises:
            ConfigError: saying how many designs the space holds and what to narrow.
        """
        if self.size > MAX_DESIGNS:
            message = f"The space holds {self.size:,} designs, over the {MAX_DESIGNS:,} one sweep takes; narrow a range or take a larger step."
            raise ConfigError("space", self.size, f"at most {MAX_DESIGNS:,} designs", message=message)


@dataclass(frozen=True)
class Limits:
    """What a kept design must meet; ``None`` is no limit.

    Attributes:
        max_params: The most parameters.
        max_macs: The most MACs per image.
        max_activation_bytes: The most activation bytes for the batch.
        min_depth: The least depth L.
    """

    max_params: int | None = None
    max_macs: int | None = None
    max_activation_bytes: int | None = None
    min_depth: int | None = None


@dataclass(frozen=True)
class Objective:
    """One objective of the Pareto front: a metric to maximise or minimise.

    Attributes:
        metric: One of :data:`METRICS`.
        maximize: True for ``max:``, false for ``min:``.
    """

    metric: str
    maximize: bool

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ConfigError("objective", self.metric, "one of " + ", ".join(METRICS))

    def __str__(self) -> str:
        return f"{'max' if self.maximize else 'min'}:{self.metric}"


DEFAULT_OBJECTIVES = (Objective("depth", True), Objective("macs", False))
"""The deepest network for its cost."""


class Candidate(NamedTuple):
    """A kept design: what it is, what it costs, whether it is on the front, and which preset it is.

    Attributes:
        design: The configuration and input.
        metrics: Its totals.
        on_front: Whether no other kept design is at least as good in every objective and better in one.
        preset: The preset whose config and input size it equals (at any batch), if any.
    """

    design: Design
    metrics: Metrics
    on_front: bool
    preset: str | None

    def to_dict(self, batch: int) -> dict[str, Any]:
        """The ``--json`` entry: config, input, totals, on_front, preset."""
        return {
            "config": self.design.config_dict(),
            "input": {"batch": batch, "height": self.design.height, "width": self.design.width},
            "totals": self.metrics.totals().to_dict(),
            "on_front": self.on_front,
            "preset": self.preset,
        }


@dataclass(frozen=True)
class Exploration:
    """What a sweep found.

    Attributes:
        space: The space swept.
        limits: The limits a kept design meets.
        objectives: The front's objectives.
        evaluated: Designs priced (the space's size).
        invalid: Designs that are not networks (input too small, a transition with no channel).
        kept: The designs within the limits, in the space's order.
    """

    space: Space
    limits: Limits
    objectives: tuple[Objective, ...]
    evaluated: int
    invalid: int
    kept: tuple[Candidate, ...]

    def front(self) -> list[Candidate]:
        """The front, best first by the first objective, then the next."""
        front = [c for c in self.kept if c.on_front]
        vectors = _vectors([c.metrics for c in front], self.objectives)
        return [front[i] for i in sorted(range(len(front)), key=vectors.__getitem__)]

    def presets(self) -> dict[str, Candidate | None]:
        """Each preset in the space, by name: its kept design, or ``None`` where the limits dropped it."""
        kept = {c.preset: c for c in self.kept if c.preset is not None}
        return {name: kept.get(name) for design, name in _PRESET_OF.items() if self.space.contains(design)}


# --- the sweep and its front ------------------------------------------------------


def sweep(
    space: Space, limits: Limits | None = None, objectives: Sequence[Objective] = DEFAULT_OBJECTIVES
) -> Exploration:
    """Price every design of the space in closed form, keep those within the limits, mark the front.

    Args:
        space: The designs.
        limits: What a kept design must meet (none by default).
        objectives: The Pareto front's objectives.

    Returns:
        The kept designs in the space's order, each with its metrics, its place on
        the front and its preset.

    Raises:
        ConfigError: for a space over :data:`MAX_DESIGNS`.
    """
    space.check_size()
    limits = limits or Limits()
    collecting = gc.isenabled()
    gc.disable()  # a sweep makes a few tuples per kept design and frees none: collections would double its time
    try:
        designs, metrics, invalid = _price(space, limits)
        on_front = pareto_front(_vectors(metrics, objectives))
        new, preset_of = tuple.__new__, _PRESET_OF.get  # Candidate(…) without its Python-level __new__
        kept = tuple(
            new(Candidate, (d, m, f, preset_of(d))) for d, m, f in zip(designs, metrics, on_front, strict=True)
        )
    finally:
        if collecting:
            gc.enable()
    return Exploration(space, limits, tuple(objectives), space.size, invalid, kept)


def _price(space: Space, limits: Limits) -> tuple[list[Design], list[Metrics], int]:
    """(designs kept, their metrics, designs that are no network), in the space's order."""
    unlimited = math.inf
    max_params = unlimited if limits.max_params is None else limits.max_params
    max_macs = unlimited if limits.max_macs is None else limits.max_macs
    max_bytes = unlimited if limits.max_activation_bytes is None else limits.max_activation_bytes
    min_depth = limits.min_depth or 0
    bytes_per_element, new = BYTES_PER_ELEMENT * space.batch, tuple.__new__
    configs = list(space.block_configs())
    classes, in_channels = space.num_classes, space.in_channels
    k_k0 = [(k, space.k0_values(k)) for k in space.growth_rates]
    designs: list[Design] = []
    metrics: list[Metrics] = []
    invalid = 0
    for stem, (height, width), bn_size, theta in itertools.product(
        space.stems, space.input_sizes, space.bn_sizes, space.compressions
    ):
        stem_costs, ratio = stem_cost(stem, in_channels, height, width), compression_ratio(theta)
        for blocks, (k, k0_values) in itertools.product(configs, k_k0):
            for k0 in k0_values:
                cost = network_cost(k, blocks, k0, bn_size, ratio, classes, stem_costs)
                if cost is None:
                    invalid += 1
                    continue
                params, macs, elements, depth, final_channels = cost
                activation_bytes = elements * bytes_per_element
                if params > max_params or macs > max_macs or activation_bytes > max_bytes or depth < min_depth:
                    continue
                designs.append(new(Design, (k, blocks, k0, bn_size, theta, classes, in_channels, stem, height, width)))
                metrics.append(new(Metrics, (params, macs, depth, final_channels, activation_bytes)))
    return designs, metrics, invalid


def _vectors(metrics: list[Metrics], objectives: Sequence[Objective]) -> list[tuple[int, ...]]:
    """Each design's objectives as numbers to minimise (a maximised one negated)."""
    picks = [(-1 if o.maximize else 1, METRICS.index(o.metric)) for o in objectives]
    if len(picks) == 2:
        (s, i), (t, j) = picks
        return [(s * m[i], t * m[j]) for m in metrics]
    return [tuple(s * m[i] for s, i in picks) for m in metrics]


def pareto_front(vectors: Sequence[tuple[int, ...]]) -> list[bool]:
    """Which vectors no other one dominates (to be minimised in every coordinate).

    ``a`` dominates ``b`` when it is no larger anywhere and not equal; equal
    vectors do not dominate each other, so both are on the front. Two
    coordinates take one sort and one sweep, O(n log n); more take a
    lexicographic sort and a check against the front found so far, O(n·front).
    """
    order = sorted(range(len(vectors)), key=vectors.__getitem__)
    on = [False] * len(vectors)
    if vectors and len(vectors[0]) == 2:
        best = math.inf  # the least second coordinate among strictly smaller first ones
        for _first, group in itertools.groupby(order, key=lambda i: vectors[i][0]):
            members = list(group)
            least = vectors[members[0]][1]  # sorted: the group's first has the least second
            if least < best:
                for i in members:
                    on[i] = vectors[i][1] == least
            best = min(best, least)
        return on
    front: list[tuple[int, ...]] = []
    for i in order:  # whatever dominates a vector sorts before it, and so does what dominates that
        v = vectors[i]
        if front and front[-1] == v:
            on[i] = True
        elif not any(f != v and all(a <= b for a, b in zip(f, v, strict=True)) for f in front):
            on[i] = True
            front.append(v)
    return on
