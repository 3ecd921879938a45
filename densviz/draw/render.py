"""Draw a :class:`~densviz.draw.graph.ConcatGraph`: DOT text, then SVG, PNG or PDF via ``dot``.

DOT text is deterministic (same graph, same bytes), so golden files can hold
it. Pictures come from Graphviz's ``dot`` binary, run as a subprocess with a
timeout: ``graphviz.Digraph.pipe`` has none, and a fully drawn long dense
block can keep ``dot`` busy for minutes.
"""

from __future__ import annotations

import html
import math
import shutil
import subprocess
from dataclasses import dataclass
from enum import StrEnum

import graphviz

from densviz.core.errors import SurroundingsError
from densviz.core.plan import ArchitecturePlan
from densviz.draw.graph import ConcatGraph, Detail, Node, NodeKind, build_graph
from densviz.draw.graph_model import edge_id
from densviz.draw.options import GraphOptions
from densviz.draw.palette import HEAD_COLOR, STEM_COLOR, TRANSITION_COLOR, block_color, tint

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "DotMissingError",
    "Drawing",
    "GraphFormat",
    "RenderError",
    "RenderTimeoutError",
    "dot_available",
    "draw",
    "render",
    "to_dot",
]

DEFAULT_TIMEOUT_S = 10.0
PNG_DPI = 192  # crisp on slides and high-density screens
_FONT = "Helvetica"
DOT_MISSING = (
    "Graphviz's dot program is not installed, so the graph cannot be drawn as a picture; "
    "install the graphviz package (apt-get install graphviz). The DOT text is still available."
)


class GraphFormat(StrEnum):
    """Picture formats ``dot`` writes for densviz."""

    SVG = "svg"
    PNG = "png"
    PDF = "pdf"


class RenderError(SurroundingsError):
    """``dot`` failed; the message says why in a sentence."""


class DotMissingError(RenderError):
    """No ``dot`` binary on this machine."""


class RenderTimeoutError(RenderError):
    """``dot`` ran past its time budget and was stopped."""


def dot_available() -> bool:
    """Whether Graphviz's ``dot`` is on the PATH."""
    return shutil.which("dot") is not None


def _label(node: Node, show_cost: bool, light_text: bool) -> str:
    """An HTML-like Graphviz label: bold title, smaller detail lines."""
    sub = "#E5E7EB" if light_text else "#4B5563"
    parts = [f"<B>{html.escape(node.title)}</B>"]
    lines = list(node.lines)
    if show_cost and node.cost:
        lines.append(node.cost)
    parts += [f'<FONT POINT-SIZE="9" COLOR="{sub}">{html.escape(line)}</FONT>' for line in lines]
    return "<" + "<BR/>".join(parts) + ">"


def _node_style(node: Node) -> dict[str, str]:
    color = block_color(node.block)
    if node.kind is NodeKind.LAYER:
        return {"color": color, "fillcolor": "#FFFFFF", "penwidth": "1.6"}
    if node.kind is NodeKind.ELIDED:
        return {"color": color, "fillcolor": tint(color, 0.8), "style": "rounded,filled,dashed", "penwidth": "1.6"}
    if node.kind is NodeKind.CONCAT:
        return {
            "shape": "ellipse",
            "color": color,
            "fillcolor": tint(color, 0.6),
            "fontsize": "9",
            "margin": "0.02,0.01",
        }
    if node.kind is NodeKind.BLOCK:
        return {"color": color, "fillcolor": tint(color, 0.7), "penwidth": "2"}
    if node.kind is NodeKind.TRANSITION:
        return {"color": TRANSITION_COLOR, "fillcolor": TRANSITION_COLOR, "fontcolor": "#FFFFFF"}
    if node.kind is NodeKind.HEAD:
        return {"color": HEAD_COLOR, "fillcolor": "#E5E7EB"}
    return {"color": STEM_COLOR, "fillcolor": "#F3F4F6"}  # input, stem


def to_dot(
    graph: ConcatGraph, *, direction: str = "TB", show_cost: bool = False, edge_labels: bool | None = None
) -> str:
    """Deterministic DOT text for a graph.

    Args:
        graph: What to draw.
        direction: ``TB`` (top to bottom) or ``LR`` (left to right).
        show_cost: Add each node's parameters and MACs to its label.
        edge_labels: Label edges with the channels they carry; by default only
            when there are few enough edges to stay legible (at most 80).
    """
    if direction not in ("TB", "LR"):
        raise ValueError(f"direction must be TB or LR; got {direction!r}")
    if edge_labels is None:
        edge_labels = len(graph.edges) <= 80
    dot = graphviz.Digraph("densenet", format="svg")
    dot.attr(rankdir=direction, bgcolor="white", fontname=_FONT, nodesep="0.25", ranksep="0.4", newrank="true")
    dot.attr("node", shape="box", style="rounded,filled", fontname=_FONT, fontsize="11", margin="0.12,0.05")
    dot.attr("edge", fontname=_FONT, fontsize="8", arrowsize="0.6", fontcolor="#4B5563")

    by_id = {n.id: n for n in graph.nodes}
    clustered = {node_id for c in graph.clusters for node_id in c.nodes}

    def add_node(g: graphviz.Digraph, node: Node) -> None:
        style = _node_style(node)
        if node.kind in (NodeKind.LAYER, NodeKind.ELIDED, NodeKind.TRANSITION, NodeKind.HEAD, NodeKind.STEM):
            style["group"] = "spine"  # one straight column (or row) through the network
        # The SVG element gets the node's id (the module path) and its kind as a class, so that a
        # page can find a node, and mark it selected, without parsing the drawing.
        label = _label(node, show_cost, style.get("fontcolor") == "#FFFFFF")
        g.node(node.id, label, id=node.id, tooltip=node.tooltip, **style, **{"class": node.kind.value})

    emitted: set[str] = set()
    for node in graph.nodes:
        if node.id in emitted:
            continue
        cluster = next((c for c in graph.clusters if node.id in c.nodes), None)
        if cluster is None:
            add_node(dot, node)
            emitted.add(node.id)
            continue
        color = block_color(cluster.block)
        with dot.subgraph(name=f"cluster_{cluster.id}") as sub:
            sub.attr(
                id=cluster.id,
                label=cluster.label,
                **{"class": "block" if cluster.block is not None else "stem"},
                style="rounded,filled",
                color=color,
                fillcolor=tint(color, 0.92),
                fontcolor="#111827",
                fontsize="12",
                penwidth="1.4",
                margin="10",
            )
            for member in cluster.nodes:
                add_node(sub, by_id[member])
                emitted.add(member)
    assert clustered <= emitted

    widest = max((e.channels for e in graph.edges), default=1)
    for edge in graph.edges:
        src = by_id[edge.src]
        color = (
            block_color(src.block)
            if src.kind not in (NodeKind.TRANSITION, NodeKind.INPUT, NodeKind.STEM)
            else "#6B7280"
        )
        # Width grows with the square root of the channels carried.
        width = 0.7 + 2.3 * math.sqrt(edge.channels / widest)
        attrs = {
            "id": edge_id(edge.src, edge.dst),
            "color": color + "B3",
            "penwidth": f"{width:.2f}",
            "tooltip": f"{edge.channels} channels",
        }
        if edge.spine:
            attrs["weight"] = "100"  # keep the forward path straight
        if edge_labels:
            attrs["label"] = f"{edge.channels}" + (f"  {edge.note}" if edge.note else "")
        elif edge.note:
            attrs["label"] = edge.note
        dot.edge(edge.src, edge.dst, **attrs)
    return str(dot.source)


def render(dot_text: str, fmt: GraphFormat | str = GraphFormat.SVG, *, timeout: float = DEFAULT_TIMEOUT_S) -> bytes:
    """Lay out DOT text with ``dot`` and return the picture's bytes.

    Raises:
        DotMissingError: ``dot`` is not installed.
        RenderTimeoutError: ``dot`` took longer than ``timeout`` seconds (it is killed).
        RenderError: ``dot`` failed.
    """
    fmt = GraphFormat(fmt)
    exe = shutil.which("dot")
    if exe is None:
        raise DotMissingError(DOT_MISSING)
    args = [exe, f"-T{fmt.value}"]
    if fmt is GraphFormat.PNG:
        args.append(f"-Gdpi={PNG_DPI}")
    try:
        done = subprocess.run(args, input=dot_text.encode(), capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise RenderTimeoutError(f"Graphviz did not finish drawing in {timeout:g} s and was stopped.") from None
    if done.returncode != 0:
        first = done.stderr.decode(errors="replace").strip().splitlines()[:1]
        raise RenderError(
            f"Graphviz could not draw the graph: {first[0] if first else 'exit ' + str(done.returncode)}."
        )
    return done.stdout


@dataclass(frozen=True)
class Drawing:
    """A graph drawn for the user, with what was simplified on the way.

    Attributes:
        graph: The graph that was drawn (maybe at a lower detail than asked).
        dot: Its DOT text.
        image: The picture's bytes, or ``None`` if it could not be drawn.
        fmt: The picture's format.
        notes: Sentences for the user: elisions, fall-backs, a missing ``dot``.
    """

    graph: ConcatGraph
    dot: str
    image: bytes | None
    fmt: GraphFormat
    notes: tuple[str, ...]


_FALLBACK = {Detail.DENSE: Detail.CHAIN, Detail.CHAIN: Detail.OVERVIEW}


def draw(
    plan: ArchitecturePlan,
    options: GraphOptions | None = None,
    fmt: GraphFormat | str = GraphFormat.SVG,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> Drawing:
    """Build, lay out and render a plan's graph, never hanging.

    If ``dot`` runs out of time, the next simpler detail level is drawn
    (dense → chain → overview) and a note says so. If ``dot`` is missing, the
    DOT text still comes back, with a note naming the package.

    Args:
        plan: What to draw.
        options: Detail, block, direction, costs and elision; the defaults of
            :class:`GraphOptions` if not given.
        fmt: The picture's format.
        timeout: Seconds ``dot`` may take for one picture.
    """
    options = options or GraphOptions()
    fmt = GraphFormat(fmt)
    detail = options.detail
    notes: list[str] = []
    while True:
        graph = build_graph(plan, detail, block=options.block, max_full_layers=options.max_full_layers)
        dot_text = to_dot(graph, direction=options.direction, show_cost=options.show_cost)
        try:
            image = render(dot_text, fmt, timeout=timeout)
        except DotMissingError as err:
            return Drawing(graph, dot_text, None, fmt, (*notes, *graph.notes, str(err)))
        except RenderTimeoutError as err:
            simpler = _FALLBACK.get(detail)
            if simpler is None:
                return Drawing(graph, dot_text, None, fmt, (*notes, *graph.notes, str(err)))
            notes.append(f"{err} Drawing the {simpler.value} view instead of the {detail.value} one.")
            detail = simpler
            continue
        return Drawing(graph, dot_text, image, fmt, (*notes, *graph.notes))
