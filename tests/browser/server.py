"""A real `streamlit run app.py` on a free loopback port, and the Chromium flags for these machines.

Shared by the browser test and the load test: start the server with
``subprocess.Popen``, wait until ``/_stcore/health`` answers ``ok``, and stop it
by its pid.
"""

from __future__ import annotations

import shutil
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless, and nothing that would reach for the network (it is closed here).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(log: Path | None = None, start_timeout_s: float = 90.0) -> Iterator[tuple[str, int]]:
    """Run the app; yields (base URL, server pid) once it is healthy, stops it after."""
    from tests.app_server import running  # imported here: app_server takes free_port from this module

    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true"]
    cmd += ["--server.address", "127.0.0.1", "--server.port", "{port}"]
    cmd += ["--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    with running(cmd, env={"OMP_NUM_THREADS": "1"}, log=log, start_timeout_s=start_timeout_s) as (url, proc):
        yield url, proc.pid


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (the server), from /proc."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0
