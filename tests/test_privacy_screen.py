"""The one identifier screen on every path: ids and references, free text, approvals' purpose,
``sjr check-text``; and nothing refused is ever written out as typed (error values, messages,
the command's output, the store and its audit log)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from data_access import store
from data_access.approvals import ApprovalError, spec_from_values
from data_access.session import bootstrap_administrator
from sjrlib import io
from sjrlib.cli import app
from sjrlib.privacy import find_identifiers
from sjrlib.schema import ValidationFailed, validate_review, validate_reviews

sys.path.insert(0, str(Path(__file__).parent))
from test_rules import TODAY, review, second  # noqa: E402  (hand-written valid reviews)

NHS = "943 476 5919"  # the published example (shared/spec/calibration.md): a valid number
WRITTEN = ("943 476 5919", "9434765919", "943\u00a0476\u00a05919", "943.476.5919",
           "943\u2013476\u20135919")


def _failure(rows: list[dict]) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as failed:
        validate_reviews(pd.DataFrame(rows), today=TODAY)
    return failed.value


def _never_shows(failure: ValidationFailed, *secrets: str) -> None:
    every = [str(failure), failure.to_frame().to_csv(), *(repr(e) for e in failure.errors)]
    digits = [s.replace(" ", "") for s in secrets]
    for text in every:
        for secret in (*secrets, *digits):
            assert secret not in text, (secret, text)


@pytest.mark.parametrize("written", WRITTEN)
@pytest.mark.parametrize("column", ["review_id", "case_id"])
def test_an_nhs_number_as_an_id_is_refused_with_a_row_error_that_does_not_show_it(column,
                                                                                   written):
    failure = _failure([review(**{column: written})])
    (error,) = [e for e in failure.errors if e.rule == f"{column}_not_identifier"]
    assert (error.row, error.column) == (2, column)
    assert "NHS number '943" in error.message and "***" in error.message
    assert "pseudonymous reference" in error.message
    _never_shows(failure, written)


@pytest.mark.parametrize("identifier", ["LS1 4AP", "0101901232", "Jane Doe", "DOB 03-Apr-1951"])
def test_other_identifiers_as_a_second_review_of_are_refused(identifier):
    failure = _failure([review(), second(second_review_of=identifier)])
    rules = {(e.column, e.rule) for e in failure.errors}
    assert ("second_review_of", "second_review_of_not_identifier") in rules
    _never_shows(failure, identifier)


def test_a_repeated_identifier_id_is_not_shown_by_the_uniqueness_rule_either():
    failure = _failure([review(review_id=NHS), review(review_id=NHS, case_id="C-0002")])
    assert {e.rule for e in failure.errors} >= {"review_id_unique", "review_id_not_identifier"}
    _never_shows(failure, NHS)


def test_free_text_errors_show_kind_and_mask_never_the_identifier():
    comment = "Seen by John Smith; daughter on 07700 900123; lives at 12 Acacia Avenue."
    failure = _failure([review(comment_overall=comment)])
    (error,) = failure.errors
    assert error.rule == "no_identifiers"
    assert "likely name 'J*** *****'" in error.message
    assert "telephone number '077** ******'" in error.message
    assert "street address" in error.message
    assert error.value == "Seen by [NAME]; daughter on [PHONE]; lives at [ADDRESS]."
    _never_shows(failure, "John Smith", "07700 900123", "Acacia")


def test_single_review_path_and_unknown_fields_are_redacted_too():
    values = review(review_id="9434765919")
    values["patient_nhs"] = NHS
    with pytest.raises(ValidationFailed) as failed:
        validate_review(values, today=TODAY)
    _never_shows(failed.value, NHS)


def test_ordinary_ids_and_clinical_words_pass():
    rows = [review(review_id="SJR-2024-000123", case_id="C-1951-07"),
            second(review_id="R-77", second_review_of="SJR-2024-000123", case_id="C-1951-07",
                   comment_overall="Parkinson's disease; CABG 14 June 2001; Wells score 6.")]
    validate_reviews(pd.DataFrame(rows), today=TODAY)


def test_an_approval_purpose_with_an_identifier_is_refused_without_echoing_it():
    values = dict(id="DARG-1", applicants=["a.researcher"], organisations=["RXX"],
                  period_start="2025-01", period_end="2025-06", fields=["review_id"],
                  start_date="2026-01-01", end_date="2026-12-31")
    spec_from_values({**values, "purpose": "Variation in end-of-life care between trusts"})
    with pytest.raises(ApprovalError) as refused:
        spec_from_values({**values, "purpose": f"Follow-up of Mrs O'Neill, NHS {NHS}"})
    message = str(refused.value)
    assert "identifier" in message and NHS not in message and "O'Neill" not in message


def test_check_text_uses_the_same_detector():
    text = "NHS 943\u00a0476\u00a05919, MR SMITH, +44 (0) 161 496 0000, DOB 03-Apr-1951"
    result = CliRunner().invoke(app, ["check-text", "--json", text])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == [f._asdict() for f in find_identifiers(text)]
    assert {f["kind"] for f in json.loads(result.stdout)} == {
        "nhs_number", "name", "phone", "date_of_birth"}


def test_sjr_import_refuses_an_identifier_id_and_writes_it_nowhere(small_data, tmp_path):
    url = f"sqlite:///{tmp_path / 'sjr.db'}"
    store.init_db(url)
    bootstrap_administrator("test-admin", url)
    env = {"SJR_USER": "test-admin"}
    organisations = tmp_path / "organisations.csv"
    io.write_organisations(small_data.organisations, organisations)
    ok = CliRunner().invoke(app, ["import", "organisations", str(organisations), "--db", url],
                            env=env)
    assert ok.exit_code == 0, ok.output
    reviews = small_data.reviews.head(5).copy()
    reviews["review_id"] = reviews["review_id"].astype("string")
    reviews.loc[reviews.index[2], "review_id"] = "9434765919"
    reviews.loc[reviews.index[3], "comment_overall"] = "Seen by Mrs O'Neill at 14:00"
    path = tmp_path / "reviews.csv"
    io.write_reviews(reviews, path)
    result = CliRunner().invoke(app, ["import", "reviews", str(path), "--db", url], env=env)
    assert result.exit_code == 1
    assert "review_id_not_identifier" in result.output and "no_identifiers" in result.output
    for secret in ("9434765919", "943 476 5919", "O'Neill"):
        assert secret not in result.output
    written = b"".join(p.read_bytes() for p in tmp_path.glob("sjr.db*"))
    assert b"9434765919" not in written and b"O'Neill" not in written
