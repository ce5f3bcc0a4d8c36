"""Learning from Deaths figures: what trusts publish to their boards, per organisation and period.

For each organisation (or nationally) and each month, financial quarter, financial year or
financial year to date: deaths in scope, deaths subject to case record review, the number judged
more likely than not due to problems in care, the same three for patients with a learning
disability, and reviewed deaths by avoidability score 1-6 (``shared/spec/sjr-review.md`` s. 9).

Definitions
-----------
* **Deaths in scope** come from the deaths feed (``sjrlib.domain.DEATH_COLUMNS``), never from
  reviews: the sum of ``deaths_in_scope`` over the feed's months in the period. ``<NA>`` when the
  feed has no row for that organisation and period (not 0: a missing feed is not "no deaths").
* **Reviewed** counts *cases* (``(organisation_code, case_id)``) with at least one submitted or
  locked review, of either stage: a case reviewed twice (a second reviewer for reliability, or a
  second-stage review) is one death reviewed. Drafts do not count unless ``include_drafts``.
* A case's **period** is its month of death (``death_month``), not the review date, so figures
  for a period grow as its deaths are reviewed later.
* A case's **avoidability** is the score of its final (latest) second-stage review if it has one;
  otherwise the score of its earliest first-stage review that gives one (first-stage scores are
  optional); otherwise it is *not scored*. **More likely than not due to problems in care**
  means avoidability 1-3 on the RCP scale.
* A case counts as a **learning disability** death when any counted review of it records
  ``learning_disability = "yes"``. LD deaths in scope come from the feed's
  ``learning_disability_deaths``.
* ``percent_reviewed`` is ``100 * reviewed / deaths_in_scope`` (NaN when deaths are 0 or
  missing). Disclosure control (suppression, rounding) is applied later, by
  ``sjrlib.disclosure``, not here.

References
----------
National Quality Board. National Guidance on Learning from Deaths. March 2017.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sjrlib import domain
from sjrlib.stats._reviews import ReviewIndex, financial_year, period_label

__all__ = ["LFD_PERIODS", "learning_from_deaths"]

LFD_PERIODS: tuple[str, ...] = ("month", "quarter", "financial_year", "year_to_date")

_COUNT_COLUMNS = (
    "reviewed",
    "more_likely_than_not",
    "ld_reviewed",
    "ld_more_likely_than_not",
    *(f"avoidability_{s}" for s in domain.AVOIDABILITY_SCORES),
    "avoidability_not_scored",
)


def learning_from_deaths(
    reviews: pd.DataFrame,
    deaths: pd.DataFrame,
    *,
    period: str = "quarter",
    by_organisation: bool = True,
    as_of: str | None = None,
    include_drafts: bool = False,
) -> pd.DataFrame:
    """Learning from Deaths figures per organisation (or national) and period.

    Parameters
    ----------
    reviews : pandas.DataFrame
        Validated review frame.
    deaths : pandas.DataFrame
        Deaths feed with ``organisation_code``, ``month`` (``"YYYY-MM"``), ``deaths_in_scope``,
        ``learning_disability_deaths``.
    period : {"month", "quarter", "financial_year", "year_to_date"}
        ``"quarter"`` is the financial quarter (Q1 = April-June); ``"financial_year"`` runs April
        to March; ``"year_to_date"`` gives one period: the financial year containing ``as_of``,
        from April up to and including ``as_of``.
    by_organisation : bool
        One row per organisation and period (default), or national rows (period only).
    as_of : str, optional
        ``"YYYY-MM"``: ignore deaths after this month. Default: the latest month in the reviews
        or the deaths feed.
    include_drafts : bool
        Count cases whose only reviews are drafts.

    Returns
    -------
    pandas.DataFrame
        Columns ``organisation_code`` (when ``by_organisation``), ``period``,
        ``deaths_in_scope`` (Int64, may be <NA>), ``reviewed``, ``percent_reviewed``,
        ``more_likely_than_not``, ``ld_deaths`` (Int64), ``ld_reviewed``,
        ``ld_percent_reviewed``, ``ld_more_likely_than_not``, ``avoidability_1`` ...
        ``avoidability_6``, ``avoidability_not_scored`` (these seven add up to ``reviewed``).
        Rows: every organisation/period present in the feed or in the reviews, sorted.

    Notes
    -----
    See the module docstring for the definitions. National rows are computed from all cases and
    all feed rows directly; per-organisation rows add up to them exactly.
    """
    index = ReviewIndex(reviews, include_drafts=include_drafts)
    return _learning_from_deaths(index, deaths, period, by_organisation, as_of)


def _check_month(value: str, what: str) -> str:
    if not (isinstance(value, str) and len(value) == 7 and value[4] == "-"
            and value[:4].isdigit() and value[5:].isdigit() and 1 <= int(value[5:]) <= 12):
        raise ValueError(f"{what} must be a month 'YYYY-MM', not {value!r}")
    return value


def _period_of(months: list, period: str, as_of: str) -> list:
    """Period label per month label (None = outside the requested window)."""
    if period == "year_to_date":
        fy = financial_year(as_of)
        label = f"{fy} to {as_of}"
        return [label if m is not None and financial_year(m) == fy and m <= as_of else None
                for m in months]
    return [period_label(m, period) if m is not None and m <= as_of else None for m in months]


def _learning_from_deaths(index: ReviewIndex, deaths: pd.DataFrame, period: str,
                          by_organisation: bool, as_of: str | None) -> pd.DataFrame:
    if period not in LFD_PERIODS:
        raise ValueError(f"unknown period {period!r}; expected one of {LFD_PERIODS}")
    missing = [c for c in domain.DEATH_COLUMNS if c not in deaths.columns]
    if missing:
        raise ValueError(f"the deaths frame lacks column(s) {missing}; expected "
                         f"{domain.DEATH_COLUMNS}")
    month_enc = index.strings("death_month")
    feed_months = deaths["month"].dropna().astype(str)
    if as_of is None:
        known = [m for m in month_enc.labels if m is not None]
        if len(feed_months):
            known.append(str(feed_months.max()))
        if not known:
            raise ValueError("no months in the reviews or the deaths feed; give as_of")
        as_of = max(known)
    _check_month(as_of, "as_of")
    for m in [m for m in month_enc.labels if m is not None]:
        _check_month(m, "death_month")

    # Case side: one count table organisation x month x learning disability x avoidability
    # (cached), then months are summed into periods with a small 0/1 matrix.
    cells = _case_cells(index)
    period_labels = _period_of(month_enc.labels, period, as_of)
    uniq_periods = sorted({p for p in period_labels if p is not None})
    n_periods = len(uniq_periods) + 1  # the last one: cases without a month of death
    to_period = np.zeros((len(month_enc.labels), n_periods), dtype=np.int64)
    for m, (month, label) in enumerate(zip(month_enc.labels, period_labels, strict=True)):
        if month is None:
            to_period[m, -1] = 1  # kept visible under a <NA> period rather than vanishing
        elif label is not None:
            to_period[m, uniq_periods.index(label)] = 1
    table = np.einsum("omla,mp->opla", cells, to_period)
    if by_organisation:
        org_labels = list(index.strings("organisation_code").labels)
    else:
        org_labels = [None]
        table = table.sum(axis=0, keepdims=True)
    table = table.reshape(len(org_labels) * n_periods, 2, -1)
    mltn = list(domain.MORE_LIKELY_THAN_NOT)
    everyone = table.sum(axis=1)
    counts = {
        "reviewed": everyone.sum(axis=1),
        "more_likely_than_not": everyone[:, mltn].sum(axis=1),
        "ld_reviewed": table[:, 1, :].sum(axis=1),
        "ld_more_likely_than_not": table[:, 1, mltn].sum(axis=1),
    }
    for s in domain.AVOIDABILITY_SCORES:
        counts[f"avoidability_{s}"] = everyone[:, s]
    counts["avoidability_not_scored"] = everyone[:, 0]
    period_names = [*uniq_periods, None]
    case_table = pd.DataFrame({
        "organisation_code": np.repeat(np.array(org_labels, dtype=object), n_periods),
        "period": np.tile(np.array(period_names, dtype=object), len(org_labels)),
        **counts,
    })
    case_table = case_table[case_table["reviewed"] > 0]

    # Feed side: small, plain pandas.
    feed = deaths.loc[deaths["month"].notna(), list(domain.DEATH_COLUMNS)]
    feed_months = feed["month"].astype(str)
    unique_months = list(pd.unique(feed_months))
    month_period = dict(zip(unique_months, _period_of(unique_months, period, as_of),
                            strict=True))
    feed = feed.assign(period=feed_months.map(month_period).astype(object))
    feed = feed[feed["period"].notna()]
    if not by_organisation:
        feed = feed.assign(organisation_code=None)
    feed_table = (
        feed.groupby(["organisation_code", "period"], dropna=False, sort=False)
        [["deaths_in_scope", "learning_disability_deaths"]]
        .sum(min_count=1)
        .reset_index()
        .rename(columns={"learning_disability_deaths": "ld_deaths"})
    )
    feed_table["organisation_code"] = feed_table["organisation_code"].astype(object)
    feed_table["period"] = feed_table["period"].astype(object)

    table = feed_table.merge(case_table, on=["organisation_code", "period"], how="outer")
    for column in _COUNT_COLUMNS:
        table[column] = table[column].fillna(0).astype(np.int64)
    table["deaths_in_scope"] = table["deaths_in_scope"].astype("Int64")
    table["ld_deaths"] = table["ld_deaths"].astype("Int64")
    table["percent_reviewed"] = _percent(table["reviewed"], table["deaths_in_scope"])
    table["ld_percent_reviewed"] = _percent(table["ld_reviewed"], table["ld_deaths"])
    table = table.sort_values(["organisation_code", "period"], na_position="last",
                              kind="mergesort").reset_index(drop=True)
    columns = [
        "organisation_code", "period", "deaths_in_scope", "reviewed", "percent_reviewed",
        "more_likely_than_not", "ld_deaths", "ld_reviewed", "ld_percent_reviewed",
        "ld_more_likely_than_not", *(f"avoidability_{s}" for s in domain.AVOIDABILITY_SCORES),
        "avoidability_not_scored",
    ]
    if not by_organisation:
        columns.remove("organisation_code")
    table = table[columns]
    for column in ("organisation_code", "period"):
        if column in table:
            table[column] = table[column].astype("string")
    return table


def _case_cells(index: ReviewIndex) -> np.ndarray:
    """Reviewed cases counted by organisation x month of death x learning disability (no, yes)
    x avoidability (0 = not scored, 1-6); cached on the index, shared by every period."""
    key = "lfd_cells"
    if key not in index._cache:
        cases = index.cases()
        org = index.strings("organisation_code")
        month = index.strings("death_month")
        n_avoid = len(domain.AVOIDABILITY_SCORES) + 1
        cell = ((org.codes[cases.rows] * month.size + month.codes[cases.rows]) * 2
                + cases.learning_disability) * n_avoid + cases.avoidability
        shape = (org.size, month.size, 2, n_avoid)
        index._cache[key] = np.bincount(cell, minlength=int(np.prod(shape))).reshape(shape)
    return index._cache[key]


def _percent(count: pd.Series, total: pd.Series) -> np.ndarray:
    total = total.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    count = count.to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 100.0 * count / np.where(total > 0, total, 1), np.nan)
