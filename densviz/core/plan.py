"""The analytic per-layer plan of a DenseNet: shapes, parameters, MACs, bytes.

Pure Python arithmetic, no torch: a plan takes microseconds to milliseconds,
so every slider move can afford one. ``densviz.nn.verify`` proves it equal to the
real PyTorch model.

Conventions (the ones under which torchvision publishes 2.834 GMACs for
DenseNet-121): MACs count the multiply-accumulates of convolutions and of the
linear layer, without biases, batch norm, ReLU or pooling; FLOPs = 2·MACs.
Bytes are float32 activations for the whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from densviz.core.config import (
    DenseNetConfig,
    InputSpec,
    Stem,
    check_input,
    conv_output_size,
    transition_channels,
)
from densviz.core.memory import DEFAULT_BUDGET_BYTES, MemoryEstimate, check_budget, estimate_memory

__all__ = ["ArchitecturePlan", "BlockSummary", "LayerKind", "LayerPlan", "Totals", "checked_plan", "make_plan"]

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


@dataclass(frozen=True, slots=True)
class LayerPlan:
    """One module of the network, named as in torchvision's state dict.

    Attributes:
        name: Dotted module path (``features.denseblock2.denselayer7``).
        kind: What the module is.
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


@dataclass(frozen=True)
class ArchitecturePlan:
    """Every number densviz shows about one network at one input size.

    Attributes:
        config: The architecture.
        input: The input it is planned for.
        layers: One row per module, in forward order.
        blocks: One summary per dense block.
        totals: Whole-network totals.
        memory: Inference and training-step memory estimates.
    """

    config: DenseNetConfig
    input: InputSpec
    layers: tuple[LayerPlan, ...]
    blocks: tuple[BlockSummary, ...]
    totals: Totals
    memory: MemoryEstimate
    _by_name: dict[str, LayerPlan] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update((row.name, row) for row in self.layers)

    def __getitem__(self, name: str) -> LayerPlan:
        """The row of a module path; ``KeyError`` if there is none."""
        return self._by_name[name]

    @property
    def stem(self) -> tuple[LayerPlan, ...]:
        """The rows before the first dense block (``features.conv0`` …)."""
        return tuple(
            r for r in self.layers if r.block is None and r.name.startswith("features.") and r.name != "features.norm5"
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``densviz summary --json``."""
        return {
            "config": self.config.to_dict(),
            "input": self.input.to_dict(),
            "totals": self.totals.to_dict(),
            "memory": self.memory.to_dict(),
            "blocks": [b.to_dict() for b in self.blocks],
            "layers": [row.to_dict() for row in self.layers],
        }


def _bn_params(channels: int) -> int:
    return 2 * channels  # BatchNorm2d: weight and bias (running stats are buffers)


def _conv(c_in: int, c_out: int, kernel: int, out_hw: tuple[int, int]) -> tuple[int, int]:
    """(params, MACs) of a bias-free convolution."""
    params = c_out * c_in * kernel * kernel
    # conv MACs = H_out·W_out·C_out·C_in·kH·kW (no bias)
    return params, out_hw[0] * out_hw[1] * params


def make_plan(cfg: DenseNetConfig, spec: InputSpec | None = None) -> ArchitecturePlan:
    """Work out every module's shape, parameters, MACs and bytes.

    Args:
        cfg: The architecture.
        spec: The input; DenseNet's 1×224×224 if omitted.

    Returns:
        The plan, in forward order with torchvision's module names.

    Raises:
        ConfigError: if the input is smaller than the network allows.
    """
    spec = spec or InputSpec()
    check_input(cfg, spec)
    batch_bytes = spec.batch * BYTES_PER_ELEMENT
    rows: list[LayerPlan] = []

    def add(
        name: str,
        kind: LayerKind,
        c_in: int,
        c_out: int,
        in_hw: tuple[int, int],
        out_hw: tuple[int, int],
        params: int = 0,
        macs: int = 0,
        inputs: tuple[str, ...] | None = None,
        block: int | None = None,
        index: int | None = None,
    ) -> str:
        if inputs is None:
            inputs = (rows[-1].name,) if rows else ()
        nbytes = batch_bytes * c_out * out_hw[0] * out_hw[1]
        rows.append(LayerPlan(name, kind, block, index, c_in, c_out, in_hw, out_hw, params, macs, nbytes, inputs))
        return name

    # --- stem
    k0 = cfg.init_features
    hw = spec.hw
    if cfg.stem is Stem.IMAGENET:
        conv_hw = (conv_output_size(hw[0], 7, 2, 3), conv_output_size(hw[1], 7, 2, 3))
        add(
            "features.conv0",
            LayerKind.CONV,
            cfg.in_channels,
            k0,
            hw,
            conv_hw,
            *_conv(cfg.in_channels, k0, 7, conv_hw),
            inputs=(),
        )
        add("features.norm0", LayerKind.NORM, k0, k0, conv_hw, conv_hw, _bn_params(k0))
        add("features.relu0", LayerKind.RELU, k0, k0, conv_hw, conv_hw)
        hw = (conv_output_size(conv_hw[0], 3, 2, 1), conv_output_size(conv_hw[1], 3, 2, 1))
        add("features.pool0", LayerKind.POOL, k0, k0, conv_hw, hw)
    else:
        add(
            "features.conv0", LayerKind.CONV, cfg.in_channels, k0, hw, hw, *_conv(cfg.in_channels, k0, 3, hw), inputs=()
        )

    # --- dense blocks and transitions
    k = cfg.growth_rate
    blocks: list[BlockSummary] = []
    channels = k0
    for b, num_layers in enumerate(cfg.block_config, start=1):
        block_name = f"features.denseblock{b}"
        block_input = rows[-1].name
        sources = [block_input]
        first_row = len(rows)
        c_block_in = channels
        for i in range(1, num_layers + 1):
            c_in = c_block_in + k * (i - 1)  # k_ℓ = k₀ + k·(ℓ−1)
            if cfg.bottleneck:
                width = cfg.bn_size * k
                p1, m1 = _conv(c_in, width, 1, hw)
                p2, m2 = _conv(width, k, 3, hw)
                params = _bn_params(c_in) + p1 + _bn_params(width) + p2
                macs = m1 + m2
            else:
                p1, m1 = _conv(c_in, k, 3, hw)
                params, macs = _bn_params(c_in) + p1, m1
            name = add(
                f"{block_name}.denselayer{i}",
                LayerKind.DENSE_LAYER,
                c_in,
                k,
                hw,
                hw,
                params,
                macs,
                tuple(sources),
                b,
                i,
            )
            sources.append(name)
        channels = c_block_in + k * num_layers
        block_rows = rows[first_row:]
        out_c: int | None = None
        if b < len(cfg.block_config):
            out_c = transition_channels(channels, cfg.compression)
            p, m = _conv(channels, out_c, 1, hw)  # the 1×1 conv runs before the 2×2 pool
            out_hw = (hw[0] // 2, hw[1] // 2)
            add(
                f"features.transition{b}",
                LayerKind.TRANSITION,
                channels,
                out_c,
                hw,
                out_hw,
                _bn_params(channels) + p,
                m,
                tuple(sources),
                b,
            )
        blocks.append(
            BlockSummary(
                b,
                block_name,
                num_layers,
                c_block_in,
                channels,
                hw,
                sum(r.params for r in block_rows),
                sum(r.macs for r in block_rows),
                batch_bytes * channels * hw[0] * hw[1],
                out_c,
            )
        )
        if out_c is not None:
            channels, hw = out_c, (hw[0] // 2, hw[1] // 2)
        else:
            add(
                "features.norm5",
                LayerKind.NORM,
                channels,
                channels,
                hw,
                hw,
                _bn_params(channels),
                inputs=tuple(sources),
            )

    # --- head: ReLU and global average pooling are functional, then the classifier
    classes = cfg.num_classes
    add(
        "classifier",
        LayerKind.LINEAR,
        channels,
        classes,
        (1, 1),
        (1, 1),
        channels * classes + classes,
        channels * classes,
    )

    layers = tuple(rows)
    params = sum(r.params for r in layers)
    macs = sum(r.macs for r in layers)
    totals = Totals(
        params=params,
        macs=macs,
        flops=2 * macs,
        param_bytes=params * BYTES_PER_ELEMENT,
        activation_bytes=sum(r.output_bytes for r in layers),
        depth=cfg.depth,
        final_channels=channels,
    )
    memory = estimate_memory(cfg, spec, layers, tuple(blocks), totals.param_bytes)
    return ArchitecturePlan(cfg, spec, layers, tuple(blocks), totals, memory)


def checked_plan(
    cfg: DenseNetConfig, spec: InputSpec | None = None, budget_bytes: int = DEFAULT_BUDGET_BYTES
) -> ArchitecturePlan:
    """:func:`make_plan`, then the resource guard: what every build and run starts from.

    Raises:
        ConfigError: for an input too small, or a network over the memory budget.
    """
    plan = make_plan(cfg, spec)
    check_budget(plan, budget_bytes)
    return plan
