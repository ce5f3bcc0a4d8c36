"""actions and impact: the action register, its links to themes and reviews, its measure (issue 13)

Revision ID: 0008_actions
Revises: 0007_form_versions

``shared/spec/learning.md`` ("Actions and impact"):

- ``actions(id (random hex), organisation_code, description, owner_role, status, agreed_on,
  due_on, completed_on, measure, change_month, recorded_by, recorded_at, updated_by,
  updated_at, version)``: what an organisation did in response to learning. The description is
  screened for identifiers before it is stored (:mod:`data_access.actions`); the owner is a
  role ("Deteriorating patient lead"), never a person's name; ``measure`` is one of the
  statistics declared in :mod:`sjrlib.measures` (e.g. ``theme:sepsis``), and ``change_month``
  the month the change went in, where the measure's SPC chart is rebased. ``version`` goes up
  by one on every change, so two people cannot silently overwrite each other.
- ``action_themes(action_id, theme)`` and ``action_reviews(action_id, review_id)``: the themes
  and reviews an action answers, as links (never copied text), removed with their action (and a
  review link with its review).

Frozen copy of the schema as of this revision (statuses written out here); ``tests/test_actions.py``
checks the migrated tables equal the models of :mod:`data_access.governance_models`.

On PostgreSQL the register is an organisation's: a service role sees the organisations of its
transaction (``sjr.organisations``, revision ``0002_governance``); a person reads the actions of
their own organisation (organisation leads) or of all (programme team), and only a lead writes
their organisation's. Links follow their action.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_actions"
down_revision = "0007_form_versions"
branch_labels = None
depends_on = None

_STATUSES = ("open", "in_progress", "completed", "dropped")

_ROLE = "(SELECT sjr_person_role())"
_ORG = "(SELECT sjr_person_organisation())"
_SERVICE = "(SELECT sjr_is_service())"


def _in(column: str, values: tuple[str, ...]) -> str:
    return "(" + " OR ".join(f"{column} = '{v}'" for v in values) + ")"


def upgrade() -> None:
    op.create_table(
        "actions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("organisation_code", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_role", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("agreed_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("completed_on", sa.Date(), nullable=True),
        sa.Column("measure", sa.String(length=64), nullable=True),
        sa.Column("change_month", sa.String(length=7), nullable=True),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(_in("status", _STATUSES), name=op.f("ck_actions_status")),
        sa.CheckConstraint("due_on IS NULL OR due_on >= agreed_on", name=op.f("ck_actions_due")),
        sa.CheckConstraint("completed_on IS NULL OR completed_on >= agreed_on",
                           name=op.f("ck_actions_completed")),
        sa.CheckConstraint("status <> 'completed' OR completed_on IS NOT NULL",
                           name=op.f("ck_actions_completed_dated")),
        sa.CheckConstraint("(measure IS NULL) = (change_month IS NULL)",
                           name=op.f("ck_actions_measure_month")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_actions_version")),
        sa.ForeignKeyConstraint(["organisation_code"], ["organisations.code"],
                                name=op.f("fk_actions_organisation_code_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_actions")),
    )
    op.create_index(op.f("ix_actions_organisation_code"), "actions", ["organisation_code"])
    op.create_table(
        "action_themes",
        sa.Column("action_id", sa.String(length=32), nullable=False),
        sa.Column("theme", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["action_id"], ["actions.id"], ondelete="CASCADE",
                                name=op.f("fk_action_themes_action_id_actions")),
        sa.PrimaryKeyConstraint("action_id", "theme", name=op.f("pk_action_themes")),
    )
    op.create_table(
        "action_reviews",
        sa.Column("action_id", sa.String(length=32), nullable=False),
        sa.Column("review_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["action_id"], ["actions.id"], ondelete="CASCADE",
                                name=op.f("fk_action_reviews_action_id_actions")),
        sa.ForeignKeyConstraint(["review_id"], ["reviews.review_id"], ondelete="CASCADE",
                                name=op.f("fk_action_reviews_review_id_reviews")),
        sa.PrimaryKeyConstraint("action_id", "review_id", name=op.f("pk_action_reviews")),
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in _postgresql():
            op.execute(statement)


def _postgresql() -> list[str]:
    service = f"{_SERVICE} AND sjr_organisation_visible(organisation_code)"
    read = (f"{_ROLE} = 'programme_team' OR ({_ROLE} = 'organisation_lead' AND "
            f"organisation_code = {_ORG})")
    write = f"{_ROLE} = 'organisation_lead' AND organisation_code = {_ORG}"
    statements = [
        "ALTER TABLE actions ENABLE ROW LEVEL SECURITY",
        f"CREATE POLICY service_scope ON actions USING ({service}) WITH CHECK ({service})",
        f"CREATE POLICY person_read ON actions FOR SELECT USING ({read})",
        f"CREATE POLICY person_insert ON actions FOR INSERT WITH CHECK ({write})",
        f"CREATE POLICY person_update ON actions FOR UPDATE USING ({write}) WITH CHECK ({write})",
        f"CREATE POLICY person_delete ON actions FOR DELETE USING ({write})",
    ]
    for table in ("action_themes", "action_reviews"):
        # a link is visible exactly when its action is (the subquery runs under the actions
        # policies of whoever asks); a person writes links of their own organisation's actions
        parent = f"EXISTS (SELECT 1 FROM actions a WHERE a.id = {table}.action_id)"
        link_write = (f"EXISTS (SELECT 1 FROM actions a WHERE a.id = {table}.action_id AND "
                      f"{_ROLE} = 'organisation_lead' AND a.organisation_code = {_ORG})")
        statements += [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"CREATE POLICY service_scope ON {table} USING ({_SERVICE} AND {parent}) "
            f"WITH CHECK ({_SERVICE} AND {parent})",
            f"CREATE POLICY person_read ON {table} FOR SELECT USING ({_ROLE} IS NOT NULL AND "
            f"{parent})",
            f"CREATE POLICY person_insert ON {table} FOR INSERT WITH CHECK ({link_write})",
            f"CREATE POLICY person_delete ON {table} FOR DELETE USING ({link_write})",
        ]
    statements.append("""DO $$ BEGIN
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sjr_person') THEN
                GRANT SELECT, INSERT, UPDATE, DELETE ON actions TO sjr_person;
                GRANT SELECT, INSERT, DELETE ON action_themes, action_reviews TO sjr_person;
            END IF;
        END $$""")
    return statements


def downgrade() -> None:
    op.drop_table("action_reviews")
    op.drop_table("action_themes")
    op.drop_index(op.f("ix_actions_organisation_code"), table_name="actions")
    op.drop_table("actions")
