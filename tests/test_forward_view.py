"""The Forward pass view through Streamlit's AppTest: failures shown open, results tied to the settings that made them."""

from __future__ import annotations

import pytest
import torch
from streamlit.testing.v1 import AppTest

from densviz import build_model
from densviz.core.config import PRESETS
from densviz.run import save_weights
from densviz.ui.session import TrainedWeights
from tests.test_app import start

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

    def oom(*_args: object, **_kwargs: object) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory.")

    monkeypatch.setattr(forward, "run_forward", oom)
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


def test_random_weights_give_class_indices_and_say_so() -> None:
    at = ran(start({"preset": "tiny", "view": "Forward pass"}))
    top5 = at.dataframe[0].value
    assert all(isinstance(c, int) for c in top5["class"])
    assert any(
        c.endswith(
            "The weights are random (untrained): this ranking means nothing. Load a checkpoint for real predictions."
        )
        for c in captions(at)
    )
