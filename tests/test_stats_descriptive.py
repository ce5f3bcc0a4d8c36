"""sjrlib.stats.descriptive: properties, and the fast path against plain pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from strategies import make_reviews, proportions, review_frames

from sjrlib import domain
from sjrlib.stats import descriptive as ds

SETTINGS = settings(max_examples=15, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---------------------------------------------------------------------------- plain pandas
def naive_primary(frame: pd.DataFrame, stage: str = "first") -> pd.DataFrame:
    f = frame[(frame["status"] != "draft") & (frame["review_stage"] == stage)]
    earliest = stage == "first"
    f = f.sort_values(["organisation_code", "case_id", "review_date", "review_id"],
                      ascending=[True, True, earliest, earliest])
    return f.drop_duplicates(["organisation_code", "case_id"])


def naive_case_avoidability(frame: pd.DataFrame) -> pd.Series:
    f = frame[frame["status"] != "draft"]
    out = {}
    for key, case in f.groupby(["organisation_code", "case_id"]):
        second = case[(case["review_stage"] == "second") & case["avoidability_score"].notna()]
        first = case[(case["review_stage"] == "first") & case["avoidability_score"].notna()]
        if len(second):
            row = second.sort_values(["review_date", "review_id"]).iloc[-1]
        elif len(first):
            row = first.sort_values(["review_date", "review_id"]).iloc[0]
        else:
            out[key] = 0
            continue
        out[key] = int(row["avoidability_score"])
    return pd.Series(out, dtype="int64")


# ---------------------------------------------------------------------------- Wilson
@settings(deadline=None)
@given(proportions)
def test_wilson_bounds_within_0_1_and_ordered(pair):
    count, nobs = pair
    lo, hi = ds.wilson_interval(count, nobs)
    if nobs == 0:
        assert np.isnan(lo[0]) and np.isnan(hi[0])
    else:
        assert 0.0 <= lo[0] <= count / nobs <= hi[0] <= 1.0


def test_wilson_rejects_impossible_counts():
    with pytest.raises(ValueError, match="count <= nobs"):
        ds.wilson_interval(5, 4)


# ---------------------------------------------------------------------------- tables
@SETTINGS
@given(review_frames())
def test_care_scores_match_pandas(frame):
    fast = ds.care_score_distribution(frame, "organisation_code")
    primary = naive_primary(frame)
    for phase in domain.PHASES:
        column = domain.score_column(phase)
        expected = (primary.groupby("organisation_code")[column]
                    .value_counts().rename("count").reset_index())
        got = fast[(fast["phase"] == phase) & (fast["count"] > 0)]
        merged = got.merge(expected, left_on=["organisation_code", "score"],
                           right_on=["organisation_code", column], how="outer",
                           suffixes=("", "_pandas"))
        assert (merged["count"] == merged["count_pandas"]).all(), phase
        n_reviews = primary.groupby("organisation_code").size()
        per_org = fast[fast["phase"] == phase].groupby("organisation_code")["n_reviews"].first()
        assert per_org.to_dict() == n_reviews.to_dict()


@SETTINGS
@given(review_frames())
def test_poor_care_by_reason_matches_exploded_pandas(frame):
    fast = ds.poor_care(frame, "review_reason").set_index("review_reason")
    primary = naive_primary(frame).assign(
        reason=lambda f: f["review_reasons"].str.split(";")).explode("reason")
    poor = primary["score_overall"].isin(domain.POOR_CARE)
    expected = poor.groupby(primary["reason"]).agg(["size", "sum"])
    assert fast["n"].to_dict() == expected["size"].to_dict()
    assert fast["poor"].to_dict() == expected["sum"].to_dict()
    assert ((fast["ci_lower"] <= fast["proportion"]) & (fast["proportion"] <= fast["ci_upper"])
            ).all()


@SETTINGS
@given(review_frames())
def test_problems_match_pandas(frame):
    fast = ds.problem_frequency(frame, "learning_disability")
    primary = naive_primary(frame)
    for t in domain.PROBLEM_TYPES:
        column = domain.problem_column(t)
        rows = fast[fast["problem_type"] == t].set_index("learning_disability")
        for harm in domain.HARM_VALUES:
            expected = (primary[column] == harm).groupby(primary["learning_disability"]).sum()
            assert rows[f"harm_{harm}"].to_dict() == expected.to_dict()
    per = ds.problems_per_review(frame)
    counts = primary[[domain.problem_column(t) for t in domain.PROBLEM_TYPES]].notna().sum(axis=1)
    assert per["total_problems"].iloc[0] == counts.sum()
    if len(counts) > 1:
        assert per["sd"].iloc[0] == pytest.approx(counts.std(ddof=1))


@SETTINGS
@given(review_frames())
def test_avoidability_per_case_matches_pandas(frame):
    expected = naive_case_avoidability(frame)
    table = ds.avoidability_distribution(frame).set_index("score")
    for score in domain.AVOIDABILITY_SCORES:
        assert table.loc[score, "count"] == (expected == score).sum()
    assert set(table["n_cases"]) == {len(expected)}
    mltn = ds.more_likely_than_not(frame).iloc[0]
    assert mltn["count"] == expected.isin(domain.MORE_LIKELY_THAN_NOT).sum()


@SETTINGS
@given(review_frames())
def test_group_totals_add_up(frame):
    overall = ds.poor_care(frame).iloc[0]
    for by in ("organisation_code", "financial_year", "quarter", "admission_type",
               ["organisation_code", "financial_year"]):
        table = ds.poor_care(frame, by)
        assert table["n"].sum() == overall["n"] and table["poor"].sum() == overall["poor"]


def test_second_stage_tables():
    frame = make_reviews([
        dict(case_id="C1", score_overall=2),
        dict(case_id="C1", review_stage="second", score_overall=3, avoidability_score=5,
             review_date="2024-02-01"),
        dict(case_id="C1", review_stage="second", score_overall=1, avoidability_score=2,
             review_date="2024-03-01"),
    ])
    second = ds.poor_care(frame, stage="second").iloc[0]
    assert (second["n"], second["poor"]) == (1, 1)  # the latest second stage (score 1)
    assert ds.more_likely_than_not(frame).iloc[0]["count"] == 1  # case avoidability 2


def test_extra_columns_and_plain_string_dtypes_are_fine():
    frame = make_reviews([dict(score_overall=1), dict(score_overall=4, organisation_code="XAB")])
    frame["region"] = pd.array(["London", "Midlands"], dtype="string")
    frame["version"] = [1, 3]
    table = ds.poor_care(frame.astype({"organisation_code": "str"}), "region")
    assert table["region"].tolist() == ["London", "Midlands"]
    assert table["poor"].tolist() == [1, 0]


def test_errors_name_the_problem():
    frame = make_reviews([dict(score_overall=4)])
    with pytest.raises(ValueError, match="unknown phase"):
        ds.care_score_distribution(frame, phases=["triage"])
    with pytest.raises(ValueError, match="no column 'ward'"):
        ds.poor_care(frame, "ward")
    bad = frame.copy()
    bad["score_overall"] = pd.array([7], dtype="Int64")
    with pytest.raises(ValueError, match="score_overall.*1-5"):
        ds.poor_care(bad)
    bad = frame.copy()
    bad["problem_other"] = pd.array(["maybe"], dtype="string")
    with pytest.raises(ValueError, match="problem_other.*maybe"):
        ds.problem_frequency(bad)
    with pytest.raises(ValueError, match="lacks column"):
        ds.poor_care(frame.drop(columns=["case_id"]))


def test_empty_frame_gives_empty_groups():
    frame = make_reviews([dict(status="draft")])
    assert ds.poor_care(frame, "organisation_code").empty
    overall = ds.poor_care(frame).iloc[0]
    assert overall["n"] == 0 and np.isnan(overall["proportion"])


# ---------------------------------------------------------------------------- shared tables
@pytest.fixture(scope="module")
def synthetic():
    from sjrlib.synthetic import generate

    return generate(n_organisations=5, years=2, seed=7).reviews


BREAKDOWNS = (None, "organisation_code", "quarter", "review_reason", "learning_disability",
              ["financial_year", "admission_type"])


@pytest.mark.parametrize("stage", ["first", "second"])
def test_poor_care_from_the_shared_phase_table_equals_the_direct_count(synthetic, stage):
    # national_statistics reads poor care off the cached table of all six phase scores; the
    # public function counts the one score column. Every phase, every kind of grouping.
    from sjrlib.stats._reviews import ReviewIndex

    for by in BREAKDOWNS:
        index = ReviewIndex(synthetic)
        for phase in domain.PHASES:
            direct = ds._poor_care(ReviewIndex(synthetic), by, phase, stage, 0.05)
            shared = ds._poor_care(index, by, phase, stage, 0.05, from_profile=True)
            pd.testing.assert_frame_equal(shared, direct, check_exact=True)
            assert direct["n"].sum() > 0


def test_problems_per_review_equals_a_per_review_count(synthetic):
    # problems_per_review is computed from the groups x problem-combination table; check it
    # against counting problem types review by review in plain pandas.
    from sjrlib.stats._reviews import financial_year

    primary = naive_primary(synthetic)
    per_review = primary[[domain.problem_column(t) for t in domain.PROBLEM_TYPES]].notna().sum(
        axis=1)
    keys = {"organisation_code": primary["organisation_code"],
            "admission_type": primary["admission_type"],
            "financial_year": primary["death_month"].map(financial_year)}
    for by, key in keys.items():
        table = ds.problems_per_review(synthetic, by)
        table = table.set_index(table[by].astype(str))
        grouped = per_review.groupby(key.astype(str).to_numpy())
        assert table["n_reviews"].to_dict() == grouped.size().to_dict()
        assert table["total_problems"].to_dict() == grouped.sum().to_dict()
        assert table["with_any"].to_dict() == (per_review > 0).groupby(
            key.astype(str).to_numpy()).sum().to_dict()
        expected_sd = grouped.std(ddof=1).reindex(table.index)
        assert np.allclose(table["sd"].to_numpy(), expected_sd.to_numpy(), rtol=1e-12)
    overall = ds.problems_per_review(synthetic).iloc[0]
    assert overall["mean"] == per_review.sum() / len(per_review)


def test_care_scores_by_organisation_and_reason_match_exploded_pandas(synthetic):
    # Reasons crossed with another key: many inner groups mixed into many output groups (a
    # sparse mixing matrix; a dense one made this take minutes at national scale).
    by = ["organisation_code", "review_reason"]
    fast = ds.care_score_distribution(synthetic, by, phases=["overall"])
    primary = naive_primary(synthetic).assign(
        review_reason=lambda f: f["review_reasons"].str.split(";")).explode("review_reason")
    expected = primary.groupby(by)["score_overall"].value_counts()
    got = fast.set_index([*by, "score"])["count"]
    got = got[got > 0]
    assert got.to_dict() == expected.to_dict()
    frequency = ds.problem_frequency(synthetic, by)
    column = domain.problem_column("assessment")
    expected = primary[column].notna().groupby([primary[b] for b in by]).sum()
    got = frequency[frequency["problem_type"] == "assessment"].set_index(by)["count"]
    assert got.to_dict() == expected.to_dict()


# ---------------------------------------------------------------------------- few cases
def test_intervals_are_computed_on_few_cases_and_withheld_for_publication():
    # Statistics functions compute the interval whatever n (here 7 and 8 reviews); the
    # publication rule (spec: not on fewer than 8 cases) is withhold_small_intervals.
    frame = make_reviews(
        [dict(organisation_code="XAA", score_overall=s) for s in (1, 2, 3, 4, 4, 5, 5)]
        + [dict(organisation_code="XAB", score_overall=s) for s in (1, 3, 3, 4, 4, 4, 5, 5)])
    table = ds.poor_care(frame, "organisation_code")
    assert table["n"].tolist() == [7, 8]
    assert table[["ci_lower", "ci_upper"]].notna().all().all()
    shown = ds.withhold_small_intervals(table)
    assert ds.MIN_CASES_FOR_INTERVAL == 8
    assert shown[["ci_lower", "ci_upper"]].isna().to_numpy().tolist() == [[True, True],
                                                                          [False, False]]
    # Nothing else changes, and the input is left alone.
    pd.testing.assert_frame_equal(shown.drop(columns=["ci_lower", "ci_upper"]),
                                  table.drop(columns=["ci_lower", "ci_upper"]))
    assert shown.loc[1, "ci_lower"] == table.loc[1, "ci_lower"]
    assert table["ci_lower"].notna().all()
    assert ds.withhold_small_intervals(table, min_cases=7)["ci_lower"].notna().all()


def test_withholding_works_on_every_interval_table():
    from sjrlib.stats import agreement as ag

    frame = make_reviews([dict(case_id=f"C{i}", score_overall=1 + i % 5, avoidability_score=3,
                               problem_assessment="yes" if i % 2 else None)
                          for i in range(5)])
    for table, n in ((ds.poor_care(frame), "n"), (ds.more_likely_than_not(frame), "n"),
                     (ds.problem_frequency(frame), "n_reviews")):
        assert (table[n] < 8).all() and table["ci_lower"].notna().any()
        assert ds.withhold_small_intervals(table)["ci_lower"].isna().all()
    doubles = make_reviews([dict(case_id=f"C{i // 2}", reviewer_id=f"R{i % 2}",
                                 review_date=f"2024-01-{1 + i % 2:02d}",
                                 score_overall=1 + (i * 7) % 5) for i in range(10)])
    summary = ag.agreement_summary(doubles)
    assert (summary["n"] == 5).all() and summary["ci_lower"].notna().any()
    assert ds.withhold_small_intervals(summary)["ci_upper"].isna().all()
    with pytest.raises(ValueError, match="no column"):
        ds.withhold_small_intervals(ds.avoidability_distribution(frame))
