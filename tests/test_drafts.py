"""Drafts: a clinician may save a half-done review; everything it holds must still be valid.

Submitting applies every rule; a draft is spared only the completeness rules
(``sjrlib.schema.DRAFT_MAY_BE_INCOMPLETE``), never identifier, code, range or link rules.
"""

from __future__ import annotations

import pandas as pd
import pytest
from access_setup import governed_fresh  # noqa: F401  (fixture)

from data_access import open_session
from sjrlib import schema

_BASE = {
    "review_id": "DRAFT-1",
    "case_id": "C-DRAFT-1",
    "review_stage": "first",
    "review_date": "2026-11-01",
    "death_month": "2026-10",
}


def _blank(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _rules(values: dict) -> set[tuple[str, str]]:
    return {(e.column, e.rule) for e in schema.review_errors(values)}


def _with(**kw) -> dict:
    return {**_BASE, "organisation_code": "XA1", "reviewer_id": "R1", **kw}


def test_incomplete_draft_is_valid_but_the_same_submission_is_not():
    draft = _with(status="draft", score_admission=2)
    assert _rules(draft) == set()
    submitted = _rules(_with(status="submitted", score_admission=2))
    assert ("score_overall", "required") in submitted
    assert ("comment_admission", "comment_required_when_scored") in submitted


@pytest.mark.parametrize(
    "change, broken",
    [
        ({"comment_ongoing": "Seen by Dr Jones late"}, ("comment_ongoing", "no_identifiers")),
        ({"score_overall": 7}, ("score_overall", "care_score_range")),
        ({"age_at_death": 12}, ("age_at_death", "age_adult")),
        ({"any_problems": "no", "problem_medication": "yes"},
         ("any_problems", "any_problems_no_but_problem")),
        ({"review_id": None}, ("review_id", "required")),
        ({"case_id": None}, ("case_id", "required")),
    ],
)
def test_what_a_draft_holds_must_still_be_valid(change, broken):
    assert broken in _rules(_with(status="draft", **change))


def test_a_reviewer_saves_an_incomplete_draft_and_cannot_submit_it(governed_fresh):  # noqa: F811
    gov = governed_fresh
    with open_session("reviewer_a", gov.app_url, tool="test") as s:
        values = {**_BASE, "organisation_code": gov.org_a, "status": "draft",
                  "score_admission": 3, "review_reasons": "random_sample"}
        review_id, version = s.save_review(values)
        stored = s.review(review_id)
        assert stored["status"] == "draft"
        assert stored["score_admission"] == 3 and _blank(stored["score_overall"])
        with pytest.raises(schema.ValidationFailed) as failed:
            s.save_review({**values, "status": "submitted"}, expected_version=version)
        assert {"score_overall", "comment_admission"} <= {e.column for e in failed.value.errors}
        assert s.review(review_id)["version"] == version  # nothing half-saved
