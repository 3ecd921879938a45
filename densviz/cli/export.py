"""``densviz export``: the graph, the charts, the tables, the config, the ONNX model and TikZ figures written to a folder."""

from __future__ import annotations

import argparse
import sys
import time

from densviz.cli.flags import add_config_flags, add_setting_flags, budget, guarded_plan, read_settings
from densviz.cli.output import note, say
from densviz.core.settings import Group, in_group
from densviz.draw.options import GraphOptions

__all__ = ["command", "graph_options", "register"]

GRAPH_SETTINGS = in_group(Group.GRAPH)
"""``densviz export``'s graph flags: detail, block, direction, show_cost, max_full_layers."""


def graph_options(args: argparse.Namespace) -> GraphOptions:
    """The graph flags read and checked (the block number against the plan comes after).

    Raises:
        ConfigError: for a bad flag, with its sentence.
    """
    return GraphOptions(**read_settings(args, GRAPH_SETTINGS))


def command(args: argparse.Namespace) -> int:
    """Run ``densviz export``; return its exit status."""
    from densviz.export import export, parse_formats

    plan = guarded_plan(args)
    formats = parse_formats(args.formats)
    options = graph_options(args).check(plan)  # before any work
    start = time.perf_counter()
    result = export(
        plan,
        args.out,
        formats,
        graph_options=options,
        name=args.preset or "densenet",
        progress=say,
        budget_bytes=budget(args),
    )
    for text in result.notes:
        note(text)
    for text in result.checks:
        print(f"densviz: check: {text}", file=sys.stderr)
    for path in result.files:
        print(path)
    print(f"densviz: wrote {len(result.files)} files in {time.perf_counter() - start:.1f} s.", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``export`` to the command's subparsers."""
    p = sub.add_parser(
        "export",
        help="write the graph, the charts, the tables, the config, the ONNX model and TikZ figures to a folder",
    )
    add_config_flags(p)
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write into (created if missing)")
    p.add_argument(
        "--formats",
        default="svg,png,pdf,dot,html,csv,json",
        metavar="LIST",
        help="comma-separated: svg,png,pdf,dot,html,csv,json,onnx,tex,zip (default %(default)s); onnx is checked in "
        "onnxruntime against PyTorch, tex draws the block of --block (default 1)",
    )
    add_setting_flags(p, GRAPH_SETTINGS)
    p.set_defaults(run=command)
