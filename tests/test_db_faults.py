"""Every database fault is a sentence (issue 17 part 4): injected for real, one at a time.

Each fault is caused, not imitated: a SQLite store opened read-only, a missing folder, a store
capped at its current size (``PRAGMA max_page_count``: SQLite's own "database or disk is full"),
a write lock held by another connection, a PostgreSQL server that is not there, a backend
terminated by the server, a lock that runs into ``lock_timeout``, and a real deadlock between
two transactions. The ``sjr`` command runs in a child process; where a fault needs a setting
on the connection, a SQLAlchemy ``connect`` listener installed by the child's start-up code
(below, not in the package) applies it, as an operator's ``postgresql.conf`` or a full disk
would. Every case: exit code 1, one line naming the fault and what to do, no traceback, and the
store unchanged.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from data_access.faults import describe_fault

sys.path.insert(0, str(Path(__file__).parent))

POSTGRES_URL = os.environ.get("SJR_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set")

# The child: install the fault's connection setting (if any), then run `sjr` as the console
# script does.
CHILD = """
import os, sys
from sqlalchemy import event
from sqlalchemy.engine import Engine
fault = os.environ.get("SJR_TEST_FAULT", "")

@event.listens_for(Engine, "connect")
def _inject(dbapi_connection, record):
    cursor = dbapi_connection.cursor()
    if fault == "sqlite-full":
        pages = cursor.execute("PRAGMA page_count").fetchone()[0]
        cursor.execute(f"PRAGMA max_page_count = {pages}")
    elif fault == "sqlite-busy":
        cursor.execute("PRAGMA busy_timeout = 300")
    elif fault == "pg-terminated":
        cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    elif fault == "pg-lock-timeout":
        cursor.execute("SET lock_timeout = '300ms'")
    cursor.close()
    if fault.startswith("pg-"):
        dbapi_connection.commit()

from sjrlib.cli import main
main(sys.argv[1:])
"""


def sjr(*args: str, fault: str = "", user: str | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "SJR_TEST_FAULT": fault}
    env.pop("SJR_DEBUG", None)
    if user:
        env["SJR_USER"] = user
    return subprocess.run([sys.executable, "-c", CHILD, *args], env=env, capture_output=True,
                          text=True, timeout=300, cwd=cwd)


def _one_line(done: subprocess.CompletedProcess, *words: str) -> str:
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr and "sqlalchemy" not in done.stderr.lower()
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def sqlite_store(tmp_path, small_data):
    from dashboard_store import add_users, populate

    path = tmp_path / "sjr.db"
    url = f"sqlite:///{path}"
    populate(url, small_data)
    users = add_users(url, str(small_data.organisations["organisation_code"].iloc[0]))
    return path, users


def _rows(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_a_read_only_store(sqlite_store):
    path, users = sqlite_store
    before = _rows(path, "audit_log")
    done = sjr("summary", "--db", f"sqlite:///file:{path}?mode=ro&uri=true",
               user=users.programme)
    _one_line(done, "The store is read-only", str(path), "nothing was half-saved",
              "Ask the administrator")
    assert _rows(path, "audit_log") == before


def test_a_store_whose_folder_is_missing(tmp_path):
    missing = tmp_path / "no-such-folder" / "sjr.db"
    done = sjr("summary", "--db", f"sqlite:///{missing}", user="anyone")
    # refused before anything opens it (tests/test_cli_missing_store.py): exit 2, one line
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"no store at {missing} (--db)" in lines[0], done.stderr
    assert not missing.parent.exists()


def test_a_full_disk_mid_import_leaves_the_store_as_it_was(sqlite_store, tmp_path):
    from sjrlib.synthetic import generate

    path, users = sqlite_store
    more = generate(n_organisations=4, years=1, seed=11).reviews
    # the same organisations, new review ids: an import that must grow the store
    codes = list(more["organisation_code"].drop_duplicates())
    with sqlite3.connect(path) as conn:
        known = [r[0] for r in conn.execute("SELECT code FROM organisations ORDER BY code")]
    more["organisation_code"] = more["organisation_code"].map(dict(zip(codes, known,
                                                                       strict=False)))
    for column in ("review_id", "case_id", "second_review_of"):
        more[column] = "NEW-" + more[column].astype("string")
    file = tmp_path / "more.csv"
    from sjrlib import io

    io.write_reviews(more, file)
    before = _rows(path, "reviews")
    done = sjr("import", "reviews", str(file), "--db", f"sqlite:///{path}", fault="sqlite-full",
               user=users.admin)
    _one_line(done, "The disk holding the store is full", "nothing was half-saved",
              "Free some space")
    assert _rows(path, "reviews") == before


def test_a_store_held_by_another_writer(sqlite_store):
    """A write gives up in words; a read does not wait (audited through the audit queue,
    tests/test_audit_queue.py)."""
    path, users = sqlite_store
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # an import's write lock
    try:
        done = sjr("users", "disable", users.reviewer, "--db", f"sqlite:///{path}",
                   fault="sqlite-busy", user=users.admin)
        read = sjr("summary", "--db", f"sqlite:///{path}", fault="sqlite-busy",
                   user=users.programme)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    _one_line(done, "The store is busy", "Try again in a minute")
    assert read.returncode == 0, read.stderr


@needs_postgres
def test_a_postgresql_server_that_is_not_there():
    done = sjr("init-db", "--db", "postgresql+psycopg://postgres@127.0.0.1:1/test")
    _one_line(done, "The database server at 127.0.0.1:1 is not answering")


@needs_postgres
def test_a_postgresql_backend_terminated_by_the_server(postgres_database):
    done = sjr("init-db", "--db", postgres_database, fault="pg-terminated")
    _one_line(done, "The connection to the database server at", "was lost mid-way",
              "rolled back")


@needs_postgres
def test_a_lock_timeout_on_postgresql(postgres_database):
    assert sjr("init-db", "--db", postgres_database).returncode == 0
    engine = create_engine(postgres_database)
    try:
        with engine.connect() as conn:
            conn.execute(text("BEGIN"))
            conn.execute(text("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE"))
            done = sjr("init-db", "--db", postgres_database, fault="pg-lock-timeout")
            conn.execute(text("ROLLBACK"))
    finally:
        engine.dispose()
    _one_line(done, "The store is busy: a lock or statement timeout ran out",
              "Try again in a minute")


@needs_postgres
def test_a_real_deadlock_is_named(postgres_database):
    """Two transactions lock two rows in opposite orders; PostgreSQL kills one of them."""
    engine = create_engine(postgres_database, pool_size=2)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id int PRIMARY KEY, v int)"))
        conn.execute(text("INSERT INTO t VALUES (1, 0), (2, 0)"))
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def worker(first: int, second: int) -> None:
        try:
            with engine.begin() as conn:
                conn.execute(text("UPDATE t SET v = v + 1 WHERE id = :i"), {"i": first})
                barrier.wait()
                time.sleep(0.2)
                conn.execute(text("UPDATE t SET v = v + 1 WHERE id = :i"), {"i": second})
        except Exception as exc:  # noqa: BLE001 - the deadlock victim
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=a) for a in ((1, 2), (2, 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    engine.dispose()
    assert len(errors) == 1
    message = describe_fault(errors[0])
    assert message.startswith("Two requests to the store waited for each other (a deadlock)")
    assert "Try again" in message


@pytest.fixture
def closed_store():
    """A throwaway database a non-superuser role may not enter: ``CONNECTION LIMIT 0`` (the
    operator's ``ALTER DATABASE ... CONNECTION LIMIT``, reached), and the role's URL. Superusers
    are exempt from a database's limit, so the command connects as a role of its own."""
    from sqlalchemy.engine import make_url

    tag = os.urandom(4).hex()
    name, role = f"sjr_test_full_{tag}", f"sjr_test_full_{tag}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" CONNECTION LIMIT 0'))
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
    url = make_url(POSTGRES_URL).set(database=name, username=role, password=None)
    try:
        yield name, url.render_as_string(hide_password=False), admin
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


@needs_postgres
def test_a_database_at_its_connection_limit_or_closed(closed_store):
    """The operator's own limits (docs/security.md, "Connection slots, all persons together":
    ``ALTER DATABASE <store> CONNECTION LIMIT``, or ``ALLOW_CONNECTIONS false`` for a
    maintenance window) reached the user as psycopg's "connection failed: connection to server
    at ... failed: FATAL: ..." under "the database refused the request"."""
    name, url, admin = closed_store
    line = _one_line(sjr("summary", "--db", url), "The database server at 127.0.0.1",
                     "has no connection free", f'too many connections for database "{name}"',
                     "nothing was read or changed", "Try again in a minute")
    assert "connection to server at" not in line
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" CONNECTION LIMIT -1 ALLOW_CONNECTIONS false'))
    _one_line(sjr("summary", "--db", url), "The store's database at 127.0.0.1",
              "is not accepting connections", "the administrator has closed it")


def test_a_full_server_is_named():
    """A server whose ``max_connections`` are all in use answers a new connection with
    ``sorry, too many clients already`` (or, past ``superuser_reserved_connections``,
    ``remaining connection slots are reserved ...``), and psycopg raises it with no SQLSTATE.
    Filling a shared server's slots would fail every other test running beside this one, so
    this gives the driver's own exception with the server's words, as psycopg 3.2 words it."""
    import psycopg

    for words in ("sorry, too many clients already",
                  "remaining connection slots are reserved for non-replication superuser "
                  "connections"):
        error = psycopg.OperationalError(
            'connection failed: connection to server at "127.0.0.1", port 5432 failed: '
            f"FATAL:  {words}")
        assert describe_fault(error) == (
            f"The database server has no connection free ({words}); nothing was read or "
            "changed. Try again in a minute; if it keeps happening, ask the administrator "
            "(the server's or the store's connection limit is reached).")


def test_what_is_not_a_database_fault_is_left_alone():
    assert describe_fault(ValueError("a bad value")) is None
    assert describe_fault(KeyError("x")) is None


def test_sqlite_error_codes_map_to_their_fault(tmp_path):
    """The same faults as the driver raises them, without the command line."""
    path = tmp_path / "x.db"
    sqlite3.connect(path).execute("CREATE TABLE t (v)").connection.commit()
    ro = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as info:
        ro.execute("INSERT INTO t VALUES (1)")
    assert describe_fault(info.value).startswith("The store is read-only")
    full = sqlite3.connect(path)
    pages = full.execute("PRAGMA page_count").fetchone()[0]
    full.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(sqlite3.Error) as info:
        full.executemany("INSERT INTO t VALUES (?)", [("x" * 1000,)] * 200)
        full.commit()
    assert describe_fault(info.value).startswith("The disk holding the store is full")


def test_an_export_that_cannot_be_audited_leaves_no_file(sqlite_store, tmp_path):
    """Audit before anything leaves (issue 17 part 3): a store that cannot take the audit
    entry gives no file."""
    path, users = sqlite_store
    out = tmp_path / "reviews.csv"
    done = sjr("export", "reviews", str(out), "--db", f"sqlite:///file:{path}?mode=ro&uri=true",
               user=users.admin)
    _one_line(done, "The store is read-only")
    assert not out.exists() and not list(tmp_path.glob("*reviews.csv*"))
    done = sjr("summary", "--db", f"sqlite:///file:{path}?mode=ro&uri=true", user=users.admin)
    assert "Reviews" not in done.stdout and done.stdout.strip() == ""


@needs_postgres
def test_a_report_batch_names_a_server_that_is_not_there(tmp_path):
    done = sjr("report", "all", "--db", "postgresql+psycopg://postgres@127.0.0.1:1/test",
               "--out", str(tmp_path / "reports"), user="demo-programme")
    _one_line(done, "Cannot read the store", "at 127.0.0.1:1 is not answering")
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").rglob("*.html"))
