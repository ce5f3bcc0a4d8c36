"""Reading and writing the exchange format: CSV and XLSX, whole-file errors, row errors with
spreadsheet row numbers, column mappings, and lossless round trips."""

from __future__ import annotations

import datetime as dt
import functools
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sjrlib import domain, io, schema
from sjrlib.io import ImportFileError
from sjrlib.schema import ValidationFailed

DATA = Path(__file__).parent / "data"
TODAY = dt.date(2025, 6, 1)


def to_xlsx(csv_path: Path, xlsx_path: Path) -> Path:
    """The same cells as a CSV file, typed as text in the first sheet of a workbook."""
    raw = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(raw.columns))
    for record in raw.itertuples(index=False):
        sheet.append([v if v != "" else None for v in record])
    book.save(xlsx_path)
    return xlsx_path


def errors(exc: ValidationFailed) -> list[tuple[str, int, str, str]]:
    return [(e.source, e.row, e.column, e.rule) for e in exc.errors]


# --- reading good files ----------

def test_read_valid_csv():
    frame = io.read_reviews(DATA / "reviews_valid.csv", known_organisations={"RXX"}, today=TODAY)
    assert list(frame.columns) == list(domain.REVIEW_COLUMNS)
    assert frame.dtypes.astype(str).to_dict() == domain.REVIEW_DTYPES
    assert frame["review_id"].tolist() == ["R1", "R3", "R2"]
    assert frame.loc[1, "case_id"] == "00417"  # leading zeros kept
    assert frame.loc[1, "comment_admission"] == (
        'Delay of 6 hours before "senior review", then escalation.\nAKI not recognised.')
    assert frame.loc[1, "review_reasons"] == "family_concern;learning_disability"
    assert frame.loc[0, "review_date"] == pd.Timestamp("2024-03-05")


def test_read_valid_xlsx_gives_the_same_frame(tmp_path):
    csv = io.read_reviews(DATA / "reviews_valid.csv", today=TODAY)
    xlsx = io.read_reviews(to_xlsx(DATA / "reviews_valid.csv", tmp_path / "r.xlsx"), today=TODAY)
    pd.testing.assert_frame_equal(xlsx, csv)


def test_xlsx_numbers_and_dates_typed_by_a_person(tmp_path):
    """Excel stores typed numbers as numbers and dates as dates: they still read right."""
    path = to_xlsx(DATA / "reviews_valid.csv", tmp_path / "typed.xlsx")
    book = openpyxl.load_workbook(path)
    sheet = book.active
    header = [c.value for c in sheet[1]]
    sheet.cell(2, header.index("age_at_death") + 1).value = 81
    sheet.cell(2, header.index("score_overall") + 1).value = 3.0
    sheet.cell(2, header.index("review_date") + 1).value = dt.datetime(2024, 3, 5)
    book.save(path)
    frame = io.read_reviews(path, today=TODAY)
    assert frame.loc[0, "age_at_death"] == 81 and frame.loc[0, "score_overall"] == 3
    assert frame.loc[0, "review_date"] == pd.Timestamp("2024-03-05")


def test_csv_with_byte_order_mark(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (DATA / "reviews_valid.csv").read_bytes())
    frame = io.read_reviews(path, today=TODAY)
    assert frame["review_id"].tolist() == ["R1", "R3", "R2"]


def test_csv_with_windows_line_endings(tmp_path):
    path = tmp_path / "crlf.csv"
    path.write_bytes((DATA / "reviews_valid.csv").read_bytes().replace(b"\n", b"\r\n"))
    frame = io.read_reviews(path, today=TODAY)
    expected = io.read_reviews(DATA / "reviews_valid.csv", today=TODAY)
    pd.testing.assert_frame_equal(frame, expected)  # a CRLF inside a comment becomes \n too


def test_read_deaths_and_organisations():
    organisations = io.read_organisations(DATA / "organisations.csv")
    assert organisations["organisation_code"].tolist() == ["RXX", "R0A", "S08000015"]
    deaths = io.read_deaths(DATA / "deaths.csv", known_organisations=organisations)
    assert deaths["deaths_in_scope"].sum() == 131 + 118 + 210
    assert deaths.dtypes.astype(str).to_dict() == domain.DEATH_DTYPES
    with pytest.raises(ValidationFailed) as caught:
        io.read_deaths(DATA / "deaths.csv", known_organisations={"RXX"})
    assert errors(caught.value) == [("deaths.csv", 4, "organisation_code", "organisation_known")]


def test_a_code_differing_only_in_case_is_refused_with_a_hint(tmp_path):
    """'rxx' is not silently taken for RXX (codes are exact), but the refusal says which known
    code it nearly is; a code near none gets no guess, nor one near two."""
    path = tmp_path / "deaths.csv"
    path.write_text("organisation_code,month,deaths_in_scope,learning_disability_deaths\n"
                    "rxx,2025-04,10,1\n"
                    "RZZ,2025-05,3,0\n"
                    "r-0a,2025-06,2,0\n")
    with pytest.raises(ValidationFailed) as caught:
        io.read_deaths(path, known_organisations={"RXX", "R0A", "R0a"})
    messages = {e.row: e.message for e in caught.value.errors}
    assert "(did you mean 'RXX'?)" in messages[2]
    assert "did you mean" not in messages[3] and "did you mean" not in messages[4]
    assert len(messages) == 3


def test_an_unknown_column_near_a_known_one_is_named(tmp_path):
    header = VALID_HEADER.replace("review_id", "Review ID").replace("case_id", "CASE-ID")
    path = _write(tmp_path, "reviews.csv", header + ",ward_name\n" + VALID_ROW + ",x\n")
    with pytest.raises(ImportFileError) as caught:
        io.read_reviews(path, today=TODAY)
    assert str(caught.value) == (
        "reviews.csv: unknown column(s) Review ID (did you mean review_id?), CASE-ID (did you "
        "mean case_id?), ward_name for reviews (use a column mapping to rename or ignore them)")


def test_negative_total_is_one_error_not_two(tmp_path):
    """A negative deaths_in_scope is reported once, in its own column: the valid
    learning_disability_deaths beside it is not also called more than the total."""
    path = tmp_path / "deaths.csv"
    path.write_text("organisation_code,month,deaths_in_scope,learning_disability_deaths\n"
                    "RXX,2025-04,10,1\n"
                    "RXX,2025-05,-3,0\n"
                    "RXX,2025-06,2,5\n")
    with pytest.raises(ValidationFailed) as caught:
        io.read_deaths(path, known_organisations={"RXX"})
    assert [(e.row, e.column) for e in caught.value.errors] == [
        (3, "deaths_in_scope"), (4, "learning_disability_deaths")]


# --- bad rows ----------

def test_every_bad_row_reported_with_spreadsheet_row_numbers():
    """Row 3 spans two lines (a quoted newline) and row 4 is blank: numbering as a spreadsheet
    shows it, header = row 1."""
    with pytest.raises(ValidationFailed) as caught:
        io.read_reviews(DATA / "reviews_bad.csv", today=TODAY)
    assert errors(caught.value) == [
        ("reviews_bad.csv", 5, "score_overall", "care_score_range"),
        ("reviews_bad.csv", 7, "sex", "code_list"),
        ("reviews_bad.csv", 7, "postcode_district", "postcode_district_outward_only"),
    ]
    text = str(caught.value)
    assert text.splitlines()[0] == ("reviews_bad.csv: 3 problems in 2 rows; nothing was "
                                    "imported")
    assert "reviews_bad.csv, row 5, column score_overall (value '6')" in text
    assert "reviews_bad.csv, row 7, column sex (value 'F')" in text


def test_bad_rows_in_xlsx(tmp_path):
    path = to_xlsx(DATA / "reviews_bad.csv", tmp_path / "bad.xlsx")
    with pytest.raises(ValidationFailed) as caught:
        io.read_reviews(path, today=TODAY)
    # The XLSX has no blank row (pandas dropped it making the workbook): rows 2-6.
    assert [(e.row, e.column) for e in caught.value.errors] == [
        (4, "score_overall"), (6, "sex"), (6, "postcode_district")]


def test_identifier_in_a_comment_is_a_bad_value(tmp_path):
    text = (DATA / "reviews_valid.csv").read_text(encoding="utf-8")
    path = tmp_path / "leak.csv"
    path.write_text(text.replace("Prompt assessment;", "Prompt assessment of Mrs Jones;", 1),
                    encoding="utf-8")
    with pytest.raises(ValidationFailed) as caught:
        io.read_reviews(path, today=TODAY)
    [error] = caught.value.errors
    assert (error.row, error.column, error.rule) == (2, "comment_admission", "no_identifiers")
    assert "likely name" in error.message and "Jones" not in str(error)


# --- whole-file problems: one clear line ----------

def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


VALID_HEADER = (DATA / "reviews_valid.csv").read_text(encoding="utf-8").splitlines()[0]
VALID_ROW = (DATA / "reviews_valid.csv").read_text(encoding="utf-8").splitlines()[1]

FILE_CASES = {
    "not-csv-or-xlsx": ("reviews.txt", VALID_HEADER, "not a CSV or XLSX file"),
    "empty": ("reviews.csv", "", "the file is empty"),
    "only-bom": ("reviews.csv", b"\xef\xbb\xbf\n", "the file is empty"),
    "header-only": ("reviews.csv", VALID_HEADER + "\n", "a header but no data rows"),
    "missing-columns": ("reviews.csv",
                        pd.read_csv(DATA / "reviews_valid.csv", dtype=str)
                        .drop(columns=["review_id", "score_overall"]).to_csv(index=False),
                        "missing required column(s) review_id, score_overall"),
    "unknown-column": ("reviews.csv", VALID_HEADER + ",ward_name\n" + VALID_ROW + ",x\n",
                       "unknown column(s) ward_name for reviews"),
    "duplicate-header": ("reviews.csv", VALID_HEADER + ",sex\n" + VALID_ROW + ",male\n",
                         "duplicate header sex"),
    "wrong-encoding": ("reviews.csv", (VALID_HEADER + "\n" + VALID_ROW.replace(
        "Pneumonia", "Pneumonie aiguë") + "\n").encode("latin-1"),
        "not UTF-8 text (byte 0xeb on line 2, at position"),
    "utf16": ("reviews.csv", (VALID_HEADER + "\n").encode("utf-16"), "not UTF-8 text"),
    "xlsx-named-csv": ("reviews.csv", b"PK\x03\x04" + b"\x00" * 40, "not CSV text"),
    "not-a-workbook": ("reviews.xlsx", b"review_id,case_id\nR1,C1\n",
                       "not a readable XLSX workbook"),
    "empty-workbook-file": ("reviews.xlsx", b"", "the file is empty"),
    "semicolons": ("reviews.csv", VALID_HEADER.replace(",", ";") + "\n", "separated by semicolons"),
    "long-row": ("reviews.csv", VALID_HEADER + "\n" + VALID_ROW + ",extra\n",
                 "a row has more cells than the header's 48 (a comma in an unquoted cell?): "
                 "row 2 has 49"),
    "data-without-header": ("reviews.csv", VALID_HEADER + ",\n" + VALID_ROW + ",oops\n",
                            "column 49 has data but no header"),
}


@pytest.mark.parametrize("name, content, expected", FILE_CASES.values(), ids=FILE_CASES)
def test_whole_file_problem_is_one_clear_line(tmp_path, name, content, expected):
    path = _write(tmp_path, name, content)
    with pytest.raises(ImportFileError) as caught:
        io.read_reviews(path, today=TODAY)
    message = str(caught.value)
    assert expected in message
    assert message.startswith(f"{name}: ") and "\n" not in message


def test_missing_file(tmp_path):
    with pytest.raises(ImportFileError, match="no such file"):
        io.read_reviews(tmp_path / "absent.csv")


def test_empty_first_sheet(tmp_path):
    book = openpyxl.Workbook()
    book.save(tmp_path / "blank.xlsx")
    with pytest.raises(ImportFileError, match="blank.xlsx: the first sheet is empty"):
        io.read_reviews(tmp_path / "blank.xlsx")


def test_trailing_empty_column_is_harmless(tmp_path):
    text = "organisation_code,name,nation,region,\nRXX,Example NHS Trust,england,London,\n"
    frame = io.read_organisations(_write(tmp_path, "orgs.csv", text))
    assert frame["organisation_code"].tolist() == ["RXX"]


# --- column mappings ----------

def test_trust_export_with_mapping():
    frame = io.read_reviews(DATA / "trust_export.csv", mapping=DATA / "trust_export_mapping.yaml",
                            known_organisations={"RXX"}, today=TODAY)
    first, second = frame.iloc[0], frame.iloc[1]
    assert first["review_stage"] == "first" and second["review_stage"] == "second"
    assert first["sex"] == "male"
    assert first["review_reasons"] == "family_concern;random_sample"
    assert first["score_overall"] == 5  # the trust's legacy 6, mapped explicitly
    assert first["any_problems"] == "no" and second["problem_monitoring"] == "probably"
    # PRISM 5 (their file) is RCP 2 in the store.
    assert second["avoidability_score"] == 2 and second["avoidability_scale"] == "rcp"
    assert pd.isna(first["avoidability_score"]) and pd.isna(first["avoidability_scale"])


def test_trust_export_without_mapping_names_the_unknown_columns():
    with pytest.raises(ImportFileError) as caught:
        io.read_reviews(DATA / "trust_export.csv")
    assert "unknown column(s) Review ref, Patient ref" in str(caught.value)
    assert "column mapping" in str(caught.value)


def test_unmapped_legacy_score_is_rejected(tmp_path):
    mapping = DATA / "trust_export_mapping.yaml"
    text = mapping.read_text(encoding="utf-8").replace('score_overall: {"6": "5"}', "")
    mapping_without = _write(tmp_path, "m.yaml", text)
    with pytest.raises(ValidationFailed) as caught:
        io.read_reviews(DATA / "trust_export.csv", mapping=mapping_without, today=TODAY)
    assert errors(caught.value) == [("trust_export.csv", 2, "'Overall score' (score_overall)",
                                     "care_score_range")]
    assert "legacy scale" in caught.value.errors[0].message


def test_mapping_given_as_a_dict_and_yaml_booleans(tmp_path):
    path = _write(tmp_path, "r.csv", (DATA / "reviews_valid.csv").read_text(encoding="utf-8")
                  .replace("any_problems", "Problems"))
    mapping = {"columns": {"Problems": "any_problems"}, "values": {"any_problems": {"Y": True}}}
    frame = io.read_reviews(path, mapping=mapping, today=TODAY)
    assert frame["any_problems"].tolist() == ["yes", "yes", "yes"]


MAPPING_CASES = {
    "unknown-key": ("colums: {a: b}\n", "unknown key(s) colums"),
    "target-not-a-column": ("columns: {Review ref: review_ident}\n",
                            "maps to unknown column(s) review_ident"),
    "bad-scale": ("avoidability_scale: nhs\n", "avoidability_scale must be one of rcp, prism"),
    "not-yaml": ("columns: [unclosed\n", "not a readable YAML mapping"),
    "two-headers-one-column": ("columns: {Review ref: review_id, Patient ref: review_id}\n",
                               "more than one header becomes column(s) review_id"),
    "ignore-not-a-list": ("ignore: Notes for admin\n", "ignore must be a list"),
}


@pytest.mark.parametrize("text, expected", MAPPING_CASES.values(), ids=MAPPING_CASES)
def test_bad_mapping_is_a_file_error(tmp_path, text, expected):
    mapping = _write(tmp_path, "mapping.yaml", text)
    with pytest.raises(ImportFileError) as caught:
        io.read_reviews(DATA / "trust_export.csv", mapping=mapping)
    assert expected in str(caught.value) and "\n" not in str(caught.value)


# --- writing: lossless round trips ----------

NASTY_COMMENTS = [
    'Said "call the family", then didn\'t, twice',
    "Line one\nline two\r\nline three",
    "Unicode: café, naïve, 肺炎, emoji 🙂, em dash —",
    "  leading and trailing spaces  ",
    "=SUM(A1:A3) looks like a formula",
    "NA",
    "0042",
    "Literal _x000D_ and _x005F_ text, a bell \x07 and a lone\rcarriage return",
]


@pytest.fixture(scope="module")
def nasty_frame() -> pd.DataFrame:
    base = io.read_reviews(DATA / "reviews_valid.csv", today=TODAY).iloc[[0]]
    rows = []
    for i, comment in enumerate(NASTY_COMMENTS):
        row = base.copy()
        row["review_id"] = f"N{i}"
        row["comment_admission"] = comment
        rows.append(row)
    assert schema.validate_reviews(rows[1])["comment_admission"].iloc[0] == (
        "Line one\nline two\nline three")  # line endings are normalised
    frame = pd.concat(rows, ignore_index=True)
    frame.loc[1, "cause_of_death"] = pd.NA
    frame.loc[2, ["sex", "postcode_district", "arrival_hour"]] = pd.NA
    return schema.validate_reviews(frame, today=TODAY)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_review_round_trip_is_lossless(tmp_path, nasty_frame, suffix):
    path = tmp_path / f"reviews{suffix}"
    io.write_reviews(nasty_frame, path)
    back = io.read_reviews(path, today=TODAY)
    pd.testing.assert_frame_equal(back, nasty_frame)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_deaths_and_organisations_round_trip(tmp_path, suffix):
    organisations = io.read_organisations(DATA / "organisations.csv")
    deaths = io.read_deaths(DATA / "deaths.csv")
    io.write_organisations(organisations, tmp_path / f"o{suffix}")
    io.write_deaths(deaths, tmp_path / f"d{suffix}")
    pd.testing.assert_frame_equal(io.read_organisations(tmp_path / f"o{suffix}"), organisations)
    pd.testing.assert_frame_equal(io.read_deaths(tmp_path / f"d{suffix}"), deaths)


def test_written_csv_is_exactly_the_exchange_format(tmp_path, nasty_frame):
    io.write_reviews(nasty_frame, tmp_path / "r.csv")
    lines = (tmp_path / "r.csv").read_bytes().decode("utf-8").split("\n")
    assert lines[0] == ",".join(io.export_columns(nasty_frame))
    assert ",2024-03-05," in lines[1]  # dates as YYYY-MM-DD, no time
    assert ",81," in lines[1]  # integers without ".0"


def test_write_refuses_other_suffixes_and_missing_columns(tmp_path, nasty_frame):
    with pytest.raises(ValueError, match="only write .csv or .xlsx"):
        io.write_reviews(nasty_frame, tmp_path / "r.json")
    with pytest.raises(ValueError, match="lacks column"):
        io.write_reviews(nasty_frame.drop(columns=["sex"]), tmp_path / "r.csv")


_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\u2028\u2029")
    | st.sampled_from(["\n", "\r", "\t", ",", '"', ";", "'"]),
    min_size=1, max_size=60,
).filter(lambda s: s.strip() != "")


@functools.cache
def _one_valid_review() -> pd.DataFrame:
    return io.read_reviews(DATA / "reviews_valid.csv", today=TODAY).iloc[[0]]


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(comment=_TEXT, cause=_TEXT)
def test_any_text_round_trips_or_is_refused_as_an_identifier(tmp_path, comment, cause):
    base = _one_valid_review().copy()
    base["comment_overall"] = comment
    base["cause_of_death"] = cause
    try:
        frame = schema.validate_reviews(base, today=TODAY)
    except ValidationFailed as failed:
        assert {e.rule for e in failed.errors} == {"no_identifiers"}
        return
    path = tmp_path / "prop.csv"
    io.write_reviews(frame, path)
    pd.testing.assert_frame_equal(io.read_reviews(path, today=TODAY), frame)


# --- the synthetic generator's output ----------

def test_synthetic_data_validates_and_round_trips(tmp_path):
    synthetic = pytest.importorskip("sjrlib.synthetic")
    data = synthetic.generate(n_organisations=3, years=1, seed=7)
    organisations = schema.validate_organisations(data.organisations)
    schema.validate_deaths(data.deaths, known_organisations=organisations)
    reviews = schema.validate_reviews(data.reviews, known_organisations=organisations)
    assert len(reviews) == len(data.reviews) > 0
    io.write_reviews(reviews, tmp_path / "synthetic.csv")
    back = io.read_reviews(tmp_path / "synthetic.csv", known_organisations=organisations)
    pd.testing.assert_frame_equal(back, reviews.reset_index(drop=True))


def test_copy_of_fixture_dir_is_untouched(tmp_path):
    """Reading never writes next to the file (no caches, no converted copies)."""
    copy = tmp_path / "data"
    shutil.copytree(DATA, copy)
    io.read_reviews(copy / "reviews_valid.csv", today=TODAY)
    assert sorted(p.name for p in copy.iterdir()) == sorted(p.name for p in DATA.iterdir())


# --- block by block (files too large to hold whole) ----------

@pytest.mark.parametrize("name, content, expected", FILE_CASES.values(), ids=FILE_CASES)
def test_whole_file_problem_is_the_same_block_by_block(tmp_path, name, content, expected):
    path = _write(tmp_path, name, content)
    with pytest.raises(ImportFileError) as caught:
        io.read_reviews_blocks(path, today=TODAY)
    assert expected in str(caught.value) and str(caught.value).startswith(f"{name}: ")


@pytest.mark.parametrize("block_bytes", [600_000])
def test_blocks_give_the_frame_read_reviews_gives(tmp_path, small_data, block_bytes):
    path = tmp_path / "reviews.csv"
    io.write_reviews(small_data.reviews, path)
    whole = io.read_reviews(path, known_organisations=small_data.organisations)
    with io.read_reviews_blocks(path, known_organisations=small_data.organisations,
                                block_bytes=block_bytes) as blocks:
        parts = list(blocks)
        assert len(blocks) == len(whole)
    assert len(parts) > 1
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole)


def _broken(small_data, tmp_path: Path, blank_line: bool) -> Path:
    """A file with errors far apart: a review_id repeated (first and last rows), a second-stage
    review naming a review that is only further down, a bad score; optionally a blank line."""
    frame = small_data.reviews.copy()
    last = len(frame) - 1
    frame.loc[last, "review_id"] = frame.loc[0, "review_id"]
    frame.loc[5, "score_overall"] = 9
    second = frame.index[frame["review_stage"] == "second"][0]
    target = frame.loc[second, "second_review_of"]
    frame.loc[second, "second_review_of"] = frame.loc[last - 1, "review_id"]  # not its case
    frame.loc[frame["review_id"] == target, "review_stage"] = "first"
    path = tmp_path / "broken.csv"
    io.write_reviews(frame, path)
    if blank_line:
        lines = path.read_text(encoding="utf-8").split("\n")
        path.write_text("\n".join(lines[:3] + [""] + lines[3:]), encoding="utf-8")
    return path


@pytest.mark.parametrize("blank_line", [False, True])
def test_blocks_report_every_error_of_the_whole_file(tmp_path, small_data, blank_line):
    path = _broken(small_data, tmp_path, blank_line)
    with pytest.raises(ValidationFailed) as whole:
        io.read_reviews(path, known_organisations=small_data.organisations)
    with pytest.raises(ValidationFailed) as blocked:
        io.read_reviews_blocks(path, known_organisations=small_data.organisations,
                               block_bytes=600_000)
    assert blocked.value.errors == whole.value.errors
    rules_found = {e.rule for e in blocked.value.errors}
    assert {"review_id_unique", "care_score_range", "second_review_of_same_case"} <= rules_found


# --- workbooks that hide what they hold (an audit of imports, 2026-12-06) ----------
def _workbook(path: Path, rows: list[list], *, hidden_first: bool = False) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    if hidden_first:
        sheet.title = "old"
        sheet.append(["review_id"])
        sheet.append(["X-OLD"])
        sheet.sheet_state = "hidden"
        sheet = book.create_sheet("Data")
        book.active = 1
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_a_hidden_first_sheet_is_refused_not_imported(tmp_path):
    """The first sheet is the one imported (exchange format); a hidden one is data the person
    importing never saw."""
    path = _workbook(tmp_path / "hidden.xlsx", [["review_id"], ["X-SEEN"]], hidden_first=True)
    with pytest.raises(ImportFileError, match=r"hidden\.xlsx: the first sheet, 'old', is "
                                              r"hidden"):
        io.read_raw(path)


def test_a_formula_with_no_saved_value_is_refused_by_row_and_column(tmp_path):
    """A workbook written by a script holds formulas without results; read for values they
    were blank, and the answer was lost without a word."""
    path = _workbook(tmp_path / "formulas.xlsx", [
        ["review_id", "cause_of_death"], ["R1", "Pneumonia"], ["R2", '=CONCAT("sep","sis")']])
    with pytest.raises(ImportFileError, match=r"formulas\.xlsx, row 3, column cause_of_death: "
                                              r"a formula \(=CONCAT"):
        io.read_raw(path)


def test_a_formula_with_its_saved_value_is_read_as_that_value(tmp_path):
    """What a spreadsheet program saves: the formula and its last result (``<v>``)."""
    import zipfile

    path = _workbook(tmp_path / "saved.xlsx", [["review_id", "cause_of_death"],
                                               ["R1", '=CONCAT("sep","sis")']])
    patched = tmp_path / "patched.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(patched, "w") as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<c r="B2"><f>CONCAT("sep","sis")</f><v />',
                                    b'<c r="B2" t="str"><f>CONCAT("sep","sis")</f>'
                                    b'<v>sepsis</v>')
                assert b"<v>sepsis</v>" in data
            out.writestr(info, data)
    frame, rows = io.read_raw(patched)
    assert frame["cause_of_death"].tolist() == ["sepsis"]
