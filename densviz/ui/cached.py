"""Cached computations for the page, every cache bounded.

Plans, figures, DOT and SVG go through ``st.cache_data`` (each caller gets its
own copy, so nothing shared is mutated). The check against PyTorch runs in a
background thread (:class:`VerifyService`, one per process through
``st.cache_resource``), so that a slider move never waits for torch.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import plotly.graph_objects as go
import streamlit as st

from densviz.core.config import DenseNetConfig, InputSpec
from densviz.core.memory import DEFAULT_BUDGET_BYTES
from densviz.core.plan import ArchitecturePlan, checked_plan
from densviz.draw.charts import ChartKind, adjacency_figure, make_chart, volume_3d_figure
from densviz.draw.graph import DEFAULT_MAX_FULL_LAYERS, Detail
from densviz.draw.options import GraphOptions
from densviz.draw.render import Drawing, GraphFormat, draw
from densviz.export import ExportFormat, export

BUDGET_BYTES = DEFAULT_BUDGET_BYTES


@st.cache_data(max_entries=256, show_spinner=False)
def plan_for(cfg: DenseNetConfig, spec: InputSpec) -> ArchitecturePlan:
    """The plan, after the resource guard (raises ``ConfigError`` over budget)."""
    return checked_plan(cfg, spec, BUDGET_BYTES)


@st.cache_data(max_entries=128, show_spinner=False)
def chart_for(cfg: DenseNetConfig, spec: InputSpec, kind: ChartKind) -> go.Figure:
    """One chart of a plan."""
    return make_chart(plan_for(cfg, spec), kind)


@st.cache_data(max_entries=64, show_spinner=False)
def adjacency_for(cfg: DenseNetConfig, spec: InputSpec, block: int | None) -> go.Figure:
    """The adjacency heat map, whole network or one block."""
    return adjacency_figure(plan_for(cfg, spec), block)


@st.cache_data(max_entries=64, show_spinner=False)
def volume_for(cfg: DenseNetConfig, spec: InputSpec, log_scale: bool) -> go.Figure:
    """The 3-D volume view."""
    return volume_3d_figure(plan_for(cfg, spec), log_scale=log_scale)


@st.cache_data(max_entries=64, show_spinner=False)
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
def export_files(
    cfg: DenseNetConfig,
    spec: InputSpec,
    fmt: ExportFormat,
    options: GraphOptions,
    *,
    graph: bool,
    charts: tuple[ChartKind, ...],
) -> dict[str, bytes]:
    """Files of one export format, by file name (made when a download is clicked).

    Args:
        cfg: The architecture.
        spec: The input.
        fmt: The format.
        options: The Graph view's settings (detail, block, direction,
            parameters and MACs on the nodes, the longest block drawn in full),
            so that the graph is drawn as the SVG the page shows.
        graph: Whether to draw the graph.
        charts: Which charts.
    """
    import tempfile
    from pathlib import Path

    plan = checked_plan(cfg, spec, BUDGET_BYTES)  # not plan_for: this runs in a download thread
    with tempfile.TemporaryDirectory(prefix="densviz-export-") as tmp:
        result = export(plan, tmp, [fmt], graph_options=options, graph=graph, charts=list(charts))
        return {Path(p).name: Path(p).read_bytes() for p in result.files}


@st.cache_data(max_entries=16, show_spinner=False)
def torchinfo_text(cfg: DenseNetConfig, spec: InputSpec) -> str:
    """Torchinfo's table of the same model (built on the meta device)."""
    from densviz.nn.verify import torchinfo_summary

    return str(torchinfo_summary(cfg, InputSpec(batch=1, height=spec.height, width=spec.width)))


@dataclass(frozen=True)
class VerifyOutcome:
    """A finished check of the plan against PyTorch.

    Attributes:
        ok: Every check agreed.
        checks: How many numbers were compared.
        mismatches: The first few disagreements, in words.
        elapsed_s: How long building and running the model took.
        error: A sentence if the check could not run.
    """

    ok: bool
    checks: int
    mismatches: tuple[str, ...]
    elapsed_s: float
    error: str | None = None


def _verify(cfg: DenseNetConfig, hw: tuple[int, int]) -> VerifyOutcome:
    import torch

    from densviz.nn.verify import verify

    torch.set_num_threads(1)  # a shared server: one core per request

    start = time.perf_counter()
    try:
        report = verify(cfg, InputSpec(batch=1, height=hw[0], width=hw[1]))
    except Exception as err:  # the page must go on; the badge says what happened
        return VerifyOutcome(
            False, 0, (), time.perf_counter() - start, f"the check could not run: {type(err).__name__}: {err}"
        )
    words = tuple(f"{c.name} {c.quantity.value}: plan {c.planned}, PyTorch {c.measured}" for c in report.mismatches[:5])
    return VerifyOutcome(report.ok, len(report.checks), words, time.perf_counter() - start)


class VerifyService:
    """Checks plans against PyTorch in one background thread.

    Thread-safe: sessions share it, and share results. When a session asks for
    a new check, its own earlier requests that have not started are cancelled
    (a slider being dragged asks for many); other sessions' requests are left
    alone. At most ``max_entries`` results are kept.
    """

    def __init__(self, max_entries: int = 128):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="densviz-verify")
        self._lock = threading.Lock()
        self._jobs: OrderedDict[tuple[DenseNetConfig, tuple[int, int]], Future[VerifyOutcome]] = OrderedDict()
        self._pending: dict[str, Future[VerifyOutcome]] = {}  # each session's latest request
        self._max = max_entries

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
            if job is None or job.cancelled():
                job = self._pool.submit(_verify, cfg, spec.hw)
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


@st.cache_resource(max_entries=1, show_spinner=False)
def verify_service() -> VerifyService:
    """The process's one verify service.

    torch is imported here, in the script thread, once per process: imported
    for the first time inside the worker while the script imports plotly, the
    two threads would each see numpy half-initialised.
    """
    import torch  # noqa: F401

    import densviz.nn.verify  # noqa: F401

    return VerifyService()
