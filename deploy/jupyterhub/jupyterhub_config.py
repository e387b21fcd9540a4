# JupyterHub with the Scout dataset service: an example for a team (JupyterHub 5 or 6).
#
#   pip install "scout-jupyter[hub]"            # jupyterhub, jupyter scout, the PostgreSQL driver
#   npm install -g configurable-http-proxy      # the hub's proxy
#   jupyterhub -f deploy/jupyterhub/jupyterhub_config.py
#
# `jupyter scout` runs as a hub-managed service: the only process with the storage credentials, the
# signing key and the access log. Users' servers and kernels hold none of them; they reach the
# service through the hub's proxy with the token their server already has (JUPYTERHUB_API_TOKEN),
# so rate limits and access-log rows are per hub user. The names to adapt are marked "ADAPT".
import os

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file

PUBLIC_URL = os.environ.get("HUB_PUBLIC_URL", "http://127.0.0.1:8000")  # ADAPT: how users reach the hub
SERVICE = "scout"
SERVICE_PORT = 10101  # where the service listens (loopback only; the proxy routes /services/scout/ there)

c.JupyterHub.bind_url = PUBLIC_URL
c.JupyterHub.public_url = PUBLIC_URL

# --- who logs in ------------------------------------------------------------------------------
# ADAPT: your authenticator (OAuthenticator, LDAP, PAM …). The shared password is for a trial.
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = os.environ.get("HUB_SHARED_PASSWORD", "change-me-please")
c.Authenticator.allowed_users = {"alice", "bob"}
c.Authenticator.admin_users = {"alice"}

# --- the users' servers -----------------------------------------------------------------------
c.JupyterHub.spawner_class = "simple"  # ADAPT: local processes here; DockerSpawner/KubeSpawner alike
c.SimpleLocalProcessSpawner.home_dir_template = "/srv/jupyterhub/home/{username}"
# The spawner environment is how kernels find the service: the client and the %scout magic read
# SCOUT_API_URL (the service's URL through the proxy) and authenticate with JUPYTERHUB_API_TOKEN.
# The user's own server sees it too and relays its /scout/api routes (used by the sidebar and the
# widgets) to the service. Nothing else of Scout is set here: no store, no key, no log URL.
c.Spawner.environment = {"SCOUT_API_URL": f"{PUBLIC_URL}/services/{SERVICE}/"}
# The server's token (the kernels' JUPYTERHUB_API_TOKEN) carries only these scopes, and only those
# the user holds: list access to the service and the Scout permissions, or kernels get 403.
c.Spawner.server_token_scopes = [
    "users:activity!user",
    "access:servers!server",
    "read:users:groups!user",  # lets the service see group membership (publish_groups below)
    f"access:services!service={SERVICE}",
    "custom:scout:publish",
    "custom:scout:analytics",
]

# --- permissions: who may publish and read the access analytics -------------------------------
# Everyone with access to the service may list, load and sign. Publishing and the analytics are
# hub permissions: the custom scopes below (mapped by the service onto scout:publish and
# scout:analytics), granted here to groups through roles.
c.JupyterHub.custom_scopes = {
    "custom:scout:publish": {"description": "Start Scout publish jobs and read their status"},
    "custom:scout:analytics": {"description": "Read the Scout access analytics"},
}
c.JupyterHub.load_groups = {
    "data-engineering": {"users": ["alice"]},  # ADAPT
}
c.JupyterHub.load_roles = [
    {"name": "user", "scopes": ["self", f"access:services!service={SERVICE}"]},
    {"name": "scout-publisher", "groups": ["data-engineering"],
     "scopes": ["custom:scout:publish", "custom:scout:analytics"]},
]

# --- the Scout service ------------------------------------------------------------------------
# Run it as its own system user, so kernels (running as the users) cannot read its files.
c.JupyterHub.services = [
    {
        "name": SERVICE,
        "url": f"http://127.0.0.1:{SERVICE_PORT}",
        "command": ["jupyter-scout"],  # configures itself from JUPYTERHUB_SERVICE_URL / _PREFIX
        "user": "scout",  # ADAPT: a system user owning /srv/scout (omit when the hub is not root)
        "cwd": "/srv/scout",
        "oauth_no_confirm": True,
        "environment": {
            "SCOUT_STORAGE_URL": "s3://scout-datasets",  # ADAPT: s3://, supabase:// or file:///…
            # the store's credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SUPABASE_URL/
            # SUPABASE_SERVICE_ROLE_KEY): pass them from the hub's environment, never into c.Spawner
            **{k: v for k, v in os.environ.items() if k.startswith(("AWS_", "SUPABASE_"))},
            "SCOUT_ACCESS_LOG_URL": "postgresql+psycopg://scout@127.0.0.1/scout",  # ADAPT
            "SCOUT_PUBLISH_CONFIG": "/srv/scout/datasets.toml",  # ADAPT
            "SCOUT_RATE_LIMIT": "30 per 3 minutes",  # per hub user, moving window
            "SCOUT_PUBLISH_SCHEDULE": "15 2 * * *",  # publish every dataset daily at 02:15 UTC; "" = off
            # groups whose members may publish / read analytics whatever their scopes (optional):
            # "SCOUT_HUB_PUBLISH_GROUPS": "data-engineering",
            # "SCOUT_HUB_ANALYTICS_GROUPS": "analysts",
        },
    },
]
