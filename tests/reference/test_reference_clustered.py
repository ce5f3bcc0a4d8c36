"""Reference values for ``sjrlib.stats.clustered``: a hand-made frame worked by the textbook
formula (Cochran 1977, s. 6.8: variance of a ratio estimator with clusters as primary units),
and statsmodels' own cluster-robust fits called here on the same data (see README.md)."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from sjrlib.stats import clustered

# Three organisations: A 2 of 4 poor, B 1 of 6, C 3 of 5.
Y = np.array([1, 1, 0, 0] + [1, 0, 0, 0, 0, 0] + [1, 1, 1, 0, 0])
G = np.array(["A"] * 4 + ["B"] * 6 + ["C"] * 5)


def test_ratio_estimator_by_hand():
    # p = 6/15 = 0.4; residual totals y_g - p m_g: A 2 - 1.6 = 0.4, B 1 - 2.4 = -1.4,
    # C 3 - 2.0 = 1.0; sum of squares 0.16 + 1.96 + 1.00 = 3.12;
    # var = G/(G-1) * 3.12 / N^2 = 1.5 * 3.12 / 225 = 0.0208; SRS var = 0.4*0.6/15 = 0.016;
    # design effect = 0.0208 / 0.016 = 1.3.
    r = clustered.clustered_proportion(Y, G)
    assert (r.count, r.n, r.n_clusters) == (6, 15, 3)
    assert r.proportion == pytest.approx(0.4)
    assert r.std_err == pytest.approx(np.sqrt(0.0208), rel=1e-12)
    assert r.srs_std_err == pytest.approx(np.sqrt(0.016), rel=1e-12)
    assert r.design_effect == pytest.approx(1.3, rel=1e-12)


def test_ratio_estimator_numpy_formula_on_a_larger_frame():
    rng = np.random.default_rng(7)
    sizes = rng.integers(5, 60, size=25)
    rates = rng.beta(2, 8, size=25)
    groups = np.repeat(np.arange(25), sizes)
    y = (rng.random(groups.size) < rates[groups]).astype(int)
    totals = np.bincount(groups, weights=y)
    m = np.bincount(groups)
    p = y.mean()
    var = 25 / 24 * ((totals - p * m) ** 2).sum() / y.size ** 2
    r = clustered.clustered_proportion(y, groups)
    assert r.std_err == pytest.approx(np.sqrt(var), rel=1e-10)
    assert r.design_effect == pytest.approx(var / (p * (1 - p) / y.size), rel=1e-10)
    # statsmodels' GLM (binomial, identity-free: intercept-only logit) with the same
    # cluster-robust covariance gives the same variance for p by the delta method.
    glm = sm.GLM(y, np.ones((y.size, 1)), family=sm.families.Binomial()).fit(
        cov_type="cluster", cov_kwds={"groups": groups})
    se_p = glm.bse[0] * p * (1 - p)
    assert se_p == pytest.approx(np.sqrt(var), rel=1e-8)


def test_effective_wilson_is_statsmodels_wilson_on_effective_n():
    # With t on G-1 df as the critical value, the interval is statsmodels' Wilson interval at
    # the alpha whose normal quantile is that t value, on n / deff trials.
    r = clustered.clustered_proportion(Y, G)
    crit = stats.t.ppf(0.975, 2)
    alpha_z = 2 * stats.norm.sf(crit)
    m = 15 / 1.3
    lo, hi = proportion_confint(0.4 * m, m, alpha=alpha_z, method="wilson")
    assert (r.ci_lower, r.ci_upper) == pytest.approx((lo, hi), rel=1e-10)


def test_design_effect_below_one_is_taken_as_one():
    lo, hi = clustered.effective_wilson(30, 100, 0.5, 1000)
    ref = proportion_confint(30, 100, alpha=2 * stats.norm.sf(stats.t.ppf(0.975, 999)),
                             method="wilson")
    assert (lo[0], hi[0]) == pytest.approx(ref, rel=1e-12)


def _logit_fit(x, y):
    beta = np.zeros(x.shape[1])
    for _ in range(50):
        mu = 1 / (1 + np.exp(-x @ beta))
        w = mu * (1 - mu)
        step = np.linalg.solve(x.T @ (x * w[:, None]), x.T @ (y - mu))
        beta += step
        if np.abs(step).max() < 1e-12:
            break
    return beta


def test_trend_sandwich_by_hand():
    rng = np.random.default_rng(11)
    n_org = 12
    org_effect = rng.normal(0, 0.8, n_org)
    rows = []
    for g in range(n_org):
        for year in range(3):
            for _ in range(rng.integers(10, 40)):
                eta = -1.5 + 0.1 * year + org_effect[g]
                rows.append((g, year, int(rng.random() < 1 / (1 + np.exp(-eta)))))
    g, s, y = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    x = np.column_stack([np.ones_like(s), s])
    beta = _logit_fit(x, y)
    mu = 1 / (1 + np.exp(-x @ beta))
    bread = np.linalg.inv(x.T @ (x * (mu * (1 - mu))[:, None]))
    scores = np.array([x[g == k].T @ (y - mu)[g == k] for k in range(n_org)])
    n, k = x.shape
    meat = n_org / (n_org - 1) * (n - 1) / (n - k) * scores.T @ scores
    cov = bread @ meat @ bread
    se = np.sqrt(cov[1, 1])
    r = clustered.clustered_trend(y, s, g)
    assert np.log(r.odds_ratio) == pytest.approx(beta[1], rel=1e-7)
    z = beta[1] / se
    assert r.z == pytest.approx(z, rel=1e-6)
    assert r.p_value == pytest.approx(2 * stats.t.sf(abs(z), n_org - 1), rel=1e-6)
    crit = stats.t.ppf(0.975, n_org - 1)
    assert np.log(r.ci_upper) == pytest.approx(beta[1] + crit * se, rel=1e-6)
    # the two fits stop at their own tolerances (IRLS here vs Newton above)
    assert r.design_effect == pytest.approx(cov[1, 1] / bread[1, 1], rel=1e-5)
