"""Reference values for sjrlib.stats.agreement; each number's source is in README.md."""

from __future__ import annotations

import numpy as np
import pytest

from sjrlib.stats.agreement import _anova, icc, krippendorff_alpha, weighted_kappa

nan = np.nan
# Krippendorff (2011), worked example: rows = observers A-D, columns = units 1-12, "." = nan.
KRIPPENDORFF_2011 = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
])

# Shrout & Fleiss (1979), Table 2: 6 targets (rows) rated by 4 judges (columns).
SHROUT_FLEISS = np.array([
    [9, 2, 5, 8],
    [6, 1, 3, 2],
    [8, 4, 6, 8],
    [7, 1, 2, 6],
    [10, 5, 6, 9],
    [6, 2, 4, 7],
])


@pytest.mark.parametrize(("level", "published"), [
    ("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_krippendorff_2011(level, published):
    assert round(krippendorff_alpha(KRIPPENDORFF_2011, level), 3) == published


def test_krippendorff_nominal_by_hand():
    # Pairable values: units with >= 2 values; unit 12 (one value) drops out, n = 40 values.
    # Coincidences o_ck = sum over units of (ordered c-k pairs in the unit) / (m_u - 1):
    #   o_11 = 3 (u1: 3 ones, 6 pairs / 2) + 2 (u8: 3 ones, 6 / 3) + 2 (u11: 2 / 1) = 7
    #   o_22 = 2 (u2) + 4 (u5) + 4 (u9) = 10;  o_33 = 4 (u3) + 4 (u4) = 8;  o_44 = 4 (u7)
    #   o_55 = 3 (u10: 3 fives, 6 / 2);  sum of the diagonal = 32
    #   o_12 = 1 (u8: 3 pairs / 3) + 1/3 (u6: values 1, 2, 3, 4) = 4/3; o_23 = 1 (u2) + 1/3 (u6)
    #   o_13 = o_14 = o_24 = o_34 = 1/3 (u6)
    # Marginals n_c: n_1 = 7 + 4/3 + 1/3 + 1/3 = 9, n_2 = 13, n_3 = 10, n_4 = 5, n_5 = 3.
    # alpha = 1 - (n - 1) * (n - sum o_cc) / (n^2 - sum n_c^2)
    #       = 1 - 39 * (40 - 32) / (1600 - (81 + 169 + 100 + 25 + 9)) = 1 - 312/1216 = 113/152
    coincidences = np.zeros((6, 6))
    for unit in KRIPPENDORFF_2011.T:
        values = unit[~np.isnan(unit)].astype(int)
        for i in range(len(values)):
            for j in range(len(values)):
                if i != j:
                    coincidences[values[i], values[j]] += 1 / (len(values) - 1)
    assert np.trace(coincidences) == pytest.approx(32)
    assert coincidences.sum(axis=1)[1:] == pytest.approx([9, 13, 10, 5, 3])
    expected = 1 - 39 * (40 - 32) / (1600 - (81 + 169 + 100 + 25 + 9))
    assert expected == pytest.approx(113 / 152)
    assert krippendorff_alpha(KRIPPENDORFF_2011, "nominal") == pytest.approx(113 / 152, abs=1e-12)


@pytest.mark.parametrize(("kind", "published"), [
    ("ICC(1,1)", 0.17), ("ICC(2,1)", 0.29), ("ICC(3,1)", 0.71),
    ("ICC(1,k)", 0.44), ("ICC(2,k)", 0.62), ("ICC(3,k)", 0.91)])
def test_shrout_fleiss_1979(kind, published):
    result = icc(SHROUT_FLEISS, kind)
    assert round(result.icc, 2) == published
    assert result.ci_lower < result.icc < result.ci_upper
    assert (result.n_targets, result.n_raters) == (6, 4)


def test_shrout_fleiss_mean_squares():
    # Hand derivation: grand mean 29/6 * ... written as sums of squares of the table.
    x = SHROUT_FLEISS.astype(float)
    grand = x.sum() / 24                                  # 127 / 24
    ss_total = ((x - grand) ** 2).sum()
    ss_targets = 4 * ((x.mean(axis=1) - grand) ** 2).sum()
    ss_judges = 6 * ((x.mean(axis=0) - grand) ** 2).sum()
    assert x.sum() == 127
    ms = _anova(x)
    assert round(ms["BMS"], 2) == 11.24 == round(ss_targets / 5, 2)
    assert round(ms["WMS"], 2) == 6.26 == round((ss_total - ss_targets) / 18, 2)
    assert round(ms["JMS"], 2) == 32.49 == round(ss_judges / 3, 2)
    assert round(ms["EMS"], 2) == 1.02 == round((ss_total - ss_targets - ss_judges) / 15, 2)
    # Independent software: statsmodels two-way ANOVA on the long table.
    pd = pytest.importorskip("pandas")
    from statsmodels.formula.api import ols
    from statsmodels.stats.anova import anova_lm

    long = pd.DataFrame({"y": x.ravel(), "target": np.repeat(np.arange(6), 4).astype(str),
                         "judge": np.tile(np.arange(4), 6).astype(str)})
    table = anova_lm(ols("y ~ C(target) + C(judge)", data=long).fit())
    assert table.loc["C(target)", "mean_sq"] == pytest.approx(ms["BMS"])
    assert table.loc["C(judge)", "mean_sq"] == pytest.approx(ms["JMS"])
    assert table.loc["Residual", "mean_sq"] == pytest.approx(ms["EMS"])
    one_way = anova_lm(ols("y ~ C(target)", data=long).fit())
    assert one_way.loc["Residual", "mean_sq"] == pytest.approx(ms["WMS"])
    assert icc(x, "ICC(1,1)").f_value == pytest.approx(one_way.loc["C(target)", "F"])


def test_icc2_satterthwaite_df():
    # The lower bound of ICC(2,1) depends on v; two published forms of v must agree.
    n, k = SHROUT_FLEISS.shape
    ms = _anova(SHROUT_FLEISS.astype(float))
    rho = icc(SHROUT_FLEISS, "ICC(2,1)").icc
    fj = ms["JMS"] / ms["EMS"]
    c = n * (1 + (k - 1) * rho) - k * rho
    v_sf = (k - 1) * (n - 1) * (k * rho * fj + c) ** 2 / ((n - 1) * k**2 * rho**2 * fj**2 + c**2)
    a = k * rho / (n * (1 - rho))
    b = 1 + k * rho * (n - 1) / (n * (1 - rho))
    v_mw = (a * ms["JMS"] + b * ms["EMS"]) ** 2 / (
        (a * ms["JMS"]) ** 2 / (k - 1) + (b * ms["EMS"]) ** 2 / ((n - 1) * (k - 1)))
    assert v_sf == pytest.approx(v_mw)
    from scipy import stats
    f_star = stats.f.ppf(0.975, n - 1, v_sf)
    lower = n * (ms["BMS"] - f_star * ms["EMS"]) / (
        f_star * (k * ms["JMS"] + (k * n - k - n) * ms["EMS"]) + n * ms["BMS"])
    assert icc(SHROUT_FLEISS, "ICC(2,1)").ci_lower == pytest.approx(lower)


def _from_table(table):
    a, b = [], []
    for i, row in enumerate(table):
        for j, count in enumerate(row):
            a += [i] * count
            b += [j] * count
    return a, b


def test_kappa_sas_example():
    a, b = _from_table([[0, 4, 1], [0, 8, 0], [0, 1, 5]])
    w = weighted_kappa(a, b, "linear", categories=[0, 1, 2])
    assert (round(w.kappa, 4), round(w.std_err, 4)) == (0.4701, 0.1457)
    assert (round(w.ci_lower, 4), round(w.ci_upper, 4)) == (0.1845, 0.7558)
    s = weighted_kappa(a, b, None, categories=[0, 1, 2])
    assert (round(s.kappa, 4), round(s.std_err, 4)) == (0.4842, 0.1380)
    assert (round(s.ci_lower, 4), round(s.ci_upper, 4)) == (0.2137, 0.7547)


PAIRS_A = [1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 2, 3, 4, 1, 3, 4, 5, 4]
PAIRS_B = [1, 2, 3, 3, 2, 4, 4, 4, 5, 3, 5, 4, 2, 3, 4, 2, 3, 3, 5, 4]


@pytest.mark.parametrize(("weights", "expected"), [
    (None, 0.47540983606557374), ("linear", 0.6850393700787402),
    ("quadratic", 0.8473282442748091)])
def test_kappa_sklearn(weights, expected):
    got = weighted_kappa(PAIRS_A, PAIRS_B, weights, categories=(1, 2, 3, 4, 5))
    assert got.kappa == pytest.approx(expected, abs=1e-12)
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    assert got.kappa == pytest.approx(
        sklearn_metrics.cohen_kappa_score(PAIRS_A, PAIRS_B, weights=weights), abs=1e-12)
