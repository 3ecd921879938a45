"""The design space: closed-form totals equal to the plan, the sweep, the Pareto front and ``densviz explore``."""

from __future__ import annotations

import csv
import gc
import io
import itertools
import json
import random

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from densviz.cli import main
from densviz.core.closed_form import closed_form_totals, compression_ratio, network_cost, stem_cost
from densviz.core.config import PRESETS, ConfigError, DenseNetConfig, InputSpec, Stem, check_input, min_input_size
from densviz.core.explore import (
    MAX_DESIGNS,
    METRICS,
    Design,
    Limits,
    Objective,
    Space,
    pareto_front,
    sweep,
)
from densviz.core.plan import make_plan
from densviz.core.settings import SETTINGS

# --- every configuration the settings allow -------------------------------------------

thetas = st.sampled_from([0.5, 0.29, 0.1, 0.75, 1.0, 0.001]) | st.floats(0.0, 1.0, exclude_min=True)


@st.composite
def any_configs(draw: st.DrawFn) -> DenseNetConfig:
    """Any valid config: k 1..128, 1..16 blocks of 1..256 layers, any θ, bn_size 0..16, both stems."""
    layers = st.integers(1, 256) | st.integers(1, 8)  # long and short blocks alike
    try:
        return DenseNetConfig(
            growth_rate=draw(st.integers(1, 128)),
            block_config=tuple(draw(st.lists(layers, min_size=1, max_size=16))),
            num_init_features=draw(st.none() | st.integers(1, 4096) | st.integers(1, 64)),
            bn_size=draw(st.integers(0, 16)),
            compression=draw(thetas),
            num_classes=draw(st.integers(1, 100_000) | st.integers(1, 20)),
            in_channels=draw(st.sampled_from([1, 3])),
            stem=draw(st.sampled_from(list(Stem))),
        )
    except ConfigError:  # too many blocks for any input, or a θ that leaves a transition no channel
        assume(False)
        raise


@st.composite
def any_configs_and_inputs(draw: st.DrawFn) -> tuple[DenseNetConfig, InputSpec]:
    """Any valid config and any input it accepts, from its smallest to 4096 pixels a side."""
    cfg = draw(any_configs())
    smallest = min_input_size(cfg)
    side = st.integers(smallest, min(4096, smallest + 40)) | st.integers(smallest, 4096)
    return cfg, InputSpec(batch=draw(st.integers(1, 4096)), height=draw(side), width=draw(side))


@settings(max_examples=400)
@given(any_configs_and_inputs())
def test_closed_form_equals_the_plan_everywhere(case: tuple[DenseNetConfig, InputSpec]) -> None:
    cfg, spec = case
    assert closed_form_totals(cfg, spec) == make_plan(cfg, spec).totals


@pytest.mark.slow
@settings(max_examples=4000)
@given(any_configs_and_inputs())
def test_closed_form_equals_the_plan_everywhere_long(case: tuple[DenseNetConfig, InputSpec]) -> None:
    cfg, spec = case
    assert closed_form_totals(cfg, spec) == make_plan(cfg, spec).totals


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_closed_form_equals_the_plan_for_every_preset(name: str) -> None:
    preset = PRESETS[name]
    for spec in (preset.input, InputSpec(batch=8, height=preset.input.height + 33, width=preset.input.width)):
        assert closed_form_totals(preset.config, spec) == make_plan(preset.config, spec).totals


def test_closed_form_refuses_an_input_too_small_as_the_plan_does() -> None:
    cfg = PRESETS["densenet121"].config
    with pytest.raises(ConfigError, match="too small"):
        closed_form_totals(cfg, InputSpec.square(16))


@settings(max_examples=300)
@given(
    k=st.integers(1, 128),
    blocks=st.lists(st.integers(1, 64), min_size=1, max_size=16),
    k0=st.integers(1, 64),
    bn_size=st.integers(0, 16),
    theta=thetas,
    stem=st.sampled_from(list(Stem)),
    side=st.integers(1, 300),
)
def test_the_sweep_skips_exactly_what_is_no_network(
    k: int, blocks: list[int], k0: int, bn_size: int, theta: float, stem: Stem, side: int
) -> None:
    """``network_cost`` is ``None`` exactly where the config or the input is refused."""
    cost = network_cost(k, tuple(blocks), k0, bn_size, compression_ratio(theta), 10, stem_cost(stem, 3, side, side))
    try:
        cfg = DenseNetConfig(growth_rate=k, block_config=tuple(blocks), num_init_features=k0, bn_size=bn_size,
                             compression=theta, num_classes=10, stem=stem)  # fmt: skip
        check_input(cfg, InputSpec.square(side))
    except ConfigError:
        assert cost is None
    else:
        assert cost is not None


# --- the Pareto front ---------------------------------------------------------------------


def brute_front(vectors: list[tuple[int, ...]]) -> list[bool]:
    def dominates(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
        return a != b and all(x <= y for x, y in zip(a, b, strict=True))

    return [not any(dominates(o, v) for o in vectors) for v in vectors]


@settings(max_examples=300)
@given(st.integers(1, 4).flatmap(lambda d: st.lists(st.tuples(*[st.integers(0, 6)] * d), max_size=60)))
def test_pareto_front_is_the_brute_force_one(vectors: list[tuple[int, ...]]) -> None:
    assert pareto_front(vectors) == brute_front(vectors)


def test_pareto_front_keeps_ties() -> None:
    assert pareto_front([(1, 2), (1, 2), (2, 1), (2, 2), (0, 5)]) == [True, True, True, False, True]
    assert pareto_front([]) == []


# --- the sweep ----------------------------------------------------------------------------

CIFAR_SPACE = Space(
    growth_rates=(8, 12, 16, 24),
    layers=((*range(4, 20, 3), 16),),
    blocks=(1, 3),
    compressions=(0.5, 1.0, 0.01),
    bn_sizes=(0, 4),
    stems=(Stem.CIFAR, Stem.IMAGENET),
    input_sizes=((32, 32), (8, 12)),
    num_classes=10,
    batch=2,
)


def test_the_sweep_keeps_what_meets_the_limits_with_the_plans_numbers() -> None:
    limits = Limits(max_params=400_000, max_macs=200_000_000, max_activation_bytes=4 << 20, min_depth=20)
    result = sweep(CIFAR_SPACE, limits)
    assert result.evaluated == CIFAR_SPACE.size == 4 * 7 * 2 * 3 * 2 * 2 * 2
    kept = {c.design: c for c in result.kept}
    invalid = 0
    for stem, size, bn, theta, blocks, k in itertools.product(
        CIFAR_SPACE.stems, CIFAR_SPACE.input_sizes, CIFAR_SPACE.bn_sizes, CIFAR_SPACE.compressions,
        CIFAR_SPACE.block_configs(), CIFAR_SPACE.growth_rates,
    ):  # fmt: skip
        design = Design(k, blocks, 2 * k, bn, theta, 10, 3, stem, *size)
        assert CIFAR_SPACE.contains(design)
        try:
            plan = make_plan(design.config(), design.input(batch=2))
        except ConfigError:
            invalid += 1
            continue
        t = plan.totals
        meets = t.params <= 400_000 and t.macs <= 200_000_000 and t.activation_bytes <= 4 << 20 and t.depth >= 20
        assert (design in kept) == meets
        if meets:
            assert kept[design].metrics.totals() == t
            assert kept[design].to_dict(2)["totals"] == t.to_dict()
            assert kept[design].design.config_dict() == design.config().to_dict()
    assert invalid == result.invalid > 0
    assert 0 < len(kept) < result.evaluated - invalid
    assert gc.isenabled()  # the sweep pauses the collector, and only while it runs


def test_the_front_is_sorted_best_first_and_not_dominated() -> None:
    objectives = (Objective("depth", True), Objective("macs", False))
    result = sweep(CIFAR_SPACE, objectives=objectives)
    front = result.front()
    assert front and all(c.on_front for c in front)
    assert [c.metrics.depth for c in front] == sorted((c.metrics.depth for c in front), reverse=True)
    for c in result.kept:
        better = [f for f in front if f.metrics.depth >= c.metrics.depth and f.metrics.macs <= c.metrics.macs]
        assert c.on_front or better


def test_presets_in_the_space_are_marked() -> None:
    space = Space(growth_rates=(12, 32), layers=((6,), (12,), (24, 32), (16,)), blocks=(4,), per_block=True)
    result = sweep(space, Limits(max_params=10_000_000))
    assert result.presets().keys() == {"densenet121"}
    (marked,) = [c for c in result.kept if c.preset]
    assert marked.preset == "densenet121" and marked.design.block_config == (6, 12, 24, 16)
    assert sweep(space, Limits(max_params=1_000)).presets() == {"densenet121": None}


def test_a_space_over_the_bound_is_refused() -> None:
    space = Space(growth_rates=tuple(range(1, 129)), layers=(tuple(range(1, 257)),), blocks=tuple(range(1, 17)),
                  compressions=(0.5, 1.0, 0.25, 0.75))  # fmt: skip
    assert space.size > MAX_DESIGNS
    with pytest.raises(ConfigError, match="designs, over the 2,000,000"):
        sweep(space)


# --- densviz explore ----------------------------------------------------------------------

DONE_WHEN = [
    "explore", "--stem", "cifar", "--input-size", "32", "--num-classes", "10", "--blocks", "3",
    "--growth-rate", "8:48:4", "--layers", "4:40", "--compression", "0.5", "--bottleneck", "on",
    "--max-params", "1000000",
]  # fmt: skip


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_done_when_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *DONE_WHEN, "--json")
    assert code == 0
    data = json.loads(out)
    designs = data["designs"]
    assert data["evaluated"] == 11 * 37 and data["kept"] == len(designs) > 0
    assert data["front"] == sum(d["on_front"] for d in designs) > 0
    for entry in designs:
        assert {"config", "input", "totals", "on_front", "preset"} <= entry.keys()
        assert entry["totals"]["params"] <= 1_000_000
    for entry in random.Random(0).sample(designs, 25):
        plan = make_plan(DenseNetConfig.from_dict(entry["config"]), InputSpec.from_dict(entry["input"]))
        assert entry["totals"] == plan.totals.to_dict()
    bc = PRESETS["densenet_bc100_k12"]
    (marked,) = [e for e in designs if e["preset"] == "densenet_bc100_k12"]
    assert marked["config"] == bc.config.to_dict() and marked["input"] == bc.input.to_dict()
    assert data["presets"]["densenet_bc100_k12"]["kept"]
    assert data["presets"]["densenet_bc190_k40"] == {"kept": False, "on_front": False}


def test_done_when_text_marks_the_preset(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *DONE_WHEN)
    assert code == 0
    assert "swept 407 designs" in out and "Pareto front over max:depth, min:macs" in out
    assert "densenet_bc100_k12 (kept, not on the front)" in out
    assert "over the limits: densenet_bc190_k40" in out


def test_csv_has_one_row_per_kept_design(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *DONE_WHEN, "--csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    code, out, _ = run(capsys, *DONE_WHEN, "--json")
    designs = json.loads(out)["designs"]
    assert len(rows) == len(designs)
    assert [int(r["params"]) for r in rows] == [d["totals"]["params"] for d in designs]
    assert {r["preset"] for r in rows} == {"", "densenet_bc100_k12"}


def test_ranges_lists_and_per_block_layers(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["explore", "--growth-rate", "12,32", "--layers", "6/12/24:32:8/16", "--compression", "0.1:0.3:0.1",
            "--bottleneck", "both", "--input-size", "224,64x96", "--num-init-features", "64", "--json"]  # fmt: skip
    code, out, _ = run(capsys, *args)
    assert code == 0
    configs = [d["config"] for d in json.loads(out)["designs"]]
    assert len(configs) == 2 * 2 * 3 * 2 * 2
    assert {c["compression"] for c in configs} == {0.1, 0.2, 0.3}
    assert {tuple(c["block_config"]) for c in configs} == {(6, 12, 24, 16), (6, 12, 32, 16)}
    assert {c["bn_size"] for c in configs} == {0, 4} and {c["num_init_features"] for c in configs} == {64}


def test_objectives_choose_the_front(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *DONE_WHEN, "--objectives", "min:params", "--json")
    assert code == 0
    designs = json.loads(out)["designs"]
    least = min(d["totals"]["params"] for d in designs)
    assert [d["totals"]["params"] for d in designs if d["on_front"]] == [least]
    objectives = ",".join(f"max:{m}" for m in METRICS)
    assert run(capsys, *DONE_WHEN, "--objectives", objectives)[0] == 0


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--growth-rate", "0:48:4"], "--growth-rate '0:48:4': growth_rate must be an integer from 1 to 128"),
        (["--growth-rate", "8:200"], "got 200"),
        (["--growth-rate", "48:8"], "is empty"),
        (["--growth-rate", "8:48:0"], "is empty"),
        (["--growth-rate", "8:48:4:2"], "a range start:stop[:step]"),
        (["--growth-rate", "a"], "a range start:stop[:step]"),
        (["--layers", "0:10"], "block_config must be"),
        (["--layers", "4/4/4", "--blocks", "2"], "gives 3 blocks"),
        (["--layers", "/".join(["4"] * 17)], "1 to 16 dense blocks"),
        (["--blocks", "17"], "1 to 16 dense blocks"),
        (["--compression", "0:1:0.5"], "compression must be"),
        (["--compression", "0.5:1:x"], "a range"),
        (["--bottleneck", "maybe"], "on, off or both"),
        (["--bn-size", "0"], "--bottleneck off"),
        (["--stem", "resnet"], "stem must be one of"),
        (["--input-size", "5000"], "height must be"),
        (["--input-size", "0x32"], "height must be"),
        (["--num-init-features", "0"], "num_init_features must be"),
        (["--num-classes", "0"], "num_classes must be"),
        (["--in-channels", "2"], "in_channels must be"),
        (["--batch", "x"], "batch must be"),
        (["--max-params", "lots"], "a count such as"),
        (["--max-macs", "-1"], "a count such as"),
        (["--max-activation-bytes", "64 furlongs"], "--max-activation-bytes"),
        (["--min-depth", "0"], "at least 1"),
        (["--objectives", "max:speed"], "each objective is max: or min:"),
        (["--objectives", "depth"], "each objective is max: or min:"),
        (["--objectives", "max:depth,min:depth"], "named twice"),
        (["--growth-rate", "1:128", "--layers", "1:256", "--blocks", "1:16", "--bn-size", "1:4"], "over the 2,000,000"),
        (["--compression", "0.0000001:1:0.0000001"], "more than the 2,000,000"),
    ],
)
def test_every_bad_flag_is_one_sentence(capsys: pytest.CaptureFixture[str], args: list[str], fragment: str) -> None:
    code, out, err = run(capsys, "explore", *args)
    assert code == 2 and out == ""
    assert err.startswith("densviz: error: ") and err.count("\n") == 1
    assert fragment in err


def test_no_design_under_the_limits(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *DONE_WHEN[:-2], "--max-params", "10")
    assert code == 0 and "No design meets the limits" in out
    code, out, _ = run(capsys, *DONE_WHEN[:-2], "--max-macs", "1k", "--json")
    assert code == 0 and json.loads(out)["designs"] == []


def test_limits_read_counts_and_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["explore", "--stem", "cifar", "--input-size", "32", "--num-classes", "10", "--growth-rate", "12",
            "--layers", "4:40", "--blocks", "3", "--json"]  # fmt: skip
    for flags, check in (
        (["--max-params", "0.5M"], lambda t: t["params"] <= 500_000),
        (["--max-macs", "1e8"], lambda t: t["macs"] <= 100_000_000),
        (["--max-activation-bytes", "1MiB"], lambda t: t["activation_bytes"] <= 1 << 20),
        (["--min-depth", "150"], lambda t: t["depth"] >= 150),
    ):
        code, out, _ = run(capsys, *base, *flags)
        data = json.loads(out)
        assert code == 0 and 0 < data["kept"] < data["evaluated"]
        assert all(check(d["totals"]) for d in data["designs"]), flags


def test_the_flags_are_the_settings_ranges() -> None:
    assert SETTINGS["growth_rate"].high == 128 and SETTINGS["block_config"].high == 256
    assert SETTINGS["block_config"].count == (1, 16)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"growth_rates": (0,)}, "growth_rate must be"),
        ({"layers": ((300,),)}, "got 300"),
        ({"blocks": (17,)}, "block_config must be"),
        ({"growth_rates": ()}, "growth_rate: the space has no value"),
        ({"compressions": (0.0,)}, "compression must be"),
        ({"input_sizes": ((32, 5000),)}, "width must be"),
        ({"batch": 0}, "batch must be"),
    ],
)
def test_a_space_checks_its_values(changes: dict[str, object], fragment: str) -> None:
    base: dict[str, object] = {"growth_rates": (12,), "layers": ((4,),), "blocks": (3,)}
    with pytest.raises(ConfigError, match=fragment):
        Space(**{**base, **changes})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="objective must be one of params, macs"):
        Objective("speed", True)
