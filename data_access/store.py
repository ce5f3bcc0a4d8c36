"""The store: where the database is, its schema, bulk import, loading, and saving one review.

.. warning::
   Everything here is **unscoped**: it reads and writes every organisation's data and writes no
   audit entry of its own. Only the governed access layer (:mod:`data_access.session`, which
   scopes and audits) and the administrator's command line import path (``sjr import``) may call
   it. Notebooks, dashboards and reports go through ``data_access.open_session``.

Frames in and out are the shapes of :mod:`sjrlib.domain`: the review frame (``REVIEW_COLUMNS`` /
``REVIEW_DTYPES``), the deaths frame and the organisations frame. Imports take frames that have
already passed :mod:`sjrlib.schema`; they add no validation rules of their own, but the database's
constraints (:mod:`data_access.models`) still refuse anything outside the domain.

Imports are all or nothing: one transaction; re-importing identical rows changes nothing; a row
that differs from the stored one is an error naming it, unless ``update=True``, which replaces it
and bumps its ``version``.

The code lives in :mod:`data_access.database` (where the database is, its schema),
:mod:`data_access.bulk` (imports) and :mod:`data_access.loading` (frames out); this module
saves one review at a time and is the one place the rest of the project imports all of it from.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import (
    Connection,
    insert,
    select,
)
from sqlalchemy import update as sa_update

from data_access.bulk import (
    CHUNK_ROWS,
    ImportConflictError,
    ImportResult,
    OnWrite,
    _delete_children,
    import_deaths,
    import_organisations,
    import_review_blocks,
    import_reviews,
    refuse_broken_followers,
    register_reviewers,
    register_through_function,
)
from data_access.database import (
    _PHASES,
    _PROBLEMS,
    _REASONS,
    _REFERRAL_COLUMNS,
    _REFERRAL_ROW,
    _REFERRALS,
    _REVIEW_FIELDS,
    _REVIEWERS,
    _REVIEWS,
    DEFAULT_URL,
    StoreError,
    _begin_write,
    _now,
    _transaction,
    collation_advice,
    database_url,
    existing_store_url,
    get_engine,
    init_db,
)
from data_access.loading import (
    known_organisations,
    known_review_frame,
    known_reviews,
    load_deaths,
    load_organisations,
    load_reviews,
)
from sjrlib import domain

__all__ = [
    "CHUNK_ROWS",
    "DEFAULT_URL",
    "ImportConflictError",
    "ImportResult",
    "OnWrite",
    "ReviewNotFoundError",
    "StaleReviewError",
    "StoreError",
    "collation_advice",
    "database_url",
    "existing_store_url",
    "get_engine",
    "import_deaths",
    "import_organisations",
    "import_review_blocks",
    "import_reviews",
    "init_db",
    "known_organisations",
    "known_review_frame",
    "known_reviews",
    "load_deaths",
    "load_organisations",
    "load_reviews",
    "save_review",
    "set_status",
]


class ReviewNotFoundError(StoreError, LookupError):
    """No review with this id in the store."""


class StaleReviewError(StoreError):
    """Someone else saved the review since you loaded it: your version is out of date.

    Attributes ``review_id``, ``expected_version`` (yours), ``current_version`` (the store's),
    ``updated_by`` and ``updated_at`` (who and when last saved it, when known).
    """

    def __init__(self, review_id: str, expected_version: int | None, current_version: int,
                 updated_by: str | None = None, updated_at: dt.datetime | None = None):
        self.review_id = review_id
        self.expected_version = expected_version
        self.current_version = current_version
        self.updated_by = updated_by
        self.updated_at = updated_at
        who = updated_by or "someone else"
        when = f" on {updated_at:%Y-%m-%d at %H:%M}" if updated_at is not None else ""
        if expected_version is None:
            msg = (f"Review {review_id} already exists (saved by {who}{when}, version "
                   f"{current_version}); you were creating it as new. Nothing was saved: load "
                   "the stored review and apply your changes to it.")
        else:
            msg = (f"Review {review_id} was changed by {who}{when} while you were editing it: "
                   f"the store has version {current_version}, you edited version "
                   f"{expected_version}. Nothing was saved: reload the review and apply your "
                   "changes again.")
        super().__init__(msg)


# ---------------------------------------------------------------------- one review at a time --
def _stale(conn: Connection, review_id: str, expected_version: int | None) -> StoreError:
    row = conn.execute(select(_REVIEWS.c.version, _REVIEWS.c.updated_by, _REVIEWS.c.updated_at)
                       .where(_REVIEWS.c.review_id == review_id)).first()
    if row is None:
        return ReviewNotFoundError(f"There is no review {review_id} in the store.")
    return StaleReviewError(review_id, expected_version, row.version, row.updated_by,
                            row.updated_at)


def save_review(conn: Connection, values: dict, expected_version: int | None = None, *,
                saved_by: str | None = None) -> tuple[str, int]:
    """Insert or update one review with its phases, problems, reasons and referrals. Access
    layer only.

    ``values`` holds the review frame's columns for one review, already validated
    (``sjrlib.schema``); missing keys are blank. With ``expected_version=None`` the review must
    be new; otherwise the stored version must equal ``expected_version``. Any mismatch raises
    :class:`StaleReviewError` and writes nothing: never a silent overwrite. The check and the
    write are one ``UPDATE ... WHERE version = :expected``, so it holds for concurrent sessions
    on SQLite and PostgreSQL alike. Runs in the caller's transaction when there is one (the
    caller commits), else in its own.

    Returns
    -------
    (review_id, version)
        The id and the new version (1 for a new review).
    """
    # One review: plain dicts, not the bulk import's frames (a 1-row frame costs ~50 ms of
    # pandas calls, the database work ~2 ms).
    cells = _review_cells(values)
    review_id = str(cells["review_id"])
    record = {c: cells[c] for c in _REVIEW_FIELDS}
    now = _now()
    with _transaction(conn) as conn:
        _begin_write(conn)
        if expected_version is None:
            if conn.execute(select(_REVIEWS.c.review_id)
                            .where(_REVIEWS.c.review_id == review_id)).first() is not None:
                raise _stale(conn, review_id, None)
            _add_reviewer(conn, cells)
            conn.execute(insert(_REVIEWS), [dict(record, version=1, created_at=now,
                                                 updated_at=now, updated_by=saved_by)])
            _insert_review_children(conn, cells)
            return review_id, 1
        record.pop("review_id")
        done = conn.execute(
            sa_update(_REVIEWS)
            .where(_REVIEWS.c.review_id == review_id, _REVIEWS.c.version == expected_version)
            .values(**record, version=_REVIEWS.c.version + 1, updated_at=now,
                    updated_by=saved_by))
        if done.rowcount != 1:
            raise _stale(conn, review_id, expected_version)
        refuse_broken_followers(conn, [review_id])
        _add_reviewer(conn, cells)
        _delete_children(conn, [review_id])
        _insert_review_children(conn, cells)
        return review_id, expected_version + 1


def _review_cells(values: dict) -> dict[str, object]:
    """One review's columns as the driver takes them: each cell cast to its
    ``domain.REVIEW_DTYPES`` dtype as ``astype`` casts a frame column, then ``None``, ``int``,
    ``str`` or ``datetime.date`` (what :func:`_records` gives for a frame)."""
    cells: dict[str, object] = {}
    for column, dtype in domain.REVIEW_DTYPES.items():
        value = pd.array([values.get(column)], dtype=dtype)[0]
        if value is pd.NA or value is pd.NaT:
            cells[column] = None
        elif dtype == "Int64":
            cells[column] = int(value)
        elif isinstance(value, pd.Timestamp):
            cells[column] = value.date()
        else:
            cells[column] = str(value)
    return cells


def _add_reviewer(conn: Connection, cells: dict[str, object]) -> None:
    """:func:`_add_reviewers` for one review: looks up its reviewer only."""
    reviewer = cells["reviewer_id"]
    if reviewer is None:
        return
    if register_through_function(conn):  # a person's own role (revision 0039)
        register_reviewers(conn, [reviewer], [cells["organisation_code"]])
        return
    if conn.execute(select(_REVIEWERS.c.reviewer_id).where(
            _REVIEWERS.c.reviewer_id == reviewer)).first() is not None:
        return
    conn.execute(insert(_REVIEWERS), [{"reviewer_id": reviewer,
                                       "organisation_code": cells["organisation_code"]}])


def _insert_review_children(conn: Connection, cells: dict[str, object]) -> None:
    """:func:`_insert_children` for one review: the rows :func:`_phase_rows`,
    :func:`_problem_rows` and :func:`_reason_rows` give for a 1-row frame, and its
    referrals."""
    key = {"organisation_code": cells["organisation_code"], "review_id": cells["review_id"]}
    review_id = key["review_id"]
    phases = [{**key, "phase": phase,
               "score": cells[domain.score_column(phase)],
               "comment": cells[domain.comment_column(phase)]}
              for phase in domain.PHASES
              if cells[domain.score_column(phase)] is not None
              or cells[domain.comment_column(phase)] is not None]
    problems = [{**key, "problem_type": problem_type,
                 "harm": cells[domain.problem_column(problem_type)]}
                for problem_type in domain.PROBLEM_TYPES
                if cells[domain.problem_column(problem_type)] is not None]
    listed = str(cells["review_reasons"] or "").split(domain.REASON_SEPARATOR)
    reasons = [{**key, "reason": reason}
               for reason in dict.fromkeys(r.strip() for r in listed) if reason]
    referrals = [dict(zip(_REFERRAL_ROW, (*key.values(), kind, cells[status],
                                          cells[reference]), strict=True))
                 for kind, status, reference in _REFERRAL_COLUMNS if cells[status] is not None]
    orphans = [reference for _kind, status, reference in _REFERRAL_COLUMNS
               if cells[status] is None and cells[reference] is not None]
    if orphans:
        raise StoreError(f"{', '.join(orphans)} given without a referral status on review "
                         f"{review_id}: nothing was saved")
    for table, rows in ((_PHASES, phases), (_PROBLEMS, problems), (_REASONS, reasons),
                        (_REFERRALS, referrals)):
        if rows:
            conn.execute(insert(table), rows)


def set_status(conn: Connection, review_id: str, status: str, *,
               expected_version: int | None = None, saved_by: str | None = None) -> int:
    """Change a review's status (``draft``/``submitted``/``locked``); returns the new version.

    With ``expected_version`` the change is refused (:class:`StaleReviewError`) when the review
    was saved by someone else meanwhile. Access layer only.
    """
    if status not in domain.STATUSES:
        raise ValueError(f"status must be one of {', '.join(domain.STATUSES)}, not {status!r}")
    with _transaction(conn) as conn:
        _begin_write(conn)
        conditions = [_REVIEWS.c.review_id == review_id]
        if expected_version is not None:
            conditions.append(_REVIEWS.c.version == expected_version)
        done = conn.execute(
            sa_update(_REVIEWS).where(*conditions)
            .values(status=status, version=_REVIEWS.c.version + 1, updated_at=_now(),
                    updated_by=saved_by)
            .returning(_REVIEWS.c.version))
        version = done.scalar_one_or_none()
        if version is None:
            raise _stale(conn, review_id, expected_version)
        return version
