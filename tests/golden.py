"""Golden files: compare text with tests/golden/NAME, or rewrite it with --update-golden."""

from __future__ import annotations

from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"


def check_golden(request: pytest.FixtureRequest, name: str, text: str) -> None:
    path = GOLDEN / name
    if request.config.getoption("--update-golden"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        return
    assert path.exists(), f"{path} is missing; run pytest --update-golden and review the new file"
    assert text == path.read_text(), (
        f"{name} differs from its golden file; if intended, run pytest --update-golden and review the diff"
    )
