"""Missing values in an XmR chart, as NHSRplotthedots handles NA in ``y``.

The source followed is nhs-r-community/NHSRplotthedots 0.2.2 (commit 050b07d):
``R/ptd_spc_standard.R`` (``mean(fix_y, na.rm = TRUE)``, ``mr = c(NA, abs(diff(fix_y)))``,
``mean(mr, na.rm = TRUE)``, ``fix_y`` by ``row_number()``), ``R/ptd_calculate_point_type.R`` (the
run rules, on vectors with NA) and ``R/ptd_add_short_group_warnings.R`` (``n()``). Its own tests
(``tests/testthat/``) have no case with NA in the value field (NA appears there only in the
target and trajectory columns), so the expectations below are worked by hand, in the comments;
each marked "R:" was also checked by running those R files (ptd_spc on a data frame of monthly
dates) under R 4.2.2 and dplyr 1.0.10 (its ``case_when(.default = x)`` written ``TRUE ~ x``), and
the figures printed there are the ones asserted.

Every test here fails on the code before 2026-12-08, which refused any missing value.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sjrlib.spc import LIMIT, NEAR_LIMIT, assurance, p_chart, variation, xmr

CC = "Common Cause"
NAN = float("nan")


def labels(frame: pd.DataFrame) -> list[str]:
    return frame["special_cause_type"].tolist()


def test_mean_and_moving_ranges_leave_the_missing_value_out_and_do_not_bridge_it():
    # y = 5, 7, NA, 6, 9, 4
    # mean of the five values = (5 + 7 + 6 + 9 + 4) / 5 = 31 / 5 = 6.2
    # moving ranges: |7-5| = 2, |NA-7| = NA, |6-NA| = NA, |9-6| = 3, |4-9| = 5
    #   -> amr = (2 + 3 + 5) / 3 = 10/3; screening: 3.267 x 10/3 = 10.89, nothing screened.
    #   (a range bridging the gap, |6-7| = 1, would give amr = 11/4 = 2.75 instead)
    # lpl = 6.2 - 2.66 x 10/3 = 6.2 - 8.8667 = -2.6667; upl = 15.0667
    # near: 2 x 2.66 / 3 x 10/3 = 5.9111 -> nlpl 0.2889, nupl 12.1111
    # R: mean_col 6.2000000000000002, lpl -2.666666666666667, upl 15.066666666666666
    f = xmr([5, 7, NAN, 6, 9, 4])
    assert len(f) == 6 and math.isnan(f["value"].iloc[2])
    assert f["mean"].tolist() == [6.2] * 6
    assert f["lpl"].iloc[0] == -2.666666666666667
    assert f["upl"].iloc[0] == 15.066666666666666
    assert f["nlpl"].iloc[0] == pytest.approx(6.2 - NEAR_LIMIT * 10 / 3)
    assert f["nupl"].iloc[0] == pytest.approx(6.2 + NEAR_LIMIT * 10 / 3)
    # the missing row has its group's limits, and is common cause on no side of the mean
    # (R: NA in outside_limits, relative_to_mean and close_to_limits; kept False / 0 here)
    row = f.iloc[2]
    assert row["upl"] == 15.066666666666666
    assert row["special_cause_type"] == CC and row["point_type"] == "common_cause"
    assert not row["special_cause_flag"] and not row["outside_limits"]
    assert not row["close_to_limits"] and row["relative_to_mean"] == 0
    assert labels(f) == [CC] * 6
    assert f["relative_to_mean"].tolist() == [-1, 1, 0, -1, 1, -1]


def test_a_missing_first_value_and_none_are_missing_too():
    # y = NA, 5, 7, 6: mean 18/3 = 6; moving ranges NA, NA, 2, 1 -> amr 1.5
    # lpl = 6 - 2.66 x 1.5 = 2.01; upl = 9.99 (R: 2.0099999999999998, 9.9900000000000002)
    f = xmr([None, 5, 7, 6])
    assert math.isnan(f["value"].iloc[0])
    assert f["mean"].iloc[0] == 6.0
    assert f["lpl"].iloc[0] == 6 - LIMIT * 1.5 == 2.0099999999999998
    assert f["upl"].iloc[0] == 9.99
    assert labels(f) == [CC] * 4


def test_a_series_keeps_its_index_and_the_missing_month():
    months = pd.period_range("2025-01", periods=6, freq="M")
    f = xmr(pd.Series([5, 7, np.nan, 6, 9, 4], index=months))
    assert f.index.equals(months)
    assert math.isnan(f.loc[pd.Period("2025-03", "M"), "value"])
    assert f.loc[pd.Period("2025-03", "M"), "mean"] == 6.2


def test_a_missing_value_breaks_a_run_of_seven_on_one_side():
    # y = 0,2,0,2,0,2, 3,4,3,4, NA, 3,4,3, 0,2,0,2,0,2 (20 rows, 19 values)
    # mean = (6 + 24 + 6) / 19 = 36/19 = 1.8947: the 2s, 3s and 4s lie above it, the 0s below.
    # moving ranges: five 2s, |3-2| = 1, three 1s, NA, NA, two 1s, |0-3| = 3, five 2s
    #   -> 17 ranges summing 10 + 1 + 3 + 2 + 3 + 10 = 29: amr = 29/17 = 1.7059
    #   (screening at 3.267 x 1.7059 = 5.573 drops nothing)
    # upl = 36/19 + 2.66 x 29/17 = 1.8947 + 4.5376 = 6.4323; nupl = 1.8947 + 3.0251 = 4.9198;
    # lpl = -2.6429; nlpl = -1.1304: no point is outside or close to the limits.
    # Above the mean by position: rows 5-9 (2,3,4,3,4), the NA at row 10, rows 11-13 (3,4,3).
    # That is 8 values above the mean with nothing between them but the missing month; the NA
    # breaks the run (no window of 7 holding it fires), so no "7 Points Above CL" anywhere.
    y = [0, 2] * 3 + [3, 4, 3, 4, NAN, 3, 4, 3] + [0, 2] * 3
    f = xmr(y)
    assert f["mean"].iloc[0] == pytest.approx(36 / 19)
    assert f["upl"].iloc[0] == pytest.approx(36 / 19 + LIMIT * 29 / 17)
    assert labels(f) == [CC] * 20
    # the same 19 values without the missing month: a run of 8 above the mean (rows 5-12)
    g = xmr([v for v in y if not math.isnan(v)])
    assert labels(g)[5:13] == ["7 Points Above CL"] * 8


def test_a_missing_value_breaks_a_two_in_three_window():
    # y = 4,6 x 6, 10, NA, 10, 5 (16 rows, 15 values)
    # mean = (60 + 25) / 15 = 17/3 = 5.6667
    # moving ranges: eleven 2s, |10-6| = 4, NA, NA, |5-10| = 5 -> amr = 31/13 = 2.3846
    #   (screening at 7.79 drops nothing)
    # nupl = 17/3 + 1.7733 x 31/13 = 9.8954; upl = 17/3 + 2.66 x 31/13 = 12.0097
    # Both 10s are close to the limits (9.8954 < 10 < 12.0097), but every window of 3 that holds
    # both also holds the NA (R: its sum is NA, the window does not fire): common cause.
    f = xmr([4, 6] * 6 + [10, NAN, 10, 5])
    assert f["nupl"].iloc[0] == pytest.approx(17 / 3 + NEAR_LIMIT * 31 / 13)
    assert f["close_to_limits"].tolist()[12:] == [True, False, True, False]
    assert labels(f) == [CC] * 16
    # without the missing month the two 10s are next to each other and do fire
    assert labels(xmr([4, 6] * 6 + [10, 10, 5]))[12:] == ["2 in 3 Above CL"] * 2 + [CC]


def test_where_nhsrplotthedots_stops_xmr_refuses():
    # ptd_seven_point_trend evaluates if (all(d == 1)) on the 6 step signs of each window of 7;
    # 1, 2, 3, NA, 5, 6, 7 has steps +1, +1, NA, NA, +1, +1: all() is NA and R stops with
    # "missing value where TRUE/FALSE needed" (R: error in group 1, at the first window).
    with pytest.raises(ValueError, match="the 7 points ending at 6 include a missing value"):
        xmr([1, 2, 3, NAN, 5, 6, 7, 8])
    with pytest.raises(ValueError, match="ptd_seven_point_trend"):
        xmr([9, 8, 7, 6, NAN, 4, 3])                 # all other steps fall
    with pytest.raises(ValueError, match="ending at 6"):
        xmr([NAN] * 7)                               # no step at all: all(NA) is NA
    # A window whose other steps rise and fall is classified (R: no error, all common cause):
    # y = 1,3,2,4,NA,5,3,6,4: mean 28/8 = 3.5; ranges 2,1,2,NA,NA,2,3,2 -> amr 12/6 = 2
    # lpl = 3.5 - 5.32 = -1.82, upl = 8.82 (R: -1.8200000000000003, 8.8200000000000003)
    f = xmr([1, 3, 2, 4, NAN, 5, 3, 6, 4])
    assert f["lpl"].iloc[0] == 3.5 - LIMIT * 2 and f["upl"].iloc[0] == 8.82
    assert labels(f) == [CC] * 9
    # fewer than 7 points: no window, no error
    assert labels(xmr([1, 2, NAN, 4, 5, 6])) == [CC] * 6


def test_a_group_with_no_value_has_no_mean_and_no_limits():
    # R: mean(numeric(0)) is NaN; every moving range NA, amr NaN; all common cause.
    f = xmr([NAN, NAN, NAN])
    assert f["mean"].isna().all() and f["upl"].isna().all()
    assert labels(f) == [CC] * 3 and f["relative_to_mean"].tolist() == [0, 0, 0]


def test_fix_after_n_points_counts_the_missing_row():
    # fix_y = ifelse(row_number() <= 12, y, NA): the first 12 *rows*, one of them missing.
    # rows 0-11: 4,6,4,NA,6,4,6,4,6,4,6,4 -> values 4 x 6 and 6 x 5: mean 54/11 = 4.9091
    #   (the first 12 values would take in row 12's 5: 59/12 = 4.9167)
    # moving ranges in those rows: 2, 2, NA, NA, then seven 2s -> amr 2; limits 54/11 -/+ 5.32
    y = [4, 6, 4, NAN, 6, 4, 6, 4, 6, 4, 6, 4, 5, 5]
    f = xmr(y, fix_after_n_points=12)
    assert f["mean"].iloc[0] == 54 / 11
    assert f["upl"].iloc[0] == pytest.approx(54 / 11 + LIMIT * 2)
    assert f["lpl"].iloc[-1] == pytest.approx(54 / 11 - LIMIT * 2)


def test_the_missing_row_counts_in_the_group_size():
    # short_group_warning is n() < threshold: rows, missing ones included. 13 rows with one
    # missing is not short (R's threshold of 13: 12 points or fewer are); the same 12 values
    # alone are.
    y = [4, 6, 4, NAN, 6, 4, 6, 4, 6, 4, 6, 4, 6]
    assert not xmr(y)["short_group_warning"].any()
    assert xmr([v for v in y if not math.isnan(v)])["short_group_warning"].all()


def test_a_rebase_at_a_missing_value_starts_its_group_there():
    # y = 1, 2, 3 | NA, 10, 12, 11 (rebase at row 3)
    # group 0: mean 2, ranges 1, 1 -> amr 1: limits 2 -/+ 2.66
    # group 1: mean 33/3 = 11, ranges NA, 2, 1 -> amr 1.5: limits 11 -/+ 3.99
    f = xmr([1, 2, 3, NAN, 10, 12, 11], rebase=[3])
    assert f["rebase_group"].tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert f["mean"].tolist() == [2.0] * 3 + [11.0] * 4
    assert f["upl"].iloc[3] == pytest.approx(11 + LIMIT * 1.5)
    assert f["upl"].iloc[0] == pytest.approx(2 + LIMIT)


def test_a_chart_ending_in_a_missing_month():
    # y = 4,6 x 6, 20, NA: mean (60 + 20) / 13 = 80/13 = 6.1538
    # ranges: eleven 2s, |20-6| = 14, NA -> amr 36/12 = 3; 14 >= 3.267 x 3 = 9.801 is screened:
    # amr = 2, upl = 80/13 + 5.32 = 11.4738. 20 is above the UCL.
    # The variation icon is the point type of the last row (ptd_get_icons: x == max(x)), the
    # missing month: common cause. The assurance uses the last row's limits (slice_tail): the
    # group's; target 25 > upl with improvement an increase -> consistent_fail.
    f = xmr([4, 6] * 6 + [20, NAN], target=25)
    assert f["upl"].iloc[-1] == pytest.approx(80 / 13 + LIMIT * 2)
    assert f["special_cause_type"].iloc[12] == "Above UCL"
    assert variation(f) == "common_cause"
    assert assurance(f) == "consistent_fail"


def test_infinite_values_are_refused():
    # R takes Inf into the mean (Inf) and flags every other point "Below LCL": no chart.
    with pytest.raises(ValueError, match="has infinite values at 1; an SPC chart needs finite"):
        xmr([1, float("inf"), 2])
    with pytest.raises(ValueError, match="has infinite values at 0"):
        xmr([-np.inf, 1, 2])


def test_p_chart_still_refuses_missing_counts():
    # NHSRplotthedots has no p-chart, so no NA rule to follow: the gap is refused as before.
    with pytest.raises(ValueError, match="numerators has missing values at 1"):
        p_chart([1, NAN, 2], [10, 10, 10])
    with pytest.raises(ValueError, match="denominators has missing values at 2"):
        p_chart([1, 1, 2], [10, 10, None])
