"""Connection slots: each person's own role holds at most the store's per-person connection
limit (revision ``0029_person_connection_limit``), tried with plain psycopg as that role.

Without it one person opened connections until the server's ``max_connections`` was used up,
and then nobody else connected (docs/security.md, "Still open", connection slots). Uses the
person-role store of ``test_pg_boundary`` and the backup fixtures of ``test_backup_pg``; runs
only when ``SJR_TEST_POSTGRES_URL`` is set.
"""

from __future__ import annotations

import time

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from test_backup import _audit, _cli
from test_backup_pg import empty_database, pg_demo  # noqa: F401  (fixtures)
from test_pg_boundary import POSTGRES_URL, pg  # noqa: F401  (pg: the person-role store)

from data_access import audit, pg_security, store
from data_access.database import ConnectionLimitError

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set"),
]

DEFAULT = 20
"""The revision's default limit."""


def _limits(url: str) -> dict[str, int]:
    """Each user's role's ``CONNECTION LIMIT`` (``rolconnlimit``; -1 is none)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(text(
                "SELECT u.username, r.rolconnlimit FROM users u JOIN pg_roles r "
                "ON r.rolname = u.db_role")).all())
    finally:
        engine.dispose()


def _set_limit(url: str, limit: int | None) -> None:
    """The owner (the operator) sets the limit; ``None``: back to the default."""
    engine = store.get_engine(url)
    try:
        with engine.begin() as conn:
            if limit is None:
                conn.execute(text("DELETE FROM store_meta "
                                  "WHERE key = 'person_connection_limit'"))
                conn.execute(text("SELECT sjr_person_connection_limit_apply()"))
            else:
                pg_security.set_connection_limit(conn, limit, acting="admin", tool="test")
    finally:
        engine.dispose()


def _until_gone(pg, person: str) -> None:  # noqa: F811
    """Wait until the server has ended every connection of ``person``'s role (a closed
    connection's backend leaves a moment later, and counts until then)."""
    engine = create_engine(pg.owner_url)
    try:
        for _ in range(100):
            with engine.connect() as conn:
                if not conn.execute(text("SELECT count(*) FROM pg_stat_activity "
                                         "WHERE usename = :r"),
                                    {"r": pg.roles[person]}).scalar_one():
                    return
            time.sleep(0.05)
    finally:
        engine.dispose()
    raise AssertionError(f"{person}'s connections did not end")


def test_a_person_past_the_limit_is_refused_while_another_still_connects(pg):  # noqa: F811
    """The (limit + 1)-th connection of one person's role is refused by the server, whatever
    client opens it; another person still connects. Through the access layer the refusal says
    it is the per-person limit the administrator sets, and how many."""
    _set_limit(pg.owner_url, 3)
    held: list[psycopg.Connection] = []
    try:
        _until_gone(pg, "p_researcher")
        held += [pg.connect("p_researcher") for _ in range(3)]
        with pytest.raises(psycopg.OperationalError, match="too many connections for role"):
            held.append(pg.connect("p_researcher"))
        with pg.connect("p_lead") as other:  # another person is not held up by it
            assert other.execute("SELECT session_user").fetchone()[0] == pg.roles["p_lead"]
        # the access layer: a process that connected once knows the limit it was given
        engine = store.get_engine(pg.url_of("p_researcher"))
        try:
            held.pop().close()
            _wait_for_slot(engine)
            with engine.connect() as conn:  # the third slot, noted by the engine
                conn.execute(text("SELECT 1"))
                with pytest.raises(ConnectionLimitError) as refused:
                    engine.connect()
        finally:
            engine.dispose()
        message = str(refused.value)
        assert pg.roles["p_researcher"] in message
        assert "at most 3 connections" in message and "administrator" in message
        # a process whose first connection is refused cannot ask the server: it says so
        fresh = store.get_engine(pg.url_of("p_researcher"))
        held.append(_connect_when_free(pg, "p_researcher"))
        try:
            with pytest.raises(ConnectionLimitError, match="per-person limit"):
                fresh.connect()
        finally:
            fresh.dispose()
    finally:
        for conn in held:
            conn.close()
        _set_limit(pg.owner_url, None)


def _connect_when_free(pg, person: str) -> psycopg.Connection:  # noqa: F811
    """A connection as ``person`` once a slot is free (a closed connection's backend leaves a
    moment after the close)."""
    for _ in range(100):
        try:
            return pg.connect(person)
        except psycopg.OperationalError as exc:
            if "too many connections" not in str(exc):
                raise
            time.sleep(0.05)
    raise AssertionError("no slot freed")


def _wait_for_slot(engine) -> None:
    """Wait until a closed connection's backend has left (its slot frees a moment later)."""
    for _ in range(100):
        try:
            engine.connect().close()
            return
        except ConnectionLimitError:
            time.sleep(0.05)
    raise AssertionError("the slot did not free")


def test_the_limit_is_the_owners_or_an_administrators_and_existing_roles_follow(
        pg, tmp_path):  # noqa: F811
    """Every person's role carries the store's limit (the default here); the owner or an
    administrator (``sjr users connection-limit N``) changes it and every existing role follows
    at once, audited; a person cannot lift their own (neither ALTER ROLE, the function nor
    ``store_meta``); the owner's and a service's roles are never limited."""
    people = ("p_admin", "p_lead", "p_reviewer", "p_national", "p_researcher", "p_gone")
    owner = create_engine(pg.owner_url)
    service = f"sjr_svc_{pg.roles['p_lead'][-8:]}"
    try:
        with owner.begin() as conn:
            conn.execute(text(f'CREATE ROLE "{service}" LOGIN IN ROLE sjr_service'))
        assert {p: _limits(pg.owner_url)[p] for p in people} == dict.fromkeys(people, DEFAULT)
        _set_limit(pg.owner_url, 7)
        assert {p: _limits(pg.owner_url)[p] for p in people} == dict.fromkeys(people, 7)
        # an administrator person, through their own role
        result = _cli(["users", "connection-limit", "5", "--db", pg.url_of("p_admin")],
                      "p_admin", tmp_path)
        assert result.exit_code == 0, result.output
        assert "at most 5 connections" in result.output
        assert {p: _limits(pg.owner_url)[p] for p in people} == dict.fromkeys(people, 5)
        shown = _cli(["users", "connection-limit", "--db", pg.url_of("p_lead")], "p_lead",
                     tmp_path)
        assert shown.exit_code == 0 and "at most 5 connections" in shown.output, shown.output
        refused = _cli(["users", "connection-limit", "50", "--db", pg.url_of("p_lead")],
                       "p_lead", tmp_path)
        assert refused.exit_code == 1 and "refused" in refused.output, refused.output
        with pg.connect("p_lead") as conn:  # nor directly
            for statement in (f'ALTER ROLE "{pg.roles["p_lead"]}" CONNECTION LIMIT -1',
                              "SELECT sjr_connection_limit_set('p_admin', 100, 'sql')",
                              "SELECT sjr_person_connection_limit_apply()",
                              "UPDATE store_meta SET value = '100'"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
                conn.rollback()
        with pg.connect("p_admin") as conn:
            with pytest.raises(psycopg.errors.RaiseException, match="from 1 to"):
                conn.execute("SELECT sjr_connection_limit_set(NULL, 0, 'sql')")
        assert _limits(pg.owner_url)["p_lead"] == 5
        with owner.connect() as conn:
            unlimited = dict(conn.execute(text(
                "SELECT rolname, rolconnlimit FROM pg_roles WHERE rolname IN "
                "(current_user, :s)"), {"s": service}).all())
            entries = conn.execute(text(
                "SELECT username, action, scope FROM audit_log WHERE action LIKE "
                "'users.connection_limit%' ORDER BY id")).all()
            assert audit.verify(conn).ok
        assert set(unlimited.values()) == {-1} and len(unlimited) == 2
        entries = entries[-3:]  # the first test's entry before them
        assert [(u, a) for u, a, _ in entries] == [
            ("admin", "users.connection_limit"), ("p_admin", "users.connection_limit"),
            ("p_lead", "users.connection_limit.denied")]
        assert '"connection_limit": 5' in entries[1][2] and '"previous": 7' in entries[1][2]
        # a person registered now gets the limit from the start
        with owner.begin() as conn:
            pg_security.add_user(conn, acting="admin", username="p_new", role="reviewer",
                                 organisation_code=pg.org_a, reviewer_id="NEW-1", tool="test")
        assert _limits(pg.owner_url)["p_new"] == 5
    finally:
        with owner.begin() as conn:
            conn.execute(text(f'DROP ROLE IF EXISTS "{service}"'))
        owner.dispose()
        _set_limit(pg.owner_url, None)


def test_a_restored_stores_roles_carry_its_limit(pg_demo, empty_database, tmp_path):  # noqa: F811
    """A restore recreates the persons' roles a new server lacks with the backup's limit, and
    gives it to a role the server kept."""
    _set_limit(pg_demo, 4)
    out = tmp_path / "b.tar"
    assert _cli(["backup", out, "--db", pg_demo], "demo-admin", tmp_path).exit_code == 0
    source = create_engine(pg_demo)
    try:
        with source.connect() as conn:
            roles = dict(conn.execute(text(
                "SELECT username, db_role FROM users WHERE db_role IS NOT NULL")).all())
    finally:
        source.dispose()
    kept = roles.pop("demo-lead")
    admin = create_engine(make_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for role in roles.values():  # a new server has none of them
                conn.execute(text(f'DROP OWNED BY "{role}"'))
                conn.execute(text(f'DROP ROLE "{role}"'))
            conn.execute(text(f'ALTER ROLE "{kept}" CONNECTION LIMIT -1'))
    finally:
        admin.dispose()
    result = _cli(["restore", out, "--db", empty_database], "demo-admin", tmp_path)
    assert result.exit_code == 0, result.output
    limits = _limits(empty_database)
    assert set(roles) < set(limits)
    assert limits == dict.fromkeys(limits, 4)
    assert _audit(empty_database).iloc[-1]["action"] == "restore"


def test_upgrading_a_store_limits_its_existing_persons(postgres_database):
    """A store at revision 0028 with persons (their roles unlimited) is upgraded: every
    person's role gets the limit (a limit already in ``store_meta`` is kept); a downgrade
    takes it away again."""
    from alembic import command

    from data_access.database import _alembic_config

    def migrate(revision: str, down: bool = False) -> None:
        engine = store.get_engine(postgres_database)
        try:
            with engine.begin() as conn:
                config = _alembic_config()
                config.attributes["connection"] = conn
                (command.downgrade if down else command.upgrade)(config, revision)
        finally:
            engine.dispose()

    migrate("0028_owner_hashes")
    engine = store.get_engine(postgres_database)
    try:
        with engine.begin() as conn:
            for name, role in (("u_admin", "administrator"), ("u_research", "researcher")):
                pg_security.add_user(conn, acting="operator", username=name, role=role,
                                     organisation_code=None, reviewer_id=None, tool="test")
    finally:
        engine.dispose()
    assert _limits(postgres_database) == {"u_admin": -1, "u_research": -1}
    migrate("head")
    assert _limits(postgres_database) == {"u_admin": DEFAULT, "u_research": DEFAULT}
    migrate("0028_owner_hashes", down=True)
    assert _limits(postgres_database) == {"u_admin": -1, "u_research": -1}
    engine = store.get_engine(postgres_database)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO store_meta VALUES ('person_connection_limit', '9')"))
    finally:
        engine.dispose()
    store.init_db(postgres_database)
    assert _limits(postgres_database) == {"u_admin": 9, "u_research": 9}
