"""The calibration dashboard driven without a browser (the browser test is
``tests/browser/test_calibration.py``): a reviewer scores in the entry form in training mode,
which saves training answers, refuses identifiers, incomplete submissions and saves outside the
round's window; the programme team maintains the trainer directory."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from access_setup import governed_fresh  # noqa: F401  (fixture)

from data_access import open_session, training
from data_access.training import RoundSpec
from sjrlib.dashboards.calibration import CalibrationPage, calibration_page
from sjrlib.dashboards.entry_form import ReviewForm
from sjrlib.form.registry import LATEST_VERSION

TODAY = dt.date.today()


@pytest.fixture
def gov(governed_fresh):  # noqa: F811
    with open_session("national", governed_fresh.app_url, tool="test") as national:
        national.import_training_cases(training.shipped_cases())
        national.create_calibration_round(RoundSpec(
            "D1", "Dashboard round", ("TC-2026-12", "TC-2026-02"), TODAY,
            TODAY + dt.timedelta(days=3), ((governed_fresh.org_a, governed_fresh.reviewer_id),),
            None))
    return governed_fresh


def test_a_reviewer_scores_a_case_in_the_entry_form_and_sees_the_reference(gov):
    with open_session("reviewer_a", gov.app_url, tool="test") as session:
        reviews_before = len(session.reviews())
        page = CalibrationPage(session)
        page.read()
        form = page.form
        assert isinstance(form, ReviewForm)  # the ordinary entry form, in training mode
        assert form.case.case_id == "TC-2026-12" and page.reference.value == ""
        assert "Training — not a real review" in form.mark.value
        assert form.case.summary[:40] in form.case_box.value
        form.fields["score_overall"].value = 4
        assert not form.save(submit=True)  # the overall judgement is missing
        assert form.last_errors["comment_overall"] == ["Write the explicit judgement behind "
                                                       "this score"]
        assert set(form.last_errors) <= {"comment_overall", "any_problems"}  # no case details
        form.fields["comment_overall"].value = "Seen by Dr Jones, NHS number 943 476 5919"
        assert not form.save(submit=True)
        assert "identifiers" in form.banner.value
        form.fields["comment_overall"].value = "Good care throughout, clear plans."
        for phase in ("admission", "ongoing", "procedure", "perioperative", "end_of_life"):
            form._na[phase].value = True
        form.fields["any_problems"].value = "yes"
        form.problem_present["medication"].value = True
        form.fields["problem_medication"].value = "no"
        form.theme_boxes["good_practice"].value = True
        assert form.save(submit=True), form.banner.value
        assert "Overall assessment of care" in page.reference.value
        assert "Your answer" in page.reference.value  # the panel's beside the reviewer's
        assert "Good practice worth sharing" in page.reference.value  # the theme they gave
        assert form.submit_button.disabled and form.fields["score_overall"].widget.disabled
        assert "Your scores against the panel" in page.results.value
        assert "(submitted)" in page.case.label
        answers = session.calibration_answers("D1")
        assert len(session.reviews()) == reviews_before  # a training answer is never a review
    row = answers.iloc[0]
    assert (row["case_id"], row["status"], row["score_overall"]) == ("TC-2026-12", "submitted", 4)
    assert row["problems"] == {"medication": "no"} and row["themes"] == ("good_practice",)
    assert row["form_version"] == LATEST_VERSION
    assert pd.isna(row["score_admission"])  # not applicable


def test_a_draft_comes_back_and_a_closed_round_saves_nothing(gov):
    with open_session("reviewer_a", gov.app_url, tool="test") as session:
        page = CalibrationPage(session)
        page.read()
        page.case.value = "TC-2026-02"
        form = page.form
        form.fields["score_overall"].value = 2
        form.fields["comment_overall"].value = "Late recognition of sepsis."
        assert form.save(submit=False), form.banner.value
        page.case.value = "TC-2026-12"
        page.case.value = "TC-2026-02"  # the draft reopens as it was left
        assert form.fields["score_overall"].value == 2
        assert form.fields["comment_overall"].value == "Late recognition of sepsis."
        assert not form.submit_button.disabled
        form.today = TODAY + dt.timedelta(days=4)  # the round closed yesterday
        form.fields["score_overall"].value = 1
        assert not form.save(submit=True)
        assert "is open from" in form.banner.value
        stored = session.calibration_answers("D1").set_index("case_id")
    assert stored.loc["TC-2026-02", "status"] == "draft"
    assert stored.loc["TC-2026-02", "score_overall"] == 2


def test_the_form_offers_the_active_themes_of_the_stores_codebook(gov):
    """Before: the form offered the shipped codebook's themes, so a theme retired in the
    store's codebook was offered (and is refused on saving) and a new one was missing."""
    import dataclasses

    from sjrlib.themes.codebook import Theme, shipped_codebook

    book = shipped_codebook()
    themes = tuple(dataclasses.replace(t, retired=t.id == "patient_flow") for t in book.themes)
    new = Theme("nutrition", "Nutrition and hydration", "Food and fluids.", ("Not charted.",))
    with open_session("national", gov.app_url, tool="test") as national:
        national.import_codebook(dataclasses.replace(book, version="2026.9",
                                                     themes=(*themes, new)))
    with open_session("reviewer_a", gov.app_url, tool="test") as session:
        page = CalibrationPage(session)
        page.read()
        boxes = page.form.theme_boxes
        assert "nutrition" in boxes and "patient_flow" not in boxes
        page.form.fields["score_overall"].value = 3
        page.form.fields["comment_overall"].value = "Adequate care."
        boxes["nutrition"].value = True
        assert page.form.save(submit=False), page.form.banner.value
        assert list(session.calibration_answers("D1")["themes"]) == [("nutrition",)]


def test_the_programme_team_maintains_the_directory(gov):
    with open_session("national", gov.app_url, tool="test") as session:
        page = CalibrationPage(session)
        page.read()
        good = (b"trainer_id,name,contact,organisation,region,trained_on,active\n"
                b"T9,Dee Example (fictional),dee@x.example,Alderdale NHS Trust,South West,"
                b"2021-02-03,yes\n")
        assert page.import_trainers_csv(good, "trainers.csv")
        assert "Dee Example (fictional)" in page.directory.value
        assert "1 new, 0 updated" in page.import_message.value
        bad = good.replace(b"South West", b"Narnia")
        assert not page.import_trainers_csv(bad, "bad.csv")
        assert "bad.csv, row 2, column region" in page.import_message.value
        assert list(session.trainers()["region"]) == ["South West"]


def test_a_researcher_gets_one_sentence(gov):
    shown = _texts(calibration_page(user="res2", db=gov.app_url))
    assert "Calibration unavailable" in shown and "researcher" in shown


def _texts(widget) -> str:
    """Every HTML text shown by a widget and its children."""
    own = str(getattr(widget, "value", "")) if hasattr(widget, "value") else ""
    return own + "".join(_texts(c) for c in getattr(widget, "children", ()))


def test_a_lead_sees_refreshers_and_a_prompt_from_real_reviews(gov):
    from sjrlib.stats.drift import reviewer_drift

    with open_session("lead_a", gov.app_url, tool="test") as session:
        page = CalibrationPage(session)
        page.read()
        expected = reviewer_drift(session.reviews()).note
    assert page.form is None  # leads read results here; reviewers score
    assert "Scoring in real reviews: a prompt for calibration" in page.extra.value
    assert expected.split(":")[0] in page.extra.value
    assert "who is due a refresher" in page.extra.value


def _codebook_2026_2():
    """The programme team's next codebook: patient_flow retired, senior_review relabelled,
    nutrition added."""
    import dataclasses

    from sjrlib.themes.codebook import Theme, shipped_codebook

    book = shipped_codebook()
    themes = tuple(dataclasses.replace(
        t, retired=t.id == "patient_flow",
        label="Timely senior review" if t.id == "senior_review" else t.label)
        for t in book.themes)
    added = Theme("nutrition", "Nutrition and hydration", "Food and fluids.", ("no MUST score",))
    return dataclasses.replace(book, version="2026.2", themes=(*themes, added))


def test_results_compare_the_themes_of_the_stores_codebook():
    """Before: the results compared the theme decisions of the shipped codebook (2026.1): a
    miss of nutrition (new in the store's 2026.2) was not counted. Now the store's codebook's
    active themes are compared, and a theme it retired that a reference still names
    (patient_flow) stays in. Two cases, each a miss: 26 of 28 decisions (14 themes) agree,
    93%; the shipped list gave 25 of 26, 96%, as would leaving the retired theme out."""
    from data_access.training import TrainingCase
    from sjrlib import domain
    from sjrlib.dashboards.calibration import results_tables

    cases = [TrainingCase(c, "A case", "The patient ...", "poor", {"overall": 2}, {}, 4, themes)
             for c, themes in (("N1", ("nutrition",)), ("F1", ("patient_flow",)))]
    answers = pd.DataFrame([{
        "round_id": "R1", "organisation_code": "XA1", "reviewer_id": "A", "case_id": c,
        "status": "submitted", **{f"score_{p}": pd.NA for p in domain.PHASES},
        "avoidability_score": 4, "themes": ()} for c in ("N1", "F1")]).assign(score_overall=2)
    for column in [f"score_{p}" for p in domain.PHASES] + ["avoidability_score"]:
        answers[column] = answers[column].astype("Int64")
    data = {"cases": cases, "answers": answers,
            "rounds": pd.DataFrame({"round_id": ["R1"], "opens_on": [dt.date(2026, 12, 1)]})}
    mine = dict(results_tables(data, "reviewer", _codebook_2026_2()))[
        "Your decisions against the panel's"].iloc[0]
    assert mine["Theme decisions agreed"] == "93%"
    assert mine["Panel's themes you gave"] == "0%"


def test_the_reference_is_labelled_by_the_stores_codebook():
    """The panel's reference themes beside the reviewer's: the store's labels (senior_review
    relabelled), a theme the store's codebook retired marked "(retired)", as the reports mark
    it, and a theme new in it (nutrition) by its label."""
    from types import SimpleNamespace

    from data_access.training import TrainingCase
    from sjrlib.dashboards.calibration import reference_html

    session = SimpleNamespace(role="organisation_lead", user="lead_a",
                              codebook=_codebook_2026_2)
    labels = dict(CalibrationPage(session)._themes(active=False))
    assert labels["senior_review"] == "Timely senior review"
    assert labels["patient_flow"] == "Patient flow and the organisation of care (retired)"
    case = TrainingCase("F1", "A case", "The patient ...", "poor", {"overall": 2}, {}, 4,
                        ("patient_flow", "senior_review"))
    shown = reference_html(case, {"score_overall": 2, "themes": ("nutrition",)}, labels)
    assert "Patient flow and the organisation of care (retired), Timely senior review" in shown
    assert "Nutrition and hydration" in shown
