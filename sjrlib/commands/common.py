"""What every ``sjr`` command that touches data shares: one-line failures and the governed session.

A command opens the session of whoever runs it (:func:`open_cli_session`), makes its calls
through :func:`run_call`, and ends any refusal or bad input in one line with exit 1
(:func:`fail`), never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import typer

__all__ = ["fail", "open_cli_session", "path_refusal", "require_file", "run_call"]


def fail(message: str) -> NoReturn:
    """Print ``message`` on stderr and end the command with exit code 1."""
    typer.echo(message, err=True)
    raise typer.Exit(1)


def require_file(path: Path, what: str, nothing: str) -> None:
    """End the command in one line unless ``path`` is a file; a relative path is read against
    the folder sjr runs in, and the line names where it looked
    (``nothere.csv: no such file (looked for /home/me/nothere.csv); nothing was imported``),
    not a usage box."""
    if path.is_file():
        return
    looked = "" if path.is_absolute() else f" (looked for {path.absolute()})"
    if path.is_dir():
        fail(f"{path}: a folder, not {what}{looked}; {nothing}")
    fail(f"{path}: no such file{looked}; {nothing}")


def path_refusal(exc: OSError, path: Path, nothing: str = "nothing was written") -> str:
    """The line for a write :mod:`sjrlib.safe_files` refused because of where it would go.

    A folder that does not exist is a slip to put right, not a refusal: the line says so and
    how (``backups/x.sjrbackup: no such folder backups; create it first (mkdir -m 700
    backups); nothing was written``). A symbolic link or other unsafe target stays
    ``refused: ...``."""
    folder = Path(path).parent
    if not folder.is_dir():
        return (f"{path}: no such folder {folder}; create it first (mkdir -m 700 {folder}); "
                f"{nothing}")
    return f"refused: {exc}"


def open_cli_session(url: str, *, user: str | None = None, tool: str = "cli",
                     fail: Callable[[str], Any] = fail) -> Any:
    """The governed session of whoever runs the command; a refusal (audited by the session)
    ends in one line."""
    from data_access import AccessDenied, open_session

    try:
        return open_session(user=user, db=url, tool=tool)
    except AccessDenied as exc:
        fail(f"refused: {exc}")


def run_call(session: Any, call: Callable[[], Any], *,
             bad_input: tuple[type[Exception], ...] = (ValueError,),
             fail: Callable[[str], Any] = fail) -> Any:
    """Run one session call, then close the session; a refusal or bad input ends in one line."""
    from data_access import AccessDenied

    try:
        return call()
    except AccessDenied as exc:
        fail(f"refused: {exc}")
    except bad_input as exc:
        fail(str(exc))
    finally:
        session.close()
