"""Feature reuse, what is trained: the user's network changed only as the digits and the time budget require."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from densviz.core.config import PRESETS, ConfigError, DenseNetConfig, Stem
from densviz.core.plan import make_plan
from densviz.reuse.data import digits
from densviz.reuse.variant import TRAIN_MACS_BUDGET, training_variant
from tests.conftest import small_configs

TINY = PRESETS["tiny"].config


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


def test_more_blocks_than_the_digits_can_feed_are_refused_with_a_sentence() -> None:
    seven = training_variant(DenseNetConfig(growth_rate=4, block_config=(1,) * 7, stem=Stem.CIFAR))
    assert seven.size == 64  # six transitions halve 64 to 1
    with pytest.raises(
        ConfigError, match=r"at most 7 dense blocks: these 8 would need the digits upsampled to 128×128"
    ):
        training_variant(DenseNetConfig(growth_rate=4, block_config=(1,) * 8, stem=Stem.CIFAR))
