"""The fastest-settings measurement's options and what it measured: plain data, JSON-ready.

:class:`Candidate` (one setting: precision, layout, compiled or eager),
:data:`REFERENCE` (eager fp32, what speedups and logit differences are
against), :class:`FastestOptions` (how to measure), :class:`SettingTiming`
(one candidate measured) and :class:`FastestResult` (all of them, and the
fastest). :mod:`densviz.run.fastest` finds the candidates of a device and
measures them, and re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from densviz.run.devices import Precision

__all__ = ["FASTEST_SECONDS", "REFERENCE", "Candidate", "FastestOptions", "FastestResult", "SettingTiming"]

FASTEST_SECONDS = 600.0
"""The default time limit of the whole measurement (it compiles: a minute or two for DenseNet-121 on a CPU core)."""


@dataclass(frozen=True)
class Candidate:
    """One setting to measure.

    Attributes:
        precision: fp32, or bf16/fp16 autocast.
        channels_last: NHWC memory format.
        compiled: ``torch.compile`` with Inductor.
    """

    precision: Precision
    channels_last: bool
    compiled: bool = False

    @property
    def name(self) -> str:
        """The setting in words: ``eager fp32``, ``compiled bf16 channels-last``."""
        return f"{'compiled' if self.compiled else 'eager'} {self.precision.value}{' channels-last' if self.channels_last else ''}"


REFERENCE = Candidate(Precision.FP32, channels_last=False)
"""Eager fp32 in the default layout: what the speedups and the logit differences are against."""


@dataclass(frozen=True)
class FastestOptions:
    """How to measure.

    Attributes:
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        runs: Timed passes of each candidate (taking turns).
        warmup: Untimed passes of each candidate first.
        threads: CPU threads; ``None`` keeps torch's setting.
        max_seconds: The time limit of the passes; ``None`` for none.
        max_compile_seconds: The limit of each compile (estimated up front), apart; ``None`` for none.
    """

    device: str = "auto"
    runs: int = 5
    warmup: int = 1
    threads: int | None = None
    max_seconds: float | None = FASTEST_SECONDS
    max_compile_seconds: float | None = FASTEST_SECONDS

    def passes_of(self, settings: int, compiled: int) -> tuple[int, str]:
        """The passes of a measurement of ``settings`` candidates, ``compiled`` of them compiled."""
        each = self.warmup + self.runs
        total = settings * each + 2 * compiled
        calls = f", and {2 * compiled} compiling calls" if compiled else ""
        return total, f"{total} passes: {settings} settings × ({self.warmup} warm-up + {self.runs} timed){calls}"


@dataclass(frozen=True)
class SettingTiming:
    """One candidate, measured.

    Attributes:
        candidate: The setting.
        latencies_ms: Its timed passes.
        median_ms: Their median.
        gflops: Achieved GFLOP/s, from the plan's MACs.
        peak_gflops: The device's peak in its precision (raised by a faster run).
        peak_source: How that peak was found.
        max_logit_difference: Largest |logit − eager fp32's logit| on the last pass.
        speedup: Eager fp32's median over this one's.
        compile_seconds: Its compile, apart from the passes (compiled only).
        compile_source: How the compile time was found, or that it was reused.
    """

    candidate: Candidate
    latencies_ms: tuple[float, ...]
    median_ms: float
    gflops: float
    peak_gflops: float
    peak_source: str
    max_logit_difference: float
    speedup: float
    compile_seconds: float | None = None
    compile_source: str = ""

    @property
    def fraction_of_peak(self) -> float:
        """GFLOP/s over the peak in the same precision: at most 1 (a faster run raises the peak)."""
        return min(1.0, self.gflops / self.peak_gflops) if self.peak_gflops else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        c = self.candidate
        return {
            "setting": c.name,
            "precision": c.precision.value,
            "channels_last": c.channels_last,
            "compiled": c.compiled,
            "median_ms": self.median_ms,
            "gflops": self.gflops,
            "peak_gflops": self.peak_gflops,
            "fraction_of_peak": self.fraction_of_peak,
            "peak_source": self.peak_source,
            "max_logit_difference": self.max_logit_difference,
            "speedup": self.speedup,
            "compile_seconds": self.compile_seconds,
            "compile_source": self.compile_source,
            "latencies_ms": list(self.latencies_ms),
        }


@dataclass(frozen=True)
class FastestResult:
    """Every candidate measured on one device, and the fastest."""

    device: str
    device_name: str
    batch: int
    threads: int
    runs: int
    settings: tuple[SettingTiming, ...]
    notes: tuple[str, ...] = ()

    @property
    def fastest(self) -> SettingTiming:
        """The candidate with the shortest median."""
        return min(self.settings, key=lambda s: s.median_ms)

    @property
    def method(self) -> str:
        """How the candidates were measured, in words."""
        return (
            f"{self.runs} timed passes each after a warm-up, the candidates taking turns pass by pass, medians; "
            f"batch {self.batch}, {self.threads} thread{'s' if self.threads != 1 else ''}, the same weights and input"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (what ``densviz run --fastest --json`` gives under ``fastest``)."""
        return {
            "device": self.device,
            "device_name": self.device_name,
            "batch": self.batch,
            "threads": self.threads,
            "runs": self.runs,
            "method": self.method,
            "fastest": self.fastest.candidate.name,
            "speedup": self.fastest.speedup,
            "settings": [s.to_dict() for s in self.settings],
            "notes": list(self.notes),
        }
