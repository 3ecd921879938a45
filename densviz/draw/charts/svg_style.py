"""What the charts drawn as SVG on the server share: sizes, frame, bars, block bands, hover titles, the SVG text.

The first screen's charts are drawn here with matplotlib, as SVG text, so that
the browser shows them without loading plotly.js (a 4.5 MiB script whose
evaluation alone takes most of a second). The look follows the plotly charts
(:mod:`densviz.draw.charts.style`): the same colours (:mod:`densviz.draw.palette`),
a one-line title with its subtitle, block bands labelled ``B1``… above the
plot, the legend under it.

The server does not know how wide the screen is, so each chart is drawn at two
sizes (:data:`WIDE` for a laptop's column, :data:`NARROW` for a phone) and the
page shows the one that fits its column. Sizes are in CSS pixels: a figure is
drawn at 72 dpi, where matplotlib's point is one pixel.

Only matplotlib's object API is used (no pyplot: no global figure list, no GUI
backend). The few settings that matplotlib reads from its global ``rcParams``
while drawing (text as text, fixed ids) are set inside a lock
(:func:`drawing`), so two sessions drawing at once do not see each other's.
"""

from __future__ import annotations

import re
import textwrap
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from html import escape
from io import StringIO
from typing import Any

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, MaxNLocator, NullLocator

from densviz.core.plan import ArchitecturePlan, Role
from densviz.draw.charts.style import block_spans
from densviz.draw.palette import block_color, tint

__all__ = [
    "BAR_WIDTH",
    "FONT_FAMILY",
    "MUTED_COLOR",
    "NARROW",
    "TEXT_COLOR",
    "WIDE",
    "Bar",
    "Bars",
    "Variant",
    "add_axes",
    "axis_titles",
    "block_bands",
    "count_ticks",
    "drawing",
    "legend",
    "legend_height",
    "log_ticks",
    "new_figure",
    "title_height",
    "to_svg",
    "transition_ticks",
]

FONT_FAMILY = "Helvetica, Arial, sans-serif"
"""The family the browser draws the text in (the plotly charts' own).

matplotlib lays the text out with DejaVu Sans, which is wider than these, so a
label drawn in the browser never needs more room than it was given.
"""
TEXT_COLOR = "#1F2937"
MUTED_COLOR = "#4B5563"
GRID_COLOR = "#E5E7EB"
BAR_WIDTH = 0.92
"""A bar's share of its layer's slot: the plotly charts' bargap of 0.08."""


@dataclass(frozen=True)
class Variant:
    """One size a chart is drawn at.

    Attributes:
        name: ``wide`` or ``narrow``: the page picks a drawing by it.
        width: Width in CSS pixels; the page scales the drawing to its column.
        title_px: The title's font size.
        text_px: Subtitle, axis titles and legend.
        tick_px: Tick labels, band labels and notes.
        subtitle_chars: A subtitle line's most characters.
        legend_columns: Legend entries side by side.
        left: Room left of the plot for the y axis's labels and title, in px.
        right: Room right of the plot, in px.
    """

    name: str
    width: int
    title_px: float
    text_px: float
    tick_px: float
    subtitle_chars: int
    legend_columns: int
    left: int
    right: int


WIDE = Variant(
    "wide", 800, title_px=16, text_px=12, tick_px=11, subtitle_chars=110, legend_columns=3, left=66, right=14
)
"""A laptop's column, shown 600 px wide and up: at 1440×900 with the settings open Streamlit's main column
is about 980 px wide, where this drawing's text is 13.5–19.6 px; at 600 px its ticks are still 8 px."""
NARROW = Variant(
    "narrow", 380, title_px=17, text_px=13, tick_px=12, subtitle_chars=46, legend_columns=1, left=62, right=10
)
"""A phone's column: 390 px less Streamlit's 16-px padding each side is 358 px, so drawn at about its size."""

_PAD = 12  # px: from the drawing's edge to the title, and under the title block
_LINE = 1.3  # line height, in font sizes
_BAND_LABEL_PX = 20  # room above a plot for the block bands' labels


def _subtitle_lines(variant: Variant, subtitle: str) -> list[str]:
    return textwrap.wrap(subtitle, variant.subtitle_chars, break_long_words=False, break_on_hyphens=False)


def title_height(variant: Variant, subtitle: str) -> float:
    """The px from the drawing's top to where a plot area with band labels above it may start."""
    lines = len(_subtitle_lines(variant, subtitle))
    return _PAD + variant.title_px * _LINE + lines * variant.text_px * _LINE + _PAD + _BAND_LABEL_PX


def new_figure(variant: Variant, height: float, title: str, subtitle: str) -> Figure:
    """A white figure ``variant.width`` × ``height`` px with the title and its subtitle at its top left."""
    fig = Figure(figsize=(variant.width / 72, height / 72), dpi=72, facecolor="white")
    x, y = _PAD / variant.width, float(_PAD)
    fig.text(x, 1 - y / height, title, fontsize=variant.title_px, fontweight="bold", color=TEXT_COLOR, va="top")
    y += variant.title_px * _LINE
    for line in _subtitle_lines(variant, subtitle):
        fig.text(x, 1 - y / height, line, fontsize=variant.text_px, color=MUTED_COLOR, va="top")
        y += variant.text_px * _LINE
    return fig


def add_axes(fig: Figure, variant: Variant, top: float, bottom: float, sharex: Axes | None = None) -> Axes:
    """A plot area from ``top`` to ``bottom`` px (from the drawing's top), the variant's width less its margins.

    In plotly_white's look: no box, a light horizontal grid under the data, grey tick labels.
    """
    width, height = variant.width, fig.get_figheight() * 72
    rect = (
        variant.left / width,
        1 - bottom / height,
        1 - (variant.left + variant.right) / width,
        (bottom - top) / height,
    )
    ax = fig.add_axes(rect, sharex=sharex)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_color(GRID_COLOR)
    ax.set_axisbelow(True)
    ax.grid(axis="y", color=GRID_COLOR, linewidth=1)
    ax.tick_params(labelsize=variant.tick_px, colors=MUTED_COLOR, length=0, pad=5)
    ax.tick_params(axis="x", length=4, color=GRID_COLOR)
    ax.set_facecolor("none")
    return ax


@dataclass(frozen=True)
class Bar:
    """One bar of a chart, in data coordinates: centred on ``x``, from ``bottom`` to ``bottom + height``.

    Attributes:
        x: The layer's position on the layer axis.
        height: The bar's length.
        color: ``#RRGGBB``.
        bottom: Where it starts (a stacked bar's upper part starts on the lower part).
    """

    x: float
    height: float
    color: str
    bottom: float = 0.0


class Bars:
    """A chart's bars, written into the SVG as plain ``<rect>`` elements with their hover titles.

    matplotlib lays out everything else (axes, ticks, text, legend); the bars
    are many, alike and simple, and written directly: as matplotlib patches
    they took 40% of a chart's drawing time and 60% of its bytes. A placeholder
    (:meth:`place`) keeps their place among matplotlib's layers: over the block
    bands and the grid, under the lines, markers and notes.
    """

    def __init__(self, ax: Axes, gid: str) -> None:
        self.ax = ax
        self.gid = gid
        self._height = ax.get_figure(root=True).get_figheight() * 72  # type: ignore[union-attr]
        self._groups: list[tuple[str, list[Bar]]] = []
        ax.add_artist(Rectangle((0, 0), 0, 0, linewidth=0, gid=gid, zorder=1))

    def add(self, title: str, *bars: Bar) -> None:
        """One hover target: the bars of one module (a stacked pair, or one), under one title."""
        self._groups.append((title, list(bars)))

    def svg(self) -> str:
        """The bars as SVG, in the drawing's px; call once the axes' limits and scale are final."""
        ax, height = self.ax, self._height
        floor = ax.get_ylim()[0]  # a log axis has no 0: a bar from 0 starts at the axis's bottom
        out = []
        for title, bars in self._groups:
            rects = []
            for b in bars:
                (x0, y0), (x1, y1) = ax.transData.transform(
                    [(b.x - BAR_WIDTH / 2, max(b.bottom, floor)), (b.x + BAR_WIDTH / 2, b.bottom + b.height)]
                )
                rects.append(
                    f'<rect x="{x0:.1f}" y="{height - y1:.1f}" width="{x1 - x0:.2f}" height="{y1 - y0:.1f}" fill="{b.color}"/>'
                )
            out.append(f"<g><title>{_text(title)}</title>{''.join(rects)}</g>")
        return "".join(out)


def axis_titles(ax: Axes, variant: Variant, x: str | None = None, y: str | None = None) -> None:
    """Axis titles, with their units, in the variant's text size."""
    if x is not None:
        ax.set_xlabel(x, fontsize=variant.text_px, color=MUTED_COLOR, labelpad=6)
    if y is not None:
        ax.set_ylabel(y, fontsize=variant.text_px, color=MUTED_COLOR, labelpad=6)


def block_bands(ax: Axes, plan: ArchitecturePlan, variant: Variant, *, labels: bool = True) -> dict[str, str]:
    """Each dense block's span of the layer axis shaded in its colour, labelled ``B1``… just above the plot.

    Short labels, as on the plotly charts: on a phone DenseNet-264's first
    block is a few px wide.

    Returns:
        The labels' hover titles by their ids (the block's layers and channels).
    """
    spans = block_spans(plan)
    titles = {}
    for s in plan.blocks:
        first, last = spans[s.index]
        color = block_color(s.index)
        ax.add_artist(
            Rectangle(
                (first - 0.5, 0),
                last - first + 1,
                1,
                transform=ax.get_xaxis_transform(),
                facecolor=tint(color, 0.75),
                alpha=0.35,
                linewidth=0,
                zorder=0,
                clip_on=False,
            )
        )
        if labels:
            gid = f"dvz-band{s.index}"
            titles[gid] = f"dense block {s.index}: {s.layers} layers, {s.out_channels} channels out"
            ax.annotate(
                f"B{s.index}",
                xy=((first + last) / 2, 1),
                xycoords=("data", "axes fraction"),
                xytext=(0, 4),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=variant.tick_px,
                color=color,
                gid=gid,
            )
    return titles


def transition_ticks(ax: Axes, plan: ArchitecturePlan, variant: Variant, positions: Mapping[str, int]) -> None:
    """``T1``, ``T2``… under each transition on the layer axis: short, so they never run into each other on a phone."""
    ticks = [(positions[r.name], f"T{r.block}") for r in plan.layers if r.role is Role.TRANSITION]
    ax.xaxis.set_major_locator(FixedLocator([t[0] for t in ticks]))
    labels = [t[1] for t in ticks]
    ax.xaxis.set_major_formatter(
        FuncFormatter(lambda _v, pos: labels[pos] if pos is not None and pos < len(labels) else "")
    )
    ax.tick_params(axis="x", labelsize=variant.tick_px)


def count_ticks(ax: Axes) -> None:
    """Whole numbers only on a y axis of counts (channels, pixels): no "2.5 channels" tick on a small network."""
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 5, 10], integer=True))


def log_ticks(ax: Axes) -> None:
    """A log axis ticked at the powers of ten, written ``1k``, ``10k``, ``1M``: no minor ticks, no exponents to read."""
    ax.yaxis.set_major_locator(LogLocator(base=10))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _short(v)))


def _short(value: float) -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def legend_height(variant: Variant, entries: int) -> float:
    """The px a legend of ``entries`` entries takes in ``variant`` (one column on a phone)."""
    rows = -(-entries // variant.legend_columns)
    return rows * variant.text_px * 1.7


def legend(fig: Figure, variant: Variant, handles: Sequence[Any], top: float) -> None:
    """The legend under the plot, its top ``top`` px from the drawing's top, aligned with the plot's left edge."""
    fig.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(variant.left / variant.width - 0.01, 1 - top / (fig.get_figheight() * 72)),
        ncols=variant.legend_columns,
        frameon=False,
        fontsize=variant.text_px,
        labelcolor=TEXT_COLOR,
        handlelength=1.0,
        handleheight=1.0,
        handletextpad=0.5,
        columnspacing=1.6,
        borderaxespad=0,
        borderpad=0,
    )


_LOCK = threading.Lock()
_RC: dict[str, Any] = {
    "svg.fonttype": "none",  # text as <text>: a tenth of the bytes of glyph outlines, sharp at any zoom, selectable
    "svg.hashsalt": "densviz",  # the same chart gives the same bytes (clip-path ids are hashes)
    "font.family": "DejaVu Sans",  # matplotlib's own, always there: the layout does not depend on the server's fonts
    "axes.unicode_minus": True,
}


@contextmanager
def drawing() -> Iterator[None]:
    """Hold while building and saving a figure: these charts' matplotlib settings, one drawer at a time."""
    with _LOCK, rc_context(_RC):  # type: ignore[arg-type]
        yield


_FONT = re.compile(r"font-family: ?'?DejaVu Sans'?[^;\"]*")
_GROUP = re.compile(r'<g id="([^"]+)">')
_ATTRIBUTE = re.compile(r'="[^"]*"')  # attribute values only: text content keeps its digits
_DIGITS = re.compile(r"(\d\.\d)\d{2,}")  # three or more decimals: coordinates, not 0.35 of an opacity
_NO_TURN = re.compile(r' transform="rotate\(-?0 [^"]*\)"')  # matplotlib writes a rotation of 0 on every label


def _text(text: str) -> str:
    """Text for an element's content, its line breaks as character references: the drawing stays on one line."""
    return escape(text).replace("\n", "&#10;")


def to_svg(fig: Figure, bars: Sequence[Bars], titles: Mapping[str, str], prefix: str, label: str) -> str:
    """The figure as one ``<svg>`` element, ready to put inline in a page.

    Call inside :func:`drawing`.

    Args:
        fig: The figure.
        bars: Its bars, each set written in its placeholder's place.
        titles: Hover text by artist ``gid``: written as the element's
            ``<title>``, which browsers show on hover.
        prefix: Put before every id in the drawing, so that several drawings in
            one page keep their ids (clip paths, markers) apart.
        label: The drawing's accessible name (``aria-label``).

    Returns:
        The ``<svg>`` element: no XML prolog, no fixed size (its ``viewBox``
        stays; the page sets the width), no metadata, on one line.
    """
    buffer = StringIO()
    FigureCanvasSVG(fig).print_svg(  # type: ignore[no-untyped-call]
        buffer, metadata={"Date": None, "Creator": None, "Format": None, "Type": None}
    )
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)
    head, body = svg[: svg.index(">") + 1], svg[svg.index(">") + 1 :]
    head = re.sub(r'\s(width|height)="[\d.]+pt"', "", head)
    head = head.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1)
    body = re.sub(r'\bid="', f'id="{prefix}-', body)
    body = body.replace("url(#", f"url(#{prefix}-").replace('xlink:href="#', f'xlink:href="#{prefix}-')
    body = _FONT.sub(f"font-family: {FONT_FAMILY}", body)
    body = _ATTRIBUTE.sub(lambda m: _DIGITS.sub(r"\1", m.group(0)), body)  # 0.1 px is finer than a screen shows
    body = _NO_TURN.sub("", body)
    body = re.sub(r"\s*\n\s*", " ", body).replace("> <", "><")

    for group in bars:
        start = body.index(f'<g id="{prefix}-{group.gid}">')
        end = body.index("</g>", start)  # the placeholder holds one path, no group
        body = f'{body[:start]}<g id="{prefix}-{group.gid}">{group.svg()}{body[end:]}'

    def titled(match: re.Match[str]) -> str:
        text = titles.get(match.group(1).removeprefix(f"{prefix}-"))
        return match.group(0) if text is None else f"{match.group(0)}<title>{_text(text)}</title>"

    return (head + _GROUP.sub(titled, body)).strip()
