"""Chart files: self-contained HTML, and PNG, SVG or PDF through kaleido's Chromium.

Chart images share one long-lived Chromium (about 0.3 s per image instead of
4–6 s to start a browser each time), driven by kaleido on an event loop of its
own in a daemon thread. kaleido's shared server is not thread-safe
(plotly/Kaleido#444: concurrent callers received each other's images), so
every call goes through one process-wide lock.

Every wait on the browser is bounded: it has :func:`deadline` seconds to
start, and a batch of images as long again plus ``PER_IMAGE_S`` an image. A
browser that is missing, exits, hangs or misses its deadline is ended, and
the call raises :class:`ChartImageUnavailableError` with a sentence, so that
the export writes the charts as HTML instead, with a note. Ending it kills its
whole process group: choreographer starts it (through a small Python wrapper
that starts the browser) in a session of its own, so the group is the wrapper,
the browser and the browser's helpers. A browser that failed so is not
started again for ``RETRY_AFTER_S`` (its sentence is given at once), so that
the page's downloads do not each wait out its deadline. Nothing here holds up
the interpreter's exit: the thread is a daemon (and so are those kaleido
starts from it), and the browser is closed at exit within a bound.

The browser is found as kaleido finds it (choreographer's own download, then
``BROWSER_PATH``, then ``chromium`` or ``google-chrome`` on the ``PATH``),
except that a ``BROWSER_PATH`` that is set is used even where a download exists.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import logging
import math
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import plotly.graph_objects as go

__all__ = [
    "CHART_SCALE",
    "CHART_WIDTH",
    "DEADLINE_ENV",
    "DEADLINE_S",
    "PER_IMAGE_S",
    "RETRY_AFTER_S",
    "ChartImageUnavailableError",
    "chart_html",
    "chart_image",
    "chart_images",
    "deadline",
    "images_unavailable",
    "retitle_pdf",
    "stop_browser",
]

CHART_WIDTH = 1200
CHART_SCALE = 2  # PNG pixels per CSS pixel: crisp on slides

DEADLINE_ENV = "DENSVIZ_CHART_DEADLINE_S"
"""The environment variable that sets :func:`deadline` (seconds)."""
DEADLINE_S = 60.0
"""Seconds the browser has to start, when ``DENSVIZ_CHART_DEADLINE_S`` does not say."""
PER_IMAGE_S = 5.0
"""Seconds a batch of images has for each of its images, on top of the deadline."""
RETRY_AFTER_S = 300.0
"""A browser that hung or failed is not started again for this long."""
_CLOSE_S = 5.0
"""Seconds the browser has to close before it is killed (and the loop's thread to end)."""

T = TypeVar("T")


class ChartImageUnavailableError(RuntimeError):
    """No usable browser for kaleido: chart images cannot be made here (the sentence says why)."""


def chart_html(fig: go.Figure) -> str:
    """A self-contained page: plotly.js is inside, nothing is fetched."""
    return str(
        fig.to_html(
            include_plotlyjs=True,
            full_html=True,
            config={"displaylogo": False, "toImageButtonOptions": {"scale": CHART_SCALE}},
        )
    )


def deadline() -> float:
    """Seconds the browser has to start: ``DENSVIZ_CHART_DEADLINE_S`` if it is a positive number, else ``DEADLINE_S``."""
    try:
        value = float(os.environ.get(DEADLINE_ENV, ""))
    except ValueError:
        return DEADLINE_S
    return value if math.isfinite(value) and value > 0 else DEADLINE_S


def _kill(process: subprocess.Popen[Any] | None) -> None:
    """Kill the browser's process group (the wrapper, the browser, its helpers) and reap the wrapper."""
    if process is None:
        return
    try:
        if hasattr(os, "killpg") and os.getpgid(process.pid) == process.pid:  # a group of its own
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except (ProcessLookupError, PermissionError):  # gone already
        pass
    with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL is not refused: this is a bound
        process.wait(timeout=_CLOSE_S)


async def _settled(coro: Coroutine[Any, Any, T]) -> tuple[bool, Any]:
    """(True, the result) or (False, the exception): a task given up on leaves no error unread behind it."""
    try:
        return True, await coro
    except BaseException as err:  # handed to the waiting thread, which raises it
        return False, err


async def _cancel_all() -> None:
    """Cancel every other task of the running loop, and give them a second to end."""
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=1)


class _Chromium:
    """One kaleido browser with two tabs, on an event loop of its own in a daemon thread."""

    def __init__(self, path: str) -> None:
        for name in ("choreographer", "kaleido"):  # their warnings narrate what this module ends and says
            if logging.getLogger(name).level == logging.NOTSET:
                logging.getLogger(name).setLevel(logging.ERROR)
        self.path = path
        self.kaleido: Any = None
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="densviz-chromium", daemon=True)
        self.thread.start()

    def wait(self, coro: Coroutine[Any, Any, T], seconds: float) -> T:
        """Run ``coro`` on the browser's loop and wait for it; ``TimeoutError`` after ``seconds``."""
        future = asyncio.run_coroutine_threadsafe(_settled(coro), self.loop)
        try:
            ok, value = future.result(timeout=seconds)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError from None
        except BaseException:  # the caller stopped waiting (Ctrl-C, Streamlit's stop): so does the work
            future.cancel()
            raise
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    async def _open(self, seconds: float) -> None:
        import kaleido

        self.kaleido = kaleido.Kaleido(n=2, mathjax=False, timeout=seconds, path=self.path)
        await self.kaleido.open()

    def start(self, seconds: float) -> None:
        """Start the browser and open its tabs, within ``seconds``."""
        self.wait(self._open(seconds), seconds)

    def write(self, specs: list[dict[str, Any]], seconds: float) -> None:
        """Write every image of ``specs`` (kaleido's figure dicts), within ``seconds``; the first error is raised."""
        self.wait(self.kaleido.write_fig_from_object(specs, cancel_on_error=True), seconds)

    def alive(self) -> bool:
        """Whether the browser's process runs."""
        process = getattr(self.kaleido, "subprocess", None)
        return process is not None and process.poll() is None

    def end(self, *, polite: bool = False) -> None:
        """Close the browser (killing it at once unless ``polite``, else after ``_CLOSE_S``) and stop the loop."""
        k = self.kaleido
        if not polite:
            _kill(getattr(k, "subprocess", None))
        closed = k is None
        if k is not None:
            with contextlib.suppress(Exception):  # a browser that will not close is killed below
                self.wait(k.close(), _CLOSE_S)
                closed = True
        if not closed:
            _kill(getattr(k, "subprocess", None))
            pipe, k._logger_pipe = getattr(k, "_logger_pipe", None), None  # what close() would have closed
            if pipe:
                os.close(pipe)
        with contextlib.suppress(Exception):
            self.wait(_cancel_all(), _CLOSE_S)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(_CLOSE_S)
        if not self.thread.is_alive():
            self.loop.close()


_KALEIDO_LOCK = threading.Lock()
_browser: _Chromium | None = None
_failed: dict[str, tuple[float, str]] = {}
"""Browsers that failed, by path: when, and the sentence."""
_at_exit = False


def stop_browser(timeout: float = _CLOSE_S) -> None:
    """Close the shared browser, if one runs (at exit, within a bound; a browser busy past ``timeout`` is killed)."""
    global _browser
    held = _KALEIDO_LOCK.acquire(timeout=timeout)
    try:
        if _browser is not None:
            _browser.end(polite=held)
            _browser = None
    finally:
        if held:
            _KALEIDO_LOCK.release()


def _browser_path() -> str | None:
    """The browser kaleido would start: ``BROWSER_PATH`` when set, else as choreographer finds one."""
    if path := os.environ.get("BROWSER_PATH"):
        return path
    from choreographer.browsers.chromium import Chromium

    return Chromium.find_browser(skip_local=False)


def _unavailable(path: str | None) -> ChartImageUnavailableError | None:
    """Why no browser can be tried now (none there, or it failed a short while ago), if so."""
    if not path or not Path(path).is_file():
        where = f" at BROWSER_PATH={path}" if os.environ.get("BROWSER_PATH") else ""
        return ChartImageUnavailableError(
            f"Chart images need a Chromium browser, and none was found{where} (apt-get install chromium); "
            "the charts are exported as HTML, which needs nothing."
        )
    if path in _failed:
        when, sentence = _failed[path]
        ago = time.monotonic() - when
        if ago < RETRY_AFTER_S:
            return ChartImageUnavailableError(
                f"{sentence} (That was {ago:.0f} s ago; it is tried again {RETRY_AFTER_S / 60:.0f} minutes after.)"
            )
        del _failed[path]
    return None


def images_unavailable() -> str | None:
    """Why chart images cannot be made now (no browser, or it failed a short while ago), else ``None``.

    Cheap (no browser is started): the page asks before it offers image downloads.
    """
    try:
        problem = _unavailable(_browser_path())
    except ImportError:
        return "Chart images need the kaleido package; the charts are exported as HTML instead."
    return str(problem) if problem else None


def _detail(err: BaseException) -> str:
    """An error's first words, for a sentence: ``the browser seemed to close immediately after starting``."""
    first = err.args[0] if err.args and isinstance(err.args[0], str) else ""
    text = first.splitlines()[0].strip().rstrip(".")[:160] if first.strip() else type(err).__name__
    return text[:1].lower() + text[1:]


def _failure(err: BaseException, path: str, started: bool, seconds: float) -> ChartImageUnavailableError:
    """The sentence for a browser that failed (it timed out, closed, or failed an image); remembered for a while."""
    if isinstance(err, TimeoutError):
        what = (
            f"did not make the chart images within {seconds:g} s" if started else f"did not start within {seconds:g} s"
        )
        sentence = f"The Chromium at {path} {what}, so it was stopped; the charts are exported as HTML instead."
    else:
        what = "failed to make the chart images" if started else "failed to start"
        sentence = f"The Chromium at {path} {what} ({_detail(err)}); the charts are exported as HTML instead."
    _failed[path] = (time.monotonic(), sentence)
    return ChartImageUnavailableError(sentence)


def _render(specs: list[dict[str, Any]]) -> None:
    """Write the images of ``specs`` with the shared browser, started if need be (the caller holds the lock).

    Raises:
        ChartImageUnavailableError: no browser, or one that failed or missed its deadline (and was ended).
    """
    global _browser, _at_exit
    path = _browser_path()
    if (refusal := _unavailable(path)) is not None:
        raise refusal
    assert path is not None  # _unavailable says so
    if _browser is not None and _browser.path != path:  # BROWSER_PATH changed: the browser it names
        _browser.end(polite=True)
        _browser = None
    if _browser is None:
        if not _at_exit:
            atexit.register(stop_browser)
            _at_exit = True
        browser, seconds = _Chromium(path), deadline()
        try:
            browser.start(seconds)
        except BaseException as err:  # an interrupted start is ended too: no half-open browser is kept
            browser.end()
            if isinstance(err, Exception):
                raise _failure(err, path, False, seconds) from None
            raise
        _browser = browser
    seconds = deadline() + PER_IMAGE_S * len(specs)
    try:
        _browser.write(specs, seconds)
    except Exception as err:
        if not isinstance(err, TimeoutError) and _browser.alive():  # an image failed, the browser is well
            raise ChartImageUnavailableError(
                f"Chromium failed to make the chart images ({_detail(err)}); the charts are exported as HTML instead."
            ) from None
        _browser.end()
        _browser = None
        raise _failure(err, path, True, seconds) from None


def chart_image(fig: go.Figure, fmt: str) -> bytes:
    """PNG, SVG or PDF of one figure through kaleido's shared Chromium.

    Raises:
        ChartImageUnavailableError: no usable Chromium (or kaleido) on this machine.
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
        ChartImageUnavailableError: no usable Chromium (or kaleido) on this machine, or one
            that failed or missed its deadline (see the module's text).
    """
    try:
        import kaleido  # noqa: F401
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
        _render(specs)
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
