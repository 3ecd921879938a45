"""TikZ figures of a plan for papers: the whole network, and one dense block with its connections.

Two standalone LaTeX files, each one ``tikzpicture``:

* :func:`overview_tex`: the input, the stem, every dense block as a stack of
  slabs (the block input, then one slab of k channels per layer), the
  transitions and the head (global average pooling and the classifier), each
  labelled with its channels and H×W. A feature map is a cuboid whose width
  follows its channels (linear, at least 1 mm) and whose height follows
  log₂ of its H×W (so that 224² and 7² both fit).
* :func:`block_tex`: one dense block. Column ℓ is the concatenation that layer
  H_ℓ reads (the block input x₀ at the bottom, then x₁ … x_{ℓ−1}, each in its
  own shade), its height in proportion to the channels; H_ℓ sits on it and
  hands its k new maps to the next column, and a band carries each layer's
  output on to every later layer, up to the block's output. A long block
  keeps its first and last layers and elides the middle, and says so.

Colours are the blocks' colours everywhere else in densviz
(:mod:`densviz.draw.palette`). Every number comes from the plan; the text is
plain string building, no torch and no TeX run.

The files compile with ``pdflatex`` (also ``lualatex``/``xelatex``) with TikZ
alone: ``standalone.cls`` crops the page when it is installed
(texlive-latex-extra); without it a few lines of plain TeX crop it the same
way. The ``tikzpicture`` itself defines its own colours, so it can be pasted
into a paper that loads ``tikz``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from densviz.core.config import Stem
from densviz.core.plan import ArchitecturePlan, BlockSummary, Role
from densviz.draw.palette import HEAD_COLOR, STEM_COLOR, TRANSITION_COLOR, block_color

__all__ = [
    "FULL_BLOCK_LAYERS",
    "KEEP_FIRST",
    "KEEP_LAST",
    "block_tex",
    "overview_tex",
    "shown_layers",
]

FULL_BLOCK_LAYERS = 12
"""A block of at most this many layers is drawn whole in :func:`block_tex`."""
KEEP_FIRST = 4
"""Layers kept at the start of a longer block."""
KEEP_LAST = 3
"""Layers kept at its end."""

# Overview geometry, in cm.
_MAX_DEPTH = 2.2  # the widest feature map (the largest channel count)
_MIN_DEPTH = 0.1  # a thinner one would vanish (the 3-channel input)
_GAP = 0.55  # between two feature maps (the arrow)
_SLAB_RULE_MIN = 0.02  # slabs closer than this (0.2 mm) are drawn without their dividing lines

# Block geometry, in cm.
_COLUMN_HEIGHT = 6.0  # the block's output column
_COLUMN_WIDTH = 0.5
_COLUMN_GAP = 0.75  # the bands' length between two columns
_ELISION_GAP = 1.6


def _hw(hw: tuple[int, int]) -> str:
    return f"${hw[0]}\\times{hw[1]}$"


def _f(x: float) -> str:
    """A coordinate in cm, 3 decimals, no ``-0``."""
    text = f"{x:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _color_name(block: int | None) -> str:
    return f"dvblock{block}" if block is not None else "dvstem"


def _colour_definitions(plan: ArchitecturePlan) -> list[str]:
    r"""``\definecolor`` lines: the palette's colours (inside the picture, so it can be pasted alone)."""
    lines = [
        f"  \\definecolor{{dvstem}}{{HTML}}{{{STEM_COLOR[1:]}}}",
        f"  \\definecolor{{dvtransition}}{{HTML}}{{{TRANSITION_COLOR[1:]}}}",
        f"  \\definecolor{{dvhead}}{{HTML}}{{{HEAD_COLOR[1:]}}}",
    ]
    lines += [f"  \\definecolor{{{_color_name(b.index)}}}{{HTML}}{{{block_color(b.index)[1:]}}}" for b in plan.blocks]
    return lines


def _document(picture: Sequence[str], title: str) -> str:
    """A standalone LaTeX file around one picture (cropped with or without standalone.cls)."""
    head = [
        f"% {title}",
        "% Written by densviz from the network's plan. Compile with pdflatex (TikZ is all it needs),",
        "% or paste the tikzpicture into a paper that loads tikz.",
        "\\IfFileExists{standalone.cls}{%",
        "  \\documentclass[border=4pt]{standalone}%",
        "  \\newenvironment{densvizpage}{}{}%",
        "}{% no standalone.cls (texlive-latex-extra): an article page cropped to the picture",
        "  \\documentclass{article}%",
        "  \\newsavebox\\densvizbox",
        "  \\newenvironment{densvizpage}{\\begin{lrbox}{\\densvizbox}}{\\end{lrbox}%",
        "    \\ifdefined\\pdfpagewidth",
        "      \\pdfpagewidth=\\dimexpr\\wd\\densvizbox+8pt\\relax",
        "      \\pdfpageheight=\\dimexpr\\ht\\densvizbox+\\dp\\densvizbox+8pt\\relax",
        "    \\else",
        "      \\pagewidth=\\dimexpr\\wd\\densvizbox+8pt\\relax",
        "      \\pageheight=\\dimexpr\\ht\\densvizbox+\\dp\\densvizbox+8pt\\relax",
        "    \\fi",
        "    \\hoffset=-1in \\voffset=-1in",
        "    \\shipout\\vbox{\\kern4pt\\hbox{\\kern4pt\\usebox\\densvizbox}}}%",
        "}",
        "\\usepackage{tikz}",
        "\\usetikzlibrary{arrows.meta,decorations.pathreplacing}",
        "\\begin{document}",
        "\\begin{densvizpage}",
    ]
    tail = ["\\end{densvizpage}", "\\end{document}", ""]
    return "\n".join([*head, *picture, *tail])


# --- the overview -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Map:
    """One feature map of the overview, as drawn.

    Attributes:
        key: The TikZ name of its labels (``block2``, ``transition1``, ``stem``).
        colour: The TikZ colour.
        channels: Its channels (the width).
        hw: Its (height, width).
        slabs: Channels of each slab from left to right (a dense block: k₀, k, k, …).
        above: Lines over it (what it is).
        below: Lines under it (channels, H×W).
    """

    key: str
    colour: str
    channels: int
    hw: tuple[int, int]
    slabs: tuple[int, ...]
    above: tuple[str, ...]
    below: tuple[str, ...]


def _height(size: int) -> float:
    """Front-face height (cm) of a map of ``size`` pixels: log₂, so 224 and 7 both fit."""
    return 0.6 + 0.32 * math.log2(max(size, 1))


def _overview_maps(plan: ArchitecturePlan) -> list[_Map]:
    cfg = plan.config
    maps = [
        _Map(
            "input",
            "dvstem",
            cfg.in_channels,
            plan.input.hw,
            (cfg.in_channels,),
            ("input",),
            (str(cfg.in_channels), _hw(plan.input.hw)),
        )
    ]
    stem_out = plan.stem[-1]
    stem_words = (
        ("stem: $7\\times7$/2 conv,", "$3\\times3$/2 max pool")
        if cfg.stem is Stem.IMAGENET
        else ("stem", "$3\\times3$ conv")
    )
    maps.append(
        _Map(
            "stem",
            "dvstem",
            stem_out.out_channels,
            stem_out.out_hw,
            (stem_out.out_channels,),
            stem_words,
            (str(stem_out.out_channels), _hw(stem_out.out_hw)),
        )
    )
    transitions = {row.block: row for row in plan.with_role(Role.TRANSITION)}
    for block in plan.blocks:
        maps.append(
            _Map(
                f"block{block.index}",
                _color_name(block.index),
                block.out_channels,
                block.hw,
                (block.in_channels, *([cfg.growth_rate] * block.layers)),
                (f"dense block {block.index}", f"{block.layers} layers"),
                (f"{block.in_channels}$\\,\\to\\,${block.out_channels}", _hw(block.hw)),
            )
        )
        row = transitions.get(block.index)
        if row is not None:
            maps.append(
                _Map(
                    f"transition{block.index}",
                    "dvtransition",
                    row.out_channels,
                    row.out_hw,
                    (row.out_channels,),
                    ("trans.", str(block.index)),
                    (str(row.out_channels), _hw(row.out_hw)),
                )
            )
    return maps


def _cuboid(x: float, t: float, h: float, d: float, colour: str, slabs: Sequence[float]) -> list[str]:
    """A feature map: the front face (divided into slabs), its top and its right side.

    Args:
        x: Left edge of the front face.
        t: Width (channels).
        h: Height (centred on y = 0).
        d: The oblique depth (drawn at 45°).
        colour: Fill colour.
        slabs: Widths of the slabs, left to right (summing to ``t``).
    """
    dx = dy = d * math.sqrt(0.5)
    y0, y1 = -h / 2, h / 2
    out = [
        f"    \\fill[{colour}!55] ({_f(x)},{_f(y0)}) rectangle ({_f(x + t)},{_f(y1)});",
        f"    \\fill[{colour}!30] ({_f(x)},{_f(y1)}) -- ++({_f(dx)},{_f(dy)}) -- ++({_f(t)},0) -- ++({_f(-dx)},{_f(-dy)}) -- cycle;",
        f"    \\fill[{colour}!80] ({_f(x + t)},{_f(y0)}) -- ++({_f(dx)},{_f(dy)}) -- ++(0,{_f(h)}) -- ++({_f(-dx)},{_f(-dy)}) -- cycle;",
    ]
    if len(slabs) > 1:
        first = slabs[0]  # a dense block's input k₀, in the block's full colour
        out.append(f"    \\fill[{colour}!85] ({_f(x)},{_f(y0)}) rectangle ({_f(x + first)},{_f(y1)});")
        out.append(
            f"    \\fill[{colour}!65] ({_f(x)},{_f(y1)}) -- ++({_f(dx)},{_f(dy)}) -- ++({_f(first)},0) -- ++({_f(-dx)},{_f(-dy)}) -- cycle;"
        )
        if min(slabs[1:]) >= _SLAB_RULE_MIN:
            edge = x
            for width in slabs[:-1]:
                edge += width
                out.append(
                    f"    \\draw[{colour}!95!black,line width=0.15pt] ({_f(edge)},{_f(y0)}) -- ({_f(edge)},{_f(y1)}) -- ++({_f(dx)},{_f(dy)});"
                )
    out.append(
        f"    \\draw[{colour}!70!black,line width=0.4pt,line join=round] ({_f(x)},{_f(y0)}) rectangle ({_f(x + t)},{_f(y1)})"
        f" ({_f(x)},{_f(y1)}) -- ++({_f(dx)},{_f(dy)}) -- ++({_f(t)},0) -- ++(0,{_f(-h)}) -- ++({_f(-dx)},{_f(-dy)});"
    )
    return out


def _visible_length(text: str) -> float:
    """Roughly how many characters a label line shows (its TeX commands count as what they print)."""
    for command, shown in (("\\times", "x"), ("\\,\\to\\,", "->"), ("$", "")):
        text = text.replace(command, shown)
    return float(len(text))


def _label_width(m: _Map) -> float:
    """An estimate (cm) of the widest label line of a map, in footnotesize (about 0.135 cm a character)."""
    return 0.135 * max(_visible_length(line) for line in (*m.above, *m.below))


@dataclass(frozen=True)
class _Placed:
    """A map's place: left edge, width, height and oblique depth (cm)."""

    x: float
    t: float
    h: float
    d: float

    @property
    def right(self) -> float:
        """The right edge of its side face."""
        return self.x + self.t + self.d * math.sqrt(0.5)

    @property
    def centre(self) -> float:
        """Where its labels are centred."""
        return self.x + (self.t + self.d * math.sqrt(0.5)) / 2


def _place(maps: Sequence[_Map], scale: float) -> list[_Placed]:
    """Left to right, an arrow's length apart, and far enough apart that neighbouring labels do not touch."""
    placed: list[_Placed] = []
    for i, m in enumerate(maps):
        t = max(m.channels * scale, _MIN_DEPTH)
        h = _height(m.hw[0])
        d = _height(m.hw[1]) * 0.3
        x = 0.0
        if placed:
            prev = placed[-1]
            half = (t + d * math.sqrt(0.5)) / 2
            apart = (_label_width(maps[i - 1]) + _label_width(m)) / 2 + 0.3
            x = max(prev.right + _GAP, prev.centre + apart - half)
        placed.append(_Placed(x, t, h, d))
    return placed


def overview_tex(plan: ArchitecturePlan) -> str:
    """The whole network as a standalone TikZ figure (see the module's docstring)."""
    maps = _overview_maps(plan)
    scale = _MAX_DEPTH / max(m.channels for m in maps)  # cm per channel
    placed = _place(maps, scale)
    label_top = max(p.h / 2 + p.d * math.sqrt(0.5) for p in placed) + 0.15
    label_bottom = -max(p.h / 2 for p in placed) - 0.15
    pic = ["\\begin{tikzpicture}[font=\\footnotesize,>={Stealth[length=4pt]}]", *_colour_definitions(plan)]
    for i, (m, p) in enumerate(zip(maps, placed, strict=True)):
        if i:
            pic.append(f"    \\draw[->,thick,dvhead!70] ({_f(placed[i - 1].right + 0.08)},0) -- ({_f(p.x - 0.08)},0);")
        pic.append(f"  % {m.key}: {m.channels} channels, {m.hw[0]}x{m.hw[1]}")
        slabs = [c * scale for c in m.slabs]
        slabs[-1] += p.t - sum(slabs)  # the minimum width goes to the last slab
        pic.extend(_cuboid(p.x, p.t, p.h, p.d, m.colour, slabs))
        above = "\\\\".join(m.above)
        below = "\\\\".join(m.below)
        pic.append(
            f"    \\node[anchor=south,align=center,inner sep=1pt] ({m.key}-name) at ({_f(p.centre)},{_f(label_top)}) {{{above}}};"
        )
        pic.append(
            f"    \\node[anchor=north,align=center,inner sep=1pt] ({m.key}-size) at ({_f(p.centre)},{_f(label_bottom)}) {{{below}}};"
        )
    # the head: ReLU and global average pooling, then the classifier (vectors: boxes, not to scale)
    cls = plan.classifier
    pool_x = placed[-1].right + _GAP
    pic.append(f"    \\draw[->,thick,dvhead!70] ({_f(placed[-1].right + 0.08)},0) -- ({_f(pool_x - 0.08)},0);")
    pic.append(
        f"    \\node[draw=dvhead,fill=dvhead!8,rounded corners=2pt,anchor=west,align=center,minimum height=1.1cm] (pool) at ({_f(pool_x)},0)"
        f" {{global\\\\avg pool\\\\[2pt]{cls.in_channels}}};"
    )
    pic.append(
        "    \\node[draw=dvhead,fill=dvhead!20,rounded corners=2pt,anchor=west,align=center,minimum height=1.1cm]"
        f" (classifier) at ([xshift=0.7cm]pool.east) {{linear\\\\[2pt]{cls.out_channels}}};"
    )
    pic.append("    \\draw[->,thick,dvhead!70] (pool) -- (classifier);")
    note = (
        "Feature maps are drawn with their width in proportion to the channels and their height to $\\log_2$ of "
        "their side. A dense block stacks its input (darker) and one slab of "
        f"$k = {plan.config.growth_rate}$ channels per layer; a transition compresses the channels "
        f"($\\theta = {plan.config.compression:g}$) and halves the side."
    )
    pic.append(
        f"    \\node[anchor=north west,align=left,text width={_f(pool_x + 2.5)}cm,font=\\scriptsize] (note)"
        f" at (0,{_f(label_bottom - 0.85)}) {{{note}}};"
    )
    pic.append("\\end{tikzpicture}")
    cfg = plan.config
    title = (
        f"DenseNet overview: growth rate {cfg.growth_rate}, blocks {','.join(str(n) for n in cfg.block_config)}, "
        f"input {cfg.in_channels}x{plan.input.height}x{plan.input.width}. Width follows channels, height log2 of H."
    )
    return _document(pic, title)


# --- one dense block --------------------------------------------------------------------------


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
        f"    \\fill[{colour}!{_shade(0, block.layers)}] ({_f(x)},0) rectangle ({_f(x + _COLUMN_WIDTH)},{_f(block.in_channels * unit)});"
    ]
    for j in range(1, upto + 1):
        y0 = (block.in_channels + k * (j - 1)) * unit
        out.append(
            f"    \\fill[{colour}!{_shade(j, block.layers)}] ({_f(x)},{_f(y0)}) rectangle ({_f(x + _COLUMN_WIDTH)},{_f(y0 + k * unit)});"
        )
    if k * unit >= _SLAB_RULE_MIN:
        for j in range(1, upto + 1):
            y = (block.in_channels + k * (j - 1)) * unit
            out.append(f"    \\draw[white,line width=0.3pt] ({_f(x)},{_f(y)}) -- ++({_f(_COLUMN_WIDTH)},0);")
    top = (block.in_channels + k * upto) * unit
    out.append(
        f"    \\draw[{colour}!60!black,line width=0.4pt] ({_f(x)},0) rectangle ({_f(x + _COLUMN_WIDTH)},{_f(top)});"
    )
    return out


def _bands(x0: float, x1: float, block: BlockSummary, k: int, upto: int, unit: float, colour: str) -> list[str]:
    """The bands that carry x₀ … x_upto from one column to the next (every earlier output reaches every later layer)."""
    out = [
        f"    \\fill[{colour}!{_shade(0, block.layers) // 4}] ({_f(x0)},0) rectangle ({_f(x1)},{_f(block.in_channels * unit)});"
    ]
    for j in range(1, upto + 1):
        y0 = (block.in_channels + k * (j - 1)) * unit
        out.append(
            f"    \\fill[{colour}!{_shade(j, block.layers) // 3}] ({_f(x0)},{_f(y0)}) rectangle ({_f(x1)},{_f(y0 + k * unit)});"
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
    colour = _color_name(block)
    unit = _COLUMN_HEIGHT / summary.out_channels  # cm per channel
    first, last = shown_layers(layers)
    pic = ["\\begin{tikzpicture}[font=\\footnotesize,>={Stealth[length=4pt]}]", *_colour_definitions(plan)]
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
                f"    \\fill[{colour}!{_shade(layer, layers) // 3}] ({_f(gap_left)},{_f(low)}) -- ({_f(gap_left)},{_f(high)})"
                f" -- ({_f(right)},{_f(top)}) -- ({_f(right)},{_f(low)}) -- cycle;"
            )
            mid = (gap_left + right) / 2
            pic.append(
                f"    \\node[fill=white,inner sep=1.5pt,align=center,font=\\scriptsize] (elided) at ({_f(mid)},{_f(summary.in_channels * unit / 2)})"
                f" {{$\\cdots$\\\\layers\\\\{layer + 1}--{next_layer - 1}}};"
            )
    for layer, left in columns:
        reads = layer - 1
        pic.append(f"  % column {layer}: {summary.in_channels + k * reads} channels")
        pic.extend(_column(left, summary, k, reads, unit, colour))
        label = "out" if layer > layers else f"in{layer}"
        pic.append(
            f"    \\node[anchor=north,inner sep=1pt] (block{block}-{label}) at ({_f(left + _COLUMN_WIDTH / 2)},-0.08) {{{summary.in_channels + k * reads}}};"
        )
    # each drawn layer: H_ℓ reads its column and hands its k maps on to the next column
    highest = 0.0
    for (layer, left), (next_layer, right) in itertools.pairwise(columns):
        top = (summary.in_channels + k * (layer - 1)) * unit
        node_x = left + _COLUMN_WIDTH / 2
        pic.append(
            f"    \\node[draw={colour}!60!black,fill=white,rounded corners=1.5pt,inner sep=1.5pt,minimum width=0.55cm] (h{layer})"
            f" at ({_f(node_x)},{_f(top + 0.45)}) {{$H_{{{layer}}}$}};"
        )
        highest = max(highest, top + 0.45)
        pic.append(f"    \\draw[->,{colour}!60!black] ({_f(node_x)},{_f(top)}) -- (h{layer});")
        new_y = top + k * unit / 2
        end = right if next_layer == layer + 1 else left + _COLUMN_WIDTH + 0.6  # into the elision
        pic.append(f"    \\draw[->,{colour}!60!black] (h{layer}.east) to[out=0,in=180] ({_f(end)},{_f(new_y)});")
    # the block output goes on: a brace with its channels, and the transition or the final norm
    out_left = columns[-1][1]
    out_top = summary.out_channels * unit
    right_edge = out_left + _COLUMN_WIDTH
    pic.append(
        f"    \\draw[decorate,decoration={{brace,amplitude=4pt}},thick] ({_f(right_edge + 0.12)},{_f(out_top)}) -- ({_f(right_edge + 0.12)},0)"
        f" node[midway,right=5pt,align=left] (output) {{block output\\\\$k_0+k\\cdot L = {summary.out_channels}$}};"
    )
    closing = next((r for r in plan.with_role(Role.TRANSITION) if r.block == block), None)
    if closing is not None:
        next_text = f"transition {block}\\\\{closing.out_channels} ch, {_hw(closing.out_hw)}"
    else:
        next_text = "final norm,\\\\pool, linear"
    pic.append(
        f"    \\node[draw=dvtransition,fill=dvtransition!10,rounded corners=2pt,align=center,anchor=west] (next)"
        f" at ([xshift=0.75cm]output.east) {{{next_text}}};"
    )
    pic.append("    \\draw[->,thick,dvtransition] ([xshift=0.1cm]output.east) -- (next);")
    # title and the note (a caption to adapt)
    pic.append(
        f"    \\node[anchor=south west,align=left] (title) at (0,{_f(max(out_top, highest + 0.25) + 0.3)})"
        f" {{\\textbf{{Dense block {block}}}: $k_0 = {summary.in_channels}$, $k = {k}$, $L = {layers}$ layers, {_hw(summary.hw)}}};"
    )
    note = (
        "Column $\\ell$ is the concatenation $[x_0, x_1, \\ldots, x_{\\ell-1}]$ that $H_\\ell$ reads "
        "($k_0 + k(\\ell-1)$ channels; height in proportion). Each band carries one layer's $k$ maps to every later layer."
    )
    if last:
        note += f" Layers {KEEP_FIRST + 1}--{layers - KEEP_LAST} are elided."
    pic.append(
        f"    \\node[anchor=north west,align=left,text width={_f(right_edge + 4.5)}cm,font=\\scriptsize] (note) at (0,-0.6) {{{note}}};"
    )
    pic.append("\\end{tikzpicture}")
    title = f"Dense block {block} of a DenseNet: k0 = {summary.in_channels}, k = {k}, {layers} layers"
    return _document(pic, title)
