"""The Forward pass view's Profile panel, through Streamlit's AppTest, with the real model and profiler.

The panel is called from a small script (``AppTest.from_function``) with the
view's control keys set, as the Forward pass view sets them. The profile and the
fastest settings run as jobs on the process's local pool (real workers).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from densviz.core.config import PRESETS, InputSpec
from densviz.core.plan import make_plan

TINY = PRESETS["tiny"].config


pytestmark = pytest.mark.usefixtures("quick_roofs")  # tests/conftest.py: a small bandwidth copy, a one-kernel peak


@pytest.fixture(scope="module", autouse=True)
def _workers_started() -> Iterator[None]:
    """The pool's workers are up before a script of ``AppTest.from_function`` runs.

    multiprocessing imports the parent's main file into each new worker, and
    while such a script runs it is the main file (unguarded, unlike app.py): a
    worker started then would fail to start.
    """
    from densviz import jobs

    pool = jobs.engine()
    deadline = time.monotonic() + 120
    while getattr(pool, "ready_workers", lambda: pool.workers)() < pool.workers and time.monotonic() < deadline:
        time.sleep(0.1)
    yield


def _script() -> None:
    import dataclasses

    import streamlit as st

    from densviz.core.config import PRESETS, InputSpec
    from densviz.core.plan import make_plan
    from densviz.ui.forward_profile import profile_panel
    from densviz.ui.session import Network

    cfg = dataclasses.replace(PRESETS["tiny"].config, growth_rate=st.session_state.get("test_growth", 8))
    spec = InputSpec.square(32)
    profile_panel(Network(cfg, spec, make_plan(cfg, spec)))


def _app(**controls: Any) -> AppTest:
    at = AppTest.from_function(_script, default_timeout=120)
    at.session_state["forward_device"] = "cpu"
    at.session_state["forward_precision"] = "fp32"
    at.session_state["forward_cl"] = False
    at.session_state["forward_batch"] = 2
    at.session_state["forward_runs"] = 2
    for key, value in controls.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _button(at: AppTest, key: str) -> Any:
    return next(b for b in at.button if b.key == key)


def _charts(at: AppTest) -> dict[str, dict[str, Any]]:
    out = {}
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        out[spec["layout"]["title"]["text"].split("<")[0].strip()] = spec
    return out


def test_nothing_is_measured_until_profile_is_pressed() -> None:
    at = _app()
    assert _button(at, "profile_run").label == "Profile"
    assert not at.get("plotly_chart") and not at.dataframe
    said = " ".join(c.value for c in at.caption)
    assert "cpu · fp32 · NCHW · batch 2 · 2 profiled passes · 1 thread" in said


def test_profile_shows_every_row_the_roofline_under_its_roofs_and_the_trace() -> None:
    at = _app()
    _button(at, "profile_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    plan = make_plan(TINY, InputSpec.square(32, batch=2))
    table = at.dataframe[0].value
    assert list(table["module"]) == [r.name for r in plan.layers]
    assert (table["time (ms)"] > 0).all()
    assert table["share"].sum() == pytest.approx(100.0)
    charts = _charts(at)
    assert {"Roofline", "Time share beside MACs share"} <= set(charts)
    roof, *points = charts["Roofline"]["data"]
    peak_gflops = max(roof["y"])
    slope = roof["y"][0] / roof["x"][0]  # the slanted roof: GFLOP/s per FLOP/byte, the bandwidth in GB/s
    drawn = 0
    for trace in points:
        for x, y in zip(trace["x"], trace["y"], strict=True):
            assert y <= min(peak_gflops, slope * x) * (1 + 1e-9)
            drawn += 1
    assert drawn == sum(1 for r in plan.layers if r.macs > 0)
    labels = {m.label for m in at.metric}
    assert {"Rows' sum", "End to end", "Compute peak", "Memory bandwidth"} <= labels
    said = " ".join(c.value for c in at.caption)
    assert "GEMM" in said and "copy" in said  # how the peak and the bandwidth were measured
    assert any(d.label.startswith("Download the Chrome trace") for d in at.get("download_button"))


def test_a_changed_control_marks_the_profile_as_an_earlier_settings_one() -> None:
    at = _app()
    _button(at, "profile_run").click().run()
    at.session_state["forward_batch"] = 1
    at.run()
    said = " ".join(c.value for c in at.caption)
    assert "Profiled with cpu · fp32 · NCHW · batch 2" in said and "have changed since" in said
    assert at.get("plotly_chart")  # still shown, marked


def test_a_profile_of_another_network_is_not_shown() -> None:
    at = _app()
    _button(at, "profile_run").click().run()
    at.session_state["test_growth"] = 4  # the design changed
    at.run()
    assert not at.get("plotly_chart")
    assert any("another network" in c.value for c in at.caption)


def test_a_profile_over_the_time_limit_is_refused_with_a_sentence() -> None:
    at = _app(forward_runs=1000, forward_batch=64, test_growth=32)
    _button(at, "profile_run").click().run()
    assert not at.exception
    assert at.error and at.error[0].value.startswith("This run would take about ")
    assert "over the 120 s limit" in at.error[0].value
    assert not at.get("plotly_chart")


def test_the_fastest_settings_are_measured_behind_their_own_button() -> None:
    import torch

    from densviz.run.fastest import candidates

    at = _app()
    assert _button(at, "fastest_run").label == "Find the fastest settings"
    assert not at.dataframe and not at.success
    _button(at, "fastest_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value
    names = [n.removesuffix(" ★") for n in table["setting"]]
    assert names == [c.name for c in candidates(torch.device("cpu"))[0]]
    starred = [i for i, n in enumerate(table["setting"]) if n.endswith(" ★")]
    assert starred == [int(table["median (ms)"].idxmin())]  # the fastest is the shortest median, and only it
    assert (table["of its peak"] <= 100).all() and (table["of its peak"] > 0).all()
    assert table["speedup"][0] == "1.00×"  # eager fp32 against itself
    for name, compile_s in zip(names, table["compile (s)"], strict=True):
        assert (compile_s == "—") == name.startswith("eager"), (name, compile_s)
    assert at.success[0].value.startswith(f"Fastest here: **{names[starred[0]]}**")
    said = " ".join(c.value for c in at.caption)
    assert "taking turns pass by pass" in said and "fp32 peak: " in said
