"""Server soak: sessions open, change the network, run it, train, and close (often mid-work) for minutes.

Starts ``streamlit run app.py`` on a free loopback port, warms it with one
session, then for ``--minutes`` keeps opening sessions in Chromium, one or two
at a time; each moves the growth rate, runs a forward pass, starts a training
run on the digits and closes its tab, half the time while the work is still
going. When the time is up the last session closes and the server is left
alone: its resident memory is compared with the level after warm-up (target:
within 10%), and its CPU time is watched for ``--idle`` seconds (target: none
in use once the last session has closed: work left by closed tabs ends).

    .venv/bin/python benchmarks/soak.py [--minutes 10] [--idle 30]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.browser.server import CHROMIUM, CHROMIUM_ARGS, rss_bytes, serve  # noqa: E402

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the server process and its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _session(browser: object, url: str, rng: random.Random) -> str:
    """One user: open, move k, run, train, close (maybe mid-work). Returns what it did."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{url}/?preset=tiny")
    page.get_by_test_id("stMetricValue").first.wait_for()
    slider = page.get_by_role("slider", name="Growth rate k")
    slider.focus()
    for _ in range(rng.randint(1, 4)):
        slider.press(rng.choice(["ArrowLeft", "ArrowRight"]))
        page.wait_for_timeout(300)
    did = "moved k"
    if rng.random() < 0.7:
        page.get_by_role("radio", name="Forward pass", exact=True).click()
        page.get_by_role("button", name="Run", exact=True).click()
        did += ", ran"
        if rng.random() < 0.5:
            page.get_by_text("Shown: the run on").wait_for(timeout=120_000)
            did += " (finished)"
    if rng.random() < 0.7:
        page.get_by_role("radio", name="Feature reuse", exact=True).click()
        page.get_by_role("button", name="Train").click()
        did += ", trained"
        page.wait_for_timeout(rng.randint(500, 4000))  # then close, usually mid-run
    context.close()
    return did


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--idle", type=float, default=30.0, help="seconds to watch the idle server")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with serve(ROOT / "artifacts" / "server-soak.log") as (url, pid), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        _session(browser, url, random.Random(1))  # warm: imports, caches, the first training and run
        time.sleep(20)
        start_rss, started, sessions, errors = rss_bytes(pid), time.monotonic(), 0, []
        peak = start_rss
        while time.monotonic() - started < args.minutes * 60:
            try:
                _session(browser, url, rng)
            except Exception as err:  # a session that failed is counted, the soak goes on
                errors.append(f"{type(err).__name__}: {str(err)[:120]}")
            sessions += 1
            peak = max(peak, rss_bytes(pid))
        browser.close()
        time.sleep(15)  # the last tab's work ends at its next step; then nothing should run
        cpu_before, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(args.idle)
        idle_cpu = (cpu_seconds(pid) - cpu_before) / (time.monotonic() - t0)
        end_rss = rss_bytes(pid)
    mib = 1 << 20
    print(f"{sessions} sessions in {args.minutes:g} min, {len(errors)} failed")
    for e in errors[:5]:
        print("   ", e)
    print(
        f"server RSS: after warm-up {start_rss / mib:.0f} MiB, peak {peak / mib:.0f} MiB, end {end_rss / mib:.0f} MiB"
    )
    print(
        f"  end / start = {end_rss / start_rss:.3f} (target within 10%: {'met' if end_rss <= 1.1 * start_rss else 'NOT met'})"
    )
    print(f"server CPU once idle: {idle_cpu:.1%} of a core over {args.idle:g} s (target: none in use)")


if __name__ == "__main__":
    main()
