"""The densviz.run package: its re-exports, and submodules that import each other directly."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import densviz.run as rt

RUN = Path(rt.__file__).parent


def test_every_public_name_is_reexported_from_its_module() -> None:
    for name in rt.__all__:
        obj = getattr(rt, name)
        module = getattr(obj, "__module__", None)
        if module is not None and module.startswith("densviz.run."):
            assert getattr(importlib.import_module(module), name) is obj


def test_the_names_importers_use_are_there() -> None:
    used = {"MAX_IMAGE_BYTES", "MAX_WEIGHTS_BYTES", "DeviceInfo", "Precision", "RunOptions", "RunResult"}
    assert used <= set(rt.__all__)


def test_submodules_never_import_the_package() -> None:
    for path in RUN.glob("*.py"):
        if path.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom):
                assert node.level == 0 and node.module != "densviz.run", f"{path.name} imports the package"
            elif isinstance(node, ast.Import):
                assert all(alias.name != "densviz.run" for alias in node.names), f"{path.name} imports the package"
