"""The timed forward pass: every CPU path, shape checks against the plan, the time budget, ``densviz run``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import densviz.run as rt
from densviz import build_model
from densviz.cli import main
from densviz.core.config import PRESETS, ConfigError, InputSpec
from densviz.core.plan import make_plan

TINY, TINY_INPUT = PRESETS["tiny"].config, PRESETS["tiny"].input


@pytest.mark.parametrize(
    ("precision", "channels_last"),
    [(rt.Precision.FP32, False), (rt.Precision.FP32, True), (rt.Precision.BF16, False), (rt.Precision.BF16, True)],
)
def test_every_cpu_path_runs_and_matches_the_plan(precision: rt.Precision, channels_last: bool) -> None:
    spec = InputSpec.square(32, batch=2)
    model, plan = rt.build_for_run(TINY, spec)
    x = rt.random_input(spec, 3)
    with torch.no_grad():
        reference = model.eval()(x)
    result = rt.run_forward(
        model, plan, x, rt.RunOptions(device="cpu", precision=precision, channels_last=channels_last, runs=2, warmup=1)
    )
    assert result.shapes_ok and len(result.shapes) == len(plan.layers) + len(plan.blocks)
    assert result.output_shape == (2, 10) and len(result.top5) == 5
    probs = torch.softmax(reference[0], 0)
    assert result.top5[0][0] == int(probs.argmax())  # the same best class as fp32
    assert result.median_ms > 0 and result.gflops > 0 and result.peak_gflops > 0
    assert result.gflops == pytest.approx(2 * plan.totals.macs * 2 / (result.median_ms / 1e3) / 1e9)


def test_unsupported_precision_is_refused() -> None:
    model, plan = rt.build_for_run(TINY, TINY_INPUT)
    with pytest.raises(ConfigError, match="dtype must be one of fp32, bf16 on cpu; got 'fp16'"):
        rt.run_forward(
            model, plan, rt.random_input(TINY_INPUT, 3), rt.RunOptions(device="cpu", precision="fp16", runs=1)
        )


def test_a_model_that_differs_from_the_plan_is_caught() -> None:
    plan = make_plan(TINY, TINY_INPUT)
    other = build_model(TINY.replace(compression=0.75))
    result = rt.run_forward(other, plan, rt.random_input(TINY_INPUT, 3), rt.RunOptions(device="cpu", runs=1, warmup=0))
    assert not result.shapes_ok
    assert "features.transition1" in {s.name for s in result.shapes if not s.ok}


def test_a_run_over_its_time_budget_is_refused_up_front() -> None:
    spec = InputSpec.square(224, batch=64)
    plan = make_plan(PRESETS["densenet121"].config, spec)
    model = build_model(PRESETS["densenet121"].config, device="meta")  # never runs: refused first
    with pytest.raises(ConfigError, match=r"this run would take about \d+ s .* over the 5 s limit; lower the runs"):
        rt.run_forward(
            model,
            plan,
            torch.empty(64, 3, 224, 224, device="meta"),
            rt.RunOptions(device="cpu", runs=50, max_seconds=5),
        )


def test_cli_run_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--preset", "tiny", "--runs", "2", "--json", "--image", "flower"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["shapes_verified"] is True and data["output_shape"] == [1, 10]
    assert data["device"] == ("cuda:0" if torch.cuda.is_available() else "cpu")
    assert len(data["top5"]) == 5


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--image", "/nonexistent.png"], "Cannot read the image file"),
        (["--weights", "/nonexistent.pth"], "Cannot read the weights file"),
        (["--dtype", "fp8"], "dtype must be one of fp32, bf16, fp16"),
        (["--runs", "0"], "runs must be an integer from 1 to 1,000"),
        (["--device", "tpu"], "device must be auto or one of"),
    ],
)
def test_cli_run_bad_input(capsys: pytest.CaptureFixture[str], args: list[str], fragment: str) -> None:
    code = main(["run", "--preset", "tiny", "--runs", "1", *args])
    err = capsys.readouterr().err
    assert code == 2 and fragment in err and "Traceback" not in err


def test_random_weights_are_said_to_mean_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--preset", "tiny", "--runs", "1", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "weights           random (untrained): the top-5 below means nothing" in out
    assert "top-5 of image 1: class " in out
    assert main(["run", "--preset", "tiny", "--runs", "1", "--device", "cpu", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["weights"] == "random (untrained)" and data["classes"] is None
    assert all(entry["name"] is None for entry in data["top5"])


def test_digits_with_weights_from_a_file_are_named_0_to_9(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "densenet-digits.safetensors"
    path.write_bytes(rt.save_weights(build_model(TINY)))  # a 10-class network, as `densviz reuse` writes it
    args = ["run", "--preset", "tiny", "--runs", "1", "--device", "cpu", "--weights", str(path), "--json"]
    assert main([*args, "--image", "digits"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["weights"] == "densenet-digits.safetensors" and data["classes"] == list("0123456789")
    assert [entry["name"] for entry in data["top5"]] == [str(entry["class"]) for entry in data["top5"]]
    assert main([*args, "--image", "flower"]) == 0  # not the digits: the classes are not known
    data = json.loads(capsys.readouterr().out)
    assert data["weights"] == "densenet-digits.safetensors" and data["classes"] is None
    assert main([*args[:-1], "--image", "digits"]) == 0
    out = capsys.readouterr().out
    assert "weights           densenet-digits.safetensors\n" in out and "top-5 of image 1: class" not in out


def test_a_file_that_names_its_classes_names_the_top5(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = tuple(f"kind {i}" for i in range(10))
    path = tmp_path / "named.safetensors"
    path.write_bytes(rt.save_weights(build_model(TINY), classes=names))
    assert main(["run", "--preset", "tiny", "--runs", "1", "--weights", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["classes"] == list(names) and data["top5"][0]["name"] == names[data["top5"][0]["class"]]


def test_class_names_must_fit_the_network() -> None:
    model, plan = rt.build_for_run(TINY, TINY_INPUT)
    with pytest.raises(ValueError, match="3 class names for a network with 10 classes"):
        rt.run_forward(
            model, plan, rt.random_input(TINY_INPUT, 3), rt.RunOptions(device="cpu"), classes=("a", "b", "c")
        )
