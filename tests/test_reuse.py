"""Feature reuse: the Figure 5 construction on hand-made weights, the trained variant, training on the digits."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings

from densviz.cli import main
from densviz.core.config import PRESETS, ConfigError, DenseNetConfig, Stem
from densviz.core.plan import make_plan
from densviz.nn.model import DenseNet
from densviz.reuse import (
    TRAIN_MACS_BUDGET,
    WEIGHTS_FILE,
    ReuseMap,
    TrainOptions,
    digit_batch,
    digits,
    mean_abs_by_source,
    readings,
    reuse_figure,
    reuse_maps,
    source_slices,
    train,
    training_variant,
)
from densviz.run import load_weights
from tests.conftest import small_configs

TINY = PRESETS["tiny"].config


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


def test_variant_of_a_small_cifar_network_changes_only_the_input_channels() -> None:
    v = training_variant(TINY)
    assert v.config == TINY.replace(in_channels=1) and v.size == 8
    assert v.changes == ("one grey input channel instead of 3",)


def test_variant_of_densenet121_keeps_its_blocks_and_lowers_k_to_fit_the_budget() -> None:
    v = training_variant(PRESETS["densenet121"].config)
    cfg = v.config
    assert cfg.block_config == (6, 12, 24, 16) and cfg.compression == 0.5 and cfg.bn_size == 4
    assert (cfg.stem, cfg.num_classes, cfg.in_channels) == (Stem.CIFAR, 10, 1)
    assert cfg.growth_rate < 32 and cfg.init_features == 2 * cfg.growth_rate
    assert make_plan(cfg, v.input).totals.macs <= TRAIN_MACS_BUDGET
    # the largest k of the steps that fits: one step up would not
    bigger = {16: 24, 12: 16, 8: 12}[cfg.growth_rate]
    assert (
        make_plan(cfg.replace(growth_rate=bigger, num_init_features=2 * bigger), v.input).totals.macs
        > TRAIN_MACS_BUDGET
    )
    assert any(c.startswith(f"growth rate k = {cfg.growth_rate} instead of 32") for c in v.changes)
    assert any("CIFAR stem" in c for c in v.changes) and any("10 classes" in c for c in v.changes)


def test_variant_upsamples_when_the_transitions_need_pixels() -> None:
    v = training_variant(DenseNetConfig(growth_rate=4, block_config=(1, 1, 1, 1, 1), stem=Stem.CIFAR))
    assert v.size == 16  # four transitions halve 16 to 1
    assert any("upsampled to 16×16" in c for c in v.changes)
    assert digits(16).x_train.shape[1:] == (1, 16, 16)


@settings(max_examples=25, deadline=None)
@given(small_configs())
def test_every_variant_fits_the_budget_or_is_as_small_as_it_gets(cfg: DenseNetConfig) -> None:
    v = training_variant(cfg, max_macs=2_000_000)
    macs = make_plan(v.config, v.input).totals.macs
    if macs > 2_000_000:  # then nothing more could be taken away
        assert v.config.growth_rate == min(cfg.growth_rate, 8)
        halved = tuple((n + 1) // 2 for n in v.config.block_config)
        if max(v.config.block_config) > 1:
            with pytest.raises(ConfigError):
                v.config.replace(block_config=halved)
    assert len(v.config.block_config) == len(cfg.block_config) and v.config.compression == cfg.compression
    assert v.config.bottleneck == cfg.bottleneck


def test_digits_are_split_the_same_way_every_time_and_normalised() -> None:
    d = digits(8)
    assert d.x_train.shape == (1437, 1, 8, 8) and d.x_test.shape == (360, 1, 8, 8)
    per_class = torch.bincount(torch.cat([d.y_train, d.y_test]))
    assert (torch.bincount(d.y_test) - 0.2 * per_class).abs().max() <= 1  # stratified: 20% of every digit
    assert abs(float(d.x_train.mean())) < 1e-4 and float(d.x_train.std()) == pytest.approx(1.0, abs=1e-3)
    x, labels = digit_batch(3, 8, 8)
    assert torch.equal(x, d.x_test[:3]) and labels == d.y_test[:3].tolist()
    x, _ = digit_batch(2, 32, 24, in_channels=3)
    assert x.shape == (2, 3, 32, 24)


@pytest.mark.parametrize(
    ("field", "value"),
    [("epochs", 0), ("epochs", True), ("max_seconds", -1), ("seed", -1), ("batch_size", 5000), ("lr", float("nan"))],
)
def test_bad_training_options_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError) as err:
        TrainOptions(**{field: value})  # type: ignore[arg-type]
    assert err.value.field == field


def test_seeded_training_of_tiny_is_accurate_and_deterministic() -> None:
    torch.set_num_threads(1)
    variant = training_variant(TINY)
    first = train(variant, TrainOptions(epochs=3, seed=0, device="cpu"))
    again = train(variant, TrainOptions(epochs=3, seed=0, device="cpu"))
    other = train(variant, TrainOptions(epochs=1, seed=1, device="cpu"))
    assert first.test_accuracy >= 0.9, first.log.epochs  # chance is 10%
    assert first.test_accuracy == again.test_accuracy
    for (name, a), b in zip(first.model.state_dict().items(), again.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert not torch.equal(first.model.classifier.weight, other.model.classifier.weight)
    log = first.log
    assert [e.epoch for e in log.epochs] == [1, 2, 3] and log.epochs[-1].step == 3 * math.ceil(1437 / 64)
    assert len(log.losses) == log.total_steps and log.fraction == 1.0
    assert log.losses[-1][2] < log.losses[0][2]  # the loss went down
    assert first.stopped_by == "epochs" and first.time_to(0.9) is not None
    # the trained network classifies held-out digits it never saw, through the forward-pass path too
    x, labels = digit_batch(64, 8, 8)
    with torch.no_grad():
        correct = (first.model(x).argmax(1) == torch.tensor(labels)).float().mean()
    assert float(correct) >= 0.85


def test_stop_keeps_the_network_trained_so_far() -> None:
    stop = threading.Event()
    stop.set()
    result = train(training_variant(TINY), TrainOptions(epochs=5, device="cpu"), stop=stop)
    assert result.stopped_by == "user" and len(result.log.losses) == 1
    assert len(result.log.epochs) == 1 and 0.0 <= result.test_accuracy <= 1.0  # evaluated after its one step
    timed = train(training_variant(TINY), TrainOptions(epochs=200, max_seconds=0.5, device="cpu"))
    assert timed.stopped_by == "time" and timed.log.epochs[-1].epoch < 200


def test_cli_reuse_writes_heat_maps_accuracy_and_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["reuse", "--preset", "tiny", "--epochs", "2", "--threads", "1", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    names = {p.name for p in tmp_path.iterdir()}
    assert {"reuse.html", "training.json", WEIGHTS_FILE} <= names
    assert {"reuse.png", "reuse.svg"} <= names or "Chromium" in err
    data = json.loads((tmp_path / "training.json").read_text())
    assert f"held-out accuracy {data['test_accuracy']:.1%}" in out
    assert len(data["epochs"]) == 2 and len(data["heat_maps"]) == 3 and len(data["readings"]) == 4
    assert data["changes"] == ["one grey input channel instead of 3"]
    assert "one grey input channel" in err and "densviz run" in err and "--image digits" in err
    # the weights load into the trained architecture without a missing or unexpected key
    model = DenseNet(DenseNetConfig.from_dict(data["config"]))
    report = load_weights(model, (tmp_path / WEIGHTS_FILE).read_bytes(), WEIGHTS_FILE)
    assert report.ok


def test_cli_reuse_refuses_bad_flags_with_a_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reuse", "--preset", "tiny", "--epochs", "0", "--out", str(tmp_path)]) == 2
    assert "epochs must be an integer from 1 to 200; got 0." in capsys.readouterr().err
    assert main(["reuse", "--preset", "tiny", "--max-seconds", "soon", "--out", str(tmp_path)]) == 2
    assert "max_seconds" in capsys.readouterr().err


def test_more_blocks_than_the_digits_can_feed_are_refused_with_a_sentence() -> None:
    seven = training_variant(DenseNetConfig(growth_rate=4, block_config=(1,) * 7, stem=Stem.CIFAR))
    assert seven.size == 64  # six transitions halve 64 to 1
    with pytest.raises(
        ConfigError, match=r"at most 7 dense blocks: these 8 would need the digits upsampled to 128×128"
    ):
        training_variant(DenseNetConfig(growth_rate=4, block_config=(1,) * 8, stem=Stem.CIFAR))
