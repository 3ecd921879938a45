"""The server's connections send at once: ``TCP_NODELAY`` on its listening sockets, which accepted connections inherit.

Streamlit binds its listening socket itself (``socket.socket(family)``, whose
protocol number is 0), and asyncio sets ``TCP_NODELAY`` on an accepted
connection only when that number says TCP (``sock.proto == IPPROTO_TCP``), so
the server's connections kept Nagle's algorithm. A response written in two
pieces (its headers, then its body) then waited for the browser to
acknowledge the first, which a browser delays by up to 40 ms: every static
file after a connection's first took 40 ms more on loopback (measured with
curl on one kept-alive connection: 0.3 ms to the first byte, 42 ms to the
last), and a first visit asks for about a hundred of them over six
connections. WebSocket messages sent close together wait the same way.

:func:`no_delay_on_listeners` finds the process's listening TCP sockets and
sets ``TCP_NODELAY`` on them; on Linux and macOS a connection accepted from
such a socket starts with the option set. ``densviz app`` calls it as the
server starts, before the first connection is accepted.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat

__all__ = ["no_delay_on_listeners"]

_MAX_FD = 4096


def _open_fds() -> list[int]:
    for folder in ("/proc/self/fd", "/dev/fd"):
        with contextlib.suppress(OSError):
            return sorted(int(name) for name in os.listdir(folder) if name.isdigit())
    return list(range(3, _MAX_FD))


def no_delay_on_listeners() -> list[tuple[str, int]]:
    """Set ``TCP_NODELAY`` on every listening TCP socket of this process; the addresses set.

    Sockets are looked at through their descriptors and left open (each is
    detached, never closed, here). Other descriptors are not touched.
    """
    done: list[tuple[str, int]] = []
    for fd in _open_fds():
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            sock = socket.socket(fileno=fd)
        except OSError:
            continue
        try:
            if (
                sock.family in (socket.AF_INET, socket.AF_INET6)
                and sock.type == socket.SOCK_STREAM
                and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
            ):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                host, port = sock.getsockname()[:2]
                done.append((host, port))
        except OSError:
            pass
        finally:
            sock.detach()  # the descriptor stays the server's
    return done
