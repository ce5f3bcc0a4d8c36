"""Backup and restore of a whole SQLite store, governance included (administrators).

A backup is one tar file, written 0600 and never through a symbolic link
(:mod:`sjrlib.safe_files`), holding

* ``store.db``: a consistent copy of the SQLite store made with SQLite's online backup API
  (one step, so one read snapshot, while users keep working): reviews, versions and who saved
  them, deaths, organisations, users, approvals, the audit log and its head;
* ``keys.json``: this store's approval keys from its key file
  (:mod:`data_access.approval_keys`), so pseudonyms stay the same after a restore;
* ``manifest.json``: the format, the store's key token and the audit entry of the backup.

The backup is audited in the source before the copy is taken, so the copy holds its own
``backup`` entry and its chain verifies. That entry's transaction holds the audit chain lock,
so it first moves the audit queue (reads audited while an import held the store,
:mod:`data_access.audit`) into the log: the copy holds every read audited before the backup.
The restored store's queue starts empty where the copied log's mark says
(:func:`data_access.audit.start_queue`). ``restore`` writes a NEW store (an existing non-empty
one is refused), writes the keys to the new store's key file, upgrades the schema (a backup of
an older revision), verifies the audit chain and appends a ``restore`` entry as the caller, who
must be an administrator of the restored store.

PostgreSQL stores: the backup holds ``store.dump`` instead of ``store.db``, written by
``pg_dump --format=custom --no-owner`` from a snapshot exported by a REPEATABLE READ
transaction that also reads the audit head (so the manifest names the dump's exact last
entry); ``pg_dump`` must be of the server's major version or newer. Cluster-wide roles are not
in a database dump: the restore creates the groups ``sjr_person``, ``sjr_service``,
``sjr_reader`` and ``sjr_organisation_reader`` if they are missing, and each person's LOGIN role
named in ``users.db_role`` (``NOLOGIN`` for a disabled user, with the store's per-person
connection limit, a member of ``sjr_reader`` when the user's role reads review data and of
``sjr_organisation_reader`` when it is a lead's or a reviewer's) if it is missing, as ``sjr
users add`` would; a role that exists already (a restore on the source's own server) is kept
and shared, and given the restored store's connection limit and reader memberships. Passwords
and ``pg_hba.conf`` lines are the database administrator's, as for ``sjr users add``. The
restore goes into an existing EMPTY database (``createdb`` it first) with ``pg_restore
--single-transaction --exit-on-error``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from data_access import approval_keys, audit, store
from sjrlib.safe_files import check_target, open_private, write_private

__all__ = ["BackupError", "RestoreResult", "backup", "restore"]

FORMAT = "sjr-backup-1"
_DB, _DUMP, _KEYS, _MANIFEST = "store.db", "store.dump", "keys.json", "manifest.json"


class BackupError(ValueError):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class RestoreResult:
    """What a restore did: the audit entries verified and the approval keys written."""

    entries: int
    keys: int
    key_file: Path
    roles: int = 0
    """PostgreSQL: the persons' database roles the restore created."""


def _url(engine_or_url) -> URL:
    if isinstance(engine_or_url, str):
        return make_url(store.database_url(engine_or_url))
    return make_url(getattr(engine_or_url, "url", engine_or_url))  # an Engine, or a URL


def _engine(url):
    """An engine for ``url`` (a string or a URL, whose password is kept)."""
    if not isinstance(url, str):
        url = _url(url).render_as_string(hide_password=False)
    return store.get_engine(url)


def _sqlite_path(engine_or_url) -> Path:
    url = _url(engine_or_url)
    if url.get_backend_name() != "sqlite":
        raise BackupError(f"{url.render_as_string(hide_password=True)} is not a SQLite store")
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupError("an in-memory SQLite store cannot be backed up or restored")
    return Path(url.database)


def backup(session, out: str | Path) -> int:
    """Back up the session's store to ``out`` (administrators); return the backup's audit id.

    The ``backup`` entry is committed first (through the session's door, permission
    ``backup``), then the copy is taken, so the copy contains it.
    """
    out = check_target(out)
    if session.database_url.get_backend_name() == "postgresql":
        tool = _pg_tool("pg_dump", session.database_url)
        token, keys = session.backup_keys(str(out))
        return _pg_backup(session.database_url, out, tool, token, keys)
    source = _sqlite_path(session.database_url)
    token, keys = session.backup_keys(str(out))
    with tempfile.TemporaryDirectory(prefix="sjr-backup-") as folder:
        copy = Path(folder) / _DB
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
        dst = sqlite3.connect(copy)
        try:
            src.backup(dst)  # pages=-1: the whole store in one step, one read snapshot
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            damage = _damage(dst)
            if damage:
                raise BackupError(
                    f"the store {source} is damaged ({damage}); no backup was written. Keep "
                    "a copy of the store's files as they are (cp, with any -wal file) and "
                    "restore the last good backup into a new store (`sjr restore`)")
            head = dst.execute("SELECT last_id FROM audit_head WHERE id = 1").fetchone()
        finally:
            dst.close()
            src.close()
        manifest = {"format": FORMAT, "engine": "sqlite", "token": token,
                    "audit_head": head and head[0]}
        _write_tar(out, copy, _DB, token, keys, manifest)
    return int(head[0]) if head else 0


def _damage(conn: sqlite3.Connection) -> str | None:
    """The first problem SQLite's own check (``PRAGMA quick_check``: every page and b-tree of
    every table and index) finds in a store, or None when it is sound. A copy of a damaged
    store copies the damage, and its audit chain may still verify (the log's pages can be
    whole while a table's are not)."""
    try:
        found = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
    except sqlite3.DatabaseError as exc:
        return str(exc)
    if found == ["ok"]:
        return None
    said = re.sub(r"\*\*\* in database \w+ \*\*\*", "", "; ".join(found[:2]))
    return " ".join(said.split()).strip("; ") or "PRAGMA quick_check failed"


def _sound(store_file: Path, backup_file: Path) -> None:
    """Refuse a backup whose SQLite store is damaged (before anything is built on it)."""
    conn = sqlite3.connect(f"file:{store_file}?mode=ro", uri=True)
    try:
        damage = _damage(conn)
    finally:
        conn.close()
    if damage:
        raise BackupError(f"{backup_file}: the store in this backup is damaged ({damage}); "
                          "nothing was restored: restore an earlier backup")


def _private(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
    return info


def _write_tar(out: Path, store_file: Path, arcname: str, token, keys, manifest) -> None:
    with open_private(out) as fh, tarfile.open(fileobj=fh, mode="w") as tar:
        tar.add(store_file, arcname=arcname, filter=_private)
        for name, content in ((_KEYS, {"token": token, "keys": keys}), (_MANIFEST, manifest)):
            data = json.dumps(content, indent=1).encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o600
            tar.addfile(info, io.BytesIO(data))


# ------------------------------------------------------------------------ PostgreSQL ----
def _pg_tool(name: str, url: URL) -> str:
    """The path of ``pg_dump``/``pg_restore``, checked to be of the server's major version or
    newer (an older client cannot read a newer server, and says so late)."""
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed: install the PostgreSQL client of the "
                          "server's version (Debian: apt-get install postgresql-client)")
    version = subprocess.run([found, "--version"], capture_output=True, text=True,
                             check=False).stdout
    match = re.search(r"\)\s*(\d+)", version)  # "pg_dump (PostgreSQL) 15.20 (Debian ...)"
    client = int(match.group(1)) if match else 0
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            server = int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000
    finally:
        engine.dispose()
    if client < server:
        raise BackupError(f"{name} {client} is older than the PostgreSQL {server} server: "
                          f"install the client of version {server} or newer")
    return found


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URI for ``url`` without its password, and the environment that
    carries the password (never on a command line other users can read)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _pg_backup(url: URL, out: Path, tool: str, token, keys) -> int:
    """``pg_dump`` of one snapshot that also gives the audit head (the backup's entry is
    committed before the snapshot is taken, so the dump holds it)."""
    engine = _engine(url)
    uri, env = _libpq(url)
    try:
        with engine.connect() as conn, tempfile.TemporaryDirectory(prefix="sjr-backup-") as d:
            conn.exec_driver_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            head = conn.execute(text("SELECT last_id FROM audit_head WHERE id = 1")).first()
            dump = Path(d) / _DUMP
            done = subprocess.run(
                [tool, "--format=custom", "--no-owner", f"--snapshot={snapshot}",
                 f"--file={dump}", f"--dbname={uri}"],
                capture_output=True, text=True, env=env, check=False)
            conn.exec_driver_sql("COMMIT")
            if done.returncode != 0:
                raise BackupError(f"pg_dump failed: {done.stderr.strip()[-400:]}")
            manifest = {"format": FORMAT, "engine": "postgresql", "token": token,
                        "audit_head": head and head[0]}
            _write_tar(out, dump, _DUMP, token, keys, manifest)
    finally:
        engine.dispose()
    return int(head[0]) if head else 0


_GROUPS = """
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sjr_person') THEN
        BEGIN CREATE ROLE sjr_person NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sjr_service') THEN
        BEGIN CREATE ROLE sjr_service NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sjr_reader') THEN
        BEGIN CREATE ROLE sjr_reader NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sjr_organisation_reader') THEN
        BEGIN CREATE ROLE sjr_organisation_reader NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
    END IF;
    EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC, sjr_person, sjr_service',
                   current_database());
END $$"""
"""The group roles of revisions 0003_security, 0033_reader_group and 0034_scope_in_the_index
(cluster-level, so not in a database dump, whose GRANTs and policies name them); the
database admits no role but the owner until :data:`_CONNECT` (revision 0018_store_connect:
no person or service of another store on the server connects)."""

_CONNECT = """
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT u.db_role AS rolname FROM users u
              WHERE u.db_role IS NOT NULL
                AND EXISTS (SELECT 1 FROM pg_roles p WHERE p.rolname = u.db_role)
             UNION
             SELECT p.rolname FROM pg_roles p
               JOIN pg_class c ON c.relnamespace = current_schema()::regnamespace
              CROSS JOIN LATERAL aclexplode(c.relacl) x
              WHERE x.grantee = p.oid AND p.rolname NOT IN ('sjr_person', 'sjr_service')
                AND pg_has_role(p.oid, 'sjr_service', 'MEMBER')
                AND NOT pg_has_role(p.oid, 'sjr_person', 'MEMBER')
    LOOP
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), r.rolname);
    END LOOP;
END $$"""
"""CONNECT on the restored store for its own persons' roles and for the services holding a
privilege on its tables (as revision 0018_store_connect grants it)."""


def _pg_tables(url) -> list[str]:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema()")).scalars())
    except Exception as exc:  # noqa: BLE001 - a database that cannot be reached is a sentence
        from data_access.faults import describe_fault, fault_kind

        if fault_kind(exc, _url(url)) in ("server_down", "server_full", "closed",
                                          "connection_lost"):  # no database to create
            raise BackupError(describe_fault(exc, _url(url))) from None
        reason = (str(getattr(exc, "orig", exc)).strip().splitlines() or [type(exc).__name__])[0]
        reason = reason.rsplit("FATAL:", 1)[-1].strip()
        raise BackupError(f"{_url(url).render_as_string(hide_password=True)}: cannot connect "
                          f"({reason}); a restore goes into an existing empty database: "
                          "create it first (createdb), then run the restore again") from None
    finally:
        engine.dispose()


def _pg_person_roles(engine) -> list[str]:
    """Create each person's role named in ``users.db_role`` that the cluster lacks (``LOGIN``,
    or ``NOLOGIN`` for a disabled user, member of ``sjr_person``, with the store's per-person
    ``CONNECTION LIMIT``: revision 0029_person_connection_limit, of ``sjr_reader`` when
    the user's role reads review data: revision 0033_reader_group, and of
    ``sjr_organisation_reader`` for a lead or a reviewer: revision 0034_scope_in_the_index), as
    ``sjr users add`` does;
    return the roles created. An existing role (e.g. the source's on the same server) is kept,
    and given the restored store's limit and reader membership too."""
    created = []
    with engine.begin() as conn:
        conn.execute(text(_GROUPS))
        limit = int(conn.execute(text("SELECT sjr_person_connection_limit()")).scalar_one())
        rows = conn.execute(text(
            "SELECT u.db_role, u.disabled FROM users u WHERE u.db_role IS NOT NULL AND NOT "
            "EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = u.db_role)")).all()
        for role, disabled in rows:
            if not re.fullmatch(r"sjr_[a-z0-9_]{1,59}", role):
                raise BackupError(f"users.db_role {role!r} is not a person's role name")
            login = "NOLOGIN" if disabled else "LOGIN"
            conn.exec_driver_sql(f'CREATE ROLE "{role}" {login} IN ROLE sjr_person '
                                 f"CONNECTION LIMIT {limit}")
            created.append(role)
        conn.execute(text("SELECT sjr_person_connection_limit_apply()"))  # the kept ones
        conn.execute(text("SELECT sjr_person_reader_apply()"))  # created and kept ones
        conn.execute(text(_CONNECT))
    return created


def _pg_restore_dump(dump: bytes, url: URL) -> None:
    tool = _pg_tool("pg_restore", url)
    engine = _engine(url)
    try:
        with engine.begin() as conn:  # GRANTs in the dump name the groups
            conn.execute(text(_GROUPS))
    finally:
        engine.dispose()
    uri, env = _libpq(url)
    with tempfile.TemporaryDirectory(prefix="sjr-restore-") as folder:
        file = Path(folder) / _DUMP
        write_private(file, dump)
        done = subprocess.run([tool, "--no-owner", "--single-transaction", "--exit-on-error",
                               f"--dbname={uri}", str(file)],
                              capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed (nothing was restored): "
                          f"{done.stderr.strip()[-400:]}")


def _pg_empty(engine, roles: list[str]) -> None:
    """Take a refused restore out of the database again: its tables, functions and types, and
    the person roles it created."""
    with engine.begin() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        for kind, sql in (
                ("TABLE", "SELECT tablename FROM pg_tables WHERE schemaname = :s"),
                ("SEQUENCE", "SELECT sequencename FROM pg_sequences WHERE schemaname = :s"),
                ("FUNCTION", "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN "
                             "pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = :s"),
                ("TYPE", "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON "
                         "n.oid = t.typnamespace WHERE n.nspname = :s AND t.typtype = 'e'")):
            for (name,) in conn.execute(text(sql), {"s": schema}).all():
                quoted = name if kind == "FUNCTION" else f'"{name}"'
                conn.exec_driver_sql(f"DROP {kind} IF EXISTS {quoted} CASCADE")
        for role in roles:
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')


# ------------------------------------------------------------ SQLite -> PostgreSQL ----
def _sqlite_to_postgresql(database: bytes, url: str, backup_file: Path) -> int:
    """Load a SQLite store (the bytes of a SQLite backup) into the empty PostgreSQL database at
    ``url``: both are brought to the newest schema revision (the PostgreSQL one with its
    row-level security, functions and triggers), then every table is copied row by row, in
    foreign-key order, inside ONE transaction (all or nothing). The audit log is copied as
    stored (its ``at`` is text, so every entry's hash is unchanged) with its chain head;
    the rows the migrations seed are replaced by the source's; sequences follow the copied
    ids. Returns the rows copied."""
    from sqlalchemy import MetaData

    with tempfile.TemporaryDirectory(prefix="sjr-migrate-") as folder:
        source = Path(folder) / _DB
        write_private(source, database)
        _sound(source, backup_file)
        store.init_db(f"sqlite:///{source}")  # the copy at the newest revision, as the target
        engine = _engine(url)
        try:
            store.init_db(engine)
            src = sqlite3.connect(source)
            try:
                with engine.begin() as conn:
                    meta = MetaData()
                    meta.reflect(conn)
                    revision = conn.execute(text("SELECT version_num FROM alembic_version")
                                            ).scalar_one()
                    theirs = src.execute("SELECT version_num FROM alembic_version").fetchone()
                    if theirs is None or theirs[0] != revision:
                        raise BackupError(f"the SQLite store is at revision {theirs and theirs[0]}"
                                          f", the PostgreSQL one at {revision}")
                    if conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one():
                        raise BackupError("the new PostgreSQL store has audit entries already")
                    tables = [t for t in meta.sorted_tables if t.name != "alembic_version"]
                    for table in reversed(tables):
                        if table.name != "audit_log":  # empty; and append-only
                            conn.execute(table.delete())
                    copied = sum(_copy_table(src, conn, table) for table in tables)
                    _follow_sequences(conn, tables)
            finally:
                src.close()
        finally:
            engine.dispose()
    return copied


def _copy_table(src: sqlite3.Connection, conn, table) -> int:
    known = {row[1] for row in src.execute(f'PRAGMA table_info("{table.name}")')}
    if not known:
        return 0  # a table the SQLite store does not have (PostgreSQL only)
    columns = [c for c in table.columns if c.name in known]
    names = ", ".join(f'"{c.name}"' for c in columns)
    rows = src.execute(f'SELECT {names} FROM "{table.name}"').fetchall()
    flags = [c.type.python_type is bool if _has_python_type(c.type) else False
             for c in columns]
    values = [{f"p{i}": (bool(v) if flag and v is not None else v)
               for i, (v, flag) in enumerate(zip(row, flags, strict=True))} for row in rows]
    rows = _parents_first(table, columns, values)
    if rows:
        marks = ", ".join(f":p{i}" for i in range(len(columns)))
        insert = text(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})')
        for start in range(0, len(rows), 5000):
            conn.execute(insert, rows[start:start + 5000])
    return len(rows)


def _has_python_type(column_type) -> bool:
    try:
        column_type.python_type  # noqa: B018 - raises for types without one
    except NotImplementedError:
        return False
    return True


def _parents_first(table, columns, values: list[dict]) -> list[dict]:
    """Rows of a table that refers to itself (a second review names the first), ordered so a
    row comes after the row it names."""
    names = [c.name for c in columns]
    links = [(names.index(fk.parent.name), names.index(fk.column.name))
             for fk in table.foreign_keys
             if fk.column.table.name == table.name and fk.parent.name in names
             and fk.column.name in names]
    if not links:
        return values
    ordered, placed, waiting = [], set(), values
    while waiting:
        ready, later = [], []
        for row in waiting:
            ok = all(row[f"p{child}"] is None or (parent, row[f"p{child}"]) in placed
                     for child, parent in links)
            (ready if ok else later).append(row)
        if not ready:  # a cycle: leave the rest to the database, which names it
            return ordered + later
        for row in ready:
            for _, parent in links:
                placed.add((parent, row[f"p{parent}"]))
        ordered += ready
        waiting = later
    return ordered


def _follow_sequences(conn, tables) -> None:
    for table in tables:
        for column in table.primary_key.columns:
            sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                    {"t": table.name, "c": column.name}).scalar_one()
            if sequence:
                conn.execute(text(
                    f'SELECT setval(:s, coalesce((SELECT max("{column.name}") FROM '
                    f'"{table.name}"), 0) + 1, false)'), {"s": sequence})


def _pg_logins(engine, acting: str, tool: str) -> list[str]:
    """Each user of a store migrated from SQLite (none has a database role there) gets their
    own LOGIN role, as ``sjr users add`` gives one (audited ``users.login`` by the database,
    ``acting`` the administrator who restores)."""
    from data_access import pg_security

    made = []
    with engine.begin() as conn:
        for (username,) in conn.execute(text(
                "SELECT username FROM users WHERE db_role IS NULL ORDER BY username")).all():
            made.append(pg_security.give_login(conn, acting=acting, username=username,
                                               tool=tool))
    return made


# -------------------------------------------------------------------------- restore ----
def _read(path: Path) -> tuple[str, bytes, dict, dict]:
    try:
        with tarfile.open(path, mode="r") as tar:
            def member(name: str) -> bytes:
                handle = tar.extractfile(name)
                if handle is None:
                    raise KeyError(name)
                return handle.read()
            names = set(tar.getnames())
            kind = _DUMP if _DUMP in names else _DB
            database = member(kind)
            keys = json.loads(member(_KEYS))
            manifest = json.loads(member(_MANIFEST))
    except tarfile.ReadError:  # tarfile lists each compression it tried, one per line
        raise BackupError(f"{path}: not a readable sjr backup (not a tar file, or damaged at "
                          "its start); nothing was restored: name a file `sjr backup` wrote"
                          ) from None
    except (OSError, tarfile.TarError, KeyError, ValueError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise BackupError(f"{path}: not a readable sjr backup ({reason}); nothing was "
                          "restored") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: not an sjr backup of a known format "
                          f"({manifest.get('format')!r})")
    return kind, database, keys, manifest


def _take_out(url: str, postgresql: bool, engine, roles: list[str]) -> None:
    """Remove what a restore that did not finish wrote into the new store at ``url``
    (checked empty or missing before it began): on PostgreSQL its tables, functions, types and
    the person roles it created (:func:`_pg_empty`), as far as the server still answers; on
    SQLite the store file, its side files and its audit queue."""
    if postgresql:
        cleaner = engine if engine is not None else _engine(url)
        try:
            _pg_empty(cleaner, roles)
        except Exception:  # noqa: BLE001 - the server is gone: its own transaction undid it
            pass
        finally:
            cleaner.dispose()
        return
    if engine is not None:
        engine.dispose()
    target = _sqlite_path(url)
    for suffix in ("", "-wal", "-shm", "-journal", *(
            audit.QUEUE_SUFFIX + s for s in ("", "-wal", "-shm", "-journal"))):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{target}{suffix}").unlink()


def refuse_existing(url: str) -> bool:
    """Whether the store at ``url`` exists and is not empty (a restore is refused): a SQLite
    file with content, or a PostgreSQL database with any table in its schema."""
    if _url(url).get_backend_name() == "postgresql":
        return bool(_pg_tables(url))
    path = _sqlite_path(url)
    return path.exists() and path.stat().st_size > 0


def restore(path: str | Path, url: str, *, user: str | None = None,
            tool: str = "sjr restore") -> RestoreResult:
    """Restore the backup at ``path`` into a new store at ``url``.

    SQLite: a new file. PostgreSQL: an existing empty database, from a PostgreSQL backup
    (``pg_restore``) or a SQLite one (:mod:`data_access.migrate`, table by table in one
    transaction: the SQLite -> PostgreSQL migration). The caller (``user``, else the identity
    found) must be an enabled administrator in the restored store; otherwise the new store
    and its keys are removed again and :class:`AccessDenied` is raised. :class:`BackupError`
    for a store that exists and is not empty, an unreadable backup, or an audit chain that
    does not verify (the store is kept for inspection; the message names the first problems).
    """
    from data_access.session import open_session

    path = Path(path)
    target_url = _url(url)
    postgresql = target_url.get_backend_name() == "postgresql"
    shown = target_url.render_as_string(hide_password=True)
    if refuse_existing(url):
        raise BackupError(f"{shown} exists and is not empty; a restore writes a new store "
                          "only (choose a new database or file, or move the old store away "
                          "first)")
    kind, database, keys, manifest = _read(path)
    if kind == _DUMP and not postgresql:
        raise BackupError(f"{path} is a PostgreSQL backup: restore it into an empty "
                          "PostgreSQL database (--db postgresql+psycopg://...)")
    roles: list[str] = []
    if not postgresql:
        check_target(_sqlite_path(url))  # before anything is written
    engine = None
    try:
        if postgresql and kind == _DUMP:
            _pg_restore_dump(database, target_url)
        elif postgresql:
            _sqlite_to_postgresql(database, url, path)
        else:
            write_private(_sqlite_path(url), database)
            _sound(_sqlite_path(url), path)
        engine = store.get_engine(url)
        key_file = approval_keys.key_file_path(engine.url)
        token = keys.get("token")
        secrets = {k: bytes.fromhex(v) for k, v in keys.get("keys", {}).items()}
        store.init_db(engine)  # a backup of an older revision is upgraded
        if not (postgresql and kind == _DUMP):  # a dump carries its queue tables
            audit.start_queue(engine)  # the backup holds the log flushed, not the queue
        if postgresql:
            roles = _pg_person_roles(engine)
            with engine.begin() as conn:
                # pg_restore and the row copy carry no planner statistics: without them a
                # lead's first dashboard loads were planned for a row or two of theirs
                # (bulk._analyse_grown)
                conn.exec_driver_sql("ANALYZE")
        session = open_session(user, engine, tool=tool)
        try:
            result = session.verify_restore(str(path), keys=len(secrets),
                                            backup_audit_head=manifest.get("audit_head"))
            if postgresql and kind == _DB:
                roles += _pg_logins(engine, session.user, tool)
        finally:
            session.close()
        if token and secrets:
            approval_keys.write_keys(key_file, token, secrets)
    except BaseException:
        # A refused caller, or a restore cut short (a full disk, a lost connection, Ctrl-C):
        # the new store is taken out again, so nothing half-restored is left and the same
        # restore can be run again (a store left behind would be refused as not empty).
        _take_out(url, postgresql, engine, roles)
        raise
    finally:
        if engine is not None:
            engine.dispose()
    if not result.ok:
        problems = "; ".join(str(p) for p in result.problems[:3])
        raise BackupError(f"{shown}: restored, but its audit chain does not verify: {problems}")
    return RestoreResult(result.entries, len(secrets), key_file, len(roles))
