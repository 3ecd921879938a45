"""The exported DenseNet-121 opened in Netron (the ``netron`` package from PyPI) in Debian's Chromium.

The file is served with ``netron.start(path, address=..., browse=False)``, as a
user would open it, and Playwright drives the page: the graph must hold the
seven operations of ``features.denseblock2.denselayer7`` under their module
paths, the concatenation it reads must carry 128 + 6·32 = 320 channels, and
Netron's Find and node properties must name it. Netron's page calls out to
ipinfo.io and Google Analytics: every request that is not to the local
server is aborted, and the consent cookie is set so that no dialog covers
the graph. Netron replaces ``window.eval``, so the DOM is read from
``page.content()`` rather than with ``evaluate``.

Screenshots: artifacts/netron-densenet121.png (the layer's concatenation
and its properties) and artifacts/netron-densenet121-find.png.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from densviz.core.config import PRESETS
from tests.browser.server import CHROMIUM, CHROMIUM_ARGS, free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
LAYER = "/features/denseblock2/denselayer7/"
OPERATIONS = [  # what DenseLayer.forward does, in order (bottleneck: BN-ReLU-Conv1×1-BN-ReLU-Conv3×3)
    "Concat",
    "norm1/BatchNormalization",
    "relu1/Relu",
    "conv1/Conv",
    "norm2/BatchNormalization",
    "relu2/Relu",
    "conv2/Conv",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make setup installs it as root)"
    ),
]


@pytest.fixture(scope="module")
def netron_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """DenseNet-121 exported by densviz, served by Netron on a free loopback port."""
    netron = pytest.importorskip("netron", reason="the netron package is not installed (pip install netron)")
    from densviz.nn.onnx import export_onnx

    preset = PRESETS["densenet121"]
    path = tmp_path_factory.mktemp("netron") / "densenet121.onnx"
    model = export_onnx(preset.config, preset.input)
    print(f"DenseNet-121: {model.check_sentence}")
    path.write_bytes(model.data)
    address = netron.start(str(path), address=("127.0.0.1", free_port()), browse=False)
    try:
        yield f"http://{address[0]}:{address[1]}/"
    finally:
        netron.stop(address)


@pytest.fixture(scope="module")
def page(netron_url: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.add_cookies([{"name": "consent", "value": "1", "url": netron_url}])  # no dialog over the graph
        outside: list[str] = []

        def only_local(route: Any) -> None:
            if route.request.url.startswith(netron_url):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", only_local)
        tab = context.new_page()
        tab.goto(netron_url)
        tab.locator("#canvas g.graph-node").first.wait_for(timeout=180_000)
        yield tab
        browser.close()


def _text(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def _find(page: Any, query: str) -> list[str]:
    """Netron's Find (menu → Find…) for ``query``: the names it lists."""
    if not page.locator(".sidebar-find-query").count():
        page.locator("#menu-button").click()
        page.get_by_text("Find", exact=False).first.click()
    page.locator(".sidebar-find-query").fill(query)
    page.wait_for_timeout(500)
    listing = re.search(r'<ol class="sidebar-find-content"[^>]*>(.*?)</ol>', page.content(), re.DOTALL)
    assert listing, "Netron's Find list"
    return [_text(item) for item in re.findall(r"<li[^>]*>(.*?)</li>", listing.group(1), re.DOTALL)]


def _sidebar(page: Any) -> str:
    content = page.content()
    start = content.index('id="sidebar"')
    return _text(content[content.index(">", start) + 1 :])


def test_the_graph_holds_the_layer_under_its_module_path(page: Any) -> None:
    content = page.content()
    ids = re.findall(r'<g id="node-name-([^"]+)" class="node graph-node', content)
    assert [i.removeprefix(LAYER) for i in ids if i.startswith(LAYER)] == OPERATIONS
    titles = re.findall(r"<title>(/features/denseblock2/denselayer7/[^<]+)</title>", content)
    assert sorted(titles) == sorted(LAYER + op for op in OPERATIONS)  # the names Netron shows on hover
    # the concatenation layer 7 reads: the block input (128) and layers 1-6 (6 × 32 each)
    label = re.search(rf'id="edge-label-edge-{re.escape(LAYER)}Concat_output_0"[^>]*>(.*?)</text>', content)
    assert label and _text(label.group(1)) == "batch×320×28×28"


def test_find_and_properties_name_the_layer(page: Any) -> None:
    found = _find(page, "denseblock2/denselayer7/")
    assert [f for f in found if not f.endswith("_output_0")] == [LAYER + op for op in OPERATIONS]
    page.screenshot(path=str(ARTIFACTS / "netron-densenet121-find.png"))
    page.locator(".sidebar-find-content li").nth(0).dblclick()  # the layer's Concat: selected, centred, described
    page.wait_for_timeout(800)
    said = _sidebar(page)
    assert said.startswith("Node Properties") and f"{LAYER}Concat" in said
    inputs = re.findall(r"name: (\S+)", said)
    assert inputs[:7] == [
        "/features/transition1/pool/AveragePool_output_0",
        *(f"/features/denseblock2/denselayer{i}/conv2/Conv_output_0" for i in range(1, 7)),
    ]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "netron-densenet121.png"))
