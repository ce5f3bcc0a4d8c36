"""Shared fixtures: an isolated home for Jupyter/matplotlib, and real databases.

``db_url`` yields a fresh, empty SQLite file database and, when ``SJR_TEST_POSTGRES_URL`` is set
(``.ci/run`` sets it when a local server answers), a fresh PostgreSQL database created for the one
test and dropped after it. Tests that take ``db_url`` therefore run on both engines.
"""

from __future__ import annotations

import os
import shutil
import signal
import uuid

import pytest
from _migrated_stores import (  # noqa: F401  (autouse fixtures: a new store is a copy)
    _real_migrations_when_marked,
    copy_database_privileges,
    migrated_store_templates,
)

# Ctrl-C as at a terminal, for every process the tests start: a test run started in the
# background by a non-interactive shell (`make test &`) ignores SIGINT and its processes
# inherit that, so a batch under test never saw the Ctrl-C a test sends, and JupyterHub's
# servers, stopped with SIGINT first, outlived the hub's 30 s.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

POSTGRES_URL = os.environ.get("SJR_TEST_POSTGRES_URL")


@pytest.fixture(autouse=True, scope="session")
def _isolated_home(tmp_path_factory):
    """Keep Jupyter, IPython and matplotlib caches, the identity file and key files out of the
    user's $HOME."""
    home = tmp_path_factory.mktemp("home")
    saved = {k: os.environ.get(k) for k in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR",
                                            "JUPYTER_RUNTIME_DIR", "IPYTHONDIR", "MPLCONFIGDIR",
                                            "XDG_CONFIG_HOME")}
    os.environ["JUPYTER_CONFIG_DIR"] = str(home / "jupyter-config")
    os.environ["JUPYTER_DATA_DIR"] = str(home / "jupyter-data")
    os.environ["JUPYTER_RUNTIME_DIR"] = str(home / "jupyter-runtime")
    os.environ["IPYTHONDIR"] = str(home / "ipython")
    os.environ["MPLCONFIGDIR"] = str(home / "matplotlib")
    # the identity file and PostgreSQL stores' approval key files (~/.config/sjr/...) too
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")
    os.environ.setdefault("MPLBACKEND", "Agg")
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _engines():
    params = [pytest.param("sqlite", id="sqlite")]
    params.append(
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set"),
            ],
        )
    )
    return params


@pytest.fixture
def postgres_database():
    """Create a throwaway PostgreSQL database; yield its SQLAlchemy URL; drop it afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = make_url(POSTGRES_URL)
    name = f"sjr_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        from access_setup import person_roles

        persons = person_roles(url)  # persons' LOGIN roles are cluster-wide (0003_security)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            for role in persons:
                conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


@pytest.fixture(params=_engines())
def db_url(request, tmp_path):
    """An empty database URL (no schema yet), on SQLite and, when configured, PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sjr.db'}"
    else:
        yield request.getfixturevalue("postgres_database")


@pytest.fixture(scope="session")
def playwright_driver():
    """The one Playwright (sync API) of this test process. A second ``sync_playwright()``
    while one is open refuses to start (the first keeps its event loop running in this
    thread), so the browser tests (tests/browser/conftest.py, session scope) and the hub's
    (tests/test_hub.py) launch their Chromium from this one: a worker that ran a browser test
    before the hub's had failed at the hub's setup ('Playwright Sync API inside the asyncio
    loop'), depending on which files xdist gave it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def small_data():
    """A small synthetic data set (4 organisations, 2 years), made once per test session.

    ``SyntheticData(organisations, deaths, reviews)`` frames; treat them as read-only.
    """
    from sjrlib.synthetic import generate

    return generate(n_organisations=4, years=2, seed=1)


def _populate(url, data):
    """Create the schema at ``url`` and import ``data`` through validation, as ``sjr import``."""
    from dashboard_store import populate

    populate(url, data)


@pytest.fixture(scope="session")
def _populated_sqlite_template(tmp_path_factory, small_data):
    path = tmp_path_factory.mktemp("populated") / "sjr.db"
    _populate(f"sqlite:///{path}", small_data)
    return path


@pytest.fixture(scope="session")
def _populated_postgres_template(small_data):
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = make_url(POSTGRES_URL)
    name = f"sjr_template_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        _populate(admin_url.set(database=name).render_as_string(hide_password=False), small_data)
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def populated_db_url(request, db_url):
    """``db_url`` holding ``small_data`` (schema at head, validated and imported).

    The import runs once per session into a template that each test gets a fresh copy of.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        shutil.copyfile(request.getfixturevalue("_populated_sqlite_template"), url.database)
        return db_url
    template = request.getfixturevalue("_populated_postgres_template")
    admin = create_engine(make_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{url.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{url.database}" TEMPLATE "{template}"'))
            copy_database_privileges(conn, template, url.database)
    finally:
        admin.dispose()
    return db_url
