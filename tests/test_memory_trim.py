"""The server gives freed memory back: one trimming thread per process."""

from __future__ import annotations

import threading

from densviz.ui.memory_trim import start_memory_trim


def test_one_trimming_thread_runs_per_process() -> None:
    assert start_memory_trim() is True  # glibc has malloc_trim (Debian, the Docker image)
    assert start_memory_trim() is True  # a second call starts nothing new
    threads = [t for t in threading.enumerate() if t.name == "densviz-malloc-trim"]
    assert len(threads) == 1 and threads[0].daemon and threads[0].is_alive()
