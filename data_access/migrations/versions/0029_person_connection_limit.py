"""each person's database role holds at most ``person_connection_limit`` connections (PostgreSQL)

Revision ID: 0029_person_connection_limit
Revises: 0028_owner_hashes

A person's own role (``sjr_user_add``, ``sjr_user_login``, a restore) had no connection limit,
so one person could open connections until the server's ``max_connections`` was used up, and
then nobody else could connect: not the other persons, not the hub's service, not the
administrator (the insider audit of 2026-12-06, left open as "connection slots"). PostgreSQL
counts a role's connections itself and refuses the next one past ``CONNECTION LIMIT`` with
``too many connections for role``, whatever client the person runs, so the limit belongs on
the role.

- ``store_meta.person_connection_limit`` is the limit (read, as ``review_clock_skew_seconds``
  and ``audit_hold_seconds`` are, with a default when the row is absent:
  :data:`DEFAULT_LIMIT`) through ``sjr_person_connection_limit()``, which anyone of the store
  may call (``store_meta`` is theirs to read);
- ``sjr_user_add`` and ``sjr_user_login`` (revision ``0018_store_connect``'s, otherwise
  unchanged) create the role with ``CONNECTION LIMIT`` that number;
- ``sjr_person_connection_limit_apply()`` gives it to every person's role of this store (the
  roles ``users.db_role`` names that are members of ``sjr_person``; never a superuser or the
  owner), run here for the existing roles and by a restore (owner only);
- ``sjr_connection_limit_set(acting, limit, tool)``, called as ``sjr_user_add`` is (an enabled
  administrator person, the owner, or a service acting for an enabled administrator), stores a
  new limit (1 to the server's ``max_connections``), applies it and audits
  ``users.connection_limit``: ``sjr users connection-limit N``.

A person cannot lift their own limit: ``ALTER ROLE ... CONNECTION LIMIT`` needs ``CREATEROLE``
(the owner's), and ``store_meta`` is read-only to them. An open connection is never ended by a
lower limit; the next one past it is refused. PostgreSQL counts a role's connections to every
database of the server, so a role shared by two stores on one server (a restore beside its
source) has the limit of whichever store set it last.

The default, 20: what a person legitimately holds at once. Each dashboard page's kernel holds
one connection of its own (its SQLAlchemy pool keeps one open between requests; a page's calls
are one after another). Measured with a lead's own role on ``sjr serve`` (2026-12-06, a
4-organisation synthetic store; connections counted in ``pg_stat_activity``): the four
dashboards open hold 4 connections under JupyterHub's settings (no pre-heated kernels); with
``sjr serve``'s pre-heated kernels 3 before any page is opened, 7 with the four open (each
opened page's kernel is replaced by a new pre-heated one, which connects), 8 with a second
explore page. A researcher's notebook holds one per kernel, an ``sjr`` command one or two while
it runs; the hub connects with the service's credentials, not the person's. SQLAlchemy's pool
allows 5 + 10 overflow connections per process, reached only by threads working at once. 20
leaves room for the pre-heated dashboards with a few more pages, notebooks and commands at
once, and keeps one person to a fifth of PostgreSQL's default ``max_connections`` (100).

Services' roles and the owner are not limited. SQLite is one person's store (nothing changes
there).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0029_person_connection_limit"
down_revision = "0028_owner_hashes"
branch_labels = None
depends_on = None

DEFAULT_LIMIT = 20
"""Connections a person's role may hold at once, when ``store_meta`` names none."""

SETTING = "person_connection_limit"
"""The ``store_meta`` key of the limit."""

_CREATE = ("EXECUTE format('CREATE ROLE %I ' || {login} || ' IN ROLE sjr_person "
           "CONNECTION LIMIT %s', p_db_role, sjr_person_connection_limit());")
_GRANT = ("EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), "
          "p_db_role);")
_CREATE_LOGIN = _CREATE.format(login="'LOGIN'")
_CREATE_AS_USER = _CREATE.format(login="CASE WHEN v_disabled THEN 'NOLOGIN' ELSE 'LOGIN' END")


def _functions(definer: str) -> list[str]:
    return [
        f"""CREATE OR REPLACE FUNCTION sjr_person_connection_limit() RETURNS integer
        LANGUAGE sql STABLE {definer} AS $$
            SELECT greatest(1, coalesce((SELECT value::integer FROM store_meta
                                          WHERE key = '{SETTING}'), {DEFAULT_LIMIT}))
        $$""",
        f"""CREATE OR REPLACE FUNCTION sjr_person_connection_limit_apply() RETURNS integer
        LANGUAGE plpgsql {definer} AS $$
        DECLARE v_limit integer := sjr_person_connection_limit(); v_changed integer := 0;
                r record;
        BEGIN
            FOR r IN SELECT p.rolname FROM users u JOIN pg_roles p ON p.rolname = u.db_role
                      WHERE NOT p.rolsuper AND p.rolname <> current_user
                        AND p.rolconnlimit IS DISTINCT FROM v_limit
                        AND EXISTS (SELECT 1 FROM pg_auth_members m
                                     WHERE m.member = p.oid
                                       AND m.roleid = 'sjr_person'::regrole)
                      ORDER BY p.rolname
            LOOP
                EXECUTE format('ALTER ROLE %I CONNECTION LIMIT %s', r.rolname, v_limit);
                v_changed := v_changed + 1;
            END LOOP;
            RETURN v_changed;
        END $$""",
        f"""CREATE OR REPLACE FUNCTION sjr_connection_limit_set(
            p_acting text, p_limit integer, p_tool text) RETURNS integer
        LANGUAGE plpgsql {definer} AS $$
        DECLARE v_admin text := sjr_administrator(p_acting);
                v_old integer := sjr_person_connection_limit();
                v_most integer := current_setting('max_connections')::integer;
                v_changed integer;
        BEGIN
            IF p_limit IS NULL OR p_limit < 1 OR p_limit > v_most THEN
                RAISE EXCEPTION 'a person''s connection limit is a whole number from 1 to the '
                    'server''s max_connections (%), not %', v_most, p_limit;
            END IF;
            INSERT INTO store_meta (key, value) VALUES ('{SETTING}', p_limit::text)
            ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
            v_changed := sjr_person_connection_limit_apply();
            PERFORM sjr_audit_append(v_admin, 'administrator', 'users.connection_limit',
                jsonb_build_object('connection_limit', p_limit, 'previous', v_old,
                                   'roles_changed', v_changed)::text, v_changed, NULL, p_tool);
            RETURN v_changed;
        END $$""",
        f"""CREATE OR REPLACE FUNCTION sjr_user_add(
            p_acting text, p_username text, p_role text, p_organisation text,
            p_reviewer_id text, p_db_role text, p_tool text) RETURNS void
        LANGUAGE plpgsql {definer} AS $$
        DECLARE v_admin text := sjr_administrator(p_acting);
        BEGIN
            IF p_db_role IS NULL OR p_db_role !~ '^sjr_[a-z0-9_]{{1,59}}$' THEN
                RAISE EXCEPTION 'a database role for a person is sjr_ and up to 59 of a-z, 0-9, _';
            END IF;
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_db_role) THEN
                RAISE EXCEPTION 'the database role % exists already', p_db_role;
            END IF;
            IF EXISTS (SELECT 1 FROM users WHERE username = p_username) THEN
                RAISE EXCEPTION 'user % already exists', p_username;
            END IF;
            INSERT INTO users (username, role, organisation_code, reviewer_id, disabled, db_role)
            VALUES (p_username, p_role, p_organisation, p_reviewer_id, false, p_db_role);
            {_CREATE_LOGIN}
            {_GRANT}
            PERFORM sjr_audit_append(v_admin, 'administrator', 'users.add',
                jsonb_build_object('username', p_username, 'role', p_role,
                                   'organisation_code', p_organisation,
                                   'db_role', p_db_role)::text, 1, NULL, p_tool);
        END $$""",
        f"""CREATE OR REPLACE FUNCTION sjr_user_login(
            p_acting text, p_username text, p_db_role text, p_tool text) RETURNS void
        LANGUAGE plpgsql {definer} AS $$
        DECLARE v_admin text := sjr_administrator(p_acting); v_disabled boolean;
        BEGIN
            IF p_db_role IS NULL OR p_db_role !~ '^sjr_[a-z0-9_]{{1,59}}$' THEN
                RAISE EXCEPTION 'a database role for a person is sjr_ and up to 59 of a-z, 0-9, _';
            END IF;
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_db_role) THEN
                RAISE EXCEPTION 'the database role % exists already', p_db_role;
            END IF;
            UPDATE users SET db_role = p_db_role WHERE username = p_username
               AND db_role IS NULL RETURNING disabled INTO v_disabled;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'no user % without a database role', p_username;
            END IF;
            {_CREATE_AS_USER}
            {_GRANT}
            PERFORM sjr_audit_append(v_admin, 'administrator', 'users.login',
                jsonb_build_object('username', p_username, 'db_role', p_db_role)::text, 1,
                NULL, p_tool);
        END $$""",
    ]


def _definer() -> str | None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    schema = bind.execute(sa.text("SELECT quote_ident(current_schema())")).scalar_one()
    return f"SECURITY DEFINER SET search_path = {schema}, pg_temp"


def upgrade() -> None:
    definer = _definer()
    if definer is None:
        return
    for statement in _functions(definer):
        op.execute(statement)
    # anyone of the store reads the limit (store_meta is theirs to read); the roles are
    # altered by the owner and the definer functions only, and the setting changed only
    # through sjr_connection_limit_set, which checks its caller
    op.execute("REVOKE ALL ON FUNCTION sjr_person_connection_limit_apply() FROM PUBLIC")
    for signature in ("sjr_person_connection_limit()",
                      "sjr_connection_limit_set(text, integer, text)"):
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO sjr_person, sjr_service")
    op.execute("SELECT sjr_person_connection_limit_apply()")


def downgrade() -> None:
    definer = _definer()
    if definer is None:
        return
    path = Path(__file__).with_name("0018_store_connect.py")
    spec = importlib.util.spec_from_file_location("sjr_0018_store_connect", path)
    assert spec is not None and spec.loader is not None
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    for statement in old._functions(definer):
        if any(f"FUNCTION {name}(" in statement for name in ("sjr_user_add", "sjr_user_login")):
            op.execute(statement)
    op.execute("""DO $$
        DECLARE r record;
        BEGIN
            FOR r IN SELECT p.rolname FROM users u JOIN pg_roles p ON p.rolname = u.db_role
                      WHERE NOT p.rolsuper AND p.rolname <> current_user
                        AND EXISTS (SELECT 1 FROM pg_auth_members m
                                     WHERE m.member = p.oid
                                       AND m.roleid = 'sjr_person'::regrole)
            LOOP
                EXECUTE format('ALTER ROLE %I CONNECTION LIMIT -1', r.rolname);
            END LOOP;
        END $$""")
    op.execute("DROP FUNCTION IF EXISTS sjr_connection_limit_set(text, integer, text)")
    op.execute("DROP FUNCTION IF EXISTS sjr_person_connection_limit_apply()")
    op.execute("DROP FUNCTION IF EXISTS sjr_person_connection_limit()")
    op.execute(f"DELETE FROM store_meta WHERE key = '{SETTING}'")
