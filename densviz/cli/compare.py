"""``densviz compare``: two designs side by side: numbers, differences, ratios and blocks."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from densviz.cli.flags import add_design_flags, budget, state
from densviz.cli.output import text_table
from densviz.core.memory import DEFAULT_BUDGET_BYTES
from densviz.core.plan import checked_plan
from densviz.core.units import format_bytes, format_count, format_macs

__all__ = ["command", "register"]

_FORMATS: dict[str, Callable[[int], str]] = {
    "params": format_count,
    "macs": format_macs,
    "depth": str,
    "final_channels": str,
    "param_bytes": format_bytes,
    "activation_bytes": format_bytes,
    "training_naive_bytes": format_bytes,
    "training_efficient_bytes": format_bytes,
}


def _describe(s: Any) -> str:
    """One side of a block row: its layers, channels, size and parameters, or ``-``."""
    return (
        f"{s.layers} layers, {s.in_channels} → {s.out_channels} ch, {s.hw[0]}×{s.hw[1]}, {format_count(s.params)}"
        if s
        else "-"
    )


def command(args: argparse.Namespace) -> int:
    """Run ``densviz compare``; return its exit status."""
    from densviz.core.compare import compare

    limit = budget(args)
    plans = []
    for prefix in ("a_", "b_"):
        design = state(args, prefix)
        plan = checked_plan(design.config, design.input, limit)
        plans.append(plan)
    result = compare(plans[0], plans[1])
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    names = [args.a_preset or "A (custom)", args.b_preset or "B (custom)"]
    rows = []
    for m in result.metrics:
        show = _FORMATS[m.name]
        sign = "+" if m.diff > 0 else "−" if m.diff < 0 else "±"
        rows.append(
            (
                m.name,
                show(m.a),
                show(m.b),
                f"{sign}{show(abs(m.diff))}",
                f"{m.ratio:.2f}×" if m.ratio is not None else "-",
            )
        )
    print(text_table(("", names[0], names[1], "B − A", "B / A"), rows, (False, True, True, True, True)))
    print()
    block_rows = [(f"block {d.index}", _describe(d.a), _describe(d.b)) for d in result.blocks]
    print(text_table(("", names[0], names[1]), block_rows, (False, False, False)))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``compare`` to the command's subparsers."""
    p = sub.add_parser("compare", help="two designs side by side: numbers, differences, ratios and blocks")
    for side in ("a", "b"):
        add_design_flags(p, side)
    p.add_argument(
        "--budget",
        default=format_bytes(DEFAULT_BUDGET_BYTES).replace(" ", ""),
        metavar="SIZE",
        help="memory budget for each design",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=command)
