"""JupyterHub configuration for the SJR dashboards in a real deployment.

Run with ``jupyterhub -f deploy/jupyterhub_config.py`` (see ``deploy/README.md``). Each signed-in
person gets their own single-user Jupyter server, which serves the Voila dashboards at
``/user/<name>/voila/render/review_entry.ipynb`` and ``.../explore.ipynb``. JupyterHub sets
``JUPYTERHUB_USER`` in that server's environment, its kernels inherit it, and the SJR session
(``data_access.open_session``) takes the user from it: no URL and no ``SJR_USER`` can choose who
you are under the hub.

Site settings come from the hub's environment, so this file is the same everywhere:

``SJR_ROOT``
    the checkout of this repository (default ``/opt/sjr``): notebooks are served from
    ``$SJR_ROOT/notebooks``.
``SJR_DATABASE_URL_TEMPLATE``
    the database URL for one person's server; ``{user}`` is replaced by their hub name, so each
    person can connect as their own database role (PostgreSQL row-level security then holds
    even against code run in their own kernel). Default: ``SJR_DATABASE_URL`` as it is.
``SJR_HUB_BIND_URL``
    where the hub listens (default ``http://127.0.0.1:8000``: put TLS in front of it).
``SJR_HUB_AUTHENTICATOR``
    the authenticator class (default ``pam``; use your organisation's single sign-on, e.g. an
    OAuthenticator class, in production).
"""

import os

c = get_config()  # noqa: F821 - injected by JupyterHub's config loader

SJR_ROOT = os.environ.get("SJR_ROOT", "/opt/sjr")
NOTEBOOKS_DIR = os.path.join(SJR_ROOT, "notebooks")

# Kernel culling for the single-user servers. Voila 0.5 cannot shut a kernel down when its page
# closes (voila#1458), so idle kernels with no page connected are culled; a page that is still
# open keeps its kernel. The same figures as `sjr serve` (sjrlib/dashboards/serve.py).
CULL_IDLE_SECONDS = 900
CULL_INTERVAL_SECONDS = 60


def _database_url(spawner) -> str:
    """The database URL for one person's server (``{user}`` = their hub name)."""
    template = os.environ.get("SJR_DATABASE_URL_TEMPLATE") or os.environ.get(
        "SJR_DATABASE_URL", ""
    )
    if not template:
        raise RuntimeError(
            "set SJR_DATABASE_URL_TEMPLATE (or SJR_DATABASE_URL) in the hub's environment"
        )
    return template.replace("{user}", spawner.user.name)


# -- the hub itself -------------------------------------------------------------------------
c.JupyterHub.bind_url = os.environ.get("SJR_HUB_BIND_URL", "http://127.0.0.1:8000")
c.JupyterHub.authenticator_class = os.environ.get("SJR_HUB_AUTHENTICATOR", "pam")
# Anyone the authenticator lets in may start a server; what they may see is decided by the SJR
# users table (an unknown or disabled user gets "access denied" from every dashboard).
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "localprocess"
c.JupyterHub.shutdown_on_logout = True

# -- each person's server: Jupyter Server with the Voila extension ----------------------------
c.Spawner.cmd = ["jupyterhub-singleuser"]
c.Spawner.notebook_dir = NOTEBOOKS_DIR
c.Spawner.default_url = "/voila/render/review_entry.ipynb"
c.Spawner.args = [
    # dashboards only: no JupyterLab or notebook interface for clinicians
    "--ServerApp.jpserver_extensions=voila=True",
    "--ServerApp.jpserver_extensions=jupyterlab=False",
    "--ServerApp.jpserver_extensions=notebook=False",
    f"--MappingKernelManager.cull_idle_timeout={CULL_IDLE_SECONDS}",
    f"--MappingKernelManager.cull_interval={CULL_INTERVAL_SECONDS}",
    "--MappingKernelManager.cull_connected=False",
    "--VoilaConfiguration.show_tracebacks=False",
    # XSRF protection stays on (never --ServerApp.disable_check_xsrf)
]
c.Spawner.environment = {
    "SJR_DATABASE_URL": _database_url,
    "MPLBACKEND": "Agg",
}
# Only these variables pass from the hub's environment to a person's server. SJR_USER and
# SJR_CONFIG are deliberately absent: under the hub the identity is JUPYTERHUB_USER, set by the
# spawner for the authenticated person.
c.Spawner.env_keep = ["PATH", "LANG", "LC_ALL", "TZ", "VIRTUAL_ENV"]
c.Spawner.http_timeout = 60
c.Spawner.start_timeout = 120
