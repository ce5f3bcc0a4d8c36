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
)

for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(app)


if __name__ == "__main__":  # pragma: no cover
    app()
