"""One node of the concatenation graph: finding it, describing it, drawing it selected.

Plain data and arithmetic, no graphviz or streamlit: the Graph view's search
box, its side panel, its highlighting and its ``node=`` link all go through
here, so that each can be tested without a page.

A *selection* is a name: a plan row's module path
(``features.denseblock2.denselayer7``), a dense block's
(``features.denseblock2``), ``input``, ``stem``, or a running concatenation of
the ``chain`` drawing (``features.denseblock2.concat7``). Which drawn node
shows it depends on the detail level: a layer is its own node at ``dense`` and
``chain`` detail, part of an elided node in a long block, part of its block's
node in the ``overview``; a block is a cluster or a node.

What names a selection and the search box's forms live in
:mod:`densviz.draw.graph_search` (re-exported here); this module describes a
selection for the panel and marks it in a drawing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from densviz.core.plan import ArchitecturePlan, BlockSummary, LayerKind, LayerPlan, Role
from densviz.core.units import format_bytes, format_macs
from densviz.draw.graph import FULL_LAYER_LIMIT, build_graph
from densviz.draw.graph_build import dense_layers
from densviz.draw.graph_model import INPUT_ID, ConcatGraph, Detail, NodeKind, edge_id
from densviz.draw.graph_search import (
    SEARCH_FORMS,
    STEM_ID,
    Found,
    find,
    is_selectable,
    plan_block,
    plan_concat,
    plan_row,
    short_name,
)
from densviz.draw.options import GraphOptions

__all__ = [
    "SEARCH_FORMS",
    "STEM_ID",
    "Fact",
    "Found",
    "Highlight",
    "NodeFacts",
    "describe",
    "expand",
    "explorable",
    "find",
    "highlight",
    "is_selectable",
    "reveal",
    "shown_as",
]


def _hw(hw: tuple[int, int]) -> str:
    return f"{hw[0]}×{hw[1]}"


# --- the panel ------------------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    """One line of the panel: a label and its value, in words and digits."""

    label: str
    value: str


@dataclass(frozen=True)
class NodeFacts:
    """The plan's numbers for one selection, as the panel shows them.

    Attributes:
        name: The selection (full module path, block, ``input``, ``stem`` or a concatenation).
        title: Its short name (``denselayer7``).
        role: What it is, in words (``dense layer 7 of block 2``).
        facts: Channels, H×W, parameters, MACs, output bytes.
        reads: The earlier outputs it reads (for a dense layer, a transition
            and the final norm: the ones it concatenates), each with its channels.
        feature_module: The module whose maps the Forward pass view's explorer
            shows for it, or ``None`` if it shows none.
    """

    name: str
    title: str
    role: str
    facts: tuple[Fact, ...]
    reads: tuple[tuple[str, int], ...]
    feature_module: str | None


def explorable(plan: ArchitecturePlan) -> tuple[str, ...]:
    """The modules whose feature maps the Forward pass view's explorer shows, in forward order.

    Stem convolution and pooling, every dense layer, each block's concatenated
    output (listed after its last layer), the transitions: the same list as the
    explorer's selectbox, so that the panel offers a link only where it leads.
    """
    last_layer = {f"{b.name}.denselayer{b.layers}": b.name for b in plan.blocks}
    names: list[str] = []
    for r in plan.layers:
        if r.kind in (LayerKind.CONV, LayerKind.POOL, LayerKind.DENSE_LAYER, LayerKind.TRANSITION):
            names.append(r.name)
        if r.name in last_layer:
            names.append(last_layer[r.name])
    return tuple(names)


def _output(channels: int, hw: tuple[int, int], nbytes: int, batch: int) -> str:
    return f"{format_bytes(nbytes)} ({nbytes:,} B): {channels}×{_hw(hw)} per image, batch {batch}, float32"


def _cost(params: int, macs: int) -> tuple[Fact, Fact]:
    return Fact("Parameters", f"{params:,}"), Fact("MACs per image", f"{macs:,} ({format_macs(macs)})")


def _split(plan: ArchitecturePlan, row: LayerPlan) -> str:
    """``320 = 128 (block input: transition1) + 6 × 32 (denselayer1–6)``: a concatenation's channels by source."""
    first, *layers = row.inputs
    k0 = plan[first].out_channels
    total = k0 + sum(plan[n].out_channels for n in layers)
    text = f"{total} = {k0} (block input: {short_name(first)})"
    if layers:
        ks = {plan[n].out_channels for n in layers}
        span = (
            short_name(layers[0])
            if len(layers) == 1
            else f"{short_name(layers[0])}–{short_name(layers[-1]).removeprefix('denselayer')}"
        )
        if len(ks) == 1:
            text += f" + {len(layers)} × {ks.pop()} ({span})"
        else:  # never for a DenseNet (every layer adds k), but said truthfully if it happens
            text += " + " + " + ".join(str(plan[n].out_channels) for n in layers) + f" ({span})"
    return text


def _role(plan: ArchitecturePlan, row: LayerPlan) -> str:
    if row.role is Role.DENSE_LAYER:
        return f"dense layer {row.index} of block {row.block} (k = {row.out_channels})"
    if row.role is Role.TRANSITION:
        return f"transition {row.block}: BN, ReLU, 1×1 conv to ⌊θ·{row.in_channels}⌋ with θ = {plan.config.compression:g}, 2×2 average pool"
    if row.role is Role.FINAL_NORM:
        return "final batch norm, after the last dense block (ReLU and global average pooling follow)"
    if row.role is Role.CLASSIFIER:
        return "classifier: fully connected, after ReLU and global average pooling"
    return f"stem: {row.kind.value}"


def _row_facts(plan: ArchitecturePlan, row: LayerPlan) -> NodeFacts:
    concatenates = row.role in (Role.DENSE_LAYER, Role.TRANSITION, Role.FINAL_NORM)
    channels_in = _split(plan, row) if concatenates else str(row.in_channels)
    if row.role is Role.DENSE_LAYER:
        channels_out = f"{row.out_channels} (k new maps, appended to the block's concatenation)"
    else:
        channels_out = str(row.out_channels)
    facts = (
        Fact("Channels in", channels_in),
        Fact("Channels out", channels_out),
        Fact("H×W in → out", f"{_hw(row.in_hw)} → {_hw(row.out_hw)}"),
        *_cost(row.params, row.macs),
        Fact("Output", _output(row.out_channels, row.out_hw, row.output_bytes, plan.input.batch)),
    )
    reads = tuple((n, plan[n].out_channels) for n in row.inputs)
    if not reads and row.role is Role.STEM:
        reads = ((INPUT_ID, plan.config.in_channels),)
    module = row.name if row.name in explorable(plan) else None
    return NodeFacts(row.name, short_name(row.name), _role(plan, row), facts, reads, module)


def _block_facts(plan: ArchitecturePlan, s: BlockSummary) -> NodeFacts:
    k = plan.config.growth_rate
    layers = dense_layers(plan, s.index)
    block_input = layers[0].inputs[0]
    facts = (
        Fact("Channels in", f"{s.in_channels} (k₀, from {short_name(block_input)})"),
        Fact("Channels out", f"{s.out_channels} = {s.in_channels} + {s.layers} × {k} (the concatenation)"),
        Fact("H×W", _hw(s.hw)),
        *_cost(s.params, s.macs),
        Fact("Output", _output(s.out_channels, s.hw, s.output_bytes, plan.input.batch)),
    )
    role = f"dense block {s.index}: {s.layers} layers, k = {k}; layer ℓ reads {s.in_channels} + {k}·(ℓ−1) channels"
    return NodeFacts(s.name, f"denseblock{s.index}", role, facts, ((block_input, s.in_channels),), s.name)


def _stem_facts(plan: ArchitecturePlan) -> NodeFacts:
    rows = plan.stem
    first, last = rows[0], rows[-1]
    facts = (
        Fact("Channels in", str(first.in_channels)),
        Fact("Channels out", str(last.out_channels)),
        Fact("H×W in → out", f"{_hw(first.in_hw)} → {_hw(last.out_hw)}"),
        *_cost(sum(r.params for r in rows), sum(r.macs for r in rows)),
        Fact("Output", _output(last.out_channels, last.out_hw, last.output_bytes, plan.input.batch)),
    )
    role = f"stem ({plan.config.stem.value}): " + ", ".join(short_name(r.name) for r in rows)
    return NodeFacts(STEM_ID, STEM_ID, role, facts, ((INPUT_ID, first.in_channels),), last.name)


def _input_facts(plan: ArchitecturePlan) -> NodeFacts:
    spec, c = plan.input, plan.config.in_channels
    nbytes = spec.batch * c * spec.height * spec.width * 4
    facts = (
        Fact("Channels out", str(c)),
        Fact("H×W", f"{spec.height}×{spec.width}"),
        Fact("Output", _output(c, (spec.height, spec.width), nbytes, spec.batch)),
    )
    return NodeFacts(
        INPUT_ID, INPUT_ID, f"the input batch, {spec.batch}×{c}×{spec.height}×{spec.width}", facts, (), None
    )


def _concat_facts(plan: ArchitecturePlan, s: BlockSummary, index: int) -> NodeFacts:
    k = plan.config.growth_rate
    layers = dense_layers(plan, s.index)[:index]
    before = s.in_channels + k * (index - 1)
    after = before + k
    facts = (
        Fact("Channels", f"{after} = {before} + {k} (the running concatenation, then denselayer{index}'s k)"),
        Fact("H×W", _hw(s.hw)),
    )
    reads = ((layers[0].inputs[0], s.in_channels), *((r.name, r.out_channels) for r in layers))
    module = s.name if index == s.layers else None
    role = f"the concatenation of block {s.index} after layer {index}: what layer {index + 1} reads"
    if index == s.layers:
        role = f"the concatenation of block {s.index} after its last layer: the block's output"
    return NodeFacts(f"{s.name}.concat{index}", f"concat{index}", role, facts, reads, module)


def describe(plan: ArchitecturePlan, name: str) -> NodeFacts | None:
    """The panel's facts for a selection, or ``None`` if ``name`` is none of this plan's."""
    if (row := plan_row(plan, name)) is not None:
        return _row_facts(plan, row)
    if (block := plan_block(plan, name)) is not None:
        return _block_facts(plan, block)
    if name == STEM_ID:
        return _stem_facts(plan)
    if name == INPUT_ID:
        return _input_facts(plan)
    if (concat := plan_concat(plan, name)) is not None:
        return _concat_facts(plan, *concat)
    return None


# --- the drawing ------------------------------------------------------------------


def shown_as(graph: ConcatGraph, name: str) -> str | None:
    """The drawn node or cluster that shows a selection, or ``None`` if the drawing leaves it out.

    Itself when it is a node or a cluster; otherwise the node that stands for
    it (an elided run of layers, the overview's block or stem); the stem's one
    row when a CIFAR stem has no cluster.
    """
    ids = {n.id for n in graph.nodes}
    if name in ids or any(c.id == name for c in graph.clusters):
        return name
    holder = next((n.id for n in graph.nodes if name in n.members), None)
    if holder is not None:
        return holder
    if name == STEM_ID:
        stem = [n.id for n in graph.nodes if n.kind is NodeKind.STEM]
        return stem[0] if len(stem) == 1 else None
    return None


@dataclass(frozen=True)
class Highlight:
    """What the drawing marks for a selection: ids of SVG elements (nodes, clusters, edges).

    Attributes:
        selected: The node or cluster showing the selection, or ``None`` if not drawn.
        exact: Whether it shows the selection itself (not a node that stands for more).
        inputs: Drawn nodes whose outputs it reads.
        outputs: Drawn nodes that read its output.
        edges_in: Edges from its inputs into it.
        edges_out: Edges from it to its outputs.
        members: For a cluster (a block, the stem): the nodes inside it.
    """

    selected: str | None
    exact: bool
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    edges_in: tuple[str, ...] = ()
    edges_out: tuple[str, ...] = ()
    members: tuple[str, ...] = ()


def _consumers(plan: ArchitecturePlan, name: str) -> list[str]:
    """Rows that read ``name``'s output (plan rows only)."""
    return [r.name for r in plan.layers if name in r.inputs]


def highlight(plan: ArchitecturePlan, graph: ConcatGraph, name: str | None) -> Highlight:
    """The nodes and edges to mark for a selection in this drawing.

    The inputs are what the plan says the selection reads, as drawn (for a
    dense layer: the block input and every earlier layer of its block, or the
    elided node standing for some of them), plus the nodes with an edge into
    it; the outputs likewise. A block (a cluster) marks the node feeding it,
    the row closing it and the edges crossing its border.
    """
    sel = shown_as(graph, name) if name else None
    if sel is None:
        return Highlight(None, False)
    cluster = next((c for c in graph.clusters if c.id == sel), None)
    if cluster is not None:
        inside = set(cluster.nodes)
        into = [e for e in graph.edges if e.dst in inside and e.src not in inside]
        out = [e for e in graph.edges if e.src in inside and e.dst not in inside]
        return Highlight(
            sel,
            True,
            tuple(dict.fromkeys(e.src for e in into)),
            tuple(dict.fromkeys(e.dst for e in out)),
            tuple(edge_id(e.src, e.dst) for e in into),
            tuple(edge_id(e.src, e.dst) for e in out),
            cluster.nodes,
        )
    row = plan_row(plan, name) if name else None
    reads = list(row.inputs) if row is not None else []
    readers = _consumers(plan, row.name) if row is not None else []
    ins_list = [shown_as(graph, n) for n in reads] + [e.src for e in graph.edges if e.dst == sel]
    outs_list = [shown_as(graph, n) for n in readers] + [e.dst for e in graph.edges if e.src == sel]
    ins = tuple(dict.fromkeys(i for i in ins_list if i is not None and i != sel))
    outs = tuple(dict.fromkeys(o for o in outs_list if o is not None and o != sel))
    return Highlight(
        sel,
        sel == name,
        ins,
        outs,
        tuple(edge_id(e.src, e.dst) for e in graph.edges if e.dst == sel and e.src in ins),
        tuple(edge_id(e.src, e.dst) for e in graph.edges if e.src == sel and e.dst in outs),
    )


def _block_of(plan: ArchitecturePlan, name: str) -> int | None:
    """The dense block a selection belongs to, for focusing on it (``features.norm5``: the last)."""
    if (row := plan_row(plan, name)) is not None:
        return plan.blocks[-1].index if row.role is Role.FINAL_NORM else row.block
    if (block := plan_block(plan, name)) is not None:
        return block.index
    if (concat := plan_concat(plan, name)) is not None:
        return concat[0].index
    return None


def _graph(plan: ArchitecturePlan, options: GraphOptions) -> ConcatGraph:
    return build_graph(plan, options.detail, block=options.block, max_full_layers=options.max_full_layers)


def reveal(plan: ArchitecturePlan, options: GraphOptions, name: str) -> tuple[GraphOptions, str | None]:
    """Drawing options under which a selection is drawn as its own node, and a sentence saying what changed.

    Only what hides it changes: a focus on another block moves to its block
    (or to the whole network for the stem and head); an elided run of layers
    that holds it is drawn in full by focusing on its block, with every edge
    when the block has at most :data:`~densviz.draw.graph.FULL_LAYER_LIMIT`
    layers, else as the chain of concatenations (every edge of a longer block
    keeps ``dot`` busy for minutes). The overview keeps showing a layer inside
    its block's node, and a ``chain`` concatenation is not drawn at the other
    levels: both leave the options as they are.

    Args:
        plan: The network.
        options: The drawing's options now.
        name: The selection (assumed selectable).

    Returns:
        The options to draw with (``options`` itself if nothing hides the
        selection) and a sentence for the user, or ``None``.
    """
    graph = _graph(plan, options)
    where = shown_as(graph, name)
    if where == name:
        return options, None
    block = _block_of(plan, name)
    if where is None:
        candidates = ([replace(options, block=block)] if block is not None else []) + [replace(options, block=None)]
        for candidate in candidates:
            if candidate == options:
                continue
            graph = _graph(plan, candidate)
            where = shown_as(graph, name)
            if where is not None:
                options = candidate
                break
        else:
            return options, None
        if where == name:
            shown = f"block {options.block}" if options.block is not None else "the whole network"
            return options, f"Drawing {shown} to show {short_name(name)}."
    node = next((n for n in graph.nodes if n.id == where), None)
    if node is None or node.kind is not NodeKind.ELIDED or node.block is None:
        return options, None
    return expand(plan, options, node.block, short_name(name))


def expand(
    plan: ArchitecturePlan, options: GraphOptions, block: int, shown: str | None = None
) -> tuple[GraphOptions, str]:
    """Options that draw block ``block`` alone with every layer, and a sentence saying so.

    Args:
        plan: The network.
        options: The drawing's options now.
        block: The dense block (1-based) to draw in full.
        shown: The name of the layer this is for, if any, for the sentence.
    """
    layers = plan.blocks[block - 1].layers
    purpose = f" to show {shown}" if shown else ""
    if layers <= FULL_LAYER_LIMIT:
        detail = options.detail if options.detail is Detail.DENSE else Detail.DENSE
        wider = replace(options, detail=detail, block=block, max_full_layers=max(layers, options.max_full_layers))
        return wider, f"Dense block {block} drawn alone with all {layers} layers and every connection{purpose}."
    chain = replace(options, detail=Detail.CHAIN, block=block)
    return chain, (
        f"Dense block {block} drawn alone as a chain of concatenations{purpose}: with {layers} layers, drawing "
        f"every connection ({layers * (layers + 1) // 2:,} edges) would keep Graphviz busy for minutes "
        f"(it draws every edge of blocks up to {FULL_LAYER_LIMIT} layers)."
    )
