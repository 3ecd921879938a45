"""Selecting a node of the graph: the panel's numbers, the search box, the highlight, the ``node=`` link.

Expected numbers are worked by hand from DenseNet-121's definition (k = 32,
bn_size = 4, blocks 6, 12, 24, 16, 64 stem channels, θ = 0.5, 224×224 input):
block 2 reads 128 channels at 28×28; its layer 7 reads 128 + 6·32 = 320 and
has BN 2·320 + conv1 320·128 + BN 2·128 + conv2 128·32·9
= 640 + 40,960 + 256 + 36,864 = 78,720 parameters and
28·28·(128·320 + 32·128·9) = 32,112,640 + 28,901,376 = 61,014,016 MACs.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import densviz.draw.render as render_module
from densviz.core.config import PRESETS
from densviz.draw.graph import Detail, build_graph
from densviz.draw.graph_model import edge_id
from densviz.draw.graph_select import (
    SEARCH_FORMS,
    describe,
    find,
    highlight,
    is_selectable,
    reveal,
    shown_as,
)
from densviz.draw.options import GraphOptions
from densviz.draw.render import dot_available, render, to_dot
from densviz.ui.state import node_from_query, query_for
from tests.helpers import plan_of, start_app

D121 = "features.denseblock2.denselayer7"


def facts_of(name: str, preset: str = "densenet121") -> dict[str, str]:
    facts = describe(plan_of(preset), name)
    assert facts is not None
    return {f.label: f.value for f in facts.facts}


# --- the panel's numbers -------------------------------------------------------


def test_a_dense_layer_s_row() -> None:
    facts = describe(plan_of("densenet121"), D121)
    assert facts is not None
    assert facts.title == "denselayer7" and facts.name == D121
    assert "dense layer 7 of block 2" in facts.role
    values = {f.label: f.value for f in facts.facts}
    assert values["Channels in"] == "320 = 128 (block input: transition1) + 6 × 32 (denselayer1–6)"
    assert values["Channels out"].startswith("32 ")
    assert values["H×W in → out"] == "28×28 → 28×28"
    assert values["Parameters"] == "78,720"
    assert values["MACs per image"].startswith("61,014,016 ")
    assert values["Output"].startswith("98.0 KiB (100,352 B)")  # 32·28·28·4 bytes, batch 1
    # It concatenates the block input and each earlier layer of its block, k = 32 each.
    assert facts.reads == (
        ("features.transition1", 128),
        *((f"features.denseblock2.denselayer{i}", 32) for i in range(1, 7)),
    )
    assert facts.feature_module == D121


def test_a_transition_s_row() -> None:
    values = facts_of("features.transition3")
    # Block 3 hands on 256 + 24·32 = 1024 channels; ⌊0.5·1024⌋ = 512 leave at half the size.
    assert values["Channels in"] == "1024 = 256 (block input: transition2) + 24 × 32 (denselayer1–24)"
    assert values["Channels out"] == "512"
    assert values["H×W in → out"] == "14×14 → 7×7"
    assert values["Parameters"] == f"{2 * 1024 + 1024 * 512:,}"  # BN + 1×1 conv = 526,336
    assert values["MACs per image"].startswith(f"{14 * 14 * 512 * 1024:,} ")  # the conv runs before the pool


def test_the_first_layer_of_a_block_reads_only_the_block_input() -> None:
    values = facts_of("features.denseblock1.denselayer1")
    assert values["Channels in"] == "64 = 64 (block input: pool0)"
    assert values["H×W in → out"] == "56×56 → 56×56"


def test_a_block_the_stem_the_input_and_a_concatenation() -> None:
    block = facts_of("features.denseblock3")
    assert block["Channels in"].startswith("256 ")
    assert block["Channels out"].startswith("1024 = 256 + 24 × 32")
    assert block["H×W"] == "14×14"
    stem = facts_of("stem")
    assert stem["Channels in"] == "3" and stem["Channels out"] == "64"
    assert stem["H×W in → out"] == "224×224 → 56×56"
    assert stem["Parameters"] == f"{64 * 3 * 7 * 7 + 2 * 64:,}"  # conv0 and norm0
    assert facts_of("input")["Output"].startswith(f"{3 * 224 * 224 * 4 / 1024:.0f} KiB")
    concat = facts_of("features.denseblock1.concat2")
    assert concat["Channels"].startswith("128 = 96 + 32")  # 64 + 2·32 after layer 2
    assert describe(plan_of("densenet121"), "features.denseblock9") is None


def test_the_feature_maps_link_only_where_the_explorer_has_the_module() -> None:
    plan = plan_of("densenet121")
    assert describe(plan, "features.norm0").feature_module is None  # type: ignore[union-attr]
    assert describe(plan, "classifier").feature_module is None  # type: ignore[union-attr]
    assert describe(plan, "features.transition1").feature_module == "features.transition1"  # type: ignore[union-attr]
    assert describe(plan, "features.denseblock4").feature_module == "features.denseblock4"  # type: ignore[union-attr]


# --- search ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("denselayer7", D121),  # block 1 has only 6 layers: block 2 is the first with a layer 7
        ("layer 7", D121),
        ("transition2", "features.transition2"),
        ("Transition 2", "features.transition2"),
        ("block 3 layer 12", "features.denseblock3.denselayer12"),
        ("Block 3, Layer 12", "features.denseblock3.denselayer12"),
        ("b3l12", "features.denseblock3.denselayer12"),
        ("denseblock3/denselayer12", "features.denseblock3.denselayer12"),
        ("denseblock3.denselayer12", "features.denseblock3.denselayer12"),
        ("features.denseblock3.denselayer12", "features.denseblock3.denselayer12"),
        ("  FEATURES.DENSEBLOCK3.DENSELAYER12 ", "features.denseblock3.denselayer12"),
        ("block 3", "features.denseblock3"),
        ("denseblock4", "features.denseblock4"),
        ("conv0", "features.conv0"),
        ("pool0", "features.pool0"),
        ("norm5", "features.norm5"),
        ("classifier", "classifier"),
        ("input", "input"),
        ("stem", "stem"),
    ],
)
def test_search_finds(text: str, name: str) -> None:
    found = find(plan_of("densenet121"), text)
    assert found.name == name, found.message


def test_a_short_name_in_several_blocks_says_which_it_took() -> None:
    found = find(plan_of("densenet121"), "denselayer7")
    assert found.message is not None and "blocks 3, 4" in found.message and "block 3 layer 7" in found.message


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("blorp", "Nothing in this network matches 'blorp'."),
        ("block 5 layer 1", "This network has 4 dense blocks; there is no block 5."),
        ("block 1 layer 7", "Dense block 1 has 6 layers; there is no layer 7."),
        ("denselayer25", "No dense block has a layer 25 (the longest has 24)."),
        ("transition4", "This network has transitions 1 to 3; there is no transition 4."),
        ("block 0", "This network has 4 dense blocks; there is no block 0."),
        ("norm", "Nothing in this network matches 'norm'."),  # norm0 or norm5: not one
    ],
)
def test_search_that_finds_nothing_says_why_and_the_forms(text: str, why: str) -> None:
    found = find(plan_of("densenet121"), text)
    assert found.name is None
    assert found.message is not None and found.message.startswith(why)
    for form in ("denselayer7", "block 3 layer 12", "transition2", "features.denseblock2.denselayer7"):
        assert form in found.message
    assert found.message.endswith(f"Search by {SEARCH_FORMS}.")


def test_an_empty_search_is_no_search() -> None:
    assert find(plan_of("densenet121"), "   ") == find(plan_of("densenet121"), "")
    assert find(plan_of("densenet121"), "").name is None and find(plan_of("densenet121"), "").message is None


# --- the highlight ----------------------------------------------------------------


def layer(block: int, i: int) -> str:
    return f"features.denseblock{block}.denselayer{i}"


def test_a_dense_layer_marks_every_earlier_layer_of_its_block_and_the_block_input() -> None:
    plan = plan_of("densenet121")
    graph = build_graph(plan, Detail.DENSE)  # block 2 (12 layers) is drawn with every edge
    marks = highlight(plan, graph, D121)
    assert marks.selected == D121 and marks.exact
    assert set(marks.inputs) == {"features.transition1", *(layer(2, i) for i in range(1, 7))}
    assert set(marks.outputs) == {*(layer(2, i) for i in range(8, 13)), "features.transition2"}
    assert set(marks.edges_in) == {edge_id(s, D121) for s in marks.inputs}
    assert set(marks.edges_out) == {edge_id(D121, d) for d in marks.outputs}


def test_an_elided_run_stands_in_for_the_layers_it_hides() -> None:
    plan = plan_of("densenet121")
    graph = build_graph(plan, Detail.DENSE)  # block 3 (24 layers): 1–3 and 22–24 drawn, 4–21 one node
    elided = "features.denseblock3.denselayer4-21"
    marks = highlight(plan, graph, layer(3, 22))
    assert set(marks.inputs) == {"features.transition2", layer(3, 1), layer(3, 2), layer(3, 3), elided}
    assert set(marks.outputs) == {layer(3, 23), layer(3, 24), "features.transition3"}
    hidden = highlight(plan, graph, layer(3, 12))
    assert hidden.selected == elided and not hidden.exact


def test_at_the_overview_a_layer_is_shown_by_its_block() -> None:
    plan = plan_of("densenet121")
    graph = build_graph(plan, Detail.OVERVIEW)
    marks = highlight(plan, graph, D121)
    assert marks.selected == "features.denseblock2" and not marks.exact
    assert marks.inputs == ("features.transition1",) and marks.outputs == ("features.transition2",)


def test_a_block_marks_its_border() -> None:
    plan = plan_of("densenet121")
    graph = build_graph(plan, Detail.DENSE)
    marks = highlight(plan, graph, "features.denseblock2")
    assert marks.selected == "features.denseblock2" and marks.exact
    assert marks.inputs == ("features.transition1",) and marks.outputs == ("features.transition2",)
    assert set(marks.members) == {layer(2, i) for i in range(1, 13)}
    assert len(marks.edges_in) == 12 and len(marks.edges_out) == 12  # transition1 → each layer; each → transition2


def test_nothing_selected_marks_nothing_and_a_focused_drawing_may_leave_it_out() -> None:
    plan = plan_of("densenet121")
    assert highlight(plan, build_graph(plan, Detail.DENSE), None).selected is None
    only_block_1 = build_graph(plan, Detail.DENSE, block=1)
    assert shown_as(only_block_1, "features.transition3") is None


@pytest.mark.skipif(not dot_available(), reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("detail", list(Detail))
def test_the_svg_names_every_node_and_edge_by_its_id(detail: Detail) -> None:
    plan = plan_of("densenet121")
    graph = build_graph(plan, detail)
    svg = render(to_dot(graph)).decode()
    ids = [(html.unescape(i), k) for i, k in re.findall(r'<g id="([^"]+)" class="node ([a-z]+)">', svg)]
    assert {i for i, _ in ids} == {n.id for n in graph.nodes}
    assert all(kind == next(n.kind.value for n in graph.nodes if n.id == i) for i, kind in ids)
    edge_ids = [html.unescape(i) for i in re.findall(r'<g id="([^"]+)" class="edge">', svg)]
    wanted = [edge_id(e.src, e.dst) for e in graph.edges]
    assert sorted(edge_ids) == sorted(wanted) and len(set(wanted)) == len(wanted)


# --- revealing a hidden selection ------------------------------------------------------


def test_a_layer_in_an_elided_run_draws_its_block_in_full() -> None:
    plan = plan_of("densenet121")
    options = GraphOptions()
    revealed, note = reveal(plan, options, layer(3, 12))
    assert (revealed.detail, revealed.block, revealed.max_full_layers) == (Detail.DENSE, 3, 24)
    assert note is not None and "all 24 layers" in note
    graph = build_graph(plan, revealed.detail, block=revealed.block, max_full_layers=revealed.max_full_layers)
    assert shown_as(graph, layer(3, 12)) == layer(3, 12)


def test_a_layer_of_a_block_too_long_for_every_edge_is_shown_in_the_chain() -> None:
    plan = plan_of("densenet264")  # blocks 6, 12, 64, 48
    revealed, note = reveal(plan, GraphOptions(), layer(3, 30))
    assert (revealed.detail, revealed.block) == (Detail.CHAIN, 3)
    assert note is not None and "64 layers" in note and "2,080 edges" in note  # 64·65/2


def test_a_focus_on_another_block_moves_to_the_selection() -> None:
    plan = plan_of("densenet121")
    focused = GraphOptions(block=1)
    assert reveal(plan, focused, "features.transition3")[0].block == 3
    assert reveal(plan, focused, "classifier")[0].block is None
    assert reveal(plan, focused, "features.norm5")[0].block == 4  # it closes the last block


def test_what_is_drawn_is_left_as_it_is() -> None:
    plan = plan_of("densenet121")
    for options, name in [
        (GraphOptions(), D121),
        (GraphOptions(detail=Detail.OVERVIEW), D121),  # inside its block's node, as the overview draws it
        (GraphOptions(detail=Detail.CHAIN), "features.denseblock1.concat2"),
        (GraphOptions(), "features.denseblock1.concat2"),  # a chain's node: not drawn at dense detail
    ]:
        assert reveal(plan, options, name) == (options, None)


def test_selectable_names() -> None:
    plan = plan_of("densenet121")
    for name in (D121, "features.denseblock4", "input", "stem", "classifier", "features.denseblock2.concat12"):
        assert is_selectable(plan, name), name
    for name in ("features.denseblock2.concat13", "features.denseblock5", "", "features", "denselayer7"):
        assert not is_selectable(plan, name), name


# --- the link ---------------------------------------------------------------------------


def test_node_from_a_link() -> None:
    p = PRESETS["densenet121"]
    warnings: list[str] = []
    assert node_from_query(D121, p.config, p.input, warnings) == D121
    assert node_from_query("block 2 layer 7", p.config, p.input, warnings) == D121  # one module, said exactly
    assert warnings == []
    assert node_from_query("denselayer7", p.config, p.input, warnings) is None  # one of three: not a link's choice
    assert node_from_query("features.denseblock9.denselayer1", p.config, p.input, warnings) is None
    assert len(warnings) == 2
    assert warnings[1].startswith("node must be a module of this network, such as features.denseblock4.denselayer1")
    assert "got 'features.denseblock9.denselayer1'" in warnings[1] and warnings[1].endswith("Nothing is selected.")


def test_the_link_carries_the_selection() -> None:
    p = PRESETS["densenet121"]
    assert query_for(p.config, p.input, "densenet121", "Graph", node=D121)["node"] == D121
    assert "node" not in query_for(p.config, p.input, "densenet121", "Graph")


# --- the page -----------------------------------------------------------------------------


def panel_text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n" + "\n".join(c.value for c in at.caption)


def test_a_link_with_node_opens_with_its_panel() -> None:
    at = start_app({"preset": "densenet121", "view": "Graph", "node": D121})
    assert not at.warning, [w.value for w in at.warning]
    assert at.session_state["node"] == D121
    text = panel_text(at)
    assert "**Channels in**: 320 = 128 (block input: transition1) + 6 × 32 (denselayer1–6)" in text
    assert "**Parameters**: 78,720" in text
    assert "Concatenates 7 earlier outputs: transition1 (128), denselayer1 (32)" in text
    assert any(b.label == "Feature maps of this layer" for b in at.button)


def test_the_selection_stays_in_the_link() -> None:
    at = start_app({"preset": "densenet121", "view": "Graph", "node": D121})
    assert at.query_params["node"] == D121


def test_a_bad_node_in_a_link_warns_and_selects_nothing() -> None:
    at = start_app({"preset": "densenet121", "view": "Graph", "node": "features.denseblock2.denselayer99"})
    warnings = " ".join(w.value for w in at.warning)
    assert "node must be a module of this network" in warnings and "Nothing is selected." in warnings
    assert at.session_state["node"] is None
    assert "Click a node" in panel_text(at)


def test_a_link_to_a_hidden_layer_draws_its_block_in_full() -> None:
    at = start_app({"preset": "densenet121", "view": "Graph", "node": "features.denseblock3.denselayer12"})
    assert at.session_state["graph_block"] == 3 and at.session_state["graph_max_full"] == 24
    dot = next(c.value for c in at.code if "digraph" in c.value)
    assert all(f'id="{layer(3, i)}"' in dot for i in range(1, 25)) and "denselayer4-21" not in dot
    assert "Dense block 3 drawn alone with all 24 layers" in panel_text(at)


def test_search_selects_or_says_why_not() -> None:
    at = start_app({"preset": "densenet121", "view": "Graph"})
    at.text_input(key="graph_search").input("transition3").run()
    assert at.session_state["node"] == "features.transition3"
    assert "**Channels in**: 1024 = 256 (block input: transition2) + 24 × 32" in panel_text(at)
    at.text_input(key="graph_search").input("block 7 layer 1").run()
    assert at.session_state["node"] == "features.transition3"  # unchanged
    warning = " ".join(w.value for w in at.warning)
    assert "This network has 4 dense blocks; there is no block 7." in warning and "block 3 layer 12" in warning


def test_the_panel_opens_the_feature_maps_of_its_module() -> None:
    at = start_app({"preset": "densenet121", "view": "Graph", "node": D121})
    at.button(key="graph_features").click().run()
    assert at.session_state["view"] == "Forward pass"
    assert at.session_state["forward_layer"] == D121


@pytest.fixture
def dot_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every layout ``dot`` makes while the test runs (the page's caches emptied first)."""
    runs: list[str] = []
    real = render_module.render

    def counting(dot_text: str, *args: object, **kwargs: object) -> bytes:
        runs.append(dot_text)
        return real(dot_text, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(render_module, "render", counting)
    st.cache_data.clear()
    yield runs
    st.cache_data.clear()


@pytest.mark.skipif(not dot_available(), reason="Graphviz's dot is not installed")
def test_selecting_a_node_lays_nothing_out_again(dot_runs: list[str]) -> None:
    at = start_app({"preset": "densenet264", "view": "Graph"})
    assert len(dot_runs) == 1  # the first drawing
    for name in ("features.transition1", "features.denseblock1.denselayer3", "features.denseblock2"):
        at.session_state["node"] = name  # as a click's callback leaves it
        at.session_state["_graph_seen"] = name
        at.run()
        assert not at.exception
        assert describe(plan_of("densenet264"), name).title in panel_text(at)  # type: ignore[union-attr]
    assert len(dot_runs) == 1


def test_a_changed_design_drops_a_selection_it_no_longer_has() -> None:
    at = start_app({"preset": "densenet121", "view": "Graph", "node": "features.denseblock4.denselayer16"})
    at.session_state["layers_4"] = 8
    at.session_state["preset"] = "custom"
    at.run()
    assert not at.exception
    assert at.session_state["node"] is None
    assert "Click a node" in panel_text(at)
