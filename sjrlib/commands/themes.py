"""``sjr themes``: the codebook of themes, and suggested themes for judgement statements."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import typer

from sjrlib.commands.common import open_cli_session, require_file, run_call

themes_app = typer.Typer(help="Themes: the codebook, training and suggestions.",
                         no_args_is_help=True)
codebook_app = typer.Typer(help="The codebook of themes (id, label, definition, examples).",
                           no_args_is_help=True)
themes_app.add_typer(codebook_app, name="codebook")


def _fail(message: str) -> None:
    typer.echo(f"sjr themes: {message}", err=True)
    raise typer.Exit(1)


def _codebook(path: Path | None, nothing: str = "nothing was read"):
    """The codebook of a file (``None``: the shipped one), or one line naming every problem
    (a file not there: where it was looked for, as ``sjr import`` says it)."""
    from sjrlib.themes.codebook import CodebookError, load_codebook, shipped_codebook

    if path is not None:
        require_file(path, "a codebook file", nothing)
    try:
        return load_codebook(path) if path is not None else shipped_codebook()
    except CodebookError as exc:
        _fail(exc.listing())


_DB = typer.Option(None, "--db", metavar="URL", help="Database URL; default "
                   "$SJR_DATABASE_URL, else sqlite:///data/sjr.db.")
# The store is optional where --file or --shipped may stand for it: its parameter is not named
# ``db``, so sjr's check for a missing store (sjrlib.cli.missing_store) leaves it to
# store_codebook, which refuses a missing store only when it is to be read.
_STORE = typer.Option(None, "--db", metavar="URL", help="Database URL; default "
                      "$SJR_DATABASE_URL, else sqlite:///data/sjr.db.")
_FILE = typer.Option(None, "--file", help="A codebook file instead of the store's.")
_SHIPPED = typer.Option(False, "--shipped", help="The codebook shipped with sjr (2026.1) "
                        "instead of the store's.")
_VERSION = typer.Option(None, "--version", metavar="VERSION", help="A stored version "
                        "(default: the latest imported).")


def store_codebook(db: str | None, version: str | None = None, *,
                   fail: Any = None) -> tuple[Any, str]:
    """The store's codebook (``version``, default the latest imported) read through the
    governed session of whoever runs the command (audited as ``codebook``), and words saying
    where it came from. A store that holds none gives the shipped codebook, and says so; a
    store that does not exist is refused (nothing is created)."""
    import os

    from data_access.database import DEFAULT_URL, missing_sqlite_file, no_store_words
    from data_access.store import existing_store_url, init_db
    from sjrlib.themes.codebook import NoStoredCodebook, shipped_codebook

    fail = fail or _fail
    missing = missing_sqlite_file(db or os.environ.get("SJR_DATABASE_URL") or DEFAULT_URL)
    if missing is not None:
        fail(f"{no_store_words(missing)}; nothing was created. Name the store with --db or "
             "SJR_DATABASE_URL, or read the codebook shipped with sjr with --shipped.")
    url = existing_store_url(db)
    init_db(url)
    session = open_cli_session(url, fail=fail)
    where = session.database_url.render_as_string(hide_password=True)

    def read() -> Any:
        try:
            return session.codebook(version)
        except NoStoredCodebook:  # revision 0006 stores 2026.1: a store whose rows were removed
            return None

    book = run_call(session, read, fail=fail)
    if book is None:
        return shipped_codebook(), f"shipped with sjr; the store {where} holds none"
    return book, (f"stored in {where}" if version else f"the latest stored in {where}")


def _chosen(file: Path | None, shipped: bool, version: str | None, db: str | None
            ) -> tuple[Any, str]:
    """The codebook a command is asked for: ``--file``, ``--shipped``, else the store's."""
    if file is not None and shipped:
        _fail("give --file or --shipped, not both")
    if version is not None and (file is not None or shipped):
        _fail("--version names a stored codebook; leave out --file and --shipped")
    if file is not None:
        return _codebook(file), f"from the file {file.name}"
    if shipped:
        return _codebook(None), "shipped with sjr"
    return store_codebook(db, version)


@codebook_app.command("list")
def codebook_list(
    file: Path = _FILE,
    shipped: bool = _SHIPPED,
    version: str = _VERSION,
    retired: bool = typer.Option(True, "--retired/--active", help="Show retired themes too."),
    store: str = _STORE,
) -> None:
    """List the themes of the store's codebook (or of --file, or --shipped): id, label, and
    whether retired. Reading the store's is audited."""
    codebook, source = _chosen(file, shipped, version, store)
    typer.echo(f"Codebook {codebook.version} ({source}): {len(codebook.active)} active "
               f"theme(s), {len(codebook.themes) - len(codebook.active)} retired")
    for t in codebook.themes:
        if t.retired and not retired:
            continue
        typer.echo(f"{t.id:22s} {t.label}{'  (retired)' if t.retired else ''}")


@codebook_app.command("export")
def codebook_export(
    out: Path = typer.Argument(..., help="The file to write (.yaml or .csv)."),
    file: Path = _FILE,
    shipped: bool = _SHIPPED,
    version: str = _VERSION,
    store: str = _STORE,
) -> None:
    """Write the store's codebook (or --file's, or --shipped) as YAML or CSV, to edit and
    import as a new version. Reading the store's is audited."""
    from sjrlib.themes.codebook import CodebookError, export_codebook

    if out.suffix.lower() not in (".yaml", ".yml", ".csv"):
        _fail(f"{out.name}: a codebook is written as .yaml or .csv")
    if not out.parent.is_dir():
        _fail(f"{out}: no such folder {out.parent}")
    codebook, source = _chosen(file, shipped, version, store)
    from sjrlib.safe_files import UnsafePathError

    try:
        export_codebook(codebook, out)
    except CodebookError as exc:
        _fail(str(exc))
    except UnsafePathError as exc:
        _fail(f"refused: {exc}")
    except OSError as exc:
        _fail(f"{out}: cannot write ({exc.strerror or exc}); nothing was written")
    typer.echo(f"Wrote codebook {codebook.version} ({source}; {len(codebook.themes)} themes) "
               f"to {out}")


@codebook_app.command("check")
def codebook_check(file: Path = typer.Argument(..., help="A codebook file (.yaml or .csv).")
                   ) -> None:
    """Check a codebook file before importing it: version, ids, labels, examples. Every
    problem is listed, by row and column (CSV) or theme and field (YAML)."""
    codebook = _codebook(file, "nothing was checked")
    typer.echo(f"{file.name}: codebook {codebook.version} is valid "
               f"({len(codebook.active)} active, "
               f"{len(codebook.themes) - len(codebook.active)} retired)")


def _open(db: str | None):
    """A governed session on the store (who is asking: --user/$SJR_USER/identity file)."""
    from data_access.store import database_url, init_db

    url = database_url(db)
    init_db(url)
    return open_cli_session(url, fail=_fail)


def _through(session, call):
    """One session call: a refusal or bad input ends in one line and exit 1."""
    return run_call(session, call, fail=_fail)


@codebook_app.command("import")
def codebook_import(
    file: Path = typer.Argument(..., help="A codebook file (.yaml or .csv) with a new version."),
    db: str = _DB,
) -> None:
    """Store a new version of the codebook (programme team); later codes use it.

    A theme is never dropped: a new version keeps every theme of the earlier ones, retiring
    those no longer to be used, so reviews coded with them stay readable.
    """
    from sjrlib.themes.codebook import CodebookError, load_codebook

    require_file(file, "a codebook file", "nothing was stored")
    try:
        codebook = load_codebook(file)
    except CodebookError as exc:
        _fail(exc.listing("nothing was stored"))
    session = _open(db)
    version = _through(session, lambda: session.import_codebook(codebook))
    typer.echo(f"Stored codebook {version}: {len(codebook.active)} active theme(s), "
               f"{len(codebook.themes) - len(codebook.active)} retired")


def _read_codes(path: Path):
    """Statements people coded, from a CSV with columns ``text`` and ``themes`` (``;``)."""
    from sjrlib.themes.model import CodedStatement

    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            if not {"text", "themes"} <= set(reader.fieldnames or ()):
                _fail(f"{path.name}: needs the columns text and themes (themes separated by ;)")
            return [CodedStatement(row["text"] or "",
                                   tuple(t.strip() for t in (row["themes"] or "").split(";")
                                         if t.strip()))
                    for row in reader]
    except FileNotFoundError:
        _fail(f"{path}: file not found")
    except (UnicodeDecodeError, csv.Error) as exc:
        _fail(f"{path.name}: not a readable UTF-8 CSV ({exc})")


@themes_app.command("train")
def train(
    codes: Path = typer.Option(None, "--codes", help="A CSV of statements people coded "
                               "(columns text, themes; themes separated by ;), added to the "
                               "seed statements."),
    codebook_file: Path = typer.Option(None, "--codebook", help="The codebook whose active "
                                       "themes to suggest (default: the store's latest with "
                                       "--store, else 2026.1)."),
    from_store: bool = typer.Option(False, "--store", help="Add the codes people gave in the "
                                    "store (organisation leads and reviewers: the codes and "
                                    "judgement text they may read)."),
    db: str = typer.Option(None, "--db", metavar="URL", help="Database URL for --store."),
    out: Path = typer.Option(None, "--out", help="Where to keep the model (default: "
                             "$SJR_THEMES_MODEL, else the user's cache folder)."),
) -> None:
    """Train the suggestion model (seed statements plus accepted codes) and keep it.

    The model is written privately (0600) to --out, $SJR_THEMES_MODEL or the user's cache
    folder; the last two are used by every later suggestion. Only codes a person gave or
    accepted are training data.
    """
    from sjrlib.themes.model import model_path, save_model, train_model
    from sjrlib.themes.suggest import use_model

    if codes is not None:
        require_file(codes, "a file to read", "no model was trained")
    codebook = _codebook(codebook_file, "no model was trained")
    human = []
    if from_store:
        from sjrlib.themes.model import statements_from_codes

        session = _open(db)
        stored, frame = _through(session, lambda: (session.codebook(),
                                                   session.theme_codes(with_text=True)))
        if codebook_file is None:  # the store's latest codebook, retired themes left out
            codebook = stored
        human += statements_from_codes(frame)
    human += _read_codes(codes) if codes is not None else []
    unknown = sorted({t for s in human for t in s.themes} - set(codebook.ids))
    if unknown:
        _fail(f"{codes.name}: theme(s) not in codebook {codebook.version}: {', '.join(unknown)}")
    try:
        model = train_model(human, codebook=codebook)
    except ValueError as exc:
        _fail(str(exc))
    path = save_model(model, out or model_path())
    if out is None or out == model_path():
        use_model(model)
    typer.echo(f"Trained on {model.n_seed} seed and {model.n_human} coded statement(s) for "
               f"{len(model.themes)} themes of codebook {model.codebook_version}; kept in {path}")


def _suggesting_codebook(shipped: bool, store: str | None) -> Any:
    """The codebook whose active themes ``sjr themes suggest`` shows, under its labels:
    ``--shipped``'s; else the store's latest (read through the governed session, audited as
    ``codebook``; a store named with --db or $SJR_DATABASE_URL that does not exist is
    refused, as ``codebook list`` refuses it); with no store at all where sjr looks by
    default (data/sjr.db) and none named, the shipped one, as suggestions always were."""
    import os

    from data_access.database import DEFAULT_URL, missing_sqlite_file

    if shipped or (store is None and not os.environ.get("SJR_DATABASE_URL")
                   and missing_sqlite_file(DEFAULT_URL) is not None):
        return _codebook(None)
    return store_codebook(store)[0]


@themes_app.command("suggest")
def suggest_command(
    text: str = typer.Argument(None, help="A judgement statement, or '-' to read one per line "
                               "from standard input (the default)."),
    as_json: bool = typer.Option(False, "--json", help='Print JSON: a list of '
                                 '{"theme", "score"} per statement.'),
    threshold: float = typer.Option(None, "--threshold", min=0.0, max=1.0,
                                    help="Show themes from this score (default: the model's)."),
    shipped: bool = typer.Option(False, "--shipped", help="The themes and labels of the "
                                 "codebook shipped with sjr (2026.1) instead of the store's."),
    store: str = _STORE,
) -> None:
    """Suggest themes for judgement statements (suggestions only: a person decides).

    Only the active themes of the store's latest codebook are suggested, under its labels
    (read through your governed session, audited): a theme it has retired is never
    suggested, even by a model trained before it was retired. --shipped, or no store where
    sjr looks for one (no --db, no SJR_DATABASE_URL, no data/sjr.db), uses the codebook
    shipped with sjr.
    """
    from sjrlib.themes.suggest import current_model, suggest_many

    codebook = _suggesting_codebook(shipped, store)  # before the model: a refusal costs nothing
    active = {t.id: t.label for t in codebook.active}
    texts = sys.stdin.read().splitlines() if text in (None, "-") else [text]
    # the model knows the themes of the codebook it was trained for (sjr themes train): those
    # this codebook does not offer now (retired, or unknown to it) are not suggested
    results = [[s for s in found if s.theme in active]
               for found in suggest_many(texts, threshold=threshold)]
    if as_json:
        typer.echo(json.dumps([[s._asdict() for s in r] for r in results]))
        return
    for i, found in enumerate(results):
        if len(results) > 1:
            typer.echo(f"[{i + 1}]")
        if not found:
            typer.echo("No theme suggested.")
        for s in found:
            typer.echo(f"{s.score:.2f}  {s.theme:22s} {active[s.theme]}")
    unknown = [theme for theme in active if theme not in current_model().themes]
    if unknown:
        typer.echo(f"Not suggested: {', '.join(unknown)} (codebook {codebook.version}), which "
                   "the model was not trained for; `sjr themes train --store` trains it on "
                   "the store's codebook and the codes people gave.")


def register(app: typer.Typer) -> None:
    app.add_typer(themes_app, name="themes")
