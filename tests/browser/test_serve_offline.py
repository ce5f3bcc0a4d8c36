"""A dashboard page fetches nothing from outside the server it came from.

Voila 0.5's ``lab`` template links Font Awesome from a public CDN (``cdn.jsdelivr.net``): every
dashboard page of ``sjr serve`` asked a third party for it, which a hospital network must not do
(and which tells the CDN who opened a dashboard, and when). ``sjr serve`` now runs Voila with
its own template (``sjrlib.dashboards.serve.TEMPLATE``), the ``lab`` one without those links.

Each dashboard is opened in headless Chromium from a real ``sjr serve``; every request the page
makes (documents, styles, scripts, fonts, images, websockets) must go to 127.0.0.1. Requests
elsewhere are recorded and aborted, so the test needs no network and fails the same way with
or without one.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner

from sjrlib.cli import app
from sjrlib.dashboards.serve import DASHBOARDS

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory, start_voila):
    folder = tmp_path_factory.mktemp("offline")
    url = f"sqlite:///{folder / 'sjr.db'}"
    result = CliRunner().invoke(app, ["demo-data", "--db", url, "--organisations", "3",
                                      "--years", "2", "--seed", "5"],
                                env={"SJR_USER": None, "SJR_DATABASE_URL": None})
    assert result.exit_code == 0, result.output
    return start_voila(None, url)  # the demo's default user, demo-lead


@pytest.mark.parametrize("notebook", DASHBOARDS)
def test_a_dashboard_page_requests_nothing_but_its_own_server(notebook, demo_server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    requested: list[str] = []
    outside: list[str] = []

    def route(r):
        requested.append(r.request.url)
        if urlsplit(r.request.url).hostname == "127.0.0.1":
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("websocket", lambda ws: requested.append(ws.url) or (
        outside.append(ws.url) if urlsplit(ws.url).hostname != "127.0.0.1" else None))
    try:
        page.goto(demo_server.page_url(notebook), wait_until="commit", timeout=90_000)
        # the page has run its notebook and drawn its widgets: every request a view makes
        page.wait_for_selector(".jp-OutputArea-output:visible", timeout=90_000)
        page.wait_for_load_state("load", timeout=90_000)
        page.wait_for_timeout(1500)
    finally:
        page.close(run_before_unload=True)
        context.close()
    assert requested, "the page made no request at all"
    assert outside == [], f"{notebook} requested hosts other than 127.0.0.1: {outside}"
