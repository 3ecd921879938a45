"""Links between the Forward pass view and the Graph view, both ways.

From here: a feature map's module or a CAM panel's opens the Graph view with
that module selected (``Key.NODE``). Back: the Graph view's node panel sets
``Key.FEATURE_LAYER`` (the feature-map explorer's selectbox) and the view to
"Forward pass"; the explorer then shows that module, or the nearest module it
lists that contains it (a dense layer for its convolutions, the stem's
convolution for its norm and pooling), and before any run it says to press Run.
"""

from __future__ import annotations

import streamlit as st

from densviz.core.plan import ArchitecturePlan, LayerKind
from densviz.ui.session import Key

__all__ = ["GRAPH_VIEW", "listing", "nearest_listed", "open_in_graph"]

GRAPH_VIEW = "Graph"
"""The Graph view's name in the view selector."""


def open_in_graph(module: str) -> None:
    """An ``on_click`` callback: show the Graph view with ``module`` selected (a widget's key is set before it is drawn)."""
    st.session_state[Key.NODE] = module
    st.session_state[Key.VIEW] = GRAPH_VIEW


def nearest_listed(module: str, listed: list[str], plan: ArchitecturePlan) -> str | None:
    """The module the explorer should show for ``module``.

    Itself when listed; else the nearest listed module containing it (a dense
    layer for its convolutions); else itself when it is a module of the plan
    with maps (a stem's norm, the final norm: :func:`listing` adds it to the
    explorer's list).

    Returns:
        ``None`` when ``module`` is not one of this network's modules, or has no maps (the classifier).
    """
    if module in listed:
        return module
    containing = [m for m in listed if module.startswith(m + ".")]
    if containing:
        return max(containing, key=len)
    with_maps = {r.name for r in plan.layers if r.kind is not LayerKind.LINEAR}  # the classifier gives scores
    return module if module in with_maps else None


def listing(listed: list[str], module: str, plan: ArchitecturePlan) -> list[str]:
    """``listed`` with ``module`` in its forward place (after the listed modules the plan runs before it)."""
    if module in listed:
        return listed
    order = {r.name: float(i) for i, r in enumerate(plan.layers)}

    def position(name: str) -> float:
        """A plan row's place; a block's output comes just after its last layer."""
        inside = [i for n, i in order.items() if n.startswith(name + ".")]
        return order.get(name, max(inside) + 0.5 if inside else -1.0)

    at = position(module)
    place = sum(1 for m in listed if position(m) < at)
    return [*listed[:place], module, *listed[place:]]
