"""Two designs side by side: what changing k, θ or the bottleneck costs.

Pure arithmetic on two plans (no torch): each headline number of A and B with
their difference and ratio, and the dense blocks paired by position.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

from densviz.core.plan import ArchitecturePlan, BlockSummary

__all__ = ["BlockDiff", "Comparison", "MetricDiff", "compare"]


@dataclass(frozen=True, slots=True)
class MetricDiff:
    """One number of both designs.

    Attributes:
        name: What it is (``params``, ``macs``, …).
        a: Design A's value.
        b: Design B's value.
    """

    name: str
    a: int
    b: int

    @property
    def diff(self) -> int:
        """B − A."""
        return self.b - self.a

    @property
    def ratio(self) -> float | None:
        """B / A, or ``None`` when A is 0."""
        return self.b / self.a if self.a else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {"name": self.name, "a": self.a, "b": self.b, "diff": self.diff, "ratio": self.ratio}


@dataclass(frozen=True, slots=True)
class BlockDiff:
    """Dense block ``index`` of both designs (``None`` where one has fewer blocks)."""

    index: int
    a: BlockSummary | None
    b: BlockSummary | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data: each side's block, and B − A where both exist."""
        out: dict[str, Any] = {
            "index": self.index,
            "a": self.a.to_dict() if self.a else None,
            "b": self.b.to_dict() if self.b else None,
        }
        if self.a and self.b:
            out["diff"] = {
                k: getattr(self.b, k) - getattr(self.a, k)
                for k in ("layers", "in_channels", "out_channels", "params", "macs")
            }
        return out


@dataclass(frozen=True)
class Comparison:
    """Designs A and B, number by number and block by block."""

    a: ArchitecturePlan
    b: ArchitecturePlan
    metrics: tuple[MetricDiff, ...]
    blocks: tuple[BlockDiff, ...]

    def to_dict(self) -> dict[str, Any]:
        """What ``densviz compare --json`` prints."""
        return {
            "a": {"config": self.a.config.to_dict(), "input": self.a.input.to_dict()},
            "b": {"config": self.b.config.to_dict(), "input": self.b.input.to_dict()},
            "metrics": [m.to_dict() for m in self.metrics],
            "blocks": [d.to_dict() for d in self.blocks],
        }


def compare(a: ArchitecturePlan, b: ArchitecturePlan) -> Comparison:
    """Compare two plans: parameters, MACs, depth, channels and memory, then the blocks."""

    def pair(name: str, get: Any) -> MetricDiff:
        return MetricDiff(name, int(get(a)), int(get(b)))

    metrics = (
        pair("params", lambda p: p.totals.params),
        pair("macs", lambda p: p.totals.macs),
        pair("depth", lambda p: p.totals.depth),
        pair("final_channels", lambda p: p.totals.final_channels),
        pair("param_bytes", lambda p: p.totals.param_bytes),
        pair("activation_bytes", lambda p: p.totals.activation_bytes),
        pair("training_naive_bytes", lambda p: p.memory.training_naive_bytes),
        pair("training_efficient_bytes", lambda p: p.memory.training_efficient_bytes),
    )
    blocks = tuple(BlockDiff(i, x, y) for i, (x, y) in enumerate(zip_longest(a.blocks, b.blocks), start=1))
    return Comparison(a, b, metrics, blocks)
