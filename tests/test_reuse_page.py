"""The Feature reuse view's progress line: a run waits only behind another run that has not ended."""

from __future__ import annotations

import threading

import pytest

from densviz.core.config import PRESETS
from densviz.reuse import TrainLog, TrainOptions, training_variant
from densviz.reuse.training import EpochRecord
from densviz.ui import reuse as page


def _log(steps: int = 0) -> TrainLog:
    log = TrainLog.for_run(TrainOptions(epochs=2))
    log.losses.extend((s, 0.1 * s, 2.0 / s) for s in range(1, steps + 1))
    return log


def test_a_run_with_nothing_ahead_is_starting_not_waiting() -> None:
    options = TrainOptions(epochs=2, max_seconds=60)
    starting = page._progress_text(_log(), options, ahead=0)
    assert starting == "starting… (building the model, loading the digits)"
    assert page._progress_text(_log(), options, ahead=1) == (
        "waiting to start (another training run is ahead of this one)…"
    )
    assert page._progress_text(_log(), options, ahead=2) == (
        "waiting to start (2 other training runs are ahead of this one)…"
    )
    log = _log(steps=4)
    log.epochs.append(EpochRecord(1, 4, 0.4, 0.5, 0.8, 0.875))
    assert page._progress_text(log, options, ahead=0) == (
        f"step 4/{log.total_steps} · 0.4 s of 60 s · loss 0.500 · held-out accuracy 87.5% after epoch 1"
    )


def test_the_service_counts_only_runs_that_have_not_ended(monkeypatch: pytest.MonkeyPatch) -> None:
    gates = {"first": threading.Event(), "second": threading.Event()}
    order: list[str] = []

    def held(job: page.TrainJob) -> None:  # a run that trains until its gate opens
        name = "first" if not order else "second"
        order.append(name)
        gates[name].wait(timeout=30)

    monkeypatch.setattr(page, "_train", held)
    variant = training_variant(PRESETS["tiny"].config)
    service = page.TrainingService()
    first = service.start(variant, TrainOptions(epochs=1))
    assert service.runs_ahead(first) == 0  # alone: it starts at once
    second = service.start(variant, TrainOptions(epochs=1))
    assert service.runs_ahead(second) == 1 and service.runs_ahead(first) == 0
    gates["first"].set()
    assert first.future is not None and second.future is not None
    first.future.result(timeout=30)
    assert service.runs_ahead(second) == 0  # the first ended: the second is starting, not waiting
    gates["second"].set()
    second.future.result(timeout=30)
    third = service.start(variant, TrainOptions(epochs=1))
    assert service.runs_ahead(third) == 0  # the earlier runs ended: nothing is ahead
    assert third.future is not None
    gates["second"].set()
    third.future.result(timeout=30)


def test_a_training_run_ends_when_its_session_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tab closed mid-run: the run stops at its next step instead of going on to its time limit."""
    options = TrainOptions(epochs=50, max_seconds=600.0, batch_size=16)
    job = page.TrainJob(training_variant(PRESETS["tiny"].config), options, TrainLog.for_run(options), session_id="s1")
    # the session is gone once three steps are done (as runtime.is_active_session would say)
    monkeypatch.setattr(page, "session_alive", lambda _sid: len(job.log.losses) < 3)
    result = page._train(job)
    assert result.stopped_by == "user"
    assert len(job.log.losses) == 3  # stopped at the step after the tab closed, not after 50 epochs
