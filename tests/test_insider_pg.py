"""The second insider audit's open findings (2026-12-06), tried as each person's own role.

Uses the person-role store of ``test_pg_boundary``; every attack is typed with plain psycopg,
as a person with their own credentials would; runs only when ``SJR_TEST_POSTGRES_URL`` is set.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import pandas as pd
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
            # once more after the lead's call: the loop may have slept through the ending
            staller.execute("SELECT 1")
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
    ends that transaction, audited with the table and the mode. (Since revision
    0033_reader_group a researcher's role holds no privilege on the table and its ``LOCK
    TABLE`` is refused; the programme team's role, which reads it, still may.)"""
    monkeypatch.setenv("SJR_LOCK_WAIT_SECONDS", "3")
    with pg.connect("p_researcher") as refused, \
            pytest.raises(psycopg.errors.InsufficientPrivilege):
        refused.execute("LOCK TABLE reviews IN ACCESS EXCLUSIVE MODE")
    locker = pg.connect("p_national")
    try:
        locker.execute("LOCK TABLE reviews IN ACCESS EXCLUSIVE MODE")
        with open_session(None, pg.url_of("p_lead"), tool="test") as lead:
            assert len(lead.reviews()) > 0
        with pytest.raises(psycopg.OperationalError):
            locker.execute("SELECT 1")
    finally:
        locker.close()
    ended = _ended(pg, "audit.lock_ended")
    assert any(e["ended"] == "p_national" and e["table"] == "reviews"
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
        conn.execute("INSERT INTO theme_codes (id, organisation_code, review_id, theme, "
                     "codebook_version, coded_by, coded_at) VALUES ('forged-coder', %s, %s, "
                     "'patient_flow', '2026.1', 'p_lead', '2001-01-01')",
                     (pg.org_a, review_id))
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
        link = ("INSERT INTO action_reviews (organisation_code, action_id, review_id) "
                "VALUES (%s, 'insider-action', %s)")
        conn.execute(link, (pg.org_a, mine))
        refusals = set()
        # under their action's organisation, or naming the review's own
        for review_id in (theirs, "no-such-review"):
            for organisation in (pg.org_a, pg.org_b):
                with pytest.raises(psycopg.Error) as refused:
                    with conn.transaction():
                        conn.execute(link, (organisation, review_id))
                refusals.add(type(refused.value))
        assert refusals == {psycopg.errors.InsufficientPrivilege}  # the same either way
        conn.rollback()


def _review_state(pg, review_id: str) -> tuple:  # noqa: F811
    owner = create_engine(pg.owner_url)
    with owner.connect() as conn:
        row = conn.execute(text("SELECT version, updated_by, content_hash IS NULL FROM reviews "
                                "WHERE review_id = :r"), {"r": review_id}).one()
    owner.dispose()
    return tuple(row)


def test_a_no_op_update_first_does_not_hide_a_child_row_rescoring(pg):  # noqa: F811
    """Second audit, finding 1: a lead touched a colleague's submitted review with an update
    that changes only the hash (``SET content_hash = content_hash``: no new version, but the
    row is rewritten by the lead's transaction), then rescored its phases; revision 0015 took
    the review as already saved in that transaction, so it kept its version, saver and hash.
    The child-row write now gives it one new version in the lead's name and clears the hash."""
    review_id = _submitted_review(pg, pg.org_a, pg.reviewer_id)
    version, _, _ = _review_state(pg, review_id)
    with pg.connect("p_lead") as conn:
        for noop in ("content_hash = content_hash", "status = status"):
            conn.execute(f"UPDATE reviews SET {noop} WHERE review_id = %s", (review_id,))
        assert conn.execute("UPDATE phase_assessments SET score = 1 WHERE review_id = %s",
                            (review_id,)).rowcount > 0
        conn.execute("DELETE FROM problems WHERE review_id = %s", (review_id,))
        conn.commit()
    assert _review_state(pg, review_id) == (version + 1, "p_lead", True)


def _alive(conn: psycopg.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
        return True
    except psycopg.OperationalError:
        return False


def _take_chain(pg, who: str, *, savepoint: bool):  # noqa: F811
    """``who`` holds the chain head: as the access layer's read path takes it, or in a
    savepoint released at once (the audit's way of hiding the holder's transaction id)."""
    if not savepoint:
        engine = create_engine(pg.url_of(who))
        conn = engine.connect()
        conn.begin()
        assert audit._pg_lock_for_read(conn)
        return engine, conn
    conn = pg.connect(who)
    conn.execute("SAVEPOINT s")
    conn.execute("SELECT sjr_audit_lock()")
    conn.execute("RELEASE SAVEPOINT s")
    return None, conn


def test_the_chains_holder_is_ended_and_a_bystander_is_not(pg):  # noqa: F811
    """Second audit, finding 2: while the chain head was held by a lock taken in a released
    savepoint (as the access layer's read path took it), the next caller took every backend
    with a transaction id for a holder and ended a lead idle in a transaction of their own.
    The read path takes the head in no savepoint now, so its holder is found exactly; a holder
    hidden in a savepoint on purpose is looked for only among transactions begun no later."""
    _meta(pg, audit_stall_seconds=1, audit_hold_seconds=600)
    before = Counter(e["ended"] for e in _ended(pg, "audit.stall_ended"))
    try:
        for savepoint in (False, True):
            # a transaction of their own, begun before the hold (in the savepoint case such a
            # one is still a candidate: docs/security.md)
            early = pg.connect("p_lead")
            if not savepoint:
                early.execute("UPDATE actions SET owner_role = owner_role")
                early.execute("SELECT txid_current()")
            engine, holder = _take_chain(pg, "p_reviewer", savepoint=savepoint)
            late = pg.connect("p_lead")  # and one begun after it
            late.execute("SELECT txid_current()")
            time.sleep(1.5)
            with pg.connect("p_researcher") as caller:
                caller.execute("SET lock_timeout = '5s'")
                caller.execute("SELECT sjr_audit_lock()")
                caller.commit()  # with the audit of what it ended
            if savepoint:
                assert _alive(late) and not _alive(holder)
            else:
                assert _alive(early) and _alive(late)
                with pytest.raises(Exception):  # noqa: B017 - the holder's backend is gone
                    holder.execute(text("SELECT 1"))
                engine.dispose()
            for conn in (early, late, holder):
                if isinstance(conn, psycopg.Connection):
                    conn.close()
    finally:
        _meta(pg, audit_stall_seconds=None, audit_hold_seconds=None)
    ended = Counter(e["ended"] for e in _ended(pg, "audit.stall_ended")) - before
    assert set(ended) == {"p_reviewer"}, ended


def test_a_persons_share_update_exclusive_lock_is_ended(pg, monkeypatch):  # noqa: F811
    """Second audit, finding 3: a researcher typed ``LOCK TABLE reviews IN SHARE UPDATE
    EXCLUSIVE MODE`` (blocking VACUUM, ANALYZE and every migration, behind which all readers
    queue); revision 0017 ended only SHARE and stronger. The next audited operation ends it.
    (A researcher's role may no longer lock it at all, 0033_reader_group; the programme team's
    role is the locker here.)"""
    monkeypatch.setenv("SJR_LOCK_WAIT_SECONDS", "3")
    with pg.connect("p_researcher") as refused, \
            pytest.raises(psycopg.errors.InsufficientPrivilege):
        refused.execute("LOCK TABLE phase_assessments IN SHARE UPDATE EXCLUSIVE MODE")
    locker = pg.connect("p_national")
    try:
        locker.execute("LOCK TABLE phase_assessments IN SHARE UPDATE EXCLUSIVE MODE")
        with open_session(None, pg.url_of("p_lead"), tool="test") as lead:
            assert len(lead.reviews()) > 0
        assert not _alive(locker)
    finally:
        locker.close()
    ended = _ended(pg, "audit.lock_ended")
    assert any(e["ended"] == "p_national" and e["table"] == "phase_assessments"
               and e["mode"] == "ShareUpdateExclusiveLock" for e in ended), ended


def _refusal(conn: psycopg.Connection, sql: str, params: tuple) -> str:
    try:
        with conn.transaction():
            conn.execute(sql, params)
    except psycopg.Error as exc:
        return f"{exc.sqlstate} {exc.diag.message_primary}"
    return "inserted"


def test_a_refused_code_or_answer_tells_nothing_of_another_organisation(pg):  # noqa: F811
    """Second audit, finding 4: the BEFORE INSERT triggers of theme codes and calibration
    answers run as the owner before row-level security: a theme code on another
    organisation's review was refused one way if it existed and was submitted, another way if
    not; an answer for another organisation's reviewer said whether they were in the round.
    Both now refuse the same way whether the row exists or not."""
    owner = create_engine(pg.owner_url)
    with owner.begin() as conn:
        submitted = conn.execute(text(
            "SELECT min(review_id) FROM reviews WHERE organisation_code = :o AND "
            "status = 'submitted'"), {"o": pg.org_b}).scalar_one()
        member = conn.execute(text(
            "SELECT reviewer_id FROM reviewers WHERE organisation_code = :o ORDER BY 1"),
            {"o": pg.org_b}).scalar()
        round_id, case_id = "insider-round", "insider-case"
        conn.execute(text("INSERT INTO calibration_rounds (round_id, name, organisation_code, "
                          "case_ids, opens_on, closes_on, created_by, created_at) VALUES "
                          "(:r, 'x', NULL, :c, current_date - 1, current_date + 1, 'owner', "
                          "now())"), {"r": round_id, "c": json.dumps([case_id])})
        conn.execute(text("INSERT INTO calibration_round_members VALUES (:r, :o, :v)"),
                     {"r": round_id, "o": pg.org_b, "v": member})
    owner.dispose()
    assert submitted and member
    code = ("INSERT INTO theme_codes (id, organisation_code, review_id, theme, "
            "codebook_version, coded_by, coded_at) VALUES (md5(random()::text), %s, %s, "
            "'patient_flow', '2026.1', 'x', now())")
    for who in ("p_researcher", "p_reviewer", "p_lead"):
        for organisation in (pg.org_a, pg.org_b):  # their own, or the review's
            with pg.connect(who) as conn:
                answers = {_refusal(conn, code, (organisation, rid))
                           for rid in (submitted, "no-such-review")}
                assert len(answers) == 1 and "inserted" not in answers, (who, answers)
    answer = ("INSERT INTO calibration_answers (answer_id, round_id, case_id, organisation_code, "
              "reviewer_id, status) VALUES (md5(random()::text), %s, %s, %s, %s, 'draft')")
    for who in ("p_researcher", "p_reviewer", "p_lead"):
        with pg.connect(who) as conn:
            answers = {_refusal(conn, answer, (round_id, case_id, pg.org_b, rv))
                       for rv in (member, "no-such-reviewer")}
            assert len(answers) == 1 and "inserted" not in answers, (who, answers)


def test_a_person_cannot_write_the_databases_own_audit_entries(pg):  # noqa: F811
    """Second audit, finding 7: a researcher and a reviewer wrote entries of the shape the
    database gives what it ends (``audit.stall_ended``/``audit.lock_ended``, tool
    ``database``), claiming a named colleague's session was ended. Both functions refuse
    them now; a person's own entries still go in."""
    before = [_ended(pg, a) for a in ("audit.lock_ended", "audit.stall_ended")]
    scope = json.dumps({"ended": "p_lead", "table": "reviews", "mode": "AccessExclusiveLock"})
    for who in ("p_researcher", "p_reviewer", "p_lead"):
        with pg.connect(who) as conn:
            for function in ("sjr_audit_enqueue", "sjr_audit_append"):
                for action, tool in (("audit.lock_ended", "database"),
                                     ("audit.stall_ended", "sql"), ("reviews.list", "database")):
                    with pytest.raises(psycopg.errors.InsufficientPrivilege):
                        with conn.transaction():
                            conn.execute(f"SELECT {function}('x', NULL, %s, %s, NULL, NULL, %s)",
                                         (action, scope, tool))
            conn.execute("SELECT sjr_audit_enqueue('x', NULL, 'audit.show', '{}', NULL, NULL, "
                         "'sql')")
            conn.commit()
    assert [_ended(pg, a) for a in ("audit.lock_ended", "audit.stall_ended")] == before


def test_who_recorded_and_when_are_the_databases(pg):  # noqa: F811
    """Second audit, finding 5: a lead credited an action, a training record and a calibration
    round to the programme team, dated years back, with a version of their choosing. The
    database now sets who and when for a person's role, and an action's version."""
    with pg.connect("p_lead") as conn:
        conn.execute("INSERT INTO actions (id, organisation_code, description, owner_role, "
                     "status, agreed_on, recorded_by, recorded_at, updated_by, updated_at, "
                     "version) VALUES ('forged-action', %s, 'x', 'Matron', 'open', "
                     "'2020-01-01', 'p_programme', '2001-01-01', 'p_admin', '2001-01-02', 7)",
                     (pg.org_a,))
        conn.execute("UPDATE actions SET status = 'dropped', updated_by = 'p_programme', "
                     "updated_at = '2001-01-03', version = 1 WHERE id = 'forged-action'")
        conn.execute("INSERT INTO training_records (record_id, organisation_code, reviewer_id, "
                     "trained_on, session, recorded_by, recorded_at) VALUES ('forged-record', "
                     "%s, %s, '2020-01-01', 'x', 'p_programme', '2001-01-01')",
                     (pg.org_a, pg.reviewer_id))
        conn.execute("INSERT INTO calibration_rounds (round_id, name, organisation_code, "
                     "case_ids, opens_on, closes_on, created_by, created_at) VALUES "
                     "('forged-round', 'x', %s, '[]', '2020-01-01', '2020-02-01', "
                     "'p_programme', '2001-01-01')", (pg.org_a,))
        year = dt_year()
        assert conn.execute(
            "SELECT recorded_by, extract(year FROM recorded_at)::int, updated_by, "
            "extract(year FROM updated_at)::int, version FROM actions "
            "WHERE id = 'forged-action'").fetchone() == ("p_lead", year, "p_lead", year, 2)
        assert conn.execute(
            "SELECT recorded_by, extract(year FROM recorded_at)::int FROM training_records "
            "WHERE record_id = 'forged-record'").fetchone() == ("p_lead", year)
        assert conn.execute(
            "SELECT created_by, extract(year FROM created_at)::int FROM calibration_rounds "
            "WHERE round_id = 'forged-round'").fetchone() == ("p_lead", year)
        conn.rollback()


def test_a_persons_new_review_is_dated_now(pg):  # noqa: F811
    """Second audit, finding 6: a reviewer filed a review dated years back (``created_at``
    and ``updated_at`` of a person's insert were what the caller wrote). A new review by a
    person is now dated by the database's clock, within a few minutes' skew."""
    review_id = _submitted_review(pg, pg.org_a, pg.reviewer_id)
    with pg.connect("p_reviewer") as conn:
        columns = [c for (c,) in conn.execute(
            "SELECT column_name::text FROM information_schema.columns WHERE table_name = "
            "'reviews' AND table_schema = current_schema() AND column_name NOT IN ('review_id', "
            "'created_at', 'updated_at', 'updated_by', 'version', 'status', 'content_hash', "
            "'content_hash_version', 'second_review_of', 'review_stage')")]
        listed = ", ".join(columns)
        copy = (f"INSERT INTO reviews (review_id, created_at, updated_at, updated_by, version, "
                f"status, review_stage, {listed}) SELECT %s, %s, %s, 'p_reviewer', 1, 'draft', "
                f"'first', {listed} FROM reviews WHERE review_id = %s")
        with pytest.raises(psycopg.errors.CheckViolation):
            with conn.transaction():
                conn.execute(copy, ("insider-backdated", "2021-03-01", "2021-03-02", review_id))
        with conn.transaction():  # dated now: taken
            conn.execute(copy.replace("%s, %s, %s, 'p_reviewer'", "%s, now(), now(), "
                                      "'p_reviewer'"), ("insider-dated-now", review_id))
        conn.rollback()



def _hashed_review(pg) -> tuple[str, int, int]:  # noqa: F811
    """A submitted first-stage review of the lead's organisation whose hash (recorded by the
    owner's import) still vouches for it: ``(review_id, content_hash, version)``."""
    owner = create_engine(pg.owner_url)
    with owner.connect() as conn:
        row = conn.execute(text(
            "SELECT r.review_id, r.content_hash, r.version FROM reviews r "
            "JOIN phase_assessments p ON p.review_id = r.review_id AND p.phase = 'overall' "
            "WHERE r.organisation_code = :o AND r.status = 'submitted' "
            "AND r.review_stage = 'first' AND p.score IS NOT NULL "
            "AND r.content_hash IS NOT NULL AND r.content_hash_version = r.version "
            "ORDER BY r.review_id DESC LIMIT 1"), {"o": pg.org_a}).one()
    owner.dispose()
    return row[0], row[1], row[2]


def test_a_person_cannot_write_a_content_hash_back(pg, tmp_path):  # noqa: F811
    """Second audit, left open as minor: a lead rescored a review through its phases (0015
    and 0021 gave it a new version and cleared its hash), then, in a later statement, wrote
    the old hash back (``SET content_hash = <old>, content_hash_version = version``), so a
    corrective re-import of the original file took the tampered review for unchanged. The
    database cannot recompute a hash, so a person's role records none: it may leave a hash
    as it is or clear it, never set one (nor give a new review one); a person's own import
    stores none and compares the reviews no owner's hash vouches for."""
    from sjrlib import io

    review_id, old_hash, version = _hashed_review(pg)
    with open_session(None, pg.url_of("p_lead"), tool="test") as lead:
        original = lead.export("reviews")
    original = original[original["review_id"] == review_id].reset_index(drop=True)
    path = tmp_path / "original.csv"
    io.write_reviews(original, path)
    rescore = ("UPDATE phase_assessments SET score = CASE WHEN score = 1 THEN 2 ELSE 1 END "
               "WHERE review_id = %s AND phase = 'overall'")
    write_back = ("UPDATE reviews SET content_hash = %s, content_hash_version = version "
                  "WHERE review_id = %s")
    with pg.connect("p_lead") as conn:
        assert conn.execute(rescore, (review_id,)).rowcount == 1
        conn.commit()
        assert conn.execute("SELECT version, content_hash FROM reviews WHERE review_id = %s",
                            (review_id,)).fetchone() == (version + 1, None)
        with pytest.raises(psycopg.errors.CheckViolation):  # the audit's later statement
            with conn.transaction():
                conn.execute(write_back, (old_hash, review_id))
        with pytest.raises(psycopg.errors.CheckViolation):  # nor with a rescoring
            with conn.transaction():
                conn.execute(rescore, (review_id,))
                conn.execute(write_back, (old_hash, review_id))
        conn.commit()
    # another review, changed in its own columns: its version goes up and the owner's hash
    # stays but no longer vouches; it may not be made to vouch again
    other, _hash, other_version = _hashed_review(pg)
    with pg.connect("p_lead") as conn:
        conn.execute("UPDATE reviews SET cause_of_death = coalesce(cause_of_death, '') || "
                     "' (amended)' WHERE review_id = %s", (other,))
        with pytest.raises(psycopg.errors.CheckViolation):
            with conn.transaction():
                conn.execute("UPDATE reviews SET content_hash_version = version "
                             "WHERE review_id = %s", (other,))
        # leaving the hash as it is, or clearing it, is taken (and is no new version)
        for keep in ("content_hash = content_hash", "content_hash = NULL"):
            assert conn.execute(f"UPDATE reviews SET {keep} WHERE review_id = %s "
                                "RETURNING version", (other,)).fetchone() == (other_version + 1,)
        # a new review of the person's own comes without a hash
        conn.execute("CREATE TEMP TABLE t AS SELECT * FROM reviews WHERE review_id = %s",
                     (other,))
        conn.execute("UPDATE t SET review_id = 'insider-hashed', version = 1, "
                     "updated_by = 'p_lead', created_at = now(), updated_at = now(), "
                     "content_hash = %s, content_hash_version = 1", (old_hash,))
        with pytest.raises(psycopg.errors.CheckViolation):
            with conn.transaction():
                conn.execute("INSERT INTO reviews SELECT * FROM t")
        conn.execute("UPDATE t SET content_hash = NULL, content_hash_version = NULL")
        assert conn.execute("INSERT INTO reviews SELECT * FROM t").rowcount == 1
        conn.rollback()
    # a corrective re-import of the original file, through the lead's own role as `sjr
    # import --update` runs, finds the rescored review changed and puts the original back
    with open_session(None, pg.url_of("p_lead"), tool="test") as lead:
        result = lead.import_file("reviews", path, update=True)
        assert (result.inserted, result.updated, result.unchanged) == (0, 1, 0)
        again = lead.import_file("reviews", path, update=True)
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, 1)
        restored = lead.export("reviews")
    restored = restored[restored["review_id"] == review_id].reset_index(drop=True)
    pd.testing.assert_frame_equal(restored, original)
    owner = create_engine(pg.owner_url)
    with owner.connect() as conn:  # the lead's import recorded no hash
        assert conn.execute(text("SELECT version, content_hash FROM reviews WHERE "
                                 "review_id = :r"), {"r": review_id}).one() == (version + 2, None)
    owner.dispose()
