"""Theme codes through each person's own PostgreSQL role: the database keeps the scope too.

Uses the person-role store of ``test_pg_boundary`` (each person logs in as their own role, a
member of ``sjr_person``); runs only when ``SJR_TEST_POSTGRES_URL`` is set.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sqlalchemy import create_engine, text
from test_pg_boundary import POSTGRES_URL, pg  # noqa: F401  (pg: the person-role store)

from data_access import open_session
from data_access.roles import AccessDenied

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set"),
]


def _review(pg, org: str, *, reviewer: str | None = None, other: bool = False) -> str:  # noqa: F811
    engine = create_engine(pg.owner_url)
    try:
        with engine.connect() as conn:
            sql = ("SELECT min(review_id) FROM reviews WHERE organisation_code = :o AND status = "
                   "'submitted'")
            if reviewer is not None:
                sql += " AND reviewer_id " + ("<>" if other else "=") + " :r"
            return conn.execute(text(sql), {"o": org, "r": reviewer}).scalar_one()
    finally:
        engine.dispose()


def _insert(conn: psycopg.Connection, org: str, review_id: str, coder: str) -> None:
    conn.execute("INSERT INTO theme_codes (id, organisation_code, review_id, theme, "
                 "codebook_version, coded_by, coded_at) VALUES (%s, %s, %s, 'sepsis', '2026.1', "
                 "%s, now())", (uuid.uuid4().hex, org, review_id, coder))


def test_persons_code_and_read_within_their_scope(pg):  # noqa: F811
    own_a = _review(pg, pg.org_a)
    mine = _review(pg, pg.org_a, reviewer=pg.reviewer_id)
    theirs = _review(pg, pg.org_a, reviewer=pg.reviewer_id, other=True)
    in_b = _review(pg, pg.org_b)
    with open_session(None, pg.url_of("p_lead"), tool="test") as lead:
        lead.code_review(own_a, "deterioration", from_suggestion=True)
        with pytest.raises(AccessDenied):
            lead.code_review(in_b, "deterioration")
    with open_session(None, pg.url_of("p_reviewer"), tool="test") as reviewer:
        reviewer.code_review(mine, "medication", phase="admission")
        with pytest.raises(AccessDenied):
            reviewer.code_review(theirs, "medication")
    with open_session(None, pg.url_of("p_national"), tool="test") as national:
        assert {"deterioration", "medication"} <= set(national.theme_codes()["theme"])
    # The database refuses what the access layer would: straight SQL as each person's role.
    # (each under the review's own organisation, as its key needs)
    for person, org, review_id in (("p_lead", pg.org_b, in_b), ("p_reviewer", pg.org_a, theirs),
                                   ("p_national", pg.org_a, own_a),
                                   ("p_researcher", pg.org_a, own_a)):
        with pg.connect(person) as conn:
            with pytest.raises(psycopg.Error, match="row-level security|permission denied|"
                               "not a submitted or locked review you may code"):
                with conn.transaction():
                    _insert(conn, org, review_id, person)
    for person in ("p_researcher", "p_admin"):  # no privilege at all (0033_reader_group)
        with pg.connect(person) as conn, \
                pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM theme_codes")
    with pg.connect("p_lead") as conn:
        assert conn.execute("SELECT count(*) FROM theme_codes t JOIN reviews r USING "
                            "(review_id) WHERE r.organisation_code <> %s",
                            (pg.org_a,)).fetchone()[0] == 0
        with conn.transaction(force_rollback=True):
            assert conn.execute("DELETE FROM theme_codes").rowcount >= 1  # their organisation's
        with pytest.raises(psycopg.Error):
            with conn.transaction():
                conn.execute("INSERT INTO codebook_versions (version, codebook, imported_at) "
                             "VALUES ('2098.1', 'x', now())")
