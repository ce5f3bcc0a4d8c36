"""Training imports with files written by hand: rows named as a spreadsheet counts them
(header = row 1, blank rows counted), every problem by file, row and column, and reviewer
ids, sessions and training cases screened for identifiers as a review's free text is."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from access_setup import governed_fresh  # noqa: F401  (fixture: SQLite and PostgreSQL)
from typer.testing import CliRunner

from data_access import open_session, training
from data_access.training import TrainingDataError
from sjrlib.cli import app
from sjrlib.themes.codebook import shipped_codebook

RECORDS = "record_id,organisation_code,reviewer_id,trainer_id,trained_on,session,refresher_dates"


def _run(gov, tmp_path: Path, *args: str, user: str = "lead_a"):
    return CliRunner().invoke(app, [*args, "--db", gov.app_url],
                              env={"SJR_USER": user, "JUPYTERHUB_USER": None,
                                   "SJR_CONFIG": str(tmp_path / "none")})


def test_records_errors_name_the_spreadsheet_row_and_screen_identifiers(
        governed_fresh, tmp_path):  # noqa: F811
    """Before: 'training records row 2: ...' for the file's row 4 (counted from the first
    data row, blank lines left out), and an NHS number as reviewer_id or a telephone number
    in session was stored."""
    gov = governed_fresh
    org = gov.org_a
    path = tmp_path / "records.csv"
    path.write_text("\n".join([
        RECORDS,
        f",{org},{gov.reviewer_id},,2022-01-05,Spring session,",
        "",
        f",{org},943 476 5919,,2022-01-05,Spring session,",
        "  ,  ,  ",
        f",{org},{gov.reviewer_id},,5/1/2022,Ring 07700 900123 for the slides,",
    ]) + "\n", encoding="utf-8")
    result = _run(gov, tmp_path, "training", "records", "import", str(path))
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0] == "sjr training: records.csv: 3 problems; nothing was imported"
    assert lines[1].startswith("  records.csv, row 4, column reviewer_id: holds what looks "
                               "like an identifier (NHS number")
    assert lines[2].startswith("  records.csv, row 6, column session: holds what looks like "
                               "an identifier (telephone number")
    assert lines[3] == ("  records.csv, row 6, column trained_on: '5/1/2022' is not a date "
                        "written YYYY-MM-DD")
    assert len(lines) == 4
    assert "943 476 5919" not in result.output and "07700 900123" not in result.output
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        assert lead.training_records().empty
    good = tmp_path / "good.csv"
    good.write_text("\n".join([RECORDS, "", f",{org},{gov.reviewer_id},,2022-01-05,Spring "
                               "session,2023-01-10"]) + "\n", encoding="utf-8")
    result = _run(gov, tmp_path, "training", "records", "import", str(good))
    assert result.exit_code == 0, result.output
    assert "1 new" in result.output


def test_trainer_rows_are_numbered_as_a_spreadsheet_counts_them(tmp_path):
    """Before: the second data row after a blank line was 'trainers.csv row 2'."""
    path = tmp_path / "trainers.csv"
    path.write_text("\n".join([
        "trainer_id,name,contact,organisation,region,trained_on,active",
        "T1,Ann Example (fictional),ann@x.example,Alderdale NHS Trust,London,2020-01-01,yes",
        "",
        "T2,Bo Example (fictional),,Alderdale NHS Trust,Atlantis,2020-01-01,maybe",
    ]) + "\n", encoding="utf-8")
    frame, rows = training.read_training_file(path)
    assert rows == [2, 4]
    with pytest.raises(TrainingDataError) as caught:
        training.check_trainers(frame, path.name, rows)
    assert str(caught.value).splitlines() == [
        "trainers.csv: 2 problems; nothing was imported",
        "  trainers.csv, row 4, column region: region 'Atlantis' is not one of "
        + ", ".join(training.REGIONS),
        "  trainers.csv, row 4, column active: 'maybe' is not yes or no",
    ]


@pytest.mark.parametrize("content, expected", [
    ("trainer_id,name\n", "trainers.csv: the file has a header but no data rows"),
    ("a,b\n1,2,3\n", "trainers.csv: a row has more cells than the header's 2"),
])
def test_an_unreadable_training_file_is_one_line_naming_it(tmp_path, content, expected):
    path = tmp_path / "trainers.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TrainingDataError) as caught:
        training.read_training_file(path)
    assert str(caught.value).startswith(expected)


def test_a_training_case_holding_an_identifier_is_refused(tmp_path):
    """Before: a case summary with an NHS number was stored as the panel's case."""
    text = training.cases_to_yaml(training.shipped_cases()[:1])
    case = training.shipped_cases()[0]
    path = tmp_path / "cases.yaml"
    path.write_text(text.replace(case.title, case.title + " (NHS 943 476 5919)", 1),
                    encoding="utf-8")
    with pytest.raises(TrainingDataError) as caught:
        training.load_case_file(path, codebook=shipped_codebook())
    lines = str(caught.value).splitlines()
    assert lines[0] == "cases.yaml: 1 problem; nothing was imported"
    assert lines[1].startswith(f"  cases.yaml: case {case.case_id}, field title: holds what "
                               "looks like an identifier (NHS number")
    assert "943 476 5919" not in str(caught.value)


def test_the_trainer_directory_round_trips_formula_like_text(governed_fresh, tmp_path):  # noqa: F811
    """An export a spreadsheet opens runs nothing, and imports back as it was (before, a
    name starting '=' was written as it is: a formula to a spreadsheet); an apostrophe a
    person typed stays."""
    gov = governed_fresh
    path = tmp_path / "trainers.csv"
    path.write_text("trainer_id,name,contact,organisation,region,trained_on,active\n"
                    "T9,=Dee Example (fictional),-ask the office,'twas Alderdale NHS Trust,London,"
                    "2021-02-03,yes\n", encoding="utf-8")
    assert _run(gov, tmp_path, "training", "trainers", "import", str(path),
                user="national").exit_code == 0
    out = tmp_path / "out.csv"
    result = _run(gov, tmp_path, "training", "trainers", "export", str(out), user="national")
    assert result.exit_code == 0, result.output
    assert "'=Dee Example" in out.read_text(encoding="utf-8")
    frame, _ = training.read_training_file(out)
    mine = frame[frame["trainer_id"] == "T9"].iloc[0]
    assert (mine["name"], mine["contact"], mine["organisation"]) == (
        "=Dee Example (fictional)", "-ask the office", "'twas Alderdale NHS Trust")


TRAINERS = "trainer_id,name,contact,organisation,region,trained_on,active"


def test_a_trainer_file_with_an_unknown_column_or_a_future_date_is_refused(
        governed_fresh, tmp_path):  # noqa: F811
    """Before: a column 'Home phone' (holding a telephone number) was dropped without a word
    and a trainer trained on 2031-01-01 was imported ('1 new') and published as 'January
    2031'."""
    gov = governed_fresh
    today = dt.date.today()
    future = today + dt.timedelta(days=400)
    path = tmp_path / "trainers_extra.csv"
    path.write_text(f"{TRAINERS},Home phone\n"
                    "T6,Ann Gale (fictional),ann@brook.example,Brookfield NHS Trust,London,"
                    f"{future},yes,07700 900456\n", encoding="utf-8")
    result = _run(gov, tmp_path, "training", "trainers", "import", str(path), user="national")
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [
        "sjr training: trainers_extra.csv: 2 problems; nothing was imported",
        "  trainers_extra.csv, row 1, column Home phone: unknown column (the columns are "
        + ", ".join(training.TRAINER_COLUMNS) + ")",
        f"  trainers_extra.csv, row 2, column trained_on: '{future}' is in the future (today "
        f"is {today}); a training date is one that has passed"]
    assert "07700 900456" not in result.output
    with open_session("national", gov.app_url, tool="test") as national:
        assert national.trainers().empty


def test_a_records_file_with_an_unknown_column_or_a_future_date_is_refused(
        governed_fresh, tmp_path):  # noqa: F811
    """Before: an 'extra' column was dropped without a word, and a reviewer trained on
    2030-01-10 was stored and listed as not due a refresher."""
    gov = governed_fresh
    today = dt.date.today()
    future = today + dt.timedelta(days=30)
    org, me = gov.org_a, gov.reviewer_id
    path = tmp_path / "records.csv"
    path.write_text("\n".join([
        f"{RECORDS},extra",
        f",{org},{me},,{future},Future course,,x",
        f",{org},{me},,2022-01-05,Spring session,2023-01-10;{future},",
    ]) + "\n", encoding="utf-8")
    result = _run(gov, tmp_path, "training", "records", "import", str(path))
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [
        "sjr training: records.csv: 3 problems; nothing was imported",
        "  records.csv, row 1, column extra: unknown column (the columns are "
        + ", ".join(training.RECORD_COLUMNS) + ")",
        f"  records.csv, row 2, column trained_on: '{future}' is in the future (today is "
        f"{today}); a training date is one that has passed",
        f"  records.csv, row 3, column refresher_dates: '{future}' is in the future (today is "
        f"{today}); a training date is one that has passed"]
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        assert lead.training_records().empty
    # a date today is not in the future
    checked = training.check_records(
        pd.DataFrame([{"record_id": "", "organisation_code": org, "reviewer_id": me,
                       "trainer_id": "", "trained_on": str(today), "session": "Today's course",
                       "refresher_dates": ""}]), organisations=[org], today=today)
    assert list(checked["trained_on"]) == [today]


CASES = """\
case_set: "2027"
panel: "Regional panel (fictional cases)"
cases:
  - id: HW-01
    title: Weight loss not acted on
    fictional: true
    care: poor
    summary: >-
      The patient, in their eighties, lost weight over three weeks on the ward; no
      nutritional screening was recorded and fluids were not charted.
    reference:
      scores: {admission: 3, ongoing: 2, overall: 2}
      problems: {monitoring: probably}
      avoidability: 5
      themes: [nutrition, deterioration]
  - id: HW-02
    title: Four ward moves in three days
    fictional: true
    care: adequate
    summary: >-
      The patient was moved between four wards in three days, twice at night.
    reference:
      scores: {admission: 3, overall: 3}
      problems: {}
      avoidability: 6
      themes: [patient_flow]
"""


def _codebook_2026_2():
    """The programme team's next codebook: patient_flow retired, nutrition added."""
    import dataclasses

    from sjrlib.themes.codebook import Theme

    book = shipped_codebook()
    themes = tuple(dataclasses.replace(t, retired=t.id == "patient_flow") for t in book.themes)
    added = Theme("nutrition", "Nutrition and hydration", "Food and fluids.", ("no MUST score",))
    return dataclasses.replace(book, version="2026.2", themes=(*themes, added))


def test_cases_import_checks_themes_against_the_stores_codebook(governed_fresh,  # noqa: F811
                                                                tmp_path):
    """Before: sjr training cases import checked a case's reference themes against the
    codebook shipped with sjr (2026.1), whatever the store held: on a store at 2026.2 a
    reference naming nutrition (new in 2026.2) was refused and one naming patient_flow
    (retired in 2026.2, so no calibration answer may name it) was stored. Now the store's
    latest codebook is read through the session, as a calibration answer's themes are."""
    gov = governed_fresh
    with open_session("national", gov.app_url, tool="test") as national:
        national.import_codebook(_codebook_2026_2())
    path = tmp_path / "cases.yaml"
    path.write_text(CASES, encoding="utf-8")
    refused = _run(gov, tmp_path, "training", "cases", "import", str(path), user="national")
    assert refused.exit_code == 1, refused.output
    assert refused.output.splitlines() == [
        "sjr training: cases.yaml: 1 problem; nothing was imported",
        "  cases.yaml: case HW-02, field reference.themes: theme(s) patient_flow retired in "
        "codebook 2026.2"]
    with open_session("national", gov.app_url, tool="test") as national:
        assert national.training_cases() == []
    path.write_text(CASES[:CASES.index("  - id: HW-02")], encoding="utf-8")
    imported = _run(gov, tmp_path, "training", "cases", "import", str(path), user="national")
    assert imported.exit_code == 0, imported.output
    assert imported.output == "Training cases: 1 new, 0 updated\n"
    with open_session("national", gov.app_url, tool="test") as national:
        stored = national.training_cases(reference=True)
    assert [(c.case_id, c.themes) for c in stored] == [("HW-01", ("nutrition", "deterioration"))]
    # a theme no codebook of the store holds is named with the version it was checked against
    path.write_text(CASES[:CASES.index("  - id: HW-02")].replace("nutrition", "nutrtion"),
                    encoding="utf-8")
    typo = _run(gov, tmp_path, "training", "cases", "import", str(path), user="national")
    assert typo.output.splitlines()[1] == ("  cases.yaml: case HW-01, field reference.themes: "
                                           "theme(s) nutrtion not in codebook 2026.2")



def test_the_session_refuses_cases_whose_themes_the_stores_codebook_does_not_offer(
        governed_fresh):  # noqa: F811
    """Before: Session.import_training_cases stored the cases it was given as they were; only
    sjr training cases import checked their reference themes, so a case made in Python (a
    notebook, a script) naming a theme the store's latest codebook has retired, or does not
    hold, was stored: a reference no calibration answer may agree with. Now the session checks
    them against the store's latest codebook, in the command's words, and stores nothing."""
    gov = governed_fresh

    def case(case_id: str, *themes: str) -> training.TrainingCase:
        return training.TrainingCase(case_id, "A fictional case", "The patient was moved.",
                                     "adequate", {"overall": 3}, {}, 6, themes,
                                     "Regional panel", "2027")

    with open_session("national", gov.app_url, tool="test") as national:
        national.import_codebook(_codebook_2026_2())
        with pytest.raises(TrainingDataError) as caught:
            national.import_training_cases(
                [case("HW-01", "nutrition"), case("HW-02", "patient_flow", "nutrtion")],
                source="cases.yaml")
        assert str(caught.value).splitlines() == [
            "cases.yaml: 2 problems; nothing was imported",
            "  cases.yaml: case HW-02, field reference.themes: theme(s) nutrtion not in "
            "codebook 2026.2",
            "  cases.yaml: case HW-02, field reference.themes: theme(s) patient_flow retired in "
            "codebook 2026.2"]
        assert national.training_cases() == []  # not even HW-01
        assert national.import_training_cases([case("HW-01", "nutrition", "sepsis")]) == (1, 0)
        assert [(c.case_id, c.themes) for c in national.training_cases(reference=True)] == [
            ("HW-01", ("nutrition", "sepsis"))]
