"""The exploration page's charts take their distributions through ``chart_distribution``,
which under the page's exact counts (``DisclosureRule.off()``) skips protecting each group's
cells one at a time: it must give exactly the frame ``tables.protect_distribution`` gives, on
the synthetic reviews and on narrow selections (one specialty, one month, none at all)."""

from __future__ import annotations

import pandas as pd
import pytest

from sjrlib.dashboards.explore import chart_distribution
from sjrlib.disclosure import DisclosureRule
from sjrlib.report import tables
from sjrlib.stats import descriptive


def parts(reviews: pd.DataFrame):
    month = reviews["death_month"].dropna().iloc[0]
    yield "all", reviews
    yield "one specialty", reviews[reviews["specialty"] == reviews["specialty"].iloc[0]]
    yield "one month", reviews[reviews["death_month"] == month]
    yield "a few rows", reviews.head(4)
    yield "none", reviews.iloc[:0]


def same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, want)
    for column in want.columns:  # the very values: Python ints, NaN where withheld
        assert [type(v) for v in got[column]] == [type(v) for v in want[column]], column


@pytest.mark.parametrize("stage", ["first", "second"])
def test_care_score_distribution_as_protect_distribution_gives_it(small_data, stage):
    rule = DisclosureRule.off()
    for what, part in parts(small_data.reviews):
        table = descriptive.care_score_distribution(part.reset_index(drop=True), stage=stage)
        same(chart_distribution(table, rule, group="phase"),
             tables.protect_distribution(table, rule, group="phase"))
        assert what


def test_avoidability_and_a_zero_total_as_protect_distribution_gives_them(small_data):
    rule = DisclosureRule.off()
    for _, part in parts(small_data.reviews):
        table = descriptive.avoidability_distribution(part.reset_index(drop=True))
        kwargs = {"group": None, "total": "n_scored", "also": ("n_cases",)}
        same(chart_distribution(table, rule, **kwargs),
             tables.protect_distribution(table, rule, **kwargs))
    table = descriptive.care_score_distribution(small_data.reviews, stage="first")
    table.loc[table["phase"] == table["phase"].iloc[0], ["count", "n_applicable"]] = 0
    same(chart_distribution(table, rule, group="phase"),
         tables.protect_distribution(table, rule, group="phase"))
    assert chart_distribution(table, rule, group="phase")["percent"].isna().sum() >= 5


def test_an_active_rule_goes_through_protect_distribution(small_data):
    rule = DisclosureRule(threshold=5, rounding=5)
    table = descriptive.care_score_distribution(small_data.reviews.head(60), stage="first")
    same(chart_distribution(table, rule, group="phase"),
         tables.protect_distribution(table, rule, group="phase"))
