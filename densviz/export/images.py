"""Chart files: self-contained HTML, and PNG, SVG or PDF through kaleido's Chromium.

Chart images share one long-lived Chromium (about 0.3 s per image instead of
4–6 s to start a browser each time). kaleido's shared server is not
thread-safe (plotly/Kaleido#444: concurrent callers received each other's
images), so every call goes through one process-wide lock.
"""

from __future__ import annotations

import atexit
import re
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import plotly.graph_objects as go

__all__ = [
    "CHART_SCALE",
    "CHART_WIDTH",
    "ChartImageUnavailableError",
    "chart_html",
    "chart_image",
    "chart_images",
    "retitle_pdf",
]

CHART_WIDTH = 1200
CHART_SCALE = 2  # PNG pixels per CSS pixel: crisp on slides


class ChartImageUnavailableError(RuntimeError):
    """No browser for kaleido: chart images cannot be made here."""


def chart_html(fig: go.Figure) -> str:
    """A self-contained page: plotly.js is inside, nothing is fetched."""
    return str(
        fig.to_html(
            include_plotlyjs=True,
            full_html=True,
            config={"displaylogo": False, "toImageButtonOptions": {"scale": CHART_SCALE}},
        )
    )


_KALEIDO_LOCK = threading.Lock()
_kaleido_started = False


def _stop_kaleido() -> None:
    import kaleido

    with _KALEIDO_LOCK:
        kaleido.stop_sync_server(silence_warnings=True)


def chart_image(fig: go.Figure, fmt: str) -> bytes:
    """PNG, SVG or PDF of one figure through kaleido's shared Chromium.

    Raises:
        ChartImageUnavailableError: no Chromium (or kaleido) on this machine.
    """
    return chart_images([(fig, fmt)])[0]


def _scale(fig: go.Figure, fmt: str) -> int:
    # A 3-D scene is rasterised by software WebGL: twice the pixels cost twice the time.
    return CHART_SCALE if fmt == "png" and not any(t.type == "mesh3d" for t in fig.data) else 1


def chart_images(jobs: Sequence[tuple[go.Figure, str]]) -> list[bytes]:
    """Images of several figures in one batch (two browser tabs at once).

    Args:
        jobs: (figure, format) pairs; format is ``png``, ``svg`` or ``pdf``.

    Returns:
        The images' bytes, in the order of ``jobs``.

    Raises:
        ChartImageUnavailableError: no Chromium (or kaleido) on this machine.
    """
    global _kaleido_started
    try:
        import kaleido
        from choreographer.errors import ChromeNotFoundError
    except ImportError:
        raise ChartImageUnavailableError(
            "Chart images need the kaleido package; the charts are exported as HTML instead."
        ) from None
    with (
        _KALEIDO_LOCK,
        tempfile.TemporaryDirectory(prefix="densviz-") as tmp,
    ):  # kaleido's server is not thread-safe (plotly/Kaleido#444)
        specs = [
            {
                "fig": fig,
                "path": str(Path(tmp) / f"{i}.{fmt}"),
                "opts": {
                    "format": fmt,
                    "width": CHART_WIDTH,
                    "height": int(fig.layout.height or 520),
                    "scale": _scale(fig, fmt),
                },
            }
            for i, (fig, fmt) in enumerate(jobs)
        ]
        try:
            if not _kaleido_started:
                kaleido.start_sync_server(n=2, mathjax=False, silence_warnings=True)
                atexit.register(_stop_kaleido)
                _kaleido_started = True
            kaleido.write_fig_from_object_sync(specs)
        except ChromeNotFoundError:
            raise ChartImageUnavailableError(
                "Chart images need a Chromium browser, and none is installed (apt-get install chromium); "
                "the charts are exported as HTML, which needs nothing."
            ) from None
        images = [Path(str(spec["path"])).read_bytes() for spec in specs]
    return [
        retitle_pdf(data, _title(fig)) if fmt == "pdf" else data for data, (fig, fmt) in zip(images, jobs, strict=True)
    ]


def _title(fig: go.Figure) -> str:
    """The figure's title without its HTML (the subtitle after a <br> is dropped)."""
    text = str(fig.layout.title.text or "densviz chart")
    return re.sub(r"<[^>]+>", "", text.split("<br")[0]).strip() or "densviz chart"


def retitle_pdf(data: bytes, title: str) -> bytes:
    """The PDF with ``title`` as its document title (Chromium writes its page's, "Kaleido-fier").

    Appends an incremental update (a new Info dictionary and a trailer whose
    ``/Prev`` is the old cross-reference table), as the PDF format allows, so
    that no byte of the original moves. A PDF whose trailer cannot be read is
    returned unchanged.
    """
    trailer = re.search(rb"trailer\s*<<(.*?)>>\s*startxref\s*(\d+)\s*%%EOF\s*$", data, re.S)
    if trailer is None:
        return data
    fields, prev = trailer.group(1), int(trailer.group(2))
    size, root = re.search(rb"/Size\s+(\d+)", fields), re.search(rb"/Root\s+(\d+\s+\d+\s+R)", fields)
    if size is None or root is None:
        return data
    number = int(size.group(1))
    hex_title = ("FEFF" + title.encode("utf-16-be").hex().upper()).encode()  # any script, as a PDF text string
    body = data if data.endswith(b"\n") else data + b"\n"
    obj_at = len(body)
    body += b"%d 0 obj\n<< /Title <%s> /Producer (densviz) >>\nendobj\n" % (number, hex_title)
    xref_at = len(body)
    body += b"xref\n%d 1\n%010d 00000 n \n" % (number, obj_at)
    body += b"trailer\n<< /Size %d /Root %s /Info %d 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (
        number + 1,
        root.group(1),
        number,
        prev,
        xref_at,
    )
    return body
