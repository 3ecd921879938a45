"""The Graph view's settings travel in the link: reopening it gives exactly that drawing."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.helpers import start_app

APP = str(Path(__file__).resolve().parents[1] / "app.py")


start = start_app


def dot_source(at: AppTest) -> str:
    return next(c.value for c in at.code if "digraph" in c.value)


def test_a_link_reopens_exactly_that_drawing() -> None:
    at = start(
        {"preset": "densenet121", "view": "Graph", "detail": "chain", "focus": "2", "direction": "LR", "show_cost": "1"}
    )
    assert not at.warning, [w.value for w in at.warning]
    state = at.session_state
    assert (state["graph_detail"], state["graph_block"], state["graph_direction"], state["graph_cost"]) == (
        "chain",
        2,
        "LR",
        True,
    )
    dot = dot_source(at)
    assert "rankdir=LR" in dot
    assert "denseblock2" in dot and "denseblock3" not in dot and "denseblock1.denselayer1" not in dot
    assert "concat" in dot  # the running concatenation, not every edge
    link = {k: at.query_params[k] for k in ("detail", "focus", "direction", "show_cost")}
    assert link == {"detail": "chain", "focus": "2", "direction": "LR", "show_cost": "1"}  # and it stays in the link


def test_default_graph_settings_keep_the_link_short() -> None:
    at = start({"preset": "tiny", "view": "Graph"})
    assert not {"detail", "focus", "direction", "show_cost", "max_full_layers"} & set(at.query_params)


def test_bad_graph_settings_in_a_link_warn_and_fall_back() -> None:
    at = start({"preset": "tiny", "view": "Graph", "detail": "hairball", "focus": "9", "max_full_layers": "0"})
    warnings = " ".join(w.value for w in at.warning)
    assert "detail must be one of dense, chain, overview" in warnings
    assert "focus must be a block number from 1 to 3, or all" in warnings
    assert "max_full_layers must be an integer from 1 to 24" in warnings
    assert at.session_state["graph_detail"] == "dense"
    assert at.session_state["graph_block"] is None


def test_the_config_uploads_message_sits_under_the_uploader() -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["preset"] = "tiny"
    at.query_params["view"] = "Export"
    at.run()
    at.session_state["_upload_error"] = "bad.json was not loaded: growth_rate must be an integer from 1 to 128; got 0."
    at.run()
    main = [type(e).__name__ for e in at.main]
    assert main[-2:] == ["FileUploader", "Error"], main  # right under the uploader, not at the top of the page
    assert at.error[-1].value.startswith("bad.json was not loaded")
