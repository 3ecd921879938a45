"""DOT text and the pictures ``dot`` makes from it."""

import json
import xml.etree.ElementTree as ET

import pytest

import densviz.draw.render as render_module
from densviz.draw.graph import Detail, build_graph
from densviz.draw.options import GraphOptions
from densviz.draw.render import DotMissingError, GraphFormat, RenderTimeoutError, draw, render, to_dot
from tests.golden import check_golden
from tests.helpers import plan_of

needs_dot = pytest.mark.skipif(not render_module.dot_available(), reason="Graphviz's dot is not installed")


@pytest.mark.parametrize("name", ["tiny", "densenet_bc100_k12"])
@pytest.mark.parametrize("detail", list(Detail))
def test_golden_dot(request: pytest.FixtureRequest, name: str, detail: Detail) -> None:
    text = to_dot(build_graph(plan_of(name), detail), show_cost=True)
    assert text == to_dot(build_graph(plan_of(name), detail), show_cost=True)  # deterministic
    check_golden(request, f"{name}_{detail.value}.dot", text)


@pytest.mark.parametrize("name", ["tiny", "densenet_bc100_k12"])
def test_golden_plan_json(request: pytest.FixtureRequest, name: str) -> None:
    check_golden(request, f"{name}_plan.json", json.dumps(plan_of(name).to_dict(), indent=1) + "\n")


def test_dot_options() -> None:
    graph = build_graph(plan_of("tiny"), Detail.DENSE)
    lr = to_dot(graph, direction="LR")
    assert "rankdir=LR" in lr
    cost_line = "432 params · 442 kMACs</FONT>"  # conv0: 16·3·3·3 weights, at 32×32
    assert cost_line not in to_dot(graph) and cost_line in to_dot(graph, show_cost=True)
    with pytest.raises(ValueError, match="TB or LR"):
        to_dot(graph, direction="up")


@needs_dot
@pytest.mark.parametrize("name", ["tiny", "densenet121"])
def test_svg_is_xml_and_names_every_node(name: str) -> None:
    graph = build_graph(plan_of(name), Detail.DENSE)
    svg = render(to_dot(graph), GraphFormat.SVG)
    root = ET.fromstring(svg)
    titles = {el.text for el in root.iter("{http://www.w3.org/2000/svg}title")}
    assert {n.id for n in graph.nodes} <= titles


@needs_dot
def test_png_and_pdf_magic_bytes() -> None:
    dot = to_dot(build_graph(plan_of("tiny"), Detail.OVERVIEW))
    assert render(dot, "png").startswith(b"\x89PNG\r\n\x1a\n")
    assert render(dot, "pdf").startswith(b"%PDF-")


@needs_dot
def test_a_slow_layout_is_stopped() -> None:
    dot = to_dot(build_graph(plan_of("densenet121"), Detail.DENSE, max_full_layers=24))
    with pytest.raises(RenderTimeoutError, match=r"did not finish drawing in 0\.01 s"):
        render(dot, "svg", timeout=0.01)


def test_draw_falls_back_to_a_simpler_view(monkeypatch: pytest.MonkeyPatch) -> None:
    real = render_module.render
    calls = []

    def slow_dense(dot: str, fmt: str = "svg", *, timeout: float = 10) -> bytes:
        calls.append(dot)
        if '.concat1"' not in dot:  # the dense view has no concat nodes
            raise RenderTimeoutError("Graphviz did not finish drawing in 10 s and was stopped.")
        return real(dot, fmt, timeout=timeout) if render_module.dot_available() else b"<svg/>"

    monkeypatch.setattr(render_module, "render", slow_dense)
    drawing = draw(plan_of("tiny"), GraphOptions(detail=Detail.DENSE))
    assert drawing.graph.detail is Detail.CHAIN
    assert drawing.image is not None
    assert any("Drawing the chain view instead of the dense one" in note for note in drawing.notes)


def test_missing_dot_still_gives_dot_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render_module.shutil, "which", lambda _name: None)
    with pytest.raises(DotMissingError, match="apt-get install graphviz"):
        render("digraph { a -> b }")
    drawing = draw(plan_of("tiny"), GraphOptions(detail=Detail.DENSE))
    assert drawing.image is None
    assert drawing.dot.startswith("digraph densenet")
    assert any("apt-get install graphviz" in note for note in drawing.notes)
