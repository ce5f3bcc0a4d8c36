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
        values = frame[column].to_numpy(dtype=object)
        if dtype == "datetime64[ns]":
            out[column] = pd.to_datetime(pd.Series(values)).astype("datetime64[ns]").to_numpy()
        else:
            values = np.where(pd.isna(values), None, values)
            out[column] = pd.array(values, dtype=dtype)
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


ORGANISATIONS = ("XAA", "XAB", "XAC", "S08999001")
MONTHS = tuple(f"{y}-{m:02d}" for y in (2022, 2023) for m in range(1, 13))


def frame_from_columns(columns: dict[str, object], n: int) -> pd.DataFrame:
    """A typed review frame of ``n`` rows from column arrays (or scalars), defaults elsewhere.
    Comments are filled where a phase is scored and ``any_problems`` follows the problems."""
    out: dict[str, object] = {}
    for column in domain.REVIEW_COLUMNS:
        value = columns.get(column, _DEFAULTS.get(column))
        out[column] = (np.asarray(value, dtype=object) if not np.isscalar(value)
                       and value is not None else np.full(n, value, dtype=object))
    for phase in domain.PHASES:
        scored = pd.notna(out[domain.score_column(phase)])
        out[domain.comment_column(phase)] = np.where(scored, "Judgement recorded.", None)
    present = np.zeros(n, dtype=bool)
    for t in domain.PROBLEM_TYPES:
        present |= pd.notna(out[domain.problem_column(t)])
    out["any_problems"] = np.where(present, "yes", "no")
    out["avoidability_scale"] = np.where(pd.notna(out["avoidability_score"]), "rcp", None)
    return _typed(pd.DataFrame(out))


def _pick(rng: np.random.Generator, values, n: int, p_missing: float = 0.0) -> np.ndarray:
    picked = np.asarray(values, dtype=object)[rng.integers(0, len(values), n)]
    if p_missing:
        picked[rng.random(n) < p_missing] = None
    return picked


@st.composite
def review_frames(draw, min_cases: int = 1, max_cases: int = 60) -> pd.DataFrame:
    """Review frames with several organisations and months; some cases have a second
    first-stage review by another reviewer (or by the same one), some a second-stage review;
    some reviews are drafts; a case_id may be reused by two organisations (case ids are local).

    Hypothesis draws the sizes and a seed; numpy draws the values (fast, and reproducible from
    the seed Hypothesis reports)."""
    n_cases = draw(st.integers(min_cases, max_cases))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    p_double = draw(st.sampled_from([0.0, 0.3, 0.8]))
    p_second = draw(st.sampled_from([0.0, 0.25, 0.6]))
    orgs = _pick(rng, ORGANISATIONS, n_cases)
    cases = np.array([f"C{c}" for c in rng.integers(0, max(2, n_cases // 2), n_cases)],
                     dtype=object)
    # Make (organisation, case) unique while letting case ids repeat across organisations.
    seen: set = set()
    for i in range(n_cases):
        while (orgs[i], cases[i]) in seen:
            cases[i] = f"{cases[i]}x"
        seen.add((orgs[i], cases[i]))
    months = _pick(rng, MONTHS, n_cases)
    ld = _pick(rng, domain.YES_NO_UNKNOWN, n_cases)
    case_idx = [np.arange(n_cases)]
    stage = [np.full(n_cases, "first", dtype=object)]
    reviewer = [np.full(n_cases, "R1", dtype=object)]
    day = [np.ones(n_cases, dtype=int)]
    double = np.flatnonzero(rng.random(n_cases) < p_double)
    case_idx.append(double)
    stage.append(np.full(double.size, "first", dtype=object))
    reviewer.append(np.where(rng.random(double.size) < 0.9, "R2", "R1").astype(object))
    day.append(rng.integers(1, 3, double.size))  # same day sometimes: review_id breaks ties
    second = np.flatnonzero(rng.random(n_cases) < p_second)
    case_idx.append(second)
    stage.append(np.full(second.size, "second", dtype=object))
    reviewer.append(np.full(second.size, "R3", dtype=object))
    day.append(rng.integers(1, 28, second.size))
    idx = np.concatenate(case_idx)
    stage_a = np.concatenate(stage)
    n = idx.size
    month_a = months[idx]
    dates = [f"{int(m[:4]) + 1}-{m[5:7]}-{d:02d}" for m, d in zip(month_a, np.concatenate(day),
                                                                    strict=True)]
    reasons = [";".join(r for r in domain.REVIEW_REASONS if rng.random() < 0.3) or "random_sample"
               for _ in range(n)]
    columns: dict[str, object] = {
        "review_id": np.array([f"V{i}" for i in rng.permutation(n)], dtype=object),
        "case_id": cases[idx],
        "organisation_code": orgs[idx],
        "review_stage": stage_a,
        "reviewer_id": np.concatenate(reviewer),
        "status": _pick(rng, ["submitted", "submitted", "locked", "draft"], n),
        "review_date": dates,
        "death_month": month_a,
        "review_reasons": reasons,
        "learning_disability": np.where(rng.random(n) < 0.9, ld[idx],
                                        _pick(rng, domain.YES_NO_UNKNOWN, n)),
        "admission_type": _pick(rng, domain.ADMISSION_TYPES, n),
        "specialty": _pick(rng, ["general_medicine", "surgery"], n, 0.2),
        "score_overall": _pick(rng, domain.CARE_SCORES, n),
        "avoidability_score": np.where(
            stage_a == "second", _pick(rng, domain.AVOIDABILITY_SCORES, n),
            _pick(rng, domain.AVOIDABILITY_SCORES, n, 0.7)),
    }
    for phase in domain.PHASES[:-1]:
        columns[domain.score_column(phase)] = _pick(rng, domain.CARE_SCORES, n, 0.4)
    for t in domain.PROBLEM_TYPES:
        columns[domain.problem_column(t)] = _pick(rng, domain.HARM_VALUES, n, 0.8)
    return frame_from_columns(columns, n)


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
    """A larger random frame of first-stage reviews (vectorised), e.g. for model fits."""
    rng = np.random.default_rng(seed)
    columns = {
        "review_id": [f"V{i}" for i in range(n)],
        "case_id": [f"C{i}" for i in range(n)],
        "organisation_code": _pick(rng, ORGANISATIONS[:n_orgs], n),
        "death_month": _pick(rng, MONTHS, n),
        "age_at_death": rng.integers(18, 101, n),
        "sex": _pick(rng, ["male", "female"], n),
        "admission_type": _pick(rng, domain.ADMISSION_TYPES, n),
        "learning_disability": np.where(rng.random(n) < 0.1, "yes", "no"),
        "score_overall": rng.choice(domain.CARE_SCORES, p=[.03, .12, .30, .40, .15], size=n),
    }
    return frame_from_columns(columns, n)
