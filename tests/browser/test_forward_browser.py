"""The Forward pass view in a real browser: uploaders that follow the user, named top-5, the CAM row.

Chromium (Debian's, through Playwright) against ``streamlit run app.py``.
What only a browser shows: the browser's own refusal of a file over an
uploader's limit, and the page's layout at 1440×900 and 390×844.
"""

from __future__ import annotations

import io
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


def test_a_file_the_browser_refuses_replaces_the_earlier_one(server: str, tmp_path: Path) -> None:
    """Issue 12: an image (or weights file) over the uploader's limit is refused, and the earlier file goes too.

    Before the fix the earlier file stayed loaded behind the refused one and Run used it.
    """
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
