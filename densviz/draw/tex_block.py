"""One dense block as a TikZ figure: the concatenation each layer reads, column by column (see :mod:`densviz.draw.tex`)."""

from __future__ import annotations

import itertools

from densviz.core.plan import ArchitecturePlan, BlockSummary, Role
from densviz.draw.tex_document import SLAB_RULE_MIN, cm, color_name, colour_definitions, standalone_document, tex_hw

__all__ = ["FULL_BLOCK_LAYERS", "KEEP_FIRST", "KEEP_LAST", "block_tex", "shown_layers"]

FULL_BLOCK_LAYERS = 12
"""A block of at most this many layers is drawn whole in :func:`block_tex`."""
KEEP_FIRST = 4
"""Layers kept at the start of a longer block."""
KEEP_LAST = 3
"""Layers kept at its end."""

# Block geometry, in cm.
_COLUMN_HEIGHT = 6.0  # the block's output column
_COLUMN_WIDTH = 0.5
_COLUMN_GAP = 0.75  # the bands' length between two columns
_ELISION_GAP = 1.6


def shown_layers(layers: int) -> tuple[list[int], list[int]]:
    """The layers :func:`block_tex` draws: (before the elision, after it); the second is empty for a whole block."""
    if layers <= FULL_BLOCK_LAYERS:
        return list(range(1, layers + 1)), []
    return list(range(1, KEEP_FIRST + 1)), list(range(layers - KEEP_LAST + 1, layers + 1))


def _shade(j: int, layers: int) -> int:
    """Percent of the block colour for x_j (x₀ the full colour, later layers lighter)."""
    if j == 0:
        return 100
    return round(70 - 45 * (j - 1) / max(layers - 1, 1))


def _column(x: float, block: BlockSummary, k: int, upto: int, unit: float, colour: str) -> list[str]:
    """The concatenation [x₀, x₁, …, x_upto] as a column of segments from y = 0."""
    out = [
        f"    \\fill[{colour}!{_shade(0, block.layers)}] ({cm(x)},0) rectangle ({cm(x + _COLUMN_WIDTH)},{cm(block.in_channels * unit)});"
    ]
    for j in range(1, upto + 1):
        y0 = (block.in_channels + k * (j - 1)) * unit
        out.append(
            f"    \\fill[{colour}!{_shade(j, block.layers)}] ({cm(x)},{cm(y0)}) rectangle ({cm(x + _COLUMN_WIDTH)},{cm(y0 + k * unit)});"
        )
    if k * unit >= SLAB_RULE_MIN:
        for j in range(1, upto + 1):
            y = (block.in_channels + k * (j - 1)) * unit
            out.append(f"    \\draw[white,line width=0.3pt] ({cm(x)},{cm(y)}) -- ++({cm(_COLUMN_WIDTH)},0);")
    top = (block.in_channels + k * upto) * unit
    out.append(
        f"    \\draw[{colour}!60!black,line width=0.4pt] ({cm(x)},0) rectangle ({cm(x + _COLUMN_WIDTH)},{cm(top)});"
    )
    return out


def _bands(x0: float, x1: float, block: BlockSummary, k: int, upto: int, unit: float, colour: str) -> list[str]:
    """The bands that carry x₀ … x_upto from one column to the next (every earlier output reaches every later layer)."""
    out = [
        f"    \\fill[{colour}!{_shade(0, block.layers) // 4}] ({cm(x0)},0) rectangle ({cm(x1)},{cm(block.in_channels * unit)});"
    ]
    for j in range(1, upto + 1):
        y0 = (block.in_channels + k * (j - 1)) * unit
        out.append(
            f"    \\fill[{colour}!{_shade(j, block.layers) // 3}] ({cm(x0)},{cm(y0)}) rectangle ({cm(x1)},{cm(y0 + k * unit)});"
        )
    return out


def block_tex(plan: ArchitecturePlan, block: int) -> str:
    """Dense block ``block`` (1-based) with its connections, as a standalone TikZ figure.

    Raises:
        ValueError: if the plan has no such block.
    """
    if not 1 <= block <= len(plan.blocks):
        raise ValueError(f"block must be 1 to {len(plan.blocks)}; got {block}")
    summary = plan.blocks[block - 1]
    k, layers = plan.config.growth_rate, summary.layers
    colour = color_name(block)
    unit = _COLUMN_HEIGHT / summary.out_channels  # cm per channel
    first, last = shown_layers(layers)
    pic = ["\\begin{tikzpicture}[font=\\footnotesize,>={Stealth[length=4pt]}]", *colour_definitions(plan)]
    # Columns: the input of each drawn layer, then the block's output.
    columns: list[tuple[int, float]] = []  # (layer whose input it is, or layers + 1 for the output; left x)
    x = 0.0
    for group_index, group in enumerate((first, last)):
        if group_index == 1 and group:
            x += _ELISION_GAP - _COLUMN_GAP
        for layer in group:
            columns.append((layer, x))
            x += _COLUMN_WIDTH + _COLUMN_GAP
    columns.append((layers + 1, x))
    # bands first (behind), then columns, then the layers H_ℓ on top
    for (layer, left), (next_layer, right) in itertools.pairwise(columns):
        pic.extend(_bands(left + _COLUMN_WIDTH, right, summary, k, layer - 1, unit, colour))
        if next_layer != layer + 1:  # the elision: the layers it hides add their maps on the way
            gap_left = left + _COLUMN_WIDTH
            low, high = (summary.in_channels + k * (layer - 1)) * unit, (summary.in_channels + k * layer) * unit
            top = (summary.in_channels + k * (next_layer - 1)) * unit
            pic.append(
                f"    \\fill[{colour}!{_shade(layer, layers) // 3}] ({cm(gap_left)},{cm(low)}) -- ({cm(gap_left)},{cm(high)})"
                f" -- ({cm(right)},{cm(top)}) -- ({cm(right)},{cm(low)}) -- cycle;"
            )
            mid = (gap_left + right) / 2
            pic.append(
                f"    \\node[fill=white,inner sep=1.5pt,align=center,font=\\scriptsize] (elided) at ({cm(mid)},{cm(summary.in_channels * unit / 2)})"
                f" {{$\\cdots$\\\\layers\\\\{layer + 1}--{next_layer - 1}}};"
            )
    for layer, left in columns:
        reads = layer - 1
        pic.append(f"  % column {layer}: {summary.in_channels + k * reads} channels")
        pic.extend(_column(left, summary, k, reads, unit, colour))
        label = "out" if layer > layers else f"in{layer}"
        pic.append(
            f"    \\node[anchor=north,inner sep=1pt] (block{block}-{label}) at ({cm(left + _COLUMN_WIDTH / 2)},-0.08) {{{summary.in_channels + k * reads}}};"
        )
    # each drawn layer: H_ℓ reads its column and hands its k maps on to the next column
    highest = 0.0
    for (layer, left), (next_layer, right) in itertools.pairwise(columns):
        top = (summary.in_channels + k * (layer - 1)) * unit
        node_x = left + _COLUMN_WIDTH / 2
        pic.append(
            f"    \\node[draw={colour}!60!black,fill=white,rounded corners=1.5pt,inner sep=1.5pt,minimum width=0.55cm] (h{layer})"
            f" at ({cm(node_x)},{cm(top + 0.45)}) {{$H_{{{layer}}}$}};"
        )
        highest = max(highest, top + 0.45)
        pic.append(f"    \\draw[->,{colour}!60!black] ({cm(node_x)},{cm(top)}) -- (h{layer});")
        new_y = top + k * unit / 2
        end = right if next_layer == layer + 1 else left + _COLUMN_WIDTH + 0.6  # into the elision
        pic.append(f"    \\draw[->,{colour}!60!black] (h{layer}.east) to[out=0,in=180] ({cm(end)},{cm(new_y)});")
    # the block output goes on: a brace with its channels, and the transition or the final norm
    out_left = columns[-1][1]
    out_top = summary.out_channels * unit
    right_edge = out_left + _COLUMN_WIDTH
    pic.append(
        f"    \\draw[decorate,decoration={{brace,amplitude=4pt}},thick] ({cm(right_edge + 0.12)},{cm(out_top)}) -- ({cm(right_edge + 0.12)},0)"
        f" node[midway,right=5pt,align=left] (output) {{block output\\\\$k_0+k\\cdot L = {summary.out_channels}$}};"
    )
    closing = next((r for r in plan.with_role(Role.TRANSITION) if r.block == block), None)
    if closing is not None:
        next_text = f"transition {block}\\\\{closing.out_channels} ch, {tex_hw(closing.out_hw)}"
    else:
        next_text = "final norm,\\\\pool, linear"
    pic.append(
        f"    \\node[draw=dvtransition,fill=dvtransition!10,rounded corners=2pt,align=center,anchor=west] (next)"
        f" at ([xshift=0.75cm]output.east) {{{next_text}}};"
    )
    pic.append("    \\draw[->,thick,dvtransition] ([xshift=0.1cm]output.east) -- (next);")
    # title and the note (a caption to adapt)
    pic.append(
        f"    \\node[anchor=south west,align=left] (title) at (0,{cm(max(out_top, highest + 0.25) + 0.3)})"
        f" {{\\textbf{{Dense block {block}}}: $k_0 = {summary.in_channels}$, $k = {k}$, $L = {layers}$ layers, {tex_hw(summary.hw)}}};"
    )
    note = (
        "Column $\\ell$ is the concatenation $[x_0, x_1, \\ldots, x_{\\ell-1}]$ that $H_\\ell$ reads "
        "($k_0 + k(\\ell-1)$ channels; height in proportion). Each band carries one layer's $k$ maps to every later layer."
    )
    if last:
        note += f" Layers {KEEP_FIRST + 1}--{layers - KEEP_LAST} are elided."
    pic.append(
        f"    \\node[anchor=north west,align=left,text width={cm(right_edge + 4.5)}cm,font=\\scriptsize] (note) at (0,-0.6) {{{note}}};"
    )
    pic.append("\\end{tikzpicture}")
    title = f"Dense block {block} of a DenseNet: k0 = {summary.in_channels}, k = {k}, {layers} layers"
    return standalone_document(pic, title)
