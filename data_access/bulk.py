"""Bulk imports into the store: organisations, deaths, and reviews (a frame, or a file's
validated blocks as they come). Unscoped: the administrator's import path only (``sjr import``);
see :mod:`data_access.store`.

Imports are all or nothing: one transaction; re-importing identical rows changes nothing; a row
that differs from the stored one is an error naming it, unless ``update=True``, which replaces it
and bumps its ``version``.

A re-imported review is found unchanged by its content hash (:func:`content_hashes`, kept in
``reviews.content_hash`` by revision ``0010_review_hash``) without reading it back: an identical
re-import costs one narrow read of the stored hashes. Only a review whose hash differs, or has
none valid for its current version, is loaded and compared column by column. On PostgreSQL only
the owner (and services) record hashes: a person's own role writes none (revision
``0028_owner_hashes``), so a person's re-import compares what they imported themselves.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    delete,
    event,
    func,
    insert,
    select,
    text,
    tuple_,
)
from sqlalchemy import update as sa_update
from sqlalchemy.exc import DBAPIError

from data_access.database import (
    _DEATHS,
    _ORGANISATIONS,
    _PHASE_ROW,
    _PHASES,
    _PROBLEM_ROW,
    _PROBLEMS,
    _REASON_ROW,
    _REASONS,
    _REFERRAL_COLUMNS,
    _REFERRAL_ROW,
    _REFERRALS,
    _REVIEW_FIELDS,
    _REVIEWERS,
    _REVIEWS,
    StoreError,
    _begin_write,
    _bulk_cache,
    _id_chunks,
    _isin,
    _now,
    _transaction,
)
from data_access.loading import (
    _joined_reasons,
    _load_reviews_by_id,
    known_reviews,
    load_deaths,
    load_organisations,
)
from data_access.pg_security import database_user, unreadable
from sjrlib import domain
from sjrlib.arrow_text import holds_any, value_bytes
from sjrlib.io import RESTART

CHUNK_ROWS = 10_000
"""Rows written per ``executemany``: bounds memory on million-row imports."""

OnWrite = Callable[[Connection, str, int], None]
"""Hook called inside an import's transaction as ``on_write(conn, action, rows)``.

``action`` is ``"import_reviews"``, ``"import_deaths"`` or ``"import_organisations"``; ``rows``
is the number of rows inserted or updated. It is called only when something was written, after the
writes and before the commit: raising from it rolls the whole import back. The audit log hooks in
here.
"""


class ImportConflictError(StoreError):
    """Rows in an import differ from the stored rows with the same key, and update was not asked.

    ``keys`` lists the keys (review ids, organisation codes, ``org month`` pairs) concerned;
    ``differing`` gives each key's columns that differ from the stored row (where compared);
    ``rows`` each key's row in the file, filled in by the caller that knows the file
    (:func:`data_access.transfer.import_file`); ``what`` names the kind of row.
    """

    def __init__(self, message: str, keys: list[str],
                 differing: dict[str, list[str]] | None = None, what: str = "row(s)",
                 hint: str = ""):
        super().__init__(message)
        self.keys = keys
        self.differing = differing or {}
        self.rows: dict[str, int] = {}
        self.what = what
        self.hint = hint

    def summary(self) -> str:
        """What :meth:`lines` leaves to say: how many, that nothing was imported, what to do."""
        return (f"{len(self.keys)} {self.what} already stored with different content (listed "
                f"above). Nothing was imported. {self.hint}").rstrip()

    def lines(self, name: str) -> list[str]:
        """One line per key (at most 200), for the file ``name``: its row when known and the
        columns that differ."""
        out = []
        for key in self.keys[:200]:
            row = self.rows.get(key)
            where = f"{name}, row {row}" if row is not None else name
            columns = self.differing.get(key)
            differs = (f"differs from the stored one in {', '.join(columns)}" if columns
                       else "differs from the stored one")
            out.append(f"{where}: {key}: {differs}")
        if len(self.keys) > 200:
            out.append(f"{name}: and {len(self.keys) - 200} more")
        return out


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


def content_hashes(frame: pd.DataFrame) -> np.ndarray:
    """Per review of a conformed review frame (``domain.REVIEW_COLUMNS`` with
    ``domain.REVIEW_DTYPES``), a 64-bit hash of all its exchange columns, as ``int64``.

    Notes
    -----
    ``pandas.util.hash_pandas_object`` per row (columns in order, each value with its column's
    dtype), combined with the hash of the row's pattern of missing cells, so a blank is never
    the text ``"None"`` or ``"nan"``. Equal hashes are taken to mean equal reviews: two
    different reviews under the same id collide with probability about 2**-64. Different hashes
    prove nothing (reasons listed in another order, a new pandas hashing a value differently):
    the import then compares the review column by column, so a hash is an accelerator, never
    the judge of a change.
    """
    columns = frame.loc[:, list(domain.REVIEW_COLUMNS)]
    values = pd.util.hash_pandas_object(columns, index=False).to_numpy()
    blanks = pd.util.hash_pandas_object(columns.isna(), index=False).to_numpy()
    return (values ^ (blanks * np.uint64(0x9E3779B97F4A7C15))).view(np.int64)


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
    # A few rows (one review's, save_review) go in by INSERT; bulk imports by COPY, through a
    # temporary table where row-level security binds the connection (:func:`_copy`).
    if dialect not in ("sqlite", "postgresql") or (dialect == "postgresql" and len(frame) < 500):
        conn.execute(insert(table), _records(frame, rename, **constants))
        return
    rename = rename or {}
    names = [rename.get(c, c) for c in frame.columns] + list(constants)
    if dialect == "postgresql":  # straight from the columns to COPY's text, no row tuples
        arrays = [_arrow(frame[c]) for c in frame.columns]
        arrays += [pa.array([_copy_constant(v)] * len(frame)) for v in constants.values()]
        _copy(conn, table, names, arrays)
        return
    columns = [_column_values(frame[c], iso_dates=True) for c in frame.columns]
    columns += [[_driver_value(v, True)] * len(frame) for v in constants.values()]
    _insert_rows(conn, table, tuple(names), list(zip(*columns, strict=True)))


def _arrow(series: pd.Series) -> pa.Array:
    """A frame column as Arrow: dates as ``date32`` (COPY reads ``YYYY-MM-DD``)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return pc.cast(pa.array(series, from_pandas=True), pa.date32())
    return pa.array(series, from_pandas=True)


def _copy_constant(value: object) -> object:
    return value.isoformat() if isinstance(value, dt.datetime) else value


_COPY_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))


def _needs_escape(text: pa.Array) -> bool:
    """Whether any value of a string array holds a byte COPY's text format escapes (most
    columns never do: four byte searches over the values, where four replacing passes each
    copied the whole column)."""
    return holds_any(text, [raw for raw, _escaped in _COPY_ESCAPES])


def _copy_text(columns: list[pa.Array]) -> memoryview:
    """The rows of ``columns`` in PostgreSQL's ``COPY`` text format, built by Arrow kernels
    (no Python object per cell): tab-separated, one line per row, ``\\N`` for NULL, and a
    backslash, tab, newline or carriage return inside a value escaped with a backslash."""
    cells = []
    for column in columns:
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        text = pc.cast(column, pa.string())  # pandas strings come as large_string
        if (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)) \
                and _needs_escape(text):
            for raw, escaped in _COPY_ESCAPES:
                text = pc.replace_substring(text, raw, escaped)
        cells.append(pc.fill_null(text, "\\N"))
    cells[-1] = pc.binary_join_element_wise(cells[-1], pa.scalar("\n"), "")
    lines = pc.binary_join_element_wise(*cells, "\t")
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    return value_bytes(lines)


def _copy(conn: Connection, table, names: list[str] | tuple[str, ...],
          columns: list[pa.Array]) -> None:
    """``COPY table (names) FROM STDIN`` of Arrow columns, in slices of at most
    :data:`CHUNK_ROWS` rows (a string array's offsets are 32-bit). The text is built here; the
    statement runs here, or in the connection's :class:`_CopyWriter` if a bulk import opened one."""
    listed = ", ".join(names)
    texts = [_copy_text([c.slice(start, CHUNK_ROWS) for c in columns])
             for start in range(0, len(columns[0]), CHUNK_ROWS)]

    def run() -> None:
        cursor = conn.connection.driver_connection.cursor()
        try:
            target = table.name
            if _row_security_active(cursor, table.name):
                # PostgreSQL refuses COPY FROM into a table whose row-level security binds the
                # connection (a person's own role: a lead's import). COPY into a private
                # temporary table instead, then one INSERT ... SELECT, which the policies check
                # row by row.
                target = f"sjr_copy_{table.name}"
                cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {target} "
                               f"(LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DROP")
                cursor.execute(f"TRUNCATE {target}")
            with cursor.copy(f"COPY {target} ({listed}) FROM STDIN") as copy:
                for text in texts:
                    copy.write(text)
            if target != table.name:
                cursor.execute(f"INSERT INTO {table.name} ({listed}) SELECT {listed} "
                               f"FROM {target}")
                cursor.execute(f"TRUNCATE {target}")
        finally:
            cursor.close()

    writer = conn.info.get(_COPY_WRITER)
    if writer is None:
        run()
    else:
        writer.submit(run)


_COPY_WRITER = "sjr_copy_writer"


class _CopyWriter:
    """The ``COPY`` statements of a bulk import on PostgreSQL, run in order by one worker thread
    while the importing thread builds the next one's text.

    Without it the two took turns: the server sat idle while the importer built a chunk's
    text, and the importer while the server parsed, indexed and key-checked it. At most
    ``depth`` statements wait (memory stays bounded). The worker uses the driver's connection
    only, never SQLAlchemy's; psycopg's lock serialises it with anything else on the
    connection, and :func:`_copy_writer` makes every other statement wait until all COPYs asked
    before it have run, so writes happen in the order they were asked, and a COPY's error is
    raised in the importing thread at that statement or at the end.

    ``depth`` 8: at 200k reviews, 2 left the server idle between statements (8.3-8.8 s wall
    against 7.7-7.8 s); a COPY's text is at most :data:`CHUNK_ROWS` rows (a few MB)."""

    def __init__(self, depth: int = 8):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sjr-copy")
        self._pending: deque[Future] = deque()
        self._depth = depth

    def submit(self, job: Callable[[], None]) -> None:
        while len(self._pending) >= self._depth:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(job))

    def drain(self) -> None:
        """Wait for every COPY asked so far; raise the first one's error."""
        while self._pending:
            self._pending.popleft().result()

    def abandon(self) -> None:
        """Cancel what has not started, wait for what has; errors are dropped (the caller is
        already raising, and its rollback voids every COPY)."""
        for future in self._pending:
            future.cancel()
        for future in self._pending:
            if not future.cancelled():
                future.exception()
        self._pending.clear()

    def close(self) -> None:
        self._pool.shutdown(wait=True)


@contextmanager
def _copy_writer(conn: Connection) -> Iterator[None]:
    """A :class:`_CopyWriter` for ``conn`` while the block runs (PostgreSQL; elsewhere
    nothing). Every statement SQLAlchemy sends on ``conn`` meanwhile first waits for the COPYs
    asked before it. At the end of the block all of them have run (their first error is raised);
    if the block raises, the ones not started are cancelled. Must sit inside the transaction it
    writes in: everything has stopped before the commit or rollback."""
    if conn.dialect.name != "postgresql" or _COPY_WRITER in conn.info:
        yield
        return
    writer = _CopyWriter()

    def settle(*_args: object) -> None:
        writer.drain()

    conn.info[_COPY_WRITER] = writer
    event.listen(conn, "before_cursor_execute", settle)
    try:
        yield
        writer.drain()
    except BaseException:
        writer.abandon()
        raise
    finally:
        event.remove(conn, "before_cursor_execute", settle)
        conn.info.pop(_COPY_WRITER, None)
        writer.close()


def _row_security_active(cursor, table_name: str) -> bool:
    """Whether row-level security applies to this connection's role on ``table_name``."""
    cursor.execute("SELECT row_security_active(%s::regclass)", (table_name,))
    return bool(cursor.fetchone()[0])


def _chunks(frame: pd.DataFrame, size: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), size):
        yield frame.iloc[start:start + size]


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
    """Phase, problem, reason and referral rows of the chunk's reviews: the rows
    :func:`_phase_rows`, :func:`_problem_rows` and :func:`_reason_rows` give (and one per
    referral type with a status), built as plain tuples straight from the columns (no
    intermediate frames: this is most of a bulk import's Python time). On PostgreSQL, for a
    large chunk, the same rows as Arrow columns straight into ``COPY``
    (:func:`_copy_children`)."""
    if conn.dialect.name == "postgresql" and len(chunk) >= 500:
        _copy_children(conn, chunk)
        return
    # each child row's key starts with its review's (organisation_code, review_id)
    orgs = _column_values(chunk["organisation_code"])
    ids = _column_values(chunk["review_id"])
    phases: list[tuple] = []
    for phase in domain.PHASES:
        scores = _column_values(chunk[domain.score_column(phase)])
        comments = _column_values(chunk[domain.comment_column(phase)])
        phases += [(o, r, phase, s, c)
                   for o, r, s, c in zip(orgs, ids, scores, comments, strict=True)
                   if s is not None or c is not None]
    problems: list[tuple] = []
    for problem_type in domain.PROBLEM_TYPES:
        harms = _column_values(chunk[domain.problem_column(problem_type)])
        problems += [(o, r, problem_type, h) for o, r, h in zip(orgs, ids, harms, strict=True)
                     if h is not None]
    split: dict[str, list[str]] = {}  # a file has few distinct lists of reasons
    reasons: list[tuple] = []
    for o, r, joined in zip(orgs, ids, _column_values(chunk["review_reasons"]), strict=True):
        if joined is None:
            continue
        listed = split.get(joined)
        if listed is None:
            listed = split[joined] = [x for x in dict.fromkeys(
                p.strip() for p in joined.split(domain.REASON_SEPARATOR)) if x]
        reasons += [(o, r, reason) for reason in listed]
    _insert_rows(conn, _PHASES, _PHASE_ROW, phases)
    _insert_rows(conn, _PROBLEMS, _PROBLEM_ROW, problems)
    _insert_rows(conn, _REASONS, _REASON_ROW, reasons)
    _insert_rows(conn, _REFERRALS, _REFERRAL_ROW, _referral_rows(chunk, orgs, ids))


def _copy_children(conn: Connection, chunk: pd.DataFrame) -> None:
    """:func:`_insert_children` on PostgreSQL: the same rows, in the same order, built as Arrow
    columns (a filter per phase and problem type, the reasons split once per distinct list)
    and written by ``COPY``, with no Python object per row."""
    def flat(values: pd.Series, type_: pa.DataType) -> pa.Array:
        array = pa.array(values, type=type_, from_pandas=True)
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        return array

    ids = flat(chunk["review_id"].astype("string"), pa.large_string())
    orgs = flat(chunk["organisation_code"].astype("string"), pa.large_string())

    def copy_parts(table, names: tuple[str, ...], parts: list[list[pa.Array]]) -> None:
        if parts:
            columns = [pa.concat_arrays(list(c)) for c in zip(*parts, strict=True)]
            if len(columns[0]):
                _copy(conn, table, names, columns)

    phases = []
    for phase in domain.PHASES:
        score, comment = chunk[domain.score_column(phase)], chunk[domain.comment_column(phase)]
        present = (score.notna() | comment.notna()).to_numpy(dtype=bool)
        if present.any():
            keep = pa.array(present)
            phases.append([orgs.filter(keep), ids.filter(keep),
                           pa.array([phase] * int(present.sum())),
                           flat(score, pa.int64()).filter(keep),
                           flat(comment.astype("string"), pa.large_string()).filter(keep)])
    copy_parts(_PHASES, _PHASE_ROW, phases)
    problems = []
    for problem_type in domain.PROBLEM_TYPES:
        harm = chunk[domain.problem_column(problem_type)]
        present = harm.notna().to_numpy(dtype=bool)
        if present.any():
            keep = pa.array(present)
            problems.append([orgs.filter(keep), ids.filter(keep),
                             pa.array([problem_type] * int(present.sum())),
                             flat(harm.astype("string"), pa.large_string()).filter(keep)])
    copy_parts(_PROBLEMS, _PROBLEM_ROW, problems)
    # Reasons: each distinct list split once (as _insert_children does), then every review's
    # reasons gathered by index arithmetic.
    joined = flat(chunk["review_reasons"].astype("string"), pa.large_string())
    encoded = pc.dictionary_encode(joined)
    listed = [[x for x in dict.fromkeys(p.strip() for p in s.split(domain.REASON_SEPARATOR))
               if x] for s in encoded.dictionary.to_pylist()]
    counts = np.array([len(x) for x in listed], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]) if len(counts) else counts
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    rows = np.flatnonzero(codes >= 0)
    per_row = counts[codes[rows]]
    total = int(per_row.sum())
    if total:
        row_of = np.repeat(rows, per_row)
        first = np.repeat(np.cumsum(per_row) - per_row, per_row)
        every = pa.array([r for reasons in listed for r in reasons], type=pa.large_string())
        at = starts[np.repeat(codes[rows], per_row)] + (np.arange(total) - first)
        rows_of = pa.array(row_of)
        _copy(conn, _REASONS, _REASON_ROW, [orgs.take(rows_of), ids.take(rows_of),
                                            every.take(pa.array(at))])
    _refuse_orphan_references(chunk)
    referrals = []
    for kind, status_column, reference_column in _REFERRAL_COLUMNS:
        status, reference = chunk[status_column], chunk[reference_column]
        given = status.notna().to_numpy(dtype=bool)
        if given.any():
            keep = pa.array(given)
            referrals.append([orgs.filter(keep), ids.filter(keep),
                              pa.array([kind] * int(given.sum())),
                              flat(status.astype("string"), pa.large_string()).filter(keep),
                              flat(reference.astype("string"), pa.large_string()).filter(keep)])
    copy_parts(_REFERRALS, _REFERRAL_ROW, referrals)


def _referral_rows(chunk: pd.DataFrame, orgs: list, ids: list) -> list[tuple]:
    """One ``referrals`` row per review and referral type with a status (after
    :func:`_refuse_orphan_references`)."""
    _refuse_orphan_references(chunk)
    rows: list[tuple] = []
    for kind, status_column, reference_column in _REFERRAL_COLUMNS:
        status = chunk[status_column]
        if status.isna().all():  # most reviews (every rcp2017 one) have no referral
            continue
        rows += [(o, r, kind, s, f)
                 for o, r, s, f in zip(orgs, ids, _column_values(status),
                                       _column_values(chunk[reference_column]), strict=True)
                 if s is not None]
    return rows


def _refuse_orphan_references(chunk: pd.DataFrame) -> None:
    """A referral reference without a status has no ``referrals`` row to go in: refused
    (validation refuses it first, ``referral_ref_needs_referral``), never dropped."""
    for _kind, status_column, reference_column in _REFERRAL_COLUMNS:
        orphan = (chunk[status_column].isna() & chunk[reference_column].notna()).to_numpy()
        if orphan.any():
            orphans = chunk.loc[orphan, "review_id"].tolist()
            raise StoreError(f"{reference_column} given without a referral status on "
                             f"review(s) {', '.join(map(str, orphans[:20]))}: nothing was "
                             "stored")


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
        _copy(conn, table, names, [pa.array(list(values)) for values in zip(*rows, strict=True)])
    else:
        conn.execute(insert(table), [dict(zip(names, row, strict=True)) for row in rows])


def refuse_broken_followers(conn: Connection, review_ids: Collection[str]) -> None:
    """Raise :class:`StoreError` if a stored second-stage review follows one of
    ``review_ids`` (just changed) that is no longer a first-stage review of the same case and
    organisation by another reviewer. The import's rules say this row by row
    (``followed_by_second_stage``); this is the store's own check, for every way a review
    changes, on SQLite as on PostgreSQL."""
    second, first = _REVIEWS.alias("second_stage"), _REVIEWS.alias("first_stage")
    broken = []
    for ids in _id_chunks(review_ids):
        broken += conn.execute(
            select(first.c.review_id, second.c.review_id)
            .join(second, second.c.second_review_of == first.c.review_id)
            .where(first.c.review_id.in_(ids),
                   (first.c.review_stage != "first")
                   | first.c.case_id.is_distinct_from(second.c.case_id)
                   | (first.c.organisation_code != second.c.organisation_code)
                   | (first.c.reviewer_id == second.c.reviewer_id))
            .order_by(first.c.review_id, second.c.review_id)).all()
    if broken:
        shown = "; ".join(f"{f} (followed by {s})" for f, s in broken[:20])
        raise StoreError(
            f"{len(broken)} stored second-stage review(s) would no longer follow the review "
            f"they name: {shown}. A review followed by a second-stage review stays a "
            "first-stage review of the same case and organisation, by another reviewer. "
            "Nothing was saved.")


def _delete_children(conn: Connection, review_ids: Collection[str]) -> None:
    """Delete the phase, problem, reason and referral rows of the stored ``review_ids``, by
    their keys' leading ``(organisation_code, review_id)``: the reviews' own organisation (a
    child row's is its review's, held by the key to it)."""
    for ids in _id_chunks(review_ids):
        keys = select(_REVIEWS.c.organisation_code, _REVIEWS.c.review_id).where(
            _REVIEWS.c.review_id.in_(ids))
        for table in (_PHASES, _PROBLEMS, _REASONS, _REFERRALS):
            conn.execute(delete(table).where(
                tuple_(table.c.organisation_code, table.c.review_id).in_(keys)))


def _differs(new: pd.DataFrame, old: pd.DataFrame, key: list[str],
             columns: dict[str, list[str]] | None = None) -> pd.Series:
    """Per row of ``new`` (which all exist in ``old``): does any column differ? With
    ``columns``, each changed row's key (as :func:`_key_text` writes it) gets the columns that
    differ."""
    old = old.set_index(key).reindex(pd.MultiIndex.from_frame(new[key]) if len(key) > 1
                                     else pd.Index(new[key[0]]))
    changed = np.zeros(len(new), dtype=bool)
    differing: dict[str, np.ndarray] = {}
    for column in new.columns:
        if column in key:
            continue
        a = new[column].reset_index(drop=True)
        b = old[column].reset_index(drop=True).astype(a.dtype)
        same = (a == b).fillna(False).to_numpy(dtype=bool) | (a.isna() & b.isna()).to_numpy()
        changed |= ~same
        if columns is not None and not same.all():
            differing[column] = ~same
    if columns is not None and changed.any():
        keys = _key_text(new, key)
        for i in np.flatnonzero(changed):
            columns[keys[i]] = [c for c, d in differing.items() if d[i]]
    return pd.Series(changed, index=new.index)


def _key_text(frame: pd.DataFrame, key: list[str]) -> list[str]:
    """Each row's key as the conflict names it: ``XA2-SJR000001``, ``XA2 2021-04``."""
    return [" ".join(str(v) for v in values) for values in
            frame[key].itertuples(index=False, name=None)]


def _conflict(what: str, keys: list[str], hint: str,
              differing: dict[str, list[str]] | None = None) -> ImportConflictError:
    differing = differing or {}

    def named(key: str) -> str:
        columns = differing.get(key)
        return f"{key} ({', '.join(columns)})" if columns else key

    shown = ", ".join(named(k) for k in keys[:20]) + (
        f" and {len(keys) - 20} more" if len(keys) > 20 else "")
    return ImportConflictError(
        f"{len(keys)} {what} already stored with different content: {shown}. Nothing was "
        f"imported. {hint}", keys, differing, what, hint)


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
        differing: dict[str, list[str]] = {}
        if exists.any():
            changed[exists] = _differs(frame[exists], old, ["organisation_code"],
                                       differing).to_numpy()
        changed_codes = frame.loc[changed, "organisation_code"].tolist()
        if changed_codes and not update:
            raise _conflict("organisation(s)", changed_codes, "Use --update to replace them.",
                            differing)
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
        differing: dict[str, list[str]] = {}
        if exists.any():
            changed[exists] = _differs(frame[exists], old, key, differing).to_numpy()
        changed_keys = _key_text(frame.loc[changed], key)
        if changed_keys and not update:
            raise _conflict("organisation-month row(s)", changed_keys,
                            "Use --update to replace them.", differing)
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


def _stored_state(conn: Connection, review_ids: list[str]) -> pd.DataFrame:
    """``review_id, version, content_hash, content_hash_version`` of the stored reviews among
    ``review_ids``: one query with the ids as one parameter (a PostgreSQL array, a JSON list
    on SQLite), not thousands of bound ``IN`` values."""
    columns = "review_id, version, content_hash, content_hash_version"
    if conn.dialect.name == "postgresql":
        rows = conn.exec_driver_sql(
            f"SELECT {columns} FROM reviews WHERE review_id = ANY(%(ids)s)",
            {"ids": review_ids}).all()
    elif conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql(
            f"SELECT {columns} FROM reviews WHERE review_id IN "
            "(SELECT value FROM json_each(?))", (json.dumps(review_ids),)).all()
    else:  # pragma: no cover - the store runs on SQLite and PostgreSQL
        stored = set(known_reviews(conn, review_ids))
        rows = conn.execute(select(_REVIEWS.c.review_id, _REVIEWS.c.version,
                                   _REVIEWS.c.content_hash, _REVIEWS.c.content_hash_version)
                            .where(_REVIEWS.c.review_id.in_(stored))).all() if stored else []
    return pd.DataFrame(rows, columns=columns.split(", ")).astype(
        {"version": "Int64", "content_hash": "Int64", "content_hash_version": "Int64"})


def _add_reviewers(conn: Connection, frame: pd.DataFrame) -> None:
    """Register the reviewers ``frame`` names (``reviewer_id``, ``organisation_code``: the
    organisation each was first seen at) that are not registered yet."""
    pairs = frame.loc[frame["reviewer_id"].notna(), ["reviewer_id", "organisation_code"]]
    pairs = pairs.drop_duplicates("reviewer_id")
    if pairs.empty:
        return
    if register_through_function(conn):
        register_reviewers(conn, pairs["reviewer_id"].astype(str).tolist(),
                           pairs["organisation_code"].astype(str).tolist())
        return
    known = set(conn.execute(select(_REVIEWERS.c.reviewer_id)).scalars())
    pairs = pairs[~_isin(pairs["reviewer_id"], known)]
    if len(pairs):
        _insert_frame(conn, _REVIEWERS, pairs)


def register_through_function(conn: Connection) -> bool:
    """Whether the connection's role registers reviewers through ``sjr_reviewers_add``: a
    person's own role on PostgreSQL since revision ``0039_reviewers_by_function``,
    which may not read, write or probe ``reviewers`` itself."""
    return "reviewers" in unreadable(conn, ["reviewers"])


def register_reviewers(conn: Connection, reviewers: list[str], organisations: list[str]
                       ) -> None:
    """Register ``reviewers`` not registered yet, each first seen at the organisation at the
    same position, through ``sjr_reviewers_add`` (:func:`register_through_function`); a
    reviewer already registered is left as it is, and the answer is the same."""
    conn.execute(text("SELECT sjr_reviewers_add(:reviewers, :organisations)"),
                 {"reviewers": reviewers, "organisations": organisations})


def _insert_order(frame: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """Positions ``rows`` of ``frame`` with rows citing another row of it (``second_review_of``)
    after the rows they cite, so foreign keys hold at every insert."""
    ids = frame["review_id"].to_numpy()[rows]
    cited = frame["second_review_of"].iloc[rows]
    linked = _isin(cited, ids)
    if not linked.any():
        return rows
    if (pd.Index(ids).get_indexer(cited[linked]) < np.flatnonzero(linked)).all():
        return rows  # each already follows the row it cites (a file's usual order)
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
    with _transaction(target) as conn, _bulk_cache(conn), _copy_writer(conn):
        _begin_write(conn)
        replaced: list[str] = []
        result = _store_reviews(conn, frame, update=update, progress=progress,
                                saved_by=saved_by, replaced=replaced)
        refuse_broken_followers(conn, replaced)
        _analyse_grown(conn, result.inserted)
        _notify(on_write, conn, "import_reviews", result.inserted + result.updated)
    return result


def import_review_blocks(target: Engine | Connection, blocks: Iterable[pd.DataFrame], *,
                         update: bool = False, on_write: OnWrite | None = None,
                         progress: Callable[[int], None] | None = None,
                         saved_by: str | None = None,
                         check_block: Callable[[Connection, pd.DataFrame], None] | None = None
                         ) -> ImportResult:
    """Store validated review frames given block by block, all in one transaction.

    What :func:`import_reviews` does for one frame, for a file too large to hold as one. The
    blocks must together be one validated file (review ids unique across blocks, each
    ``second_review_of`` naming a first-stage review in the blocks or the store), and
    ``blocks`` may still be validating it: ``sjrlib.io.stream_reviews`` yields each block as
    soon as its rows pass and raises :class:`sjrlib.schema.ValidationFailed` at the end of a
    bad file. So:

    - ``blocks`` is iterated in a worker thread, one block ahead
      (:class:`sjrlib.readahead.ReadAhead`): the next block is read and validated while this
      one is written. It must not use objects bound to the caller's thread.
    - Whatever iterating ``blocks`` raises rolls the whole import back and propagates.
    - If the store refuses a block (a conflict with a stored review, a constraint), the rest of
      ``blocks`` is still iterated, not stored, before the store's error is raised: a file that
      fails validation is reported by its validation errors (every bad row named), not by the
      first refusal.
    - An ``sjrlib.io.RESTART`` item voids the blocks before it (a savepoint is rolled back and
      ``progress`` is given the negative count).

    Reviews are written block by block, except second-stage ones naming a first-stage review
    not stored yet (it may be in a later block): those are held back and written last, so
    foreign keys hold at every insert. A
    conflict (:class:`ImportConflictError`) lists the conflicting reviews of its block. On
    SQLite, a first import into an empty store drops the ``reviews`` table's secondary indexes
    and builds them again at the end (sorting once is cheaper than a million random index
    inserts); the rebuild is part of the transaction. ``on_write`` is called once, with the
    total, before the commit. ``check_block(conn, block)``, when given, is called in the
    caller's thread before each block is stored (e.g. the governed session's scope check); what
    it raises is a store refusal.
    """
    from sjrlib.readahead import ReadAhead

    with ReadAhead(blocks, name="sjr-import-blocks") as items, _transaction(target) as conn, \
            _bulk_cache(conn), _copy_writer(conn):
        _begin_write(conn)
        # A store that was empty holds only this file's earlier blocks: ids are unique across
        # the file, so none of a block's can be stored already (if the file breaks that, its
        # validation says so at the end, and the primary key refuses the row meanwhile).
        empty = conn.execute(select(func.count()).select_from(_REVIEWS)).scalar_one() == 0
        options = {"update": update, "progress": progress, "saved_by": saved_by,
                   "new_only": empty, "check_block": check_block}
        try:
            while True:
                savepoint = conn.begin_nested()
                with _indexes_rebuilt(conn, _REVIEWS, enabled=empty):
                    total = _store_blocks(conn, items, **options)
                if total is not RESTART:
                    savepoint.commit()
                    break
                savepoint.rollback()
        except Exception:
            for _ in items:  # the blocks' own error (the validation report) takes precedence
                pass
            raise
        _analyse_grown(conn, total.inserted)
        _notify(on_write, conn, "import_reviews", total.inserted + total.updated)
    return total


def _analyse_grown(conn: Connection, inserted: int) -> None:
    """PostgreSQL: ``ANALYZE`` the review tables, before the commit (it counts the
    transaction's own rows), after an import that grew them by half or more (a first import
    into a new store always), through ``sjr_analyse_review_tables`` (revision
    ``0035_children_scope``): the owner's function, which decides, so a person's role (which
    owns no table) and the owner's import are analysed alike.

    Without statistics the planner takes a lead's or reviewer's rows of a table for a row or
    two (every scan of theirs is an index scan on their organisation, revision
    ``0035_children_scope``), and planned the review frame's load as a nested loop that
    computed each child table's groups again for every review, calling the read policy's
    functions each time: a reviewer's load of 1,938 reviews right after a first import ran for
    more than 18 minutes. Autovacuum analyses them too, but a minute or more after the commit,
    and the first dashboards open at once. Since revision ``0036_analyse_key_columns`` only the
    columns the scopes, keys and joins compare, 0.7-0.9 s at 200,000 reviews where every column
    took 1.3-1.8 s on the same machine; autovacuum analyses every column after the commit
    (``docs/scaling.md``)."""
    if conn.dialect.name == "postgresql" and inserted > 0:
        conn.exec_driver_sql("SELECT sjr_analyse_review_tables(%(n)s)", {"n": int(inserted)})


def _store_blocks(conn: Connection, items: Iterable[pd.DataFrame], *, update: bool,
                  progress: Callable[[int], None] | None, saved_by: str | None,
                  new_only: bool,
                  check_block: Callable[[Connection, pd.DataFrame], None] | None = None
                  ) -> ImportResult | object:
    """The blocks into the open transaction; :data:`RESTART` if the reader started again."""
    inserted = updated = unchanged = 0
    held: list[pd.DataFrame] = []
    replaced: list[str] = []
    options = {"update": update, "progress": progress, "saved_by": saved_by,
               "new_only": new_only, "replaced": replaced}
    for block in items:
        if block is RESTART:
            if progress:
                progress(-(inserted + updated + unchanged))
            return RESTART
        if check_block is not None:
            check_block(conn, block)
        waiting = _waiting(conn, block)
        if waiting.any():
            held.append(block[waiting])
            block = block[~waiting]
        result = _store_reviews(conn, block, **options)
        inserted, updated = inserted + result.inserted, updated + result.updated
        unchanged += result.unchanged
    if held:
        result = _store_reviews(conn, pd.concat(held, ignore_index=True), **options)
        inserted, updated = inserted + result.inserted, updated + result.updated
        unchanged += result.unchanged
    # once all blocks are in: a file may change a review and the second-stage review that
    # follows it in different blocks
    refuse_broken_followers(conn, replaced)
    return ImportResult(inserted, updated, unchanged)


def _waiting(conn: Connection, block: pd.DataFrame) -> np.ndarray:
    """Second-stage reviews of ``block`` whose first-stage review is neither in the block nor
    stored yet (it may come in a later block): held back, so foreign keys hold at every insert.
    The rest go in with their block (``_insert_order`` puts them after their targets)."""
    second = block["review_stage"].to_numpy(dtype=object, na_value=None) == "second"
    if not second.any():
        return second
    targets = block.loc[second, "second_review_of"]
    ready = _isin(targets, block["review_id"])
    if not ready.all():
        stored = known_reviews(conn, targets[~ready].dropna().tolist())
        ready |= _isin(targets, stored)
    waiting = np.zeros(len(block), dtype=bool)
    waiting[np.flatnonzero(second)[~ready]] = True
    return waiting


@contextmanager
def _indexes_rebuilt(conn: Connection, table, *, enabled: bool) -> Iterator[None]:
    """When ``enabled`` (a first import into an empty store), what a row-by-row import would
    check and index row by row is built once at the end instead, inside the transaction:

    - SQLite: ``table``'s secondary indexes but the unique ones, dropped for the block and
      created again from their own stored definitions;
    - PostgreSQL: see :func:`_pg_keys_rebuilt`.

    If the block raises, nothing is created: the caller's rollback brings everything back."""
    if enabled and conn.dialect.name == "postgresql":
        with _pg_keys_rebuilt(conn):
            yield
        return
    if not enabled or conn.dialect.name != "sqlite":
        yield
        return
    # not the unique ones: the child tables' keys point at (organisation_code, review_id),
    # and SQLite refuses a child row whose parent key has no unique index
    indexes = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
        "AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE %'", (table.name,)).all()
    for name, _sql in indexes:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    yield
    for _name, sql in indexes:
        conn.exec_driver_sql(sql)


_REVIEW_TABLES = ("reviews", "phase_assessments", "problems", "review_reasons", "referrals")
_LOOKUP_TABLES = ("organisations", "reviewers")
"""The tables ``reviews`` has keys to (besides itself)."""
_REBUILT_KEYS = """
SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
FROM pg_constraint c
WHERE c.contype = 'f' AND c.conrelid = ANY(%(tables)s::regclass[])
  AND c.confrelid = ANY(%(targets)s::regclass[])
ORDER BY 1, 2
"""
_REBUILT_PRIMARY_KEYS = """
SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
FROM pg_constraint c
WHERE c.contype = 'p' AND c.conrelid = ANY(%(tables)s::regclass[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint f
                  WHERE f.contype = 'f' AND f.confrelid = c.conrelid)
ORDER BY 1, 2
"""
_REBUILT_INDEXES = """
SELECT i.relname, pg_get_indexdef(i.oid)
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
WHERE x.indrelid = ANY(%(tables)s::regclass[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
ORDER BY 1
"""
_KEYS_LOCK_WAIT = "2s"
"""How long a first import waits for readers to leave the tables whose keys it would build at
the end before it gives up and checks those keys row by row instead."""


def _locked(conn: Connection, tables: tuple[str, ...]) -> bool:
    """Whether ``tables`` are now this transaction's alone (``ACCESS EXCLUSIVE``): the
    connection's role owns them (a person's role never does) and the lock came within
    :data:`_KEYS_LOCK_WAIT`. A reader holding one of them on, or a deadlock with one, leaves
    them unlocked: better to check row by row than to queue every later reader behind us."""
    owner = conn.exec_driver_sql(
        "SELECT bool_and(pg_has_role(c.relowner, 'USAGE')) FROM pg_class c "
        "WHERE c.oid = ANY(%(tables)s::regclass[])", {"tables": list(tables)}).scalar()
    if not owner:
        return False
    waited = conn.exec_driver_sql("SHOW lock_timeout").scalar()
    savepoint = conn.begin_nested()
    try:
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{_KEYS_LOCK_WAIT}'")
        conn.exec_driver_sql(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE")
        conn.exec_driver_sql("SELECT set_config('lock_timeout', %(waited)s, true)",
                             {"waited": waited})
    except DBAPIError as exc:
        # lock_not_available, deadlock_detected
        if getattr(exc.orig, "sqlstate", None) not in ("55P03", "40P01"):
            raise
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


@contextmanager
def _pg_keys_rebuilt(conn: Connection) -> Iterator[None]:
    """PostgreSQL, a first import into an empty store: the foreign keys of the tables an import
    fills (each child row's key to its review, a second review's ``second_review_of``, a
    review's keys to ``organisations`` and ``reviewers``), the primary keys no foreign key
    points at (the child tables': a phase, problem, reason or referral per review) and the
    indexes of those tables no key uses are dropped for the block, then created again from
    their own definitions: one sorted index build each and one set-wise check of each foreign
    key (``ADD CONSTRAINT`` checks every row in one query) instead of a trigger's look-up and
    an index insertion per row, which were most of the server's work (``docs/scaling.md``).
    ``reviews (organisation_code, review_id)``, which the keys point at, stays, and so does
    the exclusion constraint that keeps a review's id unique across organisations (revision
    ``0037_ids_by_equality_only``): checked row by row during ``COPY``, where the server has
    time to spare, it cost less than built at the end (7.45-7.5 s against 7.6-7.65 s at
    200,000 reviews, two interleaved pairs).

    Only where it costs little:

    - the connection's role owns the tables (the import path runs as the owner; a person's role
      imports row-checked);
    - the review tables are locked (:func:`_locked`) and still empty once locked. Readers of
      the review tables wait for this import's commit; there was nothing for them to read;
    - the keys to ``organisations`` and ``reviewers`` only if those can be locked too: dropping
      a key locks the table it points at. Their readers (a trainer's calibration round, a new
      person's organisation, the review form's lists) then wait for the commit too, about
      25 s for a national first load of 1M reviews, at most ``LOCK_WAIT_SECONDS`` before
      they are told the store is busy (``docs/scaling.md``); if they cannot be locked,
      those two keys are checked row by row and the rest is built at the end as before.

    The keys are added back inside the transaction: a row that breaks one fails the import,
    which rolls back whole."""
    if not _locked(conn, _REVIEW_TABLES):
        yield
        return
    if conn.exec_driver_sql("SELECT EXISTS (SELECT 1 FROM reviews)").scalar():
        yield  # a review was saved between the count and the lock: check row by row
        return
    targets = ["reviews", *(_LOOKUP_TABLES if _locked(conn, _LOOKUP_TABLES) else ())]
    tables = {"tables": list(_REVIEW_TABLES)}
    keys = conn.exec_driver_sql(_REBUILT_KEYS, {**tables, "targets": targets}).all()
    primary = conn.exec_driver_sql(_REBUILT_PRIMARY_KEYS, tables).all()
    indexes = conn.exec_driver_sql(_REBUILT_INDEXES, tables).all()
    for table, name, _definition in [*keys, *primary]:
        conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    yield
    for table, name, definition in primary:
        conn.exec_driver_sql(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for _name, definition in indexes:
        conn.exec_driver_sql(definition)
    # the keys' checks join every child row to its review: planned without statistics of
    # reviews, they sorted the whole table for each key (0.24 s each at 200,000 reviews)
    conn.exec_driver_sql("ANALYZE reviews (organisation_code, review_id, second_review_of)")
    for table, name, definition in keys:
        conn.exec_driver_sql(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


def _store_reviews(conn: Connection, frame: pd.DataFrame, *, update: bool,
                   progress: Callable[[int], None] | None, saved_by: str | None,
                   new_only: bool = False, replaced: list[str] | None = None) -> ImportResult:
    """The body of :func:`import_reviews`, inside the caller's transaction; ``new_only``: the
    caller knows none of the frame's reviews is stored; the ids of the reviews it replaces are
    added to ``replaced`` (for :func:`refuse_broken_followers` once the import is written)."""
    frame = _conform(frame, domain.REVIEW_COLUMNS, domain.REVIEW_DTYPES, "review")
    duplicated = frame.loc[frame["review_id"].duplicated(), "review_id"].unique().tolist()
    if duplicated:
        raise StoreError(f"review_id repeated in the frame: {', '.join(duplicated[:20])}")
    hashes = content_hashes(frame)
    hashed = _records_hashes(conn)
    exists = np.zeros(len(frame), dtype=bool)
    changed = np.zeros(len(frame), dtype=bool)
    differing: dict[str, list[str]] = {}
    if not new_only:
        state = _stored_state(conn, frame["review_id"].tolist())
        exists = _isin(frame["review_id"], state["review_id"])
    if exists.any():
        state = state.set_index("review_id").reindex(frame.loc[exists, "review_id"])
        current = (state["content_hash_version"] == state["version"]) & \
            (state["content_hash"] == hashes[exists])
        # Only reviews whose hash does not vouch for them are read back and compared.
        compare = np.flatnonzero(exists)[~current.fillna(False).to_numpy(dtype=bool)]
        if len(compare):
            old = _load_reviews_by_id(conn, frame["review_id"].take(compare))
            changed[compare] = _differs(_normalised_reasons(frame.take(compare)),
                                        old[list(domain.REVIEW_COLUMNS)],
                                        ["review_id"], differing).to_numpy()
            if hashed:
                _refresh_hashes(conn, frame, hashes, compare[~changed[compare]], state)
    changed_ids = frame.loc[changed, "review_id"].tolist()
    if changed_ids and not update:
        raise _conflict("review(s)", changed_ids,
                        "Use --update to replace them (their version goes up by one).",
                        differing)
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
    fresh_hashes = hashes[order]
    for start in range(0, len(order), CHUNK_ROWS):
        chunk = fresh.iloc[start:start + CHUNK_ROWS]
        rows = chunk[list(_REVIEW_FIELDS)]
        recorded = {}
        if hashed:
            rows = rows.assign(content_hash=fresh_hashes[start:start + CHUNK_ROWS])
            recorded = {"content_hash_version": 1}
        _insert_frame(conn, _REVIEWS, rows, version=1, created_at=now, updated_at=now,
                      updated_by=saved_by, **recorded)
        _insert_children(conn, chunk)
        done += len(chunk)
        if progress:
            progress(len(chunk))
    if changed_ids:
        _update_reviews(conn, frame[changed], hashes[changed] if hashed else None, now,
                        saved_by)
        if replaced is not None:
            replaced += changed_ids
        if progress:
            progress(len(changed_ids))
    return ImportResult(done, len(changed_ids), int(exists.sum()) - len(changed_ids))


def _update_reviews(conn: Connection, frame: pd.DataFrame, hashes: np.ndarray | None,
                    now: dt.datetime, saved_by: str | None) -> None:
    """Replace the stored reviews of ``frame``, recording ``hashes`` (``None``: clearing the
    hash, on a person's connection, :func:`_records_hashes`)."""
    fields = [c for c in _REVIEW_FIELDS if c != "review_id"]
    stmt = (sa_update(_REVIEWS).where(_REVIEWS.c.review_id == bindparam("b_review_id"))
            .values({c: bindparam(c) for c in fields})
            .values(version=_REVIEWS.c.version + 1, updated_at=now, updated_by=saved_by))
    columns = list(_REVIEW_FIELDS)
    if hashes is None:
        stmt = stmt.values(content_hash=None, content_hash_version=None)
    else:  # both right-hand sides read the old version: the hash is the new version's
        stmt = stmt.values(content_hash=bindparam("content_hash"),
                           content_hash_version=_REVIEWS.c.version + 1)
        frame = frame.assign(content_hash=hashes)
        columns.append("content_hash")
    for chunk in _chunks(frame):
        conn.execute(stmt, _records(chunk[columns], {"review_id": "b_review_id"}))
        _delete_children(conn, chunk["review_id"].tolist())
        _insert_children(conn, chunk)


def _records_hashes(conn: Connection) -> bool:
    """Whether this connection records content hashes: not a person's own role on PostgreSQL
    (revision ``0028_owner_hashes``: the database cannot check a hash, so a person's would be
    their unchecked word, and it refuses one). A person's import stores reviews without a hash
    and compares, column by column, every stored review no owner's hash vouches for."""
    return database_user(conn) is None


def _refresh_hashes(conn: Connection, frame: pd.DataFrame, hashes: np.ndarray,
                    rows: np.ndarray, state: pd.DataFrame) -> None:
    """Record the hash of reviews found unchanged by comparing them (stored before revision
    ``0010_review_hash``, saved since by a reviewer, or hashed differently), for the version
    that was compared, so the next re-import need not read them. Not a change of the review:
    no new version, no saved-at, not counted as written. ``WHERE version`` keeps a hash off a
    version it was not computed for."""
    if not len(rows):
        return
    ids = frame["review_id"].take(rows)
    versions = state["version"].reindex(ids).to_numpy(dtype=np.int64)
    stmt = (sa_update(_REVIEWS)
            .where(_REVIEWS.c.review_id == bindparam("b_review_id"),
                   _REVIEWS.c.version == bindparam("b_version"))
            .values(content_hash=bindparam("b_hash"), content_hash_version=bindparam("b_version")))
    conn.execute(stmt, [{"b_review_id": r, "b_version": int(v), "b_hash": int(h)}
                        for r, v, h in zip(ids.tolist(), versions, hashes[rows], strict=True)])


def _normalised_reasons(frame: pd.DataFrame) -> pd.DataFrame:
    """Reasons as the store gives them back: de-duplicated, in spec order."""
    rows = _reason_rows(frame)
    return frame.assign(review_reasons=_joined_reasons(frame["review_id"], rows))
