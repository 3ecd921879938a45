"""What a user feels, in a real Chromium against a warm server: first number, first chart, key press to number.

Starts ``streamlit run app.py`` on a free loopback port, opens one session to
warm it (imports, caches), then opens ``--sessions`` new sessions one after
another, each in a fresh browser context (a new Streamlit session), and for
each measures from ``goto`` to the first headline number and to the first
plotly chart drawn. Then, in one session, presses the growth-rate slider's
arrow key ``--presses`` times and measures each press to the new parameter
count on screen. Beside them: the server-side rerun for the same press
(AppTest, in this process), so the browser's share is visible.

Targets (issue 12): first chart within 1 s of opening; key press to number
within 0.2 s at p50 and 0.4 s at p95.

    .venv/bin/python benchmarks/bench_browser.py [--sessions 8] [--presses 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' server helper
from densviz.core.config import PRESETS, InputSpec  # noqa: E402
from densviz.core.plan import make_plan  # noqa: E402
from densviz.core.units import format_count  # noqa: E402
from tests.browser.server import CHROMIUM, CHROMIUM_ARGS, serve  # noqa: E402

FIRST_CHART_TARGET_S = 1.0
PRESS_P50_TARGET_S, PRESS_P95_TARGET_S = 0.2, 0.4
_CHART_DRAWN = "() => !!document.querySelector('.js-plotly-plot .main-svg')"


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _open_sessions(browser: object, url: str, sessions: int) -> tuple[list[float], list[float]]:
    """Seconds from goto to the first number, and to the first chart, for each new session."""
    first_number, first_chart = [], []
    for _ in range(sessions):
        context = browser.new_context(viewport={"width": 1440, "height": 900})  # type: ignore[attr-defined]
        page = context.new_page()
        start = time.perf_counter()
        page.goto(url, wait_until="commit")
        page.get_by_test_id("stMetricValue").first.wait_for(timeout=60_000)
        first_number.append(time.perf_counter() - start)
        page.wait_for_function(_CHART_DRAWN, timeout=60_000, polling=20)
        first_chart.append(time.perf_counter() - start)
        context.close()
    return first_number, first_chart


def _presses(browser: object, url: str, presses: int) -> list[float]:
    """Seconds from each arrow-key press on the growth-rate slider to the new parameter count on screen."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(url)
    params = page.get_by_test_id("stMetricValue").first
    params.wait_for(timeout=60_000)
    page.wait_for_function(_CHART_DRAWN, timeout=60_000)
    page.wait_for_timeout(1500)  # the check against PyTorch finishes
    slider = page.get_by_role("slider", name="Growth rate k")
    slider.focus()
    times = []
    k = 32
    for i in range(presses):
        key, k = ("ArrowLeft", k - 1) if i % 2 == 0 else ("ArrowRight", k + 1)
        cfg = PRESETS["densenet121"].config.replace(growth_rate=k, num_init_features=None)
        wanted = format_count(make_plan(cfg, InputSpec()).totals.params)
        start = time.perf_counter()
        slider.press(key)
        page.wait_for_function(
            "w => document.querySelector('[data-testid=\"stMetricValue\"]').textContent.trim() === w",
            arg=wanted,
            timeout=30_000,
            polling=5,
        )
        times.append(time.perf_counter() - start)
        page.wait_for_timeout(600)  # let the rerun settle before the next press
    context.close()
    return times


def _server_reruns(presses: int) -> list[float]:
    """The same presses as server-side reruns (AppTest in this process): the script's own time."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    times, k = [], 32
    for i in range(presses):
        k = k - 1 if i % 2 == 0 else k + 1
        start = time.perf_counter()
        at.slider(key="growth_rate").set_value(k).run()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--presses", type=int, default=20)
    args = parser.parse_args()
    with serve() as (url, _pid), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        _open_sessions(browser, url, 1)  # warm the server: imports, caches, the first check
        number, chart = _open_sessions(browser, url, args.sessions)
        presses = _presses(browser, url, args.presses)
        browser.close()
    server = _server_reruns(args.presses)
    print(f"warm server, {args.sessions} new sessions, {args.presses} key presses (Chromium 1440×900, this machine)")
    print(f"{'':34} {'p50':>7} {'p95':>7} {'target':>8} {'ratio':>6}")
    rows = [
        ("new session: first number (s)", number, None),
        ("new session: first chart (s)", chart, FIRST_CHART_TARGET_S),
        ("key press -> new number (s)", presses, PRESS_P50_TARGET_S),
        ("  server-side rerun (AppTest, s)", server, None),
    ]
    for label, values, target in rows:
        p50, p95 = statistics.median(values), _p95(values)
        ratio = f"{p50 / target:.2f}" if target else ""
        print(f"{label:34} {p50:7.3f} {p95:7.3f} {target or '':>8} {ratio:>6}")
    print(f"key press p95 target {PRESS_P95_TARGET_S} s: ratio {_p95(presses) / PRESS_P95_TARGET_S:.2f}")


if __name__ == "__main__":
    main()
