"""The scheduling every engine shares: the queue, one running job per session, Stop, time limits.

An :class:`Engine` keeps a bounded first-in first-out queue of jobs
(:class:`~densviz.jobs.job.Job`, in :mod:`densviz.jobs.job` with the words for
their outcomes) and
runs as many at once as it has workers. One manager thread per engine does all
the bookkeeping: it reads what the workers send (progress, a result, a
failure), kills a job that has not ended :data:`STOP_GRACE_S` after it was asked
to stop, asks a job past its time limit to stop, ends the jobs of sessions that
are gone (when a liveness check was given), and starts queued jobs on free
workers. How a job reaches a worker and how it is killed is the backend's part
(:mod:`densviz.jobs.local`, :mod:`densviz.jobs.ray_engine`).

Policy, the same on every backend:

- A session has at most one running job. A second job of the **same kind**
  from the same session *replaces* the first (the first is stopped, or taken
  out of the queue): a user who presses Run again wants the new settings, and
  the page shows one run. A job of **another kind** *queues* behind it (a
  forward pass waits for the session's training run, which is not thrown away).
- The queue holds at most ``queue_limit`` waiting jobs; one more is refused
  with :class:`QueueFullError` (a sentence).
- Stop is cooperative first, then forced. The job sees ``ctx.stopping()``
  between two passes or training steps, stops its work there and ends with
  what it has (a training run evaluates and returns the network trained so
  far). A job that has not seen the Stop :data:`STOP_GRACE_S` after it was
  asked (a pass or a step in flight takes longer) is killed with its worker,
  which is replaced: so a job's work ends within a second of Stop, whatever
  it is doing. One that has seen it (the engine hears of it: the
  acknowledgement) gets :data:`WRAP_UP_S` in all to send what it has, then is
  killed too. A job stopped because its session ended, or replaced by a newer
  one, gets no such time: nobody will read its result.
- A job's time limit counts from its start on a worker; at the limit it is
  stopped the same way.
- **Long jobs leave a worker free.** Training runs (:data:`LONG_KINDS`: minutes
  each) take at most all the workers but one, so that a forward pass or the
  Export view's files (seconds) never wait behind a class's training runs.
  On an engine with one worker they take it, as any job would.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import select
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any

from densviz.core.errors import SurroundingsError
from densviz.jobs.job import (
    CANCELLED_BY,
    Event,
    Failure,
    FailureKind,
    Job,
    StopReason,
    pack,
    stopped_sentence,
)

__all__ = ["DEFAULT_TIME_LIMIT_S", "SESSION_CHECK_S", "STOP_GRACE_S", "WRAP_UP_S", "Engine", "QueueFullError"]

_LOG = logging.getLogger(__name__)

LONG_KINDS = frozenset({"train"})
"""Kinds of job that run for minutes: they never take the last free worker (see :meth:`Engine._dispatch`)."""

STOP_GRACE_S = 0.7
"""Seconds a job has to see Stop (or end) before its worker is killed (the kill and reaping fit in the rest of the second)."""

WRAP_UP_S = 5.0
"""Seconds after Stop in which a job that has seen it may end with what it has (its final evaluation)."""

DEFAULT_TIME_LIMIT_S = 900.0
"""A job's time limit when its submitter gives none."""

SESSION_CHECK_S = 0.5
"""How often the sessions that have jobs are checked for being alive."""

_BUSY_POLL_S = 0.05  # the manager's tick while jobs run: Stop's kill lands within this of its deadline
_IDLE_POLL_S = 1.0  # with nothing to run it sleeps until a submit wakes it


class QueueFullError(SurroundingsError):
    """The queue is full: the sentence says how many wait and to try again later."""


class Engine(ABC):
    """The queue, the sessions, Stop and time limits; a backend supplies the workers.

    Args:
        workers: How many jobs run at once.
        queue_limit: How many jobs may wait.
        name: How the engine is named in sentences and thread names.
    """

    def __init__(self, workers: int, queue_limit: int, name: str):
        self.workers = workers
        self.queue_limit = queue_limit
        self.name = name
        self._lock = threading.RLock()
        self._queue: list[Job] = []
        self._running: list[Job] = []
        self._alive: Callable[[str], bool] | None = None
        self._closed = False
        self._seq = itertools.count(1)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._thread = threading.Thread(target=self._manage, name=f"densviz-jobs-{name}", daemon=True)

    def _start_manager(self) -> None:
        """Start the manager thread (the backend calls it once its workers exist)."""
        self._thread.start()

    # The backend's part.

    @abstractmethod
    def _free_slots(self) -> int:
        """How many more jobs could start now."""

    @abstractmethod
    def _launch(self, job: Job) -> None:
        """Send ``job`` to a free worker (raises when it cannot)."""

    @abstractmethod
    def _ask_stop(self, job: Job) -> None:
        """Tell the running ``job`` to stop at its next clean point (any thread)."""

    @abstractmethod
    def _kill(self, job: Job) -> None:
        """Kill the running ``job`` now, replacing its worker where the backend keeps workers."""

    @abstractmethod
    def _poll(self, timeout: float) -> list[Event]:
        """Wait up to ``timeout`` for what the workers send (wake early on :meth:`_wake`), and return it."""

    @abstractmethod
    def _close(self) -> None:
        """Release the workers (after every job has ended)."""

    # The public side.

    def submit(
        self,
        session_id: str,
        kind: str,
        fn: Callable[[Any, Any], Any],
        payload: Any,
        *,
        time_limit_s: float | None = None,
    ) -> Job:
        """Queue ``fn(payload, ctx)`` for a session; an earlier job of the same kind from that session is stopped.

        Args:
            session_id: Whose job it is (its end cancels the job).
            kind: What it is (``forward``, ``train``, …): a newer job of the same kind replaces an older one.
            fn: A module-level function (sent to the worker by name).
            payload: Plain data (frozen dataclasses, bytes, numbers).
            time_limit_s: Seconds it may run once started (default :data:`DEFAULT_TIME_LIMIT_S`).

        Raises:
            QueueFullError: ``queue_limit`` jobs wait already.
            SurroundingsError: the engine has shut down.
            TypeError: ``fn`` or the payload cannot be sent to another process.
        """
        packed = pack(fn, payload)
        limit = DEFAULT_TIME_LIMIT_S if time_limit_s is None else float(time_limit_s)
        with self._lock:
            if self._closed:
                raise SurroundingsError("the job engine has shut down; reload the page.")
            for old in [*self._queue, *self._running]:
                if old.session_id == session_id and old.kind == kind:
                    self._stop(old, StopReason.REPLACED)
            if len(self._queue) >= self.queue_limit:
                raise QueueFullError(
                    f"The server is busy: {len(self._queue)} runs are waiting already, the most it queues; "
                    "try again when some have finished."
                )
            job = Job(self, next(self._seq), session_id, kind, packed, limit)
            self._queue.append(job)
        self._wake()
        return job

    def stop(self, job: Job, reason: StopReason = StopReason.USER) -> None:
        """Stop ``job`` (see :meth:`Job.stop`); the first reason given is the one kept."""
        with self._lock:
            self._stop(job, reason)
        self._wake()

    def end_session(self, session_id: str) -> int:
        """Stop every job of a session (it ended); how many there were."""
        with self._lock:
            jobs = [j for j in [*self._queue, *self._running] if j.session_id == session_id]
            for job in jobs:
                self._stop(job, StopReason.SESSION)
        self._wake()
        return len(jobs)

    def watch_sessions(self, alive: Callable[[str], bool]) -> None:
        """Check every :data:`SESSION_CHECK_S` that the sessions with jobs are alive; end those that are not."""
        self._alive = alive

    def position(self, job: Job) -> int:
        """``job``'s place in the queue (1 = next), 0 when it is not queued."""
        with self._lock:
            return self._queue.index(job) + 1 if job in self._queue else 0

    def running(self) -> list[Job]:
        """The jobs running now."""
        with self._lock:
            return list(self._running)

    def queued(self) -> list[Job]:
        """The jobs waiting, first to start first."""
        with self._lock:
            return list(self._queue)

    def shutdown(self) -> None:
        """Stop every job (the running ones killed at once) and release the workers."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for job in list(self._queue):
                self._stop(job, StopReason.SHUTDOWN)
            for job in list(self._running):
                self._stop(job, StopReason.SHUTDOWN)
                self._kill_now(job)
        self._wake()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(5)
        self._close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    # The manager.

    def _is_closed(self) -> bool:
        return self._closed  # read afresh: shutdown() sets it from another thread

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # the pipe is full (it wakes anyway) or closed (shut down)
            os.write(self._wake_w, b"x")

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except OSError:
            pass

    def _sleep(self, timeout: float) -> None:
        """Wait up to ``timeout`` for a wake-up (for backends with nothing else to wait on)."""
        try:
            select.select([self._wake_r], [], [], timeout)
        except (OSError, ValueError):
            time.sleep(timeout)
        self._drain_wake()

    def _stop(self, job: Job, reason: StopReason) -> None:
        """Lock held: take a queued job out, or ask a running one to stop and set its kill deadline."""
        if job.done() or job.stop_reason is not None:
            return
        job.stop_reason = reason
        job.stop_asked_at = time.monotonic()
        if job in self._queue:
            self._queue.remove(job)
            job._end(failure=Failure(FailureKind.STOPPED, stopped_sentence(reason, job.time_limit_s)))
            return
        job.kill_at = job.stop_asked_at + STOP_GRACE_S
        try:
            self._ask_stop(job)
        except Exception:  # the kill at the deadline ends it anyway
            _LOG.warning("could not ask job %s to stop; it will be killed", job.id, exc_info=True)

    def _kill_now(self, job: Job) -> None:
        """Lock held: kill a running job and end it with its stop reason's sentence."""
        try:
            self._kill(job)
        except Exception:
            _LOG.warning("killing job %s failed", job.id, exc_info=True)
        self._running.remove(job)
        reason = job.stop_reason or StopReason.USER
        kind = FailureKind.TIME_LIMIT if reason is StopReason.TIME_LIMIT else FailureKind.STOPPED
        job._end(failure=Failure(kind, stopped_sentence(reason, job.time_limit_s)))

    def _apply(self, events: Iterable[Event]) -> None:
        """Lock held: progress to the job, results and failures end it."""
        for job, what, data in events:
            if job.done():
                continue  # killed meanwhile: what it sent after is not its outcome
            if what == "progress":
                job._add(data)
                continue
            if what == "seen":
                if job.stop_seen_at is None and job.stop_asked_at is not None:
                    job.stop_seen_at = time.monotonic()
                    if job.stop_reason not in CANCELLED_BY:  # someone will read what it has
                        job.kill_at = job.stop_asked_at + WRAP_UP_S
                continue
            self._running.remove(job)
            if what == "done" and job.stop_reason in CANCELLED_BY:
                job._end(failure=Failure(FailureKind.STOPPED, stopped_sentence(job.stop_reason, job.time_limit_s)))
            elif what == "done":
                job._end(result=data)
            elif what == "failed":
                job._end(failure=self._as_stopped(job, data))
            else:  # lost: the worker died under it
                if job.stop_reason is not None:
                    job._end(failure=self._as_stopped(job, Failure(FailureKind.STOPPED, str(data))))
                else:
                    job._end(failure=Failure(FailureKind.WORKER_LOST, str(data)))

    @staticmethod
    def _as_stopped(job: Job, failure: Failure) -> Failure:
        """A job that stopped because it was asked to: the reason's sentence (the user's Stop keeps the job's own)."""
        if job.stop_reason is None or failure.kind is not FailureKind.STOPPED:
            return failure
        if job.stop_reason is StopReason.USER:
            return failure
        kind = FailureKind.TIME_LIMIT if job.stop_reason is StopReason.TIME_LIMIT else FailureKind.STOPPED
        return Failure(kind, stopped_sentence(job.stop_reason, job.time_limit_s))

    def _enforce(self, now: float) -> None:
        """Lock held: kill jobs past their stop deadline; ask jobs past their time limit to stop."""
        for job in list(self._running):
            if job.kill_at is not None and now >= job.kill_at:
                self._kill_now(job)
            elif job.started_at is not None and job.stop_reason is None and now - job.started_at >= job.time_limit_s:
                self._stop(job, StopReason.TIME_LIMIT)

    def _dispatch(self) -> None:
        """Lock held: start queued jobs, first come first, on free workers (one running job per session).

        A long job starts only while it leaves a worker for the short ones
        (see :data:`LONG_KINDS`); the short jobs behind it go first.
        """
        free = self._free_slots()
        capacity = free + len(self._running)
        long_running = sum(1 for j in self._running if j.kind in LONG_KINDS)
        busy = {j.session_id for j in self._running}
        for job in list(self._queue):
            if free <= 0:
                return
            if job.session_id in busy:
                continue  # its session's other job runs: it waits, and later sessions' jobs go first
            long = job.kind in LONG_KINDS
            if long and capacity > 1 and long_running + 1 > capacity - 1:
                continue  # the last free worker is kept for short jobs
            long_running += long
            self._queue.remove(job)
            try:
                self._launch(job)
            except Exception as err:
                _LOG.error("could not start job %s", job.id, exc_info=True)
                job._end(failure=Failure(FailureKind.SURROUNDINGS, f"The {self.name} could not start the job ({err})."))
                continue
            job._started()
            self._running.append(job)
            busy.add(job.session_id)
            free -= 1

    def _check_sessions(self) -> None:
        """End the jobs of sessions that the liveness check says are gone (called without the lock)."""
        alive = self._alive
        if alive is None:
            return
        with self._lock:
            sessions = {j.session_id for j in [*self._queue, *self._running] if j.stop_reason is None}
        for session_id in sessions:
            try:
                gone = not alive(session_id)
            except Exception:
                gone = False
            if gone:
                self.end_session(session_id)

    def _manage(self) -> None:
        last_check = 0.0
        while not self._closed:
            with self._lock:
                busy = bool(self._running or self._queue)
            try:
                events = self._poll(_BUSY_POLL_S if busy else _IDLE_POLL_S)
            except Exception:
                _LOG.error("the %s's poll failed", self.name, exc_info=True)
                events = []
                time.sleep(_BUSY_POLL_S)
            now = time.monotonic()
            if now - last_check >= SESSION_CHECK_S:
                last_check = now
                self._check_sessions()
            with self._lock:
                if self._is_closed():
                    return
                self._apply(events)
                self._enforce(time.monotonic())
                self._dispatch()
