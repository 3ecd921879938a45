"""The forward-pass view: run the network on this machine's device, see its speed and its maps.

A run is a job on a worker (:func:`densviz.jobs.work.forward`: the local pool,
or Ray), never in the server's process. The page waits for it, showing its
place in the queue and its passes; the Stop button shown while it runs, like
any change on the page, Streamlit's own Stop or the end of the session, leaves
the script, and the job is stopped then (between two passes, or with its
worker). The next rerun says how far the run got; its timings are discarded.

The server holds no network: the session keeps the weights the job sends back
(safetensors bytes naming the run's classes), and the feature-map explorer and
CAM send them with the run's first image to jobs of their own
(:mod:`densviz.jobs.analysis`); the weights file is offered when the user asks
for it, as a plain download of those bytes. What is shown carries the
settings that produced it (device, precision, layout, batch, input, weights);
results of other settings are marked as an earlier run's, and those of another
network are not shown. An uploaded image is read through the upload guard
(:func:`densviz.ui.uploads.held`), and one the run refused for its content is
released from the server's memory at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import streamlit as st
import torch
from streamlit.runtime.scriptrunner import get_script_run_ctx

from densviz.core.config import ConfigError, DenseNetConfig, InputSpec
from densviz.core.errors import SurroundingsError
from densviz.core.settings import SETTINGS
from densviz.jobs import FailureKind, Job
from densviz.jobs.work import ForwardProgress, ForwardRequest, ForwardRun
from densviz.jobs.work import forward as forward_job
from densviz.run import (
    MAX_IMAGE_BYTES,
    ImageError,
    Precision,
    RunOptions,
    RunResult,
    WeightsError,
    available_devices,
    precision_note,
    supported_precisions,
)
from densviz.ui import job_watch, uploads
from densviz.ui.controls import control
from densviz.ui.forward_cam import cam_section
from densviz.ui.forward_results import feature_maps, pending_layer, results, training
from densviz.ui.forward_uploads import IMAGE_KEY, follow_refusals
from densviz.ui.forward_weights import (
    Weights,
    WeightsKind,
    WeightsPanel,
    chosen_weights,
    prepare_imagenet,
    weights_control,
)
from densviz.ui.job_watch import waiting_text
from densviz.ui.session import Key, Network
from densviz.ui.text import plain

_SOURCES = ["china", "flower", "digits", "upload", "random"]
_PHOTOS = ("china", "flower", "upload")
_IMAGE_TYPES = ("png", "jpg", "jpeg")
_SOURCE_LABELS = {
    "china": "photo: temple",
    "flower": "photo: flower",
    "digits": "held-out digits",
    "upload": "upload a PNG/JPEG",
    "random": "random tensor",
}


@dataclass(frozen=True)
class _RunKey:
    """The settings a run was made with: results on screen belong to these."""

    config: DenseNetConfig
    hw: tuple[int, int]
    device: str
    precision: str
    channels_last: bool
    batch: int
    source: str
    weights: str
    compiled: bool = False

    def describe(self, device: str | None = None) -> str:
        """The settings in words (the device as ``device`` says it, else by its id)."""
        layout = ("channels-last" if self.channels_last else "default layout (NCHW)") + (
            " · compiled" if self.compiled else ""
        )
        return f"{device or self.device} · {self.precision} · {layout} · batch {self.batch} · input: {self.source} · weights: {self.weights}"

    def changed(self, other: _RunKey) -> list[str]:
        """The settings that differ from ``other``'s, by name."""
        words = {"channels_last": "layout", "hw": "input size", "source": "input", "compiled": "compiling"}
        return [words.get(f.name, f.name) for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)]


def _run_key(net: Network, options: RunOptions, batch: int, source: str) -> _RunKey:
    """The key of a run with these settings, on the current network, input and weights."""
    weights = chosen_weights(net)
    upload = uploads.held(IMAGE_KEY)
    said = f"upload {upload.name}" if source == "upload" and upload is not None else _SOURCE_LABELS[source]
    return _RunKey(
        net.config,
        net.input.hw,
        options.device,
        options.precision.value,
        options.channels_last,
        batch,
        said,
        weights.label,
        options.compiled,
    )


@dataclass
class _Progress:
    """How far the latest run got: the settings it ran with, passes done of all, whether it ended in the script."""

    key: _RunKey
    done: int = 0
    total: int = 0
    ended: bool = False


def pass_watcher(stop: threading.Event, bar: Any, progress: _Progress) -> Callable[[int, int], None]:
    """What the run calls after each pass: counts it and moves the progress bar.

    Moving the bar sends Streamlit a message, and that is where Streamlit raises
    its stop or rerun in the script (Stop pressed, a widget changed, the session
    ended), so the run ends after the pass in flight. Called from a thread with
    no script behind it (the session is gone), it sets ``stop`` instead.
    The bar moves once per percent, so a run of many short passes sends at most
    a hundred messages.
    """
    shown = [-1]

    def on_pass(done: int, total: int) -> None:
        progress.done, progress.total = done, total
        if get_script_run_ctx(suppress_warning=True) is None:
            stop.set()
            return
        percent = 100 * done // max(total, 1)
        if percent != shown[0]:
            shown[0] = percent
            bar.progress(done / max(total, 1), text=f"Pass {done} of {total}")

    return on_pass


def _interrupted() -> str | None:
    """What became of the latest run, when it was interrupted before it ended (said once); marks its settings."""
    progress = st.session_state.get("forward_progress")
    if not isinstance(progress, _Progress) or progress.ended:
        return None
    progress.ended = True
    st.session_state["forward_failed"] = progress.key
    got = f" after {progress.done} of {progress.total} passes" if progress.total else ""
    return (
        f"The last run stopped{got}, before it finished (Stop was pressed, or the page changed while it ran); "
        "its timings were discarded."
    )


def _request(
    net: Network, spec: InputSpec, options: RunOptions, source: str, weights: Weights, say: Callable[[str], None]
) -> ForwardRequest:
    """The run as plain data for a worker: the uploads' bytes, after the checks that need the page (ImageNet's file).

    Raises:
        ImageError, WeightsError, ConfigError: an upload missing, a published file that is not the one.
    """
    image = None
    if source == "upload":
        upload = uploads.held(IMAGE_KEY)  # None too once a file refused for its content was released
        if upload is None:
            raise ImageError("choose a PNG or JPEG file to upload first.")
        image = upload.getvalue()
    if weights.kind is WeightsKind.UPLOAD and weights.data is None:
        raise WeightsError("choose a weights file (.safetensors or torchvision .pth) to upload first.")
    data, name = weights.data, weights.name
    if weights.imagenet:
        data, name = prepare_imagenet(net.config, weights, say)
    return ForwardRequest(
        net.config,
        spec,
        options,
        source=source,
        image=image,
        weights=data,
        weights_name=name,
        weights_label=weights.label,
        classes=weights.classes,
        imagenet=weights.imagenet,
    )


def _watch_job(job: Job, status: Any, bar: Any, progress: _Progress) -> None:
    """The job's steps and passes until it ends; the bar is updated every 0.2 s, where Streamlit stops the script."""
    said = 0
    while True:
        ended = job.done()
        for record in job.history(said):
            said += 1
            if isinstance(record, ForwardProgress):
                progress.done, progress.total = record.done, record.total
                if not record.step.startswith("pass "):
                    status.write(record.step)
        if ended:
            return
        if (place := job.position()) > 0:
            bar.progress(0.0, text=waiting_text(place))
        else:
            bar.progress(progress.done / max(progress.total, 1), text=f"Pass {progress.done} of {progress.total}")
        job.wait(0.2)


def _job_failure(job: Job, device: str, batch: int) -> tuple[str, str]:
    """(the status's label, the sentence) of a job that gave no result."""
    failure = job.failure()
    if failure is None:
        return "The run failed", "The run ended without a result; the server's log has the details."
    sentence = failure.sentence[:1].upper() + failure.sentence[1:]
    if failure.kind in (FailureKind.STOPPED, FailureKind.TIME_LIMIT):
        return "The run stopped", sentence
    if failure.error == "CompileError":
        return "Could not compile", sentence
    if failure.kind is FailureKind.REFUSED:
        return "The run did not start", sentence
    if failure.kind is FailureKind.MEMORY:
        return "Out of memory", f"{device} ran out of memory for batch {batch}; lower the batch or run on the CPU."
    return "The run failed", sentence


def _release_refused_image(job: Job, source: str) -> None:
    """Drop an uploaded image the run refused for its content from the server's memory (its sentence is shown)."""
    failure = job.failure()
    if source == "upload" and failure is not None and failure.error == ImageError.__name__:
        upload = uploads.held(IMAGE_KEY)
        if upload is not None:
            uploads.release(upload)


def _run(net: Network, options: RunOptions, batch: int, source: str, key: _RunKey) -> None:
    """Run as a job on a worker; store the result under ``key``, or show why it failed (open, below the steps)."""
    spec = InputSpec(batch=batch, height=net.input.height, width=net.input.width)
    failure: tuple[str, str] | None = None
    progress = _Progress(key)
    st.session_state["forward_progress"] = progress
    left, right = st.columns([1, 6], vertical_alignment="center")
    stop_slot, bar = left.empty(), right.empty()  # Stop and the passes done, while the run goes
    stop_slot.button("Stop", key="forward_stop", icon=":material/stop:", help="stops the run after the pass in flight")
    job: Job | None = None
    with st.status("Running the network…", expanded=True) as status:
        try:
            request = _request(net, spec, options, source, chosen_weights(net), status.write)
            limit = (options.max_seconds or 3600.0) + 60.0  # the run keeps its own limit; this one is the backstop
            if options.compiled:
                limit += options.max_compile_seconds or 3600.0
            job = job_watch.engine().submit(job_watch.session_id(), "forward", forward_job, request, time_limit_s=limit)
            _watch_job(job, status, bar, progress)
        except (ConfigError, ImageError, WeightsError, SurroundingsError) as err:  # the page's checks, a full queue
            failure = ("The run did not start", str(err)[:1].upper() + str(err)[1:])
        finally:
            if job is not None and not job.done():
                job.stop()  # the script is left (Streamlit's stop or rerun included): the run ends with it
        run = job.result() if job is not None else None
        if failure is None and not isinstance(run, ForwardRun):
            assert job is not None
            failure = _job_failure(job, options.device, batch)
            _release_refused_image(job, source)
        progress.ended = True
        if isinstance(run, ForwardRun) and failure is None:
            status.update(label=f"Ran on {run.result.device_name}", state="complete", expanded=False)
        else:
            status.update(label=failure[0] if failure else "The run failed", state="error", expanded=True)
    stop_slot.empty()
    bar.empty()
    if failure is not None or not isinstance(run, ForwardRun):
        st.session_state["forward_failed"] = key  # what is shown below is no longer the latest run with these settings
        st.error(plain(failure[1] if failure else "The run failed."))
        return
    st.session_state.pop("forward_failed", None)
    st.session_state["forward"] = {
        "key": key,
        "result": run.result,
        "weights": run.weights,  # the explorer's and CAM's jobs rebuild the network from them on a worker
        "input": run.input,
        "labels": run.labels,
        "photo": source in _PHOTOS and net.config.in_channels == 3,  # normalised with ImageNet's mean and std
    }


def device_select(where: Any, key: str) -> str:
    """A selector of this machine's devices (CUDA, MPS, CPU; the best first), by name and id."""
    devices = available_devices()
    names = {d.device: f"{d.name} ({d.device})" for d in devices}
    return str(where.selectbox("Device", list(names), key=key, format_func=names.__getitem__))


def _controls(net: Network) -> tuple[RunOptions, int, str, WeightsPanel]:
    """The run's controls: (options, batch, input source, what the weights choice drew)."""
    cols = st.columns([1.6, 1, 1, 0.8, 0.8])
    device = device_select(cols[0], "forward_device")
    precisions = [p.value for p in supported_precisions(torch.device(device))]
    if st.session_state.get("forward_precision") not in precisions:
        st.session_state["forward_precision"] = Precision.FP32.value
    precision = cols[1].selectbox(
        "Precision",
        precisions,
        key="forward_precision",
        format_func=lambda p: (
            p + (" (emulated: slow here)" if precision_note(torch.device(device), Precision(p)) else "")
        ),
        help=SETTINGS["dtype"].help,
    )
    layout = cols[2].container(gap="small")  # the two toggles that change how the same network runs
    channels_last = control("channels_last", layout, key="forward_cl")
    compiled = control("compiled", layout, key="forward_compiled")
    batch = int(control("run_batch", cols[3], key="forward_batch"))
    runs = int(control("runs", cols[4], key="forward_runs"))
    cols = st.columns([1.6, 2])
    source = cols[0].radio(
        "Input", _SOURCES, key=Key.FORWARD_SOURCE.value, format_func=lambda s: _SOURCE_LABELS[s], horizontal=True
    )
    if source == "upload":
        cols[0].file_uploader(
            "Image (PNG or JPEG)",
            type=list(_IMAGE_TYPES),
            key=IMAGE_KEY,
            max_upload_size=uploads.limit(IMAGE_KEY, _IMAGE_TYPES, MAX_IMAGE_BYTES),
        )
    panel = weights_control(net, cols[1])
    follow_refusals()
    if note := precision_note(torch.device(device), Precision(precision)):
        st.caption(f":material/warning: {precision} is {note}.")
    options = RunOptions(
        device=device,
        precision=Precision(precision),
        channels_last=bool(channels_last),
        compiled=bool(compiled),
        runs=runs,
        warmup=1,
        threads=1,
    )
    return options, batch, str(source), panel


def _shown(net: Network, current: _RunKey) -> None:
    """The stored run's results, under the settings that produced them; marked when they are not the current ones."""
    state: dict[str, Any] = st.session_state.get("forward") or {}
    stored = state.get("key")
    if not isinstance(stored, _RunKey) or (stored.config, stored.hw) != (current.config, current.hw):
        if isinstance(stored, _RunKey):
            st.caption("The last run was of another network or input size, so its results are not shown.")
        st.caption(
            "Press Run to build this network and time it on the chosen device (one thread per request on a shared server)."
        )
        pending_layer(net)
        return
    result: RunResult = state["result"]
    why = [f"since then the {', '.join(stored.changed(current))} changed"] if stored != current else []
    if st.session_state.get("forward_failed") == current:
        why.append("the latest run with the current settings did not finish")
    if why:
        st.warning(
            f"Results of an earlier run with {plain(stored.describe())}: {'; '.join(why)}. Press Run for the current settings.",
            icon=":material/history:",
        )
    st.caption(f"Shown: the run on {plain(stored.describe(f'{result.device_name} ({result.device})'))}")
    results(result, state.get("labels"))
    cam_section(net, state, result)
    feature_maps(net, state)
    _weights_download(state, result)


def _weights_download(state: dict[str, Any], result: RunResult) -> None:
    """The run's weights as a plain download, offered when first asked for.

    Offered on a click, not on every rerun: a DenseNet-121's file is 32 MB, and a
    download button's bytes are hashed at each rerun that shows it. A plain
    download keeps its address while shown (a file made on request would be
    dropped by Streamlit after another session's second rerun).
    """
    data = state.get("weights_file")
    if not isinstance(data, bytes):
        if not st.button(
            "Weights file (.safetensors)",
            key="forward_weights_make",
            icon=":material/build:",
            help="makes the file of the weights this run used, then offers it for download",
        ):
            return
        data = state["weights_file"] = state["weights"]  # the job saved them naming the run's classes
    st.download_button(
        "Download these weights (.safetensors)",
        data=data,
        file_name="densenet.safetensors",
        mime="application/octet-stream",
        key="forward_weights_download",
        on_click="ignore",
        icon=":material/download:",
    )


_MODES = {"run": "Run", "profile": "Profile (per layer, roofline)"}


def forward_view(net: Network) -> None:
    """Run the current network for real, with its timings, shapes and feature maps; or profile it, layer by layer."""
    options, batch, source, weights = _controls(net)
    mode = st.segmented_control(
        "Show", list(_MODES), key="forward_mode", format_func=_MODES.__getitem__, required=True, default="run"
    )
    if mode == "profile":  # the profile's own button, table and roofline, with the settings above
        from densviz.ui.forward_profile import profile_panel

        profile_panel(net, options, batch)
        return
    key = _run_key(net, options, batch, source)
    interrupted = _interrupted()
    if st.button(
        "Run",
        type="primary",
        icon=":material/play_arrow:",
        key="forward_run",
        disabled=not weights.ready,
        help=None if weights.ready else "the chosen weights are not offered for this design (see above)",
    ):
        _run(net, options, batch, source, key)
        weights.refresh()  # a download may have put the published file in the cache
    elif interrupted:
        st.info(interrupted, icon=":material/stop_circle:")
    _shown(net, key)
    st.divider()
    training(net)
