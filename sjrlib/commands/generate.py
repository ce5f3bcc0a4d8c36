"""``sjr generate``: write a synthetic, fictional data set as exchange-format CSV files.

``sjr generate --out DIR [--organisations N] [--years Y] [--seed S] [--start-year YYYY]`` writes
``organisations.csv``, ``deaths.csv`` and ``reviews.csv`` to DIR (created if missing), ready for
``sjr import``. The same options give the same files.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from sjrlib import io, synthetic

FILES = ("organisations.csv", "deaths.csv", "reviews.csv")
# Steps reported by synthetic.generate's progress callback, then one per file written.
_GENERATE_STEPS = 7

_console = Console(stderr=True, highlight=False)


def generate(
    out: Path = typer.Option(..., "--out", help="Folder to write the three CSV files to.",
                             file_okay=False, dir_okay=True, writable=True),
    organisations: int = typer.Option(134, "--organisations", min=1, max=274,
                                      help="Number of organisations (trusts + boards)."),
    years: int = typer.Option(5, "--years", min=1, help="Number of financial years."),
    seed: int = typer.Option(20261126, "--seed", help="Random seed; same seed, same files."),
    start_year: int = typer.Option(2021, "--start-year",
                                   help="The first financial year starts in April of this year."),
) -> None:
    """Write a synthetic, fictional data set (organisations, monthly deaths, reviews) as CSV.

    No real patient data and no real organisations: names are invented and codes use formats
    no real trust or board holds. Prints what it wrote.
    """
    started = time.perf_counter()
    columns = (TextColumn("{task.description:<24}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=_console, transient=True,
                  disable=not _console.is_terminal) as bar:
        task = bar.add_task("generating", total=_GENERATE_STEPS + len(FILES))

        def step(message: str) -> None:
            bar.update(task, description=message, advance=1)

        try:
            data = synthetic.generate(n_organisations=organisations, years=years, seed=seed,
                                      start_year=start_year, progress=step)
        except ValueError as exc:
            typer.echo(f"Cannot generate: {exc}", err=True)
            raise typer.Exit(1) from None
        out.mkdir(parents=True, exist_ok=True)
        frames = (data.organisations, data.deaths, data.reviews)
        writers = (io.write_organisations, io.write_deaths, io.write_reviews)
        for name, frame, write in zip(FILES, frames, writers, strict=True):
            bar.update(task, description=f"writing {name}", advance=1)
            write(frame, out / name)

    reviews = data.reviews
    second = int((reviews["review_stage"] == "second").sum())
    typer.echo(
        f"Wrote {out}: {len(data.organisations):,} organisations, {len(data.deaths):,} "
        f"organisation-months with {int(data.deaths['deaths_in_scope'].sum()):,} deaths, "
        f"{len(reviews):,} reviews ({len(reviews) - second:,} first-stage, {second:,} "
        f"second-stage) in {time.perf_counter() - started:.1f} s."
    )


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)
