"""``sjr serve`` and the JupyterHub servers (deploy/jupyterhub_config.py) run Voila with a
template of this package's own, ``sjr-offline``: Voila's ``lab`` one without the links to Font
Awesome on a public CDN (a third-party request from every dashboard page). The browser tests
``tests/browser/test_serve_offline.py`` and ``tests/test_hub.py`` check what a real page
requests; these check the pieces without a browser."""

from __future__ import annotations

import os
from pathlib import Path

import jinja2
import pytest

import sjrlib
from sjrlib.dashboards import serve

CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "jupyterhub_config.py"


def test_voila_is_asked_for_the_template_and_finds_it_on_its_path(tmp_path):
    assert f"--VoilaConfiguration.template={serve.TEMPLATE}" in serve.voila_argv(
        port=1, notebooks_dir=tmp_path)
    env = serve.voila_environment("sqlite:///data/sjr.db",
                                  base={"SJR_USER": "lead_a", "JUPYTER_PATH": "/elsewhere"})
    first, *rest = env["JUPYTER_PATH"].split(os.pathsep)
    assert rest == ["/elsewhere"]  # kept, after ours
    # the folder shipped in the package, not one written at run time
    assert Path(first) == serve.template_root()
    assert Path(first).is_relative_to(Path(sjrlib.__file__).resolve().parent)
    folder = Path(first) / "voila" / "templates" / serve.TEMPLATE
    assert (folder / "conf.json").is_file() and (folder / "index.html.j2").is_file()


def test_the_hub_servers_use_the_same_template(monkeypatch):
    """deploy/jupyterhub_config.py, loaded by JupyterHub's own loader: a dashboard server is
    asked for the template and finds this package's folder on JUPYTER_PATH, as Voila's server
    extension resolves it."""
    from jupyter_server.serverapp import ServerApp
    from jupyterhub.app import JupyterHub
    from voila.configuration import VoilaConfiguration
    from voila.paths import collect_template_paths

    monkeypatch.setenv("SJR_DATABASE_URL_TEMPLATE", "postgresql+psycopg://{db_role}@db/sjr")
    hub = JupyterHub()
    hub.load_config_file(str(CONFIG))
    environment = hub.config.Spawner.environment
    assert environment["JUPYTER_PATH"] == str(serve.template_root())
    server = ServerApp()
    server.parse_command_line(list(hub.config.Spawner.args))
    template = VoilaConfiguration(parent=server).template
    assert template == serve.TEMPLATE
    monkeypatch.setenv("JUPYTER_PATH", environment["JUPYTER_PATH"])
    found = collect_template_paths(["voila", "nbconvert"], template, prune=True)
    assert found[0] == str(serve.template_root() / "voila" / "templates" / serve.TEMPLATE)


def _voila_lab() -> Path:
    from jupyter_core.paths import jupyter_path

    for root in jupyter_path():
        if (Path(root) / "voila" / "templates" / "lab" / "index.html.j2").is_file():
            return Path(root)
    pytest.skip("Voila's lab template is not installed")


@pytest.mark.parametrize("autoescape", [False, True])
def test_the_template_renders_the_lab_head_without_the_cdn(autoescape):
    """The template, rendered as Voila renders it: its ``notebook_css`` block is the lab one
    less the CDN links (and they are still what Voila's lab template links: if Voila changes
    them, this fails rather than letting a request through), and the page configuration the
    body writes into the page names no MathJax URL (the page then uses Voila's bundled one)."""
    root = _voila_lab()
    lab = (root / "voila" / "templates" / "lab" / "index.html.j2").read_text()
    for link in serve._CDN_LINKS:
        assert link in lab
    assert "{%- block html_head_js_mathjax -%}" in lab and "{% set page_config_full = " \
        "page_config.copy() %}" in lab  # what the MathJax block's override relies on
    ours = serve.template_root()
    loader = jinja2.DictLoader({
        "voila/templates/lab/index.html.j2": (
            "{% block notebook_css %}<style>a{}</style>\n  " + "\n  ".join(serve._CDN_LINKS)
            + "\n<link rel='stylesheet' href='local.css'>{% endblock %}"
            "{% block html_head_js_mathjax %}{% endblock %}"
            "{% set page_config_full = page_config.copy() %}"
            "<script>{{ page_config_full | tojson }}</script>"),
        "page": (ours / "voila" / "templates" / serve.TEMPLATE / "index.html.j2").read_text(),
    })
    page_config = {"baseUrl": "/user/x/", "mathjaxConfig": "TeX-AMS_CHTML-full,Safe",
                   "fullMathjaxUrl": "https://cdnjs.cloudflare.com/ajax/libs/mathjax/3.2.2/"
                                     "es5/latest.min.js"}
    page = jinja2.Environment(loader=loader, autoescape=autoescape).get_template(
        "page").render(page_config=page_config)
    assert "cdn.jsdelivr.net" not in page and "https://" not in page
    assert "<style>a{}</style>" in page and "local.css" in page
    assert '"fullMathjaxUrl": null' in page and '"mathjaxConfig": null' in page
    assert '"baseUrl": "/user/x/"' in page
