"""How fast DenseNet-121 runs here, fp32 default against the fastest settings.

In one process, one thread, the settings alternated pass by pass: DenseNet-121
at batch 1 and 16 in fp32 (default memory format) and in every faster setting
this CPU offers (channels-last; bf16 autocast where the CPU has fast bf16
matrix units). Prints median latency, GFLOP/s from the plan's MACs, the
fraction of the same-precision device peak (the best of a large GEMM and a
channels-last 3×3 convolution, raised by a faster setting, as ``densviz run``
reports it), the speedup over fp32, and the largest relative difference of
the logits from fp32. Targets: the fastest setting at batch 16 at least 2.5×
fp32 and at least 60% of its peak.
Then the training-step peak memory, naive vs memory-efficient (target: at most
55%), each measured in a fresh process.

    .venv/bin/python benchmarks/bench_forward.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from densviz import PRESETS, InputSpec, build_model, make_plan
from densviz.core.units import format_bytes
from densviz.run import Precision, device_peak, observe_rate, random_input, training_step_peak

SPEEDUP_TARGET, PEAK_TARGET, MEMORY_TARGET = 2.5, 0.60, 0.55


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = PRESETS["densenet121"].config
    peaks = {p: device_peak("cpu", p, 1) for p in (Precision.FP32, Precision.BF16)}
    for p, found in peaks.items():
        print(f"{p.value} peak {found.gflops:.1f} GFLOP/s: {found.source}")
    settings = [(Precision.FP32, False), (Precision.FP32, True)]
    if peaks[Precision.BF16].gflops >= 0.8 * peaks[Precision.FP32].gflops:
        settings += [(Precision.BF16, False), (Precision.BF16, True)]
    else:
        print("bf16 left out: this CPU has no fast bf16 matrix units (its bf16 matmul is slower than fp32)")
    model = build_model(cfg).eval()
    model_cl = build_model(cfg).eval().to(memory_format=torch.channels_last)
    model_cl.load_state_dict(model.state_dict())
    fastest_16: tuple[float, float] | None = None
    for batch in (1, 16):
        spec = InputSpec.square(224, batch=batch)
        macs = make_plan(cfg, spec).totals.macs
        x = random_input(spec, 3)
        x_cl = x.contiguous(memory_format=torch.channels_last)
        times: dict[tuple[Precision, bool], list[float]] = {s: [] for s in settings}
        logits: dict[tuple[Precision, bool], torch.Tensor] = {}
        with torch.inference_mode():
            for s in settings:  # warm-up
                precision, cl = s
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision is Precision.BF16):
                    logits[s] = (model_cl if cl else model)(x_cl if cl else x).float()
            for _ in range(args.runs):
                for s in settings:  # alternated, so that load on the machine hits each alike
                    precision, cl = s
                    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision is Precision.BF16):
                        start = time.perf_counter()
                        (model_cl if cl else model)(x_cl if cl else x)
                        times[s].append(time.perf_counter() - start)
        base = statistics.median(times[(Precision.FP32, False)])
        ref = logits[(Precision.FP32, False)]
        print(f"\nDenseNet-121, batch {batch}, median of {args.runs}")
        print(f"{'setting':<24} {'latency':>10} {'GFLOP/s':>9} {'of peak':>8} {'speedup':>8} {'max rel. diff':>14}")
        for s in settings:
            precision, cl = s
            median = statistics.median(times[s])
            gflops = 2 * macs * batch / median / 1e9
            fraction = (
                gflops / observe_rate("cpu", precision, 1, gflops).gflops
            )  # at most 1: a faster run raises the peak
            diff = float(((logits[s] - ref).abs().max() / ref.abs().max()).item())
            name = f"{precision.value}{' channels-last' if cl else ''}"
            print(
                f"{name:<24} {median * 1e3:>8.1f}ms {gflops:>9.1f} {fraction:>7.0%} {base / median:>7.2f}× {diff:>14.2e}"
            )
            if batch == 16 and (fastest_16 is None or base / median > fastest_16[0]):
                fastest_16 = (base / median, fraction)
    assert fastest_16 is not None
    speedup, fraction = fastest_16
    print(
        f"\nfastest setting at batch 16: {speedup:.2f}× fp32 ({speedup / SPEEDUP_TARGET:.2f}× the {SPEEDUP_TARGET}× target), {fraction:.0%} of its peak ({fraction / PEAK_TARGET:.2f}× the {PEAK_TARGET:.0%} target)"
    )
    spec = InputSpec.square(224, batch=16)
    peaks_mem = training_step_peak(cfg, spec)
    plan = make_plan(cfg, spec)
    ratio = peaks_mem["efficient"] / peaks_mem["naive"]
    print("\ntraining step, DenseNet-121, batch 16, CPU (fresh process each):")
    print(
        f"  naive             {format_bytes(peaks_mem['naive'])} measured, {format_bytes(plan.memory.training_naive_bytes)} estimated"
    )
    print(
        f"  memory-efficient  {format_bytes(peaks_mem['efficient'])} measured, {format_bytes(plan.memory.training_efficient_bytes)} estimated"
    )
    print(
        f"  memory-efficient / naive = {ratio:.0%} ({ratio / MEMORY_TARGET:.2f}× the {MEMORY_TARGET:.0%} target; {'meets' if ratio <= MEMORY_TARGET else 'MISSES'} it)"
    )


if __name__ == "__main__":
    main()
