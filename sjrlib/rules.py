"""THE validation rules for reviews, deaths and organisations, vectorised over a frame.

Every check of an incoming value lives here, once: file imports (:mod:`sjrlib.io`), frames from
code (:func:`sjrlib.schema.validate_reviews`), and the single-review form and session API
(:class:`sjrlib.schema.Review`, which validates a 1-row frame) all run these rules.

How it works
------------
1. :func:`prepare` turns any frame (all-string cells from a file, or typed columns from code) into
   a :class:`Table`: per column the cell text as given (``raw``), the normalised text (``text``:
   stripped, codes lower-cased, blank -> ``<NA>``), a ``present`` mask (non-blank) and the parsed
   ``values`` (``Int64``, ``datetime64[ns]`` or ``string``; ``<NA>`` where blank *or* unparseable).
   How each column is read is declared once in ``REVIEW_SPECS`` / ``DEATH_SPECS`` /
   ``ORGANISATION_SPECS`` (:class:`ColumnSpec`).
2. Each :class:`Rule` has an ``id``, the ``columns`` it reports, a ``description`` and a vectorised
   ``check(table)`` that yields :class:`Violation` objects: a boolean mask over the rows, the column
   to report and a message for people (one string, or one per flagged row when it names details).
3. :func:`run_rules` runs a rule list and returns every violation; :mod:`sjrlib.schema` turns them
   into :class:`~sjrlib.schema.RowError` rows and builds the typed output frame.

A cell that fails its type rule (``integer``, ``code_list``, ``date_format``, ``month_format``) is
``<NA>`` in ``values`` and range/consistency rules skip it, so one bad cell gives one error.
Consistency rules that only ask "is it filled in?" use ``present`` (the cell text), so a score of
``"abc"`` still counts as scored when checking its comment.

The common path has no per-row Python: only flagged rows (rare) get per-row messages, and the
review-reason lists are normalised once per distinct value.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sjrlib import domain, privacy
from sjrlib.domain import PHASES, PROBLEM_TYPES, comment_column, problem_column, score_column

__all__ = [
    "DEATH_RULES",
    "DEATH_SPECS",
    "ORGANISATION_RULES",
    "ORGANISATION_SPECS",
    "REVIEW_RULES",
    "REVIEW_SPECS",
    "RULES",
    "ColumnSpec",
    "Rule",
    "Table",
    "Violation",
    "normalise_known_reviews",
    "prepare",
    "required_columns",
    "run_rules",
]

ODS_CODE = r"[A-Z0-9]{3}"
"""England: an NHS trust's ODS code, 3 characters (e.g. ``RXX``)."""
GSS_HEALTH_BOARD_CODE = r"S08\d{6}"
"""Scotland: an NHS health board's 9-character GSS code (e.g. ``S08000015``)."""
OUTWARD_CODE = r"[A-Z]{1,2}[0-9][A-Z0-9]?"
"""The outward part of a UK postcode (postcode district), e.g. ``LS1``, ``EC1A``."""
FULL_POSTCODE = r"[A-Z]{1,2}[0-9][A-Z0-9]?\s*[0-9][A-Z]{2}"


# --- column specs ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ColumnSpec:
    """How one column is read.

    ``kind``: ``"id"`` (stripped text), ``"free_text"`` (kept as written but for line endings,
    which become ``\\n``; whitespace-only is blank; scanned for identifiers), ``"text"``
    (stripped text, scanned for identifiers), ``"code"`` (stripped, lower-cased, one of
    ``codes``), ``"int"``, ``"date"`` (``YYYY-MM-DD``), ``"month"`` (``YYYY-MM``), ``"reasons"``
    (``;``-separated review-reason ids),
    ``"postcode"`` (stripped, upper-cased).
    """

    kind: str
    required: bool = False
    codes: tuple[str, ...] = ()
    column_required: bool | None = None
    """Must a file have this column? Default: ``required``."""


def _review_specs() -> dict[str, ColumnSpec]:
    code = lambda codes, required=False: ColumnSpec("code", required, tuple(codes))  # noqa: E731
    specs = {
        "review_id": ColumnSpec("id", True),
        "case_id": ColumnSpec("id", True),
        "organisation_code": ColumnSpec("id", True),
        "review_stage": code(domain.REVIEW_STAGES, True),
        "second_review_of": ColumnSpec("id"),
        "status": code(domain.STATUSES),
        "reviewer_id": ColumnSpec("text", True),
        "review_date": ColumnSpec("date", True),
        "review_reasons": ColumnSpec("reasons", True),
        "age_at_death": ColumnSpec("int", True),
        "sex": code(domain.SEXES),
        "postcode_district": ColumnSpec("postcode"),
        "admission_weekday": code(domain.WEEKDAYS),
        "death_weekday": code(domain.WEEKDAYS),
        "arrival_hour": ColumnSpec("int"),
        "death_hour": ColumnSpec("int"),
        "days_to_death": ColumnSpec("int"),
        "death_month": ColumnSpec("month", True),
        "specialty": ColumnSpec("text"),
        "location_of_death": ColumnSpec("text"),
        "admission_type": code(domain.ADMISSION_TYPES),
        "cause_of_death": ColumnSpec("free_text"),
        "learning_disability": code(domain.YES_NO_UNKNOWN),
        "severe_mental_illness": code(domain.YES_NO_UNKNOWN),
    }
    for p in PHASES:
        specs[score_column(p)] = ColumnSpec("int", p == "overall")
    for p in PHASES:
        # Blank comment_overall is comment_required_when_scored's to report; the column is needed.
        specs[comment_column(p)] = ColumnSpec("free_text", column_required=p == "overall")
    specs["record_quality_score"] = ColumnSpec("int", True)
    specs["any_problems"] = code(domain.YES_NO, True)
    for t in PROBLEM_TYPES:
        specs[problem_column(t)] = code(domain.HARM_VALUES)
    specs["avoidability_score"] = ColumnSpec("int")
    specs["avoidability_scale"] = code(domain.AVOIDABILITY_SCALES)
    assert tuple(specs) == domain.REVIEW_COLUMNS, "REVIEW_SPECS out of step with REVIEW_COLUMNS"
    return specs


REVIEW_SPECS: dict[str, ColumnSpec] = _review_specs()
"""How each review column is read; ``required=True`` columns must be present and filled in."""

DEATH_SPECS: dict[str, ColumnSpec] = {
    "organisation_code": ColumnSpec("id", True),
    "month": ColumnSpec("month", True),
    "deaths_in_scope": ColumnSpec("int", True),
    "learning_disability_deaths": ColumnSpec("int", True),
}
ORGANISATION_SPECS: dict[str, ColumnSpec] = {
    "organisation_code": ColumnSpec("id", True),
    "name": ColumnSpec("id", True),
    "nation": ColumnSpec("code", True, domain.NATIONS),
    "region": ColumnSpec("id", True),
}


def required_columns(specs: Mapping[str, ColumnSpec]) -> tuple[str, ...]:
    """Columns a file must have (their cells must be filled in); the others may be left out."""
    return tuple(c for c, s in specs.items()
                 if (s.required if s.column_required is None else s.column_required))


# --- the prepared table ---------------------------------------------------------------------

@dataclass
class Table:
    """A frame read per its specs, plus the context rules need (see the module docstring)."""

    specs: Mapping[str, ColumnSpec]
    n: int
    rows: np.ndarray
    raw: dict[str, pd.Series] = field(default_factory=dict)
    text: dict[str, pd.Series] = field(default_factory=dict)
    present: dict[str, np.ndarray] = field(default_factory=dict)
    values: dict[str, pd.Series] = field(default_factory=dict)
    invalid: dict[str, np.ndarray] = field(default_factory=dict)
    reason_unknown: pd.Series | None = None
    known_organisations: frozenset[str] | None = None
    known_reviews: pd.DataFrame | None = None
    today: _dt.date = field(default_factory=_dt.date.today)
    text_dtype: pd.StringDtype = field(default_factory=pd.StringDtype)
    cache: dict[str, Any] = field(default_factory=dict)


def _mask(values: Any) -> np.ndarray:
    """A plain numpy bool array from a (nullable) boolean Series/array; ``<NA>`` -> False."""
    if isinstance(values, pd.Series):
        return values.to_numpy(dtype=bool, na_value=False)
    return np.asarray(values, dtype=bool)


def _cell_text(value: Any) -> Any:
    """One cell of an object column as text (slow path: object columns only)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return pd.NA
    if isinstance(value, float):
        if np.isnan(value):
            return pd.NA
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, bool | np.bool_):
        return str(value)
    if isinstance(value, _dt.datetime):
        if value.time() == _dt.time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    return str(value)


def _as_text(series: pd.Series, text_dtype: pd.StringDtype) -> pd.Series:
    """Any column as a ``string`` Series, cells as written (numbers without ``.0``)."""
    dtype = series.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        out = series.dt.strftime("%Y-%m-%d").astype(text_dtype)
        timed = _mask(series.notna() & (series != series.dt.normalize()))
        if timed.any():
            out[timed] = series[timed].astype(text_dtype)
        return out
    if pd.api.types.is_bool_dtype(dtype):
        return series.astype(text_dtype)
    if pd.api.types.is_integer_dtype(dtype):
        return series.astype("Int64").astype(text_dtype)
    if pd.api.types.is_float_dtype(dtype):
        out = series.astype(text_dtype)
        whole = _mask(series.notna() & (series % 1 == 0))
        if whole.any():
            out[whole] = series[whole].astype("Int64").astype(text_dtype)
        return out
    if pd.api.types.is_object_dtype(dtype):
        return series.map(_cell_text).astype(text_dtype)
    return series.astype(text_dtype)


_INTEGER = r"[+-]?\d{1,9}(?:\.0*)?"
_DATE = r"\d{4}-\d{2}-\d{2}"
_MONTH = r"\d{4}-(?:0[1-9]|1[0-2])"


def _read_column(table: Table, column: str, spec: ColumnSpec, series: pd.Series | None) -> None:
    n = table.n
    if series is not None and (_cell_text(series.iat[0]) is pd.NA if n == 1 else
                               n <= SMALL_FRAME and not series.notna().any()):
        # A column of blanks reads as an absent one; the entry form leaves most fields blank
        # and the text machinery below costs milliseconds per column on a 1-row frame.
        series = None
    if series is None:
        empty = pd.Series(pd.NA, index=pd.RangeIndex(n), dtype=table.text_dtype)
        table.raw[column] = table.text[column] = empty
        table.present[column] = np.zeros(n, dtype=bool)
        table.invalid[column] = np.zeros(n, dtype=bool)
        dtype = {"int": "Int64", "date": "datetime64[ns]"}.get(spec.kind, table.text_dtype)
        table.values[column] = pd.Series(pd.NA if dtype != "datetime64[ns]" else pd.NaT,
                                         index=empty.index, dtype=dtype)
        return

    series = series.reset_index(drop=True)
    # Typed columns from code take a fast path that skips parsing text.
    if spec.kind == "int" and pd.api.types.is_integer_dtype(series.dtype):
        values = series.astype("Int64")
        raw = values.astype(table.text_dtype)
        table.raw[column] = table.text[column] = raw
        table.present[column] = _mask(values.notna())
        table.invalid[column] = np.zeros(n, dtype=bool)
        table.values[column] = values
        return
    if spec.kind == "date" and pd.api.types.is_datetime64_any_dtype(series.dtype):
        values = series.astype("datetime64[ns]").dt.normalize()
        raw = _as_text(series, table.text_dtype)
        table.raw[column] = table.text[column] = raw
        table.present[column] = _mask(values.notna())
        table.invalid[column] = np.zeros(n, dtype=bool)
        table.values[column] = values
        return

    if n == 1 and pd.api.types.is_string_dtype(series.dtype) \
            and _read_cell(table, column, spec, _cell_text(series.iat[0])):
        return
    raw = _as_text(series, table.text_dtype)
    if table.text_dtype.storage == "pyarrow":
        _read_arrow_column(table, column, spec, raw)
        return
    stripped = raw.str.strip()
    present = _mask(stripped.str.len() > 0)
    stripped = stripped.where(present, pd.NA)
    table.raw[column] = raw
    table.present[column] = present
    invalid = np.zeros(n, dtype=bool)

    if spec.kind == "free_text":
        # Line endings are a platform's, not the writer's: one form (\n) so files round-trip.
        text = values = raw.where(present, pd.NA).str.replace("\r\n?", "\n", regex=True)
    elif spec.kind in ("id", "text", "month"):
        text = values = stripped
        if spec.kind == "month":
            invalid = present & ~_mask(stripped.str.fullmatch(_MONTH))
            values = stripped.where(~invalid, pd.NA)
    elif spec.kind == "code":
        text = stripped.str.lower()
        invalid = present & ~_mask(text.isin(spec.codes))
        values = text.where(~invalid, pd.NA)
    elif spec.kind == "postcode":
        text = values = stripped.str.upper()
    elif spec.kind == "int":
        text = stripped
        ok = _mask(stripped.str.fullmatch(_INTEGER))
        invalid = present & ~ok
        values = pd.Series(pd.NA, index=stripped.index, dtype="Int64")
        if ok.any():
            digits = stripped[ok].str.replace(r"^\+|\.0*$", "", regex=True)
            values[ok] = digits.astype("Int64")
    elif spec.kind == "date":
        text = stripped
        shaped = _mask(stripped.str.fullmatch(_DATE))
        values = pd.Series(pd.NaT, index=stripped.index, dtype="datetime64[ns]")
        if shaped.any():
            parsed = pd.to_datetime(stripped[shaped], format="%Y-%m-%d", errors="coerce")
            # A real-looking date outside datetime64[ns] (e.g. 0000-01-01) is a date error,
            # not a crash: keep only what the review frame can hold.
            days = parsed.to_numpy(dtype="datetime64[D]")
            holdable = ~np.isnat(days) & (days >= _NS_FIRST) & (days <= _NS_LAST)
            values[shaped] = parsed.where(holdable).astype("datetime64[ns]")
        invalid = present & _mask(values.isna())
    elif spec.kind == "reasons":
        text = stripped
        values, unknown = _normalise_reasons(stripped)
        table.reason_unknown = unknown
        invalid = _mask(unknown.notna())
        values = values.where(~invalid, pd.NA)
        # ";" alone names no reason: blank, so "at least one" is the required rule's job.
        table.present[column] = invalid | _mask(values.notna())
    else:  # pragma: no cover - a spec typo is a programming error
        raise ValueError(f"unknown column kind {spec.kind!r} for {column}")
    table.text[column] = text
    table.values[column] = values
    table.invalid[column] = invalid


_RE_INTEGER, _RE_DATE, _RE_MONTH = (re.compile(p) for p in (_INTEGER, _DATE, _MONTH))
_RE_SIGN_OR_POINT = re.compile(r"^\+|\.0*$")
_RE_LINE_END = re.compile("\r\n?")


def _read_cell(table: Table, column: str, spec: ColumnSpec, cell: Any) -> bool:
    """:func:`_read_column` for a 1-row frame (one review saved from the form or the session):
    the same reading done on the one Python string (the ``re`` patterns pandas' python-storage
    string methods use), instead of about twenty pandas calls per column. False, having set
    nothing, for what it leaves to the frame path (a date outside ``datetime64[ns]``)."""
    dtype = table.text_dtype
    stripped = pd.NA if cell is pd.NA else cell.strip()
    present = stripped is not pd.NA and len(stripped) > 0
    if not present:
        stripped = pd.NA
    invalid = False
    kind = spec.kind
    unknown: Any = None
    if kind == "free_text":
        text = value = _RE_LINE_END.sub("\n", cell) if present else pd.NA
    elif kind in ("id", "text", "month"):
        text = value = stripped
        if kind == "month" and present and _RE_MONTH.fullmatch(stripped) is None:
            invalid, value = True, pd.NA
    elif kind == "code":
        text = value = stripped.lower() if present else pd.NA
        if present and text not in spec.codes:
            invalid, value = True, pd.NA
    elif kind == "postcode":
        text = value = stripped.upper() if present else pd.NA
    elif kind == "int":
        text = stripped
        ok = present and _RE_INTEGER.fullmatch(stripped) is not None
        invalid = present and not ok
        value = int(_RE_SIGN_OR_POINT.sub("", stripped)) if ok else pd.NA
    elif kind == "date":
        text, value = stripped, pd.NaT
        if present and _RE_DATE.fullmatch(stripped) is not None:
            value = pd.to_datetime(stripped, format="%Y-%m-%d", errors="coerce")
            if value is not pd.NaT and not _NS_FIRST <= np.datetime64(value, "D") <= _NS_LAST:
                return False
        invalid = present and value is pd.NaT
    elif kind == "reasons":
        text = stripped
        value, unknown = _reasons(stripped) if present else (pd.NA, pd.NA)
        invalid = unknown is not pd.NA
        if invalid:
            value = pd.NA
        # ";" alone names no reason: blank, so "at least one" is the required rule's job.
        present = invalid or value is not pd.NA
    else:
        return False  # the frame path names the unknown kind
    table.raw[column] = pd.Series([cell], dtype=dtype)
    table.text[column] = pd.Series([text], dtype=dtype)
    table.values[column] = pd.Series(
        [value], dtype={"int": "Int64", "date": "datetime64[ns]"}.get(kind, dtype))
    if unknown is not None:
        table.reason_unknown = pd.Series([unknown], dtype=dtype)
    table.present[column] = np.array([present], dtype=bool)
    table.invalid[column] = np.array([invalid], dtype=bool)
    return True


def _arrow(series: pd.Series) -> pa.ChunkedArray:
    """The Arrow data under a pyarrow-backed ``string`` Series (no copy)."""
    data = series.array.__arrow_array__()
    return data if isinstance(data, pa.ChunkedArray) else pa.chunked_array([data])


def _from_arrow(data: pa.ChunkedArray | pa.Array, dtype: pd.StringDtype) -> pd.Series:
    """A ``string`` Series over Arrow text (no copy)."""
    if isinstance(data, pa.Array):
        data = pa.chunked_array([data])
    return pd.Series(pd.arrays.ArrowStringArray(data), dtype=dtype)


def _total_bytes(data: pa.ChunkedArray) -> int:
    return int(pc.sum(pc.binary_length(data)).as_py() or 0)


def _bools(data: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Arrow booleans as a numpy bool array, null -> False."""
    return np.asarray(pc.fill_null(data, False), dtype=bool)


# RE2 (pyarrow.compute) forms of the patterns, anchored for a full match.
_RE2_INTEGER = rf"^{_INTEGER}$"
_RE2_DATE = rf"^{_DATE}$"
_RE2_MONTH = rf"^{_MONTH}$"
# datetime64[ns] holds 1677-09-21 to 2262-04-11; dates outside it are not real review dates.
_NS_FIRST, _NS_LAST = np.datetime64("1678-01-01", "D"), np.datetime64("2261-12-31", "D")


def _read_arrow_column(table: Table, column: str, spec: ColumnSpec, raw: pd.Series) -> None:
    """:func:`_read_column` for large frames: every parse done once, in C++ on the Arrow data
    (``pyarrow.compute``; regexes in RE2, as pandas' pyarrow string methods use), no
    intermediate pandas columns. Gives exactly what the pandas path gives."""
    dtype = table.text_dtype
    data = _arrow(raw)
    null = pa.scalar(None, data.type)
    # Copies only where a cell changes: a clean column's text and values are the file's own
    # Arrow data, so a million-row import holds each cell once.
    stripped = pc.utf8_trim_whitespace(data)
    if _total_bytes(stripped) == _total_bytes(data):
        stripped = data  # nothing was trimmed
    present_arrow = pc.greater(pc.utf8_length(stripped), 0)
    present = _bools(present_arrow)
    blank_text = int(present.sum()) < len(data) - data.null_count  # "" or whitespace only
    if blank_text:
        stripped = pc.if_else(present_arrow, stripped, null)
    table.raw[column] = raw
    table.present[column] = present
    invalid = np.zeros(table.n, dtype=bool)
    kind = spec.kind

    if kind == "free_text":
        text = pc.if_else(present_arrow, data, null) if blank_text else data
        if pc.any(pc.match_substring(text, "\r")).as_py():
            # Line endings are a platform's, not the writer's: one form (\n) so files
            # round-trip.
            text = pc.replace_substring_regex(text, "\r\n?", "\n")
        table.text[column] = table.values[column] = _from_arrow(text, dtype)
    elif kind in ("id", "text"):
        table.text[column] = table.values[column] = _from_arrow(stripped, dtype)
    elif kind == "month":
        table.text[column] = _from_arrow(stripped, dtype)
        invalid = present & ~_bools(pc.match_substring_regex(stripped, _RE2_MONTH))
        table.values[column] = (table.text[column] if not invalid.any() else
                                table.text[column].where(~invalid, pd.NA))
    elif kind == "code":
        value_set = pa.array(spec.codes, type=stripped.type)
        ok = pc.is_in(stripped, value_set=value_set)
        lowered = stripped
        if int(pc.sum(ok).as_py() or 0) < int(present.sum()):  # some not in lower case (or bad)
            lowered = pc.utf8_lower(stripped)
            ok = pc.is_in(lowered, value_set=value_set)
        invalid = present & ~_bools(ok)
        table.text[column] = _from_arrow(lowered, dtype)
        table.values[column] = (table.text[column] if not invalid.any() else
                                _from_arrow(pc.if_else(ok, lowered, null), dtype))
    elif kind == "postcode":
        upper = pc.utf8_upper(stripped)
        if pc.all(pc.fill_null(pc.equal(upper, stripped), True)).as_py():
            upper = stripped
        table.text[column] = table.values[column] = _from_arrow(upper, dtype)
    elif kind == "int":
        table.text[column] = _from_arrow(stripped, dtype)
        ok = pc.fill_null(pc.match_substring_regex(stripped, _RE2_INTEGER), False)
        invalid = present & ~_bools(ok)
        digits = pc.if_else(ok, stripped, null) if invalid.any() else stripped
        if pc.any(pc.match_substring_regex(digits, "[+.]")).as_py():
            digits = pc.replace_substring_regex(digits, "^\\+|\\.0*$", "")
        numbers = pc.cast(digits, pa.int64())
        table.values[column] = pd.Series(
            numbers.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get), dtype="Int64")
    elif kind == "date":
        table.text[column] = _from_arrow(stripped, dtype)
        shaped = pc.fill_null(pc.match_substring_regex(stripped, _RE2_DATE), False)
        candidate = pc.if_else(shaped, stripped, pa.scalar(None, stripped.type))
        parsed = pc.strptime(candidate, format="%Y-%m-%d", unit="s", error_is_null=True)
        # strptime rolls impossible days over (2023-02-29 -> 03-01): a real date writes back
        # as itself.
        same = pc.fill_null(pc.equal(pc.strftime(parsed, format="%Y-%m-%d"),
                                     pc.cast(candidate, pa.string())), False)
        days = pc.cast(pc.cast(parsed, pa.date32()), pa.int32()).to_numpy(
            zero_copy_only=False).astype("datetime64[D]")
        good = _bools(same) & (days >= _NS_FIRST) & (days <= _NS_LAST)
        days[~good] = np.datetime64("NaT")
        table.values[column] = pd.Series(days.astype("datetime64[ns]"))
        invalid = present & ~good
    elif kind == "reasons":
        table.text[column] = text_series = _from_arrow(stripped, dtype)
        values, unknown = _normalise_reasons(text_series)
        table.reason_unknown = unknown
        invalid = _mask(unknown.notna())
        table.values[column] = values.where(~invalid, pd.NA) if invalid.any() else values
        # ";" alone names no reason: blank, so "at least one" is the required rule's job.
        table.present[column] = invalid | _mask(values.notna())
    else:  # pragma: no cover - a spec typo is a programming error
        raise ValueError(f"unknown column kind {kind!r} for {column}")
    table.invalid[column] = invalid


def _normalise_reasons(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``;``-separated reason ids -> (ids in spec order, deduplicated; unknown ids or <NA>).

    Done once per distinct value: a file has few distinct combinations of reasons.
    """
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    normalised: list[Any] = []
    unknown: list[Any] = []
    for value in uniques:
        good, bad = _reasons(value)
        normalised.append(good)
        unknown.append(bad)
    take = lambda items: pd.Series(  # noqa: E731
        np.asarray(items + [pd.NA], dtype=object)[codes], index=text.index, dtype=text.dtype
    )
    return take(normalised), take(unknown)


_REASON_ORDER = {r: i for i, r in enumerate(domain.REVIEW_REASONS)}


def _reasons(value: Any) -> tuple[Any, Any]:
    """One ``;``-separated cell -> (known ids in spec order or <NA>, unknown ids or <NA>)."""
    ids = {p.strip().lower() for p in str(value).split(domain.REASON_SEPARATOR)} - {""}
    bad = sorted(ids - _REASON_ORDER.keys())
    good = sorted(ids & _REASON_ORDER.keys(), key=_REASON_ORDER.__getitem__)
    return (domain.REASON_SEPARATOR.join(good) if good else pd.NA,
            ", ".join(bad) if bad else pd.NA)


def normalise_known_reviews(known: Any) -> pd.DataFrame | None:
    """Reviews already in the store, as a frame indexed by ``review_id`` with ``case_id`` and
    ``review_stage``.

    Accepts ``None``, a mapping ``{review_id: (case_id, review_stage)}``, or a frame with columns
    ``review_id`` (or an index of review ids), ``case_id`` and ``review_stage``.
    """
    if known is None:
        return None
    if isinstance(known, pd.DataFrame):
        frame = known if "review_id" not in known.columns else known.set_index("review_id")
        frame = frame[["case_id", "review_stage"]]
    else:
        items = dict(known)
        frame = pd.DataFrame(
            [tuple(v) for v in items.values()],
            index=pd.Index(list(items), dtype="string"),
            columns=["case_id", "review_stage"],
        )
    frame = frame.astype("string")
    frame.index = frame.index.astype("string")
    return frame[~frame.index.duplicated()]


SMALL_FRAME = 5000
"""Up to this many rows, text is held as Python strings: pandas' pyarrow string methods pay a
fixed cost per call (regex parsing) that dominates a 1-row check from the entry form."""


def _text_dtype(n: int) -> pd.StringDtype:
    return pd.StringDtype("python" if n <= SMALL_FRAME else "pyarrow")


def prepare(
    frame: pd.DataFrame,
    specs: Mapping[str, ColumnSpec],
    *,
    rows: Sequence[int] | np.ndarray | None = None,
    known_organisations: Iterable[str] | pd.DataFrame | None = None,
    known_reviews: Any = None,
    today: _dt.date | None = None,
) -> Table:
    """Read ``frame`` per ``specs`` into a :class:`Table` (columns absent from the frame are blank).

    ``rows`` are the spreadsheet row numbers of the frame's rows (default: header = row 1, so the
    first data row is row 2).
    """
    n = len(frame)
    rows_array = np.arange(2, n + 2) if rows is None else np.asarray(rows, dtype=np.int64)
    if len(rows_array) != n:
        raise ValueError(f"{len(rows_array)} row numbers given for {n} rows")
    if isinstance(known_organisations, pd.DataFrame):
        known_organisations = known_organisations["organisation_code"]
    table = Table(
        specs=specs,
        n=n,
        rows=rows_array,
        known_organisations=(
            None if known_organisations is None
            else frozenset(str(c).strip() for c in known_organisations)
        ),
        known_reviews=normalise_known_reviews(known_reviews),
        today=today or _dt.date.today(),
        text_dtype=_text_dtype(n),
    )
    for column, spec in specs.items():
        _read_column(table, column, spec, frame[column] if column in frame.columns else None)
    return table


# --- rules ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Violation:
    """Rows (``mask``) breaking ``rule`` in ``column``.

    ``message`` is one string, or one string per flagged row (in row order). ``values``, when
    given, replaces the reported cell values of the flagged rows (e.g. with identifiers redacted).
    """

    rule: str
    column: str
    mask: np.ndarray
    message: str | Sequence[str]
    values: Sequence[Any] | None = None


@dataclass(frozen=True)
class Rule:
    """One validation rule: ``check(table)`` yields a :class:`Violation` per column it flags."""

    id: str
    columns: tuple[str, ...]
    description: str
    check: Callable[[Table], Iterator[Violation]]


def run_rules(table: Table, rules: Iterable[Rule]) -> list[Violation]:
    """Run ``rules`` over ``table``; return the violations that flag at least one row."""
    found = []
    for rule in rules:
        for v in rule.check(table):
            if v.mask.any():
                found.append(v)
    return found


def _columns_of_kind(specs: Mapping[str, ColumnSpec], *kinds: str) -> tuple[str, ...]:
    return tuple(c for c, s in specs.items() if s.kind in kinds)


def _required_rule(specs: Mapping[str, ColumnSpec]) -> Rule:
    columns = tuple(c for c, s in specs.items() if s.required)

    def check(t: Table) -> Iterator[Violation]:
        for c in columns:
            if c in t.present:
                yield Violation("required", c, ~t.present[c], f"{c} is required but is blank")

    return Rule("required", columns, "A required cell is blank.", check)


def _type_rules(specs: Mapping[str, ColumnSpec]) -> list[Rule]:
    ints = _columns_of_kind(specs, "int")
    codes = _columns_of_kind(specs, "code")
    dates = _columns_of_kind(specs, "date")
    months = _columns_of_kind(specs, "month")

    def integer(t: Table) -> Iterator[Violation]:
        for c in ints:
            yield Violation("integer", c, t.invalid[c], f"{c} must be a whole number")

    def code_list(t: Table) -> Iterator[Violation]:
        for c in codes:
            allowed = ", ".join(specs[c].codes)
            yield Violation("code_list", c, t.invalid[c], f"{c} must be one of: {allowed}")

    def date_format(t: Table) -> Iterator[Violation]:
        for c in dates:
            yield Violation("date_format", c, t.invalid[c],
                            f"{c} must be a real date written YYYY-MM-DD (e.g. 2024-03-05)")

    def month_format(t: Table) -> Iterator[Violation]:
        for c in months:
            yield Violation("month_format", c, t.invalid[c],
                            f"{c} must be a month written YYYY-MM (e.g. 2024-03)")

    rules = []
    if ints:
        rules.append(Rule("integer", ints, "An integer column holds something else.", integer))
    if codes:
        rules.append(Rule("code_list", codes, "A coded column holds a value off its code list.",
                          code_list))
    if dates:
        rules.append(Rule("date_format", dates, "A date is not a real YYYY-MM-DD date.",
                          date_format))
    if months:
        rules.append(Rule("month_format", months, "A month is not YYYY-MM.", month_format))
    return rules


def _range_rule(rule_id: str, columns: tuple[str, ...], low: int, high: int | None,
                message: str, description: str) -> Rule:
    def check(t: Table) -> Iterator[Violation]:
        for c in columns:
            if not t.present[c].any():  # nothing filled in, nothing out of range
                continue
            v = t.values[c]
            bad = v < low if high is None else (v < low) | (v > high)
            yield Violation(rule_id, c, _mask(bad), message.format(column=c))

    return Rule(rule_id, columns, description, check)


def _unique_rule(rule_id: str, keys: tuple[str, ...], what: str) -> Rule:
    """Rows whose ``keys`` repeat another row's (all key cells filled in)."""

    def check(t: Table) -> Iterator[Violation]:
        key = pd.DataFrame({k: t.text[k] for k in keys})
        filled = np.logical_and.reduce([t.present[k] for k in keys])
        dup = filled & key.duplicated(keep=False).to_numpy()
        if not dup.any():
            return
        flagged = key[dup].astype(str).agg(" / ".join, axis=1)
        rows = pd.Series(t.rows[dup], index=flagged.index)
        groups = rows.groupby(flagged.values).agg(list)
        messages = []
        for value in flagged:
            where = groups[value]
            listed = ", ".join(str(r) for r in where[:10]) + (" ..." if len(where) > 10 else "")
            messages.append(f"{what} {value!r} appears {len(where)} times (rows {listed}); "
                            f"each must be unique")
        yield Violation(rule_id, keys[0], dup, messages)

    return Rule(rule_id, keys, f"{what} must be unique within the file.", check)


def _known_organisation_rule() -> Rule:
    def check(t: Table) -> Iterator[Violation]:
        if t.known_organisations is None:
            return
        code = t.text["organisation_code"]
        bad = t.present["organisation_code"] & ~_mask(code.isin(t.known_organisations))
        yield Violation("organisation_known", "organisation_code", bad,
                        "organisation_code is not a known organisation: import the organisation "
                        "first or correct the code")

    return Rule("organisation_known", ("organisation_code",),
                "The organisation is not among the known organisations.", check)


def _identifier_messages(t: Table, column: str, mask: np.ndarray, advice: str,
                         ) -> tuple[list[str], list[Any]]:
    """Per flagged row: what was found where (kind, characters and a masked form, never the
    identifier itself) and the cell redacted, for the error report."""
    messages, values = [], []
    for text in t.text[column][mask]:
        found = privacy.find_identifiers(text, today=t.today)
        kinds = []
        for f in found:
            words = privacy.KINDS.get(f.kind, f.kind.replace("_", " "))
            kinds.append(f"{words} {privacy.mask(f)!r} (characters {f.start + 1}-{f.end})")
        what = "; ".join(kinds) or "an identifier"
        messages.append(f"{column} contains what looks like an identifier: {what}; {advice}")
        values.append(privacy.redact(text))
    return messages, values


_ID_ADVICE = ("{column} must be the local pseudonymous reference, never an NHS or CHI number, "
              "name, date of birth, postcode or other identifier")


def _identifier_rules(specs: Mapping[str, ColumnSpec]) -> list[Rule]:
    """``no_identifiers`` in every text and free-text column; ``<column>_not_identifier`` in
    every id or reference column of a review (``review_id``, ``case_id``,
    ``second_review_of``). Both use the one detector (:mod:`sjrlib.privacy`)."""
    scanned = tuple(c for c in _columns_of_kind(specs, "text", "free_text"))
    ids = tuple(c for c in ("review_id", "case_id", "second_review_of") if c in specs)

    def no_identifiers(t: Table) -> Iterator[Violation]:
        for c in scanned:
            if not t.present[c].any():
                continue
            hit = _mask(privacy.contains_identifiers(t.text[c], today=t.today))
            if hit.any():
                messages, values = _identifier_messages(
                    t, c, hit, "free text must not identify the patient, remove it")
                yield Violation("no_identifiers", c, hit, messages, values)

    rules = [Rule("no_identifiers", scanned,
                  "A free-text cell holds a direct identifier (NHS/CHI number, postcode, date "
                  "of birth, email, telephone, hospital number, street address, likely name).",
                  no_identifiers)]
    for column in ids:
        def id_check(t: Table, column: str = column) -> Iterator[Violation]:
            if column not in t.present or not t.present[column].any():
                return
            hit = _mask(privacy.contains_identifiers(t.text[column], today=t.today))
            if hit.any():
                messages, values = _identifier_messages(
                    t, column, hit, _ID_ADVICE.format(column=column))
                yield Violation(f"{column}_not_identifier", column, hit, messages, values)

        rules.append(Rule(f"{column}_not_identifier", (column,),
                          f"{column} is an NHS/CHI number or other identifier.", id_check))
    return rules


def _arrow_text(series: pd.Series) -> pa.ChunkedArray:
    """Any text Series (python or pyarrow ``string``, ``object``) as Arrow ``large_string``."""
    if isinstance(series.array, pd.arrays.ArrowStringArray):
        data = _arrow(series)
    else:
        data = pa.chunked_array([pa.array(series.astype("string").array)])
    return data.cast(pa.large_string()) if data.type != pa.large_string() else data


def _chunks_of(data: pa.ChunkedArray) -> list[pa.Array]:
    return list(data.chunks)


# --- review rules -----------------------------------------------------------------------------

def _target_of_second_review(t: Table) -> tuple[pd.Series, pd.Series, np.ndarray]:
    """Case and stage of the review each ``second_review_of`` names (this file first, then the
    store), and whether it was found. Computed once per table."""
    if "target" not in t.cache:
        # Hash lookups in Arrow (pyarrow.compute.index_in gives the first occurrence, so a
        # repeated review_id resolves to its first row, and the file wins over the store).
        present = pa.array(t.present["review_id"])
        ids = [_arrow_text(t.text["review_id"]).filter(present)]
        cases = [_arrow_text(t.text["case_id"]).filter(present)]
        stages = [_arrow_text(t.values["review_stage"]).filter(present)]
        known = t.known_reviews
        if known is not None and len(known):
            ids.append(_arrow_text(known.index.to_series()))
            cases.append(_arrow_text(known["case_id"]))
            stages.append(_arrow_text(known["review_stage"]))
        value_set = pa.chunked_array([c for part in ids for c in _chunks_of(part)],
                                     type=pa.large_string()).combine_chunks()
        where = pc.index_in(_arrow_text(t.text["second_review_of"]), value_set=value_set)
        found = _bools(pc.is_valid(where))
        case = pa.chunked_array([c for part in cases for c in _chunks_of(part)],
                                type=pa.large_string()).take(where)
        stage = pa.chunked_array([c for part in stages for c in _chunks_of(part)],
                                 type=pa.large_string()).take(where)
        t.cache["target"] = (_from_arrow(case, pd.StringDtype()),
                             _from_arrow(stage, pd.StringDtype()), found)
    return t.cache["target"]


def _stage_rules() -> list[Rule]:
    def stages(t: Table) -> tuple[np.ndarray, np.ndarray]:
        if "stages" not in t.cache:  # six rules ask
            stage = t.values["review_stage"]
            t.cache["stages"] = _mask(stage == "first"), _mask(stage == "second")
        return t.cache["stages"]

    def first_no_target(t: Table) -> Iterator[Violation]:
        first, _ = stages(t)
        yield Violation(
            "first_stage_no_second_review_of", "second_review_of",
            first & t.present["second_review_of"],
            "second_review_of is filled in but review_stage is first: only a second-stage "
            "review names the first-stage review it follows",
        )

    def second_needs_target(t: Table) -> Iterator[Violation]:
        _, second = stages(t)
        yield Violation(
            "second_stage_needs_first_review", "second_review_of",
            second & ~t.present["second_review_of"],
            "review_stage is second but second_review_of is blank: give the review_id of the "
            "first-stage review of the same case",
        )

    def second_needs_avoidability(t: Table) -> Iterator[Violation]:
        _, second = stages(t)
        yield Violation(
            "second_stage_needs_avoidability", "avoidability_score",
            second & ~t.present["avoidability_score"],
            "review_stage is second but avoidability_score is blank: a second-stage review "
            "judges the avoidability of death (1-6)",
        )

    def targets(t: Table) -> tuple[np.ndarray, pd.Series, pd.Series, np.ndarray]:
        _, second = stages(t)
        checked = second & t.present["second_review_of"]
        if not checked.any():
            empty = pd.Series(pd.NA, index=pd.RangeIndex(t.n), dtype="string")
            return checked, empty, empty, checked
        case, stage, found = _target_of_second_review(t)
        return checked, case, stage, found

    def target_known(t: Table) -> Iterator[Violation]:
        checked, _, _, found = targets(t)
        if not checked.any():
            return
        yield Violation(
            "second_review_of_known", "second_review_of", checked & ~found,
            "second_review_of names a review_id that is neither in this file nor in the store",
        )

    def target_first_stage(t: Table) -> Iterator[Violation]:
        checked, _, stage, found = targets(t)
        if not checked.any():
            return
        yield Violation(
            "second_review_of_first_stage", "second_review_of",
            checked & found & ~_mask(stage == "first"),
            "second_review_of must name a first-stage review, but the review it names is not "
            "first-stage",
        )

    def target_same_case(t: Table) -> Iterator[Violation]:
        checked, case, _, found = targets(t)
        if not checked.any():
            return
        yield Violation(
            "second_review_of_same_case", "second_review_of",
            checked & found & _mask(case != t.text["case_id"]),
            "second_review_of names a review of a different case_id: a second-stage review "
            "follows the first-stage review of the same case",
        )

    sro = ("second_review_of",)
    return [
        Rule("first_stage_no_second_review_of", sro,
             "A first-stage review has a second_review_of.", first_no_target),
        Rule("second_stage_needs_first_review", sro,
             "A second-stage review has no second_review_of.", second_needs_target),
        Rule("second_stage_needs_avoidability", ("avoidability_score",),
             "A second-stage review has no avoidability_score.", second_needs_avoidability),
        Rule("second_review_of_known", sro,
             "second_review_of names no review in the file or the store.", target_known),
        Rule("second_review_of_first_stage", sro,
             "second_review_of names a review that is not first-stage.", target_first_stage),
        Rule("second_review_of_same_case", sro,
             "second_review_of names a review of another case.", target_same_case),
    ]


def _review_date_rules() -> list[Rule]:
    def before_death(t: Table) -> Iterator[Violation]:
        month_start = pd.to_datetime(t.values["death_month"] + "-01", format="%Y-%m-%d",
                                     errors="coerce")
        bad = _mask(t.values["review_date"] < month_start)
        yield Violation("review_date_not_before_death", "review_date", bad,
                        "review_date is before the death month (death_month): a review follows "
                        "the death")

    def future(t: Table) -> Iterator[Violation]:
        bad = _mask(t.values["review_date"] > pd.Timestamp(t.today))
        yield Violation("review_date_not_in_future", "review_date", bad,
                        f"review_date is in the future (today is {t.today.isoformat()})")

    return [
        Rule("review_date_not_before_death", ("review_date",),
             "review_date is before the first day of death_month.", before_death),
        Rule("review_date_not_in_future", ("review_date",), "review_date is after today.", future),
    ]


def _review_reasons_rule() -> Rule:
    known = ", ".join(domain.REVIEW_REASONS)

    def check(t: Table) -> Iterator[Violation]:
        unknown = t.reason_unknown
        mask = t.invalid["review_reasons"]
        if unknown is None or not mask.any():
            return
        messages = [f"review_reasons has unknown id(s) {u}; known ids (separate with ;): {known}"
                    for u in unknown[mask]]
        yield Violation("review_reasons_known", "review_reasons", mask, messages)

    return Rule("review_reasons_known", ("review_reasons",),
                "review_reasons holds an id that is not a review reason.", check)


def _postcode_rules() -> list[Rule]:
    def full(t: Table) -> Iterator[Violation]:
        bad = _mask(t.text["postcode_district"].str.fullmatch(FULL_POSTCODE))
        yield Violation("postcode_district_outward_only", "postcode_district", bad,
                        "postcode_district is a full postcode: give only the outward part (the "
                        "postcode district, e.g. LS1); full postcodes identify people and are "
                        "never stored")

    def form(t: Table) -> Iterator[Violation]:
        text = t.text["postcode_district"]
        bad = (t.present["postcode_district"] & ~_mask(text.str.fullmatch(OUTWARD_CODE))
               & ~_mask(text.str.fullmatch(FULL_POSTCODE)))
        yield Violation("postcode_district_format", "postcode_district", bad,
                        "postcode_district must be the outward part of a postcode, e.g. LS1 or "
                        "EC1A")

    return [
        Rule("postcode_district_outward_only", ("postcode_district",),
             "postcode_district is a full postcode.", full),
        Rule("postcode_district_format", ("postcode_district",),
             "postcode_district is not an outward code.", form),
    ]


_CARE_SCORE_MESSAGE = (
    "{column} must be a care score 1-5 (1 = very poor care, 5 = excellent care); scores such as "
    "6 or 10 come from a legacy scale (1-6, 1-10) and must be mapped to 1-5 explicitly (a column "
    "mapping's values:), never guessed"
)


def _comment_rules() -> list[Rule]:
    def required(t: Table) -> Iterator[Violation]:
        for p in PHASES:
            s, c = score_column(p), comment_column(p)
            yield Violation("comment_required_when_scored", c, t.present[s] & ~t.present[c],
                            f"{s} is scored but {c} is empty: a scored phase needs an explicit "
                            f"judgement comment")

    def blank(t: Table) -> Iterator[Violation]:
        for p in PHASES:
            if p == "overall":  # score_overall is required; its blank is reported as such
                continue
            s, c = score_column(p), comment_column(p)
            yield Violation("comment_blank_when_not_scored", c, ~t.present[s] & t.present[c],
                            f"{c} is filled in but {s} is blank: a phase that is not applicable "
                            f"has neither score nor comment (score it or clear the comment)")

    comments = tuple(comment_column(p) for p in PHASES)
    return [
        Rule("comment_required_when_scored", comments,
             "A scored phase has no explicit judgement comment.", required),
        Rule("comment_blank_when_not_scored", comments[:-1],
             "A phase without a score has a comment.", blank),
    ]


def _problem_rules() -> list[Rule]:
    problems = tuple(problem_column(t) for t in PROBLEM_TYPES)

    def any_problem(t: Table) -> np.ndarray:
        return np.logical_or.reduce([t.present[c] for c in problems])

    def no_but_problem(t: Table) -> Iterator[Violation]:
        bad = _mask(t.values["any_problems"] == "no") & any_problem(t)
        if not bad.any():
            return
        filled = pd.DataFrame({c: t.present[c][bad] for c in problems})
        messages = [
            "any_problems is no but " + ", ".join(c for c in problems if row[c])
            + " is filled in: answer yes, or clear the problem column(s)"
            for row in filled.to_dict("records")
        ]
        yield Violation("any_problems_no_but_problem", "any_problems", bad, messages)

    def yes_but_none(t: Table) -> Iterator[Violation]:
        bad = _mask(t.values["any_problems"] == "yes") & ~any_problem(t)
        yield Violation("any_problems_yes_but_none", "any_problems", bad,
                        "any_problems is yes but no problem_<type> column is filled in: record "
                        "each problem type with its harm answer (no / probably / yes)")

    return [
        Rule("any_problems_no_but_problem", ("any_problems",),
             "any_problems is no while a problem is recorded.", no_but_problem),
        Rule("any_problems_yes_but_none", ("any_problems",),
             "any_problems is yes while no problem is recorded.", yes_but_none),
    ]


def _avoidability_scale_rule() -> Rule:
    def check(t: Table) -> Iterator[Violation]:
        bad = t.present["avoidability_score"] & ~t.present["avoidability_scale"]
        yield Violation("avoidability_scale_required", "avoidability_scale", bad,
                        "avoidability_score is given but avoidability_scale is blank: say which "
                        "scale it uses, rcp (1 = definitely avoidable) or prism (6 = definitely "
                        "avoidable)")

    return Rule("avoidability_scale_required", ("avoidability_scale",),
                "An avoidability score without its scale.", check)


def _review_rules() -> tuple[Rule, ...]:
    specs = REVIEW_SPECS
    scores = tuple(score_column(p) for p in PHASES)
    return (
        _required_rule(specs),
        *_type_rules(specs),
        _unique_rule("review_id_unique", ("review_id",), "review_id"),
        *_identifier_rules(specs),
        _known_organisation_rule(),
        *_stage_rules(),
        *_review_date_rules(),
        _review_reasons_rule(),
        _range_rule("age_adult", ("age_at_death",), domain.MIN_AGE, domain.MAX_AGE,
                    f"age_at_death must be {domain.MIN_AGE}-{domain.MAX_AGE}: the store holds "
                    f"adults only", "age_at_death is outside 18-120."),
        *_postcode_rules(),
        _range_rule("hour_range", ("arrival_hour", "death_hour"), 0, 23,
                    "{column} must be an hour 0-23", "An hour outside 0-23."),
        _range_rule("days_to_death_non_negative", ("days_to_death",), 0, None,
                    "days_to_death must be 0 or more", "days_to_death is negative."),
        _range_rule("care_score_range", scores, 1, 5, _CARE_SCORE_MESSAGE,
                    "A care score outside 1-5 (possibly a legacy scale)."),
        *_comment_rules(),
        _range_rule("record_quality_score_range", ("record_quality_score",), 1, 5,
                    "record_quality_score must be 1-5 (1 = very poor, 5 = excellent)",
                    "record_quality_score outside 1-5."),
        *_problem_rules(),
        _range_rule("avoidability_score_range", ("avoidability_score",), 1, 6,
                    "avoidability_score must be 1-6", "avoidability_score outside 1-6."),
        _avoidability_scale_rule(),
    )


# --- deaths and organisations -----------------------------------------------------------------

def _death_rules() -> tuple[Rule, ...]:
    def within(t: Table) -> Iterator[Violation]:
        bad = _mask(t.values["learning_disability_deaths"] > t.values["deaths_in_scope"])
        yield Violation("learning_disability_deaths_within_total", "learning_disability_deaths",
                        bad, "learning_disability_deaths is more than deaths_in_scope: deaths of "
                        "people with a learning disability are part of all deaths in scope")

    return (
        _required_rule(DEATH_SPECS),
        *_type_rules(DEATH_SPECS),
        _known_organisation_rule(),
        _range_rule("count_non_negative", ("deaths_in_scope", "learning_disability_deaths"), 0,
                    None, "{column} must be 0 or more", "A negative count."),
        Rule("learning_disability_deaths_within_total", ("learning_disability_deaths",),
             "learning_disability_deaths exceeds deaths_in_scope.", within),
        _unique_rule("organisation_month_unique", ("organisation_code", "month"),
                     "organisation_code / month"),
    )


def _organisation_rules() -> tuple[Rule, ...]:
    def code_format(t: Table) -> Iterator[Violation]:
        code, nation = t.text["organisation_code"], t.values["nation"]
        ods, gss = _mask(code.str.fullmatch(ODS_CODE)), _mask(code.str.fullmatch(
            GSS_HEALTH_BOARD_CODE))
        england, scotland = _mask(nation == "england"), _mask(nation == "scotland")
        unknown_nation = ~(england | scotland)
        present = t.present["organisation_code"]
        yield Violation("organisation_code_format", "organisation_code",
                        present & england & ~ods,
                        "organisation_code of an English trust must be its 3-character ODS code "
                        "(capital letters and digits, e.g. RXX)")
        yield Violation("organisation_code_format", "organisation_code",
                        present & scotland & ~gss,
                        "organisation_code of a Scottish health board must be its 9-character GSS "
                        "code (S08 and six digits, e.g. S08000015)")
        yield Violation("organisation_code_format", "organisation_code",
                        present & unknown_nation & ~ods & ~gss,
                        "organisation_code must be a 3-character ODS code (England, e.g. RXX) or a "
                        "9-character GSS code (Scotland, e.g. S08000015)")

    def region(t: Table) -> Iterator[Violation]:
        region, nation = t.text["region"], t.values["nation"]
        english = ", ".join(domain.NHS_ENGLAND_REGIONS)
        bad_e = _mask(nation == "england") & t.present["region"] & ~_mask(
            region.isin(domain.NHS_ENGLAND_REGIONS))
        bad_s = _mask(nation == "scotland") & t.present["region"] & _mask(
            region != domain.SCOTLAND_REGION)
        yield Violation("region_known", "region", bad_e,
                        f"region of an English trust must be an NHS England region: {english}")
        yield Violation("region_known", "region", bad_s,
                        f"region of a Scottish health board must be {domain.SCOTLAND_REGION}")

    return (
        _required_rule(ORGANISATION_SPECS),
        *_type_rules(ORGANISATION_SPECS),
        Rule("organisation_code_format", ("organisation_code",),
             "organisation_code is not an ODS (England) or GSS (Scotland) code.", code_format),
        Rule("region_known", ("region",),
             "region is not an NHS England region (England) or Scotland (Scotland).", region),
        _unique_rule("organisation_code_unique", ("organisation_code",), "organisation_code"),
    )


REVIEW_RULES: tuple[Rule, ...] = _review_rules()
DEATH_RULES: tuple[Rule, ...] = _death_rules()
ORGANISATION_RULES: tuple[Rule, ...] = _organisation_rules()
RULES: dict[str, tuple[Rule, ...]] = {
    "reviews": REVIEW_RULES,
    "deaths": DEATH_RULES,
    "organisations": ORGANISATION_RULES,
}
"""Rule lists by kind of file; ``required_column`` (a missing header) is checked in schema."""
