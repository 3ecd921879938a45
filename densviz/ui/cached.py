"""Cached computations for the page, every cache bounded.

Plans, figures and drawings are kept once per process and shared by every
session (:func:`shared`, ``st.cache_resource``): they are frozen dataclasses
and plotly figures that no caller changes (``st.plotly_chart`` copies a figure
before it sends it). ``st.cache_data`` would hand each caller its own copy by
unpickling, and a plotly figure unpickles through its validators: 8–10 ms a
chart and a quarter of a second for the Design space view's, on every rerun,
which was the largest share of the server's CPU under many sessions
(``benchmarks/ws_load.py``). Torchinfo's text keeps ``st.cache_data``.
The check against PyTorch runs in a background thread
(:class:`VerifyService`, one per process through ``st.cache_resource``), so
that a slider move never waits for torch.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Executor, Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar, cast

import plotly.graph_objects as go
import streamlit as st

from densviz.core.config import DenseNetConfig, InputSpec
from densviz.core.memory import DEFAULT_BUDGET_BYTES
from densviz.core.plan import ArchitecturePlan, checked_plan
from densviz.draw.charts import ChartKind, adjacency_figure, make_chart, volume_3d_figure
from densviz.draw.graph import DEFAULT_MAX_FULL_LAYERS, Detail
from densviz.draw.options import GraphOptions
from densviz.draw.render import Drawing, GraphFormat, draw
from densviz.jobs.local import worker_context
from densviz.nn.check import VerifyOutcome, check_plan, start_check_worker

BUDGET_BYTES = DEFAULT_BUDGET_BYTES

_T = TypeVar("_T")


def shared(max_entries: int) -> Callable[[Callable[..., _T]], Callable[..., _T]]:
    """Cache a function's results once per process, shared by every session; callers must not change them.

    Args:
        max_entries: How many results to keep (the oldest go first).
    """
    return st.cache_resource(max_entries=max_entries, show_spinner=False)


@shared(max_entries=256)
def plan_for(cfg: DenseNetConfig, spec: InputSpec) -> ArchitecturePlan:
    """The plan, after the resource guard (raises ``ConfigError`` over budget)."""
    return checked_plan(cfg, spec, BUDGET_BYTES)


@shared(max_entries=128)
def chart_for(cfg: DenseNetConfig, spec: InputSpec, kind: ChartKind) -> go.Figure:
    """One chart of a plan."""
    return make_chart(plan_for(cfg, spec), kind)


@shared(max_entries=64)
def adjacency_for(cfg: DenseNetConfig, spec: InputSpec, block: int | None) -> go.Figure:
    """The adjacency heat map, whole network or one block."""
    return adjacency_figure(plan_for(cfg, spec), block)


@shared(max_entries=64)
def volume_for(cfg: DenseNetConfig, spec: InputSpec, log_scale: bool) -> go.Figure:
    """The 3-D volume view."""
    return volume_3d_figure(plan_for(cfg, spec), log_scale=log_scale)


@shared(max_entries=64)
def _drawing(cfg: DenseNetConfig, spec: InputSpec, options: GraphOptions) -> Drawing:
    return draw(plan_for(cfg, spec), options, GraphFormat.SVG, timeout=8.0)


def drawing_for(
    cfg: DenseNetConfig,
    spec: InputSpec,
    options: GraphOptions | Detail,
    block: int | None = None,
    direction: str = "TB",
    show_cost: bool = False,
    max_full_layers: int = DEFAULT_MAX_FULL_LAYERS,
) -> Drawing:
    """The graph as SVG (with its DOT and notes), through dot with a timeout.

    Args:
        cfg: The architecture.
        spec: The input.
        options: How to draw the graph. A :class:`Detail` followed by the
            separate settings is the older spelling, kept for the Compare view.
        block: With a :class:`Detail` only.
        direction: With a :class:`Detail` only.
        show_cost: With a :class:`Detail` only.
        max_full_layers: With a :class:`Detail` only.
    """
    if not isinstance(options, GraphOptions):
        options = GraphOptions(options, block, direction, show_cost, max_full_layers)
    return _drawing(cfg, spec, options)


@st.cache_data(max_entries=16, show_spinner=False)
def torchinfo_text(cfg: DenseNetConfig, spec: InputSpec) -> str:
    """Torchinfo's table of the same model (built on the meta device)."""
    from densviz.nn.verify import torchinfo_summary

    return str(torchinfo_summary(cfg, InputSpec(batch=1, height=spec.height, width=spec.width)))


def _process_pool() -> Executor:
    """One worker process for the checks (``forkserver``, ``spawn`` where there is none), niced, one thread."""
    return ProcessPoolExecutor(
        max_workers=1, mp_context=worker_context(), initializer=start_check_worker, initargs=(os.getpid(),)
    )


class VerifyService:
    """Checks plans against PyTorch on one worker process (by default), one check at a time.

    Thread-safe: sessions share it, and share results. When a session asks for
    a new check, its own earlier requests that have not started are cancelled
    (a slider being dragged asks for many); other sessions' requests are left
    alone. At most ``max_entries`` results are kept. A worker that dies (killed
    for memory, say) is replaced on the next request; the checks it held end
    with a sentence (:func:`outcome_of`).

    Args:
        max_entries: How many checks to remember.
        check: The check to run (a function a worker process can import).
        pool: Makes the executor the checks run on; a process by default, so
            that building models never holds the server's interpreter lock.
    """

    def __init__(
        self,
        max_entries: int = 128,
        check: Callable[[DenseNetConfig, tuple[int, int]], VerifyOutcome] = check_plan,
        pool: Callable[[], Executor] = _process_pool,
    ):
        self._make_pool = pool
        self._pool = pool()
        self._check = check
        self._lock = threading.Lock()
        self._jobs: OrderedDict[tuple[DenseNetConfig, tuple[int, int]], Future[VerifyOutcome]] = OrderedDict()
        self._pending: dict[str, Future[VerifyOutcome]] = {}  # each session's latest request
        self._max = max_entries

    def _submit(self, cfg: DenseNetConfig, hw: tuple[int, int]) -> Future[VerifyOutcome]:
        try:
            return self._pool.submit(self._check, cfg, hw)
        except BrokenExecutor:  # the worker died: a new one, and the dead one's checks are asked for anew
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._make_pool()
            return self._pool.submit(self._check, cfg, hw)

    def request(self, cfg: DenseNetConfig, spec: InputSpec, owner: str = "") -> Future[VerifyOutcome]:
        """The check of this config at this input size, started if new.

        Args:
            cfg: The architecture.
            spec: The input (only its height and width matter).
            owner: Who asks (a session id): their previous request, if not
                started yet, is dropped.
        """
        key = (cfg, spec.hw)  # the batch changes no shape that matters
        with self._lock:
            job = self._jobs.get(key)
            if job is None or job.cancelled() or (job.done() and job.exception() is not None):
                job = self._submit(cfg, spec.hw)
                self._jobs[key] = job
                while len(self._jobs) > self._max:
                    self._jobs.popitem(last=False)
            self._jobs.move_to_end(key)
            previous = self._pending.get(owner)
            if (
                previous is not None
                and previous is not job
                and not any(previous is j for o, j in self._pending.items() if o != owner)
            ):
                previous.cancel()  # only cancels what has not started
            self._pending.pop(owner, None)
            self._pending[owner] = job  # newest last, so that the oldest sessions are forgotten first
            while len(self._pending) > 8 * self._max:
                self._pending.pop(next(iter(self._pending)))
            return job

    def close(self) -> None:
        """Stop the worker (checks not started are dropped)."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def outcome_of(job: Future[VerifyOutcome]) -> VerifyOutcome:
    """A finished check's outcome; a worker that died on it gives an outcome whose ``error`` says so."""
    try:
        return job.result(timeout=0)
    except BrokenExecutor:
        return VerifyOutcome(False, 0, (), 0.0, "the check could not run: its worker process ended (out of memory?)")


class DrawService:
    """Drawings made on a worker process, shared by every session; the last ``max_entries`` kept.

    For drawings that cost the server's interpreter lock tenths of a second
    (the Growth view's matplotlib charts): while the worker draws, the session
    that asked waits without holding the lock, and other sessions' reruns go
    on. A worker that cannot start or dies (a script run as ``__main__``
    without the guard, say) is replaced, and that drawing is made here.

    Args:
        max_entries: How many drawings to keep.
        pool: Makes the executor the drawings run on.
    """

    def __init__(self, max_entries: int = 32, pool: Callable[[], Executor] = _process_pool):
        self._make_pool = pool
        self._pool = pool()
        self._lock = threading.Lock()
        self._made: OrderedDict[tuple[object, ...], Future[Any]] = OrderedDict()
        self._max = max_entries

    def draw(self, fn: Callable[..., _T], *args: Any, timeout: float = 120.0) -> _T:
        """``fn(*args)``, drawn on the worker (or kept from an earlier call with the same arguments)."""
        key = (fn.__module__, fn.__qualname__, *args)
        with self._lock:
            job = self._made.get(key)
            if job is None or (job.done() and job.exception() is not None):
                try:
                    job = self._pool.submit(fn, *args)
                except BrokenExecutor:
                    self._pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = self._make_pool()
                    job = self._pool.submit(fn, *args)
                self._made[key] = job
                while len(self._made) > self._max:
                    self._made.popitem(last=False)
            self._made.move_to_end(key)
        try:
            return cast(_T, job.result(timeout=timeout))
        except (BrokenExecutor, FutureTimeout):
            with self._lock:
                if self._made.get(key) is job:
                    del self._made[key]
            return fn(*args)

    def close(self) -> None:
        """Stop the worker."""
        self._pool.shutdown(wait=False, cancel_futures=True)


@st.cache_resource(max_entries=1, show_spinner=False)
def draw_service() -> DrawService:
    """The process's one drawing service (its worker process starts with it)."""
    return DrawService()


@st.cache_resource(max_entries=1, show_spinner=False)
def verify_service() -> VerifyService:
    """The process's one verify service (its worker process starts with it)."""
    return VerifyService()
