"""The page, driven by Streamlit's AppTest: every view, every control, links, errors."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from streamlit.testing.v1 import AppTest

from densviz.core.config import PRESETS, DenseNetConfig, InputSpec, Stem, to_query
from densviz.core.plan import make_plan
from densviz.core.units import format_bytes, format_count, format_macs
from tests.helpers import VIEWS, start_app

APP = str(Path(__file__).resolve().parents[1] / "app.py")


start = start_app


def headline(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def expected_headline(cfg: DenseNetConfig, spec: InputSpec) -> dict[str, str]:
    t = make_plan(cfg, spec).totals
    return {
        "Parameters": format_count(t.params),
        "MACs per image": format_macs(t.macs),
        "Depth L": str(t.depth),
        "Final channels": str(t.final_channels),
        "Activations": format_bytes(t.activation_bytes),
    }


@pytest.fixture(scope="module")
def app() -> AppTest:
    return start()


def test_default_page_is_densenet121(app: AppTest) -> None:
    assert headline(app) == expected_headline(PRESETS["densenet121"].config, PRESETS["densenet121"].input)
    assert headline(app)["Parameters"] == "7.98 M"
    assert app.session_state["preset"] == "densenet121"


@pytest.mark.parametrize("preset", ["tiny", "densenet121", "densenet_bc100_k12"])
def test_every_view_renders(preset: str) -> None:
    at = start({"preset": preset})
    assert at.segmented_control(key="view").options == VIEWS  # the selector offers these, in this order
    for view in VIEWS:
        at.session_state["view"] = view
        at.run()
        assert not at.exception, (view, [e.value for e in at.exception])
        assert not at.error, (view, [e.value for e in at.error])


def test_growth_rate_and_layers_move_the_numbers_to_the_plans() -> None:
    at = start()
    at.slider(key="growth_rate").set_value(12).run()
    cfg = PRESETS["densenet121"].config.replace(growth_rate=12, num_init_features=None)
    assert headline(at) == expected_headline(cfg, InputSpec())
    assert at.session_state["preset"] == "custom"
    at.number_input(key="layers_3").set_value(30).run()
    cfg = cfg.replace(block_config=(6, 12, 30, 16))
    assert headline(at) == expected_headline(cfg, InputSpec())
    deltas = {m.label: m.delta for m in at.metric}
    assert deltas["Parameters"].startswith("+")  # six more layers than before
    at.number_input(key="num_blocks").set_value(3).run()
    assert headline(at) == expected_headline(cfg.replace(block_config=(6, 12, 30)), InputSpec())


def test_a_preset_fills_the_controls() -> None:
    at = start()
    at.selectbox(key="preset").set_value("densenet_bc100_k12").run()
    s = at.session_state
    assert (s["growth_rate"], s["num_blocks"], s["layers_1"], s["layers_3"]) == (12, 3, 16, 16)
    assert (s["stem"], s["compression"], s["height"], s["num_classes"]) == ("cifar", 0.5, 32, 10)
    assert headline(at)["Parameters"] == format_count(769_162)
    assert at.query_params["preset"] == "densenet_bc100_k12"
    at.button(key="reset").click().run()
    assert headline(at)["Parameters"] == "7.98 M"


def test_a_link_reopens_its_network_and_the_page_writes_its_own() -> None:
    cfg = DenseNetConfig(
        growth_rate=20, block_config=(4, 5, 6), num_init_features=40, compression=0.75, stem=Stem.CIFAR, num_classes=100
    )
    spec = InputSpec(batch=8, height=40, width=48)
    at = start({**to_query(cfg, spec), "view": "Layers"})
    assert headline(at) == expected_headline(cfg, spec)
    assert at.session_state["view"] == "Layers"
    assert not at.warning
    written = dict(at.query_params.items())
    assert written == {**to_query(cfg, spec), "view": "Layers"}
    # a link that spells out a preset's settings is recognised as that preset
    bc = PRESETS["densenet_bc100_k12"]
    named = start(to_query(bc.config, bc.input))
    assert named.session_state["preset"] == "densenet_bc100_k12"
    assert dict(named.query_params.items()) == {"preset": "densenet_bc100_k12", "view": "Growth"}


def test_a_broken_link_warns_and_falls_back_per_field() -> None:
    at = start({"growth_rate": "lots", "block_config": "3,3", "compression": "7", "view": "Nowhere"})
    warnings = " ".join(w.value for w in at.warning)
    assert "growth_rate must be an integer" in warnings
    assert "compression must be a number" in warnings
    assert "view must be one of" in warnings
    assert at.session_state["growth_rate"] == 32 and at.session_state["num_blocks"] == 2
    assert not at.exception


def test_graph_view_shows_dot_with_the_nodes() -> None:
    at = start({"preset": "tiny", "view": "Graph"})
    dot = at.code[0].value
    assert dot.startswith("digraph densenet {")
    for node in ("features.conv0", "features.denseblock2.denselayer2", "features.transition2", "classifier"):
        assert f'"{node}"' in dot or f"{node} [" in dot
    at.session_state["graph_detail"] = "chain"
    at.run()
    assert "features.denseblock1.concat2" in at.code[0].value


def test_invalid_settings_show_the_sentence_and_keep_the_last_picture() -> None:
    at = start()
    at.number_input(key="height").set_value(20).run()
    assert not at.exception
    assert any("height 20 is too small for this network" in e.value for e in at.error)
    assert headline(at)["Parameters"] == "7.98 M"  # the last valid network stays
    at.number_input(key="height").set_value(224).run()
    at.number_input(key="batch").set_value(4096).run()
    assert any("over the memory budget of 4.00 GiB" in e.value for e in at.error)
    assert not at.exception


def test_the_numbers_get_verified_against_pytorch() -> None:
    from densviz.ui.cached import verify_service

    at = start({"preset": "tiny"})
    job = verify_service().request(PRESETS["tiny"].config, PRESETS["tiny"].input)
    deadline = time.monotonic() + 120
    while not job.done() and time.monotonic() < deadline:
        time.sleep(0.1)
    at.run()
    captions = " ".join(c.value for c in at.caption)
    assert "verified against the PyTorch model: all 44" in captions


def test_the_page_is_drawn_before_the_check_and_the_mark_replaces_checking(monkeypatch: pytest.MonkeyPatch) -> None:
    # no polling: the run draws everything, then waits for the check and puts the mark in place
    from concurrent.futures import ThreadPoolExecutor

    import densviz.ui.cached as cached
    from densviz.nn.check import check_plan

    gate = threading.Event()
    seen: list[bool] = []

    def slow(cfg: DenseNetConfig, hw: tuple[int, int]) -> object:
        gate.wait(30)
        return check_plan(cfg, hw)

    def open_gate_once_the_view_is_drawn(net: object) -> None:
        views_export(net)
        seen.append(True)
        gate.set()  # the check ends only after the whole view was drawn

    import densviz.ui.page as page

    views_export = page.VIEWS["Export"]
    service = cached.VerifyService(check=slow, pool=lambda: ThreadPoolExecutor(max_workers=1))  # type: ignore[arg-type]
    monkeypatch.setattr(cached, "verify_service", lambda: service)
    monkeypatch.setitem(page.VIEWS, "Export", open_gate_once_the_view_is_drawn)
    cfg = PRESETS["tiny"].config.replace(growth_rate=11, num_init_features=22)  # not checked before in this process
    at = start({**to_query(cfg, PRESETS["tiny"].input), "view": "Export"})
    captions = [c.value for c in at.caption]
    assert seen == [True]
    assert any("verified against the PyTorch model" in c for c in captions)
    assert not any("checking these numbers" in c for c in captions)


def test_upload_loads_a_config_or_says_why_not(monkeypatch: pytest.MonkeyPatch) -> None:
    from densviz.core.config import state_to_json
    from densviz.ui import session as session_module
    from densviz.ui import state

    session: dict[str, object] = {}
    fake_st = SimpleNamespace(session_state=session)
    monkeypatch.setattr(state, "st", fake_st)
    monkeypatch.setattr(session_module, "st", fake_st)

    def upload(name: str, data: bytes) -> None:
        session["config_upload"] = SimpleNamespace(name=name, getvalue=lambda: data)
        state.load_upload()

    cfg, spec = PRESETS["densenet_bc100_k12"].config, PRESETS["densenet_bc100_k12"].input
    upload("bc.json", state_to_json(cfg, spec).encode())
    assert state.read_config(session) == (cfg, spec)
    assert session["_upload_note"] == "Loaded bc.json."
    upload("bad.json", b'{"config": {"growth_rate": 0}}')
    assert session["_upload_error"] == "bad.json was not loaded: growth_rate must be an integer from 1 to 128; got 0."
    upload("big.json", b" " * 1_100_000)
    assert "a config JSON is at most" in str(session["_upload_error"])
    upload("pickle.json", b"\x80\x04\x95")
    assert "not valid JSON" in str(session["_upload_error"])


def test_forward_pass_view_runs_the_network() -> None:
    at = start({"preset": "tiny", "view": "Forward pass"})
    assert not at.metric[5:]  # nothing has run yet
    at.button(key="forward_run").click().run()
    assert not at.exception and not at.error
    assert any("Verified on cpu: all 14 module outputs have the planned shape." in s.value for s in at.success)
    labels = [m.label for m in at.metric]
    assert {"Median latency", "Throughput", "Compute", "Of the device's peak", "Peak memory"} <= set(labels)
    at.selectbox(key="forward_layer").set_value("features.transition1").run()
    assert not at.exception
    at.radio(key="forward_source").set_value("upload").run()
    at.button(key="forward_run").click().run()
    assert any(e.value == "Choose a PNG or JPEG file to upload first." for e in at.error)


def test_fault_no_dot_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    import densviz.draw.render as render

    monkeypatch.setattr(render.shutil, "which", lambda _name: None)
    at = start({"preset": "tiny", "growth_rate": "7", "view": "Graph"})  # a config no cache has drawn
    assert not at.exception
    assert "apt-get install graphviz" in " ".join(c.value for c in at.caption)
    assert at.get("graphviz_chart"), "the graph is laid out in the browser instead"
    assert at.code[0].value.startswith("digraph densenet {")  # and its DOT is still there


def test_fault_out_of_memory_during_a_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import densviz.ui.forward as forward

    monkeypatch.setattr(forward, "forward_job", oom_job)  # runs on a worker, which imports it by name
    at = start({"preset": "tiny", "view": "Forward pass"})
    at.button(key="forward_run").click().run()
    assert not at.exception
    assert any("ran out of memory for batch 1; lower the batch or run on the CPU" in e.value for e in at.error)
    at.slider(key="growth_rate").set_value(9).run()  # the page goes on
    assert not at.exception and headline(at)["Parameters"]


def test_fault_a_device_that_disappears(monkeypatch: pytest.MonkeyPatch) -> None:
    import densviz.ui.forward as forward
    from densviz.run import DeviceInfo

    # The page offered a GPU; by the time Run is pressed, the machine has none.
    monkeypatch.setattr(
        forward, "available_devices", lambda: [DeviceInfo("cuda:0", "Vanished GPU", 1 << 30), DeviceInfo("cpu", "CPU")]
    )
    monkeypatch.setattr(forward, "supported_precisions", lambda _device: [forward.Precision.FP32])
    at = start({"preset": "tiny", "view": "Forward pass"})
    assert at.selectbox(key="forward_device").value == "cuda:0"
    at.button(key="forward_run").click().run()
    assert not at.exception
    assert any("Device must be auto or one of this machine's devices: cpu" in e.value for e in at.error)


def test_fault_caches_evicted_mid_session() -> None:
    import streamlit as st

    at = start({"preset": "densenet_bc100_k12", "view": "Graph"})
    before = headline(at)
    st.cache_data.clear()
    st.cache_resource.clear()
    at.run()
    assert not at.exception
    assert headline(at) == before
    assert at.session_state["growth_rate"] == 12 and at.query_params["preset"] == "densenet_bc100_k12"


def test_fault_a_run_cancelled_midway(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.runtime.scriptrunner_utils.exceptions import StopException

    import densviz.ui.forward as forward

    at = start({"preset": "tiny", "view": "Forward pass"})
    at.button(key="forward_run").click().run()
    first = [m.value for m in at.metric][5:]
    assert first  # a finished run is on screen

    def cancelled(*_args: object, **_kwargs: object) -> None:
        raise StopException()  # what Streamlit raises in the script, while it watches the job, when the user stops it

    monkeypatch.setattr(forward, "_watch_job", cancelled)
    at.button(key="forward_run").click().run()
    assert not at.exception
    monkeypatch.undo()
    at.run()
    assert not at.exception
    assert [m.value for m in at.metric][5:] == first  # the last finished run is still shown
    assert at.session_state["preset"] == "tiny" and at.query_params["view"] == "Forward pass"  # nothing lost


def oom_job(_request: object, _ctx: object) -> None:
    """A forward-pass job that runs out of memory on its worker (module level: the worker imports it by name)."""
    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
