"""Feature reuse, Figure 5: the construction on hand-made weights, the paper's readings, the drawn figure."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

from densviz.core.config import DenseNetConfig, Stem
from densviz.draw.charts.figure5 import reuse_figure
from densviz.draw.charts.style import SUBPLOT_TITLE_PX, TITLE_CHARS, title_margin
from densviz.nn.model import DenseNet
from densviz.reuse.figure5 import ReuseMap, mean_abs_by_source, readings, reuse_maps, source_slices

ROOT = Path(__file__).resolve().parents[1]


def test_source_slices_follow_the_concatenation_order() -> None:
    # tiny's first block: 16 input maps, then layer 1's 8, then layer 2's 8
    assert source_slices(16, 8, 2) == [slice(0, 16), slice(16, 24), slice(24, 32)]


def test_mean_abs_is_taken_per_source_over_outputs_inputs_and_kernel() -> None:
    w = torch.zeros(4, 7, 3, 3)
    w[:, 0:3] = -3.0  # source 0: three channels of |3|
    w[:2, 3:5] = 1.0  # source 1: half its outputs 1, half 0 -> mean 0.5
    w[:, 5:7, 1, 1] = 9.0  # source 2: only the kernel centre, 1 of 9 taps -> mean 1
    assert mean_abs_by_source(w, source_slices(3, 2, 2)) == pytest.approx([3.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="7 input channels"):
        mean_abs_by_source(w, source_slices(3, 2, 3))


def _hand_made(cfg: DenseNetConfig) -> DenseNet:
    """A DenseNet whose weights say who reads what: target t gives source s the value ±(1 + s + t)."""
    model = DenseNet(cfg)
    k = cfg.growth_rate
    blocks = dict(model.features.named_children())
    with torch.no_grad():
        for b, layers in enumerate(cfg.block_config, start=1):
            block = blocks[f"denseblock{b}"]
            c0 = block["denselayer1"].conv1.weight.shape[1]
            edges = [0, c0, *(c0 + k * s for s in range(1, layers + 1))]
            for t in range(1, layers + 1):
                w = block[f"denselayer{t}"].conv1.weight
                for s in range(t):
                    w[:, edges[s] : edges[s + 1]] = (-1) ** s * (1 + s + t)
            last = blocks[f"transition{b}"].conv.weight if b < len(cfg.block_config) else model.classifier.weight
            for s in range(layers + 1):
                last[:, edges[s] : edges[s + 1]] = 10.0 - s
    return model


@pytest.mark.parametrize("bn_size", [4, 0], ids=["bottleneck", "plain"])
def test_reuse_maps_on_hand_made_weights_give_the_known_answer(bn_size: int) -> None:
    cfg = DenseNetConfig(
        growth_rate=4, block_config=(3, 2), num_init_features=6, bn_size=bn_size, num_classes=5, stem=Stem.CIFAR
    )
    maps = reuse_maps(_hand_made(cfg))
    assert [(m.block, m.last, m.layers) for m in maps] == [(1, "transition", 3), (2, "classifier", 2)]
    for m in maps:
        n = m.layers
        for t in range(1, n + 1):  # dense layer t reads sources 0..t-1; strongest is s = t-1 (1 + 2t - 1)
            expected = [(1 + s + t) / (2 * t) for s in range(t)]
            assert m.values[:t, t - 1] == pytest.approx(expected)
            assert m.raw[:t, t - 1] == pytest.approx([1 + s + t for s in range(t)])
            assert np.isnan(m.values[t:, t - 1]).all()  # a layer cannot see itself or later layers
        assert m.values[:, n] == pytest.approx([(10 - s) / 10 for s in range(n + 1)])  # transition / classifier


def test_readings_follow_the_pattern_of_the_maps() -> None:
    def panel(block: int, last: str, first_row: float, classifier_late: bool) -> ReuseMap:
        n = 4
        raw = np.full((n + 1, n + 1), np.nan)
        for t in range(1, n + 1):
            raw[:t, t - 1] = 1.0
            raw[0, t - 1] = first_row if t > 1 else 1.0
        raw[:, n] = np.linspace(0.2, 1.0, n + 1) if classifier_late else np.linspace(1.0, 0.2, n + 1)
        return ReuseMap(block, last, raw, raw / np.nanmax(raw, axis=0, keepdims=True))

    paper_like = [panel(1, "transition", 1.0, True), panel(2, "classifier", 0.3, True)]
    holds = {r.title: r.holds for r in readings(paper_like)}
    assert holds == {
        "Layers use many inputs": True,
        "Transitions draw on the whole block": False,  # its weakest source has 0.2 of the strongest
        "Transition outputs get the least weight": True,
        "The classifier favours the final maps": True,
    }
    opposite = [panel(1, "transition", 1.0, True), panel(2, "classifier", 1.0, False)]
    holds = {r.title: r.holds for r in readings(opposite)}
    assert holds["Transition outputs get the least weight"] is False
    assert holds["The classifier favours the final maps"] is False
    single = [panel(1, "classifier", 1.0, True)]  # one block: no transition, no later block
    holds = {r.title: r.holds for r in readings(single)}
    assert (
        holds["Transitions draw on the whole block"] is None
        and holds["Transition outputs get the least weight"] is None
    )


def test_figure_has_a_panel_per_block_with_the_last_column_outlined() -> None:
    maps = reuse_maps(_hand_made(DenseNetConfig(growth_rate=4, block_config=(3, 2, 2, 1, 2), stem=Stem.CIFAR)))
    fig = reuse_figure(maps, "subtitle")
    heat = [t for t in fig.data if t.type == "heatmap"]
    assert len(heat) == 5 and list(heat[0].x) == ["1", "2", "3", "T"] and list(heat[-1].x) == ["1", "2", "C"]
    assert list(heat[0].y) == ["in", "1", "2", "3"]
    assert heat[0].z[1][0] is None  # layer 1 cannot see layer 1: blank, not 0
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    assert [(r.x0, r.x1) for r in rects[:2]] == [(2.5, 3.5), (1.5, 2.5)]
    assert fig.layout.coloraxis.cmax == 1.0 and fig.layout.coloraxis.cmin < 1.0
    # the title fits a phone on one line, the wrapped subtitle and the panels' titles have room under it
    title, *subtitle = fig.layout.title.text.split("<br>")
    assert len(title) <= TITLE_CHARS and fig.layout.title.yref == "container"
    assert subtitle[-1].endswith(" · subtitle</sup>") and fig.layout.showlegend is False
    what = " ".join(line.removeprefix("<sup>").removesuffix("</sup>") for line in subtitle)
    assert fig.layout.margin.t >= title_margin(title, what) + SUBPLOT_TITLE_PX


def test_reuse_maps_hold_plain_numpy_arrays_for_the_figure() -> None:
    maps = reuse_maps(_hand_made(DenseNetConfig(growth_rate=4, block_config=(2, 1), stem=Stem.CIFAR)))
    assert all(type(m.raw) is np.ndarray and type(m.values) is np.ndarray for m in maps)


def _runtime_import_roots(path: Path) -> set[str]:
    """Top-level packages a module imports when it runs (imports under ``if TYPE_CHECKING:`` left out)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    typing_only = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        for n in ast.walk(node)
    }
    roots: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_reuse_package_draws_nothing_and_the_figure_needs_no_torch() -> None:
    package = ROOT / "densviz" / "reuse"
    assert {p.name for p in package.glob("*.py") if "plotly" in _runtime_import_roots(p)} == set()
    assert "torch" not in _runtime_import_roots(ROOT / "densviz" / "draw" / "charts" / "figure5.py")
    assert "torch" not in _runtime_import_roots(package / "variant.py")
