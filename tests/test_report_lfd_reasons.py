"""The "Reasons for review" row of learning disability beside the learning disability table.

An audit of the demo's 2025-26 reports (2026-12-06, held out) read XE1's "Patient had a
learning disability: Reviews 20" beside its learning disability table, whose year of reviewed
was withheld (``*``, 18) as a secondary suppression: with the quarters adding up, the reviewed
among the deaths of each quarter and the reviews for learning disability among (in the demo:
equal to) the year's reviewed, Q3's deaths ``*`` was at most 22 - 18 = 4 (true 1). These tests
build such an organisation's reviews by hand, print both tables as a trust report does and
attack them with the project's own :class:`sjrlib.disclosure_check.Problem`, reading the
relation (equal, or at most) whatever the page says.
"""

from __future__ import annotations

import html
from types import SimpleNamespace

import pandas as pd
import pytest

from sjrlib import domain
from sjrlib.disclosure import DisclosureRule
from sjrlib.disclosure_check import Problem, check_reports
from sjrlib.report.data import ReportData
from sjrlib.report.params import Period
from sjrlib.report.trust import TrustReport
from tests.differencing import attacked

RULE = DisclosureRule()
PERIOD = Period("2024-04", "2025-03", "2024-25")
CODE = "XE1"
LD_ROW = domain.label("review_reason", "learning_disability")
LD_SHOWN = getattr(__import__("sjrlib.disclosure_check", fromlist=["x"]), "LD_REASON_SHOWN",
                   "\0 no such sentence before the fix")
QUARTERS = [PERIOD.months()[i:i + 3] for i in range(0, 12, 3)]


def _review_frame(reviews: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(reviews)
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


def _trust(ld_deaths: list[int], ld_reviewed: list[int], *, other: int = 40,
           ld_other_reason: int = 0) -> TrustReport:
    """One trust's year: per quarter ``ld_deaths`` learning disability deaths in the feed
    (one in each quarter's first month), ``ld_reviewed`` of them reviewed at first stage for
    learning disability (the last ``ld_other_reason`` of the year's reviewed for another
    reason only), and ``other`` other reviewed deaths a quarter (a random sample); 100 deaths
    a month; every review overall care 3, avoidability 6."""
    reviews, deaths, i = [], [], 0
    left_other = ld_other_reason
    for q, months in enumerate(QUARTERS):
        for k in range(ld_reviewed[q] + other):
            ld = k < ld_reviewed[q]
            reason = "learning_disability" if ld else "random_sample"
            if ld and q == 3 and k >= ld_reviewed[q] - left_other:
                reason = "random_sample"
            reviews.append({
                "review_id": f"r{i}", "case_id": f"c{i}", "organisation_code": CODE,
                "review_stage": "first", "status": "submitted", "form_version": "rcp2017",
                "review_date": "2025-04-20", "death_month": months[k % 3],
                "age_at_death": 80, "learning_disability": "yes" if ld else "no",
                "review_reasons": reason, "score_overall": 3, "avoidability_score": 6,
                "avoidability_scale": "rcp"})
            i += 1
        for j, month in enumerate(months):
            deaths.append({"organisation_code": CODE, "month": month, "deaths_in_scope": 100,
                           "learning_disability_deaths": ld_deaths[q] if j == 0 else 0})
    organisations = pd.DataFrame({"organisation_code": [CODE], "name": ["A trust"],
                                  "nation": ["england"], "region": ["London"]})
    deaths_frame = pd.DataFrame(deaths).astype({"deaths_in_scope": "Int64",
                                                "learning_disability_deaths": "Int64"})
    data = ReportData(_review_frame(reviews), deaths_frame, organisations, PERIOD, "2023-04",
                      read_at="2026-11-01T00:00:00+00:00")
    params = SimpleNamespace(confidence_level=0.95, disclosure_rule=lambda: RULE,
                             organisation_code=CODE)
    return TrustReport(params, data)  # type: ignore[arg-type]


def _attack(ld: pd.DataFrame, reasons: pd.DataFrame, *, same: bool) -> list:
    """A reader's attack on the learning disability table and the reasons table's row as
    printed: each printed count its range (``*`` 1 and up, reported when narrowed inside
    1-7), the quarters adding up to the year, reviewed among deaths and more likely than not
    among reviewed in each row, the row's poor care among its reviews, and its reviews equal
    to (``same``) or at most the year's reviewed."""
    p = Problem()

    def cell(key, text):
        return p.count(key, str(text), threshold=RULE.threshold, rounding=RULE.rounding,
                       where=str(key)) or p.declare(key, 0, 0, controlled=False)

    columns = {"d": "Deaths of patients with a learning disability", "r": "Reviewed (SJR)",
               "m": "More likely than not due to problems in care"}
    rows = list(ld.index)
    keys = {(f, i): cell((f, i), ld.at[row, c]) for i, row in enumerate(rows)
            for f, c in columns.items()}
    year = len(rows) - 1
    for f in columns:
        p.add_sum([keys[f, i] for i in range(year)], keys[f, year], "quarters add up")
    for i in range(len(rows)):
        p.add_sum([keys["r", i], p.fresh()], keys["d", i], "reviewed among deaths")
        p.add_sum([keys["m", i], p.fresh()], keys["r", i], "more likely than not among")
    n = cell(("reason", "n"), reasons.at[LD_ROW, "Reviews"])
    poor = cell(("reason", "poor"), reasons.at[LD_ROW, "Poor or very poor overall care"])
    p.add_sum([poor, p.fresh()], n, "poor care among reviews")
    p.add_sum([n] if same else [n, p.fresh()], keys["r", year], "reviews for the reason")
    return attacked(p)


# XE1's pattern: deaths 10, 5, 1, 4 (20) and reviewed 10, 5, 0, 3 (18), all reviewed for
# learning disability; the protected table withholds the year's reviewed
XE1 = ([10, 5, 1, 4], [10, 5, 0, 3])


@pytest.fixture(scope="module")
def xe1() -> TrustReport:
    return _trust(*XE1)


def test_the_pattern_is_xe1s(xe1):
    ld = xe1.learning_disability().frame
    assert ld.iloc[-1]["Reviewed (SJR)"] == RULE.symbol
    assert ld.iloc[2]["Deaths of patients with a learning disability"] == RULE.symbol


@pytest.mark.parametrize("same", [True, False])
def test_the_reasons_row_narrows_no_learning_disability_count(xe1, same):
    ld = xe1.learning_disability().frame
    reasons = xe1.review_reasons()
    assert not _attack(ld, reasons.frame, same=same)
    # the row is the year's reviewed as the table prints it, and says so
    assert reasons.frame.at[LD_ROW, "Reviews"] == ld.iloc[-1]["Reviewed (SJR)"]
    assert LD_SHOWN in reasons.note


def test_fewer_reviews_for_the_reason_are_protected_as_among(xe1):
    """Three of the year's reviewed learning disability deaths reviewed for another reason
    (15 for the reason of 18): the row prints its own count, protected as among them."""
    report = _trust(*XE1, ld_other_reason=3)
    ld = report.learning_disability().frame
    reasons = report.review_reasons()
    assert LD_SHOWN not in reasons.note
    assert not _attack(ld, reasons.frame, same=False)


RULE_NOTE = ("Disclosure control: counts from 1 to 7 are shown as * (with a second cell withheld "
             "where a total would reveal one); other counts are rounded to the nearest 5.")


def _table(caption: str, columns: list[str], rows: list[tuple[str, list[str]]], note: str,
           totals: tuple[str, ...] = ()) -> str:
    """A table as sjrlib.report.tables writes it (tests/test_disclosure_check.py's _page)."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    total = ' class="total"'
    body = "".join(
        f'<tr{total if label in totals else ""}><th scope="row">'
        f"{html.escape(label)}</th>" + "".join(f"<td>{html.escape(v)}</td>" for v in cells)
        + "</tr>" for label, cells in rows)
    return (f'<table class="sjr-table"><caption>{html.escape(caption)}</caption>'
            f"<thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>"
            f'<p class="sjr-note">{html.escape(note)}</p>')


@pytest.mark.parametrize("same", [True, False])
def test_the_checker_reads_the_relation(tmp_path, same):
    """A hand-written page: XE1's learning disability table (deaths 10, *, *, * of 20,
    reviewed 10, *, 0, * of *) and the reasons row printing 20: read as among the year's
    reviewed (or, where the note says so, as them), Q3's deaths * is at most 22 - 18."""
    ld_rows = [("Q1", ["10", "10", "*", "0"]), ("Q2", ["*", "*", "*", "0"]),
               ("Q3", ["*", "0", "*", "0"]), ("Q4", ["*", "*", "*", "0"]),
               ("2024-25 total", ["20", "*", "*", "0"])]
    ld = _table("Deaths of patients with a learning disability",
                ["Deaths of patients with a learning disability", "Reviewed (SJR)",
                 "% reviewed", "More likely than not due to problems in care"],
                ld_rows, RULE_NOTE, totals=("2024-25 total",))
    note = RULE_NOTE + (f" {LD_SHOWN}." if same else "")
    reasons = _table("Reasons for review, and poor or very poor overall care by reason",
                     ["Reviews", "Poor or very poor overall care", "% poor or very poor",
                      "95% confidence interval"], [(LD_ROW, ["20", "0", "0.0%", "–"])], note)
    (tmp_path / f"{CODE}.html").write_text(f"<html><body>{ld}{reasons}</body></html>",
                                           encoding="utf-8")
    findings, n, notes = check_reports([tmp_path])
    assert n == 1 and notes == []
    found = {(f.where.split(" | ")[2], f.shown) for f in findings}
    assert ("Q3", "*") in found, [str(f) for f in findings]
    assert all(f.high is None or f.high <= 4 for f in findings
               if f.where.split(" | ")[2] == "Q3")
    # the same table without the row says nothing (its year of reviewed is withheld)
    (tmp_path / f"{CODE}.html").write_text(f"<html><body>{ld}</body></html>", encoding="utf-8")
    assert check_reports([tmp_path])[0] == []
