"""One colour per dense block, shared by the graph and every chart.

Tableau 10 (colour-blind safer than plotly's default order, and legible on
light and dark backgrounds), cycling after ten blocks.
"""

from __future__ import annotations

__all__ = ["HEAD_COLOR", "STEM_COLOR", "TRANSITION_COLOR", "block_color", "tint"]

_BLOCK_COLORS = (
    "#4E79A7",
    "#F28E2B",
    "#59A14F",
    "#E15759",
    "#76B7B2",
    "#EDC948",
    "#B07AA1",
    "#FF9DA7",
    "#9C755F",
    "#BAB0AC",
)
STEM_COLOR = "#6B7280"
TRANSITION_COLOR = "#374151"
HEAD_COLOR = "#111827"


def block_color(block: int | None) -> str:
    """The colour of dense block ``block`` (1-based); grey for anything outside a block."""
    if block is None:
        return STEM_COLOR
    return _BLOCK_COLORS[(block - 1) % len(_BLOCK_COLORS)]


def tint(color: str, amount: float) -> str:
    """Mix ``#RRGGBB`` with white: 0 keeps the colour, 1 gives white."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    mix = [round(c + (255 - c) * amount) for c in (r, g, b)]
    return "#" + "".join(f"{c:02X}" for c in mix)
