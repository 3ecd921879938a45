"""The forward-pass view: run the network on this machine's device, see its speed and its maps.

The model is built per session when the user presses "Run" (their uploaded
weights go into their own copy; nothing shared is changed) and kept in the
session for the feature-map explorer and the weights download. What is shown
carries the settings that produced it (device, precision, layout, batch,
input, weights); results of other settings are marked as an earlier run's,
and those of another network are not shown.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import streamlit as st
import torch

from densviz.core.config import ConfigError, DenseNetConfig, InputSpec
from densviz.core.memory import MemoryEstimate
from densviz.core.plan import ArchitecturePlan, LayerKind, checked_plan
from densviz.core.settings import SETTINGS
from densviz.core.units import format_bytes
from densviz.run import (
    DIGIT_CLASSES,
    MAX_IMAGE_BYTES,
    MAX_WEIGHTS_BYTES,
    RANDOM_WEIGHTS,
    ImageError,
    Precision,
    RunOptions,
    RunResult,
    WeightsError,
    available_devices,
    build_for_run,
    capture_feature_maps,
    feature_grid,
    load_image,
    load_weights,
    precision_note,
    preprocess,
    random_input,
    run_forward,
    sample_images,
    save_weights,
    supported_precisions,
    training_step_peak,
)
from densviz.ui import session
from densviz.ui.controls import control
from densviz.ui.session import Key, Network
from densviz.ui.text import plain

_SOURCES = ["china", "flower", "digits", "upload", "random"]
_SOURCE_LABELS = {
    "china": "photo: temple",
    "flower": "photo: flower",
    "digits": "held-out digits",
    "upload": "upload a PNG/JPEG",
    "random": "random tensor",
}
_TRAIN_BATCH = 8


def _feature_layers(plan: ArchitecturePlan) -> list[str]:
    """Modules worth looking at, in forward order: stem, every dense layer, each block's output, transitions."""
    last_layer = {f"{b.name}.denselayer{b.layers}": b.name for b in plan.blocks}
    names: list[str] = []
    for r in plan.layers:
        if r.kind in (LayerKind.CONV, LayerKind.POOL, LayerKind.DENSE_LAYER, LayerKind.TRANSITION):
            names.append(r.name)
        if r.name in last_layer:
            names.append(last_layer[r.name])  # the block's concatenated output
    return names


@dataclass(frozen=True)
class _Weights:
    """The weights a run loads: the file name, its bytes, how the page names them and their classes, if known."""

    name: str
    data: bytes
    label: str
    classes: tuple[str, ...] | None = None


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

    def describe(self, device: str | None = None) -> str:
        """The settings in words (the device as ``device`` says it, else by its id)."""
        layout = "channels-last" if self.channels_last else "default layout (NCHW)"
        return f"{device or self.device} · {self.precision} · {layout} · batch {self.batch} · input: {self.source} · weights: {self.weights}"

    def changed(self, other: _RunKey) -> list[str]:
        """The settings that differ from ``other``'s, by name."""
        words = {"channels_last": "layout", "hw": "input size", "source": "input"}
        return [words.get(f.name, f.name) for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)]


@dataclass(frozen=True)
class _TrainingStep:
    """A training-step measurement and the estimate beside it, for one network and input size."""

    config: DenseNetConfig
    hw: tuple[int, int]
    measured: dict[str, int]
    estimate: MemoryEstimate


def _weights(net: Network) -> _Weights | None:
    """The weights a run loads: an upload, else those trained in the Feature reuse view for this very network."""
    upload = st.session_state.get("forward_weights")
    if upload is not None:
        return _Weights(upload.name, upload.getvalue(), upload.name)
    trained = session.trained_weights()
    if trained is not None and trained.config == net.config:
        digits = DIGIT_CLASSES if net.config.num_classes == len(DIGIT_CLASSES) else None  # trained on the digits
        return _Weights(trained.name, trained.data, trained.label, digits)
    return None


def _run_key(net: Network, options: RunOptions, batch: int, source: str) -> _RunKey:
    """The key of a run with these settings, on the current network, input and weights."""
    weights = _weights(net)
    upload = st.session_state.get("forward_image")
    said = f"upload {upload.name}" if source == "upload" and upload is not None else _SOURCE_LABELS[source]
    return _RunKey(
        net.config,
        net.input.hw,
        options.device,
        options.precision.value,
        options.channels_last,
        batch,
        said,
        weights.label if weights else RANDOM_WEIGHTS,
    )


def _input(net: Network, spec: InputSpec, source: str) -> tuple[torch.Tensor, list[int] | None]:
    """The input batch, and the true labels where they are known (the digits)."""
    cfg = net.config
    if source == "digits":
        from densviz.reuse import digit_batch

        return digit_batch(spec.batch, spec.height, spec.width, cfg.in_channels)
    return _picture(net, spec, source), None


def _picture(net: Network, spec: InputSpec, source: str) -> torch.Tensor:
    cfg = net.config
    if source == "random":
        return random_input(spec, cfg.in_channels)
    if source == "upload":
        upload = st.session_state.get("forward_image")
        if upload is None:
            raise ImageError("choose a PNG or JPEG file to upload first.")
        return preprocess(load_image(upload.getvalue()), spec, cfg.in_channels)
    return preprocess(sample_images()[source], spec, cfg.in_channels)


def _run(net: Network, options: RunOptions, batch: int, source: str, key: _RunKey) -> None:
    """Build, load and run; store the result under ``key``, or show why it failed (open, below the steps)."""
    spec = InputSpec(batch=batch, height=net.input.height, width=net.input.width)
    failure: tuple[str, str] | None = None
    with st.status("Running the network…", expanded=True) as status:
        try:
            status.write("building the model")
            model, plan = build_for_run(net.config, spec)
            weights, classes = _weights(net), None
            if weights is not None:
                status.write(f"loading the {weights.label}")
                report = load_weights(model, weights.data, weights.name)
                classes = weights.classes or report.classes
            status.write("preparing the input")
            x, labels = _input(net, spec, source)
            result = run_forward(model, plan, x, options, progress=status.write, weights=key.weights, classes=classes)
        except (ConfigError, ImageError, WeightsError) as err:
            failure = ("The run did not start", str(err)[:1].upper() + str(err)[1:])
        except torch.OutOfMemoryError:
            failure = (
                "Out of memory",
                f"{options.device} ran out of memory for batch {batch}; lower the batch or run on the CPU.",
            )
        if failure is None:
            status.update(label=f"Ran on {result.device_name}", state="complete", expanded=False)
        else:
            status.update(label=failure[0], state="error", expanded=True)
    if failure is not None:
        st.session_state["forward_failed"] = key  # what is shown below is no longer the latest run with these settings
        st.error(plain(failure[1]))
        return
    st.session_state.pop("forward_failed", None)
    st.session_state["forward"] = {"key": key, "result": result, "model": model, "input": x[:1], "labels": labels}


def _metrics(result: RunResult) -> None:
    """Latency, throughput, compute, the fraction of the peak and the peak memory, with how each was found."""
    cols = st.columns(5)
    cols[0].metric(
        "Median latency",
        f"{result.median_ms:.1f} ms",
        help=f"p90 {result.p90_ms:.1f} ms over {len(result.latencies_ms)} runs",
    )
    cols[1].metric("Throughput", f"{result.images_per_s:.1f} img/s", help=f"batch {result.batch}")
    cols[2].metric("Compute", f"{result.gflops:.1f} GF/s", help="GFLOP/s: 2 × the plan's MACs × batch / median latency")
    cols[3].metric(
        "Of the device's peak",
        f"{result.fraction_of_peak:.0%}",
        help=f"{result.gflops:.1f} of {result.peak_gflops:.1f} GFLOP/s. The peak: {result.peak_source}.",
    )
    cols[4].metric(
        "Peak memory",
        format_bytes(result.peak_memory_bytes),
        delta=f"{format_bytes(result.estimated_peak_memory_bytes)} estimated",
        delta_color="off",
        delta_arrow="off",
        help=f"Measured: {result.memory_source}. Estimated: {result.estimate_source}.",
    )
    st.caption(
        f"Peak: {result.peak_gflops:.1f} GFLOP/s ({result.peak_source}). "
        f"Peak memory: {format_bytes(result.peak_memory_bytes)} measured ({result.memory_source}); "
        f"{format_bytes(result.estimated_peak_memory_bytes)} estimated ({result.estimate_source})."
    )


def _top5(result: RunResult, labels: list[int] | None) -> None:
    """The first image's five best classes, named where the classes are known, and what they mean."""
    st.markdown("**Top-5 of the first image**")
    st.dataframe(
        [{"class": result.classes[c] if result.classes else c, "probability": f"{p:.2%}"} for c, p in result.top5],
        hide_index=True,
        width="stretch",
    )
    if labels and result.top5:
        said = result.classes[result.top5[0][0]] if result.classes else str(result.top5[0][0])
        st.caption(
            f"The first digit is a **{labels[0]}**; the network says {said}."
            + ("" if said == str(labels[0]) else " (wrong)")
        )
    if result.top5_note:
        st.caption(f":material/casino: {result.top5_note} Load a checkpoint for real predictions.")
    elif not result.classes:
        st.caption(f"Weights: {result.weights}. Classes by index: their names are not known here.")


def _results(result: RunResult, labels: list[int] | None) -> None:
    _metrics(result)
    if result.shapes_ok:
        st.success(
            f"Verified on {result.device}: all {len(result.shapes)} module outputs have the planned shape.",
            icon=":material/verified:",
        )
    else:
        bad = [s for s in result.shapes if not s.ok]
        st.error(
            f"{len(bad)} module outputs differ from the plan, e.g. {bad[0].name}: planned {bad[0].planned}, measured {bad[0].measured}."
        )
    left, right = st.columns([1, 2])
    with left:
        _top5(result, labels)
    with right, st.expander("Measured shapes, module by module"):
        st.dataframe(
            [
                {
                    "module": s.name,
                    "planned": "×".join(map(str, s.planned)),
                    "measured": "×".join(map(str, s.measured or ())),
                    "ok": s.ok,
                }
                for s in result.shapes
            ],
            hide_index=True,
            width="stretch",
            height=300,
        )


def _feature_maps(net: Network, state: dict[str, Any]) -> None:
    st.markdown("**Feature maps** of the first image")
    layers = _feature_layers(net.plan)
    default = next((n for n in layers if n.endswith("denselayer2")), layers[0])
    if st.session_state.get("forward_layer") not in layers:
        st.session_state["forward_layer"] = default
    name = st.selectbox("Layer", layers, key="forward_layer")
    maps = capture_feature_maps(state["model"], state["input"], [name])[name]
    if maps.inherited is not None:
        cols = st.columns(2)
        cols[0].image(
            feature_grid(maps.inherited),
            caption=f"reused: the {maps.inherited.shape[0]} maps it reads (block input and every earlier layer; first 64)",
            clamp=True,
            width="stretch",
        )
        cols[1].image(
            feature_grid(maps.output),
            caption=f"new: its k = {maps.output.shape[0]} maps, appended to the concatenation",
            clamp=True,
            width="stretch",
        )
    else:
        c, h, w = maps.output.shape
        st.image(
            feature_grid(maps.output),
            caption=f"{name}: {c} maps of {h}×{w} (first 64), each scaled to its own range",
            clamp=True,
            width="content" if h * w < 64 * 64 else "stretch",
        )


def _training(net: Network) -> None:
    st.markdown("**One training step: naive vs memory-efficient**")
    spec = InputSpec(batch=_TRAIN_BATCH, height=net.input.height, width=net.input.width)
    if st.button(
        f"Measure at batch {_TRAIN_BATCH}",
        key="forward_train",
        help="runs a forward and backward step twice, each in a fresh process (takes a few seconds)",
    ):
        with st.spinner("Measuring two training steps…"):
            try:
                plan = checked_plan(net.config, spec)
                st.session_state["forward_training"] = _TrainingStep(
                    net.config, spec.hw, training_step_peak(net.config, spec), plan.memory
                )
            except ConfigError as err:
                st.error(plain(err))
    saved: _TrainingStep | None = st.session_state.get("forward_training")
    if saved and (saved.config, saved.hw) == (net.config, spec.hw):
        measured, estimate = saved.measured, saved.estimate
        rows = [
            ("naive", measured["naive"], estimate.training_naive_bytes),
            ("memory-efficient", measured["efficient"], estimate.training_efficient_bytes),
        ]
        st.dataframe(
            [{"implementation": n, "measured": format_bytes(m), "estimated": format_bytes(e)} for n, m, e in rows],
            hide_index=True,
        )
        st.caption(
            f"Measured: peak above the process's level before the step; memory-efficient uses {measured['efficient'] / max(measured['naive'], 1):.0%} of naive."
        )


def device_select(where: Any, key: str) -> str:
    """A selector of this machine's devices (CUDA, MPS, CPU; the best first), by name and id."""
    devices = available_devices()
    names = {d.device: f"{d.name} ({d.device})" for d in devices}
    return str(where.selectbox("Device", list(names), key=key, format_func=names.__getitem__))


def _controls(net: Network) -> tuple[RunOptions, int, str]:
    """The run's controls: (options, batch, input source)."""
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
    channels_last = control("channels_last", cols[2], key="forward_cl")
    batch = int(control("run_batch", cols[3], key="forward_batch"))
    runs = int(control("runs", cols[4], key="forward_runs"))
    cols = st.columns([1.6, 2])
    source = cols[0].radio(
        "Input", _SOURCES, key=Key.FORWARD_SOURCE.value, format_func=lambda s: _SOURCE_LABELS[s], horizontal=True
    )
    if source == "upload":
        cols[1].file_uploader(
            "Image (PNG or JPEG)",
            type=["png", "jpg", "jpeg"],
            key="forward_image",
            max_upload_size=MAX_IMAGE_BYTES >> 20,
        )
    cols[1].file_uploader(
        "Weights (.safetensors or torchvision .pth), optional",
        type=["safetensors", "pth", "pt"],
        key="forward_weights",
        max_upload_size=MAX_WEIGHTS_BYTES >> 20,
    )
    if note := precision_note(torch.device(device), Precision(precision)):
        st.caption(f":material/warning: {precision} is {note}.")
    options = RunOptions(
        device=device, precision=Precision(precision), channels_last=bool(channels_last), runs=runs, warmup=1, threads=1
    )
    return options, batch, str(source)


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
    _results(result, state.get("labels"))
    _feature_maps(net, state)
    st.download_button(
        "Download these weights (.safetensors)",
        data=lambda: save_weights(state["model"], classes=result.classes),
        file_name="densenet.safetensors",
        mime="application/octet-stream",
        on_click="ignore",
    )


def forward_view(net: Network) -> None:
    """Run the current network for real, with its timings, shapes and feature maps."""
    options, batch, source = _controls(net)
    key = _run_key(net, options, batch, source)
    if st.button("Run", type="primary", icon=":material/play_arrow:", key="forward_run"):
        _run(net, options, batch, source, key)
    weights = _weights(net)
    if weights is not None and st.session_state.get("forward_weights") is None:
        st.caption(f":material/model_training: Runs load the {weights.label}.")
    _shown(net, key)
    st.divider()
    _training(net)
