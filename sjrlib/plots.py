"""Charts of SJR statistics (matplotlib), from the tidy tables of :mod:`sjrlib.stats` and
:mod:`sjrlib.spc`. Plots never open a database and compute nothing that the tables lack.

Every function returns a :class:`matplotlib.figure.Figure`. Rules they all follow:

- **No chart on fewer than 8 cases** (``MIN_CASES``, which is
  :data:`sjrlib.stats.descriptive.MIN_CASES_FOR_INTERVAL`, the rule of
  ``shared/spec/privacy-and-disclosure.md``): the figure then holds only a sentence saying so,
  e.g. "Fewer than 8 reviews: chart not shown", and :func:`chart_withheld` returns that sentence.
- **Suppressed cells draw no bar**: a count that is the disclosure symbol ``"*"`` (see
  :mod:`sjrlib.disclosure`), missing, or whose percentage is missing, is left out, and a note
  under the chart says so.
- Titles say what is shown and on how many cases; colours are colour-blind safe, with text
  labels or marker shapes so that no meaning rests on colour alone; text is at least 10 pt.
- SPC charts follow the NHS "Making Data Count" style: grey common cause, orange concern, blue
  improvement, purple neutral, the variation and assurance icons drawn with matplotlib patches
  (no image files), and the icons' meaning written out in words under the chart.

Tables (columns as returned by :mod:`sjrlib.stats.descriptive` and :mod:`sjrlib.stats.lfd`):

- :func:`care_scores_by_phase`: ``care_score_distribution`` for one group: ``phase``, ``score``,
  ``count``, ``n_applicable``, ``n_reviews`` and ``percent``.
- :func:`problem_types`: ``problem_frequency`` for one group: ``problem_type``, ``label``,
  ``n_reviews``, ``harm_no``, ``harm_probably``, ``harm_yes``.
- :func:`avoidability`: ``avoidability_distribution`` for one group: ``score``, ``label``,
  ``count``, ``n_scored``.
- :func:`lfd_trend`: ``learning_from_deaths`` for one organisation (or national): ``period``,
  ``deaths_in_scope``, ``reviewed``, ``more_likely_than_not``.
- :func:`spc_chart`: a frame from :func:`sjrlib.spc.xmr` or :func:`sjrlib.spc.p_chart`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Patch
from matplotlib.textpath import text_to_path
from matplotlib.ticker import ScalarFormatter

from sjrlib import domain
from sjrlib.disclosure import SUPPRESSED, DisclosureRule, charted_share, percent_not_shown
from sjrlib.spc import SHORT_GROUP_THRESHOLD
from sjrlib.stats.descriptive import MIN_CASES_FOR_INTERVAL

__all__ = [
    "CARE_SCORE_COLOURS",
    "HARM_COLOURS",
    "MIN_CASES",
    "NHS_COLOURS",
    "SPC_COLOURS",
    "avoidability",
    "care_scores_by_phase",
    "chart_withheld",
    "lfd_trend",
    "problem_types",
    "spc_chart",
]

MIN_CASES = MIN_CASES_FOR_INTERVAL
"""No chart (and no percentage) is drawn on fewer cases than this: the project's one "fewer
than 8 cases" rule (:data:`sjrlib.stats.descriptive.MIN_CASES_FOR_INTERVAL`), so that the
charts' wording and the tables' rule cannot drift apart."""

NHS_COLOURS: dict[str, str] = {
    "blue": "#005EB8",
    "dark_blue": "#003087",
    "mid_grey": "#768692",
    "pale_grey": "#E8EDEE",
    "dark_grey": "#425563",
    "orange": "#ED8B00",
    "warm_yellow": "#FFB81C",
    "black": "#231F20",
}
"""NHS identity colours used by the bar charts."""

SPC_COLOURS: dict[str, str] = {
    "common_cause": "#A6A6A6",
    "special_cause_improvement": "#00B0F0",
    "special_cause_concern": "#E46C0A",
    "special_cause_neutral_high": "#490092",
    "special_cause_neutral_low": "#490092",
    "value_line": "#A6A6A6",
    "mean_line": "#000000",
    "limits": "#7F7F7F",
    "target": "#DE1B1B",
    "provisional": "#E8EDEE",
}
"""Making Data Count colours, as NHSRplotthedots' ``ptd_spc_colours`` (limit lines darkened
from #A6A6A6 to #7F7F7F so that they stand out from the grey points); the shade behind a
provisional period is NHS pale grey."""

CARE_SCORE_COLOURS: dict[int, str] = {
    1: "#B35806",  # very poor: dark orange
    2: "#F1A340",  # poor: light orange
    3: "#D9D9D9",  # adequate: grey
    4: "#998EC3",  # good: light purple
    5: "#542788",  # excellent: dark purple
}
"""ColorBrewer PuOr (colour-blind safe), grey in the middle."""

HARM_COLOURS: dict[str, str] = {"no": "#C6DBEF", "probably": "#6BAED6", "yes": "#08519C"}
"""ColorBrewer Blues: more harm, darker."""

_MARKERS = {
    "common_cause": "o",
    "special_cause_improvement": "s",
    "special_cause_concern": "D",
    "special_cause_neutral_high": "^",
    "special_cause_neutral_low": "v",
}
_POINT_LABELS = {
    "common_cause": "Common cause variation",
    "special_cause_improvement": "Special cause: improvement",
    "special_cause_concern": "Special cause: concern",
    "special_cause_neutral_high": "Special cause: neither (high)",
    "special_cause_neutral_low": "Special cause: neither (low)",
}
_ASSURANCE_TEXT = {
    "consistent_pass": "the process will consistently meet the target",
    "consistent_fail": "the process will consistently fail the target",
    "inconsistent": "the process will sometimes meet and sometimes miss the target",
}
_FONT = 11
_WITHHELD_ATTR = "sjr_withheld"


# --- shared helpers -------------------------------------------------------------------------


def chart_withheld(fig: Figure) -> str | None:
    """The sentence shown instead of a chart (e.g. too few cases), or None if it was drawn."""
    return getattr(fig, _WITHHELD_ATTR, None)


def _withheld(sentence: str, title: str | None = None) -> Figure:
    fig = Figure(figsize=(8, 2.2))
    ax = fig.add_subplot()
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=_FONT + 2, loc="left")
    ax.text(0.5, 0.5, sentence, ha="center", va="center", fontsize=_FONT + 1,
            transform=ax.transAxes, wrap=True)
    setattr(fig, _WITHHELD_ATTR, sentence)
    return fig


def _fewer_than(unit: str) -> str:
    return f"Fewer than {MIN_CASES} {unit}: chart not shown"


def _numbers(values: pd.Series | Sequence[object]) -> np.ndarray:
    """Counts as floats; the suppression symbol, blanks and anything non-numeric become NaN."""
    s = pd.Series(values, dtype=object).map(
        lambda v: np.nan if v is None or v is pd.NA or (isinstance(v, str)) else v
    )
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)


def _number(value: object) -> float:
    """One count as a float, as :func:`_numbers` reads it (NaN for "*", blanks and the like)."""
    if value is None or value is pd.NA or isinstance(value, str):
        return np.nan
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return np.nan


def _fixed_margins(fig: Figure, *, left: float, right: float, top: float,
                   bottom: float) -> None:
    """Place the axes by margins in inches (cheaper than a layout engine at every draw)."""
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height,
                        bottom=bottom / height)


def _was_suppressed(values: pd.Series | Sequence[object]) -> np.ndarray:
    return np.array([isinstance(v, str) and v.strip() == SUPPRESSED for v in values], dtype=bool)


def _cases(values: pd.Series | Sequence[object]) -> float:
    """The number of cases behind a table: a suppressed or missing total counts as fewer than 8."""
    n = _numbers(values)
    if n.size == 0 or np.isnan(n).all():
        return 0.0
    return float(np.nanmax(n))


def _one_group(table: pd.DataFrame, keys: Sequence[str], what: str) -> None:
    missing = [k for k in keys if k not in table.columns]
    if missing:
        raise ValueError(f"{what} needs column(s) {missing}; got {list(table.columns)}")
    if table.duplicated(list(keys)).any():
        raise ValueError(
            f"{what} draws one group at a time, but the table has several rows per "
            f"{' x '.join(keys)}; filter it to one group first"
        )


def _text_colour(hex_colour: str) -> str:
    r, g, b = (int(hex_colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "black" if luminance > 0.5 else "white"


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def _short_problem_label(label: str) -> str:
    # "Problem in assessment, investigation or diagnosis (including ...)" -> drop the example
    return label.split(" (", 1)[0]


def _footnote(fig: Figure, lines: list[str]) -> None:
    """A note under the chart; a constrained layout makes room for it."""
    if not lines:
        return
    text = "\n".join(lines)
    if fig.get_layout_engine() is not None and "Constrained" in type(
            fig.get_layout_engine()).__name__:
        fig.supxlabel(text, x=0.01, ha="left", fontsize=_FONT - 1,
                      color=NHS_COLOURS["dark_grey"])
    else:
        fig.text(0.01, 0.01, text, fontsize=_FONT - 1, ha="left", va="bottom",
                 color=NHS_COLOURS["dark_grey"])


def _suppression_note(n: int) -> str:
    """The footnote of a chart with ``n`` withheld counts. A ``*`` is not always a small count:
    a second cell is withheld beside a small one so that the total does not give it back, and
    the national tables withhold counts that would narrow an organisation's own ``*``; "fewer
    than 8" for all of them would tell a reader something false about those. Nor is the small
    count's limit this module's ``MIN_CASES``: it is the table's rule's threshold (1 to 7 by
    default, 1 to 4 under the older practice of suppressing under 5), which the table's own
    note states, and which the chart does not get."""
    return (f"{n} suppressed value{'s' if n != 1 else ''} ({SUPPRESSED}: a small count, or one "
            "withheld with it by disclosure control; see the table's note): no bar drawn.")


# --- care scores ----------------------------------------------------------------------------


def care_scores_by_phase(table: pd.DataFrame, *, title: str | None = None) -> Figure:
    """100% stacked horizontal bars of care scores (1-5) for each phase of care.

    Parameters
    ----------
    table
        ``sjrlib.stats.descriptive.care_score_distribution`` for one group: columns ``phase``,
        ``score``, ``count``, ``n_applicable``, ``n_reviews``, ``percent`` (counts may be
        disclosure-protected).
    title
        Replaces the default title.

    Returns
    -------
    matplotlib.figure.Figure
        A phase scored in fewer than 8 reviews gets no bar (its row says so); a table of fewer
        than 8 reviews gives no chart at all (:func:`chart_withheld`).

    Notes
    -----
    Drawn for the dashboard on every filter change, so it is kept cheap: the table is read
    once into a dict, one ``barh`` per score draws every phase's segment of that score, and
    the layout is fixed in inches (the phase labels and legend are a fixed vocabulary) rather
    than worked out by a layout engine at every draw.
    """
    _one_group(table, ["phase", "score"], "care_scores_by_phase")
    n_reviews = _cases(table["n_reviews"]) if "n_reviews" in table else 0.0
    default = f"Care scores by phase of care ({int(n_reviews):,} reviews)"
    if n_reviews < MIN_CASES:
        return _withheld(_fewer_than("reviews"), title or "Care scores by phase of care")
    phase_of = table["phase"].astype(str).tolist()
    phases = [p for p in domain.PHASES if p in set(phase_of)]
    scores = table["score"].tolist()
    counts = table["count"].tolist()
    percents = table["percent"].tolist() if "percent" in table else [np.nan] * len(table)
    applicable_of: dict[str, float] = {}  # as _cases: the largest number, 0 if none
    for phase, value in zip(phase_of, table["n_applicable"].tolist(), strict=True):
        value = _number(value)
        if not np.isnan(value):
            applicable_of[phase] = max(value, applicable_of.get(phase, value))
    cells = {(phase, int(score)): (count, _number(pct))
             for phase, score, count, pct in zip(phase_of, scores, counts, percents,
                                                 strict=True)
             if score is not None and score is not pd.NA}

    fig = Figure(figsize=(11, 2.0 + 0.7 * len(phases)))
    ax = fig.subplots()
    grey = NHS_COLOURS["dark_grey"]
    segments: dict[int, list[tuple[int, float, float]]] = {s: [] for s in domain.CARE_SCORES}
    suppressed = 0
    for row, phase in enumerate(phases):
        applicable = applicable_of.get(phase, 0.0)
        if applicable < MIN_CASES:
            ax.text(1, row, f"Scored in fewer than {MIN_CASES} reviews: not shown",
                    va="center", fontsize=_FONT - 1, color=grey)
            continue
        shares = []
        for score in domain.CARE_SCORES:
            if (phase, score) not in cells:
                continue
            count, pct = cells[(phase, score)]
            number = _number(count)
            if np.isnan(pct) and not np.isnan(number):
                pct = 100 * number / applicable
            shares.append((score, pct, bool(np.isnan(number) or np.isnan(pct))))
        if any(withheld for _, _, withheld in shares):
            # A bar stopping short of 100% would give the withheld cells' total back.
            suppressed += 1
            ax.text(1, row, "Not shown: some scores are withheld by disclosure control",
                    va="center", fontsize=_FONT - 1, color=grey)
        else:
            left = 0.0
            for score, pct, _ in shares:
                if pct <= 0:
                    continue
                segments[score].append((row, left, pct))
                if pct >= 6:
                    ax.text(left + pct / 2, row, f"{pct:.0f}%", ha="center", va="center",
                            fontsize=_FONT - 1, color=_text_colour(CARE_SCORE_COLOURS[score]))
                left += pct
        ax.text(101, row, f"n = {int(applicable)}", va="center", fontsize=_FONT - 1,
                clip_on=False)
    for score, drawn in segments.items():
        if drawn:
            rows, lefts, widths = zip(*drawn, strict=True)
            ax.barh(rows, widths, left=lefts, color=CARE_SCORE_COLOURS[score],
                    edgecolor="white", height=0.7)
    ax.set_yticks(range(len(phases)),
                  [_wrap(domain.label("phase", p), 24) for p in phases], fontsize=_FONT)
    ax.set_ylim(len(phases) - 0.5, -0.5)  # first phase on top, rows evenly spaced
    ax.set_xlim(0, 100)
    ax.set_xlabel("Percentage of reviews that scored the phase", fontsize=_FONT)
    ax.tick_params(axis="x", labelsize=_FONT)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(title or default, fontsize=_FONT + 2, loc="left", pad=30)
    handles = [Patch(color=CARE_SCORE_COLOURS[s], label=domain.label("care_score", s))
               for s in domain.CARE_SCORES]
    # the scores in a row over the bars, in their order; the right margin keeps "n = ..."
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.0), ncols=5,
              frameon=False, fontsize=_FONT - 1, borderaxespad=0.2)
    _fixed_margins(fig, left=2.1, right=1.2, top=0.8,
                   bottom=0.62 + (0.3 if suppressed else 0.0))
    _footnote(fig, [_suppression_note(suppressed)] if suppressed else [])
    return fig


# --- problems in care -----------------------------------------------------------------------


def problem_types(table: pd.DataFrame, *, title: str | None = None,
                  rule: DisclosureRule | None = None) -> Figure:
    """Horizontal bars: percentage of reviews recording each problem type, split by harm.

    Parameters
    ----------
    table
        ``sjrlib.stats.descriptive.problem_frequency`` for one group: ``problem_type``,
        ``label``, ``n_reviews``, ``harm_no``, ``harm_probably``, ``harm_yes``.
    title
        Replaces the default title.
    rule
        The disclosure rule of the table beside the chart (default: ``table.attrs["rule"]``,
        which :func:`sjrlib.report.tables.protect_problem_frequency` sets; none: the counts
        are exact). A problem type whose "% of reviews" that table prints as ``–``
        (:func:`sjrlib.disclosure.charted_share`) gets no bar and no percentage, and a note
        says so.

    Notes
    -----
    Each segment is ``100 * harm_<answer> / n_reviews``; a suppressed harm count draws nothing.
    """
    _one_group(table, ["problem_type"], "problem_types")
    rule = rule if rule is not None else table.attrs.get("rule")
    n_reviews = _cases(table["n_reviews"])
    base_title = "Problems in care, and whether they led to harm"
    if n_reviews < MIN_CASES:
        return _withheld(_fewer_than("reviews"), title or base_title)
    order = [t for t in domain.PROBLEM_TYPES if t in set(table["problem_type"].astype(str))]
    fig = Figure(figsize=(10, 1.6 + 0.7 * len(order)), layout="constrained")
    ax = fig.subplots()
    suppressed = 0
    segments: dict[str, list[tuple[int, float, float]]] = {h: [] for h in domain.HARM_VALUES}
    types = table["problem_type"].astype(str).tolist()
    not_shown = 0
    for row, ptype in enumerate(order):
        cell = table.iloc[types.index(ptype)]
        total = _number(cell["count"]) if "count" in cell else np.nan
        if rule is not None and not np.isnan(total) and charted_share(
                total, cell["n_reviews"], rule) is None:
            # the table prints "–" for its percentage: no bar (its length is that percentage)
            not_shown += 1
            ax.text(0.3, row, "–", va="center", fontsize=_FONT - 1)
            continue
        left = 0.0
        for harm in domain.HARM_VALUES:
            value = _number(cell[f"harm_{harm}"])
            if np.isnan(value):
                suppressed += 1
                continue
            pct = 100 * value / n_reviews
            if pct > 0:
                segments[harm].append((row, left, pct))
            left += pct
        total_pct = 100 * total / n_reviews if not np.isnan(total) else left
        shown = f"{total_pct:.1f}%" if 0 < total_pct < 1 else f"{total_pct:.0f}%"
        ax.text(left + 0.3, row, shown if not np.isnan(total) or "count" not in cell else "*",
                va="center", fontsize=_FONT - 1)
    for harm, drawn in segments.items():  # one call per harm answer, not one per bar
        if drawn:
            rows, lefts, widths = zip(*drawn, strict=True)
            ax.barh(rows, widths, left=lefts, color=HARM_COLOURS[harm], edgecolor="white",
                    height=0.7)
    labels = [
        _wrap(_short_problem_label(domain.label("problem_type", t)), 34) for t in order
    ]
    ax.set_yticks(range(len(order)), labels, fontsize=_FONT - 1)
    ax.invert_yaxis()
    ax.set_xlim(0, max(10.0, ax.get_xlim()[1] * 1.1))
    ax.set_xlabel(f"Percentage of {int(n_reviews):,} reviews recording the problem",
                  fontsize=_FONT)
    ax.tick_params(axis="x", labelsize=_FONT)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(title or f"{base_title} ({int(n_reviews):,} reviews)", fontsize=_FONT + 2,
                 loc="left")
    handles = [Patch(color=HARM_COLOURS[h], label=f"Led to harm: {domain.label('harm', h)}")
               for h in domain.HARM_VALUES]
    ax.legend(handles=handles, loc="lower right", frameon=False, fontsize=_FONT - 1)
    _footnote(fig, ([_suppression_note(suppressed)] if suppressed else [])
              + ([_wrap(percent_not_shown(not_shown, "problem type(s)"), 120)]
                 if not_shown else []))
    return fig


# --- avoidability ---------------------------------------------------------------------------


def avoidability(table: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Bars of reviewed deaths by avoidability score (RCP 1-6), 1-3 marked as "more likely
    than not due to problems in care".

    Parameters
    ----------
    table
        ``sjrlib.stats.descriptive.avoidability_distribution`` for one group: ``score``,
        ``label``, ``count``, ``n_scored``.
    title
        Replaces the default title.
    """
    _one_group(table, ["score"], "avoidability")
    n_scored = _cases(table["n_scored"])
    base_title = "Avoidability of death in reviewed cases"
    if n_scored < MIN_CASES:
        return _withheld(_fewer_than("cases with an avoidability score"), title or base_title)
    fig = Figure(figsize=(10, 5.2), layout="constrained")
    ax = fig.subplots()
    suppressed = 0
    scores = list(domain.AVOIDABILITY_SCORES)
    for i, score in enumerate(scores):
        cell = table[table["score"].astype("Int64") == score]
        value = _numbers(cell["count"])[0] if not cell.empty else np.nan
        if np.isnan(value):
            suppressed += 1
            ax.text(i, 0, "*", ha="center", va="bottom", fontsize=_FONT + 2)
            continue
        mltn = score in domain.MORE_LIKELY_THAN_NOT
        colour = NHS_COLOURS["orange"] if mltn else NHS_COLOURS["blue"]
        ax.bar(i, value, color=colour, hatch="//" if mltn else None, edgecolor="white")
        ax.text(i, value, f"{int(value)}", ha="center", va="bottom", fontsize=_FONT)
    ax.set_xticks(range(len(scores)),
                  [f"{s}\n" + _wrap(domain.label("avoidability_score", s), 16) for s in scores],
                  fontsize=_FONT - 1)
    ax.set_ylabel("Reviewed deaths", fontsize=_FONT)
    ax.tick_params(axis="y", labelsize=_FONT)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(title or f"{base_title} ({int(n_scored):,} cases with a score)",
                 fontsize=_FONT + 2, loc="left")
    handles = [
        Patch(facecolor=NHS_COLOURS["orange"], hatch="//", edgecolor="white",
              label="More likely than not due to problems in care (1-3)"),
        Patch(facecolor=NHS_COLOURS["blue"], label="Less likely than not (4-6)"),
    ]
    ax.legend(handles=handles, loc="upper left", frameon=False, fontsize=_FONT - 1)
    if suppressed:
        _footnote(fig, [_suppression_note(suppressed).replace("no bar drawn",
                                                              "shown as * with no bar")])
    return fig


# --- Learning from Deaths -------------------------------------------------------------------


def lfd_trend(table: pd.DataFrame, *, title: str | None = None,
              rule: DisclosureRule | None = None) -> Figure:
    """Learning from Deaths by period: deaths in scope, deaths reviewed, and deaths judged more
    likely than not due to problems in care (grouped bars).

    Parameters
    ----------
    table
        ``sjrlib.stats.lfd.learning_from_deaths`` for one organisation (or national):
        ``period``, ``deaths_in_scope``, ``reviewed``, ``more_likely_than_not``.
    title
        Replaces the default title.
    rule
        The disclosure rule of the table printed beside the chart (default:
        ``table.attrs["rule"]``; none: the counts are exact). A period whose "% of deaths
        reviewed" that table prints as ``–`` (:func:`sjrlib.disclosure.charted_share`) gets
        no percentage label, and a note says so. So does a period with more deaths reviewed
        than deaths in scope (a feed or coding error), which the table prints as
        :data:`sjrlib.report.tables.EXCEEDS`, not as a percentage over 100.
    """
    from sjrlib.report.tables import EXCEEDS

    rule = rule if rule is not None else table.attrs.get("rule")
    if "organisation_code" in table.columns and table["organisation_code"].nunique() > 1:
        raise ValueError("lfd_trend draws one organisation at a time; filter the table first")
    _one_group(table, ["period"], "lfd_trend")
    reviewed = _numbers(table["reviewed"])
    base_title = ("Learning from Deaths: deaths in scope, deaths reviewed (% reviewed) and "
                  "deaths more likely than not due to problems in care")
    if np.nansum(reviewed) < MIN_CASES:
        return _withheld(_fewer_than("reviewed deaths"), title or base_title)
    periods = table["period"].astype(str).tolist()
    x = np.arange(len(periods))
    fig = Figure(figsize=(max(8.0, 0.8 * len(periods) + 4), 7.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    suppressed = 0
    width = 0.38
    deaths = _numbers(table["deaths_in_scope"])
    mltn = _numbers(table["more_likely_than_not"])
    for values, offset, colour, label in (
        (deaths, -width / 2, NHS_COLOURS["mid_grey"], "Deaths in scope"),
        (reviewed, width / 2, NHS_COLOURS["blue"], "Deaths reviewed"),
    ):
        shown = ~np.isnan(values)
        suppressed += int((~shown).sum())
        top.bar(x[shown] + offset, values[shown], width=width, color=colour, label=label,
                edgecolor="white")
        for i in np.flatnonzero(~shown):
            top.text(x[i] + offset, 0, SUPPRESSED, ha="center", va="bottom", fontsize=_FONT)
    not_shown = exceeds = 0
    for i in range(len(periods)):
        if not np.isnan(deaths[i]) and not np.isnan(reviewed[i]) and deaths[i] > 0:
            if reviewed[i] > deaths[i]:
                exceeds += 1  # the table prints EXCEEDS, no percentage
                continue
            if rule is not None and charted_share(reviewed[i], deaths[i], rule) is None:
                not_shown += 1  # the table prints "–" for it
                continue
            top.text(x[i] + width / 2, reviewed[i], f"{100 * reviewed[i] / deaths[i]:.0f}%",
                     ha="center", va="bottom", fontsize=_FONT - 1)
    top.set_ylabel("Deaths", fontsize=_FONT)
    top.legend(frameon=False, fontsize=_FONT - 1, loc="lower left", bbox_to_anchor=(0, 1.0),
               ncols=2)
    top.set_title(_wrap(title or base_title, int(fig.get_figwidth() * 7)),
                  fontsize=_FONT + 2, loc="left", pad=30)
    shown = ~np.isnan(mltn)
    suppressed += int((~shown).sum())
    bottom.bar(x[shown], mltn[shown], width=0.6, color=NHS_COLOURS["orange"], hatch="//",
               edgecolor="white")
    for i in range(len(periods)):
        bottom.text(x[i], 0 if np.isnan(mltn[i]) else mltn[i],
                    SUPPRESSED if np.isnan(mltn[i]) else f"{int(mltn[i])}", ha="center",
                    va="bottom", fontsize=_FONT - 1)
    bottom.set_ylabel(_wrap("Reviewed deaths more likely than not due to problems in care",
                            26), fontsize=_FONT - 1)
    bottom.set_ylim(0, max(1.0, np.nanmax(mltn, initial=0) * 1.25))
    bottom.set_xticks(x, periods, rotation=45 if len(periods) > 6 else 0,
                      ha="right" if len(periods) > 6 else "center", fontsize=_FONT - 1)
    for ax in (top, bottom):
        ax.tick_params(axis="y", labelsize=_FONT)
        ax.spines[["top", "right"]].set_visible(False)
    _footnote(fig, ([_suppression_note(suppressed)] if suppressed else [])
              + ([_wrap(percent_not_shown(not_shown, "period(s)"), 120)] if not_shown else [])
              + ([_wrap(f"No % reviewed: {exceeds} period(s) the table prints as \"{EXCEEDS}\" "
                        "(a feed or coding error).", 120)] if exceeds else []))
    return fig


# --- SPC (Making Data Count) ----------------------------------------------------------------


def _variation_icon(ax: Axes, point_type: str, improvement: str) -> str:
    """Draw the variation icon in ``ax`` (unit square); return its meaning in words.

    As in Making Data Count, the icon is the latest point's: a chart may mark special cause
    earlier on and still say common cause here, so the words name the latest point."""
    colour = SPC_COLOURS.get(point_type, SPC_COLOURS["common_cause"])
    ax.add_patch(Circle((0.5, 0.5), 0.46, facecolor="white", edgecolor=colour, linewidth=3))
    if point_type == "common_cause":
        xs = np.linspace(0.2, 0.8, 7)
        ys = 0.5 + 0.08 * np.array([0, 1, -1, 0.5, -0.5, 1, 0])
        ax.plot(xs, ys, color=colour, linewidth=1.5)
        ax.scatter(xs, ys, s=12, color=colour, zorder=3)
        return "Variation at the latest point: common cause, no significant change"
    high = point_type.endswith("_high") or (
        point_type == "special_cause_improvement" and improvement == "increase"
    ) or (point_type == "special_cause_concern" and improvement == "decrease")
    letter = "H" if high else "L"
    ax.text(0.5, 0.56, letter, ha="center", va="center", fontsize=15, fontweight="bold",
            color=colour)
    xs = np.linspace(0.22, 0.78, 6)
    ys = np.linspace(0.24, 0.34, 6) if high else np.linspace(0.34, 0.24, 6)
    ax.scatter(xs, ys, s=10, color=[SPC_COLOURS["common_cause"]] * 3 + [colour] * 3, zorder=3)
    kind = {
        "special_cause_improvement": "special cause improvement",
        "special_cause_concern": "special cause concern",
    }.get(point_type, "special cause, neither improvement nor concern")
    return f"Variation at the latest point: {kind} ({'higher' if high else 'lower'} values)"


def _assurance_icon(ax: Axes, kind: str) -> str:
    colour = {
        "consistent_pass": SPC_COLOURS["special_cause_improvement"],
        "consistent_fail": SPC_COLOURS["special_cause_concern"],
    }.get(kind, SPC_COLOURS["common_cause"])
    ax.add_patch(Circle((0.5, 0.5), 0.46, facecolor="white", edgecolor=colour, linewidth=3))
    if kind == "inconsistent":
        xs = np.linspace(0.2, 0.8, 40)
        ax.plot(xs, 0.5 + 0.15 * np.sin((xs - 0.2) * 4 * np.pi), color=colour, linewidth=2)
        ax.plot([0.15, 0.85], [0.5, 0.5], color=SPC_COLOURS["target"], linewidth=1.2,
                linestyle="--")
    else:
        ax.text(0.5, 0.5, "P" if kind == "consistent_pass" else "F", ha="center",
                va="center", fontsize=15, fontweight="bold", color=colour)
    return f"Assurance: {_ASSURANCE_TEXT[kind]}"


class _PercentTicks(ScalarFormatter):
    """Tick labels of values already in percent, with as many decimals as the tick spacing
    needs and no more ("15%, 20%"; "15.5%, 16.0%"): whole-percent labels on half-point ticks
    repeated themselves ("16%, 16%") and misread the scale."""

    def __init__(self) -> None:
        super().__init__(useOffset=False)
        self.set_scientific(False)

    def __call__(self, x: float, pos: int | None = None) -> str:
        text = super().__call__(x, pos)
        return f"{text}%" if text else text


def _tick_positions(n: int, most: int = 12) -> np.ndarray:
    step = max(1, int(np.ceil(n / most)))
    return np.arange(0, n, step)


def _format_x(label: object) -> str:
    if isinstance(label, pd.Timestamp):
        return label.strftime("%b %Y")
    return str(label)


def spc_chart(
    frame: pd.DataFrame,
    *,
    title: str,
    y_label: str,
    percent: bool | None = None,
    icons: bool = True,
    provisional_from: object | None = None,
    explained: Sequence[bool] | None = None,
) -> Figure:
    """A Making Data Count SPC chart of a frame from :func:`sjrlib.spc.xmr` or
    :func:`sjrlib.spc.p_chart`.

    Parameters
    ----------
    frame
        One row per point, index = periods in time order (months, dates, labels).
    title
        What the chart shows, e.g. "Reviews with poor or very poor overall care, by month".
    y_label
        The measure and its unit.
    percent
        Show values as percentages (default: True for a p-chart).
    icons
        Draw the variation (and, with a target, assurance) icons, top right.
    provisional_from
        The first point (an index label) of a period still filling: it and every later point
        are shaded and labelled "provisional" (their values will change as late reviews
        arrive).
    explained
        One flag per point: the points not drawn whose absence a caption beside the chart
        already explains (:class:`sjrlib.report.learning.PublishedChart`: the periods
        disclosure control hides, or whose percentage its table prints as ``–``). The note
        under the picture counts only the other points not drawn, so that the page says each
        withheld period once.

    Returns
    -------
    matplotlib.figure.Figure
        Not drawn for fewer than 8 points, or for a p-chart on fewer than 8 cases in all, or
        with fewer than 8 points resting on 8 or more cases. A p-chart point whose
        denominator is below 8 (``judged`` False in :func:`sjrlib.spc.p_chart`) gets no
        marker and no limits (its proportion would rest on fewer than 8 cases), and a note
        says so; the variation icon is that of the latest judged point.

    Notes
    -----
    Lines: the values (grey), the mean (black, solid), the process limits (grey, dashed), the
    target (red, dashed). Points are coloured by ``point_type`` and also differ in shape
    (circle: common cause, square: improvement, diamond: concern, triangles: neutral). Each
    rebase group has its own mean and limits; a short group's limits are marked as trial limits.
    """
    chart = frame.attrs.get("chart", "xmr")
    improvement = frame.attrs.get("improvement", "increase")
    if percent is None:
        percent = chart == "p"
    if len(frame) < MIN_CASES:
        return _withheld(_fewer_than("points"), title)
    if chart == "p" and "denominator" in frame and frame["denominator"].sum() < MIN_CASES:
        return _withheld(_fewer_than("cases"), title)
    n = len(frame)
    hidden = np.zeros(n, dtype=bool)
    if "judged" in frame:
        hidden = ~frame["judged"].to_numpy(dtype=bool)
    elif chart == "p" and "denominator" in frame:
        hidden = frame["denominator"].to_numpy(dtype=float) < MIN_CASES
    if int((~hidden).sum()) < MIN_CASES:
        return _withheld(_fewer_than(f"points on {MIN_CASES} or more cases"), title)
    scale = 100.0 if percent else 1.0
    x = np.arange(n)
    fig = Figure(figsize=(11, 5.6))
    ax = fig.subplots()
    values = frame["value"].to_numpy(dtype=float) * scale
    line_values = np.where(hidden, np.nan, values)
    ax.plot(x, line_values, color=SPC_COLOURS["value_line"], linewidth=1.5, zorder=2)

    trial = process = False
    for _, part in frame.groupby("rebase_group", sort=True):
        pos = x[frame.index.get_indexer(part.index)]
        where = "mid" if chart == "p" else "post"
        xs = pos if chart == "p" else np.append(pos, pos[-1] + 1) - 0.5
        gap = hidden[pos]

        def _steps(column: str, part: pd.DataFrame = part, gap: np.ndarray = gap) -> np.ndarray:
            # no limit is drawn at a point on fewer than MIN_CASES cases (NaN: a gap)
            v = part[column].to_numpy(dtype=float) * scale
            if column != "mean":
                v = np.where(gap, np.nan, v)
            return v if chart == "p" else np.append(v, v[-1])
        ax.step(xs, _steps("mean"), where=where, color=SPC_COLOURS["mean_line"], linewidth=1.5)
        style = ":" if bool(part["short_group_warning"].iloc[0]) else "--"
        trial = trial or style == ":"
        process = process or style == "--"
        for column in ("lpl", "upl"):
            ax.step(xs, _steps(column), where=where, color=SPC_COLOURS["limits"],
                    linestyle=style, linewidth=1.3)
    target = frame["target"].iloc[0] if "target" in frame else np.nan
    if pd.notna(target):
        ax.axhline(float(target) * scale, color=SPC_COLOURS["target"], linestyle="--",
                   linewidth=1.5)

    provisional = None
    if provisional_from is not None and provisional_from in frame.index:
        provisional = int(frame.index.get_loc(provisional_from))
        ax.axvspan(provisional - 0.5, n - 0.3, color=SPC_COLOURS["provisional"], zorder=0,
                   linewidth=0)

    types = frame["point_type"].astype(str).to_numpy()
    present = []
    for ptype in _MARKERS:
        mask = (types == ptype) & ~hidden
        if mask.any():
            present.append(ptype)
            ax.scatter(x[mask], values[mask], marker=_MARKERS[ptype], s=42 if ptype ==
                       "common_cause" else 60, color=SPC_COLOURS[ptype], zorder=3,
                       edgecolors="black" if ptype != "common_cause" else "none",
                       linewidths=0.5)

    ticks = _tick_positions(n)
    ax.set_xticks(ticks, [_format_x(frame.index[i]) for i in ticks], rotation=45, ha="right",
                  fontsize=_FONT - 1)
    ax.set_xlim(-0.7, n - 0.3)
    ax.set_ylabel(y_label, fontsize=_FONT)
    ax.tick_params(axis="y", labelsize=_FONT)
    if percent:
        ax.yaxis.set_major_formatter(_PercentTicks())
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(_wrap(title, 70), fontsize=_FONT + 2, loc="left")

    handles = [Line2D([], [], marker=_MARKERS[p], linestyle="none", markersize=8,
                      color=SPC_COLOURS[p], label=_POINT_LABELS[p]) for p in present]
    handles.append(Line2D([], [], color=SPC_COLOURS["mean_line"], label="Mean"))
    if process:  # a chart of one short group draws trial limits only: no dashed line to name
        handles.append(Line2D([], [], color=SPC_COLOURS["limits"], linestyle="--",
                              label="Process limits"))
    if trial:
        handles.append(Line2D([], [], color=SPC_COLOURS["limits"], linestyle=":",
                              label=f"Trial limits ({SHORT_GROUP_THRESHOLD - 1} points or "
                                    "fewer)"))
    if pd.notna(target):
        handles.append(Line2D([], [], color=SPC_COLOURS["target"], linestyle="--",
                              label="Target"))
    if provisional is not None:
        handles.append(Patch(color=SPC_COLOURS["provisional"],
                             label="Provisional: still filling"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 0.78), frameon=False,
              fontsize=_FONT - 1)

    kind = frame["assurance"].iloc[-1] if icons and n and "assurance" in frame else None
    assured = kind is not None and not (isinstance(kind, float) and np.isnan(kind))
    # The note under the chart says what the icons mean and how many points are hidden: one
    # line for two of these sentences, two lines for all three.
    unexplained = hidden if explained is None else hidden & ~np.asarray(explained, bool)
    sentences = int(bool(icons and n)) + int(assured) + int(unexplained.any())
    _spc_layout(fig, ax, [h.get_label() for h in handles],
                [t.get_text() for t in ax.get_xticklabels()],
                note_lines=0 if not sentences else 1 if sentences <= 2 else 2)

    notes: list[str] = []
    if icons and n:
        last_type = str(types[np.flatnonzero(~hidden)[-1]])  # the latest point judged
        box = ax.get_position()
        icon_ax = fig.add_axes((box.x1 + 0.015, box.y1 - 0.12, 0.065, 0.12))
        icon_ax.set_xlim(0, 1), icon_ax.set_ylim(0, 1), icon_ax.set_aspect("equal")
        icon_ax.set_axis_off()
        notes.append(_variation_icon(icon_ax, last_type, improvement) + ".")
        if assured:
            a_ax = fig.add_axes((box.x1 + 0.085, box.y1 - 0.12, 0.065, 0.12))
            a_ax.set_xlim(0, 1), a_ax.set_ylim(0, 1), a_ax.set_aspect("equal")
            a_ax.set_axis_off()
            notes.append(_assurance_icon(a_ax, str(kind)) + ".")
    if unexplained.any():
        # under disclosure control a point may be hidden beside a small one, or because it
        # would narrow an organisation's own: "fewer than 8 cases" is not true of those
        what = (f"not shown (fewer than {MIN_CASES} cases, or withheld by disclosure "
                "control)" if frame.attrs.get("controlled") and explained is None
                else f"based on fewer than {MIN_CASES} cases not shown")
        notes.append(f"{int(unexplained.sum())} point(s) {what}, with no limits and not "
                     "judged for special cause.")
    _footnote(fig, [textwrap.fill(" ".join(notes), 150)] if notes else [])
    return fig


def _text_width(text: str, size: float) -> float:
    """Width in points of one line of ``text`` in the default font (no renderer, no draw)."""
    width, _, _ = text_to_path.get_text_width_height_descent(
        text, FontProperties(size=size), ismath=False)
    return width


def _spc_layout(fig: Figure, ax: Axes, legend_labels: list[str], x_labels: list[str],
                note_lines: int) -> None:
    """Place the SPC axes so that its tick labels, axis label, title, the legend and icons on
    its right and a note of up to ``note_lines`` lines below fit in the figure.

    What ``tight_layout`` worked out by drawing every text once more (about 90 ms of a 60-point
    chart, on each dashboard redraw), from the widths of the few texts that set the margins.
    """
    pad = 1.08 * _FONT  # points, tight_layout's default padding
    width, height = (v * 72 for v in fig.get_size_inches())
    tick = 3.5 + 3.5  # tick length + tick label pad
    y_labels = ax.yaxis.get_major_formatter().format_ticks(list(ax.get_yticks()))
    left = (pad + 1.2 * _FONT + 4.0 + tick
            + max((_text_width(t, _FONT) for t in y_labels), default=0.0))
    widest_x = max((_text_width(t, _FONT - 1) for t in x_labels), default=0.0)
    rotated = (widest_x + 1.2 * (_FONT - 1)) * np.sqrt(0.5)  # labels at 45 degrees
    bottom = pad + tick + rotated + (note_lines * 1.25 * (_FONT - 1) + 4.0 if note_lines
                                     else 0.0)
    title_lines = ax.get_title(loc="left").count("\n") + 1
    top = pad + 6.0 + title_lines * 1.2 * (_FONT + 2)
    # legend (loc "upper left" at 1.01 x the axes width): pads, handle and its widest label
    legend = (0.5 + 0.4 + 2.0 + 0.8 + 0.4) * (_FONT - 1) + max(
        (_text_width(t, _FONT - 1) for t in legend_labels), default=0.0)
    icons = 0.15 * width  # two icons from 0.015 to 0.15 of the figure right of the axes
    right = 0.02 * width + pad
    axes_width = (width - left - right - legend) / 1.01
    if axes_width + left + right + icons > width:  # icons wider than the legend
        axes_width = width - left - right - icons
    fig.subplots_adjust(left=left / width, right=(left + axes_width) / width,
                        bottom=bottom / height, top=1 - top / height)
