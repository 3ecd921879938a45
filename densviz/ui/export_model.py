"""The Export view's model files: the ONNX model (made on click, checked in onnxruntime) and the TikZ figures.

The Export view calls :func:`model_downloads` once. The ONNX file takes seconds
to export and check (DenseNet-121: about 10 s), so it is made when its button
is clicked (a deferred download) and kept for the last designs exported in
this process; from the next rerun on, the check's figures are shown beside
the button. A design the export refuses before any work (over the memory
budget, ONNX's 2 GiB file limit or the layer limit, or the ONNX packages
missing) gets its sentence and a disabled button; a failure of the export
itself is shown as a sentence on the next rerun.

The TikZ figures are plain text made in milliseconds: they are ready at once.
The block figure shows the Graph view's block (block 1 when it shows all).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from densviz.core.config import DenseNetConfig, InputSpec
from densviz.core.errors import ConfigError, SurroundingsError
from densviz.draw.tex import block_tex, overview_tex
from densviz.nn.onnx import CHECK_BATCH, ONNX_OPSET, TOLERANCE, OnnxModel, check_onnx_bounds, onnx_unavailable
from densviz.ui import session
from densviz.ui.session import Network
from densviz.ui.text import plain

__all__ = ["failure", "made", "model_downloads", "onnx_file"]

_KEEP = 2
"""Exported models kept in this process (DenseNet-264's file is about 130 MB)."""
_ONE_AT_A_TIME = threading.Lock()  # an export holds a model, its traced graph and a check: one at a time
_STORE_LOCK = threading.Lock()
_MADE: OrderedDict[tuple[DenseNetConfig, int, int], OnnxModel] = OrderedDict()
_FAILED: dict[tuple[DenseNetConfig, int, int], str] = {}


def _key(cfg: DenseNetConfig, spec: InputSpec) -> tuple[DenseNetConfig, int, int]:
    return cfg, spec.height, spec.width  # the file's batch is dynamic: the batch setting does not change it


def made(cfg: DenseNetConfig, spec: InputSpec) -> OnnxModel | None:
    """The ONNX model exported for this design in this process, if it was made (most recent first kept)."""
    with _STORE_LOCK:
        return _MADE.get(_key(cfg, spec))


def failure(cfg: DenseNetConfig, spec: InputSpec) -> str | None:
    """Why the last export of this design failed, if it did."""
    with _STORE_LOCK:
        return _FAILED.get(_key(cfg, spec))


def onnx_file(cfg: DenseNetConfig, spec: InputSpec) -> bytes:
    """The checked ONNX file of a design: what the download button's callable returns.

    Runs in Streamlit's worker thread when the button is clicked (no page
    context there): the result, or the sentence of a failure, is kept for the
    next rerun to show.

    Raises:
        ConfigError, SurroundingsError: from :func:`densviz.nn.onnx.export_onnx`
            (the browser then reports that the file could not be made).
    """
    from densviz.nn.onnx import export_onnx  # torch and onnx load on the first click, not with the page

    key = _key(cfg, spec)
    with _ONE_AT_A_TIME:
        if (ready := made(cfg, spec)) is not None:
            return ready.data
        try:
            model = export_onnx(cfg, spec)
        except (ConfigError, SurroundingsError, MemoryError) as err:
            with _STORE_LOCK:
                _FAILED[key] = str(err) if not isinstance(err, MemoryError) else "The machine ran out of memory."
            raise
    with _STORE_LOCK:
        _FAILED.pop(key, None)
        _MADE[key] = model
        _MADE.move_to_end(key)
        while len(_MADE) > _KEEP:
            _MADE.popitem(last=False)
    return model.data


def _refusal(cfg: DenseNetConfig, spec: InputSpec) -> str | None:
    """Why this design cannot be exported, known before any work; ``None`` when it can."""
    try:
        check_onnx_bounds(cfg, spec)
    except ConfigError as err:
        return str(err)
    return onnx_unavailable()


def _onnx_download(cfg: DenseNetConfig, spec: InputSpec, column: DeltaGenerator) -> None:
    refused = _refusal(cfg, spec)
    ready = made(cfg, spec)
    check = (
        f"Checked in onnxruntime: {ready.check_sentence}."
        if ready is not None
        else f"Made when you click (DenseNet-121: about 10 s), then run in onnxruntime on {CHECK_BATCH} random "
        f"images against PyTorch; a file whose logits differ by more than {TOLERANCE:g} is refused."
    )
    column.download_button(
        "densenet.onnx",
        data=ready.data if ready is not None else (lambda: onnx_file(cfg, spec)),
        file_name="densenet.onnx",
        mime="application/octet-stream",
        key="dl_onnx",
        on_click="ignore",
        width="stretch",
        disabled=refused is not None,
        help=f"ONNX opset {ONNX_OPSET}, batch dynamic, {spec.height}×{spec.width} input, random weights (He-normal, "
        f"seed 0), module names kept (Netron shows features/denseblock2/denselayer7/…). {check}",
    )
    if refused is not None:
        st.caption(f":material/block: ONNX: {plain(refused)}")
    elif ready is not None:
        st.caption(f":material/check: densenet.onnx: {plain(ready.check_sentence)}; opset {ONNX_OPSET}.")
    elif why := failure(cfg, spec):
        st.error(f"The ONNX file could not be made: {plain(why)}", icon=":material/error:")
    else:
        st.caption(
            "ONNX: the design with random weights (He-normal, seed 0), for Netron and inference runtimes; "
            "made and checked against PyTorch when you click."
        )


def model_downloads(net: Network) -> None:
    """The ONNX model and the TikZ figures (overview and one dense block) as downloads."""
    cfg, spec, plan = net.config, net.input, net.plan
    block = session.graph_options().block or 1
    if block > len(plan.blocks):  # the Graph view's block of an earlier, longer design
        block = 1
    st.markdown(f"**Model and figures for papers** (TikZ: the overview and dense block {block}, as in the Graph view)")
    cols = st.columns(3)
    _onnx_download(cfg, spec, cols[0])
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
