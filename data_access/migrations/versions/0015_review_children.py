"""a person's change to a review's phases, problems, reasons or referrals is a new version

Revision ID: 0015_review_children
Revises: 0014_calibration_answers

Revision ``0013_direct_sql`` made ``version``, ``updated_at`` and ``updated_by`` the
database's on a person's update of ``reviews``. An insider audit (2026-12-06) rescored a
colleague's submitted review through its child rows alone (``UPDATE phase_assessments SET
score = 5``, ``DELETE FROM problems``): the review kept its version, its saver and its content
hash, so the rescoring was credited to nobody and a corrective re-import of the original file
found the review "unchanged" by its hash and left the tampered score in place.

Now, when a person's own role writes a child row of a review that its transaction has not
already written, the review is touched once: its ``content_hash`` is cleared (a re-import then
compares the review column by column) and revision 0013's stamp gives it a new version, now and
the person's name. A save through the access layer writes the review first, so it is still one
version per save. The owner's imports are unchanged (the triggers' ``WHEN`` skips the owner).
SQLite is one person's store (nothing changes there).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_review_children"
down_revision = "0014_calibration_answers"
branch_labels = None
depends_on = None

_CHILD_TABLES = ("phase_assessments", "problems", "review_reasons", "referrals")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    schema = bind.execute(sa.text("SELECT quote_ident(current_schema())")).scalar_one()
    owner = bind.execute(sa.text("SELECT current_user")).scalar_one()
    if "'" in owner:  # pragma: no cover - baked into a trigger's WHEN
        raise RuntimeError(f"the owner role's name {owner!r} holds a quote; rename it")
    op.execute(f"""CREATE OR REPLACE FUNCTION sjr_review_child_written() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
        DECLARE v_id text;
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM users WHERE db_role = session_user::text) THEN
                RETURN NULL;  -- a service writes its own values
            END IF;
            v_id := CASE WHEN TG_OP = 'DELETE' THEN OLD.review_id ELSE NEW.review_id END;
            -- once per review and transaction: a review this transaction wrote (a save, an
            -- import, an earlier child row) already has its new version
            UPDATE reviews SET content_hash = NULL, content_hash_version = NULL,
                               updated_at = clock_timestamp()
             WHERE review_id = v_id AND NOT sjr_written_here(xmin);
            RETURN NULL;
        END $$""")
    op.execute("REVOKE ALL ON FUNCTION sjr_review_child_written() FROM PUBLIC")
    for table in _CHILD_TABLES:
        op.execute(f"CREATE TRIGGER sjr_review_child_written AFTER INSERT OR UPDATE OR DELETE "
                   f"ON {table} FOR EACH ROW WHEN (session_user <> '{owner}') "
                   f"EXECUTE FUNCTION sjr_review_child_written()")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table in _CHILD_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS sjr_review_child_written ON {table}")
    op.execute("DROP FUNCTION IF EXISTS sjr_review_child_written()")
