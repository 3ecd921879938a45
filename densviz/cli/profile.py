"""``densviz profile``: where the time goes, per plan row, on the roofline of this device.

    densviz profile --preset densenet121 --batch 8 [--device cpu] [--dtype bf16] [--channels-last]
                    [--runs N] [--json] [--trace FILE]

Each plan row's time in the median profiled pass, share, GFLOP/s, bytes moved and arithmetic
intensity (``densviz.run.profile``), then their sum beside the end-to-end
latency measured in the same process, and the device's peak and memory
bandwidth with how each was measured. ``--trace FILE`` writes the last
profiled pass's Chrome trace (opens in Perfetto): one range per plan row,
named by its module path.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from densviz.cli.flags import add_config_flags, add_setting_flags, budget, read_settings, state
from densviz.cli.output import say, text_table
from densviz.core.config import ConfigError
from densviz.core.files import prepare_output_dir, write_atomic
from densviz.core.settings import SETTINGS
from densviz.core.units import format_bytes

__all__ = ["command", "register"]

PROFILE_SETTINGS = tuple(SETTINGS[name] for name in ("device", "dtype", "channels_last", "runs", "warmup", "threads"))
"""``densviz profile``'s own flags, read as ``densviz run`` reads them."""


def _trace_path(text: str | None) -> Path | None:
    """``--trace``'s file, its folder created and tried before any work.

    Raises:
        ConfigError: when the name is empty, is a folder, or its folder cannot be written.
    """
    if text is None:
        return None
    path = Path(text)
    if not text.strip() or path.name in ("", ".", ".."):
        raise ConfigError("trace", text, "", message="--trace names no file; name a .json file to write.")
    if path.is_dir():
        raise ConfigError("trace", text, "", message=f"--trace {path} is a folder; name a file.")
    prepare_output_dir(path.parent, flag="trace")
    return path


def _print_text(result: Any) -> None:
    rows = [
        (
            r.name,
            r.role,
            f"{r.time_ms:.3f}",
            f"{r.share:.1%}",
            f"{r.gflops:.1f}",
            format_bytes(r.bytes_moved),
            f"{r.intensity:.2f}",
        )
        for r in result.rows
    ]
    header = ("module", "role", "time ms", "share", "GFLOP/s", "bytes moved", "FLOP/byte")
    print(text_table(header, rows, (False, False, True, True, True, True, True)))
    print()
    threads = f"{result.threads} thread{'s' if result.threads != 1 else ''}"
    print(
        f"settings      {result.device}, {threads}, {result.precision.value}"
        f"{', channels-last' if result.channels_last else ''}, batch {result.batch}, {result.runs} profiled passes"
    )
    print(f"rows' sum     {result.total_ms:.2f} ms (the median profiled pass, row by row)")
    print(f"end to end    {result.end_to_end_ms:.2f} ms: {result.end_to_end_source}")
    print(f"sum / e2e     {result.ratio:.3f}")
    print(f"peak          {result.peak_gflops:.1f} GFLOP/s: {result.peak_source}")
    print(f"bandwidth     {result.bandwidth_gbs:.1f} GB/s: {result.bandwidth_source}")


SPREAD = 0.10
"""How far the rows' sum may stray from the end-to-end time before the command says why it may have."""


def spread_warning(ratio: float, threads: int, load: float, cores: int) -> str | None:
    """A sentence when the rows' sum and the end-to-end time are more than 10% apart, with the likely reason.

    Args:
        ratio: The rows' sum over the end-to-end time.
        threads: The threads the passes ran on.
        load: The machine's one-minute load average.
        cores: The machine's cores.
    """
    if abs(ratio - 1) <= SPREAD:
        return None
    sentence = f"the rows add up to {ratio:.2f}× the end-to-end time, more than {SPREAD:.0%} apart"
    if threads > 1:
        return (
            f"{sentence}: {threads} threads that wait for each other make passes erratic while other work "
            f"keeps the cores busy (load average {load:.1f} on {cores} cores); --threads 1 gives steadier rows"
        )
    return (
        f"{sentence}: the machine was busy (load average {load:.1f} on {cores} cores); run it again when it is quieter"
    )


def command(args: argparse.Namespace) -> int:
    """Run ``densviz profile``; return its exit status."""
    import torch

    from densviz.run import build_for_run, random_input
    from densviz.run.profile import ProfileOptions, profile_forward

    parsed = state(args)
    values = read_settings(args, PROFILE_SETTINGS)
    trace = _trace_path(args.trace)
    model, plan = build_for_run(parsed.config, parsed.input, budget(args))
    options = ProfileOptions(
        device=values["device"],
        precision=values["dtype"],
        channels_last=values["channels_last"],
        runs=values["runs"],
        warmup=values["warmup"],
        threads=values["threads"] or torch.get_num_threads(),
        trace=trace is not None,
    )
    result = profile_forward(model, plan, random_input(plan.input, parsed.config.in_channels), options, say)
    warning = spread_warning(result.ratio, result.threads, os.getloadavg()[0], os.cpu_count() or 1)
    if warning is not None:
        say(warning)
    if trace is not None and result.trace is not None:
        write_atomic(trace, result.trace)
        say(f"wrote the trace to {trace}")
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        _print_text(result)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``profile`` to the command's subparsers."""
    p = sub.add_parser("profile", help="time every plan row of a real forward pass; the roofline's peak and bandwidth")
    add_config_flags(p)
    add_setting_flags(p, PROFILE_SETTINGS)
    p.add_argument("--json", action="store_true", help="print one JSON object: rows, totals, peak, bandwidth")
    p.add_argument("--trace", metavar="FILE", help="write the last profiled pass's Chrome trace (opens in Perfetto)")
    p.set_defaults(run=command)
