"""``sjr actions import`` with files written by hand: every error of the file named by file,
row and column, nothing stored when any is wrong; blank rows skipped with their numbers kept;
workbook date cells taken; a header-only file refused; no library text in a message."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest
from access_setup import governed_fresh  # noqa: F401  (fixture: SQLite and PostgreSQL)
from typer.testing import CliRunner

from data_access import actions, open_session
from sjrlib.cli import app

HEADER = "description,owner_role,agreed_on,status,due_on"


def _run(gov, tmp_path: Path, *args: str):
    return CliRunner().invoke(app, [*args, "--db", gov.app_url],
                              env={"SJR_USER": "lead_a", "JUPYTERHUB_USER": None,
                                   "SJR_CONFIG": str(tmp_path / "none")})


def _stored(gov) -> int:
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        return len(lead.actions())


def test_every_error_of_the_file_by_file_row_and_column(governed_fresh, tmp_path):  # noqa: F811
    """Before: 'sjr actions: row 3: agreed_on must be ...' for the first bad row only, with
    no file name, and the row after a blank line numbered one too low."""
    gov = governed_fresh
    path = tmp_path / "register.csv"
    path.write_text("\n".join([
        HEADER,
        "Handover checklist,Matron,2021-06-01,open,",
        "Sepsis screen,Sepsis lead,01/06/2021,open,",
        "",
        "Falls huddle,,2021-06-01,finished,2021-05-01",
    ]) + "\n", encoding="utf-8")
    result = _run(gov, tmp_path, "actions", "import", str(path))
    assert result.exit_code == 1, (result.output, result.exception)
    assert result.output.splitlines() == [
        "sjr actions: register.csv: 4 problems; nothing was imported",
        "  register.csv, row 3, column agreed_on: agreed_on must be a date written "
        "YYYY-MM-DD, not '01/06/2021'",
        "  register.csv, row 5, column owner_role: owner_role is required",
        "  register.csv, row 5, column status: status must be one of open, in_progress, "
        "completed, dropped, not 'finished'",
        "  register.csv, row 5, column due_on: due_on 2021-05-01 is before agreed_on "
        "2021-06-01",
    ]
    assert _stored(gov) == 0


def _workbook(path: Path, rows: list[list]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_a_workbook_with_date_cells_and_a_blank_row_is_imported(governed_fresh,  # noqa: F811
                                                                tmp_path):
    """Before: a real date cell in agreed_on was refused ('not '2021-06-01 00:00:00''), and
    a blank row was an action with nothing in it."""
    gov = governed_fresh
    path = _workbook(tmp_path / "register.xlsx", [
        HEADER.split(","),
        ["Handover checklist", "Matron", dt.datetime(2021, 6, 1), "open", None],
        [None, None, None, None, None],
        ["Sepsis screen", "Sepsis lead", dt.date(2021, 7, 1), None, dt.datetime(2021, 9, 30)],
    ])
    frame, rows = actions.read_actions(path)
    assert rows == [2, 4] and list(frame["agreed_on"]) == ["2021-06-01", "2021-07-01"]
    result = _run(gov, tmp_path, "actions", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "2 action(s) recorded" in result.output
    assert _stored(gov) == 2


@pytest.mark.parametrize("content, expected", [
    (HEADER + "\n", "register.csv: the file has a header but no data rows"),
    (HEADER + "\n\n  ,  \n", "register.csv: the file has a header but no data rows"),
    (HEADER + "\nA,B,2021-01-01,open,,x\n", "register.csv: a row has more cells than the "
     "header's 5 (a comma in an unquoted cell?): row 2 has 6"),
    (b"description,owner_role\n\xff\xfe,x\n", "register.csv: not UTF-8 text"),
])
def test_a_file_with_no_rows_or_unreadable_is_refused_in_one_line(tmp_path, content,
                                                                  expected):
    """Before: a header-only file was accepted ('0 action(s) recorded') and a ragged row gave
    pandas' 'Error tokenizing data. C error: Expected 5 fields in line 2, saw 6'."""
    path = tmp_path / "register.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        actions.read_actions(path)
    assert str(caught.value).startswith(expected)
    assert "C error" not in str(caught.value) and "tokenizing" not in str(caught.value)


def test_a_broken_workbook_is_named_without_library_text(tmp_path):
    path = tmp_path / "register.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(ValueError) as caught:
        actions.read_actions(path)
    assert str(caught.value).startswith("register.xlsx: not a readable XLSX workbook")


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_register_round_trips_apostrophes_and_formula_like_text(tmp_path, suffix):
    """A leading apostrophe a person typed is kept ('twas); a text a spreadsheet would run as
    a formula is written so that it runs nothing and reads back as it was."""
    import pandas as pd

    texts = ["'twas agreed at the mortality meeting", '=HYPERLINK("http://x.example")',
             "-3 falls a month", "'-quoted by hand"]
    frame = pd.DataFrame({
        "id": [""] * 4, "organisation_code": ["RXX"] * 4, "description": texts,
        "owner_role": ["Matron"] * 4, "status": ["open"] * 4,
        "agreed_on": [dt.date(2021, 6, 1)] * 4, "due_on": [None] * 4,
        "completed_on": [None] * 4, "measure": [""] * 4, "change_month": [""] * 4,
        "target": pd.array([None, 12.5, None, None], dtype="Float64"), "themes": [""] * 4,
        "review_ids": [""] * 4, "version": [1] * 4})
    path = actions.write_actions_file(frame, tmp_path / f"register{suffix}")
    again, rows = actions.read_actions(path)
    assert list(again["description"]) == texts and rows == [2, 3, 4, 5]
    assert list(again["target"]) == ["", "12.5", "", ""]
