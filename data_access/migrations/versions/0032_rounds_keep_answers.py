"""a calibration round that holds a submitted answer is not deleted by a person (PostgreSQL)

Revision ID: 0032_rounds_keep_answers
Revises: 0031_round_members_scope

Revision ``0013_direct_sql`` made a submitted calibration answer final for persons: they update
or delete only drafts (``docs/training.md``: *Submit training answer* makes it final). The
insider audit of 2026-12-09 had a lead delete their organisation's round
(``DELETE FROM calibration_rounds``, which revision ``0009_training`` grants the programme team
for any round and a lead for their organisation's): the foreign key's ``ON DELETE CASCADE``,
which runs as the owner, took every submitted answer of the round with it, and their reviewers'
results were gone with no audit entry. The product never deletes a round. Now a person's
delete of a round that holds a submitted answer is refused (a trigger that reads the answers as
the owner, run only on rows the person may delete, so it tells nothing of other rounds); a
round with drafts only may still go, its drafts with it, as persons may delete drafts. The
owner and services are unchanged. SQLite is one person's store (nothing changes there).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0032_rounds_keep_answers"
down_revision = "0031_round_members_scope"
branch_labels = None
depends_on = None


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
    op.execute(f"""CREATE OR REPLACE FUNCTION sjr_calibration_round_kept() RETURNS trigger
        LANGUAGE plpgsql {definer} AS $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM users WHERE db_role = session_user::text) THEN
                RETURN OLD;  -- a service deletes as it must
            END IF;
            IF EXISTS (SELECT 1 FROM calibration_answers a WHERE a.round_id = OLD.round_id
                          AND a.status = 'submitted') THEN
                RAISE EXCEPTION 'calibration round %: it holds submitted answers, which are '
                    'final; it is not deleted', OLD.round_id
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN OLD;
        END $$""")
    op.execute("REVOKE ALL ON FUNCTION sjr_calibration_round_kept() FROM PUBLIC")
    op.execute(f"CREATE TRIGGER sjr_calibration_round_kept BEFORE DELETE ON calibration_rounds "
               f"FOR EACH ROW WHEN (session_user <> '{owner}') "
               f"EXECUTE FUNCTION sjr_calibration_round_kept()")


def downgrade() -> None:
    if _context() is None:
        return
    op.execute("DROP TRIGGER IF EXISTS sjr_calibration_round_kept ON calibration_rounds")
    op.execute("DROP FUNCTION IF EXISTS sjr_calibration_round_kept()")
