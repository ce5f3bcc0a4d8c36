"""The SJR domain: vocabularies, labels and the columns of a review.

Identifiers follow ``shared/spec/sjr-review.md`` exactly. Everything here is derived from the
field registry (:mod:`sjrlib.form.registry`), the one declaration of each form question; labels
are read from one table, ``sjrlib/data/labels.csv``, so a wording can be corrected without
touching code. The names below are kept so callers need not know where they come from.

The *review frame* is the one tabular shape of review data in this project: one row per review,
the columns of the exchange format (``REVIEW_COLUMNS``) with the dtypes in ``REVIEW_DTYPES``.
Loaders return it, the store returns it, statistics take it.
"""

from __future__ import annotations

from sjrlib.form.registry import (
    FORM_VERSION_COLUMN,
    FORM_VERSIONS,
    ChildRows,
    Field,
    Kind,
    Registry,
    label_table,
    registry,
)

__all__ = [
    "ADMISSION_TYPES",
    "AVOIDABILITY_SCALES",
    "AVOIDABILITY_SCORES",
    "CARE_SCORES",
    "DEATH_COLUMNS",
    "DEATH_DTYPES",
    "FORM_VERSIONS",
    "FORM_VERSION_COLUMN",
    "HARM_VALUES",
    "LOCATIONS_OF_DEATH",
    "MORE_LIKELY_THAN_NOT",
    "NATIONS",
    "ORGANISATION_COLUMNS",
    "ORGANISATION_DTYPES",
    "PHASES",
    "POOR_CARE",
    "PROBLEM_TYPES",
    "RECORD_QUALITY_SCORES",
    "REFERRAL_STATUSES",
    "REFERRAL_TYPES",
    "REVIEW_COLUMNS",
    "REVIEW_DTYPES",
    "REVIEW_REASONS",
    "REVIEW_STAGES",
    "SEXES",
    "SPECIALTIES",
    "STATUSES",
    "WEEKDAYS",
    "YES_NO",
    "YES_NO_UNKNOWN",
    "comment_column",
    "label",
    "labels",
    "problem_column",
    "referral_column",
    "referral_ref_column",
    "review_dtypes",
    "score_column",
]


def labels(vocabulary: str) -> dict[str, str]:
    """Return ``{id: label}`` for one vocabulary, in the order of the spec.

    Integer-valued vocabularies (``care_score``, ``record_quality_score``,
    ``avoidability_score``, ``clinical_frailty_scale``) are keyed by ``str`` of the value; use
    :func:`label` to look one up with an int.
    """
    try:
        return {i: lab for i, (lab, _) in label_table()[vocabulary].items()}
    except KeyError:
        known = ", ".join(sorted(label_table()))
        raise KeyError(f"unknown vocabulary {vocabulary!r}; known: {known}") from None


def label(vocabulary: str, value: object) -> str:
    """The exact label of one value, e.g. ``label("care_score", 2) == "Poor care"``."""
    table = labels(vocabulary)
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    key = str(int(value)) if is_number else str(value)
    try:
        return table[key]
    except KeyError:
        raise KeyError(f"{value!r} is not a {vocabulary}; expected one of {list(table)}") from None


_REGISTRY = registry()


def _answers(column: str) -> tuple:
    return _REGISTRY.column(column).spec.answers.values


def _child(question: str) -> ChildRows:
    found = _REGISTRY.question(question)
    assert isinstance(found, ChildRows)
    return found


def _field(question: str) -> Field:
    found = _REGISTRY.question(question)
    assert isinstance(found, Field)
    return found


PHASES: tuple[str, ...] = _child("phase_assessment").types.ids
"""Phase ids in form order; ``overall`` is last and always required."""
PROBLEM_TYPES: tuple[str, ...] = _child("problem").types.ids
HARM_VALUES: tuple[str, ...] = _child("problem").value.answers.ids
REFERRAL_TYPES: tuple[str, ...] = _child("referral").types.ids
REFERRAL_STATUSES: tuple[str, ...] = _child("referral").value.answers.ids
REVIEW_REASONS: tuple[str, ...] = _answers("review_reasons")
REVIEW_STAGES: tuple[str, ...] = _answers("review_stage")
STATUSES: tuple[str, ...] = _answers("status")
SEXES: tuple[str, ...] = _answers("sex")
WEEKDAYS: tuple[str, ...] = _answers("admission_weekday")
ADMISSION_TYPES: tuple[str, ...] = _answers("admission_type")
SPECIALTIES: tuple[str, ...] = _answers("specialty")
LOCATIONS_OF_DEATH: tuple[str, ...] = _answers("location_of_death")
YES_NO_UNKNOWN: tuple[str, ...] = _answers("learning_disability")
YES_NO: tuple[str, ...] = _answers("any_problems")
NATIONS: tuple[str, ...] = tuple(labels("nation"))
"""Of organisations, not a review question."""
AVOIDABILITY_SCALES: tuple[str, ...] = _answers("avoidability_scale")
CARE_SCORES: tuple[int, ...] = _child("phase_assessment").value.answers.values
RECORD_QUALITY_SCORES: tuple[int, ...] = _answers("record_quality_score")
AVOIDABILITY_SCORES: tuple[int, ...] = _answers("avoidability_score")

POOR_CARE: tuple[int, ...] = (1, 2)
"""Care scores counted as "poor or very poor" (the headline proportion)."""
MORE_LIKELY_THAN_NOT: tuple[int, ...] = (1, 2, 3)
"""RCP avoidability scores counted as "more likely than not due to problems in care"."""

MIN_AGE: int = _field("age_at_death").low
MAX_AGE: int = _field("age_at_death").high
REASON_SEPARATOR = ";"


def score_column(phase: str) -> str:
    return _child("phase_assessment").value_column(phase)


def comment_column(phase: str) -> str:
    return _child("phase_assessment").companion_column(phase)


def problem_column(problem_type: str) -> str:
    return _child("problem").value_column(problem_type)


def referral_column(referral_type: str) -> str:
    return _child("referral").value_column(referral_type)


def referral_ref_column(referral_type: str) -> str:
    return _child("referral").companion_column(referral_type)


_DTYPE_OF_KIND = {Kind.SCORE: "Int64", Kind.INTEGER: "Int64", Kind.DATE: "datetime64[ns]"}


def review_dtypes(reg: Registry | None = None) -> dict[str, str]:
    """Dtypes of the review frame of ``reg`` (default: the project's registry), every version's
    columns in registry order."""
    reg = reg or _REGISTRY
    return {c.name: _DTYPE_OF_KIND.get(c.kind, "string") for c in reg.columns()}


REVIEW_DTYPES: dict[str, str] = review_dtypes()
"""Dtypes of the validated review frame.

Integers are nullable ``Int64`` (blank = not recorded / not applicable); ``review_date`` is a
``datetime64[ns]`` at midnight; ``death_month`` is a ``"YYYY-MM"`` string; ``review_reasons`` is
the ``;``-joined list of reason ids in spec order; everything else is ``string`` with ``<NA>`` for
blank. Stored scores are always on the RCP avoidability direction, so ``avoidability_scale`` is
``"rcp"`` whenever ``avoidability_score`` is present. ``form_version`` is always filled in
(a blank in a file is ``rcp2017``); the columns of questions a review's version does not ask
are blank.
"""

REVIEW_COLUMNS: tuple[str, ...] = tuple(REVIEW_DTYPES)
"""Columns of the review frame, in this order: every form version's (``form_version``
included). An exchange file holds those of the versions it holds
(:func:`sjrlib.io.export_columns`)."""

DEATH_COLUMNS: tuple[str, ...] = (
    "organisation_code",
    "month",
    "deaths_in_scope",
    "learning_disability_deaths",
)
DEATH_DTYPES: dict[str, str] = {
    "organisation_code": "string",
    "month": "string",
    "deaths_in_scope": "Int64",
    "learning_disability_deaths": "Int64",
}

ORGANISATION_COLUMNS: tuple[str, ...] = ("organisation_code", "name", "nation", "region")
ORGANISATION_DTYPES: dict[str, str] = {c: "string" for c in ORGANISATION_COLUMNS}

NHS_ENGLAND_REGIONS: tuple[str, ...] = (
    "East of England",
    "London",
    "Midlands",
    "North East and Yorkshire",
    "North West",
    "South East",
    "South West",
)
SCOTLAND_REGION = "Scotland"
