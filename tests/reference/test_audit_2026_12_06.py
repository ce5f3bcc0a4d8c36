"""Held-out acceptance audit of 2026-12-06: hand-written cases for sjrlib.spc and sjrlib.stats.

No input comes from the synthetic generator or from another test. Each expected number says
where it came from: a hand derivation from the NHSRplotthedots rules (R sources of
nhs-r-community/NHSRplotthedots 0.2.x, ``R/ptd_spc_standard.R``,
``R/ptd_calculate_point_type.R``, ``R/ptd_calculate_assurance_type.R``), or a direct call of
scipy / statsmodels / scikit-learn / krippendorff written beside it.

Positions in comments are 1-based, as in the R code.
"""

from __future__ import annotations

import pandas as pd
import pytest

from sjrlib.spc import xmr

CC = "Common Cause"


def labels(frame: pd.DataFrame) -> list[str]:
    return frame["special_cause_type"].tolist()


# --- the mean is R's mean (ptd_spc_standard: mean_col = mean(fix_y)) --------------------------


def test_the_mean_of_decimals_is_exact_as_in_r():
    # mean(c(0.1, 0.2, 0.3)) is exactly 0.2 in R (long double accumulation plus a corrective
    # pass; R's summary.c); numpy's float64 mean gives 0.20000000000000004. So in
    # NHSRplotthedots point 2 is *on* the mean: relative_to_mean = sign(0.2 - 0.2) = 0.
    # The old code gave mean 0.20000000000000004 and relative_to_mean -1.
    f = xmr([0.1, 0.2, 0.3])
    assert f["mean"].tolist() == [0.2, 0.2, 0.2]
    assert f["relative_to_mean"].tolist() == [-1, 0, 1]


def test_points_on_a_decimal_mean_break_the_run_of_seven():
    # y = 0.9, 0.1, 0.3, 0.3, 0.2, 0.1, 0.2, 0.3 (hand-written).
    # mean = 2.4 / 8 = 0.3 exactly (R's mean returns the double 0.3).
    # moving ranges 0.8, 0.2, 0, 0.1, 0.1, 0.1, 0.1: amr = 1.4 / 7 = 0.2; screening threshold
    # 3.267 x 0.2 = 0.6534 drops 0.8; amr = 0.6 / 6 = 0.1.
    # upl = 0.3 + 0.266 = 0.566, lpl = 0.034; near limits 0.3 -/+ 0.177333 = 0.122667, 0.477333.
    # Point 1 (0.9) > upl: "Above UCL". Points 3, 4 and 8 (0.3) lie on the mean, so
    # ptd_seven_point_one_side_mean finds no 7 in a row: points 2-8 are not a run.
    # 2 in 3: only points 2 and 6 (0.1) are close (< 0.122667), never two in one window.
    # No 7-point trend (8 points, the differences change sign). So:
    # Above UCL, then 7 x Common Cause. The old code (numpy mean 0.30000000000000004) put the
    # 0.3 points below the mean and labelled points 2-8 "7 Points Below CL".
    f = xmr([0.9, 0.1, 0.3, 0.3, 0.2, 0.1, 0.2, 0.3])
    assert f["mean"].iloc[0] == 0.3
    assert f["relative_to_mean"].tolist() == [1, -1, 0, 0, -1, -1, -1, 0]
    assert f["upl"].iloc[0] == pytest.approx(0.566)
    assert f["lpl"].iloc[0] == pytest.approx(0.034)
    assert labels(f) == ["Above UCL"] + [CC] * 7
    assert f["point_type"].tolist() == ["special_cause_improvement"] + ["common_cause"] * 7


def test_a_long_decimal_series_with_ties_on_the_mean():
    # 23 values in tenths summing to 11.5: mean = 11.5 / 23 = 0.5 exactly (numpy: 0.49999999999
    # 999994). Points 5, 8 and 9 (0.5) are on the mean and break the stretch 5-11, which is
    # therefore no run of 7 above. Old code: "7 Points Above CL" on points 5-11.
    # The rest, by hand: moving ranges .2 .1 .5 .2 .1 0 .1 0 .3 .2 .7 0 .6 .1 .1 .8 0 .1 0 0 .7
    # .1, sum 4.9, amr = 4.9 / 22 = 0.222727; threshold 3.267 x 0.222727 = 0.727650 screens the
    # 0.8; amr = 4.1 / 21 = 0.195238. upl = 0.5 + 2.66 x 0.195238 = 1.019333 (nothing outside),
    # lpl = -0.019333; near limits 0.5 -/+ 1.773333 x 0.195238 = 0.153778, 0.846222.
    # Close above: points 11 (1.0), 14 and 16 (0.9); close below: 17, 18 (0.1), 19-21 (0.0).
    # 2 in 3: window 14-16 (0.9, 0.8, 0.9, all above, 2 close) flags 14 and 16; windows in 17-21
    # (all below, all close) flag 17-21; point 11's windows 9-11, 10-12, 11-13 hold point 9
    # (on the mean) or 12 (below), so it is not flagged. No 7-point trend.
    y = [0.5, 0.7, 0.8, 0.3, 0.5, 0.6, 0.6, 0.5, 0.5, 0.8, 1.0, 0.3, 0.3, 0.9, 0.8, 0.9,
         0.1, 0.1, 0.0, 0.0, 0.0, 0.7, 0.6]
    f = xmr(y)
    assert f["mean"].iloc[0] == 0.5
    assert f["upl"].iloc[0] == pytest.approx(0.5 + 2.66 * 4.1 / 21)
    expected = [CC] * 23
    for pos in (14, 16):
        expected[pos - 1] = "2 in 3 Above CL"
    for pos in (17, 18, 19, 20, 21):
        expected[pos - 1] = "2 in 3 Below CL"
    assert labels(f) == expected
