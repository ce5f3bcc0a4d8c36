"""How complete the data behind a report is: its as-at date, the quarters still filling, and
what changed since the last report.

Learning from Deaths figures for a recent quarter are not final: reviews of its deaths are
still being written (a draft is not counted), and deaths whose first-stage review found poor
care are still waiting for their second-stage review, which may change the avoidability count.
The guidance expects revised estimates once late reviews are done. So a report

* states the data's **as-at** moment (when the reviews were read from the store);
* gives a **completeness table** per quarter: deaths with only a draft review, deaths waiting for
  a second-stage review, and whether the quarter is final or provisional;
* marks a **provisional** quarter in its tables (:func:`provisional_quarters`): one that ended
  less than :data:`SETTLE_MONTHS` full months before the as-at date, or in which more than
  :data:`DRAFT_SHARE` of the deaths with a review have only a draft;
* keeps **what each run published** (:class:`PublishedHistory`, a small JSON file beside the
  report) and says which published figures changed since the previous report, quarter by
  quarter, with the earlier and the current figure. A re-run on the same data adds nothing and
  gives the same statement.

Only published (displayed) figures are kept and compared, so the history of a public report
holds nothing disclosure control hid.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sjrlib.stats._reviews import financial_quarter

__all__ = [
    "DRAFT_SHARE",
    "as_at_paragraph",
    "completeness_table",
    "SETTLE_MONTHS",
    "PublishedHistory",
    "Revision",
    "as_at_words",
    "draft_cases",
    "provisional_quarters",
    "quarter_completeness",
    "quarter_months",
    "read_draft_rows",
    "read_draft_cases",
]

SETTLE_MONTHS = 3
"""Full months after a quarter ends before its figures are taken as final (reviews are usually
done within about three months of a death; a quarter is provisional until then)."""

DRAFT_SHARE = 0.05
"""A quarter in which more than this share of the deaths with a review (submitted or draft) have
only a draft is still filling, whatever the calendar says. (A settled quarter keeps a few
abandoned drafts: about 0.5% in the synthetic data.)"""

DRAFT_COLUMNS = ("organisation_code", "death_month", "drafts_outstanding")


# ------------------------------------------------------------------------------ reading ----
def draft_cases(drafts: pd.DataFrame, submitted: pd.DataFrame) -> pd.DataFrame:
    """Deaths with only a draft review, per organisation and month of death.

    Parameters
    ----------
    drafts
        Draft reviews (at least ``organisation_code``, ``case_id``, ``death_month``).
    submitted
        The submitted and locked reviews already read (``organisation_code``, ``case_id``): a
        death that has one of these is not outstanding, whatever drafts it also has.

    Returns
    -------
    pandas.DataFrame
        ``organisation_code``, ``death_month``, ``drafts_outstanding`` (distinct deaths).
    """
    if drafts.empty:
        return pd.DataFrame({c: pd.Series(dtype="Int64" if c == "drafts_outstanding"
                                          else "string") for c in DRAFT_COLUMNS})
    done = pd.MultiIndex.from_frame(submitted[["organisation_code", "case_id"]].astype(str))
    keys = pd.MultiIndex.from_frame(drafts[["organisation_code", "case_id"]].astype(str))
    open_ = drafts[~keys.isin(done)].drop_duplicates(["organisation_code", "case_id"])
    out = (open_.groupby(["organisation_code", "death_month"], observed=True).size()
           .rename("drafts_outstanding").reset_index())
    out["organisation_code"] = out["organisation_code"].astype("string")
    out["death_month"] = out["death_month"].astype("string")
    out["drafts_outstanding"] = out["drafts_outstanding"].astype("Int64")
    return out


def read_draft_rows(session, start_month: str | None = None, end_month: str | None = None,
                    organisation_codes: list[str] | None = None) -> pd.DataFrame:
    """The draft reviews in scope, through a governed session: an audited read of the three
    columns :func:`draft_cases` needs (no free text)."""
    return session.reviews(
        organisation_codes=organisation_codes, start_month=start_month, end_month=end_month,
        status=["draft"], columns=["organisation_code", "case_id", "death_month"],
    )


def read_draft_cases(session, start_month: str, end_month: str,
                     organisation_codes: list[str] | None, submitted: pd.DataFrame
                     ) -> pd.DataFrame:
    """:func:`draft_cases` of a window, read through a governed session
    (:func:`read_draft_rows`)."""
    return draft_cases(read_draft_rows(session, start_month, end_month, organisation_codes),
                       submitted)


# ------------------------------------------------------------------------- quarters ----
def _month_start(month: str) -> dt.date:
    return dt.date(int(month[:4]), int(month[5:7]), 1)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class QuarterStatus:
    """Whether a quarter's figures are final, and why not."""

    quarter: str
    provisional: bool
    reason: str


def provisional_quarters(
    quarter_months: Mapping[str, Iterable[str]],
    as_at: dt.date,
    *,
    reviewed: Mapping[str, int] | None = None,
    drafts: Mapping[str, int] | None = None,
) -> dict[str, QuarterStatus]:
    """The status of each quarter.

    Parameters
    ----------
    quarter_months
        ``{quarter label: its months ("YYYY-MM")}``.
    as_at
        The data's as-at date.
    reviewed, drafts
        Per quarter: deaths with a submitted review, and deaths with only a draft review.

    A quarter is provisional when fewer than :data:`SETTLE_MONTHS` full months have passed
    since its last month ended, or when more than :data:`DRAFT_SHARE` of its deaths with a
    review (``reviewed + drafts``) have only a draft.
    """
    out = {}
    for quarter, months in quarter_months.items():
        last = max(months)
        settled_from = _add_months(_month_start(last), SETTLE_MONTHS + 1)
        n_reviewed = int((reviewed or {}).get(quarter, 0) or 0)
        n_drafts = int((drafts or {}).get(quarter, 0) or 0)
        if as_at < settled_from:
            reason = (f"provisional: fewer than {SETTLE_MONTHS} full months since the quarter "
                      "ended, so reviews are still being done")
        elif n_drafts and n_drafts > DRAFT_SHARE * (n_reviewed + n_drafts):
            reason = "provisional: reviews of its deaths are still being completed"
        else:
            out[quarter] = QuarterStatus(quarter, False, "final")
            continue
        out[quarter] = QuarterStatus(quarter, True, reason)
    return out


def quarter_months(months: Iterable[str]) -> dict[str, list[str]]:
    """``{financial quarter ("2024/25 Q1"): its months}`` of ``months``, in their order."""
    out: dict[str, list[str]] = {}
    for m in months:
        out.setdefault(financial_quarter(m), []).append(m)
    return out


def quarter_completeness(
    reviews: pd.DataFrame,
    deaths: pd.DataFrame,
    drafts: pd.DataFrame,
    months: Iterable[str],
    as_at: dt.date,
) -> pd.DataFrame:
    """Completeness per financial quarter of ``months``, exact counts (disclosure control is
    the caller's).

    Parameters
    ----------
    reviews
        Submitted and locked reviews (a review frame without drafts).
    deaths
        Deaths feed rows (``month``, ``deaths_in_scope``).
    drafts
        :func:`draft_cases` output.
    months
        The report period's months.
    as_at
        The data's as-at date.

    Returns
    -------
    pandas.DataFrame
        Index: quarter labels in order. Columns ``deaths_in_scope`` (Int64, <NA> when the feed
        lacks a month), ``drafts_outstanding``, ``awaiting_second_stage`` (deaths whose
        first-stage overall care was 1-2 and which have no second-stage review),
        ``reviewed`` (deaths with a submitted review), ``provisional`` (bool) and ``status``
        (the reason in words).
    """
    months = sorted(set(months))
    by_quarter = quarter_months(months)
    labels = list(by_quarter)
    quarter_of = {m: financial_quarter(m) for m in months}

    fed = deaths[deaths["month"].isin(months)]
    known = {q: set(fed.loc[fed["month"].isin(ms), "month"]) == set(ms)
             for q, ms in by_quarter.items()}
    sums = fed.groupby(fed["month"].map(quarter_of))["deaths_in_scope"].sum()
    death_counts = pd.Series(
        [int(sums.get(q, 0)) if known[q] else pd.NA for q in labels], index=labels,
        dtype="Int64")

    d = drafts[drafts["death_month"].isin(months)]
    draft_counts = (d.groupby(d["death_month"].map(quarter_of))["drafts_outstanding"].sum()
                    .reindex(labels, fill_value=0).astype(int))

    awaiting = pd.Series(0, index=labels, dtype=int)
    reviewed = pd.Series(0, index=labels, dtype=int)
    inside = reviews[reviews["death_month"].isin(months)] if len(reviews) else reviews
    if len(inside):
        cases = inside.drop_duplicates(["organisation_code", "case_id"])
        reviewed = (cases["death_month"].map(quarter_of).value_counts()
                    .reindex(labels, fill_value=0).astype(int))
        first = inside[inside["review_stage"] == "first"]
        poor = first[first["score_overall"].isin([1, 2]).fillna(False)]
        second = inside[inside["review_stage"] == "second"]
        seen = pd.MultiIndex.from_frame(second[["organisation_code", "case_id"]].astype(str))
        poor = poor.drop_duplicates(["organisation_code", "case_id"])
        keys = pd.MultiIndex.from_frame(poor[["organisation_code", "case_id"]].astype(str))
        waiting = poor[~keys.isin(seen)]
        awaiting = (waiting["death_month"].map(quarter_of).value_counts()
                    .reindex(labels, fill_value=0).astype(int))

    status = provisional_quarters(by_quarter, as_at, reviewed=reviewed.to_dict(),
                                  drafts=draft_counts.to_dict())
    return pd.DataFrame({
        "deaths_in_scope": death_counts,
        "drafts_outstanding": draft_counts,
        "awaiting_second_stage": awaiting,
        "reviewed": reviewed,
        "provisional": [status[q].provisional for q in labels],
        "status": [status[q].reason for q in labels],
    }, index=pd.Index(labels, name="quarter"))


def as_at_words(moment: dt.datetime | dt.date | str) -> str:
    """``"4 December 2026, 09:12 UTC"`` (or the date alone for a date)."""
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    if isinstance(moment, dt.datetime):
        moment = moment.astimezone(dt.UTC)
        return f"{moment.day} {moment:%B %Y, %H:%M} UTC"
    return f"{moment.day} {moment:%B %Y}"


def as_at_date(moment: dt.datetime | dt.date | str) -> dt.date:
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    if isinstance(moment, dt.datetime):
        return moment.astimezone(dt.UTC).date()
    return moment


# ------------------------------------------------------------------- report parts ----
def as_at_paragraph(read_at: str, done: pd.DataFrame):
    """The data's as-at moment, what "provisional" means, and which quarters are (``done``:
    :func:`quarter_completeness` output)."""
    from sjrlib.report import narrative, tables

    provisional = [tables.plain_label(tables.quarter_label(q))
                   for q in done.index[done["provisional"]]]
    tail = (f" Provisional: {', '.join(provisional)}; their figures will change as late "
            "reviews are completed." if provisional else " Every quarter of the period is final.")
    return narrative.Paragraph(
        narrative.Strong(f"Data as at {as_at_words(read_at)}"),
        " (when the reviews were read from the store). A quarter is provisional until "
        f"{SETTLE_MONTHS} full months after it ends, or while more than {DRAFT_SHARE:.0%} of "
        "its reviewed deaths have only a draft review." + tail,
    )


def completeness_counts(groups: Mapping[str, pd.DataFrame], quarters: Iterable[str],
                        total_label: str) -> pd.DataFrame:
    """The exact counts of :func:`completeness_table`, the period total row included."""
    from sjrlib.report import tables

    counts = pd.DataFrame(index=[tables.quarter_label(q) for q in quarters])
    for name, frame in groups.items():
        prefix = f"{name}: d" if name else "D"
        wait = f"{name}: w" if name else "W"
        counts[f"{prefix}eaths with only a draft review"] = \
            frame["drafts_outstanding"].astype(int).to_numpy()
        counts[f"{wait}aiting for a second-stage review"] = \
            frame["awaiting_second_stage"].astype(int).to_numpy()
    counts.loc[total_label] = counts.sum()
    return counts


def completeness_table(groups: Mapping[str, pd.DataFrame], done: pd.DataFrame, rule,
                       total_label: str, withheld: pd.DataFrame | None = None,
                       pooled: list[pd.DataFrame] | None = None):
    """Per quarter and group (``{"": one organisation}`` or ``{"England": ..., ...}``): deaths
    with only a draft review and deaths waiting for a second-stage review, under disclosure
    control with the period total (primary and secondary suppression within the table), and
    whether the quarter's figures are final (``done``: the status of the whole).
    ``withheld``: cells to withhold besides the rule's (the national report's that would
    narrow an organisation's own); ``pooled``: each organisation's table as its report prints
    it, for :func:`sjrlib.disclosure.protect_counts`."""
    from sjrlib.report import tables

    counts = completeness_counts(groups, done.index, total_label)
    frame, beyond = tables.protect_pooled(counts, rule, total_row=total_label,
                                          withheld=withheld, pooled=pooled)
    frame["Figures"] = [("Provisional" if p else "Final") for p in done["provisional"]] + [""]
    return tables.noting_differencing(tables.ReportTable(
        frame, caption="Completeness: reviews still to come, by quarter of death",
        note=tables._note(rule, "A death with only a draft review is not counted as reviewed "
                          "until the review is submitted. Deaths whose first-stage overall care "
                          "was poor or very poor (1-2) wait for a second-stage review, which "
                          "may change the avoidability figures."),
        formats={"Figures": "text"}, total_rows=[total_label], index_name="Quarter",
    ), beyond)


# ------------------------------------------------------------------------ revisions ----
@dataclass(frozen=True)
class Revision:
    """One published figure that changed since the previous report."""

    quarter: str
    figure: str
    before: str
    now: str


class PublishedHistory:
    """What each run of one report published, kept as JSON beside the report (mode 0600).

    Each run is ``{"as_at": ISO time, "snapshot": data hash, "figures": {quarter: {figure:
    shown value}}}``. :meth:`compare` gives the figures that changed since the previous run on
    different data; :meth:`record` adds a run (nothing when the data are the same as the last
    run's, so a re-render neither duplicates nor hides a revision).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.runs: list[dict] = []
        if self.path.exists():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ValueError(f"{self.path}: not a published-figures history ({exc})") \
                    from None
            self.runs = list(data.get("runs", []))

    @staticmethod
    def figures(table: pd.DataFrame) -> dict[str, dict[str, str]]:
        """``{row label: {column: shown value}}`` of a table of the strings a report prints
        (``ReportTable.text_frame()``)."""
        out: dict[str, dict[str, str]] = {}
        for label, row in table.iterrows():
            out[str(label)] = {str(c): _shown(v) for c, v in row.items()}
        return out

    def previous(self, snapshot: str) -> dict | None:
        """The latest run on data other than ``snapshot``."""
        for run in reversed(self.runs):
            if run.get("snapshot") != snapshot:
                return run
        return None

    def compare(self, figures: Mapping[str, Mapping[str, str]], snapshot: str
                ) -> tuple[dict | None, list[Revision]]:
        before = self.previous(snapshot)
        if before is None:
            return None, []
        changes = []
        for quarter, row in figures.items():
            old = before["figures"].get(quarter)
            if old is None:
                continue
            for figure, value in row.items():
                if figure in old and old[figure] != value:
                    changes.append(Revision(quarter, figure, old[figure], value))
        return before, changes

    def record(self, figures: Mapping[str, Mapping[str, str]], *, snapshot: str,
               as_at: str) -> None:
        if self.runs and self.runs[-1].get("snapshot") == snapshot:
            return
        self.runs.append({"as_at": as_at, "snapshot": snapshot,
                          "figures": {q: dict(r) for q, r in figures.items()}})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"runs": self.runs}, fh, indent=1)
        os.replace(temporary, self.path)


def _shown(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
