"""The job functions that make files for download: chart and graph images, pages, the zip; the ONNX model.

The Export view's files that take more than a moment (chart images through
kaleido's Chromium, the graph's PNG and PDF through ``dot``, the charts' HTML
pages with plotly.js inside, the zip of everything, the ONNX model checked in
onnxruntime) are made by these functions on a worker, never in the server's
process. Each takes plain data (frozen dataclasses) and returns the files as
bytes, by name, so that the page offers them as plain downloads.

A file that was asked for and could not be made is never handed out empty or
in another format: :func:`make_files` raises :class:`FilesNotMadeError`, whose
sentence names the files and says why (no Chromium, ``dot`` failed, a format
the chart does not have).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from densviz.core.architecture import DenseNetConfig, InputSpec
from densviz.core.errors import SurroundingsError
from densviz.core.memory import DEFAULT_BUDGET_BYTES
from densviz.core.plan import ArchitecturePlan, checked_plan
from densviz.draw.charts import ChartKind
from densviz.draw.options import GraphOptions
from densviz.export import ExportFormat, export
from densviz.jobs.context import JobContext, JobStoppedError
from densviz.nn.onnx import OnnxModel

__all__ = [
    "CHART_FORMATS",
    "GRAPH_FORMATS",
    "MIME",
    "ZIP_NAME",
    "FilesNotMadeError",
    "FilesProgress",
    "FilesRequest",
    "MadeFile",
    "MadeFiles",
    "OnnxRequest",
    "make_files",
    "onnx_model",
]

GRAPH_FORMATS = (ExportFormat.PNG, ExportFormat.PDF, ExportFormat.HTML)
"""The graph's files made as a job (its SVG and DOT are the Graph view's own drawing, ready at once)."""
CHART_FORMATS = (ExportFormat.HTML, ExportFormat.PNG, ExportFormat.SVG, ExportFormat.PDF)
"""A chart's files (the 3-D volume chart has HTML and PNG only)."""
ZIP_NAME = "densenet.zip"
"""The zip of everything: the graph, every chart in every format, the tables and the config."""

MIME = {
    "png": "image/png",
    "svg": "image/svg+xml",
    "pdf": "application/pdf",
    "html": "text/html",
    "zip": "application/zip",
    "onnx": "application/octet-stream",
}
"""Each file's type, by its suffix."""

_HTML_INSTEAD = re.compile(r"; the charts are exported as HTML[^.]*\.")  # the export's fall-back: not made here


class FilesNotMadeError(SurroundingsError):
    """Files that were asked for could not be made: the sentence names them and says why."""


@dataclass(frozen=True)
class FilesRequest:
    """Which of the Export view's files to make, for which design.

    Attributes:
        config: The network.
        spec: Its input.
        graph_options: The Graph view's settings: the graph is drawn as it shows it.
        graph_formats: The graph's files, from :data:`GRAPH_FORMATS`.
        chart: The chart whose files are asked for.
        chart_formats: Its files, from :data:`CHART_FORMATS`.
        zip: Whether to make the zip of everything.
    """

    config: DenseNetConfig
    spec: InputSpec
    graph_options: GraphOptions
    graph_formats: tuple[ExportFormat, ...] = ()
    chart: ChartKind = ChartKind.CHANNELS
    chart_formats: tuple[ExportFormat, ...] = ()
    zip: bool = False

    def names(self) -> list[str]:
        """The files' names, in the order they are offered."""
        stem = self.graph_options.stem
        return (
            [f"{stem}.{f.value}" for f in self.graph_formats]
            + [f"chart-{self.chart.value}.{f.value}" for f in self.chart_formats]
            + ([ZIP_NAME] if self.zip else [])
        )


@dataclass(frozen=True)
class FilesProgress:
    """How far a files job is: parts done of all, and the step it is on."""

    done: int
    total: int
    step: str


@dataclass(frozen=True)
class MadeFile:
    """One file made for download: its name, bytes and type."""

    name: str
    data: bytes
    mime: str


@dataclass(frozen=True)
class MadeFiles:
    """What a files job made: every file asked for, in order, and the export's notes (what was simplified)."""

    files: tuple[MadeFile, ...]
    notes: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        """Bytes of all the files."""
        return sum(len(f.data) for f in self.files)


def _checked(ctx: JobContext, progress: Callable[[str], None]) -> Callable[[str], None]:
    """The export's progress callback: says the step, and ends the job there once it was asked to stop."""

    def say(step: str) -> None:
        if ctx.stopping():
            raise JobStoppedError
        progress(step)

    return say


def _export(
    plan: ArchitecturePlan, formats: list[ExportFormat], say: Callable[[str], None], **how: Any
) -> tuple[dict[str, bytes], list[str]]:
    """One call of :func:`densviz.export.export` into a folder of its own: (files by name, notes)."""
    with tempfile.TemporaryDirectory(prefix="densviz-files-") as tmp:
        result = export(plan, tmp, formats, progress=say, **how)
        return {p.name: p.read_bytes() for p in result.files}, [str(n) for n in result.notes]


def make_files(request: FilesRequest, ctx: JobContext) -> MadeFiles:
    """Make the files a :class:`FilesRequest` asks for (the graph's, the chart's, the zip), reporting each part.

    Stop ends the job before its next part (or step of a part); a part in
    flight that takes longer (a batch of chart images) ends with the worker.

    Raises:
        ConfigError: the design is over the memory budget, or the graph's settings do not fit it.
        FilesNotMadeError: a file asked for was not made (no Chromium, ``dot`` failed, a format
            the chart does not have); the sentence names it and says why.
    """
    parts: list[tuple[str, list[ExportFormat], dict[str, Any]]] = []
    if request.graph_formats:
        parts.append(("the graph", list(request.graph_formats), {"graph": True, "charts": []}))
    if request.chart_formats:
        parts.append(("the chart", list(request.chart_formats), {"graph": False, "charts": [request.chart]}))
    if request.zip:
        parts.append(("the zip of everything", [ExportFormat.ZIP], {"graph": True, "charts": list(ChartKind)}))
    made: dict[str, bytes] = {}
    notes: list[str] = []
    done = 0

    def progress(step: str) -> None:
        ctx.progress(FilesProgress(done, len(parts), step))

    say = _checked(ctx, progress)
    say("checking the design")
    plan = checked_plan(request.config, request.spec, DEFAULT_BUDGET_BYTES)
    for what, formats, how in parts:
        say(f"making {what}")
        files, said = _export(plan, formats, say, graph_options=request.graph_options, **how)
        made.update(files)
        notes += [n for n in said if n not in notes]
        done += 1
    progress("done")
    missing = [name for name in request.names() if not made.get(name)]
    if missing:
        why = " ".join(_HTML_INSTEAD.sub(".", n) for n in notes) or "The export wrote no such file."
        raise FilesNotMadeError(f"Could not make {', '.join(missing)}, so nothing was handed out. {why}")
    return MadeFiles(
        tuple(MadeFile(name, made[name], MIME[name.rsplit(".", 1)[-1]]) for name in request.names()), tuple(notes)
    )


@dataclass(frozen=True)
class OnnxRequest:
    """A design to export to ONNX (random He-normal weights from seed 0), checked in onnxruntime."""

    config: DenseNetConfig
    spec: InputSpec
    budget_bytes: int = DEFAULT_BUDGET_BYTES


def onnx_model(request: OnnxRequest, ctx: JobContext) -> OnnxModel:
    """Export the design to ONNX and check the file in onnxruntime against PyTorch (see :func:`densviz.nn.onnx.export_onnx`).

    The export cannot be interrupted: Stop ends it with its worker.

    Raises:
        ConfigError: the design is over the memory budget, ONNX's 2 GiB file limit or the layer limit.
        SurroundingsError: the ONNX packages are missing, the exporter failed, or onnxruntime's
            logits differ from PyTorch's (:class:`~densviz.nn.onnx.OnnxCheckError`).
    """
    from densviz.nn.onnx import export_onnx

    ctx.progress(FilesProgress(0, 1, "exporting the model and checking it in onnxruntime against PyTorch"))
    model = export_onnx(request.config, request.spec, budget_bytes=request.budget_bytes)
    ctx.progress(FilesProgress(1, 1, "done"))
    return model
