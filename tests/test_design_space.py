"""The Design space view: the sweep around the current design, its budgets, and a click that loads a design."""

from __future__ import annotations

import json
import random
from pathlib import Path

from streamlit.testing.v1 import AppTest

from densviz.core.config import PRESETS, InputSpec
from densviz.core.explore import Design, Limits, sweep
from densviz.core.plan import make_plan
from densviz.ui.design_space import clicked_index, default_space

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def test_the_default_space_surrounds_the_current_design() -> None:
    p = PRESETS["densenet121"]
    space = default_space(p.config, p.input)
    assert space.contains(Design.of(p.config, p.input))
    assert min(space.growth_rates) == 16 and max(space.growth_rates) == 64  # k from half to twice
    assert space.layers[2] == (12, 18, 24, 30, 36)  # block 3's 24 layers from half to one and a half times
    found = sweep(space)
    assert found.presets() == {
        "densenet121": found.presets()["densenet121"],
        "densenet161": found.presets()["densenet161"],
    }
    for c in random.Random(0).sample(found.kept, 10):  # the closed form's numbers are the plan's
        t = make_plan(c.design.config(), c.design.input()).totals
        assert (c.metrics.params, c.metrics.macs, c.metrics.depth) == (t.params, t.macs, t.depth)


def test_the_view_draws_the_kept_designs_and_the_budget_filters_them() -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["view"] = "Design space"
    at.run()
    assert not at.exception and not at.error
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    points = next(t for t in spec["data"] if t["name"] == "designs within the budget")
    everything = len(points["x"])
    assert everything == len(sweep(default_space(PRESETS["densenet121"].config, InputSpec())).kept)
    at.slider(key="ds_max_params").set_value(5.0).run()  # at most 5 M parameters
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    points = next(t for t in spec["data"] if t["name"] == "designs within the budget")
    assert 0 < len(points["x"]) < everything and max(points["x"]) <= 5_000_000
    star = next(t for t in spec["data"] if t["name"] == "your design")
    assert star["x"] == [make_plan(PRESETS["densenet121"].config).totals.params]


def test_a_click_names_a_kept_design() -> None:
    event = {"selection": {"points": [{"curve_number": 0, "point_index": 7, "customdata": 7}]}}
    assert clicked_index(event) == 7
    assert clicked_index({"selection": {"points": [{"curve_number": 3}]}}) is None  # the star: nothing to load
    assert clicked_index(None) is None
    assert clicked_index({"selection": {"points": [{"customdata": [4]}]}}) == 4


def test_loading_a_design_sets_every_control_as_a_link_would() -> None:
    from densviz.ui import state

    p = PRESETS["densenet121"]
    found = sweep(default_space(p.config, p.input), Limits(max_params=3_000_000))
    design = found.kept[-1].design
    session: dict[str, object] = {}
    state.load(session, design.config(), design.input(1), state.CUSTOM)
    assert state.read_config(session) == (design.config(), design.input(1))


def test_the_view_shows_the_papers_results_with_the_design_as_a_line() -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["view"] = "Design space"
    at.query_params["preset"] = "densenet_bc100_k12"
    at.run()
    assert not at.exception and not at.error
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(specs) == 4  # the sweep, then parameters-, MACs- and ImageNet-vs-error
    bc = PRESETS["densenet_bc100_k12"]
    totals = make_plan(bc.config, bc.input).totals
    for spec, size in zip(specs[1:], (totals.params, totals.macs, totals.params), strict=True):
        lines = [s for s in spec["layout"].get("shapes", []) if s.get("type") == "line"]
        assert [s["x0"] for s in lines] == [size]  # the design is a line at its size
        assert all(len(t["x"]) == len(t["y"]) for t in spec["data"] if "x" in t)
    at.segmented_control(key="ds_paper_column").set_value("SVHN").run()
    assert "SVHN" in json.dumps(json.loads(at.get("plotly_chart")[1].proto.spec)["layout"]["yaxis"])


def _click_script() -> None:
    """A click on point 5 of the chart drawn under a 3 M parameter budget, through the view's own callback."""
    import streamlit as st

    from densviz.core.config import PRESETS
    from densviz.core.explore import Limits
    from densviz.ui import design_space

    p = PRESETS["densenet121"]
    st.session_state["design_space_found"] = (
        design_space.default_space(p.config, p.input),
        Limits(max_params=3_000_000),
    )
    st.session_state["design_space_chart"] = {"selection": {"points": [{"customdata": 5}]}}
    design_space._on_click()
    st.write(repr(tuple(st.session_state[f"layers_{b}"] for b in (1, 2, 3, 4))))
    st.write(repr(st.session_state["growth_rate"]))


def test_a_click_loads_the_design_of_the_sweep_the_chart_showed() -> None:
    """The session keeps the shown sweep's space and limits, not the sweep (thousands of objects per session)."""
    p = PRESETS["densenet121"]
    expected = sweep(default_space(p.config, p.input), Limits(max_params=3_000_000)).kept[5].design
    at = AppTest.from_function(_click_script, default_timeout=60).run()
    assert not at.exception
    assert [m.value for m in at.markdown] == [repr(expected.block_config), repr(expected.growth_rate)]


def test_the_view_keeps_no_sweep_in_the_session() -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["view"] = "Design space"
    at.run()
    from densviz.core.explore import Exploration

    state = at.session_state._state._state  # the session's SessionState, every value the page put there
    held = [k for k, v in state.filtered_state.items() if isinstance(v, Exploration)]
    assert "design_space_found" in state.filtered_state
    assert not held, f"sweeps held per session: {held}"
