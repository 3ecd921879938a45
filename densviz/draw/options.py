"""How to draw the concatenation graph: one object from the page or the CLI to render and export.

No torch, plotly, graphviz or streamlit here.
"""

from __future__ import annotations

from dataclasses import dataclass

from densviz.core.plan import ArchitecturePlan
from densviz.core.settings import SETTINGS, Detail, Direction, Group, in_group
from densviz.draw.graph import check_graph_options

__all__ = ["GraphOptions"]

_DEFAULT = {s.name: s.default for s in in_group(Group.GRAPH)}


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

    detail: Detail = _DEFAULT["detail"]
    block: int | None = _DEFAULT["block"]
    direction: str = _DEFAULT["direction"]
    show_cost: bool = _DEFAULT["show_cost"]
    max_full_layers: int = _DEFAULT["max_full_layers"]

    def __post_init__(self) -> None:
        for name in _DEFAULT:
            object.__setattr__(self, name, SETTINGS[name].check(getattr(self, name)))
        object.__setattr__(self, "detail", Detail(self.detail))
        object.__setattr__(self, "direction", Direction(self.direction))

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
