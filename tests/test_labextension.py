"""The JupyterLab sidebar as shipped: its model's unit tests (Vitest, run here so `make test` runs
them), and the package — sdist built once, wheel built from it and installed into a fresh
virtualenv, both on a PATH without node — showing the labextension and the server extension
enabled."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LABEXT = REPO / "labextension"
BUILT = REPO / "scout_jupyter" / "labextension"
BIN = Path(sys.executable).parent
ANSI = re.compile(r"\x1b\[[0-9;]*m")
NODE_HINT = "node not found: install Node.js 20 (apt-get install -y nodejs, or see ../shared/NOTES.md)"


def node_path() -> str:
    """PATH with this venv's scripts (jlpm) first; fails the test when node is missing."""
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    if shutil.which("node", path=path) is None:
        pytest.fail(NODE_HINT)
    return path


def run(command: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    output = ANSI.sub("", done.stdout + done.stderr)
    assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}:\n{output[-4000:]}"
    return output


def test_model_unit_tests_pass():
    """labextension/src/model.test.ts under Vitest (grouping, filtering, sorting, wording)."""
    env = {**os.environ, "PATH": node_path(), "CI": "1"}
    if not (LABEXT / "node_modules" / ".bin" / "vitest").exists():
        run([str(BIN / "jlpm"), "install"], cwd=LABEXT, env=env)
    output = run([str(BIN / "jlpm"), "vitest", "run", "--reporter=verbose"], cwd=LABEXT, env=env, timeout=300)
    passed = re.search(r"Tests\s+(\d+) passed", output)
    assert passed and int(passed.group(1)) >= 20, output[-3000:]
    assert "failed" not in output.split("Tests", 1)[-1], output[-3000:]


def test_missing_node_fails_with_the_install_hint(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(sys.modules[__name__], "BIN", Path("/nonexistent-bin"))
    with pytest.raises(pytest.fail.Exception, match="^node not found: install Node.js"):
        node_path()


NODE_TOOLS = {"node", "nodejs", "npm", "npx", "corepack", "yarn", "yarnpkg", "pnpm", "jlpm"}


def path_without_node(root: Path) -> str:
    """This PATH with node taken out: a folder holding node is replaced by a folder of links to
    everything else in it (so bash, git… stay reachable)."""
    dirs = []
    for i, folder in enumerate(d for d in os.environ.get("PATH", "").split(os.pathsep) if d):
        here = Path(folder)
        if not any((here / tool).exists() for tool in NODE_TOOLS):
            dirs.append(folder)
            continue
        mirror = root / f"path-{i}"
        mirror.mkdir(parents=True, exist_ok=True)
        for entry in here.iterdir():
            if entry.name not in NODE_TOOLS and not (mirror / entry.name).exists():
                (mirror / entry.name).symlink_to(entry)
        dirs.append(str(mirror))
    return os.pathsep.join(dirs)


def build_sdist_then_wheel(out: Path, no_node_env: dict[str, str]) -> Path:
    """The sdist of this checkout (the prebuilt labextension inside; node only if it is missing),
    then the wheel built from that sdist on a PATH without node."""
    env = {**os.environ, "PATH": node_path()}
    uv = shutil.which("uv")
    if uv:
        run([uv, "build", "--sdist", "--out-dir", str(out), str(REPO)], cwd=REPO, env=env)
        [sdist] = out.glob("scout_jupyter-*.tar.gz")
        run([uv, "build", "--wheel", "--out-dir", str(out), str(sdist)], cwd=out, env=no_node_env)
    else:  # pip alone: the wheel straight from the checkout (the sdist step needs uv or `build`)
        run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(out), str(REPO)], cwd=REPO, env=env)
    [wheel] = out.glob("scout_jupyter-*.whl")
    return wheel


def fresh_venv_with(wheel: Path, root: Path, env: dict[str, str]) -> Path:
    """A new virtualenv with the wheel and its dependencies (from the uv or pip cache)."""
    venv = root / "venv"
    uv = shutil.which("uv")
    if uv:
        run([uv, "venv", "--python", sys.executable, str(venv)], cwd=root, env=env)
        run([uv, "pip", "install", "--python", str(venv / "bin" / "python"), str(wheel)], cwd=root, env=env)
    else:
        run([sys.executable, "-m", "venv", str(venv)], cwd=root, env=env)
        run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], cwd=root, env=env)
    return venv


@pytest.mark.slow
def test_wheel_installs_without_node_and_both_extensions_are_enabled(tmp_path):
    # a user's machine: no node on PATH, no Jupyter settings of this one
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "SCOUT_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(
        PATH=path_without_node(tmp_path / "no-node"),
        HOME=str(home),
        JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
        JUPYTER_DATA_DIR=str(home / ".local/share/jupyter"),
        UV_CACHE_DIR=os.environ.get("UV_CACHE_DIR", str(Path.home() / ".cache" / "uv")),
        PIP_CACHE_DIR=os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip")),
    )
    assert shutil.which("node", path=env["PATH"]) is None

    wheel = build_sdist_then_wheel(tmp_path / "dist", env)
    names = set(zipfile.ZipFile(wheel).namelist())
    data = f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.data/data"
    for shipped in (
        "share/jupyter/labextensions/scout-jupyter/package.json",
        "share/jupyter/labextensions/scout-jupyter/install.json",
        "share/jupyter/labextensions/scout-jupyter/static/style.js",
        "share/jupyter/labextensions/scout-jupyter/schemas/scout-jupyter/plugin.json",
        "etc/jupyter/jupyter_server_config.d/scout_jupyter.json",
    ):
        assert f"{data}/{shipped}" in names, f"{shipped} missing from {wheel.name}"
    assert not any("node_modules" in n for n in names)

    venv = fresh_venv_with(wheel, tmp_path, env)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"

    labext = run([str(venv / "bin" / "jupyter"), "labextension", "list"], cwd=tmp_path, env=env)
    line = next((ln for ln in labext.splitlines() if "scout-jupyter" in ln), "")
    assert re.search(r"scout-jupyter v\d+\.\d+\.\d+\s+enabled\s+OK\s+\(python, scout-jupyter\)", line), labext
    assert str(venv) in labext  # served from the new environment, not this checkout

    server = run([str(venv / "bin" / "jupyter"), "server", "extension", "list"], cwd=tmp_path, env=env)
    assert re.search(r"scout_jupyter\s+enabled", server), server
    assert re.search(r"scout_jupyter\s+\S+\s+OK", server), server


def test_the_wording_cases_are_the_notebook_widgets():
    """tests/fixtures/wording_cases.json is what the widget says; model.test.ts checks the sidebar
    says the same (change the widget's wording and this fails until the file is regenerated)."""
    import json
    from datetime import datetime

    from scout_jupyter.widgets.format import freshness_label, freshness_words, human_bytes

    cases = json.loads((REPO / "tests" / "fixtures" / "wording_cases.json").read_text(encoding="utf-8"))
    now = datetime.fromisoformat(cases["now"].replace("Z", "+00:00"))
    for case in cases["freshness_words"]:
        assert freshness_words("fresh", case["last_modified"], case["update_frequency"], now) == case["words"]
    assert [freshness_label(c["state"]) for c in cases["labels"]] == [c["text"] for c in cases["labels"]]
    assert [human_bytes(c["bytes"]) for c in cases["sizes"]] == [c["text"] for c in cases["sizes"]]
