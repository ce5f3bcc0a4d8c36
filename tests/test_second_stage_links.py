"""A second-stage review follows a first-stage review of the same organisation and case, by
another reviewer, and keeps doing so when either is changed (``sjrlib.rules``' second-stage
rules; ``data_access.bulk.refuse_broken_followers``).

Found by an audit of imports (2026-12-06): ``sjr import reviews --update`` changed a stored
first-stage review's case and left the second-stage review that follows it pointing at another
case; an import took a second-stage review of another organisation's review, or by the
first-stage review's own reviewer (the entry form refuses both). Rows are written by hand
(``test_rules.review`` / ``second``); every import goes through ``sjr import`` into real
SQLite and PostgreSQL stores, and a refused one must leave every table as it was.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_import_cli import dump, sjr
from test_reimport import write_reviews
from test_rules import TODAY, review, second

from data_access import store
from data_access.bulk import StoreError
from sjrlib.schema import validate_reviews

DATA = Path(__file__).parent / "data"


@pytest.fixture
def stored(db_url, tmp_path):
    """R1 (first stage, case C-0001, REV-07) and R2 (its second stage, REV-11), in ``RXX``."""
    assert sjr("import", "organisations", DATA / "organisations.csv", "--db", db_url) \
        .exit_code == 0
    result = sjr("import", "reviews", write_reviews(tmp_path / "r.csv", [review(), second()]),
                 "--db", db_url)
    assert result.exit_code == 0, result.output
    return db_url


def _import(db_url, tmp_path, rows, *args):
    before = dump(db_url)
    result = sjr("import", "reviews", write_reviews(tmp_path / "in.csv", rows), "--db", db_url,
                 *args)
    return before, result


@pytest.mark.parametrize("changes, column", [
    ({"case_id": "C-0555"}, "case_id"),
    ({"organisation_code": "R0A"}, "organisation_code"),
    ({"reviewer_id": "REV-11"}, "reviewer_id"),
    ({"review_stage": "second", "second_review_of": "R9", "avoidability_score": "3",
      "avoidability_scale": "rcp"}, "review_stage"),
], ids=["case", "organisation", "reviewer", "stage"])
def test_an_update_cannot_break_a_stored_second_stage_link(stored, tmp_path, changes, column):
    rows = [review(**changes)]
    if "second_review_of" in changes:  # R1 as the second stage of a new first-stage R9
        rows.insert(0, review(review_id="R9", reviewer_id="REV-03"))
    before, result = _import(stored, tmp_path, rows, "--update")
    assert result.exit_code == 1, result.output
    row = len(rows) + 1
    assert f"in.csv, row {row}, column {column}" in result.output, result.output
    assert "the stored second-stage review R2 follows this review" in result.output
    assert "[followed_by_second_stage]" in result.output
    assert "nothing was imported" in result.output
    assert dump(stored) == before


def test_an_update_of_both_reviews_together_is_taken(stored, tmp_path):
    before, result = _import(stored, tmp_path, [review(case_id="C-0555"),
                                                 second(case_id="C-0555")], "--update")
    assert result.exit_code == 0, result.output
    assert "0 inserted, 2 updated" in result.output
    cases = {r[0]: r[1] for r in dump(stored)["reviews"]}
    assert cases == {"R1": "C-0555", "R2": "C-0555"}


def test_a_change_elsewhere_in_a_followed_review_is_taken(stored, tmp_path):
    _, result = _import(stored, tmp_path, [review(score_overall="2")], "--update")
    assert result.exit_code == 0, result.output
    assert "0 inserted, 1 updated" in result.output


@pytest.mark.parametrize("changes, column, rule", [
    ({"reviewer_id": "REV-07"}, "reviewer_id", "second_review_by_another_reviewer"),
    ({"organisation_code": "R0A"}, "second_review_of", "second_review_of_same_organisation"),
    ({"second_review_of": "R2"}, "second_review_of", "second_review_of_first_stage"),
], ids=["own-review", "other-organisation", "second-of-second"])
def test_a_new_second_stage_review_must_follow_a_proper_first_stage(stored, tmp_path, changes,
                                                                    column, rule):
    row = second(**{"review_id": "R3", "reviewer_id": "REV-12", **changes})
    before, result = _import(stored, tmp_path, [row])
    assert result.exit_code == 1, result.output
    assert f"in.csv, row 2, column {column}" in result.output, result.output
    assert f"[{rule}]" in result.output
    # a stored second-stage review is found, and said to be one (it was "neither in this file
    # nor in the store" when only first-stage reviews were looked up)
    assert "neither in this file nor in the store" not in result.output
    assert dump(stored) == before


def test_the_store_refuses_what_validation_did_not_see(stored):
    """A frame validated without the stored reviews (an API caller) reaches the store's own
    check: refused, nothing written."""
    frame = validate_reviews(__import__("pandas").DataFrame([review(case_id="C-0555")]),
                             today=TODAY)
    before = dump(stored)
    engine = store.get_engine(stored)
    try:
        with pytest.raises(StoreError, match=r"R1 \(followed by R2\)"):
            store.import_reviews(engine, frame, update=True)
    finally:
        engine.dispose()
    assert dump(stored) == before
