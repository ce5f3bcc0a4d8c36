"""The second insider audit's open findings (2026-12-06), tried as each person's own role.

Uses the person-role store of ``test_pg_boundary``; every attack is typed with plain psycopg,
as a person with their own credentials would; runs only when ``SJR_TEST_POSTGRES_URL`` is set.
"""

from __future__ import annotations

import json
import threading
import time

import psycopg
import pytest
from sqlalchemy import create_engine, text
from test_pg_boundary import POSTGRES_URL, pg  # noqa: F401  (pg: the person-role store)

from data_access import audit, open_session

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set"),
]

MARK = 0x534A52
"""Revision 0013's advisory mark: any role could take it."""


def _meta(pg, **values: int | None) -> None:  # noqa: F811
    owner = create_engine(pg.owner_url)
    with owner.begin() as conn:
        for key, value in values.items():
            conn.execute(text("DELETE FROM store_meta WHERE key = :k"), {"k": key})
            if value is not None:
                conn.execute(text("INSERT INTO store_meta VALUES (:k, :v)"),
                             {"k": key, "v": str(value)})
    owner.dispose()


def _ended(pg, action: str) -> list[dict]:  # noqa: F811
    owner = create_engine(pg.owner_url)
    with owner.connect() as conn:
        scopes = conn.execute(text(
            "SELECT scope FROM audit_log WHERE action = :a UNION ALL "
            "SELECT scope FROM audit_queue WHERE action = :a"), {"a": action}).scalars().all()
        assert audit.verify(conn).ok
    owner.dispose()
    return [json.loads(scope) for scope in scopes]


def test_a_session_level_mark_does_not_stall_the_audit_chain(pg, monkeypatch):  # noqa: F811
    """Finding 1: a researcher took revision 0013's advisory marks with a session-level
    ``pg_advisory_lock`` (outside any transaction, so never 'idle in transaction'): every
    audited read and write then waited on the mark and failed. The chain has no mark now."""
    monkeypatch.setenv("SJR_LOCK_WAIT_SECONDS", "3")
    with pg.connect("p_researcher", autocommit=True) as staller:
        staller.execute("SELECT pg_advisory_lock(%s, 1), pg_advisory_lock(%s, 2)", (MARK, MARK))
        with open_session(None, pg.url_of("p_lead"), tool="test") as lead:
            assert len(lead.reviews()) > 0
        staller.execute("SELECT pg_advisory_unlock_all()")


def test_a_busy_transaction_on_the_chain_is_ended_by_its_age(pg, monkeypatch):  # noqa: F811
    """Finding 1: a researcher held both heads of the chain and kept the transaction busy with
    a statement every fraction of a second, so it was never idle long (revision 0013 looked at
    ``state_change``). A transaction older than ``audit_hold_seconds`` is now ended by the next
    caller, and the audit log names whose it was."""
    monkeypatch.setenv("SJR_LOCK_WAIT_SECONDS", "3")
    _meta(pg, audit_stall_seconds=1, audit_hold_seconds=2)
    stop = threading.Event()
    outcome: list[str] = []
    staller = pg.connect("p_researcher")

    def keep_busy() -> None:
        try:
            while not stop.is_set():
                staller.execute("SELECT 1")
                time.sleep(0.2)
            outcome.append("alive")
        except psycopg.OperationalError:
            outcome.append("ended")

    try:
        staller.execute("SELECT sjr_audit_lock()")
        staller.execute("SELECT sjr_audit_enqueue('x', NULL, 'stall', '{}', NULL, NULL, 'sql')")
        busy = threading.Thread(target=keep_busy)
        busy.start()
        time.sleep(2.5)
        try:
            with open_session(None, pg.url_of("p_lead"), tool="test") as lead:
                assert len(lead.reviews()) > 0
        finally:
            stop.set()
            busy.join()
        assert outcome == ["ended"]
        ended = _ended(pg, "audit.stall_ended")
        assert ended and {e["ended"] for e in ended} == {"p_researcher"}
    finally:
        staller.close()
        _meta(pg, audit_stall_seconds=None, audit_hold_seconds=None)


def test_a_persons_lock_table_is_ended_by_the_next_audited_operation(pg, monkeypatch):  # noqa: F811
    """Finding 3: a researcher (whose role reads no review row, but holds the table's write
    privilege) typed ``LOCK TABLE reviews IN ACCESS EXCLUSIVE MODE`` and left the transaction
    open: every read and write of reviews waited and failed. The next audited operation now
    ends that transaction, audited with the table and the mode."""
    monkeypatch.setenv("SJR_LOCK_WAIT_SECONDS", "3")
    locker = pg.connect("p_researcher")
    try:
        locker.execute("LOCK TABLE reviews IN ACCESS EXCLUSIVE MODE")
        with open_session(None, pg.url_of("p_lead"), tool="test") as lead:
            assert len(lead.reviews()) > 0
        with pytest.raises(psycopg.OperationalError):
            locker.execute("SELECT 1")
    finally:
        locker.close()
    ended = _ended(pg, "audit.lock_ended")
    assert any(e["ended"] == "p_researcher" and e["table"] == "reviews"
               and e["mode"] == "AccessExclusiveLock" for e in ended), ended


def test_a_person_or_service_of_another_store_is_not_admitted(pg):  # noqa: F811
    """Finding 2: ``sjr_person`` and ``sjr_service`` are cluster-wide, and every store granted
    them ``CONNECT``: a person of one store connected to another store on the server, and a
    service role of one store called ``sjr_user_add`` in another, acting for its
    administrator. Each store now admits only its own persons' roles and the services the
    operator granted it, and a service acts for an administrator only where it was granted."""
    import uuid

    from access_setup import _create_pg_database, _drop_pg_database, person_roles
    from sqlalchemy.engine import make_url

    from data_access import pg_security, store

    other_url = _create_pg_database()
    service = f"sjr_svc_{uuid.uuid4().hex[:8]}"
    owner = create_engine(pg.owner_url, isolation_level="AUTOCOMMIT")
    here, there = make_url(pg.owner_url).database, make_url(other_url).database
    try:
        store.init_db(other_url)
        other = store.get_engine(other_url)
        with other.begin() as conn:
            pg_security.add_user(conn, acting="operator", username=f"admin-{there}",
                                 role="administrator", organisation_code=None,
                                 reviewer_id=None, tool="test")
        other.dispose()
        with owner.connect() as conn:  # a service of this store, as the operator makes it
            conn.execute(text(f'CREATE ROLE "{service}" LOGIN IN ROLE sjr_service'))
            conn.execute(text(f'GRANT CONNECT ON DATABASE "{here}" TO "{service}"'))
            conn.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{service}"'))
        url = make_url(pg.owner_url)
        for role in (pg.roles["p_lead"], pg.roles["p_admin"], service):
            with pytest.raises(psycopg.OperationalError, match="permission denied"):
                psycopg.connect(host=url.host, port=url.port or 5432, dbname=there,
                                user=role).close()
        with psycopg.connect(host=url.host, port=url.port or 5432, dbname=here,
                             user=service) as conn:  # its own store admits it
            assert conn.execute("SELECT 1").fetchone() == (1,)
        # even where an operator left PostgreSQL's default CONNECT for PUBLIC, a service of
        # another store does not act for this store's administrator
        admin = create_engine(other_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'GRANT CONNECT ON DATABASE "{there}" TO PUBLIC'))
        admin.dispose()
        with psycopg.connect(host=url.host, port=url.port or 5432, dbname=there,
                             user=service) as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT sjr_user_add(%s, 'intruder', 'administrator', NULL, NULL, "
                             "'sjr_intruder_x', 'sql')", (f"admin-{there}",))
    finally:
        roles = person_roles(other_url)
        _drop_pg_database(other_url)
        with owner.connect() as conn:
            for role in (*roles, "sjr_intruder_x"):
                conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
            if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"),
                            {"r": service}).first():
                conn.execute(text(f'DROP OWNED BY "{service}"'))
                conn.execute(text(f'DROP ROLE "{service}"'))
        owner.dispose()


def _submitted_review(pg, org: str, reviewer: str) -> str:  # noqa: F811
    owner = create_engine(pg.owner_url)
    with owner.connect() as conn:
        found = conn.execute(text(
            "SELECT min(review_id) FROM reviews WHERE organisation_code = :o AND "
            "reviewer_id = :r AND status = 'submitted'"), {"o": org, "r": reviewer}).scalar_one()
    owner.dispose()
    assert found
    return found


def test_a_theme_code_is_the_coders_and_only_they_delete_it(pg):  # noqa: F811
    """Finding 4: a reviewer inserted theme codes naming their lead as the coder, dated last
    year, and deleted the code their lead gave their review. ``coded_by``/``coded_at`` are now
    the database's, and a reviewer deletes only a code they gave themselves."""
    review_id = _submitted_review(pg, pg.org_a, pg.reviewer_id)
    with open_session(None, pg.url_of("p_lead"), tool="test") as lead:
        leads_code = lead.code_review(review_id, "communication_team")
    with pg.connect("p_reviewer") as conn:
        conn.execute("INSERT INTO theme_codes (id, review_id, theme, codebook_version, "
                     "coded_by, coded_at) VALUES ('forged-coder', %s, 'patient_flow', "
                     "'2026.1', 'p_lead', '2001-01-01')", (review_id,))
        coder, year = conn.execute("SELECT coded_by, extract(year FROM coded_at) "
                                   "FROM theme_codes WHERE id = 'forged-coder'").fetchone()
        assert (coder, int(year)) == ("p_reviewer", dt_year())
        assert conn.execute("DELETE FROM theme_codes WHERE id = %s",
                            (leads_code,)).rowcount == 0  # the lead's code stays
        assert conn.execute("DELETE FROM theme_codes WHERE id = 'forged-coder'").rowcount == 1
        conn.rollback()
    with pg.connect("p_lead") as conn:  # the lead's own code is still theirs to remove
        assert conn.execute("SELECT coded_by FROM theme_codes WHERE id = %s",
                            (leads_code,)).fetchone() == ("p_lead",)
        assert conn.execute("DELETE FROM theme_codes WHERE id = %s", (leads_code,)).rowcount == 1
        conn.commit()


def dt_year() -> int:
    import datetime as dt

    return dt.datetime.now(dt.UTC).year


def test_an_action_links_only_its_own_organisations_reviews(pg):  # noqa: F811
    """Finding 5: a lead linked another organisation's review id to their own action through
    ``action_reviews``; accepted, it both tied that review to their learning and told them the
    id existed. A review the person cannot see is now refused like one that does not exist."""
    owner = create_engine(pg.owner_url)
    with owner.connect() as conn:
        theirs = conn.execute(text("SELECT min(review_id) FROM reviews WHERE "
                                   "organisation_code = :o"), {"o": pg.org_b}).scalar_one()
        mine = conn.execute(text("SELECT min(review_id) FROM reviews WHERE "
                                 "organisation_code = :o"), {"o": pg.org_a}).scalar_one()
    owner.dispose()
    with pg.connect("p_lead") as conn:
        conn.execute("INSERT INTO actions (id, organisation_code, description, owner_role, "
                     "status, agreed_on, recorded_by, recorded_at, updated_by, updated_at, "
                     "version) VALUES ('insider-action', %s, 'x', 'Matron', 'open', "
                     "'2021-01-01', 'p_lead', now(), 'p_lead', now(), 1)", (pg.org_a,))
        conn.execute("INSERT INTO action_reviews VALUES ('insider-action', %s)", (mine,))
        refusals = set()
        for review_id in (theirs, "no-such-review"):
            with pytest.raises(psycopg.Error) as refused:
                with conn.transaction():
                    conn.execute("INSERT INTO action_reviews VALUES ('insider-action', %s)",
                                 (review_id,))
            refusals.add(type(refused.value))
        assert refusals == {psycopg.errors.InsufficientPrivilege}  # the same either way
        conn.rollback()
