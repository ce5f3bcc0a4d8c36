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
``backup`` entry and its chain verifies. ``restore`` writes a NEW store (an existing non-empty
one is refused), writes the keys to the new store's key file, upgrades the schema (a backup of
an older revision), verifies the audit chain and appends a ``restore`` entry as the caller, who
must be an administrator of the restored store. PostgreSQL stores are refused with a message
(use ``pg_dump --format=custom`` and the key file; see the README).
"""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from data_access import approval_keys, store
from data_access.roles import AccessDenied
from sjrlib.safe_files import check_target, open_private, write_private

__all__ = ["BackupError", "RestoreResult", "backup", "restore"]

FORMAT = "sjr-backup-1"
_DB, _KEYS, _MANIFEST = "store.db", "keys.json", "manifest.json"


class BackupError(ValueError):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class RestoreResult:
    """What a restore did: the audit entries verified and the approval keys written."""

    entries: int
    keys: int
    key_file: Path


def _sqlite_path(engine_or_url) -> Path:
    if isinstance(engine_or_url, str):
        url = make_url(store.database_url(engine_or_url))
    else:  # an Engine, or already a URL
        url = make_url(getattr(engine_or_url, "url", engine_or_url))
    if url.get_backend_name() != "sqlite":
        raise BackupError(
            "sjr backup and restore handle SQLite stores; for PostgreSQL take "
            "`pg_dump --format=custom` of the database and keep a copy of the approval key "
            "file (see the README, 'Backup and restore')")
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupError("an in-memory SQLite store cannot be backed up or restored")
    return Path(url.database)


def backup(session, out: str | Path) -> int:
    """Back up the session's store to ``out`` (administrators); return the backup's audit id.

    The ``backup`` entry is committed first (through the session's door, permission
    ``backup``), then the copy is taken, so the copy contains it.
    """
    out = check_target(out)
    source = _sqlite_path(session.database_url)
    token, keys = session.backup_keys(str(out))
    with tempfile.TemporaryDirectory(prefix="sjr-backup-") as folder:
        copy = Path(folder) / _DB
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
        dst = sqlite3.connect(copy)
        try:
            src.backup(dst)  # pages=-1: the whole store in one step, one read snapshot
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            head = dst.execute("SELECT last_id FROM audit_head WHERE id = 1").fetchone()
        finally:
            dst.close()
            src.close()
        manifest = {"format": FORMAT, "token": token, "audit_head": head and head[0]}
        with open_private(out) as fh, tarfile.open(fileobj=fh, mode="w") as tar:
            tar.add(copy, arcname=_DB, filter=_private)
            for name, content in ((_KEYS, {"token": token, "keys": keys}),
                                  (_MANIFEST, manifest)):
                data = json.dumps(content, indent=1).encode("utf-8")
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), 0o600
                tar.addfile(info, io.BytesIO(data))
    return int(head[0]) if head else 0


def _private(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
    return info


def _read(path: Path) -> tuple[bytes, dict, dict]:
    try:
        with tarfile.open(path, mode="r") as tar:
            def member(name: str) -> bytes:
                handle = tar.extractfile(name)
                if handle is None:
                    raise KeyError(name)
                return handle.read()
            database = member(_DB)
            keys = json.loads(member(_KEYS))
            manifest = json.loads(member(_MANIFEST))
    except (OSError, tarfile.TarError, KeyError, ValueError) as exc:
        raise BackupError(f"{path}: not a readable sjr backup ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: not an sjr backup of a known format "
                          f"({manifest.get('format')!r})")
    return database, keys, manifest


def refuse_existing(url: str) -> bool:
    """Whether the SQLite store at ``url`` exists and is not empty (a restore is refused)."""
    path = _sqlite_path(url)
    return path.exists() and path.stat().st_size > 0


def restore(path: str | Path, url: str, *, user: str | None = None,
            tool: str = "sjr restore") -> RestoreResult:
    """Restore the backup at ``path`` into a new SQLite store at ``url``.

    The caller (``user``, else the identity found) must be an enabled administrator in the
    restored store; otherwise the new store and its keys are removed again and
    :class:`AccessDenied` is raised. :class:`BackupError` for a store that exists and is not
    empty, an unreadable backup, or an audit chain that does not verify (the store is kept
    for inspection; the message names the first problems).
    """
    from data_access.session import open_session

    path = Path(path)
    target = _sqlite_path(url)
    if refuse_existing(url):
        raise BackupError(f"{target} exists and is not empty; a restore writes a new store "
                          "only (choose a new file, or move the old store away first)")
    database, keys, manifest = _read(path)
    write_private(check_target(target), database)
    engine = store.get_engine(url)
    key_file = approval_keys.key_file_path(engine.url)
    try:
        token = keys.get("token")
        secrets = {k: bytes.fromhex(v) for k, v in keys.get("keys", {}).items()}
        if token and secrets:
            approval_keys.write_keys(key_file, token, secrets)
        store.init_db(engine)  # a backup of an older revision is upgraded
        session = open_session(user, engine, tool=tool)
        try:
            result = session.verify_restore(str(path), keys=len(secrets),
                                            backup_audit_head=manifest.get("audit_head"))
        finally:
            session.close()
    except AccessDenied:
        engine.dispose()
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{target}{suffix}").unlink()
        raise
    finally:
        engine.dispose()
    if not result.ok:
        shown = "; ".join(str(p) for p in result.problems[:3])
        raise BackupError(f"{target}: restored, but its audit chain does not verify: {shown}")
    return RestoreResult(result.entries, len(secrets), key_file)
