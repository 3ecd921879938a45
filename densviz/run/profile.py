"""Where the time goes: the real model profiled per plan row, each row's rate and traffic on the roofline.

Every plan row gets a ``torch.profiler.record_function`` range named by its
module path (``features.denseblock2.denselayer7``), and inside it one range per
step (``features.denseblock2.denselayer7:conv1``), opened and closed by forward
hooks on the model's modules. The ranges partition the pass: each row runs
from the end of the row before (the forward's start for the first) to its own
module's end, so the block's closing concatenation is the next transition's
(or ``features.norm5``'s) first step, and the functional ReLU and pooling
after ``features.norm5`` are the classifier's; a dense layer's steps are its
concatenation (up to ``norm1``), ``norm1+relu1``, ``conv1``, ``norm2+relu2``
and ``conv2``. The same hooks mark each boundary's time (the clock on a CPU;
a CUDA event on a GPU, so a row's time is the device's), so the rows' times
add up to the instrumented pass.

Bytes moved: see :func:`densviz.run.bandwidth.row_bytes`. The rows' arithmetic
(steps, the median pass, bytes and rates) and the result are
:mod:`densviz.run.profile_rows`'s, re-exported here; this module measures.

A profile keeps a time limit as a timed run does (``densviz.run.limit``):
refused up front from the peak and a measured probe when its passes would
exceed it, stopped between two passes at the limit or when the caller's event
is set (:class:`~densviz.run.limit.RunStoppedError`, nothing kept).

Compiled models are not profiled per row: Inductor fuses work across the
rows (a norm and its ReLU into the next convolution, a block's
concatenations into its layers' writes) and runs no module hooks, so a
compiled pass has no per-row times to give; ``densviz.run.fastest`` times it
whole.
"""

from __future__ import annotations

import itertools
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from densviz.core.plan import ArchitecturePlan
from densviz.run.bandwidth import device_bandwidth, observe_bandwidth
from densviz.run.devices import Precision, autocast, synchronize
from densviz.run.limit import Passes, check_at_peak, now
from densviz.run.memory import PROFILER_LOCK
from densviz.run.peak import observe_rate
from densviz.run.preamble import check_probed, on_device, place
from densviz.run.profile_rows import ProfileResult, RowProfile, median_rows, pass_segments, row_steps

__all__ = ["ProfileOptions", "ProfileResult", "RowProfile", "profile_forward", "row_steps"]


@dataclass(frozen=True)
class ProfileOptions:
    """How to profile.

    Attributes:
        device, precision, channels_last, warmup: As ``densviz.run.timing.RunOptions``.
        runs: Profiled passes (each after a plain pass, and one plain pass after the last).
        threads: CPU threads; ``None`` keeps torch's setting.
        trace: Whether to keep the profiler's Chrome trace (of the last profiled pass).
        max_seconds: The time limit (refused up front when its measured passes
            would exceed it, stopped between passes when they do); ``None`` for none.
    """

    device: str = "auto"
    precision: Precision = Precision.FP32
    channels_last: bool = False
    runs: int = 10
    warmup: int = 2
    threads: int | None = None
    trace: bool = False
    max_seconds: float | None = None

    def passes(self) -> tuple[int, str]:
        """The passes of the profile and what they are, in words (the time limit counts them)."""
        total = self.warmup + 2 * self.runs + 2
        warmup = f"{self.warmup} warm-up, " if self.warmup else ""
        return total, (
            f"{total} passes: {warmup}the profiler's own warm-up, {self.runs} profiled and {self.runs + 1} plain"
        )


class _Marks:
    """Forward hooks that mark every step's end, and open and close the profiler's ranges there."""

    def __init__(self, model: nn.Module, plan: ArchitecturePlan, device: torch.device) -> None:
        self.device = device
        self.segments, ends = pass_segments(plan)
        modules = dict(model.named_modules())
        missing = [m for m, _ in ends if m not in modules]
        if missing:
            raise ValueError(f"the model has no module {missing[0]} that the plan names")
        self.handles = [model.register_forward_pre_hook(lambda _m, _a: self._hit(-1))]
        for (path, kind), i in ends.items():
            hit: Callable[..., None] = lambda *_a, i=i: self._hit(i)  # noqa: E731
            register = modules[path].register_forward_pre_hook if kind == "pre" else modules[path].register_forward_hook
            self.handles.append(register(hit))
        self.stamps: list[Any] = []
        self.open: list[Any] = []
        self.enabled = True

    def _stamp(self) -> Any:
        if self.device.type == "cuda":
            event = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
            event.record()
            return event
        synchronize(self.device)
        return time.perf_counter()

    def _enter(self, name: str) -> None:
        rf = torch.profiler.record_function(name)
        rf.__enter__()  # type: ignore[no-untyped-call]
        self.open.append(rf)

    def _hit(self, i: int) -> None:
        """Segment ``i`` ended (``-1``: the pass began): close its ranges, mark the time, open the next ones."""
        if not self.enabled:
            return
        if i >= 0:
            row, step, _, last = self.segments[i]
            for _ in range(int(bool(step)) + int(last)):
                self.open.pop().__exit__(None, None, None)
        self.stamps.append(self._stamp())
        if i + 1 < len(self.segments):
            row, step, first, _ = self.segments[i + 1]
            if first:
                self._enter(row)
            if step:
                self._enter(f"{row}:{step}")

    def times_ms(self) -> list[float]:
        """The last pass's segment times, in ms; then forget its stamps."""
        stamps, self.stamps = self.stamps, []
        if len(stamps) != len(self.segments) + 1:
            raise RuntimeError(f"{len(stamps) - 1} of {len(self.segments)} profiled steps ran")
        if self.device.type == "cuda":
            synchronize(self.device)
            return [a.elapsed_time(b) for a, b in itertools.pairwise(stamps)]
        return [(b - a) * 1e3 for a, b in itertools.pairwise(stamps)]

    def remove(self) -> None:
        """Take the hooks out."""
        for h in self.handles:
            h.remove()


def _plain_passes(
    model: nn.Module, x: Tensor, device: torch.device, precision: Precision, n: int, passes: Passes
) -> list[float]:
    """``n`` passes without hooks or profiler, each timed by the clock and waited for, in ms."""
    out = []
    with torch.inference_mode(), autocast(device, precision):
        for _ in range(n):
            passes.check()
            start = time.perf_counter()
            model(x)
            synchronize(device)
            out.append((time.perf_counter() - start) * 1e3)
            passes.passed()
    return out


def _profiled_pass(
    model: nn.Module,
    marks: _Marks,
    x: Tensor,
    device: torch.device,
    precision: Precision,
    trace: bool,
    passes: Passes,
) -> tuple[list[float], bytes | None]:
    """One pass under ``torch.profiler``: its segment times, and its Chrome trace when asked for."""
    cuda = [torch.profiler.ProfilerActivity.CUDA] if device.type == "cuda" else []
    activities = [torch.profiler.ProfilerActivity.CPU, *cuda]
    passes.check()
    # Kineto reads its log level when a profiler first starts in the process: silence it here as memory.py does.
    os.environ.setdefault("KINETO_LOG_LEVEL", "6")
    with PROFILER_LOCK, torch.profiler.profile(activities=activities) as prof:  # one profiler at a time per process
        with torch.inference_mode(), autocast(device, precision):
            model(x)
        synchronize(device)
    passes.passed()
    times = marks.times_ms()
    if not trace:
        return times, None
    with tempfile.TemporaryDirectory(prefix="densviz-trace-") as tmp:
        path = Path(tmp) / "trace.json"
        prof.export_chrome_trace(str(path))
        return times, path.read_bytes()


def _interleaved(
    model: nn.Module,
    plan: ArchitecturePlan,
    x: Tensor,
    device: torch.device,
    options: ProfileOptions,
    counted: Passes,
) -> tuple[list[float], list[list[float]], bytes | None]:
    """``runs`` times a plain pass then a profiled one, and a last plain pass: (plain ms, segment ms, last trace).

    A profiled pass first, untimed, warms the profiler and the hooks; the trace
    is the last profiled pass's, one range per plan row.
    """
    marks = _Marks(model, plan, device)
    plain: list[float] = []
    passes: list[list[float]] = []
    trace = None
    try:
        _profiled_pass(model, marks, x, device, options.precision, False, counted)
        for i in range(options.runs):
            marks.enabled = False
            plain += _plain_passes(model, x, device, options.precision, 1, counted)
            marks.enabled = True
            times, trace = _profiled_pass(
                model, marks, x, device, options.precision, options.trace and i == options.runs - 1, counted
            )
            passes.append(times)
        marks.enabled = False
        plain += _plain_passes(model, x, device, options.precision, 1, counted)
    finally:
        marks.remove()
    return plain, passes, trace


def _with_roofs(
    rows: list[RowProfile],
    plan: ArchitecturePlan,
    device: torch.device,
    options: ProfileOptions,
    threads: int,
    plain: list[float],
    trace: bytes | None,
) -> ProfileResult:
    """The result, with the peak and bandwidth raised to any row that beats them (no point above the roof)."""
    drawn = [r for r in rows if r.macs > 0 and r.time_ms > 0]
    fastest = max((r.gflops for r in drawn), default=0.0)
    whole = 2 * plan.totals.macs * plan.input.batch / (statistics.median(plain) / 1e3) / 1e9
    peak = observe_rate(str(device), options.precision, threads, max(fastest, whole))
    bandwidth = device_bandwidth(str(device), threads)
    busiest = max(drawn, key=lambda r: r.bytes_moved / r.time_ms, default=None)
    if busiest is not None:
        gbs = busiest.bytes_moved / (busiest.time_ms / 1e3) / 1e9
        bandwidth = observe_bandwidth(str(device), threads, gbs, busiest.name)
    return ProfileResult(
        device=str(device),
        precision=options.precision,
        channels_last=options.channels_last,
        batch=plan.input.batch,
        threads=threads,
        runs=options.runs,
        rows=tuple(rows),
        end_to_end_ms=statistics.median(plain),
        end_to_end_source=(
            f"median of {len(plain)} plain passes (no hooks, no profiler) in the same process, one right before "
            "each profiled pass and one after the last, same model, input and settings; clock read around each pass"
        ),
        peak_gflops=peak.gflops,
        peak_source=peak.source,
        bandwidth_gbs=bandwidth.gbs,
        bandwidth_source=bandwidth.source,
        trace=trace,
    )


def _import_compiler() -> None:
    """Import Dynamo, then Inductor, once: ``torch.profiler`` imports Inductor when it starts.

    Its start asks ``hasattr(torch, "_inductor")``, which imports the package;
    Inductor imports Dynamo, and Dynamo parts of Inductor. Imported so from a
    page's script thread while another thread imported Dynamo, the two imports
    each waited on the other's half-made module and one failed ("partially
    initialized module 'torch._inductor.utils'"). Dynamo first, as Dynamo's own
    import goes, never crosses another thread's import.
    """
    import torch._dynamo
    import torch._inductor  # noqa: F401


def profile_forward(
    model: nn.Module,
    plan: ArchitecturePlan,
    x: Tensor,
    options: ProfileOptions,
    progress: Callable[[str], None] | None = None,
    *,
    stop: threading.Event | None = None,
    on_pass: Callable[[int, int], None] | None = None,
) -> ProfileResult:
    """Profile ``model`` on ``x`` per plan row, beside its end-to-end latency and this device's roofs.

    The end-to-end latency is the median of ``runs + 1`` plain passes (no
    hooks, no profiler), one right before each profiled pass and one after
    the last, with the same model, input, precision, layout and threads: the
    plain and profiled passes alternate, so a machine that slows down slows
    both alike. The trace is the last profiled pass's.

    Args:
        model: The built network (moved to the device here, put in eval mode).
        plan: Its plan (rows, MACs, shapes).
        x: Input, (N, C, H, W), on the CPU.
        options: Device, precision, layout, passes, threads, whether to keep the trace.
        progress: Called with a short sentence before each step.
        stop: When set, the profile stops before its next pass and raises
            :class:`~densviz.run.limit.RunStoppedError`.
        on_pass: Called after every pass with (passes done, passes in all).

    Raises:
        ConfigError: for a device or precision this machine lacks, or a
            profile that would exceed ``options.max_seconds``.
        RunStoppedError: stopped between two passes (the time limit, or ``stop``); nothing is kept.
    """
    started = now()
    say = progress or (lambda _msg: None)
    _import_compiler()
    with on_device(options.device, options.precision, options.threads) as (device, threads):
        if options.max_seconds is not None:
            say(f"finding this device's {options.precision.value} peak (measured once per precision and thread count)")
            check_at_peak(plan, x.shape[0], options, device, threads)
        say(f"moving the model to {device}")
        model, x = place(model, x, device, options.channels_last)
        check_probed(model, x, plan, device, options.precision, options, started, say, what="the profile")
        counted = Passes(options, started, stop, on_pass)
        say(f"warming up ({options.warmup} passes)")
        _plain_passes(model, x, device, options.precision, options.warmup, counted)
        say(f"timing {options.runs} profiled passes, each between two plain ones")
        plain, passes, trace = _interleaved(model, plan, x, device, options, counted)
        element = 4 if options.precision is Precision.FP32 else 2
        rows = median_rows(plan, pass_segments(plan)[0], passes, element)
        say("measuring this device's peak and memory bandwidth (once per precision and thread count)")
        return _with_roofs(rows, plan, device, options, threads, plain, trace)
