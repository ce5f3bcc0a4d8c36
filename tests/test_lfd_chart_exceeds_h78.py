"""A Learning from Deaths chart draws no "% reviewed" over 100 (helper 78).

Where the deaths feed has fewer deaths than were reviewed (a feed or coding error), the table
prints "check: more reviewed than deaths" instead of a percentage; the chart beside it
(``plots.lfd_trend``: the exploration dashboard's and the national report's) labelled the bar
"120%" (the dashboard below: "127%"). Now the chart draws no percentage there and its note says
so in the table's words. The counts and percentages below are worked out by hand.
"""

from __future__ import annotations

import pandas as pd
import pytest

from sjrlib import plots
from sjrlib.disclosure import DisclosureRule

TABLE_WORDS = "check: more reviewed than deaths"  # tables.EXCEEDS, written out by hand


def _texts(fig) -> list[str]:
    return [" ".join(t.get_text().split()) for ax in fig.axes for t in ax.texts] + \
        [" ".join(t.get_text().split()) for t in fig.texts]


def _figures() -> pd.DataFrame:
    # Q1: 50 of 200 (25%); Q2: 60 reviewed of 50 deaths (the feed error: 120%); Q3: 40 of 80
    return pd.DataFrame({"period": ["2024/25 Q1", "2024/25 Q2", "2024/25 Q3"],
                         "deaths_in_scope": [200, 50, 80], "reviewed": [50, 60, 40],
                         "more_likely_than_not": [2, 0, 1]})


@pytest.mark.parametrize("rule", [None, DisclosureRule.off(), DisclosureRule()])
def test_no_percentage_over_100_and_the_note_in_the_tables_words(rule):
    texts = _texts(plots.lfd_trend(_figures(), rule=rule))
    assert "25%" in texts and "50%" in texts
    assert "120%" not in texts
    assert not [t for t in texts if t.endswith("%") and float(t[:-1]) > 100]
    notes = [t for t in texts if TABLE_WORDS in t]
    assert len(notes) == 1 and "1 period(s)" in notes[0], texts


def test_the_words_are_the_tables():
    from sjrlib.report import tables

    assert tables.EXCEEDS == TABLE_WORDS


def test_the_national_chart_data_prints_the_same_words():
    """The national report's table of what the chart draws (its "% of deaths reviewed")."""
    from sjrlib.report.national import NationalReport

    report = object.__new__(NationalReport)
    report.__dict__.update(rule=DisclosureRule(), _lfd_trend=_figures())
    shown = report.trend_reviewed()
    printed = [shown.table.cell_text("% of deaths reviewed", v)
               for v in shown.table.frame["% of deaths reviewed"]]
    assert printed[1] == TABLE_WORDS  # before: "120%" (60 of 50)
    assert [float(p.rstrip("%")) for p in (printed[0], printed[2])] == [25.0, 50.0]
    assert "120%" not in _texts(shown.figure)


def test_the_exploration_dashboard_chart_beside_its_table(tmp_path, monkeypatch):
    """The walkthrough's case: a lead's dashboard whose deaths feed holds 10 deaths a month in
    the last quarter, fewer than were reviewed."""
    from dashboard_store import add_users, populate

    from data_access import open_session
    from sjrlib.dashboards.explore import TABS, Explorer
    from sjrlib.synthetic import generate

    data = generate(n_organisations=2, years=1, seed=1)
    org = str(data.organisations["organisation_code"].iloc[0])
    last_quarter = sorted(data.deaths["month"].unique())[-3:]
    cut = data.deaths["organisation_code"].eq(org) & data.deaths["month"].isin(last_quarter)
    data.deaths.loc[cut, "deaths_in_scope"] = 10
    url = f"sqlite:///{tmp_path / 'sjr.db'}"
    populate(url, data)
    users = add_users(url, org)
    drawn = []
    real = plots.lfd_trend
    monkeypatch.setattr(plots, "lfd_trend", lambda *a, **k: drawn.append(real(*a, **k))
                        or drawn[-1])
    lead = Explorer(open_session(users.lead, url, tool="test"))
    lead.tabs.selected_index = TABS.index("Learning from Deaths")
    _, widgets = lead._lfd()
    assert TABLE_WORDS in widgets[0].value  # the quarterly table
    texts = _texts(drawn[-1])
    assert not [t for t in texts if t.endswith("%") and float(t[:-1]) > 100], texts
    assert [t for t in texts if TABLE_WORDS in t]
