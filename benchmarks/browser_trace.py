"""Where a page's main-thread time goes: one Chromium session traced, its CPU samples by phase and script.

``benchmarks/bench_browser.py --profile`` prints this beside its figures.
"""

from __future__ import annotations

import collections
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' browser settings
from tests.browser.server import CHROMIUM, CHROMIUM_ARGS

_TRACE_CATEGORIES = ["devtools.timeline", "blink.user_timing", "v8.execute", "disabled-by-default-v8.cpu_profiler"]


def traced_session(url: str, visit: Callable[[Any], object], marks_js: str, viewport: Any) -> str:
    """One warm-cache session traced: the page's CPU samples by phase and by script.

    Args:
        url: The page.
        visit: Opens the page once in a context (to warm its cache).
        marks_js: The init script that records ``window.__marks`` (the
            websocket's opening, the first number and the first chart).
        viewport: The browser's window.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=viewport)
        context.add_init_script(marks_js)
        visit(context)
        page = context.new_page()
        browser.start_tracing(page=page, categories=_TRACE_CATEGORIES)
        page.goto(url, wait_until="commit")
        page.wait_for_function(
            "() => window.__marks && window.__marks.chart !== undefined && window.__marks.number !== undefined",
            timeout=60_000,
        )
        marks = page.evaluate("window.__marks")
        trace = json.loads(browser.stop_tracing())
        browser.close()
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    samples, nav = _page_samples(events)
    # The first number and the first chart in the order they came (a chart drawn on the server can come first).
    (first, at_first), (second, at_second) = sorted(
        (("first number", marks["number"]), ("first chart", marks["chart"])), key=lambda kv: kv[1]
    )
    phases = [
        ("navigation -> websocket open", 0.0, marks["ws_open"]),
        (f"websocket open -> {first}", marks["ws_open"], at_first),
        (f"{first} -> {second}", at_first, at_second),
    ]
    lines = [
        f"where a warm-cache session's main-thread time went (one traced session; chart at {marks['chart']:.0f} ms)"
    ]
    for label, start, end in phases:
        by_script: dict[str, float] = collections.defaultdict(float)
        for at_us, ms, script in samples:
            if start <= (at_us - nav) / 1000 < end:
                by_script[script] += ms
        idle = by_script.pop("(idle)", 0.0)
        busy = sum(by_script.values())
        top = ", ".join(f"{name} {ms:.0f}" for name, ms in sorted(by_script.items(), key=lambda kv: -kv[1])[:5])
        lines.append(f"  {label} ({end - start:.0f} ms): busy {busy:.0f} ms, idle {idle:.0f} ms; {top}")
    return "\n".join(lines)


def _page_samples(events: list[dict[str, Any]]) -> tuple[list[tuple[float, float, str]], float]:
    """CPU samples of the page's renderer: (time µs, ms, the script it ran in), and the navigation start (µs)."""
    profiles: dict[tuple[int, str], dict[str, Any]] = collections.defaultdict(
        lambda: {"nodes": {}, "samples": [], "start": 0.0}
    )
    for e in events:
        if e.get("name") == "Profile":
            profiles[(e["pid"], e["id"])]["start"] = e["args"]["data"]["startTime"]
        elif e.get("name") == "ProfileChunk":
            prof, data = profiles[(e["pid"], e["id"])], e["args"]["data"]
            for node in data.get("cpuProfile", {}).get("nodes", []):
                prof["nodes"][node["id"]] = node
            prof["samples"] += list(
                zip(data.get("cpuProfile", {}).get("samples", []), data.get("timeDeltas", []), strict=True)
            )
    # The page's renderer is the one that ran Streamlit's bundle (other processes are the browser's own pages).
    (pid, _), prof = max(
        (
            (key, p)
            for key, p in profiles.items()
            if any("/static/js/" in n["callFrame"].get("url", "") for n in p["nodes"].values())
        ),
        key=lambda kv: len(kv[1]["samples"]),
    )
    nav = max(e["ts"] for e in events if e.get("name") == "navigationStart" and e.get("pid") == pid)
    nodes = prof["nodes"]
    parent = {child: n["id"] for n in nodes.values() for child in n.get("children", [])}

    def script(node_id: int) -> str:
        while node_id in nodes:
            frame = nodes[node_id]["callFrame"]
            if frame.get("url"):
                return str(frame["url"]).rsplit("/", 1)[-1]
            if frame.get("functionName") in ("(idle)", "(garbage collector)", "(program)"):
                return (
                    "(v8 and blink: parse, compile, style, layout)"
                    if frame["functionName"] == "(program)"
                    else frame["functionName"]
                )
            node_id = parent.get(node_id, -1)
        return "(native)"

    out, at = [], float(prof["start"])
    for node_id, delta in prof["samples"]:
        at += delta
        out.append((at, delta / 1000, script(node_id)))
    return out, nav
