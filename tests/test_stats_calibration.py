"""sjrlib.stats.calibration: reviewers against the panel, the group, change across rounds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sjrlib import domain
from sjrlib.stats import agreement as ag
from sjrlib.stats.calibration import (
    _kappa_from_tables,
    calibration_results,
    kappa_not_estimable,
    parse_themes,
)

# Four fictional training cases; the panel's answers.
REFERENCE = pd.DataFrame({
    "case_id": ["T1", "T2", "T3", "T4"],
    "score_admission": pd.array([2, 4, 3, pd.NA], dtype="Int64"),
    "score_overall": pd.array([1, 4, 3, 5], dtype="Int64"),
    "avoidability_score": pd.array([2, 6, 4, 6], dtype="Int64"),
    "themes": ["deterioration;sepsis", "", "medication", "good_practice"],
})
# Three reviewers in round R1: A agrees with the panel, B is harsher, C more lenient.
ANSWERS = pd.DataFrame({
    "round_id": "R1",
    "reviewer_id": ["A"] * 4 + ["B"] * 4 + ["C"] * 4,
    "case_id": ["T1", "T2", "T3", "T4"] * 3,
    "score_admission": pd.array([2, 4, 3, pd.NA, 1, 3, 3, pd.NA, 3, 5, 4, 5], dtype="Int64"),
    "score_overall": pd.array([1, 4, 3, 5, 1, 3, 2, 4, 3, 5, 3, 5], dtype="Int64"),
    "avoidability_score": pd.array([2, 6, 4, 6, 1, 5, 3, 6, 4, 6, 5, 6], dtype="Int64"),
    "themes": ["deterioration;sepsis", "", "medication", "good_practice",
               "sepsis", "communication_team", "medication", "",
               "deterioration;sepsis", "", pd.NA, "good_practice"],
})


@pytest.fixture(scope="module")
def result():
    return calibration_results(REFERENCE, ANSWERS, n_boot=500)


def test_each_reviewer_against_the_panel(result):
    overall = result.items[result.items["item"] == "overall"].set_index("reviewer_id")
    # B: 1/1, 3/4, 2/3, 4/5 -> exact 1 of 4, within one 4 of 4, mean -0.75, harsher 3 times.
    assert overall.loc["B", ["n", "exact", "within_one", "n_harsher", "n_more_lenient"]
                       ].tolist() == [4, 1, 4, 3, 0]
    assert overall.loc["B", "mean_difference"] == pytest.approx(-0.75)
    assert overall.loc["B", "direction"] == "harsher than the panel"
    # C: 3/1 (+2), 5/4, 3/3, 5/5 -> exact 2, within one 3, mean +0.75.
    assert overall.loc["C", ["exact", "within_one"]].tolist() == [2, 3]
    assert overall.loc["C", "direction"] == "more lenient than the panel"
    assert overall.loc["A", "exact_share"] == 1 and \
        overall.loc["A", "direction"] == "no differences from the panel"
    admission = result.items[result.items["item"] == "admission"].set_index("reviewer_id")
    assert admission.loc["B", "n"] == 3  # T4's admission phase not applicable
    assert set(result.items["item"]) == {"admission", "overall", "avoidability"}


def test_trigger_avoidability_and_themes(result):
    r = result.reviewers.set_index("reviewer_id")
    # Trigger (overall 1-2): panel T1 only. B adds T3 (2): one extra; C misses T1 (3).
    assert r.loc["B", ["trigger_n", "trigger_agree", "trigger_missed", "trigger_extra"]
                 ].tolist() == [4, 3, 0, 1]
    assert r.loc["C", ["trigger_agree", "trigger_missed", "trigger_extra"]].tolist() == [3, 1, 0]
    # Avoidability 1-3 vs 4-6: panel T1 only; B also T3 (3); C has T1 at 4.
    assert r.loc["B", "avoidability_share"] == 0.75 and r.loc["C", "avoidability_share"] == 0.75
    # Themes, B: T1 {sepsis} vs {deterioration, sepsis}; T2 {communication_team} vs {};
    # T3 equal; T4 {} vs {good_practice}. Panel themes 4, found 2, extra 1. Universe of 5 themes
    # seen: disagreements 1 + 1 + 0 + 1 of 20 decisions.
    assert r.loc["B", "themes_n"] == 4
    assert r.loc["B", "themes_found"] == 0.5 and r.loc["B", "themes_extra"] == 1
    assert r.loc["B", "themes_share"] == pytest.approx(17 / 20)
    assert r.loc["C", "themes_n"] == 3  # T3 not answered


def test_group_statistics_are_the_agreement_functions(result):
    g = result.group.set_index(["item", "statistic"])
    wide = ANSWERS.pivot(index="reviewer_id", columns="case_id", values="score_overall")
    data = wide.to_numpy(np.float64)
    alpha = ag.krippendorff_alpha(data, "ordinal", value_domain=domain.CARE_SCORES)
    assert g.loc[("overall", "alpha_ordinal"), "estimate"] == pytest.approx(alpha)
    ac2 = ag.gwet_ac_raters(data.T, categories=domain.CARE_SCORES, weights="linear")
    assert g.loc[("overall", "gwet_ac2_linear"), "estimate"] == pytest.approx(ac2.estimate)
    assert g.loc[("overall", "gwet_ac2_linear"), "ci_lower"] == pytest.approx(ac2.ci_lower)
    panel = np.tile(REFERENCE["score_overall"].to_numpy(float), 3)
    kappa = ag.weighted_kappa(ANSWERS["score_overall"], panel, "linear",
                              categories=domain.CARE_SCORES)
    row = g.loc[("overall", "kappa_linear_vs_panel")]
    assert row["estimate"] == pytest.approx(kappa.kappa)
    assert row["ci_lower"] <= row["estimate"] <= row["ci_upper"]
    assert (row["n_cases"], row["n_reviewers"]) == (4, 3)
    trigger = g.loc["trigger"]
    poor = (data <= 2).astype(float)
    assert trigger.loc["gwet_ac1", "estimate"] == pytest.approx(
        ag.gwet_ac_raters(poor.T, categories=(0.0, 1.0)).estimate)


def test_intervals_are_reproducible(result):
    again = calibration_results(REFERENCE, ANSWERS, n_boot=500)
    pd.testing.assert_frame_equal(again.group, result.group)


def test_change_across_rounds():
    second = ANSWERS.assign(round_id="R0", round_date="2026-01-10")
    second.loc[second["reviewer_id"] == "B", "score_overall"] = pd.array([1, 4, 3, 5],
                                                                           dtype="Int64")
    answers = pd.concat([ANSWERS.assign(round_date="2026-06-01"), second], ignore_index=True)
    # R0 is dated first, although "R0" < "R1" would give the same order; swap names to check.
    answers["round_id"] = answers["round_id"].map({"R0": "spring", "R1": "autumn"})
    res = calibration_results(REFERENCE, answers, n_boot=200)
    b = res.change[res.change["reviewer_id"] == "B"]
    assert b["round_id"].tolist() == ["spring", "autumn"]
    assert b["round_number"].tolist() == [1, 2]
    assert b["exact_share"].tolist() == [1.0, 0.25]
    assert np.isnan(b["change_exact"].iloc[0]) and b["change_exact"].iloc[1] == -0.75
    dist = res.distribution()
    row = dist[(dist["round_id"] == "autumn") & (dist["measure"] == "exact_share")].iloc[0]
    assert row["n_reviewers"] == 3 and row["median"] == 0.5  # A 1.0, B 0.25, C 0.5


@pytest.mark.parametrize(("change", "message"), [
    (lambda a: pd.concat([a, a.iloc[[0]]]), "answered case 'T1' twice"),
    (lambda a: a.assign(case_id=a["case_id"].replace("T4", "T9")), "'T9' has no reference"),
    (lambda a: a.assign(score_overall=a["score_overall"].replace(5, 7)), "score_overall = 7"),
    (lambda a: a.drop(columns="reviewer_id"), "reviewer_id"),
])
def test_errors_say_what_is_wrong(change, message):
    with pytest.raises(ValueError, match=message):
        calibration_results(REFERENCE, change(ANSWERS.copy()), n_boot=10)


def test_parse_themes():
    assert parse_themes("sepsis; deterioration") == {"sepsis", "deterioration"}
    assert parse_themes("") == frozenset() and parse_themes(["medication"]) == {"medication"}
    assert parse_themes(None) is None and parse_themes(np.nan) is None


@settings(deadline=None, max_examples=40)
@given(st.lists(st.tuples(st.sampled_from(domain.CARE_SCORES),
                          st.sampled_from(domain.CARE_SCORES)), min_size=2, max_size=40),
       st.sampled_from([None, "linear", "quadratic"]))
def test_bootstrap_kappa_formula_is_weighted_kappa(pairs, weights):
    a, b = (np.array(x, dtype=float) for x in zip(*pairs, strict=True))
    table = np.zeros((5, 5))
    np.add.at(table, (a.astype(int) - 1, b.astype(int) - 1), 1)
    i = np.arange(5)
    dis = ((i[:, None] != i[None, :]).astype(float) if weights is None
           else np.abs(i[:, None] - i[None, :]) ** (1 if weights == "linear" else 2))
    ours = _kappa_from_tables(table, dis.astype(float))
    theirs = ag.weighted_kappa(a, b, weights, categories=domain.CARE_SCORES).kappa
    assert ours == pytest.approx(theirs, nan_ok=True, abs=1e-12)


def test_blank_scores_and_a_single_reviewer():
    answers = ANSWERS[ANSWERS["reviewer_id"] != "C"].copy()
    answers.loc[answers["reviewer_id"] == "B", "score_overall"] = pd.NA
    res = calibration_results(REFERENCE.drop(columns="themes"), answers.drop(columns="themes"),
                              n_boot=50)
    b = res.reviewers.set_index("reviewer_id").loc["B"]
    assert b["n_cases"] == 0 and b["trigger_n"] == 0 and np.isnan(b["trigger_share"])
    assert pd.isna(b["themes_n"])
    overall = res.group[res.group["item"] == "overall"]
    # Only A scored overall care: no agreement among reviewers, only against the panel.
    assert overall["statistic"].tolist() == ["kappa_linear_vs_panel"]
    assert overall["n_reviewers"].tolist() == [1]


def test_a_direction_needs_more_than_one_differing_answer():
    """The walk-through audit (2026-12-06): a reviewer with one case of 'Care during a
    procedure', scored one point above the panel, was called 'more lenient than the panel'.
    A direction now needs at least two answers differing that way, and more than the other
    way."""
    answers = pd.DataFrame({
        "round_id": "R1", "reviewer_id": ["D"] * 4 + ["E"] * 4,
        "case_id": ["T1", "T2", "T3", "T4"] * 2,
        # D: one case of admission scored (+1); E: admission +1, -1, +1 (mean > 0, 2 vs 1)
        "score_admission": pd.array([3, pd.NA, pd.NA, pd.NA, 3, 3, 4, pd.NA], dtype="Int64"),
        # D: overall +1, -1, +1, -1 (mean 0); E: overall 0, -1, -1, -1 (mean < 0, 3 vs 0)
        "score_overall": pd.array([2, 3, 4, 4, 1, 3, 2, 4], dtype="Int64"),
        "avoidability_score": pd.array([2, 6, 4, 6, 2, 6, 4, 6], dtype="Int64"),
        "themes": ["", "", "", "", "", "", "", ""],
    })
    items = calibration_results(REFERENCE, answers, n_boot=50).items.set_index(
        ["reviewer_id", "item"])["direction"]
    assert items[("D", "admission")] == "too few differences to say"
    assert items[("D", "overall")] == "no consistent difference"
    assert items[("E", "admission")] == "more lenient than the panel"
    assert items[("E", "overall")] == "harsher than the panel"
    assert items[("D", "avoidability")] == "no differences from the panel"  # all agree


def test_a_kappa_on_one_answer_or_on_scores_that_do_not_vary_is_not_estimable():
    """The audit of 2026-12-06: a round of one case and one answer (overall 5 against the
    panel's 4) showed 'Weighted kappa against the panel 0.00', and a reviewer whose overall
    score was the same on every case showed 0.00 for both kappas: with one pair, or with one
    side's scores constant, the agreement expected by chance is the agreement observed, so
    kappa is 0 (or 0/0) whatever the answers; it is not estimable, and the row says why."""
    one = ANSWERS[(ANSWERS["reviewer_id"] == "A") & (ANSWERS["case_id"] == "T2")].assign(
        score_overall=pd.array([5], dtype="Int64"))
    g = calibration_results(REFERENCE, one, n_boot=50).group.set_index("item")
    row = g.loc["overall"]
    assert row["statistic"] == "kappa_linear_vs_panel" and row["n_cases"] == 1
    assert np.isnan(row["estimate"])
    assert row["not_estimable"] == "fewer than two answers to compare with the panel's"
    assert g.loc["trigger", "not_estimable"] == row["not_estimable"]
    steady = ANSWERS[ANSWERS["reviewer_id"] == "A"].assign(
        score_overall=pd.array([3, 3, 3, 3], dtype="Int64"))
    g = calibration_results(REFERENCE, steady, n_boot=50).group
    kappas = g[g["statistic"].str.startswith("kappa") & (g["item"] != "admission")
               ].set_index("item")
    assert np.isnan(kappas.loc["overall", "estimate"])
    assert np.isnan(kappas.loc["trigger", "estimate"])
    assert kappas.loc["overall", "not_estimable"] == "the reviewers' scores do not vary"
    assert kappas.loc["trigger", "not_estimable"] == "the reviewers' scores do not vary"
    # avoidability varies on both sides: estimated as before
    assert kappas.loc["avoidability", "estimate"] == pytest.approx(1.0)
    assert kappas.loc["avoidability", "not_estimable"] is None
    assert kappa_not_estimable(np.array([4.0, 4.0]), np.array([4.0, 4.0])) == (
        "neither the reviewers' nor the panel's scores vary")
    assert kappa_not_estimable(np.array([4.0, 3.0]), np.array([4.0, 4.0])) == (
        "the panel's scores do not vary")


def test_the_results_tables_say_why_and_when_nothing_differs():
    """The lead's group table and the reviewer's rows for a round of one case and one answer
    (overall 5 against the panel's 4; avoidability as the panel's)."""
    import datetime as dt

    from data_access.training import TrainingCase
    from sjrlib.dashboards.calibration import results_tables
    from sjrlib.themes.codebook import shipped_codebook

    case = TrainingCase("T2", "A case", "The patient ...", "good", {"overall": 4}, {}, 6,
                        ("good_practice",))
    answers = pd.DataFrame([{
        "round_id": "R1", "organisation_code": "XA1", "reviewer_id": "A", "case_id": "T2",
        "status": "submitted", **{f"score_{p}": pd.NA for p in domain.PHASES},
        "avoidability_score": 6, "themes": ("good_practice",)}]).assign(score_overall=5)
    for column in [f"score_{p}" for p in domain.PHASES] + ["avoidability_score"]:
        answers[column] = answers[column].astype("Int64")
    data = {"cases": [case], "answers": answers,
            "rounds": pd.DataFrame({"round_id": ["R1"], "opens_on": [dt.date(2026, 12, 1)]})}
    book = shipped_codebook()
    lead = dict(results_tables(data, "organisation_lead", book))
    group = lead["The group's agreement (95% intervals on 8 or more cases)"]
    assert set(group["Estimate"]) == {
        "not estimable (fewer than two answers to compare with the panel's)"}
    assert len(group) == 3  # overall, avoidability, trigger: kappas only (one reviewer)
    mine = dict(results_tables(data, "reviewer", book))[
        "Your scores against the panel's reference answers"].set_index("Item")
    assert mine.loc["Avoidability of death", "Same score"] == "100%"
    assert mine.loc["Avoidability of death", "Compared with the panel"] == (
        "no differences from the panel")
    assert mine.loc["Overall assessment of care", "Compared with the panel"] == (
        "too few differences to say")
