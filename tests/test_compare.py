"""Two designs side by side: the numbers are each plan's, the differences and ratios B against A."""

from __future__ import annotations

import json

import pytest

from densviz.cli import main
from densviz.core.compare import compare
from densviz.core.config import PRESETS
from densviz.core.plan import make_plan
from tests.helpers import plan_of


def test_numbers_are_each_plans_and_differences_are_b_minus_a() -> None:
    a, b = plan_of("densenet121"), plan_of("densenet_bc100_k12")
    result = compare(a, b)
    by_name = {m.name: m for m in result.metrics}
    assert by_name["params"].a == 7_978_856 and by_name["params"].b == b.totals.params
    assert by_name["macs"].a == 2_834_161_664
    assert by_name["depth"].a == 121 and by_name["depth"].b == 100 and by_name["depth"].diff == -21
    assert by_name["training_efficient_bytes"].b == b.memory.training_efficient_bytes
    assert by_name["params"].ratio == pytest.approx(b.totals.params / 7_978_856)
    # 4 blocks against 3: the fourth has no partner
    assert [(d.a is not None, d.b is not None) for d in result.blocks] == [(True, True)] * 3 + [(True, False)]
    assert result.blocks[0].to_dict()["diff"]["layers"] == 16 - 6


def test_same_design_has_no_difference() -> None:
    result = compare(plan_of("tiny"), plan_of("tiny"))
    assert all(m.diff == 0 and m.ratio == 1 for m in result.metrics)


def test_cli_compare_json_with_flags_per_side(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["compare", "--a", "tiny", "--b", "tiny", "--b-growth-rate", "16", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["a"]["config"]["growth_rate"] == 8 and data["b"]["config"]["growth_rate"] == 16
    params = next(m for m in data["metrics"] if m["name"] == "params")
    bigger = make_plan(PRESETS["tiny"].config.replace(growth_rate=16), PRESETS["tiny"].input).totals.params
    assert (params["a"], params["b"], params["diff"]) == (20_266, bigger, bigger - 20_266)


def test_cli_compare_names_the_bad_side(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["compare", "--a", "tiny", "--b", "tiny", "--b-compression", "2"])
    err = capsys.readouterr().err
    assert (
        code == 2 and err.strip() == "densviz: error: design B: compression must be a number θ with 0 < θ ≤ 1; got 2.0."
    )
