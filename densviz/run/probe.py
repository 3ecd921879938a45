"""How long one forward pass takes on this device: a short measured probe, scaled by MACs.

A run's time cannot be told from its MACs and the device's peak. Thin layers
(a growth rate of 1: 3×3 convolutions to one channel, a normalisation of every
earlier map before each) run at a few percent of the peak: a DenseNet of 256
such layers at 256² took 11.7 s a pass on one CPU core where a quarter of the
peak promised 1.5 s. So the time of a pass is measured, on the device, in the
run's precision and memory format:

1. passes of the real model at batch 1 and the smallest input the network
   accepts;
2. then, step by step, at twice the height and width up to the run's input,
   then at twice the batch up to the run's batch; a step is taken only while
   the time of the step before, scaled by MACs, says it ends within the
   probe's budget (``PROBE_SECONDS``). Each size is timed two or three times
   and the shortest counts, a second look only while the budget lasts. So the
   probe takes its budget and at most one pass more (a pass cannot be
   interrupted, and one can take longer than the step before foretold).

The time of the last step, scaled by MACs to the run's batch and input, is the
estimate of one pass: exact where the probe reached the run's own size (as it
does for most networks on a GPU, and for small ones anywhere). Otherwise it
is an extrapolation, most often high (a smaller pass uses the device less
well and pays the same fixed costs per layer) but sometimes low (on one CPU
thread, DenseNet-121 at batch 4 scaled to 16 said 1.0 s a pass, and a pass
took 1.3 s): the run's time limit is also kept while it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from densviz.core.architecture import DenseNetConfig, InputSpec, min_input_size
from densviz.core.plan import make_plan
from densviz.run.devices import Precision, autocast, synchronize

__all__ = ["PROBE_SECONDS", "Probe", "format_seconds", "probe_pass", "probe_steps"]

PROBE_SECONDS = 6.0
"""The probe's budget: a step that would end later is not taken."""


def format_seconds(seconds: float) -> str:
    """A duration for people: ``3.2 ms``, ``180 ms``, ``1.5 s``, ``905 s``."""
    if seconds < 0.01:
        return f"{seconds * 1e3:.1f} ms"
    if seconds < 1:
        return f"{seconds * 1e3:.0f} ms"
    return f"{seconds:.1f} s" if seconds < 100 else f"{seconds:.0f} s"


@dataclass(frozen=True)
class Probe:
    """The probe's last step and what it says of one pass of the run.

    Attributes:
        batch: The step's batch.
        height: Its input height.
        width: Its input width.
        seconds: One pass at that size (the shortest of two or three).
        macs: Its MACs, all images.
        run_batch: The run's batch.
        run_hw: The run's (height, width).
        run_macs: The MACs of one pass of the run, all images.
        steps: How many sizes the probe ran.
        elapsed: The probe's own time, every step.
    """

    batch: int
    height: int
    width: int
    seconds: float
    macs: int
    run_batch: int
    run_hw: tuple[int, int]
    run_macs: int
    steps: int
    elapsed: float

    @property
    def full(self) -> bool:
        """Whether the last step was a pass of the run's own size."""
        return (self.batch, (self.height, self.width)) == (self.run_batch, self.run_hw)

    @property
    def pass_seconds(self) -> float:
        """The estimate of one pass of the run: the step's time scaled by MACs."""
        return self.seconds * self.run_macs / max(self.macs, 1)

    def describe(self) -> str:
        """The measurement in words (what a refusal quotes)."""
        measured = (
            f"a measured pass at batch {self.batch}, {self.height}×{self.width} took {format_seconds(self.seconds)}"
        )
        if self.full:
            return measured
        h, w = self.run_hw
        return f"{measured}, scaled by MACs to batch {self.run_batch}, {h}×{w}"


def probe_steps(cfg: DenseNetConfig, batch: int, height: int, width: int) -> list[tuple[int, int, int]]:
    """The probe's sizes, smallest first: (batch, height, width).

    Batch 1 at the smallest input the network accepts, the height and width
    doubled up to the run's, then the batch doubled up to the run's.
    """
    smallest = min_input_size(cfg)
    sides = [(height, width)]
    while sides[-1][0] > smallest or sides[-1][1] > smallest:
        h, w = sides[-1]
        sides.append((max(smallest, -(-h // 2)), max(smallest, -(-w // 2))))
    steps = [(1, h, w) for h, w in reversed(sides)]
    b = 1
    while b < batch:
        b = min(batch, 2 * b)
        steps.append((b, height, width))
    return steps


def _input_like(x: Tensor, batch: int, height: int, width: int) -> Tensor:
    """The run's input itself at its own size, else a random one in its device, dtype and memory format."""
    if tuple(x.shape[2:]) == (height, width):
        return x[:batch]
    out = torch.randn(batch, x.shape[1], height, width, device=x.device, dtype=x.dtype)
    return out if x.is_contiguous() else out.contiguous(memory_format=torch.channels_last)


def _timed(model: nn.Module, x: Tensor, device: torch.device, clock: Callable[[], float]) -> float:
    """Seconds of one pass, waited for."""
    synchronize(device)
    start = clock()
    model(x)
    synchronize(device)
    return max(clock() - start, 1e-9)


def _repeats(seconds: float, budget: float) -> int:
    """Passes timed at one size (their shortest counts): 3 of a short pass, 2 of a long one, within the budget.

    The first pass of a size carries one-off costs (libraries loaded, kernels
    chosen), and a pass on a busy machine can be delayed tenfold; the shortest
    of a few is what the device does.
    """
    return 3 if seconds < budget / 20 else 2


def probe_pass(
    model: nn.Module,
    x: Tensor,
    cfg: DenseNetConfig,
    device: torch.device,
    precision: Precision,
    *,
    budget: float = PROBE_SECONDS,
    clock: Callable[[], float],
) -> Probe:
    """Measure passes of ``model`` of growing size until the next would end past ``budget``.

    Args:
        model: The network, on ``device``, in eval mode and the run's memory format.
        x: The run's input, on ``device``.
        cfg: The network's config (for the MACs of each size).
        device: Where it runs.
        precision: The run's precision.
        budget: Seconds the probe may take (its first step is always taken).
        clock: The clock to time with (``time.perf_counter``).
    """
    batch, _, height, width = x.shape
    macs_per_image: dict[tuple[int, int], int] = {}

    def macs(b: int, h: int, w: int) -> int:
        if (h, w) not in macs_per_image:
            macs_per_image[(h, w)] = make_plan(cfg, InputSpec(batch=1, height=h, width=w)).totals.macs
        return b * macs_per_image[(h, w)]

    start = clock()
    last: tuple[int, int, int, float] | None = None
    steps = 0
    with torch.inference_mode(), autocast(device, precision):
        for b, h, w in probe_steps(cfg, batch, height, width):
            if last is not None:
                predicted = last[3] * macs(b, h, w) / max(macs(*last[:3]), 1)
                if clock() - start + predicted > budget:
                    break
            step_input = _input_like(x, b, h, w)
            seconds = _timed(model, step_input, device, clock)  # the first pass of a size carries one-off costs
            for _ in range(_repeats(seconds, budget) - 1):
                if clock() - start + seconds > budget:  # no second look past the budget
                    break
                seconds = min(seconds, _timed(model, step_input, device, clock))
            last, steps = (b, h, w, seconds), steps + 1
    assert last is not None  # there is always a first step
    b, h, w, seconds = last
    return Probe(
        batch=b,
        height=h,
        width=w,
        seconds=seconds,
        macs=macs(b, h, w),
        run_batch=batch,
        run_hw=(height, width),
        run_macs=macs(batch, height, width),
        steps=steps,
        elapsed=clock() - start,
    )
