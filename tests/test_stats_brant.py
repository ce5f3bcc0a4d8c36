"""Brant's test of the proportional-odds assumption (issue 14 part 5).

Reference: the postoperative nausea table of Lydersen et al. (2012a), as analysed in Fagerland,
Lydersen and Laake, *Statistical Analysis of Contingency Tables* (2017), chapter 6; the
companion R package ``contingencytables`` tests ``Brant_test_2xc`` on it with the printed
result "T = 1.668, df = 2, P = 0.43422" (tests/testthat/test-ch6.R). Beside it, data simulated
here with and without proportional odds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sjrlib.stats.models import brant_test


def _table_rows(n):
    y, g, w = [], [], []
    for group, counts in enumerate(n):
        for category, count in enumerate(counts):
            y.append(category)
            g.append(group)
            w.append(count)
    return np.array(y), pd.DataFrame({"group": g}), np.array(w, float)


def test_the_published_2xc_example():
    y, x, w = _table_rows([[14, 10, 3, 2], [11, 7, 8, 4]])
    result = brant_test(y, x, weights=w)
    omnibus = result.table.set_index("term").loc["Omnibus"]
    assert round(omnibus["chi2"], 3) == 1.668
    assert omnibus["df"] == 2
    assert round(omnibus["p_value"], 5) == 0.43422
    # the same data one row per patient give the same test
    rows = np.repeat(np.arange(len(y)), w.astype(int))
    again = brant_test(y[rows], x.iloc[rows].reset_index(drop=True))
    assert again.table["chi2"].tolist() == pytest.approx(result.table["chi2"].tolist())


def _simulate(n, rng, *, proportional):
    age = rng.normal(0, 1, n)
    male = rng.integers(0, 2, n)
    cuts = np.array([-1.5, 0.0, 1.5])
    eta = 0.6 * age + 0.4 * male
    # latent logistic: P(y > j) = expit(eta - cut_j); without proportional odds the effect of
    # `male` grows along the scale
    effect = np.array([0.0, 0.0, 0.0]) if proportional else np.array([-0.8, 0.0, 0.8])
    u = rng.uniform(size=n)
    above = 1 / (1 + np.exp(-(eta[:, None] + effect[None, :] * male[:, None] - cuts[None, :])))
    y = (u[:, None] < above).sum(axis=1)
    return y, pd.DataFrame({"age": age, "male": male})


def test_proportional_data_pass_and_a_term_that_grows_along_the_scale_fails():
    rng = np.random.default_rng(7)
    y, x = _simulate(6000, rng, proportional=True)
    table = brant_test(y, x).table.set_index("term")
    assert table.loc["Omnibus", "df"] == 4 and table.loc["age", "df"] == 2
    assert table["p_value"].min() > 0.01
    y, x = _simulate(6000, rng, proportional=False)
    result = brant_test(y, x)
    table = result.table.set_index("term")
    assert table.loc["male", "p_value"] < 1e-6
    assert table.loc["age", "p_value"] > 0.01
    # the separate fits show the effect of `male` growing from cut to cut
    male = result.cut_estimates.loc["male"].to_numpy()
    assert male[0] < male[1] < male[2]


def test_two_levels_cannot_be_checked():
    with pytest.raises(ValueError, match="one cut point"):
        brant_test(np.array([0, 1, 0, 1]), pd.DataFrame({"x": [0.0, 1.0, 1.0, 0.0]}))


def test_cluster_robust_ordinal_model_is_the_sandwich_over_clusters():
    """The clustered fit's covariance equals H^-1 (sum over clusters of s_g s_g') H^-1 times
    G/(G-1) (N-1)/(N-K), computed here from the model's own scores and Hessian."""
    from sjrlib.stats.models import ordinal_regression

    rng = np.random.default_rng(3)
    n, g = 2400, 24
    org = rng.integers(0, g, n)
    age = rng.normal(75, 10, n).round()
    shift = rng.normal(0, 0.8, g)[org]
    latent = 0.03 * (age - 75) + shift + rng.logistic(size=n)
    score = np.digitize(latent, [-2.0, -0.8, 0.8, 2.0]) + 1
    reviews = pd.DataFrame({
        "review_id": [f"R{i}" for i in range(n)], "case_id": [f"C{i}" for i in range(n)],
        "organisation_code": [f"O{k:02d}" for k in org], "review_stage": "first",
        "status": "submitted", "second_review_of": pd.NA,
        "review_date": pd.Timestamp("2024-06-01"),
        "score_overall": pd.array(score, dtype="Int64"),
        "age_at_death": pd.array(age.astype(int), dtype="Int64")})
    plain = ordinal_regression(reviews, ["age_at_death"])
    robust = ordinal_regression(reviews, ["age_at_death"], cluster="organisation_code")
    assert robust.table["odds_ratio"].tolist() == pytest.approx(plain.table["odds_ratio"])
    model, params = robust.result.model, robust.result.params
    scores = model.score_obs(np.asarray(params))
    meat = np.zeros((len(params), len(params)))
    for k in range(g):
        s = scores[org == k].sum(axis=0)
        meat += np.outer(s, s)
    bread = np.linalg.inv(-model.hessian(np.asarray(params)))
    correction = g / (g - 1) * (n - 1) / (n - len(params))
    expected = correction * bread @ meat @ bread
    assert np.sqrt(expected[0, 0]) == pytest.approx(robust.table["std_err"].iloc[0], rel=1e-4)
    # the organisations' shift makes the robust standard error wider than the plain one
    assert robust.table["std_err"].iloc[0] > plain.table["std_err"].iloc[0]
