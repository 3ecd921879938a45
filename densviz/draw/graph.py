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
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise

from densviz.core.config import ConfigError, Stem
from densviz.core.plan import ArchitecturePlan, LayerKind, LayerPlan
from densviz.core.units import format_bytes, format_count, format_macs

__all__ = [
    "DEFAULT_KEEP",
    "DEFAULT_MAX_FULL_LAYERS",
    "FULL_LAYER_LIMIT",
    "Cluster",
    "ConcatGraph",
    "Detail",
    "Edge",
    "Node",
    "NodeKind",
    "build_graph",
    "check_graph_options",
]

DEFAULT_MAX_FULL_LAYERS = 12
"""Blocks with more layers than this are drawn elided at ``dense`` detail."""
DEFAULT_KEEP = 3
"""Layers drawn in full at each end of an elided block."""
FULL_LAYER_LIMIT = 24
"""The longest block drawn with every edge. Measured with ``dot``: 24 layers
(325 edges) 1.6 s, 32 layers (561) 28 s, 64 layers did not finish in minutes."""
INPUT_ID = "input"


class Detail(StrEnum):
    """How much of the wiring to draw."""

    DENSE = "dense"
    CHAIN = "chain"
    OVERVIEW = "overview"


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


def _hw(hw: tuple[int, int]) -> str:
    return f"{hw[0]}×{hw[1]}"


def _cost(params: int, macs: int) -> str:
    return f"{format_count(params)} params · {format_macs(macs)}"


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


_STEM_WORDS = {
    "conv0": {Stem.IMAGENET: "7×7/2 conv", Stem.CIFAR: "3×3 conv"},
    "norm0": {Stem.IMAGENET: "batch norm"},
    "relu0": {Stem.IMAGENET: "ReLU"},
    "pool0": {Stem.IMAGENET: "3×3/2 max pool"},
}


def _row_node(row: LayerPlan, plan: ArchitecturePlan) -> Node:
    cfg = plan.config
    short = _short(row.name)
    size = f"{row.out_channels} ch · {_hw(row.out_hw)}"
    if row.kind is LayerKind.DENSE_LAYER:
        kind, title = NodeKind.LAYER, short
        lines: tuple[str, ...] = (f"{row.in_channels} → +{row.out_channels} ch · {_hw(row.out_hw)}",)
        earlier = len(row.inputs) - 1
        reads = (
            f"the block input and {earlier} earlier layer{'s' if earlier != 1 else ''}"
            if earlier
            else "the block input"
        )
        tooltip = f"{row.name}: reads {reads} ({row.in_channels} channels), adds k = {row.out_channels}"
    elif row.kind is LayerKind.TRANSITION:
        kind, title = NodeKind.TRANSITION, f"{short} · θ = {cfg.compression:g}"
        lines = (f"{row.in_channels} → {row.out_channels} ch", f"{_hw(row.in_hw)} → {_hw(row.out_hw)}")
        tooltip = (
            f"{row.name}: BN, ReLU, 1×1 conv to ⌊θ·{row.in_channels}⌋ = {row.out_channels} channels, 2×2 average pool"
        )
    elif row.kind is LayerKind.LINEAR:
        kind, title = NodeKind.HEAD, f"{short} · linear"
        lines = (f"{row.in_channels} → {row.out_channels}",)
        tooltip = f"{row.name}: fully connected, {row.in_channels} features to {row.out_channels} classes"
    elif row.block is None and short.endswith("0"):
        kind, title = NodeKind.STEM, f"{short} · {_STEM_WORDS.get(short, {}).get(cfg.stem, row.kind.value)}"
        lines = (f"{row.in_channels} → {size}" if row.in_channels != row.out_channels else size,)
        tooltip = f"{row.name}: output {row.out_channels}×{_hw(row.out_hw)}"
    else:  # features.norm5
        kind, title = NodeKind.HEAD, f"{short} · batch norm"
        lines = (size,)
        tooltip = f"{row.name}: batch norm of the last block's {row.out_channels} channels"
    cost = _cost(row.params, row.macs)
    return Node(
        row.name,
        kind,
        title,
        lines,
        cost,
        row.block,
        (row.name,),
        f"{tooltip}; {cost}; output {format_bytes(row.output_bytes)}",
    )


def _input_node(plan: ArchitecturePlan) -> Node:
    spec = plan.input
    size = f"{plan.config.in_channels} ch · {spec.height}×{spec.width}"
    return Node(
        INPUT_ID,
        NodeKind.INPUT,
        "input",
        (size,),
        None,
        None,
        (),
        f"input batch {spec.batch}×{plan.config.in_channels}×{spec.height}×{spec.width}",
    )


def _block_label(plan: ArchitecturePlan, b: int) -> str:
    s = plan.blocks[b - 1]
    return f"dense block {b} · {s.layers} layers · k = {plan.config.growth_rate} · {s.in_channels} → {s.out_channels} ch · {_hw(s.hw)}"


class _Builder:
    def __init__(self, plan: ArchitecturePlan):
        self.plan = plan
        self.nodes: list[Node] = []
        self.edges: list[Edge] = []
        self.clusters: list[Cluster] = []
        self.notes: list[str] = []
        self.channels_of: dict[str, int] = {INPUT_ID: plan.config.in_channels}
        for row in plan.layers:
            self.channels_of[row.name] = row.out_channels

    def node(self, node: Node) -> str:
        self.nodes.append(node)
        return node.id

    def edge(self, src: str, dst: str, channels: int, note: str | None = None, spine: bool = True) -> None:
        self.edges.append(Edge(src, dst, channels, note, spine))

    def stem(self, rows: list[LayerPlan]) -> str:
        """Input and stem rows in sequence; returns the id of the stem's last node."""
        prev = self.node(_input_node(self.plan))
        ids = []
        for row in rows:
            ids.append(self.node(_row_node(row, self.plan)))
            self.edge(prev, row.name, self.channels_of[prev])
            prev = row.name
        if len(ids) > 1:
            self.clusters.append(Cluster("stem", f"stem ({self.plan.config.stem.value})", None, tuple(ids)))
        return prev

    def head(self, prev: str) -> None:
        """The last block's norm5 is drawn by the caller; here the classifier after it."""
        row = self.plan.layers[-1]
        self.node(_row_node(row, self.plan))
        self.edge(prev, row.name, self.channels_of[prev], "ReLU + global avg pool")


def _elided_range(layers: int, max_full: int, keep: int) -> tuple[int, int] | None:
    """1-based (first, last) layers hidden in one node, or ``None`` to draw all."""
    if layers <= max_full or layers <= 2 * keep + 1:
        return None
    return keep + 1, layers - keep


def _dense_block(b: _Builder, block: int, rows: list[LayerPlan], closing: LayerPlan, max_full: int, keep: int) -> None:
    plan = b.plan
    summary = plan.blocks[block - 1]
    hidden = _elided_range(summary.layers, max_full, keep)
    alias: dict[str, str] = {}
    ids: list[str] = []
    for row in rows:
        assert row.index is not None
        if hidden and hidden[0] <= row.index <= hidden[1]:
            if row.index == hidden[0]:
                first, last = hidden
                count = last - first + 1
                members = tuple(r.name for r in rows if r.index is not None and first <= r.index <= last)
                params = sum(r.params for r in rows if r.name in members)
                macs = sum(r.macs for r in rows if r.name in members)
                k = plan.config.growth_rate
                c_first = summary.in_channels + k * (first - 1)
                elided = Node(
                    f"{summary.name}.denselayer{first}-{last}",
                    NodeKind.ELIDED,
                    f"… {count} layers, {count * k:,} channels …",
                    (
                        f"denselayer{first}–{last}",
                        f"read {c_first} → {c_first + k * (count - 1)} ch · {_hw(summary.hw)}",
                    ),
                    _cost(params, macs),
                    block,
                    members,
                    f"{count} dense layers drawn as one node; each reads every earlier output of the block and adds k = {k}",
                )
                ids.append(b.node(elided))
            alias[row.name] = f"{summary.name}.denselayer{hidden[0]}-{hidden[1]}"
        else:
            ids.append(b.node(_row_node(row, plan)))
    b.clusters.append(Cluster(summary.name, _block_label(plan, block), block, tuple(ids)))
    # Edges: each consumer's inputs, mapped through the elision. Edges that the
    # elision merges carry the channels of each distinct producer once: the
    # block input feeds the elided node k₀ channels, the elided node feeds a
    # later layer count·k.
    merged: dict[tuple[str, str], list[str]] = {}
    for consumer in [*rows, closing]:
        dst = alias.get(consumer.name, consumer.name)
        for src in consumer.inputs:
            src_id = alias.get(src, src)
            if src_id == dst:
                continue  # between two layers inside the elided node
            sources = merged.setdefault((src_id, dst), [])
            if src not in sources:
                sources.append(src)
    path = [rows[0].inputs[0], *ids, closing.name]  # block input, drawn layers, transition
    spine = set(pairwise(path))
    for (src_id, dst), sources in merged.items():
        b.edge(src_id, dst, sum(b.channels_of[s] for s in sources), spine=(src_id, dst) in spine)
    if hidden:
        b.notes.append(
            f"Dense block {block} has {summary.layers} layers: layers 1–{hidden[0] - 1} and {hidden[1] + 1}–{summary.layers} "
            f"are drawn in full, the {hidden[1] - hidden[0] + 1} in between as one node with their edges merged."
        )


def _chain_block(b: _Builder, block: int, rows: list[LayerPlan], block_input: str, closing: LayerPlan) -> None:
    plan = b.plan
    summary = plan.blocks[block - 1]
    running, channels = block_input, summary.in_channels
    ids: list[str] = []
    for row in rows:
        ids.append(b.node(_row_node(row, plan)))
        b.edge(running, row.name, channels)
        concat_id = f"{summary.name}.concat{row.index}"
        new_channels = channels + row.out_channels
        ids.append(
            b.node(
                Node(
                    concat_id,
                    NodeKind.CONCAT,
                    "concat",
                    (f"{new_channels} ch",),
                    None,
                    block,
                    (),
                    f"concatenation after {_short(row.name)}: {channels} + {row.out_channels} = {new_channels} channels",
                )
            )
        )
        b.edge(running, concat_id, channels, spine=False)
        b.edge(row.name, concat_id, row.out_channels)
        running, channels = concat_id, new_channels
    b.clusters.append(Cluster(summary.name, _block_label(plan, block), block, tuple(ids)))
    b.edge(running, closing.name, channels)


def _overview(b: _Builder) -> None:
    plan = b.plan
    stem_rows = list(plan.stem)
    prev = b.node(_input_node(plan))
    first, last = stem_rows[0], stem_rows[-1]
    words = ", ".join(_STEM_WORDS[_short(r.name)][plan.config.stem] for r in stem_rows)
    stem_id = b.node(
        Node(
            "stem",
            NodeKind.STEM,
            f"stem · {plan.config.stem.value}",
            (words, f"{first.in_channels} → {last.out_channels} ch · {_hw(first.in_hw)} → {_hw(last.out_hw)}"),
            _cost(sum(r.params for r in stem_rows), sum(r.macs for r in stem_rows)),
            None,
            tuple(r.name for r in stem_rows),
            "the layers before the first dense block",
        )
    )
    b.edge(prev, stem_id, plan.config.in_channels)
    prev, prev_channels = stem_id, last.out_channels
    for s in plan.blocks:
        members = tuple(r.name for r in plan.layers if r.kind is LayerKind.DENSE_LAYER and r.block == s.index)
        node = Node(
            s.name,
            NodeKind.BLOCK,
            f"dense block {s.index} · {s.layers} layers · k = {plan.config.growth_rate}",
            (f"{s.in_channels} → {s.out_channels} ch · {_hw(s.hw)}",),
            _cost(s.params, s.macs),
            s.index,
            members,
            f"{s.layers} dense layers; layer ℓ reads {s.in_channels} + {plan.config.growth_rate}·(ℓ−1) channels",
        )
        b.edge(prev, b.node(node), prev_channels)
        closing = plan[f"features.transition{s.index}"] if s.transition_channels is not None else plan["features.norm5"]
        b.edge(s.name, b.node(_row_node(closing, plan)), s.out_channels)
        prev, prev_channels = closing.name, closing.out_channels
    b.head(prev)


def _focus(graph: ConcatGraph, block: int, plan: ArchitecturePlan) -> ConcatGraph:
    """Keep one block, the node feeding it and the node it feeds."""
    summary = plan.blocks[block - 1]
    inside = {n.id for n in graph.nodes if n.block == block}
    first_layer = f"{summary.name}.denselayer1"
    feeding = {e.src for e in graph.edges if e.dst in inside or e.dst == summary.name or e.dst == first_layer}
    keep = inside | feeding
    if summary.transition_channels is None:
        keep.add("features.norm5")
    nodes = tuple(n for n in graph.nodes if n.id in keep)
    edges = tuple(e for e in graph.edges if e.src in keep and e.dst in keep)
    clusters = tuple(c for c in graph.clusters if c.block == block)
    notes = tuple(n for n in graph.notes if n.startswith(f"Dense block {block} ") or not n.startswith("Dense block "))
    return ConcatGraph(graph.detail, nodes, edges, clusters, notes, block)


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
    try:
        detail = Detail(detail)
    except ValueError:
        raise ConfigError("detail", detail, "one of " + ", ".join(d.value for d in Detail)) from None
    num_blocks = len(plan.blocks)
    if block is not None and (isinstance(block, bool) or not isinstance(block, int) or not 1 <= block <= num_blocks):
        raise ConfigError("block", block, f"a block number from 1 to {num_blocks}")
    if isinstance(keep, bool) or not isinstance(keep, int) or not 1 <= keep <= 8:
        raise ConfigError("keep", keep, "an integer from 1 to 8")
    if isinstance(max_full_layers, bool) or not isinstance(max_full_layers, int) or max_full_layers < 1:
        raise ConfigError("max_full_layers", max_full_layers, "a positive integer")
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
    b = _Builder(plan)
    if detail is Detail.OVERVIEW:
        _overview(b)
    else:
        if max_full_layers > FULL_LAYER_LIMIT and any(s.layers > FULL_LAYER_LIMIT for s in plan.blocks):
            b.notes.append(
                f"Blocks over {FULL_LAYER_LIMIT} layers are drawn elided: every edge of a 32-layer block takes "
                "Graphviz about half a minute, of a 64-layer block more than 15 minutes."
            )
            max_full_layers = FULL_LAYER_LIMIT
        stem_rows = list(plan.stem)
        prev = b.stem(stem_rows)
        for s in plan.blocks:
            rows = [r for r in plan.layers if r.kind is LayerKind.DENSE_LAYER and r.block == s.index]
            closing = (
                plan[f"features.transition{s.index}"] if s.transition_channels is not None else plan["features.norm5"]
            )
            if detail is Detail.DENSE:
                _dense_block(b, s.index, rows, closing, max_full_layers, keep)
            else:
                _chain_block(b, s.index, rows, prev, closing)
            b.node(_row_node(closing, plan))
            prev = closing.name
        b.head(prev)
    graph = ConcatGraph(detail, tuple(b.nodes), tuple(b.edges), tuple(b.clusters), tuple(b.notes), None)
    return _focus(graph, block, plan) if block is not None else graph


def members(graph: ConcatGraph) -> Iterable[str]:
    """Every plan row the graph's nodes stand for."""
    for node in graph.nodes:
        yield from node.members
