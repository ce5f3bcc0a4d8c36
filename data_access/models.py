"""The store's tables as a typed SQLAlchemy 2 ORM.

One shared :data:`Base` (and so one ``MetaData``) for every table of the store: the governance
tables (users, approvals, audit log) are declared on the same ``Base`` in their own module, so one
Alembic history covers everything.

A review is split the way the form is: the review-level fields on ``reviews``; one row per scored
(or commented) phase in ``phase_assessments``; one row per problem present in ``problems``; one row
per reason in ``review_reasons``; one row per referral on in ``referrals``. Every review records
its ``form_version``; the columns of the questions added after the 2017 form (``ext2026``) are
made from their declarations in the field registry (:func:`question_columns`). Check
constraints mirror the domain vocabularies of :mod:`sjrlib.domain`, so even a hand-written
``INSERT`` cannot store a care score of 7 or a child.

No direct identifier has a column here: no name, no NHS/CHI number, no date of birth, no full
postcode (``postcode_district`` holds the outward code only; the validation rules enforce that).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Text,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sjrlib import domain
from sjrlib.form.registry import ID_WIDTH
from sjrlib.rules import ORGANISATION_SPECS

_ORGANISATION_WIDTH = {name: spec.max_length for name, spec in ORGANISATION_SPECS.items()}

__all__ = [
    "Base",
    "Death",
    "Organisation",
    "PhaseAssessment",
    "Problem",
    "Referral",
    "Review",
    "ReviewReason",
    "Reviewer",
    "in_vocabulary",
    "question_columns",
]

# Deterministic constraint names, so later migrations (and SQLite batch mode) can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base shared by every table of the store (store and governance)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def in_vocabulary(column: str, values: tuple[object, ...], *, nullable: bool = True) -> str:
    """SQL text of a check that ``column`` holds one of ``values`` (or NULL when nullable).

    Written as ``column = 'a' OR column = 'b' ...`` rather than ``column IN (...)``: SQLite
    builds a temporary table for an ``IN`` list on every checked row, which made bulk imports
    several times slower.
    """
    check = " OR ".join(
        f"{column} = " + (f"'{v}'" if isinstance(v, str) else str(v)) for v in values)
    return f"{column} IS NULL OR ({check})" if nullable else f"({check})"


def _between(column: str, low: int, high: int) -> str:
    return f"{column} IS NULL OR ({column} BETWEEN {low} AND {high})"


def _timestamp() -> Mapped[dt.datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class Organisation(Base):
    """An acute NHS trust (ODS code) or Scottish health board (GSS code)."""

    __tablename__ = "organisations"

    code: Mapped[str] = mapped_column(String(_ORGANISATION_WIDTH["organisation_code"]),
                                      primary_key=True)
    name: Mapped[str] = mapped_column(String(_ORGANISATION_WIDTH["name"]), nullable=False)
    nation: Mapped[str] = mapped_column(String(16), nullable=False)
    region: Mapped[str | None] = mapped_column(String(_ORGANISATION_WIDTH["region"]))

    __table_args__ = (
        CheckConstraint(in_vocabulary("nation", domain.NATIONS, nullable=False), name="nation"),
    )


def organisation_column() -> Mapped[str]:
    """``organisation_code`` of a review's or an action's child row (revision
    0035_children_scope): its parent's, held so by the key to it, and the first column of every
    key of the child table, so a lead's or reviewer's scope is an index condition there."""
    return mapped_column(String(_ORGANISATION_WIDTH["organisation_code"]), nullable=False)


def child_keys(table: str, *key: str, parent: str = "reviews") -> tuple:
    """A child table's primary key ``(organisation_code, *key)`` and its foreign key
    ``(organisation_code, review_id)`` to ``reviews`` (``action_id`` to ``actions``)."""
    column, referred = ("review_id", "review_id") if parent == "reviews" else ("action_id", "id")
    return (PrimaryKeyConstraint("organisation_code", *key, name=f"pk_{table}"),
            child_key(column, parent, referred))


def child_key(column: str, parent: str, referred: str) -> ForeignKeyConstraint:
    """``(organisation_code, column)`` to ``parent (organisation_code, referred)``, cascading."""
    return ForeignKeyConstraint(["organisation_code", column],
                                [f"{parent}.organisation_code", f"{parent}.{referred}"],
                                ondelete="CASCADE", onupdate="CASCADE")


class Reviewer(Base):
    """A pseudonymous reviewer reference (never a name), with the organisation first seen."""

    __tablename__ = "reviewers"

    reviewer_id: Mapped[str] = mapped_column(String(ID_WIDTH), primary_key=True)
    organisation_code: Mapped[str | None] = mapped_column(ForeignKey("organisations.code"))


class Review(Base):
    """One structured judgement review: the review-level fields of the exchange format.

    ``version`` starts at 1 and goes up by one on every change; it is the ORM's
    ``version_id_col``, and :func:`data_access.store.save_review` checks it the same way, so two
    people editing the same review cannot silently overwrite each other.
    """

    __tablename__ = "reviews"

    review_id: Mapped[str] = mapped_column(String(ID_WIDTH), primary_key=True)
    case_id: Mapped[str | None] = mapped_column(String(ID_WIDTH))
    organisation_code: Mapped[str] = mapped_column(
        ForeignKey("organisations.code"), nullable=False
    )
    review_stage: Mapped[str] = mapped_column(String(16), nullable=False)
    second_review_of: Mapped[str | None] = mapped_column(ForeignKey("reviews.review_id"))
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    reviewer_id: Mapped[str | None] = mapped_column(ForeignKey("reviewers.reviewer_id"))
    review_date: Mapped[dt.date | None] = mapped_column(Date)
    age_at_death: Mapped[int | None] = mapped_column(Integer)
    sex: Mapped[str | None] = mapped_column(String(16))
    postcode_district: Mapped[str | None] = mapped_column(String(8))
    admission_weekday: Mapped[str | None] = mapped_column(String(3))
    death_weekday: Mapped[str | None] = mapped_column(String(3))
    arrival_hour: Mapped[int | None] = mapped_column(Integer)
    death_hour: Mapped[int | None] = mapped_column(Integer)
    days_to_death: Mapped[int | None] = mapped_column(Integer)
    death_month: Mapped[str | None] = mapped_column(String(7))
    specialty: Mapped[str | None] = mapped_column(String(100))
    location_of_death: Mapped[str | None] = mapped_column(String(100))
    admission_type: Mapped[str | None] = mapped_column(String(16))
    cause_of_death: Mapped[str | None] = mapped_column(Text)
    learning_disability: Mapped[str | None] = mapped_column(String(8))
    severe_mental_illness: Mapped[str | None] = mapped_column(String(8))
    record_quality_score: Mapped[int | None] = mapped_column(Integer)
    any_problems: Mapped[str | None] = mapped_column(String(8))
    avoidability_score: Mapped[int | None] = mapped_column(Integer)
    avoidability_scale: Mapped[str | None] = mapped_column(String(8))
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    created_at: Mapped[dt.datetime] = _timestamp()
    updated_at: Mapped[dt.datetime] = _timestamp()
    updated_by: Mapped[str | None] = mapped_column(String(64))
    # Revision 0010_review_hash: a hash of the review as last imported, valid while
    # content_hash_version equals version (every other write bumps version), so a re-import
    # finds unchanged reviews without reading them back (data_access.bulk.content_hashes).
    content_hash: Mapped[int | None] = mapped_column(BigInteger)
    content_hash_version: Mapped[int | None] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint(
            in_vocabulary("review_stage", domain.REVIEW_STAGES, nullable=False),
            name="review_stage",
        ),
        CheckConstraint(in_vocabulary("status", domain.STATUSES, nullable=False), name="status"),
        CheckConstraint(in_vocabulary("sex", domain.SEXES), name="sex"),
        CheckConstraint(in_vocabulary("admission_weekday", domain.WEEKDAYS),
                        name="admission_weekday"),
        CheckConstraint(in_vocabulary("death_weekday", domain.WEEKDAYS), name="death_weekday"),
        CheckConstraint(in_vocabulary("admission_type", domain.ADMISSION_TYPES),
                        name="admission_type"),
        CheckConstraint(in_vocabulary("learning_disability", domain.YES_NO_UNKNOWN),
                        name="learning_disability"),
        CheckConstraint(in_vocabulary("severe_mental_illness", domain.YES_NO_UNKNOWN),
                        name="severe_mental_illness"),
        CheckConstraint(in_vocabulary("any_problems", domain.YES_NO), name="any_problems"),
        CheckConstraint(_between("age_at_death", domain.MIN_AGE, domain.MAX_AGE),
                        name="age_at_death"),
        CheckConstraint(_between("arrival_hour", 0, 23), name="arrival_hour"),
        CheckConstraint(_between("death_hour", 0, 23), name="death_hour"),
        CheckConstraint("days_to_death IS NULL OR days_to_death >= 0", name="days_to_death"),
        CheckConstraint(_between("record_quality_score", 1, 5), name="record_quality_score"),
        CheckConstraint(_between("avoidability_score", 1, 6), name="avoidability_score"),
        CheckConstraint(in_vocabulary("avoidability_scale", domain.AVOIDABILITY_SCALES),
                        name="avoidability_scale"),
        # The store keeps the RCP direction only: PRISM scores are converted on load.
        CheckConstraint("avoidability_score IS NULL OR avoidability_scale = 'rcp'",
                        name="avoidability_rcp"),
        CheckConstraint("second_review_of IS NULL OR second_review_of <> review_id",
                        name="second_review_of_other"),
        CheckConstraint("version >= 1", name="version"),
        # Every index leads with organisation_code but the key (revision
        # 0034_scope_in_the_index): a lead's or reviewer's scope is then an index condition on
        # PostgreSQL, and no scan of theirs fetches another organisation's row.
        Index(None, "organisation_code", "review_id", unique=True),  # the children's key
        Index(None, "organisation_code", "death_month"),
        Index(None, "organisation_code", "review_stage"),
        Index(None, "organisation_code", "status"),
    )


class PhaseAssessment(Base):
    """Care score and explicit judgement comment of one phase of care of one review."""

    __tablename__ = "phase_assessments"

    review_id: Mapped[str] = mapped_column(String(ID_WIDTH), nullable=False)
    phase: Mapped[str] = mapped_column(String(16), nullable=False)
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    organisation_code: Mapped[str] = organisation_column()

    __table_args__ = (
        *child_keys("phase_assessments", "review_id", "phase"),
        CheckConstraint(in_vocabulary("phase", domain.PHASES, nullable=False), name="phase"),
        CheckConstraint(_between("score", 1, 5), name="score"),
    )


class Problem(Base):
    """A problem in care found by a review, with whether it led to harm."""

    __tablename__ = "problems"

    review_id: Mapped[str] = mapped_column(String(ID_WIDTH), nullable=False)
    problem_type: Mapped[str] = mapped_column(String(16), nullable=False)
    harm: Mapped[str] = mapped_column(String(8), nullable=False)
    organisation_code: Mapped[str] = organisation_column()

    __table_args__ = (
        *child_keys("problems", "review_id", "problem_type"),
        CheckConstraint(in_vocabulary("problem_type", domain.PROBLEM_TYPES, nullable=False),
                        name="problem_type"),
        CheckConstraint(in_vocabulary("harm", domain.HARM_VALUES, nullable=False), name="harm"),
    )


class ReviewReason(Base):
    """One reason why a case was reviewed (NQB categories); a review may have several."""

    __tablename__ = "review_reasons"

    review_id: Mapped[str] = mapped_column(String(ID_WIDTH), nullable=False)
    reason: Mapped[str] = mapped_column(String(32), nullable=False)
    organisation_code: Mapped[str] = organisation_column()

    __table_args__ = (
        *child_keys("review_reasons", "review_id", "reason"),
        CheckConstraint(in_vocabulary("reason", domain.REVIEW_REASONS, nullable=False),
                        name="reason"),
    )


class Death(Base):
    """The denominator: adult inpatient deaths in scope per organisation and month."""

    __tablename__ = "deaths"

    organisation_code: Mapped[str] = mapped_column(
        ForeignKey("organisations.code"), primary_key=True
    )
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    deaths_in_scope: Mapped[int] = mapped_column(Integer, nullable=False)
    learning_disability_deaths: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (
        CheckConstraint("deaths_in_scope >= 0", name="deaths_in_scope"),
        CheckConstraint(
            "learning_disability_deaths >= 0 AND learning_disability_deaths <= deaths_in_scope",
            name="learning_disability_deaths",
        ),
    )


# ------------------------------------------------------------------- form versions (issue 12) --
# Revision 0007_form_versions. The review columns of the questions added after the 2017 form, and
# form_version itself, are made from their declarations in the field registry, so a new question
# gets its column (and the check of its answer list) from its one entry there; the migration
# that adds it writes the same column out (``tests/test_store.py`` compares the two).

_ANSWER_WIDTH = 16
"""Width of a text answer column of a question added after the 2017 form."""


def question_columns(reg=None) -> list[tuple[str, object, CheckConstraint | None]]:
    """``(column, mapped column, check or None)`` for ``form_version`` and every single-answer
    question the 2017 form did not ask, in form order, from the field registry ``reg``
    (default: the project's)."""
    from sjrlib.form.registry import BASE_VERSION, FORM_VERSION_COLUMN, Field, Kind, registry

    reg = reg or registry()
    out: list[tuple[str, object, CheckConstraint | None]] = []
    version = reg.question(FORM_VERSION_COLUMN)
    out.append((FORM_VERSION_COLUMN,
                mapped_column(String(_ANSWER_WIDTH), nullable=False, server_default=BASE_VERSION),
                CheckConstraint(in_vocabulary(FORM_VERSION_COLUMN, version.answers.ids,
                                              nullable=False), name=FORM_VERSION_COLUMN)))
    for question in reg.fields():
        if not isinstance(question, Field) or question.asked_in(BASE_VERSION):
            continue
        name = question.id
        if question.kind in (Kind.SCORE, Kind.INTEGER):
            values = question.answers.values if question.answers is not None else ()
            low = min(values) if values else question.low
            high = max(values) if values else question.high
            check = (_between(name, low, high) if high is not None
                     else f"{name} IS NULL OR {name} >= {low}")
            out.append((name, mapped_column(Integer), CheckConstraint(check, name=name)))
        elif question.kind is Kind.ANSWERS:
            answers = question.answers.ids
            if max(map(len, answers)) > _ANSWER_WIDTH:
                raise ValueError(f"{name}: an answer is longer than {_ANSWER_WIDTH} "
                                 "characters; widen the column in a migration")
            out.append((name, mapped_column(String(_ANSWER_WIDTH)),
                        CheckConstraint(in_vocabulary(name, answers), name=name)))
        elif question.kind in (Kind.TEXT, Kind.FREE_TEXT):
            limit = question.max_length
            out.append((name, mapped_column(String(limit) if limit else Text),
                        CheckConstraint(f"{name} IS NULL OR length({name}) <= {limit}",
                                        name=name) if limit else None))
        else:
            raise ValueError(f"{name}: no store column for a {question.kind} question "
                             "added after the 2017 form; add it here and in a migration")
    return out


for _name, _column, _check in question_columns():
    setattr(Review, _name, _column)  # declarative adds it to the reviews table
    if _check is not None:
        Review.__table__.append_constraint(_check)
del _name, _column, _check


def _referral_question():
    from sjrlib.form.registry import registry

    return registry().question("referral")


class Referral(Base):
    """A referral on to another process (LeDeR, coroner, PSII...): one row per type a review
    answered, with its status and an optional external reference (screened free text)."""

    __tablename__ = "referrals"

    review_id: Mapped[str] = mapped_column(String(ID_WIDTH), nullable=False)
    referral_type: Mapped[str] = mapped_column(String(24), nullable=False)
    referral_status: Mapped[str] = mapped_column(String(24), nullable=False)
    referral_reference: Mapped[str | None] = mapped_column(String(40))
    organisation_code: Mapped[str] = organisation_column()

    __table_args__ = (
        *child_keys("referrals", "review_id", "referral_type"),
        CheckConstraint(in_vocabulary("referral_type", _referral_question().types.ids,
                                      nullable=False), name="referral_type"),
        CheckConstraint(in_vocabulary("referral_status", _referral_question().value.answers.ids,
                                      nullable=False), name="referral_status"),
        # SQLite does not hold a VARCHAR to its length
        CheckConstraint("referral_reference IS NULL OR length(referral_reference) <= "
                        f"{_referral_question().companion.max_length}",
                        name="referral_reference"),
    )
