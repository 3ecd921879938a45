"""Helpers shared by the tests: plans of presets, the golden-file check."""

from __future__ import annotations

from densviz.core.config import PRESETS, InputSpec
from densviz.core.plan import ArchitecturePlan, make_plan


def plan_of(name: str, batch: int | None = None) -> ArchitecturePlan:
    """The plan of a preset at its published input size (and ``batch``, if given)."""
    preset = PRESETS[name]
    spec = (
        preset.input if batch is None else InputSpec(batch=batch, height=preset.input.height, width=preset.input.width)
    )
    return make_plan(preset.config, spec)
