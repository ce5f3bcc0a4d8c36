"""an action links only reviews of its own organisation (PostgreSQL)

Revision ID: 0020_action_review_scope
Revises: 0019_theme_code_coder

Revision ``0008_actions`` let a lead link any review id to their organisation's action: the
policy looked only at the action. The insider audit of 2026-12-06 linked another
organisation's review to a lead's action through ``action_reviews``, and the foreign key's
answer (accepted, or "not present in reviews") told the lead whether that organisation's review
id existed. A person's link now names a review the person reads that belongs to the action's
organisation; a review id they cannot see is refused by the policy, before the foreign key is
checked, with the same refusal whether it exists or not. The owner and services are unchanged.
SQLite is one person's store (nothing changes there).
"""

from __future__ import annotations

from alembic import op

revision = "0020_action_review_scope"
down_revision = "0019_theme_code_coder"
branch_labels = None
depends_on = None

_ROLE = "(SELECT sjr_person_role())"
_ORG = "(SELECT sjr_person_organisation())"


def _insert_policy(*, review: bool) -> str:
    # the subquery on reviews runs under the reviews policies of whoever asks
    same = (" AND EXISTS (SELECT 1 FROM reviews r WHERE r.review_id = action_reviews.review_id "
            "AND r.organisation_code = a.organisation_code)") if review else ""
    return ("CREATE POLICY person_insert ON action_reviews FOR INSERT WITH CHECK (EXISTS ("
            "SELECT 1 FROM actions a WHERE a.id = action_reviews.action_id AND "
            f"{_ROLE} = 'organisation_lead' AND a.organisation_code = {_ORG}{same}))")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP POLICY IF EXISTS person_insert ON action_reviews")
    op.execute(_insert_policy(review=True))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP POLICY IF EXISTS person_insert ON action_reviews")
    op.execute(_insert_policy(review=False))
