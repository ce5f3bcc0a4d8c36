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
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sjrlib import domain, privacy
from sjrlib.arrow_text import holds_any, may_need_trim
from sjrlib.domain import PROBLEM_TYPES, problem_column
from sjrlib.form.registry import (
    BASE_VERSION,
    FORM_VERSION_COLUMN,
    FORM_VERSIONS,
    NATION,
    Kind,
    Registry,
    When,
    registry,
)

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
    "RuleId",
    "Table",
    "Violation",
    "normalise_known_reviews",
    "prepare",
    "required_columns",
    "review_rules",
    "review_specs",
    "run_rules",
    "uk_today",
]

ODS_CODE = r"[A-Z0-9]{3}"
"""England: an NHS trust's ODS code, 3 characters (e.g. ``RXX``)."""
GSS_HEALTH_BOARD_CODE = r"S08\d{6}"
"""Scotland: an NHS health board's 9-character GSS code (e.g. ``S08000015``)."""
OUTWARD_CODE = r"[A-Z]{1,2}[0-9][A-Z0-9]?"
"""The outward part of a UK postcode (postcode district), e.g. ``LS1``, ``EC1A``."""
FULL_POSTCODE = r"[A-Z]{1,2}[0-9][A-Z0-9]?\s*[0-9][A-Z]{2}"

UK = ZoneInfo("Europe/London")
"""The reviews' time zone: "today" is the date in the UK (GMT, or BST in summer)."""


def _utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def uk_today() -> _dt.date:
    """Today's date in the UK (Europe/London), what "not in the future" is checked against.

    Not the server's date: a server on UTC is still on yesterday for the first hour after
    midnight BST, when a review dated today in the UK was refused as in the future."""
    return _utc_now().astimezone(UK).date()


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
    max_length: int | None = None
    """At most this many characters (the store's column is as wide: ``data_access.models``)."""


_SPEC_KIND = {Kind.ID: "id", Kind.TEXT: "text", Kind.FREE_TEXT: "free_text",
              Kind.ANSWERS: "code", Kind.SCORE: "int", Kind.INTEGER: "int", Kind.DATE: "date",
              Kind.MONTH: "month", Kind.POSTCODE: "postcode", Kind.MULTI_CHOICE: "reasons"}


def review_specs(reg: Registry | None = None,
                 columns: Iterable[str] | None = None) -> dict[str, ColumnSpec]:
    """How each review column is read, from the field registry (default: the project's, the
    columns of the review frame)."""
    reg = reg or registry()
    names = domain.REVIEW_COLUMNS if columns is None else columns
    specs = {}
    for name in names:
        spec = reg.column(name).spec
        codes = spec.answers.ids if spec.kind is Kind.ANSWERS else ()
        specs[name] = ColumnSpec(_SPEC_KIND[spec.kind], spec.required, codes,
                                 spec.column_required, spec.max_length)
    return specs


REVIEW_SPECS: dict[str, ColumnSpec] = review_specs()
"""How each review column is read; ``required=True`` columns must be present and filled in."""

DEATH_SPECS: dict[str, ColumnSpec] = {
    "organisation_code": ColumnSpec("id", True),
    "month": ColumnSpec("month", True),
    "deaths_in_scope": ColumnSpec("int", True),
    "learning_disability_deaths": ColumnSpec("int", True),
}
ORGANISATION_SPECS: dict[str, ColumnSpec] = {
    "organisation_code": ColumnSpec("id", True, max_length=16),
    "name": ColumnSpec("id", True, max_length=200),
    "nation": ColumnSpec("code", True, domain.NATIONS),
    "region": ColumnSpec("id", True, max_length=100),
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
    today: _dt.date = field(default_factory=lambda: uk_today())
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
        # Every absent column of a table shares one blank of each kind (nothing changes a
        # table's columns in place): a file of one form version leaves the other versions'
        # columns absent, and they cost nothing per column.
        dtype = {"int": "Int64", "date": "datetime64[ns]"}.get(spec.kind, table.text_dtype)
        blanks = table.cache.setdefault("blank", {})
        if not blanks:
            blanks["mask"] = np.zeros(n, dtype=bool)
            blanks["text"] = pd.Series(pd.NA, index=pd.RangeIndex(n), dtype=table.text_dtype)
        if str(dtype) not in blanks:
            blanks[str(dtype)] = pd.Series(pd.NA if dtype != "datetime64[ns]" else pd.NaT,
                                           index=pd.RangeIndex(n), dtype=dtype)
        table.raw[column] = table.text[column] = blanks["text"]
        table.present[column] = table.invalid[column] = blanks["mask"]
        table.values[column] = blanks[str(dtype)]
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


def _iso_days(candidate: pa.ChunkedArray) -> np.ndarray:
    """``datetime64[D]`` of text shaped ``YYYY-MM-DD`` (or null); NaT where no such day is
    (2023-02-29, month 13) or the value is null."""
    try:  # the usual column, every day a real one: one cast, which refuses days that are not
        dates = pc.cast(candidate, pa.date32())
    except pa.ArrowInvalid:
        parsed = pc.strptime(candidate, format="%Y-%m-%d", unit="s", error_is_null=True)
        # strptime rolls impossible days over (2023-02-29 -> 03-01): a real date writes back
        # as itself.
        same = pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), pc.cast(candidate, pa.string()))
        dates = pc.if_else(same, pc.cast(parsed, pa.date32()), pa.scalar(None, pa.date32()))
    nat = np.datetime64("NaT", "D").view(np.int64)
    days = pc.fill_null(pc.cast(pc.cast(dates, pa.int32()), pa.int64()), nat)
    return days.to_numpy().view("datetime64[D]")


def _read_arrow_column(table: Table, column: str, spec: ColumnSpec, raw: pd.Series) -> None:
    """:func:`_read_column` for large frames: every parse done once, in C++ on the Arrow data
    (``pyarrow.compute``; regexes in RE2, as pandas' pyarrow string methods use), no
    intermediate pandas columns. Gives exactly what the pandas path gives."""
    dtype = table.text_dtype
    data = _arrow(raw)
    null = pa.scalar(None, data.type)
    # Copies only where a cell changes: a clean column's text and values are the file's own
    # Arrow data, so a million-row import holds each cell once.
    stripped = data
    if may_need_trim(data):  # (most columns: no value begins or ends with a space)
        stripped = pc.utf8_trim_whitespace(data)
        if _total_bytes(stripped) == _total_bytes(data):
            stripped = data  # nothing was trimmed
    # A value has characters exactly when it has bytes, and bytes are counted without decoding.
    present_arrow = pc.greater(pc.binary_length(stripped), 0)
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
        if holds_any(text, "\r"):
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
        days = _iso_days(candidate)
        good = ~np.isnat(days) & (days >= _NS_FIRST) & (days <= _NS_LAST)
        days = np.where(good, days, np.datetime64("NaT", "D"))
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


KNOWN_REVIEW_COLUMNS = ("case_id", "review_stage", "organisation_code", "reviewer_id",
                        "second_review_of")
"""What the rules read of a stored review (:func:`normalise_known_reviews`): the first two
always, the others when given (the store gives them all, ``data_access.loading``)."""


def normalise_known_reviews(known: Any) -> pd.DataFrame | None:
    """Reviews already in the store, as a frame indexed by ``review_id`` with ``case_id`` and
    ``review_stage``, and where given ``organisation_code``, ``reviewer_id`` and
    ``second_review_of`` (:data:`KNOWN_REVIEW_COLUMNS`).

    Accepts ``None``, a mapping ``{review_id: (case_id, review_stage, ...)}`` (the values in
    that order), or a frame with columns ``review_id`` (or an index of review ids),
    ``case_id``, ``review_stage`` and any of the others. Without ``organisation_code`` and
    ``reviewer_id`` a second-stage review's organisation and reviewer are not compared with
    its first-stage review's; without ``second_review_of`` a changed review is not compared
    with the stored second-stage reviews that follow it.
    """
    if known is None:
        return None
    if isinstance(known, pd.DataFrame):
        frame = known if "review_id" not in known.columns else known.set_index("review_id")
        frame = frame[[c for c in KNOWN_REVIEW_COLUMNS if c in frame.columns]]
    else:
        items = dict(known)
        width = min((len(v) for v in items.values()), default=2)
        frame = pd.DataFrame(
            [tuple(v)[:width] for v in items.values()],
            index=pd.Index(list(items), dtype="string"),
            columns=list(KNOWN_REVIEW_COLUMNS[:width]),
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
        today=today or uk_today(),
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
    """One validation rule: ``check(table)`` yields a :class:`Violation` per column it flags.

    ``columns``: the columns it reports; ``reads``: the columns it reads (default
    ``columns``); ``draft_may_break``: a *completeness* rule a draft may break (a clinician
    saves a half-done review, :mod:`sjrlib.schema`); ``compares_rows``: it compares rows with
    each other or with the store, so a file read in blocks runs it once on all blocks' ``reads``.
    """

    id: str
    columns: tuple[str, ...]
    description: str
    check: Callable[[Table], Iterator[Violation]]
    draft_may_break: bool = False
    compares_rows: bool = False
    reads: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.reads:
            object.__setattr__(self, "reads", self.columns)


class RuleId(StrEnum):
    """The ids of the rules written out in this module; rules declared in the field registry
    (consistency conditions, ranges, pairings) are keyed by the id their declaration gives."""

    REQUIRED = "required"
    INTEGER = "integer"
    CODE_LIST = "code_list"
    DATE_FORMAT = "date_format"
    MONTH_FORMAT = "month_format"
    REVIEW_ID_UNIQUE = "review_id_unique"
    NO_IDENTIFIERS = "no_identifiers"
    ORGANISATION_KNOWN = "organisation_known"
    FIRST_STAGE_NO_SECOND_REVIEW_OF = "first_stage_no_second_review_of"
    SECOND_STAGE_NEEDS_FIRST_REVIEW = "second_stage_needs_first_review"
    SECOND_REVIEW_OF_KNOWN = "second_review_of_known"
    SECOND_REVIEW_OF_FIRST_STAGE = "second_review_of_first_stage"
    SECOND_REVIEW_OF_SAME_CASE = "second_review_of_same_case"
    SECOND_REVIEW_OF_SAME_ORGANISATION = "second_review_of_same_organisation"
    SECOND_REVIEW_BY_ANOTHER_REVIEWER = "second_review_by_another_reviewer"
    FOLLOWED_BY_SECOND_STAGE = "followed_by_second_stage"
    REVIEW_DATE_NOT_BEFORE_DEATH = "review_date_not_before_death"
    REVIEW_DATE_NOT_IN_FUTURE = "review_date_not_in_future"
    DEATH_WEEKDAY_AFTER_DAYS_TO_DEATH = "death_weekday_after_days_to_death"
    REVIEW_REASONS_KNOWN = "review_reasons_known"
    POSTCODE_DISTRICT_OUTWARD_ONLY = "postcode_district_outward_only"
    POSTCODE_DISTRICT_FORMAT = "postcode_district_format"
    ANY_PROBLEMS_NO_BUT_PROBLEM = "any_problems_no_but_problem"
    ANY_PROBLEMS_YES_BUT_NONE = "any_problems_yes_but_none"
    AVOIDABILITY_SCALE_REQUIRED = "avoidability_scale_required"
    NOT_ASKED_IN_VERSION = "not_asked_in_version"
    MAX_LENGTH = "max_length"
    COUNT_NON_NEGATIVE = "count_non_negative"
    LEARNING_DISABILITY_DEATHS_WITHIN_TOTAL = "learning_disability_deaths_within_total"
    ORGANISATION_MONTH_UNIQUE = "organisation_month_unique"
    MONTH_NOT_IN_FUTURE = "month_not_in_future"
    ORGANISATION_CODE_FORMAT = "organisation_code_format"
    REGION_KNOWN = "region_known"
    ORGANISATION_CODE_UNIQUE = "organisation_code_unique"


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
                yield Violation(RuleId.REQUIRED, c, ~t.present[c], f"{c} is required but is blank")

    return Rule(RuleId.REQUIRED, columns, "A required cell is blank.", check,
                draft_may_break=True)


_LONG_INTEGER = re.compile(r"[+-]?\d+(?:\.0*)?")
"""A whole number of any length: one of more than the 9 digits read (:data:`_INTEGER`) is out
of range, not "not a whole number"."""


def _integer_messages(column: str, cells: Sequence[Any],
                      bounds: tuple[int, int | None] | None) -> list[str]:
    """Per flagged cell: out of range (with the allowed range) for a whole number too large
    to read, otherwise not a whole number. Runs only on flagged cells."""
    if bounds is None:
        allowed = f"at most {_INT_LIMIT:,}"
    else:
        low, high = bounds
        allowed = f"{low}-{high}" if high is not None else f"{low} to {_INT_LIMIT:,}"
    out = []
    for cell in cells:
        text = "" if cell is None else str(cell).strip()
        if _LONG_INTEGER.fullmatch(text):
            out.append(f"{column} {text} is a whole number out of range: it must be {allowed}")
        else:
            out.append(f"{column} must be a whole number")
    return out


_INT_LIMIT = 999_999_999
"""The largest whole number a cell is read as (:data:`_INTEGER`: nine digits)."""


def _type_rules(specs: Mapping[str, ColumnSpec],
                bounds: Mapping[str, tuple[int, int | None]] | None = None) -> list[Rule]:
    ints = _columns_of_kind(specs, "int")
    codes = _columns_of_kind(specs, "code")
    dates = _columns_of_kind(specs, "date")
    months = _columns_of_kind(specs, "month")
    bounds = bounds or {}

    def integer(t: Table) -> Iterator[Violation]:
        for c in ints:
            bad = t.invalid[c]
            if not bad.any():
                yield Violation(RuleId.INTEGER, c, bad, f"{c} must be a whole number")
                continue
            cells = t.raw[c].to_numpy(dtype=object, na_value=None)[np.flatnonzero(bad)]
            yield Violation(RuleId.INTEGER, c, bad,
                            _integer_messages(c, list(cells), bounds.get(c)))

    def code_list(t: Table) -> Iterator[Violation]:
        for c in codes:
            allowed = ", ".join(specs[c].codes)
            yield Violation(RuleId.CODE_LIST, c, t.invalid[c],
                            f"{c} must be one of: {allowed} (a code of your own or an old one: "
                            f"map it to one of these under values: in a column mapping, "
                            f"sjr import --mapping)")

    def date_format(t: Table) -> Iterator[Violation]:
        for c in dates:
            yield Violation(RuleId.DATE_FORMAT, c, t.invalid[c],
                            f"{c} must be a real date written YYYY-MM-DD (e.g. 2024-03-05)")

    def month_format(t: Table) -> Iterator[Violation]:
        for c in months:
            yield Violation(RuleId.MONTH_FORMAT, c, t.invalid[c],
                            f"{c} must be a month written YYYY-MM (e.g. 2024-03)")

    rules = []
    if ints:
        rules.append(Rule(RuleId.INTEGER, ints, "An integer column holds something else.",
                          integer))
    if codes:
        rules.append(Rule(RuleId.CODE_LIST, codes,
                          "A coded column holds a value off its code list.", code_list))
    if dates:
        rules.append(Rule(RuleId.DATE_FORMAT, dates, "A date is not a real YYYY-MM-DD date.",
                          date_format))
    if months:
        rules.append(Rule(RuleId.MONTH_FORMAT, months, "A month is not YYYY-MM.", month_format))
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

    return Rule(rule_id, keys, f"{what} must be unique within the file.", check,
                compares_rows=True)


def _near_key(text: str) -> str:
    return "".join(ch for ch in str(text).casefold() if ch.isalnum())


def near_misses(values: Iterable[object], known: Iterable[object]) -> list[str | None]:
    """For each of ``values``, the one ``known`` name it differs from only in case, spaces,
    hyphens or underscores (``'xb8'`` → ``'XB8'``, ``'Review ID'`` → ``'review_id'``), else
    None: a hint beside the refusal, never a silent correction.

    >>> near_misses(["xb8", "Review ID", "XZ9"], ["XB8", "review_id"])
    ['XB8', 'review_id', None]
    """
    by_key: dict[str, set[str]] = {}
    for name in known:
        by_key.setdefault(_near_key(name), set()).add(str(name))
    found = []
    for value in values:
        names = by_key.get(_near_key(value), set()) - {str(value)}
        found.append(next(iter(names)) if len(names) == 1 else None)
    return found


def _known_organisation_rule() -> Rule:
    def check(t: Table) -> Iterator[Violation]:
        if t.known_organisations is None:
            return
        code = t.text["organisation_code"]
        bad = t.present["organisation_code"] & ~_mask(code.isin(t.known_organisations))
        if not bad.any():
            return
        message = ("organisation_code is not a known organisation: import the organisation "
                   "first or correct the code")
        near = near_misses(code[bad], t.known_organisations)
        yield Violation(RuleId.ORGANISATION_KNOWN, "organisation_code", bad,
                        [message + (f" (did you mean {n!r}?)" if n else "") for n in near])

    return Rule(RuleId.ORGANISATION_KNOWN, ("organisation_code",),
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


def _identifier_rules(reg: Registry, specs: Mapping[str, ColumnSpec]) -> list[Rule]:
    """``<column>_not_identifier`` in every pseudonymous id column of a review (``review_id``,
    ``case_id``, ``second_review_of``); ``no_identifiers`` in every other column the registry
    screens (free text, references, the reviewer's reference). Both use the one detector
    (:mod:`sjrlib.privacy`)."""
    screened = [c for c in reg.screened_columns() if c in specs]
    ids = tuple(c for c in screened if reg.column(c).kind is Kind.ID)
    scanned = tuple(c for c in screened if c not in ids)

    def no_identifiers(t: Table) -> Iterator[Violation]:
        for c in scanned:
            if not t.present[c].any():
                continue
            hit = _mask(privacy.contains_identifiers(t.text[c], today=t.today))
            if hit.any():
                messages, values = _identifier_messages(
                    t, c, hit, "free text must not identify the patient, remove it")
                yield Violation(RuleId.NO_IDENTIFIERS, c, hit, messages, values)

    rules = [Rule(RuleId.NO_IDENTIFIERS, scanned,
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

_TARGET_COLUMNS = ("case_id", "review_stage", "organisation_code", "reviewer_id")
"""What a second-stage review is compared with, of the review it names."""


def _target_of_second_review(t: Table) -> tuple[dict[str, pd.Series], np.ndarray]:
    """Case, stage, organisation and reviewer of the review each ``second_review_of`` names
    (this file first, then the store), and whether it was found; a column the store did not
    give is blank for the stored reviews. Computed once per table."""
    if "target" not in t.cache:
        # Hash lookups in Arrow (pyarrow.compute.index_in gives the first occurrence, so a
        # repeated review_id resolves to its first row, and the file wins over the store).
        present = pa.array(t.present["review_id"])
        file_columns = {"case_id": t.text["case_id"], "review_stage": t.values["review_stage"],
                        "organisation_code": t.text["organisation_code"],
                        "reviewer_id": t.text["reviewer_id"]}
        ids = [_arrow_text(t.text["review_id"]).filter(present)]
        parts = {c: [_arrow_text(file_columns[c]).filter(present)] for c in _TARGET_COLUMNS}
        known = t.known_reviews
        if known is not None and len(known):
            ids.append(_arrow_text(known.index.to_series()))
            for c in _TARGET_COLUMNS:
                parts[c].append(_arrow_text(known[c]) if c in known.columns else
                                pa.chunked_array([pa.nulls(len(known), pa.large_string())]))
        value_set = pa.chunked_array([c for part in ids for c in _chunks_of(part)],
                                     type=pa.large_string()).combine_chunks()
        where = pc.index_in(_arrow_text(t.text["second_review_of"]), value_set=value_set)
        found = _bools(pc.is_valid(where))
        target = {c: _from_arrow(pa.chunked_array([k for part in parts[c]
                                                   for k in _chunks_of(part)],
                                                  type=pa.large_string()).take(where),
                                 pd.StringDtype())
                  for c in _TARGET_COLUMNS}
        t.cache["target"] = (target, found)
    return t.cache["target"]


def _followers(t: Table) -> pd.DataFrame:
    """The stored second-stage reviews that follow a review of this file and are not in it
    themselves: ``row`` (the position of the review they follow), ``review_id``, ``case_id``,
    ``organisation_code``, ``reviewer_id``. Empty when the store gave no ``second_review_of``.
    """
    known = t.known_reviews
    columns = ["row", "review_id", "case_id", "organisation_code", "reviewer_id"]
    if known is None or not len(known) or "second_review_of" not in known.columns:
        return pd.DataFrame(columns=columns)
    follows = known["second_review_of"]
    stored = known[_mask(follows.notna()) & _mask(known["review_stage"] == "second")]
    if not len(stored):
        return pd.DataFrame(columns=columns)
    file_ids = t.text["review_id"].where(pd.Series(t.present["review_id"])).astype(object)
    # a repeated or blank review_id is review_id_unique's (or required's) to report: look up
    # each id's first row, as _target_of_second_review does (an index of repeated ids cannot
    # be looked up at all: the import stopped on pandas' InvalidIndexError)
    first = (file_ids.notna() & ~file_ids.duplicated()).to_numpy()
    hit = pd.Index(file_ids[first]).get_indexer(stored["second_review_of"].astype(object))
    position = np.full(len(hit), -1)
    position[hit >= 0] = np.flatnonzero(first)[hit[hit >= 0]]
    here = (position >= 0) & ~_mask(stored.index.to_series().isin(file_ids.dropna()))
    out = stored[here]
    return pd.DataFrame({
        "row": position[here], "review_id": out.index.astype(object),
        **{c: (out[c].astype(object) if c in out.columns else None)
           for c in ("case_id", "organisation_code", "reviewer_id")}}).reset_index(drop=True)


def _stage_rules() -> list[Rule]:
    def stages(t: Table) -> tuple[np.ndarray, np.ndarray]:
        if "stages" not in t.cache:  # six rules ask
            stage = t.values["review_stage"]
            t.cache["stages"] = _mask(stage == "first"), _mask(stage == "second")
        return t.cache["stages"]

    def first_no_target(t: Table) -> Iterator[Violation]:
        first, _ = stages(t)
        yield Violation(
            RuleId.FIRST_STAGE_NO_SECOND_REVIEW_OF, "second_review_of",
            first & t.present["second_review_of"],
            "second_review_of is filled in but review_stage is first: only a second-stage "
            "review names the first-stage review it follows",
        )

    def second_needs_target(t: Table) -> Iterator[Violation]:
        _, second = stages(t)
        yield Violation(
            RuleId.SECOND_STAGE_NEEDS_FIRST_REVIEW, "second_review_of",
            second & ~t.present["second_review_of"],
            "review_stage is second but second_review_of is blank: give the review_id of the "
            "first-stage review of the same case",
        )

    def targets(t: Table) -> tuple[np.ndarray, dict[str, pd.Series], np.ndarray]:
        _, second = stages(t)
        checked = second & t.present["second_review_of"]
        if not checked.any():
            return checked, {}, checked
        target, found = _target_of_second_review(t)
        return checked, target, found

    def target_known(t: Table) -> Iterator[Violation]:
        checked, _, found = targets(t)
        if not checked.any():
            return
        yield Violation(
            RuleId.SECOND_REVIEW_OF_KNOWN, "second_review_of", checked & ~found,
            "second_review_of names a review_id that is neither in this file nor in the store",
        )

    def target_first_stage(t: Table) -> Iterator[Violation]:
        checked, target, found = targets(t)
        if not checked.any():
            return
        yield Violation(
            RuleId.SECOND_REVIEW_OF_FIRST_STAGE, "second_review_of",
            checked & found & ~_mask(target["review_stage"] == "first"),
            "second_review_of must name a first-stage review, but the review it names is not "
            "first-stage",
        )

    def target_same_case(t: Table) -> Iterator[Violation]:
        checked, target, found = targets(t)
        if not checked.any():
            return
        yield Violation(
            RuleId.SECOND_REVIEW_OF_SAME_CASE, "second_review_of",
            checked & found & _mask(target["case_id"] != t.text["case_id"]),
            "second_review_of names a review of a different case_id: a second-stage review "
            "follows the first-stage review of the same case",
        )

    def target_same_organisation(t: Table) -> Iterator[Violation]:
        checked, target, found = targets(t)
        if not checked.any():
            return
        yield Violation(
            RuleId.SECOND_REVIEW_OF_SAME_ORGANISATION, "second_review_of",
            checked & found & _mask(target["review_stage"] == "first")
            & _mask(target["organisation_code"] != t.text["organisation_code"]),
            "second_review_of names a review of another organisation: a second-stage review "
            "is made at the organisation whose first-stage review it follows",
        )

    def target_other_reviewer(t: Table) -> Iterator[Violation]:
        checked, target, found = targets(t)
        if not checked.any():
            return
        yield Violation(
            RuleId.SECOND_REVIEW_BY_ANOTHER_REVIEWER, "reviewer_id",
            checked & found & _mask(target["review_stage"] == "first")
            & _mask(target["reviewer_id"] == t.text["reviewer_id"]),
            "reviewer_id is the reviewer of the first-stage review this second-stage review "
            "follows: a second-stage review is made by another reviewer",
        )

    def followed(t: Table) -> Iterator[Violation]:
        follows = _followers(t)
        if not len(follows):
            return
        rows = follows["row"].to_numpy()
        stage = t.values["review_stage"].to_numpy(dtype=object, na_value=None)[rows]
        checks = {
            "review_stage": (stage != "first", "its review_stage must stay first"),
            "case_id": (_differ(t.text["case_id"], rows, follows["case_id"]),
                        "its case_id must stay {case_id}, the second-stage review's case"),
            "organisation_code": (
                _differ(t.text["organisation_code"], rows, follows["organisation_code"]),
                "its organisation_code must stay {organisation_code}"),
            "reviewer_id": (
                ~_differ(t.text["reviewer_id"], rows, follows["reviewer_id"])
                & follows["reviewer_id"].notna().to_numpy(),
                "its reviewer_id cannot be the second-stage review's reviewer"),
        }
        for column, (bad, says) in checks.items():
            bad = np.asarray(bad, dtype=bool)
            if not bad.any():
                continue
            mask = np.zeros(t.n, dtype=bool)
            messages: dict[int, str] = {}
            for i in np.flatnonzero(bad):
                row = int(rows[i])
                mask[row] = True
                messages.setdefault(row, (
                    f"the stored second-stage review {follows['review_id'].iat[i]} follows "
                    f"this review, so {says.format(**follows.iloc[i].to_dict())} (change "
                    "that second-stage review in the same file, or leave this one as stored)"))
            yield Violation(RuleId.FOLLOWED_BY_SECOND_STAGE, column, mask,
                            [messages[r] for r in sorted(messages)])

    sro = ("second_review_of",)
    links = ("review_id", "case_id", "review_stage", "second_review_of", "organisation_code",
             "reviewer_id")
    return [
        Rule(RuleId.FIRST_STAGE_NO_SECOND_REVIEW_OF, sro,
             "A first-stage review has a second_review_of.", first_no_target,
             reads=("review_stage", "second_review_of")),
        Rule(RuleId.SECOND_STAGE_NEEDS_FIRST_REVIEW, sro,
             "A second-stage review has no second_review_of.", second_needs_target,
             reads=("review_stage", "second_review_of")),
        Rule(RuleId.SECOND_REVIEW_OF_KNOWN, sro,
             "second_review_of names no review in the file or the store.", target_known,
             compares_rows=True, reads=links),
        Rule(RuleId.SECOND_REVIEW_OF_FIRST_STAGE, sro,
             "second_review_of names a review that is not first-stage.", target_first_stage,
             compares_rows=True, reads=links),
        Rule(RuleId.SECOND_REVIEW_OF_SAME_CASE, sro,
             "second_review_of names a review of another case.", target_same_case,
             compares_rows=True, reads=links),
        Rule(RuleId.SECOND_REVIEW_OF_SAME_ORGANISATION, sro,
             "second_review_of names a review of another organisation.",
             target_same_organisation, compares_rows=True, reads=links),
        Rule(RuleId.SECOND_REVIEW_BY_ANOTHER_REVIEWER, ("reviewer_id",),
             "A second-stage review by the reviewer of the first-stage review it follows.",
             target_other_reviewer, compares_rows=True, reads=links),
        Rule(RuleId.FOLLOWED_BY_SECOND_STAGE,
             ("review_stage", "case_id", "organisation_code", "reviewer_id"),
             "A review changed so that a stored second-stage review no longer follows it "
             "(another stage, case or organisation, or the second-stage review's reviewer).",
             followed, compares_rows=True, reads=links),
    ]


def _differ(column: pd.Series, rows: np.ndarray, stored: pd.Series) -> np.ndarray:
    """Whether ``column`` at ``rows`` differs from ``stored`` (blank on both sides is equal)."""
    mine = column.to_numpy(dtype=object, na_value=None)[rows]
    theirs = stored.to_numpy(dtype=object, na_value=None)
    return np.array([a != b for a, b in zip(mine, theirs, strict=True)], dtype=bool)


def _review_date_rules() -> list[Rule]:
    def before_death(t: Table) -> Iterator[Violation]:
        month_start = pd.to_datetime(t.values["death_month"] + "-01", format="%Y-%m-%d",
                                     errors="coerce")
        bad = _mask(t.values["review_date"] < month_start)
        yield Violation(RuleId.REVIEW_DATE_NOT_BEFORE_DEATH, "review_date", bad,
                        "review_date is before the death month (death_month): a review follows "
                        "the death")

    def future(t: Table) -> Iterator[Violation]:
        bad = _mask(t.values["review_date"] > pd.Timestamp(t.today))
        yield Violation(RuleId.REVIEW_DATE_NOT_IN_FUTURE, "review_date", bad,
                        f"review_date is in the future (today is {t.today.isoformat()})")

    return [
        Rule(RuleId.REVIEW_DATE_NOT_BEFORE_DEATH, ("review_date",),
             "review_date is before the first day of death_month.", before_death),
        Rule(RuleId.REVIEW_DATE_NOT_IN_FUTURE, ("review_date",), "review_date is after today.",
             future),
    ]


_WEEKDAY_COLUMNS = ("admission_weekday", "death_weekday", "days_to_death")


def _accepted_death_days(admitted: np.ndarray, span: np.ndarray, arrival: np.ndarray,
                         death: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The days of death (0 = ``mon``) the weekday rule accepts, as two arrays: admission
    plus the days (mod 7), and the day after it, or -1 where that is not accepted. Inputs are
    -1 where blank; where the day of admission or the count is blank, both are -1.

    The exchange format says "days from arrival to death" without saying how they are
    counted. Counted in calendar days (as the generator does), the day of death is exactly
    admission plus the days; counted in whole 24-hour periods, a death after midnight at an
    hour no later than arrival's falls on the next day too. So the next day is accepted as
    well, unless both hours are given and death's hour is later than arrival's (then the two
    counts agree)."""
    known = (admitted >= 0) & (span >= 0)
    expected = np.where(known, (admitted + np.where(known, span, 0)) % 7, -1)
    later = (arrival >= 0) & (death >= 0) & (death > arrival)
    return expected, np.where(known & ~later, (expected + 1) % 7, -1)


def accepted_death_weekdays(admission_weekday: str, days_to_death: int,
                            arrival_hour: int | None = None,
                            death_hour: int | None = None) -> tuple[str, ...]:
    """The days of death (``mon`` ... ``sun``) the weekday rule accepts for one review: admission
    plus the days, then the next day where the days may be whole 24-hour periods (see
    :func:`_accepted_death_days`). The review form words its message from these."""
    days = domain.WEEKDAYS

    def one(value: int | None) -> np.ndarray:
        return np.array([-1 if value is None else value], dtype=np.int64)

    expected, next_day = _accepted_death_days(
        one(days.index(admission_weekday)), one(days_to_death), one(arrival_hour),
        one(death_hour))
    return tuple(days[int(d)] for d in (expected[0], next_day[0]) if d >= 0)


def _weekday_rule() -> Rule:
    """The day of death is the day of admission plus the days from arrival to death (mod 7),
    or the day after where the days may be whole 24-hour periods (:func:`_accepted_death_days`),
    where all three are given: ``mon`` and 0 days cannot end on a ``fri``."""
    days = domain.WEEKDAYS  # mon ... sun, in the week's order

    def number(values: pd.Series) -> np.ndarray:
        # -1 for a blank cell or one its code_list rule refused (<NA> in values)
        return pd.Categorical(values.astype(object), categories=days).codes.astype(np.int64)

    def hour(t: Table, column: str) -> np.ndarray:
        # -1 where the hour is blank, refused or not in the file
        if column not in t.values:
            return np.full(t.n, -1, dtype=np.int64)
        return t.values[column].to_numpy(dtype=np.int64, na_value=-1)

    def check(t: Table) -> Iterator[Violation]:
        if any(c not in t.values for c in _WEEKDAY_COLUMNS):
            return
        admitted = number(t.values["admission_weekday"])
        died = number(t.values["death_weekday"])
        # a negative count is the range rule's to report: one bad cell, one error
        span = t.values["days_to_death"].to_numpy(dtype=np.int64, na_value=-1)
        expected, next_day = _accepted_death_days(admitted, span, hour(t, "arrival_hour"),
                                                  hour(t, "death_hour"))
        bad = (expected >= 0) & (died >= 0) & (expected != died) & (next_day != died)
        if not bad.any():
            return
        messages = [
            f"death_weekday is {days[d]}, but admission_weekday {days[a]} plus days_to_death "
            f"{n} is a {days[e]}"
            + (f" (or a {days[x]}, counted in whole 24-hour periods across midnight)"
               if x >= 0 else "")
            + ": the day of death is the day of admission plus the days from arrival to death; "
            "correct whichever of the three is wrong"
            for a, d, n, e, x in zip(admitted[bad], died[bad], span[bad], expected[bad],
                                     next_day[bad], strict=True)]
        yield Violation(RuleId.DEATH_WEEKDAY_AFTER_DAYS_TO_DEATH, "death_weekday", bad, messages)

    return Rule(RuleId.DEATH_WEEKDAY_AFTER_DAYS_TO_DEATH, ("death_weekday",),
                "death_weekday is not admission_weekday plus days_to_death (mod 7), nor one "
                "day more where the days may be whole 24-hour periods.", check,
                reads=(*_WEEKDAY_COLUMNS, "arrival_hour", "death_hour"))


def _review_reasons_rule() -> Rule:
    known = ", ".join(domain.REVIEW_REASONS)

    def check(t: Table) -> Iterator[Violation]:
        unknown = t.reason_unknown
        mask = t.invalid["review_reasons"]
        if unknown is None or not mask.any():
            return
        messages = [f"review_reasons has unknown id(s) {u}; known ids (separate with ;): {known}"
                    for u in unknown[mask]]
        yield Violation(RuleId.REVIEW_REASONS_KNOWN, "review_reasons", mask, messages)

    return Rule(RuleId.REVIEW_REASONS_KNOWN, ("review_reasons",),
                "review_reasons holds an id that is not a review reason.", check)


def _full_postcodes(t: Table) -> np.ndarray:
    """Which postcode_district values are a full postcode (:data:`FULL_POSTCODE` in full).

    Python's ``re`` does the matching (its ``\\s`` is any Unicode whitespace, RE2's is not), so
    only values of 5 characters or more go to it: the shortest full postcode, ``A99AA``, has 5.
    A column of outward codes then costs one length pass.
    """
    if "full_postcode" not in t.cache:
        text = t.text["postcode_district"]
        full = np.zeros(t.n, dtype=bool)
        long = _mask(text.str.len() >= 5)
        if long.any():
            full[long] = _mask(text[long].str.fullmatch(FULL_POSTCODE))
        t.cache["full_postcode"] = full
    return t.cache["full_postcode"]


def _postcode_rules() -> list[Rule]:
    def full(t: Table) -> Iterator[Violation]:
        bad = _full_postcodes(t)
        yield Violation(RuleId.POSTCODE_DISTRICT_OUTWARD_ONLY, "postcode_district", bad,
                        "postcode_district is a full postcode: give only the outward part (the "
                        "postcode district, e.g. LS1); full postcodes identify people and are "
                        "never stored")

    def form(t: Table) -> Iterator[Violation]:
        text = t.text["postcode_district"]
        bad = (t.present["postcode_district"] & ~_mask(text.str.fullmatch(OUTWARD_CODE))
               & ~_full_postcodes(t))
        yield Violation(RuleId.POSTCODE_DISTRICT_FORMAT, "postcode_district", bad,
                        "postcode_district must be the outward part of a postcode, e.g. LS1 or "
                        "EC1A")

    return [
        Rule(RuleId.POSTCODE_DISTRICT_OUTWARD_ONLY, ("postcode_district",),
             "postcode_district is a full postcode.", full),
        Rule(RuleId.POSTCODE_DISTRICT_FORMAT, ("postcode_district",),
             "postcode_district is not an outward code.", form),
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
        yield Violation(RuleId.ANY_PROBLEMS_NO_BUT_PROBLEM, "any_problems", bad, messages)

    def yes_but_none(t: Table) -> Iterator[Violation]:
        bad = _mask(t.values["any_problems"] == "yes") & ~any_problem(t)
        yield Violation(RuleId.ANY_PROBLEMS_YES_BUT_NONE, "any_problems", bad,
                        "any_problems is yes but no problem_<type> column is filled in: record "
                        "each problem type with its harm answer (no / probably / yes)")

    return [
        Rule(RuleId.ANY_PROBLEMS_NO_BUT_PROBLEM, ("any_problems",),
             "any_problems is no while a problem is recorded.", no_but_problem,
             reads=("any_problems", *problems)),
        Rule(RuleId.ANY_PROBLEMS_YES_BUT_NONE, ("any_problems",),
             "any_problems is yes while no problem is recorded.", yes_but_none,
             draft_may_break=True, reads=("any_problems", *problems)),
    ]


def _avoidability_scale_rule() -> Rule:
    def check(t: Table) -> Iterator[Violation]:
        bad = t.present["avoidability_score"] & ~t.present["avoidability_scale"]
        yield Violation(RuleId.AVOIDABILITY_SCALE_REQUIRED, "avoidability_scale", bad,
                        "avoidability_score is given but avoidability_scale is blank: say which "
                        "scale it uses, rcp (1 = definitely avoidable) or prism (6 = definitely "
                        "avoidable)")

    return Rule(RuleId.AVOIDABILITY_SCALE_REQUIRED, ("avoidability_scale",),
                "An avoidability score without its scale.", check)


def review_rules(reg: Registry | None = None,
                 specs: Mapping[str, ColumnSpec] | None = None) -> tuple[Rule, ...]:
    """The review rules: those written out here, and those the field registry declares
    (ranges, required-when, child-row pairings, only-when conditions, answers by nation,
    lengths, the form version), for the columns in ``specs`` (default: the project's registry
    and :data:`REVIEW_SPECS`)."""
    reg = reg or registry()
    specs = REVIEW_SPECS if specs is None else specs
    return (
        _required_rule(specs),
        *_type_rules(specs, _registry_bounds(reg, specs)),
        _unique_rule(RuleId.REVIEW_ID_UNIQUE, ("review_id",), "review_id"),
        *_identifier_rules(reg, specs),
        _known_organisation_rule(),
        *_stage_rules(),
        *_review_date_rules(),
        _weekday_rule(),
        _review_reasons_rule(),
        *_postcode_rules(),
        *_range_rules(reg, specs),
        *_required_when_rules(reg, specs),
        *_pairing_rules(reg, specs),
        *_problem_rules(),
        _avoidability_scale_rule(),
        *_condition_rules(reg, specs),
        *_max_length_rules(specs),
        *_version_rules(reg, specs),
    )


# --- rules declared in the field registry -----------------------------------------------------

def _registry_bounds(reg: Registry, specs: Mapping[str, ColumnSpec]
                     ) -> dict[str, tuple[int, int | None]]:
    """``(low, high)`` of every integer and score column the registry bounds."""
    out = {}
    for name in specs:
        try:
            spec = reg.column(name).spec
        except KeyError:
            continue
        if spec.bounds is not None:
            out[name] = spec.bounds
    return out


def _range_rules(reg: Registry, specs: Mapping[str, ColumnSpec]) -> list[Rule]:
    """Integers and scores outside their range, one rule per declared ``range_rule`` id."""
    grouped: dict[str, list[str]] = {}
    for name in specs:
        spec = reg.column(name).spec
        if spec.bounds is not None:
            grouped.setdefault(spec.range_rule or f"{spec.id}_range", []).append(name)
    rules = []
    for rule_id, columns in grouped.items():
        spec = reg.column(columns[0]).spec
        low, high = spec.bounds
        default = "{column} must be {low}-{high}" if high is not None else \
            "{column} must be {low} or more"
        message = (spec.range_message or default).replace("{low}", str(low)).replace(
            "{high}", str(high))
        what = f"{low}-{high}" if high is not None else f"{low} or more"
        rules.append(_range_rule(rule_id, tuple(columns), low, high, message,
                                 f"{', '.join(columns)} outside {what}."))
    return rules


def _required_when_rules(reg: Registry, specs: Mapping[str, ColumnSpec]) -> list[Rule]:
    rules = []
    for name in specs:
        when = reg.column(name).spec.required_when
        if when is None or not _readable(when, specs):
            continue

        def check(t: Table, name: str = name, when: When = when) -> Iterator[Violation]:
            yield Violation(when.rule, name, _holds(t, when) & ~t.present[name],
                            f"{name} is blank but is required when {when.says}")

        rules.append(Rule(when.rule, (name,), f"{name} is blank when {when.says}.", check,
                          draft_may_break=True, reads=(name, *_columns_read(when))))
    return rules


def _pairing_rules(reg: Registry, specs: Mapping[str, ColumnSpec]) -> list[Rule]:
    """A child row's companion (a phase's comment, a referral's reference) with its value."""
    rules = []
    for q in reg.child_rows():
        if q.companion is None:
            continue
        pairs = tuple((q.value_column(t), q.companion_column(t), t) for t in q.types.ids
                      if q.value_column(t) in specs and q.companion_column(t) in specs)
        if not pairs:
            continue
        reads = tuple(c for v, c, _ in pairs for c in (v, c))
        if q.companion_required_with_value is not None:
            pairing = q.companion_required_with_value

            def required(t: Table, pairs=pairs, pairing=pairing) -> Iterator[Violation]:
                for v, c, _ in pairs:
                    yield Violation(pairing.rule, c, t.present[v] & ~t.present[c],
                                    pairing.message.format(value=v, companion=c))

            rules.append(Rule(pairing.rule, tuple(c for _, c, _ in pairs),
                              f"{q.label}: a {q.value.label.lower()} without its "
                              f"{q.companion.label.lower()}.", required,
                              draft_may_break=True, reads=reads))
        if q.companion_needs_value is not None:
            pairing = q.companion_needs_value
            free = tuple(p for p in pairs if p[2] not in q.required_types)

            def needs(t: Table, pairs=free, pairing=pairing) -> Iterator[Violation]:
                for v, c, _ in pairs:
                    yield Violation(pairing.rule, c, ~t.present[v] & t.present[c],
                                    pairing.message.format(value=v, companion=c))

            rules.append(Rule(pairing.rule, tuple(c for _, c, _ in free),
                              f"{q.label}: a {q.companion.label.lower()} without a "
                              f"{q.value.label.lower()}.", needs, reads=reads))
    return rules


def _columns_read(when: When) -> tuple[str, ...]:
    return tuple("organisation_code" if c == NATION else c for c in when.columns)


def _readable(when: When, specs: Mapping[str, ColumnSpec]) -> bool:
    return all(c in specs for c in _columns_read(when))


def _nation(t: Table) -> np.ndarray:
    """Each row's nation from the form of its organisation code (None when neither)."""
    if "nation" not in t.cache:
        code = t.text["organisation_code"]
        nation = np.full(t.n, None, dtype=object)
        nation[_mask(code.str.fullmatch(ODS_CODE))] = "england"
        nation[_mask(code.str.fullmatch(GSS_HEALTH_BOARD_CODE))] = "scotland"
        t.cache["nation"] = nation
    return t.cache["nation"]


def _holds(t: Table, when: When) -> np.ndarray:
    """Rows where ``when`` holds."""
    out = np.zeros(t.n, dtype=bool)
    for c in when.columns:
        if c == NATION:
            out |= np.isin(_nation(t), list(when.is_in))
        elif when.is_in:
            out |= _mask(t.values[c].isin(when.is_in))
        else:
            out |= _mask(t.values[c] >= when.at_least)
    return out


def _unknown(t: Table, when: When) -> np.ndarray:
    """Rows where ``when`` cannot be decided (an organisation code of neither nation, a blank
    number): nothing is refused there, the missing value is reported by its own rule."""
    if when.columns == (NATION,):
        return _nation(t) == None  # noqa: E711 - elementwise on an object array
    if when.at_least is not None:
        return np.logical_and.reduce([_mask(t.values[c].isna()) for c in when.columns])
    return np.zeros(t.n, dtype=bool)


def _condition_rules(reg: Registry, specs: Mapping[str, ColumnSpec]) -> list[Rule]:
    """Answers given where the registry says they may not be (``only_when``), one rule per
    declared rule id (e.g. ``coroner_only_england``, ``frailty_only_65_and_over``)."""
    grouped: dict[str, list[tuple[str, str | None, When]]] = {}
    for column, answer, when in reg.conditions():
        if column.name in specs and _readable(when, specs):
            grouped.setdefault(when.rule, []).append(
                (column.name, None if answer is None else answer.id, when))
    rules = []
    for rule_id, items in grouped.items():
        def check(t: Table, items=items, rule_id=rule_id) -> Iterator[Violation]:
            for name, answer, when in items:
                given = t.present[name] if answer is None else _mask(t.values[name] == answer)
                if not given.any():
                    continue
                bad = given & ~_holds(t, when) & ~_unknown(t, when)
                what = f"{name} is filled in" if answer is None else f"{name} is {answer}"
                yield Violation(rule_id, name, bad,
                                f"{what}, but that is only for when {when.says}")

        columns = tuple(dict.fromkeys(name for name, _, _ in items))
        reads = tuple(dict.fromkeys((*columns, *(c for _, _, w in items
                                                 for c in _columns_read(w)))))
        says = "; ".join(dict.fromkeys(w.says for _, _, w in items))
        rules.append(Rule(rule_id, columns, f"{', '.join(columns)} answered where it may not "
                          f"be: only when {says}.", check, reads=reads))
    return rules


def _max_length_rules(specs: Mapping[str, ColumnSpec]) -> list[Rule]:
    limits = {c: s.max_length for c, s in specs.items() if s.max_length is not None}
    if not limits:
        return []

    def check(t: Table) -> Iterator[Violation]:
        for c, most in limits.items():
            if t.present[c].any():
                yield Violation(RuleId.MAX_LENGTH, c, _mask(t.text[c].str.len() > most),
                                f"{c} is longer than {most} characters")

    return [Rule(RuleId.MAX_LENGTH, tuple(limits), "A text longer than its field allows.",
                 check)]


def _version_rules(reg: Registry, specs: Mapping[str, ColumnSpec]) -> list[Rule]:
    """A review answering a question its form version does not ask (an ``rcp2017`` row with
    an ``ext2026`` answer)."""
    if FORM_VERSION_COLUMN not in specs:
        return []
    not_asked = {v: tuple(c for c in reg.columns_not_in(v) if c in specs)
                 for v in FORM_VERSIONS}
    asking = {c: reg.column(c).versions for cs in not_asked.values() for c in cs}

    def check(t: Table) -> Iterator[Violation]:
        version = t.values[FORM_VERSION_COLUMN].fillna(BASE_VERSION)
        for v, columns in not_asked.items():
            rows = None
            for c in columns:
                if not t.present[c].any():
                    continue
                if rows is None:
                    rows = _mask(version == v) & ~t.invalid[FORM_VERSION_COLUMN]
                yield Violation(
                    RuleId.NOT_ASKED_IN_VERSION, c, rows & t.present[c],
                    f"{c} is answered but this review is on form version {v}, which does not "
                    f"ask it (asked on {', '.join(asking[c])}): clear the cell, or give "
                    f"{FORM_VERSION_COLUMN} {asking[c][-1]} if the review was entered on that "
                    f"form")

    return [Rule(RuleId.NOT_ASKED_IN_VERSION, tuple(asking),
                 "A review answers a question its form version does not ask.", check,
                 reads=(FORM_VERSION_COLUMN, *asking))]


# --- deaths and organisations -----------------------------------------------------------------

def _death_rules() -> tuple[Rule, ...]:
    def within(t: Table) -> Iterator[Violation]:
        total = t.values["deaths_in_scope"]
        # A negative total is reported as such: a valid count is not also blamed for it.
        bad = _mask((t.values["learning_disability_deaths"] > total) & (total >= 0))
        yield Violation(RuleId.LEARNING_DISABILITY_DEATHS_WITHIN_TOTAL,
                        "learning_disability_deaths", bad,
                        "learning_disability_deaths is more than deaths_in_scope: deaths of "
                        "people with a learning disability are part of all deaths in scope")

    def future(t: Table) -> Iterator[Violation]:
        # A month that has not begun has no deaths yet: most often a mistyped year (2031-01
        # for 2021-01), which would otherwise open a financial year of its own in every report.
        this_month = t.today.strftime("%Y-%m")
        bad = _mask(t.values["month"] > this_month)
        yield Violation(RuleId.MONTH_NOT_IN_FUTURE, "month", bad,
                        f"month is after this month ({this_month}): deaths are counted for "
                        "months that have begun")

    return (
        _required_rule(DEATH_SPECS),
        *_type_rules(DEATH_SPECS, {c: (0, None) for c in ("deaths_in_scope",
                                                          "learning_disability_deaths")}),
        _known_organisation_rule(),
        _range_rule(RuleId.COUNT_NON_NEGATIVE, ("deaths_in_scope", "learning_disability_deaths"), 0,
                    None, "{column} must be 0 or more", "A negative count."),
        Rule(RuleId.LEARNING_DISABILITY_DEATHS_WITHIN_TOTAL, ("learning_disability_deaths",),
             "learning_disability_deaths exceeds deaths_in_scope.", within),
        Rule(RuleId.MONTH_NOT_IN_FUTURE, ("month",), "month is after the current month.",
             future),
        _unique_rule(RuleId.ORGANISATION_MONTH_UNIQUE, ("organisation_code", "month"),
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
        yield Violation(RuleId.ORGANISATION_CODE_FORMAT, "organisation_code",
                        present & england & ~ods,
                        "organisation_code of an English trust must be its 3-character ODS code "
                        "(capital letters and digits, e.g. RXX)")
        yield Violation(RuleId.ORGANISATION_CODE_FORMAT, "organisation_code",
                        present & scotland & ~gss,
                        "organisation_code of a Scottish health board must be its 9-character GSS "
                        "code (S08 and six digits, e.g. S08000015)")
        yield Violation(RuleId.ORGANISATION_CODE_FORMAT, "organisation_code",
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
        yield Violation(RuleId.REGION_KNOWN, "region", bad_e,
                        f"region of an English trust must be an NHS England region: {english}")
        yield Violation(RuleId.REGION_KNOWN, "region", bad_s,
                        f"region of a Scottish health board must be {domain.SCOTLAND_REGION}")

    return (
        _required_rule(ORGANISATION_SPECS),
        *_type_rules(ORGANISATION_SPECS),
        *_max_length_rules(ORGANISATION_SPECS),
        Rule(RuleId.ORGANISATION_CODE_FORMAT, ("organisation_code",),
             "organisation_code is not an ODS (England) or GSS (Scotland) code.", code_format),
        Rule(RuleId.REGION_KNOWN, ("region",),
             "region is not an NHS England region (England) or Scotland (Scotland).", region),
        _unique_rule(RuleId.ORGANISATION_CODE_UNIQUE, ("organisation_code",), "organisation_code"),
    )


REVIEW_RULES: tuple[Rule, ...] = review_rules()
DEATH_RULES: tuple[Rule, ...] = _death_rules()
ORGANISATION_RULES: tuple[Rule, ...] = _organisation_rules()
RULES: dict[str, tuple[Rule, ...]] = {
    "reviews": REVIEW_RULES,
    "deaths": DEATH_RULES,
    "organisations": ORGANISATION_RULES,
}
"""Rule lists by kind of file; ``required_column`` (a missing header) is checked in schema."""
