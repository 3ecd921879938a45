"""Peak memory: of one forward pass by the allocator's own accounting; of a block by CUDA's allocator or sampled RSS.

``forward_peak_memory`` measures what a forward pass allocates above what
was allocated before it, by the allocator of the device it runs on, on one
extra untimed pass, the same way on every run:

- CPU: the profiler's record of every allocation and free
  (``torch.profiler`` with ``profile_memory=True``), in time order, and the
  peak of their running sum. The resident memory of the process is no
  measure: once an earlier run has grown the heap, a later one reuses it and
  reads a few KiB.
- CUDA: ``torch.cuda.max_memory_allocated`` after resetting the peak.
- MPS: ``torch.mps.current_allocated_memory`` read after every module's
  forward (the profiler records no MPS allocations, and the allocator keeps
  no peak).

``peak_memory`` (a training step in a child process) keeps CUDA's allocator
or the sampled resident memory.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from densviz.run.devices import Precision, autocast, synchronize

__all__ = ["PROFILER_LOCK", "forward_peak_memory", "peak_memory", "rss_bytes"]

PROFILER_LOCK = threading.Lock()
"""One profiler at a time in this process (the page serves sessions from threads)."""


def rss_bytes() -> int:
    """This process's resident memory now."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: the lifetime peak is the best there is
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak) if os.uname().sysname == "Darwin" else int(peak) * 1024


@contextmanager
def _cuda_peak(device: torch.device) -> Iterator[dict[str, Any]]:
    """The CUDA allocator's peak while the block runs, above what was allocated before."""
    out: dict[str, Any] = {}
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    yield out
    out["peak_bytes"] = torch.cuda.max_memory_allocated(device) - base
    out["source"] = "CUDA allocator, above what was allocated before"


@contextmanager
def _rss_peak() -> Iterator[dict[str, Any]]:
    """The process's resident memory, sampled every 2 ms while the block runs, above its level before."""
    out: dict[str, Any] = {}
    base = rss_bytes()
    peak = [base]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_bytes())
            stop.wait(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield out
    finally:
        stop.set()
        sampler.join()
        peak[0] = max(peak[0], rss_bytes())
        out["peak_bytes"] = peak[0] - base
        out["source"] = "process resident memory, above its level before the run"


def peak_memory(device: torch.device) -> AbstractContextManager[dict[str, Any]]:
    """Peak memory while the block runs: CUDA's allocator, or sampled process RSS.

    Use as ``with peak_memory(device) as mem:``; afterwards ``mem["peak_bytes"]``
    holds the peak above the level before the block and ``mem["source"]`` says
    how it was measured.
    """
    return _cuda_peak(device) if device.type == "cuda" else _rss_peak()


def _cpu_forward_peak(model: nn.Module, x: Tensor, precision: Precision) -> tuple[int, str]:
    """The peak of the running sum of the CPU allocations and frees the profiler records during one pass."""
    from torch.profiler import ProfilerActivity, profile

    # Kineto reads its log level when the profiler first starts; above 5 it prints no "USDT: profiler_start" lines.
    os.environ.setdefault("KINETO_LOG_LEVEL", "6")
    device = torch.device("cpu")
    with PROFILER_LOCK, torch.inference_mode(), autocast(device, precision):
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            model(x)
        events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    live = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        live += event.nbytes()  # an allocation is positive, a free negative
        peak = max(peak, live)
    return (
        peak,
        "CPU allocator as the profiler records it: the peak of allocations minus frees during one extra untimed pass",
    )


def _cuda_forward_peak(model: nn.Module, x: Tensor, device: torch.device, precision: Precision) -> tuple[int, str]:
    """``torch.cuda.max_memory_allocated`` over one pass, above what was allocated before it."""
    synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    with torch.inference_mode(), autocast(device, precision):
        model(x)
    synchronize(device)
    peak = torch.cuda.max_memory_allocated(device) - base
    return peak, "CUDA allocator (max_memory_allocated) during one extra untimed pass, above what was allocated before"


def _mps_forward_peak(model: nn.Module, x: Tensor, device: torch.device, precision: Precision) -> tuple[int, str]:
    """``torch.mps.current_allocated_memory`` read after every module's forward, above its level before the pass."""
    base = torch.mps.current_allocated_memory()
    peak = [0]

    def sample(*_args: Any) -> None:
        peak[0] = max(peak[0], torch.mps.current_allocated_memory() - base)

    handles = [m.register_forward_hook(sample) for m in model.modules()]
    try:
        with torch.inference_mode(), autocast(device, precision):
            model(x)
        synchronize(device)
    finally:
        for handle in handles:
            handle.remove()
    return peak[0], (
        "MPS allocator (current_allocated_memory) read after every module of one extra untimed pass, "
        "above what was allocated before"
    )


def forward_peak_memory(model: nn.Module, x: Tensor, device: torch.device, precision: Precision) -> tuple[int, str]:
    """The peak memory one forward pass allocates, by the device's allocator, and how it was measured.

    Runs one extra untimed pass (model and input already on ``device``), in
    inference mode and the run's precision.

    Returns:
        (bytes above what was allocated before the pass, a sentence on how they were measured).
    """
    if device.type == "cuda":
        return _cuda_forward_peak(model, x, device, precision)
    if device.type == "mps":
        return _mps_forward_peak(model, x, device, precision)
    return _cpu_forward_peak(model, x, precision)
