"""Many sessions without browsers: Streamlit's own WebSocket protocol against a real server, with work running.

What a browser does, in one asyncio process: take the XSRF cookie
(``GET /_stcore/health``), open ``/_stcore/stream`` with the subprotocols
``streamlit`` and the token, send ``BackMsg.rerun_script`` (a ``ClientState``
with the query string and the widgets' values) and read ``ForwardMsg``\\ s up
to ``script_finished``. Widget ids come from the deltas of the runs, found by
label as a user finds a control: the "Growth rate k" slider, the "View"
selector, the Feature reuse view's "Train", the Forward pass view's "Run",
the Export view's "config.json", its file picks and "Make the files" (a job on
the server's workers), then the made file's plain download (a GET of the
address its download button carries).

For each number of sessions (16, 64 and 128 by default), on a fresh
``densviz app`` server (what ``make run`` and the Docker image run):

* one session trains (Feature reuse view, Train, again as soon as a run ends)
  and one runs forward passes (Forward pass view, Run, again a second after
  each ends) for the whole time, both pressed through the protocol;
* N sessions arrive over a few seconds, load the page, then until the time is
  up each waits a think time and does one of: move the growth-rate slider
  (half the actions: a random walk of k in 12..48 on DenseNet-121), switch to
  another view (a third), or open Export, download config.json, pick the
  channel-growth chart as SVG, press "Make the files", wait for the job (its
  place in the queue, then its progress) and download the SVG it made. Every
  answer is checked: the headline parameters are the plan's for that
  session's k, the downloads hold that session's network, no exception or
  error box is drawn.

Reported per level: reruns, their rate, errors, per-rerun latency from the
BackMsg sent to ``script_finished`` (p50, p95, max; the page waits for the
check against PyTorch before it finishes, so this is the whole rerun), the
time to the page drawn (before that wait), p50 and p95 by action, exports
(from "Make the files" pressed to the SVG downloaded: the job's wait for a
free worker included, so not counted as a rerun),
the server's memory (RSS before the sessions, peak, after they closed; its
worker processes apart), its CPU, and how busy the machine was (all of it:
other users too). Before the levels, one session alone on an idle server
gives the reference rerun time; each level's p95 is printed against it and
against the 1 s target.

With ``--checked`` every design of the walk is checked against PyTorch before
each level (a server whose users have explored them): the reruns no longer
wait for new checks, which is the steady state rather than the first minutes.

Its parts: ``ws_session.py`` (the protocol: one browser session), ``ws_users.py``
(what the sessions do and what they check), ``ws_machine.py`` (the server's
memory and CPU, from /proc) and ``ws_report.py`` (the printed tables).

    .venv/bin/python benchmarks/ws_load.py [--sessions 16,64,128] [--duration 60] [--think 2,6] [--checked]
                                          [--url URL --pid PID]
"""

import argparse
import asyncio
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' server helper and this load test's parts
from benchmarks import ws_report
from benchmarks.ws_machine import Resources, children, cpu_s, machine_jiffies, sample
from benchmarks.ws_session import Client
from benchmarks.ws_users import K_RANGE, Tally, open_on, run_forward, runner, switch_view, trainer, user
from tests.app_server import densviz_app, running
from tests.browser.server import rss_bytes
from tests.helpers import VIEWS
from tests.st_client import slider


@dataclass
class Options:
    duration_s: float
    think: tuple[float, float]
    ramp_s: float
    timeout_s: float


async def level(
    base: str, pid: int | None, sessions: int, opts: Options, background: bool = True
) -> tuple[Tally, Resources]:
    """N users for the duration, with the training and the forward passes going on."""
    tally, res = Tally(), Resources()
    stop_background, stop_sampling, training_started = asyncio.Event(), asyncio.Event(), asyncio.Event()
    tasks = []
    if background:
        tasks.append(asyncio.create_task(trainer(base, tally, stop_background, training_started, opts.timeout_s)))
        tasks.append(asyncio.create_task(runner(base, tally, stop_background, opts.timeout_s)))
        await asyncio.wait_for(training_started.wait(), 300)
        await asyncio.sleep(5)  # the run is queued and its worker busy
    if pid is not None:
        res.rss_before = rss_bytes(pid)
        sampler = asyncio.create_task(sample(pid, res, stop_sampling))
        cpu0 = cpu_s(pid), sum(cpu_s(c) for c in children(pid))
    busy0, total0 = machine_jiffies()
    client0 = time.process_time()
    wall0 = time.monotonic()
    res.load = (os.getloadavg()[0], 0.0)
    end = time.monotonic() + opts.ramp_s + opts.duration_s

    async def arrive(i: int) -> None:
        await asyncio.sleep(opts.ramp_s * i / max(sessions, 1))
        await user(i, base, tally, end, opts.think, opts.timeout_s)

    await asyncio.gather(*(arrive(i) for i in range(sessions)))
    wall = time.monotonic() - wall0
    busy1, total1 = machine_jiffies()
    res.machine_busy = (busy1 - busy0) / max(total1 - total0, 1)
    res.load = (res.load[0], os.getloadavg()[0])
    res.client_cpu = (time.process_time() - client0) / wall
    if pid is not None:
        res.server_cpu_s = cpu_s(pid) - cpu0[0]
        res.server_cpu = res.server_cpu_s / wall
        res.workers_cpu = max(sum(cpu_s(c) for c in children(pid)) - cpu0[1], 0.0) / wall
    stop_background.set()
    for task in tasks:  # a training run in its script ends when its session closes
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if pid is not None:
        await asyncio.sleep(5)  # the sessions are gone: their state is dropped
        res.rss_after = rss_bytes(pid)
        stop_sampling.set()
        await sampler
    return tally, res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", default="16,64,128", help="numbers of sessions, one level each")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds each level runs after the arrivals")
    parser.add_argument("--ramp", type=float, default=10.0, help="seconds over which a level's sessions arrive")
    parser.add_argument("--think", default="2,6", help="a user's pause between actions: uniform in LOW,HIGH seconds")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds a rerun may take before it is an error")
    parser.add_argument("--url", help="an app already running (no fresh server per level; memory needs --pid)")
    parser.add_argument("--pid", type=int, help="the server process of --url, for its memory and CPU")
    parser.add_argument(
        "--checked",
        action="store_true",
        help="check every design of the walk against PyTorch before each level (a server whose users explored them)",
    )
    args = parser.parse_args()
    low, high = (float(v) for v in args.think.split(","))
    opts = Options(args.duration, (low, high), args.ramp, args.timeout)
    levels = [int(n) for n in args.sessions.split(",")]
    log_dir = Path(__file__).resolve().parents[1] / "artifacts"
    log_dir.mkdir(exist_ok=True)

    print(f"densviz ws_load: think {low:g}–{high:g} s, {args.duration:g} s per level after a {args.ramp:g} s ramp")
    print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{v:.1f}' for v in os.getloadavg())} at the start")
    rows: list[tuple[int, Tally, Resources]] = []

    def one(n: int | None) -> tuple[Tally, Resources]:
        """A level (``None``: the idle reference) on a fresh server, or on --url."""
        if args.url:
            return asyncio.run(measure(args.url, args.pid, n))
        with running(densviz_app(), log=log_dir / f"server-ws-load-{n or 'idle'}.log") as (url, process):
            return asyncio.run(measure(url, process.pid, n))

    async def measure(url: str, pid: int | None, n: int | None) -> tuple[Tally, Resources]:
        # Cookies and downloads go through threads: one per session, as each browser has its own, so that
        # a download is fetched as soon as its address comes (a made-on-request file does not wait long).
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=max(levels) + 8))
        warm = Client(url, args.timeout)  # imports, the first check, every view once: not any level's cost
        await open_on(warm, VIEWS[0])
        for view in VIEWS[1:]:
            await switch_view(warm, view)
        if n is not None:  # one forward pass first: the device's peak is measured once per server, not in the level
            await switch_view(warm, "Forward pass")
            await run_forward(warm)
        if args.checked:  # every design of the walk checked against PyTorch already
            for k in range(K_RANGE[0], K_RANGE[1] + 1):
                warm.set(slider(warm.find("slider", "Growth rate k").id, k))
                await warm.rerun()
        await warm.close()
        if n is None:  # one session alone, nothing else running, for 30 s: the same actions, a shorter think time
            return await level(url, pid, 1, Options(30.0, (0.5, 1.0), 0.0, opts.timeout_s), background=False)
        return await level(url, pid, n, opts)

    idle, idle_res = one(None)
    idle_p95 = ws_report.reference(idle, idle_res)
    for n in levels:
        tally, res = one(n)
        rows.append((n, tally, res))
        ws_report.level_done(n, tally, res)
    failed = ws_report.tables(rows, idle_p95, args.duration + args.ramp)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
