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

The overview is :mod:`densviz.draw.tex_overview`'s, the block
:mod:`densviz.draw.tex_block`'s, the document and colours around both
:mod:`densviz.draw.tex_document`'s; this module gathers them.
"""

from __future__ import annotations

from densviz.draw.tex_block import FULL_BLOCK_LAYERS, KEEP_FIRST, KEEP_LAST, block_tex, shown_layers
from densviz.draw.tex_overview import overview_tex

__all__ = [
    "FULL_BLOCK_LAYERS",
    "KEEP_FIRST",
    "KEEP_LAST",
    "block_tex",
    "overview_tex",
    "shown_layers",
]
