"""The exploration dashboard's tables say which stage they count.

Before: with Stage set to "Second-stage reviews" the summary read "33 deaths ... with a
second-stage review" and the chart counted second-stage reviews, but the table under it was
captioned "Care scores by phase of care (first-stage reviews, one per death)", and the
problems table's note said "Percentages are of first-stage reviews". Found as the README's
organisation lead (make demo, make serve, explore.ipynb, Stage filter) in Chromium.
"""

from __future__ import annotations

import pytest
from dashboard_store import add_users, populate

from data_access import open_session
from sjrlib.dashboards.explore import TABS, Explorer


@pytest.fixture(scope="module")
def lead(tmp_path_factory, small_data):
    url = f"sqlite:///{tmp_path_factory.mktemp('explore-stage') / 'sjr.db'}"
    populate(url, small_data)
    users = add_users(url, str(small_data.organisations["organisation_code"].iloc[0]))
    return Explorer(open_session(users.lead, url, tool="test"))


def _table_html(lead, tab: str) -> str:
    lead.tabs.selected_index = TABS.index(tab)
    return lead.views[tab][1].children[1].value


def test_second_stage_tables_are_captioned_second_stage(lead):
    lead.filters["stage"].value = "second"
    assert "second-stage review" in lead.summary.value
    care = _table_html(lead, "Care scores")
    assert "Care scores by phase of care (second-stage reviews, one per death)" in care
    assert "first-stage" not in care
    problems = _table_html(lead, "Problems in care")
    assert "Percentages are of second-stage reviews" in problems
    assert "first-stage" not in problems


def test_first_stage_tables_keep_their_captions(lead):
    """A control: the default stage reads as the reports do."""
    lead.filters["stage"].value = "first"
    assert "(first-stage reviews, one per death)" in _table_html(lead, "Care scores")
    assert "Percentages are of first-stage reviews" in _table_html(lead, "Problems in care")
