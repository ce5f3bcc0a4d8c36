"""Frames out of the store: reviews (child tables pivoted back into the review frame), deaths,
organisations, and the keys an import validates against. Unscoped: see :mod:`data_access.store`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg import pq
from sqlalchemy import (
    Connection,
    Integer,
    Select,
    String,
    Table,
    case,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.util import find_tables

from data_access.audit import UNCHANGED_SINCE
from data_access.database import (
    _DEATHS,
    _ORGANISATIONS,
    _PHASES,
    _PROBLEMS,
    _REASONS,
    _REFERRAL_COLUMNS,
    _REFERRALS,
    _REVIEW_FIELDS,
    _REVIEWS,
    _id_chunks,
    sqlite_file,
)
from data_access.pg_security import unreadable
from sjrlib import domain
from sjrlib.rules import KNOWN_REVIEW_COLUMNS

_FETCH_ROWS = 50_000  # rows per fetchmany when loading


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


def _compiled(dialect, query) -> tuple[str, dict | tuple]:
    """SQL text and parameters of a Core ``select``, in the DB-API's parameter style."""
    compiled = query.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    if compiled.positiontup is not None:
        return str(compiled), tuple(params[name] for name in compiled.positiontup)
    return str(compiled), dict(params)


def _arrow_types(query) -> dict[str, pa.DataType]:
    """What each selected column becomes: ``int64`` for integers, everything else text
    (``large_string``, as pandas keeps it)."""
    return {c.name: pa.int64() if isinstance(c.type, Integer) else pa.large_string()
            for c in query.selected_columns}


Reader = Callable[[Select], dict[str, pa.ChunkedArray]]
"""Runs a Core ``select`` and gives its columns as Arrow arrays named as selected."""


def _cursor_reader(conn: Connection) -> Reader:
    """Read on the connection's own DB-API cursor, ``fetchmany`` at a time, into Arrow.

    No SQLAlchemy ``Row`` objects: each batch of row tuples is turned into one Arrow struct
    array at once (Arrow reads the tuples itself: a third less CPU than transposing them in
    Python into one list a column), so a million reviews neither crawl nor stay in memory as
    Python objects.
    """
    def read(query: Select) -> dict[str, pa.ChunkedArray]:
        sql, params = _compiled(conn.dialect, query)
        types = _arrow_types(query)
        row_type = pa.struct(list(types.items()))
        parts: list[pa.StructArray] = []
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(_FETCH_ROWS):
                parts.append(pa.array(rows, type=row_type))
        finally:
            cursor.close()
        return {name: pa.chunked_array([part.field(i) for part in parts], type=kind)
                for i, (name, kind) in enumerate(types.items())}
    return read


_CSV_PARSE = pacsv.ParseOptions(newlines_in_values=True)


def _copy_reader(conn: Connection) -> Reader:
    """Read on PostgreSQL with ``COPY (SELECT ...) TO STDOUT (FORMAT csv)`` on the session's
    own psycopg connection, parsed by Arrow's CSV reader while the rows still arrive.

    The same connection and transaction as every other statement of the session, so
    row-level security (the role it connected as, the organisations set for the transaction)
    scopes what COPY sends exactly as it scopes a ``SELECT``. In PostgreSQL's CSV, NULL is an
    unquoted empty field and an empty text is ``""``, which is how the parse tells them apart.

    Notes
    -----
    Every row is one protocol message. psycopg's ``Copy`` iterator spends about 5 us of Python
    on each (a generator and a wait per message); the rows are drained here with libpq's
    blocking ``PQgetCopyData`` through psycopg's documented low-level ``pgconn`` instead, each
    appended to one ``bytearray`` at once. While the rows are drained, Arrow parses the blocks
    already received in a thread of its own (the parse lets go of the GIL), so the parse hides
    behind the server's work: the review frame's COPY at 200,000 reviews took 2.33 s with the
    parse overlapped against 3.08 s parsing after the drain. Tried and dropped: the binary
    format parsed by numpy a column at a time (2.7 s of parse for the same rows: each column's
    pass over the row-major bytes misses the cache once a row). The query is sent as
    psycopg's client-side binding writes it (COPY takes no server-side parameters), inside the
    transaction SQLAlchemy has begun.
    """
    raw = conn.connection.dbapi_connection

    def read(query: Select) -> dict[str, pa.ChunkedArray]:
        sql, params = _compiled(conn.dialect, query)
        types = _arrow_types(query)
        if unreadable(conn, {t.name for t in find_tables(query, include_joins=True)
                             if isinstance(t, Table)}):  # researchers, administrators (0033)
            return {name: pa.chunked_array([], type=kind) for name, kind in types.items()}
        if not conn.in_transaction() or raw.info.transaction_status == pq.TransactionStatus.IDLE:
            conn.exec_driver_sql("SELECT 1")  # begin as any statement would (no autocommit)
        statement = f"COPY ({sql}) TO STDOUT (FORMAT csv)"
        options = {
            "read_options": pacsv.ReadOptions(column_names=list(types), use_threads=False),
            "parse_options": _CSV_PARSE,
            "convert_options": pacsv.ConvertOptions(column_types=types, null_values=[""],
                                                    strings_can_be_null=True,
                                                    quoted_strings_can_be_null=False)}
        with ThreadPoolExecutor(1, thread_name_prefix="sjr-csv") as parser:
            parts = []

            def parse(block: bytes) -> None:
                parts.append(parser.submit(pacsv.read_csv, pa.py_buffer(block), **options))
            try:
                bound = psycopg.ClientCursor(raw).mogrify(statement, params)
                _copy_out(raw, bound.encode(raw.info.encoding), parse)
            except psycopg.Error as error:  # the same exception family as any other statement
                raise DBAPIError.instance(statement, params, error, psycopg.Error) from error
            tables = [part.result() for part in parts]
        if not tables:  # no rows (Arrow's CSV reader refuses an empty file)
            return {name: pa.chunked_array([], type=kind) for name, kind in types.items()}
        table = pa.concat_tables(tables)
        return dict(zip(types, table.columns, strict=True))
    return read


_COPY_BLOCK = 16 << 20
"""Bytes of COPY's CSV handed to the parsing thread at a time (rows are never split: each
protocol message is one whole row). Measured at 200,000 reviews, the review frame's COPY:
4 MB blocks 2.64 s, 16 MB 2.33 s, 64 MB 2.53 s (too much left to parse at the end)."""


def _copy_out(raw: psycopg.Connection, statement: bytes, parse: Callable[[bytes], None]
              ) -> None:
    """Run a ``COPY ... TO STDOUT`` on psycopg connection ``raw``, handing what it sends to
    ``parse`` about :data:`_COPY_BLOCK` bytes at a time, whole rows only."""
    pgconn = raw.pgconn
    with raw.lock:
        pgconn.send_query(statement)
        result = pgconn.get_result()
        if result.status != pq.ExecStatus.COPY_OUT:
            _drain(pgconn)
            raise _error(pgconn, result)
        data = bytearray()
        get = pgconn.get_copy_data
        while (part := get(0))[0] >= 0:
            data += part[1]  # copied at once: each row's libpq buffer is freed as we go
            if len(data) >= _COPY_BLOCK:
                parse(bytes(data))
                data = bytearray()
        if data:
            parse(bytes(data))
        result = pgconn.get_result()
        _drain(pgconn)
        if result.status != pq.ExecStatus.COMMAND_OK:
            raise _error(pgconn, result)


def _drain(pgconn) -> None:
    while pgconn.get_result() is not None:
        pass


def _error(pgconn, result) -> psycopg.Error:
    """The psycopg exception of a failed result (its SQLSTATE's class, as psycopg raises)."""
    message = (result.error_message or pgconn.error_message).decode(errors="replace").strip()
    state = result.error_field(pq.DiagnosticField.SQLSTATE)
    try:
        kind = psycopg.errors.lookup(state.decode()) if state else psycopg.DatabaseError
    except KeyError:
        kind = psycopg.DatabaseError
    return kind(message)


def _reader(conn: Connection) -> Reader:
    """The fastest way to read Arrow for ``conn`` that keeps its scope and transaction.

    PostgreSQL: COPY on the session's connection. SQLite: the connection's own cursor. ADBC's
    SQLite driver reads three to four times faster, but it carries its own copy of the SQLite
    library, and two copies in one process must not open the same file: closing one copy's
    file drops the POSIX locks the other holds (sqlite.org/howtocorrupt.html, 2.2.1). Tried
    here, a load after a committed save missed the saved review. Big review loads use it in
    a process of its own instead (:mod:`data_access.sqlite_reader`, ``_in_own_process``).
    """
    return _copy_reader(conn) if conn.dialect.name == "postgresql" else _cursor_reader(conn)


def _pandas(column: pa.ChunkedArray) -> pd.api.extensions.ExtensionArray:
    """``Int64`` or ``string`` (pyarrow) pandas array of an Arrow column."""
    if column.type in (pa.string(), pa.large_string()):
        return pd.arrays.ArrowStringArray(column)
    return pd.array(column.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get))


def _frame(conn: Connection, query) -> pd.DataFrame:
    return pd.DataFrame({k: _pandas(v) for k, v in _reader(conn)(query).items()})


def review_selects(conditions: list) -> list[Select]:
    """The SELECTs a review load runs on SQLite: the reviews (with their organisation's nation
    and region), then each child table's rows of those reviews (phases, problems, reasons and,
    when the frame has referral columns, referrals), pivoted in Arrow by :func:`_assemble`.
    SQLite's own pivot (:func:`review_frame_select`) takes 3.0 s at 200,000 reviews where
    these take 1.0 s through ADBC; Python's ``sqlite3`` is the slow part either way.
    ``benchmarks/foundation.py`` times a bare Arrow read of exactly these, too."""
    columns = [cast(c, String).label(c.name) if c.name == "review_date" else c
               for c in (_REVIEWS.c[f] for f in _REVIEW_FIELDS)]
    reviews = (select(*columns, _REVIEWS.c.version, _ORGANISATIONS.c.nation,
                      _ORGANISATIONS.c.region)
               .join(_ORGANISATIONS, _ORGANISATIONS.c.code == _REVIEWS.c.organisation_code)
               .where(*conditions))
    tables = (_PHASES, _PROBLEMS, _REASONS) + ((_REFERRALS,) if _REFERRAL_COLUMNS else ())
    return [reviews, *(_child_rows(table, conditions,
                                   *(c for c in table.c if c.name != "organisation_code"))
                       for table in tables)]


def _child_rows(table, conditions: list, *columns) -> Select:
    """``columns`` of ``table``'s rows (a child table of the reviews) whose review passes
    ``conditions`` (joined to the reviews only when there are any)."""
    return (select(*columns).select_from(table.join(_REVIEWS) if conditions else table)
            .where(*conditions))


def _pivots() -> list[tuple]:
    """Each child table pivoted onto the review: (table, its key column, {value column: the
    frame column of an item}, the items in order)."""
    pivots = [
        (_PHASES, "phase", {"score": domain.score_column, "comment": domain.comment_column},
         domain.PHASES),
        (_PROBLEMS, "problem_type", {"harm": domain.problem_column}, domain.PROBLEM_TYPES),
    ]
    if _REFERRAL_COLUMNS:
        pivots.append((_REFERRALS, "referral_type",
                       {"referral_status": domain.referral_column,
                        "referral_reference": domain.referral_ref_column},
                       tuple(kind for kind, _status, _reference in _REFERRAL_COLUMNS)))
    return pivots


def review_frame_select(conditions: list) -> Select:
    """One SELECT whose rows and columns are the review frame's, pivoted by the database.

    Each child table is grouped by review (``max(CASE WHEN phase = 'admission' THEN score
    END) AS score_admission``, ...; the reasons as a bit set in spec order, ``reason_bits``)
    within the same filter as the reviews, then joined to them, in ``review_id`` order (the
    order of the primary keys' indexes, so PostgreSQL merges the groups without sorting;
    ``COLLATE "C"`` made it sort 200,000 wide rows on disk, 1.8 s against 1.25 s).
    PostgreSQL's loader reads this through one COPY: one row a review crosses the wire
    instead of one a child row (1.5 million at 200,000 reviews).
    ``benchmarks/foundation.py`` times a bare Arrow read of exactly this.
    """
    def grouped(table, *columns):
        return (_child_rows(table, conditions, table.c.review_id, *columns)
                .group_by(table.c.review_id).subquery())

    children = [grouped(table, *(func.max(case((table.c[key] == item, table.c[value])))
                                 .label(name(item))
                                 for item in items for value, name in values.items()))
                for table, key, values, items in _pivots()]
    bit = case(*((_REASONS.c.reason == name, literal(1 << i))
                 for i, name in enumerate(domain.REVIEW_REASONS)), else_=literal(0))
    reasons = grouped(_REASONS, func.sum(bit).label("reason_bits"))
    source = _REVIEWS.join(_ORGANISATIONS, _ORGANISATIONS.c.code == _REVIEWS.c.organisation_code)
    for child in (*children, reasons):
        source = source.outerjoin(child, child.c.review_id == _REVIEWS.c.review_id)
    columns = []
    for name in domain.REVIEW_COLUMNS:
        if name == "review_reasons":
            columns.append(cast(reasons.c.reason_bits, Integer).label("reason_bits"))
        elif name == "review_date":
            columns.append(cast(_REVIEWS.c.review_date, String).label(name))
        elif name in _REVIEWS.c:
            columns.append(_REVIEWS.c[name])
        else:
            columns.append(next(child.c[name] for child in children if name in child.c))
    return (select(*columns, _REVIEWS.c.version, _ORGANISATIONS.c.nation,
                   _ORGANISATIONS.c.region)
            .select_from(source).where(*conditions)
            .order_by(_REVIEWS.c.review_id))


def _fetch_reviews(conn: Connection, conditions: list) -> pd.DataFrame:
    read = _reader(conn)
    if conn.dialect.name == "postgresql":
        columns = _in_byte_order(read(review_frame_select(conditions)))
        frame = {c: _pandas(columns[c]) for c in domain.REVIEW_COLUMNS if c != "review_reasons"}
        frame["review_reasons"] = _reason_text(
            pc.fill_null(columns["reason_bits"], 0).to_numpy())
        return _finish(frame, columns)
    reviews, *children = review_selects(conditions)
    # SQLite walks the primary key's index in review_id order, byte by byte (BINARY), at no
    # cost (1.2 s for 200,000 either way), which spares sorting them here (0.3 s)
    queries = [reviews.order_by(_REVIEWS.c.review_id), *children]
    if _in_own_process(conn, conditions):
        try:
            return _assemble(*_read_in_own_process(conn, queries))
        except (OSError, RuntimeError) as error:  # no child, no memory file: read here
            warnings.warn(f"reading the reviews on this connection instead: {error}",
                          RuntimeWarning, stacklevel=3)
    return _assemble(*(read(query) for query in queries))


_OWN_PROCESS_ROWS = 100_000
"""From how many reviews a SQLite load reads in a process of its own
(:mod:`data_access.sqlite_reader`): starting it costs about 0.45 s, which it wins back from
about this many (at 200,000 reviews: 1.0 s for ADBC's read against 2.6 s through ``sqlite3``).
"""

def _in_own_process(conn: Connection, conditions: list) -> bool:
    """Whether a SQLite review load may read in a process of its own: a big load of a file
    store, from a transaction whose view of the data is exactly what is committed (none, or
    one that took the write lock and has written nothing since: no other writer can commit
    meanwhile). A transaction that wrote (an import reading back what it replaces) or that
    reads a snapshot beside another writer reads on its own connection."""
    if sqlite_file(conn.engine.url) is None or not hasattr(os, "memfd_create"):  # Linux only
        return False
    dbapi = conn.connection.dbapi_connection
    if dbapi.in_transaction and conn.info.get(UNCHANGED_SINCE) != dbapi.total_changes:
        return False
    count = select(func.count()).select_from(_REVIEWS).where(*conditions)
    return conn.execute(count).scalar_one() >= _OWN_PROCESS_ROWS


def _read_in_own_process(conn: Connection, queries: list[Select]
                         ) -> list[dict[str, pa.ChunkedArray]]:
    """``queries`` read by :func:`data_access.sqlite_reader.read`, typed as the cursor's
    reader types them."""
    from data_access import sqlite_reader

    compiled = [_compiled(conn.dialect, query) for query in queries]
    tables = sqlite_reader.read(str(Path(sqlite_file(conn.engine.url)).resolve()),
                                [(sql, list(params)) for sql, params in compiled])
    out = []
    for query, table in zip(queries, tables, strict=True):
        types = _arrow_types(query)
        out.append({name: pc.cast(table.column(i), kind)
                    for i, (name, kind) in enumerate(types.items())})
    return out


def _in_byte_order(columns: dict[str, pa.ChunkedArray]) -> dict[str, pa.ChunkedArray]:
    """The rows sorted by ``review_id`` in byte order, as Arrow sorts the SQLite path's: the
    database sorted by its collation, which is the same for ``C`` and ``C.UTF-8`` (checked,
    not assumed) but not for ``en_US.UTF-8``."""
    ids = columns["review_id"].combine_chunks()
    if len(ids) < 2 or not pc.any(pc.greater(ids.slice(0, len(ids) - 1), ids.slice(1))).as_py():
        return columns
    order = pc.sort_indices(ids)
    return {name: column.take(order) for name, column in columns.items()}


def _assemble(reviews: dict[str, pa.ChunkedArray], phases: dict[str, pa.ChunkedArray],
              problems: dict[str, pa.ChunkedArray], reasons: dict[str, pa.ChunkedArray],
              referrals: dict[str, pa.ChunkedArray] | None = None) -> pd.DataFrame:
    """Pivot the child tables onto the review rows, sorted by ``review_id``.

    Vectorised: each child row's review is found by a hash lookup (``pyarrow.compute``), then
    every phase/problem column is one ``take``; no per-row Python, no ORM objects.
    """
    reviews = _in_byte_order(reviews)
    ids = reviews["review_id"]
    n = len(ids)

    def positions(child: dict[str, pa.ChunkedArray]) -> np.ndarray:
        found = pc.index_in(child["review_id"], value_set=ids.combine_chunks())
        return pc.fill_null(found, -1).to_numpy().astype(np.int64)

    columns: dict[str, object] = {c: _pandas(reviews[c]) for c in _REVIEW_FIELDS}
    reason_frame = pd.DataFrame({k: _pandas(v) for k, v in reasons.items()})
    columns["review_reasons"] = _joined_reasons(pd.Series(columns["review_id"]), reason_frame,
                                                positions(reasons))
    pivots = [(child, *pivot[1:]) for child, pivot in
              zip((phases, problems, referrals), _pivots()) if child is not None]
    for child, key, value_columns, vocabulary in pivots:
        pos = positions(child)
        # One take index for every item's column end to end (item i's column is rows
        # i*n..(i+1)*n), so each value column is taken once, not once per item: a take of a
        # column of many chunks pays for joining them on every call.
        take = np.full(n * len(vocabulary), -1, dtype=np.int64)
        for i, item in enumerate(vocabulary):
            # Compared in Arrow: no Python string per child row.
            same = pc.fill_null(pc.equal(child[key], item), False)
            hit = np.flatnonzero(np.asarray(same, dtype=bool) & (pos >= 0))
            take[i * n + pos[hit]] = hit
        spread = pa.array(take, mask=take < 0)
        for value, name in value_columns.items():
            taken = child[value].take(spread)
            for i, item in enumerate(vocabulary):
                columns[name(item)] = _pandas(taken.slice(i * n, n))
    return _finish(columns, reviews)


def _finish(columns: dict[str, object], reviews: dict[str, pa.ChunkedArray]) -> pd.DataFrame:
    """The review frame of its columns (``review_date`` still text) and ``reviews``' own
    ``version``, ``nation``, ``region`` and ``review_date``: dtypes set."""
    out = pd.DataFrame({c: columns[c] for c in domain.REVIEW_COLUMNS}, copy=False)
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
    query = _known_query(stage)
    if review_ids is None:
        rows = conn.execute(query).all()
    else:
        rows = []
        for chunk in _id_chunks(list(dict.fromkeys(review_ids))):
            rows += conn.execute(query.where(_REVIEWS.c.review_id.in_(chunk))).all()
    return {r.review_id: (r.case_id, r.review_stage) for r in rows}


def _known_query(stage: str | None) -> Select:
    """Stored reviews' ``review_id`` and what the rules compare of them
    (``sjrlib.rules.KNOWN_REVIEW_COLUMNS``), one ``stage`` only, when given."""
    conditions = [] if stage is None else [_REVIEWS.c.review_stage == stage]
    return select(_REVIEWS.c.review_id,
                  *(_REVIEWS.c[c] for c in KNOWN_REVIEW_COLUMNS)).where(*conditions)


_KNOWN_BATCH = 50_000
"""Rows of :func:`known_review_frame` made Python objects at a time."""


def known_review_frame(conn: Connection, *, stage: str | None = None) -> pd.DataFrame:
    """Every stored review (one ``stage`` only, when given) as a frame indexed by ``review_id``
    with ``sjrlib.rules.KNOWN_REVIEW_COLUMNS``: the shape
    ``sjrlib.schema.validate_reviews(known_reviews=...)`` takes, so an import can compare a
    second-stage review with the review it follows, and a changed review with the stored
    second-stage reviews that follow it.

    For an import into a big store: read in batches into Arrow-backed strings, where the
    mapping holds two Python strings and a tuple a review (a store of a million reviews: about
    a tenth of the memory)."""
    query = _known_query(stage)
    names = ("review_id", *KNOWN_REVIEW_COLUMNS)
    parts = [pa.table({n: pa.array(column, type=pa.large_string())
                       for n, column in zip(names, zip(*rows, strict=True), strict=True)})
             for rows in conn.execute(query.execution_options(yield_per=_KNOWN_BATCH))
             .partitions()]
    if not parts:
        parts = [pa.table({n: pa.array([], type=pa.large_string()) for n in names})]
    frame = pa.concat_tables(parts).to_pandas(
        types_mapper=lambda t: pd.StringDtype("pyarrow") if pa.types.is_large_string(t)
        else None)
    return frame.set_index("review_id")


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
    return _reason_text(bits, review_ids.index)


def _reason_text(bits: np.ndarray, index: pd.Index | None = None) -> pd.Series:
    """``;``-joined reasons in spec order of each bit set (bit i: ``REVIEW_REASONS[i]``);
    missing where no bit is set."""
    lookup = {code: domain.REASON_SEPARATOR.join(
        r for i, r in enumerate(domain.REVIEW_REASONS) if code >> i & 1)
        for code in np.unique(bits) if code}
    return pd.Series(bits, index=index).map(lookup).astype("string")
