"""``densviz explore``: every DenseNet of a space under a budget, and the Pareto front among them.

    densviz explore --stem cifar --input-size 32 --num-classes 10 --blocks 3
        --growth-rate 8:48:4 --layers 4:40 --compression 0.5 --bottleneck on
        --max-params 1000000 [--objectives max:depth,min:macs] [--json | --csv]

A value flag takes one value (``12``), a range with its stop included
(``8:48:4``; ``4:40`` steps by 1) or a list of either (``12,24,40``).
``--layers`` is shared by every block, or given per block with ``/``
(``6/12/24:48:8/16``: four blocks, the third swept). The flags' texts become a
:class:`~densviz.core.explore.Space` here; the sweep is
:func:`densviz.core.explore.sweep`.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

from densviz.cli.output import text_table
from densviz.core.errors import ConfigError, show_value
from densviz.core.explore import (
    DEFAULT_OBJECTIVES,
    MAX_DESIGNS,
    METRICS,
    Candidate,
    Exploration,
    Limits,
    Objective,
    Space,
    sweep,
)
from densviz.core.settings import SETTINGS, Stem
from densviz.core.units import format_bytes, format_count, format_macs, parse_bytes

__all__ = ["command", "parse_limits", "parse_objectives", "parse_space", "parse_values", "register"]

_INT = re.compile(r"[+-]?[0-9]{1,12}")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]{1,12}\.?[0-9]{0,12}|\.[0-9]{1,12})(?:[eE][+-]?[0-9]{1,3})?")
_COUNT = re.compile(r"([0-9]{1,18}(?:\.[0-9]{1,12})?(?:[eE]\+?[0-9]{1,2})?)([kmgt]?)")
_SCALE = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_RANGE_HELP = "a value, a range start:stop[:step] (stop included) or a list of them such as 12,24,40"
_DEFAULT_OBJECTIVES = ",".join(str(o) for o in DEFAULT_OBJECTIVES)


def _refuse(flag: str, text: str, why: str) -> ConfigError:
    """The error of a bad flag: the flag, what was given, why, in one sentence."""
    return ConfigError(
        flag.removeprefix("--").replace("-", "_"), text, why, message=f"{flag} {show_value(text)}: {why}"
    )


def parse_values(flag: str, text: str, check: Callable[[Any], Any], *, decimal: bool = False) -> tuple[Any, ...]:
    """The values of a range flag, each through ``check``, in order, without repeats.

    Args:
        flag: The flag, for the error (``--growth-rate``).
        text: ``12``, ``8:48:4``, ``4:40`` or a list such as ``12,24,40`` or ``4:8,16``.
        check: A setting's check: returns the value, raises :class:`ConfigError`.
        decimal: Decimals (θ) rather than integers; steps are exact (0.1 is 1/10).

    Raises:
        ConfigError: naming the flag, for bad syntax, an empty range or a value out of range.
    """
    number, convert = (_DECIMAL, float) if decimal else (_INT, int)
    values: dict[Any, None] = {}
    for item in text.split(","):
        parts = [p.strip() for p in item.split(":")]
        if len(parts) > 3 or not all(number.fullmatch(p) for p in parts):
            raise _refuse(flag, text, f"give {_RANGE_HELP}.")
        start = Fraction(parts[0])
        stop = Fraction(parts[1]) if len(parts) > 1 else start
        step = Fraction(parts[2]) if len(parts) > 2 else Fraction(1)
        if step <= 0 or stop < start:
            raise _refuse(flag, text, f"the range {item.strip()} is empty; give start ≤ stop and a step above 0.")
        count = int((stop - start) // step) + 1
        if len(values) + count > MAX_DESIGNS:
            raise _refuse(flag, text, f"that is {count:,} values, more than the {MAX_DESIGNS:,} designs a sweep takes.")
        try:
            for end in (start, start + (count - 1) * step):  # the ends first: a range is in bounds if they are
                check(convert(end))
            values.update((check(convert(start + i * step)), None) for i in range(count))
        except ConfigError as err:
            raise _refuse(flag, text, str(err)) from None
    return tuple(values)


def _setting(name: str) -> Callable[[Any], Any]:
    return SETTINGS[name].check


def _layers(n: int) -> int:
    return int(SETTINGS["block_config"].check((n,))[0])


def _block_count(n: int) -> int:
    low, high = SETTINGS["block_config"].count
    if not low <= n <= high:
        raise ConfigError("blocks", n, "", message=f"a network has {low} to {high} dense blocks; got {n}.")
    return n


def _bottleneck_width(n: int) -> int:
    if n < 1:
        raise ConfigError("bn_size", n, "", message="a bottleneck is at least 1·k wide; for none use --bottleneck off.")
    return int(SETTINGS["bn_size"].check(n))


def _sizes(flag: str, text: str) -> tuple[tuple[int, int], ...]:
    """``--input-size``: sizes ``S`` or ``HxW``, ranges of square sizes, or a list of them."""
    sizes: dict[tuple[int, int], None] = {}
    for item in text.split(","):
        try:
            if re.search(r"[x×X*]", item):
                height, width = SETTINGS["input_size"].parse(item)
                sizes[(SETTINGS["height"].check(height), SETTINGS["width"].check(width))] = None
                continue
        except ConfigError as err:
            raise _refuse(flag, text, str(err)) from None
        sizes.update(((s, s), None) for s in parse_values(flag, item, _setting("height")))
    return tuple(sizes)


def _choices(flag: str, text: str, name: str) -> tuple[Any, ...]:
    """A list of a CHOICE setting's values; ``both`` is every one."""
    setting = SETTINGS[name]
    if text.strip().lower() == "both":
        return setting.choice_values
    try:
        return tuple(dict.fromkeys(setting.parse(item) for item in text.split(",")))
    except ConfigError as err:
        raise _refuse(flag, text, f"{err} Or give both.") from None


def _layer_lists(args: argparse.Namespace) -> tuple[tuple[tuple[int, ...], ...], tuple[int, ...], bool]:
    """(layers, blocks, per_block) from ``--layers`` and ``--blocks``."""
    parts = args.layers.split("/")
    layers = tuple(parse_values("--layers", part, _layers) for part in parts)
    if len(parts) == 1:
        return layers, parse_values("--blocks", args.blocks or "3:4", _block_count), False
    _block_count(len(parts))
    if args.blocks is not None and parse_values("--blocks", args.blocks, _block_count) != (len(parts),):
        raise _refuse(
            "--blocks",
            args.blocks,
            f"--layers {args.layers} gives {len(parts)} blocks; leave --blocks out or match it.",
        )
    return layers, (len(parts),), True


def parse_space(args: argparse.Namespace) -> Space:
    """The space the flags describe.

    Raises:
        ConfigError: naming the first bad flag, or for a space over the sweep's bound.
    """
    layers, blocks, per_block = _layer_lists(args)
    bottleneck = args.bottleneck.strip().lower()
    if bottleneck not in ("on", "off", "both"):
        raise _refuse("--bottleneck", args.bottleneck, "give on, off or both.")
    widths = parse_values("--bn-size", args.bn_size, _bottleneck_width) if bottleneck != "off" else ()
    init = args.num_init_features
    if init is not None and init.strip().lower() == "auto":
        init = None
    space = Space(
        growth_rates=parse_values("--growth-rate", args.growth_rate, _setting("growth_rate")),
        layers=layers,
        blocks=blocks,
        compressions=parse_values("--compression", args.compression, _setting("compression"), decimal=True),
        bn_sizes=((0,) if bottleneck != "on" else ()) + widths,
        stems=tuple(Stem(s) for s in _choices("--stem", args.stem, "stem")),
        input_sizes=_sizes("--input-size", args.input_size),
        init_features=None
        if init is None
        else parse_values("--num-init-features", init, _setting("num_init_features")),
        num_classes=SETTINGS["num_classes"].parse(args.num_classes),
        in_channels=SETTINGS["in_channels"].parse(args.in_channels),
        batch=SETTINGS["batch"].parse(args.batch),
        per_block=per_block,
    )
    space.check_size()
    return space


def _count(flag: str, text: str | None) -> int | None:
    """A count such as ``1000000``, ``1,000,000``, ``1e6``, ``2.5M`` or ``3G`` (decimal prefixes)."""
    if text is None:
        return None
    match = _COUNT.fullmatch(text.strip().lower().replace(",", "").replace("_", ""))
    if not match:
        raise _refuse(flag, text, "give a count such as 1000000, 1e6, 2.5M or 3G.")
    return int(Fraction(match.group(1)) * _SCALE[match.group(2)])


def parse_limits(args: argparse.Namespace) -> Limits:
    """``--max-params``, ``--max-macs``, ``--max-activation-bytes`` and ``--min-depth``.

    Raises:
        ConfigError: naming the first bad flag.
    """
    size = None
    if args.max_activation_bytes is not None:
        try:
            size = parse_bytes(args.max_activation_bytes)
        except ValueError as err:
            raise _refuse("--max-activation-bytes", args.max_activation_bytes, f"{err}.") from None
    depth = args.min_depth
    if depth is not None and not (_INT.fullmatch(depth.strip()) and int(depth) >= 1):
        raise _refuse("--min-depth", depth, "give a depth L of at least 1.")
    return Limits(
        max_params=_count("--max-params", args.max_params),
        max_macs=_count("--max-macs", args.max_macs),
        max_activation_bytes=size,
        min_depth=None if depth is None else int(depth),
    )


def parse_objectives(text: str) -> tuple[Objective, ...]:
    """``max:depth,min:macs``: one or more of max: or min: and a metric, each metric once.

    Raises:
        ConfigError: naming ``--objectives``.
    """
    objectives: list[Objective] = []
    for item in text.split(","):
        sense, _, metric = item.strip().partition(":")
        metric = metric.strip().replace("-", "_")
        if sense.strip() not in ("max", "min") or metric not in METRICS:
            why = f"each objective is max: or min: and one of {', '.join(METRICS)}, such as {_DEFAULT_OBJECTIVES}."
            raise _refuse("--objectives", text, why)
        if any(o.metric == metric for o in objectives):
            raise _refuse("--objectives", text, f"{metric} is named twice; name each metric once.")
        objectives.append(Objective(metric, sense.strip() == "max"))
    return tuple(objectives)


# --- what the command prints ---------------------------------------------------

_CSV_DESIGN = ("growth_rate", "block_config", "num_init_features", "bn_size", "compression", "stem")
_CSV_TOTALS = ("params", "macs", "flops", "param_bytes", "activation_bytes", "depth", "final_channels")


def _document(result: Exploration) -> dict[str, Any]:
    """The ``--json`` document: the sweep's counts, the presets in the space, every kept design."""
    front = sum(c.on_front for c in result.kept)
    return {
        "objectives": [str(o) for o in result.objectives],
        "limits": vars(result.limits),
        "evaluated": result.evaluated,
        "invalid": result.invalid,
        "kept": len(result.kept),
        "front": front,
        "presets": {
            name: {"kept": c is not None, "on_front": c is not None and c.on_front}
            for name, c in result.presets().items()
        },
        "designs": [c.to_dict(result.space.batch) for c in result.kept],
    }


def _write_csv(result: Exploration) -> None:
    """One row per kept design: the design, the input, the totals, on_front, preset."""
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(
        (*_CSV_DESIGN, "num_classes", "in_channels", "batch", "height", "width", *_CSV_TOTALS, "on_front", "preset")
    )
    batch = result.space.batch
    for c in result.kept:
        d, totals = c.design, c.metrics.totals().to_dict()
        blocks = ",".join(str(n) for n in d.block_config)
        design = (d.growth_rate, blocks, d.num_init_features, d.bn_size, d.compression, d.stem.value)
        rest = (d.num_classes, d.in_channels, batch, d.height, d.width)
        writer.writerow((*design, *rest, *(totals[t] for t in _CSV_TOTALS), c.on_front, c.preset or ""))


def _row(c: Candidate, label: str) -> tuple[str, ...]:
    d, m = c.design, c.metrics
    return (
        str(m.depth),
        format_count(m.params),
        format_macs(m.macs),
        str(m.final_channels),
        format_bytes(m.activation_bytes),
        str(d.growth_rate),
        ",".join(str(n) for n in d.block_config),
        str(d.num_init_features),
        str(d.bn_size),
        f"{d.compression:g}",
        d.stem.value,
        f"{d.height}×{d.width}" if d.height != d.width else str(d.height),
        label,
    )


_HEADER = (
    "depth",
    "params",
    "MACs",
    "final ch",
    "activations",
    "k",
    "blocks",
    "k0",
    "bn",
    "θ",
    "stem",
    "input",
    "preset",
)
_RIGHT = (True,) * 6 + (False, True, True, True, False, True, False)


def _print_text(result: Exploration, limits: Sequence[str]) -> None:
    """The counts, the front best first, then the presets that fall in the space."""
    objectives = ", ".join(str(o) for o in result.objectives)
    within = f"within {', '.join(limits)}" if limits else "(no limits given)"
    front = result.front()
    invalid = f" ({result.invalid:,} not networks: an input too small or a transition with no channel)"
    print(f"swept {result.evaluated:,} designs{invalid if result.invalid else ''}; kept {len(result.kept):,} {within}")
    if not result.kept:
        print("No design meets the limits; loosen a limit or widen the space.")
    else:
        print(f"Pareto front over {objectives}: {len(front):,} designs, best first")
        print()
        print(text_table(_HEADER, [_row(c, c.preset or "") for c in front], _RIGHT))
    presets = result.presets()
    kept = [
        _row(c, f"{name} ({'on the front' if c.on_front else 'kept, not on the front'})")
        for name, c in presets.items()
        if c is not None
    ]
    if kept:
        print()
        print("presets in the space:")
        print(text_table(_HEADER, kept, _RIGHT))
    dropped = [name for name, c in presets.items() if c is None]
    if dropped:
        print(f"presets in the space over the limits: {', '.join(dropped)}")


def command(args: argparse.Namespace) -> int:
    """Run ``densviz explore``; return its exit status."""
    space = parse_space(args)
    limits = parse_limits(args)
    result = sweep(space, limits, parse_objectives(args.objectives))
    if args.json:
        print(json.dumps(_document(result)))
    elif args.csv:
        _write_csv(result)
    else:
        given = (
            ("--max-params", args.max_params),
            ("--max-macs", args.max_macs),
            ("--max-activation-bytes", args.max_activation_bytes),
            ("--min-depth", args.min_depth),
        )
        _print_text(result, [f"{flag} {value}" for flag, value in given if value is not None])
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``explore`` to the command's subparsers."""
    p = sub.add_parser(
        "explore",
        help="every DenseNet of a space under a budget, and the Pareto front",
        description=(
            "Sweep every design of a space, priced in closed form; keep those within the limits and print the "
            f"Pareto front over the objectives, best first, with the presets in the space. A RANGE is {_RANGE_HELP}."
        ),
    )
    p.add_argument("--growth-rate", default="12:48:4", metavar="RANGE", help="k (default %(default)s)")
    p.add_argument(
        "--layers",
        default="4:32",
        metavar="RANGE[/RANGE…]",
        help="layers in every block (a RANGE), or per block separated by / (6/12/24:48:8/16) (default %(default)s)",
    )
    p.add_argument("--blocks", metavar="RANGE", help="dense blocks, with one --layers RANGE (default 3:4)")
    p.add_argument("--compression", default="0.5", metavar="RANGE", help="θ, decimals (default %(default)s)")
    p.add_argument("--bottleneck", default="on", metavar="on|off|both", help="DenseNet-B layers (default %(default)s)")
    p.add_argument("--bn-size", default="4", metavar="RANGE", help="bottleneck width factor (default %(default)s)")
    p.add_argument(
        "--stem", default="imagenet", metavar="imagenet|cifar|both", help="stems to sweep (default %(default)s)"
    )
    p.add_argument("--input-size", default="224", metavar="SIZES", help="S, HxW, a RANGE of S, or a list (default 224)")
    p.add_argument("--num-init-features", metavar="RANGE", help="k₀ (default 2k, the paper's)")
    p.add_argument("--num-classes", default="1000", metavar="N", help="classes (default %(default)s)")
    p.add_argument("--in-channels", default="3", metavar="3|1", help="image channels (default %(default)s)")
    p.add_argument("--batch", default="1", metavar="N", help="images, for the activation bytes (default 1)")
    p.add_argument("--max-params", metavar="COUNT", help="keep designs with at most this many parameters (1e6, 2.5M)")
    p.add_argument("--max-macs", metavar="COUNT", help="… at most this many MACs per image (300M, 2G)")
    p.add_argument(
        "--max-activation-bytes", metavar="SIZE", help="… at most this activation memory at --batch (64MiB, 1GiB)"
    )
    p.add_argument("--min-depth", metavar="L", help="… at least this depth L")
    p.add_argument(
        "--objectives",
        default=_DEFAULT_OBJECTIVES,
        metavar="LIST",
        help=f"the Pareto front's objectives: max: or min: and any of {', '.join(METRICS)} (default %(default)s)",
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="every kept design as JSON: config, totals, on_front, preset")
    out.add_argument("--csv", action="store_true", help="every kept design as CSV")
    p.set_defaults(run=command)
