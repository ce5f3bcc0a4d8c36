"""``sjr serve`` answers only a client holding its run's token (docs/security.md: another local
account may do nothing).

Before, any account on the machine could GET a dashboard from 127.0.0.1 with no credential, take
the kernel id from the page, connect to ``/api/kernels/<id>/channels`` and, with the widget
manager's ``request_states``, read every widget's state (the lead's care score tables, counts)
or send ``update`` messages that made the kernel read more as the person who started the server.
Voila refuses ``execute_request`` on that websocket, but the widgets are the data.

Here a real ``sjr serve`` (as ``start_voila`` runs it) is asked, without the token, for the
pages, the kernel API, the kernel's websocket and the page's kernel shutdown: each is refused and
no kernel is started. With the token (in the address, then the login cookie it sets, or an
``Authorization`` header) the same requests work, the websocket returning the widgets' state.
The token is on no command line and in no kernel's environment. No browser is needed; the
module sits with the browser tests for their server fixture."""

from __future__ import annotations

import asyncio
import concurrent.futures
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest
from dashboard_store import add_users, populate

pytestmark = [pytest.mark.slow]

NOTEBOOK = "explore.ipynb"
CHART = "img.c-care-scores"
WS_PROTOCOL = "v1.kernel.websocket.jupyter.org"


def _request(url: str, method: str = "GET", headers: dict | None = None
             ) -> tuple[int, http.client.HTTPMessage, str]:
    """One request, redirects not followed: (status, headers, body)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=180)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, path, body=b"" if method == "POST" else None,
                           headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read().decode(errors="replace")
    finally:
        connection.close()


def _cookies(headers: http.client.HTTPMessage) -> str:
    jar = SimpleCookie()
    for line in headers.get_all("Set-Cookie") or []:
        jar.load(line)
    return "; ".join(f"{k}={m.value}" for k, m in jar.items())


def _server_tree(port: int) -> list[psutil.Process]:
    """``sjr serve`` on ``port`` and everything it started (Voila, kernels)."""
    for proc in psutil.process_iter(["cmdline"]):
        line = proc.info["cmdline"] or []
        if "serve" in line and str(port) in line:
            return [proc, *proc.children(recursive=True)]
    raise AssertionError(f"no sjr serve on port {port}")


def _kernels(port: int) -> list[psutil.Process]:
    found = []
    for proc in _server_tree(port):
        try:
            if "ipykernel" in " ".join(proc.cmdline()):
                found.append(proc)
        except psutil.Error:  # ended meanwhile (the kernel of a page left just before)
            pass
    return found


def _kernel_pids(port: int) -> set[int]:
    return {p.pid for p in _kernels(port)}


def _channels(base: str, kernel: str, headers: dict) -> dict:
    """Open the kernel's websocket as the page does and ask for every widget's state:
    ``{"status": 101, "widgets": n}``, or ``{"status": code}`` when the handshake is refused."""
    from jupyter_server.services.kernels.connection.base import (
        deserialize_msg_from_ws_v1,
        serialize_msg_to_ws_v1,
    )
    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    session = uuid.uuid4().hex

    def message(msg_type: str, content: dict, metadata: dict | None = None) -> bytes:
        header = {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "",
                  "version": "5.3", "session": session,
                  "date": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())}
        parts = [json.dumps(p).encode() for p in (header, {}, metadata or {}, content)]
        return serialize_msg_to_ws_v1(parts, "shell")

    async def run() -> dict:
        request = HTTPRequest(
            f"ws://{base}/api/kernels/{kernel}/channels?session_id={session}",
            headers=headers, request_timeout=60)
        try:
            ws = await websocket_connect(request, subprotocols=[WS_PROTOCOL],
                                         max_message_size=256 * 2**20)
        except HTTPClientError as exc:
            return {"status": exc.code}
        try:
            comm = uuid.uuid4().hex
            ws.write_message(message("comm_open", {"comm_id": comm, "data": {},
                                                   "target_name": "jupyter.widget.control"},
                                     {"version": "1.0.0"}), binary=True)
            ws.write_message(message("comm_msg", {"comm_id": comm,
                                                  "data": {"method": "request_states"}}),
                             binary=True)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                raw = await asyncio.wait_for(ws.read_message(), deadline - time.monotonic())
                if raw is None:
                    break
                if isinstance(raw, str):
                    continue
                _, parts = deserialize_msg_from_ws_v1(raw)
                data = json.loads(parts[3]).get("data") or {}
                if data.get("method") == "update_states":
                    return {"status": 101, "widgets": len(data["states"])}
            return {"status": 101, "widgets": 0}
        finally:
            ws.close()

    # in a thread of its own: Playwright's sync API (the browser tests of the same worker)
    # keeps an event loop running in this one, where asyncio.run() is refused
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


@pytest.fixture(scope="module")
def server(start_voila, tmp_path_factory, small_data):
    url = f"sqlite:///{tmp_path_factory.mktemp('token-store') / 'sjr.db'}"
    populate(url, small_data)
    users = add_users(url, str(small_data.organisations["organisation_code"].iloc[0]))
    return start_voila(users.lead, url)


def test_without_the_token_the_server_refuses_everything(server):
    port = int(server.url.rsplit(":", 1)[1])
    base = f"127.0.0.1:{port}"

    # the person who started it: the printed address opens the page and signs the browser in
    status, headers, page = _request(server.page_url(NOTEBOOK))
    assert status == 200, page[:500]
    kernel = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">'
                                  r"\s*(.*?)\s*</script>", page, re.S).group(1))["kernelId"]
    signed_in = _cookies(headers)
    assert server.token not in page and server.token not in signed_in
    assert len(_kernels(port)) == 1

    # anyone else: no page (a login form instead), and no kernel started for them
    wrong = "x" * len(server.token)
    for path in (f"/voila/render/{NOTEBOOK}", "/voila/render/review_entry.ipynb",
                 "/voila/tree", f"/voila/render/{NOTEBOOK}?token={wrong}"):
        status, headers, body = _request(server.url + path)
        assert status == 302 and headers["Location"].startswith("/login?"), (path, status)
        assert "kernelId" not in body
    assert len(_kernels(port)) == 1

    # nor the kernel's API, knowing its id
    api = f"{server.url}/api/kernels/{kernel}"
    assert _request(api)[0] == 403
    assert _request(api, headers={"Authorization": f"token {wrong}"})[0] == 403
    assert _request(api, headers={"Authorization": f"token {server.token}"})[0] == 200
    assert _request(api, headers={"Cookie": signed_in})[0] == 200

    # nor its websocket (the widgets' state); the signed-in page's cookie gets it
    assert _channels(base, kernel, {}) == {"status": 403}
    assert _channels(base, kernel, {"Authorization": f"token {wrong}"}) == {"status": 403}
    opened = _channels(base, kernel, {"Cookie": signed_in})
    assert opened["status"] == 101 and opened["widgets"] > 20, opened

    # nor shut the page's kernel down, even with an XSRF token of its own
    status, headers, _ = _request(f"{server.url}/login")
    theirs = _cookies(headers)
    xsrf = re.search(r"_xsrf=([^;]+)", theirs).group(1)
    status, _, _ = _request(f"{server.url}/voila/api/shutdown/{kernel}", "POST",
                            {"Cookie": theirs, "X-XSRFToken": xsrf})
    assert status == 403
    assert [k for k in _kernels(port) if kernel in " ".join(k.cmdline())]

    # the token is on no command line (every local account reads those) and in no kernel
    for proc in _server_tree(port):
        assert server.token not in " ".join(proc.cmdline())
    for proc in _kernels(port):
        assert "SJR_SERVE_TOKEN" not in proc.environ()
        assert server.token not in " ".join(proc.environ().values())


def test_the_plain_root_address_says_where_the_token_is_then_lists_the_dashboards(server):
    """Opened without the token, the server's root address (Voila's log prints it) showed
    Jupyter's login page, which sends a person to ``jupyter server list`` (this server is not
    in it) and to setting a password (not allowed); signed in, Voila's file tree, the report
    notebooks beside the dashboards and a stylesheet from a CDN (first-run walk-through). Now:
    the form in this project's words, then an index of the dashboards."""
    from sjrlib.dashboards.serve import DASHBOARDS

    status, headers, _ = _request(f"{server.url}/")
    assert status == 302 and headers["Location"] == "/login?next=%2F"
    status, _, form = _request(f"{server.url}/login?next=%2F")
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", form))
    assert status == 200 and 'id="password_input"' in form
    assert "printed in its terminal: each ends in ?token= and this run's token" in words, words
    for stock in ("jupyter server list", "enable a password", "Password or token"):
        assert stock not in words
    assert "https://" not in form and "http://" not in form

    # the address with the token signs the browser in and shows the dashboards, and only them
    status, headers, index = _request(f"{server.url}/?token={server.token}")
    assert status == 200, index[:500]
    assert re.findall(r'href="([^"]+)"', index) == [f"/voila/render/{n}" for n in DASHBOARDS]
    assert "Review entry" in index and "Exploration" in index
    assert "report" not in index and "//" not in index and server.token not in index
    signed_in = {"Cookie": _cookies(headers)}
    for path in ("/", "/voila/tree"):
        assert _request(f"{server.url}{path}", headers=signed_in)[::2] == (200, index), path
    assert _request(f"{server.url}/voila/tree/elsewhere", headers=signed_in)[0] == 404


def test_an_address_cannot_choose_a_template_that_fetches_from_a_cdn(server):
    """Voila lets ``?template=`` pick the page's template by default, and its ``classic``
    template loads jQuery from cdnjs.cloudflare.com into the signed-in page (any site could
    send the browser there; audit of 2026-12-06). The server keeps its own template."""
    status, headers, _ = _request(f"{server.url}/?token={server.token}")
    signed_in = {"Cookie": _cookies(headers)}
    fetched = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)
    for choice in ("template=classic", "template=lab", "theme=dark"):
        status, _, page = _request(f"{server.url}/voila/render/coding.ipynb?{choice}",
                                   headers=signed_in)
        assert status == 200, (choice, page[:300])
        assert not fetched.findall(page), (choice, fetched.findall(page))
        assert "jquery" not in page.lower() and "fontawesome" not in page.lower(), choice


def test_another_sites_page_cannot_open_a_dashboard_in_the_persons_name(server):
    """A page on another port of 127.0.0.1 is the same site: the browser sends the signed-in
    cookie with its image or frame requests, and each started a kernel and an audited session
    (audit of 2026-12-06, finding 2). Those are refused before a kernel starts; a link the
    person follows from another site, this server's own pages and clients without the headers
    still open the page."""
    status, headers, _ = _request(f"{server.url}/?token={server.token}")
    cookie = {"Cookie": _cookies(headers)}
    page = f"{server.url}/voila/render/coding.ipynb"
    port = int(server.url.rsplit(":", 1)[1])
    before = len(_kernels(port))
    for site, mode, dest in (("same-site", "no-cors", "image"),
                             ("same-site", "navigate", "iframe"),
                             ("cross-site", "navigate", "document"),  # a script's navigation
                             ("same-site", "cors", "empty")):
        asked = {**cookie, "Sec-Fetch-Site": site, "Sec-Fetch-Mode": mode,
                 "Sec-Fetch-Dest": dest}
        status, _, body = _request(page, headers=asked)
        assert status == 403, (site, mode, dest, status)
        assert "another site" in body, body[:500]
    time.sleep(1)
    assert len(_kernels(port)) == before, "a refused request started a kernel"
    followed = {**cookie, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate",
                "Sec-Fetch-Dest": "document", "Sec-Fetch-User": "?1"}
    for headers_ in (followed, {**cookie, "Sec-Fetch-Site": "same-origin"},
                     {**cookie, "Sec-Fetch-Site": "none"}, cookie):
        assert _request(page, headers=headers_)[0] == 200, headers_


def test_a_plain_address_asks_for_the_token_then_opens(server, browser):
    """README: a plain address in a browser not yet signed in shows a login form; the token
    pasted there opens the page (and no new password can be set from it)."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    try:
        page.goto(f"{server.url}/voila/render/{NOTEBOOK}", wait_until="commit")
        page.wait_for_selector("#password_input")
        assert page.locator("#new_password_input").count() == 0
        page.fill("#password_input", "x" * len(server.token))
        with page.expect_navigation():
            page.press("#password_input", "Enter")
        page.wait_for_selector("#password_input")  # refused: the form again, no page
        assert "/login" in page.url and page.locator(CHART).count() == 0
        assert "not the token of this run" in page.inner_text("body")
        page.fill("#password_input", server.token)
        page.press("#password_input", "Enter")
        page.wait_for_selector(CHART, timeout=90_000)
        assert page.url.endswith(f"/voila/render/{NOTEBOOK}")
    finally:
        page.close(run_before_unload=True)
        context.close()


# --- the audit's low findings (2026-12-06) ---------------------------------------------------

TYPED = {"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document",
         "Sec-Fetch-User": "?1"}
"""What a browser sends with an address typed or pasted into its address bar."""
SJR = Path(sys.executable).with_name("sjr")
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")


def _signed_in(server) -> dict:
    status, headers, _ = _request(f"{server.url}/?token={server.token}")
    assert status == 200
    return {"Cookie": _cookies(headers)}


def _is_our_error_page(body: str, status: int) -> bool:
    """The server's own short error page: no script, style sheet or image, no link but the
    server's root."""
    return (f"Error {status}." in body and "<script" not in body.lower()
            and "<link" not in body.lower() and "src=" not in body.lower()
            and re.findall(r'href="([^"]*)"', body) == ["/"])


def _log_after(server, offset: int, expected: str, timeout: float = 20) -> str:
    """What sjr serve printed after ``offset``, once it holds ``expected``."""
    deadline = time.monotonic() + timeout
    while True:
        text = server.log.read_text(errors="replace")[offset:]
        if expected in text or time.monotonic() > deadline:
            return text
        time.sleep(0.2)


def test_a_failed_requests_token_is_not_printed_on_the_terminal(server):
    """Tornado logs a failed request with its address: ``404 GET /nothing?token=<the run's
    token>`` on the terminal of sjr serve, where a screen share or a pasted log showed it."""
    offset = len(server.log.read_text(errors="replace"))
    token = server.token
    for path in (f"/no/such/page?token={token}", f"/voila/static/nothing.js?token={token}",
                 f"/voila/tree/elsewhere?a=1&token={token}",
                 f"/voila/render/nothing.ipynb?token={token}",
                 f"/voila/files/chart.png?token={token}"):
        assert _request(server.url + path)[0] in (403, 404), path
    said = _log_after(server, offset, "/voila/files/chart.png")
    # the lines are there (else this test would prove nothing), the token is not
    assert "GET /no/such/page?token=" in said and "GET /voila/files/chart.png" in said, said
    assert token not in said, said
    assert "token=[redacted]" in said


def test_the_token_leaves_the_address_once_the_browser_is_signed_in(server):
    """The address with ``?token=`` that signs a browser in stayed in its address bar (and so
    in its history, and in the ``Referer`` of what the page asked for). The server now answers
    it with the login cookie and a redirect to the same address without the token, the other
    parameters kept; no kernel starts for the redirect."""
    port = int(server.url.rsplit(":", 1)[1])
    before = _kernel_pids(port)
    status, headers, _ = _request(
        f"{server.url}/voila/render/coding.ipynb?a=1&token={server.token}&b=2", headers=TYPED)
    assert status == 302, status
    assert headers["Location"] == "/voila/render/coding.ipynb?a=1&b=2"
    cookie = _cookies(headers)
    assert re.search(r"username-127-0-0-1-\d+=", cookie), cookie
    assert not _kernel_pids(port) - before, "the redirect started a kernel"
    status, _, page = _request(f"{server.url}{headers['Location']}",
                               headers={**TYPED, "Cookie": cookie})
    assert status == 200 and "kernelId" in page, page[:300]
    # the root too; a wrong token is not redirected (the login form); a client that says
    # nothing of what it is gets the page as before
    status, headers, _ = _request(f"{server.url}/?token={server.token}", headers=TYPED)
    assert (status, headers["Location"]) == (302, "/")
    status, headers, _ = _request(f"{server.url}/?token={'x' * len(server.token)}",
                                  headers=TYPED)
    assert status == 302 and headers["Location"].startswith("/login?")
    assert _request(f"{server.url}/?token={server.token}")[0] == 200


def test_a_browser_opening_the_printed_address_shows_it_without_the_token(server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    try:
        page.goto(server.page_url(NOTEBOOK), wait_until="commit", timeout=90_000)
        page.wait_for_selector(CHART, timeout=90_000)
        assert page.url == f"{server.url}/voila/render/{NOTEBOOK}", page.url
        assert server.token not in page.evaluate("location.href + document.referrer")
    finally:
        page.close(run_before_unload=True)
        context.close()


def test_errors_are_short_pages_of_our_own(server):
    """Voila's 404 page linked Font Awesome from cdn.jsdelivr.net (and said it needs
    JavaScript); an address no handler knew got Tornado's bare page."""
    signed_in = _signed_in(server)
    for path, headers in (("/voila/render/no-such-dashboard.ipynb", signed_in),
                          ("/voila/tree/elsewhere", signed_in),
                          ("/no/such/page", signed_in), ("/no/such/page", {})):
        status, _, body = _request(server.url + path, headers=headers)
        assert status == 404, (path, status)
        assert _is_our_error_page(body, 404) and "Not found" in body, (path, body[:800])
        assert "such" not in body and "elsewhere" not in body  # nothing shown back
    # the kernel API keeps its JSON
    status, _, body = _request(f"{server.url}/api/kernels/{uuid.uuid4()}", headers=signed_in)
    assert status == 404 and json.loads(body)["message"], body


def test_only_the_dashboards_are_rendered(server):
    """A signed-in browser could render any notebook of the folder by its address, the report
    notebooks too (each run as the person, in a kernel of its own). Only the dashboards the
    server lists are rendered; the others are not found, and start no kernel."""
    port = int(server.url.rsplit(":", 1)[1])
    signed_in = _signed_in(server)
    before = _kernel_pids(port)
    for name in ("national_report.ipynb", "trust_report.ipynb", "researcher_quickstart.ipynb"):
        assert (NOTEBOOKS / name).is_file()
        status, _, body = _request(f"{server.url}/voila/render/{name}", headers=signed_in)
        assert status == 404 and _is_our_error_page(body, 404), (name, status, body[:300])
        # not signed in: the login form, as for any page
        status, headers, _ = _request(f"{server.url}/voila/render/{name}")
        assert status == 302 and headers["Location"].startswith("/login?"), name
    time.sleep(1)
    assert not _kernel_pids(port) - before, "a notebook not offered started a kernel"


@pytest.fixture(scope="module")
def folder_server(server, jupyter_home, tmp_path_factory):
    """``sjr serve --notebooks`` of a copy of the dashboards with an image beside them:
    ``(url, token)``."""
    folder = tmp_path_factory.mktemp("notebooks")
    from sjrlib.dashboards.serve import DASHBOARDS

    for name in DASHBOARDS:
        shutil.copy(NOTEBOOKS / name, folder / name)
    (folder / "chart.png").write_bytes(PNG)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_urlsafe(32)
    env = {k: v for k, v in os.environ.items()
           if k not in ("JUPYTERHUB_USER", "SJR_USER", "SJR_DATABASE_URL")}
    env.update(jupyter_home, MPLBACKEND="Agg", SJR_USER=server.user,
               SJR_CONFIG=str(folder / "no-identity-file"), SJR_SERVE_TOKEN=token)
    log = folder / "serve.log"
    process = subprocess.Popen(
        [str(SJR), "serve", "--port", str(port), "--db", server.db, "--no-preheat",
         "--notebooks", str(folder)], env=env, stdout=log.open("w"),
        stderr=subprocess.STDOUT, start_new_session=True, cwd=str(folder))
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", token
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def test_files_under_the_notebooks_folder_are_not_served(folder_server):
    """Voila served the images under the notebooks folder at ``/voila/files/`` to anyone, with
    no token. No dashboard loads anything from there (checked in a browser: the four pages ask
    for /voila/static/, /voila/templates/, /voila/labextensions/ and the kernel's API only):
    every file is refused, signed in or not."""
    url, token = folder_server
    status, headers, _ = _request(f"{url}/?token={token}")
    assert status == 200
    signed_in = {"Cookie": _cookies(headers)}
    for headers in ({}, signed_in):
        for path in ("/voila/files/chart.png", f"/voila/files/chart.png?token={token}",
                     "/voila/files/explore.ipynb"):
            status, _, body = _request(url + path, headers=headers)
            assert status == 403, (path, headers, status)
            assert _is_our_error_page(body, 403), body[:300]
