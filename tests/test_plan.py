"""The plan against numbers worked out independently: the published references,
the paper's formulas, and a small network counted by hand."""

import pytest
from hypothesis import given

from densviz.core.config import PRESETS, DenseNetConfig, InputSpec, Stem
from densviz.core.plan import LayerKind, make_plan
from tests.conftest import configs_and_inputs

# Issue #2's references at 1×3×224×224: torchvision's published parameters and
# GMACs (7.978856 M / 2.834 G for DenseNet-121, …), and the paper's DenseNet-264.
REFERENCE = {
    "densenet121": (7_978_856, 2_834_161_664),
    "densenet161": (28_681_000, 7_727_907_072),
    "densenet169": (14_149_480, 3_359_843_328),
    "densenet201": (20_013_928, 4_291_365_888),
    "densenet264": (33_337_704, 5_751_653_376),
}
# The paper's Table 2, parameters in millions rounded to 0.1.
TABLE2 = {
    "densenet40_k12": 1.0,
    "densenet100_k12": 7.0,
    "densenet100_k24": 27.2,
    "densenet_bc100_k12": 0.8,
    "densenet_bc250_k24": 15.3,
    "densenet_bc190_k40": 25.6,
}


@pytest.mark.parametrize("name", REFERENCE)
def test_imagenet_presets_match_references(name: str) -> None:
    plan = make_plan(PRESETS[name].config, InputSpec())
    assert (plan.totals.params, plan.totals.macs) == REFERENCE[name]
    assert plan.totals.flops == 2 * REFERENCE[name][1]
    assert plan.totals.param_bytes == 4 * REFERENCE[name][0]


@pytest.mark.parametrize("name", TABLE2)
def test_cifar_presets_match_table2(name: str) -> None:
    preset = PRESETS[name]
    assert preset.input.hw == (32, 32) and preset.config.num_classes == 10
    plan = make_plan(preset.config, preset.input)
    assert round(plan.totals.params / 1e6, 1) == TABLE2[name]


def test_densenet121_stages() -> None:
    plan = make_plan(PRESETS["densenet121"].config, InputSpec())
    shape = {r.name: (r.out_channels, r.out_hw) for r in plan.layers}
    assert shape["features.conv0"] == (64, (112, 112))
    assert shape["features.pool0"] == (64, (56, 56))
    assert shape["features.transition1"] == (128, (28, 28))
    assert shape["features.transition2"] == (256, (14, 14))
    assert shape["features.transition3"] == (512, (7, 7))
    assert shape["classifier"][0] == 1000
    blocks = [(b.out_channels, b.hw) for b in plan.blocks]
    assert blocks == [(256, (56, 56)), (512, (28, 28)), (1024, (14, 14)), (1024, (7, 7))]


def test_channels_grow_by_k_inside_a_block() -> None:
    cfg = PRESETS["densenet121"].config
    plan = make_plan(cfg)
    for block in plan.blocks:
        rows = [r for r in plan.layers if r.kind is LayerKind.DENSE_LAYER and r.block == block.index]
        assert len(rows) == cfg.block_config[block.index - 1]
        for row in rows:
            # k_ℓ = k₀ + k·(ℓ−1), each layer adds k
            assert row.in_channels == block.in_channels + 32 * (row.index - 1)
            assert row.out_channels == 32


def test_tiny_counted_by_hand() -> None:
    # k=8, blocks 2,2,2, k0=16, bottleneck 4k=32, θ=0.5, CIFAR stem, 32×32, 10 classes
    plan = make_plan(PRESETS["tiny"].config, PRESETS["tiny"].input)
    conv0 = 16 * 3 * 3 * 3
    layer1 = 2 * 16 + 16 * 32 + 2 * 32 + 32 * 8 * 9  # BN(16), 1×1 16→32, BN(32), 3×3 32→8
    layer2 = 2 * 24 + 24 * 32 + 2 * 32 + 32 * 8 * 9  # input 16 + 8 = 24
    transition = 2 * 32 + 32 * 16  # BN(32), 1×1 32→16
    norm5 = 2 * 32
    classifier = 32 * 10 + 10
    assert plan.totals.params == conv0 + 3 * (layer1 + layer2) + 2 * transition + norm5 + classifier
    pixels = [32 * 32, 16 * 16, 8 * 8]
    layer_macs = (16 * 32 + 32 * 8 * 9) + (24 * 32 + 32 * 8 * 9)
    macs = 32 * 32 * 16 * 3 * 9 + sum(p * layer_macs for p in pixels)
    macs += pixels[0] * 32 * 16 + pixels[1] * 32 * 16  # transitions' 1×1 convs before pooling
    macs += 32 * 10
    assert plan.totals.macs == macs
    assert plan["features.denseblock2.denselayer2"].inputs == (
        "features.transition1",
        "features.denseblock2.denselayer1",
    )
    assert plan["features.transition2"].inputs == (
        "features.transition1",
        "features.denseblock2.denselayer1",
        "features.denseblock2.denselayer2",
    )
    assert plan["features.norm5"].in_channels == 32


def test_plain_dense_layer_has_one_conv() -> None:
    cfg = DenseNetConfig(growth_rate=12, block_config=(3,), num_init_features=16, bn_size=0, stem=Stem.CIFAR)
    plan = make_plan(cfg, InputSpec.square(8))
    row = plan["features.denseblock1.denselayer2"]
    assert row.in_channels == 28
    assert row.params == 2 * 28 + 28 * 12 * 9  # BN + 3×3 conv
    assert row.macs == 64 * 28 * 12 * 9


def test_output_bytes_scale_with_batch() -> None:
    one = make_plan(PRESETS["tiny"].config, InputSpec.square(32, batch=1))
    eight = make_plan(PRESETS["tiny"].config, InputSpec.square(32, batch=8))
    assert eight.totals.activation_bytes == 8 * one.totals.activation_bytes
    assert eight.totals.macs == one.totals.macs  # MACs are per image
    conv0 = one["features.conv0"]
    assert conv0.output_bytes == 4 * 16 * 32 * 32


def test_imagenet_stem_rows_and_odd_sizes() -> None:
    plan = make_plan(PRESETS["densenet121"].config, InputSpec(height=225, width=161))
    # conv 7×7/2 p3: ⌊(225 + 6 − 7)/2⌋ + 1 = 113; ⌊(161 − 1)/2⌋ + 1 = 81
    assert plan["features.conv0"].out_hw == (113, 81)
    # max pool 3×3/2 p1: ⌊(113 − 1)/2⌋ + 1 = 57; 41
    assert plan["features.pool0"].out_hw == (57, 41)
    assert plan["features.transition1"].out_hw == (28, 20)  # floor halving


@given(configs_and_inputs())
def test_plan_invariants(pair: tuple[DenseNetConfig, InputSpec]) -> None:
    cfg, spec = pair
    plan = make_plan(cfg, spec)
    assert plan.totals.params == sum(r.params for r in plan.layers)
    assert plan.totals.depth == cfg.depth
    assert plan.blocks[-1].transition_channels is None
    for block, nxt in zip(plan.blocks, plan.blocks[1:], strict=False):
        assert block.out_channels == block.in_channels + cfg.growth_rate * block.layers
        assert nxt.in_channels == block.transition_channels
        assert nxt.hw == (block.hw[0] // 2, block.hw[1] // 2)
    names = [r.name for r in plan.layers]
    assert len(names) == len(set(names))
    for row in plan.layers:
        assert all(names.index(src) < names.index(row.name) for src in row.inputs)
        if row.kind is LayerKind.DENSE_LAYER:
            assert len(row.inputs) == row.index  # block input + ℓ−1 earlier layers


def test_plan_to_dict_has_the_documented_keys() -> None:
    data = make_plan(PRESETS["tiny"].config, PRESETS["tiny"].input).to_dict()
    assert {"config", "input", "totals", "blocks", "layers"} <= set(data)
    assert {"params", "macs", "flops", "param_bytes", "activation_bytes"} <= set(data["totals"])
    layer_keys = {
        "name",
        "kind",
        "block",
        "in_channels",
        "out_channels",
        "in_hw",
        "out_hw",
        "params",
        "macs",
        "output_bytes",
        "inputs",
    }
    assert all(layer_keys <= set(row) for row in data["layers"])


def test_every_row_says_its_role() -> None:
    from collections import Counter

    from densviz.core.plan import Role

    plan = make_plan(PRESETS["densenet121"].config)
    roles = Counter(r.role for r in plan.layers)
    # ImageNet stem: conv0, norm0, relu0, pool0; 6+12+24+16 dense layers; 3 transitions
    assert roles == {Role.STEM: 4, Role.DENSE_LAYER: 58, Role.TRANSITION: 3, Role.FINAL_NORM: 1, Role.CLASSIFIER: 1}
    assert [r.name for r in plan.stem] == ["features.conv0", "features.norm0", "features.relu0", "features.pool0"]
    assert plan.final_norm.name == "features.norm5" and plan.classifier.name == "classifier"
    cifar = make_plan(PRESETS["tiny"].config, PRESETS["tiny"].input)
    assert [r.name for r in cifar.stem] == ["features.conv0"]
