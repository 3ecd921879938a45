"""The job tests of tests/test_jobs.py on Ray: a local instance this module starts itself (no dashboard).

The same tests, the same job functions (and those of tests/test_jobs_files.py:
the Export view's files and the ONNX model; of tests/test_jobs_analysis.py: CAM,
feature maps, the profile and the fastest settings); only the engine differs. Ray's start
takes seconds to tens of seconds on a loaded machine, so the module runs with
the slow tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from densviz.jobs import Engine
from tests.test_jobs import (  # noqa: F401 (collected here with this module's engine)
    _idle_after,
    test_a_forward_pass_job_reports_every_pass_and_returns_a_run_that_rebuilds_the_model,
    test_a_job_must_be_a_module_level_function_on_plain_data,
    test_a_job_past_its_time_limit_is_stopped,
    test_a_killed_worker_is_replaced_and_its_job_says_so,
    test_a_session_runs_one_job_at_a_time,
    test_a_short_training_job_streams_its_log_and_returns_weights_that_load,
    test_an_exception_in_a_job_comes_back_as_a_sentence,
    test_stop_ends_a_training_run_after_its_step_and_keeps_what_it_learned,
    test_stop_kills_a_job_that_does_not_look_and_its_worker_is_replaced,
    test_the_end_of_a_session_frees_its_worker_for_the_next_in_line,
    test_the_queue_gives_places_refuses_when_full_and_replaces_a_sessions_older_job,
    test_the_sessions_check_ends_the_jobs_of_sessions_that_are_gone,
    test_the_training_step_probe_runs_as_a_job,
)
from tests.test_jobs_analysis import (  # noqa: F401 (CAM, feature maps, the profile and the fastest, on Ray)
    test_a_cam_job_gives_the_rows_cam_rows_gives_here_for_the_same_weights_and_input,
    test_a_cam_target_the_network_lacks_is_the_sentence_cam_rows_says,
    test_a_feature_maps_job_tiles_the_layer_as_the_explorer_did_here,
    test_a_profile_job_profiles_every_row_of_the_plan_with_its_trace,
    test_stop_ends_a_profile_between_two_passes,
    test_the_fastest_settings_over_their_limit_are_the_sentence_said_here,
)
from tests.test_jobs_files import (  # noqa: F401 (the Export view's files and the ONNX model, on Ray)
    test_a_files_job_makes_the_graph_and_chart_files_of_the_design,
    test_a_format_the_chart_does_not_have_is_a_sentence_not_an_empty_file,
    test_stop_ends_a_files_job_and_nothing_is_handed_out,
    test_the_onnx_job_returns_a_model_checked_in_onnxruntime,
)

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    import ray

    from densviz.jobs.ray_engine import RayEngine

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # no token under the home folder for a throwaway instance
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}},  # the workers import tests.*
    )
    try:
        ray_engine = RayEngine(workers=2, queue_limit=3)
        yield ray_engine
        ray_engine.shutdown()
    finally:
        ray.shutdown()


def test_the_jobs_run_in_ray_workers(engine: Engine) -> None:
    from tests.test_jobs import hold, running, session

    job = engine.submit(session(), "other", hold, 600.0)
    _, pid = running(job)
    assert pid != os.getpid()
    job.stop()
    assert job.wait(30) and job.result() == "stopped"
    assert type(engine).__name__ == "RayEngine"
