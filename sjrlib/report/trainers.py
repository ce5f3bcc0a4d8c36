"""The trainer directory: ``reports/<period>/trainers.html`` and ``trainers.csv``.

The programme publishes its tier one trainers with their locations and contact details
(``shared/spec/training.md``): staff who agreed to be listed, not patients, so the directory is
public by design and is not subject to disclosure control (it holds no counts of reviews). Only
active trainers are listed, grouped by region, then by organisation and name: a directory, not a
ranking. Written by ``sjr report all`` through the report renderer (escaped, inert, 0600).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from sjrlib.report.tables import ReportTable

__all__ = ["CSV_COLUMNS", "directory_tables", "write_directory", "write_trainer_directory"]

CSV_COLUMNS: dict[str, str] = {"region": "Region", "organisation": "Organisation",
                               "name": "Name", "contact": "Work contact",
                               "trained_on": "Trained as a tier one trainer"}
"""The published columns and their headings (the CSV and the page use the same)."""

_NOTE = ("Tier one trainers train hospital mortality reviewers in the structured judgement "
         "review method. Each is listed with the name and work contact they agreed to publish. "
         "Listed by organisation and name; the programme does not compare or rank "
         "organisations.")


def _published(trainers: pd.DataFrame) -> pd.DataFrame:
    """Active trainers, the published columns, in directory order."""
    active = trainers[trainers["active"].astype(bool)].copy()
    active["trained_on"] = [v.strftime("%B %Y") if isinstance(v, dt.date) else None
                            for v in active["trained_on"]]
    active = active.sort_values(["region", "organisation", "name"], kind="stable")
    return active[list(CSV_COLUMNS)].reset_index(drop=True)


def directory_tables(trainers: pd.DataFrame) -> list[ReportTable]:
    """One table per region (regions in alphabetical order) of the active trainers."""
    published = _published(trainers)
    out = []
    for region, rows in published.groupby("region", sort=True):
        frame = rows.drop(columns="region").rename(columns=CSV_COLUMNS)
        frame = frame.set_index("Name")
        frame = frame.astype(object).where(frame.notna(), None)
        out.append(ReportTable(
            frame, caption=f"{region}: {len(frame)} trainer{'s' * (len(frame) != 1)}",
            formats={c: "text" for c in frame.columns}, index_name="Name"))
    return out


def write_directory(trainers: pd.DataFrame, out_dir: str | Path, period_label: str, *,
                    notice: str = "", synthetic: bool = False) -> tuple[Path, Path]:
    """Write ``trainers.html`` and ``trainers.csv`` into ``out_dir``; return both paths.
    ``synthetic``: the store is marked synthetic (the page carries the synthetic-data
    banner)."""
    import nbformat

    from sjrlib.report.private_files import write_private
    from sjrlib.report.render import write_html

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    published = _published(trainers)
    nb = nbformat.v4.new_notebook()

    def show(obj: Any) -> None:
        cell = nbformat.v4.new_code_cell("")
        cell.outputs = [nbformat.v4.new_output("display_data",
                                               data={"text/html": obj._repr_html_()})]
        nb.cells.append(cell)

    intro = ReportTable(
        pd.DataFrame({"": [f"{len(published)}", f"{published['region'].nunique()}",
                           period_label]},
                     index=["Active trainers", "Regions", "Published with the reports of"],
                     dtype=object),
        caption="About this directory", note=_NOTE)
    nb.cells.append(nbformat.v4.new_markdown_cell("## The directory"))
    show(intro)
    tables = directory_tables(trainers)
    for table in tables:
        region = table.caption.split(":")[0]
        nb.cells.append(nbformat.v4.new_markdown_cell(f"## {region}"))
        show(table)
    if not tables:
        nb.cells.append(nbformat.v4.new_markdown_cell(
            "No active trainers are recorded yet (`sjr training trainers import`)."))
    page = write_html(nb, out_dir / "trainers.html",
                      title=f"Tier one trainer directory, {period_label}",
                      kicker="Structured Judgement Review programme", notice=notice,
                      synthetic=synthetic)
    # a cell a spreadsheet would run as a formula (a name or contact starting "=") gets the
    # quote every export of ours gives it (sjrlib.formula_cells)
    from sjrlib import formula_cells

    text = published.copy()
    for column in text.columns:
        if text[column].dtype == object or pd.api.types.is_string_dtype(text[column]):
            text[column] = formula_cells.neutralise_series(text[column])
    csv = text.rename(columns=CSV_COLUMNS).to_csv(index=False, lineterminator="\n")
    return page, write_private(out_dir / "trainers.csv", csv)


def write_trainer_directory(db: Any, user: str, out_dir: str | Path, period_label: str
                            ) -> tuple[Path, Path]:
    """The report batch's hook: read the directory as ``user`` through the governed session
    (audited, ``tool="report"``) and write it into ``out_dir``.

    The demonstration store's trainers are fictional (``sjr demo-data`` marks their names
    "(fictional)"): the page then says so in its banner. A store marked synthetic gets the
    synthetic-data banner every report of it carries.
    """
    from data_access import open_session
    from sjrlib.report.stamp import store_is_synthetic

    with open_session(user, db, tool="report") as session:
        trainers = session.trainers()
    notice = ""
    if len(trainers) and trainers["name"].astype(str).str.endswith("(fictional)").all():
        notice = "Demonstration data: fictional trainers at fictional organisations"
    return write_directory(trainers, out_dir, period_label, notice=notice,
                           synthetic=store_is_synthetic(db))
