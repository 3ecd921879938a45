"""The feature-reuse view: train the current DenseNet on the digits, then see the paper's Figure 5 for it.

Training runs as a job on a worker process (:mod:`densviz.jobs`: the local
pool, or Ray), never in the server's process, so the other sessions' pages
stay responsive while it trains. The page waits for it, redrawing the progress
bar (or the run's place in the queue) and the live curve from the job's
progress records; Stop ends it within a second (keeping the network trained so
far where the step in flight ends in time); a session that ends takes its job
with it (the engine checks the sessions that have jobs twice a second). What
the run returns (weights as bytes, the heat maps, the readings) lives in the
session that trained it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from densviz import jobs
from densviz.core.config import ConfigError, InputSpec
from densviz.core.errors import SurroundingsError
from densviz.draw.charts.figure5 import reuse_figure
from densviz.draw.charts.training import training_figure
from densviz.jobs import FailureKind, Job
from densviz.jobs.work import TrainedRun, TrainRequest, train_log
from densviz.jobs.work import train as train_job
from densviz.reuse import (
    WEIGHTS_FILE,
    TrainLog,
    TrainOptions,
    TrainVariant,
    check_training_memory,
    training_variant,
)
from densviz.ui import job_watch, session, state
from densviz.ui.controls import control
from densviz.ui.forward import device_select
from densviz.ui.job_watch import waiting_text
from densviz.ui.session import Key, Network, TrainedWeights
from densviz.ui.state import CUSTOM
from densviz.ui.text import plain

_LOG = logging.getLogger(__name__)
_JOB = "reuse_job"
_RESULT = "reuse_result"
_KIND = "train"
_START_ALLOWANCE_S = 120.0  # on top of the run's own time limit: a worker's start, the final evaluation, the result


@dataclass
class TrainJob:
    """One training run of one session: its job on the engine and the log put together from its progress."""

    job: Job
    variant: TrainVariant
    options: TrainOptions
    log: TrainLog = field(init=False)
    _folded: int = 0

    def __post_init__(self) -> None:
        self.log = TrainLog.for_run(self.options)

    def update(self) -> TrainLog:
        """The log with the progress records that came since the last call folded in."""
        records = self.job.history(self._folded)
        self._folded += len(records)
        more = train_log(self.options, records)
        self.log.losses.extend(more.losses)
        self.log.epochs.extend(more.epochs)
        return self.log


def _start(variant: TrainVariant, options: TrainOptions) -> TrainJob:
    """Queue a training run of this session on the engine.

    Raises:
        QueueFullError: too many runs wait already.
        ConfigError, SurroundingsError: the engine's settings are wrong, or Ray cannot be reached.
    """
    limit = (options.max_seconds or 3600.0) + _START_ALLOWANCE_S
    job = job_watch.engine().submit(
        job_watch.session_id(), _KIND, train_job, TrainRequest(variant, options), time_limit_s=limit
    )
    return TrainJob(job, variant, options)


def _progress_text(log: TrainLog, options: TrainOptions, position: int, stopping: bool = False) -> str:
    """The progress bar's line: the queue (``position`` 1 = next to start, 0 = running), or what the run is doing."""
    if position > 0:
        return waiting_text(position)
    if stopping:
        return "stopping: the network trained so far is being evaluated…"
    if not log.losses:
        return "starting… (building the model, loading the digits)"
    step, seconds, loss = log.losses[-1]
    last = log.epochs[-1] if log.epochs else None
    acc = f" · held-out accuracy {last.test_accuracy:.1%} after epoch {last.epoch}" if last else ""
    limit = f" of {options.max_seconds:.0f} s" if options.max_seconds else ""
    return f"step {step}/{log.total_steps} · {seconds:.1f} s{limit} · loss {loss:.3f}{acc}"


def _curve(log: TrainLog, title: str = "Training") -> go.Figure:
    """The loss and accuracy chart of a run's log so far."""
    return training_figure(list(log.losses), list(log.epochs), title)


_MEMORY = (
    "The machine ran out of memory while training this network; lower the growth rate or the layers per block, "
    "or train on the CPU."
)


def _failure_sentence(job: Job) -> str:
    """Why a run gave no result, for the page."""
    failure = job.failure()
    if failure is None:
        return "Training ended without a result; the server's log has the details."
    if failure.kind is FailureKind.MEMORY:
        return _MEMORY
    if failure.kind is FailureKind.INTERNAL:
        return "Training stopped with an error; the server's log has the details."
    if failure.kind is FailureKind.STOPPED and job.stop_reason is jobs.StopReason.USER:
        return (
            "Training stopped: the step in flight was still running a moment after Stop, so the run was ended "
            "there and nothing it learned was kept (a smaller network or batch stops after its step and keeps it)."
        )
    return failure.sentence


def _finish(tj: TrainJob) -> None:
    """Move a finished run's outcome into the session."""
    st.session_state.pop(_JOB, None)
    run = tj.job.result()
    if isinstance(run, TrainedRun):
        st.session_state[_RESULT] = {"result": run, "maps": run.maps, "readings": run.readings}
    else:
        st.session_state["_reuse_error"] = _failure_sentence(tj.job)


def _watch(tj: TrainJob) -> None:
    """Progress bar (or place in the queue), live curve and Stop while the run trains, then one rerun with the results.

    The script waits here, redrawing twice a second (the training itself runs
    on a worker). Any click, Stop's included, interrupts the wait and reruns
    the page, which comes back here while the run goes on. Polling with a
    ``run_every`` fragment instead proved fragile in a real browser: the rerun
    that ends the polling can swallow a click made at that moment.
    """
    job = tj.job

    def line() -> str:
        return _progress_text(tj.update(), tj.options, job.position(), stopping=job.stop_asked_at is not None)

    bar = st.progress(0.0, text=line())
    st.button(
        "Stop", icon=":material/stop:", key="reuse_stop", on_click=job.stop, disabled=job.stop_asked_at is not None
    )
    chart = st.empty()
    frame = 0
    while not job.done():
        frame += 1
        text = line()
        bar.progress(tj.log.fraction, text=text)
        chart.plotly_chart(_curve(tj.log, "Training (live)"), width="stretch", key=f"reuse_live_{frame}")
        job.wait(0.5)  # wakes at the end, or after 0.5 s
    _finish(tj)
    st.rerun()


def _use_in_forward() -> None:
    """Callback: make the trained network the page's network and open the forward-pass view with its weights."""
    saved = st.session_state.get(_RESULT)
    if not saved:
        return
    result: TrainedRun = saved["result"]
    variant = result.variant
    state.load(st.session_state, variant.config, InputSpec.square(variant.size), CUSTOM)
    weights = TrainedWeights(variant.config, WEIGHTS_FILE, "weights trained in the Feature reuse view", result.weights)
    session.put(Key.TRAINED_WEIGHTS, weights)
    session.put(Key.FORWARD_SOURCE, "digits")
    session.put(Key.VIEW, "Forward pass")


_PAPER = (
    "The paper (Sec. 5, Figure 5) trains DenseNet (L = 40, k = 12) for 300 epochs on CIFAR-10 and, for each "
    "convolutional layer ℓ of a block, averages the absolute weights it gives to the maps of each earlier source s "
    "(the block's input, then each earlier layer), normalised per target layer. Its reading:"
)


def _results(saved: dict[str, Any]) -> None:
    result: TrainedRun = saved["result"]
    stopped = {"epochs": "", "time": "the time limit ended the run", "user": "stopped by you"}[result.stopped_by]
    t90 = result.time_to(0.9)
    cols = st.columns(4)
    cols[0].metric(
        "Held-out accuracy", f"{result.test_accuracy:.1%}", help="360 digits never trained on; chance is 10%"
    )
    cols[1].metric(
        "Epochs", f"{len(result.log.epochs)} of {result.options.epochs}", help=stopped or "all the epochs asked for"
    )
    cols[2].metric("Training time", f"{result.seconds:.1f} s", help=f"on {result.device}, one thread")
    cols[3].metric(
        "90% held-out after",
        f"{t90:.1f} s" if t90 is not None else "not reached",
        help=f"{result.samples_per_s:,.0f} training digits per second, forward and backward",
    )
    if stopped:
        st.caption(f"Training ended early: {stopped}.")
    st.plotly_chart(
        reuse_figure(saved["maps"], result.caption), width="stretch", config={"displaylogo": False}, key="reuse_map"
    )
    left, right = st.columns([1, 1])
    with left:
        st.markdown(_PAPER)
        st.dataframe(
            [
                {
                    "the paper's reading": r.title,
                    "this run": r.value,
                    "holds": {True: "yes", False: "no", None: "n/a"}[r.holds],
                }
                for r in saved["readings"]
            ],
            hide_index=True,
            width="stretch",
        )
        for r in saved["readings"]:
            st.caption(f"**{r.title}.** {r.claim} *This run: {r.measure}: {r.value}.*")
        st.caption(
            "After a few epochs most weights are still near their random start, which weighs every source alike, "
            "so the contrasts are fainter than the paper's; more epochs sharpen them."
        )
    with right:
        st.plotly_chart(_curve(result.log), width="stretch", key="reuse_curve")
    buttons = st.columns(3)
    buttons[0].download_button(
        "Weights (.safetensors)",
        data=result.weights,
        file_name=WEIGHTS_FILE,
        mime="application/octet-stream",
        on_click="ignore",
        icon=":material/download:",
    )
    buttons[1].download_button(
        "Accuracy and heat maps (.json)",
        data=result.json,
        file_name="training.json",
        mime="application/json",
        on_click="ignore",
        icon=":material/download:",
    )
    buttons[2].button(
        "Classify digits in the Forward pass view",
        on_click=_use_in_forward,
        icon=":material/arrow_forward:",
        help="makes the trained network the current one and runs it on held-out digits with these weights",
    )


def _sentence(err: Exception) -> str:
    text = str(err)
    return text[:1].upper() + text[1:]


def reuse_view(net: Network) -> None:
    """Train the current architecture on the digits, then its Figure 5."""
    jobs.start_local_pool()  # the workers warm up (in the background) before Train is pressed
    try:
        variant = training_variant(net.config)
    except ConfigError as err:
        st.error(str(err)[:1].upper() + str(err)[1:], icon=":material/block:")
        return
    if variant.changes:
        st.info(
            "Trained on scikit-learn's 1,797 handwritten digits (8×8, grey, 10 classes) with "
            + "; ".join(variant.changes)
            + ". Everything else is as set.",
            icon=":material/info:",
        )
    else:
        st.caption("This network is trained as it is, on scikit-learn's 1,797 handwritten digits (8×8, grey).")
    cols = st.columns([1, 1, 1, 1.6, 1.2], vertical_alignment="bottom")
    epochs = int(control("epochs", cols[0], key="reuse_epochs"))
    seconds = float(control("max_seconds", cols[1], key="reuse_seconds"))
    seed = int(control("seed", cols[2], key="reuse_seed"))
    device = device_select(cols[3], "reuse_device")
    job: TrainJob | None = st.session_state.get(_JOB)
    if cols[4].button("Train", type="primary", icon=":material/model_training:", disabled=job is not None):
        try:
            options = TrainOptions(epochs=epochs, max_seconds=float(seconds), seed=seed, device=device)
            check_training_memory(variant, options.batch_size)  # refused here, before the run is queued
            job = _start(variant, options)
        except (ConfigError, SurroundingsError) as err:  # a guard, a full queue, the engine's settings or Ray
            st.error(plain(_sentence(err)), icon=":material/block:")
        else:
            st.session_state.pop(_RESULT, None)
            st.session_state[_JOB] = job
    if error := st.session_state.pop("_reuse_error", None):
        st.error(plain(error), icon=":material/block:")
    if job is not None:
        _watch(job)
        return
    saved = st.session_state.get(_RESULT)
    if saved and saved["result"].variant.config == variant.config:
        _results(saved)
    elif saved:
        st.caption("The last network trained here was another design; press Train for this one.")
    else:
        st.caption(
            "Press Train: a progress bar and the loss curve follow the run, and the heat maps of how much each "
            "layer reuses earlier maps (the paper's Figure 5) appear when it ends."
        )
