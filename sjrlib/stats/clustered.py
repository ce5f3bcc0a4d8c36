"""Pooled proportions and trends that allow for clustering of reviews by organisation.

Reviews of one organisation resemble each other more than reviews of two organisations do
(local practice, local reviewers, local case mix), so a pooled (national, nation, region)
proportion is less precise than the binomial formula says. This module gives the
cluster-robust (sandwich) standard error of the pooled proportion, its design effect against
simple random sampling, an interval built from them, and the poor-care trend with
cluster-robust standard errors. Single-organisation figures keep their Wilson intervals
(:func:`sjrlib.stats.descriptive.wilson_interval`): within one organisation there is one cluster.

References
----------
Kish L. Survey Sampling. Wiley, 1965 (design effect, effective sample size).
Cochran WG. Sampling Techniques, 3rd ed. Wiley, 1977, s. 6.7-6.8 (variance of a ratio
estimator). Liang KY, Zeger SL. Longitudinal data analysis using generalized linear models.
Biometrika 1986;73:13-22. Cameron AC, Miller DL. A practitioner's guide to cluster-robust
inference. J Hum Resour 2015;50:317-72. Korn EL, Graubard BI. Confidence intervals for
proportions with small expected number of positive counts estimated from survey data. Surv
Methodol 1998;24:193-201.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

# the models themselves, not statsmodels.api: that imports all of statsmodels (time series,
# graphics, distributions), about 0.3 s more in every report kernel and dashboard that
# imports this module
from statsmodels.genmod import families
from statsmodels.genmod.generalized_linear_model import GLM
from statsmodels.regression.linear_model import OLS
from statsmodels.tools.tools import add_constant

from sjrlib import domain
from sjrlib.stats._reviews import PERIODS, ReviewIndex, period_label

__all__ = [
    "METHOD_NOTE",
    "ClusteredProportion",
    "ClusteredTrend",
    "clustered_proportion",
    "clustered_proportions",
    "clustered_trend",
    "effective_wilson",
    "poor_care_outcomes",
    "poor_care_trend",
]

METHOD_NOTE = (
    "Intervals allow for clustering of reviews by organisation: cluster-robust (sandwich) "
    "variance of the pooled proportion, design effect = that variance over the simple random "
    "sampling variance, Wilson interval on the effective number of reviews (reviews / design "
    "effect, design effect not below 1) with a t critical value on organisations - 1 degrees "
    "of freedom."
)
"""One sentence a table's note can carry when its intervals come from this module."""


class ClusteredProportion(NamedTuple):
    """A pooled proportion with a cluster-robust standard error.

    ``std_err``: cluster-robust; ``srs_std_err``: binomial ``sqrt(p(1-p)/n)``;
    ``design_effect``: ``(std_err / srs_std_err)**2`` (NaN with fewer than two clusters or
    ``p`` of 0 or 1); ``ci_lower``/``ci_upper``: :func:`effective_wilson` (plain Wilson with
    one cluster)."""

    count: int
    n: int
    n_clusters: int
    proportion: float
    std_err: float
    srs_std_err: float
    design_effect: float
    ci_lower: float
    ci_upper: float


def _critical(n_clusters: int, alpha: float) -> float:
    if n_clusters >= 2:
        return float(stats.t.ppf(1 - alpha / 2, n_clusters - 1))
    return float(stats.norm.ppf(1 - alpha / 2))


def effective_wilson(count, n, design_effect, n_clusters, alpha: float = 0.05
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Wilson interval on the effective sample size ``n / max(design_effect, 1)``.

    Parameters
    ----------
    count, n : array_like
        Successes and trials (may be published, rounded counts).
    design_effect : array_like
        Variance ratio against simple random sampling; NaN means 1 (plain Wilson).
    n_clusters : array_like of int
        Organisations behind each proportion: the critical value is Student's t on
        ``n_clusters - 1`` degrees of freedom (normal with fewer than two).
    alpha : float
        1 - confidence level.

    Returns
    -------
    lower, upper : numpy.ndarray
        ``0 <= lower <= count/n <= upper <= 1``; NaN where ``n`` is 0.

    Notes
    -----
    With design effect 1 and many clusters this is the Wilson interval. The proportion is
    ``count / n``, so an interval computed from published counts and a design effect tells a
    reader nothing about the exact counts that the published ones do not. A design effect
    below 1 (organisations more alike than chance) is taken as 1, so the interval is never
    narrower than the binomial one (Korn and Graubard 1998 truncate likewise).

    References
    ----------
    Kish L. Survey Sampling, 1965. Korn EL, Graubard BI. Surv Methodol 1998;24:193-201.
    """
    k = np.atleast_1d(np.asarray(count, dtype=np.float64))
    n = np.atleast_1d(np.asarray(n, dtype=np.float64))
    deff = np.atleast_1d(np.asarray(design_effect, dtype=np.float64))
    g = np.atleast_1d(np.asarray(n_clusters, dtype=np.float64))
    k, n, deff, g = np.broadcast_arrays(k, n, deff, g)
    lower = np.full(k.shape, np.nan)
    upper = np.full(k.shape, np.nan)
    for i in np.flatnonzero(n > 0):
        d = deff[i] if np.isfinite(deff[i]) and deff[i] > 1 else 1.0
        m = n[i] / d
        p = k[i] / n[i]
        c = _critical(int(g[i]), alpha)
        denom = 1 + c * c / m
        centre = (p + c * c / (2 * m)) / denom
        half = c * np.sqrt(p * (1 - p) / m + c * c / (4 * m * m)) / denom
        lower[i] = 0.0 if k[i] == 0 else min(max(centre - half, 0.0), p)
        upper[i] = 1.0 if k[i] == n[i] else max(min(centre + half, 1.0), p)
    return lower, upper


def clustered_proportion(outcome, groups, alpha: float = 0.05) -> ClusteredProportion:
    """Pooled proportion of a 0/1 outcome with a cluster-robust standard error.

    Parameters
    ----------
    outcome : array_like of 0/1
        One value per unit (review).
    groups : array_like
        The cluster (organisation) of each unit.
    alpha : float
        1 - confidence level.

    Returns
    -------
    ClusteredProportion

    Notes
    -----
    The proportion ``p = sum(y) / N`` is the ratio estimator ``sum_g y_g / sum_g m_g`` over
    clusters ``g`` with ``y_g`` successes in ``m_g`` units. Its cluster-robust variance is

        ``G / (G - 1) * sum_g (y_g - p m_g)**2 / N**2``

    (Cochran 1977, s. 6.8, with clusters as primary units), which is exactly the
    ``cov_type="cluster"`` variance of an OLS fit of the outcome on a constant in statsmodels
    (its small-sample factor ``G/(G-1) (N-1)/(N-K)`` with ``K = 1``). It is computed here by
    that statsmodels fit. It assumes clusters independent; with few clusters (under about 20)
    it is itself imprecise, hence the t critical value on ``G - 1`` degrees of freedom
    (Cameron and Miller 2015).

    References
    ----------
    Cochran WG. Sampling Techniques, 3rd ed., 1977. Liang KY, Zeger SL. Biometrika
    1986;73:13-22. Cameron AC, Miller DL. J Hum Resour 2015;50:317-72.
    """
    y = np.asarray(outcome, dtype=np.float64)
    g = pd.factorize(pd.Series(np.asarray(groups, dtype=object)))[0]
    if y.shape != g.shape or y.ndim != 1:
        raise ValueError("outcome and groups must be 1-D of the same length")
    if np.isnan(y).any() or not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("outcome must be 0 or 1 for every unit")
    n = int(y.size)
    n_clusters = int(np.unique(g).size)
    if n == 0:
        nan = float("nan")
        return ClusteredProportion(0, 0, 0, nan, nan, nan, nan, nan, nan)
    count = int(y.sum())
    p = count / n
    srs = float(np.sqrt(p * (1 - p) / n))
    if n_clusters >= 2:
        fit = OLS(y, np.ones((n, 1))).fit(cov_type="cluster", cov_kwds={"groups": g})
        se = float(fit.bse[0])
    else:
        se = float("nan")
    deff = (se / srs) ** 2 if srs > 0 and np.isfinite(se) else float("nan")
    lo, hi = effective_wilson(count, n, deff, n_clusters, alpha)
    return ClusteredProportion(count, n, n_clusters, p, se, srs, float(deff), float(lo[0]),
                               float(hi[0]))


def poor_care_outcomes(reviews: pd.DataFrame, *, columns: Sequence[str] = (),
                       include_drafts: bool = False, phase: str = "overall") -> pd.DataFrame:
    """One row per primary first-stage review with a score for ``phase`` (default the overall
    assessment): ``poor`` (1 for a score of 1 or 2), ``organisation_code`` and the ``columns``
    asked for (e.g. ``region``).

    The reviews are those :func:`sjrlib.stats.descriptive.poor_care` counts (drafts excluded,
    the earliest first-stage review of each case), so ``poor.sum()`` and ``len`` are its
    ``poor`` and ``n``."""
    index = ReviewIndex(reviews, include_drafts=include_drafts)
    rows = index.primary_first()
    score = index.ints(domain.score_column(phase), low=1, high=5)[rows]
    keep = score > 0
    wanted = list(dict.fromkeys(["organisation_code", *columns]))
    out = reviews[wanted].iloc[rows[keep]].reset_index(drop=True)
    out.insert(0, "poor", np.isin(score[keep], domain.POOR_CARE).astype(np.int64))
    return out


def clustered_proportions(outcomes: pd.DataFrame, by: str | None = None, *,
                          cluster: str = "organisation_code", outcome: str = "poor",
                          alpha: float = 0.05) -> pd.DataFrame:
    """:func:`clustered_proportion` per group of ``by`` (or overall when None).

    Returns a frame with ``by`` (when given) and the fields of :class:`ClusteredProportion`,
    one row per group that occurs, in sorted order."""
    if by is None:
        return pd.DataFrame([clustered_proportion(outcomes[outcome], outcomes[cluster],
                                                  alpha)._asdict()])
    rows = []
    for key, part in outcomes.groupby(outcomes[by].astype("string"), sort=True):
        rows.append({by: key, **clustered_proportion(part[outcome], part[cluster],
                                                     alpha)._asdict()})
    return pd.DataFrame(rows, columns=[by, *ClusteredProportion._fields])


class ClusteredTrend(NamedTuple):
    """Logistic trend of a 0/1 outcome on a period score, cluster-robust.

    ``odds_ratio`` (per score step) with ``ci_lower``/``ci_upper``; ``z``, ``p_value``:
    cluster-robust Wald test of the slope (t on ``n_clusters - 1`` df for the p-value and
    interval); ``naive_p_value``: the same model's model-based (independent reviews) Wald
    p-value; ``design_effect``: robust over model-based variance of the slope."""

    odds_ratio: float
    ci_lower: float
    ci_upper: float
    z: float
    p_value: float
    naive_p_value: float
    design_effect: float
    n: int
    n_clusters: int


def clustered_trend(outcome, score, groups, alpha: float = 0.05) -> ClusteredTrend:
    """Trend in a 0/1 outcome over ordered periods, with cluster-robust standard errors.

    Parameters
    ----------
    outcome : array_like of 0/1
        One value per unit (review).
    score : array_like of float
        Position in time of each unit's period (e.g. 0, 1, 2 for financial years).
    groups : array_like
        The cluster (organisation) of each unit.
    alpha : float
        1 - confidence level.

    Returns
    -------
    ClusteredTrend

    Notes
    -----
    A binomial GLM (logit) of the outcome on the score, fitted by statsmodels with
    ``cov_type="cluster"``: the sandwich ``B^-1 M B^-1`` with ``B = X'WX`` and
    ``M = c sum_g s_g s_g'``, ``s_g = X_g'(y_g - mu_g)``, ``c = G/(G-1) (N-1)/(N-K)``. Without
    clustering the score test of this slope is the Cochran-Armitage test
    (:func:`sjrlib.stats.models.cochran_armitage`); with clustering the robust Wald test takes
    its place, since reviews of one organisation in successive years are not independent. The
    p-value and interval use Student's t on ``G - 1`` degrees of freedom.

    References
    ----------
    Liang KY, Zeger SL. Biometrika 1986;73:13-22. Cameron AC, Miller DL. J Hum Resour
    2015;50:317-72.
    """
    y = np.asarray(outcome, dtype=np.float64)
    s = np.asarray(score, dtype=np.float64)
    g = pd.factorize(pd.Series(np.asarray(groups, dtype=object)))[0]
    if not (y.shape == s.shape == g.shape) or y.ndim != 1:
        raise ValueError("outcome, score and groups must be 1-D of the same length")
    n_clusters = int(np.unique(g).size)
    if n_clusters < 2 or np.unique(s).size < 2 or np.unique(y).size < 2:
        raise ValueError("a clustered trend needs two organisations, two periods and both "
                         "outcomes")
    x = add_constant(s, has_constant="add")
    model = GLM(y, x, family=families.Binomial())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        robust = model.fit(cov_type="cluster", cov_kwds={"groups": g})
        naive = model.fit()
    beta = float(robust.params[1])
    se = float(robust.bse[1])
    z = beta / se
    df = n_clusters - 1
    crit = float(stats.t.ppf(1 - alpha / 2, df))
    return ClusteredTrend(
        odds_ratio=float(np.exp(beta)),
        ci_lower=float(np.exp(beta - crit * se)),
        ci_upper=float(np.exp(beta + crit * se)),
        z=float(z),
        p_value=float(2 * stats.t.sf(abs(z), df)),
        naive_p_value=float(naive.pvalues[1]),
        design_effect=float((se / naive.bse[1]) ** 2),
        n=int(y.size),
        n_clusters=n_clusters,
    )


_MONTHS_PER_STEP = {"month": 1, "quarter": 3, "financial_year": 12, "calendar_year": 12}
_FIRST_MONTH = {"month": 1, "quarter": 4, "financial_year": 4, "calendar_year": 1}


def poor_care_trend(reviews: pd.DataFrame, period: str = "financial_year", *,
                    alpha: float = 0.05, include_drafts: bool = False) -> ClusteredTrend:
    """:func:`clustered_trend` of poor or very poor overall care over periods of the month of
    death, clustered by organisation.

    The reviews are those of :func:`sjrlib.stats.models.poor_care_trend` (primary first-stage
    reviews with an overall score); the score is the period's position in time in period
    steps (a missing period leaves its gap), so the odds ratio is per year, quarter or month.
    """
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}; expected one of {PERIODS}")
    outcomes = poor_care_outcomes(reviews, columns=["death_month"],
                                  include_drafts=include_drafts)
    months = outcomes["death_month"].astype("string")
    known = months.notna().to_numpy()
    outcomes, months = outcomes[known], months[known]
    year = months.str[:4].astype(int).to_numpy()
    month = months.str[5:7].astype(int).to_numpy()
    step = (year * 12 + month - _FIRST_MONTH[period]) // _MONTHS_PER_STEP[period]
    if np.unique(step).size < 2:
        labels = {period_label(m, period) for m in months}
        raise ValueError(f"a trend needs at least two periods with reviews (found {len(labels)})")
    return clustered_trend(outcomes["poor"].to_numpy(), (step - step.min()).astype(float),
                           outcomes["organisation_code"].astype(str).to_numpy(), alpha)
