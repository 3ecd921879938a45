"""Short jobs as the page runs them: made once for every session, watched with Stop, stopped when the page moves on.

The Export view's files (chart and graph images, the zip, the ONNX model) are
made as jobs on the engine (:mod:`densviz.jobs`), never in the server's process,
and what they make depends only on what was asked (the design, the formats). So:

- :class:`Shared` keeps the results in this process, by request, bounded by
  their bytes: a request made before, by any session, is answered at once,
  with no job.
- A request that another session's job is making now is not made twice: the
  page waits for that job (its place in the queue, its progress). Should that
  job end stopped (its own session left it), this session makes the files
  itself.
- While it waits, the script shows a Stop button and a progress bar (the
  job's place in the queue, then its step) and looks every 0.2 s for
  Streamlit's stop or rerun (without sending a message: reading the session
  state is one of Streamlit's check points). Stop, any other click, a design
  change or the session's end leaves the script, and its job is stopped then,
  as the Forward pass view's run is.

The outcome is the job's result, or the sentence of why there is none (the
job's own, a full queue, a refused design): never a traceback, never an empty
file.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from densviz import jobs
from densviz.core.errors import ConfigError, SurroundingsError
from densviz.jobs import FailureKind, Job

__all__ = [
    "Shared",
    "engine",
    "failure_sentence",
    "follow",
    "run_shared",
    "session_alive",
    "session_id",
    "submit",
    "waiting_text",
]

_POLL_S = 0.2
_CHECK_KEY = "_job_watch_check"  # read (never set) only to give Streamlit its chance to stop the script
_JOIN_TRIES = 3  # another session's job stopped under us this often: then this session's own job decides


def session_id() -> str:
    """This script run's session id (``no-session`` outside a server and AppTest)."""
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "no-session"


def session_alive(session: str) -> bool:
    """Whether a browser session is still connected (always, outside a running server: AppTest, scripts)."""
    from streamlit import runtime

    return not runtime.exists() or runtime.get_instance().is_active_session(session)


def engine() -> jobs.Engine:
    """The process's job engine, ending the jobs of sessions that are gone (checked twice a second)."""
    current = jobs.engine()
    current.watch_sessions(lambda sid: session_alive(sid))  # looked up at each call: tests replace it
    return current


def waiting_text(position: int, what: str = "run") -> str:
    """The progress bar's words for a job in the queue (``position`` 1 = next to start)."""
    if position <= 1:
        return "waiting for a free worker: yours is next…"
    ahead = position - 1
    return f"waiting for a free worker: {ahead} {what}{'s' if ahead != 1 else ''} ahead of yours…"


class Shared:
    """Job results kept in this process by their request (any session may take them), and the jobs in flight.

    Thread-safe: the sessions' script threads share it. The results are kept
    most recently used last, and the oldest are forgotten once they hold more
    than ``max_bytes`` (a session that was handed one keeps its own reference).

    Args:
        max_bytes: The most the kept results may hold.
        size: A result's bytes.
    """

    def __init__(self, max_bytes: int, size: Callable[[Any], int]):
        self.max_bytes = max_bytes
        self._size = size
        self._lock = threading.Lock()
        self._made: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._flying: dict[Hashable, Job] = {}

    def get(self, key: Hashable) -> Any:
        """The result kept for ``key``, or ``None``."""
        with self._lock:
            kept = self._made.get(key)
            if kept is None:
                return None
            self._made.move_to_end(key)
            return kept[0]

    def put(self, key: Hashable, value: Any) -> None:
        """Keep ``value`` for ``key`` (one larger than ``max_bytes`` is not kept)."""
        size = self._size(value)
        with self._lock:
            self._made.pop(key, None)
            if size > self.max_bytes:
                return
            self._made[key] = (value, size)
            while sum(s for _, s in self._made.values()) > self.max_bytes:
                self._made.popitem(last=False)

    def in_flight(self, key: Hashable) -> Job | None:
        """The job making ``key``'s result now (queued or running), if there is one."""
        with self._lock:
            job = self._flying.get(key)
            if job is not None and job.done():
                del self._flying[key]
                return None
            return job

    def started(self, key: Hashable, job: Job) -> None:
        """``job`` makes ``key``'s result from now on."""
        with self._lock:
            self._flying[key] = job
            for other in [k for k, j in self._flying.items() if j.done()]:
                del self._flying[other]

    def clear(self) -> None:
        """Forget every result (the jobs in flight go on)."""
        with self._lock:
            self._made.clear()


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _watch(
    job: Job,
    bar: Any,
    describe: Callable[[Any], tuple[float, str]],
    what: str,
    on_record: Callable[[Any], None] | None = None,
) -> None:
    """Redraw the bar when the job's place or step changes, until it ends; Streamlit may stop the script meanwhile.

    ``on_record`` sees every progress record once, in order, the last ones included.
    """
    said = 0
    shown: tuple[float, str] | None = None
    while True:
        ended = job.done()
        records = job.history(said)
        said += len(records)
        if on_record is not None:
            for record in records:
                on_record(record)
        if ended:
            return
        place = job.position()
        now = (0.0, waiting_text(place, what)) if place > 0 else describe(job.progress())
        if now != shown:
            bar.progress(min(max(now[0], 0.0), 1.0), text=now[1])
            shown = now
        job.wait(_POLL_S)
        _ = _CHECK_KEY in st.session_state  # where Streamlit raises its stop or rerun, if one was asked


def failure_sentence(job: Job) -> str:
    """Why an ended job gave no result, as a sentence for the page (capitalised; never a traceback)."""
    failure = job.failure()
    if failure is None:
        return "The job ended without a result; the server's log has the details."
    if failure.kind is FailureKind.MEMORY:
        return "The machine ran out of memory for this job; try a smaller design."
    return _capital(failure.sentence)


def run_shared(
    key: Hashable,
    shared: Shared,
    kind: str,
    fn: Callable[[Any, Any], Any],
    payload: Any,
    *,
    describe: Callable[[Any], tuple[float, str]],
    stop_key: str,
    time_limit_s: float,
    what: str = "job",
) -> tuple[Any, str | None]:
    """The result for ``key``: kept, made by another session's job now, or made by a new job of this session.

    Draws a Stop button and a progress bar while it waits (both gone when it
    returns). Leaving the script (Stop, any click, the session's end) stops this
    session's job.

    Args:
        key: What is asked, hashable (the request itself, where it is).
        shared: Where results and jobs in flight are kept.
        kind: The job's kind (a newer job of the same kind from this session replaces it).
        fn: The job function (module-level).
        payload: Its plain-data request.
        describe: ``(fraction done, words)`` for the job's latest progress record (``None`` before the first).
        stop_key: The Stop button's widget key.
        time_limit_s: The job's time limit once it runs.
        what: The word for a job in the queue ("2 jobs ahead of yours").

    Returns:
        ``(result, None)``, or ``(None, the sentence of why there is none)``.
    """
    ready = shared.get(key)
    if ready is not None:
        return ready, None
    left, right = st.columns([1, 6], vertical_alignment="center")
    stop_slot, bar = left.empty(), right.empty()
    stop_slot.button("Stop", key=stop_key, icon=":material/stop:", help="stops the job; nothing it made is kept")
    outcome: tuple[Any, str | None] = (None, "The job did not run.")
    for _ in range(_JOIN_TRIES + 1):
        job = shared.in_flight(key)
        mine = job is None
        if job is None:
            try:
                job = engine().submit(session_id(), kind, fn, payload, time_limit_s=time_limit_s)
            except (ConfigError, SurroundingsError) as err:  # a full queue, the engine's settings, Ray unreachable
                outcome = (None, _capital(str(err)))
                break
            shared.started(key, job)
        try:
            _watch(job, bar, describe, what)
        finally:
            if mine and not job.done():
                job.stop()  # the script is left (Streamlit's stop or rerun included): the job ends with it
        result = job.result()
        if result is not None:
            shared.put(key, result)
            outcome = (result, None)
            break
        failure = job.failure()
        outcome = (None, failure_sentence(job))
        if mine or failure is None or failure.kind is not FailureKind.STOPPED:
            break  # its own outcome: said; another session's job that stopped: made here, next time round
    stop_slot.empty()
    bar.empty()
    return outcome


def submit(kind: str, fn: Callable[[Any, Any], Any], payload: Any, *, time_limit_s: float) -> Job:
    """Queue ``fn(payload, ctx)`` as this session's job of ``kind`` (an earlier one of that kind is stopped).

    Raises:
        QueueFullError: the queue is full (a :class:`SurroundingsError`).
        ConfigError: the engine's settings are wrong; SurroundingsError: Ray cannot be reached.
    """
    return engine().submit(session_id(), kind, fn, payload, time_limit_s=time_limit_s)


def follow(
    job: Job,
    bar: Any,
    describe: Callable[[Any], tuple[float, str]],
    *,
    what: str = "run",
    on_record: Callable[[Any], None] | None = None,
) -> None:
    """Watch this session's ``job`` until it ends: its place in the queue, then its progress, on ``bar``.

    ``on_record`` sees every progress record once, in order (a status box's
    steps). Leaving the script meanwhile (Stop, any click, the session's end:
    Streamlit raises its stop or rerun here) stops the job, which ends within a
    second.
    """
    try:
        _watch(job, bar, describe, what, on_record)
    finally:
        if not job.done():
            job.stop()  # the script is left: the job ends with it
