"""Every validation rule, made to fail: start from valid rows, break one thing, and check that
exactly that column and rule are reported, at the right spreadsheet row."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from sjrlib import domain, rules
from sjrlib.schema import (
    ValidationFailed,
    validate_deaths,
    validate_organisations,
    validate_review,
    validate_reviews,
)

TODAY = dt.date(2025, 6, 1)


def review(**changes: str) -> dict[str, str]:
    """One valid first-stage review as a file would give it (all text); ``changes`` override."""
    row = {c: "" for c in domain.REVIEW_COLUMNS}
    row.update(
        review_id="R1", case_id="C-0001", organisation_code="RXX", review_stage="first",
        status="submitted", reviewer_id="REV-07", review_date="2024-03-05",
        review_reasons="random_sample", age_at_death="81", sex="female",
        postcode_district="LS1", admission_weekday="mon", death_weekday="thu",
        arrival_hour="14", death_hour="3", days_to_death="3", death_month="2024-02",
        specialty="general_medicine", location_of_death="ward", admission_type="emergency",
        cause_of_death="Pneumonia", learning_disability="no", severe_mental_illness="unknown",
        score_admission="4", comment_admission="Prompt assessment; antibiotics within the hour.",
        score_overall="3", comment_overall="Adequate care, late escalation on day 2.",
        record_quality_score="4", any_problems="yes", problem_monitoring="probably",
    )
    row.update(changes)
    return row


def second(**changes: str) -> dict[str, str]:
    """A valid second-stage review of ``review()`` (review R1, case C-0001)."""
    return review(**{"review_id": "R2", "review_stage": "second", "second_review_of": "R1",
                     "reviewer_id": "REV-11", "avoidability_score": "4",
                     "avoidability_scale": "rcp", **changes})


def ext(**changes: str) -> dict[str, str]:
    """A valid review on form version ext2026 (every added question answered)."""
    return review(**{"form_version": "ext2026", "autism": "no", "clinical_frailty_scale": "5",
                     "me_scrutiny": "yes", "me_concern": "no", "family_concern": "no",
                     "family_involved": "yes", "family_feedback": "not_yet",
                     "escalation_plan": "yes", "dying_recognised": "yes",
                     "referral_coroner": "considered_not_needed", "referral_psii": "made",
                     "referral_ref_psii": "PSII-2024-0042", **changes})


SCOTTISH_BOARD = {"organisation_code": "S08000015", "me_scrutiny": "not_applicable",
                  "me_concern": "", "referral_coroner": ""}


def errors_of(rows: list[dict], **context) -> list[tuple[int, str, str]]:
    """(row, column, rule) of every error; [] when valid."""
    try:
        validate_reviews(pd.DataFrame(rows), today=TODAY, **context)
    except ValidationFailed as failed:
        return [(e.row, e.column, e.rule) for e in failed.errors]
    return []


def test_valid_rows_pass():
    assert errors_of([review()]) == []
    assert errors_of([review(), second()]) == []


FOLLOWED = {"R1": ("C-0001", "first", "RXX", "REV-07", None),
            "R2": ("C-0001", "second", "RXX", "REV-11", "R1")}
"""A stored first-stage review R1 (case C-0001, RXX) and the second-stage review R2 that
follows it, by REV-11."""

# Each case: (rows, context, expected errors). The broken row is the last one unless stated.
REVIEW_CASES = {
    "required": ([review(review_id="")], {}, [(2, "review_id", "required")]),
    "required-score_overall": ([review(score_overall="")], {},
                               [(2, "score_overall", "required")]),
    "required-reasons-empty-list": ([review(review_reasons=" ; ")], {},
                                    [(2, "review_reasons", "required")]),
    "integer": ([review(age_at_death="eighty")], {}, [(2, "age_at_death", "integer")]),
    "integer-decimal": ([review(days_to_death="2.5")], {}, [(2, "days_to_death", "integer")]),
    "code_list": ([review(sex="M")], {}, [(2, "sex", "code_list")]),
    "code_list-weekday": ([review(death_weekday="thursday")], {},
                          [(2, "death_weekday", "code_list")]),
    "code_list-admission_type": ([review(admission_type="urgent")], {},
                                 [(2, "admission_type", "code_list")]),
    "code_list-learning_disability": ([review(learning_disability="maybe")], {},
                                      [(2, "learning_disability", "code_list")]),
    "code_list-problem": ([review(problem_monitoring="possibly")], {},
                          [(2, "problem_monitoring", "code_list")]),
    "code_list-stage": ([review(review_stage="third")], {}, [(2, "review_stage", "code_list")]),
    "code_list-status": ([review(status="final")], {}, [(2, "status", "code_list")]),
    "code_list-scale": ([review(avoidability_score="3", avoidability_scale="nhs")], {},
                        [(2, "avoidability_scale", "code_list")]),
    "date_format": ([review(review_date="05/03/2024")], {}, [(2, "review_date", "date_format")]),
    "date_format-not-a-date": ([review(review_date="2024-02-30")], {},
                               [(2, "review_date", "date_format")]),
    "month_format": ([review(death_month="2024-13")], {}, [(2, "death_month", "month_format")]),
    "month_format-date": ([review(death_month="2024-02-01")], {},
                          [(2, "death_month", "month_format")]),
    "review_id_unique": ([review(), review(case_id="C-0002")], {},
                         [(2, "review_id", "review_id_unique"),
                          (3, "review_id", "review_id_unique")]),
    "case_id_not_identifier": ([review(case_id="943 476 5919")], {},
                               [(2, "case_id", "case_id_not_identifier")]),
    "review_id_not_identifier": ([review(review_id="9434765919")], {},
                                 [(2, "review_id", "review_id_not_identifier")]),
    "second_review_of_not_identifier": ([review(review_id="LS1 4AP"),
                                         second(second_review_of="LS1 4AP")], {},
                                        [(2, "review_id", "review_id_not_identifier"),
                                         (3, "second_review_of",
                                          "second_review_of_not_identifier")]),
    "no_identifiers-name": ([review(comment_overall="Seen by Mr Smith on the ward.")], {},
                            [(2, "comment_overall", "no_identifiers")]),
    "no_identifiers-nhs": ([review(comment_admission="NHS no 9434765919 checked.")], {},
                           [(2, "comment_admission", "no_identifiers")]),
    "no_identifiers-postcode": ([review(cause_of_death="Fall at home, LS1 4AB")], {},
                                [(2, "cause_of_death", "no_identifiers")]),
    "no_identifiers-email": ([review(reviewer_id="jane.doe@nhs.net")], {},
                             [(2, "reviewer_id", "no_identifiers")]),
    "organisation_known": ([review(organisation_code="RYY")], {"known_organisations": {"RXX"}},
                           [(2, "organisation_code", "organisation_known")]),
    "first_stage_no_second_review_of": ([review(second_review_of="R0")], {},
                                        [(2, "second_review_of",
                                          "first_stage_no_second_review_of")]),
    "second_stage_needs_first_review": ([review(), second(second_review_of="")], {},
                                        [(3, "second_review_of",
                                          "second_stage_needs_first_review")]),
    "second_stage_needs_avoidability": ([review(), second(avoidability_score="",
                                                          avoidability_scale="")], {},
                                        [(3, "avoidability_score",
                                          "second_stage_needs_avoidability")]),
    "second_review_of_known": ([review(), second(second_review_of="R9")], {},
                               [(3, "second_review_of", "second_review_of_known")]),
    "second_review_of_first_stage": ([review(), second(),
                                      second(review_id="R3", second_review_of="R2")], {},
                                     [(4, "second_review_of", "second_review_of_first_stage")]),
    "second_review_of_first_stage-store": (
        [second(second_review_of="S1")], {"known_reviews": {"S1": ("C-0001", "second")}},
        [(2, "second_review_of", "second_review_of_first_stage")]),
    "second_review_of_same_case": ([review(), second(case_id="C-0002")], {},
                                   [(3, "second_review_of", "second_review_of_same_case")]),
    "second_review_of_same_case-store": (
        [second()], {"known_reviews": {"R1": ("C-9999", "first")}},
        [(2, "second_review_of", "second_review_of_same_case")]),
    # found by an audit (2026-12-06): an import took a second-stage review of another
    # organisation's review, or by the first-stage review's own reviewer, and a changed review
    # left the stored second-stage review that follows it pointing at another case
    "second_review_of_same_organisation": (
        [review(), second(organisation_code="RYY")], {},
        [(3, "second_review_of", "second_review_of_same_organisation")]),
    "second_review_of_same_organisation-store": (
        [second()], {"known_reviews": {"R1": ("C-0001", "first", "RYY", "REV-01")}},
        [(2, "second_review_of", "second_review_of_same_organisation")]),
    "second_review_by_another_reviewer": (
        [review(), second(reviewer_id=review()["reviewer_id"])], {},
        [(3, "reviewer_id", "second_review_by_another_reviewer")]),
    "second_review_by_another_reviewer-store": (
        [second()], {"known_reviews": {"R1": ("C-0001", "first", "RXX", "REV-11")}},
        [(2, "reviewer_id", "second_review_by_another_reviewer")]),
    "followed_by_second_stage-case": (
        [review(case_id="C-0002")], {"known_reviews": FOLLOWED},
        [(2, "case_id", "followed_by_second_stage")]),
    "followed_by_second_stage-stage": (
        [review(review_stage="second", second_review_of="R0", avoidability_score="4",
                avoidability_scale="rcp")],
        {"known_reviews": {**FOLLOWED, "R0": ("C-0001", "first", "RXX", "REV-05", None)}},
        [(2, "review_stage", "followed_by_second_stage")]),
    "followed_by_second_stage-organisation": (
        [review(organisation_code="RYY")], {"known_reviews": FOLLOWED},
        [(2, "organisation_code", "followed_by_second_stage")]),
    "followed_by_second_stage-reviewer": (
        [review(reviewer_id="REV-11")], {"known_reviews": FOLLOWED},
        [(2, "reviewer_id", "followed_by_second_stage")]),
    "max_length-case_id": ([review(case_id="C" * 65)], {}, [(2, "case_id", "max_length")]),
    "review_date_not_before_death": ([review(review_date="2024-01-31")], {},
                                     [(2, "review_date", "review_date_not_before_death")]),
    "review_date_not_in_future": ([review(review_date="2025-06-02")], {},
                                  [(2, "review_date", "review_date_not_in_future")]),
    # admission mon + 3 days is thu, not fri (found by a walkthrough, 2026-12-10)
    # mon + 3 is thu; fri (one day more) is a death after midnight counted in 24-hour
    # periods, which the base review's hours (arrival 14, death 3) allow; sat is neither
    "death_weekday_after_days_to_death": ([review(death_weekday="sat")], {},
                                          [(2, "death_weekday",
                                            "death_weekday_after_days_to_death")]),
    "review_reasons_known": ([review(review_reasons="random_sample;bogus")], {},
                             [(2, "review_reasons", "review_reasons_known")]),
    "age_adult-17": ([review(age_at_death="17")], {}, [(2, "age_at_death", "age_adult")]),
    "age_adult-121": ([review(age_at_death="121")], {}, [(2, "age_at_death", "age_adult")]),
    "postcode_district_outward_only": ([review(postcode_district="LS1 4AB")], {},
                                       [(2, "postcode_district",
                                         "postcode_district_outward_only")]),
    "postcode_district_outward_only-nospace": ([review(postcode_district="ls14ab")], {},
                                               [(2, "postcode_district",
                                                 "postcode_district_outward_only")]),
    # The shortest full postcode (5 characters), and one split by a no-break space: Unicode
    # whitespace is whitespace.
    "postcode_district_outward_only-shortest": ([review(postcode_district="A99AA")], {},
                                                [(2, "postcode_district",
                                                  "postcode_district_outward_only")]),
    "postcode_district_outward_only-nbsp": ([review(postcode_district="LS1\u00a04AB")], {},
                                            [(2, "postcode_district",
                                              "postcode_district_outward_only")]),
    "postcode_district_format": ([review(postcode_district="1LS")], {},
                                 [(2, "postcode_district", "postcode_district_format")]),
    "hour_range": ([review(arrival_hour="24")], {}, [(2, "arrival_hour", "hour_range")]),
    "hour_range-negative": ([review(death_hour="-1")], {}, [(2, "death_hour", "hour_range")]),
    "days_to_death_non_negative": ([review(days_to_death="-1")], {},
                                   [(2, "days_to_death", "days_to_death_non_negative")]),
    "care_score_range-legacy-6": ([review(score_overall="6")], {},
                                  [(2, "score_overall", "care_score_range")]),
    "care_score_range-legacy-10": ([review(score_admission="10")], {},
                                   [(2, "score_admission", "care_score_range")]),
    "care_score_range-0": ([review(score_overall="0")], {},
                           [(2, "score_overall", "care_score_range")]),
    "comment_required_when_scored": ([review(score_ongoing="2")], {},
                                     [(2, "comment_ongoing", "comment_required_when_scored")]),
    "comment_required_when_scored-whitespace": ([review(comment_admission="   ")], {},
                                                [(2, "comment_admission",
                                                  "comment_required_when_scored")]),
    "comment_required_when_scored-overall": ([review(comment_overall="")], {},
                                             [(2, "comment_overall",
                                               "comment_required_when_scored")]),
    "comment_blank_when_not_scored": ([review(comment_end_of_life="Good symptom control.")],
                                      {}, [(2, "comment_end_of_life",
                                            "comment_blank_when_not_scored")]),
    "record_quality_score_range": ([review(record_quality_score="6")], {},
                                   [(2, "record_quality_score", "record_quality_score_range")]),
    "any_problems_no_but_problem": ([review(any_problems="no")], {},
                                    [(2, "any_problems", "any_problems_no_but_problem")]),
    "any_problems_yes_but_none": ([review(problem_monitoring="")], {},
                                  [(2, "any_problems", "any_problems_yes_but_none")]),
    "avoidability_score_range": ([review(avoidability_score="7", avoidability_scale="rcp")], {},
                                 [(2, "avoidability_score", "avoidability_score_range")]),
    "avoidability_scale_required": ([review(avoidability_score="3")], {},
                                    [(2, "avoidability_scale", "avoidability_scale_required")]),
    # form versions and the ext2026 questions (shared/spec/form-versions.md)
    "code_list-form_version": ([review(form_version="rcp2099")], {},
                               [(2, "form_version", "code_list")]),
    "not_asked_in_version": ([ext(), review(review_id="R2", autism="yes",
                                            referral_ref_psii="PSII-1")], {},
                             [(3, "autism", "not_asked_in_version"),
                              (3, "referral_ref_psii", "not_asked_in_version")]),
    "clinical_frailty_scale_range": ([ext(clinical_frailty_scale="10")], {},
                                     [(2, "clinical_frailty_scale",
                                       "clinical_frailty_scale_range")]),
    "frailty_only_65_and_over": ([ext(age_at_death="64")], {},
                                 [(2, "clinical_frailty_scale", "frailty_only_65_and_over")]),
    "me_concern_only_after_scrutiny": ([ext(me_scrutiny="unknown")], {},
                                       [(2, "me_concern", "me_concern_only_after_scrutiny")]),
    "me_scrutiny_nation-scotland": ([ext(**{**SCOTTISH_BOARD, "me_scrutiny": "no"})], {},
                                    [(2, "me_scrutiny", "me_scrutiny_nation")]),
    "me_scrutiny_nation-england": ([ext(me_scrutiny="not_applicable", me_concern="")], {},
                                   [(2, "me_scrutiny", "me_scrutiny_nation")]),
    "coroner_only_england": ([ext(**{**SCOTTISH_BOARD, "referral_coroner": "made"})], {},
                             [(2, "referral_coroner", "coroner_only_england")]),
    "procurator_fiscal_only_scotland": ([ext(referral_procurator_fiscal="planned")], {},
                                        [(2, "referral_procurator_fiscal",
                                          "procurator_fiscal_only_scotland")]),
    "leder_only_learning_disability_or_autism": (
        [ext(learning_disability="yes", referral_leder="made"),
         ext(review_id="R2", autism="yes", referral_leder="made"),
         ext(review_id="R3", autism="unknown", referral_leder="made")], {},
        [(4, "referral_leder", "leder_only_learning_disability_or_autism")]),
    "referral_ref_needs_referral": ([ext(referral_ref_complaint="C-77")], {},
                                    [(2, "referral_ref_complaint",
                                      "referral_ref_needs_referral")]),
    "max_length": ([ext(referral_ref_psii="P" * 41)], {},
                   [(2, "referral_ref_psii", "max_length")]),
    "no_identifiers-referral_ref": ([ext(referral_ref_psii="NHS 943 476 5919")], {},
                                    [(2, "referral_ref_psii", "no_identifiers")]),
}


@pytest.mark.parametrize("rows, context, expected", REVIEW_CASES.values(), ids=REVIEW_CASES)
def test_review_rule_fails(rows, context, expected):
    assert errors_of(rows, **context) == expected


def test_review_rules_pass_without_the_break():
    """The contexts used above accept the unbroken rows (the cases are not failing anyway)."""
    assert errors_of([review()], known_organisations={"RXX"}) == []
    assert errors_of([second()], known_reviews={"R1": ("C-0001", "first")}) == []
    assert errors_of([second()], known_reviews={"R1": ("C-0001", "first", "RXX", "REV-01")}) \
        == []
    # the review R2 follows, unchanged or changed where the link does not look
    assert errors_of([review()], known_reviews=FOLLOWED) == []
    assert errors_of([review(score_overall="2")], known_reviews=FOLLOWED) == []
    # ... or changed together with R2 in the same file
    assert errors_of([review(case_id="C-0002"), second(case_id="C-0002")],
                     known_reviews=FOLLOWED) == []


def test_repeated_or_blank_ids_are_reported_when_the_store_holds_second_stage_reviews():
    """Every real store holds second-stage reviews, so followed_by_second_stage looks the file's
    ids up against them. A file repeating a review_id, or with two blank ones, stopped the
    import there with pandas' "InvalidIndexError: Reindexing only valid with uniquely valued
    Index objects" instead of the rows that break review_id_unique (acceptance audit,
    2026-12-06); the rule looks up each id's first row."""
    assert errors_of([review(review_id="X1"), review(review_id="X2", case_id="C-0002"),
                      review(review_id="X1", case_id="C-0003", sex="male")],
                     known_reviews=FOLLOWED) == [(2, "review_id", "review_id_unique"),
                                                 (4, "review_id", "review_id_unique")]
    assert errors_of([review(review_id=""), review(review_id="", case_id="C-0002")],
                     known_reviews=FOLLOWED) == [(2, "review_id", "required"),
                                                 (3, "review_id", "required")]
    # R1 twice, the second changing the case R2 follows: the repeat is named, and the
    # follower rule still reads R1 at its first row
    assert errors_of([review(), review(case_id="C-0002")], known_reviews=FOLLOWED) == [
        (2, "review_id", "review_id_unique"), (3, "review_id", "review_id_unique")]
    assert errors_of([review(case_id="C-0002"), review()], known_reviews=FOLLOWED) == [
        (2, "review_id", "review_id_unique"), (2, "case_id", "followed_by_second_stage"),
        (3, "review_id", "review_id_unique")]


def test_missing_required_column_is_reported_at_the_header():
    frame = pd.DataFrame([review()]).drop(columns=["review_id", "score_overall"])
    with pytest.raises(ValidationFailed) as caught:
        validate_reviews(frame, today=TODAY)
    assert [(e.row, e.column, e.rule) for e in caught.value.errors] == [
        (1, "review_id", "required_column"), (1, "score_overall", "required_column")]


def test_optional_columns_may_be_left_out():
    keep = rules.required_columns(rules.REVIEW_SPECS)
    row = {c: review(any_problems="no", problem_monitoring="")[c] for c in keep}
    out = validate_reviews(pd.DataFrame([row]), today=TODAY)
    assert list(out.columns) == list(domain.REVIEW_COLUMNS)
    assert out.loc[0, "status"] == "submitted"


def test_unknown_field_of_a_single_review():
    with pytest.raises(ValidationFailed) as caught:
        validate_review({**review(), "scroe_overall": "3"}, today=TODAY)
    assert [(e.column, e.rule) for e in caught.value.errors] == [("scroe_overall",
                                                                  "unknown_field")]


# --- messages people read ----------

def _messages(rows, **context) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        validate_reviews(pd.DataFrame(rows), today=TODAY, **context)
    return [e.message for e in caught.value.errors]


def test_messages_say_what_is_wrong_and_what_would_be_right():
    assert _messages([review(score_ongoing="2")]) == [
        "score_ongoing is scored but comment_ongoing is empty: a scored phase needs an explicit "
        "judgement comment"]
    [legacy] = _messages([review(score_overall="6")])
    assert "legacy scale" in legacy and "explicitly" in legacy
    [postcode] = _messages([review(postcode_district="LS1 4AB")])
    assert "full postcode" in postcode and "outward" in postcode
    [reasons] = _messages([review(review_reasons="random_sample;bogus;zzz")])
    assert "bogus, zzz" in reasons
    [problems] = _messages([review(any_problems="no", problem_other="yes")])
    assert "problem_monitoring, problem_other" in problems


def test_identifier_message_names_the_kind_and_hides_the_value():
    with pytest.raises(ValidationFailed) as caught:
        validate_reviews(pd.DataFrame([review(comment_overall="NHS 943 476 5919 noted")]),
                         today=TODAY)
    [error] = caught.value.errors
    assert "NHS number" in error.message
    assert "943 476 5919" not in error.message and "943 476 5919" not in str(error.value)
    with pytest.raises(ValidationFailed) as caught:
        validate_reviews(pd.DataFrame([review(case_id="9434765919")]), today=TODAY)
    assert "NHS number" in caught.value.errors[0].message
    assert "pseudonymous" in caught.value.errors[0].message


def test_second_stage_links_to_first_stage_in_the_store():
    rows = [second(second_review_of="OLD-1")]
    assert errors_of(rows, known_reviews={"OLD-1": ("C-0001", "first")}) == []
    frame = pd.DataFrame({"review_id": ["OLD-1"], "case_id": ["C-0001"],
                          "review_stage": ["first"]})
    assert errors_of(rows, known_reviews=frame) == []
    assert errors_of(rows) == [(2, "second_review_of", "second_review_of_known")]


# --- deaths and organisations ----------

def death(**changes: str) -> dict[str, str]:
    row = {"organisation_code": "RXX", "month": "2024-02", "deaths_in_scope": "120",
           "learning_disability_deaths": "2"}
    return {**row, **changes}


DEATH_CASES = {
    "required": ([death(month="")], {}, [(2, "month", "required")]),
    "integer": ([death(deaths_in_scope="many")], {}, [(2, "deaths_in_scope", "integer")]),
    "month_format": ([death(month="Feb 2024")], {}, [(2, "month", "month_format")]),
    "organisation_known": ([death(organisation_code="RYY")], {"known_organisations": ["RXX"]},
                           [(2, "organisation_code", "organisation_known")]),
    "count_non_negative": ([death(learning_disability_deaths="-1")], {},
                           [(2, "learning_disability_deaths", "count_non_negative")]),
    "learning_disability_deaths_within_total": (
        [death(learning_disability_deaths="121")], {},
        [(2, "learning_disability_deaths", "learning_disability_deaths_within_total")]),
    "month_not_in_future": ([death(month="2999-01")], {}, [(2, "month", "month_not_in_future")]),
    "organisation_month_unique": ([death(), death(deaths_in_scope="99")], {},
                                  [(2, "organisation_code", "organisation_month_unique"),
                                   (3, "organisation_code", "organisation_month_unique")]),
}


def _death_errors(rows, **context):
    try:
        validate_deaths(pd.DataFrame(rows), **context)
    except ValidationFailed as failed:
        return [(e.row, e.column, e.rule) for e in failed.errors]
    return []


@pytest.mark.parametrize("rows, context, expected", DEATH_CASES.values(), ids=DEATH_CASES)
def test_death_rule_fails(rows, context, expected):
    assert _death_errors(rows, **context) == expected


def test_valid_deaths_pass():
    assert _death_errors([death(), death(month="2024-03")], known_organisations=["RXX"]) == []
    out = validate_deaths(pd.DataFrame([death()]))
    assert out.dtypes.astype(str).to_dict() == domain.DEATH_DTYPES


def organisation(**changes: str) -> dict[str, str]:
    row = {"organisation_code": "RXX", "name": "Example Hospitals NHS Trust",
           "nation": "england", "region": "North East and Yorkshire"}
    return {**row, **changes}


SCOTTISH = {"organisation_code": "S08000015", "name": "NHS Ayrshire and Arran",
            "nation": "scotland", "region": "Scotland"}

ORGANISATION_CASES = {
    "required": ([organisation(name="")], [(2, "name", "required")]),
    "code_list": ([organisation(nation="wales")], [(2, "nation", "code_list")]),
    "organisation_code_format-england": ([organisation(organisation_code="RXXX")],
                                         [(2, "organisation_code", "organisation_code_format")]),
    "organisation_code_format-scotland": ([{**SCOTTISH, "organisation_code": "S12000015"}],
                                          [(2, "organisation_code", "organisation_code_format")]),
    "organisation_code_format-nation-unknown": (
        [organisation(organisation_code="toolong", nation="")],
        [(2, "organisation_code", "organisation_code_format"), (2, "nation", "required")]),
    "region_known-england": ([organisation(region="Yorkshire")],
                             [(2, "region", "region_known")]),
    "region_known-scotland": ([{**SCOTTISH, "region": "London"}],
                              [(2, "region", "region_known")]),
    "max_length": ([organisation(name="Example " * 30)], [(2, "name", "max_length")]),
    "organisation_code_unique": ([organisation(), organisation(name="Another")],
                                 [(2, "organisation_code", "organisation_code_unique"),
                                  (3, "organisation_code", "organisation_code_unique")]),
}


def _organisation_errors(rows):
    try:
        validate_organisations(pd.DataFrame(rows))
    except ValidationFailed as failed:
        return [(e.row, e.column, e.rule) for e in failed.errors]
    return []


@pytest.mark.parametrize("rows, expected", ORGANISATION_CASES.values(), ids=ORGANISATION_CASES)
def test_organisation_rule_fails(rows, expected):
    assert _organisation_errors(rows) == expected


def test_valid_organisations_pass():
    assert _organisation_errors([organisation(), SCOTTISH]) == []


# --- every rule has a failing test ----------

def _covered(cases: dict) -> set[str]:
    return {rule for case in cases.values() for (*_, rule) in case[-1]}


@pytest.mark.parametrize("kind, cases", [("reviews", REVIEW_CASES), ("deaths", DEATH_CASES),
                                         ("organisations", ORGANISATION_CASES)])
def test_every_rule_is_made_to_fail_above(kind, cases):
    rule_ids = {r.id for r in rules.RULES[kind]}
    assert rule_ids - _covered(cases) == set()
    for r in rules.RULES[kind]:
        assert r.description and r.columns, r.id
        assert set(r.columns) <= set(rules.REVIEW_SPECS if kind == "reviews" else
                                     rules.DEATH_SPECS if kind == "deaths"
                                     else rules.ORGANISATION_SPECS)


def test_all_bad_rows_are_reported_not_only_the_first():
    rows = [review(review_id=f"R{i}", case_id=f"C-{i}") for i in range(1, 8)]
    rows[1]["sex"] = "x"
    rows[4]["score_overall"] = "9"
    rows[6]["age_at_death"] = "12"
    assert errors_of(rows) == [(3, "sex", "code_list"), (6, "score_overall", "care_score_range"),
                               (8, "age_at_death", "age_adult")]


def test_one_bad_cell_gives_one_error():
    """A type failure does not also trip range or consistency rules on the same cell."""
    assert errors_of([review(score_admission="four")]) == [(2, "score_admission", "integer")]
    assert errors_of([review(review_date="soon")]) == [(2, "review_date", "date_format")]


# --- large frames (Arrow path) give what small frames give -------------------------------------

@pytest.fixture
def arrow_path(monkeypatch):
    """Read every frame as a large one would be: pyarrow strings, pyarrow.compute parsing."""
    monkeypatch.setattr(rules, "SMALL_FRAME", 0)


@pytest.mark.parametrize("rows, context, expected", REVIEW_CASES.values(), ids=REVIEW_CASES)
def test_review_rule_fails_on_the_arrow_path(arrow_path, rows, context, expected):
    assert errors_of(rows, **context) == expected


def test_arrow_path_normalises_as_the_python_path(monkeypatch):
    messy = [
        review(review_id=" R1 ", sex="Female", review_stage="FIRST", postcode_district="ls1 ",
               age_at_death="+81", arrival_hour="14.00", death_hour=" 3", score_admission="4.",
               comment_admission="Line one\r\nline two\rthree", specialty="  ",
               review_reasons="Random_Sample; ;learning_disability", review_date=" 2024-03-05"),
        second(cause_of_death="", avoidability_score="3", avoidability_scale="prism"),
        review(review_id="R3", case_id="C-3", review_date="2024-02-29", death_month="2024-02"),
    ]
    frames = {}
    for small in (10**9, 0):
        monkeypatch.setattr(rules, "SMALL_FRAME", small)
        frames[small] = validate_reviews(pd.DataFrame(messy), today=TODAY)
    pd.testing.assert_frame_equal(frames[0], frames[10**9])
    assert frames[0].loc[0, "comment_admission"] == "Line one\nline two\nthree"
    assert frames[0].loc[0, "age_at_death"] == 81 and frames[0].loc[0, "sex"] == "female"


def test_arrow_path_refuses_impossible_dates(arrow_path):
    assert errors_of([review(review_date="2023-02-29")]) == [(2, "review_date", "date_format")]
    assert errors_of([review(review_date="0001-01-01")]) == [(2, "review_date", "date_format")]



_DAYS = ["2024-02-29", "2023-12-31", "1678-01-01", "2261-12-31", "0001-01-01", "9999-12-31",
         "2023-01-01"]
_NOT_DAYS = ["2023-02-29", "2023-04-31", "2023-13-01", "2023-00-10", "2023-01-00", "2100-02-29"]


def _python_days(values: list[str | None]) -> list:
    """What Python's calendar says of each value: the day, or NaT."""
    out = []
    for v in values:
        try:
            out.append(np.datetime64(dt.date.fromisoformat(v), "D"))
        except (TypeError, ValueError):
            out.append(np.datetime64("NaT", "D"))
    return out


@pytest.mark.parametrize("values", [
    _DAYS + [None],  # every value a real day: Arrow's one cast
    _DAYS + _NOT_DAYS + [None],  # some not: parsed and written back
    [None, None],
    _NOT_DAYS,
], ids=["real", "mixed", "blank", "none-real"])
def test_iso_days_gives_the_calendar_s_days(values):
    import pyarrow as pa

    array = pa.chunked_array([pa.array(values[:3], pa.large_string()),
                              pa.array(values[3:], pa.large_string())])
    got = rules._iso_days(array)
    assert got.dtype == np.dtype("datetime64[D]")
    np.testing.assert_array_equal(got, np.array(_python_days(values), dtype="datetime64[D]"))
