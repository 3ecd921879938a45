"""What a user feels, in a real Chromium against a warm server: first number, first chart, key press to number.

Starts ``densviz app`` (what ``make run`` and the Docker image run) on a free
loopback port and opens one session to warm it (imports, caches). Then, for a new session (a new tab is a new
Streamlit session), it measures from navigation start to the first headline
number and to the first chart in the page, whatever draws it (plotly, Vega-Lite,
an image, or SVG in the page's own HTML such as the Growth view's), with
timestamps taken inside the page, so the harness's polling is not counted:

* cold cache: each session in a fresh browser context, nothing cached (a first
  visit: every static file is fetched and compiled);
* warm cache: new tabs of one context that has opened the page once (a
  returning user: Streamlit serves its hashed files ``immutable`` for a year).

Then, in one session, it presses the growth-rate slider's arrow key
``--presses`` times and measures each press to the new parameter count on
screen, and to the first chart drawn for the new k (its legend's "new maps
(k = …)"): the page settled. Beside them, the server's own share (AppTest in this process): a new
session's first script run, the rerun after a press, and the rerun to a
design nothing has drawn yet (every cache misses). Each session also
reports where its time went: the frontend's start until the websocket is open,
the server's messages (first to last), and the rest (the browser rendering).
``--profile`` adds one traced warm-cache session: the renderer's CPU samples
by phase and by script. Beside the page, the same measures on reference pages
with nothing of densviz in them (``benchmarks/floor_app.py``, served with the
same settings and hooks): one number alone (Streamlit's own floor), with a
plotly chart (what plotly.js adds), with the same bars in Streamlit's built-in
Vega-Lite chart, as an SVG image, as SVG in Markdown, and as SVG put in by a
component (as the Growth view does).

Targets (issue 12): first chart within 1 s of opening; key press to number
within 0.2 s at p50 and 0.4 s at p95. The machine is shared: ``--runs`` repeats
the whole measurement, each with the load average beside it, and prints the
quietest run and the spread. (Under ``nice -n -10`` the other work on the
machine takes less from the measurement; say so beside the figures.)

``--script`` serves another page script with ``densviz app``'s settings and
hooks (a variant of the page to set beside it), and runs the server's share on it.

``--gzip-ab MBIT,RTT_MS`` measures only what ``densviz app``'s gzipped static
files change for a new visitor (cold cache, first chart): two servers, gzip on
and off, in turn, on loopback and on a link Chromium emulates.

    .venv/bin/python benchmarks/bench_browser.py [--sessions 8] [--presses 20] [--runs 3] [--profile] [--script PATH]
    .venv/bin/python benchmarks/bench_browser.py --gzip-ab 5,80 [--sessions 8] [--script PATH]
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' server helper
from densviz.core.config import PRESETS, InputSpec  # noqa: E402
from densviz.core.plan import make_plan  # noqa: E402
from densviz.core.units import format_count  # noqa: E402
from tests.app_server import densviz_app, running, serve_script  # noqa: E402
from tests.browser.server import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from browser_trace import traced_session  # noqa: E402

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ViewportSize

FIRST_CHART_TARGET_S = 1.0
PRESS_P50_TARGET_S, PRESS_P95_TARGET_S = 0.2, 0.4
VIEWPORT: ViewportSize = {"width": 1440, "height": 900}
# A chart, drawn, whatever drew it: plotly's SVG, Vega-Lite's marks, an image (in the page, as before), or an
# SVG put in the page as the page's own HTML (<svg role="img"> in a Markdown or HTML element, or in a component's
# shadow root, as the Growth view's), of which only a shown one counts: that view sends each chart at two sizes
# and hides the one that does not fit. window.__inlineCharts comes with _MARKS.
_CHART_DRAWN = """() => !!document.querySelector('.js-plotly-plot .main-svg, .vega-embed .marks, [data-testid="stImage"] img')
  || window.__inlineCharts().some(e => e.getBoundingClientRect().width > 0)"""
# The first chart drawn for growth rate k: its legend says "new maps (k = …)" (plotly's and the SVG's alike).
_CHART_FOR_K = """k => [...document.querySelectorAll('.js-plotly-plot'), ...window.__inlineCharts()]
  .some(e => e.getBoundingClientRect().width > 0 && e.textContent.includes(`new maps (k = ${k})`))"""
FLOOR_APP = ROOT / "benchmarks" / "floor_app.py"
REFERENCES = {
    "none": "one number",
    "plotly": "one number + a 121-bar plotly chart",
    "vega": "one number + those bars in Vega-Lite",
    "svg": "one number + those bars as SVG (image)",
    "svg-inline": "one number + those bars as SVG in Markdown",
    "svg-component": "one number + those bars as SVG by a component",
}
# Marks in ms since navigation start (performance.now()), recorded by the page itself: the
# websocket's open and messages (wrapped), the first number and first chart in the DOM.
_MARKS = r"""
window.__marks = {};
const mark = (k) => { if (window.__marks[k] === undefined) window.__marks[k] = performance.now(); };
const Native = window.WebSocket;
window.WebSocket = function (...args) {
  const ws = new Native(...args);
  ws.addEventListener('open', () => mark('ws_open'));
  ws.addEventListener('message', () => { mark('msg_first'); if (window.__marks.chart === undefined) window.__marks.msg_last = performance.now(); });
  return ws;
};
window.WebSocket.prototype = Native.prototype;
Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
const look = () => {
  if (document.querySelector('[data-testid="stMetricValue"]')) mark('number');
  if (window.__marks.chart === undefined && (CHART_DRAWN)()) mark('chart');
};
const observer = new MutationObserver(look);
observer.observe(document, {subtree: true, childList: true});
// Components draw in shadow roots, which the document's observer does not see into: watch each one as it is made.
window.__shadows = [];
const attach = Element.prototype.attachShadow;
Element.prototype.attachShadow = function (init) {
  const root = attach.call(this, init);
  window.__shadows.push(root);
  observer.observe(root, {subtree: true, childList: true});
  return root;
};
window.__inlineCharts = () => [
  ...document.querySelectorAll('[data-testid="stMarkdownContainer"] svg[role="img"], [data-testid="stHtml"] svg[role="img"]'),
  ...window.__shadows.flatMap(r => [...r.querySelectorAll('svg[role="img"]')]),
];
""".replace("CHART_DRAWN", _CHART_DRAWN)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _load() -> float:
    return os.getloadavg()[0]


Network = tuple[float, float]
"""An emulated link: (megabits per second down, round trip in ms)."""


def _visit(context: BrowserContext, url: str, network: Network | None = None) -> dict[str, float]:
    """One new tab (a new Streamlit session) until its first chart is drawn; its marks in seconds."""
    page = context.new_page()
    if network is not None:  # Chromium's own throttling of the page's requests (DevTools' "network conditions")
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        mbit, rtt_ms = network
        cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": rtt_ms,
                "downloadThroughput": mbit * 1e6 / 8,
                "uploadThroughput": mbit * 1e6 / 8,
            },
        )
    page.goto(url, wait_until="commit")
    wanted = ["number"] if "chart=none" in url else ["number", "chart"]
    page.wait_for_function(
        "keys => window.__marks && keys.every(k => window.__marks[k] !== undefined)",
        arg=wanted,
        timeout=60_000,
        polling=50,
    )
    marks: dict[str, float] = page.evaluate("window.__marks")
    page.close()
    return {key: ms / 1000 for key, ms in marks.items()}


def _sessions(
    browser: Browser, url: str, count: int, *, warm: bool, network: Network | None = None
) -> list[dict[str, float]]:
    """``count`` new sessions, each in a fresh context (cold cache) or as new tabs of one primed context."""
    out = []
    context = None
    for _ in range(count):
        if context is None:
            context = browser.new_context(viewport=VIEWPORT)
            context.add_init_script(_MARKS)
            if warm:
                _visit(context, url, network)  # the returning user's earlier visit: fills the HTTP cache
        out.append(_visit(context, url, network))
        if not warm:
            context.close()
            context = None
    if context is not None:
        context.close()
    return out


def _presses(browser: Browser, url: str, presses: int) -> tuple[list[float], list[float]]:
    """Seconds from each arrow-key press on the growth-rate slider to the new parameter count, and to the new chart."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(_MARKS)  # the charts' finders
    page = context.new_page()
    page.goto(url)
    page.get_by_test_id("stMetricValue").first.wait_for(timeout=60_000)
    page.wait_for_function(_CHART_DRAWN, timeout=60_000)
    page.wait_for_timeout(1500)  # the check against PyTorch finishes
    slider = page.get_by_role("slider", name="Growth rate k")
    slider.focus()
    times, charts = [], []
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
        page.wait_for_function(_CHART_FOR_K, arg=k, timeout=30_000, polling=5)
        charts.append(time.perf_counter() - start)
        page.wait_for_timeout(600)  # let the rerun settle before the next press
    context.close()
    return times, charts


def _server_runs(script: Path, presses: int, sessions: int) -> tuple[list[float], list[float], list[float]]:
    """The server's share, as AppTest in this process: a new session's first run, the rerun after a press, and
    the rerun after a press to a design nothing has drawn yet (every cache misses: plan, charts)."""
    import streamlit as st
    from streamlit import logger
    from streamlit.testing.v1 import AppTest

    logger.set_log_level("ERROR")  # AppTest's bare-mode warnings

    def new_session() -> AppTest:
        return AppTest.from_file(str(script), default_timeout=60)

    new_session().run()  # caches warm, as in the server
    first = []
    for _ in range(sessions):
        at = new_session()
        start = time.perf_counter()
        at.run()
        first.append(time.perf_counter() - start)
    reruns, k = [], 32
    for i in range(presses):
        k = k - 1 if i % 2 == 0 else k + 1
        start = time.perf_counter()
        at.slider(key="growth_rate").set_value(k).run()
        reruns.append(time.perf_counter() - start)
    fresh = []
    st.cache_data.clear()  # this process's caches: an earlier run of this function drew these designs
    for k in range(40, 40 + presses):  # the presses above stay at 31 and 32
        start = time.perf_counter()
        at.slider(key="growth_rate").set_value(k).run()
        fresh.append(time.perf_counter() - start)
    return first, reruns, fresh


def _row(label: str, values: list[float], target: float | None = None, p95_target: float | None = None) -> str:
    p50, p95 = statistics.median(values), _p95(values)
    ratio = f"{p50 / target:.2f}" if target else ""
    if p95_target:
        ratio += f"  p95: {p95 / p95_target:.2f} of {p95_target}"
    goal = f"{target:g}" if target else ""
    return f"{label:44} {p50:6.3f} {p95:6.3f} {min(values):6.3f} {max(values):6.3f} {goal:>6} {ratio}"


def _phases(label: str, marks: list[dict[str, float]]) -> str:
    """Medians of where a session's seconds went, in the order they happen."""

    def med(a: str, b: str | None) -> float:
        return statistics.median(m[a] - (m[b] if b else 0.0) for m in marks)

    return (
        f"  {label}: frontend start -> websocket open {med('ws_open', None):.2f}; server's messages "
        f"(first to last) {med('msg_last', 'msg_first'):.2f}; last message -> number {med('number', 'msg_last'):.2f}, "
        f"-> chart {med('chart', 'msg_last'):.2f}"
    )


def _measure(url: str, floor_url: str, script: Path, sessions: int, presses: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    load_before = _load()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        _sessions(browser, url, 1, warm=False)  # warm the server: imports, caches, the first check
        cold = _sessions(browser, url, sessions, warm=False)
        warm = _sessions(browser, url, sessions, warm=True)
        keys, key_charts = _presses(browser, url, presses)
        floors = {
            kind: (
                _sessions(browser, f"{floor_url}/?chart={kind}", sessions, warm=False),
                _sessions(browser, f"{floor_url}/?chart={kind}", sessions, warm=True),
            )
            for kind in REFERENCES
        }
        browser.close()
    first_run, reruns, fresh = _server_runs(script, presses, sessions)
    return {
        "load": (load_before + _load()) / 2,
        "cold": cold,
        "warm": warm,
        "keys": keys,
        "key_charts": key_charts,
        "first_run": first_run,
        "reruns": reruns,
        "fresh": fresh,
        "floors": floors,
    }


def _report(run: dict[str, Any]) -> list[str]:
    cold, warm = run["cold"], run["warm"]
    head = f"{'seconds':44} {'p50':>6} {'p95':>6} {'min':>6} {'max':>6} {'target':>6} ratio (p50/target)"
    return [
        head,
        _row("new session, cold cache: first number", [m["number"] for m in cold]),
        _row("new session, cold cache: first chart", [m["chart"] for m in cold], FIRST_CHART_TARGET_S),
        _row("new session, warm cache: first number", [m["number"] for m in warm]),
        _row("new session, warm cache: first chart", [m["chart"] for m in warm], FIRST_CHART_TARGET_S),
        _row("  server: a new session's script run", run["first_run"]),
        _row("key press -> new number", run["keys"], PRESS_P50_TARGET_S, PRESS_P95_TARGET_S),
        _row("key press -> new chart (the page settled)", run["key_charts"]),
        _row("  server: the rerun after a press", run["reruns"]),
        _row("  server: ... to a design not drawn before", run["fresh"]),
        _phases("cold cache", cold),
        _phases("warm cache", warm),
        "reference pages, same server settings (benchmarks/floor_app.py): first number / first chart, p50",
        *(
            f"  {REFERENCES[kind]:40} cold {_p50s(cold_f)}  warm {_p50s(warm_f)}"
            for kind, (cold_f, warm_f) in run["floors"].items()
        ),
    ]


def _p50s(marks: list[dict[str, float]]) -> str:
    number = statistics.median(m["number"] for m in marks)
    chart = statistics.median(m.get("chart", m["number"]) for m in marks)
    return f"{number:.2f} / {chart:.2f} s"


def _serve_page(script: Path | None, *, compress_static: bool) -> list[str]:
    """``densviz app``'s server for the page (or ``script``), its static files gzipped or not."""
    where = "" if script is None else f", Path({str(script)!r})"
    code = (
        "from pathlib import Path; from densviz.ui.serve import serve; "
        f"serve('127.0.0.1', {{port}}{where}, compress_static={compress_static})"
    )
    return [sys.executable, "-c", code]


def _gzip_ab(script: Path | None, sessions: int, network: Network) -> list[str]:
    """New sessions with a cold cache against two servers, static files gzipped and not, on loopback and
    on an emulated link, in turn (so that the machine's load weighs on both alike): first chart, p50."""
    from playwright.sync_api import sync_playwright

    links: dict[str, Network | None] = {"loopback": None, f"{network[0]:g} Mbit/s, {network[1]:g} ms": network}
    got: dict[tuple[str, bool], list[float]] = collections.defaultdict(list)
    with (
        running(_serve_page(script, compress_static=True)) as (gz_url, _),
        running(_serve_page(script, compress_static=False)) as (raw_url, _),
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for url in (gz_url, raw_url):
            _sessions(browser, url, 1, warm=False)  # warm each server; the gzipped one compresses its files
        for i in range(sessions):
            pair = ((True, gz_url), (False, raw_url))
            for link, net in links.items():
                for gzipped, url in pair if i % 2 == 0 else pair[::-1]:  # which goes first, in turn
                    got[(link, gzipped)].append(_sessions(browser, url, 1, warm=False, network=net)[0]["chart"])
        browser.close()
    lines = ["cold cache, first chart, p50 (static files gzipped / as they lie)"]
    for link in links:
        packed, raw = statistics.median(got[(link, True)]), statistics.median(got[(link, False)])
        lines.append(f"  {link:28} gzipped {packed:.2f} s, not {raw:.2f} s, ratio {packed / raw:.2f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=8, help="new sessions measured each way (cold, warm)")
    parser.add_argument("--presses", type=int, default=20)
    parser.add_argument("--runs", type=int, default=1, help="repeat the whole measurement (the machine is shared)")
    parser.add_argument("--profile", action="store_true", help="also trace one warm-cache session's CPU")
    parser.add_argument(
        "--script",
        type=Path,
        help="serve this page script with densviz app's settings and hooks instead of densviz app's own page",
    )
    parser.add_argument(
        "--gzip-ab",
        metavar="MBIT,RTT_MS",
        help="only compare a cold cache's first chart with Streamlit's files gzipped and not, on loopback and on this "
        "emulated link (e.g. 20,40)",
    )
    args = parser.parse_args()
    script = (args.script or ROOT / "app.py").resolve()
    if args.gzip_ab:
        mbit, rtt = (float(v) for v in args.gzip_ab.split(","))
        print(f"load average {_load():.1f} over {os.cpu_count()} cores")
        print("\n".join(_gzip_ab(args.script and script, args.sessions, (mbit, rtt))))
        print(f"load average {_load():.1f}")
        return
    cores = os.cpu_count()
    print(f"warm server, Chromium {VIEWPORT['width']}×{VIEWPORT['height']}, this machine ({cores} cores)")
    print(f"{args.sessions} new sessions each way, {args.presses} key presses, {args.runs} run(s)")
    print(f"page: {'densviz app' if args.script is None else script.relative_to(ROOT)}")
    server = densviz_app() if args.script is None else serve_script(script)
    runs = []
    log = ROOT / "artifacts" / "server-bench-browser.log"
    log.parent.mkdir(exist_ok=True)
    with running(server, log=log) as (url, _), running(serve_script(FLOOR_APP)) as (floor_url, _):
        for i in range(args.runs):
            run = _measure(url, floor_url, script, args.sessions, args.presses)
            runs.append(run)
            print(f"\nrun {i + 1}: load average {run['load']:.1f} over {cores} cores")
            print("\n".join(_report(run)))
        if args.profile:
            print("\n" + traced_session(url, lambda context: _visit(context, url), _MARKS, VIEWPORT))
    if len(runs) > 1:
        quiet = min(runs, key=lambda r: r["load"])
        print(f"\nquietest run (load average {quiet['load']:.1f}); spread of the p50s over the {len(runs)} runs:")
        for key, label in (("cold", "cold cache"), ("warm", "warm cache")):
            for mark in ("number", "chart"):
                p50s = [statistics.median(m[mark] for m in r[key]) for r in runs]
                print(f"  first {mark}, {label}: {min(p50s):.2f}-{max(p50s):.2f} s")
        p50s = [statistics.median(r["keys"]) for r in runs]
        p95s = [_p95(r["keys"]) for r in runs]
        print(f"  key press p50 {min(p50s):.3f}-{max(p50s):.3f} s, p95 {min(p95s):.3f}-{max(p95s):.3f} s")
        p50s = [statistics.median(r["key_charts"]) for r in runs]
        print(f"  key press -> new chart p50 {min(p50s):.3f}-{max(p50s):.3f} s")


if __name__ == "__main__":
    main()
