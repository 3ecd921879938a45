"""Shared strategies and settings for the tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from densviz.core.config import DenseNetConfig, InputSpec, Stem, min_input_size

settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("default"), derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


@st.composite
def small_configs(draw: st.DrawFn, max_layers: int = 5, max_blocks: int = 4) -> DenseNetConfig:
    """Valid configs small enough to build and run quickly."""
    return DenseNetConfig(
        growth_rate=draw(st.integers(1, 16)),
        block_config=tuple(draw(st.lists(st.integers(1, max_layers), min_size=1, max_size=max_blocks))),
        num_init_features=draw(st.integers(1, 24)),
        bn_size=draw(st.integers(0, 4)),
        # θ ≥ 0.5 keeps at least one channel after every transition (there are ≥ 2 there)
        compression=draw(st.sampled_from([0.5, 0.6, 0.75, 1.0]) | st.floats(0.5, 1.0)),
        drop_rate=draw(st.sampled_from([0.0, 0.2])),
        num_classes=draw(st.integers(1, 20)),
        in_channels=draw(st.sampled_from([1, 3])),
        stem=draw(st.sampled_from(list(Stem))),
        memory_efficient=draw(st.booleans()),
    )


@st.composite
def configs_and_inputs(draw: st.DrawFn, max_layers: int = 5, max_blocks: int = 4) -> tuple[DenseNetConfig, InputSpec]:
    """A small valid config and an input it accepts (near its smallest)."""
    cfg = draw(small_configs(max_layers=max_layers, max_blocks=max_blocks))
    smallest = min_input_size(cfg)
    height = draw(st.integers(smallest, smallest + 24))
    width = draw(st.integers(smallest, smallest + 24))
    return cfg, InputSpec(batch=draw(st.integers(1, 3)), height=height, width=width)


def pytest_addoption(parser: object) -> None:
    parser.addoption(  # type: ignore[attr-defined]
        "--update-golden", action="store_true", help="rewrite tests/golden/ from the code (review the diff!)"
    )


@pytest.fixture
def quick_roofs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A small bandwidth copy and a one-kernel peak, measured afresh for each test.

    For the profile's tests: ``pytestmark = pytest.mark.usefixtures("quick_roofs")``.
    AppTest runs a page's script in the test's process, so the page measures them too.
    """
    from densviz.run import bandwidth, peak  # here: a test that needs no torch does not import it

    monkeypatch.setattr(bandwidth, "_CPU_BYTES", 16 * 2**20)
    monkeypatch.setattr(peak, "KERNELS", (peak.gemm_rate,))
    peak.clear_peaks()
    bandwidth.clear_bandwidths()
    yield
    peak.clear_peaks()
    bandwidth.clear_bandwidths()


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch hub cache in a temporary ``TORCH_HOME``: its checkpoints folder (not made yet)."""
    import torch  # here: a test that needs no torch does not import it

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # in case something called torch.hub.set_dir
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    assert Path(torch.hub.get_dir()) / "checkpoints" == folder
    return folder


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server: (its base URL, the folder it serves)."""
    import functools
    import http.server
    import threading

    root = tmp_path / "served"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()
