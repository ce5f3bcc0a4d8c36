"""``sjr disclosure check REPORT_FOLDER...``: try to undo the control of published reports.

Reads the report pages and workbooks of one period (``reports/<period>``: the public trust
reports, the national report and the Learning from Deaths workbooks) as an attacker would, and
prints every suppressed or rounded count the figures around it give back
(:mod:`sjrlib.disclosure_check`). Exit 0: nothing recovered; 1: a count was recovered (each is
printed: file, table, row, column, what it shows and what it must be); 2: nothing to read.

It reads files a reader would have, never the store, so it needs no identity. Point it at the
reports meant for publication: an ``organisation``-audience report holds exact counts by design.
"""

from __future__ import annotations

from pathlib import Path

import typer


def check(
    folders: list[Path] = typer.Argument(
        ..., help="Report folders of one period (e.g. reports/2024-25) or single files."),
    limit: int = typer.Option(50, "--limit", min=1,
                              help="Print at most this many recovered counts."),
    internal: bool = typer.Option(
        True, "--internal/--no-internal",
        help="Read a folder's organisation/ reports (exact counts, for internal governance) "
             "as published too (the default), or leave them out and check what a reader of "
             "the public pages alone has."),
) -> None:
    """Try to recover suppressed or rounded counts from published pages and workbooks."""
    from sjrlib.disclosure_check import check_reports

    missing = [str(f) for f in folders if not f.exists()]
    if missing:
        typer.echo(f"Cannot check: {', '.join(missing)} not found.", err=True)
        raise typer.Exit(2)
    from sjrlib.disclosure_check import INTERNAL_FOLDER

    inside = sorted({p.stem.removesuffix("-lfd") for f in folders if f.is_dir()
                     for p in f.rglob("*") if p.parent.name == INTERNAL_FOLDER
                     and p.suffix in (".html", ".xlsx")})
    try:
        findings, n_files, notes = check_reports(folders, internal=internal)
    except (OSError, ValueError) as exc:
        typer.echo(f"Cannot check the reports: {exc}", err=True)
        raise typer.Exit(2) from None
    if not n_files:
        typer.echo("No report pages (.html) or workbooks (.xlsx) found in "
                   f"{', '.join(map(str, folders))}.", err=True)
        raise typer.Exit(2)
    if inside and internal:
        typer.echo(f"Note: {INTERNAL_FOLDER}/ holds exact counts for internal governance "
                   f"({_names(inside)}). They are read as published, so nothing the public "
                   "pages of these organisations withhold is hidden from a reader of both, and "
                   "their withheld cells are not tested here. To test what a reader of the "
                   "public pages alone has, add --no-internal; do not publish "
                   f"{INTERNAL_FOLDER}/.", err=True)
    elif inside:
        typer.echo(f"Note: {INTERNAL_FOLDER}/ ({_names(inside)}) left out (--no-internal): "
                   "exact counts for internal governance, not for publication.", err=True)
    for note in sorted(set(notes))[:10]:
        typer.echo(f"  note: {note}", err=True)
    if not findings:
        typer.echo(f"{n_files} files read: no suppressed or rounded count could be recovered.")
        return
    typer.echo(f"{n_files} files read: {len(findings)} suppressed or rounded count(s) "
               "recovered:")
    for finding in findings[:limit]:
        typer.echo(f"  {finding}")
    if len(findings) > limit:
        typer.echo(f"  ... and {len(findings) - limit} more (--limit).")
    raise typer.Exit(1)


def _names(codes: list[str], most: int = 8) -> str:
    shown = ", ".join(codes[:most])
    return shown + (f" and {len(codes) - most} more" if len(codes) > most else "")


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Disclosure control of published reports.", no_args_is_help=True)
    group.command("check")(check)
    app.add_typer(group, name="disclosure")
