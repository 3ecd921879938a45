"""Jobs on the local pool: real forward passes and training runs on worker processes, Stop, sessions, the queue.

The tests take an ``engine`` fixture; tests/test_jobs_ray.py runs the same
tests on a local Ray instance. Times are not asserted here (the machine is
shared): benchmarks/bench_jobs.py prints Stop's latency and the worker's
release after a session's end.
"""

from __future__ import annotations

import math
import os
import signal
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import torch

from densviz.core.config import PRESETS, ConfigError
from densviz.jobs import (
    Engine,
    FailureKind,
    InlineContext,
    JobState,
    QueueFullError,
    engine_settings,
    work,
)
from densviz.jobs.local import LocalPool
from densviz.nn.model import build_model
from densviz.reuse import TrainOptions, training_variant
from densviz.run import RunOptions, load_weights

TINY = PRESETS["tiny"]
WAIT_S = 120  # generous: the first job on a fresh worker imports what it needs; the machine is shared


# Job functions for the engine's own behaviour (module-level: the workers import them by name).


def hold(seconds: float, ctx: Any) -> str:
    """Says where it runs, then waits, checking Stop, up to ``seconds``."""
    ctx.progress(("holding", os.getpid()))
    end = time.monotonic() + seconds
    while not ctx.stopping() and time.monotonic() < end:
        time.sleep(0.02)
    return "stopped" if ctx.stopping() else "held"


def stubborn(seconds: float, ctx: Any) -> str:
    """Says where it runs, then sleeps without ever looking at Stop."""
    ctx.progress(("stubborn", os.getpid()))
    time.sleep(seconds)
    return "slept"


def failing(_payload: Any, _ctx: Any) -> None:
    """Fails the way a bug does, with details the page must not show."""
    raise KeyError("/srv/secret/path")


# Fixtures.


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    pool = LocalPool(workers=2, queue_limit=3)
    yield pool
    pool.shutdown()


@pytest.fixture(autouse=True)
def _idle_after(engine: Engine) -> Iterator[None]:
    """Every test leaves the engine idle: whatever it left running or queued is stopped."""
    yield
    for job in [*engine.queued(), *engine.running()]:
        job.stop()
    for job in [*engine.queued(), *engine.running()]:
        job.wait(30)


def session() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


def running(job: Any) -> Any:
    """Wait until ``job`` runs on a worker and has sent its first record; that record."""
    deadline = time.monotonic() + WAIT_S
    while not job.history() and not job.done() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert job.state() is JobState.RUNNING and job.history(), (job, job.error())
    return job.history()[0]


def gone(pid: int, within_s: float = 30) -> bool:
    """Whether process ``pid`` has ended (Ray reaps a killed worker a moment after the kill)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


# The real jobs.


def test_a_forward_pass_job_reports_every_pass_and_returns_a_run_that_rebuilds_the_model(engine: Engine) -> None:
    options = RunOptions(runs=3, warmup=1, threads=1)
    request = work.ForwardRequest(TINY.config, TINY.input, options, source="random")
    job = engine.submit(session(), "forward", work.forward, request)
    assert job.wait(WAIT_S) and job.error() is None, job.error()
    run = job.result()
    assert isinstance(run, work.ForwardRun)
    result = run.result
    assert len(result.latencies_ms) == 3 and result.shapes_ok
    assert result.output_shape == (1, 10)  # tiny: batch 1, 10 classes
    passes = [r for r in job.history() if isinstance(r, work.ForwardProgress) and r.step.startswith("pass ")]
    # 1 warm-up + 3 timed + the shape check's + the memory's = 6 passes, each reported once
    assert [(r.done, r.total) for r in passes] == [(n, 6) for n in range(1, 7)]
    assert job.progress() == job.history()[-1]
    # the weights that came back are the ones the run used: the same top-5 on its input
    model = work.model_of(TINY.config, run)
    assert run.input.shape == (1, 3, 32, 32)
    with torch.no_grad():
        probs = torch.softmax(model(run.input)[0], dim=0)
    top = probs.topk(5)
    assert [c for c, _ in result.top5] == top.indices.tolist()
    assert [p for _, p in result.top5] == pytest.approx(top.values.tolist(), abs=1e-4)


def test_a_short_training_job_streams_its_log_and_returns_weights_that_load(engine: Engine) -> None:
    variant = training_variant(TINY.config)
    options = TrainOptions(epochs=1)
    job = engine.submit(session(), "train", work.train, work.TrainRequest(variant, options))
    assert job.wait(WAIT_S) and job.error() is None, job.error()
    run = job.result()
    assert isinstance(run, work.TrainedRun)
    steps = math.ceil(1437 / 64)  # the 1,437 training digits in batches of 64
    assert [s for s, _, _ in run.log.losses] == list(range(1, steps + 1))
    assert len(run.log.epochs) == 1 and run.stopped_by == "epochs"
    assert run.test_accuracy > 0.3  # chance is 0.1; one epoch of tiny reaches ~0.76 with seed 0
    streamed = work.train_log(options, job.history())
    assert streamed.losses and streamed.losses == run.log.losses[: len(streamed.losses)]  # in order, none twice
    model = build_model(variant.config)
    report = load_weights(model, run.weights, "digits.safetensors")
    assert report.classes == tuple(str(d) for d in range(10))
    assert len(run.maps) == len(variant.config.block_config)
    assert run.caption.endswith(f"held-out accuracy {run.test_accuracy:.1%}")


@pytest.mark.slow  # two fresh measuring processes, each importing torch
def test_the_training_step_probe_runs_as_a_job(engine: Engine) -> None:
    from densviz.core.config import InputSpec

    request = work.StepRequest(TINY.config, InputSpec.square(32, batch=2))
    job = engine.submit(session(), "training_step", work.training_step, request)
    assert job.wait(WAIT_S) and job.error() is None, job.error()
    peaks = job.result()
    assert set(peaks) == {"naive", "efficient"} and all(v > 0 for v in peaks.values())


def test_job_functions_run_in_this_process_too() -> None:
    ctx = InlineContext()
    run = work.forward(work.ForwardRequest(TINY.config, TINY.input, RunOptions(runs=1, warmup=0, threads=1)), ctx)
    assert len(run.result.latencies_ms) == 1 and ctx.records


@pytest.mark.slow  # DenseNet-121 at 224×224
def test_a_forward_job_with_imagenet_weights_preprocesses_photos_as_torchvision_does() -> None:
    from densviz.core.config import InputSpec
    from densviz.run import sample_images, save_weights
    from densviz.run.pretrained import imagenet_preprocess

    cfg = PRESETS["densenet121"].config
    request = work.ForwardRequest(
        cfg,
        InputSpec.square(224, batch=2),
        RunOptions(runs=1, warmup=0, threads=1),
        source="china",
        weights=save_weights(build_model(cfg)),  # as an uploaded copy of the published file would come
        weights_name="densenet121.safetensors",
        weights_label="Pretrained (ImageNet): densenet121.safetensors, uploaded",
        imagenet=True,
    )
    run = work.forward(request, InlineContext())
    assert torch.equal(run.input, imagenet_preprocess(sample_images()["china"]))  # not densviz's own preprocess
    assert run.result.weights == "Pretrained (ImageNet): densenet121.safetensors, uploaded"


# Stop, sessions, the queue, limits, failures.


def test_stop_ends_a_training_run_after_its_step_and_keeps_what_it_learned(engine: Engine) -> None:
    variant = training_variant(TINY.config)
    job = engine.submit(session(), "train", work.train, work.TrainRequest(variant, TrainOptions(epochs=200)))
    running(job)
    job.stop()
    assert job.wait(30)
    assert job.state() is JobState.DONE  # it saw the Stop between two steps and ended by itself
    run = job.result()
    # Ended by the Stop, long before its 4,600 steps, with what it learned up to the step that saw it. How
    # many steps ran first depends on how soon the Stop arrives (an epoch is 23 steps, 0.2 s; a loaded
    # machine took longer under Ray), so the test asks for an early end, not for a given epoch.
    last = run.log.epochs[-1]
    assert run.stopped_by == "user" and last.step < run.log.total_steps / 10, (run.stopped_by, last.step)
    assert run.log.losses and run.log.losses[-1][0] >= last.step  # the log goes up to the last step taken
    assert job.stop_seen_at is not None and job.stop_asked_at is not None


def test_stop_kills_a_job_that_does_not_look_and_its_worker_is_replaced(engine: Engine) -> None:
    job = engine.submit(session(), "other", stubborn, 600.0)
    _, pid = running(job)
    job.stop()
    assert job.wait(30)
    failure = job.failure()
    assert failure is not None and failure.kind is FailureKind.STOPPED
    assert failure.sentence == "Stopped before it finished; nothing it computed was kept."
    assert job.stop_seen_at is None  # it never looked: it was killed
    after = engine.submit(session(), "other", hold, 0.0)
    assert after.wait(WAIT_S) and after.result() == "held"
    _, new_pid = after.history()[0]
    assert new_pid != pid
    assert gone(pid)  # the stubborn worker is gone


def test_the_end_of_a_session_frees_its_worker_for_the_next_in_line(engine: Engine) -> None:
    mine, other = session(), session()
    variant = training_variant(TINY.config)
    trains = engine.submit(mine, "train", work.train, work.TrainRequest(variant, TrainOptions(epochs=200)))
    busy = engine.submit(session(), "other", hold, 600.0)  # the pool's other worker
    running(trains)
    running(busy)
    waiting = engine.submit(other, "other", hold, 600.0)
    assert waiting.position() == 1 and waiting.state() is JobState.QUEUED
    assert engine.end_session(mine) == 1
    assert trains.wait(30)
    failure = trains.failure()
    assert failure is not None and failure.sentence == "Stopped: the session that started it ended."
    assert trains.result() is None  # nobody would read it
    running(waiting)  # the freed worker took the next job in line
    assert waiting.position() == 0


def test_the_sessions_check_ends_the_jobs_of_sessions_that_are_gone(engine: Engine) -> None:
    gone = session()
    engine.watch_sessions(lambda sid: sid != gone)
    try:
        job = engine.submit(gone, "other", hold, 600.0)
        assert job.wait(30)
        assert job.error() == "Stopped: the session that started it ended."
    finally:
        engine.watch_sessions(lambda _sid: True)


def test_the_queue_gives_places_refuses_when_full_and_replaces_a_sessions_older_job(engine: Engine) -> None:
    for _ in range(engine.workers):
        running(engine.submit(session(), "other", hold, 600.0))
    s2, s3, s4 = session(), session(), session()
    b = engine.submit(s2, "other", hold, 600.0)
    c = engine.submit(s3, "other", hold, 600.0)
    d = engine.submit(s4, "other", hold, 600.0)
    assert [b.position(), c.position(), d.position()] == [1, 2, 3]
    with pytest.raises(QueueFullError) as full:
        engine.submit(session(), "other", hold, 600.0)
    assert str(full.value) == (
        "The server is busy: 3 runs are waiting already, the most it queues; try again when some have finished."
    )
    b.stop()  # a queued job leaves the queue at once
    assert b.done() and b.error() == "Stopped before it finished; nothing it computed was kept."
    assert [c.position(), d.position()] == [1, 2]
    c2 = engine.submit(s3, "other", hold, 600.0)  # the same session and kind again: it replaces c
    assert c.done() and c.error() == "Stopped: a newer run of the same kind from the same session replaced it."
    assert [d.position(), c2.position()] == [1, 2]


def test_a_session_runs_one_job_at_a_time(engine: Engine) -> None:
    mine = session()
    first = engine.submit(mine, "other", hold, 600.0)
    running(first)
    second = engine.submit(mine, "another kind", hold, 0.0)  # queues behind the session's running job
    someone = engine.submit(session(), "other", hold, 0.0)  # takes the free worker before it
    assert someone.wait(WAIT_S) and someone.result() == "held"
    assert second.state() is JobState.QUEUED and first.state() is JobState.RUNNING
    first.stop()
    assert first.wait(30) and first.result() == "stopped"  # it looked, and ended by itself
    assert second.wait(WAIT_S) and second.result() == "held"


def test_a_job_past_its_time_limit_is_stopped(engine: Engine) -> None:
    job = engine.submit(session(), "other", stubborn, 600.0, time_limit_s=1.0)
    assert job.wait(60)
    failure = job.failure()
    assert failure is not None and failure.kind is FailureKind.TIME_LIMIT
    assert failure.sentence == "Stopped at its time limit of 1 s."


def test_an_exception_in_a_job_comes_back_as_a_sentence(engine: Engine) -> None:
    job = engine.submit(session(), "other", failing, None)
    assert job.wait(WAIT_S) and job.state() is JobState.FAILED
    failure = job.failure()
    assert failure is not None and failure.kind is FailureKind.INTERNAL
    assert failure.sentence == "The job stopped with an unexpected error (KeyError); the server's log has the details."
    assert failure.error == "KeyError" and "secret" not in failure.sentence
    refused = engine.submit(
        session(), "forward", work.forward, work.ForwardRequest(TINY.config, TINY.input, RunOptions(), source="upload")
    )
    assert refused.wait(WAIT_S)
    failure = refused.failure()
    assert failure is not None and failure.kind is FailureKind.REFUSED and failure.error == "ImageError"
    assert failure.sentence == "choose a PNG or JPEG file to upload first."


def test_a_killed_worker_is_replaced_and_its_job_says_so(engine: Engine) -> None:
    job = engine.submit(session(), "other", stubborn, 600.0)
    _, pid = running(job)
    os.kill(pid, signal.SIGKILL)  # as the kernel's out-of-memory killer would
    assert job.wait(60)
    failure = job.failure()
    assert failure is not None and failure.kind is FailureKind.WORKER_LOST, failure
    after = engine.submit(session(), "other", hold, 0.0)
    assert after.wait(WAIT_S) and after.result() == "held"


def test_a_job_must_be_a_module_level_function_on_plain_data(engine: Engine) -> None:
    with pytest.raises(TypeError, match="module-level function"):
        engine.submit(session(), "other", lambda payload, ctx: payload, 1)


def test_the_engine_settings_come_from_the_environment() -> None:
    assert engine_settings({}) == engine_settings({"DENSVIZ_JOB_WORKERS": " "})
    settings = engine_settings({"DENSVIZ_JOB_WORKERS": "3", "DENSVIZ_JOB_QUEUE": "10", "DENSVIZ_RAY_ADDRESS": "auto"})
    assert (settings.workers, settings.queue_limit, settings.ray_address) == (3, 10, "auto")
    assert engine_settings({"DENSVIZ_RAY_ADDRESS": "ray://head:10001"}).ray_address == "ray://head:10001"
    assert engine_settings({}).ray_address is None and engine_settings({}).workers is None
    with pytest.raises(ConfigError) as bad:
        engine_settings({"DENSVIZ_JOB_WORKERS": "two"})
    assert (
        str(bad.value)
        == "DENSVIZ_JOB_WORKERS must be a whole number from 1 to 256, or unset for the default; got 'two'."
    )
    with pytest.raises(ConfigError, match="DENSVIZ_JOB_QUEUE must be a whole number from 1 to 10000"):
        engine_settings({"DENSVIZ_JOB_QUEUE": "0"})
    with pytest.raises(ConfigError, match="DENSVIZ_RAY_ADDRESS must be local, auto or a ray://host:port address"):
        engine_settings({"DENSVIZ_RAY_ADDRESS": "http://head:8265"})


def test_training_never_takes_the_last_free_worker(engine: Engine) -> None:
    # the engine has two workers: one training run at a time, the other worker is for short jobs
    first = engine.submit(session(), "train", hold, 600.0)
    running(first)
    second = engine.submit(session(), "train", hold, 600.0)
    short = engine.submit(session(), "forward", hold, 0.0)  # behind the second training run, yet it goes first
    assert short.wait(WAIT_S) and short.result() == "held"
    assert second.state() is JobState.QUEUED  # a worker was free, and kept free
    first.stop()
    assert first.wait(30)
    running(second)  # the training worker is free again: the next training run takes it
