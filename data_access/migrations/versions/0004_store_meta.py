"""store metadata: a key/value table (e.g. whether the store holds synthetic data only);
the report batch's old system user disabled

Revision ID: 0004_store_meta
Revises: 0003_security

- ``store_meta(key, value)``: facts about the store itself. ``synthetic = 'yes'`` is written by
  ``sjr demo-data`` on a store it filled with synthetic data; only such a store gets the demo
  users and a default identity (``data_access.demo``).
- ``sjr-reports``, the system user that ``sjr report`` used to register with programme-team
  rights, could be named by anyone (``SJR_USER=sjr-reports``). Reports now run as the person who
  starts them, so the user is disabled (never deleted: the audit log names it).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_store_meta"
down_revision = "0003_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_store_meta")),
    )
    op.execute("UPDATE users SET disabled = true WHERE username = 'sjr-reports'")
    if op.get_bind().dialect.name == "postgresql":
        # Person roles (revision 0003_security) may read the store's facts, never write them.
        op.execute("""
            DO $$ BEGIN
                IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sjr_person') THEN
                    GRANT SELECT ON store_meta TO sjr_person;
                END IF;
            END $$""")


def downgrade() -> None:
    op.drop_table("store_meta")
