"""The first charts a researcher draws from an extract (see notebooks/researcher_quickstart).

Each function takes the review frame of an extract (:func:`data_access.extract.read_extract`),
computes the table with :mod:`sjrlib.stats` and draws it with :mod:`sjrlib.plots_seaborn`. An
approval releases some fields only: when the extract lacks a field a chart needs, the figure
holds a sentence naming the missing fields instead (:func:`sjrlib.plots.chart_withheld`), so
the notebook runs on any approval.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from sjrlib import domain, plots_seaborn
from sjrlib.plots import NHS_COLOURS, _withheld
from sjrlib.report.figures import Chart
from sjrlib.stats import agreement, descriptive
from sjrlib.stats._reviews import ReviewIndex

__all__ = ["agreement_chart", "phase_chart", "theme_chart", "theme_shares", "trend_chart"]

def _described(draw: Callable[..., Figure]) -> Callable[..., Figure]:
    """``draw``'s figure, shown in a notebook (and exported from it) as an image with alt text:
    its title (the figure's, else its first panel's), or the sentence drawn instead of the chart
    (:class:`sjrlib.report.figures.Chart`). A plain figure displays as a PNG without one."""
    @functools.wraps(draw)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        fig = draw(*args, **kwargs)
        titles = [fig._suptitle.get_text() if fig._suptitle is not None else "",
                  *(ax.get_title(loc="left") or ax.get_title() for ax in fig.axes)]
        alt = " ".join(next((t for t in titles if t.strip()), "Chart").split())
        fig._repr_html_ = lambda: Chart(fig, alt=alt)._repr_html_()  # type: ignore[attr-defined]
        return fig
    return wrapper


def _lacking(reviews: pd.DataFrame, fields: tuple[str, ...], title: str) -> Figure | None:
    missing = [f for f in dict.fromkeys(fields) if f not in reviews.columns]
    if not missing:
        return None
    return _withheld(f"Your extract has no {', '.join(missing)} (not in your approval's "
                     "fields): chart not drawn", title)


@_described
def phase_chart(reviews: pd.DataFrame) -> Figure:
    """Care scores by phase of care (first-stage reviews, drafts left out), one panel per
    phase the extract holds scores of."""
    title = "Care scores by phase of care (% of first-stage reviews scoring the phase)"
    phases = tuple(p for p in domain.PHASES if domain.score_column(p) in reviews.columns)
    if not phases:
        return _withheld("Your extract has no care scores (not in your approval's fields): "
                         "chart not drawn", title)
    lacking = _lacking(reviews, ReviewIndex.COLUMNS, title)
    if lacking is not None:
        return lacking
    # The statistics read every phase's column: blank ones for phases the extract lacks.
    blank = {domain.score_column(p): pd.array([pd.NA] * len(reviews), dtype="Int64")
             for p in domain.PHASES if p not in phases}
    table = descriptive.care_score_distribution(reviews.assign(**blank), phases=phases)
    return plots_seaborn.phase_distributions(table, title=title)


@_described
def agreement_chart(reviews: pd.DataFrame, phase: str = "overall") -> Figure:
    """Heatmap of the two independent first-stage reviewers' scores of one phase of care in
    the double-reviewed cases of the extract."""
    score = domain.score_column(phase)
    item = domain.label("phase", phase)
    item = "overall care" if phase == "overall" else item[0].lower() + item[1:]
    title = f"Two reviewers' scores of {item}"
    lacking = _lacking(reviews, (*ReviewIndex.COLUMNS, "reviewer_id", score), title)
    if lacking is not None:
        return lacking
    return plots_seaborn.agreement_heatmap(agreement.rating_pairs(reviews, score), item=item,
                                           title=title)


@_described
def trend_chart(reviews: pd.DataFrame, by: str | None = "organisation_code") -> Figure:
    """Poor or very poor overall care by month (or quarter) of death, one line per value of
    ``by`` (None: pooled)."""
    title = "Poor or very poor overall care (% of first-stage reviews)"
    fields = (*ReviewIndex.COLUMNS, "death_month", "score_overall", *([by] if by else []))
    lacking = _lacking(reviews, fields, title)
    if lacking is not None:
        return lacking
    groups = ["death_month", by] if by else "death_month"
    table = descriptive.poor_care(reviews, by=groups)
    return plots_seaborn.poor_care_trend(table, "death_month", by=by, title=title)


def theme_shares(reviews: pd.DataFrame, codes: pd.DataFrame) -> pd.DataFrame:
    """Per theme: the extract's coded first-stage reviews, those coded with the theme, and %.

    Parameters
    ----------
    reviews
        The extract's review frame (``review_id`` and ``review_stage``).
    codes
        Its theme codes (:func:`data_access.extract.read_theme_codes`). Each review counts by
        its first coder's codes (``coder`` 1), as the reports count them; a review counts once
        per theme whatever the phases coded.

    Returns
    -------
    pandas.DataFrame
        Indexed by theme id, best represented first: ``coded_reviews``, ``with_theme``,
        ``percent``.
    """
    firsts = set(reviews.loc[(reviews["review_stage"] == "first").fillna(False),
                             "review_id"].astype(str))
    mine = codes[(codes["coder"] == 1).fillna(False)
                 & codes["review_id"].astype(str).isin(firsts)]
    coded = mine["review_id"].nunique()
    counts = mine.drop_duplicates(["review_id", "theme"])["theme"].astype(str).value_counts()
    table = pd.DataFrame({"coded_reviews": coded, "with_theme": counts.astype(int)})
    table["percent"] = 100 * table["with_theme"] / coded if coded else pd.NA
    table.index.name = "theme"
    return table.sort_values(["with_theme"], ascending=False, kind="stable")


@_described
def theme_chart(reviews: pd.DataFrame, codes: pd.DataFrame | None, codebook: Any) -> Figure:
    """The share of the extract's coded first-stage reviews coded with each theme
    (:func:`theme_shares`), as horizontal bars labelled with ``codebook``'s labels: the
    store's latest, ``Session.codebook()`` (a researcher may read it: it holds no review
    data), a theme it has retired marked "(retired)" as the reports mark it. ``codes`` is
    ``None`` when the approval does not release ``theme_codes``."""
    title = "Themes coded in first-stage reviews (% of coded reviews, first coder's codes)"
    if codes is None:
        return _withheld("Your extract has no theme_codes (not in your approval's fields): "
                         "chart not drawn", title)
    lacking = _lacking(reviews, ("review_id", "review_stage"), title)
    if lacking is not None:
        return lacking
    table = theme_shares(reviews, codes)
    if table.empty:
        return _withheld("No first-stage review of your extract is coded with themes", title)
    from sjrlib.measures import theme_label

    labels = {t: theme_label(codebook, t) for t in table.index}
    with plots_seaborn.theme():
        fig = Figure(figsize=(8, 0.35 * len(table) + 1.2))
        ax = fig.add_subplot()
        names = [labels.get(t, t) for t in table.index][::-1]
        values = table["percent"].astype(float).to_numpy()[::-1]
        ax.barh(names, values, color=NHS_COLOURS["blue"])
        for y, (value, n) in enumerate(zip(values, table["with_theme"].to_numpy()[::-1])):
            ax.text(value, y, f" {value:.0f}% ({n:,})", va="center")
        # room after the longest bar for its " 42% (636)": the label is drawn past the bar
        ax.set_xlim(0, max(float(values.max()), 1.0) * 1.25)
        ax.set_xlabel(f"% of {int(table['coded_reviews'].iloc[0]):,} coded first-stage reviews")
        # The title starts at the figure's left edge, as the other charts' do: above the axes
        # alone (which start after the theme labels) it ran off the figure's right edge, cut
        # to "Themes coded in first-stage reviews (% of cod".
        fig.suptitle(title, x=0.01, ha="left")
        fig.tight_layout()
    return fig
