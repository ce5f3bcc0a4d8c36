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


TRUST_HEADER = ("Review ref,Patient ref,Trust,Stage,Follows review,Reviewer,Date of review,"
                "Why reviewed,Age,Gender,Month of death,Admission score,Admission comments,"
                "Overall score,Overall comments,Notes quality,Problems?,Monitoring problem,"
                "Avoidability (PRISM),Notes for admin")
TRUST_MAPPING = DATA / "trust_export_mapping.yaml"


@pytest.mark.parametrize("read", ["read_reviews", "stream_reviews"])
def test_errors_through_a_mapping_name_the_files_header_and_cell(tmp_path, read):
    """Before: 'column sex (value ...)' and 'column review_reasons (value
    'random_sample;ZZ')': names and codes the person never wrote. Now the file's header with
    the column it became, and the cell as the file holds it."""
    path = _csv(tmp_path, "trust.csv", TRUST_HEADER,
                "T1,P-001,RXX,1,,REV-3,2024-05-02,RS;ZZ,74,Q,2024-04,4,Prompt antibiotics.,5,"
                "Good care.,5,N,,,",
                "",
                "T2,P-002,RXX,1,,REV-3,2024-05-02,RS,3000000000,F,2024-04,4,Prompt.,5,Good.,5,"
                "N,,,")
    with pytest.raises(ValidationFailed) as caught:
        if read == "read_reviews":
            io.read_reviews(path, mapping=TRUST_MAPPING, known_organisations=ORGS,
                            today=TODAY)
        else:
            list(io.stream_reviews(path, mapping=TRUST_MAPPING, known_organisations=ORGS,
                                   today=TODAY))
    assert [(e.row, e.column, e.value) for e in caught.value.errors] == [
        (2, "'Why reviewed' (review_reasons)", "RS;ZZ"),
        (2, "'Gender' (sex)", "Q"),
        (4, "'Age' (age_at_death)", "3000000000"),
    ]
    assert str(caught.value.errors[1]).startswith(
        "trust.csv, row 2, column 'Gender' (sex) (value 'Q'): sex must be one of")


def test_an_identifier_in_a_mapped_column_is_still_redacted(tmp_path):
    path = _csv(tmp_path, "trust.csv", TRUST_HEADER,
                "T1,943 476 5919,RXX,1,,REV-3,2024-05-02,RS,74,M,2024-04,4,Prompt.,5,Good.,5,"
                "N,,,")
    with pytest.raises(ValidationFailed) as caught:
        io.read_reviews(path, mapping=TRUST_MAPPING, known_organisations=ORGS, today=TODAY)
    assert caught.value.errors[0].column == "'Patient ref' (case_id)"
    assert "943 476 5919" not in str(caught.value)


def _two_sheet_workbook(path: Path) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    first = book.active
    first.title = "Organisations"
    first.append(["organisation_code", "name", "nation", "region"])
    first.append(["RXX", "Alderdale NHS Trust (fictional)", "england", "London"])
    second = book.create_sheet("More")
    second.append(["organisation_code", "name", "nation", "region"])
    second.append(["RYY", "Bramwick NHS Trust (fictional)", "england", "London"])
    book.create_sheet("Empty")
    book.save(path)
    return path


def test_a_workbook_whose_other_sheet_holds_data_says_it_was_not_read(tmp_path):
    """The exchange format reads a workbook's first sheet; before, a second sheet of data
    was left out without a word. Now the import says which sheets were not read."""
    from sjrlib.import_notices import ImportNotice

    path = _two_sheet_workbook(tmp_path / "orgs.xlsx")
    with pytest.warns(ImportNotice) as caught:
        frame = io.read_organisations(path)
    assert list(frame["organisation_code"]) == ["RXX"]
    assert [str(w.message) for w in caught] == [
        "orgs.xlsx: only the first sheet, 'Organisations', was read; sheet 'More' also holds "
        "data and was not imported (an import reads a workbook's first sheet: put those rows "
        "on it, or import them as a file of their own)"]


def test_the_command_line_prints_the_notice_and_reads_paths_from_the_typed_folder(
        tmp_path, monkeypatch):
    """A relative file and store are those of the folder the command is typed in."""
    from test_import_cli import sjr

    typed = tmp_path / "typed"
    typed.mkdir()
    _two_sheet_workbook(typed / "orgs.xlsx")
    monkeypatch.chdir(typed)
    result = sjr("import", "organisations", "orgs.xlsx", "--db", "sqlite:///store.db")
    assert result.exit_code == 0, result.output
    assert ("sjr: note: orgs.xlsx: only the first sheet, 'Organisations', was read; sheet "
            "'More' also holds data") in result.output
    assert "orgs.xlsx: organisations:" in result.output
    assert (typed / "store.db").is_file()


def test_a_leading_apostrophe_typed_in_free_text_is_kept(tmp_path):
    """Only the quote the export puts before a formula-like cell ('=, '+, '-, '@) is taken
    off on reading (sjrlib.formula_cells); an apostrophe a person typed stays."""
    path = _csv(tmp_path, "apostrophe.csv", HEADER,
                ROW.replace("Pneumonia", "'twas pneumonia", 1),
                ROW.replace("R1,", "R2,", 1).replace("Pneumonia", "''", 1))
    frame = io.read_reviews(path, known_organisations=ORGS, today=TODAY)
    assert list(frame["cause_of_death"]) == ["'twas pneumonia", "''"]
