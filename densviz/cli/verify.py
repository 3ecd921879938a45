"""``densviz verify``: the plan against the real PyTorch model; exit 1 on any mismatch."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from densviz.cli.flags import add_config_flags, guarded_plan
from densviz.cli.output import text_table

__all__ = ["command", "register"]


def command(args: argparse.Namespace) -> int:
    """Run ``densviz verify``; return its exit status."""
    plan = guarded_plan(args)
    from densviz.nn.verify import verify

    report = verify(plan.config, plan.input)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return 0 if report.ok else 1
    by_name: dict[str, dict[str, Any]] = {}
    for check in report.checks:
        by_name.setdefault(check.name, {})[check.quantity.value] = check
    rows = []
    for name, checks in by_name.items():
        ok = all(c.ok for c in checks.values())
        cells = []
        for q in ("shape", "params", "macs"):
            c = checks.get(q)
            if c is None:
                cells.append("")
            elif q == "shape":
                cells.append("×".join(map(str, c.measured)) if c.measured else "not run")
            else:
                cells.append(f"{c.measured:,}" if c.ok else f"{c.measured} ≠ plan {c.planned}")
        rows.append((name, *cells, "ok" if ok else "MISMATCH"))
    print(
        text_table(("module", "torch shape", "torch params", "torch MACs", ""), rows, (False, True, True, True, False))
    )
    print()
    if report.ok:
        print(
            f"verified: all {len(report.checks)} checks of the plan equal the PyTorch model's (built on the {report.device} device)."
        )
        return 0
    print(
        f"MISMATCH: {len(report.mismatches)} of {len(report.checks)} checks differ from the PyTorch model.",
        file=sys.stderr,
    )
    return 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``verify`` to the command's subparsers."""
    p = sub.add_parser("verify", help="compare the plan with the real PyTorch model; exit 1 on any mismatch")
    add_config_flags(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=command)
