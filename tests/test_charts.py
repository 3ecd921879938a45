"""Every chart draws the plan's numbers, point by point."""

import math

import pytest

from densviz.core.config import ConfigError
from densviz.core.plan import LayerKind
from densviz.draw.charts import (
    ChartKind,
    adjacency_figure,
    channel_growth_figure,
    cost_figure,
    growth_overlay_figure,
    make_chart,
    memory_figure,
    spatial_volume_figure,
    volume_3d_figure,
)
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
    assert labels[:3] == ["stem", "block 1", "transition 1"] and labels[-1] == "head"
    assert stage_params.y[labels.index("block 3")] == plan.blocks[2].params


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
