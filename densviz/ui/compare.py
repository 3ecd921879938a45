"""The Compare view: pin the current network as A, change the controls to get B, see both at once."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from densviz.core.compare import compare
from densviz.core.config import PRESETS, ConfigError
from densviz.core.units import format_bytes, format_count, format_macs
from densviz.draw.charts import growth_overlay_figure
from densviz.draw.graph import DEFAULT_MAX_FULL_LAYERS, Detail
from densviz.ui import cached, session, state
from densviz.ui.panzoom import panzoom_page
from densviz.ui.session import Key, Network
from densviz.ui.state import CUSTOM, Pinned, pinned_from
from densviz.ui.text import plain

_METRICS: dict[str, tuple[str, Callable[[int], str]]] = {
    "params": ("Parameters", format_count),
    "macs": ("MACs per image", format_macs),
    "depth": ("Depth L", str),
    "final_channels": ("Final channels", str),
    "param_bytes": ("Parameter memory", format_bytes),
    "activation_bytes": ("Activation memory", format_bytes),
    "training_naive_bytes": ("Training memory, naive", format_bytes),
    "training_efficient_bytes": ("Training memory, memory-efficient", format_bytes),
}


def _pin_current() -> None:
    last = session.last_valid()
    if last is not None:
        session.put(Key.PINNED, pinned_from(last.config, last.input))


def _pin_preset() -> None:
    name = st.session_state.get("compare_pick")
    if name in PRESETS:
        session.put(Key.PINNED, Pinned(PRESETS[name].config, PRESETS[name].input, name))


def _swap() -> None:
    pinned: Pinned | None = session.get(Key.PINNED)
    last = session.last_valid()
    if pinned is None or last is None:
        return
    session.put(Key.PINNED, pinned_from(last.config, last.input))
    state.load(st.session_state, pinned.config, pinned.input, pinned.preset)


def _unpin() -> None:
    session.pop(Key.PINNED)


def _signed(value: int, show: Callable[[int], str]) -> str:
    if value == 0:
        return "±0"
    return ("+" if value > 0 else "−") + show(abs(value))


def _pin_controls(pinned: Pinned | None) -> None:
    cols = st.columns([1.3, 2, 1, 1], vertical_alignment="bottom")
    cols[0].button(
        "Pin this network as A" if pinned is None else "Pin this network as A instead",
        icon=":material/push_pin:",
        on_click=_pin_current,
        type="primary" if pinned is None else "secondary",
    )
    cols[1].selectbox(
        "…or pin a preset as A",
        list(PRESETS),
        index=None,
        key="compare_pick",
        placeholder="choose a preset",
        format_func=lambda n: PRESETS[n].title,
        on_change=_pin_preset,
    )
    if pinned is not None:
        cols[2].button("Swap A and B", icon=":material/swap_horiz:", on_click=_swap)
        cols[3].button("Unpin A", icon=":material/close:", on_click=_unpin)


def compare_view(net: Network) -> None:
    """A (pinned) against B (the controls): growth curves, numbers, blocks, overview graphs."""
    pinned: Pinned | None = session.get(Key.PINNED)
    _pin_controls(pinned)
    if pinned is None:
        st.caption(
            "Pin a design as A, then change the controls or pick another preset: the page compares A with the "
            "current network (B), and the link keeps both."
        )
        return
    try:
        plan_a = cached.plan_for(pinned.config, pinned.input)
    except ConfigError as err:
        st.error(f"Design A cannot be planned: {plain(err)}")
        return
    plan_b = net.plan
    preset_b = str(st.session_state.get("preset", CUSTOM))
    label_b = PRESETS[preset_b].title if preset_b in PRESETS else "custom design"
    label_a = pinned.label
    if label_a == label_b:
        label_a, label_b = f"A: {label_a}", f"B: {label_b}"
    result = compare(plan_a, plan_b)
    st.markdown(f"**A** = {label_a} · **B** = {label_b} (the controls)")
    st.plotly_chart(
        growth_overlay_figure([(label_a, plan_a), (label_b, plan_b)]),
        width="stretch",
        config={"displaylogo": False},
        key="compare_growth",
    )
    st.markdown("**The numbers**")
    st.dataframe(
        [
            {
                "": _METRICS[m.name][0],
                "A": _METRICS[m.name][1](m.a),
                "B": _METRICS[m.name][1](m.b),
                "B − A": _signed(m.diff, _METRICS[m.name][1]),
                "B / A": f"{m.ratio:.2f}×" if m.ratio is not None else "–",
            }
            for m in result.metrics
        ],
        hide_index=True,
        width="stretch",
    )
    st.caption(
        f"Memory at batch A {plan_a.input.batch}, B {plan_b.input.batch}, float32; training memory estimated "
        "for one step (arXiv 1707.06990 for memory-efficient)."
    )
    st.markdown("**Block by block**")

    def side(s: object, what: str) -> str:
        return "–" if s is None else str(getattr(s, what))

    rows = []
    for d in result.blocks:
        rows.append(
            {
                "block": d.index,
                "layers A/B": f"{side(d.a, 'layers')} / {side(d.b, 'layers')}",
                "channels in A/B": f"{side(d.a, 'in_channels')} / {side(d.b, 'in_channels')}",
                "channels out A/B": f"{side(d.a, 'out_channels')} / {side(d.b, 'out_channels')}",
                "params B − A": _signed(d.b.params - d.a.params, format_count) if d.a and d.b else "–",
                "MACs B − A": _signed(d.b.macs - d.a.macs, format_macs) if d.a and d.b else "–",
            }
        )
    st.dataframe(rows, hide_index=True, width="stretch")
    st.markdown("**Overview graphs**")
    cols = st.columns(2)
    for col, label, plan in ((cols[0], label_a, plan_a), (cols[1], label_b, plan_b)):
        drawing = cached.drawing_for(
            plan.config, plan.input, Detail.OVERVIEW, None, "TB", True, DEFAULT_MAX_FULL_LAYERS
        )
        col.caption(label)
        with col:
            if drawing.image is not None:
                st.iframe(panzoom_page(drawing.image.decode()), height=640)  # our own SVG from dot
            else:
                st.graphviz_chart(drawing.dot, width="stretch")
