"""A test's new store starts as a copy of one migrated once per test process (not a test file).

``data_access.store.init_db`` runs every migration (0001 to the newest) on a new store: 0.45 s
on SQLite and 1.0 s on PostgreSQL each on the CI machine (measured 2026-12-07), and the suite
makes some hundreds of new stores in its own process (the CLI's commands run in-process through
typer's ``CliRunner`` too). The autouse fixture :func:`migrated_store_templates` has
``init_db``, given the URL of a new store (a SQLite file not yet written, or a PostgreSQL
database holding no table that nobody else is connected to), copy a store that the real
``init_db`` migrated once in this process instead, and then call the real ``init_db``, which
finds it at the newest revision. What a migration makes differently per store is made again:

- ``store_meta.approval_keys``, the random token tying the approval key file to the store
  (revision ``0005_approval_safety``), is drawn again for each copy;
- on PostgreSQL, the database's own privileges (``pg_database.datacl``: revision
  ``0018_store_connect`` revokes ``CONNECT`` from ``PUBLIC``) are the template's, which
  ``CREATE DATABASE ... TEMPLATE`` alone does not copy.

Everything else is the template's, byte for byte (SQLite's backup API; PostgreSQL's file copy
of a template database). The migrations themselves are still run for real: once per process
for each engine, by the tests of the migrations (which call Alembic, or start from an older
revision, and so never take a copy), and by every ``sjr`` run as a subprocess.
``SJR_TEST_REAL_MIGRATIONS=1`` turns the copies off (every new store migrated, as before), and a
test marked ``real_migrations`` gets no copy.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import tempfile
from pathlib import Path

import pytest

_LOCALE = ("SELECT jsonb_build_array(j->'encoding', j->'datcollate', j->'datctype', "
           "j->'datlocprovider', j->'daticulocale', j->'datlocale', j->'daticurules') "
           "FROM (SELECT to_jsonb(d) AS j FROM pg_database d WHERE datname = :{}) AS x")
"""A database's encoding and locale (the columns differ between PostgreSQL versions: a
missing one is null in both)."""

_TOKEN = "UPDATE store_meta SET value = :token WHERE key = 'approval_keys'"


class _Templates:
    """The migrated templates of this process: a SQLite file and a PostgreSQL database."""

    def __init__(self, real_init_db, postgres_url: str | None):
        self.real = real_init_db
        self.postgres_url = postgres_url
        self.directory = Path(tempfile.mkdtemp(prefix="sjr-migrated-"))
        self.sqlite: Path | None = None
        self.postgres: str | None = None  # the template database's URL
        self.copies = {"sqlite": 0, "postgresql": 0}
        self.off = False  # a test marked ``real_migrations`` is running

    # -- SQLite -------------------------------------------------------------------------
    def sqlite_copy(self, path: Path) -> bool:
        if not path.parent.is_dir() or any(Path(f"{path}{s}").exists() for s in ("-wal",
                                                                                 "-journal")):
            return False
        if path.exists() and path.stat().st_size:
            return False
        if self.sqlite is None:
            template = self.directory / "migrated.db"
            self.real(f"sqlite:///{template}")
            self.sqlite = template
        try:  # made as the store module makes a store's file: its owner's only (0600)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
        source, target = sqlite3.connect(self.sqlite), sqlite3.connect(path)
        try:
            source.backup(target)
            target.execute(_TOKEN.replace(":token", "?"), (secrets.token_hex(16),))
            target.commit()
        finally:
            source.close()
            target.close()
        self.copies["sqlite"] += 1
        return True

    # -- PostgreSQL ---------------------------------------------------------------------
    def _admin(self):
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        return create_engine(make_url(self.postgres_url), isolation_level="AUTOCOMMIT")

    def postgres_copy(self, url) -> bool:
        import time

        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url
        from sqlalchemy.pool import NullPool

        if not self.postgres_url:
            return False
        admin_url = make_url(self.postgres_url)
        if ((url.host, url.port, url.username) != (admin_url.host, admin_url.port,
                                                   admin_url.username)
                or url.database in (None, admin_url.database)):
            return False  # a person's role, or another server: migrated for real
        name = url.database
        store = create_engine(url, poolclass=NullPool)
        try:
            with store.connect() as conn:
                tables, backend = conn.execute(text(
                    "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n "
                    "ON n.oid = c.relnamespace WHERE n.nspname = 'public'), "
                    "pg_backend_pid()")).one()
        finally:
            store.dispose()
        if tables:
            return False
        if self.postgres is None:
            from access_setup import _create_pg_database

            self.postgres = _create_pg_database()
            self.real(self.postgres)
        template = make_url(self.postgres).database
        admin = self._admin()
        try:
            with admin.connect() as conn:
                gone = time.monotonic() + 5  # our own look's backend ends just after we left
                while conn.execute(text("SELECT EXISTS (SELECT 1 FROM pg_stat_activity "
                                        "WHERE pid = :p)"), {"p": backend}).scalar():
                    if time.monotonic() > gone:
                        return False
                    time.sleep(0.005)
                same = conn.execute(text(
                    f"SELECT ({_LOCALE.format('n')}) = ({_LOCALE.format('t')}) AND "
                    "NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = :n)"),
                    {"n": name, "t": template}).scalar()
                if not same:
                    return False  # another collation, or someone connected: for real
                conn.execute(text(f'DROP DATABASE "{name}"'))
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
                copy_database_privileges(conn, template, name)
        finally:
            admin.dispose()
        store = create_engine(url, poolclass=NullPool)
        try:
            with store.begin() as conn:
                conn.execute(text(_TOKEN), {"token": secrets.token_hex(16)})
        finally:
            store.dispose()
        self.copies["postgresql"] += 1
        return True

    def close(self) -> None:
        if self.postgres is not None:
            from access_setup import _drop_pg_database

            _drop_pg_database(self.postgres)
        for leftover in sorted(self.directory.glob("*")):
            leftover.unlink()
        self.directory.rmdir()


def copy_database_privileges(conn, template: str, name: str) -> None:
    """Give database ``name`` the database-level privileges of ``template``
    (``pg_database.datacl``, which ``CREATE DATABASE ... TEMPLATE`` does not copy: the
    migrations revoke ``CONNECT`` from ``PUBLIC``). ``conn``: a superuser's."""
    from sqlalchemy import text

    conn.execute(text("UPDATE pg_database SET datacl = (SELECT datacl FROM pg_database "
                      "WHERE datname = :t) WHERE datname = :n"), {"t": template, "n": name})


@pytest.fixture(autouse=True, scope="session")
def migrated_store_templates():
    """``init_db`` of a new store copies this process's migrated one (module notes)."""
    if os.environ.get("SJR_TEST_REAL_MIGRATIONS") == "1":
        yield None
        return
    from sqlalchemy.engine import make_url

    from data_access import database, store

    real = database.init_db
    templates = _Templates(real, os.environ.get("SJR_TEST_POSTGRES_URL"))

    def init_db(url):
        if isinstance(url, str) and not templates.off:
            sa_url = make_url(database._normalise_url(url))
            file = database.sqlite_file(sa_url)
            if file is not None:
                templates.sqlite_copy(Path(file))
            elif sa_url.get_backend_name() == "postgresql":
                templates.postgres_copy(sa_url)
        return real(url)

    init_db.__doc__ = real.__doc__
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(database, "init_db", init_db)
        patch.setattr(store, "init_db", init_db)
        yield templates
    templates.close()


@pytest.fixture(autouse=True)
def _real_migrations_when_marked(request, migrated_store_templates):
    """A test marked ``real_migrations`` has every new store migrated for real."""
    if migrated_store_templates is None or request.node.get_closest_marker(
            "real_migrations") is None:
        yield
        return
    migrated_store_templates.off = True
    try:
        yield
    finally:
        migrated_store_templates.off = False
