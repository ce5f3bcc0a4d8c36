"""sjrlib.stats.national: the one-pass national set equals the functions called one by one."""

from __future__ import annotations

import pandas as pd
import pytest

from sjrlib.stats import agreement, descriptive, lfd
from sjrlib.stats.national import DIMENSIONS, national_statistics
from sjrlib.synthetic import generate


@pytest.fixture(scope="module")
def data():
    return generate(n_organisations=5, years=2, seed=7)


def test_national_set_equals_individual_functions(data):
    reviews, deaths = data.reviews, data.deaths
    result = national_statistics(reviews, deaths)
    for by in DIMENSIONS:
        name = by or "overall"
        pd.testing.assert_frame_equal(result.care_scores[name],
                                      descriptive.care_score_distribution(reviews, by))
        pd.testing.assert_frame_equal(result.poor_care[name], descriptive.poor_care(reviews, by))
        pd.testing.assert_frame_equal(result.problems[name],
                                      descriptive.problem_frequency(reviews, by))
        pd.testing.assert_frame_equal(result.problems_per_review[name],
                                      descriptive.problems_per_review(reviews, by))
        pd.testing.assert_frame_equal(result.avoidability[name],
                                      descriptive.avoidability_distribution(reviews, by))
        pd.testing.assert_frame_equal(result.more_likely_than_not[name],
                                      descriptive.more_likely_than_not(reviews, by))
    for period in lfd.LFD_PERIODS:
        pd.testing.assert_frame_equal(result.lfd[period],
                                      lfd.learning_from_deaths(reviews, deaths, period=period))
    pd.testing.assert_frame_equal(result.agreement, agreement.agreement_summary(reviews))


def test_synthetic_data_has_double_reviews_in_the_published_range(data):
    summary = agreement.agreement_summary(data.reviews).set_index("statistic")
    assert summary.loc["kappa_linear", "n"] > 20
    # calibration.md: implicit review is only moderately reliable (ICC about 0.25-0.52).
    assert 0.0 < summary.loc["icc_1_1", "estimate"] < 0.9
