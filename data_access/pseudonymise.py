"""Pseudonymised, coarsened views of review data for approved researchers.

Ids are replaced with a keyed hash, HMAC-SHA256 with a secret that belongs to one approval
(32 random bytes made when the approval is added, kept in the approval key file outside the store:
:mod:`data_access.approval_keys`). The same store id
gives the same pseudonym within one approval, so a second-stage review still points at its first
stage, but pseudonyms of two approvals cannot be joined without the secrets, which no session
returns. Ids of different kinds are hashed in separate domains (``review:``, ``case:``,
``reviewer:``), so a case id never collides with a review id of the same text.

Pseudonyms alone do not stop linkage on what the rows say: the quasi-identifiers are generalised
to k-anonymity first (:mod:`data_access.anonymity`) and handed to :func:`researcher_view`.
Theme codes, when an approval releases them, are a table linked to those rows by the same
review pseudonym (:func:`researcher_theme_codes`), holding codes of released rows only.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence

import pandas as pd

from sjrlib.form.registry import registry
from sjrlib.privacy import redact

__all__ = [
    "ID_DOMAINS",
    "PSEUDONYM_LENGTH",
    "coarsen_date",
    "coarsen_month",
    "pseudonym",
    "pseudonymise_series",
    "THEME_CODE_COLUMNS",
    "researcher_theme_codes",
    "researcher_view",
    "review_sequence",
]

PSEUDONYM_LENGTH = 20
"""Hex characters kept of the HMAC (80 bits: no collision expected below ~10^12 ids)."""

ID_DOMAINS: dict[str, str] = {
    "review_id": "review",
    "second_review_of": "review",  # same domain as review_id so the link survives
    "case_id": "case",
    "reviewer_id": "reviewer",
}
"""Review-frame columns that hold ids, and the hash domain of each."""

COARSENINGS = ("month", "quarter")

FREE_TEXT_COLUMNS: frozenset[str] = frozenset(registry().free_text_columns())
"""Columns holding free text (the field registry's privacy class ``free_text``): released only
when an approval says so, and then redacted."""


def pseudonym(secret: bytes, domain: str, value: str) -> str:
    """The pseudonym of one id: ``HMAC-SHA256(secret, "<domain>:<value>")``, truncated."""
    digest = hmac.new(secret, f"{domain}:{value}".encode(), hashlib.sha256).hexdigest()
    return digest[:PSEUDONYM_LENGTH]


def pseudonymise_series(values: pd.Series, secret: bytes, domain: str) -> pd.Series:
    """Replace each non-missing id in ``values`` by its pseudonym; missing stays missing."""
    if len(secret) < 16:
        raise ValueError("a pseudonymisation secret must be at least 16 bytes")
    uniques = values.dropna().unique()
    mapping = {v: pseudonym(secret, domain, str(v)) for v in uniques}
    return values.map(mapping).astype("string")


def coarsen_month(months: pd.Series, coarsening: str) -> pd.Series:
    """Coarsen ``"YYYY-MM"`` strings to ``"YYYY-MM"`` (month) or ``"YYYY-Qn"`` (quarter)."""
    _check(coarsening)
    months = months.astype("string")
    if coarsening == "month":
        return months
    year = months.str.slice(0, 4)
    quarter = ((months.str.slice(5, 7).astype("Int64") - 1) // 3 + 1).astype("string")
    return (year + "-Q" + quarter).astype("string")


def coarsen_date(dates: pd.Series, coarsening: str) -> pd.Series:
    """Coarsen dates to ``"YYYY-MM"`` or ``"YYYY-Qn"`` strings; missing stays missing."""
    _check(coarsening)
    dates = pd.to_datetime(dates)
    months = dates.dt.strftime("%Y-%m").astype("string")
    return coarsen_month(months, coarsening)


def _check(coarsening: str) -> None:
    if coarsening not in COARSENINGS:
        raise ValueError(f"date coarsening must be one of {COARSENINGS}, not {coarsening!r}")


def review_sequence(frame: pd.DataFrame) -> pd.Series:
    """1, 2, ... for each case's reviews in order of ``review_date`` (missing last), then
    ``review_id``: the order statistics use to choose a case's primary review."""
    order = frame.assign(_missing=frame["review_date"].isna()).sort_values(
        ["case_id", "_missing", "review_date", "review_id"], kind="stable")
    sequence = order.groupby("case_id", sort=False, dropna=False).cumcount() + 1
    return sequence.reindex(frame.index).astype("Int64")


def researcher_view(
    frame: pd.DataFrame,
    *,
    fields: Sequence[str],
    free_text: bool,
    coarsening: str,
    secret: bytes,
    generalised: Mapping[str, pd.Series] | None = None,
) -> pd.DataFrame:
    """What an approved researcher may see of a review frame.

    Ids are pseudonymised with the approval's ``secret``; ``review_date`` and ``death_month``
    are coarsened (``review_date`` always to a ``"YYYY-MM"``/``"YYYY-Qn"`` string; a day is never
    released); free text is dropped unless ``free_text``, and then redacted with
    :func:`sjrlib.privacy.redact`; only ``fields`` are kept, in that order. Columns in
    ``generalised`` (the k-anonymised quasi-identifiers, on ``frame``'s index) are released as
    given there. The result keeps ``frame``'s index.
    """
    generalised = generalised or {}
    if "review_sequence" in fields:
        frame = frame.assign(review_sequence=review_sequence(frame))
    out = pd.DataFrame(index=frame.index)
    for column in fields:
        if column not in frame.columns:
            raise KeyError(f"field {column!r} is not in the review frame")
        values = frame[column]
        if column in generalised:
            values = generalised[column]
        elif column in ID_DOMAINS:
            values = pseudonymise_series(values, secret, ID_DOMAINS[column])
        elif column == "review_date":
            values = coarsen_date(values, coarsening)
        elif column == "death_month":
            values = coarsen_month(values, coarsening)
        elif column in FREE_TEXT_COLUMNS:
            if not free_text:
                continue
            values = values.astype("string").map(redact, na_action="ignore").astype("string")
        out[column] = values
    return out


THEME_CODE_COLUMNS: tuple[str, ...] = ("review_id", "theme", "phase", "codebook_version",
                                       "coder", "from_suggestion")
"""The columns of the released theme-code table (the extract's ``theme_codes`` linked table)."""


def researcher_theme_codes(codes: pd.DataFrame, *, secret: bytes) -> pd.DataFrame:
    """The theme codes of released reviews as a researcher's linked table.

    Parameters
    ----------
    codes
        Stored theme codes (``review_id, theme, phase, codebook_version, coded_by, coded_at,
        id``) of the reviews released, and of those only: the caller keeps the codes of rows
        withheld for k-anonymity or outside the approval out. Every stored code was given or
        accepted by a person (a suggestion nobody accepted is never stored).
    secret
        The approval's secret: ``review_id`` gets the same pseudonym as in the review rows.

    Returns
    -------
    pandas.DataFrame
        :data:`THEME_CODE_COLUMNS`, one row per code, ordered by review pseudonym, coder,
        theme and phase. ``coder`` is 1 for the first person to code the review, 2 for the
        second, ...: enough to measure agreement between coders, and no identity (the user
        name is never released, nor anything that follows a coder from review to review).
        ``from_suggestion`` says the person accepted a machine suggestion.
    """
    if codes.empty:
        return pd.DataFrame({c: pd.Series(dtype="boolean" if c == "from_suggestion" else
                                          "Int64" if c == "coder" else "string")
                             for c in THEME_CODE_COLUMNS})
    # by time, not by the text of the time (stored times come in more than one ISO 8601 form)
    codes = codes.assign(coded_at=pd.to_datetime(codes["coded_at"], utc=True, format="ISO8601"))
    codes = codes.sort_values(["review_id", "coded_at", "id"], kind="stable")
    first = codes.drop_duplicates(["review_id", "coded_by"])
    order = first.assign(coder=first.groupby("review_id", sort=False).cumcount() + 1)
    coder = codes.merge(order[["review_id", "coded_by", "coder"]],
                        on=["review_id", "coded_by"], how="left")["coder"]
    out = pd.DataFrame({
        "review_id": pseudonymise_series(codes["review_id"].astype("string"), secret,
                                         ID_DOMAINS["review_id"]).to_numpy(),
        "theme": codes["theme"].astype("string").to_numpy(),
        "phase": codes["phase"].astype("string").to_numpy(),
        "codebook_version": codes["codebook_version"].astype("string").to_numpy(),
        "coder": coder.astype("Int64").to_numpy(),
        "from_suggestion": codes["from_suggestion"].astype("boolean").to_numpy(),
    })
    out = out.astype({"review_id": "string", "theme": "string", "phase": "string",
                      "codebook_version": "string"})
    return out.sort_values(["review_id", "coder", "theme", "phase"], kind="stable",
                           na_position="first").reset_index(drop=True)
