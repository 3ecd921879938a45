"""Inputs: the sample photographs, safe decoding of uploads, preprocessing, random inputs."""

from __future__ import annotations

import io
import warnings
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from densviz.core.config import InputSpec
from densviz.core.units import format_bytes

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MAX_IMAGE_ASPECT",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "ImageError",
    "load_image",
    "preprocess",
    "random_input",
    "sample_images",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MAX_IMAGE_BYTES = 20 << 20  # 20 MiB
MAX_IMAGE_PIXELS = 40_000_000  # 40 Mpx: a large photograph; a bomb claims far more
MAX_IMAGE_ASPECT = 20  # a panorama is 4:1 to 10:1; 40 × 1,000,000 px is a weapon, not a photograph

_BOMB = "the image claims more pixels than it could honestly hold (a decompression bomb); it was not decoded."


class ImageError(ValueError):
    """An image that cannot be used; the message says why in a sentence."""


def _damaged(err: BaseException) -> ImageError:
    return ImageError(f"the image file is damaged or truncated ({err}).")


@lru_cache(maxsize=1)
def sample_images() -> dict[str, np.ndarray]:
    """The two photographs scikit-learn ships (no download), as (H, W, 3) uint8."""
    from sklearn.datasets import load_sample_image

    return {name.removesuffix(".jpg"): np.asarray(load_sample_image(name)) for name in ("china.jpg", "flower.jpg")}


def _read_header(data: bytes) -> tuple[str | None, int, int]:
    """The format, width and height from the header alone: no pixel is decoded."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                width, height = probe.size
                return probe.format, width, height
    except UnidentifiedImageError:
        raise ImageError("the file is not a PNG or JPEG image.") from None
    except Image.DecompressionBombError:
        raise ImageError(_BOMB) from None
    except (OSError, SyntaxError, ValueError) as err:
        raise _damaged(err) from None


def _check_shape(width: int, height: int, max_pixels: int) -> None:
    """Refuse an image with no pixels, too many, or sides too far apart, from its size alone.

    Raises:
        ImageError: naming the size and the limit it breaks.
    """
    if width < 1 or height < 1:
        raise ImageError(f"the image is {width}×{height} pixels; it has no pixels to show.")
    if width * height > max_pixels:
        raise ImageError(
            f"the image is {width}×{height} = {width * height:,} pixels; at most {max_pixels:,} are accepted."
        )
    if max(width, height) > MAX_IMAGE_ASPECT * min(width, height):
        ratio = max(width, height) / min(width, height)
        times = f"{ratio:,.0f}" if ratio >= 100 else f"{ratio:.1f}"
        raise ImageError(
            f"the image is {width}×{height} pixels, its long side {times} times its short side; "
            f"at most {MAX_IMAGE_ASPECT}:1 is accepted."
        )


def _decode(data: bytes) -> np.ndarray:
    """Verify the file, then reopen and load it, with Pillow's bomb warning raised as an error."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as check:
                check.verify()
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                return np.asarray(img.convert("RGB"))
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise ImageError(_BOMB) from None
        except (OSError, SyntaxError, ValueError) as err:
            raise _damaged(err) from None


def load_image(data: bytes, *, max_bytes: int = MAX_IMAGE_BYTES, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Decode an uploaded PNG or JPEG safely, as (H, W, 3) uint8.

    The size is read from the header before anything is decoded: more than
    ``max_pixels`` pixels, or sides further apart than ``MAX_IMAGE_ASPECT`` to
    one, are refused there. Decompression bombs are refused (Pillow's warning
    becomes an error), the file is verified, then reopened and loaded.

    Raises:
        ImageError: empty, too large, too narrow, not a PNG/JPEG, truncated, or a bomb.
    """
    if not data:
        raise ImageError("the image file is empty.")
    if len(data) > max_bytes:
        raise ImageError(f"the image file is {format_bytes(len(data))}; at most {format_bytes(max_bytes)} is accepted.")
    fmt, width, height = _read_header(data)
    if fmt not in ("PNG", "JPEG"):
        raise ImageError(f"the file is {fmt or 'not an image'}; PNG and JPEG are accepted.")
    _check_shape(width, height, max_pixels)
    return _decode(data)


def preprocess(image: np.ndarray, spec: InputSpec, in_channels: int) -> Tensor:
    """Resize the shorter side, centre-crop to the input size, normalise: (N, C, H, W).

    The shorter side goes to 256/224 of the crop (the ImageNet evaluation
    recipe); one-channel networks get the image's luminance. The crop is
    taken from the image as it is and resized straight to the input size, so
    no image larger than the input or the original is ever made (resizing
    the whole image first made 256 × 6.4 M pixels of a 40 × 1 M one).

    Raises:
        ImageError: for an array that is not an (H, W, 3) uint8 image of an
            accepted size and shape.
    """
    from PIL import Image

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ImageError(f"the image must be (height, width, 3) uint8; got {image.shape} {image.dtype}.")
    height, width = int(image.shape[0]), int(image.shape[1])
    _check_shape(width, height, MAX_IMAGE_PIXELS)
    scale = max(spec.height, spec.width) * 256 / 224 / min(width, height)
    # the size the whole image would be resized to, never made: only the crop's box in it is resized, to the
    # input's size (at most 4,096 × 4,096, InputSpec's limit)
    full_w, full_h = max(spec.width, round(width * scale)), max(spec.height, round(height * scale))
    left, top = (full_w - spec.width) // 2, (full_h - spec.height) // 2
    sx, sy = width / full_w, height / full_h  # image pixels per resized pixel
    box = (left * sx, top * sy, (left + spec.width) * sx, (top + spec.height) * sy)
    img = Image.fromarray(image).resize((spec.width, spec.height), Image.Resampling.BILINEAR, box=box)
    x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)  # (3, H, W)
    x = (x - torch.tensor(IMAGENET_MEAN).view(3, 1, 1)) / torch.tensor(IMAGENET_STD).view(3, 1, 1)
    if in_channels == 1:
        x = (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]).unsqueeze(0)  # (1, H, W)
    return x.unsqueeze(0).expand(spec.batch, -1, -1, -1).contiguous()  # (N, C, H, W)


def random_input(spec: InputSpec, in_channels: int, seed: int = 0) -> Tensor:
    """A standard-normal input of the planned shape, (N, C, H, W)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(spec.batch, in_channels, spec.height, spec.width, generator=gen)
