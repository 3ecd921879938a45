"""The page: sidebar controls, headline numbers, the check against PyTorch, one view."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, CancelledError, Future
from pathlib import Path
from typing import Any

import streamlit as st

from densviz.core.config import PRESETS, ConfigError, DenseNetConfig, InputSpec
from densviz.core.plan import ArchitecturePlan
from densviz.core.settings import SETTINGS, Widget
from densviz.nn.check import VerifyOutcome
from densviz.ui import cached, growth, session, state, views
from densviz.ui.controls import control
from densviz.ui.memory_trim import start_memory_trim
from densviz.ui.server_hooks import install_runtime_guards
from densviz.ui.session import Design, Key, Network, Shown
from densviz.ui.state import CUSTOM, layers_key
from densviz.ui.text import plain
from densviz.ui.views import headline


def _forward_view(net: Network) -> None:
    from densviz.ui.forward import forward_view  # imports torch: only when this view is shown

    forward_view(net)


def _reuse_view(net: Network) -> None:
    from densviz.ui.reuse import reuse_view  # imports torch: only when this view is shown

    reuse_view(net)


def _design_space_view(net: Network) -> None:
    from densviz.ui.design_space import design_space_view

    design_space_view(net)


def _compare_view(net: Network) -> None:
    from densviz.ui.compare import compare_view

    compare_view(net)


VIEWS: dict[str, Callable[[Network], None]] = {
    "Growth": growth.growth_view,
    "Graph": views.graph_view,
    "Connectivity": views.connectivity_view,
    "Volume": views.volume_view,
    "Layers": views.layers_view,
    "Memory": views.memory_view,
    "Compare": _compare_view,
    "Design space": _design_space_view,
    "Forward pass": _forward_view,
    "Feature reuse": _reuse_view,
    "Export": views.export_view,
}
"""The views in the order of the selector; the first is the default."""

_FAVICON = Path(__file__).parent / "static" / "favicon.png"  # shipped: an emoji or icon name is fetched from a CDN
# Our own static CSS. On a phone: the title clears the header's 60-px bar, the title and the
# headline numbers take less of the first screen, and the settings drawer is narrower, says
# what it holds, has a close button a thumb can hit and dims the page behind it (a tap there
# closes it: Streamlit's own handler).
_STYLE = """<style>
@media (max-width: 640px) {
  [data-testid="stMain"] h1 { font-size: 1.6rem; padding: 0.25rem 0 0.5rem; }
  [data-testid="stMainBlockContainer"] { padding-top: 3.75rem; }
  [data-testid="stMetricValue"] { font-size: 1.5rem; }
  .js-plotly-plot .modebar-container { display: none; }  /* always shown on touch screens, over the titles */
  [data-testid="stExpandSidebarButton"]::after { content: "Settings"; margin-left: 0.3rem; font-size: 0.95rem; }
  [data-testid="stExpandSidebarButton"] { width: auto; padding: 0.5rem 0.6rem; }
  section[data-testid="stSidebar"] { width: min(17rem, 72vw) !important; min-width: 0 !important; }
  [data-testid="stSidebarCollapseButton"] button { min-width: 2.75rem; min-height: 2.75rem; }
  section[data-testid="stSidebar"][data-collapsed="false"] + div::after {
    content: ""; position: fixed; inset: 0; background: rgba(14, 17, 23, 0.35); z-index: 999990;
  }
}
</style>"""

_PRESET_LABELS = {CUSTOM: "custom", **{name: p.title for name, p in PRESETS.items()}}


def _sidebar() -> None:
    """Every control, drawn from the settings table; values live in st.session_state under the field names."""
    sb = st.sidebar
    sb.title("densviz")
    sb.caption("See how a DenseNet's feature maps grow, layer by layer.")
    top = sb.columns([4, 1], vertical_alignment="bottom")
    top[0].selectbox(
        SETTINGS["preset"].label,
        [CUSTOM, *PRESETS],
        key="preset",
        format_func=lambda n: _PRESET_LABELS[n],
        on_change=state.load_preset,
        help="torchvision's ImageNet models, the paper's DenseNet-264 and its CIFAR models (Table 2); picking one fills every control",
    )
    top[1].button(
        "", icon=":material/restart_alt:", on_click=state.reset, help="Reset: back to DenseNet-121", key="reset"
    )
    mark = state.mark_custom

    sb.subheader("Dense blocks")
    control("growth_rate", sb, on_change=mark)
    _block_controls(sb)
    control("bn_size", sb, key="bottleneck", label="Bottleneck (DenseNet-B)", widget=Widget.TOGGLE, on_change=mark)
    if st.session_state["bottleneck"]:
        control("bn_size", sb, on_change=mark)
    control("drop_rate", sb, on_change=mark)

    sb.subheader("Transitions")
    control("compression", sb, on_change=mark)

    sb.subheader("Stem and input")
    control("stem", sb, on_change=mark)
    control(
        "num_init_features", sb, key="init_auto", label="Initial features = 2k", widget=Widget.TOGGLE, on_change=mark
    )
    if not st.session_state["init_auto"]:
        control("num_init_features", sb, on_change=mark)
    size_cols = sb.columns(2)
    control("height", size_cols[0], on_change=mark)
    control("width", size_cols[1], on_change=mark)
    control("in_channels", sb, on_change=mark)  # a row each: in half a sidebar the labels were clipped
    control("num_classes", sb, on_change=mark)

    sb.subheader("Memory")
    control("batch", sb, on_change=mark)
    control("memory_efficient", sb, on_change=mark)


def _block_controls(sb: Any) -> None:
    """The number of dense blocks, then one layer count per block (the ``block_config`` setting)."""
    blocks = SETTINGS["block_config"]
    sb.number_input(
        "Dense blocks",
        blocks.count[0],
        blocks.count[1],
        step=1,
        key="num_blocks",
        help="blocks of densely connected layers, with a transition between each two",
        on_change=state.mark_custom,
    )
    for b in range(1, int(st.session_state["num_blocks"]) + 1):
        key = layers_key(b)
        if key not in st.session_state:  # a block just added: start like the one before it
            st.session_state[key] = int(st.session_state.get(layers_key(b - 1), 12))
        control(blocks, sb, key=key, label=f"{blocks.label} {b}", widget=Widget.NUMBER, on_change=state.mark_custom)


_CHECK_WAIT_S = 60.0


def _show_outcome(job: Future[VerifyOutcome]) -> None:
    if job.cancelled():
        return
    outcome = cached.outcome_of(job)
    if outcome.error:
        st.caption(f":material/warning: {outcome.error}")
    elif outcome.ok:
        st.caption(
            f":material/verified: verified against the PyTorch model: all {outcome.checks:,} shapes, parameter and MAC counts agree "
            f"(built on the meta device in {outcome.elapsed_s:.2f} s)"
        )
    else:
        st.error("The plan disagrees with the PyTorch model: " + "; ".join(outcome.mismatches))


def _verify_badge(cfg: DenseNetConfig, spec: InputSpec) -> Callable[[], None] | None:
    """The mark of the background check against PyTorch.

    Done already: drawn now. Otherwise a "checking" line is drawn and the
    returned function, called once the rest of the page is drawn, waits for the
    check (at most a minute) and puts the mark in its place. The page is on
    screen meanwhile, and any click interrupts the wait with its own rerun.
    Polling with a ``run_every`` fragment instead ended with a rerun of the
    page that could swallow a click made at that moment.
    """
    owner = st.session_state.setdefault(Key.SESSION_ID.value, uuid.uuid4().hex)
    job = cached.verify_service().request(cfg, spec, owner)
    if job.done():
        _show_outcome(job)
        return None
    slot = st.empty()
    slot.caption(":material/hourglass_top: checking these numbers against the real PyTorch model…")

    def finish() -> None:
        try:
            job.result(timeout=_CHECK_WAIT_S)
        except CancelledError:
            slot.empty()
            return
        except BrokenExecutor:
            pass  # the worker died: _show_outcome says so
        except TimeoutError:
            slot.caption(
                ":material/hourglass_top: still checking these numbers against the real PyTorch model; "
                "the mark shows after your next change"
            )
            return
        with slot.container():
            _show_outcome(job)

    return finish


def _explain(plan: ArchitecturePlan) -> None:
    cfg = plan.config
    panel = st.expander("How a DenseNet grows: the equations with these numbers", key="explain", on_change="rerun")
    if not panel.open:  # drawn only when opened: the math typesetter is not loaded for the first screen
        return
    with panel:
        cols = st.columns(3)
        cols[0].markdown("**Plain network**")
        cols[0].latex(r"x_\ell = H_\ell(x_{\ell-1})")
        cols[1].markdown("**ResNet**: adds the input")
        cols[1].latex(r"x_\ell = H_\ell(x_{\ell-1}) + x_{\ell-1}")
        cols[2].markdown("**DenseNet**: concatenates every earlier output")
        cols[2].latex(r"x_\ell = H_\ell([x_0, x_1, \ldots, x_{\ell-1}])")
        k = cfg.growth_rate
        b1 = plan.blocks[0]
        last = b1.in_channels + k * (b1.layers - 1)
        st.markdown(
            f"Each layer $H_\\ell$ adds **k = {k}** feature maps, so layer ℓ of a block reads "
            f"k₀ + k·(ℓ−1) channels. In block 1, k₀ = {b1.in_channels}: layer 1 reads {b1.in_channels}, "
            f"layer {b1.layers} reads {b1.in_channels} + {k}·{b1.layers - 1} = {last}, and the block hands on "
            f"{b1.in_channels} + {k}·{b1.layers} = {b1.out_channels} channels at {b1.hw[0]}×{b1.hw[1]}."
        )
        st.latex(rf"k_\ell = k_0 + k\cdot(\ell-1) = {b1.in_channels} + {k}\cdot(\ell-1)")
        if len(plan.blocks) > 1:
            t = plan["features.transition1"]
            st.markdown(
                f"A **transition** (BN, ReLU, 1×1 conv, 2×2 average pool) keeps ⌊θ·m⌋ channels: with θ = {cfg.compression:g}, "
                f"⌊{cfg.compression:g}·{t.in_channels}⌋ = {t.out_channels}, and halves {t.in_hw[0]}×{t.in_hw[1]} to "
                f"{t.out_hw[0]}×{t.out_hw[1]}: the volume of each new layer's maps drops to a quarter, while "
                "inside a block it stays constant."
            )
        bottleneck = (
            f"With the bottleneck, each layer is BN-ReLU-Conv1×1 ({cfg.bn_size}·k = {cfg.bn_size * k} channels)-BN-ReLU-Conv3×3 (k)."
            if cfg.bottleneck
            else "Without the bottleneck each layer is BN-ReLU-Conv3×3 to k channels."
        )
        st.markdown(
            bottleneck + f" The paper's depth L counts the convolutions and the classifier: L = {plan.totals.depth}."
        )


def _sync_query(cfg: DenseNetConfig, spec: InputSpec, view: str) -> None:
    preset = str(st.session_state.get("preset", CUSTOM))
    node = session.get(Key.NODE) if view == "Graph" else None  # the Graph view's selection: node=
    wanted = state.query_for(cfg, spec, preset, view, session.get(Key.PINNED), session.graph_options(), node=node)
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)


def _init_defaults() -> None:
    defaults: dict[str, Any] = {
        "volume_log": True,
    }
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)


def main() -> None:
    """Draw the page."""
    st.set_page_config(page_title="densviz: see DenseNets grow", page_icon=str(_FAVICON), layout="wide")
    st.html(_STYLE)
    start_memory_trim()
    install_runtime_guards()  # the upload guard and the end of closed tabs' sessions, also under `streamlit run app.py`
    views = list(VIEWS)
    if not session.get(Key.INITIALISED):
        query = {key: st.query_params.get_all(key) for key in st.query_params}
        initial = state.init_from_query(query, views)
        session.put(Key.INITIALISED, True)
        session.put(Key.WARNINGS, list(initial.warnings))
        session.put(Key.VIEW, initial.view or views[0])
        if initial.pinned is not None:
            session.put(Key.PINNED, initial.pinned)
    _init_defaults()
    _sidebar()

    st.title("DenseNet feature-map growth")
    for warning in session.pop(Key.WARNINGS, []):
        st.warning(f"From the link: {plain(warning)}", icon=":material/link_off:")

    try:
        cfg, spec = state.read_config(st.session_state)
        plan = cached.plan_for(cfg, spec)
    except ConfigError as err:
        st.error(plain(err), icon=":material/block:")
        last = session.last_valid()
        if last is None:
            st.stop()
        cfg, spec = last.config, last.input
        plan = cached.plan_for(cfg, spec)
        st.caption("Showing the last valid network until the settings are fixed.")
    else:
        session.put(Key.LAST_VALID, Design(cfg, spec))

    shown: Shown | None = session.get(Key.SHOWN)
    if shown is None or shown.design != Design(cfg, spec):
        previous = shown.plan if shown is not None else None
        session.put(Key.SHOWN, Shown(Design(cfg, spec), plan, previous))
    else:
        previous = shown.previous
    headline(plan, previous)
    finish_check = _verify_badge(cfg, spec)
    _explain(plan)

    view = (
        st.segmented_control("View", views, key=Key.VIEW.value, required=True, label_visibility="collapsed") or views[0]
    )
    VIEWS[view](Network(cfg, spec, plan))
    _sync_query(cfg, spec, view)
    if finish_check is not None:
        finish_check()
