"""The programme team's calibration distribution gives quartiles only over 8 or more reviewers.

A walkthrough (2026-12-10) saw the national "distribution" of a round one reviewer had
answered: lower quartile, median and upper quartile were that reviewer's own agreement with
the panel, shown as if they described a programme. No estimate is shown on fewer than 8 cases
(``shared/spec/privacy-and-disclosure.md``); here the cases are reviewers. The answers are
written by hand: each reviewer answers two cases (panel: overall 2 and 4).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from data_access.training import TrainingCase
from sjrlib import domain
from sjrlib.dashboards.calibration import MIN_REVIEWERS_FOR_QUARTILES, results_tables
from sjrlib.themes.codebook import shipped_codebook

TITLE = ("Reviewers' agreement with the panel: the distribution (no organisation or reviewer "
         "named; quartiles only over 8 or more reviewers)")
CASES = [TrainingCase("P1", "A case", "The patient ...", "poor", {"overall": 2}, {}, 4, ()),
         TrainingCase("G1", "A case", "The patient ...", "good", {"overall": 4}, {}, 6, ())]


def _data(scores: dict[str, tuple[int, int]]) -> dict:
    """Round R1: each reviewer's overall scores of P1 and G1 (their organisation XA1)."""
    rows = [{"round_id": "R1", "organisation_code": "XA1", "reviewer_id": reviewer,
             "case_id": case, "status": "submitted",
             **{domain.score_column(p): pd.NA for p in domain.PHASES},
             "score_overall": score, "avoidability_score": pd.NA, "themes": ()}
            for reviewer, pair in scores.items() for case, score in zip(("P1", "G1"), pair,
                                                                        strict=True)]
    answers = pd.DataFrame(rows)
    for column in [domain.score_column(p) for p in domain.PHASES] + ["avoidability_score"]:
        answers[column] = answers[column].astype("Int64")
    return {"cases": CASES, "answers": answers,
            "rounds": pd.DataFrame({"round_id": ["R1"], "opens_on": [dt.date(2026, 12, 1)]})}


def _tables(scores: dict[str, tuple[int, int]]) -> dict[str, pd.DataFrame]:
    return dict(results_tables(_data(scores), "programme_team", shipped_codebook()))


def _distribution(scores: dict[str, tuple[int, int]]) -> pd.Series:
    """The distribution's row of the share of cases given the panel's overall score."""
    tables = _tables(scores)
    title = next(t for t in tables if t.startswith("Reviewers' agreement with the panel: "
                                                   "the distribution"))
    return tables[title].set_index("Measure").loc["Same overall score"]


def test_one_reviewers_figure_is_not_shown_as_the_programmes_quartiles():
    # one reviewer: P1 scored 2 (same as the panel), G1 scored 3 (not): 50% the same
    row = _distribution({"RV-1": (2, 3)})
    assert row["Reviewers"] == 1
    assert (row["Lower quartile"], row["Median"], row["Upper quartile"]) == (
        "–", "not shown: fewer than 8 reviewers", "–")
    assert "50%" not in row.to_dict().values()
    assert TITLE in _tables({"RV-1": (2, 3)})  # the title says when quartiles are shown


def test_seven_reviewers_are_too_few_and_eight_are_enough():
    assert MIN_REVIEWERS_FOR_QUARTILES == 8
    # the share of the two cases scored as the panel did: RV-1 0 (3 and 5), RV-2 to RV-4 0.5
    # (2 and 5), RV-5 to RV-7 1 (2 and 4)
    seven = {"RV-1": (3, 5), **{f"RV-{i}": (2, 5) for i in (2, 3, 4)},
             **{f"RV-{i}": (2, 4) for i in (5, 6, 7)}}
    row = _distribution(seven)
    assert row["Reviewers"] == 7 and row["Median"] == "not shown: fewer than 8 reviewers"
    row = _distribution({**seven, "RV-8": (2, 4)})
    assert row["Reviewers"] == 8
    # shares 0, .5, .5, .5, 1, 1, 1, 1 at positions 0..7; linear quantiles at 1.75 (0.5),
    # 3.5 (halfway from 0.5 to 1: 0.75) and 5.25 (1)
    assert (row["Lower quartile"], row["Median"], row["Upper quartile"]) == (
        "50%", "75%", "100%")


GROUP = "The group's agreement (95% intervals on 8 or more cases)"


def test_the_programmes_group_agreement_is_never_one_reviewers_own_figure():
    """Over one reviewer the programme team's "group's agreement" was that reviewer's kappa
    against the panel (here 0.50: P1 scored 2 as the panel, G1 3 against 4), shown as a group
    figure on a page that names no reviewer. It now says why it is not shown; over two
    reviewers the pooled figures are shown as before. A lead still sees it: the lead's own
    table names each reviewer's result anyway."""
    one = _tables({"RV-1": (2, 3)})[GROUP].set_index(["Item", "Statistic"])
    row = one.loc[("Overall assessment of care", "Weighted kappa against the panel")]
    assert row["Reviewers"] == 1
    assert row["Estimate"] == "not shown: one reviewer's own figure"
    assert not any(str(v).startswith("0.50") for v in one["Estimate"])
    trigger = one.loc[("Second-stage trigger", "Kappa against the panel")]
    assert trigger["Estimate"] == "not shown: one reviewer's own figure"

    two = _tables({"RV-1": (2, 3), "RV-2": (2, 4)})[GROUP].set_index(["Item", "Statistic"])
    pooled = two.loc[("Overall assessment of care", "Weighted kappa against the panel")]
    assert pooled["Reviewers"] == 2 and pooled["Estimate"] == "0.75"

    lead = dict(results_tables(_data({"RV-1": (2, 3)}), "organisation_lead",
                               shipped_codebook()))[GROUP].set_index(["Item", "Statistic"])
    assert lead.loc[("Overall assessment of care", "Weighted kappa against the panel"),
                    "Estimate"] == "0.50"
