"""The Learning from Deaths dashboard as an Excel workbook (opens in Excel and LibreOffice).

One sheet with the quarterly figures trusts publish (deaths in scope, deaths reviewed, deaths
judged more likely than not due to problems in care, the same for patients with a learning
disability, and reviewed deaths by avoidability score), after the same disclosure control as the
HTML report (it is written from the very same protected frame), and a sheet of notes: the
definitions, the disclosure rule and the reproducibility stamp. A workbook of a store marked
synthetic says so on the first line of each sheet, in bold red.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from sjrlib import domain
from sjrlib.disclosure import FROM_SHOWN, DisclosureRule
from sjrlib.report.tables import plain_label

__all__ = ["COLUMNS", "write_lfd_workbook"]

COLUMNS: dict[str, str] = {
    "deaths_in_scope": "Deaths in scope",
    "reviewed": "Deaths reviewed (SJR)",
    "percent_reviewed": "% of deaths reviewed",
    "more_likely_than_not": "More likely than not due to problems in care",
    "ld_deaths": "Deaths: learning disability",
    "ld_reviewed": "Learning disability: reviewed",
    "ld_percent_reviewed": "Learning disability: % reviewed",
    "ld_more_likely_than_not": "Learning disability: more likely than not due to problems in care",
    **{f"avoidability_{s}": f"Avoidability {s}: {domain.label('avoidability_score', s)}"
       for s in domain.AVOIDABILITY_SCORES},
    "avoidability_not_scored": "Avoidability not scored",
}
"""Workbook columns (after the quarter) and their headers."""

_HEAD = Font(bold=True, color="FFFFFF")
_FILL = PatternFill("solid", fgColor="005EB8")
_RULE = Border(top=Side(style="medium"))


def _text(cell, value: str):
    """Put ``value`` in ``cell`` as text: openpyxl stores a string starting with ``=`` as a
    formula, which Excel would run. Plain text (:func:`~sjrlib.report.tables.plain_label`):
    the HTML report's labels keep a quarter on one line with no-break spaces and word joiners,
    which a person filtering for "Q1 Apr–Jun 2025" in Excel would not find."""
    cell.value = plain_label(value)
    cell.data_type = "s"
    return cell


def _synthetic_notice() -> str:
    from sjrlib.report.render import SYNTHETIC_NOTICE

    return SYNTHETIC_NOTICE


_SYNTHETIC_FILL = PatternFill("solid", fgColor="D5281B")


def _banner(ws, width: int) -> None:
    """The first row of a synthetic store's sheet: the notice, white on red, across it."""
    _text(ws["A1"], _synthetic_notice())
    ws["A1"].font = Font(bold=True, size=14, color="FFFFFF")
    for j in range(1, width + 1):
        ws.cell(1, j).fill = _SYNTHETIC_FILL


def write_lfd_workbook(
    path: str | Path,
    protected: pd.DataFrame,
    *,
    organisation: str,
    period: str,
    total_label: str,
    rule: DisclosureRule,
    stamp=None,
    notice: str = "",
    synthetic: bool = False,
    as_at: str = "",
    provisional_note: str = "",
) -> Path:
    """Write the dashboard.

    Parameters
    ----------
    path
        The ``.xlsx`` file to write (folders are created).
    protected
        The protected Learning from Deaths frame of :func:`sjrlib.report.tables.protect_lfd`
        (rows: quarters then the total row; counts already rounded or ``*``).
    organisation, period
        For the title.
    total_label
        Label of the total row.
    rule
        The disclosure rule applied (stated in the notes).
    stamp
        A :class:`sjrlib.report.stamp.Stamp` for the notes sheet.
    notice
        A line under the title, in bold (e.g. the internal-governance notice of an
        ``organisation``-audience report); empty for none.
    synthetic
        The store is marked synthetic: the first line of each sheet says the data are
        fictional (:data:`sjrlib.report.render.SYNTHETIC_NOTICE`), and the notes repeat it.
    as_at
        When the data were read, in words (the page's "Data as at"): under the title and in
        the notes; empty for none.
    provisional_note
        What the quarters ``protected`` labels "(provisional)" mean (the page's sentence):
        under the title and in the notes; empty when none is.

    Every text cell is stored as text, never as a formula, whatever it starts with.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    ws = wb.active
    ws.title = "Learning from Deaths"
    top = 1
    if synthetic:
        _banner(ws, len(COLUMNS) + 1)
        top = 2
    title, line = ws.cell(top, 1), ws.cell(top + 1, 1)
    _text(title, f"Learning from Deaths: {organisation}")
    title.font = Font(bold=True, size=14)
    _text(line, f"{period}." + (f" Data as at {as_at}." if as_at else "")
          + (f" {provisional_note}" if provisional_note else "")
          + f" {rule.describe()}" + (f" {notice}." if notice else ""))
    if notice:
        line.font = Font(bold=True, color="C00000")
    header_row = top + 3
    headers = ["Quarter", *COLUMNS.values()]
    for j, text in enumerate(headers, start=1):
        cell = _text(ws.cell(header_row, j), text)
        cell.font, cell.fill = _HEAD, _FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for i, (label, row) in enumerate(protected.iterrows(), start=header_row + 1):
        _text(ws.cell(i, 1), str(label))
        for j, column in enumerate(COLUMNS, start=2):
            value = row[column]
            cell = ws.cell(i, j)
            if value is None or (isinstance(value, float) and pd.isna(value)):
                cell.value = None
            elif isinstance(value, str):
                _text(cell, value)
                cell.alignment = Alignment(horizontal="right")
            elif "percent" in column:
                # the percentage as printed (one decimal), not more: a stored 4-decimal
                # fraction gives back both counts of a row
                cell.value = round(round(float(value), 1) / 100, 3)
                cell.number_format = "0.0%"
            else:
                cell.value = int(value)
                cell.number_format = "#,##0"
        if label == total_label:
            for j in range(1, len(headers) + 1):
                ws.cell(i, j).font = Font(bold=True)
                ws.cell(i, j).border = _RULE
    ws.row_dimensions[header_row].height = 60
    ws.column_dimensions["A"].width = 20
    for j in range(2, len(headers) + 1):
        ws.column_dimensions[get_column_letter(j)].width = 16
    ws.freeze_panes = ws.cell(header_row + 1, 2)

    notes = wb.create_sheet("Notes")
    lines = [("Synthetic data", _synthetic_notice())] if synthetic else []
    if as_at:
        lines.append(("Data as at", as_at))
    if provisional_note:
        lines.append(("Provisional quarters", provisional_note))
    lines += [
        ("Deaths in scope", "Adult inpatient deaths including the emergency department, from "
         "the monthly deaths feed; counted in the quarter the death occurred."),
        ("Deaths reviewed", "Deaths with a submitted or locked structured judgement review "
         "(either stage); drafts are not counted."),
        ("More likely than not due to problems in care", "RCP avoidability score 1-3: the "
         "final second-stage score where there is one, else a first-stage score."),
        ("Disclosure control", rule.describe() + (f" {notice}." if notice else "")
         + (f" {FROM_SHOWN}" if rule.active and rule.rounding > 1 else "")),
    ]
    if stamp is not None:
        lines += list(stamp.items()) + [("Generated", stamp.generated)]
    for i, (key, value) in enumerate(lines, start=1):
        _text(notes.cell(i, 1), key).font = Font(bold=True)
        _text(notes.cell(i, 2), value).alignment = Alignment(wrap_text=True, vertical="top")
    if synthetic:
        notes["A1"].font = notes["B1"].font = Font(bold=True, color="C00000")
    notes.column_dimensions["A"].width = 34
    notes.column_dimensions["B"].width = 100
    from sjrlib.report.private_files import open_private

    with open_private(path) as fh:  # mode 0600, never through a symbolic link
        wb.save(fh)
    return path
