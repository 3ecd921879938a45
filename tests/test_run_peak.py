"""The device's peak: the best of several measured kernels, cached per (device, precision, threads), raised by runs."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
import torch

import densviz.run as rt
from densviz.cli import main
from densviz.core.config import PRESETS, InputSpec
from densviz.run import peak

TINY = PRESETS["tiny"].config


@pytest.fixture(autouse=True)
def fresh_peaks() -> Iterator[None]:
    peak.clear_peaks()  # no test sees a peak another test measured or faked
    yield
    peak.clear_peaks()


def fake(name: str, gflops: float, calls: list[str]) -> Callable[[torch.device, rt.Precision], rt.KernelRate]:
    def kernel(_device: torch.device, precision: rt.Precision) -> rt.KernelRate:
        calls.append(name)
        return rt.KernelRate(f"{precision.value} {name}", gflops)

    return kernel


def test_the_peak_is_the_best_of_the_kernels_and_is_measured_once_per_key(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    kernels = (fake("GEMM 2048²", 90.0, calls), fake("conv", 250.0, calls), fake("other", 120.0, calls))
    monkeypatch.setattr(peak, "KERNELS", kernels)
    found = rt.device_peak("cpu", rt.Precision.FP32, 1)
    assert found.gflops == 250.0 == max(k.gflops for k in found.kernels)
    assert found.source == (
        "best of fp32 GEMM 2048² (90.0 GFLOP/s), fp32 conv (250.0 GFLOP/s) and fp32 other (120.0 GFLOP/s), 1 thread"
    )
    assert not found.raised
    rt.device_peak("cpu", rt.Precision.FP32, 1)
    assert len(calls) == 3  # cached
    assert rt.device_peak("cpu", rt.Precision.FP32, 2).source.endswith("2 threads")
    assert rt.device_peak("cpu", rt.Precision.BF16, 1).source.startswith("best of bf16 GEMM")
    assert len(calls) == 9  # one measurement per (device, precision, threads)


def test_the_real_kernels_are_a_gemm_and_a_channels_last_convolution() -> None:
    found = rt.device_peak("cpu", rt.Precision.FP32, 1)
    names = [k.name for k in found.kernels]
    assert names[0].startswith("fp32 GEMM ") and names[1].startswith("fp32 channels-last conv 3×3 256→256 @56², batch ")
    assert all(k.gflops > 0 for k in found.kernels)
    assert found.gflops == max(k.gflops for k in found.kernels)
    assert found.source.startswith("best of fp32 GEMM") and found.source.endswith(", 1 thread")
    assert torch.get_num_threads() >= 1  # the thread count is restored after the measurement


def test_a_run_faster_than_the_peak_raises_it_and_never_reads_over_100_percent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(peak, "KERNELS", (fake("GEMM 2048²", 1e-3, []), fake("conv", 2e-3, [])))
    spec = InputSpec.square(32, batch=2)
    model, plan = rt.build_for_run(TINY, spec)
    options = rt.RunOptions(device="cpu", runs=2, warmup=1, max_seconds=None)
    first = rt.run_forward(model, plan, rt.random_input(spec, 3), options)
    assert first.fraction_of_peak == 1.0 and first.peak_gflops == first.gflops
    assert first.peak_source.startswith(
        f"raised to this run's rate ({first.gflops:.1f} GFLOP/s), which beat the best of"
    )
    assert "fp32 conv (0.0 GFLOP/s)" in first.peak_source
    second = rt.run_forward(model, plan, rt.random_input(spec, 3), options)
    assert second.fraction_of_peak <= 1.0
    assert second.peak_gflops == max(first.gflops, second.gflops)  # the cached peak is the fastest run's rate
    assert "raised to" in second.peak_source


def test_observe_rate_keeps_a_peak_that_the_run_does_not_beat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peak, "KERNELS", (fake("GEMM", 100.0, []),))
    assert rt.observe_rate("cpu", rt.Precision.FP32, 1, 40.0).gflops == 100.0
    raised = rt.observe_rate("cpu", rt.Precision.FP32, 1, 140.0)
    assert (raised.gflops, raised.raised, raised.raised_now) == (140.0, True, True)
    later = rt.device_peak("cpu", rt.Precision.FP32, 1)
    assert later.gflops == 140.0 and later.source.startswith("raised to an earlier run's rate (140.0 GFLOP/s)")


@pytest.mark.parametrize(
    "extra", [[], ["--channels-last"], ["--dtype", "bf16"], ["--dtype", "bf16", "--channels-last"]]
)
def test_cli_json_says_how_the_peak_was_found_and_stays_at_most_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    monkeypatch.setattr(peak, "KERNELS", (fake("GEMM 2048²", 0.5, []), fake("conv", 0.25, [])))
    code = main(["run", "--preset", "tiny", "--device", "cpu", "--threads", "1", "--runs", "2", "--json", *extra])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert 0 < data["fraction_of_peak"] <= 1
    assert data["peak_source"].startswith("raised to this run's rate")
    assert data["peak_gflops"] == pytest.approx(data["gflops"])


def test_cli_text_says_how_the_peak_was_measured(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(peak, "KERNELS", (fake("GEMM 2048²", 1e6, []), fake("conv", 2e6, [])))
    assert main(["run", "--preset", "tiny", "--device", "cpu", "--threads", "1", "--runs", "1"]) == 0
    out = capsys.readouterr().out
    assert "of this device's fp32 peak of 2000000.0 GFLOP/s" in out
    assert (
        "peak              best of fp32 GEMM 2048² (1000000.0 GFLOP/s) and fp32 conv (2000000.0 GFLOP/s), 1 thread"
        in out
    )
