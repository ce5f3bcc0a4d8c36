"""Hand-derived and published reference values for sjrlib.stats.descriptive (see README.md).

The frame is ``hand_frames.hand_reviews()``. Counted reviews for review-level tables: the
primary first-stage review of each case, drafts out: V0 (XAA C1; V1 is the same case's second
reviewer, V2 its second stage), V3 (XAA C2), V5 (XAB C1), V6 (XAB C4); V4 is a draft.
"""

from __future__ import annotations

import math

import pytest
from hand_frames import hand_reviews

from sjrlib.stats import descriptive as ds

Z = 1.959963984540054  # standard normal 97.5% quantile


def _wilson_by_hand(x: int, n: int) -> tuple[float, float]:
    p = x / n
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z / (1 + Z**2 / n) * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2))
    return centre - half, centre + half


def test_wilson_18_of_20():
    lo, hi = ds.wilson_interval(18, 20)
    assert (round(lo[0], 3), round(hi[0], 3)) == (0.699, 0.972)  # calibration.md
    assert (lo[0], hi[0]) == pytest.approx(_wilson_by_hand(18, 20), abs=1e-12)


def test_care_scores_by_hand():
    table = ds.care_score_distribution(hand_reviews(), phases=["admission", "overall"])
    overall = table[table["phase"] == "overall"].set_index("score")
    # V0 2, V3 1, V5 5, V6 3: one review each at 1, 2, 3 and 5, of 4.
    assert overall["count"].tolist() == [1, 1, 1, 0, 1]
    assert set(overall["n_applicable"]) == {4} and set(overall["n_reviews"]) == {4}
    assert overall["percent"].tolist() == [25.0, 25.0, 25.0, 0.0, 25.0]
    admission = table[table["phase"] == "admission"].set_index("score")
    # V0 3, V3 1, V5 5, V6 not applicable: 3 applicable of 4.
    assert admission["count"].tolist() == [1, 0, 1, 0, 1]
    assert set(admission["n_applicable"]) == {3} and set(admission["n_reviews"]) == {4}
    assert admission.loc[1, "percent"] == pytest.approx(100 / 3)
    assert admission.loc[1, "label"] == "Very poor care"


def test_poor_care_by_hand():
    frame = hand_reviews()
    overall = ds.poor_care(frame).iloc[0]
    # Poor or very poor: V0 (2) and V3 (1) -> 2 of 4.
    assert (overall["n"], overall["poor"], overall["proportion"]) == (4, 2, 0.5)
    assert (overall["ci_lower"], overall["ci_upper"]) == pytest.approx(_wilson_by_hand(2, 4))
    by_org = ds.poor_care(frame, "organisation_code").set_index("organisation_code")
    assert by_org.loc["XAA", ["n", "poor"]].tolist() == [2, 2]
    assert by_org.loc["XAB", ["n", "poor"]].tolist() == [2, 0]
    by_reason = ds.poor_care(frame, "review_reason").set_index("review_reason")
    # V6 has family_concern and learning_disability; the others random_sample only.
    assert by_reason["n"].to_dict() == {"family_concern": 1, "learning_disability": 1,
                                        "random_sample": 3}
    assert by_reason["poor"].to_dict() == {"family_concern": 0, "learning_disability": 0,
                                           "random_sample": 2}
    by_fy = ds.poor_care(frame, "financial_year").set_index("financial_year")
    # Deaths 2023-12 (V0) and 2024-03 (V3) are 2023/24; 2024-04, 2024-05 are 2024/25.
    assert by_fy["poor"].to_dict() == {"2023/24": 2, "2024/25": 0}


def test_problems_by_hand():
    table = ds.problem_frequency(hand_reviews()).set_index("problem_type")
    # V0: monitoring (harm yes), assessment (probably); V3: medication (yes), treatment (no);
    # V6: other (yes). Denominator: 4 reviews.
    assert table["count"].to_dict() == {
        "assessment": 1, "medication": 1, "treatment": 1, "infection": 0, "procedure": 0,
        "monitoring": 1, "resuscitation": 0, "other": 1}
    assert table.loc["assessment", ["harm_no", "harm_probably", "harm_yes"]].tolist() == [0, 1, 0]
    assert table.loc["treatment", ["harm_no", "harm_probably", "harm_yes"]].tolist() == [1, 0, 0]
    assert table.loc["monitoring", "percent"] == 25.0
    per = ds.problems_per_review(hand_reviews()).iloc[0]
    # Problems per review 2, 2, 0, 1: total 5, mean 1.25, sd sqrt(2.75 / 3), 3 with any.
    assert (per["n_reviews"], per["total_problems"], per["mean"]) == (4, 5, 1.25)
    assert per["sd"] == pytest.approx(math.sqrt(2.75 / 3))
    assert (per["with_any"], per["percent_with_any"]) == (3, 75.0)
    dist = ds.problem_count_distribution(hand_reviews()).set_index("problems")
    assert dist["count"].tolist() == [1, 1, 2, 0, 0, 0, 0, 0, 0]


def test_avoidability_by_hand():
    frame = hand_reviews()
    # Cases: XAA C1 -> 3 (its second stage V2), XAA C2 -> 2 (first-stage score of V3),
    # XAB C1 -> 6, XAB C4 -> not scored; XAA C3 has only a draft and is not a reviewed case.
    table = ds.avoidability_distribution(frame).set_index("score")
    assert table["count"].tolist() == [0, 1, 1, 0, 0, 1]
    assert set(table["n_scored"]) == {3} and set(table["n_cases"]) == {4}
    mltn = ds.more_likely_than_not(frame).iloc[0]
    assert (mltn["n"], mltn["count"], mltn["proportion"]) == (4, 2, 0.5)
    scored = ds.more_likely_than_not(frame, denominator="scored").iloc[0]
    assert (scored["n"], scored["count"]) == (3, 2)
    assert (scored["ci_lower"], scored["ci_upper"]) == pytest.approx(_wilson_by_hand(2, 3))
    with_drafts = ds.avoidability_distribution(frame, include_drafts=True)
    assert set(with_drafts["n_cases"]) == {5}
