"""What the load test's sessions do (``ws_load.py``): users who explore, one who trains, one who runs forward passes.

Each is a protocol session (``ws_session.Client``) pressing what a user
presses; what every answer should hold is checked and counted in a ``Tally``.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
import urllib.error
from dataclasses import dataclass, field
from pathlib import Path

from densviz import PRESETS, InputSpec, make_plan
from densviz.core.units import format_count

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for the tests' helpers
from benchmarks.ws_session import Client, ProtocolError, Run
from tests.helpers import VIEWS
from tests.st_client import choice, choice_many, slider, trigger

K_RANGE = (12, 48)
CHART_SVG = "chart-channels.svg"


def expected_params(k: int) -> str:
    """The headline's parameter count for DenseNet-121 at growth rate k (k₀ = 2k), from the plan."""
    cfg = PRESETS["densenet121"].config.replace(growth_rate=k, num_init_features=None)
    return format_count(make_plan(cfg, InputSpec()).totals.params)


async def switch_view(client: Client, view: str) -> Run:
    """Pick ``view`` in the view selector, as a user does; the run it starts."""
    client.set(choice(client.find("button_group", "View").id, view))
    return await client.rerun()


async def open_on(client: Client, view: str) -> None:
    """Load the page and go to ``view``."""
    await client.open()
    await client.rerun()
    await switch_view(client, view)


async def run_forward(client: Client) -> Run:
    """Press the Forward pass view's Run; follow the runs until its figures are shown or the page says why not."""
    return await client.rerun(
        triggers=[trigger(client.find("button", "forward_run").id)],
        until=lambda r: r.metric("Throughput") is not None or bool(r.problems()),
    )


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
                run = await switch_view(client, view)
                tally.rerun(f"view {view}", run)
            else:
                view = "Export"
                run = await switch_view(client, view)
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
        await open_on(client, "Feature reuse")
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
        await open_on(client, "Forward pass")
        while not stop.is_set():
            run = await run_forward(client)
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
