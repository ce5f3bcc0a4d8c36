"""who recorded an action, a training record or a calibration round, and when, are the database's

Revision ID: 0026_recorded_stamps
Revises: 0025_database_audit_entries

Revisions ``0008_actions`` and ``0009_training`` stored whatever a person's own role wrote in
``actions.recorded_by/recorded_at/updated_by/updated_at/version``,
``training_records.recorded_by/recorded_at`` and ``calibration_rounds.created_by/created_at``.
The insider audit of 2026-12-06 (second round) had a lead credit an action and a training
record to the programme team, backdated, with a version of their choosing. Now, as for theme
codes (revision ``0019_theme_code_coder``), a trigger sets them for a person's role: on an
insert the person's user name and now (an action is version 1); on an update of an action the
recorder stays, the updater is the person, now, and the version is the stored one + 1 (the
access layer's ``WHERE version = :v`` still refuses a stale write); an update of a training
record records the person anew (as ``data_access.training`` does); a round keeps its creator.
The owner and services are unchanged. SQLite is one person's store (nothing changes there).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026_recorded_stamps"
down_revision = "0025_database_audit_entries"
branch_labels = None
depends_on = None

_BODIES = {
    "actions": """IF TG_OP = 'INSERT' THEN
                NEW.recorded_by := v_name;
                NEW.recorded_at := now();
                NEW.version := 1;
            ELSE
                NEW.recorded_by := OLD.recorded_by;
                NEW.recorded_at := OLD.recorded_at;
                NEW.version := OLD.version + 1;
            END IF;
            NEW.updated_by := v_name;
            NEW.updated_at := now();""",
    "training_records": """NEW.recorded_by := v_name;
            NEW.recorded_at := now();""",
    "calibration_rounds": """IF TG_OP = 'INSERT' THEN
                NEW.created_by := v_name;
                NEW.created_at := now();
            ELSE
                NEW.created_by := OLD.created_by;
                NEW.created_at := OLD.created_at;
            END IF;""",
}


def _context() -> tuple[str, str] | None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    schema = bind.execute(sa.text("SELECT quote_ident(current_schema())")).scalar_one()
    owner = bind.execute(sa.text("SELECT current_user")).scalar_one()
    if "'" in owner:  # pragma: no cover - baked into a trigger's WHEN
        raise RuntimeError(f"the owner role's name {owner!r} holds a quote; rename it")
    return f"SECURITY DEFINER SET search_path = {schema}, pg_temp", owner


def upgrade() -> None:
    context = _context()
    if context is None:
        return
    definer, owner = context
    for table, body in _BODIES.items():
        op.execute(f"""CREATE OR REPLACE FUNCTION sjr_{table}_stamp() RETURNS trigger
        LANGUAGE plpgsql {definer} AS $$
        DECLARE v_name text;
        BEGIN
            SELECT username INTO v_name FROM users WHERE db_role = session_user::text;
            IF NOT FOUND THEN
                RETURN NEW;  -- a service writes its own values
            END IF;
            {body}
            RETURN NEW;
        END $$""")
        op.execute(f"REVOKE ALL ON FUNCTION sjr_{table}_stamp() FROM PUBLIC")
        op.execute(f"CREATE TRIGGER sjr_{table}_stamp BEFORE INSERT OR UPDATE ON {table} "
                   f"FOR EACH ROW WHEN (session_user <> '{owner}') "
                   f"EXECUTE FUNCTION sjr_{table}_stamp()")


def downgrade() -> None:
    if _context() is None:
        return
    for table in _BODIES:
        op.execute(f"DROP TRIGGER IF EXISTS sjr_{table}_stamp ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS sjr_{table}_stamp()")
