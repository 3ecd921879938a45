"""Streamlit's own files answered from memory after their first request (``StaticMemory``), and the server's
connections without Nagle's delay (``no_delay_on_listeners``)."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import requests

from densviz.ui import static_memory
from densviz.ui.sockets import no_delay_on_listeners
from densviz.ui.static_memory import StaticMemory
from tests.app_server import running, serve_script


class _Files:
    """Streamlit's static handler as the middleware sees it: two files, index.html for any other path; counts calls."""

    def __init__(self) -> None:
        self.bodies = {"/static/js/a.js": b"const a = 1;\n" * 4000, "/static/css/b.css": b"b{}" * 100}
        self.index = b"<!doctype html><html></html>"
        self.calls: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.calls.append(scope["path"])
        body = self.bodies.get(scope["path"])
        if body is None:
            start = [(b"content-type", b"text/html"), (b"etag", b'"index"')]
            body = self.index
        else:
            start = [(b"content-type", b"text/javascript"), (b"etag", b'"v1"'), (b"cache-control", b"immutable")]
        await send({"type": "http.response.start", "status": 200, "headers": start})
        half = len(body) // 2
        await send({"type": "http.response.body", "body": body[:half], "more_body": True})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body[half:]})


def _ask(
    app: Any, path: str, method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None
) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": method, "path": path, "headers": headers or []}
    asyncio.run(app(scope, receive, send))
    (start,) = [m for m in sent if m["type"] == "http.response.start"]
    return (
        start["status"],
        dict(start["headers"]),
        b"".join(m.get("body", b"") for m in sent if m["type"] != "http.response.start"),
    )


def test_a_file_is_read_from_the_handler_once_then_answered_from_memory() -> None:
    files = _Files()
    app = StaticMemory(files)
    first = _ask(app, "/static/js/a.js")
    for path in ("/static/js/a.js", "/static/js/./a.js", "/static//js/a.js"):  # any spelling of one file
        assert _ask(app, path) == first
    assert first[2] == files.bodies["/static/js/a.js"] and first[1][b"cache-control"] == b"immutable"
    assert files.calls == ["/static/js/a.js"]
    status, headers, body = _ask(app, "/static/js/a.js", "HEAD")
    assert (status, headers, body) == (200, first[1], b"") and len(files.calls) == 1


def test_html_ranges_conditions_and_other_paths_go_to_streamlit_every_time() -> None:
    files = _Files()
    app = StaticMemory(files)
    for _ in range(3):
        assert _ask(app, "/static/js/made-up.js")[2] == files.index  # index.html for a path that names no file
    _ask(app, "/static/js/a.js")
    asked = len(files.calls)
    _ask(app, "/static/js/a.js", headers=[(b"range", b"bytes=0-9")])
    _ask(app, "/static/js/a.js", headers=[(b"if-none-match", b'"v1"')])
    _ask(app, "/_stcore/health")
    assert files.calls[asked:] == ["/static/js/a.js", "/static/js/a.js", "/_stcore/health"]
    assert app.kept == 1


def test_no_more_than_the_most_files_are_kept(monkeypatch: Any) -> None:
    monkeypatch.setattr(static_memory, "MAX_KEPT", 1)
    files = _Files()
    app = StaticMemory(files)
    _ask(app, "/static/js/a.js")
    for _ in range(2):
        assert _ask(app, "/static/css/b.css")[2] == files.bodies["/static/css/b.css"]
    assert app.kept == 1 and files.calls.count("/static/css/b.css") == 2


def test_a_listening_socket_gets_no_delay_and_stays_open() -> None:
    with socket.socket(socket.AF_INET) as listener, socket.socket(socket.AF_INET) as other:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        other.bind(("127.0.0.1", 0))  # bound, not listening: left alone
        assert listener.proto == 0  # as Streamlit makes it: asyncio would not set the option on its connections
        assert ("127.0.0.1", listener.getsockname()[1]) in no_delay_on_listeners()
        assert other.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        with socket.create_connection(listener.getsockname()):
            accepted, _ = listener.accept()  # the listener still works: its descriptor was not closed
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


PAGE = """
import json, socket
import streamlit as st
from densviz.ui.sockets import _open_fds
found = []
for fd in _open_fds():
    try:
        s = socket.socket(fileno=fd)
    except OSError:
        continue
    try:
        if s.family == socket.AF_INET and s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            found.append([s.getsockname()[1], s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)])
    except OSError:
        pass
    finally:
        s.detach()
st.markdown(json.dumps(found))
"""


def test_the_served_page_listens_without_nagle(tmp_path: Path) -> None:
    """The server's own listening socket, seen from inside it: the option is set before any connection."""
    from tests.st_client import Session

    script = tmp_path / "listeners.py"
    script.write_text(PAGE)
    with running(serve_script(script)) as (url, _proc):
        port = int(url.rsplit(":", 1)[1])
        assert requests.get(f"{url}/_stcore/health", timeout=10).text == "ok"
        session = Session(url)
        try:
            found = json.loads(session.rerun().texts()[0])
        finally:
            session.close()
    assert [port, 1] in found, found
