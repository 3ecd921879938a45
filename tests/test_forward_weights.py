"""The Forward pass view's weights through Streamlit's AppTest: trained in the Feature reuse view (the digits named),
random (class indices, said so), the made weights file, and ImageNet's for the published designs (from the cache,
downloaded once, refused for other designs, or uploaded where there is no network), with the top-5 named."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from densviz import build_model
from densviz.core.config import PRESETS
from densviz.run import sample_images, save_weights
from densviz.ui.session import TrainedWeights
from tests.forward_page import captions, headline_parts, ran, shown
from tests.helpers import start_app as start
from tests.imagenet_files import legacy_state, name_offline, on_server, save

TINY = PRESETS["tiny"].config


def test_weights_trained_on_the_digits_name_the_classes() -> None:
    at = start({"preset": "tiny", "view": "Forward pass"})
    data = save_weights(build_model(TINY))
    at.session_state["trained_weights"] = TrainedWeights(
        TINY, "densenet-digits.safetensors", "weights trained in the Feature reuse view", data
    )
    at.radio(key="forward_source").set_value("digits").run()
    ran(at)
    assert not at.error, [e.value for e in at.error]
    top5 = at.dataframe[0].value
    assert list(top5.columns) == ["class", "probability"]
    assert set(top5["class"]) <= set("0123456789")
    assert shown(at).endswith("input: held-out digits · weights: weights trained in the Feature reuse view")
    said = " ".join(captions(at))
    assert "random (untrained)" not in said and "The first digit is a **" in said


def test_the_weights_file_is_made_on_a_click_and_offered_as_plain_bytes_of_the_run() -> None:
    from densviz.run import load_weights

    at = start({"preset": "tiny", "view": "Forward pass"})
    data = save_weights(build_model(TINY))  # known weights, so that the file can be checked against them
    at.session_state["trained_weights"] = TrainedWeights(
        TINY, "densenet-digits.safetensors", "weights trained in the Feature reuse view", data
    )
    at.radio(key="forward_source").set_value("digits").run()
    ran(at)
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download these weights (.safetensors)" not in labels  # not made on every rerun
    at.button(key="forward_weights_make").click().run()
    offered = next(b.proto for b in at.get("download_button") if b.proto.label.startswith("Download these weights"))
    assert offered.url and not offered.deferred_file_id  # plain bytes: the address stays while it is shown
    made = at.session_state["forward"]["weights_file"]
    model, expected = build_model(TINY), build_model(TINY)
    report = load_weights(model, made, "densenet.safetensors")
    load_weights(expected, data, "densenet-digits.safetensors")
    assert report.classes == tuple(str(d) for d in range(10))  # the digits' names travel with the file
    assert all(
        torch.equal(a, b) for a, b in zip(model.state_dict().values(), expected.state_dict().values(), strict=True)
    )
    at.run()  # still offered, at the same address
    assert any(b.proto.url == offered.url for b in at.get("download_button"))


def test_random_weights_give_class_indices_and_say_so() -> None:
    at = ran(start({"preset": "tiny", "view": "Forward pass"}))
    top5 = at.dataframe[0].value
    assert all(isinstance(c, int) for c in top5["class"])
    assert any(
        c.endswith(
            "The weights are random (untrained): this ranking means nothing. For real predictions choose Pretrained "
            "(ImageNet) weights (DenseNet-121/161/169/201), weights trained in the Feature reuse view, or a file."
        )
        for c in captions(at)
    )


# --- the weights: ImageNet's for the published designs ------------------------------------------------

D121 = PRESETS["densenet121"].config
IMAGENET_NAMES = json.loads((Path(__file__).resolve().parents[1] / "densviz/run/imagenet_classes.json").read_text())[
    "classes"
]


@pytest.fixture(scope="module")
def published() -> tuple[torch.nn.Module, bytes]:
    """A seeded densviz DenseNet-121 and its bytes as torchvision publishes checkpoints (legacy key names)."""
    torch.manual_seed(121)
    model = build_model(D121).eval()
    return model, save(legacy_state(model))


def imagenet_top5(model: torch.nn.Module) -> list[tuple[str, str]]:
    """The top-5 of the flower photograph, worked out here: torchvision's transform written out, then softmax."""
    from PIL import Image

    image = Image.fromarray(sample_images()["flower"])
    w, h = image.size
    scale = 256 / min(w, h)
    image = image.resize(
        (int(w * scale) if w > h else 256, int(h * scale) if h > w else 256), Image.Resampling.BILINEAR
    )
    w, h = image.size
    left, top = round((w - 224) / 2), round((h - 224) / 2)
    crop = torch.tensor(np.asarray(image.crop((left, top, left + 224, top + 224))), dtype=torch.float32)
    x = (crop / 255 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    with torch.no_grad():
        p = model(x.permute(2, 0, 1).unsqueeze(0)).softmax(1)[0]
    best = p.topk(5)
    return [(IMAGENET_NAMES[int(i)], f"{float(v):.2%}") for v, i in zip(best.values, best.indices, strict=True)]


def weights_radio(at: AppTest) -> object:
    return at.radio(key="forward_weights_choice")


def fast(at: AppTest) -> AppTest:
    at.number_input(key="forward_runs").set_value(1).run()
    return at


def test_imagenet_weights_from_the_cache_name_the_top5(
    published: tuple[torch.nn.Module, bytes], hub: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, data = published
    name = name_offline(monkeypatch, data)
    hub.mkdir(parents=True)
    (hub / name).write_bytes(data)
    at = fast(start({"preset": "densenet121", "view": "Forward pass"}))
    at.radio(key="forward_source").set_value("flower").run()
    radio = weights_radio(at)
    assert list(radio.proto.captions)[1] == "torchvision's DenseNet-121"
    radio.set_value("imagenet").run()
    assert any(c.startswith(f":material/check: {name} is in {hub}/") for c in captions(at))
    ran(at)
    assert not at.error, [e.value for e in at.error]
    top5 = at.dataframe[0].value
    assert list(zip(top5["class"], top5["probability"], strict=True)) == imagenet_top5(model)
    assert shown(at).endswith(f"input: photo: flower · weights: Pretrained (ImageNet): {name}")
    assert not any("ranking means nothing" in c for c in captions(at))
    best = IMAGENET_NAMES.index(imagenet_top5(model)[0][0])
    assert headline_parts(at)[0] == f"**Grad-CAM** of {IMAGENET_NAMES[best]} (class {best}), the predicted class"
    assert [b.label for b in at.button if (b.key or "").startswith("forward_cam_link_")] == [
        "block 1 ↗", "transition 1 ↗", "block 2 ↗", "transition 2 ↗", "block 3 ↗", "transition 3 ↗", "block 4 ↗"
    ]  # fmt: skip


def test_imagenet_weights_are_downloaded_into_the_cache_once(
    published: tuple[torch.nn.Module, bytes], hub: Path, served: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    model, data = published
    _, name = on_server(served, monkeypatch, data)
    at = fast(start({"preset": "densenet121", "view": "Forward pass"}))
    at.radio(key="forward_source").set_value("flower").run()
    weights_radio(at).set_value("imagenet").run()
    assert any(c.startswith(f"Run downloads {name} (about ") for c in captions(at))
    ran(at)
    assert not at.error, [e.value for e in at.error]
    assert (hub / name).read_bytes() == data  # in torch's hub cache under the published name
    assert any(c.startswith(f":material/check: {name} is in {hub}/") for c in captions(at))  # the note follows
    top5 = at.dataframe[0].value
    assert list(zip(top5["class"], top5["probability"], strict=True)) == imagenet_top5(model)


def test_imagenet_weights_are_not_offered_for_other_designs_and_say_why() -> None:
    at = start({"preset": "tiny", "view": "Forward pass"})
    radio = weights_radio(at)
    assert list(radio.proto.captions)[1] == "DenseNet-121/161/169/201 only"
    radio.set_value("imagenet").run()
    warning = at.warning[0].value
    assert warning.startswith("Pretrained (ImageNet) is not offered for this design: published ImageNet weights exist")
    assert "this design is custom (k=8" in warning  # the tiny preset's growth rate
    assert at.button(key="forward_run").disabled
    at = start({"preset": "densenet121", "growth_rate": "24", "view": "Forward pass"})
    weights_radio(at).set_value("imagenet").run()
    assert "this design is custom (k=24, blocks 6,12,24,16" in at.warning[0].value
    assert at.button(key="forward_run").disabled


def test_without_network_the_sentence_names_the_file_and_folder_and_an_upload_loads_it(
    published: tuple[torch.nn.Module, bytes], hub: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, data = published
    name = name_offline(monkeypatch, data)  # a closed port: no network
    at = fast(start({"preset": "densenet121", "view": "Forward pass"}))
    at.radio(key="forward_source").set_value("flower").run()
    weights_radio(at).set_value("imagenet").run()
    assert any(c.startswith(f"Run downloads {name} (about ") and f" into {hub}/ once." in c for c in captions(at))
    ran(at)
    assert at.status[0].state == "error"
    error = at.error[0].value
    assert error.startswith(f"There is no network to download {name} (")
    assert error.endswith(f"place that file in {hub}/ (or upload it) and run again.")
    assert not hub.is_dir() or not any(hub.iterdir())  # nothing half-written is left

    # The uploader beside the choice takes only the published file.
    forged = data[:-1] + bytes([data[-1] ^ 1])
    at.file_uploader(key="forward_imagenet_file").set_value((name, forged, "application/octet-stream")).run()
    ran(at)
    error = at.error[0].value
    assert error.startswith(f"The uploaded {name} is not torchvision's published {name}: its SHA-256 starts ")
    at.file_uploader(key="forward_imagenet_file").set_value((name, data, "application/octet-stream")).run()
    ran(at)
    assert not at.error, [e.value for e in at.error]
    top5 = at.dataframe[0].value
    assert list(zip(top5["class"], top5["probability"], strict=True)) == imagenet_top5(model)
    assert shown(at).endswith(f"weights: Pretrained (ImageNet): {name}, uploaded")
    assert not hub.is_dir() or not any(hub.iterdir())  # an upload serves this session only: the cache is unchanged

    # Nothing else broke: random weights still run.
    weights_radio(at).set_value("random").run()
    ran(at)
    assert not at.error and shown(at).endswith("weights: random (untrained)")
