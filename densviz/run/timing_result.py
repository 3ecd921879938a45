"""A timed forward pass's options and what it measured: plain data, the figures' units in their names.

:class:`RunOptions` (how to run; each field checked by its setting in
``densviz.core.settings``), :class:`ShapeCheck` (one module's output shape,
planned and measured) and :class:`RunResult` (latency, throughput, GFLOP/s
against the peak, memory, the top-5 and the shape checks, JSON-ready).
:mod:`densviz.run.timing` measures them and re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from densviz.core.settings import SETTINGS
from densviz.run.devices import Precision
from densviz.run.weights import RANDOM_WEIGHTS

__all__ = ["RunOptions", "RunResult", "ShapeCheck"]


@dataclass(frozen=True)
class RunOptions:
    """How to run.

    Attributes:
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        precision: fp32, or bf16/fp16 autocast.
        channels_last: NHWC memory format (faster convolutions on many CPUs and GPUs).
        runs: Timed repetitions (after warm-up).
        warmup: Untimed repetitions first.
        threads: CPU threads; ``None`` leaves torch's setting.
        compiled: ``torch.compile`` with Inductor (see ``densviz.run.compiled``).
        max_compile_seconds: The limit of a compile (estimated up front; a
            compile cannot be interrupted), apart from ``max_seconds``; ``None`` for none.
        max_seconds: The run's time limit: a run estimated (from a measured
            probe) to take longer is refused before it starts, and one that
            reaches it stops between two passes; ``None`` for no limit.
    """

    device: str = SETTINGS["device"].default
    precision: Precision = SETTINGS["dtype"].default
    channels_last: bool = SETTINGS["channels_last"].default
    runs: int = SETTINGS["runs"].default
    warmup: int = SETTINGS["warmup"].default
    threads: int | None = SETTINGS["threads"].default
    compiled: bool = SETTINGS["compiled"].default
    max_seconds: float | None = 120.0
    max_compile_seconds: float | None = 600.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "precision", SETTINGS["dtype"].check(Precision(self.precision)))
        for name in ("channels_last", "compiled", "runs", "warmup", "threads"):
            SETTINGS[name].check(getattr(self, name))

    def passes(self) -> tuple[int, str]:
        """The passes of the run and what they are, in words (the time limit counts them)."""
        compiling = 2 if self.compiled else 0
        total = compiling + self.warmup + self.runs + 2
        calls = "the compile's 2 calls, " if compiling else ""
        warmup = f"{self.warmup} warm-up, " if self.warmup else ""
        return total, f"{total} passes: {calls}{warmup}{self.runs} timed, the shape check's and the memory's"


@dataclass(frozen=True)
class ShapeCheck:
    """One module's output shape, planned and measured."""

    name: str
    planned: tuple[int, ...]
    measured: tuple[int, ...] | None

    @property
    def ok(self) -> bool:
        """Whether they agree."""
        return self.planned == self.measured


@dataclass(frozen=True)
class RunResult:
    """What a timed forward pass measured.

    Attributes:
        device: Where it ran (``cpu``, ``cuda:0``).
        device_name: Its name.
        precision: fp32, bf16 or fp16.
        channels_last: Whether NHWC was used.
        batch: Images per pass.
        threads: CPU threads used.
        latencies_ms: Every timed pass.
        median_ms: Median latency of one pass.
        p90_ms: 90th percentile.
        images_per_s: batch / median.
        gflops: Achieved GFLOP/s, from the plan's MACs (2 FLOPs each).
        peak_gflops: This device's peak in the same precision and threads:
            the best of the measured kernels, or this or an earlier run's
            rate where that was higher.
        peak_source: How the peak was found, in words.
        peak_memory_bytes: Peak memory of one pass (see ``memory_source``).
        memory_source: How the peak memory was measured.
        estimated_peak_memory_bytes: The plan's inference peak for this run
            (activations in the run's precision).
        estimate_source: What the estimate counts.
        output_shape: The logits' shape.
        top5: (class index, probability) of the first image's five best classes.
        weights: What the model's weights are: ``random (untrained)`` or the file.
        classes: The classes' names, where known (the digits ``0``–``9``).
        shapes: Each module's measured output shape next to the plan's.
        compiled: Whether the passes ran a ``torch.compile``'d model.
        compile_seconds: Its compile, apart from the passes (``None`` when not compiled).
        compile_source: How the compile time was found, or that the compiled model was reused.
    """

    device: str
    device_name: str
    precision: Precision
    channels_last: bool
    batch: int
    threads: int
    latencies_ms: tuple[float, ...]
    median_ms: float
    p90_ms: float
    images_per_s: float
    gflops: float
    peak_gflops: float
    peak_source: str
    peak_memory_bytes: int
    memory_source: str
    estimated_peak_memory_bytes: int
    estimate_source: str
    output_shape: tuple[int, ...]
    top5: tuple[tuple[int, float], ...]
    weights: str = RANDOM_WEIGHTS
    classes: tuple[str, ...] | None = None
    shapes: tuple[ShapeCheck, ...] = field(default=(), repr=False)
    compiled: bool = False
    compile_seconds: float | None = None
    compile_source: str = ""

    @property
    def fraction_of_peak(self) -> float:
        """Achieved GFLOP/s over the device's peak: at most 1 (a faster run raises the peak)."""
        return min(1.0, self.gflops / self.peak_gflops) if self.peak_gflops else 0.0

    @property
    def weights_random(self) -> bool:
        """Whether the model ran with its random initial weights."""
        return self.weights == RANDOM_WEIGHTS

    @property
    def top5_note(self) -> str | None:
        """What the top-5 means when it means nothing: a sentence, or ``None``."""
        if self.weights_random:
            return "The weights are random (untrained): this ranking means nothing."
        return None

    def class_name(self, index: int) -> str:
        """A class's name where the classes are known, else ``class N``."""
        return self.classes[index] if self.classes else f"class {index}"

    @property
    def shapes_ok(self) -> bool:
        """Whether every measured shape equals the plan's."""
        return all(s.ok for s in self.shapes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (what ``densviz run --json`` prints)."""
        return {
            "device": self.device,
            "device_name": self.device_name,
            "precision": self.precision.value,
            "channels_last": self.channels_last,
            "compiled": self.compiled,
            "compile_seconds": self.compile_seconds,
            "compile_source": self.compile_source,
            "batch": self.batch,
            "threads": self.threads,
            "median_ms": self.median_ms,
            "p90_ms": self.p90_ms,
            "images_per_s": self.images_per_s,
            "gflops": self.gflops,
            "peak_gflops": self.peak_gflops,
            "fraction_of_peak": self.fraction_of_peak,
            "peak_source": self.peak_source,
            "peak_memory_bytes": self.peak_memory_bytes,
            "memory_source": self.memory_source,
            "estimated_peak_memory_bytes": self.estimated_peak_memory_bytes,
            "estimate_source": self.estimate_source,
            "output_shape": list(self.output_shape),
            "weights": self.weights,
            "classes": list(self.classes) if self.classes else None,
            "top5": [
                {"class": c, "name": self.classes[c] if self.classes else None, "probability": p} for c, p in self.top5
            ],
            "shapes_verified": self.shapes_ok,
            "shape_mismatches": [
                {"name": s.name, "planned": list(s.planned), "measured": s.measured} for s in self.shapes if not s.ok
            ],
            "latencies_ms": list(self.latencies_ms),
        }
