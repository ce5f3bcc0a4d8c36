"""The SJR domain: vocabularies, labels and the columns of a review.

Identifiers follow ``shared/spec/sjr-review.md`` exactly. Labels are read from one table,
``sjrlib/data/labels.csv``, so a wording can be corrected without touching code.

The *review frame* is the one tabular shape of review data in this project: one row per review,
the columns of the exchange format (``REVIEW_COLUMNS``) with the dtypes in ``REVIEW_DTYPES``.
Loaders return it, the store returns it, statistics take it.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

__all__ = [
    "ADMISSION_TYPES",
    "AVOIDABILITY_SCALES",
    "AVOIDABILITY_SCORES",
    "CARE_SCORES",
    "DEATH_COLUMNS",
    "DEATH_DTYPES",
    "HARM_VALUES",
    "MORE_LIKELY_THAN_NOT",
    "NATIONS",
    "ORGANISATION_COLUMNS",
    "ORGANISATION_DTYPES",
    "PHASES",
    "POOR_CARE",
    "PROBLEM_TYPES",
    "RECORD_QUALITY_SCORES",
    "REVIEW_COLUMNS",
    "REVIEW_DTYPES",
    "REVIEW_REASONS",
    "REVIEW_STAGES",
    "SEXES",
    "STATUSES",
    "WEEKDAYS",
    "YES_NO",
    "YES_NO_UNKNOWN",
    "comment_column",
    "label",
    "labels",
    "problem_column",
    "score_column",
]


@cache
def _label_table() -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = {}
    with resources.files("sjrlib").joinpath("data/labels.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            table.setdefault(row["vocabulary"], {})[row["id"]] = row["label"]
    return table


def labels(vocabulary: str) -> dict[str, str]:
    """Return ``{id: label}`` for one vocabulary, in the order of the spec.

    Integer-valued vocabularies (``care_score``, ``record_quality_score``,
    ``avoidability_score``) are keyed by ``str`` of the value; use :func:`label` to look one up
    with an int.
    """
    try:
        return dict(_label_table()[vocabulary])
    except KeyError:
        known = ", ".join(sorted(_label_table()))
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


def _ids(vocabulary: str) -> tuple[str, ...]:
    return tuple(labels(vocabulary))


PHASES: tuple[str, ...] = _ids("phase")
"""Phase ids in form order; ``overall`` is last and always required."""
PROBLEM_TYPES: tuple[str, ...] = _ids("problem_type")
HARM_VALUES: tuple[str, ...] = _ids("harm")
REVIEW_REASONS: tuple[str, ...] = _ids("review_reason")
REVIEW_STAGES: tuple[str, ...] = _ids("review_stage")
STATUSES: tuple[str, ...] = _ids("status")
SEXES: tuple[str, ...] = _ids("sex")
WEEKDAYS: tuple[str, ...] = _ids("weekday")
ADMISSION_TYPES: tuple[str, ...] = _ids("admission_type")
YES_NO_UNKNOWN: tuple[str, ...] = _ids("yes_no_unknown")
YES_NO: tuple[str, ...] = _ids("yes_no")
NATIONS: tuple[str, ...] = _ids("nation")
AVOIDABILITY_SCALES: tuple[str, ...] = _ids("avoidability_scale")
CARE_SCORES: tuple[int, ...] = (1, 2, 3, 4, 5)
RECORD_QUALITY_SCORES: tuple[int, ...] = (1, 2, 3, 4, 5)
AVOIDABILITY_SCORES: tuple[int, ...] = (1, 2, 3, 4, 5, 6)

POOR_CARE: tuple[int, ...] = (1, 2)
"""Care scores counted as "poor or very poor" (the headline proportion)."""
MORE_LIKELY_THAN_NOT: tuple[int, ...] = (1, 2, 3)
"""RCP avoidability scores counted as "more likely than not due to problems in care"."""

MIN_AGE = 18
MAX_AGE = 120
REASON_SEPARATOR = ";"


def score_column(phase: str) -> str:
    return f"score_{phase}"


def comment_column(phase: str) -> str:
    return f"comment_{phase}"


def problem_column(problem_type: str) -> str:
    return f"problem_{problem_type}"


REVIEW_COLUMNS: tuple[str, ...] = (
    "review_id",
    "case_id",
    "organisation_code",
    "review_stage",
    "second_review_of",
    "status",
    "reviewer_id",
    "review_date",
    "review_reasons",
    "age_at_death",
    "sex",
    "postcode_district",
    "admission_weekday",
    "death_weekday",
    "arrival_hour",
    "death_hour",
    "days_to_death",
    "death_month",
    "specialty",
    "location_of_death",
    "admission_type",
    "cause_of_death",
    "learning_disability",
    "severe_mental_illness",
    *(score_column(p) for p in PHASES),
    *(comment_column(p) for p in PHASES),
    "record_quality_score",
    "any_problems",
    *(problem_column(t) for t in PROBLEM_TYPES),
    "avoidability_score",
    "avoidability_scale",
)
"""Columns of the exchange format and of the review frame, in this order."""

_INT_COLUMNS = (
    "age_at_death",
    "arrival_hour",
    "death_hour",
    "days_to_death",
    *(score_column(p) for p in PHASES),
    "record_quality_score",
    "avoidability_score",
)

REVIEW_DTYPES: dict[str, str] = {
    c: ("Int64" if c in _INT_COLUMNS else "datetime64[ns]" if c == "review_date" else "string")
    for c in REVIEW_COLUMNS
}
"""Dtypes of the validated review frame.

Integers are nullable ``Int64`` (blank = not recorded / not applicable); ``review_date`` is a
``datetime64[ns]`` at midnight; ``death_month`` is a ``"YYYY-MM"`` string; ``review_reasons`` is
the ``;``-joined list of reason ids in spec order; everything else is ``string`` with ``<NA>`` for
blank. Stored scores are always on the RCP avoidability direction, so ``avoidability_scale`` is
``"rcp"`` whenever ``avoidability_score`` is present.
"""

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
