"""``sjr actions``: the action register (what was done about the learning, and its measure).

Every command goes through the governed session of whoever runs it: an organisation lead
records, updates and exports their organisation's actions; the programme team lists and exports
every organisation's (``shared/spec/learning.md``, "Actions and impact"); ``measures`` reads the
store's codebook, which every role may read.
"""

from __future__ import annotations

from pathlib import Path

import typer

from sjrlib.commands.common import open_cli_session, require_file, run_call

actions_app = typer.Typer(help="The action register: actions taken on the learning from "
                          "reviews, their owners, dates, status and measure.",
                          no_args_is_help=True)

_DB = typer.Option(None, "--db", metavar="URL", help="Database URL; default $SJR_DATABASE_URL, "
                   "else sqlite:///data/sjr.db.")


# ``measures`` may go without a store (--shipped): see sjrlib.commands.themes._STORE
_STORE = typer.Option(None, "--db", metavar="URL", help="Database URL; default "
                      "$SJR_DATABASE_URL, else sqlite:///data/sjr.db.")


def _fail(message: str) -> None:
    typer.echo(f"sjr actions: {message}", err=True)
    raise typer.Exit(1)


def _open(db: str | None):
    from data_access.store import database_url, init_db

    url = database_url(db)
    init_db(url)
    return open_cli_session(url, fail=_fail)


def _through(session, call):
    return run_call(session, call, fail=_fail)


@actions_app.command("add")
def add(
    description: str = typer.Option(..., "--description", help="What is being done (no patient "
                                    "or person: it is screened for identifiers)."),
    owner_role: str = typer.Option(..., "--owner-role", help="Who owns it, as a role (e.g. "
                                   "'Sepsis lead'), never a name."),
    agreed_on: str = typer.Option(..., "--agreed-on", metavar="YYYY-MM-DD"),
    due_on: str = typer.Option(None, "--due-on", metavar="YYYY-MM-DD"),
    status: str = typer.Option("open", "--status",
                               help="open, in_progress, completed or dropped."),
    completed_on: str = typer.Option(None, "--completed-on", metavar="YYYY-MM-DD"),
    theme: list[str] = typer.Option(None, "--theme", help="A theme the action answers (theme "
                                    "id; repeat for several)."),
    review: list[str] = typer.Option(None, "--review", help="A review the action answers "
                                     "(review id; repeat for several)."),
    measure: str = typer.Option(None, "--measure", help="The statistic to watch (see `sjr "
                                "actions measures`), e.g. theme:sepsis."),
    change_month: str = typer.Option(None, "--change-month", metavar="YYYY-MM",
                                     help="The month the change went in (with --measure)."),
    target: str = typer.Option(None, "--target", metavar="PERCENT",
                               help="The % the measure should reach (with --measure): its "
                                    "impact chart then says whether it will be met."),
    db: str = _DB,
) -> None:
    """Record an action of your organisation (organisation leads)."""
    session = _open(db)
    action_id = _through(session, lambda: session.record_action(
        description, owner_role=owner_role, agreed_on=agreed_on, due_on=due_on, status=status,
        completed_on=completed_on, themes=theme or [], review_ids=review or [],
        measure=measure, change_month=change_month, target=target))
    typer.echo(f"Recorded action {action_id} ({status})")


@actions_app.command("update")
def update(
    action_id: str = typer.Argument(..., help="The action's id (`sjr actions list`)."),
    version: int = typer.Option(..., "--version", help="The version you read (`sjr actions "
                                "list`); a newer stored version is refused."),
    description: str = typer.Option(None, "--description"),
    owner_role: str = typer.Option(None, "--owner-role"),
    agreed_on: str = typer.Option(None, "--agreed-on", metavar="YYYY-MM-DD"),
    due_on: str = typer.Option(None, "--due-on", metavar="YYYY-MM-DD"),
    status: str = typer.Option(None, "--status"),
    completed_on: str = typer.Option(None, "--completed-on", metavar="YYYY-MM-DD"),
    theme: list[str] = typer.Option(None, "--theme", help="Replace the themes (repeat)."),
    review: list[str] = typer.Option(None, "--review", help="Replace the reviews (repeat)."),
    measure: str = typer.Option(None, "--measure", help="Set the measure ('none' clears it, "
                                "the change month and the target)."),
    change_month: str = typer.Option(None, "--change-month", metavar="YYYY-MM"),
    target: str = typer.Option(None, "--target", metavar="PERCENT",
                               help="Set the target ('none' clears it)."),
    db: str = _DB,
) -> None:
    """Change an action of your organisation (organisation leads); only the options given
    change."""
    changes = {k: v for k, v in {
        "description": description, "owner_role": owner_role, "agreed_on": agreed_on,
        "due_on": due_on, "status": status, "completed_on": completed_on,
        "themes": theme or None, "review_ids": review or None, "measure": measure,
        "change_month": change_month, "target": target}.items() if v is not None}
    if changes.get("measure") == "none":
        changes.update(measure=None, change_month=None, target=None)
    if changes.get("target") == "none":
        changes["target"] = None
    if not changes:
        _fail("nothing to change: give at least one option (see --help)")
    session = _open(db)
    new = _through(session, lambda: session.update_action(action_id, expected_version=version,
                                                          **changes))
    typer.echo(f"Updated action {action_id}: version {new}" if new != version else
               f"Action {action_id} unchanged: its values are those given (version {new})")


@actions_app.command("list")
def list_actions(
    status: list[str] = typer.Option(None, "--status", help="Only these statuses (repeat)."),
    organisation: list[str] = typer.Option(None, "--organisation", help="Only these "
                                           "organisations (programme team; repeat)."),
    db: str = _DB,
) -> None:
    """List the actions you may read: id, version, status, dates, owner, measure, themes."""
    session = _open(db)
    frame = _through(session, lambda: session.actions(organisation_codes=organisation or None,
                                                      status=status or None))
    typer.echo(f"{len(frame)} action(s)")
    frame = frame.astype(object).where(frame.notna(), None)
    for row in frame.itertuples():
        measure = f" measure {row.measure} from {row.change_month}" if row.measure else ""
        measure += f" target {row.target:g}%" if row.target is not None else ""
        themes = f" themes {row.themes}" if row.themes else ""
        due = f" due {row.due_on}" if row.due_on else ""
        done = f" completed {row.completed_on}" if row.completed_on else ""
        typer.echo(f"{row.id} v{row.version} {row.organisation_code} [{row.status}] agreed "
                   f"{row.agreed_on}{due}{done}; owner: {row.owner_role};{measure}{themes}")
        typer.echo(f"    {row.description}")


@actions_app.command("export")
def export(
    out: Path = typer.Argument(..., help="The file to write: .csv or .xlsx."),
    db: str = _DB,
) -> None:
    """Write the action register you may read to a CSV or Excel file."""
    from data_access.actions import write_actions_file

    if out.suffix.lower() not in (".csv", ".xlsx"):
        _fail(f"{out.name}: write the register to a .csv or .xlsx file")
    if not out.parent.is_dir():
        _fail(f"{out}: no such folder {out.parent}")
    from sjrlib.safe_files import UnsafePathError

    session = _open(db)
    frame = _through(session, lambda: session.actions())
    try:  # 0600, whole, never through a link (sjrlib.safe_files)
        write_actions_file(frame, out)
    except UnsafePathError as exc:
        _fail(f"refused: {exc}")
    except OSError as exc:
        _fail(f"{out}: cannot write ({exc.strerror or exc}); nothing was written")
    typer.echo(f"Wrote {len(frame)} action(s) to {out}")


@actions_app.command("import")
def import_(
    file: Path = typer.Argument(..., help="A register file (.csv or .xlsx) with the columns "
                                "`sjr actions export` writes: a row without id is a new "
                                "action, a row with id and version changes that action."),
    db: str = _DB,
) -> None:
    """Record and update your organisation's actions from a file, all or nothing (leads)."""
    from data_access.actions import read_actions

    require_file(file, "a register file", "nothing was imported")
    try:
        frame, rows = read_actions(file)
    except ValueError as exc:
        _fail(str(exc))
    session = _open(db)
    done = _through(session, lambda: session.import_actions(frame, source=file.name, rows=rows))
    typer.echo(f"Imported {file.name}: {done.recorded} action(s) recorded, {done.updated} "
               f"updated, {done.unchanged} unchanged")


@actions_app.command("measures")
def measures(
    shipped: bool = typer.Option(False, "--shipped", help="The measures of the codebook "
                                 "shipped with sjr (2026.1) instead of the store's."),
    store: str = _STORE,
) -> None:
    """List the measures an action may name: one per phase of care, one per active theme of
    the store's latest codebook (the one an action is checked against), and the share of
    deaths reviewed. Reading the store's codebook is audited."""
    from sjrlib.commands.themes import store_codebook
    from sjrlib.measures import allowed_measures
    from sjrlib.themes.codebook import shipped_codebook

    book, source = ((shipped_codebook(), "shipped with sjr") if shipped
                    else store_codebook(store, fail=_fail))
    typer.echo(f"Measures under codebook {book.version} ({source}):")
    for m in allowed_measures(book):
        typer.echo(f"{m.id:28s} {m.label} ({'higher' if m.improvement == 'increase' else 'lower'}"
                   " is better)")


def register(app: typer.Typer) -> None:
    app.add_typer(actions_app, name="actions")
