"""The fuzz report's entry points, at a small size in CI: no case may end in a stray exception."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_every_entry_point_survives_hostile_input(capsys: pytest.CaptureFixture[str]) -> None:
    from tests import fuzz

    fuzz.run(60)
    failures = {entry: {k: v for k, v in c.items() if k.startswith("FAILED")} for entry, c in fuzz.counts.items()}
    assert set(fuzz.counts) == {
        "query string (strict)",
        "query string (lenient, as the page reads links)",
        "CLI flags (densviz summary)",
        "CLI flags (densviz reuse, checked before training)",
        "config JSON (file / upload)",
        "image upload",
        "weights upload",
        "image upload (extreme shapes)",
        "weights upload (zip archives, bombs)",
        "weights upload (hostile dtypes)",
        "output folders (--out)",
        "training configurations (checked before training)",
    }
    assert all(not f for f in failures.values()), failures
    assert all(sum(c.values()) >= 60 for c in fuzz.counts.values())
