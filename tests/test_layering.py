"""The import rules of the design card, read from the source with ast."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "densviz"
HEAVY = {"torch", "torchinfo", "plotly", "graphviz", "streamlit"}
# Modules that must stay importable and fast without torch, plotly, graphviz or streamlit.
PURE = ["core/config", "core/plan", "core/memory", "draw/graph", "core/units"]


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("name", PURE)
def test_core_modules_import_no_heavy_library(name: str) -> None:
    path = PACKAGE / f"{name}.py"
    if not path.exists():
        pytest.skip(f"densviz/{name}.py does not exist yet")
    assert imported_roots(path) & HEAVY == set()


def test_only_ui_and_app_import_streamlit() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in PACKAGE.rglob("*.py")
        if "streamlit" in imported_roots(p) and "ui" not in p.relative_to(PACKAGE).parts
    ]
    assert offenders == []


def test_importing_the_package_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = "import sys, densviz; densviz.make_plan(densviz.DenseNetConfig()); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
