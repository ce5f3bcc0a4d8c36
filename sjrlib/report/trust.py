"""The trust (or health board) report: everything ``notebooks/trust_report.ipynb`` displays.

The notebook is a parameters cell, one call to :func:`trust_report`, and one ``display`` per
section; every table and figure is built here from ``sjrlib.stats`` and ``sjrlib.spc`` outputs
and passes through disclosure control (the report is below national level).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sjrlib import domain, plots, spc
from sjrlib.disclosure_check import FIRST_POOR_SHOWN, LD_REASON_SHOWN
from sjrlib.report import completeness, narrative, tables
from sjrlib.report.data import ReportData, load_report_data
from sjrlib.report.figures import Chart
from sjrlib.report.form_questions import FormQuestionSections
from sjrlib.report.params import INTERNAL_NOTICE, TrustParameters, load_parameters
from sjrlib.report.stamp import Stamp
from sjrlib.stats import descriptive
from sjrlib.stats._reviews import financial_quarter
from sjrlib.stats.lfd import learning_from_deaths

__all__ = ["PROVISIONAL_NOTE", "TrustReport", "trust_report"]

PROVISIONAL_NOTE = tables.PROVISIONAL_NOTE
"""What a table (or the workbook) says of the quarters it marks "(provisional)"."""


def trust_report(parameters: Mapping[str, Any]) -> TrustReport:
    """Validate ``parameters`` (as the notebook's parameters cell holds them), read the data
    and return the report. Raises ``ParameterError`` on bad parameters or an organisation
    that is not in the store."""
    params = load_parameters(dict(parameters, report="trust"))
    data = load_report_data(params)
    if params.organisation_code not in set(data.organisations["organisation_code"]):
        from sjrlib.report.params import check_organisation

        check_organisation(params.organisation_code, data.organisations["organisation_code"])
    from sjrlib.report.learning import attach_learning  # issue 13

    attach_learning(params, data)
    return TrustReport(params, data)


def _zero_quarters(lfd: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Reindex LfD rows to every quarter of the period (no reviews: 0; no feed: <NA> deaths)."""
    lfd = lfd.set_index(lfd["period"].astype(str))
    out = lfd.reindex(labels)
    for column in tables.LFD_COUNTS:
        if column in ("deaths_in_scope", "ld_deaths"):
            out[column] = out[column].astype("Int64")
        else:
            out[column] = out[column].fillna(0).astype(int)
    out["period"] = labels
    return out.reset_index(drop=True)


class TrustReport(FormQuestionSections):
    """One organisation, one period. Sections are methods returning displayable objects."""

    def __init__(self, params: TrustParameters, data: ReportData) -> None:
        self.params = params
        self.data = data
        self.rule = params.disclosure_rule()
        self.code = params.organisation_code
        self.name = data.organisation_name(self.code)
        self.period = data.period
        self.alpha = 1 - params.confidence_level
        own = data.reviews["organisation_code"] == self.code
        self.window_reviews = data.reviews[own.fillna(False)].reset_index(drop=True)
        self.window_deaths = data.deaths[data.deaths["organisation_code"] == self.code]
        months = self.window_reviews["death_month"]
        inside = (months >= self.period.start_month) & (months <= self.period.end_month)
        self.reviews = self.window_reviews[inside.fillna(False)].reset_index(drop=True)
        m = self.window_deaths["month"]
        self.deaths = self.window_deaths[(m >= self.period.start_month)
                                         & (m <= self.period.end_month)]
        self.total_label = f"{self.period.label.replace('_', ' ')}\u00a0total"
        self.symbol = self.rule.symbol

    # ------------------------------------------------------------------------ heading ----
    @cached_property
    def synthetic(self) -> bool:
        """Whether the store is marked synthetic (``sjr demo-data``): every output then
        carries the synthetic-data banner (:class:`sjrlib.report.render.SyntheticBanner`)."""
        from sjrlib.report.stamp import store_is_synthetic

        return store_is_synthetic(self.params.db)

    def synthetic_banner(self):
        """The banner the notebook displays first on a synthetic store (``None`` otherwise)."""
        from sjrlib.report.render import SyntheticBanner

        return SyntheticBanner() if self.synthetic else None

    @property
    def scottish(self) -> bool:
        """A Scottish NHS health board (GSS code ``S08...``), not an English trust: no Quality
        Account (an English statutory report), the board publishes to its own board."""
        orgs = self.data.organisations
        row = orgs[orgs["organisation_code"] == self.code]
        if len(row) and "nation" in row.columns and pd.notna(row["nation"].iloc[0]):
            return str(row["nation"].iloc[0]).lower() == "scotland"
        return self.code.startswith("S") and len(self.code) == 9

    @property
    def title(self) -> str:
        return f"{self.name} ({self.code}): Structured Judgement Review report, " \
               f"{_period_words(self.period)}"

    def introduction(self) -> narrative.Paragraph:
        """Who and what the report covers, in two sentences (and, for the organisation's own
        governance, the notice that counts are exact)."""
        internal = (f" {INTERNAL_NOTICE}: counts are exact, for the organisation's own "
                    "mortality committee and board." if self.params.internal else "")
        return narrative.Paragraph(
            narrative.Strong(self.name),
            f" ({self.code}), deaths from {_month_words(self.period.start_month)} "
            f"to {_month_words(self.period.end_month)}. Figures come from structured judgement "
            "reviews (submitted and locked; drafts are not counted) and the monthly deaths "
            "feed. This report is for the organisation's own learning: it does not compare "
            "organisations. " + self.rule.describe() + internal
        )

    # ------------------------------------------------------------- Learning from Deaths ----
    @cached_property
    def _lfd(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        labels = sorted({financial_quarter(m) for m in self.period.months()})
        figures = learning_from_deaths(
            self.reviews, self.deaths, period="quarter", by_organisation=False,
            as_of=self.period.end_month,
        )
        figures = _zero_quarters(figures[figures["period"].isin(labels)], labels)
        return tables.protect_lfd(figures, self.rule, total_label=self.total_label,
                                  known=self._charted_quarters(labels))

    def _charted_quarters(self, labels: list[str]) -> dict | None:
        """The quarters' reviewed deaths and deaths in scope as the chart of deaths reviewed
        prints them (its months, or its quarter), for :func:`tables.protect_lfd`: a quarter's
        40 reviewed deaths (38-42) plotted as months of 10, 15 and 10 (at most 41 together)
        left its hidden avoidability counts 1-6, not 1-7, in the workbook checked beside the
        page. A month not plotted, or hidden, may be anything."""
        from sjrlib.disclosure import count_range

        if not self.rule.active:
            return None
        published = self._spc_counts["reviewed"]
        quarterly = published.attrs.get("unit") == "quarter"
        known = {}
        for quarter in labels:
            keys = [quarter] if quarterly else [
                m for m in self.period.months() if financial_quarter(m) == quarter]
            for column, field in (("numerator", "reviewed"), ("denominator", "deaths_in_scope")):
                ranges = []
                for key in keys:
                    shown = published[column].get(key) if key in published.index else None
                    if shown is None or np.isnan(shown) or bool(published["hidden"].get(key)):
                        ranges.append((0, None))
                    else:
                        ranges.append(count_range(int(shown), self.rule))
                known[(tables.quarter_label(quarter), field)] = ranges
        return known

    def lfd_framing(self) -> narrative.Paragraph:
        """What the Learning from Deaths figures are for: an English trust publishes them
        quarterly to its public board and in its Quality Account; a Scottish health board has
        no Quality Account and reports them to its own board."""
        if self.scottish:
            return narrative.Paragraph(
                "The Learning from Deaths figures, quarter by quarter, as the health board "
                "reports them to its own board.")
        return narrative.Paragraph(
            "The figures trusts publish quarterly to their public board and in the Quality "
            "Account.")

    def annual_pack_heading(self) -> narrative.Heading:
        """The heading of the year's learning-from-deaths text ready to paste: the Quality
        Account pack of an English trust, the board's summary of a Scottish health board."""
        return narrative.Heading("Learning from deaths summary for the board" if self.scottish
                                 else "Quality Account pack")

    def annual_pack(self) -> tables.ReportTable:
        """The year's learning from deaths items ready to paste
        (:meth:`sjrlib.report.learning.TrustLearning.quality_account`); for a Scottish health
        board the same figures and text, without the Quality Account's framing and item
        numbers (a statutory report of English trusts only)."""
        pack = self.learning.quality_account()
        if not self.scottish:
            return pack
        import re

        column = "Text for the health board's own reporting"
        frame = pack.frame.copy()
        frame.columns = [column]
        frame.index = [re.sub(r"^\d+(\.\d+)*\s+", "", str(i)) for i in frame.index]
        return replace(pack, frame=frame,
                       caption="Learning from deaths summary for the health board's reporting",
                       formats={column: "text"})

    def lfd_quarterly(self) -> tables.ReportTable:
        return self._mark_provisional(
            tables.lfd_quarterly_table(self._lfd[1], self.rule, total_label=self.total_label))

    def avoidability(self) -> tables.ReportTable:
        return self._mark_provisional(tables.lfd_avoidability_table(
            self._lfd[1], self.rule, total_label=self.total_label))

    def learning_disability(self) -> tables.ReportTable:
        return self._mark_provisional(
            tables.lfd_ld_table(self._lfd[1], self.rule, total_label=self.total_label))

    # ------------------------------------------------------------------- completeness ----
    @cached_property
    def _completeness(self) -> pd.DataFrame:
        drafts = self.data.drafts
        if drafts is None:
            drafts = completeness.draft_cases(self.reviews.iloc[0:0], self.reviews)
        own = drafts[drafts["organisation_code"] == self.code]
        return completeness.quarter_completeness(
            self.reviews, self.deaths, own, self.period.months(),
            completeness.as_at_date(self.data.read_at))

    def as_at(self) -> narrative.Paragraph:
        """The data's as-at moment, and what a provisional quarter means."""
        return completeness.as_at_paragraph(self.data.read_at, self._completeness)

    def _provisional_quarters(self) -> list[str]:
        done = self._completeness
        return list(done.index[done["provisional"]])

    def _mark_provisional(self, table: tables.ReportTable) -> tables.ReportTable:
        """Label provisional quarters "(provisional)" in a quarterly table."""
        return tables.mark_provisional(table, self._provisional_quarters())

    def completeness(self) -> tables.ReportTable:
        """Per quarter: deaths with only a draft review, deaths waiting for a second-stage
        review, and whether the quarter's figures are final."""
        return completeness.completeness_table({"": self._completeness}, self._completeness,
                                               self.rule, self.total_label)

    def _published_figures(self) -> dict[str, dict[str, str]]:
        return completeness.PublishedHistory.figures(
            tables.lfd_quarterly_table(self._lfd[1], self.rule,
                                       total_label=self.total_label).text_frame())

    def revisions(self) -> narrative.Paragraph:
        """Which published Learning from Deaths figures changed since the previous report of
        this period (kept beside it, ``published_history``)."""
        if not self.params.published_history:
            return narrative.Paragraph("")
        history = completeness.PublishedHistory(self.params.published_history)
        before, changes = history.compare(self._published_figures(), self.data.snapshot)
        if before is None:
            return narrative.Paragraph(
                narrative.Strong("Revisions: "), "this is the first report of this period kept "
                "here; the next one will say which figures changed.")
        when = completeness.as_at_words(before["as_at"])
        if not changes:
            return narrative.Paragraph(
                narrative.Strong("Revisions: "), f"no published figure changed since the "
                f"report on data as at {when}.")
        by_quarter: dict[str, list[str]] = {}
        for c in changes:
            by_quarter.setdefault(c.quarter, []).append(
                f"{c.figure[0].lower()}{c.figure[1:]} {c.before} \u2192 {c.now}")
        parts = "; ".join(f"{q.replace(chr(0xa0), ' ').replace(chr(0x2060), '')}: "
                          f"{', '.join(items)}" for q, items in by_quarter.items())
        return narrative.Paragraph(
            narrative.Strong("Revised since the report on data as at " + when + ": "),
            parts + ". Late reviews and completed second-stage reviews revise earlier "
            "quarters; these are the figures to use now.")

    def record_published(self) -> None:
        """Keep what this run published (the Learning from Deaths quarterly figures as shown),
        for the next run's revisions statement. Call it last, once the report has rendered."""
        if self.params.published_history:
            completeness.PublishedHistory(self.params.published_history).record(
                self._published_figures(), snapshot=self.data.snapshot,
                as_at=self.data.read_at)

    def write_lfd_workbook(self, path: str | Path | None = None) -> Path | None:
        """Write the Learning from Deaths dashboard (.xlsx) to ``path`` (default: the
        ``lfd_workbook`` parameter; nothing when neither is given)."""
        target = path or self.params.lfd_workbook
        if not target:
            return None
        from sjrlib.report.lfd_excel import write_lfd_workbook

        # the page's quarters as the page labels them, and its as-at moment: the workbook
        # said neither, so a provisional quarter read as final (audit of 2026-12-06)
        marked = tables.provisional_labels(self._provisional_quarters())
        return write_lfd_workbook(
            target, self._lfd[1].rename(index=marked),
            organisation=f"{self.name} ({self.code})",
            period=_period_words(self.period), total_label=self.total_label, rule=self.rule,
            stamp=self.stamp(), notice=INTERNAL_NOTICE if self.params.internal else "",
            synthetic=self.synthetic, as_at=completeness.as_at_words(self.data.read_at),
            provisional_note=PROVISIONAL_NOTE if marked else "",
        )

    # -------------------------------------------------------------------- care scores ----
    @cached_property
    def _care(self) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
        return tables.care_inputs(self.reviews, self.alpha)

    def care_scores(self) -> tables.ReportTable:
        return tables.care_score_table(*self._care, self.rule, alpha=self.alpha)

    def care_scores_chart(self) -> tables.ScoreBars:
        """Care scores by phase as 100% stacked bars (HTML, no image to render: this chart
        alone cost a third of a report's time as a matplotlib figure); no segment for a
        withheld count."""
        distribution, _ = self._care
        safe = tables.protect_distribution(distribution, self.rule, group="phase")
        return tables.ScoreBars(safe, self.rule, title="Care scores by phase of care "
                                "(% of first-stage reviews scoring the phase)")

    @cached_property
    def _problems(self) -> pd.DataFrame:
        return descriptive.problem_frequency(self.reviews, alpha=self.alpha)

    def problems(self) -> tables.ReportTable:
        return tables.problems_table(self._problems, self.rule)

    def problems_chart(self):
        """Problem types split by harm (``sjrlib.plots``), from protected counts."""
        return Chart(plots.problem_types(
            tables.protect_problem_frequency(self._problems, self.rule)))

    # ---------------------------------------------------------------------------- SPC ----
    @cached_property
    def _spc(self) -> dict[str, tuple[pd.DataFrame, np.ndarray, str]]:
        """p-charts of % poor care and % reviewed over the trend window.

        By month; by financial quarter instead when more than a third of the months rest on
        fewer than 8 reviews (a small organisation), so the chart still shows a process.
        """
        out = {}
        months = pd.Index(_months(self.data.trend_start, self.period.end_month))
        if self.rule.active:  # a published chart: only what disclosure control publishes
            return self._published_spc()
        poor = descriptive.poor_care(self.window_reviews, by="month")
        poor = poor.set_index(poor["month"].astype(str)).reindex(months)
        unit = "month"
        # months on fewer than 8 reviews get no limits (sjrlib.spc), whatever the audience
        if (poor["n"].fillna(0).to_numpy(int) < spc.MIN_CASES_FOR_LIMITS).mean() > 1 / 3:
            unit = "quarter"
            quarters = pd.Index(sorted({financial_quarter(m) for m in months}))
            poor = descriptive.poor_care(self.window_reviews, by="quarter")
            poor = poor.set_index(poor["quarter"].astype(str)).reindex(quarters)
        ok = poor["n"].fillna(0).to_numpy(int) > 0
        frame = spc.p_chart(poor["poor"][ok].astype(int), poor["n"][ok].astype(int),
                            improvement="decrease")
        out["poor_care"] = (frame, np.array([not self.rule.base_allowed(n)
                                             for n in poor["n"][ok].astype(int)]), unit)
        deaths, reviewed, ok = self._monthly_reviewed(months)
        frame = spc.p_chart(pd.Series(reviewed[ok], index=months[ok]),
                            pd.Series(deaths[ok], index=months[ok]), improvement="increase")
        out["reviewed"] = (frame, np.array([not self.rule.base_allowed(d) for d in deaths[ok]]),
                           "month")
        return out

    def _monthly_reviewed(self, months: pd.Index) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Deaths in scope and deaths reviewed per month of ``months``, and which months can
        be charted (some deaths, no more reviewed than died)."""
        lfd = learning_from_deaths(self.window_reviews, self.window_deaths, period="month",
                                   by_organisation=False, as_of=self.period.end_month)
        lfd = lfd.set_index(lfd["period"].astype(str)).reindex(months)
        deaths = lfd["deaths_in_scope"].astype("Float64").fillna(0).to_numpy(float)
        reviewed = lfd["reviewed"].fillna(0).to_numpy(float)
        return deaths, reviewed, (deaths > 0) & (reviewed <= deaths)

    def _published_spc(self) -> dict[str, tuple[pd.DataFrame, np.ndarray, str]]:
        """The two p-charts on published counts (:func:`sjrlib.measures.published_counts`:
        rounded, small months hidden with a second where a quarter's or the year's total
        would give one back, months grouped into quarters when too many are hidden)."""
        from sjrlib import measures

        out = {}
        for key, improvement in (("poor_care", "decrease"), ("reviewed", "increase")):
            published = self._spc_counts[key]
            frame = measures.published_p_chart(published, improvement)
            out[key] = (frame, published["hidden"].to_numpy(bool), published.attrs["unit"])
        return out

    @cached_property
    def _spc_counts(self) -> dict[str, pd.DataFrame]:
        """The counts the two published p-charts plot (:func:`sjrlib.measures.
        published_counts`), over the trend window; the Learning from Deaths table is protected
        knowing them (:meth:`_charted_quarters`)."""
        from sjrlib import measures

        months = pd.Index(_months(self.data.trend_start, self.period.end_month))
        period = (self.period.start_month, self.period.end_month)
        poor = descriptive.poor_care(self.window_reviews, by="month")
        poor = poor.set_index(poor["month"].astype(str)).reindex(months)
        deaths, reviewed, ok = self._monthly_reviewed(months)
        out = {}
        for key, num, den in (
                ("poor_care", poor["poor"].fillna(0).to_numpy(float),
                 poor["n"].fillna(0).to_numpy(float)),
                ("reviewed", np.where(ok, reviewed, 0), np.where(ok, deaths, 0))):
            counts = pd.DataFrame({"numerator": num.astype(int), "denominator": den.astype(int)},
                                  index=months)
            out[key] = measures.published_counts(counts, self.rule, period=period)
        return out

    def _chart(self, frame: pd.DataFrame, title: str, y_label: str, unit: str, base: str,
               what: str):
        if not frame.attrs.get("controlled"):
            return Chart(plots.spc_chart(frame, title=title, y_label=y_label,
                                         provisional_from=self._provisional_from(unit)))
        from sjrlib.report.learning import PublishedChart

        return PublishedChart(frame, title, self.rule, y_label=y_label, base=base, what=what,
                              provisional_from=self._provisional_from(unit))

    def _period_start(self, unit: str) -> str:
        start = self.period.start_month
        return financial_quarter(start) if unit == "quarter" else start

    def _provisional_from(self, unit: str) -> str | None:
        """The first month (or quarter) of the first provisional quarter, or None."""
        done = self._completeness
        quarters = list(done.index[done["provisional"]])
        if not quarters:
            return None
        if unit == "quarter":
            return quarters[0]
        return min(m for m in self.period.months() if financial_quarter(m) == quarters[0])

    def spc_poor_care(self):
        frame, _, unit = self._spc["poor_care"]
        return self._chart(
            frame, f"Reviews finding poor or very poor overall care, by {unit} of death",
            "% of first-stage reviews", unit, "First-stage reviews",
            "Reviews with poor or very poor overall care")

    def spc_reviewed(self):
        frame, _, unit = self._spc["reviewed"]
        return self._chart(
            frame, f"Deaths reviewed by structured judgement review, by {unit} of death",
            "% of deaths in scope", unit, "Deaths in scope", "Deaths reviewed (SJR)")

    # ---------------------------------------------------------------- second stage etc. ----
    def second_stage(self) -> tables.ReportTable:
        first_poor = descriptive.poor_care(self.reviews, alpha=self.alpha)
        second = descriptive.care_score_distribution(self.reviews, phases=["overall"],
                                                     stage="second")
        rows = {f"Overall care at second stage: {int(r.score)} {r.label}": int(r.count)
                for r in second.itertuples()}
        total = int(second["n_applicable"].iloc[0]) if len(second) else 0
        raw = pd.DataFrame({"Number": {**rows, "All second-stage reviews": total}})
        from sjrlib.disclosure import protect_count, protect_counts

        protected = protect_counts(raw.astype(object), self.rule,
                                   total_row="All second-stage reviews")
        poor = int(first_poor["poor"].iloc[0]) if len(first_poor) else 0
        if self.rule.active:
            # The care-score table prints these deaths as its overall scores 1 and 2: their
            # exact sum rounded on its own beside them narrowed them (a * and 10 under a
            # rounded 10 left the * at 1-4), so it is their sum as printed.
            care = self.care_scores().frame
            overall = domain.label("phase", "overall")
            poor_shown = tables.shown_sum(
                [care.at[overall, c] for c in tables.CARE_SCORE_LABELS[:2]], self.rule)
        else:
            poor_shown = poor
        backlog = narrative.second_stage_backlog(self.reviews)
        lead = pd.DataFrame({"Number": {
            "Deaths with poor or very poor overall care at first stage": poor_shown,
            "… of which not yet reviewed at second stage": protect_count(backlog, self.rule),
        }}, dtype=object)
        frame = pd.concat([lead, protected])
        return tables.ReportTable(
            frame, caption="Second-stage review: deaths referred, and overall care as judged at "
                           "second stage",
            note=tables._note(self.rule, "Poor or very poor overall care at first stage (score "
                              "1-2) should lead to a second-stage review by another reviewer or "
                              "a panel, who also judge avoidability."
                              + (f" {FIRST_POOR_SHOWN} (* when either is withheld)."
                                 if self.rule.active else "")),
            total_rows=["All second-stage reviews"], index_name="",
        )

    def review_reasons(self) -> tables.ReportTable:
        """Reasons for review and poor care by reason, protected with the learning disability
        table beside it (:meth:`_ld_reason`)."""
        poor = descriptive.poor_care(self.reviews, by="review_reason", alpha=self.alpha)
        elsewhere, same = self._ld_reason(poor)
        return tables.poor_care_by_group_table(
            poor, "review_reason", domain.labels("review_reason"), self.rule,
            caption="Reasons for review, and poor or very poor overall care by reason",
            index_name="Reason for review",
            note="A review may have several reasons, so rows add up to more than all reviews. "
                 + tables.WILSON_NOTE
                 + (f" {LD_REASON_SHOWN} (* when withheld there)." if same else ""),
            alpha=self.alpha, elsewhere=elsewhere,
        )

    def _ld_reason(self, poor: pd.DataFrame) -> tuple[Any, bool]:
        """What the learning disability table tells of the reasons table's row of learning
        disability, and whether that row prints the table's year of reviewed. The row counts
        first-stage reviews giving the reason and scoring overall care; the table counts
        deaths with a counted review (either stage) recording a learning disability: not
        the same by definition, but a reader takes the one among the other, and where every
        such review is of such a death and every such death was reviewed for it they are the
        same deaths (the demo's 134 organisations, every one). An audit of the demo's reports
        (2026-12-06) found XE1's row printing 20 beside the year's reviewed ``*`` (18,
        withheld as a secondary suppression), which left Q3's deaths ``*`` at 1-4. Equal:
        the row prints the year's reviewed as the table prints it (``*`` when withheld) and
        says so; among them: it is protected knowing it (each
        :class:`sjrlib.disclosure.PrintedElsewhere` with the whole Learning from Deaths table
        as printed); neither (a review giving the reason of a death the table does not count
        as of a learning disability): a reader's reading would be wrong, nothing is added."""
        if not self.rule.active:
            return None, False
        row = domain.label("review_reason", "learning_disability")
        mine = poor.loc[poor["review_reason"].astype(str) == "learning_disability", "n"]
        n = int(mine.iloc[0]) if len(mine) else 0
        raw, printed = self._lfd
        total = raw.at[self.total_label, "ld_reviewed"]
        if total is None or total is pd.NA:
            return None, False
        year = ("lfd", self.total_label, "ld_reviewed")
        if n == int(total):
            return tables.lfd_printed(printed, self.rule, total_label=self.total_label,
                                      equal={(row, "n"): [year]}), True
        if n < int(total):
            return tables.lfd_printed(printed, self.rule, total_label=self.total_label,
                                      within={(row, "n"): [year]}), False
        return None, False

    # -------------------------------------------------------------------- narrative ----
    @staticmethod
    def _spc_sentence(chart, measure: str, frame: pd.DataFrame, **kw) -> str | None:
        """The SPC sentence of a drawn chart; of a chart not drawn (too few points, or too few
        that disclosure control lets through), that it is not shown and why, never what a
        chart nobody sees would say."""
        withheld = chart.withheld
        if withheld:
            reason = withheld.rstrip(".").removesuffix(": chart not shown")
            return (f"{measure[:1].upper()}{measure[1:]} is not charted: "
                    f"{reason[:1].lower()}{reason[1:]}.")
        return narrative.spc_sentence(measure, frame, **kw)

    def what_to_look_at(self) -> narrative.Callout:
        protected = self._lfd[1]
        poor_frame, poor_hide, poor_unit = self._spc["poor_care"]
        rev_frame, rev_hide, _ = self._spc["reviewed"]
        mltn = protected.at[self.total_label, "more_likely_than_not"]
        backlog = narrative.second_stage_backlog(self.reviews)
        from sjrlib.disclosure import protect_count

        sentences = [
            self._spc_sentence(self.spc_poor_care(),
                               "the percentage of reviews finding poor or very poor care",
                               poor_frame, improvement="decrease",
                               period_start=self._period_start(poor_unit),
                               withheld=poor_hide, base_noun="reviews"),
            self._spc_sentence(self.spc_reviewed(), "the percentage of deaths reviewed",
                               rev_frame, improvement="increase",
                               period_start=self.period.start_month, withheld=rev_hide,
                               base_noun="deaths"),
        ]
        if mltn not in (0, None):
            phrase = narrative.count_phrase(mltn, "deaths", self.symbol)
            sentences.append(
                f"{phrase[0].upper()}{phrase[1:]} were judged "
                "more likely than not due to problems in care: each needs a completed "
                "second-stage review and an action plan reported to the board."
            )
        elif not self._lfd[0].at[self.total_label, "reviewed"]:
            # no review at all: "no death was judged ..." would reassure about nothing (the
            # walk-through audit of 2026-12-06, a period with no reviews)
            sentences.append("No review of a death in the period is in the store, so nothing "
                             "can be said here about the care or the avoidability of deaths.")
        else:
            sentences.append("No death in the period was judged more likely than not due to "
                             "problems in care.")
        shown = protect_count(backlog, self.rule)
        if backlog:
            phrase = narrative.count_phrase(shown, "deaths", self.symbol)
            sentences.append(
                f"{phrase[0].upper()}{phrase[1:]} with poor "
                "or very poor care at first stage have no second-stage review yet."
            )
        top = self._problems
        if len(top) and int(top["count"].max()) > self.rule.threshold:
            label = tables._short_problem(str(top.loc[top["count"].idxmax(), "problem_type"]))
            sentences.append(f"The problem type recorded most often was: {label.lower()}.")
        return narrative.Callout(sentences)

    # ------------------------------------------------------------------------ stamp ----
    # ------------------------------------------------------------ learning (issue 13) ----
    @cached_property
    def learning(self):
        """Themes, good practice, actions and their impact, the Quality Account pack
        (:class:`sjrlib.report.learning.TrustLearning`)."""
        from sjrlib.report.learning import TrustLearning

        return TrustLearning(self)

    def stamp(self) -> Stamp:
        return Stamp(self.params.notebook_parameters(), self.data.snapshot,
                     len(self.data.reviews) + len(self.data.deaths))


def _months(start: str, end: str) -> list[str]:
    from sjrlib.report.params import months_between

    return months_between(start, end)


def _month_words(month: str) -> str:
    names = ("January February March April May June July August September October November "
             "December").split()
    return f"{names[int(month[5:]) - 1]} {month[:4]}"


def _period_words(period) -> str:
    if period.label == f"{period.start_month[:4]}-{period.end_month[2:4]}":
        return f"financial year {period.label}"
    return f"{_month_words(period.start_month)} to {_month_words(period.end_month)}"
