"""The ``sjr`` command line.

Each area of the project owns the module that defines its commands; this file only assembles
them. A module in ``_COMMAND_MODULES`` exposes ``register(app: typer.Typer) -> None``.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="sjr",
    help="Structured Judgement Review: data store, governed access, statistics and reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)



@app.callback()
def _main() -> None:
    """Structured Judgement Review: data store, governed access, statistics and reports."""


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
    "sjrlib.commands.actions",
    "sjrlib.commands.training",
)

for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def _describe(exc: BaseException) -> str:
    """One line for a person: what failed, in the words of whatever refused."""
    from sqlalchemy.exc import DBAPIError

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
    catches the rest (a database that went away, a full disk) as one line and exit code 1.
    ``SJR_DEBUG=1`` shows the traceback instead.
    """
    import os
    import sys

    try:
        app(args=argv, prog_name="sjr")
    except KeyboardInterrupt:
        typer.echo("sjr: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence of a command line
        if os.environ.get("SJR_DEBUG"):
            raise
        typer.echo(f"sjr: {_describe(exc)} (set SJR_DEBUG=1 for the details)", err=True)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
