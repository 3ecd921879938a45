"""The first screen in Chromium: the Growth view's charts are the server's SVG, plotly.js is not loaded.

Served by ``densviz app`` itself (its settings, security headers and
Content-Security-Policy), the Growth view drawn by :mod:`densviz.ui.growth`. At a
laptop's 1440×900 and a phone's 390×844: the drawing that fits the column is
the one shown, nothing is wider than the screen, no text of a chart covers
another, every bar carries its hover title, no CSP violation, and plotly's
script is fetched only once the "Interactive chart" switch is turned on.
Screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.app_server import ROOT, densviz_app, running
from tests.browser import server as helper

ARTIFACTS = ROOT / "artifacts"
SIZES = {"laptop": (1440, 900), "phone": (390, 844)}
PLOTLY_SCRIPT = re.compile(r"/static/js/PlotlyChart\.[^/]*\.js$")  # Streamlit's chunk of plotly.js

pytestmark = [
    pytest.mark.slow,  # a server of its own and three browser pages: run by `make test-slow` and in CI
    pytest.mark.skipif(
        not Path(helper.CHROMIUM).exists(), reason="Debian's chromium is not installed (make setup installs it as root)"
    ),
]

# Every CSP violation the page meets, as the browser reports it to the page.
_RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
"""
# The charts shown: each visible <svg> of the view (in its component's shadow root), with its box, its variant
# and the boxes of its text.
_SHOWN = """() => [...document.querySelectorAll('*')].filter(e => e.shadowRoot).flatMap(e => [
  ...e.shadowRoot.querySelectorAll('.dvz-growth svg')
]).filter(s => s.getBoundingClientRect().width > 0).map(s => {
  const r = s.getBoundingClientRect();
  return {
    variant: s.parentElement.className,
    label: s.getAttribute('aria-label'),
    box: [r.left, r.top, r.right, r.bottom],
    texts: [...s.querySelectorAll('text')].map(t => {
      const b = t.getBoundingClientRect(); return [t.textContent, b.left, b.top, b.right, b.bottom];
    }).filter(t => t[3] > t[1]),
    bars: [...s.querySelectorAll('g > title')].map(t => t.textContent),
  };
})"""
_OVERFLOW = """() => {
  const main = document.querySelector('[data-testid="stMain"]') || document.documentElement;
  return [main.scrollWidth, main.clientWidth, document.documentElement.scrollWidth, window.innerWidth];
}"""


@pytest.fixture(scope="module")
def app() -> Iterator[str]:
    ARTIFACTS.mkdir(exist_ok=True)
    with running(densviz_app(), log=ARTIFACTS / "server-growth-first-screen.log") as (url, _proc):
        yield url


def clashes(texts: list[list[Any]]) -> list[tuple[str, str]]:
    """Pairs of a chart's text elements whose boxes overlap by more than a pixel."""
    out = []
    for i, (a, *ab) in enumerate(texts):
        for b, *bb in texts[i + 1 :]:
            if ab[0] < bb[2] - 1 and bb[0] < ab[2] - 1 and ab[1] < bb[3] - 1 and bb[1] < ab[3] - 1:
                out.append((a, b))
    return out


def _open(p: Any, size: str) -> tuple[Any, Any, list[str]]:
    width, height = SIZES[size]
    phone = size == "phone"
    browser = p.chromium.launch(executable_path=helper.CHROMIUM, args=helper.CHROMIUM_ARGS)
    page = browser.new_page(
        viewport={"width": width, "height": height}, is_mobile=phone, has_touch=phone, device_scale_factor=1
    )
    page.set_default_timeout(60_000)
    page.add_init_script(_RECORD_VIOLATIONS)
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    return browser, page, fetched


@pytest.mark.parametrize("size", list(SIZES))
def test_the_first_screen_shows_the_svg_charts_that_fit(app: str, size: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    width = SIZES[size][0]
    with sync_playwright() as p:
        browser, page, fetched = _open(p, size)
        page.goto(f"{app}/?preset=densenet121")
        expect(page.get_by_test_id("stMetricValue").first).to_have_text("7.98 M")
        expect(page.locator(".dvz-growth svg").first).to_be_attached()
        page.wait_for_timeout(800)
        shown = page.evaluate(_SHOWN)
        page.screenshot(path=str(ARTIFACTS / f"growth-first-screen-{width}.png"))
        page.locator(".dvz-growth").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"growth-charts-{width}.png"))
        overflow = page.evaluate(_OVERFLOW)
        violations = page.evaluate("window.__violations")
        browser.close()

    wanted = "dvz-wide" if size == "laptop" else "dvz-narrow"
    assert [c["variant"] for c in shown] == [wanted, wanted], "the drawing for this column's width is not the one shown"
    assert [c["label"].split(":")[0] for c in shown] == ["Channel growth", "Spatial size and activation volume"]
    main_w, main_client, doc_w, inner = overflow
    assert main_w <= main_client + 1 and doc_w <= inner + 1, f"wider than the screen: {overflow}"
    for chart in shown:
        left, _top, right, _bottom = chart["box"]
        assert left >= 0 and right <= width + 1, f"{chart['label']} runs off the screen: {chart['box']}"
        assert clashes(chart["texts"]) == [], f"text over text in {chart['label']}"
        assert all(t[1] >= left - 1 and t[3] <= right + 1 for t in chart["texts"]), "a label runs past the chart's edge"
    growth, volume = shown
    # DenseNet-121: 67 modules; the volume chart leaves out the classifier (no spatial size).
    assert len([t for t in growth["bars"] if t.startswith(("features", "classifier"))]) == 67
    assert len([t for t in volume["bars"] if t.startswith("features")]) == 66
    # Block 1's first layer reads the stem's 64 channels and adds k = 32 at 56×56 (224 / 4).
    assert "features.denseblock1.denselayer1\ndense_layer: 64 → 32 channels\noutput 32×56×56" in "\n\n".join(
        growth["bars"]
    )
    assert violations == [], violations
    assert not [u for u in fetched if PLOTLY_SCRIPT.search(u)], "plotly.js was fetched for the first screen"


def test_the_interactive_switch_brings_the_plotly_charts(app: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser, page, fetched = _open(p, "laptop")
        page.goto(f"{app}/?preset=densenet121")
        expect(page.locator(".dvz-growth svg").first).to_be_attached()
        assert page.locator(".js-plotly-plot").count() == 0
        page.get_by_text("Interactive chart", exact=True).click()
        expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible()
        expect(page.locator(".js-plotly-plot")).to_have_count(2)
        expect(page.locator(".dvz-growth")).to_have_count(0)
        violations = page.evaluate("window.__violations")
        browser.close()
    assert [u for u in fetched if PLOTLY_SCRIPT.search(u)], "the switch did not load plotly"
    assert violations == [], violations
