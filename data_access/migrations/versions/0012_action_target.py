"""action target: an optional target for a measured action, so its impact chart shows assurance

Revision ID: 0012_action_target
Revises: 0011_audit_queue

Making Data Count gives an assurance icon (will the process meet the target?) only against a
target. ``actions.target`` is that target, as a percentage of the action's measure (0-100), and
only with a measure (``shared/spec/learning.md``, "Actions and impact"). The access layer checks
both (:func:`data_access.actions.check_action`); on PostgreSQL, where a lead writes through
row-level security, a check constraint holds them too. (SQLite cannot add a constraint to a
table in place, and rebuilding ``actions`` would cascade to its links: there the access layer
is the only writer.)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_action_target"
down_revision = "0011_audit_queue"
branch_labels = None
depends_on = None

_CHECK = ("target IS NULL OR (measure IS NOT NULL AND target >= 0 AND target <= 100)")


def upgrade() -> None:
    op.add_column("actions", sa.Column("target", sa.Float(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.create_check_constraint(op.f("ck_actions_target"), "actions", _CHECK)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("ck_actions_target"), "actions", type_="check")
    with op.batch_alter_table("actions") as batch:
        batch.drop_column("target")
