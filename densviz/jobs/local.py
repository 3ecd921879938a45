"""The local pool, the default engine: worker processes on this machine, nothing to install or start.

Each worker is a :mod:`multiprocessing` process with its own pipe to the
server and a shared integer the server writes to ask it to stop. The workers
are made by the ``forkserver`` start method (``spawn`` where there is none): the
server has threads (Streamlit's, the manager's), and forking a process with
threads can copy a lock that another thread holds, so no worker is forked from
it. The fork server is started once, clean, preloads torch and the job
functions, and forks each worker from itself: a worker (and a replacement for
a killed one) is ready in a fraction of a second instead of the seconds an
import of torch takes. Each worker leads its own process group, so a kill
takes any helper process its job started (a training-step probe) with it.
The workers are started by the engine's manager thread as soon as the pool is
made: the fork server's start (torch imported) takes seconds, and the caller
does not wait for it; jobs submitted meanwhile queue.

Why not :class:`concurrent.futures.ProcessPoolExecutor`: it cannot stop a task
that is running (``Future.cancel`` only cancels one not yet started), killing
one of its processes breaks the whole pool (every pending future fails with
``BrokenProcessPool``), it has no channel for progress, and it does not say
which process runs which task. Here Stop is a flag the job reads between
passes or steps, then a kill of that one worker, which is replaced while the
others work on.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from densviz.jobs.engine import Engine
from densviz.jobs.job import Event, Job
from densviz.jobs.worker import serve

__all__ = ["LocalPool", "default_workers", "worker_context"]

_LOG = logging.getLogger(__name__)


def default_workers() -> int:
    """The pool's default size: one worker per core but one, which the server keeps; at least two.

    Two even on one or two cores: a training run takes one worker, and the
    other stays free for forward passes and files (training never takes the
    last free worker). The workers run at a lower priority than the server,
    so the page's reruns still come first.
    """
    return max(2, (os.cpu_count() or 1) - 1)


def worker_context() -> Any:
    """The ``forkserver`` context, preloading torch and the job functions (``spawn`` where there is none).

    One per process: the fork server starts once, with the preload of whoever
    starts it first, so every pool of worker processes (the jobs', the
    check against PyTorch's) takes its context from here.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(
            [
                "densviz.jobs.work",
                "densviz.jobs.files",
                "densviz.jobs.analysis",
                "densviz.nn.check",
                "densviz.draw.charts.svg_growth",
            ]
        )
        return ctx
    return multiprocessing.get_context("spawn")


def _how_it_ended(exitcode: int | None) -> str:
    """A worker's end in words."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"killed by {name}"
    return f"exit code {exitcode}"


@dataclass
class _Worker:
    """One worker process and what it is doing."""

    index: int
    proc: Any  # multiprocessing.Process of the pool's context
    conn: Connection
    flag: Any  # the shared integer: the number of the job to stop
    job: Job | None = None
    pid: int | None = None  # set when the worker says it is ready
    dead: bool = False


class LocalPool(Engine):
    """Worker processes on this machine (see the module's docstring).

    Args:
        workers: How many processes (jobs at once); default :func:`default_workers`.
        queue_limit: How many jobs may wait.
    """

    def __init__(self, workers: int | None = None, queue_limit: int = 64):
        super().__init__(workers or default_workers(), queue_limit, "local pool")
        self._ctx = worker_context()
        self._reaping: list[Any] = []
        self._workers: list[_Worker] = []  # started by the manager thread: the first start waits for the fork server
        self._start_manager()

    def _spawn(self, index: int) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        flag = self._ctx.RawValue("q", 0)
        # Not a daemon: a job may start helper processes (the training-step probe), which a daemon may not.
        proc = self._ctx.Process(
            target=serve, args=(child, flag, index, os.getpid()), name=f"densviz-worker-{index}", daemon=False
        )
        proc.start()
        child.close()  # the worker holds the other end now: its death ends the pipe
        return _Worker(index, proc, parent, flag)

    def worker_pids(self) -> list[int | None]:
        """Each worker's process id (``None`` for one still starting)."""
        return [w.pid for w in self._workers]

    def pid_of(self, job: Job) -> int | None:
        """The process id of the worker running ``job``, or ``None``."""
        worker = self._worker_of(job)
        return worker.proc.pid if worker is not None else None

    def ready_workers(self) -> int:
        """How many workers are up and waiting for a job."""
        return sum(1 for w in self._workers if w.pid is not None and w.job is None and not w.dead)

    # The backend's part.

    def _free_slots(self) -> int:
        return sum(1 for w in self._workers if w.job is None and not w.dead)

    def _launch(self, job: Job) -> None:
        worker = next(w for w in self._workers if w.job is None and not w.dead)
        worker.job = job
        worker.conn.send_bytes(pickle.dumps(("job", job.seq, job.packed), protocol=pickle.HIGHEST_PROTOCOL))

    def _worker_of(self, job: Job) -> _Worker | None:
        return next((w for w in self._workers if w.job is job), None)

    def _ask_stop(self, job: Job) -> None:
        worker = self._worker_of(job)
        if worker is not None:
            worker.flag.value = job.seq

    def _kill(self, job: Job) -> None:
        worker = self._worker_of(job)
        if worker is not None:
            self._end_worker(worker)  # replaced at the next poll, after the job has ended

    def _end_worker(self, worker: _Worker, reap: bool = False) -> None:
        """Kill a worker and its process group and close its pipe; reap it now or at the next poll.

        A job ends when its worker is sent SIGKILL: the kernel's freeing of a
        large process's memory (a second or more under load) is not waited for.
        """
        worker.dead = True
        worker.job = None
        pid = worker.proc.pid
        if pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)  # the worker leads its group once it has started
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # in case it had not made its group yet
        worker.conn.close()
        if reap:
            worker.proc.join(5)

    def _replace_dead(self) -> None:
        """The pool's workers started (the first time), and a new one in the place of each dead one."""
        with self._lock:
            if self._closed:
                return
            while len(self._workers) < self.workers:
                self._workers.append(self._spawn(len(self._workers)))
            for worker in list(self._workers):
                if worker.dead:
                    self._reaping.append(worker.proc)
                    self._workers[worker.index] = self._spawn(worker.index)
            for proc in list(self._reaping):  # killed workers, reaped once the kernel has freed them
                proc.join(0)
                if proc.exitcode is not None:
                    self._reaping.remove(proc)

    def _read(self, worker: _Worker, events: list[Event]) -> None:
        """Everything a worker has sent; a closed pipe marks it dead."""
        try:
            while worker.conn.poll():
                what, seq, data = pickle.loads(worker.conn.recv_bytes())
                job = worker.job
                if what == "ready":
                    worker.pid = data
                elif job is not None and job.seq == seq:
                    events.append((job, what, data))
                    if what in ("done", "failed"):
                        worker.job = None
        except (EOFError, OSError):
            worker.dead = True

    def _poll(self, timeout: float) -> list[Event]:
        self._replace_dead()
        watched: list[Any] = [self._wake_r]
        for w in self._workers:
            watched += [w.conn, w.proc.sentinel]
        ready = set(wait(watched, timeout))
        if self._wake_r in ready:
            self._drain_wake()
        events: list[Event] = []
        for worker in list(self._workers):
            job = worker.job
            seen = job is not None and job.stop_asked_at is not None and job.stop_seen_at is None
            if seen and job is not None and worker.flag.value == -job.seq:  # the job saw its Stop
                events.append((job, "seen", None))
            if worker.dead:  # killed by the engine since the wait began: replaced at the next poll
                continue
            if worker.conn in ready or worker.proc.sentinel in ready:
                self._read(worker, events)
            if worker.proc.sentinel in ready or worker.dead:
                worker.proc.join(5)
                if worker.job is not None:
                    how = _how_it_ended(worker.proc.exitcode)
                    events.append(
                        (
                            worker.job,
                            "lost",
                            f"The worker process running this job ended unexpectedly ({how}); "
                            "the machine may have run out of memory. A new worker has taken its place.",
                        )
                    )
                _LOG.warning(
                    "job worker %d ended (%s); replacing it", worker.index, _how_it_ended(worker.proc.exitcode)
                )
                worker.job = None
                worker.dead = True
                worker.conn.close()
        self._replace_dead()
        return events

    def _close(self) -> None:
        for worker in self._workers:
            if not worker.dead:
                self._end_worker(worker, reap=True)
            else:
                worker.proc.join(5)
        for proc in self._reaping:
            proc.join(5)
