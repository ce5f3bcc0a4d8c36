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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sjrlib import domain

__all__ = [
    "MEASURE_KINDS",
    "Measure",
    "MeasureKind",
    "allowed_measures",
    "impact_chart",
    "measure_counts",
    "parse_measure",
    "primary_codes",
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
        labels = {t.id: t.label for t in codebook.themes}
        return Measure(f"theme:{argument}", kind, argument,
                       f"% of coded reviews coded '{labels.get(str(argument), argument)}'",
                       "increase" if argument == "good_practice" else "decrease")
    return Measure("reviewed", kind, None, "% of deaths in scope reviewed", "increase")


def _codebook(codebook: Any) -> Any:
    if codebook is not None:
        return codebook
    from sjrlib.themes.codebook import shipped_codebook

    return shipped_codebook()


def allowed_measures(codebook: Any = None) -> list[Measure]:
    """Every measure an action may name under ``codebook`` (default: the shipped one): one per
    phase of care, one per active theme, and the share of deaths reviewed."""
    book = _codebook(codebook)
    out = [_make("poor_care", p, book) for p in domain.PHASES]
    out += [_make("theme", t.id, book) for t in book.active]
    out.append(_make("reviewed", None, book))
    return out


def parse_measure(text: str, codebook: Any = None) -> Measure:
    """The :class:`Measure` written ``text`` (e.g. ``"theme:sepsis"``).

    Raises
    ------
    ValueError
        ``text`` is not one of :func:`allowed_measures`; the message lists the forms allowed.
    """
    book = _codebook(codebook)
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
    elif spec.argument == "theme" and argument not in {t.id for t in book.active}:
        problem = f"{argument!r} is not an active theme of codebook {book.version}"
    if problem:
        raise ValueError(f"measure {value!r}: {problem}; a measure is poor_care:<phase>, "
                         "theme:<theme id> or reviewed")
    return _make(kind, argument or None, book)


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
    codes = theme_codes.sort_values(["coded_at", "id"] if "id" in theme_codes else ["coded_at"])
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


def impact_chart(measure: Measure, counts: pd.DataFrame, change_month: str,
                 target: float | None = None) -> pd.DataFrame:
    """The measure's p-chart (:func:`sjrlib.spc.p_chart`) rebased at the change.

    ``target``: the action's target as a percentage of the measure (0-100), or None; with one,
    the chart carries the Making Data Count assurance of its last point (``assurance``).

    Months with no denominator are left out (a p-chart needs one); the rebase is at
    ``change_month``, or at the first month after it with data. Without data from the change
    on, the chart is not rebased (``frame.attrs["rebased"]`` is False). The chart's
    ``attrs`` also hold ``measure`` and ``change_month``.
    """
    from sjrlib import spc

    counts = counts[counts["denominator"] > 0]
    after = [m for m in counts.index if str(m) >= change_month]
    rebase = [after[0]] if after and after[0] != counts.index[0] else None
    frame = spc.p_chart(counts["numerator"], counts["denominator"],
                        improvement=measure.improvement, rebase=rebase,  # type: ignore[arg-type]
                        target=None if target is None else float(target) / 100)
    frame.attrs.update(measure=measure.id, change_month=change_month, rebased=rebase is not None)
    return frame
