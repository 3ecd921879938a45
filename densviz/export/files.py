"""One export: the graph, the charts, the tables, the config, the ONNX model and the TikZ figures written to a folder (or a zip)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import plotly.graph_objects as go

from densviz.core.config import state_to_json
from densviz.core.errors import SurroundingsError
from densviz.core.files import prepare_output_dir, write_atomic
from densviz.core.memory import DEFAULT_BUDGET_BYTES
from densviz.core.plan import ArchitecturePlan
from densviz.draw.charts import CHARTS, ChartKind
from densviz.draw.options import GraphOptions
from densviz.draw.render import DEFAULT_TIMEOUT_S, GraphFormat, RenderError, draw, render
from densviz.draw.tex import block_tex, overview_tex
from densviz.export.formats import DEFAULT_FORMATS, IMAGE_FORMATS, ExportFormat
from densviz.export.images import ChartImageUnavailableError, chart_html, chart_images
from densviz.export.tables import blocks_csv, layers_csv
from densviz.nn.onnx import check_onnx_bounds, export_onnx, onnx_unavailable

__all__ = ["ExportResult", "export"]


@dataclass
class ExportResult:
    """What an export wrote.

    Attributes:
        files: Paths written, in order.
        notes: Sentences about what was simplified or left out, and why.
        checks: Sentences about the checks the files passed (the ONNX model
            run in onnxruntime against PyTorch, with the difference measured).
    """

    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)


def _graph_page(svg: bytes, title: str) -> str:
    body = svg.decode()
    body = body[body.index("<svg") :]  # drop the XML prolog and doctype
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        "<style>body{margin:0;font-family:Helvetica,Arial,sans-serif}svg{max-width:100%;height:auto}</style>"
        f"</head><body>\n{body}\n</body></html>\n"
    )


def _graph_files(
    plan: ArchitecturePlan,
    graph_fmts: Sequence[ExportFormat],
    options: GraphOptions,
    timeout: float,
    say: Callable[[str], None],
) -> tuple[dict[str, bytes], list[str]]:
    """The graph's files: laid out once (with its fall-backs), then rendered in each format."""
    files: dict[str, bytes] = {}
    notes: list[str] = []
    stem, detail = options.stem, options.detail.value
    wanted = [f for f in IMAGE_FORMATS if f in graph_fmts]
    if ExportFormat.HTML in graph_fmts and ExportFormat.SVG not in wanted:
        wanted.insert(0, ExportFormat.SVG)  # the HTML page holds the SVG
    first = wanted[0] if wanted else ExportFormat.SVG
    say(f"drawing the {detail} graph")
    drawing = draw(plan, options, GraphFormat(first.value), timeout=timeout)
    notes.extend(drawing.notes)
    if ExportFormat.DOT in graph_fmts:
        files[f"{stem}.dot"] = drawing.dot.encode()
    pictures: dict[ExportFormat, bytes] = {}
    if drawing.image is not None:
        pictures[first] = drawing.image
        for fmt in wanted[1:]:
            try:
                pictures[fmt] = render(drawing.dot, GraphFormat(fmt.value), timeout=timeout)
            except RenderError as err:
                notes.append(f"The graph's {fmt.value.upper()} was not written: {err}")
    for fmt, data in pictures.items():
        if fmt in graph_fmts:
            files[f"{stem}.{fmt.value}"] = data
    if ExportFormat.HTML in graph_fmts and ExportFormat.SVG in pictures:
        files[f"{stem}.html"] = _graph_page(pictures[ExportFormat.SVG], f"DenseNet graph ({detail})").encode()
    return files, notes


def _chart_files(
    plan: ArchitecturePlan,
    chart_kinds: Sequence[ChartKind],
    fmts: Sequence[ExportFormat],
    say: Callable[[str], None],
) -> tuple[dict[str, bytes], list[str]]:
    """The charts' files: HTML here, the images in one batch through Chromium."""
    files: dict[str, bytes] = {}
    notes: list[str] = []
    chart_fmts = [f for f in fmts if f in (*IMAGE_FORMATS, ExportFormat.HTML)]
    image_fmts = [f for f in chart_fmts if f in IMAGE_FORMATS]
    figures: dict[ChartKind, go.Figure] = {kind: CHARTS[kind](plan) for kind in chart_kinds} if chart_fmts else {}
    jobs: list[tuple[ChartKind, ExportFormat]] = []
    for kind in figures:
        for fmt in image_fmts:
            if kind is ChartKind.VOLUME_3D and fmt is not ExportFormat.PNG:
                continue  # a WebGL scene: its SVG or PDF would only wrap the same raster, at twice the time
            jobs.append((kind, fmt))
    if any(kind is ChartKind.VOLUME_3D for kind in figures) and {ExportFormat.SVG, ExportFormat.PDF} & set(image_fmts):
        notes.append(
            "The 3-D volume chart is written as PNG and HTML only: as SVG or PDF it would hold the same raster image."
        )
    made: dict[tuple[ChartKind, ExportFormat], bytes] = {}
    if jobs:
        say(f"rendering {len(jobs)} chart images with Chromium")
        try:
            made = dict(zip(jobs, chart_images([(figures[k], f.value) for k, f in jobs]), strict=True))
        except ChartImageUnavailableError as err:
            notes.append(str(err))
    for kind, fig in figures.items():
        if ExportFormat.HTML in chart_fmts or (image_fmts and not made):  # without images, HTML keeps nothing lost
            files[f"chart-{kind.value}.html"] = chart_html(fig).encode()
        for fmt in image_fmts:
            if (kind, fmt) in made:
                files[f"chart-{kind.value}.{fmt.value}"] = made[(kind, fmt)]
    return files, notes


def _write(out: Path, payload: dict[str, bytes], name: str, want_zip: bool, zip_only: bool) -> list[Path]:
    """Write the files (and the zip holding them); the paths written, in order."""
    written: list[Path] = []
    if want_zip:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for filename, data in payload.items():
                # A ZipInfo's own type (stored) would win over the archive's: deflate is asked for here.
                info = zipfile.ZipInfo(f"{name}/{filename}", date_time=(2017, 7, 21, 0, 0, 0))
                zf.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
        path = out / f"{name}.zip"
        write_atomic(path, buf.getvalue())
        written.append(path)
        if zip_only:
            return written
    for filename, data in payload.items():
        path = out / filename
        write_atomic(path, data)
        written.append(path)
    return written


def export(
    plan: ArchitecturePlan,
    out_dir: str | Path,
    formats: Sequence[ExportFormat | str] = DEFAULT_FORMATS,
    *,
    graph_options: GraphOptions | None = None,
    charts: Sequence[ChartKind] | None = None,
    graph: bool = True,
    name: str = "densenet",
    timeout: float = DEFAULT_TIMEOUT_S,
    progress: Callable[[str], None] | None = None,
    budget_bytes: int = DEFAULT_BUDGET_BYTES,
) -> ExportResult:
    """Write the diagrams, tables and config of a plan to ``out_dir``.

    Args:
        plan: What to export.
        out_dir: Created if missing.
        formats: Any of :class:`ExportFormat`; ``zip`` bundles the other
            files (the defaults if it is the only format given). ``onnx``
            writes ``{name}.onnx``, checked in onnxruntime against PyTorch;
            ``tex`` writes ``{name}-overview.tex`` and ``{name}-block{b}.tex``.
        graph_options: How to draw the graph (detail, block, direction, costs,
            elision); :class:`GraphOptions`' defaults if not given. Its block
            (block 1 if none) is the one the TikZ block figure shows.
        charts: Which charts; all by default.
        graph: Whether to draw the graph.
        name: Prefix of the zip's name.
        timeout: Seconds ``dot`` may take for one picture.
        progress: Called with a short sentence before each slow step.
        budget_bytes: The memory guard of the ONNX export (the model and its
            check's batch).

    Raises:
        ConfigError: for graph options this plan does not allow (a block it
            does not have), or a design the ONNX export refuses (over the
            memory budget, the 2 GiB file limit or the layer limit), before any work.
        SurroundingsError: the ONNX packages are missing (before any work),
            the exporter failed, or onnxruntime's output differs from
            PyTorch's (:class:`~densviz.nn.onnx.OnnxCheckError`): nothing is written.
    """
    options = (graph_options or GraphOptions()).check(plan)
    chart_kinds = list(ChartKind) if charts is None else list(charts)
    fmts = [ExportFormat(f) for f in formats]
    want_zip = ExportFormat.ZIP in fmts
    zip_only = set(fmts) == {ExportFormat.ZIP}
    fmts = [f for f in fmts if f is not ExportFormat.ZIP] or (list(DEFAULT_FORMATS) if want_zip else [])
    if ExportFormat.ONNX in fmts:  # its guards before any work
        check_onnx_bounds(plan.config, plan.input, budget_bytes)
        if why := onnx_unavailable():
            raise SurroundingsError(why)
    out = prepare_output_dir(out_dir)  # before any work
    result = ExportResult()
    say = progress or (lambda _msg: None)

    # The graph runs in `dot` subprocesses while Chromium renders the charts.
    graph_fmts = [f for f in fmts if f in (*IMAGE_FORMATS, ExportFormat.DOT, ExportFormat.HTML)] if graph else []
    with ThreadPoolExecutor(max_workers=1) as pool:
        graph_job = pool.submit(_graph_files, plan, graph_fmts, options, timeout, say) if graph_fmts else None
        payload, result.notes = _chart_files(plan, chart_kinds, fmts, say)
        if graph_job is not None:
            graph_payload, graph_notes = graph_job.result()
            payload = {**graph_payload, **payload}
            result.notes[:0] = graph_notes
    if ExportFormat.CSV in fmts:
        payload["layers.csv"] = layers_csv(plan).encode()
        payload["blocks.csv"] = blocks_csv(plan).encode()
    if ExportFormat.JSON in fmts:
        payload["plan.json"] = (json.dumps(plan.to_dict(), indent=2) + "\n").encode()
        payload["config.json"] = state_to_json(plan.config, plan.input).encode()
    if ExportFormat.TEX in fmts:
        block = options.block or 1
        payload[f"{name}-overview.tex"] = overview_tex(plan).encode()
        payload[f"{name}-block{block}.tex"] = block_tex(plan, block).encode()
    if ExportFormat.ONNX in fmts:
        say("exporting the ONNX model and checking it in onnxruntime against PyTorch")
        model = export_onnx(plan.config, plan.input, budget_bytes=budget_bytes)  # refuses a file that fails
        payload[f"{name}.onnx"] = model.data
        result.checks.append(f"{name}.onnx: {model.check_sentence}.")
    result.files = _write(out, payload, name, want_zip, zip_only)
    return result
