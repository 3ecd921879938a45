"""A local pool's worker process: it takes jobs from its pipe one at a time and sends back progress and outcomes.

The module imports only the standard library and :mod:`densviz.jobs.lifeline`
at the top (the server imports it to name :func:`serve` as the process's
target); torch and the job functions are imported in the worker.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import threading
from multiprocessing.connection import Connection
from typing import Any

from densviz.jobs.lifeline import end_with

__all__ = ["serve"]


class _PoolContext:
    """A job's context in a pool worker: progress down the pipe, Stop read from the worker's shared flag."""

    def __init__(self, conn: Connection, flag: Any, seq: int, lock: threading.Lock):
        self._conn = conn
        self._flag = flag
        self._seq = seq
        self._lock = lock

    def progress(self, record: Any) -> None:
        """Send ``record`` to the server at once."""
        data = pickle.dumps(("progress", self._seq, record), protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            self._conn.send_bytes(data)

    def stopping(self) -> bool:
        """Whether the server asked this job (by its number: a late Stop never reaches the next job) to stop.

        The first time it says yes, it tells the server so (the flag turns to
        minus the job's number): the job's work has ended, what is left is its
        wrap-up.
        """
        value = self._flag.value
        if value == self._seq:
            self._flag.value = -self._seq
            return True
        return bool(value == -self._seq)


def serve(conn: Connection, flag: Any, index: int, server_pid: int | None = None) -> None:
    """The worker's loop: ``("job", seq, packed)`` in; ``("progress" | "done" | "failed", seq, data)`` out.

    Args:
        conn: This worker's end of its pipe to the server.
        flag: A shared integer: the number of the job the server wants stopped.
        index: The worker's number in the pool (for its name in logs).
        server_pid: The server's process: this worker (and its helpers) ends when it ends.
    """
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)  # its own process group: a kill takes the helper processes a job started (probes) too
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle; it ends the workers
    if server_pid is not None:
        end_with(server_pid, group=True)  # no orphan keeps training after a killed server
    from densviz.jobs.running import dumps_outcome, run_packed, set_worker_threads

    set_worker_threads()
    lock = threading.Lock()
    conn.send_bytes(pickle.dumps(("ready", 0, os.getpid())))
    while True:
        try:
            message = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):  # the server closed the pipe: nothing more to do
            return
        if message[0] != "job":
            return
        _, seq, packed = message
        outcome = run_packed(packed, _PoolContext(conn, flag, seq, lock))
        data = dumps_outcome(seq, outcome)
        del outcome  # the result's tensors go before the next job comes
        with lock:
            conn.send_bytes(data)
