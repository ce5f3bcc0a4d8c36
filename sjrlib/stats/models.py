"""Models: proportional-odds regression of the overall care score, and trend in poor care.

Both take a validated review frame and use the primary first-stage review of each case (drafts
excluded), as :mod:`sjrlib.stats.descriptive` does.

References
----------
McCullagh P. Regression models for ordinal data. J R Stat Soc B 1980;42:109-42.
Armitage P. Tests for linear trends in proportions and frequencies. Biometrics 1955;11:375-86.
Agresti A. An Introduction to Categorical Data Analysis, 2nd ed. Wiley, 2007 (s. 2.5, 6.2).
Brant R. Assessing proportionality in the proportional odds model for ordinal logistic
regression. Biometrics 1990;46:1171-8.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

# the models themselves, not statsmodels.api: that imports all of statsmodels (time series,
# graphics, distributions), about 0.3 s more in every report kernel and dashboard that
# imports this module
from statsmodels.genmod import families
from statsmodels.genmod.generalized_linear_model import GLM
from statsmodels.miscmodels.ordinal_model import OrderedModel
from statsmodels.tools.sm_exceptions import PerfectSeparationWarning
from statsmodels.tools.tools import add_constant

from sjrlib.stats._reviews import _VOCABULARY_ORDER, PERIODS, ReviewIndex
from sjrlib.stats.descriptive import _poor_care

__all__ = [
    "DEFAULT_COVARIATES",
    "BrantResult",
    "OrdinalRegressionResult",
    "TrendResult",
    "brant_for",
    "brant_test",
    "cochran_armitage",
    "ordinal_regression",
    "poor_care_trend",
]

DEFAULT_COVARIATES: tuple[str, ...] = ("age_at_death", "sex", "admission_type",
                                       "learning_disability")
_NUMERIC = {"age_at_death": 10.0, "days_to_death": 1.0, "arrival_hour": 1.0, "death_hour": 1.0}
"""Numeric covariates and the unit their coefficient is per (age per 10 years)."""
_REFERENCE = {"sex": "female", "admission_type": "emergency", "learning_disability": "no",
              "severe_mental_illness": "no"}


class OrdinalRegressionResult(NamedTuple):
    """A fitted proportional-odds model in tidy form.

    ``table`` has one row per term: ``term``, ``estimate`` (log odds ratio), ``std_err``,
    ``z``, ``p_value``, ``odds_ratio``, ``ci_lower``, ``ci_upper`` (of the odds ratio).
    ``thresholds``: the cut points on the latent scale as statsmodels reports them (first cut
    point, then log increments). ``result``: the statsmodels results object."""

    table: pd.DataFrame
    thresholds: pd.Series
    nobs: int
    n_dropped: int
    direction: str
    converged: bool
    result: Any


def _design(frame: pd.DataFrame, covariates: Sequence[str],
            reference: Mapping[str, str]) -> pd.DataFrame:
    columns: dict[str, pd.Series] = {}
    for name in covariates:
        if name not in frame.columns:
            raise ValueError(f"covariate {name!r} is not a column of the review frame")
        series = frame[name]
        if name in _NUMERIC:
            unit = _NUMERIC[name]
            label = name if unit == 1 else f"{name} (per {unit:g} years)"
            columns[label] = series.astype("Float64").to_numpy(np.float64, na_value=np.nan) / unit
            continue
        values = series.astype("string")
        levels = [v for v in values.dropna().unique()]
        ref = reference.get(name)
        if ref is None or ref not in levels:
            ref = values.value_counts().index[0] if levels else None
        order = list(_VOCABULARY_ORDER.get(name, ())) + sorted(levels)
        order = list(dict.fromkeys(order))
        for level in [lv for lv in order if lv in levels and lv != ref]:
            indicator = (values == level).astype("Float64")
            columns[f"{name}[{level}]"] = indicator.to_numpy(np.float64, na_value=np.nan)
    return pd.DataFrame(columns, index=frame.index)


def ordinal_regression(
    reviews: pd.DataFrame,
    covariates: Sequence[str] = DEFAULT_COVARIATES,
    *,
    reference: Mapping[str, str] | None = None,
    direction: str = "worse",
    alpha: float = 0.05,
    include_drafts: bool = False,
    cluster: str | None = None,
) -> OrdinalRegressionResult:
    """Proportional-odds (ordinal logistic) regression of the overall care score.

    Parameters
    ----------
    reviews : pandas.DataFrame
        Validated review frame.
    covariates : sequence of str
        Review-frame columns. Numeric: ``age_at_death`` (per 10 years), ``days_to_death``,
        ``arrival_hour``, ``death_hour``; any other column is categorical (indicator per level).
    reference : mapping, optional
        Reference level per categorical covariate. Defaults: ``sex`` female, ``admission_type``
        emergency, ``learning_disability`` and ``severe_mental_illness`` no; otherwise the most
        frequent level.
    direction : {"worse", "better"}
        ``"worse"`` (default): odds ratios are for a *lower* (worse) care score, so OR > 1 means
        the factor goes with poorer care; ``"better"``: for a higher score.
    alpha : float
        1 - confidence level of the odds-ratio intervals.
    cluster : str, optional
        A review-frame column whose groups are clusters (``"organisation_code"``): standard
        errors, intervals and p values are then cluster-robust (sandwich variance summed over
        clusters, statsmodels' ``cov_type="cluster"`` with its small-sample correction); the
        odds ratios are unchanged.

    Returns
    -------
    OrdinalRegressionResult

    Notes
    -----
    Fitted by ``statsmodels.miscmodels.ordinal_model.OrderedModel`` (logit link, BFGS with
    gradient tolerance 1e-8) by
    maximum likelihood: ``P(score <= j) = F(theta_j - x'beta)``. The "better" log odds ratios
    are statsmodels' ``beta``; "worse" ones are ``-beta``. One odds ratio per term holds across
    all cut points: that is the proportional-odds assumption, which should be checked (e.g. by
    comparing with separate binary logistic fits at each cut point). Reviews with a missing
    covariate are dropped (``n_dropped``). Intervals are Wald intervals. The reviewed deaths are
    a selected sample: associations describe them, not all deaths.

    References
    ----------
    McCullagh P. Regression models for ordinal data. J R Stat Soc B 1980;42:109-42.
    """
    if direction not in ("worse", "better"):
        raise ValueError(f"direction must be 'worse' or 'better', not {direction!r}")
    if not covariates:
        raise ValueError("give at least one covariate")
    index = ReviewIndex(reviews, include_drafts=include_drafts)
    rows = index.primary_first()
    score = index.ints("score_overall", low=1, high=5)[rows].astype(np.int64)
    missing = [c for c in covariates if c not in reviews.columns]
    if missing:
        raise ValueError(f"covariate(s) {missing} are not columns of the review frame")
    frame = reviews[list(dict.fromkeys(covariates))].iloc[rows]
    exog = _design(frame, covariates, {**_REFERENCE, **(reference or {})})
    complete = (score > 0) & ~exog.isna().any(axis=1).to_numpy()
    groups = None
    if cluster is not None:
        if cluster not in reviews.columns:
            raise ValueError(f"cluster column {cluster!r} is not a column of the review frame")
        labels = reviews[cluster].iloc[rows].astype("string")
        complete &= labels.notna().to_numpy()
        groups = pd.factorize(labels[complete])[0]
    exog = exog[complete].reset_index(drop=True)
    score = score[complete]
    levels = np.unique(score)
    if levels.size < 2:
        raise ValueError("the overall score takes fewer than two values: nothing to model")
    if len(exog) <= exog.shape[1] + levels.size:
        raise ValueError(f"too few complete reviews ({len(exog)}) for {exog.shape[1]} terms")
    varying = exog.columns[exog.nunique() > 1]
    if len(varying) < exog.shape[1]:
        constant = [c for c in exog.columns if c not in varying]
        raise ValueError(f"term(s) {constant} do not vary in these data; drop them")
    endog = pd.Series(pd.Categorical(score, categories=levels, ordered=True))
    model = OrderedModel(endog, exog, distr="logit")
    options = {} if groups is None else {"cov_type": "cluster",
                                         "cov_kwds": {"groups": groups}}
    result = model.fit(method="bfgs", disp=False, maxiter=5000, gtol=1e-8, **options)
    k = exog.shape[1]
    sign = -1.0 if direction == "worse" else 1.0
    beta = sign * np.asarray(result.params[:k], dtype=np.float64)
    se = np.asarray(result.bse[:k], dtype=np.float64)
    z_crit = stats.norm.ppf(1 - alpha / 2)
    table = pd.DataFrame({
        "term": pd.array(list(exog.columns), dtype="string"),
        "estimate": beta,
        "std_err": se,
        "z": beta / se,
        "p_value": 2 * stats.norm.sf(np.abs(beta / se)),
        "odds_ratio": np.exp(beta),
        "ci_lower": np.exp(beta - z_crit * se),
        "ci_upper": np.exp(beta + z_crit * se),
    })
    converged = bool(result.mle_retvals.get("converged", True))
    return OrdinalRegressionResult(table, result.params[k:], int(len(exog)),
                                   int((~complete).sum()), direction, converged, result)


# ---------------------------------------------------------------- proportional odds check
class BrantResult(NamedTuple):
    """Brant's test of the proportional-odds assumption.

    ``table``: one row per term and an ``Omnibus`` row: ``term``, ``chi2``, ``df``,
    ``p_value``. ``cut_estimates``: the term's log odds ratio (of a higher score) in the
    separate binary logit at each cut point (columns ``"> 1"``, ``"> 2"``, ...), the estimates
    the test compares."""

    table: pd.DataFrame
    cut_estimates: pd.DataFrame


def brant_test(endog: Sequence[int] | np.ndarray, exog: pd.DataFrame | np.ndarray,
               weights: Sequence[float] | np.ndarray | None = None) -> BrantResult:
    """Brant's (1990) Wald test that each term's effect is the same at every cut point.

    Parameters
    ----------
    endog
        The ordinal outcome (integers; at least three levels).
    exog
        The model's terms (no constant), one column per term.
    weights
        Frequency weights (e.g. the counts of a table), default 1 each.

    Notes
    -----
    For each cut point ``j`` a binary logit of ``y > level_j`` on the terms is fitted; the
    covariance of the estimates of cut points ``j <= l`` is
    ``(X'W_jj X)^-1 X'W_jl X (X'W_ll X)^-1`` with ``W_jl = diag(pi_l - pi_j pi_l)``
    (``pi`` the fitted probabilities, ``X`` with its constant); the statistic compares each
    term's estimates across cut points (``df = (cuts - 1)`` per term, ``(cuts - 1) x terms``
    for the omnibus test). A small p value says the proportional-odds model's single odds
    ratio for that term hides effects that differ along the scale.
    """
    y = np.asarray(endog)
    frame = exog if isinstance(exog, pd.DataFrame) else pd.DataFrame(
        np.asarray(exog, float), columns=[f"x{i + 1}" for i in range(np.asarray(exog).shape[1])])
    names = list(frame.columns)
    x = np.column_stack([np.ones(len(y)), frame.to_numpy(float)])
    w = np.ones(len(y)) if weights is None else np.asarray(weights, float)
    levels = np.unique(y)
    if levels.size < 3:
        raise ValueError("the outcome takes fewer than three values: there is one cut point, "
                         "nothing to compare")
    cuts = levels[:-1]
    k, p = cuts.size, x.shape[1]
    betas, pis = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerfectSeparationWarning)
        for level in cuts:
            try:
                fit = GLM((y > level).astype(float), x, family=families.Binomial(),
                             freq_weights=w).fit()
            except (PerfectSeparationWarning, np.linalg.LinAlgError) as exc:
                raise ValueError(f"the binary fit at cut point > {level} failed ({exc})") \
                    from None
            betas.append(np.asarray(fit.params, float))
            pis.append(np.asarray(fit.fittedvalues, float))
    inv = [np.linalg.inv(x.T @ (x * (w * pi * (1 - pi))[:, None])) for pi in pis]
    var = np.zeros((k * (p - 1), k * (p - 1)))
    for j in range(k):
        for m in range(j, k):
            if j == m:
                block = inv[j]
            else:
                middle = x.T @ (x * (w * (pis[m] - pis[j] * pis[m]))[:, None])
                block = inv[j] @ middle @ inv[m]
            rows, cols = slice(j * (p - 1), (j + 1) * (p - 1)), slice(m * (p - 1),
                                                                      (m + 1) * (p - 1))
            var[rows, cols] = block[1:, 1:]
            var[cols, rows] = block[1:, 1:].T
    stacked = np.concatenate([b[1:] for b in betas])
    q = p - 1

    def wald(terms: list[int]) -> tuple[float, int]:
        d = np.zeros(((k - 1) * len(terms), k * q))
        row = 0
        for t in terms:
            for j in range(1, k):
                d[row, t] = 1.0
                d[row, j * q + t] = -1.0
                row += 1
        diff = d @ stacked
        return float(diff @ np.linalg.solve(d @ var @ d.T, diff)), d.shape[0]

    rows = []
    for t, name in [(-1, "Omnibus"), *enumerate(names)]:
        chi2, df = wald(list(range(q)) if t < 0 else [t])
        rows.append({"term": name, "chi2": chi2, "df": df,
                     "p_value": float(stats.chi2.sf(chi2, df))})
    table = pd.DataFrame(rows[1:] + rows[:1])
    estimates = pd.DataFrame({f"> {c}": b[1:] for c, b in zip(cuts, betas, strict=True)},
                             index=pd.Index(names, name="term"))
    return BrantResult(table, estimates)


def brant_for(fit: OrdinalRegressionResult) -> BrantResult:
    """:func:`brant_test` on the data a fitted :func:`ordinal_regression` used."""
    model = fit.result.model
    names = [str(t) for t in fit.table["term"]]
    return brant_test(np.asarray(model.endog), pd.DataFrame(np.asarray(model.exog),
                                                            columns=names))


# ---------------------------------------------------------------------------- trend
class TrendResult(NamedTuple):
    """Trend in the proportion of poor care over ordered periods.

    ``table``: per period ``period``, ``score`` (its position in time), ``n``, ``poor``,
    ``proportion``, ``ci_lower``, ``ci_upper``. ``z``/``p_value``: Cochran-Armitage test
    (two-sided). ``odds_ratio``, ``ci_lower``, ``ci_upper``: change in the odds of poor care per
    period step, from a binomial logistic regression on the period score."""

    table: pd.DataFrame
    z: float
    p_value: float
    odds_ratio: float
    ci_lower: float
    ci_upper: float


def cochran_armitage(count, nobs, scores=None) -> tuple[float, float]:
    """Cochran-Armitage test for a linear trend in binomial proportions.

    Parameters
    ----------
    count, nobs : array_like
        Successes and trials per ordered group.
    scores : array_like, optional
        Scores of the groups (default ``0, 1, 2, ...``).

    Returns
    -------
    z, p_value : float
        ``z = sum(x_i (s_i - s_bar)) / sqrt(p (1 - p) sum(n_i (s_i - s_bar)^2))`` with
        ``s_bar = sum(n_i s_i)/N`` and ``p = sum(x_i)/N``; two-sided normal p-value.

    Notes
    -----
    This is the score test of the slope in a logistic (or linear) model of the proportion on
    the scores. ``z**2 = N r**2``, where ``r`` is the correlation of outcome and score over
    the ``N`` units; the Mantel linear-by-linear statistic is ``M**2 = (N - 1) r**2``.

    References
    ----------
    Armitage P. Biometrics 1955;11:375-86. Agresti A. An Introduction to Categorical Data
    Analysis, 2nd ed., 2007, s. 2.5.
    """
    x = np.asarray(count, dtype=np.float64)
    n = np.asarray(nobs, dtype=np.float64)
    s = np.arange(x.size, dtype=np.float64) if scores is None else np.asarray(scores, np.float64)
    if not (x.shape == n.shape == s.shape) or x.ndim != 1:
        raise ValueError("count, nobs and scores must be 1-D of the same length")
    if (x < 0).any() or (x > n).any():
        raise ValueError("need 0 <= count <= nobs in every group")
    total = n.sum()
    p = x.sum() / total
    s_bar = (n * s).sum() / total
    t = (x * (s - s_bar)).sum()
    var = p * (1 - p) * (n * (s - s_bar) ** 2).sum()
    if var <= 0:
        return float("nan"), float("nan")
    z = t / np.sqrt(var)
    return float(z), float(2 * stats.norm.sf(abs(z)))


def _period_score(label: str, period: str) -> float:
    if period in ("financial_year", "calendar_year"):
        return float(label[:4])
    if period == "quarter":
        return float(label[:4]) + (int(label[-1]) - 1) / 4
    return float(label[:4]) + (int(label[5:7]) - 1) / 12


def poor_care_trend(
    reviews: pd.DataFrame,
    period: str = "financial_year",
    *,
    phase: str = "overall",
    alpha: float = 0.05,
    include_drafts: bool = False,
) -> TrendResult:
    """Is the proportion of poor or very poor care changing over time?

    Parameters
    ----------
    period : {"financial_year", "quarter", "month", "calendar_year"}
        Periods of the month of death. Their scores are their position in time (years, so a gap
        of a missing period is respected); the odds ratio is per period step
        (year, quarter or month).

    Returns
    -------
    TrendResult

    Notes
    -----
    The Cochran-Armitage test (:func:`cochran_armitage`) asks whether the proportion rises or
    falls linearly with time; the odds ratio per period step comes from a binomial GLM (logit)
    of poor care on the period score, with a Wald interval. Both assume reviews are
    independent and that the kind of deaths selected for review did not change: a change in
    review selection (e.g. the medical examiner referrals from 2024) can look like a trend.
    """
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}; expected one of {PERIODS}")
    index = ReviewIndex(reviews, include_drafts=include_drafts)
    table = _poor_care(index, period, phase, "first", alpha)
    table = table[table[period].notna() & (table["n"] > 0)].reset_index(drop=True)
    table = table.rename(columns={period: "period"})
    steps = {"financial_year": 1.0, "calendar_year": 1.0, "quarter": 0.25, "month": 1 / 12}
    score = np.array([_period_score(p, period) for p in table["period"]]) / steps[period]
    score = np.round(score - (score.min() if score.size else 0), 6)
    table.insert(1, "score", score)
    if len(table) < 2:
        raise ValueError("a trend needs at least two periods with reviews")
    poor = table["poor"].to_numpy(np.float64)
    n = table["n"].to_numpy(np.float64)
    z, p = cochran_armitage(poor, n, score)
    with warnings.catch_warnings():
        # With two periods the model is saturated: statsmodels then warns of "perfect
        # prediction" and of a zero residual df; the binomial scale is fixed at 1, so the
        # estimate and its Wald interval are still what we want.
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        warnings.filterwarnings("ignore", "divide by zero", RuntimeWarning)
        glm = GLM(np.column_stack([poor, n - poor]), add_constant(score),
                     family=families.Binomial()).fit()
    lo, hi = np.asarray(glm.conf_int(alpha=alpha))[1]
    return TrendResult(table, z, p, float(np.exp(glm.params[1])), float(np.exp(lo)),
                       float(np.exp(hi)))
