"""The server holds uploads to the page's limits: real servers, real PUTs over HTTP, memory read from /proc.

Once, three 200 MB PUTs to made-up file ids under the 1 MB config uploader were
accepted and raised the server from 501 to 1,102 MB until the session closed.
Here the same PUTs are refused, by ``densviz app`` before their bodies are read
and by ``streamlit run`` (the guard the page installs) once read, and the
server's memory does not grow by what was sent.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.app_server import ROOT, densviz_app, running, serve_script
from tests.browser.server import rss_bytes
from tests.st_client import Session, uploaded

ARTIFACTS = ROOT / "artifacts"
PAGE = Path(__file__).resolve().parent / "upload_page.py"
MIB = 1 << 20


@pytest.fixture(scope="module")
def app() -> Iterator[tuple[str, int]]:
    """``densviz app``: the real page, with the gate."""
    ARTIFACTS.mkdir(exist_ok=True)
    with running(densviz_app(), log=ARTIFACTS / "server-upload-guard-app.log") as (url, proc):
        yield url, proc.pid


@pytest.fixture(scope="module")
def gated() -> Iterator[str]:
    """The two-uploader test page (config JSON ≤ 64 KiB, weights .bin ≤ 8 MiB) with ``densviz app``'s hooks."""
    ARTIFACTS.mkdir(exist_ok=True)
    with running(serve_script(PAGE), log=ARTIFACTS / "server-upload-guard-page.log") as (url, _proc):
        yield url


@pytest.fixture
def session(gated: str) -> Iterator[Session]:
    s = Session(gated)
    s.rerun()
    yield s
    s.close()


def _settled_rss(pid: int) -> int:
    time.sleep(1.0)  # the event loop has dropped the request's buffers
    return rss_bytes(pid)


def test_made_up_file_ids_are_refused_before_their_bodies_and_memory_stays(app: tuple[str, int]) -> None:
    url, pid = app
    s = Session(url)
    s.rerun("preset=tiny")
    before = _settled_rss(pid)
    for i in range(3):
        path = f"/_stcore/upload_file/{s.session_id}/made-up-{i}"
        status, body, sent = s.put_declared(path, "config.json", 200_000_000, send_bytes=4 * MIB)
        assert status == 403, body
        assert "not issued to this session" in body
        assert sent < 200_000_000  # answered with most of the body unsent: it was never read
    grew = _settled_rss(pid) - before
    s.close()
    assert grew < 32 * MIB, f"RSS grew by {grew / MIB:.0f} MiB for 600 MB of refused uploads"


def test_an_issued_address_of_another_session_is_refused(app: tuple[str, int]) -> None:
    url, _pid = app
    owner, other = Session(url), Session(url)
    owner.rerun("preset=tiny")
    other.rerun("preset=tiny")
    (urls,) = owner.file_urls(["config.json"])
    stolen = urls.upload_url.replace(owner.session_id, other.session_id)
    assert other.put(stolen, "config.json", b"{}").status_code == 403
    assert owner.put(urls.upload_url, "config.json", b"{}").status_code == 204
    owner.close()
    other.close()


def test_a_file_over_its_uploaders_limit_is_refused_from_its_length(session: Session) -> None:
    (urls,) = session.file_urls(["big.json"])
    status, body, _sent = session.put_declared(urls.upload_url, "big.json", 100 << 10, send_bytes=100 << 10)
    assert status == 413 and "64.0 KiB" in body  # the config uploader's limit, not the server's 256 MB
    assert session.put(urls.upload_url, "big.json", b"{" + b" " * ((64 << 10) - 2) + b"}").status_code == 204


def test_a_body_that_outgrows_its_limit_without_a_length_is_cut_off(session: Session) -> None:
    (urls,) = session.file_urls(["chunked.json"])
    boundary = "b0undary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="chunked.json"\r\n\r\n'.encode(),
        *([b"x" * (64 << 10)] * 40),  # 2.5 MiB in chunks: over 64 KiB and over the 1 MiB framing margin
        f"\r\n--{boundary}--\r\n".encode(),
    ]
    response = session.http.put(
        f"{session.base}{urls.upload_url}",
        data=iter(parts),  # a generator: Transfer-Encoding: chunked, no Content-Length
        headers={"X-Xsrftoken": session.xsrf, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        timeout=60,
    )
    assert response.status_code == 413, response.text
    assert "held: 0" in session.rerun().texts()


def test_a_file_of_another_type_than_its_address_was_asked_for_is_refused(session: Session) -> None:
    (json_url,) = session.file_urls(["a.json"])  # asked for as JSON (64 KiB), sent as weights (8 MiB)
    assert session.put(json_url.upload_url, "a.bin", b"{}").status_code == 415


def test_a_type_no_uploader_registered_keeps_streamlits_limit(session: Session) -> None:
    (txt,) = session.file_urls(["notes.txt"])
    assert session.put(txt.upload_url, "notes.txt", b"hello").status_code == 204  # within the session's bound
    status, body, _sent = session.put_declared(txt.upload_url, "notes.txt", 257 * MIB, send_bytes=MIB)
    assert status == 413 and "256 MiB" in body  # server.maxUploadSize


def test_a_session_holds_at_most_one_file_per_uploader_at_its_limit(session: Session) -> None:
    first, second = session.file_urls(["w1.bin", "w2.bin"])
    eight = b"\1" * (8 << 20)
    assert session.put(first.upload_url, "w1.bin", eight).status_code == 204
    # Sent by hand: the server may answer before it has read the body, which `requests` reports as a broken connection.
    status, body, _ = session.put_declared(second.upload_url, "w2.bin", len(eight), send_bytes=len(eight))
    assert status == 413 and "at most 8.06 MiB in all" in body  # 8 MiB + 64 KiB
    assert session.delete(first.delete_url) == 204  # the user removes the first file
    assert session.put(second.upload_url, "w2.bin", eight).status_code == 204
    assert f"held: {8 << 20}" in session.rerun().texts()


def test_a_session_holds_a_few_files_at_most(session: Session) -> None:
    urls = session.file_urls([f"c{i}.json" for i in range(5)])
    codes = [session.put(u.upload_url, u.upload_url.rsplit("/", 1)[1] + ".json", b"{}").status_code for u in urls]
    assert codes == [204, 204, 204, 204, 413]  # two uploaders, and room for two being replaced


def test_a_refused_file_is_released_at_once(session: Session) -> None:
    run = session.rerun()
    widget = run.uploaders()["Config"]
    (urls,) = session.file_urls(["notes.json"])
    data = b"not a config " * 1000
    assert session.put(urls.upload_url, "notes.json", data).status_code == 204
    assert f"held: {len(data)}" in session.rerun().texts()  # held until the page looks at it
    texts = session.rerun(widgets=[uploaded(widget, urls, "notes.json", len(data))]).texts()
    assert "refused and released" in texts and "held: 0" in texts and "config now: none" in texts
    again = session.rerun(widgets=[uploaded(widget, urls, "notes.json", len(data))])  # the browser still lists it
    assert "config now: none" in again.texts() and "held: 0" in again.texts()
    assert again.finished_cleanly()  # the next run raises nothing over the file that is gone


def test_streamlit_run_gets_the_guard_from_the_pages_first_run() -> None:
    """Without ``densviz app``'s gate, the page's guard still refuses (after reading the body) and frees it."""
    command = [sys.executable, "-m", "streamlit", "run", str(PAGE), "--server.headless", "true"]
    command += ["--server.address", "127.0.0.1", "--server.port", "{port}", "--browser.gatherUsageStats", "false"]
    with running(command, log=ARTIFACTS / "server-upload-guard-plain.log") as (url, proc):
        s = Session(url)
        s.rerun()
        before = _settled_rss(proc.pid)
        for i in range(3):
            path = f"/_stcore/upload_file/{s.session_id}/made-up-{i}"
            status, body, sent = s.put_declared(path, "config.json", 50 * MIB, send_bytes=50 * MIB)
            assert (status, sent) == (403, 50 * MIB), body
        grew = _settled_rss(proc.pid) - before
        (urls,) = s.file_urls(["big.json"])
        assert s.put(urls.upload_url, "big.json", b"{" + b" " * (100 << 10) + b"}").status_code == 413
        assert "held: 0" in s.rerun().texts()
        s.close()
    assert grew < 32 * MIB, f"RSS grew by {grew / MIB:.0f} MiB for 150 MB of refused uploads"


def test_the_client_is_honest_about_xsrf(gated: str) -> None:
    """The PUTs above pass Streamlit's XSRF check as a browser's do; without the token they do not."""
    s = Session(gated)
    s.rerun()
    (urls,) = s.file_urls(["a.json"])
    response = requests.put(f"{gated}{urls.upload_url}", files={"file": ("a.json", b"{}")}, timeout=30)
    assert response.status_code == 403 and "XSRF" in response.text
    s.close()
