"""Building a :class:`~densviz.draw.graph_model.ConcatGraph` from a plan, one detail level at a time.

Every row is placed by its :class:`~densviz.core.plan.Role` (stem, dense layer,
transition, final norm, classifier), never by its name; names only become
node ids and titles. :func:`densviz.draw.graph.build_graph` validates the
options and calls :func:`assemble`, then :func:`focus` for one block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import pairwise
from typing import NamedTuple

from densviz.core.config import Stem
from densviz.core.plan import ArchitecturePlan, LayerKind, LayerPlan, Role
from densviz.core.units import format_bytes, format_count, format_macs
from densviz.draw.graph_model import INPUT_ID, Cluster, ConcatGraph, Detail, Edge, Node, NodeKind

__all__ = ["assemble", "closing_row", "dense_layers", "focus"]


def _hw(hw: tuple[int, int]) -> str:
    return f"{hw[0]}×{hw[1]}"


def _cost(params: int, macs: int) -> str:
    return f"{format_count(params)} params · {format_macs(macs)}"


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _size(row: LayerPlan) -> str:
    return f"{row.out_channels} ch · {_hw(row.out_hw)}"


def dense_layers(plan: ArchitecturePlan, block: int) -> list[LayerPlan]:
    """The dense layers of block ``block`` (1-based), in order."""
    return [r for r in plan.with_role(Role.DENSE_LAYER) if r.block == block]


def closing_row(plan: ArchitecturePlan, block: int) -> LayerPlan:
    """The row that reads block ``block``'s concatenation: its transition, or the final norm after the last block."""
    for row in plan.with_role(Role.TRANSITION):
        if row.block == block:
            return row
    return plan.final_norm


_STEM_WORDS: dict[LayerKind, dict[Stem, str]] = {
    LayerKind.CONV: {Stem.IMAGENET: "7×7/2 conv", Stem.CIFAR: "3×3 conv"},
    LayerKind.NORM: {Stem.IMAGENET: "batch norm"},
    LayerKind.RELU: {Stem.IMAGENET: "ReLU"},
    LayerKind.POOL: {Stem.IMAGENET: "3×3/2 max pool"},
}
"""What each kind of stem row does, by stem."""


class _Label(NamedTuple):
    """How a plan row is drawn: node kind, title, detail lines, and what it does in words for the tooltip."""

    kind: NodeKind
    title: str
    lines: tuple[str, ...]
    tooltip: str


def _stem_label(row: LayerPlan, plan: ArchitecturePlan) -> _Label:
    words = _STEM_WORDS.get(row.kind, {}).get(plan.config.stem, row.kind.value)
    size = _size(row)
    line = f"{row.in_channels} → {size}" if row.in_channels != row.out_channels else size
    return _Label(NodeKind.STEM, f"{_short(row.name)} · {words}", (line,), f"stem: {words}")


def _dense_layer_label(row: LayerPlan, plan: ArchitecturePlan) -> _Label:
    earlier = len(row.inputs) - 1
    reads = (
        f"the block input and {earlier} earlier layer{'s' if earlier != 1 else ''}" if earlier else "the block input"
    )
    return _Label(
        NodeKind.LAYER,
        _short(row.name),
        (f"{row.in_channels} → +{row.out_channels} ch · {_hw(row.out_hw)}",),
        f"dense layer: reads {reads} ({row.in_channels} channels), adds k = {row.out_channels}",
    )


def _transition_label(row: LayerPlan, plan: ArchitecturePlan) -> _Label:
    return _Label(
        NodeKind.TRANSITION,
        f"{_short(row.name)} · θ = {plan.config.compression:g}",
        (f"{row.in_channels} → {row.out_channels} ch", f"{_hw(row.in_hw)} → {_hw(row.out_hw)}"),
        f"transition: BN, ReLU, 1×1 conv to ⌊θ·{row.in_channels}⌋ = {row.out_channels} channels, 2×2 average pool",
    )


def _final_norm_label(row: LayerPlan, plan: ArchitecturePlan) -> _Label:
    return _Label(
        NodeKind.HEAD,
        f"{_short(row.name)} · batch norm",
        (_size(row),),
        f"final batch norm of the last block's {row.out_channels} channels",
    )


def _classifier_label(row: LayerPlan, plan: ArchitecturePlan) -> _Label:
    return _Label(
        NodeKind.HEAD,
        f"{_short(row.name)} · linear",
        (f"{row.in_channels} → {row.out_channels}",),
        f"classifier: fully connected, {row.in_channels} features to {row.out_channels} classes",
    )


_LABELS: dict[Role, Callable[[LayerPlan, ArchitecturePlan], _Label]] = {
    Role.STEM: _stem_label,
    Role.DENSE_LAYER: _dense_layer_label,
    Role.TRANSITION: _transition_label,
    Role.FINAL_NORM: _final_norm_label,
    Role.CLASSIFIER: _classifier_label,
}


def _shape(channels: int, hw: tuple[int, int]) -> str:
    return f"{channels}×{_hw(hw)}"


def _tooltip(name: str, shape_in: str, shape_out: str, params: int, macs: int, words: str) -> str:
    """A node's hover text: its name, shapes in and out (C×H×W per image), parameters and MACs, what it does."""
    return "\n".join((name, f"in {shape_in} → out {shape_out}", f"{params:,} parameters · {format_macs(macs)}", words))


def _row_node(row: LayerPlan, plan: ArchitecturePlan) -> Node:
    label = _LABELS[row.role](row, plan)
    cost = _cost(row.params, row.macs)
    words = f"{label.tooltip}; output {format_bytes(row.output_bytes)} for batch {plan.input.batch}"
    tooltip = _tooltip(
        row.name,
        _shape(row.in_channels, row.in_hw),
        _shape(row.out_channels, row.out_hw),
        row.params,
        row.macs,
        words,
    )
    return Node(row.name, label.kind, label.title, label.lines, cost, row.block, (row.name,), tooltip)


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
        f"input\nbatch {spec.batch}×{plan.config.in_channels}×{spec.height}×{spec.width}",
    )


def _block_label(plan: ArchitecturePlan, b: int) -> str:
    s = plan.blocks[b - 1]
    return f"dense block {b} · {s.layers} layers · k = {plan.config.growth_rate} · {s.in_channels} → {s.out_channels} ch · {_hw(s.hw)}"


class _Builder:
    """The nodes, edges, clusters and notes of a graph as they are written."""

    def __init__(self, plan: ArchitecturePlan, notes: Iterable[str]):
        self.plan = plan
        self.nodes: list[Node] = []
        self.edges: list[Edge] = []
        self.clusters: list[Cluster] = []
        self.notes: list[str] = list(notes)
        self.channels_of: dict[str, int] = {INPUT_ID: plan.config.in_channels}
        for row in plan.layers:
            self.channels_of[row.name] = row.out_channels

    def node(self, node: Node) -> str:
        self.nodes.append(node)
        return node.id

    def edge(self, src: str, dst: str, channels: int, note: str | None = None, spine: bool = True) -> None:
        self.edges.append(Edge(src, dst, channels, note, spine))

    def stem(self) -> str:
        """Input and stem rows in sequence; returns the id of the stem's last node."""
        prev = self.node(_input_node(self.plan))
        ids = []
        for row in self.plan.stem:
            ids.append(self.node(_row_node(row, self.plan)))
            self.edge(prev, row.name, self.channels_of[prev])
            prev = row.name
        if len(ids) > 1:
            self.clusters.append(Cluster("stem", f"stem ({self.plan.config.stem.value})", None, tuple(ids)))
        return prev

    def head(self, prev: str) -> None:
        """The final norm is drawn by the caller; here the classifier after it."""
        row = self.plan.classifier
        self.node(_row_node(row, self.plan))
        self.edge(prev, row.name, self.channels_of[prev], "ReLU + global avg pool")

    def graph(self, detail: Detail) -> ConcatGraph:
        """What has been written, as a graph of the whole network."""
        return ConcatGraph(detail, tuple(self.nodes), tuple(self.edges), tuple(self.clusters), tuple(self.notes), None)


def _elided_range(layers: int, max_full: int, keep: int) -> tuple[int, int] | None:
    """1-based (first, last) layers hidden in one node, or ``None`` to draw all."""
    if layers <= max_full or layers <= 2 * keep + 1:
        return None
    return keep + 1, layers - keep


def _elided_node(plan: ArchitecturePlan, block: int, rows: list[LayerPlan], hidden: tuple[int, int]) -> Node:
    """One node for dense layers ``hidden`` (first, last) of a block."""
    summary = plan.blocks[block - 1]
    first, last = hidden
    count = last - first + 1
    members = tuple(r.name for r in rows if r.index is not None and first <= r.index <= last)
    params = sum(r.params for r in rows if r.name in members)
    macs = sum(r.macs for r in rows if r.name in members)
    k = plan.config.growth_rate
    c_first = summary.in_channels + k * (first - 1)
    return Node(
        f"{summary.name}.denselayer{first}-{last}",
        NodeKind.ELIDED,
        f"… {count} layers, {count * k:,} channels …",
        (f"denselayer{first}–{last}", f"read {c_first} → {c_first + k * (count - 1)} ch · {_hw(summary.hw)}"),
        _cost(params, macs),
        block,
        members,
        f"{summary.name}: denselayer{first}–{last}\n{count} dense layers drawn as one node; each reads every earlier "
        f"output of the block and adds k = {k}\n{params:,} parameters · {format_macs(macs)}\nclick to draw the block in full",
    )


def _dense_block(b: _Builder, block: int, closing: LayerPlan, max_full: int, keep: int) -> None:
    plan = b.plan
    summary = plan.blocks[block - 1]
    rows = dense_layers(plan, block)
    hidden = _elided_range(summary.layers, max_full, keep)
    alias: dict[str, str] = {}
    ids: list[str] = []
    for row in rows:
        assert row.index is not None
        if hidden and hidden[0] <= row.index <= hidden[1]:
            if row.index == hidden[0]:
                ids.append(b.node(_elided_node(plan, block, rows, hidden)))
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


def _chain_block(b: _Builder, block: int, block_input: str, closing: LayerPlan) -> None:
    plan = b.plan
    summary = plan.blocks[block - 1]
    running, channels = block_input, summary.in_channels
    ids: list[str] = []
    for row in dense_layers(plan, block):
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
                    f"{concat_id}\nconcatenation after {_short(row.name)}: {channels} + {row.out_channels} "
                    f"= {new_channels} channels · {_hw(row.out_hw)}",
                )
            )
        )
        b.edge(running, concat_id, channels, spine=False)
        b.edge(row.name, concat_id, row.out_channels)
        running, channels = concat_id, new_channels
    b.clusters.append(Cluster(summary.name, _block_label(plan, block), block, tuple(ids)))
    b.edge(running, closing.name, channels)


def _stem_node(plan: ArchitecturePlan) -> Node:
    """The whole stem as one node, for the overview."""
    stem_rows = plan.stem
    first, last = stem_rows[0], stem_rows[-1]
    words = ", ".join(_STEM_WORDS[r.kind][plan.config.stem] for r in stem_rows)
    return Node(
        "stem",
        NodeKind.STEM,
        f"stem · {plan.config.stem.value}",
        (words, f"{first.in_channels} → {last.out_channels} ch · {_hw(first.in_hw)} → {_hw(last.out_hw)}"),
        _cost(sum(r.params for r in stem_rows), sum(r.macs for r in stem_rows)),
        None,
        tuple(r.name for r in stem_rows),
        _tooltip(
            "stem",
            _shape(first.in_channels, first.in_hw),
            _shape(last.out_channels, last.out_hw),
            sum(r.params for r in stem_rows),
            sum(r.macs for r in stem_rows),
            f"the layers before the first dense block: {words}",
        ),
    )


def _overview(b: _Builder) -> None:
    plan = b.plan
    prev = b.node(_input_node(plan))
    stem_id = b.node(_stem_node(plan))
    b.edge(prev, stem_id, plan.config.in_channels)
    prev, prev_channels = stem_id, plan.stem[-1].out_channels
    for s in plan.blocks:
        node = Node(
            s.name,
            NodeKind.BLOCK,
            f"dense block {s.index} · {s.layers} layers · k = {plan.config.growth_rate}",
            (f"{s.in_channels} → {s.out_channels} ch · {_hw(s.hw)}",),
            _cost(s.params, s.macs),
            s.index,
            tuple(r.name for r in dense_layers(plan, s.index)),
            _tooltip(
                s.name,
                _shape(s.in_channels, s.hw),
                _shape(s.out_channels, s.hw),
                s.params,
                s.macs,
                f"{s.layers} dense layers; layer ℓ reads {s.in_channels} + {plan.config.growth_rate}·(ℓ−1) channels",
            ),
        )
        b.edge(prev, b.node(node), prev_channels)
        closing = closing_row(plan, s.index)
        b.edge(s.name, b.node(_row_node(closing, plan)), s.out_channels)
        prev, prev_channels = closing.name, closing.out_channels
    b.head(prev)


def _layers(b: _Builder, detail: Detail, max_full: int, keep: int) -> None:
    """Every row as its own node (``dense`` and ``chain`` detail)."""
    plan = b.plan
    prev = b.stem()
    for s in plan.blocks:
        closing = closing_row(plan, s.index)
        if detail is Detail.DENSE:
            _dense_block(b, s.index, closing, max_full, keep)
        else:
            _chain_block(b, s.index, prev, closing)
        b.node(_row_node(closing, plan))
        prev = closing.name
    b.head(prev)


def assemble(
    plan: ArchitecturePlan, detail: Detail, *, max_full_layers: int, keep: int, notes: Iterable[str] = ()
) -> ConcatGraph:
    """The graph of the whole network at one detail level, options already checked.

    Args:
        plan: The plan to draw.
        detail: The level of detail.
        max_full_layers: At ``dense`` detail, blocks with more layers are elided.
        keep: Layers drawn in full at each end of an elided block.
        notes: Sentences to put before the ones the build adds.
    """
    b = _Builder(plan, notes)
    if detail is Detail.OVERVIEW:
        _overview(b)
    else:
        _layers(b, detail, max_full_layers, keep)
    return b.graph(detail)


def focus(graph: ConcatGraph, block: int, plan: ArchitecturePlan) -> ConcatGraph:
    """Keep one block, the node feeding it and the node it feeds."""
    summary = plan.blocks[block - 1]
    inside = {n.id for n in graph.nodes if n.block == block}
    first_layer = dense_layers(plan, block)[0].name
    feeding = {e.src for e in graph.edges if e.dst in inside or e.dst == summary.name or e.dst == first_layer}
    keep = inside | feeding | {closing_row(plan, block).name}
    nodes = tuple(n for n in graph.nodes if n.id in keep)
    edges = tuple(e for e in graph.edges if e.src in keep and e.dst in keep)
    clusters = tuple(c for c in graph.clusters if c.block == block)
    notes = tuple(n for n in graph.notes if n.startswith(f"Dense block {block} ") or not n.startswith("Dense block "))
    return ConcatGraph(graph.detail, nodes, edges, clusters, notes, block)
