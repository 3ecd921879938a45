"""Training-step memory, each step measured in a fresh process."""

from __future__ import annotations

import pytest

import densviz.run as rt
from densviz.core.config import PRESETS, InputSpec


@pytest.mark.slow
def test_training_step_memory_efficient_beats_naive() -> None:
    cfg = PRESETS["densenet_bc100_k12"].config
    peaks = rt.training_step_peak(cfg, InputSpec.square(32, batch=64))
    assert 0 < peaks["efficient"] < peaks["naive"]
