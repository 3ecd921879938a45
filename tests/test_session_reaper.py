"""A closed tab's session ends with the reconnect window: its uploads and media files leave the server.

Real servers (``densviz app``'s way and ``streamlit run``) with a 4-second
``server.disconnectedSessionTTL``; what the server holds is read from its own
``/_stcore/metrics``. Before the reaper, a closed session's uploads and media
stayed for the life of the server.
"""

from __future__ import annotations

import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.app_server import ROOT, running, serve_script
from tests.st_client import Session

PAGE = Path(__file__).resolve().parent / "session_page.py"
TTL_S = 4
MIB = 1 << 20


def held(url: str) -> dict[str, int]:
    """Bytes held by uploads and media files, from the server's metrics."""
    text = urllib.request.urlopen(f"{url}/_stcore/metrics?families=cache_memory_bytes", timeout=30).read().decode()
    out = {"uploads": 0, "media": 0}
    for line in text.splitlines():
        size = int(line.rsplit(" ", 1)[1]) if line.startswith("cache_memory_bytes{") else 0
        if 'cache_type="UploadedFileManager"' in line:
            out["uploads"] += size
        elif 'cache_type="st_memory_media_file_storage"' in line:
            out["media"] += size
    return out


def _leave_things_behind(url: str) -> Session:
    session = Session(url)
    session.rerun()
    (urls,) = session.file_urls(["w.bin"])
    assert session.put(urls.upload_url, "w.bin", b"\1" * (4 * MIB)).status_code == 204
    return session


STREAMLIT_RUN = [sys.executable, "-m", "streamlit", "run", str(PAGE), "--server.headless", "true"]
STREAMLIT_RUN += ["--server.address", "127.0.0.1", "--server.port", "{port}", "--browser.gatherUsageStats", "false"]


@pytest.mark.parametrize(
    "command",
    [serve_script(PAGE), pytest.param(STREAMLIT_RUN, marks=pytest.mark.slow)],  # the second server: slow suite
    ids=["densviz-app", "streamlit-run"],
)
def test_a_closed_sessions_uploads_and_media_go_when_the_window_ends(command: list[str]) -> None:
    env: dict[str, str | None] = {"STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": str(TTL_S)}
    log = ROOT / "artifacts" / "server-session-reaper.log"
    with running(command, env=env, log=log) as (url, _proc):
        session = _leave_things_behind(url)
        while_open = held(url)
        assert while_open["uploads"] == 4 * MIB and while_open["media"] > 0
        session.close()
        time.sleep(1.0)
        assert held(url)["uploads"] == 4 * MIB  # within the window: kept, the tab may come back
        time.sleep(TTL_S + 2.0)
        assert held(url) == {"uploads": 0, "media": 0}


@pytest.mark.slow  # 10 s of waiting out the window
def test_a_session_that_comes_back_within_the_window_keeps_its_things() -> None:
    env: dict[str, str | None] = {"STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": str(TTL_S)}
    with running(serve_script(PAGE), env=env) as (url, _proc):
        first = _leave_things_behind(url)
        session_id = first.session_id
        first.close()
        time.sleep(1.0)
        back = Session(url, resume=session_id)  # the same tab, reconnected
        back.rerun()
        assert back.session_id == session_id
        time.sleep(TTL_S + 2.0)
        assert held(url)["uploads"] == 4 * MIB  # connected again: nothing was taken away
        back.close()
