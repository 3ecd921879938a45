"""DenseNet configurations: the frozen dataclass, its validation and its round trips.

Everything a user can set enters here, whether from a widget, a CLI flag, a
query string or a JSON file, and leaves as a validated :class:`DenseNetConfig`
plus an :class:`InputSpec`, or as a :class:`ConfigError` whose message names the
field, the value given and what is allowed.

Names follow the paper (Huang et al., arXiv 1608.06993) and torchvision:
``growth_rate`` is k, ``block_config`` the layers per dense block,
``compression`` is θ, ``bn_size`` the bottleneck width factor.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Any

__all__ = [
    "LIMITS",
    "PRESETS",
    "ConfigError",
    "DenseNetConfig",
    "InputSpec",
    "ParsedState",
    "Preset",
    "Stem",
    "check_input",
    "load_json",
    "min_input_size",
    "parse_state",
    "state_from_json",
    "state_to_json",
    "stem_output_size",
    "to_query",
    "transition_channels",
]


class Stem(StrEnum):
    """The layers before the first dense block."""

    IMAGENET = "imagenet"
    """7×7/2 convolution, BN, ReLU, 3×3/2 max pool (the paper's ImageNet models)."""
    CIFAR = "cifar"
    """One 3×3/1 convolution and nothing after it (the paper's CIFAR/SVHN models)."""


class ConfigError(ValueError):
    """An invalid setting: names the field, the value given and what is allowed.

    Attributes:
        field: The setting's name, spelled as the dataclass field (``growth_rate``).
        value: The value that was given.
        allowed: A phrase saying what would be accepted.
    """

    def __init__(self, field: str, value: Any, allowed: str, message: str | None = None):
        self.field = field
        self.value = value
        self.allowed = allowed
        if message is None:
            message = f"{field} must be {allowed}; got {_show(value)}."
        super().__init__(message)


def _show(value: Any) -> str:
    """Quote a user's value for a message, cut short if it is very long."""
    if isinstance(value, tuple | list) and all(isinstance(v, int) for v in value):
        text = ",".join(str(v) for v in value) or "empty"  # a block_config, as it is typed
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class _IntRange:
    low: int
    high: int

    def describe(self) -> str:
        return f"an integer from {self.low:,} to {self.high:,}"


# Upper bounds keep every config's plan small enough to compute in milliseconds;
# the memory budget (densviz.core.memory) decides what may actually be built.
LIMITS: dict[str, _IntRange] = {
    "growth_rate": _IntRange(1, 128),
    "layers_per_block": _IntRange(1, 256),
    "num_blocks": _IntRange(1, 16),
    "num_init_features": _IntRange(1, 4096),
    "bn_size": _IntRange(0, 16),
    "num_classes": _IntRange(1, 100_000),
    "batch": _IntRange(1, 4096),
    "height": _IntRange(1, 4096),
    "width": _IntRange(1, 4096),
}
_BLOCK_CONFIG_ALLOWED = (
    f"a list of {LIMITS['num_blocks'].low} to {LIMITS['num_blocks'].high} layer counts, "
    f"each {LIMITS['layers_per_block'].describe()}, such as 6,12,24,16"
)


def _check_int(name: str, value: Any, limit: _IntRange | None = None) -> int:
    limit = limit or LIMITS[name]
    # bool is an int subclass; True is not a growth rate.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(name, value, limit.describe())
    if not limit.low <= value <= limit.high:
        raise ConfigError(name, value, limit.describe())
    return value


def _check_float(name: str, value: Any, allowed: str, ok: Callable[[float], bool]) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(name, value, allowed)
    number = float(value)
    if not math.isfinite(number) or not ok(number):
        raise ConfigError(name, value, allowed)
    return number


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

    growth_rate: int = 32
    block_config: tuple[int, ...] = (6, 12, 24, 16)
    num_init_features: int | None = None
    bn_size: int = 4
    compression: float = 0.5
    drop_rate: float = 0.0
    num_classes: int = 1000
    in_channels: int = 3
    stem: Stem = Stem.IMAGENET
    memory_efficient: bool = False

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # the dataclass is frozen; normalise in place once
        _check_int("growth_rate", self.growth_rate)
        set_(self, "block_config", _check_block_config(self.block_config))
        if self.num_init_features is None:
            set_(self, "num_init_features", min(2 * self.growth_rate, LIMITS["num_init_features"].high))
        _check_int("num_init_features", self.num_init_features)
        _check_int("bn_size", self.bn_size)
        set_(
            self,
            "compression",
            _check_float("compression", self.compression, "a number θ with 0 < θ ≤ 1", lambda v: 0 < v <= 1),
        )
        set_(
            self,
            "drop_rate",
            _check_float("drop_rate", self.drop_rate, "a probability p with 0 ≤ p < 1", lambda v: 0 <= v < 1),
        )
        _check_int("num_classes", self.num_classes)
        if isinstance(self.in_channels, bool) or self.in_channels not in (1, 3):
            raise ConfigError("in_channels", self.in_channels, "3 (RGB) or 1 (grey)")
        try:
            set_(self, "stem", Stem(self.stem))
        except ValueError:
            raise ConfigError("stem", self.stem, "one of " + ", ".join(s.value for s in Stem)) from None
        if not isinstance(self.memory_efficient, bool):
            raise ConfigError("memory_efficient", self.memory_efficient, "true or false")
        self._check_transitions()

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
                    message=f"unknown setting {_show(key)}; the settings are {', '.join(sorted(names))}.",
                )
        values = dict(data)
        if "block_config" in values and isinstance(values["block_config"], list):
            values["block_config"] = tuple(values["block_config"])
        return cls(**values)


def _check_block_config(value: Any) -> tuple[int, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ConfigError("block_config", value, _BLOCK_CONFIG_ALLOWED)
    blocks = LIMITS["num_blocks"]
    if not blocks.low <= len(value) <= blocks.high:
        raise ConfigError("block_config", value, _BLOCK_CONFIG_ALLOWED)
    layers = LIMITS["layers_per_block"]
    for n in value:
        if isinstance(n, bool) or not isinstance(n, int) or not layers.low <= n <= layers.high:
            raise ConfigError("block_config", value, _BLOCK_CONFIG_ALLOWED)
    return tuple(value)


@dataclass(frozen=True)
class InputSpec:
    """The input the network is planned and run for: (batch, in_channels, height, width)."""

    batch: int = 1
    height: int = 224
    width: int = 224

    def __post_init__(self) -> None:
        _check_int("batch", self.batch)
        _check_int("height", self.height)
        _check_int("width", self.width)

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
                    message=f"unknown input setting {_show(key)}; the input settings are batch, height, width.",
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


# --- presets -----------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    """A published architecture with the input it was designed for.

    Attributes:
        name: Key in :data:`PRESETS` (``densenet121``).
        title: How the paper or torchvision names it.
        config: The architecture.
        input: The input size it was published for.
        source: Where the architecture is defined.
        published_params: The parameter count as published (exact for
            torchvision, rounded to 0.1 M for the paper's Table 2).
    """

    name: str
    title: str
    config: DenseNetConfig
    input: InputSpec
    source: str
    published_params: str


def _imagenet(name: str, title: str, k: int, blocks: tuple[int, ...], init: int, params: str, source: str) -> Preset:
    return Preset(
        name,
        title,
        DenseNetConfig(growth_rate=k, block_config=blocks, num_init_features=init),
        InputSpec(),
        source,
        params,
    )


def _cifar(name: str, title: str, k: int, n: int, bc: bool, params: str) -> Preset:
    cfg = DenseNetConfig(
        growth_rate=k,
        block_config=(n, n, n),
        # Paper, Sec. 4.2: 16 initial channels for DenseNet, 2k for DenseNet-BC.
        num_init_features=2 * k if bc else 16,
        bn_size=4 if bc else 0,
        compression=0.5 if bc else 1.0,
        num_classes=10,
        stem=Stem.CIFAR,
    )
    return Preset(name, title, cfg, InputSpec.square(32), "Huang et al. 2017, Table 2 (CIFAR-10)", params)


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        _imagenet("densenet121", "DenseNet-121", 32, (6, 12, 24, 16), 64, "7,978,856", "torchvision; paper Table 1"),
        _imagenet("densenet161", "DenseNet-161", 48, (6, 12, 36, 24), 96, "28,681,000", "torchvision; paper Table 1"),
        _imagenet("densenet169", "DenseNet-169", 32, (6, 12, 32, 32), 64, "14,149,480", "torchvision; paper Table 1"),
        _imagenet("densenet201", "DenseNet-201", 32, (6, 12, 48, 32), 64, "20,013,928", "torchvision; paper Table 1"),
        _imagenet("densenet264", "DenseNet-264", 32, (6, 12, 64, 48), 64, "33,337,704", "paper Table 1"),
        _cifar("densenet40_k12", "DenseNet (L=40, k=12)", 12, 12, False, "1.0M"),
        _cifar("densenet100_k12", "DenseNet (L=100, k=12)", 12, 32, False, "7.0M"),
        _cifar("densenet100_k24", "DenseNet (L=100, k=24)", 24, 32, False, "27.2M"),
        _cifar("densenet_bc100_k12", "DenseNet-BC (L=100, k=12)", 12, 16, True, "0.8M"),
        _cifar("densenet_bc250_k24", "DenseNet-BC (L=250, k=24)", 24, 41, True, "15.3M"),
        _cifar("densenet_bc190_k40", "DenseNet-BC (L=190, k=40)", 40, 31, True, "25.6M"),
        Preset(
            "tiny",
            "Tiny DenseNet-BC (for tests and teaching)",
            DenseNetConfig(
                growth_rate=8, block_config=(2, 2, 2), num_init_features=16, num_classes=10, stem=Stem.CIFAR
            ),
            InputSpec.square(32),
            "densviz",
            "-",
        ),
    )
}


# --- string round trips: query strings, CLI flags, JSON -------------------------

_INT_RE = re.compile(r"^[+-]?\d{1,12}$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,4})?$")
_SIZE_RE = re.compile(r"^(\d{1,6})(?:\s*[x×X*,]\s*(\d{1,6}))?$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
STATE_KEYS = (*[f.name for f in fields(DenseNetConfig)], "batch", "height", "width")
_EXTRA_KEYS = ("preset", "input_size")


def _parse_int(name: str, text: str, allowed: str) -> int:
    digits = text.strip()
    if not _INT_RE.fullmatch(digits):
        raise ConfigError(name, text, allowed)
    return int(digits)


def _parse_float(name: str, text: str, allowed: str) -> float:
    number = text.strip()
    if not _FLOAT_RE.fullmatch(number):
        raise ConfigError(name, text, allowed)
    value = float(number)
    if not math.isfinite(value):
        raise ConfigError(name, text, allowed)
    return value


def _parse_field(name: str, text: str) -> Any:
    """Turn one string setting into the typed value the dataclass takes."""
    if name == "block_config":
        parts = [p.strip() for p in text.replace(" ", ",").strip(",").split(",")] if text.strip() else []
        if not parts or len(parts) > LIMITS["num_blocks"].high or not all(_INT_RE.fullmatch(p) for p in parts):
            raise ConfigError(name, text, _BLOCK_CONFIG_ALLOWED)
        return tuple(int(p) for p in parts)
    if name in ("compression", "drop_rate"):
        allowed = "a number θ with 0 < θ ≤ 1" if name == "compression" else "a probability p with 0 ≤ p < 1"
        return _parse_float(name, text, allowed)
    if name == "stem":
        return text.strip().lower()
    if name == "memory_efficient":
        word = text.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise ConfigError(name, text, "true or false")
    if name == "num_init_features" and text.strip().lower() in ("", "auto", "none"):
        return None
    if name == "in_channels":
        return _parse_int(name, text, "3 (RGB) or 1 (grey)")
    limit = LIMITS[name]
    return _parse_int(name, text, limit.describe())


def _parse_input_size(text: str) -> tuple[int, int]:
    match = _SIZE_RE.fullmatch(text.strip())
    if not match:
        raise ConfigError("input_size", text, "a size such as 224 or 224x160 (height x width)")
    height = int(match.group(1))
    width = int(match.group(2) or height)
    return height, width


@dataclass(frozen=True)
class ParsedState:
    """What a query string or a set of CLI flags describes.

    Attributes:
        config: The architecture.
        input: The input size and batch.
        preset: The preset the settings started from, if any.
        warnings: In lenient mode, one sentence per setting that was ignored.
    """

    config: DenseNetConfig
    input: InputSpec
    preset: str | None = None
    warnings: tuple[str, ...] = field(default=())


def parse_state(params: Mapping[str, Any], *, lenient: bool = False) -> ParsedState:
    """Parse string settings (a query string, CLI flags) into a config and input.

    Keys are spelled as the fields (``growth_rate``, ``block_config``, …) plus
    ``batch``, ``height``, ``width``, ``input_size`` (``224`` or ``224x160``) and
    ``preset``, whose config and input the other keys override. A value may be
    a string or a list of strings (a key given more than once).

    Args:
        params: The settings.
        lenient: Instead of raising, drop each bad setting (it keeps its
            default) and say why in ``warnings``. The web app reads links so.

    Raises:
        ConfigError: in strict mode, for the first bad setting.
    """
    warnings: list[str] = []

    def fail(err: ConfigError) -> None:
        if not lenient:
            raise err
        warnings.append(f"{err} Using the default instead.")

    values: dict[str, str] = {}
    for key, raw in params.items():
        key = str(key)
        if key not in STATE_KEYS and key not in _EXTRA_KEYS:
            fail(
                ConfigError(
                    key,
                    raw,
                    "",
                    message=f"unknown setting {_show(key)}; the settings are {', '.join((*STATE_KEYS, *_EXTRA_KEYS))}.",
                )
            )
            continue
        if isinstance(raw, list | tuple):
            if len(raw) != 1:
                if not raw or not lenient:
                    fail(ConfigError(key, raw, "given once", message=f"{key} is given {len(raw)} times; give it once."))
                    continue
                warnings.append(f"{key} is given {len(raw)} times; using the last value.")
            raw = raw[-1]
        if not isinstance(raw, str):
            raw = str(raw)
        values[key] = raw

    preset: Preset | None = None
    if "preset" in values:
        name = values.pop("preset").strip()
        if name in PRESETS:
            preset = PRESETS[name]
        elif name not in ("", "custom"):
            fail(ConfigError("preset", name, "one of " + ", ".join(PRESETS)))
    base_cfg = preset.config if preset else DenseNetConfig()
    base_input = preset.input if preset else InputSpec()

    cfg_changes: dict[str, Any] = {}
    input_changes: dict[str, Any] = {}
    if "input_size" in values:
        try:
            height, width = _parse_input_size(values.pop("input_size"))
            input_changes["height"], input_changes["width"] = _check_int("height", height), _check_int("width", width)
        except ConfigError as err:
            fail(err)
    for key, text in values.items():
        try:
            value = _parse_field(key, text)
            if key in ("batch", "height", "width"):
                input_changes[key] = _check_int(key, value)
            else:
                if lenient:  # find the bad field now, so that only it falls back
                    base_cfg.replace(**{key: value})
                cfg_changes[key] = value
        except ConfigError as err:
            fail(err)

    try:
        if "growth_rate" in cfg_changes and "num_init_features" not in cfg_changes and preset is None:
            cfg_changes["num_init_features"] = None  # keep the 2k default tied to k
        cfg = base_cfg.replace(**cfg_changes)
    except ConfigError as err:
        if not lenient:
            raise
        warnings.append(f"{err} Using the preset's architecture instead.")
        cfg = base_cfg
    spec = replace(base_input, **input_changes)
    try:
        check_input(cfg, spec)
    except ConfigError as err:
        if not lenient:
            raise
        smallest = min_input_size(cfg)
        warnings.append(f"{err} Using {smallest}×{smallest} where it was smaller.")
        spec = replace(spec, height=max(spec.height, smallest), width=max(spec.width, smallest))
    return ParsedState(cfg, spec, preset.name if preset else None, tuple(warnings))


def to_query(cfg: DenseNetConfig, spec: InputSpec) -> dict[str, str]:
    """Every setting as a string, keyed like the fields; :func:`parse_state` inverts it."""
    out: dict[str, str] = {}
    for key, value in {**cfg.to_dict(), **spec.to_dict()}.items():
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, list):
            out[key] = ",".join(str(v) for v in value)
        else:
            out[key] = repr(value) if isinstance(value, float) else str(value)
    return out


def state_to_json(cfg: DenseNetConfig, spec: InputSpec) -> str:
    """``{"config": {...}, "input": {...}}`` as indented JSON."""
    return json.dumps({"config": cfg.to_dict(), "input": spec.to_dict()}, indent=2) + "\n"


def state_from_json(text: str | bytes) -> tuple[DenseNetConfig, InputSpec]:
    """Read a config JSON document.

    Either ``{"config": {...}, "input": {...}}`` (what :func:`state_to_json` and
    ``densviz summary --json`` write; other keys are ignored) or a bare config object.

    Raises:
        ConfigError: for text that is not JSON, or settings that are invalid.
    """
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise ConfigError("json", "", "", message=f"the file is not valid JSON ({err}).") from None
    if not isinstance(data, dict):
        raise ConfigError(
            "json",
            type(data).__name__,
            "",
            message='the file must hold a JSON object with a "config" object (and optionally "input").',
        )
    if "config" in data:
        cfg = DenseNetConfig.from_dict(data["config"])
        spec = InputSpec.from_dict(data.get("input", {}))
    else:
        cfg = DenseNetConfig.from_dict(data)
        spec = InputSpec()
    check_input(cfg, spec)
    return cfg, spec


def load_json(path: str | Path) -> tuple[DenseNetConfig, InputSpec]:
    """:func:`state_from_json` on a file."""
    try:
        text = Path(path).read_bytes()
    except OSError as err:
        raise ConfigError("config_file", str(path), "", message=f"cannot read {path}: {err.strerror}.") from None
    return state_from_json(text)
