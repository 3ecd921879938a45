"""Memory estimates from a plan, and the resource guard in front of every build.

The estimates model what PyTorch keeps alive, tensor by tensor, for float32:

* inference (``torch.no_grad``): the largest set of tensors alive at once while
  the forward pass walks the network. Inside a dense layer that is the block's
  stored feature maps, the concatenation copy, its batch-norm output and the
  bottleneck output.
* one training step, naive implementation: parameters, their gradients, every
  tensor autograd saves for the backward pass, and the gradients in flight. Each
  dense layer saves its own concatenation (k₀ + k·(ℓ−1) channels) and its
  batch-norm output, so a block of L layers saves O(L²) channels: the cost that
  Pleiss et al. (arXiv 1707.06990) remove.
* one training step, memory-efficient implementation (arXiv 1707.06990): the
  concatenation and first batch norm are recomputed in the backward pass, so a
  block keeps only its layers' outputs (O(L)) plus one layer's recomputation.

The guard refuses a configuration whose parameters plus activations at the
requested batch exceed a budget, before anything is allocated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from densviz.config import ConfigError, DenseNetConfig, InputSpec, Stem
from densviz.units import format_bytes

if TYPE_CHECKING:
    from densviz.plan import ArchitecturePlan, BlockSummary, LayerPlan

__all__ = ["DEFAULT_BUDGET_BYTES", "MemoryEstimate", "check_budget", "estimate_memory"]

DEFAULT_BUDGET_BYTES = 4 << 30  # 4 GiB
_FLOAT = 4  # bytes per float32 element
_INDEX = 8  # bytes per int64 element (max-pool indices)


@dataclass(frozen=True, slots=True)
class MemoryEstimate:
    """Estimated bytes for the planned batch (float32).

    Attributes:
        param_bytes: The parameters.
        inference_peak_bytes: Peak activations of a forward pass without autograd.
        training_naive_bytes: Peak of one forward and backward step, naive
            implementation (parameters, gradients and activations).
        training_efficient_bytes: The same with the memory-efficient implementation.
    """

    param_bytes: int
    inference_peak_bytes: int
    training_naive_bytes: int
    training_efficient_bytes: int

    def to_dict(self) -> dict[str, int]:
        """JSON-ready data."""
        return {
            "param_bytes": self.param_bytes,
            "inference_peak_bytes": self.inference_peak_bytes,
            "training_naive_bytes": self.training_naive_bytes,
            "training_efficient_bytes": self.training_efficient_bytes,
        }


def estimate_memory(
    cfg: DenseNetConfig,
    spec: InputSpec,
    layers: Sequence[LayerPlan],
    blocks: Sequence[BlockSummary],
    param_bytes: int,
) -> MemoryEstimate:
    """Estimate inference and training memory from a plan's rows.

    Args:
        cfg: The architecture.
        spec: The input (its batch scales every activation).
        layers: The plan's rows, in forward order.
        blocks: The plan's block summaries.
        param_bytes: Bytes of the parameters.
    """
    n = spec.batch

    def size(channels: int, hw: tuple[int, int]) -> int:
        return n * channels * hw[0] * hw[1] * _FLOAT  # (N, C, H, W) float32

    x = size(cfg.in_channels, spec.hw)
    k, width = cfg.growth_rate, cfg.bn_size * cfg.growth_rate

    # Inference: walk the forward pass, tracking the largest set alive at once.
    peak = 0
    saved_naive = 0  # what autograd keeps for backward, naive layers
    saved_efficient = 0  # the same with checkpointed concatenation + norm1
    recompute = 0  # largest temporary of a checkpointed layer in backward
    stem = [r for r in layers if r.block is None and r.name.startswith("features.") and r.name != "features.norm5"]
    conv0 = size(stem[0].out_channels, stem[0].out_hw)
    if cfg.stem is Stem.IMAGENET:
        pool = size(stem[-1].out_channels, stem[-1].out_hw)
        peak = max(x + conv0, x + 2 * conv0, x + conv0 + pool)
        # conv0 saves x, norm0 saves conv0's output, max pool its input and int64 indices
        stem_saved = x + 2 * conv0 + pool * _INDEX // _FLOAT
    else:
        peak = x + conv0
        stem_saved = x
    saved_naive += stem_saved
    saved_efficient += stem_saved

    for block in blocks:
        hw = block.hw
        stored = size(block.in_channels, hw)
        for i in range(1, block.layers + 1):
            c_in = block.in_channels + k * (i - 1)
            concat = size(c_in, hw)
            new = size(k, hw)
            if cfg.bottleneck:
                mid = size(width, hw)
                # at conv1: concat + norm1 output + bottleneck; at conv2: bottleneck, norm2 output, new maps
                peak = max(peak, x + stored + 2 * concat + mid, x + stored + 2 * mid + new)
                saved_naive += 2 * concat + 2 * mid  # norm1 in/out, norm2 in/out
                saved_efficient += 2 * mid  # the checkpoint drops concat and norm1 output
            else:
                peak = max(peak, x + stored + 2 * concat + new)
                saved_naive += 2 * concat
            if cfg.drop_rate > 0:
                mask = new // _FLOAT  # one byte per element
                saved_naive += mask
                saved_efficient += mask
            recompute = max(recompute, 2 * concat)
            stored += new
        out = stored  # the block's concatenated output
        peak = max(peak, x + 2 * out)  # the feature list and its final concatenation
        # The checkpoints keep every layer's output alive for the recomputation.
        saved_efficient += out
        if block.transition_channels is not None:
            conv = size(block.transition_channels, hw)
            pooled = size(block.transition_channels, (hw[0] // 2, hw[1] // 2))
            peak = max(peak, x + 2 * out + conv, x + conv + pooled)
            saved = 2 * out + conv  # norm input, conv input, avg-pool input
        else:
            peak = max(peak, x + 2 * out)
            saved = 2 * out  # norm5 input, ReLU output (read by the global pool)
        saved_naive += saved
        saved_efficient += saved

    classifier_in = n * layers[-1].in_channels * _FLOAT
    saved_naive += classifier_in
    saved_efficient += classifier_in
    # Gradients in flight: about two copies of the largest block output.
    in_flight = 2 * max(b.output_bytes for b in blocks)
    weights = 2 * param_bytes  # parameters and their gradients
    return MemoryEstimate(
        param_bytes=param_bytes,
        inference_peak_bytes=peak,
        training_naive_bytes=weights + saved_naive + in_flight,
        training_efficient_bytes=weights + saved_efficient + in_flight + recompute,
    )


def check_budget(plan: ArchitecturePlan, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
    """Refuse a plan whose parameters plus activations exceed the budget.

    The estimate is the parameter bytes plus every module's output for the
    planned batch (``plan.totals.activation_bytes``): what building the model
    and running one forward pass would ask of the memory.

    Raises:
        ConfigError: naming the estimate, its parts and the budget.
    """
    totals = plan.totals
    estimate = totals.param_bytes + totals.activation_bytes
    if estimate > budget_bytes:
        raise ConfigError(
            "memory",
            estimate,
            f"at most {format_bytes(budget_bytes)}",
            message=(
                f"this network needs about {format_bytes(estimate)} (parameters {format_bytes(totals.param_bytes)} "
                f"+ activations {format_bytes(totals.activation_bytes)} at batch {plan.input.batch}), over the "
                f"memory budget of {format_bytes(budget_bytes)}; lower the batch, the input size, the growth rate "
                "or the layers per block."
            ),
        )
