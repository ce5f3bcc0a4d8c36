"""Synthetic themes, codes and actions (sjrlib.synthetic.themes): what the demo store gets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sjrlib import measures, spc
from sjrlib.synthetic import generate
from sjrlib.synthetic.phrases import FINDINGS, OVERALL_REASONS
from sjrlib.synthetic.themes import phrase_themes, review_themes, synthetic_learning
from sjrlib.themes.codebook import shipped_codebook


@pytest.fixture(scope="module")
def learning():
    data = generate(n_organisations=8, years=3, seed=21, n_scottish=0)
    return data.reviews, synthetic_learning(data.reviews, 21)


def test_every_poor_care_finding_expresses_a_theme_of_the_codebook():
    ids = set(shipped_codebook().ids)
    for phase, by_score in FINDINGS.items():
        for score in (1, 2):
            for phrase in by_score[score]:
                assert phrase_themes(phrase), (phase, phrase)
                assert set(phrase_themes(phrase)) <= ids
    assert phrase_themes("sepsis not recognised despite NEWS2 of 8 on arrival; no antibiotics "
                         "for 11 hours")[:1] == ("deterioration",)
    assert "sepsis" in phrase_themes(FINDINGS["admission"][2][1])
    assert sum(bool(phrase_themes(p)) for p in OVERALL_REASONS[1]) >= 3


def test_codes_are_a_realistic_share_with_double_coding_and_disagreement(learning):
    reviews, result = learning
    codes = result.codes
    first = reviews[(reviews["review_stage"] == "first")
                    & reviews["status"].isin(["submitted", "locked"])]
    coded = codes["review_id"].unique()
    assert set(coded) <= set(first["review_id"])  # first-stage, submitted or locked only
    assert 0.5 < len(coded) / len(first) < 0.8
    coders = codes.groupby("review_id")["coded_by"].nunique()
    assert 0.08 < (coders == 2).mean() < 0.22
    assert codes["coded_by"].str.match(r"^coder-[12]-").all()
    assert 0.25 < codes["from_suggestion"].mean() < 0.55
    # the two coders of a doubly coded review agree often, not always
    twice = coders[coders == 2].index
    sets = codes[codes["review_id"].isin(twice)].groupby(["review_id", "coded_by"])["theme"] \
        .agg(frozenset).unstack()
    same = (sets.iloc[:, 0] == sets.iloc[:, 1]).mean() if sets.shape[1] == 2 else \
        np.mean([len(set(r.dropna())) == 1 for _, r in sets.iterrows()])
    assert 0.2 < same < 0.95
    assert set(codes["theme"]) <= set(shipped_codebook().ids)


def test_the_same_seed_gives_the_same_learning(learning):
    reviews, result = learning
    again = synthetic_learning(reviews, 21)
    pd.testing.assert_frame_equal(again.codes, result.codes)
    pd.testing.assert_frame_equal(again.actions, result.actions)


def test_working_actions_shift_their_measure_and_the_others_mostly_do_not(learning):
    _reviews, result = learning
    reviews = result.reviews[result.reviews["status"] != "draft"]
    actions = result.actions
    assert (actions.groupby("organisation_code").size() == 3).all()
    assert set(actions["status"]) == {"completed", "open"}
    months = sorted(reviews["death_month"].unique())
    found = {True: [], False: []}
    for action in actions[actions["measure"].notna()].itertuples():
        m = measures.parse_measure(action.measure, shipped_codebook())
        org = action.organisation_code
        counts = measures.measure_counts(
            m, reviews=reviews[reviews["organisation_code"] == org],
            theme_codes=result.codes[result.codes["coded_by"].str.endswith(org.lower())],
            deaths=None, months=months)
        counts = counts[counts["denominator"] > 0]
        chart = spc.p_chart(counts["numerator"], counts["denominator"], improvement="decrease")
        after = chart.loc[action.change_month:, "point_type"]
        found[bool(action.works)].append(bool((after == "special_cause_improvement").any()))
        rebased = measures.impact_chart(m, counts, action.change_month)
        means = rebased.groupby("rebase_group")["mean"].first()
        if action.works:
            assert means.iloc[1] < means.iloc[0], org
    assert np.mean(found[True]) >= 0.6  # most working actions show as a real shift
    assert np.mean(found[True]) > np.mean(found[False])


def test_the_text_stays_true_to_the_score(learning):
    _reviews, result = learning
    truth = review_themes(result.reviews)
    assert not truth.empty
    changed = result.reviews["comment_admission"].dropna()
    assert not changed.str.contains(r"\bnan\b").any()
