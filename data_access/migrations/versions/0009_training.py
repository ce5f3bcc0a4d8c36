"""training: trainers, training records, training cases, calibration rounds and their answers (issue 15)

Revision ID: 0009_training
Revises: 0008_actions

Declared ahead of its content so that work on several issues keeps one chain of revisions.
"""

from __future__ import annotations

revision = "0009_training"
down_revision = "0008_actions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
