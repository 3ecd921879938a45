"""The Forward pass view's CAM row: where each dense block and transition looks, for the run's first image.

Under the top-5: a method (Grad-CAM, or gradient × activation), a target
(the predicted class or any other), and one panel per dense block and
transition from block 1 to the last, each map blended over the input as the
network saw it. The panels are tiles of a fixed width in a row that wraps, so
a laptop shows them side by side and a phone two by two. Under each panel a
button opens that module in the Graph view.

The maps come from :func:`densviz.run.cam.cam_rows` (Captum; both methods from
one forward and one backward pass), computed by a job on a worker
(:func:`densviz.jobs.analysis.cam`, with the run's weights and first image; the
server holds no network), with its place in the queue, progress and Stop; they
are kept with that run per target, so switching the method or coming back to a
target costs nothing. A row stopped waits for its button. A row is refused before it starts
when its pass would break the memory budget, and waits for a button when the
run's measured pass says it would take more than a few seconds (a row costs
under three forward passes of one image).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from densviz.core.config import ConfigError
from densviz.core.errors import SurroundingsError
from densviz.draw.cam import enlarge, overlay
from densviz.jobs.analysis import AnalysisProgress, CamRequest
from densviz.jobs.analysis import cam as cam_job
from densviz.run import RunResult
from densviz.run.cam import CamMethod, CamRow, check_cam_memory, input_picture
from densviz.run.inputs import IMAGENET_MEAN, IMAGENET_STD
from densviz.ui import job_watch
from densviz.ui.forward_links import open_in_graph
from densviz.ui.session import Network
from densviz.ui.text import plain

__all__ = ["CAM_METHOD_KEY", "CAM_TARGET_KEY", "cam_section"]

CAM_METHOD_KEY = "forward_cam_method"
CAM_TARGET_KEY = "forward_cam_target"
_PREDICTED = -1  # the target selectbox's "the predicted class"
_ASK_ABOVE_S = 3.0  # a row expected to take longer than this waits for a button press
_STOP_KEY = "forward_cam_stop"
_TIME_LIMIT_S = 600.0  # a row costs under three passes of one image; this is the backstop
_ROW_PX = 960  # the tiles' row on a laptop (the main column at 1440 px with the sidebar open)
_TILE_GAP_PX = 8  # Streamlit's "xsmall" gap


def _tile_width(tiles: int) -> int:
    """Pixels per tile: the whole row side by side on a laptop, never smaller than a phone can read."""
    return max(96, min(176, _ROW_PX // tiles - _TILE_GAP_PX))


def _named(name: str | None, index: int) -> str:
    """A class for a sentence: ``daisy (class 985)``; ``class 7`` where the name is the index (the digits)."""
    return f"{name} (class {index})" if name and name != str(index) else f"class {index}"


def _class_name(result: RunResult, index: int) -> str:
    return _named(result.classes[index] if result.classes else None, index)


def _target(result: RunResult, num_classes: int) -> int | None:
    """The target selectbox: ``None`` for the predicted class, else a class index."""
    options = [_PREDICTED, *range(num_classes)]
    if st.session_state.get(CAM_TARGET_KEY) not in options:
        st.session_state[CAM_TARGET_KEY] = _PREDICTED
    predicted = result.top5[0][0] if result.top5 else None
    said = f"the predicted class: {_class_name(result, predicted)}" if predicted is not None else "the predicted class"
    chosen = st.selectbox(
        "Explain",
        options,
        key=CAM_TARGET_KEY,
        format_func=lambda i: said if i == _PREDICTED else _class_name(result, i),
        help="the class whose score the maps explain (type to search)",
    )
    return None if chosen == _PREDICTED else int(chosen)


def _method() -> CamMethod:
    if st.session_state.get(CAM_METHOD_KEY) not in [m.value for m in CamMethod]:
        st.session_state[CAM_METHOD_KEY] = CamMethod.GRADCAM.value
    chosen = st.segmented_control(
        "Method",
        [m.value for m in CamMethod],
        key=CAM_METHOD_KEY,
        format_func=lambda m: CamMethod(m).label,
        required=True,
        help="Grad-CAM weighs each channel by its gradient averaged over the map (smooth, coarse); "
        "gradient × activation keeps where inside each map the evidence lies",
    )
    return CamMethod(chosen or CamMethod.GRADCAM.value)


class _NoMapsError(Exception):
    """The CAM job gave no row: its sentence (a refused target, a full queue, a stop) is the message."""


def _cam_job(net: Network, state: dict[str, Any], result: RunResult, target: int | None) -> dict[CamMethod, CamRow]:
    """Both methods' rows for ``target``, made by a job on a worker from the run's weights and first image.

    Raises:
        _NoMapsError: the job gave none (its sentence).
    """
    request = CamRequest(
        net.config,
        state["weights"],
        state["input"],
        target=target,
        classes=tuple(result.classes) if result.classes else None,
        device=result.device,
    )
    left, right = st.columns([1, 6], vertical_alignment="center")
    stop_slot, bar = left.empty(), right.empty()
    stop_slot.button("Stop", key=_STOP_KEY, icon=":material/stop:", help="stops the maps; nothing is kept")
    try:
        job = job_watch.submit("cam", cam_job, request, time_limit_s=_TIME_LIMIT_S)
    except (ConfigError, SurroundingsError) as err:  # a full queue, the engine's settings
        raise _NoMapsError(str(err)[:1].upper() + str(err)[1:]) from err
    job_watch.follow(job, bar, _described, what="job")
    stop_slot.empty()
    bar.empty()
    rows = job.result()
    if not isinstance(rows, dict):
        raise _NoMapsError(job_watch.failure_sentence(job))
    return rows


def _described(record: Any) -> tuple[float, str]:
    """The bar's fraction and words for the CAM job's latest record."""
    if isinstance(record, AnalysisProgress):
        return (record.done / max(record.total, 1), record.step[:1].upper() + record.step[1:])
    return (0.0, "Starting…")


def _rows(net: Network, state: dict[str, Any], result: RunResult, target: int | None) -> dict[CamMethod, CamRow] | None:
    """The run's rows for ``target`` (both methods), computed once; ``None`` while a row waits for its button.

    A slow row waits for its button; so does one whose job was stopped (Stop reruns the page, and the row
    would otherwise start again at once).
    """
    kept: dict[int | None, dict[CamMethod, CamRow]] = state.setdefault("cam", {})
    if target in kept:
        return kept[target]
    x = state["input"]  # (1, C, H, W)
    check_cam_memory(net.config, (int(x.shape[2]), int(x.shape[3])))
    stopped: set[int | None] = state.setdefault("cam_stopped", set())
    if st.session_state.get(_STOP_KEY):  # this rerun is Stop's
        stopped.add(target)
    expected_s = 3 * result.median_ms / max(result.batch, 1) / 1000  # under three passes of one image
    if expected_s > _ASK_ABOVE_S and not st.button(
        f"Compute the maps (about {expected_s:.0f} s)", key="forward_cam_go", icon=":material/visibility:"
    ):
        return None
    if (
        expected_s <= _ASK_ABOVE_S
        and target in stopped
        and not st.button("Compute the maps", key="forward_cam_go", icon=":material/visibility:")
    ):
        return None
    with st.spinner("Computing the maps (one forward and one backward pass)…"):
        kept[target] = _cam_job(net, state, result, target)
    stopped.discard(target)
    return kept[target]


def _headline(row: CamRow) -> str:
    target = plain(_named(row.target_name, row.target))
    if row.explains_prediction:
        return f"**{row.method.label}** of {target}, the predicted class ({row.target_probability:.1%})"
    predicted = plain(_named(row.predicted_name, row.predicted))
    return (
        f"**{row.method.label}** of {target} ({row.target_probability:.1%}); "
        f"the network predicts {predicted} ({row.predicted_probability:.1%})"
    )


def _panels(row: CamRow, picture: np.ndarray) -> None:
    """The input, then one tile per module: its overlay, a button to the Graph view, its map's resolution."""
    width = _tile_width(len(row.panels) + 1)
    with st.container(horizontal=True, gap="xsmall", key="forward_cam_row"):
        with st.container(width=width, gap=None):
            st.image(enlarge(picture), width="stretch")
            st.caption(f"input {row.input_hw[0]}×{row.input_hw[1]}")
        for panel in row.panels:
            with st.container(width=width, gap=None):
                st.image(enlarge(overlay(picture, panel.upsampled)), width="stretch")
                st.button(
                    f"{panel.label} ↗",
                    key=f"forward_cam_link_{panel.module}",
                    on_click=open_in_graph,
                    args=(panel.module,),
                    help=f"open {panel.module} in the Graph view",
                    width="stretch",
                )
                h, w = panel.hw
                st.caption(f"{h}×{w} map" + (": no positive part" if panel.empty else ""))


def cam_section(net: Network, state: dict[str, Any], result: RunResult) -> None:
    """Where each block looks: the controls, the row, and what it means."""
    st.markdown("**Where each block looks** (class activation maps of the first image)")
    left, right = st.columns([1, 2])
    with left:
        method = _method()
    with right:
        target = _target(result, net.config.num_classes)
    try:
        rows = _rows(net, state, result, target)
    except ConfigError as err:
        st.error(plain(err))
        return
    except _NoMapsError as err:
        st.error(plain(str(err)))
        return
    if rows is None:
        return
    row = rows[method]
    st.markdown(_headline(row))
    # a photograph was normalised with ImageNet's mean and std: undo it; anything else is stretched to its range
    picture = (
        input_picture(state["input"], IMAGENET_MEAN, IMAGENET_STD)
        if state.get("photo")
        else input_picture(state["input"])
    )
    _panels(row, picture)
    st.caption(
        "Bright: where that module's output raised the class's score (inferno; each panel scaled to its own maximum). "
        "The maps' resolution halves at every transition (the size under each panel), so later blocks point more "
        "coarsely but with more abstract features."
    )
    if result.weights_random:
        st.caption(
            ":material/casino: The weights are random: these maps show the wiring, not anything learned. "
            "Choose Pretrained (ImageNet) weights or weights trained in the Feature reuse view."
        )
