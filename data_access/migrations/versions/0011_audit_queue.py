"""reserved for the SQLite read-audit queue (issue 17 part 2)

Revision ID: 0011_audit_queue
Revises: 0010_review_hash
"""

from __future__ import annotations

revision = "0011_audit_queue"
down_revision = "0010_review_hash"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
