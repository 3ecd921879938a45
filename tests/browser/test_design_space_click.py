"""The Design space view in a real Chromium: a click on a point makes that design the current one."""

from __future__ import annotations

from pathlib import Path

import pytest

from densviz.core.config import PRESETS
from densviz.core.explore import sweep
from densviz.ui.design_space import default_space
from tests.browser import server as helper

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"

pytestmark = pytest.mark.skipif(
    not Path(helper.CHROMIUM).exists(), reason="Debian's chromium is not installed (make setup installs it as root)"
)


def test_clicking_a_point_sets_the_sidebar_to_that_design(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    p121 = PRESETS["densenet121"]
    kept = sweep(default_space(p121.config, p121.input)).kept
    index = 0  # the first point of the designs' trace: the narrowest, shortest design of the space
    design = kept[index].design
    assert design.growth_rate != p121.config.growth_rate
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=helper.CHROMIUM, args=helper.CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1400})
        page.set_default_timeout(60_000)
        expect.set_options(timeout=60_000)
        page.goto(f"{server}/?preset=densenet121&view=Design+space")
        points = page.locator(".js-plotly-plot .scatterlayer .trace").first.locator("path.point")
        expect(points.first).to_be_visible()
        assert points.count() == len(kept)
        points.nth(index).click(force=True)
        slider = page.get_by_role("slider", name="Growth rate k")
        expect(slider).to_have_value(str(design.growth_rate))
        for b, layers in enumerate(design.block_config, start=1):
            expect(page.get_by_role("spinbutton", name=f"Layers in block {b}")).to_have_value(str(layers))
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / "design-space-click.png"))
        assert f"growth_rate={design.growth_rate}" in page.url  # the link follows
        browser.close()
