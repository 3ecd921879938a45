"""Inputs: uploads checked before decoding, preprocessing."""

from __future__ import annotations

import io

import pytest
from PIL import Image

import densviz.run as rt
from densviz.core.config import InputSpec


def _png(size: tuple[int, int], mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size).save(buf, "PNG")
    return buf.getvalue()


def test_images_are_checked_before_decoding() -> None:
    good = rt.load_image(_png((64, 48)))
    assert good.shape == (48, 64, 3)
    with pytest.raises(rt.ImageError, match="empty"):
        rt.load_image(b"")
    with pytest.raises(rt.ImageError, match="at most"):
        rt.load_image(_png((64, 48)), max_bytes=10)
    with pytest.raises(rt.ImageError, match="not a PNG or JPEG image"):
        rt.load_image(b"plain text pretending to be a png")
    with pytest.raises(rt.ImageError, match="damaged or truncated"):
        rt.load_image(_png((640, 480))[:200])
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, "GIF")
    with pytest.raises(rt.ImageError, match="the file is GIF; PNG and JPEG are accepted"):
        rt.load_image(gif.getvalue())
    bomb = _png((12_000, 12_000), mode="1")  # 144 Mpx in a few kilobytes
    assert len(bomb) < 100_000
    with pytest.raises(rt.ImageError, match="at most 40,000,000 are accepted"):
        rt.load_image(bomb)
    with pytest.raises(rt.ImageError, match="decompression bomb"):
        rt.load_image(bomb, max_pixels=10**9)  # past our own limit, Pillow's warning still stops it


def test_preprocess_shapes_and_grey() -> None:
    photo = rt.sample_images()["china"]
    x = rt.preprocess(photo, InputSpec(batch=3, height=40, width=56), 3)
    assert x.shape == (3, 3, 40, 56)
    assert x.mean().abs() < 3  # normalised
    assert rt.preprocess(photo, InputSpec.square(32), 1).shape == (1, 1, 32, 32)
