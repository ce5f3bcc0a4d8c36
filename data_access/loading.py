"""Frames out of the store: reviews (child tables pivoted back into the review frame), deaths,
organisations, and the keys an import validates against. Unscoped: see :mod:`data_access.store`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

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
    cast,
    func,
    select,
)
from sqlalchemy.exc import DBAPIError

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
)
from sjrlib import domain

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
    """What each selected column becomes: ``int64`` for integers, everything else text."""
    return {c.name: pa.int64() if isinstance(c.type, Integer) else pa.string()
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
    own psycopg connection, parsed by Arrow's CSV reader.

    The same connection and transaction as every other statement of the session, so
    row-level security (the role it connected as, the organisations set for the transaction)
    scopes what COPY sends exactly as it scopes a ``SELECT``. In PostgreSQL's CSV, NULL is an
    unquoted empty field and an empty text is ``""``, which is how the parse tells them apart.

    Notes
    -----
    Every row is one protocol message. psycopg's ``Copy`` iterator spends about 5 us of Python
    on each (a generator and a wait per message), which for the 1.3 million child rows of
    200,000 reviews was most of the load; the rows are drained here with libpq's blocking
    ``PQgetCopyData`` through psycopg's documented low-level ``pgconn`` instead, each appended
    to one ``bytearray`` at once (keeping the 781,649 phase rows' buffers in a list and
    joining them cost 4 s of CPU; appending, 0.6 s). The query is sent as psycopg's
    client-side binding writes it (COPY takes no server-side parameters), inside the
    transaction SQLAlchemy has begun.
    """
    raw = conn.connection.dbapi_connection

    def read(query: Select) -> dict[str, pa.ChunkedArray]:
        sql, params = _compiled(conn.dialect, query)
        types = _arrow_types(query)
        if not conn.in_transaction() or raw.info.transaction_status == pq.TransactionStatus.IDLE:
            conn.exec_driver_sql("SELECT 1")  # begin as any statement would (no autocommit)
        statement = f"COPY ({sql}) TO STDOUT (FORMAT csv)"
        try:
            bound = psycopg.ClientCursor(raw).mogrify(statement, params)
            data = _copy_out(raw, bound.encode(raw.info.encoding))
        except psycopg.Error as error:  # the same exception family as any other statement
            raise DBAPIError.instance(statement, params, error, psycopg.Error) from error
        if not data:  # no rows (Arrow's CSV reader refuses an empty file)
            return {name: pa.chunked_array([], type=kind) for name, kind in types.items()}
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(column_names=list(types)),
            parse_options=_CSV_PARSE,
            convert_options=pacsv.ConvertOptions(column_types=types, null_values=[""],
                                                 strings_can_be_null=True,
                                                 quoted_strings_can_be_null=False))
        return dict(zip(types, table.columns, strict=True))
    return read


def _copy_out(raw: psycopg.Connection, statement: bytes) -> bytearray:
    """Everything a ``COPY ... TO STDOUT`` sends, on psycopg connection ``raw``."""
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
        result = pgconn.get_result()
        _drain(pgconn)
        if result.status != pq.ExecStatus.COMMAND_OK:
            raise _error(pgconn, result)
    return data


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
    here, a load after a committed save missed the saved review.
    """
    return _copy_reader(conn) if conn.dialect.name == "postgresql" else _cursor_reader(conn)


def _pandas(column: pa.ChunkedArray) -> pd.api.extensions.ExtensionArray:
    """``Int64`` or ``string`` (pyarrow) pandas array of an Arrow column."""
    if column.type == pa.string():
        return pd.arrays.ArrowStringArray(column)
    return pd.array(column.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get))


def _frame(conn: Connection, query) -> pd.DataFrame:
    return pd.DataFrame({k: _pandas(v) for k, v in _reader(conn)(query).items()})


def review_selects(conditions: list) -> list[Select]:
    """The SELECTs a review load runs: the reviews (with their organisation's nation and
    region), then each child table's rows of those reviews (phases, problems, reasons and,
    when the frame has referral columns, referrals). ``benchmarks/foundation.py`` times a bare
    Arrow read of exactly these."""
    columns = [cast(c, String).label(c.name) if c.name == "review_date" else c
               for c in (_REVIEWS.c[f] for f in _REVIEW_FIELDS)]
    reviews = (select(*columns, _REVIEWS.c.version, _ORGANISATIONS.c.nation,
                      _ORGANISATIONS.c.region)
               .join(_ORGANISATIONS, _ORGANISATIONS.c.code == _REVIEWS.c.organisation_code)
               .where(*conditions))
    tables = (_PHASES, _PROBLEMS, _REASONS) + ((_REFERRALS,) if _REFERRAL_COLUMNS else ())
    return [reviews, *(select(table).select_from(_REVIEWS.join(table) if conditions else table)
                       .where(*conditions) for table in tables)]


def _fetch_reviews(conn: Connection, conditions: list) -> pd.DataFrame:
    read = _reader(conn)
    return _assemble(*(read(query) for query in review_selects(conditions)))


def _assemble(reviews: dict[str, pa.ChunkedArray], phases: dict[str, pa.ChunkedArray],
              problems: dict[str, pa.ChunkedArray], reasons: dict[str, pa.ChunkedArray],
              referrals: dict[str, pa.ChunkedArray] | None = None) -> pd.DataFrame:
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
    pivots = [
        (phases, "phase", {"score": domain.score_column, "comment": domain.comment_column},
         domain.PHASES),
        (problems, "problem_type", {"harm": domain.problem_column}, domain.PROBLEM_TYPES),
    ]
    if referrals is not None:
        pivots.append((referrals, "referral_type",
                       {"referral_status": domain.referral_column,
                        "referral_reference": domain.referral_ref_column},
                       tuple(kind for kind, _status, _reference in _REFERRAL_COLUMNS)))
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
