"""Published ImageNet weights: the cache, the download and its hash check, no network, preprocessing, class names.

No test downloads anything real: a densviz DenseNet-121 built with a fixed
seed is saved as the published files are (torchvision's legacy key names, no
batch-norm counters) under a name whose hash prefix is its own SHA-256, and
the URL table is pointed at that name, in a temporary ``TORCH_HOME``.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import re
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch

from densviz.core.config import PRESETS, ConfigError, DenseNetConfig, Stem
from densviz.nn.model import build_model
from densviz.run import pretrained
from densviz.run.inputs import IMAGENET_MEAN, IMAGENET_STD, ImageError
from densviz.run.pretrained import (
    checkpoint_path,
    imagenet_class_names,
    imagenet_preprocess,
    imagenet_preset,
    imagenet_weights,
    load_imagenet,
)
from densviz.run.weights import WeightsError

CFG = PRESETS["densenet121"].config
_MODERN = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))([12]\.(?:weight|bias|running_mean|running_var))$")


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


@pytest.fixture(scope="module")
def source() -> tuple[torch.nn.Module, bytes]:
    """A seeded DenseNet-121 and its checkpoint bytes in the published format."""
    torch.manual_seed(121)
    model = build_model(CFG).eval()
    with torch.no_grad():  # running statistics that differ from a fresh model's, so that they are seen to load
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return model, save(legacy_state(model))


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch hub cache: its checkpoints folder."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # in case something called torch.hub.set_dir
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    assert Path(torch.hub.get_dir()) / "checkpoints" == folder
    return folder


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server: (its base URL, the folder it serves)."""
    root = tmp_path / "served"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()


def point_at(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setitem(pretrained.IMAGENET_WEIGHTS, "densenet121", url)


def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every way torch's hub could open a URL fails the test (the calls are recorded too)."""
    calls: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        calls.append(args)
        raise AssertionError("a network call was made")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(torch.hub, "urlopen", refuse)
    return calls


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(sa[key], sb[key]), key


# --- which weights fit -----------------------------------------------------------


@pytest.mark.parametrize("name", ["densenet121", "densenet161", "densenet169", "densenet201"])
def test_each_published_preset_is_recognised(name: str) -> None:
    cfg = PRESETS[name].config
    assert imagenet_preset(cfg) == name
    assert imagenet_preset(cfg.replace(drop_rate=0.2, memory_efficient=True)) == name  # no weight changes
    assert Path(pretrained.IMAGENET_WEIGHTS[name]).name.startswith(f"{name}-")


def test_custom_design_is_told_why() -> None:
    with pytest.raises(ConfigError) as err:
        imagenet_preset(CFG.replace(growth_rate=24))
    message = str(err.value)
    assert message.startswith("published ImageNet weights exist only for DenseNet-121/161/169/201")
    assert "this design is custom (k=24, blocks 6,12,24,16" in message


@pytest.mark.parametrize(
    ("cfg", "said"),
    [
        (CFG.replace(num_classes=10), "this design is DenseNet-121 with 10 classes."),
        (CFG.replace(in_channels=1), "this design is DenseNet-121 with 1 channel."),
        (PRESETS["densenet264"].config, "this design is DenseNet-264 (k=32, blocks 6,12,64,48"),
    ],
)
def test_near_misses_are_named(cfg: DenseNetConfig, said: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(said)):
        imagenet_preset(cfg)


def test_cifar_design_is_custom() -> None:
    with pytest.raises(ConfigError, match=r"this design is custom \(k=12, .*cifar stem"):
        imagenet_preset(PRESETS["densenet_bc100_k12"].config)
    assert PRESETS["densenet_bc100_k12"].config.stem == Stem.CIFAR


# --- a file in the cache -----------------------------------------------------------


def test_cached_checkpoint_loads_without_network(
    source: tuple[torch.nn.Module, bytes], hub: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, data = source
    name = published_name(data)
    hub.mkdir(parents=True)
    (hub / name).write_bytes(data)
    point_at(monkeypatch, f"http://127.0.0.1:9/{name}")
    calls = no_network(monkeypatch)
    torch.manual_seed(7)
    target = build_model(CFG).eval()
    report, description = load_imagenet(target, CFG)
    assert calls == []
    assert report.ok and report.remapped > 0  # the legacy names were renamed
    assert report.classes == imagenet_class_names()
    assert description == f"ImageNet (torchvision's DenseNet-121, {name})"
    assert_same_weights(model, target)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), target(x))


def test_cached_file_with_another_hash_is_refused(
    source: tuple[torch.nn.Module, bytes], hub: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, data = source
    hub.mkdir(parents=True)
    (hub / "densenet121-00000000.pth").write_bytes(data)
    point_at(monkeypatch, "http://127.0.0.1:9/densenet121-00000000.pth")
    calls = no_network(monkeypatch)
    with pytest.raises(ConfigError) as err:
        imagenet_weights(CFG)
    assert str(err.value) == (
        f"densenet121-00000000.pth in {hub}/ is not the published file: its SHA-256 starts "
        f"{hashlib.sha256(data).hexdigest()[:8]}, its name says 00000000. "
        "Remove it, or replace it with the published file, and run again."
    )
    assert calls == []


def test_cached_weights_go_through_the_safe_checks(
    source: tuple[torch.nn.Module, bytes], hub: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, _ = source
    state = legacy_state(model)
    state["classifier.bias"] = state["classifier.bias"].clone()
    state["classifier.bias"][3] = float("nan")
    data = save(state)
    name = published_name(data)
    hub.mkdir(parents=True)
    (hub / name).write_bytes(data)
    point_at(monkeypatch, f"http://127.0.0.1:9/{name}")
    no_network(monkeypatch)
    target = build_model(CFG)
    before = target.classifier.bias.clone()
    with pytest.raises(WeightsError, match=r"NaN or infinity in 'classifier\.bias'"):
        load_imagenet(target, CFG)
    assert torch.equal(target.classifier.bias, before)  # the model is unchanged


def test_checkpoint_of_another_shape_is_refused(hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    small = build_model(CFG.replace(num_classes=10))
    data = save(legacy_state(small))
    name = published_name(data)
    hub.mkdir(parents=True)
    (hub / name).write_bytes(data)
    point_at(monkeypatch, f"http://127.0.0.1:9/{name}")
    no_network(monkeypatch)
    with pytest.raises(WeightsError, match=r"classifier\.weight is \[10, 1024\] in the file, \[1000, 1024\] here"):
        load_imagenet(build_model(CFG), CFG)


# --- the download ------------------------------------------------------------------


def test_download_from_a_server_lands_in_the_hub_cache(
    source: tuple[torch.nn.Module, bytes],
    hub: Path,
    server: tuple[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model, data = source
    base, root = server
    name = published_name(data)
    (root / name).write_bytes(data)
    point_at(monkeypatch, f"{base}/{name}")
    assert checkpoint_path(f"{base}/{name}") == hub / name
    target = build_model(CFG).eval()
    report, _ = load_imagenet(target, CFG)
    assert report.ok
    assert_same_weights(model, target)
    assert (hub / name).read_bytes() == data  # kept in the standard cache, under the URL's name
    assert capsys.readouterr().out == ""  # torch's "Downloading" line went to stderr
    no_network(monkeypatch)  # the second time needs no download
    load_imagenet(build_model(CFG), CFG)


def test_download_whose_hash_does_not_match_its_name_is_refused(
    source: tuple[torch.nn.Module, bytes], hub: Path, server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, data = source
    base, root = server
    (root / "densenet121-00000000.pth").write_bytes(data)
    point_at(monkeypatch, f"{base}/densenet121-00000000.pth")
    with pytest.raises(ConfigError) as err:
        imagenet_weights(CFG)
    message = str(err.value)
    assert message.startswith(
        f"the download of densenet121-00000000.pth from {base}/densenet121-00000000.pth was refused: "
        "its SHA-256 does not start with the hash in its name"
    )
    assert message.endswith(f"Nothing was kept; place that file in {hub}/ (or upload it) and run again.")
    assert list(hub.iterdir()) == []  # neither the file nor a partial one


def test_missing_on_the_server_says_so(hub: Path, server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    base, _ = server
    point_at(monkeypatch, f"{base}/densenet121-a639ec97.pth")
    with pytest.raises(ConfigError, match=r"the server answered HTTP 404 for .*; place that file in "):
        imagenet_weights(CFG)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_no_network_names_the_file_and_the_folder(hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    point_at(monkeypatch, f"http://127.0.0.1:{closed_port()}/densenet121-a639ec97.pth")
    with pytest.raises(ConfigError) as err:
        imagenet_weights(CFG)  # a bounded wait: the connection is refused at once here
    message = str(err.value)
    assert message.startswith("there is no network to download densenet121-a639ec97.pth (")
    assert message.endswith(f"); place that file in {hub}/ (or upload it) and run again.")


def test_no_network_when_urlopen_fails(hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise URLError(socket.gaierror(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(torch.hub, "urlopen", offline)
    with pytest.raises(ConfigError) as err:
        imagenet_weights(CFG)  # the real URL table: nothing leaves this machine
    assert str(err.value) == (
        "there is no network to download densenet121-a639ec97.pth ([Errno -3] Temporary failure in name "
        f"resolution); place that file in {hub}/ (or upload it) and run again."
    )


def test_a_server_that_never_answers_is_given_up_on(hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pretrained, "DOWNLOAD_TIMEOUT_S", 0.5)
    with socket.socket() as silent:  # accepts the connection (the backlog), never sends a byte
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        point_at(monkeypatch, f"http://127.0.0.1:{silent.getsockname()[1]}/densenet121-a639ec97.pth")
        start = time.monotonic()
        with pytest.raises(ConfigError, match=r"^there is no network to download densenet121-a639ec97\.pth \("):
            imagenet_weights(CFG)
        assert time.monotonic() - start < 5
    assert socket.getdefaulttimeout() is None  # put back


# --- preprocessing -----------------------------------------------------------------


def normalised(rgb: tuple[int, int, int]) -> list[float]:
    return [(c / 255 - m) / s for c, m, s in zip(rgb, IMAGENET_MEAN, IMAGENET_STD, strict=True)]


def test_preprocess_resizes_crops_and_normalises() -> None:
    # 512 × 640, four flat quadrants split at row 256 and column 320: halved to 256 × 320, then the
    # centre 224 × 224 starts at row 16 and column 48, so the quadrants meet at output row and column 112.
    colours = {(0, 0): (255, 0, 128), (0, 1): (10, 200, 30), (1, 0): (0, 0, 0), (1, 1): (90, 60, 240)}
    image = np.zeros((512, 640, 3), np.uint8)
    for (i, j), rgb in colours.items():
        image[i * 256 : (i + 1) * 256, j * 320 : (j + 1) * 320] = rgb
    x = imagenet_preprocess(image)
    assert x.shape == (1, 3, 224, 224) and x.dtype == torch.float32
    for (i, j), rgb in colours.items():
        for row, col in ((0, 0), (110, 110), (50, 80)):
            r, c = row + 113 * i, col + 113 * j  # rows 111-112 blend: the filter reaches 2 source pixels
            assert x[0, :, r, c].tolist() == pytest.approx(normalised(rgb), abs=1e-6), (i, j, r, c)
    # across the border the filter blends the two colours
    mixed = x[0, 0, 111:113, 50]
    assert normalised((255, 0, 128))[0] > mixed[0] > mixed[1] > normalised((0, 0, 0))[0]


def test_preprocess_crop_rounds_half_to_even() -> None:
    # short side already 256: no resizing; 387 - 224 = 163, so the crop starts at round(81.5) = 82, not 81
    image = np.zeros((256, 387, 3), np.uint8)
    image[:, :, 0] = np.arange(387, dtype=np.uint16)[None, :] % 256
    image[:, :, 1] = np.arange(256, dtype=np.uint8)[:, None]
    x = imagenet_preprocess(image)
    assert x[0, 0, 0, 0].item() == pytest.approx((82 / 255 - 0.485) / 0.229, abs=1e-6)
    assert x[0, 1, 0, 0].item() == pytest.approx((16 / 255 - 0.456) / 0.224, abs=1e-6)  # top = (256 - 224) / 2
    assert x[0, 0, 5, 223].item() == pytest.approx(((82 + 223) % 256 / 255 - 0.485) / 0.229, abs=1e-6)


def test_resize_truncates_the_long_side_as_torchvision() -> None:
    assert pretrained._resized_size(300, 451) == (256, 384)  # 256 · 451 / 300 = 384.85 -> 384
    assert pretrained._resized_size(451, 300) == (384, 256)
    assert pretrained._resized_size(100, 100) == (256, 256)
    assert pretrained._crop_origin(256, 383) == (16, 80)  # round(79.5) = 80
    tall = imagenet_preprocess(np.full((451, 300, 3), 128, np.uint8))
    assert tall.shape == (1, 3, 224, 224)
    assert torch.allclose(tall[0, :, 0, 0], torch.tensor(normalised((128, 128, 128))), atol=1e-6)


@pytest.mark.parametrize(
    "image",
    [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32), np.zeros((0, 10, 3), np.uint8)],
)
def test_preprocess_refuses_what_is_not_an_image(image: np.ndarray) -> None:
    with pytest.raises(ImageError):
        imagenet_preprocess(image)


# --- class names -------------------------------------------------------------------


def test_the_thousand_class_names() -> None:
    names = imagenet_class_names()
    assert len(names) == 1000 and len(set(names)) == 1000
    assert names[0] == "tench" and names[1] == "goldfish"
    assert names[207] == "golden retriever" and names[999] == "toilet tissue"


def test_the_class_names_say_where_they_come_from() -> None:
    import json

    data = json.loads((Path(pretrained.__file__).parent / "imagenet_classes.json").read_text(encoding="utf-8"))
    assert data["source"].startswith("torchvision's _IMAGENET_CATEGORIES (torchvision/models/_meta.py")
    assert data["classes"][:2] == ["tench", "goldfish"]


def test_densviz_run_with_imagenet_weights_names_the_top5(
    source: tuple[torch.nn.Module, bytes],
    hub: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from densviz.cli import main

    _model, data = source
    name = published_name(data)
    hub.mkdir(parents=True)
    (hub / name).write_bytes(data)
    point_at(monkeypatch, f"http://127.0.0.1:9/{name}")
    calls = no_network(monkeypatch)
    args = [
        "run",
        "--preset",
        "densenet121",
        "--weights",
        "imagenet",
        "--image",
        "flower",
        "--runs",
        "1",
        "--warmup",
        "0",
    ]
    assert main([*args, "--threads", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert calls == []  # loaded from the cache, no download
    names = imagenet_class_names()
    assert len(out["top5"]) == 5
    for entry in out["top5"]:
        assert isinstance(entry["class"], int) and entry["name"] == names[entry["class"]]
    assert "ImageNet" in out["weights"]


def test_densviz_run_without_the_file_or_network_exits_2_with_the_sentence(
    hub: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from densviz.cli import main

    point_at(monkeypatch, f"http://127.0.0.1:{closed_port()}/densenet121-a639ec97.pth")
    assert main(["run", "--preset", "densenet121", "--weights", "imagenet", "--runs", "1"]) == 2
    err = capsys.readouterr().err
    assert "densenet121-a639ec97.pth" in err and str(hub) in err and "Traceback" not in err
