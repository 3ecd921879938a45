"""The Export view's model downloads in Chromium: the ONNX model made as a job on a button, then downloaded.

This test serves a page that draws only :func:`densviz.ui.export_model.model_downloads`
(tests/browser/export_model_app.py) with ``streamlit run``, presses "Make
densenet.onnx", waits for the job, and clicks the plain download that follows.
Screenshots: artifacts/export-model-desktop.png and artifacts/export-model-phone.png.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import onnx
import pytest

from tests.browser.server import CHROMIUM, CHROMIUM_ARGS, free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make setup installs it as root)"
    ),
]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "tests/browser/export_model_app.py")]
    cmd += ["--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port)]
    cmd += ["--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    with open(ARTIFACTS / "server-export_model.log", "w") as log:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=log, stderr=subprocess.STDOUT
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if urllib.request.urlopen(f"{base}/_stcore/health", timeout=2).read() == b"ok":
                        break
                except OSError:
                    pass
                assert proc.poll() is None and time.monotonic() < deadline, "streamlit did not start"
                time.sleep(0.3)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_the_onnx_model_is_made_as_a_job_then_downloaded_with_its_check_shown(
    url: str, browser: Any, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    page.goto(f"{url}/?preset=tiny")
    make = page.get_by_role("button", name="Make densenet.onnx")
    make.wait_for(timeout=60_000)
    assert page.get_by_text("made and checked against PyTorch on a worker when you press the button").is_visible()
    make.click()
    button = page.locator(".st-key-dl_onnx").get_by_role("button", name=re.compile(r"densenet\.onnx$"))
    button.wait_for(timeout=180_000)  # the job's place in the queue, then the export and its check
    caption = page.get_by_text(re.compile(r"densenet\.onnx: onnxruntime vs PyTorch on 2 random images"))
    caption.wait_for(timeout=60_000)
    difference = float(re.search(r"logits ([\d.e+-]+)", caption.inner_text()).group(1))  # type: ignore[union-attr]
    assert difference < 1e-4
    page.get_by_role("button", name="Rerun").click()  # other runs do not take the file away
    page.wait_for_timeout(2000)
    with page.expect_download(timeout=60_000) as info:
        button.click()
    path = tmp_path / "densenet.onnx"
    info.value.save_as(path)
    assert info.value.suggested_filename == "densenet.onnx"
    proto = onnx.load(path)
    names = {n.name for n in proto.graph.node}
    assert "/features/denseblock2/denselayer2/conv1/Conv" in names
    page.screenshot(path=str(ARTIFACTS / "export-model-desktop.png"))
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.goto(f"{url}/?preset=tiny")
    phone.get_by_text("densenet.onnx: onnxruntime vs PyTorch").wait_for(timeout=60_000)  # kept by the server
    phone.locator(".st-key-dl_onnx").get_by_role("button", name=re.compile(r"densenet\.onnx$")).wait_for(timeout=30_000)
    for name in ("overview.tex", "block1.tex"):
        phone.get_by_role("button", name=name, exact=True).wait_for(timeout=30_000)
    phone.screenshot(path=str(ARTIFACTS / "export-model-phone.png"), full_page=True)


def test_the_tex_downloads_are_the_figures(url: str, browser: Any, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    page.goto(f"{url}/?preset=densenet121")
    for label, file_name, marker in (
        ("overview.tex", "densenet-overview.tex", "dense block 4\\\\16 layers"),
        ("block1.tex", "densenet-block1.tex", "\\textbf{Dense block 1}"),
    ):
        button = page.get_by_role("button", name=label)
        button.wait_for(timeout=60_000)
        with page.expect_download(timeout=60_000) as info:
            button.click()
        assert info.value.suggested_filename == file_name
        info.value.save_as(tmp_path / file_name)
        assert marker in (tmp_path / file_name).read_text()
