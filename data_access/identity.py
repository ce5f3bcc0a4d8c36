"""Who is asking: the user name from the environment the code runs in.

Order (first that gives a name wins):

1. ``JUPYTERHUB_USER`` - set by JupyterHub for the single-user server; the hub has authenticated
   the person, so under JupyterHub no other name is accepted (an explicit ``user=`` that differs
   is refused).
2. an explicit name passed by the caller (command line ``--user``, ``open_session(user=...)``)
   when not under JupyterHub;
3. ``SJR_USER``;
4. the local identity file: ``$SJR_CONFIG`` if set, else ``$XDG_CONFIG_HOME/sjr/identity``
   (``~/.config/sjr/identity``): the first line that is not blank and not a ``#`` comment.

A name is only a claim: :func:`authenticate` looks it up in the ``users`` register (also kept
here) and an unknown or disabled user gets nothing.

On PostgreSQL a connection logged in as a person's own database role (``users.db_role``,
:mod:`data_access.pg_security`) IS that person: :func:`resolve_identity` takes the name from the
connection and refuses any claimed name (``user=``, ``JUPYTERHUB_USER``, ``SJR_USER``) that
differs. Only a connection that is no person's role (the owner, a service) names a user.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, text

from data_access.roles import REVIEWER, ROLES, ROLES_WITH_ORGANISATION, AccessDenied

__all__ = [
    "IdentityError",
    "UserRecord",
    "add_user",
    "authenticate",
    "check_new_user",
    "count_administrators",
    "count_users",
    "database_user",
    "get_user",
    "identity_file",
    "read_identity_file",
    "list_users",
    "resolve_identity",
    "resolve_username",
    "set_disabled",
]


class IdentityError(AccessDenied):
    """No user name could be found, or the one given conflicts with JupyterHub's."""


def identity_file() -> Path:
    """The local identity file: ``$SJR_CONFIG``, else ``$XDG_CONFIG_HOME/sjr/identity``."""
    configured = os.environ.get("SJR_CONFIG")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sjr" / "identity"


def read_identity_file(path: Path) -> str | None:
    """The user name an identity file names (first line not blank and not a ``#`` comment)."""
    return _from_file(path)


def _from_file(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return line
    return None


def resolve_username(explicit: str | None = None) -> str:
    """Return the user name this process acts for.

    Parameters
    ----------
    explicit
        A name the caller asks for; refused under JupyterHub unless it is the hub's user.

    Raises
    ------
    IdentityError
        When no name is configured anywhere, or ``explicit`` differs from ``JUPYTERHUB_USER``.
    """
    hub_user = os.environ.get("JUPYTERHUB_USER", "").strip()
    if hub_user:
        if explicit is not None and explicit.strip() != hub_user:
            raise IdentityError(
                f"this JupyterHub session belongs to {hub_user!r}; it cannot act as {explicit!r}"
            )
        return hub_user
    if explicit is not None and explicit.strip():
        return explicit.strip()
    env_user = os.environ.get("SJR_USER", "").strip()
    if env_user:
        return env_user
    path = identity_file()
    from_file = _from_file(path)
    if from_file:
        return from_file
    raise IdentityError(
        "no user identity: run under JupyterHub, set SJR_USER, or write your user name "
        f"into {path}"
    )


def database_user(conn: Connection) -> str | None:
    """The SJR user whose own database role the connection is (PostgreSQL ``session_user``);
    ``None`` on SQLite and for the owner, a service or any other non-person role."""
    from data_access.pg_security import database_user as _database_user

    return _database_user(conn)


def resolve_identity(conn: Connection, explicit: str | None = None) -> str:
    """Who a connection acts for: the person whose database role it is, else
    :func:`resolve_username` (the claim).

    Raises
    ------
    IdentityError
        A person's connection claims another name (``explicit``, ``JUPYTERHUB_USER`` or
        ``SJR_USER``), or no name is found for a non-person connection.
    """
    person = database_user(conn)
    if person is None:
        return resolve_username(explicit)
    for source, claimed in (("user=", explicit),
                            ("JUPYTERHUB_USER", os.environ.get("JUPYTERHUB_USER")),
                            ("SJR_USER", os.environ.get("SJR_USER"))):
        if claimed is not None and claimed.strip() and claimed.strip() != person:
            raise IdentityError(f"this connection is the database role of {person!r}; it "
                                f"cannot act as {claimed.strip()!r} (from {source})")
    return person


# --- the users register ----------------------------------------------------------------------


@dataclass(frozen=True)
class UserRecord:
    """One row of the ``users`` table."""

    username: str
    role: str
    organisation_code: str | None
    reviewer_id: str | None
    disabled: bool


def get_user(conn: Connection, username: str) -> UserRecord | None:
    """The user called ``username``, or ``None`` when there is none."""
    row = conn.execute(
        text("SELECT username, role, organisation_code, reviewer_id, disabled FROM users "
             "WHERE username = :u"),
        {"u": username},
    ).one_or_none()
    if row is None:
        return None
    return UserRecord(row[0], row[1], row[2], row[3], bool(row[4]))


def authenticate(conn: Connection, username: str) -> UserRecord:
    """The active user called ``username``; :class:`AccessDenied` if unknown or disabled."""
    user = get_user(conn, username)
    if user is None:
        raise AccessDenied(f"{username!r} is not a registered user; ask an administrator "
                           "(`sjr users add`)")
    if user.disabled:
        raise AccessDenied(f"user {username!r} is disabled")
    return user


def add_user(
    conn: Connection,
    username: str,
    role: str,
    *,
    organisation_code: str | None = None,
    reviewer_id: str | None = None,
) -> UserRecord:
    """Register a user; checks the role and that reviewers and leads have an organisation."""
    username = check_new_user(conn, username, role, organisation_code=organisation_code,
                              reviewer_id=reviewer_id)
    conn.execute(
        text("INSERT INTO users (username, role, organisation_code, reviewer_id, disabled) "
             "VALUES (:u, :r, :o, :rid, :d)"),
        {"u": username, "r": role, "o": organisation_code, "rid": reviewer_id, "d": False},
    )
    return UserRecord(username, role, organisation_code, reviewer_id, False)


def check_new_user(conn: Connection, username: str, role: str, *,
                   organisation_code: str | None = None, reviewer_id: str | None = None) -> str:
    """The checks of :func:`add_user` (``ValueError`` saying what to fix); returns the name
    stripped. Used before PostgreSQL's ``sjr_user_add`` too, for the same words."""
    username = username.strip()
    if not username:
        raise ValueError("a user name must not be blank")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    if role in ROLES_WITH_ORGANISATION and not organisation_code:
        raise ValueError(f"a {role} needs an organisation (--organisation CODE)")
    if role not in ROLES_WITH_ORGANISATION and organisation_code:
        raise ValueError(f"a {role} is not tied to one organisation; leave out the organisation")
    if role == REVIEWER and not reviewer_id:
        raise ValueError("a reviewer needs their pseudonymous reviewer reference (--reviewer-id)")
    if organisation_code is not None:
        known = conn.execute(text("SELECT 1 FROM organisations WHERE code = :c"),
                             {"c": organisation_code}).first()
        if known is None:
            raise ValueError(f"unknown organisation {organisation_code!r}")
    if get_user(conn, username) is not None:
        raise ValueError(f"user {username!r} already exists")
    return username


def set_disabled(conn: Connection, username: str, disabled: bool = True) -> None:
    """Disable (or enable again) a user. Users are never deleted: the audit log names them."""
    done = conn.execute(text("UPDATE users SET disabled = :d WHERE username = :u"),
                        {"d": disabled, "u": username})
    if done.rowcount != 1:
        raise ValueError(f"no user {username!r}")


def list_users(conn: Connection) -> pd.DataFrame:
    """All users, by name: username, role, organisation_code, reviewer_id, disabled."""
    rows = conn.execute(
        text("SELECT username, role, organisation_code, reviewer_id, disabled FROM users "
             "ORDER BY username")
    ).all()
    frame = pd.DataFrame([tuple(r) for r in rows],
                         columns=["username", "role", "organisation_code", "reviewer_id",
                                  "disabled"])
    return frame.astype({"disabled": "bool"})


def count_users(conn: Connection) -> int:
    """How many users are registered (0 on a new store: the bootstrap case)."""
    return int(conn.execute(text("SELECT count(*) FROM users")).scalar_one())


def count_administrators(conn: Connection) -> int:
    """How many enabled administrators the store has (0: the bootstrap case)."""
    return int(conn.execute(
        text("SELECT count(*) FROM users WHERE role = 'administrator' AND NOT disabled")
    ).scalar_one())
