"""The ``sjr`` command line.

Each area of the project owns the module that defines its commands; this file only assembles
them. A module in ``_COMMAND_MODULES`` exposes ``register(app: typer.Typer) -> None``.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import warnings
from collections.abc import Iterator

import typer

from sjrlib.import_notices import ImportNotice

app = typer.Typer(
    name="sjr",
    help="Structured Judgement Review: data store, governed access, statistics and reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@contextlib.contextmanager
def _notices() -> Iterator[None]:
    """While a command runs: every :class:`sjrlib.import_notices.ImportNotice` printed as one
    line on standard error as it comes (the file is imported, and the person is told what
    they should know); other warnings shown as they were."""
    with warnings.catch_warnings():
        previous = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
            if issubclass(category, ImportNotice):
                typer.echo(f"sjr: note: {message}", err=True)
            else:
                previous(message, category, filename, lineno, file, line)

        warnings.simplefilter("always", ImportNotice)
        warnings.showwarning = show
        yield


@app.callback()
def _main(ctx: typer.Context, debug: bool = typer.Option(
        False, "--debug", help="Show the full traceback of an unexpected failure.")) -> None:
    """Structured Judgement Review: data store, governed access, statistics and reports."""
    ctx.with_resource(_notices())
    if debug:
        import os

        os.environ["SJR_DEBUG"] = "1"


_COMMAND_MODULES = (
    "sjrlib.commands.text",
    "sjrlib.commands.serve",
    "sjrlib.commands.data",
    "sjrlib.commands.generate",
    "data_access.commands",
    "sjrlib.commands.report",
    "sjrlib.commands.disclosure",
    "sjrlib.commands.themes",
    "sjrlib.commands.backup",
    "sjrlib.commands.training",
    "sjrlib.commands.actions",
)

for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def reflowed(text: str | None) -> str | None:
    """A command's help as paragraphs: the line breaks of a docstring's source joined, so the
    terminal wraps each paragraph at its own width (typer keeps them, and an 80-column help
    broke "exits 1 with the / store unchanged" mid-sentence). A blank line still separates
    paragraphs; click's markers are honoured: a paragraph starting with ``\\b`` keeps its
    lines, and everything from ``\\f`` on is not help.

    >>> reflowed("Every problem is printed and the command exits 1 with the\\nstore unchanged.")
    'Every problem is printed and the command exits 1 with the store unchanged.'
    """
    if not text:
        return text
    text, marker, rest = inspect.cleandoc(text).partition("\f")
    paragraphs = [p if p.startswith("\b") else " ".join(line.strip() for line in p.splitlines())
                  for p in text.strip().split("\n\n")]
    return "\n\n".join(paragraphs) + marker + rest


def command():
    """The ``sjr`` click command assembled from :data:`app`, every help :func:`reflowed`."""
    def reflow(cmd) -> None:
        cmd.help = reflowed(cmd.help)
        cmd.short_help = reflowed(cmd.short_help)
        for sub in getattr(cmd, "commands", {}).values():
            reflow(sub)

    assembled = typer.main.get_command(app)
    reflow(assembled)
    return assembled


def _store_argument(argv: list[str]) -> tuple[str, str]:
    """``(url, source)``: the store a command line names (``--db``, else ``SJR_DATABASE_URL``,
    else the default) and where that came from, as a message says it."""
    import os

    from data_access.database import DEFAULT_URL

    db = None
    for i, arg in enumerate(argv):
        if arg == "--db" and i + 1 < len(argv):
            db = argv[i + 1]
        elif arg.startswith("--db="):
            db = arg[5:]
    if db:
        return db, "--db"
    if os.environ.get("SJR_DATABASE_URL"):
        return os.environ["SJR_DATABASE_URL"], "SJR_DATABASE_URL"
    return DEFAULT_URL, "the default, data/sjr.db in the folder sjr runs in"


def _store_url(argv: list[str]):
    """The store the command was pointed at (``--db``, ``SJR_DATABASE_URL`` or the default),
    to name it in a message; None when it cannot be told."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(_store_argument(argv)[0])
    except Exception:  # noqa: BLE001 - only to name the store in a message
        return None


CREATES_STORE = frozenset({("init-db",), ("demo-data",), ("restore",)})
"""The commands whose job is to make a store: every other one refuses a SQLite file that does
not exist (SQLite would create it empty, and the command would then fail on an empty store
with a message about something else)."""


def _command_path(argv: list[str]) -> tuple[tuple[str, ...], bool]:
    """``(names, takes_db)``: the (sub)command ``argv`` runs and whether it has ``--db``."""
    import typer.main

    command = typer.main.get_command(app)
    names: list[str] = []
    for arg in argv:
        sub = getattr(command, "commands", None)
        if sub is None or arg.startswith("-"):
            if sub is None:
                break
            continue
        if arg not in sub:
            break
        command = sub[arg]
        names.append(arg)
    if hasattr(command, "commands"):
        return tuple(names), False
    return tuple(names), any(p.name == "db" for p in command.params)


def missing_store(argv: list[str], cwd: str | None = None) -> str | None:
    """The one-line refusal of a command pointed at a SQLite store that does not exist (None
    when the store exists, is not a SQLite file, or the command creates stores or takes none).

    Nothing is created: not the file, not the default's ``data/`` folder. The message names the
    full path, where the name came from, and the ways on."""
    from data_access.database import missing_sqlite_file, no_store_words

    if any(a in ("--help", "-h") for a in argv):
        return None
    names, takes_db = _command_path(argv)
    if not takes_db or names in CREATES_STORE:
        return None
    given, source = _store_argument(argv)
    path = missing_sqlite_file(given, cwd)
    if path is None:
        return None
    return (f"{no_store_words(path, source)}. Run sjr in the folder that holds the store "
            "(the project folder after `make demo`), name it with --db or SJR_DATABASE_URL, or "
            "create one with `sjr init-db`; nothing was created.")


def _describe(exc: BaseException, argv: list[str] | None = None) -> str:
    """One line for a person: what failed, in the words of whatever refused."""
    from sqlalchemy.exc import DBAPIError

    from data_access.faults import describe_fault

    fault = describe_fault(exc, _store_url(argv or []))
    if fault:
        return fault
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        first = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else ""
        return f"the database refused the request: {first or type(exc.orig).__name__}"
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def main(argv: list[str] | None = None) -> None:
    """The ``sjr`` console script: every command ends in a message, never a traceback.

    Commands report what they expect (bad files, refusals, validation errors) themselves; this
    catches the rest (a database that went away, a full disk: :mod:`data_access.faults`) as
    one line and exit code 1. ``sjr --debug`` (or ``SJR_DEBUG=1``) shows the traceback
    instead.
    """
    import os
    import sys

    from sjrlib.import_speed import skip_slow_iri_checker

    skip_slow_iri_checker()  # 1.3 s of every report command's start (sjrlib/import_speed.py)
    argv = list(sys.argv[1:] if argv is None else argv)
    missing = missing_store(argv)
    if missing:
        typer.echo(f"sjr: {missing}", err=True)
        sys.exit(2)
    try:
        command()(args=argv, prog_name="sjr")
    except KeyboardInterrupt:
        typer.echo("sjr: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence of a command line
        if os.environ.get("SJR_DEBUG"):
            raise
        typer.echo(f"sjr: {_describe(exc, argv)} (sjr --debug shows the details)", err=True)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
