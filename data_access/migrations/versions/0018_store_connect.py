"""a store's database admits only its own persons and services (PostgreSQL)

Revision ID: 0018_store_connect
Revises: 0017_audit_holders

The groups ``sjr_person`` and ``sjr_service`` are cluster-wide (roles are), and revision
``0003_security`` granted ``CONNECT`` on the store's database to both, on top of PostgreSQL's
default ``CONNECT`` for ``PUBLIC``. The insider audit of 2026-12-06 connected as a person of one
store to another store on the same server, and as a service role of one store called
``sjr_user_add`` in another, acting for its administrator (``sjr_administrator`` admitted any
member of ``sjr_service``). Now:

- ``CONNECT`` on the store's database is revoked from ``PUBLIC``, ``sjr_person`` and
  ``sjr_service`` and granted to each person's own role registered here (``users.db_role``),
  by ``sjr_user_add`` and ``sjr_user_login`` for a new one;
- a service is a role the operator grants ``CONNECT`` on this database directly
  (``GRANT CONNECT ON DATABASE sjr TO sjr_extract``); this revision grants it to each member
  of ``sjr_service`` that holds a privilege on a table of this store (what the operator granted
  it, so no other store's service); ``sjr_administrator`` admits a service acting for an
  administrator only when that grant names it.

The owner and superusers are unchanged. SQLite is one person's store (nothing changes there).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0018_store_connect"
down_revision = "0017_audit_holders"
branch_labels = None
depends_on = None

_CONNECT = """
DO $$
DECLARE r record;
BEGIN
    EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC, sjr_person, sjr_service',
                   current_database());
    FOR r IN SELECT u.db_role FROM users u
              WHERE u.db_role IS NOT NULL
                AND EXISTS (SELECT 1 FROM pg_roles p WHERE p.rolname = u.db_role)
    LOOP
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), r.db_role);
    END LOOP;
    FOR r IN SELECT DISTINCT p.rolname FROM pg_roles p
              JOIN pg_class c ON c.relnamespace = current_schema()::regnamespace
              CROSS JOIN LATERAL aclexplode(c.relacl) x
             WHERE x.grantee = p.oid AND p.rolname NOT IN ('sjr_person', 'sjr_service')
               AND pg_has_role(p.oid, 'sjr_service', 'MEMBER')
               AND NOT pg_has_role(p.oid, 'sjr_person', 'MEMBER')
    LOOP
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), r.rolname);
    END LOOP;
END $$"""
"""CONNECT for this store's persons and services only (also run by a restore)."""

_CONNECTS_HERE = """EXISTS (SELECT 1 FROM pg_database d CROSS JOIN LATERAL aclexplode(d.datacl) x
                     WHERE d.datname = current_database() AND x.privilege_type = 'CONNECT'
                       AND x.grantee = (SELECT oid FROM pg_roles WHERE rolname = session_user))"""
"""Whether the operator granted the connected role CONNECT on this database by name."""


def _functions(definer: str) -> list[str]:
    grant = ("EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), "
             "p_db_role);")
    return [
        f"""CREATE OR REPLACE FUNCTION sjr_administrator(p_acting text) RETURNS text
        LANGUAGE plpgsql STABLE {definer} AS $$
        DECLARE v_name text; v_role text; v_disabled boolean;
        BEGIN
            SELECT username, role, disabled INTO v_name, v_role, v_disabled FROM users
             WHERE db_role = session_user::text;
            IF FOUND THEN
                IF v_role <> 'administrator' OR v_disabled THEN
                    RAISE EXCEPTION 'only an enabled administrator manages users and approvals'
                        USING ERRCODE = 'insufficient_privilege';
                END IF;
                RETURN v_name;
            END IF;
            IF session_user::text = current_user::text OR coalesce(
                    (SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false) THEN
                RETURN p_acting;
            END IF;
            IF NOT pg_has_role(session_user, 'sjr_person', 'MEMBER')
                    AND pg_has_role(session_user, 'sjr_service', 'MEMBER')
                    AND {_CONNECTS_HERE}
                    AND EXISTS (SELECT 1 FROM users WHERE username = p_acting
                                AND role = 'administrator' AND NOT disabled) THEN
                RETURN p_acting;
            END IF;
            RAISE EXCEPTION 'only an enabled administrator manages users and approvals'
                USING ERRCODE = 'insufficient_privilege';
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
            EXECUTE format('CREATE ROLE %I LOGIN IN ROLE sjr_person', p_db_role);
            {grant}
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
            EXECUTE format('CREATE ROLE %I ' || CASE WHEN v_disabled THEN 'NOLOGIN'
                           ELSE 'LOGIN' END || ' IN ROLE sjr_person', p_db_role);
            {grant}
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
    op.execute(_CONNECT)


def downgrade() -> None:
    definer = _definer()
    if definer is None:
        return
    path = Path(__file__).with_name("0003_security.py")
    spec = importlib.util.spec_from_file_location("sjr_0003_security", path)
    assert spec is not None and spec.loader is not None
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    schema_path = definer.removeprefix("SECURITY DEFINER SET search_path = ")
    for statement in old._functions(schema_path):
        if any(f"FUNCTION {name}(" in statement
               for name in ("sjr_administrator", "sjr_user_add", "sjr_user_login")):
            op.execute(statement)
    op.execute("DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO PUBLIC, "
               "sjr_person, sjr_service', current_database()); END $$")
