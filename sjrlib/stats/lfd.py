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
  missing, and when more deaths were reviewed than the feed has: ``reviews_exceed_deaths`` flags
  that, a feed or coding error, instead of printing 300%).
* A period whose feed lacks one of its months (up to ``as_of``) has deaths ``<NA>``, not the
  sum of the other months; ``feed_missing_months`` names them (``"2024-05"``). Per
  organisation; nationally (``by_organisation=False``) only a month missing for every
  organisation is seen. Disclosure control (suppression, rounding) is applied later, by
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

    # Periods: those of the reviewed cases' months and of the feed's months, sorted, then one
    # for cases without a month of death (kept visible under a <NA> period, not dropped).
    feed = deaths.loc[deaths["month"].notna(), list(domain.DEATH_COLUMNS)]
    feed_month_codes, feed_months = pd.factorize(feed["month"].astype(str).to_numpy(object))
    feed_month_period = _period_of(list(feed_months), period, as_of)
    period_labels = _period_of(month_enc.labels, period, as_of)
    periods: list = sorted({p for p in (*period_labels, *feed_month_period) if p is not None})
    period_pos = {p: i for i, p in enumerate(periods)}
    periods.append(None)
    n_periods = len(periods)

    # Organisations: those with reviewed cases or feed rows, sorted (a missing code last).
    review_orgs = index.strings("organisation_code").labels
    if by_organisation:
        feed_org_codes, feed_orgs = pd.factorize(feed["organisation_code"].to_numpy(object),
                                                 use_na_sentinel=True)
        named = {o for o in review_orgs if o is not None} | set(feed_orgs)
        org_labels: list = sorted(named)
        if None in review_orgs or (feed_org_codes < 0).any():
            org_labels.append(None)
        org_pos = {o: i for i, o in enumerate(org_labels)}
        review_org_index = np.array([org_pos[o] for o in review_orgs], dtype=np.int64)
        feed_org_index = np.array([org_pos[o] for o in feed_orgs] + [len(org_labels) - 1],
                                  dtype=np.int64)[feed_org_codes]
    else:
        org_labels = [None]
        review_org_index = None
        feed_org_index = np.zeros(len(feed), dtype=np.int64)
    n_orgs = len(org_labels)

    # Case side: the cached count table organisation x month x learning disability x
    # avoidability, months summed into periods with a 0/1 matrix, organisations placed.
    cells = _case_cells(index)
    to_period = np.zeros((len(month_enc.labels), n_periods), dtype=np.int64)
    for m, (month, label) in enumerate(zip(month_enc.labels, period_labels, strict=True)):
        if month is None:
            to_period[m, -1] = 1
        elif label is not None:
            to_period[m, period_pos[label]] = 1
    by_period = np.moveaxis(np.moveaxis(cells, 1, -1) @ to_period, -1, 1)  # o x p x ld x a
    table = np.zeros((n_orgs, n_periods, *by_period.shape[2:]), dtype=np.int64)
    if by_organisation:
        table[review_org_index] = by_period  # distinct organisations: a placement
    else:
        table[0] = by_period.sum(axis=0)
    table = table.reshape(n_orgs * n_periods, 2, len(domain.AVOIDABILITY_SCORES) + 1)
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

    # Feed side: sums over the feed's months in each period; <NA> where every value summed is
    # missing, and where the feed has no row at all.
    feed_period_index = np.array([period_pos[p] if p is not None else -1
                                  for p in feed_month_period], dtype=np.int64)[feed_month_codes]
    in_window = feed_period_index >= 0
    cell = (feed_org_index * n_periods + feed_period_index)[in_window]
    size = n_orgs * n_periods
    has_feed = np.bincount(cell, minlength=size) > 0
    sums = {}
    for column in ("deaths_in_scope", "learning_disability_deaths"):
        values = feed[column].to_numpy(dtype=np.float64, na_value=np.nan)[in_window]
        known = ~np.isnan(values)
        total = np.bincount(cell, weights=np.where(known, values, 0.0), minlength=size)
        n_known = np.bincount(cell, weights=known, minlength=size)
        sums[column] = np.where(n_known > 0, total, np.nan)

    # A period whose feed lacks one of its months (up to as_of) has no known deaths: the sum of
    # the other months would pass for the period's deaths (45% reviewed instead of not known).
    missing_months = _missing_feed_months(
        cell, np.asarray(feed_months, dtype=object), feed_month_codes[in_window],
        periods[:-1], period, as_of, size, n_periods, [*month_enc.labels, *feed_months])
    for column in sums:
        sums[column] = np.where(missing_months == "", sums[column], np.nan)

    # Rows: every organisation/period with a feed row or a reviewed case, in sorted order
    # (the grid is organisation-major, both axes sorted with <NA> last).
    keep = has_feed | (counts["reviewed"] > 0)
    deaths_in_scope = pd.array(sums["deaths_in_scope"][keep], dtype="Float64").astype("Int64")
    ld_deaths = pd.array(sums["learning_disability_deaths"][keep],
                         dtype="Float64").astype("Int64")
    kept = {name: values[keep].astype(np.int64) for name, values in counts.items()}
    columns: dict[str, object] = {}
    if by_organisation:
        columns["organisation_code"] = pd.array(
            np.repeat(np.array(org_labels, dtype=object), n_periods)[keep], dtype="string")
    columns["period"] = pd.array(np.tile(np.array(periods, dtype=object), n_orgs)[keep],
                                 dtype="string")
    columns["deaths_in_scope"] = deaths_in_scope
    columns["reviewed"] = kept["reviewed"]
    columns["percent_reviewed"] = _percent(kept["reviewed"], deaths_in_scope)
    columns["more_likely_than_not"] = kept["more_likely_than_not"]
    columns["ld_deaths"] = ld_deaths
    columns["ld_reviewed"] = kept["ld_reviewed"]
    columns["ld_percent_reviewed"] = _percent(kept["ld_reviewed"], ld_deaths)
    columns["ld_more_likely_than_not"] = kept["ld_more_likely_than_not"]
    for name in _COUNT_COLUMNS[4:]:
        columns[name] = kept[name]
    columns["feed_missing_months"] = pd.array(
        [m or None for m in missing_months[keep]], dtype="string")
    columns["reviews_exceed_deaths"] = _exceeds(kept["reviewed"], deaths_in_scope)
    columns["ld_reviews_exceed_deaths"] = _exceeds(kept["ld_reviewed"], ld_deaths)
    for flag, percent in (("reviews_exceed_deaths", "percent_reviewed"),
                          ("ld_reviews_exceed_deaths", "ld_percent_reviewed")):
        columns[percent] = np.where(columns[flag], np.nan, columns[percent])
    return pd.DataFrame(columns, index=pd.RangeIndex(int(keep.sum())))


def _exceeds(count: np.ndarray, total) -> np.ndarray:
    """More reviewed deaths than deaths in the feed (a feed or coding error, not 300%)."""
    total = pd.array(total, dtype="Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        return ~np.isnan(total) & (np.asarray(count, dtype=np.float64) > total)


def _missing_feed_months(cell: np.ndarray, feed_months: np.ndarray, month_codes: np.ndarray,
                         periods: list, period: str, as_of: str, size: int, n_periods: int,
                         known_months: list) -> np.ndarray:
    """For each organisation x period cell: the months of the period (up to ``as_of``) with
    no feed row, comma-separated; "" when the feed has them all (or has none at all: then
    the period's deaths are not known anyway and the whole period is missing)."""
    out = np.full(size, "", dtype=object)
    if size == 0 or not len(cell):
        return out
    months = sorted({m for m in known_months if m is not None and m <= as_of})
    if not months:
        return out
    start = _shift(months[0], -12)
    calendar, m = [], start
    while m <= as_of:
        calendar.append(m)
        m = _shift(m, 1)
    labels = _period_of(calendar, period, as_of)
    expected: dict[str, list[str]] = {}
    for month, label in zip(calendar, labels, strict=True):
        if label is not None:
            expected.setdefault(label, []).append(month)
    present: dict[int, set[str]] = {}
    for c, code in zip(cell.tolist(), month_codes.tolist(), strict=True):
        present.setdefault(c, set()).add(str(feed_months[code]))
    for c, have in present.items():
        label = periods[c % n_periods]
        lacking = [m for m in expected.get(label, []) if m not in have]
        if lacking:
            out[c] = ", ".join(lacking)
    return out


def _shift(month: str, by: int) -> str:
    y, m = int(month[:4]), int(month[5:]) - 1 + by
    return f"{y + m // 12:04d}-{m % 12 + 1:02d}"


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


def _percent(count: np.ndarray, total) -> np.ndarray:
    total = pd.array(total, dtype="Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    count = np.asarray(count, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 100.0 * count / np.where(total > 0, total, 1), np.nan)
