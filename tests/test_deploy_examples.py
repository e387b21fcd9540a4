"""The deployment examples in deploy/ are valid: the hub config loads with real trait names and
keeps every credential in the service; the cron line and the CI workflow run `scout publish` on
the original's schedule."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml
from jupyterhub.app import JupyterHub
from jupyterhub.auth import Authenticator
from jupyterhub.authenticators.shared import SharedPasswordAuthenticator
from jupyterhub.spawner import SimpleLocalProcessSpawner, Spawner
from traitlets.config.loader import PyFileConfigLoader

from scout_jupyter.server.ratelimit import parse_limit
from scout_jupyter.server.schedule import parse_schedule

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
CLASSES = {
    "JupyterHub": JupyterHub,
    "Spawner": Spawner,
    "SimpleLocalProcessSpawner": SimpleLocalProcessSpawner,
    "Authenticator": Authenticator,
    "SharedPasswordAuthenticator": SharedPasswordAuthenticator,
}
CREDENTIAL_NAMES = ("SCOUT_STORAGE_URL", "SCOUT_ACCESS_LOG_URL", "SCOUT_SIGNING_KEY_FILE", "AWS_", "SUPABASE_")


def hub_config(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-the-hub-environment")
    return PyFileConfigLoader("jupyterhub_config.py", path=str(DEPLOY / "jupyterhub")).load_config()


def test_the_hub_example_uses_real_settings(monkeypatch):
    config = hub_config(monkeypatch)
    for section, values in config.items():
        traits = CLASSES[section].class_traits(config=True)
        assert set(values) <= set(traits), f"unknown {section} settings: {set(values) - set(traits)}"


def test_the_hub_example_keeps_credentials_in_the_service(monkeypatch):
    config = hub_config(monkeypatch)
    (service,) = config.JupyterHub.services
    env = service["environment"]
    assert service["command"] == ["jupyter-scout"] and service["url"].startswith("http://127.0.0.1:")
    assert env["AWS_SECRET_ACCESS_KEY"] == "from-the-hub-environment"  # passed to the service only
    parse_limit(env["SCOUT_RATE_LIMIT"])
    assert parse_schedule(env["SCOUT_PUBLISH_SCHEDULE"]) == "15 2 * * *"
    assert env["SCOUT_ACCESS_LOG_URL"].startswith("postgresql")
    spawner_env = config.Spawner.environment
    assert set(spawner_env) == {"SCOUT_API_URL"}
    assert spawner_env["SCOUT_API_URL"].endswith(f"/services/{service['name']}/")
    assert not [name for name in spawner_env if name.startswith(CREDENTIAL_NAMES)]
    # kernels' tokens can reach the service and carry the Scout permissions the user holds
    scopes = set(config.Spawner.server_token_scopes)
    assert {f"access:services!service={service['name']}", "custom:scout:publish", "custom:scout:analytics"} <= scopes
    granted = {scope for role in config.JupyterHub.load_roles for scope in role["scopes"]}
    assert {s for s in granted | scopes if s.startswith("custom:")} <= set(config.JupyterHub.custom_scopes)


def test_the_cron_line_publishes_daily_at_0215_utc():
    lines = [
        line
        for line in (DEPLOY / "cron" / "scout-publish.cron").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert "CRON_TZ=UTC" in lines
    (job,) = [line for line in lines if "=" not in line.split()[0]]
    fields = job.split(None, 5)
    assert parse_schedule(" ".join(fields[:5])) == "15 2 * * *"
    words = shlex.split(fields[5].replace("&&", " && ").replace(">>", " >> "))
    assert "flock" in words and "-n" in words  # a run never overlaps the previous one
    assert words[words.index("publish") - 1].endswith("scout")


def test_the_ci_workflow_publishes_daily_at_0215_utc():
    workflow = yaml.safe_load((DEPLOY / "ci" / "scout-publish.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert [entry["cron"] for entry in triggers["schedule"]] == ["15 2 * * *"]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    steps = workflow["jobs"]["publish"]["steps"]
    (publish,) = [step for step in steps if "scout publish" in step.get("run", "")]
    assert publish["shell"] == "bash" and "--json" in publish["run"]
    assert all(value.startswith("${{ secrets.") for value in publish["env"].values())
