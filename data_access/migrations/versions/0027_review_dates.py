"""a person's new review is dated by the database's clock (PostgreSQL)

Revision ID: 0027_review_dates
Revises: 0026_recorded_stamps

Revision ``0013_direct_sql`` checks a person's new review for version 1 saved by that person;
its ``created_at`` and ``updated_at`` were whatever the insert said (an update gets now() from
the stamp). The insider audit of 2026-12-06 (second round) had a reviewer file a review dated
years back. A BEFORE INSERT trigger would set them but make the owner's ``COPY`` insert row by
row, so, as for the version, the check is at the end of the statement: a person's new review
is refused unless both times lie between the start of the transaction and the database's clock
now, each widened by ``review_clock_skew_seconds`` (``store_meta``, default 300) for a client
whose clock differs a little from the server's (the access layer writes its own now). The
owner and services are unchanged. SQLite is one person's store (nothing changes there).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027_review_dates"
down_revision = "0026_recorded_stamps"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    schema = bind.execute(sa.text("SELECT quote_ident(current_schema())")).scalar_one()
    owner = bind.execute(sa.text("SELECT current_user")).scalar_one()
    if "'" in owner:  # pragma: no cover - baked into a trigger's WHEN
        raise RuntimeError(f"the owner role's name {owner!r} holds a quote; rename it")
    op.execute(f"""CREATE OR REPLACE FUNCTION sjr_review_dates() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
        DECLARE v_skew interval := make_interval(secs => greatest(0, coalesce((
                    SELECT value::integer FROM store_meta
                     WHERE key = 'review_clock_skew_seconds'), 300)));
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM users WHERE db_role = session_user::text) THEN
                RETURN NULL;  -- a service writes its own values
            END IF;
            IF NEW.created_at IS NULL OR NEW.updated_at IS NULL
               OR least(NEW.created_at, NEW.updated_at) < now() - v_skew
               OR greatest(NEW.created_at, NEW.updated_at) > clock_timestamp() + v_skew THEN
                RAISE EXCEPTION 'review %: a new review is dated now (created_at, updated_at)',
                    NEW.review_id USING ERRCODE = 'check_violation';
            END IF;
            RETURN NULL;
        END $$""")
    op.execute("REVOKE ALL ON FUNCTION sjr_review_dates() FROM PUBLIC")
    op.execute(f"CREATE CONSTRAINT TRIGGER sjr_review_dates AFTER INSERT ON reviews "
               f"FOR EACH ROW WHEN (session_user <> '{owner}') "
               f"EXECUTE FUNCTION sjr_review_dates()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS sjr_review_dates ON reviews")
    op.execute("DROP FUNCTION IF EXISTS sjr_review_dates()")
