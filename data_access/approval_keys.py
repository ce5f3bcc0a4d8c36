"""Approval keys: the per-approval pseudonymisation secrets, kept in a file outside the store.

Whoever can read a secret can recompute every pseudonym of its approval (and, holding two, link
two approvals' extracts), so the secrets are not kept where the data is. They live in a **key
file** that the store's readers cannot read:

* ``SJR_KEY_FILE`` when set (the deployment's choice: on PostgreSQL, a file of the service that
  makes extracts, never a place person roles' kernels can read);
* otherwise, for a SQLite store ``data/sjr.db``, the file beside it ``data/sjr.keys``;
* otherwise, for PostgreSQL, ``$XDG_CONFIG_HOME/sjr/keys/<host>-<port>-<database>.keys``
  (``~/.config/sjr/keys/...``) of the account that adds approvals and makes extracts.

The file is JSON, ``{"stores": {TOKEN: {approval_id: hex secret}}}``, written whole, mode 0600
and never through a symbolic link (:mod:`sjrlib.safe_files`); a key file readable by others is
refused. ``TOKEN`` is a random value the store keeps in ``store_meta.approval_keys`` (migration
``0005_approval_safety``), so one key file can serve several stores (one ``SJR_KEY_FILE`` for a
service) and a key file of another store is told apart.

A missing key file, or an approval missing from it, is an error that says so
(:class:`ApprovalKeyError`): a new secret is never made for an existing approval, as that
would silently change every pseudonym it released.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.engine import URL

from sjrlib.safe_files import write_private

__all__ = ["KEY_FILE_ENV", "ApprovalKeyError", "add_key", "key_file_path", "load_keys",
           "read_key", "store_token", "write_keys"]

KEY_FILE_ENV = "SJR_KEY_FILE"
_META_KEY = "approval_keys"


class ApprovalKeyError(ValueError):
    """The approval keys cannot be read or written; the message says which file and why."""


def key_file_path(url: URL) -> Path:
    """Where the approval keys of the store at ``url`` are kept (see the module notes)."""
    configured = os.environ.get(KEY_FILE_ENV)
    if configured:
        return Path(configured).expanduser()
    if url.get_backend_name() == "sqlite":
        database = url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            raise ApprovalKeyError(
                "an in-memory SQLite store has no place beside it for approval keys: set "
                f"{KEY_FILE_ENV} to a file only you can read")
        return Path(database).with_suffix(".keys")
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    name = f"{url.host or 'local'}-{url.port or 5432}-{url.database}.keys"
    return base / "sjr" / "keys" / name


def store_token(conn: Connection, *, create: bool = False) -> str | None:
    """The store's key-file token (``store_meta.approval_keys``); made when ``create``."""
    row = conn.execute(text("SELECT value FROM store_meta WHERE key = :k"),
                       {"k": _META_KEY}).first()
    if row is not None:
        return str(row[0])
    if not create:
        return None
    token = secrets.token_hex(16)
    conn.execute(text("INSERT INTO store_meta (key, value) VALUES (:k, :v)"),
                 {"k": _META_KEY, "v": token})
    return token


def load_keys(path: Path, token: str) -> dict[str, str]:
    """The keys in ``path`` (``{}`` if the file does not exist)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return {}
    if not stat.S_ISREG(info.st_mode):
        raise ApprovalKeyError(f"{path}: the approval key file is not a regular file")
    if info.st_mode & 0o077:
        raise ApprovalKeyError(f"{path}: the approval key file can be read or written by other "
                               "users; make it yours only (chmod 600) before it is used")
    return _stores(path).get(token, {})


def _stores(path: Path) -> dict[str, dict[str, str]]:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
        stores = {str(t): {str(k): str(v) for k, v in keys.items()}
                  for t, keys in content["stores"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ApprovalKeyError(f"{path}: not a readable approval key file ({exc})") from None
    return stores


def write_keys(path: Path, token: str, new: dict[str, bytes]) -> None:
    """Add ``new`` secrets to the key file at ``path`` (created 0600, folders 0700)."""
    keys = load_keys(path, token)
    keys.update({k: v.hex() for k, v in new.items()})
    stores = _stores(path) if path.exists() else {}
    stores[token] = dict(sorted(keys.items()))
    document = json.dumps({"stores": stores}, indent=1)
    write_private(path, document + "\n", make_folders=True)


def add_key(conn: Connection, approval_id: str) -> None:
    """Make a new random 32-byte secret for ``approval_id`` and keep it in the key file."""
    token = store_token(conn, create=True)
    assert token is not None
    write_keys(key_file_path(conn.engine.url), token, {approval_id: secrets.token_bytes(32)})


def read_key(conn: Connection, approval_id: str) -> bytes:
    """The secret of ``approval_id`` from the key file; :class:`ApprovalKeyError` if the
    file or the approval's key in it is missing (never a new secret)."""
    path = key_file_path(conn.engine.url)
    token = store_token(conn)
    if token is None:
        raise ApprovalKeyError("this store has no approval key file yet: run `sjr init-db` "
                               "(revision 0005 moves the keys out of the database)")
    if not path.exists():
        raise ApprovalKeyError(
            f"the approval key file {path} is missing, so approval {approval_id}'s pseudonyms "
            f"cannot be made: restore it from its backup (or set {KEY_FILE_ENV} to where it "
            "is). A new key is never made for an existing approval: every pseudonym would "
            "change")
    keys = load_keys(path, token)
    if not keys:
        raise ApprovalKeyError(
            f"{path}: this approval key file holds no keys of this store (it belongs to another "
            f"store); set {KEY_FILE_ENV} to this store's key file")
    if approval_id not in keys:
        raise ApprovalKeyError(
            f"the approval key file {path} holds no key of approval {approval_id}: restore "
            "the file from its backup; a new key would change every pseudonym")
    return bytes.fromhex(keys[approval_id])
