"""The Export view's model files: the ONNX model (made as a job when asked, checked in onnxruntime) and the TikZ figures.

The Export view calls :func:`model_downloads` once. The ONNX file takes seconds
to export and check (DenseNet-121: about 10 s), so it is made as a job on a
worker (:func:`densviz.jobs.files.onnx_model`) when its button is pressed, with
the job's place in the queue, a Stop and a time limit (see
:mod:`densviz.ui.job_watch`), never in the server's process. Then it is a plain
download (its address stays valid while the button is shown), with the check's
figures beside it. The model is kept in this process for the last designs
exported (:data:`SHARED`), so that another session with the same design gets
it at once. A design the export refuses before any work (over the memory
budget, ONNX's 2 GiB file limit or the layer limit, or the ONNX packages
missing) gets its sentence and a disabled button; a failure of the export
itself is a sentence below the buttons.

The TikZ figures are plain text made in milliseconds: they are ready at once.
The block figure shows the Graph view's block (block 1 when it shows all).
"""

from __future__ import annotations

from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from densviz.core.config import DenseNetConfig, InputSpec
from densviz.core.errors import ConfigError
from densviz.draw.tex import block_tex, overview_tex
from densviz.jobs.files import FilesProgress, OnnxRequest, onnx_model
from densviz.nn.onnx import CHECK_BATCH, ONNX_OPSET, TOLERANCE, OnnxModel, check_onnx_bounds, onnx_unavailable
from densviz.ui import session
from densviz.ui.job_watch import Shared, run_shared
from densviz.ui.session import Network
from densviz.ui.text import plain

__all__ = ["SHARED", "made", "model_downloads"]

SHARED = Shared(max_bytes=320 << 20, size=lambda model: len(model.data))
"""ONNX models made in this process, by design, for every session (DenseNet-264's file is about 130 MB)."""

_TIME_LIMIT_S = 600.0


def _request(cfg: DenseNetConfig, spec: InputSpec) -> OnnxRequest:
    """The job's request: the batch is left out (the file's batch is dynamic), so any batch shares one file."""
    return OnnxRequest(cfg, InputSpec(batch=1, height=spec.height, width=spec.width))


def made(cfg: DenseNetConfig, spec: InputSpec) -> OnnxModel | None:
    """The ONNX model exported for this design in this process, if it is kept."""
    model = SHARED.get(_request(cfg, spec))
    return model if isinstance(model, OnnxModel) else None


def _refusal(cfg: DenseNetConfig, spec: InputSpec) -> str | None:
    """Why this design cannot be exported, known before any work; ``None`` when it can."""
    try:
        check_onnx_bounds(cfg, spec)
    except ConfigError as err:
        return str(err)
    return onnx_unavailable()


def _describe(record: Any) -> tuple[float, str]:
    if isinstance(record, FilesProgress):
        return record.done / max(record.total, 1), record.step
    return 0.0, "starting…"


def _offer(model: OnnxModel, spec: InputSpec, where: DeltaGenerator) -> None:
    where.download_button(
        "densenet.onnx",
        data=model.data,
        file_name="densenet.onnx",
        mime="application/octet-stream",
        key="dl_onnx",
        on_click="ignore",
        icon=":material/download:",
        width="stretch",
        help=f"ONNX opset {ONNX_OPSET}, batch dynamic, {spec.height}×{spec.width} input, random weights (He-normal, "
        f"seed 0), module names kept (Netron shows features/denseblock2/denselayer7/…). "
        f"Checked in onnxruntime: {model.check_sentence}.",
    )


def _onnx(cfg: DenseNetConfig, spec: InputSpec, column: DeltaGenerator) -> None:
    """The ONNX file: its download when made, else the button that makes it; what the check found, or why not."""
    refused = _refusal(cfg, spec)
    model = made(cfg, spec) if refused is None else None
    slot = column.empty()
    if model is not None:
        _offer(model, spec, slot)
        st.caption(f":material/check: densenet.onnx: {plain(model.check_sentence)}; opset {ONNX_OPSET}.")
        return
    pressed = slot.button(
        "Make densenet.onnx",
        key="onnx_make",
        icon=":material/build:",
        width="stretch",
        disabled=refused is not None,
        help=f"Exports the design (DenseNet-121: about 10 s) on a worker, then runs it in onnxruntime on "
        f"{CHECK_BATCH} random images against PyTorch; a file whose logits differ by more than {TOLERANCE:g} is "
        "refused. Then it is offered here.",
    )
    if refused is not None:
        st.caption(f":material/block: ONNX: {plain(refused)}")
        return
    if not pressed:
        st.caption(
            "ONNX: the design with random weights (He-normal, seed 0), for Netron and inference runtimes; "
            "made and checked against PyTorch on a worker when you press the button."
        )
        return
    request = _request(cfg, spec)
    result, sentence = run_shared(
        request,
        SHARED,
        "onnx",
        onnx_model,
        request,
        describe=_describe,
        stop_key="onnx_stop",
        time_limit_s=_TIME_LIMIT_S,
    )
    if isinstance(result, OnnxModel):
        _offer(result, spec, slot)
        st.caption(f":material/check: densenet.onnx: {plain(result.check_sentence)}; opset {ONNX_OPSET}.")
    else:
        st.error(
            f"The ONNX file could not be made: {plain(sentence or 'no reason was given.')}", icon=":material/error:"
        )


def model_downloads(net: Network) -> None:
    """The ONNX model and the TikZ figures (overview and one dense block) as downloads."""
    cfg, spec, plan = net.config, net.input, net.plan
    block = session.graph_options().block or 1
    if block > len(plan.blocks):  # the Graph view's block of an earlier, longer design
        block = 1
    st.markdown(f"**Model and figures for papers** (TikZ: the overview and dense block {block}, as in the Graph view)")
    cols = st.columns(3)
    _onnx(cfg, spec, cols[0])
    cols[1].download_button(
        "overview.tex",
        overview_tex(plan),
        file_name="densenet-overview.tex",
        mime="text/x-tex",
        key="dl_tex_overview",
        on_click="ignore",
        width="stretch",
        help="A standalone TikZ picture of the whole network: compile with pdflatex, or paste it into a paper.",
    )
    cols[2].download_button(
        f"block{block}.tex",
        block_tex(plan, block),
        file_name=f"densenet-block{block}.tex",
        mime="text/x-tex",
        key="dl_tex_block",
        on_click="ignore",
        width="stretch",
        help=f"Dense block {block} with every connection (a long block's middle layers elided): a standalone TikZ picture.",
    )
