"""Devices and precisions: the choice with faked CUDA and MPS, bf16 on CPUs without bf16 units."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import densviz.run as rt
from densviz.core.config import ConfigError


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
