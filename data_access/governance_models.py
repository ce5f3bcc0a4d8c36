"""Governance tables: users, data access approvals, the audit log.

Declared on the store's shared :class:`data_access.models.Base`, so one Alembic history
(revision ``0002_governance``) covers them. See ``shared/spec/privacy-and-disclosure.md``.

- ``users``: who may use the data and in which role; a user is never deleted, only disabled, so
  the audit log keeps pointing at someone.
- ``approvals``: the register of DARG decisions. List-valued fields (applicants, organisations,
  fields) are JSON arrays in text columns, the same on SQLite and PostgreSQL.
- approvals' pseudonym secrets are not in the database: they live in the approval key file
  (:mod:`data_access.approval_keys`; revision ``0005_approval_safety`` moved them out).
- ``audit_log``: append-only, hash-chained; ``audit_head`` is its single-row chain head (last id
  and hash), which serialises concurrent appends and reveals a deleted last entry.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from data_access.models import Base, child_key, child_keys, in_vocabulary, organisation_column
from data_access.roles import ROLES
from sjrlib.form.registry import ID_WIDTH

__all__ = ["ACTION_STATUSES", "Action", "ActionReview", "ActionTheme", "Approval",
           "AuditEntry", "AuditHead", "User"]

APPROVAL_STATUSES = ("active", "revoked")
COARSENINGS = ("month", "quarter")


class User(Base):
    """A person who may use the data, with one role (and, for some roles, an organisation)."""

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(128), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    organisation_code: Mapped[str | None] = mapped_column(ForeignKey("organisations.code"))
    reviewer_id: Mapped[str | None] = mapped_column(String(64))
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                           server_default=false())
    # PostgreSQL: the person's own LOGIN role (revision 0003_security); unique per store
    db_role: Mapped[str | None] = mapped_column(String(63), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )

    __table_args__ = (
        CheckConstraint(in_vocabulary("role", ROLES, nullable=False), name="role"),
        CheckConstraint(
            "role NOT IN ('reviewer', 'organisation_lead') OR organisation_code IS NOT NULL",
            name="organisation_for_role",
        ),
        CheckConstraint("role <> 'reviewer' OR reviewer_id IS NOT NULL",
                        name="reviewer_id_for_reviewer"),
    )


class Approval(Base):
    """One data access approval (a DARG decision) and what it releases."""

    __tablename__ = "approvals"

    approval_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    applicants: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list of usernames
    purpose: Mapped[str] = mapped_column(Text, nullable=False)
    organisations: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list of codes
    period_start: Mapped[str] = mapped_column(String(7), nullable=False)  # death month YYYY-MM
    period_end: Mapped[str] = mapped_column(String(7), nullable=False)
    fields: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list of column names
    free_text: Mapped[bool] = mapped_column(Boolean, nullable=False)
    date_coarsening: Mapped[str] = mapped_column(String(8), nullable=False)
    start_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    end_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    k: Mapped[int] = mapped_column(Integer, nullable=False, server_default="5")  # k-anonymity
    deaths: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )

    __table_args__ = (
        CheckConstraint(in_vocabulary("status", APPROVAL_STATUSES, nullable=False),
                        name="status"),
        CheckConstraint(in_vocabulary("date_coarsening", COARSENINGS, nullable=False),
                        name="date_coarsening"),
        CheckConstraint("end_date >= start_date", name="dates"),
        CheckConstraint("period_end >= period_start", name="period"),
        CheckConstraint("k >= 2", name="k"),
    )


class AuditEntry(Base):
    """One audit entry. ``entry_hash = sha256(prev_hash + canonical JSON of the entry)``."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40), nullable=False)  # ISO 8601 UTC, as hashed
    username: Mapped[str] = mapped_column(String(128), nullable=False)
    role: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    scope: Mapped[str] = mapped_column(Text, nullable=False)  # canonical JSON object
    rows: Mapped[int | None] = mapped_column(Integer)
    approval_id: Mapped[str | None] = mapped_column(String(64))
    tool: Mapped[str] = mapped_column(String(64), nullable=False)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    entry_hash: Mapped[str] = mapped_column(String(64), nullable=False)


class AuditHead(Base):
    """The chain head: one row (``id = 1``) holding the last entry's id and hash."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(Integer, nullable=False)
    last_hash: Mapped[str] = mapped_column(String(64), nullable=False)

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)


# --------------------------------------------------------------- actions (issue 13) ----
ACTION_STATUSES = ("open", "in_progress", "completed", "dropped")
"""The states of an action (``shared/spec/learning.md``), in the order they are usually met."""


class Action(Base):
    """An action an organisation agreed in response to learning (revision ``0008_actions``).

    ``description`` is screened for identifiers before it is stored; ``owner_role`` is a role,
    never a person's name; ``measure`` (one of :data:`sjrlib.measures.MEASURES`) and
    ``change_month`` go together: the measure's SPC chart is rebased at that month. ``target``
    (optional, with a measure): the percentage the measure should reach, for the chart's
    assurance icon (on PostgreSQL also held by a check constraint, revision 0012).
    """

    __tablename__ = "actions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    organisation_code: Mapped[str] = mapped_column(ForeignKey("organisations.code"),
                                                   nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    owner_role: Mapped[str] = mapped_column(String(120), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    agreed_on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    completed_on: Mapped[dt.date | None] = mapped_column(Date)
    measure: Mapped[str | None] = mapped_column(String(64))
    change_month: Mapped[str | None] = mapped_column(String(7))
    target: Mapped[float | None] = mapped_column(Float)  # revision 0012_action_target
    recorded_by: Mapped[str] = mapped_column(String(64), nullable=False)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_by: Mapped[str] = mapped_column(String(64), nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (
        CheckConstraint(in_vocabulary("status", ACTION_STATUSES, nullable=False),
                        name="status"),
        CheckConstraint("due_on IS NULL OR due_on >= agreed_on", name="due"),
        CheckConstraint("completed_on IS NULL OR completed_on >= agreed_on", name="completed"),
        CheckConstraint("status <> 'completed' OR completed_on IS NOT NULL",
                        name="completed_dated"),
        CheckConstraint("(measure IS NULL) = (change_month IS NULL)", name="measure_month"),
        CheckConstraint("version >= 1", name="version"),
        Index(None, "organisation_code", "id", unique=True),  # the key of its links
    )


class ActionTheme(Base):
    """A theme an action answers (a link to the codebook's theme id)."""

    __tablename__ = "action_themes"

    action_id: Mapped[str] = mapped_column(String(32), nullable=False)
    theme: Mapped[str] = mapped_column(String(40), nullable=False)
    organisation_code: Mapped[str] = organisation_column()

    __table_args__ = child_keys("action_themes", "action_id", "theme", parent="actions")


class ActionReview(Base):
    """A review an action answers (a link, never its text)."""

    __tablename__ = "action_reviews"

    action_id: Mapped[str] = mapped_column(String(32), nullable=False)
    review_id: Mapped[str] = mapped_column(String(ID_WIDTH), nullable=False)
    organisation_code: Mapped[str] = organisation_column()

    __table_args__ = (*child_keys("action_reviews", "action_id", "review_id", parent="actions"),
                      child_key("review_id", "reviews", "review_id"))
