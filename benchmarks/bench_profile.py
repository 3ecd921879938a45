"""Where the time goes, on this machine: DenseNet-121 profiled per plan row.

Prints the device's peak and memory bandwidth with how each was measured, the
rows' sum beside the end-to-end latency measured in the same process, and
their ratio (target: within 10%).

    .venv/bin/python benchmarks/bench_profile.py [--preset densenet121] [--batch 8] [--runs 10] [--device auto]
                                                 [--threads N]

On a machine that others load, give ``--threads 1``: OpenMP threads that wait
for each other while the cores run other work make every pass seconds long
and the passes' times erratic.
"""

from __future__ import annotations

import argparse

from densviz import PRESETS, InputSpec
from densviz.run import build_for_run, random_input
from densviz.run.profile import ProfileOptions, profile_forward

TARGET = 0.10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="densenet121")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's, all cores)")
    args = parser.parse_args()
    cfg = PRESETS[args.preset].config
    model, plan = build_for_run(cfg, InputSpec.square(224 if cfg.stem.value == "imagenet" else 32, batch=args.batch))
    result = profile_forward(
        model,
        plan,
        random_input(plan.input, cfg.in_channels),
        ProfileOptions(device=args.device, runs=args.runs, threads=args.threads),
    )
    print(
        f"{args.preset} batch {args.batch} on {result.device}, {result.threads} threads, {result.runs} profiled passes"
    )
    print(f"peak        {result.peak_gflops:.1f} GFLOP/s: {result.peak_source}")
    print(f"bandwidth   {result.bandwidth_gbs:.1f} GB/s: {result.bandwidth_source}")
    print(f"rows' sum   {result.total_ms:.2f} ms")
    print(f"end to end  {result.end_to_end_ms:.2f} ms: {result.end_to_end_source}")
    ok = abs(result.ratio - 1) <= TARGET
    print(f"ratio       {result.ratio:.3f} ({'within' if ok else 'OUTSIDE'} {TARGET:.0%})")


if __name__ == "__main__":
    main()
