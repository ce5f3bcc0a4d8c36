"""Properties of ``sjrlib.stats.clustered`` and the design effect on the synthetic data."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sjrlib.stats import clustered, descriptive, models


@st.composite
def clustered_outcomes(draw):
    n_groups = draw(st.integers(1, 12))
    sizes = draw(st.lists(st.integers(1, 15), min_size=n_groups, max_size=n_groups))
    groups = np.repeat(np.arange(n_groups), sizes)
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=groups.size,
                               max_size=groups.size)))
    return y, groups


@settings(max_examples=150, deadline=None)
@given(clustered_outcomes(), st.sampled_from([0.05, 0.1, 0.01]))
def test_interval_contains_estimate(data, alpha):
    y, groups = data
    r = clustered.clustered_proportion(y, groups, alpha)
    assert 0.0 <= r.ci_lower <= r.proportion <= r.ci_upper <= 1.0
    # never narrower than the Wilson interval on the same reviews with the same critical value
    lo, hi = clustered.effective_wilson(r.count, r.n, 1.0, r.n_clusters, alpha)
    assert r.ci_lower <= lo[0] + 1e-12 and r.ci_upper >= hi[0] - 1e-12


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 1), min_size=2, max_size=300).filter(lambda v: 0 < sum(v) < len(v)))
def test_design_effect_of_clusters_of_one(values):
    # Each review its own organisation: the cluster-robust variance is p(1-p)/(N-1), so the
    # design effect is N/(N-1): about 1.
    y = np.array(values)
    r = clustered.clustered_proportion(y, np.arange(y.size))
    assert r.design_effect == pytest.approx(y.size / (y.size - 1), rel=1e-9)


def test_one_organisation_keeps_wilson():
    y = np.array([1] * 18 + [0] * 2)
    r = clustered.clustered_proportion(y, ["X"] * 20)
    assert np.isnan(r.design_effect)
    lo, hi = descriptive.wilson_interval(18, 20)
    assert (r.ci_lower, r.ci_upper) == pytest.approx((lo[0], hi[0]), rel=1e-9)


def test_bad_input_is_explained():
    with pytest.raises(ValueError, match="0 or 1"):
        clustered.clustered_proportion([0, 2], ["a", "b"])
    with pytest.raises(ValueError, match="two organisations"):
        clustered.clustered_trend([0, 1], [0, 1], ["a", "a"])


@pytest.fixture(scope="module")
def synthetic():
    from sjrlib.synthetic import generate

    data = generate(n_organisations=40, years=2, seed=1)
    return data.reviews.merge(data.organisations[["organisation_code", "nation"]],
                              on="organisation_code", how="left")


def test_design_effect_on_synthetic_data(synthetic):
    outcomes = clustered.poor_care_outcomes(synthetic, columns=["nation"])
    pooled = descriptive.poor_care(synthetic)
    assert (len(outcomes), int(outcomes["poor"].sum())) == (int(pooled["n"].iloc[0]),
                                                            int(pooled["poor"].iloc[0]))
    table = clustered.clustered_proportions(outcomes, "nation").set_index("nation")
    whole = clustered.clustered_proportions(outcomes).iloc[0]
    # the generator gives organisations their own level of care: reviews cluster strongly
    assert whole["design_effect"] > 3
    assert (table["design_effect"] > 3).all()
    wilson = descriptive.wilson_interval(whole["count"], whole["n"])
    assert whole["ci_upper"] - whole["ci_lower"] > 1.5 * (wilson[1][0] - wilson[0][0])


def test_trend_on_synthetic_data_is_less_sure_than_naive(synthetic):
    trend = clustered.poor_care_trend(synthetic, "financial_year")
    plain = models.poor_care_trend(synthetic, "financial_year")
    # same reviews, same model: the same odds ratio per year as the unclustered trend
    assert trend.odds_ratio == pytest.approx(plain.odds_ratio, rel=1e-6)
    assert trend.n == int(plain.table["n"].sum())
    assert trend.design_effect > 1
    assert trend.p_value > trend.naive_p_value
    assert trend.ci_lower < trend.odds_ratio < trend.ci_upper
