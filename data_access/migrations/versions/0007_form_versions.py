"""form versions: form_version on every review (rcp2017 in place), the ext2026 questions and referrals (issue 12)

Revision ID: 0007_form_versions
Revises: 0006_themes

Declared ahead of its content so that work on several issues keeps one chain of revisions.
"""

from __future__ import annotations

revision = "0007_form_versions"
down_revision = "0006_themes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
