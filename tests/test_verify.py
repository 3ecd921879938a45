"""The oracle: the plan against the real PyTorch model, every layer."""

import pytest
import torch
from hypothesis import given, settings

from densviz.core.config import PRESETS, DenseNetConfig, InputSpec
from densviz.core.plan import make_plan
from densviz.nn.verify import Quantity, torchinfo_totals, verify
from tests.conftest import configs_and_inputs


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_matches_the_model(name: str) -> None:
    preset = PRESETS[name]
    report = verify(preset.config, preset.input)
    assert report.ok, report.mismatches[:5]
    checked = {(c.name, c.quantity) for c in report.checks}
    plan = make_plan(preset.config, preset.input)
    for row in plan.layers:  # every row's shape, parameters and MACs were compared
        assert {(row.name, q) for q in Quantity} <= checked
    assert all(c.measured is not None for c in report.checks)


def test_verify_catches_a_wrong_model(monkeypatch: pytest.MonkeyPatch) -> None:
    import densviz.nn.verify as verify_module

    real_build = verify_module.build_model

    def off_by_compression(cfg: DenseNetConfig, **kwargs: object) -> torch.nn.Module:
        return real_build(cfg.replace(compression=0.75), **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(verify_module, "build_model", off_by_compression)
    report = verify(PRESETS["tiny"].config, PRESETS["tiny"].input)
    assert not report.ok
    wrong = {c.name for c in report.mismatches}
    assert "features.transition1" in wrong and "total" in wrong
    assert "features.denseblock1.denselayer1" not in wrong  # the first block is unaffected


@given(configs_and_inputs())
@settings(max_examples=25)
def test_random_configs_match_on_meta(pair: tuple[DenseNetConfig, InputSpec]) -> None:
    cfg, spec = pair
    report = verify(cfg, spec)
    assert report.ok, report.mismatches[:5]


@pytest.mark.slow
@given(configs_and_inputs(max_layers=4, max_blocks=3))
@settings(max_examples=30)
def test_random_configs_match_on_real_tensors(pair: tuple[DenseNetConfig, InputSpec]) -> None:
    cfg, spec = pair
    report = verify(cfg, spec, device="cpu")
    assert report.ok, report.mismatches[:5]


@pytest.mark.parametrize("name", ["densenet121", "densenet_bc100_k12", "densenet40_k12"])
def test_torchinfo_agrees_with_the_plan(name: str) -> None:
    preset = PRESETS[name]
    plan = make_plan(preset.config, preset.input)
    assert torchinfo_totals(preset.config, preset.input) == {"params": plan.totals.params, "macs": plan.totals.macs}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["densenet121", "densenet169"])
def test_big_presets_on_real_tensors(name: str) -> None:
    torch.set_num_threads(1)
    report = verify(PRESETS[name].config, InputSpec.square(64), device="cpu")
    assert report.ok, report.mismatches[:5]


def test_verify_is_not_disturbed_by_forward_passes_in_other_threads() -> None:
    # A web server verifies in one thread while users run networks in others. (Seen in
    # CI: FlopCounterMode's per-module table counted another thread's modules.)
    import threading

    from densviz.nn.model import build_model

    stop = threading.Event()
    model = build_model(PRESETS["tiny"].config).eval()

    def busy() -> None:
        with torch.no_grad():
            while not stop.is_set():
                model(torch.zeros(1, 3, 32, 32))

    worker = threading.Thread(target=busy)
    worker.start()
    try:
        for _ in range(3):
            report = verify(PRESETS["tiny"].config, PRESETS["tiny"].input)
            assert report.ok, report.mismatches[:3]
    finally:
        stop.set()
        worker.join()
