"""actions and impact: the action register, its links to themes and reviews, its measure (issue 13)

Revision ID: 0008_actions
Revises: 0007_form_versions

Declared ahead of its content so that work on several issues keeps one chain of revisions.
"""

from __future__ import annotations

revision = "0008_actions"
down_revision = "0007_form_versions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
