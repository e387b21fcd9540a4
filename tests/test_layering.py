"""DESIGN.md's layering: core modules never import tornado, ipywidgets or jupyter_server."""

from __future__ import annotations

import ast
from pathlib import Path

import scout_jupyter

PACKAGE = Path(scout_jupyter.__file__).parent
EDGE = {"server", "magics.py", "magic_cmds", "widgets", "labextension"}
FORBIDDEN = ("tornado", "ipywidgets", "jupyter_server", "anywidget")


def core_modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        top = path.relative_to(PACKAGE).parts[0]
        if top not in EDGE:
            yield path


def imported_modules(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_core_modules_do_not_import_ui_or_server_frameworks():
    offenders = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in core_modules()
        for name in imported_modules(path)
        if name.split(".")[0] in FORBIDDEN
    ]
    assert offenders == []


def test_there_are_core_modules_to_check():
    names = {p.relative_to(PACKAGE).as_posix() for p in core_modules()}
    assert {"manifest.py", "schema.py", "storage/base.py", "cache.py"} <= names
