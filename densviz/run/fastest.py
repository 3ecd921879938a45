"""The fastest settings this device has for a design: each candidate measured side by side, never guessed.

The candidates, on this device:

- eager fp32 (the reference every speedup and logit difference is against);
- eager fp32 channels-last;
- eager bf16 channels-last, where bf16 is native (a GPU that supports it; a
  CPU with AVX-512 BF16, AMX or Arm BF16: elsewhere PyTorch emulates it, many
  times slower than fp32, see ``densviz.run.devices.cpu_bf16_native``);
- eager fp16 channels-last on CUDA and MPS;
- compiled (``densviz.run.compiled``) channels-last in the fastest reduced
  precision the device has natively (bf16 on such a CPU; bf16 and fp16 on
  CUDA), else in fp32, where ``torch.compile`` can run here.

Each runs the same weights and input. After a warm-up pass each, the
candidates take turns pass by pass for ``runs`` rounds, so that a machine
whose load changes slows them alike; each one's median is its time. Its
GFLOP/s comes from the plan's MACs (2 FLOPs each); its share of the peak is
against the device's peak in its own precision (``densviz.run.peak``: the
best of a GEMM and a channels-last convolution, raised by a faster run, so
never above 100%); its logits' largest absolute difference is against eager
fp32's, on the last pass.

The measurement keeps a time limit as a run does: refused up front when the
candidates' passes (each estimated at eager fp32's measured time, the slowest
candidate as a rule) would exceed it; stopped between passes at the limit or
when asked. Each compile has its own limit, checked up front from its
estimate (a compile cannot be interrupted).

The options, the candidates' names and the result are
:mod:`densviz.run.fastest_result`'s (re-exported here); this module lists a
device's candidates and measures them.
"""

from __future__ import annotations

import copy
import statistics
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from densviz.core.errors import ConfigError
from densviz.core.memory import DEFAULT_BUDGET_BYTES
from densviz.core.plan import ArchitecturePlan
from densviz.core.units import format_bytes
from densviz.run.compiled import CompileSession, compile_key, compile_session, compile_support, estimate_compile
from densviz.run.devices import Precision, autocast, cpu_bf16_native, supported_precisions, synchronize
from densviz.run.fastest_result import (
    FASTEST_SECONDS,
    REFERENCE,
    Candidate,
    FastestOptions,
    FastestResult,
    SettingTiming,
)
from densviz.run.limit import Passes, check_compile, now
from densviz.run.peak import device_peak, observe_rate
from densviz.run.preamble import check_probed, device_name, on_device

__all__ = [
    "FASTEST_SECONDS",
    "REFERENCE",
    "Candidate",
    "FastestOptions",
    "FastestResult",
    "SettingTiming",
    "candidates",
    "find_fastest",
]


def _native(device: torch.device) -> list[Precision]:
    """The reduced precisions the device computes natively, fastest first."""
    precisions = supported_precisions(device)
    if device.type == "cpu":
        return [Precision.BF16] if Precision.BF16 in precisions and cpu_bf16_native() else []
    return [p for p in (Precision.BF16, Precision.FP16) if p in precisions]


def candidates(device: torch.device) -> tuple[list[Candidate], list[str]]:
    """The candidate settings on ``device``, and a sentence for each kind left out and why."""
    out = [REFERENCE, Candidate(Precision.FP32, channels_last=True)]
    notes: list[str] = []
    native = _native(device)
    out += [Candidate(p, channels_last=True) for p in native]
    if device.type == "cpu" and not native:
        said = "has no bf16 units" if cpu_bf16_native() is False else "may not have bf16 units (it cannot tell)"
        notes.append(f"bf16 left out: this CPU {said}, so PyTorch would emulate it, slower than fp32")
    if why := compile_support(device):
        notes.append(f"compiled settings left out: {why}")
        return out, notes
    out += [Candidate(p, channels_last=True, compiled=True) for p in native or [Precision.FP32]]
    return out, notes


@dataclass(frozen=True)
class _Counted:
    """The limit's view of a measurement: its passes, and the limit (see ``densviz.run.limit.RunOptions``)."""

    options: FastestOptions
    settings: int
    compiled: int

    @property
    def precision(self) -> Precision:
        return Precision.FP32

    @property
    def runs(self) -> int:
        return self.options.runs

    @property
    def max_seconds(self) -> float | None:
        return self.options.max_seconds

    def passes(self) -> tuple[int, str]:
        return self.options.passes_of(self.settings, self.compiled)


@dataclass
class _Placed:
    candidate: Candidate
    model: nn.Module
    x: Tensor
    times: list[float] = field(default_factory=list)
    logits: Tensor | None = None
    compile_seconds: float | None = None
    compile_source: str = ""


def _placed(model: nn.Module, x: Tensor, device: torch.device, candidate: Candidate) -> _Placed:
    """A copy of the model and the input, on the device in the candidate's layout."""
    layout = torch.channels_last if candidate.channels_last else torch.contiguous_format
    copied = copy.deepcopy(model).to(device).eval().to(memory_format=layout)  # type: ignore[call-overload]
    return _Placed(candidate, copied, x.to(device).contiguous(memory_format=layout))


def _pass(p: _Placed, device: torch.device) -> float:
    """One pass of a candidate, waited for: its time in ms (its logits kept)."""
    synchronize(device)
    start = now()
    with torch.inference_mode(), autocast(device, p.candidate.precision):
        p.logits = p.model(p.x)
    synchronize(device)
    return (now() - start) * 1e3


def _take_turns(placed: list[_Placed], rounds: int, device: torch.device, passes: Passes, *, timed: bool) -> None:
    """``rounds`` rounds of one pass of each candidate in turn; timed, each pass's time is kept."""
    for _ in range(rounds):
        for p in placed:
            passes.check()
            ms = _pass(p, device)
            if timed:
                p.times.append(ms)
            passes.passed()


@contextmanager
def _maybe_session(needed: bool, passes: Passes, say: Callable[[str], None]) -> Iterator[CompileSession | None]:
    if not needed:
        yield None
        return
    with compile_session(passes.check, lambda: say("waiting for another compiled run in this process")) as session:
        yield session


def find_fastest(
    model: nn.Module,
    plan: ArchitecturePlan,
    x: Tensor,
    options: FastestOptions,
    progress: Callable[[str], None] | None = None,
    *,
    random_weights: bool = True,
    stop: threading.Event | None = None,
    on_pass: Callable[[int, int], None] | None = None,
    budget_bytes: int = DEFAULT_BUDGET_BYTES,
) -> FastestResult:
    """Measure every candidate setting of ``model`` on this device, side by side.

    Args:
        model: The built network (left where it is: each candidate runs a copy).
        plan: Its plan (MACs).
        x: Input, (N, C, H, W), on the CPU.
        options: Device, passes, threads, time limit.
        progress: Called with a short sentence before each step.
        random_weights: The weights are random (untrained): with one compiled
            candidate, a compiled model of an earlier run with random weights
            is reused and every candidate takes its weights.
        stop: When set, the measurement stops before its next pass.
        on_pass: Called after every pass with (passes done, passes in all).
        budget_bytes: The memory the candidates' copies of the weights and one
            pass's activations may take together.

    Raises:
        ConfigError: for a device this machine lacks, a measurement over the
            time limit, or copies of the weights over the memory budget.
        RunStoppedError: stopped between two passes.
        CompileError: the compile failed.
    """
    started = now()
    say = progress or (lambda _msg: None)
    with on_device(options.device, Precision.FP32, options.threads) as (device, threads):
        todo, notes = candidates(device)
        compiled = [c for c in todo if c.compiled]
        _check_memory(plan, len(todo) + len(compiled), budget_bytes)
        for precision in dict.fromkeys(c.precision for c in todo):
            say(f"finding this device's {precision.value} peak (measured once per precision and thread count)")
            device_peak(str(device), precision, threads)
        say(f"placing {len(todo)} copies of the model on {device}: " + ", ".join(c.name for c in todo))
        placed = [_placed(model, x, device, c) for c in todo]
        shared = random_weights and len(compiled) == 1  # any random weights will do: an earlier compile's
        keys = {
            p.candidate: compile_key(
                p.model, plan, p.x, device, p.candidate.precision, True, threads, random_weights=shared
            )
            for p in placed
            if p.candidate.compiled
        }
        counted = _Counted(options, len(todo), len(compiled))
        check_probed(
            placed[0].model,
            placed[0].x,
            plan,
            device,
            Precision.FP32,
            counted,
            started,
            say,
            what="the measurement",
            of=" of eager fp32",
        )
        for key in keys.values():
            check_compile(estimate_compile(plan, key), options.max_compile_seconds, device)
        passes = Passes(counted, started, stop, on_pass)
        with _maybe_session(bool(compiled), passes, say) as session:
            for p in placed:
                if not p.candidate.compiled:
                    continue
                assert session is not None
                passes.check()
                compiling = now()
                got = session.get(
                    p.model, plan, p.x, device, p.candidate.precision, True, threads, say, keys[p.candidate]
                )
                passes.exclude(now() - compiling)  # each compile has its own limit
                passes.passed()
                passes.passed()
                p.model, p.compile_seconds, p.compile_source = got.module, got.seconds, got.source
                if shared and got.reused:  # the copy took the compiled weights: so do the others
                    with torch.no_grad():
                        for other in placed:
                            if not other.candidate.compiled:
                                other.model.load_state_dict(got.model.state_dict())
            say(f"warming up ({options.warmup} pass{'es' if options.warmup != 1 else ''} each)")
            _take_turns(placed, options.warmup, device, passes, timed=False)
            say(f"timing {options.runs} passes each, taking turns")
            _take_turns(placed, options.runs, device, passes, timed=True)
        return _result(plan, device, threads, options, placed, notes)


def _check_memory(plan: ArchitecturePlan, copies: int, budget_bytes: int) -> None:
    """Refuse when the candidates' copies of the weights and a pass's activations exceed the budget."""
    need = copies * plan.totals.param_bytes + plan.memory.inference_peak_bytes
    if need > budget_bytes:
        raise ConfigError(
            "memory",
            need,
            "",
            message=(
                f"measuring the fastest settings keeps {copies} copies of the weights "
                f"({format_bytes(plan.totals.param_bytes)} each) beside a pass's activations, "
                f"{format_bytes(need)} in all, over the memory budget of {format_bytes(budget_bytes)}; "
                "lower the batch or the input size, or time one setting at a time."
            ),
        )


def _peak(
    device: torch.device, threads: int, precision: Precision, placed: list[_Placed], rates: dict[int, float]
) -> tuple[float, str]:
    """A precision's peak after every setting was observed, and how it was found (naming the setting that raised it)."""
    peak = device_peak(str(device), precision, threads)
    ours = [p for p in placed if p.candidate.precision is precision]
    best = max(ours, key=lambda p: rates[id(p)])
    if peak.raised and rates[id(best)] >= peak.gflops:
        return peak.gflops, (
            f"raised to the {best.candidate.name} setting's rate ({peak.gflops:.1f} GFLOP/s), "
            f"which beat the {peak.measured}"
        )
    return peak.gflops, peak.source


def _result(
    plan: ArchitecturePlan,
    device: torch.device,
    threads: int,
    options: FastestOptions,
    placed: list[_Placed],
    notes: list[str],
) -> FastestResult:
    """Each candidate's figures, against eager fp32 and its precision's peak."""
    reference = placed[0]
    assert reference.candidate == REFERENCE and reference.logits is not None
    base = statistics.median(reference.times)
    want = reference.logits.float()
    batch = int(reference.x.shape[0])
    rates = {id(p): 2 * plan.totals.macs * batch / (statistics.median(p.times) / 1e3) / 1e9 for p in placed}
    for p in placed:  # every rate first: a setting faster than the kernels raises its precision's peak for all
        observe_rate(str(device), p.candidate.precision, threads, rates[id(p)])
    peaks = {p.candidate.precision: _peak(device, threads, p.candidate.precision, placed, rates) for p in placed}
    timings = []
    for p in placed:
        assert p.logits is not None
        median = statistics.median(p.times)
        gflops = rates[id(p)]
        peak = peaks[p.candidate.precision]
        timings.append(
            SettingTiming(
                candidate=p.candidate,
                latencies_ms=tuple(p.times),
                median_ms=median,
                gflops=gflops,
                peak_gflops=peak[0],
                peak_source=peak[1],
                max_logit_difference=float((p.logits.float() - want).abs().max()),
                speedup=base / median,
                compile_seconds=p.compile_seconds,
                compile_source=p.compile_source,
            )
        )
    return FastestResult(str(device), device_name(device), batch, threads, options.runs, tuple(timings), tuple(notes))
