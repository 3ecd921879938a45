"""The headline's changes point the way the numbers moved, in the colour of the news."""

from __future__ import annotations

from pathlib import Path

from streamlit.proto.Metric_pb2 import Metric as MetricProto
from streamlit.testing.v1 import AppTest

from densviz.core.config import PRESETS
from densviz.core.plan import make_plan

APP = str(Path(__file__).resolve().parents[1] / "app.py")
UP, DOWN = MetricProto.MetricDirection.UP, MetricProto.MetricDirection.DOWN
GREEN, RED, GRAY = MetricProto.MetricColor.GREEN, MetricProto.MetricColor.RED, MetricProto.MetricColor.GRAY


def arrows(at: AppTest) -> dict[str, tuple[int, int]]:
    return {m.label: (m.proto.direction, m.proto.color) for m in at.metric}


def totals(name: str) -> dict[str, int]:
    t = make_plan(PRESETS[name].config, PRESETS[name].input).totals
    return {
        "Parameters": t.params,
        "MACs per image": t.macs,
        "Depth L": t.depth,
        "Final channels": t.final_channels,
        "Activations": t.activation_bytes,
    }


def test_every_headline_metric_points_the_way_its_number_moved() -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["preset"] = "densenet264"
    at.run()
    at.selectbox(key="preset").set_value("densenet_bc250_k24").run()
    before, after = totals("densenet264"), totals("densenet_bc250_k24")
    seen = arrows(at)
    assert set(seen) == set(before)
    for label in before:
        assert after[label] != before[label], label  # every number moves between these two
        direction, color = seen[label]
        assert direction == (UP if after[label] > before[label] else DOWN), label
        if label in ("Depth L", "Final channels"):
            assert color == GRAY, label
        else:  # fewer parameters, MACs or bytes is good news
            assert color == (GREEN if after[label] < before[label] else RED), label
    assert seen["Parameters"] == (DOWN, GREEN)  # 33.3 M -> 15.3 M
    assert seen["Final channels"][0] == DOWN
    at.selectbox(key="preset").set_value("densenet264").run()  # and back: every arrow turns
    for label, (direction, _color) in arrows(at).items():
        assert direction == (UP if before[label] > after[label] else DOWN), label
    assert arrows(at)["Parameters"] == (UP, RED)


def test_the_equations_are_drawn_only_when_opened() -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.latex  # the math typesetter is not needed for the first screen
    at.session_state["explain"] = True
    at.run()
    assert len(at.latex) >= 4
    text = " ".join(m.value for m in at.markdown)
    assert "$H_\\ell$ adds **k = 32**" in text and "H_ℓ" not in text  # math, not a literal underscore
