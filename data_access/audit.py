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

**The audit queue (SQLite file stores).** A read is audited like a write, so on SQLite it would
need the write lock, and wait for (then fail behind) an import or a backup holding it. A read
door starts with :func:`lock_for_read` instead: it takes the lock when it is free (or frees
within :data:`READ_LOCK_TRY_SECONDS`), exactly as :func:`lock` does; when a writer holds it, the
read runs in a deferred transaction (a WAL read snapshot: the store as the writer found it) and
its entry goes to the audit queue, ``<store>.audit-queue`` beside the store (:func:`queue_path`):
a SQLite file of its own (owner-only 0600 like the store, WAL, ``synchronous=FULL`` so a
committed entry survives a crash or a kill), whose entries are chained by the same
:func:`entry_hash` (their queue sequence number in place of the id) from a head row holding its
last sequence number and hash. :func:`queue_append` commits the entry before the door returns
anything. The next transaction that takes the lock (:func:`lock`: any save, import, backup,
``sjr audit verify`` or ``sjr audit show``) flushes the queue into the log first, in queue order,
each entry keeping its own time, user, role, action, scope, rows and tool (so an entry's time
can be earlier than the entry before it in the log). ``audit_head.queue_seq``/``queue_hash``
(revision ``0011_audit_queue``) record the last entry flushed in that same transaction: a flush
copies only what comes after, so a crash between its commit and the queue's clean-up copies
nothing twice, and the queue's chain is anchored to the log. A flush checks the queue's chain
first and stops before an edited, moved or missing entry (such entries stay in the queue, and
:func:`verify` reports them); :func:`verify` also checks the queue's chain and counts the
entries still pending. In-memory and ``file:`` URI stores have no queue (their reads wait for
the lock as before).

PostgreSQL has the same queue in two tables (revision ``0011_audit_queue``): an import's
transaction holds the chain head row from its start, so a read that cannot lock it within
:data:`READ_LOCK_TRY_SECONDS` appends through ``sjr_audit_enqueue``,
which names the person as ``sjr_audit_append`` does and locks only the queue's head row; the
owner's ``sjr_audit_lock()`` flushes the queue (``sjr_audit_flush``) into the log after locking
the head, deleting what it moved in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

__all__ = [
    "GENESIS_HASH",
    "AuditProblem",
    "VerifyResult",
    "append",
    "entries",
    "entry_hash",
    "flush_queue",
    "lock",
    "lock_for_read",
    "queue_append",
    "queue_path",
    "start_queue",
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
    commit and concurrent appends queue up) and then flushes the audit queue into the log
    (:func:`flush_queue`); on PostgreSQL it locks the chain head row through the owner's
    ``sjr_audit_lock()`` (a person's role may not lock the row itself), which flushes the
    queue too.
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
    if conn.dialect.name == "sqlite":
        flush_queue(conn)


READ_LOCK_TRY_SECONDS = 0.1
"""How long a read waits for SQLite's write lock before it reads without it and audits through
the queue: longer than a save holds the lock (milliseconds), so ordinary saves do not send
reads to the queue, far shorter than an import or a backup."""


UNCHANGED_SINCE = "sjr_unchanged_since"
"""``Connection.info`` key: the DB-API connection's ``total_changes`` when a read's
transaction took the write lock (:func:`lock_for_read`). While the count is the same, the
transaction has written nothing, so what it would read is what is committed (the review
loader reads big SQLite loads in a process of its own then, ``data_access.loading``)."""


def lock_for_read(conn: Connection) -> bool:
    """Start a read's transaction; True when it holds the audit chain lock (then :func:`append`
    its entry), False when it reads without it (then :func:`queue_append` it).

    On a SQLite file store whose write lock another transaction holds (an import, a backup)
    for longer than :data:`READ_LOCK_TRY_SECONDS`, the transaction is a deferred one: its
    first read takes a WAL snapshot, the store as it was before the writer's uncommitted
    changes, and nothing waits. On PostgreSQL the read goes on in its transaction (READ
    COMMITTED, as every read there) without the lock. Elsewhere (in-memory or ``file:`` URI
    SQLite stores, a transaction already begun) this is :func:`lock`.
    """
    if conn.dialect.name == "postgresql":
        return _pg_lock_for_read(conn)
    if conn.dialect.name != "sqlite" or queue_path(conn) is None:
        lock(conn)
        return True
    dbapi = conn.connection.dbapi_connection
    if dbapi is None or dbapi.in_transaction:
        lock(conn)
        return True
    previous = int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0)
    conn.exec_driver_sql(f"PRAGMA busy_timeout={int(READ_LOCK_TRY_SECONDS * 1000)}")
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except OperationalError as exc:
        if not str(getattr(exc.orig, "sqlite_errorname", "")).startswith("SQLITE_BUSY"):
            raise
        conn.exec_driver_sql("BEGIN")  # deferred: a read snapshot, no write lock
        conn.info.pop(UNCHANGED_SINCE, None)  # not what is committed once the writer commits
        return False
    finally:
        conn.exec_driver_sql(f"PRAGMA busy_timeout={previous}")
    _lock_head(conn)
    flush_queue(conn)
    conn.info[UNCHANGED_SINCE] = dbapi.total_changes
    return True


def _pg_lock_for_read(conn: Connection) -> bool:
    """PostgreSQL: the chain lock if it frees within :data:`READ_LOCK_TRY_SECONDS`, else False.
    ``sjr_audit_try_lock`` tries the head in the caller's own transaction, no savepoint
    (revision ``0022_audit_holder_scope``): a head held by a released savepoint is not found by
    its holder's transaction id, and the next caller could not tell the holder from others."""
    wait = int(READ_LOCK_TRY_SECONDS * 1000)
    return bool(conn.execute(text("SELECT sjr_audit_try_lock(:wait)"),
                             {"wait": wait}).scalar_one())


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
    fields = _fields(username, role, action, scope, rows, approval_id, tool)
    if conn.dialect.name == "postgresql":
        return _pg_call(conn, "sjr_audit_append", fields)
    return _append_row(conn, {"at": _now(), **fields})


def _fields(username: str, role: str | None, action: str, scope: Mapping[str, Any] | None,
            rows: int | None, approval_id: str | None, tool: str) -> dict[str, Any]:
    """An entry's fields as stored (scope as canonical JSON), without id, time and hashes."""
    return {"username": username, "role": role, "action": action,
            "scope": _canonical(dict(scope or {})), "rows": None if rows is None else int(rows),
            "approval_id": approval_id, "tool": tool}


def _pg_call(conn: Connection, function: str, fields: Mapping[str, Any]) -> int:
    """``SELECT function(username, role, action, scope, rows, approval_id, tool)``: the
    database's own append (``sjr_audit_append``) or enqueue (``sjr_audit_enqueue``), which
    names the person whatever ``username`` and ``role`` say."""
    return int(conn.execute(
        text(f"SELECT {function}(CAST(:username AS text), CAST(:role AS text), "
             "CAST(:action AS text), CAST(:scope AS text), CAST(:rows AS integer), "
             "CAST(:approval_id AS text), CAST(:tool AS text))"),
        dict(fields),
    ).scalar_one())


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def _append_row(conn: Connection, content: Mapping[str, Any]) -> int:
    """Append one entry (``at`` ... ``tool`` given) to the SQLite log; return its id."""
    last_id, last_hash = _lock_head(conn)
    entry = {k: content[k] for k in _COLUMNS[1:9]}
    entry["id"] = last_id + 1
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


# ----------------------------------------------------------------- the audit queue ----
QUEUE_SUFFIX = ".audit-queue"
"""The audit queue's file is the store's path with this suffix."""

_QUEUE_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS audit_queue (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, "
    "username TEXT NOT NULL, role TEXT, action TEXT NOT NULL, scope TEXT NOT NULL, "
    "rows INTEGER, approval_id TEXT, tool TEXT NOT NULL, prev_hash TEXT NOT NULL, "
    "entry_hash TEXT NOT NULL)",
    # last_*: the newest entry appended; base_*: the newest entry cleaned away (flushed)
    "CREATE TABLE IF NOT EXISTS audit_queue_head (id INTEGER PRIMARY KEY CHECK (id = 1), "
    "last_seq INTEGER NOT NULL, last_hash TEXT NOT NULL, base_seq INTEGER NOT NULL, "
    "base_hash TEXT NOT NULL)",
)
_QUEUE_COLUMNS = ("seq", *_COLUMNS[1:])


def queue_path(target: Connection | Engine) -> Path | None:
    """The audit queue file of a SQLite file store (``<store>.audit-queue``); None for
    PostgreSQL and for in-memory or ``file:`` URI SQLite stores, which have no queue."""
    from data_access.database import sqlite_file

    database = sqlite_file(target.engine.url if isinstance(target, Connection) else target.url)
    return None if database is None else Path(database + QUEUE_SUFFIX)


def _queue_connect(path: Path) -> sqlite3.Connection:
    """The queue file, made owner-only (0600) like the store, WAL, every commit on disk."""
    from data_access.database import _lock_wait, _private_sqlite_file

    _private_sqlite_file(str(path))
    queue = sqlite3.connect(path, timeout=_lock_wait(), isolation_level=None)
    try:
        queue.execute("PRAGMA journal_mode=WAL")
        queue.execute("PRAGMA synchronous=FULL")  # a committed entry survives a power cut
        for statement in _QUEUE_SCHEMA:
            queue.execute(statement)
        queue.execute("INSERT OR IGNORE INTO audit_queue_head VALUES (1, 0, ?, 0, ?)",
                      (GENESIS_HASH, GENESIS_HASH))
    except BaseException:
        queue.close()
        raise
    return queue


def queue_append(
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
    """Append one entry to the store's audit queue and commit it (durably) before returning
    its queue sequence number; for a read begun by :func:`lock_for_read` that returned False.
    The entry reaches the log at the next :func:`flush_queue`."""
    fields = _fields(username, role, action, scope, rows, approval_id, tool)
    if conn.dialect.name == "postgresql":  # the database names the person, as in append()
        return _pg_call(conn, "sjr_audit_enqueue", fields)
    path = queue_path(conn)
    if path is None:  # pragma: no cover - lock_for_read never reads without the lock there
        raise RuntimeError("this store has no audit queue")
    entry: dict[str, Any] = {"at": _now(), **fields}
    queue = _queue_connect(path)
    try:
        queue.execute("BEGIN IMMEDIATE")
        last_seq, last_hash = queue.execute(
            "SELECT last_seq, last_hash FROM audit_queue_head WHERE id = 1").fetchone()
        entry["id"] = int(last_seq) + 1
        entry["prev_hash"] = last_hash
        entry["entry_hash"] = entry_hash(last_hash, entry)
        queue.execute(
            "INSERT INTO audit_queue (seq, at, username, role, action, scope, rows, "
            "approval_id, tool, prev_hash, entry_hash) VALUES (:id, :at, :username, :role, "
            ":action, :scope, :rows, :approval_id, :tool, :prev_hash, :entry_hash)", entry)
        queue.execute("UPDATE audit_queue_head SET last_seq = ?, last_hash = ? WHERE id = 1",
                      (entry["id"], entry["entry_hash"]))
        queue.execute("COMMIT")
    except BaseException:
        if queue.in_transaction:
            queue.execute("ROLLBACK")
        raise
    finally:
        queue.close()
    return int(entry["id"])


@dataclass(frozen=True)
class _QueueState:
    """The queue as read in one transaction, checked against the log's ``queue_seq/hash``."""

    pending: tuple[dict[str, Any], ...]  # intact entries after queue_seq, up to a problem
    problems: tuple[AuditProblem, ...]
    waiting: int  # entries after queue_seq, intact or not
    flushed_intact: bool  # entries up to queue_seq are intact and anchored: may be cleaned


def _queue_problem(seq: int, kind: str, detail: str) -> AuditProblem:
    return AuditProblem(seq, kind, detail, where="queue")


def _read_queue(queue: sqlite3.Connection, flushed_seq: int, flushed_hash: str) -> _QueueState:
    queue.row_factory = sqlite3.Row
    head = queue.execute("SELECT last_seq, last_hash, base_seq, base_hash FROM "
                         "audit_queue_head WHERE id = 1").fetchone()
    rows = [dict(r) for r in queue.execute(
        f"SELECT {', '.join(_QUEUE_COLUMNS)} FROM audit_queue ORDER BY seq")]
    return _check_queue(None if head is None else dict(head), rows, flushed_seq, flushed_hash)


def _check_queue(head: Mapping[str, Any] | None, rows: list[dict[str, Any]], flushed_seq: int,
                 flushed_hash: str) -> _QueueState:
    """Check the queue's chain from its base (``base_seq``/``base_hash``: the last entry
    cleaned away) to its head (``last_seq``/``last_hash``), anchored at the log's mark."""
    problems: list[AuditProblem] = []
    pending: list[dict[str, Any]] = []
    if head is None:
        return _QueueState((), (_queue_problem(0, "head", "the audit queue's head row is "
                                               "missing"),), len(rows), False)
    base_seq, base_hash = int(head["base_seq"]), str(head["base_hash"])
    flushed_intact = True
    if flushed_seq < base_seq:
        problems.append(_queue_problem(base_seq, "missing", (
            f"the queue was cleaned up to entry {base_seq}, but the audit log holds entries "
            f"only up to queue entry {flushed_seq}: entries were deleted (or the store was "
            "replaced by an older copy)")))
    elif flushed_seq == base_seq and flushed_hash != base_hash:
        problems.append(_queue_problem(base_seq, "head", (
            "the queue does not continue from the last entry flushed into the audit log: the "
            "queue file was replaced or rewritten")))
    expected_seq, expected_prev = base_seq + 1, base_hash
    last_seq, last_hash = base_seq, base_hash
    for row in rows:
        seq = int(row["seq"])
        found: list[AuditProblem] = []
        if seq > expected_seq:
            gap = (f"entry {expected_seq} is missing" if seq == expected_seq + 1
                   else f"entries {expected_seq} to {seq - 1} are missing")
            found.append(_queue_problem(seq, "missing", f"{gap} (deleted)"))
        elif seq < expected_seq:
            found.append(_queue_problem(seq, "out of order",
                                        f"sequence {seq} is not after {expected_seq - 1}"))
        if row["prev_hash"] != expected_prev:
            found.append(_queue_problem(seq, "broken link", (
                "its previous-hash is not the hash of the entry before it: an entry was "
                "deleted, inserted or moved just before it")))
        if entry_hash(row["prev_hash"], {**row, "id": seq}) != row["entry_hash"]:
            found.append(_queue_problem(seq, "edited", (
                "its content does not match its hash: the entry was edited or moved")))
        if seq == flushed_seq and row["entry_hash"] != flushed_hash:
            found.append(_queue_problem(seq, "head", (
                "it differs from the entry the audit log recorded as flushed: the queue was "
                "rewritten")))
        if seq <= flushed_seq:
            flushed_intact = flushed_intact and not found
        if found or problems:
            problems.extend(found)
        elif seq > flushed_seq:
            pending.append(row)
        expected_seq, expected_prev = seq + 1, row["entry_hash"]
        last_seq, last_hash = seq, row["entry_hash"]
    if flushed_seq > last_seq:
        problems.append(_queue_problem(flushed_seq, "missing", (
            f"the audit log has flushed the queue up to entry {flushed_seq}, but the queue ends "
            f"at {last_seq}: the queue file was replaced or rewritten")))
        flushed_intact = False
    head_seq, head_hash = int(head["last_seq"]), str(head["last_hash"])
    if head_seq > last_seq:
        problems.append(_queue_problem(head_seq, "missing", (
            f"the queue's head says it ends at entry {head_seq}, but it ends at {last_seq}: "
            f"entries after {last_seq} were deleted")))
    elif head_seq < last_seq:
        problems.append(_queue_problem(head_seq + 1, "inserted", (
            f"entries after {head_seq} were not appended through the audit queue (its head "
            f"ends at {head_seq}, the queue at {last_seq})")))
        pending = [r for r in pending if int(r["seq"]) <= head_seq]
    elif head_hash != last_hash:
        problems.append(_queue_problem(last_seq, "head",
                                       "the last entry's hash differs from the queue's head"))
    waiting = sum(1 for r in rows if int(r["seq"]) > flushed_seq)
    flushed_intact = flushed_intact and flushed_seq >= base_seq and not (
        flushed_seq == base_seq and flushed_hash != base_hash)
    return _QueueState(tuple(pending), tuple(problems), waiting, flushed_intact)


def _flushed_mark(conn: Connection) -> tuple[int, str]:
    row = conn.execute(text("SELECT queue_seq, queue_hash FROM audit_head WHERE id = 1")).one()
    return int(row[0]), str(row[1])


def flush_queue(conn: Connection) -> int:
    """Move the store's pending audit queue entries into the log, in queue order, in the
    caller's transaction, which must hold the write lock (:func:`lock` calls this); return how
    many. Entries already flushed by a committed transaction (``audit_head.queue_seq``) are
    cleaned out of the queue, never copied again; the rest are copied up to the first that
    fails the queue's chain check (it and those after it stay for :func:`verify` to report)."""
    path = queue_path(conn)
    if path is None or not path.exists() or _queue_empty(path):
        return 0
    flushed_seq, flushed_hash = _flushed_mark(conn)
    # Clean only what a COMMITTED transaction flushed: after a flush earlier in this same
    # transaction, the mark read here is not committed yet (and may still roll back).
    transaction = conn.get_transaction()
    may_clean = transaction is not None and conn.info.get(_FLUSHED_IN) is not transaction
    queue = _queue_connect(path)
    try:
        queue.execute("BEGIN IMMEDIATE")  # no append between the read and the clean-up
        state = _read_queue(queue, flushed_seq, flushed_hash)
        if may_clean and state.flushed_intact:
            cleaned = queue.execute("DELETE FROM audit_queue WHERE seq <= ?",
                                    (flushed_seq,)).rowcount
            if cleaned:
                queue.execute("UPDATE audit_queue_head SET base_seq = ?, base_hash = ? "
                              "WHERE id = 1", (flushed_seq, flushed_hash))
        queue.execute("COMMIT")
    except BaseException:
        if queue.in_transaction:
            queue.execute("ROLLBACK")
        raise
    finally:
        queue.close()
    if not state.pending:
        return 0
    for row in state.pending:
        _append_row(conn, row)
    last = state.pending[-1]
    conn.execute(text("UPDATE audit_head SET queue_seq = :seq, queue_hash = :hash WHERE id = 1"),
                 {"seq": int(last["seq"]), "hash": last["entry_hash"]})
    conn.info[_FLUSHED_IN] = transaction
    return len(state.pending)


def _queue_empty(path: Path) -> bool:
    """Whether the queue holds no entry at all (nothing to flush or clean): what every write
    pays once a queue file exists, so one query on a connection kept per thread (reopened when
    the file at ``path`` is another one, e.g. after a restore)."""
    try:
        identity = os.stat(path)
    except FileNotFoundError:
        return True
    key = (str(path), identity.st_dev, identity.st_ino)
    cached = getattr(_PEEK, "connections", None)
    if cached is None or _PEEK.pid != os.getpid():  # never a connection from before a fork
        cached = _PEEK.connections = {}
        _PEEK.pid = os.getpid()
    queue = cached.get(key)
    if queue is None:
        for old_key in [k for k in cached if k[0] == key[0]]:
            cached.pop(old_key).close()
        queue = cached[key] = sqlite3.connect(path, isolation_level=None)
    try:
        return not queue.execute("SELECT 1 FROM audit_queue LIMIT 1").fetchall()
    except sqlite3.OperationalError:  # no table yet, or busy: let the full path decide
        return False


_PEEK = threading.local()


_FLUSHED_IN = "sjr_audit_queue_flushed_in"
"""``Connection.info`` key: the transaction that last flushed queue entries on it."""


def start_queue(engine: Engine) -> None:
    """A restored store's audit queue: empty, continuing from the log's mark.

    A backup carries the log (flushed by the backup's own entry), not the queue, and its
    ``audit_head.queue_seq``/``queue_hash`` name the source queue's last flushed entry: the
    new queue starts there, so it verifies. SQLite: a new queue file beside the store (one
    left at that path by an earlier store is replaced); PostgreSQL (a SQLite backup copied
    table by table): the queue head row. Call it right after the restore, before any use."""
    with engine.begin() as conn:
        seq, head_hash = _flushed_mark(conn)
        if conn.dialect.name == "postgresql":
            if conn.execute(text("SELECT count(*) FROM audit_queue")).scalar_one():
                raise RuntimeError("the restored store's audit queue is not empty")
            conn.execute(text("DELETE FROM audit_queue_head"))
            conn.execute(text("INSERT INTO audit_queue_head (id, last_seq, last_hash) "
                              "VALUES (1, :seq, :hash)"), {"seq": seq, "hash": head_hash})
            return
    path = queue_path(engine)
    if path is None:
        return
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    queue = _queue_connect(path)
    try:
        queue.execute("UPDATE audit_queue_head SET last_seq = ?, last_hash = ?, base_seq = ?, "
                      "base_hash = ? WHERE id = 1", (seq, head_hash, seq, head_hash))
    finally:
        queue.close()


def _queue_state(conn: Connection) -> tuple[_QueueState | None, tuple[AuditProblem, ...]]:
    """The queue as :func:`verify` sees it (no lock taken); None when the store has none."""
    if conn.dialect.name == "postgresql":
        flushed_seq, flushed_hash = _flushed_mark(conn)
        head = conn.execute(text("SELECT last_seq, last_hash FROM audit_queue_head "
                                 "WHERE id = 1")).mappings().first()
        rows = [dict(r) for r in conn.execute(text(
            f"SELECT {', '.join(_QUEUE_COLUMNS)} FROM audit_queue ORDER BY seq")).mappings()]
        # flushed entries leave the table in the flushing transaction: the base is the mark
        state = _check_queue(None if head is None else {
            **head, "base_seq": flushed_seq, "base_hash": flushed_hash}, rows, flushed_seq,
            flushed_hash)
        return state, state.problems
    path = queue_path(conn)
    if path is None:
        return None, ()
    flushed_seq, flushed_hash = _flushed_mark(conn)
    if not path.exists():
        if flushed_seq:
            return None, (_queue_problem(flushed_seq, "missing", (
                f"the audit queue file {path.name} is missing, but the audit log has flushed "
                f"{flushed_seq} entries from it: it was deleted or moved")),)
        return None, ()
    queue = _queue_connect(path)
    try:
        queue.execute("BEGIN")  # one read snapshot of head and entries
        state = _read_queue(queue, flushed_seq, flushed_hash)
        queue.execute("COMMIT")
    finally:
        queue.close()
    return state, state.problems


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
    where: str = "log"  # "log", or "queue": an entry of the audit queue (its sequence number)

    def __str__(self) -> str:
        name = "audit queue entry" if self.where == "queue" else "entry"
        return f"{name} {self.entry_id}: {self.kind}: {self.detail}"


@dataclass(frozen=True)
class VerifyResult:
    """What :func:`verify` found: entries checked, problems (empty when intact), the head, and
    the audit queue's entries still waiting to be flushed into the log (``pending``)."""

    entries: int
    problems: tuple[AuditProblem, ...]
    head_id: int
    head_hash: str
    pending: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(conn: Connection) -> VerifyResult:
    """Check the whole chain; report every problem with the id of the entry where it shows.

    On a SQLite file store the audit queue's chain is checked too (its problems name the
    queue entry's sequence number) and its entries not yet flushed are counted (``pending``);
    call it in a transaction that holds the lock (:func:`lock`) to flush them first."""
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
    state, queue_problems = _queue_state(conn) if head is not None else (None, ())
    problems.extend(queue_problems)
    return VerifyResult(len(rows), tuple(problems), head_id, head_hash,
                        0 if state is None else state.waiting)


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
