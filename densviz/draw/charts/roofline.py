"""Where the time goes: the roofline of a profiled run, and each stage's share of the time beside its share of the MACs.

Plain data in: the dict of ``densviz profile --json``
(``ProfileResult.to_dict()``): ``rows`` (each with ``name``, ``role``,
``block``, ``time_ms``, ``gflops``, ``macs``, ``intensity``), ``peak_gflops``,
``bandwidth_gbs`` and their sources. Rows without MACs (norms, ReLUs,
poolings) have no point on the roofline (zero FLOPs on a log axis).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from densviz.draw.charts.style import figure, frame
from densviz.draw.palette import HEAD_COLOR, STEM_COLOR, TRANSITION_COLOR, block_color, tint

__all__ = ["roofline_figure", "time_share_figure"]


def _color(row: Mapping[str, Any]) -> str:
    if row["role"] == "dense_layer":
        return block_color(row["block"])
    if row["role"] == "transition":
        return TRANSITION_COLOR
    if row["role"] in ("final_norm", "classifier"):
        return HEAD_COLOR
    return STEM_COLOR


def _group(row: Mapping[str, Any]) -> str:
    """The stage a row belongs to: ``stem``, ``B1``, ``T1`` … ``head``."""
    if row["role"] == "dense_layer":
        return f"B{row['block']}"
    if row["role"] == "transition":
        return f"T{row['block']}"
    return "head" if row["role"] in ("final_norm", "classifier") else "stem"


def _threads(n: Any) -> str:
    return f"{n} thread{'' if n == 1 else 's'}"


def _roof_line(peak: float, bandwidth: float, low: float, high: float) -> tuple[list[float], list[float]]:
    """The roof min(peak, bandwidth · I) from ``low`` to ``high`` FLOP/byte, through its ridge point."""
    ridge = peak / bandwidth
    xs = [low, *([ridge] if low < ridge < high else []), high]
    return xs, [min(peak, bandwidth * x) for x in xs]


def roofline_figure(data: Mapping[str, Any]) -> go.Figure:
    """Log-log roofline: the compute and bandwidth roofs, one point per row with MACs, coloured by block."""
    rows: Sequence[Mapping[str, Any]] = [r for r in data["rows"] if r["macs"] > 0 and r["gflops"] > 0]
    peak, bandwidth = float(data["peak_gflops"]), float(data["bandwidth_gbs"])
    intensities = [float(r["intensity"]) for r in rows] or [1.0]
    low = min(min(intensities), peak / bandwidth) / 4
    high = max(max(intensities), peak / bandwidth) * 4
    xs, ys = _roof_line(peak, bandwidth, low, high)
    traces: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": xs,
            "y": ys,
            "name": f"roof: {peak:.0f} GFLOP/s, {bandwidth:.0f} GB/s",
            "line": {"color": "#111827", "width": 2},
            "hovertext": [data.get("peak_source", ""), data.get("bandwidth_source", "")],
            "hoverinfo": "name",
        }
    ]
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        groups.setdefault(_group(r), []).append(r)
    for label, members in groups.items():
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": label,
                "x": [r["intensity"] for r in members],
                "y": [r["gflops"] for r in members],
                "marker": {"color": _color(members[0]), "size": 8, "line": {"color": "white", "width": 0.5}},
                "hovertext": [
                    f"<b>{r['name']}</b><br>{r['time_ms']:.3f} ms · {r['gflops']:.1f} GFLOP/s"
                    f"<br>{r['intensity']:.2f} FLOP/byte"
                    for r in members
                ],
                "hoverinfo": "text",
            }
        )
    layout = frame(
        "Roofline",
        f"each layer's achieved GFLOP/s against its FLOPs per byte moved; roofs measured on this device "
        f"({data.get('precision', '')}, {_threads(data.get('threads'))})",
        height=560,
    )
    layout |= {
        "xaxis": {"type": "log", "title": {"text": "arithmetic intensity (FLOP/byte)"}},
        "yaxis": {"type": "log", "title": {"text": "achieved GFLOP/s"}},
    }
    return figure(traces, layout)


def time_share_figure(data: Mapping[str, Any]) -> go.Figure:
    """Per stage (stem, each block, each transition, head): its share of the time beside its share of the MACs."""
    time: dict[str, float] = {}
    macs: dict[str, float] = {}
    colors: dict[str, str] = {}
    for r in data["rows"]:
        g = _group(r)
        time[g] = time.get(g, 0.0) + float(r["time_ms"])
        macs[g] = macs.get(g, 0.0) + float(r["macs"])
        colors.setdefault(g, _color(r))
    labels = list(time)
    total_t, total_m = sum(time.values()) or 1.0, sum(macs.values()) or 1.0
    traces = [
        {
            "type": "bar",
            "name": "time share",
            "x": labels,
            "y": [time[g] / total_t for g in labels],
            "marker": {"color": [colors[g] for g in labels]},
            "hovertemplate": "%{x}: %{y:.1%} of the time<extra></extra>",
        },
        {
            "type": "bar",
            "name": "MACs share",
            "x": labels,
            "y": [macs[g] / total_m for g in labels],
            "marker": {"color": [tint(colors[g], 0.6) for g in labels], "pattern": {"shape": "/"}},
            "hovertemplate": "%{x}: %{y:.1%} of the MACs<extra></extra>",
        },
    ]
    layout = frame(
        "Time share beside MACs share", "per stage: a stage above its MACs share runs slower than the average"
    )
    layout |= {"barmode": "group", "yaxis": {"tickformat": ".0%", "title": {"text": "share"}}}
    return figure(traces, layout)
