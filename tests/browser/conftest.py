"""Real Voila, started by the tests with ``sjr serve`` on a free localhost port, driven by
Debian's headless Chromium through Playwright.

Each test module starts the servers it needs once (one per identity: the user comes from
``SJR_USER`` in the server's environment, never from the URL). Screenshots go to
``artifacts/screenshots/`` (git-ignored), to be looked at as a clinician would.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--lang=en-GB",
]
CHROMIUM_ENV = {"LANG": "en_GB.UTF-8", "LANGUAGE": "en_GB"}
"""With ``--lang`` and Debian's chromium-l10n (``.ci/run`` installs it), date fields show
dd/mm/yyyy, as a UK clinician's browser does; without the package they stay mm/dd/yyyy."""
ROOT = Path(__file__).resolve().parents[2]
SJR = Path(sys.executable).with_name("sjr")
START_TIMEOUT_S = 120
WIDGET_TIMEOUT_MS = 90_000

def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
            if not Path(CHROMIUM).exists():
                item.add_marker(pytest.mark.skip(
                    reason=f"{CHROMIUM} is absent: install Debian's chromium (.ci/run does)"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    """Probe the TCP port (a GET of a notebook would start a kernel)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sjr serve exited with {process.returncode}:\n"
                               f"{log.read_text(errors='replace')[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"sjr serve did not listen on {port} within {START_TIMEOUT_S} s")


@dataclass
class Voila:
    """A running ``sjr serve`` for one user, asking for ``token`` (``SJR_SERVE_TOKEN``)."""

    url: str
    user: str
    db: str
    log: Path
    token: str

    def page_url(self, notebook: str) -> str:
        """The dashboard's address with the server's token, as ``sjr serve`` prints it."""
        return f"{self.url}/voila/render/{notebook}?token={self.token}"


@pytest.fixture(scope="session")
def jupyter_home(tmp_path_factory) -> dict[str, str]:
    """Jupyter/IPython/matplotlib folders for the servers, outside $HOME."""
    home = tmp_path_factory.mktemp("voila-home")
    return {"JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_DATA_DIR": str(home / "data"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "IPYTHONDIR": str(home / "ipython"),
            "MPLCONFIGDIR": str(home / "mpl"), "HOME": str(home)}


@pytest.fixture(scope="module")
def start_voila(jupyter_home, tmp_path_factory):
    """``start_voila(user, db) -> Voila``: run ``sjr serve`` as ``user``; stopped after the
    module."""
    started: list[subprocess.Popen] = []
    logs = tmp_path_factory.mktemp("voila-logs")

    def start(user: str | None, db: str, *, preheat: bool = False) -> Voila:
        """``user`` None: no identity at all (no SJR_USER, no identity file).

        ``preheat``: as ``sjr serve`` by default (a kernel kept ready per dashboard, refilled
        after each view); without it, as each person's server under the hub runs
        (deploy/jupyterhub_config.py). Tests of one dashboard run without: pre-heating the
        four would cost the suite a kernel start per dashboard per server and a refill per
        view; test_demo_first_run, test_explore and test_kernel_shutdown run with it."""
        port = free_port()
        log = logs / f"voila-{user or 'no-identity'}-{port}.log"
        env = {k: v for k, v in os.environ.items()
               if k not in ("JUPYTERHUB_USER", "SJR_USER", "SJR_DATABASE_URL")}
        token = secrets.token_urlsafe(32)
        env.update(jupyter_home, MPLBACKEND="Agg",
                   SJR_CONFIG=str(logs / "no-identity-file"), SJR_SERVE_TOKEN=token)
        if user is not None:
            env["SJR_USER"] = user
        process = subprocess.Popen(
            [str(SJR), "serve", "--port", str(port), "--db", db,
             "--preheat" if preheat else "--no-preheat"],
            env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
            cwd=str(ROOT))
        started.append(process)
        _wait_for_port(port, process, log)
        return Voila(f"http://127.0.0.1:{port}", user or "(no identity)", db, log, token)

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
    for process in started:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@pytest.fixture(scope="session")
def browser(playwright_driver) -> Iterator:
    chromium = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                                 env={**os.environ, **CHROMIUM_ENV})
    yield chromium
    chromium.close()


@pytest.fixture
def open_page(browser):
    """``open_page(voila, notebook) -> page`` with the app's widgets on screen."""
    pages = []

    def open_(voila: Voila, notebook: str, ready: str):
        context = browser.new_context(viewport={"width": 1280, "height": 1000},
                                      locale="en-GB", timezone_id="Europe/London")
        page = context.new_page()
        pages.append((context, page))
        # Voila streams the page as the notebook runs (a pre-heated kernel may still be
        # running it just after the server started): wait for the widget, not for "load".
        page.goto(voila.page_url(notebook), wait_until="commit", timeout=WIDGET_TIMEOUT_MS)
        try:
            page.wait_for_selector(ready, timeout=WIDGET_TIMEOUT_MS)
        except PlaywrightTimeout:
            # Once, on a CPU-starved CI machine (2 cores, 2 test workers, 5 kernels starting),
            # the page's websocket dropped before its widgets came and the page never showed
            # them (the server log: "Starting buffering" right after "Connecting to kernel");
            # the same test passed alone. A person reloads: so does the test, once. A page
            # that never shows its widgets still fails here.
            page.reload(wait_until="commit", timeout=WIDGET_TIMEOUT_MS)
            page.wait_for_selector(ready, timeout=WIDGET_TIMEOUT_MS)
        return page

    yield open_
    for context, page in pages:
        page.close(run_before_unload=True)  # only this makes Voila shut its kernel down
        context.close()
