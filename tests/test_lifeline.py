"""No worker outlives its server: stopped (SIGTERM) or killed (SIGKILL), ``densviz app`` leaves no process behind.

Real processes: a stand-in server and a worker that calls ``end_with``, then
the real ``densviz app`` with a session open (its check and drawing workers
started by the fork server), stopped each way.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.ws_session import Client
from tests.app_server import ROOT, densviz_app, running

WORKER = """
import os, sys, time
if sys.argv[2] == "poll":
    del os.pidfd_open  # a kernel without pidfds: the watch polls
from densviz.jobs.lifeline import end_with
end_with(int(sys.argv[1]))
print("watching", flush=True)
time.sleep(120)
"""


def _children() -> dict[int, list[int]]:
    """Each process's children, from /proc."""
    out: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        out.setdefault(ppid, []).append(int(entry.name))
    return out


def _descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (a zombie, ended but not yet reaped, counts as ended)."""
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def _wait_gone(pids: set[int], within_s: float) -> set[int]:
    deadline = time.monotonic() + within_s
    while (left := _alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.mark.parametrize("watch", ["pidfd", "poll"])
def test_a_worker_ends_when_its_server_is_killed(watch: str) -> None:
    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(server.pid), watch], stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "watching"
        time.sleep(0.3)
        assert worker.poll() is None, "the worker ended while its server was still running"
        server.kill()
        server.wait()
        assert worker.wait(timeout=5) == 1
    finally:
        for proc in (server, worker):
            if proc.poll() is None:
                proc.kill()


def test_a_worker_whose_server_is_already_gone_ends_at_once() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    worker = subprocess.run(
        [sys.executable, "-c", WORKER, str(gone.pid), "pidfd"], capture_output=True, text=True, timeout=30
    )
    assert worker.returncode == 1


POOL = """
import time, uuid
from densviz.jobs.local import LocalPool
from tests.test_jobs import stubborn
pool = LocalPool(workers=2)
job = pool.submit(uuid.uuid4().hex, "other", stubborn, 300.0)
deadline = time.monotonic() + 120
while not job.history() and time.monotonic() < deadline:
    time.sleep(0.05)
print(job.history()[0][1], flush=True)  # the pid of the worker running it
time.sleep(300)
"""


def test_a_job_worker_busy_in_a_job_ends_when_its_server_is_killed() -> None:
    """The job sleeps without reading its pipe, so only the watch of the server's process can end it."""
    server = subprocess.Popen([sys.executable, "-c", POOL], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert server.stdout is not None
        worker = int(server.stdout.readline())
        assert _alive({worker}) == {worker}
        server.kill()
        server.wait()
        assert not _wait_gone({worker}, within_s=10), "the job's worker outlived its killed server"
    finally:
        if server.poll() is None:
            server.kill()


async def _one_session(url: str) -> None:
    client = Client(url, 120)
    try:
        await client.open()
        await client.rerun()
    finally:
        await client.close()


def _served_with_workers(stop: signal.Signals) -> tuple[int | None, set[int]]:
    """Serve the page, open a session (its check and drawing workers start), stop the server with ``stop``.

    Returns the server's exit status and its processes that were still running 10 s later.
    """
    with running(densviz_app()) as (url, proc):
        asyncio.run(_one_session(url))
        deadline = time.monotonic() + 60
        while len(workers := _descendants(proc.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)  # the fork server and its two workers
        assert len(workers) >= 3, f"the server started {len(workers)} processes, not its fork server and workers"
        os.kill(proc.pid, stop)
        proc.wait(timeout=30)
        return proc.returncode, _wait_gone(workers, within_s=10)


def test_densviz_app_stopped_by_sigterm_exits_cleanly_and_leaves_no_worker() -> None:
    code, left = _served_with_workers(signal.SIGTERM)
    assert code == 0, "SIGTERM should end the server as Ctrl-C does, through its exit handlers"
    assert not left, f"processes left running after the server stopped: {sorted(left)}"


@pytest.mark.slow
def test_densviz_app_killed_leaves_no_worker() -> None:
    _code, left = _served_with_workers(signal.SIGKILL)
    assert not left, f"processes left running after the server was killed: {sorted(left)}"
