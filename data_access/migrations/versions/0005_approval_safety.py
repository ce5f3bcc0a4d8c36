"""approvals: k for k-anonymity of extracts, whether deaths are released

Revision ID: 0005_approval_safety
Revises: 0004_store_meta

(Filled in with the researchers' safe-data work.)
"""

from __future__ import annotations

revision = "0005_approval_safety"
down_revision = "0004_store_meta"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
