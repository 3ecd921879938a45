"""Many users at once: a real `streamlit run` server and N concurrent browser sessions.

Starts the app on a free loopback port and drives N sessions (16 by default),
each in its own Chromium context (its own Streamlit session), all at once:
load the page, move the growth-rate slider to a growth rate of its own, one
key at a time, checking that the parameter count becomes the plan's for that
k; switch to the Graph view and wait for dot's SVG; open Export and download
the config JSON and the channel-growth chart as SVG (rendered by the shared
kaleido Chromium behind its lock), checking that both are this session's own
network. Prints sessions, reruns, errors (must be 0), p50 and p95 rerun
latency (key press to the new number on screen) and the server's memory
before, at peak and after the sessions closed. Bounded: every wait has a
timeout and the whole test stops after --limit seconds.

    .venv/bin/python benchmarks/load_test.py [--sessions N] [--limit S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from densviz.core.units import format_bytes

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' server helper
from benchmarks.ws_users import expected_params  # the headline's count for k, as the protocol load test checks it
from tests.browser.server import CHROMIUM, CHROMIUM_ARGS, rss_bytes, serve


@dataclass
class Report:
    """What the sessions saw."""

    sessions: int = 0
    completed: int = 0
    reruns: int = 0
    latencies_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def session(browser: object, url: str, index: int, report: Report, downloads: Path) -> None:
    from playwright.async_api import expect

    report.sessions += 1
    context = await browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)  # type: ignore[attr-defined]
    page = await context.new_page()
    # 16 Chromium pages and the server share this machine's cores: give every
    # action the same generous bound as the waits.
    page.set_default_timeout(180_000)
    await asyncio.sleep(0.5 * index)  # users arrive over a few seconds, not in one instant
    page.on("pageerror", lambda err: report.errors.append(f"session {index}: page error {err}"))
    try:
        await page.goto(url)
        params = page.get_by_test_id("stMetricValue").first
        await expect(params).to_have_text("7.98 M", timeout=120_000)
        slider = page.get_by_role("slider", name="Growth rate k")
        await slider.focus()
        k = 32
        for _ in range(1 + index % 4):  # sessions end on different growth rates: 31, 30, 29, 28
            k -= 1
            start = time.perf_counter()
            await slider.press("ArrowLeft")
            await expect(params).to_have_text(expected_params(k), timeout=120_000)
            report.latencies_s.append(time.perf_counter() - start)
            report.reruns += 1
        start = time.perf_counter()
        await page.get_by_role("radio", name="Graph", exact=True).click()
        await expect(page.locator('.dvz svg g.node[id="features.transition1"]')).to_have_count(1, timeout=120_000)
        report.latencies_s.append(time.perf_counter() - start)
        report.reruns += 1
        await page.get_by_text("verified against the PyTorch model").wait_for(timeout=180_000)
        await page.get_by_role("radio", name="Export", exact=True).click()
        report.reruns += 1
        async with page.expect_download(timeout=120_000) as info:
            await page.get_by_role("button", name="config.json", exact=True).click()
        path = downloads / f"config-{index}.json"
        await (await info.value).save_as(path)
        if json.loads(path.read_text())["config"]["growth_rate"] != k:
            report.errors.append(f"session {index}: config.json holds another session's network")
        await page.locator(".st-key-export_chart_formats").get_by_role("button", name="SVG", exact=True).click()
        await page.get_by_role("button", name="Make the files").click()  # a job on the workers
        svg = page.locator(".st-key-dl_made_chart_channels_svg").get_by_role("button")
        await svg.wait_for(timeout=180_000)
        async with page.expect_download(timeout=180_000) as info:
            await svg.click()
        path = downloads / f"chart-{index}.svg"
        await (await info.value).save_as(path)
        if f"adds k = {k};" not in path.read_text():
            report.errors.append(f"session {index}: the chart image shows another session's network")
        if await page.get_by_test_id("stException").count():
            report.errors.append(f"session {index}: the page shows an exception")
        report.completed += 1
    except Exception as err:
        report.errors.append(f"session {index}: {type(err).__name__}: {str(err).splitlines()[0][:160]}")
    finally:
        await context.close()


async def drive(url: str, sessions: int, limit_s: float, downloads: Path) -> Report:
    from playwright.async_api import async_playwright

    report = Report()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            await asyncio.wait_for(
                asyncio.gather(*(session(browser, url, i, report, downloads) for i in range(sessions))), timeout=limit_s
            )
        except TimeoutError:
            report.errors.append(f"the test ran past its {limit_s:.0f} s limit and was stopped")
        await browser.close()
    return report


def run(sessions: int = 16, limit_s: float = 600.0) -> tuple[Report, dict[str, int]]:
    """Start the server, drive the sessions, stop the server; return the report and memory figures."""
    import tempfile

    memory = {"before": 0, "peak": 0, "after": 0}
    stop = threading.Event()
    log = Path(os.environ["DENSVIZ_LOAD_LOG"]) if os.environ.get("DENSVIZ_LOAD_LOG") else None
    with serve(log) as (url, pid), tempfile.TemporaryDirectory() as tmp:
        # One session first, so that "before" includes torch, plotly and kaleido loaded.
        asyncio.run(drive(url, 1, limit_s, Path(tmp)))
        time.sleep(2)
        memory["before"] = rss_bytes(pid)

        def sample() -> None:
            while not stop.is_set():
                memory["peak"] = max(memory["peak"], rss_bytes(pid))
                stop.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            report = asyncio.run(drive(url, sessions, limit_s, Path(tmp)))
        finally:
            stop.set()
            sampler.join()
        time.sleep(5)  # sessions closed: their state is dropped
        memory["after"] = rss_bytes(pid)
    return report, memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--limit", type=float, default=600.0, help="seconds before the test stops itself")
    args = parser.parse_args()
    start = time.perf_counter()
    report, memory = run(args.sessions, args.limit)
    lat = sorted(report.latencies_s)
    p50 = statistics.median(lat) if lat else float("nan")
    p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))] if lat else float("nan")
    print(
        f"sessions {report.sessions} (completed {report.completed}), reruns {report.reruns}, errors {len(report.errors)}, in {time.perf_counter() - start:.0f} s"
    )
    print(f"rerun latency (key press or view switch to the new result on screen): p50 {p50:.2f} s, p95 {p95:.2f} s")
    print(
        f"server memory: before {format_bytes(memory['before'])}, peak {format_bytes(memory['peak'])}, after the sessions closed {format_bytes(memory['after'])}"
    )
    for err in report.errors:
        print(f"  error: {err}")
    sys.exit(1 if report.errors or report.completed != args.sessions else 0)


if __name__ == "__main__":
    main()
