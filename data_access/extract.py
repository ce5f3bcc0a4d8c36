"""Researchers' extracts: a Parquet or CSV file and a manifest beside it.

The frame comes from the governed session (:meth:`data_access.session.Session.extract`), so it is
already scoped, pseudonymised, coarsened and redacted; this module only writes it and describes
it. The manifest ``<file>.manifest.json`` records the approval, the fields, the row count and the
SHA-256 of the data file, so anyone can check later that a file is the one released.

Fields an approval releases as linked tables (``theme_codes``: one row per theme code, keyed by
the review pseudonym) are written beside the extract in the same format, ``FILE.parquet`` ->
``FILE.theme_codes.parquet``, and described in the manifest's ``linked_tables`` (file, key,
columns, rows, SHA-256). A linked table holds rows of the extract's reviews only: none of a
review withheld for k-anonymity or outside the approval.
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
    "LINKED_TABLES",
    "ExtractResult",
    "LinkedTable",
    "check_destination",
    "linked_path",
    "manifest_path",
    "read_extract",
    "read_theme_codes",
    "write_extract",
]

FORMATS = (".parquet", ".csv")

LINKED_TABLES: dict[str, str] = {
    "theme_codes": (
        "Theme codes of the extract's reviews (shared/spec/learning.md), one row per code: "
        "review_id (the review's pseudonym in the extract), theme (codebook id), phase (of "
        "care; empty: the whole review), codebook_version, coder (1 = the first person to code "
        "the review, 2 = the second, ...; no identity), from_suggestion (true: the person "
        "accepted a machine suggestion). Only codes a person gave or accepted; none of reviews "
        "withheld for k-anonymity."),
}
"""The linked tables an extract may carry, each with the description its manifest gives."""


@dataclass(frozen=True)
class LinkedTable:
    """A table written beside an extract, linked to its rows by ``key``."""

    name: str
    path: Path
    key: str
    columns: tuple[str, ...]
    rows: int
    sha256: str


@dataclass(frozen=True)
class ExtractResult:
    """Where an extract went and what it holds."""

    path: Path
    manifest: Path
    approval_id: str
    fields: tuple[str, ...]
    rows: int
    sha256: str
    linked: tuple[LinkedTable, ...] = ()


def check_destination(out: str | Path) -> Path:
    """The output path, if its suffix is a known format (``.parquet`` or ``.csv``)."""
    out = Path(out)
    if out.suffix.lower() not in FORMATS:
        raise ValueError(f"{out}: an extract is written as .parquet or .csv, not "
                         f"{out.suffix or 'a file without suffix'}")
    if not out.parent.exists():  # a slip to put right, said as sjr backup says it
        raise ValueError(f"{out}: no such folder {out.parent}; create it first (mkdir -m 700 "
                         f"{out.parent}); nothing was written")
    return out


def manifest_path(out: Path) -> Path:
    """``FILE.parquet`` -> ``FILE.parquet.manifest.json``."""
    return out.with_name(out.name + ".manifest.json")


def linked_path(out: Path, name: str) -> Path:
    """``FILE.parquet`` -> ``FILE.<name>.parquet`` (a linked table, same format)."""
    return out.with_name(f"{out.stem}.{name}{out.suffix}")


def _write_frame(frame: pd.DataFrame, out: Path) -> None:
    # Mode 0600, whole, never through a link (sjrlib.safe_files); CSV text cells a
    # spreadsheet would run as formulas are neutralised (read_extract restores them).
    with open_private(out) as fh:
        if out.suffix.lower() == ".parquet":
            frame.to_parquet(fh, index=False)
        else:
            _spreadsheet_safe(frame).to_csv(fh, index=False, lineterminator="\n",
                                            encoding="utf-8")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_extract(frame: pd.DataFrame, out: str | Path, *, approval: ApprovalRecord,
                  user: str, disclosure: dict | None = None,
                  linked: dict[str, pd.DataFrame] | None = None) -> ExtractResult:
    """Write ``frame`` to ``out`` and its manifest; return what was written.

    ``disclosure`` (from :meth:`data_access.anonymity.Anonymised.describe`) goes into the
    manifest: k, the quasi-identifiers, the level each was generalised to, the rows suppressed
    and the period unit that filters must follow. ``linked`` maps a name of
    :data:`LINKED_TABLES` to its table (keyed by ``review_id``), written at
    :func:`linked_path` and described in the manifest's ``linked_tables``.

    Called by :meth:`Session.extract` inside its audited transaction: if the audit entry cannot
    be written, the caller removes the files again.
    """
    out = check_destination(out)
    linked = linked or {}
    unknown = sorted(set(linked) - set(LINKED_TABLES))
    if unknown:
        raise ValueError(f"no linked table {', '.join(unknown)}; known: "
                         f"{', '.join(LINKED_TABLES)}")
    check_target(out)  # never through a symbolic link (before anything is written)
    for name in linked:
        check_target(linked_path(out, name))
    try:
        _write_frame(frame, out)
        tables = []
        for name, table in linked.items():
            path = linked_path(out, name)
            _write_frame(table, path)
            tables.append(LinkedTable(name=name, path=path, key="review_id",
                                      columns=tuple(table.columns), rows=len(table),
                                      sha256=_sha256(path)))
        result = ExtractResult(
            path=out,
            manifest=manifest_path(out),
            approval_id=approval.approval_id,
            fields=tuple(frame.columns),
            rows=len(frame),
            sha256=_sha256(out),
            linked=tuple(tables),
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
            "linked_tables": {t.name: {"file": t.path.name, "key": t.key,
                                       "columns": list(t.columns), "rows": t.rows,
                                       "sha256": t.sha256,
                                       "description": LINKED_TABLES[t.name]}
                              for t in result.linked},
            "created_by": user,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        write_private(result.manifest, json.dumps(manifest, indent=2) + "\n")
    except BaseException:
        out.unlink(missing_ok=True)
        manifest_path(out).unlink(missing_ok=True)
        for name in linked:
            linked_path(out, name).unlink(missing_ok=True)
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
    for table in result.linked:
        table.path.unlink(missing_ok=True)


def describe(result: ExtractResult) -> dict:
    """The result as plain values (for printing)."""
    values = asdict(result)
    values["path"], values["manifest"] = str(result.path), str(result.manifest)
    values["fields"] = list(result.fields)
    values["linked"] = [{**asdict(t), "path": str(t.path), "columns": list(t.columns)}
                        for t in result.linked]
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


def read_theme_codes(path: str | Path) -> pd.DataFrame:
    """Read the theme codes released with an extract (``path``: the extract or the table).

    One row per code: ``review_id`` (the extract's review pseudonym: join on it), ``theme``,
    ``phase`` (missing: the whole review), ``codebook_version``, ``coder`` (1, 2, ... in the
    order people coded the review) and ``from_suggestion``. An extract made under an approval
    that does not release ``theme_codes`` has no such table: :class:`FileNotFoundError`.
    """
    path = Path(path)
    table = path if path.stem.endswith(".theme_codes") else linked_path(path, "theme_codes")
    if not table.exists():
        raise FileNotFoundError(f"{table}: no theme codes beside this extract (the approval "
                                "must list theme_codes among its fields)")
    if table.suffix.lower() == ".parquet":
        frame = pd.read_parquet(table)
    else:
        frame = restore_frame(pd.read_csv(table, dtype="string", keep_default_na=False,
                                          na_values=[""]))
        frame["from_suggestion"] = frame["from_suggestion"].map(
            {"True": True, "False": False}).astype("boolean")
    return frame.astype({"review_id": "string", "theme": "string", "phase": "string",
                         "codebook_version": "string", "coder": "Int64",
                         "from_suggestion": "boolean"})
