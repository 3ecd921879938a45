"""The fastest path this device has for DenseNet-121 at batch 16 on one thread, against eager fp32.

Measures, in one process and side by side (the settings taking turns pass by
pass, medians; ``densviz.run.fastest``): eager fp32, eager fp32
channels-last, eager bf16 channels-last and compiled bf16 channels-last
(``torch.compile`` with Inductor, weights frozen; its compile timed apart),
bf16 where the CPU has bf16 units. For each: the median time, GFLOP/s from
the plan's MACs, the share of the device's peak in the same precision (the
best of a GEMM and a channels-last 3×3 convolution at one thread, measured
before the passes and again after them, the best of both counting: on a
shared machine a measurement taken while others load it reads low; raised to
a setting's rate if one beats it, so never above 100%),
the largest |logit difference| against eager fp32, and the speedup over
eager fp32. The share of the peak is given twice: of the median pass, and of
the best pass (the same kind of figure as the kernels' peak, the best of a
few calls; on a loaded machine the median reads low against a peak measured
in a quieter moment). Then the fastest's speedup against its target (2.5×)
and its shares of the peak against their target (65%), and the machine's
load before and after (the machine is shared).

    .venv/bin/python benchmarks/bench_fastest.py [--runs 5] [--batch 16] [--preset densenet121]
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from densviz import PRESETS, InputSpec
from densviz.run import build_for_run, random_input
from densviz.run.devices import Precision, cpu_bf16_native
from densviz.run.fastest import FastestOptions, find_fastest
from densviz.run.peak import DevicePeak, clear_peaks, device_peak

SPEEDUP_TARGET, PEAK_TARGET = 2.5, 0.65


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="densenet121")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"before: {_load()}")
    torch.set_num_threads(1)
    precisions = [Precision.FP32, *([Precision.BF16] if cpu_bf16_native() else [])]
    before = {p: device_peak("cpu", p, 1) for p in precisions}  # kept in the process: find_fastest uses them
    cfg = PRESETS[args.preset].config
    model, plan = build_for_run(cfg, InputSpec(batch=args.batch, height=224, width=224))
    x = random_input(plan.input, cfg.in_channels)
    started = time.perf_counter()
    result = find_fastest(
        model,
        plan,
        x,
        FastestOptions(device="cpu", runs=args.runs, warmup=1, threads=1, max_seconds=None),
        progress=lambda msg: print(f"  {msg}", flush=True),
    )
    took = time.perf_counter() - started
    clear_peaks()  # the kernels again, now that the passes are done
    after: dict[Precision, DevicePeak] = {}
    for p in precisions:
        print(f"  measuring the {p.value} kernels again", flush=True)
        after[p] = device_peak("cpu", p, 1)
    best_kernels = {p: max(k.gflops for k in (*before[p].kernels, *after[p].kernels)) for p in precisions}
    peaks = {
        p: max(best_kernels[p], *(s.gflops for s in result.settings if s.candidate.precision is p)) for p in precisions
    }
    print(f"\n{args.preset}, batch {args.batch}, {result.device_name}; {result.method}")
    print(
        f"{'setting':<30} {'median':>10} {'GFLOP/s':>8} {'of peak':>8} {'best pass':>10} {'of peak':>8} "
        f"{'max |Δ logit|':>14} {'speedup':>8}"
    )
    for s in result.settings:
        compile_note = f"   (compile {s.compile_seconds:.1f} s, apart)" if s.compile_seconds is not None else ""
        best_ms = min(s.latencies_ms)
        peak = peaks[s.candidate.precision]
        print(
            f"{s.candidate.name:<30} {s.median_ms:>8.1f}ms {s.gflops:>8.1f} {s.gflops / peak:>8.0%} "
            f"{best_ms:>8.1f}ms {min(1.0, s.gflops * s.median_ms / best_ms / peak):>8.0%} "
            f"{s.max_logit_difference:>14.2e} {s.speedup:>7.2f}×{compile_note}"
        )
    print()
    for p in precisions:
        raised = peaks[p] > best_kernels[p]
        print(
            f"{p.value} peak {peaks[p]:.1f} GFLOP/s: "
            + ("a setting's own rate, above every kernel measured" if raised else "the best kernel measured")
        )
        print(f"  before the passes: {before[p].measured}")
        print(f"  after the passes:  {after[p].measured}")
    for note in result.notes:
        print(f"note: {note}")
    best = result.fastest
    peak = peaks[best.candidate.precision]
    fraction = best.gflops / peak
    best_pass = min(1.0, best.gflops * best.median_ms / min(best.latencies_ms) / peak)
    print(
        f"\nfastest: {best.candidate.name}, {best.speedup:.2f}× eager fp32 "
        f"({best.speedup / SPEEDUP_TARGET:.2f}× the {SPEEDUP_TARGET}× target: {'meets' if best.speedup >= SPEEDUP_TARGET else 'MISSES'} it), "
        f"{fraction:.0%} of its {best.candidate.precision.value} peak at the median pass, {best_pass:.0%} at its best "
        f"({fraction / PEAK_TARGET:.2f}× and {best_pass / PEAK_TARGET:.2f}× the {PEAK_TARGET:.0%} target: "
        f"{'meets' if fraction >= PEAK_TARGET else 'MISSES'} it, {'meets' if best_pass >= PEAK_TARGET else 'MISSES'} it)"
    )
    print(f"whole measurement {took:.0f} s; after: {_load()}")


if __name__ == "__main__":
    main()
