"""Execute notebooks top to bottom with nbclient, each in a fresh kernel, and report their outputs.

Run as a script by the Python whose environment the kernels should have (the test venv, or the
fresh virtualenv a Binder build made), so this file imports only nbclient and nbformat:

    python tests/e2e/nbrun.py --cwd DIR --report out.json a.ipynb b.ipynb

The kernels inherit this process's environment: the caller sets ``SCOUT_API_URL`` and
``SCOUT_API_TOKEN`` to a live Jupyter server, exactly what that server exports to the kernels it
starts. The report is ``{"notebooks": {name: {"error": str|None, "cells": [{"source",
"outputs"}]}}}``; executed copies are written beside it as ``<name>.executed.ipynb``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def execute(path: Path, cwd: Path, timeout: int) -> tuple[nbformat.NotebookNode, str | None]:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    try:
        client.execute()
    except CellExecutionError as exc:
        return notebook, str(exc)[-4000:]
    except Exception as exc:  # noqa: BLE001 - a dead kernel or timeout is reported, not raised
        return notebook, f"{type(exc).__name__}: {exc}"[-4000:]
    return notebook, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--cwd", type=Path, required=True, help="the kernels' working folder")
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--timeout", type=int, default=180, help="seconds per cell")
    args = parser.parse_args(argv)
    report = {}
    for path in args.notebooks:
        notebook, error = execute(path, args.cwd, args.timeout)
        nbformat.write(notebook, args.report.parent / f"{path.stem}.executed.ipynb")
        cells = [
            {"source": cell["source"], "outputs": cell.get("outputs", [])}
            for cell in notebook["cells"]
            if cell["cell_type"] == "code"
        ]
        report[path.name] = {"error": error, "cells": cells}
    args.report.write_text(json.dumps({"notebooks": report}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
