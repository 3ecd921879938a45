"""The forward pass's time limit: refused from a measured pass, stopped between passes, stoppable from the page.

No test here asserts a wall-clock time: the limit is kept by a clock the tests
replace (``densviz.run.limit._clock``), and what is asserted is the sentence,
the passes done, and that the run ended.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import torch
from streamlit.runtime.scriptrunner_utils.exceptions import StopException

import densviz.run as rt
import densviz.run.limit as limit
from densviz.cli import main
from densviz.core.config import PRESETS, ConfigError, DenseNetConfig, InputSpec, Stem
from densviz.run.probe import probe_pass, probe_steps
from densviz.run.timing import RunStoppedError
from tests.test_app import start

TINY, TINY_INPUT = PRESETS["tiny"].config, PRESETS["tiny"].input
THIN = DenseNetConfig(growth_rate=1, bn_size=0, block_config=(256,), stem=Stem.CIFAR)
"""The hostile tester's network: 256 layers of one channel each, which run far below the device's peak."""


class FakeClock:
    """A clock that moves 1 ms at each reading, and as far as a test pushes it."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 0.001
        return self.t


def tiny_run(**kwargs: Any) -> tuple[torch.nn.Module, Any, torch.Tensor]:
    spec = InputSpec.square(32, batch=1)
    model, plan = rt.build_for_run(TINY, spec)
    return model, plan, rt.random_input(spec, 3)


# --- refused up front, from a measured pass ---------------------------------------------------------------------


@pytest.mark.slow
def test_the_thin_network_is_refused_from_a_measured_pass(capsys: pytest.CaptureFixture[str]) -> None:
    # The tester's command: the plan and a quarter of the peak said ~109 s; a pass takes 12-20 s, so 72 take ~15 min.
    args = ["--growth-rate", "1", "--bn-size", "0", "--block-config", "256", "--stem", "cifar", "--input-size", "256"]
    code = main(
        ["run", *args, "--runs", "70", "--warmup", "0", "--threads", "1", "--image", "random", "--device", "cpu"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "densviz: error: this run would take about " in err
    assert "(72 passes: 70 timed, the shape check's and the memory's, of about " in err
    assert "a measured pass at batch 1, " in err and "over the 120 s limit; lower the runs" in err


def test_thin_layers_are_timed_not_guessed_from_the_peak() -> None:
    # 32 passes of the thin network at 128² on one thread: a quarter of the peak says ~14 s, they take ~100 s here.
    # Refused up front from a measured pass; where the machine is fast enough that the probe says it fits, the
    # limit stops it between passes instead. Either way it ends with a sentence, and never runs unchecked.
    spec = InputSpec.square(128, batch=1)
    model, plan = rt.build_for_run(THIN, spec)
    options = rt.RunOptions(device="cpu", runs=30, warmup=0, threads=1, max_seconds=20)
    with pytest.raises(ConfigError) as caught:
        rt.run_forward(model, plan, rt.random_input(spec, 3), options)
    said = str(caught.value)
    if not isinstance(caught.value, RunStoppedError):
        assert said.startswith("this run would take about ") and "over the 20 s limit; lower the runs" in said
        assert "(32 passes: 30 timed, the shape check's and the memory's, of about " in said
        assert ": a measured pass at batch 1, " in said
    else:  # pragma: no cover (a machine several times faster than this one)
        assert said.startswith("stopped after ") and "the time limit of 20 s was reached" in said


def test_a_run_whose_measured_passes_exceed_the_limit_is_refused_before_any_counted_pass() -> None:
    model, plan, x = tiny_run()
    clock = FakeClock()
    counted: list[int] = []

    def slow(_module: object, _inputs: object, _output: object) -> None:
        clock.t += 1.0  # every pass of this "device" takes a second

    model.register_forward_hook(slow)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(limit, "_clock", clock)
        with pytest.raises(ConfigError) as caught:
            rt.run_forward(
                model,
                plan,
                x,
                rt.RunOptions(device="cpu", runs=10, warmup=0, max_seconds=5),
                on_pass=lambda done, _total: counted.append(done),
            )
    assert counted == []  # refused before the shape check's pass
    assert str(caught.value).startswith("this run would take about ")
    assert " s on cpu (12 passes: 10 timed, the shape check's and the memory's, of about " in str(caught.value)
    assert "a measured pass at batch 1, 4×4 took 1.0 s, scaled by MACs to batch 1, 32×32), over the 5 s limit" in str(
        caught.value
    )


def test_the_probe_climbs_to_the_runs_own_size_when_it_is_short() -> None:
    model, _plan, x = tiny_run()
    probe = probe_pass(model.eval(), x, TINY, torch.device("cpu"), rt.Precision.FP32, clock=FakeClock())
    assert probe.full and probe.pass_seconds == probe.seconds
    assert probe.describe().startswith("a measured pass at batch 1, 32×32 took ")


def test_the_probe_stops_climbing_at_its_budget_and_scales_by_macs() -> None:
    spec = InputSpec.square(64, batch=4)
    model, _plan = rt.build_for_run(TINY, spec)
    clock = FakeClock()

    def cost(_module: object, inputs: tuple[torch.Tensor, ...]) -> None:
        clock.t += 1e-4 * inputs[0].numel() / 3  # 0.1 ms a pixel: 4×4 takes 1.6 ms, 32×32 0.1 s, 64×64 0.4 s

    model.register_forward_pre_hook(cost)
    probe = probe_pass(
        model.eval(), rt.random_input(spec, 3), TINY, torch.device("cpu"), rt.Precision.FP32, budget=1.0, clock=clock
    )
    # 4², 8², 16² three times each and 32² twice end at 0.32 s; 64² (0.41 s) once, as a second look would end past
    # 1 s; batch 2 (0.82 s) would end past it too: the last step is 64×64, scaled by MACs to batch 4
    assert probe.steps == 5 and not probe.full and (probe.batch, probe.height, probe.width) == (1, 64, 64)
    assert probe.seconds == pytest.approx(0.4096, abs=0.003)
    assert probe.pass_seconds == pytest.approx(probe.seconds * 4)
    assert probe.describe() == "a measured pass at batch 1, 64×64 took 411 ms, scaled by MACs to batch 4, 64×64"


def test_probe_steps_double_the_side_then_the_batch() -> None:
    assert probe_steps(TINY, 4, 64, 48) == [
        (1, 4, 4),  # the smallest input the network accepts
        (1, 8, 6),
        (1, 16, 12),
        (1, 32, 24),
        (1, 64, 48),
        (2, 64, 48),
        (4, 64, 48),
    ]
    assert probe_steps(TINY, 1, 4, 4) == [(1, 4, 4)]


# --- stopped between passes ----------------------------------------------------------------------------------------


def test_a_run_that_reaches_its_limit_stops_between_passes() -> None:
    model, plan, x = tiny_run()
    clock = FakeClock()

    def ten_seconds_each(_done: int, _total: int) -> None:
        clock.t += 10.0  # the machine slowed down after the probe: every pass now takes 10 s

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(limit, "_clock", clock)
        with pytest.raises(RunStoppedError) as caught:
            rt.run_forward(
                model, plan, x, rt.RunOptions(device="cpu", runs=10, warmup=0, max_seconds=25), on_pass=ten_seconds_each
            )
    err = caught.value
    assert (err.done, err.total, err.asked) == (3, 12, False)
    assert str(err) == (
        "stopped after 3 of 12 passes: the time limit of 25 s was reached, and their timings were discarded; "
        "lower the runs, the batch or the input size."
    )


@pytest.mark.parametrize("max_seconds", [None, 120.0])
def test_a_stop_set_after_pass_2_ends_the_run_there(max_seconds: float | None) -> None:
    model, plan, x = tiny_run()
    stop = threading.Event()
    done: list[int] = []

    def on_pass(n: int, _total: int) -> None:
        done.append(n)
        if n == 2:
            stop.set()

    with pytest.raises(
        RunStoppedError, match=r"^stopped after 2 of 7 passes, as asked; their timings were discarded\.$"
    ):
        rt.run_forward(
            model,
            plan,
            x,
            rt.RunOptions(device="cpu", runs=4, warmup=1, max_seconds=max_seconds),
            stop=stop,
            on_pass=on_pass,
        )
    assert done == [1, 2]


def test_a_stop_set_from_another_thread_during_pass_3_lets_that_pass_finish() -> None:
    model, plan, x = tiny_run()
    stop, in_flight = threading.Event(), threading.Event()
    calls, done = [0], []

    def third_pass(_module: object, _inputs: object) -> None:
        calls[0] += 1
        if calls[0] == 3:  # pass 3 is in flight: another thread sets the event, and the pass goes on
            in_flight.set()
            assert stop.wait(60)

    model.register_forward_pre_hook(third_pass)
    thread = threading.Thread(target=lambda: in_flight.wait(60) and stop.set())
    thread.start()
    with pytest.raises(RunStoppedError) as caught:
        rt.run_forward(
            model,
            plan,
            x,
            rt.RunOptions(device="cpu", runs=1000, warmup=0, max_seconds=None),  # no probe: every pass is counted
            stop=stop,
            on_pass=lambda n, _total: done.append(n),
        )
    thread.join()
    assert caught.value.asked and (caught.value.done, caught.value.total) == (3, 1002) and done == [1, 2, 3]


def test_a_stop_set_before_the_run_runs_no_pass() -> None:
    model, plan, x = tiny_run()
    stop = threading.Event()
    stop.set()
    with pytest.raises(RunStoppedError, match=r"^stopped after 0 of 4 passes, as asked"):
        rt.run_forward(model, plan, x, rt.RunOptions(device="cpu", runs=1, warmup=1), stop=stop)


def test_the_cli_says_a_stopped_run_in_a_sentence(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(limit, "_clock", clock)
    real = rt.run_forward

    def slowing(*args: Any, **kwargs: Any) -> Any:
        kwargs["on_pass"] = lambda _n, _t: setattr(clock, "t", clock.t + 50.0)
        return real(*args, **kwargs)

    import densviz.run

    monkeypatch.setattr(densviz.run, "run_forward", slowing)
    code = main(["run", "--preset", "tiny", "--runs", "5", "--warmup", "0", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "densviz: error: stopped after 3 of 7 passes: the time limit of 120 s was reached" in err


def test_ctrl_c_stops_the_cli_run_after_the_pass_in_flight(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import os
    import signal

    real = rt.run_forward
    done: list[int] = []
    monkeypatch.setattr(limit, "_clock", FakeClock())  # passes of 1 ms: a busy machine cannot refuse the run

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        def on_pass(n: int, _total: int) -> None:
            done.append(n)
            if n == 2:
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, once

        return real(*args, **kwargs, on_pass=on_pass)

    import densviz.run

    monkeypatch.setattr(densviz.run, "run_forward", interrupted)
    before = signal.getsignal(signal.SIGINT)
    code = main(["run", "--preset", "tiny", "--runs", "20", "--warmup", "0", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 130 and "Traceback" not in err and done == [1, 2]
    assert "densviz: note: stopping after the pass in flight (Ctrl-C again to stop at once)." in err
    assert "densviz: error: stopped after 2 of 22 passes, as asked; their timings were discarded. (Ctrl-C)" in err
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back


# --- the page --------------------------------------------------------------------------------------------------------


def test_the_page_says_how_far_an_interrupted_run_got_and_ends_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import densviz.ui.forward as forward

    at = start({"preset": "tiny", "view": "Forward pass"})
    at.button(key="forward_run").click().run()
    before = [m.value for m in at.metric][5:]
    watched: list[Any] = []

    def interrupted(job: Any, _status: object, _bar: object, progress: Any) -> None:
        watched.append(job)
        progress.done, progress.total = 2, 12  # as two pass records would have said
        raise StopException()  # what Streamlit raises at the bar's update when Stop is pressed or the session ends

    monkeypatch.setattr(forward, "_watch_job", interrupted)
    at.button(key="forward_run").click().run()
    assert not at.exception
    assert watched and watched[0].stop_asked_at is not None  # the job is stopped once the script is left
    assert watched[0].wait(30)
    monkeypatch.undo()
    at.run()
    assert not at.exception
    said = [i.value for i in at.info]
    assert said == [
        "The last run stopped after 2 of 12 passes, before it finished (Stop was pressed, or the page changed "
        "while it ran); its timings were discarded."
    ]
    assert at.warning[0].value.endswith(
        "the latest run with the current settings did not finish. Press Run for the current settings."
    )
    assert [m.value for m in at.metric][5:] == before  # the last finished run, marked
    at.run()
    assert not at.info  # said once


def test_the_page_shows_a_run_stopped_by_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    import densviz.ui.forward as forward

    monkeypatch.setattr(forward, "forward_job", stopped_job)  # runs on a worker, which imports it by name
    at = start({"preset": "tiny", "view": "Forward pass"})
    at.button(key="forward_run").click().run()
    assert not at.exception
    assert at.status[0].state == "error" and at.status[0].label == "The run stopped"
    assert [e.value for e in at.error] == [
        "Stopped after 3 of 12 passes: the time limit of 120 s was reached, and their timings were discarded."
    ]
    assert not at.info  # it ended in the script: nothing to say on the next rerun
    at.run()
    assert not at.info


def test_a_run_offers_stop_while_it_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    import streamlit as st

    import densviz.ui.forward as forward

    offered: list[object] = []
    real = forward._watch_job

    def watching(*args: Any, **kwargs: Any) -> Any:
        offered.append(st.session_state["forward_stop"])  # the Stop button is on the page while the run goes
        return real(*args, **kwargs)

    monkeypatch.setattr(forward, "_watch_job", watching)
    at = start({"preset": "tiny", "view": "Forward pass"})
    assert not [b for b in at.button if b.key == "forward_stop"]  # no run, no Stop
    at.button(key="forward_run").click().run()
    assert offered == [False] and not at.exception and not at.error
    assert not [b for b in at.button if b.key == "forward_stop"]  # taken away once the run ended


def test_the_pass_watcher_stops_a_run_whose_session_is_gone() -> None:
    from densviz.ui.forward import _Progress, _RunKey, pass_watcher

    key = _RunKey(TINY, (32, 32), "cpu", "fp32", False, 1, "random tensor", "random (untrained)")
    stop, progress = threading.Event(), _Progress(key)
    bar_calls: list[object] = []

    class Bar:
        def progress(self, *args: object, **kwargs: object) -> None:
            bar_calls.append(args)

    watch = pass_watcher(stop, Bar(), progress)
    thread = threading.Thread(target=watch, args=(1, 12))  # no script run context in this thread
    thread.start()
    thread.join()
    assert stop.is_set() and (progress.done, progress.total) == (1, 12) and not bar_calls


def stopped_job(_request: object, _ctx: object) -> None:
    """A forward-pass job stopped by its limit (module level: the worker imports it by name)."""
    raise RunStoppedError(
        3, 12, ": the time limit of 120 s was reached, and their timings were discarded.", asked=False
    )
