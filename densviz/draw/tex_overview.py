"""The whole network as a TikZ figure: every feature map a cuboid, left to right (see :mod:`densviz.draw.tex`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from densviz.core.config import Stem
from densviz.core.plan import ArchitecturePlan, Role
from densviz.draw.tex_document import SLAB_RULE_MIN, cm, color_name, colour_definitions, standalone_document, tex_hw

__all__ = ["overview_tex"]

# Overview geometry, in cm.
_MAX_DEPTH = 2.2  # the widest feature map (the largest channel count)
_MIN_DEPTH = 0.1  # a thinner one would vanish (the 3-channel input)
_GAP = 0.55  # between two feature maps (the arrow)


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
            (str(cfg.in_channels), tex_hw(plan.input.hw)),
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
            (str(stem_out.out_channels), tex_hw(stem_out.out_hw)),
        )
    )
    transitions = {row.block: row for row in plan.with_role(Role.TRANSITION)}
    for block in plan.blocks:
        maps.append(
            _Map(
                f"block{block.index}",
                color_name(block.index),
                block.out_channels,
                block.hw,
                (block.in_channels, *([cfg.growth_rate] * block.layers)),
                (f"dense block {block.index}", f"{block.layers} layers"),
                (f"{block.in_channels}$\\,\\to\\,${block.out_channels}", tex_hw(block.hw)),
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
                    (str(row.out_channels), tex_hw(row.out_hw)),
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
        f"    \\fill[{colour}!55] ({cm(x)},{cm(y0)}) rectangle ({cm(x + t)},{cm(y1)});",
        f"    \\fill[{colour}!30] ({cm(x)},{cm(y1)}) -- ++({cm(dx)},{cm(dy)}) -- ++({cm(t)},0) -- ++({cm(-dx)},{cm(-dy)}) -- cycle;",
        f"    \\fill[{colour}!80] ({cm(x + t)},{cm(y0)}) -- ++({cm(dx)},{cm(dy)}) -- ++(0,{cm(h)}) -- ++({cm(-dx)},{cm(-dy)}) -- cycle;",
    ]
    if len(slabs) > 1:
        first = slabs[0]  # a dense block's input k₀, in the block's full colour
        out.append(f"    \\fill[{colour}!85] ({cm(x)},{cm(y0)}) rectangle ({cm(x + first)},{cm(y1)});")
        out.append(
            f"    \\fill[{colour}!65] ({cm(x)},{cm(y1)}) -- ++({cm(dx)},{cm(dy)}) -- ++({cm(first)},0) -- ++({cm(-dx)},{cm(-dy)}) -- cycle;"
        )
        if min(slabs[1:]) >= SLAB_RULE_MIN:
            edge = x
            for width in slabs[:-1]:
                edge += width
                out.append(
                    f"    \\draw[{colour}!95!black,line width=0.15pt] ({cm(edge)},{cm(y0)}) -- ({cm(edge)},{cm(y1)}) -- ++({cm(dx)},{cm(dy)});"
                )
    out.append(
        f"    \\draw[{colour}!70!black,line width=0.4pt,line join=round] ({cm(x)},{cm(y0)}) rectangle ({cm(x + t)},{cm(y1)})"
        f" ({cm(x)},{cm(y1)}) -- ++({cm(dx)},{cm(dy)}) -- ++({cm(t)},0) -- ++(0,{cm(-h)}) -- ++({cm(-dx)},{cm(-dy)});"
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
    pic = ["\\begin{tikzpicture}[font=\\footnotesize,>={Stealth[length=4pt]}]", *colour_definitions(plan)]
    for i, (m, p) in enumerate(zip(maps, placed, strict=True)):
        if i:
            pic.append(f"    \\draw[->,thick,dvhead!70] ({cm(placed[i - 1].right + 0.08)},0) -- ({cm(p.x - 0.08)},0);")
        pic.append(f"  % {m.key}: {m.channels} channels, {m.hw[0]}x{m.hw[1]}")
        slabs = [c * scale for c in m.slabs]
        slabs[-1] += p.t - sum(slabs)  # the minimum width goes to the last slab
        pic.extend(_cuboid(p.x, p.t, p.h, p.d, m.colour, slabs))
        above = "\\\\".join(m.above)
        below = "\\\\".join(m.below)
        pic.append(
            f"    \\node[anchor=south,align=center,inner sep=1pt] ({m.key}-name) at ({cm(p.centre)},{cm(label_top)}) {{{above}}};"
        )
        pic.append(
            f"    \\node[anchor=north,align=center,inner sep=1pt] ({m.key}-size) at ({cm(p.centre)},{cm(label_bottom)}) {{{below}}};"
        )
    # the head: ReLU and global average pooling, then the classifier (vectors: boxes, not to scale)
    cls = plan.classifier
    pool_x = placed[-1].right + _GAP
    pic.append(f"    \\draw[->,thick,dvhead!70] ({cm(placed[-1].right + 0.08)},0) -- ({cm(pool_x - 0.08)},0);")
    pic.append(
        f"    \\node[draw=dvhead,fill=dvhead!8,rounded corners=2pt,anchor=west,align=center,minimum height=1.1cm] (pool) at ({cm(pool_x)},0)"
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
        f"    \\node[anchor=north west,align=left,text width={cm(pool_x + 2.5)}cm,font=\\scriptsize] (note)"
        f" at (0,{cm(label_bottom - 0.85)}) {{{note}}};"
    )
    pic.append("\\end{tikzpicture}")
    cfg = plan.config
    title = (
        f"DenseNet overview: growth rate {cfg.growth_rate}, blocks {','.join(str(n) for n in cfg.block_config)}, "
        f"input {cfg.in_channels}x{plan.input.height}x{plan.input.width}. Width follows channels, height log2 of H."
    )
    return standalone_document(pic, title)
