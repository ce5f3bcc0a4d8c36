"""Under exact counts (``DisclosureRule.off()``, the exploration page's charts)
``tables.protect_distribution`` skips protecting each group's cells one at a time: it must give
exactly the frame the group-by-group path (``tables._protect_each_group``) gives, on the
synthetic reviews and on narrow selections (one specialty, one month, none at all)."""

from __future__ import annotations

import pandas as pd
import pytest

from sjrlib.disclosure import DisclosureRule
from sjrlib.report import tables
from sjrlib.stats import descriptive


def each_group(table: pd.DataFrame, rule: DisclosureRule, *, group, total="n_applicable",
               also=("n_reviews",)) -> pd.DataFrame:
    return tables._protect_each_group(table, rule, group=group, count="count", total=total,
                                      also=also, percent="percent")


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
        same(tables.protect_distribution(table, rule, group="phase"),
             each_group(table, rule, group="phase"))
        assert what


def test_avoidability_and_a_zero_total_as_protect_distribution_gives_them(small_data):
    rule = DisclosureRule.off()
    for _, part in parts(small_data.reviews):
        table = descriptive.avoidability_distribution(part.reset_index(drop=True))
        kwargs = {"group": None, "total": "n_scored", "also": ("n_cases",)}
        same(tables.protect_distribution(table, rule, **kwargs),
             each_group(table, rule, **kwargs))
    table = descriptive.care_score_distribution(small_data.reviews, stage="first")
    table.loc[table["phase"] == table["phase"].iloc[0], ["count", "n_applicable"]] = 0
    same(tables.protect_distribution(table, rule, group="phase"),
         each_group(table, rule, group="phase"))
    assert tables.protect_distribution(table, rule, group="phase")["percent"].isna().sum() >= 5


def test_an_active_rule_goes_through_protect_distribution(small_data):
    rule = DisclosureRule(threshold=5, rounding=5)
    table = descriptive.care_score_distribution(small_data.reviews.head(60), stage="first")
    same(tables.protect_distribution(table, rule, group="phase"),
         each_group(table, rule, group="phase"))
