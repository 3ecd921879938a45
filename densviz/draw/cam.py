"""Class activation maps drawn over the input: per-panel RGB overlays, and one labelled row as a PNG.

numpy and Pillow only (no torch, no matplotlib). The maps come from
:mod:`densviz.run.cam` (a ``CamRow``'s ``panels``; anything with ``label``,
``raw`` and ``upsampled`` will do) and the picture from its ``input_picture``:

    from densviz.draw.cam import cam_row_png, overlays

    st.image(cam_row_png(picture, row.panels, title="Grad-CAM · daisy (predicted, 87%)"))
    for panel, rgb in zip(row.panels, overlays(picture, row.panels)):
        st.image(rgb, caption=panel.label)   # (H, W, 3) uint8 at the input's size

The colour map is inferno (perceptually uniform, readable in grey and by
colour-blind readers; low is near black, high is pale yellow), blended over
the picture with a constant weight, so the picture shows through everywhere
and the bright regions are where the class's score rose. Each map is scaled to
its own maximum, as the row's key says.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "INFERNO",
    "MapPanel",
    "cam_row_image",
    "cam_row_png",
    "colorize",
    "enlarge",
    "overlay",
    "overlays",
    "png_bytes",
]

INFERNO: tuple[tuple[int, int, int], ...] = (
    (0, 0, 4),
    (11, 7, 36),
    (33, 12, 74),
    (61, 9, 101),
    (87, 16, 110),
    (113, 25, 110),
    (138, 34, 106),
    (163, 44, 97),
    (188, 55, 84),
    (210, 70, 68),
    (228, 90, 49),
    (241, 115, 29),
    (249, 142, 9),
    (252, 172, 17),
    (249, 203, 53),
    (242, 234, 105),
    (252, 255, 164),
)
"""Inferno (Smith and van der Walt's, as matplotlib ships it; CC0) at 17 evenly spaced points.

Linear interpolation between them stays within 7/255 of matplotlib's 256-entry table.
"""

ALPHA = 0.55
"""The map's weight in the blend: the picture keeps 45% everywhere."""

_BACKGROUND = (255, 255, 255)
_INK = (17, 24, 39)
_MUTED = (107, 114, 128)
_GAP = 10
_MARGIN = 12


class MapPanel(Protocol):
    """What drawing needs of a panel (``densviz.run.cam.CamPanel`` has it)."""

    @property
    def label(self) -> str:
        """``block 2``."""
        ...

    @property
    def raw(self) -> np.ndarray:
        """(h, w): the map at the module's resolution (for the label)."""
        ...

    @property
    def upsampled(self) -> np.ndarray:
        """(H, W) in [0, 1] at the picture's size."""
        ...


def colorize(heat: np.ndarray) -> np.ndarray:
    """(H, W) values in [0, 1] (clipped) -> (H, W, 3) uint8 in inferno."""
    anchors = np.asarray(INFERNO, dtype=np.float32)  # (17, 3)
    t = np.linspace(0.0, 1.0, len(INFERNO), dtype=np.float32)
    h = np.clip(np.nan_to_num(np.asarray(heat, dtype=np.float32)), 0.0, 1.0)
    rgb = np.stack([np.interp(h, t, anchors[:, i]) for i in range(3)], axis=-1)  # (H, W, 3)
    return np.asarray(rgb.round(), dtype=np.uint8)


def overlay(picture: np.ndarray, heat: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """The map in inferno blended over the picture: (H, W, 3) uint8.

    Args:
        picture: (H, W, 3) uint8, the input as the network saw it.
        heat: (H, W) in [0, 1], the same size.
        alpha: The map's weight, 0–1.

    Raises:
        ValueError: when the sizes differ or the picture is not (H, W, 3) uint8.
    """
    if picture.ndim != 3 or picture.shape[2] != 3 or picture.dtype != np.uint8:
        raise ValueError(f"the picture must be (height, width, 3) uint8; got {picture.shape} {picture.dtype}")
    if heat.shape != picture.shape[:2]:
        raise ValueError(
            f"the map is {heat.shape[0]}×{heat.shape[1]} but the picture {picture.shape[0]}×{picture.shape[1]}"
        )
    mixed = (1.0 - alpha) * picture.astype(np.float32) + alpha * colorize(heat).astype(np.float32)
    return np.asarray(mixed.round().clip(0, 255), dtype=np.uint8)


def overlays(picture: np.ndarray, panels: Sequence[MapPanel], alpha: float = ALPHA) -> list[np.ndarray]:
    """One overlay per panel, in order: (H, W, 3) uint8 each, at the picture's size."""
    return [overlay(picture, p.upsampled, alpha) for p in panels]


def enlarge(rgb: np.ndarray, min_side: int = 224) -> np.ndarray:
    """Repeat every pixel a whole number of times until the shorter side is at least ``min_side``.

    Nearest neighbour, so an 8×8 digit's pixels stay visible as pixels; an image
    already that large is returned as it is.
    """
    factor = max(1, -(-min_side // max(1, min(rgb.shape[0], rgb.shape[1]))))  # ceil
    return rgb if factor == 1 else np.repeat(np.repeat(rgb, factor, axis=0), factor, axis=1)


def png_bytes(rgb: np.ndarray) -> bytes:
    """An (H, W, 3) uint8 array as PNG bytes."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


_Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@lru_cache(maxsize=8)
def _font(size: int) -> tuple[_Font, bool]:
    """DejaVu Sans where the system has it (it has × and ·), else Pillow's own font: (font, has ×)."""
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size), True
    except OSError:  # Pillow's built-in font draws × as a box
        return ImageFont.load_default(size=size), False


def _text(text: str, has_times: bool) -> str:
    return text if has_times else text.replace("×", "x")


def _tile(rgb: np.ndarray, side: int) -> Image.Image:
    """The image with its longer side at ``side`` px: nearest neighbour when enlarged 2× or more (pixels stay honest)."""
    h, w = rgb.shape[:2]
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    resample = Image.Resampling.NEAREST if scale >= 2 else Image.Resampling.LANCZOS
    return Image.fromarray(rgb).resize(size, resample)


def _text_width(draw: ImageDraw.ImageDraw, text: str, font: _Font) -> int:
    left, _top, right, _bottom = draw.textbbox((0, 0), text, font=font)
    return int(right - left)


def _fit(draw: ImageDraw.ImageDraw, text: str, font: _Font, width: int) -> str:
    """The text cut with an ellipsis to fit ``width`` px."""
    if _text_width(draw, text, font) <= width:
        return text
    while text and _text_width(draw, text + "…", font) > width:
        text = text[:-1]
    return text + "…"


def cam_row_image(
    picture: np.ndarray,
    panels: Sequence[MapPanel],
    *,
    title: str | None = None,
    tile: int = 160,
    alpha: float = ALPHA,
    show_input: bool = True,
) -> np.ndarray:
    """The input, then every panel's overlay side by side, each labelled with its module and resolution.

    Args:
        picture: (H, W, 3) uint8, the input as the network saw it.
        panels: The maps, block 1 first.
        title: A line above the row (the method and the class), or ``None``.
        tile: The longer side of each tile, in px.
        alpha: The map's weight in the blend.
        show_input: Whether the first tile is the bare input.

    Returns:
        (height, width, 3) uint8: the row on white with a colour key under it.
    """
    tiles: list[tuple[Image.Image, str, str]] = []
    h, w = picture.shape[:2]
    if show_input:
        tiles.append((_tile(picture, tile), "input", f"{h}×{w}"))
    for panel, rgb in zip(panels, overlays(picture, panels, alpha), strict=True):
        ph, pw = panel.raw.shape[:2]
        empty = not np.asarray(panel.upsampled).any()
        tiles.append((_tile(rgb, tile), panel.label, f"{ph}×{pw}" + (" · no positive part" if empty else "")))
    (label_font, times), (small_font, _), (title_font, _) = _font(13), _font(11), _font(14)
    tiles = [(img, _text(label, times), _text(detail, times)) for img, label, detail in tiles]
    tile_w = max(t.width for t, _, _ in tiles)
    tile_h = max(t.height for t, _, _ in tiles)
    title_h = 24 if title else 0
    label_h = 34
    key_h = 30
    width = 2 * _MARGIN + len(tiles) * tile_w + (len(tiles) - 1) * _GAP
    height = _MARGIN + title_h + label_h + tile_h + 8 + key_h + _MARGIN
    canvas = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text(
            (_MARGIN, _MARGIN),
            _fit(draw, _text(title, times), title_font, width - 2 * _MARGIN),
            fill=_INK,
            font=title_font,
        )
    top = _MARGIN + title_h
    for i, (img, label, detail) in enumerate(tiles):
        left = _MARGIN + i * (tile_w + _GAP)
        draw.text((left, top), _fit(draw, label, label_font, tile_w), fill=_INK, font=label_font)
        draw.text((left, top + 17), _fit(draw, detail, small_font, tile_w), fill=_MUTED, font=small_font)
        canvas.paste(img, (left, top + label_h))
    _draw_key(canvas, draw, (_MARGIN, top + label_h + tile_h + 8), small_font)
    return np.asarray(canvas)


def _draw_key(
    canvas: Image.Image,
    draw: ImageDraw.ImageDraw,
    at: tuple[int, int],
    font: _Font,
) -> None:
    """The colour key: a strip from 0 to each map's own maximum, with words at its ends."""
    x, y = at
    strip_w, strip_h = 160, 10
    ramp = colorize(np.tile(np.linspace(0.0, 1.0, strip_w, dtype=np.float32), (strip_h, 1)))  # (10, 160, 3)
    draw.text((x, y), "0", fill=_MUTED, font=font)
    left = x + _text_width(draw, "0", font) + 6
    canvas.paste(Image.fromarray(ramp), (left, y + 2))
    room = canvas.width - _MARGIN - (left + strip_w + 6)
    words = _fit(draw, "each map's maximum (each scaled to its own; its positive part shown)", font, room)
    draw.text((left + strip_w + 6, y), words, fill=_MUTED, font=font)


def cam_row_png(
    picture: np.ndarray,
    panels: Sequence[MapPanel],
    *,
    title: str | None = None,
    tile: int = 160,
    alpha: float = ALPHA,
    show_input: bool = True,
) -> bytes:
    """:func:`cam_row_image` as PNG bytes."""
    return png_bytes(cam_row_image(picture, panels, title=title, tile=tile, alpha=alpha, show_input=show_input))
