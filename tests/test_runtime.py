"""The forward pass: device choice, precisions, shapes, weights, images, feature maps."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from PIL import Image

import densviz.run as rt
from densviz import build_model
from densviz.cli import main
from densviz.core.config import PRESETS, ConfigError, InputSpec
from densviz.core.plan import make_plan

TINY, TINY_INPUT = PRESETS["tiny"].config, PRESETS["tiny"].input


def fake_cuda(monkeypatch: pytest.MonkeyPatch, bf16: bool = True) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(
        torch.cuda, "get_device_properties", lambda i: SimpleNamespace(name=f"Fake GPU {i}", total_memory=80 << 30)
    )
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: bf16)


def test_cpu_only_machine() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert rt.choose_device("auto") == torch.device("cpu")
    with pytest.raises(ConfigError, match="device must be auto or one of this machine's devices: cpu"):
        rt.choose_device("cuda")
    assert rt.supported_precisions(torch.device("cpu")) == [rt.Precision.FP32, rt.Precision.BF16]


def test_cuda_is_preferred_when_there(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cuda(monkeypatch)
    devices = rt.available_devices()
    assert [d.device for d in devices][:2] == ["cuda:0", "cuda:1"] and devices[-1].device == "cpu"
    assert devices[0].name == "Fake GPU 0" and devices[0].memory_bytes == 80 << 30
    assert rt.choose_device("auto") == torch.device("cuda:0")
    assert rt.choose_device("cuda") == torch.device("cuda:0")
    assert rt.choose_device("cuda:1") == torch.device("cuda:1")
    assert rt.supported_precisions(torch.device("cuda:0")) == [rt.Precision.FP32, rt.Precision.BF16, rt.Precision.FP16]
    fake_cuda(monkeypatch, bf16=False)
    assert rt.supported_precisions(torch.device("cuda:0")) == [rt.Precision.FP32, rt.Precision.FP16]


def test_mps_when_there_is_no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert rt.choose_device("auto") == torch.device("mps")
    assert rt.supported_precisions(torch.device("mps")) == [rt.Precision.FP32, rt.Precision.FP16]


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


def test_weights_round_trip_through_safetensors() -> None:
    torch.manual_seed(1)
    source = build_model(TINY).eval()
    data = rt.save_weights(source)
    target = build_model(TINY).eval()
    report = rt.load_weights(target, data, "tiny.safetensors")
    assert report.ok
    x = rt.random_input(TINY_INPUT, 3)
    with torch.no_grad():
        assert torch.equal(source(x), target(x))


def test_legacy_torchvision_keys_load(tmp_path: Path) -> None:
    source = build_model(TINY)
    legacy = {
        re.sub(r"(denselayer\d+\.(?:norm|conv))([12])\.", r"\1.\2.", k): v
        for k, v in source.state_dict().items()
        if not k.endswith("num_batches_tracked")
    }
    buf = io.BytesIO()
    torch.save(legacy, buf)
    report = rt.load_weights(build_model(TINY), buf.getvalue(), "densenet.pth")
    # 6 dense layers × (norm1: 4 tensors, conv1: 1, norm2: 4, conv2: 1) renamed
    assert report.ok and report.remapped == 6 * (4 + 1 + 4 + 1)


def test_wrong_architecture_is_reported_in_words() -> None:
    data = rt.save_weights(build_model(TINY.replace(growth_rate=4)))
    with pytest.raises(rt.WeightsError) as info:
        rt.load_weights(build_model(TINY), data, "k4.safetensors")
    message = str(info.value)
    assert message.startswith("the weights do not fit this architecture:")
    assert re.search(
        r"\d+ tensors have another shape \(e\.g\. features\.\S+ is \[\d+(, \d+)*\] in the file, \[\d+(, \d+)*\] here\)",
        message,
    )


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (Path.touch, (self.marker,))


def test_a_pickle_that_would_run_code_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    buf = io.BytesIO()
    torch.save({"features.conv0.weight": torch.zeros(1), "x": _Payload(marker)}, buf)
    with pytest.raises(rt.WeightsError, match="holds something other than tensors"):
        rt.load_weights(build_model(TINY), buf.getvalue(), "evil.pth")
    assert not marker.exists()


@pytest.mark.parametrize(
    ("data", "name", "fragment"),
    [
        (b"", "w.pth", "empty"),
        (b"not a checkpoint at all", "w.pth", "not a readable PyTorch checkpoint"),
        (b"\x00" * 64, "w.safetensors", "not a readable safetensors file"),
        (b"{}", "w.json", "must be a .safetensors file or a PyTorch checkpoint"),
    ],
)
def test_bad_weight_files(data: bytes, name: str, fragment: str) -> None:
    with pytest.raises(rt.WeightsError, match=fragment):
        rt.load_weights(build_model(TINY), data, name)


def _png(size: tuple[int, int], mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size).save(buf, "PNG")
    return buf.getvalue()


def test_images_are_checked_before_decoding() -> None:
    good = rt.load_image(_png((64, 48)))
    assert good.shape == (48, 64, 3)
    with pytest.raises(rt.ImageError, match="empty"):
        rt.load_image(b"")
    with pytest.raises(rt.ImageError, match="at most"):
        rt.load_image(_png((64, 48)), max_bytes=10)
    with pytest.raises(rt.ImageError, match="not a PNG or JPEG image"):
        rt.load_image(b"plain text pretending to be a png")
    with pytest.raises(rt.ImageError, match="damaged or truncated"):
        rt.load_image(_png((640, 480))[:200])
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, "GIF")
    with pytest.raises(rt.ImageError, match="the file is GIF; PNG and JPEG are accepted"):
        rt.load_image(gif.getvalue())
    bomb = _png((12_000, 12_000), mode="1")  # 144 Mpx in a few kilobytes
    assert len(bomb) < 100_000
    with pytest.raises(rt.ImageError, match="at most 40,000,000 are accepted"):
        rt.load_image(bomb)
    with pytest.raises(rt.ImageError, match="decompression bomb"):
        rt.load_image(bomb, max_pixels=10**9)  # past our own limit, Pillow's warning still stops it


def test_preprocess_shapes_and_grey() -> None:
    photo = rt.sample_images()["china"]
    x = rt.preprocess(photo, InputSpec(batch=3, height=40, width=56), 3)
    assert x.shape == (3, 3, 40, 56)
    assert x.mean().abs() < 3  # normalised
    assert rt.preprocess(photo, InputSpec.square(32), 1).shape == (1, 1, 32, 32)


def test_feature_maps_of_a_dense_layer() -> None:
    model = build_model(TINY).eval()
    x = rt.preprocess(rt.sample_images()["flower"], TINY_INPUT, 3)
    maps = rt.capture_feature_maps(model, x, ["features.denseblock2.denselayer2", "features.transition1"])
    layer = maps["features.denseblock2.denselayer2"]
    assert layer.output.shape == (8, 16, 16)  # its k = 8 new maps
    assert layer.inherited is not None and layer.inherited.shape == (24, 16, 16)  # 16 + 8 it reads
    assert maps["features.transition1"].inherited is None
    grid = rt.feature_grid(layer.inherited)
    assert grid.shape == (5 * 17 - 1, 5 * 17 - 1) and grid.dtype.name == "uint8"  # 24 maps in a 5×5 grid
    with pytest.raises(ConfigError, match="layer must be a module of this network"):
        rt.capture_feature_maps(model, x, ["features.nowhere"])


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
        (["--image", "/nonexistent.png"], "cannot read the image file"),
        (["--weights", "/nonexistent.pth"], "cannot read the weights file"),
        (["--dtype", "fp8"], "dtype must be fp32, bf16 or fp16"),
        (["--runs", "0"], "runs must be an integer from 1 to 1,000"),
        (["--device", "tpu"], "device must be auto or one of"),
    ],
)
def test_cli_run_bad_input(capsys: pytest.CaptureFixture[str], args: list[str], fragment: str) -> None:
    code = main(["run", "--preset", "tiny", "--runs", "1", *args])
    err = capsys.readouterr().err
    assert code == 2 and fragment in err and "Traceback" not in err


@pytest.mark.slow
def test_training_step_memory_efficient_beats_naive() -> None:
    cfg = PRESETS["densenet_bc100_k12"].config
    peaks = rt.training_step_peak(cfg, InputSpec.square(32, batch=64))
    assert 0 < peaks["efficient"] < peaks["naive"]


def test_every_truncation_of_a_checkpoint_is_refused_in_words() -> None:
    # Found by benchmarks/fuzz_report.py: damaged pickles raised IndexError and struct.error.
    buf = io.BytesIO()
    torch.save(build_model(TINY).state_dict(), buf)
    data = buf.getvalue()
    model = build_model(TINY)
    for n in range(0, len(data), max(1, len(data) // 97)):
        with pytest.raises(rt.WeightsError):
            rt.load_weights(model, data[:n], "cut.pth")


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


def test_bf16_is_flagged_where_the_cpu_has_no_bf16_units(tmp_path: Path) -> None:
    from densviz.run import Precision, cpu_bf16_native, precision_note

    avx2 = tmp_path / "avx2"
    avx2.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n")
    sapphire = tmp_path / "spr"
    sapphire.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16\n")
    graviton = tmp_path / "arm"
    graviton.write_text("processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n")
    assert cpu_bf16_native(str(avx2)) is False
    assert cpu_bf16_native(str(sapphire)) is True and cpu_bf16_native(str(graviton)) is True
    assert cpu_bf16_native(str(tmp_path / "missing")) is None  # not Linux: cannot tell, so no warning
    native = cpu_bf16_native()
    note = precision_note(torch.device("cpu"), Precision.BF16)
    assert (note is not None) == (native is False)
    assert precision_note(torch.device("cpu"), Precision.FP32) is None
