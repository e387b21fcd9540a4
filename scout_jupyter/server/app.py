"""``ScoutExtension``: the Jupyter server extension (``scout_jupyter``), also ``jupyter scout``.

Settings are traits (``c.ScoutExtension.storage_url = …``); the ``SCOUT_*`` environment
variables give their defaults. The extension opens the store and the access log, builds the
:class:`~.service.ScoutService` the handlers call, and exports ``SCOUT_API_URL`` /
``SCOUT_API_TOKEN`` once the server is listening so the kernels it starts find it.

Started by JupyterHub as a service, ``jupyter scout`` configures itself from the hub's variables
(:mod:`.hub`): hub identities and permissions, the service's port and prefix. With
``publish_schedule`` set it also publishes on a cron schedule (:mod:`.schedule`).
"""

from __future__ import annotations

import asyncio
import getpass
import os
import signal
from pathlib import Path
from urllib.parse import urlsplit

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.serverapp import ServerApp
from traitlets import Any, Bool, Float, Int, TraitError, Unicode, default, validate

from .. import settings
from ..clock import SYSTEM_CLOCK, Clock
from ..errors import ScoutError
from ..storage import DEFAULT_STORE, open_storage, storage_url_from_arg
from ..storage.base import Storage
from ..storage.local import KEY_FILE_NAME, load_or_create_key
from ..ttl import DEFAULT_TTL, HARD_MAX_TTL
from .accesslog import AccessLog
from .handlers import route_table
from .jobs import ConfiguredPublisher, JobRunner
from .ratelimit import DEFAULT_RATE_LIMIT, RateLimiter, parse_limit
from .relay import ScoutRelay, relay_route_table
from .schedule import PublishSchedule, parse_schedule
from .service import ScoutService

#: where `scout demo` builds its warehouse (relative to the folder it runs in, like the demo store)


def _env_int(name: str, fallback: int) -> int:
    value = settings.env(name)
    if value is None:
        return fallback
    try:
        return int(value)
    except ValueError:
        raise TraitError(f"{name} must be a whole number, got {value!r}") from None


def _checked_schedule(value: str) -> str:
    """A cron expression, normalised; empty for off."""
    if not value.strip():
        return ""
    try:
        return parse_schedule(value)
    except ScoutError as exc:
        raise TraitError(exc.message) from None


class ScoutExtension(ExtensionApp):
    name = "scout_jupyter"
    description = "Scout datasets for Jupyter: manifest, signed URLs, access log, rate limit, publish jobs."
    extension_url = "/scout/api/datasets"
    load_other_extensions = True

    aliases = dict(
        ExtensionApp.aliases,
        **{
            "storage-url": "ScoutExtension.storage_url",
            "access-log-url": "ScoutExtension.access_log_url",
            "rate-limit": "ScoutExtension.rate_limit",
            "preview-rate-limit": "ScoutExtension.preview_rate_limit",
            "max-ttl": "ScoutExtension.max_ttl",
            "publish-config": "ScoutExtension.publish_config",
            "publish-schedule": "ScoutExtension.publish_schedule",
        },
    )

    storage_url = Unicode(
        help=f"""The store the datasets are in: file:///path, s3://bucket[/prefix] or
        supabase://bucket (env {settings.STORAGE_URL}; default: the demo store {DEFAULT_STORE} under
        the server's root dir)."""
    ).tag(config=True)
    access_log_url = Unicode(
        help=f"""SQLAlchemy URL of the access log database (env {settings.ACCESS_LOG_URL};
        default: SQLite in WAL mode in the Jupyter data dir)."""
    ).tag(config=True)
    rate_limit = Unicode(
        help=f"""Per-user moving-window limit on signing requests, in the `limits`
        notation: a count, `/` or `per`, an optional multiple and a unit (second, minute, hour, day), such as
        `30/3 minutes` or `10 per minute` (env {settings.RATE_LIMIT}; default {DEFAULT_RATE_LIMIT}: the original
        10 a minute on average, with room for a notebook's burst of cold loads)."""
    ).tag(config=True)
    preview_rate_limit = Unicode(
        help=f"""Per-user moving-window limit on previews (GET …/preview), apart from
        the signing limit, in the same notation (env {settings.PREVIEW_RATE_LIMIT}; default 60/minute).""",
    ).tag(config=True)
    max_ttl = Int(
        help=f"""Longest lifetime of a signed URL in seconds; at most {HARD_MAX_TTL}
        (env {settings.MAX_TTL}; default 3600)."""
    ).tag(config=True)
    publish_config = Unicode(
        help=f"""Dataset definitions (TOML) that POST /scout/api/publish runs
        (env {settings.PUBLISH_CONFIG}). Without one: the demo, from the warehouse named by the record
        `scout demo` leaves beside a local store (scout-demo.json), else from {settings.DEMO_WAREHOUSE}
        under the server's root dir, if there is one."""
    ).tag(config=True)
    manifest_cache_ttl = Float(
        900.0,
        help="Seconds the manifest is served from cache before the store is re-read.",
    ).tag(config=True)
    signing_key_file = Unicode(
        help=f"""File holding the HMAC key of local signed URLs (created 0600 on first
        use; env {settings.SIGNING_KEY_FILE}; default {KEY_FILE_NAME} in the Jupyter data dir)."""
    ).tag(config=True)
    namespace = Unicode("scout/v1", help="Folder of the manifests and data under the store's root.").tag(config=True)
    export_env = Bool(
        True,
        help=f"""Export {settings.API_URL} and {settings.API_TOKEN} into the server's
        environment once it listens, so kernels started by it find it. Turn off when kernels should use a
        separate `jupyter scout` service.""",
    ).tag(config=True)
    shared_token_user = Unicode(
        help="""Name recorded and rate-limited for requests authenticated with the
        server's own token or password: Jupyter's default identity provider names each such request
        anew, so they would otherwise escape the per-user limit. Default: the server's OS user."""
    ).tag(config=True)
    access_log_batch_size = Int(500, help="Access-log rows committed per transaction at most.").tag(config=True)
    access_log_flush_interval = Float(
        0.05,
        help="""Seconds the access-log writer waits to batch rows nobody is
        waiting for (signing rows are committed at once).""",
    ).tag(config=True)
    publish_schedule = Unicode(
        help=f"""Publish every dataset on this cron schedule, in UTC (five fields:
        minute hour day month weekday; '15 2 * * *' is daily at 02:15), as a job like one a notebook
        starts; a run due while a publish is running is skipped and logged (env {settings.PUBLISH_SCHEDULE};
        default: off)."""
    ).tag(config=True)
    publish_schedule_check_interval = Float(
        30.0,
        help="""Longest wait, in seconds, between two looks at
        the clock for a due scheduled publish.""",
    ).tag(config=True)
    hub_service = Bool(
        help=f"""Run as a JupyterHub service: requests are named by their hub user, and
        nothing is exported to kernels (default: when {settings.HUB_SERVICE_NAME} and
        {settings.HUB_SERVICE_URL} are set, as JupyterHub does for the services it starts)."""
    ).tag(config=True)
    service_url = Unicode(
        help=f"""URL of a separate Scout service (`jupyter scout`, e.g. the JupyterHub
        service) that this server's /scout/api routes relay to, with the server's hub token: the server then
        opens no store and holds no credential. Default: {settings.API_URL} when this server runs under
        JupyterHub ({settings.HUB_TOKEN} set) and is not the service itself."""
    ).tag(config=True)
    clock = Any(
        None, allow_none=True, help="A Clock object (tests inject a FakeClock); default: the system clock."
    ).tag(config=True)
    publisher = Any(
        None,
        allow_none=True,
        help="""A callable publisher(datasets, on_progress) used instead of the
        one built from publish_config (tests).""",
    ).tag(config=True)

    @property
    def jupyter_server(self) -> ServerApp:
        """The Jupyter server this extension is loaded into (set before any of its settings is read)."""
        if self.serverapp is None:
            raise RuntimeError("the Scout extension is not loaded into a Jupyter server")
        return self.serverapp

    @default("storage_url")
    def _default_storage_url(self) -> str:
        return settings.env(settings.STORAGE_URL) or (Path(self.jupyter_server.root_dir) / DEFAULT_STORE).as_uri()

    @default("access_log_url")
    def _default_access_log_url(self) -> str:
        default_path = Path(jupyter_data_dir()) / "scout" / "access_log.sqlite"
        return settings.env(settings.ACCESS_LOG_URL) or f"sqlite:///{default_path}"

    @default("rate_limit")
    def _default_rate_limit(self) -> str:
        return settings.env(settings.RATE_LIMIT) or DEFAULT_RATE_LIMIT

    @default("preview_rate_limit")
    def _default_preview_rate_limit(self) -> str:
        return settings.env(settings.PREVIEW_RATE_LIMIT) or "60/minute"

    @default("max_ttl")
    def _default_max_ttl(self) -> int:
        return _env_int(settings.MAX_TTL, DEFAULT_TTL)

    @default("publish_config")
    def _default_publish_config(self) -> str:
        return settings.env(settings.PUBLISH_CONFIG) or ""

    @default("publish_schedule")
    def _default_publish_schedule(self) -> str:
        return _checked_schedule(settings.env(settings.PUBLISH_SCHEDULE) or "")

    @default("hub_service")
    def _default_hub_service(self) -> bool:
        return settings.running_as_hub_service()

    @default("service_url")
    def _default_service_url(self) -> str:
        if settings.env(settings.HUB_TOKEN) is None or self.hub_service:
            return ""
        return settings.env(settings.API_URL) or ""

    @default("signing_key_file")
    def _default_signing_key_file(self) -> str:
        return settings.env(settings.SIGNING_KEY_FILE) or str(Path(jupyter_data_dir()) / KEY_FILE_NAME)

    @default("shared_token_user")
    def _default_shared_token_user(self) -> str:
        try:
            return getpass.getuser()
        except (KeyError, OSError):
            return "jupyter"

    @validate("max_ttl")
    def _check_max_ttl(self, proposal) -> int:  # noqa: ANN001 - traitlets' Bunch
        if not 1 <= proposal["value"] <= HARD_MAX_TTL:
            raise TraitError(f"max_ttl must be between 1 and {HARD_MAX_TTL} seconds, got {proposal['value']}")
        return proposal["value"]

    @validate("publish_schedule")
    def _check_publish_schedule(self, proposal) -> str:  # noqa: ANN001
        return _checked_schedule(proposal["value"])

    @validate("rate_limit", "preview_rate_limit")
    def _check_rate_limit(self, proposal) -> str:  # noqa: ANN001
        parse_limit(proposal["value"])
        return proposal["value"]

    # --- wiring ---------------------------------------------------------------------------
    def initialize_settings(self) -> None:
        if self.service_url:
            self.settings.update(scout_relay=ScoutRelay(self.service_url, settings.env(settings.HUB_TOKEN)))
            self.log.info("Scout: relaying /scout/api to the Scout service at %s", _redacted(self.service_url))
            return
        if self.hub_service:
            # as in JupyterHub's single-user servers: tornado's own XSRF check runs before the hub
            # identifies a token; Jupyter Server checks again once it has (cookie requests only)
            self.settings["xsrf_cookies"] = False  # merged into the web app's settings
        clock: Clock = self.clock or SYSTEM_CLOCK
        storage = self._open_storage(clock)
        access_log = AccessLog(
            self.access_log_url, batch_size=self.access_log_batch_size, flush_interval=self.access_log_flush_interval
        ).start()
        publisher = self.publisher or ConfiguredPublisher(
            self.publish_config or None,
            storage,
            clock=clock,
            demo_warehouse=Path(self.jupyter_server.root_dir) / settings.DEMO_WAREHOUSE,
        )
        jobs = JobRunner(publisher, clock=clock, on_finished=lambda _job: self.service.publish_finished())
        self.service = ScoutService(
            storage,
            access_log=access_log,
            rate_limiter=RateLimiter(self.rate_limit, clock),
            jobs=jobs,
            clock=clock,
            max_ttl=self.max_ttl,
            manifest_cache_ttl=self.manifest_cache_ttl,
            namespace=self.namespace,
            preview_limiter=RateLimiter(self.preview_rate_limit, clock),
        )
        self.settings.update(scout_service=self.service, scout_shared_token_user=self.shared_token_user)
        self.schedule = PublishSchedule(self.publish_schedule, jobs, clock) if self.publish_schedule else None
        self._schedule_task: asyncio.Task | None = None
        if self.schedule is not None:  # starts with the server's event loop
            self.jupyter_server.io_loop.add_callback(self._start_schedule)
        self.log.info(
            "Scout: store %s, access log %s, rate limit %s, max TTL %d s, publish schedule %s",
            _redacted(storage.url),
            access_log.description,
            self.rate_limit,
            self.max_ttl,
            f"{self.publish_schedule} UTC" if self.schedule else "off",
        )

    def _open_storage(self, clock: Clock) -> Storage:
        url = storage_url_from_arg(self.storage_url)
        if urlsplit(url).scheme == "file":
            # create=False: starting Jupyter in a folder must not create an empty store there
            return open_storage(url, clock=clock, create=False, signing_key=load_or_create_key(self.signing_key_file))
        return open_storage(url, clock=clock)

    def initialize_handlers(self) -> None:
        self.handlers.extend(relay_route_table() if self.service_url else route_table())

    async def _start_jupyter_server_extension(self, serverapp) -> None:  # noqa: ANN001
        # runs once the server is listening, so the port in connection_url is final
        if self.service_url:
            return  # kernels inherit SCOUT_API_URL, naming the service, from this server's environment
        if self.hub_service:
            # JupyterHub stops its services with SIGINT first, which a service started from a
            # background job inherits as ignored: stop on it as on SIGTERM
            signal.signal(signal.SIGINT, serverapp._signal_stop)
            self.log.info("Scout: JupyterHub service at %s", serverapp.connection_url)
        elif self.export_env:
            self.export_environment()

    def _start_schedule(self) -> None:
        if self.schedule is None:
            return
        self._schedule_task = asyncio.ensure_future(self.schedule.run(self.publish_schedule_check_interval))
        self.log.info("Scout: next scheduled publish at %s", self.schedule.next_run.isoformat())

    def export_environment(self) -> None:
        """Put this server's URL and token where kernels it starts will find them."""
        os.environ[settings.API_URL] = self.jupyter_server.connection_url
        token = self.jupyter_server.identity_provider.token
        if token and settings.env(settings.HUB_TOKEN) is None:  # under JupyterHub, clients use the hub token
            os.environ[settings.API_TOKEN] = token
        self.log.info("Scout: kernels will reach this server at %s", self.jupyter_server.connection_url)

    async def stop_extension(self) -> None:
        task = getattr(self, "_schedule_task", None)
        if task is not None:
            task.cancel()
        service = getattr(self, "service", None)
        if service is not None:
            service.access_log.close()
            service.storage.close()


def _redacted(url: str) -> str:
    """A storage URL for the log: no user info, no query (it may hold keys)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{parts.path}"


def main(argv: list[str] | None = None) -> None:
    """``jupyter scout``: the standalone server, or the JupyterHub service when the hub started it."""
    if settings.running_as_hub_service():
        from .hub import hub_service_config

        try:
            ScoutExtension.serverapp_config = hub_service_config()
        except ScoutError as exc:
            raise SystemExit(f"jupyter scout: {exc.message}") from None
    ScoutExtension.launch_instance(argv)
