"""The store: where the database is, its schema, bulk import, loading, and saving one review.

.. warning::
   Everything here is **unscoped**: it reads and writes every organisation's data and writes no
   audit entry of its own. Only the governed access layer (:mod:`data_access.session`, which
   scopes and audits) and the administrator's command line import path (``sjr import``) may call
   it. Notebooks, dashboards and reports go through ``data_access.open_session``.

Frames in and out are the shapes of :mod:`sjrlib.domain`: the review frame (``REVIEW_COLUMNS`` /
``REVIEW_DTYPES``), the deaths frame and the organisations frame. Imports take frames that have
already passed :mod:`sjrlib.schema`; they add no validation rules of their own, but the database's
constraints (:mod:`data_access.models`) still refuse anything outside the domain.

Imports are all or nothing: one transaction; re-importing identical rows changes nothing; a row
that differs from the stored one is an error naming it, unless ``update=True``, which replaces it
and bumps its ``version``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    String,
    bindparam,
    cast,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
)
from sqlalchemy import update as sa_update
from sqlalchemy.engine import make_url

from data_access.models import (
    Death,
    Organisation,
    PhaseAssessment,
    Problem,
    Review,
    Reviewer,
    ReviewReason,
)
from sjrlib import domain

__all__ = [
    "DEFAULT_URL",
    "ImportConflictError",
    "ImportResult",
    "OnWrite",
    "ReviewNotFoundError",
    "StaleReviewError",
    "StoreError",
    "database_url",
    "get_engine",
    "import_deaths",
    "import_organisations",
    "import_review_blocks",
    "import_reviews",
    "init_db",
    "known_organisations",
    "known_reviews",
    "load_deaths",
    "load_organisations",
    "load_reviews",
    "save_review",
    "set_status",
]

DEFAULT_URL = "sqlite:///data/sjr.db"
CHUNK_ROWS = 10_000
"""Rows written per ``executemany``: bounds memory on million-row imports."""
_FETCH_ROWS = 50_000  # rows per fetchmany when loading
_IN_CHUNK = 900  # ids per ``IN (...)`` list, well under SQLite's bound-parameter limit

OnWrite = Callable[[Connection, str, int], None]
"""Hook called inside an import's transaction as ``on_write(conn, action, rows)``.

``action`` is ``"import_reviews"``, ``"import_deaths"`` or ``"import_organisations"``; ``rows``
is the number of rows inserted or updated. It is called only when something was written, after the
writes and before the commit: raising from it rolls the whole import back. The audit log hooks in
here.
"""

_REVIEWS = Review.__table__
_PHASES = PhaseAssessment.__table__
_PROBLEMS = Problem.__table__
_REASONS = ReviewReason.__table__
_REVIEWERS = Reviewer.__table__
_ORGANISATIONS = Organisation.__table__
_DEATHS = Death.__table__

_REVIEW_FIELDS = tuple(c for c in domain.REVIEW_COLUMNS if c in _REVIEWS.c)
"""Exchange columns stored on the ``reviews`` table itself (the rest live in child tables)."""


# --------------------------------------------------------------------------------- errors ----
class StoreError(Exception):
    """A write the store refuses (nothing was written)."""


class ImportConflictError(StoreError):
    """Rows in an import differ from the stored rows with the same key, and update was not asked.

    ``keys`` lists the keys (review ids, organisation codes, ``org month`` pairs) concerned.
    """

    def __init__(self, message: str, keys: list[str]):
        super().__init__(message)
        self.keys = keys


class ReviewNotFoundError(StoreError, LookupError):
    """No review with this id in the store."""


class StaleReviewError(StoreError):
    """Someone else saved the review since you loaded it: your version is out of date.

    Attributes ``review_id``, ``expected_version`` (yours), ``current_version`` (the store's),
    ``updated_by`` and ``updated_at`` (who and when last saved it, when known).
    """

    def __init__(self, review_id: str, expected_version: int | None, current_version: int,
                 updated_by: str | None = None, updated_at: dt.datetime | None = None):
        self.review_id = review_id
        self.expected_version = expected_version
        self.current_version = current_version
        self.updated_by = updated_by
        self.updated_at = updated_at
        who = updated_by or "someone else"
        when = f" on {updated_at:%Y-%m-%d at %H:%M}" if updated_at is not None else ""
        if expected_version is None:
            msg = (f"Review {review_id} already exists (saved by {who}{when}, version "
                   f"{current_version}); you were creating it as new. Nothing was saved: load "
                   "the stored review and apply your changes to it.")
        else:
            msg = (f"Review {review_id} was changed by {who}{when} while you were editing it: "
                   f"the store has version {current_version}, you edited version "
                   f"{expected_version}. Nothing was saved: reload the review and apply your "
                   "changes again.")
        super().__init__(msg)


@dataclass(frozen=True)
class ImportResult:
    """What an import did: rows newly inserted, replaced (``update=True``), already identical."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged

    def __str__(self) -> str:
        return f"{self.inserted} inserted, {self.updated} updated, {self.unchanged} unchanged"


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
        Path("data").mkdir(exist_ok=True)
    return _normalise_url(url)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; much faster commits
    cursor.close()


def get_engine(url: str) -> Engine:
    """A SQLAlchemy engine for ``url`` (SQLite or PostgreSQL through psycopg 3).

    SQLite connections enforce foreign keys, use write-ahead logging and wait up to 30 s for
    another writer instead of failing at once.
    """
    sa_url = make_url(_normalise_url(url))
    if sa_url.get_backend_name() == "sqlite":
        engine = create_engine(sa_url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(sa_url, pool_pre_ping=True)


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

    engine = url if isinstance(url, Engine) else get_engine(url)
    try:
        with engine.begin() as conn:
            _begin_write(conn)  # on SQLite: the whole migration is one transaction
            config = _alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    finally:
        if engine is not url:
            engine.dispose()


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
def _bulk_cache(conn: Connection, mebibytes: int = 128) -> Iterator[None]:
    """On SQLite, a larger page cache while a bulk import runs (indexes of a million reviews
    outgrow the default 2 MB; this saves about an eighth of the import's CPU), then the
    connection's previous size again before it goes back to the pool."""
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


# ----------------------------------------------------------------- frames <-> parameters ----
def _conform(frame: pd.DataFrame, columns: Iterable[str], dtypes: dict[str, str],
             what: str) -> pd.DataFrame:
    columns = list(columns)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame lacks column(s) {', '.join(missing)}; it must be a "
                         "validated frame (sjrlib.schema)")
    out = frame.loc[:, columns]
    wrong = {c: t for c, t in dtypes.items() if c in out.columns and str(out[c].dtype) != t}
    if wrong:
        out = out.astype(wrong)
    return out.reset_index(drop=True)


def _column_values(series: pd.Series, *, iso_dates: bool = False) -> list:
    """Python values for the driver: ``None`` for missing, ``int``, ``str``, ``date``.

    With ``iso_dates`` dates are ``"YYYY-MM-DD"`` text (what SQLite stores, what COPY reads).
    """
    if pd.api.types.is_datetime64_any_dtype(series):
        if iso_dates:
            return series.dt.strftime("%Y-%m-%d").to_numpy(dtype=object, na_value=None).tolist()
        missing = series.isna().to_numpy()
        dates = series.dt.date.to_numpy(dtype=object, copy=True)
        dates[missing] = None
        return dates.tolist()
    return series.to_numpy(dtype=object, na_value=None).tolist()


def _records(frame: pd.DataFrame, rename: dict[str, str] | None = None,
             **constants: object) -> list[dict]:
    rename = rename or {}
    keys = [rename.get(c, c) for c in frame.columns] + list(constants)
    columns = [_column_values(frame[c]) for c in frame.columns]
    columns += [[v] * len(frame) for v in constants.values()]
    return [dict(zip(keys, values, strict=True)) for values in zip(*columns, strict=True)]


def _driver_value(value: object, sqlite: bool) -> object:
    if sqlite and isinstance(value, dt.datetime):  # the text form SQLAlchemy's DateTime reads
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _insert_frame(conn: Connection, table, frame: pd.DataFrame,
                  rename: dict[str, str] | None = None, **constants: object) -> None:
    """Bulk insert: one ``executemany`` of plain tuples (SQLite) or ``COPY`` (PostgreSQL).

    Bypasses per-row parameter processing, which dominates large imports; the values are
    already plain Python (``_column_values``), dates as ISO text.
    """
    if not len(frame):
        return
    dialect = conn.dialect.name
    # COPY is refused under row-level security ("COPY FROM not supported with row-level
    # security"), which binds the application role: one review's rows (save_review) go in by
    # INSERT; bulk imports, run as the table owner, keep COPY.
    if dialect not in ("sqlite", "postgresql") or (dialect == "postgresql" and len(frame) < 500):
        conn.execute(insert(table), _records(frame, rename, **constants))
        return
    rename = rename or {}
    names = [rename.get(c, c) for c in frame.columns] + list(constants)
    columns = [_column_values(frame[c], iso_dates=True) for c in frame.columns]
    sqlite = dialect == "sqlite"
    columns += [[_driver_value(v, sqlite)] * len(frame) for v in constants.values()]
    rows = list(zip(*columns, strict=True))
    column_list = ", ".join(names)
    if sqlite:
        marks = ", ".join("?" * len(names))
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({column_list}) VALUES ({marks})", rows)
        return
    cursor = conn.connection.driver_connection.cursor()
    try:
        with cursor.copy(f"COPY {table.name} ({column_list}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    finally:
        cursor.close()


def _isin(series: pd.Series, values: Iterable[object]) -> np.ndarray:
    """``series.isin(values)`` as a bool array, by an Arrow hash lookup (pandas' ``isin`` on
    Arrow strings converts every value to a Python object first)."""
    values = list(values)
    if not values or not len(series):
        return np.zeros(len(series), dtype=bool)
    hit = pc.is_in(pa.array(series.astype("string"), type=pa.string()),
                   value_set=pa.array(values, type=pa.string()))
    return pc.fill_null(hit, False).to_numpy(zero_copy_only=False)


def _chunks(frame: pd.DataFrame, size: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), size):
        yield frame.iloc[start:start + size]


def _id_chunks(ids: Collection[str]) -> Iterator[list[str]]:
    ids = list(ids)
    for start in range(0, len(ids), _IN_CHUNK):
        yield ids[start:start + _IN_CHUNK]


def _phase_rows(chunk: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for phase in domain.PHASES:
        score, comment = chunk[domain.score_column(phase)], chunk[domain.comment_column(phase)]
        present = (score.notna() | comment.notna()).to_numpy()
        if present.any():
            parts.append(pd.DataFrame({
                "review_id": chunk["review_id"].to_numpy()[present],
                "phase": phase,
                "score": score[present].to_numpy(),
                "comment": comment[present].to_numpy(),
            }).astype({"score": "Int64", "comment": "string"}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _problem_rows(chunk: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for problem_type in domain.PROBLEM_TYPES:
        harm = chunk[domain.problem_column(problem_type)]
        present = harm.notna().to_numpy()
        if present.any():
            parts.append(pd.DataFrame({
                "review_id": chunk["review_id"].to_numpy()[present],
                "problem_type": problem_type,
                "harm": harm[present].to_numpy(),
            }))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _reason_rows(chunk: pd.DataFrame) -> pd.DataFrame:
    reasons = chunk.loc[chunk["review_reasons"].notna(), ["review_id", "review_reasons"]]
    if reasons.empty:
        return pd.DataFrame()
    exploded = reasons.assign(reason=reasons["review_reasons"].str.split(
        domain.REASON_SEPARATOR)).explode("reason")
    exploded["reason"] = exploded["reason"].astype("string").str.strip()
    exploded = exploded[exploded["reason"].notna() & (exploded["reason"] != "")]
    return exploded[["review_id", "reason"]].drop_duplicates(ignore_index=True)


def _insert_children(conn: Connection, chunk: pd.DataFrame) -> None:
    """Phase, problem and reason rows of the chunk's reviews: the rows :func:`_phase_rows`,
    :func:`_problem_rows` and :func:`_reason_rows` give, built as plain tuples straight from
    the columns (no intermediate frames: this is most of a bulk import's Python time)."""
    ids = _column_values(chunk["review_id"])
    phases: list[tuple] = []
    for phase in domain.PHASES:
        scores = _column_values(chunk[domain.score_column(phase)])
        comments = _column_values(chunk[domain.comment_column(phase)])
        phases += [(r, phase, s, c) for r, s, c in zip(ids, scores, comments, strict=True)
                   if s is not None or c is not None]
    problems: list[tuple] = []
    for problem_type in domain.PROBLEM_TYPES:
        harms = _column_values(chunk[domain.problem_column(problem_type)])
        problems += [(r, problem_type, h) for r, h in zip(ids, harms, strict=True)
                     if h is not None]
    split: dict[str, list[str]] = {}  # a file has few distinct lists of reasons
    reasons: list[tuple] = []
    for r, joined in zip(ids, _column_values(chunk["review_reasons"]), strict=True):
        if joined is None:
            continue
        listed = split.get(joined)
        if listed is None:
            listed = split[joined] = [x for x in dict.fromkeys(
                p.strip() for p in joined.split(domain.REASON_SEPARATOR)) if x]
        reasons += [(r, reason) for reason in listed]
    _insert_rows(conn, _PHASES, ("review_id", "phase", "score", "comment"), phases)
    _insert_rows(conn, _PROBLEMS, ("review_id", "problem_type", "harm"), problems)
    _insert_rows(conn, _REASONS, ("review_id", "reason"), reasons)


def _insert_rows(conn: Connection, table, names: tuple[str, ...], rows: list[tuple]) -> None:
    """Plain tuples of driver values into ``table``: ``executemany`` (SQLite), ``COPY``
    (PostgreSQL, from 500 rows; see :func:`_insert_frame`), else SQLAlchemy ``insert``."""
    if not rows:
        return
    dialect = conn.dialect.name
    column_list = ", ".join(names)
    if dialect == "sqlite":
        marks = ", ".join("?" * len(names))
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({column_list}) VALUES ({marks})", rows)
    elif dialect == "postgresql" and len(rows) >= 500:
        cursor = conn.connection.driver_connection.cursor()
        try:
            with cursor.copy(f"COPY {table.name} ({column_list}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        finally:
            cursor.close()
    else:
        conn.execute(insert(table), [dict(zip(names, row, strict=True)) for row in rows])


def _delete_children(conn: Connection, review_ids: Collection[str]) -> None:
    for ids in _id_chunks(review_ids):
        for table in (_PHASES, _PROBLEMS, _REASONS):
            conn.execute(delete(table).where(table.c.review_id.in_(ids)))


def _differs(new: pd.DataFrame, old: pd.DataFrame, key: list[str]) -> pd.Series:
    """Per row of ``new`` (which all exist in ``old``): does any column differ?"""
    old = old.set_index(key).reindex(pd.MultiIndex.from_frame(new[key]) if len(key) > 1
                                     else pd.Index(new[key[0]]))
    changed = np.zeros(len(new), dtype=bool)
    for column in new.columns:
        if column in key:
            continue
        a = new[column].reset_index(drop=True)
        b = old[column].reset_index(drop=True).astype(a.dtype)
        same = (a == b).fillna(False).to_numpy(dtype=bool) | (a.isna() & b.isna()).to_numpy()
        changed |= ~same
    return pd.Series(changed, index=new.index)


def _conflict(what: str, keys: list[str], hint: str) -> ImportConflictError:
    shown = ", ".join(keys[:20]) + (f" and {len(keys) - 20} more" if len(keys) > 20 else "")
    return ImportConflictError(
        f"{len(keys)} {what} already stored with different content: {shown}. Nothing was "
        f"imported. {hint}", keys)


def _notify(on_write: OnWrite | None, conn: Connection, action: str, rows: int) -> None:
    if on_write is not None and rows:
        on_write(conn, action, rows)


# -------------------------------------------------------------------------------- imports ----
def import_organisations(target: Engine | Connection, frame: pd.DataFrame, *,
                         update: bool = False, on_write: OnWrite | None = None
                         ) -> ImportResult:
    """Store a validated organisations frame (see module notes: all or nothing, admin only)."""
    frame = _conform(frame, domain.ORGANISATION_COLUMNS, domain.ORGANISATION_DTYPES,
                     "organisations")
    with _transaction(target) as conn:
        _begin_write(conn)
        old = load_organisations(conn)
        exists = frame["organisation_code"].isin(old["organisation_code"]).to_numpy()
        changed = np.zeros(len(frame), dtype=bool)
        if exists.any():
            changed[exists] = _differs(frame[exists], old, ["organisation_code"]).to_numpy()
        changed_codes = frame.loc[changed, "organisation_code"].tolist()
        if changed_codes and not update:
            raise _conflict("organisation(s)", changed_codes, "Use --update to replace them.")
        rename = {"organisation_code": "code"}
        new = frame[~exists]
        if len(new):
            _insert_frame(conn, _ORGANISATIONS, new, rename)
        if changed_codes:
            stmt = sa_update(_ORGANISATIONS).where(
                _ORGANISATIONS.c.code == bindparam("b_code")).values(
                name=bindparam("name"), nation=bindparam("nation"), region=bindparam("region"))
            conn.execute(stmt, _records(frame[changed], {"organisation_code": "b_code"}))
        result = ImportResult(len(new), len(changed_codes), int(exists.sum()) - len(changed_codes))
        _notify(on_write, conn, "import_organisations", result.inserted + result.updated)
    return result


def import_deaths(target: Engine | Connection, frame: pd.DataFrame, *, update: bool = False,
                  on_write: OnWrite | None = None) -> ImportResult:
    """Store a validated deaths frame, keyed by (organisation, month). Admin import path only."""
    frame = _conform(frame, domain.DEATH_COLUMNS, domain.DEATH_DTYPES, "deaths")
    key = ["organisation_code", "month"]
    with _transaction(target) as conn:
        _begin_write(conn)
        old = load_deaths(conn)
        new_keys = pd.MultiIndex.from_frame(frame[key])
        exists = new_keys.isin(pd.MultiIndex.from_frame(old[key])) if len(old) else \
            np.zeros(len(frame), dtype=bool)
        changed = np.zeros(len(frame), dtype=bool)
        if exists.any():
            changed[exists] = _differs(frame[exists], old, key).to_numpy()
        changed_keys = [f"{o} {m}" for o, m in frame.loc[changed, key].itertuples(index=False)]
        if changed_keys and not update:
            raise _conflict("organisation-month row(s)", changed_keys,
                            "Use --update to replace them.")
        new = frame[~exists]
        for chunk in _chunks(new):
            _insert_frame(conn, _DEATHS, chunk)
        if changed_keys:
            stmt = sa_update(_DEATHS).where(
                _DEATHS.c.organisation_code == bindparam("b_org"),
                _DEATHS.c.month == bindparam("b_month"),
            ).values(deaths_in_scope=bindparam("deaths_in_scope"),
                     learning_disability_deaths=bindparam("learning_disability_deaths"))
            conn.execute(stmt, _records(frame[changed],
                                        {"organisation_code": "b_org", "month": "b_month"}))
        result = ImportResult(len(new), len(changed_keys), int(exists.sum()) - len(changed_keys))
        _notify(on_write, conn, "import_deaths", result.inserted + result.updated)
    return result


def _stored_review_ids(conn: Connection, review_ids: pd.Series) -> set[str]:
    stored = conn.execute(select(func.count()).select_from(_REVIEWS)).scalar_one()
    if stored == 0:
        return set()
    if stored <= 4 * len(review_ids):
        everything = set(conn.execute(select(_REVIEWS.c.review_id)).scalars())
        return everything.intersection(review_ids)
    return set(known_reviews(conn, review_ids.tolist()))


def _add_reviewers(conn: Connection, frame: pd.DataFrame) -> None:
    pairs = frame.loc[frame["reviewer_id"].notna(), ["reviewer_id", "organisation_code"]]
    pairs = pairs.drop_duplicates("reviewer_id")
    if pairs.empty:
        return
    known = set(conn.execute(select(_REVIEWERS.c.reviewer_id)).scalars())
    pairs = pairs[~_isin(pairs["reviewer_id"], known)]
    if len(pairs):
        _insert_frame(conn, _REVIEWERS, pairs)


def _insert_order(frame: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """Positions ``rows`` of ``frame`` with rows citing another row of it (``second_review_of``)
    after the rows they cite, so foreign keys hold at every insert."""
    ids = frame["review_id"].to_numpy()[rows]
    linked = _isin(frame["second_review_of"].iloc[rows], ids)
    return np.concatenate([rows[~linked], rows[linked]])


def import_reviews(target: Engine | Connection, frame: pd.DataFrame, *, update: bool = False,
                   on_write: OnWrite | None = None,
                   progress: Callable[[int], None] | None = None,
                   saved_by: str | None = None) -> ImportResult:
    """Store a validated review frame in one transaction (admin import path only; unscoped).

    Parameters
    ----------
    target
        Engine (a transaction is opened and committed) or connection (its transaction is used).
    frame
        A review frame that passed ``sjrlib.schema.validate_reviews``; columns after the
        exchange columns are ignored.
    update
        Replace stored reviews whose content differs (their ``version`` goes up by one).
        Without it such a review is an :class:`ImportConflictError` and nothing is written.
    on_write
        Audit hook, see :data:`OnWrite`.
    progress
        Called with the number of reviews written after each chunk (for a progress bar).
    saved_by
        Recorded as ``updated_by`` on the written reviews (e.g. ``"import:<file name>"``).

    Returns
    -------
    ImportResult
        Counts of inserted, updated and unchanged reviews.
    """
    with _transaction(target) as conn, _bulk_cache(conn):
        _begin_write(conn)
        result = _store_reviews(conn, frame, update=update, progress=progress,
                                saved_by=saved_by)
        _notify(on_write, conn, "import_reviews", result.inserted + result.updated)
    return result


def import_review_blocks(target: Engine | Connection, blocks: Iterable[pd.DataFrame], *,
                         update: bool = False, on_write: OnWrite | None = None,
                         progress: Callable[[int], None] | None = None,
                         saved_by: str | None = None) -> ImportResult:
    """Store validated review frames given block by block, all in one transaction.

    What :func:`import_reviews` does for one frame, for a file too large to hold as one
    (``sjrlib.io.read_reviews_blocks``): the blocks must together be one validated file
    (review ids unique across blocks, each ``second_review_of`` naming a first-stage review
    in the blocks or the store). First-stage reviews are written block by block;
    second-stage ones (which may name a review of a later block) are held back and written
    last, so foreign keys hold at every insert. A conflict with a stored review
    (:class:`ImportConflictError`) in any block rolls the whole import back; it lists the
    conflicting reviews of that block. ``on_write`` is called once, with the total.
    """
    inserted = updated = unchanged = 0
    with _transaction(target) as conn, _bulk_cache(conn):
        _begin_write(conn)
        empty = conn.execute(select(func.count()).select_from(_REVIEWS)).scalar_one() == 0
        held: list[pd.DataFrame] = []
        for block in blocks:
            second = block["review_stage"].to_numpy(dtype=object, na_value=None) == "second"
            if second.any():
                held.append(block[second])
                block = block[~second]
            # A store that was empty holds only this file's earlier blocks: ids are unique
            # across the file, so none of this block's can be stored already.
            result = _store_reviews(conn, block, update=update, progress=progress,
                                    saved_by=saved_by, new_only=empty)
            inserted, updated = inserted + result.inserted, updated + result.updated
            unchanged += result.unchanged
        if held:
            result = _store_reviews(conn, pd.concat(held, ignore_index=True), update=update,
                                    progress=progress, saved_by=saved_by, new_only=empty)
            inserted, updated = inserted + result.inserted, updated + result.updated
            unchanged += result.unchanged
        total = ImportResult(inserted, updated, unchanged)
        _notify(on_write, conn, "import_reviews", total.inserted + total.updated)
    return total


def _store_reviews(conn: Connection, frame: pd.DataFrame, *, update: bool,
                   progress: Callable[[int], None] | None, saved_by: str | None,
                   new_only: bool = False) -> ImportResult:
    """The body of :func:`import_reviews`, inside the caller's transaction; ``new_only``: the
    caller knows none of the frame's reviews is stored."""
    frame = _conform(frame, domain.REVIEW_COLUMNS, domain.REVIEW_DTYPES, "review")
    duplicated = frame.loc[frame["review_id"].duplicated(), "review_id"].unique().tolist()
    if duplicated:
        raise StoreError(f"review_id repeated in the frame: {', '.join(duplicated[:20])}")
    stored = set() if new_only else _stored_review_ids(conn, frame["review_id"])
    exists = _isin(frame["review_id"], stored)
    changed = np.zeros(len(frame), dtype=bool)
    if exists.any():
        old = _load_reviews_by_id(conn, frame.loc[exists, "review_id"])
        changed[exists] = _differs(_normalised_reasons(frame[exists]),
                                   old[list(domain.REVIEW_COLUMNS)], ["review_id"]).to_numpy()
    changed_ids = frame.loc[changed, "review_id"].tolist()
    if changed_ids and not update:
        raise _conflict("review(s)", changed_ids,
                        "Use --update to replace them (their version goes up by one).")
    if changed_ids:
        locked = old.loc[old["review_id"].isin(changed_ids) & (old["status"] == "locked"),
                         "review_id"].tolist()
        if locked:
            raise _conflict("locked review(s)", locked,
                            "A locked review cannot be replaced by an import.")
    now = _now()
    _add_reviewers(conn, frame.loc[~exists | changed, ["reviewer_id", "organisation_code"]])
    done = 0
    order = _insert_order(frame, np.flatnonzero(~exists))
    fresh = frame
    if len(order) < len(frame) or (np.diff(order) != 1).any():
        fresh = frame.take(order)  # one take, then chunks are cheap slices
    for start in range(0, len(order), CHUNK_ROWS):
        chunk = fresh.iloc[start:start + CHUNK_ROWS]
        _insert_frame(conn, _REVIEWS, chunk[list(_REVIEW_FIELDS)], version=1,
                      created_at=now, updated_at=now, updated_by=saved_by)
        _insert_children(conn, chunk)
        done += len(chunk)
        if progress:
            progress(len(chunk))
    if changed_ids:
        _update_reviews(conn, frame[changed], now, saved_by)
        if progress:
            progress(len(changed_ids))
    return ImportResult(done, len(changed_ids), int(exists.sum()) - len(changed_ids))


def _update_reviews(conn: Connection, frame: pd.DataFrame, now: dt.datetime,
                    saved_by: str | None) -> None:
    fields = [c for c in _REVIEW_FIELDS if c != "review_id"]
    stmt = (sa_update(_REVIEWS).where(_REVIEWS.c.review_id == bindparam("b_review_id"))
            .values({c: bindparam(c) for c in fields})
            .values(version=_REVIEWS.c.version + 1, updated_at=now, updated_by=saved_by))
    for chunk in _chunks(frame):
        conn.execute(stmt, _records(chunk[list(_REVIEW_FIELDS)], {"review_id": "b_review_id"}))
        _delete_children(conn, chunk["review_id"].tolist())
        _insert_children(conn, chunk)


def _normalised_reasons(frame: pd.DataFrame) -> pd.DataFrame:
    """Reasons as the store gives them back: de-duplicated, in spec order."""
    rows = _reason_rows(frame)
    return frame.assign(review_reasons=_joined_reasons(frame["review_id"], rows))


def _joined_reasons(review_ids: pd.Series, rows: pd.DataFrame,
                    position: np.ndarray | None = None) -> pd.Series:
    """``;``-joined reasons in spec order per review id, from (review_id, reason) rows.

    ``position`` (optional) is each row's position in ``review_ids`` (-1 when absent).
    """
    out = pd.Series(pd.NA, index=review_ids.index, dtype="string")
    if rows.empty:
        return out
    if position is None:
        position = pd.Index(review_ids).get_indexer(rows["review_id"])
    bits = np.zeros(len(review_ids), dtype=np.int64)
    for i, name in enumerate(domain.REVIEW_REASONS):
        hit = (rows["reason"] == name).to_numpy(dtype=bool, na_value=False) & (position >= 0)
        bits[position[hit]] |= 1 << i
    lookup = {code: domain.REASON_SEPARATOR.join(
        r for i, r in enumerate(domain.REVIEW_REASONS) if code >> i & 1)
        for code in np.unique(bits) if code}
    joined = pd.Series(bits, index=review_ids.index).map(lookup)
    return joined.astype("string")


# -------------------------------------------------------------------------------- loading ----
def _as_list(value: str | Iterable[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def _review_filters(*, organisation_codes=None, start_month=None, end_month=None, stage=None,
                    status=None) -> list:
    conditions = []
    if (codes := _as_list(organisation_codes)) is not None:
        conditions.append(_REVIEWS.c.organisation_code.in_(codes))
    if start_month is not None:
        conditions.append(_REVIEWS.c.death_month >= start_month)
    if end_month is not None:
        conditions.append(_REVIEWS.c.death_month <= end_month)
    if (stages := _as_list(stage)) is not None:
        conditions.append(_REVIEWS.c.review_stage.in_(stages))
    if (statuses := _as_list(status)) is not None:
        conditions.append(_REVIEWS.c.status.in_(statuses))
    return conditions


def _fetch_arrow(conn: Connection, query) -> dict[str, pa.ChunkedArray]:
    """Run a Core ``select`` on the raw DB-API cursor, ``fetchmany`` at a time, into Arrow.

    Skips SQLAlchemy's per-row ``Row`` objects and turns each batch of Python values into Arrow
    arrays at once, so loading a million reviews neither crawls nor holds every value as a
    Python object. Integer columns become ``int64``, everything else text.
    """
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    if compiled.positiontup is not None:
        params = tuple(params[name] for name in compiled.positiontup)
    selected = list(query.selected_columns)
    types = [pa.int64() if isinstance(c.type, Integer) else pa.string() for c in selected]
    parts: list[list[pa.Array]] = [[] for _ in selected]
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(str(compiled), params)
        while rows := cursor.fetchmany(_FETCH_ROWS):
            for i, values in enumerate(zip(*rows, strict=True)):
                parts[i].append(pa.array(values, type=types[i]))
    finally:
        cursor.close()
    return {c.name: pa.chunked_array(part, type=kind)
            for c, kind, part in zip(selected, types, parts, strict=True)}


def _pandas(column: pa.ChunkedArray) -> pd.api.extensions.ExtensionArray:
    """``Int64`` or ``string`` (pyarrow) pandas array of an Arrow column."""
    if column.type == pa.string():
        return pd.arrays.ArrowStringArray(column)
    return pd.array(column.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get))


def _frame(conn: Connection, query) -> pd.DataFrame:
    return pd.DataFrame({k: _pandas(v) for k, v in _fetch_arrow(conn, query).items()})


def _fetch_reviews(conn: Connection, conditions: list) -> pd.DataFrame:
    columns = [cast(c, String).label(c.name) if c.name == "review_date" else c
               for c in (_REVIEWS.c[f] for f in _REVIEW_FIELDS)]
    query = (select(*columns, _REVIEWS.c.version, _ORGANISATIONS.c.nation,
                    _ORGANISATIONS.c.region)
             .join(_ORGANISATIONS, _ORGANISATIONS.c.code == _REVIEWS.c.organisation_code)
             .where(*conditions))
    reviews = _fetch_arrow(conn, query)
    children = [
        _fetch_arrow(conn, select(table).select_from(
            _REVIEWS.join(table) if conditions else table).where(*conditions))
        for table in (_PHASES, _PROBLEMS, _REASONS)
    ]
    return _assemble(reviews, *children)


def _spread(values: pa.ChunkedArray, positions: np.ndarray, n: int):
    """A length-``n`` pandas array: ``values[j]`` at ``positions[j]``, missing elsewhere."""
    take = np.full(n, -1, dtype=np.int64)
    take[positions] = np.arange(len(positions))
    return _pandas(values).take(take, allow_fill=True)


def _assemble(reviews: dict[str, pa.ChunkedArray], phases: dict[str, pa.ChunkedArray],
              problems: dict[str, pa.ChunkedArray], reasons: dict[str, pa.ChunkedArray]
              ) -> pd.DataFrame:
    """Pivot the child tables onto the review rows, sorted by ``review_id``.

    Vectorised: each child row's review is found by a hash lookup (``pyarrow.compute``), then
    every phase/problem column is one ``take``; no per-row Python, no ORM objects.
    """
    order = pc.sort_indices(reviews["review_id"])
    reviews = {k: v.take(order) for k, v in reviews.items()}
    ids = reviews["review_id"]
    n = len(ids)

    def positions(child: dict[str, pa.ChunkedArray]) -> np.ndarray:
        found = pc.index_in(child["review_id"], value_set=ids.combine_chunks())
        return pc.fill_null(found, -1).to_numpy().astype(np.int64)

    columns: dict[str, object] = {c: _pandas(reviews[c]) for c in _REVIEW_FIELDS}
    reason_frame = pd.DataFrame({k: _pandas(v) for k, v in reasons.items()})
    columns["review_reasons"] = _joined_reasons(pd.Series(columns["review_id"]), reason_frame,
                                                positions(reasons))
    for child, key, value_columns in (
        (phases, "phase", {"score": domain.score_column, "comment": domain.comment_column}),
        (problems, "problem_type", {"harm": domain.problem_column}),
    ):
        pos = positions(child)
        vocabulary = domain.PHASES if key == "phase" else domain.PROBLEM_TYPES
        for item in vocabulary:
            # Compared in Arrow: no Python string per child row.
            same = pc.fill_null(pc.equal(child[key], item), False)
            hit = np.flatnonzero(np.asarray(same, dtype=bool) & (pos >= 0))
            for value, name in value_columns.items():
                columns[name(item)] = _spread(child[value].take(hit), pos[hit], n)
    out = pd.DataFrame({c: columns[c] for c in domain.REVIEW_COLUMNS})
    for c in ("version", "nation", "region"):
        out[c] = _pandas(reviews[c])
    dates = pc.cast(pc.cast(reviews["review_date"], pa.date32()), pa.int32())
    days = dates.to_numpy(zero_copy_only=False)  # float with NaN where missing
    out["review_date"] = pd.Series(
        np.where(np.isnan(days), np.datetime64("NaT"),
                 np.nan_to_num(days).astype("int64").astype("datetime64[D]")),
        dtype="datetime64[ns]")
    dtypes = dict(domain.REVIEW_DTYPES, version="Int64", nation="string", region="string")
    wrong = {c: t for c, t in dtypes.items() if str(out[c].dtype) != t}
    return out.astype(wrong) if wrong else out


def load_reviews(conn: Connection, *, organisation_codes: str | Iterable[str] | None = None,
                 start_month: str | None = None, end_month: str | None = None,
                 stage: str | Iterable[str] | None = None,
                 status: str | Iterable[str] | None = None) -> pd.DataFrame:
    """All stored reviews matching the filters, as a review frame. UNSCOPED: access layer only.

    Parameters
    ----------
    organisation_codes, stage, status
        One value or several; ``None`` means no filter.
    start_month, end_month
        ``"YYYY-MM"`` bounds on ``death_month``, inclusive.

    Returns
    -------
    pandas.DataFrame
        ``domain.REVIEW_COLUMNS`` with ``REVIEW_DTYPES``, then ``version`` (``Int64``),
        ``nation`` and ``region``; sorted by ``review_id``, fresh ``RangeIndex``.
    """
    conditions = _review_filters(organisation_codes=organisation_codes, start_month=start_month,
                                 end_month=end_month, stage=stage, status=status)
    return _fetch_reviews(conn, conditions)


def _load_reviews_by_id(conn: Connection, review_ids: Iterable[str]) -> pd.DataFrame:
    ids = list(review_ids)
    stored = conn.execute(select(func.count()).select_from(_REVIEWS)).scalar_one()
    if len(ids) * 4 >= stored:  # most of the store: one pass, then keep the ones asked for
        everything = _fetch_reviews(conn, [])
        return everything[everything["review_id"].isin(ids)].reset_index(drop=True)
    parts = [_fetch_reviews(conn, [_REVIEWS.c.review_id.in_(chunk)]) for chunk in _id_chunks(ids)]
    return pd.concat(parts, ignore_index=True)


def load_deaths(conn: Connection, *, organisation_codes: str | Iterable[str] | None = None,
                start_month: str | None = None, end_month: str | None = None) -> pd.DataFrame:
    """Stored deaths (the denominator) as a deaths frame. UNSCOPED: access layer only."""
    query = select(*(_DEATHS.c[c] for c in domain.DEATH_COLUMNS))
    if (codes := _as_list(organisation_codes)) is not None:
        query = query.where(_DEATHS.c.organisation_code.in_(codes))
    if start_month is not None:
        query = query.where(_DEATHS.c.month >= start_month)
    if end_month is not None:
        query = query.where(_DEATHS.c.month <= end_month)
    frame = _frame(conn, query.order_by(_DEATHS.c.organisation_code, _DEATHS.c.month))
    return frame.reindex(columns=list(domain.DEATH_COLUMNS)).astype(domain.DEATH_DTYPES)


def load_organisations(conn: Connection, organisation_codes: str | Iterable[str] | None = None
                       ) -> pd.DataFrame:
    """Stored organisations as an organisations frame. UNSCOPED: access layer only."""
    query = select(_ORGANISATIONS.c.code.label("organisation_code"), _ORGANISATIONS.c.name,
                   _ORGANISATIONS.c.nation, _ORGANISATIONS.c.region)
    if (codes := _as_list(organisation_codes)) is not None:
        query = query.where(_ORGANISATIONS.c.code.in_(codes))
    frame = _frame(conn, query.order_by(_ORGANISATIONS.c.code))
    return frame.reindex(columns=list(domain.ORGANISATION_COLUMNS)).astype(
        domain.ORGANISATION_DTYPES)


def known_organisations(conn: Connection) -> set[str]:
    """Codes of every stored organisation (for validating an import)."""
    return set(conn.execute(select(_ORGANISATIONS.c.code)).scalars())


def known_reviews(conn: Connection, review_ids: Iterable[str] | None = None, *,
                  stage: str | None = None) -> dict[str, tuple[str | None, str]]:
    """Stored reviews among ``review_ids`` (all when ``None``): ``{review_id: (case_id, stage)}``.

    The shape ``sjrlib.schema.validate_reviews(known_reviews=...)`` takes, so a second-stage
    review in a file can point at a first-stage review imported earlier. ``stage`` keeps one
    stage only.
    """
    conditions = [] if stage is None else [_REVIEWS.c.review_stage == stage]
    query = select(_REVIEWS.c.review_id, _REVIEWS.c.case_id,
                   _REVIEWS.c.review_stage).where(*conditions)
    if review_ids is None:
        rows = conn.execute(query).all()
    else:
        rows = []
        for chunk in _id_chunks(list(dict.fromkeys(review_ids))):
            rows += conn.execute(query.where(_REVIEWS.c.review_id.in_(chunk))).all()
    return {r.review_id: (r.case_id, r.review_stage) for r in rows}


# ---------------------------------------------------------------------- one review at a time --
def _stale(conn: Connection, review_id: str, expected_version: int | None) -> StoreError:
    row = conn.execute(select(_REVIEWS.c.version, _REVIEWS.c.updated_by, _REVIEWS.c.updated_at)
                       .where(_REVIEWS.c.review_id == review_id)).first()
    if row is None:
        return ReviewNotFoundError(f"There is no review {review_id} in the store.")
    return StaleReviewError(review_id, expected_version, row.version, row.updated_by,
                            row.updated_at)


def save_review(conn: Connection, values: dict, expected_version: int | None = None, *,
                saved_by: str | None = None) -> tuple[str, int]:
    """Insert or update one review with its phases, problems and reasons. Access layer only.

    ``values`` holds the review frame's columns for one review, already validated
    (``sjrlib.schema``); missing keys are blank. With ``expected_version=None`` the review must
    be new; otherwise the stored version must equal ``expected_version``. Any mismatch raises
    :class:`StaleReviewError` and writes nothing: never a silent overwrite. The check and the
    write are one ``UPDATE ... WHERE version = :expected``, so it holds for concurrent sessions
    on SQLite and PostgreSQL alike. Runs in the caller's transaction when there is one (the
    caller commits), else in its own.

    Returns
    -------
    (review_id, version)
        The id and the new version (1 for a new review).
    """
    # One review: plain dicts, not the bulk import's frames (a 1-row frame costs ~50 ms of
    # pandas calls, the database work ~2 ms).
    cells = _review_cells(values)
    review_id = str(cells["review_id"])
    record = {c: cells[c] for c in _REVIEW_FIELDS}
    now = _now()
    with _transaction(conn) as conn:
        _begin_write(conn)
        if expected_version is None:
            if conn.execute(select(_REVIEWS.c.review_id)
                            .where(_REVIEWS.c.review_id == review_id)).first() is not None:
                raise _stale(conn, review_id, None)
            _add_reviewer(conn, cells)
            conn.execute(insert(_REVIEWS), [dict(record, version=1, created_at=now,
                                                 updated_at=now, updated_by=saved_by)])
            _insert_review_children(conn, cells)
            return review_id, 1
        record.pop("review_id")
        done = conn.execute(
            sa_update(_REVIEWS)
            .where(_REVIEWS.c.review_id == review_id, _REVIEWS.c.version == expected_version)
            .values(**record, version=_REVIEWS.c.version + 1, updated_at=now,
                    updated_by=saved_by))
        if done.rowcount != 1:
            raise _stale(conn, review_id, expected_version)
        _add_reviewer(conn, cells)
        _delete_children(conn, [review_id])
        _insert_review_children(conn, cells)
        return review_id, expected_version + 1


def _review_cells(values: dict) -> dict[str, object]:
    """One review's columns as the driver takes them: each cell cast to its
    ``domain.REVIEW_DTYPES`` dtype as ``astype`` casts a frame column, then ``None``, ``int``,
    ``str`` or ``datetime.date`` (what :func:`_records` gives for a frame)."""
    cells: dict[str, object] = {}
    for column, dtype in domain.REVIEW_DTYPES.items():
        value = pd.array([values.get(column)], dtype=dtype)[0]
        if value is pd.NA or value is pd.NaT:
            cells[column] = None
        elif dtype == "Int64":
            cells[column] = int(value)
        elif isinstance(value, pd.Timestamp):
            cells[column] = value.date()
        else:
            cells[column] = str(value)
    return cells


def _add_reviewer(conn: Connection, cells: dict[str, object]) -> None:
    """:func:`_add_reviewers` for one review: looks up its reviewer only."""
    reviewer = cells["reviewer_id"]
    if reviewer is None or conn.execute(select(_REVIEWERS.c.reviewer_id).where(
            _REVIEWERS.c.reviewer_id == reviewer)).first() is not None:
        return
    conn.execute(insert(_REVIEWERS), [{"reviewer_id": reviewer,
                                       "organisation_code": cells["organisation_code"]}])


def _insert_review_children(conn: Connection, cells: dict[str, object]) -> None:
    """:func:`_insert_children` for one review: the rows :func:`_phase_rows`,
    :func:`_problem_rows` and :func:`_reason_rows` give for a 1-row frame."""
    review_id = cells["review_id"]
    phases = [{"review_id": review_id, "phase": phase,
               "score": cells[domain.score_column(phase)],
               "comment": cells[domain.comment_column(phase)]}
              for phase in domain.PHASES
              if cells[domain.score_column(phase)] is not None
              or cells[domain.comment_column(phase)] is not None]
    problems = [{"review_id": review_id, "problem_type": problem_type,
                 "harm": cells[domain.problem_column(problem_type)]}
                for problem_type in domain.PROBLEM_TYPES
                if cells[domain.problem_column(problem_type)] is not None]
    listed = str(cells["review_reasons"] or "").split(domain.REASON_SEPARATOR)
    reasons = [{"review_id": review_id, "reason": reason}
               for reason in dict.fromkeys(r.strip() for r in listed) if reason]
    for table, rows in ((_PHASES, phases), (_PROBLEMS, problems), (_REASONS, reasons)):
        if rows:
            conn.execute(insert(table), rows)


def set_status(conn: Connection, review_id: str, status: str, *,
               expected_version: int | None = None, saved_by: str | None = None) -> int:
    """Change a review's status (``draft``/``submitted``/``locked``); returns the new version.

    With ``expected_version`` the change is refused (:class:`StaleReviewError`) when the review
    was saved by someone else meanwhile. Access layer only.
    """
    if status not in domain.STATUSES:
        raise ValueError(f"status must be one of {', '.join(domain.STATUSES)}, not {status!r}")
    with _transaction(conn) as conn:
        _begin_write(conn)
        conditions = [_REVIEWS.c.review_id == review_id]
        if expected_version is not None:
            conditions.append(_REVIEWS.c.version == expected_version)
        done = conn.execute(
            sa_update(_REVIEWS).where(*conditions)
            .values(status=status, version=_REVIEWS.c.version + 1, updated_at=_now(),
                    updated_by=saved_by)
            .returning(_REVIEWS.c.version))
        version = done.scalar_one_or_none()
        if version is None:
            raise _stale(conn, review_id, expected_version)
        return version
