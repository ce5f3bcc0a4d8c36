"""No interval on fewer than 8 cases in any audience, the organisation's own report included,
and every table that withholds one says so (helper 78).

shared/spec/privacy-and-disclosure.md: "no interval or estimate is shown on fewer than 8
cases". An organisation-audience trust report (exact counts, for the organisation's own
committee) prints exact counts and plain percentages on small groups (a percentage of printed
exact counts says nothing the counts do not), and its Wilson intervals only on 8 or more
reviews: checked on a rendered demo report (care scores: "Care during a procedure", 3 reviews,
0.0%, interval "–"; reasons: "Bereaved family ...", 5 reviews, 40.0%, interval "–"). The
care-score table said why ("Intervals are Wilson score intervals, not shown on fewer than 8
reviews."); the reasons table printed "–" without a word. It now says it in the same words.

The reviews below are written by hand: 40 sampled deaths (overall care 3, 10 of them 2) and 5
raised by the family (2 of them poor care), 3 of the 45 with a procedure scored.
"""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from sjrlib import domain
from sjrlib.disclosure import DisclosureRule
from sjrlib.report.data import ReportData
from sjrlib.report.params import Period
from sjrlib.report.trust import TrustReport

PERIOD = Period("2024-04", "2025-03", "2024-25")
CODE = "XE1"
WORDS = "Intervals are Wilson score intervals, not shown on fewer than 8 reviews."
INTERVAL = "95% confidence interval"


def _reviews() -> pd.DataFrame:
    rows = []
    for i in range(45):
        family = i >= 40
        poor = (i < 10) if not family else (i < 42)
        rows.append({
            "review_id": f"r{i}", "case_id": f"c{i}", "organisation_code": CODE,
            "review_stage": "first", "status": "submitted", "form_version": "rcp2017",
            "review_date": "2025-04-20", "death_month": PERIOD.months()[i % 12],
            "age_at_death": 80, "learning_disability": "no",
            "review_reasons": "family_concern" if family else "random_sample",
            "score_overall": 2 if poor else 3, "score_admission": 3,
            "score_procedure": 4 if i < 3 else None,
            "avoidability_score": 6, "avoidability_scale": "rcp"})
    frame = pd.DataFrame(rows)
    for column in domain.REVIEW_COLUMNS:
        if column not in frame:
            frame[column] = None
    for column in ("age_at_death", *(domain.score_column(p) for p in domain.PHASES),
                   "avoidability_score"):
        frame[column] = frame[column].astype("Int64")
    for column in domain.REVIEW_COLUMNS:
        if frame[column].dtype == object:
            frame[column] = frame[column].astype("string")
    frame["review_date"] = pd.to_datetime(frame["review_date"])
    frame["region"], frame["nation"] = "London", "england"
    return frame


def _trust(rule: DisclosureRule) -> TrustReport:
    deaths = pd.DataFrame({"organisation_code": CODE, "month": PERIOD.months(),
                           "deaths_in_scope": 100, "learning_disability_deaths": 0}
                          ).astype({"deaths_in_scope": "Int64",
                                    "learning_disability_deaths": "Int64"})
    organisations = pd.DataFrame({"organisation_code": [CODE], "name": ["A trust"],
                                  "nation": ["england"], "region": ["London"]})
    data = ReportData(_reviews(), deaths, organisations, PERIOD, "2023-04",
                      read_at="2026-11-01T00:00:00+00:00")
    params = SimpleNamespace(confidence_level=0.95, disclosure_rule=lambda: rule,
                             organisation_code=CODE)
    return TrustReport(params, data)  # type: ignore[arg-type]


def _printed(table, row, column) -> str:
    return table.cell_text(column, table.frame.at[row, column])


@pytest.fixture(scope="module")
def organisation() -> TrustReport:
    return _trust(DisclosureRule.off())  # the organisation's own report: exact counts


def test_the_reasons_table_prints_no_interval_on_5_and_says_why(organisation):
    table = organisation.review_reasons()
    family = domain.label("review_reason", "family_concern")
    sample = domain.label("review_reason", "random_sample")
    assert table.frame.at[family, "Reviews"] == 5
    assert _printed(table, family, "% poor or very poor") == "40.0%"  # 2 of 5, exact
    assert _printed(table, family, INTERVAL) == "–"
    assert table.frame.at[sample, "Reviews"] == 40
    assert table.frame.at[sample, INTERVAL]  # 10 of 40: an interval on 40 reviews
    assert WORDS in table.note  # before: the "–" went unexplained


def test_the_care_score_table_prints_no_interval_on_3(organisation):
    table = organisation.care_scores()
    procedure = domain.label("phase", "procedure")
    assert table.frame.at[procedure, "Reviews scoring this phase"] == 3
    assert _printed(table, procedure, INTERVAL) == "–"
    assert table.frame.at[domain.label("phase", "overall"), INTERVAL]  # 45 reviews
    assert WORDS in table.note


def test_the_public_reasons_table_says_it_too():
    table = _trust(DisclosureRule()).review_reasons()
    family = domain.label("review_reason", "family_concern")
    assert _printed(table, family, INTERVAL) == "–"
    assert WORDS in table.note
