"""The Graph view's exploring: click a node, search for a layer, the panel with its numbers, the ``node=`` link.

The selection is one session value, ``Key.NODE`` (a module path, a block,
``input``, ``stem`` or a chain drawing's concatenation). It is set by a click
on the drawing, by the search box, by the link's ``node=`` and by other views
(the Forward pass view's "show in graph"). The drawing itself comes from the
cache and is not laid out again: the selection is drawn over it as CSS classes
(:mod:`densviz.ui.graph_canvas`).

The search box, the drawing and the panel run in one fragment, so a click
reruns only them (the page's controls and headline stay as they are). A
change that the page's controls must show (a block expanded, another view
opened) reruns the whole page.

A selection that arrives from outside the drawing (the link, the search box,
another view) is centred, and made visible if the drawing hides it: a focus
on another block moves to its block, an elided run of layers is drawn in full
(:func:`densviz.draw.graph_select.reveal`). Clicking an elided node does the
same for its block.
"""

from __future__ import annotations

import functools

import streamlit as st

from densviz.core.plan import ArchitecturePlan
from densviz.draw.graph import Detail
from densviz.draw.graph_model import NodeKind
from densviz.draw.graph_select import (
    SEARCH_FORMS,
    Highlight,
    NodeFacts,
    describe,
    expand,
    find,
    highlight,
    is_selectable,
    reveal,
)
from densviz.draw.options import GraphOptions
from densviz.draw.render import DOT_MISSING, Drawing
from densviz.ui import cached, session
from densviz.ui.graph_canvas import INPUT_COLOR, OUTPUT_COLOR, SELECTED_COLOR, canvas, clicked
from densviz.ui.session import GRAPH_KEYS, Key, Network
from densviz.ui.text import plain

__all__ = ["CANVAS_KEY", "FEATURES_VIEW", "NODE_QUERY", "SEARCH_KEY", "explorer", "prepare", "select"]

CANVAS_KEY = "graph_canvas"
"""The drawing component's key (its ``clicked`` trigger)."""
SEARCH_KEY = "graph_search"
"""The search box's key."""
NODE_QUERY = Key.NODE.value
"""The link's key for the selection: ``node=features.denseblock2.denselayer7``."""
FEATURES_VIEW = "Forward pass"
"""The view whose feature-map explorer the panel's button opens."""
HEIGHT = 760
"""The drawing's height in pixels."""
_GRAPHVIZ_CHART_EDGE_LIMIT = 600  # the browser's own layout froze the tab beyond ~1,200 edges

# The view's own session keys (besides Key.NODE and the controls in GRAPH_KEYS).
_SEEN = "_graph_seen"  # str | None: the selection last revealed and centred
_CENTRE = "_graph_centre"  # int: the drawing centres on the selection when this changes
_NOTE = "_graph_note"  # str: what revealing a selection changed in the drawing, said once
_SEARCH_ERROR = "_graph_search_error"  # str: why the search found nothing
_SEARCH_NOTE = "_graph_search_note"  # str: which of several matches the search took
_APP_RERUN = "_graph_app_rerun"  # bool: a callback changed what only a whole-page rerun shows


def _put_options(options: GraphOptions) -> None:
    """Write drawing options into the controls' keys (from a callback, or before the controls are drawn)."""
    st.session_state[GRAPH_KEYS["detail"]] = options.detail
    st.session_state[GRAPH_KEYS["block"]] = options.block
    st.session_state[GRAPH_KEYS["max_full_layers"]] = options.max_full_layers


def select(plan: ArchitecturePlan, name: str | None, *, centre: bool) -> bool:
    """Make ``name`` the selection; with ``centre``, reveal it in the drawing and centre it.

    Call from a callback or before the Graph view's controls are drawn: it may
    change their values.

    Returns:
        Whether the drawing's options changed (the controls must be redrawn).
    """
    session.put(Key.NODE, name)
    st.session_state[_SEEN] = name
    if name is None or not centre:
        return False
    st.session_state[_CENTRE] = int(st.session_state.get(_CENTRE, 0)) + 1
    options = session.graph_options()
    revealed, note = reveal(plan, options, name)
    if note:
        st.session_state[_NOTE] = note
    if revealed != options:
        _put_options(revealed)
        return True
    return False


def prepare(net: Network) -> None:
    """Before the Graph view's controls: take up a selection set elsewhere (the link, another view).

    A name this network does not have (the design changed since) is dropped.
    A new one is revealed and centred.
    """
    node = session.get(Key.NODE)
    if node is not None and not (isinstance(node, str) and is_selectable(net.plan, node)):
        session.put(Key.NODE, None)
        node = None
    if node != st.session_state.get(_SEEN):
        select(net.plan, node, centre=True)


def _on_click(net: Network) -> None:
    """The drawing was clicked: select the node, expand an elided one, or clear on the background."""
    got = clicked(CANVAS_KEY)
    if got is None:
        return
    if got == "":
        select(net.plan, None, centre=False)
        return
    options = session.graph_options()
    graph = cached.drawing_for(net.config, net.input, options).graph
    node = next((n for n in graph.nodes if n.id == got), None)
    if node is not None and node.kind is NodeKind.ELIDED and node.block is not None:
        expanded, note = expand(net.plan, options, node.block)
        _put_options(expanded)
        st.session_state[_NOTE] = note
        select(net.plan, None, centre=False)
        st.session_state[_APP_RERUN] = True
    elif is_selectable(net.plan, got):
        select(net.plan, got, centre=False)  # it is under the pointer: no need to move the view


def _on_search(net: Network) -> None:
    """The search box changed: select what it names (revealed and centred), or say why nothing matched."""
    st.session_state.pop(_SEARCH_ERROR, None)
    st.session_state.pop(_SEARCH_NOTE, None)
    found = find(net.plan, str(st.session_state.get(SEARCH_KEY) or ""))
    if found.name is None:
        if found.message:
            st.session_state[_SEARCH_ERROR] = found.message
        return
    if found.message:
        st.session_state[_SEARCH_NOTE] = found.message
    if select(net.plan, found.name, centre=True):
        st.session_state[_APP_RERUN] = True


def _open_features(module: str) -> None:
    """The panel's button: the Forward pass view's feature-map explorer on ``module``."""
    st.session_state[Key.FEATURE_LAYER.value] = module
    st.session_state[Key.VIEW.value] = FEATURES_VIEW
    st.session_state[_APP_RERUN] = True


def _search(net: Network) -> None:
    st.text_input(
        "Find a layer",
        key=SEARCH_KEY,
        placeholder="denselayer7, block 3 layer 12, transition2, a full path…",
        help=f"Selects and centres a layer. Search by {SEARCH_FORMS}.",
        on_change=functools.partial(_on_search, net),
        width=460,  # a name fits; the drawing keeps the page's width
    )
    if error := st.session_state.get(_SEARCH_ERROR):
        st.warning(plain(error), icon=":material/search_off:")
    elif note := st.session_state.get(_SEARCH_NOTE):
        st.caption(plain(note))


def _fact_lines(facts: NodeFacts) -> str:
    return "  \n".join(f"**{f.label}**: {plain(f.value)}" for f in facts.facts)


def _reads(facts: NodeFacts) -> str:
    names = ", ".join(f"{n.rsplit('.', 1)[-1]} ({c})" for n, c in facts.reads)
    verb = "Concatenates" if len(facts.reads) > 1 else "Reads"
    return f"{verb} {len(facts.reads)} earlier output{'s' if len(facts.reads) != 1 else ''}: {names}"


def _panel(net: Network, node: str | None, marks: Highlight, options: GraphOptions) -> None:
    """The selection's row of the plan, or how to make one."""
    with st.container(key="graph_panel", border=True):
        facts = describe(net.plan, node) if node else None
        if facts is None:
            st.markdown("**Click a node** to see its numbers here: channels, H×W, parameters, MACs, output.")
            st.caption(
                "Or find a layer with the search box. Hover a node for its shape and parameters; "
                "click an elided node (… n layers …) to draw its block in full; click the background to clear."
            )
            return
        st.markdown(f"**{plain(facts.title)}**")
        st.caption(f"{plain(facts.name)} · {plain(facts.role)}")
        st.markdown(_fact_lines(facts))
        if facts.reads:
            st.caption(plain(_reads(facts)))
        if marks.selected is None:
            scope = f"block {options.block}" if options.block is not None else "this detail level"
            st.caption(f":material/visibility_off: Not in the drawing of {scope}.")
        elif not marks.exact:
            st.caption(f":material/info: Drawn inside {plain(marks.selected.rsplit('.', 1)[-1])} at this detail level.")
        else:
            st.markdown(
                f"<span style='color:{SELECTED_COLOR}'>■</span> selected · "
                f"<span style='color:{INPUT_COLOR}'>■</span> what it reads · "
                f"<span style='color:{OUTPUT_COLOR}'>■</span> what reads it",
                unsafe_allow_html=True,  # our own fixed colours and words
            )
        if facts.feature_module is not None:
            st.button(
                "Feature maps of this layer",
                key="graph_features",
                icon=":material/grid_view:",
                on_click=_open_features,
                args=(facts.feature_module,),
                help="opens the Forward pass view's feature-map explorer on this module",
                width="stretch",
            )


def _sync_link(node: str | None) -> None:
    """The link follows the selection (a fragment's rerun does not reach the page's own link update)."""
    if st.query_params.get(NODE_QUERY) != node:
        if node:
            st.query_params[NODE_QUERY] = node
        elif NODE_QUERY in st.query_params:
            del st.query_params[NODE_QUERY]


def _drawing_area(net: Network, drawing: Drawing, options: GraphOptions, marks: Highlight) -> None:
    if drawing.image is not None:
        canvas(
            drawing.image.decode(),
            marks,
            int(st.session_state.get(_CENTRE, 0)),
            key=CANVAS_KEY,
            height=HEIGHT if drawing.graph.detail is not Detail.OVERVIEW or options.direction == "LR" else 900,
            on_click=functools.partial(_on_click, net),
        )
    elif DOT_MISSING in drawing.notes and len(drawing.graph.edges) <= _GRAPHVIZ_CHART_EDGE_LIMIT:
        st.graphviz_chart(drawing.dot, width="stretch")  # laid out in the browser instead; not clickable
    else:
        st.info("The drawing could not be made; the search box and the panel still work.", icon=":material/info:")


@st.fragment
def explorer(net: Network) -> None:
    """The search box, the drawing with the selection marked, and the panel (beside it; under it on a phone)."""
    if st.session_state.pop(_APP_RERUN, False):
        st.rerun(scope="app")  # the controls, the link and the view selector must show what a callback changed
    options = session.graph_options()
    drawing = cached.drawing_for(net.config, net.input, options)
    node = session.get(Key.NODE)
    marks = highlight(net.plan, drawing.graph, node)
    _search(net)
    if note := st.session_state.pop(_NOTE, None):
        back = ' Focus "all blocks" draws the whole network again.' if options.block is not None else ""
        st.caption(f":material/unfold_more: {plain(note)}{back}")
    left, right = st.columns([3, 1.15], gap="small")
    with left:
        _drawing_area(net, drawing, options, marks)
    with right:
        _panel(net, node, marks, options)
    _sync_link(node)
