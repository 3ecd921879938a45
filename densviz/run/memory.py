"""Peak memory while a block runs: CUDA's allocator, or this process's sampled resident memory."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import torch

__all__ = ["peak_memory", "rss_bytes"]


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
