"""Reference values for sjrlib.stats.models (sources in README.md)."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels.stats.contingency_tables import Table
from strategies import random_reviews

from sjrlib.stats.models import cochran_armitage, ordinal_regression

# Agresti (2007), Table 2.7: infant malformation by mother's alcohol consumption
# (0, <1, 1-2, 3-5, >=6 drinks/day), scores 0, 0.5, 1.5, 4.0, 7.0.
PRESENT = np.array([48, 38, 5, 1, 1])
ABSENT = np.array([17066, 14464, 788, 126, 37])
SCORES = np.array([0, 0.5, 1.5, 4.0, 7.0])


def test_trend_agresti_alcohol():
    z, p = cochran_armitage(PRESENT, PRESENT + ABSENT, SCORES)
    n = (PRESENT + ABSENT).sum()
    m2 = z**2 * (n - 1) / n  # Mantel's M^2 = (n - 1) r^2 = z^2 (n - 1) / n
    assert round(m2, 2) == 6.57 and round(p, 2) == 0.01  # Agresti 2007, s. 2.5.3
    lbl = Table(np.column_stack([ABSENT, PRESENT])).test_ordinal_association(
        row_scores=SCORES, col_scores=np.array([0.0, 1.0]))
    assert m2 == pytest.approx(lbl.zscore**2, rel=1e-10)


def test_cochran_armitage_is_logistic_score_test():
    counts = np.column_stack([PRESENT, ABSENT])
    null = sm.GLM(counts, np.ones((5, 1)), family=sm.families.Binomial()).fit()
    score = null.score_test(exog_extra=SCORES[:, None])
    z, p = cochran_armitage(PRESENT, PRESENT + ABSENT, SCORES)
    assert z**2 == pytest.approx(float(score.statistic[0]), rel=1e-8)
    assert p == pytest.approx(float(score.pvalue[0]), rel=1e-6)


def test_ordinal_two_levels_is_logistic():
    frame = random_reviews(600, seed=3)
    # Collapse to two outcome levels: 2 (poor) and 4 (good). With two levels the
    # proportional-odds model is the logistic model of P(score > 2).
    frame["score_overall"] = frame["score_overall"].where(frame["score_overall"] >= 3, 2)
    frame["score_overall"] = frame["score_overall"].where(frame["score_overall"] < 3, 4)
    covariates = ("age_at_death", "sex", "learning_disability")
    better = ordinal_regression(frame, covariates, direction="better")
    table = better.table.set_index("term")

    y = (frame["score_overall"] == 4).to_numpy(int)
    x = np.column_stack([
        frame["age_at_death"].to_numpy(float) / 10,
        (frame["sex"] == "male").to_numpy(float),
        (frame["learning_disability"] == "yes").to_numpy(float),
    ])
    logit = sm.Logit(y, sm.add_constant(x)).fit(disp=False)
    expected = logit.params[1:]
    got = table.loc[["age_at_death (per 10 years)", "sex[male]", "learning_disability[yes]"],
                    "estimate"].to_numpy()
    assert got == pytest.approx(expected, abs=1e-6)
    assert table["std_err"].to_numpy() == pytest.approx(logit.bse[1:], rel=1e-4)

    linear_model = pytest.importorskip("sklearn.linear_model")
    sk = linear_model.LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000).fit(x, y)
    assert got == pytest.approx(sk.coef_[0], abs=1e-5)

    worse = ordinal_regression(frame, covariates, direction="worse").table
    assert worse["estimate"].to_numpy() == pytest.approx(-table["estimate"].to_numpy())
    assert worse["odds_ratio"].to_numpy() == pytest.approx(1 / table["odds_ratio"].to_numpy())
