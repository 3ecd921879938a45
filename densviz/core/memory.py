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

from densviz.core.config import DenseNetConfig, InputSpec
from densviz.core.layers import BlockSummary, LayerKind, LayerPlan, Role

__all__ = ["DEFAULT_BUDGET_BYTES", "LayerMemory", "MemoryEstimate", "estimate_memory"]

DEFAULT_BUDGET_BYTES = 4 << 30  # 4 GiB
_FLOAT = 4  # bytes per float32 element
_INDEX = 8  # bytes per int64 element (max-pool indices)


@dataclass(frozen=True, slots=True)
class LayerMemory:
    """What one module costs in memory (float32, whole batch).

    Attributes:
        name: The plan row's module path.
        live_bytes: Activations alive while it runs in inference (the network
            input, the block's stored maps, its temporaries and output).
        saved_naive_bytes: Tensors autograd keeps from it for the backward pass.
        saved_efficient_bytes: The same with the memory-efficient layers.
    """

    name: str
    live_bytes: int
    saved_naive_bytes: int
    saved_efficient_bytes: int


@dataclass(frozen=True, slots=True)
class MemoryEstimate:
    """Estimated bytes for the planned batch (float32).

    Attributes:
        param_bytes: The parameters.
        inference_peak_bytes: Peak activations of a forward pass without autograd.
        training_naive_bytes: Peak of one forward and backward step, naive
            implementation (parameters, gradients and activations).
        training_efficient_bytes: The same with the memory-efficient implementation.
        layers: Per module, in forward order.
    """

    param_bytes: int
    inference_peak_bytes: int
    training_naive_bytes: int
    training_efficient_bytes: int
    layers: tuple[LayerMemory, ...] = ()

    def to_dict(self) -> dict[str, int]:
        """The totals as JSON-ready data."""
        return {
            "param_bytes": self.param_bytes,
            "inference_peak_bytes": self.inference_peak_bytes,
            "training_naive_bytes": self.training_naive_bytes,
            "training_efficient_bytes": self.training_efficient_bytes,
        }


class _Walk:
    """The forward pass walked row by row: what each module keeps alive and saves (float32 bytes)."""

    def __init__(self, cfg: DenseNetConfig, spec: InputSpec, blocks: Sequence[BlockSummary]) -> None:
        self.cfg, self.batch, self.blocks = cfg, spec.batch, blocks
        self.x = self.size(cfg.in_channels, spec.hw)  # the caller holds the input throughout
        self.width = cfg.bn_size * cfg.growth_rate  # bottleneck channels
        self.stored = 0  # the current block's feature list: its input and every layer's k maps
        self.recompute = 0  # largest temporary a checkpointed layer recreates in backward

    def size(self, channels: int, hw: tuple[int, int]) -> int:
        return self.batch * channels * hw[0] * hw[1] * _FLOAT  # (N, C, H, W) float32

    def row(self, row: LayerPlan) -> LayerMemory:
        """(live, saved naive, saved memory-efficient) of one module."""
        x, out, inp = self.x, self.size(row.out_channels, row.out_hw), self.size(row.in_channels, row.in_hw)
        if row.role is Role.DENSE_LAYER:
            return self.dense_layer(row, inp, out)
        if row.role is Role.TRANSITION:
            conv = self.size(row.out_channels, row.in_hw)  # the 1×1 conv runs before the pool
            # block output, norm output, conv output; saved: norm input, conv input, avg-pool input
            return LayerMemory(row.name, x + 2 * inp + conv, 2 * inp + conv, 2 * inp + conv)
        if row.role is Role.CLASSIFIER:
            return LayerMemory(row.name, x + inp + out, inp, inp)
        if row.role is Role.FINAL_NORM:  # the functional ReLU after it keeps its output for the global pool
            return LayerMemory(row.name, x + 2 * inp, 2 * inp, 2 * inp)
        if row.kind is LayerKind.CONV:  # the stem's convolution
            return LayerMemory(row.name, x + out, x, x)
        if row.kind is LayerKind.NORM:
            return LayerMemory(row.name, x + inp + out, inp, inp)
        if row.kind is LayerKind.RELU:  # in place
            return LayerMemory(row.name, x + inp + out, 0, 0)
        if row.kind is LayerKind.POOL:  # max pool keeps its input and int64 indices
            saved = inp + out * _INDEX // _FLOAT
            return LayerMemory(row.name, x + inp + out, saved, saved)
        raise ValueError(f"no memory model for {row.name} ({row.role.value}, {row.kind.value})")

    def dense_layer(self, row: LayerPlan, concat: int, new: int) -> LayerMemory:
        """concat: (N, k0 + k·(ℓ−1), H, W), a fresh copy made by torch.cat; new: (N, k, H, W)."""
        assert row.block is not None and row.index is not None
        if row.index == 1:
            block = self.blocks[row.block - 1]
            self.stored = self.size(block.in_channels, block.hw)
        x, stored = self.x, self.stored
        # The checkpoints keep every layer's input maps alive for the recomputation.
        kept = new + (stored if row.index == 1 else 0)
        if self.cfg.bottleneck:
            mid = self.size(self.width, row.out_hw)
            # at conv1: concat + norm1 output + bottleneck; at conv2: bottleneck, norm2 output, new maps
            live = x + stored + max(2 * concat + mid, 2 * mid + new)
            naive = 2 * concat + 2 * mid  # norm1 input and output, norm2 input and output
            efficient = 2 * mid + kept  # concat and norm1 output are recomputed
        else:
            live = x + stored + 2 * concat + new
            naive = 2 * concat
            efficient = kept
        if self.cfg.drop_rate > 0:
            naive += new // _FLOAT  # one byte of mask per element
            efficient += new // _FLOAT
        self.recompute = max(self.recompute, 2 * concat)
        self.stored += new
        return LayerMemory(row.name, live, naive, efficient)


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
    walk = _Walk(cfg, spec, blocks)
    rows = [walk.row(row) for row in layers]
    # Gradients in flight during backward: about two copies of the largest block output.
    in_flight = 2 * max(b.output_bytes for b in blocks)
    weights = 2 * param_bytes  # parameters and their gradients
    return MemoryEstimate(
        param_bytes=param_bytes,
        inference_peak_bytes=max(r.live_bytes for r in rows),
        training_naive_bytes=weights + sum(r.saved_naive_bytes for r in rows) + in_flight,
        training_efficient_bytes=weights + sum(r.saved_efficient_bytes for r in rows) + in_flight + walk.recompute,
        layers=tuple(rows),
    )
