"""JupyterHub for real: ``deploy/jupyterhub_config.py`` started with its proxy and extract service,
on PostgreSQL, signed into in headless Chromium.

The hub runs with the dummy authenticator and the simple local spawner (both chosen by the
config's environment variables; single-user servers run as the test's own system user in
temporary home folders), ``configurable-http-proxy`` from npm (``.ci/run`` installs it) and a
small synthetic store. What it shows:

- an organisation lead gets the exploration dashboard of their own organisation only, whose page
  requests nothing from any host but the hub's (no CDN), and no JupyterLab
  (``/user/<lead>/lab`` is not served); their server renders the dashboards only (the report
  notebooks beside them are not found, and start no kernel), serves no file at
  ``/voila/files/``, signed in or not, and answers errors with the project's own page;
- a researcher gets JupyterLab on the quick-start notebook, which runs in the browser and writes
  an extract holding only their approval's organisations and fields (made by the extract
  service, as the researcher's own database role reads no review rows);
- a name not in the SJR users table gets access denied and no server;
- code in the researcher's kernel connecting with its own database URL reads no review rows.

Hub state (its database, cookie secret, proxy pid) lives in the test's temporary folder; the hub,
proxy, service and single-user servers are stopped at the end and none is left running.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_URL = os.environ.get("SJR_TEST_POSTGRES_URL")
ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "deploy" / "jupyterhub_config.py"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"  # git-ignored, to be looked at
VENV_BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--lang=en-GB"]
PROXY = shutil.which("configurable-http-proxy")
HUB_START_S = 60
PAGE_MS = 120_000  # a server start plus a notebook's first run on a loaded two-core machine
STOP_S = 30
APPROVAL_FIELDS = ("review_id", "case_id", "second_review_of", "organisation_code",
                   "review_stage", "status", "review_date", "death_month", "score_overall",
                   "avoidability_score", "avoidability_scale", "learning_disability")
"""What the headline statistics of the quick-start need, and no more: no age, sex, postcode
district, specialty or free text."""

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set: the hub "
                       "deployment runs on PostgreSQL only"),
    pytest.mark.skipif(PROXY is None, reason="configurable-http-proxy is not installed (`npm "
                       "install -g configurable-http-proxy`; .ci/run does it)"),
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"{CHROMIUM} is absent: install Debian's chromium (.ci/run does)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Store:
    owner_url: str
    database: str
    lead: str
    researcher: str
    stranger: str
    lead_org: str
    approved_orgs: tuple[str, ...]
    other_orgs: tuple[str, ...]
    approval_id: str
    lead_role: str
    researcher_role: str
    service_url: str  # the hub's and the extract service's own credentials


# --------------------------------------------------------------------------- the store ----
def _populate(owner_url: str, tag: str) -> Store:
    """Schema, a small synthetic data set, and the people as an operator registers them on
    PostgreSQL (each with their own database role, ``users.db_role``)."""
    from data_access import pg_security, store
    from data_access.approvals import ApprovalSpec, add_approval
    from sjrlib import schema
    from sjrlib.synthetic import generate

    data = generate(n_organisations=3, years=1, seed=23, n_scottish=0)
    organisations = schema.validate_organisations(data.organisations)
    deaths = schema.validate_deaths(data.deaths, known_organisations=organisations)
    reviews = schema.validate_reviews(data.reviews, known_organisations=organisations)
    store.init_db(owner_url)
    engine = store.get_engine(owner_url)
    codes = sorted(organisations["organisation_code"])
    months = sorted(reviews["death_month"].astype(str).dropna().unique())
    lead, researcher = f"lead-{tag}", f"researcher-{tag}"
    try:
        store.import_organisations(engine, organisations)
        store.import_deaths(engine, deaths)
        store.import_reviews(engine, reviews)
        today = dt.date.today()
        with engine.begin() as conn:
            for name, role, organisation in ((lead, "organisation_lead", codes[0]),
                                             (researcher, "researcher", None)):
                pg_security.add_user(conn, acting="operator", username=name, role=role,
                                     organisation_code=organisation, reviewer_id=None,
                                     tool="test")
            add_approval(conn, ApprovalSpec(
                id=f"DARG-HUB-{tag}", applicants=(researcher,), purpose="hub test",
                organisations=tuple(codes[:2]), period_start=months[0], period_end=months[-1],
                fields=APPROVAL_FIELDS, free_text=False, date_coarsening="quarter",
                start_date=today - dt.timedelta(days=1), end_date=today + dt.timedelta(days=30)))
            roles = dict(conn.execute(text("SELECT username, db_role FROM users")).all())
    finally:
        engine.dispose()
    return Store(owner_url, make_url(owner_url).database, lead, researcher, f"stranger-{tag}",
                 codes[0], tuple(codes[:2]), tuple(codes[2:]), f"DARG-HUB-{tag}",
                 roles[lead], roles[researcher], "")


def _create_service_role(owner_url: str, tag: str) -> str:
    """The hub's and the extract service's own login role, as the operator makes it: a member
    of ``sjr_service`` that may read the store (audit entries go through the database's
    functions). Returns its URL."""
    role = f"sjr_hubsvc_{tag}"
    engine = create_engine(owner_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE '
                          'sjr_service'))
        conn.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"'))
        conn.execute(text(f'GRANT CONNECT ON DATABASE "{make_url(owner_url).database}" '
                          f'TO "{role}"'))  # a service of this store (0018_store_connect)
    engine.dispose()
    return make_url(owner_url).set(username=role).render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def key_file(tmp_path_factory):
    """The approval key file, as the deployment's operator sets it (SJR_KEY_FILE)."""
    path = tmp_path_factory.mktemp("keys") / "sjr.keys"
    saved = os.environ.get("SJR_KEY_FILE")
    os.environ["SJR_KEY_FILE"] = str(path)
    yield path
    if saved is None:
        os.environ.pop("SJR_KEY_FILE", None)
    else:
        os.environ["SJR_KEY_FILE"] = saved


@pytest.fixture(scope="module")
def sjr_store(key_file):
    admin_url = make_url(POSTGRES_URL)
    tag = uuid.uuid4().hex[:8]
    name = f"sjr_hub_{tag}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    owner_url = admin_url.set(database=name).render_as_string(hide_password=False)
    from data_access.pg_security import role_name

    # roles are cluster-wide: named before anything is made, so they are dropped whatever fails
    roles = [role_name(f"{who}-{tag}", name) for who in ("lead", "researcher")]
    roles.append(f"sjr_hubsvc_{tag}")
    try:
        built = _populate(owner_url, tag)
        assert [built.lead_role, built.researcher_role] == roles[:2]
        yield dataclasses.replace(built, service_url=_create_service_role(owner_url, tag))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            for role in roles:
                conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


# ----------------------------------------------------------------------------- the hub ----
@dataclass
class Hub:
    url: str
    homes: Path
    process: subprocess.Popen
    log: Path
    notebooks: Path  # what the dashboard servers serve ($SJR_ROOT/notebooks)

    def home(self, user: str) -> Path:
        return self.homes / user

    def server_env(self, user: str) -> dict[str, str]:
        """The environment of ``user``'s running single-user server (what its kernels get)."""
        for child in psutil.Process(self.process.pid).children(recursive=True):
            try:
                env = child.environ()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if env.get("JUPYTERHUB_USER") == user and "sjr-singleuser" in " ".join(
                    child.cmdline()):
                return env
        raise AssertionError(f"no single-user server of {user} is running")


def _wait_for_hub(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + HUB_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyterhub exited with {process.returncode}:\n"
                               f"{log.read_text(errors='replace')[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/hub/api/", timeout=2) as answer:
                json.loads(answer.read())
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"the hub did not answer within {HUB_START_S} s:\n"
                       f"{log.read_text(errors='replace')[-4000:]}")


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the hub (it stops the proxy, the service and the servers), then make sure."""
    family = [process] + psutil.Process(process.pid).children(recursive=True)
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
    gone, alive = psutil.wait_procs(family, timeout=STOP_S)
    for leftover in alive:
        leftover.kill()
    psutil.wait_procs(alive, timeout=5)
    assert not alive, f"left running after the hub stopped: {[p.pid for p in alive]}"


PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                    "0000000d4944415478da63f8cfc0f01f0005000200a0e5e9a60000000049454e44ae426082")
"""A 1x1 image: what Voila's ``/voila/files/`` served (images only, by default)."""


@pytest.fixture(scope="module")
def sjr_root(tmp_path_factory) -> Path:
    """The deployment's ``SJR_ROOT``: a copy of the repository's notebooks, with an image
    beside them (``notebooks/chart.png``) that no dashboard uses."""
    root = tmp_path_factory.mktemp("sjr_root")
    shutil.copytree(ROOT / "notebooks", root / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    (root / "notebooks" / "chart.png").write_bytes(PNG)
    return root


@pytest.fixture(scope="module")
def hub(sjr_store, key_file, sjr_root, tmp_path_factory):
    state = tmp_path_factory.mktemp("hub")
    homes = state / "home"
    homes.mkdir()
    port, hub_port, api_port, service_port = (_free_port() for _ in range(4))
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JUPYTERHUB_", "SJR_", "JUPYTER_", "IPYTHONDIR"))}
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        SJR_ROOT=str(sjr_root),
        SJR_DATABASE_URL_TEMPLATE=(f"postgresql+psycopg://{{db_role}}@127.0.0.1:5432/"
                                   f"{sjr_store.database}"),
        SJR_SERVICE_DATABASE_URL=sjr_store.service_url,
        SJR_HUB_AUTHENTICATOR="dummy",
        SJR_HUB_SPAWNER="simple",
        SJR_HUB_HOME_TEMPLATE=str(homes / "{username}"),
        SJR_HUB_BIND_URL=url,
        SJR_EXTRACT_SERVICE_PORT=str(service_port),
        SJR_KEY_FILE=str(key_file),
    )
    log = state / "jupyterhub.log"
    process = subprocess.Popen(
        [str(VENV_BIN / "jupyterhub"), "-f", str(CONFIG),
         f"--JupyterHub.hub_port={hub_port}",
         f"--JupyterHub.db_url=sqlite:///{state / 'jupyterhub.sqlite'}",
         f"--JupyterHub.cookie_secret_file={state / 'jupyterhub_cookie_secret'}",
         f"--ConfigurableHTTPProxy.pid_file={state / 'proxy.pid'}",
         f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{api_port}",
         f"--ConfigurableHTTPProxy.command={PROXY}"],
        env=env, cwd=str(state), stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        _wait_for_hub(url, process, log)
        yield Hub(url, homes, process, log, sjr_root / "notebooks")
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def browser(playwright_driver):
    chromium = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@dataclass
class Traffic:
    """Every request and websocket a browser context made, and those to any other host than
    the hub's own (``host:port``), which were aborted (so the test needs no network)."""
    hub_netloc: str
    requested: list[str] = dataclasses.field(default_factory=list)
    outside: list[str] = dataclasses.field(default_factory=list)

    def _record(self, url: str) -> None:
        self.requested.append(url)
        if not self._ours(url):
            self.outside.append(url)

    def _ours(self, url: str) -> bool:
        return urlsplit(url).netloc == self.hub_netloc

    def watch(self, context, page) -> None:
        # every request, redirects included (which routes do not see); others never leave
        context.on("request", lambda request: self._record(request.url))
        context.route("**/*", lambda r: r.continue_() if self._ours(r.request.url)
                      else r.abort())
        page.on("websocket", lambda ws: self._record(ws.url))


@pytest.fixture
def sign_in(browser, hub):
    """``sign_in(name, traffic=None) -> page``: a fresh browser context signed into the hub as
    ``name``; with ``traffic``, every request of the context from the login page on is
    recorded in it (and any to another host aborted)."""
    contexts = []

    def sign_in_(name: str, traffic: Traffic | None = None):
        context = browser.new_context(viewport={"width": 1280, "height": 900},
                                      locale="en-GB", timezone_id="Europe/London")
        contexts.append(context)
        page = context.new_page()
        if traffic is not None:
            traffic.watch(context, page)
        page.goto(f"{hub.url}/hub/login", timeout=PAGE_MS)
        page.fill("#username_input", name)
        page.fill("#password_input", "any")
        page.click("#login_submit")
        return page

    yield sign_in_
    for context in contexts:
        context.close()


def _screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"hub_{name}.png"), full_page=True)


def _wait_for(page, selector: str, hub: Hub) -> None:
    """Wait for ``selector``; on a timeout say what the page and the hub's log showed."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_selector(selector, timeout=PAGE_MS)
    except PlaywrightTimeout:
        shown = page.locator("body").inner_text()[:2000]
        raise AssertionError(f"{selector} not shown at {page.url} within {PAGE_MS} ms; the "
                             f"page showed:\n{shown}\nhub log:\n"
                             f"{hub.log.read_text(errors='replace')[-3000:]}") from None


def _wait_for_idle_kernel(page, server: str) -> None:
    """Wait until the notebook's kernel session exists and is idle (asked of the server)."""
    deadline = time.monotonic() + PAGE_MS / 1000
    while time.monotonic() < deadline:
        sessions = page.request.get(f"{server}/api/sessions").json()
        if sessions and all(s["kernel"]["execution_state"] == "idle" for s in sessions):
            return
        time.sleep(0.5)
    raise AssertionError(f"no idle kernel in {server} within {PAGE_MS} ms")


def _running_server_env(hub: Hub, sign_in, name: str) -> dict[str, str]:
    """The environment of ``name``'s server, signing them in first when it is not running."""
    try:
        return hub.server_env(name)
    except AssertionError:
        sign_in(name)
    deadline = time.monotonic() + PAGE_MS / 1000
    while time.monotonic() < deadline:
        try:
            return hub.server_env(name)
        except AssertionError:
            time.sleep(0.5)
    return hub.server_env(name)


# --------------------------------------------------------------------------- the tests ----
def test_a_lead_gets_their_organisations_dashboard_and_no_jupyterlab(hub, sjr_store, sign_in):
    """The lead's dashboard page also requests nothing from any host but the hub's. Voila's
    stock ``lab`` template links Font Awesome from cdn.jsdelivr.net and, as a server extension,
    points the page at MathJax on cdnjs.cloudflare.com: third-party requests a hospital network
    must not make (and which tell the CDN who opened a dashboard when). The servers run Voila
    with the ``sjr-offline`` template (sjrlib/dashboards/serve.py)."""
    from playwright.sync_api import expect

    traffic = Traffic(urlsplit(hub.url).netloc)
    page = sign_in(sjr_store.lead, traffic)
    _wait_for(page, ".f-organisation_code select", hub)
    page.wait_for_load_state("load", timeout=PAGE_MS)  # the whole page: every cell's output
    assert any("/voila/render/explore.ipynb" in u for u in traffic.requested), traffic.requested
    assert traffic.outside == [], f"requests to hosts other than the hub's: {traffic.outside}"
    assert page.url.startswith(f"{hub.url}/user/{sjr_store.lead}/voila/render/explore.ipynb")
    expect(page.locator(".sjr-explore")).to_contain_text(f"Signed in as {sjr_store.lead}")
    options = page.locator(".f-organisation_code select option").all_inner_texts()
    assert [o.replace("\xa0", " ").split(" · ")[0] for o in options] == [sjr_store.lead_org]
    _screenshot(page, "lead_explore")

    for path in ("lab", "lab/tree/explore.ipynb", "tree", "terminals/1", "notebooks/explore"):
        answer = page.request.get(f"{hub.url}/user/{sjr_store.lead}/{path}",
                                  max_redirects=0)
        assert answer.status == 404, (path, answer.status)


def _is_our_error_page(body: str, status: int, base_url: str) -> bool:
    """The project's own short error page (sjrlib.dashboards.voila_pages.error_page): no
    script, style sheet or image, no link but the server's first page."""
    return (f"Error {status}." in body and "<script" not in body.lower()
            and "<link" not in body.lower() and "src=" not in body.lower()
            and re.findall(r'href="([^"]*)"', body) == [base_url])


def _kernel_ids(page, server: str) -> set[str]:
    answer = page.request.get(f"{server}/api/kernels")
    assert answer.status == 200, answer.status
    return {kernel["id"] for kernel in answer.json()}


def test_a_leads_server_renders_only_the_dashboards(hub, sjr_store, sign_in):
    """The hub's dashboard servers rendered any notebook of the folder for the signed-in
    person: the report notebooks ran as them. Now, as under ``sjr serve``, only the dashboards
    render (the others are not found, before any kernel starts), and errors are the project's
    own page (Voila's 404 page links a CDN). The lead's dashboard still renders."""
    page = sign_in(sjr_store.lead)
    _wait_for(page, ".f-organisation_code select", hub)
    page.wait_for_load_state("load", timeout=PAGE_MS)
    server = f"{hub.url}/user/{sjr_store.lead}"
    base_url = f"/user/{sjr_store.lead}/"
    before = _kernel_ids(page, server)
    assert before, "the dashboard's kernel is not listed"

    for name in ("national_report.ipynb", "trust_report.ipynb", "researcher_quickstart.ipynb"):
        assert (hub.notebooks / name).is_file()
        answer = page.request.get(f"{server}/voila/render/{name}", max_redirects=0)
        assert answer.status == 404, (name, answer.status)
        assert _is_our_error_page(answer.text(), 404, base_url), (name, answer.text()[:500])
    time.sleep(1)
    assert _kernel_ids(page, server) <= before, "a notebook not offered started a kernel"

    # an address the server does not know: the same page, not Jupyter's or Voila's
    answer = page.request.get(f"{server}/no/such/page", max_redirects=0)
    assert answer.status == 404 and _is_our_error_page(answer.text(), 404, base_url)

    # Voila's file tree listed every notebook of the folder, with Font Awesome and MathJax
    # from CDNs: now the dashboards' index, fetching nothing
    from sjrlib.dashboards.serve import DASHBOARDS

    for tree in ("voila", "voila/tree", "voila/tree/"):
        answer = page.request.get(f"{server}/{tree}", max_redirects=0)
        assert answer.status == 200, (tree, answer.status)
        body = answer.text()
        links = re.findall(r'href="([^"]+)"', body)
        assert links == [f"{base_url}voila/render/{name}" for name in DASHBOARDS], (tree, links)
        assert "signed in through JupyterHub" in body
        assert not re.search(r"(src|href)=\"(https?:)?//", body), body[:1000]
        assert "report" not in body.lower(), body
    answer = page.request.get(f"{server}/voila/tree/national_report.ipynb", max_redirects=0)
    assert answer.status == 404 and _is_our_error_page(answer.text(), 404, base_url)


def test_a_leads_server_serves_no_files(hub, sjr_store, sign_in):
    """``/voila/files/`` served images under the notebooks folder to anyone reaching the
    proxy, signed in or not (Voila's plain static handler, no sign-in check). No dashboard loads
    anything from there: every file is refused, with the project's own page."""
    page = sign_in(sjr_store.lead)
    _wait_for(page, ".f-organisation_code select", hub)
    server = f"{hub.url}/user/{sjr_store.lead}"
    base_url = f"/user/{sjr_store.lead}/"
    assert (hub.notebooks / "chart.png").is_file()  # and Voila served it
    for path in ("voila/files/chart.png", "voila/files/explore.ipynb"):
        answer = page.request.get(f"{server}/{path}", max_redirects=0)
        assert answer.status == 403, (path, answer.status)
        assert _is_our_error_page(answer.text(), 403, base_url), answer.text()[:500]
        try:
            with urllib.request.urlopen(f"{server}/{path}", timeout=30) as anonymous:
                status = anonymous.status
        except urllib.error.HTTPError as refused:
            status = refused.code
        assert status == 403, (path, "not signed in", status)


def test_an_unknown_name_gets_access_denied(hub, sjr_store, sign_in):
    from playwright.sync_api import expect

    page = sign_in(sjr_store.stranger)
    expect(page.locator("body")).to_contain_text("Access denied", timeout=PAGE_MS)
    expect(page.locator("body")).to_contain_text("not a registered SJR user")
    _screenshot(page, "unknown_denied")
    answer = page.request.get(f"{hub.url}/user/{sjr_store.stranger}/lab")
    assert answer.status != 200 or "jp-LabShell" not in answer.text()
    with pytest.raises(AssertionError):
        hub.server_env(sjr_store.stranger)
    assert ("session.denied", "jupyterhub", None) in _audit(sjr_store.owner_url,
                                                            sjr_store.stranger)


def test_a_researcher_runs_the_quickstart_in_jupyterlab(hub, sjr_store, sign_in):
    from data_access.extract import read_extract

    page = sign_in(sjr_store.researcher)
    _wait_for(page, ".jp-Notebook .jp-Cell", hub)
    assert page.url.startswith(
        f"{hub.url}/user/{sjr_store.researcher}/lab/tree/researcher_quickstart.ipynb")
    _wait_for_idle_kernel(page, f"{hub.url}/user/{sjr_store.researcher}")
    page.locator(".jp-Notebook").click()
    page.get_by_role("menuitem", name="Run").click()
    page.locator("li[data-command='runmenu:run-all']").click()

    manifest_file = hub.home(sjr_store.researcher) / "extract.parquet.manifest.json"
    deadline = time.monotonic() + PAGE_MS / 1000
    while not manifest_file.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert manifest_file.exists(), (
        "the quick-start notebook wrote no extract; its outputs:\n"
        + "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())[-3000:]
        + "\nhub log:\n" + hub.log.read_text(errors="replace")[-3000:])
    _wait_for_idle_kernel(page, f"{hub.url}/user/{sjr_store.researcher}")
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
                          ", .jp-RenderedText[data-mime-type='application/vnd.jupyter.error']")
    assert errors.count() == 0, errors.all_inner_texts()
    _screenshot(page, "researcher_quickstart")

    manifest = json.loads(manifest_file.read_text())
    extract = read_extract(hub.home(sjr_store.researcher) / "extract.parquet")
    assert manifest["created_by"] == sjr_store.researcher
    assert set(extract.columns) - {"review_sequence"} == set(APPROVAL_FIELDS)
    assert len(extract) > 0
    assert set(extract["organisation_code"]) <= set(sjr_store.approved_orgs)
    assert not set(extract["organisation_code"]) & set(sjr_store.other_orgs)
    assert (hub.home(sjr_store.researcher) / "extract.parquet").stat().st_mode & 0o077 == 0


def test_the_researchers_kernel_reads_no_review_rows_directly(hub, sjr_store, sign_in):
    import nbformat
    from nbclient import NotebookClient

    env = _running_server_env(hub, sign_in, sjr_store.researcher)
    assert make_url(env["SJR_DATABASE_URL"]).username != make_url(sjr_store.owner_url).username
    # Code a researcher could type: their kernel's own URL, no project code in between. Their
    # role holds no privilege on the review data (revision 0033_reader_group): each statement
    # is refused, EXPLAIN ANALYZE too, where the policies used to give them no row.
    code = ("import os, sqlalchemy as sa\n"
            "e = sa.create_engine(os.environ['SJR_DATABASE_URL'])\n"
            "def last(*sqls):\n"
            "    with e.connect() as c:\n"
            "        try:\n"
            "            for q in sqls:\n"
            "                r = c.execute(sa.text(q)).scalar_one()\n"
            "        except sa.exc.ProgrammingError as x:\n"
            "            r = 'denied' if 'permission denied' in str(x) else 'other'\n"
            "    return r\n"
            "print(last('select session_user'))\n"
            "print(last('select count(*) from reviews'))\n"
            "print(last(\"select set_config('sjr.all_organisations', 'on', false)\",\n"
            "           'select count(*) from reviews'))\n"
            "print(last('explain analyze select 1 from reviews'))\n"
            "print(last('select count(*) from deaths'))\n")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(notebook, kernel_name="python3", timeout=60,
                   resources={"metadata": {"path": str(hub.home(sjr_store.researcher))}}
                   ).execute(env=env)
    printed = "".join(o.get("text", "") for o in notebook.cells[0].outputs).split()
    assert printed == [sjr_store.researcher_role, "denied", "denied", "denied", "denied"]


def _audit(owner_url: str, username: str) -> list[tuple[str, str, str | None]]:
    engine = create_engine(owner_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT action, tool, approval_id FROM audit_log "
                                 "WHERE username = :u ORDER BY id"), {"u": username}).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def test_the_extract_service_acts_only_as_the_tokens_owner(hub, sjr_store, sign_in, tmp_path):
    """The service takes the user from the hub token: no token or a lead's server token gets
    nothing, whatever the request names; the researcher's extract (here a CSV of two fields,
    made by the client in the researcher's server environment) is audited as theirs."""
    lead = _running_server_env(hub, sign_in, sjr_store.lead)
    researcher = _running_server_env(hub, sign_in, sjr_store.researcher)
    service = researcher["SJR_EXTRACT_SERVICE_URL"]
    assert "SJR_EXTRACT_SERVICE_URL" not in lead
    assert not {"SJR_SERVICE_DATABASE_URL", "SJR_USER", "SJR_KEY_FILE"} & (set(researcher)
                                                                         | set(lead))

    def ask(token: str | None, body: dict) -> tuple[int, str]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"token {token}"
        request = urllib.request.Request(f"{service}api/extract", data=json.dumps(body).encode(),
                                         headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as refused:
            return refused.code, refused.read().decode()

    body = {"file": "x.parquet", "user": sjr_store.researcher}
    assert ask(None, body)[0] == 401
    assert ask("not-a-token", body)[0] == 403
    status, message = ask(lead["JUPYTERHUB_API_TOKEN"], body)
    assert status == 403, message

    code = ("from data_access import request_extract\n"
            "r = request_extract(None, 'mine.csv', fields=['organisation_code', 'score_overall'])\n"
            "print(r.rows)\n")
    python = str(VENV_BIN / "python")
    made = subprocess.run([python, "-c", code], env=researcher, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    import pandas as pd

    mine = pd.read_csv(tmp_path / "mine.csv")
    assert set(mine.columns) - {"review_sequence"} == {"organisation_code", "score_overall"}
    assert len(mine) == int(made.stdout.split()[-1]) > 0
    assert set(mine["organisation_code"]) <= set(sjr_store.approved_orgs)
    refused = subprocess.run([python, "-c", code], env={**lead, "SJR_EXTRACT_SERVICE_URL": service},
                             cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "AccessDenied" in refused.stderr

    extracts = [a for a in _audit(sjr_store.owner_url, sjr_store.researcher) if a[0] == "extract"]
    assert ("extract", "extract-service", sjr_store.approval_id) in extracts
    assert not [a for a in _audit(sjr_store.owner_url, sjr_store.lead) if a[0] == "extract"]
