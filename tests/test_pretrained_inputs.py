"""Published ImageNet weights' inputs and outputs: the preprocessing torchvision's weights expect, the class names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from densviz.run import pretrained
from densviz.run.inputs import IMAGENET_MEAN, IMAGENET_STD, ImageError
from densviz.run.pretrained import imagenet_class_names, imagenet_preprocess

# --- preprocessing -----------------------------------------------------------------


def normalised(rgb: tuple[int, int, int]) -> list[float]:
    return [(c / 255 - m) / s for c, m, s in zip(rgb, IMAGENET_MEAN, IMAGENET_STD, strict=True)]


def test_preprocess_resizes_crops_and_normalises() -> None:
    # 512 × 640, four flat quadrants split at row 256 and column 320: halved to 256 × 320, then the
    # centre 224 × 224 starts at row 16 and column 48, so the quadrants meet at output row and column 112.
    colours = {(0, 0): (255, 0, 128), (0, 1): (10, 200, 30), (1, 0): (0, 0, 0), (1, 1): (90, 60, 240)}
    image = np.zeros((512, 640, 3), np.uint8)
    for (i, j), rgb in colours.items():
        image[i * 256 : (i + 1) * 256, j * 320 : (j + 1) * 320] = rgb
    x = imagenet_preprocess(image)
    assert x.shape == (1, 3, 224, 224) and x.dtype == torch.float32
    for (i, j), rgb in colours.items():
        for row, col in ((0, 0), (110, 110), (50, 80)):
            r, c = row + 113 * i, col + 113 * j  # rows 111-112 blend: the filter reaches 2 source pixels
            assert x[0, :, r, c].tolist() == pytest.approx(normalised(rgb), abs=1e-6), (i, j, r, c)
    # across the border the filter blends the two colours
    mixed = x[0, 0, 111:113, 50]
    assert normalised((255, 0, 128))[0] > mixed[0] > mixed[1] > normalised((0, 0, 0))[0]


def test_preprocess_crop_rounds_half_to_even() -> None:
    # short side already 256: no resizing; 387 - 224 = 163, so the crop starts at round(81.5) = 82, not 81
    image = np.zeros((256, 387, 3), np.uint8)
    image[:, :, 0] = np.arange(387, dtype=np.uint16)[None, :] % 256
    image[:, :, 1] = np.arange(256, dtype=np.uint8)[:, None]
    x = imagenet_preprocess(image)
    assert x[0, 0, 0, 0].item() == pytest.approx((82 / 255 - 0.485) / 0.229, abs=1e-6)
    assert x[0, 1, 0, 0].item() == pytest.approx((16 / 255 - 0.456) / 0.224, abs=1e-6)  # top = (256 - 224) / 2
    assert x[0, 0, 5, 223].item() == pytest.approx(((82 + 223) % 256 / 255 - 0.485) / 0.229, abs=1e-6)


def test_resize_truncates_the_long_side_as_torchvision() -> None:
    assert pretrained._resized_size(300, 451) == (256, 384)  # 256 · 451 / 300 = 384.85 -> 384
    assert pretrained._resized_size(451, 300) == (384, 256)
    assert pretrained._resized_size(100, 100) == (256, 256)
    assert pretrained._crop_origin(256, 383) == (16, 80)  # round(79.5) = 80
    tall = imagenet_preprocess(np.full((451, 300, 3), 128, np.uint8))
    assert tall.shape == (1, 3, 224, 224)
    assert torch.allclose(tall[0, :, 0, 0], torch.tensor(normalised((128, 128, 128))), atol=1e-6)


@pytest.mark.parametrize(
    "image",
    [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32), np.zeros((0, 10, 3), np.uint8)],
)
def test_preprocess_refuses_what_is_not_an_image(image: np.ndarray) -> None:
    with pytest.raises(ImageError):
        imagenet_preprocess(image)


# --- class names -------------------------------------------------------------------


def test_the_thousand_class_names() -> None:
    names = imagenet_class_names()
    assert len(names) == 1000 and len(set(names)) == 1000
    assert names[0] == "tench" and names[1] == "goldfish"
    assert names[207] == "golden retriever" and names[999] == "toilet tissue"


def test_the_class_names_say_where_they_come_from() -> None:
    import json

    data = json.loads((Path(pretrained.__file__).parent / "imagenet_classes.json").read_text(encoding="utf-8"))
    assert data["source"].startswith("torchvision's _IMAGENET_CATEGORIES (torchvision/models/_meta.py")
    assert data["classes"][:2] == ["tench", "goldfish"]
