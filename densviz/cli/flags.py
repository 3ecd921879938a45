"""The config flags: spelled as the config fields, read by the web app's query-string parser.

``--growth-rate`` is ``growth_rate``: every command that takes a network reads
its flags here, so a setting is refused with the same sentence everywhere.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any, NoReturn

from densviz.core.config import PRESETS, ConfigError, ParsedState, parse_state
from densviz.core.memory import DEFAULT_BUDGET_BYTES
from densviz.core.plan import ArchitecturePlan, checked_plan
from densviz.core.settings import Group, Kind, Setting, in_group
from densviz.core.units import format_bytes, parse_bytes

__all__ = [
    "CONFIG_SETTINGS",
    "Parser",
    "add_config_flags",
    "add_design_flags",
    "add_setting_flags",
    "budget",
    "guarded_plan",
    "read_settings",
    "state",
]

CONFIG_SETTINGS: tuple[Setting, ...] = tuple(
    s for s in in_group(Group.START, Group.ARCHITECTURE, Group.INPUT) if s.flag
)
"""The settings every command that takes a network reads, in the table's order (height and width come as --input-size)."""


def _dest(setting: Setting, side: str = "") -> str:
    return side + setting.name


def add_setting_flags(parser: argparse.ArgumentParser, settings: Sequence[Setting], *, side: str = "") -> None:
    """One flag per setting, spelled, explained and documented as the settings table says.

    Args:
        parser: The (sub)command.
        settings: The rows to add.
        side: ``a`` or ``b`` for ``densviz compare``: ``--a-growth-rate``, help "design A: …".
    """
    for s in settings:
        flag = f"--{side}-{s.flag.removeprefix('--')}" if side else s.flag
        if s.name == "preset" and side:
            flag = f"--{side}"
        help_text = f"design {side.upper()}: {s.help}" if side else s.help
        if s.name == "preset":
            help_text += ": " + ", ".join(PRESETS)
        dest = _dest(s, f"{side}_" if side else "")
        if s.kind is Kind.BOOL:
            parser.add_argument(flag, dest=dest, action="store_true", help=help_text)
        else:
            parser.add_argument(flag, dest=dest, metavar=s.metavar or "V", help=help_text)


def read_settings(args: argparse.Namespace, settings: Sequence[Setting], *, side: str = "") -> dict[str, Any]:
    """The flags' values, each through its setting's parser; the table's default where a flag is absent.

    Raises:
        ConfigError: for the first bad flag, naming it and what is allowed.
    """
    values: dict[str, Any] = {}
    for s in settings:
        raw = getattr(args, _dest(s, f"{side}_" if side else ""))
        if s.kind is Kind.BOOL:
            values[s.name] = bool(raw) or s.default
        else:
            values[s.name] = s.default if raw is None else s.parse(raw)
    return values


class Parser(argparse.ArgumentParser):
    """argparse that fails with one sentence and a pointer to --help."""

    def error(self, message: str) -> NoReturn:
        """Exit with status 2 and one sentence."""
        self.exit(2, f"{self.prog}: error: {message}. Run '{self.prog} --help' for the options.\n")


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """Add ``--preset``, the config flags and ``--budget`` to a command."""
    add_setting_flags(parser, CONFIG_SETTINGS)
    parser.add_argument(
        "--budget",
        default=format_bytes(DEFAULT_BUDGET_BYTES).replace(" ", ""),
        metavar="SIZE",
        help="refuse configs whose parameters plus activations exceed this (default %(default)s)",
    )


def add_design_flags(parser: argparse.ArgumentParser, side: str) -> None:
    """Add one design's flags to ``densviz compare``: ``--a``, ``--a-growth-rate`` … for ``side`` ``a``."""
    add_setting_flags(parser, CONFIG_SETTINGS, side=side)


def state(args: argparse.Namespace, side: str = "") -> ParsedState:
    """The settings given by the flags (``side`` is ``a_`` or ``b_`` for compare), through the links' parser.

    Raises:
        ConfigError: for the first bad flag (naming the design for compare).
    """
    params: dict[str, str] = {}
    for s in CONFIG_SETTINGS:
        value = getattr(args, side + s.name)
        if s.kind is Kind.BOOL:
            if value:
                params[s.name] = "true"
        elif value is not None:
            params[s.name] = value
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
        size = parse_bytes(args.budget)
    except ValueError as err:
        raise ConfigError("budget", args.budget, "a size such as 4GiB or 512MiB", message=f"--budget: {err}.") from None
    memory = _machine_memory()
    if memory is not None and size > memory:
        raise ConfigError(
            "budget",
            args.budget,
            "",
            message=f"--budget {args.budget} is more than this machine's memory ({format_bytes(memory)}); give at most that.",
        )
    return size


def _machine_memory() -> int | None:
    """This machine's physical memory, where the system says it."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def guarded_plan(args: argparse.Namespace) -> ArchitecturePlan:
    """The plan of the flags' network, after the memory budget's check.

    Raises:
        ConfigError: for a bad flag, or a network over the budget.
    """
    parsed = state(args)
    plan = checked_plan(parsed.config, parsed.input, budget(args))
    return plan
