"""Voila with a working kernel shutdown when a dashboard page is left (voila#1458).

When a Voila page unloads, its script posts ``/voila/api/shutdown/<kernel>`` with the
``_xsrf`` value it finds in the page's cookies. Voila 0.5 never sets that cookie on its pages
(Tornado sets it only when a handler first reads ``xsrf_token``, and Voila's page handler does
not), so the request carries an empty token, XSRF protection refuses it (403), and every page
view leaves a kernel (about 300 MB with the dashboards' imports) until the idle culler takes it.

This module makes Voila's page handler read its ``xsrf_token`` while preparing the response,
which sets the cookie; the page's shutdown request then carries a valid token and is accepted.
XSRF protection stays on: a request from another site still has no token. It is applied

* by ``sjr serve``, which runs Voila as ``python -m sjrlib.dashboards.voila_xsrf`` (the same
  arguments as ``python -m voila``), and
* behind JupyterHub, as a Jupyter Server extension loaded beside Voila's
  (``--ServerApp.jpserver_extensions=sjrlib.dashboards.voila_xsrf=True``).

Culling stays configured as the safety net for a browser that dies without unloading.

Run as ``python -m sjrlib.dashboards.voila_xsrf``, it also serves the root address and the
login form of :mod:`sjrlib.dashboards.voila_pages`, and takes the server's token from
``$SJR_SERVE_TOKEN`` (``sjr serve`` sets it, :mod:`sjrlib.dashboards.serve`) and removes it from
the environment before Voila starts, so it is on no command line and in no kernel; with no
token it does not start (Voila's default is none: any local account could use the pages). The page
handler drops ``token=`` from the request's query and address once the request is authenticated:
Voila copies both into the page's kernel (``QUERY_STRING``, ``VOILA_REQUEST_URL``), where the
token has no business.

In ``sjr serve`` (``main``) it also

* sends a browser that opened a page with the token in its address to the same address without
  it, once the login cookie is set (:func:`redirect_without_token`), so the token does not stay
  in the address bar, the history or a ``Referer``;
* renders only the dashboards the server offers (``--SjrDashboards.dashboards=``, which
  :func:`sjrlib.dashboards.serve.voila_argv` gives; :data:`~sjrlib.dashboards.serve.DASHBOARDS`
  by default): the report notebooks beside them in the folder are not found (404), not run as
  the person who opened them;
* keeps the token out of every log line (:mod:`sjrlib.dashboards.log_redaction`).

Behind JupyterHub, loaded as an extension, it does what :class:`SjrDashboards` is configured
to do on the server's command line (``deploy/jupyterhub_config.py``, ``DASHBOARD_ARGS``): render
only the dashboards (the same ``--SjrDashboards.dashboards=``; ``/voila/tree`` then lists
them, not the folder) and answer errors with
:func:`sjrlib.dashboards.voila_pages.error_page` (``--SjrDashboards.own_error_pages=True``).
Unconfigured, it only sets the cookie.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Collection
from urllib.parse import parse_qsl, urlencode

from traitlets import Bool, Unicode
from traitlets.config import Configurable

__all__ = ["SjrDashboards", "main", "opened_by_its_user", "redirect_without_token",
           "set_xsrf_cookie_on_pages", "without_token"]


def without_token(query: str) -> str:
    """``query`` without its ``token`` parameters (the rest kept, in order)."""
    if "token" not in query:
        return query
    return urlencode([(k, v) for k, v in parse_qsl(query, keep_blank_values=True)
                      if k != "token"])


REFUSED_PAGE = (
    "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not opened"
    "</title></head><body><h1>Not opened</h1><p>A dashboard opens from its own address, or "
    "from a link you follow; not from within another site's page. Open the address the "
    "dashboards were given to you with.</p></body></html>")
"""What a page another site's page asked for gets (status 403)."""


def opened_by_its_user(headers) -> bool:
    """Whether a request for a dashboard page may start its kernel, from the browser's
    ``Sec-Fetch-*`` headers: yes from this server's own pages, an address typed or bookmarked,
    or a link on another site the person followed (a top-level navigation they started); no
    from within another site's page: an image, a frame, a script's request or a navigation
    the page made by itself. Browsers send a signed-in dashboard's cookie with those when the
    site is the same (another port of 127.0.0.1, another server of the trust's domain), and
    each would start a kernel (about 250 MB) and an audited session in the person's name
    (security audit of ``sjr serve``, 2026-12-06, finding 2). A client that sends no
    ``Sec-Fetch-Site`` (a script, an old browser) is not refused: the token or login is what
    admits a request; this refuses only what a browser says another site caused."""
    site = (headers.get("Sec-Fetch-Site") or "").lower()
    if site in ("", "same-origin", "none"):
        return True
    return (headers.get("Sec-Fetch-Mode", "").lower() == "navigate"
            and headers.get("Sec-Fetch-Dest", "").lower() == "document"
            and headers.get("Sec-Fetch-User", "") == "?1")


def redirect_without_token(handler) -> bool:
    """Answer a browser's page request that signed in with ``?token=`` by sending it to the
    same address without ``token`` (the other parameters kept, in order); return whether it
    did. The identity provider has already checked the token and set the login cookie, which
    goes out with the redirect, so the address the browser then shows, keeps in its history and
    sends on in ``Referer`` holds no token (security audit of ``sjr serve``, 2026-12-06).

    Only for a top-level navigation as the browser reports it (``Sec-Fetch-Mode: navigate``,
    which browsers have sent since 2020-2023): a client that says nothing of what it is (a
    script, the load benchmark's client) may not keep cookies across a redirect, and gets the
    page as before, the token dropped from what its kernel is told. A wrong token is not
    redirected: the request goes to the login form."""
    request = handler.request
    if (request.method not in ("GET", "HEAD") or "token" not in request.query_arguments
            or not getattr(handler, "_token_authenticated", False)
            or request.headers.get("Sec-Fetch-Mode", "").lower() != "navigate"
            or not request.path.startswith("/") or request.path.startswith("//")):
        return False
    query = without_token(request.query)
    handler.set_header("Cache-Control", "no-store")
    handler.redirect(request.path + (f"?{query}" if query else ""))
    return True


def set_xsrf_cookie_on_pages(*, refuse_other_sites: bool = False,
                             dashboards: Collection[str] | None = None,
                             redirect_token: bool = False) -> None:
    """Make Voila's page handler set the ``_xsrf`` cookie, keep the server's token out of what
    the page's kernel is told of the request, and refuse a page another site's page asked for
    (:func:`opened_by_its_user`) before its kernel starts, with ``refuse_other_sites``; with
    ``dashboards``, also render only those notebooks (any other: 404 for a signed-in browser,
    the sign-in for one not signed in, before any kernel starts); with ``redirect_token``, send
    a browser that signed in with ``?token=`` to the address without it
    (:func:`redirect_without_token`; ``sjr serve``, whose login cookie that sets). Idempotent:
    the first call's settings stay.

    ``sjr serve`` refuses other sites' requests: its browser signs in with the token on this
    server alone. Behind JupyterHub the sign-in may pass through an identity provider's site
    whose page posts back by itself (no user activation in the redirect chain that ends at the
    dashboard), so the hub's servers do not refuse them (docs/security.md)."""
    from tornado import web
    from voila.handler import VoilaHandler

    offered = frozenset(dashboards or ())
    original = VoilaHandler.prepare
    if getattr(original, "_sets_xsrf_cookie", False):
        return

    async def prepare(self) -> None:
        if refuse_other_sites and not opened_by_its_user(self.request.headers):
            # written here: Voila's error page renders empty (its template fails on
            # static_url), and finishing in prepare starts no kernel
            self.set_status(403)
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(REFUSED_PAGE)
            return
        result = original(self)
        if inspect.isawaitable(result):
            await result
        if self._finished:
            return
        if dashboards is not None:
            # signed in: what the server does not offer is not found (the report notebooks
            # beside the dashboards would run as the person); not signed in: the page's
            # authentication sends the browser to the login form, which tells nothing
            if self.current_user is not None and (self.path_args or [""])[0] not in offered:
                raise web.HTTPError(404)
        if redirect_token and redirect_without_token(self):
            return
        self.xsrf_token  # noqa: B018 - reading it sets the cookie (Tornado)
        # the user is known by now (Jupyter Server's prepare); Voila reads the query and the
        # address later, for the kernel's QUERY_STRING and VOILA_REQUEST_URL
        request = self.request
        if "token" in request.query:
            request.query = without_token(request.query)
            request.uri = request.path + (f"?{request.query}" if request.query else "")

    prepare._sets_xsrf_cookie = True  # type: ignore[attr-defined]
    VoilaHandler.prepare = prepare


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "sjrlib.dashboards.voila_xsrf"}]


class SjrDashboards(Configurable):
    """What this module enforces on a Jupyter Server it is loaded into as an extension (the
    JupyterHub single-user servers of the dashboards), from the server's configuration, e.g.
    ``--SjrDashboards.dashboards=review_entry.ipynb,explore.ipynb``."""

    dashboards = Unicode(
        None, allow_none=True,
        help="The notebooks Voila renders, comma-separated (``sjr serve`` gives the same "
             "argument): any other is not found (404) for a signed-in person, before "
             "its kernel starts, so the report notebooks beside the dashboards do not run as "
             "them. Empty: none. Unset: any notebook of the folder (Voila's own behaviour)."
    ).tag(config=True)

    own_error_pages = Bool(
        False,
        help="Answer errors of the server's pages (not its JSON APIs) with this project's "
             "short page (sjrlib.dashboards.voila_pages.error_page), which fetches nothing and "
             "shows nothing of the request, not Voila's (Font Awesome from a CDN)."
    ).tag(config=True)

    def offered(self) -> list[str] | None:
        """:attr:`dashboards` as a list (``None``: unrestricted)."""
        if self.dashboards is None:
            return None
        return [n.strip() for n in self.dashboards.split(",") if n.strip()]


def _load_jupyter_server_extension(serverapp) -> None:
    settings = SjrDashboards(parent=serverapp)
    dashboards = settings.offered()
    set_xsrf_cookie_on_pages(dashboards=dashboards)
    serverapp.log.info("sjr: Voila pages set the _xsrf cookie, so leaving a page shuts its "
                       "kernel down (voila#1458)")
    if dashboards is not None:
        serverapp.log.info("sjr: Voila renders only %s", ", ".join(dashboards) or "nothing")
        from sjrlib.dashboards.voila_pages import HUB_NOTE, use_dashboard_index

        # Voila's file tree listed the report notebooks too, with Font Awesome from a CDN
        use_dashboard_index(dashboards, HUB_NOTE)
    if settings.own_error_pages:
        from sjrlib.dashboards.voila_pages import use_sjr_error_pages

        use_sjr_error_pages()


def main() -> int:
    """``python -m voila`` with :func:`set_xsrf_cookie_on_pages` applied, and the token from
    ``$SJR_SERVE_TOKEN`` (removed from the environment, so kernels do not inherit it) required
    of every request."""
    from sjrlib.dashboards.log_redaction import redact_tokens_in_logs
    from sjrlib.dashboards.serve import DASHBOARDS, DASHBOARDS_ARG, TOKEN_ENV
    from sjrlib.import_speed import skip_slow_iri_checker

    skip_slow_iri_checker()  # 1.3 s of the server's start (sjrlib/import_speed.py)

    dashboards: list[str] = list(DASHBOARDS)
    for arg in [a for a in sys.argv[1:] if a.startswith(DASHBOARDS_ARG)]:
        sys.argv.remove(arg)  # standalone Voila does not know the class: read it here
        dashboards = SjrDashboards(dashboards=arg[len(DASHBOARDS_ARG):]).offered()
    token = os.environ.pop(TOKEN_ENV, None)
    if token:
        # in this process's arguments only: /proc/<pid>/cmdline keeps the arguments it was
        # started with, which every local account can read
        sys.argv.append(f"--Voila.token={token}")
    elif not any(a.startswith("--Voila.token=") and len(a) > len("--Voila.token=")
                 for a in sys.argv[1:]):
        # Voila's own default is no token at all: every local account could open the pages,
        # and the dashboards sign in whoever runs this
        print(f"voila_xsrf: refused: no token; run the dashboards with `sjr serve`, or set "
              f"{TOKEN_ENV} (nothing was started)", file=sys.stderr)
        return 2
    # Tornado logs a failed request's address, ?token= and all, on sjr serve's terminal
    redact_tokens_in_logs(*(a.split("=", 1)[1] for a in sys.argv[1:]
                            if a.startswith("--Voila.token=")))
    set_xsrf_cookie_on_pages(refuse_other_sites=True, dashboards=dashboards,
                             redirect_token=True)
    from sjrlib.dashboards.voila_pages import use_sjr_pages

    use_sjr_pages(dashboards)  # the root and the login form in this project's words
    from voila.app import main as voila_main

    return voila_main() or 0


if __name__ == "__main__":  # pragma: no cover - run as a server process
    sys.exit(main())
