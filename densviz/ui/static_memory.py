"""Streamlit's own files answered from memory: a first visit's sixty-odd scripts without sixty trips through the disk.

A new visitor's browser asks for about a hundred of Streamlit's files
(``/static/…``: the page's scripts, then the chunks of each kind of widget the
first screen shows), six at a time. Streamlit's handler answers each from disk:
a ``stat``, an open, and the file read in 64 KiB pieces, each piece a hop to a
worker thread and back to the event loop that also carries every session's
messages. On this machine the first visit's 61 first files (2.2 MiB) took
0.25–0.32 s to serve that way, and the visit's first chart waited for them.

:class:`StaticMemory` keeps each file's response the first time it is asked
for (Streamlit's status and headers, ETag and cache rules included, and the
bytes) and answers later requests for it from memory, without calling
Streamlit's handler. Streamlit's files are fixed for the life of the server
(they are the installed package's, with the content's hash in their names).
Only a complete ``200`` with an ETag that is not HTML is kept (a made-up path
under ``/static/`` answers index.html, which is never kept), so what is kept
is at most the installed Streamlit's files (7.4 MiB if every one were asked
for) and never more than :data:`MAX_KEPT` of them. A request with a range or a
condition (``If-None-Match``, ``If-Modified-Since``) goes to Streamlit, which
answers those rules itself.
"""

from __future__ import annotations

import posixpath
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["MAX_KEPT", "StaticMemory"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_KEPT = 1024
"""The most files kept (the installed Streamlit has about 330 under ``/static/``)."""

_PASS_ON = (b"range", b"if-none-match", b"if-modified-since", b"if-range")


def _header(headers: Any, name: bytes) -> bytes | None:
    return next((v for k, v in headers if k.lower() == name), None)


class StaticMemory:
    """ASGI middleware: each of Streamlit's files answered from memory after its first request.

    Args:
        app: The application it wraps (Streamlit's, or another middleware round it).
    """

    def __init__(self, app: ASGIApp):
        self.app = app
        self._kept: dict[str, tuple[Message, bytes]] = {}

    @property
    def kept(self) -> int:
        """How many files are kept."""
        return len(self._kept)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer from memory when the file is kept; else pass the request on, and keep the answer if it is a file."""
        method = scope.get("method")
        headers = scope.get("headers", [])
        if (
            scope["type"] != "http"
            or method not in ("GET", "HEAD")
            or not scope.get("path", "").startswith("/static/")
            or any(_header(headers, name) is not None for name in _PASS_ON)
        ):
            await self.app(scope, receive, send)
            return
        path = posixpath.normpath(scope["path"])  # one entry per file, however a client spells its path
        kept = self._kept.get(path)
        if kept is not None:
            start, body = kept
            await send(start)
            await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
            return
        if method == "HEAD":  # an empty body: nothing to keep
            await self.app(scope, receive, send)
            return
        held: Message | None = None  # the response's start, held while its body comes in
        chunks: list[bytes] = []

        async def intercept(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                if self._worth_keeping(message):
                    held = message
                else:
                    await send(message)
            elif message["type"] == "http.response.body" and held is not None:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    body = b"".join(chunks)
                    if len(self._kept) < MAX_KEPT:
                        self._kept[path] = (held, body)
                    await send(held)
                    await send({"type": "http.response.body", "body": body})
            else:
                await send(message)

        await self.app(scope, receive, intercept)

    @staticmethod
    def _worth_keeping(start: Message) -> bool:
        """A plain ``200`` of a file (it has an ETag), not HTML (the answer to a path that names no file)."""
        headers = start.get("headers", [])
        kind = (_header(headers, b"content-type") or b"").lower()
        return start.get("status") == 200 and _header(headers, b"etag") is not None and b"text/html" not in kind
