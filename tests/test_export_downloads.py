"""Files made as jobs stay downloadable: a real ``densviz app``, Streamlit's protocol, real GETs over HTTP.

Streamlit 1.67 deletes a file made on request (a deferred download) after the
second script run of any session: under load the browser's GET came too late
and got 404. The Export view now makes its files as a job and offers them as
plain downloads, whose address holds while the buttons are shown, however many
other sessions rerun. And the Forward pass view releases an uploaded image it
refused for its content at once, instead of holding it until the session ends.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState

from tests.app_server import ROOT, densviz_app, running
from tests.st_client import Run, Session, choice_many, trigger, uploaded

pytestmark = pytest.mark.slow  # a server of its own, a worker's Chromium

ARTIFACTS = ROOT / "artifacts"
EXPORT = "preset=tiny&view=Export"
FORWARD = "preset=tiny&view=Forward%20pass"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    ARTIFACTS.mkdir(exist_ok=True)
    with running(densviz_app(), log=ARTIFACTS / "server-export-downloads.log") as (url, _proc):
        yield url


def elements(run: Run, kind: str) -> list[Any]:
    return [e for k, e in run.elements() if k == kind]


def by_key(run: Run, kind: str, key: str) -> Any:
    return next(e for e in elements(run, kind) if e.id.endswith(f"-{key}"))


def errors(run: Run) -> list[str]:
    return [a.body for a in elements(run, "alert") if a.format == a.ERROR]


def get(base: str, url: str) -> bytes:
    with urllib.request.urlopen(f"{base}{url}", timeout=60) as response:
        return bytes(response.read())


def test_made_files_stay_downloadable_while_other_sessions_rerun(server: str) -> None:
    user = Session(server, timeout_s=240)
    first = user.rerun(EXPORT)
    picks = [
        choice_many(by_key(first, "button_group", "export_graph_formats").id, ["PDF"]),
        choice_many(by_key(first, "button_group", "export_chart_formats").id, ["SVG"]),
    ]
    made = user.rerun(EXPORT, [*picks, trigger(by_key(first, "button", "export_make").id)])
    assert made.finished_cleanly() and not errors(made), errors(made)
    offered = {d.label: d for d in elements(made, "download_button")}
    assert not offered["chart-channels.svg"].deferred_file_id and not offered["graph-dense.pdf"].deferred_file_id
    others = [Session(server) for _ in range(2)]
    for other in others:  # every run of any session collects unreferenced files
        for _ in range(3):
            assert other.rerun("preset=tiny").finished_cleanly()
    svg = get(server, offered["chart-channels.svg"].url).decode()
    assert "adds k = 8;" in svg  # the tiny preset's growth rate: this session's design
    assert get(server, offered["graph-dense.pdf"].url).startswith(b"%PDF-")
    again = user.rerun(EXPORT, picks)  # the next run of its own session shows them at the same address
    assert {d.label: d.url for d in elements(again, "download_button")}["chart-channels.svg"] == (
        offered["chart-channels.svg"].url
    )
    for s in [user, *others]:
        s.close()


def test_an_image_refused_for_its_content_is_released(server: str) -> None:
    user = Session(server, timeout_s=240)
    first = user.rerun(FORWARD)
    source = WidgetState(id=by_key(first, "radio", "forward_source").id, string_value="upload a PNG/JPEG")
    shown = user.rerun(FORWARD, [source])
    uploader = shown.uploaders()["Image (PNG or JPEG)"]
    (urls,) = user.file_urls(["photo.png"])
    data = b"this is not a picture at all" * 100
    assert user.put(urls.upload_url, "photo.png", data).status_code == 204
    image = uploaded(uploader, urls, "photo.png", len(data))
    run_button = by_key(first, "button", "forward_run").id
    refused = user.rerun(FORWARD, [source, image, trigger(run_button)])
    assert refused.finished_cleanly()
    assert errors(refused) == ["The file is not a PNG or JPEG image."]
    again = user.rerun(FORWARD, [source, image, trigger(run_button)])  # the browser still lists the file
    assert errors(again) == ["Choose a PNG or JPEG file to upload first."]  # the server let it go
    user.close()
