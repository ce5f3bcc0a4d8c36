"""The exploration dashboard opens on the 24 calendar months to the latest month of data.

It took the last 24 months that hold data: with the deaths feed ending in March 2026 and one
review of a death in November 2026 (entered before the feed caught up), that was May 2024 to
November 2026, 31 months, and the Learning from Deaths tab ran from a year the lead never asked
for. The store is written by hand here: one organisation, deaths and a review a month.
"""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
from dashboard_store import add_users, populate

from data_access import open_session
from sjrlib.dashboards.explore import Explorer


def _months(first: str, last: str) -> list[str]:
    return [p.strftime("%Y-%m") for p in pd.period_range(first, last, freq="M")]


def _review(n: int, month: str) -> dict:
    return {"review_id": f"HW-{n:03d}", "case_id": f"C-{n:03d}", "organisation_code": "RXX",
            "review_stage": "first", "status": "submitted", "reviewer_id": "RVW-A",
            "review_date": f"{month}-25", "review_reasons": "random_sample",
            "age_at_death": "80", "death_month": month, "score_overall": "3",
            "comment_overall": "Adequate care throughout the admission.",
            "record_quality_score": "4", "any_problems": "no"}


def _store(tmp_path, review_months: list[str], drafts: tuple[str, ...] = ()
           ) -> tuple[str, object]:
    url = f"sqlite:///{tmp_path / 'sjr.db'}"
    data = SimpleNamespace(
        organisations=pd.DataFrame([{"organisation_code": "RXX", "name": "Example Hospitals",
                                     "nation": "england", "region": "London"}]),
        deaths=pd.DataFrame([{"organisation_code": "RXX", "month": m, "deaths_in_scope": "90",
                              "learning_disability_deaths": "1"}
                             for m in _months("2024-01", "2026-03")]),
        reviews=pd.DataFrame([_review(n, m) for n, m in enumerate(review_months)]
                             + [{**_review(900 + n, m), "status": "draft"}
                                for n, m in enumerate(drafts)]))
    populate(url, data)
    return url, add_users(url, "RXX")


def test_a_recent_review_ahead_of_the_feed_gives_24_calendar_months(tmp_path):
    url, users = _store(tmp_path, _months("2024-01", "2026-03") + ["2026-11"])
    explorer = Explorer(open_session(users.lead, url, tool="test"))
    f = explorer.filters
    assert (f["start_month"].value, f["end_month"].value) == ("2024-12", "2026-11")


def test_contiguous_months_keep_the_last_24(tmp_path):
    """Control: with data in every month the period is the same as before."""
    url, users = _store(tmp_path, _months("2024-01", "2026-03"))
    explorer = Explorer(open_session(users.lead, url, tool="test"))
    f = explorer.filters
    assert (f["start_month"].value, f["end_month"].value) == ("2024-04", "2026-03")


def test_every_quarter_of_the_period_is_in_the_learning_from_deaths_tab(tmp_path):
    """Quarters with neither a month of the feed nor a review (April to September 2026 here)
    were left out of the tab without a word; now they are rows whose deaths are not known, named
    in the note, as the trust report prints them."""
    url, users = _store(tmp_path, _months("2024-01", "2026-03") + ["2026-11"])
    explorer = Explorer(open_session(users.lead, url, tool="test"))
    _, widgets = explorer._lfd()
    table = widgets[0].value.replace("\u2060", "").replace("\u00a0", " ")
    for quarter in ("Q1 Apr–Jun 2026", "Q2 Jul–Sep 2026", "Q3 Oct–Dec 2026"):
        assert quarter in table
        assert f"{quarter}: no month in the feed" in table


def test_a_quarter_still_filling_with_drafts_is_marked_provisional(tmp_path):
    """As the trust report marks it: Q1 2025-26 has 3 deaths with a submitted review and 1 with
    only a draft (more than 5%), so its figures will change. Before, the tab said "as published
    to the board" and printed the quarter as if final."""
    url, users = _store(tmp_path, _months("2024-01", "2026-03"), drafts=("2025-05",))
    explorer = Explorer(open_session(users.lead, url, tool="test"))
    f = explorer.filters
    f["start_month"].value, f["end_month"].value = "2025-04", "2026-03"
    _, widgets = explorer._lfd()
    for widget in widgets[:3]:  # the quarterly, avoidability and learning disability tables
        table = widget.value.replace("\u2060", "").replace("\u00a0", " ")
        assert "Q1 Apr–Jun 2025 (provisional)" in table
        assert "Q2 Jul–Sep 2025 (provisional)" not in table
        assert "Quarters marked provisional are still filling" in table
