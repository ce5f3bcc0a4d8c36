"""The data a report uses: read through the governed session, or from a slice the batch prepared.

A report reads its data once, at the start, as one :class:`ReportData`: the submitted and locked
reviews (drafts excluded) and the deaths of the months it shows (the report period, and the
trend window of ``trend_months`` before its end), and the organisations. Its
:attr:`ReportData.snapshot` is a SHA-256 over exactly those rows, printed in the report's stamp:
the same rows give the same hash on any machine.

A single report opens the governed session itself (``data_access.open_session``), as the user
its parameters name (by default the person running it), and checks that they may produce it
(:mod:`sjrlib.report.access`: a lead cannot produce the national report over their own
organisation). The batch runner instead reads the whole period once, as the person who starts it
(one audited read rather than one per organisation), and writes one slice per organisation into
a private temporary directory that it deletes afterwards; each notebook then reads its slice
(``data_file``). The rows are the same either way.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sjrlib.form.registry import registry
from sjrlib.report.params import (
    NationalParameters,
    Period,
    TrustParameters,
    shift_month,
)

__all__ = [
    "ReportData",
    "load_report_data",
    "read_window",
    "snapshot_hash",
    "trend_start",
    "write_slices",
]

@dataclass
class ReportData:
    """The rows one report uses.

    Attributes
    ----------
    reviews
        Review frame (plus ``nation``, ``region``, ``version``) of the trend window, no drafts.
    deaths
        Deaths frame of the trend window.
    organisations
        Organisations frame (all the report may name).
    period
        The report period.
    trend_start
        First month of the trend window.
    drafts
        Deaths with only a draft review per organisation and month
        (:func:`sjrlib.report.completeness.draft_cases`); None when not read.
    read_at
        When the rows were read from the store (ISO 8601, UTC): the data's as-at moment.
    """

    reviews: pd.DataFrame
    deaths: pd.DataFrame
    organisations: pd.DataFrame
    period: Period
    trend_start: str
    snapshot: str = field(default="")
    drafts: pd.DataFrame | None = None
    read_at: str = ""

    def __post_init__(self) -> None:
        if not self.snapshot:
            frames = (self.reviews, self.deaths)
            if self.drafts is not None:
                frames += (self.drafts,)
            self.snapshot = snapshot_hash(*frames)
        if not self.read_at:
            self.read_at = now_utc()

    def period_reviews(self) -> pd.DataFrame:
        """Reviews whose death month lies in the report period."""
        months = self.reviews["death_month"]
        keep = (months >= self.period.start_month) & (months <= self.period.end_month)
        return self.reviews[keep.fillna(False)]

    def period_deaths(self) -> pd.DataFrame:
        """Deaths rows of the report period."""
        months = self.deaths["month"]
        return self.deaths[(months >= self.period.start_month) & (months <= self.period.end_month)]

    def organisation_name(self, code: str) -> str:
        row = self.organisations[self.organisations["organisation_code"] == code]
        return str(row["name"].iloc[0]) if len(row) else code


def now_utc() -> str:
    """The current moment, ISO 8601 in UTC to the second."""
    import datetime as dt

    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def trend_start(period: Period, trend_months: int) -> str:
    """First month of a trend window of ``trend_months`` ending with the period's last month,
    never later than the period's own first month."""
    start = shift_month(period.end_month, -(trend_months - 1))
    return min(start, period.start_month)


def snapshot_hash(*frames: pd.DataFrame) -> str:
    """SHA-256 of the rows of ``frames``, independent of row order and of the index.

    Each frame is reduced to its sorted per-row hashes (``pandas.util.hash_pandas_object``) with
    its column names, so the same rows give the same hash whatever order the store returned them.
    """
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(("|".join(map(str, frame.columns)) + "\n").encode())
        rows = np.sort(pd.util.hash_pandas_object(frame, index=False).to_numpy())
        digest.update(rows.tobytes())
    return digest.hexdigest()


FREE_TEXT_COLUMNS: tuple[str, ...] = registry().free_text_columns()
"""Free-text columns no report uses: dropped as soon as they are read, so they never reach a
slice file, a kernel or a page (and the slices stay small)."""


def _without_drafts(reviews: pd.DataFrame) -> pd.DataFrame:
    keep = reviews["status"] != "draft"
    reviews = reviews.drop(columns=[c for c in FREE_TEXT_COLUMNS if c in reviews.columns])
    return reviews[keep.fillna(True)].reset_index(drop=True)


def read_window(session, start_month: str, end_month: str,
                organisation_codes: list[str] | None = None
                ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Reviews (no drafts, no free text), deaths and organisations of a window, through a
    governed session."""
    reviews = session.reviews(
        organisation_codes=organisation_codes, start_month=start_month, end_month=end_month,
        status=["submitted", "locked"],
    )
    deaths = session.deaths(
        organisation_codes=organisation_codes, start_month=start_month, end_month=end_month
    )
    organisations = session.organisations()
    return _without_drafts(reviews), deaths.reset_index(drop=True), organisations


def load_report_data(params: NationalParameters | TrustParameters) -> ReportData:
    """The :class:`ReportData` for validated report parameters.

    Reads the slice ``params.data_file`` when the batch runner prepared one, else opens the
    governed session as ``params.user`` (None: the person running it) and refuses
    (``AccessDenied``, audited) a user who may not produce the report.
    """
    period = params.resolved_period()
    start = trend_start(period, params.trend_months)
    if params.data_file:
        with open(params.data_file, "rb") as fh:
            part = pickle.load(fh)
        return ReportData(part["reviews"], part["deaths"], part["organisations"], period, start,
                          drafts=part.get("drafts"), read_at=part.get("read_at", ""))
    codes = [params.organisation_code] if isinstance(params, TrustParameters) else None
    from data_access import open_session
    from data_access.store import existing_store_url, get_engine
    from sjrlib.report.access import check_report_access
    from sjrlib.report.completeness import read_draft_cases

    engine = get_engine(existing_store_url(params.db))
    try:
        with open_session(user=params.user, db=engine, tool="report") as session:
            check_report_access(session, "national" if codes is None else "trust", codes or (),
                                engine=engine)
            read_at = now_utc()
            reviews, deaths, organisations = read_window(session, start, period.end_month,
                                                         codes)
            drafts = read_draft_cases(session, start, period.end_month, codes, reviews)
    finally:
        engine.dispose()
    return ReportData(reviews, deaths, organisations, period, start, drafts=drafts,
                      read_at=read_at)


def write_slices(
    reviews: pd.DataFrame,
    deaths: pd.DataFrame,
    organisations: pd.DataFrame,
    codes: list[str],
    directory: str | Path,
    *,
    drafts: pd.DataFrame | None = None,
    read_at: str = "",
) -> dict[str, Path]:
    """Write one slice file per organisation (and ``"national"``) for the batch's notebooks.

    ``drafts`` (deaths with only a draft review, per organisation and month) and ``read_at``
    (when the batch read the store) go into every slice, so every report of a batch states the
    same as-at moment.

    The directory should be private (``tempfile.mkdtemp`` makes it mode 0700) and deleted after
    the batch: the slices hold record-level rows.
    """
    directory = Path(directory)
    read_at = read_at or now_utc()
    paths: dict[str, Path] = {}
    by_review = dict(tuple(reviews.groupby("organisation_code", sort=False, observed=True)))
    by_death = dict(tuple(deaths.groupby("organisation_code", sort=False, observed=True)))
    by_draft = {} if drafts is None else dict(
        tuple(drafts.groupby("organisation_code", sort=False, observed=True)))
    empty_r, empty_d = reviews.iloc[0:0], deaths.iloc[0:0]
    empty_x = None if drafts is None else drafts.iloc[0:0]
    for code in codes:
        part = {
            "reviews": by_review.get(code, empty_r).reset_index(drop=True),
            "deaths": by_death.get(code, empty_d).reset_index(drop=True),
            "organisations": organisations[organisations["organisation_code"] == code]
            .reset_index(drop=True),
            "drafts": None if drafts is None else by_draft.get(code, empty_x)
            .reset_index(drop=True),
            "read_at": read_at,
        }
        paths[code] = _dump(part, directory / f"{code}.pkl")
    whole = {"reviews": reviews, "deaths": deaths, "organisations": organisations,
             "drafts": drafts, "read_at": read_at}
    paths["national"] = _dump(whole, directory / "national.pkl")
    return paths


def _dump(obj: dict, path: Path) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return path
