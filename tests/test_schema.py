"""The validated frames (types, normalisation, PRISM conversion), error reports, and the
single-review API and pydantic model that run the same rules."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_rules import TODAY, review, second

from sjrlib import domain, schema
from sjrlib.schema import (
    MAX_LISTED_ERRORS,
    Review,
    RowError,
    ValidationFailed,
    review_errors,
    validate_review,
    validate_reviews,
)


def frame(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


# --- the review frame ----------

def test_output_columns_dtypes_and_index():
    out = validate_reviews(frame(review(), second()).set_axis([10, 20]), today=TODAY)
    assert list(out.columns) == list(domain.REVIEW_COLUMNS)
    assert out.dtypes.astype(str).to_dict() == domain.REVIEW_DTYPES
    assert out.index.tolist() == [10, 20]


@pytest.mark.parametrize("prism, rcp", [(1, 6), (2, 5), (3, 4), (4, 3), (5, 2), (6, 1)])
def test_prism_is_converted_to_rcp(prism, rcp):
    out = validate_reviews(frame(review(), second(avoidability_score=str(prism),
                                                  avoidability_scale="prism")), today=TODAY)
    assert out.loc[1, "avoidability_score"] == rcp
    assert out.loc[1, "avoidability_scale"] == "rcp"


def test_rcp_is_kept_and_scale_blank_without_score():
    out = validate_reviews(frame(review(), second(avoidability_score="2")), today=TODAY)
    assert out["avoidability_score"].tolist() == [pd.NA, 2]
    assert out["avoidability_scale"].tolist() == [pd.NA, "rcp"]


def test_normalisation_of_codes_status_and_reasons():
    out = validate_reviews(frame(review(
        status="", sex=" Female ", review_reasons="Random_Sample; family_concern;;alarm;alarm",
        postcode_district="ls1", any_problems="YES")), today=TODAY)
    row = out.iloc[0]
    assert row["status"] == "submitted"
    assert row["sex"] == "female"
    assert row["review_reasons"] == "family_concern;alarm;random_sample"  # spec order, once
    assert row["postcode_district"] == "LS1"
    assert row["any_problems"] == "yes"


def test_blank_cells_are_missing():
    out = validate_reviews(frame(review(sex="  ", cause_of_death="")), today=TODAY)
    assert pd.isna(out.loc[0, "sex"]) and pd.isna(out.loc[0, "cause_of_death"])
    assert pd.isna(out.loc[0, "score_ongoing"])


def test_validating_a_validated_frame_changes_nothing():
    """Typed input (Int64, datetime64, string) takes the same rules as text input."""
    once = validate_reviews(frame(review(), second(avoidability_scale="prism")), today=TODAY)
    twice = validate_reviews(once, today=TODAY)
    pd.testing.assert_frame_equal(twice, once)


def test_typed_input_is_checked_too():
    typed = validate_reviews(frame(review()), today=TODAY)
    typed.loc[0, "score_overall"] = 9
    typed.loc[0, "review_date"] = pd.Timestamp("2030-01-01")
    with pytest.raises(ValidationFailed) as caught:
        validate_reviews(typed, today=TODAY)
    assert [(e.column, e.rule, e.value) for e in caught.value.errors] == [
        ("review_date", "review_date_not_in_future", "2030-01-01"),
        ("score_overall", "care_score_range", "9"),
    ]


def test_object_columns_from_python_values():
    row = review()
    row.update(age_at_death=81, score_overall=3.0, review_date=dt.date(2024, 3, 5),
               arrival_hour=None)
    out = validate_reviews(pd.DataFrame([row], dtype=object), today=TODAY)
    assert out.loc[0, "age_at_death"] == 81 and out.loc[0, "score_overall"] == 3
    assert out.loc[0, "review_date"] == pd.Timestamp("2024-03-05")
    assert pd.isna(out.loc[0, "arrival_hour"])


def test_extra_columns_are_ignored():
    out = validate_reviews(frame(review()).assign(version=3, nation="england"), today=TODAY)
    assert list(out.columns) == list(domain.REVIEW_COLUMNS)


def test_not_a_frame():
    with pytest.raises(TypeError, match="DataFrame"):
        validate_reviews([review()])


def test_default_today_is_today():
    future = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    with pytest.raises(ValidationFailed) as caught:
        validate_reviews(frame(review(review_date=future)))
    assert caught.value.errors[0].rule == "review_date_not_in_future"


# --- error reports ----------

def test_row_numbers_can_be_given():
    with pytest.raises(ValidationFailed) as caught:
        validate_reviews(frame(review(), review(review_id="R9", sex="?")), rows=[5, 9],
                         source="mine.csv", today=TODAY)
    [error] = caught.value.errors
    assert (error.source, error.row, error.column, error.value) == ("mine.csv", 9, "sex", "?")


def test_row_error_reads_as_a_sentence():
    error = RowError("reviews.csv", 7, "sex", "F", "code_list",
                     "sex must be one of: male, female, unknown")
    assert str(error) == ("reviews.csv, row 7, column sex (value 'F'): sex must be one of: male, "
                          "female, unknown [code_list]")
    assert str(error._replace(row=None, value=None)).startswith("reviews.csv, column sex "
                                                               "(value blank)")


def test_every_error_kept_but_the_printed_list_capped():
    rows = [review(review_id=f"R{i}", case_id=f"C{i}", sex="x") for i in range(80)]
    with pytest.raises(ValidationFailed) as caught:
        validate_reviews(frame(*rows), today=TODAY)
    failed = caught.value
    assert len(failed.errors) == 80
    assert [e.row for e in failed.errors] == list(range(2, 82))
    lines = str(failed).splitlines()
    assert lines[0] == "<frame>: 80 problems in 80 rows; nothing was imported"
    assert len(lines) == 1 + MAX_LISTED_ERRORS + 1
    assert lines[-1] == "  ... and 30 more (all are in .errors)"
    report = failed.to_frame()
    assert list(report.columns) == ["source", "row", "column", "value", "rule", "message"]
    assert len(report) == 80


def test_errors_sorted_by_row_then_column_order():
    rows = [review(review_id="R1", sex="x", age_at_death="5"), review(review_id="R2", sex="y")]
    with pytest.raises(ValidationFailed) as caught:
        validate_reviews(frame(*rows), today=TODAY)
    assert [(e.row, e.column) for e in caught.value.errors] == [
        (2, "age_at_death"), (2, "sex"), (3, "sex")]


# --- deaths and organisations frames ----------

def test_deaths_and_organisations_frames_typed():
    deaths = schema.validate_deaths(pd.DataFrame(
        {"organisation_code": [" RXX "], "month": ["2024-02"], "deaths_in_scope": ["10"],
         "learning_disability_deaths": ["0"]}))
    assert deaths.loc[0, "organisation_code"] == "RXX" and deaths.loc[0, "deaths_in_scope"] == 10
    organisations = schema.validate_organisations(pd.DataFrame(
        {"organisation_code": ["RXX"], "name": ["X"], "nation": ["England"], "region": ["London"]}))
    assert organisations.loc[0, "nation"] == "england"
    assert organisations.dtypes.astype(str).to_dict() == domain.ORGANISATION_DTYPES


# --- one review ----------

def test_validate_review_returns_python_values():
    values = validate_review(review(second_review_of=""), today=TODAY)
    assert values["age_at_death"] == 81 and isinstance(values["age_at_death"], int)
    assert values["review_date"] == dt.date(2024, 3, 5)
    assert values["second_review_of"] is None and values["status"] == "submitted"
    assert set(values) == set(domain.REVIEW_COLUMNS)


def test_missing_keys_are_blank_fields():
    errors = review_errors({"review_id": "R1"}, today=TODAY)
    assert {e.column for e in errors if e.rule == "required"} == {
        "case_id", "organisation_code", "review_stage", "reviewer_id", "review_date",
        "review_reasons", "age_at_death", "death_month", "score_overall",
        "record_quality_score", "any_problems"}
    assert all(e.row is None for e in errors)


def test_review_errors_are_field_level_and_match_the_frame_rules():
    bad = review(score_ongoing="2", postcode_district="LS1 4AB")
    errors = review_errors(bad, today=TODAY)
    assert [(e.column, e.rule) for e in errors] == [
        ("postcode_district", "postcode_district_outward_only"),
        ("comment_ongoing", "comment_required_when_scored")]
    with pytest.raises(ValidationFailed) as caught:
        validate_reviews(frame(bad), today=TODAY)
    assert [(e.column, e.rule, e.message) for e in caught.value.errors] == [
        (e.column, e.rule, e.message) for e in errors]
    assert review_errors(review(), today=TODAY) == []


def test_second_stage_form_with_the_store_context():
    values = second(second_review_of="S-1")
    assert [e.rule for e in review_errors(values, today=TODAY)] == ["second_review_of_known"]
    assert review_errors(values, today=TODAY,
                         known_reviews={"S-1": ("C-0001", "first")}) == []


def test_pydantic_review_model():
    model = Review.model_validate(review(), context={"today": TODAY})
    assert model.age_at_death == 81 and model.review_date == dt.date(2024, 3, 5)
    assert model.model_dump() == validate_review(review(), today=TODAY)
    with pytest.raises(pydantic.ValidationError) as caught:
        Review.model_validate(review(score_overall="6", sex="M"), context={"today": TODAY})
    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [
        (("sex",), "code_list"), (("score_overall",), "care_score_range")]
    assert "legacy scale" in caught.value.errors()[1]["msg"]


def test_pydantic_review_context_and_unknown_fields():
    values = second(second_review_of="S-1")
    with pytest.raises(pydantic.ValidationError):
        Review.model_validate(values, context={"today": TODAY})
    Review.model_validate(values, context={"today": TODAY,
                                           "known_reviews": {"S-1": ("C-0001", "first")}})
    with pytest.raises(pydantic.ValidationError) as caught:
        Review(**review(), colour="blue")
    assert caught.value.errors()[0]["loc"] == ("colour",)


def test_pydantic_fields_follow_the_specs():
    fields = Review.model_fields
    assert list(fields) == list(domain.REVIEW_COLUMNS)
    assert fields["score_overall"].is_required() and not fields["score_ongoing"].is_required()


@settings(max_examples=15, deadline=None)
@given(score=st.one_of(st.none(), st.integers(-3, 12)),
       comment=st.sampled_from([None, "", "  ", "Timely senior review."]))
def test_phase_score_and_comment_property(score, comment):
    """A phase is valid exactly when it is blank, or scored 1-5 with a comment."""
    values = review(score_ongoing="" if score is None else str(score),
                    comment_ongoing=comment or "")
    rules = {e.rule for e in review_errors(values, today=TODAY)}
    scored = score is not None
    commented = comment is not None and comment.strip() != ""
    expected = set()
    if scored and not 1 <= score <= 5:
        expected.add("care_score_range")
    if scored and not commented:
        expected.add("comment_required_when_scored")
    if commented and not scored:
        expected.add("comment_blank_when_not_scored")
    assert rules == expected
