"""Memory traffic: each plan row's bytes moved, and the device's bandwidth (the best of a large copy and a large ``torch.add``, raised by any layer that beats it).

Bytes moved (read + written), counted per step from the plan's shapes, with
activations at the run's precision (4 bytes fp32, 2 bf16/fp16) and each
parameter read once as float32: a concatenation reads the block's stored maps
and writes the concatenation; a norm+ReLU reads and writes its maps once (the
in-place ReLU fused with it); a convolution reads its input and weights and
writes its output; a pooling reads its input and writes its output; the
classifier's step reads the final maps for the ReLU and the pooling and the
pooled vector for the linear layer. Caches are not modelled: this is the
traffic of a kernel that keeps nothing between steps.

The bandwidth is the roofline's slanted roof. Tensors far bigger than the caches (256 MiB
each on a CPU, 1 GiB on a GPU) are copied (``dst.copy_(src)``: one read and
one write per element) and added (``torch.add(a, b, out=c)``: two reads and
one write); the bandwidth is the bytes read plus written over the shortest
of a few calls, the best of the two kernels, measured once per (device,
threads) and process on the run's thread count.

A layer whose maps stay in a cache moves its bytes faster than main memory
does, so its point can lie above the measured roof; then the roof is wrong,
not the point: :func:`observe_bandwidth` raises it to the rate the layer
implies, as :func:`densviz.run.peak.observe_rate` raises the compute peak.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from densviz.core.plan import ArchitecturePlan, LayerKind, LayerPlan, Role
from densviz.run.devices import synchronize

__all__ = ["Bandwidth", "clear_bandwidths", "device_bandwidth", "observe_bandwidth", "row_bytes"]

_CPU_BYTES = 256 * 2**20
_GPU_BYTES = 2**30
_REPEATS = 5


@dataclass(frozen=True)
class Bandwidth:
    """The bandwidth a run's layers are drawn against.

    Attributes:
        gbs: GB/s (10⁹ bytes read plus written per second).
        measured: How the kernels found it, in words.
        threads: The CPU threads they ran on.
        raised_by: The layer whose traffic beat the kernels, or ``None``.
    """

    gbs: float
    measured: str
    threads: int
    raised_by: str | None = None

    @property
    def source(self) -> str:
        """How the bandwidth was found, in words (what ``bandwidth_source`` says)."""
        if self.raised_by:
            return (
                f"raised to {self.gbs:.1f} GB/s, the rate {self.raised_by} moved its bytes at "
                f"(its maps stay in a cache), above the {self.measured}"
            )
        return self.measured


def _seconds(fn: Callable[[], object], device: torch.device) -> float:
    """The shortest of a few calls, each waited for, after one warm-up call."""
    fn()
    synchronize(device)
    best = float("inf")
    for _ in range(_REPEATS):
        start = time.perf_counter()
        fn()
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best


def _measure(device: torch.device, threads: int, nbytes: int | None = None) -> Bandwidth:
    """Copy and add float32 tensors of ``nbytes`` each on ``threads`` threads (restored afterwards)."""
    size = nbytes or (_CPU_BYTES if device.type == "cpu" else _GPU_BYTES)
    n = size // 4
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            a = torch.ones(n, device=device)
            b = torch.ones(n, device=device)
            c = torch.empty(n, device=device)
            copy = 2 * n * 4 / _seconds(lambda: c.copy_(a), device) / 1e9
            add = 3 * n * 4 / _seconds(lambda: torch.add(a, b, out=c), device) / 1e9
    finally:
        torch.set_num_threads(before)
    mib = size // 2**20
    measured = (
        f"best of a {mib} MiB copy ({copy:.1f} GB/s) and a {mib} MiB torch.add ({add:.1f} GB/s), "
        f"bytes read + written, {threads} thread{'s' if threads != 1 else ''}"
    )
    return Bandwidth(max(copy, add), measured, threads)


_BANDWIDTHS: dict[tuple[str, int], Bandwidth] = {}
_LOCK = threading.Lock()


def _held(device: str, threads: int) -> tuple[tuple[str, int], Bandwidth]:
    key = (str(torch.device(device)), threads)
    if key not in _BANDWIDTHS:
        _BANDWIDTHS[key] = _measure(torch.device(key[0]), threads)
    return key, _BANDWIDTHS[key]


def device_bandwidth(device: str, threads: int) -> Bandwidth:
    """This device's memory bandwidth on ``threads`` threads: measured once per process, then as raised."""
    with _LOCK:
        return _held(device, threads)[1]


def observe_bandwidth(device: str, threads: int, gbs: float, layer: str) -> Bandwidth:
    """The bandwidth to draw ``layer`` against: raised to ``gbs`` when the layer moved its bytes faster."""
    with _LOCK:
        key, current = _held(device, threads)
        if gbs <= current.gbs:
            return current
        _BANDWIDTHS[key] = replace(current, gbs=gbs, raised_by=layer)
        return _BANDWIDTHS[key]


def clear_bandwidths() -> None:
    """Forget every measured and raised bandwidth."""
    with _LOCK:
        _BANDWIDTHS.clear()


def row_bytes(plan: ArchitecturePlan, row: LayerPlan, element_bytes: int) -> int:
    """Bytes a row reads and writes for the whole batch (see the module's docstring for what is counted)."""
    batch = plan.input.batch

    def maps(channels: int, hw: tuple[int, int]) -> int:
        return batch * channels * hw[0] * hw[1] * element_bytes

    c_in, c_out, hw_in, hw_out = row.in_channels, row.out_channels, row.in_hw, row.out_hw
    weights = 4 * row.params
    if row.role is Role.DENSE_LAYER:
        mid = plan.config.bn_size * plan.config.growth_rate
        traffic = 4 * maps(c_in, hw_in)  # concat: read + write; norm1+relu1: read + write
        if plan.config.bn_size > 0:
            traffic += maps(c_in, hw_in) + 3 * maps(mid, hw_in)  # conv1, norm2+relu2
            return traffic + maps(mid, hw_in) + maps(c_out, hw_out) + weights  # conv2
        return traffic + maps(c_in, hw_in) + maps(c_out, hw_out) + weights  # conv1 (3×3)
    if row.role is Role.TRANSITION:
        traffic = 5 * maps(c_in, hw_in) + 2 * maps(c_out, hw_in)  # concat, norm+relu, conv
        return traffic + maps(c_out, hw_out) + weights  # pool
    if row.role is Role.FINAL_NORM:
        return 4 * maps(c_in, hw_in) + weights  # concat, norm
    if row.kind is LayerKind.LINEAR:
        hw = plan.final_norm.out_hw
        return 3 * maps(c_in, hw) + 2 * maps(c_in, (1, 1)) + maps(c_out, (1, 1)) + weights
    return maps(c_in, hw_in) + maps(c_out, hw_out) + weights
