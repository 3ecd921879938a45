"""The Forward pass view in a real browser: uploaders that follow the user, named top-5, the CAM row.

Chromium (Debian's, through Playwright) against ``streamlit run app.py``.
What only a browser shows: the browser's own refusal of a file over an
uploader's limit, and the page's layout at 1440×900 and 390×844.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.browser import server as helper

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
MIB = 1 << 20

pytestmark = pytest.mark.skipif(
    not Path(helper.CHROMIUM).exists(), reason="Debian's chromium is not installed (make setup installs it as root)"
)


def png(width: int = 48, height: int = 40) -> bytes:
    """A small real PNG (a gradient), made here."""
    from PIL import Image

    ramp = np.linspace(0, 255, width * height * 3).astype(np.uint8).reshape(height, width, 3)
    buffer = io.BytesIO()
    Image.fromarray(ramp).save(buffer, format="PNG")
    return buffer.getvalue()


def sparse(path: Path, size: int, head: bytes = b"") -> Path:
    """A file of ``size`` bytes that takes no disk (only its header is written)."""
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)
    return path


def uploader(page: object, label: str) -> object:
    return page.get_by_test_id("stFileUploader").filter(has_text=label)  # type: ignore[attr-defined]


def chips(box: object) -> list[str]:
    """The files an uploader lists, by name."""
    return [c.get_attribute("aria-label").split(",")[0] for c in box.get_by_test_id("stFileChip").all()]  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def app() -> Iterator[str]:
    """``densviz app`` (as ``make run`` serves the page): its Content-Security-Policy must let the page's script run."""
    from tests.app_server import densviz_app, running

    with running(densviz_app(), log=ARTIFACTS / "server-test_forward_browser-app.log") as (url, _proc):
        yield url


@pytest.mark.slow  # two uploads over the limit in Chromium: the slow suite (CI runs it too)
def test_a_file_the_browser_refuses_replaces_the_earlier_one(app: str, tmp_path: Path) -> None:
    """Issue 12: an image (or weights file) over the uploader's limit is refused, and the earlier file goes too.

    Before the fix the earlier file stayed loaded behind the refused one and Run used it. Served by
    ``densviz app``, whose script policy allows the page's helper by its hash, and whose server holds each
    upload to its uploader's limit.
    """
    server = app
    from playwright.sync_api import expect, sync_playwright

    from densviz import build_model
    from densviz.core.config import PRESETS
    from densviz.run import MAX_IMAGE_BYTES, MAX_WEIGHTS_BYTES, save_weights

    first = tmp_path / "first.png"
    first.write_bytes(png())
    too_big = sparse(tmp_path / "too-big.png", MAX_IMAGE_BYTES + MIB, png())
    weights = tmp_path / "tiny.safetensors"
    weights.write_bytes(save_weights(build_model(PRESETS["tiny"].config)))
    too_big_weights = sparse(tmp_path / "too-big.safetensors", MAX_WEIGHTS_BYTES + MIB)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=helper.CHROMIUM, args=helper.CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1600})
        page.set_default_timeout(60_000)
        expect.set_options(timeout=60_000)
        page.goto(f"{server}/?preset=tiny&view=Forward+pass")
        run = page.get_by_role("button", name="Run", exact=True)

        # The image: a good one, then one over the limit.
        page.get_by_text("upload a PNG/JPEG", exact=True).click()
        image_box = uploader(page, "Image (PNG or JPEG)")
        image_box.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(first))
        expect(image_box.get_by_test_id("stFileChip")).to_have_count(1)
        image_box.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(too_big))
        expect(image_box.get_by_text("File must be 20.0MB or smaller.")).to_be_visible()  # the browser's refusal
        expect(image_box.get_by_test_id("stFileChip")).to_have_count(1)
        assert chips(image_box) == ["too-big.png"]  # first.png went with the user's new choice
        run.click()
        expect(page.get_by_test_id("stAlertContentError")).to_contain_text("upload first")
        expect(page.get_by_text("Shown: the run on")).to_have_count(0)  # nothing ran on first.png

        # The weights: a file that fits, then one over the limit.
        page.get_by_text("random tensor", exact=True).click()
        page.get_by_text("upload a file", exact=True).click()
        weights_box = uploader(page, "Weights file")
        weights_box.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(weights))
        expect(weights_box.get_by_test_id("stFileChip")).to_have_count(1)
        page.wait_for_timeout(500)  # the upload's rerun
        weights_box.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(too_big_weights))
        expect(weights_box.get_by_text("File must be 256.0MB or smaller.")).to_be_visible()
        expect(weights_box.get_by_test_id("stFileChip")).to_have_count(1)
        assert chips(weights_box) == ["too-big.safetensors"]
        run.click()
        expect(page.get_by_test_id("stAlertContentError")).to_contain_text("upload first")
        expect(page.get_by_text("Shown: the run on")).to_have_count(0)  # nothing ran with tiny.safetensors
        page.screenshot(path=str(ARTIFACTS / "forward-refused-uploads.png"))

        # A file that fits after a refusal is taken, and the run uses it.
        weights_box.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(weights))
        expect(weights_box.get_by_test_id("stFileChip").filter(has_text="tiny.safetensors")).to_have_count(1)
        page.wait_for_timeout(500)
        run.click()
        expect(page.get_by_text("Shown: the run on")).to_contain_text("weights: tiny.safetensors")
        browser.close()


@pytest.fixture(scope="module")
def digits_network(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, list[int]]:
    """The tiny preset trained on the digits (3 epochs, seed 0): its link's query, its weights file, the labels."""
    import torch

    from densviz.core.config import PRESETS, InputSpec, to_query
    from densviz.reuse import TrainOptions, digit_batch, train, training_variant
    from densviz.run import DIGIT_CLASSES, save_weights

    torch.set_num_threads(1)
    variant = training_variant(PRESETS["tiny"].config)
    trained = train(variant, TrainOptions(epochs=3, max_seconds=None, seed=0, device="cpu"))
    assert trained.test_accuracy > 0.9  # a network worth looking at
    path = tmp_path_factory.mktemp("digits") / "densenet-digits.safetensors"
    path.write_bytes(save_weights(trained.model, classes=DIGIT_CLASSES))
    query = "&".join(f"{k}={v}" for k, v in to_query(variant.config, InputSpec.square(variant.size)).items())
    _, labels = digit_batch(1, variant.size, variant.size, variant.config.in_channels)
    return query, path, labels


def cam_clip(page: object) -> dict[str, float]:
    """The CAM section's box on the page: from its heading to the caption under the row."""
    top = page.get_by_text("Where each block looks").bounding_box()  # type: ignore[attr-defined]
    bottom = page.get_by_text("Bright: where that module's output raised").bounding_box()  # type: ignore[attr-defined]
    row = page.locator(".st-key-forward_cam_row").bounding_box()  # type: ignore[attr-defined]
    left = row["x"] - 8
    return {
        "x": left,
        "y": top["y"] - 8,
        "width": row["width"] + 16,
        "height": bottom["y"] + bottom["height"] - top["y"] + 16,
    }


@pytest.mark.slow
def test_a_trained_digits_network_names_its_top5_and_shows_where_each_block_looks(
    server: str, digits_network: tuple[str, Path, list[int]]
) -> None:
    from playwright.sync_api import expect, sync_playwright

    query, weights, labels = digits_network
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=helper.CHROMIUM, args=helper.CHROMIUM_ARGS)
        for width, height in ((1440, 900), (390, 844)):
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(90_000)
            expect.set_options(timeout=90_000)
            page.goto(f"{server}/?{query}&view=Forward+pass")
            page.get_by_text("held-out digits", exact=True).click()
            page.get_by_text("upload a file", exact=True).click()
            box = uploader(page, "Weights file")
            box.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(weights))
            expect(box.get_by_test_id("stFileChip")).to_have_count(1)
            page.wait_for_timeout(500)  # the upload's rerun
            page.get_by_role("button", name="Run", exact=True).click()

            # Named top-5: the digits' names, and the first digit's true label beside the answer.
            said = page.get_by_text(f"The first digit is a {labels[0]}; the network says")
            expect(said).to_be_visible()
            answer = re.search(r"the network says (\d)", said.inner_text())
            assert answer, said.inner_text()
            expect(page.get_by_text("Top-5 of the first image")).to_be_visible()
            table = page.get_by_test_id("stDataFrame").first
            expect(table).to_be_visible()

            # The CAM row: the input and one panel per block and transition (tiny: 3 blocks, 2 transitions).
            row = page.locator(".st-key-forward_cam_row")
            expect(row.get_by_role("img")).to_have_count(6)
            digit = answer.group(1)
            expect(page.get_by_text(f"Grad-CAM of class {digit}, the predicted class")).to_be_visible()
            links = [b.inner_text().strip() for b in row.get_by_test_id("stButton").all()]
            assert links == ["block 1 ↗", "transition 1 ↗", "block 2 ↗", "transition 2 ↗", "block 3 ↗"]
            assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
            if width == 390:  # the row wraps: two tiles side by side at most
                tops = sorted({round(b["y"]) for b in (i.bounding_box() for i in row.get_by_role("img").all()) if b})
                assert len(tops) >= 3
            page.get_by_text("Where each block looks").scroll_into_view_if_needed()
            page.wait_for_timeout(300)
            page.screenshot(path=str(ARTIFACTS / f"forward-cam-{width}x{height}.png"))
            if width == 1440:
                page.set_viewport_size({"width": 1440, "height": 2400})
                page.wait_for_timeout(500)
                page.screenshot(path=str(ROOT / "docs" / "screenshot-cam.png"), clip=cam_clip(page))
                page.set_viewport_size({"width": 1440, "height": 900})

                # One click on a panel opens the Graph view with that module selected, and back again.
                row.get_by_role("button", name="block 2 ↗").click()
                expect(page.get_by_role("radio", name="Graph", exact=True)).to_be_checked()
                expect(page.get_by_text("features.denseblock2 · dense block 2")).to_be_visible()  # its panel
                page.get_by_role("button", name="Feature maps of this layer").click()
                expect(page.get_by_role("radio", name="Forward pass", exact=True)).to_be_checked()
                layer = page.get_by_role("combobox", name="Layer")
                expect(layer).to_have_value("features.denseblock2")  # the explorer shows the module sent back
            page.close()
        browser.close()
