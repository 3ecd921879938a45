"""The Feature reuse view's training job: its progress line, its log from the job's records, its session's end."""

from __future__ import annotations

import time

import pytest

from densviz import jobs
from densviz.core.config import PRESETS
from densviz.jobs import FailureKind, JobState, StopReason
from densviz.jobs.work import TrainProgress
from densviz.reuse import TrainLog, TrainOptions, training_variant
from densviz.reuse.training import EpochRecord
from densviz.ui import job_watch
from densviz.ui import reuse as page


def _log(steps: int = 0) -> TrainLog:
    log = TrainLog.for_run(TrainOptions(epochs=2))
    log.losses.extend((s, 0.1 * s, 2.0 / s) for s in range(1, steps + 1))
    return log


def test_the_progress_line_gives_the_place_in_the_queue_then_the_run() -> None:
    options = TrainOptions(epochs=2, max_seconds=60)
    assert page._progress_text(_log(), options, position=0) == "starting… (building the model, loading the digits)"
    assert page._progress_text(_log(), options, position=1) == "waiting for a free worker: yours is next…"
    assert page._progress_text(_log(), options, position=2) == "waiting for a free worker: 1 run ahead of yours…"
    assert page._progress_text(_log(), options, position=3) == "waiting for a free worker: 2 runs ahead of yours…"
    log = _log(steps=4)
    log.epochs.append(EpochRecord(1, 4, 0.4, 0.5, 0.8, 0.875))
    assert page._progress_text(log, options, position=0) == (
        f"step 4/{log.total_steps} · 0.4 s of 60 s · loss 0.500 · held-out accuracy 87.5% after epoch 1"
    )
    assert page._progress_text(log, options, position=0, stopping=True) == (
        "stopping: the network trained so far is being evaluated…"
    )


def test_the_page_puts_the_log_together_from_the_records_it_has_not_seen() -> None:
    class FakeJob:  # only the records matter here: the real job's history is tested in test_jobs
        def __init__(self) -> None:
            self.records: list[object] = []

        def history(self, since: int = 0) -> list[object]:
            return self.records[since:]

    options = TrainOptions(epochs=1)
    job = FakeJob()
    tj = page.TrainJob(job, training_variant(PRESETS["tiny"].config), options)  # type: ignore[arg-type]
    epoch = EpochRecord(1, 3, 0.3, 1.0, 0.5, 0.6)
    job.records += [
        TrainProgress(2, 23, 0.2, 1.5, 2 / 23, ((1, 0.1, 2.0), (2, 0.2, 1.5)), ()),
        "a record of another kind is skipped",
    ]
    assert tj.update().losses == [(1, 0.1, 2.0), (2, 0.2, 1.5)]
    job.records.append(TrainProgress(3, 23, 0.3, 1.0, 3 / 23, ((3, 0.3, 1.0),), (epoch,)))
    log = tj.update()  # only the new record is folded in: no step twice
    assert [s for s, _, _ in log.losses] == [1, 2, 3] and log.epochs == [epoch]
    assert log.fraction == pytest.approx(3 / 23)


def test_a_training_job_ends_when_its_session_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tab closed mid-run: the engine's session check stops the job and frees its worker."""
    gone: set[str] = set()
    monkeypatch.setattr(job_watch, "session_alive", lambda sid: sid not in gone)
    options = TrainOptions(epochs=50, max_seconds=600.0, batch_size=16)
    tj = page._start(training_variant(PRESETS["tiny"].config), options)
    job = tj.job
    deadline = time.monotonic() + 120
    while not job.history() and time.monotonic() < deadline:  # training, not waiting for a worker
        time.sleep(0.05)
    assert job.state() is JobState.RUNNING and job.history()
    gone.add(job.session_id)  # as runtime.is_active_session says once the tab has closed
    assert job.wait(30)
    assert job.stop_reason is StopReason.SESSION
    failure = job.failure()
    assert failure is not None and failure.kind is FailureKind.STOPPED
    assert failure.sentence == "Stopped: the session that started it ended."
    assert job not in jobs.engine().running()


def test_a_run_killed_at_stop_says_why_nothing_was_kept() -> None:
    from tests.test_jobs import stubborn  # a job that never looks at Stop, as a long step in flight

    job = jobs.engine().submit("test-killed-at-stop", "train", stubborn, 600.0)
    deadline = time.monotonic() + 120
    while not job.history() and time.monotonic() < deadline:
        time.sleep(0.05)
    job.stop()
    assert job.wait(30) and job.result() is None
    assert page._failure_sentence(job) == (
        "Training stopped: the step in flight was still running a moment after Stop, so the run was ended there "
        "and nothing it learned was kept (a smaller network or batch stops after its step and keeps it)."
    )
