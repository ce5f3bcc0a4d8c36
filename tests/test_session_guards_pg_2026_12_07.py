"""The session's guards of 2026-12-07 (``test_session_guards_2026_12_07``) as each person's
own PostgreSQL role, where row-level security decides what a session reads.

A reviewer's role reads their own reviews and the open second-stage queue items of their
organisation only: another reviewer's second-stage review is invisible to them, and the
first-stage review it follows leaves their view the moment it is saved. The guards must still
refuse, in words that say why, and two sessions saving at once must not both succeed. Uses the
person-role store of ``test_pg_boundary`` (a second reviewer added); runs only when
``SJR_TEST_POSTGRES_URL`` is set.
"""

from __future__ import annotations

import json
import threading

import pytest
from access_setup import synthetic
from dashboard_store import first_stage_values
from sqlalchemy import create_engine, text
from test_pg_boundary import POSTGRES_URL, pg  # noqa: F401  (pg: the person-role store)

from data_access import AccessDenied, open_session, pg_security, store

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set"),
]

NHS = "943 476 5919"  # a valid NHS number: weights 10..2 give 299, 299 mod 11 = 2, 11 - 2 = 9


@pytest.fixture(scope="module")
def people(pg):  # noqa: F811
    """The store, with a second reviewer person at organisation A; (store, their reviewer id,
    a third reviewer id of organisation A who writes the first-stage reviews)."""
    _orgs, _deaths, reviews = synthetic()
    at_a = reviews[reviews["organisation_code"] == pg.org_a]["reviewer_id"]
    ids = [r for r in at_a.value_counts().index if r != pg.reviewer_id]
    engine = store.get_engine(pg.owner_url)
    try:
        with engine.begin() as conn:
            pg.roles["p_reviewer2"] = pg_security.add_user(
                conn, acting="admin", username="p_reviewer2", role="reviewer",
                organisation_code=pg.org_a, reviewer_id=ids[0], tool="test")
    finally:
        engine.dispose()
    return pg, ids[0], ids[1]


def _owner_rows(st, sql: str, **params) -> list[tuple]:
    engine = create_engine(st.owner_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params).all()]
    finally:
        engine.dispose()


def _seconds_of(st, first_id: str) -> list[tuple]:
    return _owner_rows(st, "SELECT review_id, reviewer_id, status FROM reviews WHERE "
                           "second_review_of = :f AND review_stage = 'second' ORDER BY 1",
                       f=first_id)


def _audit_scopes(st, action: str) -> list[dict]:
    rows = _owner_rows(st, "SELECT scope FROM audit_log WHERE action = :a UNION ALL "
                           "SELECT scope FROM audit_queue WHERE action = :a", a=action)
    return [json.loads(r[0]) for r in rows]


def _first(st, tag: str, reviewer: str) -> dict:
    first = {**first_stage_values(f"PG-{tag}", overall=1), "review_id": f"PG-{tag}-FIRST",
             "death_month": "2021-08", "review_date": "2021-10-01", "reviewer_id": reviewer}
    with open_session(None, st.url_of("p_lead"), tool="test") as lead:
        lead.save_review(first)
    return first


def _second(first: dict, review_id: str, **changes) -> dict:
    values = {k: v for k, v in first.items() if k != "reviewer_id"}
    values.update(review_id=review_id, review_stage="second",
                  second_review_of=first["review_id"], status="draft", avoidability_score=3,
                  avoidability_scale="rcp")
    values.update(changes)
    return values


def test_a_first_stage_review_taken_by_another_reviewer_is_refused_in_plain_words(people):
    """Taken by another reviewer, the first-stage review (and the second-stage review) are
    invisible to this reviewer's role: refused all the same, saying it is not in their queue."""
    st, second_reviewer, third = people
    first = _first(st, "HIDDEN", third)
    with open_session(None, st.url_of("p_reviewer"), tool="test") as mine:
        assert first["review_id"] in set(mine.second_stage_queue()["review_id"])
    with open_session(None, st.url_of("p_reviewer2"), tool="test") as theirs:
        theirs.save_review(_second(first, "PG-HIDDEN-S1"))
    with open_session(None, st.url_of("p_reviewer"), tool="test") as mine:
        assert first["review_id"] not in set(mine.second_stage_queue()["review_id"])
        with pytest.raises(AccessDenied, match="not in the second-stage queue") as refused:
            mine.save_review(_second(first, "PG-HIDDEN-S2", status="submitted"))
    assert "Nothing was saved" in str(refused.value)
    assert _seconds_of(st, first["review_id"]) == [("PG-HIDDEN-S1", second_reviewer, "draft")]
    assert any(s.get("review_id") == "PG-HIDDEN-S2" for s in
               _audit_scopes(st, "save_review.denied"))


def test_the_same_reviewer_and_the_lead_cannot_add_a_second_second_stage_review(people):
    st, _second_reviewer, third = people
    first = _first(st, "AGAIN", third)
    with open_session(None, st.url_of("p_reviewer"), tool="test") as mine:
        mine.save_review(_second(first, "PG-AGAIN-S1"))
        with pytest.raises(AccessDenied, match="already has a second-stage review"):
            mine.save_review(_second(first, "PG-AGAIN-S2", status="submitted"))
    with open_session(None, st.url_of("p_lead"), tool="test") as lead:
        with pytest.raises(AccessDenied, match="already has a second-stage review"):
            lead.save_review({**_second(first, "PG-AGAIN-S3"), "reviewer_id": st.reviewer_id})
    assert [r[0] for r in _seconds_of(st, first["review_id"])] == ["PG-AGAIN-S1"]


@pytest.mark.parametrize("persons", [("p_reviewer", "p_reviewer"), ("p_reviewer", "p_reviewer2"),
                                     ("p_lead", "p_lead")],
                         ids=["two-tabs", "two-reviewers", "lead-twice"])
def test_two_sessions_saving_at_once_make_one_second_stage_review(people, persons):
    st, second_reviewer, third = people
    tag = "RACE-" + "-".join(p[2:5].upper() for p in persons) + persons[1][-1]
    first = _first(st, tag, third)
    start = threading.Barrier(2)
    outcome: dict[str, str] = {}

    def save(person: str, review_id: str) -> None:
        values = _second(first, review_id, status="submitted")
        if person == "p_lead":
            values["reviewer_id"] = second_reviewer if review_id.endswith("1") \
                else st.reviewer_id
        with open_session(None, st.url_of(person), tool="test") as s:
            start.wait()
            try:
                s.save_review(values)
                outcome[review_id] = "saved"
            except AccessDenied as exc:
                outcome[review_id] = str(exc)
            except Exception as exc:  # noqa: BLE001  (shown by the assertion below)
                outcome[review_id] = f"error: {exc!r}"

    threads = [threading.Thread(target=save, args=(person, f"PG-{tag}-S{i}"))
               for i, person in enumerate(persons, start=1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(v == "saved" for v in outcome.values()) == [False, True], outcome
    assert len(_seconds_of(st, first["review_id"])) == 1


def test_a_reviewer_cannot_save_two_first_stage_reviews_of_one_case(people):
    st, second_reviewer, _third = people
    values = {**first_stage_values("PG-TWIN"), "death_month": "2021-08",
              "review_date": "2021-10-01", "status": "draft"}
    with open_session(None, st.url_of("p_reviewer"), tool="test") as mine:
        mine.save_review({**values, "review_id": "PG-TWIN-1"})
        with pytest.raises(AccessDenied, match="already has a first-stage review of case"):
            mine.save_review({**values, "review_id": "PG-TWIN-2", "status": "submitted"})
    with open_session(None, st.url_of("p_reviewer2"), tool="test") as theirs:
        theirs.save_review({**values, "review_id": "PG-TWIN-3"})  # another reviewer: saved
    with open_session(None, st.url_of("p_lead"), tool="test") as lead:
        with pytest.raises(AccessDenied, match="already has a first-stage review of case"):
            lead.save_review({**values, "review_id": "PG-TWIN-4",
                              "reviewer_id": second_reviewer})
    assert sorted(r[0] for r in _owner_rows(st, "SELECT review_id FROM reviews WHERE "
                                                "case_id = 'PG-TWIN'")) == ["PG-TWIN-1",
                                                                            "PG-TWIN-3"]


def test_an_nhs_number_as_review_id_is_not_looked_up_nor_audited(people):
    st, _second_reviewer, _third = people
    with open_session(None, st.url_of("p_reviewer"), tool="test") as mine:
        with pytest.raises(AccessDenied, match="looks like a patient identifier"):
            mine.review(NHS)
        with pytest.raises(AccessDenied, match="looks like a patient identifier"):
            mine.save_review({**first_stage_values("PG-NHS"), "review_id": "PG-NHS-S",
                              "review_stage": "second", "second_review_of": NHS})
    everything = _owner_rows(st, "SELECT scope FROM audit_log UNION ALL "
                                 "SELECT scope FROM audit_queue")
    assert everything
    assert not any(NHS in r[0] or NHS.replace(" ", "") in r[0] for r in everything)
    denied = _audit_scopes(st, "review.denied")
    assert any(str(s.get("review_id", "")).startswith("[withheld") for s in denied)
