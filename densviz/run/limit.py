"""A run's time limit: refused before it starts when it would exceed it, stopped between passes when it does.

Two checks before the run: :func:`check_at_peak` refuses, before the model is
placed on the device, a run that would exceed the limit even at twice the
device's peak (a run may beat the kernels the peak is measured with);
:func:`check_measured` refuses one whose passes, at the time a probe measured
(``densviz.run.probe``), would end past it. While it runs, :class:`Passes`
reads the clock between two passes (a pass cannot be interrupted) and stops the
run at the limit, or when the caller's event is set.

A compiled run's compile has a limit of its own (:func:`check_compile`):
compiling DenseNet-121 takes a minute on an idle CPU core and ten on a busy
one, and a compile cannot be interrupted, so a run whose compile is estimated
(``densviz.run.compiled``: zero when the compiled model is cached) past that
limit is refused before anything runs; the compile's time is then left out of
the passes' clock (:meth:`Passes.exclude`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch

from densviz.core.errors import ConfigError
from densviz.core.plan import ArchitecturePlan
from densviz.run.devices import Precision
from densviz.run.peak import device_peak
from densviz.run.probe import Probe, format_seconds

__all__ = [
    "CompileEstimate",
    "Passes",
    "RunStoppedError",
    "check_at_peak",
    "check_compile",
    "check_measured",
    "now",
    "pass_count",
]

_clock: Callable[[], float] = time.perf_counter
"""The clock every pass is timed and the limit kept by (tests replace it)."""

_LOWER = "lower the runs, the batch or the input size"


class RunOptions(Protocol):
    """What the limit reads of a run's options (``densviz.run.timing.RunOptions``, ``densviz.run.profile.ProfileOptions``)."""

    @property
    def precision(self) -> Precision:
        """The run's precision."""

    @property
    def runs(self) -> int:
        """Timed passes."""

    @property
    def max_seconds(self) -> float | None:
        """The time limit; ``None`` for none."""

    def passes(self) -> tuple[int, str]:
        """The passes of the whole run and what they are, in words."""


def now() -> float:
    """The clock's reading, in seconds."""
    return _clock()


class RunStoppedError(ConfigError):
    """A run stopped between two passes, at its time limit or when asked; the passes done were discarded.

    Attributes:
        done: The passes done.
        total: The passes of the whole run (the shape check's, the warm-up, the timed and the memory's).
        asked: Whether the caller asked for the stop (else the time limit was reached).
    """

    def __init__(self, done: int, total: int, why: str, *, asked: bool):
        self.done = done
        self.total = total
        self.asked = asked
        super().__init__("runs", total, "", message=f"stopped after {done} of {total} passes{why}")


def pass_count(options: RunOptions) -> tuple[int, str]:
    """The passes of a run and what they are, in words."""
    return options.passes()


@dataclass(frozen=True)
class CompileEstimate:
    """What a compile before the passes is expected to take.

    Attributes:
        seconds: The estimate (0 when the compiled model is cached).
        source: How it was found, in words.
    """

    seconds: float
    source: str


def check_at_peak(plan: ArchitecturePlan, batch: int, options: RunOptions, device: torch.device, threads: int) -> None:
    """Refuse, before the model is placed, a run over its limit even at twice the device's peak."""
    if options.max_seconds is None:
        return
    peak = 2 * device_peak(str(device), options.precision, threads).gflops  # a run may beat the kernels' peak
    passes, what = pass_count(options)
    work = 2 * plan.totals.macs * batch * passes / 1e9  # GFLOP
    if work / peak > options.max_seconds:
        raise ConfigError(
            "runs",
            options.runs,
            "",
            message=(
                f"this run would take about {work / peak:.0f} s even at {peak:.0f} GFLOP/s, twice this device's "
                f"peak on {device} ({what}, of {work / passes:.1f} GFLOP each), "
                f"over the {options.max_seconds:g} s limit; {_LOWER}."
            ),
        )


def check_measured(probe: Probe, options: RunOptions, device: torch.device, spent: float) -> None:
    """Refuse a run whose passes, at the probe's measured time, would end past its limit."""
    if options.max_seconds is None:
        return
    passes, what = pass_count(options)
    total = spent + passes * probe.pass_seconds
    if total > options.max_seconds:
        raise ConfigError(
            "runs",
            options.runs,
            "",
            message=(
                f"this run would take about {format_seconds(total)} on {device} ({what}, of about "
                f"{format_seconds(probe.pass_seconds)} each: {probe.describe()}), "
                f"over the {options.max_seconds:g} s limit; {_LOWER}."
            ),
        )


def check_compile(estimate: CompileEstimate, limit: float | None, device: torch.device) -> None:
    """Refuse a compile estimated past ``limit`` seconds (``None``: no limit), before anything runs."""
    if limit is None or estimate.seconds <= limit:
        return
    raise ConfigError(
        "compiled",
        True,
        "",
        message=(
            f"compiling this design on {device} would take about {format_seconds(estimate.seconds)} "
            f"({estimate.source}), over the {limit:g} s limit of a compile; run it without compiling."
        ),
    )


class Passes:
    """The run's passes, counted; before each, the run stops if its time is up or a stop was asked."""

    def __init__(
        self,
        options: RunOptions,
        started: float,
        stop: threading.Event | None,
        on_pass: Callable[[int, int], None] | None,
    ):
        self.total = pass_count(options)[0]
        self.done = 0
        self.limit = options.max_seconds
        self.started = started
        self.stop = stop
        self.on_pass = on_pass

    def check(self) -> None:
        """Raise :class:`RunStoppedError` if the run must stop before its next pass."""
        if self.stop is not None and self.stop.is_set():
            raise RunStoppedError(self.done, self.total, ", as asked; their timings were discarded.", asked=True)
        if self.limit is not None and now() - self.started >= self.limit:
            raise RunStoppedError(
                self.done,
                self.total,
                f": the time limit of {self.limit:g} s was reached, and their timings were discarded; {_LOWER}.",
                asked=False,
            )

    def exclude(self, seconds: float) -> None:
        """Leave ``seconds`` (a compile, which has its own limit) out of the run's clock."""
        self.started += seconds

    def passed(self) -> None:
        """Count a finished pass and tell the caller."""
        self.done += 1
        if self.on_pass is not None:
            self.on_pass(self.done, self.total)
