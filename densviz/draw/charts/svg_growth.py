"""The Growth view's two charts as SVG drawn on the server: channel growth, and spatial size with volume.

The same content as the plotly charts
:func:`~densviz.draw.charts.growth.channel_growth_figure` and
:func:`~densviz.draw.charts.volume.spatial_volume_figure` (which the page's
"Interactive chart" switch and the exports keep): what each dense layer reads
and adds, θ at each transition, the spatial size halving and the activation
volume per layer. Every bar's hover title gives its module path and shape.
Each function draws one size (:data:`VARIANTS`); the page shows the one that
fits its column.
"""

from __future__ import annotations

from typing import Any

from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from densviz.core.config import DenseNetConfig, InputSpec
from densviz.core.plan import ArchitecturePlan, LayerPlan, Role, make_plan
from densviz.core.units import format_bytes, format_count, format_macs
from densviz.draw.charts.style import row_color, shape_text
from densviz.draw.charts.svg_style import (
    NARROW,
    TEXT_COLOR,
    WIDE,
    Bar,
    Bars,
    Variant,
    add_axes,
    axis_titles,
    block_bands,
    count_ticks,
    drawing,
    legend,
    legend_height,
    log_ticks,
    new_figure,
    title_height,
    to_svg,
    transition_ticks,
)
from densviz.draw.palette import STEM_COLOR, TRANSITION_COLOR, block_color, tint

__all__ = [
    "CHANNELS_TITLE",
    "NARROW",
    "VARIANTS",
    "VOLUME_TITLE",
    "WIDE",
    "Variant",
    "bar_title",
    "channel_growth_svg",
    "spatial_volume_svg",
]

VARIANTS = (WIDE, NARROW)
"""The sizes each chart is drawn at, widest first."""
CHANNELS_TITLE = "Channel growth"
VOLUME_TITLE = "Spatial size and activation volume"

READ_TINT = 0.55
"""How much lighter than its block a dense layer's concatenated input is drawn (its new maps: the block's colour)."""
_X_LABELS_PX = 44  # under a plot: the tick labels and the x axis's title
_LEGEND_GAP_PX = 10
_BOTTOM_PAD_PX = 8
_NOTE_RISE_PX = 34  # a transition's note stands this far above its bar


def bar_title(row: LayerPlan) -> str:
    """A bar's hover title: module path, what it reads and writes, output shape, parameters and MACs."""
    return (
        f"{row.name}\n{row.kind.value}: {row.in_channels} → {row.out_channels} channels\n"
        f"output {shape_text(row)}\n{format_count(row.params)} params · {format_macs(row.macs)}"
    )


def _below(variant: Variant, plot_px: float, entries: int) -> tuple[float, float]:
    """From the plot area's top: the legend's top under a plot ``plot_px`` high, and the drawing's end."""
    legend_top = plot_px + _X_LABELS_PX + _LEGEND_GAP_PX
    return legend_top, legend_top + legend_height(variant, entries) + _BOTTOM_PAD_PX


_CHAR_EM = 0.62  # DejaVu Sans's widest digits and arrows, in font sizes: a note's width is never underestimated


def _note_offsets(ax: Axes, variant: Variant, notes: list[tuple[int, int, str]]) -> list[tuple[float, float]]:
    """Where each transition's note goes, as px offsets (right, up) from the top of its bar.

    A note stands :data:`_NOTE_RISE_PX` above its bar, moved right or left to
    stay inside the plot, and higher where it would cover the note before it
    (on a phone DenseNet-264's first two transitions are 25 px apart).
    """
    (left, _), (right, _) = ax.transAxes.transform([(0, 0), (1, 0)])
    placed: list[tuple[float, float, float, float]] = []  # boxes in display px: left, bottom, right, top
    out = []
    for i, y, text in notes:
        lines = text.split("\n")
        width = max(len(line) for line in lines) * variant.tick_px * _CHAR_EM + 8
        height = len(lines) * variant.tick_px * 1.2 + 8
        x_px, y_px = ax.transData.transform((i, y))
        dx = min(max(0.0, left - (x_px - width / 2)), right - (x_px + width / 2))
        rise = float(_NOTE_RISE_PX)
        x0, x1 = x_px + dx - width / 2, x_px + dx + width / 2
        moved = True
        while moved:  # raised over one note, it may meet another: again until it meets none
            moved = False
            for b_left, b_bottom, b_right, b_top in placed:
                beside = x0 < b_right + 4 and b_left - 4 < x1
                if beside and y_px + rise < b_top + 4 and y_px + rise + height > b_bottom - 4:
                    rise, moved = b_top + 4 - y_px, True
        placed.append((x0, y_px + rise, x1, y_px + rise + height))
        out.append((dx, rise))
    return out


def channel_growth_svg(plan: ArchitecturePlan, variant: Variant = WIDE) -> str:
    """Chart 1 as SVG: channels per layer, k₀ + k·(ℓ−1) read and k added, θ at each transition.

    A dense layer's bar stacks what it reads (the concatenation, its block's
    colour lightened) and the k maps it adds (the block's colour); every other
    module's bar is its output channels.

    Args:
        plan: The network's plan.
        variant: The size to draw it at.

    Returns:
        One ``<svg>`` element (:func:`~densviz.draw.charts.svg_style.to_svg`).
    """
    k = plan.config.growth_rate
    rows = plan.layers
    subtitle = f"inside a block layer ℓ reads k₀ + k·(ℓ−1) channels and adds k = {k}; each transition keeps ⌊θ·m⌋"
    plot_px = 250 if variant is WIDE else 300
    top = title_height(variant, subtitle)
    legend_top, end = _below(variant, plot_px, 3)
    titles: dict[str, str] = {}
    with drawing():
        fig = new_figure(variant, top + end, CHANNELS_TITLE, subtitle)
        ax = add_axes(fig, variant, top, top + plot_px)
        bars = Bars(ax, "dvz-bars")
        for i, r in enumerate(rows):
            if r.role is Role.DENSE_LAYER:
                color = block_color(r.block)
                read = Bar(i, r.in_channels, tint(color, READ_TINT))
                bars.add(bar_title(r), read, Bar(i, r.out_channels, color, bottom=r.in_channels))
            else:
                bars.add(bar_title(r), Bar(i, r.out_channels, row_color(r)))
        tallest = max(r.in_channels + r.out_channels if r.role is Role.DENSE_LAYER else r.out_channels for r in rows)
        ax.set_xlim(-0.7, len(rows) - 0.3)
        ax.set_ylim(0, tallest * 1.04)
        count_ticks(ax)
        titles |= block_bands(ax, plan, variant)
        notes = [
            (i, r.out_channels, f"θ = {plan.config.compression:g}\n{r.in_channels} → {r.out_channels}")
            for i, r in enumerate(rows)
            if r.role is Role.TRANSITION
        ]
        # Drawn right to left: where a note stands above the one before it, its arrow passes behind that one's box.
        for (i, y, text), (dx, rise) in reversed(list(zip(notes, _note_offsets(ax, variant, notes), strict=True))):
            ax.annotate(
                text,
                xy=(i, y),
                xytext=(dx, rise),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=variant.tick_px,
                color=TRANSITION_COLOR,
                linespacing=1.2,
                bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": "none", "alpha": 0.9},
                arrowprops={"arrowstyle": "-|>", "color": TRANSITION_COLOR, "linewidth": 1, "shrinkA": 0, "shrinkB": 1},
            )
        transition_ticks(ax, plan, variant, {r.name: i for i, r in enumerate(rows)})
        axis_titles(ax, variant, x="layers in forward order", y="channels")
        first = next((r.block for r in rows if r.role is Role.DENSE_LAYER), 1)
        handles = [
            Patch(color=tint(block_color(first), READ_TINT), label="concatenated input k₀ + k·(ℓ−1)"),
            Patch(color=block_color(first), label=f"new maps (k = {k})"),
            Patch(color=TRANSITION_COLOR, label="output channels (stem, transitions, head)"),
        ]
        legend(fig, variant, handles, top + legend_top)
        return to_svg(fig, [bars], titles, f"dvz-growth-{variant.name}", f"{CHANNELS_TITLE}: {subtitle}")


def spatial_volume_svg(plan: ArchitecturePlan, variant: Variant = WIDE) -> str:
    """Chart 2 as SVG: H (and W where it differs) per layer, over the activation volume C×H×W per layer.

    The volume is drawn on a log axis (it spans three orders of magnitude in
    DenseNet-121), each dense layer's concatenated input C_in×H×W marked beside it.

    Args:
        plan: The network's plan.
        variant: The size to draw it at.

    Returns:
        One ``<svg>`` element (:func:`~densviz.draw.charts.svg_style.to_svg`).
    """
    rows = [r for r in plan.layers if r.role is not Role.CLASSIFIER]  # the classifier has no spatial size
    xs = list(range(len(rows)))
    n = plan.input.batch
    subtitle = "inside a block every layer adds the same k×H×W volume; each transition halves H and W"
    size_px, gap_px, volume_px = (110, 22, 240) if variant is WIDE else (120, 22, 260)
    square = all(r.out_hw[0] == r.out_hw[1] for r in rows)
    top = title_height(variant, subtitle)
    legend_top, end = _below(variant, size_px + gap_px + volume_px, 3 if square else 4)
    volumes = [r.out_channels * r.out_hw[0] * r.out_hw[1] for r in rows]
    titles: dict[str, str] = {}
    with drawing():
        fig = new_figure(variant, top + end, VOLUME_TITLE, subtitle)
        upper = add_axes(fig, variant, top, top + size_px)
        lower = add_axes(fig, variant, top + size_px + gap_px, top + size_px + gap_px + volume_px, sharex=upper)

        heights = [r.out_hw[0] for r in rows]
        upper.step(xs, heights, where="post", color=TRANSITION_COLOR, linewidth=1.5)
        upper.plot(xs, heights, "o", color=TRANSITION_COLOR, markersize=2.5)
        handles: list[Any] = [
            Line2D([], [], color=TRANSITION_COLOR, linewidth=1.5, marker="o", markersize=3, label="height")
        ]
        if not square:
            upper.step(xs, [r.out_hw[1] for r in rows], where="post", color=TEXT_COLOR, linewidth=1.2, linestyle=":")
            handles.append(Line2D([], [], color=TEXT_COLOR, linewidth=1.2, linestyle=":", label="width"))
        upper.set_ylim(0, max(max(r.out_hw) for r in rows) * 1.1)
        count_ticks(upper)
        upper.tick_params(axis="x", labelbottom=False)
        axis_titles(upper, variant, y="H (pixels)" if square else "H, W (pixels)")

        bars = Bars(lower, "dvz-bars")
        for i, (r, volume) in enumerate(zip(rows, volumes, strict=True)):
            title = (
                f"{r.name}\n{shape_text(r)} = {volume:,} values per image\n"
                f"{format_bytes(r.output_bytes)} at batch {n} (float32)"
            )
            bars.add(title, Bar(i, volume, row_color(r)))
        dense = [(i, r) for i, r in enumerate(rows) if r.role is Role.DENSE_LAYER]
        reads = [r.in_channels * r.in_hw[0] * r.in_hw[1] for _, r in dense]
        lower.plot([i for i, _ in dense], reads, "_", color=STEM_COLOR, markersize=5 if variant is WIDE else 4, mew=1.5)
        lower.set_yscale("log")
        lower.set_ylim(min(volumes) / 1.6, max([*volumes, *reads]) * 1.6)
        log_ticks(lower)
        first = next((r.block for _, r in dense), 1)
        handles += [
            Patch(color=block_color(first), label="output volume C×H×W"),
            Line2D(
                [],
                [],
                color=STEM_COLOR,
                marker="_",
                linestyle="none",
                markersize=9,
                mew=1.5,
                label="concatenated input C_in×H×W",
            ),
        ]

        upper.set_xlim(-0.7, len(rows) - 0.3)
        titles |= block_bands(upper, plan, variant)
        block_bands(lower, plan, variant, labels=False)
        transition_ticks(lower, plan, variant, {r.name: i for i, r in enumerate(rows)})
        axis_titles(lower, variant, x="layers in forward order", y="values per image")
        legend(fig, variant, handles, top + legend_top)
        return to_svg(fig, [bars], titles, f"dvz-volume-{variant.name}", f"{VOLUME_TITLE}: {subtitle}")


def growth_charts_html(cfg: DenseNetConfig, spec: InputSpec) -> str:
    """Both charts at every size, each in a ``<div class="dvz-{variant}">``: what the Growth view shows.

    A plain function of the design, so that a worker process can draw it
    (:class:`densviz.ui.cached.DrawService`): four matplotlib drawings are
    about 0.15 s of CPU, which the server's interpreter lock would otherwise
    hold from every other session's rerun.
    """
    plan = make_plan(cfg, spec)
    return "".join(
        f'<div class="dvz-{variant.name}">{draw(plan, variant)}</div>'
        for draw in (channel_growth_svg, spatial_volume_svg)
        for variant in VARIANTS
    )
