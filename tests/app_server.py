"""Start a server command (``densviz app``, ``serve(script=…)``, ``streamlit run``) on a free port, for tests.

Like :func:`tests.browser.server.serve`, but for any command: the command gets
the port through ``{port}`` in its arguments, runs in the given folder, and is
stopped by its pid (SIGTERM, then SIGKILL after 15 s).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.browser.server import free_port

ROOT = Path(__file__).resolve().parents[1]


def densviz_app(*extra: str) -> list[str]:
    """``python -m densviz app --port {port}`` with this interpreter."""
    return [sys.executable, "-m", "densviz", "app", "--port", "{port}", *extra]


def serve_script(script: Path) -> list[str]:
    """Serve ``script`` the way ``densviz app`` serves the page (its settings and hooks)."""
    code = f"from pathlib import Path; from densviz.ui.serve import serve; serve('127.0.0.1', {{port}}, Path({str(script)!r}))"
    return [sys.executable, "-c", code]


@contextmanager
def running(
    command: Sequence[str],
    *,
    cwd: Path = ROOT,
    env: dict[str, str | None] | None = None,
    log: Path | None = None,
    start_timeout_s: float = 120.0,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run the command until it answers ``/_stcore/health``; yields (base URL, process), stops it after.

    ``env`` adds to this process's environment; a variable given as None is left out.
    """
    port = free_port()
    args = [a.replace("{port}", str(port)) for a in command]
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 (closed below)
    environ = {k: v for k, v in {**os.environ, **(env or {})}.items() if v is not None}  # None: unset it
    proc = subprocess.Popen(args, cwd=cwd, env=environ, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{' '.join(args)} did not start{f' (see {log})' if log else ''}")
            time.sleep(0.3)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            out.close()  # type: ignore[union-attr]
