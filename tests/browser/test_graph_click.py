"""The Graph view in a real Chromium: click a node and read its panel, hover it, search, link it, follow it.

DenseNet-121's layer 7 of block 2 reads the block input's 128 channels and the
32 of each of its 6 earlier layers: 320 channels; it has BN 2·320 + conv1
320·128 + BN 2·128 + conv2 128·32·9 = 640 + 40,960 + 256 + 36,864 = 78,720
parameters (worked by hand, not read from the plan).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from densviz.draw.render import dot_available
from tests.browser import server as helper

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
LAYER = "features.denseblock2.denselayer7"
READS = ["features.transition1", *(f"features.denseblock2.denselayer{i}" for i in range(1, 7))]
INPUT_BLUE = "rgb(37, 99, 235)"  # graph_canvas.INPUT_COLOR, as the browser computes it

pytestmark = [
    pytest.mark.skipif(
        not Path(helper.CHROMIUM).exists(), reason="Debian's chromium is not installed (make setup installs it as root)"
    ),
    pytest.mark.skipif(not dot_available(), reason="Graphviz's dot is not installed"),
]


def node(page: Any, name: str) -> Any:
    """A node (or cluster) of the drawing: its SVG element carries the module path as its id."""
    return page.locator(f'[id="{name}"]')


def view_box(page: Any) -> dict[str, float]:
    box = page.locator(".dvz #view").bounding_box()
    assert box is not None
    return dict(box)


def centre_of(page: Any, name: str) -> tuple[float, float]:
    box = node(page, name).bounding_box()
    assert box is not None, name
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def bring_into_view(page: Any, name: str) -> tuple[float, float]:
    """Drag the drawing, as a reader would, until the node's centre is inside it; returns that point."""
    page.locator(".dvz").scroll_into_view_if_needed()
    for _ in range(20):
        v = view_box(page)
        x, y = centre_of(page, name)
        inside = v["x"] + 20 < x < v["x"] + v["width"] - 20 and v["y"] + 20 < y < v["y"] + v["height"] - 20
        if inside:
            return x, y
        cx, cy = v["x"] + v["width"] / 2, v["y"] + v["height"] / 2
        dx = max(-300.0, min(300.0, cx - x))
        dy = max(-300.0, min(300.0, cy - y))
        page.mouse.move(cx, cy)
        page.mouse.down()
        page.mouse.move(cx + dx, cy + dy, steps=6)
        page.mouse.up()
        page.wait_for_timeout(100)
    raise AssertionError(f"{name} could not be dragged into view")


def panel(page: Any) -> Any:
    return page.locator(".st-key-graph_panel")


def assert_panel_of_layer_7(page: Any) -> None:
    from playwright.sync_api import expect

    box = panel(page)
    expect(box.get_by_text("denselayer7", exact=True)).to_be_visible()
    expect(box).to_contain_text("Channels in: 320 = 128 (block input: transition1) + 6 × 32 (denselayer1–6)")
    expect(box).to_contain_text("Parameters: 78,720")
    expect(box).to_contain_text("H×W in → out: 28×28 → 28×28")


def assert_centred(page: Any, name: str) -> None:
    page.wait_for_timeout(300)
    v = view_box(page)
    x, y = centre_of(page, name)
    assert abs(x - (v["x"] + v["width"] / 2)) < 40 and abs(y - (v["y"] + v["height"] / 2)) < 40, (name, v, x, y)


@pytest.mark.slow  # about a minute of Chromium: the slow suite (CI runs it too)
def test_click_hover_search_link_and_follow(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=helper.CHROMIUM, args=helper.CHROMIUM_ARGS)
        page = browser.new_page(viewport=DESKTOP)
        page.set_default_timeout(60_000)
        expect.set_options(timeout=60_000)
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{server}/?preset=densenet121&view=Graph")
        expect(node(page, LAYER)).to_have_count(1)
        expect(panel(page)).to_contain_text("Click a node")

        # Hover: the card gives the shapes and the parameters.
        x, y = bring_into_view(page, LAYER)
        page.mouse.move(x, y)
        tip = page.locator(".dvz #tip")
        expect(tip).to_be_visible()
        expect(tip).to_contain_text("in 320×28×28 → out 32×28×28")
        expect(tip).to_contain_text("78,720 parameters")

        # Click: its panel, and what it reads marked in the drawing.
        page.mouse.click(x, y)
        assert_panel_of_layer_7(page)
        expect(node(page, LAYER)).to_have_class(re.compile(r"\bdvz-sel\b"))
        for name in READS:
            expect(node(page, name)).to_have_class(re.compile(r"\bdvz-in\b"))
        stroke = (
            node(page, "features.transition1")
            .locator("path, polygon")
            .first.evaluate("e => getComputedStyle(e).stroke")
        )
        assert stroke == INPUT_BLUE
        expect(node(page, "features.denseblock2.denselayer8")).to_have_class(re.compile(r"\bdvz-out\b"))
        expect(node(page, "features.denseblock2.denselayer9")).not_to_have_class(re.compile(r"\bdvz-in\b"))
        edges_in = page.locator("g.edge.dvz-edge-in")
        expect(edges_in).to_have_count(len(READS))
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / "graph-click-1440.png"))

        # Search: transition3 is selected and centred.
        box = page.get_by_role("textbox", name="Find a layer")
        box.fill("transition3")
        box.press("Enter")
        expect(panel(page).get_by_text("transition3", exact=True)).to_be_visible()
        expect(node(page, "features.transition3")).to_have_class(re.compile(r"\bdvz-sel\b"))
        expect(node(page, LAYER)).not_to_have_class(re.compile(r"\bdvz-sel\b"))
        assert_centred(page, "features.transition3")

        # A search that finds nothing says so, with the forms allowed; the selection stays.
        box.fill("block 9 layer 1")
        box.press("Enter")
        expect(page.get_by_text("This network has 4 dense blocks; there is no block 9.")).to_be_visible()
        expect(
            page.get_by_text(re.compile(r"Search by a name or a number: denselayer7, block 3 layer 12"))
        ).to_be_visible()
        expect(node(page, "features.transition3")).to_have_class(re.compile(r"\bdvz-sel\b"))

        # An elided node draws its block in full when clicked.
        elided = "features.denseblock3.denselayer4-21"
        page.get_by_role("button", name="fit the whole graph").click()
        page.mouse.click(*bring_into_view(page, elided))
        expect(page.get_by_text(re.compile("Dense block 3 drawn alone with all 24 layers"))).to_be_visible()
        expect(node(page, "features.denseblock3.denselayer12")).to_have_count(1)
        expect(node(page, elided)).to_have_count(0)
        expect(page).to_have_url(re.compile(r"[?&]focus=3(&|$)"))

        # The link with node= opens on the same panel, the layer centred.
        page.goto(f"{server}/?preset=densenet121&view=Graph&node={LAYER}")
        assert_panel_of_layer_7(page)
        expect(node(page, LAYER)).to_have_class(re.compile(r"\bdvz-sel\b"))
        page.locator(".dvz").scroll_into_view_if_needed()
        assert_centred(page, LAYER)

        # The panel's link: the Forward pass view, its explorer on this module.
        page.get_by_role("button", name="Feature maps of this layer").click()
        expect(page).to_have_url(re.compile(r"[?&]view=Forward\+pass(&|$)"))
        expect(page.get_by_role("radio", name="Forward pass", exact=True)).to_be_checked()
        layer_box = page.get_by_role("combobox", name="Layer", exact=True)
        if layer_box.count() == 0:  # the explorer shows after a run
            page.locator(".st-key-forward_run button").click()  # the view's Run button
        expect(layer_box).to_have_value(LAYER, timeout=180_000)
        outside = [r for r in requests if not r.startswith((server, f"blob:{server}", "data:"))]
        assert outside == [], "nothing is fetched from elsewhere"
        browser.close()


def test_on_a_phone_the_panel_sits_under_the_drawing(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=helper.CHROMIUM, args=helper.CHROMIUM_ARGS)
        context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=2)
        page = context.new_page()
        page.set_default_timeout(60_000)
        expect.set_options(timeout=60_000)
        page.goto(f"{server}/?preset=densenet121&view=Graph&node={LAYER}")
        assert_panel_of_layer_7(page)
        drawing = page.locator(".dvz").bounding_box()
        box = panel(page).bounding_box()
        assert drawing is not None and box is not None
        assert box["y"] >= drawing["y"] + drawing["height"] - 1, "the panel comes under the drawing"
        assert box["x"] + box["width"] <= PHONE["width"] + 1 and drawing["x"] + drawing["width"] <= PHONE["width"] + 1

        # A tap selects another layer.
        page.locator(".dvz").scroll_into_view_if_needed()
        x, y = centre_of(page, "features.denseblock2.denselayer8")
        page.touchscreen.tap(x, y)
        expect(panel(page).get_by_text("denselayer8", exact=True)).to_be_visible()
        expect(panel(page)).to_contain_text("Channels in: 352 = 128 (block input: transition1) + 7 × 32")
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / "graph-click-390.png"))
        panel(page).scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / "graph-click-390-panel.png"))
        context.close()
        browser.close()
