"""Hub permissions mapped onto scout resources, and the service's settings from the hub's
variables (the hub itself is exercised in tests/hub/)."""

from __future__ import annotations

import json

import pytest
from jupyterhub.singleuser.extension import JupyterHubUser

from scout_jupyter import settings
from scout_jupyter.errors import ConfigError
from scout_jupyter.server.hub import (
    ScoutHubAuthorizer,
    ScoutHubIdentityProvider,
    hub_service_config,
    running_as_hub_service,
)

ACCESS = "access:services!service=scout"
SERVICE_ENV = {
    "JUPYTERHUB_SERVICE_NAME": "scout",
    "JUPYTERHUB_SERVICE_URL": "http://127.0.0.1:10101",
    "JUPYTERHUB_SERVICE_PREFIX": "/services/scout/",
}


@pytest.fixture
def authorizer(monkeypatch) -> ScoutHubAuthorizer:
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "service-token")
    monkeypatch.setenv("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api")
    monkeypatch.setenv("JUPYTERHUB_CLIENT_ID", "service-scout")
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/services/scout/")
    monkeypatch.setenv("JUPYTERHUB_OAUTH_ACCESS_SCOPES", json.dumps(["access:services", ACCESS]))
    monkeypatch.setenv("SCOUT_HUB_PUBLISH_GROUPS", "leads, release")
    return ScoutHubAuthorizer(identity_provider=ScoutHubIdentityProvider())


def user(name: str, scopes=(ACCESS,), groups=()) -> JupyterHubUser:
    return JupyterHubUser({"name": name, "kind": "user", "scopes": list(scopes), "groups": list(groups)})


@pytest.mark.parametrize(
    "who, resource, allowed",
    [
        (user("ann"), "scout:datasets", True),
        (user("ann"), "scout:publish", False),
        (user("ann"), "scout:analytics", False),
        (user("pat", scopes=(ACCESS, "custom:scout:publish")), "scout:publish", True),
        (user("pat", scopes=(ACCESS, "custom:scout:publish")), "scout:analytics", False),
        (user("ada", scopes=(ACCESS, "custom:scout:analytics")), "scout:analytics", True),
        (user("gil", groups=("release",)), "scout:publish", True),  # group mapped by SCOUT_HUB_PUBLISH_GROUPS
        (user("gil", groups=("release",)), "scout:analytics", False),
        (user("out", scopes=("access:services!service=other",)), "scout:datasets", False),  # no access to us
        (user("out", scopes=("custom:scout:publish",), groups=("leads",)), "scout:publish", False),
    ],
)
def test_hub_permissions_map_onto_scout_resources(authorizer, who, resource, allowed):
    action = "write" if resource == "scout:publish" else "read"
    assert authorizer.is_authorized(None, who, action, resource) is allowed


@pytest.mark.parametrize("resource", ["kernels", "contents", "terminals", "sessions", "server", "files", "api"])
def test_the_credential_holder_never_serves_anything_else(authorizer, resource):
    everything = user(
        "root", scopes=(ACCESS, "custom:scout:publish", "custom:scout:analytics", "admin:users"), groups=("leads",)
    )
    assert authorizer.is_authorized(None, everything, "write", resource) is False
    assert authorizer.is_authorized(None, everything, "read", resource) is False


def test_denials_say_what_permission_it_takes(authorizer):
    message = authorizer.denial(user("bob"), "scout:publish")
    assert message == (
        "Access denied: bob may not publish (it takes the hub scope custom:scout:publish or "
        "membership in hub group leads, release; ask a hub admin)"
    )
    assert "custom:scout:analytics" in authorizer.denial(user("bob"), "scout:analytics")
    assert authorizer.denial(None, "scout:datasets").startswith("Access denied: no hub login or token with access")
    assert authorizer.denial(user("out"), "scout:datasets").startswith("Access denied: out has no access to the")
    assert ACCESS in authorizer.denial(None, "scout:datasets")


def test_the_service_configures_itself_from_the_hubs_variables(monkeypatch):
    assert running_as_hub_service(SERVICE_ENV) and not running_as_hub_service({"JUPYTERHUB_API_TOKEN": "t"})
    config = hub_service_config(SERVICE_ENV)
    assert (config["ip"], config["port"], config["base_url"]) == ("127.0.0.1", 10101, "/services/scout/")
    assert config["trust_xheaders"] is True  # signed URLs name the proxy's scheme and host
    assert config["allow_remote_access"] is True  # the hub's public name in the Host header
    assert config["identity_provider_class"] is ScoutHubIdentityProvider
    assert config["authorizer_class"] is ScoutHubAuthorizer
    assert config["jpserver_extensions"] == {"scout_jupyter": True}  # no Lab, no terminals in the service
    with pytest.raises(ConfigError, match="JUPYTERHUB_SERVICE_URL must be http://host:port") as caught:
        hub_service_config({**SERVICE_ENV, "JUPYTERHUB_SERVICE_URL": "unix:/run/scout.sock"})
    assert "\n" not in caught.value.message
    for name, value in SERVICE_ENV.items():
        monkeypatch.setenv(name, value)
    assert settings.running_as_hub_service()


def test_a_hub_user_server_relays_to_the_service_and_opens_no_store(monkeypatch):
    from scout_jupyter.server.app import ScoutExtension

    for name in SERVICE_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SCOUT_API_URL", "http://hub.example:8000/services/scout/")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "server-token")
    assert ScoutExtension().service_url == "http://hub.example:8000/services/scout/"
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN")
    assert ScoutExtension().service_url == ""  # a plain server with SCOUT_API_URL set is still itself
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "service-token")
    for name, value in SERVICE_ENV.items():
        monkeypatch.setenv(name, value)
    extension = ScoutExtension()
    assert extension.hub_service and extension.service_url == ""  # the service itself


def test_a_bad_service_url_stops_jupyter_scout_with_one_line(monkeypatch):
    from scout_jupyter.server import app

    for name, value in {**SERVICE_ENV, "JUPYTERHUB_SERVICE_URL": "https://127.0.0.1:10101"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(app.ScoutExtension, "serverapp_config", {})
    with pytest.raises(SystemExit) as caught:
        app.main([])
    assert str(caught.value) == (
        "jupyter scout: JUPYTERHUB_SERVICE_URL must be http://host:port (the service's "
        "\"url\" in c.JupyterHub.services), got 'https://127.0.0.1:10101'"
    )
