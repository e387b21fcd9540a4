"""``python -m bench [--quick] [--only B1,B6] [--json FILE]``: run the benchmarks, print a table,
write ``bench/results.json``."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import platform
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def discover() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name.startswith("bench_"))


def normalize(rows) -> list[dict]:
    if isinstance(rows, dict):
        rows = [{"id": key, **value} for key, value in rows.items()]
    return list(rows)


def fmt(value, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def table(rows: list[dict]) -> str:
    header = ["id", "what", "value", "baseline", "ratio", "target", "ok"]
    body = [
        [
            r.get("id", ""),
            r.get("what", ""),
            fmt(r.get("value"), r.get("unit", "")),
            fmt(r.get("baseline"), r.get("unit", "")),
            fmt(r.get("ratio")),
            r.get("target", ""),
            {True: "yes", False: "NO", None: "-"}[r.get("ok")],
        ]
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body, strict=True)]

    def line(cells: list) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, body)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller inputs, about a minute")
    parser.add_argument("--only", default="", help="comma-separated module names or ids (e.g. client,B6)")
    parser.add_argument("--json", default=str(HERE / "results.json"), help="where to write the results")
    args = parser.parse_args(argv)
    wanted = {w.strip() for w in args.only.split(",") if w.strip()}
    rows: list[dict] = []
    failures = 0
    for name in discover():
        short = name[len("bench_") :]
        if wanted and short not in wanted and name not in wanted and not any(w.startswith("B") for w in wanted):
            continue
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            got = normalize(module.run(quick=args.quick))
        except Exception:  # a broken benchmark is reported, the others still run
            failures += 1
            traceback.print_exc()
            got = [{"id": name, "what": "benchmark failed", "ok": False}]
        if wanted and any(w.startswith("B") for w in wanted):
            got = [r for r in got if r.get("id") in wanted or short in wanted]
        for row in got:
            row.setdefault("module", name)
        rows.extend(got)
        print(f"# {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    print(table(rows))
    Path(args.json).write_text(
        json.dumps(
            {
                "quick": args.quick,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "rows": rows,
            },
            indent=2,
            default=str,
        )
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
