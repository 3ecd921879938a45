"""Guards of densviz.run that hold: each case here was reproduced against the earlier code.

Images by their shape (read from the header, never decoded), checkpoints that
are zip bombs (read from the zip's directory, never unpacked), tensors of a
kind no network holds, and the training-step measurement (its estimate
checked against the budget before a process starts; a killed, failing or
slow measuring process is a sentence, never a wait without end).
"""

from __future__ import annotations

import io
import multiprocessing
import os
import signal
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

import densviz.run as rt
import densviz.run.training_step as training_step
from densviz import build_model
from densviz.cli import main as cli_main
from densviz.core.config import PRESETS, DenseNetConfig, InputSpec
from densviz.core.errors import ConfigError, SurroundingsError
from densviz.core.plan import checked_plan, make_plan
from densviz.run.inputs import IMAGENET_MEAN, IMAGENET_STD

TINY, TINY_INPUT = PRESETS["tiny"].config, PRESETS["tiny"].input


# --- images: the shape, from the header -------------------------------------------


def _png(size: tuple[int, int], mode: str = "L") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def never_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a long thin image's pixels are decoded: its refusal must come from the header."""
    original = ImageFile.ImageFile.load

    def load(self: ImageFile.ImageFile) -> Any:
        width, height = self.size
        if max(width, height) > 20 * min(width, height):
            raise AssertionError(f"the pixels of a {width}×{height} image were decoded")
        return original(self)  # other images (the sample photographs) as ever

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


@pytest.mark.parametrize("size", [(1_000_000, 40), (40, 1_000_000), (40_000_000, 1), (21, 1)])
def test_an_image_too_long_and_thin_is_refused_from_its_header(size: tuple[int, int], never_decode: None) -> None:
    # 40 × 1,000,000 is exactly 40 Mpx, within the pixel limit: it was resized to 256 × 6.4 M (5.4 GB)
    data = _png(size)
    assert len(data) < 100_000
    with pytest.raises(rt.ImageError, match=r"its long side [\d.,]+ times its short side; at most 20:1 is accepted"):
        rt.load_image(data)


def test_an_image_at_the_shape_limit_still_loads() -> None:
    assert rt.load_image(_png((400, 20))).shape == (20, 400, 3)
    assert rt.load_image(_png((20, 400))).shape == (400, 20, 3)


def test_the_cli_refuses_a_long_thin_image_with_a_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], never_decode: None
) -> None:
    path = tmp_path / "thin.png"
    path.write_bytes(_png((1_000_000, 40)))
    assert cli_main(["run", "--preset", "tiny", "--image", str(path), "--runs", "1", "--warmup", "0"]) == 2
    err = capsys.readouterr().err
    assert "at most 20:1 is accepted" in err and "Traceback" not in err


@pytest.fixture
def resized(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Every size Pillow is asked to resize to; one over 20 Mpx fails the test before it is made."""
    sizes: list[tuple[int, int]] = []
    resize = Image.Image.resize

    def watched(self: Image.Image, size: tuple[int, int], *args: Any, **kwargs: Any) -> Image.Image:
        sizes.append(tuple(size))  # type: ignore[arg-type]
        assert size[0] * size[1] <= 20_000_000, f"asked to make a {size[0]}×{size[1]} image"
        return resize(self, size, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "resize", watched)
    return sizes


@pytest.mark.parametrize(("height", "width"), [(1, 4096), (4096, 1), (224, 224), (32, 48)])
def test_preprocess_makes_no_image_larger_than_the_input(height: int, width: int, resized: list[Any]) -> None:
    # a 20:1 image for a 1 × 4,096 input: resizing it whole first made 93,623 × 4,681 = 438 Mpx
    image = np.zeros((100, 2000, 3), dtype=np.uint8)
    x = rt.preprocess(image, InputSpec(batch=2, height=height, width=width), 3)
    assert x.shape == (2, 3, height, width)
    assert resized == [(width, height)]


def test_preprocess_refuses_an_array_no_upload_could_be() -> None:
    with pytest.raises(rt.ImageError, match="at most 20:1"):
        rt.preprocess(np.zeros((1, 40_000, 3), dtype=np.uint8), TINY_INPUT, 3)
    with pytest.raises(rt.ImageError, match=r"\(height, width, 3\) uint8"):
        rt.preprocess(np.zeros((8, 8), dtype=np.uint8), TINY_INPUT, 3)


def _resize_then_crop(image: np.ndarray, spec: InputSpec) -> np.ndarray:
    """The recipe as it was: the whole image resized, then the centre cropped."""
    img = Image.fromarray(image)
    scale = max(spec.height, spec.width) * 256 / 224 / min(img.size)
    img = img.resize(
        (max(spec.width, round(img.width * scale)), max(spec.height, round(img.height * scale))),
        Image.Resampling.BILINEAR,
    )
    left, top = (img.width - spec.width) // 2, (img.height - spec.height) // 2
    return np.asarray(img.crop((left, top, left + spec.width, top + spec.height)), dtype=np.float32)


@pytest.mark.parametrize(("height", "width"), [(32, 32), (40, 56), (224, 224), (1, 300)])
def test_preprocess_gives_the_pixels_it_gave_before(height: int, width: int) -> None:
    image = np.random.default_rng(0).integers(0, 256, (120, 90, 3), dtype=np.uint8)
    spec = InputSpec(batch=1, height=height, width=width)
    x = rt.preprocess(image, spec, 3)[0]
    pixels = (x * torch.tensor(IMAGENET_STD).view(3, 1, 1) + torch.tensor(IMAGENET_MEAN).view(3, 1, 1)) * 255
    assert np.abs(pixels.permute(1, 2, 0).numpy() - _resize_then_crop(image, spec)).max() < 1.01


# --- weights: zip archives, from their directory --------------------------------------


def _rezip(
    extra: Callable[[zipfile.ZipFile], None] | None = None, compress: int = zipfile.ZIP_STORED, drop: str = ""
) -> bytes:
    """The tiny model's checkpoint as torch.save writes it, rewritten: records recompressed, one dropped, more added."""
    buf = io.BytesIO()
    torch.save(build_model(TINY).state_dict(), buf)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(out, "w", compress) as dst:
        for info in src.infolist():
            if not drop or not info.filename.endswith(drop):
                dst.writestr(info.filename, src.read(info.filename))
        if extra is not None:
            extra(dst)
    return out.getvalue()


def _zeros(name: str, size: int) -> Callable[[zipfile.ZipFile], None]:
    """A record of ``size`` zero bytes, deflated, written a MiB at a time (this test's memory stays small)."""

    def write(zf: zipfile.ZipFile) -> None:
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        chunk = bytes(1 << 20)
        with zf.open(info, "w", force_zip64=True) as f:
            for start in range(0, size, len(chunk)):
                f.write(chunk[: size - start])

    return write


@pytest.fixture
def never_unpickle(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every call of torch.load: a refusal must come before it."""
    calls: list[str] = []

    def load(*args: Any, **kwargs: Any) -> Any:
        calls.append("torch.load")
        raise AssertionError("torch.load was called")

    monkeypatch.setattr(torch, "load", load)
    return calls


def test_a_zip_bomb_is_refused_before_torch_unpacks_it(never_unpickle: list[str]) -> None:
    # 2.0 MB that torch.load inflated to 2 GiB before a key was read; here 257 MiB in well under 1 MB
    data = _rezip(_zeros("archive/data/0", rt.MAX_WEIGHTS_BYTES + (1 << 20)), drop="data/0")
    assert len(data) < 1 << 20
    with pytest.raises(rt.WeightsError, match=r"would unpack to 257 MiB .*at most 256 MiB"):
        rt.load_weights(build_model(TINY), data, "bomb.pth")
    assert never_unpickle == []


def test_a_record_compressed_like_a_bomb_is_refused(never_unpickle: list[str]) -> None:
    data = _rezip(_zeros("archive/data/zeros", 4 << 20))  # 4 MiB of zeros deflate to 4 KiB: within the total
    with pytest.raises(rt.WeightsError, match=r"record 'archive/data/zeros' is compressed [\d,]+:1 \(at most 100:1"):
        rt.load_weights(build_model(TINY), data, "bomb.pth")
    assert never_unpickle == []


def test_an_archive_of_too_many_records_is_refused_before_zipfile_reads_it(never_unpickle: list[str]) -> None:
    data = b"PK\x03\x04" + b"PK\x01\x02" * (rt.MAX_ARCHIVE_MEMBERS + 1)
    with pytest.raises(rt.WeightsError, match="more than 20,000 records"):
        rt.load_weights(build_model(TINY), data, "many.pth")
    assert never_unpickle == []


def test_a_damaged_archive_is_refused_in_words(never_unpickle: list[str]) -> None:
    data = _rezip()
    with pytest.raises(rt.WeightsError, match="a damaged zip archive"):
        rt.load_weights(build_model(TINY), data[: len(data) - 30], "cut.pth")
    assert never_unpickle == []


def test_a_deflated_checkpoint_of_real_weights_still_loads() -> None:
    source = build_model(TINY)
    data = _rezip(compress=zipfile.ZIP_DEFLATED)
    assert any(i.compress_type == zipfile.ZIP_DEFLATED for i in zipfile.ZipFile(io.BytesIO(data)).infolist())
    assert rt.load_weights(source, data, "deflated.pth").ok


def test_the_cli_refuses_a_zip_bomb_with_a_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bomb.pth"
    path.write_bytes(_rezip(_zeros("archive/data/zeros", 4 << 20)))
    assert cli_main(["run", "--preset", "tiny", "--weights", str(path), "--runs", "1", "--warmup", "0"]) == 2
    err = capsys.readouterr().err
    assert "is compressed" in err and "Traceback" not in err


# --- weights: the kinds of tensor -------------------------------------------------------

KEY = "features.conv0.weight"


def _with(tensor: Callable[[torch.Tensor], torch.Tensor], key: str = KEY) -> dict[str, torch.Tensor]:
    state = build_model(TINY).state_dict()
    return {**state, key: tensor(state[key])}


def _pth(state: dict[str, torch.Tensor]) -> bytes:
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def _safetensors(state: dict[str, torch.Tensor]) -> bytes:
    from safetensors.torch import save

    return bytes(save({k: v.contiguous() for k, v in state.items()}))


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda t: torch.full_like(t, float("nan")), r"NaN or infinity in 'features\.conv0\.weight'"),
        (lambda t: torch.full_like(t, float("-inf")), r"NaN or infinity in 'features\.conv0\.weight'"),
        (lambda t: torch.full_like(t, 1e300, dtype=torch.float64), r"NaN or infinity .*\(as float32"),
        (lambda t: t.to(torch.complex64), r"'features\.conv0\.weight' as complex64; only float32, float16"),
        (lambda t: t > 0, r"'features\.conv0\.weight' as bool; only float32"),
        (lambda t: t.to(torch.float8_e4m3fn), r"'features\.conv0\.weight' as float8_e4m3fn; only float32"),
        (lambda t: t.to(torch.int64), r"'features\.conv0\.weight' as int64; only .* int64 num_batches_tracked"),
    ],
    ids=["nan", "inf", "float64 past float32", "complex", "bool", "fp8", "int64"],
)
@pytest.mark.parametrize("fmt", ["pth", "safetensors"])
def test_tensors_no_network_holds_are_refused_naming_the_key(
    change: Callable[[torch.Tensor], torch.Tensor], fragment: str, fmt: str
) -> None:
    data = (_pth if fmt == "pth" else _safetensors)(_with(change))
    model = build_model(TINY)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(rt.WeightsError, match=fragment):
        rt.load_weights(model, data, f"w.{fmt}")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # unchanged


def test_a_sparse_tensor_is_refused() -> None:
    with pytest.raises(rt.WeightsError, match=r"'features\.conv0\.weight' as a torch\.sparse_coo tensor"):
        rt.load_weights(build_model(TINY), _pth(_with(lambda t: t.to_sparse())), "w.pth")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_every_floating_type_of_finite_values_loads(dtype: torch.dtype) -> None:
    state = {
        k: v if k.endswith("num_batches_tracked") else v.to(dtype) for k, v in build_model(TINY).state_dict().items()
    }
    assert rt.load_weights(build_model(TINY), _pth(state), "w.pth").ok


# --- the training step: the budget, and a measuring process that dies -------------------


def _die(cfg: DenseNetConfig, spec: InputSpec, device: str) -> int:
    """What the out-of-memory killer does to the measuring process."""
    os.kill(os.getpid(), signal.SIGKILL)
    return 0


def _hang(cfg: DenseNetConfig, spec: InputSpec, device: str) -> int:
    time.sleep(3600)
    return 0


def _fail(cfg: DenseNetConfig, spec: InputSpec, device: str) -> int:
    raise RuntimeError("the allocator gave up")


@pytest.fixture
def no_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a process is started: the refusal must come before."""

    def get_context(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a measuring process was started")

    monkeypatch.setattr(multiprocessing, "get_context", get_context)


def test_a_step_over_the_budget_is_refused_before_a_process_starts(no_process: None) -> None:
    # the forward pass's guard counts 136 MiB; the step keeps 16.5 GiB for the backward pass (the child hit 8 GB)
    cfg = DenseNetConfig(growth_rate=2, block_config=(256,), bn_size=0, stem="cifar")
    spec = InputSpec(batch=8, height=64, width=64)
    checked_plan(cfg, spec)  # the forward pass alone is within the budget
    with pytest.raises(ConfigError, match=r"One training step .* needs about 16\.\d GiB naive .* budget of 4\.00 GiB"):
        rt.training_step_peak(cfg, spec)


def test_the_step_is_checked_against_the_budget_given(no_process: None) -> None:
    plan = make_plan(TINY, TINY_INPUT)
    forward = plan.totals.param_bytes + plan.totals.activation_bytes  # the forward pass's guard lets it through
    assert plan.memory.training_naive_bytes > forward
    with pytest.raises(ConfigError, match=r"One training step of this network at batch 1 needs about"):
        rt.training_step_peak(TINY, TINY_INPUT, budget_bytes=forward)


@pytest.mark.parametrize(
    ("measure", "timeout_s", "fragment"),
    [
        (_die, 120.0, r"the measuring process was killed \(out of memory\?\) by SIGKILL"),
        (_hang, 0.5, r"took longer than 0\.5 s for one training step, so it was stopped"),
        (_fail, 120.0, r"failed one training step on cpu \(RuntimeError: the allocator gave up\)"),
    ],
    ids=["killed", "too slow", "failed"],
)
def test_a_measuring_process_that_never_answers_is_a_sentence(
    measure: Callable[..., int], timeout_s: float, fragment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a killed child left Pool.apply waiting for ever (the CLI was still waiting 100 s later)
    monkeypatch.setattr(training_step, "_train_step_peak", measure)
    with pytest.raises(SurroundingsError, match=fragment):
        rt.training_step_peak(TINY, TINY_INPUT, timeout_s=timeout_s)
    assert not [p for p in multiprocessing.active_children() if p.name == "densviz-training-step"]
