"""sjrlib.stats.models: the ordinal model's table and the trend test on review frames."""

from __future__ import annotations

import numpy as np
import pytest
from strategies import make_reviews, random_reviews

from sjrlib.stats import descriptive as ds
from sjrlib.stats.models import cochran_armitage, ordinal_regression, poor_care_trend


def test_ordinal_table_matches_statsmodels_result():
    frame = random_reviews(800, seed=11)
    fit = ordinal_regression(frame, alpha=0.1)
    k = len(fit.table)
    params = np.asarray(fit.result.params[:k])
    assert fit.direction == "worse" and fit.converged
    np.testing.assert_allclose(fit.table["estimate"], -params)
    np.testing.assert_allclose(fit.table["odds_ratio"], np.exp(-params))
    ci = np.asarray(fit.result.conf_int(alpha=0.1))[:k]
    np.testing.assert_allclose(fit.table["ci_lower"], np.exp(-ci[:, 1]), rtol=1e-10)
    np.testing.assert_allclose(fit.table["ci_upper"], np.exp(-ci[:, 0]), rtol=1e-10)
    assert fit.table["term"].tolist() == [
        "age_at_death (per 10 years)", "sex[male]", "admission_type[elective]",
        "admission_type[transfer]", "admission_type[other]", "learning_disability[yes]"]
    assert fit.nobs == 800 and fit.n_dropped == 0


def test_ordinal_drops_incomplete_rows_and_explains_errors():
    frame = random_reviews(300, seed=2)
    frame.loc[:9, "age_at_death"] = None
    assert ordinal_regression(frame, ["age_at_death", "sex"]).n_dropped == 10
    with pytest.raises(ValueError, match="not columns"):
        ordinal_regression(frame, ["height"])
    same = frame.assign(score_overall=frame["score_overall"] * 0 + 3)
    with pytest.raises(ValueError, match="fewer than two values"):
        ordinal_regression(same, ["sex"])


def test_trend_uses_the_poor_care_table():
    rows = []
    for month, poor, n in (("2021-05", 2, 10), ("2022-05", 4, 10), ("2023-05", 7, 10)):
        rows += [dict(death_month=month, score_overall=1)] * poor
        rows += [dict(death_month=month, score_overall=4)] * (n - poor)
    frame = make_reviews([{**r, "case_id": f"C{i}"} for i, r in enumerate(rows)])
    trend = poor_care_trend(frame)
    assert trend.table["period"].tolist() == ["2021/22", "2022/23", "2023/24"]
    assert trend.table["poor"].tolist() == [2, 4, 7]
    z, p = cochran_armitage([2, 4, 7], [10, 10, 10], [0, 1, 2])
    assert (trend.z, trend.p_value) == pytest.approx((z, p))
    assert trend.z > 0 and trend.odds_ratio > 1 and trend.ci_lower < trend.odds_ratio
    table = ds.poor_care(frame, "financial_year")
    np.testing.assert_allclose(trend.table["ci_lower"], table["ci_lower"])
    # A gap (no 2022/23 reviews) keeps the time spacing: scores 0 and 2.
    gap = frame[frame["death_month"] != "2022-05"]
    assert poor_care_trend(gap).table["score"].tolist() == [0.0, 2.0]
    quarterly = poor_care_trend(frame, "quarter")
    assert quarterly.table["score"].tolist() == [0.0, 4.0, 8.0]


def test_cochran_armitage_edge_cases():
    z, p = cochran_armitage([0, 0], [5, 5])
    assert np.isnan(z) and np.isnan(p)
    with pytest.raises(ValueError):
        cochran_armitage([6], [5])
