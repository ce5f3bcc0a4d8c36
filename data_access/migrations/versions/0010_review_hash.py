"""content hash per review, so a no-op re-import costs a read (issue 17 part 6)

Revision ID: 0010_review_hash
Revises: 0009_training
"""

from __future__ import annotations

revision = "0010_review_hash"
down_revision = "0009_training"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
