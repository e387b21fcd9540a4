"""``scout``: the command line of DESIGN.md ("CLI").

``scout demo | publish | ls | info ID | verify | url ID | get ID``, each with ``--store`` (a
storage URL or a folder; default ``SCOUT_STORAGE_URL``, else ``.scout/store/sample``). Exit
status: 0 on success, 1 when anything failed (with one line on stderr saying what), 2 for a
command-line mistake, 130 when interrupted. ``--json`` prints exactly one JSON document on
stdout. Progress bars appear only when stderr is a terminal. ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import settings
from .errors import ConfigError, ObjectNotFound, ScoutError
from .manifest import DEFAULT_NAMESPACE, DatasetEntry, Manifest, latest_manifest_key, validate_dataset_id
from .storage import DEFAULT_STORE, open_storage, storage_url_from_arg
from .storage.base import Storage
from .ttl import DEFAULT_TTL, HARD_MAX_TTL, check_ttl, ttl_rule

log = logging.getLogger(__name__)

DEMO_WAREHOUSE = Path(settings.DEMO_WAREHOUSE)


class CommandFailed(ScoutError):
    """The command ran but reported failures (already printed); exit status 1."""

    code = "command_failed"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake in one line (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


# --- output helpers ------------------------------------------------------------------------------
def _emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return str(size)


def _open_store(args: argparse.Namespace, *, create: bool = False) -> Storage:
    """The store named by ``--store``; reading commands never create a local bucket folder."""
    url = storage_url_from_arg(args.store or settings.env(settings.STORAGE_URL) or DEFAULT_STORE)
    return open_storage(url, create=False) if url.startswith("file:") and not create else open_storage(url)


def _manifest(storage: Storage, namespace: str) -> Manifest:
    key = latest_manifest_key(namespace)
    try:
        manifest = Manifest.from_bytes(storage.read_bytes(key), source=storage.location(key))
    except ObjectNotFound:
        raise ObjectNotFound(
            f"No manifest at {storage.location(key)}: publish first (scout demo, or scout publish)"
        ) from None
    for note in manifest.warnings:  # e.g. an original-format manifest whose hash could not be checked
        print(f"scout: warning: {note}", file=sys.stderr)
    return manifest


def _entry(args: argparse.Namespace) -> tuple[Storage, DatasetEntry]:
    validate_dataset_id(args.id)
    storage = _open_store(args)
    return storage, _manifest(storage, args.namespace).get(args.id)


# --- demo and publish ----------------------------------------------------------------------------
def _run_publish(config, storage: Storage, args: argparse.Namespace, datasets: list[str] | None) -> int:
    from .publish import TqdmReporter, publish

    selected = config.select(datasets)
    with TqdmReporter(len(selected), file=sys.stderr) as reporter:
        result = publish(config, storage, datasets=datasets, on_progress=reporter, force=args.force)
    if args.json:
        _emit_json(result.to_json())
    else:
        for d in result.datasets:
            detail = d.error if d.error else f"{d.row_count:,} rows, {_size(d.bytes_uploaded)} uploaded"
            print(f"{d.state:<10} {d.id:<32} {detail}")
        print(
            f"manifest: {storage.url.rstrip('/')}{result.manifest}{'' if result.manifest_changed else ' (unchanged)'}"
        )
    if not result.ok:
        failed = result.failed
        raise CommandFailed(
            f"publish failed for {len(failed)} of {len(result.datasets)} datasets: "
            + "; ".join(f"{d.id} ({d.error})" for d in failed)
        )
    return 0


def _demo_warehouse(path: Path, seed: int, scale: float, rebuild: bool) -> Path:
    """The demo warehouse at ``path``, built unless one of the same seed and scale is there."""
    from .demo import build_warehouse

    stamp = path.with_suffix(".json")
    wanted = {"seed": seed, "scale": scale}
    try:
        built = json.loads(stamp.read_text()) if path.exists() else None
    except (OSError, ValueError):
        built = None
    if rebuild or not built or {k: built.get(k) for k in wanted} != wanted:
        stats = build_warehouse(path, seed=seed, scale=scale)
        stamp.write_text(json.dumps(stats.to_json(), indent=2))
    return path


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import demo_config_path
    from .demo.record import DemoRecord, write_demo_record
    from .publish import load_config

    warehouse = Path(args.warehouse) if args.warehouse else DEMO_WAREHOUSE
    path = _demo_warehouse(warehouse.expanduser().absolute(), args.seed, args.scale, args.rebuild)
    definitions = demo_config_path()
    config = load_config(definitions, source_url=f"sqlite:///{path}")
    storage = _open_store(args, create=True)
    # beside the store: a server started from any folder re-publishes the demo from this warehouse
    write_demo_record(
        storage,
        DemoRecord(warehouse=str(path), definitions=str(definitions.absolute()), seed=args.seed, scale=args.scale),
    )
    return _run_publish(config, storage, args, None)


def _publish_config(args: argparse.Namespace, storage: Storage):
    """--config, else SCOUT_PUBLISH_CONFIG, else the demo recorded beside the store, else the
    demo definitions over the warehouse in this folder."""
    from .publish import load_config

    path = args.config or settings.env(settings.PUBLISH_CONFIG)
    if path:
        return load_config(path, source_url=args.source)
    source = args.source
    if source is None:
        from .demo.record import recorded_demo_config

        recorded = recorded_demo_config(storage)
        if recorded is not None:
            return recorded
        warehouse = DEMO_WAREHOUSE.absolute()
        if not warehouse.exists():
            raise ConfigError(
                f"No publish config given, no demo record in the store and no demo warehouse at "
                f"{warehouse}: run `scout demo` first, or pass --config FILE (or set "
                "SCOUT_PUBLISH_CONFIG)"
            )
        source = f"sqlite:///{warehouse}"
    from .demo import demo_config_path

    return load_config(demo_config_path(), source_url=source)


def cmd_publish(args: argparse.Namespace) -> int:
    datasets = [validate_dataset_id(d) for d in args.dataset] if args.dataset else None
    config = _publish_config(args, _open_store(args))  # a bad config leaves no empty store folder behind
    return _run_publish(config, _open_store(args, create=True), args, datasets)


# --- reading the store ---------------------------------------------------------------------------
def cmd_ls(args: argparse.Namespace) -> int:
    manifest = _manifest(_open_store(args), args.namespace)
    rows: list[dict[str, Any]] = [
        {
            "id": e.id,
            "date": e.date,
            "row_count": e.row_count,
            "size_bytes": e.size_bytes,
            "freshness": e.freshness(),
            "schema_version": e.schema_version,
            "description": e.description,
        }
        for e in manifest
    ]
    if args.json:
        _emit_json({"generated_at": manifest.generated_at, "datasets": rows})
        return 0
    print(f"{'id':<32} {'date':<10} {'rows':>9} {'size':>9}  {'freshness':<9} version")
    for r in rows:
        print(
            f"{r['id']:<32} {r['date']:<10} {r['row_count']:>9,} {_size(r['size_bytes']):>9}  "
            f"{r['freshness']:<9} {r['schema_version']}"
        )
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    _, entry = _entry(args)
    document = {"id": entry.id, **entry.to_json(), "freshness": entry.freshness()}
    if args.json:
        _emit_json(document)
        return 0
    for key, value in document.items():
        if key != "schema":
            print(f"{key:<20} {value}")
    for field in (entry.schema or {}).get("fields", []):
        print(f"  {field['name']:<30} {field['type']}")
    return 0


def _check_file(storage: Storage, key: str, size: int | None, sha256: str | None) -> str | None:
    """None when the object at ``key`` has ``size`` and ``sha256``, else what is wrong."""
    try:
        actual = storage.info(key).size
    except ObjectNotFound:
        return f"{key} is missing"
    if actual != size:
        return f"{key} has {actual} bytes, the manifest says {size}"
    if storage.sha256(key) != sha256:
        return f"{key} does not match its sha256"
    return None


def cmd_verify(args: argparse.Namespace) -> int:
    storage = _open_store(args)
    manifest = _manifest(storage, args.namespace)
    results = []
    for entry in manifest:
        checks = [_check_file(storage, entry.csv_key, entry.size_bytes, entry.sha256)]
        if entry.parquet_key:
            checks.append(_check_file(storage, entry.parquet_key, entry.parquet_size_bytes, entry.parquet_sha256))
        problems = [p for p in checks if p]
        results.append({"id": entry.id, "ok": not problems, "error": "; ".join(problems) or None})
    failed = [r for r in results if not r["ok"]]
    if args.json:
        _emit_json({"ok": not failed, "manifest": "/" + latest_manifest_key(args.namespace), "datasets": results})
    else:
        for r in results:
            print(f"{'ok' if r['ok'] else 'FAILED':<7} {r['id']}" + (f": {r['error']}" if r["error"] else ""))
    if failed:
        raise CommandFailed(
            f"verify failed for {len(failed)} of {len(results)} datasets: "
            + "; ".join(f"{r['id']} ({r['error']})" for r in failed)
        )
    return 0


def cmd_url(args: argparse.Namespace) -> int:
    storage, entry = _entry(args)
    ttl = check_ttl(args.ttl, storage.max_sign_ttl)
    if not storage.signs_absolute_urls:
        raise ConfigError(
            f"A local store's signed URLs are served by a running Jupyter server with the "
            f"scout_jupyter extension (/scout/files/...): start `jupyter lab` over {storage.url} and "
            "use scout.signed_url() in its kernels or GET /scout/api/dataset-proxy; "
            f"`scout get {entry.id}` copies the file here"
        )
    key = entry.parquet_key if args.format == "parquet" else entry.csv_key
    if key is None:
        raise ObjectNotFound(f"{entry.id} has no Parquet copy")
    signed = storage.sign(key, ttl)
    if args.json:
        _emit_json({"signed_url": signed.url, "expires_at": signed.expires_at.isoformat(), "dataset": entry.id})
    else:
        print(signed.url)
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    """Streams the file through :meth:`Client.download` (direct mode): verified, never partial."""
    from .cache import Cache
    from .client.core import Client
    from .client.download import copy_to_stream
    from .client.transport import DirectTransport

    storage, entry = _entry(args)
    parquet = args.format == "parquet"
    key = entry.parquet_key if parquet else entry.csv_key
    if key is None:
        raise ObjectNotFound(f"{entry.id} has no Parquet copy")
    # A scratch cache: the CLI leaves nothing behind but the file asked for.
    with tempfile.TemporaryDirectory(prefix="scout-get-") as scratch:
        client = Client(DirectTransport(storage, namespace=args.namespace), cache=Cache(Path(scratch) / "cache"))
        try:
            if args.output == "-":
                copy_to_stream(client.download(entry.id, Path(scratch) / "file", fmt=args.format), sys.stdout.buffer)
                sys.stdout.flush()
            else:
                target = client.download(entry.id, args.output or key.rsplit("/", 1)[1], fmt=args.format)
                size = entry.parquet_size_bytes if parquet else entry.size_bytes
                print(f"{args.output or target.name}: {size:,} bytes, sha256 verified", file=sys.stderr)
        finally:
            client.close()
    return 0


# --- the parser ------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="scout", description="Publish and read the Scout datasets.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-v", "--verbose", action="store_true", help="show progress logs")
    common = _Parser(add_help=False)
    common.add_argument("--store", help=f"storage URL or folder (default: $SCOUT_STORAGE_URL, else {DEFAULT_STORE})")
    common.add_argument("--namespace", default=DEFAULT_NAMESPACE, help=argparse.SUPPRESS)
    jsonflag = _Parser(add_help=False)
    jsonflag.add_argument("--json", action="store_true", help="print one JSON document")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    def add(name: str, handler: Callable, help_text: str, *parents) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, parents=[common, *parents])
        p.set_defaults(handler=handler)
        return p

    demo = add("demo", cmd_demo, "build the demo warehouse and publish the nine datasets", jsonflag)
    demo.add_argument("--scale", type=float, default=1.0, help="warehouse size factor (default 1)")
    demo.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    demo.add_argument("--warehouse", help=f"where the SQLite warehouse goes (default {DEMO_WAREHOUSE})")
    demo.add_argument("--rebuild", action="store_true", help="rebuild the warehouse even if it exists")
    demo.add_argument("--force", action="store_true", help="re-run every query even if the source is unchanged")
    pub = add("publish", cmd_publish, "publish datasets from a definitions file", jsonflag)
    pub.add_argument("--config", help="publishing TOML (default: $SCOUT_PUBLISH_CONFIG, else the demo's)")
    pub.add_argument(
        "--dataset",
        action="extend",
        nargs="+",
        metavar="ID",
        help="publish only these datasets (--dataset a b, or repeated)",
    )
    pub.add_argument("--source", help="source database URL (overrides the file's [source] url)")
    pub.add_argument("--force", action="store_true", help="re-run every query even if the source is unchanged")
    add("ls", cmd_ls, "list the published datasets", jsonflag)
    add("info", cmd_info, "show one dataset's manifest entry and schema", jsonflag).add_argument("id")
    add("verify", cmd_verify, "check every file against the manifest (size and sha256)", jsonflag)
    url = add("url", cmd_url, "print a signed URL for a dataset's file", jsonflag)
    url.add_argument("id")
    url.add_argument(
        "--ttl",
        default=str(DEFAULT_TTL),
        help=f"lifetime of the URL: {ttl_rule(HARD_MAX_TTL)} (S3 stores: up to 604800, their 7-day "
        f"cap; a Jupyter server's dataset proxy: up to its max_ttl); default {DEFAULT_TTL}. "
        "A local store needs a running server to sign",
    )
    url.add_argument("--format", choices=("csv", "parquet"), default="csv")
    get = add("get", cmd_get, "download a dataset's file, verifying its sha256")
    get.add_argument("id")
    get.add_argument("-o", "--output", help="file to write (default: the file's name here; - for stdout)")
    get.add_argument("--format", choices=("csv", "parquet"), default="csv")
    return parser


def _configure_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.CRITICAL
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("scout_jupyter").setLevel(level)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    _configure_logging(args)
    try:
        return args.handler(args)
    except ScoutError as exc:
        if args.debug:
            raise
        print(f"scout: {_one_line(exc.message)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("scout: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an unexpected failure: one line unless --debug
        if args.debug:
            raise
        print(
            f"scout: {args.command} failed: {type(exc).__name__}: {_one_line(str(exc))} (run with --debug for details)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
