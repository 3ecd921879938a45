"""DenseNet configurations as users give them: presets, query strings, CLI flags and JSON files.

Everything a user can set enters here, whether from a widget, a CLI flag, a
query string or a JSON file, and leaves as a validated :class:`DenseNetConfig`
plus an :class:`InputSpec`, or as a :class:`ConfigError` whose message names the
field, the value given and what is allowed. Each setting's parser and range
come from :data:`densviz.core.settings.SETTINGS`; the dataclasses live in
:mod:`densviz.core.architecture` and are re-exported here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from densviz.core.architecture import (
    DenseNetConfig,
    InputSpec,
    check_input,
    conv_output_size,
    min_input_size,
    stem_output_size,
    transition_channels,
)
from densviz.core.errors import ConfigError, show_value
from densviz.core.settings import SETTINGS, Group, Stem, in_group

__all__ = [
    "PRESETS",
    "STATE_KEYS",
    "ConfigError",
    "DenseNetConfig",
    "InputSpec",
    "ParsedState",
    "Preset",
    "Stem",
    "check_input",
    "conv_output_size",
    "load_json",
    "min_input_size",
    "parse_state",
    "state_from_json",
    "state_to_json",
    "stem_output_size",
    "to_query",
    "transition_channels",
]


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

_CONFIG_KEYS = tuple(s.name for s in in_group(Group.ARCHITECTURE))
_INPUT_KEYS = ("batch", "height", "width")
STATE_KEYS = (*_CONFIG_KEYS, *_INPUT_KEYS)
"""The query keys of a configuration and its input (``preset`` and ``input_size`` come on top)."""
_EXTRA_KEYS = ("preset", "input_size")


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


class _Reader:
    """One reading of string settings; strict (raise the first error) or lenient (collect warnings)."""

    def __init__(self, lenient: bool) -> None:
        self.lenient = lenient
        self.warnings: list[str] = []

    def fail(self, err: ConfigError, fallback: str = "Using the default instead.") -> None:
        if not self.lenient:
            raise err
        self.warnings.append(f"{err} {fallback}")

    def texts(self, params: Mapping[str, Any]) -> dict[str, str]:
        """Each known key's one text; unknown keys and repeats refused or warned about."""
        values: dict[str, str] = {}
        known = (*STATE_KEYS, *_EXTRA_KEYS)
        for key, raw in params.items():
            key = str(key)
            if key not in known:
                message = f"unknown setting {show_value(key)}; the settings are {', '.join(known)}."
                self.fail(ConfigError(key, raw, "", message=message))
                continue
            if isinstance(raw, list | tuple):
                if len(raw) != 1:
                    if not raw or not self.lenient:
                        self.fail(
                            ConfigError(
                                key, raw, "given once", message=f"{key} is given {len(raw)} times; give it once."
                            )
                        )
                        continue
                    self.warnings.append(f"{key} is given {len(raw)} times; using the last value.")
                raw = raw[-1]
            values[key] = raw if isinstance(raw, str) else str(raw)
        return values

    def preset(self, values: dict[str, str]) -> Preset | None:
        name = values.pop("preset", "").strip()
        if name in PRESETS:
            return PRESETS[name]
        if name not in ("", "custom"):
            self.fail(ConfigError("preset", name, "one of " + ", ".join(PRESETS)))
        return None

    def changes(self, values: dict[str, str], base: DenseNetConfig) -> tuple[dict[str, Any], dict[str, Any]]:
        """(config changes, input changes), each value through its setting's parser."""
        cfg_changes: dict[str, Any] = {}
        input_changes: dict[str, Any] = {}
        if "input_size" in values:
            try:
                height, width = SETTINGS["input_size"].parse(values.pop("input_size"))
                input_changes["height"] = SETTINGS["height"].check(height)
                input_changes["width"] = SETTINGS["width"].check(width)
            except ConfigError as err:
                self.fail(err)
        for key, text in values.items():
            try:
                value = SETTINGS[key].parse(text)
                if key in _INPUT_KEYS:
                    input_changes[key] = value
                    continue
                if self.lenient:  # find the bad field now, so that only it falls back
                    base.replace(**{key: value})
                cfg_changes[key] = value
            except ConfigError as err:
                self.fail(err)
        return cfg_changes, input_changes

    def network(self, base: DenseNetConfig, changes: dict[str, Any]) -> DenseNetConfig:
        try:
            return base.replace(**changes)
        except ConfigError as err:
            self.fail(err, "Using the preset's architecture instead.")
            return base

    def input(self, cfg: DenseNetConfig, spec: InputSpec) -> InputSpec:
        try:
            check_input(cfg, spec)
            return spec
        except ConfigError as err:
            smallest = min_input_size(cfg)
            self.fail(err, f"Using {smallest}×{smallest} where it was smaller.")
            return replace(spec, height=max(spec.height, smallest), width=max(spec.width, smallest))


def parse_state(params: Mapping[str, Any], *, lenient: bool = False) -> ParsedState:
    """Parse string settings (a query string, CLI flags, the page's controls) into a config and input.

    Keys are spelled as the fields (``growth_rate``, ``block_config``, …) plus
    ``batch``, ``height``, ``width``, ``input_size`` (``224`` or ``224x160``) and
    ``preset``, whose config and input the other keys override. A value may be
    a string or a list of strings (a key given more than once). Each value goes
    through its setting's parser in :data:`~densviz.core.settings.SETTINGS`.

    Args:
        params: The settings.
        lenient: Instead of raising, drop each bad setting (it keeps its
            default) and say why in ``warnings``. The web app reads links so.

    Raises:
        ConfigError: in strict mode, for the first bad setting.
    """
    reader = _Reader(lenient)
    values = reader.texts(params)
    preset = reader.preset(values)
    base_cfg = preset.config if preset else DenseNetConfig()
    base_input = preset.input if preset else InputSpec()
    cfg_changes, input_changes = reader.changes(values, base_cfg)
    if "growth_rate" in cfg_changes and "num_init_features" not in cfg_changes and preset is None:
        cfg_changes["num_init_features"] = None  # keep the 2k default tied to k
    cfg = reader.network(base_cfg, cfg_changes)
    spec = reader.input(cfg, replace(base_input, **input_changes))
    return ParsedState(cfg, spec, preset.name if preset else None, tuple(reader.warnings))


def to_query(cfg: DenseNetConfig, spec: InputSpec) -> dict[str, str]:
    """Every setting as a string, keyed like the fields; :func:`parse_state` inverts it."""
    return {key: SETTINGS[key].to_text(value) for key, value in {**cfg.to_dict(), **spec.to_dict()}.items()}


def state_to_json(cfg: DenseNetConfig, spec: InputSpec) -> str:
    """``{"config": {...}, "input": {...}}`` as indented JSON."""
    return json.dumps({"config": cfg.to_dict(), "input": spec.to_dict()}, indent=2) + "\n"


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice (JSON parsers otherwise keep the last one silently)."""
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ConfigError(key, value, "given once", message=f"{key} is given twice in the file; give it once.")
        seen[key] = value
    return seen


def state_from_json(text: str | bytes) -> tuple[DenseNetConfig, InputSpec]:
    """Read a config JSON document.

    Either ``{"config": {...}, "input": {...}}`` (what :func:`state_to_json` and
    ``densviz summary --json`` write; other keys are ignored) or a bare config object.

    Raises:
        ConfigError: for text that is not JSON, or settings that are invalid.
    """
    try:
        data = json.loads(text, object_pairs_hook=_no_repeats)
    except ConfigError:
        raise
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
