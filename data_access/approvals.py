"""The approvals register: data access decisions (DARG) and what each one releases.

An approval names its applicants (user names of researchers), purpose, organisations, period of
death months, the exchange-format fields released, whether free text is released, how dates are
coarsened (``month`` or ``quarter``), and the dates between which it may be used. It is either
``active`` or ``revoked``; an active one is only usable from its start date to its end date.
"If a use is not listed, it is not permitted": anything not in the approval is refused.

Approvals come from YAML files (``sjr approvals add FILE.yaml``) or command-line options; both go
through :class:`ApprovalSpec`, which refuses unknown keys and impossible values. A YAML file::

    id: DARG-2026-014
    applicants: [a.researcher]
    purpose: Variation in end-of-life care between trusts
    organisations: [RXX, RYY]
    period_start: "2025-04"        # death months covered
    period_end: "2026-03"
    fields: [review_id, case_id, organisation_code, death_month, age_at_death, score_overall]
    # theme_codes (a table linked by review_id: theme, phase, codebook version) may be listed
    free_text: false               # free-text fields need true (and are then redacted)
    date_coarsening: quarter       # month or quarter: the finest period released or asked for
    k: 5                           # every released combination of quasi-identifiers holds >= k
                                   # cases (default 5, at least 2): data_access.anonymity
    deaths: false                  # whether counts of deaths (the denominators) are released
    start_date: 2026-01-01
    end_date: 2026-12-31

Command line: ``sjr approvals add --id ... --k 10 --deaths``. A researcher's period filters must
follow the release's period unit (a quarterly approval cannot be asked one month at a time);
deaths counts are released only with ``deaths: true``.

Each approval gets a random 32-byte HMAC secret when it is added, used to pseudonymise ids for
that approval only. Secrets are kept outside the store, in a key file its readers cannot read
(:mod:`data_access.approval_keys`); a random secret per approval (rather than one derived from a
server key) cannot be recomputed from the approval id.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import Connection, text

from data_access import approval_keys
from data_access.anonymity import DEFAULT_K, MIN_K
from data_access.pseudonymise import FREE_TEXT_COLUMNS
from data_access.roles import RESEARCHER, AccessDenied
from sjrlib import domain
from sjrlib.privacy import describe, find_identifiers
from sjrlib.rules import uk_today
from sjrlib.yaml_files import YAMLFileError, load_yaml

__all__ = [
    "APPROVABLE_FIELDS",
    "FREE_TEXT_FIELDS",
    "LINKED_FIELDS",
    "THEME_CODES",
    "ApprovalError",
    "ApprovalRecord",
    "ApprovalSpec",
    "add_approval",
    "approval_secret",
    "check_usable",
    "get_approval",
    "list_approvals",
    "load_approval_file",
    "revoke_approval",
    "usable_approvals",
]

THEME_CODES = "theme_codes"
"""The field that releases the reviews' theme codes (``shared/spec/learning.md``): not a column
of the review frame but a linked table, one row per code, keyed by the pseudonymised
``review_id`` (:func:`data_access.pseudonymise.researcher_theme_codes`)."""

LINKED_FIELDS: tuple[str, ...] = (THEME_CODES,)
"""Fields released as a linked table beside the extract rather than as a column of it; each
needs ``review_id`` among the approval's fields (the key that links its rows)."""

APPROVABLE_FIELDS: tuple[str, ...] = (*domain.REVIEW_COLUMNS, "nation", "region",
                                      "review_sequence", *LINKED_FIELDS)
"""Fields an approval may release: the exchange-format columns, the joined nation/region,
``review_sequence`` (the order of a review among its case's reviews, 1 = earliest by date then
id), which lets statistics pick a case's primary review exactly although dates are coarsened,
and the linked tables of :data:`LINKED_FIELDS`."""

FREE_TEXT_FIELDS: frozenset[str] = FREE_TEXT_COLUMNS
"""Fields holding free text: released only when the approval says so, and then redacted."""

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class ApprovalError(ValueError):
    """An approval file or command is not a valid approval; the message says what to fix."""


class ApprovalSpec(BaseModel):
    """One approval as written in a YAML file or on the command line."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=64)
    applicants: tuple[str, ...] = Field(min_length=1)
    purpose: str = Field(min_length=1)
    organisations: tuple[str, ...] = Field(min_length=1)
    period_start: str
    period_end: str
    fields: tuple[str, ...] = Field(min_length=1)
    free_text: bool = False
    date_coarsening: str = "month"
    k: int = Field(default=DEFAULT_K, ge=MIN_K, le=1000)
    deaths: bool = False
    start_date: dt.date
    end_date: dt.date

    @field_validator("purpose")
    @classmethod
    def _purpose(cls, value: str) -> str:
        # The same screen as every other text (sjrlib.privacy); the message masks what it found.
        findings = find_identifiers(value)
        if findings:
            raise ValueError(f"the purpose contains what looks like an identifier: "
                             f"{describe(findings)}; describe the study, not a patient")
        return value

    @field_validator("period_start", "period_end")
    @classmethod
    def _month(cls, value: str) -> str:
        if not _MONTH.match(str(value)):
            raise ValueError(f"{value!r} is not a month written YYYY-MM")
        return str(value)

    @field_validator("start_date", "end_date", mode="before")
    @classmethod
    def _date(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(f"{value!r} is not a date written YYYY-MM-DD") from None
        return value

    @field_validator("date_coarsening")
    @classmethod
    def _coarsening(cls, value: str) -> str:
        if value not in ("month", "quarter"):
            raise ValueError("date_coarsening must be 'month' or 'quarter'")
        return value

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [f for f in value if f not in APPROVABLE_FIELDS]
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(unknown)}; fields are the "
                             "exchange-format column names (and nation, region, "
                             "review_sequence, theme_codes)")
        return tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def _consistent(self) -> ApprovalSpec:
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        if self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        text_fields = sorted(FREE_TEXT_FIELDS.intersection(self.fields))
        if text_fields and not self.free_text:
            raise ValueError(f"free-text field(s) {', '.join(text_fields)} need free_text: true")
        linked = [f for f in LINKED_FIELDS if f in self.fields]
        if linked and "review_id" not in self.fields:
            raise ValueError(f"{', '.join(linked)} are released as a table linked to the "
                             "reviews by review_id: list review_id among the fields too")
        return self


# The options of `sjr approvals add` that set each field, for messages about the command line.
_OPTIONS = {"id": "--id", "applicants": "--applicant", "purpose": "--purpose",
            "organisations": "--organisation", "period_start": "--period-start",
            "period_end": "--period-end", "fields": "--field", "free_text": "--free-text",
            "date_coarsening": "--date-coarsening", "k": "--k", "deaths": "--deaths",
            "start_date": "--start", "end_date": "--end"}
# Only the names that are no English word ("fields", "purpose" stay as they are in prose).
_FIELD_WORD = re.compile(rf"\b({'|'.join(k for k in _OPTIONS if '_' in k)})\b(?:: true)?")


def _spec(values: dict, source: str) -> ApprovalSpec:
    try:
        return ApprovalSpec(**values)
    except ValidationError as exc:
        options = source == "command line"
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            # pydantic's own prefix ("Value error, ") says nothing to the person reading it
            msg = err["msg"].removeprefix("Value error, ")
            if options:  # name what they typed: "--end is before --start", not end_date
                where = _OPTIONS.get(where, where)
                msg = _FIELD_WORD.sub(lambda m: _OPTIONS[m.group(1)], msg)
            lines.append(f"{source}: {where}: {msg}" if where else f"{source}: {msg}")
        raise ApprovalError("\n".join(lines)) from None
    except TypeError as exc:
        raise ApprovalError(f"{source}: {exc}") from None


def load_approval_file(path: str | Path) -> list[ApprovalSpec]:
    """Read one approval (a mapping) or several (a list of mappings) from a YAML file."""
    path = Path(path)
    try:
        loaded = load_yaml(path)  # safe, with limits on size, nesting and aliases
    except YAMLFileError as exc:
        raise ApprovalError(f"{path}: cannot read approval file: {exc}") from None
    items = loaded if isinstance(loaded, list) else [loaded]
    specs = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise ApprovalError(f"{path}: approval {number} is not a mapping of field: value")
        specs.append(_spec(item, f"{path} (approval {number})"))
    return specs


def spec_from_values(values: dict, source: str = "command line") -> ApprovalSpec:
    """Build and check an :class:`ApprovalSpec` from a mapping (e.g. command-line options)."""
    return _spec(values, source)


@dataclass(frozen=True)
class ApprovalRecord:
    """One approval as stored, with its status."""

    approval_id: str
    applicants: tuple[str, ...]
    purpose: str
    organisations: tuple[str, ...]
    period_start: str
    period_end: str
    fields: tuple[str, ...]
    free_text: bool
    date_coarsening: str
    start_date: dt.date
    end_date: dt.date
    status: str
    revoked_reason: str | None
    k: int = DEFAULT_K
    deaths: bool = False


def _as_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


_SELECT = (
    "SELECT approval_id, applicants, purpose, organisations, period_start, period_end, fields, "
    "free_text, date_coarsening, start_date, end_date, status, revoked_reason, k, deaths "
    "FROM approvals"
)


def _record(row) -> ApprovalRecord:
    return ApprovalRecord(
        approval_id=row[0],
        applicants=tuple(json.loads(row[1])),
        purpose=row[2],
        organisations=tuple(json.loads(row[3])),
        period_start=row[4],
        period_end=row[5],
        fields=tuple(json.loads(row[6])),
        free_text=bool(row[7]),
        date_coarsening=row[8],
        start_date=_as_date(row[9]),
        end_date=_as_date(row[10]),
        status=row[11],
        revoked_reason=row[12],
        k=int(row[13]),
        deaths=bool(row[14]),
    )


def add_approval(conn: Connection, spec: ApprovalSpec) -> ApprovalRecord:
    """Store an approval and make its secret (in the key file, :mod:`data_access.approval_keys`);
    checks organisations and applicants exist."""
    if get_approval(conn, spec.id) is not None:
        raise ApprovalError(f"approval {spec.id!r} already exists")
    known = {r[0] for r in conn.execute(text("SELECT code FROM organisations")).all()}
    unknown = [o for o in spec.organisations if o not in known]
    if unknown:
        raise ApprovalError(f"approval {spec.id}: unknown organisation(s) {', '.join(unknown)}")
    for applicant in spec.applicants:
        row = conn.execute(text("SELECT role FROM users WHERE username = :u"),
                           {"u": applicant}).first()
        if row is None or row[0] != RESEARCHER:
            raise ApprovalError(f"approval {spec.id}: applicant {applicant!r} is not a "
                                "registered researcher (`sjr users add NAME --role researcher`)")
    conn.execute(
        text("INSERT INTO approvals (approval_id, applicants, purpose, organisations, "
             "period_start, period_end, fields, free_text, date_coarsening, start_date, "
             "end_date, status, k, deaths) VALUES (:id, :applicants, :purpose, :organisations, "
             ":ps, :pe, :fields, :free_text, :coarsening, :start, :end, 'active', :k, "
             ":deaths)"),
        {
            "id": spec.id,
            "applicants": json.dumps(list(spec.applicants)),
            "purpose": spec.purpose,
            "organisations": json.dumps(sorted(spec.organisations)),
            "ps": spec.period_start,
            "pe": spec.period_end,
            "fields": json.dumps(list(spec.fields)),
            "free_text": spec.free_text,
            "coarsening": spec.date_coarsening,
            "start": spec.start_date,
            "end": spec.end_date,
            "k": spec.k,
            "deaths": spec.deaths,
        },
    )
    approval_keys.add_key(conn, spec.id)
    record = get_approval(conn, spec.id)
    assert record is not None
    return record


def get_approval(conn: Connection, approval_id: str) -> ApprovalRecord | None:
    """The approval ``approval_id``, or ``None``."""
    row = conn.execute(text(_SELECT + " WHERE approval_id = :id"), {"id": approval_id}).first()
    return None if row is None else _record(row)


def revoke_approval(conn: Connection, approval_id: str, reason: str) -> None:
    """Revoke an approval from now on; its sessions and extracts are refused at once."""
    done = conn.execute(
        text("UPDATE approvals SET status = 'revoked', revoked_at = :at, revoked_reason = :r "
             "WHERE approval_id = :id AND status = 'active'"),
        {"at": dt.datetime.now(dt.UTC), "r": reason, "id": approval_id},
    )
    if done.rowcount != 1:
        if get_approval(conn, approval_id) is None:
            raise ApprovalError(f"no approval {approval_id!r}")
        raise ApprovalError(f"approval {approval_id!r} is already revoked")


def list_approvals(conn: Connection, today: dt.date | None = None) -> pd.DataFrame:
    """All approvals, one row each, lists shown comma-separated. ``status`` is what the
    approval is today: ``revoked``, or, for one not revoked, ``active`` only between its start
    and end dates, else ``not yet started`` or ``ended`` (as :func:`check_usable` decides;
    the register listed an approval that had ended as ``active``)."""
    today = today or uk_today()
    records = [_record(r) for r in conn.execute(text(_SELECT + " ORDER BY approval_id")).all()]
    columns = list(ApprovalRecord.__dataclass_fields__)
    rows = []
    for rec in records:
        row = {c: getattr(rec, c) for c in columns}
        for c in ("applicants", "organisations", "fields"):
            row[c] = ", ".join(row[c])
        if rec.status == "active":
            row["status"] = ("not yet started" if today < rec.start_date else
                             "ended" if today > rec.end_date else "active")
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def check_usable(approval: ApprovalRecord | None, username: str, approval_id: str,
                 today: dt.date | None = None) -> ApprovalRecord:
    """Return the approval if ``username`` may use it today; else :class:`AccessDenied`."""
    today = today or uk_today()
    if approval is None or username not in approval.applicants:
        # same answer for "no such approval" and "not yours": do not reveal which exist
        raise AccessDenied(f"{username!r} holds no approval {approval_id!r}")
    if approval.status != "active":
        raise AccessDenied(f"approval {approval_id} was revoked"
                           + (f": {approval.revoked_reason}" if approval.revoked_reason else ""))
    if today < approval.start_date:
        raise AccessDenied(f"approval {approval_id} starts on {approval.start_date}")
    if today > approval.end_date:
        raise AccessDenied(f"approval {approval_id} ended on {approval.end_date}")
    return approval


def usable_approvals(conn: Connection, username: str,
                     today: dt.date | None = None) -> list[ApprovalRecord]:
    """Approvals ``username`` may use today."""
    found = []
    for row in conn.execute(text(_SELECT + " ORDER BY approval_id")).all():
        rec = _record(row)
        try:
            found.append(check_usable(rec, username, rec.approval_id, today))
        except AccessDenied:
            continue
    return found


def approval_secret(conn: Connection, approval_id: str) -> bytes:
    """The HMAC secret of one approval, from the key file. Internal to the access layer: never
    hand it out. Raises :class:`data_access.approval_keys.ApprovalKeyError` (an
    :class:`ApprovalError`) when the key file or the approval's key is missing."""
    try:
        return approval_keys.read_key(conn, approval_id)
    except approval_keys.ApprovalKeyError as exc:
        raise ApprovalError(str(exc)) from None
