"""The review entry form without a browser: widget state -> values -> errors -> governed saves.

Real store (SQLite, and PostgreSQL when configured), real governed sessions, real widgets; the
tests set widget values and press buttons as the browser would.
"""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from dashboard_store import add_users, populate

from data_access import AccessDenied, open_session
from sjrlib import domain
from sjrlib.dashboards.entry_form import ReviewForm

TODAY = dt.date(2026, 11, 20)
NHS_NUMBER = "943 476 5919"


@pytest.fixture(scope="module")
def template(tmp_path_factory, small_data):
    """One populated store with users, built once; each test gets its own copy.

    SQLite only: the dashboards sit on the governed session, whose behaviour on PostgreSQL is
    tested with the session itself."""
    path = tmp_path_factory.mktemp("entry") / "template.db"
    url = f"sqlite:///{path}"
    populate(url, small_data)
    users = add_users(url, str(small_data.organisations["organisation_code"].iloc[0]))
    return path, users


@pytest.fixture
def store(template, tmp_path):
    path, users = template
    copy = tmp_path / "sjr.db"
    shutil.copyfile(path, copy)
    return f"sqlite:///{copy}", users


def form_for(url: str, user: str) -> ReviewForm:
    return ReviewForm(open_session(user, url, tool="test"), today=TODAY)


def fill_valid(form: ReviewForm, *, overall: int = 2, case_id: str = "CASE-0001") -> None:
    """Fill the form as a reviewer would: a complete first-stage review (checked once)."""
    with form.holding_checks():
        _fill_valid(form, overall, case_id)


def _fill_valid(form: ReviewForm, overall: int, case_id: str) -> None:
    f = form.fields
    f["case_id"].widget.value = case_id
    f["age_at_death"].widget.value = "84"
    f["sex"].widget.value = "female"
    f["death_month"].widget.value = "2026-09"
    f["admission_type"].widget.value = "emergency"
    f["specialty"].widget.value = "general_medicine"
    form.reason_boxes["family_concern"].value = True
    for phase in ("procedure", "perioperative", "end_of_life"):
        form._na[phase].value = True
    f["score_admission"].widget.value = 2
    f["comment_admission"].widget.value = "Sepsis not recognised at triage; antibiotics late."
    f["score_ongoing"].widget.value = 3
    f["comment_ongoing"].widget.value = "Appropriate ward care once the diagnosis was made."
    f["score_overall"].widget.value = overall
    f["comment_overall"].widget.value = "Delay in recognising sepsis shaped the outcome."
    f["record_quality_score"].widget.value = 3
    f["any_problems"].widget.value = "yes"
    form.problem_present["assessment"].value = True
    f["problem_assessment"].widget.value = "probably"


def test_a_complete_review_is_submitted_and_audited(store):
    url, users = store
    form = form_for(url, users.reviewer)
    fill_valid(form, overall=4)
    assert form.errors() == {}
    form.submit_button.click()
    assert form.review_id and form.version == 1, form.banner.value
    assert "submitted" in form.banner.value
    with open_session(users.reviewer, url, tool="test") as s:
        saved = s.review(form.review_id)
    assert saved["status"] == "submitted"
    assert saved["score_overall"] == 4
    assert saved["organisation_code"] == users.organisation
    assert saved["comment_admission"].startswith("Sepsis not recognised")
    assert saved["score_procedure"] is None and saved["comment_procedure"] is None
    assert saved["problem_assessment"] == "probably"
    with open_session(users.admin, url, tool="test") as admin:
        log = admin.audit_log(username=users.reviewer, action="save_review")
    assert len(log) == 1
    assert form.review_id in str(log["scope"].iloc[0])


def test_errors_appear_beside_touched_fields_then_all_on_submit(store):
    url, users = store
    form = form_for(url, users.reviewer)
    assert all(fld.error.value == "" for fld in form.fields.values())  # a blank form is calm
    form.fields["age_at_death"].widget.value = "12"
    assert "18-120" in form.fields["age_at_death"].error.value
    assert form.fields["case_id"].error.value == ""  # not touched yet
    form.fields["age_at_death"].widget.value = "seventy"
    assert form.fields["age_at_death"].error.value != ""
    form.submit_button.click()
    assert form.review_id is None
    assert "Not submitted" in form.banner.value
    for column in ("case_id", "death_month", "review_reasons", "score_overall",
                   "record_quality_score", "any_problems"):
        assert form.fields[column].error.value == "Required", column
    # a score without its explicit judgement, in words for the form
    form._na["ongoing"].value = False
    form.fields["score_ongoing"].widget.value = 4
    assert "explicit judgement" in form.fields["comment_ongoing"].error.value


def test_identifiers_are_highlighted_and_block_saving(store):
    url, users = store
    form = form_for(url, users.reviewer)
    fill_valid(form)
    form.fields["comment_overall"].widget.value = (
        f"Mr Jones (NHS {NHS_NUMBER}) waited six hours.")
    shown = form._id_boxes["comment_overall"].value
    assert f"<mark class='sjr-id' title='NHS number'>{NHS_NUMBER}</mark>" in shown
    assert "Mr Jones" in shown and "likely name" in shown
    assert form.submit_button.disabled and form.save_button.disabled
    assert form.save(submit=True) is False
    assert form.save(submit=False) is False
    assert form.review_id is None
    form.fields["comment_overall"].widget.value = "The patient waited six hours for review."
    assert form._id_boxes["comment_overall"].value == ""
    assert not form.submit_button.disabled
    assert form.save(submit=True)


def test_poor_care_goes_to_the_queue_and_the_second_stage_is_linked(store):
    url, users = store
    first = form_for(url, users.reviewer)
    fill_valid(first, overall=2, case_id="CASE-0002")
    assert first.save(submit=True), first.banner.value
    assert "second-stage review queue" in first.banner.value

    second = form_for(url, users.second_reviewer)
    queued = [value for _, value in second.queue_select.options]
    assert first.review_id in queued
    second.queue_select.value = first.review_id
    second.queue_button.click()
    assert second.stage == "second" and second.second_review_of == first.review_id
    assert second.fields["case_id"].value == "CASE-0002"
    assert second.fields["score_overall"].value is None  # an independent judgement
    assert first.review_id in second.link_box.value
    assert "Poor care" in second.link_box.value
    second.fields["score_overall"].widget.value = 2
    second.fields["comment_overall"].widget.value = "Agree: recognition of sepsis was late."
    for phase in ("admission", "ongoing", "procedure", "perioperative", "end_of_life"):
        second._na[phase].value = True
    second.fields["record_quality_score"].widget.value = 3
    second.fields["any_problems"].widget.value = "yes"
    second.problem_present["monitoring"].value = True
    second.fields["problem_monitoring"].widget.value = "yes"
    second.submit_button.click()
    assert second.review_id is None
    assert second.fields["avoidability_score"].error.value == "Required at a second-stage review"
    second.fields["avoidability_score"].widget.value = 3
    assert second.save(submit=True), second.banner.value
    with open_session(users.second_reviewer, url, tool="test") as s:
        saved = s.review(second.review_id)
        assert first.review_id not in set(s.second_stage_queue()["review_id"])
    assert saved["review_stage"] == "second"
    assert saved["second_review_of"] == first.review_id
    assert saved["avoidability_score"] == 3 and saved["avoidability_scale"] == "rcp"
    assert first.review_id not in [v for _, v in second.queue_select.options]


def test_a_concurrent_change_is_a_conflict_not_an_overwrite(store):
    url, users = store
    form = form_for(url, users.reviewer)
    fill_valid(form, overall=4, case_id="CASE-0003")
    assert form.save(submit=False)
    draft_id = form.review_id
    mine = form_for(url, users.reviewer)
    assert mine.open(draft_id)
    theirs = form_for(url, users.lead)
    assert theirs.open(draft_id)
    theirs.fields["comment_overall"].widget.value = "Lead's edit: good care throughout."
    assert theirs.save(submit=False)
    mine.fields["comment_overall"].widget.value = "My later edit."
    assert mine.save(submit=False) is False
    assert "someone else changed this review" in mine.banner.value
    assert mine.fields["comment_overall"].value == "My later edit."  # kept in the form
    with open_session(users.reviewer, url, tool="test") as s:
        assert s.review(draft_id)["comment_overall"] == "Lead's edit: good care throughout."
    mine.reload_button.click()
    assert mine.fields["comment_overall"].value == "Lead's edit: good care throughout."
    assert mine.version == theirs.version


def test_only_the_lead_locks(store):
    url, users = store
    form = form_for(url, users.reviewer)
    assert form.lock_button.layout.display == "none"
    fill_valid(form, overall=4, case_id="CASE-0004")
    assert form.save(submit=True)
    lead = form_for(url, users.lead)
    assert lead.lock_button.layout.display != "none"
    assert lead.open(form.review_id)
    lead.lock_button.click()
    assert lead.status == "locked", lead.banner.value
    assert lead.submit_button.disabled
    with open_session(users.reviewer, url, tool="test") as s:
        assert s.review(form.review_id)["status"] == "locked"
    form.fields["comment_overall"].widget.value = "Too late to change."
    assert form.save(submit=True) is False
    assert "locked" in form.banner.value


def test_a_reviewer_cannot_open_another_reviewers_review(store):
    url, users = store
    form = form_for(url, users.reviewer)
    fill_valid(form, overall=4, case_id="CASE-0005")
    assert form.save(submit=False)
    other = form_for(url, users.second_reviewer)
    assert other.open(form.review_id) is False
    assert "Cannot open review" in other.banner.value
    assert other.review_id is None


def test_case_details_use_the_vocabulary_labels(store):
    url, users = store
    form = form_for(url, users.reviewer)
    labels = [text for text, _ in form.fields["score_overall"].widget.options]
    assert labels[1:] == [f"{k} · {v}" for k, v in domain.labels("care_score").items()]
    assert set(form.reason_boxes) == set(domain.REVIEW_REASONS)
    with pytest.raises(AccessDenied):
        open_session("nobody", url, tool="test")


def test_a_new_review_after_another_shows_every_dropdown_blank_not_empty(store):
    """ipywidgets clears a dropdown's index when its value becomes None, which shows an empty
    box; the form shows its blank first option ("— choose —") instead."""
    import ipywidgets as w

    url, users = store
    form = form_for(url, users.reviewer)
    fill_valid(form, overall=4, case_id="CASE-0006")
    form.new_button.click()
    dropdowns = {c: f.widget for c, f in form.fields.items() if isinstance(f.widget, w.Dropdown)}
    assert len(dropdowns) > 20
    for column, widget in dropdowns.items():
        if column == "organisation_code":
            continue
        assert widget.value is None and widget.index == 0, column
        assert widget.label.startswith("—"), column


def test_a_first_stage_review_followed_at_second_stage_keeps_its_case(store):
    """A lead opens a submitted first-stage review that a second-stage review follows and
    changes its case: the form refuses (the rule followed_by_second_stage, through the
    session's save, which passes the review's followers), says why, and nothing is saved.
    The same change to a review nobody follows is taken."""
    url, users = store
    first = form_for(url, users.reviewer)
    fill_valid(first, overall=2, case_id="CASE-0004")
    assert first.save(submit=True), first.banner.value
    second = form_for(url, users.second_reviewer)
    second.queue_select.value = first.review_id
    second.queue_button.click()
    second.fields["score_overall"].widget.value = 2
    second.fields["comment_overall"].widget.value = "Agree: recognition of sepsis was late."
    for phase in ("admission", "ongoing", "procedure", "perioperative", "end_of_life"):
        second._na[phase].value = True
    second.fields["record_quality_score"].widget.value = 3
    second.fields["any_problems"].widget.value = "no"
    second.fields["avoidability_score"].widget.value = 5
    assert second.save(submit=True), second.banner.value

    lead = form_for(url, users.lead)
    assert lead.open(first.review_id)
    lead.fields["case_id"].widget.value = "CASE-0099"
    assert lead.save(submit=True) is False
    assert "1 field needs attention" in lead.banner.value
    message = lead.fields["case_id"].error.value
    assert "second-stage review" in message and "CASE-0004" in message, message
    with open_session(users.lead, url, tool="test") as s:
        assert s.review(first.review_id)["case_id"] == "CASE-0004"

    other = form_for(url, users.reviewer)
    fill_valid(other, overall=4, case_id="CASE-0005")
    assert other.save(submit=True), other.banner.value
    lead = form_for(url, users.lead)
    assert lead.open(other.review_id)
    lead.fields["case_id"].widget.value = "CASE-0098"
    assert lead.save(submit=True), lead.banner.value
