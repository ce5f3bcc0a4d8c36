"""training: trainers, training records, training cases, calibration rounds, answers (issue 15)

Revision ID: 0009_training
Revises: 0008_actions

Tables (:mod:`data_access.training_models`; ``shared/spec/training.md``):

- ``trainers``: tier one trainers, public by design: name and work contact as agreed to publish,
  organisation, region, trained on, active.
- ``training_records``: reviewer (pseudonymous id, organisation), trainer, date, session,
  refresher dates (JSON list).
- ``training_cases``: fictional case summaries and the panel's reference answers.
- ``calibration_rounds`` (cases as a JSON list, window, optional organisation) and
  ``calibration_round_members`` (the group of reviewers).
- ``calibration_answers``: a reviewer's answers to a training case in a round, in a table of
  their own so that nothing that reads ``reviews`` (every Learning from Deaths figure and report)
  can count them.

On PostgreSQL (row-level security like revisions ``0003_security`` and ``0006_themes``):
trainers, training cases and rounds are readable by every person; trainers and cases are written
by the programme team; rounds by the programme team or, for their organisation, its lead.
Training records, round members and answers are scoped: a reviewer reads their own, a lead their
organisation's, the programme team all; records and members are written by the programme team
or the organisation's lead; answers by the reviewer themselves (never to a locked-out round: the
access layer checks the window) or their lead. The service path scopes by organisation
(``sjr_organisation_visible``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_training"
down_revision = "0008_actions"
branch_labels = None
depends_on = None

_PHASES = ("admission", "ongoing", "procedure", "perioperative", "end_of_life", "overall")

_ROLE = "(SELECT sjr_person_role())"
_ORG = "(SELECT sjr_person_organisation())"
_REVIEWER = "(SELECT sjr_person_reviewer())"
_SERVICE = "(SELECT sjr_is_service())"


def _scores(*, overall_required: bool = False) -> list[sa.Column]:
    return [sa.Column(f"score_{p}", sa.Integer(),
                      nullable=not (overall_required and p == "overall")) for p in _PHASES]


def _check(sql: str, table: str, name: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(sql, name=op.f(f"ck_{table}_{name}"))


def _score_checks(table: str) -> list[sa.CheckConstraint]:
    checks = [_check(f"score_{p} IS NULL OR (score_{p} BETWEEN 1 AND 5)", table, f"score_{p}")
              for p in _PHASES]
    checks.append(_check("avoidability_score IS NULL OR (avoidability_score BETWEEN 1 AND 6)",
                         table, "avoidability_score"))
    return checks


def upgrade() -> None:
    op.create_table(
        "trainers",
        sa.Column("trainer_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=True),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("trained_on", sa.Date(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.PrimaryKeyConstraint("trainer_id", name=op.f("pk_trainers")),
    )
    op.create_table(
        "training_records",
        sa.Column("record_id", sa.String(length=32), nullable=False),
        sa.Column("organisation_code", sa.String(length=16), nullable=False),
        sa.Column("reviewer_id", sa.String(length=64), nullable=False),
        sa.Column("trainer_id", sa.String(length=32), nullable=True),
        sa.Column("trained_on", sa.Date(), nullable=False),
        sa.Column("session", sa.String(length=200), nullable=False),
        sa.Column("refresher_dates", sa.Text(), server_default="[]", nullable=False),
        sa.Column("recorded_by", sa.String(length=128), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.ForeignKeyConstraint(["organisation_code"], ["organisations.code"],
                                name=op.f("fk_training_records_organisation_code_organisations")),
        sa.ForeignKeyConstraint(["trainer_id"], ["trainers.trainer_id"],
                                name=op.f("fk_training_records_trainer_id_trainers")),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_training_records")),
    )
    op.create_index(op.f("ix_training_records_organisation_code"), "training_records",
                    ["organisation_code"])
    op.create_table(
        "training_cases",
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("fictional", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("care", sa.String(length=16), nullable=False),
        *_scores(overall_required=True),
        sa.Column("avoidability_score", sa.Integer(), nullable=True),
        sa.Column("problems", sa.Text(), server_default="{}", nullable=False),
        sa.Column("themes", sa.Text(), server_default="[]", nullable=False),
        sa.Column("panel", sa.String(length=200), nullable=False),
        sa.Column("case_set", sa.String(length=40), nullable=False),
        sa.Column("imported_by", sa.String(length=128), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        _check("fictional", "training_cases", "fictional"),
        _check("care = 'good' OR care = 'adequate' OR care = 'poor'", "training_cases", "care"),
        *_score_checks("training_cases"),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_training_cases")),
    )
    op.create_table(
        "calibration_rounds",
        sa.Column("round_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("organisation_code", sa.String(length=16), nullable=True),
        sa.Column("case_ids", sa.Text(), nullable=False),
        sa.Column("opens_on", sa.Date(), nullable=False),
        sa.Column("closes_on", sa.Date(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        _check("closes_on >= opens_on", "calibration_rounds", "window"),
        sa.ForeignKeyConstraint(["organisation_code"], ["organisations.code"],
                                name=op.f("fk_calibration_rounds_organisation_code_"
                                          "organisations")),
        sa.PrimaryKeyConstraint("round_id", name=op.f("pk_calibration_rounds")),
    )
    op.create_table(
        "calibration_round_members",
        sa.Column("round_id", sa.String(length=40), nullable=False),
        sa.Column("organisation_code", sa.String(length=16), nullable=False),
        sa.Column("reviewer_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["calibration_rounds.round_id"],
                                ondelete="CASCADE",
                                name=op.f("fk_calibration_round_members_round_id_"
                                          "calibration_rounds")),
        sa.ForeignKeyConstraint(["organisation_code"], ["organisations.code"],
                                name=op.f("fk_calibration_round_members_organisation_code_"
                                          "organisations")),
        sa.PrimaryKeyConstraint("round_id", "organisation_code", "reviewer_id",
                                name=op.f("pk_calibration_round_members")),
    )
    op.create_table(
        "calibration_answers",
        sa.Column("answer_id", sa.String(length=32), nullable=False),
        sa.Column("round_id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("organisation_code", sa.String(length=16), nullable=False),
        sa.Column("reviewer_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("form_version", sa.String(length=16), nullable=True),
        *_scores(),
        sa.Column("avoidability_score", sa.Integer(), nullable=True),
        sa.Column("problems", sa.Text(), server_default="{}", nullable=False),
        sa.Column("themes", sa.Text(), server_default="[]", nullable=False),
        sa.Column("comments", sa.Text(), server_default="{}", nullable=False),
        sa.Column("answered_by", sa.String(length=128), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        _check("status = 'draft' OR status = 'submitted'", "calibration_answers", "status"),
        *_score_checks("calibration_answers"),
        sa.ForeignKeyConstraint(["round_id"], ["calibration_rounds.round_id"],
                                ondelete="CASCADE",
                                name=op.f("fk_calibration_answers_round_id_calibration_rounds")),
        sa.ForeignKeyConstraint(["case_id"], ["training_cases.case_id"],
                                name=op.f("fk_calibration_answers_case_id_training_cases")),
        sa.ForeignKeyConstraint(["organisation_code"], ["organisations.code"],
                                name=op.f("fk_calibration_answers_organisation_code_"
                                          "organisations")),
        sa.PrimaryKeyConstraint("answer_id", name=op.f("pk_calibration_answers")),
        sa.UniqueConstraint("round_id", "case_id", "organisation_code", "reviewer_id",
                            name=op.f("uq_calibration_answers_round_id_case_id_"
                                      "organisation_code_reviewer_id")),
    )
    op.create_index(op.f("ix_calibration_answers_organisation_code"), "calibration_answers",
                    ["organisation_code"])
    if op.get_bind().dialect.name == "postgresql":
        for statement in _postgresql():
            op.execute(statement)


def _postgresql() -> list[str]:
    service_scoped = f"{_SERVICE} AND sjr_organisation_visible(organisation_code)"
    scoped_read = (f"{_ROLE} = 'programme_team' OR (organisation_code = {_ORG} AND ("
                   f"{_ROLE} = 'organisation_lead' OR ({_ROLE} = 'reviewer' AND "
                   f"reviewer_id = {_REVIEWER})))")
    lead_or_programme = (f"{_ROLE} = 'programme_team' OR ({_ROLE} = 'organisation_lead' AND "
                         f"organisation_code = {_ORG})")
    answer_write = (f"organisation_code = {_ORG} AND ({_ROLE} = 'organisation_lead' OR "
                    f"({_ROLE} = 'reviewer' AND reviewer_id = {_REVIEWER}))")
    round_write = (f"{_ROLE} = 'programme_team' OR ({_ROLE} = 'organisation_lead' AND "
                   f"organisation_code IS NOT DISTINCT FROM {_ORG})")
    statements: list[str] = []
    for table, write in (("trainers", f"{_ROLE} = 'programme_team'"),
                         ("training_cases", f"{_ROLE} = 'programme_team'"),
                         ("calibration_rounds", round_write)):
        statements += _policies(table, _SERVICE, f"{_ROLE} IS NOT NULL", write)
    for table, write in (("training_records", lead_or_programme),
                         ("calibration_round_members", lead_or_programme),
                         ("calibration_answers", answer_write)):
        statements += _policies(table, service_scoped, scoped_read, write)
    statements.append("""DO $$ BEGIN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sjr_person') THEN
            GRANT SELECT, INSERT, UPDATE, DELETE ON trainers, training_records, training_cases,
                calibration_rounds, calibration_round_members, calibration_answers
                TO sjr_person;
        END IF;
    END $$""")
    return statements


def _policies(table: str, service: str, read: str, write: str) -> list[str]:
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"CREATE POLICY service_scope ON {table} USING ({service}) WITH CHECK ({service})",
        f"CREATE POLICY person_read ON {table} FOR SELECT USING ({read})",
        f"CREATE POLICY person_insert ON {table} FOR INSERT WITH CHECK ({write})",
        f"CREATE POLICY person_update ON {table} FOR UPDATE USING ({write}) WITH CHECK ({write})",
        f"CREATE POLICY person_delete ON {table} FOR DELETE USING ({write})",
    ]


def downgrade() -> None:
    op.drop_index(op.f("ix_calibration_answers_organisation_code"),
                  table_name="calibration_answers")
    op.drop_table("calibration_answers")
    op.drop_table("calibration_round_members")
    op.drop_table("calibration_rounds")
    op.drop_table("training_cases")
    op.drop_index(op.f("ix_training_records_organisation_code"), table_name="training_records")
    op.drop_table("training_records")
    op.drop_table("trainers")
