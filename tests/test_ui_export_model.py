"""The Export view's model downloads (densviz/ui/export_model.py) through Streamlit's AppTest.

The panel is drawn by a small script (``AppTest.from_function``) as the Export
view draws it. AppTest has no browser to click a deferred download, so the
click is what the button's callable does: :func:`export_model.onnx_file`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

import densviz.nn.onnx as onnx_export
from densviz.core.config import PRESETS, DenseNetConfig, InputSpec, Stem
from densviz.core.errors import SurroundingsError
from densviz.ui import export_model


def _script() -> None:
    import streamlit as st

    from densviz.core.config import DenseNetConfig, InputSpec, Stem
    from densviz.core.plan import make_plan
    from densviz.ui.export_model import model_downloads
    from densviz.ui.session import Network

    blocks = st.session_state.get("test_blocks", (2, 2, 2))
    cfg = DenseNetConfig(growth_rate=8, block_config=blocks, num_init_features=16, num_classes=10, stem=Stem.CIFAR)
    spec = InputSpec.square(32)
    model_downloads(Network(cfg, spec, make_plan(cfg, spec)))


def _tiny(blocks: tuple[int, ...] = (2, 2, 2)) -> tuple[DenseNetConfig, InputSpec]:
    cfg = DenseNetConfig(growth_rate=8, block_config=blocks, num_init_features=16, num_classes=10, stem=Stem.CIFAR)
    return cfg, InputSpec.square(32)


@pytest.fixture(autouse=True)
def forget_exports() -> Iterator[None]:
    export_model._MADE.clear()
    export_model._FAILED.clear()
    yield
    export_model._MADE.clear()
    export_model._FAILED.clear()


def _app(**state: Any) -> AppTest:
    at = AppTest.from_function(_script, default_timeout=60)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _buttons(at: AppTest) -> dict[str, Any]:
    return {b.proto.label: b.proto for b in at.get("download_button")}


def _said(at: AppTest) -> str:
    """The captions and errors as they read on the page (Markdown's escapes removed)."""
    return " ".join([c.value for c in at.caption] + [e.value for e in at.error]).replace("\\", "")


def test_the_panel_offers_onnx_and_both_figures() -> None:
    assert PRESETS["tiny"].config == _tiny()[0]  # the script draws the tiny preset
    at = _app()
    buttons = _buttons(at)
    assert set(buttons) == {"densenet.onnx", "overview.tex", "block1.tex"}
    assert not buttons["densenet.onnx"].disabled
    assert "opset 18" in buttons["densenet.onnx"].help and "Netron" in buttons["densenet.onnx"].help
    assert "made and checked against PyTorch when you click" in _said(at)
    assert "densviz.ui" not in str(at.get("markdown"))  # no stray reprs


def test_after_the_click_the_check_is_shown() -> None:
    cfg, spec = _tiny()
    data = export_model.onnx_file(cfg, spec)  # what the deferred download runs on the click
    assert data[:2] == b"\x08\x0a"  # an ONNX ModelProto: field 1 (ir_version) = 10
    at = _app()
    said = _said(at)
    assert "densenet.onnx: onnxruntime vs PyTorch on 2 random images: max |difference| of the logits" in said
    made = export_model.made(cfg, spec)
    assert made is not None and made.data == data and made.max_abs_difference < 1e-4
    assert f"{made.max_abs_difference:.1e}" in said
    assert "Checked in onnxruntime" in _buttons(at)["densenet.onnx"].help
    assert export_model.onnx_file(cfg, InputSpec(batch=7, height=32, width=32)) is data  # the batch is dynamic: kept


def test_a_refused_design_gets_its_sentence_and_no_button() -> None:
    at = _app(test_blocks=(200, 200))
    assert _buttons(at)["densenet.onnx"].disabled
    assert "ONNX export takes designs of at most 300 dense layers (this one has 400)" in _said(at)


def test_a_failed_export_is_said_on_the_next_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise SurroundingsError("The ONNX exporter failed on this design (a test); no file was written.")

    monkeypatch.setattr(onnx_export, "export_onnx", broken)
    with pytest.raises(SurroundingsError):
        export_model.onnx_file(*_tiny())
    at = _app()
    assert _said(at) == (
        "The ONNX file could not be made: The ONNX exporter failed on this design (a test); no file was written."
    )


def test_the_block_figure_follows_the_graph_views_block() -> None:
    at = _app(graph_block=3)
    assert "block3.tex" in _buttons(at)
    assert "dense block 3" in str(at.get("markdown")[0].value)
