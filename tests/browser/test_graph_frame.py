"""The Graph view's pan-and-zoom frame in a real browser, without the Streamlit server.

A real DenseNet-121 drawing from ``dot`` goes through :func:`panzoom_page` into
an ``<iframe srcdoc>`` 760 px high inside a tall page, as Streamlit embeds it,
and Debian's Chromium (via Playwright) scrolls, zooms, drags and swipes it:
the plain wheel and vertical swipes must scroll the page, Ctrl + wheel, the
buttons and a pinch zoom the graph, and a left-to-right graph opens on its
input.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from densviz.core.config import PRESETS
from densviz.core.plan import make_plan
from densviz.draw.options import GraphOptions
from densviz.draw.render import dot_available, draw
from densviz.ui.panzoom import panzoom_page
from tests.browser.server import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
FRAME_HEIGHT = 760
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}

pytestmark = [
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make setup installs it as root)"
    ),
    pytest.mark.skipif(not dot_available(), reason="Graphviz's dot is not installed"),
]

Box = tuple[float, float, float, float]  # x, y, width, height


@pytest.fixture(scope="module")
def svgs() -> dict[str, str]:
    preset = PRESETS["densenet121"]
    plan = make_plan(preset.config, preset.input)
    out = {}
    for direction in ("TB", "LR"):
        image = draw(plan, GraphOptions(detail="chain", direction=direction)).image
        assert image is not None
        out[direction] = image.decode()
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def own_viewbox(svg: str) -> Box:
    m = re.search(r'<svg[^>]*\bviewBox="([^"]+)"', svg)
    assert m, "dot's SVG has a viewBox"
    x, y, w, h = (float(v) for v in m.group(1).split())
    return x, y, w, h


def parent_page(svg: str) -> str:
    """A tall page with the frame near its top, as Streamlit lays out the Graph view."""
    frame = html.escape(panzoom_page(svg), quote=True)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'></head>"
        "<body style='margin:0;font-family:sans-serif'>"
        "<div style='height:120px;padding:8px'>The Graph view's controls</div>"
        f"<iframe title='graph' srcdoc=\"{frame}\" style='display:block;width:100%;height:{FRAME_HEIGHT}px;border:0'>"
        "</iframe>"
        "<div style='height:3000px;background:linear-gradient(#f5f5f5,#bbb)'>More of the page</div>"
        "</body></html>"
    )


class Frame:
    """One tall page holding the frame, with what the tests read off it."""

    def __init__(self, browser: Any, svg: str, phone: bool = False) -> None:
        if phone:
            self.context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=2)
        else:
            self.context = browser.new_context(viewport=DESKTOP)
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.requests: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.set_content(parent_page(svg))
        self.frame = self.page.frame_locator("iframe")
        self.svg = self.frame.locator("#view svg")
        self.svg.wait_for()
        self.child = self.page.frames[1]
        self.child.wait_for_function("document.querySelector('#view svg').getAttribute('viewBox').indexOf('NaN') < 0")
        self.page.wait_for_timeout(200)  # the first layout and the ResizeObserver's first call

    def close(self) -> None:
        self.context.close()

    def viewbox(self) -> Box:
        x, y, w, h = (float(v) for v in str(self.svg.get_attribute("viewBox")).split())
        return x, y, w, h

    def scroll_y(self) -> float:
        return float(self.page.evaluate("window.scrollY"))

    def box(self, selector: str) -> dict[str, float]:
        """A box in the frame, in the page's viewport coordinates."""
        b = self.frame.locator(selector).first.bounding_box()
        assert b is not None, selector
        return dict(b)

    def view_centre(self) -> tuple[float, float]:
        b = self.box("#view")
        return b["x"] + b["width"] / 2, b["y"] + b["height"] / 2

    def wait_viewbox_changed(self, before: Box) -> None:
        self.child.wait_for_function(
            """b => document.querySelector('#view svg').getAttribute('viewBox')
                .split(/[ ,]+/).map(Number).some((v, i) => Math.abs(v - b[i]) > 1e-6)""",
            arg=list(before),
        )

    def svg_point(self, cx: float, cy: float) -> tuple[float, float]:
        """The drawing's point under the viewport point (cx, cy)."""
        x, y, w, h = self.viewbox()
        b = self.box("#view")
        return x + (cx - b["x"]) / b["width"] * w, y + (cy - b["y"]) / b["height"] * h


def touch(cdp: Any, kind: str, points: list[tuple[float, float]]) -> None:
    cdp.send(
        "Input.dispatchTouchEvent",
        {"type": kind, "touchPoints": [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)]},
    )


def drag_touches(cdp: Any, start: list[tuple[float, float]], end: list[tuple[float, float]], steps: int = 12) -> None:
    """Fingers down at ``start``, moved in steps to ``end``, lifted: a real touch gesture."""
    touch(cdp, "touchStart", start)
    for i in range(1, steps + 1):
        t = i / steps
        touch(
            cdp,
            "touchMove",
            [(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t) for (x0, y0), (x1, y1) in zip(start, end, strict=True)],
        )
    touch(cdp, "touchEnd", [])


def assert_covers_home(vb: Box, home: Box) -> None:
    """The view box shows all of the graph, and is no larger than it needs to be."""
    x, y, w, h = vb
    hx, hy, hw, hh = home
    eps = 0.5
    assert x <= hx + eps and y <= hy + eps, (vb, home)
    assert x + w >= hx + hw - eps and y + h >= hy + hh - eps, (vb, home)
    assert math.isclose(w, hw, rel_tol=1e-3) or math.isclose(h, hh, rel_tol=1e-3), (vb, home)


def test_plain_wheel_scrolls_the_page_and_ctrl_wheel_zooms(browser: Any, svgs: dict[str, str]) -> None:
    f = Frame(browser, svgs["TB"])
    try:
        before = f.viewbox()
        f.page.mouse.move(*f.view_centre())
        f.page.mouse.wheel(0, 400)
        f.page.wait_for_function("window.scrollY > 0")
        f.page.wait_for_timeout(300)  # let a smooth scroll settle
        assert f.scroll_y() > 0, "the plain wheel over the frame scrolls the page"
        assert f.viewbox() == before, "and leaves the graph alone"

        # Ctrl + wheel over the frame (where it is now) zooms in about the pointer.
        scrolled = f.scroll_y()
        cx, cy = f.view_centre()
        cx -= 200
        f.page.mouse.move(cx, cy)
        under = f.svg_point(cx, cy)
        f.page.keyboard.down("Control")
        f.page.mouse.wheel(0, -300)
        f.page.keyboard.up("Control")
        f.wait_viewbox_changed(before)
        zoomed = f.viewbox()
        assert zoomed[2] < before[2] and zoomed[3] < before[3], (before, zoomed)
        assert f.svg_point(cx, cy) == pytest.approx(under, abs=1.0), "the point under the pointer stays put"
        f.page.wait_for_timeout(300)
        assert f.scroll_y() == scrolled, "Ctrl + wheel does not scroll the page"
        assert f.page.evaluate("visualViewport.scale") == 1

        # Ctrl + wheel the other way zooms back out.
        f.page.keyboard.down("Control")
        f.page.mouse.wheel(0, 300)
        f.page.keyboard.up("Control")
        f.wait_viewbox_changed(zoomed)
        assert f.viewbox()[2] > zoomed[2]
        assert f.requests == [], "nothing is fetched"
    finally:
        f.close()


def test_buttons_zoom_drag_pans_and_fit_shows_the_whole_graph(browser: Any, svgs: dict[str, str]) -> None:
    f = Frame(browser, svgs["TB"])
    home = own_viewbox(svgs["TB"])
    try:
        start = f.viewbox()
        f.frame.get_by_role("button", name="zoom in").click()
        f.wait_viewbox_changed(start)
        zoomed = f.viewbox()
        assert zoomed[2] < start[2] and zoomed[3] < start[3]
        f.frame.get_by_role("button", name="zoom out").click()
        f.wait_viewbox_changed(zoomed)
        assert f.viewbox()[2] == pytest.approx(start[2])

        # Dragging with the mouse pans, and the page stays where it is.
        before = f.viewbox()
        cx, cy = f.view_centre()
        f.page.mouse.move(cx, cy)
        f.page.mouse.down()
        f.page.mouse.move(cx - 150, cy - 100, steps=8)
        f.page.mouse.up()
        dragged = f.viewbox()
        assert dragged[0] == pytest.approx(before[0] + 150, abs=1) and dragged[1] == pytest.approx(
            before[1] + 100, abs=1
        )
        assert dragged[2:] == before[2:]
        assert f.scroll_y() == 0

        f.frame.get_by_role("button", name="fit the whole graph").click()
        f.wait_viewbox_changed(dragged)
        assert_covers_home(f.viewbox(), home)

        # A double click fits too.
        f.frame.get_by_role("button", name="zoom in").click()
        f.page.wait_for_timeout(100)
        assert f.viewbox()[3] < home[3]
        f.frame.locator("#view").dblclick()
        assert_covers_home(f.viewbox(), home)
    finally:
        f.close()


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_left_to_right_graph_opens_on_its_input(browser: Any, svgs: dict[str, str], viewport: str) -> None:
    f = Frame(browser, svgs["LR"], phone=viewport == "phone")
    hx, hy, hw, hh = own_viewbox(svgs["LR"])
    try:
        x, y, w, h = f.viewbox()
        assert w < hw, "not the whole (very wide) graph squeezed into the frame"
        assert abs(x - hx) <= 4, ("the left end", x, hx)
        assert y + h / 2 == pytest.approx(hy + hh / 2, abs=2), "centred vertically on the graph"
        # The input node is on screen, inside the drawing area.
        node = f.box("g.node:has(> title:text-is('input'))")
        view = f.box("#view")
        assert view["x"] <= node["x"] and node["x"] + node["width"] <= view["x"] + view["width"]
        assert view["y"] <= node["y"] and node["y"] + node["height"] <= view["y"] + view["height"]
    finally:
        f.close()


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_top_to_bottom_graph_opens_at_its_top(browser: Any, svgs: dict[str, str], viewport: str) -> None:
    f = Frame(browser, svgs["TB"], phone=viewport == "phone")
    hx, hy, hw, _hh = own_viewbox(svgs["TB"])
    try:
        x, y, w, _h = f.viewbox()
        assert abs(y - hy) <= 4, "the top"
        assert x + w / 2 == pytest.approx(hx + hw / 2, abs=2), "centred horizontally"
        node = f.box("g.node:has(> title:text-is('input'))")
        view = f.box("#view")
        assert view["y"] <= node["y"] and node["y"] + node["height"] <= view["y"] + view["height"]
        assert view["x"] <= node["x"] and node["x"] + node["width"] <= view["x"] + view["width"]
    finally:
        f.close()


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_toolbar_takes_its_own_space_and_screenshots(browser: Any, svgs: dict[str, str], viewport: str) -> None:
    f = Frame(browser, svgs["TB"], phone=viewport == "phone")
    try:
        bar, view = f.box("#bar"), f.box("#view")
        assert bar["y"] + bar["height"] <= view["y"] + 0.5, ("the toolbar sits above the drawing", bar, view)
        assert view["height"] >= FRAME_HEIGHT - 80, "and leaves it most of the frame"
        for name in ("zoom in", "zoom out", "fit the whole graph"):
            b = f.frame.get_by_role("button", name=name).bounding_box()
            assert b is not None and b["y"] + b["height"] <= view["y"], name
        hint = f.frame.locator("#hint")
        assert hint.is_visible()
        if viewport == "desktop":
            assert hint.inner_text() == "Ctrl + wheel or +/−: zoom · drag: pan · fit: the whole graph"
        f.page.wait_for_timeout(300)
        ARTIFACTS.mkdir(exist_ok=True)
        width = DESKTOP["width"] if viewport == "desktop" else PHONE["width"]
        f.page.screenshot(path=str(ARTIFACTS / f"graph-frame-{width}.png"))
        assert f.requests == [], "nothing is fetched"
    finally:
        f.close()


def test_a_left_to_right_screenshot(browser: Any, svgs: dict[str, str]) -> None:
    f = Frame(browser, svgs["LR"])
    try:
        ARTIFACTS.mkdir(exist_ok=True)
        f.page.screenshot(path=str(ARTIFACTS / "graph-frame-1440-lr.png"))
        assert f.requests == []
    finally:
        f.close()


def test_on_a_phone_swipes_scroll_the_page_and_a_pinch_zooms(browser: Any, svgs: dict[str, str]) -> None:
    f = Frame(browser, svgs["TB"], phone=True)
    try:
        view = f.frame.locator("#view")
        assert view.evaluate("e => getComputedStyle(e).touchAction") in ("pan-y", "pan-x pan-y", "manipulation")
        cdp = f.context.new_cdp_session(f.page)
        cx, cy = f.view_centre()

        # A sideways swipe pans the graph (sideways only); the page stays put.
        before = f.viewbox()
        drag_touches(cdp, [(cx + 100, cy)], [(cx - 100, cy)])
        f.wait_viewbox_changed(before)
        swiped = f.viewbox()
        assert swiped[0] > before[0] and swiped[1:] == before[1:]
        assert f.scroll_y() == 0

        # Two fingers pinching apart zoom the graph, not the page.
        drag_touches(cdp, [(cx - 50, cy), (cx + 50, cy)], [(cx - 120, cy), (cx + 120, cy)])
        f.wait_viewbox_changed(swiped)
        pinched = f.viewbox()
        assert pinched[2] < swiped[2] * 0.6, (swiped, pinched)
        assert f.page.evaluate("visualViewport.scale") == 1
        assert f.scroll_y() == 0

        # A vertical swipe over the frame scrolls the page and leaves the graph alone.
        drag_touches(cdp, [(cx, cy + 200)], [(cx, cy - 200)])
        f.page.wait_for_function("window.scrollY > 0")
        f.page.wait_for_timeout(300)
        assert f.viewbox() == pinched
        assert f.requests == []
    finally:
        f.close()
