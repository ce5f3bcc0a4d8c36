"""Held-out acceptance audit of 2026-12-06: hand-written cases for sjrlib.spc and sjrlib.stats.

No input comes from the synthetic generator or from another test. Each expected number says
where it came from: a hand derivation from the NHSRplotthedots rules (R sources of
nhs-r-community/NHSRplotthedots 0.2.x, ``R/ptd_spc_standard.R``,
``R/ptd_calculate_point_type.R``, ``R/ptd_calculate_assurance_type.R``), or a direct call of
scipy / statsmodels / scikit-learn / krippendorff written beside it.

Positions in comments are 1-based, as in the R code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sjrlib.spc import p_chart, xmr

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


# --- edge cases of the rules (all hand-derived; they passed before the fix too) --------------


def test_trend_of_exactly_seven_points_and_a_tie_that_breaks_one():
    # y = 4, 1, 2, 3, 4, 5, 6, 7, 4, 4, 4: mean 44/11 = 4; moving ranges 3,1,1,1,1,1,1,3,0,0
    # -> amr 12/10 = 1.2 (threshold 3.9204, none screened); limits 4 -/+ 3.192 = 0.808, 7.192.
    # Points 2-8 (1..7) rise 6 times: ptd_seven_point_trend marks point 8, part_of_seven marks
    # 2-8. Direction: each takes the step to the right while the next point is in the trend,
    # point 8 the step from the left: all "Increasing". Points 1, 9-11 lie on the mean.
    # improvement "decrease": a rise is a concern.
    f = xmr([4, 1, 2, 3, 4, 5, 6, 7, 4, 4, 4], improvement="decrease")
    assert f["upl"].iloc[0] == pytest.approx(7.192)
    assert labels(f) == [CC] + ["7 Point Trend (Increasing)"] * 7 + [CC] * 3
    assert f["point_type"].tolist() == (["common_cause"] + ["special_cause_concern"] * 7
                                        + ["common_cause"] * 3)
    # The same with an equal neighbour (3, 3) and a 5 at the end to keep the mean 44/11 = 4:
    # 1, 2, 3 | 3, 5, 6, 7 - no 6 strict rises in a row. amr = 13/10 = 1.3, near limits
    # 4 -/+ 2.305333: point 2 (1) and point 8 (7) are close, but no window of 3 holds two close
    # points on one side; runs below (2-5) and above (6-8) are shorter than 7: all common cause.
    f = xmr([4, 1, 2, 3, 3, 5, 6, 7, 4, 4, 5])
    assert labels(f) == [CC] * 11


BASELINE = [-1, 1] * 6  # mean 0, 11 moving ranges of 2: amr 2, limits -/+ 5.32, near 3.546667


def test_two_in_three_needs_all_three_on_one_side():
    # fix_after_n_points=12 keeps the baseline's limits for points 13-15.
    # 4, 1, 4: window 13-15 all above 0 and two (4 > 3.546667) close: 13 and 15 flagged, 14 not.
    f = xmr(BASELINE + [4, 1, 4], fix_after_n_points=12)
    assert labels(f)[12:] == ["2 in 3 Above CL", CC, "2 in 3 Above CL"]
    # 4, 4, -1: window 13-15 has a point below; window 12-14 (1, 4, 4) is all above: 13, 14.
    f = xmr(BASELINE + [4, 4, -1], fix_after_n_points=12)
    assert labels(f)[12:] == ["2 in 3 Above CL", "2 in 3 Above CL", CC]
    # 4, -1, 4, 1: every window holding both 4s also holds the -1: nothing.
    f = xmr(BASELINE + [4, -1, 4, 1], fix_after_n_points=12)
    assert labels(f) == [CC] * 16


def test_a_run_does_not_cross_a_rebase():
    y = [-2, 2] * 3 + [1] * 4 + [1] * 3 + [-2, 2] * 3
    # No rebase: mean 7/19 = 0.368; points 6-13 (2, then seven 1s) are above: a run of 8.
    assert labels(xmr(y)) == [CC] * 5 + ["7 Points Above CL"] * 8 + [CC] * 6
    # Rebase at position 11 (0-based 10): group 1 (points 1-10) has mean 4/10 = 0.4 and only
    # points 6-10 above it (5); group 2 (points 11-19) mean 3/9 = 0.333, points 11-13 above
    # (3). ptd_calculate_point_type works per rebase group: no run of 7.
    f = xmr(y, rebase=[10])
    assert f["rebase_group"].tolist() == [0] * 10 + [1] * 9
    assert f["mean"].iloc[0] == 0.4
    assert f["mean"].iloc[-1] == pytest.approx(1 / 3)
    assert labels(f) == [CC] * 19


def test_zero_moving_ranges_and_short_series():
    # Constant series: every moving range 0 -> all screened (0 < 3.267 x 0 is false) -> amr of
    # nothing = NaN (R: mean(c(NA, ...), na.rm = TRUE) is NaN): no limits, all common cause.
    f = xmr([2.0] * 8)
    assert f["upl"].isna().all() and labels(f) == [CC] * 8
    # Unscreened, amr = 0 and the limits collapse on the mean; nothing is strictly beyond.
    f = xmr([2.0] * 8, screen_outliers=False)
    assert f["upl"].tolist() == [2.0] * 8 and labels(f) == [CC] * 8
    # 1 x 7 then 5: mean 12/8 = 1.5; moving ranges 0 x 6 and 4, amr 4/7, threshold 1.867 screens
    # the 4 -> amr = mean of six zeros = 0: limits 1.5, 1.5. Points 1-7 below the LCL, 8 above.
    f = xmr([1, 1, 1, 1, 1, 1, 1, 5])
    assert f["lpl"].iloc[0] == 1.5 and f["upl"].iloc[0] == 1.5
    assert labels(f) == ["Below LCL"] * 7 + ["Above UCL"]
    # One point: no moving range, NaN limits. Two points 3, 5: amr 2 (not screened, 2 < 6.534),
    # limits 4 -/+ 5.32.
    assert labels(xmr([3.0])) == [CC] and xmr([3.0])["upl"].isna().all()
    f = xmr([3.0, 5.0])
    assert f["lpl"].iloc[0] == pytest.approx(-1.32) and f["upl"].iloc[0] == pytest.approx(9.32)
    # A missing value is kept as NHSRplotthedots keeps NA (tests/test_spc_missing_2026_12_08.py);
    # an infinite one is refused.
    with pytest.raises(ValueError):
        xmr([1.0, float("inf"), 2.0])


@pytest.mark.parametrize(("target", "increase", "decrease"), [
    (10.32, "inconsistent", "inconsistent"),   # on the upper limit: target > upl is false
    (10.33, "consistent_fail", "consistent_pass"),
    (-0.32, "inconsistent", "inconsistent"),   # on the lower limit
    (-0.33, "consistent_pass", "consistent_fail"),
    (5.0, "inconsistent", "inconsistent"),
])
def test_assurance_at_and_beyond_the_limits(target, increase, decrease):
    # 4, 6 x 6: mean 5, amr 2, limits 5 -/+ 5.32 = -0.32, 10.32 (5 + 2.66 x 2 is the double
    # 10.32 exactly). ptd_calculate_assurance_type: target > upl -> fail if increase, pass if
    # decrease; target < lpl the opposite; else inconsistent; neutral: NA.
    y = [4, 6] * 6
    assert xmr(y, improvement="increase", target=target)["assurance"].iloc[-1] == increase
    assert xmr(y, improvement="decrease", target=target)["assurance"].iloc[-1] == decrease
    assert xmr(y, improvement="neutral", target=target)["assurance"].iloc[-1] is None
    assert xmr(y)["assurance"].iloc[-1] is None


def test_fix_after_n_points_applies_within_each_rebase_group():
    # Group 0: the baseline (mean 0, amr 2) then 3, 3; group 1 (rebase at 0-based 14):
    # 10, 12 x 6 then 30. fix_after_n_points=12 takes each group's first 12 points:
    # group 0 mean 0, limits -/+ 5.32; group 1 mean 132/12 = 11, 11 moving ranges of 2 -> amr 2,
    # limits 11 -/+ 5.32 = 5.68, 16.32. Point 27 (30) is above the UCL. (Unfixed, group 1's
    # mean would be 162/13 = 12.46.)
    y = BASELINE + [3, 3] + [10, 12] * 6 + [30]
    f = xmr(y, fix_after_n_points=12, rebase=[14])
    assert f["mean"].iloc[13] == 0.0 and f["upl"].iloc[13] == pytest.approx(5.32)
    assert f["mean"].iloc[14] == 11.0 and f["upl"].iloc[-1] == pytest.approx(16.32)
    assert labels(f) == [CC] * 26 + ["Above UCL"]


def test_p_chart_with_no_and_all_successes():
    # 0, 0, 0, 10, 0, 0 of 10 each: p-bar = 10/60 = 1/6; sigma = sqrt((1/6)(5/6)/10) = 0.117851;
    # upl = 1/6 + 3 x 0.117851 = 0.520220; lpl = 1/6 - 0.353553 < 0, clipped to 0. Point 4
    # (1.0) is above the UCL; the zeros are not below a limit of 0 (y < lpl is false).
    f = p_chart([0, 0, 0, 10, 0, 0], [10] * 6)
    assert f["mean"].iloc[0] == pytest.approx(1 / 6)
    assert f["upl"].iloc[0] == pytest.approx(1 / 6 + 3 * (1 / 6 * 5 / 6 / 10) ** 0.5)
    assert f["lpl"].iloc[0] == 0.0
    assert labels(f) == [CC] * 3 + ["Above UCL"] + [CC] * 2
    # All successes: p-bar 1, sigma 0, limits 1 and 1: nothing beyond, all on the mean.
    f = p_chart([10] * 6, [10] * 6)
    assert f["upl"].tolist() == [1.0] * 6 and labels(f) == [CC] * 6
    # A zero denominator is refused (the proportion is undefined), with a message.
    with pytest.raises(ValueError, match="positive"):
        p_chart([1, 0], [5, 0])


# --- statistics against independent software (no fault found) -------------------------------


@pytest.mark.parametrize(("count", "nobs"), [(0, 5), (5, 5), (0, 1), (1, 1), (3, 7), (0, 100),
                                             (100, 100)])
def test_wilson_at_zero_and_all_successes(count, nobs):
    from statsmodels.stats.proportion import proportion_confint

    from sjrlib.stats.descriptive import wilson_interval

    lo, hi = wilson_interval(count, nobs)
    # statsmodels.stats.proportion.proportion_confint(count, nobs, method="wilson")
    exp_lo, exp_hi = proportion_confint(count, nobs, method="wilson")
    assert lo[0] == pytest.approx(exp_lo, abs=1e-12) and hi[0] == pytest.approx(exp_hi, abs=1e-12)
    assert (lo[0] == 0.0) == (count == 0) and (hi[0] == 1.0) == (count == nobs)


def test_kappa_with_a_category_one_rater_never_uses():
    from sklearn.metrics import cohen_kappa_score

    from sjrlib.stats.agreement import weighted_kappa

    # Hand-written: rater a never uses 5, rater b never uses 1; 6 unused by both.
    a = [1, 2, 2, 3, 3, 3, 4, 4, 2, 1, 3, 4]
    b = [2, 2, 3, 3, 3, 4, 4, 5, 2, 2, 3, 5]
    for w in (None, "linear", "quadratic"):
        # sklearn.metrics.cohen_kappa_score(a, b, weights=w, labels=[1..6])
        expected = cohen_kappa_score(a, b, weights=w, labels=[1, 2, 3, 4, 5, 6])
        got = weighted_kappa(a, b, w, categories=[1, 2, 3, 4, 5, 6])
        assert got.kappa == pytest.approx(expected, abs=1e-12)
        assert got.ci_lower < got.kappa < got.ci_upper
    # unweighted 0.34545454..., linear 0.59090909..., quadratic 0.79545454... (sklearn 1.9.1)
    assert weighted_kappa(a, b, "quadratic").kappa == pytest.approx(0.7954545454545454)


def test_krippendorff_with_missing_values_and_an_unused_value():
    import krippendorff

    from sjrlib.stats.agreement import krippendorff_alpha

    nan = np.nan
    # 3 raters x 6 units, hand-written; unit 1 lacks rater 3, unit 3 rater 1, unit 4 rater 2;
    # values 3 and 6 of the domain 1-6 are never used (they matter for ordinal distances).
    data = [[1, 2, nan, 4, 4, 1], [1, 3, 2, nan, 5, 1], [nan, 2, 2, 4, 5, 2]]
    for level in ("nominal", "ordinal", "interval"):
        # krippendorff.alpha(reliability_data=data, level_of_measurement=level,
        #                    value_domain=[1, 2, 3, 4, 5, 6])  (krippendorff 0.9.0)
        expected = krippendorff.alpha(reliability_data=data, level_of_measurement=level,
                                      value_domain=[1, 2, 3, 4, 5, 6])
        assert krippendorff_alpha(data, level, value_domain=[1, 2, 3, 4, 5, 6]) == \
            pytest.approx(expected, abs=1e-12)
    # nominal by the package: 0.5058823529411764
    assert krippendorff_alpha(data, "nominal") == pytest.approx(0.5058823529411764)
