"""The statistics an action may be measured by: declared here once.

An action (``shared/spec/learning.md``, "Actions and impact") may name one measure: a statistic
the project already computes for an organisation, by month of death. Its impact is shown as the
measure's p-chart rebased at the month the change went in (:func:`impact_chart`), with the
Making Data Count variation and assurance icons, and nothing more.

A measure is written as ``kind`` or ``kind:argument``:

- ``poor_care:<phase>``: % of first-stage reviews scoring the phase that found poor or very
  poor care (1-2) in it (``poor_care:overall`` is the headline figure); lower is better;
- ``theme:<theme id>``: % of coded reviews coded with the theme (a review counts once, by the
  codes of its first coder: :func:`primary_codes`); lower is better, except for
  ``good_practice``;
- ``reviewed``: % of deaths in scope reviewed by structured judgement review; higher is better.

Only a person's codes exist in the store (a machine suggestion is stored only once a person
accepts it), so no suggestion counts in a theme measure.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sjrlib import domain

__all__ = [
    "MEASURE_KINDS",
    "Measure",
    "MeasureKind",
    "allowed_measures",
    "impact_chart",
    "measure_counts",
    "hidden_cells",
    "parse_measure",
    "pooled_withheld",
    "primary_codes",
    "published_counts",
    "published_p_chart",
    "theme_label",
]


@dataclass(frozen=True)
class MeasureKind:
    """One kind of measure: how its id is written, what it counts, which way is better."""

    kind: str
    argument: str | None  # "phase", "theme" or None
    numerator: str
    denominator: str


MEASURE_KINDS: dict[str, MeasureKind] = {
    "poor_care": MeasureKind("poor_care", "phase", "reviews with poor or very poor care in the "
                             "phase", "first-stage reviews scoring the phase"),
    "theme": MeasureKind("theme", "theme", "reviews coded with the theme", "coded reviews"),
    "reviewed": MeasureKind("reviewed", None, "deaths reviewed", "deaths in scope"),
}
"""Every kind of measure an action may name. A new kind is added here and in
:func:`measure_counts`, and nowhere else."""


@dataclass(frozen=True)
class Measure:
    """A measure an action names: its id (``theme:sepsis``), words and better direction."""

    id: str
    kind: str
    argument: str | None
    label: str
    improvement: str  # "increase" or "decrease" (sjrlib.spc)


def _phase_label(phase: str) -> str:
    return domain.labels("phase").get(phase, phase)


def theme_label(codebook: Any, theme_id: str) -> str:
    """A theme's label as tables and reports show it, under ``codebook`` (the store's): a
    theme it has retired is marked "(retired)"; an id it does not hold shows as itself."""
    for theme in codebook.themes:
        if theme.id == theme_id:
            return f"{theme.label} (retired)" if theme.retired else theme.label
    return str(theme_id)


def _make(kind: str, argument: str | None, codebook: Any) -> Measure:
    if kind == "poor_care":
        words = "overall care" if argument == "overall" else \
            f"the {_phase_label(str(argument)).lower()} phase"
        return Measure(f"poor_care:{argument}", kind, argument,
                       f"% of first-stage reviews with poor or very poor care in {words}"
                       if argument != "overall" else
                       "% of first-stage reviews with poor or very poor overall care",
                       "decrease")
    if kind == "theme":
        return Measure(f"theme:{argument}", kind, argument,
                       f"% of coded reviews coded '{theme_label(codebook, str(argument))}'",
                       "increase" if argument == "good_practice" else "decrease")
    return Measure("reviewed", kind, None, "% of deaths in scope reviewed", "increase")


def allowed_measures(codebook: Any) -> list[Measure]:
    """Every measure an action may name under ``codebook`` (the store's latest,
    ``Session.codebook()``: the one an action is checked against): one per phase of care, one
    per active theme, and the share of deaths reviewed."""
    out = [_make("poor_care", p, codebook) for p in domain.PHASES]
    out += [_make("theme", t.id, codebook) for t in codebook.active]
    out.append(_make("reviewed", None, codebook))
    return out


def parse_measure(text: str, codebook: Any, *, stored: bool = False) -> Measure:
    """The :class:`Measure` written ``text`` (e.g. ``"theme:sepsis"``) under ``codebook`` (the
    store's latest, ``Session.codebook()``).

    ``stored``: ``text`` is read back from an action already recorded (a report), so it was
    checked when it was stored; a theme retired since (or, in a codebook that never held it,
    any theme id) is read, its label saying so (:func:`theme_label`), rather than refused:
    an action measured by a theme the programme team later retires stays readable.

    Raises
    ------
    ValueError
        ``text`` is not one of :func:`allowed_measures`; the message lists the forms allowed.
    """
    value = str(text).strip()
    kind, _, argument = value.partition(":")
    spec = MEASURE_KINDS.get(kind)
    problem = None
    if spec is None:
        problem = f"unknown kind {kind!r}"
    elif spec.argument is None and argument:
        problem = f"{kind} takes no argument"
    elif spec.argument == "phase" and argument not in domain.PHASES:
        problem = f"{argument!r} is not a phase ({', '.join(domain.PHASES)})"
    elif spec.argument == "theme" and not argument:
        problem = "theme: needs a theme id"
    elif spec.argument == "theme" and not stored and \
            argument not in {t.id for t in codebook.active}:
        problem = f"{argument!r} is not an active theme of codebook {codebook.version}"
    if problem:
        raise ValueError(f"measure {value!r}: {problem}; a measure is poor_care:<phase>, "
                         "theme:<theme id> or reviewed")
    return _make(kind, argument or None, codebook)


def primary_codes(theme_codes: pd.DataFrame) -> pd.DataFrame:
    """The codes a review counts by: those of its first coder (the person whose first code on
    the review is the earliest), one row per review and theme (phases folded).

    A second coder codes a review so that agreement can be measured
    (``sjrlib.stats.agreement``); counting both would count a double-coded review twice as
    often. Returns columns ``review_id, theme`` (plus ``organisation_code`` when present).
    """
    columns = ["review_id", "theme"] + (["organisation_code"]
                                         if "organisation_code" in theme_codes else [])
    if theme_codes.empty:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in columns})
    # by time, not by the text of the time (stored times come in more than one ISO 8601 form)
    codes = theme_codes.assign(_when=pd.to_datetime(theme_codes["coded_at"], utc=True,
                                                    format="ISO8601"))
    codes = codes.sort_values(["_when", "id"] if "id" in codes else ["_when"], kind="stable")
    first = codes.groupby("review_id", sort=False)["coded_by"].first()
    mine = codes["coded_by"].to_numpy() == first.reindex(codes["review_id"]).to_numpy()
    out = codes.loc[mine, columns].drop_duplicates(["review_id", "theme"])
    return out.reset_index(drop=True)


def measure_counts(measure: Measure, *, reviews: pd.DataFrame, theme_codes: pd.DataFrame,
                   deaths: pd.DataFrame, months: Sequence[str]) -> pd.DataFrame:
    """Monthly ``numerator`` and ``denominator`` of a measure for one organisation's rows.

    Parameters
    ----------
    reviews
        Review frame (no drafts) of the organisation.
    theme_codes
        Its theme codes (``Session.theme_codes`` columns); used by ``theme:`` measures.
    deaths
        Its deaths frame; used by ``reviewed``.
    months
        The months to show, in order (``YYYY-MM``); a month without data has 0 of 0.

    Returns
    -------
    pandas.DataFrame
        Indexed by month, columns ``numerator`` and ``denominator`` (int).
    """
    index = pd.Index(list(months), name="month")
    if measure.kind == "poor_care":
        from sjrlib.stats import descriptive

        table = descriptive.poor_care(reviews, by="month", phase=str(measure.argument))
        table = table.set_index(table["month"].astype(str))
        num, den = table["poor"], table["n"]
    elif measure.kind == "theme":
        firsts = reviews[(reviews["review_stage"] == "first").fillna(False)]
        month_of = dict(zip(firsts["review_id"].astype(str), firsts["death_month"].astype(str),
                            strict=True))
        codes = primary_codes(theme_codes)
        codes = codes[codes["review_id"].astype(str).isin(month_of)]
        coded = codes.drop_duplicates("review_id")["review_id"].astype(str).map(month_of)
        hit = codes[codes["theme"] == measure.argument]["review_id"].astype(str).map(month_of)
        den, num = coded.value_counts(), hit.value_counts()
    elif measure.kind == "reviewed":
        from sjrlib.stats.lfd import learning_from_deaths

        table = learning_from_deaths(reviews, deaths, period="month", by_organisation=False)
        table = table.set_index(table["period"].astype(str))
        den = table["deaths_in_scope"].astype("Float64").fillna(0)
        num = table["reviewed"].fillna(0)
    else:  # pragma: no cover - parse_measure admits only the kinds above
        raise ValueError(f"no counts for measure kind {measure.kind!r}")
    out = pd.DataFrame({"numerator": num.reindex(index).fillna(0).astype(int),
                        "denominator": den.reindex(index).fillna(0).astype(int)}, index=index)
    out["numerator"] = out[["numerator", "denominator"]].min(axis=1)
    return out


def published_counts(counts: pd.DataFrame, rule: Any = None, *,
                     period: tuple[str, str] | None = None,
                     withheld: Collection[str] = ()) -> pd.DataFrame:
    """The monthly counts of a chart as a published page may show them.

    A chart point is a derived figure (``shared/spec/privacy-and-disclosure.md``): a p-chart's
    point is numerator / denominator and its limits pin the denominator, so the point pins
    both counts, and the points of a year add up to the year's count in the report's tables.
    So under an active ``rule`` (:class:`sjrlib.disclosure.DisclosureRule`):

    - counts are those disclosure control publishes: rounded to the rule's base;
    - a period whose numerator or denominator is 1 to ``rule.threshold`` is hidden (no value,
      no limits), and so is a second one where a total printed elsewhere (the year's, for
      ``period`` the report's; for months also the quarter's) would give a hidden one back,
      by :func:`sjrlib.disclosure.suppression_mask` (secondary suppression, hardened against
      rounding);
    - months are aggregated to financial quarters when more than a third of them would be
      hidden, so that the chart still shows a process;
    - a month in ``withheld`` is hidden too, before the secondary suppression (a pooled count
      that, set against each organisation's own chart, would narrow one:
      :func:`pooled_withheld`); grouped into quarters, its quarter is.

    ``rule`` None or inactive (an organisation's own report): the exact monthly counts.

    Parameters
    ----------
    counts
        Indexed by month (``YYYY-MM``), columns ``numerator`` and ``denominator`` (int), as
        :func:`measure_counts` returns them; months with no denominator are dropped.
    period
        The report's first and last month: its months (or quarters) add up to the counts of
        the report's tables, so they form one relation.

    Returns
    -------
    pandas.DataFrame
        Indexed by period (``YYYY-MM`` or ``YYYY/YY Qn``); ``numerator`` and ``denominator``
        (published counts, float, NaN where hidden), ``hidden`` (bool) and ``first_month``.
        ``attrs``: ``unit`` ("month" or "quarter"), ``controlled`` (bool) and ``rule``.
    """
    from sjrlib.stats._reviews import financial_quarter

    counts = counts[counts["denominator"] > 0]
    months = [str(m) for m in counts.index]
    k = counts["numerator"].astype(int).to_numpy()
    n = counts["denominator"].astype(int).to_numpy()
    controlled = rule is not None and rule.active
    if not controlled:
        out = pd.DataFrame({"numerator": k.astype(float), "denominator": n.astype(float),
                            "hidden": False, "first_month": months}, index=pd.Index(months))
        out.attrs.update(unit="month", controlled=False, rule=rule)
        return out
    unit = "month"
    small = [rule.is_small(a) or rule.is_small(b) for a, b in zip(k, n, strict=True)]
    if months and sum(small) > len(months) / 3:
        unit = "quarter"
        quarters = [financial_quarter(m) for m in months]
        grouped = pd.DataFrame({"q": quarters, "k": k, "n": n, "m": months}).groupby(
            "q", sort=True).agg(k=("k", "sum"), n=("n", "sum"), m=("m", "min"))
        labels, k, n = list(grouped.index), grouped["k"].to_numpy(), grouped["n"].to_numpy()
        firsts = list(grouped["m"])
    else:
        labels, firsts = months, months
    table = pd.DataFrame({"k": k, "n": n}, index=pd.Index(labels, dtype=object))
    held = {m for m in withheld if m in set(months)}
    held = {financial_quarter(m) for m in held} if unit == "quarter" else held
    start = pd.DataFrame({c: [label in held for label in labels] for c in ("k", "n")},
                         index=table.index, dtype=bool)
    hidden = hidden_cells(table, firsts, rule, unit, period, withheld=start).any(axis=1)
    hidden = [bool(h) for h in hidden]
    shown_k = [np.nan if h else float(rule.round(int(a))) for a, h in zip(k, hidden, strict=True)]
    shown_n = [np.nan if h else float(rule.round(int(b))) for b, h in zip(n, hidden, strict=True)]
    out = pd.DataFrame({"numerator": shown_k, "denominator": shown_n, "hidden": hidden,
                        "first_month": firsts}, index=pd.Index(labels, dtype=object))
    # a count of 1 or 2 rounds to 0 under a rule that only rounds: no base, no point
    out.loc[out["denominator"] == 0, ["numerator", "denominator"]] = np.nan
    out["hidden"] = out["hidden"] | out["denominator"].isna()
    out.attrs.update(unit=unit, controlled=True, rule=rule)
    return out


def hidden_cells(table: pd.DataFrame, firsts: list[str], rule: Any, unit: str,
                 period: tuple[str, str] | None, *,
                 withheld: pd.DataFrame | None = None) -> pd.DataFrame:
    """Which counts of ``table`` (one row per month or quarter, one column per count) a chart
    hides: primary suppression and the cells of ``withheld``, then secondary suppression within
    every total a reader may know (the report's period, each financial year, and each quarter
    of months), each column in its own totals, until no relation gives one back.

    ``firsts``: each row's first month (``YYYY-MM``); ``unit``: "month" or "quarter"."""
    from sjrlib.disclosure import suppression_mask
    from sjrlib.stats._reviews import financial_quarter, financial_year

    labels = list(table.index)
    columns = list(table.columns)
    groups: dict[str, list[int]] = {}
    for i, first in enumerate(firsts):
        if period is not None and period[0] <= first <= period[1]:
            groups.setdefault("period", []).append(i)
        groups.setdefault(f"year {financial_year(first)}", []).append(i)
        if unit == "month":
            groups.setdefault(f"quarter {financial_quarter(first)}", []).append(i)
    # a hidden numerator and a hidden denominator are each protected in their own totals (a
    # denominator left recoverable while its point is not plotted tells nothing about the
    # numerator)
    values = table[columns].to_numpy(dtype=np.int64)
    mask = np.array([[rule.is_small(int(v)) for v in row] for row in values],
                    dtype=bool).reshape(values.shape)
    if withheld is not None:
        mask |= withheld.reindex(index=labels, columns=columns, fill_value=False) \
            .astype(bool).to_numpy()
    total = "__total__"
    changed = True
    while changed:
        changed = False
        for members in groups.values():
            held = mask[members]
            if not held.any() and not any(_sum_pins([int(v) for v in values[members, j]], rule)
                                          for j in range(len(columns))):
                continue  # nothing hidden, nothing pinned: suppression_mask would add nothing
            part = pd.DataFrame(np.vstack([values[members], values[members].sum(axis=0)]),
                                index=[*(labels[i] for i in members), total], columns=columns)
            known = pd.DataFrame(np.vstack([held, np.zeros(len(columns), dtype=bool)]),
                                 index=part.index, columns=columns)
            got = suppression_mask(part, rule, total_row=total, withheld=known) \
                .to_numpy(dtype=bool)[:-1]
            if (got & ~held).any():
                mask[members] = held | got
                changed = True
    return pd.DataFrame(mask, index=table.index, columns=columns)


def _sum_pins(values: list[int], rule: Any) -> bool:
    """Whether counts all printed under ``rule`` (none hidden) and their printed total leave
    one of them, or the total, a single possible value: the attack of
    :func:`sjrlib.disclosure.suppression_mask` on one sum with nothing hidden, which is then
    all it can find (a ``*`` narrowed needs a ``*``). One sum's bounds are exact after one
    round: each count between its own range and the total's less every other's."""
    from sjrlib.disclosure import count_range

    ranges = [count_range(rule.round(v) if v else 0, rule) for v in values]
    total = sum(values)
    t_lo, t_hi = count_range(rule.round(total) if total else 0, rule)
    lo_sum, hi_sum = sum(r[0] for r in ranges), sum(r[1] for r in ranges)
    for lo, hi in ranges:
        if lo != hi and max(lo, t_lo - (hi_sum - hi)) >= min(hi, t_hi - (lo_sum - lo)):
            return True
    return t_lo != t_hi and max(t_lo, lo_sum) >= min(t_hi, hi_sum)


def pooled_withheld(per_org: pd.DataFrame, rule: Any, *,
                    period: tuple[str, str] | None = None,
                    columns: Sequence[str] = ("numerator", "denominator"),
                    unit: str = "month",
                    bounds: Mapping[str, tuple[str, str]] | None = None) -> pd.DataFrame:
    """The cells of a pooled chart (the national one: the sum of every organisation's counts)
    that, set against each organisation's own chart and tables of the same counts
    (:func:`sjrlib.disclosure.differencing_risk`), would narrow an organisation's hidden count.

    ``per_org``: one row per organisation and period, with ``organisation_code``, ``period``
    (``YYYY-MM`` for ``unit`` "month", a financial quarter ``YYYY/YY Qn`` for "quarter") and
    the count ``columns``. Each organisation is taken to publish every one of its periods,
    its quarters and financial years (and the report's ``period``) under ``rule``; that
    assumes more known than its reports print, so it can only find more at risk. A period is
    at risk when its own pooled count is. A sum (a quarter of months, a year, the report's
    period) at risk hides its largest pooled count among periods not already hidden: with
    that one hidden, the pooled sum is no longer read off the chart (and
    :func:`hidden_cells` hides a second beside it if the sum is printed elsewhere).

    ``bounds`` (count column -> two columns of ``per_org``): the lowest and highest value a
    reader knows an organisation's count to have from other cells it prints (its deaths
    judged more likely than not from its avoidability scores 1-3), for each period; a sum's
    are the sums of its periods'.

    Returns a boolean frame indexed by period (sorted), one column per count.
    """
    from sjrlib.disclosure import differencing_risk
    from sjrlib.stats._reviews import financial_quarter, financial_year, quarter_first_month

    columns = list(columns)
    periods = sorted(per_org["period"].astype(str).unique())
    out = pd.DataFrame(False, index=pd.Index(periods, dtype=object), columns=columns)
    if not periods or rule is None or not rule.active:
        return out
    orgs = per_org["organisation_code"].astype(str).to_numpy()
    when = per_org["period"].astype(str).to_numpy()

    def first(label: str) -> str:
        return label if unit == "month" else str(quarter_first_month(label))

    sums: dict[str, list[str]] = {}
    for label in periods:
        month = first(label)
        if unit == "month":
            sums.setdefault(f"q {financial_quarter(month)}", []).append(label)
        sums.setdefault(f"y {financial_year(month)}", []).append(label)
        if period is not None and period[0] <= month <= period[1]:
            sums.setdefault("period", []).append(label)
    def pivot(values: Any, fill: int) -> pd.DataFrame:
        numbers = pd.to_numeric(values, errors="coerce").fillna(fill).astype(np.int64)
        return pd.DataFrame({"org": orgs, "period": when, "count": numbers.to_numpy()}) \
            .pivot_table(index="org", columns="period", values="count", aggfunc="sum",
                         fill_value=fill).reindex(columns=periods, fill_value=fill)

    for column in columns:
        table = pivot(per_org[column], 0)
        known = None
        if bounds is not None and column in bounds:
            lows, highs = (pivot(per_org[c], 0).reindex(table.index)
                           for c in bounds[column])
            known = {m: (lows[m].to_numpy(), highs[m].to_numpy()) for m in periods}
        risk = differencing_risk(table, rule, rule, bounds=known)
        out[column] = risk.reindex(periods, fill_value=False).to_numpy(bool)
        pooled = table.sum(axis=0)
        for members in sums.values():
            summed = pd.DataFrame({"sum": table[members].sum(axis=1)})
            both = None if known is None else {"sum": (
                lows[members].sum(axis=1).to_numpy(), highs[members].sum(axis=1).to_numpy())}
            if not differencing_risk(summed, rule, rule, bounds=both).get("sum", False):
                continue
            open_ = [m for m in members if not out.at[m, column]]
            if len(open_) == len(members) and open_:
                out.at[max(open_, key=lambda m: (int(pooled[m]), m)), column] = True
    return out


def published_p_chart(published: pd.DataFrame, improvement: str, *,
                      rebase_from: str | None = None, target: float | None = None
                      ) -> pd.DataFrame:
    """The p-chart (:func:`sjrlib.spc.p_chart`) of :func:`published_counts`.

    Centre lines and limits come from the published counts of the points shown; a hidden
    period keeps its place on the time axis with no value, no limits and ``judged`` False
    (so it is neither plotted nor judged). So does a period whose counts are printed but whose
    percentage the chart's table prints as ``–`` (:func:`sjrlib.disclosure.charted_share`:
    even whole numbers would pin the counts within their rounding, e.g. 10 of 15): the chart
    does not draw a percentage its own table withholds; ``attrs["unplotted"]`` counts them
    (``attrs["hidden"]`` the hidden ones; ``attrs["not_plotted"]`` names both, for
    :class:`sjrlib.report.learning.PublishedChart`, whose caption says why each is missing).
    ``rebase_from``: a month; the chart is rebased at the first shown period starting then or
    later (none: not rebased, ``attrs["rebased"]`` False). ``target`` is a proportion (0-1).
    """
    from sjrlib import spc

    hidden = published["hidden"].to_numpy(bool)
    unplotted = _percent_withheld(published)
    shown = published[~(hidden | unplotted)]
    rebase = None
    if rebase_from is not None:
        after = [p for p, m in zip(shown.index, shown["first_month"], strict=True)
                 if str(m) >= rebase_from]
        if after and after[0] != shown.index[0]:
            rebase = [after[0]]
    frame = spc.p_chart(shown["numerator"].astype(int), shown["denominator"].astype(int),
                        improvement=improvement, rebase=rebase,  # type: ignore[arg-type]
                        target=target)
    attrs = dict(frame.attrs)
    if len(shown) != len(published):
        frame = frame.reindex(published.index)
        carried = [c for c in ("rebase_group", "mean", "short_group_warning", "target",
                               "assurance", "improvement") if c in frame]
        frame[carried] = frame[carried].ffill().bfill()
        hide = hidden | unplotted
        frame.loc[hide, "judged"] = False
        frame["judged"] = frame["judged"].astype(bool)
        frame.loc[hide, "point_type"] = "common_cause"
        for column in ("numerator", "denominator"):  # printed in the chart's table
            frame.loc[unplotted, column] = published.loc[unplotted, column].to_numpy()
        frame.attrs.update(attrs)
    frame.attrs.update(unit=published.attrs.get("unit", "month"),
                       controlled=published.attrs.get("controlled", False),
                       hidden=int(published["hidden"].sum()), unplotted=int(unplotted.sum()),
                       not_plotted=tuple(published.index[hidden | unplotted]),
                       rebased=rebase is not None, published=published)
    return frame


def _percent_withheld(published: pd.DataFrame) -> np.ndarray:
    """Which periods of :func:`published_counts` show their counts but not their percentage:
    the chart's table prints ``–`` for it (:func:`sjrlib.disclosure.charted_share`), so the
    chart plots no point there. None on an uncontrolled chart (exact counts)."""
    rule = published.attrs.get("rule")
    out = np.zeros(len(published), dtype=bool)
    if not published.attrs.get("controlled") or rule is None:
        return out
    from sjrlib.disclosure import charted_share

    for i, (k, n, hidden) in enumerate(zip(published["numerator"], published["denominator"],
                                           published["hidden"], strict=True)):
        out[i] = not hidden and charted_share(k, n, rule) is None
    return out


def impact_chart(measure: Measure, counts: pd.DataFrame, change_month: str,
                 target: float | None = None, *, rule: Any = None,
                 period: tuple[str, str] | None = None) -> pd.DataFrame:
    """The measure's p-chart (:func:`sjrlib.spc.p_chart`) rebased at the change.

    ``target``: the action's target as a percentage of the measure (0-100), or None; with one,
    the chart carries the Making Data Count assurance of its last point (``assurance``).

    ``rule``: the report's disclosure rule; under an active one the chart shows only what
    disclosure control publishes (:func:`published_counts`: rounded counts, small counts
    hidden, months aggregated to quarters when too many would be); None: exact counts (an
    organisation's own report, analysis). ``period``: the report's first and last month.

    Months with no denominator are left out (a p-chart needs one); the rebase is at
    ``change_month``, or at the first period after it with data shown. Without data from the
    change on, the chart is not rebased (``frame.attrs["rebased"]`` is False). The chart's
    ``attrs`` also hold ``measure``, ``change_month`` and ``published`` (the counts shown).
    """
    published = published_counts(counts, rule, period=period)
    frame = published_p_chart(published, measure.improvement, rebase_from=change_month,
                              target=None if target is None else float(target) / 100)
    frame.attrs.update(measure=measure.id, change_month=change_month)
    return frame
