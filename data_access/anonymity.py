"""k-anonymity of what an approval releases: quasi-identifiers generalised until every
combination holds at least k cases.

Pseudonyms stop two approvals' extracts being joined on ids, not on what the rows say: age,
sex, postcode district, days to death, specialty and period together single out most deaths.
So the quasi-identifiers an approval releases are generalised, one step at a time along fixed
ladders, until every combination of them (within each organisation, nation and region released,
which are never generalised) holds at least ``k`` distinct cases:

============================  ============================================================
quasi-identifier              ladder (level 0 first; the last level is the coarsest)
============================  ============================================================
circumstances (weekdays and   as recorded; banded (weekday or weekend, hours in 6-hour
hours of admission and death, blocks, location and admission type as recorded); dropped
location, admission type)
``review_date``               the approval's coarsening (month or quarter), quarter, year
``age_at_death``              5-year band, 10-year band, 20-year band (80+), dropped
``days_to_death``             band (0, 1, 2, 3-6, 7-13, 14-27, 28+), broad band (0-2,
                              3-13, 14+), dropped
``postcode_district``         district (``LS1``), area (``LS``), dropped
``specialty``                 as recorded, group (medical, surgical, critical and
                              emergency care), dropped
``sex``                       as recorded, dropped
``death_month`` (the period)  the approval's coarsening (month or quarter), quarter, year
============================  ============================================================

The levels are found by searching the lattice of all combinations of levels from the finest
up (Samarati's minimal generalisation): the first height (sum of steps) at which at most
:data:`SUPPRESSION_LIMIT` of the rows are left in groups smaller than ``k`` is searched whole,
and of its combinations the one leaving fewest such rows wins (ties: the finest period of
death, then sex, specialty, postcode, days to death, age, review date, circumstances). Those
rows are suppressed (withheld); if no combination holds, the coarsest is used and every row
still in a small group is suppressed. A larger ``k`` never gives a lower height. The levels
are decided on the approval's whole release (all its organisations, its whole period, every
approved field), never on one query's rows or columns, so two queries under one approval cannot
be differenced, and the same data and approval always give the same release.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sjrlib.form.registry import Privacy, registry

__all__ = [
    "DEFAULT_K",
    "FIXED_COLUMNS",
    "LADDERS",
    "MIN_K",
    "QUASI_IDENTIFIERS",
    "SUPPRESSION_LIMIT",
    "Anonymised",
    "k_anonymise",
    "period_values",
]

DEFAULT_K = 5
"""k when an approval does not say (``shared/spec/privacy-and-disclosure.md``)."""
MIN_K = 2
"""The smallest k an approval may set: below 2 a combination may single out one case."""
SUPPRESSION_LIMIT = 0.01
"""At most this share of rows is withheld rather than generalising a quasi-identifier further."""

CIRCUMSTANCES: tuple[str, ...] = ("admission_weekday", "death_weekday", "arrival_hour",
                                  "death_hour", "location_of_death", "admission_type")
"""Columns describing the admission and the death: one quasi-identifier, generalised together
(hours to 6-hour blocks and weekdays to weekday/weekend, then all dropped)."""

QUASI_IDENTIFIERS: dict[str, tuple[str, ...]] = {
    "circumstances": CIRCUMSTANCES,
    "review_date": ("review_date",),
    "age_at_death": ("age_at_death",),
    "days_to_death": ("days_to_death",),
    "postcode_district": ("postcode_district",),
    "specialty": ("specialty",),
    "sex": ("sex",),
    "death_month": ("death_month",),
}
"""Each quasi-identifier and the released columns it generalises (in tie-break order)."""

PERIODS = frozenset({"review_date", "death_month"})
"""Quasi-identifiers that are periods: never finer than the approval's date coarsening."""

FIXED_COLUMNS: tuple[str, ...] = ("organisation_code", "nation", "region")
"""Released as they are; k holds within each of their combinations."""

LADDERS: dict[str, tuple[str, ...]] = {
    "circumstances": ("as recorded", "banded", "dropped"),
    "age_at_death": ("5-year band", "10-year band", "20-year band (80+)", "dropped"),
    "sex": ("as recorded", "dropped"),
    "postcode_district": ("district", "area", "dropped"),
    "days_to_death": ("band", "broad band", "dropped"),
    "specialty": ("as recorded", "group", "dropped"),
    "review_date": ("month", "quarter", "year"),
    "death_month": ("month", "quarter", "year"),
}
"""The levels of each quasi-identifier, finest first."""

_UNCOVERED = set(registry().columns_of_privacy(Privacy.QUASI_IDENTIFIER)).difference(
    *QUASI_IDENTIFIERS.values())
if _UNCOVERED:  # a quasi-identifier declared without a ladder would be released as recorded
    raise RuntimeError(f"the field registry's quasi-identifiers {sorted(_UNCOVERED)} have no "
                       "generalisation here: add each to QUASI_IDENTIFIERS and LADDERS")

SURGICAL = frozenset({"general_surgery", "trauma_and_orthopaedics", "vascular_surgery",
                      "urology", "cardiothoracic_surgery", "neurosurgery", "plastic_surgery",
                      "ear_nose_and_throat", "ophthalmology", "obstetrics_and_gynaecology",
                      "gynaecology", "colorectal_surgery", "upper_gi_surgery"})
CRITICAL = frozenset({"critical_care", "emergency_medicine", "intensive_care",
                      "anaesthetics"})

_DAY_BANDS = ((0, "0"), (1, "1"), (2, "2"), (3, "3-6"), (7, "7-13"), (14, "14-27"),
              (28, "28+"))
_BROAD_DAY_BANDS = ((0, "0-2"), (3, "3-13"), (14, "14+"))
_AREA = re.compile(r"^([A-Za-z]{1,2})")
_MISSING = "\x00"


@dataclass(frozen=True)
class Anonymised:
    """The outcome of :func:`k_anonymise`.

    ``columns`` holds the generalised values of every released quasi-identifier column (on the
    input's index); ``kept`` is ``True`` for rows released, ``False`` for rows suppressed.
    """

    k: int
    levels: dict[str, str]
    columns: dict[str, pd.Series]
    kept: pd.Series
    suppressed: int
    quasi_identifiers: tuple[str, ...] = field(default=())

    def describe(self) -> dict:
        """What the manifest says: k, the quasi-identifiers, their levels, rows suppressed."""
        return {
            "k": self.k,
            "quasi_identifiers": list(self.quasi_identifiers),
            "generalised": dict(self.levels),
            "suppressed_rows": self.suppressed,
            "suppression_limit": SUPPRESSION_LIMIT,
        }


def _band(age: pd.Series, width: int, top: int) -> pd.Series:
    values = age.astype("Float64")
    low = (values // width * width).astype("Int64")
    text = low.clip(lower=18).astype("string") + "-" + (low + width - 1).astype("string")
    return text.where(values < top, f"{top}+").where(values.notna(), pd.NA).astype("string")


def _banded(days: pd.Series, bands) -> pd.Series:
    values = days.astype("Float64")
    out = pd.Series(pd.NA, index=days.index, dtype="string")
    for low, label in bands:
        out = out.mask(values >= low, label)
    return out.where(values.notna(), pd.NA).astype("string")


def _specialty_group(values: pd.Series) -> pd.Series:
    text = values.astype("string")

    def group(value: str) -> str:
        if value in SURGICAL or value.endswith("_surgery"):
            return "surgical"
        if value in CRITICAL:
            return "critical_and_emergency_care"
        return "medical"

    return text.map(group, na_action="ignore").astype("string")


def period_values(values: pd.Series, unit: str) -> pd.Series:
    """Months (``"YYYY-MM"`` strings or dates) as ``"YYYY-MM"``, ``"YYYY-Qn"`` or ``"YYYY"``."""
    if pd.api.types.is_datetime64_any_dtype(values):
        months = values.dt.strftime("%Y-%m").astype("string")
    else:
        months = values.astype("string")
    if unit == "month":
        return months
    year = months.str.slice(0, 4)
    if unit == "year":
        return year.astype("string")
    quarter = ((months.str.slice(5, 7).astype("Int64") - 1) // 3 + 1).astype("string")
    return (year + "-Q" + quarter).astype("string")


def _circumstance(column: str, values: pd.Series) -> pd.Series:
    """One circumstance column at the ``banded`` level."""
    if column.endswith("_hour"):
        hours = values.astype("Float64")
        low = (hours // 6 * 6).astype("Int64")
        return (low.astype("string").str.zfill(2) + "-"
                + (low + 5).astype("string").str.zfill(2)).astype("string")
    if column.endswith("_weekday"):
        text = values.astype("string")
        return text.isin(["sat", "sun"]).map({True: "weekend", False: "weekday"}) \
            .astype("string").where(text.notna(), pd.NA)
    return values.astype("string")


def _generalise(qi: str, values: pd.Series, level: str, column: str = "") -> pd.Series:
    if level == "dropped":
        return pd.Series(pd.NA, index=values.index, dtype="string")
    if qi == "circumstances":
        return values.astype("string") if level == "as recorded" \
            else _circumstance(column, values)
    if qi in PERIODS:
        return period_values(values, level)
    if qi == "age_at_death":
        width, top = {"5-year band": (5, 95), "10-year band": (10, 90),
                      "20-year band (80+)": (20, 80)}[level]
        return _band(values, width, top)
    if qi == "days_to_death":
        return _banded(values, _DAY_BANDS if level == "band" else _BROAD_DAY_BANDS)
    if qi == "postcode_district" and level == "area":
        return values.astype("string").str.extract(_AREA, expand=False).str.upper() \
            .astype("string")
    if qi == "specialty" and level == "group":
        return _specialty_group(values)
    return values.astype("string")


def _ladder(qi: str, coarsening: str) -> tuple[str, ...]:
    ladder = LADDERS[qi]
    if qi in PERIODS and coarsening == "quarter":
        return ladder[1:]  # never finer than the approval's coarsening
    return ladder


def _codes(values: pd.Series) -> np.ndarray:
    """Integer codes of a column's values, missing values one more code of their own."""
    return pd.factorize(values.astype("string").fillna(_MISSING))[0].astype(np.int64)


def _small_rows(keys: Sequence[np.ndarray], cases: np.ndarray, k: int) -> np.ndarray:
    """Rows whose combination of ``keys`` (integer codes) holds fewer than ``k`` cases."""
    combined = np.zeros(len(cases), dtype=np.int64)
    for codes in keys:
        combined = pd.factorize(combined * (int(codes.max(initial=0)) + 1) + codes)[0]
    pairs = pd.DataFrame({"g": combined, "c": cases}).drop_duplicates()
    distinct = np.bincount(pairs["g"].to_numpy(), minlength=int(combined.max(initial=0)) + 1)
    return distinct[combined] < k


def k_anonymise(frame: pd.DataFrame, *, fields: Sequence[str], k: int,
                coarsening: str) -> Anonymised:
    """Generalise the quasi-identifiers among ``fields`` of a review frame to k-anonymity.

    Parameters
    ----------
    frame
        The approval's whole release, as stored (before pseudonymisation): its ``case_id``
        counts cases.
    fields
        The fields the approval releases; only quasi-identifiers among them are generalised
        and only fixed columns among them split the groups.
    k
        Every released combination holds at least ``k`` distinct cases (``k >= 2``).
    coarsening
        The approval's date coarsening (``month`` or ``quarter``): the finest period level.

    Returns
    -------
    Anonymised
        Generalised columns, levels, the rows kept and the number suppressed.
    """
    if k < MIN_K:
        raise ValueError(f"k must be at least {MIN_K}, not {k}")
    used = [c for c in frame.columns if c == "case_id" or c in fields]
    fingerprint = (tuple(fields), k, coarsening, len(frame),
                   int(pd.util.hash_pandas_object(frame[used], index=True).sum()))
    if fingerprint in _CACHE:
        return _CACHE[fingerprint]
    result = _search(frame, fields=fields, k=k, coarsening=coarsening)
    _CACHE[fingerprint] = result
    while len(_CACHE) > _CACHE_SIZE:
        del _CACHE[next(iter(_CACHE))]
    return result


_CACHE: dict[tuple, Anonymised] = {}
_CACHE_SIZE = 8
"""Searches are remembered for the same release (same fields, k, coarsening and data, hashed):
a researcher's repeated queries under one approval do not search the lattice again."""


def _search(frame: pd.DataFrame, *, fields: Sequence[str], k: int,
            coarsening: str) -> Anonymised:
    released = set(fields)
    qis = [q for q, cols in QUASI_IDENTIFIERS.items() if released.intersection(cols)]
    fixed = [c for c in FIXED_COLUMNS if c in released and c in frame.columns]
    ladders = {q: _ladder(q, coarsening) for q in qis}
    generalised = {(q, c, level): _generalise(q, frame[c], ladders[q][level], c)
                   for q in qis for c in QUASI_IDENTIFIERS[q] if c in released
                   for level in range(len(ladders[q]))}
    codes = {key: _codes(values) for key, values in generalised.items()}
    fixed_codes = [_codes(frame[c]) for c in fixed]
    row_ids = pd.Series([f"\x00row{i}" for i in range(len(frame))], index=frame.index,
                        dtype="string")
    cases = _codes(frame["case_id"].astype("string").fillna(row_ids))

    def small_at(levels: Sequence[int]) -> np.ndarray:
        keys = [*fixed_codes, *(codes[(q, c, level)] for q, level in zip(qis, levels)
                                for c in QUASI_IDENTIFIERS[q] if c in released)]
        return _small_rows(keys, cases, k)

    limit = int(SUPPRESSION_LIMIT * len(frame))
    nodes = sorted(itertools.product(*(range(len(ladders[q])) for q in qis)),
                   key=lambda node: (sum(node), tuple(reversed(node))))
    best = None
    for node in nodes:
        if best is not None and sum(node) > sum(best[0]):
            break  # the lowest height that holds has been searched whole
        small = small_at(node)
        suppressed = int(small.sum())
        if suppressed <= limit and (best is None or suppressed < best[1]):
            best = (node, suppressed, small)
    if best is None:  # nothing holds within the limit: the coarsest, the rest suppressed
        node = nodes[-1] if nodes else ()
        small = small_at(node)
        best = (node, int(small.sum()), small)
    node, suppressed, small = best
    return Anonymised(
        k=k,
        levels={q: ladders[q][level] for q, level in zip(qis, node)},
        columns={c: generalised[(q, c, level)] for q, level in zip(qis, node)
                 for c in QUASI_IDENTIFIERS[q] if c in released},
        kept=pd.Series(~small, index=frame.index),
        suppressed=suppressed,
        quasi_identifiers=tuple(c for q in qis for c in QUASI_IDENTIFIERS[q] if c in released),
    )
