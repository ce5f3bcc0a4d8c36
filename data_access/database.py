"""Where the database is, its schema (Alembic), transactions, and the tables' handles.

Shared by :mod:`data_access.store` (one review at a time, and the public face of all three),
:mod:`data_access.bulk` (imports) and :mod:`data_access.loading` (frames out).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from data_access.models import (
    Death,
    Organisation,
    PhaseAssessment,
    Problem,
    Referral,
    Review,
    Reviewer,
    ReviewReason,
)
from sjrlib import domain
from sjrlib.safe_files import FILE_MODE, make_private_folder, tighten

DEFAULT_URL = "sqlite:///data/sjr.db"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_IN_CHUNK = 900  # ids per ``IN (...)`` list, well under SQLite's bound-parameter limit

_REVIEWS = Review.__table__
_PHASES = PhaseAssessment.__table__
_PROBLEMS = Problem.__table__
_REFERRALS = Referral.__table__
_REASONS = ReviewReason.__table__
_REVIEWERS = Reviewer.__table__
_ORGANISATIONS = Organisation.__table__
_DEATHS = Death.__table__

_REVIEW_FIELDS = tuple(c for c in domain.REVIEW_COLUMNS if c in _REVIEWS.c)
"""Exchange columns stored on the ``reviews`` table itself (the rest live in child tables)."""

_REFERRAL_COLUMNS: tuple[tuple[str, str, str], ...] = tuple(
    (t, domain.referral_column(t), domain.referral_ref_column(t)) for t in domain.REFERRAL_TYPES
    if domain.referral_column(t) in domain.REVIEW_COLUMNS)
"""``(referral type, status column, reference column)`` of each referral type the review frame
has: one row of ``referrals`` per type with a status."""
# The columns of a child row as the writers give them: its review's (organisation_code,
# review_id) first (revision 0035_children_scope), then its own.
_PHASE_ROW = ("organisation_code", "review_id", "phase", "score", "comment")
_PROBLEM_ROW = ("organisation_code", "review_id", "problem_type", "harm")
_REASON_ROW = ("organisation_code", "review_id", "reason")
_REFERRAL_ROW = ("organisation_code", "review_id", "referral_type", "referral_status",
                 "referral_reference")


class StoreError(Exception):
    """A write the store refuses (nothing was written)."""


class ConnectionLimitError(StoreError):
    """PostgreSQL refused a new connection: the role holds as many as its ``CONNECTION LIMIT``
    allows (for a person's own role, the per-person limit the administrator sets: revision
    ``0029_person_connection_limit``, ``sjr users connection-limit``). Nothing was read or
    changed."""

    def __init__(self, role: str, limit: int | None, person: bool | None) -> None:
        self.role, self.limit = role, limit
        if person is False:  # a service's or the operator's own limit
            most = f" ({limit})" if limit is not None and limit >= 0 else ""
            message = (f"The database server refused another connection for the role {role}: "
                       f"it holds as many as its connection limit{most} allows. Nothing was "
                       "read or changed; ask the database's administrator.")
        else:
            if limit is not None and limit >= 0:
                most = (f"at most {limit} connection{'s' if limit != 1 else ''} to the store "
                        "at once (the per-person limit set by the store's administrator: sjr "
                        "users connection-limit)")
            else:  # this process never connected: the server alone knows the number
                most = ("only as many connections to the store at once as the per-person "
                        "limit set by the store's administrator allows (sjr users "
                        "connection-limit shows it)")
            message = (
                f"The database server refused another connection for your database role "
                f"{role}: each person may hold {most}, and yours are all in use. Nothing was "
                "read or changed. Close dashboards, notebooks or kernels you no longer use "
                "(each holds its connections until it is shut down), or ask the administrator "
                "to raise the limit.")
        super().__init__(message)


# ------------------------------------------------------------------ connection and schema ----
def _normalise_url(url: str) -> str:
    if "://" not in url:  # a bare file path means a SQLite file
        return f"sqlite:///{url}"
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def database_url(db: str | None = None) -> str:
    """The database to use: ``db`` (``--db``), else ``$SJR_DATABASE_URL``, else the default.

    The default is ``sqlite:///data/sjr.db`` relative to the working directory; its ``data/``
    folder is created when missing. ``postgresql://`` URLs are mapped to the psycopg 3 driver
    (``postgresql+psycopg://``); a bare file path means a SQLite file.
    """
    url = db or os.environ.get("SJR_DATABASE_URL") or DEFAULT_URL
    if url == DEFAULT_URL:
        make_private_folder(Path("data"))  # 0700 when we create it
    return _normalise_url(url)


def existing_store_url(db: str | None = None) -> str:
    """:func:`database_url` for code that reads a store and never creates one (a session, a
    report's data): a SQLite file that does not exist is refused with its full path, before
    anything (the file, the default's ``data/`` folder) is made. Without it a notebook run in
    ``notebooks/`` opened an empty ``notebooks/data/sjr.db`` and failed on a missing table.

    Raises :class:`StoreError`."""
    url = db or os.environ.get("SJR_DATABASE_URL") or DEFAULT_URL
    missing = missing_sqlite_file(url)
    if missing is not None:
        where = ("--db / db=" if db else "SJR_DATABASE_URL" if os.environ.get("SJR_DATABASE_URL")
                 else f"the default, {DEFAULT_URL.removeprefix('sqlite:///')} in the folder "
                      "this runs in")
        raise StoreError(
            f"{no_store_words(missing, where)}; nothing was created. Name "
            "the store with SJR_DATABASE_URL or db= (an absolute sqlite:////path/sjr.db: a "
            "notebook runs in its own folder), or create one with `sjr init-db`.")
    return _normalise_url(url)


def missing_sqlite_file(url: str, cwd: str | Path | None = None) -> Path | None:
    """The full path of the SQLite file ``url`` names, as SQLite opens it from ``cwd`` (no
    ``~`` expanded), when that file does not exist; None when it exists, when the store is not
    a SQLite file (a server, in memory), or when the URL is malformed (the engine's own error
    says what is wrong). An empty file (0 bytes) counts as no store: SQLite would make it one.
    """
    try:
        database = sqlite_file(make_url(_normalise_url(url)))
    except (ArgumentError, ValueError):  # e.g. a port that is not a number
        return None
    if database is None:
        return None
    path = Path(cwd or os.getcwd()) / database
    try:
        empty = path.stat().st_size == 0
    except OSError:  # missing (or unreadable: the open says so in its own words)
        return None if path.exists() else path
    return path if empty else None


def no_store_words(path: Path, source: str = "") -> str:
    """``no store at <path> (<source>)``; for an empty file (SQLite would take it for a new
    store and create the tables in it, so a store emptied by mistake became a new store in
    silence) ``no store at <path> (<source>: the file is empty, 0 bytes)``."""
    notes = [note for note in (source, "the file is empty, 0 bytes" if path.exists() else "")
             if note]
    return f"no store at {path}" + (f" ({': '.join(notes)})" if notes else "")


_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def sqlite_file(url: URL) -> str | None:
    """The file of a SQLite file store at ``url``; None for another database and for
    in-memory or ``file:`` URI SQLite stores, which have no file of their own to name."""
    if url.get_backend_name() != "sqlite" or url.query.get("uri"):
        return None
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def _private_sqlite_file(database: str | None) -> None:
    """Create a SQLite store file readable by its owner only (0600), and tighten an existing
    one and its ``-wal``/``-shm``/``-journal`` files to 0600.

    Whoever can read the file holds every review in it (SQLite is the single-user store), so
    another local user must not. SQLite creates its side files with the main file's mode, so
    new ones follow. A missing folder is not created (except ``data/`` by
    :func:`database_url`): a mistyped ``--db`` path should fail, not make a new store.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.parent.is_dir():
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, FILE_MODE))
        except FileExistsError:
            pass
    for suffix in ("", *_SQLITE_SIDE_FILES):
        tighten(f"{path}{suffix}")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; much faster commits
    cursor.close()


LOCK_WAIT_SECONDS = 30
"""How long a request waits for a lock another holds (an import, a backup, a save) before it
gives up with "the store is busy" (:mod:`data_access.faults`): SQLite's busy timeout and
PostgreSQL's ``lock_timeout``. ``SJR_LOCK_WAIT_SECONDS`` overrides it."""


def _lock_wait() -> float:
    try:
        return max(0.1, float(os.environ.get("SJR_LOCK_WAIT_SECONDS", LOCK_WAIT_SECONDS)))
    except ValueError:
        return float(LOCK_WAIT_SECONDS)


def get_engine(url: str) -> Engine:
    """A SQLAlchemy engine for ``url`` (SQLite or PostgreSQL through psycopg 3).

    SQLite connections enforce foreign keys, use write-ahead logging and wait up to
    :data:`LOCK_WAIT_SECONDS` for another writer instead of failing at once; PostgreSQL
    connections wait as long for a lock (``lock_timeout``), so no request waits without end
    behind another; either then fails with a sentence, having changed nothing. A PostgreSQL
    connection refused because the role holds as many as its ``CONNECTION LIMIT`` allows (a
    person's, set by the administrator) raises :class:`ConnectionLimitError`, which says so.
    """
    sa_url = make_url(_normalise_url(url))
    if sa_url.get_backend_name() == "sqlite":
        if not sa_url.query.get("uri"):
            _private_sqlite_file(sa_url.database)
        engine = create_engine(sa_url, connect_args={"timeout": _lock_wait()})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    wait = int(_lock_wait() * 1000)
    engine = create_engine(sa_url, pool_pre_ping=True,
                           connect_args={"options": f"-c lock_timeout={wait}"})
    _say_connection_limits(engine)
    return engine


_TOO_MANY = re.compile(r'too many connections for role "([^"]+)"')
_OWN_LIMIT = ("SELECT r.rolconnlimit, EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g "
              "ON g.oid = m.roleid WHERE m.member = r.oid AND g.rolname = 'sjr_person') "
              "FROM pg_roles r WHERE r.rolname = session_user")


def _say_connection_limits(engine: Engine) -> None:
    """Turn PostgreSQL's ``too many connections for role "..."`` (a role's ``CONNECTION
    LIMIT`` reached; a person's own role has the administrator's per-person limit, revision
    ``0029_person_connection_limit``) into :class:`ConnectionLimitError`, which says so and
    how many. The refused connection cannot ask the server its limit, so each new connection
    of the engine notes its role's (one catalog read, then its transaction is ended); an
    engine refused its very first connection says where the number is shown instead."""
    seen: dict[str, tuple[int, bool]] = {}

    @event.listens_for(engine, "connect")
    def _note_limit(dbapi_connection, _record) -> None:
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(_OWN_LIMIT)
                row = cursor.fetchone()
            finally:
                cursor.close()
            if row is not None:
                seen["limit"] = (int(row[0]), bool(row[1]))
        except Exception:  # noqa: BLE001 - only a better message is lost
            pass
        finally:
            try:
                dbapi_connection.rollback()
            except Exception:  # noqa: BLE001 - the pool's own checks find a broken one
                pass

    @event.listens_for(engine, "handle_error")
    def _limit_reached(context) -> ConnectionLimitError | None:
        found = _TOO_MANY.search(str(context.original_exception))
        if found is None:
            return None
        limit, person = seen.get("limit", (None, None))
        return ConnectionLimitError(found.group(1), limit, person)


def _alembic_config():
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "data_access:migrations")
    return config


def init_db(url: str | Engine) -> None:
    """Create or upgrade the schema to the newest revision (Alembic ``upgrade head``).

    Idempotent: on an up-to-date database it does nothing. Works from any working directory:
    the migrations ship inside the ``data_access`` package.
    """
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    engine = url if isinstance(url, Engine) else get_engine(url)
    try:
        with engine.connect() as conn:  # at head already: done, without the write lock, so
            head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
            current = MigrationContext.configure(conn).get_current_revision()
        if current is not None and current == head:  # a command never waits behind an import
            return
        with engine.begin() as conn:
            _begin_write(conn)  # on SQLite: the whole migration is one transaction
            config = _alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    finally:
        if engine is not url:
            engine.dispose()


def collation_advice(url: str | Engine) -> str | None:
    """On PostgreSQL, unless the database compares text byte by byte (``LC_COLLATE`` ``C`` or
    ``POSIX``), one line advising a database created so (``docs/scaling.md``: every key is an
    id compared as text; under another collation each comparison goes through ``strcoll``).
    None on SQLite or a ``C`` database. Only advice: a store works under any collation
    (``load_reviews`` gives SQLite's byte order under any, ``loading._in_byte_order``)."""
    engine = url if isinstance(url, Engine) else get_engine(url)
    try:
        if engine.dialect.name != "postgresql":
            return None
        with engine.connect() as conn:
            collation = conn.exec_driver_sql(
                "SELECT datcollate FROM pg_database WHERE datname = current_database()").scalar()
    finally:
        if engine is not url:
            engine.dispose()
    if collation in ("C", "POSIX"):
        return None
    return (f"Note: this database compares text by the {collation!r} collation. In a "
            "database created with LC_COLLATE 'C' ids compare and sort byte by byte, as "
            "SQLite's do, and imports run faster (a first import of 1M reviews 42,700/s "
            "against 36,600/s): CREATE DATABASE ... TEMPLATE template0 LC_COLLATE 'C', or "
            "createdb --template template0 --lc-collate C (docs/scaling.md; an existing store "
            "moves there by sjr backup and sjr restore).")


@contextmanager
def _transaction(target: Engine | Connection) -> Iterator[Connection]:
    """One transaction: a new one for an engine or an idle connection, else the caller's."""
    if isinstance(target, Engine):
        with target.begin() as conn:
            yield conn
    elif target.in_transaction():
        yield target
    else:
        with target.begin():
            yield target


def _begin_write(conn: Connection) -> None:
    """On SQLite, take the write lock now (``BEGIN IMMEDIATE``).

    Python's sqlite3 module otherwise starts the transaction only at the first write, so reads
    before it would not be part of it; with the lock taken first, what we read stays true until
    commit, and a concurrent writer waits (busy timeout) instead of failing mid-way.
    """
    if conn.dialect.name != "sqlite":
        return
    dbapi = conn.connection.dbapi_connection
    if dbapi is not None and not dbapi.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def _bulk_cache(conn: Connection, mebibytes: int = 80) -> Iterator[None]:
    """On SQLite, a larger page cache while a bulk import runs (indexes of a million reviews
    outgrow the default 2 MB; this saves about an eighth of the import's CPU), then the
    connection's previous size again before it goes back to the pool.

    80 MB, not the 128 MB it was: at 1M reviews 128 MB gave a peak of 863 MB against 804 MB
    and only 3% less CPU (docs/form-versions.md, "Import speed and memory")."""
    if conn.dialect.name != "sqlite":
        yield
        return
    previous = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size=-{mebibytes * 1024}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(previous)}")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _id_chunks(ids: Collection[str]) -> Iterator[list[str]]:
    ids = list(ids)
    for start in range(0, len(ids), _IN_CHUNK):
        yield ids[start:start + _IN_CHUNK]


def _isin(series: pd.Series, values: Iterable[object]) -> np.ndarray:
    """``series.isin(values)`` as a bool array, by an Arrow hash lookup (pandas' ``isin`` on
    Arrow strings converts every value to a Python object first, and so would listing
    ``values`` when they are a column)."""
    if isinstance(values, pd.Series):
        value_set = pa.array(values.astype("string"), type=pa.string())
    else:
        value_set = pa.array(list(values), type=pa.string())
    if not len(value_set) or not len(series):
        return np.zeros(len(series), dtype=bool)
    hit = pc.is_in(pa.array(series.astype("string"), type=pa.string()), value_set=value_set)
    return pc.fill_null(hit, False).to_numpy(zero_copy_only=False)
