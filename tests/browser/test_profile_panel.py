"""The Forward pass view's Profile panel in a real Chromium: the profile, its roofline, and the fastest settings.

Chromium (Debian's, through Playwright) against ``streamlit run app.py``,
driving the page as a user does: the Forward pass view, "Profile (per layer,
roofline)", the Profile button. The roofline is read from the page's plotly
chart: one point per plan row with MACs, none above the roofs. Screenshots at
1440×900 and 390×844 go to artifacts/; the slow case (DenseNet-121, with the
fastest settings, which compiles) takes the README's docs/screenshot-profile.png.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from densviz.core.config import PRESETS, InputSpec
from densviz.core.plan import make_plan
from tests.browser import server as helper

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
PROFILE_MODE = "Profile (per layer, roofline)"

pytestmark = pytest.mark.skipif(
    not Path(helper.CHROMIUM).exists(), reason="Debian's chromium is not installed (make setup installs it as root)"
)


def _roofline(page: Any) -> Any:
    """The roofline chart's plotly element."""
    return page.locator(".js-plotly-plot").filter(has_text="Roofline").first


def _points_under_the_roof(page: Any) -> int:
    """The roofline's points, each checked under min(peak, bandwidth · intensity); their count."""
    data = _roofline(page).evaluate("el => el.data.map(t => ({x: t.x, y: t.y, mode: t.mode}))")
    roof, *points = data
    assert roof["mode"] == "lines"
    peak = max(roof["y"])
    bandwidth = roof["y"][0] / roof["x"][0]  # the slanted roof's slope: GB/s
    count = 0
    for trace in points:
        for x, y in zip(trace["x"], trace["y"], strict=True):
            assert y <= min(peak, bandwidth * x) * (1 + 1e-9), (x, y)
            count += 1
    return count


def _open_profile(page: Any, server: str, preset: str, batch: int | None = None) -> None:
    from playwright.sync_api import expect

    page.goto(f"{server}/?preset={preset}&view=Forward+pass")
    page.get_by_role("radio", name=PROFILE_MODE, exact=True).click()
    if batch is not None:
        box = page.get_by_role("spinbutton", name="Images per run")
        box.fill(str(batch))
        box.press("Enter")
    button = page.get_by_role("button", name="Profile", exact=True)
    expect(button).to_be_visible()
    button.click()
    expect(_roofline(page)).to_be_visible()


def _no_overflow(page: Any) -> None:
    """The app (which scrolls inside stMain) and the document are no wider than the screen."""
    widths = page.evaluate(
        """() => {
  const main = document.querySelector('[data-testid="stMain"]') || document.documentElement;
  return [main.scrollWidth, main.clientWidth, document.documentElement.scrollWidth, window.innerWidth];
}"""
    )
    assert widths[0] <= widths[1] + 1 and widths[2] <= widths[3] + 1, f"wider than the screen: {widths}"


@pytest.mark.slow  # 11 s: a profile in Chromium at two sizes
def test_the_profile_panel_shows_the_roofline_on_a_desktop_and_a_phone(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    plan = make_plan(PRESETS["tiny"].config, PRESETS["tiny"].input)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=helper.CHROMIUM, args=helper.CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.set_default_timeout(120_000)
        expect.set_options(timeout=120_000)
        _open_profile(page, server, "tiny")
        assert _points_under_the_roof(page) == sum(1 for r in plan.layers if r.macs > 0)
        expect(page.get_by_text("Rows' sum", exact=True)).to_be_visible()
        expect(page.get_by_text("Compute peak", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="Download the Chrome trace (.json)")).to_be_visible()
        expect(page.locator(".js-plotly-plot").filter(has_text="Time share beside MACs share")).to_have_count(1)
        expect(page.get_by_role("button", name="Find the fastest settings")).to_be_visible()
        _roofline(page).scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / "profile-panel-1440.png"))
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(1000)
        _roofline(page).scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        _no_overflow(page)
        page.screenshot(path=str(ARTIFACTS / "profile-panel-390.png"))
        browser.close()


@pytest.mark.slow  # DenseNet-121 profiled and compiled: minutes on one core
def test_densenet121_profile_and_fastest_settings_for_the_readme(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    plan = make_plan(PRESETS["densenet121"].config, InputSpec.square(224))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=helper.CHROMIUM, args=helper.CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.set_default_timeout(600_000)
        expect.set_options(timeout=600_000)
        _open_profile(page, server, "densenet121")
        assert _points_under_the_roof(page) == sum(1 for r in plan.layers if r.macs > 0)
        page.get_by_role("button", name="Find the fastest settings").click()
        expect(page.get_by_text("Fastest here:")).to_be_visible()
        _roofline(page).scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / "profile-densenet121-1440.png"))
        page.get_by_text("Fastest here:").scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / "fastest-densenet121-1440.png"))
        page.set_viewport_size({"width": 1440, "height": 2600})  # the app scrolls inside itself: a tall view
        page.wait_for_timeout(1000)
        top = page.get_by_text("Where the time goes", exact=False).first
        top.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        box = top.bounding_box()
        assert box is not None
        page.screenshot(
            path=str(ROOT / "docs" / "screenshot-profile.png"),
            clip={"x": 0, "y": max(0, box["y"] - 20), "width": 1440, "height": 2600 - max(0, box["y"] - 20)},
        )
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(1000)
        page.get_by_text("Fastest here:").scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        _no_overflow(page)
        page.screenshot(path=str(ARTIFACTS / "fastest-densenet121-390.png"))
        browser.close()
