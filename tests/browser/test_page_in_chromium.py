"""One real browser on the real server: what only a browser shows.

Starts ``streamlit run app.py`` on a free loopback port, drives Debian's
Chromium with Playwright, and stops the server by its pid.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlencode

import pytest

from densviz.core.config import PRESETS, DenseNetConfig, InputSpec, Stem, to_query
from densviz.core.plan import make_plan
from densviz.core.units import format_count
from tests.browser import server as helper

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"


pytestmark = pytest.mark.skipif(
    not Path(helper.CHROMIUM).exists(), reason="Debian's chromium is not installed (make setup installs it as root)"
)


def test_the_page_in_a_real_browser(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=helper.CHROMIUM, args=helper.CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 2000}, accept_downloads=True)
        page.set_default_timeout(60_000)
        expect.set_options(timeout=60_000)
        page.goto(server)
        params = page.get_by_test_id("stMetricValue").first
        expect(params).to_have_text("7.98 M")

        # The growth-rate slider, moved with the keyboard as a user would.
        slider = page.get_by_role("slider", name="Growth rate k")
        slider.focus()
        for k in (31, 30):  # one key at a time: each press commits and reruns the script
            slider.press("ArrowLeft")
            expect(slider).to_have_value(str(k))
            cfg = PRESETS["densenet121"].config.replace(growth_rate=k, num_init_features=None)
            expect(params).to_have_text(format_count(make_plan(cfg, InputSpec()).totals.params))

        # The graph view: the SVG from dot, its nodes named by their module paths, in the clickable canvas.
        page.get_by_role("radio", name="Graph", exact=True).click()
        expect(page.locator('.dvz svg g.node[id="features.transition1"]')).to_have_count(1)
        expect(page.locator('.dvz svg g.node[id="features.conv0"]')).to_have_count(1)
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / "graph-view.png"))

        # Export: download the graph's SVG and check it.
        page.get_by_role("radio", name="Export", exact=True).click()
        with page.expect_download() as info:
            page.locator(".st-key-dl_graph_svg").get_by_role("button").click()  # ready at once: no job
        target = tmp_path / "graph.svg"
        info.value.save_as(target)
        root = ET.fromstring(target.read_bytes())
        titles = {el.text for el in root.iter("{http://www.w3.org/2000/svg}title")}
        assert {"features.conv0", "features.transition3", "classifier"} <= titles

        # A permalink reopens its network.
        linked = DenseNetConfig(growth_rate=12, block_config=(16, 16, 16), stem=Stem.CIFAR, num_classes=10)
        spec = InputSpec.square(32)
        page.goto(f"{server}/?{urlencode({**to_query(linked, spec), 'view': 'Growth'})}")
        expect(page.get_by_test_id("stMetricValue").first).to_have_text(
            format_count(make_plan(linked, spec).totals.params)
        )
        expect(page.get_by_role("slider", name="Growth rate k")).to_have_value("12")
        page.get_by_text("verified against the PyTorch model").wait_for(timeout=90_000)
        page.wait_for_timeout(800)
        page.screenshot(path=str(ARTIFACTS / "page.png"))
        browser.close()


@pytest.mark.slow  # 13 s of training and clicks in Chromium: the default suite stays under 5 minutes
def test_train_compare_and_classify_in_a_real_browser(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=helper.CHROMIUM, args=helper.CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1900})
        page.set_default_timeout(90_000)
        expect.set_options(timeout=90_000)

        # Train tiny on the digits: the run ends with its accuracy and the heat maps of all 3 blocks.
        page.goto(f"{server}/?preset=tiny&view=Feature+reuse")
        page.get_by_role("button", name="Train").click()
        accuracy = page.get_by_test_id("stMetric").filter(has_text="Held-out accuracy")
        expect(accuracy).to_be_visible()
        value = accuracy.get_by_test_id("stMetricValue").inner_text()
        assert float(value.rstrip("%")) >= 90.0, value
        heat = page.locator(".js-plotly-plot").filter(has_text="Feature reuse")
        expect(heat.locator("g.subplot.xy")).to_have_count(1)  # the first panel's axes
        expect(heat.locator(".g-gtitle")).to_contain_text("Feature reuse")
        for block in (1, 2, 3):
            expect(heat.get_by_text(f"Block {block} · 2 layers")).to_be_visible()
        page.wait_for_timeout(800)
        page.screenshot(path=str(ARTIFACTS / "reuse-view.png"), full_page=True)

        # Classify held-out digits with those weights.
        page.get_by_role("button", name="Classify digits in the Forward pass view").click()
        page.get_by_role("button", name="Run", exact=True).click()
        expect(page.get_by_text("The first digit is a 7; the network says 7.")).to_be_visible()

        # Compare: pin tiny as A, move k, read B − A off the table; the link keeps the pair.
        page.goto(f"{server}/?preset=tiny&view=Compare")
        page.get_by_role("button", name="Pin this network as A").click()
        expect(page.get_by_text("Block by block")).to_be_visible()
        slider = page.get_by_role("slider", name="Growth rate k")
        slider.focus()
        slider.press("ArrowRight")
        expect(slider).to_have_value("9")
        a = make_plan(PRESETS["tiny"].config, PRESETS["tiny"].input)
        b = make_plan(PRESETS["tiny"].config.replace(growth_rate=9, num_init_features=None), PRESETS["tiny"].input)
        grid = page.get_by_test_id("stDataFrame").first
        expect(grid).to_contain_text(format_count(b.totals.params))
        expect(grid).to_contain_text(format_count(a.totals.params))
        expect(page).to_have_url(re.compile(r"[?&]growth_rate=9(&|$)"))
        assert "a_preset=tiny" in page.url
        expect(page.frame_locator("iframe").nth(1).locator("svg g.node").first).to_be_visible()  # B's overview
        page.wait_for_timeout(800)
        page.screenshot(path=str(ARTIFACTS / "compare-view.png"), full_page=True)

        # Stop a long run: it ends after the current step and keeps what it learned (tiny's steps take
        # milliseconds: the Stop is seen between two steps however loaded the machine; a step still running
        # 0.7 s after Stop is ended there instead, keeping nothing).
        page.goto(f"{server}/?preset=tiny&view=Feature+reuse")
        epochs = page.get_by_role("spinbutton", name="Epochs")
        epochs.fill("50")
        epochs.press("Enter")
        expect(epochs).to_have_value("50")
        page.get_by_role("button", name="Train").click()
        expect(page.get_by_text(re.compile(r"step [1-9]\d*/1150"))).to_be_visible()
        page.get_by_role("button", name="Stop").click()
        expect(page.get_by_text("Training ended early: stopped by you.")).to_be_visible()
        expect(page.get_by_test_id("stMetric").filter(has_text="Epochs")).to_contain_text(re.compile(r"\d+ of 50"))
        browser.close()
