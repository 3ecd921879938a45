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
from typing import Any

from densviz.core.config import (
    ConfigError,
    DenseNetConfig,
    InputSpec,
    Stem,
    check_input,
    conv_output_size,
    transition_channels,
)
from densviz.core.layers import BYTES_PER_ELEMENT, BlockSummary, LayerKind, LayerPlan, Role, Totals
from densviz.core.memory import DEFAULT_BUDGET_BYTES, MemoryEstimate, estimate_memory
from densviz.core.units import format_bytes

__all__ = [
    "ArchitecturePlan",
    "BlockSummary",
    "LayerKind",
    "LayerPlan",
    "Role",
    "Totals",
    "check_budget",
    "checked_plan",
    "make_plan",
]


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
        return self.with_role(Role.STEM)

    def with_role(self, role: Role) -> tuple[LayerPlan, ...]:
        """The rows of one role, in forward order."""
        return tuple(r for r in self.layers if r.role is role)

    @property
    def final_norm(self) -> LayerPlan:
        """``features.norm5``, the batch norm after the last block."""
        return self.with_role(Role.FINAL_NORM)[0]

    @property
    def classifier(self) -> LayerPlan:
        """The linear classifier."""
        return self.with_role(Role.CLASSIFIER)[0]

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


@dataclass(frozen=True, slots=True)
class _Shape:
    """Channels and (height, width) read and written by one module."""

    c_in: int
    c_out: int
    in_hw: tuple[int, int]
    out_hw: tuple[int, int]


class _Rows:
    """The plan's rows as they are written, in forward order."""

    def __init__(self, batch: int) -> None:
        self.rows: list[LayerPlan] = []
        self.batch_bytes = batch * BYTES_PER_ELEMENT

    @property
    def last(self) -> str:
        """The name of the row written last."""
        return self.rows[-1].name

    def add(
        self,
        name: str,
        kind: LayerKind,
        role: Role,
        shape: _Shape,
        cost: tuple[int, int] = (0, 0),
        inputs: tuple[str, ...] | None = None,
        place: tuple[int | None, int | None] = (None, None),
    ) -> LayerPlan:
        """Append a row; ``cost`` is (params, MACs), ``place`` (block, index); inputs default to the last row."""
        if inputs is None:
            inputs = (self.last,) if self.rows else ()
        nbytes = self.batch_bytes * shape.c_out * shape.out_hw[0] * shape.out_hw[1]
        row = LayerPlan(
            name, kind, role, *place, shape.c_in, shape.c_out, shape.in_hw, shape.out_hw, *cost, nbytes, inputs
        )
        self.rows.append(row)
        return row


def _add_stem(rows: _Rows, cfg: DenseNetConfig, hw: tuple[int, int]) -> tuple[int, int]:
    """The stem's rows; returns the (height, width) it hands to block 1."""
    c, k0 = cfg.in_channels, cfg.init_features
    if cfg.stem is Stem.CIFAR:
        rows.add("features.conv0", LayerKind.CONV, Role.STEM, _Shape(c, k0, hw, hw), _conv(c, k0, 3, hw), inputs=())
        return hw
    conv_hw = (conv_output_size(hw[0], 7, 2, 3), conv_output_size(hw[1], 7, 2, 3))
    rows.add("features.conv0", LayerKind.CONV, Role.STEM, _Shape(c, k0, hw, conv_hw), _conv(c, k0, 7, conv_hw), ())
    same = _Shape(k0, k0, conv_hw, conv_hw)
    rows.add("features.norm0", LayerKind.NORM, Role.STEM, same, (_bn_params(k0), 0))
    rows.add("features.relu0", LayerKind.RELU, Role.STEM, same)
    pool_hw = (conv_output_size(conv_hw[0], 3, 2, 1), conv_output_size(conv_hw[1], 3, 2, 1))
    rows.add("features.pool0", LayerKind.POOL, Role.STEM, _Shape(k0, k0, conv_hw, pool_hw))
    return pool_hw


def _dense_layer_cost(cfg: DenseNetConfig, c_in: int, hw: tuple[int, int]) -> tuple[int, int]:
    """(params, MACs) of one dense layer reading ``c_in`` channels."""
    k = cfg.growth_rate
    if not cfg.bottleneck:  # BN-ReLU-Conv3×3
        p, m = _conv(c_in, k, 3, hw)
        return _bn_params(c_in) + p, m
    width = cfg.bn_size * k  # BN-ReLU-Conv1×1 (bn_size·k)-BN-ReLU-Conv3×3 (k)
    p1, m1 = _conv(c_in, width, 1, hw)
    p2, m2 = _conv(width, k, 3, hw)
    return _bn_params(c_in) + p1 + _bn_params(width) + p2, m1 + m2


def _add_block(rows: _Rows, cfg: DenseNetConfig, b: int, c_block_in: int, hw: tuple[int, int]) -> BlockSummary:
    """Dense block ``b``'s layers and the transition or final norm that closes it."""
    k, num_layers = cfg.growth_rate, cfg.block_config[b - 1]
    block_name = f"features.denseblock{b}"
    sources = [rows.last]  # the block input, then every layer's output
    first_row = len(rows.rows)
    for i in range(1, num_layers + 1):
        c_in = c_block_in + k * (i - 1)  # k_ℓ = k₀ + k·(ℓ−1)
        row = rows.add(
            f"{block_name}.denselayer{i}",
            LayerKind.DENSE_LAYER,
            Role.DENSE_LAYER,
            _Shape(c_in, k, hw, hw),
            _dense_layer_cost(cfg, c_in, hw),
            tuple(sources),
            (b, i),
        )
        sources.append(row.name)
    channels = c_block_in + k * num_layers
    block_rows = rows.rows[first_row:]
    out_c: int | None = None
    if b < len(cfg.block_config):
        out_c = transition_channels(channels, cfg.compression)
        p, m = _conv(channels, out_c, 1, hw)  # the 1×1 conv runs before the 2×2 pool
        shape = _Shape(channels, out_c, hw, (hw[0] // 2, hw[1] // 2))
        cost = (_bn_params(channels) + p, m)
        rows.add(
            f"features.transition{b}", LayerKind.TRANSITION, Role.TRANSITION, shape, cost, tuple(sources), (b, None)
        )
    else:
        shape = _Shape(channels, channels, hw, hw)
        rows.add("features.norm5", LayerKind.NORM, Role.FINAL_NORM, shape, (_bn_params(channels), 0), tuple(sources))
    return BlockSummary(
        b,
        block_name,
        num_layers,
        c_block_in,
        channels,
        hw,
        sum(r.params for r in block_rows),
        sum(r.macs for r in block_rows),
        rows.batch_bytes * channels * hw[0] * hw[1],
        out_c,
    )


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
    rows = _Rows(spec.batch)
    hw = _add_stem(rows, cfg, spec.hw)
    blocks: list[BlockSummary] = []
    channels = cfg.init_features
    for b in range(1, len(cfg.block_config) + 1):
        summary = _add_block(rows, cfg, b, channels, hw)
        blocks.append(summary)
        if summary.transition_channels is not None:
            channels, hw = summary.transition_channels, (hw[0] // 2, hw[1] // 2)
        else:
            channels = summary.out_channels
    # head: ReLU and global average pooling are functional, then the classifier
    classes = cfg.num_classes
    cost = (channels * classes + classes, channels * classes)
    rows.add("classifier", LayerKind.LINEAR, Role.CLASSIFIER, _Shape(channels, classes, (1, 1), (1, 1)), cost)

    layers = tuple(rows.rows)
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
                f"This network needs about {format_bytes(estimate)} (parameters {format_bytes(totals.param_bytes)} "
                f"+ activations {format_bytes(totals.activation_bytes)} at batch {plan.input.batch}), over the "
                f"memory budget of {format_bytes(budget_bytes)}; lower the batch, the input size, the growth rate "
                "or the layers per block."
            ),
        )


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
