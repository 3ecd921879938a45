"""A DenseNet's architecture and input: the frozen dataclasses, validated from the settings table.

Names follow the paper (Huang et al., arXiv 1608.06993) and torchvision:
``growth_rate`` is k, ``block_config`` the layers per dense block,
``compression`` is θ, ``bn_size`` the bottleneck width factor. Every field's
range, default and "allowed" sentence come from :data:`densviz.core.settings.SETTINGS`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from fractions import Fraction
from typing import Any

from densviz.core.errors import ConfigError, show_value
from densviz.core.settings import SETTINGS, Stem

__all__ = [
    "DenseNetConfig",
    "InputSpec",
    "check_input",
    "conv_output_size",
    "min_input_size",
    "stem_output_size",
    "transition_channels",
]


_DEFAULT: Mapping[str, Any] = {name: s.default for name, s in SETTINGS.items()}  # the fields' defaults


def transition_channels(channels: int, compression: float) -> int:
    """Channels out of a transition layer: floor(θ·m) (paper, Sec. 3).

    θ is read as the decimal the user typed (0.29 means 29/100), so that
    floor(0.29·100) is 29 and not the 28 that binary floating point gives.
    """
    return math.floor(Fraction(repr(compression)) * channels)


@dataclass(frozen=True)
class DenseNetConfig:
    """A DenseNet architecture (Huang et al., arXiv 1608.06993).

    Attributes:
        growth_rate: k, the feature maps each dense layer adds.
        block_config: Layers in each dense block, e.g. ``(6, 12, 24, 16)``.
        num_init_features: Channels out of the stem, k₀ of the first block;
            ``None`` means 2k, the paper's choice for DenseNet-BC.
        bn_size: Bottleneck width factor: a 1×1 convolution to ``bn_size·k``
            channels before the 3×3 one; 0 means no bottleneck (the plain
            DenseNet layer BN-ReLU-Conv3×3).
        compression: θ in (0, 1]; a transition outputs floor(θ·m) of its m channels.
        drop_rate: Dropout probability after each dense layer, in [0, 1).
        num_classes: Outputs of the classifier.
        in_channels: Image channels, 3 (RGB) or 1 (grey).
        stem: ``imagenet`` (7×7/2 conv, BN, ReLU, 3×3/2 max pool) or ``cifar``
            (one 3×3/1 conv).
        memory_efficient: Recompute concatenations and bottleneck BN in the
            backward pass instead of storing them (arXiv 1707.06990).
    """

    growth_rate: int = _DEFAULT["growth_rate"]
    block_config: tuple[int, ...] = _DEFAULT["block_config"]
    num_init_features: int | None = _DEFAULT["num_init_features"]
    bn_size: int = _DEFAULT["bn_size"]
    compression: float = _DEFAULT["compression"]
    drop_rate: float = _DEFAULT["drop_rate"]
    num_classes: int = _DEFAULT["num_classes"]
    in_channels: int = _DEFAULT["in_channels"]
    stem: Stem = _DEFAULT["stem"]
    memory_efficient: bool = _DEFAULT["memory_efficient"]

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # the dataclass is frozen; normalise in place once
        for f in fields(self):
            set_(self, f.name, SETTINGS[f.name].check(getattr(self, f.name)))
        if self.num_init_features is None:  # the paper's 2k, within the table's range
            set_(self, "num_init_features", min(2 * self.growth_rate, int(SETTINGS["num_init_features"].high or 0)))
        set_(self, "stem", Stem(self.stem))
        self._check_transitions()
        self._check_some_input_fits()

    def _check_some_input_fits(self) -> None:
        """Refuse a network that no allowed input size can feed (each transition halves H and W)."""
        largest = int(SETTINGS["height"].high or 0)
        smallest = min_input_size(self)
        if smallest > largest:
            raise ConfigError(
                "block_config",
                self.block_config,
                f"few enough blocks that an input of at most {largest:,} pixels reaches the last one",
                message=(
                    f"This network's {self.stem.value} stem and {self.num_transitions} transitions need an input of "
                    f"at least {smallest:,}×{smallest:,} pixels, and the largest input allowed is {largest:,}×{largest:,}; "
                    "use fewer blocks (or the CIFAR stem)."
                ),
            )

    def _check_transitions(self) -> None:
        channels = self.init_features
        for i, layers in enumerate(self.block_config[:-1], start=1):
            channels += layers * self.growth_rate
            out = transition_channels(channels, self.compression)
            if out < 1:
                raise ConfigError(
                    "compression",
                    self.compression,
                    f"large enough that transition{i} keeps at least one of its {channels} channels",
                )
            channels = out

    @property
    def init_features(self) -> int:
        """k₀ of the first block (``num_init_features`` after its default is applied)."""
        assert self.num_init_features is not None  # set in __post_init__
        return self.num_init_features

    @property
    def bottleneck(self) -> bool:
        """Whether dense layers have the 1×1 bottleneck (DenseNet-B)."""
        return self.bn_size > 0

    @property
    def num_transitions(self) -> int:
        """Transition layers: one between each pair of dense blocks."""
        return len(self.block_config) - 1

    @property
    def depth(self) -> int:
        """The paper's L: convolution and fully connected layers on the longest path."""
        per_layer = 2 if self.bottleneck else 1
        return 1 + per_layer * sum(self.block_config) + self.num_transitions + 1

    def replace(self, **changes: Any) -> DenseNetConfig:
        """A copy with some fields changed (validated like any new config)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data; :meth:`from_dict` gives back an equal config."""
        data = asdict(self)
        data["block_config"] = list(self.block_config)
        data["stem"] = self.stem.value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DenseNetConfig:
        """Build a config from typed data, as JSON gives it.

        Raises:
            ConfigError: for an unknown key, a wrongly typed or out-of-range value.
        """
        if not isinstance(data, Mapping):
            raise ConfigError("config", data, "an object mapping field names to values")
        names = {f.name for f in fields(cls)}
        for key in data:
            if key not in names:
                raise ConfigError(
                    str(key),
                    data[key],
                    "absent: it is not a setting; the settings are " + ", ".join(sorted(names)),
                    message=f"unknown setting {show_value(key)}; the settings are {', '.join(sorted(names))}.",
                )
        values = dict(data)
        if "block_config" in values and isinstance(values["block_config"], list):
            values["block_config"] = tuple(values["block_config"])
        return cls(**values)


@dataclass(frozen=True)
class InputSpec:
    """The input the network is planned and run for: (batch, in_channels, height, width)."""

    batch: int = _DEFAULT["batch"]
    height: int = _DEFAULT["height"]
    width: int = _DEFAULT["width"]

    def __post_init__(self) -> None:
        for f in fields(self):
            SETTINGS[f.name].check(getattr(self, f.name))

    @classmethod
    def square(cls, size: int, batch: int = 1) -> InputSpec:
        """An input of ``size × size`` pixels."""
        return cls(batch=batch, height=size, width=size)

    @property
    def hw(self) -> tuple[int, int]:
        """(height, width)."""
        return (self.height, self.width)

    def to_dict(self) -> dict[str, int]:
        """Plain data: ``{"batch": 1, "height": 224, "width": 224}``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InputSpec:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`ConfigError`."""
        if not isinstance(data, Mapping):
            raise ConfigError("input", data, "an object with batch, height and width")
        for key in data:
            if key not in ("batch", "height", "width"):
                raise ConfigError(
                    str(key),
                    data[key],
                    "batch, height or width",
                    message=f"unknown input setting {show_value(key)}; the input settings are batch, height, width.",
                )
        return cls(**data)


# --- spatial arithmetic ------------------------------------------------------


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a convolution or pooling window: ⌊(n + 2p − k)/s⌋ + 1."""
    return (size + 2 * padding - kernel) // stride + 1


def stem_output_size(size: int, stem: Stem) -> int:
    """Height (or width) after the stem, for an input of ``size`` pixels."""
    if stem is Stem.CIFAR:
        return conv_output_size(size, 3, 1, 1)
    after_conv = conv_output_size(size, 7, 2, 3)
    return conv_output_size(after_conv, 3, 2, 1)


def _fits(size: int, cfg: DenseNetConfig) -> bool:
    """Whether every layer gets at least 1×1 (each 2×2/2 transition pool needs 2)."""
    size = stem_output_size(size, cfg.stem)
    for _ in range(cfg.num_transitions):
        if size < 2:
            return False
        size //= 2
    return size >= 1


def min_input_size(cfg: DenseNetConfig) -> int:
    """The smallest height (and width) this network accepts."""
    low, high = 1, 8
    while not _fits(high, cfg):
        high *= 2
    while low < high:  # _fits is monotone in the size
        mid = (low + high) // 2
        if _fits(mid, cfg):
            high = mid
        else:
            low = mid + 1
    return low


def check_input(cfg: DenseNetConfig, spec: InputSpec) -> None:
    """Refuse an input too small for the stem and the transitions.

    Raises:
        ConfigError: naming ``height`` or ``width`` and the smallest size allowed.
    """
    smallest = min_input_size(cfg)
    for name, value in (("height", spec.height), ("width", spec.width)):
        if value < smallest:
            factor = (4 if cfg.stem is Stem.IMAGENET else 1) << cfg.num_transitions
            transitions = f"{cfg.num_transitions} transition{'' if cfg.num_transitions == 1 else 's'}"
            raise ConfigError(
                name,
                value,
                f"at least {smallest} for this network",
                message=(
                    f"{name} {value} is too small for this network: its {cfg.stem.value} stem and {transitions} "
                    f"shrink the input {factor}-fold, so {name} must be at least {smallest} pixels."
                ),
            )
