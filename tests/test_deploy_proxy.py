"""Two real app replicas behind the shipped nginx configuration, driven by Chromium through the proxy.

Starts two ``densviz app`` replicas (what the Docker image runs) and Debian's nginx with
deploy/nginx.conf (filled in by deploy/nginx_conf.py) on loopback ports, then
opens browser sessions through the proxy, each with its own cookies, until
both replicas serve someone. Each session moves the growth-rate slider (a
rerun over the WebSocket, through the proxy) and opens the Memory view, so
that its link holds a network of its own. Then one replica is stopped: its
users reload and get the same network back from the link on the other
replica (every query key, the numbers, the view), and the slider works
there; the other replica's users carry on without a reload. nginx's access
log proves the affinity: before the stop, every request of one session (the
page, static files, the WebSocket) went to one replica; after it, the stopped
replica's users went to the live one. Every child is stopped in a finally.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from densviz.core.config import PRESETS
from densviz.core.units import format_count
from tests.app_server import densviz_app
from tests.browser import server as helper
from tests.nginx_proxy import NGINX, LogLine, proxy

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
MAX_SESSIONS = 12  # opened one by one until both replicas serve someone (all on one after 12: odds 2^-11)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(helper.CHROMIUM).exists(), reason="Debian's chromium is not installed"),
    pytest.mark.skipif(not Path(NGINX).exists(), reason="Debian's nginx is not installed (make setup installs it)"),
]


@dataclass
class Replica:
    """One app server: its address, process and log."""

    address: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        """Stop it as `docker compose stop` does: SIGTERM, then SIGKILL."""
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def replicas(count: int, start_timeout_s: float = 180.0) -> Iterator[list[Replica]]:
    """Start ``count`` replicas at once (as tests/app_server.py does one); stop every one after."""
    ARTIFACTS.mkdir(exist_ok=True)
    started: list[Replica] = []
    logs = []
    try:
        for i in range(count):
            port = helper.free_port()
            log = ARTIFACTS / f"server-deploy-proxy-{i}.log"
            out = open(log, "wb")  # noqa: SIM115 (closed below)
            logs.append(out)
            cmd = [arg.replace("{port}", str(port)) for arg in densviz_app()]  # listens on 127.0.0.1
            process = subprocess.Popen(cmd, cwd=ROOT, env=os.environ, stdout=out, stderr=subprocess.STDOUT)
            started.append(Replica(f"127.0.0.1:{port}", process, log))
        deadline = time.monotonic() + start_timeout_s
        for replica in started:
            while True:
                try:
                    with urllib.request.urlopen(f"http://{replica.address}/_stcore/health", timeout=2) as answer:
                        if answer.read() == b"ok":
                            break
                except OSError:
                    pass
                if replica.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"a replica did not start (see {replica.log})")
                time.sleep(0.3)
        yield started
    finally:
        for replica in started:
            if replica.process.poll() is None:
                replica.stop()
        for out in logs:
            out.close()


def params_of(k: int) -> str:
    """DenseNet-121's parameter count at growth rate k (k₀ = 2k), counted on the real PyTorch model."""
    from densviz.nn.model import build_model

    cfg = PRESETS["densenet121"].config.replace(growth_rate=k, num_init_features=None)
    return format_count(sum(p.numel() for p in build_model(cfg, device="meta").parameters()))


@dataclass
class Session:
    """One browser (its own cookies) and what its page showed."""

    context: Any
    page: Any
    k: int
    cookie: str = ""
    home: str = ""
    query: dict[str, list[str]] = field(default_factory=dict)
    numbers: list[str] = field(default_factory=list)


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def headline(page: Any) -> list[str]:
    return [text.strip() for text in page.get_by_test_id("stMetricValue").all_inner_texts()][:4]


def requests_of(log: list[LogLine], cookie: str) -> list[LogLine]:
    return [line for line in log if line.affinity == cookie]


def test_sessions_stay_on_their_replica_and_come_back_from_the_link_when_it_stops() -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=120_000)
    sessions: list[Session] = []
    with replicas(2) as (first, second), proxy([first.address, second.address]) as nginx, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=helper.CHROMIUM, args=helper.CHROMIUM_ARGS)
        try:
            for i in range(MAX_SESSIONS):
                context = browser.new_context(viewport={"width": 1280, "height": 1000})
                page = context.new_page()
                page.set_default_timeout(120_000)
                s = Session(context, page, k=31 - i % 3)
                sessions.append(s)
                page.goto(nginx.url + "/")
                params = page.get_by_test_id("stMetricValue").first
                expect(params).to_have_text(params_of(32))  # DenseNet-121: 7.98 M (torchvision's 7,978,856)
                slider = page.get_by_role("slider", name="Growth rate k")
                slider.focus()
                for k in range(31, s.k - 1, -1):  # each key press commits: one rerun over the WebSocket each
                    slider.press("ArrowLeft")
                    expect(params).to_have_text(params_of(k))
                page.get_by_role("radio", name="Memory", exact=True).click()
                expect(page.get_by_text("Training step, memory-efficient")).to_be_visible()
                expect(page).to_have_url(re.compile(r"[?&]view=Memory(&|$)"))
                s.query = query_of(page.url)
                assert s.query["growth_rate"] == [str(s.k)]
                s.numbers = headline(page)
                (s.cookie,) = [c["value"] for c in context.cookies() if c["name"] == "densviz_affinity"]
                # The page's first request carried no cookie: hashed by the id the cookie now holds.
                log = nginx.access_log()
                s.home = requests_of(log, s.cookie)[0].upstream
                if {x.home for x in sessions} == {first.address, second.address} and len(sessions) >= 3:
                    break
            homes = {s.home for s in sessions}
            assert homes == {first.address, second.address}, f"all {len(sessions)} sessions landed on {homes}"

            victim = first if sessions[0].home == first.address else second
            survivor = second if victim is first else first
            moved = [s for s in sessions if s.home == victim.address]
            stayed = [s for s in sessions if s.home == survivor.address]
            stopped_at = time.time()
            victim.stop()

            for s in moved:
                reloaded_at = time.time()
                s.page.reload()
                params = s.page.get_by_test_id("stMetricValue").first
                expect(params).to_have_text(s.numbers[0])
                expect(s.page.get_by_text("Training step, memory-efficient")).to_be_visible()
                slider = s.page.get_by_role("slider", name="Growth rate k")
                expect(slider).to_have_value(str(s.k))
                assert query_of(s.page.url) == s.query, "the link lost a setting"
                assert headline(s.page) == s.numbers
                # The new session works: the slider reruns on the live replica.
                slider.focus()
                slider.press("ArrowLeft")
                expect(params).to_have_text(params_of(s.k - 1))
                s.page.screenshot(path=str(ARTIFACTS / "deploy-proxy-after-stop.png"))
                after = [x for x in requests_of(nginx.access_log(), s.cookie) if x.started >= reloaded_at]
                assert after and {x.upstream for x in after} == {survivor.address}
            for s in stayed:  # untouched by the other replica's stop: no reload needed
                params = s.page.get_by_test_id("stMetricValue").first
                slider = s.page.get_by_role("slider", name="Growth rate k")
                slider.focus()
                slider.press("ArrowLeft")
                expect(params).to_have_text(params_of(s.k - 1))
        finally:
            for s in sessions:
                s.context.close()  # the WebSockets close: nginx writes their lines
            browser.close()
        time.sleep(1)
        log = nginx.access_log()
        shutil.copy(nginx.folder / "access.log", ARTIFACTS / "deploy-proxy-access.log")

    for s in sessions:
        before = [x for x in requests_of(log, s.cookie) if x.started < stopped_at]
        assert {x.upstream for x in before} == {s.home}, (
            f"one session's requests went to { ({x.upstream for x in before}) }"
        )
        assert any(x.method == "GET" and urlsplit(x.path).path == "/" and x.status == 200 for x in before), "the page"
        assert any(x.path.startswith("/static/") for x in before), "static files"
        assert any(x.path == "/_stcore/stream" and x.status == 101 for x in before), "the WebSocket"
    for s in moved:
        streams = [x for x in requests_of(log, s.cookie) if x.path == "/_stcore/stream" and x.started >= stopped_at]
        assert streams and {x.upstream for x in streams} == {survivor.address}
