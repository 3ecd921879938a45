"""The feature-reuse view: train the current DenseNet on the digits, then see the paper's Figure 5 for it.

Training runs in one background thread per process (:class:`TrainingService`;
a second user's run waits for the first). The page waits for it, redrawing the
progress bar and the live curve from the run's log; Stop sets the run's event.
The trained model lives in the session that trained it.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import plotly.graph_objects as go
import streamlit as st
import torch
from streamlit.runtime.scriptrunner import get_script_run_ctx

from densviz.core.config import ConfigError, InputSpec
from densviz.draw.charts.figure5 import reuse_figure
from densviz.draw.charts.training import training_figure
from densviz.reuse import (
    WEIGHTS_FILE,
    TrainLog,
    TrainOptions,
    TrainResult,
    TrainVariant,
    caption,
    check_training_memory,
    digits,
    readings,
    reuse_maps,
    train,
    training_json,
    training_variant,
)
from densviz.run import DIGIT_CLASSES, save_weights
from densviz.ui import session, state
from densviz.ui.controls import control
from densviz.ui.forward import device_select
from densviz.ui.session import Key, Network, TrainedWeights
from densviz.ui.state import CUSTOM
from densviz.ui.text import plain

_LOG = logging.getLogger(__name__)
_JOB = "reuse_job"
_RESULT = "reuse_result"


@dataclass
class TrainJob:
    """One training run of one session."""

    variant: TrainVariant
    options: TrainOptions
    log: TrainLog
    stop: threading.Event = field(default_factory=threading.Event)
    future: Future[TrainResult] | None = None
    session_id: str | None = None


def session_alive(session_id: str | None) -> bool:
    """Whether the browser session that asked for work is still connected (``None``: no session to watch)."""
    if session_id is None:
        return True
    from streamlit import runtime

    return not runtime.exists() or runtime.get_instance().is_active_session(session_id)


def _train(job: TrainJob) -> TrainResult:
    torch.set_num_threads(1)  # a shared server: one core per request

    def end_with_the_session(_log: TrainLog) -> None:
        if not session_alive(job.session_id):  # the tab closed: nobody will read this run
            job.stop.set()

    if not session_alive(job.session_id):
        job.stop.set()
    return train(job.variant, job.options, log=job.log, stop=job.stop, on_step=end_with_the_session)


class TrainingService:
    """Runs training jobs one at a time in a background thread (the others queue)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="densviz-train")
        self._lock = threading.Lock()
        self._queued: list[TrainJob] = []  # started here and not yet ended, in order

    def start(self, variant: TrainVariant, options: TrainOptions) -> TrainJob:
        """Queue a run; its log fills as it trains."""
        # Load the digits (and import scikit-learn) here in the script thread: imported for the first
        # time in the worker while the script imports plotly, pandas was seen half-initialised.
        digits(variant.size, variant.config.in_channels)
        ctx = get_script_run_ctx()
        job = TrainJob(variant, options, TrainLog.for_run(options), session_id=ctx.session_id if ctx else None)
        with self._lock:
            self._queued.append(job)
            job.future = self._pool.submit(_train, job)
        return job

    def runs_ahead(self, job: TrainJob) -> int:
        """How many runs started before ``job`` have not ended: while any has, ``job`` waits for the thread."""
        with self._lock:
            self._queued = [j for j in self._queued if j.future is None or not j.future.done()]
            return next((i for i, queued in enumerate(self._queued) if queued is job), 0)


@st.cache_resource(max_entries=1, show_spinner=False)
def training_service() -> TrainingService:
    """The process's one training service."""
    return TrainingService()


def _progress_text(log: TrainLog, options: TrainOptions, ahead: int) -> str:
    """The progress bar's line: what the run is doing, ``ahead`` the runs queued before it that have not ended."""
    if not log.losses:
        if ahead == 1:
            return "waiting to start (another training run is ahead of this one)…"
        if ahead > 1:
            return f"waiting to start ({ahead} other training runs are ahead of this one)…"
        return "starting… (building the model, loading the digits)"
    step, seconds, loss = log.losses[-1]
    last = log.epochs[-1] if log.epochs else None
    acc = f" · held-out accuracy {last.test_accuracy:.1%} after epoch {last.epoch}" if last else ""
    limit = f" of {options.max_seconds:.0f} s" if options.max_seconds else ""
    return f"step {step}/{log.total_steps} · {seconds:.1f} s{limit} · loss {loss:.3f}{acc}"


def _curve(log: TrainLog, title: str = "Training") -> go.Figure:
    """The loss and accuracy chart of a run's log so far (copies of its lists: the run may be appending)."""
    return training_figure(list(log.losses), list(log.epochs), title)


def _finish(job: TrainJob) -> None:
    """Move a finished run's outcome into the session."""
    st.session_state.pop(_JOB, None)
    assert job.future is not None
    err = job.future.exception()
    if err is not None:
        if isinstance(err, ConfigError):  # a guard's sentence (the step's memory over the budget)
            st.session_state["_reuse_error"] = str(err)
        elif isinstance(err, torch.OutOfMemoryError | MemoryError) or "memory" in str(err).lower():
            st.session_state["_reuse_error"] = (
                "The machine ran out of memory while training this network; lower the growth rate or the layers "
                "per block, or train on the CPU."
            )
        else:  # no raw exception text for the user; the server's log has the details
            _LOG.error("training failed", exc_info=err)
            st.session_state["_reuse_error"] = "Training stopped with an error; the server's log has the details."
        return
    result = job.future.result()
    maps = reuse_maps(result.model)
    st.session_state[_RESULT] = {"result": result, "maps": maps, "readings": readings(maps)}


def _watch(job: TrainJob) -> None:
    """Progress bar, live curve and Stop while the run trains, then one rerun that shows the results.

    The script waits here, redrawing twice a second (the training itself runs in
    the service's thread). Any click, Stop's included, interrupts the wait and
    reruns the page, which comes back here while the run goes on. Polling with a
    ``run_every`` fragment instead proved fragile in a real browser: the rerun
    that ends the polling can swallow a click made at that moment.
    """
    assert job.future is not None
    service = training_service()
    bar = st.progress(0.0, text=_progress_text(job.log, job.options, service.runs_ahead(job)))
    st.button("Stop", icon=":material/stop:", key="reuse_stop", on_click=job.stop.set, disabled=job.stop.is_set())
    chart = st.empty()
    frame = 0
    while not job.future.done():
        frame += 1
        bar.progress(job.log.fraction, text=_progress_text(job.log, job.options, service.runs_ahead(job)))
        chart.plotly_chart(_curve(job.log, "Training (live)"), width="stretch", key=f"reuse_live_{frame}")
        wait([job.future], timeout=0.5)  # wakes at the end, or after 0.5 s
    _finish(job)
    st.rerun()


def _use_in_forward() -> None:
    """Callback: make the trained network the page's network and open the forward-pass view with its weights."""
    saved = st.session_state.get(_RESULT)
    if not saved:
        return
    result: TrainResult = saved["result"]
    variant = result.variant
    state.load(st.session_state, variant.config, InputSpec.square(variant.size), CUSTOM)
    weights = TrainedWeights(
        variant.config,
        WEIGHTS_FILE,
        "weights trained in the Feature reuse view",
        save_weights(result.model, classes=DIGIT_CLASSES),
    )
    session.put(Key.TRAINED_WEIGHTS, weights)
    session.put(Key.FORWARD_SOURCE, "digits")
    session.put(Key.VIEW, "Forward pass")


_PAPER = (
    "The paper (Sec. 5, Figure 5) trains DenseNet (L = 40, k = 12) for 300 epochs on CIFAR-10 and, for each "
    "convolutional layer ℓ of a block, averages the absolute weights it gives to the maps of each earlier source s "
    "(the block's input, then each earlier layer), normalised per target layer. Its reading:"
)


def _results(saved: dict[str, Any]) -> None:
    result: TrainResult = saved["result"]
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
        reuse_figure(saved["maps"], caption(result)), width="stretch", config={"displaylogo": False}, key="reuse_map"
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
        data=lambda: save_weights(result.model, classes=DIGIT_CLASSES),
        file_name=WEIGHTS_FILE,
        mime="application/octet-stream",
        on_click="ignore",
        icon=":material/download:",
    )
    buttons[1].download_button(
        "Accuracy and heat maps (.json)",
        data=training_json(result, saved["maps"]),
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


def reuse_view(net: Network) -> None:
    """Train the current architecture on the digits, then its Figure 5."""
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
        except ConfigError as err:
            st.error(plain(err), icon=":material/block:")
        else:
            st.session_state.pop(_RESULT, None)
            job = training_service().start(variant, options)
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
