"""no planner statistics on free text (PostgreSQL)

Revision ID: 0016_free_text_statistics
Revises: 0015_review_children

An insider audit (2026-12-06) recovered, as a researcher whose role reads no review row,
verbatim judgement comments of every organisation with their frequencies: ``ANALYZE`` keeps
each column's most common values, and ``EXPLAIN``'s row estimates for ``comment = '...'`` or a
prefix range answer from them whatever row-level security hides (12 comments in 7,600 plans,
about 5 s). ``pg_stats`` itself is filtered; the estimates are not.

Free text is never what a query of this project filters or joins on, so its columns keep no
statistics (``SET STATISTICS 0``): ``ANALYZE`` skips them and the planner's estimate is the
same for every value. What an earlier ``ANALYZE`` kept is dropped here: altering a column to
its own type removes its statistics and rewrites nothing. A question of free text added to the
form later is a column of ``reviews``: its revision does the same.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_free_text_statistics"
down_revision = "0015_review_children"
branch_labels = None
depends_on = None

FREE_TEXT_COLUMNS = (("reviews", "cause_of_death"), ("phase_assessments", "comment"),
                     ("referrals", "referral_reference"), ("calibration_answers", "comments"),
                     ("actions", "description"))
"""Columns a person writes in their own words, whose values another person must not learn."""


def _set(target: int) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table, column in FREE_TEXT_COLUMNS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STATISTICS {target}")
        if target == 0:  # the statistics kept so far go with a change to the column's own type
            own = bind.execute(sa.text(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = CAST(:t AS regclass) AND attname = :c"),
                {"t": table, "c": column}).scalar_one()
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {own}")


def upgrade() -> None:
    _set(0)


def downgrade() -> None:
    _set(-1)
