"""deploy/jupyterhub_config.py, loaded by JupyterHub's own config loader and spawner."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "jupyterhub_config.py"


@pytest.fixture
def hub_env(monkeypatch):
    monkeypatch.setenv("SJR_ROOT", "/srv/sjr")
    monkeypatch.setenv("SJR_DATABASE_URL_TEMPLATE", "postgresql+psycopg://sjr_{user}@db/sjr")
    monkeypatch.setenv("SJR_USER", "someone_else")  # must not reach a person's server


@pytest.fixture
def hub(hub_env):
    """A JupyterHub application with the deployment config loaded (not started)."""
    from jupyterhub.app import JupyterHub

    app = JupyterHub()
    app.load_config_file(str(CONFIG))
    return app


def _spawner_for(app, name: str):
    """A real spawner of the configured class for a hub user called ``name``."""
    from jupyterhub import orm
    from jupyterhub.objects import Hub
    from jupyterhub.user import User

    db = orm.new_session_factory("sqlite://")()
    orm_user = orm.User(name=name)
    db.add(orm_user)
    db.commit()
    hub = Hub(ip="127.0.0.1", port=8081, base_url="/hub/")
    user = User(orm_user, settings={"hub": hub, "config": app.config, "db": db, "domain": "",
                                    "statsd": None})
    spawner = user.spawner
    spawner.api_token = "test-token"
    return spawner


def test_spawner_serves_voila_dashboards_from_the_notebooks_folder(hub):
    from jupyterhub.spawner import LocalProcessSpawner

    spawner = _spawner_for(hub, "alice")
    assert isinstance(spawner, LocalProcessSpawner)
    assert spawner.cmd == ["sjr-singleuser"]  # jupyterhub-singleuser, lighter
    assert spawner.notebook_dir == "/srv/sjr/notebooks"
    assert spawner.default_url == "/voila/render/review_entry.ipynb"
    args = spawner.get_args()
    assert "--ServerApp.jpserver_extensions=voila=True" in args
    # no address picks another template or theme (?template=classic: jQuery from a CDN)
    assert {"--VoilaConfiguration.allow_template_override=NO",
            "--VoilaConfiguration.allow_theme_override=NO"} <= set(args)
    assert "--ServerApp.jpserver_extensions=jupyterlab=False" in args
    assert not any("disable_check_xsrf" in a for a in args)


def test_kernel_culling_matches_sjr_serve(hub):
    from jupyter_server.serverapp import ServerApp

    from sjrlib.dashboards.serve import CULL_IDLE_SECONDS, CULL_INTERVAL_SECONDS, voila_argv

    spawner = _spawner_for(hub, "alice")
    parsed = ServerApp()
    parsed.parse_command_line(spawner.get_args())
    culling = parsed.config.MappingKernelManager
    assert culling.cull_idle_timeout == CULL_IDLE_SECONDS
    assert culling.cull_interval == CULL_INTERVAL_SECONDS
    assert parsed.jpserver_extensions["voila"] is True
    assert f"--MappingKernelManager.cull_idle_timeout={CULL_IDLE_SECONDS}" in voila_argv(
        port=1, notebooks_dir="x")


def test_identity_comes_from_jupyterhub_user(hub):
    # LocalProcessSpawner runs servers as system users: use the one running the test.
    name = pwd.getpwuid(os.getuid()).pw_name
    spawner = _spawner_for(hub, name)
    env = spawner.get_env()
    assert env["JUPYTERHUB_USER"] == name
    assert "SJR_USER" not in env  # the hub's own SJR_USER is not passed on
    assert env["SJR_DATABASE_URL"] == f"postgresql+psycopg://sjr_{name}@db/sjr"
    # What the SJR session makes of that environment, in a fresh process as a kernel would be,
    # even with SJR_USER set and an explicit name asked for.
    kernel_env = {**os.environ, **env, "SJR_USER": "mallory"}
    code = ("from data_access.identity import resolve_username, IdentityError\n"
            "print(resolve_username())\n"
            "try:\n    resolve_username('mallory')\nexcept IdentityError:\n    print('refused')\n")
    out = subprocess.run([sys.executable, "-c", code], env=kernel_env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == [name, "refused"]


def test_database_url_is_required(hub_env, monkeypatch):
    from jupyterhub.app import JupyterHub

    monkeypatch.delenv("SJR_DATABASE_URL_TEMPLATE")
    monkeypatch.delenv("SJR_DATABASE_URL", raising=False)
    app = JupyterHub()
    app.load_config_file(str(CONFIG))
    with pytest.raises(RuntimeError, match="SJR_DATABASE_URL_TEMPLATE"):
        _spawner_for(app, pwd.getpwuid(os.getuid()).pw_name).get_env()


def test_dashboard_servers_render_only_the_dashboards_and_serve_no_files(hub):
    """What a dashboard server makes of its arguments (as jupyterhub-singleuser parses them):
    Voila renders the dashboards of ``sjr serve`` and nothing else (the report notebooks
    would run as the person), ``/voila/files/`` refuses every file (Voila served images under
    the folder to anyone reaching the proxy), and errors are the project's own pages; a
    researcher's JupyterLab has no Voila. tests/test_hub.py checks the dashboards' on a real
    hub."""
    from jupyter_server.serverapp import ServerApp
    from voila.configuration import VoilaConfiguration

    from sjrlib.dashboards.serve import DASHBOARDS
    from sjrlib.dashboards.voila_xsrf import SjrDashboards

    parsed = ServerApp()
    parsed.parse_command_line(_spawner_for(hub, "alice").get_args())
    assert parsed.jpserver_extensions["sjrlib.dashboards.voila_xsrf"] is True
    settings = SjrDashboards(parent=parsed)
    assert settings.offered() == list(DASHBOARDS)
    assert "national_report.ipynb" not in settings.offered()
    assert settings.own_error_pages is True
    assert VoilaConfiguration(parent=parsed).file_denylist == [".*"]
    # unconfigured (another server loading the extension for its cookie): Voila as it is
    assert SjrDashboards().offered() is None and SjrDashboards().own_error_pages is False

    # Researchers' JupyterLab opens any notebook of their folder by design: it loads neither
    # Voila (no /voila/ addresses to restrict) nor the dashboards' extension.
    import runpy

    from traitlets.config import Config

    lab_args = runpy.run_path(str(CONFIG), init_globals={"get_config": Config})["LAB_ARGS"]
    parsed = ServerApp()
    parsed.parse_command_line(lab_args)
    assert parsed.jpserver_extensions.get("jupyterlab") is True
    assert parsed.jpserver_extensions.get("voila") is False
    assert "sjrlib.dashboards.voila_xsrf" not in parsed.jpserver_extensions
    assert not any(a.startswith("--SjrDashboards.") for a in lab_args)
