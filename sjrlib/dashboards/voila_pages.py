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

Under JupyterHub the hub signs people in and the login form is not used; the error pages are
(:func:`use_sjr_error_pages`), and so is the index at ``/voila/tree`` when the server is told
its dashboards (:func:`use_dashboard_index`; both configured in ``deploy/jupyterhub_config.py``).

Its error pages are this project's too (:func:`error_page`): Voila's 404 page linked Font Awesome
from cdn.jsdelivr.net and said "Voilà requires JavaScript", and an address no handler knows got
Tornado's bare "404: Not Found". Each is now a short page of its own, fetching nothing and
repeating nothing of the request (security audit of ``sjr serve``, 2026-12-06). The kernel API
keeps Jupyter Server's JSON errors.
"""

from __future__ import annotations

import html
from collections.abc import Collection
from pathlib import Path

from tornado import web

__all__ = ["HUB_NOTE", "LOGIN_TEMPLATE", "SERVE_NOTE", "NotFoundHandler", "dashboard_index",
           "dashboard_title", "error_page", "use_dashboard_index", "use_sjr_error_pages",
           "use_sjr_pages"]

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


SERVE_NOTE = ("This browser is signed in to this run of the server until it stops; the "
              "dashboards act as the person who started it.")
"""What the index says of who the dashboards act as, under ``sjr serve``."""

HUB_NOTE = "You are signed in through JupyterHub; the dashboards act as you."
"""The same, on a JupyterHub dashboard server."""


def dashboard_index(notebooks_dir: Path, base_url: str = "/",
                    dashboards: Collection[str] | None = None, note: str = SERVE_NOTE) -> str:
    """The page at the server's root: a link to each dashboard with what it is
    (``dashboards``: those offered, in this order; default every dashboard)."""
    from sjrlib.dashboards.serve import DASHBOARDS

    items = "".join(
        f'<li><a href="{html.escape(base_url)}voila/render/{html.escape(name)}">'
        f"{html.escape(dashboard_title(Path(notebooks_dir) / name))}</a></li>"
        for name in (DASHBOARDS if dashboards is None else dashboards))
    return (
        "<!DOCTYPE html><html lang=\"en-GB\"><head><meta charset=\"utf-8\">"
        "<title>SJR dashboards</title>"
        f"<style>{_INDEX_STYLE}</style></head><body><h1>SJR dashboards</h1>"
        f"<ul>{items}</ul><p class=\"note\">{html.escape(note)}</p>"
        "</body></html>"
    )


_ERRORS = {
    403: ("Not allowed", "This server does not show that page."),
    404: ("Not found", "There is no page at this address on this server."),
    500: ("Something went wrong", "The server could not show this page. Reload it; if it "
          "fails again, tell whoever looks after the dashboards when it happened."),
}


def error_page(status_code: int, base_url: str = "/") -> str:
    """A short error page for ``status_code``: what happened in a sentence and a link to the
    server's first page (the dashboards' list under ``sjr serve``, the person's first dashboard
    behind JupyterHub); no script, style sheet or image from anywhere, and nothing taken from
    the request (no path, no message), so that nothing in an address is shown back."""
    from http.client import responses

    if status_code in _ERRORS:
        title, text = _ERRORS[status_code]
    elif status_code >= 500:
        title, text = _ERRORS[500]
    else:
        title = responses.get(status_code, "Error")
        text = "The server could not answer that request."
    return (
        "<!DOCTYPE html><html lang=\"en-GB\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}: SJR dashboards</title>"
        f"<style>{_INDEX_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(text)}</p><p class=\"note\">Error {int(status_code)}. The dashboards "
        f"start at <a href=\"{html.escape(base_url or '/')}\">this server's first page"
        "</a>.</p></body></html>"
    )


def _write_error(self, status_code: int, **kwargs) -> None:
    """``write_error`` of the server's pages: :func:`error_page` (Voila's error template, which
    linked a CDN, and Tornado's bare page otherwise)."""
    self.set_header("Content-Type", "text/html; charset=UTF-8")
    self.set_header("Cache-Control", "no-store")
    self.write(error_page(status_code, self.settings.get("base_url", "/")))


class NotFoundHandler(web.RequestHandler):
    """An address no handler of the server knows: :func:`error_page` (404)."""

    def prepare(self) -> None:
        raise web.HTTPError(404)

    def check_xsrf_cookie(self) -> None:  # a POST there is not found either, not refused
        pass

    write_error = _write_error


def use_sjr_error_pages() -> None:
    """Answer errors of the server's pages and of ``/voila/files/`` with :func:`error_page`
    (idempotent). The API handlers (``APIHandler``) keep their JSON errors: they define their
    own. Behind JupyterHub too (``--SjrDashboards.own_error_pages=True``,
    :mod:`sjrlib.dashboards.voila_xsrf`), where Jupyter Server's handler of unknown addresses is
    one of the pages."""
    from jupyter_server.base.handlers import JupyterHandler
    from voila.static_file_handler import AllowListFileHandler

    JupyterHandler.write_error = _write_error
    AllowListFileHandler.write_error = _write_error


def use_dashboard_index(dashboards: Collection[str] | None = None,
                        note: str = SERVE_NOTE) -> None:
    """Answer Voila's tree (``/voila``, ``/voila/tree``; and the root of ``sjr serve``) with
    :func:`dashboard_index` of ``dashboards``, not Voila's file tree, which lists every notebook
    of the folder (the report notebooks too) and loads Font Awesome from a public CDN; any path
    below it is not found (idempotent: the first call's settings stay)."""
    from voila.tornado.treehandler import TornadoVoilaTreeHandler

    from sjrlib.dashboards.voila_xsrf import redirect_without_token

    if getattr(TornadoVoilaTreeHandler.get, "_sjr", False):
        return
    offered = None if dashboards is None else list(dashboards)

    @web.authenticated  # as Voila's tree: a browser not signed in goes to the login form
    async def get(self, path=""):
        if path.strip("/"):
            raise web.HTTPError(404)
        if redirect_without_token(self):
            return
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(dashboard_index(Path(self.settings["contents_manager"].root_dir),
                                    self.base_url, offered, note))

    get._sjr = True  # type: ignore[attr-defined]
    TornadoVoilaTreeHandler.get = get


def use_sjr_pages(dashboards: Collection[str] | None = None) -> None:
    """Serve :data:`LOGIN_TEMPLATE` as the login form, :func:`dashboard_index` of
    ``dashboards`` (default: every dashboard) at the root and ``/voila/tree``, and
    :func:`error_page` for errors of the pages, of ``/voila/files/`` and of addresses no handler
    knows (idempotent)."""
    from jupyter_server.base.handlers import JupyterHandler
    from voila.app import Voila
    from voila.voila_identity_provider import VoilaLoginHandler

    if getattr(VoilaLoginHandler.get_template, "_sjr", False):
        return

    def get_template(self, name):
        if name == "login.html":
            return self.settings["jinja2_env"].from_string(LOGIN_TEMPLATE)
        return JupyterHandler.get_template(self, name)

    original_settings = Voila.init_settings

    def init_settings(self):
        # an address no handler knows: Tornado's own bare 404 page otherwise
        return {**original_settings(self), "default_handler_class": NotFoundHandler}

    get_template._sjr = True  # type: ignore[attr-defined]
    VoilaLoginHandler.get_template = get_template
    use_dashboard_index(dashboards)
    use_sjr_error_pages()
    Voila.init_settings = init_settings
