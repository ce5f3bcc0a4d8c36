"""Reference cases for sjrlib.spc, each derived by hand from the NHSRplotthedots rules.

Every expected number below carries its derivation in the comment beside it. The rule each case
exercises is named after the NHSRplotthedots function that implements it
(nhs-r-community/NHSRplotthedots, ``R/ptd_spc_standard.R``, ``R/ptd_calculate_point_type.R``,
``R/ptd_calculate_assurance_type.R``, ``R/ptd_add_short_group_warnings.R``,
``R/ptd_add_rebase_column.R``). NHSRplotthedots itself (R) is not available on this machine, so
none of these numbers comes from running it: they come from the rules, by hand. See
``tests/reference/spc_reference_notes.md``.

Constants: limits at mean +/- 2.66 amr, near limits at mean +/- (2 x 2.66 / 3 = 1.773333) amr,
moving ranges >= 3.267 amr screened out (amr = mean moving range).

Positions in comments are 1-based ("point 13" is ``frame.iloc[12]``), as in the R code.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sjrlib.spc import p_chart, xmr

CC = "Common Cause"
NEAR = 2 * 2.66 / 3  # 1.7733...

# A quiet baseline: -1, 1 alternating, 12 points. mean = 0; 11 moving ranges of 2 -> amr = 2;
# screening threshold 3.267 x 2 = 6.534, nothing screened. Limits 0 +/- 5.32; near limits
# 0 +/- 3.546667. With fix_after_n_points=12 every later point is judged against these.
BASELINE = [-1, 1] * 6
BASE_UPL = 5.32
BASE_NUPL = NEAR * 2  # 3.546667


def labels(frame: pd.DataFrame) -> list[str]:
    return frame["special_cause_type"].tolist()


def expect(n: int, specials: dict[int, str]) -> list[str]:
    """Expected labels: Common Cause everywhere but at the given 1-based positions."""
    return [specials.get(i, CC) for i in range(1, n + 1)]


# --- limits and screening (ptd_spc_standard) ------------------------------------------------


def test_limits_of_an_alternating_series():
    # 4, 6 x 6: mean = 60/12 = 5; 11 moving ranges of 2 -> amr = 2 (threshold 6.534: none
    # screened). lpl = 5 - 2.66*2 = -0.32, upl = 10.32; nlpl = 5 - 1.773333*2 = 1.453333,
    # nupl = 8.546667. Alternating sides, no trend, nothing beyond a near limit.
    f = xmr([4, 6] * 6)
    assert f["mean"].tolist() == pytest.approx([5.0] * 12)
    assert f["lpl"].tolist() == pytest.approx([-0.32] * 12)
    assert f["upl"].tolist() == pytest.approx([10.32] * 12)
    assert f["nlpl"].tolist() == pytest.approx([5 - 2 * NEAR] * 12)
    assert f["nupl"].iloc[0] == pytest.approx(8.546667, abs=1e-6)
    assert labels(f) == [CC] * 12
    assert f["point_type"].tolist() == ["common_cause"] * 12
    assert f["relative_to_mean"].tolist() == [-1, 1] * 6


def test_screening_drops_large_moving_ranges_but_not_the_mean():
    # 4, 6 x 5, 4, 30 (12 points): sum = 6*4 + 5*6 + 30 = 84 -> mean 7.
    # Moving ranges: ten of 2, then |30 - 4| = 26: sum 46 over 11 -> amr = 4.181818;
    # threshold 3.267 * 4.181818 = 13.66 -> 26 screened; amr = 20/10 = 2.
    # Limits 7 +/- 5.32 = 1.68 .. 12.32. The mean stays 7 (NHSRplotthedots screens moving
    # ranges only). Points 1-11 (4s and 6s) are all below 7: one run of 11 -> "7 Points Below
    # CL"; 30 > 12.32 -> "Above UCL".
    y = [4, 6] * 5 + [4, 30]
    f = xmr(y)
    assert f["mean"].iloc[0] == pytest.approx(7.0)
    assert f["lpl"].iloc[0] == pytest.approx(1.68)
    assert f["upl"].iloc[0] == pytest.approx(12.32)
    assert labels(f) == ["7 Points Below CL"] * 11 + ["Above UCL"]
    assert f["point_type"].tolist() == ["special_cause_concern"] * 11 + [
        "special_cause_improvement"
    ]
    # Without screening amr = 46/11: upl = 7 + 2.66 * 46/11 = 18.123636, lpl = -4.123636.
    g = xmr(y, screen_outliers=False)
    assert g["mean"].iloc[0] == pytest.approx(7.0)
    assert g["upl"].iloc[0] == pytest.approx(7 + 2.66 * 46 / 11)
    assert g["upl"].iloc[0] == pytest.approx(18.123636, abs=1e-6)
    assert g["lpl"].iloc[0] == pytest.approx(-4.123636, abs=1e-6)
    assert labels(g) == labels(f)


def test_screening_keeps_a_moving_range_just_under_the_threshold():
    # 0, 1, 0, 1, 0, 1, 0, 5 (8 points): seven moving ranges 1, 1, 1, 1, 1, 1, 5, sum 11,
    # amr = 11/7 = 1.571429; threshold 3.267 * 1.571429 = 5.133857 > 5, so 5 is KEPT
    # (screening needs mr >= threshold) and amr stays 11/7. mean = 8/8 = 1;
    # upl = 1 + 2.66 * 11/7 = 5.18: 5 is inside. The 1s sit on the mean (relative_to_mean 0)
    # and break every run; 5 is the only close point -> all Common Cause.
    f = xmr([0, 1, 0, 1, 0, 1, 0, 5])
    assert f["upl"].iloc[0] == pytest.approx(1 + 2.66 * 11 / 7)
    assert f["upl"].iloc[0] == pytest.approx(5.18)
    assert labels(f) == [CC] * 8
    # 0, 1, 0, 1, 0, 1, 0, 6: ranges 1 x 6 and 6 -> amr = 12/7 = 1.714286, threshold
    # 5.6 <= 6 -> 6 is screened: amr = 6/6 = 1; mean = 9/8 = 1.125; upl = 1.125 + 2.66 =
    # 3.785 < 6 -> "Above UCL". Now the 1s are below the mean 1.125, so points 1-7 are a run
    # of 7 below -> "7 Points Below CL".
    g = xmr([0, 1, 0, 1, 0, 1, 0, 6])
    assert g["upl"].iloc[0] == pytest.approx(3.785)
    assert labels(g) == ["7 Points Below CL"] * 7 + ["Above UCL"]


def test_screening_with_all_moving_ranges_zero_leaves_no_limits():
    # Constant 5 x 12: every moving range is 0, amr = 0, and 0 < 3.267 * 0 is false, so every
    # range is screened: amr = mean of nothing = NaN (R: NaN) -> limits NaN. NaN limits flag
    # nothing; every point sits on the mean (relative_to_mean 0) -> all Common Cause.
    f = xmr([5] * 12)
    assert f["mean"].tolist() == [5.0] * 12
    assert f["lpl"].isna().all() and f["upl"].isna().all()
    assert labels(f) == [CC] * 12
    # Without screening amr = 0: lpl = upl = mean = 5, and no point is above or below it.
    g = xmr([5] * 12, screen_outliers=False)
    assert g["lpl"].tolist() == [5.0] * 12 and g["upl"].tolist() == [5.0] * 12
    assert labels(g) == [CC] * 12


def test_screening_that_leaves_only_zero_ranges_collapses_the_limits():
    # 5, 5, 5, 5, 6: ranges 0, 0, 0, 1 -> amr 0.25, threshold 0.81675 <= 1 -> 1 screened;
    # amr = 0 -> lpl = upl = mean = 26/5 = 5.2. Each 5 < 5.2 -> "Below LCL"; 6 -> "Above UCL".
    f = xmr([5, 5, 5, 5, 6])
    assert f["upl"].iloc[0] == pytest.approx(5.2)
    assert labels(f) == ["Below LCL"] * 4 + ["Above UCL"]


def test_one_point_has_no_moving_range():
    # One point: no moving range -> amr NaN -> limits NaN; the point is the mean.
    f = xmr([3.5])
    assert len(f) == 1
    assert math.isnan(f["upl"].iloc[0]) and f["mean"].iloc[0] == 3.5
    assert labels(f) == [CC]
    assert bool(f["short_group_warning"].iloc[0]) is True


# --- seven points on one side of the mean (ptd_seven_point_one_side_mean) -------------------


SCAFFOLD = [10, -10] * 3  # ends below the mean so a run after it starts afresh


def test_seven_on_one_side_flags_and_six_does_not():
    # y = 10,-10 x3, 1 x7, -1 x6, 2, -3 (21 points): sum = 0 + 7 - 6 + 2 - 3 = 0 -> mean 0.
    # Moving ranges: five of 20 (100), |1 - -10| = 11, six 0, 2, five 0, 3, 5: sum 121 over 20
    # -> amr 6.05 (screen_outliers=False: with screening the 20s would go, threshold 19.77).
    # Limits +/- 16.093, near +/- 10.728667: +/-10 is not beyond a near limit.
    # Points 7-13 (seven 1s): run of 7 above -> "7 Points Above CL".
    # Points 14-19 (six -1s): run of 6 below -> nothing. No 7 monotone points (flat runs).
    y = SCAFFOLD + [1] * 7 + [-1] * 6 + [2, -3]
    f = xmr(y, screen_outliers=False)
    assert f["mean"].iloc[0] == pytest.approx(0.0)
    assert f["upl"].iloc[0] == pytest.approx(16.093)
    assert labels(f) == expect(21, {i: "7 Points Above CL" for i in range(7, 14)})
    pt = f["point_type"].tolist()
    assert pt[6:13] == ["special_cause_improvement"] * 7 and pt[13:] == ["common_cause"] * 8
    down = xmr(y, screen_outliers=False, improvement="decrease")
    assert down["point_type"].tolist()[6:13] == ["special_cause_concern"] * 7
    neutral = xmr(y, screen_outliers=False, improvement="neutral")
    assert neutral["point_type"].tolist()[6:13] == ["special_cause_neutral_high"] * 7
    low = xmr([-v for v in y], screen_outliers=False, improvement="neutral")
    assert labels(low)[6:13] == ["7 Points Below CL"] * 7
    assert low["point_type"].tolist()[6:13] == ["special_cause_neutral_low"] * 7


def test_a_point_on_the_mean_breaks_a_run():
    # Baseline (mean 0, limits +/- 5.32 fixed on it), then 1, 1, 1, 0, 1, 1, 1, -1.
    # Point 12 (the baseline's last, 1) and 13-15 are above (4), point 16 is ON the mean
    # (relative_to_mean 0), 17-19 above (3): no run of 7 -> all Common Cause.
    f = xmr(BASELINE + [1, 1, 1, 0, 1, 1, 1, -1], fix_after_n_points=12)
    assert f["relative_to_mean"].iloc[15] == 0
    assert labels(f) == [CC] * 20
    # With 1 in place of the 0, points 12-19 are 8 above: all "7 Points Above CL".
    g = xmr(BASELINE + [1, 1, 1, 1, 1, 1, 1, -1], fix_after_n_points=12)
    assert labels(g) == expect(20, {i: "7 Points Above CL" for i in range(12, 20)})


# --- seven-point trends (ptd_seven_point_trend, ptd_part_of_seven_trend) --------------------


# 21 points: -10, 10 x3, then -3..3 increasing (7 points), -4, then 2.5 .. -2.5 decreasing
# (6 points, 5 differences), then 4. Sum 0 -> mean 0. Moving ranges: 5 x 20, 13, six 1s, 7,
# 6.5, five 1s, 6.5 = 144 over 20 -> amr 7.2 (threshold 23.52: none screened).
# Limits +/- 19.152, near limits +/- 12.768: nothing outside or close.
TREND = [-10, 10] * 3 + [-3, -2, -1, 0, 1, 2, 3, -4, 2.5, 1.5, 0.5, -0.5, -1.5, -2.5, 4]


def test_trend_of_seven_flags_and_six_does_not():
    f = xmr(TREND)
    assert f["upl"].iloc[0] == pytest.approx(19.152)
    # Points 7-13 (-3 .. 3): 6 increasing differences -> a trend, crossing the mean; every
    # point of it is improvement for an increase (NHSRplotthedots issue #171), even those
    # below the mean. Points 15-20 decrease for only 5 differences -> nothing.
    assert labels(f) == expect(21, {i: "7 Point Trend (Increasing)" for i in range(7, 14)})
    assert f["point_type"].tolist()[6:13] == ["special_cause_improvement"] * 7
    # Mirror image: a decreasing trend, concern when improvement is an increase (issue #167:
    # decreasing trends are found too).
    g = xmr([-v for v in TREND])
    assert labels(g) == expect(21, {i: "7 Point Trend (Decreasing)" for i in range(7, 14)})
    assert g["point_type"].tolist()[6:13] == ["special_cause_concern"] * 7


def test_an_equal_neighbour_breaks_a_trend():
    # Baseline, then -3, -2, -1, -1, 0, 1, 2, -1: the step -1 -> -1 is flat, so no 6
    # consecutive increasing differences. Point 12 (1) above, 13-16 below (4), 17 on the mean.
    f = xmr(BASELINE + [-3, -2, -1, -1, 0, 1, 2, -1], fix_after_n_points=12)
    assert labels(f) == [CC] * 20
    # -0.5 in place of the second -1: points 13-19 increase -> trend.
    g = xmr(BASELINE + [-3, -2, -1, -0.5, 0, 1, 2, -1], fix_after_n_points=12)
    assert labels(g) == expect(20, {i: "7 Point Trend (Increasing)" for i in range(13, 20)})


def test_trend_direction_at_a_peak_follows_the_step_to_the_right():
    # Baseline, then -3 .. 3 rising by 1 (points 13-19), then 2.5 .. -0.5 falling by 0.5
    # (points 20-26). Point 19 (3) ends a rising trend and starts a falling one (3, 2.5, ...,
    # -0.5 = 7 points). NHSRplotthedots labels a point by the step to its right when the next
    # point is in a trend too: point 19 -> "Decreasing" -> concern (increase is better).
    # Limits fixed on the baseline: +/- 5.32, near +/- 3.546667; |3| is not close.
    rise = [-3, -2, -1, 0, 1, 2, 3]
    fall = [2.5, 2, 1.5, 1, 0.5, -0.5]
    f = xmr(BASELINE + rise + fall, fix_after_n_points=12)
    want = {i: "7 Point Trend (Increasing)" for i in range(13, 19)}
    want.update({i: "7 Point Trend (Decreasing)" for i in range(19, 26)})
    assert labels(f) == expect(25, want)
    assert f["point_type"].iloc[18] == "special_cause_concern"


def test_trend_direction_quirk_on_a_flat_step_between_two_trends():
    # Baseline, then -3 .. 0 rising by 0.5 (points 13-19), 0 again (point 20), then 0.5 .. 3
    # rising by 0.5 (points 21-26). Point 19 ends the first trend; point 20 starts the second
    # (0, 0.5, ..., 3 = 7 points). For point 19 the next point is in a trend, so
    # NHSRplotthedots takes the step to the right, which is flat (sign 0), and its
    # ifelse(sdy == 1, "In", "De") makes it "Decreasing" -> concern. Kept for compatibility.
    first = [-3, -2.5, -2, -1.5, -1, -0.5, 0]
    second = [0, 0.5, 1, 1.5, 2, 2.5, 3]
    f = xmr(BASELINE + first + second, fix_after_n_points=12)
    got = labels(f)
    assert got[12:18] == ["7 Point Trend (Increasing)"] * 6
    assert got[18] == "7 Point Trend (Decreasing)"
    assert f["point_type"].iloc[18] == "special_cause_concern"
    assert got[19:26] == ["7 Point Trend (Increasing)"] * 7


# --- two in three beyond the near limits (ptd_two_in_three, ptd_part_of_two_in_three) ------


def test_two_in_three():
    # Limits fixed on the baseline: mean 0, upl 5.32, near limit 3.546667; 4 is "close"
    # (beyond the near limit, inside the limit), 6 is outside.
    #  13-15: 4, 1, 4   all above, two close          -> 13, 15 "2 in 3 Above CL" (14 not)
    #  16: -1
    #  17-19: -4, 1, -4 two close but 18 is above      -> nothing (issue #143)
    #  20-22: 6, 1, 4   6 is outside, not close: only one close point -> 20 "Above UCL",
    #                   22 Common Cause
    #  23-26: -1, -4, -4, -1  windows (23-25) and (24-26) all below, two close -> 24, 25
    #  27-30: 1, -4, -1, -4   window (28-30) all below, two close, at the very end -> 28, 30
    # No run of 7 on one side (longest: 23-26 below), no 7 monotone points.
    tail = [4, 1, 4, -1, -4, 1, -4, 6, 1, 4, -1, -4, -4, -1, 1, -4, -1, -4]
    f = xmr(BASELINE + tail, fix_after_n_points=12)
    assert f["upl"].iloc[0] == pytest.approx(BASE_UPL)
    assert f["nupl"].iloc[0] == pytest.approx(BASE_NUPL)
    above, below = "2 in 3 Above CL", "2 in 3 Below CL"
    assert labels(f) == expect(
        30, {13: above, 15: above, 20: "Above UCL", 24: below, 25: below, 28: below, 30: below}
    )
    assert f["close_to_limits"].iloc[21]  # point 22 is close, yet not flagged
    pt = f["point_type"].tolist()
    assert pt[12] == "special_cause_improvement" and pt[23] == "special_cause_concern"


def test_two_in_three_at_the_start_of_a_series():
    # 3, 0.5, 3 then -0.5, 0.5 x 10 (23 points): sum 6.5 -> mean 6.5/23 = 0.282609.
    # Moving ranges 2.5, 2.5, 3.5, then 19 of 1: 27.5 over 22 -> amr 1.25 (threshold 4.08:
    # none screened). upl = 0.282609 + 3.325 = 3.607609; nupl = 0.282609 + 2.216667 =
    # 2.499275: 3 is close, 0.5 is above the mean. The very first window (points 1-3) is all
    # above with two close -> points 1 and 3 "2 in 3 Above CL"; the rest alternates.
    y = [3, 0.5, 3] + [-0.5, 0.5] * 10
    f = xmr(y)
    assert f["mean"].iloc[0] == pytest.approx(6.5 / 23)
    assert f["upl"].iloc[0] == pytest.approx(6.5 / 23 + 2.66 * 1.25)
    assert f["nupl"].iloc[0] == pytest.approx(2.499275, abs=1e-6)
    assert labels(f) == expect(23, {1: "2 in 3 Above CL", 3: "2 in 3 Above CL"})


# --- precedence (ptd_special_cause_type's case_when) ----------------------------------------


def test_precedence_outside_then_trend_then_one_side():
    # Baseline, then 0.5, 1, 2, 3, 4, 5, 6, -1 (points 13-20).
    # Points 12-19 (1, 0.5 .. 6) are 8 above the mean -> all part of 7 on one side.
    # Points 13-19 rise (6 increasing differences) -> trend. 17, 18 (4, 5) are close and form
    # 2-in-3 windows. Point 19 (6 > 5.32) is outside.
    # Precedence outside > trend > 2-in-3 > one side: 12 "7 Points Above CL", 13-18 trend,
    # 19 "Above UCL", 20 Common Cause.
    f = xmr(BASELINE + [0.5, 1, 2, 3, 4, 5, 6, -1], fix_after_n_points=12)
    want = {12: "7 Points Above CL", 19: "Above UCL"}
    want.update({i: "7 Point Trend (Increasing)" for i in range(13, 19)})
    assert labels(f) == expect(20, want)
    assert f["point_type"].tolist()[11:19] == ["special_cause_improvement"] * 8


def test_precedence_two_in_three_over_one_side():
    # Baseline, then 2, 4, 1, 4, 2, 1, -1 (points 13-19). Points 12-18 are 7 above -> one
    # side; window 14-16 (4, 1, 4) has two close -> 14 and 16 are "2 in 3 Above CL", which
    # wins; the rest of the run is "7 Points Above CL".
    f = xmr(BASELINE + [2, 4, 1, 4, 2, 1, -1], fix_after_n_points=12)
    one, two = "7 Points Above CL", "2 in 3 Above CL"
    assert labels(f) == expect(19, {12: one, 13: one, 14: two, 15: one, 16: two, 17: one,
                                    18: one})


# --- fix_after_n_points, rebase, short groups ----------------------------------------------


def test_fix_after_n_points_uses_the_first_points_only():
    # 4, 6 x 6 then 20, 20: limits from the first 12 -> mean 5, amr 2, upl 10.32; the 20s are
    # "Above UCL". Moving range 6 -> 20 is not used (it involves a point after the 12th).
    f = xmr([4, 6] * 6 + [20, 20], fix_after_n_points=12)
    assert f["mean"].tolist() == pytest.approx([5.0] * 14)
    assert f["upl"].iloc[-1] == pytest.approx(10.32)
    assert labels(f)[-2:] == ["Above UCL"] * 2
    # Without fixing: mean = (60 + 40)/14 = 7.142857; ranges 11 x 2, 14, 0 -> 36/13 = 2.769231,
    # threshold 9.047 -> 14 screened: amr = 22/12 = 1.833333; upl = 7.142857 + 4.876667 =
    # 12.019524 -> the 20s are still above.
    g = xmr([4, 6] * 6 + [20, 20])
    assert g["mean"].iloc[0] == pytest.approx(100 / 14)
    assert g["upl"].iloc[0] == pytest.approx(100 / 14 + 2.66 * 22 / 12)


def test_fix_after_n_points_needs_at_least_twelve():
    with pytest.raises(ValueError, match="at least 12"):
        xmr([4, 6] * 6, fix_after_n_points=11)


def test_rebase_gives_each_group_its_own_limits():
    # 4, 6 x 6 then 14, 16 x 6, rebased at the 13th point (label 12 of a list).
    # Group 0: mean 5, amr 2 -> -0.32 .. 10.32. Group 1: mean 15; its moving ranges are the
    # 11 within it (the jump 6 -> 14 belongs to no group) -> amr 2 -> 9.68 .. 20.32.
    f = xmr([4, 6] * 6 + [14, 16] * 6, rebase=[12])
    assert f["rebase_group"].tolist() == [0] * 12 + [1] * 12
    assert f["mean"].tolist() == pytest.approx([5.0] * 12 + [15.0] * 12)
    assert f["upl"].tolist() == pytest.approx([10.32] * 12 + [20.32] * 12)
    assert f["lpl"].tolist() == pytest.approx([-0.32] * 12 + [9.68] * 12)
    assert labels(f) == [CC] * 24
    # Not rebased: mean 240/24 = 10; ranges 11 x 2, 8, 11 x 2 = 52/23 = 2.26, threshold 7.39
    # -> 8 screened, amr = 44/22 = 2: limits 4.68 .. 15.32, near 6.453333 .. 13.546667.
    # 4 < 4.68 -> "Below LCL"; each 6 is close and every window (6, 4, 6) is all below with
    # two close -> "2 in 3 Below CL" (beats the run of 12 below); mirror image above.
    g = xmr([4, 6] * 6 + [14, 16] * 6)
    assert g["lpl"].iloc[0] == pytest.approx(4.68)
    assert labels(g) == ["Below LCL", "2 in 3 Below CL"] * 6 + [
        "2 in 3 Above CL",
        "Above UCL",
    ] * 6


def test_rebase_by_month_label_and_runs_do_not_cross_groups():
    # 13 values, 7 above the overall mean at the end would form a run; a rebase at month 7
    # splits the series: 1, 2 x 3 then 9, 10 x 3 + 9 (7 points). Group 0 (6 points, mean 1.5,
    # amr 1): alternating -> common. Group 1 (7 points): mean 66/7 = 9.428571, alternating
    # around it -> common. No run crosses the rebase.
    months = pd.Index([f"2024-{m:02d}" for m in range(1, 13)] + ["2025-01"])
    y = pd.Series([1, 2] * 3 + [9, 10] * 3 + [9], index=months)
    f = xmr(y, rebase=["2024-07"])
    assert f.index.equals(months)
    assert f["rebase_group"].tolist() == [0] * 6 + [1] * 7
    assert f["mean"].iloc[-1] == pytest.approx(66 / 7)
    assert labels(f) == [CC] * 13
    assert f["short_group_warning"].all()  # both groups under 12 points: trial limits


def test_short_group_warning_flags_twelve_points_or_fewer_as_r_does():
    # ptd_add_short_group_warnings (0.2.x): short_group_warning = n() < warning_threshold, with
    # getOption("ptd_spc.warning_threshold", 13): R flags a group of exactly 12 points (its
    # message says "n < 12"; the code, since 83781d2, says 13). 0.1.0 used 12.
    assert xmr([4, 6] * 6 + [4])["short_group_warning"].tolist() == [False] * 13
    assert xmr([4, 6] * 6)["short_group_warning"].tolist() == [True] * 12
    assert xmr([4, 6] * 5 + [4])["short_group_warning"].tolist() == [True] * 11


# --- assurance (ptd_calculate_assurance_type) -----------------------------------------------


@pytest.mark.parametrize(
    ("target", "improvement", "expected"),
    [
        # limits of 4, 6 x 6: -0.32 .. 10.32
        (11, "increase", "consistent_fail"),  # target above upl: never reached
        (11, "decrease", "consistent_pass"),  # target above upl: always below it
        (-1, "increase", "consistent_pass"),  # target below lpl: always above it
        (-1, "decrease", "consistent_fail"),
        (5, "increase", "inconsistent"),  # between the limits
        (5, "decrease", "inconsistent"),
        (5, "neutral", None),  # neutral: no assurance
    ],
)
def test_assurance(target, improvement, expected):
    f = xmr([4, 6] * 6, target=target, improvement=improvement)
    assert f["assurance"].tolist() == [expected] * 12
    assert f["target"].tolist() == [float(target)] * 12


def test_assurance_at_the_limit_is_inconsistent():
    # target == upl: "target > upl" is false -> inconsistent (strict comparisons in R).
    upl = float(xmr([4, 6] * 6)["upl"].iloc[0])
    assert xmr([4, 6] * 6, target=upl)["assurance"].iloc[0] == "inconsistent"
    lpl = float(xmr([4, 6] * 6)["lpl"].iloc[0])
    assert xmr([4, 6] * 6, target=lpl)["assurance"].iloc[0] == "inconsistent"


def test_assurance_only_on_the_last_rebase_group_and_none_without_target():
    # Last group 9.68 .. 20.32; target 8 < lpl, increase -> consistent_pass on its 12 rows.
    f = xmr([4, 6] * 6 + [14, 16] * 6, rebase=[12], target=8)
    assert f["assurance"].tolist() == [None] * 12 + ["consistent_pass"] * 12
    assert xmr([4, 6] * 6)["assurance"].tolist() == [None] * 12


def test_assurance_with_undefined_limits_is_inconsistent():
    # Constant series: NaN limits; both comparisons are false -> "inconsistent" (R's
    # case_when falls to TRUE ~ "inconsistent").
    assert xmr([5] * 12, target=3)["assurance"].iloc[0] == "inconsistent"


# --- p-chart (this module's choice, documented in sjrlib.spc.p_chart) ------------------------


def test_p_chart_limits_vary_with_the_denominator():
    # n = 100, 25, 900, 900, 100, 100, 100, 75 (sum 2300); x = 10, 5, 126, 54, 9, 12, 8, 6
    # (sum 230) -> p-bar = 0.1; sigma_i = sqrt(0.09 / n_i): 0.03, 0.06, 0.01, 0.01, ...,
    # 0.034641 (n = 75).
    #  1: 0.10 on the centre line; limits 0.01 .. 0.19, near 0.04 .. 0.16
    #  2: 0.20; limits 0.1 - 0.18 -> clipped to 0, 0.28; near 0 (clipped) .. 0.22 -> common
    #  3: 0.14 > 0.1 + 0.03 = 0.13 -> "Above UCL" (with n = 100 it would be common cause)
    #  4: 0.06 < 0.07 -> "Below LCL"
    #  5-8: 0.09, 0.12, 0.08, 0.08 inside -> common
    # improvement "decrease" (a lower proportion of poor care is better): 3 concern,
    # 4 improvement.
    n = [100, 25, 900, 900, 100, 100, 100, 75]
    x = [10, 5, 126, 54, 9, 12, 8, 6]
    f = p_chart(x, n, improvement="decrease")
    assert f["mean"].tolist() == pytest.approx([0.1] * 8)
    assert f["value"].tolist() == pytest.approx([0.1, 0.2, 0.14, 0.06, 0.09, 0.12, 0.08, 0.08])
    assert f["upl"].tolist() == pytest.approx(
        [0.19, 0.28, 0.13, 0.13, 0.19, 0.19, 0.19, 0.1 + 3 * math.sqrt(0.09 / 75)]
    )
    assert f["lpl"].tolist() == pytest.approx([0.01, 0.0, 0.07, 0.07, 0.01, 0.01, 0.01, 0.0])
    assert f["nlpl"].iloc[1] == 0.0 and f["nupl"].iloc[1] == pytest.approx(0.22)
    assert labels(f) == [CC, CC, "Above UCL", "Below LCL", CC, CC, CC, CC]
    assert f["point_type"].iloc[2] == "special_cause_concern"
    assert f["point_type"].iloc[3] == "special_cause_improvement"
    assert f["relative_to_mean"].iloc[0] == 0
    # Assurance against the last point's limits 0 .. 0.203923: target 0.25 > upl with
    # "decrease" -> consistent_pass; 0.05 -> inconsistent.
    assert p_chart(x, n, improvement="decrease", target=0.25)["assurance"].iloc[-1] == (
        "consistent_pass"
    )
    assert p_chart(x, n, improvement="decrease", target=0.05)["assurance"].iloc[-1] == (
        "inconsistent"
    )


def test_p_chart_run_rules_and_fixing():
    # 12 months of 10/100 then 7 months of 15/100: fixed on the first 12, p-bar = 0.1,
    # limits 0.01 .. 0.19, near 0.04 .. 0.16: 0.15 is inside and not close, but 7 above the
    # centre line -> "7 Points Above CL".
    x = [10] * 12 + [15] * 7
    n = [100] * 19
    f = p_chart(x, n, fix_after_n_points=12)
    assert f["mean"].tolist() == pytest.approx([0.1] * 19)
    assert labels(f) == [CC] * 12 + ["7 Points Above CL"] * 7
    # Unfixed: p-bar = 225/1900 = 0.118421; the first 12 (0.10) are below it: 12 in a run.
    g = p_chart(x, n)
    assert g["mean"].iloc[0] == pytest.approx(225 / 1900)
    assert labels(g) == ["7 Points Below CL"] * 12 + ["7 Points Above CL"] * 7


def test_p_chart_rejects_impossible_counts():
    with pytest.raises(ValueError, match="positive"):
        p_chart([0, 1], [0, 2])
    with pytest.raises(ValueError, match="between 0 and its denominator"):
        p_chart([3, 1], [2, 2])
    with pytest.raises(ValueError, match="same periods"):
        p_chart([1, 1, 1], [2, 2])
