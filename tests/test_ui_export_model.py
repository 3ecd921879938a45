"""The Export view's model downloads (densviz/ui/export_model.py) through Streamlit's AppTest.

The panel is drawn by a small script (``AppTest.from_function``) as the Export
view draws it. Its button makes the ONNX model as a real job on the process's
engine (a worker exports it and checks it in onnxruntime), then offers it as a
plain download.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import onnx
import pytest
from streamlit.testing.v1 import AppTest

from densviz import jobs
from densviz.core.config import PRESETS, DenseNetConfig, InputSpec, Stem
from densviz.core.errors import SurroundingsError
from densviz.jobs.local import LocalPool
from densviz.ui import export_model


def broken_export(_request: Any, _ctx: Any) -> None:
    """An export that fails as the exporter can (module-level: the worker imports it by name)."""
    raise SurroundingsError("The ONNX exporter failed on this design (a test); no file was written.")


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


@pytest.fixture(scope="module", autouse=True)
def workers_ready() -> None:
    """The engine's workers started from here, not from inside a test script.

    A worker process imports the parent's main file as it starts, and while
    AppTest runs ``_script`` that is the script's own file (it cannot run there).
    """
    engine = jobs.engine()
    deadline = time.monotonic() + 120
    while isinstance(engine, LocalPool) and engine.ready_workers() < engine.workers and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.fixture(autouse=True)
def forget_exports() -> Iterator[None]:
    export_model.SHARED.clear()
    yield
    export_model.SHARED.clear()


def _app(**state: Any) -> AppTest:
    at = AppTest.from_function(_script, default_timeout=180)
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


def _make(at: AppTest) -> AppTest:
    at.button(key="onnx_make").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_panel_offers_onnx_and_both_figures() -> None:
    assert PRESETS["tiny"].config == _tiny()[0]  # the script draws the tiny preset
    at = _app()
    assert set(_buttons(at)) == {"overview.tex", "block1.tex"}  # ONNX: made when asked, not before
    make = at.button(key="onnx_make")
    assert make.label == "Make densenet.onnx" and not make.disabled
    assert "onnxruntime" in make.help and "against PyTorch" in make.help
    assert "made and checked against PyTorch on a worker when you press the button" in _said(at)
    assert "densviz.ui" not in str(at.get("markdown"))  # no stray reprs


def test_the_button_makes_the_model_on_a_worker_then_offers_it_with_its_check() -> None:
    cfg, spec = _tiny()
    at = _make(_app())
    offered = _buttons(at)["densenet.onnx"]
    assert offered.url and not offered.deferred_file_id  # plain bytes: the address stays while it is shown
    made = export_model.made(cfg, spec)
    assert made is not None and made.max_abs_difference < 1e-4
    proto = onnx.load_from_string(made.data)
    assert "/features/denseblock2/denselayer2/conv1/Conv" in {n.name for n in proto.graph.node}
    said = _said(at)
    assert "densenet.onnx: onnxruntime vs PyTorch on 2 random images: max |difference| of the logits" in said
    assert f"{made.max_abs_difference:.1e}" in said
    assert "Checked in onnxruntime" in offered.help
    assert export_model.made(cfg, InputSpec(batch=7, height=32, width=32)) is made  # the batch is dynamic: kept
    again = _app()  # another session of the same design: offered at once, no button to make it
    assert "densenet.onnx" in _buttons(again) and not [b for b in again.button if b.key == "onnx_make"]


def test_a_refused_design_gets_its_sentence_and_no_button() -> None:
    at = _app(test_blocks=(200, 200))
    assert at.button(key="onnx_make").disabled
    assert "ONNX export takes designs of at most 300 dense layers (this one has 400)" in _said(at)


def test_a_failed_export_is_a_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_model, "onnx_model", broken_export)
    at = _make(_app())
    assert [e.value for e in at.error] == [
        "The ONNX file could not be made: The ONNX exporter failed on this design (a test); no file was written."
    ]
    assert "densenet.onnx" not in _buttons(at)


def test_the_block_figure_follows_the_graph_views_block() -> None:
    at = _app(graph_block=3)
    assert "block3.tex" in _buttons(at)
    assert "dense block 3" in str(at.get("markdown")[0].value)
