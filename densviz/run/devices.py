"""Devices and precisions: what this machine runs on, and in which arithmetic.

Everything is decided at run time: CUDA, Apple MPS or the CPU, whichever is
there (the choice is tested with faked availability on machines without a
GPU).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from densviz.core.config import ConfigError
from densviz.core.settings import Precision

__all__ = [
    "AUTOCAST_DTYPE",
    "DeviceInfo",
    "Precision",
    "autocast",
    "available_devices",
    "check_precision",
    "choose_device",
    "cpu_bf16_native",
    "precision_note",
    "supported_precisions",
    "synchronize",
]


AUTOCAST_DTYPE = {Precision.BF16: torch.bfloat16, Precision.FP16: torch.float16}
"""The dtype autocast computes in, for each reduced precision."""


@dataclass(frozen=True)
class DeviceInfo:
    """A device densviz can run on.

    Attributes:
        device: ``cpu``, ``cuda:0``, ``mps``.
        name: Its name for people (``NVIDIA H200``, ``CPU, 2 threads``).
        memory_bytes: Its total memory, where known.
    """

    device: str
    name: str
    memory_bytes: int | None = None


def available_devices() -> list[DeviceInfo]:
    """CUDA devices, Apple MPS and the CPU, best first."""
    found: list[DeviceInfo] = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            found.append(DeviceInfo(f"cuda:{i}", props.name, int(props.total_memory)))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append(DeviceInfo("mps", "Apple MPS"))
    threads = torch.get_num_threads()
    found.append(DeviceInfo("cpu", f"CPU, {threads} thread{'s' if threads != 1 else ''}"))
    return found


def choose_device(request: str = "auto") -> torch.device:
    """The device to run on: ``auto`` takes the best available.

    Raises:
        ConfigError: if the requested device is not available here.
    """
    devices = available_devices()
    names = [d.device for d in devices]
    if request == "auto":
        return torch.device(names[0])
    wanted = "cuda:0" if request == "cuda" else request
    if wanted in names:
        return torch.device(wanted)
    raise ConfigError("device", request, "auto or one of this machine's devices: " + ", ".join(names))


def supported_precisions(device: torch.device) -> list[Precision]:
    """The precisions a device runs (autocast for the reduced ones)."""
    if device.type == "cuda":
        out = [Precision.FP32, Precision.FP16]
        if torch.cuda.is_bf16_supported():
            out.insert(1, Precision.BF16)
        return out
    if device.type == "mps":
        return [Precision.FP32, Precision.FP16]
    return [Precision.FP32, Precision.BF16]  # fp16 on a CPU is emulated: slower than fp32


@lru_cache(maxsize=1)
def cpu_bf16_native(cpuinfo: str = "/proc/cpuinfo") -> bool | None:
    """Whether this CPU computes bf16 in hardware (AVX-512 BF16, AMX, Arm BF16); ``None`` where it cannot tell.

    Without such units PyTorch emulates bf16 matrix multiplies, and bf16
    autocast is many times slower than fp32 (1.3 against 64 GFLOP/s on an
    AVX2 machine).
    """
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return None  # not Linux
    flags = {
        word for line in text.splitlines() if line.lower().startswith(("flags", "features")) for word in line.split()
    }
    if not flags:
        return None
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


def precision_note(device: torch.device, precision: Precision) -> str | None:
    """A warning to show beside a precision that is slow on this device, else ``None``."""
    if device.type == "cpu" and precision is Precision.BF16 and cpu_bf16_native() is False:
        return "emulated on this CPU (no bf16 units): slower than fp32"
    return None


def check_precision(device: torch.device, precision: Precision) -> None:
    """Refuse a precision the device does not run.

    Raises:
        ConfigError: naming the precisions it does run.
    """
    allowed = supported_precisions(device)
    if precision not in allowed:
        raise ConfigError("dtype", precision.value, f"one of {', '.join(p.value for p in allowed)} on {device.type}")


def autocast(device: torch.device, precision: Precision) -> Any:
    """The context a forward pass runs in: nothing for fp32, else autocast to bf16/fp16."""
    if precision is Precision.FP32:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=AUTOCAST_DTYPE[precision])


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work to finish (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
