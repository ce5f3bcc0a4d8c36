"""Shared Hypothesis strategies and small hand-made frames for tests.

``make_reviews(rows)`` builds a review frame with the exact columns and dtypes of
``sjrlib.domain.REVIEW_COLUMNS`` / ``REVIEW_DTYPES`` from a few dicts, filling the rest with
plausible defaults, so a test states only what it is about. ``review_frames()`` draws whole
frames (several organisations and months, double first-stage reviews, second stages, drafts).
Add strategies for other modules here rather than in test files.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from sjrlib import domain

_DEFAULTS: dict[str, object] = {
    "review_stage": "first",
    "second_review_of": None,
    "status": "submitted",
    "reviewer_id": "R1",
    "review_date": "2024-01-15",
    "review_reasons": "random_sample",
    "age_at_death": 80,
    "sex": "female",
    "postcode_district": "LS1",
    "admission_weekday": "mon",
    "death_weekday": "wed",
    "arrival_hour": 10,
    "death_hour": 14,
    "days_to_death": 2,
    "death_month": "2023-12",
    "specialty": "general_medicine",
    "location_of_death": "ward",
    "admission_type": "emergency",
    "cause_of_death": None,
    "learning_disability": "no",
    "severe_mental_illness": "no",
    "score_overall": 4,
    "record_quality_score": 4,
    "any_problems": "no",
    "avoidability_score": None,
    "avoidability_scale": None,
}


def make_reviews(rows: list[dict]) -> pd.DataFrame:
    """A review frame from partial rows; ``review_id``/``case_id``/``organisation_code`` default to
    ``V<i>``/``C<i>``/``XAA``, comments are filled for scored phases, ``any_problems`` follows the
    problem columns, ``avoidability_scale`` is ``rcp`` when a score is given."""
    records = []
    for i, row in enumerate(rows):
        unknown = set(row) - set(domain.REVIEW_COLUMNS)
        if unknown:
            raise KeyError(f"not review columns: {sorted(unknown)}")
        rec = {c: None for c in domain.REVIEW_COLUMNS}
        rec.update(_DEFAULTS)
        rec.update({"review_id": f"V{i}", "case_id": f"C{i}", "organisation_code": "XAA"})
        rec.update(row)
        for phase in domain.PHASES:
            if rec[domain.score_column(phase)] is not None and rec[
                    domain.comment_column(phase)] is None:
                rec[domain.comment_column(phase)] = "Judgement recorded."
        if "any_problems" not in row:
            present = any(rec[domain.problem_column(t)] is not None for t in domain.PROBLEM_TYPES)
            rec["any_problems"] = "yes" if present else "no"
        if rec["avoidability_score"] is not None and rec["avoidability_scale"] is None:
            rec["avoidability_scale"] = "rcp"
        records.append(rec)
    frame = pd.DataFrame.from_records(records, columns=list(domain.REVIEW_COLUMNS))
    return _typed(frame)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for column, dtype in domain.REVIEW_DTYPES.items():
        values = frame[column]
        if dtype == "datetime64[ns]":
            out[column] = pd.to_datetime(values).astype("datetime64[ns]")
        else:
            out[column] = values.astype(object).where(values.notna(), None).astype(dtype)
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


ORGANISATIONS = ("XAA", "XAB", "XAC", "S08999001")
MONTHS = tuple(f"{y}-{m:02d}" for y in (2022, 2023) for m in range(1, 13))


@st.composite
def review_rows(draw, case: str, organisation: str, month: str, stage: str = "first",
                reviewer: str = "R1", day: int = 1) -> dict:
    overall = draw(st.sampled_from(domain.CARE_SCORES))
    row = {
        "case_id": case,
        "organisation_code": organisation,
        "death_month": month,
        "review_stage": stage,
        "reviewer_id": reviewer,
        "review_date": f"{int(month[:4]) + 1}-{month[5:7]}-{day:02d}",
        "status": draw(st.sampled_from(["submitted", "submitted", "locked", "draft"])),
        "score_overall": overall,
        "learning_disability": draw(st.sampled_from(domain.YES_NO_UNKNOWN)),
        "admission_type": draw(st.sampled_from(domain.ADMISSION_TYPES)),
        "specialty": draw(st.sampled_from(["general_medicine", "surgery", None])),
        "review_reasons": ";".join(draw(st.lists(st.sampled_from(domain.REVIEW_REASONS),
                                                 min_size=1, max_size=3, unique=True))),
    }
    for phase in domain.PHASES[:-1]:
        row[domain.score_column(phase)] = draw(st.one_of(st.none(),
                                                         st.sampled_from(domain.CARE_SCORES)))
    for t in domain.PROBLEM_TYPES:
        row[domain.problem_column(t)] = draw(st.one_of(st.none(), st.none(),
                                                       st.sampled_from(domain.HARM_VALUES)))
    if stage == "second":
        row["avoidability_score"] = draw(st.sampled_from(domain.AVOIDABILITY_SCORES))
    else:
        row["avoidability_score"] = draw(st.one_of(st.none(),
                                                   st.sampled_from(domain.AVOIDABILITY_SCORES)))
    return row


@st.composite
def review_frames(draw, min_cases: int = 1, max_cases: int = 40) -> pd.DataFrame:
    """Review frames with several organisations and months; some cases have a second
    first-stage review by another reviewer, some a second-stage review; some are drafts;
    one case_id may be reused by two organisations (case ids are local)."""
    n_cases = draw(st.integers(min_cases, max_cases))
    rows = []
    for i in range(n_cases):
        org = draw(st.sampled_from(ORGANISATIONS))
        month = draw(st.sampled_from(MONTHS))
        case = f"C{draw(st.integers(0, n_cases))}"  # collisions across orgs happen
        if any(r["case_id"] == case and r["organisation_code"] == org for r in rows):
            case = f"{case}-{i}"
        rows.append(draw(review_rows(case, org, month, "first", "R1", 1)))
        if draw(st.booleans()):
            rows.append(draw(review_rows(case, org, month, "first", "R2", 2)))
        if draw(st.integers(0, 3)) == 0:
            rows.append(draw(review_rows(case, org, month, "second", "R3", 3)))
    for i, row in enumerate(rows):
        row["review_id"] = f"V{i}"
    return make_reviews(rows)


@st.composite
def deaths_frames(draw, reviews: pd.DataFrame | None = None) -> pd.DataFrame:
    """A deaths feed (denominator) over ORGANISATIONS x some MONTHS, consistent with
    ``learning_disability_deaths <= deaths_in_scope``."""
    records = []
    for org in ORGANISATIONS:
        for month in MONTHS:
            if draw(st.integers(0, 4)) == 0:
                continue  # feeds have gaps
            deaths = draw(st.integers(0, 300))
            ld = draw(st.integers(0, min(deaths, 10)))
            records.append((org, month, deaths, ld))
    frame = pd.DataFrame.from_records(records, columns=list(domain.DEATH_COLUMNS))
    return frame.astype(domain.DEATH_DTYPES)


proportions = st.integers(0, 10_000).flatmap(
    lambda n: st.tuples(st.integers(0, n), st.just(n)))
"""``(count, nobs)`` pairs with ``0 <= count <= nobs``."""

ratings_pairs = st.integers(2, 60).flatmap(
    lambda n: st.tuples(
        st.lists(st.sampled_from(domain.CARE_SCORES), min_size=n, max_size=n),
        st.lists(st.sampled_from(domain.CARE_SCORES), min_size=n, max_size=n),
    )
)
"""Two raters' care scores on the same units."""


def random_reviews(n: int, seed: int = 0, n_orgs: int = 4) -> pd.DataFrame:
    """A larger random frame (vectorised) for tests that need volume, e.g. model fits."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        rows.append({
            "review_id": f"V{i}",
            "case_id": f"C{i}",
            "organisation_code": ORGANISATIONS[rng.integers(0, n_orgs)],
            "death_month": MONTHS[rng.integers(0, len(MONTHS))],
            "age_at_death": int(rng.integers(18, 101)),
            "sex": ("male", "female")[rng.integers(0, 2)],
            "admission_type": domain.ADMISSION_TYPES[rng.integers(0, 4)],
            "learning_disability": ("no", "yes")[int(rng.random() < 0.1)],
            "score_overall": int(rng.choice(domain.CARE_SCORES, p=[.03, .12, .30, .40, .15])),
        })
    return make_reviews(rows)
