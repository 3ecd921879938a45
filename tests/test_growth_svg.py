"""The Growth view's charts drawn on the server as SVG, and the view that shows them.

A small network worked out by hand: k = 4, blocks (2, 3), 8 initial features,
θ = 0.5, the CIFAR stem, a 32×32 input. Its modules, in order:

====================  ====  =====  =====
module                in    out    H×W
====================  ====  =====  =====
conv0                 3     8      32
block1 layer1         8     4      32
block1 layer2         12    4      32
transition1           16    8      16     (⌊0.5·16⌋ = 8, H halved)
block2 layer1         8     4      16
block2 layer2         12    4      16
block2 layer3         16    4      16
norm5                 20    20     16
classifier            20    10     —
====================  ====  =====  =====

so the channel chart's bars reach 8; 8+4, 12+4; 8; 8+4, 12+4, 16+4; 20; 10, and
the volume chart's (C×H×W) are 8192; 4096, 4096; 2048; 1024 ×3; 5120.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from densviz.core.architecture import DenseNetConfig, InputSpec
from densviz.core.plan import ArchitecturePlan, make_plan
from densviz.draw.charts.svg_growth import NARROW, VARIANTS, WIDE, channel_growth_svg, spatial_volume_svg
from densviz.draw.palette import HEAD_COLOR, STEM_COLOR, TRANSITION_COLOR
from tests.helpers import APP, plan_of

SVG = "{http://www.w3.org/2000/svg}"
BLOCK1, BLOCK2 = "#4E79A7", "#F28E2B"  # Tableau 10's first two colours
BLOCK1_READ = "#AFC3D7"  # block 1's colour, 55% of the way to white: 0x4E + 0.55·(0xFF − 0x4E) = 0xAF, …


def small_plan(height: int = 32, width: int = 32) -> ArchitecturePlan:
    cfg = DenseNetConfig(
        growth_rate=4, block_config=(2, 3), num_init_features=8, compression=0.5, stem="cifar", num_classes=10
    )
    return make_plan(cfg, InputSpec(batch=1, height=height, width=width))


def parse(svg: str) -> ET.Element:
    """The drawing as XML (it must be well formed to be put in a page)."""
    return ET.fromstring(svg)


def bar_groups(root: ET.Element) -> list[tuple[str, list[dict[str, Any]]]]:
    """Each hover target of the bars: its title and its rectangles (x, y, width, height, fill)."""
    (holder,) = [g for g in root.iter(f"{SVG}g") if g.get("id", "").endswith("dvz-bars")]
    out = []
    for group in holder.findall(f"{SVG}g"):
        title = group.find(f"{SVG}title")
        assert title is not None and title.text
        rects = [
            {k: (float(v) if k != "fill" else v.upper()) for k, v in r.attrib.items()} for r in group.iter(f"{SVG}rect")
        ]
        out.append((title.text, rects))
    return out


def texts(root: ET.Element) -> list[tuple[str, float, float]]:
    """Every text element: its text and its anchor (x, y in px from the top left), given as x and y or a translation."""
    out = []
    for t in root.iter(f"{SVG}text"):
        moved = re.match(r"translate\(([\d.]+) ([\d.]+)\)", t.get("transform", ""))
        x, y = (moved.group(1), moved.group(2)) if moved else (t.get("x", "0"), t.get("y", "0"))
        out.append((t.text or "", float(x), float(y)))
    return out


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_channel_growth_bars_stand_in_proportion_with_the_block_colours(variant: Any) -> None:
    root = parse(channel_growth_svg(small_plan(), variant))
    groups = bar_groups(root)
    assert [title.split("\n")[0] for title, _ in groups] == [
        "features.conv0",
        "features.denseblock1.denselayer1",
        "features.denseblock1.denselayer2",
        "features.transition1",
        "features.denseblock2.denselayer1",
        "features.denseblock2.denselayer2",
        "features.denseblock2.denselayer3",
        "features.norm5",
        "classifier",
    ]
    unit = groups[0][1][0]["height"] / 8  # px per channel: conv0 writes 8
    reads = [8, 12, None, 8, 12, 16]
    for (title, rects), read in zip(groups[1:7], reads, strict=True):
        if read is None:  # the transition: one bar of its 8 output channels
            assert [r["fill"] for r in rects] == [TRANSITION_COLOR]
            assert rects[0]["height"] == pytest.approx(8 * unit, abs=0.15)
            continue
        lower, upper = rects
        assert lower["height"] == pytest.approx(read * unit, abs=0.15), title
        assert upper["height"] == pytest.approx(4 * unit, abs=0.15), title  # k = 4 new maps
        assert upper["y"] + upper["height"] == pytest.approx(lower["y"], abs=0.15), "the new maps sit on the input"
        assert lower["x"] == upper["x"]
    assert [r["fill"] for r in groups[1][1]] == [BLOCK1_READ, BLOCK1]
    assert groups[4][1][1]["fill"] == BLOCK2
    assert groups[0][1][0]["fill"] == STEM_COLOR
    assert [groups[7][1][0]["fill"], groups[8][1][0]["fill"]] == [HEAD_COLOR, HEAD_COLOR]
    assert groups[7][1][0]["height"] == pytest.approx(20 * unit, abs=0.15)
    assert groups[8][1][0]["height"] == pytest.approx(10 * unit, abs=0.15)
    # All bars stand on one baseline, left to right, equally spaced.
    bottoms = {round(rects[0]["y"] + rects[0]["height"], 1) for _, rects in groups}
    assert len(bottoms) == 1
    xs = [rects[0]["x"] for _, rects in groups]
    steps = [b - a for a, b in itertools.pairwise(xs)]
    assert min(steps) > 0 and max(steps) - min(steps) < 0.2


def test_every_bar_says_its_module_and_shape() -> None:
    titles = [title for title, _ in bar_groups(parse(channel_growth_svg(small_plan())))]
    assert titles[2].startswith("features.denseblock1.denselayer2\ndense_layer: 12 → 4 channels\noutput 4×32×32\n")
    assert "features.transition1\ntransition: 16 → 8 channels\noutput 8×16×16" in "\n".join(titles)
    assert any(t.startswith("classifier\nlinear: 20 → 10 channels\noutput 10\n") for t in titles)


def test_the_channel_chart_has_its_notes_axes_bands_and_legend_in_order() -> None:
    root = parse(channel_growth_svg(small_plan(), WIDE))
    found = texts(root)
    words = [t for t, _, _ in found]
    assert "Channel growth" in words
    assert "θ = 0.5" in words and "16 → 8" in words  # the one transition: ⌊0.5·16⌋ = 8
    assert {"channels", "layers in forward order", "B1", "B2", "T1"} <= set(words)
    assert "new maps (k = 4)" in words
    y = {t: yy for t, _, yy in found}
    # Top to bottom: title, block labels, transition tick, axis title, legend: nothing drawn over another.
    assert y["Channel growth"] < y["B1"] < y["T1"] < y["layers in forward order"] < y["new maps (k = 4)"]
    # The subtitle names k.
    assert any("adds k = 4" in t for t in words)
    assert root.get("aria-label", "").startswith("Channel growth")


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_volume_bars_on_a_log_axis(variant: Any) -> None:
    root = parse(spatial_volume_svg(small_plan(), variant))
    groups = bar_groups(root)
    assert [t.split("\n")[0] for t, _ in groups][-1] == "features.norm5"  # the classifier has no H×W
    assert len(groups) == 8
    tops = [rects[0]["y"] for _, rects in groups]
    volumes = [8192, 4096, 4096, 2048, 1024, 1024, 1024, 5120]
    # On a log axis equal ratios are equal distances: 8192 → 4096 → 2048 are one step each, 4096 → 1024 two.
    step = tops[1] - tops[0]
    assert step > 0
    for i, j in ((0, 1), (1, 3), (1, 4), (0, 7)):
        assert tops[j] - tops[i] == pytest.approx(step * math.log2(volumes[i] / volumes[j]), abs=0.3)
    assert "features.transition1\n8×16×16 = 2,048 values per image" in groups[3][0]
    words = {t for t, _, _ in texts(root)}
    assert {"H (pixels)", "values per image", "layers in forward order", "height"} <= words
    assert "width" not in words  # a square input: one line for both


def test_a_non_square_input_draws_the_width_too() -> None:
    words = {t for t, _, _ in texts(parse(spatial_volume_svg(small_plan(height=32, width=48))))}
    assert {"width", "H, W (pixels)"} <= words


def test_the_phone_drawing_is_narrow_and_keeps_every_bar() -> None:
    wide, narrow = parse(channel_growth_svg(small_plan(), WIDE)), parse(channel_growth_svg(small_plan(), NARROW))
    wide_w = float(wide.get("viewBox", "").split()[2])
    narrow_w = float(narrow.get("viewBox", "").split()[2])
    assert narrow_w < 400 < wide_w
    assert len(bar_groups(narrow)) == len(bar_groups(wide)) == 9
    # Its subtitle is wrapped to a phone's width: more lines than the laptop's.
    assert len(texts(narrow)) > len(texts(wide))


def test_the_drawings_can_share_a_page() -> None:
    """Four drawings go into one page: no id may be used twice, every reference must point into its own drawing."""
    plan = plan_of("densenet121")
    svgs = [draw(plan, v) for draw in (channel_growth_svg, spatial_volume_svg) for v in VARIANTS]
    ids = [set(re.findall(r'\bid="([^"]+)"', s)) for s in svgs]
    assert sum(len(i) for i in ids) == len(set().union(*ids))
    for svg, own in zip(svgs, ids, strict=True):
        refs = set(re.findall(r'url\(#([^)]+)\)|href="#([^"]+)"', svg))
        assert {r for pair in refs for r in pair if r} <= own
        assert "<script" not in svg and 'width="' not in svg[: svg.index(">")]  # scales to its column
    assert channel_growth_svg(plan) == svgs[0], "the same chart, the same bytes"


def test_densenet264_on_a_phone_keeps_the_transition_notes_apart() -> None:
    """Its first two transitions are a few px apart on a phone: their notes must not cover each other."""
    root = parse(channel_growth_svg(plan_of("densenet264"), NARROW))
    notes = [(x, y) for t, x, y in texts(root) if t.startswith("θ")]
    assert len(notes) == 3
    font = NARROW.tick_px
    for (x1, y1), (x2, y2) in itertools.pairwise(notes):
        apart_across = abs(x2 - x1) > 6 * font  # "θ = 0.5" is about 7 characters
        apart_up = abs(y2 - y1) > 2.4 * font  # two lines
        assert apart_across or apart_up, (x1, y1, x2, y2)


def _drawings(at: AppTest) -> list[str]:
    """The HTML the Growth view's component puts in the page, one string per component shown."""
    return [
        json.loads(e.proto.json)["html"]
        for e in at.get("bidi_component")
        if e.proto.component_name == "densviz_growth_charts"
    ]


def test_the_growth_view_draws_svg_until_asked_for_the_interactive_charts() -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["preset"] = "densenet121"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.get("plotly_chart") == []
    (html,) = _drawings(at)
    assert html.count("<svg ") == 4  # two charts, each for a laptop and a phone
    assert html.count('class="dvz-wide"') == 2 and html.count('class="dvz-narrow"') == 2
    assert "<script" not in html
    assert at.toggle(key="growth_interactive").value is False

    at.toggle(key="growth_interactive").set_value(True).run()
    assert not at.exception
    charts = at.get("plotly_chart")
    assert len(charts) == 2 and _drawings(at) == []
    specs = [c.proto.spec for c in charts]
    assert "Channel growth" in specs[0] and "Spatial size and activation volume" in specs[1]

    at.toggle(key="growth_interactive").set_value(False).run()
    assert at.get("plotly_chart") == [] and len(_drawings(at)) == 1


def test_the_svg_follows_the_design() -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert "adds k = 32" in _drawings(at)[0]
    at.slider(key="growth_rate").set_value(24).run()
    assert not at.exception
    (html,) = _drawings(at)
    assert "adds k = 24" in html and "adds k = 32" not in html
