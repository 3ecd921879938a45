"""Peak memory of a forward pass, by the allocator's accounting, against the plan's estimate, on every run."""

from __future__ import annotations

import itertools
import json

import pytest
import torch

import densviz.run as rt
from densviz.cli import main
from densviz.core.config import PRESETS, InputSpec
from densviz.run import memory

D121 = PRESETS["densenet121"].config


@pytest.mark.parametrize(
    ("precision", "channels_last"),
    [(rt.Precision.FP32, False), (rt.Precision.FP32, True), (rt.Precision.BF16, True)],
)
def test_densenet121_peak_memory_is_near_the_estimate_on_every_run(
    precision: rt.Precision, channels_last: bool
) -> None:
    spec = InputSpec.square(224, batch=1)
    options = rt.RunOptions(device="cpu", precision=precision, channels_last=channels_last, runs=1, warmup=0, threads=1)
    figures = []
    for _ in range(2):  # the second run reuses the heap the first one grew: it must still count its tensors
        model, plan = rt.build_for_run(D121, spec)
        figures.append(rt.run_forward(model, plan, rt.random_input(spec, 3), options))
    estimate = plan.memory.inference_peak_bytes // (1 if precision is rt.Precision.FP32 else 2)
    for result in figures:
        assert result.estimated_peak_memory_bytes == estimate
        assert estimate / 2 <= result.peak_memory_bytes <= 2 * estimate, (result.peak_memory_bytes, estimate)
        assert result.memory_source.startswith("CPU allocator as the profiler records it")
    assert figures[0].peak_memory_bytes == figures[1].peak_memory_bytes  # measured the same way each time


def test_cli_json_has_the_measured_peak_beside_the_estimate(capfd: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--preset", "tiny", "--input-size", "96", "--device", "cpu", "--runs", "1", "--json"])
    out, err = capfd.readouterr()
    data = json.loads(out)
    from densviz.core.plan import make_plan

    estimate = make_plan(PRESETS["tiny"].config, InputSpec.square(96)).memory.inference_peak_bytes
    assert code == 0 and data["estimated_peak_memory_bytes"] == estimate
    assert estimate / 2 <= data["peak_memory_bytes"] <= 2 * estimate
    assert "profiler" in data["memory_source"] and "estimate" in data["estimate_source"]
    assert "USDT" not in err  # the profiler's own log lines are silenced


def test_cli_text_shows_measured_and_estimated_memory(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--preset", "tiny", "--device", "cpu", "--runs", "1"]) == 0
    out = capsys.readouterr().out
    assert "peak memory       " in out and " measured (CPU allocator as the profiler records it" in out
    assert " estimated (the plan's estimate: the float32 activations alive at once" in out


def test_mps_memory_is_read_after_every_module(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = itertools.count(1000, 100)  # the allocator's figure grows by 100 bytes at each reading
    monkeypatch.setattr(torch.mps, "current_allocated_memory", lambda: next(counter))
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten())
    peak, source = memory._mps_forward_peak(model, torch.randn(1, 3, 8, 8), torch.device("cpu"), rt.Precision.FP32)
    assert peak == 400  # four modules (the Sequential and its three), each read once, above the reading before
    assert source.startswith("MPS allocator (current_allocated_memory) read after every module")
