"""theme codes: who coded and when are the database's; a reviewer deletes only their own codes

Revision ID: 0019_theme_code_coder
Revises: 0018_store_connect

Revision ``0006_themes`` let a person's own role insert a theme code on a review they may code
and delete any code on it. The insider audit of 2026-12-06 found that ``coded_by`` and
``coded_at`` were whatever the caller wrote (a reviewer's codes credited to their lead, or
dated last year, so inter-coder agreement measured nothing), and that a reviewer could delete
the codes others had given their reviews. ``shared/spec/learning.md``: "a theme code records
who coded it"; coding is the coder's, the organisation's governance the lead's. Now, for a
person's own role:

- ``coded_by`` is the person's user name and ``coded_at`` now, whatever the insert says (a
  trigger, as ``answered_by``/``answered_at`` in revision ``0014_calibration_answers``), and a
  code goes only on a submitted or locked review (as ``Session.code_review``);
- an organisation lead deletes any code on their organisation's reviews (as before); a reviewer
  only a code they gave themselves.

The owner and services are unchanged. SQLite is one person's store (nothing changes there).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_theme_code_coder"
down_revision = "0018_store_connect"
branch_labels = None
depends_on = None

_ROLE = "(SELECT sjr_person_role())"
_ORG = "(SELECT sjr_person_organisation())"
_REVIEWER = "(SELECT sjr_person_reviewer())"
_NAME = "(SELECT u.username FROM users u WHERE u.db_role = session_user::text)"


def _delete_policy(*, own: bool) -> str:
    mine = f" AND theme_codes.coded_by = {_NAME}" if own else ""
    return ("CREATE POLICY person_delete ON theme_codes FOR DELETE USING (EXISTS (SELECT 1 "
            "FROM reviews r WHERE r.review_id = theme_codes.review_id AND ("
            f"({_ROLE} = 'organisation_lead' AND r.organisation_code = {_ORG}) OR "
            f"({_ROLE} = 'reviewer' AND r.organisation_code = {_ORG} AND "
            f"r.reviewer_id = {_REVIEWER}{mine}))))")


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
    op.execute(f"""CREATE OR REPLACE FUNCTION sjr_theme_code_stamp() RETURNS trigger
        LANGUAGE plpgsql {definer} AS $$
        DECLARE v_name text;
        BEGIN
            SELECT username INTO v_name FROM users WHERE db_role = session_user::text;
            IF NOT FOUND THEN
                RETURN NEW;  -- a service writes its own values
            END IF;
            IF NOT EXISTS (SELECT 1 FROM reviews r WHERE r.review_id = NEW.review_id
                              AND r.status IN ('submitted', 'locked')) THEN
                RAISE EXCEPTION 'theme code: themes are coded on submitted or locked reviews'
                    USING ERRCODE = 'check_violation';
            END IF;
            NEW.coded_by := v_name;
            NEW.coded_at := now();
            RETURN NEW;
        END $$""")
    op.execute("REVOKE ALL ON FUNCTION sjr_theme_code_stamp() FROM PUBLIC")
    op.execute(f"CREATE TRIGGER sjr_theme_code_stamp BEFORE INSERT ON theme_codes "
               f"FOR EACH ROW WHEN (session_user <> '{owner}') "
               f"EXECUTE FUNCTION sjr_theme_code_stamp()")
    op.execute("DROP POLICY IF EXISTS person_delete ON theme_codes")
    op.execute(_delete_policy(own=True))


def downgrade() -> None:
    context = _context()
    if context is None:
        return
    op.execute("DROP TRIGGER IF EXISTS sjr_theme_code_stamp ON theme_codes")
    op.execute("DROP FUNCTION IF EXISTS sjr_theme_code_stamp()")
    op.execute("DROP POLICY IF EXISTS person_delete ON theme_codes")
    op.execute(_delete_policy(own=False))
