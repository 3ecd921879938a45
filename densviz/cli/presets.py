"""``densviz presets``: the presets with parameters, MACs and depth."""

from __future__ import annotations

import argparse
import json

from densviz.cli.output import text_table
from densviz.core.config import PRESETS
from densviz.core.plan import make_plan
from densviz.core.table import hw_text
from densviz.core.units import format_count, format_macs

__all__ = ["command", "register"]


def command(args: argparse.Namespace) -> int:
    """Run ``densviz presets``; return its exit status."""
    plans = {name: make_plan(p.config, p.input) for name, p in PRESETS.items()}
    if args.json:
        out = [
            {
                "name": name,
                "title": p.title,
                "source": p.source,
                "published_params": p.published_params,
                **plans[name].to_dict()["totals"],
                "config": p.config.to_dict(),
                "input": p.input.to_dict(),
            }
            for name, p in PRESETS.items()
        ]
        print(json.dumps(out, indent=2))
        return 0
    rows = []
    for name, p in PRESETS.items():
        t = plans[name].totals
        cfg = p.config
        rows.append(
            (
                name,
                p.title,
                hw_text(p.input.hw),
                cfg.growth_rate,
                ",".join(map(str, cfg.block_config)),
                t.depth,
                format_count(t.params),
                format_macs(t.macs),
                p.published_params,
            )
        )
    print(
        text_table(
            ("preset", "title", "input", "k", "blocks", "L", "params", "MACs", "published"),
            rows,
            (False, False, True, True, False, True, True, True, True),
        )
    )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``presets`` to the command's subparsers."""
    p = sub.add_parser("presets", help="list the presets with parameters, MACs and depth")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=command)
