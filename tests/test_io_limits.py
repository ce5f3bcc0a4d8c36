"""Bad files get a clear error, fast: limits on columns, rows, cells, file and package sizes;
XLSX read by its real size, never its declared one; safe YAML; formula-like CSV cells
neutralised and restored. Every file here is crafted by the test itself."""

from __future__ import annotations

import csv
import re
import tracemalloc
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from data_access.approvals import ApprovalError, load_approval_file
from sjrlib import domain, io
from sjrlib.formula_cells import neutralise, restore, restore_series
from sjrlib.io import ImportFileError
from sjrlib.mapping import MappingError, load_mapping
from sjrlib.yaml_files import YAMLFileError, load_yaml

# --- crafted inputs ----------------------------------------------------------------------

BILLION_LAUGHS = "\n".join(
    [f'a: &a [{",".join(["lol"] * 9)}]']
    + [f"{b}: &{b} [{','.join([f'*{a}'] * 9)}]" for a, b in zip("abcdefgh", "bcdefghi",
                                                                   strict=True)]
) + "\n"


def reviews(small_data, n: int = 6) -> pd.DataFrame:
    """``n`` valid reviews of the first organisation of the synthetic data."""
    code = small_data.organisations["organisation_code"].iloc[0]
    frame = small_data.reviews[small_data.reviews["organisation_code"] == code]
    return frame.head(n).reset_index(drop=True)


def with_dimension(workbook: Path, ref: str, out: Path) -> Path:
    """A copy of ``workbook`` whose first sheet declares ``<dimension ref=...>`` (whatever it
    really holds): the XML edited inside the ZIP, as a hand-made or hostile file would be."""
    with zipfile.ZipFile(workbook) as src, zipfile.ZipFile(out, "w",
                                                           zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                text = re.sub(r"<dimension [^>]*/>", "", data.decode("utf-8"))
                anchor = "</sheetPr>" if "</sheetPr>" in text else "<sheetData>"
                text = text.replace(anchor, (anchor if anchor == "</sheetPr>" else "")
                                    + f'<dimension ref="{ref}"/>'
                                    + ("" if anchor == "</sheetPr>" else anchor), 1)
                assert f'<dimension ref="{ref}"/>' in text
                data = text.encode("utf-8")
            dst.writestr(info, data)
    return out


def sheet_xml(rows_xml: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f'<dimension ref="A1:XFD1048576"/><sheetData>{rows_xml}</sheetData></worksheet>')


def workbook_with_sheet(tmp_path: Path, name: str, sheet: str) -> Path:
    """A minimal valid workbook (made by openpyxl) whose sheet XML is replaced by ``sheet``."""
    source = tmp_path / f"source-{name}"
    book = openpyxl.Workbook()
    book.active["A1"] = "placeholder"
    book.save(source)
    return _replace_part(source, "xl/worksheets/sheet1.xml", sheet.encode("utf-8"),
                         tmp_path / name)


def _replace_part(workbook: Path, part: str, data: bytes, out: Path) -> Path:
    with zipfile.ZipFile(workbook) as src, zipfile.ZipFile(out, "w",
                                                           zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, data if info.filename == part else src.read(info.filename))
    return out


def inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


# --- CSV limits --------------------------------------------------------------------------

def test_a_csv_with_a_million_columns_is_refused_from_its_first_line(tmp_path):
    path = tmp_path / "wide.csv"
    with path.open("w", encoding="utf-8") as fh:  # about 10 MB: the finding's file
        fh.write(",".join(f"c{i}" for i in range(1_000_000)) + "\n")
        fh.write(",".join("1" for _ in range(1_000_000)) + "\n")
    tracemalloc.start()
    try:
        for read in (io.read_reviews, io.read_reviews_blocks):
            with pytest.raises(ImportFileError) as caught:
                read(path)
            message = str(caught.value)
            assert message.startswith("wide.csv: the header has more than")
            assert "at most 200" in message and "\n" not in message
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20  # refused from the first 64 KB, not after parsing 10 MB


def test_a_header_of_250_columns_is_refused_with_its_count(tmp_path):
    path = tmp_path / "many.csv"
    path.write_text(",".join(f"col{i}" for i in range(250)) + "\n"
                    + ",".join("x" for _ in range(250)) + "\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"^many\.csv: the header has 250 columns"):
        io.read_reviews(path)


def test_a_first_line_too_long_to_be_a_header(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("x" * 100_000 + ",review_id\nR1,R1\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"^long\.csv: the first line is longer than"):
        io.read_reviews(path)


@pytest.mark.parametrize("read", [io.read_reviews, io.read_reviews_blocks])
def test_a_cell_longer_than_excel_allows_is_named_by_row_and_column(small_data, tmp_path,
                                                                      read):
    frame = reviews(small_data)
    frame.loc[3, "comment_overall"] = "Adequate care. " * 3_000  # 45,000 characters
    path = tmp_path / "long_cell.csv"
    io.write_reviews(frame, path)
    with pytest.raises(ImportFileError) as caught:
        read(path)
    assert str(caught.value) == ("long_cell.csv, row 5, column comment_overall: a cell of "
                                 "45,000 characters; at most 32,767 are read (as in Excel)")


def test_a_cell_of_exactly_the_limit_is_read(small_data, tmp_path):
    frame = reviews(small_data)
    frame.loc[0, "comment_overall"] = "a" * 32_767
    path = tmp_path / "full_cell.csv"
    io.write_reviews(frame, path)
    assert io.read_reviews(path).loc[0, "comment_overall"] == "a" * 32_767


@pytest.mark.parametrize("read", [io.read_reviews, io.read_reviews_blocks])
def test_the_cell_limit_counts_characters_not_bytes(small_data, tmp_path, read):
    """The limit is checked in bytes first (cheap); a column past it in bytes is measured in
    characters: 20,000 two-byte characters (40,000 bytes) are read, 32,768 are refused."""
    frame = reviews(small_data)
    frame.loc[0, "comment_overall"] = "é" * 20_000
    path = tmp_path / "accents.csv"
    io.write_reviews(frame, path)
    got = read(path)
    got = got if isinstance(got, pd.DataFrame) else pd.concat(list(got))
    assert got.loc[got["review_id"] == frame.loc[0, "review_id"],
                   "comment_overall"].item() == "é" * 20_000
    frame.loc[2, "comment_overall"] = "é" * 32_768
    io.write_reviews(frame, path)
    with pytest.raises(ImportFileError) as caught:
        got = read(path)
        if not isinstance(got, pd.DataFrame):
            list(got)
    assert str(caught.value) == ("accents.csv, row 4, column comment_overall: a cell of "
                                 "32,768 characters; at most 32,767 are read (as in Excel)")


@pytest.mark.parametrize("read", [io.read_reviews, io.read_reviews_blocks])
def test_rows_past_the_configured_limit(small_data, tmp_path, monkeypatch, read):
    path = tmp_path / "six.csv"
    io.write_reviews(reviews(small_data), path)
    monkeypatch.setenv("SJR_IMPORT_MAX_ROWS", "5")
    with pytest.raises(ImportFileError, match=r"^six\.csv: more than 5 data rows"):
        read(path)
    monkeypatch.setenv("SJR_IMPORT_MAX_ROWS", "6")
    assert len(read(path)) == 6


def test_the_default_row_limit_leaves_room_for_millions_of_reviews():
    assert io.limits().max_rows >= 1_000_000 and io.limits().max_columns >= len(
        domain.REVIEW_COLUMNS)


def test_a_file_past_the_size_limit_is_not_read(small_data, tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    io.write_reviews(reviews(small_data), path)
    monkeypatch.setenv("SJR_IMPORT_MAX_FILE_BYTES", "1000")
    with pytest.raises(ImportFileError, match=r"^big\.csv: the file is [\d,]+ bytes; at "
                                              r"most 1,000"):
        io.read_reviews(path)
    monkeypatch.setenv("SJR_IMPORT_MAX_FILE_BYTES", "a lot")
    with pytest.raises(ImportFileError, match="SJR_IMPORT_MAX_FILE_BYTES"):
        io.read_reviews(path)


# --- XLSX: the real size, never the declared one ---------------------------------------

def test_xlsx_rows_beyond_the_declared_dimension_are_all_read(small_data, tmp_path):
    """The finding: 6 rows in, a <dimension> declaring 3, and only 3 were read."""
    frame = reviews(small_data)
    written = tmp_path / "six.xlsx"
    io.write_reviews(frame, written)
    lying = with_dimension(written, "A1:B4", tmp_path / "declares_three.xlsx")
    got = io.read_reviews(lying)
    assert got["review_id"].tolist() == frame["review_id"].tolist()
    assert len(got) == 6


def test_a_tiny_xlsx_declaring_the_largest_sheet_costs_nothing(small_data, tmp_path):
    written = tmp_path / "small.xlsx"
    io.write_reviews(reviews(small_data, 3), written)
    huge = with_dimension(written, "A1:XFD1048576", tmp_path / "declares_huge.xlsx")
    assert huge.stat().st_size < 20_000
    tracemalloc.start()
    try:
        got = io.read_reviews(huge)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(got) == 3
    assert peak < 50 * 2**20  # padded to 16,384 x 1,048,576 cells it would be terabytes


def test_xlsx_data_far_to_the_right_is_refused_by_row_and_column(tmp_path):
    rows = (f'<row r="1">{inline("A1", "review_id")}</row>'
            f'<row r="2">{inline("A2", "R1")}{inline("KN2", "x")}</row>')
    path = workbook_with_sheet(tmp_path, "wide.xlsx", sheet_xml(rows))
    with pytest.raises(ImportFileError) as caught:
        io.read_reviews(path)
    assert str(caught.value).startswith("wide.xlsx, row 2, column KN: data in column 300; "
                                        "at most 200 columns are read")


def test_xlsx_row_numbers_past_the_format_are_refused(tmp_path):
    rows = (f'<row r="1">{inline("A1", "review_id")}</row>'
            f'<row r="2000000">{inline("A2000000", "R1")}</row>')
    path = workbook_with_sheet(tmp_path, "tall.xlsx", sheet_xml(rows))
    with pytest.raises(ImportFileError, match=r"^tall\.xlsx: "):
        io.read_reviews(path)


def test_xlsx_rows_past_the_configured_limit(small_data, tmp_path, monkeypatch):
    path = tmp_path / "six.xlsx"
    io.write_reviews(reviews(small_data), path)
    monkeypatch.setenv("SJR_IMPORT_MAX_ROWS", "4")
    with pytest.raises(ImportFileError, match=r"^six\.xlsx: more than 4 data rows"):
        io.read_reviews(path)


def test_xlsx_cell_too_long_names_row_and_header(tmp_path):
    """(openpyxl cuts strings to 32,767 characters when it writes, so the sheet is crafted.)"""
    rows = (f'<row r="1">{inline("A1", "review_id")}{inline("B1", "comment_admission")}</row>'
            f'<row r="2">{inline("A2", "R1")}{inline("B2", "short")}</row>'
            f'<row r="3">{inline("A3", "R2")}{inline("B3", "b" * 40_000)}</row>')
    path = workbook_with_sheet(tmp_path, "cell.xlsx", sheet_xml(rows))
    with pytest.raises(ImportFileError) as caught:
        io.read_reviews(path)
    assert str(caught.value).startswith("cell.xlsx, row 3, column comment_admission: a cell "
                                        "of 40,000 characters")


def test_an_xlsx_that_unpacks_past_the_limit_is_refused_before_reading(tmp_path,
                                                                         monkeypatch):
    """A zip bomb: a part of zeros that deflates a thousandfold."""
    source = tmp_path / "plain.xlsx"
    book = openpyxl.Workbook()
    book.active["A1"] = "review_id"
    book.save(source)
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info.filename))
        dst.writestr("xl/padding.bin", b"\0" * (20 * 2**20))
    assert bomb.stat().st_size < 200_000
    monkeypatch.setattr(io, "limits", lambda: io.Limits(max_unpacked_bytes=10 * 2**20))
    with pytest.raises(ImportFileError, match=r"^bomb\.xlsx: the workbook unpacks to "
                                              r"[\d,]+ bytes; at most 10,485,760"):
        io.read_reviews(bomb)


@pytest.mark.parametrize("sheet", [
    '<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c></row><row',
    '<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    '<row r="1"><c r="A1" t="inlineStr"><is><t>&b;</t></is></c></row></sheetData></worksheet>',
])
def test_a_broken_or_entity_laden_sheet_is_one_clear_line(tmp_path, sheet):
    path = workbook_with_sheet(tmp_path, "broken.xlsx", sheet)
    with pytest.raises(ImportFileError) as caught:
        io.read_reviews(path)
    assert str(caught.value).startswith("broken.xlsx: not a readable XLSX workbook (")
    assert "\n" not in str(caught.value)


# --- YAML: safe, with limits -------------------------------------------------------------

def test_billion_laughs_mapping_is_refused_clearly(small_data, tmp_path):
    mapping = tmp_path / "laughs.yaml"
    mapping.write_text(BILLION_LAUGHS, encoding="utf-8")
    assert mapping.stat().st_size < 600
    with pytest.raises(MappingError, match="billion laughs"):
        load_mapping(mapping)
    data = tmp_path / "reviews.csv"
    io.write_reviews(reviews(small_data), data)
    with pytest.raises(ImportFileError) as caught:
        io.read_reviews(data, mapping=mapping)
    assert str(caught.value).startswith("reviews.csv: column mapping: laughs.yaml: its "
                                        "aliases expand to more than 100,000 values")


def test_billion_laughs_approval_file_is_refused(tmp_path):
    path = tmp_path / "approval.yaml"
    path.write_text(BILLION_LAUGHS, encoding="utf-8")
    with pytest.raises(ApprovalError, match="billion laughs"):
        load_approval_file(path)


@pytest.mark.parametrize(("content", "expected"), [
    ("a: " + "[" * 60 + "]" * 60 + "\n", "nested more than 50 deep"),
    ("a: &a [1, *a]\n", "refers to a collection that contains it"),
    ("x: &x 1\n" + "".join(f"k{i}: *x\n" for i in range(101)), "more than 100 aliases"),
    ("a: !!python/object/apply:os.system ['echo hi']\n", "not a readable YAML file"),
    ("columns: [unclosed\n", "not a readable YAML file at line"),
])
def test_hostile_yaml_is_refused(tmp_path, content, expected):
    path = tmp_path / "hostile.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(YAMLFileError, match=re.escape(expected)) as caught:
        load_yaml(path)
    assert str(caught.value).startswith("hostile.yaml: ")


def test_a_yaml_file_past_a_megabyte_is_not_read(tmp_path):
    path = tmp_path / "large.yaml"
    path.write_text("# padding\n" * 120_000, encoding="utf-8")
    with pytest.raises(YAMLFileError, match=r"^large\.yaml: larger than 1,048,576 bytes"):
        load_yaml(path)


def test_ordinary_yaml_with_a_few_anchors_still_loads(tmp_path):
    path = tmp_path / "mapping.yaml"
    path.write_text("values:\n  sex: &sex {M: male, F: female}\n  review_reasons: {RS: "
                    "random_sample}\ncolumns: {Gender: sex}\nignore: [Notes]\n",
                    encoding="utf-8")
    mapping = load_mapping(path)
    assert mapping.values["sex"] == {"M": "male", "F": "female"}
    assert load_yaml(path)["columns"] == {"Gender": "sex"}


# --- formula-like cells: neutralised in CSV, restored on reading ------------------------

TRICKY = ["=1+1", "-3 days after admission", "+44 is the code we dialled", "@risk of falls",
          "'tis the season", "'=already quoted", "''-two quotes", "\tTabbed start",
          '=HYPERLINK("https://example.org","click")', "'", "a = b"]


def test_neutralise_and_restore_are_inverse_on_awkward_strings():
    for text in [*TRICKY, "", "''", "'''", "=", "-", "'-", "x'=y", "\r\nnew line"]:
        assert restore(neutralise(text)) == text
        assert not neutralise(text).startswith(tuple("=+-@\t\r"))
    assert neutralise("=1+1") == "'=1+1" and neutralise("'tis") == "'tis"
    assert restore("'tis") == "'tis" and restore("''") == "''"


@pytest.mark.parametrize("storage", ["python", "pyarrow"])
def test_restore_series_is_restore_on_every_cell(storage):
    cells = [neutralise(t) for t in [*TRICKY, "", "''", "'-", "x'=y"]] + [None, "'", "plain"]
    series = pd.Series(cells, dtype=pd.StringDtype(storage))
    restored = restore_series(series)
    assert [None if pd.isna(v) else v for v in restored] == \
        [None if c is None else restore(c) for c in cells]
    clean = pd.Series(["plain", None, "it's"], dtype=pd.StringDtype(storage))
    assert restore_series(clean) is clean  # nothing to restore: the same column back


def test_csv_export_neutralises_text_cells_and_reading_restores_them(small_data, tmp_path):
    frame = reviews(small_data, len(TRICKY))
    frame["comment_overall"] = TRICKY
    path = tmp_path / "tricky.csv"
    io.write_reviews(frame, path)
    with path.open(newline="", encoding="utf-8") as fh:
        cells = [row["comment_overall"] for row in csv.DictReader(fh)]
    assert cells[:4] == ["'=1+1", "'-3 days after admission", "'+44 is the code we dialled",
                         "'@risk of falls"]
    assert cells[4:7] == ["'tis the season", "''=already quoted", "'''-two quotes"]
    assert all(not c.startswith(tuple("=+-@\t\r")) for c in cells)
    again = io.read_reviews(path)
    assert again["comment_overall"].tolist() == TRICKY
    pd.testing.assert_frame_equal(again, io.read_reviews(_xlsx_of(frame, tmp_path)))


def _xlsx_of(frame: pd.DataFrame, tmp_path: Path) -> Path:
    path = tmp_path / "tricky.xlsx"
    io.write_reviews(frame, path)
    book = openpyxl.load_workbook(path)
    column = list(io.export_columns(frame)).index("comment_overall") + 1
    cell = book.active.cell(2, column)
    assert cell.value == "=1+1" and cell.data_type == "s"  # text in XLSX, never a formula
    return path


def test_negative_numbers_are_numbers_not_neutralised_text(small_data, tmp_path):
    deaths = small_data.deaths.head(2).copy()
    column = next(c for c in domain.DEATH_COLUMNS if str(deaths[c].dtype) == "Int64")
    deaths[column] = pd.array([-3, 4], dtype="Int64")
    path = tmp_path / "deaths.csv"
    io.write_deaths(deaths, path)
    with path.open(newline="", encoding="utf-8") as fh:
        assert [row[column] for row in csv.DictReader(fh)] == ["-3", "4"]


# --- the CLI: each bad file ends in one line, exit 1, the store unchanged ---------------

@pytest.fixture
def cli_store(db_url, small_data, tmp_path):
    """A store with the organisations and deaths, and the reviews file those belong to."""
    from test_import_cli import sjr

    for kind, write, frame in (("organisations", io.write_organisations,
                                small_data.organisations),
                               ("deaths", io.write_deaths, small_data.deaths)):
        path = tmp_path / f"{kind}.csv"
        write(frame, path)
        result = sjr("import", kind, path, "--db", db_url)
        assert result.exit_code == 0, result.output
    return db_url


def _bad_files(small_data, tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (extra sjr import arguments, the expected message's start)."""
    out: dict[str, tuple[list[str], str]] = {}
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"c{i}" for i in range(1_000_000)) + "\n1\n", encoding="utf-8")
    out["wide.csv"] = ([], "wide.csv: the header has more than")
    frame = reviews(small_data)
    frame.loc[2, "comment_overall"] = "x" * 40_000
    io.write_reviews(frame, tmp_path / "long_cell.csv")
    out["long_cell.csv"] = ([], "long_cell.csv, row 4, column comment_overall: a cell of "
                                "40,000 characters")
    io.write_reviews(reviews(small_data), tmp_path / "mapped.csv")
    (tmp_path / "laughs.yaml").write_text(BILLION_LAUGHS, encoding="utf-8")
    out["mapped.csv"] = (["--mapping", str(tmp_path / "laughs.yaml")],
                         "mapped.csv: column mapping: laughs.yaml: its aliases expand")
    rows = (f'<row r="1">{inline("A1", "review_id")}</row>'
            f'<row r="2">{inline("A2", "R1")}{inline("KN2", "x")}</row>')
    workbook_with_sheet(tmp_path, "wide.xlsx", sheet_xml(rows))
    out["wide.xlsx"] = ([], "wide.xlsx, row 2, column KN: data in column 300")
    (tmp_path / "notes.txt").write_text("not a spreadsheet", encoding="utf-8")
    out["notes.txt"] = ([], "notes.txt: not a CSV or XLSX file")
    return out


def test_each_bad_file_ends_in_one_line_and_changes_nothing(cli_store, small_data, tmp_path):
    from test_import_cli import dump, sjr

    before = dump(cli_store)
    for name, (extra, expected) in _bad_files(small_data, tmp_path).items():
        result = sjr("import", "reviews", tmp_path / name, "--db", cli_store, *extra)
        assert result.exit_code == 1, (name, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(expected), (name, result.output)
        assert "Traceback" not in result.output
        assert dump(cli_store) == before, name


def test_rows_past_the_limit_through_the_cli(cli_store, small_data, tmp_path, monkeypatch):
    from test_import_cli import dump, sjr

    path = tmp_path / "six.csv"
    io.write_reviews(reviews(small_data), path)
    before = dump(cli_store)
    monkeypatch.setenv("SJR_IMPORT_MAX_ROWS", "5")
    result = sjr("import", "reviews", path, "--db", cli_store)
    assert result.exit_code == 1
    assert result.output.strip() == ("six.csv: more than 5 data rows; split the file (or set "
                                     "$SJR_IMPORT_MAX_ROWS)")
    assert dump(cli_store) == before


def test_an_xlsx_lying_about_its_size_imports_every_row(cli_store, small_data, tmp_path):
    """The finding: 6 rows in, '3 inserted', exit 0."""
    from test_import_cli import sjr

    written = tmp_path / "six.xlsx"
    io.write_reviews(reviews(small_data), written)
    lying = with_dimension(written, "A1:AV4", tmp_path / "declares_three.xlsx")
    result = sjr("import", "reviews", lying, "--db", cli_store)
    assert result.exit_code == 0, result.output
    assert "6 inserted" in result.output


def test_export_then_import_keeps_formula_like_text_exactly(cli_store, small_data, tmp_path):
    from test_import_cli import load, sjr

    frame = reviews(small_data, len(TRICKY))
    frame["comment_overall"] = TRICKY
    source = tmp_path / "tricky.csv"
    io.write_reviews(frame, source)
    assert sjr("import", "reviews", source, "--db", cli_store).exit_code == 0
    exported = {k: tmp_path / f"out_{k}.csv" for k in ("organisations", "deaths", "reviews")}
    for kind, path in exported.items():
        result = sjr("export", kind, path, "--db", cli_store)
        assert result.exit_code == 0, result.output
    with exported["reviews"].open(newline="", encoding="utf-8") as fh:
        cells = {row["comment_overall"] for row in csv.DictReader(fh)}
    assert {"'=1+1", "'-3 days after admission", "'+44 is the code we dialled",
            "'@risk of falls"} <= cells
    copy_url = f"sqlite:///{tmp_path / 'copy.db'}"
    for kind, path in exported.items():
        result = sjr("import", kind, path, "--db", copy_url)
        assert result.exit_code == 0, result.output
    original, copy = load(cli_store), load(copy_url)
    for kind in original:
        pd.testing.assert_frame_equal(copy[kind], original[kind])
    stored = copy["reviews"].set_index("review_id").loc[frame["review_id"], "comment_overall"]
    assert stored.tolist() == TRICKY


def test_a_text_too_long_for_an_xlsx_cell_is_an_error_not_cut_short(small_data, tmp_path):
    frame = reviews(small_data)
    frame.loc[0, "comment_overall"] = "c" * 33_000
    path = tmp_path / "long.xlsx"
    with pytest.raises(ValueError, match=r"^long\.xlsx: column comment_overall holds a text "
                                         r"of 33,000 characters"):
        io.write_reviews(frame, path)
    assert list(tmp_path.iterdir()) == []  # nothing half-written left behind
    io.write_reviews(frame, tmp_path / "long.csv")  # CSV holds it whole
    with (tmp_path / "long.csv").open(newline="", encoding="utf-8") as fh:
        assert len(next(csv.DictReader(fh))["comment_overall"]) == 33_000


def test_a_csv_extract_is_read_back_with_its_formula_like_cells_restored(tmp_path):
    from data_access.extract import read_extract

    path = tmp_path / "extract.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:  # as write_extract writes it
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["review_id", "comment_overall", "score_overall"])
        writer.writerows([["p1", "'=1+1", "3"], ["p2", "''-kept one quote", "-1"],
                          ["p3", "'tis", ""]])
    frame = read_extract(path)
    assert frame["comment_overall"].tolist() == ["=1+1", "'-kept one quote", "'tis"]
    assert frame["score_overall"].tolist()[:2] == [3, -1]


def test_write_extract_neutralises_text_cells_and_keeps_numbers(tmp_path):
    import datetime as dt
    import hashlib
    import json

    from data_access.approvals import ApprovalRecord
    from data_access.extract import read_extract, write_extract

    approval = ApprovalRecord(
        approval_id="T-1", applicants=("res",), purpose="a test", organisations=("RXX",),
        period_start="2024-01", period_end="2024-12", fields=("review_id", "comment_overall",
                                                              "score_overall"),
        free_text=True, date_coarsening="month", start_date=dt.date(2024, 1, 1),
        end_date=dt.date(2030, 1, 1), status="active", revoked_reason=None)
    frame = pd.DataFrame({
        "review_id": pd.array(["p1", "p2", "p3"], dtype="string"),
        "comment_overall": pd.array(["=1+1", "@risk", "'-x"], dtype="string"),
        "score_overall": pd.array([3, -1, None], dtype="Int64"),
    })
    result = write_extract(frame, tmp_path / "ex.csv", approval=approval, user="res")
    with result.path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["comment_overall"] for r in rows] == ["'=1+1", "'@risk", "''-x"]
    assert [r["score_overall"] for r in rows] == ["3", "-1", ""]
    manifest = json.loads(result.manifest.read_text())
    assert manifest["sha256"] == hashlib.sha256(result.path.read_bytes()).hexdigest()
    assert read_extract(result.path)["comment_overall"].tolist() == ["=1+1", "@risk", "'-x"]
