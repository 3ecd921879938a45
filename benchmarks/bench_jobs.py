"""Jobs on the local pool: Stop's latency, the worker freed after a session ends, and a page's rerun during training.

Prints, each beside its target:

1. Stop's latency, forward passes, the Export view's files and ONNX model, and
   training runs: the time from ``stop()`` to the job's work ending (it saw the
   Stop between two passes, steps or parts, or its worker was killed) and to
   the job's end (a stopped training run first
   evaluates and sends back the network trained so far). Target: the work
   ends within 1 s.
2. The worker freed after a session ends: from ``end_session`` (and from the
   moment the liveness check says the session is gone) to the next job in
   line starting on that worker. Target: 5 s.
3. "While a DenseNet-121 training job runs, a slider move in another session
   reruns within 1.5× of its time on an idle server": AppTest reruns after
   growth-rate moves (the server's side of a rerun, in this process) while
   the digits variant of DenseNet-121 trains on the pool, against the same
   moves with that worker paused (SIGSTOP): pairs of the same move with every
   cache cleared, alternating which comes first, so that the load others put
   on a shared machine falls on both alike.

    .venv/bin/python benchmarks/bench_jobs.py [--repeats 3] [--moves 16] [--only stop|freed|rerun]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

from densviz.core.config import PRESETS, InputSpec
from densviz.draw.options import GraphOptions
from densviz.jobs import Engine, Job, files, work
from densviz.jobs.local import LocalPool
from densviz.reuse import TrainOptions, training_variant
from densviz.run import RunOptions

APP = str(Path(__file__).resolve().parents[1] / "app.py")
STOP_TARGET_S = 1.0
FREED_TARGET_S = 5.0
RERUN_TARGET = 1.5
WAIT_S = 300.0


def _session() -> str:
    return f"bench-{uuid.uuid4().hex[:8]}"


def _until_running(job: Job, records: int = 1) -> None:
    """Wait until ``job`` runs and has sent ``records`` progress records."""
    deadline = time.monotonic() + WAIT_S
    while len(job.history()) < records and not job.done() and time.monotonic() < deadline:
        time.sleep(0.02)
    if job.done() or len(job.history()) < records:
        raise SystemExit(f"the job did not start: {job.error()}")


def _stop_once(engine: Engine, kind: str, fn: Any, payload: Any, records: int) -> tuple[float, float, str]:
    """Start a job, let it run, stop it: (stop → work ended, stop → job ended, how)."""
    job = engine.submit(_session(), kind, fn, payload)
    _until_running(job, records)
    time.sleep(0.5)  # mid-pass or mid-step, not at its start
    job.stop()
    job.wait(WAIT_S)
    assert job.stop_asked_at is not None and job.ended_at is not None
    if job.stop_seen_at is not None:
        return job.stop_seen_at - job.stop_asked_at, job.ended_at - job.stop_asked_at, "seen"
    return job.ended_at - job.stop_asked_at, job.ended_at - job.stop_asked_at, "killed"


def stop_latency(engine: Engine, repeats: int) -> None:
    densenet121 = PRESETS["densenet121"]
    cases = [
        (
            "forward, tiny, short passes",
            "forward",
            work.forward,
            work.ForwardRequest(PRESETS["tiny"].config, PRESETS["tiny"].input, RunOptions(runs=1000, threads=1)),
            8,
        ),
        (
            "forward, DenseNet-121 224² batch 16 (long passes)",
            "forward",
            work.forward,
            work.ForwardRequest(
                densenet121.config, InputSpec.square(224, batch=16), RunOptions(runs=100, threads=1, max_seconds=900)
            ),
            8,
        ),
    ]
    cases += [
        (
            "files, DenseNet-121's zip (every chart image)",
            "files",
            files.make_files,
            files.FilesRequest(densenet121.config, densenet121.input, GraphOptions(), zip=True),
            2,
        ),
        (
            "ONNX, DenseNet-121 (export and check)",
            "onnx",
            files.onnx_model,
            files.OnnxRequest(densenet121.config, densenet121.input),
            1,
        ),
    ]
    for name in ("tiny", "densenet40_k12", "densenet121"):
        variant = training_variant(PRESETS[name].config)
        request = work.TrainRequest(variant, TrainOptions(epochs=200, max_seconds=600))
        cases.append((f"training, {name} on the digits", "train", work.train, request, 1))
    print("1. Stop → the job's work ended (seen between passes/steps, or killed) → the job ended:")
    for label, kind, fn, payload, records in cases:
        runs = [_stop_once(engine, kind, fn, payload, records) for _ in range(repeats)]
        work_s = max(r[0] for r in runs)
        end_s = max(r[1] for r in runs)
        how = "/".join(sorted({r[2] for r in runs}))
        print(
            f"   {label:52} work ended ≤ {work_s:.2f} s ({how}), job ended ≤ {end_s:.2f} s; "
            f"target {STOP_TARGET_S:g} s, ratio {work_s / STOP_TARGET_S:.2f}"
        )


def freed_after_session_end(engine: LocalPool) -> None:
    variant = training_variant(PRESETS["densenet40_k12"].config)
    print(f"2. A session ends mid-training: its worker starts the next job in line (pool of {engine.workers}):")
    for how in ("end_session", "liveness check"):
        gone: set[str] = set()
        engine.watch_sessions(lambda sid, gone=gone: sid not in gone)  # type: ignore[misc]
        mine = _session()
        request = work.TrainRequest(variant, TrainOptions(epochs=200))
        fillers = [engine.submit(_session(), "hold", work.train, request) for _ in range(engine.workers - 1)]
        trains = engine.submit(mine, "train", work.train, request)
        for job in [*fillers, trains]:
            _until_running(job)
        tiny = PRESETS["tiny"]
        forward = work.ForwardRequest(tiny.config, tiny.input, RunOptions(runs=3, threads=1))
        nxt = engine.submit(_session(), "forward", work.forward, forward)
        start = time.monotonic()
        if how == "end_session":
            engine.end_session(mine)
        else:
            gone.add(mine)
        deadline = start + WAIT_S
        while nxt.started_at is None and time.monotonic() < deadline:
            time.sleep(0.01)
        freed = (nxt.started_at or float("nan")) - start
        print(
            f"   by {how:15} job ended after {(trains.ended_at or float('nan')) - start:.2f} s, "
            f"next job started after {freed:.2f} s; target {FREED_TARGET_S:g} s, ratio {freed / FREED_TARGET_S:.2f}"
        )
        nxt.wait(WAIT_S)
        for job in fillers:
            job.stop()
            job.wait(WAIT_S)
    engine.watch_sessions(lambda _sid: True)


def _move(at: AppTest, value: int) -> float:
    """Seconds of one growth-rate move's rerun, every cache cleared first."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    start = time.perf_counter()
    at.slider(key="growth_rate").set_value(value).run()
    seconds = time.perf_counter() - start
    assert not at.exception, [e.value for e in at.exception]
    return seconds


def rerun_during_training(engine: LocalPool, moves: int) -> None:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["preset"] = "densenet121"
    at.run()
    for value in (20, 21, 12):  # warm: imports and first-run costs out of the way
        _move(at, value)
    variant = training_variant(PRESETS["densenet121"].config)
    job = engine.submit(
        _session(), "train", work.train, work.TrainRequest(variant, TrainOptions(epochs=200, max_seconds=600))
    )
    _until_running(job)
    pid = engine.pid_of(job)
    assert pid is not None
    idle: list[float] = []
    busy: list[float] = []
    try:
        for i in range(moves):
            value = 20 + i  # each pair times the same move (12 → value), every cache cleared before it
            for phase in ("idle", "busy") if i % 2 == 0 else ("busy", "idle"):
                # The idle server is this one with the training worker paused: the same processes and
                # memory, no training on the cores. Pairs alternate so that the load others put on the
                # machine falls on both alike.
                os.kill(pid, signal.SIGSTOP if phase == "idle" else signal.SIGCONT)
                time.sleep(0.3)
                _move(at, 12)  # untimed: back to the start of the move
                (idle if phase == "idle" else busy).append(_move(at, value))
        if job.done():
            raise SystemExit("the training job ended before the moves did; raise its epochs")
    finally:
        os.kill(pid, signal.SIGCONT)
        job.stop()
        job.wait(WAIT_S)
    a, b = statistics.median(idle), statistics.median(busy)
    print(
        f"3. Growth-rate move in another session (AppTest rerun of DenseNet-121's page, caches cleared, {moves} pairs, "
        f"pool of {engine.workers}):"
    )
    print(
        f"   idle server (the training worker paused) median {a:.3f} s (slowest {max(idle):.3f} s); during a "
        f"DenseNet-121 training job median {b:.3f} s (slowest {max(busy):.3f} s); ratio {b / a:.2f}, "
        f"target ≤ {RERUN_TARGET}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="stops per case (the slowest is printed)")
    parser.add_argument("--moves", type=int, default=16, help="idle/busy pairs of growth-rate moves")
    parser.add_argument("--only", choices=["stop", "freed", "rerun"], help="one part only")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"{os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at the start")
    pool = LocalPool()  # the default size: the cores but one
    try:
        if args.only in (None, "stop"):
            stop_latency(pool, args.repeats)
        if args.only in (None, "freed"):
            freed_after_session_end(pool)
        if args.only in (None, "rerun"):
            rerun_during_training(pool, args.moves)
    finally:
        pool.shutdown()
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at the end")


if __name__ == "__main__":
    main()
