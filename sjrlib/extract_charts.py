"""The first charts a researcher draws from an extract (see notebooks/researcher_quickstart).

Each function takes the review frame of an extract (:func:`data_access.extract.read_extract`),
computes the table with :mod:`sjrlib.stats` and draws it with :mod:`sjrlib.plots_seaborn`. An
approval releases some fields only: when the extract lacks a field a chart needs, the figure
holds a sentence naming the missing fields instead (:func:`sjrlib.plots.chart_withheld`), so
the notebook runs on any approval.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from sjrlib import domain, plots_seaborn
from sjrlib.plots import _withheld
from sjrlib.stats import agreement, descriptive
from sjrlib.stats._reviews import ReviewIndex

__all__ = ["agreement_chart", "phase_chart", "trend_chart"]

def _lacking(reviews: pd.DataFrame, fields: tuple[str, ...], title: str) -> Figure | None:
    missing = [f for f in dict.fromkeys(fields) if f not in reviews.columns]
    if not missing:
        return None
    return _withheld(f"Your extract has no {', '.join(missing)} (not in your approval's "
                     "fields): chart not drawn", title)


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
