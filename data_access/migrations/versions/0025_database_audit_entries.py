"""a person cannot write the database's own audit entries (PostgreSQL)

Revision ID: 0025_database_audit_entries
Revises: 0024_no_existence_oracles

The database records what it ends itself: ``audit.stall_ended`` and ``audit.lock_ended``
(revisions ``0013_direct_sql`` and ``0017_audit_holders``), tool ``database``. The insider
audit of 2026-12-06 (second round) had a researcher and a reviewer write entries of exactly
that shape through ``sjr_audit_enqueue`` and ``sjr_audit_append``, claiming the database had
ended a named colleague's session. The callable functions now refuse the tool ``database`` and
those two actions from any caller; the database's own entries are written by
the definer functions through the held variants (``sjr_audit_enqueue_held``,
``sjr_audit_append_held``), which no person or service may call. SQLite is one person's store
(nothing changes there).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025_database_audit_entries"
down_revision = "0024_no_existence_oracles"
branch_labels = None
depends_on = None

_ARGS = "text, text, text, text, integer, text, text"
_PARAMS = ("p_username text, p_role text, p_action text, p_scope text, p_rows integer, "
           "p_approval_id text, p_tool text")
_REFUSE = """IF p_tool = 'database'
                    OR p_action IN ('audit.stall_ended', 'audit.lock_ended') THEN
                RAISE EXCEPTION 'the tool database''s entries (audit.stall_ended, '
                    'audit.lock_ended) are written by the database itself'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;"""


def _enqueue(definer: str, *, refuse: bool) -> str:
    return f"""CREATE OR REPLACE FUNCTION sjr_audit_enqueue({_PARAMS}) RETURNS integer
        LANGUAGE plpgsql {definer} AS $$
        BEGIN
            {_REFUSE if refuse else ''}
            PERFORM sjr_audit_unlock_tables();
            PERFORM 1 FROM audit_queue_head WHERE id = 1 FOR UPDATE SKIP LOCKED;
            IF NOT FOUND THEN
                PERFORM sjr_audit_unstall('audit_queue_head');
            END IF;
            RETURN sjr_audit_enqueue_held(p_username, p_role, p_action, p_scope, p_rows,
                                          p_approval_id, p_tool);
        END $$"""


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
    op.execute(_enqueue(definer, refuse=True))
    op.execute(f"ALTER FUNCTION sjr_audit_append({_ARGS}) RENAME TO sjr_audit_append_held")
    op.execute(f"REVOKE ALL ON FUNCTION sjr_audit_append_held({_ARGS}) "
               "FROM PUBLIC, sjr_person, sjr_service")
    op.execute(f"""CREATE FUNCTION sjr_audit_append({_PARAMS}) RETURNS integer
        LANGUAGE plpgsql {definer} AS $$
        BEGIN
            {_REFUSE}
            RETURN sjr_audit_append_held(p_username, p_role, p_action, p_scope, p_rows,
                                         p_approval_id, p_tool);
        END $$""")
    op.execute(f"REVOKE ALL ON FUNCTION sjr_audit_append({_ARGS}) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION sjr_audit_append({_ARGS}) TO sjr_person, sjr_service")


def downgrade() -> None:
    definer = _definer()
    if definer is None:
        return
    op.execute(f"DROP FUNCTION IF EXISTS sjr_audit_append({_ARGS})")
    op.execute(f"ALTER FUNCTION sjr_audit_append_held({_ARGS}) RENAME TO sjr_audit_append")
    op.execute(f"GRANT EXECUTE ON FUNCTION sjr_audit_append({_ARGS}) TO sjr_person, sjr_service")
    op.execute(_enqueue(definer, refuse=False))
