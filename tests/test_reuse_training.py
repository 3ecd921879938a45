"""Feature reuse, training: the digits, the options, seeded training on them and ``densviz reuse``."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import pytest
import torch

from densviz.cli import main
from densviz.core.config import PRESETS, ConfigError, DenseNetConfig
from densviz.nn.model import DenseNet
from densviz.reuse import WEIGHTS_FILE, TrainOptions, digit_batch, digits, train, training_variant
from densviz.run import load_weights

TINY = PRESETS["tiny"].config


def test_digits_are_split_the_same_way_every_time_and_normalised() -> None:
    d = digits(8)
    assert d.x_train.shape == (1437, 1, 8, 8) and d.x_test.shape == (360, 1, 8, 8)
    per_class = torch.bincount(torch.cat([d.y_train, d.y_test]))
    assert (torch.bincount(d.y_test) - 0.2 * per_class).abs().max() <= 1  # stratified: 20% of every digit
    assert abs(float(d.x_train.mean())) < 1e-4 and float(d.x_train.std()) == pytest.approx(1.0, abs=1e-3)
    x, labels = digit_batch(3, 8, 8)
    assert torch.equal(x, d.x_test[:3]) and labels == d.y_test[:3].tolist()
    x, _ = digit_batch(2, 32, 24, in_channels=3)
    assert x.shape == (2, 3, 32, 24)


@pytest.mark.parametrize(
    ("field", "value"),
    [("epochs", 0), ("epochs", True), ("max_seconds", -1), ("seed", -1), ("batch_size", 5000), ("lr", float("nan"))],
)
def test_bad_training_options_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError) as err:
        TrainOptions(**{field: value})  # type: ignore[arg-type]
    assert err.value.field == field


def test_seeded_training_of_tiny_is_accurate_and_deterministic() -> None:
    torch.set_num_threads(1)
    variant = training_variant(TINY)
    first = train(variant, TrainOptions(epochs=3, seed=0, device="cpu"))
    again = train(variant, TrainOptions(epochs=3, seed=0, device="cpu"))
    other = train(variant, TrainOptions(epochs=1, seed=1, device="cpu"))
    assert first.test_accuracy >= 0.9, first.log.epochs  # chance is 10%
    assert first.test_accuracy == again.test_accuracy
    for (name, a), b in zip(first.model.state_dict().items(), again.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert not torch.equal(first.model.classifier.weight, other.model.classifier.weight)
    log = first.log
    assert [e.epoch for e in log.epochs] == [1, 2, 3] and log.epochs[-1].step == 3 * math.ceil(1437 / 64)
    assert len(log.losses) == log.total_steps and log.fraction == 1.0
    assert log.losses[-1][2] < log.losses[0][2]  # the loss went down
    assert first.stopped_by == "epochs" and first.time_to(0.9) is not None
    # the trained network classifies held-out digits it never saw, through the forward-pass path too
    x, labels = digit_batch(64, 8, 8)
    with torch.no_grad():
        correct = (first.model(x).argmax(1) == torch.tensor(labels)).float().mean()
    assert float(correct) >= 0.85


def test_stop_keeps_the_network_trained_so_far() -> None:
    stop = threading.Event()
    stop.set()
    result = train(training_variant(TINY), TrainOptions(epochs=5, device="cpu"), stop=stop)
    assert result.stopped_by == "user" and len(result.log.losses) == 1
    assert len(result.log.epochs) == 1 and 0.0 <= result.test_accuracy <= 1.0  # evaluated after its one step
    timed = train(training_variant(TINY), TrainOptions(epochs=200, max_seconds=0.5, device="cpu"))
    assert timed.stopped_by == "time" and timed.log.epochs[-1].epoch < 200


def test_cli_reuse_writes_heat_maps_accuracy_and_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["reuse", "--preset", "tiny", "--epochs", "2", "--threads", "1", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    names = {p.name for p in tmp_path.iterdir()}
    assert {"reuse.html", "training.json", WEIGHTS_FILE} <= names
    assert {"reuse.png", "reuse.svg"} <= names or "Chromium" in err
    data = json.loads((tmp_path / "training.json").read_text())
    assert f"held-out accuracy {data['test_accuracy']:.1%}" in out
    assert len(data["epochs"]) == 2 and len(data["heat_maps"]) == 3 and len(data["readings"]) == 4
    assert data["changes"] == ["one grey input channel instead of 3"]
    assert "one grey input channel" in err and "densviz run" in err and "--image digits" in err
    # the weights load into the trained architecture without a missing or unexpected key
    model = DenseNet(DenseNetConfig.from_dict(data["config"]))
    report = load_weights(model, (tmp_path / WEIGHTS_FILE).read_bytes(), WEIGHTS_FILE)
    assert report.ok


def test_cli_reuse_refuses_bad_flags_with_a_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reuse", "--preset", "tiny", "--epochs", "0", "--out", str(tmp_path)]) == 2
    assert "epochs must be an integer from 1 to 200; got 0." in capsys.readouterr().err
    assert main(["reuse", "--preset", "tiny", "--max-seconds", "soon", "--out", str(tmp_path)]) == 2
    assert "max_seconds" in capsys.readouterr().err
