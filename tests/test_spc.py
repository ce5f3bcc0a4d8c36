"""Properties of sjrlib.spc, and a line-by-line transliteration of NHSRplotthedots as an oracle.

Hand-derived reference cases live in ``tests/reference/test_spc_reference.py``. Here:

* ``_r_*`` functions copy the R code of NHSRplotthedots (``R/ptd_spc_standard.R``,
  ``R/ptd_calculate_point_type.R``) statement by statement, keeping R's padding tricks and 1-based
  windows, deliberately unlike the module's own code; random series must get the same labels;
* Hypothesis properties: one row per point, limits ordered, labels and point types consistent,
  invariance under exact rescaling, mirror symmetry;
* input errors.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sjrlib import spc

# --- the oracle: NHSRplotthedots, transliterated ---------------------------------------------


def _r_mean_na_rm(x):
    """R's mean(x, na.rm = TRUE) (summary.c, real_mean): a long double sum, divided, then
    corrected by the long double sum of the residuals. numpy's float64 mean differs in the last
    bit, e.g. for three equal values 682.7170314027437, whose R mean is exactly that value."""
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)].astype(np.longdouble)
    if x.size == 0:
        return np.nan
    s = x.sum() / x.size
    return float(s + (x - s).sum() / x.size)


def _r_limits(y, fix_after_n_points, screen_outliers):
    """ptd_spc_standard for one group: (mean, amr) with R's NA handling."""
    n = len(y)
    fix_y = np.array([y[i] if i + 1 <= (fix_after_n_points or math.inf) else np.nan
                      for i in range(n)])
    mean = _r_mean_na_rm(fix_y)
    mr = np.concatenate([[np.nan], np.abs(np.diff(fix_y))])
    amr = _r_mean_na_rm(mr)
    if screen_outliers:
        # case_when(mr < 3.267 * amr ~ mr, TRUE ~ NA): NA comparisons fall through to NA
        mr = np.where(np.isfinite(mr) & (mr < 3.267 * amr), mr, np.nan)
    amr = _r_mean_na_rm(mr)
    return mean, amr


def _r_special_cause_type(y, relative_to_mean, close_to_limits, outside_limits):
    n = len(y)

    def seven_point_one_side_mean(v):
        vp = [0] * 6 + list(v)
        # R: vapply(seq_along(v) + 6, function(i) all(vp[[i]] == vp[i - 1:6]) & vp[[i]] != 0)
        return [int(all(vp[i - 1] == vp[i - 1 - k] for k in range(1, 7)) and vp[i - 1] != 0)
                for i in range(7, n + 7)]

    def part_of_seven_trend(v):
        vp = list(v) + [0] * 6
        return [int(any(abs(vp[i - 1 + k]) == 1 for k in range(7))) for i in range(1, n + 1)]

    def seven_point_trend(yy):
        if len(yy) < 7:
            return [0] * len(yy)
        out = [0] * 6
        for i in range(7, len(yy) + 1):
            window = [yy[i - 1 - k] for k in range(7)]  # y[i - 0:6]
            d = [-np.sign(window[k + 1] - window[k]) for k in range(6)]
            out.append(1 if all(x == 1 for x in d) else -1 if all(x == -1 for x in d) else 0)
        return out

    def two_in_three(v, rtm):
        if n == 0:
            return []
        vp = [0, 0] + [int(x) for x in v] + [0, 0]
        rtmp = [0, 0] + list(rtm) + [0, 0]
        res = []
        def ok(i, offsets):
            idx = [i - 1 + o for o in offsets]  # vp[i + 0:2] etc., 1-based i
            return sum(vp[j] for j in idx) >= 2 and abs(sum(rtmp[j] for j in idx)) == 3

        for i in range(1, n + 1):
            res.append(int(ok(i, (0, 1, 2)) or ok(i, (1, 2, 3)) or ok(i, (2, 3, 4))))
        return res

    part_trend = part_of_seven_trend(seven_point_trend(y))
    tit = two_in_three(close_to_limits, relative_to_mean)
    part_tit = [int(t == 1 and abs(int(c)) == 1) for t, c in zip(tit, close_to_limits,
                                                                  strict=True)]
    part_side = part_of_seven_trend(seven_point_one_side_mean(relative_to_mean))
    sdy = list(np.sign(np.diff(y)))
    shifted = part_trend[1:] + [0]
    right = sdy + sdy[-1:]
    left = [0] + sdy
    sdy = [right[i] if (shifted[i] and part_trend[i]) else left[i] for i in range(n)]
    out = []
    for i in range(n):
        side = "Above" if relative_to_mean[i] > 0 else "Below"
        if outside_limits[i]:
            out.append("Above UCL" if relative_to_mean[i] == 1 else "Below LCL")
        elif part_trend[i]:
            out.append(f"7 Point Trend ({'In' if sdy[i] == 1 else 'De'}creasing)")
        elif part_tit[i]:
            out.append(f"2 in 3 {side} CL")
        elif part_side[i]:
            out.append(f"7 Points {side} CL")
        else:
            out.append("Common Cause")
    return out


def _r_xmr_labels(y, fix_after_n_points=None, screen_outliers=True):
    y = np.asarray(y, dtype=float)
    mean, amr = _r_limits(y, fix_after_n_points, screen_outliers)
    with np.errstate(invalid="ignore"):
        upl, lpl = mean + 2.66 * amr, mean - 2.66 * amr
        nupl, nlpl = mean + 2 * (2.66 / 3) * amr, mean - 2 * (2.66 / 3) * amr
        outside = (y > upl) | (y < lpl)
        rtm = np.sign(y - mean).astype(int)
        close = ~outside & ((y < nlpl) | (y > nupl))
    return _r_special_cause_type(list(y), list(rtm), list(close), list(outside))


# --- strategies --------------------------------------------------------------------------------

# small integers make ties, runs and trends common; floats exercise the rest
small_ints = st.lists(st.integers(0, 6), min_size=0, max_size=40)
floats = st.lists(st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False),
                  min_size=0, max_size=40)
series = st.one_of(small_ints, floats)
improvements = st.sampled_from(spc.IMPROVEMENTS)


@st.composite
def xmr_calls(draw):
    values = draw(series)
    n = len(values)
    fix = draw(st.one_of(st.none(), st.integers(12, 30)))
    rebase = draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=3, unique=True)) if n else []
    target = draw(st.one_of(st.none(), st.floats(-10, 10, allow_nan=False)))
    return values, {
        "improvement": draw(improvements),
        "screen_outliers": draw(st.booleans()),
        "fix_after_n_points": fix,
        "rebase": rebase or None,
        "target": target,
    }


@st.composite
def p_chart_calls(draw):
    n = draw(st.integers(0, 30))
    denominators = draw(st.lists(st.integers(1, 60), min_size=n, max_size=n))
    numerators = [draw(st.integers(0, d)) for d in denominators]
    return numerators, denominators, {
        "improvement": draw(improvements),
        "fix_after_n_points": draw(st.one_of(st.none(), st.integers(12, 20))),
        "target": draw(st.one_of(st.none(), st.floats(0, 1))),
    }


# --- oracle agreement ---------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(values=series, fix=st.one_of(st.none(), st.integers(12, 20)), screen=st.booleans())
def test_labels_agree_with_the_transliterated_r_code(values, fix, screen):
    got = spc.xmr(values, fix_after_n_points=fix, screen_outliers=screen)
    assert got["special_cause_type"].tolist() == _r_xmr_labels(values, fix, screen)


def test_oracle_agrees_on_a_long_random_walk():
    rng = np.random.default_rng(20240401)
    y = np.round(np.cumsum(rng.normal(size=400)), 1)
    got = spc.xmr(y)["special_cause_type"].tolist()
    assert got == _r_xmr_labels(y)
    assert len(set(got)) >= 5  # the walk exercises most rules


# --- properties ----------------------------------------------------------------------------


def _check_frame(frame: pd.DataFrame, n: int, index: pd.Index | None = None) -> None:
    assert len(frame) == n
    assert list(frame.columns[-len(spc.SPC_COLUMNS):]) == list(spc.SPC_COLUMNS)
    if index is not None:
        assert frame.index.equals(index)
    if n == 0:
        return
    assert set(frame["special_cause_type"]) <= set(spc.SPECIAL_CAUSE_TYPES)
    assert set(frame["point_type"]) <= set(spc.POINT_TYPES)
    assert (frame["special_cause_flag"] == (frame["special_cause_type"] != "Common Cause")).all()
    assert ((frame["point_type"] == "common_cause") == ~frame["special_cause_flag"]).all()
    ok = frame["upl"].notna()
    eps = 1e-9 * (1 + frame["mean"].abs())
    sub = frame[ok]
    assert (sub["lpl"] <= sub["nlpl"] + eps[ok]).all()
    assert (sub["nlpl"] <= sub["mean"] + eps[ok]).all()
    assert (sub["mean"] <= sub["nupl"] + eps[ok]).all()
    assert (sub["nupl"] <= sub["upl"] + eps[ok]).all()
    assert not (frame["outside_limits"] & frame["close_to_limits"]).any()
    last_group = frame["rebase_group"] == frame["rebase_group"].iloc[-1]
    values = frame["assurance"]
    assert values[~last_group].isna().all()
    assert values[last_group].nunique(dropna=False) == 1


@settings(max_examples=80, deadline=None)
@given(call=xmr_calls())
def test_xmr_has_one_row_per_point(call):
    values, kwargs = call
    frame = spc.xmr(values, **kwargs)
    _check_frame(frame, len(values), pd.RangeIndex(len(values)))
    if kwargs["target"] is None or kwargs["improvement"] == "neutral":
        assert frame["assurance"].isna().all()
    elif len(values):
        assert spc.assurance(frame) in spc.ASSURANCE_TYPES
    assert frame.attrs["chart"] == "xmr"


@settings(max_examples=60, deadline=None)
@given(call=p_chart_calls())
def test_p_chart_has_one_row_per_point_and_limits_in_0_1(call):
    x, n, kwargs = call
    frame = spc.p_chart(x, n, **kwargs)
    _check_frame(frame, len(x), pd.RangeIndex(len(x)))
    if len(x):
        limited = frame[frame["upl"].notna()]
        assert ((limited["lpl"] >= 0) & (limited["upl"] <= 1)).all()
        assert ((frame["value"] >= 0) & (frame["value"] <= 1)).all()
        assert frame["numerator"].tolist() == x
        # no limit and no special cause on a point resting on fewer than 8 cases
        few = np.array(n) < 8
        assert frame["judged"].tolist() == (~few).tolist()
        assert frame.loc[few, ["lpl", "upl", "nlpl", "nupl"]].isna().all().all()
        assert not frame.loc[few, "special_cause_flag"].any()
        assert not frame.loc[few, ["outside_limits", "close_to_limits"]].any().any()


@settings(max_examples=50, deadline=None)
@given(values=series, improvement=improvements)
def test_doubling_values_changes_no_label(values, improvement):
    # x2 is exact in binary floating point, so every comparison comes out the same
    a = spc.xmr(values, improvement=improvement)
    b = spc.xmr([2 * v for v in values], improvement=improvement)
    assert a["special_cause_type"].tolist() == b["special_cause_type"].tolist()
    assert b["upl"].tolist() == pytest.approx([2 * u for u in a["upl"]], nan_ok=True)


_MIRROR = {
    "Above UCL": "Below LCL",
    "7 Point Trend (Increasing)": "7 Point Trend (Decreasing)",
    "2 in 3 Above CL": "2 in 3 Below CL",
    "7 Points Above CL": "7 Points Below CL",
    "Common Cause": "Common Cause",
}
_MIRROR.update({v: k for k, v in _MIRROR.items()})


@settings(max_examples=60, deadline=None)
@given(values=series)
def test_mirror_image_swaps_labels_and_improvement_with_concern(values):
    # A flat step next to a trend is labelled "Decreasing" whichever way (NHSRplotthedots'
    # quirk), so the symmetry holds when no two neighbours are equal.
    assume(all(a != b for a, b in zip(values, values[1:], strict=False)))
    up = spc.xmr(values, improvement="increase")
    down = spc.xmr([-v for v in values], improvement="decrease")
    assert [_MIRROR[x] for x in up["special_cause_type"]] == down["special_cause_type"].tolist()
    assert up["point_type"].tolist() == down["point_type"].tolist()


@settings(max_examples=40, deadline=None)
@given(values=series)
def test_direction_only_changes_point_types(values):
    inc = spc.xmr(values, improvement="increase")
    dec = spc.xmr(values, improvement="decrease")
    neu = spc.xmr(values, improvement="neutral")
    swap = {"special_cause_improvement": "special_cause_concern",
            "special_cause_concern": "special_cause_improvement", "common_cause": "common_cause"}
    assert [swap[p] for p in inc["point_type"]] == dec["point_type"].tolist()
    assert inc["special_cause_type"].tolist() == neu["special_cause_type"].tolist()
    high = neu["point_type"] == "special_cause_neutral_high"
    assert (inc["point_type"][high] == "special_cause_improvement").all()


# --- the index, helpers and errors ------------------------------------------------------------


def test_series_index_is_kept_and_rebase_by_label():
    idx = pd.date_range("2023-04-01", periods=14, freq="MS")
    y = pd.Series([4, 6] * 7, index=idx)
    f = spc.xmr(y, rebase=[idx[7]])
    assert f.index.equals(idx)
    assert f["rebase_group"].tolist() == [0] * 7 + [1] * 7


def test_variation_and_assurance_helpers():
    f = spc.xmr([4, 6] * 6 + [20], target=25)
    assert spc.variation(f) == "special_cause_improvement"
    assert spc.assurance(f) in spc.ASSURANCE_TYPES
    assert spc.assurance(spc.xmr([4, 6] * 6)) is None
    empty = spc.xmr([])
    assert spc.variation(empty) is None and spc.assurance(empty) is None
    assert list(empty.columns) == list(spc.SPC_COLUMNS)


@pytest.mark.parametrize(
    ("values", "kwargs", "message"),
    [
        ([1, float("inf"), 3], {}, "infinite values at 1"),
        ([1, 2], {"improvement": "up"}, "improvement must be one of"),
        ([1, 2], {"rebase": [5]}, "rebase point 5 is not one of the chart's periods"),
        ([1, 2], {"target": float("inf")}, "target must be a finite number"),
        ([1, 2], {"fix_after_n_points": 12.5}, "whole number"),
        (["a", "b"], {}, "values must be numbers"),
    ],
)
def test_bad_input_is_explained(values, kwargs, message):
    with pytest.raises(ValueError, match=message):
        spc.xmr(values, **kwargs)


def test_unsorted_or_duplicated_periods_are_refused():
    with pytest.raises(ValueError, match="not in time order"):
        spc.xmr(pd.Series([1, 2, 3], index=["2024-03", "2024-01", "2024-02"]))
    with pytest.raises(ValueError, match="more than one value for '2024-01'"):
        spc.xmr(pd.Series([1, 2], index=["2024-01", "2024-01"]))


def test_a_rebase_label_matching_several_periods_is_refused():
    idx = pd.date_range("2023-04-01", periods=14, freq="MS")
    with pytest.raises(ValueError, match="matches several periods"):
        spc.xmr(pd.Series(range(14), index=idx, dtype=float), rebase=["2023"])


def test_p_chart_target_must_be_a_proportion():
    with pytest.raises(ValueError, match="proportion between 0 and 1"):
        spc.p_chart([1, 2], [10, 10], target=5)


# --- points on fewer than 8 cases ------------------------------------------------------------


def test_a_point_on_fewer_than_8_cases_gets_no_limit_and_no_signal():
    # 12 months of 8/100 and 12/100 in turn (no run, all inside 0.012-0.194), then 4 of 5:
    # 0.8 would be "Above UCL" even against a limit of its own (p-bar + 3 sqrt(p-bar
    # (1 - p-bar) / 5) = 0.51); on 5 cases it is not judged. p-bar = 124 / 1205.
    x, n = [8, 12] * 6 + [4], [100] * 12 + [5]
    frame = spc.p_chart(x, n, improvement="decrease", target=0.5)
    pbar = 124 / 1205
    assert frame["mean"].tolist() == pytest.approx([pbar] * 13)  # its cases still count
    assert pbar + 3 * math.sqrt(pbar * (1 - pbar) / 5) < 0.8
    last = frame.iloc[-1]
    assert not last["judged"] and frame["judged"].iloc[:-1].all()
    assert np.isnan([last["lpl"], last["upl"], last["nlpl"], last["nupl"]]).all()
    assert last["special_cause_type"] == "Common Cause" and not last["outside_limits"]
    assert frame["special_cause_flag"].sum() == 0
    # the icons speak for the last judged point; the assurance uses its limits:
    # upl = pbar + 3 sqrt(pbar (1 - pbar) / 100) = 0.194 < target 0.5 -> consistent pass
    # (against the unjudged point's own limit, 0.51 > 0.5, it would be "inconsistent")
    assert spc.variation(frame) == "common_cause"
    assert spc.assurance(frame) == "consistent_pass"


def test_the_run_rules_skip_a_point_on_fewer_than_8_cases():
    # Fixed on 12 months of 10/100 (p-bar 0.1, limits 0.01-0.19, near 0.04-0.16), then 15/100
    # three times, 0/5 (below the mean, but on 5 cases), 15/100 four times: seven judged points
    # above the centre line in a row, the unjudged one skipped.
    x = [10] * 12 + [15, 15, 15, 0, 15, 15, 15, 15]
    n = [100] * 12 + [100, 100, 100, 5, 100, 100, 100, 100]
    frame = spc.p_chart(x, n, fix_after_n_points=12)
    labels = frame["special_cause_type"].tolist()
    assert labels[:12] == ["Common Cause"] * 12
    assert labels[12:15] == ["7 Points Above CL"] * 3
    assert labels[15] == "Common Cause" and frame["relative_to_mean"].iloc[15] == 0
    assert labels[16:] == ["7 Points Above CL"] * 4
    # the same chart with the small month judged (on 8 cases, 0/8) has no run of 7
    n_judged = n[:15] + [8] + n[16:]
    judged = spc.p_chart(x, n_judged, fix_after_n_points=12)
    assert "7 Points Above CL" not in judged["special_cause_type"].tolist()


def test_no_judged_point_means_no_variation_icon():
    frame = spc.p_chart([1, 2, 3], [5, 6, 7])
    assert not frame["judged"].any()
    assert spc.variation(frame) is None
    assert frame["upl"].isna().all()


def test_the_rule_is_the_statistics_rule():
    from sjrlib import plots
    from sjrlib.stats.descriptive import MIN_CASES_FOR_INTERVAL

    assert spc.MIN_CASES_FOR_LIMITS == MIN_CASES_FOR_INTERVAL == plots.MIN_CASES == 8
