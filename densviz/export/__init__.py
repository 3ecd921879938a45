"""Files for download and for the CLI: the graph, the charts, the tables, the config.

* graph: SVG, PNG, PDF (through ``dot``), DOT text, and an HTML page holding the SVG;
* charts: self-contained HTML (plotly.js inside, works offline), and PNG,
  SVG and PDF through kaleido with the system Chromium;
* tables: the plan's layers and blocks as CSV, the whole plan as JSON;
* the config as JSON (it loads back to the same config);
* any of these as one zip.

Chart images share one long-lived Chromium (about 0.3 s per image instead of
4–6 s to start a browser each time). kaleido's shared server is not
thread-safe (plotly/Kaleido#444: concurrent callers received each other's
images), so every call goes through one process-wide lock.
"""

from __future__ import annotations

import atexit
import csv
import io
import json
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import plotly.graph_objects as go

from densviz.core.config import ConfigError, state_to_json
from densviz.core.plan import ArchitecturePlan
from densviz.draw.charts import CHARTS, ChartKind
from densviz.draw.graph import DEFAULT_MAX_FULL_LAYERS, Detail, check_graph_options
from densviz.draw.render import DEFAULT_TIMEOUT_S, GraphFormat, RenderError, draw, render

__all__ = [
    "ChartImageUnavailableError",
    "ExportFormat",
    "ExportResult",
    "blocks_csv",
    "chart_html",
    "chart_image",
    "chart_images",
    "export",
    "layers_csv",
    "parse_formats",
]


class ExportFormat(StrEnum):
    """What ``densviz export --formats`` accepts."""

    SVG = "svg"
    PNG = "png"
    PDF = "pdf"
    DOT = "dot"
    HTML = "html"
    CSV = "csv"
    JSON = "json"
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
_IMAGE_FORMATS = (ExportFormat.SVG, ExportFormat.PNG, ExportFormat.PDF)
CHART_WIDTH = 1200
CHART_SCALE = 2  # PNG pixels per CSS pixel: crisp on slides


class ChartImageUnavailableError(RuntimeError):
    """No browser for kaleido: chart images cannot be made here."""


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


# --- tables ----------------------------------------------------------------------


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def layers_csv(plan: ArchitecturePlan) -> str:
    """One row per module: the plan's numbers, with its memory estimates."""
    memory = {m.name: m for m in plan.memory.layers}
    header = (
        "name",
        "kind",
        "block",
        "index",
        "in_channels",
        "out_channels",
        "in_height",
        "in_width",
        "out_height",
        "out_width",
        "params",
        "macs",
        "output_bytes",
        "inference_live_bytes",
        "training_saved_naive_bytes",
        "training_saved_efficient_bytes",
        "inputs",
    )
    rows = (
        (
            r.name,
            r.kind.value,
            "" if r.block is None else r.block,
            "" if r.index is None else r.index,
            r.in_channels,
            r.out_channels,
            *r.in_hw,
            *r.out_hw,
            r.params,
            r.macs,
            r.output_bytes,
            memory[r.name].live_bytes,
            memory[r.name].saved_naive_bytes,
            memory[r.name].saved_efficient_bytes,
            " ".join(r.inputs),
        )
        for r in plan.layers
    )
    return _csv(header, rows)


def blocks_csv(plan: ArchitecturePlan) -> str:
    """One row per dense block."""
    header = (
        "name",
        "index",
        "layers",
        "in_channels",
        "out_channels",
        "height",
        "width",
        "params",
        "macs",
        "output_bytes",
        "transition_channels",
    )
    rows = (
        (
            b.name,
            b.index,
            b.layers,
            b.in_channels,
            b.out_channels,
            *b.hw,
            b.params,
            b.macs,
            b.output_bytes,
            "" if b.transition_channels is None else b.transition_channels,
        )
        for b in plan.blocks
    )
    return _csv(header, rows)


# --- charts ----------------------------------------------------------------------


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
        return [Path(str(spec["path"])).read_bytes() for spec in specs]


# --- everything ------------------------------------------------------------------


@dataclass
class ExportResult:
    """What an export wrote.

    Attributes:
        files: Paths written, in order.
        notes: Sentences about what was simplified or left out, and why.
    """

    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


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
    detail: Detail | str,
    block: int | None,
    direction: str,
    show_cost: bool,
    max_full_layers: int | None,
    timeout: float,
    say: Callable[[str], None],
) -> tuple[dict[str, bytes], list[str]]:
    """The graph's files: laid out once (with its fall-backs), then rendered in each format."""
    files: dict[str, bytes] = {}
    notes: list[str] = []
    stem = f"graph-{Detail(detail).value}" + (f"-block{block}" if block else "")
    wanted = [f for f in _IMAGE_FORMATS if f in graph_fmts]
    if ExportFormat.HTML in graph_fmts and ExportFormat.SVG not in wanted:
        wanted.insert(0, ExportFormat.SVG)  # the HTML page holds the SVG
    first = wanted[0] if wanted else ExportFormat.SVG
    say(f"drawing the {Detail(detail).value} graph")
    drawing = draw(
        plan,
        detail,
        GraphFormat(first.value),
        block=block,
        direction=direction,
        show_cost=show_cost,
        max_full_layers=max_full_layers,
        timeout=timeout,
    )
    notes.extend(drawing.notes)
    if ExportFormat.DOT in graph_fmts:
        files[f"{stem}.dot"] = drawing.dot.encode()
    images: dict[ExportFormat, bytes] = {}
    if drawing.image is not None:
        images[first] = drawing.image
        for fmt in wanted[1:]:
            try:
                images[fmt] = render(drawing.dot, GraphFormat(fmt.value), timeout=timeout)
            except RenderError as err:
                notes.append(f"The graph's {fmt.value.upper()} was not written: {err}")
    for fmt, data in images.items():
        if fmt in graph_fmts:
            files[f"{stem}.{fmt.value}"] = data
    if ExportFormat.HTML in graph_fmts and ExportFormat.SVG in images:
        files[f"{stem}.html"] = _graph_page(
            images[ExportFormat.SVG], f"DenseNet graph ({Detail(detail).value})"
        ).encode()
    return files, notes


def export(
    plan: ArchitecturePlan,
    out_dir: str | Path,
    formats: Sequence[ExportFormat | str] = DEFAULT_FORMATS,
    *,
    detail: Detail | str = Detail.DENSE,
    block: int | None = None,
    direction: str = "TB",
    show_cost: bool = False,
    max_full_layers: int | None = None,
    charts: Sequence[ChartKind] | None = None,
    graph: bool = True,
    name: str = "densenet",
    timeout: float = DEFAULT_TIMEOUT_S,
    progress: Callable[[str], None] | None = None,
) -> ExportResult:
    """Write the diagrams, tables and config of a plan to ``out_dir``.

    Args:
        plan: What to export.
        out_dir: Created if missing.
        formats: Any of :class:`ExportFormat`; ``zip`` bundles the other
            files (all of them if it is the only format given).
        detail: Detail level of the graph.
        block: Focus the graph on one block.
        direction: ``TB`` or ``LR`` for the graph.
        show_cost: Parameters and MACs in the graph's labels.
        max_full_layers: Threshold for eliding long blocks in the graph.
        charts: Which charts; all by default.
        graph: Whether to draw the graph.
        name: Prefix of the zip's name.
        timeout: Seconds ``dot`` may take for one picture.
        progress: Called with a short sentence before each slow step.
    """
    check_graph_options(plan, detail, block=block, max_full_layers=max_full_layers or DEFAULT_MAX_FULL_LAYERS)
    chart_kinds = list(ChartKind) if charts is None else list(charts)
    fmts = [ExportFormat(f) for f in formats]
    want_zip = ExportFormat.ZIP in fmts
    zip_only = set(fmts) == {ExportFormat.ZIP}
    fmts = [f for f in fmts if f is not ExportFormat.ZIP] or (list(DEFAULT_FORMATS) if want_zip else [])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = ExportResult()
    say = progress or (lambda _msg: None)
    payload: dict[str, bytes] = {}

    def put(filename: str, data: bytes | str) -> None:
        payload[filename] = data.encode() if isinstance(data, str) else data

    # The graph runs in `dot` subprocesses while Chromium renders the charts.
    graph_fmts = [f for f in fmts if f in (*_IMAGE_FORMATS, ExportFormat.DOT, ExportFormat.HTML)] if graph else []
    pool = ThreadPoolExecutor(max_workers=1)
    graph_job = (
        pool.submit(_graph_files, plan, graph_fmts, detail, block, direction, show_cost, max_full_layers, timeout, say)
        if graph_fmts
        else None
    )

    # The charts: HTML here, the images in one batch through Chromium.
    chart_fmts = [f for f in fmts if f in (*_IMAGE_FORMATS, ExportFormat.HTML)]
    image_fmts = [f for f in chart_fmts if f in _IMAGE_FORMATS]
    figures = {kind: CHARTS[kind](plan) for kind in chart_kinds} if chart_fmts else {}
    jobs: list[tuple[ChartKind, ExportFormat]] = []
    for kind in figures:
        for fmt in image_fmts:
            if kind is ChartKind.VOLUME_3D and fmt is not ExportFormat.PNG:
                continue  # a WebGL scene: its SVG or PDF would only wrap the same raster, at twice the time
            jobs.append((kind, fmt))
    if any(kind is ChartKind.VOLUME_3D for kind in figures) and {ExportFormat.SVG, ExportFormat.PDF} & set(image_fmts):
        result.notes.append(
            "The 3-D volume chart is written as PNG and HTML only: as SVG or PDF it would hold the same raster image."
        )
    images: dict[tuple[ChartKind, ExportFormat], bytes] = {}
    if jobs:
        say(f"rendering {len(jobs)} chart images with Chromium")
        try:
            images = dict(zip(jobs, chart_images([(figures[k], f.value) for k, f in jobs]), strict=True))
        except ChartImageUnavailableError as err:
            result.notes.append(str(err))
    for kind, fig in figures.items():
        if ExportFormat.HTML in chart_fmts or (image_fmts and not images):  # without images, HTML keeps nothing lost
            put(f"chart-{kind.value}.html", chart_html(fig))
        for fmt in image_fmts:
            if (kind, fmt) in images:
                put(f"chart-{kind.value}.{fmt.value}", images[(kind, fmt)])

    if graph_job is not None:
        graph_payload, graph_notes = graph_job.result()
        payload = {**graph_payload, **payload}
        result.notes[:0] = graph_notes
    pool.shutdown()
    if ExportFormat.CSV in fmts:
        put("layers.csv", layers_csv(plan))
        put("blocks.csv", blocks_csv(plan))
    if ExportFormat.JSON in fmts:
        put("plan.json", json.dumps(plan.to_dict(), indent=2) + "\n")
        put("config.json", state_to_json(plan.config, plan.input))

    if want_zip:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for filename, data in payload.items():
                zf.writestr(zipfile.ZipInfo(f"{name}/{filename}", date_time=(2017, 7, 21, 0, 0, 0)), data)
        path = out / f"{name}.zip"
        path.write_bytes(buf.getvalue())
        result.files.append(path)
        if zip_only:
            return result
    for filename, data in payload.items():
        path = out / filename
        path.write_bytes(data)
        result.files.append(path)
    return result
