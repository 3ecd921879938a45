"""The Forward pass view's Profile panel: where the time goes, per plan row, on this device's roofline.

Behind its own Profile button (a profile runs the network a dozen times and
measures the device's peak and bandwidth): each plan row's measured time, its
share, GFLOP/s and bytes moved (``densviz.run.profile``), the roofline
(every row with MACs at its FLOPs per byte, under the measured compute peak
and memory bandwidth), each stage's share of the time beside its share of the
MACs, how the roofs were measured, and the profiler's Chrome trace to
download. It profiles with the settings of the view's controls (device,
precision, layout, batch, timed runs), on one thread, eager: a compiled model
fuses rows and has no per-row times.

Below, "Fastest settings on this device" (``densviz.run.fastest``) measures
the candidate settings for this design side by side, compiling one of them;
it is behind a button too.

Both run as jobs on a worker (:mod:`densviz.jobs.analysis`: the local pool, or
Ray), never in the server's process. While one runs, a Stop button and a
progress bar show (its place in the queue, then its passes); Stop, any change
on the page or the session's end leaves the script, and the job ends after
the pass in flight (or with its worker, within a second).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st
import torch

from densviz.core.config import ConfigError, DenseNetConfig, InputSpec
from densviz.core.errors import SurroundingsError
from densviz.core.settings import SETTINGS
from densviz.core.units import format_bytes
from densviz.draw.charts.roofline import roofline_figure, time_share_figure
from densviz.jobs import FailureKind, Job
from densviz.jobs.analysis import AnalysisProgress, FastestRequest, ProfileRequest
from densviz.jobs.analysis import fastest as fastest_job
from densviz.jobs.analysis import profile as profile_job
from densviz.run import Precision, RunOptions
from densviz.run.compiled import CompileError
from densviz.run.fastest_result import FastestOptions, FastestResult
from densviz.run.profile import ProfileOptions, ProfileResult
from densviz.ui import job_watch
from densviz.ui.session import Network
from densviz.ui.text import plain

__all__ = ["FASTEST_KEY", "PROFILE_KEY", "ProfileSettings", "profile_panel"]

PROFILE_KEY = "forward_profile"
"""Session key of the latest profile (a ``_Stored``)."""
FASTEST_KEY = "forward_fastest"
"""Session key of the latest fastest-settings measurement (a ``_StoredFastest``)."""

_CONTROL_KEYS = {
    "device": "forward_device",
    "precision": "forward_precision",
    "channels_last": "forward_cl",
    "batch": "forward_batch",
    "runs": "forward_runs",
}
"""The Forward pass view's control keys the panel reads its settings from, when it is not given them."""

_LIMIT_S = 120.0
"""A profile's time limit on the page (refused up front from a measured pass when over it)."""
_BACKSTOP_S = 60.0
"""Added to a measurement's own limits for its job's time limit (the measurement keeps its own)."""
_PLOTLY = {"displaylogo": False}


@dataclass(frozen=True)
class ProfileSettings:
    """The settings a profile ran with: what is shown belongs to these.

    Attributes:
        config: The design.
        hw: Input height and width.
        device: Where it ran.
        precision: fp32, bf16 or fp16.
        channels_last: The memory format.
        batch: Images per pass.
        runs: Profiled passes.
    """

    config: DenseNetConfig
    hw: tuple[int, int]
    device: str
    precision: str
    channels_last: bool
    batch: int
    runs: int

    def describe(self) -> str:
        """The settings in words."""
        layout = "channels-last" if self.channels_last else "NCHW"
        return (
            f"{self.device} · {self.precision} · {layout} · batch {self.batch} · {self.runs} profiled passes · 1 thread"
        )


@dataclass(frozen=True)
class _Stored:
    settings: ProfileSettings
    result: ProfileResult


@dataclass(frozen=True)
class _StoredFastest:
    settings: ProfileSettings
    result: FastestResult


def _settings(net: Network, options: RunOptions | None, batch: int | None) -> ProfileSettings:
    """The profile's settings: those given, else the view's controls, else the table's defaults."""
    state = st.session_state
    device = options.device if options else str(state.get(_CONTROL_KEYS["device"]) or "cpu")
    if device == "auto":
        device = "cpu" if not torch.cuda.is_available() else "cuda:0"
    precision = options.precision.value if options else str(state.get(_CONTROL_KEYS["precision"]) or "fp32")
    channels_last = options.channels_last if options else bool(state.get(_CONTROL_KEYS["channels_last"], False))
    runs = options.runs if options else int(state.get(_CONTROL_KEYS["runs"]) or SETTINGS["runs"].page_default)
    if batch is None:
        batch = int(state.get(_CONTROL_KEYS["batch"]) or SETTINGS["run_batch"].default)
    return ProfileSettings(net.config, net.input.hw, device, precision, channels_last, batch, runs)


def _described(what: str) -> Callable[[Any], tuple[float, str]]:
    """The bar's fraction and words for the job's latest record: its passes (``what: pass 3 of 14``)."""

    def describe(record: Any) -> tuple[float, str]:
        if isinstance(record, AnalysisProgress) and record.total:
            return record.done / record.total, record.step
        return 0.0, f"{what}…"

    return describe


def _failure(job: Job, settings: ProfileSettings) -> tuple[str, str]:
    """(the status's label, the sentence) of a job that gave no result."""
    failure = job.failure()
    sentence = job_watch.failure_sentence(job)
    if failure is None:
        return "It failed", sentence
    if failure.kind in (FailureKind.STOPPED, FailureKind.TIME_LIMIT):
        return "Stopped", sentence
    if failure.error == CompileError.__name__:
        return "The compile failed", sentence
    if failure.kind is FailureKind.REFUSED:
        return "It did not start", sentence
    if failure.kind is FailureKind.MEMORY:
        return "Out of memory", f"{settings.device} ran out of memory for batch {settings.batch}; lower it."
    return "It failed", sentence


def _measured(
    what: str, settings: ProfileSettings, key: str, fn: Callable[[Any, Any], Any], request: Any, limit_s: float
) -> Any:
    """Run ``fn(request)`` as this session's job ``key`` on a worker; its result, or ``None``.

    While it runs: a status box (its steps), a Stop button and a progress bar (its place in the queue,
    then its passes). A failure is said in a sentence below the box (nothing is kept).
    """
    left, right = st.columns([1, 6], vertical_alignment="center")
    stop_slot, bar = left.empty(), right.empty()
    stop_slot.button("Stop", key=f"{key}_stop", icon=":material/stop:", help="stops after the pass in flight")
    failure: tuple[str, str] | None = None
    result = None
    with st.status(f"{what}…", expanded=True) as status:

        def said(record: Any) -> None:
            if isinstance(record, AnalysisProgress) and not record.total:  # a step, not a pass
                status.write(record.step)

        try:
            job = job_watch.submit(key, fn, request, time_limit_s=limit_s)
        except (ConfigError, SurroundingsError) as err:  # a full queue, the engine's settings
            failure = ("It did not start", str(err)[:1].upper() + str(err)[1:])
        else:
            job_watch.follow(job, bar, _described(what), what="job", on_record=said)
            result = job.result()
            if result is None:
                failure = _failure(job, settings)
        if failure is None:
            status.update(label=f"{what}: done", state="complete", expanded=False)
        else:
            status.update(label=failure[0], state="error", expanded=True)
    stop_slot.empty()
    bar.empty()
    if failure is not None:
        st.error(plain(failure[1][:1].upper() + failure[1][1:]))
        return None
    return result


def _profile(net: Network, settings: ProfileSettings) -> None:
    """Run the profile on a worker; keep its result, or say why there is none."""
    spec = InputSpec(batch=settings.batch, height=settings.hw[0], width=settings.hw[1])
    options = ProfileOptions(
        device=settings.device,
        precision=Precision(settings.precision),
        channels_last=settings.channels_last,
        runs=settings.runs,
        warmup=1,
        threads=1,
        trace=True,
        max_seconds=_LIMIT_S,
    )
    request = ProfileRequest(net.config, spec, options)
    result = _measured("Profiling", settings, "profile", profile_job, request, _LIMIT_S + _BACKSTOP_S)
    if result is not None:
        st.session_state[PROFILE_KEY] = _Stored(settings, result)


def _fastest(net: Network, settings: ProfileSettings) -> None:
    """Measure the candidate settings on a worker; keep the result, or say why there is none."""
    spec = InputSpec(batch=settings.batch, height=settings.hw[0], width=settings.hw[1])
    options = FastestOptions(device=settings.device, runs=settings.runs, warmup=1, threads=1)
    # the passes' limit, and each compile's (the CPU has one compiled candidate, CUDA two at most)
    limit = (options.max_seconds or 3600.0) + 2 * (options.max_compile_seconds or 3600.0) + _BACKSTOP_S
    request = FastestRequest(net.config, spec, options)
    result = _measured("Measuring the settings", settings, "fastest", fastest_job, request, limit)
    if result is not None:
        st.session_state[FASTEST_KEY] = _StoredFastest(settings, result)


def _rows_table(result: ProfileResult) -> None:
    """Every plan row: time, share, GFLOP/s, bytes moved, FLOPs per byte."""
    top = max((r.share for r in result.rows), default=0.0)
    st.dataframe(
        [
            {
                "module": r.name,
                "role": r.role.replace("_", " "),
                "time (ms)": r.time_ms,
                "share": 100 * r.share,
                "GFLOP/s": f"{r.gflops:.1f}" if r.macs else "—",  # no MACs (a norm, a ReLU, a pooling): no rate
                "bytes moved": format_bytes(r.bytes_moved),
                "FLOP/byte": f"{r.intensity:.2f}" if r.macs else "—",
                "steps (ms)": " · ".join(f"{s} {t:.3f}" for s, t in r.steps),
            }
            for r in result.rows
        ],
        hide_index=True,
        width="stretch",
        height=320,
        column_config={
            "time (ms)": st.column_config.NumberColumn(format="%.3f"),
            "share": st.column_config.ProgressColumn(format="%.1f%%", min_value=0.0, max_value=max(100 * top, 1e-9)),
        },
    )


def _shown(stored: _Stored, current: ProfileSettings) -> None:
    """The stored profile: how it was measured, the charts, the table and the trace."""
    result, settings = stored.result, stored.settings
    if settings != current:
        st.caption(
            f":material/history: Profiled with {plain(settings.describe())}; the controls above have changed since. "
            "Press Profile for the current settings."
        )
    else:
        st.caption(f"Profiled: {plain(settings.describe())}, random weights (times do not depend on them).")
    cols = st.columns(4)
    cols[0].metric(
        "Rows' sum", f"{result.total_ms:.1f} ms", help="each plan row's time in the median profiled pass, added up"
    )
    cols[1].metric(
        "End to end",
        f"{result.end_to_end_ms:.1f} ms",
        delta=f"sum / end to end {result.ratio:.2f}",
        delta_color="off",
        delta_arrow="off",
        help=result.end_to_end_source,
    )
    cols[2].metric("Compute peak", f"{result.peak_gflops:.0f} GFLOP/s", help=result.peak_source)
    cols[3].metric("Memory bandwidth", f"{result.bandwidth_gbs:.1f} GB/s", help=result.bandwidth_source)
    st.caption(
        f"Peak ({result.precision.value}, {result.threads} thread{'s' if result.threads != 1 else ''}): "
        f"{plain(result.peak_source)}. Bandwidth: {plain(result.bandwidth_source)}."
    )
    data = result.to_dict()
    st.plotly_chart(roofline_figure(data), width="stretch", config=_PLOTLY, key="profile_roofline")
    st.caption(
        "Each point is a plan row with MACs (a convolution, a dense layer, a transition, the classifier). "
        "Left of the ridge, under the slanted roof, a row is bound by memory traffic; right of it, by arithmetic. "
        "The further below its roof a point lies, the more time goes to something else (a small layer's fixed costs)."
    )
    st.plotly_chart(time_share_figure(data), width="stretch", config=_PLOTLY, key="profile_share")
    _rows_table(result)
    if result.trace is not None:
        st.download_button(
            "Download the Chrome trace (.json)",
            data=result.trace,
            file_name="densviz-profile-trace.json",
            mime="application/json",
            on_click="ignore",
            icon=":material/download:",
            help="the last profiled pass, one range per plan row; opens in ui.perfetto.dev or chrome://tracing",
            key="profile_trace",
        )


def _fastest_shown(stored: _StoredFastest, current: ProfileSettings) -> None:
    """The candidates side by side, the fastest named, how they were measured."""
    result = stored.result
    best = result.fastest
    if (stored.settings.device, stored.settings.batch) != (current.device, current.batch):
        st.caption(
            f":material/history: Measured on {plain(stored.settings.device)} at batch {stored.settings.batch}; "
            "the controls above have changed since."
        )
    st.success(
        f"Fastest here: **{best.candidate.name}**, {best.speedup:.2f}× eager fp32, "
        f"{best.fraction_of_peak:.0%} of this device's {best.candidate.precision.value} peak "
        f"({best.median_ms:.1f} ms a pass at batch {result.batch}).",
        icon=":material/speed:",
    )
    st.dataframe(
        [
            {
                "setting": s.candidate.name + (" ★" if s is best else ""),
                "median (ms)": s.median_ms,
                "GFLOP/s": s.gflops,
                "of its peak": 100 * s.fraction_of_peak,
                "max |Δ logit|": f"{s.max_logit_difference:.1e}",
                "speedup": f"{s.speedup:.2f}×",
                "compile (s)": "—"  # eager: nothing compiled
                if s.compile_seconds is None
                else f"{s.compile_seconds:.1f}" + (" (kept)" if s.compile_source.startswith("reused") else ""),
            }
            for s in result.settings
        ],
        hide_index=True,
        width="stretch",
        column_config={
            "median (ms)": st.column_config.NumberColumn(format="%.1f"),
            "GFLOP/s": st.column_config.NumberColumn(format="%.1f"),
            "of its peak": st.column_config.ProgressColumn(format="%.0f%%", min_value=0.0, max_value=100.0),
            "compile (s)": st.column_config.TextColumn(
                help="apart from the passes; (kept): compiled by an earlier run in this process, nothing compiled now"
            ),
        },
    )
    peaks = {s.candidate.precision.value: s.peak_source for s in result.settings}
    compiled = [s for s in result.settings if s.compile_seconds is not None]
    st.caption(
        f"{plain(result.device_name)} ({result.device}): {plain(result.method)}. Speedups and logit differences are "
        "against eager fp32 (random weights); each share is of the peak in the setting's own precision. "
        + " ".join(f"{p} peak: {plain(src)}." for p, src in peaks.items())
        + "".join(f" Compile of {s.candidate.name}: {plain(s.compile_source)}." for s in compiled)
        + "".join(f" {plain(n[:1].upper() + n[1:])}." for n in result.notes)
    )


def _fastest_section(net: Network, settings: ProfileSettings) -> None:
    """The "fastest settings on this device" table, behind its button."""
    st.markdown("**Fastest settings on this device**")
    st.caption(
        f"Measures this design at batch {settings.batch} on {plain(settings.device)}, one thread, in every setting "
        "worth trying here (eager fp32, channels-last, native bf16, compiled), side by side. It compiles the model: "
        "the first time, a minute or more for DenseNet-121 on a CPU core; the worker process that compiled a design "
        "keeps it for its next run there."
    )
    if st.button("Find the fastest settings", key="fastest_run", icon=":material/speed:"):
        _fastest(net, settings)
    stored = st.session_state.get(FASTEST_KEY)
    if isinstance(stored, _StoredFastest) and (stored.settings.config, stored.settings.hw) == (
        net.config,
        net.input.hw,
    ):
        _fastest_shown(stored, settings)


def profile_panel(net: Network, options: RunOptions | None = None, batch: int | None = None) -> None:
    """The Profile panel of the Forward pass view.

    Args:
        net: The current network.
        options: The view's run options (device, precision, layout, runs);
            read from the view's controls when not given.
        batch: Images per pass; from the view's control when not given.
    """
    st.markdown("**Where the time goes: a profile per plan row, on this device's roofline**")
    settings = _settings(net, options, batch)
    compiled = bool(options.compiled) if options else False
    st.caption(
        f"Profiles {plain(settings.describe())}, eager"
        + (" (a compiled model fuses rows, so it has no per-row times)" if compiled else "")
        + "; measures this device's compute peak and memory bandwidth at that precision and thread count."
    )
    if st.button(
        "Profile", key="profile_run", icon=":material/query_stats:", help="about a dozen passes of the network"
    ):
        _profile(net, settings)
    stored = st.session_state.get(PROFILE_KEY)
    if isinstance(stored, _Stored) and (stored.settings.config, stored.settings.hw) == (net.config, net.input.hw):
        _shown(stored, settings)
    elif isinstance(stored, _Stored):
        st.caption("The last profile was of another network or input size, so it is not shown.")
    _fastest_section(net, settings)
