"""The Export view's images, pages and zip: made as a job on a worker when the user presses one button.

The user picks the files (the graph as PNG, PDF or an HTML page; the chosen
chart as HTML, PNG, SVG or PDF; the zip of everything) and presses "Make the
files". The files are made by :func:`densviz.jobs.files.make_files` on the job
engine (the local pool, or Ray), never in the server's process; while the job
waits or runs the page shows its place in the queue or its step, and a Stop.
When it ends, the files are offered as plain downloads (``data=bytes``: their
address stays valid as long as the buttons are shown, however many other
sessions rerun meanwhile) and kept in the session with the design they were
made for. A later change of the design, or of the Graph view's settings the
graph was drawn with, marks them as an earlier design's, as the Forward pass
view marks an earlier run's results. A file that could not be made is a
sentence, never an empty download.

What a request made is kept in this process for every session
(:class:`~densviz.ui.job_watch.Shared`): the same files asked again, by anyone,
are offered at once, with no job.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import streamlit as st

from densviz.core.config import DenseNetConfig, InputSpec
from densviz.draw.charts import ChartKind
from densviz.draw.options import GraphOptions
from densviz.export import ExportFormat
from densviz.export.images import images_unavailable
from densviz.jobs.files import (
    CHART_FORMATS,
    GRAPH_FORMATS,
    FilesProgress,
    FilesRequest,
    MadeFiles,
    make_files,
)
from densviz.ui.job_watch import Shared, run_shared
from densviz.ui.session import Network
from densviz.ui.text import plain

__all__ = ["MADE_KEY", "SHARED", "files_panel"]

MADE_KEY = "export_made"
"""Session key of the files made last (a ``_Made``)."""
GRAPH_KEY = "export_graph_formats"
CHART_KEY = "export_chart"
CHART_FORMATS_KEY = "export_chart_formats"
ZIP_KEY = "export_zip"
MAKE_KEY = "export_make"

SHARED = Shared(max_bytes=128 << 20, size=lambda made: made.size)
"""Files made in this process, by request, for every session (the zip of DenseNet-121 is about 30 MB)."""

_TIME_LIMIT_S = 600.0  # the browser's start and a batch of images each have their own, shorter bounds
_LABELS = {ExportFormat.HTML: "HTML", ExportFormat.PNG: "PNG", ExportFormat.SVG: "SVG", ExportFormat.PDF: "PDF"}


@dataclass(frozen=True)
class _For:
    """What made files depend on, beyond the formats: the design and the Graph view's settings."""

    config: DenseNetConfig
    spec: InputSpec
    graph_options: GraphOptions

    def changed(self, other: _For) -> list[str]:
        """What differs from ``other``, in words."""
        words = {"config": "design", "spec": "input size or batch", "graph_options": "Graph view's settings"}
        return [words[f.name] for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)]


@dataclass(frozen=True)
class _Made:
    """Files kept in the session: what they were made for, and them."""

    made_for: _For
    request: FilesRequest
    files: MadeFiles


def _formats(key: str, offered: tuple[ExportFormat, ...], label: str, where: Any, default: list[str]) -> list[str]:
    """A multi-select of formats; a choice the current options lack (another chart) is dropped first."""
    names = [f.value for f in offered]
    if key in st.session_state:
        st.session_state[key] = [v for v in st.session_state[key] or [] if v in names]
    chosen = where.pills(
        label,
        names,
        selection_mode="multi",
        key=key,
        default=[d for d in default if d in names] if key not in st.session_state else None,
        format_func=lambda v: _LABELS[ExportFormat(v)],
    )
    return list(chosen or [])


def _describe(record: Any) -> tuple[float, str]:
    if not isinstance(record, FilesProgress):
        return 0.0, "starting…"
    return record.done / max(
        record.total, 1
    ), f"{record.step} (part {min(record.done + 1, record.total)} of {record.total})"


def _chart_formats(kind: ChartKind) -> tuple[tuple[ExportFormat, ...], str | None]:
    """The chart's formats offered here, and why images are not, when they are not."""
    if why := images_unavailable():  # said here, not a download that silently holds something else
        return (ExportFormat.HTML,), why
    if kind is ChartKind.VOLUME_3D:  # a WebGL scene: its SVG or PDF would only wrap the same raster
        return (ExportFormat.HTML, ExportFormat.PNG), None
    return CHART_FORMATS, None


def _downloads(made: _Made, current: _For) -> None:
    """The files kept in the session as plain downloads, marked when they are an earlier design's."""
    if made.made_for != current:
        st.warning(
            f"These files were made for an earlier design: since then the {', '.join(made.made_for.changed(current))} "
            "changed. Press Make the files for the current one.",
            icon=":material/history:",
        )
    files = made.files.files
    cols = st.columns(min(len(files), 4) or 1)
    for i, file in enumerate(files):
        cols[i % len(cols)].download_button(
            file.name,
            data=file.data,
            file_name=file.name,
            mime=file.mime,
            key=f"dl_made_{file.name.replace('-', '_').replace('.', '_')}",
            on_click="ignore",
            icon=":material/download:",
            width="stretch",
        )
    if made.files.notes:
        st.caption(" ".join(f":material/info: {plain(n)}" for n in made.files.notes))


def files_panel(net: Network, options: GraphOptions) -> None:
    """The picks (the chart among them), the button, the job's progress and the files made, for the current design.

    Args:
        net: The current network.
        options: The Graph view's settings (the graph is drawn as it shows it).
    """
    st.markdown(
        "**Images, pages and the zip** (made on a worker when you press the button; "
        "the graph as the Graph view draws it)"
    )
    cols = st.columns([1.1, 1.0, 1.5, 1.1], vertical_alignment="bottom")
    graph = _formats(GRAPH_KEY, GRAPH_FORMATS, "Graph", cols[0], ["png"])
    kind = ChartKind(
        cols[1].selectbox("Chart", list(ChartKind), key=CHART_KEY, format_func=lambda k: k.value) or ChartKind.CHANNELS
    )
    chart_formats, why = _chart_formats(kind)
    chart = _formats(CHART_FORMATS_KEY, chart_formats, "Chart files", cols[2], ["png"])
    zipped = bool(
        cols[3].toggle(
            "Everything as one zip",
            key=ZIP_KEY,
            help="graph, every chart in every format, tables and config (takes a few seconds more)",
        )
    )
    if why:
        st.caption(f":material/info: {plain(why)}")
    request = FilesRequest(
        net.config,
        net.input,
        options,
        tuple(ExportFormat(v) for v in graph),
        kind,
        tuple(ExportFormat(v) for v in chart),
        zipped,
    )
    current = _For(net.config, net.input, options)
    asked = request.names()
    if st.button(
        "Make the files",
        key=MAKE_KEY,
        type="primary",
        icon=":material/build:",
        disabled=not asked,
        help="makes " + ", ".join(asked) if asked else "choose at least one file above",
    ):
        made, sentence = run_shared(
            request,
            SHARED,
            "files",
            make_files,
            request,
            describe=_describe,
            stop_key="export_stop",
            time_limit_s=_TIME_LIMIT_S,
        )
        if isinstance(made, MadeFiles):
            st.session_state[MADE_KEY] = _Made(current, request, made)
        else:
            st.error(plain(sentence or "The files were not made."), icon=":material/error:")
    kept = st.session_state.get(MADE_KEY)
    if isinstance(kept, _Made):
        _downloads(kept, current)
    elif not asked:
        st.caption("Choose the files above, then press Make the files.")
