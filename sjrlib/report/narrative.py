"""'What to look at': a short list of plain sentences generated from a report's own numbers.

Sentences only use figures that have already been through disclosure control, and never compare
an organisation with others (the programme is not for comparing trusts): they point at the
organisation's own signals - SPC special causes, deaths judged more likely than not due to
problems in care, cases awaiting second-stage review, the most frequent problem type.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["Callout", "Heading", "Paragraph", "Strong", "count_phrase", "second_stage_backlog",
           "spc_sentence"]

_MONTHS = "January February March April May June July August September October November " \
          "December".split()


def _month(month: str) -> str:
    """``"2024-05"`` -> ``"May 2024"``; a quarter ``"2024/25 Q1"`` -> ``"Q1 Apr–Jun 2024"``."""
    if len(month) == 7 and month[4] == "-":
        return f"{_MONTHS[int(month[5:7]) - 1]} {month[:4]}"
    from sjrlib.report.tables import plain_label, quarter_label

    return plain_label(quarter_label(month))


def count_phrase(value: object, noun: str, symbol: str = "*") -> str:
    """A protected count in words: ``"a number of deaths (withheld by disclosure control)"``
    for ``*``, ``"about 25 deaths"``.

    A sentence never bounds a ``*``: "fewer than 8" was true of a small count, but beside the
    table's ``*`` quarters it bounded each of them (four quarters of at least 1 adding up to
    at most 7 are each at most 4; an audit of the demo's reports, 2026-12-06), and it was
    false of a ``*`` withheld for differencing."""
    if value is None:
        return f"no recorded {noun}"
    if value == symbol:
        return f"a number of {noun} (withheld by disclosure control)"
    number = int(value)
    if number == 0:
        return f"no {noun}"
    return f"about {number:,} {noun}"


def spc_sentence(
    measure: str,
    spc: pd.DataFrame,
    *,
    improvement: str,
    period_start: str,
    withheld: Sequence[bool] | None = None,
    base_noun: str = "cases",
) -> str | None:
    """One sentence on the SPC signals of ``measure`` inside the report period, or None.

    Parameters
    ----------
    measure
        What is charted, e.g. ``"the percentage of reviews finding poor or very poor care"``.
    spc
        ``sjrlib.spc`` output indexed by ``"YYYY-MM"``.
    improvement
        ``"increase"`` or ``"decrease"``.
    period_start
        First month of the report period.
    withheld
        Months whose point disclosure control hides (not named in the sentence).
    base_noun
        What a point's denominator counts ("reviews", "deaths"), for the sentence on what
        change the chart can detect at its volume (a p-chart with no signal).
    """
    if spc.empty:
        return None
    hide = np.zeros(len(spc), bool) if withheld is None else np.asarray(withheld, bool)
    months = spc.index.astype(str)
    inside = (months >= period_start) & ~hide
    concern = inside & (spc["point_type"].to_numpy() == "special_cause_concern")
    better = inside & (spc["point_type"].to_numpy() == "special_cause_improvement")
    outside = inside & spc["outside_limits"].fillna(False).to_numpy(bool)
    if concern.any():
        names = [_month(m) for m in months[concern]]
        what = "months" if len(months[0]) == 7 else "quarters"
        extra = ", including a point outside the process limits" if (outside & concern).any() \
            else ""
        return (f"Special cause of concern in {measure}: {_list(names, what)}{extra}. Look at "
                f"the reviews of those {what} for a common cause.")
    if better.any():
        names = [_month(m) for m in months[better]]
        what = "months" if len(months[0]) == 7 else "quarters"
        return (f"Special cause of improvement in {measure}: {_list(names, what)}. Worth "
                "finding out what changed, to keep it.")
    unit = "month" if len(months[0]) == 7 else "quarter"
    return (f"No evidence of change in {measure} in the period (only common cause "
            f"variation).{detectability_sentence(spc, unit, base_noun)}")


def detectability_sentence(spc: pd.DataFrame, unit: str, base_noun: str = "cases") -> str:
    """" This chart detects only large changes: ..." for a p-chart (or "" for another
    chart): the change one point detects at the chart's own volume
    (:func:`sjrlib.spc.detectable_change`). The volume is rounded to 5 and the rates to whole
    percentages, so the sentence pins no count."""
    from sjrlib.spc import detectable_change

    d = detectable_change(spc)
    if d is None:
        return ""
    n = max(5, int(5 * round(d.typical_n / 5)))
    moves = "rises" if d.direction > 0 else "falls"
    if d.detected_at is None:
        return (f" This chart cannot flag a {'rise' if d.direction > 0 else 'fall'} from a "
                f"single {unit} at about {n:,} {base_noun} a {unit} and {d.baseline:.0%} on "
                f"average; only a run of {unit}s on one side of the mean would show one.")
    change = "doubling" if d.direction > 0 else "halving"
    chance = d.doubling_probability or 0.0
    lead = "This chart detects only large changes" if chance < 0.5 else \
        "What this chart can detect"
    tail = ", so smaller changes can go unseen for months." if chance < 0.5 else "."
    crosses = (f"would almost certainly cross it in a given {unit}" if chance >= 0.995 else
               f"would cross it in a given {unit} with probability {chance:.2f}")
    return (f" {lead}: at about {n:,} {base_noun} a {unit}, one {unit} crosses the limit only "
            f"once the true rate {moves} to about {d.detected_at:.0%} from {d.baseline:.0%}; "
            f"a {change} {crosses}{tail}")


def _list(names: list[str], what: str = "months") -> str:
    if len(names) > 4:
        return f"{len(names)} {what} from {names[0]} to {names[-1]}"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def second_stage_backlog(reviews: pd.DataFrame) -> int:
    """Deaths whose first-stage overall care was poor or very poor (1-2) with no second-stage
    review in ``reviews`` (a review frame without drafts).

    The report's own small helper: the session offers the same list as
    ``second_stage_queue()``, but a report must work from the rows it has already read.
    """
    if reviews.empty:
        return 0
    first = reviews[reviews["review_stage"] == "first"]
    poor = first[first["score_overall"].isin([1, 2]).fillna(False)]
    second = reviews.loc[reviews["review_stage"] == "second", ["organisation_code", "case_id"]]
    seen = set(zip(second["organisation_code"], second["case_id"], strict=True))
    cases = set(zip(poor["organisation_code"], poor["case_id"], strict=True))
    return len(cases - seen)


class Callout:
    """The 'what to look at' box: a list of sentences, shown as HTML in a notebook."""

    def __init__(self, sentences: Sequence[str | None], heading: str = "") -> None:
        self.sentences = [s for s in sentences if s]
        self.heading = heading

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(s)}</li>" for s in self.sentences)
        head = f"<strong>{html.escape(self.heading)}</strong>" if self.heading else ""
        return f'<div class="sjr-callout">{head}<ul>{items}</ul></div>'

    def __repr__(self) -> str:
        return "\n".join(f"- {s}" for s in self.sentences)


class Strong(str):
    """A part of a :class:`Paragraph` shown in bold."""


class Paragraph:
    """A paragraph of plain text for a report page; parts that are :class:`Strong` are bold.

    Every part is escaped, so a name from the store (``<script>``, ``[x](javascript:...)``)
    shows as the characters it is made of. Reports use this, never ``IPython.display.Markdown``:
    Markdown passes raw HTML and links through to the page.
    """

    def __init__(self, *parts: str, css: str = "") -> None:
        self.parts = [p for p in parts if p]
        self.css = css

    def _repr_html_(self) -> str:
        inner = "".join(f"<strong>{html.escape(p)}</strong>" if isinstance(p, Strong)
                        else html.escape(p) for p in self.parts)
        css = f' class="{html.escape(self.css)}"' if self.css else ""
        return f"<p{css}>{inner}</p>"

    def __str__(self) -> str:
        return "".join(self.parts)

    def __repr__(self) -> str:
        return str(self)


class Heading:
    """A section heading whose words depend on the data (a Scottish health board's report
    names no English statutory report): an ``<h2>``/``<h3>`` with the anchor nbconvert gives a
    Markdown heading, so the page's contents list it like any other."""

    def __init__(self, text: str, level: int = 2) -> None:
        self.text = text
        self.level = 3 if level == 3 else 2

    def _repr_html_(self) -> str:
        import re

        anchor = re.sub(r"[^A-Za-z0-9_-]+", "-", self.text).strip("-") or "section"
        return (f'<h{self.level} id="{html.escape(anchor)}">{html.escape(self.text)}'
                f"</h{self.level}>")

    def __repr__(self) -> str:
        return f"{'#' * self.level} {self.text}"
