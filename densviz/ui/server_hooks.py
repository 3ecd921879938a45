"""What ``densviz app`` adds to Streamlit's server: security headers, the upload gate, the runtime's guards.

The first two are plain ASGI middleware, handed to Streamlit through
``st.App(middleware=…)``, so they see every HTTP request the server answers:
the page, its static files, ``/_stcore/health``, uploads, media and component
files.

* :class:`SecurityHeaders` sets ``Content-Security-Policy``, ``X-Frame-Options``,
  ``X-Content-Type-Options`` and ``Referrer-Policy`` on every response.
* :class:`UploadGate` refuses an upload before reading its body: an address the
  server never issued to that session, a ``Content-Length`` over the limit of
  the uploaders that take its type or over what the session may still hold,
  and a body that outgrows that while it streams (``Transfer-Encoding:
  chunked`` says no length). The rules are :class:`densviz.ui.uploads.UploadGuard`'s.
* :class:`StaticGzip` answers Streamlit's own files (``/static/``: 7.4 MiB of
  JavaScript, CSS and fonts, 2.5 MiB gzipped) gzipped to a browser that takes
  it, each file compressed once, in a worker thread, and kept. ``densviz app``
  puts it in when it answers other machines (:func:`densviz.ui.serve.serve`).
* :func:`install_runtime_guards` puts the upload guard round the runtime's
  upload manager and ends closed tabs' sessions (:mod:`densviz.ui.sessions`).
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import posixpath
import re
from collections.abc import Awaitable, Callable, MutableMapping
from functools import cache
from pathlib import Path
from typing import Any

from densviz.ui import sessions, uploads

__all__ = [
    "SecurityHeaders",
    "StaticGzip",
    "UploadGate",
    "content_security_policy",
    "inline_script_hashes",
    "install_runtime_guards",
]


def install_runtime_guards() -> None:
    """The guards that live in Streamlit's runtime rather than its web server (once per server; cheap to repeat).

    The upload guard (:mod:`densviz.ui.uploads`) and the end of closed tabs'
    sessions (:mod:`densviz.ui.sessions`). ``densviz app`` installs them as
    it starts; the page calls this on every run, which covers
    ``streamlit run app.py``.
    """
    uploads.install_upload_guard()
    sessions.install_session_reaper()


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)  # a bare <script>: no src, no type


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@cache
def inline_script_hashes() -> tuple[str, ...]:
    """CSP sources for the only inline scripts the page runs, by their hashes.

    Streamlit's ``index.html`` has one (``window.prerenderReady = false``); the
    framed zoom-and-pan graph (an ``srcdoc`` iframe, which lives under the
    page's policy) has its own, and so has the Forward pass view's uploader
    helper (``st.html`` with JavaScript). All are read from the installed code,
    so the hashes follow a change of any of them; a script whose text changes
    from run to run cannot be allowed this way.
    """
    import streamlit

    from densviz.ui import forward_uploads
    from densviz.ui.panzoom import panzoom_page

    pages = [
        (Path(streamlit.__file__).parent / "static" / "index.html").read_text(),
        panzoom_page("<svg></svg>"),
        forward_uploads.SCRIPT,
    ]
    return tuple(dict.fromkeys(_sha256(s) for page in pages for s in _INLINE_SCRIPT.findall(page)))


def content_security_policy() -> str:
    """The policy of every response: only this server's own files, no inline script but the page's own.

    ``script-src``: this server's files, the inline scripts the page itself
    writes (by hash), ``blob:`` (Streamlit loads a component's JavaScript, such
    as the Graph view's, as a blob it made from this server's message) and
    ``'wasm-unsafe-eval'`` (Streamlit's protobuf decoder compiles WebAssembly;
    no JavaScript ``eval``).
    ``style-src 'unsafe-inline'``: Streamlit writes its styles at run time (CSS in
    JS) and Graphviz's SVG carries style attributes. ``data:``/``blob:`` images
    and fonts: plotly's and Streamlit's own. ``frame-ancestors 'self'``: only
    this app may frame it (the Graph view's frame is the page's own ``srcdoc``).
    """
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", "'wasm-unsafe-eval'", "blob:", *inline_script_hashes()],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "media-src": ["'self'", "data:", "blob:"],
        "worker-src": ["'self'", "blob:"],
        "frame-src": ["'self'"],
        "frame-ancestors": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
    }
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


class SecurityHeaders:
    """ASGI middleware: the security headers on every HTTP response (a header the app set is kept)."""

    def __init__(self, app: ASGIApp):
        self.app = app
        self._headers = [
            (b"content-security-policy", content_security_policy().encode()),
            (b"x-frame-options", b"SAMEORIGIN"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to its response's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in self._headers if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


_UPLOAD_PATH = re.compile(r"/_stcore/upload_file/([^/]+)/([^/]+)$")
# Streamlit's own margin over a file for its multipart framing (boundaries, part headers, the name).
_FRAMING_BYTES = 1 << 20


class UploadGate:
    """ASGI middleware: an upload is refused before its body is read when :class:`~densviz.ui.uploads.UploadGuard` says so."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass anything but an upload on; refuse an upload the guard refuses, before or while its body arrives."""
        match = _UPLOAD_PATH.search(scope.get("path", "")) if scope["type"] == "http" else None
        guard = uploads.installed_guard() if match and scope.get("method") == "PUT" else None
        if match is None or guard is None:
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        verdict = guard.verdict(
            match.group(1), match.group(2), None if length is None else max(length - _FRAMING_BYTES, 0)
        )
        if verdict.status:
            await _refuse(send, verdict.status, verdict.message)
            return
        allowed = verdict.max_bytes + _FRAMING_BYTES
        received = 0
        over = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > allowed:
                    over = True  # the app sees the client leave; the client gets 413 below
                    return {"type": "http.disconnect"}
            return message

        async def quiet_send(message: Message) -> None:
            nonlocal started
            if not over:
                started = started or message["type"] == "http.response.start"
                await send(message)

        try:
            await self.app(scope, counting_receive, quiet_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await _refuse(send, 413, f"The upload grew past the {allowed - _FRAMING_BYTES:,} bytes it may hold.")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, status: int, message: str) -> None:
    body = message.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),  # the body we did not read is not waited for
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


_COMPRESSIBLE = (b"javascript", b"text/css", b"text/plain", b"json", b"svg", b"wasm", b"font/ttf", b"font/otf")
_GZIP_LEVEL = 9  # once per file, so the smallest: the files are sent far more often than compressed
_MAX_KEPT = 2048  # files kept compressed; Streamlit 1.67 ships about 370 under /static/


class StaticGzip:
    """ASGI middleware: Streamlit's own files (``/static/…``) gzipped, to a browser that accepts gzip.

    Streamlit serves them as they lie on disk (7.4 MiB; a new visitor's first
    screen fetches 3.1 MiB of them, about 1.3 MiB gzipped) and leaves them out
    of its own gzip middleware because that one compresses again on every
    request. Here each is compressed once, in a worker thread (the event loop
    carries every session's messages), and kept for the server's life by its
    path and ETag (Streamlit's ETag is the file's time and size, the same for
    two files of one size, so the path is part of the key): after that a
    request costs a dictionary look-up and its file's bytes are not held.
    Only real files are kept (a made-up path under ``/static/`` answers
    index.html, which passes through), so at most the installed Streamlit's
    (2.5 MiB if all were asked for), and never more than :data:`_MAX_KEPT`.

    Only a complete ``200`` of a compressible type is touched; HTML, a range,
    a ``304``, a file already encoded (woff2 fonts, images), a response without
    an ETag and a client without gzip pass through as they came.
    """

    def __init__(self, app: ASGIApp):
        self.app = app
        self._kept: dict[tuple[str, bytes], asyncio.Future[bytes]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; answer with the gzipped file when the response is one of Streamlit's files."""
        if (
            scope["type"] != "http"
            or scope.get("method") != "GET"  # a HEAD's empty body must never be kept as the file's
            or not scope.get("path", "").startswith("/static/")
            or not _accepts_gzip(scope)
            or _header(scope.get("headers", []), b"range") is not None
        ):
            await self.app(scope, receive, send)
            return
        path = posixpath.normpath(scope["path"])  # one key per file, however a client spells its path
        start: Message | None = None  # held while the file's bytes come in to be compressed
        answered = False  # sent from what is kept: the app's own bytes are dropped
        chunks: list[bytes] = []

        async def intercept(message: Message) -> None:
            nonlocal start, answered
            if answered:
                return
            if message["type"] == "http.response.start":
                etag = _header(message.get("headers", []), b"etag")
                if etag is None or not _worth_compressing(message):
                    await send(message)  # not ours: passed through as it comes
                    return
                kept = self._kept.get((path, etag))
                if kept is not None and kept.done() and kept.exception() is None:
                    answered = True
                    await _send_packed(send, message, kept.result())
                else:
                    start = message
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await self._compress_and_send(send, start, path, b"".join(chunks))
            else:
                await send(message)

        await self.app(scope, receive, intercept)

    async def _compress_and_send(self, send: Send, start: Message, path: str, body: bytes) -> None:
        key = (path, _header(start.get("headers", []), b"etag") or b"")
        job = self._kept.get(key)
        if job is None:
            if len(self._kept) >= _MAX_KEPT:  # more than Streamlit has files: send it as it is
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
            job = self._kept[key] = asyncio.ensure_future(asyncio.to_thread(gzip.compress, body, _GZIP_LEVEL, mtime=0))
        await _send_packed(send, start, await job)


async def _send_packed(send: Send, start: Message, packed: bytes) -> None:
    """The response ``start`` began, with the gzipped ``packed`` as its body."""
    drop = (b"content-length", b"accept-ranges")  # a byte range of the gzip is not one of the file
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in drop]
    headers += [(b"content-encoding", b"gzip"), (b"content-length", str(len(packed)).encode())]
    if _header(headers, b"vary") is None:
        headers.append((b"vary", b"Accept-Encoding"))
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": packed})


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    return next((v for k, v in headers if k.lower() == name), None)


def _accepts_gzip(scope: Scope) -> bool:
    accepted = (_header(scope.get("headers", []), b"accept-encoding") or b"").lower()
    return any(
        part.split(b";")[0].strip() == b"gzip" and not part.replace(b" ", b"").endswith(b"q=0")
        for part in accepted.split(b",")
    )


def _worth_compressing(start: Message) -> bool:
    """A plain ``200`` of a text-like type other than HTML, not already encoded."""
    headers = start.get("headers", [])
    kind = (_header(headers, b"content-type") or b"").lower()
    return (
        start.get("status") == 200
        and _header(headers, b"content-encoding") is None
        and any(word in kind for word in _COMPRESSIBLE)
    )
