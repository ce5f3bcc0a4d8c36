"""The full national statistics set in one pass over a review frame.

Every table of :mod:`sjrlib.stats.descriptive`, the Learning from Deaths figures of
:mod:`sjrlib.stats.lfd` and the agreement statistics of :mod:`sjrlib.stats.agreement`, computed
from one shared :class:`~sjrlib.stats._reviews.ReviewIndex` so that each column is encoded once.
The numbers are identical to calling the public functions one by one (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from sjrlib import domain
from sjrlib.stats import agreement, descriptive, lfd
from sjrlib.stats._reviews import ReviewIndex

__all__ = ["DIMENSIONS", "NationalStatistics", "national_statistics"]

DIMENSIONS: tuple[str | None, ...] = (
    None,
    "organisation_code",
    "financial_year",
    "specialty",
    "admission_type",
    "review_reason",
    "learning_disability",
)
"""Breakdowns of the national set: overall (None), then each grouping key."""


@dataclass
class NationalStatistics:
    """All national tables. Dicts are keyed by breakdown name (``"overall"`` for ``None``);
    the frames are those of the functions named in each field's comment."""

    care_scores: dict[str, pd.DataFrame] = field(default_factory=dict)
    """descriptive.care_score_distribution"""
    poor_care: dict[str, pd.DataFrame] = field(default_factory=dict)
    """descriptive.poor_care (overall phase)"""
    problems: dict[str, pd.DataFrame] = field(default_factory=dict)
    """descriptive.problem_frequency"""
    problems_per_review: dict[str, pd.DataFrame] = field(default_factory=dict)
    """descriptive.problems_per_review"""
    avoidability: dict[str, pd.DataFrame] = field(default_factory=dict)
    """descriptive.avoidability_distribution"""
    more_likely_than_not: dict[str, pd.DataFrame] = field(default_factory=dict)
    """descriptive.more_likely_than_not"""
    lfd: dict[str, pd.DataFrame] = field(default_factory=dict)
    """lfd.learning_from_deaths: keys ``"<period>"`` (by organisation) and
    ``"national_<period>"`` for month, quarter, financial_year, year_to_date"""
    agreement: pd.DataFrame | None = None
    """agreement.agreement_summary of the overall care score"""


def national_statistics(
    reviews: pd.DataFrame,
    deaths: pd.DataFrame,
    *,
    dimensions: Sequence[str | None] = DIMENSIONS,
    alpha: float = 0.05,
    as_of: str | None = None,
    include_drafts: bool = False,
) -> NationalStatistics:
    """Compute the full national statistics set.

    Parameters
    ----------
    reviews : pandas.DataFrame
        Validated review frame (all organisations in scope).
    deaths : pandas.DataFrame
        Deaths feed (denominator).
    dimensions : sequence
        Breakdowns (``None`` = overall); see :data:`DIMENSIONS`.
    alpha : float
        1 - confidence level of every interval.
    as_of : str, optional
        Last month for the Learning from Deaths figures (default: latest in the data).

    Returns
    -------
    NationalStatistics

    Notes
    -----
    Selection rules are those of the individual functions (drafts excluded; one primary
    first-stage review per case for review-level tables; one row per case for avoidability and
    Learning from Deaths). No disclosure control is applied here.
    """
    index = ReviewIndex(reviews, include_drafts=include_drafts)
    out = NationalStatistics()
    for by in dimensions:
        name = by or "overall"
        out.care_scores[name] = descriptive._care_scores(index, by, domain.PHASES, "first")
        out.poor_care[name] = descriptive._poor_care(index, by, "overall", "first", alpha,
                                                    from_profile=True)
        out.problems[name] = descriptive._problem_frequency(index, by, "first", alpha)
        out.problems_per_review[name] = descriptive._problems_per_review(index, by, "first")
        out.avoidability[name] = descriptive._avoidability_distribution(index, by)
        out.more_likely_than_not[name] = descriptive._more_likely_than_not(
            index, by, "reviewed", alpha)
    for period in lfd.LFD_PERIODS:
        out.lfd[period] = lfd._learning_from_deaths(index, deaths, period, True, as_of)
        out.lfd[f"national_{period}"] = lfd._learning_from_deaths(index, deaths, period, False,
                                                                  as_of)
    out.agreement = agreement._agreement_summary(index, "score_overall", alpha)
    return out
