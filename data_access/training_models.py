"""Training and calibration tables (issue 15; ``shared/spec/training.md``).

Declared on the store's shared :class:`data_access.models.Base`; revision ``0009_training``
creates them. List-valued fields (refresher dates, a round's cases, a case's problems and themes)
are JSON arrays or objects in text columns, the same on SQLite and PostgreSQL, as approvals do.

- ``trainers``: tier one trainers, public by design (staff, not patients): the name and work
  contact each agreed to publish, organisation, region, date trained, active or not.
- ``training_records``: a reviewer (pseudonymous reviewer id, at an organisation) trained by a
  trainer on a date at a session, with refresher dates.
- ``training_cases``: fictional case summaries (``fictional`` is always true) with the reference
  answers an expert panel agreed.
- ``calibration_rounds`` and ``calibration_round_members``: a set of training cases, a group of
  reviewers, a window.
- ``calibration_answers``: a reviewer's answers to one training case in one round. **Never in
  ``reviews``**: no Learning from Deaths figure or report reads this table, so a training answer
  cannot be counted by construction (``tests/test_training_leak.py`` tries).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    func,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from data_access.models import Base
from sjrlib import domain

__all__ = ["CalibrationAnswer", "CalibrationRound", "CalibrationRoundMember", "Trainer",
           "TrainingCase", "TrainingRecord", "SCORED_PHASES"]

SCORED_PHASES: tuple[str, ...] = domain.PHASES
"""Phases with a score column on cases (reference) and answers: ``score_<phase>``."""


def _score(phase: str) -> Mapped[int | None]:
    return mapped_column(f"score_{phase}", Integer)


def _score_checks() -> tuple[CheckConstraint, ...]:
    checks = tuple(CheckConstraint(f"score_{p} IS NULL OR (score_{p} BETWEEN 1 AND 5)",
                                   name=f"score_{p}") for p in SCORED_PHASES)
    return checks + (CheckConstraint("avoidability_score IS NULL OR "
                                     "(avoidability_score BETWEEN 1 AND 6)",
                                     name="avoidability_score"),)


class Trainer(Base):
    """A tier one trainer, as published in the trainer directory."""

    __tablename__ = "trainers"

    trainer_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    contact: Mapped[str | None] = mapped_column(String(200))  # only as agreed to publish
    organisation: Mapped[str] = mapped_column(String(200), nullable=False)
    region: Mapped[str] = mapped_column(String(64), nullable=False)
    trained_on: Mapped[dt.date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=true())
    updated_by: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                    server_default=func.now())


class TrainingRecord(Base):
    """A reviewer's training: by whom, when, at which session; refresher dates."""

    __tablename__ = "training_records"

    record_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    organisation_code: Mapped[str] = mapped_column(ForeignKey("organisations.code"),
                                                   nullable=False, index=True)
    reviewer_id: Mapped[str] = mapped_column(String(64), nullable=False)
    trainer_id: Mapped[str | None] = mapped_column(ForeignKey("trainers.trainer_id"))
    trained_on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    session: Mapped[str] = mapped_column(String(200), nullable=False)
    refresher_dates: Mapped[str] = mapped_column(Text, nullable=False, server_default="[]")
    recorded_by: Mapped[str | None] = mapped_column(String(128))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                     server_default=func.now())


class TrainingCase(Base):
    """A fictional case summary with the panel's reference answers."""

    __tablename__ = "training_cases"

    case_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    summary: Mapped[str] = mapped_column(Text, nullable=False)
    fictional: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=true())
    care: Mapped[str] = mapped_column(String(16), nullable=False)  # good / adequate / poor
    score_admission: Mapped[int | None] = _score("admission")
    score_ongoing: Mapped[int | None] = _score("ongoing")
    score_procedure: Mapped[int | None] = _score("procedure")
    score_perioperative: Mapped[int | None] = _score("perioperative")
    score_end_of_life: Mapped[int | None] = _score("end_of_life")
    score_overall: Mapped[int] = mapped_column(Integer, nullable=False)
    avoidability_score: Mapped[int | None] = mapped_column(Integer)
    problems: Mapped[str] = mapped_column(Text, nullable=False, server_default="{}")
    themes: Mapped[str] = mapped_column(Text, nullable=False, server_default="[]")
    panel: Mapped[str] = mapped_column(String(200), nullable=False)
    case_set: Mapped[str] = mapped_column(String(40), nullable=False)
    imported_by: Mapped[str | None] = mapped_column(String(128))
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                     server_default=func.now())

    __table_args__ = (
        CheckConstraint("fictional", name="fictional"),
        CheckConstraint("care = 'good' OR care = 'adequate' OR care = 'poor'", name="care"),
        *_score_checks(),
    )


class CalibrationRound(Base):
    """A set of training cases scored independently by a group of reviewers in a window."""

    __tablename__ = "calibration_rounds"

    round_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    organisation_code: Mapped[str | None] = mapped_column(ForeignKey("organisations.code"))
    case_ids: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list, in order
    opens_on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    closes_on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    created_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                    server_default=func.now())

    __table_args__ = (CheckConstraint("closes_on >= opens_on", name="window"),)


class CalibrationRoundMember(Base):
    """One reviewer of a round's group."""

    __tablename__ = "calibration_round_members"

    round_id: Mapped[str] = mapped_column(
        ForeignKey("calibration_rounds.round_id", ondelete="CASCADE"), primary_key=True)
    organisation_code: Mapped[str] = mapped_column(ForeignKey("organisations.code"),
                                                   primary_key=True)
    reviewer_id: Mapped[str] = mapped_column(String(64), primary_key=True)

    # the key leads with organisation_code (revision 0034_scope_in_the_index)
    __table_args__ = (PrimaryKeyConstraint("organisation_code", "round_id", "reviewer_id"),)


class CalibrationAnswer(Base):
    """A reviewer's answers to one training case in one round (never a review)."""

    __tablename__ = "calibration_answers"

    answer_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    round_id: Mapped[str] = mapped_column(
        ForeignKey("calibration_rounds.round_id", ondelete="CASCADE"), nullable=False)
    case_id: Mapped[str] = mapped_column(ForeignKey("training_cases.case_id"), nullable=False)
    organisation_code: Mapped[str] = mapped_column(ForeignKey("organisations.code"),
                                                   nullable=False, index=True)
    reviewer_id: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    form_version: Mapped[str | None] = mapped_column(String(16))
    score_admission: Mapped[int | None] = _score("admission")
    score_ongoing: Mapped[int | None] = _score("ongoing")
    score_procedure: Mapped[int | None] = _score("procedure")
    score_perioperative: Mapped[int | None] = _score("perioperative")
    score_end_of_life: Mapped[int | None] = _score("end_of_life")
    score_overall: Mapped[int | None] = _score("overall")
    avoidability_score: Mapped[int | None] = mapped_column(Integer)
    problems: Mapped[str] = mapped_column(Text, nullable=False, server_default="{}")
    themes: Mapped[str] = mapped_column(Text, nullable=False, server_default="[]")
    comments: Mapped[str] = mapped_column(Text, nullable=False, server_default="{}")
    answered_by: Mapped[str | None] = mapped_column(String(128))
    answered_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                     server_default=func.now())

    __table_args__ = (
        # leads with organisation_code (revision 0034_scope_in_the_index)
        UniqueConstraint("organisation_code", "round_id", "case_id", "reviewer_id"),
        CheckConstraint("status = 'draft' OR status = 'submitted'", name="status"),
        *_score_checks(),
    )
