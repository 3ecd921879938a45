"""The Forward pass view's CAM row and feature maps through Streamlit's AppTest: where each block looks for the
predicted or a chosen class, and the links between the maps and the Graph view."""

from __future__ import annotations

import re

import pytest

from tests.forward_page import cam_headline, headline_parts, ran
from tests.helpers import start_app as start


def percent(text: str) -> float:
    return float(text.rstrip("%"))


def test_the_cam_row_explains_the_predicted_or_a_chosen_class_block_by_block() -> None:
    at = ran(start({"preset": "tiny", "view": "Forward pass"}))
    top5 = at.dataframe[0].value
    best, p_best = int(top5["class"][0]), percent(top5["probability"][0])
    said, p_said = headline_parts(at)
    assert said == f"**Grad-CAM** of class {best}, the predicted class" and abs(p_said - p_best) <= 0.051
    # tiny has 3 blocks: block 1, transition 1, block 2, transition 2, block 3, each with a link to the Graph view
    links = [b.label for b in at.button if (b.key or "").startswith("forward_cam_link_")]
    assert links == ["block 1 ↗", "transition 1 ↗", "block 2 ↗", "transition 2 ↗", "block 3 ↗"]
    sizes = [c.value for c in at.caption if c.value.endswith("map") or " map: " in c.value]
    assert [s.split(" ")[0] for s in sizes] == ["32×32", "16×16", "16×16", "8×8", "8×8"]  # tiny's CIFAR stem, 32²
    assert any(c.value == "input 32×32" for c in at.caption)
    assert any("these maps show the wiring, not anything learned" in c.value for c in at.caption)

    at.segmented_control(key="forward_cam_method").set_value("gradxact").run()
    assert headline_parts(at)[0] == f"**Gradient × activation** of class {best}, the predicted class"
    other, p_other = int(top5["class"][1]), percent(top5["probability"][1])
    at.selectbox(key="forward_cam_target").set_value(other).run()
    said = cam_headline(at)
    match = re.fullmatch(
        rf"\*\*Gradient × activation\*\* of class {other} \((.+)%\); the network predicts class {best} \((.+)%\)", said
    )
    assert match, said
    assert abs(float(match.group(1)) - p_other) <= 0.051 and abs(float(match.group(2)) - p_best) <= 0.051
    assert not at.exception and not at.error


def test_a_cam_panel_and_a_feature_map_open_the_graph_view_on_their_module() -> None:
    at = ran(start({"preset": "tiny", "view": "Forward pass"}))
    at.button(key="forward_cam_link_features.transition1").click().run()
    assert at.session_state["view"] == "Graph" and at.session_state["node"] == "features.transition1"
    assert not at.exception, [e.value for e in at.exception]

    at = ran(start({"preset": "tiny", "view": "Forward pass"}))
    at.selectbox(key="forward_layer").set_value("features.denseblock2.denselayer1").run()
    at.button(key="forward_layer_link").click().run()
    assert at.session_state["view"] == "Graph" and at.session_state["node"] == "features.denseblock2.denselayer1"


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ("features.denseblock2.denselayer2", "features.denseblock2.denselayer2"),
        ("features.denseblock2.denselayer2.conv1", "features.denseblock2.denselayer2"),  # inside a dense layer
        ("features.norm5", "features.norm5"),  # a module the list lacks is added in its place
    ],
)
def test_a_module_sent_from_the_graph_view_is_shown_by_the_explorer(sent: str, shown: str) -> None:
    at = start({"preset": "tiny", "view": "Graph"})
    at.session_state["forward_layer"] = sent  # what the Graph view's "Feature maps of this layer" sets
    at.session_state["view"] = "Forward pass"
    at.run()
    assert f"Press Run to see the feature maps of {shown}." in [i.value for i in at.info]
    ran(at)
    layer = at.selectbox(key="forward_layer")
    assert layer.value == shown
    if shown == "features.norm5":
        assert layer.options[-2:] == ["features.denseblock3", "features.norm5"]  # after the last block's output
    assert not at.exception


def test_the_classifier_sent_from_the_graph_view_is_said_to_have_no_maps() -> None:
    at = ran(start({"preset": "tiny", "view": "Forward pass"}))
    at.segmented_control(key="view").set_value("Graph").run()
    at.session_state["forward_layer"] = "classifier"  # what the Graph view's "Feature maps of this layer" would set
    at.session_state["view"] = "Forward pass"
    at.run()
    assert any(c.value.startswith("classifier has no feature maps to show") for c in at.caption)
    assert at.selectbox(key="forward_layer").value == "features.denseblock1.denselayer2"  # the explorer's default
