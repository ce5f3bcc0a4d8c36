"""The exploration dashboard: filters, charts and tables of one's own reviews (Voila).

For an organisation lead (their own organisation) or the programme team (all organisations).
The data are read once through the governed session (audited), with each filter column coded
once (:class:`_Codes`); a filter change then selects rows by comparing a few distinct values and
taking numpy positions, and redraws only the tab on screen (other tabs when first shown), so it
stays well under a second on the demo data, for all organisations too.
Everything shown comes from ``sjrlib.stats``, ``sjrlib.spc`` and ``sjrlib.plots``. Counts are
exact: a lead sees their own organisation's figures as its mortality committee does (the
``organisation`` audience of ``docs/disclosure.md``; the page says "for internal governance:
apply disclosure control before publishing"), and the programme team sees every organisation's.
Both may read the reviews themselves, so rounding their own view would protect nothing and hide
the counts they must act on (e.g. deaths judged more likely than not avoidable).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import html
import io
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import ipywidgets as w
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sjrlib import domain
from sjrlib.dashboards import _widgets as ui

__all__ = ["EXPLORE_ROLES", "FREE_TEXT_ROLES", "Explorer", "explore", "warm_up"]

EXPLORE_ROLES: frozenset[str] = frozenset({"organisation_lead", "programme_team"})
"""Roles the exploration dashboard is for."""
FREE_TEXT_ROLES: frozenset[str] = frozenset({"organisation_lead"})
"""Roles that see the explicit judgement text in the reviews table: a lead reads their own
organisation's judgements to learn from them; national users work with the structured data."""

TABS: tuple[str, ...] = ("Care scores", "Problems in care", "Avoidability", "SPC charts",
                         "Learning from Deaths", "Reviews")
TABLE_ROWS = 200
ALL = "__all__"
CACHED_VIEWS = 40
"""Drawn views kept for going back to an earlier filter choice (a few MB of PNG at most)."""
_READ_COLUMNS: tuple[str, ...] = (*domain.REVIEW_COLUMNS, "nation", "region")
"""Columns read (free text only where the role is shown it: see ``_read``)."""
PNG_OPTIONS = {"compress_level": 1}
"""Charts are sent as PNG: zlib's fastest level (about 1/4 of level 6's time: a tenth of a
redraw) for a few more kB on a local network."""


class Explorer:
    """Filters and views over the reviews a governed session may see.

    Parameters
    ----------
    session
        An open ``data_access`` session of an organisation lead or the programme team.

    Attributes
    ----------
    filters : dict[str, ipywidgets.Dropdown]
        ``start_month``, ``end_month``, ``organisation_code``, ``specialty``,
        ``admission_type``, ``review_reason``, ``stage``; each has the CSS class
        ``f-<name>``.
    reviews, deaths : pandas.DataFrame
        The rows the current filters select.
    widget : ipywidgets.VBox
        The dashboard, to display.
    """

    def _counts_note(self) -> str:
        """What the counts on the page are, and what a reader must do before publishing."""
        from sjrlib.report.params import INTERNAL_NOTICE

        return f"Exact counts. {INTERNAL_NOTICE}."

    def __init__(self, session: Any) -> None:
        from sjrlib.disclosure import DisclosureRule

        self.session = session
        self.national = session.role == "programme_team"
        self.rule = DisclosureRule.off()  # see the module docstring: exact for both roles
        self.free_text = session.role in FREE_TEXT_ROLES
        self.draws = 0
        self.frozen = False
        self._cache: OrderedDict[tuple, tuple[str, list[w.Widget]]] = OrderedDict()
        self._read()
        self._stale = set(TABS)
        self._build()
        self.apply()

    def _read(self) -> None:
        """Read the rows in scope through the session (audited), once, without the free text
        this role is not shown; code the filter columns."""
        shown = {domain.comment_column("overall")} if self.free_text else set()
        self.all_reviews = self.session.reviews(
            status=["submitted", "locked"],
            columns=[c for c in _READ_COLUMNS if not c.startswith("comment_") or c in shown])
        self.all_deaths = self.session.deaths()
        self.organisations = self.session.organisations()
        # The draft reviews in scope (three columns, no free text): with them a quarter is
        # marked provisional as the reports mark it (see _provisional).
        from sjrlib.report.completeness import read_draft_rows

        self.draft_rows = read_draft_rows(self.session)
        self._codes = _ReviewCodes(self.all_reviews)
        self._rows = np.arange(len(self.all_reviews))
        self._reviews: pd.DataFrame | None = self.all_reviews
        self.deaths = self.all_deaths
        self.read_at = time.time()

    @property
    def reviews(self) -> pd.DataFrame:
        """The reviews the current filters select (taken from the rows read when first asked
        for after a filter change)."""
        if self._reviews is None:
            if len(self._rows) == len(self.all_reviews):
                self._reviews = self.all_reviews.copy(deep=False)
            else:
                self._reviews = self.all_reviews.take(self._rows).reset_index(drop=True)
        return self._reviews

    @property
    def age(self) -> float:
        """Seconds since the data were read."""
        return time.time() - self.read_at

    def reload(self) -> None:
        """Read the data again (new reviews since) and redraw with the current filters."""
        frozen = self.frozen
        if frozen:  # let the old data be collected
            gc.unfreeze()
        self._read()
        old, self._cache = self._cache, OrderedDict()
        self.apply()
        shown = {id(c) for _, b in self.views.values() for c in b.children}
        for _, children in old.values():
            for widget in children:
                if id(widget) not in shown:
                    widget.close()
        if frozen:
            self.freeze()

    def freeze(self, collect: bool = True) -> None:
        """Move every object alive now (the data read, the imports) out of the garbage
        collector's reach (``gc.freeze``), so that a full collection during a redraw does not
        walk the ~200k objects of a loaded kernel again (0.13 s -> 0.03 s). For a kernel that
        serves this dashboard only (:func:`explore` calls it); :meth:`reload` unfreezes first so
        the old data can go. With ``collect`` a full collection first frees the garbage so far;
        :func:`explore` skips it (0.08 CPU s before the first chart; the garbage left by the
        imports and the first read, about 6,000 objects and 2 MB, is frozen with the rest)."""
        if collect:
            gc.collect()
        gc.freeze()
        self.frozen = True

    # ----------------------------------------------------------------------------- building
    def _build(self) -> None:
        self._swapping = False  # apply() putting the period's two boxes in order
        months = sorted(set(self.all_reviews["death_month"].dropna())
                        | set(self.all_deaths["month"].dropna()))
        if not months:
            months = [pd.Timestamp.today().strftime("%Y-%m")]
        # The default period: the 24 calendar months to the latest month of data (the months
        # offered are those holding data, so 24 of them may span more: a review of a recent
        # death entered before the deaths feed has caught up leaves months of neither between).
        earliest = (pd.Period(months[-1], "M") - 23).strftime("%Y-%m")
        start = next(m for m in months if m >= earliest)
        month_options = [(_month_words(m), m) for m in months]

        def choice(name: str, options: list[tuple[str, Any]], value: Any,
                   width: str = "16em") -> w.Dropdown:
            box = w.Dropdown(options=options, value=value, layout=w.Layout(width=width))
            box.add_class(f"f-{name}")
            box.observe(lambda change: None if self._swapping else self.apply(),
                        names="value")
            return box

        orgs = self.organisations.sort_values("organisation_code")
        org_options = [("All organisations", ALL)] if self.national else []
        org_options += [(f"{r.organisation_code} · {r.name}", r.organisation_code)
                        for r in orgs.itertuples()]
        specialties = sorted(self.all_reviews["specialty"].dropna().unique())
        self.filters: dict[str, w.Dropdown] = {
            "start_month": choice("start_month", month_options, start, "9em"),
            "end_month": choice("end_month", month_options, months[-1], "9em"),
            "organisation_code": choice("organisation_code", org_options,
                                        org_options[0][1] if org_options else None, "28em"),
            "specialty": choice("specialty", [("All specialties", ALL)]
                                + [(_cell("specialty", s), s) for s in specialties], ALL),
            "admission_type": choice(
                "admission_type",
                [("All admission types", ALL)]
                + list((v, k) for k, v in domain.labels("admission_type").items()), ALL),
            "review_reason": choice(
                "review_reason",
                [("All review reasons", ALL)]
                + list((v, k) for k, v in domain.labels("review_reason").items()), ALL, "22em"),
            "stage": choice("stage", [("First-stage reviews", "first"),
                                      ("Second-stage reviews", "second")], "first"),
        }
        if not self.national:  # a lead's organisation is fixed by their scope
            self.filters["organisation_code"].disabled = len(org_options) <= 1

        def labelled(text: str, *boxes: w.Widget) -> w.HBox:
            label = w.HTML(html.escape(text), layout=w.Layout(width="7em"))
            label.add_class("sjr-label")
            return w.HBox([label, *boxes], layout=w.Layout(margin="0 16px 0 0"))

        f = self.filters
        bar = w.VBox([
            w.HBox([labelled("Deaths from", f["start_month"], w.HTML("&nbsp;to&nbsp;"),
                             f["end_month"]),
                    labelled("Organisation", f["organisation_code"])],
                   layout=w.Layout(flex_flow="row wrap")),
            w.HBox([labelled("Specialty", f["specialty"]),
                    labelled("Admission", f["admission_type"]),
                    labelled("Reason", f["review_reason"]),
                    labelled("Stage", f["stage"])], layout=w.Layout(flex_flow="row wrap")),
        ])
        self.summary = w.HTML()
        self.summary.add_class("sjr-summary")
        self.reload_button = ui.button("Read the data again", "b-reload-data",
                                       tooltip="Include reviews saved since the data were read")
        self.reload_button.on_click(lambda _: self.reload())
        self.views: dict[str, tuple[w.HTML, w.Box]] = {}
        pages = []
        for title in TABS:
            caption = w.HTML()
            caption.add_class("sjr-caption")
            body = w.VBox()
            body.add_class(f"v-{_slug(title)}")
            self.views[title] = (caption, body)
            pages.append(w.VBox([caption, body]))
        self.tabs = w.Tab(children=pages)
        for i, title in enumerate(TABS):
            self.tabs.set_title(i, title)
        self.tabs.add_class("sjr-tabs")
        self.tabs.observe(lambda change: self._draw_current(), names="selected_index")
        scope = ("all organisations (programme team)" if self.national else
                 ", ".join(self.session.organisation_codes or ()))
        head = w.HTML(
            "<h2 style='margin:4px 0'>Explore structured judgement reviews</h2>"
            f"<div class='sjr-hint'>Signed in as <b>{html.escape(str(self.session.user))}</b>"
            f" · {html.escape(scope)} · submitted and locked reviews. "
            f"{html.escape(self._counts_note())}</div>")
        self.widget = w.VBox([ui.style(), head,
                              ui.section("Filters", bar, w.HBox(
                                  [self.summary, self.reload_button],
                                  layout=w.Layout(align_items="center",
                                                  justify_content="space-between"))),
                              self.tabs])
        self.widget.add_class("sjr-app")
        self.widget.add_class("sjr-explore")

    # ----------------------------------------------------------------------------- filtering
    def _deaths_between(self, start: str, end: str, organisation: str | None) -> pd.DataFrame:
        """The deaths feed's rows of months ``start`` to ``end`` (``YYYY-MM``, inclusive), of
        ``organisation`` (None: every organisation loaded)."""
        d = self.all_deaths
        keep = (d["month"] >= start) & (d["month"] <= end)
        if organisation:
            keep &= d["organisation_code"] == organisation
        return d[keep.fillna(False)].reset_index(drop=True)

    def selection(self) -> dict[str, Any]:
        """The filters as values (``None`` for "all")."""
        return {k: (None if b.value == ALL else b.value) for k, b in self.filters.items()}

    def apply(self) -> None:
        """Filter the loaded rows by the current selection and redraw the tab on screen."""
        sel = self.selection()
        start, end = sorted([sel["start_month"], sel["end_month"]])
        if (start, end) != (sel["start_month"], sel["end_month"]):
            # a "from" after the "to": the period read is the one between them, and the two
            # boxes say so (they had kept "Mar 2026 to Apr 2021" beside figures of Apr 2021 to
            # Mar 2026: the walk-through audit of 2026-12-06); each change redraws once, here
            self._swapping = True
            try:
                self.filters["start_month"].value = start
                self.filters["end_month"].value = end
            finally:
                self._swapping = False
        self._rows = self._codes.rows(start, end, sel)
        self._reviews = None  # taken when a view asks for it
        self.deaths = self._deaths_between(start, end, sel["organisation_code"])
        self.period = (start, end)
        self._stale = set(TABS)
        # count deaths (cases), as the charts do: one review per case
        n = self._codes.cases(self._rows, sel["stage"])
        stage = domain.label("review_stage", sel["stage"]).lower()
        self.summary.value = (
            f"<b>{_count_words(n, self.rule)}</b> death{'s' if n != 1 else ''} from "
            f"{_month_words(start)} to {_month_words(end)} with a {stage} matching the "
            "filters. <span class='sjr-hint'>Data read at "
            f"{dt.datetime.fromtimestamp(self.read_at).strftime('%H:%M')}.</span>")
        self._draw_current()

    # ----------------------------------------------------------------------------- drawing
    def _draw_current(self) -> None:
        title = TABS[self.tabs.selected_index or 0]
        if title in self._stale:
            self.draw(title)

    def draw(self, title: str) -> None:
        """(Re)draw one tab from the filtered rows; a view drawn before for the same filters
        (and the same data) is shown again from the cache."""
        caption, body = self.views[title]
        key = (title, tuple(sorted(self.selection().items())), self.read_at)
        if key in self._cache:
            self._cache.move_to_end(key)
            text, children = self._cache[key]
        else:
            text, children = self._render(title)
            self._cache[key] = (text, children)
            while len(self._cache) > CACHED_VIEWS:
                _, (_, old) = self._cache.popitem(last=False)
                shown = {id(c) for _, b in self.views.values() for c in b.children}
                for widget in old:  # free it in the kernel and the page
                    if id(widget) not in shown:
                        widget.close()
            self.draws += 1
        caption.value = f"<div class='sjr-hint'>{text}</div>"
        body.children = children
        self._stale.discard(title)

    def _render(self, title: str) -> tuple[str, list[w.Widget]]:
        draw: Callable[[], tuple[str, list[w.Widget]]] = {
            "Care scores": self._care_scores,
            "Problems in care": self._problems,
            "Avoidability": self._avoidability,
            "SPC charts": self._spc,
            "Learning from Deaths": self._lfd,
            "Reviews": self._table,
        }[title]
        return draw()

    @property
    def _stage(self) -> str:
        return self.filters["stage"].value

    def _care_scores(self) -> tuple[str, list[w.Widget]]:
        from sjrlib import plots
        from sjrlib.report import tables
        from sjrlib.stats import descriptive

        distribution = descriptive.care_score_distribution(self.reviews, stage=self._stage)
        safe = tables.protect_distribution(distribution, self.rule, group="phase")
        chart = _figure(plots.care_scores_by_phase(safe), "c-care-scores")
        too_few = self._too_few("care scores")
        if too_few is not None:
            return ("Care scores by phase of care (one review per case).", [chart, too_few])
        from sjrlib.plots import MIN_CASES

        poor = poor_care_by_phase(distribution)
        few = [phase for phase, frame in poor.items() if 0 < int(frame["n"].iloc[0]) < MIN_CASES]
        for phase in few:  # as the chart: "Scored in fewer than 8 reviews: not shown"
            poor[phase] = poor[phase].assign(proportion=np.nan, ci_lower=np.nan,
                                             ci_upper=np.nan)
        table = _at_stage(tables.care_score_table(distribution, poor, self.rule,
                                                  **self._clustered_intervals()), self._stage)
        said = (f" The % poor or very poor care of a phase scored in fewer than {MIN_CASES} "
                f"reviews is not shown (–): {', '.join(domain.label('phase', p) for p in few)}."
                if few else "")
        return ("Care scores by phase of care (one review per case)." + said,
                [chart, _html(table)])

    def _clustered_intervals(self) -> dict[str, Any]:
        """The national report's intervals for a pooled view of several organisations'
        first-stage reviews (the programme team's "All organisations"): Wilson's interval on
        the effective number of reviews, allowing for their clustering by organisation, with
        the design effect beside it. Before, the dashboard gave plain Wilson intervals there
        (19.5-20.2% poor care at admission in 2025-26 on the demo store) beside the national
        report's 18.6-21.3% (design effect 12.7) for the same counts. ``{}`` (Wilson) for one
        organisation or for second-stage reviews, as the trust reports have them."""
        if (not self.national or self._stage != "first"
                or self.reviews["organisation_code"].nunique() < 2):
            return {}
        from sjrlib.report.national import clustered_interval
        from sjrlib.stats import clustered

        reviews = self.reviews

        def interval(phase: str, count: object, base: object, n_exact: int):
            part = clustered.poor_care_outcomes(reviews, phase=phase)
            fit = clustered.clustered_proportion(part["poor"], part["organisation_code"])
            return clustered_interval(count, base, n_exact, fit, 0.05)

        return {"clustered": interval,
                "clustered_note": clustered.METHOD_NOTE + " None on fewer than 8 reviews."}

    def _too_few(self, what: str) -> w.HTML | None:
        """A notice instead of a table when the filters match fewer than
        :data:`sjrlib.plots.MIN_CASES` deaths (cases) at the stage, as the charts say of
        themselves; ``None`` when there are enough. (The held-out audit of 2026-12-06: on one
        death the tables printed "100.0%" poor care per phase beside a chart saying "Fewer than
        8 reviews: chart not shown".)"""
        from sjrlib.plots import MIN_CASES

        n = self._codes.cases(self._rows, self._stage)
        if n >= MIN_CASES:
            return None
        box = w.HTML(
            f"<p class='sjr-too-few'><b>Fewer than {MIN_CASES} deaths match the filters "
            f"({n}): the table of {html.escape(what)} is not shown</b>, as counts and "
            "percentages of so few cases cannot be read as a pattern. Widen the filters; the "
            "reviews themselves are listed in the <i>Reviews</i> tab.</p>")
        box.add_class("t-too-few")
        return box

    def _problems(self) -> tuple[str, list[w.Widget]]:
        from sjrlib import plots
        from sjrlib.report import tables
        from sjrlib.stats import descriptive

        frequency = descriptive.problem_frequency(self.reviews, stage=self._stage)
        chart = plots.problem_types(tables.protect_problem_frequency(frequency, self.rule))
        too_few = self._too_few("problems in care")
        return ("Problems in care by type, and whether each led to harm.",
                [_figure(chart, "c-problems"),
                 too_few if too_few is not None
                 else _html(_at_stage(tables.problems_table(frequency, self.rule),
                                      self._stage))])

    def _avoidability(self) -> tuple[str, list[w.Widget]]:
        from sjrlib import plots
        from sjrlib.report import tables
        from sjrlib.stats import descriptive

        table = descriptive.avoidability_distribution(self.reviews)
        safe = tables.protect_distribution(table, self.rule, group=None, total="n_scored",
                                           also=("n_cases",))
        return ("Avoidability of death per case (RCP scale: 1 = definitely avoidable; the "
                "second-stage judgement where there is one).",
                [_figure(plots.avoidability(safe), "c-avoidability")])

    def _spc(self) -> tuple[str, list[w.Widget]]:
        from sjrlib import plots, spc
        from sjrlib.stats import descriptive

        out: list[w.Widget] = []
        # Monthly points on fewer than MIN_CASES reviews are not drawn: when too few months
        # have enough reviews (a narrow filter), quarters make a chart that can be read.
        for period, least in (("month", 12), ("quarter", 6)):
            poor = descriptive.poor_care(self.reviews, by=period, stage=self._stage)
            poor = poor[poor["n"] > 0]
            poor = poor.set_index(poor[period].astype(str))
            if int((poor["n"] >= plots.MIN_CASES).sum()) >= least:
                break
        else:
            poor = poor.iloc[:0]
        if len(poor):
            frame = spc.p_chart(poor["poor"].astype(int), poor["n"].astype(int),
                                improvement="decrease")
            out.append(_figure(plots.spc_chart(
                frame, title="Reviews finding poor or very poor overall care, by "
                             f"{period} of death", y_label="% of reviews"), "c-spc-poor-care"))
        else:
            out.append(w.HTML("<p>Too few reviews per month or quarter for a chart of poor "
                              "care: widen the filters.</p>"))
        reviewed = self._lfd_months()
        if reviewed is not None:
            out.append(_figure(plots.spc_chart(
                reviewed, title="Deaths reviewed, by month of death",
                y_label="% of deaths in scope"), "c-spc-reviewed"))
        elif self._case_filters():
            out.append(w.HTML("<p class='sjr-hint'>The chart of deaths reviewed needs all "
                              "deaths as denominator: clear the specialty, admission and "
                              "reason filters to see it.</p>"))
        return ("Statistical process control (Making Data Count): icons say whether the "
                "latest points show special cause variation.", out)

    def _lfd_months(self):
        from sjrlib import spc
        from sjrlib.stats.lfd import learning_from_deaths

        if self._case_filters() or not len(self.deaths):
            return None
        lfd = learning_from_deaths(self.reviews, self.deaths, period="month",
                                   by_organisation=False, as_of=self.period[1])
        deaths = lfd["deaths_in_scope"].astype("Float64").fillna(0)
        ok = (deaths > 0) & (lfd["reviewed"] <= deaths)
        lfd = lfd[ok.fillna(False).astype(bool)]
        if len(lfd) < 2:
            return None
        index = lfd["period"].astype(str)
        return spc.p_chart(pd.Series(lfd["reviewed"].to_numpy(float), index=index),
                           pd.Series(lfd["deaths_in_scope"].to_numpy(float), index=index),
                           improvement="increase")

    def _case_filters(self) -> list[str]:
        sel = self.selection()
        return [k for k in ("specialty", "admission_type", "review_reason") if sel[k]]

    def _lfd(self) -> tuple[str, list[w.Widget]]:
        from sjrlib import plots
        from sjrlib.report import tables
        from sjrlib.report.trust import _zero_quarters
        from sjrlib.stats._reviews import financial_quarter, quarter_first_month
        from sjrlib.stats.lfd import learning_from_deaths

        if self._case_filters():
            return ("Learning from Deaths figures need all deaths in scope as denominator: "
                    "clear the specialty, admission and reason filters to see them.", [])
        # Whole financial quarters, as published: a quarter counted from the filters' months
        # only (e.g. Mar 2026 alone) printed part of Q4 as the quarter and told the lead that
        # January and February were missing from the deaths feed, asking them to send months
        # the feed had (the held-out audit of 2026-12-06).
        start, end = self.period
        first = quarter_first_month(financial_quarter(start))
        last = (pd.Period(quarter_first_month(financial_quarter(end)), freq="M") + 2
                ).strftime("%Y-%m")
        latest = self.filters["end_month"].options[-1][1]
        as_of = min(last, max(end, latest))
        sel = self.selection()
        reviews = self.all_reviews.take(self._codes.rows(first, last, sel)).reset_index(
            drop=True)
        deaths = self._deaths_between(first, last, sel["organisation_code"])
        quarterly = learning_from_deaths(reviews, deaths, period="quarter",
                                         by_organisation=False, as_of=as_of)
        months = pd.period_range(start, end, freq="M").strftime("%Y-%m")
        labels = sorted({financial_quarter(m) for m in months})
        figures = quarterly[quarterly["period"].astype(str).isin(labels)].reset_index(drop=True)
        if not len(figures):
            return ("No deaths or reviews in the period.", [])
        # Every quarter of the period, as the reports print them: a quarter with neither a
        # month of the feed nor a review was left out without a word (deaths "not known" and
        # named among the feed's gaps now, as in the trust report).
        figures = _zero_quarters(figures, labels)
        whole = ("" if (first, min(last, as_of)) == (start, end) else
                 f" Whole quarters, {_month_words(first)} to {_month_words(min(last, as_of))}: "
                 f"they include months outside the filters' period ({_month_words(start)} to "
                 f"{_month_words(end)}).")
        total = "Period total"
        _, protected = tables.protect_lfd(figures, self.rule, total_label=total)
        trend = plots.lfd_trend(quarterly)
        mark = self._provisional(figures, reviews, first, last, sel["organisation_code"])
        return ("Learning from Deaths figures by financial quarter (as published to the "
                "board)." + whole,
                [_html(mark(tables.lfd_quarterly_table(protected, self.rule, total_label=total))),
                 _html(mark(tables.lfd_avoidability_table(protected, self.rule,
                                                          total_label=total))),
                 _html(mark(tables.lfd_ld_table(protected, self.rule, total_label=total))),
                 _figure(trend, "c-lfd-trend")])

    def _provisional(self, figures: pd.DataFrame, reviews: pd.DataFrame, first: str,
                     last: str, organisation: str | None) -> Callable[[Any], Any]:
        """What marks a quarterly table's provisional quarters "(provisional)" with the note
        the trust report gives, by the reports' rule (:func:`sjrlib.report.completeness.
        provisional_quarters`: fewer than 3 full months since the quarter ended, or more than
        5% of its reviewed deaths with only a draft), as at the moment the data were read.
        ``figures`` are the tab's quarterly figures (their ``reviewed``: deaths with a
        submitted review), ``reviews`` the window's submitted reviews."""
        from sjrlib.report import completeness, tables
        from sjrlib.stats._reviews import financial_quarter

        months = pd.period_range(first, last, freq="M").strftime("%Y-%m")
        rows = self.draft_rows
        keep = rows["death_month"].isin(months)
        if organisation:
            keep &= rows["organisation_code"] == organisation
        # deaths with only a draft: against the window's submitted reviews (a case's reviews
        # share its month of death), not all of them (0.4 s nationally)
        drafts = completeness.draft_cases(rows[keep.fillna(False).astype(bool)], reviews)
        per_quarter = (drafts.groupby(drafts["death_month"].map(financial_quarter))
                       ["drafts_outstanding"].sum())
        read_at = completeness.as_at_date(dt.datetime.fromtimestamp(self.read_at, dt.UTC))
        status = completeness.provisional_quarters(
            completeness.quarter_months(months), read_at,
            reviewed=dict(zip(figures["period"].astype(str), figures["reviewed"], strict=True)),
            drafts={str(q): int(n) for q, n in per_quarter.items()})
        provisional = [q for q, s in status.items() if s.provisional]
        return lambda table: tables.mark_provisional(table, provisional)

    def _table(self) -> tuple[str, list[w.Widget]]:
        rows = self._codes.newest_first(self._rows, self._stage)
        columns = ["review_id", "case_id", "death_month", "status", "specialty",
                   "admission_type", "score_overall", "avoidability_score", "any_problems"]
        if self.national:
            columns.insert(2, "organisation_code")
        if self.free_text:
            columns.append("comment_overall")
        shown = self.all_reviews[columns].take(rows[:TABLE_ROWS])
        heads = {"review_id": "Review", "case_id": "Case", "organisation_code": "Organisation",
                 "death_month": "Month of death", "status": "Status",
                 "specialty": "Specialty", "admission_type": "Admission",
                 "score_overall": "Overall care", "avoidability_score": "Avoidability",
                 "any_problems": "Problems", "comment_overall": "Overall judgement"}
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_cell(c, v))}</td>" for c, v in r.items())
            + "</tr>" for r in shown.to_dict("records"))
        table = ("<table class='sjr-table'><thead><tr>"
                 + "".join(f"<th>{heads[c]}</th>" for c in columns)
                 + f"</tr></thead><tbody>{body}</tbody></table>")
        n = len(rows)
        what = (f"The {min(n, TABLE_ROWS)} most recent of the matching reviews"
                if n > TABLE_ROWS else "The matching reviews")
        if not self.free_text:
            what += " (structured fields only: explicit judgement text is not shown to your role)"
        box = w.HTML(table)
        box.add_class("t-reviews")
        return (what + ".", [box])


# ------------------------------------------------------------------------------- helpers
def poor_care_by_phase(distribution: pd.DataFrame, alpha: float = 0.05
                       ) -> dict[str, pd.DataFrame]:
    """``{phase: descriptive.poor_care(reviews, phase=phase, ...)}`` read off
    ``distribution = descriptive.care_score_distribution(reviews, ...)`` (no grouping): the
    same reviews (one per case at the stage), so the same numbers (tested), without counting
    the reviews six more times (two thirds of the care-score tab's time on all
    organisations)."""
    from sjrlib.stats.descriptive import wilson_interval

    out = {}
    for phase in domain.PHASES:
        part = distribution[distribution["phase"] == phase]
        n = int(part["n_applicable"].iloc[0]) if len(part) else 0
        poor = int(part.loc[part["score"].isin(list(domain.POOR_CARE)), "count"].sum())
        lower, upper = wilson_interval(np.array([poor]), np.array([n]), alpha)
        out[phase] = pd.DataFrame({
            "n": np.array([n], dtype=np.int64), "poor": np.array([poor], dtype=np.int64),
            "proportion": np.array([poor / n if n > 0 else np.nan]),
            "ci_lower": lower, "ci_upper": upper})
    return out


class _Codes:
    """One column as integer codes into its distinct values (missing = -1), so that a filter
    tests each distinct value once and selects rows with one numpy take."""

    def __init__(self, column: pd.Series) -> None:
        codes, values = pd.factorize(column)
        self.codes = codes
        self.values: list[Any] = list(values)

    def where(self, test: Callable[[Any], bool]) -> np.ndarray:
        """Rows whose value passes ``test`` (a missing value never does)."""
        hits = np.zeros(len(self.values) + 1, dtype=bool)  # the last one: code -1, missing
        hits[:-1] = [bool(test(v)) for v in self.values]
        return hits[self.codes]

    def equals(self, value: Any) -> np.ndarray:
        return self.where(lambda v: v == value)


class _ReviewCodes:
    """The review frame's filter columns coded once (:class:`_Codes`), and what the views need
    beyond the filtered frame: the number of cases and the newest reviews first."""

    def __init__(self, reviews: pd.DataFrame) -> None:
        self.n = len(reviews)
        self.columns = {c: _Codes(reviews[c]) for c in (
            "death_month", "organisation_code", "specialty", "admission_type",
            "review_reasons", "review_stage")}
        org = pd.factorize(reviews["organisation_code"], use_na_sentinel=False)[0]
        case_id = pd.factorize(reviews["case_id"], use_na_sentinel=False)[0]
        # a case is (organisation_code, case_id), missing values included as drop_duplicates has it
        self.case, _ = pd.factorize(org.astype(np.int64) * (int(case_id.max(initial=0)) + 1)
                                    + case_id)
        self.n_cases = int(self.case.max(initial=-1)) + 1
        month = self.columns["death_month"]
        rank = np.zeros(len(month.values) + 1, dtype=np.int64)
        order = sorted(range(len(month.values)), key=lambda i: month.values[i])
        rank[order] = np.arange(len(order))
        self.month_rank = rank[month.codes]
        ids = pa.array(reviews["review_id"])
        if isinstance(ids, pa.ChunkedArray):
            ids = ids.combine_chunks()
        self.id_rank = pc.rank(ids, sort_keys="ascending", tiebreaker="first").to_numpy(
            zero_copy_only=False).astype(np.int64)
        self._stage: dict[str, np.ndarray] = {}

    def rows(self, start: str, end: str, sel: dict[str, Any]) -> np.ndarray:
        """Positions (ascending) of the rows with a month of death in ``start..end`` and the
        selected organisation, specialty, admission type and review reason."""
        keep = self.columns["death_month"].where(lambda m: start <= m <= end)
        for column in ("organisation_code", "specialty", "admission_type"):
            if sel[column]:
                keep &= self.columns[column].equals(sel[column])
        if sel["review_reason"]:
            wanted = sel["review_reason"]
            keep &= self.columns["review_reasons"].where(
                lambda ids: wanted in ids.split(domain.REASON_SEPARATOR))
        return np.flatnonzero(keep)

    def stage(self, stage: str) -> np.ndarray:
        if stage not in self._stage:
            self._stage[stage] = self.columns["review_stage"].equals(stage)
        return self._stage[stage]

    def cases(self, rows: np.ndarray, stage: str) -> int:
        """The number of cases (organisation, case id) with a review at ``stage`` in ``rows``."""
        seen = np.zeros(self.n_cases, dtype=bool)
        seen[self.case[rows[self.stage(stage)[rows]]]] = True
        return int(seen.sum())

    def newest_first(self, rows: np.ndarray, stage: str) -> np.ndarray:
        """``rows`` at ``stage`` by month of death, newest first, then by review id."""
        rows = rows[self.stage(stage)[rows]]
        return rows[np.lexsort((self.id_rank[rows], -self.month_rank[rows]))]


def _figure(fig, css_class: str) -> w.Image:
    """A matplotlib figure as a PNG image widget (cheaper to send than a live figure)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, pil_kwargs=PNG_OPTIONS)
    image = w.Image(value=buffer.getvalue(), format="png",
                    layout=w.Layout(max_width="100%", height="auto"))
    image.add_class(css_class)
    image.add_class("sjr-figure")
    return image


def _html(table) -> w.HTML:
    return w.HTML(table._repr_html_())


def _at_stage(table, stage: str):
    """A report table (written of first-stage reviews, as the reports count) with its caption
    and note saying the stage the dashboard's Stage filter shows: under "Second-stage
    reviews" the care-score table was captioned "(first-stage reviews, one per death)"."""
    if stage == "first":
        return table
    words = domain.label("review_stage", stage).lower() + "s"  # "second-stage reviews"
    return dataclasses.replace(table,
                               caption=table.caption.replace("first-stage reviews", words),
                               note=table.note.replace("first-stage reviews", words))


_CELL_LABELS = {"status": "status", "admission_type": "admission_type",
                "specialty": "specialty", "any_problems": "yes_no"}
"""Columns of the reviews table shown by their label, and the vocabulary that labels them (the
walk-through audit of 2026-12-06 read ``care_of_the_elderly`` in the table)."""


def _cell(column: str, value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    if column == "score_overall":
        return f"{int(value)} {domain.label('care_score', int(value))}"
    if column == "avoidability_score":
        return f"{int(value)} {domain.label('avoidability_score', int(value))}"
    if column in _CELL_LABELS:
        try:
            return domain.label(_CELL_LABELS[column], value)
        except KeyError:  # a code outside the list (an old import): shown as stored
            return str(value)
    return str(value)


def _count_words(n: int, rule) -> str:
    from sjrlib.disclosure import protect_count

    shown = protect_count(n, rule)
    if isinstance(shown, str):
        return f"Fewer than {rule.threshold + 1}"
    return f"{shown:,}" + (" (rounded)" if rule.active and shown != 0 else "")


def _month_words(month: str) -> str:
    return pd.Period(month, freq="M").strftime("%b %Y")


def _slug(title: str) -> str:
    return title.lower().replace(" ", "-")


def warm_up() -> None:
    """Import what the views draw with (matplotlib, the statistics, the tables) and draw one
    small chart, so that a kernel pre-heated in advance has done it before the page is
    asked for; it reads no data."""
    from matplotlib.figure import Figure

    from sjrlib import plots, spc  # noqa: F401  (imported for their cost, not used here)
    from sjrlib.report import params, tables  # noqa: F401
    from sjrlib.stats import descriptive, lfd  # noqa: F401

    figure = Figure(figsize=(2, 1))
    figure.add_subplot().set_title("warm")
    figure.savefig(io.BytesIO(), format="png", dpi=80, pil_kwargs=PNG_OPTIONS)


def explore(user: str | None = None, db: str | None = None) -> w.Widget:
    """The exploration app for the notebook: opens the governed session for the signed-in user
    and returns the dashboard, or a clear message for roles it is not for.

    In a kernel pre-heated by Voila (``sjr serve``), the imports are done in advance
    (:func:`warm_up`) and the session is opened and the data read only when the page is asked
    for (:func:`~sjrlib.dashboards.serve.wait_for_page`): the data are current, and the audit
    log records a read when someone opened the page, not when a kernel was got ready."""
    from data_access import AccessDenied, open_session
    from sjrlib.dashboards.serve import preheating, wait_for_page

    if preheating():
        warm_up()
        wait_for_page()
    try:
        session = open_session(user=user, db=db, tool="voila:explore")
    except AccessDenied as exc:
        return ui.section("Exploration unavailable", w.HTML(html.escape(str(exc))))
    if session.role not in EXPLORE_ROLES:
        return ui.section("Exploration unavailable", w.HTML(
            "Exploration is for organisation leads and the programme team; "
            f"{html.escape(str(session.user))} is signed in as "
            f"{html.escape(str(session.role).replace('_', ' '))}."))
    explorer = Explorer(session)
    explorer.freeze(collect=False)  # this kernel serves this one page
    notice = ui.demo_sign_in(session)
    return explorer.widget if notice is None else w.VBox([notice, explorer.widget])
