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

    The size is read from the header before anything is decoded, decompression
    bombs are refused (Pillow's warning becomes an error), the file is
    verified, then reopened and loaded.

    Raises:
        ImageError: empty, too large, not a PNG/JPEG, truncated, or a bomb.
    """
    if not data:
        raise ImageError("the image file is empty.")
    if len(data) > max_bytes:
        raise ImageError(f"the image file is {format_bytes(len(data))}; at most {format_bytes(max_bytes)} is accepted.")
    fmt, width, height = _read_header(data)
    if fmt not in ("PNG", "JPEG"):
        raise ImageError(f"the file is {fmt or 'not an image'}; PNG and JPEG are accepted.")
    if width * height > max_pixels:
        raise ImageError(
            f"the image is {width}×{height} = {width * height:,} pixels; at most {max_pixels:,} are accepted."
        )
    return _decode(data)


def preprocess(image: np.ndarray, spec: InputSpec, in_channels: int) -> Tensor:
    """Resize the shorter side, centre-crop to the input size, normalise: (N, C, H, W).

    The shorter side goes to 256/224 of the crop (the ImageNet evaluation
    recipe); one-channel networks get the image's luminance.
    """
    from PIL import Image

    img = Image.fromarray(image)
    scale = max(spec.height, spec.width) * 256 / 224 / min(img.size)
    img = img.resize(
        (max(spec.width, round(img.width * scale)), max(spec.height, round(img.height * scale))),
        Image.Resampling.BILINEAR,
    )
    left, top = (img.width - spec.width) // 2, (img.height - spec.height) // 2
    img = img.crop((left, top, left + spec.width, top + spec.height))
    x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)  # (3, H, W)
    x = (x - torch.tensor(IMAGENET_MEAN).view(3, 1, 1)) / torch.tensor(IMAGENET_STD).view(3, 1, 1)
    if in_channels == 1:
        x = (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]).unsqueeze(0)  # (1, H, W)
    return x.unsqueeze(0).expand(spec.batch, -1, -1, -1).contiguous()  # (N, C, H, W)


def random_input(spec: InputSpec, in_channels: int, seed: int = 0) -> Tensor:
    """A standard-normal input of the planned shape, (N, C, H, W)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(spec.batch, in_channels, spec.height, spec.width, generator=gen)
