"""Findings of an audit of imports, each with a file written by hand: rows of spaces, ragged
rows, whole numbers out of range, mapped headers in errors, workbooks of several sheets."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from sjrlib import io
from sjrlib.io import ImportFileError
from sjrlib.schema import ValidationFailed

DATA = Path(__file__).parent / "data"
TODAY = dt.date(2025, 6, 1)
HEADER, ROW = (DATA / "reviews_valid.csv").read_text(encoding="utf-8").splitlines()[:2]
ORGS = {"RXX"}


def _csv(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_row_of_only_spaces_is_skipped_like_a_blank_row(tmp_path):
    """Before: a row of spaces (' , ,  ', or a line of spaces) was a review, 12 cells
    'required but blank'. Now it is skipped, and the rows after it keep their numbers."""
    path = _csv(tmp_path, "spaces.csv", HEADER, ROW, " , ,  ", "   \t ",
                ROW.replace("R1,", "R9,", 1).replace(",81,", ",8,", 1))
    with pytest.raises(ValidationFailed) as caught:
        io.read_reviews(path, known_organisations=ORGS, today=TODAY)
    assert [(e.row, e.column) for e in caught.value.errors] == [(5, "age_at_death")]
    good = _csv(tmp_path, "good.csv", HEADER, ROW, " , ,  ", "\u00a0")
    assert list(io.read_reviews(good, known_organisations=ORGS, today=TODAY)["review_id"]) \
        == ["R1"]


def test_a_row_of_only_spaces_in_a_workbook_is_skipped(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER.split(","))
    sheet.append([" ", "  ", None, "\t"])
    sheet.append(["R1"])
    book.save(tmp_path / "spaces.xlsx")
    frame, rows = io.read_raw(tmp_path / "spaces.xlsx")
    assert list(frame["review_id"]) == ["R1"] and list(rows) == [3]


def test_every_ragged_row_is_reported(tmp_path):
    """Before: only the first row with too many cells ('line 2 has 49 cells')."""
    path = _csv(tmp_path, "ragged.csv", HEADER, ROW + ",x", ROW, "", ROW + ",y,z")
    with pytest.raises(ImportFileError) as caught:
        io.read_reviews(path, known_organisations=ORGS, today=TODAY)
    assert str(caught.value) == (
        "ragged.csv: 2 rows have more cells than the header's 48 (a comma in an unquoted "
        "cell?): row 2 has 49; row 5 has 50")


@pytest.mark.parametrize("cell, expected", [
    ("3000000000", "age_at_death 3000000000 is a whole number out of range: it must be "
                   "18-120"),
    ("-12345678901", "age_at_death -12345678901 is a whole number out of range: it must be "
                     "18-120"),
    ("81.5", "age_at_death must be a whole number"),
])
def test_a_whole_number_too_large_to_read_is_out_of_range(tmp_path, cell, expected):
    """Before: 3000000000 'must be a whole number'; it is one, out of range."""
    path = _csv(tmp_path, "big.csv", HEADER, ROW.replace(",81,", f",{cell},", 1))
    with pytest.raises(ValidationFailed) as caught:
        io.read_reviews(path, known_organisations=ORGS, today=TODAY)
    assert [e.message for e in caught.value.errors] == [expected]


def test_a_death_count_too_large_to_read_is_out_of_range(tmp_path):
    path = _csv(tmp_path, "deaths.csv",
                "organisation_code,month,deaths_in_scope,learning_disability_deaths",
                "RXX,2024-01,99999999999,0")
    with pytest.raises(ValidationFailed) as caught:
        io.read_deaths(path, known_organisations=ORGS)
    assert [e.message for e in caught.value.errors] == [
        "deaths_in_scope 99999999999 is a whole number out of range: it must be 0 to "
        "999,999,999"]
