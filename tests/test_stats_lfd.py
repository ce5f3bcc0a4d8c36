"""sjrlib.stats.lfd: invariants of the Learning from Deaths figures."""

from __future__ import annotations

import numpy as np
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
    # a period in which an organisation's feed lacks a month has no known deaths for it (the
    # national figure sees only months missing for everyone): compared where none is lacking
    gaps = set(by_org.loc[by_org["feed_missing_months"].notna(), "period"].dropna())
    by_org = by_org[~by_org["period"].isin(gaps)]
    national = national[~national["period"].isin(gaps)]
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


# ---------------------------------------------------------------------------- fast path
def _lfd_pandas(reviews, deaths, period, by_organisation, as_of):
    """The first implementation (feed grouped and merged in pandas), kept as the reference
    for the numpy assembly of the table in ``lfd._learning_from_deaths``."""
    import numpy as np

    from sjrlib.stats._reviews import ReviewIndex
    from sjrlib.stats.lfd import _COUNT_COLUMNS, _case_cells, _period_of

    index = ReviewIndex(reviews)
    month_enc = index.strings("death_month")
    if as_of is None:
        known = [m for m in month_enc.labels if m is not None]
        feed_months = deaths["month"].dropna().astype(str)
        if len(feed_months):
            known.append(str(feed_months.max()))
        as_of = max(known)
    cells = _case_cells(index)
    period_labels = _period_of(month_enc.labels, period, as_of)
    uniq_periods = sorted({p for p in period_labels if p is not None})
    n_periods = len(uniq_periods) + 1
    to_period = np.zeros((len(month_enc.labels), n_periods), dtype=np.int64)
    for m, (month, label) in enumerate(zip(month_enc.labels, period_labels, strict=True)):
        if month is None:
            to_period[m, -1] = 1
        elif label is not None:
            to_period[m, uniq_periods.index(label)] = 1
    table = np.einsum("omla,mp->opla", cells, to_period)
    if by_organisation:
        org_labels = list(index.strings("organisation_code").labels)
    else:
        org_labels = [None]
        table = table.sum(axis=0, keepdims=True)
    table = table.reshape(len(org_labels) * n_periods, 2, -1)
    mltn = list(domain.MORE_LIKELY_THAN_NOT)
    everyone = table.sum(axis=1)
    counts = {
        "reviewed": everyone.sum(axis=1),
        "more_likely_than_not": everyone[:, mltn].sum(axis=1),
        "ld_reviewed": table[:, 1, :].sum(axis=1),
        "ld_more_likely_than_not": table[:, 1, mltn].sum(axis=1),
    }
    for s in domain.AVOIDABILITY_SCORES:
        counts[f"avoidability_{s}"] = everyone[:, s]
    counts["avoidability_not_scored"] = everyone[:, 0]
    case_table = pd.DataFrame({
        "organisation_code": np.repeat(np.array(org_labels, dtype=object), n_periods),
        "period": np.tile(np.array([*uniq_periods, None], dtype=object), len(org_labels)),
        **counts,
    })
    case_table = case_table[case_table["reviewed"] > 0]
    feed = deaths.loc[deaths["month"].notna(), list(domain.DEATH_COLUMNS)]
    feed_months = feed["month"].astype(str)
    unique_months = list(pd.unique(feed_months))
    month_period = dict(zip(unique_months, _period_of(unique_months, period, as_of),
                            strict=True))
    feed = feed.assign(period=feed_months.map(month_period).astype(object))
    feed = feed[feed["period"].notna()]
    if not by_organisation:
        feed = feed.assign(organisation_code=None)
    feed_table = (
        feed.groupby(["organisation_code", "period"], dropna=False, sort=False)
        [["deaths_in_scope", "learning_disability_deaths"]]
        .sum(min_count=1).reset_index()
        .rename(columns={"learning_disability_deaths": "ld_deaths"})
    )
    feed_table["organisation_code"] = feed_table["organisation_code"].astype(object)
    feed_table["period"] = feed_table["period"].astype(object)
    table = feed_table.merge(case_table, on=["organisation_code", "period"], how="outer")
    for column in _COUNT_COLUMNS:
        table[column] = table[column].fillna(0).astype(np.int64)
    table["deaths_in_scope"] = table["deaths_in_scope"].astype("Int64")
    table["ld_deaths"] = table["ld_deaths"].astype("Int64")

    def percent(count, total):
        total = total.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
        count = count.to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, 100.0 * count / np.where(total > 0, total, 1), np.nan)

    table["percent_reviewed"] = percent(table["reviewed"], table["deaths_in_scope"])
    table["ld_percent_reviewed"] = percent(table["ld_reviewed"], table["ld_deaths"])
    table = table.sort_values(["organisation_code", "period"], na_position="last",
                              kind="mergesort").reset_index(drop=True)
    columns = [
        "organisation_code", "period", "deaths_in_scope", "reviewed", "percent_reviewed",
        "more_likely_than_not", "ld_deaths", "ld_reviewed", "ld_percent_reviewed",
        "ld_more_likely_than_not", *(f"avoidability_{s}" for s in domain.AVOIDABILITY_SCORES),
        "avoidability_not_scored",
    ]
    if not by_organisation:
        columns.remove("organisation_code")
    table = table[columns]
    for column in ("organisation_code", "period"):
        if column in table:
            table[column] = table[column].astype("string")
    return table


def _compare_with_pandas(reviews, deaths, as_of=None):
    for period in LFD_PERIODS:
        for by_organisation in (True, False):
            fast = learning_from_deaths(reviews, deaths, period=period,
                                        by_organisation=by_organisation, as_of=as_of)
            slow = _lfd_pandas(reviews, deaths, period, by_organisation, as_of)
            # the reference knows nothing of feed gaps and impossible percentages: those rows
            # are checked by the hand-written tests below, the rest must be equal
            gap = fast["feed_missing_months"].notna().to_numpy()
            slow.loc[gap, ["deaths_in_scope", "ld_deaths"]] = pd.NA
            slow.loc[gap, ["percent_reviewed", "ld_percent_reviewed"]] = np.nan
            slow.loc[fast["reviews_exceed_deaths"].to_numpy(), "percent_reviewed"] = np.nan
            slow.loc[fast["ld_reviews_exceed_deaths"].to_numpy(), "ld_percent_reviewed"] = np.nan
            pd.testing.assert_frame_equal(fast[list(slow.columns)], slow, check_exact=True)


@SETTINGS
@given(review_frames(), st.data())
def test_numpy_table_equals_the_pandas_merge(reviews, data):
    # Organisations only in the feed or only in the reviews, missing feed values, cases
    # without a month of death, and an as_of that cuts months off.
    deaths = data.draw(deaths_frames())
    dropped = data.draw(st.sampled_from(["XAB", "S08999001", None]))
    deaths = deaths[deaths["organisation_code"] != dropped].reset_index(drop=True)
    gaps = data.draw(st.lists(st.integers(0, max(len(deaths) - 1, 0)), max_size=6))
    if len(deaths):
        deaths.loc[gaps, "deaths_in_scope"] = pd.NA
        deaths.loc[gaps[::2], "learning_disability_deaths"] = pd.NA
    if data.draw(st.booleans()):
        reviews = reviews.copy()
        reviews.loc[reviews.index[1::5], "death_month"] = pd.NA  # row 0 keeps a month
    as_of = data.draw(st.sampled_from([None, "2022-09", "2023-03"]))
    _compare_with_pandas(reviews, deaths, as_of)


def test_numpy_table_equals_the_pandas_merge_on_synthetic_data():
    from sjrlib.synthetic import generate

    data = generate(n_organisations=6, years=2, seed=11)
    deaths = data.deaths[data.deaths["organisation_code"] != data.deaths[
        "organisation_code"].iloc[0]]  # one organisation with reviews but no feed
    _compare_with_pandas(data.reviews, deaths)
    _compare_with_pandas(data.reviews, data.deaths, as_of="2022-08")


# ------------------------------------------------------------------ feed and edge cases
def _feed(rows):
    return pd.DataFrame(rows, columns=list(domain.DEATH_COLUMNS)).astype(domain.DEATH_DTYPES)


def test_a_quarter_missing_a_month_of_the_feed_has_no_known_deaths():
    # April and June 2024 in the feed, May missing: not 200 deaths (the other two months)
    deaths = _feed([("XAA", "2024-04", 100, 2), ("XAA", "2024-06", 100, 1),
                    ("XAA", "2024-07", 90, 0), ("XAA", "2024-08", 80, 0),
                    ("XAA", "2024-09", 70, 0)])
    reviews = make_reviews([dict(death_month="2024-04")] * 3)
    table = learning_from_deaths(reviews, deaths, period="quarter", as_of="2024-09")
    q1 = table.set_index("period").loc["2024/25 Q1"]
    q2 = table.set_index("period").loc["2024/25 Q2"]
    assert q1["deaths_in_scope"] is pd.NA and q1["ld_deaths"] is pd.NA
    assert q1["feed_missing_months"] == "2024-05"
    assert np.isnan(q1["percent_reviewed"])
    assert q1["reviewed"] == 3
    assert q2["deaths_in_scope"] == 240 and q2["feed_missing_months"] is pd.NA
    year = learning_from_deaths(reviews, deaths, period="financial_year", as_of="2024-09")
    assert year["feed_missing_months"].tolist() == ["2024-05"]  # up to as_of only


def test_more_reviews_than_deaths_is_flagged_not_a_percentage():
    deaths = _feed([("XAA", "2024-04", 1, 0), ("XAA", "2024-05", 0, 0), ("XAA", "2024-06", 0, 0)])
    reviews = make_reviews([dict(death_month="2024-04", case_id=f"C{i}") for i in range(3)])
    table = learning_from_deaths(reviews, deaths, period="quarter", as_of="2024-06")
    row = table.iloc[0]
    assert row["reviewed"] == 3 and row["deaths_in_scope"] == 1
    assert bool(row["reviews_exceed_deaths"]) and np.isnan(row["percent_reviewed"])


@pytest.mark.parametrize("by_organisation", [True, False])
@pytest.mark.parametrize("period", LFD_PERIODS)
def test_empty_frames_with_as_of(by_organisation, period):
    reviews = pd.DataFrame(columns=list(domain.REVIEW_COLUMNS)).astype(domain.REVIEW_DTYPES)
    table = learning_from_deaths(reviews, _feed([]), period=period, as_of="2024-06",
                                 by_organisation=by_organisation)
    assert table.empty
    assert "reviewed" in table.columns and "feed_missing_months" in table.columns
