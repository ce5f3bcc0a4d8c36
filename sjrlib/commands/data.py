"""Data commands: ``sjr init-db``, ``import``, ``export``, ``summary``, ``demo-data``.

Every command takes ``--db URL`` (else ``$SJR_DATABASE_URL``, else ``sqlite:///data/sjr.db``).
``import``, ``export`` and ``summary`` act as the user :mod:`data_access.identity` finds, through
the governed session (:meth:`data_access.session.Session.import_file`, ``export``, ``summary``):
import and export are for administrators, or an organisation lead for their own organisation's
files; the summary's counts for administrators, the programme team and leads (their own
organisation). Each is audited with its real scope; a refusal is audited too and ends in one
line. ``demo-data`` is the operator's: it fills an empty store with synthetic data, marks it
synthetic and registers the demo users (:mod:`data_access.demo`). Imports validate the whole file
(:mod:`sjrlib.io`, the same rules as every other way in), print every problem and exit 1 with
the store unchanged; only a file that is entirely valid is stored, in one transaction (reviews
are written into it block by block while the rest of the file is still being validated, and
rolled back if any row fails).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from sjrlib.commands.common import fail, open_cli_session, path_refusal, require_file

DB_OPTION = typer.Option(
    None, "--db", metavar="URL",
    help="Database URL (sqlite:///path.db or postgresql://...); default $SJR_DATABASE_URL, "
         "else sqlite:///data/sjr.db.",
)
SYNTHETIC_FOLDER = Path("data/synthetic")
_PROGRESS_FROM = 20_000  # rows; smaller files are stored before a bar would be worth drawing


class Kind(StrEnum):
    organisations = "organisations"
    deaths = "deaths"
    reviews = "reviews"


_console = Console(stderr=True, highlight=False)


@contextmanager
def _progress(label: str, *, show: bool) -> Iterator[Callable[[int], None] | None]:
    """A progress display of rows stored so far (the file's row count is not known ahead)."""
    if not show or not _console.is_terminal:
        yield None
        return
    columns = (TextColumn(label), BarColumn(), TextColumn("{task.completed:,} written"),
               TimeElapsedColumn())
    with Progress(*columns, console=_console, transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda rows: bar.advance(task, rows)


def import_file(kind: Kind, path: Path, url: str, *, mapping: Path | None = None,
                update: bool = False, user: str | None = None):
    """Validate ``path`` and store it (all or nothing) as the calling user; print errors and
    exit 1 on failure.

    Returns the :class:`data_access.store.ImportResult`. Used by ``sjr import`` and
    ``sjr demo-data`` so both take exactly the same governed path into the store.
    """
    from data_access import AccessDenied, store
    from sjrlib.io import ImportFileError
    from sjrlib.schema import ValidationFailed

    store.init_db(url)
    session = open_cli_session(url, user=user, tool=f"sjr import {kind.value}")
    show = kind is Kind.reviews and path.stat().st_size >= _PROGRESS_FROM * 500
    try:
        with _progress(f"Validating and storing {path.name}", show=show) as advance:
            result = session.import_file(kind.value, path, mapping=mapping, update=update,
                                         progress=advance)
    except AccessDenied as exc:
        fail(f"refused: {exc}")
    except ImportFileError as exc:
        fail(str(exc))  # ImportFileError already names the file
    except ValidationFailed as exc:
        for error in exc.errors:
            typer.echo(str(error), err=True)
        rows = len({(e.source, e.row) for e in exc.errors})
        fail(f"{path}: {len(exc.errors)} problem(s) in {rows} row(s); nothing was "
              "imported, the store is unchanged.")
    except store.ImportConflictError as exc:
        for line in exc.lines(str(path)):
            typer.echo(line, err=True)
        fail(f"{path}: {exc.summary()}")
    except store.StoreError as exc:
        fail(f"{path}: {exc}")
    except IntegrityError as exc:
        fail(f"{path}: the store refused the rows ({exc.orig}); nothing was imported.")
    finally:
        session.close()
    # a deaths row is one organisation's month of the feed, not one death: "deaths: 8040
    # inserted" read as 8,040 deaths on a store of 1.26 million (sjr summary's words)
    what = "deaths (organisation-months)" if kind is Kind.deaths else kind.value
    typer.echo(f"{path}: {what}: {result}.")
    return result


# ------------------------------------------------------------------------------- commands ----
def init_db(db: str | None = DB_OPTION) -> None:
    """Create the database schema, or upgrade it to the newest version (safe to repeat)."""
    from data_access import store

    url = store.database_url(db)
    store.init_db(url)
    typer.echo(f"Database ready: {_shown(url)}")
    advice = store.collation_advice(url)
    if advice:
        typer.echo(advice)


def import_(
    kind: Kind = typer.Argument(..., help="What the file holds."),
    file: Path = typer.Argument(..., help="CSV or XLSX file in the exchange format."),
    db: str | None = DB_OPTION,
    mapping: Path | None = typer.Option(
        None, "--mapping", dir_okay=False,
        help="YAML file mapping this file's own headers and codes to the exchange format."),
    update: bool = typer.Option(
        False, "--update", help="Replace stored rows whose content differs (reviews get a new "
                                "version). Without it such rows are an error."),
) -> None:
    """Validate FILE completely and store it, all or nothing.

    Every problem is printed (file, row, column, value, rule) and the command exits 1 with the
    store unchanged. Exit 0 means the whole file is stored.
    """
    from data_access import store

    require_file(file, "a file to import", "nothing was imported")
    if mapping is not None:
        require_file(mapping, "a mapping file", "nothing was imported")
    import_file(kind, file, store.database_url(db), mapping=mapping, update=update)


def export(
    kind: Kind = typer.Argument(..., help="What to export."),
    file: Path = typer.Argument(..., dir_okay=False, help="Output file, .csv or .xlsx."),
    db: str | None = DB_OPTION,
) -> None:
    """Write the stored organisations, deaths or reviews in the exchange format.

    Administrators export everything; an organisation lead their own organisation's rows. The
    read is audited before the file is written."""
    from data_access import AccessDenied, store
    from sjrlib import io, safe_files

    if file.suffix.lower() not in io.SUFFIXES:
        fail(f"{file}: an export is written as .csv or .xlsx")
    try:  # before the audited read: a refused destination reads nothing
        safe_files.check_target(file)
    except safe_files.UnsafePathError as exc:
        fail(path_refusal(exc, file))
    url = store.database_url(db)
    store.init_db(url)
    session = open_cli_session(url, user=None, tool=f"sjr export {kind.value}")
    try:
        frame = session.export(kind.value)
    except AccessDenied as exc:
        fail(f"refused: {exc}")
    finally:
        session.close()
    writer = {Kind.reviews: io.write_reviews, Kind.deaths: io.write_deaths,
              Kind.organisations: io.write_organisations}[kind]
    try:  # 0600, whole, never through a symbolic link (sjrlib.safe_files)
        writer(frame, file)
    except safe_files.UnsafePathError as exc:
        fail(f"refused: {exc}")
    except OSError as exc:
        fail(f"{file}: cannot write ({exc.strerror or exc})")
    except ValueError as exc:  # e.g. a text longer than an XLSX cell holds
        fail(str(exc))
    typer.echo(f"{file}: {len(frame)} {kind.value} written.")


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _table(title: str, header: tuple[str, ...], rows) -> Table:
    rows = [tuple(row) for row in rows]
    table = Table(title=title, title_justify="left", min_width=len(title) + 4)
    for i, name in enumerate(header):
        numeric = bool(rows) and all(isinstance(row[i], int) for row in rows)
        table.add_column(name, justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row))
    return table


def summary(db: str | None = DB_OPTION) -> None:
    """Show what is in the store: organisations, reviews by stage/status/year, deaths.

    Counts within the caller's scope (all for administrators and the programme team, their own
    organisation for a lead); audited."""
    from data_access import AccessDenied, store

    url = store.database_url(db)
    store.init_db(url)
    session = open_cli_session(url, user=None, tool="sjr summary")
    try:
        tables = session.summary()
    except AccessDenied as exc:
        fail(f"refused: {exc}")
    finally:
        session.close()
    out = Console(highlight=False)
    titles = {"organisations": "Organisations", "stages": "Reviews by stage and status",
              "years": "Reviews by year of death", "totals": "Totals"}
    for key, title in titles.items():
        frame = tables[key]
        out.print(_table(title, tuple(frame.columns), frame.itertuples(index=False)))
    out.print(f"Database: {_shown(url)}")


def demo_data(
    db: str | None = DB_OPTION,
    seed: int | None = typer.Option(None, "--seed", help="Random seed of the synthetic data."),
    organisations: int | None = typer.Option(
        None, "--organisations", min=1, help="Number of organisations (default: the national "
                                             "set of the generator)."),
    years: int | None = typer.Option(None, "--years", min=1,
                                     help="Financial years of data (default: the generator's)."),
) -> None:
    """Fill an empty store with the default synthetic data set (no real patient data), mark
    it synthetic and register the demo users (one per role; see the README).

    The data are written to data/synthetic/*.csv in the exchange format and imported by
    `demo-admin` through the same governed, validated path as `sjr import`. A synthetic
    store that already holds reviews only gets any missing demo user. A store that is not
    marked synthetic and holds anything (users, organisations, reviews) is left alone, and
    the command exits 1: demo users never go into a real store.
    """
    from data_access import demo, store
    from data_access.identity import count_users
    from data_access.models import Organisation, Review
    from data_access.session import bootstrap_administrator
    from sjrlib import io, synthetic

    url = store.database_url(db)
    store.init_db(url)
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            reviews = conn.execute(select(func.count()).select_from(Review)).scalar_one()
            organisations_stored = conn.execute(
                select(func.count()).select_from(Organisation)).scalar_one()
            users = count_users(conn)
            synthetic_store = demo.is_synthetic(conn)
        if not synthetic_store and (reviews or organisations_stored or users):
            # exit 1: a script (make demo, whose reports would follow) must not take this
            # refusal for a demo store ready to use
            fail(f"{_shown(url)} is not a synthetic store and is not empty "
                 f"({reviews:,} reviews, {users} users); nothing done: demo data and "
                 "demo users go only into a new store. (A demo store made before stores "
                 "were marked synthetic? Remove it, e.g. `make clean-db`, and run "
                 "`make demo` again.)")
        if reviews:
            added = _demo_users(engine, url)
            typer.echo(f"{_shown(url)} already holds {reviews:,} synthetic reviews; "
                       + (f"demo users added: {', '.join(added)}." if added
                          else "demo users ready."))
            return
        with engine.begin() as conn:
            demo.mark_synthetic(conn)
        if users == 0:
            bootstrap_administrator("demo-admin", engine, tool="sjr demo-data")
        added: list[str] = []
        size = {"seed": seed, "n_organisations": organisations, "years": years}
        with _console.status("Generating synthetic data ..."):
            data = synthetic.generate(**{k: v for k, v in size.items() if v is not None})
            from sjrlib.synthetic.themes import synthetic_learning  # issue 13: themes, actions

            learning = synthetic_learning(data.reviews, data.seed)
        SYNTHETIC_FOLDER.mkdir(parents=True, exist_ok=True)
        files = {Kind.organisations: SYNTHETIC_FOLDER / "organisations.csv",
                 Kind.deaths: SYNTHETIC_FOLDER / "deaths.csv",
                 Kind.reviews: SYNTHETIC_FOLDER / "reviews.csv"}
        with _folder_lock(SYNTHETIC_FOLDER):  # another demo-data run here waits
            io.write_organisations(data.organisations, files[Kind.organisations])
            io.write_deaths(data.deaths, files[Kind.deaths])
            io.write_reviews(learning.reviews, files[Kind.reviews])
            for kind, path in files.items():
                import_file(kind, path, url, user="demo-admin")
        from data_access.actions import store_demo_learning

        store_demo_learning(engine, learning)
        added = _demo_users(engine, url)
    finally:
        engine.dispose()
    names = ", ".join(u.username for u in demo.DEMO_USERS)
    typer.echo(f"Synthetic data stored in {_shown(url)}; demo users: {names} "
               "(see the README for what each can do).")


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder/.lock`` exclusively: two ``sjr demo-data`` runs in one folder (two
    people's terminals, or parallel tests) would otherwise write ``data/synthetic`` over each
    other, and one would import the other's files beside its own themes and actions (found as
    a foreign-key failure of the actions' reviews). Where ``fcntl`` is missing, no lock."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    with open(folder / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _demo_users(engine, url: str) -> list[str]:
    """Register the missing demo users as ``demo-admin`` (audited)."""
    from data_access import AccessDenied, demo

    session = open_cli_session(url, user="demo-admin", tool="sjr demo-data")
    try:
        return demo.register_demo_users(engine, session)
    except AccessDenied as exc:
        fail(f"refused: {exc}")
    finally:
        session.close()


def register(app: typer.Typer) -> None:
    app.command("init-db")(init_db)
    app.command("import")(import_)
    app.command("export")(export)
    app.command("summary")(summary)
    app.command("demo-data")(demo_data)
