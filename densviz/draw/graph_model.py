"""The concatenation graph as plain data: nodes, edges, clusters and the graph itself.

No graphviz and no plan logic here: :mod:`densviz.draw.graph_build` fills these
types from a plan, :mod:`densviz.draw.render` turns them into DOT and pictures.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from densviz.core.settings import Detail

__all__ = ["INPUT_ID", "Cluster", "ConcatGraph", "Detail", "Edge", "Node", "NodeKind", "edge_id"]

INPUT_ID = "input"
"""The id of the node that stands for the input batch."""


class NodeKind(StrEnum):
    """What a node stands for; the renderer styles by it."""

    INPUT = "input"
    STEM = "stem"
    LAYER = "layer"
    ELIDED = "elided"
    CONCAT = "concat"
    BLOCK = "block"
    TRANSITION = "transition"
    HEAD = "head"


@dataclass(frozen=True, slots=True)
class Node:
    """One box of the graph.

    Attributes:
        id: Stable id: the module path, or a derived one (``….concat3``).
        kind: What it stands for.
        title: First label line (``denselayer7``).
        lines: Further label lines (channels, H×W).
        cost: Parameters and MACs, shown when the user asks for them.
        block: The dense block it belongs to, for its colour.
        members: The plan rows it stands for (none for input and concat nodes).
        tooltip: Longer text for interactive views.
    """

    id: str
    kind: NodeKind
    title: str
    lines: tuple[str, ...]
    cost: str | None
    block: int | None
    members: tuple[str, ...]
    tooltip: str


def edge_id(src: str, dst: str) -> str:
    """The id an edge's SVG element carries (``features.transition1->features.denseblock2.denselayer1``)."""
    return f"{src}->{dst}"


@dataclass(frozen=True, slots=True)
class Edge:
    """Feature maps flowing from one node to another.

    Attributes:
        src: Producer node id.
        dst: Consumer node id.
        channels: Channels carried.
        note: Extra words for the label (``ReLU + global pool``), if any.
        spine: Whether it is on the main forward path (from each node to the
            next); the renderer keeps that path straight and bends the others
            around it, as the paper's Figure 1 does.
    """

    src: str
    dst: str
    channels: int
    note: str | None = None
    spine: bool = False


@dataclass(frozen=True, slots=True)
class Cluster:
    """A group drawn as one box: a dense block, or the stem.

    Attributes:
        id: ``features.denseblock2`` or ``stem``.
        label: Its caption.
        block: Block number, ``None`` for the stem.
        nodes: Ids of the nodes inside, in order.
    """

    id: str
    label: str
    block: int | None
    nodes: tuple[str, ...]


@dataclass(frozen=True)
class ConcatGraph:
    """A drawable graph of a plan.

    Attributes:
        detail: The level it was built at.
        nodes: In forward order.
        edges: In forward order of their consumers.
        clusters: Dense blocks (and the stem).
        notes: Sentences for the user about what was simplified and why.
        block: The block in focus, or ``None`` for the whole network.
    """

    detail: Detail
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    clusters: tuple[Cluster, ...]
    notes: tuple[str, ...]
    block: int | None
