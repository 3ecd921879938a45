"""Proof: the plan against the real PyTorch model, module by module.

The model is built on the meta device (no memory, no arithmetic), run once on
an empty input of the planned shape while forward hooks record every module's
output shape and ``torch.utils.flop_counter.FlopCounterMode`` counts its
floating-point operations. Parameters are counted from the modules themselves.
Each is compared with the plan's row of the same name.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from densviz.core.config import DenseNetConfig, InputSpec
from densviz.core.plan import ArchitecturePlan, LayerKind, make_plan
from densviz.nn.model import build_model

_COUNTING = threading.Lock()  # one FlopCounterMode at a time in this process

__all__ = ["Check", "Quantity", "VerifyReport", "torchinfo_summary", "torchinfo_totals", "verify"]


class Quantity(StrEnum):
    """What a check compares."""

    SHAPE = "shape"
    PARAMS = "params"
    MACS = "macs"


@dataclass(frozen=True, slots=True)
class Check:
    """One number of the plan next to the model's.

    Attributes:
        name: Module path, or ``total`` for the whole network.
        quantity: What is compared.
        planned: The plan's value.
        measured: What PyTorch gave (``None`` if the module never ran).
    """

    name: str
    quantity: Quantity
    planned: Any
    measured: Any

    @property
    def ok(self) -> bool:
        """Whether the two agree."""
        return bool(self.planned == self.measured)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "name": self.name,
            "quantity": self.quantity.value,
            "planned": _plain(self.planned),
            "measured": _plain(self.measured),
            "ok": self.ok,
        }


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class VerifyReport:
    """Every check of one plan against its model.

    Attributes:
        plan: The plan that was checked.
        checks: One per module and quantity, then the totals.
        device: Where the model ran (``meta``).
    """

    plan: ArchitecturePlan
    checks: tuple[Check, ...]
    device: str

    @property
    def ok(self) -> bool:
        """Whether every check agrees."""
        return all(c.ok for c in self.checks)

    @property
    def mismatches(self) -> tuple[Check, ...]:
        """The checks that disagree."""
        return tuple(c for c in self.checks if not c.ok)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "ok": self.ok,
            "device": self.device,
            "checked": len(self.checks),
            "mismatches": [c.to_dict() for c in self.mismatches],
            "checks": [c.to_dict() for c in self.checks],
        }


def _expected_shape(batch: int, channels: int, hw: tuple[int, int], kind: LayerKind) -> tuple[int, ...]:
    if kind is LayerKind.LINEAR:
        return (batch, channels)  # (N, classes)
    return (batch, channels, *hw)  # (N, C, H, W)


def _own_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def verify(cfg: DenseNetConfig, spec: InputSpec | None = None, *, device: str = "meta") -> VerifyReport:
    """Compare the plan with the model built and run on ``device``.

    Args:
        cfg: The architecture.
        spec: The input; 1×224×224 if omitted.
        device: ``meta`` (the default) needs no memory; any other device runs
            real arithmetic on zeros.

    Returns:
        The checks: each plan row's output shape, parameters and MACs, each
        block's output shape, parameters and MACs, and the totals.
    """
    spec = spec or InputSpec()
    plan = make_plan(cfg, spec)
    model = build_model(cfg, device=device, budget_bytes=None).eval()
    modules = dict(model.named_modules())
    shapes: dict[str, tuple[int, ...]] = {}
    flops: dict[str, int] = {}
    started: dict[str, int] = {}
    holder: dict[str, FlopCounterMode] = {}
    handles = []
    names = [row.name for row in plan.layers] + [b.name for b in plan.blocks]
    # Each module's FLOPs are the counter's total after it minus before it, taken by
    # hooks on this model only. (FlopCounterMode's own per-module table comes from
    # process-wide module hooks, so a forward pass in another thread, say another
    # user's, would be counted into it. The total is per thread.)
    for name in names:
        if name in modules:

            def before(_m: nn.Module, _i: Any, name: str = name) -> None:
                started[name] = holder["counter"].get_total_flops()

            def after(_m: nn.Module, _i: Any, out: torch.Tensor, name: str = name) -> None:
                shapes[name] = tuple(out.shape)
                flops[name] = holder["counter"].get_total_flops() - started[name]

            handles.append(modules[name].register_forward_pre_hook(before))
            handles.append(modules[name].register_forward_hook(after))
    x = torch.zeros(spec.batch, cfg.in_channels, spec.height, spec.width, device=device)  # (N, C, H, W)
    try:
        with _COUNTING, torch.no_grad(), FlopCounterMode(display=False) as counter:
            holder["counter"] = counter
            model(x)
    finally:
        for handle in handles:
            handle.remove()

    def measured_macs(name: str) -> int | None:
        if name not in modules:
            return None
        # FlopCounterMode counts 2 FLOPs per multiply-accumulate, for the whole batch.
        return flops.get(name, 0) // (2 * spec.batch)

    def checks() -> Iterator[Check]:
        n = spec.batch
        for row in plan.layers:
            module = modules.get(row.name)
            yield Check(
                row.name,
                Quantity.SHAPE,
                _expected_shape(n, row.out_channels, row.out_hw, row.kind),
                shapes.get(row.name),
            )
            yield Check(row.name, Quantity.PARAMS, row.params, _own_params(module) if module is not None else None)
            yield Check(row.name, Quantity.MACS, row.macs, measured_macs(row.name))
        for b in plan.blocks:
            module = modules.get(b.name)
            yield Check(b.name, Quantity.SHAPE, (n, b.out_channels, *b.hw), shapes.get(b.name))
            yield Check(b.name, Quantity.PARAMS, b.params, _own_params(module) if module is not None else None)
            yield Check(b.name, Quantity.MACS, b.macs, measured_macs(b.name))
        yield Check("total", Quantity.PARAMS, plan.totals.params, _own_params(model))
        yield Check("total", Quantity.MACS, plan.totals.macs, counter.get_total_flops() // (2 * n))

    return VerifyReport(plan, tuple(checks()), torch.device(device).type)


def torchinfo_summary(cfg: DenseNetConfig, spec: InputSpec | None = None, *, depth: int = 3) -> Any:
    """Summarise the same model with torchinfo (built on the meta device).

    Returns:
        ``torchinfo.ModelStatistics``; ``str()`` of it is torchinfo's table.
    """
    import torchinfo

    spec = spec or InputSpec()
    model = build_model(cfg, device="meta", budget_bytes=None).eval()
    return torchinfo.summary(
        model,
        input_size=(spec.batch, cfg.in_channels, spec.height, spec.width),
        device="meta",
        depth=depth,
        verbose=0,
        col_names=("output_size", "num_params", "mult_adds"),
        row_settings=("var_names",),
    )


def torchinfo_totals(cfg: DenseNetConfig, spec: InputSpec | None = None) -> dict[str, int]:
    """Count parameters and per-image MACs with torchinfo: convolutions of convolutions and the linear layer.

    torchinfo also counts batch-norm and bias operations as mult-adds; those
    are left out here, so that the figures follow the plan's convention.
    """
    spec = spec or InputSpec()
    stats = torchinfo_summary(cfg, spec, depth=99)
    macs = 0
    for layer in stats.summary_list:
        if layer.class_name == "Conv2d":
            macs += layer.macs
        elif layer.class_name == "Linear":
            macs += layer.macs - spec.batch * cfg.num_classes  # torchinfo adds one per bias
    return {"params": int(stats.total_params), "macs": macs // spec.batch}
