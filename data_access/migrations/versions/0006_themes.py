"""themes: codebook versions and theme codes on reviews

Revision ID: 0006_themes
Revises: 0005_approval_safety

- ``codebook_versions(version, codebook, imported_by, imported_at)``: each version of the
  codebook of themes (``shared/spec/learning.md``), its whole text as YAML
  (:mod:`sjrlib.themes.codebook`). The shipped version ``2026.1`` is written here.
- ``theme_codes(id (random hex), review_id, theme, phase, codebook_version, coded_by, coded_at,
  from_suggestion)``: a theme a person gave a review (optionally one phase of it), under which
  codebook version, and whether it began as a machine suggestion the person accepted. A
  suggestion nobody accepted is never stored. One row per review, theme, phase and coder: two
  coders of the same review keep two rows (their agreement is measured).

On PostgreSQL the codes follow their review's row-level security (revision ``0003_security``):
a person reads a code when they may read its review, and writes one on a review of their
organisation (organisation leads) or on their own review (reviewers); the codebook is readable by
every person and written by the programme team.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0006_themes"
down_revision = "0005_approval_safety"
branch_labels = None
depends_on = None

_SHIPPED = Path(__file__).resolve().parents[3] / "sjrlib" / "data" / "codebook-2026.1.yaml"

_ROLE = "(SELECT sjr_person_role())"
_ORG = "(SELECT sjr_person_organisation())"
_REVIEWER = "(SELECT sjr_person_reviewer())"
_SERVICE = "(SELECT sjr_is_service())"


def upgrade() -> None:
    op.create_table(
        "codebook_versions",
        sa.Column("version", sa.String(length=16), nullable=False),
        sa.Column("codebook", sa.Text(), nullable=False),
        sa.Column("imported_by", sa.String(length=64), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_codebook_versions")),
    )
    op.create_table(
        "theme_codes",
        # A random id made by the access layer, not a sequence: a person role or a service role
        # then needs no grant beyond the table's.
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("review_id", sa.String(length=64), nullable=False),
        sa.Column("theme", sa.String(length=40), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=True),
        sa.Column("codebook_version", sa.String(length=16), nullable=False),
        sa.Column("coded_by", sa.String(length=64), nullable=False),
        sa.Column("coded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_suggestion", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(["review_id"], ["reviews.review_id"], ondelete="CASCADE",
                                name=op.f("fk_theme_codes_review_id_reviews")),
        sa.ForeignKeyConstraint(["codebook_version"], ["codebook_versions.version"],
                                name=op.f("fk_theme_codes_codebook_version_codebook_versions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_theme_codes")),
        sa.UniqueConstraint("review_id", "theme", "phase", "coded_by",
                            name=op.f("uq_theme_codes_review_id_theme_phase_coded_by")),
    )
    op.create_index(op.f("ix_theme_codes_review_id"), "theme_codes", ["review_id"])
    codebook = _SHIPPED.read_text(encoding="utf-8")
    op.get_bind().execute(
        sa.text("INSERT INTO codebook_versions (version, codebook, imported_by, imported_at) "
                "VALUES ('2026.1', :c, NULL, :t)"),
        {"c": codebook, "t": dt.datetime.now(dt.UTC)})
    if op.get_bind().dialect.name == "postgresql":
        for statement in _postgresql():
            op.execute(statement)


def _postgresql() -> list[str]:
    parent = "EXISTS (SELECT 1 FROM reviews r WHERE r.review_id = theme_codes.review_id)"
    write = ("EXISTS (SELECT 1 FROM reviews r WHERE r.review_id = theme_codes.review_id AND ("
             f"({_ROLE} = 'organisation_lead' AND r.organisation_code = {_ORG}) OR "
             f"({_ROLE} = 'reviewer' AND r.organisation_code = {_ORG} AND "
             f"r.reviewer_id = {_REVIEWER})))")
    return [
        "ALTER TABLE theme_codes ENABLE ROW LEVEL SECURITY",
        f"CREATE POLICY service_scope ON theme_codes USING ({_SERVICE} AND {parent}) "
        f"WITH CHECK ({_SERVICE} AND {parent})",
        f"CREATE POLICY person_read ON theme_codes FOR SELECT USING ({_ROLE} IS NOT NULL AND "
        f"{parent})",
        f"CREATE POLICY person_insert ON theme_codes FOR INSERT WITH CHECK ({write})",
        f"CREATE POLICY person_delete ON theme_codes FOR DELETE USING ({write})",
        "ALTER TABLE codebook_versions ENABLE ROW LEVEL SECURITY",
        f"CREATE POLICY service_all ON codebook_versions USING ({_SERVICE}) "
        f"WITH CHECK ({_SERVICE})",
        f"CREATE POLICY person_read ON codebook_versions FOR SELECT USING ({_ROLE} IS NOT NULL)",
        f"CREATE POLICY person_insert ON codebook_versions FOR INSERT "
        f"WITH CHECK ({_ROLE} = 'programme_team')",
        """DO $$ BEGIN
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sjr_person') THEN
                GRANT SELECT, INSERT, DELETE ON theme_codes TO sjr_person;
                GRANT SELECT, INSERT ON codebook_versions TO sjr_person;
            END IF;
        END $$""",
    ]


def downgrade() -> None:
    op.drop_index(op.f("ix_theme_codes_review_id"), table_name="theme_codes")
    op.drop_table("theme_codes")
    op.drop_table("codebook_versions")
