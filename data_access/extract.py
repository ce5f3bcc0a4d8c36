"""Researchers' extracts: a Parquet or CSV file and a manifest beside it.

The frame comes from the governed session (:meth:`data_access.session.Session.extract`), so it is
already scoped, pseudonymised, coarsened and redacted; this module only writes it and describes
it. The manifest ``<file>.manifest.json`` records the approval, the fields, the row count and the
SHA-256 of the data file, so anyone can check later that a file is the one released.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from data_access.approvals import ApprovalRecord
from sjrlib.formula_cells import neutralise_series, restore_frame
from sjrlib.safe_files import check_target, open_private, write_private

__all__ = [
    "FORMATS",
    "ExtractResult",
    "check_destination",
    "manifest_path",
    "read_extract",
    "write_extract",
]

FORMATS = (".parquet", ".csv")


@dataclass(frozen=True)
class ExtractResult:
    """Where an extract went and what it holds."""

    path: Path
    manifest: Path
    approval_id: str
    fields: tuple[str, ...]
    rows: int
    sha256: str


def check_destination(out: str | Path) -> Path:
    """The output path, if its suffix is a known format (``.parquet`` or ``.csv``)."""
    out = Path(out)
    if out.suffix.lower() not in FORMATS:
        raise ValueError(f"{out}: an extract is written as .parquet or .csv, not "
                         f"{out.suffix or 'a file without suffix'}")
    if not out.parent.exists():
        raise ValueError(f"{out}: folder {out.parent} does not exist")
    return out


def manifest_path(out: Path) -> Path:
    """``FILE.parquet`` -> ``FILE.parquet.manifest.json``."""
    return out.with_name(out.name + ".manifest.json")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_extract(frame: pd.DataFrame, out: str | Path, *, approval: ApprovalRecord,
                  user: str, disclosure: dict | None = None) -> ExtractResult:
    """Write ``frame`` to ``out`` and its manifest; return what was written.

    ``disclosure`` (from :meth:`data_access.anonymity.Anonymised.describe`) goes into the
    manifest: k, the quasi-identifiers, the level each was generalised to, the rows suppressed
    and the period unit that filters must follow.

    Called by :meth:`Session.extract` inside its audited transaction: if the audit entry cannot
    be written, the caller removes the files again.
    """
    out = check_destination(out)
    check_target(out)  # never through a symbolic link (before anything is written)
    try:
        # Mode 0600, whole, never through a link (sjrlib.safe_files); CSV text cells a
        # spreadsheet would run as formulas are neutralised (read_extract restores them).
        with open_private(out) as fh:
            if out.suffix.lower() == ".parquet":
                frame.to_parquet(fh, index=False)
            else:
                _spreadsheet_safe(frame).to_csv(fh, index=False, lineterminator="\n",
                                                encoding="utf-8")
        result = ExtractResult(
            path=out,
            manifest=manifest_path(out),
            approval_id=approval.approval_id,
            fields=tuple(frame.columns),
            rows=len(frame),
            sha256=_sha256(out),
        )
        manifest = {
            "approval_id": approval.approval_id,
            "purpose": approval.purpose,
            "organisations": list(approval.organisations),
            "period": [approval.period_start, approval.period_end],
            "date_coarsening": approval.date_coarsening,
            "free_text": approval.free_text,
            "deaths": approval.deaths,
            "pseudonymised": "HMAC-SHA256 with a secret of this approval",
            "k_anonymity": disclosure or {"k": approval.k},
            "fields": list(result.fields),
            "rows": result.rows,
            "file": out.name,
            "sha256": result.sha256,
            "created_by": user,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        write_private(result.manifest, json.dumps(manifest, indent=2) + "\n")
    except BaseException:
        out.unlink(missing_ok=True)
        manifest_path(out).unlink(missing_ok=True)
        raise
    return result


def _spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its text columns' formula-like cells neutralised (numbers untouched)."""
    text = [c for c in frame.columns
            if pd.api.types.is_string_dtype(frame[c].dtype)
            and not pd.api.types.is_bool_dtype(frame[c].dtype)]
    if not text:
        return frame
    return frame.assign(**{c: neutralise_series(frame[c]) for c in text})


def remove(result: ExtractResult) -> None:
    """Delete an extract and its manifest (when its audit entry could not be committed)."""
    result.path.unlink(missing_ok=True)
    result.manifest.unlink(missing_ok=True)


def describe(result: ExtractResult) -> dict:
    """The result as plain values (for printing)."""
    values = asdict(result)
    values["path"], values["manifest"] = str(result.path), str(result.manifest)
    values["fields"] = list(result.fields)
    return values


def _period_start(values: pd.Series) -> pd.Series:
    """``"YYYY-MM"``, ``"YYYY-Qn"`` or ``"YYYY"`` -> the first day of that month, quarter or
    year."""
    text = values.astype("string")
    quarter = text.str.extract(r"^(\d{4})-Q([1-4])$")
    as_month = text.where(quarter[0].isna(),
                          quarter[0] + "-" + ((quarter[1].astype("Int64") - 1) * 3 + 1)
                          .astype("string").str.zfill(2))
    as_month = as_month.where(~as_month.str.fullmatch(r"\d{4}").fillna(False),
                              as_month + "-01")
    return pd.to_datetime(as_month, format="%Y-%m")


def read_extract(path: str | Path) -> pd.DataFrame:
    """Read an extract back as a frame the statistics of :mod:`sjrlib.stats` take.

    Columns get the review frame's dtypes; the coarsened ``review_date`` becomes the first day
    of its month or quarter, plus ``review_sequence`` seconds when the approval released it (so
    each case's reviews keep their true order and statistics choose the same primary review as
    on the store); ``death_month`` and the other k-anonymised quasi-identifiers (age and days
    bands, postcode areas, specialty groups; see the manifest's ``k_anonymity``) stay as
    released, as text.
    """
    from sjrlib import domain
    from sjrlib.form.registry import Privacy, registry

    path = Path(path)
    if path.suffix.lower() == ".parquet":
        frame = pd.read_parquet(path)
    else:
        frame = restore_frame(pd.read_csv(path, dtype="string", keep_default_na=False,
                                          na_values=[""]))
    # k-anonymised quasi-identifiers are released generalised (bands, areas, groups): text
    generalised = set(registry().columns_of_privacy(Privacy.QUASI_IDENTIFIER))
    dtypes = {c: t for c, t in domain.REVIEW_DTYPES.items()
              if c in frame.columns and c not in generalised}
    frame = frame.astype({c: "string" for c in generalised
                          if c in frame.columns and c not in ("review_date",)})
    frame = frame.astype(dtypes)
    if "review_date" in frame.columns:
        frame["review_date"] = _period_start(frame["review_date"])
        if "review_sequence" in frame.columns:
            # restore the within-case order the coarsening hid: a case's reviews in one
            # period are set 1, 2, ... seconds after its start, in their true order
            frame["review_sequence"] = frame["review_sequence"].astype("Int64")
            seconds = pd.to_timedelta(frame["review_sequence"].fillna(0).astype("int64"),
                                      unit="s")
            frame["review_date"] = frame["review_date"] + seconds
    return frame
