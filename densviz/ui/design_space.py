"""The Design space view: every DenseNet around the current one under a budget; a click makes one current.

The space is centred on the current design (k from half to twice, each block's
layers from half to one and a half times, the current θ, bottleneck, stem and
input), priced in closed form (microseconds a design), filtered by the budget
sliders and drawn as parameters against MACs with the Pareto front. Clicking a
point loads that design into the controls, through the same parser as a link.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from densviz.core.config import DenseNetConfig, InputSpec
from densviz.core.explore import DEFAULT_OBJECTIVES, Design, Exploration, Limits, Metrics, Space, sweep
from densviz.core.plan import ArchitecturePlan
from densviz.core.units import format_count, format_macs
from densviz.draw.charts.design_space import COLOR_BY, design_space_figure, design_text
from densviz.draw.charts.paper import imagenet_params_figure, paper_macs_figure, paper_params_figure
from densviz.ui import state
from densviz.ui.cached import shared
from densviz.ui.session import Network
from densviz.ui.state import CUSTOM

__all__ = ["clicked_index", "default_space", "design_space_view", "load_design"]

_CHART_KEY = "design_space_chart"
# The sweep the chart shows, for the click callback to read a point back: its space and limits, not the
# sweep itself (thousands of objects per session for the cycle collector to walk; the sweep is cached).
_FOUND_KEY = "design_space_found"
_FACTORS = (0.5, 0.75, 1.0, 1.25, 1.5)


def default_space(cfg: DenseNetConfig, spec: InputSpec) -> Space:
    """A space around the current design: k from ½ to 2×, each block's layers from ½ to 1½×, the rest as it is."""
    k = cfg.growth_rate
    growth = sorted({max(1, min(128, round(k * f))) for f in (0.5, 0.625, 0.75, 0.875, 1, 1.25, 1.5, 1.75, 2)})
    layers = tuple(tuple(sorted({max(1, min(256, round(n * f))) for f in _FACTORS})) for n in cfg.block_config)
    init = None if cfg.init_features == min(2 * k, 4096) else (cfg.init_features,)
    return Space(
        growth_rates=tuple(growth),
        layers=layers,
        blocks=(len(cfg.block_config),),
        compressions=(cfg.compression,),
        bn_sizes=(cfg.bn_size,),
        stems=(cfg.stem,),
        input_sizes=(spec.hw,),
        init_features=init,
        num_classes=cfg.num_classes,
        in_channels=cfg.in_channels,
        batch=spec.batch,
        per_block=True,
    )


def _sweep(space: Space, limits: Limits) -> Exploration:
    return sweep(space, limits, DEFAULT_OBJECTIVES)


# A sweep is priced in about 20 ms but is three small objects per design (17,000 for the default
# space), which the server's cycle collector walks on every full collection for as long as they
# are kept: 8 sweeps kept made a third of the server's heap under many sessions. So what is kept is
# what the view shows, drawn from a sweep that is then dropped; a click sweeps again.


@shared(max_entries=32)
def _tops(space: Space) -> tuple[int, int]:
    """The space's largest parameter and MAC counts (0, 0 when it holds no network): the budget sliders' ends."""
    kept = _sweep(space, Limits()).kept
    return max((c.metrics.params for c in kept), default=0), max((c.metrics.macs for c in kept), default=0)


@dataclass(frozen=True)
class _Shown:
    """What the view shows of one sweep: the chart, the front's first rows and size, the presets' line."""

    figure: go.Figure
    front_rows: tuple[dict[str, Any], ...]
    front_size: int
    presets: str


@shared(max_entries=32)
def _shown(space: Space, limits: Limits, current: Metrics, color_by: str) -> _Shown:
    found = _sweep(space, limits)
    front = found.front()
    rows = tuple(
        {
            "design": design_text(c.design),
            "parameters": format_count(c.metrics.params),
            "MACs": format_macs(c.metrics.macs),
            "depth L": c.metrics.depth,
            "preset": c.preset or "",
        }
        for c in front[:50]
    )
    presets = ", ".join(f"{name} ({'kept' if c else 'over the budget'})" for name, c in found.presets().items())
    return _Shown(design_space_figure(found, current, color_by), rows, len(front), presets)


def load_design(design: Design, batch: int) -> None:
    """Make ``design`` the current network: the controls' values, as a link would set them."""
    state.load(st.session_state, design.config(), design.input(batch), CUSTOM)


def clicked_index(event: Any) -> int | None:
    """The kept design's index a chart selection names (its point's ``customdata``), if any."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return None
    for point in points:
        data = point.get("customdata")
        if isinstance(data, list):
            data = data[0] if data else None
        if isinstance(data, int):
            return data
    return None


def _on_click() -> None:
    """Callback of a click on the chart: runs before the controls are drawn, so it may set them."""
    shown: tuple[Space, Limits] | None = st.session_state.get(_FOUND_KEY)
    index = clicked_index(st.session_state.get(_CHART_KEY))
    if shown is None or index is None:
        return
    found = _sweep(*shown)
    if 0 <= index < len(found.kept):
        load_design(found.kept[index].design, found.space.batch)


def _budgets(plan: ArchitecturePlan, space: Space) -> Limits:
    """The budget sliders (in millions), from nothing to just above the space's largest design."""
    most_params, most_macs = _tops(space)
    cols = st.columns([1, 1, 1])
    top_params = max(most_params, plan.totals.params) / 1e6
    top_macs = max(most_macs, plan.totals.macs) / 1e6
    max_params = cols[0].slider(
        "Most parameters (M)",
        0.0,
        round(top_params * 1.05, 2),
        round(top_params * 1.05, 2),
        key="ds_max_params",
        help="keep designs with at most this many parameters",
    )
    max_macs = cols[1].slider(
        "Most MACs per image (M)",
        0.0,
        round(top_macs * 1.05, 1),
        round(top_macs * 1.05, 1),
        key="ds_max_macs",
        help="keep designs with at most this many multiply-accumulates per image",
    )
    return Limits(max_params=int(max_params * 1e6), max_macs=int(max_macs * 1e6))


def design_space_view(net: Network) -> None:
    """The sweep around the current design, its budget sliders, and the chart a click on which loads a design."""
    space = default_space(net.config, net.input)
    limits = _budgets(net.plan, space)
    color_by = st.segmented_control(
        "Colour by", list(COLOR_BY), key="ds_color", format_func=COLOR_BY.__getitem__, default="depth"
    )
    st.session_state[_FOUND_KEY] = (space, limits)
    t = net.plan.totals
    current = Metrics(t.params, t.macs, t.depth, t.final_channels, t.activation_bytes)
    shown = _shown(space, limits, current, str(color_by or "depth"))
    st.plotly_chart(
        shown.figure,
        key=_CHART_KEY,
        on_select=_on_click,
        selection_mode="points",
        width="stretch",
        config={"displaylogo": False},
    )
    _front_table(shown)
    _paper_charts(net)


@shared(max_entries=32)
def _paper(column: str, params: int, macs: int) -> tuple[go.Figure, go.Figure, go.Figure]:
    return (
        paper_params_figure(column, params),
        paper_macs_figure(column, macs),
        imagenet_params_figure(params),
    )


def _paper_charts(net: Network) -> None:
    """The paper's Figure 3 with published errors, and this design as a line at its size (its error is unknown)."""
    st.subheader("The paper's results, with your design's size")
    st.caption(
        "Published errors next to published sizes: Huang et al. 2017, Table 2 (CIFAR and SVHN) and torchvision's "
        "ImageNet accuracies; your design is the dashed line: its error is not known until it is trained."
    )
    column = st.segmented_control(
        "Data set", ["C10+", "C100+", "SVHN"], key="ds_paper_column", default="C10+", label_visibility="collapsed"
    )
    t = net.plan.totals
    by_params, by_macs, imagenet = _paper(str(column or "C10+"), t.params, t.macs)
    cols = st.columns(2)
    cols[0].plotly_chart(by_params, width="stretch", config={"displaylogo": False}, key="ds_paper_params")
    cols[1].plotly_chart(by_macs, width="stretch", config={"displaylogo": False}, key="ds_paper_macs")
    st.plotly_chart(imagenet, width="stretch", config={"displaylogo": False}, key="ds_paper_imagenet")


def _front_table(shown: _Shown) -> None:
    st.markdown(f"**The front** ({shown.front_size} designs, the deepest network for its MACs first)")
    st.dataframe(list(shown.front_rows), hide_index=True, width="stretch")
    if shown.presets:
        st.caption(f"Presets in this space: {shown.presets}.")
