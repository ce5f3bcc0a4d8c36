"""Training and calibration (issue 15): the store, the scopes, the cases, the trainer directory.

Storage and scoping run on SQLite and PostgreSQL (the governed store of ``access_setup``: on
PostgreSQL the sessions connect as an ordinary service role, so row-level security is in force).
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pandas as pd
import pytest
from access_setup import governed_fresh  # noqa: F401  (fixture)
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from data_access import AccessDenied, open_session, store, training
from data_access.training import RoundSpec, TrainingDataError
from data_access.training_models import Base
from sjrlib import domain
from sjrlib.themes.codebook import shipped_codebook

BOOK = shipped_codebook()
TODAY = dt.date.today()
# A round open "today" spans a day either side: a run that crosses midnight (TODAY is taken at
# import, the session asks the clock at each call) must not find it closed (CI, 2026-12-07).
OPEN = (TODAY - dt.timedelta(days=1), TODAY + dt.timedelta(days=1))
TRAINING_TABLES = ("trainers", "training_records", "training_cases", "calibration_rounds",
                   "calibration_round_members", "calibration_answers")


def _trainers() -> pd.DataFrame:
    return pd.DataFrame([
        {"trainer_id": "T1", "name": "Ann Example (fictional)", "contact": "ann@x.example",
         "organisation": "Northmoor Hospitals NHS Trust", "region": "North West",
         "trained_on": "2019-03-01", "active": "yes"},
        {"trainer_id": "T2", "name": "Bo Example (fictional)", "contact": None,
         "organisation": "NHS Glenrae", "region": "Scotland", "trained_on": "", "active": "yes"},
        {"trainer_id": "T3", "name": "Cy Example (fictional)", "contact": "cy@x.example",
         "organisation": "Alderdale NHS Trust", "region": "North West",
         "trained_on": "2018-01-01", "active": "no"},
    ])


def _answer(overall: int, *, status: str = "submitted") -> dict:
    return {"status": status, "score_admission": 3, "score_overall": overall,
            "comments": {"admission": "prompt assessment", "overall": "reasonable care"},
            "problems": {"monitoring": "probably"}, "avoidability_score": 5,
            "themes": ["deterioration"]}


def _setup_round(gov, round_id: str = "R1") -> None:
    with open_session("national", gov.app_url, tool="test") as national:
        national.import_trainers(_trainers())
        national.import_training_cases(training.shipped_cases())
        national.create_calibration_round(RoundSpec(
            round_id, "Round one", ("TC-2026-01", "TC-2026-02", "TC-2026-03"),
            TODAY - dt.timedelta(days=7), TODAY + dt.timedelta(days=7),
            ((gov.org_a, gov.reviewer_id), (gov.org_a, gov.other_reviewer_id),
             (gov.org_b, "B-REVIEWER")), None))


def test_the_shipped_cases_are_fictional_varied_and_complete():
    cases = training.shipped_cases()
    assert len(cases) >= 12
    assert {c.care for c in cases} == {"good", "adequate", "poor"}
    assert len({t for c in cases for t in c.themes}) >= 8
    for c in cases:
        assert c.fictional and "overall" in c.scores and c.themes
        assert re.search(r"\bthe patient\b", c.summary)
        # no names of people: nothing like "Mr Smith" or "Mrs Jones"
        assert not re.search(r"\b(Mr|Mrs|Ms|Miss|Dr)\.? [A-Z]", c.summary), c.case_id
        assert (c.care == "poor") == (c.scores["overall"] in domain.POOR_CARE), c.case_id


def test_a_case_file_is_checked_where_it_enters(tmp_path):
    text_ = training.cases_to_yaml(training.shipped_cases()[:2])
    path = tmp_path / "cases.yaml"
    path.write_text(text_, encoding="utf-8")
    again = training.load_case_file(path, codebook=BOOK)
    assert [c.case_id for c in again] == ["TC-2026-01", "TC-2026-02"]
    assert again[1].scores == training.shipped_cases()[1].scores
    for bad, message in ((text_.replace("fictional: true", "fictional: false", 1), "fictional"),
                         (text_.replace("overall: 4", "overall: 7", 1), "1-5"),
                         (text_.replace("good_practice", "good_vibes", 1), "codebook"),
                         (text_.replace("monitoring: 'yes'", "monitoring: maybe", 1), "harm")):
        path.write_text(bad, encoding="utf-8")
        with pytest.raises(TrainingDataError, match=message):
            training.load_case_file(path, codebook=BOOK)


def test_a_case_file_names_every_problem_at_once(tmp_path):
    """Before: a file with four problems took four runs, one problem each, and the unknown
    theme behind the first was never named."""
    first, second = training.shipped_cases()[:2]
    text_ = training.cases_to_yaml([first, second])
    bad = (text_.replace("overall: 4", "overall: 7", 1)
           .replace("fictional: true", "fictional: false", 1)
           .replace(first.title, "Mrs Jane Smith's fall", 1)
           .replace("monitoring: 'yes'", "monitoring: maybe", 1)
           .replace("- good_practice", "- not_a_theme", 1))
    assert bad.count("not_a_theme") == 1 and "monitoring: maybe" in bad
    path = tmp_path / "cases.yaml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(TrainingDataError) as caught:
        training.load_case_file(path, codebook=BOOK)
    lines = str(caught.value).splitlines()
    assert lines[0] == "cases.yaml: 5 problems; nothing was imported"
    one, two = f"  cases.yaml: case {first.case_id}", f"  cases.yaml: case {second.case_id}"
    assert lines[1] == (f"{one}, field fictional: a training case must say fictional: true "
                        "(cases are written for training, never taken from a real patient)")
    assert lines[2].startswith(f"{one}, field title: holds what looks like an identifier "
                               "(likely name")
    assert lines[3] == (f"{one}, field reference.scores.overall: score of overall must be 1-5, "
                        "not 7")
    assert lines[4] == (f"{one}, field reference.themes: theme(s) not_a_theme not in codebook "
                        "2026.1")
    assert lines[5] == (f"{two}, field reference.problems.monitoring: harm of monitoring must "
                        "be one of no, probably, yes, not 'maybe'")
    assert len(lines) == 6
    assert "Jane Smith" not in str(caught.value)


def test_a_round_names_every_problem_at_once(governed_fresh, tmp_path):  # noqa: F811
    """Before: sjr training round create with a window closing before it opens, a case not in
    the store and a reviewer of another organisation said only the window; the rest were never
    named. Now all three, refused (a reviewer outside the lead's scope) and audited; nothing
    is created."""
    from typer.testing import CliRunner

    from sjrlib.cli import app

    gov = governed_fresh
    with open_session("national", gov.app_url, tool="test") as national:
        national.import_training_cases(training.shipped_cases())
    opens, closes = TODAY + dt.timedelta(days=20), TODAY + dt.timedelta(days=5)
    result = CliRunner().invoke(app, [
        "training", "round", "create", "CAL-BAD", "--name", "Bad", "--cases",
        "TC-2026-01,NOPE", "--reviewer", f"{gov.org_b}:B-REVIEWER", "--opens", str(opens),
        "--closes", str(closes), "--db", gov.app_url],
        env={"SJR_USER": "lead_a", "JUPYTERHUB_USER": None,
             "SJR_CONFIG": str(tmp_path / "none")})
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [
        "sjr training: refused: round CAL-BAD: 3 problems; nothing was created",
        f"  members: reviewers of {gov.org_b} are outside the scope of 'lead_a'",
        f"  closes_on: the round closes ({closes}) before it opens ({opens})",
        "  case_ids: training case(s) NOPE are not in the store (sjr training cases import)"]
    with open_session("national", gov.app_url, tool="test") as national:
        assert national.calibration_rounds().empty
        # the programme team: every problem too, the round id in use among them
        national.create_calibration_round(RoundSpec(
            "R1", "Round one", ("TC-2026-01",), *OPEN,
            ((gov.org_a, gov.reviewer_id),), None))
        with pytest.raises(TrainingDataError) as caught:
            national.create_calibration_round(RoundSpec(
                "R1", "Again", ("TC-2026-01", "NOPE", "TC-2026-01"), *OPEN,
                (("XX9", "someone"),), None))
        assert str(caught.value).splitlines() == [
            "round R1: 4 problems; nothing was created",
            "  round_id: round R1 exists already; choose another id",
            "  case_ids: case(s) TC-2026-01 named twice",
            "  case_ids: training case(s) NOPE are not in the store (sjr training cases "
            "import)",
            "  members: unknown organisation(s) XX9"]
    owner = store.get_engine(gov.owner_url)
    try:
        with owner.connect() as conn:
            reasons = list(conn.execute(text(
                "SELECT scope FROM audit_log WHERE action = 'calibration_rounds.create.denied'"
            )).scalars())
    finally:
        owner.dispose()
    assert len(reasons) == 1 and "NOPE" in reasons[0] and "closes_on" in reasons[0]


def test_trainer_rows_are_checked_with_row_and_field():
    bad = _trainers()
    bad.loc[1, "region"] = "Atlantis"
    bad.loc[2, "trained_on"] = "1/1/2018"
    with pytest.raises(TrainingDataError) as info:
        training.check_trainers(bad, "trainers.csv")
    assert "trainers.csv, row 3, column region: region 'Atlantis'" in str(info.value)
    assert "trainers.csv, row 4, column trained_on: '1/1/2018'" in str(info.value)


def test_the_migration_makes_the_declared_tables(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    store.init_db(url)
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()

    def table_of(diff):
        item = diff[0] if isinstance(diff, list) else diff
        obj = item[1] if len(item) > 1 else None
        name = getattr(obj, "name", None)
        return getattr(getattr(obj, "table", None), "name", name) if obj is not None else None

    assert [d for d in diffs if table_of(d) in TRAINING_TABLES] == []


def test_training_data_are_scoped_and_audited(governed_fresh):  # noqa: F811
    gov = governed_fresh
    _setup_round(gov)
    with open_session("reviewer_a", gov.app_url, tool="test") as me:
        assert set(me.trainers()["trainer_id"]) == {"T1", "T2", "T3"}  # public
        # before answering, the reference answers are withheld
        withheld = me.training_cases(["TC-2026-02"], reference=True)[0]
        assert withheld.scores == {} and withheld.themes == ()
        me.save_calibration_answer("R1", "TC-2026-02", _answer(3))
        shown = me.training_cases(["TC-2026-02"], reference=True)[0]
        assert shown.scores["overall"] == 2
        with pytest.raises(TrainingDataError, match="submitted already"):
            me.save_calibration_answer("R1", "TC-2026-02", _answer(2))
        with pytest.raises(AccessDenied, match="only for themselves"):
            me.save_calibration_answer("R1", "TC-2026-01", _answer(4),
                                       reviewer_id=gov.other_reviewer_id)
        with pytest.raises(ValueError, match="not in round"):
            me.save_calibration_answer("R1", "TC-2026-09", _answer(4))
        with pytest.raises(TrainingDataError, match="explicit judgement"):
            me.save_calibration_answer("R1", "TC-2026-01", {"status": "submitted",
                                                            "score_overall": 4})
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        # a session held on paper: the lead enters a member's answers
        lead.save_calibration_answer("R1", "TC-2026-02", _answer(2),
                                     reviewer_id=gov.other_reviewer_id)
        with pytest.raises(AccessDenied):
            lead.save_calibration_answer("R1", "TC-2026-02", _answer(2),
                                         reviewer_id="B-REVIEWER")
        lead.import_training_records(pd.DataFrame([{
            "record_id": "", "organisation_code": gov.org_a, "reviewer_id": gov.reviewer_id,
            "trainer_id": "T1", "trained_on": "2022-01-05", "session": "Spring session",
            "refresher_dates": "2023-01-10;2024-01-12"}]))
        with pytest.raises(AccessDenied, match="outside the scope"):
            lead.import_training_records(pd.DataFrame([{
                "record_id": "", "organisation_code": gov.org_b, "reviewer_id": "B-REVIEWER",
                "trainer_id": None, "trained_on": "2022-01-05", "session": "x",
                "refresher_dates": ""}]))
        assert set(lead.calibration_answers()["reviewer_id"]) == {gov.reviewer_id,
                                                                  gov.other_reviewer_id}
        assert list(lead.calibration_rounds()["members"]) == [2]  # its own reviewers only
    with open_session("lead_b", gov.app_url, tool="test") as other:
        assert other.calibration_answers().empty and other.training_records().empty
        with pytest.raises(AccessDenied):
            other.create_calibration_round(RoundSpec(
                "RB", "B's round", ("TC-2026-01",), *OPEN,
                ((gov.org_a, gov.reviewer_id),), gov.org_b))
    with open_session("reviewer_a", gov.app_url, tool="test") as me:
        mine = me.calibration_answers()
        assert list(mine["reviewer_id"].unique()) == [gov.reviewer_id]
        assert mine.loc[0, "score_overall"] == 3 and mine.loc[0, "themes"] == ("deterioration",)
        records = me.training_records()
        assert list(records["refresher_dates"]) == [["2023-01-10", "2024-01-12"]]
    with open_session("national", gov.app_url, tool="test") as national:
        assert len(national.calibration_answers()) == 2
        assert len(national.training_records()) == 1
        with pytest.raises(AccessDenied):
            national.save_calibration_answer("R1", "TC-2026-01", _answer(4),
                                             reviewer_id="B-REVIEWER")
    with open_session("res2", gov.app_url, tool="test") as researcher:
        with pytest.raises(AccessDenied):
            researcher.calibration_answers()
        with pytest.raises(AccessDenied):
            researcher.training_records()
    owner = store.get_engine(gov.owner_url)
    try:
        with owner.connect() as conn:
            actions = set(conn.execute(text("SELECT action FROM audit_log")).scalars())
            # the answers are not reviews: no review was written by any of this
            saves = conn.execute(text("SELECT count(*) FROM audit_log WHERE action = "
                                      "'save_review'")).scalar_one()
    finally:
        owner.dispose()
    assert {"save_calibration_answer", "save_calibration_answer.denied",
            "training_records.import.denied", "calibration_rounds.create.denied",
            "calibration_answers.denied"} <= actions
    assert saves == 0


def test_a_reviewer_answers_only_inside_the_window(governed_fresh):  # noqa: F811
    gov = governed_fresh
    with open_session("national", gov.app_url, tool="test") as national:
        national.import_training_cases(training.shipped_cases())
        national.create_calibration_round(RoundSpec(
            "OLD", "Closed round", ("TC-2026-01",), TODAY - dt.timedelta(days=30),
            TODAY - dt.timedelta(days=1), ((gov.org_a, gov.reviewer_id),), None))
    with open_session("reviewer_a", gov.app_url, tool="test") as me:
        with pytest.raises(AccessDenied, match="open from"):
            me.save_calibration_answer("OLD", "TC-2026-01", _answer(4))
    with open_session("lead_a", gov.app_url, tool="test") as lead:  # transcribing paper
        lead.save_calibration_answer("OLD", "TC-2026-01", _answer(4),
                                     reviewer_id=gov.reviewer_id)


def test_refresher_status_says_who_is_due():
    from sjrlib.commands.training import refresher_status

    records = pd.DataFrame({
        "organisation_code": ["A", "A", "A"], "reviewer_id": ["r1", "r2", "r2"],
        "trained_on": [dt.date(2020, 1, 1), dt.date(2019, 1, 1), dt.date(2025, 6, 1)],
        "refresher_dates": [["2022-01-01"], [], []]})
    status = refresher_status(records, dt.date(2026, 1, 1), interval_days=730)
    assert status.set_index("reviewer_id")["due_refresher"].to_dict() == {"r1": "yes",
                                                                          "r2": "no"}
    assert status.set_index("reviewer_id").loc["r2", "trained_on"] == dt.date(2019, 1, 1)


def test_the_trainer_directory_is_grouped_by_region(tmp_path):
    from sjrlib.report.trainers import write_directory

    frame = training.check_trainers(_trainers())
    page, csv = write_directory(frame, tmp_path, "2025-26")
    html = page.read_text(encoding="utf-8")
    headings = re.findall(r'<h2 id="[^"]+">([^<]+)', html)
    assert headings == ["The directory", "North West", "Scotland"]
    north_west = html[html.index('id="North-West"'):html.index('id="Scotland"')]
    assert "Ann Example (fictional)" in north_west and "NHS Glenrae" not in north_west
    assert "Cy Example" not in html  # no longer active: not published
    assert "ann@x.example" in html and "March 2019" in html
    published = pd.read_csv(csv)
    assert list(published["Region"]) == ["North West", "Scotland"]
    assert list(published.columns) == ["Region", "Organisation", "Name", "Work contact",
                                       "Trained as a tier one trainer"]
    assert (page.stat().st_mode & 0o777) == 0o600


def test_a_trainer_name_is_escaped(tmp_path):
    from sjrlib.report.trainers import write_directory

    frame = training.check_trainers(_trainers())
    frame.loc[0, "name"] = "<script>alert(1)</script>"
    page, _ = write_directory(frame, tmp_path, "2025-26")
    assert "<script>alert" not in page.read_text(encoding="utf-8")


def test_the_trainer_directory_csv_runs_no_formula(tmp_path):
    """A name or contact a spreadsheet would run as a formula is written with the quote
    every export gives it: the published trainers.csv, opened in a spreadsheet, ran
    =HYPERLINK(...) as a link."""
    from sjrlib.report.trainers import write_directory

    frame = training.check_trainers(_trainers())
    frame.loc[0, "name"] = '=HYPERLINK("https://example.invalid","Ann")'
    _, csv = write_directory(frame, tmp_path, "2025-26")
    names = list(pd.read_csv(csv, dtype=str)["Name"])
    assert names[0] == '\'=HYPERLINK("https://example.invalid","Ann")'
    assert not any(n.startswith(tuple("=+-@")) for n in names)


def test_an_answer_names_a_known_form_version():
    from sjrlib.themes.codebook import shipped_codebook

    book = shipped_codebook()
    answer = {"status": "draft", "score_overall": 3}
    assert training.check_answer({**answer, "form_version": "ext2026"}, "here",
                                 codebook=book)["form_version"] == "ext2026"
    assert training.check_answer(answer, "here", codebook=book)[
        "form_version"] is None  # blank: 2017 form
    with pytest.raises(TrainingDataError, match=r"round R case C, field form_version: "
                                                r"form_version 'ext2099' is not one of "
                                                r"rcp2017, ext2026"):
        training.check_answer({**answer, "form_version": "ext2099"}, "round R case C",
                              codebook=book)


def _retiring(theme: str, new: str):
    """The shipped codebook as version 2026.9 with ``theme`` retired and ``new`` added."""
    import dataclasses

    from sjrlib.themes.codebook import Theme, shipped_codebook

    book = shipped_codebook()
    themes = tuple(dataclasses.replace(t, retired=True) if t.id == theme else t
                   for t in book.themes)
    added = Theme(new, "Nutrition and hydration", "Food and fluids.", ("Fluids not charted.",))
    return dataclasses.replace(book, version="2026.9", themes=(*themes, added))


def test_a_saved_answer_is_screened_and_names_only_the_forms_phases_and_active_themes(
        governed_fresh):  # noqa: F811
    """Before: through the session (not the dashboard's form) a comment with a name and an
    NHS number was stored as written, and a draft naming an unknown theme, a theme retired in
    the store's codebook and a comment key that is no phase was stored too."""
    gov = governed_fresh
    _setup_round(gov)
    with open_session("national", gov.app_url, tool="test") as national:
        national.import_codebook(_retiring("patient_flow", "nutrition"))
    with open_session("reviewer_a", gov.app_url, tool="test") as me:
        leaking = {**_answer(3), "comments": {"admission": "prompt assessment",
                                              "overall": "Seen by Dr Jane Smith on 943 476 5919"}}
        with pytest.raises(TrainingDataError) as caught:
            me.save_calibration_answer("R1", "TC-2026-02", leaking)
        lines = str(caught.value).splitlines()
        assert lines[0] == "round R1 case TC-2026-02: 1 problem; nothing was saved"
        assert lines[1].startswith("  round R1 case TC-2026-02, field comments.overall: holds "
                                   "what looks like an identifier (")
        assert "NHS number '943 *** ****'" in lines[1] and lines[1].endswith("[no_identifiers]")
        assert "943 476 5919" not in str(caught.value) and "Jane Smith" not in str(caught.value)
        draft = {"status": "draft", "score_overall": 2,
                 "comments": {"overall": "Poor.", "nonsense_phase": "z"},
                 "themes": ["bogus_theme", "patient_flow"]}
        with pytest.raises(TrainingDataError) as caught:
            me.save_calibration_answer("R1", "TC-2026-01", draft)
        assert str(caught.value).splitlines()[1:] == [
            "  round R1 case TC-2026-01, field comments.nonsense_phase: 'nonsense_phase' is not "
            "a phase of the form (the phases are " + ", ".join(domain.PHASES)
            + ") [unknown_field]",
            "  round R1 case TC-2026-01, field themes.bogus_theme: 'bogus_theme' is not a theme "
            "of codebook 2026.9 [theme_active]",
            "  round R1 case TC-2026-01, field themes.patient_flow: 'patient_flow' is retired "
            "in codebook 2026.9 [theme_active]"]
        assert me.calibration_answers().empty  # nothing saved
        # a theme new in the store's codebook is one an answer may name
        me.save_calibration_answer("R1", "TC-2026-01", {**draft, "comments": {"overall": "Poor."},
                                                        "themes": ["nutrition"]})
        assert list(me.calibration_answers()["themes"]) == [("nutrition",)]


def test_results_of_an_unknown_or_another_organisations_round_are_refused(
        governed_fresh, tmp_path):  # noqa: F811
    """Before: sjr training round results NOPE, and a lead asking for another organisation's
    round (with submitted answers), printed 'No submitted answers yet ... Nothing to show' and
    exited 0: an unknown round was not named, and the lead learnt the other round existed
    only by its silence. Now both read the same, exit 1, and are audited as refusals."""
    from typer.testing import CliRunner

    from sjrlib.cli import app

    gov = governed_fresh
    with open_session("national", gov.app_url, tool="test") as national:
        national.import_training_cases(training.shipped_cases())
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        lead.create_calibration_round(RoundSpec(
            "RA", "A's round", ("TC-2026-02",), *OPEN,
            ((gov.org_a, gov.reviewer_id),), gov.org_a))
    with open_session("reviewer_a", gov.app_url, tool="test") as me:
        me.save_calibration_answer("RA", "TC-2026-02", _answer(3))

    def results(user: str, round_id: str):
        return CliRunner().invoke(app, ["training", "round", "results", round_id, "--db",
                                        gov.app_url],
                                  env={"SJR_USER": user, "JUPYTERHUB_USER": None,
                                       "SJR_CONFIG": str(tmp_path / "none")})

    unknown, theirs = results("lead_b", "NOPE"), results("lead_b", "RA")
    assert (unknown.exit_code, theirs.exit_code) == (1, 1), theirs.output
    assert unknown.output == ("sjr training: refused: round 'NOPE' is not one of your rounds "
                              "(or does not exist)\n")
    assert theirs.output == unknown.output.replace("'NOPE'", "'RA'")
    programme = results("national", "NOPE")
    assert programme.exit_code == 1
    assert programme.output == ("sjr training: no round 'NOPE' in the store (sjr training "
                                "round list)\n")
    own = results("lead_a", "RA")
    assert own.exit_code == 0 and "Your reviewers against the panel" in own.output
    owner = store.get_engine(gov.owner_url)
    try:
        with owner.connect() as conn:
            denied = list(conn.execute(text(
                "SELECT username, scope FROM audit_log WHERE action = "
                "'calibration_data.denied' ORDER BY id")))
    finally:
        owner.dispose()
    assert [(u, '"round_id": "RA"' in s or '"round_id":"RA"' in s) for u, s in denied] == [
        ("lead_b", False), ("lead_b", True)]


def test_answers_of_an_unknown_or_another_organisations_round_are_refused(
        governed_fresh):  # noqa: F811
    """Before: Session.calibration_answers('NOPE'), and lead_b asking for lead_a's round (with
    a submitted answer), returned an empty table, audited as an ordinary read: an unknown
    round was not named and an out-of-scope one was not refused, unlike calibration_data
    (7078574). Now both are refused in the same words and audited as refusals; a round of
    one's own with no answer yet is still an empty table."""
    gov = governed_fresh
    with open_session("national", gov.app_url, tool="test") as national:
        national.import_training_cases(training.shipped_cases())
    window = OPEN
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        lead.create_calibration_round(RoundSpec(
            "RA", "A's round", ("TC-2026-02",), *window, ((gov.org_a, gov.reviewer_id),),
            gov.org_a))
        lead.create_calibration_round(RoundSpec(  # reviewer_a is not in this one
            "RA-OTHER", "A's other round", ("TC-2026-02",), *window,
            ((gov.org_a, gov.other_reviewer_id),), gov.org_a))
    with open_session("reviewer_a", gov.app_url, tool="test") as me:
        me.save_calibration_answer("RA", "TC-2026-02", _answer(3))
        assert len(me.calibration_answers("RA")) == 1
        for round_id in ("NOPE", "RA-OTHER"):
            with pytest.raises(AccessDenied, match=f"^round '{round_id}' is not one of your "
                                                   r"rounds \(or does not exist\)$"):
                me.calibration_answers(round_id)
    with open_session("lead_b", gov.app_url, tool="test") as lead_b:
        refusals = []
        for round_id in ("NOPE", "RA"):
            with pytest.raises(AccessDenied) as caught:
                lead_b.calibration_answers(round_id)
            refusals.append(str(caught.value).replace(round_id, "X"))
        assert refusals == ["round 'X' is not one of your rounds (or does not exist)"] * 2
        assert lead_b.calibration_answers().empty  # every round in scope: none, no refusal
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        assert len(lead.calibration_answers("RA")) == 1
        assert lead.calibration_answers("RA-OTHER").empty  # theirs, no answer yet
    with open_session("national", gov.app_url, tool="test") as national:
        assert len(national.calibration_answers("RA")) == 1
        with pytest.raises(ValueError, match=r"^no round 'NOPE' in the store \(sjr training "
                                             r"round list\)$"):
            national.calibration_answers("NOPE")
    owner = store.get_engine(gov.owner_url)
    try:
        with owner.connect() as conn:
            denied = [(u, json.loads(s)["round_id"]) for u, s in conn.execute(text(
                "SELECT username, scope FROM audit_log WHERE action = "
                "'calibration_answers.denied' ORDER BY id"))]
    finally:
        owner.dispose()
    assert denied == [("reviewer_a", "NOPE"), ("reviewer_a", "RA-OTHER"), ("lead_b", "NOPE"),
                      ("lead_b", "RA")]


def test_a_refusal_names_the_role_with_its_article(governed_fresh, tmp_path):  # noqa: F811
    """Before: 'a organisation_lead may not use trainers.import', 'a administrator may not use
    training_records' (the door, theme codes' text, file commands and sjr users
    connection-limit wrote 'a {role}'). 'a reviewer' and 'a programme_team' stay."""
    from typer.testing import CliRunner

    from data_access.roles import with_article
    from sjrlib.cli import app

    gov = governed_fresh
    assert [with_article(r) for r in ("reviewer", "organisation_lead", "programme_team",
                                      "researcher", "administrator")] == [
        "a reviewer", "an organisation_lead", "a programme_team", "a researcher",
        "an administrator"]
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        with pytest.raises(AccessDenied, match=r"^an organisation_lead may not use "
                                               r"trainers\.import$"):
            lead.import_trainers(_trainers())
    with open_session("admin", gov.app_url, tool="test") as admin:
        with pytest.raises(AccessDenied, match=r"^an administrator may not use "
                                               r"training_records$"):
            admin.training_records()
    with open_session("reviewer_a", gov.app_url, tool="test") as me:
        with pytest.raises(AccessDenied, match=r"^a reviewer may not use trainers\.import$"):
            me.import_trainers(_trainers())
    with open_session("national", gov.app_url, tool="test") as national:
        with pytest.raises(AccessDenied, match=r"^a programme_team may not read the judgement "
                                               r"text of codes$"):
            national.theme_codes(with_text=True)
    result = CliRunner().invoke(app, ["users", "connection-limit", "5", "--db", gov.app_url],
                                env={"SJR_USER": "lead_a", "JUPYTERHUB_USER": None,
                                     "SJR_CONFIG": str(tmp_path / "none")})
    assert result.exit_code == 1
    assert "an organisation_lead may not use users.connection_limit" in result.output
