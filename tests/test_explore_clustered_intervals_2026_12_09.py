"""The programme team's pooled view gives the national report's intervals, not Wilson's.

Before: on the demo store the exploration dashboard (demo-programme, All organisations, Apr
2025 to Mar 2026) printed 19.5-20.2% poor care at admission with a plain Wilson interval,
while the national report of the same period printed 18.6-21.3%, an interval that allows for
the clustering of reviews by organisation (design effect 12.7): the dashboard claimed a
precision about 3.6 times too fine. Found comparing the dashboard with the published report.
"""

from __future__ import annotations

import re

import pytest
from dashboard_store import add_users, populate

from data_access import open_session
from sjrlib.dashboards.explore import TABS, Explorer
from sjrlib.report.national import clustered_interval
from sjrlib.stats import clustered, descriptive


@pytest.fixture(scope="module")
def store(tmp_path_factory, small_data):
    url = f"sqlite:///{tmp_path_factory.mktemp('explore-clustered') / 'sjr.db'}"
    populate(url, small_data)
    return url, add_users(url, str(small_data.organisations["organisation_code"].iloc[0]))


def _care_table(explorer) -> str:
    explorer.tabs.selected_index = TABS.index("Care scores")
    return explorer.views["Care scores"][1].children[1].value


def _row(html: str, label: str) -> list[str]:
    row = re.search(rf"<th[^>]*>{re.escape(label)}</th>(.*?)</tr>", html, re.S).group(1)
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row,
                                                                   re.S)]


def test_all_organisations_get_intervals_clustered_by_organisation(store):
    url, users = store
    national = Explorer(open_session(users.programme, url, tool="test"))
    assert national.reviews["organisation_code"].nunique() > 1
    html = _care_table(national)
    assert "95% CI, clustered by organisation" in html and "Design effect" in html
    assert "Intervals allow for clustering of reviews by organisation" in html
    poor = descriptive.poor_care(national.reviews, phase="overall")
    part = clustered.poor_care_outcomes(national.reviews, phase="overall")
    fit = clustered.clustered_proportion(part["poor"], part["organisation_code"])
    n, k = int(poor["n"].iloc[0]), int(poor["poor"].iloc[0])
    expected, deff = clustered_interval(k, n, n, fit, 0.05)
    cells = _row(html, "Overall assessment of care")
    assert expected in cells and deff in cells, (cells, expected, deff)


def test_one_organisation_and_second_stage_keep_wilson_intervals(store):
    """Controls: a lead's own organisation, and second-stage reviews (as the trust reports)."""
    url, users = store
    lead = Explorer(open_session(users.lead, url, tool="test"))
    html = _care_table(lead)
    assert "95% confidence interval" in html and "Design effect" not in html
    national = Explorer(open_session(users.programme, url, tool="test"))
    national.filters["stage"].value = "second"
    assert "Design effect" not in _care_table(national)
