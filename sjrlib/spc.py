"""Statistical process control (SPC) by the NHS "Making Data Count" rules.

Two charts, both returning one row per point with the same columns (see :func:`xmr`):

- :func:`xmr`: the XmR (individuals) chart exactly as NHSRplotthedots computes it;
- :func:`p_chart`: a p-chart for monthly proportions with varying denominators, classified by the
  same special-cause rules against per-point limits.

Why this is written here rather than taken from PyPI: the Python SPC packages found (``abspc``,
``controlchartspy``, ``clinical-qikit``) use an 8-point shift and/or a 6-point trend (IHI/Nelson
rules) and none reproduces NHSRplotthedots' labels, precedence, near-limit 2-in-3 rule and
assurance, which is what NHS boards read.

The rules, with the NHSRplotthedots function each one follows (R sources in
``nhs-r-community/NHSRplotthedots``, package version 0.2.x):

- limits (``ptd_spc_standard``): mean +/- 2.66 x mean moving range (``amr``); near limits at
  2/3 of that distance (2 x 2.66 / 3). Moving ranges are taken within a rebase group only (the
  first point of a group has none). With ``screen_outliers`` every moving range
  ``>= 3.267 x amr`` is dropped and ``amr`` is recomputed from the rest; the *process mean is not
  recomputed* (NHSRplotthedots screens moving ranges only). With ``fix_after_n_points = n`` the
  mean and the moving ranges come from the first ``n`` points of each rebase group.
- special cause (``ptd_special_cause_type`` in ``ptd_calculate_point_type.R``), by precedence:

  1. ``"Above UCL"`` / ``"Below LCL"``: the point is outside the process limits;
  2. ``"7 Point Trend (Increasing)"`` / ``"(Decreasing)"``: the point is one of 7 consecutive
     points with 6 consecutive differences of the same sign (``ptd_seven_point_trend``; an equal
     neighbour breaks the trend). The direction shown is that of the step to the right when the
     next point is part of a trend too, else of the step from the left (NHSRplotthedots' rule;
     it labels a point "Decreasing" when that step is flat, which this module keeps);
  3. ``"2 in 3 Above CL"`` / ``"2 in 3 Below CL"``: in some window of 3 consecutive points all
     three lie strictly on one side of the mean and at least 2 are *close to the limits*
     (beyond a near limit but not outside the limits); only the close points are flagged
     (``ptd_two_in_three``, ``ptd_part_of_two_in_three``). Points outside the limits do not
     count towards 2-in-3;
  4. ``"7 Points Above CL"`` / ``"7 Points Below CL"``: the point is one of 7 or more consecutive
     points strictly on one side of the mean; a point exactly on the mean breaks the run
     (``ptd_seven_point_one_side_mean``, ``ptd_part_of_seven_trend``);
  5. otherwise ``"Common Cause"``.

  Each rule is applied within one rebase group.
- point type (``ptd_point_type``): a label containing "Above" or "Increasing" is high, "Below"
  or "Decreasing" is low; high is ``special_cause_improvement`` when improvement is an increase
  and ``special_cause_concern`` when it is a decrease (and the other way round for low);
  with a neutral direction ``special_cause_neutral_high`` / ``special_cause_neutral_low``.
- assurance (``ptd_calculate_assurance_type``): from the target and the limits of the *last*
  point: ``target > upl`` is a consistent fail when improvement is an increase (a pass when a
  decrease); ``target < lpl`` the opposite; otherwise ``inconsistent`` (also when the limits are
  undefined). None without a target or with a neutral direction. Given on every row of the
  last rebase group, None elsewhere (as ``summary.ptd_spc_df`` does).
- ``short_group_warning`` (``ptd_add_short_group_warnings``): the rebase group has 12 points or
  fewer, so its limits are trial limits. This is what 0.2.x's code does (``n() <
  warning_threshold`` with the default ``getOption("ptd_spc.warning_threshold", 13)``, since
  its commit 83781d2 of 2022-10-13; 0.1.0 had 12), although its warning and documentation
  still say "n < 12": a group of exactly 12 points has trial limits in R's output, and here.

Limits are undefined (NaN) when a group has no usable moving range (one point, or all moving
ranges zero and screened, e.g. a constant series); NHSRplotthedots gives NA then and flags no point
as outside or close to the limits, and so does this module (the run rules still apply).

Missing values (NaN or None) in an XmR series are handled as NHSRplotthedots 0.2.2 handles NA in
``y``; it has no option or warning for them, this is what its code does (the open upstream issue
nhs-r-community/NHSRplotthedots#156 asks what it should do):

- the row stays: value NaN, the limits of its group, ``special_cause_type`` "Common Cause",
  ``point_type`` "common_cause", never special cause; where R has NA in ``outside_limits``,
  ``relative_to_mean`` and ``close_to_limits`` this module keeps its column types and gives
  False, 0 and False;
- the mean is that of the values present (``mean(fix_y, na.rm = TRUE)``); a moving range
  touching a missing value is missing (``diff``) and dropped, so no moving range bridges the gap
  (5, 7, NA, 6 has the one moving range 2, not 2 and 1);
- a missing value breaks a run: no window of 7 (one side of the mean, trend) or of 3 (2-in-3)
  that contains it fires, and points on either side are not neighbours;
- it still counts as a point of its rebase group: in ``fix_after_n_points`` (the first n rows,
  ``row_number()``), in the group size of ``short_group_warning`` (``n()``), and as the last
  point of a chart, whose limits give the assurance and whose point type ("common_cause") gives
  :func:`variation`; a rebase at a missing value starts the group there; a group with no value
  has NaN mean and limits and is all common cause (as with dplyr >= 1.1, which 0.2.2's
  ``case_when(.default = )`` needs; older dplyr refuses the all-NA labels there);
- NHSRplotthedots *stops with an error* ("missing value where TRUE/FALSE needed", in
  ``ptd_seven_point_trend``) when a window of 7 points that contains a missing value has all its
  other steps rising, or all falling (including when it has no other step). :func:`xmr` refuses
  the same series, saying where.

Infinite values are refused: NHSRplotthedots takes one into the mean, which becomes infinite,
and then flags every other point of the group as outside the limits; that is no chart.
:func:`p_chart` refuses missing values too (NHSRplotthedots has no p-chart, so no rule to follow).

A p-chart point resting on fewer than :data:`MIN_CASES_FOR_LIMITS` (8) cases (its denominator) is
not judged: it gets no limits (NaN), is never a special cause, and the run rules skip over it
(the points before and after it count as neighbours). Its cases still count in the centre line.
Its ``judged`` column is False. This is the programme's rule that no interval or estimate is
shown on fewer than 8 cases (``shared/spec/privacy-and-disclosure.md``): a limit around a
proportion of 2 of 5 would be wide, and would flag nothing real.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "ASSURANCE_TYPES",
    "IMPROVEMENTS",
    "LIMIT",
    "MIN_CASES_FOR_LIMITS",
    "NEAR_LIMIT",
    "POINT_TYPES",
    "SCREEN_FACTOR",
    "SHORT_GROUP_THRESHOLD",
    "SPECIAL_CAUSE_TYPES",
    "SPC_COLUMNS",
    "Detectability",
    "assurance",
    "detectable_change",
    "p_chart",
    "variation",
    "xmr",
]

Improvement = Literal["increase", "decrease", "neutral"]

LIMIT = 2.66
"""Process limits sit at mean +/- LIMIT x mean moving range (3 sigma, as 3 / 1.128)."""
NEAR_LIMIT = 2 * LIMIT / 3
"""Near limits (2 sigma) used by the 2-in-3 rule."""
SCREEN_FACTOR = 3.267
"""Moving ranges >= SCREEN_FACTOR x mean moving range are screened out (D4 for n = 2)."""
SHORT_GROUP_THRESHOLD = 13
"""Groups with fewer points than this (12 or fewer) have trial limits: NHSRplotthedots 0.2.x's
default warning threshold, as its code applies it (module docstring)."""
MIN_CASES_FOR_LIMITS = 8
"""A p-chart point on fewer cases than this gets no limits and is not judged (the same rule as
``sjrlib.stats.descriptive.MIN_CASES_FOR_INTERVAL``)."""
_MIN_FIX_AFTER = 12
_RUN = 7

IMPROVEMENTS: tuple[str, ...] = ("increase", "decrease", "neutral")
SPECIAL_CAUSE_TYPES: tuple[str, ...] = (
    "Above UCL",
    "Below LCL",
    "7 Point Trend (Increasing)",
    "7 Point Trend (Decreasing)",
    "2 in 3 Above CL",
    "2 in 3 Below CL",
    "7 Points Above CL",
    "7 Points Below CL",
    "Common Cause",
)
"""The special-cause labels of NHSRplotthedots, in order of precedence."""
POINT_TYPES: tuple[str, ...] = (
    "common_cause",
    "special_cause_improvement",
    "special_cause_concern",
    "special_cause_neutral_high",
    "special_cause_neutral_low",
)
ASSURANCE_TYPES: tuple[str, ...] = ("consistent_pass", "consistent_fail", "inconsistent")

SPC_COLUMNS: tuple[str, ...] = (
    "value",
    "rebase_group",
    "mean",
    "lpl",
    "upl",
    "nlpl",
    "nupl",
    "outside_limits",
    "relative_to_mean",
    "close_to_limits",
    "special_cause_type",
    "special_cause_flag",
    "point_type",
    "short_group_warning",
    "target",
    "assurance",
)
"""Columns every SPC frame has, in this order (a p-chart adds ``numerator``, ``denominator``)."""

_DIRECTION = {"increase": 1, "decrease": -1, "neutral": 0}


# --- the rules, on one rebase group (NHSRplotthedots: ptd_calculate_point_type.R) -------------


def _windows(v: np.ndarray, width: int) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(v, width)


def _seven_point_one_side_mean(rtm: np.ndarray) -> np.ndarray:
    """True where this point and the 6 before it lie strictly on the same side of the mean."""
    out = np.zeros(len(rtm), dtype=bool)
    if len(rtm) >= _RUN:
        w = _windows(rtm, _RUN)
        out[_RUN - 1 :] = (w == w[:, -1:]).all(axis=1) & (w[:, -1] != 0)
    return out


def _part_of_seven(flags: np.ndarray) -> np.ndarray:
    """True where this point or one of the next 6 ends a run of 7 (so this point is in it)."""
    padded = np.concatenate([flags != 0, np.zeros(_RUN - 1, dtype=bool)])
    return _windows(padded, _RUN).any(axis=1)


def _seven_point_trend(y: np.ndarray) -> np.ndarray:
    """+1 / -1 where this point ends 7 strictly increasing / decreasing points, else 0."""
    out = np.zeros(len(y), dtype=int)
    if len(y) >= _RUN:
        w = _windows(np.sign(np.diff(y)), _RUN - 1)
        out[_RUN - 1 :] = np.where((w == 1).all(axis=1), 1, np.where((w == -1).all(axis=1), -1, 0))
    return out


def _trend_undefined(y: np.ndarray) -> np.ndarray:
    """True where the window of 7 ending here makes NHSRplotthedots stop with an error.

    ``ptd_seven_point_trend`` evaluates ``if (all(d == 1))`` then ``if (all(d == -1))`` on the 6
    step signs ``d`` of the window; a step touching a missing value is NA, and ``all()`` is NA
    (an error in ``if``) when no step is FALSE and one is NA: the window has a missing step and
    all its other steps rise, or (the first test FALSE) all fall."""
    out = np.zeros(len(y), dtype=bool)
    if len(y) >= _RUN:
        w = _windows(np.sign(np.diff(y)), _RUN - 1)
        gap = np.isnan(w)
        out[_RUN - 1 :] = gap.any(axis=1) & (
            ((w == 1) | gap).all(axis=1) | ((w == -1) | gap).all(axis=1)
        )
    return out


def _two_in_three(close: np.ndarray, rtm: np.ndarray) -> np.ndarray:
    """True where a window of 3 containing the point has >= 2 close points, all 3 on one side,
    and the point itself is close."""
    n = len(close)
    if n < 3:
        return np.zeros(n, dtype=bool)
    ok = (_windows(close.astype(int), 3).sum(axis=1) >= 2) & (
        np.abs(_windows(rtm, 3).sum(axis=1)) == 3
    )
    # point i lies in the windows starting at i-2, i-1 and i
    padded = np.concatenate([[False, False], ok, [False, False]])
    covered = padded[:n] | padded[1 : n + 1] | padded[2 : n + 2]
    # only the points that are themselves close to the limits are flagged
    return covered & close


def _special_cause_type(
    y: np.ndarray, rtm: np.ndarray, close: np.ndarray, outside: np.ndarray
) -> np.ndarray:
    n = len(y)
    if n == 0:
        return np.zeros(0, dtype=object)
    part_trend = _part_of_seven(_seven_point_trend(y))
    part_two_in_three = _two_in_three(close, rtm)
    part_one_side = _part_of_seven(_seven_point_one_side_mean(rtm))

    steps = np.sign(np.diff(y))
    from_left = np.concatenate([[0.0], steps])
    to_right = np.concatenate([steps, steps[-1:]]) if n > 1 else np.zeros(n)
    next_in_trend = np.concatenate([part_trend[1:], [False]])
    trend_sign = np.where(next_in_trend & part_trend, to_right, from_left)

    above = rtm > 0
    return np.select(
        [outside, part_trend, part_two_in_three, part_one_side],
        [
            np.where(rtm == 1, "Above UCL", "Below LCL"),
            np.where(trend_sign == 1, "7 Point Trend (Increasing)", "7 Point Trend (Decreasing)"),
            np.where(above, "2 in 3 Above CL", "2 in 3 Below CL"),
            np.where(above, "7 Points Above CL", "7 Points Below CL"),
        ],
        default="Common Cause",
    ).astype(object)


def _label_side(label: str) -> int:
    """+1 for a high label ("Above", "Increasing"), -1 for a low one, 0 for common cause."""
    if "Above" in label or "Increasing" in label:
        return 1
    if "Below" in label or "Decreasing" in label:
        return -1
    return 0


_LABEL_SIDE = {label: _label_side(label) for label in SPECIAL_CAUSE_TYPES}


def _point_types(labels: np.ndarray, direction: int) -> np.ndarray:
    """ptd_point_type: orient the label's side by the improvement direction."""
    side = np.array([_LABEL_SIDE[lab] for lab in labels], dtype=int)
    if direction == 0:
        choices = ["special_cause_neutral_high", "special_cause_neutral_low"]
        return np.select([side > 0, side < 0], choices, default="common_cause").astype(object)
    oriented = side * direction
    return np.select(
        [oriented > 0, oriented < 0],
        ["special_cause_improvement", "special_cause_concern"],
        default="common_cause",
    ).astype(object)


def _classify(
    y: np.ndarray,
    mean: np.ndarray,
    lpl: np.ndarray,
    upl: np.ndarray,
    nlpl: np.ndarray,
    nupl: np.ndarray,
    direction: int,
) -> dict[str, object]:
    """Flags, labels and point types of one rebase group (NaN limits flag nothing).

    A missing value (NaN) is not outside, not close and on no side of the mean (R: NA in all
    three); 0 breaks the runs of 7 and the windows of 3 exactly as R's NA does there."""
    with np.errstate(invalid="ignore"):
        outside = (y > upl) | (y < lpl)
        diff = y - mean
        rtm = np.where(np.isnan(diff), 0, np.sign(diff)).astype(int)
        close = ~outside & ((y < nlpl) | (y > nupl))
    labels = _special_cause_type(y, rtm, close, outside)
    return {
        "outside_limits": outside,
        "relative_to_mean": rtm,
        "close_to_limits": close,
        "special_cause_type": labels,
        "special_cause_flag": labels != "Common Cause",
        "point_type": _point_types(labels, direction),
    }


# --- limits ---------------------------------------------------------------------------------


def _mean(v: np.ndarray) -> float:
    """The mean of ``v`` correctly rounded, as R's ``mean()`` gives it.

    R accumulates in long double and adds a second, corrective pass, so ``mean(c(0.1, 0.2,
    0.3))`` is exactly ``0.2``; numpy's float64 sum gives ``0.20000000000000004``. The
    difference decides whether a point "on the mean" is on it (and breaks a run of 7 on one
    side) or just beside it, so the mean is taken exactly here (sum of the exact rational values
    of the floats, rounded once)."""
    if v.size == 0:
        return float("nan")
    return float(sum(map(Fraction, v.tolist())) / v.size)


def _xmr_limits(
    y: np.ndarray, fix_after_n_points: int | None, screen_outliers: bool
) -> tuple[float, float]:
    """Mean and mean moving range of one group (NHSRplotthedots: ptd_spc_standard).

    Missing values count as rows for ``fix_after_n_points`` and are left out of the mean; a
    moving range next to one is missing and left out (R: ``na.rm = TRUE`` on both)."""
    base = y if fix_after_n_points is None else y[:fix_after_n_points]
    mean = _mean(base[~np.isnan(base)])
    mr = np.abs(np.diff(base))
    mr = mr[~np.isnan(mr)]
    if mr.size == 0:
        return mean, float("nan")
    amr = _mean(mr)
    if screen_outliers:
        mr = mr[mr < SCREEN_FACTOR * amr]
        amr = _mean(mr)
    return mean, amr


# --- input handling -------------------------------------------------------------------------


def _as_series(
    values: Sequence[float] | np.ndarray | pd.Series, name: str, *, missing: str | None = None
) -> pd.Series:
    """Float Series in time order, one value per period, no infinity.

    Missing values (NaN, None) are kept when ``missing`` is None; otherwise they are refused and
    ``missing`` says why in the message."""
    if isinstance(values, pd.Series):
        s = values
    else:
        s = pd.Series(list(values) if not isinstance(values, np.ndarray) else values)
    try:
        s = pd.to_numeric(s, errors="raise").astype("float64")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numbers: {exc}") from None
    v = s.to_numpy()
    infinite = s.index[np.isinf(v)]
    if len(infinite):
        shown = ", ".join(repr(b) for b in list(infinite)[:5])
        raise ValueError(
            f"{name} has infinite values at {shown}; an SPC chart needs finite values "
            "(NHSRplotthedots would take one into the mean and flag every other point)"
        )
    gaps = s.index[np.isnan(v)]
    if missing is not None and len(gaps):
        shown = ", ".join(repr(b) for b in list(gaps)[:5])
        raise ValueError(f"{name} has missing values at {shown}; {missing}")
    if not s.index.is_unique:
        dup = s.index[s.index.duplicated()][0]
        raise ValueError(f"{name} has more than one value for {dup!r}; one point per period")
    if len(s) > 1 and not s.index.is_monotonic_increasing:
        raise ValueError(
            f"{name} is not in time order (its index is not increasing); sort it first, "
            "e.g. values.sort_index()"
        )
    return s


def _check_options(
    improvement: str, fix_after_n_points: int | None, target: float | None
) -> int:
    if improvement not in _DIRECTION:
        raise ValueError(
            f"improvement must be one of {list(IMPROVEMENTS)}, not {improvement!r}"
        )
    if fix_after_n_points is not None:
        if (
            isinstance(fix_after_n_points, bool)
            or not isinstance(fix_after_n_points, (int, np.integer))
            or fix_after_n_points < _MIN_FIX_AFTER
        ):
            raise ValueError(
                "fix_after_n_points must be a whole number of at least "
                f"{_MIN_FIX_AFTER} (NHSRplotthedots' minimum), not {fix_after_n_points!r}"
            )
    if target is not None and not np.isfinite(float(target)):
        raise ValueError(f"target must be a finite number, not {target!r}")
    return _DIRECTION[improvement]


def _rebase_groups(index: pd.Index, rebase: Sequence[Hashable] | None) -> np.ndarray:
    """Group number per point: the cumulative count of rebase points (ptd_add_rebase_column)."""
    starts = np.zeros(len(index), dtype=int)
    if rebase is None:
        return starts
    if isinstance(rebase, (str, bytes)) or not isinstance(rebase, Sequence | pd.Index | np.ndarray):
        rebase = [rebase]
    for label in rebase:
        if label not in index:
            raise ValueError(
                f"rebase point {label!r} is not one of the chart's periods "
                f"({index[0]!r} ... {index[-1]!r})" if len(index) else
                f"rebase point {label!r} given for an empty chart"
            )
        loc = index.get_loc(label)
        if not isinstance(loc, (int, np.integer)):
            raise ValueError(
                f"rebase point {label!r} matches several periods; give one period exactly"
            )
        starts[loc] = 1
    return np.cumsum(starts)


def _joined(parts: list, dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)


def _assemble(
    index: pd.Index,
    groups: np.ndarray,
    y: np.ndarray,
    limits: dict[str, np.ndarray],
    direction: int,
    improvement: str,
    target: float | None,
    chart: str,
    extra: dict[str, np.ndarray] | None = None,
    judged: np.ndarray | None = None,
) -> pd.DataFrame:
    """Classify each rebase group against its limits and build the frame in one go.

    Only ``judged`` points (default: all) are classified, as one series per group; the others
    are common cause, on no side of the mean, with NaN limits."""
    n = len(y)
    judged = np.ones(n, dtype=bool) if judged is None else judged
    for key in ("lpl", "upl", "nlpl", "nupl"):
        limits[key] = np.where(judged, limits[key], np.nan)
    outside = np.zeros(n, dtype=bool)
    rtm = np.zeros(n, dtype=int)
    close = np.zeros(n, dtype=bool)
    labels = np.full(n, "Common Cause", dtype=object)
    types = np.full(n, "common_cause", dtype=object)
    short = np.zeros(n, dtype=bool)
    for g in np.unique(groups):
        mask = groups == g
        sel = mask & judged
        got = _classify(y[sel], *(limits[k][sel] for k in ("mean", "lpl", "upl", "nlpl",
                                                            "nupl")), direction)
        outside[sel] = got["outside_limits"]
        rtm[sel] = got["relative_to_mean"]
        close[sel] = got["close_to_limits"]
        labels[sel] = got["special_cause_type"]
        types[sel] = got["point_type"]
        short[mask] = sel.sum() < SHORT_GROUP_THRESHOLD
    assurance_col = np.full(n, None, dtype=object)
    if target is not None and improvement != "neutral" and n:
        last = groups == groups[-1]
        usable = np.flatnonzero(last & judged)
        at = usable[-1] if len(usable) else n - 1  # none judged: NaN limits, "inconsistent"
        kind = _assurance_type(float(target), limits["lpl"][at], limits["upl"][at], improvement)
        assurance_col[last] = kind
    data: dict[str, object] = dict(extra or {})
    data.update({"value": y, "rebase_group": groups})
    data.update({k: limits[k] for k in ("mean", "lpl", "upl", "nlpl", "nupl")})
    data["outside_limits"] = outside
    data["relative_to_mean"] = rtm
    data["close_to_limits"] = close
    data["special_cause_type"] = pd.array(labels, dtype="str")
    data["special_cause_flag"] = labels != "Common Cause"
    data["point_type"] = pd.array(types, dtype="str")
    data["short_group_warning"] = short
    data["target"] = np.full(n, np.nan if target is None else float(target))
    # object dtype keeps None (pandas 3 would infer a string column and turn None into NaN)
    data["assurance"] = pd.Series(assurance_col, index=index, dtype=object)
    frame = pd.DataFrame(data, index=index)
    frame.attrs.update({"chart": chart, "improvement": improvement, "target": target})
    return frame


def _assurance_type(target: float, lpl: float, upl: float, improvement: str) -> str:
    increasing = improvement == "increase"
    if target > upl:
        return "consistent_fail" if increasing else "consistent_pass"
    if target < lpl:
        return "consistent_pass" if increasing else "consistent_fail"
    # NaN limits compare False both ways and fall here, as case_when's TRUE branch does in R
    return "inconsistent"


# --- public ---------------------------------------------------------------------------------


def xmr(
    values: Sequence[float] | np.ndarray | pd.Series,
    *,
    improvement: Improvement = "increase",
    screen_outliers: bool = True,
    fix_after_n_points: int | None = None,
    rebase: Sequence[Hashable] | None = None,
    target: float | None = None,
) -> pd.DataFrame:
    """XmR chart of a series by the Making Data Count rules (NHSRplotthedots ``ptd_spc``).

    Parameters
    ----------
    values
        One value per period, in time order. A Series keeps its index (e.g. months); a list or
        array is indexed 0..n-1. A period without a value is NaN (or None): it keeps its row and
        is handled as NHSRplotthedots handles NA (module docstring); infinite values are
        refused.
    improvement
        ``"increase"``, ``"decrease"`` or ``"neutral"``: which direction is better.
    screen_outliers
        Drop moving ranges >= 3.267 x the mean moving range before computing the limits.
    fix_after_n_points
        Compute mean and limits from the first n (>= 12) points of each rebase group only.
    rebase
        Index labels (positions for a list) at which a new period of limits starts.
    target
        A single target value, for the assurance.

    Returns
    -------
    pandas.DataFrame
        One row per point, indexed like ``values``, with columns :data:`SPC_COLUMNS`:
        ``value``, ``rebase_group`` (0, 1, ...), ``mean``, ``lpl``/``upl`` (process limits),
        ``nlpl``/``nupl`` (near limits), ``outside_limits``, ``relative_to_mean`` (-1, 0, 1),
        ``close_to_limits``, ``special_cause_type`` (:data:`SPECIAL_CAUSE_TYPES`),
        ``special_cause_flag``, ``point_type`` (:data:`POINT_TYPES`), ``short_group_warning``,
        ``target`` and ``assurance`` (:data:`ASSURANCE_TYPES` or None). ``frame.attrs`` holds
        ``chart="xmr"``, ``improvement`` and ``target``.

    Raises
    ------
    ValueError
        For bad options, values that are not numbers, infinite, duplicated or out of time order
        periods; and for a missing value where NHSRplotthedots stops with an error (a window of
        7 points holding it whose other steps all rise, or all fall: module docstring).

    Notes
    -----
    The rules and the NHSRplotthedots function each follows are listed in the module docstring.
    NHSRplotthedots silently ignores a rebase date that is not in the data; this function raises.
    A missing value's row has NaN ``value``, the limits of its group and "Common Cause"; the mean
    and moving ranges leave it out, and no moving range or run crosses it.

    References
    ----------
    NHS England, Making Data Count (2019); NHS-R Community, NHSRplotthedots (R package),
    ``R/ptd_spc_standard.R``, ``R/ptd_calculate_point_type.R``,
    ``R/ptd_calculate_assurance_type.R``.
    """
    direction = _check_options(improvement, fix_after_n_points, target)
    s = _as_series(values, "values")
    groups = _rebase_groups(s.index, rebase)
    y = s.to_numpy()
    limits = {k: np.empty(len(y)) for k in ("mean", "lpl", "upl", "nlpl", "nupl")}
    for g in np.unique(groups):
        mask = groups == g
        stops = _trend_undefined(y[mask])
        if stops.any():
            at = s.index[np.flatnonzero(mask)[np.argmax(stops)]]
            raise ValueError(
                f"values: the 7 points ending at {at!r} include a missing value and their other "
                "steps all rise or all fall; NHSRplotthedots stops there with an error "
                "(ptd_seven_point_trend: 'missing value where TRUE/FALSE needed'), so no chart "
                "is made (fill or drop the missing value explicitly)"
            )
        mean, amr = _xmr_limits(y[mask], fix_after_n_points, screen_outliers)
        limits["mean"][mask] = mean
        limits["lpl"][mask] = mean - LIMIT * amr
        limits["upl"][mask] = mean + LIMIT * amr
        limits["nlpl"][mask] = mean - NEAR_LIMIT * amr
        limits["nupl"][mask] = mean + NEAR_LIMIT * amr
    return _assemble(s.index, groups, y, limits, direction, improvement, target, "xmr")


def p_chart(
    numerators: Sequence[float] | np.ndarray | pd.Series,
    denominators: Sequence[float] | np.ndarray | pd.Series,
    *,
    improvement: Improvement = "increase",
    fix_after_n_points: int | None = None,
    rebase: Sequence[Hashable] | None = None,
    target: float | None = None,
) -> pd.DataFrame:
    """p-chart of proportions with varying denominators, classified by the same rules.

    Parameters
    ----------
    numerators, denominators
        Counts per period in time order (e.g. reviews judged poor care, reviews done).
        Denominators must be positive; 0 <= numerator <= denominator. Missing values are
        refused (unlike :func:`xmr`).
    improvement, fix_after_n_points, rebase, target
        As for :func:`xmr`; ``target`` is a proportion (0-1).

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`xmr` (``value`` is the proportion) after ``numerator``,
        ``denominator`` and ``judged`` (the denominator is at least
        :data:`MIN_CASES_FOR_LIMITS`); ``frame.attrs["chart"] == "p"``. A point that is not
        judged has NaN limits and is common cause, and the run rules skip it.

    Notes
    -----
    Centre line p-bar = sum(numerators) / sum(denominators) of the rebase group (of its first
    ``fix_after_n_points`` points when fixed). Limits are per point:
    p-bar +/- 3 sqrt(p-bar (1 - p-bar) / n_i), near limits at 2 sigma, all clipped to [0, 1].
    There is no moving-range screening (the sigma comes from the binomial model, not from the
    moving ranges). The special-cause rules, point types and assurance are those of :func:`xmr`
    applied with these per-point limits; the assurance uses the limits of the last point, whose
    width depends on that point's denominator. NHSRplotthedots has no p-chart: this choice is
    this module's, following the usual Shewhart p-chart (Montgomery, Introduction to
    Statistical Quality Control, ch. 7). Points on fewer than 8 cases are left unjudged (module
    docstring); the assurance then uses the limits of the last judged point.
    """
    direction = _check_options(improvement, fix_after_n_points, target)
    if target is not None and not 0 <= float(target) <= 1:
        raise ValueError(f"a p-chart target is a proportion between 0 and 1, not {target!r}")
    refused = ("a p-chart needs counts for every period (NHSRplotthedots has no p-chart, so "
               "no rule for a gap to follow; fill or drop the period explicitly)")
    x = _as_series(numerators, "numerators", missing=refused)
    d = _as_series(denominators, "denominators", missing=refused)
    if len(x) != len(d) or not x.index.equals(d.index):
        raise ValueError(
            f"numerators ({len(x)}) and denominators ({len(d)}) must cover the same periods"
        )
    if (d <= 0).any():
        raise ValueError(f"denominators must be positive; zero or less at {d.index[d <= 0][0]!r}")
    if ((x < 0) | (x > d)).any():
        where = x.index[(x < 0) | (x > d)][0]
        raise ValueError(f"numerator must be between 0 and its denominator; not so at {where!r}")
    groups = _rebase_groups(x.index, rebase)
    xs, ds = x.to_numpy(), d.to_numpy()
    y = xs / ds if len(xs) else np.zeros(0)
    limits = {k: np.empty(len(y)) for k in ("mean", "lpl", "upl", "nlpl", "nupl")}
    for g in np.unique(groups):
        mask = groups == g
        k = int(mask.sum()) if fix_after_n_points is None else fix_after_n_points
        pbar = float(xs[mask][:k].sum() / ds[mask][:k].sum())
        sigma = np.sqrt(pbar * (1 - pbar) / ds[mask])
        limits["mean"][mask] = pbar
        limits["lpl"][mask] = np.clip(pbar - 3 * sigma, 0, 1)
        limits["upl"][mask] = np.clip(pbar + 3 * sigma, 0, 1)
        limits["nlpl"][mask] = np.clip(pbar - 2 * sigma, 0, 1)
        limits["nupl"][mask] = np.clip(pbar + 2 * sigma, 0, 1)
    judged = ds >= MIN_CASES_FOR_LIMITS
    return _assemble(x.index, groups, y, limits, direction, improvement, target, "p",
                     extra={"numerator": xs, "denominator": ds, "judged": judged},
                     judged=judged)


def variation(frame: pd.DataFrame) -> str | None:
    """The variation icon of a chart: the point type of its last point (``ptd_get_icons``);
    for a p-chart, of its last judged point.

    Returns one of :data:`POINT_TYPES`, or None for an empty chart (or one with no judged
    point).
    """
    if "judged" in frame:
        frame = frame[frame["judged"].to_numpy(bool)]
    if frame.empty:
        return None
    return str(frame["point_type"].iloc[-1])


def assurance(frame: pd.DataFrame) -> str | None:
    """The assurance of a chart (one of :data:`ASSURANCE_TYPES`), or None without a target."""
    if frame.empty:
        return None
    value = frame["assurance"].iloc[-1]
    return None if value is None or pd.isna(value) else str(value)


@dataclass(frozen=True)
class Detectability:
    """What change a p-chart can show at its own volume (see :func:`detectable_change`).

    Attributes
    ----------
    baseline
        The mean proportion of the chart's latest rebase group.
    typical_n
        The median denominator of that group's judged points.
    direction
        +1 when a rise is the change of concern (or the measure is neutral), -1 a fall.
    detected_at
        The true proportion at which a single point falls beyond the limit with probability
        1/2; None when no single point can (the limit lies at 0% or 100%).
    doubling_probability
        The probability that one point falls beyond the limit if the true proportion doubles
        (a rise) or halves (a fall); None when it cannot.
    """

    baseline: float
    typical_n: int
    direction: int
    detected_at: float | None
    doubling_probability: float | None

    @property
    def ratio(self) -> float | None:
        if self.detected_at is None or self.baseline <= 0:
            return None
        return self.detected_at / self.baseline


def detectable_change(frame: pd.DataFrame) -> Detectability | None:
    """How large a change one point of a p-chart (:func:`p_chart`) detects at its volume.

    At the median denominator ``n`` of the latest rebase group's judged points and its mean
    ``p``, the limit is ``p +/- 3 sqrt(p (1 - p) / n)``; the number of cases in a point is
    binomial. Returned: the true proportion at which one point crosses the limit (in the
    direction of concern) with probability 1/2, and the probability that it does if the
    proportion doubles (or halves, for a fall). None for a chart that is not a p-chart or has no
    judged point. A chart that shows "no change" says nothing about changes smaller than this.
    """
    from scipy.optimize import brentq
    from scipy.stats import binom

    if frame.attrs.get("chart") != "p" or frame.empty or "denominator" not in frame:
        return None
    last = frame[frame["rebase_group"] == frame["rebase_group"].iloc[-1]]
    judged = last[last["judged"].to_numpy(bool)] if "judged" in last else last
    if judged.empty:
        return None
    n = int(np.median(judged["denominator"].to_numpy(float)))
    p = float(judged["mean"].iloc[-1])
    direction = -1 if frame.attrs.get("improvement") == "increase" else 1
    if n <= 0 or not 0 < p < 1:
        return Detectability(p, n, direction, None, None)
    half = 3 * np.sqrt(p * (1 - p) / n)
    if direction > 0:
        limit = p + half
        k = int(np.floor(n * limit))                     # beyond: more than k cases

        def beyond(q: float) -> float:
            return float(binom.sf(k, n, q))

        low, high, changed = p, 1.0, min(2 * p, 1.0)
    else:
        limit = p - half
        k = int(np.ceil(n * limit)) - 1                   # beyond: at most k cases

        def beyond(q: float) -> float:
            return float(binom.cdf(k, n, q)) if k >= 0 else 0.0

        low, high, changed = 0.0, p, p / 2
    if (direction > 0 and limit >= 1) or (direction < 0 and k < 0):
        return Detectability(p, n, direction, None, None)
    at = float(brentq(lambda q: beyond(q) - 0.5, low, high)) \
        if (beyond(low) - 0.5) * (beyond(high) - 0.5) < 0 else None
    return Detectability(p, n, direction, at, beyond(changed))
