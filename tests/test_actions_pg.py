"""The action register through each person's own PostgreSQL role: the database keeps the scope.

Uses the person-role store of ``test_pg_boundary`` (each person logs in as their own role, a
member of ``sjr_person``); runs only when ``SJR_TEST_POSTGRES_URL`` is set.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from test_pg_boundary import POSTGRES_URL, pg  # noqa: F401  (pg: the person-role store)

from data_access import open_session
from data_access.roles import AccessDenied

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set"),
]


def _insert(conn: psycopg.Connection, org: str, who: str) -> None:
    conn.execute("INSERT INTO actions (id, organisation_code, description, owner_role, status, "
                 "agreed_on, recorded_by, recorded_at, updated_by, updated_at, version) VALUES "
                 "(%s, %s, 'x', 'Matron', 'open', '2021-01-01', %s, now(), %s, now(), 1)",
                 (uuid.uuid4().hex, org, who, who))


def test_persons_read_and_write_actions_within_their_scope(pg):  # noqa: F811
    with open_session(None, pg.url_of("p_lead"), tool="test") as lead:
        mine = lead.record_action("Sepsis screening at triage", owner_role="Sepsis lead",
                                  agreed_on="2021-06-01", themes=["sepsis"],
                                  measure="theme:sepsis", change_month="2021-07")
        assert lead.update_action(mine, expected_version=1, status="in_progress") == 2
        assert list(lead.actions()["id"]) == [mine]
    with open_session(None, pg.url_of("p_national"), tool="test") as national:
        assert list(national.actions()["themes"]) == ["sepsis"]
        with pytest.raises(AccessDenied):
            national.record_action("x", owner_role="Matron", agreed_on="2021-01-01")
    for person in ("p_reviewer", "p_researcher"):
        with open_session(None, pg.url_of(person), tool="test") as s:
            with pytest.raises(AccessDenied):
                s.actions()
    # The database refuses what the access layer would: straight SQL as each person's role.
    for person, org in (("p_lead", pg.org_b), ("p_national", pg.org_a),
                        ("p_reviewer", pg.org_a), ("p_researcher", pg.org_a)):
        with pg.connect(person) as conn:
            with pytest.raises(psycopg.Error):
                with conn.transaction():
                    _insert(conn, org, person)
            if person == "p_lead":
                continue
            with pytest.raises(psycopg.Error):  # nor link a theme to the lead's action
                with conn.transaction():
                    conn.execute("INSERT INTO action_themes (organisation_code, action_id, "
                                 "theme) VALUES (%s, %s, 'falls')", (pg.org_a, mine))
    for person, seen in (("p_reviewer", 0), ("p_national", 1)):
        with pg.connect(person) as conn:
            assert conn.execute("SELECT count(*) FROM actions").fetchone()[0] == seen, person
            assert conn.execute("SELECT count(*) FROM action_themes").fetchone()[0] == seen
    for person in ("p_researcher", "p_admin"):  # no privilege at all (0033_reader_group)
        with pg.connect(person) as conn:
            for table in ("actions", "action_themes", "action_reviews"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                    conn.execute(f"SELECT count(*) FROM {table}")
    with pg.connect("p_lead") as conn:
        with conn.transaction(force_rollback=True):
            _insert(conn, pg.org_a, "p_lead")  # their own organisation's
            assert conn.execute("UPDATE actions SET organisation_code = %s",
                                (pg.org_a,)).rowcount >= 1
        with pytest.raises(psycopg.Error):  # nor move one to another organisation
            with conn.transaction():
                conn.execute("UPDATE actions SET organisation_code = %s", (pg.org_b,))
