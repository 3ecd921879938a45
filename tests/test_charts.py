"""Every chart draws the plan's numbers, point by point, and fits a phone's screen."""

import math
import re
from dataclasses import dataclass
from functools import cache

import numpy as np
import plotly.graph_objects as go
import pytest

from densviz.core.config import PRESETS, ConfigError, DenseNetConfig, InputSpec, Stem
from densviz.core.plan import ArchitecturePlan, LayerKind, make_plan
from densviz.draw.charts import (
    ChartKind,
    adjacency_figure,
    channel_growth_figure,
    cost_figure,
    growth_overlay_figure,
    make_chart,
    memory_figure,
    spatial_volume_figure,
    training_figure,
    volume_3d_figure,
)
from densviz.draw.charts.style import (
    BAND_LABEL_PX,
    SUBPLOT_TITLE_PX,
    SUBTITLE_CHARS,
    TITLE_CHARS,
    title_margin,
)
from densviz.draw.charts.volume3d import FIT_WIDTH, WIDE_FIT_WIDTH
from densviz.draw.palette import block_color
from tests.helpers import plan_of
from tests.test_graph import renamed


def test_channel_growth_bars() -> None:
    plan = plan_of("densenet121")
    fig = channel_growth_figure(plan)
    concat, new, other = fig.data
    dense = [r for r in plan.layers if r.kind is LayerKind.DENSE_LAYER]
    assert list(concat.y) == [r.in_channels for r in dense]
    assert list(new.y) == [32] * 58
    # block 1 reads 64, 96, …, 224: k₀ + k·(ℓ−1) with k₀ = 64, k = 32
    assert list(concat.y[:6]) == [64 + 32 * i for i in range(6)]
    assert list(other.y) == [r.out_channels for r in plan.layers if r.kind is not LayerKind.DENSE_LAYER]
    assert list(new.marker.color[:6]) == [block_color(1)] * 6
    transitions = [a.text for a in fig.layout.annotations if "θ" in a.text]
    assert transitions == ["θ = 0.5<br>256 → 128", "θ = 0.5<br>512 → 256", "θ = 0.5<br>1024 → 512"]
    assert len(fig.layout.shapes) == 4  # one band per dense block


def test_spatial_size_and_volume() -> None:
    plan = plan_of("densenet121")
    fig = spatial_volume_figure(plan)
    heights, volumes = fig.data[0], fig.data[1]
    rows = plan.layers[:-1]
    assert list(heights.y) == [r.out_hw[0] for r in rows]
    assert list(volumes.y) == [r.out_channels * r.out_hw[0] * r.out_hw[1] for r in rows]
    by_name = dict(zip([r.name for r in rows], volumes.y, strict=True))
    # every layer of block 1 adds the same 32×56×56 volume; transition1 outputs 128×28×28
    assert {by_name[f"features.denseblock1.denselayer{i}"] for i in range(1, 7)} == {32 * 56 * 56}
    assert by_name["features.transition1"] == 128 * 28 * 28


def test_cost_per_layer_and_per_stage() -> None:
    plan = plan_of("densenet121")
    fig = cost_figure(plan)
    per_layer_params, per_layer_macs, stage_params, stage_macs = fig.data
    assert list(per_layer_params.y) == [r.params for r in plan.layers]
    assert list(per_layer_macs.y) == [r.macs for r in plan.layers]
    assert sum(stage_params.y) == 7_978_856
    assert sum(stage_macs.y) == 2_834_161_664
    labels = list(stage_params.x)
    assert labels[:3] == ["stem", "B1", "T1"] and labels[-1] == "head"  # short: they fit a phone unrotated
    assert stage_params.y[labels.index("B3")] == plan.blocks[2].params
    assert stage_params.hovertext[labels.index("T2")].startswith("transition 2: ")


def test_adjacency_cells() -> None:
    plan = plan_of("tiny")
    heat = adjacency_figure(plan).data[0]
    cells = [(i, j, v) for i, row in enumerate(heat.z) for j, v in enumerate(row) if v is not None]
    # per block: layers read 1 + 2 inputs, the transition (or norm5) 3
    assert len(cells) == 3 * (1 + 2 + 3)
    assert heat.y[0] == "block1.layer1" and heat.x[0] == "conv0"
    assert heat.z[0][0] == 16  # layer 1 reads the stem's 16 channels
    assert heat.z[1][1] == 8  # layer 2 reads layer 1's k = 8
    focused = adjacency_figure(plan_of("densenet121"), block=3).data[0]
    assert len(focused.y) == 24 + 1  # 24 layers and transition3
    assert sum(v is not None for row in focused.z for v in row) == 24 * 25 // 2 + 25
    with pytest.raises(ConfigError):
        adjacency_figure(plan, block=4)


@pytest.mark.parametrize("log_scale", [True, False])
def test_volume_boxes(log_scale: bool) -> None:
    plan = plan_of("densenet121")
    fig = volume_3d_figure(plan, log_scale=log_scale)
    boxes = [t for t in fig.data if t.type == "mesh3d"]
    assert len(boxes) == 1 + 1 + 4 + 3  # input, stem, 4 blocks, 3 transitions
    expected = [(3, 224), (64, 56), (256, 56), (128, 28), (512, 28), (256, 14), (1024, 14), (512, 7), (1024, 7)]
    for box, (c, h) in zip(boxes, expected, strict=True):
        length = max(box.x) - min(box.x)
        height = max(box.z) - min(box.z)
        side = (lambda v: 1 + math.log2(v)) if log_scale else float
        assert length == pytest.approx(side(c)) and height == pytest.approx(side(h))


def test_memory_chart_matches_the_estimates() -> None:
    plan = plan_of("densenet121", batch=16)
    fig = memory_figure(plan)
    live, naive, efficient = fig.data
    mib = 1 << 20
    assert list(live.y) == pytest.approx([m.live_bytes / mib for m in plan.memory.layers])
    assert naive.y[-1] == pytest.approx(sum(m.saved_naive_bytes for m in plan.memory.layers) / mib)
    assert efficient.y[-1] < naive.y[-1] / 1.5


def test_every_chart_by_name_has_title_and_axis_units() -> None:
    plan = plan_of("densenet_bc100_k12")
    for kind in ChartKind:
        fig = make_chart(plan, kind)
        assert fig.layout.title.text
    assert cost_figure(plan).layout.yaxis.title.text == "parameters"
    assert memory_figure(plan).layout.yaxis.title.text == "MiB"
    with pytest.raises(ConfigError, match="chart must be one of"):
        make_chart(plan, "pie")


@pytest.mark.parametrize("name", ["densenet121", "tiny"])
def test_charts_colour_and_group_rows_by_role_not_by_name(name: str) -> None:
    plan = plan_of(name)
    other = renamed(plan)
    for kind in ChartKind:
        fig, fig_other = make_chart(plan, kind), make_chart(other, kind)
        for trace, trace_other in zip(fig.data, fig_other.data, strict=True):
            values = "z" if trace.type == "heatmap" else "y"  # the heat map's rows are named
            assert trace_other[values] == trace[values], kind
            if trace.type == "bar":
                assert trace_other.marker.color == trace.marker.color, kind
                assert list(trace_other.x) == list(trace.x), kind
        assert fig_other.layout.xaxis.tickvals == fig.layout.xaxis.tickvals, kind
        assert fig_other.layout.shapes == fig.layout.shapes, kind
    overlay = growth_overlay_figure([("a", plan), ("b", other)]).data
    assert overlay[0].y == overlay[1].y


# --- framing: every box of the 3-D view in the camera, legends and titles clear on a phone ---------


@dataclass(frozen=True)
class _Epoch:
    epoch: int
    seconds: float
    test_accuracy: float


_LOSSES = [(s, s * 0.05, 2.3 * math.exp(-s / 60) + 0.05) for s in range(1, 271)]
_EPOCHS = [
    _Epoch(i + 1, 1.35 * (i + 1), a)
    for i, a in enumerate([0.42, 0.78, 0.88, 0.92, 0.945, 0.958, 0.966, 0.972, 0.975, 0.978])
]


def _longest_cifar() -> ArchitecturePlan:
    """The most stages a CIFAR network can have: 13 blocks at the largest input (16 would need 32768 px)."""
    cfg = DenseNetConfig(growth_rate=12, block_config=(4,) * 13, stem=Stem.CIFAR, num_classes=10)
    return make_plan(cfg, InputSpec.square(4096, batch=1))


def _on_screen(fig: go.Figure, points: list[tuple[float, float, float]]) -> list[tuple[float, float]]:
    """Where plotly's orthographic camera puts data points, in px from the scene's centre (x right, y up).

    plotly maps each axis's range onto its aspect ratio, looks from ``eye`` at ``center``
    and shows 2 of those units over the scene's height, whatever its width.
    """
    scene, layout = fig.layout.scene, fig.layout
    assert scene.camera.projection.type == "orthographic"
    axes = [scene.xaxis, scene.yaxis, scene.zaxis]
    ratio = [scene.aspectratio.x, scene.aspectratio.y, scene.aspectratio.z]
    eye = np.array([scene.camera.eye.x, scene.camera.eye.y, scene.camera.eye.z])
    center = np.array([scene.camera.center.x, scene.camera.center.y, scene.camera.center.z])
    forward = (center - eye) / np.linalg.norm(center - eye)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    px = (layout.height - layout.margin.t - layout.margin.b) / 2
    out = []
    for p in points:
        a = np.array(
            [
                (v - (ax.range[0] + ax.range[1]) / 2) / (ax.range[1] - ax.range[0]) * r
                for v, ax, r in zip(p, axes, ratio, strict=True)
            ]
        )
        out.append((float((a - center) @ right * px), float((a - center) @ up * px)))
    return out


VOLUME_PLANS = [*PRESETS, "longest CIFAR"]


@pytest.mark.parametrize("name", VOLUME_PLANS)
@pytest.mark.parametrize("fit", [FIT_WIDTH, WIDE_FIT_WIDTH])
def test_volume_3d_frames_every_box_and_label(name: str, fit: int) -> None:
    plan = _longest_cifar() if name == "longest CIFAR" else plan_of(name)
    fig = volume_3d_figure(plan, fit_width=fit)
    scene = fig.layout.scene
    boxes = [t for t in fig.data if t.type == "mesh3d"]
    (labels,) = [t for t in fig.data if t.type == "scatter3d"]
    assert len(boxes) == len(labels.text) == 2 + 2 * len(plan.blocks) - 1  # input, stem, blocks, transitions
    assert boxes[0].name.startswith("input: 3×") and labels.text[-1].startswith(f"{plan.blocks[-1].out_channels}<br>")
    # the scene's ranges hold every box and every label: nothing is clipped
    for axis, key in ((scene.xaxis, "x"), (scene.yaxis, "y"), (scene.zaxis, "z")):
        low, high = axis.range
        for box in boxes:
            assert low < min(box[key]) and max(box[key]) < high, (name, key, box.name)
        assert all(low < v < high for v in labels[key]), (name, key)
    # true proportions: a unit is as long along every axis
    lengths = [a.range[1] - a.range[0] for a in (scene.xaxis, scene.yaxis, scene.zaxis)]
    ratios = [scene.aspectratio.x, scene.aspectratio.y, scene.aspectratio.z]
    assert ratios[0] / lengths[0] == pytest.approx(ratios[1] / lengths[1]) == pytest.approx(ratios[2] / lengths[2])
    # and the camera shows them all in a chart ``fit`` px wide: every corner and every label
    half_w, half_h = fit / 2, (fig.layout.height - fig.layout.margin.t - fig.layout.margin.b) / 2
    corners = [p for box in boxes for p in zip(box.x, box.y, box.z, strict=True)]
    for x, y in _on_screen(fig, corners):
        assert abs(x) <= half_w and abs(y) <= half_h, (name, x, y)
    anchors = list(zip(labels.x, labels.y, labels.z, strict=True))
    for (x, y), text in zip(_on_screen(fig, anchors), labels.text, strict=True):
        half_text = max(len(line) for line in text.split("<br>")) * 7.8 / 2  # 12 px digits, measured in Chromium
        assert abs(x) + half_text <= half_w and -half_h <= y and y + 40 <= half_h, (name, text, x, y)


@cache
def _figures() -> dict[str, go.Figure]:
    """Every chart densviz draws from a plan or a run, by name."""
    plan = plan_of("densenet121")
    figs = {kind.value: make_chart(plan, kind) for kind in ChartKind}
    figs["volume3d (page)"] = volume_3d_figure(plan)
    figs["compare"] = growth_overlay_figure([("DenseNet-121", plan), ("DenseNet-169", plan_of("densenet169"))])
    figs["training"] = training_figure(_LOSSES, _EPOCHS)
    figs["training (no epoch yet)"] = training_figure(_LOSSES[:3], [])
    return figs


FIGURES = [*(k.value for k in ChartKind), "volume3d (page)", "compare", "training", "training (no epoch yet)"]


@pytest.mark.parametrize("name", FIGURES)
def test_legends_sit_under_the_plot_and_titles_have_room(name: str) -> None:
    fig = _figures()[name]
    layout = fig.layout
    plot_h = layout.height - layout.margin.t - layout.margin.b
    lines = layout.title.text.split("<br>")
    assert layout.title.yref == "container" and len(lines[0]) <= TITLE_CHARS, lines[0]  # one line on a phone
    assert all(len(re.sub("<[^>]+>", "", line)) <= SUBTITLE_CHARS for line in lines[1:]), lines
    needed = title_margin(lines[0], " ".join(re.sub("<[^>]+>", "", line) for line in lines[1:]))
    above = [a for a in layout.annotations if a.yanchor == "bottom" and a.y >= 1 and "domain" in str(a.yref)]
    subplot_titles = [a for a in layout.annotations if a.yref == "paper" and a.yanchor == "bottom"]
    assert layout.margin.t >= needed + (BAND_LABEL_PX if above else 0) + (SUBPLOT_TITLE_PX if subplot_titles else 0)
    shown = layout.showlegend is not False and sum(t.showlegend is not False for t in fig.data) > 1
    if shown:
        legend = layout.legend
        assert legend.orientation == "h" and legend.yanchor == "top" and legend.yref in (None, "paper")
        assert legend.y < 0 and -legend.y * plot_h >= 50  # under the plot, below the x axis's ticks and title
        assert layout.margin.b >= -legend.y * plot_h + 20  # its first row inside the figure
    else:
        assert layout.showlegend is False, "a chart without a legend says so (no stray legend box)"


def test_block_bands_have_short_labels_above_the_plot_and_the_long_name_in_hover() -> None:
    plan = plan_of("densenet264")
    fig = channel_growth_figure(plan)
    bands = [a for a in fig.layout.annotations if a.text.startswith("B")]
    assert [a.text for a in bands] == ["B1", "B2", "B3", "B4"]
    assert all(a.y == 1 and a.yanchor == "bottom" and a.xanchor == "center" for a in bands)  # over the plot
    assert bands[2].hovertext == "dense block 3: 64 layers, 2304 channels out"
    assert list(fig.layout.xaxis.ticktext) == ["T1", "T2", "T3"]  # the bands name the blocks
    for kind in ChartKind:
        if kind is ChartKind.CONNECTIVITY:
            continue  # its ticks are module names
        axes = make_chart(plan, kind).layout.to_plotly_json()
        for axis in ("xaxis", "xaxis2", "xaxis3"):
            ticks = axes.get(axis, {}).get("ticktext")
            assert not ticks or max(len(t) for t in ticks) <= 3, (kind, ticks)  # B1, T3: never run together


# --- the Feature reuse view's training chart ---------------------------------------------------------


def test_training_chart_shows_accuracy_up_to_100_percent_with_the_legend_below() -> None:
    fig = training_figure(_LOSSES, _EPOCHS, "Training (live)")
    loss, accuracy = fig.data
    assert list(loss.y) == [v for _, _, v in _LOSSES] and list(loss.x) == [s for _, s, _ in _LOSSES]
    assert list(accuracy.y) == [e.test_accuracy for e in _EPOCHS] and accuracy.yaxis == "y2"
    right = fig.layout.yaxis2
    assert right.range[0] == 0 and right.range[1] >= 1.0  # 97.8% stays inside the plot
    assert right.tickformat == ".0%" and 1.0 in right.tickvals  # and "100%" is written on the axis
    assert fig.layout.legend.y < 0 and fig.layout.legend.yanchor == "top"
    assert fig.layout.title.text.startswith("Training (live)<br><sup>held-out accuracy 97.8% after epoch 10")
    empty = training_figure([], [])
    assert [list(t.x) for t in empty.data] == [[], []]
