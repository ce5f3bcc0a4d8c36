"""The one door to the data: a scoped, audited session per user.

``open_session()`` finds who is asking (:mod:`data_access.identity`), checks they are a known,
enabled user, and returns a :class:`Session` whose every public method

1. runs in one transaction that first takes the audit chain lock (SQLite ``BEGIN IMMEDIATE``,
   PostgreSQL ``SELECT ... FOR UPDATE`` on the chain head), so the entry and the data agree;
   a read (:data:`_READ_ACTIONS`) on a SQLite file store whose lock an import or backup holds
   reads the store as it was before that writer instead, and audits through the audit queue
   (:mod:`data_access.audit`), so it does not wait;
2. checks again that the user exists and is not disabled, and that their role permits the action
   (:data:`data_access.roles.PERMISSIONS`);
3. works out the row scope (organisations, period) and, for researchers, the approval, and
   refuses (:class:`AccessDenied`) anything asked for outside it rather than silently narrowing;
4. on PostgreSQL sets ``sjr.organisations`` / ``sjr.all_organisations`` for the transaction,
   so the row-level security policies of revision ``0002_governance`` filter in the database too;
5. reads or writes through the unscoped store, then checks the rows are inside the scope;
6. appends an audit entry (who, role, action, scope, rows, approval, tool) and commits.
   A refused request is audited too (action ``<name>.denied`` with the reason).

Scopes (``shared/spec/privacy-and-disclosure.md``):

- reviewer: their own reviews at their own organisation, plus that organisation's second-stage
  queue (so they can pick up a second-stage review); writes their own reviews only.
- organisation lead: everything of their organisation; may lock reviews.
- programme team: all organisations, read only.
- researcher: only through an active, current approval they are an applicant of: its
  organisations, its period, its fields; ids pseudonymised per approval, dates coarsened, free
  text dropped or redacted; drafts are never released.
- administrator: users, approvals and the audit log; no review data.

Python cannot stop code running in the same process from reaching around this object; the
guarantees against that are the database's (row-level security, a non-owner application role)
and the deployment's (researchers get extracts, not database credentials).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pandas as pd
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from data_access import approvals as _approvals
from data_access import audit, pg_security, store
from data_access.anonymity import k_anonymise
from data_access.identity import (
    UserRecord,
    add_user,
    authenticate,
    check_new_user,
    list_users,
    resolve_identity,
    resolve_username,
    set_disabled,
)
from data_access.pseudonymise import researcher_theme_codes, researcher_view, review_sequence
from data_access.roles import (
    ADMINISTRATOR,
    ORGANISATION_LEAD,
    PROGRAMME_TEAM,
    RESEARCHER,
    REVIEWER,
    AccessDenied,
    may,
    with_article,
)
from sjrlib import domain
from sjrlib.rules import uk_today

__all__ = ["Session", "bootstrap_administrator", "open_session"]

_RELEASED_STATUSES = ("submitted", "locked")
"""Statuses a researcher may see: never drafts."""


@dataclass
class _Door:
    """What one call through the door has done so far: filled in by the call, audited after."""

    conn: Connection
    scope: dict[str, Any]
    rows: int | None = None
    approval_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    audited: bool = False  # the database wrote the entry (PostgreSQL administration)


def _month(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    value = str(value)
    if len(value) != 7 or value[4] != "-" or not (value[:4] + value[5:]).isdigit() \
            or not 1 <= int(value[5:]) <= 12:
        raise ValueError(f"{name} must be a month written YYYY-MM, not {value!r}")
    return value


def _codes(value: str | Iterable[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _values(value: str | Iterable[str] | None, vocabulary: tuple[str, ...],
            name: str) -> list[str] | None:
    values = _codes(value)
    if values is not None:
        wrong = [v for v in values if v not in vocabulary]
        if wrong:
            raise ValueError(f"{name} must be among {', '.join(vocabulary)}; got {wrong}")
    return values


_ID_KEYS = ("pk_reviews", "ex_reviews_review_id", "ix_reviews_organisation_code_review_id")
"""The keys that refuse a new review under an id already held (SQLite; PostgreSQL)."""


def _id_in_use(review_id: Any) -> AccessDenied:
    """The same words whoever holds the id: nothing about another organisation's review (its
    organisation, saver or time) is revealed."""
    return AccessDenied(f"review id {review_id!r} is already in use; choose another id (to "
                        "change your own review, open it first)")


def _text(value: Any) -> str:
    """A submitted answer as text, as validation will read it (blank for missing)."""
    return "" if value is None or value is pd.NA else str(value).strip()


def _set_row_scope(conn: Connection, organisations: Sequence[str] | None) -> None:
    """Tell PostgreSQL's row-level security which organisations this transaction may touch."""
    if conn.dialect.name != "postgresql":
        return
    conn.execute(
        text("SELECT set_config('sjr.organisations', :orgs, true), "
             "set_config('sjr.all_organisations', :all, true)"),
        {"orgs": ",".join(organisations or ()), "all": "on" if organisations is None else "off"},
    )


_READ_ACTIONS = frozenset({
    "organisations", "reviews", "deaths", "review", "second_stage_queue", "codebook",
    "theme_codes", "actions", "summary", "approvals", "extract", "users.list", "audit.show",
    "audit.verify", "trainers", "training_records", "training_cases", "calibration_rounds",
    "calibration_answers", "calibration_data",
})
"""The doors that only read (plus every ``export.<kind>``): on a SQLite file store they do not
wait for the write lock an import or a backup holds; they read the store as it was before the
writer and audit through the audit queue (:func:`data_access.audit.lock_for_read`). Every
other door (saves, imports, administration, backup and restore) takes the lock."""


_TYPED_IDS = ("review_id", "second_review_of")
"""Scope keys that hold a review id as a person typed it: screened for patient identifiers
before the door looks anything up or records anything (:meth:`Session._refuse_identifiers`)."""


def _is_read(action: str) -> bool:
    return action in _READ_ACTIONS or action.startswith("export.")


def _lock(conn: Connection) -> bool:
    audit.lock(conn)
    return True


def _record(conn: Connection, held: bool, **entry: Any) -> None:
    """Audit in the log when the transaction holds the chain lock, else in the audit queue
    (committed there before anything read leaves the door)."""
    if held:
        audit.append(conn, **entry)
    else:
        audit.queue_append(conn, **entry)


def _no_such_round(round_id: str, orgs: Sequence[str] | None) -> NoReturn:
    """A calibration round the caller asked for and may not see, or that does not exist:
    another organisation's round reads as one that does not exist (the refusal says nothing
    of which it is, and the door audits it); for the programme team, who see every round, an
    unknown one is named."""
    if orgs is not None:
        raise AccessDenied(f"round {round_id!r} is not one of your rounds (or does not exist)")
    raise ValueError(f"no round {round_id!r} in the store (sjr training round list)")


class Session:
    """A user's scoped, audited access to the store. Make one with :func:`open_session`."""

    def __init__(self, engine: Engine, user: UserRecord, *, tool: str,
                 organisation_codes: tuple[str, ...] | None, owns_engine: bool) -> None:
        self._engine = engine
        self._user = user
        self._tool = tool
        self._organisation_codes = organisation_codes
        self._owns_engine = owns_engine
        self._closed = False

    # ----------------------------------------------------------------------- who and scope --
    @property
    def user(self) -> str:
        """The user name this session acts for."""
        return self._user.username

    @property
    def role(self) -> str:
        """The user's role id (see :mod:`data_access.roles`)."""
        return self._user.role

    @property
    def organisation_codes(self) -> tuple[str, ...] | None:
        """Organisations in scope; ``None`` means all (programme team)."""
        return self._organisation_codes

    def __repr__(self) -> str:
        return f"<Session {self.user} ({self.role}), organisations={self.organisation_codes}>"

    # ------------------------------------------------------------------------- the door ----
    @contextmanager
    def _door(self, action: str, scope: dict[str, Any], *, permission: str | None = None,
              typed: dict[str, Any] | None = None) -> Iterator[_Door]:
        if self._closed:
            raise RuntimeError("this session is closed; open a new one")
        self._refuse_identifiers(action, scope, typed or {})
        try:
            with self._engine.begin() as conn:
                held = audit.lock_for_read(conn) if _is_read(action) else _lock(conn)
                _set_row_scope(conn, ())  # nothing visible until the scope is worked out
                user = authenticate(conn, self.user)
                if user.role != self.role or user.organisation_code != self._user.organisation_code:
                    raise AccessDenied(f"the role or organisation of {self.user!r} changed; "
                                       "open a new session")
                if not may(self.role, permission or action):
                    raise AccessDenied(f"{with_article(self.role)} may not use {action}")
                door = _Door(conn, dict(scope))
                yield door
                if not door.audited:
                    _record(conn, held, username=self.user, role=self.role, action=action,
                            scope={**door.scope, **door.extra}, rows=door.rows,
                            approval_id=door.approval_id, tool=self._tool)
        except AccessDenied as exc:
            self._audit_denial(action, scope, str(exc))
            raise

    def _refuse_identifiers(self, action: str, scope: dict[str, Any],
                            typed: dict[str, Any]) -> None:
        """Refuse, before anything is looked up or recorded, a review id that looks like a
        patient identifier (:func:`sjrlib.privacy.find_identifiers`: an NHS or CHI number, a
        postcode, a telephone number ...), e.g. an NHS number typed to find a case. Every door
        writes its scope, and a refusal's reason, into the append-only audit log, where such a
        value could never be removed (held-out audit of 2026-12-06): the refusal is audited
        with a placeholder where the value was, and the message does not repeat it. ``typed``:
        ids typed that are not in the scope (``save_review``'s ``second_review_of``)."""
        values = {k: scope[k] for k in _TYPED_IDS if k in scope}
        values.update(typed)
        from sjrlib.privacy import KINDS, find_identifiers

        flagged: dict[str, str] = {}
        for key, value in values.items():
            if value is None or value is pd.NA:
                continue
            found = find_identifiers(str(value))
            if found:
                flagged[key] = "; ".join(dict.fromkeys(KINDS[f.kind] for f in found))
        if not flagged:
            return
        what = "; ".join(dict.fromkeys(flagged.values()))
        reason = (f"not looked up: the {' and the '.join(flagged)} given looks like a patient "
                  f"identifier ({what}), not a review id; nothing was searched for or saved, "
                  "and the audit log records the refusal without it. Give the review id "
                  "(e.g. XA2-SJR000912)")
        withheld = {k: v for k, v in scope.items() if k not in flagged}
        withheld.update({k: f"[withheld: patient identifier ({v})]" for k, v in flagged.items()})
        self._audit_denial(action, withheld, reason)
        raise AccessDenied(reason)

    def _audit_denial(self, action: str, scope: dict[str, Any], reason: str) -> None:
        with self._engine.begin() as conn:
            _record(conn, audit.lock_for_read(conn), username=self.user, role=self.role,
                    action=f"{action}.denied", scope={**scope, "reason": reason},
                    tool=self._tool)

    def _requested_organisations(self, requested: list[str] | None,
                                 allowed: Sequence[str] | None) -> list[str] | None:
        """The organisations to read: the request, which must lie inside ``allowed``."""
        if requested is None:
            return None if allowed is None else list(allowed)
        if allowed is not None:
            outside = sorted(set(requested) - set(allowed))
            if outside:
                raise AccessDenied(f"organisation(s) {', '.join(outside)} are outside the scope "
                                   f"of {self.user!r}")
        return requested

    def _approval(self, conn: Connection, approval_id: str | None) -> _approvals.ApprovalRecord:
        if approval_id is None:
            usable = _approvals.usable_approvals(conn, self.user)
            if not usable:
                raise AccessDenied(f"{self.user!r} holds no active, current data access approval")
            if len(usable) > 1:
                ids = ", ".join(a.approval_id for a in usable)
                raise AccessDenied(f"{self.user!r} holds several approvals ({ids}); "
                                   "say which with approval_id=")
            return usable[0]
        return _approvals.check_usable(_approvals.get_approval(conn, approval_id), self.user,
                                       approval_id)

    def _check_inside(self, frame: pd.DataFrame, organisations: Sequence[str] | None) -> None:
        """Last line of defence: never return a row outside the organisations asked for."""
        if organisations is not None and len(frame):
            outside = ~frame["organisation_code"].isin(list(organisations))
            if bool(outside.any()):  # pragma: no cover - only if a filter above were wrong
                raise AccessDenied("internal scope check failed; nothing returned")

    # ------------------------------------------------------------------------ reading ----
    def organisations(self) -> pd.DataFrame:
        """Organisations in scope (code, name, nation, region)."""
        with self._door("organisations", {}) as door:
            allowed = self._organisation_codes
            if self.role == RESEARCHER:
                usable = _approvals.usable_approvals(door.conn, self.user)
                allowed = tuple(sorted({o for a in usable for o in a.organisations}))
            elif self.role == ADMINISTRATOR:
                allowed = None
            frame = store.load_organisations(door.conn, None if allowed is None else list(allowed))
            door.scope["organisations"] = "all" if allowed is None else list(allowed)
            door.rows = len(frame)
        return frame

    def reviews(
        self,
        *,
        organisation_codes: str | Iterable[str] | None = None,
        start_month: str | None = None,
        end_month: str | None = None,
        stage: str | Iterable[str] | None = None,
        status: str | Iterable[str] | None = None,
        approval_id: str | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Reviews in scope, as a review frame.

        Parameters
        ----------
        organisation_codes
            Organisations to read (default: all in scope). Any outside scope is refused.
        start_month, end_month
            ``"YYYY-MM"`` bounds on ``death_month``, inclusive. A researcher's must lie in the
            approval's period.
        stage, status
            Filters on ``review_stage`` / ``status``.
        approval_id
            Researchers: the approval to read under (may be left out when they hold exactly
            one). Other roles: must be left out.
        columns
            Columns to return (default: all; a researcher's default is the approved fields).
            A researcher asking for a field the approval does not release is refused.

        Returns
        -------
        pandas.DataFrame
            Review frame plus ``version``, ``nation``, ``region`` (other roles), or the
            researcher's pseudonymised, coarsened, approved columns.
        """
        requested = _codes(organisation_codes)
        start, end = _month(start_month, "start_month"), _month(end_month, "end_month")
        stages = _values(stage, domain.REVIEW_STAGES, "stage")
        statuses = _values(status, domain.STATUSES, "status")
        scope = {"organisations": requested, "start_month": start, "end_month": end,
                 "stage": stages, "status": statuses, "columns": _codes(columns)}
        with self._door("reviews", scope) as door:
            if self.role == RESEARCHER:
                asked = [c for c in columns or () if c in _approvals.LINKED_FIELDS]
                if asked:
                    raise ValueError(f"{', '.join(asked)} are a table linked to the reviews, "
                                     "not a column: an extract releases them "
                                     "(Session.extract, sjr extract)")
                frame = self._researcher_reviews(door, requested, start, end, stages, statuses,
                                                 approval_id, columns)
            else:
                if approval_id is not None:
                    raise AccessDenied("approval_id is for researchers; "
                                       f"a {self.role} reads under their role")
                orgs = self._requested_organisations(requested, self._organisation_codes)
                _set_row_scope(door.conn, orgs)
                frame = store.load_reviews(door.conn, organisation_codes=orgs, start_month=start,
                                           end_month=end, stage=stages, status=statuses)
                self._check_inside(frame, orgs)
                if self.role == REVIEWER:
                    frame = frame[frame["reviewer_id"] == self._user.reviewer_id]
                    frame = frame.reset_index(drop=True)
                if columns is not None:
                    unknown = [c for c in columns if c not in frame.columns]
                    if unknown:
                        raise ValueError(f"unknown column(s) {', '.join(unknown)}")
                    frame = frame[list(columns)]
                door.scope["organisations"] = "all" if orgs is None else orgs
            door.rows = len(frame)
        return frame

    def _researcher_reviews(self, door: _Door, requested: list[str] | None, start: str | None,
                            end: str | None, stages: list[str] | None,
                            statuses: list[str] | None, approval_id: str | None,
                            columns: Sequence[str] | None,
                            linked: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
        """A researcher's rows: a slice of the approval's one k-anonymous release.

        The release (every approved field of every released review in the approval's
        organisations and period) is generalised to k-anonymity first
        (:mod:`data_access.anonymity`), so a query's organisations, period, stages or columns
        never change how a row is generalised, and two queries cannot be differenced; period
        filters must follow the release's period unit (:meth:`_inside_period`). What was
        generalised is in ``door.extra["disclosure"]`` (audited, and in an extract's manifest)
        and in the frame's ``attrs["disclosure"]``.

        Fields released as linked tables (``theme_codes``) are not columns of the frame: with
        ``linked`` (an extract) they are put there, holding the rows of the chosen, released
        reviews only, keyed by the same review pseudonyms; without it they are left out.
        """
        approval = self._approval(door.conn, approval_id)
        door.approval_id = approval.approval_id
        orgs = self._requested_organisations(requested, approval.organisations)
        fields = list(approval.fields) if columns is None else list(columns)
        unapproved = [c for c in fields if c not in approval.fields]
        if unapproved:
            raise AccessDenied(f"approval {approval.approval_id} does not release "
                               f"{', '.join(unapproved)}")
        if statuses is not None and set(statuses) - set(_RELEASED_STATUSES):
            raise AccessDenied("draft reviews are not released to researchers")
        # A filter reveals what it filters on: only released fields may be filtered on.
        for asked, column in ((requested, "organisation_code"), (stages, "review_stage"),
                              (statuses, "status"), (start or end, "death_month")):
            if asked is not None and column not in approval.fields:
                raise AccessDenied(f"approval {approval.approval_id} does not release "
                                   f"{column}, so reviews cannot be chosen by it")
        statuses = list(_RELEASED_STATUSES) if statuses is None else statuses
        _set_row_scope(door.conn, list(approval.organisations))
        whole = store.load_reviews(door.conn, organisation_codes=list(approval.organisations),
                                   start_month=approval.period_start,
                                   end_month=approval.period_end,
                                   status=list(_RELEASED_STATUSES))
        self._check_inside(whole, approval.organisations)
        released = k_anonymise(whole, fields=approval.fields, k=approval.k,
                               coarsening=approval.date_coarsening)
        unit = released.levels.get("death_month", approval.date_coarsening)
        start, end = self._inside_period(approval, start, end, unit)
        chosen = released.kept & whole["organisation_code"].isin(orgs) \
            & whole["death_month"].between(start, end).fillna(False) \
            & whole["status"].isin(statuses)
        if stages is not None:
            chosen &= whole["review_stage"].isin(stages).fillna(False)
        generalised = dict(released.columns)
        if "review_sequence" in fields:  # the order among all the case's released reviews
            generalised["review_sequence"] = review_sequence(whole)
        secret = _approvals.approval_secret(door.conn, approval.approval_id)
        chosen = chosen.astype(bool)
        tables = [f for f in fields if f in _approvals.LINKED_FIELDS]
        fields = [f for f in fields if f not in _approvals.LINKED_FIELDS]
        if tables and linked is not None:
            if "review_id" not in fields:
                raise ValueError(f"{', '.join(tables)} are linked to the reviews by review_id: "
                                 "ask for review_id too")
            codes = _released_theme_codes(door.conn, approval,
                                          set(whole.loc[chosen, "review_id"].astype(str)))
            linked[_approvals.THEME_CODES] = researcher_theme_codes(codes, secret=secret)
            door.extra["theme_codes"] = len(linked[_approvals.THEME_CODES])
        frame = researcher_view(whole[chosen], fields=fields, free_text=approval.free_text,
                                coarsening=approval.date_coarsening, secret=secret,
                                generalised={c: v[chosen] for c, v in generalised.items()})
        frame = frame.reset_index(drop=True)
        disclosure = {**released.describe(), "period_unit": unit}
        frame.attrs["disclosure"] = disclosure
        door.extra["disclosure"] = disclosure
        door.scope.update(organisations=orgs, start_month=start, end_month=end,
                          columns=fields + (tables if linked is not None else []))
        return frame

    @staticmethod
    def _inside_period(approval: _approvals.ApprovalRecord, start: str | None,
                       end: str | None, unit: str = "month") -> tuple[str, str]:
        """The period asked for: inside the approval's, and in whole ``unit``s (``month``,
        ``quarter`` or ``year``), so a coarsened period cannot be undone by asking one month
        at a time. The approval's own first and last month are always accepted."""
        start = start or approval.period_start
        end = end or approval.period_end
        if start < approval.period_start or end > approval.period_end:
            raise AccessDenied(f"approval {approval.approval_id} covers deaths from "
                               f"{approval.period_start} to {approval.period_end} only")
        firsts, lasts = {"month": (range(1, 13), range(1, 13)), "quarter": ((1, 4, 7, 10),
                         (3, 6, 9, 12)), "year": ((1,), (12,))}[unit]
        if start != approval.period_start and int(start[5:]) not in firsts:
            raise AccessDenied(f"approval {approval.approval_id} releases months of death by "
                               f"{unit}: start_month must be the first month of a {unit}, "
                               f"not {start}")
        if end != approval.period_end and int(end[5:]) not in lasts:
            raise AccessDenied(f"approval {approval.approval_id} releases months of death by "
                               f"{unit}: end_month must be the last month of a {unit}, "
                               f"not {end}")
        return start, end

    def deaths(
        self,
        *,
        organisation_codes: str | Iterable[str] | None = None,
        start_month: str | None = None,
        end_month: str | None = None,
        approval_id: str | None = None,
    ) -> pd.DataFrame:
        """Deaths in scope (the denominator) as a deaths frame.

        For researchers, only under an approval that releases deaths (``deaths: true``), within
        its organisations and period; with quarterly coarsening ``month`` becomes ``"YYYY-Qn"``,
        counts are summed per quarter and ``start_month``/``end_month`` must be whole quarters.
        """
        requested = _codes(organisation_codes)
        start, end = _month(start_month, "start_month"), _month(end_month, "end_month")
        scope = {"organisations": requested, "start_month": start, "end_month": end}
        with self._door("deaths", scope) as door:
            coarsening = "month"
            if self.role == RESEARCHER:
                approval = self._approval(door.conn, approval_id)
                door.approval_id = approval.approval_id
                orgs = self._requested_organisations(requested, approval.organisations)
                start, end = self._inside_period(approval, start, end,
                                                 approval.date_coarsening)
                if not approval.deaths:
                    raise AccessDenied(f"approval {approval.approval_id} does not release "
                                       "counts of deaths (an approval with deaths: true does)")
                coarsening = approval.date_coarsening
            else:
                if approval_id is not None:
                    raise AccessDenied("approval_id is for researchers")
                orgs = self._requested_organisations(requested, self._organisation_codes)
            _set_row_scope(door.conn, orgs)
            frame = store.load_deaths(door.conn, organisation_codes=orgs, start_month=start,
                                      end_month=end)
            self._check_inside(frame, orgs)
            if coarsening == "quarter":
                from data_access.pseudonymise import coarsen_month

                frame = frame.assign(month=coarsen_month(frame["month"], "quarter"))
                frame = (frame.groupby(["organisation_code", "month"], as_index=False, sort=True)
                         [["deaths_in_scope", "learning_disability_deaths"]].sum()
                         .astype(domain.DEATH_DTYPES))
            door.scope.update(organisations="all" if orgs is None else orgs,
                              start_month=start, end_month=end)
            door.rows = len(frame)
        return frame

    def _stored(self, conn: Connection, review_id: str) -> dict[str, Any] | None:
        row = conn.execute(
            text("SELECT review_id, case_id, organisation_code, reviewer_id, review_stage, "
                 "status, death_month, version FROM reviews WHERE review_id = :id"),
            {"id": review_id},
        ).mappings().first()
        return None if row is None else dict(row)

    def _queue_ids(self, conn: Connection, organisations: Sequence[str] | None) -> set[str]:
        frame = self._queue(conn, organisations)
        return set(frame["review_id"])

    def _queue(self, conn: Connection, organisations: Sequence[str] | None) -> pd.DataFrame:
        firsts = store.load_reviews(conn, organisation_codes=organisations, stage="first",
                                    status=list(_RELEASED_STATUSES))
        seconds = store.load_reviews(conn, organisation_codes=organisations, stage="second")
        poor = firsts["score_overall"].isin(list(domain.POOR_CARE)).fillna(False)
        done = firsts["review_id"].isin(set(seconds["second_review_of"].dropna()))
        # The second stage is done by another reviewer: nobody reviews their own judgement.
        own = (firsts["reviewer_id"] == self._user.reviewer_id).fillna(False) \
            if self._user.reviewer_id else pd.Series(False, index=firsts.index)
        return firsts[poor & ~done & ~own].reset_index(drop=True)

    def _readable(self, conn: Connection, review_id: str) -> dict[str, Any]:
        """The stored row of a review this user may read; one answer for absent and forbidden
        (which names, when there is one, a review this user may read whose id differs from
        the one typed only in case: :meth:`_not_readable`)."""
        _set_row_scope(conn, self._organisation_codes)
        stored = self._stored(conn, review_id)
        if stored is None or not self._may_read(conn, stored):
            raise AccessDenied(self._not_readable(conn, review_id))
        return stored

    def _may_read(self, conn: Connection, stored: Mapping[str, Any]) -> bool:
        """Whether this user may read the stored review ``stored`` (a row of :meth:`_stored`):
        their organisations', and a reviewer's own, queued or followed by their own
        second-stage review."""
        orgs = self._organisation_codes
        if orgs is not None and stored["organisation_code"] not in orgs:
            return False
        review_id = stored["review_id"]
        return not (self.role == REVIEWER and stored["reviewer_id"] != self._user.reviewer_id
                    and review_id not in self._queue_ids(conn, orgs)
                    and not self._my_second_stage_of(conn, review_id))

    def _not_readable(self, conn: Connection, review_id: str) -> str:
        """Why ``review_id`` cannot be read, with the id as typed. Review ids are
        case-sensitive keys (``xa2-sjr000001`` is not ``XA2-SJR000001``) and are never
        case-folded; a review this user may read whose id differs only in case is suggested
        (walkthrough of 2026-12-10: a lead typing an id in lower case got a bare refusal).
        Reviews outside the user's scope are never suggested, so the answer says nothing
        about them: the same for an id that does not exist and one that is not theirs."""
        message = (f"review {review_id!r} is not in the scope of {self.user!r} (or does not "
                   "exist)")
        rows = conn.execute(
            text("SELECT review_id, organisation_code, reviewer_id FROM reviews "
                 "WHERE lower(review_id) = lower(:id) AND review_id <> :id "
                 "ORDER BY review_id LIMIT 10"),
            {"id": review_id}).mappings().all()
        near = [row["review_id"] for row in rows if self._may_read(conn, row)]
        if near:
            message += (f"; review ids are case-sensitive: did you mean "
                        f"{' or '.join(repr(r) for r in near)}?")
        return message

    def _my_second_stage_of(self, conn: Connection, review_id: str) -> bool:
        """Whether this reviewer holds a second-stage review (a draft included) of
        ``review_id``: its first stage has left the queue, but they must still read it to
        finish their own review."""
        if not self._user.reviewer_id:
            return False
        return conn.execute(text(
            "SELECT 1 FROM reviews WHERE second_review_of = :r AND reviewer_id = :me "
            "AND review_stage = 'second' LIMIT 1"),
            {"r": review_id, "me": self._user.reviewer_id}).first() is not None

    def review(self, review_id: str) -> dict[str, Any]:
        """One review as a dict of the review frame's columns plus ``version``."""
        with self._door("review", {"review_id": review_id}) as door:
            stored = self._readable(door.conn, review_id)
            frame = store.load_reviews(door.conn, organisation_codes=[stored["organisation_code"]],
                                       start_month=stored["death_month"],
                                       end_month=stored["death_month"])
            frame = frame[frame["review_id"] == review_id]
            door.rows = len(frame)
            if not len(frame):  # pragma: no cover - deleted between the two reads
                raise AccessDenied(f"review {review_id!r} is no longer in the store")
            values = frame.iloc[0].to_dict()
        return {k: (None if v is pd.NA or v is pd.NaT else v) for k, v in values.items()}

    def second_stage_queue(self) -> pd.DataFrame:
        """Submitted first-stage reviews with overall care 1-2 and no second-stage review yet."""
        with self._door("second_stage_queue", {}) as door:
            orgs = self._organisation_codes
            _set_row_scope(door.conn, orgs)
            frame = self._queue(door.conn, orgs)
            self._check_inside(frame, orgs)
            door.scope["organisations"] = "all" if orgs is None else list(orgs)
            door.rows = len(frame)
        return frame

    # ------------------------------------------------------------------------ writing ----
    def save_review(self, values: dict[str, Any], *, expected_version: int | None = None,
                    withdraw: bool = False) -> tuple[str, int]:
        """Validate and save one review; returns ``(review_id, version)``.

        New review: ``expected_version=None``. Change: the version you read; a newer stored
        version raises :class:`data_access.store.StaleReviewError` and nothing is written.
        Reviewers write only their own reviews at their organisation; leads any review of their
        organisation. Locking is :meth:`lock_review`'s job.

        A submitted review saved as a draft leaves every published figure, so that is refused
        (:class:`AccessDenied`, nothing written) unless ``withdraw=True`` says it is meant; the
        audit entry of such a save records ``"withdrawn": "submitted -> draft"``.
        """
        from sjrlib.schema import validate_reviews

        values = dict(values)
        own_org = self._user.organisation_code
        values.setdefault("organisation_code", own_org)
        if self.role == REVIEWER:
            values.setdefault("reviewer_id", self._user.reviewer_id)
        values.setdefault("status", "draft")
        review_id = values.get("review_id")
        scope = {"review_id": review_id, "organisations": [values["organisation_code"]],
                 "expected_version": expected_version}
        with self._door("save_review", scope,
                        typed={"second_review_of": values.get("second_review_of")}) as door:
            if values["organisation_code"] != own_org:
                raise AccessDenied(f"{self.user!r} may only save reviews of {own_org}")
            if self.role == REVIEWER and values.get("reviewer_id") != self._user.reviewer_id:
                raise AccessDenied("a reviewer may only save reviews under their own reviewer id")
            _set_row_scope(door.conn, [own_org])
            if expected_version is not None:
                stored = self._readable(door.conn, str(review_id))
                if self.role == REVIEWER and stored["reviewer_id"] != self._user.reviewer_id:
                    raise AccessDenied(f"review {review_id!r} belongs to another reviewer")
                if stored["status"] == "locked":
                    raise AccessDenied(f"review {review_id!r} is locked; ask your "
                                       "organisation lead")
            elif review_id and self._stored(door.conn, str(review_id)) is not None:
                raise _id_in_use(review_id)
            second_stage = _text(values.get("review_stage")).lower() == "second"
            try:
                first = self._first_stage_of(door.conn, values.get("second_review_of"))
            except AccessDenied:
                if expected_version is not None or not second_stage:
                    raise
                # A reviewer reads a first-stage review of another reviewer only while it waits
                # in the second-stage queue: once anyone starts its second stage, it reads as
                # absent. One answer for taken, outside the scope and absent.
                raise AccessDenied(
                    f"first-stage review {_text(values.get('second_review_of'))!r} is not in "
                    f"the second-stage queue of {self.user!r}: it already has a second-stage "
                    "review (perhaps started by another reviewer), or it is not in your scope "
                    "or does not exist. Nothing was saved") from None
            if first is not None and second_stage \
                    and _text(values.get("reviewer_id")) == first["reviewer_id"]:
                raise AccessDenied("a second-stage review is made by another reviewer, not the "
                                   "one who wrote the first-stage review")
            known = {} if first is None else {
                first["review_id"]: (first["case_id"], first["review_stage"],
                                     first["organisation_code"], first["reviewer_id"], None)}
            if expected_version is not None:  # the second-stage reviews that follow this one
                known.update(_followers(door.conn, str(review_id)))
            frame = pd.DataFrame([{c: values.get(c) for c in domain.REVIEW_COLUMNS}])
            valid = validate_reviews(frame, source="save_review", known_organisations=[own_org],
                                     known_reviews=known)
            row = {k: (None if v is pd.NA or v is pd.NaT else v)
                   for k, v in valid.iloc[0].to_dict().items()}
            # Checked on the canonical values: "Locked" or " LOCKED " is "locked" once validated.
            if row["status"] == "locked":
                raise AccessDenied("reviews are locked with lock_review (organisation leads)")
            if expected_version is None:
                self._refuse_a_second_review(door.conn, row)
            if expected_version is not None and stored["status"] == "submitted" \
                    and row["status"] == "draft":
                if not withdraw:
                    raise AccessDenied(
                        f"review {review_id!r} is submitted: saving it as a draft takes it out "
                        "of every published figure until it is submitted again; save it as "
                        "submitted, or return it to draft on purpose (withdraw=True)")
                door.scope["withdrawn"] = "submitted -> draft"
            try:
                saved = store.save_review(door.conn, row, expected_version, saved_by=self.user)
            except IntegrityError as exc:
                # On PostgreSQL row-level security hides another organisation's review, so a
                # taken id shows only here, as a key's refusal: the primary key on SQLite; on
                # PostgreSQL the id's exclusion constraint, or the organisation's key for a
                # review of one's own organisation one may not read (revision 0037).
                if expected_version is None and any(key in str(exc.orig) for key in _ID_KEYS):
                    raise _id_in_use(review_id) from None
                raise
            door.rows = 1
            door.scope["review_id"] = saved[0]
        return saved

    def _refuse_a_second_review(self, conn: Connection, row: dict[str, Any]) -> None:
        """Refuse a new review (validated ``row``) that would be a second of its kind, as the
        review form does (held-out audit of 2026-12-06), for every client of the session:

        - a second-stage review of a first-stage review that already has one, of any status (a
          draft included: it took the first-stage review off the queue);
        - a first-stage review of a case by a reviewer who already has a first-stage review of
          that case at the organisation, of any status (a case may have first-stage reviews by
          several reviewers; the bulk import is not checked here).

        Both reads see what they must: the organisation's reviews for a lead (and on SQLite or
        the service path); on PostgreSQL a reviewer's own reviews, and a first-stage review of
        another reviewer that another has taken already reads as absent (refused before this).
        Two sessions saving at once cannot both pass: every writing door holds the audit chain
        lock for its whole transaction (SQLite ``BEGIN IMMEDIATE``, PostgreSQL the chain head
        ``FOR UPDATE``), so the second reads only after the first has committed."""
        if row["review_stage"] == "second" and row.get("second_review_of"):
            first_id = str(row["second_review_of"])
            if conn.execute(text(
                    "SELECT 1 FROM reviews WHERE second_review_of = :f "
                    "AND review_stage = 'second' LIMIT 1"), {"f": first_id}).first():
                raise AccessDenied(
                    f"first-stage review {first_id!r} already has a second-stage review "
                    "(perhaps started in another tab or window, or by another reviewer), so it "
                    "is no longer in the second-stage queue. Nothing was saved; a second-stage "
                    "review of your own is among your reviews (drafts included)")
        elif row["review_stage"] == "first" and row.get("case_id") and row.get("reviewer_id"):
            same = conn.execute(text(
                "SELECT review_id, status FROM reviews WHERE review_stage = 'first' "
                "AND organisation_code = :o AND case_id = :c AND reviewer_id = :r "
                "ORDER BY review_id LIMIT 1"),
                {"o": row["organisation_code"], "c": str(row["case_id"]),
                 "r": str(row["reviewer_id"])}).first()
            if same is not None:
                raise AccessDenied(
                    f"reviewer {row['reviewer_id']!r} already has a first-stage review of case "
                    f"{row['case_id']!r} (review {same[0]!r}, {same[1]}), perhaps saved from "
                    "another tab or window. Nothing was saved: open that review to change it, "
                    "or correct the case reference")

    def _first_stage_of(self, conn: Connection, first_id: Any) -> dict[str, Any] | None:
        """The stored review a second-stage review names, if this user may read it."""
        first_id = _text(first_id)
        return self._readable(conn, first_id) if first_id else None

    def lock_review(self, review_id: str, *, expected_version: int) -> int:
        """Lock a review of your organisation (organisation leads); returns the new version."""
        scope = {"review_id": review_id, "expected_version": expected_version}
        with self._door("lock_review", scope) as door:
            self._readable(door.conn, review_id)
            version = store.set_status(door.conn, review_id, "locked",
                                       expected_version=expected_version, saved_by=self.user)
            door.rows = 1
        return version

    # ---------------------------------------------------------- themes (issue 13) ----
    # The codebook of themes and theme codes on reviews (``shared/spec/learning.md``). A code
    # is a person's: a machine suggestion is stored only once someone accepts it, and then
    # says so (``from_suggestion``).
    def codebook(self, version: str | None = None) -> Any:
        """The codebook (``sjrlib.themes.Codebook``): ``version``, or the latest imported."""
        from sjrlib.themes.codebook import stored_codebook

        with self._door("codebook", {"version": version}) as door:
            row = _themes_codebook_row(door.conn, version)
            door.scope["version"] = row[0]
            door.rows = 1
        return stored_codebook(row[0], row[1])

    def import_codebook(self, codebook: Any) -> str:
        """Store a new codebook version (programme team); returns the version.

        Refused: a version already stored, or a version that drops a theme of an earlier one
        (retire it instead: reviews coded with it must stay readable).
        """
        from sjrlib.themes.codebook import codebook_to_yaml, stored_codebook

        scope = {"version": codebook.version, "themes": len(codebook.themes)}
        with self._door("codebook.import", scope) as door:
            rows = door.conn.execute(text("SELECT version, codebook FROM codebook_versions")).all()
            if any(r[0] == codebook.version for r in rows):
                raise ValueError(f"codebook version {codebook.version} is already stored; "
                                 "give the new codebook a new version")
            kept = set(codebook.ids)
            for version, body in rows:
                old = stored_codebook(version, body)
                dropped = sorted(set(old.ids) - kept)
                if dropped:
                    raise ValueError(f"codebook {codebook.version} drops theme(s) "
                                     f"{', '.join(dropped)} of version {version}; retire them "
                                     "(retired: true) instead")
            door.conn.execute(
                text("INSERT INTO codebook_versions (version, codebook, imported_by, "
                     "imported_at) VALUES (:v, :c, :u, :t)"),
                {"v": codebook.version, "c": codebook_to_yaml(codebook), "u": self.user,
                 "t": dt.datetime.now(dt.UTC)})
            door.rows = 1
        return codebook.version

    def code_review(self, review_id: str, theme: str, *, phase: str | None = None,
                    from_suggestion: bool = False) -> str:
        """Code a submitted or locked review with a theme of the latest codebook; returns its id.

        Organisation leads code any review of their organisation, reviewers their own reviews.
        ``phase`` is one of the phases of care or ``None`` (the whole review);
        ``from_suggestion`` says the code began as a machine suggestion this person accepted.
        Coding the same review, theme and phase twice is refused (a second coder keeps a row of
        their own).
        """
        from sjrlib.themes.codebook import stored_codebook

        scope = {"review_id": review_id, "theme": theme, "phase": phase,
                 "from_suggestion": bool(from_suggestion)}
        with self._door("code_review", scope) as door:
            stored = self._readable(door.conn, review_id)
            if self.role == REVIEWER and stored["reviewer_id"] != self._user.reviewer_id:
                raise AccessDenied(f"a reviewer codes their own reviews; {review_id!r} is "
                                   "another reviewer's")
            if stored["status"] not in _RELEASED_STATUSES:
                raise ValueError(f"review {review_id!r} is a {stored['status']}; themes are "
                                 "coded on submitted or locked reviews")
            if phase is not None and phase not in domain.PHASES:
                raise ValueError(f"phase {phase!r} is not one of {', '.join(domain.PHASES)}")
            version, body = _themes_codebook_row(door.conn, None)
            book = stored_codebook(version, body)
            if theme not in {t.id for t in book.active}:
                state = "retired in" if theme in book.ids else "not a theme of"
                raise ValueError(f"{theme!r} is {state} codebook {version}")
            taken = door.conn.execute(
                text("SELECT id FROM theme_codes WHERE organisation_code = :o AND "
                     "review_id = :r AND theme = :t AND coded_by = :u AND "
                     + ("phase IS NULL" if phase is None else "phase = :p")),
                {"o": stored["organisation_code"], "r": review_id, "t": theme, "u": self.user,
                 "p": phase}).first()
            if taken is not None:
                raise ValueError(f"{self.user!r} has already coded review {review_id!r} with "
                                 f"{theme!r}" + (f" ({phase})" if phase else ""))
            code_id = uuid.uuid4().hex
            door.conn.execute(
                text("INSERT INTO theme_codes (id, organisation_code, review_id, theme, phase, "
                     "codebook_version, coded_by, coded_at, from_suggestion) VALUES (:id, :o, "
                     ":r, :t, :p, :v, :u, :at, :s)"),
                {"id": code_id, "o": stored["organisation_code"], "r": review_id, "t": theme,
                 "p": phase, "v": version,
                 "u": self.user, "at": stored_time(door.conn, dt.datetime.now(dt.UTC)),
                 "s": bool(from_suggestion)})
            door.scope["codebook_version"] = version
            door.scope["code_id"] = code_id
            door.rows = 1
        return code_id

    def theme_codes(self, review_id: str | None = None, *, with_text: bool = False
                    ) -> pd.DataFrame:
        """Theme codes on the reviews this user may read (or on one review).

        Columns: ``id, review_id, organisation_code, theme, phase, codebook_version, coded_by,
        coded_at, from_suggestion``, and with ``with_text`` a column ``text``: the judgement
        statement coded (the phase's comment, or every phase's comment for a whole-review
        code), to retrain suggestions from (organisation leads and reviewers only: the text
        stays with those who wrote or lead it). Researchers get none here (their extracts are
        the way). ``coded_at`` is a tz-aware UTC timestamp on SQLite and PostgreSQL alike
        (SQLite's text parsed in whatever ISO 8601 form it was written), and the rows are in
        time order (then id).
        """
        scope = {"review_id": review_id, "with_text": bool(with_text)}
        with self._door("theme_codes", scope) as door:
            if with_text and self.role not in (ORGANISATION_LEAD, REVIEWER):
                raise AccessDenied(f"{with_article(self.role)} may not read the judgement text "
                                   "of codes")
            orgs = self._organisation_codes
            _set_row_scope(door.conn, orgs)
            where, params = [], {}
            if review_id is not None:
                self._readable(door.conn, review_id)
                where.append("r.review_id = :rid")
                params["rid"] = review_id
            if orgs is not None:
                names = {f"o{i}": code for i, code in enumerate(orgs)}
                where.append("r.organisation_code IN (" + ", ".join(f":{k}" for k in names)
                             + ")")
                params.update(names)
            if self.role == REVIEWER and review_id is None:
                where.append("r.reviewer_id = :me")
                params["me"] = self._user.reviewer_id
            sql = ("SELECT t.id, t.review_id, r.organisation_code, t.theme, t.phase, "
                   "t.codebook_version, t.coded_by, t.coded_at, t.from_suggestion "
                   "FROM theme_codes t JOIN reviews r ON r.organisation_code = "
                   "t.organisation_code AND r.review_id = t.review_id"
                   + (" WHERE " + " AND ".join(where) if where else "")
                   + " ORDER BY t.coded_at, t.id")
            frame = pd.DataFrame(door.conn.execute(text(sql), params).mappings().all(),
                                 columns=["id", "review_id", "organisation_code", "theme",
                                          "phase", "codebook_version", "coded_by", "coded_at",
                                          "from_suggestion"])
            frame["from_suggestion"] = frame["from_suggestion"].astype(bool)
            frame = _in_coded_order(frame)
            frame = frame.astype({c: "string" for c in ("id", "review_id", "organisation_code",
                                                        "theme", "phase", "codebook_version",
                                                        "coded_by")})
            self._check_inside(frame, orgs)
            if with_text:
                frame["text"] = _themes_texts(door.conn, frame)
            door.scope["organisations"] = "all" if orgs is None else list(orgs)
            door.rows = len(frame)
        return frame

    # ----------------------------------------------------------- actions (issue 13) ----
    # The action register (``shared/spec/learning.md``, "Actions and impact"): an
    # organisation lead records and updates their organisation's actions; the programme team
    # reads every organisation's; nobody else (a researcher's approval releases review fields,
    # and the register is none of them). Checks and SQL: data_access.actions.
    def record_action(self, description: str, *, owner_role: str, agreed_on: Any,
                      status: str = "open", due_on: Any = None, completed_on: Any = None,
                      themes: Iterable[str] = (), review_ids: Iterable[str] = (),
                      measure: str | None = None, change_month: str | None = None,
                      target: float | None = None) -> str:
        """Record an action of your organisation (organisation leads); returns its id.

        ``description`` is screened for identifiers and ``owner_role`` is a role, never a
        person's name; ``themes`` are active theme ids of the latest codebook and
        ``review_ids`` reviews of your organisation (links, never their text); ``measure``
        (:func:`sjrlib.measures.allowed_measures`, e.g. ``"theme:sepsis"``) comes with
        ``change_month``, the month the change went in, and optionally ``target``, the
        percentage (0-100) the measure should reach (its impact chart then shows assurance).
        Raises ``ValueError`` for a value that is not right (the message says which and why).
        """
        values = {"description": description, "owner_role": owner_role, "status": status,
                  "agreed_on": agreed_on, "due_on": due_on, "completed_on": completed_on,
                  "themes": list(_codes(themes) or []), "review_ids": list(_codes(review_ids)
                                                                           or []),
                  "measure": measure, "change_month": change_month, "target": target}
        with self._door("actions.record", {"measure": measure, "status": status}) as door:
            organisation = str(self._user.organisation_code)
            checked = self._checked_action(door, values)
            _set_row_scope(door.conn, [organisation])
            door.scope.update(organisations=[organisation], themes=checked["themes"],
                              reviews=len(checked["review_ids"]))
            from data_access.actions import insert_action

            action_id = insert_action(door.conn, organisation, checked, user=self.user)
            door.scope["action_id"] = action_id
            door.rows = 1
        return action_id

    def update_action(self, action_id: str, *, expected_version: int, **changes: Any) -> int:
        """Change an action of your organisation (organisation leads); returns the new version.

        ``changes`` are any of ``description, owner_role, status, agreed_on, due_on,
        completed_on, themes, review_ids, measure, change_month, target`` (``None`` clears an
        optional one); the rest keep their stored values. ``expected_version`` is the version
        you read: a newer stored one raises ``ValueError`` and nothing is written. Changes that
        leave every value as stored write nothing and keep the version (the audit entry says
        ``unchanged``).
        """
        from data_access.actions import ACTION_FIELDS, changed_fields, stored_action, stored_values
        from data_access.actions import update_action as _update

        unknown = sorted(set(changes) - set(ACTION_FIELDS))
        if unknown:
            raise ValueError(f"unknown action field(s) {', '.join(unknown)}; an action has "
                             f"{', '.join(ACTION_FIELDS)}")
        scope = {"action_id": action_id, "expected_version": expected_version,
                 "fields": sorted(changes)}
        with self._door("actions.update", scope) as door:
            organisation = str(self._user.organisation_code)
            _set_row_scope(door.conn, [organisation])
            stored = stored_action(door.conn, action_id)
            if stored is None or stored["organisation_code"] != organisation:
                raise AccessDenied(f"action {action_id!r} is not in the scope of {self.user!r} "
                                   "(or does not exist)")
            if int(stored["version"]) != int(expected_version):
                raise ValueError(f"action {action_id} was changed since version "
                                 f"{expected_version} was read (it is at version "
                                 f"{stored['version']}); read it again and repeat the change")
            values = stored_values(stored)
            values.update({k: (list(_codes(v) or []) if k in ("themes", "review_ids") else v)
                           for k, v in changes.items()})
            checked = self._checked_action(door, values, keep=set(values["review_ids"]) & set(
                str(stored["review_ids"] or "").split(";")))
            door.scope["organisations"] = [organisation]
            if not changed_fields(stored, checked):  # nothing to write, no new version
                door.scope["unchanged"] = True
                door.rows = 0
                return int(stored["version"])
            version = _update(door.conn, action_id, checked, expected_version=expected_version,
                              user=self.user)
            door.rows = 1
        return version

    def import_actions(self, frame: pd.DataFrame, *, source: str | None = None,
                       rows: Sequence[int] | None = None) -> tuple[int, int, int]:
        """Record and update actions of your organisation from a register file's rows
        (:func:`data_access.actions.read_actions`; organisation leads), all or nothing;
        returns ``(recorded, updated, unchanged)`` (:class:`data_access.actions.ImportedActions`).
        A row without ``id`` is a new action; a row with ``id`` changes that action and must
        give the ``version`` it was exported at. A row whose values are those stored
        (:func:`data_access.actions.changed_fields`) is unchanged: nothing is written and the
        action keeps its version; a column the file does not carry keeps the stored values.

        Every problem of every row is reported, each naming the file (``source``), the row
        (``rows``: each row's number as a spreadsheet counts it; default 2, 3, ... in order)
        and the column, and nothing is written: a ``ValueError``, or ``AccessDenied`` when a
        row is outside the lead's organisation or scope."""
        from data_access.actions import (
            ACTION_FIELDS,
            ActionError,
            ImportedActions,
            changed_fields,
            insert_action,
            stored_action,
            stored_values,
        )
        from data_access.actions import update_action as _update

        numbers = list(rows) if rows is not None else list(range(2, len(frame) + 2))
        if len(numbers) != len(frame):
            raise ValueError(f"{len(numbers)} row numbers for {len(frame)} rows")
        name = f"{source}, " if source else ""
        with self._door("actions.import", {"rows": len(frame),
                                           **({"file": source} if source else {})}) as door:
            organisation = str(self._user.organisation_code)
            _set_row_scope(door.conn, [organisation])
            recorded = updated = unchanged = 0
            problems: list[str] = []
            denied = False
            for number, row in zip(numbers, frame.to_dict("records"), strict=True):
                where = f"{name}row {number}"
                given = str(row.get("organisation_code") or "").strip()
                if given and given != organisation:
                    denied = True
                    problems.append(f"{where}, column organisation_code: organisation {given} "
                                    f"is not {organisation}; a lead imports their own "
                                    "organisation's actions")
                    continue
                values = {k: row.get(k) for k in ACTION_FIELDS if k in row}
                for key in ("themes", "review_ids"):
                    if key in row:
                        values[key] = [v for v in str(row[key] or "").split(";") if v]
                action_id = str(row.get("id") or "").strip()
                column = "id"
                try:
                    if not action_id:
                        column = "review_ids"
                        checked = self._checked_action(door, values)
                        if problems:  # the file is refused: check the rest, write nothing
                            continue
                        _set_row_scope(door.conn, [organisation])
                        insert_action(door.conn, organisation, checked, user=self.user)
                        recorded += 1
                        continue
                    stored = stored_action(door.conn, action_id)
                    if stored is None or stored["organisation_code"] != organisation:
                        raise AccessDenied(f"action {action_id!r} is not in the scope of "
                                           f"{self.user!r} (or does not exist)")
                    version = str(row.get("version") or "").strip()
                    if not version.isdigit():
                        column = "version"
                        raise ValueError("a row with an id needs the version it was exported "
                                         "at")
                    # a column the file does not carry keeps the stored values (a register
                    # exported before targets existed has no target)
                    values = {**stored_values(stored), **values}
                    column = "version"
                    if int(version) != int(stored["version"]):
                        raise ValueError(f"action {action_id} was changed since version "
                                         f"{version} was read (it is at version "
                                         f"{stored['version']}); export the register again "
                                         "and repeat the change")
                    keep = set(str(stored["review_ids"] or "").split(";"))
                    column = "review_ids"
                    checked = self._checked_action(door, values, keep=keep)
                    if problems:
                        continue
                    if not changed_fields(stored, checked):  # not written: no new version
                        unchanged += 1
                        continue
                    _set_row_scope(door.conn, [organisation])
                    column = "version"
                    _update(door.conn, action_id, checked, expected_version=int(version),
                            user=self.user)
                    updated += 1
                except ActionError as exc:
                    problems.extend(f"{where}, column {field}: {message}"
                                    for field, message in exc.problems)
                except AccessDenied as exc:
                    denied = True
                    problems.append(f"{where}, column {column}: {exc}")
                except ValueError as exc:
                    problems.append(f"{where}, column {column}: {exc}")
            if problems:
                head = (f"{source or 'the register'}: {len(problems)} "
                        f"problem{'s' * (len(problems) != 1)}; nothing was imported")
                raise (AccessDenied if denied else ValueError)(
                    "\n".join([head, *(f"  {p}" for p in problems)]))
            door.scope.update(organisations=[organisation], recorded=recorded, updated=updated,
                              unchanged=unchanged)
            door.rows = recorded + updated
        return ImportedActions(recorded, updated, unchanged)

    def _checked_action(self, door: _Door, values: dict[str, Any], *,
                        keep: set[str] = frozenset()) -> dict[str, Any]:
        """Checked action values; every linked review (but those already linked, ``keep``)
        must be a review this lead may read."""
        from data_access.actions import check_action
        from sjrlib.themes.codebook import stored_codebook

        if self.role != ORGANISATION_LEAD:  # pragma: no cover - PERMISSIONS refuse them first
            raise AccessDenied("actions are recorded by the organisation's lead")
        version, body = _themes_codebook_row(door.conn, None)
        book = stored_codebook(version, body)
        checked = check_action(values, codebook=book)
        for review_id in checked["review_ids"]:
            if review_id not in keep:
                self._readable(door.conn, review_id)
        return checked

    def actions(self, *, organisation_codes: str | Iterable[str] | None = None,
                status: str | Iterable[str] | None = None) -> pd.DataFrame:
        """The action register: your organisation's (organisation leads), or every
        organisation's (programme team).

        Columns :data:`data_access.actions.ACTION_COLUMNS`: ``id, organisation_code,
        description, owner_role, status, agreed_on, due_on, completed_on, measure,
        change_month, themes, review_ids`` (``;``-separated links), ``recorded_by,
        recorded_at, updated_by, updated_at, version``.
        """
        from data_access.actions import ACTION_STATUSES, load_actions

        requested = _codes(organisation_codes)
        statuses = _values(status, ACTION_STATUSES, "status")
        with self._door("actions", {"organisations": requested, "status": statuses}) as door:
            orgs = self._requested_organisations(requested, self._organisation_codes)
            _set_row_scope(door.conn, orgs)
            frame = load_actions(door.conn, orgs, statuses=statuses)
            self._check_inside(frame, orgs)
            door.scope["organisations"] = "all" if orgs is None else orgs
            door.rows = len(frame)
        return frame

    # ------------------------------------------------------------------- files ----
    def _file_scope(self, action: str) -> str | None:
        """The organisation a file command is limited to (``None``: all, administrators)."""
        if self.role == ADMINISTRATOR:
            return None
        if self.role == ORGANISATION_LEAD:
            return str(self._user.organisation_code)
        raise AccessDenied(f"{with_article(self.role)} may not use {action}")  # pragma: no cover

    def import_file(self, kind: str, path: str | Path, *, mapping: str | Path | None = None,
                    update: bool = False, progress: Any = None) -> Any:
        """Validate a file completely and store it, all or nothing (``sjr import``).

        Administrators load any file; an organisation lead only their own organisation's
        deaths and reviews. Returns the store's ``ImportResult``. Raises
        :class:`sjrlib.schema.ValidationFailed` (every bad row), :class:`sjrlib.io.ImportFileError`
        (the whole file), :class:`data_access.store.StoreError` or :class:`AccessDenied`; the
        store is then unchanged.
        """
        from data_access import transfer
        from sjrlib.io import ImportFileError
        from sjrlib.schema import ValidationFailed

        kind = transfer.check_kind(kind)
        path = Path(path)
        scope = {"file": path.name, "update": update}
        try:
            with self._door(f"import.{kind}", scope, permission="import") as door:
                organisation = self._file_scope("import")
                _set_row_scope(door.conn, None if organisation is None else [organisation])
                door.scope["organisations"] = "all" if organisation is None else [organisation]
                result = transfer.import_file(
                    door.conn, kind, path, organisation=organisation,
                    mapping=None if mapping is None else Path(mapping), update=update,
                    progress=progress, saved_by=self.user)
                door.rows = result.inserted + result.updated
                door.extra.update(inserted=result.inserted, updated=result.updated,
                                  unchanged=result.unchanged)
        except (ValidationFailed, ImportFileError, store.StoreError) as exc:
            self._audit_rejected_import(f"import.{kind}", scope, exc)
            raise
        return result

    def _audit_rejected_import(self, action: str, scope: dict[str, Any],
                               exc: BaseException) -> None:
        """Record a file the import refused (``<action>.rejected``; its own transaction, as
        the import's was rolled back): how many problems and rows and which rules, or the kind
        of refusal; never a value of the file. A store that cannot take the entry either (the
        fault that stopped the import) leaves the import's own error to be seen."""
        from sjrlib.io import ImportFileError
        from sjrlib.schema import ValidationFailed

        if isinstance(exc, ValidationFailed):
            what = {"problems": len(exc.errors),
                    "rows": len({(e.source, e.row) for e in exc.errors}),
                    "rules": sorted({str(e.rule) for e in exc.errors})[:20]}
        elif isinstance(exc, store.ImportConflictError):
            what = {"reason": "conflict with stored rows", "conflicts": len(exc.keys)}
        elif isinstance(exc, ImportFileError):
            what = {"reason": "unreadable file"}
        else:
            what = {"reason": type(exc).__name__}
        try:
            with self._engine.begin() as conn:
                _record(conn, audit.lock_for_read(conn), username=self.user, role=self.role,
                        action=f"{action}.rejected", scope={**scope, **what},
                        tool=self._tool)
        except Exception:  # noqa: BLE001 - the import's error is the one to report
            pass

    def export(self, kind: str) -> pd.DataFrame:
        """The stored rows of one kind in the exchange format, to write to a file
        (``sjr export``): everything for an administrator, the own organisation's rows for an
        organisation lead. The read is audited before the frame is returned."""
        from data_access import transfer

        kind = transfer.check_kind(kind)
        with self._door(f"export.{kind}", {}, permission="export") as door:
            organisation = self._file_scope("export")
            _set_row_scope(door.conn, None if organisation is None else [organisation])
            frame = transfer.export_frame(door.conn, kind, organisation=organisation)
            door.scope["organisations"] = "all" if organisation is None else [organisation]
            door.rows = len(frame)
        return frame

    def summary(self) -> dict[str, pd.DataFrame]:
        """Counts of what is in the store, within the scope (``sjr summary``)."""
        from data_access import transfer

        with self._door("summary", {"aggregate": True}) as door:
            orgs = None if self.role == ADMINISTRATOR else self._organisation_codes
            _set_row_scope(door.conn, orgs)
            tables = transfer.summary(door.conn, organisations=orgs)
            door.scope["organisations"] = "all" if orgs is None else list(orgs)
            door.rows = int(tables["totals"]["count"].iloc[0])
        return tables

    # ------------------------------------------------------------ backup and restore ----
    @property
    def database_url(self) -> Any:
        """The URL of the store this session reads (SQLAlchemy ``URL``; no password shown)."""
        return self._engine.url

    def backup_keys(self, file_name: str) -> tuple[str | None, dict[str, str]]:
        """Audit a backup of the store (administrators) and return what it must carry besides
        the store: the store's key-file token and its approval keys (``{}`` without any).
        :func:`data_access.backup.backup` takes the copy after this entry is committed."""
        from data_access import approval_keys

        with self._door("backup", {"file": file_name}, permission="backup") as door:
            token = approval_keys.store_token(door.conn)
            keys = (approval_keys.load_keys(approval_keys.key_file_path(door.conn.engine.url),
                                            token) if token else {})
            door.extra["keys"] = len(keys)
        return token, keys

    def refuse_restore(self, file_name: str, reason: str) -> None:
        """Refuse a restore into this (existing, non-empty) store: audited here as
        ``restore.denied`` with ``reason`` once the role is checked; always raises
        :class:`AccessDenied`."""
        with self._door("restore", {"file": file_name}, permission="backup"):
            raise AccessDenied(reason)

    def verify_restore(self, file_name: str, *, keys: int,
                       backup_audit_head: int | None) -> audit.VerifyResult:
        """Check the audit chain of a restored store and record the restore (administrators)."""
        with self._door("restore", {"file": file_name}, permission="backup") as door:
            result = audit.verify(door.conn)
            door.rows = result.entries
            door.extra.update(problems=len(result.problems), keys=keys,
                              backup_audit_head=backup_audit_head)
        return result

    # ------------------------------------------------------------------ researchers ----
    def approvals(self) -> pd.DataFrame:
        """Approvals: all of them for an administrator; a researcher's own usable ones."""
        with self._door("approvals", {}) as door:
            frame = _approvals.list_approvals(door.conn)
            if self.role == RESEARCHER:
                usable = {a.approval_id for a in _approvals.usable_approvals(door.conn,
                                                                             self.user)}
                frame = frame[frame["approval_id"].isin(usable)].reset_index(drop=True)
            door.rows = len(frame)
        return frame

    def extract(self, approval_id: str, out: str | Path, *,
                fields: Sequence[str] | None = None) -> Any:
        """Write a researcher's extract (Parquet or CSV) and its manifest; see
        :func:`data_access.extract.write_extract`. Returns the :class:`ExtractResult`."""
        from data_access.extract import check_destination, remove, write_extract

        out = check_destination(out)
        scope = {"file": out.name, "columns": _codes(fields)}
        result = None
        try:
            with self._door("extract", scope, permission="reviews") as door:
                if self.role != RESEARCHER:
                    raise AccessDenied("extracts are made under a data access approval by its "
                                       "researchers")
                linked: dict[str, pd.DataFrame] = {}
                frame = self._researcher_reviews(door, None, None, None, None, None,
                                                 approval_id, fields, linked)
                approval = _approvals.get_approval(door.conn, approval_id)
                assert approval is not None  # checked by _researcher_reviews
                result = write_extract(frame, out, approval=approval, user=self.user,
                                       disclosure=door.extra["disclosure"], linked=linked)
                door.rows = result.rows
                door.extra["sha256"] = result.sha256
                for table in result.linked:
                    door.extra[f"{table.name}_sha256"] = table.sha256
        except BaseException:
            if result is not None:  # written, but its audit entry did not commit
                remove(result)
            raise
        return result

    # ---------------------------------------------------------------- administration ----
    def users(self) -> pd.DataFrame:
        """All users (administrators)."""
        with self._door("users.list", {}, permission="users") as door:
            frame = list_users(door.conn)
            door.rows = len(frame)
        return frame

    def add_user(self, username: str, role: str, *, organisation_code: str | None = None,
                 reviewer_id: str | None = None) -> None:
        """Register a user (administrators)."""
        scope = {"username": username, "role": role, "organisation_code": organisation_code}
        with self._door("users.add", scope, permission="users") as door:
            if pg_security.is_postgresql(door.conn):  # the database creates the LOGIN role
                name = check_new_user(door.conn, username, role,
                                      organisation_code=organisation_code,
                                      reviewer_id=reviewer_id)
                pg_security.add_user(door.conn, acting=self.user, username=name,
                                     role=role, organisation_code=organisation_code,
                                     reviewer_id=reviewer_id, tool=self._tool)
                door.audited = True
            else:
                add_user(door.conn, username, role, organisation_code=organisation_code,
                         reviewer_id=reviewer_id)
            door.rows = 1

    def disable_user(self, username: str) -> None:
        """Disable a user at once: their open sessions are refused from their next call."""
        with self._door("users.disable", {"username": username}, permission="users") as door:
            if username == self.user:
                raise ValueError("an administrator cannot disable themselves")
            self._set_disabled(door, username, True)

    def enable_user(self, username: str) -> None:
        """Enable a disabled user again (administrators)."""
        with self._door("users.enable", {"username": username}, permission="users") as door:
            self._set_disabled(door, username, False)

    def _set_disabled(self, door: _Door, username: str, disabled: bool) -> None:
        if pg_security.is_postgresql(door.conn):  # NOLOGIN / LOGIN too, audited by the database
            pg_security.set_disabled(door.conn, acting=self.user, username=username,
                                     disabled=disabled, tool=self._tool)
            door.audited = True
        else:
            set_disabled(door.conn, username, disabled)
        door.rows = 1

    def add_approval(self, spec: _approvals.ApprovalSpec) -> None:
        """Add an approval to the register (administrators)."""
        with self._door("approvals.add", {"approval": spec.id}, permission="approvals") as door:
            if self.role != ADMINISTRATOR:
                raise AccessDenied("only administrators add approvals")
            if pg_security.is_postgresql(door.conn):  # written and audited by the database
                pg_security.add_approval(door.conn, spec, acting=self.user, tool=self._tool)
                from data_access import approval_keys

                approval_keys.add_key(door.conn, spec.id)
                door.audited = True
            else:
                _approvals.add_approval(door.conn, spec)
            door.approval_id = spec.id
            door.rows = 1

    def revoke_approval(self, approval_id: str, reason: str) -> None:
        """Revoke an approval now (administrators); its researchers are refused at once."""
        with self._door("approvals.revoke", {"approval": approval_id, "reason": reason},
                        permission="approvals") as door:
            if self.role != ADMINISTRATOR:
                raise AccessDenied("only administrators revoke approvals")
            if pg_security.is_postgresql(door.conn):  # written and audited by the database
                pg_security.revoke_approval(door.conn, approval_id, reason, acting=self.user,
                                            tool=self._tool)
                door.audited = True
            else:
                _approvals.revoke_approval(door.conn, approval_id, reason)
            door.approval_id = approval_id
            door.rows = 1

    def audit_log(self, *, username: str | None = None, action: str | None = None,
                  since: dt.date | None = None, until: dt.date | None = None) -> pd.DataFrame:
        """Audit entries, filtered by user, action and period (administrators)."""
        scope = {"username": username, "action": action,
                 "since": since and since.isoformat(), "until": until and until.isoformat()}
        with self._door("audit.show", scope, permission="audit") as door:
            frame = audit.entries(door.conn, username=username, action=action, since=since,
                                  until=until)
            door.rows = len(frame)
        return frame

    def verify_audit(self) -> audit.VerifyResult:
        """Check the audit chain (administrators); the check itself is then logged."""
        with self._door("audit.verify", {}, permission="audit") as door:
            result = audit.verify(door.conn)
            door.rows = result.entries
            door.extra["problems"] = len(result.problems)
        return result

    # ------------------------------------------ training and calibration (issue 15) ----
    # ``shared/spec/training.md``. The trainer directory is public by design; training records
    # and calibration answers are scoped like reviews. Calibration answers are stored in their
    # own table (:mod:`data_access.training`), never in ``reviews``: nothing that reads reviews
    # can count them.
    def _training_scope(self, conn: Connection) -> tuple[list[str] | None, str | None]:
        """(organisations, reviewer id) a training read is limited to; sets the row scope."""
        orgs = None if self._organisation_codes is None else list(self._organisation_codes)
        _set_row_scope(conn, orgs)
        return orgs, (self._user.reviewer_id if self.role == REVIEWER else None)

    def trainers(self) -> pd.DataFrame:
        """The trainer directory (every role: it is published): ``trainer_id, name, contact,
        organisation, region, trained_on, active``."""
        from data_access import training

        with self._door("trainers", {}) as door:
            frame = training.load_trainers(door.conn)
            door.rows = len(frame)
        return frame

    def import_trainers(self, frame: pd.DataFrame, *, source: str = "trainers",
                        rows: Sequence[int] | None = None) -> tuple[int, int]:
        """Add or update tier one trainers (programme team); returns (new, updated). The
        whole file is checked first (:func:`data_access.training.check_trainers`; ``rows``:
        each row's number in the file, header = row 1)."""
        from data_access import training

        checked = training.check_trainers(frame, source, rows)
        with self._door("trainers.import", {"file": source, "trainers": len(checked)}) as door:
            inserted, updated = training.upsert_trainers(door.conn, checked, by=self.user)
            door.rows = inserted + updated
            door.extra.update(inserted=inserted, updated=updated)
        return inserted, updated

    def training_records(self) -> pd.DataFrame:
        """Training records in scope: a reviewer's own, a lead's organisation's, all for the
        programme team (``record_id, organisation_code, reviewer_id, trainer_id, trained_on,
        session, refresher_dates``)."""
        from data_access import training

        with self._door("training_records", {}) as door:
            orgs, reviewer = self._training_scope(door.conn)
            frame = training.load_records(door.conn, organisations=orgs, reviewer_id=reviewer)
            self._check_inside(frame, orgs)
            door.scope["organisations"] = "all" if orgs is None else orgs
            door.rows = len(frame)
        return frame

    def import_training_records(self, frame: pd.DataFrame, *, source: str = "training records",
                                rows: Sequence[int] | None = None) -> tuple[int, int]:
        """Add or update training records (organisation leads: their organisation's; the
        programme team: any); returns (new, updated). ``rows``: each row's number in the
        file (header = row 1), to name it in errors."""
        from data_access import training

        with self._door("training_records.import", {"file": source, "records": len(frame)}
                        ) as door:
            orgs, _ = self._training_scope(door.conn)
            known = list(store.load_organisations(door.conn, None)["organisation_code"])
            trainers = list(training.load_trainers(door.conn)["trainer_id"])
            checked = training.check_records(frame, source, trainers=trainers,
                                             organisations=known, rows=rows)
            outside = sorted(set(checked["organisation_code"]) - set(known if orgs is None
                                                                      else orgs))
            if outside:
                raise AccessDenied(f"training records of {', '.join(outside)} are outside the "
                                   f"scope of {self.user!r}")
            if len(checked):
                taken = training.load_records(door.conn, organisations=None)
                theirs = taken[taken["record_id"].isin(set(checked["record_id"]))
                               & ~taken["organisation_code"].isin(orgs or known)]
                if len(theirs):
                    raise AccessDenied("a record id is already used outside your organisation")
            inserted, updated = training.upsert_records(door.conn, checked, by=self.user)
            door.scope["organisations"] = "all" if orgs is None else orgs
            door.rows = inserted + updated
            door.extra.update(inserted=inserted, updated=updated)
        return inserted, updated

    def training_cases(self, case_ids: Sequence[str] | None = None, *,
                       reference: bool = False) -> list[Any]:
        """Training cases (:class:`data_access.training.TrainingCase`), all or those named.

        ``reference=True`` includes the panel's reference answers: for leads and the programme
        team always; for a reviewer only of the cases they have submitted an answer to (a
        reference seen first would spoil the calibration). Without it the reference fields
        are empty.
        """
        import dataclasses

        from data_access import training

        scope = {"case_ids": _codes(case_ids), "reference": bool(reference)}
        with self._door("training_cases", scope) as door:
            cases = training.load_cases(door.conn, None if case_ids is None else list(case_ids))
            shown: set[str] = set()
            if reference and self.role == REVIEWER:
                orgs, reviewer = self._training_scope(door.conn)
                answers = training.load_answers(door.conn, organisations=orgs,
                                                reviewer_id=reviewer)
                shown = set(answers.loc[answers["status"] == "submitted", "case_id"])
            elif reference:
                shown = {c.case_id for c in cases}
            cases = [c if c.case_id in shown else dataclasses.replace(
                c, care="", scores={}, problems={}, avoidability=None, themes=())
                for c in cases]
            door.rows = len(cases)
            door.extra["references"] = len(shown & {c.case_id for c in cases})
        return cases

    def import_training_cases(self, cases: Sequence[Any], *, source: str = "cases"
                              ) -> tuple[int, int]:
        """Add or replace fictional training cases (programme team); returns (new, updated).

        Each case's reference themes must be active themes of the store's latest codebook,
        read in the import's own transaction (the themes a calibration answer may name:
        ``save_calibration_answer``): a reference naming another could never be agreed with.
        Otherwise :class:`data_access.training.TrainingDataError` lists every such case, in
        the words of :func:`data_access.training.parse_cases` (``source`` naming the file),
        and nothing is stored.
        """
        from data_access import training
        from sjrlib.themes.codebook import stored_codebook

        scope = {"file": source, "cases": len(cases)}
        with self._door("training_cases.import", scope) as door:
            book = stored_codebook(*_themes_codebook_row(door.conn, None))
            retired_ids = {t.id for t in book.themes if t.retired}
            problems: list[str] = []
            for case in cases:
                where = f"{source}: case {case.case_id}, field reference.themes"
                unknown = sorted(set(case.themes) - set(book.ids))
                retired = sorted(set(case.themes) & retired_ids)
                if unknown:
                    problems.append(f"{where}: theme(s) {', '.join(unknown)} not in codebook "
                                    f"{book.version}")
                if retired:
                    problems.append(f"{where}: theme(s) {', '.join(retired)} retired in "
                                    f"codebook {book.version}")
            if problems:
                raise training.TrainingDataError(training.listed(source, problems))
            inserted, updated = training.upsert_cases(door.conn, cases, by=self.user)
            door.rows = inserted + updated
            door.extra.update(inserted=inserted, updated=updated)
        return inserted, updated

    def calibration_rounds(self) -> pd.DataFrame:
        """Calibration rounds this user takes part in or oversees: a reviewer's own rounds, a
        lead's organisation's rounds and the rounds its reviewers are in, every round for the
        programme team. Columns: ``round_id, name, organisation_code, case_ids, opens_on,
        closes_on, members`` (members in scope)."""
        from data_access import training

        with self._door("calibration_rounds", {}) as door:
            orgs, reviewer = self._training_scope(door.conn)
            rounds = training.load_rounds(door.conn)
            members = training.load_members(door.conn, organisations=orgs,
                                            reviewer_id=reviewer)
            count = members.groupby("round_id").size()
            mine = rounds["round_id"].isin(set(members["round_id"]))
            if orgs is not None and self.role != REVIEWER:
                mine |= rounds["organisation_code"].isin(orgs).fillna(False).astype(bool)
            if orgs is not None:
                rounds = rounds[mine].reset_index(drop=True)
            rounds["members"] = [int(count.get(r, 0)) for r in rounds["round_id"]]
            door.scope["organisations"] = "all" if orgs is None else orgs
            door.rows = len(rounds)
        return rounds

    def create_calibration_round(self, spec: Any) -> str:
        """Create a round (:class:`data_access.training.RoundSpec`): the programme team any
        round; an organisation lead a round of their organisation, of its reviewers only.
        Every problem is named at once (:func:`data_access.training.check_round`, and what is
        outside the user's scope); with one outside it the whole is refused (audited)."""
        from data_access import training

        scope = {"round_id": spec.round_id, "organisation": spec.organisation_code,
                 "cases": len(spec.case_ids), "members": len(spec.members)}
        with self._door("calibration_rounds.create", scope) as door:
            orgs, _ = self._training_scope(door.conn)
            refused: list[str] = []  # outside this user's scope: the whole call is refused
            if orgs is not None:
                if spec.organisation_code not in orgs:
                    refused.append(f"organisation_code: an organisation lead creates rounds "
                                   f"of {orgs[0]}")
                outside = sorted({o for o, _ in spec.members} - set(orgs))
                if outside:
                    refused.append(f"members: reviewers of {', '.join(outside)} are outside "
                                   f"the scope of {self.user!r}")
            problems = training.check_round(door.conn, spec)
            if orgs is None:
                known = set(store.load_organisations(door.conn, None)["organisation_code"])
                unknown = sorted({o for o, _ in spec.members} - known)
                if unknown:
                    problems.append(f"members: unknown organisation(s) {', '.join(unknown)}")
            if refused or problems:  # every problem at once; a refusal is audited as one
                listing = training.listed(f"round {spec.round_id}", [*refused, *problems],
                                          "created")
                raise (AccessDenied if refused else training.TrainingDataError)(listing)
            training.insert_round(door.conn, spec, by=self.user)
            door.rows = 1 + len(spec.members)
        return spec.round_id

    def save_calibration_answer(self, round_id: str, case_id: str, values: dict[str, Any], *,
                                reviewer_id: str | None = None) -> str:
        """Save a reviewer's answer to one case of a round (a training answer: never a review);
        returns its id.

        Reviewers answer for themselves, inside the round's window, in rounds they are a
        member of. An organisation lead may enter the answers of their organisation's members
        (a session held on paper), also after the window closed. ``values``: ``status``
        (``draft``/``submitted``), ``score_<phase>``, ``comments`` ({phase: text}),
        ``problems`` ({type: harm}), ``avoidability_score``, ``themes``. A submitted answer
        is final. Every value is checked as a review's entry is
        (:func:`data_access.training.check_answer`: identifiers in the comments, the form's
        phases, the active themes of the store's codebook); nothing is saved if one fails.
        """
        from data_access import training
        from sjrlib.themes.codebook import stored_codebook

        scope = {"round_id": round_id, "case_id": case_id,
                 "status": str(values.get("status") or "draft")}
        with self._door("save_calibration_answer", scope) as door:
            orgs, own = self._training_scope(door.conn)
            assert orgs is not None  # reviewers and leads only (roles)
            if self.role == REVIEWER:
                if reviewer_id not in (None, own):
                    raise AccessDenied("a reviewer answers only for themselves")
                reviewer_id = own
            elif reviewer_id is None:
                raise ValueError("say whose answer this is (reviewer_id)")
            rounds = training.load_rounds(door.conn, [round_id])
            members = training.load_members(door.conn, organisations=orgs,
                                            reviewer_id=reviewer_id)
            if not len(rounds) or round_id not in set(members["round_id"]):
                raise AccessDenied(f"round {round_id!r} is not one of "
                                   f"{'your' if self.role == REVIEWER else 'your reviewers'} "
                                   "rounds (or does not exist)")
            round_ = rounds.iloc[0]
            if case_id not in round_["case_ids"]:
                raise ValueError(f"case {case_id} is not in round {round_id}")
            today = uk_today()
            if today < round_["opens_on"] or (self.role == REVIEWER
                                              and today > round_["closes_on"]):
                raise AccessDenied(f"round {round_id} is open from {round_['opens_on']} to "
                                   f"{round_['closes_on']}")
            organisation = str(members.loc[members["round_id"] == round_id,
                                           "organisation_code"].iloc[0])
            # the themes an answer may name: the active themes of the store's latest
            # codebook, as theme coding takes them (code_review)
            book = stored_codebook(*_themes_codebook_row(door.conn, None))
            answer_id = training.save_answer(door.conn, round_id=round_id, case_id=case_id,
                                             organisation_code=organisation,
                                             reviewer_id=str(reviewer_id), values=values,
                                             by=self.user, codebook=book)
            door.scope["organisations"] = [organisation]
            door.rows = 1
        return answer_id

    def calibration_answers(self, round_id: str | None = None) -> pd.DataFrame:
        """Calibration answers in scope (a reviewer's own, a lead's organisation's, all for the
        programme team), of one round or all; see
        :data:`data_access.training.ANSWER_COLUMNS`. Read by calibration outputs only.

        A ``round_id`` this user does not take part in or oversee is refused as
        :meth:`calibration_data` refuses it: in the same words as one that does not exist
        (audited as ``calibration_answers.denied``); for the programme team an unknown one is
        a ``ValueError`` naming it. A round of theirs with no answer yet is an empty frame."""
        from data_access import training

        with self._door("calibration_answers", {"round_id": round_id}) as door:
            orgs, reviewer = self._training_scope(door.conn)
            if round_id is not None:
                rounds = training.load_rounds(door.conn, [round_id])
                if orgs is not None and len(rounds):
                    members = training.load_members(door.conn, organisations=orgs,
                                                    reviewer_id=reviewer)
                    mine = rounds["round_id"].isin(set(members["round_id"]))
                    if self.role != REVIEWER:  # a lead oversees their organisation's rounds
                        mine |= rounds["organisation_code"].isin(orgs).fillna(False) \
                            .astype(bool)
                    rounds = rounds[mine]
                if not len(rounds):
                    _no_such_round(round_id, orgs)
            frame = training.load_answers(door.conn, organisations=orgs, reviewer_id=reviewer,
                                          round_id=round_id)
            self._check_inside(frame, orgs)
            door.scope["organisations"] = "all" if orgs is None else orgs
            door.rows = len(frame)
        return frame

    def calibration_data(self, round_id: str | None = None) -> dict[str, Any]:
        """What calibration results are computed from, in one audited read: ``rounds`` (as
        :meth:`calibration_rounds`), ``answers`` (as :meth:`calibration_answers`) and
        ``cases`` (the rounds' cases, with the reference answers as :meth:`training_cases`
        gives them to this user). A ``round_id`` this user may not see is refused with the
        same words as one that does not exist (and audited); for the programme team an
        unknown one is a ``ValueError`` naming it."""
        import dataclasses

        from data_access import training

        with self._door("calibration_data", {"round_id": round_id},
                        permission="calibration_answers") as door:
            orgs, reviewer = self._training_scope(door.conn)
            answers = training.load_answers(door.conn, organisations=orgs,
                                            reviewer_id=reviewer, round_id=round_id)
            self._check_inside(answers, orgs)
            members = training.load_members(door.conn, organisations=orgs,
                                            reviewer_id=reviewer)
            rounds = training.load_rounds(door.conn)
            mine = rounds["round_id"].isin(set(members["round_id"]))
            if orgs is not None and self.role != REVIEWER:
                mine |= rounds["organisation_code"].isin(orgs).fillna(False).astype(bool)
            if orgs is not None:
                rounds = rounds[mine]
            if round_id is not None:
                rounds = rounds[rounds["round_id"] == round_id]
                if not len(rounds):
                    _no_such_round(round_id, orgs)
            rounds = rounds.reset_index(drop=True)
            wanted = sorted({c for ids in rounds["case_ids"] for c in ids})
            cases = training.load_cases(door.conn, wanted)
            if self.role == REVIEWER:  # references of the cases they have submitted only
                shown = set(answers.loc[answers["status"] == "submitted", "case_id"])
                cases = [c if c.case_id in shown else dataclasses.replace(
                    c, care="", scores={}, problems={}, avoidability=None, themes=())
                    for c in cases]
            door.scope["organisations"] = "all" if orgs is None else orgs
            door.rows = len(answers)
        return {"rounds": rounds, "answers": answers, "cases": cases}

    # ----------------------------------------------------------------------- lifecycle ----
    def close(self) -> None:
        """Close the session (and its connections when it opened them)."""
        if not self._closed and self._owns_engine:
            self._engine.dispose()
        self._closed = True

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _followers(conn: Connection, review_id: str) -> dict[str, tuple]:
    """The stored second-stage reviews that follow ``review_id``, in the shape
    ``sjrlib.rules.normalise_known_reviews`` takes, so a change that would break their link
    is shown beside the field that breaks it."""
    rows = conn.execute(text(
        "SELECT review_id, case_id, review_stage, organisation_code, reviewer_id, "
        "second_review_of FROM reviews WHERE second_review_of = :r AND review_stage = 'second'"),
        {"r": review_id}).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def _themes_texts(conn: Connection, codes: pd.DataFrame) -> pd.Series:
    """The judgement text each code was given for: its phase's comment, or all of them."""
    comments: dict[str, dict[str, str]] = {}
    ids = sorted(set(codes["review_id"]))
    for start in range(0, len(ids), 500):
        chunk = {f"r{i}": v for i, v in enumerate(ids[start:start + 500])}
        rows = conn.execute(text(
            "SELECT p.review_id, p.phase, p.comment FROM reviews r JOIN phase_assessments p "
            "ON p.organisation_code = r.organisation_code AND p.review_id = r.review_id "
            "WHERE p.comment IS NOT NULL AND r.review_id IN ("
            + ", ".join(f":{k}" for k in chunk) + ")"), chunk).all()
        for review, phase, comment in rows:
            comments.setdefault(str(review), {})[str(phase)] = str(comment)
    order = {p: i for i, p in enumerate(domain.PHASES)}
    out = []
    for review, phase in zip(codes["review_id"], codes["phase"]):
        mine = comments.get(str(review), {})
        if pd.isna(phase):
            out.append(" ".join(mine[p] for p in sorted(mine, key=lambda p: order.get(p, 99))))
        else:
            out.append(mine.get(str(phase), ""))
    return pd.Series(out, index=codes.index, dtype="string")


def stored_time(conn: Connection, when: dt.datetime) -> dt.datetime | str:
    """``when`` as a time column is written: PostgreSQL takes the datetime (``timestamptz``);
    SQLite, which keeps text, gets one form, ``YYYY-MM-DD HH:MM:SS[.ffffff]+00:00`` in UTC
    (the form the demo's and the imports' rows have), whatever the driver's adapters do."""
    when = when.astimezone(dt.UTC) if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return when if conn.dialect.name == "postgresql" else when.isoformat(sep=" ")


def utc_times(values: Any) -> pd.Series:
    """Stored times (``theme_codes.coded_at`` ...) as tz-aware UTC timestamps.

    PostgreSQL returns datetimes; SQLite returns text, in whatever ISO 8601 form the writer
    used (``2021-08-01 10:00:00+00:00``, ``2026-12-06T07:54:32.139041+00:00``): each value is
    parsed on its own (``format="ISO8601"``), never in a form guessed from the first. A time
    without an offset is UTC."""
    series = pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC")
    return pd.to_datetime(series.astype(object), utc=True, format="ISO8601")


def _in_coded_order(codes: pd.DataFrame) -> pd.DataFrame:
    """Theme codes with ``coded_at`` as UTC timestamps, ordered by time then id (SQL's ORDER BY
    on SQLite compares the stored text, which orders mixed forms wrongly)."""
    codes = codes.assign(coded_at=utc_times(codes["coded_at"]))
    return codes.sort_values(["coded_at", "id"], kind="stable").reset_index(drop=True)


def _released_theme_codes(conn: Connection, approval: _approvals.ApprovalRecord,
                          review_ids: set[str]) -> pd.DataFrame:
    """The stored theme codes of ``review_ids`` (reviews an approval releases), with their
    coder and time (the caller pseudonymises; neither is released as such)."""
    columns = ["id", "review_id", "theme", "phase", "codebook_version", "coded_by", "coded_at",
               "from_suggestion"]
    orgs = {f"o{i}": code for i, code in enumerate(approval.organisations)}
    # no review released, no query: a researcher's own role may not read theme codes (0033)
    rows = [] if not review_ids else conn.execute(text(
        f"SELECT {', '.join(f't.{c}' for c in columns)} FROM theme_codes t JOIN reviews r "
        "ON r.organisation_code = t.organisation_code AND r.review_id = t.review_id "
        "WHERE r.organisation_code IN ("
        + ", ".join(f":{k}" for k in orgs) + ") AND r.death_month BETWEEN :ps AND :pe"),
        {**orgs, "ps": approval.period_start, "pe": approval.period_end}).mappings().all()
    codes = pd.DataFrame(rows, columns=columns)
    codes["from_suggestion"] = codes["from_suggestion"].astype(bool)
    codes = _in_coded_order(codes)
    return codes[codes["review_id"].astype(str).isin(review_ids)].reset_index(drop=True)


def _themes_codebook_row(conn: Connection, version: str | None) -> tuple[str, str]:
    """``(version, YAML text)`` of a stored codebook: ``version``, or the latest imported."""
    if version is None:
        row = conn.execute(text("SELECT version, codebook FROM codebook_versions "
                                "ORDER BY imported_at DESC, version DESC LIMIT 1")).first()
    else:
        row = conn.execute(text("SELECT version, codebook FROM codebook_versions "
                                "WHERE version = :v"), {"v": version}).first()
    if row is None and version:
        raise ValueError(f"no codebook {version} in the store")
    if row is None:
        from sjrlib.themes.codebook import NoStoredCodebook

        raise NoStoredCodebook("no codebook in the store; run sjr init-db")
    return str(row[0]), str(row[1])


def _scope_of(conn: Connection, user: UserRecord) -> tuple[str, ...] | None:
    if user.role in (REVIEWER, ORGANISATION_LEAD):
        return (str(user.organisation_code),)
    if user.role == PROGRAMME_TEAM:
        return None
    if user.role == RESEARCHER:
        usable = _approvals.usable_approvals(conn, user.username)
        return tuple(sorted({o for a in usable for o in a.organisations}))
    return ()


def _engine_for(db: str | Engine | None) -> tuple[Engine, bool]:
    if isinstance(db, Engine):
        return db, False
    return store.get_engine(store.existing_store_url(db)), True


def open_session(user: str | None = None, db: str | Engine | None = None, *,
                 tool: str = "notebook") -> Session:
    """Open the governed session of a user.

    Parameters
    ----------
    user
        User name; ``None`` finds it from the environment (``JUPYTERHUB_USER``, ``SJR_USER``,
        the local identity file). Under JupyterHub only the hub's user is accepted.
    db
        Database URL or engine; ``None`` means :func:`data_access.store.database_url`.
    tool
        Recorded in every audit entry (``notebook``, ``voila``, ``cli``, ``report`` ...).

    Raises
    ------
    AccessDenied
        No identity, an unknown user or a disabled one. The refusal is audited.
    """
    engine, owns = _engine_for(db)
    try:
        username = _who(engine, user)
    except AccessDenied as exc:
        _audit_open_denied(engine, user or "(no identity)", str(exc), tool)
        if owns:
            engine.dispose()
        raise
    try:
        with engine.begin() as conn:
            held = audit.lock_for_read(conn)  # opening only reads: no wait behind an import
            record = authenticate(conn, username)
            scope = _scope_of(conn, record)
            _record(conn, held, username=username, role=record.role, action="session.open",
                    scope={"organisations": "all" if scope is None else list(scope)},
                    tool=tool)
    except AccessDenied as exc:
        _audit_open_denied(engine, username, str(exc), tool)
        if owns:
            engine.dispose()
        raise
    return Session(engine, record, tool=tool, organisation_codes=scope, owns_engine=owns)


def _who(engine: Engine, user: str | None) -> str:
    """The user a session acts for: on PostgreSQL a person's own database role decides (a
    differing claim is refused); otherwise the claim (:func:`resolve_username`)."""
    if engine.dialect.name != "postgresql":
        return resolve_username(user)
    with engine.connect() as conn:
        return resolve_identity(conn, user)


def _audit_open_denied(engine: Engine, username: str, reason: str, tool: str) -> None:
    with engine.begin() as conn:
        _record(conn, audit.lock_for_read(conn), username=username, role=None,
                action="session.denied", scope={"reason": reason}, tool=tool)


def bootstrap_administrator(username: str, db: str | Engine | None = None, *,
                            tool: str = "cli") -> None:
    """Register an administrator on a store that has no enabled administrator.

    This is the operator's way in (whoever runs ``sjr init-db``: the owner of a SQLite file, or
    of the PostgreSQL schema), so no store can lock everyone out: a new store, or one whose
    administrators were all disabled. Refused once an enabled administrator exists: from then on
    administrators add users (:meth:`Session.add_user`). Audited like every other change.
    """
    from data_access.identity import count_administrators, get_user

    engine, owns = _engine_for(db)
    try:
        with engine.begin() as conn:
            audit.lock(conn)
            if count_administrators(conn):
                raise AccessDenied("this store has an administrator already: an administrator "
                                   "adds users (`sjr users add` run as that administrator)")
            existing = get_user(conn, username)
            if existing is not None:
                raise AccessDenied(f"{username!r} is registered already (as {existing.role}); "
                                   "choose another name for the administrator")
            add_user(conn, username, ADMINISTRATOR)
            audit.append(conn, username=username, role=ADMINISTRATOR, action="users.add",
                         scope={"username": username, "role": ADMINISTRATOR,
                                "bootstrap": True}, rows=1, tool=tool)
            if conn.dialect.name == "postgresql":  # their own LOGIN role, so they can sign in
                from data_access import pg_security

                pg_security.give_login(conn, acting=username, username=username, tool=tool)
    finally:
        if owns:
            engine.dispose()
