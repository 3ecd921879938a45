"""What the real-browser tests share: one `streamlit run` server per test module, its log named after the module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import server as helper

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    """The app on a free loopback port; its log in artifacts/server-<module>.log."""
    ARTIFACTS.mkdir(exist_ok=True)
    with helper.serve(ARTIFACTS / f"server-{request.module.__name__.rsplit('.', 1)[-1]}.log") as (url, _pid):
        yield url
