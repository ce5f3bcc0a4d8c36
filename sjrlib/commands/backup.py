"""``sjr backup FILE`` and ``sjr restore FILE --db URL`` (administrators).

The work is :mod:`data_access.backup`.

Both go through the governed session's door (permission ``backup``) and are audited; a
refusal ends in one line.
"""

from __future__ import annotations

from pathlib import Path

import typer

from sjrlib.commands.common import fail, open_cli_session, path_refusal, require_file
from sjrlib.commands.data import DB_OPTION


def backup(file: Path = typer.Argument(..., dir_okay=False,
                                       help="The backup file to write (a tar file, mode 0600)."),
           db: str | None = DB_OPTION) -> None:
    """Back up the whole store (users, approvals, audit log, reviews and their versions) and
    its approval keys into FILE, consistently while others work (SQLite: the online backup
    API; PostgreSQL: pg_dump of one snapshot, the client of the server's version or newer)."""
    from data_access import AccessDenied, store
    from data_access import backup as _backup
    from sjrlib.safe_files import UnsafePathError

    url = store.database_url(db)
    store.init_db(url)
    session = open_cli_session(url, tool="sjr backup")
    try:
        entry = _backup.backup(session, file)
    except UnsafePathError as exc:
        fail(path_refusal(exc, file))
    except AccessDenied as exc:
        fail(f"refused: {exc}")
    except _backup.BackupError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{file}: cannot write ({exc.strerror or exc})")
    finally:
        session.close()
    typer.echo(f"{file}: backup written (audit log up to entry {entry}, this backup included).")


def restore(file: Path = typer.Argument(..., help="A backup written by `sjr backup`."),
            db: str | None = DB_OPTION) -> None:
    """Restore FILE into a NEW store (--db: a new SQLite file, or an existing EMPTY PostgreSQL
    database; a non-empty store is refused), with its approval keys and, on PostgreSQL, the
    persons' database roles it lacks; upgrade the schema, verify the audit chain and audit
    the restore."""
    from data_access import AccessDenied, store
    from data_access import backup as _backup
    from sjrlib.safe_files import UnsafePathError

    require_file(file, "a backup", "nothing was restored")
    url = store.database_url(db)
    try:
        if _backup.refuse_existing(url):
            # Audited in the existing store, as whoever asks (administrators only).
            session = open_cli_session(url, tool="sjr restore")
            try:
                session.refuse_restore(str(file), f"{_shown(url)} exists and is not empty; a "
                                       "restore writes a new store only (choose a new --db)")
            finally:
                session.close()
        result = _backup.restore(file, url)
    except UnsafePathError as exc:
        target = _sqlite_file(url)
        fail(path_refusal(exc, target, "nothing was restored") if target else f"refused: {exc}")
    except AccessDenied as exc:
        fail(f"refused: {exc}")
    except _backup.BackupError as exc:
        fail(str(exc))
    except OSError as exc:  # e.g. no room for the store file; what was written is taken out
        fail(f"{_shown(url)}: cannot write the restored store ({exc.strerror or exc}); "
             "nothing was restored")
    typer.echo(f"{_shown(url)}: restored from {file}; audit chain verified ({result.entries} "
               f"entries; the restore is audited after them); {result.keys} approval key(s) "
               f"written to {result.key_file}"
               + (f"; {result.roles} person database role(s) created." if result.roles
                  else "."))


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite ``url`` as typed (relative to the folder sjr runs in); None for
    another database."""
    from sqlalchemy.engine import make_url

    from data_access.database import sqlite_file

    database = sqlite_file(make_url(url))
    return Path(database) if database else None


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)
