"""The fastest settings on this device: every candidate really run (and compiled), side by side, and said in words."""

from __future__ import annotations

import json
import statistics
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import torch._inductor.config

import densviz.run as rt
from densviz.cli import main
from densviz.core.config import PRESETS, ConfigError, InputSpec
from densviz.run import compiled as cc
from densviz.run import devices, fastest
from densviz.run.devices import Precision
from densviz.run.fastest import Candidate, FastestOptions, candidates, find_fastest
from densviz.run.limit import RunStoppedError
from densviz.run.timing import RunOptions

TINY = PRESETS["tiny"].config
SPEC = InputSpec.square(32, batch=2)
CPU = torch.device("cpu")
NATIVE_BF16 = bool(devices.cpu_bf16_native())


@pytest.fixture(autouse=True)
def one_kernel_peak(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(rt.peak, "KERNELS", (rt.peak.gemm_rate,))
    yield


def tiny(seed: int = 0) -> tuple[torch.nn.Module, Any, torch.Tensor]:
    torch.manual_seed(seed)
    model, plan = rt.build_for_run(TINY, SPEC)
    return model, plan, rt.random_input(SPEC, 3)


def quick(**kw: Any) -> FastestOptions:
    return FastestOptions(**{"device": "cpu", "runs": 3, "warmup": 1, "threads": 1, **kw})


def _cpuinfo(tmp_path: Path, flags: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nflags\t\t: fpu sse sse2 avx2 {flags}\n")
    return path


def test_the_candidates_follow_what_this_cpu_computes_natively(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    read = devices.cpu_bf16_native.__wrapped__  # the real parser, on CPU descriptions of our making
    (tmp_path / "bf16").mkdir()
    with_bf16, without = _cpuinfo(tmp_path / "bf16", "avx512f avx512_bf16"), _cpuinfo(tmp_path, "avx512f")
    monkeypatch.setattr(fastest, "cpu_bf16_native", lambda: read(str(with_bf16)))
    names, notes = candidates(CPU)
    assert [c.name for c in names] == [
        "eager fp32",
        "eager fp32 channels-last",
        "eager bf16 channels-last",
        "compiled bf16 channels-last",
    ]
    assert notes == []
    monkeypatch.setattr(fastest, "cpu_bf16_native", lambda: read(str(without)))
    names, notes = candidates(CPU)
    assert [c.name for c in names] == ["eager fp32", "eager fp32 channels-last", "compiled fp32 channels-last"]
    assert notes == ["bf16 left out: this CPU has no bf16 units, so PyTorch would emulate it, slower than fp32"]


def test_without_a_compiler_the_compiled_settings_are_left_out_with_the_reason() -> None:
    with torch._inductor.config.patch({"cpp.cxx": ("densviz-no-such-compiler",)}):
        names, notes = candidates(CPU)
    assert not any(c.compiled for c in names)
    assert notes[-1].startswith("compiled settings left out: compiling needs a C++ compiler")


def test_every_candidate_is_measured_against_eager_fp32() -> None:
    model, plan, x = tiny()
    with torch.inference_mode():
        expected = model.eval()(x)
    result = find_fastest(model, plan, x, quick())
    names = [s.candidate.name for s in result.settings]
    assert names == [c.name for c in candidates(CPU)[0]]
    reference, channels_last = result.settings[0], result.settings[1]
    assert reference.candidate == Candidate(Precision.FP32, False) and reference.speedup == 1.0
    assert reference.max_logit_difference == 0.0
    assert channels_last.max_logit_difference < 1e-4  # the same arithmetic in another layout
    base = statistics.median(reference.latencies_ms)
    for s in result.settings:
        assert len(s.latencies_ms) == 3
        assert s.median_ms == statistics.median(s.latencies_ms)
        assert s.speedup == pytest.approx(base / s.median_ms)
        assert s.gflops == pytest.approx(2 * plan.totals.macs * 2 / (s.median_ms / 1e3) / 1e9)
        assert 0 < s.fraction_of_peak <= 1.0
        if s.candidate.precision is Precision.BF16:
            assert 0 < s.max_logit_difference < 0.1 * float(expected.abs().max())  # bf16 rounding, same weights
        assert (s.compile_seconds is not None) == s.candidate.compiled
    assert result.fastest.median_ms == min(s.median_ms for s in result.settings)
    data = result.to_dict()
    assert data["fastest"] == result.fastest.candidate.name and len(data["settings"]) == len(names)
    assert {"setting", "median_ms", "gflops", "fraction_of_peak", "max_logit_difference", "speedup"} <= set(
        data["settings"][0]
    )
    # a precision's peak is the same for all its settings, the best of the kernels or raised by the fastest
    for p in {s.candidate.precision for s in result.settings}:
        same = {(s.peak_gflops, s.peak_source) for s in result.settings if s.candidate.precision is p}
        assert len(same) == 1


@pytest.mark.skipif(not NATIVE_BF16, reason="the compiled candidate is bf16 only on a CPU with bf16 units")
def test_random_weights_reuse_a_compiled_run_and_every_setting_takes_its_weights() -> None:
    model, plan, x = tiny(seed=11)
    rt.run_forward(
        model, plan, x, RunOptions(device="cpu", precision="bf16", channels_last=True, compiled=True, runs=1, threads=1)
    )
    other, _, _ = tiny(seed=12)  # other random weights: the compiled model of the run above is taken, and its weights
    result = find_fastest(other, plan, x, quick())
    compiled = next(s for s in result.settings if s.candidate.compiled)
    assert compiled.compile_source.startswith("reused")
    eager_bf16 = next(s for s in result.settings if s.candidate.name == "eager bf16 channels-last")
    # had the reference kept other weights, the compiled logits would differ from it far beyond bf16 rounding
    assert compiled.max_logit_difference < 2 * eager_bf16.max_logit_difference + 1e-2


def test_a_measurement_over_its_time_limits_is_refused_before_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    model, plan, x = tiny()
    no_compiler = torch._inductor.config.patch({"cpp.cxx": ("densviz-no-such-compiler",)})  # eager candidates only
    with no_compiler, pytest.raises(ConfigError) as caught:
        find_fastest(model, plan, x, quick(runs=1000, max_seconds=1))
    said = str(caught.value)
    settings = 3 if NATIVE_BF16 else 2
    assert said.startswith("this run would take about ") and "over the 1 s limit" in said
    assert f"({settings * 1001} passes: {settings} settings × (1 warm-up + 1000 timed), of about " in said
    monkeypatch.setattr(cc, "GUESS_SECONDS_PER_ROW", 100.0)
    monkeypatch.setattr(cc, "_RATES", {})
    cc.clear_compiled()
    with pytest.raises(ConfigError, match=r"^compiling this design on cpu would take about 1100 s .* over the 60 s"):
        find_fastest(model, plan, x, quick(max_compile_seconds=60))


def test_a_stop_ends_it_between_passes() -> None:
    model, plan, x = tiny()
    stop = threading.Event()
    done: list[int] = []

    def on_pass(n: int, _total: int) -> None:
        done.append(n)
        if n == 3:
            stop.set()

    no_compiler = torch._inductor.config.patch({"cpp.cxx": ("densviz-no-such-compiler",)})  # eager candidates only
    total = 4 * (3 if NATIVE_BF16 else 2)  # eager fp32, fp32 channels-last (and bf16 channels-last): 1 + 3 passes
    with no_compiler, pytest.raises(RunStoppedError, match=rf"^stopped after 3 of {total} passes, as asked"):
        find_fastest(model, plan, x, quick(), stop=stop, on_pass=on_pass)
    assert done == [1, 2, 3]


def test_copies_over_the_memory_budget_are_refused_with_a_sentence() -> None:
    model, plan, x = tiny()
    with pytest.raises(ConfigError, match=r"^measuring the fastest settings keeps \d copies of the weights"):
        find_fastest(model, plan, x, quick(), budget_bytes=plan.totals.param_bytes)


def test_cli_run_fastest_prints_the_table_and_json_includes_it(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["run", "--preset", "tiny", "--batch", "2", "--runs", "2", "--threads", "1", "--image", "random"]
    code = main([*argv, "--device", "cpu", "--fastest"])
    out = capsys.readouterr().out
    assert code == 0
    assert "fastest settings on this device" in out and "eager fp32 channels-last" in out
    assert "\nfastest           " in out and "× eager fp32" in out
    code = main([*argv, "--device", "cpu", "--fastest", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["fastest"]["settings"][0]["setting"] == "eager fp32"
    assert data["fastest"]["fastest"] in [s["setting"] for s in data["fastest"]["settings"]]
