"""The Forward pass view through Streamlit's AppTest: failures shown open, results tied to the settings that made them,
the weights chosen (ImageNet's among them) and the top-5 named where the classes are known."""

from __future__ import annotations

import functools
import http.server
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from densviz import build_model
from densviz.core.config import PRESETS
from densviz.run import sample_images, save_weights
from densviz.ui.session import TrainedWeights
from tests.helpers import start_app as start

TINY = PRESETS["tiny"].config


def ran(at: AppTest) -> AppTest:
    at.button(key="forward_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def forward_metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric[5:]}  # the first five are the headline's


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def shown(at: AppTest) -> str:
    return next(c for c in captions(at) if c.startswith("Shown: "))


def test_a_run_says_which_settings_produced_it_and_how_its_figures_were_found() -> None:
    at = ran(start({"preset": "tiny", "view": "Forward pass"}))
    assert shown(at) == (
        "Shown: the run on CPU, 1 thread (cpu) · fp32 · default layout (NCHW) · batch 1 · input: photo: temple · "
        "weights: random (untrained)"
    )
    assert not at.warning
    peak = next(m for m in at.metric if m.label == "Of the device's peak")
    assert int(peak.value.rstrip("%")) <= 100
    assert peak.help.split("The peak: ")[1].startswith(("best of fp32 GEMM", "raised to"))
    memory = next(m for m in at.metric if m.label == "Peak memory")
    assert memory.delta.endswith(" estimated") and "profiler" in memory.help
    figures = next(c for c in captions(at) if c.startswith("Peak: "))
    assert " measured (CPU allocator as the profiler records it" in figures and " estimated (the plan's" in figures
    assert "The weights are random (untrained): this ranking means nothing." in " ".join(captions(at))


def test_a_failed_run_shows_its_reason_open_and_marks_the_results_below_as_earlier() -> None:
    at = ran(start({"preset": "tiny", "view": "Forward pass"}))
    before = forward_metrics(at)
    at.radio(key="forward_source").set_value("upload").run()
    ran(at)  # no image uploaded: the run cannot start
    status = at.status[0]
    assert status.state == "error" and status.label == "The run did not start"
    assert status.proto.expanded  # open, with the steps it took
    assert [e.value for e in at.error] == ["Choose a PNG or JPEG file to upload first."]
    assert not status.error  # the reason stands outside the status box, visible when it is closed too
    warning = at.warning[0].value
    assert warning.startswith("Results of an earlier run with cpu · fp32 · default layout (NCHW) · batch 1 · ")
    assert "input: photo: temple" in warning and "since then the input changed" in warning
    assert "the latest run with the current settings did not finish" in warning
    assert forward_metrics(at) == before  # the earlier run's figures, under that warning


def test_changed_settings_mark_the_results_as_an_earlier_runs() -> None:
    at = ran(start({"preset": "tiny", "view": "Forward pass"}))
    at.number_input(key="forward_batch").set_value(2).run()
    at.toggle(key="forward_cl").set_value(True).run()
    warning = at.warning[0].value
    assert warning.startswith("Results of an earlier run with cpu · fp32 · default layout (NCHW) · batch 1 · ")
    assert "since then the layout, batch changed" in warning
    assert shown(at).startswith("Shown: the run on CPU, 1 thread (cpu) · fp32 · default layout (NCHW) · batch 1")
    ran(at)  # a run with the current settings: nothing is marked
    assert not at.warning
    assert shown(at).startswith("Shown: the run on CPU, 1 thread (cpu) · fp32 · channels-last · batch 2")


def test_another_network_hides_the_earlier_results() -> None:
    at = ran(start({"preset": "tiny", "view": "Forward pass"}))
    assert forward_metrics(at)
    at.slider(key="growth_rate").set_value(9).run()
    assert not at.exception and not forward_metrics(at)
    assert "The last run was of another network or input size, so its results are not shown." in captions(at)


def test_an_out_of_memory_run_marks_the_earlier_results(monkeypatch: pytest.MonkeyPatch) -> None:
    import densviz.ui.forward as forward

    at = ran(start({"preset": "tiny", "view": "Forward pass"}))

    monkeypatch.setattr(forward, "forward_job", oom_job)  # runs on the worker: imported there by name
    ran(at)
    assert at.status[0].state == "error" and at.status[0].proto.expanded and not at.status[0].error
    assert any("ran out of memory for batch 1" in e.value for e in at.error)
    assert at.warning[0].value.endswith(
        "the latest run with the current settings did not finish. Press Run for the current settings."
    )
    monkeypatch.undo()
    ran(at)
    assert not at.warning  # a finished run with these settings clears the mark


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
    from tests.test_pretrained import legacy_state, save

    torch.manual_seed(121)
    model = build_model(D121).eval()
    return model, save(legacy_state(model))


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch hub cache (its checkpoints folder), and the published URL pointed at a closed local port."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    return tmp_path / "torch" / "hub" / "checkpoints"


def point_at(monkeypatch: pytest.MonkeyPatch, data: bytes) -> str:
    """Name the published DenseNet-121 file after ``data``'s hash (as torch's hub checks it); its file name."""
    from densviz.run import pretrained
    from tests.test_pretrained import published_name

    name = published_name(data)
    monkeypatch.setitem(pretrained.IMAGENET_WEIGHTS, "densenet121", f"http://127.0.0.1:9/{name}")
    return name


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
    name = point_at(monkeypatch, data)
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


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server: (its base URL, the folder it serves)."""
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


def test_imagenet_weights_are_downloaded_into_the_cache_once(
    published: tuple[torch.nn.Module, bytes], hub: Path, served: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from densviz.run import pretrained
    from tests.test_pretrained import published_name

    model, data = published
    url, root = served
    name = published_name(data)
    (root / name).write_bytes(data)
    monkeypatch.setitem(pretrained.IMAGENET_WEIGHTS, "densenet121", f"{url}/{name}")
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
    name = point_at(monkeypatch, data)  # a closed port: no network
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


# --- where each block looks, and the links to the Graph view ------------------------------------------


def cam_headline(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith(("**Grad-CAM**", "**Gradient × activation**")))


def percent(text: str) -> float:
    return float(text.rstrip("%"))


def headline_parts(at: AppTest) -> tuple[str, float]:
    """The CAM row's headline without its probability, and the probability in percent."""
    said = cam_headline(at)
    match = re.fullmatch(r"(.*) \((\d+\.\d)%\)", said)
    assert match, said
    return match.group(1), float(match.group(2))


def test_the_cam_row_explains_the_predicted_or_a_chosen_class_block_by_block() -> None:
    at = ran(start({"preset": "tiny", "view": "Forward pass"}))
    top5 = at.dataframe[0].value
    best, p_best = int(top5["class"][0]), percent(top5["probability"][0])
    said, p_said = headline_parts(at)
    assert said == f"**Grad-CAM** of class {best}, the predicted class" and abs(p_said - p_best) <= 0.051
    # tiny has 3 blocks: block 1, transition 1, block 2, transition 2, block 3, each with a link to the Graph view
    links = [b.label for b in at.button if (b.key or "").startswith("forward_cam_link_")]
    assert links == ["block 1 ↗", "transition 1 ↗", "block 2 ↗", "transition 2 ↗", "block 3 ↗"]
    sizes = [c.value for c in at.caption if c.value.endswith("map") or " map: " in c.value]
    assert [s.split(" ")[0] for s in sizes] == ["32×32", "16×16", "16×16", "8×8", "8×8"]  # tiny's CIFAR stem, 32²
    assert any(c.value == "input 32×32" for c in at.caption)
    assert any("these maps show the wiring, not anything learned" in c.value for c in at.caption)

    at.segmented_control(key="forward_cam_method").set_value("gradxact").run()
    assert headline_parts(at)[0] == f"**Gradient × activation** of class {best}, the predicted class"
    other, p_other = int(top5["class"][1]), percent(top5["probability"][1])
    at.selectbox(key="forward_cam_target").set_value(other).run()
    said = cam_headline(at)
    match = re.fullmatch(
        rf"\*\*Gradient × activation\*\* of class {other} \((.+)%\); the network predicts class {best} \((.+)%\)", said
    )
    assert match, said
    assert abs(float(match.group(1)) - p_other) <= 0.051 and abs(float(match.group(2)) - p_best) <= 0.051
    assert not at.exception and not at.error


def test_a_cam_panel_and_a_feature_map_open_the_graph_view_on_their_module() -> None:
    at = ran(start({"preset": "tiny", "view": "Forward pass"}))
    at.button(key="forward_cam_link_features.transition1").click().run()
    assert at.session_state["view"] == "Graph" and at.session_state["node"] == "features.transition1"
    assert not at.exception, [e.value for e in at.exception]

    at = ran(start({"preset": "tiny", "view": "Forward pass"}))
    at.selectbox(key="forward_layer").set_value("features.denseblock2.denselayer1").run()
    at.button(key="forward_layer_link").click().run()
    assert at.session_state["view"] == "Graph" and at.session_state["node"] == "features.denseblock2.denselayer1"


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ("features.denseblock2.denselayer2", "features.denseblock2.denselayer2"),
        ("features.denseblock2.denselayer2.conv1", "features.denseblock2.denselayer2"),  # inside a dense layer
        ("features.norm5", "features.norm5"),  # a module the list lacks is added in its place
    ],
)
def test_a_module_sent_from_the_graph_view_is_shown_by_the_explorer(sent: str, shown: str) -> None:
    at = start({"preset": "tiny", "view": "Graph"})
    at.session_state["forward_layer"] = sent  # what the Graph view's "Feature maps of this layer" sets
    at.session_state["view"] = "Forward pass"
    at.run()
    assert f"Press Run to see the feature maps of {shown}." in [i.value for i in at.info]
    ran(at)
    layer = at.selectbox(key="forward_layer")
    assert layer.value == shown
    if shown == "features.norm5":
        assert layer.options[-2:] == ["features.denseblock3", "features.norm5"]  # after the last block's output
    assert not at.exception


def test_the_classifier_sent_from_the_graph_view_is_said_to_have_no_maps() -> None:
    at = ran(start({"preset": "tiny", "view": "Forward pass"}))
    at.segmented_control(key="view").set_value("Graph").run()
    at.session_state["forward_layer"] = "classifier"  # what the Graph view's "Feature maps of this layer" would set
    at.session_state["view"] = "Forward pass"
    at.run()
    assert any(c.value.startswith("classifier has no feature maps to show") for c in at.caption)
    assert at.selectbox(key="forward_layer").value == "features.denseblock1.denselayer2"  # the explorer's default


# --- compiled runs and the profile, with the view's settings -----------------------------------------


def test_the_compiled_toggle_reaches_the_run_and_a_compile_that_cannot_run_is_a_sentence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(forward_module(), "forward_job", no_compiler_job)  # the worker has no compiler
    at = ran(start({"preset": "tiny", "view": "Forward pass"}))
    toggle = at.toggle(key="forward_compiled")
    assert toggle.label == "Compiled" and not toggle.value
    toggle.set_value(True).run()
    assert "since then the compiling changed" in at.warning[0].value  # the earlier run was eager
    ran(at)
    assert at.status[0].state == "error" and at.status[0].label == "Could not compile"
    assert [e.value for e in at.error] == ["Compiling needs a C++ compiler, none here."]


def test_the_profile_is_its_own_section_with_the_views_settings() -> None:
    at = start({"preset": "tiny", "view": "Forward pass"})
    at.number_input(key="forward_batch").set_value(2).run()
    at.toggle(key="forward_cl").set_value(True).run()
    at.segmented_control(key="forward_mode").set_value("profile").run()
    assert not at.exception, [e.value for e in at.exception]
    assert [b.key for b in at.button if b.key in ("forward_run", "profile_run")] == ["profile_run"]
    said = " ".join(c.value for c in at.caption)
    assert "cpu · fp32 · channels-last · batch 2 · 5 profiled passes · 1 thread" in said  # the controls above
    at.segmented_control(key="forward_mode").set_value("run").run()
    assert at.button(key="forward_run") and not [b for b in at.button if b.key == "profile_run"]


def oom_job(_request: object, _ctx: object) -> None:
    """A forward-pass job that runs out of memory (module level: the worker imports it by name)."""
    raise torch.OutOfMemoryError("CUDA out of memory.")


def forward_module():  # type: ignore[no-untyped-def]
    import densviz.ui.forward as forward

    return forward


def no_compiler_job(request, ctx):  # type: ignore[no-untyped-def]
    """As a worker without a C++ compiler answers a compiled run (module level: the worker imports it by name)."""
    from densviz.jobs import work
    from densviz.run.compiled import CompileError

    if request.options.compiled:
        raise CompileError("compiling needs a C++ compiler, none here.")
    return work.forward(request, ctx)


def test_a_training_step_is_measured_on_a_worker_and_shown_beside_the_estimate() -> None:
    at = start({"preset": "tiny", "view": "Forward pass"})
    at.button(key="forward_train").click().run(timeout=180)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    table = next(df.value for df in at.dataframe if "implementation" in df.value.columns)
    assert list(table["implementation"]) == ["naive", "memory-efficient"]
    # Both measured peaks are real amounts (a failed or skipped measurement would show none).
    assert all(value.endswith(("B", "KiB", "MiB", "GiB")) for value in table["measured"])
    assert any(c.startswith("Measured: peak above the process's level") for c in captions(at))
