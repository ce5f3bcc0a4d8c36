"""The insider audit of 2026-12-09, tried as each person's own role with plain psycopg.

Uses the person-role store of ``test_pg_boundary`` (a store of its own for this module); every
attack is typed as a person with their own credentials would, with no project code in between;
runs only when ``SJR_TEST_POSTGRES_URL`` is set. Each finding is closed by revision
``0030_queue_and_import_stamps`` (``docs/security.md``).
"""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import create_engine, text
from test_pg_boundary import POSTGRES_URL, _copy_review, _fails, pg  # noqa: F401  (pg: the store)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set"),
]

REFUSED = "second_review_of must name"


def _owner_one(pg, sql: str, **params):  # noqa: F811
    owner = create_engine(pg.owner_url)
    with owner.connect() as conn:
        row = conn.execute(text(sql), params).first()
    owner.dispose()
    return row


def _not_in_queue(pg) -> tuple[str, str]:  # noqa: F811
    """A submitted first-stage review of another reviewer at the reviewer's organisation that
    is not in their second-stage queue (overall care 3-5, no second stage): ``(id, case)``."""
    row = _owner_one(pg, """
        SELECT r.review_id, r.case_id FROM reviews r
         WHERE r.organisation_code = :org AND r.review_stage = 'first'
           AND r.status IN ('submitted', 'locked') AND r.reviewer_id <> :me
           AND EXISTS (SELECT 1 FROM phase_assessments p WHERE p.review_id = r.review_id
                       AND p.phase = 'overall' AND p.score IN (3, 4, 5))
           AND NOT EXISTS (SELECT 1 FROM reviews s WHERE s.second_review_of = r.review_id)
         ORDER BY r.review_id LIMIT 1""", org=pg.org_a, me=pg.reviewer_id)
    assert row is not None
    return row[0], row[1]


def _second_staged(pg) -> tuple[str, str]:  # noqa: F811
    """A poor-care first-stage review at the organisation that another reviewer (neither the
    person nor its author) has second-staged already: ``(id, case)``."""
    row = _owner_one(pg, """
        SELECT f.review_id, f.case_id FROM reviews f JOIN reviews s
            ON s.second_review_of = f.review_id AND s.review_stage = 'second'
         WHERE f.organisation_code = :org AND f.review_stage = 'first'
           AND f.reviewer_id <> :me AND s.reviewer_id <> :me
         ORDER BY f.review_id LIMIT 1""", org=pg.org_a, me=pg.reviewer_id)
    assert row is not None
    return row[0], row[1]


def _own_review(conn: psycopg.Connection, reviewer_id: str) -> str:
    """A first-stage review of the reviewer's own that they may still change."""
    return conn.execute("SELECT review_id FROM reviews WHERE reviewer_id = %s "
                        "AND review_stage = 'first' AND status <> 'locked' "
                        "AND NOT EXISTS (SELECT 1 FROM reviews s "
                        "                WHERE s.second_review_of = reviews.review_id) "
                        "ORDER BY review_id LIMIT 1", (reviewer_id,)).fetchone()[0]


def _second_stage_of(conn: psycopg.Connection, source: str, first: str, case: str,
                     review_id: str) -> None:
    """Temp table ``t`` holds a new second-stage draft by the person, of ``first``."""
    conn.execute("DROP TABLE IF EXISTS t")
    _copy_review(conn, source, review_id=review_id, review_stage="second", status="draft",
                 case_id=case, second_review_of=first)
    conn.execute("UPDATE t SET created_at = now(), updated_at = now()")


def test_a_reviewer_second_stages_only_a_review_of_their_queue(pg):  # noqa: F811
    """A reviewer's role inserted a second-stage review of a colleague's review that is not in
    their queue (overall care 3-5, or second-staged already by another reviewer), which the
    access layer refuses; and, trying case ids and rolling back, learnt which colleagues'
    reviews (ids they cannot read) exist and of which case: the right case went in, a wrong one
    was refused. Now both are refused alike; their queue items still go in, once."""
    hidden, case = _not_in_queue(pg)
    taken, taken_case = _second_staged(pg)
    with pg.connect("p_reviewer") as conn:
        assert conn.execute("SELECT count(*) FROM reviews WHERE review_id = %s",
                            (hidden,)).fetchone()[0] == 0  # not theirs to read
        mine = _own_review(conn, pg.reviewer_id)
        messages = set()
        for named, as_case in ((hidden, case), (hidden, "C-NOT-IT"), (taken, taken_case)):
            _second_stage_of(conn, mine, named, as_case, "R-H80-2ND")
            messages.add(_fails(conn, "INSERT INTO reviews SELECT * FROM t", match=REFUSED))
        assert len(messages) == 1  # the right case reads as a wrong one
        # an item of their queue goes in, and only once
        queued, queued_case = conn.execute(
            "SELECT review_id, case_id FROM reviews WHERE reviewer_id <> %s "
            "AND review_stage = 'first' ORDER BY review_id LIMIT 1",
            (pg.reviewer_id,)).fetchone()
        with conn.transaction(force_rollback=True):
            _second_stage_of(conn, mine, queued, queued_case, "R-H80-Q1")
            assert conn.execute("INSERT INTO reviews SELECT * FROM t").rowcount == 1
            _second_stage_of(conn, mine, queued, queued_case, "R-H80-Q2")
            _fails(conn, "INSERT INTO reviews SELECT * FROM t", match=REFUSED)
        # turning a first-stage review of their own into a second stage of a hidden one
        with conn.transaction(force_rollback=True):
            _fails(conn, "UPDATE reviews SET review_stage = 'second', second_review_of = %s, "
                   "case_id = %s WHERE review_id = %s", (hidden, case, mine), match=REFUSED)
    # control: a lead, who reads every review of the organisation, is checked as before
    with pg.connect("p_lead") as conn, conn.transaction(force_rollback=True):
        other = _owner_one(pg, "SELECT reviewer_id FROM reviews WHERE organisation_code = :o "
                               "AND reviewer_id <> :me AND review_id <> :h "
                               "AND reviewer_id <> (SELECT reviewer_id FROM reviews "
                               "WHERE review_id = :h) LIMIT 1",
                           o=pg.org_a, me=pg.reviewer_id, h=hidden)[0]
        _second_stage_of(conn, hidden, hidden, case, "R-H80-LEAD")
        conn.execute("UPDATE t SET reviewer_id = %s", (other,))
        assert conn.execute("INSERT INTO reviews SELECT * FROM t").rowcount == 1


def test_a_reviewers_second_stage_stays_theirs_to_edit_after_the_queue(pg):  # noqa: F811
    """Control: a reviewer's second-stage review keeps being saved after its first stage left
    the queue (a lead rescored it), as the access layer allows: an update that leaves
    ``second_review_of`` as it is is not checked against the queue again."""
    with pg.connect("p_reviewer") as conn:
        mine = _own_review(conn, pg.reviewer_id)
        queued, queued_case = conn.execute(
            "SELECT review_id, case_id FROM reviews WHERE reviewer_id <> %s "
            "AND review_stage = 'first' AND status = 'submitted' ORDER BY review_id LIMIT 1",
            (pg.reviewer_id,)).fetchone()
        _second_stage_of(conn, mine, queued, queued_case, "R-H80-KEEP")
        conn.execute("INSERT INTO reviews SELECT * FROM t")
        conn.commit()
    score = _owner_one(pg, "SELECT score FROM phase_assessments WHERE review_id = :r "
                           "AND phase = 'overall'", r=queued)[0]
    try:
        with pg.connect("p_lead") as conn:
            assert conn.execute("UPDATE phase_assessments SET score = 4 WHERE review_id = %s "
                                "AND phase = 'overall'", (queued,)).rowcount == 1
            conn.commit()
        with pg.connect("p_reviewer") as conn:
            assert conn.execute("SELECT sjr_queue_item(%s)", (queued,)).fetchone()[0] is False
            assert conn.execute("UPDATE reviews SET status = 'submitted' WHERE review_id = %s",
                                ("R-H80-KEEP",)).rowcount == 1
            conn.commit()
    finally:
        with pg.connect("p_lead") as conn:
            conn.execute("DELETE FROM reviews WHERE review_id = 'R-H80-KEEP'")
            conn.execute("UPDATE phase_assessments SET score = %s WHERE review_id = %s "
                         "AND phase = 'overall'", (score, queued))
            conn.commit()


def test_who_imported_a_codebook_trainer_or_case_is_the_databases(pg):  # noqa: F811
    """The programme team's role inserted a codebook dated 2999 and credited to an
    administrator: it stayed "the latest" (``ORDER BY imported_at DESC``) whatever was
    imported after it, and no person may delete it; trainers and training cases were credited
    and dated as the caller wrote. Now the database sets who and when, as for actions."""
    latest = ("SELECT version FROM codebook_versions "
              "ORDER BY imported_at DESC, version DESC LIMIT 1")
    with pg.connect("p_national") as conn, conn.transaction(force_rollback=True):
        body = conn.execute("SELECT codebook FROM codebook_versions WHERE version = '2026.1'"
                            ).fetchone()[0]
        conn.execute("INSERT INTO codebook_versions VALUES ('2098.1', %s, 'p_admin', "
                     "'2999-01-01')", (body,))
        assert conn.execute("SELECT imported_by, imported_at <= now() FROM codebook_versions "
                            "WHERE version = '2098.1'").fetchone() == ("p_national", True)
        conn.execute("INSERT INTO codebook_versions VALUES ('2099.1', %s, NULL, now())",
                     (body,))
        assert conn.execute(latest).fetchone()[0] == "2099.1"
        conn.execute("INSERT INTO trainers (trainer_id, name, organisation, region, "
                     "updated_by, updated_at) VALUES ('T-H80', 'A Trainer (fictional)', "
                     "'Somewhere', 'North', 'p_admin', '2001-01-01')")
        conn.execute("UPDATE trainers SET region = 'South', updated_by = 'p_admin', "
                     "updated_at = '2001-01-01' WHERE trainer_id = 'T-H80'")
        assert conn.execute("SELECT updated_by, updated_at > now() - interval '1 hour' "
                            "FROM trainers WHERE trainer_id = 'T-H80'"
                            ).fetchone() == ("p_national", True)
        conn.execute("INSERT INTO training_cases (case_id, title, summary, care, score_overall, "
                     "panel, case_set, imported_by, imported_at) VALUES ('TC-H80', 'A case', "
                     "'Fictional.', 'good', 4, 'Panel', 'set', 'p_admin', '2001-01-01')")
        assert conn.execute("SELECT imported_by, imported_at > now() - interval '1 hour' "
                            "FROM training_cases WHERE case_id = 'TC-H80'"
                            ).fetchone() == ("p_national", True)
    # control: the owner (the operator's import) writes its own values
    owner = create_engine(pg.owner_url)
    with owner.connect() as conn:
        with conn.begin() as tx:
            conn.execute(text("INSERT INTO trainers (trainer_id, name, organisation, region, "
                              "updated_by, updated_at) VALUES ('T-H80-O', 'B (fictional)', "
                              "'Somewhere', 'North', 'operator', '2001-01-01')"))
            assert conn.execute(text("SELECT updated_by FROM trainers "
                                     "WHERE trainer_id = 'T-H80-O'")).scalar_one() == "operator"
            tx.rollback()
    owner.dispose()


def test_a_lead_enrols_reviewers_only_in_their_own_organisations_rounds(pg):  # noqa: F811
    """The lead of one organisation enrolled their reviewers in another organisation's open
    calibration round (and could then enter answers there, which the programme team reads with
    that round's). A lead's member now names a round of the lead's organisation; the control
    round of their own still takes one."""
    owner = create_engine(pg.owner_url)
    with owner.begin() as conn:
        for round_id, org in (("R-H80-B", pg.org_b), ("R-H80-A", pg.org_a)):
            conn.execute(text("INSERT INTO calibration_rounds (round_id, name, "
                              "organisation_code, case_ids, opens_on, closes_on) VALUES "
                              "(:r, 'Round', :o, '[]', current_date, current_date + 30)"),
                         {"r": round_id, "o": org})
    try:
        member = "INSERT INTO calibration_round_members VALUES (%s, %s, %s)"
        with pg.connect("p_lead") as conn:
            _fails(conn, member, ("R-H80-B", pg.org_a, pg.reviewer_id),
                   match="row-level security")
            with conn.transaction(force_rollback=True):
                assert conn.execute(member, ("R-H80-A", pg.org_a, pg.reviewer_id)
                                    ).rowcount == 1  # control: their own round
                _fails(conn, "UPDATE calibration_round_members SET round_id = 'R-H80-B' "
                       "WHERE round_id = 'R-H80-A'", match="row-level security")
    finally:
        with owner.begin() as conn:
            conn.execute(text("DELETE FROM calibration_rounds WHERE round_id LIKE 'R-H80-%'"))
        owner.dispose()


def test_a_round_holding_a_submitted_answer_is_not_deleted(pg):  # noqa: F811
    """A submitted calibration answer is final for persons (revision 0013: they delete only
    drafts), but a lead deleted their organisation's round and the foreign key's cascade, run
    as the owner, took the reviewers' submitted answers with it. Such a round is now kept; a
    round holding drafts only still goes (control)."""
    owner = create_engine(pg.owner_url)
    with owner.begin() as conn:
        conn.execute(text("INSERT INTO training_cases (case_id, title, summary, care, "
                          "score_overall, panel, case_set) VALUES ('TC-H80-K', 'A case', "
                          "'Fictional.', 'good', 4, 'Panel', 'set')"))
        for round_id in ("R-H80-K", "R-H80-D"):
            conn.execute(text("INSERT INTO calibration_rounds (round_id, name, "
                              "organisation_code, case_ids, opens_on, closes_on) VALUES "
                              "(:r, 'Round', :o, '[\"TC-H80-K\"]', current_date, "
                              "current_date + 30)"), {"r": round_id, "o": pg.org_a})
            conn.execute(text("INSERT INTO calibration_round_members VALUES (:r, :o, :v)"),
                         {"r": round_id, "o": pg.org_a, "v": pg.reviewer_id})
    answer = ("INSERT INTO calibration_answers (answer_id, round_id, case_id, "
              "organisation_code, reviewer_id, status, score_overall) "
              "VALUES (%s, %s, 'TC-H80-K', %s, %s, %s, 4)")
    try:
        with pg.connect("p_reviewer") as conn:
            conn.execute(answer, ("h80-k", "R-H80-K", pg.org_a, pg.reviewer_id, "submitted"))
            conn.execute(answer, ("h80-d", "R-H80-D", pg.org_a, pg.reviewer_id, "draft"))
            conn.commit()
        with pg.connect("p_lead") as conn:
            _fails(conn, "DELETE FROM calibration_rounds WHERE round_id = 'R-H80-K'",
                   match="submitted answers")
            assert conn.execute("DELETE FROM calibration_rounds WHERE round_id = 'R-H80-D'"
                                ).rowcount == 1  # control: drafts only
            conn.commit()
        with owner.connect() as conn:
            assert conn.execute(text("SELECT answer_id FROM calibration_answers "
                                     "WHERE answer_id LIKE 'h80-%'")).scalars().all() == ["h80-k"]
    finally:
        with owner.begin() as conn:
            conn.execute(text("DELETE FROM calibration_rounds WHERE round_id LIKE 'R-H80-%'"))
            conn.execute(text("DELETE FROM training_cases WHERE case_id = 'TC-H80-K'"))
        owner.dispose()
