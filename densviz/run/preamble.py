"""What a measurement of the model does before its first pass: the device, its threads, the probe against the limit.

A timed run (:mod:`densviz.run.timing`), a profile (:mod:`densviz.run.profile`)
and the fastest settings (:mod:`densviz.run.fastest`) each read their options
the same way: the device named (checked for the precision), torch's thread
count set for the passes (:func:`on_device`), the model and input placed
there in the layout asked for (:func:`place`), then, where there is a time
limit, a short probe of real passes whose measured time refuses a measurement
that would end past it (:func:`check_probed`); a result names the device as
people know it (:func:`device_name`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from densviz.core.plan import ArchitecturePlan
from densviz.run.devices import Precision, available_devices, check_precision, choose_device
from densviz.run.limit import RunOptions, check_measured, now
from densviz.run.probe import PROBE_SECONDS, format_seconds, probe_pass

__all__ = ["check_probed", "device_name", "on_device", "place"]


@contextmanager
def on_device(device: str, precision: Precision, threads: int | None) -> Iterator[tuple[torch.device, int]]:
    """The device named and torch's thread count for the passes; the count is put back after them.

    Args:
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        precision: The precision the device must have.
        threads: CPU threads for the passes; ``None`` keeps torch's setting.

    Yields:
        (the device, the threads the passes run on).

    Raises:
        ConfigError: for a device or precision this machine lacks (before the threads are touched).
    """
    where = choose_device(device)
    check_precision(where, precision)
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield where, torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def place(model: nn.Module, x: Tensor, device: torch.device, channels_last: bool) -> tuple[nn.Module, Tensor]:
    """The model in eval mode and the input, on the device and in the memory format of the passes."""
    model = model.to(device).eval()
    x = x.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        x = x.contiguous(memory_format=torch.channels_last)
    return model, x


def check_probed(
    model: nn.Module,
    x: Tensor,
    plan: ArchitecturePlan,
    device: torch.device,
    precision: Precision,
    limit: RunOptions,
    started: float,
    say: Callable[[str], None],
    *,
    what: str,
    of: str = "",
) -> None:
    """Refuse, from a few measured passes, a measurement whose passes would end past its limit; nothing without one.

    Args:
        model: The model as it will run (on the device, in its layout).
        x: Its input, likewise.
        plan: Its plan (the probe's smaller inputs).
        device: Where it runs.
        precision: The precision of the probe's passes.
        limit: The measurement's passes and time limit (``limit.max_seconds``).
        started: The clock's reading (``densviz.run.limit.now``) when the measurement began.
        say: Called with a sentence before the probe and with its result.
        what: The measurement in the sentence: ``the run``, ``the profile``.
        of: What the probe's passes are, where that needs saying: `` of eager fp32``.

    Raises:
        ConfigError: when the measured passes would end past the limit (the sentence gives the measurement).
    """
    if limit.max_seconds is None:
        return
    say(f"timing a few short passes{of} to estimate {what}'s time")
    budget = min(PROBE_SECONDS, limit.max_seconds / 20)  # at most 5% of the limit
    probe = probe_pass(model, x, plan.config, device, precision, budget=budget, clock=now)
    say(f"about {format_seconds(probe.pass_seconds)} a pass{of} ({probe.describe()})")
    check_measured(probe, limit, device, now() - started)


def device_name(device: torch.device) -> str:
    """The device's name as people know it (``str(device)`` where it has none)."""
    return next((d.name for d in available_devices() if torch.device(d.device) == device), str(device))
