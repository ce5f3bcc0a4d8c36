"""``sjr check-text``: find identifiers in free text before it is entered or shared."""

from __future__ import annotations

import json
import sys

import typer

from sjrlib.privacy import KINDS, find_identifiers


def check_text(
    text: str = typer.Argument(
        None, help="The text to check, or '-' to read standard input (the default)."
    ),
    as_json: bool = typer.Option(
        False, "--json", help='Print a JSON list of {"kind", "start", "end", "text"}.'
    ),
) -> None:
    """Find identifiers (NHS/CHI numbers, postcodes, emails, phones, hospital numbers, dates of birth, likely names) in TEXT; exit 1 if any.

    Nothing is changed: the findings say what was found and where, so the text can be fixed.
    """  # noqa: E501 (typer shows the first paragraph as one line in the command list)
    if text is None or text == "-":
        text = sys.stdin.read()
    findings = find_identifiers(text)
    if as_json:
        typer.echo(json.dumps([f._asdict() for f in findings]))
    elif findings:
        for f in findings:
            typer.echo(f"{f.start}-{f.end}\t{KINDS[f.kind]}\t{f.text}")
    else:
        typer.echo("No identifiers found.")
    raise typer.Exit(1 if findings else 0)


def register(app: typer.Typer) -> None:
    app.command("check-text")(check_text)
