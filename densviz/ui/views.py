"""The page's views. Each takes the current network and draws; none computes.

One view runs per rerun (the page shows one at a time), so a heavy view costs
nothing while another is shown. The page's selector lists them all
(:data:`densviz.ui.page.VIEWS`), with the Compare, Forward pass and Feature
reuse views from their own modules.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st

from densviz.core.config import state_to_json
from densviz.core.plan import ArchitecturePlan
from densviz.core.settings import SETTINGS
from densviz.core.table import (
    BLOCK_COLUMNS,
    LAYER_COLUMNS,
    Column,
    Style,
    block_rows,
    layer_rows,
    on_screen,
    values,
)
from densviz.core.units import format_bytes, format_count, format_macs
from densviz.draw.charts import ChartKind
from densviz.draw.graph import Detail
from densviz.draw.options import GraphOptions
from densviz.export import blocks_csv, layers_csv
from densviz.ui import cached, graph_explore, session, uploads
from densviz.ui.controls import control
from densviz.ui.export_files import files_panel
from densviz.ui.export_model import model_downloads
from densviz.ui.session import GRAPH_KEYS, Key, Network
from densviz.ui.state import MAX_UPLOAD_BYTES, load_upload
from densviz.ui.text import plain

PLOTLY_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"scale": 2}}
"""Every plotly chart's settings on the page: no logo, images at twice the size."""


def _chart(fig: object) -> None:
    st.plotly_chart(fig, width="stretch", config=PLOTLY_CONFIG)


def _block_options(net: Network) -> list[int | None]:
    return [None, *range(1, len(net.config.block_config) + 1)]


def _block_label(block: int | None) -> str:
    return "all blocks" if block is None else f"block {block}"


def graph_view(net: Network) -> None:
    """The concatenation graph, laid out by dot, with zoom and pan; click, hover or search a node for its numbers."""
    graph_explore.prepare(net)  # before the controls: revealing a selection from a link or another view may set them
    cols = st.columns([2.6, 1.2, 1.9, 1.3, 1.6])
    detail = control("detail", cols[0], key=GRAPH_KEYS["detail"])
    if st.session_state.get(GRAPH_KEYS["block"]) not in _block_options(net):
        st.session_state[GRAPH_KEYS["block"]] = None
    cols[1].selectbox(
        SETTINGS["block"].label,
        _block_options(net),
        key="graph_block",
        format_func=_block_label,
        help=SETTINGS["block"].help,
    )
    control("direction", cols[2], key=GRAPH_KEYS["direction"])
    control("show_cost", cols[3], key=GRAPH_KEYS["show_cost"])
    control("max_full_layers", cols[4], key=GRAPH_KEYS["max_full_layers"], disabled=detail != Detail.DENSE)
    drawing = cached.drawing_for(net.config, net.input, session.graph_options())
    if drawing.notes:
        st.caption(" ".join(f":material/info: {note}" for note in drawing.notes))
    graph_explore.explorer(net)  # search, the drawing with the selection marked, the panel
    with st.expander("DOT source"):
        st.code(drawing.dot, language="dot")


def connectivity_view(net: Network) -> None:
    """Which layer reads which earlier output: the adjacency heat map."""
    if st.session_state.get("adjacency_block") not in _block_options(net):
        st.session_state["adjacency_block"] = None
    block = st.selectbox("Blocks", _block_options(net), key="adjacency_block", format_func=_block_label)
    _chart(cached.adjacency_for(net.config, net.input, block))


def volume_view(net: Network) -> None:
    """Each stage's output as a C × H × W box."""
    log_scale = st.toggle(
        "log₂ scale", key="volume_log", help="each side 1 + log₂(length): keeps 3×224×224 and 1024×7×7 both visible"
    )
    _chart(cached.volume_for(net.config, net.input, bool(log_scale)))


_NUMBER_FORMATS = {Style.COUNT: "localized", Style.PERCENT: "percent"}


def _table(columns: Sequence[Column[Any]], rows: Sequence[Any], **kwargs: Any) -> None:
    """A sortable table: numbers stay numbers with separators; a column with gaps shows them as "-"; names pinned."""
    raw = values(columns, rows)
    with_gaps = {i for i, _c in enumerate(columns) if any(row[i] is None for row in raw)}
    records = [
        {c.header: (c.text(v) if i in with_gaps else v) for i, (c, v) in enumerate(zip(columns, row, strict=True))}
        for row in raw
    ]
    config: dict[str, Any] = {columns[0].header: st.column_config.TextColumn(pinned=True)}
    for i, c in enumerate(columns):
        if c.style in _NUMBER_FORMATS and i not in with_gaps:
            config[c.header] = st.column_config.NumberColumn(format=_NUMBER_FORMATS[c.style])
    st.dataframe(records, hide_index=True, width="stretch", column_config=config, **kwargs)


def layers_view(net: Network) -> None:
    """Parameters and MACs per layer (chart 3), then the plan as a table: search, sort, per-block subtotals, torchinfo.

    The columns and their headers are :mod:`densviz.core.table`'s, as in
    ``densviz summary`` and the CSV files; the numbers stay numbers (they sort),
    shown with thousands separators.
    """
    plan = net.plan
    _chart(cached.chart_for(net.config, net.input, ChartKind.COST))  # parameters and MACs per layer
    query = (
        st.text_input("Search layers", key="layer_search", placeholder="e.g. denseblock3, transition, norm")
        .strip()
        .lower()
    )
    rows = [r for r in layer_rows(plan) if not query or query in r.layer.name.lower() or query in r.layer.kind.value]

    st.caption(
        f"{len(rows)} of {len(plan.layers)} modules · MACs per image (convolutions and linear, no bias or BN) · output for batch {net.input.batch}, float32 · click a column to sort"
    )
    _table(on_screen(LAYER_COLUMNS), rows, height=420)
    st.markdown("**Per block**")
    _table(on_screen(BLOCK_COLUMNS), block_rows(plan))
    with st.expander("torchinfo's summary of the same model"):
        if st.toggle(
            "Build the model and summarise it",
            key="show_torchinfo",
            help="builds the real nn.Module on the meta device and runs torchinfo",
        ):
            with st.spinner("Running torchinfo…"):
                st.code(cached.torchinfo_text(net.config, net.input), language=None)


def memory_view(net: Network) -> None:
    """Inference and training memory per layer, with the totals."""
    mem, totals = net.plan.memory, net.plan.totals
    cols = st.columns(4)
    cols[0].metric("Parameters", format_bytes(mem.param_bytes), help="float32")
    cols[1].metric(
        "Inference peak",
        format_bytes(mem.inference_peak_bytes),
        help="activations alive at once in a forward pass without autograd",
    )
    cols[2].metric(
        "Training step, naive",
        format_bytes(mem.training_naive_bytes),
        help="parameters, gradients and saved activations; every layer keeps its own concatenation",
    )
    cols[3].metric(
        "Training step, memory-efficient",
        format_bytes(mem.training_efficient_bytes),
        delta=f"{mem.training_efficient_bytes / mem.training_naive_bytes - 1:+.0%}",
        delta_color="inverse",
        help="concatenations and first BN recomputed in backward (arXiv 1707.06990)",
    )
    st.caption(
        f"All module outputs of one forward pass: {format_bytes(totals.activation_bytes)} at batch {net.input.batch}. Estimates; the forward-pass view measures them."
    )
    _chart(cached.chart_for(net.config, net.input, ChartKind.MEMORY))


def _graph_downloads(net: Network) -> GraphOptions:
    """The graph's SVG and DOT, drawn as the Graph view draws it; its settings, for the files made on a worker."""
    options = session.graph_options()
    st.markdown(
        f"**Graph** ({options.detail.value} detail, {_block_label(options.block)}; change these in the Graph view)"
    )
    # The Graph view's own drawing (cached): small, ready at once, offered as plain bytes.
    drawing = cached.drawing_for(net.config, net.input, options)
    cols = st.columns(4)
    if drawing.image is not None:
        cols[0].download_button(
            "SVG",
            data=drawing.image,
            file_name=f"{options.stem}.svg",
            mime="image/svg+xml",
            key="dl_graph_svg",
            on_click="ignore",
            width="stretch",
        )
    else:  # no dot, or it failed: the notes say which; no button that would hand out nothing
        cols[0].caption(f":material/block: SVG: {plain(' '.join(drawing.notes) or 'dot drew nothing.')}")
    cols[1].download_button(
        "DOT",
        data=drawing.dot,
        file_name=f"{options.stem}.dot",
        mime="text/vnd.graphviz",
        key="dl_graph_dot",
        on_click="ignore",
        width="stretch",
    )
    return options


def export_view(net: Network) -> None:
    """Download every format; load a config JSON.

    Small files (the graph's SVG and DOT, the tables, the config, the TikZ
    figures) are plain downloads, ready at once. Images, the charts' pages and
    the zip are made as a job on a worker when the user presses "Make the files"
    (:mod:`densviz.ui.export_files`), and the ONNX model when its own button is
    pressed (:mod:`densviz.ui.export_model`): then they are plain downloads too.
    """
    cfg, spec, plan = net.config, net.input, net.plan
    options = _graph_downloads(net)
    st.markdown("**Tables and config**")
    table_cols = st.columns(4)
    table_cols[0].download_button(
        "layers.csv", layers_csv(plan), file_name="layers.csv", mime="text/csv", on_click="ignore", width="stretch"
    )
    table_cols[1].download_button(
        "blocks.csv", blocks_csv(plan), file_name="blocks.csv", mime="text/csv", on_click="ignore", width="stretch"
    )
    table_cols[2].download_button(
        "plan.json",
        json.dumps(plan.to_dict(), indent=2),
        file_name="plan.json",
        mime="application/json",
        on_click="ignore",
        width="stretch",
    )
    table_cols[3].download_button(
        "config.json",
        state_to_json(cfg, spec),
        file_name="config.json",
        mime="application/json",
        on_click="ignore",
        width="stretch",
        key="dl_config",
    )
    files_panel(net, options)
    model_downloads(net)  # ONNX (made as a job when asked, checked in onnxruntime) and the TikZ figures
    st.divider()
    st.file_uploader(
        "Load a config JSON (as written by config.json above or `densviz summary --json`)",
        type=["json"],
        key="config_upload",
        on_change=load_upload,
        max_upload_size=uploads.limit(
            "config_upload", ["json"], MAX_UPLOAD_BYTES
        ),  # stated, and enforced by the server
    )
    if error := session.pop(Key.UPLOAD_ERROR):  # next to the uploader that caused it
        st.error(plain(error), icon=":material/block:")
    if note := session.pop(Key.UPLOAD_NOTE):
        st.success(plain(note), icon=":material/check:")


@dataclass(frozen=True)
class Change:
    """How a headline number moved since the network shown before.

    Attributes:
        text: The change as the metric writes it ("−10.3 M (−40.2%)").
        arrow: ``up`` or ``down``: the arrow follows the numbers, not the text's sign.
        color: ``green`` (good news), ``red`` or ``gray`` (neither).
    """

    text: str
    arrow: str
    color: str


def change(now: int, before: int | None, fmt: Callable[[int], str], *, lower_is_better: bool | None) -> Change | None:
    """The change of one headline number, or ``None`` if there is none.

    ``lower_is_better``: fewer parameters, MACs or bytes is good news (green);
    ``None`` for numbers that are neither good nor bad (depth, channels: grey).
    """
    if before is None or now == before:
        return None
    up = now > before
    percent = f"{abs(now / before - 1):.1%}" if before else "new"
    sign = "+" if up else "−"
    text = f"{sign}{fmt(abs(now - before))} ({sign}{percent})" if before else f"{sign}{fmt(abs(now - before))} (new)"
    color = "gray" if lower_is_better is None else ("red" if up == lower_is_better else "green")
    return Change(text, "up" if up else "down", color)


def headline(plan: ArchitecturePlan, previous: ArchitecturePlan | None) -> None:
    """Parameters, MACs, depth, final channels, activations, each with its change.

    The five wrap onto as many rows as the screen needs (two or three a row on a phone).
    """
    t, p = plan.totals, (previous.totals if previous is not None else None)
    metrics: list[tuple[str, str, Change | None, str]] = [
        (
            "Parameters",
            format_count(t.params),
            change(t.params, p.params if p else None, format_count, lower_is_better=True),
            f"{t.params:,} learnable parameters",
        ),
        (
            "MACs per image",
            format_macs(t.macs),
            change(t.macs, p.macs if p else None, format_macs, lower_is_better=True),
            f"{t.macs:,} multiply-accumulates of the convolutions and the linear layer (no bias, no BN); FLOPs = 2·MACs",
        ),
        (
            "Depth L",
            str(t.depth),
            change(t.depth, p.depth if p else None, str, lower_is_better=None),
            "convolutions plus the classifier, as the paper counts",
        ),
        (
            "Final channels",
            str(t.final_channels),
            change(t.final_channels, p.final_channels if p else None, str, lower_is_better=None),
            "channels into the classifier",
        ),
        (
            "Activations",
            format_bytes(t.activation_bytes),
            change(t.activation_bytes, p.activation_bytes if p else None, format_bytes, lower_is_better=True),
            f"every module's output for batch {plan.input.batch}, float32",
        ),
    ]
    row = st.container(horizontal=True, gap="small")
    for label, value, moved, help_text in metrics:
        row.metric(
            label,
            value,
            moved.text if moved else None,
            delta_color=moved.color if moved else "off",  # type: ignore[arg-type]
            delta_arrow=moved.arrow if moved else "auto",  # type: ignore[arg-type]
            help=help_text,
            width="content",
        )
