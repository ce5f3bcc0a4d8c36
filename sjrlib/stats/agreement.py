"""Inter-rater reliability of SJR scores: kappa, Gwet's AC1/AC2, Krippendorff's alpha, ICC,
percentage agreement.

SJR judgements must be reproducible: a sample of cases is reviewed by two (or more) first-stage
reviewers independently. :func:`rating_pairs` and :func:`reliability_data` extract those
ratings from a review frame; the other functions take plain arrays.

Which ratings
-------------
First-stage, non-draft reviews that share a case (``organisation_code``, ``case_id``) and have
*different* ``reviewer_id``; if one reviewer reviewed the case twice only their earliest review
counts. Reviewers are ordered within a case by ``review_date`` then ``review_id``. Second-stage
reviews are not independent ratings (they are prompted by the first) and are left out.

References
----------
Cohen J. Weighted kappa. Psychol Bull 1968;70:213-20. Fleiss JL, Cohen J, Everitt BS. Large
sample standard errors of kappa and weighted kappa. Psychol Bull 1969;72:323-7. Shrout PE,
Fleiss JL. Intraclass correlations: uses in assessing rater reliability. Psychol Bull
1979;86:420-8. Krippendorff K. Computing Krippendorff's alpha-reliability. Annenberg School for
Communication, University of Pennsylvania, 2011. Gwet KL. Computing inter-rater reliability
and its variance in the presence of high agreement. Br J Math Stat Psychol 2008;61:29-48.
Gwet KL. Handbook of Inter-Rater Reliability, 4th ed. Advanced Analytics, 2014. Hutchinson A
et al. Qual Saf Health Care 2010;19:e10 (reliability of implicit case-note review).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import krippendorff
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats
from statsmodels.stats.inter_rater import cohens_kappa

from sjrlib import domain
from sjrlib.stats._reviews import ReviewIndex, _flat
from sjrlib.stats.descriptive import wilson_interval

__all__ = [
    "AgreementResult",
    "ICCResult",
    "KappaResult",
    "ReliabilityData",
    "agreement_summary",
    "icc",
    "AlphaInterval",
    "GwetResult",
    "gwet_ac",
    "gwet_ac_raters",
    "krippendorff_alpha",
    "krippendorff_alpha_interval",
    "percent_agreement",
    "rating_pairs",
    "RELIABILITY_STATISTICS",
    "reliability_data",
    "reliability_summary",
    "theme_agreement",
    "theme_code_pairs",
    "weighted_kappa",
]

ICC_KINDS: tuple[str, ...] = ("ICC(1,1)", "ICC(2,1)", "ICC(3,1)", "ICC(1,k)", "ICC(2,k)",
                              "ICC(3,k)")


class KappaResult(NamedTuple):
    """Cohen's kappa (weighted or not) with a large-sample Wald confidence interval."""

    kappa: float
    std_err: float
    ci_lower: float
    ci_upper: float
    n: int
    weights: str
    """``"unweighted"``, ``"linear"`` or ``"quadratic"``."""


class ICCResult(NamedTuple):
    """An intraclass correlation (Shrout & Fleiss 1979) with its F test and interval."""

    kind: str
    icc: float
    ci_lower: float
    ci_upper: float
    f_value: float
    df1: float
    df2: float
    p_value: float
    n_targets: int
    n_raters: int


class AgreementResult(NamedTuple):
    """Percentage agreement with a Wilson interval of the proportion."""

    agreements: int
    n: int
    proportion: float
    ci_lower: float
    ci_upper: float


class AlphaInterval(NamedTuple):
    """Krippendorff's alpha with a bootstrap percentile interval."""

    estimate: float
    ci_lower: float
    ci_upper: float
    n_units: int
    """Pairable units (cases with at least two ratings): what is resampled."""
    n_boot: int
    n_undefined: int
    """Replicates in which every resampled value was the same (alpha undefined), left out of
    the percentiles."""
    level: str
    seed: int | None


class ReliabilityData(NamedTuple):
    """Ratings as raters x units (NaN = no rating), as the ``krippendorff`` package takes them.

    Row ``i`` holds the ``i``-th reviewer of each case (in review order), not one person:
    reviewers differ from case to case. ``units`` names the case of each column."""

    data: np.ndarray
    units: pd.DataFrame


# ---------------------------------------------------------------------------- from reviews
class _Rated(NamedTuple):
    """The independent first-stage reviews of multiply-rated cases, in the order of
    ``(organisation_code, case_id, slot)``: their row positions, their rater slot in the case
    (0 = first reviewer) and the case's unit number (0.. in that order)."""

    positions: np.ndarray
    slot: np.ndarray
    unit: np.ndarray


def _multi_rated(index: ReviewIndex) -> _Rated:
    if "multi_rated" not in index._cache:
        index._cache["multi_rated"] = _multi_rated_uncached(index)
    return index._cache["multi_rated"]


def _multi_rated_uncached(index: ReviewIndex) -> _Rated:
    shared = index._shared_case(index.stage_mask("first"))
    key, date, rank = index.order_keys(shared)
    reviewer = pc.dictionary_encode(_flat(index.arrow("reviewer_id").take(pa.array(shared))))
    reviewer = reviewer.indices
    reviewer = pc.fill_null(reviewer, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    # Reviews of a case in order (date, then review id); a reviewer's repeat review is dropped.
    order = np.lexsort((rank, date, key))
    s_key, s_rev = key[order], reviewer[order]
    by_pair = np.lexsort((np.arange(order.size), s_rev, s_key))
    first_of_pair = np.ones(order.size, dtype=bool)
    first_of_pair[1:] = (s_key[by_pair][1:] != s_key[by_pair][:-1]) | (
        s_rev[by_pair][1:] != s_rev[by_pair][:-1])
    keep = np.zeros(order.size, dtype=bool)
    keep[by_pair[first_of_pair]] = True
    positions, keys = shared[order][keep], s_key[keep]
    start = np.ones(keys.size, dtype=bool)
    start[1:] = keys[1:] != keys[:-1]
    run = np.cumsum(start) - 1
    run_start = np.flatnonzero(start)
    slot = np.arange(keys.size) - run_start[run]
    size = np.bincount(run)[run] if keys.size else run
    multi = size >= 2
    positions, slot, run = positions[multi], slot[multi], run[multi]
    # Sort by organisation_code, then case_id (as strings; organisation codes are sorted
    # labels already, case ids are ranked among these few rows), then slot. The keys are
    # unique, so this is the order of a (stable) sort of the string columns.
    org = index.strings("organisation_code").codes[positions]
    case = pc.rank(_flat(index.arrow("case_id").take(pa.array(positions))),
                   sort_keys="ascending", tiebreaker="dense")
    case = case.to_numpy(zero_copy_only=False).astype(np.int64)
    order = np.lexsort((slot, case, org))
    positions, slot, run = positions[order], slot[order], run[order]
    # Number the units 0.. in this order.
    unit_start = np.ones(run.size, dtype=bool)
    unit_start[1:] = run[1:] != run[:-1]
    return _Rated(positions, slot, np.cumsum(unit_start) - 1)


def _rated_strings(index: ReviewIndex, positions: np.ndarray, column: str) -> pd.Series:
    return pd.Series(pd.array(_flat(index.arrow(column).take(pa.array(positions))),
                              dtype="string"))


def _score_values(index: ReviewIndex, column: str, positions: np.ndarray) -> np.ndarray:
    high = 6 if column == "avoidability_score" else 5
    values = index.ints(column, low=1, high=high)[positions].astype(np.float64)
    values[values == 0] = np.nan
    return values


def rating_pairs(
    reviews: pd.DataFrame,
    score: str = "score_overall",
    *,
    include_drafts: bool = False,
) -> pd.DataFrame:
    """The first two independent first-stage ratings of each double-reviewed case.

    Parameters
    ----------
    reviews : pandas.DataFrame
        Validated review frame.
    score : str
        An integer score column: ``score_<phase>``, ``record_quality_score`` or
        ``avoidability_score``.

    Returns
    -------
    pandas.DataFrame
        One row per case, columns ``organisation_code``, ``case_id``, ``review_id_1``,
        ``review_id_2``, ``reviewer_id_1``, ``reviewer_id_2``, ``rating_1``, ``rating_2``
        (``Int64``; ``<NA>`` when a reviewer left the item blank, e.g. a phase not applicable).

    Notes
    -----
    Only the first two reviewers of a case (by review date, then review id) form its pair, so
    each case contributes one pair; use :func:`reliability_data` to use every rating.
    """
    index = ReviewIndex(reviews, include_drafts=include_drafts)
    return _rating_pairs(index, score)


def _rating_pairs(index: ReviewIndex, score: str) -> pd.DataFrame:
    rated = _multi_rated(index)
    first, second = rated.positions[rated.slot == 0], rated.positions[rated.slot == 1]
    rating_1, rating_2 = _pair_values(index, score)
    return pd.DataFrame({
        "organisation_code": _rated_strings(index, first, "organisation_code"),
        "case_id": _rated_strings(index, first, "case_id"),
        "review_id_1": _rated_strings(index, first, "review_id"),
        "review_id_2": _rated_strings(index, second, "review_id"),
        "reviewer_id_1": _rated_strings(index, first, "reviewer_id"),
        "reviewer_id_2": _rated_strings(index, second, "reviewer_id"),
        "rating_1": pd.array(rating_1, dtype="Float64").astype("Int64"),
        "rating_2": pd.array(rating_2, dtype="Float64").astype("Int64"),
    })


def _pair_values(index: ReviewIndex, score: str) -> tuple[np.ndarray, np.ndarray]:
    """The first and second ratings of each multiply-rated case (NaN = left blank)."""
    rated = _multi_rated(index)
    values = _score_values(index, score, rated.positions)
    return values[rated.slot == 0], values[rated.slot == 1]


def reliability_data(
    reviews: pd.DataFrame,
    score: str = "score_overall",
    *,
    include_drafts: bool = False,
) -> ReliabilityData:
    """All independent first-stage ratings of multiply-reviewed cases, as raters x units.

    Returns
    -------
    ReliabilityData
        ``data``: float array, rows = 1st, 2nd, ... reviewer of a case, columns = cases, NaN for
        no rating; ``units``: frame of ``organisation_code``, ``case_id`` per column.
        Pass ``data`` to :func:`krippendorff_alpha`.
    """
    index = ReviewIndex(reviews, include_drafts=include_drafts)
    return _reliability_data(index, score)


def _reliability_data(index: ReviewIndex, score: str) -> ReliabilityData:
    rated = _multi_rated(index)
    first = rated.positions[rated.slot == 0]
    unit_frame = pd.DataFrame({
        "organisation_code": _rated_strings(index, first, "organisation_code"),
        "case_id": _rated_strings(index, first, "case_id"),
    })
    return ReliabilityData(_reliability_matrix(index, score), unit_frame)


def _reliability_matrix(index: ReviewIndex, score: str) -> np.ndarray:
    rated = _multi_rated(index)
    n_units = int(rated.unit.max()) + 1 if rated.unit.size else 0
    n_raters = int(rated.slot.max()) + 1 if rated.slot.size else 0
    data = np.full((n_raters, n_units), np.nan)
    data[rated.slot, rated.unit] = _score_values(index, score, rated.positions)
    return data


# ---------------------------------------------------------------------------- statistics
def _as_float(values) -> np.ndarray:
    """Ratings as floats with NaN for missing (pandas NA, None or NaN)."""
    if isinstance(values, pd.Series | pd.api.extensions.ExtensionArray):
        return pd.Series(values).astype("Float64").to_numpy(np.float64, na_value=np.nan)
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return pd.array(np.asarray(values, dtype=object), dtype="Float64").to_numpy(
            np.float64, na_value=np.nan)


def _paired(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = _as_float(a), _as_float(b)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a and b must be 1-D and of equal length (got {a.shape} and {b.shape})")
    both = ~(np.isnan(a) | np.isnan(b))
    return a[both], b[both]


def weighted_kappa(
    a,
    b,
    weights: str | None = "linear",
    *,
    categories: Sequence[float] | None = None,
    alpha: float = 0.05,
) -> KappaResult:
    """Cohen's kappa for two raters, weighted for ordered categories, with a confidence interval.

    Parameters
    ----------
    a, b : array_like
        Ratings of the same units by two raters; pairs with a missing rating are dropped.
    weights : {"linear", "quadratic", None}
        Disagreement weights ``|i - j|`` or ``(i - j)**2`` on the category *values*;
        ``None`` for unweighted kappa.
    categories : sequence of numbers, optional
        The full ordered scale (e.g. ``sjrlib.domain.CARE_SCORES``). Default: the values
        observed. Give it when a category may be unused, so that disagreement distances stay
        those of the scale.
    alpha : float
        1 - confidence level.

    Returns
    -------
    KappaResult

    Notes
    -----
    The point estimate and its large-sample variance (Fleiss, Cohen and Everitt 1969; the
    "ASE" of SAS PROC FREQ) come from ``statsmodels.stats.inter_rater.cohens_kappa``; the
    interval is Wald, ``kappa +/- z(1 - alpha/2) * ASE``, clipped to ``[-1, 1]``. It can be poor
    for small samples or kappa near 1; it is computed for any ``n`` >= 2, and must not be
    published on fewer than 8 pairs (:data:`~sjrlib.stats.descriptive.MIN_CASES_FOR_INTERVAL`;
    :func:`~sjrlib.stats.descriptive.withhold_small_intervals` applies that rule to
    :func:`agreement_summary`). Kappa is undefined (NaN) when both raters use a single
    category throughout. Equals ``sklearn.metrics.cohen_kappa_score`` when every category is
    observed.

    References
    ----------
    Cohen J. Weighted kappa. Psychol Bull 1968;70:213-20. Fleiss JL, Cohen J, Everitt BS. Large
    sample standard errors of kappa and weighted kappa. Psychol Bull 1969;72:323-7.
    """
    if weights not in ("linear", "quadratic", None):
        raise ValueError(f"weights must be 'linear', 'quadratic' or None, not {weights!r}")
    a, b = _paired(a, b)
    n = a.size
    label = weights or "unweighted"
    if n == 0:
        return KappaResult(np.nan, np.nan, np.nan, np.nan, 0, label)
    cats = np.unique(np.concatenate([a, b])) if categories is None else np.asarray(
        sorted(categories), dtype=np.float64)
    ia, ib = np.searchsorted(cats, a), np.searchsorted(cats, b)
    bad = (ia >= cats.size) | (ib >= cats.size)
    bad |= (cats[np.minimum(ia, cats.size - 1)] != a) | (cats[np.minimum(ib, cats.size - 1)] != b)
    if bad.any():
        value = a[bad][0] if (cats[np.minimum(ia, cats.size - 1)] != a).any() else b[bad][0]
        raise ValueError(f"rating {value!r} is not one of the categories {cats.tolist()}")
    k = cats.size
    table = np.bincount(ia * k + ib, minlength=k * k).reshape(k, k).astype(np.float64)
    if k < 2:
        return KappaResult(np.nan, np.nan, np.nan, np.nan, n, label)
    with np.errstate(invalid="ignore", divide="ignore"):
        if weights is None:
            res = cohens_kappa(table)
        else:
            res = cohens_kappa(table, weights=cats, wt=weights)
    kappa = float(res.kappa)
    # At perfect agreement the variance is 0 up to rounding (e.g. -1e-17): treat as 0.
    var = float(res.var_kappa)
    se = float(np.sqrt(max(var, 0.0))) if var > -1e-12 else np.nan
    z = stats.norm.ppf(1 - alpha / 2)
    lo, hi = kappa - z * se, kappa + z * se
    return KappaResult(kappa, se, float(np.clip(lo, -1, 1)), float(np.clip(hi, -1, 1)), n, label)


def krippendorff_alpha(
    reliability_data,
    level: str = "ordinal",
    *,
    value_domain: Sequence[float] | None = None,
) -> float:
    """Krippendorff's alpha for any number of raters with missing ratings.

    Parameters
    ----------
    reliability_data : array_like
        Raters x units, NaN for a missing rating (as the ``krippendorff`` package takes it).
    level : {"nominal", "ordinal", "interval", "ratio"}
        Level of measurement (the difference function).
    value_domain : sequence, optional
        All possible values (e.g. ``sjrlib.domain.CARE_SCORES``). For ``"ordinal"`` it matters:
        ordinal distances count the values in between, including unused ones.

    Returns
    -------
    float
        Alpha (1 = perfect agreement, 0 = chance); NaN when there are no pairable values or no
        variation at all.

    Notes
    -----
    Computed by ``krippendorff.alpha`` (Castro S., https://github.com/pln-fing-udelar/fast-krippendorff).
    Units with fewer than two ratings are not pairable and do not count. Reproduces the worked
    example of Krippendorff (2011): 0.743 (nominal), 0.815 (ordinal), 0.849 (interval).

    References
    ----------
    Krippendorff K. Computing Krippendorff's alpha-reliability. 2011.
    Hayes AF, Krippendorff K. Answering the call for a standard reliability measure for coding
    data. Commun Methods Meas 2007;1:77-89.
    """
    if level not in ("nominal", "ordinal", "interval", "ratio"):
        raise ValueError(f"unknown level {level!r}; expected nominal, ordinal, interval or ratio")
    data = np.asarray(reliability_data, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError("reliability_data must be 2-D: raters x units")
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    data = data[:, pairable]
    values = data[~np.isnan(data)]
    if values.size == 0 or (value_domain is None and np.unique(values).size < 2):
        return float("nan")
    kwargs = {}
    if value_domain is not None:
        domain_values = np.asarray(sorted(value_domain), dtype=np.float64)
        extra = np.setdiff1d(np.unique(values), domain_values)
        if extra.size:
            raise ValueError(f"rating {extra[0]!r} is not in value_domain {domain_values.tolist()}")
        kwargs["value_domain"] = domain_values
        if np.unique(values).size < 2:
            return float("nan")
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement=level,
                                    **kwargs))


def krippendorff_alpha_interval(
    reliability_data,
    level: str = "ordinal",
    *,
    value_domain: Sequence[float] | None = None,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int | None = 20261126,
) -> AlphaInterval:
    """Krippendorff's alpha with a bootstrap confidence interval (resampling units).

    Parameters
    ----------
    reliability_data : array_like
        Raters x units, NaN for a missing rating (e.g. ``reliability_data(reviews).data``).
    level, value_domain
        As in :func:`krippendorff_alpha`.
    n_boot : int
        Bootstrap replicates (2000 by default; percentile intervals want at least 1000).
    alpha : float
        1 - confidence level.
    seed : int or None
        Seed of ``numpy.random.default_rng``: the same data and seed give the same interval.
        Report it with ``n_boot``. ``None`` draws fresh entropy (not reproducible).

    Returns
    -------
    AlphaInterval
        ``estimate`` is :func:`krippendorff_alpha` of the data; ``ci_lower``/``ci_upper`` the
        ``alpha/2`` and ``1 - alpha/2`` quantiles (``numpy.quantile``, linear) of the replicate
        alphas. All NaN when alpha is undefined on the data.

    Notes
    -----
    Nonparametric bootstrap over units: each replicate draws ``n_units`` pairable units (cases
    rated at least twice) with replacement and recomputes alpha from their coincidences, so the
    interval reflects which cases happened to be double-reviewed (as for kappa, cases are taken
    as independent; raters are not resampled). Units with one rating carry no information on
    agreement and are left out, as alpha itself leaves them out. Alpha depends on the units
    only through each unit's counts of values, so a replicate is drawn as multinomial counts
    of the distinct count patterns (exactly the distribution of resampling the units
    themselves) and all replicates are computed at once: milliseconds for thousands of cases.
    The expected coincidences (and, for ``"ordinal"``, the distances, which depend on the
    marginal frequencies) are recomputed in every replicate. Replicates without variation have
    no alpha and are counted in ``n_undefined``; with many of them the interval is unreliable.
    This is not the KALPHA macro of Hayes & Krippendorff (2007), which resamples pairs of
    judgements within the observed coincidence matrix; the unit bootstrap is the one studied
    for alpha by Zapf et al. (2016). Like any interval, do not publish it on fewer than 8
    units (:data:`~sjrlib.stats.descriptive.MIN_CASES_FOR_INTERVAL`).

    References
    ----------
    Efron B, Tibshirani RJ. An Introduction to the Bootstrap. Chapman & Hall, 1993 (ch. 13,
    percentile intervals). Hayes AF, Krippendorff K. Answering the call for a standard
    reliability measure for coding data. Commun Methods Meas 2007;1:77-89. Zapf A et al.
    Measuring inter-rater reliability for nominal data - which coefficients and confidence
    intervals are appropriate? BMC Med Res Methodol 2016;16:93.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha!r}")
    if int(n_boot) < 1:
        raise ValueError(f"n_boot must be at least 1, not {n_boot!r}")
    estimate = krippendorff_alpha(reliability_data, level, value_domain=value_domain)
    data = np.asarray(reliability_data, dtype=np.float64)
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    n_units = int(pairable.sum())
    if np.isnan(estimate):
        return AlphaInterval(estimate, np.nan, np.nan, n_units, int(n_boot), int(n_boot), level,
                             seed)
    data = data[:, pairable]
    domain_values = (np.asarray(sorted(value_domain), dtype=np.float64)
                     if value_domain is not None else np.unique(data[~np.isnan(data)]))
    counts = (data.T[:, :, None] == domain_values[None, None, :]).sum(axis=1)
    patterns, frequency = np.unique(counts, axis=0, return_counts=True)
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n_units, frequency / n_units, size=int(n_boot))
    replicates = _alpha_replicates(patterns, weights, domain_values, level)
    defined = replicates[~np.isnan(replicates)]
    lo, hi = (np.quantile(defined, [alpha / 2, 1 - alpha / 2]) if defined.size
              else (np.nan, np.nan))
    return AlphaInterval(estimate, float(lo), float(hi), n_units, int(n_boot),
                         int(replicates.size - defined.size), level, seed)


def _alpha_replicates(patterns: np.ndarray, weights: np.ndarray, domain_values: np.ndarray,
                      level: str) -> np.ndarray:
    """Krippendorff's alpha of data made of ``weights[b, p]`` units with the value counts
    ``patterns[p]`` (units x values), for each row ``b`` of ``weights``; NaN where undefined.

    The formulas of ``krippendorff.alpha``: coincidences ``o = sum_u (n_u n_u' - diag n_u) /
    (m_u - 1)``, ``n_c = sum_k o_ck``, expected ``e = (n n' - diag n) / (n.. - 1)``, and
    ``alpha = 1 - sum(o d) / sum(e d)`` with the level's distances ``d``."""
    patterns = patterns.astype(np.float64)
    raters = patterns.sum(axis=1)
    per_unit = ((patterns[:, :, None] * patterns[:, None, :]
                 - patterns[:, :, None] * np.eye(patterns.shape[1])[None])
                / (raters - 1)[:, None, None])
    o = np.einsum("bp,pij->bij", weights.astype(np.float64), per_unit)
    n_v = o.sum(axis=1)
    total = n_v.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        e = ((n_v[:, :, None] * n_v[:, None, :] - n_v[:, :, None] * np.eye(n_v.shape[1])[None])
             / (total - 1)[:, None, None])
    v = domain_values
    if level == "nominal":
        d = (v[:, None] != v[None, :]).astype(np.float64)[None]
    elif level == "interval":
        d = ((v[:, None] - v[None, :]) ** 2)[None]
    elif level == "ratio":
        plus = v[:, None] + v[None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            d = np.where(plus != 0, (v[:, None] - v[None, :]) / np.where(plus != 0, plus, 1),
                         0.0)[None] ** 2
    else:  # ordinal: the values between i and j, counted by their frequency in this replicate
        i = np.arange(v.size)
        low, high = np.minimum.outer(i, i), np.maximum.outer(i, i)
        before = np.concatenate([np.zeros((n_v.shape[0], 1)), np.cumsum(n_v, axis=1)], axis=1)
        between = before[:, high + 1] - before[:, low]
        d = (between - (n_v[:, low] + n_v[:, high]) / 2) ** 2
    observed = (o * d).sum(axis=(1, 2))
    expected = (e * d).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(expected > 0, 1 - observed / np.where(expected > 0, expected, 1),
                        np.nan)


def _alphas(data: np.ndarray, scale: Sequence[int]) -> dict[str, float]:
    """Nominal, ordinal and interval alpha of one data set, counting values once: the units x
    values table (``value_counts``) is what ``krippendorff.alpha`` builds from the data."""
    levels = ("nominal", "ordinal", "interval")
    pairable = (~np.isnan(data)).sum(axis=0) >= 2 if data.size else np.zeros(0, dtype=bool)
    values = data[:, pairable]
    if not pairable.any() or np.unique(values[~np.isnan(values)]).size < 2:
        return dict.fromkeys(levels, float("nan"))
    domain_values = np.asarray(scale, dtype=np.float64)
    extra = np.setdiff1d(np.unique(values[~np.isnan(values)]), domain_values)
    if extra.size:
        raise ValueError(f"rating {extra[0]!r} is not in the scale {list(scale)}")
    counts = (values.T[:, :, None] == domain_values[None, None, :]).sum(axis=1)
    return {level: float(krippendorff.alpha(value_counts=counts, value_domain=domain_values,
                                            level_of_measurement=level))
            for level in levels}


def _anova(ratings: np.ndarray) -> dict[str, float]:
    n, k = ratings.shape
    grand = ratings.mean()
    ss_total = ((ratings - grand) ** 2).sum()
    ss_rows = k * ((ratings.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((ratings.mean(axis=0) - grand) ** 2).sum()
    ss_within = ss_total - ss_rows
    ss_error = ss_within - ss_cols
    return {
        "BMS": ss_rows / (n - 1),
        "WMS": ss_within / (n * (k - 1)),
        "JMS": ss_cols / (k - 1),
        "EMS": ss_error / ((n - 1) * (k - 1)),
    }


def icc(ratings, kind: str = "ICC(1,1)", *, alpha: float = 0.05) -> ICCResult:
    """Intraclass correlation of Shrout & Fleiss (1979), with F test and confidence interval.

    Parameters
    ----------
    ratings : array_like
        Targets x raters, complete (no missing ratings).
    kind : str
        ``"ICC(1,1)"`` one-way random (each target rated by different raters: the SJR design,
        where the two reviewers differ from case to case); ``"ICC(2,1)"`` two-way random,
        absolute agreement (the same random set of raters rated every target);
        ``"ICC(3,1)"`` two-way mixed, consistency (these raters only); ``"...(.,k)"`` the
        reliability of the mean of the k ratings.
    alpha : float
        1 - confidence level.

    Returns
    -------
    ICCResult

    Notes
    -----
    From the two-way ANOVA mean squares between targets (BMS), within targets (WMS), between
    judges (JMS) and residual (EMS): ICC(1,1) = (BMS - WMS)/(BMS + (k-1) WMS);
    ICC(2,1) = (BMS - EMS)/(BMS + (k-1) EMS + k (JMS - EMS)/n); ICC(3,1) = (BMS - EMS)/(BMS +
    (k-1) EMS); ICC(1,k) = (BMS - WMS)/BMS; ICC(2,k) = (BMS - EMS)/(BMS + (JMS - EMS)/n);
    ICC(3,k) = (BMS - EMS)/BMS. Intervals: exact F-based for types 1 and 3; for type 2 the
    Satterthwaite approximation of Fleiss & Shrout (1978) (as in Shrout & Fleiss 1979, and R's
    ``psych::ICC``). The p-value tests ICC = 0 (F = BMS/WMS for type 1, BMS/EMS otherwise).
    Reproduces Shrout & Fleiss's Table 2 example (ICC(1,1) .17, ICC(2,1) .29, ICC(3,1) .71).

    References
    ----------
    Shrout PE, Fleiss JL. Intraclass correlations: uses in assessing rater reliability. Psychol
    Bull 1979;86:420-8. Fleiss JL, Shrout PE. Approximate interval estimation for a certain
    intraclass correlation coefficient. Psychometrika 1978;43:259-62. McGraw KO, Wong SP.
    Forming inferences about some intraclass correlation coefficients. Psychol Methods
    1996;1:30-46.
    """
    if kind not in ICC_KINDS:
        raise ValueError(f"unknown ICC kind {kind!r}; expected one of {ICC_KINDS}")
    x = np.asarray(ratings, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise ValueError("ratings must be targets x raters with at least 2 of each")
    if np.isnan(x).any():
        raise ValueError("ratings must be complete: drop targets with a missing rating first")
    n, k = x.shape
    ms = _anova(x)
    bms, wms, jms, ems = ms["BMS"], ms["WMS"], ms["JMS"], ms["EMS"]
    model, average = kind[4], kind.endswith(",k)")
    q = 1 - alpha / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        if model == "1":
            df1, df2 = n - 1, n * (k - 1)
            f = bms / wms
            value = (bms - wms) / (bms + (k - 1) * wms)
            fl, fu = f / stats.f.ppf(q, df1, df2), f * stats.f.ppf(q, df2, df1)
            lo, hi = (fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1)
            if average:
                value, lo, hi = (bms - wms) / bms, 1 - 1 / fl, 1 - 1 / fu
        elif model == "3":
            df1, df2 = n - 1, (n - 1) * (k - 1)
            f = bms / ems
            value = (bms - ems) / (bms + (k - 1) * ems)
            fl, fu = f / stats.f.ppf(q, df1, df2), f * stats.f.ppf(q, df2, df1)
            lo, hi = (fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1)
            if average:
                value, lo, hi = (bms - ems) / bms, 1 - 1 / fl, 1 - 1 / fu
        else:
            df1, df2 = n - 1, (n - 1) * (k - 1)
            f = bms / ems
            value = (bms - ems) / (bms + (k - 1) * ems + k * (jms - ems) / n)
            fj = jms / ems
            rho = value
            c = n * (1 + (k - 1) * rho) - k * rho
            v = ((k - 1) * (n - 1) * (k * rho * fj + c) ** 2
                 / ((n - 1) * k**2 * rho**2 * fj**2 + c**2))
            f_star_l = stats.f.ppf(q, n - 1, v)
            f_star_u = stats.f.ppf(q, v, n - 1)
            lo = n * (bms - f_star_l * ems) / (
                f_star_l * (k * jms + (k * n - k - n) * ems) + n * bms)
            hi = n * (f_star_u * bms - ems) / (k * jms + (k * n - k - n) * ems + n * f_star_u * bms)
            if average:
                value = (bms - ems) / (bms + (jms - ems) / n)
                lo, hi = lo * k / (1 + lo * (k - 1)), hi * k / (1 + hi * (k - 1))
    p = float(stats.f.sf(f, df1, df2))
    return ICCResult(kind, float(value), float(lo), float(hi), float(f), float(df1), float(df2),
                     p, n, k)


# ---------------------------------------------------------------------------- Gwet's AC1/AC2
GWET_WEIGHTS: tuple[str, ...] = ("unweighted", "linear", "quadratic")


class GwetResult(NamedTuple):
    """Gwet's AC1 (unweighted) or AC2 (weighted) with its standard error and t interval."""

    estimate: float
    std_err: float
    ci_lower: float
    ci_upper: float
    p_value: float
    """Two-sided, of the t test of AC = 0 on ``n - 1`` degrees of freedom (irrCAC's)."""
    pa: float
    """Percent agreement (weighted for AC2), over subjects rated at least twice."""
    pe: float
    """Percent chance agreement."""
    n: int
    """Subjects with at least one rating: what the variance and the chance agreement use."""
    n_pairs: int
    """Subjects rated at least twice (by both raters, for two): what ``pa`` uses."""
    coefficient: str
    """``"AC1"`` or ``"AC2"`` (irrCAC's naming: AC1 when the weights are the identity)."""
    weights: str
    confidence_level: float

    @property
    def se(self) -> float:
        return self.std_err

    @property
    def standard_error(self) -> float:
        return self.std_err

    @property
    def ci_low(self) -> float:
        return self.ci_lower

    @property
    def ci_high(self) -> float:
        return self.ci_upper

    @property
    def interval(self) -> tuple[float, float]:
        return (self.ci_lower, self.ci_upper)


def _gwet_weights(q: int, weights: str) -> np.ndarray:
    """irrCAC's weights on the positions 1..q of the categories (``linear.weights(1:q)``)."""
    if weights not in GWET_WEIGHTS:
        raise ValueError(f"weights must be one of {GWET_WEIGHTS}, not {weights!r}")
    i = np.arange(q, dtype=np.float64)
    if weights == "unweighted" or q < 2:
        return np.eye(q)
    distance = np.abs(i[:, None] - i[None, :]) / (q - 1)
    return 1 - distance if weights == "linear" else 1 - distance**2


def _is_missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(isinstance(value, float | np.floating) and np.isnan(value))
    except TypeError:
        return False


def _category_codes(ratings, categories: Sequence, name: str) -> np.ndarray:
    """Positions of each rating in ``categories`` (-1 = missing), as a subjects x raters array."""
    if isinstance(ratings, pd.DataFrame):
        values = ratings.astype(object).to_numpy()
    else:
        values = np.asarray(ratings, dtype=object)
    if values.ndim != 2:
        raise ValueError(f"{name} must be subjects x raters (2-D)")
    lookup = {c: k for k, c in enumerate(categories)}
    codes = np.full(values.shape, -1, dtype=np.int64)
    for (row, col), value in np.ndenumerate(values):
        if _is_missing(value):
            continue
        try:
            codes[row, col] = lookup[value]
        except (KeyError, TypeError):
            raise ValueError(
                f"{name}: rating {value!r} (subject {row + 1}, rater {col + 1}) is not one of "
                f"the categories {list(categories)}; give the full category set, or mark a "
                "missing rating as None/NaN") from None
    return codes


def _check_categories(categories: Sequence) -> list:
    cats = list(categories)
    if len(cats) < 2:
        raise ValueError(f"categories must list at least two categories, got {cats!r}")
    if len(set(cats)) != len(cats):
        raise ValueError(f"categories must be distinct, got {cats!r}")
    return cats


def gwet_ac_raters(
    ratings,
    *,
    categories: Sequence,
    weights: str = "unweighted",
    alpha: float = 0.05,
) -> GwetResult:
    """Gwet's AC1/AC2 for any number of raters, with missing ratings (irrCAC ``gwet.ac1.raw``).

    Parameters
    ----------
    ratings : array_like or pandas.DataFrame
        Subjects x raters; a missing rating is None, NaN or ``pd.NA``.
    categories, weights, alpha
        As in :func:`gwet_ac`.

    Returns
    -------
    GwetResult

    Notes
    -----
    See :func:`gwet_ac`; with ``r`` raters, subject ``i`` rated by ``r_i`` of them contributes
    ``sum_k r_ik (r*_ik - 1) / (r_i (r_i - 1))`` to the percent agreement when ``r_i >= 2``,
    with ``r*_ik = sum_l w_kl r_il``. Reproduces irrCAC's documented output for its dataset
    ``cac.raw4raters`` (AC1 0.77544, SE 0.14295; quadratic AC2 0.914, SE 0.10396).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha!r}")
    cats = _check_categories(categories)
    codes = _category_codes(ratings, cats, "ratings")
    return _gwet_raw(codes, len(cats), weights, alpha)


def gwet_ac(
    ratings_a,
    ratings_b,
    *,
    categories: Sequence,
    weights: str = "unweighted",
    alpha: float = 0.05,
) -> GwetResult:
    """Gwet's AC1 (unweighted) or AC2 (weighted) for two raters, with a confidence interval.

    Parameters
    ----------
    ratings_a, ratings_b : array_like
        The two raters' ratings of the same subjects, in the same order: numbers or labels; a
        missing rating is None, NaN or ``pd.NA``.
    categories : sequence
        Every category a rater could choose, in scale order, used or not (e.g.
        ``sjrlib.domain.CARE_SCORES``; ``(False, True)`` for a yes/no item). It fixes the number
        of categories ``q`` in the chance agreement and, for AC2, the weights: they are computed
        on the categories' *positions* 1..q in this order, as irrCAC does when ``categ.labels``
        is given (for an equally spaced numeric scale such as the SJR scores this is the same as
        weighting by value). A rating outside ``categories`` is an error, not ignored.
    weights : {"unweighted", "linear", "quadratic"}
        ``"unweighted"`` gives AC1; ``"linear"`` (``1 - |k - l| / (q - 1)``) or ``"quadratic"``
        (``1 - (k - l)**2 / (q - 1)**2``) give AC2.
    alpha : float
        1 - confidence level.

    Returns
    -------
    GwetResult
        ``estimate``, ``std_err`` (alias ``se``), ``ci_lower``/``ci_upper`` (aliases
        ``ci_low``/``ci_high``), ``p_value``, ``pa``, ``pe``, ``n``, ``n_pairs``. NaN estimate
        when no subject has both ratings; NaN interval when ``n < 2``.

    Notes
    -----
    The formulas of Gwet (2014), chapters 2-4, as implemented in the R package irrCAC 1.0
    (``gwet.ac1.raw``, by Gwet) and the Python package irrCAC 0.4.4 (``CAC(...).gwet()``);
    this code was written from them and is tested against both to 1e-9 (reference values in
    ``tests/reference/gwet_ac.json``). With ``n`` subjects, ``pa`` = the mean over subjects
    rated by both of the weighted agreement ``w[a_i, b_i]``; ``pi_k`` = the mean over all ``n``
    subjects of the share of the subject's ratings in category ``k``; ``pe = T_w / (q (q - 1))
    sum_k pi_k (1 - pi_k)`` with ``T_w`` the sum of the weights (``q`` for AC1);
    ``AC = (pa - pe) / (1 - pe)``.

    Variance: conditional on the subjects, over the sampling of subjects (Gwet 2008, s. 4;
    irrCAC), ``v = 1 / (n (n - 1)) sum_i (AC*_i - AC)^2`` with the linearised subject terms
    ``AC*_i = (n / n_pairs) (pa_i - pe [i rated twice]) / (1 - pe) - 2 (1 - AC) (pe_i - pe) /
    (1 - pe)``, ``pe_i = T_w / (q (q - 1)) sum_k (r_ik / r_i) (1 - pi_k)``. No finite-population
    correction (irrCAC's ``N = Inf``). For complete data this is Gwet's (2008) two-rater formula
    (irrCAC ``gwet.ac1.table``) times ``n / (n - 1)``.

    Interval: **t** with ``n - 1`` degrees of freedom, ``AC +/- t(1 - alpha/2; n - 1) SE``; as
    in irrCAC the upper bound is capped at 1 and the lower bound is not bounded. It is computed
    for any ``n >= 2``; do not publish it on fewer than 8 subjects
    (:data:`~sjrlib.stats.descriptive.MIN_CASES_FOR_INTERVAL`).

    Missing ratings, as irrCAC: a subject rated by neither rater is dropped; a subject rated by
    one rater only counts in ``n`` and in the chance agreement (its rating says how the
    categories are used) but not in ``pa``. AC is undefined (NaN) only when no subject has
    both ratings (``n_pairs = 0``); it is defined, unlike kappa, when both raters use one
    category throughout (then ``pe`` = 0 and AC = ``pa``).

    AC1 is the prevalence-robust companion of kappa: kappa falls when one category dominates
    even if raters agree (Feinstein and Cicchetti's paradox); AC1 does not.

    References
    ----------
    Gwet KL. Computing inter-rater reliability and its variance in the presence of high
    agreement. Br J Math Stat Psychol 2008;61:29-48. Gwet KL. Handbook of Inter-Rater
    Reliability, 4th ed. Advanced Analytics, 2014. Gwet KL. irrCAC: Computing Chance-Corrected
    Agreement Coefficients, R package 1.0, 2019.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha!r}")
    cats = _check_categories(categories)
    a, b = _as_objects(ratings_a), _as_objects(ratings_b)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"ratings_a and ratings_b must be 1-D and of equal length (got "
                         f"{a.shape} and {b.shape})")
    codes = np.column_stack([_category_codes(a[:, None], cats, "ratings_a")[:, 0],
                             _category_codes(b[:, None], cats, "ratings_b")[:, 0]])
    return _gwet_raw(codes, len(cats), weights, alpha)


def _as_objects(values) -> np.ndarray:
    """Ratings as an object array, pandas missing values kept as ``pd.NA``."""
    if isinstance(values, pd.Series | pd.Index | pd.api.extensions.ExtensionArray):
        return pd.Series(values).astype(object).to_numpy()
    return np.asarray(list(values) if not isinstance(values, np.ndarray) else values,
                      dtype=object)


def _gwet_raw(codes: np.ndarray, q: int, weights: str, alpha: float) -> GwetResult:
    """irrCAC's ``gwet.ac1.raw`` on category positions (subjects x raters, -1 = missing)."""
    w = _gwet_weights(q, weights)
    rated = (codes >= 0).any(axis=1)
    codes = codes[rated]
    n = int(codes.shape[0])
    name = "AC1" if np.isclose(w.sum(), q) else "AC2"
    level = 1 - alpha
    counts = np.zeros((n, q))
    for col in codes.T:
        ok = col >= 0
        np.add.at(counts, (np.flatnonzero(ok), col[ok]), 1.0)
    r_i = counts.sum(axis=1)
    twice = r_i >= 2
    n_pairs = int(twice.sum())
    nan = float("nan")
    if n_pairs == 0:
        return GwetResult(nan, nan, nan, nan, nan, nan, nan, n, 0, name, weights, level)
    weighted = counts @ w.T
    sum_q = (counts * (weighted - 1)).sum(axis=1)
    pair_den = r_i * (r_i - 1)
    pa = float((sum_q[twice] / pair_den[twice]).sum() / n_pairs)
    pi = (counts / r_i[:, None]).mean(axis=0)
    t_w = w.sum()
    pe = float(t_w * (pi * (1 - pi)).sum() / (q * (q - 1)))
    ac = (pa - pe) / (1 - pe)
    pa_i = np.where(twice, sum_q / np.where(twice, pair_den, 1.0), 0.0)
    ac_i = (n / n_pairs) * (pa_i - pe * twice) / (1 - pe)
    pe_i = (t_w / (q * (q - 1))) * (counts @ (1 - pi)) / r_i
    ac_i_x = ac_i - 2 * (1 - ac) * (pe_i - pe) / (1 - pe)
    if n < 2:
        return GwetResult(float(ac), nan, nan, nan, nan, pa, pe, n, n_pairs, name, weights,
                          level)
    var = float(((ac_i_x - ac) ** 2).sum() / (n * (n - 1)))
    se = float(np.sqrt(var))
    t = float(stats.t.ppf(1 - alpha / 2, n - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = float(2 * stats.t.sf(abs(ac / se), n - 1)) if se > 0 else (0.0 if ac else nan)
    return GwetResult(float(ac), se, float(ac - t * se), float(min(1.0, ac + t * se)), p, pa, pe,
                      n, n_pairs, name, weights, level)


# ---------------------------------------------------------------------------- theme coding
def _themes_by_review(codes, name: str) -> dict[str, frozenset[str]]:
    """Review id -> the themes one coder gave it (an empty set: coded, no theme)."""
    if isinstance(codes, pd.DataFrame):
        missing = [c for c in ("review_id", "theme") if c not in codes.columns]
        if missing:
            raise ValueError(f"{name} lacks the column(s) {missing}; expected review_id and "
                             "theme (one row per code; a <NA> theme = coded, no theme)")
        out: dict[str, set[str]] = {}
        for review, theme in zip(codes["review_id"], codes["theme"]):
            themes = out.setdefault(str(review), set())
            if not _is_missing(theme) and str(theme).strip():
                themes.add(str(theme))
        return {k: frozenset(v) for k, v in out.items()}
    items = codes.items() if hasattr(codes, "items") else codes
    out_sets = {}
    for review, themes in items:
        if isinstance(themes, str):
            raise ValueError(f"{name}: themes of review {review!r} must be a collection of theme "
                             f"ids, not the string {themes!r}")
        out_sets[str(review)] = frozenset(str(t) for t in (themes if themes is not None else ()))
    return out_sets


def theme_code_pairs(codes: pd.DataFrame) -> tuple[dict[str, frozenset[str]],
                                                    dict[str, frozenset[str]]]:
    """The first two people who coded each review, as two ``review_id -> themes`` mappings.

    Parameters
    ----------
    codes : pandas.DataFrame
        Theme codes with ``review_id``, ``theme`` and ``coded_by`` (e.g.
        ``Session.theme_codes()``); ``coded_at`` orders the coders when present (else
        ``coded_by``). Codes on a phase count for the whole review.

    Returns
    -------
    tuple of dict
        Coder A's and coder B's themes of each review that two or more people coded (the two
        earliest); give them to :func:`theme_agreement`.

    Notes
    -----
    A person who read a review and found no theme leaves no code, so such a review is not seen
    as coded by them here; where the store records "coded, no theme", build the mappings from
    it instead (an empty set is a valid answer).
    """
    missing = [c for c in ("review_id", "theme", "coded_by") if c not in codes.columns]
    if missing:
        raise ValueError(f"codes lack the column(s) {missing}; expected review_id, theme, "
                         "coded_by (as Session.theme_codes returns)")
    frame = codes.assign(_review=codes["review_id"].astype(str),
                         _coder=codes["coded_by"].astype(str))
    # each time parsed on its own: stored times come in more than one ISO 8601 form
    when = (pd.to_datetime(frame["coded_at"], utc=True, format="ISO8601")
            if "coded_at" in frame.columns
            else pd.Series(pd.NaT, index=frame.index))
    first = (frame.assign(_when=when).groupby(["_review", "_coder"], sort=False)["_when"].min()
             .reset_index().sort_values(["_review", "_when", "_coder"], kind="stable"))
    first["_slot"] = first.groupby("_review").cumcount()
    slots = first[first["_slot"] < 2]
    double = slots.groupby("_review")["_slot"].transform("size") == 2
    slots = slots[double]
    out: tuple[dict[str, set[str]], dict[str, set[str]]] = ({}, {})
    slot_of = {(r, c): s for r, c, s in zip(slots["_review"], slots["_coder"], slots["_slot"])}
    for review, coder, theme in zip(frame["_review"], frame["_coder"], frame["theme"]):
        slot = slot_of.get((review, coder))
        if slot is None:
            continue
        themes = out[slot].setdefault(review, set())
        if not _is_missing(theme):
            themes.add(str(theme))
    return ({k: frozenset(v) for k, v in out[0].items()},
            {k: frozenset(v) for k, v in out[1].items()})


def theme_agreement(codes_a, codes_b, themes: Sequence[str], *,
                    alpha: float = 0.05) -> pd.DataFrame:
    """Agreement between two coders on each theme of the codebook, over doubly-coded reviews.

    Parameters
    ----------
    codes_a, codes_b : mapping, pandas.Series or pandas.DataFrame
        Each coder's themes: ``review_id -> iterable of theme ids`` (empty = coded, no theme),
        or a long frame with ``review_id`` and ``theme`` (a ``<NA>`` theme = coded, no theme).
        :func:`theme_code_pairs` builds them from stored theme codes.
    themes : sequence of str
        The codebook's theme ids: one row each, in this order (themes nobody used included:
        both coders agreeing a theme is absent is agreement too).
    alpha : float
        1 - confidence level.

    Returns
    -------
    pandas.DataFrame
        One row per theme: ``theme``, ``n`` (reviews coded by both), ``n_a``, ``n_b`` (of
        those, reviews each coder gave the theme), ``n_both``, ``percent_agreement``,
        ``kappa``, ``kappa_ci_lower``, ``kappa_ci_upper`` (Cohen's kappa, Wald interval:
        :func:`weighted_kappa`), ``ac1``, ``ac1_ci_lower``, ``ac1_ci_upper`` (Gwet's AC1, t
        interval: :func:`gwet_ac`).

    Notes
    -----
    Each theme is a yes/no judgement per review. A rare theme has a low kappa even when coders
    nearly always agree (most reviews lack it: the prevalence paradox), which is why AC1 stands
    beside it. Kappa is NaN when neither coder used the theme. Counts are of reviews, and like
    every count they follow disclosure control below national level; do not publish intervals on
    fewer than 8 reviews (:data:`~sjrlib.stats.descriptive.MIN_CASES_FOR_INTERVAL`).
    """
    a = _themes_by_review(codes_a, "codes_a")
    b = _themes_by_review(codes_b, "codes_b")
    reviews = sorted(set(a) & set(b))
    known = set(themes)
    unknown = sorted((set().union(*a.values(), *b.values()) if a or b else set()) - known)
    if unknown:
        raise ValueError(f"theme {unknown[0]!r} is not in the themes given "
                         f"({sorted(known)}); pass the codebook's full list")
    rows = []
    for theme in themes:
        x = np.array([theme in a[r] for r in reviews], dtype=float)
        y = np.array([theme in b[r] for r in reviews], dtype=float)
        k = weighted_kappa(x, y, None, categories=(0.0, 1.0), alpha=alpha)
        g = gwet_ac(x, y, categories=(0.0, 1.0), alpha=alpha)
        n = len(reviews)
        rows.append((theme, n, int(x.sum()), int(y.sum()), int((x * y).sum()),
                     float((x == y).mean()) if n else np.nan, k.kappa, k.ci_lower, k.ci_upper,
                     g.estimate, g.ci_lower, g.ci_upper))
    out = pd.DataFrame(rows, columns=["theme", "n", "n_a", "n_b", "n_both", "percent_agreement",
                                      "kappa", "kappa_ci_lower", "kappa_ci_upper", "ac1",
                                      "ac1_ci_lower", "ac1_ci_upper"])
    out["theme"] = out["theme"].astype("string")
    for c in ("n", "n_a", "n_b", "n_both"):
        out[c] = out[c].astype(np.int64)
    return out


def percent_agreement(a, b, *, tolerance: int = 0, alpha: float = 0.05) -> AgreementResult:
    """Share of units on which two raters agree (within ``tolerance`` points), with a Wilson
    interval.

    Notes
    -----
    Pairs with a missing rating are dropped. Percentage agreement ignores agreement expected by
    chance; report it beside kappa or alpha, not instead of them. The interval is computed for
    any ``n`` >= 1; do not publish it on fewer than 8 pairs (see :func:`weighted_kappa`).
    """
    a, b = _paired(a, b)
    agree = int((np.abs(a - b) <= tolerance).sum())
    n = int(a.size)
    lo, hi = wilson_interval(agree, n, alpha)
    return AgreementResult(agree, n, agree / n if n else float("nan"), float(lo[0]), float(hi[0]))


RELIABILITY_STATISTICS: tuple[str, ...] = (
    "percent_agreement", "kappa_linear", "alpha_ordinal", "icc_1_1",
    "trigger_kappa", "trigger_ac1", "trigger_disagreements")
"""Rows of :func:`reliability_summary`, in order."""


def reliability_summary(
    reviews: pd.DataFrame,
    score: str = "score_overall",
    *,
    alpha: float = 0.05,
    n_boot: int = 2000,
    seed: int | None = 20261126,
    include_drafts: bool = False,
) -> pd.DataFrame:
    """The agreement figures a report shows: one per question, each with its interval.

    Parameters
    ----------
    reviews : pandas.DataFrame
        Validated review frame.
    score : str
        A care score column (default the overall score, whose 1-2 is the second-stage trigger).
    alpha : float
        1 - confidence level.
    n_boot, seed
        Bootstrap of alpha's interval (:func:`krippendorff_alpha_interval`).

    Returns
    -------
    pandas.DataFrame
        ``statistic``, ``estimate``, ``ci_lower``, ``ci_upper``, ``n`` (pairs; for alpha the
        multiply-rated cases), one row each of :data:`RELIABILITY_STATISTICS`:
        ``percent_agreement`` (exact, Wilson interval), ``kappa_linear`` (weighted kappa),
        ``alpha_ordinal`` (every rating, bootstrap interval), ``icc_1_1`` (the statistic
        published reliability is quoted in: Hutchinson 2010); and on the second-stage trigger
        (care 1-2, poor or very poor, or not): ``trigger_kappa`` (Cohen's), ``trigger_ac1``
        (Gwet's, robust to the rarity of poor care) and ``trigger_disagreements`` (the count of
        pairs in which one reviewer scored 1-2 and the other 3-5, as ``estimate``; no interval).

    Notes
    -----
    Fewer coefficients than :func:`agreement_summary` on purpose: unweighted kappa and nominal
    alpha ignore the order of the scale; quadratic kappa and interval alpha estimate nearly the
    same thing as ICC (they coincide asymptotically: Fleiss and Cohen 1973), so a table showing
    all of them says one thing several times. Apply
    :func:`~sjrlib.stats.descriptive.withhold_small_intervals` before publishing, and
    disclosure control to the count.

    References
    ----------
    Fleiss JL, Cohen J. The equivalence of weighted kappa and the intraclass correlation
    coefficient as measures of reliability. Educ Psychol Meas 1973;33:613-9.
    """
    index = ReviewIndex(reviews, include_drafts=include_drafts)
    scale = domain.AVOIDABILITY_SCORES if score == "avoidability_score" else domain.CARE_SCORES
    a, b = _pair_values(index, score)
    x, y = _paired(a, b)
    rows = []
    pa = percent_agreement(x, y, alpha=alpha)
    rows.append(("percent_agreement", pa.proportion, pa.ci_lower, pa.ci_upper, pa.n))
    kr = weighted_kappa(x, y, "linear", categories=scale, alpha=alpha)
    rows.append(("kappa_linear", kr.kappa, kr.ci_lower, kr.ci_upper, kr.n))
    al = krippendorff_alpha_interval(_reliability_matrix(index, score), "ordinal",
                                     value_domain=scale, n_boot=n_boot, alpha=alpha, seed=seed)
    rows.append(("alpha_ordinal", al.estimate, al.ci_lower, al.ci_upper, al.n_units))
    if x.size >= 2:
        ic = icc(np.column_stack([x, y]), "ICC(1,1)", alpha=alpha)
        rows.append(("icc_1_1", ic.icc, ic.ci_lower, ic.ci_upper, ic.n_targets))
    else:
        rows.append(("icc_1_1", np.nan, np.nan, np.nan, int(x.size)))
    poor_x = np.isin(x, domain.POOR_CARE).astype(float)
    poor_y = np.isin(y, domain.POOR_CARE).astype(float)
    tk = weighted_kappa(poor_x, poor_y, None, categories=(0.0, 1.0), alpha=alpha)
    rows.append(("trigger_kappa", tk.kappa, tk.ci_lower, tk.ci_upper, tk.n))
    if x.size:
        ac = gwet_ac(poor_x, poor_y, categories=(0.0, 1.0), alpha=alpha)
        rows.append(("trigger_ac1", ac.estimate, ac.ci_lower, ac.ci_upper, ac.n))
    else:
        rows.append(("trigger_ac1", np.nan, np.nan, np.nan, 0))
    rows.append(("trigger_disagreements", float((poor_x != poor_y).sum()), np.nan, np.nan,
                 int(x.size)))
    out = pd.DataFrame(rows, columns=["statistic", "estimate", "ci_lower", "ci_upper", "n"])
    out["statistic"] = out["statistic"].astype("string")
    out["n"] = out["n"].astype(np.int64)
    return out


def agreement_summary(
    reviews: pd.DataFrame,
    score: str = "score_overall",
    *,
    alpha: float = 0.05,
    include_drafts: bool = False,
) -> pd.DataFrame:
    """All agreement statistics of one score, from the double first-stage reviews of a frame.

    Returns
    -------
    pandas.DataFrame
        One row per statistic: ``statistic`` (``percent_agreement``, ``kappa_unweighted``,
        ``kappa_linear``, ``kappa_quadratic``, ``alpha_nominal``, ``alpha_ordinal``,
        ``alpha_interval``, ``icc_1_1``), ``estimate``, ``ci_lower``, ``ci_upper`` (NaN where
        no interval is computed), ``n`` (pairs; for alpha, the multiply-rated cases).

    Notes
    -----
    Kappa, percentage agreement and ICC(1,1) use the first two reviewers of each case
    (:func:`rating_pairs`); alpha uses every rating (:func:`reliability_data`). ICC(1,1) fits
    the design (different reviewers per case). Intervals are computed whatever ``n``;
    ``withhold_small_intervals(summary)`` (:mod:`sjrlib.stats.descriptive`) blanks those on
    fewer than 8 cases for publication. Alpha has no interval here (it would need a bootstrap:
    :func:`krippendorff_alpha_interval`). Percentages agreement is a proportion in [0, 1].
    """
    index = ReviewIndex(reviews, include_drafts=include_drafts)
    return _agreement_summary(index, score, alpha)


def _agreement_summary(index: ReviewIndex, score: str, alpha: float) -> pd.DataFrame:
    high = 6 if score == "avoidability_score" else 5
    scale = tuple(range(1, high + 1))
    a, b = _pair_values(index, score)
    rows = []
    pa = percent_agreement(a, b, alpha=alpha)
    rows.append(("percent_agreement", pa.proportion, pa.ci_lower, pa.ci_upper, pa.n))
    for w in (None, "linear", "quadratic"):
        kr = weighted_kappa(a, b, w, categories=scale, alpha=alpha)
        rows.append((f"kappa_{kr.weights}", kr.kappa, kr.ci_lower, kr.ci_upper, kr.n))
    data = _reliability_matrix(index, score)
    n_units = int(((~np.isnan(data)).sum(axis=0) >= 2).sum()) if data.size else 0
    for level, value in _alphas(data, scale).items():
        rows.append((f"alpha_{level}", value, np.nan, np.nan, n_units))
    x, y = _paired(a, b)
    if x.size >= 2:
        res = icc(np.column_stack([x, y]), "ICC(1,1)", alpha=alpha)
        rows.append(("icc_1_1", res.icc, res.ci_lower, res.ci_upper, res.n_targets))
    else:
        rows.append(("icc_1_1", np.nan, np.nan, np.nan, int(x.size)))
    out = pd.DataFrame(rows, columns=["statistic", "estimate", "ci_lower", "ci_upper", "n"])
    out["statistic"] = out["statistic"].astype("string")
    out["n"] = out["n"].astype(np.int64)
    return out

