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

    .venv/bin/python benchmarks/ws_load.py [--sessions 16,64,128] [--duration 60] [--think 2,6] [--checked]
                                          [--url URL --pid PID]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect

from densviz import PRESETS, InputSpec, make_plan
from densviz.core.units import format_bytes, format_count

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' server helper
from tests.app_server import densviz_app, running
from tests.browser.server import rss_bytes

TARGET_P95_S = 1.0
K_RANGE = (12, 48)
VIEWS = [
    "Growth",
    "Graph",
    "Connectivity",
    "Volume",
    "Layers",
    "Memory",
    "Compare",
    "Design space",
    "Forward pass",
    "Feature reuse",
    "Export",
]  # the view selector's options as a user sees them (the page's own list is what is measured)
FINISHED = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}


def expected_params(k: int) -> str:
    """The headline's parameter count for DenseNet-121 at growth rate k (k₀ = 2k), from the plan."""
    cfg = PRESETS["densenet121"].config.replace(growth_rate=k, num_init_features=None)
    return format_count(make_plan(cfg, InputSpec()).totals.params)


# ---- the protocol ---------------------------------------------------------------------


@dataclass
class Run:
    """The messages of one script run, up to its end."""

    messages: list[ForwardMsg]
    elapsed_s: float  # from the BackMsg sent to script_finished
    drawn_s: float  # to the page drawn: the message before the check's mark when the run waited for the check

    def elements(self) -> list[tuple[str, Any]]:
        """(kind, proto) of each element drawn."""
        out = []
        for msg in self.messages:
            if msg.WhichOneof("type") == "delta" and msg.delta.WhichOneof("type") == "new_element":
                element = msg.delta.new_element
                kind = element.WhichOneof("type")
                out.append((kind, getattr(element, kind)))
        return out

    def metric(self, label: str) -> str | None:
        return next((e.body for k, e in self.elements() if k == "metric" and e.label == label), None)

    def problems(self) -> list[str]:
        """Exceptions and error boxes the page drew."""
        said = []
        for kind, element in self.elements():
            if kind == "exception":
                said.append(f"exception {element.type}: {element.message[:120]}")
            elif kind == "alert" and element.format == element.ERROR:
                said.append(f"error box: {element.body[:160]}")
        return said


class ProtocolError(Exception):
    """The server did not answer as a browser would expect."""


class Client:
    """One browser session's worth of protocol: a WebSocket, the widget values set so far, the widget ids seen."""

    def __init__(self, base: str, timeout_s: float):
        self.base = base.rstrip("/")
        self.timeout_s = timeout_s
        self.ws: ClientConnection | None = None
        self.xsrf = ""
        self.session_id = ""
        self.values: dict[str, WidgetState] = {}  # what the user set: sent with every rerun, as the browser does
        self.ids: dict[tuple[str, str], Any] = {}  # (kind, label or key) -> the element proto, from the latest runs

    async def open(self) -> None:
        def cookie() -> str:
            with urllib.request.urlopen(f"{self.base}/_stcore/health", timeout=self.timeout_s) as answer:
                for header in answer.headers.get_all("Set-Cookie") or []:
                    name, _, rest = header.partition("=")
                    if name.strip() == "_streamlit_xsrf":
                        return rest.split(";")[0]
            return ""

        self.xsrf = await asyncio.to_thread(cookie)
        self.ws = await connect(
            "ws" + self.base.removeprefix("http") + "/_stcore/stream",
            subprotocols=["streamlit", self.xsrf],  # type: ignore[list-item]
            additional_headers={"Cookie": f"_streamlit_xsrf={self.xsrf}"},
            max_size=None,
            ping_interval=None,  # the server pings; a late pong of a loaded server must not end the session here
            open_timeout=self.timeout_s,
        )

    async def receive(self, timeout_s: float | None = None) -> ForwardMsg:
        assert self.ws is not None
        data = await asyncio.wait_for(self.ws.recv(), timeout_s or self.timeout_s)
        msg = ForwardMsg()
        msg.ParseFromString(data)  # type: ignore[arg-type]
        if msg.WhichOneof("type") == "new_session" and msg.new_session.initialize.session_id:
            self.session_id = msg.new_session.initialize.session_id
        return msg

    async def send(self, back: BackMsg) -> None:
        assert self.ws is not None
        await self.ws.send(back.SerializeToString())

    def _learn(self, run: Run) -> None:
        for kind, element in run.elements():
            element_id = getattr(element, "id", "")
            if not element_id:
                continue
            label = getattr(element, "label", "")
            self.ids[(kind, label)] = element
            self.ids[(kind, element_id.rsplit("-", 1)[-1])] = element  # by its key, where it has one

    async def rerun(
        self, query: str = "", triggers: list[WidgetState] | None = None, until: Callable[[Run], bool] | None = None
    ) -> Run:
        """Ask for a script run with the values set so far (and these triggers); read to its end.

        A run the page ends early to rerun itself is followed to the run after
        it; ``until`` may ask to follow more runs (a training that ends).
        """
        state = ClientState(query_string=query)
        state.widget_states.widgets.extend([*self.values.values(), *(triggers or [])])
        start = time.perf_counter()
        await self.send(BackMsg(rerun_script=state))
        messages: list[ForwardMsg] = []
        arrived: list[float] = []
        while True:
            msg = await self.receive()
            messages.append(msg)
            arrived.append(time.perf_counter() - start)
            if msg.WhichOneof("type") == "script_finished":
                if msg.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    raise ProtocolError("the script did not compile")
                # The page is drawn, then waits for the check against PyTorch of a design it has not
                # checked yet and puts the mark in last: "drawn" is the message before that mark.
                last = len(messages) - 2
                if last >= 1 and _is_check_mark(messages[last]):
                    last -= 1
                    while last >= 1 and _is_block(messages[last]):  # the container the mark is drawn in
                        last -= 1
                run = Run(messages, arrived[-1], arrived[max(last, 0)])
                if msg.script_finished in FINISHED and (until is None or until(run)):
                    self._learn(run)
                    return run

    def set(self, state: WidgetState) -> None:
        self.values[state.id] = state

    def find(self, kind: str, name: str) -> Any:
        try:
            return self.ids[(kind, name)]
        except KeyError:
            raise ProtocolError(f"no {kind} {name!r} on the page") from None

    async def download(self, element: Any) -> bytes:
        """What the download button's click fetches: the file at the address the button carries."""
        url = element.url
        if element.deferred_file_id or not url:  # made on request: Streamlit may drop it before the GET
            raise ProtocolError(
                f"the download {element.label!r} is not a plain file (deferred: {element.deferred_file_id!r})"
            )

        def get() -> bytes:
            with urllib.request.urlopen(f"{self.base}{url}", timeout=self.timeout_s) as response:
                return bytes(response.read())

        return await asyncio.to_thread(get)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


def _is_check_mark(msg: ForwardMsg) -> bool:
    """Whether a message draws the mark of the check against PyTorch (page.py's badge: done, failed or still going)."""
    if msg.WhichOneof("type") != "delta" or msg.delta.WhichOneof("type") != "new_element":
        return False
    element = msg.delta.new_element
    kind = element.WhichOneof("type")
    body = getattr(element, kind).body if kind in ("markdown", "alert") else ""
    return "PyTorch model" in body or "the check could not run" in body


def _is_block(msg: ForwardMsg) -> bool:
    return msg.WhichOneof("type") == "delta" and msg.delta.WhichOneof("type") != "new_element"


def slider(element_id: str, value: float) -> WidgetState:
    state = WidgetState(id=element_id)
    state.double_array_value.data.append(value)
    return state


def choice(element_id: str, option: str) -> WidgetState:
    state = WidgetState(id=element_id)
    state.string_array_value.data.append(option)
    return state


def choice_many(element_id: str, options: list[str]) -> WidgetState:
    """A multi-select's value (the pills' options as they read)."""
    state = WidgetState(id=element_id)
    state.string_array_value.data.extend(options)
    return state


def trigger(element_id: str) -> WidgetState:
    return WidgetState(id=element_id, trigger_value=True)


# ---- the sessions ---------------------------------------------------------------------


@dataclass
class Tally:
    """What the sessions of one level saw."""

    reruns_s: list[float] = field(default_factory=list)
    drawn_s: list[float] = field(default_factory=list)
    by_action: dict[str, list[float]] = field(default_factory=dict)
    loads_s: list[float] = field(default_factory=list)
    exports_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    training_runs: int = 0
    training_s: list[float] = field(default_factory=list)
    forward_runs: int = 0
    forward_refused: int = 0  # the page's time guard refused the run: it would take too long on this machine now
    background_errors: list[str] = field(default_factory=list)

    def check(self, who: str, run: Run) -> None:
        self.errors += [f"{who}: {p}" for p in run.problems()]

    def rerun(self, action: str, run: Run) -> None:
        self.reruns_s.append(run.elapsed_s)
        self.drawn_s.append(run.drawn_s)
        self.by_action.setdefault(action, []).append(run.elapsed_s)


CHART_SVG = "chart-channels.svg"


class MadeError(Exception):
    """The page said why the files were not made (its error box), or offered none."""


async def make_and_fetch(client: Client, name: str) -> str:
    """What a user now does for a chart image: pick it, press "Make the files", wait for the job, download it.

    The picks are the chart's SVG alone (the graph's files unpicked); the run
    that follows the press waits for the job and ends with the file's plain
    download button, whose address is fetched.
    """
    client.set(choice_many(client.find("button_group", "export_graph_formats").id, []))
    client.set(choice_many(client.find("button_group", "export_chart_formats").id, ["SVG"]))

    def offered(run: Run) -> bool:
        return any(k == "download_button" and e.label == name for k, e in run.elements()) or bool(run.problems())

    run = await client.rerun(triggers=[trigger(client.find("button", "export_make").id)], until=offered)
    if problems := run.problems():
        raise MadeError(f"the files were not made: {problems[0]}")
    button = next(e for k, e in run.elements() if k == "download_button" and e.label == name)
    return (await client.download(button)).decode()


async def user(index: int, base: str, tally: Tally, end: float, think: tuple[float, float], timeout_s: float) -> None:
    """One user: load the page, then slider moves, view switches and exports with a think time between."""
    rng = random.Random(index)
    who = f"session {index}"
    client = Client(base, timeout_s)
    k = 32
    view = "Growth"
    try:
        await client.open()
        run = await client.rerun()
        tally.loads_s.append(run.elapsed_s)
        tally.check(who, run)
        while time.monotonic() + think[0] < end:
            await asyncio.sleep(rng.uniform(*think))
            if time.monotonic() >= end:
                break
            action = rng.random()
            if action < 0.5:  # the slider: a step or a few of the keyboard
                k = min(max(k + rng.choice([-4, -2, -1, 1, 2, 4]), K_RANGE[0]), K_RANGE[1])
                client.set(slider(client.find("slider", "Growth rate k").id, k))
                run = await client.rerun()
                tally.rerun("slider", run)
                if (shown := run.metric("Parameters")) != expected_params(k):
                    tally.errors.append(f"{who}: k = {k} shows {shown} parameters, not {expected_params(k)}")
            elif action < 0.83 or view == "Export":
                view = rng.choice([v for v in VIEWS if v != view])
                client.set(choice(client.find("button_group", "View").id, view))
                run = await client.rerun()
                tally.rerun(f"view {view}", run)
            else:
                view = "Export"
                client.set(choice(client.find("button_group", "View").id, view))
                run = await client.rerun()
                tally.rerun("view Export", run)
                tally.check(who, run)
                try:
                    config = json.loads(await client.download(client.find("download_button", "config.json")))
                    if config["config"]["growth_rate"] != k:
                        tally.errors.append(f"{who}: config.json holds k = {config['config']['growth_rate']}, not {k}")
                except urllib.error.HTTPError as err:
                    tally.errors.append(f"{who}: config.json: HTTP {err.code}")
                start = time.perf_counter()
                try:
                    chart = await make_and_fetch(client, CHART_SVG)
                    if not chart:
                        tally.errors.append(f"{who}: the chart's SVG came empty")
                    elif f"adds k = {k};" not in chart:
                        tally.errors.append(f"{who}: the chart's SVG is not of k = {k}")
                except urllib.error.HTTPError as err:  # a plain download's address: valid while it is shown
                    tally.errors.append(f"{who}: the chart's SVG (a plain download): HTTP {err.code}")
                except MadeError as err:
                    tally.errors.append(f"{who}: {err}")
                tally.exports_s.append(time.perf_counter() - start)
                continue
            tally.check(who, run)
    except (OSError, TimeoutError, ProtocolError, KeyError, ValueError) as err:
        tally.errors.append(f"{who}: {type(err).__name__}: {str(err)[:160]}")
    except Exception as err:  # the connection closed under us, among others: an error of the server's
        tally.errors.append(f"{who}: {type(err).__name__}: {str(err)[:160]}")
    finally:
        await client.close()


async def trainer(base: str, tally: Tally, stop: asyncio.Event, started: asyncio.Event, timeout_s: float) -> None:
    """Feature reuse view, Train, and again as soon as the run ends, until told to stop."""
    client = Client(base, max(timeout_s, 600.0))  # a run's script waits for the whole training
    try:
        await client.open()
        await client.rerun()
        client.set(choice(client.find("button_group", "View").id, "Feature reuse"))
        await client.rerun()
        while not stop.is_set():
            train = client.find("button", "Train")
            start = time.perf_counter()
            started.set()

            def ended(run: Run) -> bool:
                return run.metric("Held-out accuracy") is not None or bool(run.problems())

            run = await client.rerun(triggers=[trigger(train.id)], until=ended)
            if run.problems():
                tally.background_errors += [f"training: {p}" for p in run.problems()]
                await asyncio.sleep(1)
            else:
                tally.training_runs += 1
                tally.training_s.append(time.perf_counter() - start)
    except Exception as err:
        tally.background_errors.append(f"training: {type(err).__name__}: {str(err)[:160]}")
        started.set()
    finally:
        await client.close()


async def runner(base: str, tally: Tally, stop: asyncio.Event, timeout_s: float) -> None:
    """Forward pass view, Run, and again a second after each run ends, until told to stop."""
    client = Client(base, max(timeout_s, 300.0))
    try:
        await client.open()
        await client.rerun()
        client.set(choice(client.find("button_group", "View").id, "Forward pass"))
        await client.rerun()
        while not stop.is_set():
            run = await client.rerun(
                triggers=[trigger(client.find("button", "forward_run").id)],
                until=lambda r: r.metric("Throughput") is not None or bool(r.problems()),
            )
            problems = run.problems()
            if problems and all("This run would take about" in p for p in problems):
                tally.forward_refused += 1  # the guard's sentence, as designed: not an error
            elif problems:
                tally.background_errors += [f"forward pass: {p}" for p in problems]
            else:
                tally.forward_runs += 1
            await asyncio.sleep(1)
    except Exception as err:
        tally.background_errors.append(f"forward pass: {type(err).__name__}: {str(err)[:160]}")
    finally:
        await client.close()


# ---- what the machine did -------------------------------------------------------------


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (the job workers and their forkserver), from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    out, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        out += kids
        frontier += kids
    return out


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _machine() -> tuple[float, float]:
    """(busy, total) jiffies of every core, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


@dataclass
class Resources:
    rss_before: int = 0
    rss_peak: int = 0
    rss_after: int = 0
    workers_peak: int = 0
    server_cpu: float = 0.0  # cores' worth, during the window
    workers_cpu: float = 0.0
    machine_busy: float = 0.0  # share of all cores, everyone's
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at the start and the end
    client_cpu: float = 0.0
    server_cpu_s: float = 0.0  # CPU seconds of the server process during the window


async def sample(pid: int, res: Resources, stop: asyncio.Event) -> None:
    while not stop.is_set():
        res.rss_peak = max(res.rss_peak, rss_bytes(pid))
        res.workers_peak = max(res.workers_peak, sum(_safe_rss(c) for c in _children(pid)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


def _safe_rss(pid: int) -> int:
    try:
        return rss_bytes(pid)
    except OSError:
        return 0


# ---- one level ------------------------------------------------------------------------


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
        cpu0 = _cpu_s(pid), sum(_cpu_s(c) for c in _children(pid))
    busy0, total0 = _machine()
    client0 = time.process_time()
    wall0 = time.monotonic()
    res.load = (os.getloadavg()[0], 0.0)
    end = time.monotonic() + opts.ramp_s + opts.duration_s

    async def arrive(i: int) -> None:
        await asyncio.sleep(opts.ramp_s * i / max(sessions, 1))
        await user(i, base, tally, end, opts.think, opts.timeout_s)

    await asyncio.gather(*(arrive(i) for i in range(sessions)))
    wall = time.monotonic() - wall0
    busy1, total1 = _machine()
    res.machine_busy = (busy1 - busy0) / max(total1 - total0, 1)
    res.load = (res.load[0], os.getloadavg()[0])
    res.client_cpu = (time.process_time() - client0) / wall
    if pid is not None:
        res.server_cpu_s = _cpu_s(pid) - cpu0[0]
        res.server_cpu = res.server_cpu_s / wall
        res.workers_cpu = max(sum(_cpu_s(c) for c in _children(pid)) - cpu0[1], 0.0) / wall
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


def pct(values: list[float], q: float) -> float:
    """The q-quantile by nearest rank (q = 0.95: the value 95% of reruns stay at or under)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


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
        await warm.open()
        await warm.rerun()
        for view in VIEWS:
            warm.set(choice(warm.find("button_group", "View").id, view))
            await warm.rerun()
        if n is not None:  # one forward pass first: the device's peak is measured once per server, not in the level
            warm.set(choice(warm.find("button_group", "View").id, "Forward pass"))
            await warm.rerun()
            await warm.rerun(
                triggers=[trigger(warm.find("button", "forward_run").id)],
                until=lambda r: r.metric("Throughput") is not None or bool(r.problems()),
            )
        if args.checked:  # every design of the walk checked against PyTorch already
            for k in range(K_RANGE[0], K_RANGE[1] + 1):
                warm.set(slider(warm.find("slider", "Growth rate k").id, k))
                await warm.rerun()
        await warm.close()
        if n is None:  # one session alone, nothing else running, for 30 s: the same actions, a shorter think time
            return await level(url, pid, 1, Options(30.0, (0.5, 1.0), 0.0, opts.timeout_s), background=False)
        return await level(url, pid, n, opts)

    idle, idle_res = one(None)
    idle_p95 = pct(idle.reruns_s, 0.95)
    print(
        f"reference, one session on an idle server: {len(idle.reruns_s)} reruns, p50 {pct(idle.reruns_s, 0.5):.3f} s, "
        f"p95 {idle_p95:.3f} s, max {max(idle.reruns_s, default=float('nan')):.3f} s, errors {len(idle.errors)}, "
        f"server CPU {1000 * idle_res.server_cpu_s / max(len(idle.reruns_s), 1):.0f} ms per rerun; "
        f"machine {idle_res.machine_busy:.0%} busy",
        flush=True,
    )
    for n in levels:
        tally, res = one(n)
        rows.append((n, tally, res))
        print(
            f"  {n} sessions done: {len(tally.reruns_s)} reruns, errors {len(tally.errors) + len(tally.background_errors)}, "
            f"p95 {pct(tally.reruns_s, 0.95):.2f} s, machine {res.machine_busy:.0%} busy",
            flush=True,
        )

    print()
    print("rerun: BackMsg sent to script_finished (the page waits for the check of a design new to the server);")
    print(
        "drawn: to the page drawn, before that wait. Seconds. train/fwd: training runs and forward-pass runs completed."
    )
    print(
        f"{'sessions':>8} {'reruns':>7} {'/s':>5} {'errors':>6} {'p50':>6} {'p95':>6} {'max':>6} {'p95/1 s':>7} {'p95/idle':>8} "
        f"{'drawn p50':>9} {'drawn p95':>9} {'export p95':>10} {'load p95':>8} {'train':>5} {'fwd':>4}"
    )
    for n, t, _ in rows:
        p95 = pct(t.reruns_s, 0.95)
        print(
            f"{n:>8} {len(t.reruns_s):>7} {len(t.reruns_s) / (args.duration + args.ramp):>5.1f} "
            f"{len(t.errors) + len(t.background_errors):>6} {pct(t.reruns_s, 0.5):>6.2f} {p95:>6.2f} "
            f"{max(t.reruns_s, default=float('nan')):>6.2f} {p95 / TARGET_P95_S:>7.2f} {p95 / idle_p95:>8.1f} "
            f"{pct(t.drawn_s, 0.5):>9.2f} {pct(t.drawn_s, 0.95):>9.2f} {pct(t.exports_s, 0.95):>10.2f} "
            f"{pct(t.loads_s, 0.95):>8.2f} {t.training_runs:>5} {t.forward_runs:>4}"
        )
    print()
    print("rerun p50 / p95 by action (count)")
    actions = sorted({a for _, t, _ in rows for a in t.by_action}, key=lambda a: (a != "slider", a))
    print(f"{'action':<20}" + "".join(f"{f'{n} sessions':>22}" for n, _, _ in rows))
    for action in actions:
        cells = []
        for _, t, _ in rows:
            values = t.by_action.get(action, [])
            cells.append(f"{pct(values, 0.5):.2f} / {pct(values, 0.95):.2f} ({len(values)})" if values else "-")
        print(f"{action:<20}" + "".join(f"{c:>22}" for c in cells))
    print()
    print(
        "memory (the server process; its job workers apart) and CPU (cores' worth; the machine's share is everyone's)"
    )
    print(
        f"{'sessions':>8} {'RSS before':>10} {'peak':>10} {'after':>10} {'workers':>10} {'server CPU':>10} "
        f"{'workers CPU':>11} {'client CPU':>10} {'server CPU/rerun':>16} {'machine busy':>12} {'load avg':>11}"
    )
    for n, t, r in rows:
        per_rerun = r.server_cpu_s / max(len(t.reruns_s), 1)
        print(
            f"{n:>8} {format_bytes(r.rss_before):>10} {format_bytes(r.rss_peak):>10} {format_bytes(r.rss_after):>10} "
            f"{format_bytes(r.workers_peak):>10} {r.server_cpu:>10.2f} {r.workers_cpu:>11.2f} {r.client_cpu:>10.2f} "
            f"{per_rerun * 1000:>13.0f} ms {r.machine_busy:>12.0%} {r.load[0]:>5.1f}→{r.load[1]:<5.1f}"
        )
    print(
        "  (server CPU/rerun counts all the server did in the window, the training's page and the forward passes included)"
    )
    for n, t, _ in rows:
        if t.forward_refused:
            print(
                f"  {n} sessions: the page's time guard refused {t.forward_refused} forward-pass runs (too slow on the machine then)"
            )
    failed = False
    for n, t, _ in rows:
        for err in (t.errors + t.background_errors)[:10]:
            print(f"  {n} sessions: {err}")
        more = len(t.errors) + len(t.background_errors) - 10
        if more > 0:
            print(f"  {n} sessions: … and {more} more")
        failed = failed or bool(t.errors or t.background_errors)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
