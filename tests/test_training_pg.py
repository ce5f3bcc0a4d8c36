"""Training data through each person's own PostgreSQL role: the database keeps the scope too.

Uses the person-role store of ``test_pg_boundary`` (each person logs in as their own role, a
member of ``sjr_person``); runs only when ``SJR_TEST_POSTGRES_URL`` is set. Revision
``0009_training``: the directory and the cases are every person's to read, the programme team's
to write; training records and calibration answers are a reviewer's own, a lead's
organisation's, the programme team's all.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import psycopg
import pytest
from test_pg_boundary import POSTGRES_URL, pg  # noqa: F401  (pg: the person-role store)

from data_access import open_session, training
from data_access.training import RoundSpec

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set"),
]

TODAY = dt.date.today()
ANSWER = {"status": "submitted", "score_overall": 3, "comments": {"overall": "adequate"}}


def _answer_sql(conn: psycopg.Connection, org: str, reviewer: str) -> None:
    conn.execute("INSERT INTO calibration_answers (answer_id, round_id, case_id, "
                 "organisation_code, reviewer_id, status, score_overall) VALUES "
                 "(md5(random()::text), 'PG-R', 'TC-2026-03', %s, %s, 'draft', 3)",
                 (org, reviewer))


def test_training_rows_are_scoped_by_the_database(pg):  # noqa: F811
    with open_session(None, pg.url_of("p_national"), tool="test") as national:
        national.import_trainers(pd.DataFrame([{
            "trainer_id": "T-PG", "name": "Pat Example (fictional)", "contact": "pat@pg.example",
            "organisation": "Northmoor Hospitals NHS Trust", "region": "London",
            "trained_on": "2020-02-02", "active": "yes"}]))
        national.import_training_cases(training.shipped_cases())
        national.create_calibration_round(RoundSpec(
            "PG-R", "PG round", ("TC-2026-01", "TC-2026-02", "TC-2026-03"),
            TODAY - dt.timedelta(days=1), TODAY + dt.timedelta(days=1),
            ((pg.org_a, pg.reviewer_id), (pg.org_a, "A-OTHER"), (pg.org_b, "B-ONE")), None))
        national.import_training_records(pd.DataFrame([
            {"record_id": "REC-A", "organisation_code": pg.org_a, "reviewer_id": pg.reviewer_id,
             "trainer_id": "T-PG", "trained_on": "2023-03-03", "session": "PG session",
             "refresher_dates": ""},
            {"record_id": "REC-B", "organisation_code": pg.org_b, "reviewer_id": "B-ONE",
             "trainer_id": "T-PG", "trained_on": "2023-03-03", "session": "PG session",
             "refresher_dates": ""}]))
    with open_session(None, pg.url_of("p_reviewer"), tool="test") as reviewer:
        reviewer.save_calibration_answer("PG-R", "TC-2026-01", ANSWER)
        assert list(reviewer.training_records()["record_id"]) == ["REC-A"]
    with open_session(None, pg.url_of("p_lead"), tool="test") as lead:
        lead.save_calibration_answer("PG-R", "TC-2026-01", ANSWER, reviewer_id="A-OTHER")
        assert set(lead.calibration_answers()["reviewer_id"]) == {pg.reviewer_id, "A-OTHER"}
    # Straight SQL as each person's own role: the database answers as the access layer does.
    counts = {}
    for person in ("p_reviewer", "p_lead", "p_national", "p_researcher", "p_admin"):
        with pg.connect(person, autocommit=True) as conn:
            counts[person] = []
            for t in ("calibration_answers", "training_records", "calibration_round_members",
                      "trainers", "training_cases"):
                try:
                    counts[person].append(conn.execute(f"SELECT count(*) FROM {t}"
                                                       ).fetchone()[0])
                except psycopg.errors.InsufficientPrivilege:
                    counts[person].append("denied")
            counts[person] = tuple(counts[person])
    assert counts["p_reviewer"] == (1, 1, 1, 1, 14)
    assert counts["p_lead"] == (2, 1, 2, 1, 14)
    assert counts["p_national"] == (2, 2, 3, 1, 14)
    # no privilege at all where they read no row (0033_reader_group); the directory and the
    # cases' public columns are every person's
    assert counts["p_researcher"] == counts["p_admin"] == ("denied",) * 3 + (1, 14)
    refused = (("p_reviewer", lambda c: _answer_sql(c, pg.org_a, "A-OTHER")),
               ("p_reviewer", lambda c: _answer_sql(c, pg.org_b, "B-ONE")),
               ("p_lead", lambda c: _answer_sql(c, pg.org_b, "B-ONE")),
               ("p_national", lambda c: _answer_sql(c, pg.org_b, "B-ONE")),
               ("p_lead", lambda c: c.execute("UPDATE trainers SET active = false")
                .rowcount or (_ for _ in ()).throw(psycopg.Error("no row changed"))),
               ("p_lead", lambda c: c.execute(
                   "INSERT INTO training_records (record_id, organisation_code, reviewer_id, "
                   "trained_on, session) VALUES ('X', %s, 'B-ONE', now(), 'x')", (pg.org_b,))),
               ("p_researcher", lambda c: c.execute(
                   "INSERT INTO trainers (trainer_id, name, organisation, region) VALUES "
                   "('T-X', 'x', 'x', 'London')")))
    for person, statement in refused:
        with pg.connect(person) as conn:
            with pytest.raises(psycopg.Error):
                with conn.transaction():
                    statement(conn)
    with pg.connect("p_reviewer") as conn:  # their own answer, inside the round
        with conn.transaction(force_rollback=True):
            _answer_sql(conn, pg.org_a, pg.reviewer_id)


def test_references_and_submitted_answers_hold_against_direct_sql(pg):  # noqa: F811
    """Revision 0013_direct_sql: a reviewer's own role reads a case's reference answers only
    after submitting an answer to it, and changes no submitted answer (theirs or, as a lead,
    their organisation's); the access layer reads the references through the same function."""
    with open_session(None, pg.url_of("p_national"), tool="test") as national:
        national.import_training_cases(training.shipped_cases())
        national.create_calibration_round(RoundSpec(
            "PG-R2", "PG round two", ("TC-2026-04", "TC-2026-05"),
            TODAY - dt.timedelta(days=1), TODAY + dt.timedelta(days=1),
            ((pg.org_a, pg.reviewer_id),), None))
    with open_session(None, pg.url_of("p_reviewer"), tool="test") as reviewer:
        reviewer.save_calibration_answer("PG-R2", "TC-2026-04", ANSWER)
        reviewer.save_calibration_answer("PG-R2", "TC-2026-05", {"status": "draft",
                                                                  "score_overall": 2})
        shown = {c.case_id: c.care for c in reviewer.training_cases(
            ["TC-2026-04", "TC-2026-05"], reference=True)}
    assert shown["TC-2026-04"] in ("good", "adequate", "poor") and shown["TC-2026-05"] == ""
    with pg.connect("p_reviewer") as conn:
        for column in ("care", "score_overall", "avoidability_score", "problems", "themes"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                with conn.transaction():
                    conn.execute(f"SELECT {column} FROM training_cases")
        assert conn.execute("SELECT count(*) FROM training_cases").fetchone()[0] == 14
        rows = dict(conn.execute("SELECT case_id, care FROM sjr_training_cases() "
                                 "WHERE case_id IN ('TC-2026-04', 'TC-2026-05')").fetchall())
        assert rows == {"TC-2026-04": shown["TC-2026-04"], "TC-2026-05": None}
        with conn.transaction(force_rollback=True):
            assert conn.execute("UPDATE calibration_answers SET score_overall = 1 "
                                "WHERE round_id = 'PG-R2' AND case_id = 'TC-2026-04'"
                                ).rowcount == 0
            assert conn.execute("DELETE FROM calibration_answers WHERE round_id = 'PG-R2' "
                                "AND case_id = 'TC-2026-04'").rowcount == 0
            assert conn.execute("UPDATE calibration_answers SET score_overall = 1 "
                                "WHERE round_id = 'PG-R2' AND case_id = 'TC-2026-05'"
                                ).rowcount == 1  # a draft is still theirs to change
    with pg.connect("p_lead") as conn:
        rows = dict(conn.execute("SELECT case_id, care FROM sjr_training_cases()").fetchall())
        assert len(rows) == 14 and None not in rows.values()
        with conn.transaction(force_rollback=True):
            assert conn.execute("UPDATE calibration_answers SET status = 'draft' "
                                "WHERE status = 'submitted'").rowcount == 0
    with pg.connect("p_researcher") as conn:
        rows = conn.execute("SELECT care FROM sjr_training_cases()").fetchall()
        assert len(rows) == 14 and {r[0] for r in rows} == {None}  # cases yes, references no


def test_a_throwaway_answer_in_another_round_does_not_show_the_references(pg):  # noqa: F811
    """Revision 0014_calibration_answers. The audit's attack (2026-12-06): with plain SQL a
    reviewer submitted answers to an open round's cases under a round that does not hold them,
    read the panel's references through ``sjr_training_cases()`` and could then copy them into
    the open round. Now the database refuses an answer outside the round's cases, its members
    or its window, and shows references only for an answer in a round holding the case."""
    with open_session(None, pg.url_of("p_national"), tool="test") as national:
        national.import_training_cases(training.shipped_cases())
        national.create_calibration_round(RoundSpec(
            "PG-OLD", "PG old round", ("TC-2026-08",),
            TODAY - dt.timedelta(days=60), TODAY - dt.timedelta(days=30),
            ((pg.org_a, pg.reviewer_id),), None))
        national.create_calibration_round(RoundSpec(
            "PG-NOW", "PG open round", ("TC-2026-09", "TC-2026-10"),
            TODAY - dt.timedelta(days=1), TODAY + dt.timedelta(days=1),
            ((pg.org_a, "A-OTHER"),), None))
        national.create_calibration_round(RoundSpec(
            "PG-LATER", "PG future round", ("TC-2026-11",),
            TODAY + dt.timedelta(days=5), TODAY + dt.timedelta(days=9),
            ((pg.org_a, pg.reviewer_id),), None))

    def answer(conn, round_id, case_id, reviewer=pg.reviewer_id):
        conn.execute("INSERT INTO calibration_answers (answer_id, round_id, case_id, "
                     "organisation_code, reviewer_id, status, score_overall, answered_by) "
                     "VALUES (md5(random()::text), %s, %s, %s, %s, 'submitted', 3, 'someone')",
                     (round_id, case_id, pg.org_a, reviewer))

    refused = {
        "a case the round does not hold": ("PG-OLD", "TC-2026-10", pg.reviewer_id),
        "a round they are not a member of": ("PG-NOW", "TC-2026-10", pg.reviewer_id),
        "a round that has closed": ("PG-OLD", "TC-2026-08", pg.reviewer_id),
        "a round not yet open": ("PG-LATER", "TC-2026-11", pg.reviewer_id),
    }
    with pg.connect("p_reviewer") as conn:
        for why, (round_id, case_id, reviewer) in refused.items():
            with pytest.raises(psycopg.errors.CheckViolation):
                with conn.transaction():
                    answer(conn, round_id, case_id, reviewer)
                pytest.fail(why)
        rows = dict(conn.execute("SELECT case_id, care FROM sjr_training_cases() "
                                 "WHERE case_id IN ('TC-2026-09', 'TC-2026-10')").fetchall())
        assert rows == {"TC-2026-09": None, "TC-2026-10": None}
    # a lead may enter an answer given on paper after the round closed, for a member
    with pg.connect("p_lead") as conn:
        with conn.transaction(force_rollback=True):
            answer(conn, "PG-OLD", "TC-2026-08")
            stamped = conn.execute("SELECT answered_by FROM calibration_answers "
                                   "WHERE round_id = 'PG-OLD'").fetchall()
            assert stamped == [("p_lead",)]  # the database's, not the 'someone' sent
        with pytest.raises(psycopg.errors.CheckViolation):
            with conn.transaction():
                answer(conn, "PG-OLD", "TC-2026-09")  # still only the round's cases
