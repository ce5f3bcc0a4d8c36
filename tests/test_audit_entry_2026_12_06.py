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
