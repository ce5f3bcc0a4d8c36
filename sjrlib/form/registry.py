"""The field registry: one declaration per question of the SJR form, every use derived from it.

Each question is declared once, as a :class:`Field` (one answer per review) or a
:class:`ChildRows` (several rows per review: phase assessments, problems in care, referrals on),
in the spirit of pandera's ``Field`` and pydantic models. From these declarations the project
derives the domain vocabularies and the review frame (:mod:`sjrlib.domain`), how each
exchange-format column is read and checked (:mod:`sjrlib.rules`), the consistency rules declared
here as :class:`When` conditions, the exchange-format columns of each form version
(:mod:`sjrlib.io`), the researchers' free-text and redaction lists
(:mod:`data_access.pseudonymise`), the columns reports drop (:mod:`sjrlib.report.data`), the
columns statistics may group by (:mod:`sjrlib.stats._reviews`) and the entry form's widgets,
hints and wording. Adding a question is adding one entry to :data:`FIELDS` (see
``docs/adding-a-question.md``).

Answer lists and their labels for people are kept in one table, ``sjrlib/data/labels.csv``
(vocabulary, id, label, note), so a wording can be corrected without touching code; a field
names its list by id.

Form versions (``shared/spec/form-versions.md``): every review records the version of the form
it was entered on (:data:`FORM_VERSION_COLUMN`); a question lists the versions that ask it. A
blank ``form_version`` means :data:`BASE_VERSION` (``rcp2017``), so every file made before form
versions imports as it did.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cache
from importlib import resources

__all__ = [
    "BASE_VERSION",
    "FORM_VERSIONS",
    "FORM_VERSION_COLUMN",
    "LATEST_VERSION",
    "NATION",
    "SECTIONS",
    "Answer",
    "AnswerList",
    "ChildRows",
    "Column",
    "Field",
    "Kind",
    "Privacy",
    "Registry",
    "Section",
    "When",
    "Pairing",
    "answer_list",
    "label_table",
    "register",
    "registry",
]

FORM_VERSION_COLUMN = "form_version"
"""The exchange-format column (and review-frame column) that names a review's form version."""
BASE_VERSION = "rcp2017"
"""The 2017 RCP form: every review entered before form versions; a blank ``form_version``."""
LATEST_VERSION = "ext2026"
"""The version new reviews are entered on (this project's extension, not an RCP publication)."""
FORM_VERSIONS: tuple[str, ...] = (BASE_VERSION, LATEST_VERSION)
"""Every form version, oldest first."""
NATION = "nation"

ID_WIDTH = 64
"""The most characters of a reference (``review_id``, ``case_id``, ``second_review_of``,
``reviewer_id``): a rule on every file and form, and the width of the store's columns."""
"""A :class:`When` may read this name: the nation of the review's organisation, known from the
form of its code (a 3-character ODS code: ``england``; a ``S08`` GSS code: ``scotland``)."""


class Kind(StrEnum):
    """What sort of answer a question takes (decides how its cells are read and its widget)."""

    ID = "id"
    """A pseudonymous reference (review, case, reviewer), kept as written but for spaces."""
    TEXT = "text"
    """A short line of text (a reference), screened for identifiers."""
    FREE_TEXT = "free_text"
    """Prose written by the reviewer; kept as written, screened for identifiers."""
    ANSWERS = "answers"
    """One answer from an answer list (a code)."""
    SCORE = "score"
    """A whole number from a labelled scale (care score 1-5, Clinical Frailty Scale 1-9)."""
    INTEGER = "integer"
    """A whole number within a range (age, hour, days)."""
    DATE = "date"
    MONTH = "month"
    POSTCODE = "postcode"
    """The outward part of a postcode only."""
    MULTI_CHOICE = "multi_choice"
    """Several answers of one list in one cell, ``;``-separated (review reasons)."""


class Privacy(StrEnum):
    """What a field's values say about a person, and so how each audience may see them."""

    PSEUDONYMOUS_ID = "pseudonymous_id"
    """An identifier-free reference: screened for identifiers on entry, replaced by a keyed
    pseudonym for researchers."""
    QUASI_IDENTIFIER = "quasi_identifier"
    """Harmless alone, identifying in combination (age, postcode district, dates): generalised
    for researchers (:mod:`data_access.anonymity`)."""
    CATEGORY = "category"
    """A coded answer or score."""
    FREE_TEXT = "free_text"
    """Text a person wrote: screened for identifiers on entry and on import, never in a report,
    released to researchers only when their approval says so, and then redacted."""


_SCREENED_PRIVACY = (Privacy.PSEUDONYMOUS_ID, Privacy.FREE_TEXT)


@dataclass(frozen=True)
class When:
    """A condition on other answers of the same review, checked by the rule ``rule``.

    ``columns`` are review columns (or :data:`NATION`); the condition holds when *any* of them
    is one of ``is_in``, or (``at_least``) is a number at least that. ``says`` words the
    condition for people ("the patient was 65 or over") in error messages and form hints.
    """

    rule: str
    columns: tuple[str, ...]
    says: str
    is_in: tuple[str, ...] = ()
    at_least: int | None = None

    def __post_init__(self) -> None:
        if bool(self.is_in) == (self.at_least is not None):
            raise ValueError(f"When {self.rule!r}: give exactly one of is_in or at_least")


@dataclass(frozen=True)
class Answer:
    """One answer of a list: ``id`` (code), ``label`` for people, optional ``only_when``."""

    id: str
    label: str
    note: str = ""
    only_when: When | None = None


@dataclass(frozen=True)
class AnswerList:
    """An answer list (a vocabulary of ``labels.csv``); ``numeric`` lists hold whole numbers."""

    id: str
    answers: tuple[Answer, ...]
    numeric: bool = False

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(a.id for a in self.answers)

    @property
    def values(self) -> tuple[int, ...] | tuple[str, ...]:
        """The answers as stored: ints for a numeric list, codes otherwise."""
        return tuple(int(i) for i in self.ids) if self.numeric else self.ids

    def labels(self) -> dict[str, str]:
        return {a.id: a.label for a in self.answers}

    def answer(self, answer_id: str) -> Answer:
        for a in self.answers:
            if a.id == answer_id:
                return a
        raise KeyError(f"{answer_id!r} is not an answer of {self.id}; answers: {self.ids}")

    def restricted(self, **conditions: When) -> AnswerList:
        """This list with ``only_when`` conditions on some answers (``coroner=When(...)``)."""
        unknown = set(conditions) - set(self.ids)
        if unknown:
            raise KeyError(f"{sorted(unknown)} are not answers of {self.id}")
        return replace(self, answers=tuple(
            replace(a, only_when=conditions.get(a.id, a.only_when)) for a in self.answers))


@cache
def label_table() -> dict[str, dict[str, tuple[str, str]]]:
    """``{vocabulary: {id: (label, note)}}`` from ``sjrlib/data/labels.csv``, in file order."""
    table: dict[str, dict[str, tuple[str, str]]] = {}
    with resources.files("sjrlib").joinpath("data/labels.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            table.setdefault(row["vocabulary"], {})[row["id"]] = (row["label"], row["note"])
    return table


def answer_list(vocabulary: str, *, numeric: bool = False) -> AnswerList:
    """The answer list ``vocabulary`` of ``labels.csv``."""
    try:
        rows = label_table()[vocabulary]
    except KeyError:
        known = ", ".join(sorted(label_table()))
        raise KeyError(f"unknown vocabulary {vocabulary!r}; known: {known}") from None
    return AnswerList(vocabulary, tuple(Answer(i, lab, note) for i, (lab, note) in rows.items()),
                      numeric=numeric)


@dataclass(frozen=True)
class Section:
    """A part of the form, in form order."""

    id: str
    label: str


SECTIONS: tuple[Section, ...] = (
    Section("filing", "Review"),
    Section("case", "Case details"),
    Section("screening", "Screening questions"),
    Section("reasons", "Why the case is reviewed"),
    Section("phases", "Phases of care"),
    Section("record", "Quality of the patient record"),
    Section("problems", "Problems in care"),
    Section("avoidability", "Avoidability of death"),
    Section("examiner_and_family", "Medical examiner and family"),
    Section("end_of_life", "Escalation planning and dying"),
    Section("referrals", "Referrals on"),
)


@dataclass(frozen=True)
class Field:
    """One question with one answer per review: one exchange-format column named ``id``.

    Attributes
    ----------
    id, label
        The column name (spec id) and the question as worded for people.
    kind
        :class:`Kind`.
    answers
        The answer list (``ANSWERS``, ``SCORE``, ``MULTI_CHOICE``).
    low, high
        Range of an ``INTEGER`` (``high`` ``None``: no upper bound).
    required
        Must be answered on every review (drafts excepted, :mod:`sjrlib.schema`).
    column_required
        Must a file have the column (default: ``required``).
    required_when
        Must be answered when this holds (a rule; drafts may leave it).
    only_when
        May be answered only when this holds (a rule).
    max_length
        At most this many characters (a rule).
    privacy
        :class:`Privacy`.
    versions
        The form versions that ask it.
    section
        The :class:`Section` id; form order within a section is declaration order.
    range_rule, range_message
        The rule id and message for a value outside ``low``-``high`` (``INTEGER``) or the
        answer list (``SCORE``); default ``<id>_range`` and "``{column} must be ...``"
        (``{column}``, ``{low}``, ``{high}`` are filled in).
    help
        A hint shown beside the widget (ranges, formats, what to leave blank).
    group_by
        Statistics may group reviews by it (a category, not a number to average).
    files_draft
        A draft is filed under it: required even on a draft (:mod:`sjrlib.schema` spares drafts
        the other completeness rules).
    workflow
        Filled in by the workflow (the entry form's toolbar, the second-stage queue, the save),
        never typed as an answer: the entry form shows no widget for it.
    note
        Where the wording comes from when it is not the spec's.
    """

    id: str
    label: str
    kind: Kind
    section: str
    privacy: Privacy = Privacy.CATEGORY
    answers: AnswerList | None = None
    low: int | None = None
    high: int | None = None
    required: bool = False
    column_required: bool | None = None
    required_when: When | None = None
    only_when: When | None = None
    max_length: int | None = None
    versions: tuple[str, ...] = FORM_VERSIONS
    help: str = ""
    group_by: bool = False
    files_draft: bool = False
    workflow: bool = False
    note: str = ""
    range_rule: str = ""
    range_message: str = ""

    def __post_init__(self) -> None:
        if self.kind in (Kind.ANSWERS, Kind.SCORE, Kind.MULTI_CHOICE) and self.answers is None:
            raise ValueError(f"field {self.id}: a {self.kind} question needs an answer list")
        if self.kind is Kind.FREE_TEXT and self.privacy is not Privacy.FREE_TEXT:
            raise ValueError(f"field {self.id}: free text has privacy class free_text")
        unknown = set(self.versions) - set(FORM_VERSIONS)
        if unknown or not self.versions:
            raise ValueError(f"field {self.id}: versions {sorted(unknown)} are not form "
                             f"versions {FORM_VERSIONS}")
        if self.section not in {s.id for s in SECTIONS}:
            raise ValueError(f"field {self.id}: unknown section {self.section!r}")

    def asked_in(self, version: str) -> bool:
        return version in self.versions

    def columns(self) -> tuple[Column, ...]:
        return (Column(self.id, self, self),)

    @property
    def bounds(self) -> tuple[int, int | None] | None:
        """``(low, high)`` of an ``INTEGER`` or ``SCORE`` (``high`` ``None``: unbounded)."""
        if self.kind is Kind.SCORE and self.answers is not None:
            return min(self.answers.values), max(self.answers.values)
        if self.kind is Kind.INTEGER and self.low is not None:
            return self.low, self.high
        return None


@dataclass(frozen=True)
class Pairing:
    """A rule tying a child row's companion column to its value column (``rule`` id;
    ``message`` with ``{value}`` and ``{companion}`` for the two column names)."""

    rule: str
    message: str


@dataclass(frozen=True)
class ChildRows:
    """A question answered once per type, stored as child rows of the review (one row per
    type answered) and written in the exchange format as one column per type.

    ``types`` lists the row types; ``value`` is the per-type answer, in column
    ``<value.id>_<type>`` (e.g. ``problem_medication``); ``companion``, when given, a second
    per-type answer in column ``<companion.id>_<type>`` (e.g. ``comment_admission``,
    ``referral_ref_coroner``). ``value.id`` and ``companion.id`` are column prefixes; their
    other attributes (kind, answers, privacy, required, max length...) apply to every column.
    ``required_types``: types whose value must always be given (the overall phase).
    ``companion_needs_value``: the companion may be filled only when the value is;
    ``companion_required_with_value``: it must be filled when the value is (each a
    :class:`Pairing`: rule id and message). Required types are left out of
    ``companion_needs_value`` (their blank value is the required rule's to report).
    """

    id: str
    label: str
    types: AnswerList
    value: Field
    section: str
    companion: Field | None = None
    required_types: tuple[str, ...] = ()
    companion_needs_value: Pairing | None = None
    companion_required_with_value: Pairing | None = None
    versions: tuple[str, ...] = FORM_VERSIONS
    help: str = ""
    note: str = ""

    @property
    def privacy(self) -> Privacy:
        return self.value.privacy

    def asked_in(self, version: str) -> bool:
        return version in self.versions

    def value_column(self, type_id: str) -> str:
        return f"{self.value.id}_{type_id}"

    def companion_column(self, type_id: str) -> str:
        if self.companion is None:
            raise KeyError(f"{self.id} has no companion column")
        return f"{self.companion.id}_{type_id}"

    def columns(self) -> tuple[Column, ...]:
        required = set(self.required_types)
        out = [Column(self.value_column(t),
                      replace(self.value, required=True) if t in required else self.value,
                      self, t) for t in self.types.ids]
        if self.companion is not None:
            # A required type's companion column must be in a file when the companion is
            # required with the value (its blank is then that rule's to report).
            needed = replace(self.companion, column_required=True)
            out += [Column(self.companion_column(t),
                           needed if t in required and self.companion_required_with_value
                           else self.companion, self, t) for t in self.types.ids]
        return tuple(out)

    def is_value_column(self, column: Column) -> bool:
        return column.child_type is not None and \
            column.name == self.value_column(column.child_type)


@dataclass(frozen=True)
class Column:
    """One exchange-format column: its name, the :class:`Field` declaring how it is read and
    checked, the question (``Field`` or ``ChildRows``) it belongs to, and for child rows the
    row type (``score_admission``: type ``admission``)."""

    name: str
    spec: Field
    question: Field | ChildRows
    child_type: str | None = None

    @property
    def kind(self) -> Kind:
        return self.spec.kind

    @property
    def privacy(self) -> Privacy:
        return self.spec.privacy

    @property
    def versions(self) -> tuple[str, ...]:
        return self.question.versions

    @property
    def label(self) -> str:
        if self.child_type is None:
            return self.spec.label
        assert isinstance(self.question, ChildRows)
        return f"{self.spec.label}: {self.question.types.labels()[self.child_type]}"


Question = Field | ChildRows


# --- the declarations -------------------------------------------------------------------------

_EXT = (LATEST_VERSION,)
_HOUR_MESSAGE = "{column} must be an hour {low}-{high}"
_CARE_SCORE_MESSAGE = (
    "{column} must be a care score 1-5 (1 = very poor care, 5 = excellent care); scores such as "
    "6 or 10 come from a legacy scale (1-6, 1-10) and must be mapped to 1-5 explicitly (a column "
    "mapping's values:), never guessed"
)

_ME_NATION_ENGLAND = When(
    "me_scrutiny_nation", (NATION,),
    "the organisation is an English trust (Scottish health boards answer not_applicable: "
    "Scotland has the Death Certification Review Service instead)", is_in=("england",))
_ME_NATION_SCOTLAND = When(
    "me_scrutiny_nation", (NATION,),
    "the organisation is a Scottish health board (English trusts have medical examiners)",
    is_in=("scotland",))


def _me_scrutiny_answers() -> AnswerList:
    base = answer_list("me_scrutiny")
    return base.restricted(yes=_ME_NATION_ENGLAND, no=_ME_NATION_ENGLAND,
                           unknown=_ME_NATION_ENGLAND, not_applicable=_ME_NATION_SCOTLAND)


def _referral_types() -> AnswerList:
    return answer_list("referral_type").restricted(
        coroner=When("coroner_only_england", (NATION,),
                     "the organisation is in England (coroners are English; in Scotland refer "
                     "to the Procurator Fiscal)", is_in=("england",)),
        procurator_fiscal=When("procurator_fiscal_only_scotland", (NATION,),
                               "the organisation is in Scotland (in England refer to the "
                               "coroner)", is_in=("scotland",)),
        leder=When("leder_only_learning_disability_or_autism",
                   ("learning_disability", "autism"),
                   "learning_disability or autism is yes (LeDeR reviews the deaths of people "
                   "with a learning disability and autistic people)", is_in=("yes",)),
    )


def _declare() -> tuple[Question, ...]:
    yes_no_unknown = answer_list("yes_no_unknown")
    yn_unknown = answer_list("yn_unknown")
    weekday = answer_list("weekday")
    pid, quasi, text = Privacy.PSEUDONYMOUS_ID, Privacy.QUASI_IDENTIFIER, Privacy.FREE_TEXT
    second = When("second_stage_needs_avoidability", ("review_stage",),
                  "the review is a second-stage review", is_in=("second",))
    return (
        # -- filing
        Field("review_id", "Review reference", Kind.ID, "filing", pid, required=True,
              files_draft=True, workflow=True, max_length=ID_WIDTH),
        Field("case_id", "Case reference", Kind.ID, "case", pid, required=True,
              files_draft=True, max_length=ID_WIDTH,
              help="local case reference, never an NHS number"),
        Field("organisation_code", "Organisation", Kind.ID, "filing", required=True,
              files_draft=True, help="ODS code (England) or GSS code (Scotland)"),
        Field("review_stage", "Stage of review", Kind.ANSWERS, "filing",
              answers=answer_list("review_stage"), required=True, group_by=True,
              files_draft=True, workflow=True),
        Field("second_review_of", "First-stage review followed", Kind.ID, "filing", pid,
              workflow=True, max_length=ID_WIDTH,
              help="for a second-stage review: the review_id of the first-stage review"),
        Field("status", "Status", Kind.ANSWERS, "filing", answers=answer_list("status"),
              group_by=True, workflow=True, help="imports default to submitted"),
        Field(FORM_VERSION_COLUMN, "Form version", Kind.ANSWERS, "filing",
              answers=answer_list("form_version"), workflow=True,
              help=f"blank means {BASE_VERSION}; {LATEST_VERSION} is this project's extension "
                   f"of the RCP 2017 form, not an RCP publication"),
        Field("reviewer_id", "Reviewer reference", Kind.TEXT, "filing", pid, required=True,
              files_draft=True, max_length=ID_WIDTH,
              help="pseudonymous reviewer reference"),
        Field("review_date", "Date of review", Kind.DATE, "filing", quasi, required=True,
              help="not before the month of death, not in the future"),
        Field("review_reasons", "Review reasons (at least one)", Kind.MULTI_CHOICE, "reasons",
              answers=answer_list("review_reason"), required=True, group_by=True),
        # -- case details (the minimised fields only)
        Field("age_at_death", "Age at death", Kind.INTEGER, "case", quasi, low=18, high=120,
              required=True, help="18-120", range_rule="age_adult",
              range_message="{column} must be {low}-{high}: the store holds adults only"),
        Field("sex", "Sex", Kind.ANSWERS, "case", quasi, answers=answer_list("sex"),
              group_by=True),
        Field("postcode_district", "Postcode district", Kind.POSTCODE, "case", quasi,
              help="outward part only, e.g. LS1"),
        Field("admission_weekday", "Day of admission", Kind.ANSWERS, "case", answers=weekday,
              group_by=True),
        Field("death_weekday", "Day of death", Kind.ANSWERS, "case", answers=weekday,
              group_by=True,
              help="the day of admission plus the days from arrival to death (or one day more, "
                   "counted in whole 24-hour periods past midnight), where given"),
        Field("arrival_hour", "Hour of arrival", Kind.INTEGER, "case", quasi, low=0, high=23,
              help="0-23", range_rule="hour_range", range_message=_HOUR_MESSAGE),
        Field("death_hour", "Hour of death", Kind.INTEGER, "case", quasi, low=0, high=23,
              help="0-23", range_rule="hour_range", range_message=_HOUR_MESSAGE),
        Field("days_to_death", "Days from arrival to death", Kind.INTEGER, "case", quasi,
              low=0, help="0 or more", range_rule="days_to_death_non_negative"),
        Field("death_month", "Month of death", Kind.MONTH, "case", quasi, required=True,
              help="YYYY-MM"),
        Field("specialty", "Specialty team at death", Kind.ANSWERS, "case", quasi,
              answers=answer_list("specialty"), group_by=True,
              help="the team caring for the patient when they died; 'Other' if it is not "
                   "listed"),
        Field("location_of_death", "Location of death", Kind.ANSWERS, "case",
              answers=answer_list("location_of_death"), group_by=True),
        Field("admission_type", "Type of admission", Kind.ANSWERS, "case",
              answers=answer_list("admission_type"), group_by=True),
        Field("cause_of_death", "Certified cause of death", Kind.FREE_TEXT, "case", text,
              help="if known"),
        # -- screening questions
        Field("learning_disability", "Learning disability", Kind.ANSWERS, "screening",
              answers=yes_no_unknown, group_by=True),
        Field("severe_mental_illness", "Severe mental illness", Kind.ANSWERS, "screening",
              answers=yes_no_unknown, group_by=True),
        Field("autism", "Was the patient autistic?", Kind.ANSWERS, "screening",
              answers=yn_unknown, versions=_EXT, group_by=True),
        Field("clinical_frailty_scale", "Clinical Frailty Scale score on admission",
              Kind.SCORE, "screening", answers=answer_list("clinical_frailty_scale",
                                                            numeric=True),
              versions=_EXT, group_by=True,
              only_when=When("frailty_only_65_and_over", ("age_at_death",),
                             "the patient was 65 or over", at_least=65),
              help="1 very fit ... 9 terminally ill (Rockwood); only for age 65 and over; "
                   "blank allowed"),
        # -- phases of care: score and explicit judgement comment per phase
        ChildRows(
            "phase_assessment", "Phases of care", answer_list("phase"),
            Field("score", "Care score", Kind.SCORE, "phases",
                  answers=answer_list("care_score", numeric=True), group_by=True,
                  range_rule="care_score_range", range_message=_CARE_SCORE_MESSAGE,
                  help="1 = very poor care, 5 = excellent care; blank when not applicable"),
            "phases",
            companion=Field("comment", "Explicit judgement comment", Kind.FREE_TEXT, "phases",
                            text),
            required_types=("overall",),
            companion_required_with_value=Pairing(
                "comment_required_when_scored",
                "{value} is scored but {companion} is empty: a scored phase needs an explicit "
                "judgement comment"),
            companion_needs_value=Pairing(
                "comment_blank_when_not_scored",
                "{companion} is filled in but {value} is blank: a phase that is not applicable "
                "has neither score nor comment (score it or clear the comment)"),
            help="every phase but overall may be not applicable (no score, no comment)"),
        Field("record_quality_score", "Quality of the patient record", Kind.SCORE, "record",
              answers=answer_list("record_quality_score", numeric=True), required=True,
              range_message="{column} must be {low}-{high} (1 = very poor, 5 = excellent)"),
        Field("any_problems", "Were there any problems in care?", Kind.ANSWERS, "problems",
              answers=answer_list("yes_no"), required=True, group_by=True),
        ChildRows(
            "problem", "Problems in care", answer_list("problem_type"),
            Field("problem", "Did the problem lead to harm?", Kind.ANSWERS, "problems",
                  answers=answer_list("harm")),
            "problems",
            help="blank = not present; otherwise the harm answer"),
        Field("avoidability_score", "Avoidability of death", Kind.SCORE, "avoidability",
              answers=answer_list("avoidability_score", numeric=True), required_when=second,
              help="required at second stage"),
        Field("avoidability_scale", "Avoidability scale", Kind.ANSWERS, "avoidability",
              answers=answer_list("avoidability_scale"), workflow=True,
              help="required when a score is given; stored on the RCP direction"),
        # -- ext2026: medical examiner and family
        Field("me_scrutiny", "Was the death scrutinised by a medical examiner?", Kind.ANSWERS,
              "examiner_and_family", answers=_me_scrutiny_answers(), versions=_EXT,
              group_by=True, help="Scottish health boards: not applicable"),
        Field("me_concern", "Did the medical examiner raise a concern about care?",
              Kind.ANSWERS, "examiner_and_family", answers=yn_unknown, versions=_EXT,
              group_by=True,
              only_when=When("me_concern_only_after_scrutiny", ("me_scrutiny",),
                             "me_scrutiny is yes (a concern follows scrutiny)",
                             is_in=("yes",)),
              help="only when the death was scrutinised by a medical examiner"),
        Field("family_concern",
              "Did the bereaved family or carers raise a concern about care?", Kind.ANSWERS,
              "examiner_and_family", answers=yn_unknown, versions=_EXT, group_by=True),
        Field("family_involved",
              "Were the family or carers told of the review and invited to contribute?",
              Kind.ANSWERS, "examiner_and_family", answers=answer_list("family_involved"),
              versions=_EXT, group_by=True),
        Field("family_feedback", "Have the findings been shared with the family or carers?",
              Kind.ANSWERS, "examiner_and_family", answers=answer_list("family_feedback"),
              versions=_EXT, group_by=True),
        # -- ext2026: escalation planning and recognition of dying
        Field("escalation_plan",
              "Was a treatment escalation plan (e.g. ReSPECT) in place and documented?",
              Kind.ANSWERS, "end_of_life", answers=yn_unknown, versions=_EXT, group_by=True),
        Field("dying_recognised", "Was it recognised in good time that the patient was dying?",
              Kind.ANSWERS, "end_of_life", answers=answer_list("dying_recognised"),
              versions=_EXT, group_by=True,
              help="not applicable for sudden, unexpected deaths"),
        # -- ext2026: referrals on
        ChildRows(
            "referral", "Referrals on", _referral_types(),
            Field("referral", "Referral status", Kind.ANSWERS, "referrals",
                  answers=answer_list("referral_status"), group_by=True),
            "referrals",
            companion=Field("referral_ref", "Referral reference", Kind.TEXT, "referrals",
                            text, max_length=40,
                            help="optional external reference, at most 40 characters; never "
                                 "a patient identifier"),
            versions=_EXT,
            companion_needs_value=Pairing(
                "referral_ref_needs_referral",
                "{companion} is filled in but {value} is blank: a reference belongs to a "
                "referral (give its status, or clear the reference)"),
            help="blank status = no referral of that type"),
    )


# --- the registry -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Registry:
    """The declared questions and everything derived from them.

    :func:`registry` returns the project's; tests build another with :meth:`with_question`
    (a question registered at test time flows everywhere a derived list is computed from the
    registry passed in).
    """

    questions: tuple[Question, ...]
    _by_column: dict[str, Column] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        by_column = self._by_column
        by_column.clear()
        ids = [q.id for q in self.questions]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"questions declared twice: {twice}")
        for q in self.questions:
            for c in q.columns():
                if c.name in by_column:
                    raise ValueError(f"column {c.name} declared twice")
                by_column[c.name] = c

    def with_question(self, question: Question, *, after: str | None = None) -> Registry:
        """A registry with ``question`` added (at the end, or after question ``after``)."""
        qs = list(self.questions)
        at = len(qs) if after is None else [q.id for q in qs].index(after) + 1
        qs.insert(at, question)
        return Registry(tuple(qs))

    # -- questions and columns
    def question(self, question_id: str) -> Question:
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(f"no question {question_id!r} in the registry")

    def fields(self, version: str | None = None) -> tuple[Question, ...]:
        """The questions in form order, of one version (default: every version)."""
        _check_version(version)
        return tuple(q for q in self.questions if version is None or q.asked_in(version))

    def column(self, name: str) -> Column:
        try:
            return self._by_column[name]
        except KeyError:
            raise KeyError(f"{name!r} is not a review column") from None

    def columns(self, version: str | None = None) -> tuple[Column, ...]:
        """Exchange-format columns (of one version, or of all), in the order of the review
        frame."""
        return tuple(c for q in self.fields(version) for c in q.columns())

    def column_names(self, version: str | None = None) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns(version))

    def columns_not_in(self, version: str) -> tuple[str, ...]:
        """Columns of questions ``version`` does not ask (must be blank on its reviews)."""
        _check_version(version)
        return tuple(c.name for c in self.columns() if version not in c.versions)

    def columns_for_versions(self, versions: Iterable[str]) -> tuple[str, ...]:
        """Columns an export of reviews of these versions writes (every version present)."""
        wanted = set(versions) | {BASE_VERSION}
        for v in wanted:
            _check_version(v)
        return tuple(c.name for c in self.columns() if wanted & set(c.versions))

    def child_rows(self) -> tuple[ChildRows, ...]:
        return tuple(q for q in self.questions if isinstance(q, ChildRows))

    # -- workflow
    def draft_filing_columns(self) -> frozenset[str]:
        """Columns a draft is filed under: required even on a draft (``files_draft``)."""
        return frozenset(c.name for c in self.columns() if getattr(c.spec, "files_draft", False))

    def workflow_columns(self) -> frozenset[str]:
        """Columns the workflow fills in, never typed as answers (``workflow``)."""
        return frozenset(c.name for c in self.columns() if getattr(c.spec, "workflow", False))

    # -- privacy
    def columns_of_privacy(self, *classes: Privacy, version: str | None = None,
                           ) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns(version) if c.privacy in classes)

    def free_text_columns(self, version: str | None = None) -> tuple[str, ...]:
        """Columns a person writes text into: screened for identifiers, never in a report,
        for researchers only with approval and then redacted."""
        return self.columns_of_privacy(Privacy.FREE_TEXT, version=version)

    def screened_columns(self, version: str | None = None) -> tuple[str, ...]:
        """Columns whose cells are screened for identifiers (free text and references)."""
        return self.columns_of_privacy(*_SCREENED_PRIVACY, version=version)

    # -- statistics
    def group_by_columns(self) -> dict[str, tuple]:
        """``{column: answers in list order}`` for each column statistics may group by."""
        return {c.name: c.spec.answers.values for c in self.columns()
                if c.spec.group_by and c.spec.answers is not None}

    # -- conditions
    def conditions(self) -> Iterator[tuple[Column, Answer | None, When]]:
        """Every declared ``only_when`` (of a column, or of one answer of it)."""
        for c in self.columns():
            if c.spec.only_when is not None:
                yield c, None, c.spec.only_when
            if c.spec.answers is not None:
                for a in c.spec.answers.answers:
                    if a.only_when is not None:
                        yield c, a, a.only_when
            if isinstance(c.question, ChildRows) and c.question.is_value_column(c):
                # A type answered only when ...: its value column may be filled only then.
                when = c.question.types.answer(c.child_type).only_when
                if when is not None:
                    yield c, None, when


def _check_version(version: str | None) -> None:
    if version is not None and version not in FORM_VERSIONS:
        raise KeyError(f"unknown form version {version!r}; form versions: "
                       f"{', '.join(FORM_VERSIONS)}")


_REGISTERED: list[tuple[Question, str | None]] = []


def register(question: Question, *, after: str | None = None) -> None:
    """Add a question to the project's registry (a local question, or one in a test), at the
    end of the form or after question ``after``.

    Everything derived from the registry is derived once, when first asked, so this must run
    before anything asks (before ``sjrlib.domain``, ``sjrlib.rules`` and the rest are
    imported); later it raises ``RuntimeError``.
    """
    if registry.cache_info().currsize:
        raise RuntimeError(f"register {question.id} before anything derives from the registry "
                           f"(before sjrlib.domain or sjrlib.rules is imported)")
    Registry((*_declare(), question))  # refuse a clash now, naming it
    _REGISTERED.append((question, after))


@cache
def registry() -> Registry:
    """The project's registry (built once, with any :func:`register` ed questions)."""
    built = Registry(_declare())
    for question, after in _REGISTERED:
        built = built.with_question(question, after=after)
    return built
