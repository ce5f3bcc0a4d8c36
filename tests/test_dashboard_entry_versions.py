"""The entry form follows the field registry and the review's form version (issue 12).

Real store, real governed sessions, real widgets. A new review is entered on ``ext2026`` and
shows its questions (the frailty score only at 65 and over, the medical examiner's concern only
after scrutiny, referral types that fit the organisation's nation and the patient); a saved
``rcp2017`` review shows none of them and saves as ``rcp2017``; a review the rules refuse is
not stored at all.
"""

from __future__ import annotations

import shutil

import pytest
from dashboard_store import add_users, populate
from test_dashboard_entry import TODAY, fill_valid

from data_access import open_session
from sjrlib.dashboards.entry_form import ReviewForm, typed_text_columns
from sjrlib.form.registry import Field, Kind, registry

EXT2026 = ("autism", "me_scrutiny", "family_concern", "family_involved", "family_feedback",
           "escalation_plan", "dying_recognised")
SCOTTISH_BOARD = "S08999001"


def _store(tmp_path_factory, data, organisation: str, name: str):
    path = tmp_path_factory.mktemp(name) / "template.db"
    url = f"sqlite:///{path}"
    populate(url, data)
    return path, add_users(url, organisation)


@pytest.fixture(scope="module")
def template(tmp_path_factory, small_data):
    return _store(tmp_path_factory, small_data,
                  str(small_data.organisations["organisation_code"].iloc[0]), "versions")


@pytest.fixture(scope="module")
def scottish_template(tmp_path_factory):
    from sjrlib.synthetic import generate

    data = generate(n_organisations=6, years=1, seed=1)
    assert SCOTTISH_BOARD in set(data.organisations["organisation_code"])
    return _store(tmp_path_factory, data, SCOTTISH_BOARD, "versions-scotland")


def _copy(template, tmp_path):
    path, users = template
    copy = tmp_path / f"{users.organisation}.db"
    shutil.copyfile(path, copy)
    return f"sqlite:///{copy}", users


@pytest.fixture
def store(template, tmp_path):
    return _copy(template, tmp_path)


@pytest.fixture
def scottish_store(scottish_template, tmp_path):
    return _copy(scottish_template, tmp_path)


def form_for(url: str, user: str) -> ReviewForm:
    return ReviewForm(open_session(user, url, tool="test"), today=TODAY)


def shown(form: ReviewForm, column: str) -> bool:
    return form.fields[column].row.layout.display != "none"


def offered(form: ReviewForm, column: str) -> list:
    return [value for _, value in form.fields[column].widget.options if value is not None]


def referral_types(form: ReviewForm) -> list[str]:
    _, editor = form.referrals["referral"]
    return [value for _, value in editor.rows[0][0].options if value is not None]


def test_every_question_of_the_registry_has_its_widget_label_and_section(store):
    url, users = store
    form = form_for(url, users.lead)
    reg = registry()
    for q in reg.fields():
        if not isinstance(q, Field) or q.id in ("review_id", "review_stage", "status",
                                                "second_review_of", "avoidability_scale",
                                                "form_version"):
            continue
        fld = form.fields[q.id]
        assert fld.label == q.label, q.id
        assert fld.row in _rows_of(form.sections[q.section]) or q.kind is Kind.MULTI_CHOICE, q.id
        if q.kind is Kind.ANSWERS and q.id != "organisation_code":
            labels = [text for text, value in fld.widget.options if value is not None]
            assert set(labels) <= set(q.answers.labels().values()), q.id
    # hints come from the declaration: the age's range, the specialty as labelled answers
    assert form.fields["age_at_death"].widget.placeholder == "18-120"
    assert form.fields["days_to_death"].widget.placeholder == "0 or more"
    specialty = dict((v, t) for t, v in form.fields["specialty"].widget.options)
    assert specialty["general_medicine"] == "General medicine" and "other" in specialty
    assert "other" in offered(form, "location_of_death")
    assert "referral_ref_coroner" in typed_text_columns("ext2026")
    assert "referral_ref_coroner" not in typed_text_columns("rcp2017")


def _rows_of(box) -> list:
    out = []
    for child in getattr(box, "children", ()):
        out.append(child)
        out.extend(_rows_of(child))
    return out


def test_a_new_review_is_on_ext2026_with_its_questions_and_their_conditions(store):
    url, users = store
    form = form_for(url, users.reviewer)
    assert form.form_version == "ext2026" and not form.version_select.disabled
    assert "not an RCP publication" in form.version_note.value
    for column in EXT2026:
        assert shown(form, column), column
    assert form.sections["referrals"].layout.display != "none"
    # the frailty score only at 65 and over
    assert not shown(form, "clinical_frailty_scale")
    form.fields["age_at_death"].widget.value = "64"
    assert not shown(form, "clinical_frailty_scale")
    form.fields["age_at_death"].widget.value = "65"
    assert shown(form, "clinical_frailty_scale")
    assert [t for t, v in form.fields["clinical_frailty_scale"].widget.options][1] == (
        "1 · Very fit")
    form.fields["clinical_frailty_scale"].widget.value = 7
    assert form.values().get("clinical_frailty_scale", 7) == 7
    form.fields["age_at_death"].widget.value = "60"  # corrected: the score is not answered
    assert not shown(form, "clinical_frailty_scale")
    assert form.values().get("clinical_frailty_scale") is None
    # the medical examiner's concern only after scrutiny; an English trust has no "not
    # applicable" (that is Scotland's answer)
    assert not shown(form, "me_concern")
    assert "not_applicable" not in offered(form, "me_scrutiny")
    form.fields["me_scrutiny"].widget.value = "yes"
    assert shown(form, "me_concern")
    form.fields["me_scrutiny"].widget.value = "no"
    assert not shown(form, "me_concern")


def test_referral_types_follow_the_nation_and_learning_disability_or_autism(store,
                                                                          scottish_store):
    url, users = store
    form = form_for(url, users.reviewer)
    _, editor = form.referrals["referral"]
    editor.add_button.click()
    types = referral_types(form)
    assert "coroner" in types and "procurator_fiscal" not in types and "leder" not in types
    form.fields["autism"].widget.value = "yes"
    assert "leder" in referral_types(form)
    form.fields["autism"].widget.value = "no"
    form.fields["learning_disability"].widget.value = "yes"
    assert "leder" in referral_types(form)

    url, users = scottish_store
    scot = form_for(url, users.reviewer)
    assert offered(scot, "me_scrutiny") == ["not_applicable"]
    scot.referrals["referral"][1].add_button.click()
    types = referral_types(scot)
    assert "procurator_fiscal" in types and "coroner" not in types


def test_referral_rows_say_what_is_missing_or_twice_and_screen_the_reference(store):
    url, users = store
    form = form_for(url, users.reviewer)
    fill_valid(form, overall=4, case_id="REF-01")
    _, editor = form.referrals["referral"]
    editor.add_row("psii", None, None)
    editor.add_row("psii", "made", None)
    form.show_all_errors = True
    form.refresh()
    assert "status" in editor.rows[0][3].value.lower()
    assert "twice" in editor.rows[1][3].value
    editor.rows[0][1].value = "planned"
    editor.remove_row(1)
    assert editor.rows[0][3].value == ""
    editor.rows[0][2].value = "NHS 943 476 5919"
    assert "NHS number" in editor.rows[0][4].value
    assert form.submit_button.disabled
    assert form.save(submit=True) is False and form.review_id is None
    editor.rows[0][2].value = "PSII-77"
    assert not form.submit_button.disabled


def test_an_rcp2017_review_opens_in_its_version_and_saves_as_rcp2017(store):
    url, users = store
    with open_session(users.lead, url, tool="test") as s:
        reviews = s.reviews(status="submitted")
    old = reviews[(reviews["review_stage"] == "first") & (reviews["form_version"] == "rcp2017")]
    review_id = str(old["review_id"].iloc[0])
    lead = form_for(url, users.lead)
    assert lead.open(review_id)
    assert lead.form_version == "rcp2017" and lead.version_select.disabled
    assert "RCP 2017 form" in lead.header.value
    for column in (*EXT2026, "clinical_frailty_scale", "me_concern"):
        assert not shown(lead, column), column
    for section in ("examiner_and_family", "end_of_life", "referrals"):
        assert lead.sections[section].layout.display == "none", section
    lead.fields["age_at_death"].widget.value = "80"  # 65+, but the 2017 form had no CFS
    assert not shown(lead, "clinical_frailty_scale")
    values = lead.values()
    assert values["form_version"] == "rcp2017"
    assert not set(values) & {*EXT2026, "clinical_frailty_scale", "referral_coroner"}
    assert set(values) == {*registry().column_names("rcp2017"), "form_version"}
    lead.fields["comment_overall"].widget.value = "Discussed at the mortality meeting."
    assert lead.save(submit=True), lead.banner.value
    with open_session(users.lead, url, tool="test") as s:
        saved = s.review(review_id)
    assert saved["comment_overall"] == "Discussed at the mortality meeting."
    assert saved["form_version"] == "rcp2017"
    assert all(saved.get(c) is None for c in EXT2026)


def test_another_save_target_gets_the_checked_values_and_no_review_is_stored(store):
    """A calibration exercise stores training answers, not reviews (ReviewForm(save_to=...))."""
    from sjrlib.schema import RowError, ValidationFailed

    url, users = store
    kept: list[dict] = []

    def keep(values, *, expected_version):
        if values["comment_overall"] == "refuse":
            raise ValidationFailed([RowError("training", None, "comment_overall", "refuse",
                                             "training_answer", "not an answer to this case")])
        kept.append(dict(values))
        return "TRAINING-1", (expected_version or 0) + 1

    form = ReviewForm(open_session(users.reviewer, url, tool="test"), today=TODAY,
                      save_to=keep, coding=False)
    assert form.themes is None
    form.fields["case_id"].widget.value = "CAL-01"
    assert form.save(submit=True) is False and kept == []  # incomplete: never sent
    fill_valid(form, overall=3, case_id="CAL-01")
    assert form.save(submit=True), form.banner.value
    assert form.review_id == "TRAINING-1" and form.version == 1
    assert [v["case_id"] for v in kept] == ["CAL-01"] and kept[0]["status"] == "submitted"
    form.fields["comment_overall"].widget.value = "refuse"
    assert form.save(submit=True) is False
    assert form.fields["comment_overall"].error.value == "Not an answer to this case"
    with open_session(users.reviewer, url, tool="test") as s:
        assert "CAL-01" not in set(s.reviews()["case_id"].astype(str))


def _ext2026_review(form: ReviewForm, case_id: str) -> None:
    """A complete ext2026 first-stage review with a frailty score and a referral."""
    with form.holding_checks():
        fill_valid(form, overall=2, case_id=case_id)  # age 84
        f = form.fields
        f["clinical_frailty_scale"].widget.value = 6
        f["learning_disability"].widget.value = "no"
        f["autism"].widget.value = "no"
        f["me_scrutiny"].widget.value = "yes"
        f["me_concern"].widget.value = "no"
        f["family_concern"].widget.value = "yes"
        f["family_involved"].widget.value = "yes"
        f["family_feedback"].widget.value = "not_yet"
        f["escalation_plan"].widget.value = "no"
        f["dying_recognised"].widget.value = "no"
        form.referrals["referral"][1].add_row("coroner", "made", "COR-2026-0042")


def test_an_ext2026_review_with_a_referral_and_a_frailty_score_is_stored(store):
    url, users = store
    form = form_for(url, users.reviewer)
    _ext2026_review(form, "EXT-01")
    assert form.errors() == {}
    assert form.save(submit=True), form.banner.value
    with open_session(users.reviewer, url, tool="test") as s:
        saved = s.review(form.review_id)
    assert saved["form_version"] == "ext2026"
    assert saved["clinical_frailty_scale"] == 6 and saved["me_concern"] == "no"
    assert saved["referral_coroner"] == "made" and saved["referral_ref_coroner"] == "COR-2026-0042"
    assert saved["referral_psii"] is None

    again = form_for(url, users.reviewer)  # opens in its version, the referral as a row
    assert again.open(form.review_id)
    assert again.form_version == "ext2026" and again.version_select.disabled
    assert again.referrals["referral"][1].entries() == [("coroner", "made", "COR-2026-0042")]
    assert again.fields["clinical_frailty_scale"].value == 6


def test_a_review_the_rules_refuse_is_not_stored_at_all(store):
    url, users = store
    form = form_for(url, users.reviewer)
    _ext2026_review(form, "EXT-02")
    editor = form.referrals["referral"][1]
    form.fields["learning_disability"].widget.value = "yes"
    editor.add_row("leder", "planned", None)
    assert form.errors() == {}
    form.fields["learning_disability"].widget.value = "no"  # LeDeR no longer fits
    assert form.save(submit=True) is False
    assert form.review_id is None
    assert editor.rows[1][3].value.startswith("Only when learning disability or autism is yes")
    assert form.save(submit=False) is False  # not even as a draft
    with open_session(users.reviewer, url, tool="test") as s:
        assert "EXT-02" not in set(s.reviews()["case_id"].astype(str))
    editor.remove_row(1)
    assert form.save(submit=True), form.banner.value


@pytest.mark.postgres
def test_an_ext2026_review_entered_and_coded_on_each_database(db_url, small_data):
    """The form's round trip on a fresh store of each kind (PostgreSQL when configured): an
    ext2026 review with a referral and a frailty score, submitted, then coded by the lead."""
    populate(db_url, small_data)
    users = add_users(db_url, str(small_data.organisations["organisation_code"].iloc[0]))
    form = form_for(db_url, users.reviewer)
    _ext2026_review(form, "EXT-PG")
    assert form.save(submit=True), form.banner.value
    lead = form_for(db_url, users.lead)
    assert lead.open(form.review_id)
    assert lead.referrals["referral"][1].entries() == [("coroner", "made", "COR-2026-0042")]
    assert lead.fields["clinical_frailty_scale"].value == 6
    offers = lead.themes.visible_offers()
    assert offers, "the judgements suggest a theme"
    assert lead.themes.accept(offers[0].theme, offers[0].phase)
    with open_session(users.lead, db_url, tool="test") as s:
        saved = s.review(form.review_id)
        codes = s.theme_codes(form.review_id)
    assert saved["form_version"] == "ext2026" and saved["referral_coroner"] == "made"
    assert list(codes["theme"]) == [offers[0].theme] and codes["from_suggestion"].all()
