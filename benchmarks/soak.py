"""Server soak: sessions open, change the network, run it, train, and close (often mid-work) for minutes.

Starts ``densviz app`` (what ``make run`` runs) on a free loopback port, warms
it with two sessions that take every path (a run waited for, training), then
for ``--minutes`` keeps opening sessions in
Chromium, one at a time; each moves the growth rate, runs a forward pass,
starts a training run on the digits and closes its tab, half the time while
the work is still going. When the time is up the last session closes and the
server is left alone:

* its CPU time is watched for ``--idle`` seconds (target: none in use once
  the last session has closed: work left by closed tabs ends);
* its resident memory is read then, and again once Streamlit's reconnect
  window (``server.disconnectedSessionTTL``) has passed, when the closed
  sessions are really gone (target: within 10% of the level after warm-up);
* what Streamlit's caches, media files and uploads hold is read from the
  server's own ``/_stcore/metrics``, so that a figure that misses its target
  says where the memory is.

    .venv/bin/python benchmarks/soak.py [--minutes 10] [--idle 30]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from densviz.ui.serve import STREAMLIT_OPTIONS  # noqa: E402
from tests.app_server import densviz_app, running  # noqa: E402
from tests.browser.server import CHROMIUM, CHROMIUM_ARGS, rss_bytes  # noqa: E402

_TICKS = os.sysconf("SC_CLK_TCK")
_MIB = 1 << 20


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the server process and its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def children_cpu_seconds(pid: int) -> float:
    """CPU time of the server's child processes (job workers), alive now."""
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    total = 0.0
    for child in out.split():
        with contextlib.suppress(OSError):  # it ended meanwhile
            total += cpu_seconds(int(child))
    return total


def held_by_streamlit(url: str) -> dict[str, int]:
    """Bytes Streamlit says each cache, the media files and the uploads hold (``/_stcore/metrics``)."""
    text = urllib.request.urlopen(f"{url}/_stcore/metrics?families=cache_memory_bytes", timeout=30).read().decode()
    held: dict[str, int] = {}
    for line in text.splitlines():
        match = re.match(r'cache_memory_bytes\{cache_type="([^"]*)",cache="([^"]*)"\} (\d+)', line)
        if match:
            kind, name, size = match.groups()
            key = f"{kind}:{name.rsplit('.', 1)[-1]}" if name else kind
            held[key] = held.get(key, 0) + int(size)
    return held


def rss_split(pid: int) -> str:
    """Resident memory by kind: anonymous (the heap) and file-backed (libraries and modules loaded)."""
    kinds = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("RssAnon:", "RssFile:")):
                kinds[line.split(":")[0][3:].lower()] = int(line.split()[1]) * 1024
    return ", ".join(f"{kind} {size / _MIB:.0f}" for kind, size in kinds.items())


def _session(browser: object, url: str, rng: random.Random, *, every_step: bool = False) -> str:
    """One user: open, move k, run, train, close (maybe mid-work). Returns what it did.

    With ``every_step`` (the warm-up) it takes every path a soak session can:
    the run is waited for, so that its results are drawn, and training starts.
    """
    context = browser.new_context(viewport={"width": 1440, "height": 1000})  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(120_000)  # a loaded machine: the first torch import alone can take a minute
    page.goto(f"{url}/?preset=tiny")
    page.get_by_test_id("stMetricValue").first.wait_for()
    slider = page.get_by_role("slider", name="Growth rate k")
    slider.focus()
    for _ in range(rng.randint(1, 4)):
        slider.press(rng.choice(["ArrowLeft", "ArrowRight"]))
        page.wait_for_timeout(300)
    did = "moved k"
    if every_step or rng.random() < 0.7:
        page.get_by_role("radio", name="Forward pass", exact=True).click()
        page.get_by_role("button", name="Run", exact=True).click()
        did += ", ran"
        if every_step or rng.random() < 0.5:
            page.get_by_text("Shown: the run on").wait_for(timeout=120_000)
            did += " (finished)"
    if every_step or rng.random() < 0.7:
        page.get_by_role("radio", name="Feature reuse", exact=True).click()
        page.get_by_role("button", name="Train").click()
        did += ", trained"
        page.wait_for_timeout(rng.randint(500, 4000))  # then close, usually mid-run
    context.close()
    return did


def _report_held(title: str, held: dict[str, int]) -> None:
    total = sum(held.values())
    print(f"  Streamlit-held memory {title}: {total / _MIB:.1f} MiB")
    for key, size in sorted(held.items(), key=lambda kv: -kv[1])[:8]:
        print(f"      {key:<48} {size / _MIB:8.2f} MiB")


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--idle", type=float, default=30.0, help="seconds to watch the idle server")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    ttl = float(STREAMLIT_OPTIONS.get("server.disconnectedSessionTTL", 120))
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at the start")
    with running(densviz_app(), log=ROOT / "artifacts" / "server-soak.log") as (url, proc), sync_playwright() as p:
        pid = proc.pid
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # Warm-up: every path a session takes, twice. The first finished run loads the result views' code
        # (libraries and modules: about 60 MiB, file-backed and heap, once per process); a warm-up that
        # never waited for a run left that to the soak, which then read it as growth (1.12-1.15x).
        warmed = 0
        for attempt in range(4):
            try:
                _session(browser, url, random.Random(attempt), every_step=True)
                warmed += 1
            except Exception as err:
                print(f"warm-up session {attempt + 1} failed: {str(err)[:120]}")
            if warmed == 2:
                break
        time.sleep(max(20.0, ttl + 15.0))  # the warm-up sessions, too, are really closed
        start_rss, start_split = rss_bytes(pid), rss_split(pid)
        started, sessions, errors = time.monotonic(), 0, []
        peak = start_rss
        while time.monotonic() - started < args.minutes * 60:
            try:
                _session(browser, url, rng)
            except Exception as err:  # a session that failed is counted, the soak goes on
                errors.append(f"{type(err).__name__}: {str(err)[:120]}")
            sessions += 1
            peak = max(peak, rss_bytes(pid))
        browser.close()
        closed = time.monotonic()
        time.sleep(15)  # the last tab's work ends at its next step; then nothing should run
        cpu_before, kids_before, t0 = cpu_seconds(pid), children_cpu_seconds(pid), time.monotonic()
        time.sleep(args.idle)
        idle_s = time.monotonic() - t0
        idle_cpu = (cpu_seconds(pid) - cpu_before) / idle_s
        kids_cpu = max(children_cpu_seconds(pid) - kids_before, 0.0) / idle_s
        soon_rss, soon_s = rss_bytes(pid), time.monotonic() - closed
        soon_held = held_by_streamlit(url)
        time.sleep(max(0.0, ttl + 45.0 - (time.monotonic() - closed)))  # past the reconnect window and a trim
        end_rss, end_s, end_split = rss_bytes(pid), time.monotonic() - closed, rss_split(pid)
        end_held = held_by_streamlit(url)
    print(
        f"{sessions} sessions in {args.minutes:g} min, {len(errors)} failed; load {os.getloadavg()[0]:.1f} at the end"
    )
    for e in errors[:5]:
        print("   ", e)
    print(f"server RSS: after warm-up {start_rss / _MIB:.0f} MiB ({start_split}), peak {peak / _MIB:.0f} MiB")
    print(f"  {soon_s:.0f} s after the last tab closed: {soon_rss / _MIB:.0f} MiB ({soon_rss / start_rss:.3f}x)")
    print(
        f"  {end_s:.0f} s after (the {ttl:.0f} s reconnect window passed): {end_rss / _MIB:.0f} MiB, "
        f"{end_rss / start_rss:.3f}x the start (target within 10%: {'met' if end_rss <= 1.1 * start_rss else 'NOT met'})"
    )
    print(f"  at the end by kind: {end_split}")
    _report_held(f"{soon_s:.0f} s after", soon_held)
    _report_held(f"{end_s:.0f} s after", end_held)
    print(
        f"server CPU once idle: {idle_cpu:.1%} of a core over {args.idle:g} s, its workers {kids_cpu:.1%} "
        "(target: none in use)"
    )


if __name__ == "__main__":
    main()
