"""The config flags: spelled as the config fields, read by the web app's query-string parser.

``--growth-rate`` is ``growth_rate``: every command that takes a network reads
its flags here, so a setting is refused with the same sentence everywhere.
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from densviz.core.config import PRESETS, ConfigError, ParsedState, Stem, parse_state
from densviz.core.memory import DEFAULT_BUDGET_BYTES
from densviz.core.plan import ArchitecturePlan, checked_plan
from densviz.core.units import format_bytes, parse_bytes

__all__ = [
    "CONFIG_FLAGS",
    "Parser",
    "add_config_flags",
    "add_design_flags",
    "budget",
    "guarded_plan",
    "optional",
    "state",
]

# flag -> key of the query-string parser
CONFIG_FLAGS: tuple[tuple[str, str, str], ...] = (
    ("--growth-rate", "growth_rate", "k, the feature maps each dense layer adds (default 32)"),
    ("--block-config", "block_config", "layers per dense block, comma-separated (default 6,12,24,16)"),
    ("--num-init-features", "num_init_features", "channels out of the stem, k0 (default 2k)"),
    ("--bn-size", "bn_size", "bottleneck width factor, 0 for none (default 4)"),
    ("--compression", "compression", "θ: a transition keeps floor(θ·m) of m channels (default 0.5)"),
    ("--drop-rate", "drop_rate", "dropout after each dense layer (default 0)"),
    ("--num-classes", "num_classes", "classifier outputs (default 1000)"),
    ("--in-channels", "in_channels", "3 (RGB) or 1 (grey)"),
    ("--stem", "stem", "imagenet (7×7/2 conv + 3×3/2 max pool) or cifar (one 3×3 conv)"),
    ("--input-size", "input_size", "S or HxW (default 224, or the preset's)"),
    ("--batch", "batch", "batch size for the memory figures (default 1)"),
)


class Parser(argparse.ArgumentParser):
    """argparse that fails with one sentence and a pointer to --help."""

    def error(self, message: str) -> NoReturn:
        """Exit with status 2 and one sentence."""
        self.exit(2, f"{self.prog}: error: {message}. Run '{self.prog} --help' for the options.\n")


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """Add ``--preset``, the config flags, ``--memory-efficient`` and ``--budget`` to a command."""
    parser.add_argument("--preset", metavar="NAME", help="start from a preset: " + ", ".join(PRESETS))
    for flag, _key, help_text in CONFIG_FLAGS:
        choices_meta = "|".join(s.value for s in Stem) if flag == "--stem" else None
        parser.add_argument(flag, metavar=choices_meta or flag.removeprefix("--").split("-")[0].upper(), help=help_text)
    parser.add_argument(
        "--memory-efficient", action="store_true", help="checkpointed concatenations (arXiv 1707.06990)"
    )
    parser.add_argument(
        "--budget",
        default=format_bytes(DEFAULT_BUDGET_BYTES).replace(" ", ""),
        metavar="SIZE",
        help="refuse configs whose parameters plus activations exceed this (default %(default)s)",
    )


def add_design_flags(parser: argparse.ArgumentParser, side: str) -> None:
    """Add one design's flags to ``densviz compare``: ``--a``, ``--a-growth-rate`` … for ``side`` ``a``."""
    parser.add_argument(
        f"--{side}", dest=f"{side}_preset", metavar="PRESET", help=f"design {side.upper()} starts from this preset"
    )
    for flag, _key, help_text in CONFIG_FLAGS:
        parser.add_argument(
            f"--{side}-{flag.removeprefix('--')}",
            dest=f"{side}_{flag.removeprefix('--').replace('-', '_')}",
            metavar="V",
            help=f"design {side.upper()}: {help_text}",
        )
    parser.add_argument(
        f"--{side}-memory-efficient",
        dest=f"{side}_memory_efficient",
        action="store_true",
        help=f"design {side.upper()}: memory-efficient",
    )


def state(args: argparse.Namespace, side: str = "") -> ParsedState:
    """The settings given by the flags (``side`` is ``a_`` or ``b_`` for compare).

    Raises:
        ConfigError: for the first bad flag (naming the design for compare).
    """
    params: dict[str, str] = {}
    preset = getattr(args, f"{side}preset" if side else "preset")
    if preset is not None:
        params["preset"] = preset
    for flag, key, _help in CONFIG_FLAGS:
        value = getattr(args, side + flag.removeprefix("--").replace("-", "_"))
        if value is not None:
            params[key] = value
    if getattr(args, side + "memory_efficient"):
        params["memory_efficient"] = "true"
    try:
        return parse_state(params)
    except ConfigError as err:
        if not side:
            raise
        raise ConfigError(err.field, err.value, err.allowed, message=f"design {side[0].upper()}: {err}") from None


def budget(args: argparse.Namespace) -> int:
    """``--budget`` in bytes.

    Raises:
        ConfigError: when it is not a size.
    """
    try:
        return parse_bytes(args.budget)
    except ValueError as err:
        raise ConfigError("budget", args.budget, "a size such as 4GiB or 512MiB", message=f"--budget: {err}.") from None


def guarded_plan(args: argparse.Namespace) -> ArchitecturePlan:
    """The plan of the flags' network, after the memory budget's check.

    Raises:
        ConfigError: for a bad flag, or a network over the budget.
    """
    parsed = state(args)
    plan = checked_plan(parsed.config, parsed.input, budget(args))
    return plan


def optional(name: str, text: str | None, allowed: str, kind: type[int] | type[float] = int) -> Any:
    """A flag's number (``kind`` int or float), ``None`` when absent; a ConfigError naming it when not a number."""
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(name, text, allowed) from None
