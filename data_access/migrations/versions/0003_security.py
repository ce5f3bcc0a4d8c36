"""security: per-person database roles, row-level security from the connection's role, audit entries chained by the database

Revision ID: 0003_security
Revises: 0002_governance

(Filled in by the PostgreSQL boundary work; a no-op on SQLite.)
"""

from __future__ import annotations

revision = "0003_security"
down_revision = "0002_governance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
