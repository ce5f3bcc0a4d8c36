"""Completeness of a report's data: as-at date, provisional quarters, revisions (issue 14 part 4).

Unit cases use frames written here by hand; the end-to-end case re-runs a real trust report on a
real store after late reviews arrive (submitted through the governed session, as a lead would)
and finds the revised quarter and the statement of what changed.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from sjrlib.report import completeness as c

Q = {"2023/24 Q1": ["2023-04", "2023-05", "2023-06"],
     "2023/24 Q2": ["2023-07", "2023-08", "2023-09"]}


def test_a_quarter_is_provisional_until_three_full_months_after_it_ends():
    status = c.provisional_quarters(Q, dt.date(2023, 12, 31))
    assert not status["2023/24 Q1"].provisional          # Jul, Aug, Sep have passed
    assert status["2023/24 Q2"].provisional               # Oct, Nov, Dec: not yet ...
    assert "3 full months" in status["2023/24 Q2"].reason
    assert not c.provisional_quarters(Q, dt.date(2024, 1, 1))["2023/24 Q2"].provisional


def test_a_settled_quarter_with_many_drafts_is_still_provisional():
    later = dt.date(2025, 1, 1)
    status = c.provisional_quarters(Q, later, reviewed={"2023/24 Q1": 95, "2023/24 Q2": 94},
                                    drafts={"2023/24 Q1": 5, "2023/24 Q2": 6})
    assert not status["2023/24 Q1"].provisional           # 5 of 100 = 5%: not more than 5%
    assert status["2023/24 Q2"].provisional               # 6 of 100 > 5%
    assert "still being completed" in status["2023/24 Q2"].reason
    nothing = c.provisional_quarters(Q, later)
    assert not any(s.provisional for s in nothing.values())


def _review(case, month, stage="first", overall=4, org="AAA"):
    return {"organisation_code": org, "case_id": case, "death_month": month,
            "review_stage": stage, "score_overall": overall}


def test_completeness_counts_drafts_backlog_and_a_feed_gap():
    reviews = pd.DataFrame([
        _review("c1", "2023-04", overall=2),                     # poor, no second stage
        _review("c2", "2023-05", overall=1),                     # poor, second stage done
        _review("c2", "2023-05", stage="second", overall=2),
        _review("c3", "2023-08", overall=2),                     # poor, waiting (Q2)
        _review("c3", "2023-08", overall=2),                     # same death twice: once
        _review("c4", "2023-08", overall=5),
    ]).astype({"score_overall": "Int64"})
    drafts = c.draft_cases(
        pd.DataFrame({"organisation_code": ["AAA"] * 4,
                      "case_id": ["d1", "d1", "d2", "c4"],          # c4 also submitted
                      "death_month": ["2023-07", "2023-07", "2023-09", "2023-08"]}),
        reviews)
    assert drafts["drafts_outstanding"].sum() == 2               # d1 once, d2; not c4
    deaths = pd.DataFrame({"organisation_code": ["AAA"] * 5,
                           "month": ["2023-04", "2023-05", "2023-06", "2023-07", "2023-09"],
                           "deaths_in_scope": pd.array([40, 40, 40, 40, 40], dtype="Int64")})
    out = c.quarter_completeness(reviews, deaths, drafts,
                                 [m for ms in Q.values() for m in ms], dt.date(2024, 6, 1))
    assert list(out.index) == ["2023/24 Q1", "2023/24 Q2"]
    assert out.loc["2023/24 Q1", "deaths_in_scope"] == 120
    assert pd.isna(out.loc["2023/24 Q2", "deaths_in_scope"])    # August missing
    assert out["drafts_outstanding"].tolist() == [0, 2]
    assert out["awaiting_second_stage"].tolist() == [1, 1]
    assert out["reviewed"].tolist() == [2, 2]
    # Q2: 2 of 4 deaths with a review have only a draft
    assert out["provisional"].tolist() == [False, True]


def test_history_records_once_per_snapshot_and_lists_what_changed(tmp_path):
    path = tmp_path / "X-published.json"
    first = {"Q1": {"Deaths reviewed (SJR)": "125", "% of deaths reviewed": "26.9%"}}
    history = c.PublishedHistory(path)
    assert history.compare(first, "s1") == (None, [])
    history.record(first, snapshot="s1", as_at="2026-12-01T09:00:00+00:00")
    history.record(first, snapshot="s1", as_at="2026-12-01T10:00:00+00:00")  # same data
    assert len(json.loads(path.read_text())["runs"]) == 1
    assert path.stat().st_mode & 0o777 == 0o600
    second = {"Q1": {"Deaths reviewed (SJR)": "130", "% of deaths reviewed": "28.0%"}}
    again = c.PublishedHistory(path)
    before, changes = again.compare(second, "s2")
    assert before["as_at"].startswith("2026-12-01T09")
    assert changes == [c.Revision("Q1", "Deaths reviewed (SJR)", "125", "130"),
                       c.Revision("Q1", "% of deaths reviewed", "26.9%", "28.0%")]
    again.record(second, snapshot="s2", as_at="2026-12-02T09:00:00+00:00")
    # re-rendering the second run on the same data still reports the same revisions
    assert c.PublishedHistory(path).compare(second, "s2")[1] == changes


def test_a_damaged_history_is_named(tmp_path):
    path = tmp_path / "X-published.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="X-published.json"):
        c.PublishedHistory(path)


# ------------------------------------------------------------------ end to end ----
@pytest.fixture(scope="module")
def store(tmp_path_factory):
    import report_store

    return report_store.build(tmp_path_factory.mktemp("completeness"))


def _report(store, history: Path):
    from sjrlib.report.trust import trust_report

    return trust_report(dict(organisation_code=store.codes[0], period=report_store_period(),
                             db=store.url, user=store.lead, published_history=str(history)))


def report_store_period() -> str:
    import report_store

    return report_store.PERIOD


def test_the_workbook_marks_provisional_quarters_and_says_when_the_data_were_read(store,
                                                                                 tmp_path):
    """(Before the next test, whose late reviews settle the provisional quarter.)

    The Learning from Deaths workbook beside the page read "Q4 Jan–Mar 2023" where the
    page read "... (provisional)", and said nothing of when the data were read (audit of
    2026-12-06; issue 14 part 4: "quarters still filling are marked provisional in tables and
    charts", every report states the data's as-at date). It now labels the quarters as the
    page does and states both, under its title and in its notes."""
    from openpyxl import load_workbook

    from sjrlib.report.completeness import as_at_words

    report = _report(store, tmp_path / "published.json")
    path = report.write_lfd_workbook(tmp_path / "lfd.xlsx")
    book = load_workbook(path)
    sheet, notes = book["Learning from Deaths"], book["Notes"]
    labels = [row[0].value for row in sheet.iter_rows(min_row=1) if row[0].value]
    assert "Q4 Jan–Mar 2023 (provisional)" in labels, labels
    assert not [x for x in labels if x.startswith("Q1") and "provisional" in x]
    when = as_at_words(report.data.read_at)
    title_lines = " ".join(str(c.value) for c in sheet["A"][:4] if c.value)
    assert f"Data as at {when}." in title_lines, title_lines
    assert "Quarters marked provisional are still filling" in title_lines
    notes_text = {row[0].value: row[1].value for row in notes.iter_rows()}
    assert notes_text["Data as at"] == when
    assert notes_text["Provisional quarters"].startswith("Quarters marked provisional")
    # the page's quarterly table says the same
    page = report.lfd_quarterly()
    assert any(str(q).endswith("(provisional)") for q in page.frame.index)
    assert "Quarters marked provisional are still filling" in page.note


def test_a_rerun_after_late_reviews_shows_the_revised_quarter(store, tmp_path):
    from data_access import open_session

    history = tmp_path / "published.json"
    first = _report(store, history)
    assert "Data as at" in first.as_at()._repr_html_()
    table = first.lfd_quarterly().frame
    provisional = [q for q in table.index if q.endswith("(provisional)")]
    assert provisional == ["Q4\u00a0Jan\u2060–\u2060Mar\u00a02023 (provisional)"]
    done = first.completeness().frame
    assert done.loc["Q4\u00a0Jan\u2060–\u2060Mar\u00a02023", "Figures"] == "Provisional"
    assert "first report of this period" in first.revisions()._repr_html_()
    # the charts shade the provisional quarter from its first month and say so
    assert first._provisional_from("month") == "2023-01"
    legend = first.spc_reviewed().figure.axes[0].get_legend()
    assert "Provisional: still filling" in [t.get_text() for t in legend.get_texts()]
    first.record_published()
    reviewed_before = first._lfd[0]

    # late reviews: the lead submits every draft of the last quarter
    with open_session(user=store.lead, db=store.url) as s:
        drafts = s.reviews(organisation_codes=[store.codes[0]], start_month="2023-01",
                           end_month="2023-03", status="draft")
        assert len(drafts) >= 5
        for review_id in drafts["review_id"]:
            values = s.review(review_id)
            version = values.pop("version")
            s.save_review({**values, "status": "submitted"}, expected_version=version)

    second = _report(store, history)
    assert second.data.snapshot != first.data.snapshot
    text = second.revisions()._repr_html_()
    assert "Revised since the report on data as at" in text
    assert "Q4 Jan–Mar 2023" in text and "deaths reviewed (SJR)" in text
    # the stated figures are the published ones: before and now as each report shows them
    before = first.lfd_quarterly().text_frame()
    now = second.lfd_quarterly().text_frame()
    q4_before = before.loc[provisional[0], "Deaths reviewed (SJR)"]
    q4_now = now.loc[[q for q in now.index if q.startswith("Q4")][0], "Deaths reviewed (SJR)"]
    assert q4_before != q4_now
    assert f"{q4_before} \u2192 {q4_now}" in text
    # the earlier quarters did not change, and are not named
    assert "Q1 Apr" not in text
    # no drafts left in Q4
    q4 = second.completeness().frame.loc["Q4\u00a0Jan\u2060–\u2060Mar\u00a02023"]
    assert q4["Deaths with only a draft review"] == 0
    assert reviewed_before is not None
    second.record_published()
    assert len(json.loads(history.read_text())["runs"]) == 2


def test_a_period_without_reviews_does_not_reassure(store, tmp_path):
    """The walk-through audit (2026-12-06): a trust report for a period with no reviews said
    "No death in the period was judged more likely than not due to problems in care". It now
    says there is no review to judge from (``sjr report`` refuses a period the store holds
    nothing for; an organisation without reviews in a period others have still gets its
    page)."""
    from sjrlib.report.trust import trust_report

    report = trust_report(dict(organisation_code=store.codes[0], period="2030-31",
                               db=store.url, user=store.lead,
                               published_history=str(tmp_path / "h.json")))
    text = report.what_to_look_at()._repr_html_()
    assert "No review of a death in the period is in the store" in text
    assert "No death in the period was judged" not in text
    busy = _report(store, tmp_path / "h2.json").what_to_look_at()._repr_html_()
    assert "No review of a death in the period is in the store" not in busy
