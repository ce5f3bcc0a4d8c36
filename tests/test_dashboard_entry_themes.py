"""Theme coding in the review entry form (issue 13): leads and second-stage reviewers.

Real store, real governed sessions, the real suggestion model (``sjrlib.themes.suggest``), real
widgets; buttons are pressed as in the browser. What is checked is what the store holds: a
suggestion becomes a code only when a person accepted it, and every code is audited.
"""

from __future__ import annotations

import shutil

import pytest
from dashboard_store import add_users, first_stage_values, populate
from test_dashboard_entry import TODAY, fill_valid

from data_access import open_session
from sjrlib.dashboards.entry_form import ReviewForm

# Two themes in one statement: deterioration (NEWS2 not escalated) and sepsis (antibiotics late)
TWO_THEMES = "NEWS2 of 7 not escalated overnight; antibiotics given 6 hours late."


@pytest.fixture(scope="module")
def template(tmp_path_factory, small_data):
    path = tmp_path_factory.mktemp("entry-themes") / "template.db"
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


def offer_rows(form: ReviewForm) -> dict[tuple[str, str | None], object]:
    """The suggestion rows on screen, by (theme, phase), found by their CSS classes."""
    rows = {}
    for row in form.themes.offer_box.children:
        css = [c for c in row._dom_classes if c.startswith("s-")]
        if css:
            theme, _, phase = css[0].removeprefix("s-").rpartition("-")
            rows[(theme, None if phase == "review" else phase)] = row
    return rows


def press(row, css: str) -> None:
    [button] = [b for b in row.children if css in b._dom_classes]
    button.click()


def codes_in_store(url: str, user: str, review_id: str):
    with open_session(user, url, tool="test") as s:
        codes = s.theme_codes(review_id)
    return {(r.theme, None if r.phase is None or str(r.phase) == "<NA>" else r.phase,
             bool(r.from_suggestion), r.coded_by) for r in codes.itertuples()}


def second_stage_form(url, users, *, case_id: str) -> tuple[ReviewForm, str]:
    with open_session(users.reviewer, url, tool="test") as s:
        first_id, _ = s.save_review(first_stage_values(case_id, overall=1))
    form = form_for(url, users.second_reviewer)
    form.start_second_stage(first_id)
    with form.holding_checks():
        for phase in ("admission", "ongoing", "procedure", "perioperative", "end_of_life"):
            form._na[phase].value = True
        form.fields["score_overall"].widget.value = 2
        form.fields["record_quality_score"].widget.value = 3
        form.fields["any_problems"].widget.value = "yes"
        form.problem_present["monitoring"].value = True
        form.fields["problem_monitoring"].widget.value = "yes"
        form.fields["avoidability_score"].widget.value = 3
    return form, first_id


def test_second_stage_reviewer_accepts_rejects_and_adds_stored_on_submit(store):
    url, users = store
    form, _ = second_stage_form(url, users, case_id="THEME-01")
    assert form.coding_here() and form.themes_section.layout.display == ""
    assert "stored when the review is submitted" in form.themes_state.value
    assert offer_rows(form) == {}  # no judgement written yet: nothing suggested

    form.fields["comment_overall"].widget.value = TWO_THEMES
    offers = offer_rows(form)
    assert set(offers) == {("deterioration", "overall"), ("sepsis", "overall")}
    press(offers[("sepsis", "overall")], "b-accept")
    press(offers[("deterioration", "overall")], "b-reject")
    assert offer_rows(form) == {}  # both decided
    form.themes.add_theme.value = "communication_team"
    form.themes.add_button.click()  # whole review, by hand
    assert [(c.theme, c.phase, c.pending) for c in form.themes.codes] == [
        ("sepsis", "overall", True), ("communication_team", None, True)]

    # rejecting a suggestion is final while the review is open: a new edit does not bring it back
    form.fields["comment_overall"].widget.value = TWO_THEMES + " Agree with the first review."
    assert ("deterioration", "overall") not in offer_rows(form)

    assert form.save(submit=True), form.banner.value
    assert "2 themes coded" in form.banner.value
    assert codes_in_store(url, users.second_reviewer, form.review_id) == {
        ("sepsis", "overall", True, users.second_reviewer),
        ("communication_team", None, False, users.second_reviewer)}
    assert not any(c.pending for c in form.themes.codes)
    assert "stored at once" in form.themes_state.value
    with open_session(users.admin, url, tool="test") as admin:
        log = admin.audit_log(username=users.second_reviewer, action="code_review")
    assert len(log) == 2
    assert log["scope"].astype(str).str.contains(form.review_id).all()


def test_a_lead_entering_a_review_codes_it_when_submitted_not_as_a_draft(store):
    url, users = store
    lead = form_for(url, users.lead)
    assert lead.coding_here()
    fill_valid(lead, overall=2, case_id="THEME-06")
    lead.fields["reviewer_id"].widget.value = "RVW-L"
    offers = offer_rows(lead)  # fill_valid: "Sepsis not recognised at triage; antibiotics late."
    assert ("sepsis", "admission") in offers
    press(offers[("sepsis", "admission")], "b-accept")
    assert lead.save(submit=False), lead.banner.value
    assert codes_in_store(url, users.lead, lead.review_id) == set()  # a draft carries no codes
    assert [c.pending for c in lead.themes.codes] == [True]
    assert lead.save(submit=True), lead.banner.value
    assert "1 theme coded" in lead.banner.value
    assert codes_in_store(url, users.lead, lead.review_id) == {
        ("sepsis", "admission", True, users.lead)}


def test_a_pending_theme_taken_back_is_not_stored(store):
    url, users = store
    form, _ = second_stage_form(url, users, case_id="THEME-02")
    form.fields["comment_overall"].widget.value = TWO_THEMES
    press(offer_rows(form)[("sepsis", "overall")], "b-accept")
    [row] = [r for r in form.themes.code_box.children if "c-sepsis-overall" in r._dom_classes]
    press(row, "b-remove")
    assert form.themes.codes == []
    assert ("sepsis", "overall") in offer_rows(form)  # taken back: offered again
    assert form.save(submit=True), form.banner.value
    assert "coded" not in form.banner.value
    assert codes_in_store(url, users.second_reviewer, form.review_id) == set()


def test_a_first_stage_reviewer_codes_nothing_in_the_form(store):
    url, users = store
    form = form_for(url, users.reviewer)
    assert not form.coding_here()
    assert form.themes_section.layout.display == "none"
    fill_valid(form, overall=4, case_id="THEME-03")
    assert form.save(submit=True), form.banner.value
    assert form.themes.codes == [] and form.themes.offers == []
    assert codes_in_store(url, users.reviewer, form.review_id) == set()


def test_the_lead_codes_a_submitted_review_at_once_and_sees_only_their_own_codes(store):
    url, users = store
    with open_session(users.reviewer, url, tool="test") as s:
        review_id, _ = s.save_review(first_stage_values("THEME-04", overall=2))
    with open_session(users.reviewer, url, tool="test") as s:
        s.code_review(review_id, "deterioration", phase="overall")  # the author's own code

    lead = form_for(url, users.lead)
    assert lead.open(review_id)
    assert lead.coding_here() and "stored at once" in lead.themes_state.value
    assert "1 code by other coders not shown" in lead.themes_state.value
    assert lead.themes.codes == []  # the reviewer's code is not shown to the second coder
    offers = offer_rows(lead)
    # first_stage_values: admission "Early warning score rising ... without escalation",
    # overall "Failure to escalate a deteriorating patient.": one offer per theme, at the
    # phase suggesting it most
    assert [k for k in offers if k[0] == "deterioration"] == [("deterioration", "overall")]
    press(offers[("deterioration", "overall")], "b-accept")
    assert codes_in_store(url, users.lead, review_id) == {
        ("deterioration", "overall", True, users.lead),
        ("deterioration", "overall", False, users.reviewer)}
    lead.themes.add_theme.value = "communication_team"
    lead.themes.add_phase.value = "admission"
    assert lead.themes.add("communication_team", "admission")
    assert not lead.themes.add("communication_team", "admission")  # twice: said, not stored
    assert "already coded" in lead.themes.message.value
    with open_session(users.admin, url, tool="test") as admin:
        log = admin.audit_log(username=users.lead, action="code_review")
    assert len(log) == 2

    again = form_for(url, users.lead)  # opened afresh: the lead's codes, not offered again
    assert again.open(review_id)
    assert {(c.theme, c.phase) for c in again.themes.codes} == {
        ("deterioration", "overall"), ("communication_team", "admission")}
    assert all("coded" in c.note and not c.pending for c in again.themes.codes)
    assert ("deterioration", "overall") not in offer_rows(again)


def test_a_refused_code_is_said_in_the_chooser(store):
    url, users = store
    with open_session(users.reviewer, url, tool="test") as s:
        draft = first_stage_values("THEME-05", overall=4)
        draft["status"] = "draft"
        review_id, _ = s.save_review(draft)
    lead = form_for(url, users.lead)
    assert lead.open(review_id)
    lead.status = "submitted"  # the form believes it submitted; the store knows better
    assert not lead.themes.add("sepsis", None)
    assert "Not coded" in lead.themes.message.value and "draft" in lead.themes.message.value
    assert lead.themes.codes == []
    assert codes_in_store(url, users.lead, review_id) == set()
