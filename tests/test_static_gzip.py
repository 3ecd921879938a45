"""densviz app sends Streamlit's own files gzipped, compressed once, and leaves everything else as it was.

Gzip is on when the server answers other machines, off on loopback (where it
measured slightly slower). Over HTTP against the real ``densviz app`` server
with gzip on: the gzipped body is the file,
byte for byte; the security headers stay; a client without gzip, a range, a
conditional request and the page itself are answered as before. Against the
middleware itself: a file is compressed once however often and however its
path is spelled, two files that share an ETag are kept apart, and made-up
paths under ``/static/`` (Streamlit answers each with its index.html) keep
nothing.
"""

from __future__ import annotations

import asyncio
import gzip
import posixpath
import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from densviz.ui.serve import serves_other_machines
from densviz.ui.server_hooks import StaticGzip
from tests.app_server import ROOT, densviz_app, running

ARTIFACTS = ROOT / "artifacts"


# densviz app's server with gzip on, as it is when it answers other machines (this test stays on loopback).
GZIPPED = [sys.executable, "-c", "from densviz.ui.serve import serve; serve('127.0.0.1', {port}, compress_static=True)"]


@pytest.fixture(scope="module")
def app() -> Iterator[str]:
    ARTIFACTS.mkdir(exist_ok=True)
    with running(GZIPPED, log=ARTIFACTS / "server-static-gzip.log") as (url, _proc):
        yield url


def test_gzip_is_for_servers_that_answer_other_machines() -> None:
    assert not any(map(serves_other_machines, ["127.0.0.1", "127.0.1.1", "::1", "localhost", "LOCALHOST"]))
    assert all(map(serves_other_machines, ["0.0.0.0", "::", "192.168.1.20", "10.0.0.5", "densviz.example.org"]))


def test_on_loopback_densviz_app_sends_its_files_as_they_lie() -> None:
    with running(densviz_app(), log=ARTIFACTS / "server-static-gzip-loopback.log") as (url, _proc):
        script = re.search(r'src="\./(static/js/[^"]+\.js)"', requests.get(url, timeout=10).text)
        assert script is not None
        response, _ = _raw(f"{url}/{script.group(1)}", **{"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and response.headers.get("content-encoding") is None


def _raw(url: str, **headers: str) -> tuple[requests.Response, bytes]:
    """The response, and its body as sent (not decoded)."""
    response = requests.get(url, headers=headers, timeout=30, stream=True)
    return response, response.raw.read(decode_content=False)


def test_static_files_come_gzipped_and_whole(app: str) -> None:
    shell = requests.get(app, timeout=10)
    script = re.search(r'src="\./(static/js/[^"]+\.js)"', shell.text)
    assert script is not None
    url = f"{app}/{script.group(1)}"
    plain, plain_body = _raw(url, **{"Accept-Encoding": "identity"})
    packed, packed_body = _raw(url, **{"Accept-Encoding": "gzip, deflate, br"})
    assert plain.headers.get("content-encoding") is None
    assert packed.headers["content-encoding"] == "gzip"
    assert gzip.decompress(packed_body) == plain_body
    assert int(packed.headers["content-length"]) == len(packed_body)
    assert len(packed_body) < 0.5 * len(plain_body)  # minified JavaScript: about 3×
    assert "Accept-Encoding" in packed.headers["vary"]
    assert "accept-ranges" not in packed.headers  # a byte range of the gzip is not a byte range of the file
    for name in ("content-security-policy", "x-content-type-options", "cache-control", "etag"):
        assert packed.headers[name] == plain.headers[name]

    # What gzip must not touch: a refusal of gzip, a range, a conditional request, the page itself.
    refused, refused_body = _raw(url, **{"Accept-Encoding": "gzip;q=0, identity"})
    assert refused.headers.get("content-encoding") is None and refused_body == plain_body
    part, part_body = _raw(url, **{"Accept-Encoding": "gzip", "Range": "bytes=0-99"})
    assert part.status_code == 206 and part_body == plain_body[:100]
    same = requests.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": plain.headers["etag"]}, timeout=10)
    assert same.status_code == 304
    page, page_body = _raw(app, **{"Accept-Encoding": "gzip"})
    assert page.headers.get("content-encoding") is None and b"<script" in page_body


def test_a_woff2_font_is_sent_as_it_is(app: str) -> None:
    css_path = re.search(r'href="\./(static/css/[^"]+\.css)"', requests.get(app, timeout=10).text)
    assert css_path is not None
    css = requests.get(f"{app}/{css_path.group(1)}", timeout=10).text
    font = re.search(r"url\(\.\./(media/[^)]+\.woff2)\)", css)  # relative to static/css/
    assert font is not None, "Streamlit's CSS names no woff2 font"
    response, body = _raw(f"{app}/static/{font.group(1)}", **{"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and response.headers.get("content-encoding") is None  # already compressed
    assert body[:4] == b"wOF2"


class _Files:
    """Streamlit's static handler as the middleware sees it: two files of one size (so one ETag: Streamlit's is
    the file's time and size), and index.html for any other path."""

    def __init__(self) -> None:
        self.bodies = {
            "/static/js/a.js": (b"const a = 1;\n" * 4000, b'"same"'),
            "/static/js/b.js": (b"const b = 2;\n" * 4000, b'"same"'),
        }
        self.fallback = (b"<!doctype html><html>" + b"x" * 5000 + b"</html>", b'"index"')

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = posixpath.normpath(scope["path"])
        body, etag = self.bodies.get(path, self.fallback)
        kind = b"application/javascript" if path in self.bodies else b"text/html"
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", kind), (b"etag", etag)]}
        )
        half = len(body) // 2
        await send({"type": "http.response.body", "body": body[:half], "more_body": True})
        await send({"type": "http.response.body", "body": body[half:]})


def _get(app: Any, path: str) -> tuple[dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def one() -> None:
        scope = {"type": "http", "method": "GET", "path": path, "headers": [(b"accept-encoding", b"gzip")]}
        await app(scope, receive, send)

    asyncio.run(one())
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert len(starts) == 1
    return dict(starts[0]["headers"]), b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_each_file_is_compressed_once_and_made_up_paths_keep_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []
    real = gzip.compress

    def counting(data: bytes, *args: Any, **kwargs: Any) -> bytes:
        calls.append(data)
        return real(data, *args, **kwargs)

    monkeypatch.setattr(gzip, "compress", counting)
    files = _Files()
    middleware = StaticGzip(files)
    a, b = files.bodies["/static/js/a.js"][0], files.bodies["/static/js/b.js"][0]
    for path, want in (
        ("/static/js/a.js", a),
        ("/static/js/b.js", b),  # the same ETag as a.js, another file
        ("/static/js/a.js", a),
        ("/static/js/./a.js", a),  # another spelling of a.js's path
        ("/static//js/b.js", b),
    ):
        headers, body = _get(middleware, path)
        assert headers[b"content-encoding"] == b"gzip", path
        assert gzip.decompress(body) == want, path
        assert int(headers[b"content-length"]) == len(body)
    for i in range(50):  # Streamlit answers its index.html: sent as it is, nothing kept
        headers, body = _get(middleware, f"/static/js/made-up-{i}.js")
        assert b"content-encoding" not in headers and body == files.fallback[0]
    assert calls == [a, b]
