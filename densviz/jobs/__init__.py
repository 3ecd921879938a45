"""Heavy work as jobs on worker processes: a local pool by default, Ray when asked.

Forward passes, training runs and training-step probes run as jobs, never in
the server's process: each streams progress back, stops within a second of
Stop, ends with its session, waits in a bounded queue whose place it tells,
and has a time limit. The page holds a :class:`Job` and polls it::

    job = jobs.submit(session_id, "train", work.train, work.TrainRequest(variant, options))
    job.position()   # 1 = next to start; 0 once running
    job.progress()   # the latest TrainProgress
    job.stop()       # ends it within a second
    job.result()     # a TrainedRun, once done; job.error() a sentence otherwise
    jobs.end_session(session_id)

Where the jobs run is set by environment variables, read once at the first use:

- ``DENSVIZ_RAY_ADDRESS`` unset: the local pool (:mod:`densviz.jobs.local`),
  worker processes on this machine, started in the background when the
  engine is made (:func:`engine`: the page calls it when it starts).
  ``local``, ``auto`` or ``ray://host:port``: Ray (:mod:`densviz.jobs.ray_engine`).
- ``DENSVIZ_JOB_WORKERS``: jobs at once (the local pool's processes; Ray's
  tasks at once); default: the cores but one (at least one) locally, the
  cluster's CPUs on Ray.
- ``DENSVIZ_JOB_QUEUE``: jobs that may wait (default 64).

The modules: :mod:`~densviz.jobs.job` (``Job``, the handle the page holds, and
the words for its outcome), :mod:`~densviz.jobs.engine` (the queue, the
sessions, Stop and time limits shared by the backends),
:mod:`~densviz.jobs.local`, :mod:`~densviz.jobs.ray_engine`,
:mod:`~densviz.jobs.context` (what a job function sees), :mod:`~densviz.jobs.work`
(the job functions), :mod:`~densviz.jobs.worker` and :mod:`~densviz.jobs.running`
(the worker's side).
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from densviz.core.errors import ConfigError
from densviz.jobs.context import InlineContext, JobContext
from densviz.jobs.engine import DEFAULT_TIME_LIMIT_S, STOP_GRACE_S, Engine, QueueFullError
from densviz.jobs.job import Failure, FailureKind, Job, JobState, StopReason

__all__ = [
    "DEFAULT_TIME_LIMIT_S",
    "STOP_GRACE_S",
    "Engine",
    "EngineSettings",
    "Failure",
    "FailureKind",
    "InlineContext",
    "Job",
    "JobContext",
    "JobState",
    "QueueFullError",
    "StopReason",
    "end_session",
    "engine",
    "engine_from_environment",
    "engine_settings",
    "start_local_pool",
    "submit",
]

RAY_ADDRESS_VAR = "DENSVIZ_RAY_ADDRESS"
WORKERS_VAR = "DENSVIZ_JOB_WORKERS"
QUEUE_VAR = "DENSVIZ_JOB_QUEUE"
_MAX_WORKERS = 256
_MAX_QUEUE = 10_000


@dataclass(frozen=True)
class EngineSettings:
    """Where jobs run: Ray's address (``None``: the local pool), jobs at once (``None``: the default), queue size."""

    ray_address: str | None
    workers: int | None
    queue_limit: int


def _whole(environ: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    text = environ.get(name, "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise ConfigError(name, text, f"a whole number from {low} to {high}, or unset for the default")
    return value


def engine_settings(environ: Mapping[str, str] | None = None) -> EngineSettings:
    """The engine's settings from the environment (see the module's docstring).

    Raises:
        ConfigError: a variable's value is not allowed (the sentence names it and what is).
    """
    env = os.environ if environ is None else environ
    address = env.get(RAY_ADDRESS_VAR, "").strip() or None
    if address is not None and address not in ("local", "auto") and not address.startswith("ray://"):
        raise ConfigError(
            RAY_ADDRESS_VAR, address, "local, auto or a ray://host:port address, or unset for the local pool"
        )
    queue = _whole(env, QUEUE_VAR, 1, _MAX_QUEUE)
    return EngineSettings(address, _whole(env, WORKERS_VAR, 1, _MAX_WORKERS), 64 if queue is None else queue)


def engine_from_environment(environ: Mapping[str, str] | None = None) -> Engine:
    """A new engine as the environment says: the local pool, or Ray.

    Raises:
        ConfigError: a variable's value is not allowed.
        SurroundingsError: Ray cannot be reached.
    """
    settings = engine_settings(environ)
    if settings.ray_address is None:
        from densviz.jobs.local import LocalPool

        return LocalPool(settings.workers, settings.queue_limit)
    from densviz.jobs.ray_engine import RayEngine

    return RayEngine(settings.ray_address, settings.workers, settings.queue_limit)


_ENGINE: Engine | None = None
_ENGINE_LOCK = threading.Lock()


def engine() -> Engine:
    """The process's engine, made at the first call (its workers start then) and shut down at exit."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = engine_from_environment()
            atexit.register(_ENGINE.shutdown)  # before multiprocessing's own exit waits for its children
        return _ENGINE


def start_local_pool() -> None:
    """Make the engine now where it is the local pool, so that its workers start with the app.

    Nothing waits: the workers start in the background. With ``DENSVIZ_RAY_ADDRESS``
    set (or a variable wrong) nothing happens here: Ray is joined, and a wrong
    setting is said, where the first job is submitted.
    """
    try:
        if engine_settings().ray_address is None:
            engine()
    except ConfigError:
        pass


def submit(
    session_id: str, kind: str, fn: Callable[[Any, Any], Any], payload: Any, *, time_limit_s: float | None = None
) -> Job:
    """Queue ``fn(payload, ctx)`` on the process's engine (see :meth:`Engine.submit`)."""
    return engine().submit(session_id, kind, fn, payload, time_limit_s=time_limit_s)


def end_session(session_id: str) -> int:
    """Stop every job of a session that ended; how many there were (none before the engine exists)."""
    with _ENGINE_LOCK:
        current = _ENGINE
    return current.end_session(session_id) if current is not None else 0
