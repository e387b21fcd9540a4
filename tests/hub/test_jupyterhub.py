"""A team on JupyterHub: ``jupyter scout`` as the hub's service, used by two users' kernels.

One real hub for the module (tests/fixtures/hub.py): alice and bob log in, start their servers
through the hub's REST API and run code in kernels those servers started, over the servers'
kernel websockets as JupyterLab does. The kernels find the service only through the environment
the spawner gave them and authenticate with the token their server has. RELIABILITY rows 30–33;
the tests run in file order and the last one stops the service.
"""

from __future__ import annotations

import json
import os
import signal
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
import sqlalchemy as sa

from scout_jupyter.server.accesslog import POSTGRES_SCHEMA, TABLE_NAME
from scout_jupyter.storage.local import KEY_FILE_NAME
from tests.e2e.kernel_channel import CellRun, KernelChannel
from tests.fixtures.hub import RATE_LIMIT, Hub, poll

pytestmark = [pytest.mark.hub, pytest.mark.slow]
MARK = "E2E-HUB "


class UserSession:
    """A hub user's server and one kernel in it."""

    def __init__(self, hub: Hub, user: str):
        self.hub, self.user = hub, user
        self.token = hub.user_token(user)
        self.headers = {"Authorization": f"token {self.token}"}
        self.channel: KernelChannel | None = None

    def start_server(self) -> None:
        answer = requests.post(f"{self.hub.url}/hub/api/users/{self.user}/server", headers=self.headers, timeout=60)
        assert answer.status_code in (201, 202, 400), answer.text  # 400: already running
        poll(self._ready, f"{self.user}'s server to be ready", timeout=150, every=0.3)

    def _ready(self) -> bool:
        model = requests.get(f"{self.hub.url}/hub/api/users/{self.user}", headers=self.headers, timeout=10).json()
        return bool((model.get("servers") or {}).get("", {}).get("ready"))

    def start_kernel(self) -> None:
        base = f"{self.hub.url}/user/{self.user}/"
        answer = requests.post(base + "api/kernels", headers=self.headers, json={"name": "python3"}, timeout=60)
        assert answer.status_code == 201, answer.text
        ws = f"ws://127.0.0.1:{self.hub.port}/user/{self.user}/api/kernels/{answer.json()['id']}/channels"
        self.channel = KernelChannel(ws, self.token, timeout=120)
        self.channel.wait_ready()

    def run(self, code: str) -> CellRun:
        assert self.channel is not None
        return self.channel.execute(code)

    def probe(self, code: str, expression: str) -> Any:
        """Run ``code``, then return the JSON value of ``expression`` evaluated in the kernel."""
        run = self.run(f"{code}\nimport json as _json\nprint({MARK!r} + _json.dumps({expression}))")
        assert not run.errors and run.reply.get("status") == "ok", run.describe()
        line = next(line for line in run.text().splitlines() if line.startswith(MARK))
        return json.loads(line[len(MARK) :])

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call the Scout service through the hub's proxy with this user's token."""
        return requests.request(method, self.hub.service_url + path, headers=self.headers, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def users(jupyterhub: Hub) -> dict[str, UserSession]:
    sessions = {name: UserSession(jupyterhub, name) for name in ("alice", "bob")}
    with ThreadPoolExecutor(2) as pool:  # the two spawns overlap
        list(pool.map(UserSession.start_server, sessions.values()))
        list(pool.map(UserSession.start_kernel, sessions.values()))
    yield sessions
    for session in sessions.values():
        if session.channel is not None:
            session.channel.close()


def access_rows(hub: Hub, **where: Any) -> list[dict[str, Any]]:
    engine = sa.create_engine(hub.access_log_url)
    try:
        with engine.connect() as conn:
            table = sa.Table(TABLE_NAME, sa.MetaData(schema=POSTGRES_SCHEMA), autoload_with=conn)
            query = sa.select(table).order_by(table.c.id)
            for column, value in where.items():
                query = query.where(table.c[column] == value)
            return [dict(row._mapping) for row in conn.execute(query)]
    finally:
        engine.dispose()


def test_both_users_load_through_the_service_under_their_own_names(jupyterhub, users):
    """Row 30, first half: each kernel loads gold/txn_daily through the service; the log names both."""
    for name, session in users.items():
        got = session.probe(
            "import os, scout_jupyter as scout\ndf = scout.load('gold/txn_daily')",
            "{'rows': len(df), 'revenue': float(df['revenue'].sum()), "
            "'mode': scout.connect(set_default=False).mode, 'api': os.environ.get('SCOUT_API_URL')}",
        )
        assert got == {"rows": 3, "revenue": 4110.75, "mode": "proxy", "api": jupyterhub.service_url}, name
    signers = {row["user"] for row in access_rows(jupyterhub, action="sign", status=200)}
    assert signers == {"alice", "bob"}
    anonymous = requests.get(f"{jupyterhub.service_url}scout/api/dataset-proxy?dataset=gold/txn_daily", timeout=30)
    assert anonymous.status_code == 403 and "signed_url" not in anonymous.text
    assert anonymous.json()["message"].startswith("Access denied: no hub login or token with access to the Scout")
    # the hub's public host name, not only loopback, reaches the service through the proxy
    public = requests.get(
        f"{jupyterhub.service_url}scout/api/datasets",
        timeout=30,
        headers={**users["bob"].headers, "Host": f"hub.example.test:{jupyterhub.port}"},
    )
    assert public.status_code == 200, public.text
    # signed URLs point through the hub's proxy, where the kernel reached the service
    url = users["bob"].probe("import scout_jupyter as scout", "scout.signed_url('gold/txn_daily', ttl=60)")
    assert url.startswith(f"{jupyterhub.service_url}scout/files/") and "scout_auth=" in url
    # the magic works unchanged in a hub kernel
    listed = users["alice"].run("%load_ext scout_jupyter\n%scout ls")
    assert not listed.errors and "gold/txn_daily" in listed.text() + listed.data(), listed.describe()
    # the sidebar and widgets call their own server, which relays to the service with its hub token
    relayed = requests.get(
        f"{jupyterhub.url}/user/alice/scout/api/datasets", headers=users["alice"].headers, timeout=30
    )
    assert relayed.status_code == 200 and [d["id"] for d in relayed.json()["datasets"]] == ["gold/txn_daily"]
    refused = requests.post(
        f"{jupyterhub.url}/user/bob/scout/api/publish",
        headers=users["bob"].headers,
        json={"datasets": None},
        timeout=30,
    )
    assert refused.status_code == 403 and refused.json()["message"].startswith("Access denied: bob may not publish")
    # analytics by user: one dataset, two distinct users
    rows = users["alice"].probe(
        "import scout_jupyter as scout\na = scout.analytics(1)",
        "a[a['dataset_id'] == 'gold/txn_daily']['unique_users'].tolist()",
    )
    assert rows == [2]


def test_one_users_exhausted_rate_limit_does_not_limit_another(jupyterhub, users):
    """Row 30, second half: alice signs until refused; bob still signs at once."""
    assert RATE_LIMIT == "5/minute"
    code = (
        "import scout_jupyter as scout\nfrom scout_jupyter.errors import RateLimited\n"
        "c = scout.connect(max_retry_after=0, set_default=False)\nsigned, limited = 0, None\n"
        "for _ in range(20):\n"
        "    try:\n        c.signed_url('gold/txn_daily', ttl=60)\n        signed += 1\n"
        "    except RateLimited as exc:\n        limited = str(exc)\n        break\n"
    )
    alice = users["alice"].probe(code, "{'signed': signed, 'limited': limited}")
    assert alice["limited"] and "Rate limit" in alice["limited"] and "\n" not in alice["limited"], alice
    assert alice["signed"] <= 5  # at most the limit (fewer: the loads before count too)
    bob = users["bob"].probe(code.replace("range(20)", "range(1)"), "{'signed': signed, 'limited': limited}")
    assert bob == {"signed": 1, "limited": None}
    # rows of refusals are written in batches, off the request path
    denied = poll(lambda: access_rows(jupyterhub, action="deny", status=429), "the 429 rows", timeout=30)
    assert {row["user"] for row in denied} == {"alice"}


def test_publishing_needs_the_hub_permission(jupyterhub, users):
    """Row 31: bob (no custom:scout:publish) gets a one-line 403 and no job; alice's job succeeds."""
    bob = users["bob"].probe(
        "import scout_jupyter as scout\nfrom scout_jupyter.errors import AccessDenied\ntry:\n"
        "    scout.publish(['gold/txn_daily'])\n    refused = None\n"
        "except AccessDenied as exc:\n    refused = str(exc)",
        "refused",
    )
    assert bob and bob.startswith("Access denied: bob may not publish") and "custom:scout:publish" in bob
    assert "\n" not in bob
    magic = users["bob"].run("%load_ext scout_jupyter\n%scout publish gold/txn_daily")
    assert not magic.errors, magic.describe()  # a message, not a traceback
    # in a notebook the publish panel shows the refusal (its text form here), in one line
    shown = magic.text("stderr") + "\n" + magic.data("text/plain")
    lines = [line for line in shown.splitlines() if "may not publish" in line]
    assert len(lines) == 1 and "Traceback" not in shown, shown
    raw = users["bob"].api("POST", "scout/api/publish", json={"datasets": ["gold/txn_daily"]})
    assert raw.status_code == 403 and raw.json()["error"] == "access_denied"
    assert users["alice"].api("GET", "scout/api/jobs").json() == {"jobs": []}  # bob started nothing
    assert users["bob"].api("GET", "scout/api/access/analytics").status_code == 403

    status = users["alice"].probe(
        "import scout_jupyter as scout\nst = scout.publish(['gold/txn_daily'])",
        "{'state': st.state, 'datasets': [d['state'] for d in st.datasets]}",
    )
    assert status == {"state": "succeeded", "datasets": ["succeeded"]}
    jobs = users["alice"].api("GET", "scout/api/jobs").json()["jobs"]
    assert [(job["state"], job["started_by"]) for job in jobs] == [("succeeded", "alice")]
    poll(
        lambda: (
            {("alice", "publish", 202), ("bob", "deny", 403)}
            <= {(row["user"], row["action"], row["status"]) for row in access_rows(jupyterhub)}
        ),
        "the publish rows",
        timeout=30,
    )


def test_kernels_hold_no_storage_credential(jupyterhub, users):
    """Row 32: nothing secret of the service in a kernel's environment or in the user's files."""
    session = users["alice"]
    env = session.probe("import os", "dict(os.environ)")
    assert env["SCOUT_API_URL"] == jupyterhub.service_url and env.get("JUPYTERHUB_API_TOKEN")
    leaked_names = {
        "SCOUT_STORAGE_URL",
        "SCOUT_ACCESS_LOG_URL",
        "SCOUT_SIGNING_KEY_FILE",
        "SCOUT_API_TOKEN",
        "SUPABASE_SERVICE_ROLE_KEY",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
    } & set(env)
    assert not leaked_names
    needles = {name: value.encode() for name, value in jupyterhub.secrets.items()}
    needles.update(store=jupyterhub.store_url.encode(), access_log=jupyterhub.access_log_url.encode())
    env_text = json.dumps(env).encode()
    assert [name for name, needle in needles.items() if needle in env_text] == []
    home = Path(env["HOME"])
    assert home == jupyterhub.root / "home" / "alice"
    found = []
    files = [path for path in home.rglob("*") if path.is_file()]
    assert files, "the kernel's home should hold at least its cache"
    for path in files:
        assert path.name != KEY_FILE_NAME, f"a signing key in the user's files: {path}"
        data = path.read_bytes()
        found += [f"{name} in {path}" for name, needle in needles.items() if needle in data]
    assert found == []


def test_service_down_while_a_user_works(jupyterhub, users):
    """Row 33 (last: it stops the service): the magic and the client say the service is
    unreachable, in one line; datasets in the cache still load."""
    session = users["alice"]
    for attempt in range(2):
        pid = _stop_service(jupyterhub)
        url = session.run("%scout url gold/txn_daily")
        offline = session.probe(
            "import warnings, scout_jupyter as scout\nwith warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always')\n    df = scout.connect().load('gold/txn_daily')",
            "{'rows': len(df), 'warnings': [str(w.message) for w in caught]}",
        )
        # what the sidebar reads: its server's relay answers 503 with the same one line
        relayed = requests.get(f"{jupyterhub.url}/user/alice/scout/api/datasets", headers=session.headers, timeout=60)
        if _service_pid(jupyterhub) is None:
            break
        # the hub restarted its service during the checks (it polls every ~30 s): once more
        assert attempt == 0, f"the hub restarted the scout service twice (pid {pid})"
    assert not url.errors, url.describe()
    # the answer, one line; before it, when the manifest was due for a refresh, the one-line offline notice
    lines = url.text("stderr").strip().splitlines()
    assert lines[-1].startswith("Scout service unreachable at " + jupyterhub.url.split("//")[1]), lines
    assert len(lines) <= 2 and all(line.startswith("Scout is offline (") for line in lines[:-1]), lines
    assert all("unreachable" in line for line in lines)
    assert relayed.status_code == 503 and relayed.json()["error"] == "storage_unavailable"
    assert relayed.json()["message"].startswith("Scout service unreachable at "), relayed.text
    assert offline["rows"] == 3
    assert any("unreachable" in text and "cached datasets still load" in text for text in offline["warnings"])


def _service_pid(hub: Hub) -> int | None:
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        cmdline = proc.info.get("cmdline") or []
        if proc.info.get("cwd") == str(hub.service_dir) and any("jupyter-scout" in part for part in cmdline):
            return proc.pid
    return None


def _stop_service(hub: Hub) -> int:
    pid = poll(lambda: _service_pid(hub), "the scout service process", timeout=60)
    os.kill(pid, signal.SIGKILL)
    poll(lambda: not _listening(hub.service_port), "the scout service to stop listening", timeout=30)
    return pid


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0
