"""The synthetic data generator: organisations, monthly deaths and reviews.

Everything is drawn with vectorised numpy from one seeded generator, so the same arguments give
identical frames. See :class:`~sjrlib.synthetic.params.CalibrationParams` for the figures.

Form versions: reviews of deaths from ``CalibrationParams.ext2026_from`` (September 2024) are
entered on the ``ext2026`` form and answer its questions (autism, frailty, medical examiner,
family, escalation planning, dying recognised, referrals on) at the documented rates of
:mod:`sjrlib.synthetic.ext2026`, drawn from a random stream of their own: every other value, and
every review of an earlier death (``rcp2017``, its ext2026 columns blank), is what it was
before the ext2026 questions existed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sjrlib.domain import (
    DEATH_COLUMNS,
    DEATH_DTYPES,
    FORM_VERSION_COLUMN,
    PROBLEM_TYPES,
    REFERRAL_TYPES,
    REVIEW_COLUMNS,
    REVIEW_DTYPES,
    REVIEW_REASONS,
    WEEKDAYS,
    comment_column,
    problem_column,
    referral_column,
    referral_ref_column,
    score_column,
)
from sjrlib.form.registry import BASE_VERSION, LATEST_VERSION, registry
from sjrlib.synthetic.casemix import draw_case_mix
from sjrlib.synthetic.content import (
    OPTIONAL_PHASES,
    cut_points,
    ordinal_from_latent,
    review_content,
)
from sjrlib.synthetic.ext2026 import EXT2026_SEED, draw_ext2026
from sjrlib.synthetic.organisations import make_organisations, scottish_count
from sjrlib.synthetic.params import CalibrationParams
from sjrlib.synthetic.reasons import draw_reasons, reason_strings
from sjrlib.synthetic.scenarios import draw_scenarios

__all__ = ["SyntheticData", "generate"]


_CONCERN_REASONS = ("family_concern", "staff_concern", "alarm")
_STAGE_FIRST, _STAGE_DOUBLE, _STAGE_SECOND = 0, 1, 2


@dataclass(frozen=True)
class SyntheticData:
    """A synthetic national data set.

    Attributes
    ----------
    organisations, deaths, reviews : frames in the shapes of ``sjrlib.domain``
        (``ORGANISATION_COLUMNS``, ``DEATH_COLUMNS``, ``REVIEW_COLUMNS`` with ``REVIEW_DTYPES``).
    scenarios : one row per organisation given a real change in care over time
        (``SCENARIO_COLUMNS``): ``kind`` ``step`` (from ``start_month`` on) or ``trend`` (a
        linear ramp from ``start_month`` to the last month), ``direction`` ``improvement`` or
        ``deterioration``, ``latent_shift`` (full size, negative = worse), and the expected
        share of poor or very poor overall care before and after (approximate). Organisations
        not listed have stable care, so SPC charts should find signals only in these. With 20
        months or more, ``start_month`` leaves a baseline of at least 12 months (enough to fix
        SPC limits on) and at least 8 months after it.
    params : the calibration used
    seed : the seed used
    """

    organisations: pd.DataFrame
    deaths: pd.DataFrame
    reviews: pd.DataFrame
    scenarios: pd.DataFrame
    params: CalibrationParams
    seed: int


def generate(
    n_organisations: int = 134,
    years: int = 5,
    seed: int = 20261126,
    start_year: int = 2021,
    params: CalibrationParams | None = None,
    n_scottish: int = 14,
    *,
    today: date | None = None,
    progress: Callable[[str], None] | None = None,
) -> SyntheticData:
    """Generate a synthetic, fictional national SJR data set.

    Parameters
    ----------
    n_organisations : number of organisations (English trusts + Scottish boards)
    years : number of financial years (April to March)
    seed : seed of the random generator; the same arguments give identical frames
    start_year : the first financial year starts in April of this year
    params : calibration figures (default: the spec's)
    n_scottish : Scottish boards among 134 organisations; scaled down for fewer organisations
    today : review dates never fall after this day (default: the real today); the whole period
        must end before it. Reviews are dated at most ``review_delay_max_days +
        second_stage_delay_max_days`` (300 by default) after the death, so the frames depend
        on ``today`` only for a period that ended less than that long before it
    progress : called with a short description of each step (e.g. to drive a progress bar)

    Returns
    -------
    SyntheticData

    Raises
    ------
    ValueError
        For a non-positive size, or a period that does not end before ``today``.
    """
    params = params if params is not None else CalibrationParams()
    if n_organisations < 1:
        raise ValueError(f"n_organisations must be at least 1, got {n_organisations}")
    if years < 1:
        raise ValueError(f"years must be at least 1, got {years}")
    today_d = np.datetime64(today or date.today(), "D")
    months = np.datetime64(f"{start_year:04d}-04", "M") + np.arange(12 * years)
    last_day = (months[-1] + 1).astype("datetime64[D]") - 1
    if last_day >= today_d:
        raise ValueError(
            f"the period April {start_year} to {last_day} does not end before today "
            f"({today_d}); choose an earlier start_year or fewer years"
        )
    step = progress or (lambda _message: None)
    rng = np.random.default_rng(seed)
    n_months = len(months)

    step("organisations")
    n_scot = scottish_count(n_organisations, n_scottish)
    organisations, areas = make_organisations(rng, n_organisations, n_scot)
    codes = organisations["organisation_code"].to_numpy(dtype=object)
    is_scot = (organisations["nation"] == "scotland").to_numpy(dtype=bool)
    p = params
    annual = np.where(
        is_scot,
        rng.triangular(p.scotland_deaths_per_year_min, p.scotland_deaths_per_year_mode,
                       p.scotland_deaths_per_year_max, n_organisations),
        rng.triangular(p.deaths_per_year_min, p.deaths_per_year_mode, p.deaths_per_year_max,
                       n_organisations),
    )
    review_share = rng.triangular(p.review_share_min, p.review_share_mode, p.review_share_max,
                                  n_organisations)
    org_effect = rng.normal(0.0, p.organisation_sd, n_organisations)
    # Centre on the reviewed volume, so the national mix stays the calibrated one even for a
    # handful of organisations.
    volume = annual * review_share
    org_effect -= np.sum(org_effect * volume) / volume.sum() if n_organisations > 1 else 0.0
    cuts = cut_points(p.overall_distribution)
    scenarios, shift = draw_scenarios(rng, codes, org_effect, months, cuts, p)

    step("deaths")
    month_number = months.astype(np.int64) % 12 + 1
    season = 1 + p.winter_amplitude * np.cos(2 * np.pi * (month_number - 1) / 12)
    deaths = rng.poisson(annual[:, None] / 12 * season[None, :])
    ld_deaths = rng.binomial(deaths, p.learning_disability_share)
    month_str = np.datetime_as_string(months, unit="M").astype(object)
    deaths_frame = pd.DataFrame({
        "organisation_code": np.repeat(codes, n_months),
        "month": np.tile(month_str, n_organisations),
        "deaths_in_scope": deaths.ravel(),
        "learning_disability_deaths": ld_deaths.ravel(),
    })[list(DEATH_COLUMNS)].astype(DEATH_DTYPES)

    step("cases")
    ld_reviewed = rng.binomial(ld_deaths, p.learning_disability_review_share)
    other_reviewed = rng.binomial(deaths - ld_deaths, review_share[:, None])
    per_cell = (ld_reviewed + other_reviewed).ravel()
    n_cases = int(per_cell.sum())
    cell = np.repeat(np.arange(per_cell.size), per_cell)
    org_i = cell // n_months
    month_i = cell % n_months
    pos_in_cell = np.arange(n_cases) - np.repeat(np.cumsum(per_cell) - per_cell, per_cell)
    is_ld = pos_in_cell < np.repeat(ld_reviewed.ravel(), per_cell)
    mix = draw_case_mix(rng, p, months[month_i], is_ld)
    ld_field = np.where(is_ld, "yes", np.where(
        rng.random(n_cases) < p.learning_disability_unknown_share, "unknown", "no")).astype(object)
    u = rng.random(n_cases)
    smi_field = np.where(u < p.severe_mental_illness_share, "yes", np.where(
        u < p.severe_mental_illness_share + p.severe_mental_illness_unknown_share, "unknown", "no",
    )).astype(object)
    reasons = draw_reasons(rng, p, months[month_i], is_ld, smi_field == "yes",
                       mix.admission_type == "elective")
    concern = np.zeros(n_cases, dtype=bool)
    for r in _CONCERN_REASONS:
        concern |= (reasons >> REVIEW_REASONS.index(r)) & 1 == 1
    applies = _applicability(rng, p, mix.surgical | (mix.admission_type == "elective"),
                             mix.days_to_death)
    procedural = applies[:, OPTIONAL_PHASES.index("procedure")] | applies[
        :, OPTIONAL_PHASES.index("perioperative")]

    step("first-stage reviews")
    case_sd = np.sqrt(p.overall_reliability - p.organisation_sd**2)
    latent = (org_effect[org_i] + shift[org_i, month_i]
              + p.concern_effect * (concern - concern.mean())
              + rng.normal(0.0, case_sd, n_cases))
    n_rev = np.maximum(6, np.rint(annual * review_share / 50)).astype(np.int64)
    n_senior = np.maximum(3, n_rev // 5)
    rev_offset = np.cumsum(n_rev) - n_rev
    severity = rng.normal(0.0, p.reviewer_severity_sd, int(n_rev.sum()))
    err_sd = np.sqrt(1 - p.overall_reliability - p.reviewer_severity_sd**2)

    first_rev = np.floor(rng.random(n_cases) * n_rev[org_i]).astype(np.int64)
    double = np.flatnonzero(rng.random(n_cases) < p.double_review_share)
    nd = n_rev[org_i[double]]
    second_rev = (first_rev[double] + 1
                  + np.floor(rng.random(len(double)) * (nd - 1)).astype(np.int64)) % nd
    case = np.concatenate([np.arange(n_cases), double])
    reviewer = np.concatenate([first_rev, second_rev])
    stage = np.concatenate([np.full(n_cases, _STAGE_FIRST), np.full(len(double), _STAGE_DOUBLE)])
    m = len(case)
    y = (latent[case] + severity[rev_offset[org_i[case]] + reviewer]
         + rng.normal(0.0, err_sd, m))
    overall = ordinal_from_latent(y, cuts)
    rq_latent = (p.record_quality_correlation * y
                 + np.sqrt(1 - p.record_quality_correlation**2) * rng.normal(0.0, 1.0, m))
    content = review_content(rng, overall, applies[case], rq_latent, procedural[case], p)
    delay = np.minimum(
        np.ceil(rng.gamma(p.review_delay_shape, p.review_delay_mean_days / p.review_delay_shape,
                          m)),
        p.review_delay_max_days,
    ).astype(np.int64)
    review_date = np.minimum(mix.death_date[case] + delay, today_d)
    status = _status(rng, p, n_months - 1 - month_i[case])

    step("second-stage reviews")
    link = _second_stage_links(rng, p, case, overall, stage, status)
    s = len(link)
    s_org = org_i[case[link]]
    senior = np.floor(rng.random(s) * n_senior[s_org]).astype(np.int64)
    senior = np.where(senior == reviewer[link], (senior + 1) % n_senior[s_org], senior)
    off = np.asarray(p.second_stage_offset_distribution, dtype=float)
    overall2 = np.clip(overall[link] + rng.choice(np.arange(-2, 3), size=s, p=off / off.sum()),
                       1, 5)
    rq2 = 0.8 * rq_latent[link] + 0.6 * rng.normal(0.0, 1.0, s)
    content2 = review_content(rng, overall2, applies[case[link]], rq2, procedural[case[link]], p)
    avoid_table = np.asarray(p.avoidability_by_overall, dtype=float)
    avoid_cum = np.cumsum(avoid_table / avoid_table.sum(axis=1, keepdims=True), axis=1)
    avoid = np.minimum((rng.random(s)[:, None] > avoid_cum[overall2 - 1]).sum(axis=1), 5) + 1
    extra_days = np.minimum(p.second_stage_delay_min_days + np.ceil(rng.exponential(
        max(p.second_stage_delay_mean_days - p.second_stage_delay_min_days, 1.0), s)),
        p.second_stage_delay_max_days)
    date2 = np.minimum(review_date[link] + extra_days.astype(np.int64), today_d)
    status2 = _status(rng, p, n_months - 1 - month_i[case[link]])

    step("assembling frames")
    all_case = np.concatenate([case, case[link]])
    all_stage = np.concatenate([stage, np.full(s, _STAGE_SECOND)])
    order = np.lexsort((all_stage, all_case))  # cases are already in organisation, month order
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    t_case = all_case[order]
    t_org = org_i[t_case]
    org_first_row = np.searchsorted(t_org, np.arange(n_organisations))
    review_seq = np.arange(len(order)) - org_first_row[t_org] + 1
    org_first_case = np.searchsorted(org_i, np.arange(n_organisations))
    case_seq = t_case - org_first_case[org_i[t_case]] + 1
    t_codes = codes[t_org]
    review_ids = _join(codes, t_org, "-SJR", review_seq, 6)
    target = np.full(len(order), -1, dtype=np.int64)
    target[position[m + np.arange(s)]] = position[link]
    second_of = review_ids.take(target, allow_fill=True)

    all_reviewer = np.concatenate([reviewer, senior])[order]
    area = np.array([areas[c] for c in codes], dtype=object)
    postcode = _join(area, t_org, "", rng.integers(1, 20, len(order)), 1)
    no_postcode = rng.random(len(order)) >= p.postcode_district_share
    postcode = postcode.take(np.where(no_postcode, -1, np.arange(len(order))), allow_fill=True)
    death_date = mix.death_date[t_case]
    admission_date = death_date - mix.days_to_death[t_case]
    weekdays = np.array(WEEKDAYS, dtype=object)

    def merged(first: np.ndarray, second: np.ndarray) -> np.ndarray:
        return np.concatenate([first, second])[order]

    columns: dict[str, object] = {
        "review_id": review_ids,
        "case_id": _join(codes, t_org, "-C", case_seq, 6),
        "organisation_code": t_codes,
        "review_stage": np.where(all_stage[order] == _STAGE_SECOND, "second", "first"),
        "second_review_of": second_of,
        "status": merged(status, status2),
        "reviewer_id": _join(codes, t_org, "-RV", all_reviewer + 1, 3),
        "review_date": merged(review_date, date2).astype("datetime64[ns]"),
        "review_reasons": reason_strings(reasons[t_case]),
        "age_at_death": mix.age[t_case],
        "sex": mix.sex[t_case],
        "postcode_district": postcode,
        "admission_weekday": weekdays[(admission_date.astype(np.int64) + 3) % 7],
        "death_weekday": weekdays[(death_date.astype(np.int64) + 3) % 7],
        "arrival_hour": mix.arrival_hour[t_case],
        "death_hour": mix.death_hour[t_case],
        "days_to_death": mix.days_to_death[t_case],
        "death_month": month_str[month_i[t_case]],
        "specialty": mix.specialty[t_case],
        "location_of_death": mix.location[t_case],
        "admission_type": mix.admission_type[t_case],
        "cause_of_death": mix.cause_of_death[t_case],
        "learning_disability": ld_field[t_case],
        "severe_mental_illness": smi_field[t_case],
    }
    phase_cols = [score_column(ph) for ph in (*OPTIONAL_PHASES, "overall")]
    phase_cols += [comment_column(ph) for ph in (*OPTIONAL_PHASES, "overall")]
    for col in [*phase_cols, "record_quality_score", "any_problems",
                *(problem_column(t) for t in PROBLEM_TYPES)]:
        columns[col] = merged(content[col], content2[col])
    columns["avoidability_score"] = merged(np.full(m, np.nan), avoid.astype(float))
    columns["avoidability_scale"] = merged(np.full(m, None, dtype=object),
                                           np.full(s, "rcp", dtype=object))
    step("ext2026 questions")
    columns.update(_form_questions(seed, p, columns, t_case=t_case, months=months[month_i[t_case]],
                                   months_from_end=n_months - 1 - month_i[t_case],
                                   scottish=is_scot[t_org], reasons=reasons[t_case],
                                   second_stage=all_stage[order] == _STAGE_SECOND))
    reviews = _frame(columns)
    step("done")
    return SyntheticData(organisations, deaths_frame, reviews, scenarios, params, seed)


def _form_questions(seed: int, p: CalibrationParams, columns: dict[str, object], *,
                    t_case: np.ndarray, months: np.ndarray, months_from_end: np.ndarray,
                    scottish: np.ndarray, reasons: np.ndarray, second_stage: np.ndarray
                    ) -> dict[str, object]:
    """``form_version`` and the ext2026 answers and referrals of every review
    (:mod:`sjrlib.synthetic.ext2026`), from a random stream of their own."""
    ext = months >= np.datetime64(p.ext2026_from, "M")

    def scores(column: str) -> np.ndarray:
        values = np.asarray(columns[column], dtype=float)
        return np.nan_to_num(values, nan=0.0).astype(np.int64)

    answers, statuses, references = draw_ext2026(
        np.random.default_rng(np.random.SeedSequence([seed, EXT2026_SEED])), p,
        case=t_case, ext=ext, scottish=scottish,
        age=np.asarray(columns["age_at_death"], dtype=np.int64),
        learning_disability=np.asarray(columns["learning_disability"], dtype=object),
        medical_examiner_reason=(reasons >> REVIEW_REASONS.index("medical_examiner")) & 1 == 1,
        family_concern_reason=(reasons >> REVIEW_REASONS.index("family_concern")) & 1 == 1,
        second_stage=second_stage, overall=scores(score_column("overall")),
        end_of_life=scores(score_column("end_of_life")),
        avoidability=scores("avoidability_score"), months_from_end=months_from_end,
        death_year=months.astype("datetime64[Y]").astype(np.int64) + 1970,
        referral_types=REFERRAL_TYPES)
    out: dict[str, object] = {FORM_VERSION_COLUMN: np.where(ext, LATEST_VERSION, BASE_VERSION)}
    out.update(answers)
    for kind in REFERRAL_TYPES:
        out[referral_column(kind)] = statuses[kind]
        out[referral_ref_column(kind)] = references[kind]
    # What to fill is the registry's: a question added there without synthetic answers here
    # would leave the generated files short of a column.
    asked = set(registry().columns_not_in(BASE_VERSION))
    if asked != set(out) - {FORM_VERSION_COLUMN}:
        missing = sorted(asked - set(out))
        raise ValueError(f"the synthetic generator has no answers for {', '.join(missing)} "
                         "(sjrlib.synthetic.ext2026)" if missing else
                         "the synthetic generator answers questions the registry does not ask: "
                         f"{', '.join(sorted(set(out) - asked - {FORM_VERSION_COLUMN}))}")
    return out


def _join(
    prefixes: np.ndarray, which: np.ndarray, infix: str, numbers: np.ndarray, width: int
) -> pd.api.extensions.ExtensionArray:
    """``prefixes[which] + infix + numbers`` (zero-padded to ``width``) as a string array,
    built with Arrow's vectorised string kernels rather than a Python loop."""
    left = pa.array(prefixes.tolist(), type=pa.string()).take(pa.array(which))
    right = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width, "0")
    joined = pc.binary_join_element_wise(left, right, infix)
    return pd.array(joined, dtype="string")


def _strings(values: np.ndarray, dtype: str) -> pd.api.extensions.ExtensionArray:
    """Object array (``None`` = blank) as a string array; most columns hold few distinct
    values, so convert the distinct values once and take."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    return pd.array(np.asarray(uniques, dtype=object), dtype=dtype).take(codes, allow_fill=True)


def _frame(columns: dict[str, object]) -> pd.DataFrame:
    data = {}
    for col in REVIEW_COLUMNS:
        dtype = REVIEW_DTYPES[col]
        values = columns[col]
        if isinstance(values, pd.api.extensions.ExtensionArray):
            data[col] = values
        elif dtype == "Int64":
            data[col] = pd.array(np.asarray(values, dtype=float), dtype="Int64")
        elif dtype.startswith("datetime64"):
            data[col] = pd.Series(values).astype(dtype)
        else:
            data[col] = _strings(values, dtype)
    return pd.DataFrame(data).astype(REVIEW_DTYPES)


def _applicability(
    rng: np.random.Generator, p: CalibrationParams, surgical: np.ndarray, days: np.ndarray
) -> np.ndarray:
    """Whether each optional phase applies to each case (cases x ``OPTIONAL_PHASES``)."""
    n = len(surgical)
    out = np.zeros((n, len(OPTIONAL_PHASES)), dtype=bool)
    for j, phase in enumerate(OPTIONAL_PHASES):
        rate = np.full(n, p.phase_applicability[phase])
        if phase == "perioperative":
            # Operations concentrate in surgical and elective cases; keep the overall share.
            n_surg = int(surgical.sum())
            rest = (p.phase_applicability[phase] * n - 0.75 * n_surg) / max(n - n_surg, 1)
            rate = np.where(surgical, 0.75, max(rest, 0.0))
        out[:, j] = rng.random(n) < rate
        if phase == "ongoing":
            out[:, j] &= days >= 1  # no ongoing care after dying on the day of arrival
    return out


def _status(rng: np.random.Generator, p: CalibrationParams, months_from_end: np.ndarray):
    """Draft (recent), locked (older) or submitted."""
    u = rng.random(len(months_from_end))
    recent = months_from_end < p.recent_months
    draft = u < np.where(recent, p.draft_share_recent, p.draft_share_older)
    locked = ~draft & (months_from_end >= p.lock_after_months) & (
        rng.random(len(u)) < p.locked_share)
    return np.where(draft, "draft", np.where(locked, "locked", "submitted")).astype(object)


def _second_stage_links(
    rng: np.random.Generator,
    p: CalibrationParams,
    case: np.ndarray,
    overall: np.ndarray,
    stage: np.ndarray,
    status: np.ndarray,
) -> np.ndarray:
    """Indexes of the first-stage reviews that get a second-stage review.

    Per case, the worst non-draft first-stage review (the original on a tie) is the one a
    second stage would follow; poor or very poor care goes on with ``second_stage_share_poor``,
    other care with ``second_stage_share_other``.
    """
    rows = np.flatnonzero(status != "draft")
    rows = rows[np.lexsort((stage[rows], overall[rows], case[rows]))]
    _, first = np.unique(case[rows], return_index=True)
    link = rows[first]
    share = np.where(overall[link] <= 2, p.second_stage_share_poor, p.second_stage_share_other)
    return link[rng.random(len(link)) < share]
