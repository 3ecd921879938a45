"""How to draw the concatenation graph: one object from the page or the CLI to render and export.

No torch, plotly, graphviz or streamlit here.
"""

from __future__ import annotations

from dataclasses import dataclass

from densviz.core.config import ConfigError
from densviz.core.plan import ArchitecturePlan
from densviz.draw.graph import DEFAULT_MAX_FULL_LAYERS, Detail, check_graph_options

__all__ = ["DIRECTIONS", "GraphOptions"]

DIRECTIONS = ("TB", "LR")
"""Top to bottom, left to right."""


@dataclass(frozen=True)
class GraphOptions:
    """The graph's settings, checked when made (and against a plan by :meth:`check`).

    Attributes:
        detail: ``dense``, ``chain`` or ``overview`` (a string is read as one).
        block: Draw only this dense block (1-based), or ``None`` for all.
        direction: ``TB`` (top to bottom) or ``LR`` (left to right).
        show_cost: Parameters and MACs in the nodes' labels.
        max_full_layers: At ``dense`` detail, longer blocks are drawn elided.

    Raises:
        ConfigError: for an unknown detail or direction, or a threshold that is
            not a positive integer.
    """

    detail: Detail = Detail.DENSE
    block: int | None = None
    direction: str = "TB"
    show_cost: bool = False
    max_full_layers: int = DEFAULT_MAX_FULL_LAYERS

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "detail", Detail(self.detail))
        except ValueError:
            raise ConfigError("detail", self.detail, "one of " + ", ".join(d.value for d in Detail)) from None
        if self.direction not in DIRECTIONS:
            raise ConfigError("direction", self.direction, "TB (top to bottom) or LR (left to right)")
        full = self.max_full_layers
        if isinstance(full, bool) or not isinstance(full, int) or full < 1:
            raise ConfigError("max_full_layers", full, "a positive integer")

    def check(self, plan: ArchitecturePlan) -> GraphOptions:
        """These options, after the checks that depend on the plan (the block number).

        Raises:
            ConfigError: naming the bad option, its value and what is allowed.
        """
        check_graph_options(plan, self.detail, block=self.block, max_full_layers=self.max_full_layers)
        return self

    @property
    def stem(self) -> str:
        """The graph's file name without extension: ``graph-dense``, ``graph-chain-block2``."""
        return f"graph-{self.detail.value}" + (f"-block{self.block}" if self.block else "")
