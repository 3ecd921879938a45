"""The shipped proxy (deploy/nginx.conf) run by Debian's nginx on loopback, for the deployment tests.

:func:`proxy` fills the shipped file in with ``deploy/nginx_conf.py`` (replica
addresses, a free listen port, logs and temporary folders in a folder of its
own) and runs nginx as a child in the foreground; :func:`access_log` reads
back, line by line, which replica served each request.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from tests.browser.server import free_port

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def nginx_conf() -> ModuleType:
    """deploy/nginx_conf.py as a module (deploy/ is not a package)."""
    spec = importlib.util.spec_from_file_location("densviz_deploy_nginx_conf", DEPLOY / "nginx_conf.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Proxy:
    """A running nginx: its address, its folder (logs, configuration) and its process."""

    url: str
    port: int
    folder: Path
    process: subprocess.Popen[bytes]

    def access_log(self) -> list[LogLine]:
        """The access log so far (a WebSocket's line is written when it closes)."""
        return access_log(self.folder / "access.log")

    def error_log(self) -> str:
        """nginx's error log so far."""
        path = self.folder / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextmanager
def proxy(replicas: Sequence[str], start_timeout_s: float = 20.0) -> Iterator[Proxy]:
    """Run nginx with deploy/nginx.conf in front of ``replicas`` (``HOST:PORT`` each); stop it after."""
    folder = Path(tempfile.mkdtemp(prefix="densviz-nginx-"))
    # nginx started as root runs its workers as nobody: they must reach their temporary folders here.
    folder.chmod(0o755)
    port = free_port()
    conf = folder / "nginx.conf"
    conf.write_text(nginx_conf().render((DEPLOY / "nginx.conf").read_text(), replicas, f"127.0.0.1:{port}", folder))
    out = open(folder / "nginx.out", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [NGINX, "-p", str(folder), "-c", str(conf), "-g", f"daemon off; pid {folder / 'nginx.pid'};"],
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                out.flush()
                said = (folder / "nginx.out").read_text(errors="replace")
                raise RuntimeError(f"nginx did not start: {said}")
            time.sleep(0.05)
        yield Proxy(f"http://127.0.0.1:{port}", port, folder, process)
    finally:
        process.terminate()  # SIGTERM: nginx's fast shutdown
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        out.close()
        if not os.environ.get("DENSVIZ_KEEP_NGINX"):  # set it to look at the logs after a run
            shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class LogLine:
    """One request as deploy/nginx.conf's ``densviz`` log format writes it."""

    method: str
    path: str
    status: int
    started: float  # seconds since the epoch, when nginx read the request
    ended: float
    upstreams: tuple[str, ...]  # every replica tried, in order; the last one answered
    affinity: str

    @property
    def upstream(self) -> str:
        """The replica that answered ("-" when none was asked)."""
        return self.upstreams[-1] if self.upstreams else "-"


_LINE = re.compile(
    r'^\S+ \[[^\]]+\] "(?P<method>\S+) (?P<path>\S+)[^"]*" (?P<status>\d{3}) \d+ '
    r"rt=(?P<rt>[\d.]+) ts=(?P<ts>[\d.]+) upstream=(?P<up>.*?) upstream_status=.*? affinity=(?P<aff>\S+)$"
)


def access_log(path: Path) -> list[LogLine]:
    """Parse an access log; a line the format does not match is an error (the format is part of the test)."""
    lines = []
    for raw in path.read_text().splitlines():
        match = _LINE.match(raw)
        if match is None:
            raise ValueError(f"an access log line not in the densviz format: {raw!r}")
        ended, took = float(match["ts"]), float(match["rt"])
        upstreams = tuple(u.strip() for u in re.split(r"\s*[,:]\s+", match["up"]) if u.strip() not in ("", "-"))
        lines.append(
            LogLine(match["method"], match["path"], int(match["status"]), ended - took, ended, upstreams, match["aff"])
        )
    return lines
