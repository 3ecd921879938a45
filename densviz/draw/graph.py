"""The concatenation graph of a plan, as plain data at a chosen level of detail.

No graphviz here: :mod:`densviz.draw.render` turns a :class:`ConcatGraph` into DOT
and pictures. Node ids are the plan's torchvision module paths, so a node, a
table row and ``named_modules()`` share one name.

Detail levels:

* ``dense``: the paper's Figure 1. Every layer receives an edge from the block
  input and from every earlier layer of its block, and the transition from all
  of them: L(L+1)/2 + (L+1) edges per block. Blocks longer than a threshold
  show their first and last few layers in full and one elided node in between,
  which carries the aggregated edges.
* ``chain``: how the network computes. Each layer reads the running
  concatenation and appends k maps to it; one concat node per step. O(L) edges.
* ``overview``: stem → dense block → transition → … → classifier.

This module is the entry point: the options, their checks and
:func:`build_graph`. The types live in :mod:`densviz.draw.graph_model`, the
builders of each level in :mod:`densviz.draw.graph_build`; both are re-exported
here.
"""

from __future__ import annotations

from collections.abc import Iterable

from densviz.core.config import ConfigError
from densviz.core.plan import ArchitecturePlan
from densviz.core.settings import SETTINGS
from densviz.draw.graph_build import assemble, focus
from densviz.draw.graph_model import INPUT_ID, Cluster, ConcatGraph, Detail, Edge, Node, NodeKind

__all__ = [
    "DEFAULT_KEEP",
    "DEFAULT_MAX_FULL_LAYERS",
    "FULL_LAYER_LIMIT",
    "INPUT_ID",
    "Cluster",
    "ConcatGraph",
    "Detail",
    "Edge",
    "Node",
    "NodeKind",
    "build_graph",
    "check_graph_options",
    "members",
]

DEFAULT_MAX_FULL_LAYERS: int = SETTINGS["max_full_layers"].default
"""Blocks with more layers than this are drawn elided at ``dense`` detail."""
DEFAULT_KEEP = 3
"""Layers drawn in full at each end of an elided block."""
FULL_LAYER_LIMIT = int(SETTINGS["max_full_layers"].high or 0)
"""The longest block drawn with every edge. Measured with ``dot``: 24 layers
(325 edges) 1.6 s, 32 layers (561) 28 s, 64 layers did not finish in minutes."""


def check_graph_options(
    plan: ArchitecturePlan,
    detail: Detail | str,
    *,
    block: int | None = None,
    max_full_layers: int = DEFAULT_MAX_FULL_LAYERS,
    keep: int = DEFAULT_KEEP,
) -> Detail:
    """Validate the options of :func:`build_graph` before any work is done.

    Returns:
        The detail level.

    Raises:
        ConfigError: naming the bad option, its value and what is allowed.
    """
    detail = Detail(SETTINGS["detail"].check(detail))
    num_blocks = len(plan.blocks)
    if block is not None and (isinstance(block, bool) or not isinstance(block, int) or not 1 <= block <= num_blocks):
        raise ConfigError("block", block, f"a block number from 1 to {num_blocks}")
    if isinstance(keep, bool) or not isinstance(keep, int) or not 1 <= keep <= 8:
        raise ConfigError("keep", keep, "an integer from 1 to 8")
    if isinstance(max_full_layers, int) and not isinstance(max_full_layers, bool):
        max_full_layers = min(max_full_layers, FULL_LAYER_LIMIT)  # build_graph lowers a larger one, with a note
    SETTINGS["max_full_layers"].check(max_full_layers)
    return detail


def build_graph(
    plan: ArchitecturePlan,
    detail: Detail | str = Detail.DENSE,
    *,
    block: int | None = None,
    max_full_layers: int = DEFAULT_MAX_FULL_LAYERS,
    keep: int = DEFAULT_KEEP,
) -> ConcatGraph:
    """Build the graph of a plan.

    Args:
        plan: The plan to draw.
        detail: ``dense``, ``chain`` or ``overview``.
        block: Focus on this dense block (1-based), or ``None`` for all.
        max_full_layers: At ``dense`` detail, blocks with more layers are
            elided; at most :data:`FULL_LAYER_LIMIT` (larger values are lowered,
            with a note saying so).
        keep: Layers drawn in full at each end of an elided block.

    Raises:
        ConfigError: for an unknown detail level or block, or a bad threshold.
    """
    detail = check_graph_options(plan, detail, block=block, max_full_layers=max_full_layers, keep=keep)
    notes: list[str] = []
    if (
        detail is not Detail.OVERVIEW
        and max_full_layers > FULL_LAYER_LIMIT
        and any(s.layers > FULL_LAYER_LIMIT for s in plan.blocks)
    ):
        notes.append(
            f"Blocks over {FULL_LAYER_LIMIT} layers are drawn elided: every edge of a 32-layer block takes "
            "Graphviz about half a minute, of a 64-layer block more than 15 minutes."
        )
        max_full_layers = FULL_LAYER_LIMIT
    graph = assemble(plan, detail, max_full_layers=max_full_layers, keep=keep, notes=notes)
    return focus(graph, block, plan) if block is not None else graph


def members(graph: ConcatGraph) -> Iterable[str]:
    """Every plan row the graph's nodes stand for."""
    for node in graph.nodes:
        yield from node.members
