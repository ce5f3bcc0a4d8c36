"""``sjr init-db`` on PostgreSQL advises a database that compares text byte by byte
(``LC_COLLATE 'C'``, ``docs/scaling.md``) when the store's database does not; SQLite and a
``C`` database get no such line."""

from __future__ import annotations

import uuid

import pytest
from access_setup import POSTGRES_URL
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from data_access import store
from sjrlib.cli import app

_ADVICE = "LC_COLLATE 'C'"


def sjr(*args: str):
    """``sjr`` as the operator who creates a store: no user, so no person's login role (a
    cluster-wide role a dropped database would leave behind)."""
    return CliRunner().invoke(app, list(args), env={"SJR_USER": None})


def test_sqlite_gets_no_advice(tmp_path):
    result = sjr("init-db", "--db", f"sqlite:///{tmp_path / 'sjr.db'}")
    assert result.exit_code == 0, result.output
    assert "Database ready" in result.output and _ADVICE not in result.output


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set")
def test_postgresql_is_advised_unless_its_text_compares_byte_by_byte(postgres_database):
    engine = store.get_engine(postgres_database)
    with engine.connect() as conn:
        collation = conn.exec_driver_sql(
            "SELECT datcollate FROM pg_database WHERE datname = current_database()").scalar()
    engine.dispose()
    result = sjr("init-db", "--db", postgres_database)
    assert result.exit_code == 0, result.output
    if collation in ("C", "POSIX"):  # a server whose default is already C
        assert _ADVICE not in result.output
    else:
        assert _ADVICE in result.output and repr(collation) in result.output, result.output

    admin_url = make_url(POSTGRES_URL)
    name = f"sjr_test_c_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE \"{name}\" TEMPLATE template0 LC_COLLATE 'C'"))
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        result = sjr("init-db", "--db", url)
        assert result.exit_code == 0, result.output
        assert "Database ready" in result.output and _ADVICE not in result.output
        assert store.collation_advice(url) is None
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
