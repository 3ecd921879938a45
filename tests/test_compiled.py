"""The compiled option: torch.compile with Inductor, really compiled here (gcc), cached, guarded, and said in words.

Each compile of the tiny network takes a few seconds on this machine; the
cache's reuse is what keeps the rest of the file quick.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import torch._dynamo
import torch._inductor.config

import densviz.run as rt
from densviz.cli import main
from densviz.core.config import PRESETS, ConfigError, InputSpec
from densviz.run import compiled as cc
from densviz.run.compiled import CompileError, clear_compiled, compile_key, compile_session, estimate_compile
from densviz.run.devices import Precision
from densviz.run.timing import RunOptions

TINY = PRESETS["tiny"].config
SPEC = InputSpec.square(32, batch=2)


@pytest.fixture(autouse=True)
def one_kernel_peak(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(rt.peak, "KERNELS", (rt.peak.gemm_rate,))
    yield


def tiny(seed: int = 0) -> tuple[torch.nn.Module, Any, torch.Tensor]:
    torch.manual_seed(seed)
    model, plan = rt.build_for_run(TINY, SPEC)
    return model, plan, rt.random_input(SPEC, 3)


def eager_logits(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return model.eval()(x)


def options(**kw: Any) -> RunOptions:
    return RunOptions(**{"device": "cpu", "runs": 2, "warmup": 1, "threads": 1, **kw})


def test_the_settings_table_checks_the_option() -> None:
    with pytest.raises(ConfigError, match=r"^compiled must be true or false; got 'yes'\.$"):
        RunOptions(compiled="yes")  # type: ignore[arg-type]
    assert RunOptions().compiled is False


def test_a_compiled_run_is_timed_apart_from_its_compile_and_the_next_reuses_it() -> None:
    clear_compiled()
    model, plan, x = tiny()
    expected = torch.softmax(eager_logits(model, x)[0], 0)
    first = rt.run_forward(model, plan, x, options(compiled=True), weights="tiny.safetensors")
    assert first.compiled and first.compile_seconds is not None and first.compile_seconds > 0
    assert first.compile_source.startswith("compiled now with Inductor")
    assert first.shapes_ok
    # the compiled graph computes what the eager model does (fp32: to rounding)
    for c, p in first.top5:
        assert p == pytest.approx(float(expected[c]), abs=1e-5)
    again = rt.run_forward(model, plan, x, options(compiled=True), weights="tiny.safetensors")
    assert again.compile_source.startswith("reused: compiled by an earlier run in this process")
    assert again.compile_seconds == first.compile_seconds
    data = again.to_dict()
    assert data["compiled"] is True and data["compile_seconds"] == first.compile_seconds


def test_other_weights_are_compiled_anew_and_their_outputs_are_theirs() -> None:
    model, plan, x = tiny(seed=0)
    rt.run_forward(model, plan, x, options(compiled=True), weights="a.safetensors")
    other, _, _ = tiny(seed=1)
    expected = torch.softmax(eager_logits(other, x)[0], 0)
    result = rt.run_forward(other, plan, x, options(compiled=True), weights="b.safetensors")
    assert result.compile_source.startswith("compiled now")  # the frozen graph holds the weights: not reused
    for c, p in result.top5:
        assert p == pytest.approx(float(expected[c]), abs=1e-5)


def test_random_weights_reuse_an_earlier_compile_and_the_model_takes_its_weights() -> None:
    model_a, plan, x = tiny(seed=2)
    rt.run_forward(model_a, plan, x, options(compiled=True))  # random (untrained) weights
    model_b, _, _ = tiny(seed=3)
    assert not torch.equal(eager_logits(model_a, x), eager_logits(model_b, x))
    result = rt.run_forward(model_b, plan, x, options(compiled=True))
    assert result.compile_source.startswith("reused")
    # the model now holds the weights its compiled graph froze, so what the page shows of it agrees
    assert torch.equal(eager_logits(model_a, x), eager_logits(model_b, x))


def test_a_compile_estimated_over_its_limit_is_refused_before_anything_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_compiled()
    monkeypatch.setattr(cc, "GUESS_SECONDS_PER_ROW", 100.0)  # 11 rows: a compile of ~1100 s foreseen
    monkeypatch.setattr(cc, "_RATES", {})  # as in a process that has compiled nothing yet
    model, plan, x = tiny()
    counted: list[int] = []
    with pytest.raises(ConfigError) as caught:
        rt.run_forward(model, plan, x, options(compiled=True), on_pass=lambda n, _t: counted.append(n))
    assert counted == []
    assert str(caught.value) == (
        "compiling this design on cpu would take about 1100 s (no compile measured yet in this process: "
        "100 s assumed per plan row, 11 rows), over the 600 s limit of a compile; run it without compiling."
    )
    rt.run_forward(model, plan, x, options())  # the same run, eager, runs


@pytest.mark.slow  # one more compile
def test_the_compile_is_left_out_of_the_passes_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    import densviz.run.limit as limit

    clock = {"t": 0.0}

    def tick() -> float:
        clock["t"] += 0.001  # every reading a millisecond on
        return clock["t"]

    real_compile = cc.CompileSession._compile

    def an_hour_long(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = real_compile(self, *args, **kwargs)  # the real compile, which the clock then reads as an hour
        clock["t"] += 3600.0
        return out

    monkeypatch.setattr(limit, "_clock", tick)
    monkeypatch.setattr(cc.CompileSession, "_compile", an_hour_long)
    model, plan, x = tiny(seed=21)
    result = rt.run_forward(model, plan, x, options(compiled=True, max_seconds=60), weights="fresh.safetensors")
    assert result.compiled and not result.compile_source.startswith("reused")  # an hour's compile, 60 s of passes


def test_a_cached_compile_is_estimated_at_nothing() -> None:
    model, plan, x = tiny()
    rt.run_forward(model, plan, x, options(compiled=True))
    model, plan, x = tiny()
    key = compile_key(model, plan, x, torch.device("cpu"), Precision.FP32, False, 1, random_weights=True)
    assert estimate_compile(plan, key).seconds == 0.0
    other_batch = compile_key(model, plan, x[:1], torch.device("cpu"), Precision.FP32, False, 1, random_weights=True)
    fresh = estimate_compile(plan, other_batch)
    assert fresh.seconds > 0 and "as the last compile on cpu in this process took" in fresh.source


def test_no_cpp_compiler_is_a_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    clear_compiled()
    model, plan, x = tiny()
    with torch._inductor.config.patch({"cpp.cxx": ("densviz-no-such-compiler",)}):
        with pytest.raises(CompileError, match=r"^Compiling needs a C\+\+ compiler .* run without compiling\.$"):
            rt.run_forward(model, plan, x, options(compiled=True))
        code = main(["run", "--preset", "tiny", "--compiled", "--runs", "1", "--image", "random", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert err.startswith("densviz: error: Compiling needs a C++ compiler")  # said before any work


def _broken_compiler(tmp_path: Path) -> str:
    """A compiler that says its version and fails every compile (a broken toolchain)."""
    path = tmp_path / "broken-g++"
    path.write_text(
        '#!/bin/sh\nif [ "$1" = "--version" ]; then echo "g++ 12"; exit 0; fi\necho "internal error" >&2\nexit 1\n'
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.mark.slow  # compiles with the caches off, or six times
def test_a_failed_compile_is_a_sentence(tmp_path: Path) -> None:
    clear_compiled()
    model, plan, x = tiny(seed=4)
    # kernels built before (the on-disk caches) would hide a broken compiler
    broken = {"cpp.cxx": (_broken_compiler(tmp_path),), "force_disable_caches": True}
    with torch._inductor.config.patch(broken), pytest.raises(CompileError) as caught:
        rt.run_forward(model, plan, x, options(compiled=True), weights="w.safetensors")
    said = str(caught.value)
    assert said.startswith("torch.compile failed on this design on cpu (") and said.endswith("run without compiling.")
    assert "\n" not in said and len(said) < 400
    clear_compiled()


@pytest.mark.slow  # compiles with the caches off, or six times
def test_past_dynamos_recompile_limit_the_graphs_are_dropped_not_run_eager(monkeypatch: pytest.MonkeyPatch) -> None:
    # Dynamo keeps every compiled DenseNet under DenseNet.forward and runs eager past its limit, silently.
    clear_compiled()
    monkeypatch.setattr(cc, "_RESET_AFTER", 100)  # no reset: the third compile hits the limit
    with torch._dynamo.config.patch(recompile_limit=2), compile_session() as session:
        for seed in (5, 6):
            model, plan, x = tiny(seed)
            session.get(model, plan, x, torch.device("cpu"), Precision.FP32, False, 1)
        model, plan, x = tiny(7)
        with pytest.raises(CompileError, match=r"^torch\.compile failed on this design on cpu \(.*Recompile"):
            session.get(model, plan, x, torch.device("cpu"), Precision.FP32, False, 1)
    clear_compiled()
    monkeypatch.setattr(cc, "_RESET_AFTER", 2)  # as in use: dropped before the limit
    with torch._dynamo.config.patch(recompile_limit=2), compile_session() as session:
        for seed in (5, 6, 7):
            model, plan, x = tiny(seed)
            got = session.get(model, plan, x, torch.device("cpu"), Precision.FP32, False, 1)
            assert not got.reused
            with torch.inference_mode():
                assert torch.allclose(got.module(x), eager_logits(model, x), atol=1e-5)
    clear_compiled()


def test_cli_run_compiled_json_says_the_compile_apart(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["run", "--preset", "tiny", "--batch", "2", "--compiled", "--runs", "2", "--threads", "1"]
    code = main([*argv, "--image", "random", "--device", "cpu", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert data["compiled"] is True
    assert data["compile_seconds"] is not None and data["compile_source"]
    code = main([*argv, "--image", "random", "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0 and "settings          fp32, compiled, batch 2" in out
    assert "compile           " in out and "apart from the run" in out
