"""store metadata: a key/value table (e.g. whether the store holds synthetic data only)

Revision ID: 0004_store_meta
Revises: 0003_security

(Filled in with the demo-identity work.)
"""

from __future__ import annotations

revision = "0004_store_meta"
down_revision = "0003_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
