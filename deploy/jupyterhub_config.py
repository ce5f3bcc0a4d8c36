"""JupyterHub configuration for SJR in a real deployment.

Run with ``jupyterhub -f deploy/jupyterhub_config.py`` (see ``deploy/README.md``). Each signed-in
person gets their own single-user Jupyter server; what it offers is decided, when it is started,
from the SJR users table (``data_access.hub.spawn_plan``, read with the hub's own database
credentials):

- organisation leads and the programme team: the Voila dashboards only, opening on
  ``/user/<name>/voila/render/explore.ipynb`` (no JupyterLab, notebook interface or terminals);
- reviewers: the dashboards only, opening on the review entry form;
- researchers: JupyterLab, opening on their own copy of the researcher quick-start notebook;
  extracts come from the ``sjr-extract`` service (``data_access.extract_service``), run by the
  hub with the service's own database credentials;
- administrators, names not in the users table and disabled users: access denied (no server).

Each person's kernels connect to the database as that person's own role (the URL template), so
PostgreSQL row-level security holds even for code typed into their kernel.

Site settings come from the hub's environment, so this file is the same everywhere:

``SJR_ROOT``
    the checkout of this repository (default ``/opt/sjr``): notebooks are served from
    ``$SJR_ROOT/notebooks``.
``SJR_DATABASE_URL_TEMPLATE``
    the database URL of one person's server; ``{db_role}`` is replaced by their database role
    (``users.db_role``) and ``{user}`` by their hub name. Required, and must name the person:
    a shared URL would give everyone the same credentials.
``SJR_SERVICE_DATABASE_URL``
    the hub's and the extract service's own credentials (a service role, or the owner); used to
    read the users table at spawn time and to make extracts. Never given to a person's server.
    Default: ``SJR_DATABASE_URL``.
``SJR_KEY_FILE``
    the approval key file (the pseudonymisation secrets, kept outside the store; see
    ``data_access.approval_keys``), passed to the extract service only, never to a person's
    server. Unset: the service account's own default key file.
``SJR_HUB_BIND_URL``
    where the hub listens (default ``http://127.0.0.1:8000``: put TLS in front of it).
``SJR_HUB_AUTHENTICATOR``
    the authenticator class (default ``pam``; use your organisation's single sign-on, e.g. an
    OAuthenticator class, in production; ``dummy`` only in tests).
``SJR_HUB_SPAWNER``
    the spawner class (default ``localprocess``: one system user per person; ``simple`` only in
    tests, it runs everyone's server as the hub's own user).
``SJR_HUB_HOME_TEMPLATE``
    home folders of the ``simple`` spawner (``{username}``); tests only.
``SJR_EXTRACT_SERVICE_PORT``
    the local port of the extract service (default 8091).
"""

import os
import pwd
import shutil
import sys

from sjrlib.dashboards.serve import (
    DASHBOARDS,
    DASHBOARDS_ARG,
    KERNEL_ENCRYPTION,
    NO_OVERRIDES,
    TEMPLATE,
    template_root,
)

c = get_config()  # noqa: F821 - injected by JupyterHub's config loader

SJR_ROOT = os.environ.get("SJR_ROOT", "/opt/sjr")
NOTEBOOKS_DIR = os.path.join(SJR_ROOT, "notebooks")
EXTRACT_SERVICE = "sjr-extract"  # data_access.extract_service.SERVICE_NAME
EXTRACT_SERVICE_PORT = int(os.environ.get("SJR_EXTRACT_SERVICE_PORT", "8091"))
EXTRACT_SERVICE_URL = f"http://127.0.0.1:{EXTRACT_SERVICE_PORT}"

# Kernel culling for the single-user servers: leaving a page shuts its kernel down
# (sjrlib.dashboards.voila_xsrf, below); idle kernels with no page connected (a browser that
# died) are culled; a page that is still open keeps its kernel. The same figures as `sjr serve`
# (sjrlib/dashboards/serve.py).
CULL_IDLE_SECONDS = 900
CULL_INTERVAL_SECONDS = 60
CULLING_ARGS = [
    # kernels' channels encrypted with keys of their own (CurveZMQ): without, any account on
    # the machine could subscribe to a kernel's IOPub port on 127.0.0.1 and read its outputs
    # (sjrlib.dashboards.serve.KERNEL_ENCRYPTION)
    KERNEL_ENCRYPTION,
    f"--MappingKernelManager.cull_idle_timeout={CULL_IDLE_SECONDS}",
    f"--MappingKernelManager.cull_interval={CULL_INTERVAL_SECONDS}",
    "--MappingKernelManager.cull_connected=False",
    # XSRF protection stays on (never --ServerApp.disable_check_xsrf)
]
DASHBOARD_ARGS = [
    # dashboards only: no JupyterLab, notebook interface or terminals
    "--ServerApp.jpserver_extensions=voila=True",
    # leaving a page shuts its kernel down (voila#1458; sjrlib/dashboards/voila_xsrf.py)
    "--ServerApp.jpserver_extensions=sjrlib.dashboards.voila_xsrf=True",
    "--ServerApp.jpserver_extensions=jupyterlab=False",
    "--ServerApp.jpserver_extensions=notebook=False",
    "--ServerApp.jpserver_extensions=jupyter_lsp=False",
    "--ServerApp.terminals_enabled=False",
    "--VoilaConfiguration.show_tracebacks=False",
    # Pages fetch nothing from any host but the hub's (a hospital network must not make
    # third-party requests, which would also tell the third party who opened a dashboard
    # when): the template `sjr serve` uses, found on JUPYTER_PATH (c.Spawner.environment,
    # below); Voila's lab template without its Font Awesome links to cdn.jsdelivr.net and with
    # MathJax from Voila's own bundle, not cdnjs.cloudflare.com (sjrlib/dashboards/serve.py)
    f"--VoilaConfiguration.template={TEMPLATE}",
    # and an address cannot choose another template or theme (?template=classic fetches
    # jQuery from cdnjs.cloudflare.com into the signed-in page)
    *NO_OVERRIDES,
    # only the dashboards are rendered: the report notebooks beside them in the folder (e.g.
    # /voila/render/national_report.ipynb) are not found (404), and never run as the person
    # (sjrlib.dashboards.voila_xsrf.SjrDashboards; the same list as `sjr serve`)
    f"{DASHBOARDS_ARG}{','.join(DASHBOARDS)}",
    # /voila/files/ served images under the folder to anyone reaching the proxy, signed in or
    # not (a plain static handler); no dashboard loads anything from there: every file refused
    "--VoilaConfiguration.file_denylist=.*",
    # errors are short pages of our own (Voila's 404 page links Font Awesome from a CDN)
    "--SjrDashboards.own_error_pages=True",
    *CULLING_ARGS,
]
# Researchers' JupyterLab loads neither Voila nor sjrlib.dashboards.voila_xsrf: it has no
# /voila/ addresses, and opens any notebook of their folder by design.
LAB_ARGS = [
    "--ServerApp.jpserver_extensions=jupyterlab=True",
    "--ServerApp.jpserver_extensions=voila=False",
    *CULLING_ARGS,
]


# The simple spawner (tests only) runs every server as the hub's own system user, which in a CI
# container is root; a real deployment's servers run as each person's own user, never root.
if os.environ.get("SJR_HUB_SPAWNER") == "simple" and os.getuid() == 0:
    DASHBOARD_ARGS.append("--ServerApp.allow_root=True")
    LAB_ARGS.append("--ServerApp.allow_root=True")


def _template() -> str:
    """The per-person URL template; one that names no person is refused, as it would hand
    every person the same (non-person) credentials, which may name any user."""
    template = os.environ.get("SJR_DATABASE_URL_TEMPLATE", "")
    if not template:
        raise RuntimeError("set SJR_DATABASE_URL_TEMPLATE in the hub's environment: each "
                           "person's database URL, e.g. postgresql+psycopg://{db_role}@db/sjr")
    if "{db_role}" not in template and "{user}" not in template:
        raise RuntimeError("SJR_DATABASE_URL_TEMPLATE names no person ({db_role}): every "
                           "person's server would get the same credentials")
    return template


def _service_database_url() -> str:
    url = os.environ.get("SJR_SERVICE_DATABASE_URL") or os.environ.get("SJR_DATABASE_URL", "")
    if not url:
        raise RuntimeError("set SJR_SERVICE_DATABASE_URL (the hub's and the extract service's "
                           "own database credentials) in the hub's environment")
    return url


def _database_url(spawner) -> str:
    """The database URL of one person's server (their own role; set by the pre-spawn hook)."""
    plan = getattr(spawner, "sjr_plan", None)
    if plan is None:  # no hook ran (e.g. the spawner built outside the hub): the hub name
        return _template().replace("{user}", spawner.user.name)
    from data_access.hub import person_database_url

    return person_database_url(_template(), plan)


def _home(spawner) -> str:
    home = getattr(spawner, "home_dir", None)  # the simple spawner (tests)
    return home or pwd.getpwnam(spawner.user.name).pw_dir


def _give_quickstart(spawner) -> str:
    """Copy the researcher quick-start notebook into the researcher's home (once)."""
    from data_access.hub import QUICKSTART_NOTEBOOK

    home = _home(spawner)
    os.makedirs(home, mode=0o700, exist_ok=True)
    target = os.path.join(home, QUICKSTART_NOTEBOOK)
    if not os.path.exists(target):
        shutil.copyfile(os.path.join(NOTEBOOKS_DIR, QUICKSTART_NOTEBOOK), target)
        if os.getuid() == 0 and not getattr(spawner, "home_dir", None):
            # a hub run as root hands the copy to the person (not with the simple spawner,
            # whose servers run as the hub's own user)
            account = pwd.getpwnam(spawner.user.name)
            os.chown(target, account.pw_uid, account.pw_gid)
    return home


def sjr_pre_spawn_hook(spawner) -> None:
    """Decide from the SJR users table what this person's server offers (or refuse it)."""
    from sqlalchemy import create_engine
    from tornado import web

    from data_access.hub import LAB, SpawnRefused, person_database_url, spawn_plan

    engine = create_engine(_service_database_url())
    try:
        plan = spawn_plan(spawner.user.name, engine)
        person_database_url(_template(), plan)  # refuses a person without a database role
    except SpawnRefused as refused:
        from data_access.session import _audit_open_denied

        try:
            _audit_open_denied(engine, spawner.user.name, str(refused), "jupyterhub")
        except Exception:  # noqa: BLE001 - the refusal stands even when it cannot be logged
            spawner.log.exception("could not audit the refused spawn of %s", spawner.user.name)
        denied = web.HTTPError(403, str(refused))
        denied.jupyterhub_message = str(refused)  # what the hub's error page shows
        raise denied from None
    finally:
        engine.dispose()
    spawner.sjr_plan = plan
    spawner.default_url = plan.default_url
    if plan.interface == LAB:
        spawner.notebook_dir = _give_quickstart(spawner)
        spawner.args = list(LAB_ARGS)
        spawner.environment = {**spawner.environment,
                               "SJR_EXTRACT_SERVICE_URL": EXTRACT_SERVICE_URL
                               + f"/services/{EXTRACT_SERVICE}/"}
    else:
        spawner.notebook_dir = NOTEBOOKS_DIR
        spawner.args = list(DASHBOARD_ARGS)


# -- the hub itself -------------------------------------------------------------------------
c.JupyterHub.bind_url = os.environ.get("SJR_HUB_BIND_URL", "http://127.0.0.1:8000")
c.JupyterHub.authenticator_class = os.environ.get("SJR_HUB_AUTHENTICATOR", "pam")
# Anyone the authenticator lets in may ask for a server; the pre-spawn hook then decides from
# the SJR users table (an unknown or disabled name gets "access denied" and no server).
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = os.environ.get("SJR_HUB_SPAWNER", "localprocess")
if os.environ.get("SJR_HUB_HOME_TEMPLATE"):
    c.SimpleLocalProcessSpawner.home_dir_template = os.environ["SJR_HUB_HOME_TEMPLATE"]
c.JupyterHub.shutdown_on_logout = True

# -- the researchers' extract service: the service's own credentials and the key file --------
_service_env = {
    "SJR_DATABASE_URL": (os.environ.get("SJR_SERVICE_DATABASE_URL")
                         or os.environ.get("SJR_DATABASE_URL", "")),
    "PYTHONUNBUFFERED": "1",
}
if os.environ.get("SJR_KEY_FILE"):
    _service_env["SJR_KEY_FILE"] = os.environ["SJR_KEY_FILE"]
c.JupyterHub.services = [{
    "name": EXTRACT_SERVICE,
    "url": EXTRACT_SERVICE_URL,
    "command": [sys.executable, "-m", "data_access.extract_service"],
    "environment": _service_env,
    "display": False,  # an API for notebooks, not a page for people
}]
# Every person's server token may call the extract service; the service itself decides from the
# SJR users table and the approvals (only a researcher with a current approval gets an extract).
c.JupyterHub.load_roles = [{
    "name": "user",
    "scopes": ["self", f"access:services!service={EXTRACT_SERVICE}"],
}]
c.Spawner.server_token_scopes = [
    "users:activity!user",
    "access:servers!server",
    f"access:services!service={EXTRACT_SERVICE}",
]

# -- each person's server: Jupyter Server; dashboards or JupyterLab set by the hook ----------
c.Spawner.pre_spawn_hook = sjr_pre_spawn_hook
# jupyterhub-singleuser, without 1.3 s of parser building at each start (sjrlib/import_speed.py)
c.Spawner.cmd = ["sjr-singleuser"]
c.Spawner.notebook_dir = NOTEBOOKS_DIR
c.Spawner.default_url = "/voila/render/review_entry.ipynb"
c.Spawner.args = list(DASHBOARD_ARGS)
c.Spawner.environment = {
    "SJR_DATABASE_URL": _database_url,
    "MPLBACKEND": "Agg",
    # where Voila finds the sjr-offline template (DASHBOARD_ARGS), shipped in sjrlib
    "JUPYTER_PATH": str(template_root()),
}
# Only these variables pass from the hub's environment to a person's server. SJR_USER,
# SJR_CONFIG and the service's credentials are deliberately absent: under the hub the identity
# is the person's database role and JUPYTERHUB_USER, set by the spawner for the authenticated
# person.
c.Spawner.env_keep = ["PATH", "LANG", "LC_ALL", "TZ", "VIRTUAL_ENV"]
c.Spawner.http_timeout = 60
c.Spawner.start_timeout = 120
