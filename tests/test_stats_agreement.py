"""sjrlib.stats.agreement: properties, and extraction of double reviews from a frame."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from strategies import make_reviews, ratings_pairs, review_frames

from sjrlib import domain
from sjrlib.stats import agreement as ag

SETTINGS = settings(max_examples=15, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@settings(deadline=None)
@given(st.lists(st.sampled_from(domain.CARE_SCORES), min_size=2, max_size=60),
       st.sampled_from([None, "linear", "quadratic"]))
def test_kappa_of_identical_ratings_is_one(ratings, weights):
    result = ag.weighted_kappa(ratings, ratings, weights, categories=domain.CARE_SCORES)
    if len(set(ratings)) > 1:
        assert result.kappa == pytest.approx(1.0)
        assert result.ci_upper == pytest.approx(1.0)
    else:
        assert np.isnan(result.kappa)  # one category only: kappa is undefined


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
@settings(deadline=None)
@given(ratings_pairs, st.sampled_from([None, "linear", "quadratic"]))
def test_kappa_matches_sklearn_and_is_symmetric(pair, weights):
    a, b = pair
    ours = ag.weighted_kappa(a, b, weights, categories=domain.CARE_SCORES)
    theirs = cohen_kappa_score(a, b, weights=weights, labels=list(domain.CARE_SCORES))
    # sklearn declines (nan) when the raters share fewer than two labels; kappa itself is
    # defined there unless both raters use one single category.
    assume(not np.isnan(theirs))
    assert ours.kappa == pytest.approx(theirs, abs=1e-10)
    assert ag.weighted_kappa(b, a, weights, categories=domain.CARE_SCORES).kappa == \
        pytest.approx(ours.kappa, abs=1e-10)
    assert -1 <= ours.ci_lower <= ours.kappa <= ours.ci_upper <= 1


def test_kappa_drops_missing_pairs_and_checks_categories():
    result = ag.weighted_kappa([1, 2, None, 3], [1, 2, 3, np.nan], categories=(1, 2, 3))
    assert result.n == 2
    with pytest.raises(ValueError, match="not one of the categories"):
        ag.weighted_kappa([1, 6], [1, 2], categories=domain.CARE_SCORES)
    with pytest.raises(ValueError, match="weights"):
        ag.weighted_kappa([1], [1], "cubic")


@settings(deadline=None)
@given(ratings_pairs)
def test_alpha_and_icc_of_identical_ratings(pair):
    a, _ = pair
    data = np.array([a, a], dtype=float)
    alpha = ag.krippendorff_alpha(data, "ordinal", value_domain=domain.CARE_SCORES)
    if len(set(a)) > 1:
        assert alpha == pytest.approx(1.0)
        assert ag.icc(data.T, "ICC(1,1)").icc == pytest.approx(1.0)
    else:
        assert np.isnan(alpha)


def test_alpha_matches_package_with_missing_units():
    import krippendorff

    rng = np.random.default_rng(5)
    data = rng.integers(1, 6, (3, 40)).astype(float)
    data[rng.random(data.shape) < 0.3] = np.nan
    for level in ("nominal", "ordinal", "interval"):
        assert ag.krippendorff_alpha(data, level) == pytest.approx(
            krippendorff.alpha(reliability_data=data, level_of_measurement=level))


def test_percent_agreement():
    result = ag.percent_agreement([1, 2, 3, 4], [1, 2, 4, 4])
    assert (result.agreements, result.n, result.proportion) == (3, 4, 0.75)
    assert ag.percent_agreement([1, 2, 3, 4], [1, 2, 4, 5], tolerance=1).agreements == 4
    assert 0 <= result.ci_lower <= 0.75 <= result.ci_upper <= 1


def test_icc_rejects_incomplete_ratings():
    with pytest.raises(ValueError, match="complete"):
        ag.icc([[1, 2], [3, np.nan]])
    with pytest.raises(ValueError, match="unknown ICC"):
        ag.icc([[1, 2], [3, 4]], "ICC(4,1)")


def test_pairs_from_a_review_frame():
    frame = make_reviews([
        dict(case_id="C1", reviewer_id="R1", review_date="2024-01-01", score_overall=2),
        dict(case_id="C1", reviewer_id="R2", review_date="2024-01-05", score_overall=3),
        dict(case_id="C1", reviewer_id="R4", review_date="2024-01-09", score_overall=3),
        dict(case_id="C1", reviewer_id="R3", review_stage="second", score_overall=1,
             avoidability_score=3),                                    # not an independent rating
        dict(case_id="C2", reviewer_id="R1", score_overall=4),
        dict(case_id="C2", reviewer_id="R1", review_date="2024-02-01", score_overall=5),  # same
        dict(case_id="C3", reviewer_id="R1", score_overall=4),
        dict(case_id="C3", reviewer_id="R2", score_overall=4, status="draft"),  # draft: out
        dict(case_id="C1", organisation_code="XAB", reviewer_id="R9", score_overall=5),
        dict(case_id="C1", organisation_code="XAB", reviewer_id="R8", score_overall=5,
             review_date="2024-03-01", score_admission=2),
    ])
    pairs = ag.rating_pairs(frame)
    assert list(zip(pairs["organisation_code"], pairs["case_id"], strict=True)) == [
        ("XAA", "C1"), ("XAB", "C1")]
    assert pairs[["rating_1", "rating_2"]].to_numpy().tolist() == [[2, 3], [5, 5]]
    assert pairs["reviewer_id_1"].tolist() == ["R1", "R9"]
    admission = ag.rating_pairs(frame, "score_admission")
    assert admission["rating_1"].isna().all() and admission["rating_2"].tolist()[1] == 2
    rel = ag.reliability_data(frame)
    assert rel.data.shape == (3, 2)
    np.testing.assert_array_equal(rel.data[:, 0], [2, 3, 3])
    np.testing.assert_array_equal(rel.data[:2, 1], [5, 5])
    assert np.isnan(rel.data[2, 1])
    summary = ag.agreement_summary(frame).set_index("statistic")
    assert summary.loc["percent_agreement", "n"] == 2
    assert summary.loc["percent_agreement", "estimate"] == 0.5


@SETTINGS
@given(review_frames())
def test_summary_is_consistent_with_the_parts(frame):
    summary = ag.agreement_summary(frame).set_index("statistic")
    pairs = ag.rating_pairs(frame)
    assert summary.loc["kappa_linear", "n"] == pairs[["rating_1", "rating_2"]].notna().all(
        axis=1).sum()
    both = pairs.dropna(subset=["rating_1", "rating_2"])
    if len(both):
        agree = (both["rating_1"] == both["rating_2"]).mean()
        assert summary.loc["percent_agreement", "estimate"] == pytest.approx(agree)
    assert (pairs["reviewer_id_1"] != pairs["reviewer_id_2"]).all()


def _naive_ratings(frame, score: str = "score_overall", include_drafts: bool = False):
    """Every independent first-stage rating of multiply-rated cases, in plain pandas: one row
    per case and rater slot, ordered by organisation_code, case_id and slot."""
    f = frame[frame["review_stage"] == "first"]
    if not include_drafts:
        f = f[f["status"] != "draft"]
    f = f.sort_values(["organisation_code", "case_id", "review_date", "review_id"])
    f = f.drop_duplicates(["organisation_code", "case_id", "reviewer_id"])
    f = f[f.groupby(["organisation_code", "case_id"])["review_id"].transform("size") >= 2]
    return f.assign(slot=f.groupby(["organisation_code", "case_id"]).cumcount()).sort_values(
        ["organisation_code", "case_id", "slot"], ignore_index=True)


def _check_against_naive(frame, include_drafts=False):
    for score in ("score_overall", "avoidability_score"):
        naive = _naive_ratings(frame, score, include_drafts)
        pairs = ag.rating_pairs(frame, score, include_drafts=include_drafts)
        first, second = (naive[naive["slot"] == k].reset_index(drop=True) for k in (0, 1))
        for column, values in (("organisation_code", first["organisation_code"]),
                               ("case_id", first["case_id"]),
                               ("review_id_1", first["review_id"]),
                               ("review_id_2", second["review_id"]),
                               ("reviewer_id_1", first["reviewer_id"]),
                               ("reviewer_id_2", second["reviewer_id"]),
                               ("rating_1", first[score]), ("rating_2", second[score])):
            assert pairs[column].tolist() == values.tolist(), column
        rel = ag.reliability_data(frame, score, include_drafts=include_drafts)
        units = naive.groupby(["organisation_code", "case_id"], sort=True).ngroup()
        expected = np.full(rel.data.shape, np.nan)
        expected[naive["slot"].to_numpy(), units.to_numpy()] = naive[score].to_numpy(
            dtype=float, na_value=np.nan)
        np.testing.assert_array_equal(rel.data, expected)
        assert rel.units["case_id"].tolist() == first["case_id"].tolist()


@SETTINGS
@given(review_frames(), st.booleans())
def test_pairs_and_reliability_data_equal_a_pandas_sort(frame, include_drafts):
    # The double reviews are found and ordered with integer codes; the order must be that of
    # sorting the strings (organisation, case, then review date and id within a case).
    _check_against_naive(frame, include_drafts)


def test_pairs_and_reliability_data_equal_a_pandas_sort_on_synthetic_data():
    from sjrlib.synthetic import generate

    frame = generate(n_organisations=6, years=2, seed=11).reviews
    assert len(ag.rating_pairs(frame)) > 20
    _check_against_naive(frame)


# ---------------------------------------------------------------------------- alpha interval
KRIPPENDORFF_2011 = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, np.nan, np.nan, np.nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, np.nan, 3],
    [np.nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, np.nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, np.nan],
])
LEVELS = ("nominal", "ordinal", "interval", "ratio")


def _patterns(data, domain_values):
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    counts = (data[:, pairable].T[:, :, None] == domain_values[None, None, :]).sum(axis=1)
    patterns, which = np.unique(counts, axis=0, return_inverse=True)
    return data[:, pairable], patterns, which.ravel()


@pytest.mark.parametrize("level", LEVELS)
def test_alpha_replicates_equal_the_package_on_resampled_units(level):
    # Each replicate is computed from counts of unit patterns; it must be the package's alpha
    # of the resampled units themselves (units drawn with replacement, as a bootstrap does).
    import krippendorff

    rng = np.random.default_rng(3)
    data = rng.integers(1, 6, (3, 60)).astype(float)
    data[1] = np.where(rng.random(60) < 0.6, data[0], data[1])  # some agreement
    data[rng.random(data.shape) < 0.25] = np.nan
    domain_values = np.asarray(domain.CARE_SCORES, dtype=float)
    units, patterns, which = _patterns(data, domain_values)
    for b in range(8):
        drawn = rng.integers(0, units.shape[1], units.shape[1])
        weights = np.bincount(which[drawn], minlength=len(patterns))[None]
        got = ag._alpha_replicates(patterns, weights, domain_values, level)[0]
        expected = krippendorff.alpha(reliability_data=units[:, drawn], value_domain=domain_values,
                                      level_of_measurement=level)
        assert got == pytest.approx(expected, abs=1e-12), b
    # The original data (every unit once) gives the estimate itself.
    weights = np.bincount(which, minlength=len(patterns))[None]
    assert ag._alpha_replicates(patterns, weights, domain_values, level)[0] == pytest.approx(
        ag.krippendorff_alpha(data, level, value_domain=domain.CARE_SCORES), abs=1e-12)


def test_alpha_interval_is_seeded_and_brackets_the_estimate():
    first = ag.krippendorff_alpha_interval(KRIPPENDORFF_2011, "ordinal", n_boot=1000, seed=1)
    assert first == ag.krippendorff_alpha_interval(KRIPPENDORFF_2011, "ordinal", n_boot=1000,
                                                   seed=1)
    other = ag.krippendorff_alpha_interval(KRIPPENDORFF_2011, "ordinal", n_boot=1000, seed=2)
    assert (other.ci_lower, other.ci_upper) != (first.ci_lower, first.ci_upper)
    assert round(first.estimate, 3) == 0.815  # Krippendorff (2011), as krippendorff_alpha
    assert first.ci_lower < first.estimate < first.ci_upper <= 1
    assert (first.n_units, first.n_boot, first.level, first.seed) == (11, 1000, "ordinal", 1)
    narrow = ag.krippendorff_alpha_interval(KRIPPENDORFF_2011, "ordinal", n_boot=1000, seed=1,
                                            alpha=0.5)
    assert first.ci_lower < narrow.ci_lower < narrow.ci_upper < first.ci_upper


def test_alpha_interval_has_the_sampling_spread_of_alpha():
    # Draw 300 independent studies of 150 double-reviewed cases from one model; the bootstrap
    # interval of one study should be about as wide as the spread of alpha across studies.
    import krippendorff

    rng = np.random.default_rng(11)
    domain_values = np.asarray(domain.CARE_SCORES, dtype=float)

    def study():
        truth = rng.integers(1, 6, 150)
        noisy = np.clip(truth + rng.integers(-1, 2, (2, 150)), 1, 5).astype(float)
        return noisy

    spread = np.std([krippendorff.alpha(reliability_data=study(), value_domain=domain_values,
                                        level_of_measurement="interval") for _ in range(300)])
    result = ag.krippendorff_alpha_interval(study(), "interval", value_domain=domain.CARE_SCORES,
                                            seed=4)
    width = (result.ci_upper - result.ci_lower) / (2 * 1.959964)
    assert 0.75 < width / spread < 1.33
    assert result.n_undefined == 0


def test_alpha_interval_of_data_without_variation_or_pairs():
    same = np.array([[3, 3, 3], [3, 3, 3]], dtype=float)
    result = ag.krippendorff_alpha_interval(same, value_domain=domain.CARE_SCORES)
    assert np.isnan(result.estimate) and np.isnan(result.ci_lower) and np.isnan(result.ci_upper)
    # Two units, two values: some replicates draw one unit twice (no variation, no alpha).
    tiny = np.array([[1, 2], [1, 2]], dtype=float)
    result = ag.krippendorff_alpha_interval(tiny, "nominal", n_boot=200, seed=0)
    assert 0 < result.n_undefined < 200 and result.ci_upper == 1.0
    with pytest.raises(ValueError, match="n_boot"):
        ag.krippendorff_alpha_interval(tiny, n_boot=0)
    with pytest.raises(ValueError, match="unknown level"):
        ag.krippendorff_alpha_interval(tiny, "cardinal")


def test_alpha_interval_from_a_review_frame():
    from sjrlib.synthetic import generate

    reviews = generate(n_organisations=6, years=2, seed=11).reviews
    rel = ag.reliability_data(reviews)
    result = ag.krippendorff_alpha_interval(rel.data, value_domain=domain.CARE_SCORES)
    summary = ag.agreement_summary(reviews).set_index("statistic")
    assert result.estimate == summary.loc["alpha_ordinal", "estimate"]
    assert result.n_units == summary.loc["alpha_ordinal", "n"]
    assert result.ci_lower < result.estimate < result.ci_upper
