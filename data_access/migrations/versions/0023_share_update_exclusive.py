"""a person's LOCK TABLE in SHARE UPDATE EXCLUSIVE mode is ended too (PostgreSQL)

Revision ID: 0023_share_update_exclusive
Revises: 0022_audit_holder_scope

Revision ``0017_audit_holders`` ends a person's ``LOCK TABLE`` on a table of the store when the
mode is ``SHARE`` or stronger. The insider audit of 2026-12-06 (second round) had a researcher
take ``SHARE UPDATE EXCLUSIVE`` (any person may: ``LOCK TABLE`` needs only a write privilege on
the table, and every person holds one on ``reviews``), which 0017 never ended: it blocks
``VACUUM``, ``ANALYZE`` (autovacuum too) and all DDL, and an owner's migration queued behind it
blocks every reader. Now every mode stronger than ``ROW EXCLUSIVE`` is ended: ``SHARE UPDATE
EXCLUSIVE``, ``SHARE``, ``SHARE ROW EXCLUSIVE``, ``EXCLUSIVE`` and ``ACCESS EXCLUSIVE``. A
person's ordinary statements take only ``ACCESS SHARE``, ``ROW SHARE`` and ``ROW EXCLUSIVE``;
they own no table and run no maintenance, so nothing the product does is ended. SQLite is one
person's store (nothing changes there).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_share_update_exclusive"
down_revision = "0022_audit_holder_scope"
branch_labels = None
depends_on = None

_NOT_ADMINISTRATOR = """pg_has_role(a.usename, 'sjr_person', 'MEMBER')
                   AND NOT coalesce((SELECT rolsuper FROM pg_roles
                                      WHERE rolname = a.usename), false)
                   AND NOT EXISTS (SELECT 1 FROM users u WHERE u.db_role = a.usename::text
                                      AND u.role = 'administrator' AND NOT u.disabled)"""

_STRONG = ("'ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'")


def _unlock_tables(definer: str, modes: str) -> str:
    return f"""CREATE OR REPLACE FUNCTION sjr_audit_unlock_tables() RETURNS integer
        LANGUAGE plpgsql {definer} AS $$
        DECLARE r record; v_ended integer := 0;
        BEGIN
            FOR r IN
                SELECT DISTINCT ON (l.pid) l.pid, a.usename::text AS usename, l.mode,
                       c.relname::text AS relname, l.granted
                  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                  JOIN pg_class c ON c.oid = l.relation
                 WHERE l.locktype = 'relation'
                   AND l.database = (SELECT oid FROM pg_database
                                      WHERE datname = current_database())
                   AND l.mode IN ({modes})
                   AND c.relnamespace = current_schema()::regnamespace
                   AND l.pid <> pg_backend_pid()
                   AND {_NOT_ADMINISTRATOR}
                 ORDER BY l.pid
            LOOP
                BEGIN
                    IF pg_terminate_backend(r.pid, 5000) THEN
                        v_ended := v_ended + 1;
                        PERFORM sjr_audit_enqueue_held(
                            session_user::text, NULL, 'audit.lock_ended',
                            json_build_object('ended', coalesce(
                                (SELECT username FROM users WHERE db_role = r.usename),
                                r.usename), 'table', r.relname, 'mode', r.mode,
                                'granted', r.granted)::text,
                            NULL, NULL, 'database');
                    END IF;
                EXCEPTION WHEN insufficient_privilege THEN
                    NULL;  -- the owner lacks pg_signal_backend: nothing is ended
                END;
            END LOOP;
            RETURN v_ended;
        END $$"""


def _definer() -> str | None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    schema = bind.execute(sa.text("SELECT quote_ident(current_schema())")).scalar_one()
    return f"SECURITY DEFINER SET search_path = {schema}, pg_temp"


def upgrade() -> None:
    definer = _definer()
    if definer is not None:
        op.execute(_unlock_tables(definer, f"'ShareUpdateExclusiveLock', {_STRONG}"))


def downgrade() -> None:
    definer = _definer()
    if definer is not None:
        op.execute(_unlock_tables(definer, _STRONG))
