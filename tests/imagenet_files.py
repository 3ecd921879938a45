"""Published ImageNet checkpoints made here, for the tests of the pretrained weights (``test_pretrained*.py``,
``test_forward_imagenet.py``): nothing is downloaded.

A densviz DenseNet-121 is saved as torchvision publishes its files (legacy key
names, no batch-norm counters) under a name whose hash prefix is its own
SHA-256, and the URL table is pointed at that name. The ``hub`` and ``served``
fixtures (an empty torch hub cache, a local HTTP server) are in ``conftest.py``.
"""

from __future__ import annotations

import hashlib
import io
import re
import socket
import urllib.request
from pathlib import Path

import pytest
import torch

from densviz.run import pretrained

_MODERN = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))([12]\.(?:weight|bias|running_mean|running_var))$")
OFFLINE = "http://127.0.0.1:9"  # the discard port, closed here: nothing can be fetched from it


def legacy_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state dict as torchvision's published files spell it: ``norm.1`` for ``norm1``, no counters."""
    out = {}
    for key, value in model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        match = _MODERN.match(key)
        out[f"{match.group(1)}.{match.group(2)}" if match else key] = value.clone()
    return out


def save(state: dict[str, torch.Tensor]) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def published_name(data: bytes) -> str:
    """The name torch's hub accepts for these bytes: the first 8 hex digits of their SHA-256."""
    return f"densenet121-{hashlib.sha256(data).hexdigest()[:8]}.pth"


def point_at(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Publish DenseNet-121's weights at ``url`` (the URL table's entry), for this test."""
    monkeypatch.setitem(pretrained.IMAGENET_WEIGHTS, "densenet121", url)


def name_offline(monkeypatch: pytest.MonkeyPatch, data: bytes) -> str:
    """Name the published DenseNet-121 file after ``data``'s hash (as torch's hub checks it), at a closed port."""
    name = published_name(data)
    point_at(monkeypatch, f"{OFFLINE}/{name}")
    return name


def on_server(served: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, data: bytes) -> tuple[str, str]:
    """``data`` published on the local server (the ``served`` fixture): (its base URL, the file's name)."""
    base, root = served
    name = published_name(data)
    (root / name).write_bytes(data)
    point_at(monkeypatch, f"{base}/{name}")
    return base, name


def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every way torch's hub could open a URL fails the test (the calls are recorded too)."""
    calls: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        calls.append(args)
        raise AssertionError("a network call was made")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(torch.hub, "urlopen", refuse)
    return calls


def in_cache(hub: Path, monkeypatch: pytest.MonkeyPatch, data: bytes) -> tuple[str, list[object]]:
    """``data`` in the hub cache as the published file, and no network: (its name, the network calls made)."""
    name = name_offline(monkeypatch, data)
    hub.mkdir(parents=True)
    (hub / name).write_bytes(data)
    return name, no_network(monkeypatch)


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(sa[key], sb[key]), key


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port
