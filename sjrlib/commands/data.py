"""Data commands: ``sjr init-db``, ``import``, ``export``, ``summary``, ``demo-data``.

These are the administrator's way into the store. Every command takes ``--db URL`` (else
``$SJR_DATABASE_URL``, else ``sqlite:///data/sjr.db``). Imports validate the whole file
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
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from sjrlib import domain

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


def _fail(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(1)


def _audit_hook(kind: Kind) -> Callable[[Connection, str, int], None] | None:
    """The single place where an import's audit entry is attached.

    The store calls the returned ``on_write(conn, action, rows)`` inside the import's
    transaction (see ``data_access.store.OnWrite``). Governance wires the audit log in here.
    """
    from data_access.audit import import_writer

    return import_writer(tool=f"sjr import {kind.value}")


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


def _read(kind: Kind, path: Path, conn: Connection, mapping: Path | None):
    """Organisations or deaths: read and validate the whole file against the store."""
    from data_access import store
    from sjrlib import io

    if kind is Kind.organisations:
        return io.read_organisations(path, mapping=mapping)
    return io.read_deaths(path, mapping=mapping,
                          known_organisations=store.known_organisations(conn))


def _store_reviews(path: Path, engine, mapping: Path | None, options: dict):
    """Reviews: validated block by block and written into one transaction as they pass
    (``io.stream_reviews`` -> ``store.import_review_blocks``); the transaction is committed
    only when the whole file has passed, so a file with any error leaves the store as it was.
    A million-review file is never held in memory at once."""
    from data_access import store
    from sjrlib import io

    with engine.connect() as conn:
        organisations = store.known_organisations(conn)
        known = store.known_reviews(conn, stage="first")
    stream = io.stream_reviews(path, mapping=mapping, known_organisations=organisations,
                               known_reviews=known)
    show = path.stat().st_size >= _PROGRESS_FROM * 500  # about 500 bytes a review
    with _progress(f"Validating and storing {path.name}", show=show) as advance:
        return store.import_review_blocks(engine, stream, progress=advance,
                                          saved_by=f"import:{path.name}", **options)


def import_file(kind: Kind, path: Path, url: str, *, mapping: Path | None = None,
                update: bool = False):
    """Validate ``path`` and store it (all or nothing); print errors and exit 1 on failure.

    Returns the :class:`data_access.store.ImportResult`. Used by ``sjr import`` and
    ``sjr demo-data`` so both take exactly the same path into the store.
    """
    from data_access import store
    from sjrlib.io import ImportFileError
    from sjrlib.schema import ValidationFailed

    store.init_db(url)
    engine = store.get_engine(url)
    options = {"update": update, "on_write": _audit_hook(kind)}
    try:
        if kind is Kind.reviews:
            result = _store_reviews(path, engine, mapping, options)
        else:
            with engine.connect() as conn, _console.status(f"Reading and validating {path} ..."):
                frame = _read(kind, path, conn, mapping)
            importer = {Kind.organisations: store.import_organisations,
                        Kind.deaths: store.import_deaths}[kind]
            result = importer(engine, frame, **options)
    except ImportFileError as exc:
        _fail(str(exc))  # ImportFileError already names the file
    except ValidationFailed as exc:
        for error in exc.errors:
            typer.echo(str(error), err=True)
        rows = len({(e.source, e.row) for e in exc.errors})
        _fail(f"{path}: {len(exc.errors)} problem(s) in {rows} row(s); nothing was "
              "imported, the store is unchanged.")
    except store.StoreError as exc:
        _fail(f"{path}: {exc}")
    except IntegrityError as exc:
        _fail(f"{path}: the store refused the rows ({exc.orig}); nothing was imported.")
    finally:
        engine.dispose()
    typer.echo(f"{path}: {kind.value}: {result}.")
    return result


# ------------------------------------------------------------------------------- commands ----
def init_db(db: str | None = DB_OPTION) -> None:
    """Create the database schema, or upgrade it to the newest version (safe to repeat)."""
    from data_access import store

    url = store.database_url(db)
    store.init_db(url)
    typer.echo(f"Database ready: {_shown(url)}")


def import_(
    kind: Kind = typer.Argument(..., help="What the file holds."),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                help="CSV or XLSX file in the exchange format."),
    db: str | None = DB_OPTION,
    mapping: Path | None = typer.Option(
        None, "--mapping", exists=True, dir_okay=False,
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

    import_file(kind, file, store.database_url(db), mapping=mapping, update=update)


def export(
    kind: Kind = typer.Argument(..., help="What to export."),
    file: Path = typer.Argument(..., dir_okay=False, help="Output file, .csv or .xlsx."),
    db: str | None = DB_OPTION,
) -> None:
    """Write the stored organisations, deaths or reviews in the exchange format."""
    from data_access import store
    from data_access.audit import shell_writer
    from sjrlib import io

    audit = shell_writer(tool=f"sjr export {kind.value}")
    engine = store.get_engine(store.database_url(db))
    try:
        with engine.begin() as conn:  # the read and its audit entry in one transaction
            if kind is Kind.reviews:
                frame = store.load_reviews(conn)[list(domain.REVIEW_COLUMNS)]
                io.write_reviews(frame, file)
            elif kind is Kind.deaths:
                frame = store.load_deaths(conn)
                io.write_deaths(frame, file)
            else:
                frame = store.load_organisations(conn)
                io.write_organisations(frame, file)
            audit(conn, f"export.{kind.value}", len(frame), scope={"file": Path(file).name})
    finally:
        engine.dispose()
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
    """Show what is in the store: organisations, reviews by stage/status/year, deaths."""
    from data_access import store
    from data_access.models import Death, Organisation, Review

    url = store.database_url(db)
    engine = store.get_engine(url)
    from data_access.audit import shell_writer

    audit = shell_writer(tool="sjr summary")
    out = Console(highlight=False)
    try:
        with engine.begin() as conn:  # counts only, but a read of review data: audited
            nations = conn.execute(select(Organisation.nation, func.count())
                                   .group_by(Organisation.nation).order_by(Organisation.nation))
            out.print(_table("Organisations", ("nation", "organisations"),
                             [(domain.label("nation", n), c) for n, c in nations]))
            year = func.substr(Review.death_month, 1, 4)
            stages = conn.execute(select(Review.review_stage, Review.status, func.count())
                                  .group_by(Review.review_stage, Review.status)
                                  .order_by(Review.review_stage, Review.status)).all()
            out.print(_table("Reviews by stage and status", ("stage", "status", "reviews"),
                             [(domain.label("review_stage", s), domain.label("status", t), c)
                              for s, t, c in stages]))
            years = conn.execute(select(year, func.count()).group_by(year).order_by(year))
            out.print(_table("Reviews by year of death", ("year", "reviews"),
                             [(y or "unknown", c) for y, c in years]))
            first, last, reviews = conn.execute(
                select(func.min(Review.death_month), func.max(Review.death_month),
                       func.count())).one()
            d_first, d_last, d_rows, d_total = conn.execute(
                select(func.min(Death.month), func.max(Death.month), func.count(),
                       func.coalesce(func.sum(Death.deaths_in_scope), 0))).one()
            out.print(_table("Totals", ("what", "count", "from", "to"), [
                ("reviews", reviews, first or "-", last or "-"),
                ("deaths in scope", int(d_total), d_first or "-", d_last or "-"),
                ("organisation-months of deaths", d_rows, d_first or "-", d_last or "-"),
            ]))
            audit(conn, "summary", reviews, scope={"aggregate": True})
    finally:
        engine.dispose()
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
    """Fill an empty store with the default synthetic data set (no real patient data).

    The data are written to data/synthetic/*.csv in the exchange format and imported through the
    same validated path as ``sjr import``. A store that already holds reviews is left alone.
    """
    from data_access import store
    from data_access.models import Review
    from sjrlib import io, synthetic

    url = store.database_url(db)
    store.init_db(url)
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            reviews = conn.execute(select(func.count()).select_from(Review)).scalar_one()
    finally:
        engine.dispose()
    if reviews:
        typer.echo(f"{_shown(url)} already holds {reviews:,} reviews; nothing done.")
        return
    size = {"seed": seed, "n_organisations": organisations, "years": years}
    with _console.status("Generating synthetic data ..."):
        data = synthetic.generate(**{k: v for k, v in size.items() if v is not None})
    SYNTHETIC_FOLDER.mkdir(parents=True, exist_ok=True)
    files = {Kind.organisations: SYNTHETIC_FOLDER / "organisations.csv",
             Kind.deaths: SYNTHETIC_FOLDER / "deaths.csv",
             Kind.reviews: SYNTHETIC_FOLDER / "reviews.csv"}
    io.write_organisations(data.organisations, files[Kind.organisations])
    io.write_deaths(data.deaths, files[Kind.deaths])
    io.write_reviews(data.reviews, files[Kind.reviews])
    for kind, path in files.items():
        import_file(kind, path, url)
    typer.echo(f"Synthetic data stored in {_shown(url)}.")


def register(app: typer.Typer) -> None:
    app.command("init-db")(init_db)
    app.command("import")(import_)
    app.command("export")(export)
    app.command("summary")(summary)
    app.command("demo-data")(demo_data)
