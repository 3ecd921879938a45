"""A job from its submission to its end: the :class:`Job` handle the page polls, and the words for its outcome.

A :class:`Job` is made and ended by its engine (:mod:`densviz.jobs.engine`);
the page holds it and asks it where it is (:meth:`Job.state`,
:meth:`Job.position`, :meth:`Job.progress`), stops it (:meth:`Job.stop`) and
reads its outcome (:meth:`Job.result`, or :meth:`Job.failure`: a
:class:`Failure`, a kind and a sentence, never a traceback). :func:`pack`
turns a job's function and payload into the bytes a worker receives.
"""

from __future__ import annotations

import pickle
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

__all__ = [
    "CANCELLED_BY",
    "Event",
    "Failure",
    "FailureKind",
    "Job",
    "JobOwner",
    "JobState",
    "StopReason",
    "pack",
    "stopped_sentence",
]


class JobState(StrEnum):
    """Where a job is."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class FailureKind(StrEnum):
    """Why a job gave no result."""

    REFUSED = "refused"  # a guard refused the input: the sentence says what to change
    STOPPED = "stopped"  # Stop, the session's end, a newer run of the same kind, the server's shutdown
    TIME_LIMIT = "time_limit"
    MEMORY = "memory"
    SURROUNDINGS = "surroundings"  # the machine failed the work (a helper process, the cluster)
    WORKER_LOST = "worker_lost"  # the worker died under the job (out of memory?)
    INTERNAL = "internal"  # a bug: the server's log has the details


@dataclass(frozen=True)
class Failure:
    """Why a job gave no result: a kind and a sentence for the page (never a traceback).

    Attributes:
        kind: What went wrong, for the page to choose its words.
        sentence: What to tell the user.
        error: The exception's class name where the job raised one (``CompileError``), else ''.
    """

    kind: FailureKind
    sentence: str
    error: str = ""


class StopReason(StrEnum):
    """Who or what asked a job to stop."""

    USER = "user"
    SESSION = "session"
    REPLACED = "replaced"
    TIME_LIMIT = "time_limit"
    SHUTDOWN = "shutdown"


CANCELLED_BY = (StopReason.SESSION, StopReason.REPLACED, StopReason.SHUTDOWN)
"""Stops after which nobody reads the job's result: it ends stopped even if it returned one."""


def stopped_sentence(reason: StopReason, limit_s: float) -> str:
    """What the page says of a job stopped for ``reason`` (``limit_s``: its time limit, for that reason's words)."""
    return {
        StopReason.USER: "Stopped before it finished; nothing it computed was kept.",
        StopReason.SESSION: "Stopped: the session that started it ended.",
        StopReason.REPLACED: "Stopped: a newer run of the same kind from the same session replaced it.",
        StopReason.TIME_LIMIT: f"Stopped at its time limit of {limit_s:g} s.",
        StopReason.SHUTDOWN: "Stopped: the server is shutting down.",
    }[reason]


def pack(fn: Callable[[Any, Any], Any], payload: Any) -> bytes:
    """The job's function (by its module and name) and its payload, pickled for a worker.

    Raises:
        TypeError: ``fn`` is not a module-level function, or the payload is not plain data.
    """
    try:
        return pickle.dumps((fn, payload), protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as err:
        raise TypeError(
            f"a job runs a module-level function on plain data (it is sent to another process); "
            f"{getattr(fn, '__qualname__', fn)!r} with a {type(payload).__name__} payload cannot be sent ({err})"
        ) from err


class JobOwner(Protocol):
    """What a :class:`Job` asks of its engine (:class:`densviz.jobs.engine.Engine`): its place, and a Stop."""

    def position(self, job: Job) -> int:
        """``job``'s place in the queue (1 = next), 0 when it is not queued."""

    def stop(self, job: Job, reason: StopReason = ...) -> None:
        """Stop ``job``; the first reason given is the one kept."""


class Job:
    """One piece of work, from its submission to its end; what the page holds and polls.

    Attributes:
        id: Unique in this engine.
        session_id: The session that asked for it.
        kind: ``forward``, ``train``, ``training_step``, …
        time_limit_s: Seconds it may run on a worker.
        submitted_at: ``time.monotonic()`` at submission; ``started_at``,
            ``stop_asked_at``, ``stop_seen_at`` (the job acknowledged Stop:
            its work has ended) and ``ended_at`` likewise (``None`` until then).
    """

    def __init__(self, engine: JobOwner, seq: int, session_id: str, kind: str, packed: bytes, time_limit_s: float):
        self.id = str(seq)
        self.seq = seq
        self.session_id = session_id
        self.kind = kind
        self.time_limit_s = time_limit_s
        self.packed = packed
        self.submitted_at = time.monotonic()
        self.started_at: float | None = None
        self.stop_asked_at: float | None = None
        self.stop_seen_at: float | None = None
        self.ended_at: float | None = None
        self.stop_reason: StopReason | None = None
        self.kill_at: float | None = None
        self._engine = engine
        self._state = JobState.QUEUED
        self._records: list[Any] = []
        self._result: Any = None
        self._failure: Failure | None = None
        self._done = threading.Event()

    def __repr__(self) -> str:
        return f"Job({self.id}, {self.kind}, session {self.session_id}, {self._state})"

    def state(self) -> JobState:
        """Queued, running, done (a result) or failed (a :class:`Failure`)."""
        return self._state

    def position(self) -> int:
        """Its place in the queue: 1 when it starts at the next free worker, 0 once it is running or ended."""
        return self._engine.position(self)

    def progress(self) -> Any:
        """The latest progress record the job sent, or ``None`` before the first."""
        return self._records[-1] if self._records else None

    def history(self, since: int = 0) -> list[Any]:
        """Every progress record from the ``since``-th on, in the order sent (records are never dropped)."""
        return self._records[since:]

    def stop(self) -> None:
        """End the job within a second: taken out of the queue, or asked to stop and, if it does not, killed."""
        self._engine.stop(self, StopReason.USER)

    def done(self) -> bool:
        """Whether it has ended (a result or a failure)."""
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until it ends or ``timeout`` passes; whether it ended."""
        return self._done.wait(timeout)

    def result(self) -> Any:
        """What the job's function returned, or ``None`` (not ended, or failed)."""
        return self._result

    def failure(self) -> Failure | None:
        """Why it gave no result, or ``None``."""
        return self._failure

    def error(self) -> str | None:
        """Why it gave no result, as a sentence, or ``None``."""
        return self._failure.sentence if self._failure else None

    # The engine's side (called with the engine's lock held).

    def _started(self) -> None:
        self._state = JobState.RUNNING
        self.started_at = time.monotonic()

    def _add(self, record: Any) -> None:
        self._records.append(record)  # appends are atomic: readers in other threads see a whole record

    def _end(self, result: Any = None, failure: Failure | None = None) -> None:
        if self._done.is_set():
            return
        self._result, self._failure = result, failure
        self._state = JobState.FAILED if failure is not None else JobState.DONE
        self.ended_at = time.monotonic()
        self._done.set()


Event = tuple[Job, str, Any]
"""What a backend reports of a running job: ``(job, "progress", record)``, ``(job, "seen", None)`` (it saw
Stop), ``(job, "done", value)``, ``(job, "failed", Failure)`` or ``(job, "lost", sentence)`` (its worker died)."""
