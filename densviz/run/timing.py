"""The timed forward pass: run options, the result, shape checks, the time limit.

A run reports latency, throughput, the achieved GFLOP/s from the plan's MACs
against this device's peak in the same precision (the best of several
measured kernels, or a faster earlier run: see ``densviz.run.peak``), the
peak memory by the allocator's accounting beside the plan's estimate, the
output's top-5 (named where the classes are known, with the weights it ran
with), and every module's measured output shape against the plan.

A run has a time limit (``RunOptions.max_seconds``), kept twice. Before the
model is placed, a run that would exceed it even at twice the device's peak
is refused; then a short probe measures passes of the real model on the
device (``densviz.run.probe``) and a run whose passes, at the measured time,
would exceed it is refused, with the measurement in the sentence. While it
runs, the clock is read between passes (a pass cannot be interrupted): at the
limit, or when the caller's ``stop`` event is set, the run stops there and
raises :class:`RunStoppedError`; the passes done are discarded (part of a run
is no measure of it: its warm-up may be unfinished, and a run stopped by the
clock ran slower than measured, so its timings are suspect too).

The options and the result are :mod:`densviz.run.timing_result`'s
(re-exported here); this module measures.

A compiled run (``RunOptions.compiled``, ``densviz.run.compiled``) checks the
shapes on the eager model (a compiled graph runs no module hooks), then
compiles (or reuses the model compiled by an earlier run in this process),
and times and measures the compiled model. Its compile is reported apart from
its passes, and has a limit of its own (``max_compile_seconds``, checked up
front from the compile's estimate; see ``densviz.run.limit``); the probe times
the eager model.
"""

from __future__ import annotations

import math
import statistics
import threading
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from densviz.core.config import DenseNetConfig, InputSpec
from densviz.core.memory import DEFAULT_BUDGET_BYTES
from densviz.core.plan import ArchitecturePlan, LayerKind, checked_plan
from densviz.nn.model import DenseNet, build_model
from densviz.run.compiled import (
    Compiled,
    CompileError,
    CompileKey,
    compile_key,
    compile_session,
    compile_support,
    estimate_compile,
)
from densviz.run.devices import Precision, autocast, check_precision, choose_device, synchronize
from densviz.run.limit import Passes, RunStoppedError, check_at_peak, check_compile, now
from densviz.run.memory import forward_peak_memory
from densviz.run.peak import observe_rate
from densviz.run.preamble import check_probed, device_name, place
from densviz.run.probe import format_seconds
from densviz.run.timing_result import RunOptions, RunResult, ShapeCheck
from densviz.run.weights import RANDOM_WEIGHTS

__all__ = [
    "RunOptions",
    "RunResult",
    "RunStoppedError",
    "ShapeCheck",
    "build_for_run",
    "run_forward",
]


def _plan_shapes(plan: ArchitecturePlan) -> list[tuple[str, tuple[int, ...]]]:
    """Every layer's and block's planned output shape, by module name."""
    n = plan.input.batch
    out: list[tuple[str, tuple[int, ...]]] = [
        (r.name, (n, r.out_channels) if r.kind is LayerKind.LINEAR else (n, r.out_channels, *r.out_hw))
        for r in plan.layers
    ]
    out += [(b.name, (n, b.out_channels, *b.hw)) for b in plan.blocks]
    return out


def _check_shapes(
    model: nn.Module, plan: ArchitecturePlan, x: Tensor, device: torch.device, precision: Precision, passes: Passes
) -> tuple[ShapeCheck, ...]:
    """One untimed pass with hooks that record every planned module's output shape."""
    shapes: dict[str, tuple[int, ...]] = {}
    modules = dict(model.named_modules())
    handles = []
    for name, _ in _plan_shapes(plan):
        if name in modules:

            def record(_m: nn.Module, _i: Any, out: Tensor, name: str = name) -> None:
                shapes[name] = tuple(out.shape)

            handles.append(modules[name].register_forward_hook(record))
    try:
        passes.check()
        with torch.inference_mode(), autocast(device, precision):
            model(x)
        synchronize(device)
    finally:
        for h in handles:
            h.remove()
    passes.passed()
    return tuple(ShapeCheck(name, planned, shapes.get(name)) for name, planned in _plan_shapes(plan))


def _time_passes(
    model: nn.Module,
    x: Tensor,
    device: torch.device,
    options: RunOptions,
    say: Callable[[str], None],
    passes: Passes,
) -> tuple[list[float], Tensor]:
    """Warm up, then time ``options.runs`` passes: (latencies in ms, the last logits)."""
    say(f"warming up ({options.warmup} passes)")
    latencies: list[float] = []
    with torch.inference_mode(), autocast(device, options.precision):
        for _ in range(options.warmup):
            passes.check()
            model(x)
            synchronize(device)  # each pass ends before the clock is read for the next
            passes.passed()
        say(f"timing {options.runs} passes")
        for _ in range(options.runs):
            passes.check()
            start = now()
            logits = model(x)
            synchronize(device)
            latencies.append((now() - start) * 1e3)
            passes.passed()
    return latencies, logits


def _placed_within_limit(
    model: nn.Module,
    plan: ArchitecturePlan,
    x: Tensor,
    options: RunOptions,
    device: torch.device,
    threads: int,
    started: float,
    say: Callable[[str], None],
    random_weights: bool,
) -> tuple[nn.Module, Tensor, CompileKey | None]:
    """The model and input on the device, once the run is known to fit its time limit (else ``ConfigError``).

    Also the key a compiled run compiles under (``None`` when not compiled);
    its compile's estimate counts against the limit.
    """
    say(f"finding this device's {options.precision.value} peak (measured once per precision and thread count)")
    check_at_peak(plan, x.shape[0], options, device, threads)
    say(f"moving the model to {device}")
    model, x = place(model, x, device, options.channels_last)
    key = (
        compile_key(
            model, plan, x, device, options.precision, options.channels_last, threads, random_weights=random_weights
        )
        if options.compiled
        else None
    )
    check_probed(model, x, plan, device, options.precision, options, started, say, what="the run")
    if key is not None:
        check_compile(estimate_compile(plan, key), options.max_compile_seconds, device)
    return model, x, key


def _memory_estimate(plan: ArchitecturePlan, precision: Precision) -> tuple[int, str]:
    """The plan's inference peak in the run's precision, and what it counts."""
    fp32 = plan.memory.inference_peak_bytes
    what = "the plan's estimate: the float32 activations alive at once in a pass without autograd"
    if precision is Precision.FP32:
        return fp32, what
    return fp32 // 2, f"{what}, halved: {precision.value} autocast keeps the activations in {precision.value}"


def _classes(plan: ArchitecturePlan, classes: Sequence[str] | None) -> tuple[str, ...] | None:
    """The class names, checked against the network's classes."""
    if classes is None:
        return None
    if len(classes) != plan.config.num_classes:
        raise ValueError(f"{len(classes)} class names for a network with {plan.config.num_classes} classes")
    return tuple(classes)


def _percentile_90(latencies: list[float]) -> float:
    """The 90th percentile (nearest rank)."""
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]


def _top5(logits: Tensor) -> tuple[tuple[int, float], ...]:
    """(class index, probability) of the first image's five best classes (fewer if there are fewer)."""
    probs = torch.softmax(logits[0].float(), dim=0)
    values, indices = probs.topk(min(5, probs.numel()))
    return tuple((int(i), float(v)) for i, v in zip(indices.tolist(), values.tolist(), strict=True))


def run_forward(
    model: nn.Module,
    plan: ArchitecturePlan,
    x: Tensor,
    options: RunOptions,
    progress: Callable[[str], None] | None = None,
    *,
    weights: str = RANDOM_WEIGHTS,
    classes: Sequence[str] | None = None,
    stop: threading.Event | None = None,
    on_pass: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Time forward passes of ``model`` on ``x`` and check every output shape.

    Args:
        model: The built network (moved to the device here, put in eval mode).
        plan: Its plan (for the MACs, the shapes and the memory estimate).
        x: Input, (N, C, H, W) on the CPU.
        options: Device, precision, memory format, runs, time limit.
        progress: Called with a short sentence before each step.
        weights: What the model's weights are (a file's name), for the report.
        classes: The classes' names where they are known, one per output.
        stop: When set, the run stops before its next pass (the pass in
            flight finishes) and raises :class:`RunStoppedError`.
        on_pass: Called after every pass with (passes done, passes in all);
            it may set ``stop``, or raise to end the run there.

    Raises:
        ConfigError: before the run, when it would exceed ``options.max_seconds``
            (the sentence gives the measured pass), or for a precision the device lacks.
        CompileError: compiled, without a compiler here or when the compile failed.
        RunStoppedError: stopped between two passes (the time limit, or ``stop``); nothing is kept.
    """
    started = now()
    say = progress or (lambda _msg: None)
    names = _classes(plan, classes)
    device = choose_device(options.device)
    check_precision(device, options.precision)
    if options.compiled and (why := compile_support(device)):  # said before any work
        raise CompileError(why[0].upper() + why[1:] + ".")
    if options.threads is not None:
        torch.set_num_threads(options.threads)
    threads = torch.get_num_threads()
    model, x, key = _placed_within_limit(
        model, plan, x, options, device, threads, started, say, weights == RANDOM_WEIGHTS
    )
    passes = Passes(options, started, stop, on_pass)
    say("checking every module's output shape")
    checks = _check_shapes(model, plan, x, device, options.precision, passes)
    compiled: Compiled | None = None
    if key is None:
        latencies, logits = _time_passes(model, x, device, options, say, passes)
        say("measuring the peak memory of one more pass")
        passes.check()
        memory, memory_source = forward_peak_memory(model, x, device, options.precision)
        passes.passed()
    else:
        with compile_session(passes.check, lambda: say("waiting for another compiled run in this process")) as session:
            passes.check()
            compiling = now()
            compiled = session.get(model, plan, x, device, options.precision, options.channels_last, threads, say, key)
            passes.exclude(now() - compiling)  # the compile has its own limit
            say(
                f"compiled in {format_seconds(compiled.seconds)}"
                if not compiled.reused
                else "reusing the compiled model"
            )
            passes.passed()
            passes.passed()
            latencies, logits = _time_passes(compiled.module, x, device, options, say, passes)
            say("measuring the peak memory of one more pass")
            passes.check()
            memory, memory_source = forward_peak_memory(compiled.module, x, device, options.precision)
            passes.passed()
    estimate, estimate_source = _memory_estimate(plan, options.precision)
    median = statistics.median(latencies)
    gflops = 2 * plan.totals.macs * x.shape[0] / (median / 1e3) / 1e9
    peak = observe_rate(str(device), options.precision, threads, gflops)
    return RunResult(
        device=str(device),
        device_name=device_name(device),
        precision=options.precision,
        channels_last=options.channels_last,
        batch=int(x.shape[0]),
        threads=threads,
        latencies_ms=tuple(latencies),
        median_ms=median,
        p90_ms=_percentile_90(latencies),
        images_per_s=x.shape[0] / (median / 1e3),
        gflops=gflops,
        peak_gflops=peak.gflops,
        peak_source=peak.source,
        peak_memory_bytes=memory,
        memory_source=memory_source,
        estimated_peak_memory_bytes=estimate,
        estimate_source=estimate_source,
        output_shape=tuple(logits.shape),
        top5=_top5(logits),
        weights=weights,
        classes=names,
        shapes=checks,
        compiled=compiled is not None,
        compile_seconds=compiled.seconds if compiled is not None else None,
        compile_source=compiled.source if compiled is not None else "",
    )


def build_for_run(
    cfg: DenseNetConfig, spec: InputSpec, budget_bytes: int = DEFAULT_BUDGET_BYTES
) -> tuple[DenseNet, ArchitecturePlan]:
    """The model and its plan, after the resource guard (before anything is allocated)."""
    plan = checked_plan(cfg, spec, budget_bytes)
    return build_model(cfg, budget_bytes=budget_bytes), plan
