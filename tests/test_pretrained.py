"""Published ImageNet weights: which designs they fit, the cache, the download and its hash check, no network.

No test downloads anything real: a densviz DenseNet-121 built with a fixed
seed is saved as the published files are (torchvision's legacy key names, no
batch-norm counters) under a name whose hash prefix is its own SHA-256, and
the URL table is pointed at that name, in a temporary ``TORCH_HOME``
(``tests/imagenet_files.py``). The preprocessing and the class names are in
``test_pretrained_inputs.py``.
"""

from __future__ import annotations

import hashlib
import re
import socket
import time
from pathlib import Path
from urllib.error import URLError

import pytest
import torch

from densviz.core.config import PRESETS, ConfigError, DenseNetConfig, Stem
from densviz.nn.model import build_model
from densviz.run import pretrained
from densviz.run.pretrained import (
    checkpoint_path,
    imagenet_class_names,
    imagenet_preset,
    imagenet_weights,
    load_imagenet,
)
from densviz.run.weights import WeightsError
from tests.imagenet_files import (
    OFFLINE,
    assert_same_weights,
    closed_port,
    in_cache,
    legacy_state,
    no_network,
    on_server,
    point_at,
    save,
)

CFG = PRESETS["densenet121"].config


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
    name, calls = in_cache(hub, monkeypatch, data)
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
    point_at(monkeypatch, f"{OFFLINE}/densenet121-00000000.pth")
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
    in_cache(hub, monkeypatch, save(state))
    target = build_model(CFG)
    before = target.classifier.bias.clone()
    with pytest.raises(WeightsError, match=r"NaN or infinity in 'classifier\.bias'"):
        load_imagenet(target, CFG)
    assert torch.equal(target.classifier.bias, before)  # the model is unchanged


def test_checkpoint_of_another_shape_is_refused(hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    small = build_model(CFG.replace(num_classes=10))
    in_cache(hub, monkeypatch, save(legacy_state(small)))
    with pytest.raises(WeightsError, match=r"classifier\.weight is \[10, 1024\] in the file, \[1000, 1024\] here"):
        load_imagenet(build_model(CFG), CFG)


# --- the download ------------------------------------------------------------------


def test_download_from_a_server_lands_in_the_hub_cache(
    source: tuple[torch.nn.Module, bytes],
    hub: Path,
    served: tuple[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model, data = source
    base, name = on_server(served, monkeypatch, data)
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
    source: tuple[torch.nn.Module, bytes], hub: Path, served: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, data = source
    base, root = served
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


def test_missing_on_the_server_says_so(hub: Path, served: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    base, _ = served
    point_at(monkeypatch, f"{base}/densenet121-a639ec97.pth")
    with pytest.raises(ConfigError, match=r"the server answered HTTP 404 for .*; place that file in "):
        imagenet_weights(CFG)


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


def test_densviz_run_with_imagenet_weights_names_the_top5(
    source: tuple[torch.nn.Module, bytes],
    hub: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from densviz.cli import main

    _model, data = source
    _name, calls = in_cache(hub, monkeypatch, data)
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
