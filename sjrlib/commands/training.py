"""``sjr training``: the trainer directory, training records, training cases, calibration rounds.

Every command goes through the governed session of whoever runs it (``shared/spec/training.md``):
the programme team maintains the trainer directory and the training cases; organisation leads
record their reviewers' training and run rounds for them; a reviewer sees their own records and
results. Calibration answers are stored apart from reviews and are only ever read here and by
the calibration dashboard.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import typer

from sjrlib.commands.common import open_cli_session, require_file, run_call
from sjrlib.rules import uk_today

training_app = typer.Typer(help="Training and calibrating reviewers: trainers, training "
                           "records, training cases, calibration rounds.", no_args_is_help=True)
trainers_app = typer.Typer(help="The tier one trainer directory.", no_args_is_help=True)
records_app = typer.Typer(help="Training records of reviewers.", no_args_is_help=True)
cases_app = typer.Typer(help="Fictional training cases and their reference answers.",
                        no_args_is_help=True)
round_app = typer.Typer(help="Calibration rounds and their results.", no_args_is_help=True)
training_app.add_typer(trainers_app, name="trainers")
training_app.add_typer(records_app, name="records")
training_app.add_typer(cases_app, name="cases")
training_app.add_typer(round_app, name="round")

DB_OPTION = typer.Option(None, "--db", metavar="URL", help="Database URL; default "
                         "$SJR_DATABASE_URL, else sqlite:///data/sjr.db.")

REFRESHER_INTERVAL_DAYS = 730
"""A reviewer is due a refresher when their last training or refresher is older than this
(an assumption of this project: the programme sets no interval; change it here)."""


def _fail(message: str) -> None:
    typer.echo(f"sjr training: {message}", err=True)
    raise typer.Exit(1)


def _open(db: str | None):
    from data_access.store import database_url, init_db

    url = database_url(db)
    init_db(url)
    return open_cli_session(url, fail=_fail)


def _through(session, call):
    from data_access.training import TrainingDataError

    return run_call(session, call, bad_input=(ValueError, TrainingDataError), fail=_fail)


def _read_file(path: Path) -> tuple[pd.DataFrame, list[int]]:
    """The rows of a trainers or records file and their spreadsheet row numbers (header = row
    1), read as every import is (:func:`data_access.training.read_training_file`); a file not
    there is said as ``sjr import`` says it (:func:`~sjrlib.commands.common.require_file`)."""
    from data_access.training import TrainingDataError, read_training_file

    require_file(path, "a file to import", "nothing was imported")
    try:
        return read_training_file(path)
    except TrainingDataError as exc:
        _fail(str(exc))


def _write(out: Path, text: str) -> None:
    """Write ``text`` to ``out`` as every file from the store is written
    (:mod:`sjrlib.safe_files`: 0600, whole, never through a link): a disk that fills leaves no
    part of it, and an existing file as it was."""
    from sjrlib.safe_files import UnsafePathError, write_private

    if not out.parent.is_dir():
        _fail(f"{out}: no such folder {out.parent}")
    try:
        write_private(out, text)
    except UnsafePathError as exc:
        _fail(f"refused: {exc}")
    except OSError as exc:
        _fail(f"{out}: cannot write ({exc.strerror or exc}); nothing was written")


def _csv_text(frame: pd.DataFrame) -> str:
    """``frame`` as CSV text, every text cell a spreadsheet would run as a formula given the
    quote the import takes off again (:mod:`sjrlib.formula_cells`): the file runs nothing and
    imports back as it was."""
    from sjrlib.formula_cells import neutralise_series

    text = frame.copy()
    for column in text.columns:
        if text[column].dtype == object or pd.api.types.is_string_dtype(text[column].dtype):
            text[column] = neutralise_series(text[column])
    return text.to_csv(index=False, lineterminator="\n")


def _echo_table(frame: pd.DataFrame) -> None:
    if not len(frame):
        typer.echo("(none)")
        return
    typer.echo(frame.to_string(index=False))


# ------------------------------------------------------------------------------ trainers ----
@trainers_app.command("import")
def trainers_import(file: Path = typer.Argument(..., help="A CSV with columns trainer_id, "
                                                "name, contact, organisation, region, "
                                                "trained_on, active."),
                    db: str = DB_OPTION) -> None:
    """Add or update tier one trainers (programme team). The whole file is checked first."""
    frame, rows = _read_file(file)
    session = _open(db)
    new, updated = _through(session, lambda: session.import_trainers(frame, source=file.name,
                                                                     rows=rows))
    typer.echo(f"Trainers: {new} new, {updated} updated, {len(frame) - new - updated} "
               "unchanged")


@trainers_app.command("export")
def trainers_export(out: Path = typer.Argument(..., help="The CSV to write."),
                    db: str = DB_OPTION) -> None:
    """Write the trainer directory as CSV (to edit and import again)."""
    session = _open(db)
    frame = _through(session, session.trainers)
    frame = frame.assign(active=frame["active"].map({True: "yes", False: "no"}))
    _write(out, _csv_text(frame))
    typer.echo(f"Wrote {len(frame)} trainer(s) to {out}")


@trainers_app.command("list")
def trainers_list(db: str = DB_OPTION) -> None:
    """List the trainer directory by region."""
    session = _open(db)
    frame = _through(session, session.trainers)
    _echo_table(frame[["region", "organisation", "name", "contact", "active"]])


# ------------------------------------------------------------------------------- records ----
def refresher_status(records: pd.DataFrame, today: dt.date,
                     interval_days: int = REFRESHER_INTERVAL_DAYS) -> pd.DataFrame:
    """One row per reviewer: ``organisation_code, reviewer_id, trained_on`` (first),
    ``last_training`` (training or refresher), ``due_refresher`` (yes/no)."""
    rows = []
    for (org, reviewer), mine in records.groupby(["organisation_code", "reviewer_id"],
                                                 sort=True):
        dates = list(mine["trained_on"]) + [dt.date.fromisoformat(d) for ds in
                                            mine["refresher_dates"] for d in ds]
        last = max(dates)
        rows.append({"organisation_code": org, "reviewer_id": reviewer,
                     "trained_on": min(mine["trained_on"]), "last_training": last,
                     "due_refresher": "yes" if (today - last).days > interval_days else "no"})
    return pd.DataFrame(rows, columns=["organisation_code", "reviewer_id", "trained_on",
                                       "last_training", "due_refresher"])


@records_app.command("import")
def records_import(file: Path = typer.Argument(..., help="A CSV with columns record_id (blank "
                                               "for new), organisation_code, reviewer_id, "
                                               "trainer_id, trained_on, session, "
                                               "refresher_dates (dates separated by ;)."),
                   db: str = DB_OPTION) -> None:
    """Add or update training records (organisation leads: their organisation's; programme
    team: any)."""
    frame, rows = _read_file(file)
    session = _open(db)
    new, updated = _through(session, lambda: session.import_training_records(
        frame, source=file.name, rows=rows))
    typer.echo(f"Training records: {new} new, {updated} updated, "
               f"{len(frame) - new - updated} unchanged")


@records_app.command("export")
def records_export(out: Path = typer.Argument(..., help="The CSV to write."),
                   db: str = DB_OPTION) -> None:
    """Write the training records you may read as CSV."""
    session = _open(db)
    frame = _through(session, session.training_records)
    frame = frame.assign(refresher_dates=[";".join(d) for d in frame["refresher_dates"]])
    _write(out, _csv_text(frame))
    typer.echo(f"Wrote {len(frame)} training record(s) to {out}")


@records_app.command("list")
def records_list(db: str = DB_OPTION) -> None:
    """Who is trained and who is due a refresher (a reviewer their own; a lead their
    organisation's; the programme team all)."""
    session = _open(db)
    frame = _through(session, session.training_records)
    status = refresher_status(frame, uk_today())
    _echo_table(status)
    if len(status):
        typer.echo(f"{len(status)} trained reviewer(s); "
                   f"{int((status['due_refresher'] == 'yes').sum())} due a refresher "
                   f"(last training over {REFRESHER_INTERVAL_DAYS} days ago)")


# --------------------------------------------------------------------------------- cases ----
@cases_app.command("import")
def cases_import(file: Path = typer.Argument(..., help="A YAML file of fictional training "
                                             "cases (the shape of sjrlib/data/"
                                             "training-cases-2026.yaml)."),
                 db: str = DB_OPTION) -> None:
    """Add or replace training cases and their reference answers (programme team). Their
    themes are checked against the store's latest codebook (its active themes: those a
    calibration answer may name), read through the governed session (audited)."""
    from data_access.training import load_case_file

    require_file(file, "a file to import", "nothing was imported")
    session = _open(db)

    def read_and_import() -> tuple[int, int]:
        cases = load_case_file(file, codebook=session.codebook())  # every problem, or none
        return session.import_training_cases(cases, source=file.name)

    new, updated = _through(session, read_and_import)
    typer.echo(f"Training cases: {new} new, {updated} updated")


@cases_app.command("export")
def cases_export(out: Path = typer.Argument(..., help="The YAML file to write."),
                 db: str = DB_OPTION) -> None:
    """Write the stored training cases with their reference answers (leads and the programme
    team: every case; a reviewer: the cases they have submitted answers to)."""
    from data_access.training import cases_to_yaml

    session = _open(db)
    cases = _through(session, lambda: session.training_cases(reference=True))
    cases = [c for c in cases if "overall" in c.scores]  # the reference answers shown
    _write(out, cases_to_yaml(cases))
    typer.echo(f"Wrote {len(cases)} training case(s) to {out}")


@cases_app.command("list")
def cases_list(db: str = DB_OPTION) -> None:
    """List the training cases (id, title, and for leads and the programme team the care the
    panel judged)."""
    session = _open(db)
    reference = session.role in ("organisation_lead", "programme_team")
    cases = _through(session, lambda: session.training_cases(reference=reference))
    for c in cases:
        judged = f"  [{c.care}, overall {c.scores.get('overall')}]" if reference else ""
        typer.echo(f"{c.case_id:12s} {c.title}{judged}")


# -------------------------------------------------------------------------------- rounds ----
def _members(values: list[str], default_org: str | None) -> tuple[tuple[str, str], ...]:
    out = []
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if not item:
                continue
            org, sep, reviewer = item.partition(":")
            if not sep:
                if default_org is None:
                    _fail(f"reviewer {item!r}: write ORGANISATION:REVIEWER_ID")
                org, reviewer = default_org, item
            out.append((org.strip(), reviewer.strip()))
    return tuple(out)


@round_app.command("create")
def round_create(
    round_id: str = typer.Argument(..., help="The round's id, e.g. CAL-2026-1."),
    name: str = typer.Option(..., "--name", help="The round's name."),
    cases: str = typer.Option(..., "--cases", help="Training case ids, separated by commas."),
    reviewers: list[str] = typer.Option(..., "--reviewer", help="A reviewer of the group as "
                                        "ORGANISATION:REVIEWER_ID (repeat, or separate by "
                                        "commas); a lead may leave out their organisation."),
    opens: str = typer.Option(..., "--opens", help="First day of the window (YYYY-MM-DD)."),
    closes: str = typer.Option(..., "--closes", help="Last day of the window (YYYY-MM-DD)."),
    organisation: str = typer.Option(None, "--organisation", help="The organisation whose "
                                     "round it is (a lead's own; none for a national round)."),
    db: str = DB_OPTION,
) -> None:
    """Create a calibration round: cases, a group of reviewers, a window. Every problem is
    named at once; nothing is created while there is one."""
    from data_access.training import RoundSpec, listed

    dates, wrong = {}, []
    for option, value in (("--opens", opens), ("--closes", closes)):
        try:
            dates[option] = dt.date.fromisoformat(value.strip())
        except ValueError:
            wrong.append(f"{option}: {value!r} is not a date written YYYY-MM-DD")
    if wrong:
        _fail(listed(f"round {round_id}", wrong, "created"))
    session = _open(db)
    orgs = session.organisation_codes
    own = orgs[0] if orgs is not None and len(orgs) == 1 else None
    spec = RoundSpec(round_id, name, tuple(c.strip() for c in cases.split(",") if c.strip()),
                     dates["--opens"], dates["--closes"], _members(reviewers, own),
                     organisation or own)
    _through(session, lambda: session.create_calibration_round(spec))
    typer.echo(f"Created round {round_id}: {len(spec.case_ids)} case(s), "
               f"{len(spec.members)} reviewer(s), {spec.opens_on} to {spec.closes_on}")


@round_app.command("list")
def round_list(db: str = DB_OPTION) -> None:
    """The rounds you take part in or oversee."""
    session = _open(db)
    rounds = _through(session, session.calibration_rounds)
    rounds = rounds.assign(cases=[len(c) for c in rounds["case_ids"]])
    _echo_table(rounds[["round_id", "name", "opens_on", "closes_on", "cases", "members"]])


@round_app.command("results")
def round_results(round_id: str = typer.Argument(..., help="The round."),
                  db: str = DB_OPTION) -> None:
    """Results of a round against the panel's reference answers: a reviewer their own, a lead
    their organisation's reviewers, the programme team the distribution (naming no
    organisation or reviewer)."""
    from sjrlib.dashboards.calibration import results_tables

    session = _open(db)
    role = session.role
    # the themes compared are those of the store's latest codebook, as the dashboard's are
    codebook, data = _through(session, lambda: (session.codebook(),
                                                session.calibration_data(round_id)))
    for title, frame in results_tables(data, role, codebook):
        typer.echo(f"\n{title}")
        _echo_table(frame)


def register(app: typer.Typer) -> None:
    app.add_typer(training_app, name="training")
