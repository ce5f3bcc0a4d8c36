"""form versions: form_version on every review (rcp2017 in place), ext2026 questions, referrals

Issue 12.

Revision ID: 0007_form_versions
Revises: 0006_themes

``shared/spec/form-versions.md``:

- ``reviews.form_version``: the version of the form a review was entered on. Every review
  stored before this revision was entered on the 2017 RCP form, so the column is added with the
  server default ``rcp2017``, which fills every existing row in place, and is NOT NULL from then
  on (a review without a version cannot be read correctly).
- the ``ext2026`` questions as nullable columns of ``reviews`` (blank on every ``rcp2017``
  review: the validation rules refuse an answer there), each checked against its answer list.
- ``referrals(review_id, referral_type, referral_status, referral_reference)``: the referrals
  on of a review, one row per type (the exchange format has one column per type), removed with
  their review.

Frozen copy of the schema as of this revision: answer lists are written out here rather than read
from the field registry (``sjrlib.form``), so a later change to the code cannot rewrite history.
``tests/test_store.py`` checks that the migrated schema equals the models (which the registry
derives).

On PostgreSQL the referrals follow their review's row-level security exactly as the review's
other child rows do (revision ``0003_security``): read when the review is readable, written on a
review the person may write. Downgrading drops the referrals and the ext2026 answers (there is
no 2017 column to keep them in) and ``form_version``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_form_versions"
down_revision = "0006_themes"
branch_labels = None
depends_on = None

_FORM_VERSIONS = ("rcp2017", "ext2026")
_YN_UNKNOWN = ("yes", "no", "unknown")
_ANSWERS: dict[str, tuple[str, ...]] = {
    "autism": _YN_UNKNOWN,
    "me_scrutiny": ("yes", "no", "unknown", "not_applicable"),
    "me_concern": _YN_UNKNOWN,
    "family_concern": _YN_UNKNOWN,
    "family_involved": ("yes", "no", "declined", "no_contact"),
    "family_feedback": ("yes", "not_yet", "declined", "not_applicable"),
    "escalation_plan": _YN_UNKNOWN,
    "dying_recognised": ("yes", "no", "not_applicable", "unknown"),
}
"""The ext2026 answer-list questions, in form order, and their answers."""
_REFERRAL_TYPES = ("leder", "coroner", "procurator_fiscal", "psii", "thematic_review",
                   "duty_of_candour", "complaint", "mortality_meeting", "safeguarding", "other")
_REFERRAL_STATUSES = ("considered_not_needed", "planned", "made", "completed")

_ROLE = "(SELECT sjr_person_role())"
_SERVICE = "(SELECT sjr_is_service())"


def _one_of(column: str, values: tuple[str, ...], *, nullable: bool = True) -> str:
    """``column = 'a' OR ...`` (an ``IN`` list costs SQLite a temporary table per checked row)."""
    check = " OR ".join(f"{column} = '{v}'" for v in values)
    return f"{column} IS NULL OR ({check})" if nullable else f"({check})"


def _columns() -> list[tuple[str, str]]:
    """``(column, DDL after its name)`` of the columns this revision adds to ``reviews``."""
    out = [("form_version", "VARCHAR(16) NOT NULL DEFAULT 'rcp2017' CONSTRAINT "
                            "ck_reviews_form_version CHECK "
                            f"({_one_of('form_version', _FORM_VERSIONS, nullable=False)})")]
    for column, answers in _ANSWERS.items():
        out.append((column, f"VARCHAR(16) CONSTRAINT ck_reviews_{column} CHECK "
                            f"({_one_of(column, answers)})"))
        if column == "autism":  # form order: the frailty score follows autism
            out.append(("clinical_frailty_scale",
                        "INTEGER CONSTRAINT ck_reviews_clinical_frailty_scale CHECK "
                        "(clinical_frailty_scale IS NULL OR "
                        "(clinical_frailty_scale BETWEEN 1 AND 9))"))
    return out


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN on both engines, each check written on its column: on
    # SQLite a batch "move and copy" of reviews would drop the old table, and with foreign keys
    # on that deletes every phase, problem, reason and theme code by cascade. The default fills
    # every stored review in place with rcp2017 (the form all of them were entered on).
    for column, ddl in _columns():
        op.execute(f"ALTER TABLE reviews ADD COLUMN {column} {ddl}")
    op.create_table(
        "referrals",
        sa.Column("review_id", sa.String(length=64), nullable=False),
        sa.Column("referral_type", sa.String(length=24), nullable=False),
        sa.Column("referral_status", sa.String(length=24), nullable=False),
        sa.Column("referral_reference", sa.String(length=40), nullable=True),
        sa.CheckConstraint(_one_of("referral_type", _REFERRAL_TYPES, nullable=False),
                           name=op.f("ck_referrals_referral_type")),
        sa.CheckConstraint(_one_of("referral_status", _REFERRAL_STATUSES, nullable=False),
                           name=op.f("ck_referrals_referral_status")),
        # SQLite does not hold a VARCHAR to its length
        sa.CheckConstraint("referral_reference IS NULL OR length(referral_reference) <= 40",
                           name=op.f("ck_referrals_referral_reference")),
        sa.ForeignKeyConstraint(["review_id"], ["reviews.review_id"], ondelete="CASCADE",
                                name=op.f("fk_referrals_review_id_reviews")),
        sa.PrimaryKeyConstraint("review_id", "referral_type", name=op.f("pk_referrals")),
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in _postgresql():
            op.execute(statement)


def _postgresql() -> list[str]:
    """The policies of revision 0003's child tables (``phase_assessments`` and the others)."""
    parent = "EXISTS (SELECT 1 FROM reviews r WHERE r.review_id = referrals.review_id)"
    write = "sjr_writes_review_id(review_id)"
    return [
        "ALTER TABLE referrals ENABLE ROW LEVEL SECURITY",
        f"CREATE POLICY service_scope ON referrals USING ({_SERVICE} AND {parent}) "
        f"WITH CHECK ({_SERVICE} AND {parent})",
        f"CREATE POLICY person_read ON referrals FOR SELECT USING ({_ROLE} IS NOT NULL AND "
        f"{parent})",
        f"CREATE POLICY person_insert ON referrals FOR INSERT WITH CHECK ({write})",
        f"CREATE POLICY person_update ON referrals FOR UPDATE USING ({write}) "
        f"WITH CHECK ({write})",
        f"CREATE POLICY person_delete ON referrals FOR DELETE USING ({write})",
        """DO $$ BEGIN
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sjr_person') THEN
                GRANT SELECT, INSERT, UPDATE, DELETE ON referrals TO sjr_person;
            END IF;
        END $$""",
    ]


def downgrade() -> None:
    op.drop_table("referrals")
    for column, _ddl in reversed(_columns()):
        op.execute(f"ALTER TABLE reviews DROP COLUMN {column}")
