"""sjrlib.stats.lfd: invariants of the Learning from Deaths figures."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import deaths_frames, make_reviews, review_frames

from sjrlib import domain
from sjrlib.stats._reviews import financial_quarter, financial_year
from sjrlib.stats.lfd import LFD_PERIODS, learning_from_deaths

SETTINGS = settings(max_examples=15, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
COUNTS = ["reviewed", "more_likely_than_not", "ld_reviewed", "ld_more_likely_than_not",
          *(f"avoidability_{s}" for s in domain.AVOIDABILITY_SCORES),
          "avoidability_not_scored"]


@SETTINGS
@given(review_frames(), st.data(), st.sampled_from(LFD_PERIODS))
def test_organisations_add_up_to_national(reviews, data, period):
    deaths = data.draw(deaths_frames())
    by_org = learning_from_deaths(reviews, deaths, period=period)
    national = learning_from_deaths(reviews, deaths, period=period, by_organisation=False)
    summed = by_org.groupby("period", dropna=False)[COUNTS].sum()
    nat = national.set_index("period")[COUNTS]
    pd.testing.assert_frame_equal(summed.sort_index(), nat.sort_index(), check_dtype=False,
                                  check_names=False)
    deaths_sum = by_org.groupby("period")[["deaths_in_scope", "ld_deaths"]].sum(min_count=1)
    nat_deaths = national.set_index("period")[["deaths_in_scope", "ld_deaths"]]
    assert deaths_sum.fillna(0).astype(int).to_dict() == nat_deaths.dropna().astype(int).reindex(
        deaths_sum.index).fillna(0).astype(int).to_dict()
    # Avoidability columns partition the reviewed cases.
    parts = by_org[[c for c in COUNTS if c.startswith("avoidability_")]].sum(axis=1)
    assert (parts == by_org["reviewed"]).all()
    assert (by_org["more_likely_than_not"] <= by_org["reviewed"]).all()
    assert (by_org["ld_reviewed"] <= by_org["reviewed"]).all()


@SETTINGS
@given(review_frames(), st.data())
def test_reviewed_counts_distinct_cases(reviews, data):
    deaths = data.draw(deaths_frames())
    national = learning_from_deaths(reviews, deaths, period="financial_year",
                                    by_organisation=False)
    counted = reviews[reviews["status"] != "draft"]
    distinct = counted.drop_duplicates(["organisation_code", "case_id"])
    assert national["reviewed"].sum() == len(distinct)


def test_financial_periods():
    assert financial_year("2024-03") == "2023/24"
    assert financial_year("2024-04") == "2024/25"
    assert financial_year("1999-12") == "1999/00"
    assert [financial_quarter(f"2024-{m:02d}") for m in (4, 6, 7, 9, 10, 12)] == [
        "2024/25 Q1", "2024/25 Q1", "2024/25 Q2", "2024/25 Q2", "2024/25 Q3", "2024/25 Q3"]
    assert [financial_quarter(f"2025-{m:02d}") for m in (1, 3)] == ["2024/25 Q4"] * 2


def test_year_to_date_defaults_to_latest_month():
    reviews = make_reviews([dict(death_month="2024-05"), dict(death_month="2024-03")])
    deaths = pd.DataFrame([("XAA", "2024-06", 10, 0)], columns=list(domain.DEATH_COLUMNS)
                          ).astype(domain.DEATH_DTYPES)
    table = learning_from_deaths(reviews, deaths, period="year_to_date")
    assert table["period"].tolist() == ["2024/25 to 2024-06"]
    assert table["reviewed"].tolist() == [1]


def test_bad_input_is_explained():
    reviews = make_reviews([{}])
    deaths = pd.DataFrame(columns=list(domain.DEATH_COLUMNS)).astype(domain.DEATH_DTYPES)
    with pytest.raises(ValueError, match="unknown period"):
        learning_from_deaths(reviews, deaths, period="week")
    with pytest.raises(ValueError, match="lacks column"):
        learning_from_deaths(reviews, deaths.drop(columns=["deaths_in_scope"]))
    with pytest.raises(ValueError, match="YYYY-MM"):
        learning_from_deaths(reviews, deaths, as_of="2024-13")
