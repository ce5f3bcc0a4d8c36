"""The national report: everything ``notebooks/national_report.ipynb`` displays.

Pooled figures for England and Scotland separately and together, NHS regions, trends, the
reliability of double-reviewed cases and an ordinal model of overall care. No organisation is
named, ranked or compared: the programme is explicitly not for comparing trusts. The report is
``public``: every count in it, national and nation totals included, goes through the disclosure
rule of the parameters, and its percentages and intervals are computed from the published
counts. An unrounded national total would undo the organisations' control: set against the sum
of every organisation's cells in their own reports it pins their suppressed and rounded counts
(a national count of 16 deaths judged definitely avoidable against fifteen trusts' ``*`` and
``0`` cells). Model estimates (trend test, ordinal model, agreement) need no control.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from sjrlib import domain, plots, plots_seaborn
from sjrlib.disclosure import (
    DisclosureRule,
    differencing_risk,
    differencing_withheld,
    interval_text,  # noqa: F401  (the national tables' interval form, imported from here)
    protect_count,
    protect_counts,
    published_rate,
)
from sjrlib.report import completeness, narrative, tables
from sjrlib.report.data import ReportData, load_report_data
from sjrlib.report.figures import Chart, ChartWithData
from sjrlib.report.form_questions import FormQuestionSections, clustered_interval_text
from sjrlib.report.params import NationalParameters, load_parameters, months_between
from sjrlib.report.stamp import Stamp
from sjrlib.report.trust import _month_words, _period_words, _zero_quarters
from sjrlib.stats import agreement, clustered, descriptive, models
from sjrlib.stats._reviews import financial_quarter, financial_year, quarter_first_month
from sjrlib.stats.lfd import learning_from_deaths

__all__ = ["NationalReport", "national_report"]

_AGREEMENT_LABELS = {
    "percent_agreement": "Exact agreement (proportion of pairs)",
    "kappa_linear": "Weighted kappa (linear)",
    "alpha_ordinal": "Krippendorff's alpha (ordinal)",
    "icc_1_1": "Intraclass correlation ICC(1,1)",
    "trigger_kappa": "Second-stage trigger (overall care 1-2 or not): Cohen's kappa",
    "trigger_ac1": "Second-stage trigger (overall care 1-2 or not): Gwet's AC1",
}


def _avoidability_row(distribution: pd.DataFrame, score: object) -> str:
    """The national avoidability table's row label of ``score`` ("1 Definitely avoidable")."""
    label = distribution.loc[distribution["score"] == score, "label"].iloc[0]
    return f"{int(score)} {label}"


_NATIONS = (("England", "england"), ("Scotland", "scotland"), ("England and Scotland", None))
"""The rows of the nation tables: name, and the nation code (None: both)."""
_NATION_NAMES = {key: name for name, key in _NATIONS if key}
"""A nation code's row name ("england" -> "England")."""
LFD_CHART_DATA = "Chart data: Learning from Deaths, "
"""How the caption of the national Learning from Deaths chart's data table begins (read by
``sjr disclosure check``: each quarter against the organisations' own quarters)."""

_LFD_SHOWN = ("deaths_in_scope", "reviewed", "more_likely_than_not", "ld_deaths", "ld_reviewed")
"""The Learning from Deaths counts the nation table prints."""

_MIN_CLUSTERS = 20
"""Organisations needed before the ordinal model's variance is made cluster-robust."""


def national_report(parameters: Mapping[str, Any]) -> NationalReport:
    """Validate ``parameters``, read the data and return the report."""
    params = load_parameters(dict(parameters, report="national"))
    data = load_report_data(params)
    from sjrlib.report.learning import attach_learning  # issue 13

    attach_learning(params, data)
    return NationalReport(params, data)


def clustered_interval(count: object, base: object, n_exact: int,
                       fit: clustered.ClusteredProportion | None, alpha: float
                       ) -> tuple[str | None, str | None]:
    """``(interval text, design effect text)`` of a pooled proportion as a page prints it.

    The interval is :func:`sjrlib.stats.clustered.effective_wilson` of the *published*
    ``count`` and ``base`` with the design effect of ``fit`` (the cluster-robust fit on the
    exact reviews), so it tells a reader nothing about the exact counts that the printed ones
    do not. Nothing on fewer than ``descriptive.MIN_CASES_FOR_INTERVAL`` reviews or where a
    count is withheld. The design effect is printed to one decimal; with one organisation
    there is none (the interval is then Wilson's)."""
    text = None if fit is None else clustered_interval_text(count, base, n_exact, fit, alpha)
    if text is None:
        return None, None
    deff = ("one organisation" if fit.n_clusters < 2 else
            "not estimable" if np.isnan(fit.design_effect) else f"{fit.design_effect:.1f}")
    return text, deff


def poor_care_sentence(name: str, poor: pd.DataFrame, confidence_level: float,
                       rule: DisclosureRule | None = None,
                       fit: clustered.ClusteredProportion | None = None,
                       shown: tuple[object, object] | None = None) -> str | None:
    """The headline's sentence on poor care in one nation (``poor``: one row of
    ``descriptive.poor_care``); the interval only where it rests on at least
    ``descriptive.MIN_CASES_FOR_INTERVAL`` reviews. None when there are no reviews. Under an
    active ``rule`` the count is the published one and the figures come from it: ``shown``
    (reviews, poor) as the report's control publishes them (a count may be withheld though
    not small, for differencing), else each count under the rule alone. With
    ``fit`` (the pooled proportion clustered by organisation) the interval allows for
    clustering (:func:`clustered_interval`) and the sentence gives the design effect."""
    if not len(poor) or not int(poor["n"].iloc[0]):
        return None
    r = descriptive.withhold_small_intervals(poor).iloc[0]
    rule = rule or DisclosureRule.off()
    exact_interval = None if np.isnan(r["ci_lower"]) else (r["ci_lower"], r["ci_upper"])
    if shown is not None and rule.active:
        n_shown, k_shown = shown
    else:
        n_shown = protect_count(int(r["n"]), rule)
        k_shown = protect_count(int(r["poor"]), rule) if rule.active else None
    if n_shown == rule.symbol and not rule.is_small(int(r["n"])):
        return (f"{name}: the number of first-stage reviews is withheld by disclosure control "
                "(set against the organisations' own reports, it would narrow one of theirs).")
    if k_shown == rule.symbol and n_shown != rule.symbol and not rule.is_small(int(r["poor"])):
        return (f"{name}: {int(n_shown):,} first-stage reviews; how many found poor or very poor "
                "overall care is withheld by disclosure control (set against the "
                "organisations' own reports, it would narrow one of theirs).")
    value, interval = published_rate(
        k_shown, n_shown, rule, exact=100 * r["proportion"], exact_interval=exact_interval,
        alpha=1 - confidence_level if exact_interval is not None else None)
    if not isinstance(value, (float, str)) or value == rule.symbol or n_shown == rule.symbol:
        return f"{name}: fewer than {rule.threshold + 1} reviews, or too few to show."
    pct = f"{value:.1f}%" if isinstance(value, float) else value
    if fit is not None:
        k_pub = k_shown if rule.active else int(r["poor"])
        interval, deff = clustered_interval(k_pub, n_shown, int(r["n"]), fit,
                                            1 - confidence_level)
        if interval:
            return (f"{name}: {pct} of {int(n_shown):,} first-stage reviews found poor or very "
                    f"poor overall care ({confidence_level:.0%} CI {interval.replace('–', '-')}, "
                    f"allowing for clustering by organisation; design effect {deff}).")
        interval = None
    ci = f" ({confidence_level:.0%} CI {interval.replace('–', '-')})" if interval else ""
    return (f"{name}: {pct} of {int(n_shown):,} first-stage reviews found poor or very poor "
            f"overall care{ci}.")


def _share_words(share) -> str:
    if isinstance(share, float):
        return f" ({share:.1f}%)"
    if isinstance(share, str) and share.endswith("%"):
        return f" ({share})"
    return ""


class NationalReport(FormQuestionSections):
    """The pooled national picture for one period."""

    pooled_by = "organisation_code"  # the ext2026 tables withhold for differencing too

    def __init__(self, params: NationalParameters, data: ReportData) -> None:
        self.params = params
        self.data = data
        self.period = data.period
        self.alpha = 1 - params.confidence_level
        self.regional_rule = params.disclosure_rule()
        self.rule = self.regional_rule
        self.off = DisclosureRule.off()
        self.window_reviews = data.reviews
        self.reviews = data.period_reviews().reset_index(drop=True)
        self.deaths = data.period_deaths()
        self.nation_of = dict(zip(data.organisations["organisation_code"].astype(str),
                                  data.organisations["nation"].astype(str), strict=True))
        self.total_label = f"{self.period.label.replace('_', ' ')}\u00a0total"

    @property
    def title(self) -> str:
        return f"National report: structured judgement reviews, {_period_words(self.period)}"

    @cached_property
    def synthetic(self) -> bool:
        """Whether the store is marked synthetic (``sjr demo-data``): the page then carries
        the synthetic-data banner (:class:`sjrlib.report.render.SyntheticBanner`)."""
        from sjrlib.report.stamp import store_is_synthetic

        return store_is_synthetic(self.params.db)

    def synthetic_banner(self):
        """The banner the notebook displays first on a synthetic store (``None`` otherwise)."""
        from sjrlib.report.render import SyntheticBanner

        return SyntheticBanner() if self.synthetic else None

    def introduction(self) -> narrative.Paragraph:
        n = len(self.reviews)
        orgs = self.reviews["organisation_code"].nunique()
        return narrative.Paragraph(
            "Pooled figures from ", narrative.Strong(f"{self._count_words(n)} reviews"), " at ",
            narrative.Strong(f"{orgs} organisations"), " (England's acute "
            f"trusts and Scotland's health boards), deaths from "
            f"{_month_words(self.period.start_month)} to {_month_words(self.period.end_month)}"
            "; drafts are not counted. The programme does not compare "
            "organisations: no organisation is named or ranked here. Every count, national and "
            "nation totals included, follows disclosure control ("
            + self.regional_rule.describe().lower().rstrip(".") + "), so that no organisation's "
            "controlled figures can be worked out from the totals; percentages come from the "
            "counts shown."
        )

    # ------------------------------------------------------------------- completeness ----
    @cached_property
    def _drafts(self) -> pd.DataFrame:
        drafts = self.data.drafts
        if drafts is None:
            drafts = completeness.draft_cases(self.reviews.iloc[0:0], self.reviews)
        return drafts

    @cached_property
    def _completeness(self) -> dict[str, pd.DataFrame]:
        drafts = self._drafts
        as_at = completeness.as_at_date(self.data.read_at)
        return {name: completeness.quarter_completeness(
                    self._nation(self.reviews, nation), self._nation(self.deaths, nation),
                    self._nation(drafts, nation), self.period.months(), as_at)
                for name, nation in (("England", "england"), ("Scotland", "scotland"),
                                     ("", None))}

    def as_at(self) -> narrative.Paragraph:
        """The data's as-at moment, and which quarters are provisional (England and Scotland
        together)."""
        return completeness.as_at_paragraph(self.data.read_at, self._completeness[""])

    def completeness(self) -> tables.ReportTable:
        """Per quarter and nation: deaths with only a draft review and deaths waiting for a
        second-stage review; whether the quarter is final (both nations together). Protected
        cell by cell against each organisation's own completeness table
        (:meth:`_completeness_withheld`), then against all of them at once, their quarters
        adding up to their period (``pooled``): two trusts printing ``*`` in each quarter
        (and for the period) and 0, 10, ``*``, ``*`` (15) would have England's 20 leave the
        first's quarters 1-6."""
        done = self._completeness
        nations = {"England": done["England"], "Scotland": done["Scotland"]}
        printed = [protect_counts(table.astype(object), self.rule, total_row=self.total_label)
                   for table in self._completeness_by_org.values()]
        return completeness.completeness_table(
            nations, done[""], self.rule, self.total_label,
            withheld=self._completeness_withheld(nations, done[""].index), pooled=printed)

    @cached_property
    def _completeness_by_org(self) -> dict[str, pd.DataFrame]:
        """Each organisation's exact completeness counts by quarter and for the period, in
        its nation's columns of the national table."""
        as_at = completeness.as_at_date(self.data.read_at)
        quarters = self._completeness[""].index
        per_org = {}
        codes = {str(c) for c in (*self.reviews["organisation_code"],
                                  *self.deaths["organisation_code"],
                                  *self._drafts["organisation_code"])}
        for code in sorted(codes):
            nation = _NATION_NAMES.get(self.nation_of.get(code))
            if nation is None:
                continue

            def own(frame: pd.DataFrame, code: str = code) -> pd.DataFrame:
                return frame[frame["organisation_code"].astype(str) == code]

            done = completeness.quarter_completeness(
                own(self.reviews), own(self.deaths), own(self._drafts), self.period.months(),
                as_at)
            per_org[code] = completeness.completeness_counts({nation: done}, quarters,
                                                             self.total_label)
        return per_org

    def _completeness_withheld(self, nations: dict[str, pd.DataFrame], quarters
                               ) -> pd.DataFrame:
        """The completeness counts that, set against each organisation's own completeness
        table (the same counts per quarter and for the period), would narrow one of its cells
        (:func:`sjrlib.disclosure.differencing_withheld`; a nation's columns pool its
        organisations)."""
        pooled = completeness.completeness_counts(nations, quarters, self.total_label)
        return differencing_withheld(self._completeness_by_org, self.rule, self.rule, pooled)

    # ------------------------------------------------------------------------- subsets ----
    def _nation(self, frame: pd.DataFrame, nation: str | None) -> pd.DataFrame:
        if nation is None:
            return frame
        codes = {c for c, n in self.nation_of.items() if n == nation}
        return frame[frame["organisation_code"].astype(str).isin(codes)]

    @property
    def _lfd(self) -> dict[str, pd.Series]:
        return self._lfd_published[0]

    @cached_property
    def _lfd_published(self) -> tuple[dict[str, pd.Series], pd.DataFrame]:
        """Each nation's (and both nations') Learning from Deaths figures for the period, as
        the nation table prints them.

        The period's counts of each nation are protected as one table whose rows add up to
        "England and Scotland" (with England's hidden and Scotland's and the total shown, the
        total less Scotland's gives England's back), withholding also the counts that, set
        against the period totals every organisation of the nation prints in its own report,
        would narrow one (:meth:`_lfd_withheld`), and those the attack on every organisation's
        printed table at once still narrows (:meth:`_lfd_pooled`). Beside the rows: the counts
        withheld beyond the rule. Percentages are of the counts shown."""
        labels = self._quarter_labels
        raw, flags = {}, {}
        for name, nation in _NATIONS:
            figures = learning_from_deaths(
                self._nation(self.reviews, nation), self._nation(self.deaths, nation),
                period="quarter", by_organisation=False, as_of=self.period.end_month,
            )
            figures = _zero_quarters(figures[figures["period"].isin(labels)], labels)
            exact, protected = tables.protect_lfd(figures, self.rule,
                                                  total_label=self.total_label)
            raw[name] = exact.loc[self.total_label, list(_LFD_SHOWN)]
            flags[name] = protected.loc[self.total_label].copy()
        exact = pd.DataFrame(raw).T.astype(object)
        shown, beyond = tables.protect_pooled(
            exact, self.rule, total_row="England and Scotland", withheld=self._lfd_withheld(),
            pooled=self._lfd_pooled())
        out = {}
        for name, row in flags.items():
            for column in _LFD_SHOWN:
                if row[column] != tables.NOT_KNOWN:
                    row[column] = shown.at[name, column]
            for count, base, percent in (("reviewed", "deaths_in_scope", "percent_reviewed"),
                                         ("ld_reviewed", "ld_deaths", "ld_percent_reviewed")):
                if row[percent] not in (tables.NOT_KNOWN, tables.EXCEEDS):
                    row[percent] = tables._published(
                        row[count], row[base], self.rule,
                        exact=tables._pct(exact.at[name, count], exact.at[name, base]))[0]
            out[name] = row
        return out, beyond

    @cached_property
    def _quarter_labels(self) -> list[str]:
        return sorted({financial_quarter(m) for m in self.period.months()})

    @cached_property
    def _lfd_by_org(self) -> pd.DataFrame:
        """Each organisation's Learning from Deaths figures by quarter of the period (what its
        own report's tables are made of)."""
        by_org = learning_from_deaths(self.reviews, self.deaths, period="quarter",
                                      by_organisation=True, as_of=self.period.end_month)
        return by_org[by_org["period"].isin(self._quarter_labels)]

    @cached_property
    def _lfd_printed_by_org(self) -> dict[str, pd.DataFrame]:
        """Each organisation's Learning from Deaths counts of the period as its own table
        prints them (:func:`tables.protect_lfd`: its quarters and the ``year``'s row). Months
        a trust's chart plots are not taken: they can only hide more of what it prints."""
        labels = self._quarter_labels
        return {str(code): tables.protect_lfd(_zero_quarters(quarters, labels), self.rule,
                                              total_label="year")[1]
                for code, quarters in self._lfd_by_org.groupby(
                    "organisation_code", sort=True, observed=True)}

    def _lfd_pooled(self) -> list[pd.DataFrame]:
        """Each organisation's Learning from Deaths counts of the period as its own table
        prints them (:func:`tables.protect_lfd`: the year's row, and its four quarters as
        ``attrs["parts"]``), on the nation table's rows (its nation's and "England and
        Scotland"; 0 in the other nation's), for :func:`sjrlib.disclosure.protect_counts`
        (``pooled``). Found by a search: of two English trusts printing ``*`` for each of four
        quarters (and the year) and 0, 10, ``*``, ``*`` (15 for the year), England's 20 left
        the first one's quarters 1-6, which the check of each cell alone did not see. Deaths
        "not known" are not printed (anything)."""
        def printed(value: object) -> object:
            return None if value is None or value is pd.NA or value == tables.NOT_KNOWN \
                else value

        out = []
        for code, shown in self._lfd_printed_by_org.items():
            nation = _NATION_NAMES.get(self.nation_of.get(code))
            if nation is None:
                continue
            rows = [nation, "England and Scotland"]
            table = pd.DataFrame({c: [printed(shown.at["year", c])] * 2 for c in _LFD_SHOWN},
                                 index=rows, dtype=object)
            table.attrs["parts"] = {
                (r, c): [printed(shown.at[q, c]) for q in shown.index if q != "year"]
                for r in rows for c in _LFD_SHOWN}
            out.append(table)
        return out

    def _lfd_withheld(self) -> pd.DataFrame:
        """The nation table's counts that, set against each organisation's period total in its
        own report (:func:`sjrlib.disclosure.differencing_risk`), would narrow one: the
        organisations of the nation for a nation's row, all of them for the total. An
        organisation whose deaths are not known (a feed gap) counts as an exact 0 there, which
        can only find more at risk."""
        by_org = self._lfd_by_org
        totals = pd.DataFrame({c: pd.to_numeric(by_org[c], errors="coerce").fillna(0)
                               for c in _LFD_SHOWN}).groupby(
            by_org["organisation_code"].astype(str).to_numpy()).sum()
        out = pd.DataFrame(False, index=[n for n, _ in _NATIONS], columns=list(_LFD_SHOWN))
        for name, nation in _NATIONS:
            codes = [c for c in totals.index if nation is None or self.nation_of.get(c) == nation]
            risk = differencing_risk(totals.loc[codes], self.rule, self.rule)
            out.loc[name] = risk.reindex(out.columns, fill_value=False).to_numpy(bool)
        return out

    def lfd_by_nation(self) -> tables.ReportTable:
        rows = {}
        for name, row in self._lfd.items():
            reviewed = row["reviewed"] or 0
            mltn = row["more_likely_than_not"] or 0
            share = (tables.published_share(mltn, reviewed, self.rule)
                     if reviewed and reviewed != self.rule.symbol else None)
            rows[name] = {
                "Deaths in scope": row["deaths_in_scope"],
                "Deaths reviewed (SJR)": row["reviewed"],
                "% of deaths reviewed": row["percent_reviewed"],
                "More likely than not due to problems in care": row["more_likely_than_not"],
                "% of reviewed deaths": share,
                "Learning disability deaths": row["ld_deaths"],
                "of which reviewed": row["ld_reviewed"],
            }
        frame = pd.DataFrame.from_dict(rows, orient="index", dtype=object)
        return tables.noting_differencing(tables.ReportTable(
            frame, caption="Learning from Deaths figures by nation",
            note=tables._note(self.rule, "Deaths in scope come from the monthly deaths feed. "
                              "'More likely than not due to problems in care' is an RCP "
                              "avoidability score of 1-3."),
            formats={"% of deaths reviewed": "percent", "% of reviewed deaths": "percent"},
            total_rows=["England and Scotland"], index_name="Nation",
        ), self._lfd_published[1])

    # ------------------------------------------------------------------------ headline ----
    def summary(self) -> narrative.Callout:
        sentences = []
        shown = self._nation_poor_care
        for name, nation in (("England", "england"), ("Scotland", "scotland"),
                             ("England and Scotland together", None)):
            poor = descriptive.poor_care(self._nation(self.reviews, nation), alpha=self.alpha)
            row = name.removesuffix(" together")
            fit = self._pooled.get(row)
            sentence = poor_care_sentence(name, poor, self.params.confidence_level, self.rule,
                                          fit, shown=(shown.at[row, "n"], shown.at[row, "poor"]))
            if sentence:
                sentences.append(sentence)
        whole = self._lfd["England and Scotland"]
        mltn, reviewed = whole["more_likely_than_not"], whole["reviewed"]
        if reviewed and reviewed != self.rule.symbol:
            share = tables.published_share(mltn or 0, reviewed, self.rule)
            count = mltn if isinstance(mltn, str) else f"{int(mltn or 0):,}"
            exact = int(self._lfd_by_org["more_likely_than_not"].fillna(0).sum())
            if count == self.rule.symbol and not self.rule.is_small(exact):
                sentences.append(
                    "How many reviewed deaths were judged more likely than not due to problems "
                    "in care is withheld by disclosure control (set against the organisations' "
                    "own reports, it would narrow one of theirs).")
            else:
                if count == self.rule.symbol:
                    count = f"Fewer than {self.rule.threshold + 1}"
                sentences.append(
                    f"{count} reviewed deaths{_share_words(share)} were judged more likely "
                    "than not due to problems in care."
                )
        trend = self._clustered_trend
        if trend is not None:
            sentences.append(_trend_sentence(trend))
        frame, _ = self._spc
        sentences.append(narrative.spc_sentence(
            "the national percentage of reviews finding poor or very poor care", frame,
            improvement="decrease", period_start=self.period.start_month,
            base_noun="reviews"))
        return narrative.Callout(sentences)

    # --------------------------------------------------------------------- care scores ----
    @cached_property
    def _care(self) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
        return tables.care_inputs(self.reviews, self.alpha)

    def care_scores(self) -> tables.ReportTable:
        """Care scores by phase, pooled: each phase's % poor care with an interval clustered
        by organisation (and its design effect), computed from the counts shown."""
        return self._care_scores

    @cached_property
    def _care_scores(self) -> tables.ReportTable:
        """The care-score table, protected cell by cell against each organisation's own
        (:attr:`_care_withheld`), then against all of them at once (``pooled``: each
        organisation's table as its report prints it, with its own margins). Found by a search:
        trusts printing ``*``, ``*``, 0, 0, 0 (10) and ``*``, ``*``, 0, 10, ``*`` (20) for
        overall care; a national "5 Excellent care" of 10 (8-12), safe cell by cell, put the
        second's scores 1 and 2 at most 6 together, its ``*`` 1-5."""
        def interval(phase: str, count: object, base: object, n_exact: int):
            part = clustered.poor_care_outcomes(self.reviews, phase=phase)
            fit = clustered.clustered_proportion(part["poor"], part["organisation_code"],
                                                 self.alpha)
            return clustered_interval(count, base, n_exact, fit, self.alpha)

        table = tables.care_score_table(
            *self._care, self.rule, alpha=self.alpha, clustered=interval,
            clustered_note=clustered.METHOD_NOTE + " The interval is computed from the counts "
            "shown and the design effect; none on fewer than 8 reviews.",
            withheld=self._care_withheld, pooled=list(self._care_printed_by_org.values()))
        counts = [*tables.CARE_SCORE_LABELS, tables.CARE_TOTAL]
        plain = protect_counts(tables.care_score_counts(self._care[0]), self.rule,
                               total_column=tables.CARE_TOTAL)
        return tables.noting_differencing(table, tables.withheld_beyond_rule(
            table.frame[counts], plain[counts], self.rule))

    @cached_property
    def _care_printed_by_org(self) -> dict[str, pd.DataFrame]:
        """Each organisation's care-score counts as its report prints them, by code."""
        return self._care_printed(self.reviews)

    def _care_printed(self, reviews: pd.DataFrame) -> dict[str, pd.DataFrame]:
        """Each organisation's care-score counts of ``reviews`` as its report of them prints
        them, by code."""
        return {str(code): protect_counts(tables.care_score_counts(part), self.rule,
                                          total_column=tables.CARE_TOTAL)
                for code, part in descriptive.care_score_distribution(
                    reviews, by="organisation_code").groupby(
                    "organisation_code", sort=True, observed=True)}

    @cached_property
    def _nation_poor_care(self) -> pd.DataFrame:
        """Each nation's (and both nations') first-stage reviews scoring overall care (``n``)
        and those scoring it poor or very poor (``poor``), as the headline prints them:
        protected as a table whose nations add up to both, against each organisation's own
        care table cell by cell and all at once (``pooled``). Sixteen trusts' single very
        poor overall care made England's 16 of 320 (printed 4.7%, 15 of 320) say each trust's
        ``*`` was 1-2, which the care-score table withheld."""
        rows, held = {}, {}
        for name, nation in _NATIONS:
            part = self._nation(self.reviews, nation)
            poor = descriptive.poor_care(part, alpha=self.alpha)
            rows[name] = ({"n": int(poor["n"].iloc[0]), "poor": int(poor["poor"].iloc[0])}
                          if len(poor) else {"n": 0, "poor": 0})
            held[name] = self._poor_care_withheld(part)
        raw = pd.DataFrame.from_dict(rows, orient="index").astype(object)
        withheld = pd.DataFrame.from_dict(held, orient="index", columns=["n", "poor"])
        nations = {code: [_NATION_NAMES[n], "England and Scotland"]
                   for code, n in self.nation_of.items() if n in _NATION_NAMES}
        return protect_counts(raw, self.rule, total_row="England and Scotland",
                              withheld=withheld, pooled=self._poor_care_pooled(nations))

    def _poor_care_pooled(self, rows: Mapping[str, str | list[str]],
                          printed: dict[str, pd.DataFrame] | None = None
                          ) -> list[pd.DataFrame]:
        """Each organisation's overall care as its report prints it (``printed``, by code;
        default: the period's), on the row ``rows`` gives its code, for
        :func:`sjrlib.disclosure.protect_counts` (``pooled``) of a table of reviews (``n``)
        and poor or very poor overall care (``poor``). An organisation prints
        no poor-care count: its ``poor`` is its scores 1 and 2, its ``n`` its scores 1 to 5,
        each score one figure (a named part), the same on each of its rows (``rows`` gives a
        row, or several). Found by a search: a trust printing 10, 0, 10, 0,
        0 (15) for overall care (its scores 1 and 3 at least 8 each, so its 15 is 16-17) and
        another in its region printing 0, ``*``, 0, ``*``, ``*`` (10) under a region's 25
        reviews (23-27): the second's reviews are at most 11, and with the region's 15 poor
        (13-17) less the first's score 1 (at most 9) its score 2 is at least 4, which leaves
        its scores 4 and 5 1-6 each."""
        overall = domain.label("phase", "overall")
        out = []
        for code, table in (printed or self._care_printed_by_org).items():
            mine = rows.get(code)
            if mine is None:
                continue
            mine = [mine] if isinstance(mine, str) else list(mine)
            cells = table.loc[overall]
            group = pd.DataFrame({"n": [cells[tables.CARE_TOTAL]] * len(mine),
                                  "poor": [None] * len(mine)}, index=mine, dtype=object)
            scores = [(label, cells[label]) for label in tables.CARE_SCORE_LABELS]
            group.attrs["parts"] = {cell: part for row in mine for cell, part in (
                ((row, "n"), scores), ((row, "poor"), scores[:2]))}
            out.append(group)
        return out

    @cached_property
    def _care_withheld(self) -> pd.DataFrame:
        """The care-score cells (phase x score, and each phase's total) whose national count
        would narrow an organisation's own (:func:`sjrlib.disclosure.differencing_risk`)."""
        total = "Reviews scoring this phase"
        by_org = descriptive.care_score_distribution(self.reviews, by="organisation_code")
        out = pd.DataFrame(False, index=[domain.label("phase", p) for p in domain.PHASES],
                           columns=[*tables.CARE_SCORE_LABELS, total])
        for phase, part in by_org.groupby("phase"):
            per_org = part.pivot_table(index="organisation_code", columns="score",
                                       values="count", aggfunc="sum", fill_value=0)
            per_org.columns = [tables.CARE_SCORE_LABELS[domain.CARE_SCORES.index(int(s))]
                               for s in per_org.columns]
            per_org[total] = part.groupby("organisation_code")["n_applicable"].first()
            risk = differencing_risk(per_org, self.rule, self.rule)
            for column, at_risk in risk.items():
                out.at[domain.label("phase", str(phase)), column] = bool(at_risk)
        return out

    def care_scores_chart(self) -> tables.ScoreBars:
        """The bars of the care-score table: a count the table withholds (for differencing,
        or with one) is withheld here too, and its phase's shares with it (a share of the
        shown total would give it back)."""
        safe = tables.protect_distribution(self._care[0], self.rule, group="phase")
        shown = self._care_scores.frame
        hidden_phases = set()
        for i, row in safe.iterrows():
            label = domain.label("phase", str(row["phase"]))
            column = tables.CARE_SCORE_LABELS[int(row["score"]) - 1]
            if label in shown.index and shown.at[label, column] == self.rule.symbol:
                safe.at[i, "count"] = self.rule.symbol
                hidden_phases.add(row["phase"])
            if label in shown.index and shown.at[label, tables.CARE_TOTAL] == self.rule.symbol:
                safe.at[i, "n_applicable"] = self.rule.symbol
                hidden_phases.add(row["phase"])
        safe.loc[safe["phase"].isin(hidden_phases), "percent"] = np.nan
        return tables.ScoreBars(safe, self.rule, title="Care scores by phase of care "
                                "(% of first-stage reviews scoring the phase)")

    @cached_property
    def _pooled(self) -> dict[str, clustered.ClusteredProportion]:
        """Poor care pooled over organisations, clustered by organisation: keyed by nation
        ("England", "Scotland", "England and Scotland") and by region."""
        outcomes = clustered.poor_care_outcomes(self.reviews, columns=["region"])
        codes = outcomes["organisation_code"].astype(str)
        nation = codes.map(self.nation_of)
        out = {}
        for name, mask in (("England", nation == "england"), ("Scotland", nation == "scotland"),
                           ("England and Scotland", None)):
            part = outcomes if mask is None else outcomes[mask.to_numpy()]
            out[name] = clustered.clustered_proportion(part["poor"], part["organisation_code"],
                                                       self.alpha)
        for region, part in outcomes.groupby(outcomes["region"].astype("string")):
            out[f"region:{region}"] = clustered.clustered_proportion(
                part["poor"], part["organisation_code"], self.alpha)
        return out

    @cached_property
    def _region_of(self) -> dict[str, str]:
        """Each organisation's region (the region table's row), by code."""
        known = self.reviews[["organisation_code", "region"]].dropna().drop_duplicates(
            "organisation_code")
        return dict(zip(known["organisation_code"].astype(str), known["region"].astype(str),
                        strict=True))

    def _poor_care_withheld(self, reviews: pd.DataFrame) -> tuple[bool, bool]:
        """Whether the pooled count of ``reviews`` scoring overall care, and of those scoring
        it 1 or 2, would narrow an organisation's own (:func:`sjrlib.disclosure.
        differencing_risk`). An organisation's report prints the first as its care-score
        table's "Reviews scoring this phase" of overall care, and the second only as two cells
        (scores 1 and 2): each cell is a group of its own here, as a reader sees them."""
        dist = descriptive.care_score_distribution(reviews, by="organisation_code",
                                                   phases=["overall"])
        rows = []
        for _code, part in dist.groupby("organisation_code", observed=True):
            by_score = dict(zip(part["score"].astype(int), part["count"].astype(int),
                                strict=True))
            n = int(part["n_applicable"].iloc[0]) if len(part) else 0
            rows += [{"n": n, "poor": by_score.get(1, 0)}, {"n": 0, "poor": by_score.get(2, 0)}]
        if not rows:
            return False, False
        risk = differencing_risk(pd.DataFrame(rows), self.rule, self.rule)
        return bool(risk["n"]), bool(risk["poor"])

    def poor_care_by_region(self) -> tables.ReportTable:
        poor = descriptive.poor_care(self.reviews, by="region", alpha=self.alpha)
        regions = {r: r for r in (*domain.NHS_ENGLAND_REGIONS, domain.SCOTLAND_REGION)}
        region = self.reviews["region"].astype("string")
        withheld = pd.DataFrame(
            [self._poor_care_withheld(self.reviews[(region == r).fillna(False).to_numpy()])
             for r in regions], index=list(regions), columns=["n", "poor"])
        table = tables.poor_care_by_group_table(
            poor, "region", regions, self.regional_rule,
            caption="Poor or very poor overall care by NHS England region, and Scotland",
            index_name="Region",
            note="Regions are listed in a fixed order, not by their figures.", alpha=self.alpha,
            withheld=withheld, pooled=self._poor_care_pooled(self._region_of),
        )
        # The pooled rows are clustered by organisation: their intervals replace the Wilson
        # ones (which treat every review as independent) and say their design effect.
        frame = table.frame.drop(columns=[c for c in table.frame.columns
                                          if "confidence interval" in c])
        exact_n = poor.set_index(poor["region"].astype(str))["n"]
        ci_column = f"{self.params.confidence_level:.0%} CI, clustered by organisation"
        intervals, deffs = [], []
        for label, row in frame.iterrows():
            shown = row["% poor or very poor"]
            fit = self._pooled.get(f"region:{label}")
            if shown is None or shown == self.regional_rule.symbol or fit is None:
                intervals.append(None)
                deffs.append(None)
                continue
            interval, deff = clustered_interval(
                row["Poor or very poor overall care"], row["Reviews"],
                int(exact_n.get(label, 0)), fit, self.alpha)
            intervals.append(interval)
            deffs.append(deff if interval else None)
        frame[ci_column] = pd.Series(intervals, index=frame.index, dtype=object)
        frame["Design effect"] = pd.Series(deffs, index=frame.index, dtype=object)
        return dataclasses.replace(
            table, frame=frame,
            note=(table.note + " " + clustered.METHOD_NOTE + " The interval is computed from "
                  "the counts shown and the design effect, so it is wider than a binomial "
                  "interval by about the square root of the design effect."))

    def selected_sample(self) -> tables.ReportTable:
        """Poor care among deaths reviewed only as a further sample of other deaths, beside
        deaths reviewed for a specific reason: reviewed deaths are a selected sample, and only
        the further sample says anything about deaths in general."""
        outcomes = clustered.poor_care_outcomes(self.reviews, columns=["review_reasons"])
        reasons = outcomes["review_reasons"].astype("string")
        groups = {
            "Reviewed only as a further sample of other deaths": (reasons == "random_sample"),
            "Reviewed for a specific reason (concern, learning disability, alarm, ...)":
                reasons.notna() & (reasons != "random_sample"),
            "All reviewed deaths": pd.Series(True, index=outcomes.index),
        }
        raw = pd.DataFrame({
            "Reviews": {g: int(m.fillna(False).sum()) for g, m in groups.items()},
            "Poor or very poor overall care": {
                g: int(outcomes.loc[m.fillna(False).to_numpy(), "poor"].sum())
                for g, m in groups.items()},
        })
        # the row of all reviewed deaths is each organisation's overall care in its own report
        every = "All reviewed deaths"
        withheld = pd.DataFrame(False, index=raw.index, columns=raw.columns)
        withheld.loc[every] = self._poor_care_withheld(self.reviews)
        counts, withheld = tables.protect_pooled(
            raw, self.rule, withheld=withheld,
            pooled=self._poor_care_pooled(dict.fromkeys(self._care_printed_by_org, every)))
        ci_column = f"{self.params.confidence_level:.0%} CI, clustered by organisation"
        pct, intervals, deffs = [], [], []
        for group, mask in groups.items():
            k, n = counts.at[group, "Poor or very poor overall care"], counts.at[group, "Reviews"]
            share = tables.published_share(k, n, self.rule)
            pct.append(share)
            part = outcomes[mask.fillna(False).to_numpy()]
            fit = clustered.clustered_proportion(part["poor"], part["organisation_code"],
                                                 self.alpha) if len(part) else None
            interval, deff = clustered_interval(k, n, len(part), fit, self.alpha) \
                if share is not None else (None, None)
            intervals.append(interval)
            deffs.append(deff)
        frame = counts.assign(**{"% poor or very poor": pct, ci_column: intervals,
                                 "Design effect": deffs}).astype(object)
        return tables.noting_differencing(tables.ReportTable(
            frame, caption="Selected and sampled deaths: poor or very poor overall care",
            note=tables._note(self.rule, "Many deaths are reviewed because something about "
                              "them called for it, so the reviewed deaths are a selected "
                              "sample and their rate of poor care is not the rate among all "
                              "deaths. The further sample of other deaths (Learning from "
                              "Deaths guidance) is the nearest to a random sample: its rate "
                              "says most about deaths in general. " + clustered.METHOD_NOTE),
            formats={"% poor or very poor": "percent"}, index_name="Deaths",
            total_rows=[every],
        ), withheld)

    def problems(self) -> tables.ReportTable:
        plain = tables.problems_table(self._problems, self.rule).frame[self._problem_counts]
        return tables.noting_differencing(tables.problems_table(
            self._problems, self.rule, withheld=self._problems_withheld),
            self._problems_withheld & (plain != self.rule.symbol))

    _problem_counts = list(tables.PROBLEM_COUNT_COLUMNS.values())

    @cached_property
    def _problems_withheld(self) -> pd.DataFrame:
        """Every problem cell the national table withholds, set against every organisation's
        own problems table as its report prints it: first each cell whose national count alone
        would narrow an organisation's (:func:`_problems_at_risk`), then whatever the attack on
        all of them together still narrows (``pooled``, :func:`sjrlib.disclosure.
        suppression_mask`): on a four-trust store the national row total of "Problem in
        resuscitation" less its harm answers left each trust's ``*`` 1-4. The table and its
        chart both withhold exactly these."""
        by_org = self.reviews.groupby("organisation_code", sort=True, observed=True)
        pooled = [tables.problems_table(descriptive.problem_frequency(group, alpha=self.alpha),
                                        self.rule).frame[self._problem_counts]
                  for _code, group in by_org]
        shown = tables.problems_table(self._problems, self.rule,
                                      withheld=self._problems_at_risk, pooled=pooled).frame
        return shown[self._problem_counts] == self.rule.symbol

    @cached_property
    def _problems_at_risk(self) -> pd.DataFrame:
        """The problem cells whose national count would narrow an organisation's own
        (:func:`sjrlib.disclosure.differencing_risk`, one check per cell)."""
        by_org = descriptive.problem_frequency(self.reviews, by="organisation_code",
                                               alpha=self.alpha)
        rows = {t: tables._short_problem(t) for t in by_org["problem_type"].unique()}
        out = pd.DataFrame(False, index=list(dict.fromkeys(rows.values())),
                           columns=list(tables.PROBLEM_COUNT_COLUMNS.values()))
        for column, header in tables.PROBLEM_COUNT_COLUMNS.items():
            per_org = by_org.pivot_table(index="organisation_code", columns="problem_type",
                                         values=column, aggfunc="sum", fill_value=0)
            risk = differencing_risk(per_org, self.rule, self.rule)
            for problem_type, at_risk in risk.items():
                out.at[rows[problem_type], header] = bool(at_risk)
        return out

    @cached_property
    def _problems(self) -> pd.DataFrame:
        return descriptive.problem_frequency(self.reviews, alpha=self.alpha)

    def problems_chart(self):
        return Chart(plots.problem_types(tables.protect_problem_frequency(
            self._problems, self.rule, withheld=self._problems_withheld)))

    def avoidability(self) -> tables.ReportTable:
        return self._avoidability_table

    @cached_property
    def _avoidability_table(self) -> tables.ReportTable:
        dist = descriptive.avoidability_distribution(self.reviews)
        total = "Deaths with an avoidability score"
        raw = pd.DataFrame({"Reviewed deaths": {f"{int(r.score)} {r.label}": int(r.count)
                                                for r in dist.itertuples()}}, dtype=object)
        scored = int(dist["n_scored"].iloc[0]) if len(dist) else 0
        raw.loc[total] = scored
        withheld = pd.DataFrame({"Reviewed deaths": [
            bool(self._avoidability_risk.get(r, False)) for r in raw.index]}, index=raw.index)
        frame, withheld = tables.protect_pooled(raw, self.rule, total_row=total,
                                                withheld=withheld,
                                                pooled=self._avoidability_pooled(raw.index))
        base = frame.at[total, "Reviewed deaths"]
        frame["% of deaths with a score"] = [
            tables.published_share(c, base, self.rule) if scored else None
            for c in frame["Reviewed deaths"]]
        return tables.noting_differencing(tables.ReportTable(
            frame, caption="Avoidability of death (RCP scale; final second-stage score where "
                           "there is one)",
            note=tables._note(self.rule,
                              "Scores 1-3 are 'more likely than not due to problems in care'."),
            formats={"% of deaths with a score": "percent"},
            total_rows=["Deaths with an avoidability score"], index_name="Avoidability score",
        ), withheld)

    def _avoidability_pooled(self, rows: pd.Index) -> list[pd.DataFrame]:
        """Each organisation's avoidability counts of the period as its own Learning from
        Deaths table prints them (:func:`tables.protect_lfd`: the year's row, and its four
        quarters as ``attrs["parts"]``), on the national table's rows (the scored total: not
        printed there), for :func:`sjrlib.disclosure.protect_counts` (``pooled``): on a
        four-trust store the national "2 Strong evidence of avoidability" left a trust's
        year ``*`` at most 9, and so its four quarters' ``*`` each 1-6
        (:attr:`_lfd_printed_by_org`)."""
        scores = {r: f"avoidability_{r.split(' ', 1)[0]}" for r in rows
                  if r.split(" ", 1)[0].isdigit()}
        out = []
        for printed in self._lfd_printed_by_org.values():
            table = pd.DataFrame({"Reviewed deaths": [
                printed.at["year", scores[r]] if r in scores else None for r in rows]},
                index=rows, dtype=object)
            table.attrs["parts"] = {
                (r, "Reviewed deaths"): [printed.at[q, column] for q in printed.index
                                         if q != "year"]
                for r, column in scores.items()}
            out.append(table)
        return out

    @cached_property
    def _avoidability_risk(self) -> pd.Series:
        """Per row label of the avoidability table (each score, and the scored total): whether
        its national count, set against every organisation's own report of the same cell, would
        narrow an organisation's hidden count (:func:`sjrlib.disclosure.differencing_risk`)."""
        by_org = descriptive.avoidability_distribution(self.reviews, by="organisation_code")
        per_org = by_org.pivot_table(index="organisation_code", columns="score", values="count",
                                     aggfunc="sum", fill_value=0)
        per_org.columns = [_avoidability_row(by_org, s) for s in per_org.columns]
        per_org["Deaths with an avoidability score"] = \
            by_org.groupby("organisation_code")["n_scored"].first()
        return differencing_risk(per_org, self.rule, self.rule)

    def avoidability_chart(self):
        """The table's published counts as bars: a count withheld there is a ``*`` here."""
        chart = tables.protect_distribution(
            descriptive.avoidability_distribution(self.reviews), self.rule, group=None,
            total="n_scored", also=())
        shown = self.avoidability().frame["Reviewed deaths"]
        chart["count"] = [shown.get(f"{int(r.score)} {r.label}", self.rule.symbol)
                          for r in chart.itertuples()]
        chart.loc[chart["count"] == self.rule.symbol, "percent"] = np.nan
        return Chart(plots.avoidability(chart))

    # -------------------------------------------------------------------------- trends ----
    @cached_property
    def _spc(self) -> tuple[pd.DataFrame, None]:
        """The national p-chart of poor care by month, on published counts
        (:func:`sjrlib.measures.published_counts`): rounded, small months hidden, and hidden
        too a month whose national count, set against every organisation's own chart of the
        same month (its quarter, its year, the period), would narrow one
        (:func:`sjrlib.measures.pooled_withheld`): sixteen trusts' single poor-care reviews in
        one month, plotted nationally as 16 of 360, would say each trust's ``*`` is 1-2."""
        from sjrlib import measures

        months = pd.Index(months_between(self.data.trend_start, self.period.end_month))
        per_org = descriptive.poor_care(self.window_reviews, by=["organisation_code", "month"])
        per_org = per_org.assign(period=per_org["month"].astype(str))
        per_org = per_org[per_org["period"].isin(months)]
        poor = per_org.groupby("period")[["poor", "n"]].sum().reindex(months).fillna(0)
        counts = pd.DataFrame({"numerator": poor["poor"].astype(int).to_numpy(),
                               "denominator": poor["n"].astype(int).to_numpy()}, index=months)
        period = (self.period.start_month, self.period.end_month)
        risk = measures.pooled_withheld(
            per_org.rename(columns={"poor": "numerator", "n": "denominator"}), self.rule,
            period=period)
        published = measures.published_counts(
            counts, self.rule, period=period, withheld=set(risk.index[risk.any(axis=1)]))
        return measures.published_p_chart(published, "decrease"), None

    def trend_poor_care(self):
        from sjrlib.report.learning import PublishedChart

        frame = self._spc[0]
        unit = frame.attrs.get("unit", "month")
        title = f"Reviews finding poor or very poor overall care, national, by {unit} of death"
        if not frame.attrs.get("controlled"):
            return Chart(plots.spc_chart(frame, title=title, y_label="% of first-stage reviews"))
        return PublishedChart(frame, title, self.rule, y_label="% of first-stage reviews",
                              base="First-stage reviews",
                              what="Reviews with poor or very poor overall care")

    @cached_property
    def _lfd_trend(self) -> pd.DataFrame:
        """The national Learning from Deaths figures by quarter of the trend window as the
        chart of deaths reviewed prints them: deaths in scope, deaths reviewed and deaths
        judged more likely than not due to problems in care, each rounded, a count of 1-7
        hidden, and hidden too a quarter's count that would narrow an organisation's own
        (:func:`sjrlib.measures.pooled_withheld`, against each organisation's quarters, years
        and period) or, with the quarters of the period and of each year as totals a reader
        may know, give a hidden one back (:func:`sjrlib.measures.hidden_cells`). The nation
        table's hidden cells stay hidden: the period's quarters add up to its "England and
        Scotland" row."""
        from sjrlib import measures

        columns = ["deaths_in_scope", "reviewed", "more_likely_than_not"]
        by_org = learning_from_deaths(self.window_reviews, self.data.deaths, period="quarter",
                                      by_organisation=True, as_of=self.period.end_month)
        by_org = by_org.assign(period=by_org["period"].astype(str))
        # a quarter no organisation's feed covers has no deaths in scope, not 0
        fed = pd.to_numeric(by_org["deaths_in_scope"], errors="coerce").notna() \
            .groupby(by_org["period"]).any()
        for column in columns:
            by_org[column] = pd.to_numeric(by_org[column], errors="coerce").fillna(0)
        quarters = sorted(by_org["period"].unique())
        exact = by_org.groupby("period")[columns].sum().reindex(quarters).fillna(0) \
            .astype(int)
        unfed = [q for q in quarters if not fed.get(q, False)]
        if not self.rule.active:
            out = exact.astype(object)
            out.loc[unfed, "deaths_in_scope"] = None
            return out.rename_axis("period").reset_index()
        period = (self.period.start_month, self.period.end_month)
        withheld = measures.pooled_withheld(
            _with_mltn_bounds(by_org, self.rule), self.rule, period=period, columns=columns,
            unit="quarter", bounds={"more_likely_than_not": ("_mltn_low", "_mltn_high")})
        table_whole = self._lfd["England and Scotland"]
        firsts = [str(quarter_first_month(q)) for q in quarters]
        in_period = [period[0] <= f <= period[1] for f in firsts]
        for column in columns:
            # the nation table withheld the period's count: the period's quarters must not
            # add back up to it (one of them hidden; hidden_cells hides a second beside it)
            if table_whole.get(column) == self.rule.symbol and any(in_period):
                members = [q for q, inside in zip(quarters, in_period, strict=True) if inside]
                if not withheld.loc[members, column].any():
                    largest = max(members, key=lambda q: (int(exact.at[q, column]), q))
                    withheld.at[largest, column] = True
        mask = measures.hidden_cells(exact, firsts, self.rule, "quarter", period,
                                     withheld=withheld)
        shown = pd.DataFrame({c: [self.rule.symbol if mask.at[q, c] else
                                  self.rule.round(int(exact.at[q, c])) for q in quarters]
                              for c in columns}, index=quarters, dtype=object)
        shown.loc[unfed, "deaths_in_scope"] = None
        return shown.rename_axis("period").reset_index()

    def trend_reviewed(self) -> ChartWithData:
        """The quarterly Learning from Deaths bars, with the table of the counts they draw."""
        figures = self._lfd_trend

        def share(reviewed: object, deaths: object) -> object:
            # the chart's "% reviewed" label: of the counts drawn, none where one is not
            counted = all(isinstance(v, (int, np.integer)) for v in (reviewed, deaths))
            if counted and int(reviewed) > int(deaths):  # as the chart's note says
                return tables.EXCEEDS
            return tables.published_share(reviewed, deaths, self.rule) if counted else None

        rows = {tables.quarter_label(str(r.period)): {
            "Deaths in scope": r.deaths_in_scope, "Deaths reviewed (SJR)": r.reviewed,
            "% of deaths reviewed": share(r.reviewed, r.deaths_in_scope),
            "More likely than not due to problems in care": r.more_likely_than_not}
            for r in figures.itertuples()}
        columns = ["Deaths in scope", "Deaths reviewed (SJR)", "% of deaths reviewed",
                   "More likely than not due to problems in care"]
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=columns, dtype=object)
        table = tables.ReportTable(
            frame, caption=LFD_CHART_DATA + "national, by quarter of death",
            note=tables._note(self.rule, "The counts the chart above draws, England and "
                                         "Scotland, and the share of deaths reviewed it "
                                         "labels."),
            formats={"% of deaths reviewed": "percent"}, index_name="Quarter of death")
        return ChartWithData(Chart(plots.lfd_trend(figures, rule=self.rule)), table)

    @cached_property
    def _trend(self):
        try:
            return models.poor_care_trend(self.window_reviews, "financial_year",
                                          alpha=self.alpha)
        except ValueError:  # fewer than two years of reviews
            return None

    @cached_property
    def _clustered_trend(self) -> clustered.ClusteredTrend | None:
        try:
            return clustered.poor_care_trend(self.window_reviews, "financial_year",
                                             alpha=self.alpha)
        except ValueError:  # fewer than two years, or one organisation
            return None

    def trend_test(self) -> tables.ReportTable | narrative.Paragraph:
        trend = self._trend
        robust = self._clustered_trend
        if trend is None:
            return narrative.Paragraph("Fewer than two financial years of reviews: no trend "
                                       "test.")
        t = trend.table
        raw = pd.DataFrame({"n": t["n"].astype(int).to_numpy(),
                            "poor": t["poor"].astype(int).to_numpy()},
                           index=[str(p).replace("/", "-") for p in t["period"]])
        # each year's counts are each organisation's overall care in its report of that year
        year = self.window_reviews["death_month"].astype(str).map(financial_year)
        withheld = pd.DataFrame(
            [self._poor_care_withheld(self.window_reviews[(year == str(p)).to_numpy()])
             for p in t["period"]], index=raw.index, columns=raw.columns)
        # and against all of them at once, a year at a time (a year is a row of its own)
        pooled = []
        for p, label in zip(t["period"], raw.index, strict=True):
            printed = self._care_printed(self.window_reviews[(year == str(p)).to_numpy()])
            pooled += self._poor_care_pooled(dict.fromkeys(printed, label), printed)
        counts, withheld = tables.protect_pooled(raw, self.rule, withheld=withheld,
                                                 pooled=pooled)
        counts = counts.rename(columns={"n": "Reviews", "poor": "Poor or very poor"})
        counts["%"] = [tables.published_share(k, n, self.rule)
                       for k, n in zip(counts["Poor or very poor"], counts["Reviews"],
                                       strict=True)]
        frame = counts
        return tables.noting_differencing(tables.ReportTable(
            frame, caption="Poor or very poor overall care by financial year",
            note=_trend_note(trend, robust) + " " + tables._note(self.rule),
            formats={"%": "percent"}, index_name="Financial year",
        ), withheld)

    # -------------------------------------------------------------------- reliability ----
    def reliability(self) -> tables.ReportTable | narrative.Paragraph:
        summary = descriptive.withhold_small_intervals(
            agreement.reliability_summary(self.reviews, alpha=self.alpha))
        if summary.empty or int(summary["n"].max()) < 8:
            return narrative.Paragraph("Fewer than 8 double-reviewed cases in the period: no "
                                       "reliability figures.")
        rows = summary.set_index("statistic")
        split = rows.loc["trigger_disagreements"]
        rows = rows.drop(index="trigger_disagreements")
        frame = pd.DataFrame({
            "Estimate": rows["estimate"].to_numpy(float),
            f"{self.params.confidence_level:.0%} CI": [
                None if np.isnan(lo) else f"{lo:.2f} to {hi:.2f}"
                for lo, hi in zip(rows["ci_lower"], rows["ci_upper"], strict=True)],
            "Cases": [protect_count(int(n), self.rule) for n in rows["n"]],
        }, index=[_AGREEMENT_LABELS.get(s, s) for s in rows.index]).astype(object)
        disagree = protect_count(int(split["estimate"]), self.rule)
        pairs = protect_count(int(split["n"]), self.rule)
        return tables.ReportTable(
            frame, caption="Agreement between two first-stage reviewers on the overall care "
                           "score (cases reviewed independently by two reviewers)",
            note=f"In {_count_text(disagree)} of {_count_text(pairs)} double-reviewed cases one "
                 "reviewer scored overall "
                 "care poor or very poor (1-2, which triggers a second-stage review) and the "
                 "other did not: whether a death gets a second-stage review can depend on who "
                 "reviews it. Gwet's AC1 is given beside kappa because kappa is low whenever "
                 "poor care is rare, even if reviewers mostly agree. Alpha uses every independent "
                 "rating, third reviews of a case included (bootstrap interval over cases). "
                 "Implicit review is moderately reliable: published ICCs for holistic scores "
                 "are 0.46-0.52 (Hutchinson 2010). " + self.rule.describe(),
            formats={"Estimate": "decimal"}, index_name="Statistic",
        )

    def _count_words(self, count: int) -> str:
        """An exact count in a sentence as the tables print it: rounded ("44,505"), or "fewer
        than 8" where they print ``*``."""
        shown = protect_count(int(count), self.rule)
        if shown == self.rule.symbol:
            return f"fewer than {self.rule.threshold + 1}"
        return _count_text(shown)

    def reliability_heatmap(self) -> Chart:
        """The two reviewers' overall scores of the double-reviewed cases, crossed: counts
        under the report's disclosure rule; no chart on fewer than 8 cases."""
        pairs = agreement.rating_pairs(self.reviews)
        return Chart(plots_seaborn.agreement_heatmap(pairs, rule=self.rule))

    # -------------------------------------------------------------------------- model ----
    def ordinal_model(self) -> tables.ReportTable | narrative.Paragraph:
        try:
            # cluster-robust variance needs enough clusters to be trusted (fewer than about
            # 20 and it is too small); with fewer, the model-based variance is given, and said
            few = self.reviews["organisation_code"].nunique() < _MIN_CLUSTERS
            fit = models.ordinal_regression(self.reviews, alpha=self.alpha,
                                            cluster=None if few else "organisation_code")
        except ValueError as exc:
            return narrative.Paragraph(f"The ordinal model could not be fitted: {exc}")
        t = fit.table
        from statsmodels.stats.multitest import multipletests

        def p_text(values) -> list[str]:
            return [f"{p:.3f}" if p >= 0.001 else "<0.001" for p in values]

        holm = multipletests(t["p_value"].to_numpy(float), method="holm")[1]
        try:
            brant = models.brant_for(fit).table.set_index("term")
        except (ValueError, np.linalg.LinAlgError) as exc:
            brant, check = None, f" The proportional-odds check could not be made ({exc})."
        columns = {
            "Odds ratio (worse care)": t["odds_ratio"].to_numpy(float),
            f"{self.params.confidence_level:.0%} CI": [
                f"{lo:.2f} to {hi:.2f}" for lo, hi in zip(t["ci_lower"], t["ci_upper"],
                                                          strict=True)],
            "p value": p_text(t["p_value"]),
            "p value (Holm)": p_text(holm),
        }
        if brant is not None:
            columns["Same odds ratio at every cut point (Brant p)"] = p_text(
                brant.loc[[str(x) for x in t["term"]], "p_value"])
            omnibus = brant.loc["Omnibus"]
            failing = [_term_label(str(x)) for x in t["term"]
                       if brant.at[str(x), "p_value"] < self.alpha]
            check = (f" Proportional-odds check (Brant test, which treats reviews as "
                     "independent and so flags a difference more readily than it should): "
                     f"overall chi-squared "
                     f"{omnibus['chi2']:.1f} on {int(omnibus['df'])} df, p "
                     f"{p_text([omnibus['p_value']])[0]}. "
                     + (f"For {', '.join(failing)} the odds ratio differs along the scale: "
                        "read its single odds ratio as an average over the cut points."
                        if failing else "No term's odds ratio differs detectably along "
                        "the scale."))
        frame = pd.DataFrame(columns, index=[_term_label(str(x)) for x in t["term"]]
                             ).astype(object)
        return tables.ReportTable(
            frame, caption="Proportional-odds model of the overall care score",
            note=(f"{self._count_words(fit.nobs)} first-stage reviews "
                  f"({self._count_words(fit.n_dropped)} with a missing covariate left out; "
                  "the model uses the exact counts). An odds ratio above 1 means the factor "
                  "goes with a "
                  "lower (worse) overall score. "
                  + (f"Intervals and p values treat reviews as independent: with fewer than "
                     f"{_MIN_CLUSTERS} organisations a cluster-robust variance cannot be "
                     "trusted, so they are too narrow by an unknown amount. " if few else
                     "Intervals and p values are cluster-robust (sandwich variance summed "
                     "over organisations), as reviews of one organisation are not "
                     "independent. ")
                  + "Reviewed deaths are a selected sample (deaths "
                  "chosen for review for a reason, not at random): these are associations "
                  f"among reviewed deaths, not causes. {len(t)} terms are tested at once, so "
                  "one may reach p < 0.05 by chance alone: the Holm-adjusted p values allow "
                  "for that." + check + ("" if fit.converged else
                                         " The fit did not converge.")),
            formats={"Odds ratio (worse care)": "decimal"}, index_name="Term",
        )

    # ------------------------------------------------------------ learning (issue 13) ----
    @cached_property
    def learning(self):
        """Themes pooled nationally and by nation, their trends, coder agreement
        (:class:`sjrlib.report.learning.NationalLearning`)."""
        from sjrlib.report.learning import NationalLearning

        return NationalLearning(self)

    def stamp(self) -> Stamp:
        return Stamp(self.params.notebook_parameters(), self.data.snapshot,
                     len(self.data.reviews) + len(self.data.deaths))


_COVARIATE_WORDS = {
    "age_at_death": "Age at death",
    "sex": "Sex",
    "admission_type": "Admission type",
    "learning_disability": "Learning disability",
    "severe_mental_illness": "Severe mental illness",
}
_REFERENCE_WORDS = {"sex": "female", "admission_type": "emergency",
                    "learning_disability": "no", "severe_mental_illness": "no"}
_VOCABULARY = {"sex": "sex", "admission_type": "admission_type",
               "learning_disability": "yes_no_unknown", "severe_mental_illness": "yes_no_unknown"}


def _term_label(term: str) -> str:
    """``"sex[male]"`` -> ``"Sex: Male (vs Female)"``; ``"age_at_death (per 10 years)"`` ->
    ``"Age at death (per 10 years)"``."""
    name, _, rest = term.partition("[")
    if not rest:
        base, _, unit = term.partition(" ")
        return f"{_COVARIATE_WORDS.get(base, base)} {unit}".strip()
    level = rest.rstrip("]")
    vocabulary = _VOCABULARY.get(name)
    try:
        shown = domain.label(vocabulary, level) if vocabulary else level
        reference = _REFERENCE_WORDS.get(name)
        ref = f" (vs {domain.label(vocabulary, reference)})" if vocabulary and reference else ""
    except KeyError:
        shown, ref = level, ""
    return f"{_COVARIATE_WORDS.get(name, name)}: {shown}{ref}"


def _count_text(shown: object) -> str:
    """A published count in a sentence: "1,750", or the suppression symbol as it is."""
    return f"{shown:,}" if isinstance(shown, (int, np.integer)) else str(shown)


def _trend_note(trend, robust) -> str:
    """The trend table's note: the clustered test when there is one, else Cochran-Armitage."""
    if robust is None:
        return (_trend_sentence(trend) + " Cochran-Armitage test for trend; the odds ratio per "
                "year is from a logistic regression on the year (on the exact counts: a model "
                "estimate).")
    return (_trend_sentence(robust) + " Logistic regression of poor care on the year, on the "
            "exact reviews (a model estimate), with cluster-robust (sandwich) standard errors "
            f"by organisation ({robust.n_clusters} organisations; t on "
            f"{robust.n_clusters - 1} degrees of freedom): reviews of one organisation are not "
            "independent. The slope's design effect (its variance against the model's for "
            f"independent reviews) is {robust.design_effect:.1f}; treating reviews as "
            f"independent, the Cochran-Armitage test gives p = {trend.p_value:.2f}.")


def _trend_sentence(trend) -> str:
    direction = "rising" if trend.odds_ratio > 1 else "falling"
    if trend.p_value < 0.05:
        return (f"The proportion of poor or very poor care is {direction} across financial "
                f"years (odds ratio per year {trend.odds_ratio:.2f}, "
                f"{trend.ci_lower:.2f}-{trend.ci_upper:.2f}; p = {trend.p_value:.3f}).")
    return (f"No clear trend in poor or very poor care across financial years (odds ratio per "
            f"year {trend.odds_ratio:.2f}, p = {trend.p_value:.2f}).")


def _with_mltn_bounds(by_org: pd.DataFrame, rule: DisclosureRule) -> pd.DataFrame:
    """``by_org`` (Learning from Deaths by organisation and quarter) with ``_mltn_low`` and
    ``_mltn_high``: what a reader knows of each organisation's deaths judged more likely than
    not from the avoidability scores 1-3 its report prints beside them (they add up to it,
    each ``*`` at least 1), each taken as its own cell tells it (:func:`sjrlib.disclosure.
    primary_range`). Found by ``sjr disclosure check`` with that relation: XC2's ``*`` of Q3
    was at least 2 (two ``*`` scores), and the national chart's quarter, safe against 1-7,
    left it at 2-5."""
    from sjrlib.disclosure import primary_range

    parts = [f"avoidability_{s}" for s in domain.MORE_LIKELY_THAN_NOT]
    ranges = [[primary_range(int(v), rule) for v in
               pd.to_numeric(by_org[c], errors="coerce").fillna(0)] for c in parts]
    low = [sum(r[i][0] for r in ranges) for i in range(len(by_org))]
    high = [sum(r[i][1] for r in ranges) for i in range(len(by_org))]
    return by_org.assign(_mltn_low=low, _mltn_high=high)
