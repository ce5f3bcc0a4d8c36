"""PostgreSQL: each person's own database role, and administration through the database.

Revision ``0003_security`` puts the boundary in the database: row-level security decides from
``session_user`` and ``users.db_role``, and users, approvals and the audit log change only
through SECURITY DEFINER functions that check the caller and write the audit entry themselves.
This module is the Python side:

- :func:`role_name`: the LOGIN role made for a user, ``sjr_`` + a safe form of the name + a
  short hash of the database and the name (roles are cluster-wide: two stores on one server, or
  two names with the same safe form, never share a role);
- :func:`database_user`: the SJR user whose role the connection is (``None`` for the owner, a
  service or any other non-person role);
- :func:`add_user`, :func:`set_disabled`, :func:`add_approval`, :func:`revoke_approval`: the
  administration functions, their refusals turned into the access layer's exceptions;
- :func:`connection_limit`, :func:`set_connection_limit`: how many connections each person's
  role may hold at once (revision ``0029_person_connection_limit``);
- :data:`READER_GROUP`: the group that holds the privileges on the review data, of which only
  the persons who read some of it are members (revision ``0033_reader_group``);
- :data:`ORGANISATION_READER_GROUP`: the group of the persons who read one organisation's
  data (leads, reviewers), whose scope is an index condition (revision
  ``0034_scope_in_the_index``).

No SQL here is built from user input: names travel as bound parameters, and the functions quote
identifiers with ``format('%I')``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from data_access.roles import AccessDenied

__all__ = [
    "MAX_ROLE_NAME",
    "ORGANISATION_READER_GROUP",
    "ORGANISATION_READING_ROLES",
    "PERSON_GROUP",
    "READER_GROUP",
    "READING_ROLES",
    "SERVICE_GROUP",
    "add_approval",
    "add_user",
    "connection_limit",
    "database_user",
    "give_login",
    "is_postgresql",
    "revoke_approval",
    "role_name",
    "set_connection_limit",
    "set_disabled",
    "unreadable",
]

PERSON_GROUP = "sjr_person"
"""The NOLOGIN group every person's own role belongs to."""

READER_GROUP = "sjr_reader"
"""The NOLOGIN group holding the privileges on the review data (revision ``0033_reader_group``):
a person's role is a member exactly when their ``users.role`` is one of :data:`READING_ROLES`.
Researchers and administrators read no row of those tables, so their roles hold no privilege on
them at all: ``EXPLAIN`` (and any statement) there is refused ("permission denied") before a
scan could count rows the policies hide."""

READING_ROLES = ("programme_team", "organisation_lead", "reviewer")
"""The roles whose persons are members of :data:`READER_GROUP`."""

ORGANISATION_READER_GROUP = "sjr_organisation_reader"
"""The NOLOGIN group of the persons who read one organisation's data (revision
``0034_scope_in_the_index``): a restrictive policy for it alone, ``organisation_code = <the
person's organisation>``, on the review data that carries ``organisation_code``, is a plain
conjunct the planner puts into the index scan, and every index there leads with
``organisation_code``: no scan of theirs fetches another organisation's row, so ``EXPLAIN
ANALYZE`` has none to count."""

ORGANISATION_READING_ROLES = ("organisation_lead", "reviewer")
"""The roles whose persons are members of :data:`ORGANISATION_READER_GROUP`."""

SERVICE_GROUP = "sjr_service"
"""The NOLOGIN group of services that still scope rows with the per-transaction settings."""

MAX_ROLE_NAME = 63
"""PostgreSQL's limit on an identifier, in bytes."""

_UNSAFE = re.compile(r"[^a-z0-9]+")


def is_postgresql(conn: Connection) -> bool:
    """Whether ``conn`` is a PostgreSQL connection."""
    return conn.dialect.name == "postgresql"


def role_name(username: str, database: str) -> str:
    """The database role of ``username`` in the store held by ``database``.

    ``sjr_`` + the name in lower-case letters, digits and ``_`` (at most 40 of them) + ``_`` + 8
    hex digits of ``sha256(database NUL username)``: readable in ``pg_hba.conf`` and logs, at most
    53 bytes, and distinct for two stores on one server and for two names that read alike.

    Examples
    --------
    >>> role_name("Dr. Jones", "sjr")[:13]
    'sjr_dr_jones_'
    """
    safe = _UNSAFE.sub("_", username.lower()).strip("_")[:40].strip("_") or "user"
    digest = hashlib.sha256(f"{database}\0{username}".encode()).hexdigest()[:8]
    name = f"sjr_{safe}_{digest}"
    assert len(name.encode()) <= MAX_ROLE_NAME
    return name


def database_user(conn: Connection) -> str | None:
    """The SJR user name whose own database role ``conn`` is logged in as (``session_user``).

    ``None`` on SQLite and for a connection that is no person's role (the owner who runs
    migrations, a service role): those may name a user, a person's role may not.
    """
    if not is_postgresql(conn):
        return None
    return conn.execute(text("SELECT username FROM users WHERE db_role = session_user::text")
                        ).scalar_one_or_none()


def unreadable(conn: Connection, tables: Iterable[str]) -> set[str]:
    """Of ``tables``, those the connection's role may not read at all (no ``SELECT`` on the
    table or any of its columns); always empty on SQLite.

    A researcher's or administrator's own role holds no privilege on the review data (revision
    ``0033_reader_group``): a statement naming one of those tables is refused, where it used to
    return no row. The access layer asks first and answers with no row, as before, without
    sending the statement."""
    names = sorted(set(tables))
    if not names or not is_postgresql(conn):
        return set()
    return set(conn.execute(text(
        "SELECT t FROM unnest(CAST(:tables AS text[])) AS t WHERE to_regclass(t) IS NOT NULL "
        "AND NOT has_any_column_privilege(t, 'SELECT')"), {"tables": names}).scalars())


@contextmanager
def _refusals() -> Iterator[None]:
    """The administration functions' refusals as the access layer's exceptions: a caller
    without the right -> :class:`AccessDenied`; anything else they raise -> ``ValueError``."""
    try:
        yield
    except DBAPIError as exc:
        diag = getattr(exc.orig, "diag", None)
        message = getattr(diag, "message_primary", None) or str(exc.orig)
        state = getattr(exc.orig, "sqlstate", None)
        if state == "42501":
            raise AccessDenied(message) from None
        if state in ("P0001", "23505", "23514", "23503"):
            raise ValueError(message) from None
        raise


def add_user(conn: Connection, *, acting: str, username: str, role: str,
             organisation_code: str | None, reviewer_id: str | None, tool: str) -> str:
    """Register a user and create their LOGIN role (member of ``sjr_person``, and of
    ``sjr_reader`` for a role of :data:`READING_ROLES`); audited by the database. Returns the
    role name. The caller is checked by the database (an enabled administrator person, the
    owner, or a service acting for an enabled administrator)."""
    database = conn.execute(text("SELECT current_database()")).scalar_one()
    db_role = role_name(username, database)
    with _refusals():
        conn.execute(text("SELECT sjr_user_add(:acting, :username, :role, :org, :rid, :db_role, "
                          ":tool)"),
                     {"acting": acting, "username": username, "role": role,
                      "org": organisation_code, "rid": reviewer_id, "db_role": db_role,
                      "tool": tool})
    return db_role


def give_login(conn: Connection, *, acting: str, username: str, tool: str) -> str:
    """Create the LOGIN role of a user registered without one (before revision
    ``0003_security``, or by the administrator bootstrap); audited (``users.login``) by the
    database. Returns the role name."""
    database = conn.execute(text("SELECT current_database()")).scalar_one()
    db_role = role_name(username, database)
    with _refusals():
        conn.execute(text("SELECT sjr_user_login(:acting, :username, :db_role, :tool)"),
                     {"acting": acting, "username": username, "db_role": db_role,
                      "tool": tool})
    return db_role


def set_disabled(conn: Connection, *, acting: str, username: str, disabled: bool,
                 tool: str) -> None:
    """Disable (``NOLOGIN``) or enable (``LOGIN``) a user and their role; audited by the
    database. A disabled person's open connections see no rows from their next statement."""
    with _refusals():
        conn.execute(text("SELECT sjr_user_set_disabled(:acting, :username, :disabled, :tool)"),
                     {"acting": acting, "username": username, "disabled": disabled,
                      "tool": tool})


def add_approval(conn: Connection, spec, *, acting: str, tool: str) -> None:
    """Store an approval (an :class:`data_access.approvals.ApprovalSpec`) through the database;
    audited by it. The pseudonym key is the caller's to make (:mod:`data_access.approval_keys`)."""
    with _refusals():
        conn.execute(
            text("SELECT sjr_approval_add(:acting, :id, :applicants, :purpose, :organisations, "
                 ":ps, :pe, :fields, :free_text, :coarsening, :start, :end, :k, :deaths, :tool)"),
            {"acting": acting, "id": spec.id, "applicants": json.dumps(list(spec.applicants)),
             "purpose": spec.purpose, "organisations": json.dumps(sorted(spec.organisations)),
             "ps": spec.period_start, "pe": spec.period_end,
             "fields": json.dumps(list(spec.fields)), "free_text": spec.free_text,
             "coarsening": spec.date_coarsening, "start": spec.start_date,
             "end": spec.end_date, "k": spec.k, "deaths": spec.deaths, "tool": tool})


def revoke_approval(conn: Connection, approval_id: str, reason: str, *, acting: str,
                    tool: str) -> None:
    """Revoke an approval through the database; audited by it."""
    with _refusals():
        conn.execute(text("SELECT sjr_approval_revoke(:acting, :id, :reason, :tool)"),
                     {"acting": acting, "id": approval_id, "reason": reason, "tool": tool})


def connection_limit(conn: Connection) -> int:
    """The connections each person's own role may hold at once (its ``CONNECTION LIMIT``):
    ``store_meta.person_connection_limit``, else the default of revision
    ``0029_person_connection_limit`` (``sjr_person_connection_limit()``)."""
    return int(conn.execute(text("SELECT sjr_person_connection_limit()")).scalar_one())


def set_connection_limit(conn: Connection, limit: int, *, acting: str, tool: str) -> int:
    """Store a new per-person connection limit and give it to every person's role of this
    store at once (``ALTER ROLE ... CONNECTION LIMIT``; connections already open stay, the next
    one past it is refused); audited (``users.connection_limit``) by the database. The caller
    is checked by the database, as for :func:`add_user`. Returns the roles changed."""
    with _refusals():
        return int(conn.execute(text("SELECT sjr_connection_limit_set(:acting, :limit, :tool)"),
                                {"acting": acting, "limit": limit, "tool": tool}).scalar_one())
