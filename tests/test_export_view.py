"""The Export view's images, pages and zip through Streamlit's AppTest: one button, a job, plain downloads.

The files are made by a real job on the process's engine (the local pool: real
``dot``, real kaleido in the worker), never in the page's process; what the
page offers is plain downloads (bytes, no deferred file), kept in the session
with the design they were made for. tests/test_export_downloads.py fetches them
from a real server over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

import densviz.export.images as images
from densviz.ui import export_files
from tests.helpers import start_app


def failing_without_browser(request: Any, ctx: Any) -> Any:
    """The real files job, in a worker that has no Chromium (as a machine without one): module-level for the worker."""
    import os

    from densviz.jobs.files import make_files

    before = os.environ.get("BROWSER_PATH")
    os.environ["BROWSER_PATH"] = "/nonexistent/chromium"
    try:
        return make_files(request, ctx)
    finally:
        if before is None:
            del os.environ["BROWSER_PATH"]
        else:
            os.environ["BROWSER_PATH"] = before


@pytest.fixture(autouse=True)
def forget_files() -> Iterator[None]:
    """Each test asks for its files afresh (the process keeps what any session made)."""
    export_files.SHARED.clear()
    yield
    export_files.SHARED.clear()


def export(k: int | None = None) -> AppTest:
    at = start_app({"preset": "tiny", "view": "Export"})
    if k is not None:
        at.slider(key="growth_rate").set_value(k).run()
    return at


def choose(at: AppTest, graph: list[str], chart: list[str]) -> AppTest:
    at.button_group(key="export_graph_formats").set_value(graph)
    at.button_group(key="export_chart_formats").set_value(chart)
    return at.run()


def make(at: AppTest) -> AppTest:
    at.button(key="export_make").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def downloads(at: AppTest) -> dict[str, Any]:
    return {b.proto.label: b.proto for b in at.get("download_button")}


def made(at: AppTest) -> dict[str, bytes]:
    kept = at.session_state[export_files.MADE_KEY]
    return {f.name: f.data for f in kept.files.files}


def not_here(*_args: Any, **_kwargs: Any) -> Any:
    raise AssertionError("a chart image was made in the page's process")


def test_one_button_makes_the_files_on_a_worker_and_offers_plain_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    import densviz.export.files

    for module in (images, densviz.export.files):  # the workers' own copies are untouched: they are other processes
        monkeypatch.setattr(module, "chart_images", not_here)
    at = choose(export(k=9), graph=["png"], chart=["svg"])
    assert "graph-dense.png" not in downloads(at)  # nothing is offered before the button is pressed
    assert not at.error
    make(at)
    assert not at.error and not at.warning
    offered = downloads(at)
    for name in ("graph-dense.png", "chart-channels.svg"):
        assert offered[name].url.startswith("/mock/media/") and not offered[name].deferred_file_id  # plain bytes
    files = made(at)
    assert list(files) == ["graph-dense.png", "chart-channels.svg"]
    assert files["graph-dense.png"].startswith(b"\x89PNG\r\n\x1a\n")
    assert "adds k = 9;" in files["chart-channels.svg"].decode()  # the design on the page (k = 9), not the preset's
    at.run()  # a rerun offers the same files at the same address: nothing is made on request
    assert downloads(at)["chart-channels.svg"].url == offered["chart-channels.svg"].url


def test_a_design_change_marks_the_files_as_an_earlier_designs() -> None:
    at = make(choose(export(), graph=[], chart=["svg"]))
    assert "adds k = 8;" in made(at)["chart-channels.svg"].decode()
    at.slider(key="growth_rate").set_value(9).run()
    assert [w.value for w in at.warning] == [
        "These files were made for an earlier design: since then the design changed. "
        "Press Make the files for the current one."
    ]
    assert "chart-channels.svg" in downloads(at)  # still offered, under the warning
    make(at)
    assert not at.warning
    assert "adds k = 9;" in made(at)["chart-channels.svg"].decode()


def test_another_session_gets_files_made_before_at_once() -> None:
    first = make(choose(export(), graph=[], chart=["svg"]))
    second = make(choose(export(), graph=[], chart=["svg"]))
    assert made(second)["chart-channels.svg"] is made(first)["chart-channels.svg"]  # the same bytes: no second job


def test_a_chart_image_that_cannot_be_made_is_a_sentence_not_an_empty_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_files, "make_files", failing_without_browser)
    at = make(choose(export(), graph=["pdf"], chart=["png"]))
    assert [e.value for e in at.error] == [
        "Could not make chart-channels.png, so nothing was handed out. Chart images need a Chromium browser, "
        "and none was found at BROWSER_PATH=/nonexistent/chromium (apt-get install chromium)."
    ]
    assert "chart-channels.png" not in downloads(at) and "graph-dense.pdf" not in downloads(at)
    assert export_files.MADE_KEY not in at.session_state


def test_the_button_waits_for_a_choice_and_the_3d_chart_offers_its_two_formats() -> None:
    at = choose(export(), graph=[], chart=[])
    assert at.button(key="export_make").disabled
    assert "Choose the files above, then press Make the files." in [c.value for c in at.caption]
    at.button_group(key="export_chart_formats").set_value(["svg"]).run()
    at.selectbox(key="export_chart").set_value("volume3d").run()
    pills = at.button_group(key="export_chart_formats")
    assert pills.options == ["HTML", "PNG"]  # a WebGL scene: no SVG or PDF that would wrap a raster
    assert pills.value == []  # the SVG chosen for the other chart is dropped, not kept out of sight
