r"""What both TikZ figures share: the standalone document around a picture, the palette's colours, numbers as TeX.

:func:`standalone_document` wraps one ``tikzpicture`` in a LaTeX file that
compiles with ``pdflatex`` and TikZ alone (cropped by ``standalone.cls`` where
it is installed, else by a few lines of plain TeX); :func:`colour_definitions`
gives the picture its own ``\definecolor`` lines, so that it can be pasted
alone. The figures are :mod:`densviz.draw.tex_overview`'s and
:mod:`densviz.draw.tex_block`'s, gathered in :mod:`densviz.draw.tex`.
"""

from __future__ import annotations

from collections.abc import Sequence

from densviz.core.plan import ArchitecturePlan
from densviz.draw.palette import HEAD_COLOR, STEM_COLOR, TRANSITION_COLOR, block_color

__all__ = ["SLAB_RULE_MIN", "cm", "color_name", "colour_definitions", "standalone_document", "tex_hw"]

SLAB_RULE_MIN = 0.02
"""Slabs (cm) thinner than this (0.2 mm) are drawn without their dividing lines."""


def tex_hw(hw: tuple[int, int]) -> str:
    r"""A (height, width) in TeX: ``$224\times224$``."""
    return f"${hw[0]}\\times{hw[1]}$"


def cm(x: float) -> str:
    """A coordinate in cm, 3 decimals, no ``-0``."""
    text = f"{x:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def color_name(block: int | None) -> str:
    """The TikZ colour of a dense block (``dvblock2``), or of the stem for ``None``."""
    return f"dvblock{block}" if block is not None else "dvstem"


def colour_definitions(plan: ArchitecturePlan) -> list[str]:
    r"""``\definecolor`` lines: the palette's colours (inside the picture, so it can be pasted alone)."""
    lines = [
        f"  \\definecolor{{dvstem}}{{HTML}}{{{STEM_COLOR[1:]}}}",
        f"  \\definecolor{{dvtransition}}{{HTML}}{{{TRANSITION_COLOR[1:]}}}",
        f"  \\definecolor{{dvhead}}{{HTML}}{{{HEAD_COLOR[1:]}}}",
    ]
    lines += [f"  \\definecolor{{{color_name(b.index)}}}{{HTML}}{{{block_color(b.index)[1:]}}}" for b in plan.blocks]
    return lines


def standalone_document(picture: Sequence[str], title: str) -> str:
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
