"""Every view on a laptop (1440×900) and on a phone (390×844), in a real Chromium.

Walks every view and asserts what a user would see: nothing wider than the
screen, the view selector on the first screen of a phone, headline metrics and
chart titles clear of each other, the wheel over the graph scrolling the page
and Ctrl + wheel zooming it. Screenshots of every view at both sizes go to
``artifacts/`` (git-ignored) to be looked at.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser import server as helper
from tests.helpers import VIEWS

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
SIZES = {"laptop": (1440, 900), "phone": (390, 844)}

pytestmark = pytest.mark.skipif(
    not Path(helper.CHROMIUM).exists(), reason="Debian's chromium is not installed (make setup installs it as root)"
)

# Boxes of elements, in page coordinates.
_BOXES = """sel => Array.from(document.querySelectorAll(sel)).map(e => {
  const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom];
}).filter(b => b[2] - b[0] > 0 && b[3] - b[1] > 0)"""
# The widest thing on the page against the viewport: the app scrolls inside stMain.
_OVERFLOW = """() => {
  const main = document.querySelector('[data-testid="stMain"]') || document.documentElement;
  return [main.scrollWidth, main.clientWidth, document.documentElement.scrollWidth, window.innerWidth];
}"""
# Scroll the app so that the view selector is at the top of the screen.
_SHOW_VIEW = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const sel = [...document.querySelectorAll('[data-testid="stButtonGroup"]')].find(g => g.textContent.includes('Feature reuse'));
  if (main && sel) { main.scrollTop += sel.getBoundingClientRect().top - 8; }
}"""
# Chart titles against their own legends, axis titles and block labels (plotly's SVG).
_CHART_CLASHES = """() => {
  const clashes = [];
  const box = e => e.getBoundingClientRect();
  const hit = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
  document.querySelectorAll('.js-plotly-plot').forEach((plot, i) => {
    const title = plot.querySelector('.gtitle');
    if (!title) return;
    const others = [...plot.querySelectorAll('.legend, .xtitle, .ytitle, .y2title, .annotation')];
    others.forEach(o => { if (hit(box(title), box(o))) clashes.push([i, title.textContent, o.getAttribute('class')]); });
  });
  return clashes;
}"""


def overlaps(boxes: list[list[float]]) -> list[tuple[int, int]]:
    """Pairs of boxes that overlap by more than a pixel."""
    out = []
    for i, a in enumerate(boxes):
        for j, b in enumerate(boxes[i + 1 :], start=i + 1):
            if a[0] < b[2] - 1 and b[0] < a[2] - 1 and a[1] < b[3] - 1 and b[1] < a[3] - 1:
                out.append((i, j))
    return out


def _open(p: Any, size: str) -> Any:
    width, height = SIZES[size]
    browser = p.chromium.launch(executable_path=helper.CHROMIUM, args=helper.CHROMIUM_ARGS)
    phone = size == "phone"
    page = browser.new_page(
        viewport={"width": width, "height": height}, is_mobile=phone, has_touch=phone, device_scale_factor=1
    )
    page.set_default_timeout(60_000)
    return browser, page


def _settle(page: Any) -> None:
    """Wait until the script run ended and the page stopped changing."""
    page.wait_for_function(
        '() => !document.querySelector(\'[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]\')'
    )
    page.wait_for_timeout(700)


@pytest.mark.slow  # two full walks of every view (about 45 s): `make test-slow` and CI run them
@pytest.mark.parametrize("size", list(SIZES))
def test_every_view_fits_the_screen(server: str, size: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser, page = _open(p, size)
        page.goto(f"{server}/?preset=densenet121")
        expect(page.get_by_test_id("stMetricValue").first).to_have_text("7.98 M")
        _settle(page)
        title, header = page.evaluate(_BOXES, '[data-testid="stMain"] h1')[0], page.evaluate(_BOXES, "header")[0]
        assert title[1] >= header[3] - 1, f"the title starts under the header: {title} against {header}"
        selector = page.get_by_role("radio", name="Growth", exact=True)
        box = selector.bounding_box()
        assert box is not None and box["y"] + box["height"] <= SIZES[size][1], "view selector below the first screen"
        metrics = page.evaluate(_BOXES, '[data-testid="stMetric"]')
        assert len(metrics) == 5 and overlaps(metrics) == [], metrics
        problems: dict[str, Any] = {}
        for view in VIEWS:
            page.get_by_role("radio", name=view, exact=True).click()
            _settle(page)
            main_w, main_client, doc_w, inner = page.evaluate(_OVERFLOW)
            if main_w > main_client + 1 or doc_w > inner + 1:
                problems[f"{view}: wider than the screen"] = (main_w, main_client, doc_w, inner)
            clashes = page.evaluate(_CHART_CLASHES)
            if clashes:
                problems[f"{view}: chart title clashes"] = clashes
            name = re.sub(r"\W+", "-", view.lower())
            page.screenshot(path=str(ARTIFACTS / f"view-{name}-{SIZES[size][0]}.png"))
            page.evaluate(_SHOW_VIEW)  # and the view itself, from the selector down
            page.wait_for_timeout(300)
            page.screenshot(path=str(ARTIFACTS / f"view-{name}-{SIZES[size][0]}-content.png"))
        browser.close()
    assert problems == {}


def _brightness(page: Any, box: dict[str, float]) -> float:
    """Mean grey level (0-255) of a region of the screen, as a user sees it."""
    import io

    from PIL import Image, ImageStat

    shot = page.screenshot(clip=box)
    return float(ImageStat.Stat(Image.open(io.BytesIO(shot)).convert("L")).mean[0])


def test_the_phone_drawer_starts_closed_and_lets_the_user_go(server: str) -> None:
    """On a phone the settings drawer starts closed, says what it holds, leaves part of the page in view
    (dimmed), fits its controls, and closes from a thumb-sized button or a tap on the page."""
    from playwright.sync_api import expect, sync_playwright

    width, height = SIZES["phone"]
    with sync_playwright() as p:
        browser, page = _open(p, "phone")
        page.goto(f"{server}/?preset=densenet121")
        number = page.get_by_test_id("stMetricValue").first
        expect(number).to_have_text("7.98 M")
        _settle(page)
        drawer = page.get_by_test_id("stSidebar")
        closed = drawer.bounding_box()
        assert closed is not None and closed["x"] + closed["width"] <= 0, f"the drawer starts open: {closed}"
        opener = page.get_by_test_id("stExpandSidebarButton")
        label = page.evaluate(
            "() => getComputedStyle(document.querySelector('[data-testid=\"stExpandSidebarButton\"]'), '::after').content"
        )
        assert "Settings" in label, f"the button that opens the drawer does not say what it holds: {label}"
        shown = {"x": width * 0.8, "y": height * 0.3, "width": width * 0.2, "height": height * 0.4}
        before = _brightness(page, shown)

        opener.tap()
        page.wait_for_timeout(800)  # the drawer slides in
        box = drawer.bounding_box()
        assert box is not None and box["x"] >= -1
        assert box["x"] + box["width"] <= 0.75 * width, f"the open drawer covers more than three quarters: {box}"
        overflow = page.evaluate(
            "() => { const c = document.querySelector('[data-testid=\"stSidebarContent\"]'); return [c.scrollWidth, c.clientWidth]; }"
        )
        assert overflow[0] <= overflow[1] + 1, f"the drawer's controls are wider than the drawer: {overflow}"
        assert _brightness(page, shown) < before - 30, "the page beside the open drawer is not dimmed"
        close = page.get_by_test_id("stSidebarCollapseButton").locator("button")
        close_box = close.bounding_box()
        assert close_box is not None and close.is_visible()
        assert close_box["x"] >= 0 and close_box["x"] + close_box["width"] <= width and close_box["y"] >= 0
        assert close_box["width"] >= 44 and close_box["height"] >= 44, (
            f"the close button is under a thumb's size: {close_box}"
        )

        page.touchscreen.tap(width - 20, height / 2)  # on the dimmed page
        page.wait_for_timeout(800)
        box = drawer.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 0, "a tap on the page did not close the drawer"
        assert abs(_brightness(page, shown) - before) < 10, "the page stays dimmed after the drawer closed"

        opener.tap()
        page.wait_for_timeout(800)
        close.tap()
        page.wait_for_timeout(800)
        box = drawer.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 0, "the close button did not close the drawer"
        browser.close()


def test_the_wheel_scrolls_the_page_and_ctrl_wheel_zooms_the_graph(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser, page = _open(p, "laptop")
        page.goto(f"{server}/?preset=densenet121&view=Graph&detail=chain")
        # The drawing lives in the page (a component's shadow root, which locators pierce).
        graph = page.locator("#view").first
        expect(graph.locator("svg g.node").first).to_be_visible(timeout=60_000)
        _settle(page)
        graph.scroll_into_view_if_needed()
        box = graph.bounding_box()
        assert box is not None
        svg = graph.locator("svg").first
        view_box = svg.get_attribute("viewBox")
        scrolled = "document.querySelector('[data-testid=\"stMain\"]').scrollTop"
        before = page.evaluate(scrolled)
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + min(box["height"] / 2, 300))
        page.mouse.wheel(0, 300)
        page.wait_for_timeout(400)
        assert page.evaluate(scrolled) > before, "the wheel over the graph did not scroll the page"
        assert svg.get_attribute("viewBox") == view_box, "the plain wheel zoomed the graph"
        box = graph.bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + min(box["height"] / 2, 300))
        at = page.evaluate(scrolled)
        page.keyboard.down("Control")
        page.mouse.wheel(0, -300)
        page.keyboard.up("Control")
        page.wait_for_timeout(400)
        assert svg.get_attribute("viewBox") != view_box, "Ctrl + wheel did not zoom the graph"
        assert abs(page.evaluate(scrolled) - at) < 2, "Ctrl + wheel scrolled the page"
        browser.close()
