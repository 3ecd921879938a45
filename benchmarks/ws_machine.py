"""What the machine did during a load level (``ws_load.py``): the server's memory and CPU, its workers', everyone's.

Read from ``/proc`` (Linux): the server process and every descendant (the job
workers and their forkserver), and the whole machine's busy share.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for the tests' helper
from tests.browser.server import rss_bytes


def children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (the job workers and their forkserver), from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    out, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        out += kids
        frontier += kids
    return out


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_jiffies() -> tuple[float, float]:
    """(busy, total) jiffies of every core, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


@dataclass
class Resources:
    rss_before: int = 0
    rss_peak: int = 0
    rss_after: int = 0
    workers_peak: int = 0
    server_cpu: float = 0.0  # cores' worth, during the window
    workers_cpu: float = 0.0
    machine_busy: float = 0.0  # share of all cores, everyone's
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at the start and the end
    client_cpu: float = 0.0
    server_cpu_s: float = 0.0  # CPU seconds of the server process during the window


async def sample(pid: int, res: Resources, stop: asyncio.Event) -> None:
    while not stop.is_set():
        res.rss_peak = max(res.rss_peak, rss_bytes(pid))
        res.workers_peak = max(res.workers_peak, sum(_safe_rss(c) for c in children(pid)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


def _safe_rss(pid: int) -> int:
    try:
        return rss_bytes(pid)
    except OSError:
        return 0
