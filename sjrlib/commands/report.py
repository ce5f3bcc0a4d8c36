"""``sjr report national|trust CODE...|all``: produce the reports of a period, reproducibly.

Writes ``<out>/<period>/national.html``, ``<out>/<period>/trusts/<code>.html`` (+ the Learning
from Deaths workbook ``<code>-lfd.xlsx``) and ``<out>/<period>/index.html``. Parameters come
from ``parameters/national.yaml`` and ``parameters/trust_defaults.yaml`` (or ``--params``) and
are checked before any notebook runs. ``all`` runs one worker process per core (``--jobs``),
goes on past a failing report, prints a summary and exits 1 if any report failed.

The reports read the data as the person who runs the command (``JUPYTERHUB_USER``,
``SJR_USER`` or the identity file): the programme team for ``national`` and ``all``; the
programme team or the organisation's lead for ``trust``. Anyone else is refused (exit 2) before
anything runs. Relative paths (``--out``, ``--params``, a SQLite ``--db``) are the caller's:
taken from the folder the command is run in.

A second run into the same ``--out`` renders only the reports whose data, parameters or code
changed since the last one (or whose files were deleted or altered), keeps the others and
rebuilds the index; ``--force`` renders everything. Ctrl-C (or SIGTERM) stops the batch: the
files of the reports it had not finished are removed, what finished is kept and indexed, and
the command says what ran (exit 130, or 143 for SIGTERM).
"""

from __future__ import annotations

import signal
from pathlib import Path

import typer

from sjrlib.report.params import ParameterError

_PERIOD = typer.Option(None, "--period",
                       help="Financial year, e.g. 2024-25 (default: the parameter files, "
                            "else the latest financial year with deaths data).")
_START = typer.Option(None, "--start-month",
                      help="Explicit first month YYYY-MM (with --end-month).")
_END = typer.Option(None, "--end-month", help="Explicit last month YYYY-MM, inclusive.")
_DB = typer.Option(None, "--db",
                   help="Database URL (default SJR_DATABASE_URL or sqlite:///data/sjr.db).")
_OUT = typer.Option(Path("reports"), "--out", help="Output folder.")
_PARAMS = typer.Option(None, "--params",
                       help="Parameter file (report: national or report: trust); repeatable. "
                            "Default: parameters/national.yaml, parameters/trust_defaults.yaml.")
_JOBS = typer.Option(None, "--jobs", "-j", min=1, help="Parallel workers (default: one per core).")
_QUIET = typer.Option(False, "--quiet", help="No progress bar.")
_FORCE = typer.Option(
    False, "--force",
    help="Render every report, also those unchanged since the last run into --out (by "
         "default only reports whose data, parameters or code changed are rendered).")
_AUDIENCE = typer.Option(
    None, "--audience",
    help="Who the reports are for: public (default) or collaborative, disclosure-controlled; "
         "organisation: exact counts, each page marked 'For internal governance: apply "
         "disclosure control before publishing'.")


def _run(what: str, codes: list[str], period, start_month, end_month, db, out, params, jobs,
         quiet, audience=None, organisation_reports: bool = False,
         collaboratives: Path | None = None, force: bool = False) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from data_access import AccessDenied
    from sjrlib.report.runner import EmptyPeriod, run_reports

    try:
        batch = run_reports(
            what, codes, period=period, start_month=start_month, end_month=end_month, db=db,
            out=out, parameter_files=params or None, workers=jobs, progress=not quiet,
            audience=audience, organisation_reports=organisation_reports,
            collaboratives=collaboratives, force=force,
        )
    except KeyboardInterrupt:  # before any report was started: nothing was written
        typer.echo("Interrupted before any report was written.", err=True)
        raise typer.Exit(130) from None
    except EmptyPeriod as exc:  # nothing to report: nothing written
        typer.echo(f"Cannot run the reports: {exc}", err=True)
        raise typer.Exit(1) from None
    except ParameterError as exc:
        typer.echo(f"Cannot run the reports: {exc}", err=True)
        raise typer.Exit(2) from None
    except AccessDenied as exc:  # no identity, or one that may not produce these reports
        # as every other command refuses (sjrlib.commands.common.fail): one line, exit 1
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(1) from None
    except SQLAlchemyError as exc:
        from sqlalchemy.engine import make_url

        from data_access.faults import describe_fault

        fault = describe_fault(exc, make_url(db) if db else None)
        typer.echo(f"Cannot read the store: {fault or str(exc).splitlines()[0]}", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:  # e.g. --out on a read-only filesystem (a report's own: the summary)
        where = f"{exc.filename}: " if exc.filename else ""
        typer.echo(f"Cannot write the reports: {where}{exc.strerror or exc}. Choose an --out "
                   "folder you can write to, or ask the administrator to make this one "
                   "writable or free space on its disk.", err=True)
        raise typer.Exit(1) from None
    _summary(batch)
    if batch.interrupted:
        raise typer.Exit(128 + int(getattr(signal, batch.interrupted)))
    if batch.failed or batch.problems:
        raise typer.Exit(1)


def _names(results, limit: int = 8) -> str:
    names = [r.name for r in results]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _outcomes(batch) -> str:
    """``"1 rendered, 134 unchanged and kept"``: a report the refresh kept was not written
    again, and saying "written" of it made a run that rendered one page look like 135."""
    parts = [f"{len(batch.rendered)} rendered"]
    if batch.kept:
        parts.append(f"{len(batch.kept)} unchanged and kept")
    if batch.failed:
        parts.append(f"{len(batch.failed)} failed")
    return ", ".join(parts)


def _summary(batch) -> None:
    """What ran, what was kept, what failed, what could not be written: always printed."""
    from sjrlib.report.workers import INTERRUPTED, NOT_RUN

    ok = [r for r in batch.results if r.ok]
    if batch.interrupted:
        how = "Ctrl-C" if batch.interrupted == "SIGINT" else batch.interrupted
        removed = [r for r in batch.results if r.error == INTERRUPTED]
        not_run = [r for r in batch.results if r.error == NOT_RUN]
        typer.echo(f"Interrupted ({how}) after {batch.seconds:.1f} s: {len(ok)} of "
                   f"{len(batch.results)} reports for {batch.period_label} in {batch.out_dir} "
                   f"are complete ({len(batch.rendered)} rendered by this run, "
                   f"{len(batch.kept)} unchanged and kept).", err=True)
        if removed:
            typer.echo(f"  Unfinished, their files removed: {_names(removed)}.", err=True)
        if not_run:
            typer.echo(f"  Not run: {len(not_run)} reports; run the command again to "
                       "finish them.", err=True)
    else:
        count = len(batch.results)
        typer.echo(f"{count} report{'' if count == 1 else 's'} for {batch.period_label} in "
                   f"{batch.out_dir} ({batch.seconds:.1f} s): {_outcomes(batch)}.")
    for failure in batch.failed:
        if failure.error not in (INTERRUPTED, NOT_RUN):
            typer.echo(f"  FAILED {failure.name}: {failure.error}", err=True)
    for note in batch.notes:
        typer.echo(f"  Note: {note}", err=True)
    for problem in batch.problems:
        typer.echo(f"  Not written: {problem}", err=True)
    # organisation-audience pages are never linked from the index (public pages only)
    internal = [batch.pages[r.name] for r in ok
                if r.name.endswith("(organisation)") and r.name in batch.pages]
    # A run of internal pages only (a lead's `trust CODE --audience organisation`) is told to
    # open them, not the index, which cannot lead to them.
    only_internal = bool(batch.results) and all(r.name.endswith("(organisation)")
                                                for r in batch.results)
    if 0 < len(internal) <= 8:
        for page in internal:
            typer.echo(f"Open {page.resolve()} (for internal governance; not linked from the "
                       "index)" if only_internal else
                       f"For internal governance (not linked from the index): {page.resolve()}")
    elif internal:
        where = internal[0].parent.resolve()
        typer.echo(f"Open {where}: {len(internal)} reports for internal governance (not linked "
                   "from the index)" if only_internal else
                   f"For internal governance (not linked from the index): {len(internal)} "
                   f"reports in {where}")
    if batch.index is not None and not only_internal:
        typer.echo(f"Open {batch.index.resolve()}")


def national(period: str = _PERIOD, start_month: str = _START, end_month: str = _END,
             db: str = _DB, out: Path = _OUT, params: list[Path] = _PARAMS, jobs: int = _JOBS,
             quiet: bool = _QUIET, force: bool = _FORCE) -> None:
    """The national report (England and Scotland, pooled; no organisation named)."""
    _run("national", [], period, start_month, end_month, db, out, params, jobs, quiet,
         force=force)


def trust(codes: list[str] = typer.Argument(..., metavar="CODE...",
                                            help="Organisation code(s) (ODS or GSS)."),
          period: str = _PERIOD, start_month: str = _START, end_month: str = _END,
          db: str = _DB, out: Path = _OUT, params: list[Path] = _PARAMS, jobs: int = _JOBS,
          quiet: bool = _QUIET, audience: str = _AUDIENCE, force: bool = _FORCE) -> None:
    """The report of one or more trusts or health boards (disclosure-controlled unless the
    audience is the organisation itself)."""
    _run("trust", codes, period, start_month, end_month, db, out, params, jobs, quiet, audience,
         force=force)


def all_reports(period: str = _PERIOD, start_month: str = _START, end_month: str = _END,
                db: str = _DB, out: Path = _OUT, params: list[Path] = _PARAMS,
                jobs: int = _JOBS, quiet: bool = _QUIET,
                organisation_reports: bool = typer.Option(
                    False, "--organisation-reports",
                    help="Also each organisation's own report with exact counts (audience "
                         "organisation, marked for internal governance) in "
                         "<period>/organisation/: twice the reports."),
                collaboratives: Path | None = typer.Option(
                    None, "--collaboratives",
                    help="Groups of organisations that agreed to share (YAML: id, name, "
                         "members, agreed_from); a collaborative report per group in "
                         "<period>/collaborative/. Default: parameters/collaboratives.yaml "
                         "if it exists."),
                force: bool = _FORCE) -> None:
    """The national report and the report of every organisation, in parallel, and the index.
    A second run into the same --out renders only what changed (--force: everything)."""
    _run("all", [], period, start_month, end_month, db, out, params, jobs, quiet,
         organisation_reports=organisation_reports, collaboratives=collaboratives, force=force)


def pdf(pages: list[Path] = typer.Argument(..., metavar="PAGE...",
                                          help="Report pages (.html) written by sjr report."),
        out: Path | None = typer.Option(None, "--out",
                                        help="Folder for the PDFs (default: beside each page)."),
        ) -> None:
    """Print report pages as A4 PDFs for a board: page numbers, the date and the audience on
    every page, no table or chart split across pages (headless Chromium)."""
    from sjrlib.caller_paths import absolute_path
    from sjrlib.commands.common import fail
    from sjrlib.report.board_pack import BoardPackError, print_pdfs

    try:
        written = print_pdfs([absolute_path(p) for p in pages],
                             out_dir=absolute_path(out) if out else None)
    except BoardPackError as exc:
        fail(str(exc))
    for path in written:
        typer.echo(f"Wrote {path}")


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Reports: national, per trust/board, or all (HTML + Excel).",
                        no_args_is_help=True)
    group.command("national")(national)
    group.command("trust")(trust)
    group.command("all")(all_reports)
    group.command("pdf")(pdf)
    app.add_typer(group, name="report")
