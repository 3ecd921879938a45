"""The jobs that make the Export view's files (densviz/jobs/files.py) on the local pool: real dot, real kaleido, real onnxruntime.

tests/test_jobs_ray.py runs the same tests on a local Ray instance.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Iterator

import onnx
import pytest

from densviz import jobs
from densviz.core.config import PRESETS
from densviz.draw.charts import ChartKind
from densviz.draw.options import GraphOptions
from densviz.export import ExportFormat
from densviz.jobs import Engine, FailureKind, InlineContext, JobState
from densviz.jobs.files import (
    FilesNotMadeError,
    FilesProgress,
    FilesRequest,
    OnnxRequest,
    make_files,
    onnx_model,
)
from densviz.nn.onnx import OnnxModel

TINY = PRESETS["tiny"]
K9 = TINY.config.replace(growth_rate=9)  # not the preset's 8: the files must be of the design asked for
WAIT_S = 180  # the first image in a fresh worker starts its Chromium; the machine is shared


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    """The process's engine, as the page uses it (tests/test_jobs_ray.py gives a Ray engine instead)."""
    yield jobs.engine()


def session() -> str:
    return f"test-files-{uuid.uuid4().hex[:8]}"


def test_a_files_job_makes_the_graph_and_chart_files_of_the_design(engine: Engine) -> None:
    request = FilesRequest(
        K9,
        TINY.input,
        GraphOptions(),
        graph_formats=(ExportFormat.PNG, ExportFormat.PDF, ExportFormat.HTML),
        chart=ChartKind.CHANNELS,
        chart_formats=(ExportFormat.SVG, ExportFormat.PDF),
    )
    job = engine.submit(session(), "files", make_files, request)
    assert job.wait(WAIT_S) and job.error() is None, job.error()
    made = job.result()
    names = [f.name for f in made.files]
    assert names == [
        "graph-dense.png",
        "graph-dense.pdf",
        "graph-dense.html",
        "chart-channels.svg",
        "chart-channels.pdf",
    ]
    by_name = {f.name: f for f in made.files}
    assert by_name["graph-dense.png"].data.startswith(b"\x89PNG\r\n\x1a\n")
    assert by_name["graph-dense.png"].mime == "image/png"
    assert by_name["graph-dense.pdf"].data.startswith(b"%PDF-") and by_name["chart-channels.pdf"].data.startswith(
        b"%PDF-"
    )
    page = by_name["graph-dense.html"].data.decode()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and 'id="features.denseblock1.denselayer2"' in page
    svg = by_name["chart-channels.svg"].data.decode()
    assert by_name["chart-channels.svg"].mime == "image/svg+xml"
    assert "adds k = 9;" in svg and "adds k = 8;" not in svg  # this design's chart, not the preset's
    assert made.size == sum(len(f.data) for f in made.files)
    steps = [r for r in job.history() if isinstance(r, FilesProgress)]
    assert steps[0].total == 2 and (steps[-1].done, steps[-1].step) == (2, "done")
    assert [r.done for r in steps] == sorted(r.done for r in steps)  # parts counted up, never back


def test_a_format_the_chart_does_not_have_is_a_sentence_not_an_empty_file(engine: Engine) -> None:
    request = FilesRequest(
        TINY.config, TINY.input, GraphOptions(), chart=ChartKind.VOLUME_3D, chart_formats=(ExportFormat.SVG,)
    )
    job = engine.submit(session(), "files", make_files, request)
    assert job.wait(WAIT_S) and job.state() is JobState.FAILED
    assert job.result() is None
    failure = job.failure()
    assert failure is not None and failure.kind is FailureKind.SURROUNDINGS
    assert failure.error == "FilesNotMadeError"
    assert failure.sentence == (
        "Could not make chart-volume3d.svg, so nothing was handed out. The 3-D volume chart is written as PNG "
        "and HTML only: as SVG or PDF it would hold the same raster image."
    )


def test_without_a_browser_chart_images_are_a_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")
    request = FilesRequest(TINY.config, TINY.input, GraphOptions(), chart_formats=(ExportFormat.PNG,))
    with pytest.raises(FilesNotMadeError) as refused:
        make_files(request, InlineContext())
    assert str(refused.value) == (
        "Could not make chart-channels.png, so nothing was handed out. Chart images need a Chromium browser, "
        "and none was found at BROWSER_PATH=/nonexistent/chromium (apt-get install chromium)."
    )


def test_stop_ends_a_files_job_and_nothing_is_handed_out(engine: Engine) -> None:
    request = FilesRequest(
        TINY.config,
        TINY.input,
        GraphOptions(),
        graph_formats=(ExportFormat.PNG,),
        chart_formats=(ExportFormat.PNG,),
        zip=True,
    )
    job = engine.submit(session(), "files", make_files, request)
    deadline = time.monotonic() + WAIT_S
    while not job.history() and not job.done() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert job.state() is JobState.RUNNING, (job, job.error())
    job.stop()
    assert job.wait(30)
    failure = job.failure()
    assert job.result() is None and failure is not None and failure.kind is FailureKind.STOPPED, failure
    assert failure.sentence.startswith("Stopped before it finished; nothing it ")


@pytest.mark.slow  # every chart in every format: about 20 images
def test_the_zip_holds_every_file_of_the_design(engine: Engine) -> None:
    request = FilesRequest(K9, TINY.input, GraphOptions(), zip=True)
    job = engine.submit(session(), "files", make_files, request)
    assert job.wait(WAIT_S) and job.error() is None, job.error()
    (made,) = job.result().files
    assert (made.name, made.mime) == ("densenet.zip", "application/zip")
    with zipfile.ZipFile(io.BytesIO(made.data)) as zf:
        names = set(zf.namelist())
        config = json.loads(zf.read("densenet/config.json"))
        svg = zf.read("densenet/chart-channels.svg").decode()
    assert config["config"]["growth_rate"] == 9 and config["config"]["block_config"] == [2, 2, 2]
    assert "adds k = 9;" in svg
    for kind in ChartKind:
        assert f"densenet/chart-{kind.value}.png" in names and f"densenet/chart-{kind.value}.html" in names
    assert {"densenet/graph-dense.svg", "densenet/graph-dense.png", "densenet/layers.csv"} <= names


def test_the_onnx_job_returns_a_model_checked_in_onnxruntime(engine: Engine) -> None:
    job = engine.submit(session(), "onnx", onnx_model, OnnxRequest(TINY.config, TINY.input))
    assert job.wait(WAIT_S) and job.error() is None, job.error()
    model = job.result()
    assert isinstance(model, OnnxModel)
    assert model.max_abs_difference < model.tolerance
    proto = onnx.load_from_string(model.data)
    assert "/features/denseblock2/denselayer2/conv1/Conv" in {n.name for n in proto.graph.node}
    assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim][1:] == [3, 32, 32]
