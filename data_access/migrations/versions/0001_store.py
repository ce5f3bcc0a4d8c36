"""Store tables: organisations, reviewers, reviews and their parts, deaths.

Revision ID: 0001_store
Revises: (none)

Frozen copy of the schema as first released: vocabularies are written out here rather than read
from ``sjrlib.domain``, so a later change to the code cannot rewrite history. Change the schema with
a new revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_store"
down_revision = None
branch_labels = None
depends_on = None

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_YES_NO_UNKNOWN = ("yes", "no", "unknown")


def _check(sql: str, name: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(sql, name=op.f(name))


def _one_of(column: str, values: tuple[str, ...], *, nullable: bool = True) -> str:
    """``column = 'a' OR column = 'b' ...`` (an ``IN`` list costs SQLite a temporary table per
    checked row, making bulk inserts several times slower)."""
    check = " OR ".join(f"{column} = '{v}'" for v in values)
    return f"{column} IS NULL OR ({check})" if nullable else f"({check})"


def _fk(table: str, column: str, target: str, **kw) -> sa.ForeignKeyConstraint:
    referred_table = target.split(".")[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{referred_table}"), **kw
    )


def _now() -> sa.sql.functions.now:
    return sa.func.now()


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("nation", sa.String(16), nullable=False),
        sa.Column("region", sa.String(100), nullable=True),
        _check(_one_of("nation", ("england", "scotland"), nullable=False),
               "ck_organisations_nation"),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_organisations")),
    )
    op.create_table(
        "deaths",
        sa.Column("organisation_code", sa.String(16), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("deaths_in_scope", sa.Integer(), nullable=False),
        sa.Column("learning_disability_deaths", sa.Integer(), nullable=False),
        _check("deaths_in_scope >= 0", "ck_deaths_deaths_in_scope"),
        _check(
            "learning_disability_deaths >= 0 AND learning_disability_deaths <= deaths_in_scope",
            "ck_deaths_learning_disability_deaths",
        ),
        _fk("deaths", "organisation_code", "organisations.code"),
        sa.PrimaryKeyConstraint("organisation_code", "month", name=op.f("pk_deaths")),
    )
    op.create_table(
        "reviewers",
        sa.Column("reviewer_id", sa.String(64), nullable=False),
        sa.Column("organisation_code", sa.String(16), nullable=True),
        _fk("reviewers", "organisation_code", "organisations.code"),
        sa.PrimaryKeyConstraint("reviewer_id", name=op.f("pk_reviewers")),
    )
    op.create_table(
        "reviews",
        sa.Column("review_id", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=True),
        sa.Column("organisation_code", sa.String(16), nullable=False),
        sa.Column("review_stage", sa.String(16), nullable=False),
        sa.Column("second_review_of", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reviewer_id", sa.String(64), nullable=True),
        sa.Column("review_date", sa.Date(), nullable=True),
        sa.Column("age_at_death", sa.Integer(), nullable=True),
        sa.Column("sex", sa.String(16), nullable=True),
        sa.Column("postcode_district", sa.String(8), nullable=True),
        sa.Column("admission_weekday", sa.String(3), nullable=True),
        sa.Column("death_weekday", sa.String(3), nullable=True),
        sa.Column("arrival_hour", sa.Integer(), nullable=True),
        sa.Column("death_hour", sa.Integer(), nullable=True),
        sa.Column("days_to_death", sa.Integer(), nullable=True),
        sa.Column("death_month", sa.String(7), nullable=True),
        sa.Column("specialty", sa.String(100), nullable=True),
        sa.Column("location_of_death", sa.String(100), nullable=True),
        sa.Column("admission_type", sa.String(16), nullable=True),
        sa.Column("cause_of_death", sa.Text(), nullable=True),
        sa.Column("learning_disability", sa.String(8), nullable=True),
        sa.Column("severe_mental_illness", sa.String(8), nullable=True),
        sa.Column("record_quality_score", sa.Integer(), nullable=True),
        sa.Column("any_problems", sa.String(8), nullable=True),
        sa.Column("avoidability_score", sa.Integer(), nullable=True),
        sa.Column("avoidability_scale", sa.String(8), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(),
                  nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(),
                  nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=True),
        _check(_one_of("review_stage", ("first", "second"), nullable=False),
               "ck_reviews_review_stage"),
        _check(_one_of("status", ("draft", "submitted", "locked"), nullable=False),
               "ck_reviews_status"),
        _check(_one_of("sex", ("male", "female", "unknown")), "ck_reviews_sex"),
        _check(_one_of("admission_weekday", _WEEKDAYS),
               "ck_reviews_admission_weekday"),
        _check(_one_of("death_weekday", _WEEKDAYS),
               "ck_reviews_death_weekday"),
        _check(_one_of("admission_type", ("emergency", "elective", "transfer", "other")),
               "ck_reviews_admission_type"),
        _check(_one_of("learning_disability", _YES_NO_UNKNOWN),
               "ck_reviews_learning_disability"),
        _check(_one_of("severe_mental_illness", _YES_NO_UNKNOWN),
               "ck_reviews_severe_mental_illness"),
        _check(_one_of("any_problems", ("yes", "no")),
               "ck_reviews_any_problems"),
        _check("age_at_death IS NULL OR (age_at_death BETWEEN 18 AND 120)",
               "ck_reviews_age_at_death"),
        _check("arrival_hour IS NULL OR (arrival_hour BETWEEN 0 AND 23)",
               "ck_reviews_arrival_hour"),
        _check("death_hour IS NULL OR (death_hour BETWEEN 0 AND 23)", "ck_reviews_death_hour"),
        _check("days_to_death IS NULL OR days_to_death >= 0", "ck_reviews_days_to_death"),
        _check("record_quality_score IS NULL OR (record_quality_score BETWEEN 1 AND 5)",
               "ck_reviews_record_quality_score"),
        _check("avoidability_score IS NULL OR (avoidability_score BETWEEN 1 AND 6)",
               "ck_reviews_avoidability_score"),
        _check(_one_of("avoidability_scale", ("rcp", "prism")),
               "ck_reviews_avoidability_scale"),
        _check("avoidability_score IS NULL OR avoidability_scale = 'rcp'",
               "ck_reviews_avoidability_rcp"),
        _check("second_review_of IS NULL OR second_review_of <> review_id",
               "ck_reviews_second_review_of_other"),
        _check("version >= 1", "ck_reviews_version"),
        _fk("reviews", "organisation_code", "organisations.code"),
        _fk("reviews", "reviewer_id", "reviewers.reviewer_id"),
        _fk("reviews", "second_review_of", "reviews.review_id"),
        sa.PrimaryKeyConstraint("review_id", name=op.f("pk_reviews")),
    )
    op.create_index(op.f("ix_reviews_organisation_code"), "reviews", ["organisation_code"])
    op.create_index(op.f("ix_reviews_death_month"), "reviews", ["death_month"])
    op.create_index(op.f("ix_reviews_review_stage"), "reviews", ["review_stage"])
    op.create_index(op.f("ix_reviews_status"), "reviews", ["status"])
    op.create_index(op.f("ix_reviews_organisation_code_death_month"), "reviews",
                    ["organisation_code", "death_month"])
    op.create_table(
        "phase_assessments",
        sa.Column("review_id", sa.String(64), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        _check(_one_of("phase", ("admission", "ongoing", "procedure", "perioperative",
                                 "end_of_life", "overall"), nullable=False),
               "ck_phase_assessments_phase"),
        _check("score IS NULL OR (score BETWEEN 1 AND 5)", "ck_phase_assessments_score"),
        _fk("phase_assessments", "review_id", "reviews.review_id", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("review_id", "phase", name=op.f("pk_phase_assessments")),
    )
    op.create_table(
        "problems",
        sa.Column("review_id", sa.String(64), nullable=False),
        sa.Column("problem_type", sa.String(16), nullable=False),
        sa.Column("harm", sa.String(8), nullable=False),
        _check(_one_of("problem_type", ("assessment", "medication", "treatment", "infection",
                                        "procedure", "monitoring", "resuscitation", "other"),
                       nullable=False), "ck_problems_problem_type"),
        _check(_one_of("harm", ("no", "probably", "yes"), nullable=False), "ck_problems_harm"),
        _fk("problems", "review_id", "reviews.review_id", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("review_id", "problem_type", name=op.f("pk_problems")),
    )
    op.create_table(
        "review_reasons",
        sa.Column("review_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        _check(_one_of("reason", ("family_concern", "staff_concern", "learning_disability",
                                  "severe_mental_illness", "alarm", "elective",
                                  "improvement_focus", "medical_examiner", "random_sample"),
                       nullable=False), "ck_review_reasons_reason"),
        _fk("review_reasons", "review_id", "reviews.review_id", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("review_id", "reason", name=op.f("pk_review_reasons")),
    )


def downgrade() -> None:
    for table in ("review_reasons", "problems", "phase_assessments", "reviews", "reviewers",
                  "deaths", "organisations"):
        op.drop_table(table)
