"""Database faults in words a person can act on (issue 17 part 4).

A store can be read-only, on a read-only or full disk, locked by an import, or (PostgreSQL)
down, cut off mid-way, deadlocked or past a lock or statement timeout. Each reaches the user as
one sentence that names the fault, says that nothing was half-saved (every write is one
transaction) and says what to do, never as a traceback (``sjr --debug`` or ``SJR_DEBUG=1``
shows that).

:func:`describe_fault` recognises the fault by the driver's own code: SQLite's extended result
code name (``sqlite3.Error.sqlite_errorname``, e.g. ``SQLITE_READONLY``), PostgreSQL's SQLSTATE
(``psycopg.Error.sqlstate``, e.g. ``40P01``) and, for a connection that never opened or was cut
off, psycopg's connection-level message. Anything else is left to the caller (None).
"""

from __future__ import annotations

import re

__all__ = ["FAULTS", "describe_fault", "fault_kind"]

NOTHING_SAVED = "nothing was half-saved"

FAULTS: dict[str, str] = {
    "read_only": "The store is read-only{where}: it can be read but not written ({detail}); "
                 "{NOTHING}. Ask the administrator to make the store (file and folder, "
                 "or database) writable.",
    "cannot_open": "The store cannot be opened{where}: its folder is missing or not writable, "
                   "or the filesystem is read-only. Check --db (or SJR_DATABASE_URL) and the "
                   "folder's permissions.",
    "read_only_fs": "The store is on a read-only filesystem{where}: SQLite cannot open it, not "
                    "even to read (it writes its lock files beside the store); nothing was "
                    "read or changed. Ask the administrator to make the filesystem writable, or "
                    "copy the store (with its .keys file) to a writable folder.",
    "not_a_store": "The store{where} is not a SQLite database ({detail}): --db (or "
                   "SJR_DATABASE_URL) names some other file, or the store is encrypted; nothing "
                   "was read or changed. Check --db names the store's file.",
    "damaged": "The store{where} is damaged ({detail}); {NOTHING}. Stop writing to it and ask "
               "the administrator to restore the last backup into a new store (`sjr restore`, "
               "README: Backup and restore).",
    "no_database": "The database{where} does not exist; nothing was read or "
                   "changed. Check the database name in --db (or SJR_DATABASE_URL), or create "
                   "it (createdb) and run `sjr init-db`.",
    "disk_full": "The disk holding the store is full{where}: {NOTHING}. Free some space (or ask "
                 "the administrator to) and try again.",
    "disk_error": "The store could not be written to disk{where} (a disk input/output error: "
                  "the disk is full, failing or was removed): {NOTHING}. Ask the administrator "
                  "to check the disk.",
    "busy": "The store is busy{where}: another import, backup or save holds it and the wait "
            "ran out; {NOTHING}. Try again in a minute.",
    "server_down": "The database server{where} is not answering (is it running, and is the "
                   "address right?); nothing was read or changed. Try again later or ask the "
                   "administrator.",
    "connection_lost": "The connection to the database server{where} was lost mid-way (the "
                       "server restarted or ended the session); the transaction was rolled back "
                       "and {NOTHING}. Try again; if it keeps happening, ask the administrator.",
    "deadlock": "Two requests to the store waited for each other (a deadlock) and the server "
                "stopped this one; {NOTHING}. Try again.",
    "timeout": "The store is busy: a lock or statement timeout ran out{where} while another "
               "import or save held it; {NOTHING}. Try again in a minute.",
    "auth": "The database server{where} refused the login: {detail}. Ask the administrator for "
            "access.",
    "server_full": "The database server{where} has no connection free ({detail}); nothing was "
                   "read or changed. Try again in a minute; if it keeps happening, ask the "
                   "administrator (the server's or the store's connection limit is reached).",
    "closed": "The store's database{where} is not accepting connections ({detail}): the "
              "administrator has closed it, for maintenance or a restore; nothing was read or "
              "changed. Try again later or ask the administrator.",
}
"""Each fault's sentence; ``{where}`` is the store or server, ``{detail}`` the driver's words."""

_SQLITE = {
    "SQLITE_READONLY": "read_only",
    "SQLITE_CANTOPEN": "cannot_open",
    "SQLITE_NOTADB": "not_a_store",
    "SQLITE_CORRUPT": "damaged",
    "SQLITE_FULL": "disk_full",
    "SQLITE_BUSY": "busy",
    "SQLITE_LOCKED": "busy",
}
_SQLSTATE = {
    "25006": "read_only",          # read_only_sql_transaction (a standby, or read-only mode)
    "53100": "disk_full",          # disk_full
    "40P01": "deadlock",           # deadlock_detected
    "55P03": "timeout",            # lock_not_available (lock_timeout)
    "57014": "timeout",            # query_canceled (statement_timeout)
    "57P01": "connection_lost",    # admin_shutdown (pg_terminate_backend, server stop)
    "57P02": "connection_lost",    # crash_shutdown
    "57P03": "server_down",        # cannot_connect_now (starting up)
    "08000": "connection_lost", "08003": "connection_lost", "08006": "connection_lost",
    "08001": "server_down", "08004": "server_down",
    "53300": "server_full",        # too_many_connections (a connection already open)
    "28000": "auth", "28P01": "auth",
    "3D000": "no_database",        # invalid_catalog_name
}
_MESSAGES = (  # connection-level faults carry no SQLSTATE
    (re.compile(r"connection refused|could not connect|no such host|timeout expired|"
                r"could not translate host name|Network is unreachable", re.I), "server_down"),
    (re.compile(r"server closed the connection unexpectedly|terminating connection|"
                r"connection (is )?(already )?closed|consuming input failed|"
                r"SSL SYSCALL error|EOF detected|the connection is lost", re.I),
     "connection_lost"),
    (re.compile(r"too many clients already|remaining connection slots are reserved|"
                r"too many connections for database", re.I), "server_full"),
    (re.compile(r"is not currently accepting connections", re.I), "closed"),
    (re.compile(r'database "[^"]*" does not exist', re.I), "no_database"),
    (re.compile(r"password authentication failed|no pg_hba\.conf entry|role .* does not "
                r"exist", re.I), "auth"),
    (re.compile(r"database is locked", re.I), "busy"),
    (re.compile(r"attempt to write a readonly database", re.I), "read_only"),
    (re.compile(r"unable to open database file", re.I), "cannot_open"),
    (re.compile(r"database or disk is full", re.I), "disk_full"),
    (re.compile(r"disk I/O error", re.I), "disk_error"),
    (re.compile(r"file is not a database", re.I), "not_a_store"),
    (re.compile(r"database disk image is malformed", re.I), "damaged"),
)


def _kind(error: BaseException) -> str | None:
    name = getattr(error, "sqlite_errorname", None)
    if isinstance(name, str):
        if name.startswith("SQLITE_IOERR"):
            return "disk_error"
        for prefix, kind in _SQLITE.items():
            if name == prefix or name.startswith(prefix + "_"):
                return kind
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if isinstance(state, str) and state in _SQLSTATE:
        return _SQLSTATE[state]
    text = str(error)
    for pattern, kind in _MESSAGES:
        if pattern.search(text):
            return kind
    return None


def _where(url: object) -> str:
    """`` (/path/sjr.db)`` or `` at host:port`` for a SQLAlchemy URL, never with a password."""
    if url is None:
        return ""
    backend = getattr(url, "get_backend_name", lambda: "")()
    if backend == "sqlite":
        database = getattr(url, "database", None) or ""
        if database.startswith("file:"):
            database = database[5:].split("?", 1)[0]
        return f" ({database})" if database else ""
    host, port = getattr(url, "host", None), getattr(url, "port", None)
    if host:
        return f" at {host}:{port}" if port else f" at {host}"
    return ""


_NEARLY_FULL = 256 * 1024
"""Bytes free under which a SQLite "disk I/O error" is taken for the full disk it is (SQLite
reports a write that found no space in its shared-memory or WAL file as an I/O error)."""


def _sharpened(kind: str, url: object) -> str:
    """SQLite says "disk I/O error" for a disk that is full, and "unable to open database file"
    for a store on a read-only filesystem: where the store's own folder shows which, say it."""
    import os
    from pathlib import Path

    if kind not in ("disk_error", "cannot_open") or url is None:
        return kind
    if getattr(url, "get_backend_name", lambda: "")() != "sqlite":
        return kind
    database = getattr(url, "database", None) or ""
    if database.startswith("file:"):
        database = database[5:].split("?", 1)[0]
    if not database or database == ":memory:":
        return kind
    path = Path(database)
    try:
        folder = os.statvfs(path.parent if str(path.parent) else ".")
    except OSError:
        return kind
    if kind == "disk_error" and folder.f_bavail * folder.f_frsize < _NEARLY_FULL:
        return "disk_full"
    if kind == "cannot_open" and path.is_file() and folder.f_flag & os.ST_RDONLY:
        return "read_only_fs"
    return kind


def fault_kind(exc: BaseException, url: object | None = None) -> str | None:
    """Which of :data:`FAULTS` ``exc`` (or an error it was raised from) is, or None."""
    seen: set[int] = set()
    error: BaseException | None = exc
    kind = None
    while error is not None and id(error) not in seen and kind is None:
        seen.add(id(error))
        kind = _kind(getattr(error, "orig", None) or error)
        error = error.__cause__ or error.__context__
    return None if kind is None else _sharpened(kind, url)


def describe_fault(exc: BaseException, url: object | None = None) -> str | None:
    """The sentence for a database fault in ``exc`` (a SQLAlchemy error or a driver's), or None
    when it is not one of :data:`FAULTS`.

    ``url``: the store's SQLAlchemy URL, to name it (default: the one SQLAlchemy saw, when the
    error carries its connection)."""
    kind = fault_kind(exc, url)
    if kind is None:
        return None
    orig = getattr(exc, "orig", None) or exc
    detail = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    if "FATAL:" in detail:  # psycopg's "connection failed: connection to server at ... failed:"
        detail = detail.rsplit("FATAL:", 1)[1].strip()
    detail = re.sub(r"password=\S+", "password=…", detail)
    where = _where(url)
    if kind == "no_database":
        named = re.search(r'database "([^"]*)" does not exist', detail)
        name = getattr(url, "database", None) or (named and named.group(1))
        where = f' "{name}"{where}' if name else where
    return FAULTS[kind].format(where=where, detail=detail, NOTHING=NOTHING_SAVED)
