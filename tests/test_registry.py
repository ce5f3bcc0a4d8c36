"""The field registry (sjrlib.form.registry): the declarations match the spec.

The expected columns below are typed from ``shared/spec/exchange-format.md`` and
``shared/spec/form-versions.md``, not computed from the registry, so a question lost, renamed or
asked in the wrong version fails here.
"""

from __future__ import annotations

import pytest

from sjrlib.form import registry as registry_module
from sjrlib.form.registry import (
    BASE_VERSION,
    FORM_VERSION_COLUMN,
    FORM_VERSIONS,
    LATEST_VERSION,
    ChildRows,
    Field,
    Kind,
    Privacy,
    When,
    answer_list,
    label_table,
    registry,
)

PHASES = ("admission", "ongoing", "procedure", "perioperative", "end_of_life", "overall")
PROBLEMS = ("assessment", "medication", "treatment", "infection", "procedure", "monitoring",
            "resuscitation", "other")
RCP2017 = (
    "review_id", "case_id", "organisation_code", "review_stage", "second_review_of", "status",
    "reviewer_id", "review_date", "review_reasons", "age_at_death", "sex", "postcode_district",
    "admission_weekday", "death_weekday", "arrival_hour", "death_hour", "days_to_death",
    "death_month", "specialty", "location_of_death", "admission_type", "cause_of_death",
    "learning_disability", "severe_mental_illness",
    *(f"score_{p}" for p in PHASES), *(f"comment_{p}" for p in PHASES),
    "record_quality_score", "any_problems", *(f"problem_{t}" for t in PROBLEMS),
    "avoidability_score", "avoidability_scale",
)
REFERRAL_TYPES = ("leder", "coroner", "procurator_fiscal", "psii", "thematic_review",
                  "duty_of_candour", "complaint", "mortality_meeting", "safeguarding", "other")
EXT2026_QUESTIONS = {
    "autism": ("yes", "no", "unknown"),
    "clinical_frailty_scale": (1, 2, 3, 4, 5, 6, 7, 8, 9),
    "me_scrutiny": ("yes", "no", "unknown", "not_applicable"),
    "me_concern": ("yes", "no", "unknown"),
    "family_concern": ("yes", "no", "unknown"),
    "family_involved": ("yes", "no", "declined", "no_contact"),
    "family_feedback": ("yes", "not_yet", "declined", "not_applicable"),
    "escalation_plan": ("yes", "no", "unknown"),
    "dying_recognised": ("yes", "no", "not_applicable", "unknown"),
}


def test_rcp2017_asks_exactly_the_spec_columns_and_form_version():
    assert set(registry().column_names(BASE_VERSION)) == {*RCP2017, FORM_VERSION_COLUMN}
    # the spec's order, with form_version among the filing fields
    assert [c for c in registry().column_names(BASE_VERSION) if c != "form_version"] == \
        list(RCP2017)


def test_ext2026_adds_the_spec_questions_and_one_column_pair_per_referral_type():
    added = set(registry().column_names(LATEST_VERSION)) - set(RCP2017) - {"form_version"}
    referrals = {f"referral_{t}" for t in REFERRAL_TYPES} | {f"referral_ref_{t}"
                                                             for t in REFERRAL_TYPES}
    assert added == set(EXT2026_QUESTIONS) | referrals
    assert set(registry().columns_not_in(BASE_VERSION)) == added
    assert registry().columns_not_in(LATEST_VERSION) == ()
    for qid, answers in EXT2026_QUESTIONS.items():
        assert registry().column(qid).spec.answers.values == answers, qid
    referral = registry().question("referral")
    assert isinstance(referral, ChildRows)
    assert referral.types.ids == REFERRAL_TYPES
    assert referral.value.answers.ids == ("considered_not_needed", "planned", "made",
                                          "completed")
    assert referral.companion.max_length == 40


def test_form_versions_and_their_labels():
    assert FORM_VERSIONS == ("rcp2017", "ext2026")
    version = registry().column(FORM_VERSION_COLUMN).spec
    assert version.answers.ids == FORM_VERSIONS
    assert not version.required  # blank = rcp2017: files made before import unchanged
    assert "not an RCP publication" in label_table()["form_version"]["ext2026"][1]


def test_spec_labels_of_the_added_questions():
    labels = {q.id: q.label for q in registry().fields(LATEST_VERSION)}
    assert labels["autism"] == "Was the patient autistic?"
    assert labels["me_concern"] == "Did the medical examiner raise a concern about care?"
    assert labels["dying_recognised"] == ("Was it recognised in good time that the patient was "
                                          "dying?")
    assert answer_list("yn_unknown").labels() == {"yes": "Yes", "no": "No",
                                                  "unknown": "Not known"}
    assert answer_list("referral_type").labels()["psii"] == (
        "Patient safety incident investigation (PSIRF)")


def test_specialty_and_location_are_answer_lists_with_other_and_the_generators_codes():
    from sjrlib.synthetic.casemix import LOCATIONS, SPECIALTIES

    specialty = registry().column("specialty").spec
    location = registry().column("location_of_death").spec
    assert specialty.kind is Kind.ANSWERS and location.kind is Kind.ANSWERS
    assert "other" in specialty.answers.ids and "other" in location.answers.ids
    assert set(SPECIALTIES) <= set(specialty.answers.ids)
    places = set(LOCATIONS) | {s.location for s in SPECIALTIES.values() if s.location}
    assert places <= set(location.answers.ids)
    # labelled for people, not snake_case
    assert all("_" not in a.label for a in specialty.answers.answers + location.answers.answers)


def test_privacy_classes():
    reg = registry()
    assert set(reg.free_text_columns(BASE_VERSION)) == {
        "cause_of_death", *(f"comment_{p}" for p in PHASES)}
    assert set(reg.free_text_columns()) - set(reg.free_text_columns(BASE_VERSION)) == {
        f"referral_ref_{t}" for t in REFERRAL_TYPES}
    assert set(reg.columns_of_privacy(Privacy.PSEUDONYMOUS_ID)) == {
        "review_id", "case_id", "second_review_of", "reviewer_id"}
    assert set(reg.screened_columns()) == (set(reg.free_text_columns())
                                           | {"review_id", "case_id", "second_review_of",
                                              "reviewer_id"})
    with pytest.raises(ValueError, match="free text has privacy class free_text"):
        Field("note", "A note", Kind.FREE_TEXT, "case")


def test_consistency_conditions_are_declared_with_rule_ids():
    found = {(c.name, a.id if a else None): w.rule for c, a, w in registry().conditions()}
    assert found[("referral_coroner", None)] == "coroner_only_england"
    assert found[("referral_procurator_fiscal", None)] == "procurator_fiscal_only_scotland"
    assert found[("referral_leder", None)] == "leder_only_learning_disability_or_autism"
    assert found[("clinical_frailty_scale", None)] == "frailty_only_65_and_over"
    assert found[("me_concern", None)] == "me_concern_only_after_scrutiny"
    assert found[("me_scrutiny", "not_applicable")] == "me_scrutiny_nation"
    assert found[("me_scrutiny", "yes")] == "me_scrutiny_nation"
    with pytest.raises(ValueError, match="exactly one of"):
        When("r", ("age_at_death",), "never")


def test_group_by_columns_are_categories_in_answer_order():
    groups = registry().group_by_columns()
    assert groups["sex"] == ("male", "female", "unknown")
    assert groups["autism"] == ("yes", "no", "unknown")
    assert groups["referral_psii"] == ("considered_not_needed", "planned", "made", "completed")
    assert "age_at_death" not in groups and "cause_of_death" not in groups


def test_a_question_added_at_test_time_gets_its_columns_and_versions():
    extra = Field("sepsis_screen", "Was sepsis screening done?", Kind.ANSWERS, "case",
                  answers=answer_list("yn_unknown"), versions=(LATEST_VERSION,))
    reg = registry().with_question(extra, after="autism")
    names = reg.column_names(LATEST_VERSION)
    assert names[names.index("autism") + 1] == "sepsis_screen"
    assert "sepsis_screen" in reg.columns_not_in(BASE_VERSION)
    assert "sepsis_screen" not in registry().column_names()  # the project's is unchanged
    with pytest.raises(ValueError, match="declared twice"):
        reg.with_question(extra)


def test_every_vocabulary_in_labels_csv_is_used():
    used = set()
    for c in registry().columns():
        if c.spec.answers is not None:
            used.add(c.spec.answers.id)
        if isinstance(c.question, ChildRows):
            used.add(c.question.types.id)
    # nation: organisations, not reviews
    assert set(label_table()) - used == {"nation"}


def test_unknown_version_is_refused():
    with pytest.raises(KeyError, match="unknown form version 'rcp2099'"):
        registry().columns("rcp2099")
    assert registry_module.registry() is registry()
