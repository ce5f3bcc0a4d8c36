"""A collaborative's page (``sjrlib.report.collaborative``) against its members' own reports:
each member's row is what its report prints, and the pooled row gives nothing back. Hand-written
store: two English trusts with 20 reviewed deaths in the middle month of each quarter."""

from __future__ import annotations

import sys
from pathlib import Path

from sjrlib.disclosure import count_range
from sjrlib.report.collaborative import ALL_MEMBERS, Collaborative, collaborative_tables

sys.path.insert(0, str(Path(__file__).parent))
from test_report_national_differencing import PERIOD, RULE, _quarterly_store  # noqa: E402

MLTN = "More likely than not due to problems in care"


def _table(spec):
    data = _quarterly_store(spec)
    group = Collaborative("c1", "A collaborative", tuple(sorted(spec)), "2020-04")
    [table] = collaborative_tables(group, data.reviews, data.deaths, PERIOD, RULE)
    return table


def test_the_pooled_row_does_not_narrow_a_members_quarters():
    """Deaths judged more likely than not: XA 1, 1, 2, 2 by quarter (each ``*`` on its own
    report, its year's 6 too), XB 0, 10, 1, 3 (0, 10, ``*``, ``*``; 15 for the year). The
    pooled 20 (18-22) less XB's 15 (13-17) leaves XA's year at most 9, and as each of its
    quarters is at least 1, each is 1-6, not 1-7: the pooled count is withheld. XB's row is
    its own report's 15: the page used to withhold it (a secondary suppression of a figure
    XB's report prints anyway) and print the pooled 20."""
    table = _table({"XA": ("england", [1, 1, 2, 2]), "XB": ("england", [0, 10, 1, 3])})
    frame = table.frame
    assert count_range(RULE.round(20), RULE) == (18, 22)
    assert frame.at["XA", MLTN] == RULE.symbol
    assert frame.at["XB", MLTN] == 15
    assert frame.at[ALL_MEMBERS, MLTN] == RULE.symbol
    # what no member's report can be narrowed by stays: 160 reviewed (each member's 80)
    assert frame.at[ALL_MEMBERS, "Deaths reviewed (SJR)"] == 160


def test_common_counts_are_pooled_and_shown():
    table = _table({"XA": ("england", [10, 10, 12, 9]), "XB": ("england", [9, 10, 11, 13])})
    frame = table.frame
    assert frame.at["XA", MLTN] == 40
    assert frame.at["XB", MLTN] == 45
    assert frame.at[ALL_MEMBERS, MLTN] == 85
