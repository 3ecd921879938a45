"""Give freed memory back to the system now and then, so a server's resident memory follows its live data.

glibc keeps freed heap pages for reuse; after many sessions (plans, figures,
forward passes, training runs) a long-lived server's RSS stays near its peak.
``malloc_trim(0)`` returns what is free. One daemon thread per process calls it
every half minute; on a C library without it (macOS, musl) nothing happens.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

__all__ = ["start_memory_trim"]

_EVERY_S = 30.0


def _trim_forever(trim: ctypes._CFuncPtr) -> None:  # type: ignore[name-defined]
    stop = threading.Event()
    while not stop.wait(_EVERY_S):
        trim(0)


_LOCK = threading.Lock()
_started: list[bool] = []  # one entry once the process's thread is decided (a module global, not a cache)


def start_memory_trim() -> bool:
    """Start the process's one trimming thread (once, whoever calls); whether the C library has ``malloc_trim``."""
    with _LOCK:
        if not _started:
            _started.append(_start())
        return _started[0]


def _start() -> bool:
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return False
    threading.Thread(target=_trim_forever, args=(trim,), name="densviz-malloc-trim", daemon=True).start()
    return True
