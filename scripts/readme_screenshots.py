"""Retake the README's screenshots of the page in a real Chromium against ``densviz app``.

Each shot opens a link a user could open (preset, view, pinned design) and,
where the README's caption says so, does what a user would: clicks a point in
the Design space, presses Train in the Feature reuse view. Pass the names of
the shots to take (default: all of them); each is written to
``docs/screenshot-<name>.png``. Look at every one before committing it.

    .venv/bin/python scripts/readme_screenshots.py [growth phone compare design-space reuse]
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.app_server import densviz_app, running  # noqa: E402
from tests.browser.server import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

DOCS = ROOT / "docs"
_RUNNING = '[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]'


def _settle(page: Any, extra_ms: int = 1500) -> None:
    """Until the script run ended, the check against PyTorch is shown and the page stopped moving."""
    page.wait_for_function(f"() => !document.querySelector('{_RUNNING}')", timeout=120_000)
    page.get_by_text("verified against the PyTorch model").first.wait_for(timeout=120_000)
    page.wait_for_timeout(extra_ms)


def growth(browser: Any, url: str) -> None:
    """The default page on a laptop: DenseNet-121, the Growth view."""
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{url}/?preset=densenet121")
    page.locator(".dvz-growth .dvz-wide svg").first.wait_for(timeout=120_000)  # the server's SVG, in a shadow root
    _settle(page)
    page.screenshot(path=str(DOCS / "screenshot-growth.png"))
    page.close()


def phone(browser: Any, url: str) -> None:
    """The default page on a phone, scrolled to the channel-growth chart and its legend."""
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto(f"{url}/?preset=densenet121")
    chart = page.locator(".dvz-growth .dvz-narrow svg").first  # the phone's drawing of the server's SVG
    chart.wait_for(timeout=120_000)
    _settle(page)
    box = chart.bounding_box()
    assert box is not None
    page.evaluate("(dy) => { document.querySelector('[data-testid=\"stMain\"]').scrollTop += dy; }", box["y"] - 70)
    page.wait_for_timeout(500)
    page.screenshot(path=str(DOCS / "screenshot-phone.png"))
    page.close()


def compare(browser: Any, url: str) -> None:
    """Compare: DenseNet (L=40, k=12) pinned as A against DenseNet-BC (L=100, k=12) in the controls."""
    page = browser.new_page(viewport={"width": 1500, "height": 1900})
    page.goto(f"{url}/?preset=densenet_bc100_k12&view=Compare&a_preset=densenet40_k12")
    page.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=120_000)
    _settle(page, 3000)
    page.screenshot(path=str(DOCS / "screenshot-compare.png"))
    page.close()


def design_space(browser: Any, url: str) -> None:
    """The Design space around DenseNet-121 after a click on a point: that design is now the current one."""
    page = browser.new_page(viewport={"width": 1440, "height": 1400})
    page.goto(f"{url}/?preset=densenet121&view=Design+space")
    points = page.locator(".js-plotly-plot .scatterlayer .trace").first.locator("path.point")
    points.first.wait_for(timeout=120_000)
    _settle(page)
    points.nth(points.count() // 3).click(force=True)  # a design of the lower third: the page changes visibly
    page.wait_for_url("**growth_rate=**", timeout=120_000, wait_until="commit")  # the link follows the click
    _settle(page, 2500)
    page.screenshot(path=str(DOCS / "screenshot-design-space.png"))
    page.close()


def reuse(browser: Any, url: str) -> None:
    """Feature reuse: DenseNet (L=40, k=12) trained on the digits for a few epochs, its heat maps and readings."""
    page = browser.new_page(viewport={"width": 1500, "height": 1900})
    page.goto(f"{url}/?preset=densenet40_k12&view=Feature+reuse")
    _settle(page)
    epochs = page.get_by_role("spinbutton", name="Epochs")
    epochs.fill("3")
    epochs.press("Enter")
    limit = page.get_by_role("spinbutton", name="Time limit (s)")
    limit.fill("300")
    limit.press("Enter")
    _settle(page, 500)
    page.get_by_role("button", name="Train").click()
    # The results: the held-out accuracy among the metrics (the live chart's axis has the same words).
    page.get_by_test_id("stMetricLabel").filter(has_text="Held-out accuracy").first.wait_for(timeout=600_000)
    page.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=120_000)
    _settle(page, 3000)
    page.screenshot(path=str(DOCS / "screenshot-reuse.png"))
    page.close()


SHOTS: dict[str, Callable[[Any, str], None]] = {
    "growth": growth,
    "phone": phone,
    "compare": compare,
    "design-space": design_space,
    "reuse": reuse,
}


def main() -> None:
    """Take the shots named on the command line (all of them by default)."""
    from playwright.sync_api import sync_playwright

    names = sys.argv[1:] or list(SHOTS)
    unknown = [n for n in names if n not in SHOTS]
    if unknown:
        sys.exit(f"unknown shot(s) {', '.join(unknown)}; the shots are {', '.join(SHOTS)}")
    log = ROOT / "artifacts" / "server-readme-screenshots.log"
    with running(densviz_app(), log=log) as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name in names:
            SHOTS[name](browser, url)
            print(f"docs/screenshot-{name}.png")
        browser.close()


if __name__ == "__main__":
    main()
