"""Security headers on every response of ``densviz app``, and a page that keeps to them and to this machine.

Over plain HTTP: the page, a static script, health, host config, the favicon
(a media file), uploads refused and accepted, and a path that is not there
all carry Content-Security-Policy, X-Frame-Options, X-Content-Type-Options
and Referrer-Policy. In Chromium (Debian's, through Playwright): every view
is walked and used (the Graph view's component, Compare's framed graphs, an
image upload and a forward pass, training and Stop, a download, a config
upload) while every request that would leave 127.0.0.1 is blocked and
recorded, and every CSP violation is recorded: none of either.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests

from tests.app_server import ROOT, densviz_app, running
from tests.browser import server as helper
from tests.helpers import VIEWS
from tests.st_client import Session

ARTIFACTS = ROOT / "artifacts"
HEADERS = ("content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy")


@pytest.fixture(scope="module")
def app() -> Iterator[str]:
    ARTIFACTS.mkdir(exist_ok=True)
    with running(densviz_app(), log=ARTIFACTS / "server-headers.log") as (url, _proc):
        yield url


def policy(response: requests.Response) -> dict[str, list[str]]:
    """The Content-Security-Policy as {directive: sources}."""
    directives = (d.strip().split() for d in response.headers["content-security-policy"].split(";") if d.strip())
    return {d[0]: d[1:] for d in directives}


def assert_secured(response: requests.Response) -> None:
    missing = [h for h in HEADERS if h not in response.headers]
    assert missing == [], f"{response.request.method} {response.url} ({response.status_code}) lacks {missing}"
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] in ("same-origin", "no-referrer")
    csp = policy(response)
    assert csp["frame-ancestors"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["connect-src"] == ["'self'"]  # the WebSocket and uploads go home, nowhere else
    assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:", "data:"} & set(csp["script-src"])


def test_every_kind_of_response_carries_the_headers(app: str) -> None:
    shell = requests.get(app, timeout=10)
    assert_secured(shell)
    # The one inline script of Streamlit's own page is allowed by its hash, worked out here from what was served.
    (inline,) = re.findall(r"<script>(.*?)</script>", shell.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy(shell)["script-src"]

    script = re.search(r'src="\./(static/js/[^"]+\.js)"', shell.text)
    assert script is not None
    static = requests.get(f"{app}/{script.group(1)}", timeout=10)
    assert static.status_code == 200 and "javascript" in static.headers["content-type"]  # nosniff needs this
    for response in (
        static,
        requests.get(f"{app}/_stcore/health", timeout=10),
        requests.get(f"{app}/_stcore/host-config", timeout=10),
        requests.get(f"{app}/no/such/file.txt", timeout=10),
        requests.options(f"{app}/_stcore/upload_file/x/y", timeout=10),
    ):
        assert_secured(response)

    session = Session(app)
    run = session.rerun("preset=tiny")
    favicon = next(m.page_config_changed.favicon for m in run.messages if m.WhichOneof("type") == "page_config_changed")
    assert favicon.startswith("/media/")
    media = session.http.get(f"{app}{favicon}", timeout=10)
    assert media.status_code == 200 and media.content.startswith(b"\x89PNG")
    assert_secured(media)
    refused = session.put(f"/_stcore/upload_file/{session.session_id}/made-up", "a.json", b"{}")
    assert refused.status_code == 403
    assert_secured(refused)
    (urls,) = session.file_urls(["a.json"])
    accepted = session.put(urls.upload_url, "a.json", b"{}")
    assert accepted.status_code == 204
    assert_secured(accepted)
    session.close()


def png(width: int = 48, height: int = 40) -> bytes:
    """A small real PNG (a gradient), made here."""
    from PIL import Image

    ramp = np.linspace(0, 255, width * height * 3).astype(np.uint8).reshape(height, width, 3)
    buffer = io.BytesIO()
    Image.fromarray(ramp).save(buffer, format="PNG")
    return buffer.getvalue()


# Every CSP violation in the page and its frames, written to the console where the test reads it.
_REPORT_VIOLATIONS = """document.addEventListener('securitypolicyviolation', e => console.log('CSP violation ' +
  JSON.stringify({directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber})), true);"""
_HOME = re.compile(r"^(https?|wss?)://127\.0\.0\.1:\d+/|^(data|blob|about):")


def _settle(page: Any) -> None:
    page.wait_for_function(
        '() => !document.querySelector(\'[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]\')'
    )
    page.wait_for_timeout(700)


@pytest.mark.slow  # every view, used, in Chromium (two to three minutes)
@pytest.mark.skipif(not Path(helper.CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_the_page_keeps_to_its_policy_and_to_this_machine(app: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    image = tmp_path / "gradient.png"
    image.write_bytes(png())
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "config": {"growth_rate": 8, "block_config": [2, 2], "stem": "cifar"},
                "input": {"height": 32, "width": 32},
            }
        )
    )
    left, console = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=helper.CHROMIUM, args=helper.CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
        context.add_init_script(_REPORT_VIOLATIONS)

        def only_home(route: Any) -> None:
            if _HOME.match(route.request.url):
                route.continue_()
            else:
                left.append(route.request.url)
                route.abort()

        context.route("**/*", only_home)
        page = context.new_page()
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        page.set_default_timeout(90_000)
        expect.set_options(timeout=90_000)
        page.goto(f"{app}/?preset=tiny")
        expect(page.get_by_test_id("stMetricValue").first).to_be_visible()
        _settle(page)
        for view in VIEWS:
            page.get_by_role("radio", name=view, exact=True).click()
            _settle(page)
            if view == "Graph":  # the component's script (a blob module) drew dot's SVG
                expect(page.locator("g.node").first).to_be_visible()
            elif view == "Compare":  # the framed overviews (srcdoc, inline script by hash) zoom and pan
                page.get_by_role("button", name="Pin this network as A").click()
                frame = page.frame_locator("iframe").first
                expect(frame.locator("svg g.node").first).to_be_visible()
                expect(frame.locator("svg")).not_to_have_attribute("width", re.compile(".*"))  # the script ran
            elif view == "Forward pass":  # an upload through the gate, then a run on it
                page.get_by_text("upload a PNG/JPEG", exact=True).click()
                box = page.get_by_test_id("stFileUploader").filter(has_text="Image (PNG or JPEG)")
                box.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(image))
                expect(box.get_by_test_id("stFileChip")).to_have_count(1)
                _settle(page)
                page.get_by_role("button", name="Run", exact=True).click()
                expect(page.get_by_text("Shown: the run on")).to_be_visible()
            elif view == "Feature reuse":
                page.get_by_role("button", name="Train").click()
                page.get_by_role("button", name="Stop").click()
                expect(
                    page.get_by_text(re.compile("Training (ended early|stopped)|Held-out accuracy")).first
                ).to_be_visible()
            elif view == "Export":
                with page.expect_download() as download:
                    page.get_by_role("button", name="SVG", exact=True).first.click()
                assert download.value.suggested_filename.endswith(".svg")
                page.get_by_test_id("stFileUploaderDropzoneInput").last.set_input_files(str(config))
                expect(page.get_by_text("Loaded config.json.")).to_be_visible()
            _settle(page)
        page.screenshot(path=str(ARTIFACTS / "headers-walk-last-view.png"))
        browser.close()
    violations = [line for line in console if "CSP violation" in line or "Content Security Policy" in line]
    assert violations == [], violations
    assert left == [], f"requests that would have left this machine: {left}"
