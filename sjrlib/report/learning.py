"""What was learnt, what was done about it, and whether it worked: the report sections of
``shared/spec/learning.md`` (issue 13).

- :class:`TrustLearning` (``TrustReport.learning``): themes of the period (counts, % of coded
  reviews, trend), themes among poor-care and among good-care reviews, good practice by phase,
  SPC charts of the top themes, the action register with each measured action's impact chart
  (the measure's p-chart rebased at the change, :func:`sjrlib.measures.impact_chart`), and the
  Quality Account pack laying out the statutory items ready to paste.
- :class:`NationalLearning` (``NationalReport.learning``): themes pooled nationally and by
  nation, their trends, and coder agreement per theme (Cohen's kappa, Gwet's AC1, percent
  agreement over reviews coded by two people); no organisation is named.

Rules kept here: only people's codes exist in the store (a suggestion is stored only once a
person accepts it), and a review counts by its first coder's codes
(:func:`sjrlib.measures.primary_codes`); themes are counts of coded reviews and follow the
report's disclosure rule like every other count; no judgement text is read or shown (the
codes are read without it, and the review frame of a report has no free text).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from sjrlib import domain, measures, plots, spc
from sjrlib.disclosure import (
    SUPPRESSED,
    DisclosureRule,
    differencing_risk,
    percent_not_shown,
    protect_count,
    published_rate,
    published_share,
)
from sjrlib.disclosure_check import (  # what the checker reads
    CHART_DATA,
    NONE_CODED,
    THEME_TABLES,
)
from sjrlib.report import tables
from sjrlib.report.figures import Chart, with_data

__all__ = [
    "Charts",
    "Learning",
    "NationalLearning",
    "TrustLearning",
    "attach_learning",
    "read_learning",
    "write_learning_slices",
]

TOP_THEMES = 3
"""How many of the most frequent themes get an SPC chart of their own."""

_CODE_COLUMNS = ["review_id", "organisation_code", "theme", "phase", "coded_by", "coded_at",
                 "from_suggestion"]
_TREND_WORDS = {
    "common_cause": "no significant change",
    "special_cause_improvement": "special cause: improving",
    "special_cause_concern": "special cause: worsening",
    "special_cause_neutral_high": "special cause: higher",
    "special_cause_neutral_low": "special cause: lower",
}


# ------------------------------------------------------------------------- the data ----
class Learning(NamedTuple):
    """What the learning sections read from the store: theme codes (no judgement text),
    actions, and the store's latest codebook (``Session.codebook()``), whose labels the report
    shows and against which a stored measure is read."""

    theme_codes: pd.DataFrame
    actions: pd.DataFrame
    codebook: Any  # sjrlib.themes.codebook.Codebook


def read_learning(session: Any, organisation_codes: Sequence[str] | None) -> Learning:
    """Theme codes, actions and the codebook a report uses, through the governed session:
    ``organisation_codes`` (None: all in the session's scope)."""
    codebook = session.codebook()
    codes = session.theme_codes()
    if organisation_codes is not None:
        codes = codes[codes["organisation_code"].isin(list(organisation_codes))]
    actions = session.actions(organisation_codes=None if organisation_codes is None
                              else list(organisation_codes))
    return Learning(codes[_CODE_COLUMNS].reset_index(drop=True), actions, codebook)


def write_learning_slices(learning: Learning, paths: dict[str, Path]) -> None:
    """Beside each slice file of the batch (``<code>.pkl``, ``national.pkl``), write the
    codes and actions of that organisation (all of them for ``national``) and the store's
    codebook as ``<slice>.learning.pkl`` (mode 0600, deleted with the batch's private
    folder)."""
    import os

    codes, actions, codebook = learning
    for code, path in paths.items():
        part = {"theme_codes": codes, "actions": actions, "codebook": codebook}
        if code != "national":
            part = {"theme_codes": codes[codes["organisation_code"] == code]
                    .reset_index(drop=True),
                    "actions": actions[actions["organisation_code"] == code]
                    .reset_index(drop=True), "codebook": codebook}
        side = Path(path).with_suffix(".learning.pkl")
        fd = os.open(side, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(part, fh, protocol=pickle.HIGHEST_PROTOCOL)


def attach_learning(params: Any, data: Any) -> None:
    """Give ``data`` (``ReportData``) its ``theme_codes``, ``actions`` and ``codebook`` (the
    store's latest): from the batch's side file beside ``params.data_file``, else through the
    governed session as ``params.user`` (audited: ``theme_codes``, ``actions`` and
    ``codebook``)."""
    if getattr(data, "theme_codes", None) is not None:
        return
    if params.data_file:
        side = Path(params.data_file).with_suffix(".learning.pkl")
        if side.exists():
            with open(side, "rb") as fh:
                part = pickle.load(fh)
            data.theme_codes, data.actions = part["theme_codes"], part["actions"]
            data.codebook = part["codebook"]
        else:  # a slice written without learning: the report says there is none
            from sjrlib.themes.codebook import shipped_codebook

            # no code and no action to read: the codebook names only the themes of empty
            # tables
            data.theme_codes, data.actions = _no_codes(), _no_actions()
            data.codebook = shipped_codebook()
        return
    from data_access import open_session
    from data_access.store import existing_store_url, get_engine

    code = getattr(params, "organisation_code", None)
    engine = get_engine(existing_store_url(params.db))
    try:
        with open_session(user=params.user, db=engine, tool="report") as session:
            data.theme_codes, data.actions, data.codebook = read_learning(
                session, [code] if code else None)
    finally:
        engine.dispose()


def _no_codes() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="string") for c in _CODE_COLUMNS})


def _no_actions() -> pd.DataFrame:
    from data_access.actions import ACTION_COLUMNS

    return pd.DataFrame({c: pd.Series(dtype="object") for c in ACTION_COLUMNS})


class Charts(list):
    """Several charts (or sentences) shown one after another."""

    def _repr_html_(self) -> str:
        if not self:
            return '<p class="sjr-note">No chart: nothing to show for this period.</p>'
        return "\n".join(item._repr_html_() for item in self)




class PublishedChart:
    """A p-chart as a report publishes it: the picture (:class:`Chart`), a note under it on
    what disclosure control did to it, and the table of the values it plots (the counts,
    published as the rule publishes them, and the percentage), for a screen reader and for
    ``sjr disclosure check``, which reads it as it reads every other table.

    ``frame`` comes from :func:`sjrlib.measures.published_p_chart`: the picture and the table
    are drawn from the same published counts (``frame.attrs["published"]``)."""

    def __init__(self, frame: pd.DataFrame, title: str, rule: DisclosureRule, *, y_label: str,
                 base: str, what: str, alt: str | None = None,
                 provisional_from: object | None = None) -> None:
        self.frame, self.title, self.rule = frame, title, rule
        self.base, self.what = base, what
        # the caption (note()) says which periods disclosure control left out and why; the
        # picture's own note then counts only the others, so each is said once
        explained = frame.index.isin(frame.attrs.get("not_plotted", ())) \
            if frame.attrs.get("controlled") else None
        self.chart = Chart(plots.spc_chart(frame, title=title, y_label=y_label,
                                           provisional_from=provisional_from,
                                           explained=explained), alt=alt)

    @property
    def figure(self) -> Any:
        return self.chart.figure

    @property
    def withheld(self) -> str | None:
        return self.chart.withheld

    def note(self) -> str:
        """What disclosure control did to the chart, in words ("" when nothing)."""
        if not self.frame.attrs.get("controlled"):
            return ""
        unit = self.frame.attrs.get("unit", "month")
        words = [f"Disclosure control: the points, centre lines and limits are computed from "
                 f"the points shown, on counts rounded to the nearest {self.rule.rounding}"
                 if self.rule.rounding > 1 else
                 "Disclosure control: the points, centre lines and limits are computed from "
                 "the points shown"]
        hidden = int(self.frame.attrs.get("hidden", 0))
        if hidden:
            words.append(f"{hidden} {unit}(s) whose count is 1 to {self.rule.threshold}, or "
                         "would give one back or narrow one (through a total published "
                         "elsewhere, or, pooled, an organisation's own chart), are not "
                         "plotted (no value, no limits)")
        if unit == "quarter":
            words.append("months are grouped into financial quarters, because more than a "
                         "third of the months had counts too small to show")
        text = "; ".join(words) + "."
        unplotted = int(self.frame.attrs.get("unplotted", 0))
        if unplotted:  # counts printed, percentage "–" in the table: no point, no limits
            text += " " + percent_not_shown(unplotted, f"{unit}(s)")
        return text

    def table(self) -> tables.ReportTable:
        """The values the chart plots, as a table."""
        published = self.frame.attrs.get("published")
        unit = self.frame.attrs.get("unit", "month")
        pct = f"% of {self.base.lower()}"
        rows = {}
        if published is not None:
            for label, row in published.iterrows():
                if bool(row["hidden"]):
                    rows[str(label)] = {self.base: self.rule.symbol, self.what: self.rule.symbol,
                                        pct: self.rule.symbol}
                    continue
                k, n = int(row["numerator"]), int(row["denominator"])
                # the test the chart's points pass too (measures.published_p_chart)
                rows[str(label)] = {self.base: n, self.what: k,
                                    pct: published_share(k, n, self.rule)}
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=[self.base, self.what, pct],
                                       dtype=object)
        note = " ".join(x for x in (
            "The values the chart above plots, by " + unit + " of death.", self.note(),
            tables._note(self.rule) if self.frame.attrs.get("controlled") else "") if x)
        return tables.ReportTable(frame, caption=CHART_DATA + self.title, note=note,
                                  formats={pct: "percent"},
                                  index_name=f"{unit[:1].upper()}{unit[1:]} of death")

    def _repr_html_(self) -> str:
        import html

        if self.withheld:
            return self.chart._repr_html_()
        picture = self.chart._repr_html_()
        note = self.note()
        if note:  # inside the figure, under the picture
            picture = picture.replace("</figure>", f'<figcaption class="sjr-note">'
                                                   f"{html.escape(note)}</figcaption></figure>")
        return with_data(picture, self.table())

    def __repr__(self) -> str:
        return f"<PublishedChart: {self.title}>"


# ----------------------------------------------------------------------- counting ----
def _codebook(data: Any) -> Any:
    """The store's codebook the report's data carries (:func:`attach_learning`)."""
    book = getattr(data, "codebook", None)
    if book is None:
        raise ValueError("the report's data carries no codebook: read it with "
                         "sjrlib.report.learning.attach_learning (the store's)")
    return book


def _labels(codebook: Any) -> dict[str, str]:
    """Theme id -> label, the store's codebook's (a theme it has retired marked so:
    :func:`sjrlib.measures.theme_label`)."""
    return {t.id: measures.theme_label(codebook, t.id) for t in codebook.themes}


def _shown_themes(codebook: Any, phased: pd.DataFrame) -> list[str]:
    """The themes a report's tables list: the active themes of the store's codebook, then
    any it has retired that codes of the period still carry (given before it was retired:
    retired themes stay readable), in the codebook's order."""
    carried = set(phased["theme"].astype(str))
    return [t.id for t in codebook.active] + [t.id for t in codebook.themes
                                              if t.retired and t.id in carried]


def _coded(reviews: pd.DataFrame, codes: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """First-stage reviews with at least one code (their first coder's), and those codes
    (``review_id, theme, phase``) on them."""
    firsts = reviews[(reviews["review_stage"] == "first").fillna(False)]
    if len(codes):  # the first coder's codes, phases kept (measures.primary_codes folds them)
        order = codes.sort_values(["coded_at"], kind="stable")
        first = order.groupby("review_id", sort=False)["coded_by"].first()
        mine = order["coded_by"].to_numpy() == first.reindex(order["review_id"]).to_numpy()
        phased = order.loc[mine, ["review_id", "theme", "phase"]]
    else:
        phased = pd.DataFrame(columns=["review_id", "theme", "phase"])
    inside = firsts["review_id"].astype(str).isin(set(phased["review_id"].astype(str)))
    coded = firsts[inside].reset_index(drop=True)
    phased = phased[phased["review_id"].astype(str).isin(set(coded["review_id"].astype(str)))]
    return coded, phased.reset_index(drop=True)


def _theme_counts(coded: pd.DataFrame, phased: pd.DataFrame, themes: Iterable[str]
                  ) -> pd.DataFrame:
    """Per theme: ``n`` coded reviews, ``count`` of them coded with the theme."""
    ids = set(coded["review_id"].astype(str))
    per = phased[phased["review_id"].astype(str).isin(ids)].drop_duplicates(
        ["review_id", "theme"])["theme"].value_counts()
    rows = [(t, len(ids), int(per.get(t, 0))) for t in themes]
    return pd.DataFrame(rows, columns=["theme", "n", "count"]).set_index("theme")


def _protected_table(counts: pd.DataFrame, labels: dict[str, str], rule: DisclosureRule, *,
                     caption: str, base: str, what: str, note: str,
                     extra: dict[str, list[str]] | None = None,
                     index_name: str = "Theme",
                     withheld: pd.DataFrame | None = None,
                     pooled: list[pd.DataFrame] | None = None,
                     withheld_note: str = tables.DIFFERENCING_NOTE) -> tables.ReportTable:
    """A table of ``counts`` (index: theme, columns ``n``, ``count``) as published: the base,
    the count and the percentage of the base, all from protected counts. ``withheld`` (same
    shape, True: print ``*``) are counts a pooled table must not print
    (:func:`_differencing_withheld`); ``pooled``: every organisation's themes table as its
    report prints it (:meth:`NationalLearning._printed_by_org`), read at once by
    :func:`sjrlib.disclosure.protect_counts`. Themes are not parts of a total (a review carries
    several), so no second cell is withheld with one."""
    if pooled is not None and rule.active and len(counts):
        _shown, withheld = tables.protect_pooled(counts[["n", "count"]], rule,
                                                 withheld=withheld, pooled=pooled)
    rows = {}
    for theme, row in counts.iterrows():
        n_shown = protect_count(int(row["n"]), rule)
        k_shown = protect_count(int(row["count"]), rule)
        if withheld is not None and bool(withheld.at[theme, "n"]):
            n_shown = SUPPRESSED
        if withheld is not None and bool(withheld.at[theme, "count"]):
            k_shown = SUPPRESSED
        exact = 100 * row["count"] / row["n"] if row["n"] else None
        pct, _ = published_rate(k_shown, n_shown, rule, exact=exact)
        rows[labels.get(str(theme), str(theme))] = {base: n_shown, what: k_shown,
                                                    f"% of {base.lower()}": pct}
    frame = pd.DataFrame.from_dict(rows, orient="index", dtype=object)
    if frame.empty:
        frame = pd.DataFrame(columns=[base, what, f"% of {base.lower()}"], dtype=object)
    for column, values in (extra or {}).items():
        frame[column] = values
    formats = {f"% of {base.lower()}": "percent", **{c: "text" for c in (extra or {})}}
    table = tables.ReportTable(frame, caption=caption, note=tables._note(rule, note),
                               formats=formats, index_name=index_name)
    if withheld is not None and withheld.to_numpy().any():
        table.note = f"{table.note} {withheld_note}"
    return table


AMONG_NOTE = (
    "A * here may also stand for a larger count: one withheld because, set against the themes "
    "among all coded reviews above (of which these reviews are a part), it would narrow a "
    "count this page suppresses.")
"""Said under a trust's themes among poor-care or good-care reviews that withholds a count
for :func:`_among_withheld`."""


def _among_withheld(whole: pd.DataFrame, parts: list[pd.DataFrame], rule: DisclosureRule
                    ) -> list[pd.DataFrame | None]:
    """Which cells (index: theme; ``n``, ``count``) of the themes tables among poor-care and
    among good-care reviews to withhold so that, with the themes among all coded reviews
    (``whole``: these reviews and more), the printed counts do not narrow one another
    (:func:`sjrlib.report.tables.withhold_among`). Each table on its own was protected; side
    by side, a theme in 10 coded reviews (8-12), 10 of them poor care (8-12), left its
    ``*`` among good care at 1-4. None when the rule is off."""
    if not rule.active:
        return [None] * len(parts)
    out = [pd.DataFrame(False, index=p.index, columns=["n", "count"]) for p in parts]
    for theme in whole.index:
        for column in ("n", "count"):
            exact = [int(p.at[theme, column]) for p in parts]
            hide = tables.withhold_among(
                protect_count(int(whole.at[theme, column]), rule),
                [protect_count(c, rule) for c in exact], exact, rule)
            for mask, h in zip(out, hide, strict=True):
                mask.at[theme, column] = h
    return out


def _differencing_withheld(coded: pd.DataFrame, phased: pd.DataFrame, themes: list[str],
                           rule: DisclosureRule) -> pd.DataFrame:
    """Which cells of a pooled themes table (index: theme; ``n``, ``count``) to withhold
    because, set against every organisation's own themes table (each prints its coded reviews
    and each theme's count under ``rule``), the pooled count would narrow an organisation's
    ``*`` (:func:`sjrlib.disclosure.differencing_risk`): fifteen organisations each printing
    ``*`` for a theme and a pooled 15 (13-17) would leave each of theirs 1-3. An organisation
    with no coded review prints a sentence, which a reader takes as 0."""
    per_org = [_theme_counts(group, phased, themes)
               for _org, group in coded.groupby("organisation_code", sort=True)]
    out = pd.DataFrame(False, index=pd.Index(themes, name="theme"), columns=["n", "count"])
    if not per_org:
        return out
    counts = pd.DataFrame([[int(c["n"].iloc[0]) if len(c) else 0, *c["count"].reindex(themes)
                            .fillna(0).astype(int)] for c in per_org],
                          columns=["__n", *themes])
    risk = differencing_risk(counts, rule, rule)
    out["n"] = bool(risk["__n"])
    out["count"] = [bool(risk[t]) for t in themes]
    return out


def _month_words(month: str) -> str:
    names = ("January February March April May June July August September October November "
             "December").split()
    return f"{names[int(month[5:]) - 1]} {month[:4]}"


def _months(start: str, end: str) -> list[str]:
    from sjrlib.report.params import months_between

    return months_between(start, end)


class _Monthly:
    """Coded reviews per month and, per theme, those coded with it: counted once for all the
    themes' charts (a national window holds hundreds of thousands of codes). Charts show what
    disclosure control publishes under ``rule`` (:func:`sjrlib.measures.published_counts`;
    ``period``: the report's first and last month). ``pooled`` (the national charts): a month
    whose pooled count, set against each organisation's own chart of the theme, would narrow
    one is hidden too (:func:`sjrlib.measures.pooled_withheld`)."""

    def __init__(self, coded: pd.DataFrame, phased: pd.DataFrame, months: list[str],
                 rule: DisclosureRule | None = None,
                 period: tuple[str, str] | None = None, *, pooled: bool = False) -> None:
        self.rule, self.period = rule, period
        self._charts: dict[tuple[str, str], pd.DataFrame] = {}
        ids = coded["review_id"].astype(str).to_numpy()
        month_of = pd.Series(coded["death_month"].astype(str).to_numpy(), index=ids)
        index = pd.Index(months)
        self.months = index
        self.den = month_of.value_counts().reindex(index).fillna(0).astype(int)
        hits = phased.drop_duplicates(["review_id", "theme"])
        hit_ids = hits["review_id"].astype(str)
        hits = pd.DataFrame({"theme": hits["theme"].astype(str).to_numpy(),
                             "month": month_of.reindex(hit_ids).to_numpy()})
        self.num = (hits.groupby(["theme", "month"]).size().unstack(fill_value=0)
                    .reindex(columns=index, fill_value=0)) if len(hits) else \
            pd.DataFrame(columns=index, dtype=int)
        self.by_org: tuple[pd.DataFrame, pd.DataFrame] | None = None
        if pooled:
            org_of = pd.Series(coded["organisation_code"].astype(str).to_numpy(), index=ids)
            den = pd.DataFrame({"organisation_code": org_of.to_numpy(),
                                "period": month_of.to_numpy()})
            den = den[den["period"].isin(index)].value_counts().rename("denominator") \
                .reset_index()
            hits["organisation_code"] = org_of.reindex(hit_ids).to_numpy()
            hits = hits[hits["month"].isin(index)]
            num = hits.groupby(["theme", "organisation_code", "month"]).size() \
                .rename("numerator").reset_index().rename(columns={"month": "period"})
            self.by_org = (den, num)

    def chart(self, theme: str, improvement: str) -> pd.DataFrame:
        """Monthly p-chart of the share of coded reviews coded ``theme`` (made once: the
        themes table reads every theme's trend, the charts the top themes')."""
        key = (theme, improvement)
        if key not in self._charts:
            self._charts[key] = self._chart(theme, improvement)
        return self._charts[key]

    def _chart(self, theme: str, improvement: str) -> pd.DataFrame:
        num = self.num.loc[theme] if theme in self.num.index else self.den * 0
        counts = pd.DataFrame({"numerator": num.astype(int), "denominator": self.den})
        withheld: set[str] = set()
        if self.by_org is not None and self.rule is not None and self.rule.active:
            den, hits = self.by_org
            mine = hits[hits["theme"] == theme].drop(columns="theme")
            per_org = den.merge(mine, on=["organisation_code", "period"], how="left")
            per_org["numerator"] = per_org["numerator"].fillna(0).astype(int)
            risk = measures.pooled_withheld(per_org, self.rule, period=self.period)
            withheld = set(risk.index[risk.any(axis=1)])
        published = measures.published_counts(counts, self.rule, period=self.period,
                                               withheld=withheld)
        return measures.published_p_chart(published, improvement)


def _trend(frame: pd.DataFrame) -> str:
    judged = frame[frame["judged"].to_numpy(bool)] if "judged" in frame else frame
    if len(judged) < spc.MIN_CASES_FOR_LIMITS:
        return f"too few {frame.attrs.get('unit', 'month')}s to judge"
    return _TREND_WORDS.get(spc.variation(frame) or "", "not judged")


# -------------------------------------------------------------------------- trust ----
class TrustLearning:
    """The learning sections of one organisation's report (built by ``TrustReport``)."""

    def __init__(self, report: Any) -> None:
        self.report = report
        self.rule: DisclosureRule = report.rule
        data = report.data
        codes = getattr(data, "theme_codes", None)
        actions = getattr(data, "actions", None)
        codes = _no_codes() if codes is None else codes
        self.codes = codes[codes["organisation_code"] == report.code].reset_index(drop=True)
        actions = _no_actions() if actions is None else actions
        self.actions = actions[actions["organisation_code"] == report.code] \
            .reset_index(drop=True)
        self.codebook = _codebook(data)
        self.labels = _labels(self.codebook)
        self.coded, self.phased = _coded(report.reviews, self.codes)
        self.themes = _shown_themes(self.codebook, self.phased)
        self.window_coded, self.window_phased = _coded(report.window_reviews, self.codes)
        self.months = _months(report.data.trend_start, report.period.end_month)

    @cached_property
    def _counts(self) -> pd.DataFrame:
        return _theme_counts(self.coded, self.phased, self.themes)

    @cached_property
    def _monthly(self) -> _Monthly:
        return _Monthly(self.window_coded, self.window_phased, self.months, self.rule,
                        (self.report.period.start_month, self.report.period.end_month))

    def _top(self) -> list[str]:
        counts = self._counts["count"]
        counts = counts[counts > self.rule.threshold].sort_values(ascending=False, kind="stable")
        return [t for t in counts.index if t != "good_practice"][:TOP_THEMES]

    def _improvement(self, theme: str) -> str:
        return "increase" if theme == "good_practice" else "decrease"

    def _none_coded(self) -> _Sentence | None:
        """One sentence instead of tables of zeros, while no review of the period is coded."""
        if len(self.coded):
            return None
        return _Sentence(f"{NONE_CODED} An organisation lead codes submitted reviews in the "
                         "coding dashboard (coding.ipynb); a suggested theme counts only once a "
                         "person accepts it.")

    def themes_table(self) -> tables.ReportTable | _Sentence:
        """Themes this period: coded reviews, reviews coded with each theme, %, trend."""
        if (nothing := self._none_coded()) is not None:
            return nothing
        trends = [_trend(self._monthly.chart(t, self._improvement(t)))
                  for t in self._counts.index]
        return _protected_table(
            self._counts, self.labels, self.rule,
            caption=THEME_TABLES[0],
            base="Coded reviews", what="Reviews coded with the theme",
            note=("A review may carry several themes. Counts are of first-stage reviews of "
                  "deaths in the period that a person coded (a machine suggestion counts only "
                  "once a person accepted it), each by its first coder's codes. Trend: the "
                  "theme's monthly SPC chart over the trend window (Making Data Count rules)."),
            extra={"Trend": trends})

    def themes_by_care(self) -> Charts:
        """Themes among reviews finding poor or very poor overall care, and among those
        finding good or excellent care (two tables)."""
        out = Charts()
        if self._none_coded() is not None:
            return Charts([_Sentence("No coded review this period (see above).")])
        groups = ((domain.POOR_CARE, "poor or very poor", THEME_TABLES[1]),
                  ((4, 5), "good or excellent", THEME_TABLES[2]))
        parts = [_theme_counts(
            self.coded[self.coded["score_overall"].isin(list(scores)).fillna(False)],
            self.phased, self.themes) for scores, _words, _caption in groups]
        withheld = _among_withheld(self._counts, parts, self.rule)
        for (_scores, words, caption), counts, hidden in zip(groups, parts, withheld,
                                                              strict=True):
            out.append(_protected_table(
                counts, self.labels, self.rule, caption=caption,
                base=f"Coded reviews ({words} care)", what="Reviews coded with the theme",
                note=f"Coded first-stage reviews whose overall care was {words}.",
                withheld=hidden, withheld_note=AMONG_NOTE))
        return out

    def good_practice(self) -> tables.ReportTable | Charts:
        """Good practice noted, by phase of care (and for the review as a whole)."""
        if self._none_coded() is not None:
            return Charts([_Sentence("No coded review this period (see above).")])
        phases = [*domain.PHASES, None]
        names = {**domain.labels("phase"), "whole": "The review as a whole"}
        good = self.phased[self.phased["theme"] == "good_practice"]
        rows = []
        for phase in phases:
            where = good["phase"].isna() if phase is None else (good["phase"] == phase)
            rows.append((phase or "whole", len(self.coded),
                         int(good[where.fillna(False)]["review_id"].nunique())))
        counts = pd.DataFrame(rows, columns=["theme", "n", "count"]).set_index("theme")
        return _protected_table(
            counts, names, self.rule,
            caption="Good practice noted by reviewers, by phase of care",
            base="Coded reviews", what="Reviews with good practice noted",
            note="Care singled out as good practice worth sharing (theme good_practice), by "
                 "the phase it was coded on.", index_name="Phase of care")

    def top_theme_charts(self) -> Charts:
        """SPC charts of the share of coded reviews carrying each of the top themes."""
        out = Charts()
        for theme in self._top():
            frame = self._monthly.chart(theme, self._improvement(theme))
            title = (f"Coded reviews with the theme '{self.labels[theme]}', by "
                     f"{frame.attrs.get('unit', 'month')} of death")
            out.append(PublishedChart(frame, title, self.rule, y_label="% of coded reviews",
                                      base="Coded reviews",
                                      what="Reviews coded with the theme"))
        return out

    # -------------------------------------------------------------------- actions ----
    def actions_table(self) -> tables.ReportTable:
        """Open and completed actions (and any dropped), with owner role, dates, themes and
        measure."""
        order = {s: i for i, s in enumerate(("open", "in_progress", "completed", "dropped"))}
        acts = self.actions.assign(_o=self.actions["status"].map(order)).sort_values(
            ["_o", "agreed_on"], kind="stable")
        words = {"open": "Open", "in_progress": "In progress", "completed": "Completed",
                 "dropped": "Dropped"}
        rows = {}
        for i, a in enumerate(acts.itertuples(), 1):
            measure = measures.parse_measure(a.measure, self.codebook, stored=True) \
                if _given(a.measure) else None
            rows[f"{i}. {a.description}"] = {
                "Status": words.get(str(a.status), str(a.status)),
                "Owner": str(a.owner_role),
                "Agreed": _day(a.agreed_on), "Due": _day(a.due_on),
                "Completed": _day(a.completed_on),
                "Themes": ", ".join(self.labels.get(t, t) for t in str(a.themes or "").split(";")
                                    if t) or "-",
                "Measure": measure.label if measure else "-",
                "Change went in": _month_words(str(a.change_month)) if measure else "-",
            }
        columns = ["Status", "Owner", "Agreed", "Due", "Completed", "Themes", "Measure",
                   "Change went in"]
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=columns, dtype=object) \
            if rows else pd.DataFrame(columns=columns, dtype=object)
        return tables.ReportTable(
            frame, caption="Actions agreed in response to learning from reviews",
            note="From the organisation's action register. Owners are roles, not people. A "
                 "measured action's impact is its SPC chart below, rebased at the month the "
                 "change went in; no other statistic of impact is claimed.",
            formats={c: "text" for c in columns}, index_name="Action")

    @cached_property
    def _impacts(self) -> list[tuple[Any, Any, pd.DataFrame]]:
        out = []
        for a in self.actions.itertuples():
            if not _given(a.measure) or str(a.status) == "dropped":
                continue
            measure = measures.parse_measure(a.measure, self.codebook, stored=True)
            counts = measures.measure_counts(
                measure, reviews=self.report.window_reviews, theme_codes=self.codes,
                deaths=self.report.window_deaths, months=self.months)
            if not (counts["denominator"] > 0).any():
                continue
            target = getattr(a, "target", None)
            out.append((a, measure, measures.impact_chart(
                measure, counts, str(a.change_month),
                target=float(target) if _given(target) else None, rule=self.rule,
                period=(self.report.period.start_month, self.report.period.end_month))))
        return out

    def impact_charts(self) -> Charts:
        """Each measured action's measure as a p-chart rebased at the change, with its
        variation (and assurance) icons, and one sentence reading the chart."""
        out = Charts()
        for action, measure, frame in self._impacts:
            kind = measures.MEASURE_KINDS[measure.kind]
            out.append(PublishedChart(
                frame, f"{measure.label}: rebased at {_month_words(action.change_month)}",
                self.rule, y_label=measure.label,
                alt=f"Impact of '{action.description}': {measure.label}",
                base=kind.denominator[:1].upper() + kind.denominator[1:],
                what=kind.numerator[:1].upper() + kind.numerator[1:]))
            out.append(_Sentence(_impact_sentence(action, measure, frame)))
        return out

    # ----------------------------------------------------------- Quality Account ----
    def quality_account(self) -> tables.ReportTable:
        """The Quality Account's learning from deaths items, laid out ready to paste."""
        report = self.report
        lfd = report._lfd[1]
        total = report.total_label
        symbol = self.rule.symbol

        def shown(column: str) -> str:
            value = lfd.at[total, column] if column in lfd.columns else None
            return "not known" if value is None or value is pd.NA else (
                f"{value:,}" if isinstance(value, (int, np.integer)) else str(value))

        period = f"{_month_words(report.period.start_month)} to " \
                 f"{_month_words(report.period.end_month)}"
        top = self._top()
        learnt = ("No themes were coded this period." if not top else
                  "The themes found most often in coded reviews were: " + "; ".join(
                      f"{self.labels[t].lower()} "
                      f"({_count_words(self._counts.at[t, 'count'], self.rule)} reviews)"
                      for t in top) + ".")
        gp = int(self._counts.at["good_practice", "count"]) if "good_practice" in \
            self._counts.index else 0
        if gp:
            learnt += (f" Reviewers singled out good practice in {_count_words(gp, self.rule)} "
                       "reviews.")
        status = self.actions["status"].value_counts()
        acts = self.actions
        done = acts[acts["status"] == "completed"]
        doing = acts[acts["status"].isin(["open", "in_progress"])]
        actions_text = (
            f"{len(acts)} action(s) are on the register: {int(status.get('completed', 0))} "
            f"completed, {int(status.get('in_progress', 0))} in progress, "
            f"{int(status.get('open', 0))} open, {int(status.get('dropped', 0))} dropped."
            + ("" if done.empty else " Completed: " + "; ".join(done["description"].astype(str))
               + ".")
            + ("" if doing.empty else " Under way: " + "; ".join(doing["description"]
                                                                 .astype(str)) + "."))
        impact = " ".join(_impact_sentence(a, m, f) for a, m, f in self._impacts) or (
            "No action on the register names a measure yet, so no impact is shown.")
        rows = {
            "27.1 Deaths in scope": f"During {period}, {shown('deaths_in_scope')} patients "
                                    "died in the organisation's care (deaths in scope).",
            "27.2 Case record reviews": f"{shown('reviewed')} of these deaths had a case record "
                                        "review by structured judgement review (SJR).",
            "27.3 Deaths judged more likely than not due to problems in care":
                f"{shown('more_likely_than_not')} deaths were judged more likely than not to "
                "have been due to problems in the care provided.",
            "Estimate and its method":
                "Method: the number of deaths whose structured judgement review scored "
                "avoidability 1 to 3 on the Royal College of Physicians scale (definitely, "
                "strong evidence or probably avoidable); a second-stage judgement replaces the "
                "first. It is a count of reviewed deaths, not an estimate for all deaths, and "
                "depends on which deaths were selected for review.",
            "27.4 What was learnt": learnt,
            "27.5 Actions taken": actions_text,
            "27.6 Impact of the actions": impact,
        }
        frame = pd.DataFrame({"Text for the Quality Account": rows}, dtype=object)
        note = ("Ready to paste. Counts are those of the Learning from Deaths table above"
                + (f" ({symbol}: a small count withheld)." if self.rule.active else ".")
                + " No judgement statement is quoted.")
        return tables.ReportTable(frame, caption="Quality Account pack: learning from deaths",
                                  note=note, formats={"Text for the Quality Account": "text"},
                                  index_name="Item")


class _Sentence:
    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_html_(self) -> str:
        import html

        return f'<p class="sjr-note">{html.escape(self.text)}</p>'


def _given(value: object) -> bool:
    return value is not None and value is not pd.NA and not (
        isinstance(value, float) and np.isnan(value)) and str(value).strip() != ""


def _day(value: object) -> str:
    """A date as a board paper writes it ("3\u00a0Dec\u00a02023": one line in a table)."""
    if not _given(value):
        return "-"
    try:
        day = pd.Timestamp(str(value))
    except ValueError:
        return str(value)
    return f"{day.day}\u00a0{day:%b}\u00a0{day.year}"


def _count_words(count: object, rule: DisclosureRule) -> str:
    shown = protect_count(int(count), rule)
    return f"{shown:,}" if isinstance(shown, int) else str(shown)


def _impact_sentence(action: Any, measure: Any, frame: pd.DataFrame) -> str:
    """What the rebased chart shows, in words: the two centre lines and the icons."""
    groups = frame.groupby("rebase_group")["mean"].first()
    icon = _TREND_WORDS.get(spc.variation(frame) or "", "not judged")
    change = _month_words(str(action.change_month))
    if not _drawn(frame):
        return (f"'{action.description}' ({measure.label}): "
                + ("at this organisation's numbers, too few months or quarters have counts "
                   "that disclosure control lets the chart show, so no impact is shown."
                   if frame.attrs.get("controlled") else
                   "too few months with 8 or more cases to draw the chart, so no impact is "
                   "shown."))
    if len(groups) < 2:
        return (f"'{action.description}' ({measure.label}): the chart has no months from "
                f"{change} yet to compare.")
    return (f"'{action.description}': {measure.label} had a centre line of "
            f"{100 * groups.iloc[0]:.0f}% before {change} and {100 * groups.iloc[-1]:.0f}% "
            f"from then; latest point: {icon}; {_assurance_words(frame)}.")


def _drawn(frame: pd.DataFrame) -> bool:
    """Whether :func:`sjrlib.plots.spc_chart` draws the chart (8 or more points judged, on 8
    or more cases in all), so that a sentence may read it."""
    judged = frame["judged"].to_numpy(bool) if "judged" in frame else np.ones(len(frame), bool)
    cases = frame["denominator"].sum() if "denominator" in frame else len(frame)
    return len(frame) >= plots.MIN_CASES and int(judged.sum()) >= plots.MIN_CASES and \
        cases >= plots.MIN_CASES


def _assurance_words(frame: pd.DataFrame) -> str:
    """The Making Data Count assurance icon in words, against the action's target."""
    target = frame.attrs.get("target")
    if target is None:
        return "no target was set, so no assurance is given"
    kind = spc.assurance(frame)
    at = f"{100 * float(target):g}%"
    return {
        "consistent_pass": f"the target of {at} will be met consistently (the process limits "
                           "are all on the right side of it)",
        "consistent_fail": f"the target of {at} will not be met without a further change (the "
                           "process limits are all on the wrong side of it)",
    }.get(kind or "", f"the target of {at} lies within the process limits, so it will be met "
                      "in some months and missed in others")


# ----------------------------------------------------------------------- national ----
class NationalLearning:
    """The learning sections of the national report (no organisation named)."""

    def __init__(self, report: Any) -> None:
        self.report = report
        self.rule: DisclosureRule = report.rule
        codes = getattr(report.data, "theme_codes", None)
        self.codes = _no_codes() if codes is None else codes
        self.codebook = _codebook(report.data)
        self.labels = _labels(self.codebook)
        self.coded, self.phased = _coded(report.reviews, self.codes)
        self.themes = _shown_themes(self.codebook, self.phased)
        self.window_coded, self.window_phased = _coded(report.window_reviews, self.codes)
        self.months = _months(report.data.trend_start, report.period.end_month)

    @cached_property
    def _monthly(self) -> _Monthly:
        return _Monthly(self.window_coded, self.window_phased, self.months, self.rule,
                        (self.report.period.start_month, self.report.period.end_month),
                        pooled=True)

    @cached_property
    def _printed_by_org(self) -> dict[str, pd.DataFrame]:
        """Each organisation's themes table of the period as its report prints it (index:
        theme; ``n`` its coded reviews, ``count`` those coded with the theme), by code; with
        ``attrs["parts"]`` the period's points of its chart of each of its top themes
        (:meth:`TrustLearning.top_theme_charts`: count and base, a point not plotted anything
        from 0), which add up to its row. An organisation none of whose reviews of the period
        is coded prints a sentence: it has no table here (it adds 0). Its chart is taken over
        the national report's trend window."""
        start, end = self.report.period.start_month, self.report.period.end_month
        den, num = self._monthly.by_org or (None, None)

        def points(values: pd.Series) -> list[object]:
            return [None if pd.isna(v) else int(v) for v in values]  # None: not plotted

        out = {}
        for code, part in self.coded.groupby("organisation_code", sort=True, observed=True):
            counts = _theme_counts(part, self.phased, self.themes)
            table = pd.DataFrame({c: [protect_count(int(v), self.rule) for v in counts[c]]
                                  for c in ("n", "count")}, index=counts.index, dtype=object)
            top = counts["count"][counts["count"] > self.rule.threshold].sort_values(
                ascending=False, kind="stable")
            top = [t for t in top.index if t != "good_practice"][:TOP_THEMES]
            parts = {}
            if den is not None and top:
                mine = den[den["organisation_code"] == str(code)].set_index("period")
                hits = num[num["organisation_code"] == str(code)]
                for theme in top:
                    monthly = pd.DataFrame({
                        "numerator": hits[hits["theme"] == theme].set_index("period")
                        ["numerator"].reindex(mine.index).fillna(0).astype(int),
                        "denominator": mine["denominator"].astype(int)})
                    published = measures.published_counts(monthly, self.rule,
                                                          period=(start, end))
                    inside = published[(published["first_month"] >= start)
                                       & (published["first_month"] <= end)]
                    parts[(theme, "count")] = points(inside["numerator"])
                    parts[(theme, "n")] = points(inside["denominator"])
            table.attrs["parts"] = parts
            out[str(code)] = table
        return out

    def themes_table(self) -> tables.ReportTable:
        counts = _theme_counts(self.coded, self.phased, self.themes)
        trends = [_trend(self._monthly.chart(t, "increase" if t == "good_practice"
                                             else "decrease")) for t in counts.index]
        return _protected_table(
            counts, self.labels, self.rule, pooled=list(self._printed_by_org.values()),
            withheld=_differencing_withheld(self.coded, self.phased, self.themes, self.rule),
            caption="Themes coded in reviews: England and Scotland",
            base="Coded reviews", what="Reviews coded with the theme",
            note=("Pooled over every organisation (none is named). A review may carry several "
                  "themes; counts are of first-stage reviews a person coded, by the first "
                  "coder's codes; suggestions nobody accepted never count. Trend: the theme's "
                  "monthly SPC chart over the trend window."), extra={"Trend": trends})

    def themes_by_nation(self) -> Charts:
        out = Charts()
        nation_of = self.report.nation_of
        for nation in domain.NATIONS:
            chosen = self.coded[self.coded["organisation_code"].map(nation_of) == nation]
            if chosen.empty:
                continue
            counts = _theme_counts(chosen, self.phased, self.themes)
            name = domain.labels("nation").get(nation, nation)
            printed = self._printed_by_org
            out.append(_protected_table(
                counts, self.labels, self.rule, caption=f"Themes coded in reviews: {name}",
                withheld=_differencing_withheld(chosen, self.phased, self.themes, self.rule),
                pooled=[printed[c] for c in sorted(set(chosen["organisation_code"].astype(str)))
                        if c in printed],
                base="Coded reviews", what="Reviews coded with the theme",
                note=f"Every organisation in {name} pooled; none is named."))
        return out

    def trend_charts(self) -> Charts:
        counts = _theme_counts(self.coded, self.phased, self.themes)["count"]
        top = [t for t in counts.sort_values(ascending=False, kind="stable").index
               if t != "good_practice" and counts[t] > 0][:TOP_THEMES]
        out = Charts()
        for theme in top:
            frame = self._monthly.chart(theme, "decrease")
            unit = frame.attrs.get("unit", "month")
            out.append(PublishedChart(
                frame, f"Coded reviews with the theme '{self.labels[theme]}', England and "
                       f"Scotland, by {unit} of death", self.rule,
                y_label="% of coded reviews", base="Coded reviews",
                what="Reviews coded with the theme"))
        return out

    def agreement(self) -> tables.ReportTable:
        """Per theme: reviews coded by two people, percent agreement, Cohen's kappa and
        Gwet's AC1 (``sjrlib.stats.agreement.theme_agreement``)."""
        from sjrlib.stats.agreement import theme_agreement, theme_code_pairs

        firsts = set(self.report.reviews["review_id"].astype(str))
        codes = self.codes[self.codes["review_id"].astype(str).isin(firsts)]
        a, b = theme_code_pairs(codes) if len(codes) else ({}, {})
        every = list(self.codebook.ids)
        a = {r: frozenset(t for t in v if t in every) for r, v in a.items()}
        b = {r: frozenset(t for t in v if t in every) for r, v in b.items()}
        result = theme_agreement(a, b, every)
        result = result[result["theme"].isin(self.themes)]
        rows = {}
        for r in result.itertuples():
            enough = int(r.n) >= spc.MIN_CASES_FOR_LIMITS
            rows[self.labels.get(str(r.theme), str(r.theme))] = {
                "Reviews coded by two people": protect_count(int(r.n), self.rule),
                "Percent agreement": 100 * r.percent_agreement if enough else None,
                "Cohen's kappa": r.kappa if enough and not np.isnan(r.kappa) else None,
                "Gwet's AC1": r.ac1 if enough and not np.isnan(r.ac1) else None,
            }
        columns = ["Reviews coded by two people", "Percent agreement", "Cohen's kappa",
                   "Gwet's AC1"]
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=columns, dtype=object) \
            if rows else pd.DataFrame(columns=columns, dtype=object)
        return tables.ReportTable(
            frame, caption="Agreement between coders, by theme",
            note=("Reviews of the period coded independently by two people (the first two "
                  "coders of each). Each theme is a yes/no judgement per review. Kappa is low "
                  "for a rare theme even when coders nearly always agree (the prevalence "
                  "paradox), so Gwet's AC1 stands beside it. Not shown on fewer than 8 "
                  "reviews."),
            formats={"Percent agreement": "percent", "Cohen's kappa": "decimal",
                     "Gwet's AC1": "decimal"}, index_name="Theme")
