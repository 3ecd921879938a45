"""The rows of a plan: what each module is, its shapes and costs, and the network's totals.

Plain frozen dataclasses shared by the plan (which fills them) and the memory
model (which reads them). No torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["BYTES_PER_ELEMENT", "BlockSummary", "LayerKind", "LayerPlan", "Role", "Totals"]

BYTES_PER_ELEMENT = 4  # float32


class LayerKind(StrEnum):
    """What a plan row is."""

    CONV = "conv"
    NORM = "norm"
    RELU = "relu"
    POOL = "pool"
    DENSE_LAYER = "dense_layer"
    TRANSITION = "transition"
    LINEAR = "linear"


class Role(StrEnum):
    """Which part of the network a plan row belongs to: consumers ask this, never the name."""

    STEM = "stem"
    """The layers before the first dense block (``features.conv0`` …)."""
    DENSE_LAYER = "dense_layer"
    """A dense layer: reads the concatenation of its block's earlier outputs, adds k maps."""
    TRANSITION = "transition"
    """BN, ReLU, 1×1 conv and 2×2 average pool between two dense blocks."""
    FINAL_NORM = "final_norm"
    """``features.norm5``: the batch norm after the last block (a functional ReLU and pool follow)."""
    CLASSIFIER = "classifier"
    """The linear layer after global average pooling."""


@dataclass(frozen=True, slots=True)
class LayerPlan:
    """One module of the network, named as in torchvision's state dict.

    Attributes:
        name: Dotted module path (``features.denseblock2.denselayer7``).
        kind: What the module is.
        role: Which part of the network it is (stem, dense layer, transition,
            final norm, classifier).
        block: The dense block it belongs to (a transition belongs to the block
            it closes); ``None`` for the stem, ``features.norm5`` and the classifier.
        index: 1-based position of a dense layer in its block, else ``None``.
        in_channels: Channels read (for a dense layer: k₀ + k·(ℓ−1), the concatenation).
        out_channels: Channels written (for a dense layer: k, its new feature maps).
        in_hw: (height, width) read.
        out_hw: (height, width) written.
        params: Learnable parameters.
        macs: Multiply-accumulates for one image.
        output_bytes: Bytes of the output for the whole batch (float32).
        inputs: Names of the modules whose outputs this one reads; for dense
            layers, transitions and ``features.norm5`` the outputs concatenated.
    """

    name: str
    kind: LayerKind
    role: Role
    block: int | None
    index: int | None
    in_channels: int
    out_channels: int
    in_hw: tuple[int, int]
    out_hw: tuple[int, int]
    params: int
    macs: int
    output_bytes: int
    inputs: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: tuples become lists, the kind its string."""
        return {
            "name": self.name,
            "kind": self.kind.value,
            "role": self.role.value,
            "block": self.block,
            "index": self.index,
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "in_hw": list(self.in_hw),
            "out_hw": list(self.out_hw),
            "params": self.params,
            "macs": self.macs,
            "output_bytes": self.output_bytes,
            "inputs": list(self.inputs),
        }


@dataclass(frozen=True, slots=True)
class BlockSummary:
    """One dense block: its input k₀, its growth and what it hands on.

    Attributes:
        index: 1-based block number.
        name: Module path (``features.denseblock1``).
        layers: Dense layers in the block.
        in_channels: k₀, the block's input channels.
        out_channels: k₀ + k·layers, the concatenation it outputs.
        hw: (height, width), constant inside the block.
        params: Parameters of the block's layers.
        macs: MACs of the block's layers, per image.
        output_bytes: Bytes of the block's concatenated output, whole batch.
        transition_channels: Channels after the following transition, or ``None``
            for the last block.
    """

    index: int
    name: str
    layers: int
    in_channels: int
    out_channels: int
    hw: tuple[int, int]
    params: int
    macs: int
    output_bytes: int
    transition_channels: int | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "index": self.index,
            "name": self.name,
            "layers": self.layers,
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "hw": list(self.hw),
            "params": self.params,
            "macs": self.macs,
            "output_bytes": self.output_bytes,
            "transition_channels": self.transition_channels,
        }


@dataclass(frozen=True, slots=True)
class Totals:
    """Whole-network figures.

    Attributes:
        params: Learnable parameters.
        macs: Multiply-accumulates per image (convolutions and linear, no bias).
        flops: 2·MACs.
        param_bytes: float32 parameter bytes.
        activation_bytes: Bytes of every module's output for the batch: what
            one forward pass writes.
        depth: The paper's L (convolutions plus the classifier).
        final_channels: Channels into the classifier.
    """

    params: int
    macs: int
    flops: int
    param_bytes: int
    activation_bytes: int
    depth: int
    final_channels: int

    def to_dict(self) -> dict[str, int]:
        """JSON-ready data."""
        return {
            "params": self.params,
            "macs": self.macs,
            "flops": self.flops,
            "param_bytes": self.param_bytes,
            "activation_bytes": self.activation_bytes,
            "depth": self.depth,
            "final_channels": self.final_channels,
        }
