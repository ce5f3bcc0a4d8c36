"""The researcher's first charts run on whatever fields an approval releases."""

from __future__ import annotations

import datetime as dt

import pytest

from sjrlib import domain, extract_charts
from sjrlib.plots import chart_withheld
from sjrlib.synthetic import generate


@pytest.fixture(scope="module")
def reviews():
    return generate(n_organisations=3, years=1, seed=4, today=dt.date(2026, 11, 26)).reviews


def _panel_titles(fig) -> list[str]:
    return [ax.get_title(loc="left").split("\n")[0] for ax in fig.axes if ax.axison]


def test_every_chart_is_drawn_on_a_full_extract(reviews):
    phases = extract_charts.phase_chart(reviews)
    assert _panel_titles(phases) == [domain.label("phase", p) for p in domain.PHASES]
    for fig in (extract_charts.agreement_chart(reviews),
                extract_charts.agreement_chart(reviews, "end_of_life"),
                extract_charts.trend_chart(reviews), extract_charts.trend_chart(reviews, by=None)):
        assert chart_withheld(fig) is None


def test_an_extract_without_some_phases_draws_the_others(reviews):
    fewer = reviews.drop(columns=["score_procedure", "score_perioperative"])
    titles = _panel_titles(extract_charts.phase_chart(fewer))
    assert titles == [domain.label("phase", p) for p in
                      ("admission", "ongoing", "end_of_life", "overall")]


def test_a_missing_field_is_named_instead_of_an_error(reviews):
    fig = extract_charts.agreement_chart(reviews.drop(columns=["reviewer_id"]))
    assert chart_withheld(fig) == ("Your extract has no reviewer_id (not in your approval's "
                                   "fields): chart not drawn")
    no_scores = reviews.drop(columns=[domain.score_column(p) for p in domain.PHASES])
    assert "no care scores" in chart_withheld(extract_charts.phase_chart(no_scores))
    fig = extract_charts.trend_chart(reviews.drop(columns=["organisation_code"]))
    assert chart_withheld(fig).startswith("Your extract has no organisation_code (")
