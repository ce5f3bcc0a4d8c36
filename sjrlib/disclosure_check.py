"""The attacker: try to recover the counts disclosure control hid or rounded in published reports.

``sjr disclosure check FOLDER...`` reads every report page (``*.html``) and Learning from Deaths
workbook (``*.xlsx``) under the folders given (one period's reports: ``reports/<period>``) and
does what a determined reader with those files would do:

* every published count becomes an unknown with the range its printed form allows: ``*`` is 1
  or more (a secondary suppression can hide any non-zero count), ``15`` under "rounded to the
  nearest 5" is 13-17 (and more than the suppression threshold), ``0`` is 0, an unrounded count
  is itself;
* every relation the page's layout declares ties them together: quarters add up to the year's
  total row, avoidability scores and "not scored" add up to the reviewed deaths, care scores to
  the reviews scoring the phase, harm answers to the reviews recording a problem, second-stage
  scores to their total; nation rows to "England and Scotland"; across reports of one period,
  each nation's (and both nations') totals in the national report to the sum of every
  organisation's cells of that nation, and the national table of care scores, problems and
  avoidability to the sum of the organisations' tables;
* a percentage (with its confidence interval, where one is printed) is taken at its word: the
  exact numerator over the exact base, rounded as printed. Only a table whose note says its
  percentages are computed from the rounded counts shown is read that way instead (and then
  the percentages must agree with those counts, or they are taken at their word after all);
* the ranges are narrowed by interval propagation over all relations at once until nothing
  changes; a hidden or rounded count left with a single possible value has been recovered;
* a ``*`` left with a range that allows some but not all of 1 to the threshold (a ``*`` of
  "1 to 7" shown to be 1-3 by a total) has been narrowed: its control told less than the page
  does. A rounded count narrowed within its rounding (13-17 to 14-16) is accepted.

The attack is sound (every value it reports is forced by what is printed, if the page's
relations hold) but not complete: a finding is a proven leak, no finding is evidence, not proof.
"""

from __future__ import annotations

import functools
import html
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sjrlib.disclosure import TOGETHER
from sjrlib.disclosure_pages import PublishedTable, read_page, read_workbook
from sjrlib.report.tables import EXCEEDS

__all__ = ["Finding", "Problem", "check_reports", "count_range"]

_INF = None

LEARNING_CAPTIONS = ("Themes coded in reviews", "Themes among reviews",
                     "Good practice noted by reviewers")
"""Tables of themes (``sjrlib.report.learning``): base, count and percentage per row, read as
the reasons-for-review table is (a review may carry several themes, so rows do not add up)."""
THEME_TABLES = ("Themes coded in reviews this period (reviews coded by a person)",
                "Themes among reviews finding poor or very poor overall care",
                "Themes among reviews finding good or excellent overall care")
"""A trust's themes tables: among all coded reviews, and two parts of them
(``sjrlib.report.learning.TrustLearning``)."""
CHART_DATA = "Chart data: "
"""How the caption of a chart's data table begins (``sjrlib.report.learning.PublishedChart``
writes it with this constant): the values an SPC chart of the page plots (theme charts, impact
charts), one row per month or quarter: its base, its count and the percentage plotted. Read as
every other table: the counts with the ranges their printed form allows, the percentage against
them; and, for a chart of a theme, the points of the report's period add up to the theme's row
of the period's themes table (its count and its base). A count printed in a form disclosure
control never prints (under "rounded to the nearest 5", a 13; under "1 to 7 are shown as *", a
3) is a finding by itself: the chart shows what control hides."""
LFD_CHART_DATA = CHART_DATA + "Learning from Deaths, "
"""The national Learning from Deaths chart's data table (``sjrlib.report.national``): per
quarter of the chart's window, deaths in scope, deaths reviewed and deaths more likely than not
due to problems in care; each quarter is the sum of the organisations' same quarter, and the
period's quarters add up to the nation table's "England and Scotland"."""
THEMES_TABLE = "Themes coded in reviews this period"
NONE_CODED = "No review of this period has been coded with themes yet."
"""What an organisation's report says instead of its themes tables while none of its reviews of
the period is coded (``sjrlib.report.learning``): its counts are 0."""
NATIONAL_THEMES_TABLE = "Themes coded in reviews: England and Scotland"
"""The national report's themes table of both nations, which the national theme charts' points
of the period add up to (each nation's own table has no chart)."""
_MONTHS = ("January February March April May June July August September October November "
           "December").split()
_PERIOD = re.compile(r"deaths from (" + "|".join(_MONTHS) + r") (\d{4}) to (" + "|".join(_MONTHS)
                     + r") (\d{4})")
_QUARTER = re.compile(r"(\d{4})/\d{2} Q([1-4])")
_HEADLINE = re.compile(r"(England|Scotland|England and Scotland together): ([\d.]+)% of "
                       r"([\d,]+) first-stage reviews found poor or very poor overall care")
"""The national headline's sentence on a nation's poor care (``sjrlib.report.national.
poor_care_sentence``)."""


@dataclass
class _Var:
    key: tuple
    lo: int
    hi: int | None
    shown: str
    where: str
    controlled: bool  # hidden (*) or rounded: recovering it is a disclosure
    aux: bool = False
    small: int = 0  # for a ``*``: the threshold of its rule (it stands for 1 to this, or more)
    lo0: int = 0  # the low end the printed form allows, before any relation narrows it

    def __post_init__(self) -> None:
        self.lo0 = self.lo


@dataclass(frozen=True)
class Finding:
    """One recovered count: where it is published, as what, and what it must be."""

    where: str
    shown: str
    value: int
    how: str
    key: tuple = field(default=(), compare=False)
    high: int | None = field(default=None, compare=False)
    """For a narrowed ``*`` (``narrowed``): the largest value left, None for no upper limit
    (``value`` is the smallest)."""
    narrowed: bool = field(default=False, compare=False)

    def __str__(self) -> str:
        if self.narrowed:
            left = f"{self.value} or more" if self.high is None else f"{self.value}-{self.high}"
            return f"{self.where}: shown as {self.shown!r}, narrowed to {left} ({self.how})"
        return f"{self.where}: shown as {self.shown!r}, must be {self.value} ({self.how})"


def count_range(text: str, threshold: int, rounding: int) -> tuple[int, int | None, bool] | None:
    """The true counts a printed cell allows, under a rule that suppresses 1 to ``threshold``
    and rounds to the nearest ``rounding`` (halves up).

    Returns ``(low, high, controlled)`` (``high`` None = no upper limit), or None when the text
    is not a count. ``controlled`` says whether the printed form hides the exact value.
    """
    t = text.strip().replace(",", "")
    if t in ("*", "\u2217"):
        return (1, None, True) if threshold > 0 else None
    if not re.fullmatch(r"\d+", t):
        return None
    r = int(t)
    if r == 0:
        return 0, 0, False
    if rounding <= 1:
        return r, r, False
    lo = math.ceil(r - rounding / 2)
    hi = math.ceil(r + rounding / 2) - 1
    return max(lo, threshold + 1, 1), hi, True


def _percent_text(text: str) -> tuple[float, int] | None:
    t = text.strip()
    m = re.fullmatch(r"(\d+(?:\.(\d+))?)%", t)
    if not m:
        return None
    return float(m.group(1)), len(m.group(2) or "")


_CI = re.compile(r"(\d+(?:\.\d+)?)\s*[–-]\s*(\d+(?:\.\d+)?)%")


def _wilson(k: int, n: int, z: float) -> tuple[float, float]:
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


class Problem:
    """Unknown counts with ranges, and the relations a reader knows between them."""

    def __init__(self) -> None:
        self.vars: dict[tuple, _Var] = {}
        self.sums: list[tuple[list[tuple], tuple, str]] = []
        self.ratios: list[tuple[tuple, tuple, Callable[[int, int], bool], float, float, str]] = []
        self.notes: list[str] = []
        self._aux = 0
        self._reasons: dict[tuple, str] = {}

    # ------------------------------------------------------------------ building ----
    def count(self, key: tuple, text: str, *, threshold: int, rounding: int,
              where: str) -> tuple | None:
        """Declare a published count (the same key twice: the narrower range wins)."""
        parsed = count_range(text, threshold, rounding)
        if parsed is None:
            return None
        lo, hi, controlled = parsed
        old = self.vars.get(key)
        if old is None:
            self.vars[key] = _Var(key, lo, hi, text, where, controlled,
                                  small=threshold if hi is None else 0)
        else:
            old.lo = max(old.lo, lo)
            old.hi = hi if old.hi is None else (old.hi if hi is None else min(old.hi, hi))
            if not controlled:
                old.controlled = False
        return key

    def declare(self, key: tuple, lo: int, hi: int | None, *, controlled: bool, where: str = "",
                shown: str = "", small: int = 0) -> tuple:
        """Declare a published count by its range directly (``small``: for a hidden count, the
        threshold below which it may be a suppressed one, see :meth:`narrowed`)."""
        self.vars[key] = _Var(key, lo, hi, shown, where or str(key), controlled, small=small)
        return key

    def unknown(self, key: tuple, where: str = "") -> tuple:
        """A count that is not printed (a sum of cells, a missing organisation)."""
        if key not in self.vars:
            self.vars[key] = _Var(key, 0, None, "", where, False, aux=True)
        return key

    def fresh(self) -> tuple:
        self._aux += 1
        return self.unknown(("aux", self._aux))

    def add_sum(self, parts: Sequence[tuple | None], total: tuple | None, how: str) -> None:
        """``total = sum(parts)``; skipped when a member is not a count."""
        if total is None or any(p is None for p in parts) or not parts:
            return
        self.sums.append((list(parts), total, how))

    def add_ratio(self, numerator: tuple | None, base: tuple | None, text: str,
                  ci_text: str | None = None, *, z: float = 1.959963984540054,
                  how: str) -> None:
        """A printed percentage ``100 * numerator / base`` (and its Wilson interval)."""
        if numerator is None or base is None:
            return
        parsed = _percent_text(text)
        if parsed is None:
            return
        value, decimals = parsed
        half = 0.5 * 10 ** (-decimals) + 1e-9
        ci = _CI.fullmatch(ci_text.strip()) if ci_text else None
        ci_decimals = len(ci.group(1).partition(".")[2]) if ci else 1

        def matches(a: int, b: int) -> bool:
            if b <= 0 or a > b:
                return False
            if f"{100 * a / b:.{decimals}f}" != f"{value:.{decimals}f}":
                return False
            if ci is not None:
                lo, hi = _wilson(a, b, z)
                shown = f"{100 * lo:.{ci_decimals}f}–{100 * hi:.{ci_decimals}f}%"
                return shown.replace("–", "-") == ci_text.strip().replace("–", "-")
            return True

        self.ratios.append((numerator, base, matches, value, half, how))

    def add_stored_ratio(self, numerator: tuple | None, base: tuple | None, stored: float,
                         how: str) -> None:
        """A spreadsheet's stored fraction (what a reader gets by widening the column)."""
        if numerator is None or base is None or stored is None:
            return
        text = repr(float(stored))
        decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 10

        def matches(a: int, b: int) -> bool:
            return b > 0 and a <= b and round(a / b, decimals) == round(float(stored), decimals)

        half = 100 * (0.5 * 10 ** (-decimals)) + 1e-9
        self.ratios.append((numerator, base, matches, 100 * float(stored), half, how))

    # ----------------------------------------------------------------- solving ----
    def _narrow(self, v: _Var, lo: int, hi: int | None, why: str) -> bool:
        new_lo = max(v.lo, lo)
        new_hi = v.hi if hi is None else (hi if v.hi is None else min(v.hi, hi))
        if new_hi is not None and new_lo > new_hi:
            self.notes.append(f"inconsistent: {why} leaves no value for {v.where or v.key}")
            return False
        changed = new_lo != v.lo or new_hi != v.hi
        v.lo, v.hi = new_lo, new_hi
        return changed

    def _propagate_sum(self, parts: list[tuple], total: tuple, how: str) -> bool:
        ps = [self.vars[p] for p in parts]
        t = self.vars[total]
        changed = False
        lo_sum = sum(p.lo for p in ps)
        hi_sum = None if any(p.hi is None for p in ps) else sum(p.hi for p in ps)
        changed |= self._narrow(t, lo_sum, hi_sum, how)
        for p in ps:
            others_lo = lo_sum - p.lo
            others_hi = None if hi_sum is None else hi_sum - p.hi
            lo = t.lo - others_hi if others_hi is not None else 0
            hi = None if t.hi is None else t.hi - others_lo
            if self._narrow(p, lo, hi, how):
                changed = True
                lo_sum = sum(q.lo for q in ps)
                hi_sum = None if any(q.hi is None for q in ps) else sum(q.hi for q in ps)
        return changed

    def _propagate_ratio(self, ratio, limit: int) -> bool:
        num_key, base_key, matches, value, half, how = ratio
        num, base = self.vars[num_key], self.vars[base_key]
        if base.hi is None or base.hi - base.lo > limit:
            return False
        found_a, found_b = [], []
        for b in range(max(base.lo, 1), base.hi + 1):
            a_lo = max(num.lo, math.floor((value - half) * b / 100))
            a_hi = math.ceil((value + half) * b / 100)
            if num.hi is not None:
                a_hi = min(a_hi, num.hi)
            for a in range(a_lo, min(a_hi, b) + 1):
                if matches(a, b):
                    found_a.append(a)
                    found_b.append(b)
        if not found_a:
            self.notes.append(f"inconsistent: {how} fits no count (not from exact counts?)")
            return False
        changed = self._narrow(num, min(found_a), max(found_a), how)
        changed |= self._narrow(base, min(found_b), max(found_b), how)
        return changed

    def solve(self, *, rounds: int = 200, ratio_limit: int = 20000) -> list[Finding]:
        """Narrow every range until nothing changes; return the recovered counts."""
        reasons: dict[tuple, str] = dict(self._reasons)
        for _ in range(rounds):
            changed = False
            for parts, total, how in self.sums:
                before = {k: (self.vars[k].lo, self.vars[k].hi) for k in (*parts, total)}
                if self._propagate_sum(parts, total, how):
                    changed = True
                    for k, (lo, hi) in before.items():
                        if (self.vars[k].lo, self.vars[k].hi) != (lo, hi):
                            reasons[k] = how
            for ratio in self.ratios:
                before = {k: (self.vars[k].lo, self.vars[k].hi) for k in ratio[:2]}
                if self._propagate_ratio(ratio, ratio_limit):
                    changed = True
                    for k, (lo, hi) in before.items():
                        if (self.vars[k].lo, self.vars[k].hi) != (lo, hi):
                            reasons[k] = ratio[5]
            if not changed:
                break
        self._reasons = reasons
        return [Finding(v.where, v.shown, v.lo, reasons.get(v.key, "its range"), v.key)
                for v in self.vars.values()
                if v.controlled and not v.aux and v.hi is not None and v.lo == v.hi]

    def combine(self, owner: Callable[[tuple], object] = lambda key: key[0]) -> bool:
        """After :meth:`solve`: the bounds a page's relations give taken together, which
        narrowing one relation at a time can miss (``x + y = a``, ``x + z = b``, ``y + z = c``
        give ``x`` exactly; an audit of the demo's reports found a trust's two rows of one
        table that did so). For each page (relations among one organisation's, or the
        national page's, cells alone), each hidden count's least and most subject
        to all of them at once (a linear programme over the current ranges: its bounds hold
        for whole counts too, so what it finds is forced). ``owner``: whose a count is (the
        page's ident, the first of its key), relations among one owner's counts alone taken
        together. Returns whether a range changed."""
        groups: dict[object, list[tuple[list[tuple], tuple]]] = {}
        for parts, total, _how in self.sums:
            owners = {owner(k) for k in (*parts, total) if not self.vars[k].aux}
            if len(owners) == 1:
                groups.setdefault(next(iter(owners)), []).append((parts, total))
        changed = False
        for sums in groups.values():
            for component in _components(sums):
                changed |= self._combine(component, _quiet_highs())
        return changed

    def _combine(self, sums: list[tuple[list[tuple], tuple]], highs) -> bool:
        """:meth:`combine` on one set of connected relations: the least and most of each
        hidden count (``*``) in it. Rounded counts are left to :meth:`solve` (a linear
        programme for each would cost more than the whole check)."""
        import highspy
        import numpy as np

        keys = list(dict.fromkeys(k for parts, total in sums for k in (*parts, total)))
        targets = [k for k in keys if not self.vars[k].aux and self.vars[k].small
                   and self.vars[k].controlled and not (self.vars[k].hi is not None
                                                        and self.vars[k].lo == self.vars[k].hi)]
        if not targets or len(sums) < 2:
            return False  # one relation alone: solve() already gave its bounds
        index = {k: i for i, k in enumerate(keys)}
        inf = highspy.kHighsInf
        highs.clearModel()
        highs.addVars(len(keys), np.array([float(self.vars[k].lo) for k in keys]),
                      np.array([inf if self.vars[k].hi is None else float(self.vars[k].hi)
                                for k in keys]))
        for parts, total in sums:
            row: dict[int, float] = {}
            for k in parts:
                row[index[k]] = row.get(index[k], 0.0) + 1.0
            row[index[total]] = row.get(index[total], 0.0) - 1.0
            highs.addRow(0.0, 0.0, len(row), np.array(list(row), dtype=np.int32),
                         np.array(list(row.values())))
        how = TOGETHER
        status = highspy.HighsModelStatus
        changed = False
        for k in targets:
            v, i = self.vars[k], index[k]
            highs.changeColCost(i, 1.0)
            found = []
            for sense in (highspy.ObjSense.kMinimize, highspy.ObjSense.kMaximize):
                highs.changeObjectiveSense(sense)
                highs.run()
                state = highs.getModelStatus()
                if state == status.kInfeasible:  # the page contradicts itself: solve() noted it
                    return changed
                found.append(highs.getInfo().objective_function_value
                             if state == status.kOptimal else None)
            highs.changeColCost(i, 0.0)
            lo = v.lo if found[0] is None else math.ceil(found[0] - 1e-6)
            hi = v.hi if found[1] is None else math.floor(found[1] + 1e-6)
            if self._narrow(v, lo, hi, how):
                self._reasons[k] = how
                highs.changeColBounds(i, float(v.lo), inf if v.hi is None else float(v.hi))
                changed = True
        return changed

    def narrowed(self) -> list[Finding]:
        """After :meth:`solve`: the hidden counts (``*``) narrowed to a strictly smaller range
        inside 1 to their rule's threshold. A ``*`` says "1 to 7" (or, as a secondary
        suppression, more); a page that leaves it 1-3, or 4-7, has told a reader more than its
        control allowed.

        Not reported: a ``*`` whose range still reaches above the threshold (5-27: it may be a
        secondary suppression of a larger count, and a reader cannot tell which); one shown to
        be above it (narrowed as a rounded count may be); and a lower bound no more than its
        own parts' printed lower bounds add up to (the national ``*`` of a cell four
        organisations print as ``*`` is at least 4: each of theirs says 1 or more, which no
        control of the total can hide). Pinned ones are :meth:`solve`'s."""
        floor: dict[tuple, int] = {}
        for parts, total, _ in self.sums:
            floor[total] = max(floor.get(total, 1), sum(self.vars[p].lo0 for p in parts))
        out = []
        for v in self.vars.values():
            if v.aux or not v.small or (v.hi is not None and v.lo == v.hi):
                continue
            if v.hi is None or v.hi > v.small:
                continue  # it may be a larger count behind a secondary suppression
            lower = v.lo > max(1, floor.get(v.key, 1))
            upper = v.hi < v.small
            if lower or upper:
                out.append(Finding(v.where, v.shown, v.lo,
                                   f"{self._reasons.get(v.key, 'its range')}: not 1-{v.small}",
                                   v.key, high=v.hi, narrowed=True))
        return out


@functools.cache
def _quiet_highs():
    """The process's HiGHS solver, made once (each programme clears it): ``highspy`` re-solves
    in place, some twenty times faster here than ``scipy.optimize.linprog`` setting up each
    anew. It prints nothing: its banner, written to the process's own output when the first
    one is made, goes to /dev/null."""
    import os
    import sys

    import highspy

    sys.stdout.flush()
    saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        highs = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    highs.setOptionValue("output_flag", False)
    return highs


def _components(sums: list[tuple[list[tuple], tuple]]) -> list[list[tuple[list[tuple], tuple]]]:
    """The relations in sets that share no count (a linear programme over each alone gives
    the same bounds, far faster)."""
    parent: dict[tuple, tuple] = {}

    def root(k: tuple) -> tuple:
        while parent.setdefault(k, k) != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for parts, total in sums:
        for k in parts:
            parent[root(k)] = root(total)
    out: dict[tuple, list] = {}
    for parts, total in sums:
        out.setdefault(root(total), []).append((parts, total))
    return list(out.values())


# ------------------------------------------------------------------ the reports ----
_RULE_THRESHOLD = re.compile(r"counts from 1 to (\d+) are shown as")
_RULE_ROUNDING = re.compile(r"rounded to the nearest (\d+)")
FORM_QUESTIONS_MARK = "(ext2026 questions)"
"""How the captions of the ext2026 question tables end (``sjrlib.report.form_questions.
CAPTION_MARK``)."""
FROM_SHOWN = "computed from the rounded counts shown"
"""What a table's note says when its percentages and intervals come from its printed counts
(``sjrlib.disclosure.FROM_SHOWN`` is the sentence)."""


def _rule(text: str) -> tuple[int, int]:
    t = _RULE_THRESHOLD.search(text)
    r = _RULE_ROUNDING.search(text)
    return (int(t.group(1)) if t else 0), (int(r.group(1)) if r else 1)


def _norm(label: str) -> str:
    return " ".join(label.replace("\u2060", "").replace("\xa0", " ").split())


FIRST_POOR_SHOWN = ("The deaths with poor or very poor overall care at first stage are the "
                    "care-score table's overall scores 1 and 2 as shown")
"""What a trust's second-stage table says under it when that row is the care table's two
cells added up as printed (``sjrlib.report.trust``), not a rounded count."""
ASKED_ALL_SHOWN = ("Every review the care-score table counts in this phase was asked, so the "
                   "row All reviews asked is the care-score table's reviews and its scores 1 "
                   "and 2 added up, as shown")
"""What an ext2026 poor-care table says under it when its total row is the care table's row
(``sjrlib.report.form_questions._within_care_table``): the same reviews, printed as that
table prints them, not a rounded count of their own."""
PSII_CAPTION = "Second-stage reviews that led to a patient safety incident investigation"
REFERRALS_CAPTION = "Referrals on from reviews, by type and status"
PSIRF_ROW = "Patient safety incident investigation (PSIRF)"
PSII_AMONG_REFERRALS = {"PSII considered and not needed": ("Considered and not needed",),
                        "PSII planned": ("Planned",),
                        "Led to a PSII (referral made or completed)": ("Made", "Completed")}
"""The second-stage PSII table's cells (``sjrlib.report.form_questions.second_stage_psii``)
and the referrals table's PSIRF cells they are among: the same referrals, the referrals
table counting every review recording them (first and second stage)."""
LD_REASON = "Patient had a learning disability"
"""The "Reasons for review" row of learning disability (``domain.label("review_reason",
"learning_disability")``)."""
LD_REASON_SHOWN = ("The reviews of the row Patient had a learning disability are the deaths "
                   "of patients with a learning disability reviewed in the year, as the "
                   "learning disability table shows them")
"""What a trust's "Reasons for review" table says under it when that row's reviews are the
learning disability table's year of reviewed, printed as that table prints them
(``sjrlib.report.trust.TrustReport.review_reasons``). Without it the row's reviews are read
as among those (a reader takes a review for learning disability to be of a death of a patient
with a learning disability): an audit of the demo's reports (2026-12-06) found XE1's
row printing 20 beside the year's reviewed ``*`` (18), which left Q3's deaths ``*`` at 1-4."""
OVERALL = "Overall assessment of care"
"""The care table's row of overall care (``domain.label("phase", "overall")``)."""


def _is_total(label: str, table: PublishedTable) -> bool:
    return label in table.totals or _norm(label).endswith(" total")


_LFD_FIELDS = {
    "Deaths in scope": "deaths",
    "Deaths reviewed (SJR)": "reviewed",
    "More likely than not due to problems in care": "mltn",
    "Deaths of patients with a learning disability": "ld_deaths",
    "Reviewed (SJR)": "ld_reviewed",
    "Deaths: learning disability": "ld_deaths",
    "Learning disability: reviewed": "ld_reviewed",
    "Learning disability: more likely than not due to problems in care": "ld_mltn",
    "Not scored": "av0",
    "Avoidability not scored": "av0",
    "Deaths reviewed": "reviewed",
}


LFD_AMONG = (("reviewed", "deaths"), ("ld_reviewed", "ld_deaths"), ("ld_deaths", "deaths"),
             ("ld_reviewed", "reviewed"), ("ld_mltn", "ld_reviewed"), ("ld_mltn", "mltn"),
             ("mltn", "reviewed"))
"""Learning from Deaths counts of one row (a quarter, the year) that are among another of
the same row: the reviewed deaths are among the deaths in scope (where the row does not say
``check: more reviewed than deaths``: a feed or coding error, flagged instead of a
percentage), the learning disability figures among everyone's and among their own deaths and
reviews, more likely than not among the reviewed. A reader knows these without being told: an
audit of the demo's reports (2026-12-06) found XE1's learning disability deaths of Q3, ``*``,
left at 1-4 by deaths 10, ``*``, ``*``, ``*`` (20) against reviewed 10, ``*``, 0, ``*``
(20)."""
_LFD_AMONG_FIELDS = {f for pair in LFD_AMONG for f in pair}
_LFD_NAMES = {"deaths": "deaths in scope", "reviewed": "reviewed deaths",
              "mltn": "deaths judged more likely than not",
              "ld_deaths": "learning disability deaths",
              "ld_reviewed": "reviewed learning disability deaths",
              "ld_mltn": "learning disability deaths judged more likely than not"}


def _lfd_field(caption: str, column: str) -> str | None:
    if caption.startswith("Deaths of patients with a learning disability") and \
            column == "More likely than not due to problems in care":
        return "ld_mltn"
    if column in _LFD_FIELDS:
        return _LFD_FIELDS[column]
    m = re.match(r"(?:Avoidability )?([1-6])[ :]", column)
    return f"av{m.group(1)}" if m else None


INTERNAL_FOLDER = "organisation"
"""Where a period's folder keeps organisation-audience reports (exact counts, for internal
governance)."""


@dataclass
class _Page:
    ident: str          # organisation code, or "national"
    path: Path
    tables: list[PublishedTable]
    text: str
    workbook: bool = False
    organisation: bool = True  # an organisation's own report (page or workbook)

    @property
    def name(self) -> str:
        """The file's name as notes and findings print it: with its folder when that is
        ``organisation/`` (an organisation-audience report, exact counts), which has a page of
        the same name as the public one in ``trusts/``."""
        if self.path.parent.name == INTERNAL_FOLDER:
            return f"{INTERNAL_FOLDER}/{self.path.name}"
        return self.path.name


def _report_period(text: str) -> tuple[str, str] | None:
    """The report's first and last month (``YYYY-MM``) from its introduction."""
    m = _PERIOD.search(text)
    if m is None:
        return None
    return (f"{m.group(2)}-{_MONTHS.index(m.group(1)) + 1:02d}",
            f"{m.group(4)}-{_MONTHS.index(m.group(3)) + 1:02d}")


def _lfd_quarter(label: str) -> str | None:
    """The Learning from Deaths table's row label (normalised, without "(provisional)") of the
    financial quarter holding a chart row (``YYYY-MM`` or ``YYYY/YY Qn``)."""
    first = _first_month(label)
    if first is None:
        return None
    year, month = int(first[:4]), int(first[5:])
    q = (month - 4) % 12 // 3 + 1
    names = {1: "Apr–Jun", 2: "Jul–Sep", 3: "Oct–Dec", 4: "Jan–Mar"}
    return f"Q{q} {names[q]} {year}"


def _quarter_of_label(label: str) -> str | None:
    """``Q1 Apr–Jun 2024`` -> ``2024/25 Q1`` (the inverse of :func:`_lfd_quarter`)."""
    m = re.match(r"Q([1-4]) \S+ (\d{4})", label)
    if m is None:
        return None
    q, year = int(m.group(1)), int(m.group(2)) - (m.group(1) == "4")
    return f"{year}/{(year + 1) % 100:02d} Q{q}"


def _first_month(label: str) -> str | None:
    """The first month of a chart row: ``YYYY-MM`` itself, ``YYYY/YY Qn`` its first month."""
    from sjrlib.stats._reviews import quarter_first_month

    return quarter_first_month(label)


@dataclass
class _Reader:
    problem: Problem = field(default_factory=Problem)
    published_form_findings: list = field(default_factory=list)
    pending_sums: list = field(default_factory=list)
    pending_quarters: list = field(default_factory=list)
    pending_asked: dict = field(default_factory=dict)
    exceeds: set = field(default_factory=set)
    ld_reason_same: set = field(default_factory=set)
    printed: dict = field(default_factory=dict)
    """What each page prints for a count, by (page's file, key). One organisation's public page
    and its organisation-audience page declare the same counts (the same true figures, exact on
    one, rounded on the other): a statement of a page about its printed counts (a percentage
    "computed from the rounded counts shown") is read against that page's text, not the other's.
    """

    def shown(self, page: _Page, key: tuple, *, raw: bool = False) -> str:
        """The text ``page`` prints for the count ``key`` (``raw``: as printed, else without
        thousands separators)."""
        text = self.printed.get((page.path, key))
        text = self.problem.vars[key].shown if text is None else text
        return text if raw else text.replace(",", "")

    def where(self, page: _Page, table: PublishedTable, row: str, column: str) -> str:
        return f"{page.name} | {table.caption[:60]} | {_norm(row)} | {column}"

    def cell(self, page, table, rule, key, row, column):
        text = table.cell(row, column)
        if text is None:
            return None
        return self._count(page, key, text, rule, self.where(page, table, row, column))

    def _count(self, page, key, text, rule, where):
        key = self.problem.count(key, text, threshold=rule[0], rounding=rule[1], where=where)
        if key is not None:
            self.printed[(page.path, key)] = text
        return key

    def ratio(self, page, table, num, base, row, column, ci_column=None, rule=(0, 1),
              parts: Sequence[tuple] = ()):
        """A percentage ``num / base`` printed in ``column``; ``parts``: the printed cells
        ``num`` is the sum of (care scores 1 and 2). A table whose note says its
        percentages come from the printed counts takes such a sum as printed (the sum of
        two rounded cells, 10 and 30 printed, may be 36-44): if the percentage is of that
        printed sum, it says nothing more."""
        if column not in table.columns:
            return
        text = table.cell(row, column) or ""
        ci = table.cell(row, ci_column) if ci_column else None
        how = f"{column} beside its counts ({page.name}, {_norm(row)})"
        if parts and FROM_SHOWN in table.note and not table.values:
            shown = [self.shown(page, k) for k in parts]
            b = self.shown(page, base) if base else ""
            parsed = _percent_text(text)
            if parsed is None:
                return  # no percentage printed (a part withheld): nothing to read
            if all(x.isdigit() for x in shown) and b.isdigit() and int(b) > 0 and \
                    f"{100 * sum(map(int, shown)) / int(b):.{parsed[1]}f}" == \
                    f"{parsed[0]:.{parsed[1]}f}":
                return  # of the printed cells: nothing new
        if table.values:
            stored = table.values.get((row, column))
            if not isinstance(stored, (int, float)):
                return
            if FROM_SHOWN in table.note and self._consistent(
                    page, num, base, f"{100 * float(stored):.1f}%") and \
                    round(100 * float(stored), 1) == round(100 * float(stored), 6):
                return  # stored as printed, from the printed counts: nothing new
            self.problem.add_stored_ratio(num, base, float(stored), how)
            return
        if FROM_SHOWN in table.note and self._consistent(page, num, base, text):
            hidden = self._rounded_numerator(page, num, base, text, rule)
            if hidden is not None:  # the percentage prints a count the table does not
                self.problem._narrow(self.problem.vars[num], hidden[0], hidden[1], how)
            return  # otherwise a faithful statement about the printed counts: nothing new
        self.problem.add_ratio(num, base, text, ci, how=how)

    def _rounded_numerator(self, page, num, base, text, rule) -> tuple[int, int] | None:
        """A numerator that is not printed (scores 1 and 2 together), read back from a
        percentage of the printed base: the rounded counts that fit, widened by rounding."""
        v = self.problem.vars[num]
        if not v.aux:
            return None
        parsed = _percent_text(text)
        b = self.shown(page, base)
        if parsed is None or not b.isdigit() or int(b) == 0 or rule[1] <= 1:
            return None
        value, decimals = parsed
        fits = [r for r in range(0, int(b) + rule[1], rule[1])
                if f"{100 * r / int(b):.{decimals}f}" == f"{value:.{decimals}f}"]
        if not fits:
            return None
        ranges = [count_range(str(r), rule[0], rule[1]) for r in fits]
        return min(r[0] for r in ranges), max(r[1] for r in ranges)

    def _consistent(self, page, num, base, text) -> bool:
        parsed = _percent_text(text)
        if parsed is None or num is None or base is None:
            return True
        a, b = self.shown(page, num), self.shown(page, base)
        if not a:  # a numerator the table does not print: read back by _rounded_numerator
            return True
        try:
            a_i, b_i = int(a), int(b)
        except ValueError:  # a sum of cells or a hidden one: the statement cannot be checked
            return True
        return b_i > 0 and f"{100 * a_i / b_i:.{parsed[1]}f}" == f"{parsed[0]:.{parsed[1]}f}"

    def headline(self, page: _Page) -> None:
        """The national headline's sentences on poor care ("England: 4.7% of 320 first-stage
        reviews found poor or very poor overall care"): each nation's reviews scoring overall
        care as printed, and its poor care read back from the percentage of them, as a
        reader would (the rounded counts whose share prints so, widened by rounding)."""
        rule = _rule(page.text)
        for name, pct, n in _HEADLINE.findall(" ".join(page.text.split())):
            row = name.removesuffix(" together")
            base = self._count(page, ("nation", "poor_n", row), n, rule,
                               f"{page.name}, headline")
            poor = self.problem.unknown(("nation", "poor", row), f"{page.name}, headline")
            if base is None:
                continue
            fits = self._rounded_numerator(page, poor, base, f"{pct}%", rule)
            if fits is not None:
                self.problem._narrow(self.problem.vars[poor], fits[0], fits[1],
                                     f"the headline's percentage of {row}'s reviews")

    # ------------------------------------------------------------------ tables ----
    def read(self, page: _Page) -> None:
        if page.ident == "national":
            self.headline(page)
        for table in page.tables:
            if page.workbook:
                table.note = page.text  # a workbook states its rule on its notes sheet
            rule = _rule(table.note)
            cap = table.caption
            if page.workbook or cap.startswith(("Learning from Deaths: deaths",
                                                "Reviewed deaths by avoidability",
                                                "Deaths of patients with a learning")):
                self.lfd(page, table, rule)
            elif cap.startswith("Care scores by phase"):
                self.care(page, table, rule)
            elif cap.startswith("Problems in care"):
                self.problems(page, table, rule)
            elif cap.startswith("Second-stage review") and \
                    not _norm(cap).endswith(FORM_QUESTIONS_MARK):
                # (the ext2026 PSII table, "Second-stage reviews that led to ...", is a form
                # question's: read as one, not passed over as this table)
                self.second_stage(page, table, rule)
            elif cap.startswith(LFD_CHART_DATA):
                self.lfd_chart(page, table, rule)
            elif cap.startswith(CHART_DATA):
                self.chart_data(page, table, rule)
            elif cap.startswith(LEARNING_CAPTIONS):
                self.by_group(page, table, rule)
            elif cap.startswith(("Reasons for review", "Poor or very poor overall care by NHS",
                                 "Selected and sampled deaths")):
                self.by_group(page, table, rule)
            elif cap.startswith("Learning from Deaths figures by nation"):
                self.nations(page, table, rule)
            elif cap.startswith("Learning from Deaths: ") and "each member" in cap:
                self.collaborative(page, table, rule)
            elif cap.startswith("Avoidability of death"):
                self.national_avoidability(page, table, rule)
            elif cap.startswith("Completeness: reviews still to come"):
                self.completeness(page, table, rule)
            elif _norm(cap).endswith(FORM_QUESTIONS_MARK):
                self.form_questions(page, table, rule)
        self._within(page)

    def _within(self, page: _Page) -> None:
        """Relations between an organisation's own tables, all of the same first-stage
        reviews: the second-stage table's deaths with poor or very poor overall care at first
        stage are the care table's overall scores 1 and 2 (and those not yet reviewed at
        second stage are among them); the reviews an ext2026 question was asked of, and their
        poor or very poor overall care, are among the care table's overall ones, or the same
        ones where the table's note says every review was asked (:data:`ASKED_ALL_SHOWN`):
        then its total row is the care row's reviews and scores 1 and 2."""
        p = self.problem
        ident = page.ident
        self._within_themes(page)
        for row in sorted({k[2] for k in p.vars if k[0] == ident and k[1] == "mltn"}):
            parts = [(ident, f"av{i}", row) for i in (1, 2, 3)]
            if all(k in p.vars for k in parts):
                p.add_sum(parts, (ident, "mltn", row), f"avoidability scores 1-3 are the "
                          f"deaths judged more likely than not ({page.name}, {row})")
        for row in sorted({k[2] for k in p.vars if k[0] == ident and k[1] in _LFD_AMONG_FIELDS}):
            for part, whole in LFD_AMONG:
                small, big = (ident, part, row), (ident, whole, row)
                if small in p.vars and big in p.vars and small not in self.exceeds:
                    p.add_sum([small, p.fresh()], big,
                              f"{_LFD_NAMES[part]} are among the {_LFD_NAMES[whole]} "
                              f"({page.name}, {row})")
        # the reasons table's reviews for learning disability are the learning disability
        # table's year of reviewed where its note says so (LD_REASON_SHOWN), else among them
        # (a reader takes them so): XE1's 20 beside the year's *, audit of 2026-12-06
        reason, year = (ident, "reason_n", LD_REASON), (ident, "ld_reviewed", "TOTAL")
        if page.organisation and reason in p.vars and year in p.vars:
            if ident in self.ld_reason_same:
                p.add_sum([reason], year, f"the reviews for learning disability are the "
                          f"year's reviewed learning disability deaths ({page.name})")
            else:
                p.add_sum([reason, p.fresh()], year, f"the reviews for learning disability "
                          f"are among the year's reviewed learning disability deaths "
                          f"({page.name})")
        self._psii_among_referrals(page)
        care = [(ident, f, OVERALL) for f in ("care1", "care2", "care_n")]
        if not all(k in p.vars for k in care):
            return
        poor = p.unknown((ident, "care_poor", OVERALL))
        # the second-stage table's "deaths with poor or very poor overall care at first stage"
        # are overall scores 1 and 2; where its note says it is their sum as printed
        # (FIRST_POOR_SHOWN, sjrlib.report.trust), that is not a rounded count of the true
        # sum, tells nothing more and is not read as one (read as one it was too narrow: 10
        # and 30 printed, 40 read as 38-42 where the scores allow 36-44)
        first = (ident, "ss", "first_poor")
        if first in p.vars:
            p.add_sum(care[:2], first, f"the second-stage table's poor care at first stage = "
                                       f"overall scores 1 and 2 ({page.name})")
        backlog = (ident, "ss", "backlog")
        if backlog in p.vars:
            p.add_sum([backlog, p.fresh()], poor,
                      f"not yet reviewed at second stage, of the poor care ({page.name})")
        for reviews, poor_asked, same in self.pending_asked.pop(ident, []):
            if same:
                if reviews in p.vars:
                    p.add_sum([reviews], care[2], f"every review was asked a question: the "
                              f"reviews asked are the overall ({page.name})")
                if poor_asked in p.vars:
                    p.add_sum([poor_asked], poor, f"every review was asked a question: their "
                              f"poor care is the overall scores 1 and 2 ({page.name})")
                    rest = [(ident, f"care{i}", OVERALL) for i in (3, 4, 5)]
                    if all(k in p.vars for k in rest):
                        p.add_sum([poor_asked, *rest], care[2], f"their poor care and overall "
                                  f"scores 3-5 add up to the overall reviews ({page.name})")
                continue
            if reviews in p.vars:
                p.add_sum([reviews, p.fresh()], care[2],
                          f"reviews asked a question are among the overall ({page.name})")
            if poor_asked in p.vars:
                p.add_sum([poor_asked, p.fresh()], poor,
                          f"their poor care is among the overall ({page.name})")

    def _psii_among_referrals(self, page: _Page) -> None:
        """The second-stage PSII table's referrals are among the referrals table's PSIRF row
        (its note: first and second stage), status by status (led to a PSII among made and
        completed): an audit of the demo's reports (2026-12-06) found XI6's "Led to a PSII"
        10 beside a PSIRF row of 10 with none planned leaving "Considered and not needed"
        ``*`` at most 4 (:data:`PSII_AMONG_REFERRALS`)."""
        p = self.problem
        found: dict[str, dict[tuple[str, str], tuple]] = {"psii": {}, "ref": {}}
        for k in p.vars:
            if len(k) != 3 or k[0] != page.ident or k[1] != "fq":
                continue
            cap, row, column = (k[2].split(" | ") + ["", ""])[:3]
            if cap.startswith(PSII_CAPTION):
                found["psii"][(row, column)] = k
            elif cap.startswith(REFERRALS_CAPTION):
                found["ref"][(row, column)] = k
        for column, statuses in PSII_AMONG_REFERRALS.items():
            small = found["psii"].get(("Second-stage reviews", column))
            big = [found["ref"].get((PSIRF_ROW, s)) for s in statuses]
            if small is None or any(b is None for b in big):
                continue
            whole = big[0]
            if len(big) > 1:
                whole = p.fresh()
                p.add_sum(big, whole, f"PSIRF referrals {' and '.join(statuses).lower()} "
                                      f"({page.name})")
            p.add_sum([small, p.fresh()], whole,
                      f"the second-stage PSII table's {column!r} are among the referrals "
                      f"table's PSIRF {' and '.join(statuses).lower()} ({page.name})")

    def lfd(self, page, table, rule):
        p = self.problem
        rows = [r for r, _ in table.rows]
        body = [r for r in rows if not _is_total(r, table)]
        totals = [r for r in rows if _is_total(r, table)]
        fields = {c: _lfd_field(table.caption, c) for c in table.columns}
        for row in rows:
            rid = "TOTAL" if row in totals else _norm(row)
            for column, f in fields.items():
                if f:
                    self.cell(page, table, rule, (page.ident, f, rid), row, column)
            av = [(page.ident, f"av{i}", rid) for i in range(7)]
            if all(k in p.vars for k in av) and (page.ident, "reviewed", rid) in p.vars:
                p.add_sum(av, (page.ident, "reviewed", rid), f"avoidability adds up to reviewed "
                          f"({page.name}, {_norm(row)})")
            for column in table.columns:
                if "%" not in column and "percent" not in column:
                    continue
                ld = "learning disability" in column.lower() or table.caption.startswith(
                    "Deaths of patients with a learning")
                num = (page.ident, "ld_reviewed" if ld else "reviewed", rid)
                base = (page.ident, "ld_deaths" if ld else "deaths", rid)
                if EXCEEDS in (table.cell(row, column) or ""):
                    self.exceeds.add(num)  # this row's reviewed are not among its deaths
                if num in p.vars and base in p.vars:
                    self.ratio(page, table, num, base, row, column, rule=rule)
        if totals:
            for f in {f for f in fields.values() if f}:
                parts = [(page.ident, f, _norm(r)) for r in body]
                if all(k in p.vars for k in parts) and (page.ident, f, "TOTAL") in p.vars:
                    p.add_sum(parts, (page.ident, f, "TOTAL"),
                              f"quarters add up to the year ({page.name}, {f})")

    def care(self, page, table, rule):
        p = self.problem
        score_cols = [c for c in table.columns if re.match(r"[1-5] ", c)]
        for row, _ in table.rows:
            phase = _norm(row)
            keys = [self.cell(page, table, rule, (page.ident, f"care{c[0]}", phase), row, c)
                    for c in score_cols]
            n = self.cell(page, table, rule, (page.ident, "care_n", phase), row,
                          "Reviews scoring this phase")
            p.add_sum(keys, n, f"care scores add up to the reviews ({page.name}, {phase})")
            if len(keys) >= 2 and keys[0] and keys[1]:
                poor = p.unknown((page.ident, "care_poor", phase))
                p.add_sum([keys[0], keys[1]], poor, f"scores 1 and 2 ({page.name})")
                self.ratio(page, table, poor, n, row, "% poor or very poor care",
                           "95% confidence interval", rule, parts=keys[:2])

    def problems(self, page, table, rule):
        p = self.problem
        harm = [c for c in table.columns if c.startswith("Led to harm")]
        for row, _ in table.rows:
            kind = _norm(row)
            count = self.cell(page, table, rule, (page.ident, "problem", kind), row,
                              "Reviews recording the problem")
            parts = [self.cell(page, table, rule, (page.ident, c, kind), row, c) for c in harm]
            p.add_sum(parts, count, f"harm answers add up ({page.name}, {kind})")

    def _within_themes(self, page: _Page) -> None:
        """A trust's themes among poor-care and among good-care reviews are parts of its
        themes among all coded reviews (adequate care, and no overall score, the rest): per
        theme, its coded reviews and those coded with it."""
        p = self.problem
        whole, poor, good = (f"theme {c}" for c in THEME_TABLES)
        rows = {k[2] for k in p.vars if k[0] == page.ident and k[1] == f"{whole}_poor"}
        for row in sorted(rows):
            for suffix in ("_n", "_poor"):
                keys = [(page.ident, f"{t}{suffix}", row) for t in (poor, good)]
                total = (page.ident, f"{whole}{suffix}", row)
                if all(k in p.vars for k in keys):
                    p.add_sum([*keys, p.fresh()], total,
                              f"themes among poor and good care are among all coded "
                              f"({page.name}, {row})")

    def second_stage(self, page, table, rule):
        p = self.problem
        parts, total = [], None
        for row, _ in table.rows:
            if row.startswith("Overall care at second stage"):
                parts.append(self.cell(page, table, rule, (page.ident, "ss", _norm(row)), row,
                                       "Number"))
            elif _is_total(row, table):
                total = self.cell(page, table, rule, (page.ident, "ss", "TOTAL"), row, "Number")
            elif row.startswith("Deaths with poor or very poor overall care at first stage"):
                if FIRST_POOR_SHOWN not in _norm(table.note):
                    self.cell(page, table, rule, (page.ident, "ss", "first_poor"), row, "Number")
            elif "not yet reviewed at second stage" in row:
                self.cell(page, table, rule, (page.ident, "ss", "backlog"), row, "Number")
        p.add_sum(parts, total, f"second-stage scores add up ({page.name})")

    def form_questions(self, page, table, rule):
        """Tables of the ext2026 questions (:mod:`sjrlib.report.form_questions`), by their
        layout: count columns (an ``All ...`` column is the sum of the other count columns of
        its row; care scores ``1``-``5`` are parts of it), body rows adding up to the total
        row, and percentages: ``% poor or very poor`` of scores 1 + 2 over ``All`` in a
        score table, else of the first count column whose header starts with the words after
        the ``%`` (``Poor or very poor ...``, ``Findings shared: ...``), over ``All`` or the
        first count column (``Reviews``), with the interval beside it."""
        p = self.problem
        cap = _norm(table.caption)
        percents = [c for c in table.columns if c.startswith("%")]
        ci = next((c for c in table.columns if "confidence interval" in c), None)
        counts = [c for c in table.columns if c not in percents and c != ci]
        if not counts:
            return
        whole = next((c for c in counts if c.startswith("All ")), None)
        scores = [c for c in counts if re.match(r"[1-5] ", c)]
        rows = [r for r, _ in table.rows]
        totals = [r for r in rows if r in table.totals]
        body = [r for r in rows if r not in totals]

        def key(row: str, column: str) -> tuple:  # (page, kind, cell): as the other keys
            return (page.ident, "fq", f"{cap} | {_norm(row)} | {column}")

        where = f"{page.name}, {cap[:50]}"
        poor_column = "Poor or very poor overall care"
        # the total row is the care table's overall row as printed (ASKED_ALL_SHOWN): not a
        # rounded count of its own (10 and 30 printed, 40 read as 38-42 where the scores allow
        # 36-44), and its percentage that of the care table's own printed cells
        same = ASKED_ALL_SHOWN in _norm(table.note) and "Reviews" in counts
        for row in rows:
            if same and row in totals:
                for c in counts:
                    if c in ("Reviews", poor_column):
                        p.unknown(key(row, c))
                    else:
                        self.cell(page, table, rule, key(row, c), row, c)
                continue
            cells = {c: self.cell(page, table, rule, key(row, c), row, c) for c in counts}
            if whole is not None:
                p.add_sum([cells[c] for c in counts if c != whole], cells[whole],
                          f"a row adds up to its {whole!r} ({where}, {_norm(row)})")
            base = cells[whole] if whole is not None else cells[counts[0]]
            for column in percents:
                if scores and len(scores) >= 2:
                    if not (cells[scores[0]] and cells[scores[1]]):
                        continue
                    numerator = p.unknown((page.ident, "fq", f"{cap} | {_norm(row)} | poor"))
                    p.add_sum([cells[scores[0]], cells[scores[1]]], numerator,
                              f"scores 1 and 2 ({where})")
                    self.ratio(page, table, numerator, base, row, column, ci, rule,
                               parts=[cells[scores[0]], cells[scores[1]]])
                    continue
                else:
                    words = column[1:].strip().lower()
                    named = next((c for c in counts if c.lower().startswith(words)), None)
                    if named is None:
                        continue
                    numerator = cells[named]
                self.ratio(page, table, numerator, base, row, column, ci, rule)
        if "Reviews" in counts and page.organisation and not page.workbook:
            for total in totals:
                self.pending_asked.setdefault(page.ident, []).append((
                    key(total, "Reviews"),
                    key(total, poor_column) if poor_column in counts else None, same))
        # (a national page's such row is the national care table's, related only as a cell
        # of the organisations' sum)
        for total in totals:
            for column in counts:
                parts = [key(r, column) for r in body]
                if all(k in p.vars for k in parts) and key(total, column) in p.vars:
                    p.add_sum(parts, key(total, column),
                              f"rows add up to {_norm(total)!r} ({where}, {column})")

    def completeness(self, page, table, rule):
        """Deaths with only a draft review and deaths waiting for a second-stage review, per
        quarter (per nation in the national report): quarters add up to the year."""
        p = self.problem
        rows = [r for r, _ in table.rows]
        body = [r for r in rows if not _is_total(r, table)]
        for column in table.columns:
            low = column.lower()
            f = "cd" if "only a draft" in low else "cw" if "second-stage" in low else None
            if f is None:
                continue
            f = f"{column.split(':')[0]}:{f}" if ":" in column else f
            for row in rows:
                rid = "TOTAL" if _is_total(row, table) else _norm(row)
                self.cell(page, table, rule, (page.ident, f, rid), row, column)
            parts = [(page.ident, f, _norm(r)) for r in body]
            if all(k in p.vars for k in parts) and (page.ident, f, "TOTAL") in p.vars:
                p.add_sum(parts, (page.ident, f, "TOTAL"),
                          f"quarters add up to the year ({page.name}, {f})")

    def by_group(self, page, table, rule):
        pct = next((c for c in table.columns if c.startswith("%")), None)
        ci = next((c for c in table.columns if "confidence" in c), None)
        count_cols = [c for c in table.columns if c not in (pct, ci)]
        if len(count_cols) < 2 or pct is None:
            return
        low = table.caption.lower()
        prefix = "region" if "region" in low else "sample" if "sampled" in low else "reason"
        if table.caption.startswith(LEARNING_CAPTIONS):  # one set of unknowns per table
            prefix = f"theme {table.caption}"
        if prefix == "reason" and LD_REASON_SHOWN in _norm(table.note):
            self.ld_reason_same.add(page.ident)
        for row, _ in table.rows:
            n = self.cell(page, table, rule, (page.ident, f"{prefix}_n", _norm(row)), row,
                          count_cols[0])
            k = self.cell(page, table, rule, (page.ident, f"{prefix}_poor", _norm(row)), row,
                          count_cols[1])
            self.ratio(page, table, k, n, row, pct, ci, rule)

    def chart_data(self, page, table, rule):
        """The values a chart plots: per row its base, count and percentage; the rows of the
        report's period tied to the themes table (see :data:`CHART_DATA`)."""
        if len(table.columns) < 3:
            return
        if not _RULE_THRESHOLD.search(table.note) and not _RULE_ROUNDING.search(table.note):
            rule = _rule(page.text)  # a chart is published under its page's rule
        base_col, count_col, pct = table.columns[:3]
        prefix = f"chart {table.caption}"
        period = _report_period(page.text)
        inside_k, inside_n = [], []
        for row, _ in table.rows:
            n = self.cell(page, table, rule, (page.ident, f"{prefix}_n", row), row, base_col)
            k = self.cell(page, table, rule, (page.ident, f"{prefix}_k", row), row, count_col)
            if k is not None and self.problem.vars[k].hi is None:
                # a point not plotted hides its count whichever of its two counts was small:
                # the count may be 0
                self.problem.vars[k].lo = self.problem.vars[k].lo0 = 0
            for key, column in ((n, base_col), (k, count_col)):
                self._published_form(page, table, rule, key, row, column)
            self.ratio(page, table, k, n, row, pct, None, rule)
            first = _first_month(row)
            if period is not None and first is not None and period[0] <= first <= period[1]:
                inside_k.append(k)
                inside_n.append(n)
        if table.caption.startswith(CHART_DATA + "Deaths reviewed by structured judgement"):
            # months (or quarters) add up to the quarters of the Learning from Deaths table
            quarters: dict[str, tuple[list, list]] = {}
            for (row, _), k, n in zip(table.rows, *self._chart_keys(page, table), strict=True):
                label = _lfd_quarter(row)
                if label is not None and k is not None and n is not None:
                    quarters.setdefault(label, ([], []))[0].append(k)
                    quarters[label][1].append(n)
            for label, (ks, ns) in quarters.items():
                for parts, f in ((ks, "reviewed"), (ns, "deaths")):
                    self.pending_quarters.append((parts, page.ident, f, label))
        theme = re.search(r"'([^']+)'", table.caption)
        if theme is None or period is None or not inside_k:
            return
        prefix = next((f"theme {t.caption}" for t in page.tables
                       if t.caption.startswith(THEMES_TABLE)
                       or t.caption == NATIONAL_THEMES_TABLE), None)
        if prefix is None:
            return
        label = _norm(theme.group(1))
        for parts, f in ((inside_k, "poor"), (inside_n, "n")):
            # tied once every page is read (the themes table may come after the chart)
            self.pending_sums.append((parts, (page.ident, f"{prefix}_{f}", label),
                                      f"the points of the period add up to the themes table "
                                      f"({page.name}, {label})"))

    def lfd_chart(self, page, table, rule):
        """The national LfD chart's counts by quarter (see :data:`LFD_CHART_DATA`)."""
        period = _report_period(page.text)
        inside: dict[str, list] = {}
        for row, _ in table.rows:
            label = _lfd_quarter(row) or _norm(row)
            first = _first_month(row) or _first_month(_quarter_of_label(label) or "")
            for column in table.columns:
                f = _LFD_FIELDS.get(column)
                if f in ("deaths", "reviewed", "mltn"):
                    key = self.cell(page, table, rule, (page.ident, f"lfdchart_{f}", label),
                                    row, column)
                    self._published_form(page, table, rule, key, row, column)
                    if key is not None and period is not None and first is not None and \
                            period[0] <= first <= period[1]:
                        inside.setdefault(f, []).append(key)
        for f, parts in inside.items():
            self.pending_sums.append((parts, ("nation", f, "England and Scotland"),
                                      f"the chart's quarters of the period add up to the "
                                      f"nation table ({f})"))

    def _chart_cells(self, entries: list[tuple[_Page, PublishedTable]], which: int
                     ) -> dict[str, tuple]:
        """The declared counts (``which`` 0) or bases (1) of charts' data tables, by row."""
        out = {}
        for page, table in entries:
            for (row, _), key in zip(table.rows, self._chart_keys(page, table)[which],
                                     strict=True):
                if key is not None:
                    out[row] = key
        return out

    def _chart_keys(self, page, table) -> tuple[list, list]:
        prefix = f"chart {table.caption}"
        keys = [((page.ident, f"{prefix}_k", row), (page.ident, f"{prefix}_n", row))
                for row, _ in table.rows]
        return ([k if k in self.problem.vars else None for k, _ in keys],
                [n if n in self.problem.vars else None for _, n in keys])

    def _published_form(self, page, table, rule, key, row, column):
        """A count printed as disclosure control never prints it: recovered as printed."""
        if key is None:
            return
        text = self.shown(page, key).strip()
        threshold, rounding = rule
        if not text.isdigit() or int(text) == 0 or (threshold == 0 and rounding <= 1):
            return
        value = int(text)
        if value <= threshold or value % rounding:
            self.published_form_findings.append(Finding(
                self.where(page, table, row, column), self.shown(page, key, raw=True), value,
                "printed as disclosure control never prints a count: the exact count", key))

    def nations(self, page, table, rule):
        p = self.problem
        names = {"Deaths in scope": "deaths", "Deaths reviewed (SJR)": "reviewed",
                 "More likely than not due to problems in care": "mltn",
                 "Learning disability deaths": "ld_deaths", "of which reviewed": "ld_reviewed"}
        for row, _ in table.rows:
            for column, f in names.items():
                self.cell(page, table, rule, ("nation", f, row), row, column)
            self.ratio(page, table, ("nation", "reviewed", row), ("nation", "deaths", row), row,
                       "% of deaths reviewed", rule=rule)
            self.ratio(page, table, ("nation", "mltn", row), ("nation", "reviewed", row), row,
                       "% of reviewed deaths", rule=rule)
        for f in names.values():
            parts = [("nation", f, "England"), ("nation", f, "Scotland")]
            if all(k in p.vars for k in parts):
                p.add_sum(parts, ("nation", f, "England and Scotland"), "nations add up")

    def collaborative(self, page, table, rule):
        """Each member's row is its year total (the same cells as its own report's); the
        pooled row is their sum."""
        p = self.problem
        names = {"Deaths in scope": "deaths", "Deaths reviewed (SJR)": "reviewed",
                 "More likely than not due to problems in care": "mltn"}
        members = []
        for row, _ in table.rows:
            pooled = _is_total(row, table) or row in table.totals
            ident = f"collaborative:{page.path.stem}" if pooled else row
            if not pooled:
                members.append(row)
            for column, f in names.items():
                self.cell(page, table, rule, (ident, f, "TOTAL"), row, column)
            self.ratio(page, table, (ident, "reviewed", "TOTAL"), (ident, "deaths", "TOTAL"),
                       row, "% of deaths reviewed", rule=rule)
        for f in names.values():
            parts = [(m, f, "TOTAL") for m in members]
            total = (f"collaborative:{page.path.stem}", f, "TOTAL")
            if all(k in p.vars for k in parts) and total in p.vars:
                p.add_sum(parts, total, f"members add up to the collaborative ({f})")

    def national_avoidability(self, page, table, rule):
        p = self.problem
        parts = []
        total = None
        for row, _ in table.rows:
            m = re.match(r"([1-6]) ", row)
            if m:
                key = self.cell(page, table, rule, ("nation", f"av{m.group(1)}",
                                                    "England and Scotland"), row,
                                "Reviewed deaths")
                parts.append(key)
            elif _is_total(row, table):
                total = self.cell(page, table, rule, ("nation", "av_scored", "all"), row,
                                  "Reviewed deaths")
        p.add_sum(parts, total, "avoidability scores add up (national)")
        for row, _ in table.rows:
            m = re.match(r"([1-6]) ", row)
            if m and total:
                self.ratio(page, table, ("nation", f"av{m.group(1)}", "England and Scotland"),
                           total, row, "% of deaths with a score", rule=rule)

    # ------------------------------------------------------------ across reports ----
    def across(self, pages: list[_Page], complete: bool,
               regions: dict[str, str] | None = None) -> None:
        """National (and nation) figures against the sum of every organisation's cells;
        ``regions`` (code -> NHS England region, from the index) ties each region's row of
        poor care to its trusts' overall care."""
        p = self.problem
        orgs = sorted({pg.ident for pg in pages if pg.organisation})
        if not orgs or not any(pg.ident == "national" for pg in pages):
            return
        nation = {o: ("Scotland" if o.startswith("S") else "England") for o in orgs}
        groups = {"England": [o for o in orgs if nation[o] == "England"],
                  "Scotland": [o for o in orgs if nation[o] == "Scotland"],
                  "England and Scotland": orgs}

        def relate(total, members, how):
            if total not in p.vars:
                return
            parts = [m for m in members if m in p.vars]
            if len(parts) != len(members) and complete:
                return  # a page lacks the cell: the relation is not known
            if not complete or len(parts) != len(members):
                parts.append(p.fresh())  # organisations whose pages are not here
            p.add_sum(parts, total, how)

        for name, members in groups.items():
            for f in ("deaths", "reviewed", "mltn", "ld_deaths", "ld_reviewed"):
                relate(("nation", f, name), [(o, f, "TOTAL") for o in members],
                       f"{name} {f} in the national report = sum of the organisations'")
        for s in range(1, 7):
            relate(("nation", f"av{s}", "England and Scotland"), [(o, f"av{s}", "TOTAL")
                                                                  for o in orgs],
                   f"national avoidability {s} = sum of the organisations'")
        for key in [k for k in list(p.vars) if k[0] == "national"]:
            _, f, row = key
            if f.startswith(("care", "problem", "Led to harm")) and f != "care_poor":
                relate(key, [(o, f, row) for o in orgs],
                       f"national {f} ({row}) = sum of the organisations'")
        for key in [k for k in list(p.vars) if k[0] == "national" and ":" in k[1]]:
            _, f, row = key
            name, part = f.split(":", 1)
            if name in groups and part in ("cd", "cw"):
                relate(key, [(o, part, row) for o in groups[name]],
                       f"{name} {part} ({row}) in the national report = sum of the "
                       "organisations'")
        for key in [k for k in list(p.vars) if k[0] == "national" and k[1] == "fq"]:
            # the ext2026 tables: the national cell = the sum of the organisations' same cell
            if p.vars[key].aux:
                continue  # a sum of the page's own cells (scores 1 + 2), related through them
            relate(key, [(o, *key[1:]) for o in orgs],
                   f"national {key[2]} = sum of the organisations'")
        self._across_charts(pages, orgs, complete)
        for key in [k for k in list(p.vars) if k[0] == "national" and
                    k[1].startswith("lfdchart_")]:
            f, label = key[1].removeprefix("lfdchart_"), key[2]
            members = []
            for o in orgs:
                found = [k for k in ((o, f, label), (o, f, f"{label} (provisional)"))
                         if k in p.vars]
                members.append(found[0] if found else ("missing",))
            relate(key, members, f"the national chart's {f} ({label}) = sum of the "
                                 "organisations'")
        self._across_themes(pages, groups, relate)

        def overall_care(keys: tuple[tuple, tuple], members: list[str], what: str) -> None:
            """Reviews scoring overall care, and those scoring it poor, of a group."""
            for key, f in zip(keys, ("care_n", "care_poor"), strict=True):
                relate(key, [(o, f, OVERALL) for o in members],
                       f"{what} ({f}) = sum of its organisations'")

        for name, members in groups.items():  # the headline's nations (self.headline)
            overall_care((("nation", "poor_n", name), ("nation", "poor", name)), members,
                         f"{name}'s poor care in the headline")
        by_region: dict[str, list[str]] = {}
        if groups["Scotland"]:
            by_region["Scotland"] = groups["Scotland"]
        regions = regions or {}
        if all(o in regions for o in groups["England"]):  # else a region's members are unsure
            for o in groups["England"]:
                by_region.setdefault(regions[o], []).append(o)
        for region, members in by_region.items():
            overall_care((("national", "region_n", region), ("national", "region_poor", region)),
                         members, f"{region}'s poor care (by region)")


    def _across_themes(self, pages: list[_Page], groups: dict[str, list[str]],
                       relate: Callable) -> None:
        """The national themes tables (both nations, and each nation's) against every
        organisation's themes table of the period: a theme's coded reviews, and those coded
        with it, are the sum of the organisations'. An organisation whose page says none of
        its reviews is coded yet counts 0."""
        p = self.problem
        none_coded = {pg.ident for pg in pages
                      if pg.organisation and NONE_CODED in " ".join(pg.text.split())}
        theirs = {k[0]: k[1].rsplit("_", 1)[0] for k in p.vars
                  if len(k) == 3 and isinstance(k[1], str)
                  and k[1].startswith(f"theme {THEMES_TABLE}")}
        for name, members in groups.items():
            prefix = f"theme {NATIONAL_THEMES_TABLE}" if name == "England and Scotland" \
                else f"theme {NATIONAL_THEMES_TABLE.rsplit(':', 1)[0]}: {name}"
            for key in [k for k in list(p.vars) if k[0] == "national" and len(k) == 3
                        and k[1] in (f"{prefix}_n", f"{prefix}_poor")]:
                f = key[1].rsplit("_", 1)[1]
                parts = [(o, f"{theirs.get(o, f'theme {THEMES_TABLE}')}_{f}", key[2])
                         for o in members if o not in none_coded]
                relate(key, parts, f"{name}'s themes table ({key[2]}, {f}) = sum of the "
                                   "organisations'")

    def _across_charts(self, pages: list[_Page], orgs: list[str], complete: bool) -> None:
        """A national chart's points against the same chart of every organisation: each
        quarter's national counts (its months' sum, on a chart by month) = the sum of the
        organisations' counts of that quarter (their months, or their quarter), and each
        month's = the organisations' month where all of them chart by month. An organisation's
        chart lacking a month has none of that month (a chart leaves out a period with no
        base, and the charts of one period share their window); an organisation without the
        chart, or whose page is not here, is an unknown."""
        p = self.problem
        charts: dict[str, dict[str, list[tuple[_Page, PublishedTable]]]] = {}
        for page in pages:
            for table in page.tables:
                if table.caption.startswith(CHART_DATA):
                    charts.setdefault(_chart_measure(table.caption), {}).setdefault(
                        page.ident, []).append((page, table))
        for measure, by_page in charts.items():
            national = by_page.get("national")
            if not national:
                continue
            for which in (0, 1):  # the counts, then the bases
                mine = self._chart_cells(national, which)
                theirs = {o: self._chart_cells(by_page[o], which) for o in orgs if o in by_page}
                if not mine:
                    continue
                unknown = len(theirs) < len(orgs) or not complete
                monthly = all(all(_QUARTER.fullmatch(r) is None for r in rows)
                              for rows in theirs.values())
                quarters: dict[str, tuple[list, list]] = {}
                for row, key in mine.items():
                    q = _lfd_quarter(row)
                    if q is None:
                        continue
                    quarters.setdefault(q, ([], []))[0].append(key)
                    if monthly and _QUARTER.fullmatch(row) is None:
                        parts = [their[row] for their in theirs.values() if row in their]
                        p.add_sum(parts + ([p.fresh()] if unknown else []), key,
                                  f"national chart ({measure}, {row}) = sum of the "
                                  "organisations'")
                for their in theirs.values():
                    for row, key in their.items():
                        q = _lfd_quarter(row)
                        if q in quarters:
                            quarters[q][1].append(key)
                for q, (national_parts, org_parts) in quarters.items():
                    total = p.fresh()
                    p.add_sum(national_parts, total, f"national chart ({measure}, {q})")
                    p.add_sum(org_parts + ([p.fresh()] if unknown else []), total,
                              f"national chart ({measure}, {q}) = sum of the organisations'")


def _chart_measure(caption: str) -> str:
    """What a chart's data table shows, without the page's place and time words: the national
    chart of a measure and each organisation's have the same."""
    text = caption.removeprefix(CHART_DATA)
    text = re.sub(r", by (month|quarter) of death$", "", text)
    return re.sub(r", (national|England and Scotland)$", "", text)


_INDEX_ENTRY = re.compile(r'<h[23]>([^<]*)</h[23]>|href="trusts/([^"/]+)\.html"')


def _index_regions(text: str) -> dict[str, str]:
    """Organisation code -> its NHS England region, as a period's index lists them: under a
    region's heading (``<h3>``) until the next heading (``sjrlib.report.render``). A nation
    without regions (Scotland) has no such heading."""
    regions: dict[str, str] = {}
    region = None
    for match in _INDEX_ENTRY.finditer(text):
        heading, code = match.groups()
        if heading is not None:
            region = _norm(html.unescape(heading)) if match.group(0).startswith("<h3") else None
        elif region is not None:
            regions[html.unescape(code)] = region
    return regions


def _pages(folders: Iterable[str | Path], internal: bool = True
           ) -> tuple[list[_Page], bool, dict[str, str]]:
    pages = []
    listed: set[str] = set()
    regions: dict[str, str] = {}
    for folder in folders:
        folder = Path(folder)
        files = [folder] if folder.is_file() else sorted(folder.rglob("*"))
        for path in files:
            if not internal and path.parent.name == INTERNAL_FOLDER and not folder.is_file():
                continue
            if path.name == "index.html":
                text = path.read_text(encoding="utf-8", errors="replace")
                listed |= set(re.findall(r'href="trusts/([^"/]+)\.html"', text))
                regions |= _index_regions(text)
                continue
            if path.suffix == ".html":
                tables, text = read_page(path)
                ident = "national" if path.stem == "national" else path.stem
                pages.append(_Page(ident, path, tables, text))
            elif path.suffix == ".xlsx":
                tables, text = read_workbook(path)
                pages.append(_Page(path.stem.removesuffix("-lfd"), path, tables, text, True))
    # an organisation's report is in the period's trusts/ folder; the national page, a
    # collaborative's (collaborative/) and the trainer directory are not one (counted as one, an
    # organisation without the national tables' cells made every relation across reports
    # unknown: England's went unchecked)
    in_trusts = any(pg.path.parent.name == "trusts" for pg in pages)
    for pg in pages:
        pg.organisation = pg.path.parent.name == "trusts" if in_trusts else (
            pg.ident != "national" and pg.path.parent.name != "collaborative"
            and pg.path.name != "trainers.html")
    present = {pg.ident for pg in pages}
    complete = bool(listed) and listed <= present
    return pages, complete, regions


def check_reports(folders: Iterable[str | Path], *, internal: bool = True
                  ) -> tuple[list[Finding], int, list[str]]:
    """Attack the reports under ``folders``.

    Parameters
    ----------
    folders
        Report folders (one period: ``reports/<period>``) or single files.
    internal
        Whether to read the organisation-audience reports of a folder's ``organisation/``
        (exact counts) as published too; False: what a reader of the rest alone has.

    Returns
    -------
    (findings, n_files, notes)
        Every recovered count, how many pages and workbooks were read, and notes on
        relations that did not hold (a page inconsistent with itself).
    """
    pages, complete, regions = _pages(folders, internal)
    reader = _Reader()
    # pages of one organisation share its keys (page and workbook); the national page its own
    for page in pages:
        reader.read(page)
    reader.across(pages, complete, regions)
    for parts, total, how in reader.pending_sums:
        if total in reader.problem.vars:
            reader.problem.add_sum(parts, total, how)
    for parts, ident, f, label in reader.pending_quarters:
        rows = [k for k in reader.problem.vars if k[:2] == (ident, f) and len(k) == 3
                and isinstance(k[2], str) and k[2].removesuffix(" (provisional)") == label]
        for row in rows:  # the page's table and the workbook's sheet: the same figures
            reader.problem.add_sum(parts, row, f"the chart's months add up to the quarter "
                                   f"of the Learning from Deaths table ({ident}, {label}, {f})")
    findings = reader.problem.solve()
    for _ in range(3):
        if not reader.problem.combine():
            break
        findings = reader.problem.solve()
    findings += reader.problem.narrowed()
    seen = {f.key for f in findings}
    findings += [f for f in reader.published_form_findings if f.key not in seen]
    return findings, len(pages), reader.problem.notes
