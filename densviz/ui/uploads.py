"""Upload limits the server enforces, not only the browser.

Streamlit's uploader states its ``max_upload_size`` to the browser; its server
takes any file up to ``server.maxUploadSize`` (256 MB here) into memory, under
any file id, and keeps it until the session ends. Three 200 MB PUTs to made-up
ids under the 1 MB config uploader once raised the server from 501 to 1,102 MB.

The guard here wraps the runtime's one upload manager:

* a file id is accepted only when the server issued it to that session (the
  page asks for upload addresses over its WebSocket first; an address the
  server never gave out is refused);
* each file is held to the limit of the uploaders that take its type: every
  uploader on the page registers its types and its limit with :func:`limit`
  (Streamlit itself refuses a file whose type its uploader does not take, so a
  file's type says which uploader it can reach); a file must be of the type
  its address was asked for;
* a session holds at most the sum of those limits, in at most a few files;
* :func:`release` drops a file the page refused (bad JSON, a zip bomb) from
  memory at once, instead of when the session ends.

The checks that need the request body before it is read (made-up ids, a
``Content-Length`` over the limit, a body that outgrows it while streaming) run
in :class:`densviz.ui.server_hooks.UploadGate`, installed by ``densviz app``.
The manager's own checks below run for every upload, also under
``streamlit run app.py`` (the page installs the guard on its first run); there
the body has been read once before it is refused, and then freed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from starlette.exceptions import HTTPException
from streamlit import config
from streamlit.runtime import Runtime
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec, UploadFileUrlInfo

from densviz.core.units import format_bytes

__all__ = [
    "MAX_ISSUED_PER_SESSION",
    "UploadGuard",
    "Verdict",
    "held",
    "install_upload_guard",
    "installed_guard",
    "limit",
    "release",
]

MAX_ISSUED_PER_SESSION = 64
"""Upload addresses remembered per session; the oldest unused ones are forgotten first."""

_MIB = 1 << 20
_SPARE_FILES = 2  # a file being replaced is held next to its successor for a moment


@dataclass(frozen=True)
class _Uploader:
    types: frozenset[str]  # extensions without the dot, lower case
    max_bytes: int


_LOCK = threading.Lock()
_UPLOADERS: dict[str, _Uploader] = {}  # by widget key; process-wide, as the server is


def _extensions(types: Sequence[str] | str) -> frozenset[str]:
    items = [types] if isinstance(types, str) else list(types)
    return frozenset(t.lower().lstrip(".") for t in items)


def limit(key: str, types: Sequence[str] | str, max_bytes: int) -> int:
    """Register an uploader's limit with the server; the whole megabytes to pass as its ``max_upload_size``.

    Call it in the uploader's own call, every run::

        st.file_uploader("Config", type=["json"], key="config_upload",
                         max_upload_size=uploads.limit("config_upload", ["json"], MAX_UPLOAD_BYTES))

    Args:
        key: The uploader's widget key.
        types: The types it takes, as given to ``st.file_uploader``.
        max_bytes: The largest file it takes, in bytes (the server holds it to
            this exactly; the browser, which counts in whole megabytes, to the
            megabyte above).

    Returns:
        ``max_bytes`` in megabytes, rounded up, at least 1.
    """
    if max_bytes < 1:
        raise ValueError(f"an uploader's limit must be at least 1 byte; got {max_bytes}")
    with _LOCK:
        _UPLOADERS[key] = _Uploader(_extensions(types), int(max_bytes))
    return max(1, -(-int(max_bytes) // _MIB))


def _global_limit() -> int:
    return int(config.get_option("server.maxUploadSize")) * _MIB


def _type_limit(name: str) -> int:
    """The most a file of this name may hold: the largest limit of the uploaders that take its type.

    A type no uploader registered is held to Streamlit's own limit: an uploader
    that does not register keeps Streamlit's behaviour rather than refusing
    every file (Streamlit refuses such a file to any uploader that does not
    take its type, and the session's bound still counts it).
    """
    with _LOCK:
        uploaders = list(_UPLOADERS.values())
    suffix = PurePosixPath(name).suffix.lower().lstrip(".")
    sizes = [u.max_bytes for u in uploaders if suffix in u.types]
    return min(max(sizes), _global_limit()) if sizes else _global_limit()


def _session_bounds() -> tuple[int, int]:
    """(bytes, files) one session may hold: one file per uploader, at each one's limit."""
    with _LOCK:
        uploaders = list(_UPLOADERS.values())
    if not uploaders:
        return _global_limit(), 4 + _SPARE_FILES
    return sum(u.max_bytes for u in uploaders), len(uploaders) + _SPARE_FILES


@dataclass(frozen=True)
class Verdict:
    """Whether an upload may go on, before its body is read.

    Attributes:
        status: 0 when it may; otherwise the HTTP status to refuse it with.
        message: Why it was refused, in a sentence.
        max_bytes: The most its file may hold (when it may go on).
    """

    status: int
    message: str = ""
    max_bytes: int = 0


class UploadGuard:
    """The server's upload checks, around the runtime's :class:`MemoryUploadedFileManager`.

    Thread-safe: uploads arrive on the server's event loop, scripts ask from
    their own threads.
    """

    def __init__(self, manager: MemoryUploadedFileManager):
        self._manager = manager
        self._lock = threading.Lock()
        self._issued: dict[str, OrderedDict[str, str]] = {}  # session -> file id -> the name it was asked for
        self._held: dict[str, dict[str, int]] = {}  # session -> file id -> bytes held

    # -- what the manager's wrapped methods call ------------------------------------------

    def _issue(self, session_id: str, infos: list[UploadFileUrlInfo], names: Sequence[str]) -> None:
        with self._lock:
            issued = self._issued.setdefault(session_id, OrderedDict())
            held = self._held.get(session_id, {})
            for info, name in zip(infos, names, strict=False):
                issued[info.file_id] = name
            for file_id in list(issued):  # forget the oldest addresses that hold nothing
                if len(issued) <= MAX_ISSUED_PER_SESSION:
                    break
                if file_id not in held:
                    del issued[file_id]

    def _admit(self, session_id: str, rec: UploadedFileRec, add: Any) -> None:
        with self._lock:
            verdict = self._verdict(session_id, rec.file_id, len(rec.data))
            issued = self._issued.get(session_id)
            declared = issued.get(rec.file_id, "") if issued is not None else ""
            if verdict.status == 0 and PurePosixPath(rec.name).suffix.lower() != PurePosixPath(declared).suffix.lower():
                verdict = Verdict(415, f"{rec.name!r} is not of the type this upload address was asked for.")
            if verdict.status:
                raise HTTPException(status_code=verdict.status, detail=verdict.message)
            add(session_id, rec)
            self._held.setdefault(session_id, {})[rec.file_id] = len(rec.data)

    def _removed(self, session_id: str, file_id: str) -> None:
        with self._lock:
            self._held.get(session_id, {}).pop(file_id, None)
            issued = self._issued.get(session_id)
            if issued is not None:
                issued.pop(file_id, None)

    def _forget(self, session_id: str) -> None:
        with self._lock:
            self._issued.pop(session_id, None)
            self._held.pop(session_id, None)

    # -- what the gate and the page ask ----------------------------------------------------

    def verdict(self, session_id: str, file_id: str, length: int | None) -> Verdict:
        """Whether a PUT of ``length`` bytes (None: not said) to this session's file id may go on."""
        with self._lock:
            return self._verdict(session_id, file_id, length)

    def _verdict(self, session_id: str, file_id: str, length: int | None) -> Verdict:
        issued = self._issued.get(session_id)
        name = issued.get(file_id) if issued is not None else None
        if name is None:
            return Verdict(403, "This upload address was not issued to this session; reload the page.")
        max_bytes = _type_limit(name)
        if length is not None and length > max_bytes:
            return Verdict(413, _too_large(name, length, max_bytes))
        held = self._held.get(session_id, {})
        others = {f: n for f, n in held.items() if f != file_id}  # a PUT to the same id replaces its file
        max_total, max_files = _session_bounds()
        if len(others) >= max_files:
            return Verdict(413, f"This session already holds {len(others)} files; remove one first.")
        room = max_total - sum(others.values())
        if length is not None and length > room:
            return Verdict(
                413,
                f"This session already holds {format_bytes(sum(others.values()))} of uploads; "
                f"at most {format_bytes(max_total)} in all. Remove a file first.",
            )
        return Verdict(0, max_bytes=min(max_bytes, max(room, 0)))

    def held_bytes(self, session_id: str) -> int:
        """Bytes this session's uploads hold on the server now."""
        with self._lock:
            return sum(self._held.get(session_id, {}).values())


def _too_large(name: str, size: int, max_bytes: int) -> str:
    return f"{name!r} is {format_bytes(size)}; an uploader of its type takes at most {format_bytes(max_bytes)}."


def _wrap(manager: MemoryUploadedFileManager, guard: UploadGuard) -> None:
    """Route the manager's methods through the guard (instance attributes: the server's routes hold this object)."""
    get_upload_urls, add_file = manager.get_upload_urls, manager.add_file
    remove_file, remove_session_files = manager.remove_file, manager.remove_session_files

    def issuing(session_id: str, file_names: Sequence[str]) -> list[UploadFileUrlInfo]:
        infos = get_upload_urls(session_id, file_names)
        guard._issue(session_id, infos, list(file_names))
        return infos

    def adding(session_id: str, file: UploadedFileRec) -> None:
        guard._admit(session_id, file, add_file)

    def removing(session_id: str, file_id: str) -> None:
        remove_file(session_id, file_id)
        guard._removed(session_id, file_id)

    def removing_session(session_id: str) -> None:
        remove_session_files(session_id)
        guard._forget(session_id)

    manager.get_upload_urls = issuing  # type: ignore[method-assign]
    manager.add_file = adding  # type: ignore[method-assign]
    manager.remove_file = removing  # type: ignore[method-assign]
    manager.remove_session_files = removing_session  # type: ignore[method-assign]


_INSTALL_LOCK = threading.Lock()


def install_upload_guard() -> UploadGuard | None:
    """Put the guard around this server's upload manager (once; later calls return the same guard).

    Returns:
        The guard, or None when no Streamlit server runs in this process (a
        bare script, or an AppTest, whose uploads never cross HTTP).
    """
    if not Runtime.exists():
        return None
    manager = Runtime.instance().uploaded_file_mgr
    if not isinstance(manager, MemoryUploadedFileManager):
        return None
    with _INSTALL_LOCK:
        guard = getattr(manager, "_densviz_guard", None)
        if guard is None:
            guard = UploadGuard(manager)
            _wrap(manager, guard)
            manager._densviz_guard = guard  # type: ignore[attr-defined]
        return guard


def installed_guard() -> UploadGuard | None:
    """The guard of this server's upload manager, if installed."""
    if not Runtime.exists():
        return None
    return getattr(Runtime.instance().uploaded_file_mgr, "_densviz_guard", None)


def release(uploaded: UploadedFile) -> None:
    """Drop a file the page refused from the server's memory now, not when the session ends.

    Call it from the script, after saying why the file was refused. The file
    must not be read afterwards; its uploader reads as empty from the next run.
    """
    ctx = get_script_run_ctx()
    if ctx is not None and isinstance(ctx.uploaded_file_mgr, MemoryUploadedFileManager):
        ctx.uploaded_file_mgr.remove_file(ctx.session_id, uploaded.file_id)
    uploaded.close()  # this run's copy of the bytes goes too


def held(key: str) -> UploadedFile | None:
    """The file an uploader holds now (by widget key), or None: also once :func:`release` dropped it.

    After a release the browser still lists the file, and ``st.session_state``
    still names it; only the server knows it is gone.
    """
    import streamlit as st

    value = st.session_state.get(key)
    ctx = get_script_run_ctx()
    if not isinstance(value, UploadedFile) or value.closed or ctx is None:
        return None
    return value if ctx.uploaded_file_mgr.get_files(ctx.session_id, [value.file_id]) else None
