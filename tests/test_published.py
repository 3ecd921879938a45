"""The published results: the numbers as the paper and torchvision print them, and the charts drawn from them.

The expected values below are typed by hand from Huang et al. 2017 (CVPR,
arXiv:1608.06993), Table 2, and from torchvision's model docs (IMAGENET1K_V1),
not read from ``published.json``: a typo in either place fails here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from importlib import resources

import plotly.graph_objects as go
import pytest

from densviz.core.config import PRESETS, ConfigError
from densviz.core.published import (
    ACCURACY_COLUMNS,
    COLUMNS,
    ERROR_COLUMNS,
    Benchmark,
    Family,
    PublishedRow,
    _row,
    load_published,
    parse_count,
    rows_with,
)
from densviz.draw.charts.paper import imagenet_params_figure, paper_macs_figure, paper_params_figure
from densviz.draw.charts.style import SUBTITLE_CHARS, TITLE_CHARS
from tests.helpers import plan_of

CIFAR_PRESETS = (
    "densenet40_k12",
    "densenet100_k12",
    "densenet100_k24",
    "densenet_bc100_k12",
    "densenet_bc250_k24",
    "densenet_bc190_k40",
)
# Table 2, the DenseNet rows: params | C10 | C10+ | C100 | C100+ | SVHN ("-": not reported).
TABLE_2_DENSENETS = {
    "densenet40_k12": "1.0M | 7.00 | 5.24 | 27.55 | 24.42 | 1.79",
    "densenet100_k12": "7.0M | 5.77 | 4.10 | 23.79 | 20.20 | 1.67",
    "densenet100_k24": "27.2M | 5.83 | 3.74 | 23.42 | 19.25 | 1.59",
    "densenet_bc100_k12": "0.8M | 5.92 | 4.51 | 24.15 | 22.27 | 1.76",
    "densenet_bc250_k24": "15.3M | 5.19 | 3.62 | 19.64 | 17.60 | 1.74",
    "densenet_bc190_k40": "25.6M | - | 3.46 | - | 17.18 | -",
}
# torchvision's model docs: acc@1, acc@5, num_params, GFLOPS.
TORCHVISION_DENSENETS = {
    "densenet121": (74.434, 91.972, 7_978_856, 2.83),
    "densenet161": (77.138, 93.560, 28_681_000, 7.73),
    "densenet169": (75.600, 92.806, 14_149_480, 3.36),
    "densenet201": (76.896, 93.370, 20_013_928, 4.29),
}


def by_preset(name: str) -> PublishedRow:
    (row,) = [r for r in load_published() if r.preset == name]
    return row


def cifar_row(model: str, depth: int) -> PublishedRow:
    (row,) = [r for r in load_published() if r.model == model and r.depth == depth]
    return row


# --- the numbers -----------------------------------------------------------------


def test_values_as_the_paper_prints_them() -> None:
    bc = by_preset("densenet_bc100_k12")
    assert (bc.depth, bc.k, bc.family, bc.benchmark) == (100, 12, Family.DENSENET, Benchmark.CIFAR)
    assert bc.results["C10+"].value == 4.51 and bc.results["C100+"].value == 22.27
    assert bc.params.text == "0.8M"
    assert by_preset("densenet40_k12").results["SVHN"].text == "1.79"
    assert by_preset("densenet40_k12").results["C10"].text == "7.00"  # as printed, trailing zero kept
    assert by_preset("densenet121").results["acc@1"].value == 74.434
    assert by_preset("densenet121").error("acc@1") == 25.566  # 100 − acc@1, no float dust


@pytest.mark.parametrize("preset", CIFAR_PRESETS)
def test_every_densenet_row_of_table_2(preset: str) -> None:
    params, *values = (v.strip() for v in TABLE_2_DENSENETS[preset].split("|"))
    row = by_preset(preset)
    assert row.params.text == params
    assert {c: n.text for c, n in row.results.items()} == {
        c: v for c, v in zip(ERROR_COLUMNS, values, strict=True) if v != "-"
    }
    for column, value in zip(ERROR_COLUMNS, values, strict=True):
        assert row.error(column) == (None if value == "-" else float(value))


def test_the_resnet_rows_the_paper_compares_with() -> None:
    reported = cifar_row("ResNet (reported by [13])", 110)
    assert [reported.error(c) for c in ERROR_COLUMNS] == [13.63, 6.41, 44.74, 27.22, 2.01]
    assert cifar_row("ResNet [11]", 110).results.keys() == {"C10+"}
    assert cifar_row("ResNet with Stochastic Depth [13]", 1202).error("C10+") == 4.91
    assert cifar_row("Wide ResNet [41]", 28).params.text == "36.5M"
    assert cifar_row("Wide ResNet with Dropout [41]", 16).results.keys() == {"SVHN"}
    preact = cifar_row("ResNet (pre-activation) [12]", 1001)
    assert [preact.error(c) for c in ERROR_COLUMNS] == [10.56, 4.62, 33.47, 22.71, None]
    assert "*" in preact.results["C10"].source and "*" not in preact.results["C10+"].source
    resnets = [r for r in load_published() if r.benchmark is Benchmark.CIFAR and r.family is Family.RESNET]
    assert len(resnets) == 9 and all(r.preset is None and r.k is None and r.cites for r in resnets)


@pytest.mark.parametrize("preset", sorted(TORCHVISION_DENSENETS))
def test_torchvision_imagenet_numbers(preset: str) -> None:
    top1, top5, params, gflops = TORCHVISION_DENSENETS[preset]
    row = by_preset(preset)
    assert row.benchmark is Benchmark.IMAGENET
    assert (row.results["acc@1"].value, row.results["acc@5"].value, row.params.value) == (top1, top5, params)
    assert row.gflops is not None and row.gflops.value == gflops
    assert (
        row.results["acc@1"].source
        == f"torchvision model docs, {row.model.replace('-', '')}_Weights.IMAGENET1K_V1, acc@1"
    )


def test_every_preset_row_has_the_plans_parameters_within_the_printed_rounding() -> None:
    linked = [r for r in load_published() if r.preset]
    assert sorted(r.preset or "" for r in linked) == sorted([*CIFAR_PRESETS, *TORCHVISION_DENSENETS])
    for row in linked:
        planned = plan_of(row.preset or "").totals.params
        assert abs(planned - row.params.value) <= row.params.half_unit, (row.preset, planned, row.params.text)
        assert row.params.text == PRESETS[row.preset or ""].published_params


def test_torchvision_gflops_are_densviz_macs() -> None:
    """torchvision counts a multiply-add once: its GFLOPS are the plan's GMACs, to the printed digits."""
    for name in TORCHVISION_DENSENETS:
        row = by_preset(name)
        assert row.gflops is not None
        assert abs(plan_of(name).totals.macs - row.gflops.value * 1e9) <= row.gflops.half_unit * 1e9


def test_every_number_has_a_source() -> None:
    rows = load_published()
    assert len(rows) == 24
    for row in rows:
        for what, number in row.sources():
            assert number.source.strip(), (row.model, what)
            if row.benchmark is Benchmark.CIFAR:
                column = "Params" if what == "params" else what
                assert number.source.startswith(f"Huang et al. 2017, Table 2, column {column}"), number.source
            else:
                field = {"params": "num_params", "gflops": "GFLOPS"}.get(what, what)
                assert re.fullmatch(rf"torchvision model docs, \w+_Weights\.IMAGENET1K_V1, {field}", number.source)
        assert set(row.results) <= set(ERROR_COLUMNS if row.benchmark is Benchmark.CIFAR else ACCURACY_COLUMNS)


def test_the_data_file_ships_in_the_package() -> None:
    assert resources.files("densviz.core").joinpath("published.json").is_file()


def test_parse_count_and_rounding() -> None:
    assert parse_count("0.8M") == 800_000 and parse_count("7,978,856") == 7_978_856 and parse_count("2.83") == 2.83
    bc = by_preset("densenet_bc100_k12").params
    assert (bc.decimals, bc.half_unit) == (1, 50_000)
    assert by_preset("densenet121").params.half_unit == 0.5
    for bad in ("", "1.2Q", "M"):
        with pytest.raises(ValueError):
            parse_count(bad)


def test_lookups_refuse_unknown_columns() -> None:
    with pytest.raises(KeyError):
        rows_with("C1000")
    with pytest.raises(KeyError):
        by_preset("densenet121").error("top-1")
    assert by_preset("densenet121").error("C10+") is None
    assert set(COLUMNS) == {*ERROR_COLUMNS, *ACCURACY_COLUMNS}


def test_a_number_without_a_source_is_refused() -> None:
    raw = {
        "model": "X",
        "short": "X",
        "family": "DenseNet",
        "benchmark": "cifar",
        "depth": 10,
        "k": 12,
        "preset": None,
        "params": {"value": "1.0M", "source": "somewhere"},
        "results": {"C10+": {"value": "5.00", "source": " "}},
    }
    with pytest.raises(ValueError, match="no source"):
        _row(raw)
    with pytest.raises(ValueError, match="preset"):
        _row({**raw, "preset": "densenet999", "results": {}})
    with pytest.raises(ValueError, match="unknown columns"):
        _row({**raw, "results": {"ImageNet": {"value": "1", "source": "s"}}})


# --- the charts -------------------------------------------------------------------


def markers(fig: go.Figure) -> list[go.Scatter]:
    return [t for t in fig.data if "markers" in (t.mode or "")]


def points(fig: go.Figure) -> list[tuple[float, float, str]]:
    return sorted((x, y, s) for t in markers(fig) for x, y, s in zip(t.x, t.y, t.text, strict=True))


def design_lines(fig: go.Figure) -> list[go.layout.Shape]:
    return [s for s in fig.layout.shapes if s.type == "line"]


@pytest.mark.parametrize("column", ["C10+", "C100+", "SVHN"])
def test_params_chart_has_one_point_per_published_row(column: str) -> None:
    fig = paper_params_figure(column)
    expected = sorted((r.params.value, r.results[column].value, r.short) for r in rows_with(column))
    assert points(fig) == expected
    assert {t.name for t in markers(fig)} == {"DenseNets", "ResNets"}
    assert fig.layout.xaxis.type == "log" and column in fig.layout.yaxis.title.text
    assert design_lines(fig) == []


def test_the_default_column_is_c10_plus() -> None:
    assert points(paper_params_figure()) == points(paper_params_figure("C10+"))
    assert len(points(paper_params_figure())) == 14  # 6 DenseNets, 8 ResNet rows with a C10+ value


@pytest.mark.parametrize("column", ["C10+", "C100+", "SVHN"])
def test_macs_chart_has_the_densenet_presets_only(column: str) -> None:
    fig = paper_macs_figure(column)
    expected = sorted(
        (plan_of(r.preset).totals.macs, r.results[column].value, r.short) for r in rows_with(column) if r.preset
    )
    assert points(fig) == expected
    assert [t.name for t in markers(fig)] == ["DenseNets"]  # the ResNets' MACs are not published
    assert "FLOPs = 2·MACs" in fig.layout.xaxis.title.text.replace("\u00a0", " ")


def test_imagenet_chart_plots_top1_error() -> None:
    fig = imagenet_params_figure()
    dense = [(p, round(100 - a, 3)) for a, _, p, _ in TORCHVISION_DENSENETS.values()]
    assert {(x, y) for x, y, _ in points(fig)} >= set(dense)
    assert len(points(fig)) == len(rows_with("acc@1")) == 9
    assert all("lines" in t.mode for t in markers(fig))  # each family joined in order of size, as in Figure 3


@pytest.mark.parametrize(
    ("make", "x", "label"),
    [
        (lambda x: paper_params_figure("C10+", x), 769_162, "your design: 769 k"),
        (lambda x: paper_params_figure("SVHN", x), 1_200_000, "your design: 1.20 M"),
        (lambda x: paper_macs_figure("C100+", x), 301_234_567, "your design: 301 MMACs"),
        (imagenet_params_figure, 6_950_000, "your design: 6.95 M"),
    ],
)
def test_the_design_is_a_line_at_its_size_and_never_a_point(
    make: Callable[[float | None], go.Figure], x: float, label: str
) -> None:
    fig = make(x)
    (line,) = design_lines(fig)
    assert line.x0 == line.x1 == x and line.xref == "x"
    assert (line.y0, line.y1, line.yref) == (0, 1, "y domain")  # the plot's full height: no error is implied
    notes = [a for a in fig.layout.annotations if label in a.text]
    assert len(notes) == 1 and math.isclose(notes[0].x, math.log10(x))  # annotations on a log axis take log10
    before = points(make(None))
    assert points(fig) == before  # the design adds no point
    assert all(x not in t.x for t in fig.data)  # and no trace passes through its size


def test_a_column_outside_table_2_is_refused() -> None:
    with pytest.raises(ConfigError):
        paper_params_figure("acc@1")
    with pytest.raises(ConfigError):
        paper_macs_figure("CIFAR-10")


@pytest.mark.parametrize(
    "fig",
    [paper_params_figure("C100+", 1e6), paper_macs_figure("SVHN", 3e8), imagenet_params_figure(2e7)],
    ids=["params", "macs", "imagenet"],
)
def test_charts_share_the_style(fig: go.Figure) -> None:
    lines = fig.layout.title.text.split("<br>")
    assert len(lines[0]) <= TITLE_CHARS
    assert all(len(re.sub("<[^>]+>", "", line)) <= SUBTITLE_CHARS for line in lines[1:])
    assert fig.layout.legend.orientation == "h" and fig.layout.legend.y < 0  # under the plot
    labels = {pos for t in markers(fig) for pos in t.textposition}
    assert labels <= {"top center", "bottom center", "middle right", "middle left"}
    assert all(t.text and len(t.text) == len(t.x) for t in markers(fig))  # every point labelled
