"""The shipped notebooks are saved clean: valid nbformat, no outputs, no execution counts, the
python3 kernel, and short text between the code cells."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_the_three_notebooks_are_there():
    assert [p.name for p in NOTEBOOKS] == ["access_analytics.ipynb", "publishing.ipynb", "quickstart.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_saved_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")
    # text between the code: a markdown cell at least every three code cells
    run = 0
    for cell in notebook.cells:
        run = run + 1 if cell.cell_type == "code" else 0
        assert run <= 3, f"{path.name}: more than three code cells in a row before {cell.source[:40]!r}"
