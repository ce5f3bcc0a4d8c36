"""The held-out acceptance audit of 2026-12-06, without a browser: the exploration dashboard.

On a selection of one death (a month and a specialty), the care-score and problems tabs drew
"Fewer than 8 reviews: chart not shown" and, under it, tables printing "100.0%" poor care per
phase and "100.0%" of reviews with a problem. A table on fewer than 8 cases now says so instead,
as the chart does; with 8 or more the tables are there as before.
"""

from __future__ import annotations

import pytest
from dashboard_store import add_users, populate

from data_access import open_session
from sjrlib.dashboards.explore import TABS, Explorer
from sjrlib.plots import MIN_CASES


@pytest.fixture(scope="module")
def lead(tmp_path_factory, small_data):
    url = f"sqlite:///{tmp_path_factory.mktemp('audit-explore') / 'sjr.db'}"
    populate(url, small_data)
    users = add_users(url, str(small_data.organisations["organisation_code"].iloc[0]))
    return Explorer(open_session(users.lead, url, tool="test"))


def _shown(explorer: Explorer, tab: str) -> list[str]:
    explorer.tabs.selected_index = TABS.index(tab)
    return [getattr(child, "value", "") for child in explorer.views[tab][1].children
            if isinstance(getattr(child, "value", None), str)]


def _narrow_to_few(explorer: Explorer) -> int:
    """Set the filters to one month and one specialty matching 1 to 7 deaths."""
    f = explorer.filters
    months = [v for _, v in f["start_month"].options]
    specialties = [v for _, v in f["specialty"].options[1:]]
    for month in reversed(months):
        f["start_month"].value, f["end_month"].value = month, month
        for specialty in specialties:
            f["specialty"].value = specialty
            n = explorer._codes.cases(explorer._rows, explorer._stage)
            if 1 <= n < MIN_CASES:
                return n
    pytest.fail("no month and specialty with 1 to 7 deaths in the test data")


@pytest.mark.parametrize("tab, table", [("Care scores", "% poor or very poor care"),
                                        ("Problems in care", "% of reviews")])
def test_tables_on_fewer_than_8_cases_say_so_instead(lead, tab, table):
    f = lead.filters
    months = [v for _, v in f["start_month"].options]
    f["start_month"].value, f["end_month"].value = months[0], months[-1]
    f["specialty"].value = "__all__"
    assert lead._codes.cases(lead._rows, lead._stage) >= MIN_CASES
    assert any(table in text for text in _shown(lead, tab))  # enough cases: the table

    n = _narrow_to_few(lead)
    shown = " ".join(_shown(lead, tab))
    assert table not in shown and "%" not in shown
    assert f"Fewer than {MIN_CASES} deaths match the filters ({n})" in shown


def test_learning_from_deaths_counts_whole_quarters_whatever_months_are_chosen(lead):
    """Mar 2026 alone printed part of Q4 as the quarter (deaths in scope 'not known', 24
    reviewed of March only) and said January and February were missing from the deaths feed,
    which had them: the quarter is now counted whole, and the caption says so."""
    from sjrlib.stats._reviews import financial_quarter, quarter_first_month

    f = lead.filters
    f["specialty"].value = "__all__"
    months = [v for _, v in f["start_month"].options]
    fed = set(lead.all_deaths["month"].dropna())
    # the last month that ends a financial quarter whose three months are all in the feed
    end = next(m for m in reversed(months) if m[5:7] in ("03", "06", "09", "12")
               and {m, *months[max(0, months.index(m) - 2):months.index(m)]} <= fed)
    start = quarter_first_month(financial_quarter(end))

    def tables(first: str, last: str) -> tuple[str, str]:
        f["start_month"].value, f["end_month"].value = first, last
        lead.tabs.selected_index = TABS.index("Learning from Deaths")
        caption, body = lead.views["Learning from Deaths"]
        return caption.value, " ".join(c.value for c in body.children
                                       if isinstance(c.value, str))

    _, whole = tables(start, end)
    caption, one_month = tables(end, end)
    assert one_month == whole
    assert "lacks a month" not in one_month
    assert "Whole quarters" in caption and "outside the filters' period" in caption
