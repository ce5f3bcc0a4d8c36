"""The entry form's workflow as a person meets it (the walk-through audit of 2026-12-06):

- a submitted review stays submitted: its *Save draft* is *Save changes*; back to draft only
  when asked for and confirmed (*Return to draft…*), and the session refuses a careless
  submitted -> draft save and audits a deliberate one;
- a month of death in the future (or after the date of review) is flagged on the month itself,
  the counter names the fields still to do, and a refused submit says why beside the buttons;
- the outcome of a save is said beside the buttons; a locked review opens read-only with a
  notice;
- every input has an accessible name.

Real store, real governed sessions, real widgets, values typed by hand.
"""

from __future__ import annotations

import datetime as dt

import ipywidgets as w
import pytest
from test_dashboard_entry import TODAY, fill_valid, form_for, store, template  # noqa: F401

from data_access import AccessDenied, open_session


def _saves(url: str, admin: str, review_id: str, action: str = "save_review") -> list[str]:
    """The audit's entries of ``action`` on one review (their scope, as stored)."""
    with open_session(admin, url, tool="test") as s:
        log = s.audit_log(action=action)
    return [str(scope) for act, scope in zip(log["action"], log["scope"], strict=True)
            if act == action and review_id in str(scope)]


def _stored(url: str, user: str, review_id: str) -> dict:
    with open_session(user, url, tool="test") as s:
        return dict(s.review(review_id))


def _submitted_review(url: str, users, case_id: str = "CASE-0101") -> str:
    form = form_for(url, users.reviewer)
    fill_valid(form, overall=4, case_id=case_id)
    assert form.save(submit=True), form.banner.value
    return form.review_id


def test_save_on_a_submitted_review_keeps_it_submitted(store):  # noqa: F811
    url, users = store
    review_id = _submitted_review(url, users)
    form = form_for(url, users.reviewer)
    assert form.open(review_id)
    assert form.save_button.description == "Save changes"
    assert form.submit_button.layout.display == "none"
    assert form.withdraw_button.layout.display != "none"

    # the old 'Save draft' path is refused: nothing written, no version, no audited save
    form.fields["comment_overall"].widget.value = "Good care; family kept informed throughout."
    assert form.save(submit=False) is False
    assert "submitted" in form.outcome.value and "Not saved" in form.outcome.value
    stored = _stored(url, users.reviewer, review_id)
    assert stored["status"] == "submitted" and stored["version"] == 1
    assert len(_saves(url, users.admin, review_id)) == 1

    form.save_button.click()  # Save changes
    stored = _stored(url, users.reviewer, review_id)
    assert stored["status"] == "submitted" and stored["version"] == 2
    assert stored["comment_overall"] == "Good care; family kept informed throughout."
    assert "stays submitted" in form.outcome.value
    assert "Ready to submit" not in form.summary.value


def test_a_submitted_review_goes_back_to_draft_only_when_confirmed(store):  # noqa: F811
    url, users = store
    review_id = _submitted_review(url, users, "CASE-0102")
    form = form_for(url, users.reviewer)
    assert form.open(review_id)
    form.withdraw_button.click()  # asks first, saves nothing
    assert form.withdraw_box.layout.display != "none"
    assert "left out of every published figure" in form.withdraw_text.value
    assert _stored(url, users.reviewer, review_id)["version"] == 1
    form.withdraw_cancel.click()
    assert form.withdraw_box.layout.display == "none"
    assert _stored(url, users.reviewer, review_id)["status"] == "submitted"

    form.withdraw_button.click()
    form.withdraw_confirm.click()
    stored = _stored(url, users.reviewer, review_id)
    assert stored["status"] == "draft" and stored["version"] == 2
    assert "returned to draft" in form.outcome.value
    assert form.save_button.description == "Save draft"
    assert form.submit_button.layout.display != "none"
    saves = _saves(url, users.admin, review_id)
    assert len(saves) == 2 and "submitted -> draft" in saves[-1]


def test_the_session_refuses_a_careless_submitted_to_draft_save(store):  # noqa: F811
    url, users = store
    review_id = _submitted_review(url, users, "CASE-0103")
    with open_session(users.reviewer, url, tool="test") as s:
        values = {k: v for k, v in s.review(review_id).items()
                  if k not in ("version", "created_at", "updated_at", "updated_by")}
        values["status"] = "draft"
        with pytest.raises(AccessDenied, match="published figure"):
            s.save_review(values, expected_version=1)
        assert s.review(review_id)["status"] == "submitted"
        assert s.review(review_id)["version"] == 1
        assert s.save_review(values, expected_version=1, withdraw=True) == (review_id, 2)
        values["status"] = "submitted"
        assert s.save_review(values, expected_version=2) == (review_id, 3)  # and back
    saves = _saves(url, users.admin, review_id)
    assert len(saves) == 3 and "submitted -> draft" in saves[1]
    assert "withdrawn" not in saves[2]
    denied = _saves(url, users.admin, review_id, "save_review.denied")
    assert len(denied) == 1 and "published figure" in denied[0]


def test_a_future_month_of_death_is_flagged_on_the_month(store):  # noqa: F811
    url, users = store
    form = form_for(url, users.reviewer)
    fill_valid(form, overall=4, case_id="CASE-0104")
    form.fields["death_month"].widget.value = "2027-01"  # TODAY is 2026-11-20
    assert "cannot be in the future" in form.fields["death_month"].error.value
    assert "Month of death" in form.summary.value
    form.submit_button.click()
    assert form.review_id is None
    assert form.fields["review_date"].error.value == ""  # the month is wrong, not the date
    assert "Not submitted" in form.outcome.value and "Month of death" in form.outcome.value
    assert form.save(submit=False) is False  # not as a draft either
    with open_session(users.admin, url, tool="test") as s:
        assert not s.audit_log(action="save_review")["scope"].astype(str).str.contains(
            "CASE-0104").any()
    assert not (form.session.reviews()["case_id"] == "CASE-0104").any()


def test_a_month_of_death_after_the_review_date_is_flagged_on_both(store):  # noqa: F811
    url, users = store
    form = form_for(url, users.reviewer)
    fill_valid(form, overall=4, case_id="CASE-0105")
    form.fields["review_date"].widget.value = dt.date(2026, 10, 5)
    form.fields["death_month"].widget.value = "2026-11"
    assert "After the date of review" in form.fields["death_month"].error.value
    assert "Before the month of death" in form.fields["review_date"].error.value
    assert "Month of death" in form.summary.value and "Date of review" in form.summary.value
    assert form.save(submit=True) is False
    assert form.review_id is None


def test_the_counter_names_the_fields_left(store):  # noqa: F811
    url, users = store
    form = form_for(url, users.reviewer)
    form.fields["age_at_death"].widget.value = "12"
    summary = form.summary.value
    assert "still to complete or correct" in summary
    for name in ("Case reference", "Age at death", "Month of death"):
        assert name in summary, summary
    assert summary.index("Case reference") < summary.index("Month of death")


def test_a_successful_submit_is_said_beside_the_buttons(store):  # noqa: F811
    url, users = store
    form = form_for(url, users.reviewer)
    fill_valid(form, overall=4, case_id="CASE-0106")
    form.submit_button.click()
    assert form.review_id is not None
    assert "submitted" in form.outcome.value
    assert "Ready to submit" not in form.summary.value
    assert form.submit_button.layout.display == "none"
    form.new_button.click()  # another review: the outcome of the last one goes
    assert form.outcome.value == ""


def test_a_locked_review_opens_read_only_with_a_notice(store):  # noqa: F811
    url, users = store
    review_id = _submitted_review(url, users, "CASE-0107")
    lead = form_for(url, users.lead)
    assert lead.open(review_id)
    assert lead.fields["case_id"].widget.disabled is False
    assert lead.lock()
    assert "locked" in lead.lock_notice.value and lead.fields["case_id"].widget.disabled

    form = form_for(url, users.reviewer)
    assert form.open(review_id)
    assert "is locked" in form.lock_notice.value
    assert "read-only" in form.lock_notice.value
    editable = [c for c, f in form.fields.items()
                if "disabled" in f.widget.trait_names() and not f.widget.disabled]
    assert editable == []
    boxes = [*form.reason_boxes.values(), *form._na.values(), *form.problem_present.values()]
    assert all(box.disabled for box in boxes)
    assert form.referrals["referral"][1].add_button.disabled
    assert form.save_button.disabled and form.submit_button.disabled
    assert "Locked" in form.summary.value

    form.new_button.click()  # a new review is editable again, with no notice
    assert form.lock_notice.value == ""
    assert not form.fields["case_id"].widget.disabled
    assert not form.reason_boxes["family_concern"].disabled
    assert form.fields["score_procedure"].widget.disabled is False
    assert form.fields["problem_assessment"].widget.disabled  # not ticked: no harm answer


def test_every_input_has_an_accessible_name(store):  # noqa: F811
    url, users = store
    form = form_for(url, users.reviewer)
    assert "XA2-SJR" in form.open_id.placeholder
    form.referrals["referral"][1].add_row()
    unnamed = []

    def walk(widget):
        if isinstance(widget, (w.Text, w.Textarea, w.Dropdown, w.DatePicker, w.Checkbox)) \
                and not widget.description:
            unnamed.append(widget._dom_classes)
        for child in getattr(widget, "children", ()):
            walk(child)

    walk(form.widget)
    assert unnamed == []
    assert form.fields["score_admission"].widget.description.startswith("Admission")
    assert form.fields["age_at_death"].widget.description == "Age at death"
