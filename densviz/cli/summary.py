"""``densviz summary``: the per-layer table, the block table and the totals of a DenseNet."""

from __future__ import annotations

import argparse
import json

from densviz.cli.flags import add_config_flags, guarded_plan
from densviz.cli.output import column_table
from densviz.core.plan import ArchitecturePlan
from densviz.core.table import BLOCK_COLUMNS, LAYER_COLUMNS, block_rows, layer_rows, on_screen
from densviz.core.units import format_bytes, format_count, format_macs

__all__ = ["command", "print_summary", "register"]


def print_summary(plan: ArchitecturePlan) -> None:
    """Print the plan: its settings, the layer and block tables, the totals."""
    cfg, spec, t, mem = plan.config, plan.input, plan.totals, plan.memory
    blocks = ",".join(str(n) for n in cfg.block_config)
    print(
        f"DenseNet  k={cfg.growth_rate}  blocks={blocks}  k0={cfg.init_features}  bn_size={cfg.bn_size}  "
        f"θ={cfg.compression:g}  stem={cfg.stem.value}  input={spec.batch}×{cfg.in_channels}×{spec.height}×{spec.width}"
    )
    print()
    print(column_table(on_screen(LAYER_COLUMNS), layer_rows(plan)))
    print()
    print(column_table(on_screen(BLOCK_COLUMNS), block_rows(plan)))
    print()
    print(f"parameters        {format_count(t.params)}  ({t.params:,})")
    print(
        f"MACs per image    {format_macs(t.macs)}  ({t.macs:,}; FLOPs = 2·MACs = {format_count(t.flops)}; convolutions and linear, no bias or BN)"
    )
    print(f"depth L           {t.depth}  (convolutions + classifier, as the paper counts)")
    print(f"final channels    {t.final_channels}")
    print(f"parameter memory  {format_bytes(t.param_bytes)}  (float32)")
    print(f"activations       {format_bytes(t.activation_bytes)}  (every module's output at batch {spec.batch})")
    print(f"inference peak    {format_bytes(mem.inference_peak_bytes)}  (estimate)")
    print(
        f"training step     {format_bytes(mem.training_naive_bytes)} naive, "
        f"{format_bytes(mem.training_efficient_bytes)} memory-efficient  (estimate)"
    )


def command(args: argparse.Namespace) -> int:
    """Run ``densviz summary``; return its exit status."""
    plan = guarded_plan(args)
    if args.torchinfo:
        from densviz.nn.verify import torchinfo_summary

        print(torchinfo_summary(plan.config, plan.input))
    elif args.json:
        print(json.dumps(plan.to_dict(), indent=2))
    else:
        print_summary(plan)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``summary`` to the command's subparsers."""
    p = sub.add_parser("summary", help="per-layer table and totals of a DenseNet")
    add_config_flags(p)
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--json", action="store_true", help="print one JSON object: config, input, totals, memory, blocks, layers"
    )
    group.add_argument("--torchinfo", action="store_true", help="print torchinfo's table for the same model")
    p.set_defaults(run=command)
