"""The import rules of the design card, read from the source with ast.

Layers, lowest first; a module may import its own layer and the ones below,
never one above, and no import (at the top or inside a function) may close a
circle. These tests fail, never skip: a renamed module is a failure to look at.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "densviz"
HEAVY = {"torch", "torchinfo", "plotly", "matplotlib", "graphviz", "streamlit", "kaleido", "safetensors", "sklearn"}

# Module-name prefix -> layer. The longest matching prefix decides.
LAYERS: dict[str, int] = {
    "densviz": 0,  # the package's front door re-exports the core
    "densviz.core": 0,  # settings, configs, plan, memory: arithmetic only
    "densviz.draw.graph": 1,  # the graph as plain data
    "densviz.draw.graph_build": 1,
    "densviz.draw.graph_model": 1,
    "densviz.draw.graph_search": 1,
    "densviz.draw.graph_select": 1,
    "densviz.draw.options": 1,
    "densviz.draw.palette": 1,
    "densviz.nn": 2,  # the real model
    "densviz.run": 3,  # devices, inputs, timing, weights
    "densviz.reuse": 3,  # training on the digits, Figure 5's arithmetic
    "densviz.draw": 4,  # render (dot) and charts (plotly)
    "densviz.export": 5,  # files
    "densviz.jobs": 5,  # heavy work on worker processes (local pool or Ray)
    "densviz.jobs.lifeline": 0,  # the standard library only: every kind of worker ends with its server
    "densviz.cli": 6,
    "densviz.ui": 6,
    "densviz.__main__": 6,
}
# Modules that must import none of the heavy libraries: everything a slider move runs.
NO_HEAVY_PREFIXES = ("densviz.core", "densviz.draw.graph", "densviz.draw.options", "densviz.draw.palette")
# Modules that must not import torch (drawing never needs the model).
NO_TORCH_PREFIXES = (*NO_HEAVY_PREFIXES, "densviz.draw")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(path: Path) -> set[str]:
    """Every absolute module an import names, at the top or inside functions."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: relative import; write it absolute"
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def internal_edges(name: str) -> set[str]:
    """The densviz modules ``name`` imports (a name that is a module, not an attribute)."""
    return {n for n in imports_of(MODULES[name]) if n in MODULES and n != name}


def layer_of(name: str) -> int:
    best = max((p for p in LAYERS if name == p or name.startswith(p + ".")), key=len)
    return LAYERS[best]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_layer_table_covers_every_module() -> None:
    assert "densviz.core.settings" in MODULES and "densviz.core.plan" in MODULES
    unplaced = [name for name in MODULES if not any(name == p or name.startswith(p + ".") for p in LAYERS)]
    assert unplaced == []


def test_no_import_circle() -> None:
    graph = {name: internal_edges(name) for name in MODULES}
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_a_higher_layer() -> None:
    upward = [
        f"{name} (layer {layer_of(name)}) imports {other} (layer {layer_of(other)})"
        for name in MODULES
        for other in internal_edges(name)
        if layer_of(other) > layer_of(name) and not other.startswith(name + ".")  # a package's own submodules
    ]
    assert upward == []


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith(NO_HEAVY_PREFIXES)))
def test_core_modules_import_no_heavy_library(name: str) -> None:
    roots = {n.split(".")[0] for n in imports_of(MODULES[name])}
    assert roots & HEAVY == set()


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith(NO_TORCH_PREFIXES)))
def test_drawing_modules_do_not_import_torch(name: str) -> None:
    roots = {n.split(".")[0] for n in imports_of(MODULES[name])}
    assert "torch" not in roots


def test_only_the_page_imports_streamlit() -> None:
    offenders = [n for n, p in MODULES.items() if "streamlit" in {i.split(".")[0] for i in imports_of(p)}]
    assert offenders and all(n.startswith("densviz.ui") for n in offenders), offenders


def test_the_rules_catch_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\nfrom densviz.ui.page import main\n")
    assert "torch" in {n.split(".")[0] for n in imports_of(bad)}
    assert layer_of("densviz.ui.page") > layer_of("densviz.core.plan")


def test_importing_the_package_does_not_import_torch() -> None:
    code = "import sys, densviz; densviz.make_plan(densviz.DenseNetConfig()); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
