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

__all__ = ["FAULTS", "describe_fault"]

NOTHING_SAVED = "nothing was half-saved"

FAULTS: dict[str, str] = {
    "read_only": "The store is read-only{where}: it can be read but not written ({detail}); "
                 "{NOTHING}. Ask the administrator to make the store (file and folder, "
                 "or database) writable.",
    "cannot_open": "The store cannot be opened{where}: its folder is missing or not writable, "
                   "or the filesystem is read-only. Check --db (or SJR_DATABASE_URL) and the "
                   "folder's permissions.",
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
    (re.compile(r"password authentication failed|no pg_hba\.conf entry|role .* does not "
                r"exist", re.I), "auth"),
    (re.compile(r"database is locked", re.I), "busy"),
    (re.compile(r"attempt to write a readonly database", re.I), "read_only"),
    (re.compile(r"unable to open database file", re.I), "cannot_open"),
    (re.compile(r"database or disk is full", re.I), "disk_full"),
    (re.compile(r"disk I/O error", re.I), "disk_error"),
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


def describe_fault(exc: BaseException, url: object | None = None) -> str | None:
    """The sentence for a database fault in ``exc`` (a SQLAlchemy error or a driver's), or None
    when it is not one of :data:`FAULTS`.

    ``url``: the store's SQLAlchemy URL, to name it (default: the one SQLAlchemy saw, when the
    error carries its connection)."""
    seen: set[int] = set()
    error: BaseException | None = exc
    kind = None
    while error is not None and id(error) not in seen and kind is None:
        seen.add(id(error))
        kind = _kind(getattr(error, "orig", None) or error)
        error = error.__cause__ or error.__context__
    if kind is None:
        return None
    orig = getattr(exc, "orig", None) or exc
    detail = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    if "FATAL:" in detail:  # psycopg's "connection failed: connection to server at ... failed:"
        detail = detail.rsplit("FATAL:", 1)[1].strip()
    detail = re.sub(r"password=\S+", "password=…", detail)
    return FAULTS[kind].format(where=_where(url), detail=detail, NOTHING=NOTHING_SAVED)
