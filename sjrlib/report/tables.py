"""Report-ready tables: ``sjrlib.stats`` outputs, labelled, protected by disclosure control.

Every function here takes the tidy frames the statistics return and a
:class:`~sjrlib.disclosure.DisclosureRule` (``DisclosureRule.off()`` at national level) and
returns a :class:`ReportTable`: a small frame of display values (rounded counts, ``*``,
percentages) with a caption and a note, which renders as clean HTML in a notebook and goes to
Excel unchanged. Nothing here reads data or computes a statistic that ``sjrlib.stats`` already
computes; margins (a year total from its quarters) are sums of the shown parts.

A count that appears in two tables must be protected once and shown the same way in both: the
Learning from Deaths figures are therefore protected as one frame (:func:`protect_lfd`) from
which the quarterly, avoidability and learning-disability tables are all cut.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from sjrlib import domain
from sjrlib.disclosure import (
    FROM_SHOWN,
    PERCENT_PINNED,
    DisclosureRule,
    PrintedElsewhere,
    charted_share,
    count_range,
    percent_not_shown,
    protect_count,
    protect_counts,
    published_rate,
    published_share,
    suppression_mask,
)
from sjrlib.stats.descriptive import MIN_CASES_FOR_INTERVAL

__all__ = [
    "DIFFERENCING_NOTE",
    "LFD_COUNTS",
    "ReportTable",
    "ScoreBars",
    "care_score_table",
    "lfd_avoidability_table",
    "lfd_ld_table",
    "lfd_quarterly_table",
    "noting_differencing",
    "plain_label",
    "poor_care_by_group_table",
    "problems_table",
    "protect_distribution",
    "protect_problem_frequency",
    "protect_lfd",
    "published_share",
    "quarter_label",
    "PROVISIONAL_NOTE",
    "mark_provisional",
    "provisional_labels",
    "shown_sum",
]

NOT_AVAILABLE = "–"
"""Shown where there is nothing to show (no data, not applicable)."""
NOT_KNOWN = "not known"
"""Shown for deaths (and the percentage reviewed) when the deaths feed lacks a month."""
EXCEEDS = "check: more reviewed than deaths"
"""Shown instead of a percentage above 100% of deaths reviewed (a feed or coding error)."""

LFD_COUNTS: tuple[str, ...] = (
    "deaths_in_scope",
    "reviewed",
    "more_likely_than_not",
    "ld_deaths",
    "ld_reviewed",
    "ld_more_likely_than_not",
    *(f"avoidability_{s}" for s in domain.AVOIDABILITY_SCORES),
    "avoidability_not_scored",
)
_AVOIDABILITY_PARTS = [
    *(f"avoidability_{s}" for s in domain.AVOIDABILITY_SCORES), "avoidability_not_scored"
]


@dataclass
class ReportTable:
    """A table as a report shows it.

    Attributes
    ----------
    frame
        Rows labelled by the index (text), one column per header; cells are ``int`` counts,
        ``float`` values formatted per ``formats``, text (``*``, labels) or ``None`` (shown as
        a dash).
    caption
        The table's title.
    note
        A sentence under the table (definitions, disclosure control).
    formats
        ``{column: "count" | "percent" | "decimal" | "text"}``; unlisted columns are counts.
    total_rows
        Row labels shown as totals (bold, ruled).
    """

    frame: pd.DataFrame
    caption: str
    note: str = ""
    formats: Mapping[str, str] = field(default_factory=dict)
    total_rows: Sequence[str] = ()
    index_name: str = ""

    def cell_text(self, column: str, value: object) -> str:
        """How one cell is written in the report."""
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            return NOT_AVAILABLE
        if isinstance(value, str):
            return value
        kind = self.formats.get(column, "count")
        if kind == "percent":
            return f"{float(value):.1f}%"
        if kind == "decimal":
            return f"{float(value):.2f}"
        if isinstance(value, (int, np.integer)):
            return f"{int(value):,}"
        return f"{float(value):,.1f}"

    def text_frame(self) -> pd.DataFrame:
        """The table as the strings the report prints."""
        out = pd.DataFrame(index=self.frame.index)
        for column in self.frame.columns:
            out[column] = [self.cell_text(column, v) for v in self.frame[column]]
        return out

    def _repr_html_(self) -> str:
        text = self.text_frame()
        head = "".join(f'<th class="text">{html.escape(str(c))}</th>'
                       if self.formats.get(c) == "text" else f"<th>{html.escape(str(c))}</th>"
                       for c in text.columns)
        rows = []
        for label, values in zip(text.index, text.itertuples(index=False), strict=True):
            css = ' class="total"' if label in self.total_rows else ""
            cells = "".join(
                f'<td class="text">{html.escape(v)}</td>'
                if self.formats.get(column) == "text" else f"<td>{html.escape(v)}</td>"
                for column, v in zip(text.columns, values, strict=True))
            rows.append(f'<tr{css}><th scope="row">{html.escape(str(label))}</th>{cells}</tr>')
        note = f'<p class="sjr-note">{html.escape(self.note)}</p>' if self.note else ""
        return (
            f'<table class="sjr-table"><caption>{html.escape(self.caption)}</caption>'
            f"<thead><tr><th>{html.escape(self.index_name)}</th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>{note}"
        )

    def __repr__(self) -> str:  # plain-text fallback (e.g. a terminal)
        return f"{self.caption}\n{self.text_frame().to_string()}"


DIFFERENCING_NOTE = (
    "A * here may also stand for a larger count: one withheld because, set against every "
    "organisation's own report of the same figure, it would narrow the counts those reports "
    "suppress (and a second count withheld with it, so that the total does not give it back).")
"""Said under a pooled table (the national report's) that withholds a cell for differencing
(:func:`sjrlib.disclosure.differencing_risk`)."""


def shown_sum(cells: Sequence[object], rule: DisclosureRule) -> object:
    """The sum of published cells as a reader can add them up: the symbol when any is withheld
    (or not printed). A percentage of scores 1 and 2 taken from this tells nothing the cells
    do not; from their exact sum rounded it did (15 and 30 shown with 10.0% of 400 said 41-42;
    with both hidden, 6 + 7 rounded to 15 said each was 6-7)."""
    if rule.symbol in cells or any(c is None for c in cells):
        return rule.symbol
    return sum(int(c) for c in cells)  # type: ignore[call-overload]


def withheld_beyond_rule(shown: pd.DataFrame, plain: pd.DataFrame,
                         rule: DisclosureRule) -> pd.DataFrame:
    """The cells ``shown`` withholds that the rule alone (``plain``: the same counts protected
    without ``withheld`` or ``pooled``) prints: withheld because, set against every
    organisation's own report, they would narrow it, or withheld with such a one."""
    return (shown == rule.symbol) & (plain != rule.symbol)


def protect_pooled(raw: pd.DataFrame, rule: DisclosureRule, *,
                   withheld: pd.DataFrame | None = None,
                   pooled: list[pd.DataFrame] | None = None,
                   **margins: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``raw``'s counts as a pooled table publishes them (:func:`sjrlib.disclosure.
    protect_counts` with its ``margins``, ``withheld`` and ``pooled``), and the cells withheld
    beyond the rule (:func:`withheld_beyond_rule`: against the same counts under the rule and
    margins alone), which :func:`noting_differencing` explains."""
    shown = protect_counts(raw.astype(object), rule, withheld=withheld, pooled=pooled,
                           **margins)
    return shown, withheld_beyond_rule(shown, protect_counts(raw.astype(object), rule,
                                                             **margins), rule)


def noting_differencing(table: ReportTable, withheld: pd.DataFrame | None) -> ReportTable:
    """``table`` with :data:`DIFFERENCING_NOTE` added to its note when ``withheld`` has any
    cell withheld for differencing."""
    if withheld is not None and withheld.to_numpy().any():
        table.note = f"{table.note} {DIFFERENCING_NOTE}"
    return table


def _published(count: object, base: object, rule: DisclosureRule, *, exact: float | None,
               interval: tuple[float, float] | None = None, alpha: float | None = None):
    """A percentage (and interval text) as the table prints it.

    ``count`` and ``base`` are the values the page prints (rounded, or the symbol); the
    figures are computed from them (:func:`sjrlib.disclosure.published_rate`), or are
    ``exact`` and ``interval`` when the rule changes nothing."""
    if exact is None or (isinstance(exact, float) and math.isnan(exact)):
        return None, None
    return published_rate(count, base, rule, exact=exact, exact_interval=interval, alpha=alpha)


def quarter_label(label: str) -> str:
    """``"2024/25 Q1"`` -> ``"Q1 Apr–Jun 2024"`` (financial quarters)."""
    try:
        fy, q = label.split(" Q")
        first = int(fy[:4])
        quarter = int(q)
    except (ValueError, AttributeError):
        return str(label)
    names = {1: ("Apr–Jun", first), 2: ("Jul–Sep", first), 3: ("Oct–Dec", first),
             4: ("Jan–Mar", first + 1)}
    months, year = names[quarter]
    # no-break spaces and word joiners round the dash: one line in a table
    joined = months.replace("–", "\u2060–\u2060")
    return f"Q{quarter}\u00a0{joined}\u00a0{year}"


PROVISIONAL_NOTE = ("Quarters marked provisional are still filling: late reviews will change "
                    "their figures.")
"""What a table (or the workbook) says of the quarters it marks "(provisional)"."""


def provisional_labels(quarters: Iterable[str]) -> dict[str, str]:
    """Each of ``quarters`` (``"2024/25 Q1"``) as a table labels it, and the same marked
    "(provisional)"."""
    return {quarter_label(q): f"{quarter_label(q)} (provisional)" for q in quarters}


def mark_provisional(table: ReportTable, quarters: Iterable[str]) -> ReportTable:
    """A quarterly table with ``quarters`` labelled "(provisional)" and :data:`PROVISIONAL_NOTE`
    added to its note (the table unchanged when there are none)."""
    marked = provisional_labels(quarters)
    if not marked:
        return table
    return replace(table, frame=table.frame.rename(index=marked),
                   note=(table.note + " " + PROVISIONAL_NOTE).strip())


def plain_label(label: str) -> str:
    """A label made for an HTML table (:func:`quarter_label`, ``"2025-26\u00a0total"``) as plain
    text: ordinary spaces, no word joiners. For prose, and for every cell a person filters,
    searches or types into (a workbook): ``"Q1 Apr–Jun 2025"`` typed in Excel finds no cell
    holding no-break spaces."""
    return label.replace("\u00a0", " ").replace("\u2060", "")


# ------------------------------------------------------------------ Learning from Deaths ----
_MLTN_PARTS = [f"avoidability_{s}" for s in domain.MORE_LIKELY_THAN_NOT]


def _mltn_narrows(protected: pd.DataFrame, rule: DisclosureRule) -> list[Hashable]:
    """Rows whose printed "more likely than not" count, less their printed avoidability
    scores 1-3 (which add up to it), narrows a ``*`` among those scores inside 1 to the
    threshold. An audit of the demo's reports (2026-12-06) found XT9's year: more likely than
    not 15 (13-17), score 3 15 (13-17), score 1 0, so its score 2 ``*`` was 3 or 4; the
    relation was not one the table's secondary suppression knew."""
    rows = []
    for label in protected.index:
        shown = protected.at[label, "more_likely_than_not"]
        cells = [protected.at[label, c] for c in _MLTN_PARTS]
        hidden = sum(1 for c in cells if c == rule.symbol)
        if shown in (rule.symbol, None) or not hidden or any(c is None for c in cells):
            continue
        low, high = count_range(shown, rule)
        visible = [count_range(c, rule) for c in cells if c != rule.symbol]
        most = high - sum(lo for lo, _hi in visible)
        least = low - sum(hi for _lo, hi in visible)
        # a hidden score is at most what the others (at least 1 each) leave of the most; a lone
        # hidden score is also at least what the visible ones leave of the least (with two,
        # the other may be a large count withheld beside it)
        if most - (hidden - 1) < rule.threshold or (hidden == 1 and least > 1):
            rows.append(label)
    return rows


def among_narrows(whole: object, parts: Sequence[object], rule: DisclosureRule) -> bool:
    """Whether printed ``parts`` of a printed ``whole`` (disjoint parts of it, with a rest not
    printed: ``whole >= sum(parts)``) narrow one another: a ``*`` part left below the
    threshold by the whole's most less the other parts' least, or a rounded count pinned. The
    trust report's themes among poor-care and among good-care reviews are such parts of its
    themes among all coded reviews: an audit of the demo's reports (2026-12-06) found a theme
    coded in 10 reviews (8-12), in 10 of the poor-care ones (8-12) and in ``*`` good-care
    ones, which left the ``*`` at 1-4 (seven organisations)."""
    if whole is None or any(c is None for c in parts):
        return False
    low, high = count_range(whole, rule)
    ranges = [count_range(c, rule) for c in parts]
    least = sum(lo for lo, _hi in ranges)
    if high is not None and whole != rule.symbol and least >= high > low:
        return True  # the whole pinned at its most
    if high is None:
        return False
    for (lo, hi), shown in zip(ranges, parts, strict=True):
        most = high - (least - lo)
        if shown == rule.symbol and most < rule.threshold:
            return True
        if shown != rule.symbol and hi is not None and lo < hi and most <= lo:
            return True
    return False


def withhold_among(whole: object, parts: list[object], exact: Sequence[int],
                   rule: DisclosureRule) -> list[bool]:
    """Which ``parts`` to withhold so that they and ``whole`` (all as printed) do not narrow
    one another (:func:`among_narrows`): the largest printed part first (by its ``exact``
    count), one at a time. A part's ``*`` has no upper limit (it may be withheld beside a
    larger count), so withholding parts always ends it."""
    shown = list(parts)
    out = [False] * len(parts)
    while among_narrows(whole, shown, rule):
        printed = [(exact[i], i) for i, c in enumerate(shown) if c not in (rule.symbol, 0, None)]
        if not printed:
            break
        i = max(printed)[1]
        shown[i], out[i] = rule.symbol, True
    return out


def protect_lfd(
    quarters: pd.DataFrame, rule: DisclosureRule, *, total_label: str,
    known: Mapping[tuple[str, str], Sequence[tuple[int, int | None]]] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Protect the Learning from Deaths figures of one organisation (or the nation) at once.

    Parameters
    ----------
    quarters
        Rows of ``sjrlib.stats.lfd.learning_from_deaths(..., period="quarter")`` for one
        organisation (or ``by_organisation=False``), one per quarter, in order, covering the
        report period (missing quarters filled with zeros / <NA> deaths by the caller).
    rule
        Disclosure rule.
    total_label
        Label of the total row (e.g. ``"2024-25"``).
    known
        Cells (quarter label, count column) that a chart of the same report breaks down into
        months, as the ranges the chart prints (:func:`sjrlib.disclosure.suppression_mask`).

    Returns
    -------
    (raw, protected)
        ``raw``: the counts with a total row (sum of the quarters); ``protected``: the same
        frame after disclosure control, plus ``percent_reviewed`` and ``ld_percent_reviewed``
        (withheld when their base is small or the reviewed count is withheld).

    Notes
    -----
    Relations protected together: each count column sums over the quarters to the total row;
    avoidability 1-6 and "not scored" sum to ``reviewed`` in each row.
    """
    labels = quarters["period"].map(quarter_label)
    raw = quarters.set_index(labels)[list(LFD_COUNTS)].copy()
    raw.index.name = None
    gaps = _feed_gaps(quarters, labels)
    exceeds = _flags(quarters, labels)
    total = {c: _sum_or_na(raw[c], whole=c in ("deaths_in_scope", "ld_deaths"))
             for c in LFD_COUNTS}
    raw.loc[total_label] = pd.Series(total)
    raw = raw.astype(object)
    options = {"columns": list(LFD_COUNTS), "total_row": total_label,
               "total_column": "reviewed", "parts": _AVOIDABILITY_PARTS, "known": known,
               "row_sums": [(_MLTN_PARTS, "more_likely_than_not")],
               "at_most": _lfd_among(raw, exceeds)}
    protected = protect_counts(raw, rule, **options)
    withheld = pd.DataFrame(False, index=raw.index, columns=list(LFD_COUNTS))
    for _ in range(2 * len(raw)):  # each round withholds one more cell, or ends
        narrowing = _mltn_narrows(protected, rule)
        if not narrowing:
            break
        for label in narrowing:
            # the row's largest printed score 1-3 (the year's more likely than not is the
            # figure a board reads first), or, with none printed, more likely than not itself
            printed = [(raw.at[label, c], c) for c in _MLTN_PARTS
                       if protected.at[label, c] not in (rule.symbol, 0, None)]
            withheld.at[label, max(printed)[1] if printed else "more_likely_than_not"] = True
        protected = protect_counts(raw, rule, withheld=withheld, **options)
    for count, base, percent in (("reviewed", "deaths_in_scope", "percent_reviewed"),
                                 ("ld_reviewed", "ld_deaths", "ld_percent_reviewed")):
        values = []
        for label, r, d in zip(raw.index, raw[count], raw[base], strict=True):
            if base == "deaths_in_scope" and (label in gaps or (label == total_label and gaps)):
                values.append(NOT_KNOWN)
            elif _over(r, d) or (label, count) in exceeds:
                values.append(EXCEEDS)
            else:
                values.append(_published(protected.at[label, count], protected.at[label, base],
                                         rule, exact=_pct(r, d))[0])
        protected[percent] = pd.Series(values, index=protected.index, dtype=object)
    for label in [*gaps, *([total_label] if gaps else [])]:
        for column in ("deaths_in_scope", "ld_deaths"):
            protected.at[label, column] = NOT_KNOWN
    protected.attrs["feed_gaps"] = gaps
    protected.attrs["at_most"] = options["at_most"]
    return raw, protected


def lfd_printed(protected: pd.DataFrame, rule: DisclosureRule, *, total_label: str,
                equal: Mapping | None = None, within: Mapping | None = None
                ) -> PrintedElsewhere:
    """The Learning from Deaths table of :func:`protect_lfd` as another table of the same
    report sees it (:class:`sjrlib.disclosure.PrintedElsewhere`): every count as printed
    (``("lfd", row, column)``; a count printed "not known" is anything), the quarters adding
    up to the year, avoidability to reviewed, scores 1-3 to more likely than not, and in each
    row the counts among another (:data:`_LFD_AMONG`, each the other less an unprinted rest).
    ``equal``, ``within``: the other table's cells printed as, or at most, its cells (by
    their names)."""
    def name(row, column):
        return ("lfd", row, column)

    cells: dict = {}
    for row in protected.index:
        for column in LFD_COUNTS:
            text = protected.at[row, column]
            cells[name(row, column)] = (
                text if text == rule.symbol or isinstance(text, (int, np.integer)) else None)
    sums: list = []
    body = [r for r in protected.index if r != total_label]
    if total_label in protected.index:
        for column in LFD_COUNTS:
            sums.append(([name(r, column) for r in body], name(total_label, column)))
    for row in protected.index:
        sums.append(([name(row, c) for c in _AVOIDABILITY_PARTS], name(row, "reviewed")))
        sums.append(([name(row, c) for c in _MLTN_PARTS], name(row, "more_likely_than_not")))
    for (row, part), (_, whole) in protected.attrs.get("at_most", ()):
        rest = ("lfd rest", row, part, whole)
        cells[rest] = None
        sums.append(([name(row, part), rest], name(row, whole)))
    return PrintedElsewhere(cells=cells, sums=sums, equal=dict(equal or {}),
                            within=dict(within or {}))


_LFD_AMONG = (("reviewed", "deaths_in_scope"), ("ld_reviewed", "ld_deaths"),
              ("ld_deaths", "deaths_in_scope"), ("ld_reviewed", "reviewed"),
              ("ld_more_likely_than_not", "ld_reviewed"),
              ("ld_more_likely_than_not", "more_likely_than_not"))
"""Counts of a Learning from Deaths row that are among another of the same row
(``sjrlib.disclosure_check.LFD_AMONG``, as a reader of the page knows them)."""


def _lfd_among(raw: pd.DataFrame, exceeds: set[tuple[str, str]]) -> list[tuple]:
    """The ``at_most`` cells of :func:`sjrlib.disclosure.suppression_mask` for a Learning from
    Deaths table: in each row, each pair of :data:`_LFD_AMONG` whose counts are both known,
    except reviewed deaths that exceed their deaths (the row says "check: more reviewed than
    deaths" instead of a percentage, so a reader does not take them as among them)."""
    out = []
    for label in raw.index:
        for part, whole in _LFD_AMONG:
            a, b = raw.at[label, part], raw.at[label, whole]
            if a is None or b is None or a is pd.NA or b is pd.NA or (label, part) in exceeds:
                continue
            if int(a) <= int(b):
                out.append(((label, part), (label, whole)))
    return out


def _feed_gaps(quarters: pd.DataFrame, labels: pd.Series) -> dict[str, str]:
    """``{quarter label: "2024-05"}`` for quarters whose deaths feed lacks a month."""
    out = {}
    missing = (quarters["feed_missing_months"] if "feed_missing_months" in quarters
               else pd.Series([None] * len(quarters), index=quarters.index))
    for label, months, deaths in zip(labels, missing, quarters["deaths_in_scope"],
                                     strict=True):
        if isinstance(months, str) and months:
            out[label] = months
        elif deaths is None or deaths is pd.NA:
            out[label] = ""  # no row of the feed in the whole quarter
    return out


def _flags(quarters: pd.DataFrame, labels: pd.Series) -> set[tuple[str, str]]:
    out = set()
    for flag, count in (("reviews_exceed_deaths", "reviewed"),
                        ("ld_reviews_exceed_deaths", "ld_reviewed")):
        if flag in quarters:
            for label, value in zip(labels, quarters[flag], strict=True):
                if value is True or value == 1:
                    out.add((label, count))
    return out


def _over(count: object, base: object) -> bool:
    if count is None or base is None or count is pd.NA or base is pd.NA:
        return False
    return int(count) > int(base)


def _sum_or_na(values: pd.Series, *, whole: bool = False):
    """The sum of the known values; None when none is known, or (``whole``) when any is not:
    a year of deaths missing a quarter's feed is not known."""
    present = [v for v in values if v is not None and v is not pd.NA]
    if whole and len(present) < len(values):
        return None
    return int(sum(int(v) for v in present)) if present else None


def _pct(count: object, base: object) -> float | None:
    if base is None or base is pd.NA or count is None or count is pd.NA or int(base) == 0:
        return None
    return 100.0 * int(count) / int(base)


def _note(rule: DisclosureRule, text: str = "") -> str:
    parts = [text] if text else []
    if rule.active:
        parts.append(rule.describe())
        if rule.rounding > 1:
            parts.append(f"{FROM_SHOWN} {PERCENT_PINNED}")
    return " ".join(parts)


def lfd_quarterly_table(protected: pd.DataFrame, rule: DisclosureRule, *, total_label: str
                        ) -> ReportTable:
    """The quarterly figures as trusts publish them to their boards."""
    frame = pd.DataFrame({
        "Deaths in scope": protected["deaths_in_scope"],
        "Deaths reviewed (SJR)": protected["reviewed"],
        "% of deaths reviewed": protected["percent_reviewed"],
        "More likely than not due to problems in care": protected["more_likely_than_not"],
    })
    return ReportTable(
        frame,
        caption="Learning from Deaths: deaths, case record reviews and avoidability by quarter",
        note=_note(rule, "Deaths in scope are adult inpatient deaths (including the emergency "
                   "department) from the monthly deaths feed; a death is counted in the quarter "
                   "it occurred. 'More likely than not due to problems in care' is an RCP "
                   "avoidability score of 1-3 (final second-stage score where there is one)."
                   + gap_sentence(protected)),
        formats={"% of deaths reviewed": "percent"},
        total_rows=[total_label],
        index_name="Quarter",
    )


def gap_sentence(protected: pd.DataFrame) -> str:
    """Which quarters' deaths are not known, and the months the feed lacks ("" if none)."""
    gaps = protected.attrs.get("feed_gaps") or {}
    if not gaps:
        return ""
    parts = "; ".join(f"{label.replace(chr(0xa0), ' ').replace(chr(0x2060), '')}: "
                      f"{_month_names(months) if months else 'no month in the feed'}"
                      for label, months in gaps.items())
    return (f" Deaths are not known where the deaths feed lacks a month ({parts}); the year's "
            "total is not known either. Send the missing month to complete them.")


def _month_names(months: str) -> str:
    names = ("January February March April May June July August September October "
             "November December").split()
    out = []
    for m in months.split(", "):
        try:
            out.append(f"{names[int(m[5:]) - 1]} {m[:4]}")
        except (ValueError, IndexError):
            out.append(m)
    return ", ".join(out) + " missing"


def lfd_avoidability_table(protected: pd.DataFrame, rule: DisclosureRule, *, total_label: str
                           ) -> ReportTable:
    """Reviewed deaths by avoidability score, per quarter (the other published figure)."""
    columns = {f"avoidability_{s}": f"{s} {domain.label('avoidability_score', s)}"
               for s in domain.AVOIDABILITY_SCORES}
    columns["avoidability_not_scored"] = "Not scored"
    columns["reviewed"] = "Deaths reviewed"
    frame = protected[list(columns)].rename(columns=columns)
    return ReportTable(
        frame,
        caption="Reviewed deaths by avoidability of death (RCP scale, 1 = definitely avoidable)",
        note=_note(rule, "Avoidability is judged at second-stage review; first-stage scores "
                   "count where no second-stage review was made."),
        total_rows=[total_label],
        index_name="Quarter",
    )


def lfd_ld_table(protected: pd.DataFrame, rule: DisclosureRule, *, total_label: str
                 ) -> ReportTable:
    """The same three published figures for patients with a learning disability."""
    frame = pd.DataFrame({
        "Deaths of patients with a learning disability": protected["ld_deaths"],
        "Reviewed (SJR)": protected["ld_reviewed"],
        "% reviewed": protected["ld_percent_reviewed"],
        "More likely than not due to problems in care": protected["ld_more_likely_than_not"],
    })
    return ReportTable(
        frame,
        caption="Deaths of patients with a learning disability",
        note=_note(rule, "Deaths come from the deaths feed; reviewed means a case record "
                   "review here (reviews through LeDeR are reported by LeDeR)."),
        formats={"% reviewed": "percent"},
        total_rows=[total_label],
        index_name="Quarter",
    )


# ------------------------------------------------------------------------- care scores ----
CARE_SCORE_LABELS = [f"{s} {domain.label('care_score', s)}" for s in domain.CARE_SCORES]
"""The score columns of :func:`care_score_table` ("1 Very poor care" ...)."""


def care_inputs(reviews: pd.DataFrame, alpha: float
                ) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The care-score distribution and % poor care per phase that :func:`care_score_table`
    takes, as the trust and national reports both compute them."""
    from sjrlib.stats import descriptive

    distribution = descriptive.care_score_distribution(reviews)
    poor = {p: descriptive.poor_care(reviews, phase=p, alpha=alpha) for p in domain.PHASES}
    return distribution, poor


CARE_TOTAL = "Reviews scoring this phase"
"""The care-score table's total column."""


def care_score_counts(distribution: pd.DataFrame) -> pd.DataFrame:
    """The exact counts of :func:`care_score_table`: a row per phase (its label), a column per
    score (:data:`CARE_SCORE_LABELS`) and :data:`CARE_TOTAL`."""
    rows = {}
    for phase in domain.PHASES:
        part = distribution[distribution["phase"] == phase].sort_values("score")
        counts = dict(zip(CARE_SCORE_LABELS, (int(c) for c in part["count"]), strict=True)) \
            if len(part) else dict.fromkeys(CARE_SCORE_LABELS, 0)
        counts[CARE_TOTAL] = int(part["n_applicable"].iloc[0]) if len(part) else 0
        rows[domain.label("phase", phase)] = counts
    return pd.DataFrame.from_dict(rows, orient="index").astype(object)


def care_score_table(distribution: pd.DataFrame, poor: Mapping[str, pd.DataFrame],
                     rule: DisclosureRule, alpha: float = 0.05, *,
                     clustered: Callable[[str, object, object, int],
                                         tuple[str | None, str | None]] | None = None,
                     clustered_note: str = "",
                     withheld: pd.DataFrame | None = None,
                     pooled: list[pd.DataFrame] | None = None) -> ReportTable:
    """Care scores by phase of care, with % poor or very poor care and its confidence interval.

    Parameters
    ----------
    distribution
        ``sjrlib.stats.descriptive.care_score_distribution(reviews)`` (no grouping).
    poor
        ``{phase: poor_care(reviews, phase=phase)}`` (one-row frames).
    rule
        Disclosure rule.
    clustered
        For pooled figures (many organisations): ``(phase, shown poor count, shown base,
        exact base) -> (interval text, design effect text)``, an interval that allows for
        clustering by organisation, computed from the counts as shown; it replaces the Wilson
        interval, and a "Design effect" column is added. ``clustered_note`` says how.
    withheld
        Cells to withhold besides the rule's (rows: phase labels, columns: the score and total
        headers), e.g. the national report's cells that would narrow an organisation's own.
    pooled
        Each organisation's table as its report prints it (:func:`care_score_counts` under
        the rule), for :func:`sjrlib.disclosure.protect_counts` (the national report).

    The % poor or very poor care is of the counts shown: the sum of the two shown cells (scores
    1 and 2) over the shown total, and none when either cell is withheld. (Rounding the exact
    sum instead told more than the cells: 15 and 30 shown with 10.0% of 400 pinned the sum of the
    exact counts to 41-42.)
    """
    labels = CARE_SCORE_LABELS
    raw = care_score_counts(distribution)
    total = CARE_TOTAL
    protected = protect_counts(raw, rule, total_column=total, withheld=withheld, pooled=pooled)
    pct, ci, deffs = [], [], []
    for phase in domain.PHASES:
        row = poor[phase].iloc[0] if len(poor[phase]) else None
        if row is None or int(row["n"]) == 0:
            pct.append(None)
            ci.append(None)
            deffs.append(None)
            continue
        # The poor count (scores 1 + 2) is not in the table, but its percentage gives it back
        # with the base: it is the sum of the two cells as shown, and withheld when either is
        # (with one visible, the other would come back by subtraction; with both hidden, their
        # sum would narrow each).
        label = domain.label("phase", phase)
        shown_poor = (int(row["poor"]) if not rule.active else
                      shown_sum([protected.at[label, c] for c in labels[:2]], rule))
        value, interval = _published(
            shown_poor, protected.at[label, total], rule, exact=100 * float(row["proportion"]),
            interval=_interval(row, int(row["n"])), alpha=alpha)
        if clustered is not None:
            interval, deff = (clustered(phase, shown_poor, protected.at[label, total],
                                        int(row["n"])) if value is not None else (None, None))
            deffs.append(deff)
        pct.append(value)
        ci.append(interval)
    protected["% poor or very poor care"] = pct
    if clustered is None:
        protected["95% confidence interval"] = ci
        how = WILSON_NOTE
    else:
        protected[f"{1 - alpha:.0%} CI, clustered by organisation"] = ci
        protected["Design effect"] = deffs
        how = clustered_note
    return ReportTable(
        protected,
        caption="Care scores by phase of care (first-stage reviews, one per death)",
        note=_note(rule, "A phase not applicable to a death is not scored. Poor or very poor "
                   "care = score 1 or 2. " + how),
        formats={"% poor or very poor care": "percent"},
        index_name="Phase of care",
    )


_MIN_INTERVAL = MIN_CASES_FOR_INTERVAL
"""No interval on fewer cases (shared/spec/privacy-and-disclosure.md; the project's one
constant, :data:`sjrlib.stats.descriptive.MIN_CASES_FOR_INTERVAL`)."""
WILSON_NOTE = ("Intervals are Wilson score intervals, not shown on fewer than "
               f"{_MIN_INTERVAL} reviews.")
"""What a table of Wilson intervals says of the ``–`` where an interval is withheld (in every
audience, the organisation's own exact counts included)."""


def _interval(row, n: int) -> tuple[float, float] | None:
    if n < _MIN_INTERVAL:
        return None
    return float(row["ci_lower"]), float(row["ci_upper"])


PROBLEM_COUNT_COLUMNS = {"count": "Reviews recording the problem",
                         **{f"harm_{h}": f"Led to harm: {domain.label('harm', h)}"
                            for h in domain.HARM_VALUES}}
"""The count columns of :func:`problems_table`: ``problem_frequency``'s column -> header."""


def problems_table(frequency: pd.DataFrame, rule: DisclosureRule, *,
                   withheld: pd.DataFrame | None = None,
                   pooled: Sequence[pd.DataFrame] | None = None) -> ReportTable:
    """Problems in care by type, and whether each led to harm.

    ``frequency`` is ``sjrlib.stats.descriptive.problem_frequency(reviews)`` (no grouping).
    ``withheld``: cells to withhold besides the rule's (row: the short problem label, column:
    a header of :data:`PROBLEM_COUNT_COLUMNS`), e.g. the national report's cells that would
    narrow an organisation's own (:func:`sjrlib.disclosure.differencing_risk`); ``pooled``:
    each organisation's problems table as its report prints it, when this one pools them
    (:func:`sjrlib.disclosure.suppression_mask`).
    """
    raw = pd.DataFrame({
        name: frequency[col].astype(int).to_numpy() for col, name in PROBLEM_COUNT_COLUMNS.items()
    }, index=[_short_problem(t) for t in frequency["problem_type"]]).astype(object)
    total = "Reviews recording the problem"
    protected = protect_counts(raw, rule, total_column=total, withheld=withheld, pooled=pooled)
    n = frequency["n_reviews"].astype(int).to_numpy()
    protected.insert(1, "% of reviews", [
        _published(c, protect_count(int(b), rule), rule, exact=float(p))[0]
        for p, b, c in zip(frequency["percent"], n, protected[total], strict=True)
    ])
    return ReportTable(
        protected,
        caption="Problems in care, by type, and whether the problem led to harm",
        note=_note(rule, "Percentages are of first-stage reviews in the period (one per death); "
                   "a review may record several types of problem."),
        formats={"% of reviews": "percent"},
        index_name="Type of problem",
    )


def _short_problem(problem_type: str) -> str:
    """The problem label up to its bracketed examples (the full label is in the glossary)."""
    text = domain.label("problem_type", problem_type)
    return text.split(" (")[0]


def poor_care_by_group_table(
    poor: pd.DataFrame, key: str, labels: Mapping[str, str], rule: DisclosureRule, *,
    caption: str, index_name: str, note: str = "", alpha: float = 0.05,
    withheld: pd.DataFrame | None = None, pooled: list[pd.DataFrame] | None = None,
    elsewhere: PrintedElsewhere | None = None,
) -> ReportTable:
    """Reviews and % poor or very poor overall care per group (e.g. per reason for review).

    ``poor`` is ``sjrlib.stats.descriptive.poor_care(reviews, by=key)``; groups are listed in
    the order of ``labels`` and named by them. ``withheld``: cells to withhold besides the
    rule's (rows: the labels, columns ``n`` and ``poor``), e.g. a region's that would narrow an
    organisation's own; ``pooled``: every organisation's own figures of these cells as its
    report prints them (:func:`sjrlib.disclosure.protect_counts`); ``elsewhere``: cells
    printed as, or counting some of, another table's printed cells
    (:class:`sjrlib.disclosure.PrintedElsewhere`, cells named by label and ``n``/``poor``),
    protected knowing it and that each row's poor care is among its reviews.
    """
    poor = poor.set_index(poor[key].astype(str))
    rows = {}
    for ident, label in labels.items():
        if ident in poor.index:
            r = poor.loc[ident]
            rows[label] = {"n": int(r["n"]), "poor": int(r["poor"]),
                           "proportion": float(r["proportion"]),
                           "lo": float(r["ci_lower"]), "hi": float(r["ci_upper"])}
        else:
            rows[label] = {"n": 0, "poor": 0, "proportion": float("nan"), "lo": float("nan"),
                           "hi": float("nan")}
    raw = pd.DataFrame.from_dict(rows, orient="index")
    margins: dict = {}
    if elsewhere is not None and rule.active:
        margins = {"elsewhere": elsewhere,
                   "at_most": [((r, "poor"), (r, "n")) for r in raw.index]}
    counts, withheld = protect_pooled(raw[["n", "poor"]], rule, withheld=withheld,
                                      pooled=pooled, **margins)
    pct, ci = [], []
    for r, k, n in zip(raw.itertuples(), counts["poor"], counts["n"], strict=True):
        value, interval = _published(
            k, n, rule, exact=100 * r.proportion if r.n else None,
            interval=(r.lo, r.hi) if r.n >= _MIN_INTERVAL else None, alpha=alpha)
        pct.append(value)
        ci.append(interval)
    frame = pd.DataFrame({
        "Reviews": counts["n"],
        "Poor or very poor overall care": counts["poor"],
        "% poor or very poor": pct,
        "95% confidence interval": ci,
    }, index=raw.index)
    return noting_differencing(
        ReportTable(frame, caption=caption, note=_note(rule, note),
                    formats={"% poor or very poor": "percent"}, index_name=index_name),
        withheld)


def protect_distribution(
    table: pd.DataFrame,
    rule: DisclosureRule,
    *,
    group: str | None,
    count: str = "count",
    total: str = "n_applicable",
    also: Sequence[str] = ("n_reviews",),
    percent: str | None = "percent",
) -> pd.DataFrame:
    """A long ``sjrlib.stats`` distribution (one row per group x category) made safe to chart.

    Within each ``group`` (e.g. phase) the ``count`` cells add up to ``total``: they are
    protected together (suppression, secondary suppression, rounding); ``total`` and the
    columns in ``also`` are protected too; ``percent`` is NaN where its count is withheld or
    its base is small. The result keeps the table's shape, so ``sjrlib.plots`` can draw it.

    Under a rule that changes nothing (exact counts, e.g. the exploration page's
    ``DisclosureRule.off()``) the same frame comes without protecting each group's cells one at
    a time (:func:`_unprotected_distribution`; a sixth of a dashboard redraw's CPU).
    """
    if not rule.active:
        return _unprotected_distribution(table, rule, group=group, count=count, total=total,
                                         also=also, percent=percent)
    return _protect_each_group(table, rule, group=group, count=count, total=total, also=also,
                               percent=percent)


def _unprotected_distribution(table: pd.DataFrame, rule: DisclosureRule, *, group: str | None,
                              count: str, total: str, also: Sequence[str],
                              percent: str | None) -> pd.DataFrame:
    """:func:`protect_distribution` under an inactive rule, with no loop over groups (the same
    frame as :func:`_protect_each_group` gives, tested): counts, totals and ``also`` as Python
    ints in object columns (each group's total and ``also`` taken from its first row), the
    percentage withheld (NaN) where the group's total is not an allowed base."""
    out = table.copy()
    out[count] = np.array([int(v) for v in table[count]] + [None], dtype=object)[:-1]
    if len(table):
        keys = (np.zeros(len(table), dtype=np.int64) if group is None
                else pd.factorize(table[group].astype(str))[0])
        _, first = np.unique(keys, return_index=True)
        first_of = np.empty(int(keys.max()) + 1, dtype=np.int64)
        first_of[np.unique(keys)] = first
        row = first_of[keys]  # each row's group's first row
    else:
        row = np.zeros(0, dtype=np.int64)
    base = table[total].to_numpy(object)[row] if total in table else None
    for column in (total, *also):
        if column in out:
            values = table[column].to_numpy(object)[row]
            out[column] = np.array([int(v) for v in values] + [None], dtype=object)[:-1]
    if percent and percent in out:
        out[percent] = out[percent].astype("float64")
        if base is not None:
            withheld = [not rule.base_allowed(b) for b in base]
            out.loc[np.array(withheld, dtype=bool), percent] = np.nan
    return out


def _protect_each_group(table: pd.DataFrame, rule: DisclosureRule, *, group: str | None,
                        count: str, total: str, also: Sequence[str],
                        percent: str | None) -> pd.DataFrame:
    """:func:`protect_distribution`, group by group (suppression, secondary suppression and
    rounding of each group's cells with its total)."""
    out = table.copy()
    out[count] = out[count].astype(object)
    for column in (total, *also):
        if column in out:
            out[column] = out[column].astype(object)
    if percent and percent in out:
        out[percent] = out[percent].astype("float64")
    keys = [None] if group is None else list(dict.fromkeys(table[group].astype(str)))
    for key in keys:
        rows = out.index if key is None else out.index[table[group].astype(str) == key]
        if len(rows) == 0:
            continue
        n_total = int(table.loc[rows[0], total])
        cells = pd.DataFrame({"v": [int(v) for v in table.loc[rows, count]] + [n_total]},
                             index=[*map(str, rows), "__total__"]).T.astype(object)
        mask = suppression_mask(cells, rule, total_column="__total__")
        shown = protect_counts(cells, rule, total_column="__total__")
        shown_counts = [shown.at["v", str(r)] for r in rows]
        visible = [c for c in shown_counts if not isinstance(c, str)]
        # under rounding, a bar's share comes from the rounded counts (over their sum, so the
        # bar still fills 100%): a share of the exact counts would give them back
        denominator = sum(visible) if rule.active and len(visible) == len(rows) else None
        for r, c in zip(rows, shown_counts, strict=True):
            out.at[r, count] = c
            if percent and percent in out and (mask.at["v", str(r)]
                                               or not rule.base_allowed(n_total)):
                out.at[r, percent] = np.nan
            elif percent and percent in out and rule.active:
                out.at[r, percent] = 100 * c / denominator if denominator else np.nan
        for column in (total, *also):
            if column in out:
                value = table.loc[rows[0], column]
                protected = shown.at["v", "__total__"] if column == total else (
                    rule.symbol if rule.is_small(value) else rule.round(int(value)))
                for r in rows:
                    out.at[r, column] = protected
    return out


def protect_problem_frequency(frequency: pd.DataFrame, rule: DisclosureRule, *,
                              withheld: pd.DataFrame | None = None) -> pd.DataFrame:
    """``problem_frequency`` with its counts protected (harm answers add up to ``count``), the
    review total rounded, and percentages withheld with their counts; same shape, for charts.
    ``withheld`` as :func:`problems_table` takes it (rows: short problem labels)."""
    harm = [f"harm_{h}" for h in domain.HARM_VALUES]
    cells = frequency[["count", *harm]].astype(object).set_axis(
        [str(i) for i in frequency.index])
    if withheld is not None:
        withheld = pd.DataFrame(
            {column: [bool(withheld.at[_short_problem(t), header])
                      if _short_problem(t) in withheld.index else False
                      for t in frequency["problem_type"]]
             for column, header in PROBLEM_COUNT_COLUMNS.items()}, index=cells.index)
    mask = suppression_mask(cells, rule, total_column="count", withheld=withheld)
    shown = protect_counts(cells, rule, total_column="count", withheld=withheld)
    out = frequency.copy()
    for column in ("count", *harm):
        out[column] = pd.Series(shown[column].to_numpy(), index=frequency.index, dtype=object)
    n = int(frequency["n_reviews"].iloc[0]) if len(frequency) else 0
    out["n_reviews"] = pd.Series([rule.symbol if rule.is_small(n) else rule.round(n)]
                                 * len(out), index=out.index, dtype=object)
    hidden = mask["count"].to_numpy() | (not rule.base_allowed(n))
    for column in ("percent", "ci_lower", "ci_upper"):
        if column in out:
            out[column] = out[column].astype("float64").where(~hidden)
    if rule.active and "percent" in out:
        # from the published counts (a chart point of the exact share gives the count back)
        base = out["n_reviews"].iloc[0] if len(out) else None
        for i, c in zip(out.index, out["count"], strict=True):
            value, _ = published_rate(c, base, rule)
            out.at[i, "percent"] = value if isinstance(value, float) else np.nan
        for column in ("ci_lower", "ci_upper"):
            if column in out:
                out[column] = np.nan
    out.attrs["rule"] = rule  # sjrlib.plots.problem_types: no bar where the table prints "–"
    return out


class ScoreBars:
    """Care scores by phase as 100% stacked bars drawn in HTML (no image to render).

    Built from a protected distribution (:func:`protect_distribution`). A phase with any
    withheld count gets no bar at all: a bar drawn without that segment would stop short of
    100% by exactly the withheld share. Nor does a phase whose % poor or very poor care the
    care-score table beside it prints as ``–`` (:func:`care_score_table`: of the printed
    scores 1 and 2 over the printed total, :func:`sjrlib.disclosure.charted_share`): its
    segments of scores 1 and 2 would draw it. Each row says how many reviews scored the phase
    (protected too). Prints in colour (``print-color-adjust: exact``).
    """

    def __init__(self, protected: pd.DataFrame, rule: DisclosureRule, *, title: str) -> None:
        self.protected = protected
        self.rule = rule
        self.title = title

    def _shown_poor(self, cells: pd.DataFrame) -> object:
        """A phase's poor or very poor care (scores 1 and 2) as a reader adds up its printed
        cells (:func:`shown_sum`), as :func:`care_score_table` takes it for its percentage."""
        poor = [count for score, count in zip(cells["score"], cells["count"], strict=True)
                if int(score) in domain.CARE_SCORES[:2]]
        return shown_sum(poor, self.rule)

    def _repr_html_(self) -> str:
        from sjrlib.plots import CARE_SCORE_COLOURS

        rows = []
        withheld = 0
        pinned = 0
        for phase in domain.PHASES:
            part = self.protected[self.protected["phase"].astype(str) == phase]
            if part.empty:
                continue
            n = part["n_applicable"].iloc[0]
            label = html.escape(domain.label("phase", phase))
            segments = []
            cells = part.sort_values("score")
            hidden = [isinstance(c, str) for c in cells["count"]]
            if isinstance(n, str) or not n:
                segments.append('<span class="sjr-bar-empty">too few reviews to show</span>')
            elif any(hidden):
                # a bar short of 100% would give back the withheld cells' total: no bar at all
                withheld += 1
                segments.append('<span class="sjr-bar-empty">not shown: some scores were '
                                f"given in 1 to {self.rule.threshold} reviews</span>")
            elif charted_share(self._shown_poor(cells), n, self.rule) is None:
                # the table prints "–" for the phase's % poor or very poor care (scores 1-2)
                pinned += 1
                segments.append('<span class="sjr-bar-empty">not shown: the table prints – '
                                "for its % poor or very poor care</span>")
            else:
                for row in cells.itertuples():
                    pct = row.percent
                    if pct is None or np.isnan(pct) or pct == 0:
                        continue
                    colour = CARE_SCORE_COLOURS[int(row.score)]
                    text = f"{pct:.0f}%" if pct >= 7 else ""
                    ink = "#fff" if int(row.score) in (1, 5) else "#212b32"
                    segments.append(
                        f'<span class="sjr-seg" style="width:{pct:.2f}%;background:{colour};'
                        f'color:{ink}" title="{html.escape(str(row.label))}: {pct:.1f}%">'
                        f"{text}</span>")
            shown_n = n if isinstance(n, str) else f"{int(n):,}"
            rows.append(f'<div class="sjr-bar-row"><span class="sjr-bar-label">{label}</span>'
                        f'<span class="sjr-bar">{"".join(segments)}</span>'
                        f'<span class="sjr-bar-n">n = {html.escape(shown_n)}</span></div>')
        legend = "".join(
            f'<span><i style="background:{CARE_SCORE_COLOURS[s]}"></i>'
            f"{html.escape(domain.label('care_score', s))}</span>" for s in domain.CARE_SCORES)
        note = ('<p class="sjr-note">A phase with a care score given in 1 to '
                f"{self.rule.threshold} reviews has no bar (disclosure control): the part left "
                "out would give that small number back.</p>" if withheld else "")
        if pinned:
            note += (f'<p class="sjr-note">'
                     f"{html.escape(percent_not_shown(pinned, 'phase(s)'))}</p>")
        return (f'<div class="sjr-bars" role="img" aria-label="{html.escape(self.title)}">'
                f'<div class="sjr-bars-title">{html.escape(self.title)}</div>{"".join(rows)}'
                f'<div class="sjr-legend">{legend}</div></div>{note}')

    def __repr__(self) -> str:
        return f"<ScoreBars: {self.title}>"
