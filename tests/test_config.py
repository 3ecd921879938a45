import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from densviz.core.config import (
    PRESETS,
    ConfigError,
    DenseNetConfig,
    InputSpec,
    Stem,
    check_input,
    load_json,
    min_input_size,
    parse_state,
    state_from_json,
    state_to_json,
    to_query,
    transition_channels,
)
from tests.conftest import configs_and_inputs


def test_defaults_are_densenet121() -> None:
    cfg = DenseNetConfig()
    assert (cfg.growth_rate, cfg.block_config, cfg.init_features) == (32, (6, 12, 24, 16), 64)
    assert cfg.bn_size == 4 and cfg.compression == 0.5 and cfg.stem is Stem.IMAGENET
    assert cfg == PRESETS["densenet121"].config


def test_num_init_features_defaults_to_2k() -> None:
    assert DenseNetConfig(growth_rate=12).init_features == 24
    assert DenseNetConfig(growth_rate=12, num_init_features=16).init_features == 16


def test_depth_is_the_papers_depth() -> None:
    # DenseNet-121: conv0 + 2·58 layer convs + 3 transitions + classifier
    assert PRESETS["densenet121"].config.depth == 1 + 2 * (6 + 12 + 24 + 16) + 3 + 1 == 121
    # CIFAR: L = 3N + 4 (plain) and 6N + 4 (BC)
    assert PRESETS["densenet40_k12"].config.depth == 3 * 12 + 4
    assert PRESETS["densenet_bc190_k40"].config.depth == 6 * 31 + 4


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"growth_rate": 0}, "growth_rate", "from 1 to 128"),
        ({"growth_rate": -3}, "growth_rate", "got -3"),
        ({"growth_rate": 10**9}, "growth_rate", "got 1000000000"),
        ({"growth_rate": True}, "growth_rate", "integer"),
        ({"growth_rate": 12.0}, "growth_rate", "integer"),
        ({"block_config": ()}, "block_config", "1 to 16 layer counts"),
        ({"block_config": (6, 0, 12)}, "block_config", "got 6,0,12"),
        ({"block_config": tuple([1] * 17)}, "block_config", "1 to 16"),
        ({"block_config": "6,12"}, "block_config", "such as 6,12,24,16"),
        ({"compression": 0}, "compression", "0 < θ ≤ 1"),
        ({"compression": 1.5}, "compression", "got 1.5"),
        ({"compression": math.nan}, "compression", "0 < θ ≤ 1"),
        ({"drop_rate": 1.0}, "drop_rate", "0 ≤ p < 1"),
        ({"drop_rate": -0.1}, "drop_rate", "probability"),
        ({"bn_size": -1}, "bn_size", "from 0 to 16"),
        ({"num_classes": 0}, "num_classes", "from 1"),
        ({"in_channels": 2}, "in_channels", "3 (RGB) or 1 (grey)"),
        ({"stem": "resnet"}, "stem", "imagenet, cifar"),
        ({"memory_efficient": "yes"}, "memory_efficient", "true or false"),
        ({"num_init_features": 0}, "num_init_features", "from 1"),
    ],
)
def test_invalid_fields_name_field_value_and_allowed(changes: dict[str, object], field: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        DenseNetConfig(**changes)  # type: ignore[arg-type]
    assert info.value.field == field
    assert field in str(info.value)
    assert fragment in str(info.value)


def test_transition_that_would_keep_no_channel_is_refused() -> None:
    # 1 + 1·1 = 2 channels into transition1; floor(0.3·2) = 0
    with pytest.raises(ConfigError, match="transition1 keeps at least one of its 2 channels"):
        DenseNetConfig(growth_rate=1, block_config=(1, 1), num_init_features=1, compression=0.3)


def test_transition_channels_reads_theta_as_typed() -> None:
    assert transition_channels(256, 0.5) == 128
    assert transition_channels(257, 0.5) == 128  # torchvision's num_features // 2
    assert transition_channels(100, 0.29) == 29  # binary floating point would give 28
    assert transition_channels(10, 1.0) == 10


def test_min_input_size_hand_worked() -> None:
    # ImageNet stem: ⌈⌈H/2⌉/2⌉ must be ≥ 2³ for three 2×2 pools: H ≥ 4·7 + 1 = 29
    cfg = PRESETS["densenet121"].config
    assert min_input_size(cfg) == 29
    # CIFAR stem keeps the size; two transitions need 4
    assert min_input_size(PRESETS["densenet_bc100_k12"].config) == 4
    assert min_input_size(DenseNetConfig(block_config=(3,), stem=Stem.CIFAR)) == 1


def test_check_input_says_the_smallest_size() -> None:
    cfg = PRESETS["densenet121"].config
    check_input(cfg, InputSpec.square(29))
    with pytest.raises(ConfigError) as info:
        check_input(cfg, InputSpec(height=224, width=28))
    assert info.value.field == "width"
    assert "at least 29" in str(info.value)


@given(configs_and_inputs())
def test_dict_json_and_query_round_trips(pair: tuple[DenseNetConfig, InputSpec]) -> None:
    cfg, spec = pair
    assert DenseNetConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert state_from_json(state_to_json(cfg, spec)) == (cfg, spec)
    state = parse_state(to_query(cfg, spec))
    assert (state.config, state.input, state.warnings) == (cfg, spec, ())


def test_query_keeps_every_field_and_float_exactly() -> None:
    cfg = DenseNetConfig(compression=0.1 + 0.2)  # 0.30000000000000004
    query = to_query(cfg, InputSpec())
    assert set(query) >= {"growth_rate", "block_config", "compression", "stem", "batch", "height", "width"}
    assert parse_state(query).config.compression == 0.1 + 0.2


def test_json_file_round_trip(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "net.json"
    cfg, spec = PRESETS["densenet_bc100_k12"].config, PRESETS["densenet_bc100_k12"].input
    path.write_text(state_to_json(cfg, spec))
    assert load_json(path) == (cfg, spec)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"growth_rate": 12, "colour": "red"}', "unknown setting 'colour'"),
        ('{"config": {"growth_rate": "12"}}', "growth_rate must be an integer"),
        ('{"config": {}, "input": {"height": 8}}', "at least 29"),
        ('{"config": {}, "input": {"depth": 8}}', "unknown input setting 'depth'"),
    ],
)
def test_bad_json_gives_a_sentence(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        state_from_json(text)


def test_missing_json_file(tmp_path: object) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_json(f"{tmp_path}/absent.json")


def test_parse_state_preset_and_overrides() -> None:
    state = parse_state({"preset": "densenet_bc100_k12", "growth_rate": "24", "input_size": "64x48"})
    assert state.preset == "densenet_bc100_k12"
    assert state.config.growth_rate == 24
    assert state.config.block_config == (16, 16, 16)  # from the preset
    assert (state.input.height, state.input.width) == (64, 48)


def test_parse_state_growth_rate_without_preset_keeps_2k_default() -> None:
    assert parse_state({"growth_rate": "12"}).config.init_features == 24


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"growth_rate": "abc"}, "growth_rate"),
        ({"growth_rate": "12.5"}, "growth_rate"),
        ({"block_config": ""}, "block_config"),
        ({"block_config": "6,,12"}, "block_config"),
        ({"compression": "1e309"}, "compression"),
        ({"compression": "inf"}, "compression"),
        ({"memory_efficient": "maybe"}, "memory_efficient"),
        ({"input_size": "big"}, "input_size"),
        ({"preset": "resnet50"}, "preset"),
        ({"height": "12"}, "height"),
        ({"batch": "0"}, "batch"),
        ({"colour": "red"}, "colour"),
        ({"growth_rate": ["12", "24"]}, "growth_rate"),
    ],
)
def test_parse_state_strict_refuses(params: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_state(params)
    assert info.value.field == field


def test_parse_state_lenient_falls_back_per_field() -> None:
    state = parse_state({"growth_rate": "abc", "block_config": "3,3", "compression": "7", "height": "2"}, lenient=True)
    assert state.config.growth_rate == 32  # default kept
    assert state.config.block_config == (3, 3)  # the good field is used
    assert state.config.compression == 0.5
    assert state.input.height == min_input_size(state.config)  # raised to the smallest allowed
    assert len(state.warnings) == 3
    assert any("growth_rate" in w for w in state.warnings)


@given(
    st.dictionaries(st.text(max_size=20), st.text(max_size=30) | st.lists(st.text(max_size=5), max_size=3), max_size=6)
)
def test_parse_state_never_raises_anything_but_config_error(params: dict[str, object]) -> None:
    try:
        parse_state(params)
    except ConfigError as err:
        assert str(err).endswith(".")
    lenient = parse_state(params, lenient=True)  # never raises
    assert isinstance(lenient.config, DenseNetConfig)


@given(
    st.dictionaries(
        st.sampled_from(
            ["growth_rate", "block_config", "compression", "drop_rate", "input_size", "batch", "bn_size", "stem"]
        ),
        st.text(max_size=12),
    )
)
def test_parse_state_known_keys_with_hostile_values(params: dict[str, str]) -> None:
    try:
        state = parse_state(params)
    except ConfigError:
        return
    check_input(state.config, state.input)  # whatever was accepted is consistent


def test_presets_are_valid_and_cover_the_paper() -> None:
    expected = {
        "densenet121", "densenet161", "densenet169", "densenet201", "densenet264",
        "densenet40_k12", "densenet100_k12", "densenet100_k24",
        "densenet_bc100_k12", "densenet_bc250_k24", "densenet_bc190_k40", "tiny",
    }  # fmt: skip
    assert set(PRESETS) == expected
    for preset in PRESETS.values():
        check_input(preset.config, preset.input)


def test_unicode_whitespace_around_numbers() -> None:
    # Found by hypothesis: str.strip() drops "\x1f" but int() refused it, raising a bare ValueError.
    assert parse_state(
        {"growth_rate": "12\x1f", "compression": " 0.5\x1c", "block_config": "3,\x1f3"}
    ).config.block_config == (3, 3)
    with pytest.raises(ConfigError, match="got 0"):
        parse_state({"growth_rate": "0\x1f"})


def test_lenient_links_never_raise_on_input_size() -> None:
    # Found by benchmarks/fuzz_report.py: an out-of-range input_size escaped lenient parsing.
    state = parse_state({"input_size": "19889"}, lenient=True)
    assert state.input.height == 224 and any("height must be an integer from 1 to 4,096" in w for w in state.warnings)
