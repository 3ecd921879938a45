"""What ``densviz export --formats`` accepts, and its parser."""

from __future__ import annotations

from enum import StrEnum

from densviz.core.config import ConfigError

__all__ = ["DEFAULT_FORMATS", "IMAGE_FORMATS", "ExportFormat", "parse_formats"]


class ExportFormat(StrEnum):
    """What ``densviz export --formats`` accepts."""

    SVG = "svg"
    PNG = "png"
    PDF = "pdf"
    DOT = "dot"
    HTML = "html"
    CSV = "csv"
    JSON = "json"
    ONNX = "onnx"
    TEX = "tex"
    ZIP = "zip"


DEFAULT_FORMATS = (
    ExportFormat.SVG,
    ExportFormat.PNG,
    ExportFormat.PDF,
    ExportFormat.DOT,
    ExportFormat.HTML,
    ExportFormat.CSV,
    ExportFormat.JSON,
)
"""What an export writes when no formats are named (ONNX and TeX only when asked: the model takes seconds to export and check)."""
IMAGE_FORMATS = (ExportFormat.SVG, ExportFormat.PNG, ExportFormat.PDF)
"""The picture formats (of the graph and of the charts)."""


def parse_formats(text: str) -> tuple[ExportFormat, ...]:
    """Parse ``svg,png,zip``.

    Raises:
        ConfigError: naming the unknown format and the allowed ones.
    """
    out: list[ExportFormat] = []
    for word in (w.strip().lower() for w in text.split(",")):
        if not word:
            continue
        try:
            fmt = ExportFormat(word)
        except ValueError:
            raise ConfigError(
                "formats", word, "a comma-separated list of " + ", ".join(f.value for f in ExportFormat)
            ) from None
        if fmt not in out:
            out.append(fmt)
    if not out:
        raise ConfigError("formats", text, "a comma-separated list of " + ", ".join(f.value for f in ExportFormat))
    return tuple(out)
