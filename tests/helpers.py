"""Helpers shared by the tests: plans of presets, the golden-file check."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from densviz.core.config import PRESETS, InputSpec
from densviz.core.plan import ArchitecturePlan, make_plan


def plan_of(name: str, batch: int | None = None) -> ArchitecturePlan:
    """The plan of a preset at its published input size (and ``batch``, if given)."""
    preset = PRESETS[name]
    spec = (
        preset.input if batch is None else InputSpec(batch=batch, height=preset.input.height, width=preset.input.width)
    )
    return make_plan(preset.config, spec)


VIEWS = [
    "Growth",
    "Graph",
    "Connectivity",
    "Volume",
    "Layers",
    "Memory",
    "Compare",
    "Design space",
    "Forward pass",
    "Feature reuse",
    "Export",
]
"""The view selector's options, in order, as a user should see them (written out: the page's own list is under test)."""

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def start_app(query: dict[str, str] | None = None) -> AppTest:
    """The page after its first run with ``query`` as the link's query string; no exception allowed."""
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at
