"""A worker process ends when the server that started it ends: no worker outlives its server.

Workers are forked by multiprocessing's fork server, not by the server itself,
so a worker's parent is the fork server, and the fork server stays up while
any worker lives (each holds its "alive" pipe): watching ``os.getppid()``
never sees the server go. Each worker is given the server's process id and
watches that process instead, through a pidfd where Linux has one (woken the
moment it ends, no polling), else by asking every second whether it still
exists. A server killed outright (SIGKILL, the out-of-memory killer) thus
leaves no check worker, drawing worker or job worker running.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
import time

__all__ = ["end_with"]

_POLL_S = 1.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def _wait_for_end(pid: int) -> None:
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is not None:
        try:
            fd = pidfd_open(pid)
        except ProcessLookupError:
            return  # already gone
        except OSError:  # no pidfd in this kernel: poll below
            pass
        else:
            try:
                poller = select.poll()
                poller.register(fd, select.POLLIN)
                while not poller.poll():  # readable once the process has ended
                    pass
            finally:
                os.close(fd)
            return
    while _alive(pid):
        time.sleep(_POLL_S)


def end_with(server_pid: int, *, group: bool = False) -> threading.Thread:
    """Watch ``server_pid`` from a daemon thread and end this process (exit status 1) when it ends.

    Args:
        server_pid: The server's process id, as the server gave it when it started this worker.
        group: Kill this process's whole group first, when this process leads it (a job
            worker's helper processes, such as the training-step probe, go with it).

    Returns:
        The watching thread (started).
    """

    def watch() -> None:
        _wait_for_end(server_pid)
        if group and os.getpgrp() == os.getpid():
            with contextlib.suppress(OSError):
                os.killpg(os.getpid(), signal.SIGKILL)
        os._exit(1)

    thread = threading.Thread(target=watch, name="densviz-lifeline", daemon=True)
    thread.start()
    return thread
