"""The audit log: append-only, hash-chained, written in the transaction it records.

Each entry records who (user name and role), when (UTC), what (action, scope, row count,
approval) and from which tool; never record-level data. Its hash is
``sha256(prev_hash + canonical JSON of the entry)``, where ``prev_hash`` is the hash of the entry
before it (64 zeros for the first). The chain head (``audit_head``: last id and hash) is updated
with every append; reading it ``FOR UPDATE`` (PostgreSQL) or holding SQLite's write lock
serialises concurrent appends, so ids are dense and each entry names its true predecessor.

:func:`verify` walks the log in id order and reports every broken link: an edited entry (its
content no longer matches its hash), a deleted one (a gap in the ids, the next entry's link
broken, or the head pointing past the end), an inserted or moved one (links broken, ids and
hashes out of step, entries beyond the head). An attacker who can rewrite the whole log and head
can forge a consistent chain; publish the head hash that ``sjr audit verify`` prints (e.g. in a
monthly governance report) to anchor it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

__all__ = [
    "GENESIS_HASH",
    "AuditProblem",
    "VerifyResult",
    "append",
    "entries",
    "entry_hash",
    "lock",
    "verify",
    "import_writer",
    "shell_writer",
    "writer",
]

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first entry."""

_COLUMNS = ("id", "at", "username", "role", "action", "scope", "rows", "approval_id", "tool",
            "prev_hash", "entry_hash")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def entry_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    """The hash of one entry: ``sha256(prev_hash + canonical JSON of its fields)``.

    ``entry`` holds ``id, at, username, role, action, scope, rows, approval_id, tool``
    (``scope`` as the stored JSON text); other keys are ignored.
    """
    content = {k: entry[k] for k in _COLUMNS[:9]}
    if content["rows"] is not None:
        content["rows"] = int(content["rows"])
    content["id"] = int(content["id"])
    return hashlib.sha256((prev_hash + _canonical(content)).encode("utf-8")).hexdigest()


def lock(conn: Connection) -> None:
    """Take the audit chain lock for the rest of the caller's transaction.

    Call it first in a transaction that will :func:`append`: on SQLite it starts the
    transaction with ``BEGIN IMMEDIATE`` (the write lock, so what is read stays true until
    commit and concurrent appends queue up); on PostgreSQL it locks the chain head row through
    the owner's ``sjr_audit_lock()`` (a person's role may not lock the row itself).
    """
    if conn.dialect.name == "sqlite":
        dbapi = conn.connection.dbapi_connection
        if dbapi is not None and not dbapi.in_transaction:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        # the owner's function locks the head row: a person's role has no UPDATE on it
        conn.execute(text("SELECT sjr_audit_lock()"))
        return
    _lock_head(conn)


def _lock_head(conn: Connection) -> tuple[int, str]:
    suffix = " FOR UPDATE" if conn.dialect.name == "postgresql" else ""
    row = conn.execute(
        text(f"SELECT last_id, last_hash FROM audit_head WHERE id = 1{suffix}")
    ).one_or_none()
    if row is None:
        raise RuntimeError("the audit chain head is missing: run `sjr init-db` (migration "
                           "0002_governance) or restore audit_head")
    return int(row[0]), str(row[1])


def append(
    conn: Connection,
    *,
    username: str,
    role: str | None,
    action: str,
    scope: Mapping[str, Any] | None = None,
    rows: int | None = None,
    approval_id: str | None = None,
    tool: str = "python",
) -> int:
    """Append one entry in the caller's transaction; return its id.

    Commit or roll back with the data change it records: if the transaction fails, neither the
    change nor its entry remains.

    On PostgreSQL the database appends the entry (``sjr_audit_append``, revision
    ``0003_security``): it takes the chain lock, computes id, time and hash itself, and when the
    connection is a person's own role it names that person whatever ``username`` and ``role``
    say. The hash is the same :func:`entry_hash`, so :func:`verify` checks both alike.
    """
    if conn.dialect.name == "postgresql":
        return int(conn.execute(
            text("SELECT sjr_audit_append(CAST(:username AS text), CAST(:role AS text), "
                 "CAST(:action AS text), CAST(:scope AS text), CAST(:rows AS integer), "
                 "CAST(:approval_id AS text), CAST(:tool AS text))"),
            {"username": username, "role": role, "action": action,
             "scope": _canonical(dict(scope or {})), "rows": None if rows is None else int(rows),
             "approval_id": approval_id, "tool": tool},
        ).scalar_one())
    last_id, last_hash = _lock_head(conn)
    entry = {
        "id": last_id + 1,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
        "username": username,
        "role": role,
        "action": action,
        "scope": _canonical(dict(scope or {})),
        "rows": None if rows is None else int(rows),
        "approval_id": approval_id,
        "tool": tool,
    }
    entry["prev_hash"] = last_hash
    entry["entry_hash"] = entry_hash(last_hash, entry)
    conn.execute(
        text(
            "INSERT INTO audit_log (id, at, username, role, action, scope, rows, approval_id, "
            "tool, prev_hash, entry_hash) VALUES (:id, :at, :username, :role, :action, :scope, "
            ":rows, :approval_id, :tool, :prev_hash, :entry_hash)"
        ),
        entry,
    )
    updated = conn.execute(
        text("UPDATE audit_head SET last_id = :new_id, last_hash = :new_hash "
             "WHERE id = 1 AND last_id = :old_id"),
        {"new_id": entry["id"], "new_hash": entry["entry_hash"], "old_id": last_id},
    )
    if updated.rowcount != 1:  # pragma: no cover - only if the lock was not honoured
        raise RuntimeError("the audit chain head moved during an append; retry")
    return entry["id"]


def writer(
    username: str, role: str | None, *, tool: str, scope: Mapping[str, Any] | None = None
) -> Callable[[Connection, str, int], None]:
    """A ``on_write(conn, action, rows)`` callback for the store's writers (``sjr import``).

    The store calls it inside the transaction of the write, so the entry and the change commit
    together.
    """

    def on_write(conn: Connection, action: str, rows: int) -> None:
        append(conn, username=username, role=role, action=action, scope=scope, rows=rows,
               tool=tool)

    return on_write


def shell_writer(*, tool: str) -> Callable[..., None]:
    """The audit hook of the administrators' commands (``sjr import``, ``export``, ``summary``).

    Returns ``on_write(conn, action, rows, scope=None)``, to be called inside the transaction
    that reads or writes the data. The user is the one
    :func:`data_access.identity.resolve_username` finds (``SJR_USER``, the identity file); with
    none configured the entry names the operating-system account as ``os:<login>`` with no role.
    These commands are not gated here: whoever holds the database URL with its rights can run
    them, and the entry records that they did.
    """
    import getpass

    from data_access.identity import IdentityError, get_user, resolve_username

    try:
        username = resolve_username()
    except IdentityError:
        username = f"os:{getpass.getuser()}"

    def on_write(conn: Connection, action: str, rows: int,
                 scope: Mapping[str, Any] | None = None) -> None:
        user = get_user(conn, username)
        lock(conn)
        append(conn, username=username, role=None if user is None else user.role,
               action=action, scope=scope, rows=rows, tool=tool)

    return on_write


import_writer = shell_writer
"""The ``on_write`` hook of ``sjr import`` (see :func:`shell_writer`)."""


@dataclass(frozen=True)
class AuditProblem:
    """One broken link found by :func:`verify`."""

    entry_id: int
    kind: str  # "edited", "missing", "broken link", "out of order", "head"
    detail: str

    def __str__(self) -> str:
        return f"entry {self.entry_id}: {self.kind}: {self.detail}"


@dataclass(frozen=True)
class VerifyResult:
    """What :func:`verify` found: entries checked, problems (empty when intact), the head."""

    entries: int
    problems: tuple[AuditProblem, ...]
    head_id: int
    head_hash: str

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(conn: Connection) -> VerifyResult:
    """Check the whole chain; report every problem with the id of the entry where it shows."""
    rows = conn.execute(
        text(f"SELECT {', '.join(_COLUMNS)} FROM audit_log ORDER BY id")
    ).mappings().all()
    head = conn.execute(text("SELECT last_id, last_hash FROM audit_head WHERE id = 1")).first()
    problems: list[AuditProblem] = []
    expected_id, expected_prev = 1, GENESIS_HASH
    last_id, last_hash = 0, GENESIS_HASH
    for row in rows:
        entry_id = int(row["id"])
        if entry_id > expected_id:
            gap = (f"entry {expected_id} is missing" if entry_id == expected_id + 1
                   else f"entries {expected_id} to {entry_id - 1} are missing")
            problems.append(AuditProblem(entry_id, "missing", f"{gap} (deleted)"))
        elif entry_id < expected_id:
            problems.append(AuditProblem(entry_id, "out of order",
                                         f"id {entry_id} is not after {expected_id - 1}"))
        if row["prev_hash"] != expected_prev:
            problems.append(AuditProblem(
                entry_id, "broken link",
                "its previous-hash is not the hash of the entry before it: an entry was "
                "deleted, inserted or moved just before it",
            ))
        if entry_hash(row["prev_hash"], row) != row["entry_hash"]:
            problems.append(AuditProblem(
                entry_id, "edited",
                "its content does not match its hash: the entry was edited or moved",
            ))
        expected_id, expected_prev = entry_id + 1, row["entry_hash"]
        last_id, last_hash = entry_id, row["entry_hash"]
    if head is None:
        problems.append(AuditProblem(last_id, "head", "the chain head row is missing"))
        head_id, head_hash = -1, ""
    else:
        head_id, head_hash = int(head[0]), str(head[1])
        if head_id > last_id:
            problems.append(AuditProblem(
                head_id, "missing",
                f"the chain head says the log ends at entry {head_id}, but it ends at "
                f"{last_id}: entries after {last_id} were deleted",
            ))
        elif head_id < last_id:
            problems.append(AuditProblem(
                head_id + 1, "inserted",
                f"entries after {head_id} were not appended through the audit writer "
                f"(the chain head ends at {head_id}, the log at {last_id})",
            ))
        elif head_hash != last_hash:
            problems.append(AuditProblem(
                last_id, "head", "the last entry's hash differs from the chain head's"))
    return VerifyResult(len(rows), tuple(problems), head_id, head_hash)


def entries(
    conn: Connection,
    *,
    username: str | None = None,
    action: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> pd.DataFrame:
    """Audit entries, oldest first, filtered by user, action (exact, or a prefix ending in
    ``.``, e.g. ``"reviews."``... or a bare area like ``"users"`` matching ``users.*``) and
    period (``since``/``until`` dates, inclusive, UTC)."""
    where, params = [], {}
    if username:
        where.append("username = :username")
        params["username"] = username
    if action:
        where.append("(action = :action OR action LIKE :prefix)")
        params["action"] = action
        params["prefix"] = action.rstrip(".") + ".%"
    if since:
        where.append("at >= :since")
        params["since"] = since.isoformat()
    if until:
        where.append("at < :until")
        params["until"] = (until + dt.timedelta(days=1)).isoformat()
    sql = f"SELECT {', '.join(_COLUMNS)} FROM audit_log"
    if where:
        sql += " WHERE " + " AND ".join(where)
    result = conn.execute(text(sql + " ORDER BY id"), params).mappings().all()
    frame = pd.DataFrame([dict(r) for r in result], columns=list(_COLUMNS))
    return frame.astype({c: "string" for c in _COLUMNS if c not in ("id", "rows")}
                        | {"id": "Int64", "rows": "Int64"})
