"""The Forward pass view's results: the run's figures, its top-5 and shapes, feature maps, a training step.

What :mod:`densviz.ui.forward` shows under its controls once a run has
finished (and the training-step measurement below it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from densviz import jobs
from densviz.core.config import ConfigError, DenseNetConfig, InputSpec
from densviz.core.errors import SurroundingsError
from densviz.core.memory import MemoryEstimate
from densviz.core.plan import ArchitecturePlan, LayerKind, checked_plan
from densviz.core.units import format_bytes
from densviz.jobs import Job, work
from densviz.jobs import analysis as work_analysis
from densviz.jobs.analysis import AnalysisProgress, LayerMaps
from densviz.run import STEP_TIMEOUT_S, RunResult
from densviz.run.probe import format_seconds
from densviz.ui import job_watch
from densviz.ui.forward_links import listing, nearest_listed, open_in_graph
from densviz.ui.session import Key, Network
from densviz.ui.text import plain

__all__ = ["TrainingStep", "feature_maps", "pending_layer", "results", "training"]

_TRAIN_BATCH = 8
_FEATURES_STOP_KEY = "forward_layer_stop"
_FEATURES_TIME_LIMIT_S = 300.0  # one pass of one image; this is the backstop


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
class TrainingStep:
    """A training-step measurement and the estimate beside it, for one network and input size."""

    config: DenseNetConfig
    hw: tuple[int, int]
    measured: dict[str, int]
    estimate: MemoryEstimate


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
    if result.compiled:
        compile_time = format_seconds(result.compile_seconds) if result.compile_seconds is not None else "no time"
        st.caption(
            f":material/bolt: Compiled (torch.compile, Inductor): {compile_time} to compile, apart from the timed "
            f"passes ({plain(result.compile_source)})."
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
        st.caption(
            f":material/casino: {result.top5_note} For real predictions choose Pretrained (ImageNet) weights "
            "(DenseNet-121/161/169/201), weights trained in the Feature reuse view, or a file."
        )
    elif not result.classes:
        st.caption(f"Weights: {result.weights}. Classes by index: their names are not known here.")


def results(result: RunResult, labels: list[int] | None) -> None:
    """The run's figures, whether every shape matched the plan, its top-5 and the measured shapes."""
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


def pending_layer(net: Network) -> None:
    """Before any run: the module the Graph view sent here, and what to press to see its maps."""
    wanted = st.session_state.get(Key.FEATURE_LAYER)
    if isinstance(wanted, str) and (shown := nearest_listed(wanted, _feature_layers(net.plan), net.plan)):
        st.info(f"Press Run to see the feature maps of {shown}.", icon=":material/play_arrow:")


def feature_maps(net: Network, state: dict[str, Any]) -> None:
    """A chosen layer's maps of the first image: those it reads and those it adds, or its output.

    The layer may have been chosen in the Graph view (``Key.FEATURE_LAYER``): the explorer shows it, or the
    nearest module it lists that contains it; a module without maps (the classifier) is said so. The maps are
    made by a job on a worker from the run's weights and first image (:func:`densviz.jobs.analysis.feature_maps`),
    and kept with the run, by layer.
    """
    st.markdown("**Feature maps** of the first image")
    layers = _feature_layers(net.plan)
    wanted = st.session_state.get(Key.FEATURE_LAYER)
    shown = nearest_listed(wanted, layers, net.plan) if isinstance(wanted, str) else None
    if isinstance(wanted, str) and shown is None:
        st.caption(f"{plain(wanted)} has no feature maps to show (the classifier's output is the class scores above).")
    if shown is not None:
        layers = listing(layers, shown, net.plan)
    default = next((n for n in layers if n.endswith("denselayer2")), layers[0])
    st.session_state[Key.FEATURE_LAYER] = shown or default
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    name = left.selectbox("Layer", layers, key=Key.FEATURE_LAYER)
    right.button(
        "Graph ↗",
        key="forward_layer_link",
        on_click=open_in_graph,
        args=(name,),
        help=f"open {name} in the Graph view",
        width="stretch",
    )
    maps = _layer_maps(net, state, name)
    if maps is None:
        return
    if maps.inherited is not None:
        cols = st.columns(2)
        cols[0].image(
            maps.inherited,
            caption=f"reused: the {maps.inherited_channels} maps it reads (block input and every earlier layer; first 64)",
            clamp=True,
            width="stretch",
        )
        cols[1].image(
            maps.output,
            caption=f"new: its k = {maps.output_shape[0]} maps, appended to the concatenation",
            clamp=True,
            width="stretch",
        )
    else:
        c, h, w = maps.output_shape
        st.image(
            maps.output,
            caption=f"{name}: {c} maps of {h}×{w} (first 64), each scaled to its own range",
            clamp=True,
            width="content" if h * w < 64 * 64 else "stretch",
        )


def _described(record: Any) -> tuple[float, str]:
    """The bar's fraction and words for a feature-map job's latest record."""
    if isinstance(record, AnalysisProgress):
        return (record.done / max(record.total, 1), record.step[:1].upper() + record.step[1:])
    return (0.0, "Starting…")


def _layer_maps(net: Network, state: dict[str, Any], name: str) -> LayerMaps | None:
    """``name``'s maps of the run's first image: kept with the run, else made by a job on a worker.

    The server holds no network. ``None`` with the reason shown, or while a stopped layer waits for its button.
    """
    kept: dict[str, LayerMaps] = state.setdefault("features", {})
    if name in kept:
        return kept[name]
    stopped: set[str] = state.setdefault("features_stopped", set())
    if st.session_state.get(_FEATURES_STOP_KEY):  # this rerun is Stop's: the layer waits for its button
        stopped.add(name)
    if name in stopped and not st.button("Show the maps", key="forward_layer_go", icon=":material/visibility:"):
        return None
    left, right = st.columns([1, 6], vertical_alignment="center")
    stop_slot, bar = left.empty(), right.empty()
    stop_slot.button("Stop", key=_FEATURES_STOP_KEY, icon=":material/stop:", help="stops the maps; nothing is kept")
    request = work_analysis.FeatureRequest(net.config, state["weights"], state["input"], name)
    try:
        job = job_watch.submit("features", work_analysis.feature_maps, request, time_limit_s=_FEATURES_TIME_LIMIT_S)
    except (ConfigError, SurroundingsError) as err:  # a full queue, the engine's settings
        stop_slot.empty()
        bar.empty()
        st.error(plain(str(err)[:1].upper() + str(err)[1:]))
        return None
    job_watch.follow(job, bar, _described, what="job")
    stop_slot.empty()
    bar.empty()
    maps = job.result()
    if not isinstance(maps, LayerMaps):
        st.error(plain(job_watch.failure_sentence(job)))
        return None
    kept[name] = maps
    stopped.discard(name)
    return maps


def training(net: Network) -> None:
    """One training step measured, naive against memory-efficient, beside the plan's estimates."""
    st.markdown("**One training step: naive vs memory-efficient**")
    spec = InputSpec(batch=_TRAIN_BATCH, height=net.input.height, width=net.input.width)
    if st.button(
        f"Measure at batch {_TRAIN_BATCH}",
        key="forward_train",
        help="runs a forward and backward step twice, each in a fresh process (takes a few seconds)",
    ):
        with st.spinner("Measuring two training steps on a worker…"):
            job: Job | None = None
            try:
                plan = checked_plan(net.config, spec)
                request = work.StepRequest(net.config, spec)
                job = jobs.engine().submit(
                    _session_id(), "training_step", work.training_step, request, time_limit_s=2 * STEP_TIMEOUT_S + 60
                )
                while not job.wait(0.5):  # Streamlit can stop the script here; the finally stops the job
                    pass
                peaks = job.result()
                if peaks is None:
                    st.error(plain(job.error() or "The measurement ended without a result."))
                else:
                    st.session_state["forward_training"] = TrainingStep(net.config, spec.hw, peaks, plan.memory)
            except (ConfigError, SurroundingsError) as err:
                st.error(plain(err))
            finally:
                if job is not None and not job.done():
                    job.stop()
    saved: TrainingStep | None = st.session_state.get("forward_training")
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


def _session_id() -> str:
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "no-session"
