"""The Forward pass view through Streamlit's AppTest: failures shown open, results tied to the settings that made them,
compiled runs, the profile and the training step measured on a worker.

The weights' tests are in ``test_forward_weights.py``, the CAM row's and the
links to the Graph view in ``test_forward_cam.py``.
"""

from __future__ import annotations

import pytest
import torch

from tests.forward_page import captions, forward_metrics, ran, shown
from tests.helpers import start_app as start


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
