"""Workflow rules of saving a review, whatever the spelling of the answers (issue: insider).

- a status is read on its canonical value: "Locked", " LOCKED " are "locked", and only an
  organisation lead locks (with ``lock_review``);
- nobody makes the second-stage review of their own first-stage review;
- a refusal reveals nothing about another organisation's rows (a taken review id is refused
  without its organisation, saver or time).
"""

from __future__ import annotations

import pytest
from access_setup import governed_fresh  # noqa: F401  (fixture)
from sqlalchemy import text

from data_access import AccessDenied, open_session, store


def _stored(gov, review_id):
    engine = store.get_engine(gov.owner_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT status, version, updated_by FROM reviews "
                                     "WHERE review_id = :r"), {"r": review_id}).one_or_none()
    finally:
        engine.dispose()


def _own_review(gov, **where):
    engine = store.get_engine(gov.owner_url)
    try:
        with engine.connect() as conn:
            frame = store.load_reviews(conn, organisation_codes=[gov.org_a], stage="first",
                                       status="submitted")
    finally:
        engine.dispose()
    for column, value in where.items():
        frame = frame[frame[column] == value]
    return frame.iloc[0]["review_id"]


@pytest.mark.parametrize("spelling", ["Locked", "LOCKED", " locked ", "lOcKeD"])
def test_no_spelling_of_locked_lets_a_reviewer_lock(governed_fresh, spelling):  # noqa: F811
    gov = governed_fresh
    review_id = _own_review(gov, reviewer_id=gov.reviewer_id)
    before = _stored(gov, review_id)
    with open_session("reviewer_a", gov.app_url, tool="test") as s:
        values = s.review(review_id)
        values["status"] = spelling
        with pytest.raises(AccessDenied, match="lock_review"):
            s.save_review(values, expected_version=int(values["version"]))
    assert _stored(gov, review_id) == before


def test_answers_are_canonicalised_on_entry(governed_fresh):  # noqa: F811
    gov = governed_fresh
    review_id = _own_review(gov, reviewer_id=gov.reviewer_id)
    with open_session("reviewer_a", gov.app_url, tool="test") as s:
        values = s.review(review_id)
        values["status"] = "Draft"
        values["sex"] = "FEMALE" if values.get("sex") in ("female", None) else "MALE"
        # a submitted review goes back to draft only on purpose (withdraw=True)
        s.save_review(values, expected_version=int(values["version"]), withdraw=True)
        saved = s.review(review_id)
    assert saved["status"] == "draft"
    assert saved["sex"] in ("female", "male")


def test_a_reviewer_cannot_second_stage_their_own_first_stage(governed_fresh):  # noqa: F811
    gov = governed_fresh
    first = _own_review(gov, reviewer_id=gov.reviewer_id)
    with open_session("reviewer_a", gov.app_url, tool="test") as s:
        values = {k: v for k, v in s.review(first).items() if k != "version"}
        second = {**values, "review_id": f"{first}-S2", "review_stage": "second",
                  "second_review_of": first, "status": "submitted",
                  "avoidability_score": 4, "avoidability_scale": "rcp"}
        with pytest.raises(AccessDenied, match="another reviewer"):
            s.save_review(second)
    assert _stored(gov, f"{first}-S2") is None
    # A lead saving it under the same reviewer reference is refused just the same.
    with open_session("lead_a", gov.app_url, tool="test") as s:
        with pytest.raises(AccessDenied, match="another reviewer"):
            s.save_review({**second, "reviewer_id": gov.reviewer_id})
        # ... and under another reviewer it is an ordinary second-stage review.
        saved_id, _ = s.save_review({**second, "reviewer_id": gov.other_reviewer_id})
    assert saved_id == f"{first}-S2"


def test_a_taken_review_id_reveals_nothing_about_its_holder(governed_fresh):  # noqa: F811
    gov = governed_fresh
    engine = store.get_engine(gov.owner_url)
    try:
        with engine.connect() as conn:
            theirs = store.load_reviews(conn, organisation_codes=[gov.org_b]).iloc[0]
    finally:
        engine.dispose()
    before = _stored(gov, theirs["review_id"])
    with open_session("lead_a", gov.app_url, tool="test") as s:
        values = {k: (None if k in ("review_id",) else v) for k, v in theirs.items()
                  if k not in ("version", "nation", "region")}
        values.update(review_id=theirs["review_id"], organisation_code=gov.org_a,
                      reviewer_id=gov.reviewer_id, status="draft")
        with pytest.raises(AccessDenied) as refused:
            s.save_review(values)
    # The id is the caller's own input: echoing it reveals nothing; the rest must not.
    message = str(refused.value).replace(str(theirs["review_id"]), "<id>")
    assert "already in use" in message
    for secret in (gov.org_b, str(before[2]), "saved by", "version"):
        assert secret not in message
    assert _stored(gov, theirs["review_id"]) == before


def test_a_second_stage_draft_can_be_finished_by_its_reviewer(governed_fresh):  # noqa: F811
    """Saving a second-stage draft takes the first-stage review off the queue; its reviewer
    must still be able to read it, finish the draft and submit it (found by the entry form's
    tests). Nobody else gains anything by it."""
    from dashboard_store import first_stage_values

    gov = governed_fresh
    first = {**first_stage_values("CASE-2S", overall=1), "review_id": "R-2S-FIRST",
             "death_month": "2021-08", "review_date": "2021-10-01"}
    with open_session("lead_a", gov.app_url, tool="test") as lead:
        lead.save_review({**first, "reviewer_id": gov.other_reviewer_id})
    second = {**first, "review_id": "R-2S-SECOND", "review_stage": "second",
              "second_review_of": "R-2S-FIRST", "status": "draft",
              "avoidability_score": 3, "avoidability_scale": "rcp"}
    with open_session("reviewer_a", gov.app_url, tool="test") as s:
        assert "R-2S-FIRST" in set(s.second_stage_queue()["review_id"])
        s.save_review(second)
        assert "R-2S-FIRST" not in set(s.second_stage_queue()["review_id"])
        draft = s.review("R-2S-SECOND")
        assert s.review("R-2S-FIRST")["reviewer_id"] == gov.other_reviewer_id
        s.save_review({**second, "status": "submitted"},
                      expected_version=int(draft["version"]))
    assert _stored(gov, "R-2S-SECOND")[0] == "submitted"
