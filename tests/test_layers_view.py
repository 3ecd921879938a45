"""The Layers view: parameters and MACs per layer as a chart, and a table without raw gaps."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def test_the_layers_view_shows_the_per_layer_cost_chart_and_no_raw_none() -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["preset"] = "densenet121"
    at.query_params["view"] = "Layers"
    at.run()
    assert not at.exception
    charts = at.get("plotly_chart")
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in charts]
    assert any("MACs" in t and "arameters" in t for t in titles), titles
    frames = at.dataframe
    assert len(frames) == 2
    for frame in frames:
        df = frame.value
        assert not df.isna().any().any(), df.columns[df.isna().any()].tolist()  # no cell reads "None"
    blocks = frames[1].value
    assert blocks["C after transition"].tolist() == ["128", "256", "512", "-"]  # the last block has none
    layers = frames[0].value
    assert layers.columns[0] == "layer" and layers["params"].dtype.kind == "i"  # numbers stay numbers: they sort
