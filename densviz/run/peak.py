"""The device's peak: the best of several measured kernels, raised by any run that beats it.

A single square matrix multiply is not the fastest thing a device does: on a
CPU with oneDNN, a channels-last 3×3 convolution runs 2.5 times faster than a
2048² float32 GEMM (252 against 96 GFLOP/s on one AVX-512 core), and
DenseNet-121 itself reached 106–126% of such a "matmul peak". So the peak is
the best rate of a large GEMM and a channels-last 3×3 convolution, each
measured once per (device, precision, threads) in the run's precision; and
when a run is faster still, the peak becomes that run's rate, so that no run
reads more than 100% of it.

Rates count the FLOPs of the direct algorithm (2 per multiply-accumulate),
the same convention as the plan's MACs, so a kernel that uses a faster
algorithm (Winograd) raises the peak, as it raises the network's rate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from densviz.run.devices import AUTOCAST_DTYPE, Precision, synchronize

__all__ = [
    "KERNELS",
    "DevicePeak",
    "KernelRate",
    "clear_peaks",
    "conv_rate",
    "device_peak",
    "gemm_rate",
    "observe_rate",
]

_TARGET_S = 0.05
"""One call of a kernel grows until it takes at least this long (or reaches its size cap)."""


@dataclass(frozen=True)
class KernelRate:
    """One measured kernel.

    Attributes:
        name: What ran, for people (``fp32 GEMM 2048²``).
        gflops: Its rate, GFLOP/s (2 FLOPs per multiply-accumulate).
    """

    name: str
    gflops: float


@dataclass(frozen=True)
class DevicePeak:
    """The peak a run is measured against.

    Attributes:
        gflops: The peak, GFLOP/s: the best kernel's rate, or a faster run's.
        kernels: The kernels measured, each with its rate.
        threads: The CPU threads they ran on.
        raised: Whether a run beat the kernels and the peak is that run's rate.
        raised_now: Whether the run being reported is the one that raised it.
    """

    gflops: float
    kernels: tuple[KernelRate, ...]
    threads: int
    raised: bool = False
    raised_now: bool = False

    @property
    def measured(self) -> str:
        """How the kernels' peak was found, in words."""
        rates = [f"{k.name} ({k.gflops:.1f} GFLOP/s)" for k in self.kernels]
        listed = rates[0] if len(rates) == 1 else ", ".join(rates[:-1]) + " and " + rates[-1]
        return f"best of {listed}, {self.threads} thread{'s' if self.threads != 1 else ''}"

    @property
    def source(self) -> str:
        """How the peak was found, in words (what ``peak_source`` says)."""
        if self.raised_now:
            return f"raised to this run's rate ({self.gflops:.1f} GFLOP/s), which beat the {self.measured}"
        if self.raised:
            return f"raised to an earlier run's rate ({self.gflops:.1f} GFLOP/s), which beat the {self.measured}"
        return self.measured


def _dtype(precision: Precision) -> torch.dtype:
    return torch.float32 if precision is Precision.FP32 else AUTOCAST_DTYPE[precision]


def _arithmetic(device: torch.device, precision: Precision, tf32: bool) -> str:
    """The precision as a kernel's name says it: fp32 on CUDA may run as TF32, as the model's does."""
    return (
        f"{precision.value} (TF32)"
        if device.type == "cuda" and precision is Precision.FP32 and tf32
        else precision.value
    )


def _seconds(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """The shortest time of ``repeats`` calls, each waited for (a peak: the best the device did)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return min(times)


def _grown(
    make: Callable[[int], tuple[Callable[[], object], float]], n: int, cap: int, device: torch.device
) -> tuple[int, float]:
    """Double ``n`` until one call of ``make(n)``'s kernel takes 50 ms or ``n`` reaches ``cap``: (n, GFLOP/s).

    ``make(n)`` returns the kernel and its FLOPs. The rate is the fastest of up
    to 5 calls, fewer when one call is slow.
    """
    while True:
        fn, flop = make(n)
        with torch.inference_mode():
            _seconds(fn, device, 1)  # warm-up
            first = _seconds(fn, device, 1)
            if first >= _TARGET_S or n >= cap:
                repeats = max(1, min(5, int(0.5 / max(first, 1e-9))))
                return n, flop / _seconds(fn, device, repeats) / 1e9
        n *= 2


def gemm_rate(device: torch.device, precision: Precision) -> KernelRate:
    """A square matrix multiply in the run's precision, grown from 256² until a call takes 50 ms.

    The size stops at 2048 on a CPU and 8192 on a GPU.
    """
    dtype = _dtype(precision)

    def make(size: int) -> tuple[Callable[[], object], float]:
        a = torch.randn(size, size, device=device).to(dtype)
        b = torch.randn(size, size, device=device).to(dtype)
        return (lambda: a @ b), 2 * size**3

    size, gflops = _grown(make, 256, 2048 if device.type == "cpu" else 8192, device)
    arithmetic = _arithmetic(device, precision, torch.backends.cuda.matmul.allow_tf32)
    return KernelRate(f"{arithmetic} GEMM {size}²", gflops)


def conv_rate(device: torch.device, precision: Precision, channels: int = 256, hw: int = 56) -> KernelRate:
    """A channels-last 3×3 convolution, ``channels`` → ``channels`` at ``hw``², batch doubled until a call takes 50 ms.

    The batch stops at 128 (an fp32 input of 392 MiB at the defaults).
    """
    dtype = _dtype(precision)
    weight = torch.randn(channels, channels, 3, 3, device=device).to(dtype)
    weight = weight.contiguous(memory_format=torch.channels_last)

    def make(batch: int) -> tuple[Callable[[], object], float]:
        x = torch.randn(batch, channels, hw, hw, device=device).to(dtype).contiguous(memory_format=torch.channels_last)
        return (lambda: torch.nn.functional.conv2d(x, weight, padding=1)), 2 * batch * hw * hw * channels**2 * 9

    batch, gflops = _grown(make, 1, 128, device)
    arithmetic = _arithmetic(device, precision, torch.backends.cudnn.allow_tf32)
    return KernelRate(f"{arithmetic} channels-last conv 3×3 {channels}→{channels} @{hw}², batch {batch}", gflops)


KERNELS: tuple[Callable[[torch.device, Precision], KernelRate], ...] = (gemm_rate, conv_rate)
"""The kernels whose best rate is the peak (tests replace them)."""

_PEAKS: dict[tuple[str, Precision, int], DevicePeak] = {}
_LOCK = threading.Lock()


def _measure(device: torch.device, precision: Precision, threads: int) -> DevicePeak:
    """Run every kernel on ``threads`` CPU threads (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        kernels = tuple(kernel(device, precision) for kernel in KERNELS)
    finally:
        torch.set_num_threads(before)
    return DevicePeak(max(k.gflops for k in kernels), kernels, threads)


def _key(device: str, precision: Precision, threads: int) -> tuple[str, Precision, int]:
    return str(torch.device(device)), Precision(precision), threads


def _held(key: tuple[str, Precision, int]) -> DevicePeak:
    """The peak under ``key``, measured now if it never was (the caller holds the lock)."""
    if key not in _PEAKS:
        _PEAKS[key] = _measure(torch.device(key[0]), key[1], key[2])
    return _PEAKS[key]


def device_peak(device: str, precision: Precision, threads: int) -> DevicePeak:
    """This device's peak in ``precision`` on ``threads`` threads: measured once, then as raised by runs.

    The kernels run once per (device, precision, threads) and process; one
    measurement at a time, so that two never share the device.
    """
    with _LOCK:
        return replace(_held(_key(device, precision, threads)), raised_now=False)


def observe_rate(device: str, precision: Precision, threads: int, gflops: float) -> DevicePeak:
    """The peak to report a run of ``gflops`` against: raised to the run's rate when the run beats it."""
    key = _key(device, precision, threads)
    with _LOCK:
        current = _held(key)
        if gflops <= current.gflops:
            return replace(current, raised_now=False)
        _PEAKS[key] = replace(current, gflops=gflops, raised=True)
        return replace(_PEAKS[key], raised_now=True)


def clear_peaks() -> None:
    """Forget every measured and raised peak (they are measured again when next asked for)."""
    with _LOCK:
        _PEAKS.clear()
