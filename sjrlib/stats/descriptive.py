"""Descriptive statistics of reviews: care scores, poor care, problems in care, avoidability.

Every function takes a validated review frame (``sjrlib.domain.REVIEW_COLUMNS``; extra columns
such as ``nation``, ``region`` or ``version`` are ignored, and can be grouped by) and returns a
tidy ``pandas.DataFrame`` whose columns are documented in the function. ``by`` names zero or more
grouping keys:

* any column of the frame (``organisation_code``, ``specialty``, ``admission_type``,
  ``learning_disability``, ``sex``, ``region`` ...); a missing value forms its own group (``<NA>``);
* a period of the month of death: ``"month"``, ``"quarter"`` (financial quarter, ``"2023/24 Q1"``
  = April-June 2023), ``"financial_year"`` (April-March, ``"2023/24"``), ``"calendar_year"``;
* ``"review_reason"``: one group per reason id; a review with several reasons counts once in
  each, so these groups can add up to more than the total.

Only groups that occur are listed, in sorted key order (vocabulary order for coded columns).

Which reviews count
-------------------
* Drafts are excluded (``include_drafts=True`` to include them): a draft is unfinished work.
* Review-level tables (care scores, poor care, problems) use one review per case, the *primary*
  review of the chosen ``stage``: for ``"first"`` (default) the earliest first-stage review of the
  case (``review_date``, then ``review_id``), so a second reviewer's review done to measure
  inter-rater reliability is not counted twice; for ``"second"`` the latest second-stage review.
  A case is ``(organisation_code, case_id)``.
* Avoidability tables are per *case* and use the case's avoidability: the score of its final
  second-stage review if there is one, otherwise the first-stage score if one was given (see
  :mod:`sjrlib.stats.lfd`).

Confidence intervals on few cases
---------------------------------
Intervals (Wilson here, Wald for kappa in :mod:`sjrlib.stats.agreement`) are computed for every
group with at least one case: they are statistics, and the reference tests check them on small
hand-made frames. The programme's rule (``shared/spec/privacy-and-disclosure.md``: complex
statistics must not be computed on fewer than :data:`MIN_CASES_FOR_INTERVAL` = 8 cases) is a
rule for what is *published*: apply :func:`withhold_small_intervals` to a table before showing
it, which blanks ``ci_lower``/``ci_upper`` where the interval's denominator is below 8. (The
report tables of :mod:`sjrlib.report.tables` show an interval only beside a rate that
disclosure control lets through, 8 or more cases under the default rule.)

References
----------
Royal College of Physicians, "Using the structured judgement review method: data collection
form" (2017). National Quality Board, "National Guidance on Learning from Deaths" (2017).
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist

import numpy as np
import pandas as pd

from sjrlib import domain
from sjrlib.stats._reviews import ReviewIndex, table_frame

__all__ = [
    "MIN_CASES_FOR_INTERVAL",
    "avoidability_distribution",
    "care_score_distribution",
    "more_likely_than_not",
    "poor_care",
    "problem_count_distribution",
    "problem_frequency",
    "problems_per_review",
    "wilson_interval",
    "withhold_small_intervals",
]

By = Sequence[str] | str | None


def wilson_interval(count, nobs, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion, elementwise.

    Parameters
    ----------
    count, nobs : int or array_like of int
        Successes and trials. Where ``nobs`` is 0 the interval is ``(nan, nan)``.
    alpha : float
        1 - confidence level (0.05 gives a 95% interval).

    Returns
    -------
    lower, upper : numpy.ndarray
        Bounds in ``[0, 1]`` with ``lower <= count/nobs <= upper``.

    Notes
    -----
    The formula of ``statsmodels.stats.proportion.proportion_confint(method="wilson")``, written
    out here so that the dashboards need neither statsmodels nor scipy to draw (about a CPU
    second and 100 MB per kernel); the critical value comes from :class:`statistics.NormalDist`
    and agrees with statsmodels' to about 1e-15 (tested). The Wilson
    interval keeps its coverage near nominal for small counts and proportions near 0 or 1, where
    the normal (Wald) interval fails (Brown, Cai and DasGupta 2001). Check: 18 of 20 gives
    [0.699, 0.972].

    References
    ----------
    Wilson EB. Probable inference, the law of succession, and statistical inference. J Am Stat
    Assoc 1927;22:209-12. Brown LD, Cai TT, DasGupta A. Interval estimation for a binomial
    proportion. Stat Sci 2001;16:101-33.
    """
    count = np.atleast_1d(np.asarray(count, dtype=np.float64))
    nobs = np.atleast_1d(np.asarray(nobs, dtype=np.float64))
    count, nobs = np.broadcast_arrays(count, nobs)
    if (count < 0).any() or (count > nobs).any():
        raise ValueError("wilson_interval needs 0 <= count <= nobs")
    lower = np.full(count.shape, np.nan)
    upper = np.full(count.shape, np.nan)
    ok = nobs > 0
    if ok.any():
        q, n = count[ok] / nobs[ok], nobs[ok]
        crit = NormalDist().inv_cdf(1 - alpha / 2)
        crit2 = crit**2
        denom = 1 + crit2 / n
        center = (q + crit2 / (2 * n)) / denom
        dist = crit * np.sqrt(q * (1.0 - q) / n + crit2 / (4.0 * n**2)) / denom
        lo, hi = center - dist, center + dist
        # Clip rounding noise (e.g. 1 - 1e-17) so bounds are exactly within [0, 1].
        lower[ok] = np.clip(lo, 0.0, 1.0)
        upper[ok] = np.clip(hi, 0.0, 1.0)
        lower[ok & (count == 0)] = 0.0
        upper[ok & (count == nobs)] = 1.0
    return lower, upper


MIN_CASES_FOR_INTERVAL = 8
"""Fewest cases an interval may be published on (``shared/spec/privacy-and-disclosure.md``:
complex statistics such as confidence intervals must not be computed on fewer than 8 cases)."""

_INTERVAL_COLUMNS = ("ci_lower", "ci_upper")


def withhold_small_intervals(
    table: pd.DataFrame,
    *,
    n: str | None = None,
    min_cases: int = MIN_CASES_FOR_INTERVAL,
) -> pd.DataFrame:
    """A copy of a statistics table with its confidence intervals blanked (NaN) where they rest
    on fewer than ``min_cases`` cases.

    Parameters
    ----------
    table : pandas.DataFrame
        A table with ``ci_lower``/``ci_upper`` columns: :func:`poor_care`,
        :func:`problem_frequency`, :func:`more_likely_than_not`,
        :func:`sjrlib.stats.agreement.agreement_summary`.
    n : str, optional
        The column holding each interval's number of cases (its denominator). Default: ``"n"``
        if the table has it, else ``"n_reviews"`` (:func:`problem_frequency`).
    min_cases : int
        Default :data:`MIN_CASES_FOR_INTERVAL` (8).

    Returns
    -------
    pandas.DataFrame
        Same shape, columns and other values; only interval bounds change, to NaN.

    Notes
    -----
    The statistics functions compute intervals on any number of cases (see the module
    docstring); this applies the publication rule. Point estimates are left alone: whether a
    rate on few cases may be shown is disclosure control (:mod:`sjrlib.disclosure`).
    """
    if n is None:
        n = "n" if "n" in table.columns else "n_reviews"
    missing = [c for c in (n, *_INTERVAL_COLUMNS) if c not in table.columns]
    if missing:
        raise ValueError(f"the table has no column(s) {missing}; expected a statistics table "
                         "with an interval and its number of cases")
    few = table[n].to_numpy(dtype=np.float64, na_value=np.nan) < min_cases
    out = table.copy()
    for column in _INTERVAL_COLUMNS:
        out[column] = out[column].mask(few)
    return out


def _percent(count: np.ndarray, total: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 100.0 * count / np.where(total > 0, total, 1), np.nan)


def _proportion_columns(count: np.ndarray, n: np.ndarray, alpha: float) -> dict[str, np.ndarray]:
    lo, hi = wilson_interval(count, n, alpha)
    with np.errstate(invalid="ignore", divide="ignore"):
        prop = np.where(n > 0, count / np.where(n > 0, n, 1), np.nan)
    return {"proportion": prop, "ci_lower": lo, "ci_upper": hi}


# ---------------------------------------------------------------------------- care scores
def care_score_distribution(
    reviews: pd.DataFrame,
    by: By = None,
    *,
    phases: Sequence[str] = domain.PHASES,
    stage: str = "first",
    include_drafts: bool = False,
) -> pd.DataFrame:
    """Distribution of care scores per phase of care.

    Parameters
    ----------
    reviews : pandas.DataFrame
        Validated review frame.
    by : str or list of str, optional
        Grouping keys (see the module docstring); ``None`` for the overall table.
    phases : sequence of str
        Phase ids (default all, ``overall`` last).
    stage : {"first", "second"}
        Which review of each case counts (see the module docstring).
    include_drafts : bool
        Count draft reviews too.

    Returns
    -------
    pandas.DataFrame
        One row per group x phase x score 1-5, columns ``*by``, ``phase``, ``score``,
        ``label`` (exact care-score label), ``count`` (reviews with that score),
        ``n_applicable`` (reviews scoring the phase), ``n_reviews`` (reviews in the group),
        ``percent`` (``100 * count / n_applicable``; NaN when nothing applicable).

    Notes
    -----
    A phase left blank is *not applicable* to that review and is excluded from the percentage
    denominator; ``n_reviews - n_applicable`` is the number not applicable.
    """
    return _care_scores(ReviewIndex(reviews, include_drafts=include_drafts), by, phases, stage)


def _care_scores(index: ReviewIndex, by: By, phases: Sequence[str], stage: str) -> pd.DataFrame:
    _check_phases(phases)
    groups, profile, table = _profile_table(index, by, stage, "phase_scores")
    n_scores = len(domain.CARE_SCORES)
    # groups x combinations of the six phase scores, then one small product per phase.
    blocks = []
    for phase in phases:
        counts = table @ profile.indicator(domain.PHASES.index(phase), n_scores + 1)
        blocks.append((counts[:, 1:], counts[:, 1:].sum(axis=1), counts.sum(axis=1)))
    inner = {
        "phase": pd.array(np.repeat(list(phases), n_scores), dtype="string"),
        "score": pd.array(np.tile(domain.CARE_SCORES, len(phases)), dtype="Int64"),
        "label": pd.array(np.tile([domain.label("care_score", s) for s in domain.CARE_SCORES],
                                  len(phases)), dtype="string"),
    }
    counts = np.stack([b[0] for b in blocks], axis=1).reshape(-1)
    applicable = np.repeat(np.stack([b[1] for b in blocks], axis=1).reshape(-1), n_scores)
    n_reviews = np.repeat(np.stack([b[2] for b in blocks], axis=1).reshape(-1), n_scores)
    return table_frame(groups, {
        "count": counts.astype(np.int64),
        "n_applicable": applicable.astype(np.int64),
        "n_reviews": n_reviews.astype(np.int64),
        "percent": _percent(counts, applicable),
    }, inner)


def _profile_table(index: ReviewIndex, by: By, stage: str, name: str):
    """``(groups, profile, table)``: the stage's primary reviews grouped by ``by``, and their
    counts groups x combinations of the profile ``name`` (``"phase_scores"`` or
    ``"problems"``). Cached on the index, so tables of the same grouping share one count."""
    groups = index.groups(index.stage_rows(stage), by, tag=stage)
    profile = _score_profile(index) if name == "phase_scores" else _problem_profile(index)
    key = ("profile_table", name, stage, tuple(groups.names))
    if key not in index._cache:
        rows_key = ("profile_rows", name, stage)
        if rows_key not in index._cache:
            # The combination code of each primary review, gathered once for every grouping.
            index._cache[rows_key] = profile.codes[groups.rows]
        index._cache[key] = groups.count(index._cache[rows_key], profile.values.shape[0])
    return groups, profile, index._cache[key]


def _score_profile(index: ReviewIndex):
    return index.profile(
        "phase_scores",
        [index.ints(domain.score_column(p), low=1, high=5) for p in domain.PHASES],
        len(domain.CARE_SCORES) + 1,
    )


def poor_care(
    reviews: pd.DataFrame,
    by: By = None,
    *,
    phase: str = "overall",
    stage: str = "first",
    alpha: float = 0.05,
    include_drafts: bool = False,
) -> pd.DataFrame:
    """Proportion of reviews with poor or very poor care (score 1-2) in one phase, with a
    Wilson confidence interval.

    Returns
    -------
    pandas.DataFrame
        Columns ``*by``, ``n`` (reviews scoring the phase), ``poor`` (scores 1 or 2),
        ``proportion`` (``poor / n``), ``ci_lower``, ``ci_upper`` (Wilson, level ``1 - alpha``).

    Notes
    -----
    Reviews where the phase is not applicable are left out of ``n``. The interval is the Wilson
    score interval (:func:`wilson_interval`), which treats reviews as independent Bernoulli
    trials; it says nothing about case-mix or about which deaths were selected for review.
    It is computed for any ``n`` >= 1; before publishing, blank those on fewer than 8 reviews
    with :func:`withhold_small_intervals` (see the module docstring).
    """
    index = ReviewIndex(reviews, include_drafts=include_drafts)
    return _poor_care(index, by, phase, stage, alpha)


def _poor_care(index: ReviewIndex, by: By, phase: str, stage: str, alpha: float,
               *, from_profile: bool = False) -> pd.DataFrame:
    """``from_profile=True`` reads the phase's score counts off the cached table of all six
    phase scores (:func:`_profile_table`, shared with the care-score table; needs every score
    column); otherwise counts the one score column. Same numbers (tested)."""
    _check_phases([phase])
    if from_profile:
        groups, profile, combos = _profile_table(index, by, stage, "phase_scores")
        table = combos @ profile.indicator(domain.PHASES.index(phase),
                                           len(domain.CARE_SCORES) + 1)
    else:
        groups = index.groups(index.stage_rows(stage), by, tag=stage)
        scores = index.ints(domain.score_column(phase), low=1, high=5)[groups.rows]
        table = groups.count(scores, len(domain.CARE_SCORES) + 1)
    n = table[:, 1:].sum(axis=1)
    poor = table[:, list(domain.POOR_CARE)].sum(axis=1)
    return table_frame(groups, {
        "n": n.astype(np.int64),
        "poor": poor.astype(np.int64),
        **_proportion_columns(poor, n, alpha),
    })


def _check_phases(phases: Sequence[str]) -> None:
    unknown = [p for p in phases if p not in domain.PHASES]
    if unknown:
        raise ValueError(f"unknown phase(s) {unknown}; expected ids from {domain.PHASES}")


# ---------------------------------------------------------------------------- problems
def _problem_profile(index: ReviewIndex):
    """Combinations of the eight problem columns (0 = absent, 1.. = harm in HARM_VALUES order)."""
    return index.profile(
        "problems",
        [index.vocab_codes(domain.problem_column(t), domain.HARM_VALUES)
         for t in domain.PROBLEM_TYPES],
        len(domain.HARM_VALUES) + 1,
    )


def problem_frequency(
    reviews: pd.DataFrame,
    by: By = None,
    *,
    stage: str = "first",
    alpha: float = 0.05,
    include_drafts: bool = False,
) -> pd.DataFrame:
    """How often each type of problem in care was recorded, with the harm answers.

    Returns
    -------
    pandas.DataFrame
        One row per group x problem type (spec order), columns ``*by``, ``problem_type``,
        ``label``, ``n_reviews`` (reviews in the group), ``count`` (reviews recording the
        problem), ``percent`` (of ``n_reviews``), ``ci_lower``, ``ci_upper`` (Wilson interval of
        ``count / n_reviews`` as proportions), and ``harm_no``, ``harm_probably``, ``harm_yes``
        (how many of ``count`` answered "Did the problem lead to harm?" No / Probably / Yes).

    Notes
    -----
    The unit is the review (one per case, see the module docstring): a review records each type
    at most once, so ``count`` is the number of reviews with at least one problem of that type.
    Intervals are computed for any ``n_reviews`` >= 1; :func:`withhold_small_intervals` blanks
    those on fewer than 8 reviews for publication.
    """
    index = ReviewIndex(reviews, include_drafts=include_drafts)
    return _problem_frequency(index, by, stage, alpha)


def _problem_frequency(index: ReviewIndex, by: By, stage: str, alpha: float) -> pd.DataFrame:
    groups, profile, table = _profile_table(index, by, stage, "problems")
    n_harm = len(domain.HARM_VALUES)
    stacked = np.stack([table @ profile.indicator(j, n_harm + 1)
                        for j in range(len(domain.PROBLEM_TYPES))], axis=1)
    inner = {
        "problem_type": pd.array(list(domain.PROBLEM_TYPES), dtype="string"),
        "label": pd.array([domain.label("problem_type", t) for t in domain.PROBLEM_TYPES],
                          dtype="string"),
    }
    flat = stacked.reshape(-1, n_harm + 1)
    n_reviews = flat.sum(axis=1)
    count = flat[:, 1:].sum(axis=1)
    lo, hi = wilson_interval(count, n_reviews, alpha)
    return table_frame(groups, {
        "n_reviews": n_reviews.astype(np.int64),
        "count": count.astype(np.int64),
        "percent": _percent(count, n_reviews),
        "ci_lower": lo,
        "ci_upper": hi,
        **{f"harm_{harm}": flat[:, i + 1].astype(np.int64)
           for i, harm in enumerate(domain.HARM_VALUES)},
    }, inner)


def _problem_totals(index: ReviewIndex, rows: np.ndarray) -> np.ndarray:
    if "problem_totals" not in index._cache:
        profile = _problem_profile(index)
        per_combination = (profile.values > 0).sum(axis=1)
        index._cache["problem_totals"] = per_combination[profile.codes]
    return index._cache["problem_totals"][rows]


def problems_per_review(
    reviews: pd.DataFrame,
    by: By = None,
    *,
    stage: str = "first",
    include_drafts: bool = False,
) -> pd.DataFrame:
    """Number of problem types recorded per review: mean, spread and share with any.

    Returns
    -------
    pandas.DataFrame
        Columns ``*by``, ``n_reviews``, ``total_problems`` (sum over reviews of the number of
        problem types recorded), ``mean`` (``total_problems / n_reviews``), ``sd`` (sample
        standard deviation, ``ddof=1``; NaN for one review), ``with_any`` (reviews with at least
        one problem), ``percent_with_any``.

    Notes
    -----
    Counts problem *types* (0-8 per review): the form records whether each type occurred, not
    how many times.
    """
    index = ReviewIndex(reviews, include_drafts=include_drafts)
    return _problems_per_review(index, by, stage)


def _problems_per_review(index: ReviewIndex, by: By, stage: str) -> pd.DataFrame:
    # From the groups x problem-combination table: each combination has a fixed number of
    # problem types, so the sums over reviews are products with that (integer) vector.
    groups, profile, table = _profile_table(index, by, stage, "problems")
    per_combination = (profile.values > 0).sum(axis=1).astype(np.int64)
    n = table.sum(axis=1)
    total = table @ per_combination
    squares = table @ per_combination**2
    with_any = table @ (per_combination > 0).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, total / np.where(n > 0, n, 1), np.nan)
        var = np.where(n > 1, (squares - n * mean**2) / np.where(n > 1, n - 1, 1), np.nan)
    return table_frame(groups, {
        "n_reviews": n.astype(np.int64),
        "total_problems": total.astype(np.int64),
        "mean": mean,
        "sd": np.sqrt(np.clip(var, 0.0, None)),
        "with_any": with_any.astype(np.int64),
        "percent_with_any": _percent(with_any, n),
    })


def problem_count_distribution(
    reviews: pd.DataFrame,
    by: By = None,
    *,
    stage: str = "first",
    include_drafts: bool = False,
) -> pd.DataFrame:
    """Distribution of the number of problem types per review (0 to 8).

    Returns
    -------
    pandas.DataFrame
        One row per group x number 0-8, columns ``*by``, ``problems``, ``count`` (reviews),
        ``n_reviews``, ``percent``.
    """
    index = ReviewIndex(reviews, include_drafts=include_drafts)
    groups = index.groups(index.stage_rows(stage), by, tag=stage)
    n_values = len(domain.PROBLEM_TYPES) + 1
    table = groups.count(_problem_totals(index, groups.rows), n_values)
    counts = table.reshape(-1)
    n = np.repeat(table.sum(axis=1), n_values)
    return table_frame(groups, {
        "count": counts.astype(np.int64),
        "n_reviews": n.astype(np.int64),
        "percent": _percent(counts, n),
    }, {"problems": pd.array(np.arange(n_values), "Int64")})


# ---------------------------------------------------------------------------- avoidability
def avoidability_distribution(
    reviews: pd.DataFrame,
    by: By = None,
    *,
    include_drafts: bool = False,
) -> pd.DataFrame:
    """Reviewed cases by avoidability of death (RCP scale 1-6), per case.

    Returns
    -------
    pandas.DataFrame
        One row per group x score 1-6, columns ``*by``, ``score``, ``label``, ``count`` (cases),
        ``n_scored`` (cases with a score), ``n_cases`` (reviewed cases), ``percent``
        (``100 * count / n_scored``).

    Notes
    -----
    A case's avoidability is the score of its final second-stage review if any, otherwise its
    first-stage score if given (first-stage scores are optional). Group keys are read from the
    case's primary first-stage review (or, for a case seen only at second stage, its earliest
    second-stage review).
    """
    index = ReviewIndex(reviews, include_drafts=include_drafts)
    return _avoidability_distribution(index, by)


def _case_table(index: ReviewIndex, by: By):
    """``(groups, table)``: reviewed cases grouped by ``by`` and counted groups x case
    avoidability (0 = not scored, 1-6); cached, shared by the avoidability tables."""
    cases = index.cases()
    groups = index.groups(cases.rows, by, tag="cases")
    key = ("case_table", tuple(groups.names))
    if key not in index._cache:
        if "case_avoidability_rows" not in index._cache:
            # groups.rows are the cases' rows (repeated for review_reason only through mixing).
            index._cache["case_avoidability_rows"] = cases.avoidability[
                index.case_position()[groups.rows]]
        index._cache[key] = groups.count(index._cache["case_avoidability_rows"],
                                         len(domain.AVOIDABILITY_SCORES) + 1)
    return groups, index._cache[key]


def _avoidability_distribution(index: ReviewIndex, by: By) -> pd.DataFrame:
    groups, table = _case_table(index, by)
    n_scores = len(domain.AVOIDABILITY_SCORES)
    inner = {
        "score": pd.array(domain.AVOIDABILITY_SCORES, dtype="Int64"),
        "label": pd.array([domain.label("avoidability_score", s)
                           for s in domain.AVOIDABILITY_SCORES], dtype="string"),
    }
    counts = table[:, 1:].reshape(-1)
    scored = np.repeat(table[:, 1:].sum(axis=1), n_scores)
    return table_frame(groups, {
        "count": counts.astype(np.int64),
        "n_scored": scored.astype(np.int64),
        "n_cases": np.repeat(table.sum(axis=1), n_scores).astype(np.int64),
        "percent": _percent(counts, scored),
    }, inner)


def more_likely_than_not(
    reviews: pd.DataFrame,
    by: By = None,
    *,
    denominator: str = "reviewed",
    alpha: float = 0.05,
    include_drafts: bool = False,
) -> pd.DataFrame:
    """Deaths judged more likely than not due to problems in care (avoidability 1-3), per case,
    with a Wilson confidence interval.

    Parameters
    ----------
    denominator : {"reviewed", "scored"}
        ``"reviewed"`` (default): all reviewed cases, as in Learning from Deaths publications
        (a case without an avoidability score was not judged avoidable); ``"scored"``: only cases
        with an avoidability score (usually those sent to second-stage review, hence poorer care:
        do not read this as a rate among all deaths).

    Returns
    -------
    pandas.DataFrame
        Columns ``*by``, ``n`` (denominator), ``count`` (cases scored 1-3), ``proportion``,
        ``ci_lower``, ``ci_upper``.

    Notes
    -----
    Avoidability per case as in :func:`avoidability_distribution`. The Wilson interval treats
    cases as independent; reviewed deaths are a selected sample, not a random one, so the
    interval describes the reviewed cases only. It is computed for any ``n`` >= 1;
    :func:`withhold_small_intervals` blanks those on fewer than 8 cases for publication.

    References
    ----------
    Hogan H et al. Preventable deaths due to problems in care in English acute hospitals
    (PRISM). BMJ Qual Saf 2012;21:737-45.
    """
    index = ReviewIndex(reviews, include_drafts=include_drafts)
    return _more_likely_than_not(index, by, denominator, alpha)


def _more_likely_than_not(index: ReviewIndex, by: By, denominator: str,
                          alpha: float) -> pd.DataFrame:
    if denominator not in ("reviewed", "scored"):
        raise ValueError(f"denominator must be 'reviewed' or 'scored', not {denominator!r}")
    groups, table = _case_table(index, by)
    n = table.sum(axis=1) if denominator == "reviewed" else table[:, 1:].sum(axis=1)
    count = table[:, list(domain.MORE_LIKELY_THAN_NOT)].sum(axis=1)
    return table_frame(groups, {
        "n": n.astype(np.int64),
        "count": count.astype(np.int64),
        **_proportion_columns(count, n, alpha),
    })
