"""Weights I/O: safetensors round trip, legacy keys, wrong architectures, unsafe and damaged files."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import torch

import densviz.run as rt
from densviz import build_model
from densviz.core.config import PRESETS

TINY, TINY_INPUT = PRESETS["tiny"].config, PRESETS["tiny"].input


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


def test_every_truncation_of_a_checkpoint_is_refused_in_words() -> None:
    # Found by benchmarks/fuzz_report.py: damaged pickles raised IndexError and struct.error.
    buf = io.BytesIO()
    torch.save(build_model(TINY).state_dict(), buf)
    data = buf.getvalue()
    model = build_model(TINY)
    for n in range(0, len(data), max(1, len(data) // 97)):
        with pytest.raises(rt.WeightsError):
            rt.load_weights(model, data[:n], "cut.pth")


def test_a_safetensors_file_can_name_its_classes() -> None:
    model = build_model(TINY)
    named = rt.load_weights(build_model(TINY), rt.save_weights(model, classes=rt.DIGIT_CLASSES), "d.safetensors")
    assert named.classes == tuple("0123456789")
    assert rt.load_weights(build_model(TINY), rt.save_weights(model), "d.safetensors").classes is None
    wrong_count = rt.save_weights(model, classes=("cat", "dog"))  # 2 names for 10 outputs: not believed
    assert rt.load_weights(build_model(TINY), wrong_count, "d.safetensors").classes is None
