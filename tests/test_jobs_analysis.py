"""The Forward pass view's analyses as jobs (densviz/jobs/analysis.py) on the local pool: real workers, real models.

Each job's result is checked against the same function run here, in this
process, on the same weights and input. tests/test_jobs_ray.py runs the same
tests on a local Ray instance.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from densviz import jobs
from densviz.core.config import PRESETS, ConfigError
from densviz.core.plan import make_plan
from densviz.jobs import Engine, FailureKind, InlineContext, JobState
from densviz.jobs.analysis import (
    AnalysisProgress,
    CamRequest,
    FastestRequest,
    FeatureRequest,
    LayerMaps,
    ProfileRequest,
    cam,
    fastest,
    feature_maps,
    profile,
)
from densviz.nn.model import build_model
from densviz.run.cam import CamMethod, cam_rows
from densviz.run.fastest import FastestOptions
from densviz.run.features import capture_feature_maps, feature_grid
from densviz.run.profile import ProfileOptions
from densviz.run.weights import load_weights, save_weights

TINY = PRESETS["tiny"]
WAIT_S = 180  # a fresh worker imports and measures; the machine is shared


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    """The process's engine, as the page uses it (tests/test_jobs_ray.py gives a Ray engine instead)."""
    yield jobs.engine()


def session() -> str:
    return f"test-analysis-{uuid.uuid4().hex[:8]}"


def trained_weights() -> tuple[torch.nn.Module, bytes]:
    """A tiny network whose batch norms have running statistics that are not the identity, and its weights file."""
    torch.manual_seed(7)
    model = build_model(TINY.config)
    model.train()
    with torch.no_grad():
        model(torch.randn(8, 3, 32, 32))
    model.eval()
    data = save_weights(model)
    again = build_model(TINY.config)  # what the worker does: a fresh network loaded from the bytes
    load_weights(again, data, "run.safetensors")
    return again.eval(), data


def test_a_cam_job_gives_the_rows_cam_rows_gives_here_for_the_same_weights_and_input(engine: Engine) -> None:
    model, data = trained_weights()
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    for target in (None, 3):
        job = engine.submit(session(), "cam", cam, CamRequest(TINY.config, data, x, target=target, device="cpu"))
        assert job.wait(WAIT_S) and job.error() is None, job.error()
        rows = job.result()
        here = cam_rows(model, x, methods=tuple(CamMethod), target=target, device="cpu")
        assert set(rows) == set(CamMethod)
        for method in CamMethod:
            got, want = rows[method], here[method]
            assert (got.target, got.predicted) == (want.target, want.predicted)
            assert got.target_probability == pytest.approx(want.target_probability, abs=1e-6)
            # tiny: blocks 1-3 and the two transitions; the CIFAR stem keeps 32², each transition halves it
            assert [p.module for p in got.panels] == [
                "features.denseblock1",
                "features.transition1",
                "features.denseblock2",
                "features.transition2",
                "features.denseblock3",
            ]
            assert [p.hw for p in got.panels] == [(32, 32), (16, 16), (16, 16), (8, 8), (8, 8)]
            for a, b in zip(got.panels, want.panels, strict=True):
                np.testing.assert_allclose(a.raw, b.raw, rtol=1e-5, atol=1e-6)
                np.testing.assert_allclose(a.upsampled, b.upsampled, rtol=1e-5, atol=1e-6)
        assert rows[CamMethod.GRADCAM].target == (3 if target == 3 else rows[CamMethod.GRADCAM].predicted)
    assert any(isinstance(r, AnalysisProgress) for r in job.history())


def test_a_feature_maps_job_tiles_the_layer_as_the_explorer_did_here(engine: Engine) -> None:
    model, data = trained_weights()
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    layer = "features.denseblock1.denselayer2"
    job = engine.submit(session(), "features", feature_maps, FeatureRequest(TINY.config, data, x, layer))
    assert job.wait(WAIT_S) and job.error() is None, job.error()
    maps = job.result()
    assert isinstance(maps, LayerMaps) and maps.name == layer
    # the second layer of block 1 reads the stem's 16 maps and the first layer's k = 8; it adds k = 8 at 32×32
    assert maps.output_shape == (8, 32, 32) and maps.inherited_channels == 24
    # 8 tiles: 3 columns × 3 rows of 32 px with 1 px lines; 24 tiles: 5 × 5
    assert maps.output.shape == (3 * 33 - 1, 3 * 33 - 1) and maps.output.dtype == np.uint8
    assert maps.inherited is not None and maps.inherited.shape == (5 * 33 - 1, 5 * 33 - 1)
    here = capture_feature_maps(model, x, [layer])[layer]
    assert here.inherited is not None
    np.testing.assert_array_equal(maps.output, feature_grid(here.output))
    np.testing.assert_array_equal(maps.inherited, feature_grid(here.inherited))
    # a transition reads one tensor, not a list: no maps it reuses
    job = engine.submit(
        session(), "features", feature_maps, FeatureRequest(TINY.config, data, x, "features.transition1")
    )
    assert job.wait(WAIT_S) and job.error() is None, job.error()
    assert job.result().inherited is None and job.result().output_shape == (16, 16, 16)  # (16 + 2·8) / 2, halved


def test_a_cam_target_the_network_lacks_is_the_sentence_cam_rows_says(engine: Engine) -> None:
    model, data = trained_weights()
    x = torch.randn(1, 3, 32, 32)
    with pytest.raises(ConfigError) as said:
        cam_rows(model, x, target=10, device="cpu")
    job = engine.submit(session(), "cam", cam, CamRequest(TINY.config, data, x, target=10, device="cpu"))
    assert job.wait(WAIT_S)
    failure = job.failure()
    assert failure is not None and failure.kind is FailureKind.REFUSED and failure.sentence == str(said.value)


def test_a_profile_job_profiles_every_row_of_the_plan_with_its_trace(engine: Engine) -> None:
    options = ProfileOptions(device="cpu", runs=2, warmup=1, threads=1, trace=True, max_seconds=120)
    job = engine.submit(session(), "profile", profile, ProfileRequest(TINY.config, TINY.input, options))
    assert job.wait(WAIT_S) and job.error() is None, job.error()
    result = job.result()
    plan = make_plan(TINY.config, TINY.input)
    assert {r.name for r in result.rows} <= {r.name for r in plan.layers}
    assert "classifier" in {r.name for r in result.rows} and result.runs == 2 and result.batch == 1
    assert result.total_ms > 0 and result.end_to_end_ms > 0
    assert result.trace is not None and "traceEvents" in json.loads(result.trace)
    passes = [r for r in job.history() if isinstance(r, AnalysisProgress) and r.total]
    total = options.warmup + 2 * options.runs + 2  # ProfileOptions.passes, worked out: 1 + 2·2 + 2
    assert passes and passes[-1].done == passes[-1].total == total
    steps = [r.step for r in job.history() if isinstance(r, AnalysisProgress) and not r.total]
    assert steps[0] == "building the model"


def test_stop_ends_a_profile_between_two_passes(engine: Engine) -> None:
    options = ProfileOptions(device="cpu", runs=100_000, warmup=1, threads=1)  # hours of passes, no time limit
    job = engine.submit(session(), "profile", profile, ProfileRequest(TINY.config, TINY.input, options))
    deadline = time.monotonic() + WAIT_S
    while not any(isinstance(r, AnalysisProgress) and r.total for r in job.history()) and not job.done():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert job.state() is JobState.RUNNING, job.error()
    job.stop()
    assert job.wait(30)
    failure = job.failure()
    assert failure is not None and failure.kind is FailureKind.STOPPED
    # it saw the Stop after the pass in flight (a job that never looked is killed and has no stop_seen_at)
    assert job.stop_seen_at is not None and job.stop_asked_at is not None
    done = max(r.done for r in job.history() if isinstance(r, AnalysisProgress))
    assert done < options.warmup + 2 * options.runs + 2
    print(f"Stop to end: {job.ended_at - job.stop_asked_at:.3f} s")  # type: ignore[operator]


def test_the_fastest_settings_over_their_limit_are_the_sentence_said_here(engine: Engine) -> None:
    options = FastestOptions(device="cpu", runs=100_000, warmup=1, threads=1, max_seconds=1.0)
    request = FastestRequest(TINY.config, TINY.input, options)
    with pytest.raises(ConfigError) as said:
        fastest(request, InlineContext())
    job = engine.submit(session(), "fastest", fastest, request)
    assert job.wait(WAIT_S)
    failure = job.failure()
    assert failure is not None and failure.kind is FailureKind.REFUSED
    # the estimate's figures differ between two measurements; the sentence's form does not
    assert failure.sentence.split(" about ")[0] == str(said.value).split(" about ")[0]
