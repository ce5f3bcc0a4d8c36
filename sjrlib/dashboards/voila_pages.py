"""The two pages of ``sjr serve`` that are not dashboards: its root address and its login form.

Voila's own log line prints the server's plain address (``http://127.0.0.1:8866/?token=...``,
the token masked), so a person opens the root. There they met Jupyter's pages: in a browser not
signed in, Jupyter Server's login form, which explains token authentication with
``jupyter server list`` (which does not list this server) and how to enable a password (which
``sjr serve`` does not allow); signed in, Voila's file tree, listing the report notebooks beside
the dashboards and loading Font Awesome from a public CDN. Here, in the Voila process of
``sjr serve`` (:mod:`sjrlib.dashboards.voila_xsrf` applies :func:`use_sjr_pages`):

- the login form keeps its field and its check (the run's token and nothing else; no password
  can be set) and says where the token is: in the addresses ``sjr serve`` printed;
- the root (and ``/voila/tree``) is, for a signed-in browser, an index of the dashboards, one
  line each, fetching nothing from anywhere; a browser not signed in is sent to the login form,
  as before.

Under JupyterHub the hub signs people in and neither page is used.
"""

from __future__ import annotations

import html
from pathlib import Path

__all__ = ["LOGIN_TEMPLATE", "dashboard_index", "dashboard_title", "use_sjr_pages"]

LOGIN_TEMPLATE = """{% extends "page.html" %}
{% block title %}SJR dashboards: sign in{% endblock %}
{% block logo %}<strong>SJR dashboards</strong>{% endblock %}
{% block site %}
<div id="jupyter-main-app" class="container">
  <div class="col-sm-8 col-sm-offset-2 text-left">
    <h3>This browser is not signed in to the dashboards</h3>
    <p>Open one of the addresses that <code>sjr serve</code> (or <code>make serve</code>)
      printed in its terminal: each ends in <code>?token=</code> and this run's token, and
      signs this browser in until the server stops. Or paste the token, the characters after
      <code>?token=</code>, here:</p>
    <form action="{{base_url}}login?next={{next}}" method="post" class="form-inline">
      {{ xsrf_form_html() | safe }}
      <label for="password_input"><strong>Token:</strong></label>
      <input type="password" name="password" id="password_input" class="form-control"
        autocomplete="off">
      <button type="submit" class="btn btn-default" id="login_submit">Sign in</button>
    </form>
    {% if message %}
    <p class="message error"><strong>That is not the token of this run of the server.</strong>
      A token from an earlier run no longer works: it is new each time the server starts.</p>
    {% endif %}
    <p>Give the token and those addresses to nobody: with them, anyone with an account on
      this machine could use the dashboards as you.</p>
  </div>
</div>
{% endblock site %}
"""
"""Jupyter Server's ``login.html`` in this project's words: the same form (field
``password``, ids ``password_input`` and ``login_submit``, the XSRF field), posted to the same
handler, which checks the token."""

_INDEX_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:46rem;padding:0 1rem;"
    "color:#212b32}h1{font-size:1.6rem}li{margin:.8rem 0}a{color:#005eb8;font-weight:600}"
    "p.note{color:#4c6272}"
)


def dashboard_title(notebook: Path) -> str:
    """What a dashboard is, from its notebook's first line (``# Review entry, served by
    Voila ...`` -> ``Review entry``); the file name when that line says nothing."""
    import nbformat

    try:
        first = nbformat.read(str(notebook), as_version=4).cells[0].source.splitlines()[0]
    except (OSError, IndexError, ValueError):
        return notebook.name
    title = first.lstrip("# ").split(", served by", 1)[0].strip()
    return title if title and title != first.lstrip("# ").strip() else notebook.name


def dashboard_index(notebooks_dir: Path, base_url: str = "/") -> str:
    """The page at the server's root: a link to each dashboard with what it is."""
    from sjrlib.dashboards.serve import DASHBOARDS

    items = "".join(
        f'<li><a href="{html.escape(base_url)}voila/render/{html.escape(name)}">'
        f"{html.escape(dashboard_title(Path(notebooks_dir) / name))}</a></li>"
        for name in DASHBOARDS)
    return (
        "<!DOCTYPE html><html lang=\"en-GB\"><head><meta charset=\"utf-8\">"
        "<title>SJR dashboards</title>"
        f"<style>{_INDEX_STYLE}</style></head><body><h1>SJR dashboards</h1>"
        f"<ul>{items}</ul><p class=\"note\">This browser is signed in to this run of the "
        "server until it stops; the dashboards act as the person who started it.</p>"
        "</body></html>"
    )


def use_sjr_pages() -> None:
    """Serve :data:`LOGIN_TEMPLATE` as the login form and :func:`dashboard_index` at the root
    and ``/voila/tree`` (idempotent)."""
    from jupyter_server.base.handlers import JupyterHandler
    from tornado import web
    from voila.tornado.treehandler import TornadoVoilaTreeHandler
    from voila.voila_identity_provider import VoilaLoginHandler

    if getattr(VoilaLoginHandler.get_template, "_sjr", False):
        return

    def get_template(self, name):
        if name == "login.html":
            return self.settings["jinja2_env"].from_string(LOGIN_TEMPLATE)
        return JupyterHandler.get_template(self, name)

    @web.authenticated  # as Voila's tree: a browser not signed in goes to the login form
    async def get(self, path=""):
        if path.strip("/"):
            raise web.HTTPError(404)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(dashboard_index(Path(self.settings["contents_manager"].root_dir),
                                    self.base_url))

    get_template._sjr = True  # type: ignore[attr-defined]
    VoilaLoginHandler.get_template = get_template
    TornadoVoilaTreeHandler.get = get
