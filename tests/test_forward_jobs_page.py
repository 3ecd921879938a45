"""The Forward pass view's CAM row, feature maps and Profile panel are made on workers, not in the page's process.

AppTest runs the page's script in this process; here the functions that
compute them raise, so a page that computed them itself would show an error.
The workers are other processes (started by the fork server, which imports
densviz afresh), where the real functions run.
"""

from __future__ import annotations

from typing import Any, NoReturn

import pytest
from streamlit.testing.v1 import AppTest

from densviz.jobs import analysis
from densviz.run import cam, features, profile
from tests.helpers import start_app as start


def image_captions(at: AppTest) -> list[str]:
    return [i.caption for image in at.get("image") for i in image.proto.imgs]


def not_here(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise AssertionError("computed in the page's process; it must run on a worker")


@pytest.fixture
def nothing_heavy_here(monkeypatch: pytest.MonkeyPatch) -> None:
    for module, name in (
        (cam, "cam_rows"),
        (analysis, "cam_rows"),
        (features, "capture_feature_maps"),
        (analysis, "capture_feature_maps"),
        (profile, "profile_forward"),
        (analysis, "profile_forward"),
    ):
        monkeypatch.setattr(module, name, not_here)


@pytest.mark.usefixtures("nothing_heavy_here")
def test_the_cam_row_and_the_feature_maps_come_from_workers() -> None:
    at = start({"preset": "tiny", "view": "Forward pass"})
    at.button(key="forward_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    headline = next(m.value for m in at.markdown if m.value.startswith("**Grad-CAM**"))
    assert "the predicted class" in headline
    links = [b.label for b in at.button if (b.key or "").startswith("forward_cam_link_")]
    assert links == ["block 1 ↗", "transition 1 ↗", "block 2 ↗", "transition 2 ↗", "block 3 ↗"]
    # the explorer's default, block 1's second layer: it reads 16 + 8 maps and adds k = 8
    captions = image_captions(at)
    assert any(c.startswith("reused: the 24 maps it reads") for c in captions), captions
    assert "new: its k = 8 maps, appended to the concatenation" in captions
    at.selectbox(key="forward_layer").set_value("features.transition1").run()
    assert not at.exception and not at.error
    assert "features.transition1: 16 maps of 16×16 (first 64), each scaled to its own range" in image_captions(at)
    assert "model" not in at.session_state["forward"]  # the server holds the run's weights, not a network


@pytest.mark.usefixtures("nothing_heavy_here", "quick_roofs")
def test_the_profile_comes_from_a_worker() -> None:
    at = start({"preset": "tiny", "view": "Forward pass"})
    at.number_input(key="forward_batch").set_value(2).run()
    at.segmented_control(key="forward_mode").set_value("profile").run()
    at.button(key="profile_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert len(at.get("plotly_chart")) == 2  # the roofline and the time shares
    assert at.status[0].label == "Profiling: done"
    assert any(c.value.startswith("Profiled: cpu · fp32") for c in at.caption)
