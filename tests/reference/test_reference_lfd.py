"""Hand-derived Learning from Deaths figures (see README.md and hand_frames.py).

Reviewed cases (drafts out), with the month of death, avoidability and learning disability:
XAA C1 2023-12, avoidability 3 (second stage V2), LD yes (recorded by V1, the second reviewer);
XAA C2 2024-03, avoidability 2 (first stage), LD yes; XAB C1 2024-04, avoidability 6, LD no;
XAB C4 2024-05, not scored, LD yes. XAA C3 (draft only, 2023-12) is not reviewed.
Deaths feed: XAA 2023-12 40 (LD 1), 2024-01 35 (0), 2024-03 30 (2); XAB 2024-04 50 (1),
2024-05 20 (0); XAC 2024-04 10 (0); and 0 (0) for the other months of those quarters
(XAA 2023-10, 2023-11, 2024-02; XAB 2024-06; XAC 2024-05, 2024-06), so every quarter's feed is
complete.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hand_frames import hand_deaths, hand_reviews

from sjrlib.stats.lfd import learning_from_deaths


def _row(table, **keys):
    mask = np.ones(len(table), dtype=bool)
    for column, value in keys.items():
        mask &= (table[column] == value).to_numpy(dtype=bool, na_value=False)
    assert mask.sum() == 1, keys
    return table[mask].iloc[0]


def test_quarters_by_organisation():
    table = learning_from_deaths(hand_reviews(), hand_deaths(), period="quarter")
    assert list(zip(table["organisation_code"], table["period"], strict=True)) == [
        ("XAA", "2023/24 Q3"), ("XAA", "2023/24 Q4"), ("XAB", "2024/25 Q1"),
        ("XAC", "2024/25 Q1")]
    q3 = _row(table, organisation_code="XAA", period="2023/24 Q3")
    # Oct-Dec 2023: 40 deaths, 1 reviewed (C1; its three reviews count once), 3 -> MLTN.
    assert (q3["deaths_in_scope"], q3["reviewed"], q3["more_likely_than_not"]) == (40, 1, 1)
    assert q3["percent_reviewed"] == pytest.approx(2.5)
    assert (q3["ld_deaths"], q3["ld_reviewed"], q3["ld_more_likely_than_not"]) == (1, 1, 1)
    assert q3["avoidability_3"] == 1 and q3["avoidability_not_scored"] == 0
    q4 = _row(table, organisation_code="XAA", period="2023/24 Q4")
    # Jan-Mar 2024: 35 + 30 = 65 deaths (March is Q4 of 2023/24), C2 reviewed, avoidability 2.
    assert (q4["deaths_in_scope"], q4["reviewed"], q4["more_likely_than_not"]) == (65, 1, 1)
    assert q4["percent_reviewed"] == pytest.approx(100 / 65)
    assert (q4["ld_deaths"], q4["ld_reviewed"], q4["ld_percent_reviewed"]) == (2, 1, 50.0)
    xab = _row(table, organisation_code="XAB", period="2024/25 Q1")
    # April-June 2024: 50 + 20 = 70 deaths; C1 (6) and C4 (not scored) reviewed; none MLTN.
    assert (xab["deaths_in_scope"], xab["reviewed"], xab["more_likely_than_not"]) == (70, 2, 0)
    assert (xab["avoidability_6"], xab["avoidability_not_scored"]) == (1, 1)
    assert (xab["ld_deaths"], xab["ld_reviewed"], xab["ld_percent_reviewed"]) == (1, 1, 100.0)
    xac = _row(table, organisation_code="XAC", period="2024/25 Q1")
    # A feed without reviews: 10 deaths, none reviewed (0 %, not missing); no LD deaths.
    assert (xac["deaths_in_scope"], xac["reviewed"], xac["percent_reviewed"]) == (10, 0, 0.0)
    assert np.isnan(xac["ld_percent_reviewed"])


def test_months_and_financial_years():
    monthly = learning_from_deaths(hand_reviews(), hand_deaths(), period="month")
    jan = _row(monthly, organisation_code="XAA", period="2024-01")
    assert (jan["deaths_in_scope"], jan["reviewed"]) == (35, 0)
    yearly = learning_from_deaths(hand_reviews(), hand_deaths(), period="financial_year")
    fy = _row(yearly, organisation_code="XAA", period="2023/24")
    # XAA's feed starts in October 2023: April-September of 2023/24 are not in it, so the
    # year's deaths are not known (not the 105 of the months there are); reviews still count.
    assert fy["deaths_in_scope"] is pd.NA and fy["ld_deaths"] is pd.NA
    assert fy["feed_missing_months"] == ", ".join(f"2023-{m:02d}" for m in range(4, 10))
    assert (fy["reviewed"], fy["more_likely_than_not"]) == (2, 2)
    assert (fy["ld_reviewed"], fy["ld_more_likely_than_not"]) == (2, 2)
    # 2024/25 so far (April-June): the months after the feed's last are not yet due.
    xab = _row(yearly, organisation_code="XAB", period="2024/25")
    assert (xab["deaths_in_scope"], xab["reviewed"], xab["ld_deaths"]) == (70, 2, 1)


def test_national_and_year_to_date():
    national = learning_from_deaths(hand_reviews(), hand_deaths(), period="quarter",
                                    by_organisation=False)
    assert "organisation_code" not in national.columns
    q1 = _row(national, period="2024/25 Q1")
    assert (q1["deaths_in_scope"], q1["reviewed"]) == (80, 2)
    ytd = learning_from_deaths(hand_reviews(), hand_deaths(), period="year_to_date",
                               as_of="2024-04", by_organisation=False)
    # 2024/25 to April: XAB 50 + XAC 10 deaths; only XAB C1 (April) reviewed, C4 is May.
    assert ytd["period"].tolist() == ["2024/25 to 2024-04"]
    assert (ytd["deaths_in_scope"].iloc[0], ytd["reviewed"].iloc[0]) == (60, 1)


def test_missing_feed_is_missing_not_zero():
    deaths = hand_deaths()
    deaths = deaths[deaths["month"] != "2023-12"]
    table = learning_from_deaths(hand_reviews(), deaths, period="quarter")
    q3 = _row(table, organisation_code="XAA", period="2023/24 Q3")
    assert q3["reviewed"] == 1 and q3["deaths_in_scope"] is pd.NA
    assert np.isnan(q3["percent_reviewed"])
    assert q3["feed_missing_months"] == "2023-12"  # the month is named, not summed around


def test_drafts_on_request():
    table = learning_from_deaths(hand_reviews(), hand_deaths(), period="quarter",
                                 include_drafts=True)
    assert _row(table, organisation_code="XAA", period="2023/24 Q3")["reviewed"] == 2
