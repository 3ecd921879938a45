"""``densviz export``: the graph, the charts, the tables and the config written to a folder."""

from __future__ import annotations

import argparse
import sys
import time

from densviz.cli.flags import add_config_flags, guarded_plan, optional
from densviz.cli.output import note, say
from densviz.draw.graph import DEFAULT_MAX_FULL_LAYERS
from densviz.draw.options import GraphOptions

__all__ = ["command", "graph_options", "register"]


def graph_options(args: argparse.Namespace, blocks: int) -> GraphOptions:
    """The graph flags read and checked (``blocks``: how many the network has, for the sentence).

    Raises:
        ConfigError: for a bad flag, with its sentence.
    """
    block = optional("block", args.block, f"a block number from 1 to {blocks}")
    max_full = optional("max_full_layers", args.max_full_layers, "a positive integer")
    return GraphOptions(
        detail=args.detail,
        block=block,
        direction=args.direction,
        show_cost=args.show_cost,
        max_full_layers=max_full or DEFAULT_MAX_FULL_LAYERS,  # as before: 0 means the default
    )


def command(args: argparse.Namespace) -> int:
    """Run ``densviz export``; return its exit status."""
    from densviz.export import export, parse_formats

    plan = guarded_plan(args)
    formats = parse_formats(args.formats)
    options = graph_options(args, len(plan.blocks)).check(plan)  # before any work
    start = time.perf_counter()
    result = export(plan, args.out, formats, graph_options=options, name=args.preset or "densenet", progress=say)
    for text in result.notes:
        note(text)
    for path in result.files:
        print(path)
    print(f"densviz: wrote {len(result.files)} files in {time.perf_counter() - start:.1f} s.", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``export`` to the command's subparsers."""
    p = sub.add_parser("export", help="write the graph, the charts, the tables and the config to a folder")
    add_config_flags(p)
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write into (created if missing)")
    p.add_argument(
        "--formats",
        default="svg,png,pdf,dot,html,csv,json",
        metavar="LIST",
        help="comma-separated: svg,png,pdf,dot,html,csv,json,zip (default %(default)s)",
    )
    p.add_argument(
        "--detail",
        default="dense",
        metavar="dense|chain|overview",
        help="graph detail: every concatenation edge, the running concatenation, or the stages (default dense)",
    )
    p.add_argument("--block", metavar="N", help="draw only dense block N")
    p.add_argument(
        "--direction", default="TB", metavar="TB|LR", help="graph top to bottom or left to right (default TB)"
    )
    p.add_argument("--show-cost", action="store_true", help="parameters and MACs in the graph's labels")
    p.add_argument(
        "--max-full-layers", metavar="N", help="dense detail: elide blocks longer than this (default 12, at most 24)"
    )
    p.set_defaults(run=command)
