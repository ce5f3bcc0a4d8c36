"""Validated frames of reviews, deaths and organisations, and the single-review model.

Every way into the store passes through here: file imports (:mod:`sjrlib.io`), frames built in
code, the Voila entry form and the session API. All of them run the *same* rules,
:mod:`sjrlib.rules`, so a value accepted in one place is accepted everywhere.

Why not pandera + pydantic? Declaring the frame schema in pandera and the single review in
pydantic would write every rule twice, and cross-column rules (a scored phase needs a comment,
second-stage consistency, PRISM conversion, identifiers in free text) would still need custom
code in both. One vectorised rule engine (:mod:`sjrlib.rules`) is the single source instead: it
checks a million-row file at file speed, names file/row/column/value/rule for every bad cell, and
the pydantic :data:`Review` model simply validates a 1-row frame with it.

Public API
----------
``validate_reviews(frame, *, source, known_organisations, known_reviews, today, rows)`` -> the
review frame (``domain.REVIEW_COLUMNS`` with ``domain.REVIEW_DTYPES``; PRISM avoidability
converted to RCP, ``status`` defaulted to ``submitted``, ``form_version`` to ``rcp2017``,
``review_reasons`` in spec order), or
:class:`ValidationFailed` listing every :class:`RowError`. ``validate_deaths``,
``validate_organisations`` likewise. ``validate_review(values)`` / ``review_errors(values)`` and
the pydantic model :data:`Review` for one review as a dict (field names = column names).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pydantic
from pydantic_core import PydanticCustomError

from sjrlib import domain, privacy, rules
from sjrlib.form.registry import BASE_VERSION, FORM_VERSION_COLUMN, FORM_VERSIONS, registry
from sjrlib.rules import ColumnSpec, Rule

__all__ = [
    "Review",
    "RowError",
    "ValidationFailed",
    "review_errors",
    "validate_deaths",
    "validate_organisations",
    "validate_review",
    "validate_reviews",
    "validate_reviews_in_blocks",
]

MAX_LISTED_ERRORS = 50
"""How many errors ``str(ValidationFailed)`` prints; ``.errors`` always holds all of them."""


class RowError(NamedTuple):
    """One broken rule in one cell.

    ``row`` counts as a spreadsheet user does (header = row 1, first data row = row 2); it is
    ``None`` for a single review given as a dict. ``value`` is the cell as written, ``None``
    when blank; a value or message holding an identifier is redacted (``[NHS_NUMBER]``), so
    what is refused is never printed, logged or audited as typed.
    """

    source: str
    row: int | None
    column: str
    value: Any
    rule: str
    message: str

    def __str__(self) -> str:
        where = self.source if self.row is None else f"{self.source}, row {self.row}"
        value = "blank" if self.value is None else repr(_shorten(str(self.value)))
        return f"{where}, column {self.column} (value {value}): {self.message} [{self.rule}]"


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ValidationFailed(Exception):
    """Rows broke validation rules; nothing was imported or saved.

    ``errors`` holds every :class:`RowError`; ``str()`` lists up to ``MAX_LISTED_ERRORS``.
    """

    def __init__(self, errors: Sequence[RowError]):
        self.errors: list[RowError] = list(errors)
        super().__init__(self._text())

    def _text(self) -> str:
        errors = self.errors
        sources = sorted({e.source for e in errors})
        rows = {(e.source, e.row) for e in errors}
        head = (f"{', '.join(sources)}: {len(errors)} problem{'s' * (len(errors) != 1)} in "
                f"{len(rows)} row{'s' * (len(rows) != 1)}; nothing was imported")
        lines = [head, *(f"  {e}" for e in errors[:MAX_LISTED_ERRORS])]
        if len(errors) > MAX_LISTED_ERRORS:
            lines.append(f"  ... and {len(errors) - MAX_LISTED_ERRORS} more (all are in "
                         f".errors)")
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """All errors as a frame (columns of :class:`RowError`), e.g. to save as a CSV report."""
        return pd.DataFrame(self.errors, columns=list(RowError._fields))


# --- frame validation ---------------------------------------------------------------------------

def _missing_columns(frame: pd.DataFrame, specs: Mapping[str, ColumnSpec], source: str) -> None:
    missing = [c for c in rules.required_columns(specs) if c not in frame.columns]
    if missing:
        raise ValidationFailed([
            RowError(source, 1, c, None, "required_column",
                     f"required column {c} is missing from the header")
            for c in missing
        ])


def _errors(table: rules.Table, violations: Iterable[rules.Violation], source: str,
            ) -> list[RowError]:
    order = {c: i for i, c in enumerate(table.specs)}
    found: list[tuple[int, int, RowError]] = []
    for v in violations:
        positions = np.flatnonzero(v.mask)
        values = (list(v.values) if v.values is not None
                  else table.raw[v.column].to_numpy(dtype=object, na_value=None)[positions])
        messages = [v.message] * len(positions) if isinstance(v.message, str) else v.message
        # Nothing refused is written out as typed: an identifier in any reported cell or
        # message (an NHS number as review_id repeated, say) is redacted (sjrlib.privacy).
        values = privacy.redact_values(list(values))
        messages = privacy.redact_values(list(messages))
        for pos, value, message in zip(positions, values, messages, strict=True):
            row = int(table.rows[pos])
            error = RowError(source, row, v.column, value, str(v.rule), message)
            found.append((int(pos), order.get(v.column, len(order)), error))
    found.sort(key=lambda item: (item[0], item[1]))
    return [e for _, _, e in found]


def _validate(frame: pd.DataFrame, specs: Mapping[str, ColumnSpec], rule_list: Sequence[Rule],
              *, source: str, rows: Any, **context: Any) -> rules.Table:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    _missing_columns(frame, specs, source)
    table = rules.prepare(frame, specs, rows=rows, **context)
    violations = _spared(table, rules.run_rules(table, rule_list))
    errors = _errors(table, violations, source)
    if errors:
        raise ValidationFailed(errors)
    return table


DRAFT_MAY_BE_INCOMPLETE: frozenset[str] = frozenset(
    r.id for r in rules.REVIEW_RULES if r.draft_may_break)
"""Rules about *completeness* that a draft may break (a clinician saves a half-done review):
those whose :class:`~sjrlib.rules.Rule` says ``draft_may_break``.

Everything a draft does hold must still be valid (codes, ranges, dates, consistency), free text
must still hold no identifiers, and the fields that file the draft
(:data:`DRAFT_ALWAYS_REQUIRED`) must be there. Submitting or locking applies every rule.
"""
DRAFT_ALWAYS_REQUIRED: frozenset[str] = registry().draft_filing_columns()
"""The columns a draft is filed under (the registry's ``files_draft``)."""


def _spared(table: rules.Table, violations: list[rules.Violation]) -> list[rules.Violation]:
    """The violations left once drafts are spared completeness rules and a review is spared
    every rule about a question its form version does not ask (that answer is reported once,
    as ``not_asked_in_version``)."""
    if violations and "status" in table.specs:
        violations = _spare_drafts(table, violations)
    if violations and FORM_VERSION_COLUMN in table.specs:
        violations = _spare_unasked(table, violations)
    return violations


def _without_rows(v: rules.Violation, drop: np.ndarray) -> rules.Violation | None:
    """``v`` without the rows in ``drop`` (None when no row is left)."""
    mask = v.mask & ~drop
    if not mask.any():
        return None
    keep_of_flagged = ~drop[v.mask]  # per-row messages/values follow the flagged rows
    message = v.message if isinstance(v.message, str) else \
        [m for m, k in zip(v.message, keep_of_flagged) if k]
    values = None if v.values is None else [x for x, k in zip(v.values, keep_of_flagged) if k]
    return rules.Violation(v.rule, v.column, mask, message, values)


def _spare_drafts(table: rules.Table, violations: list[rules.Violation]
                  ) -> list[rules.Violation]:
    draft = (table.values["status"] == "draft").fillna(False).to_numpy(dtype=bool)
    if not draft.any():
        return violations
    kept = []
    for v in violations:
        if v.rule not in DRAFT_MAY_BE_INCOMPLETE or v.column in DRAFT_ALWAYS_REQUIRED:
            kept.append(v)
        elif (left := _without_rows(v, draft)) is not None:
            kept.append(left)
    return kept


def _spare_unasked(table: rules.Table, violations: list[rules.Violation]
                   ) -> list[rules.Violation]:
    reg = registry()
    version = table.values[FORM_VERSION_COLUMN].fillna(BASE_VERSION).to_numpy(dtype=object)
    kept = []
    for v in violations:
        asking = reg.column(v.column).versions if v.column in table.specs else FORM_VERSIONS
        if v.rule == rules.RuleId.NOT_ASKED_IN_VERSION or len(asking) == len(FORM_VERSIONS):
            kept.append(v)
        elif (left := _without_rows(v, ~np.isin(version, asking))) is not None:
            kept.append(left)
    return kept


def validate_reviews(
    frame: pd.DataFrame,
    *,
    source: str = "<frame>",
    known_organisations: Iterable[str] | pd.DataFrame | None = None,
    known_reviews: Mapping[str, tuple[str, str]] | pd.DataFrame | None = None,
    today: _dt.date | None = None,
    rows: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Validate reviews and return the typed review frame.

    Parameters
    ----------
    frame : DataFrame
        Reviews in the exchange-format columns, as strings (from a file) or typed. Optional
        columns may be absent (they are blank); extra columns are ignored.
    source : str
        Name used in error messages (the file name for imports).
    known_organisations : iterable of str or organisations frame, optional
        When given, every ``organisation_code`` must be one of these.
    known_reviews : mapping or frame, optional
        Reviews already in the store, ``{review_id: (case_id, review_stage)}`` or a frame with
        those columns, so a second-stage review may follow a first-stage review imported earlier.
    today : date, optional
        For "review_date not in the future" (default: today in the UK,
        :func:`sjrlib.rules.uk_today`).
    rows : sequence of int, optional
        Spreadsheet row numbers of the frame's rows (default: position + 2, header = row 1).

    Returns
    -------
    DataFrame
        ``domain.REVIEW_COLUMNS`` with ``domain.REVIEW_DTYPES``, the input's index; codes
        lower-cased, ``status`` blank -> ``submitted``, ``form_version`` blank -> ``rcp2017``,
        ``review_reasons`` in spec order,
        avoidability on the RCP direction (PRISM ``rcp = 7 - prism``; scale ``rcp``).

    Raises
    ------
    ValidationFailed
        Listing every broken rule in every row.
    """
    table = _validate(frame, rules.REVIEW_SPECS, rules.REVIEW_RULES, source=source, rows=rows,
                      known_organisations=known_organisations, known_reviews=known_reviews,
                      today=today)
    return _review_frame(table, frame.index)


CROSS_ROW_RULES: frozenset[str] = frozenset(
    r.id for r in rules.REVIEW_RULES if r.compares_rows)
"""Review rules that compare rows with each other (or with the store): those whose
:class:`~sjrlib.rules.Rule` says ``compares_rows``; every other rule looks at one row only, so
it can run on each block of a file as it is read."""
_LINK_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys(
    c for r in rules.REVIEW_RULES if r.compares_rows for c in r.reads))


def validate_reviews_in_blocks(
    blocks: Iterable[tuple[pd.DataFrame, Sequence[int]]],
    *,
    source: str = "<frame>",
    known_organisations: Iterable[str] | pd.DataFrame | None = None,
    known_reviews: Mapping[str, tuple[str, str]] | pd.DataFrame | None = None,
    today: _dt.date | None = None,
) -> Iterator[pd.DataFrame]:
    """Validate a file's reviews block by block, with exactly the rules of
    :func:`validate_reviews`; yield each block's review frame as soon as its rows pass.

    ``blocks`` gives ``(frame, rows)`` pairs (rows: spreadsheet row numbers). The rules that
    look at one row run on each block; the cross-row rules (:data:`CROSS_ROW_RULES`: unique
    ``review_id``, ``second_review_of`` naming a first-stage review of the same case in the
    file or the store) run at the end on the link columns of all blocks, kept aside (a few
    short strings per review). Only then, after the last block, :class:`ValidationFailed` is
    raised listing every error of the whole file. So a consumer must not store anything before
    the generator is exhausted: the blocks it yielded may belong to a file that fails.
    """
    today = today or rules.uk_today()
    if isinstance(known_organisations, pd.DataFrame):
        known_organisations = known_organisations["organisation_code"]
    if known_organisations is not None:
        known_organisations = frozenset(str(c).strip() for c in known_organisations)
    row_rules = [r for r in rules.REVIEW_RULES if not r.compares_rows]
    cross_rules = [r for r in rules.REVIEW_RULES if r.compares_rows]
    errors: list[RowError] = []
    links: list[rules.Table] = []
    for frame, rows in blocks:
        _missing_columns(frame, rules.REVIEW_SPECS, source)
        table = rules.prepare(frame, rules.REVIEW_SPECS, rows=rows,
                              known_organisations=known_organisations, today=today)
        found = _errors(table, _spared(table, rules.run_rules(table, row_rules)), source)
        links.append(_link_table(table))
        if found:
            errors.extend(found)
        elif not errors:
            yield _review_frame(table, pd.RangeIndex(table.n))
        del table
    if links:
        table = _joined_link_tables(links, known_reviews, today)
        del links
        errors.extend(_errors(table, rules.run_rules(table, cross_rules), source))
    if errors:
        order = {c: i for i, c in enumerate(rules.REVIEW_SPECS)}
        errors.sort(key=lambda e: (e.row, order.get(e.column, len(order))))  # stable
        raise ValidationFailed(errors)


def _link_table(table: rules.Table) -> rules.Table:
    """The columns the cross-row rules read, of one block: Arrow text (for a clean column the
    file's own data, shared, not copied), the row masks and numbers."""
    specs = {c: rules.REVIEW_SPECS[c] for c in _LINK_COLUMNS}
    out = rules.Table(specs=specs, n=table.n, rows=table.rows, text_dtype=table.text_dtype)
    for c in _LINK_COLUMNS:
        for name in ("raw", "text", "values"):
            series = getattr(table, name)[c]
            same = next((getattr(out, k)[c] for k in ("raw", "text") if k != name
                         and c in getattr(out, k) and getattr(table, k)[c] is series), None)
            getattr(out, name)[c] = same if same is not None else _arrow_text(series)
        out.present[c], out.invalid[c] = table.present[c], table.invalid[c]
    return out


def _arrow_text(series: pd.Series):
    import pyarrow as pa

    data = series.array.__arrow_array__()
    if isinstance(data, pa.Array):
        data = pa.chunked_array([data])
    return data.cast(pa.large_string()) if data.type != pa.large_string() else data


def _joined_link_tables(parts: list[rules.Table], known_reviews: Any,
                        today: _dt.date) -> rules.Table:
    """One table of every block's link columns; Arrow chunks are joined without copying."""
    import pyarrow as pa

    n = sum(p.n for p in parts)
    specs = parts[0].specs
    dtype = pd.StringDtype("pyarrow")
    joined = rules.Table(specs=specs, n=n, rows=np.concatenate([p.rows for p in parts]),
                         known_reviews=rules.normalise_known_reviews(known_reviews),
                         today=today, text_dtype=dtype)
    for c in specs:
        done: dict[tuple[int, ...], pd.Series] = {}
        for name in ("raw", "text", "values"):
            key = tuple(id(getattr(p, name)[c]) for p in parts)  # shared in every block
            if key not in done:
                chunks = [chunk for p in parts for chunk in getattr(p, name)[c].chunks]
                data = pa.chunked_array(chunks, type=pa.large_string())
                done[key] = pd.Series(pd.arrays.ArrowStringArray(data), dtype=dtype)
            getattr(joined, name)[c] = done[key]
        joined.present[c] = np.concatenate([p.present[c] for p in parts])
        joined.invalid[c] = np.concatenate([p.invalid[c] for p in parts])
    return joined


def _review_frame(table: rules.Table, index: pd.Index) -> pd.DataFrame:
    out = {c: table.values[c] for c in domain.REVIEW_COLUMNS}
    out["status"] = out["status"].fillna("submitted")
    # A blank form version (or a file made before versions) is the 2017 form.
    out[FORM_VERSION_COLUMN] = out[FORM_VERSION_COLUMN].fillna(BASE_VERSION)
    score = out["avoidability_score"]
    prism = table.values["avoidability_scale"] == "prism"
    out["avoidability_score"] = score.mask(prism.fillna(False), 7 - score)
    out["avoidability_scale"] = pd.Series("rcp", index=score.index, dtype="string").where(
        score.notna(), pd.NA)
    if table.n == 1:  # one review (form, session): astype of 48 columns costs ~10 ms of calls
        return pd.DataFrame({c: pd.array([s.iat[0]], dtype=domain.REVIEW_DTYPES[c])
                             for c, s in out.items()}, index=index)
    frame = pd.DataFrame(out).astype(domain.REVIEW_DTYPES)
    frame.index = index
    return frame


def validate_deaths(
    frame: pd.DataFrame,
    *,
    source: str = "<frame>",
    known_organisations: Iterable[str] | pd.DataFrame | None = None,
    rows: Sequence[int] | None = None,
    today: _dt.date | None = None,
) -> pd.DataFrame:
    """Validate the monthly deaths feed; return ``domain.DEATH_COLUMNS`` / ``DEATH_DTYPES``.

    Rules: organisation known (when ``known_organisations`` is given), ``month`` ``YYYY-MM``
    and not after the month of ``today`` (default: today in the UK), counts whole numbers
    >= 0, ``learning_disability_deaths <= deaths_in_scope``, (``organisation_code``,
    ``month``) unique. Raises :class:`ValidationFailed`.
    """
    table = _validate(frame, rules.DEATH_SPECS, rules.DEATH_RULES, source=source, rows=rows,
                      known_organisations=known_organisations, today=today)
    out = pd.DataFrame({c: table.values[c] for c in domain.DEATH_COLUMNS})
    out = out.astype(domain.DEATH_DTYPES)
    out.index = frame.index
    return out


def validate_organisations(
    frame: pd.DataFrame,
    *,
    source: str = "<frame>",
    rows: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Validate organisations; return ``domain.ORGANISATION_COLUMNS`` / ``ORGANISATION_DTYPES``.

    Rules: ODS code (3 characters) for England, GSS ``S08`` code (9 characters) for Scotland,
    ``nation`` england/scotland, ``region`` an NHS England region or ``Scotland``, unique codes.
    Raises :class:`ValidationFailed`.
    """
    table = _validate(frame, rules.ORGANISATION_SPECS, rules.ORGANISATION_RULES, source=source,
                      rows=rows)
    out = pd.DataFrame({c: table.values[c] for c in domain.ORGANISATION_COLUMNS})
    out = out.astype(domain.ORGANISATION_DTYPES)
    out.index = frame.index
    return out


# --- one review ---------------------------------------------------------------------------------

def _native(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, np.integer):
        return int(value)
    return value


def validate_review(
    values: Mapping[str, Any],
    *,
    source: str = "review",
    known_organisations: Iterable[str] | pd.DataFrame | None = None,
    known_reviews: Mapping[str, tuple[str, str]] | pd.DataFrame | None = None,
    today: _dt.date | None = None,
) -> dict[str, Any]:
    """Validate one review given as ``{column: value}`` with the same rules as a file.

    Missing keys are blank; unknown keys are errors (rule ``unknown_field``). Values may be text
    (as typed in a form) or typed (``int``, ``datetime.date``). Returns a dict of every column
    with Python values (``int``, ``datetime.date``, ``str`` or ``None``), normalised as
    :func:`validate_reviews` does. Raises :class:`ValidationFailed` whose errors have
    ``row=None`` and ``column`` = the field name.
    """
    unknown = [k for k in values if k not in rules.REVIEW_SPECS]
    errors = [RowError(source, None, k, privacy.redact_values([values[k]])[0], "unknown_field",
                       f"{k} is not a review field") for k in unknown]
    frame = pd.DataFrame(
        {c: pd.Series([values.get(c)], dtype=object) for c in domain.REVIEW_COLUMNS}
    )
    try:
        out = validate_reviews(frame, source=source, known_organisations=known_organisations,
                               known_reviews=known_reviews, today=today)
    except ValidationFailed as failed:
        errors.extend(e._replace(row=None) for e in failed.errors)
    if errors:
        raise ValidationFailed(errors)
    return {c: _native(v) for c, v in out.iloc[0].items()}


def review_errors(values: Mapping[str, Any], **context: Any) -> list[RowError]:
    """The errors of one review (empty if it is valid), for showing beside form fields.

    Takes the keyword arguments of :func:`validate_review`.
    """
    try:
        validate_review(values, **context)
    except ValidationFailed as failed:
        return failed.errors
    return []


class _ReviewBase(pydantic.BaseModel):
    """Runs :func:`validate_review` (the frame rules) before pydantic sees the fields.

    Context (``Review.model_validate(d, context={...})``) may carry ``known_organisations``,
    ``known_reviews`` and ``today``.
    """

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    @pydantic.model_validator(mode="before")
    @classmethod
    def _same_rules_as_files(cls, data: Any, info: pydantic.ValidationInfo) -> Any:
        if isinstance(data, pydantic.BaseModel):
            data = data.model_dump()
        if not isinstance(data, Mapping):
            raise ValueError(f"a review must be a mapping of fields, not {type(data).__name__}")
        context = {k: v for k, v in (info.context or {}).items()
                   if k in ("known_organisations", "known_reviews", "today")}
        try:
            return validate_review(data, **context)
        except ValidationFailed as failed:
            raise pydantic.ValidationError.from_exception_data(
                "Review",
                [
                    {
                        "type": PydanticCustomError(e.rule, "{message}", {"message": e.message}),
                        "loc": (e.column,),
                        "input": e.value,
                    }
                    for e in failed.errors
                ],
            ) from None


def _python_type(spec: ColumnSpec) -> type:
    return {"int": int, "date": _dt.date}.get(spec.kind, str)


Review: type[pydantic.BaseModel] = pydantic.create_model(
    "Review",
    __base__=_ReviewBase,
    __doc__="One review (the exchange-format fields), validated by the rules of "
            ":mod:`sjrlib.rules`; errors are located at their field.",
    **{
        c: ((_python_type(s), ...) if s.required else (_python_type(s) | None, None))
        for c, s in rules.REVIEW_SPECS.items()
    },
)
"""Pydantic model of one review; fields and their types are derived from ``rules.REVIEW_SPECS``."""
