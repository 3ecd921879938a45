"""Concurrent sessions on a real server (the 16-session figures come from benchmarks/load_test.py)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "load_test.py"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_concurrent_sessions_see_only_their_own_results() -> None:
    spec = importlib.util.spec_from_file_location("load_test", SCRIPT)
    assert spec and spec.loader
    load = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = load  # dataclasses look their module up there
    spec.loader.exec_module(load)
    report, memory = load.run(sessions=4, limit_s=600)
    assert report.errors == []
    assert report.completed == report.sessions == 4
    assert report.reruns >= 4 * 4
    assert memory["peak"] >= memory["before"] > 0
