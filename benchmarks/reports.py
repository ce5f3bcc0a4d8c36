"""How long ``sjr report all`` takes over the demo data: a full batch, its refreshes, its floor.

Prints (wall-clock seconds) for the default demo store (about 135 organisations):

1. ``sjr report all`` with one worker per core (the batch as ``make demo`` runs it);
2. the incremental refresh (issue 16): the same command again into the same folder (a) with
   nothing changed (target: at most a fifth of (1)), (b) after new reviews at one organisation
   (target: about one trust report plus the national, not 135), and (c) with ``--force``
   (everything rendered again);
3. the floor, measured two ways: as many papermill runs of an empty parameterised notebook at
   the same parallelism, each in a fresh kernel - (a) ``papermill`` command-line runs (what a
   shell loop over trusts costs), (b) ``papermill.execute_notebook`` called in long-lived worker
   processes (the stricter floor: no process start, no papermill import per notebook);
4. ``sjr report all --jobs 1`` (sequential).

(1) and (2) are printed for the SQLite store and then for PostgreSQL: a throwaway database on
``SJR_BENCH_POSTGRES_URL`` (else the local server) filled by ``sjr demo-data``, with the demo
users as login roles and row-level security on, dropped at the end (``--skip-postgres`` for
SQLite only; ``--postgres-organisations N`` for a smaller PostgreSQL store).

Target: (1) <= 1.5 x the floor. Run: ``python benchmarks/reports.py [--db URL] [--jobs N]
[--skip-sequential] [--skip-floor] [--skip-force]``. The store is built with ``sjr demo-data``
if it is missing; a SQLite store is copied first (SQLite's backup API), so the reviews the
refresh figure adds never reach it. The machine is shared and noisy: read the ratios, not the
seconds.
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SJR = str(Path(sys.executable).with_name("sjr"))

EMPTY_NOTEBOOK = """{"cells": [
 {"cell_type": "code", "execution_count": null, "id": "p", "metadata": {"tags": ["parameters"]},
  "outputs": [], "source": ["organisation_code = ''"]},
 {"cell_type": "code", "execution_count": null, "id": "b", "metadata": {}, "outputs": [],
  "source": ["organisation_code"]}],
 "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
  "name": "python3"}, "language_info": {"name": "python"}},
 "nbformat": 4, "nbformat_minor": 5}
"""


def _children_cpu() -> float:
    """CPU seconds used so far by finished child processes (and their reaped descendants:
    workers, kernels): on a shared machine the fairer figure beside the wall-clock one."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _report_all(db: str, out: Path, jobs: int, *more: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([SJR, "report", "all", "--db", db, "--out", str(out), "--jobs",
                           str(jobs), "--quiet", *more], capture_output=True, text=True,
                          cwd=ROOT)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        print(done.stdout, done.stderr, file=sys.stderr)
        raise SystemExit(f"sjr report all failed (exit {done.returncode})")
    return seconds, done.stdout.strip().splitlines()[0]


def _copy_sqlite(url: str, folder: Path) -> str:
    """A consistent copy of a SQLite store (the online backup API): the benchmark adds reviews."""
    source = sqlite3.connect(f"file:{url[len('sqlite:///'):]}?mode=ro", uri=True)
    target_file = folder / "sjr.db"
    target = sqlite3.connect(target_file)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    os.chmod(target_file, 0o600)
    url = f"sqlite:///{target_file}"
    from data_access.store import init_db

    init_db(url)  # a store built by an older checkout is brought up to this one's schema
    return url


def _add_reviews(db: str, n: int = 3) -> str:
    """``n`` new submitted reviews at the demo lead's organisation, in its latest month with
    deaths, through the governed session (as a lead saving them would); returns the code."""
    from data_access import open_session

    with open_session("demo-lead", db, tool="benchmark") as lead:
        code = lead.organisation_codes[0]
        month = str(lead.deaths(organisation_codes=[code])["month"].max())
        for i in range(n):
            lead.save_review({
                "review_id": f"SJR-BENCH-{i}", "case_id": f"BENCH-{i}",
                "review_stage": "first", "status": "submitted", "review_date": "2026-11-02",
                "reviewer_id": "RVW-BENCH", "review_reasons": "staff_concern",
                "age_at_death": 77, "sex": "male", "death_month": month,
                "admission_type": "emergency", "score_admission": 2, "score_overall": 2,
                "comment_admission": "Synthetic benchmark review: escalation was late.",
                "comment_overall": "Synthetic benchmark review: care fell short.",
                "record_quality_score": 2, "any_problems": "yes", "problem_monitoring": "yes",
            })
    return code


def _floor(n_notebooks: int, jobs: int, workdir: Path) -> float:
    from sjrlib.report.runner import ReportJob, run_jobs

    notebook = workdir / "empty.ipynb"
    notebook.write_text(EMPTY_NOTEBOOK, encoding="utf-8")
    batch = [ReportJob(f"n{i}", notebook, {"organisation_code": f"X{i:02d}"},
                       workdir / "floor" / f"n{i}.html", title="floor")
             for i in range(n_notebooks)]
    started = time.perf_counter()
    results = run_jobs(batch, workers=jobs, warm=False, progress=False)
    seconds = time.perf_counter() - started
    failed = [r for r in results if not r.ok]
    if failed:
        raise SystemExit(f"floor run failed: {failed[0].error}")
    return seconds


def _floor_cli(n_notebooks: int, jobs: int, workdir: Path) -> float:
    from concurrent.futures import ThreadPoolExecutor

    notebook = workdir / "empty.ipynb"
    notebook.write_text(EMPTY_NOTEBOOK, encoding="utf-8")
    papermill = str(Path(sys.executable).with_name("papermill"))

    def one(i: int) -> int:
        return subprocess.run([papermill, "--no-progress-bar", str(notebook),
                               str(workdir / f"cli{i}.ipynb"), "-p", "organisation_code",
                               f"X{i:02d}"], capture_output=True).returncode

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        codes = list(pool.map(one, range(n_notebooks)))
    seconds = time.perf_counter() - started
    if any(codes):
        raise SystemExit("a papermill command-line run failed")
    return seconds


def _refresh_figures(db: str, jobs: int, label: str, *, skip_force: bool
                     ) -> tuple[float, float, int]:
    """The full batch and its incremental refreshes on one store: the batch's wall and CPU
    seconds and its number of reports."""
    from data_access import open_session

    with open_session(db=db, tool="benchmark") as session:
        n_orgs = len(session.organisations())
    n_reports = n_orgs + 1
    with tempfile.TemporaryDirectory(prefix="sjr-bench-out-") as tmp:
        out = Path(tmp) / "parallel"
        cpu0 = _children_cpu()
        batch, summary = _report_all(db, out, jobs)
        cpu1 = _children_cpu()
        print(f"{label}: {n_reports} reports ({n_orgs} organisations + national), {jobs} "
              f"workers; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
              flush=True)
        print(f"  sjr report all (parallel)             {batch:7.1f} s wall "
              f"{cpu1 - cpu0:7.1f} s CPU   ({summary})", flush=True)
        unchanged, summary = _report_all(db, out, jobs)
        print(f"  refresh, nothing changed              {unchanged:7.1f} s wall   "
              f"{unchanged / batch:.3f} of the full batch (target <= 0.200)   ({summary})",
              flush=True)
        code = _add_reviews(db)
        one, summary = _report_all(db, out, jobs)
        print(f"  refresh, new reviews at {code:<14}{one:7.1f} s wall   "
              f"{one / batch:.3f} of the full batch (target: about 2 of {n_reports} reports "
              f"= {2 / n_reports:.3f} plus the fixed cost above)   ({summary})", flush=True)
        if not skip_force:
            forced, summary = _report_all(db, out, jobs, "--force")
            print(f"  refresh --force (everything again)    {forced:7.1f} s wall   "
                  f"{forced / batch:.2f} x the full batch   ({summary})", flush=True)
        print(f"  load average now {os.getloadavg()[0]:.1f}", flush=True)
    return batch, cpu1 - cpu0, n_reports


def _postgres_figures(admin_url: str, organisations: int | None, jobs: int,
                      skip_force: bool) -> None:
    """The same refresh figures on a throwaway PostgreSQL database filled by ``sjr demo-data``
    (the demo users as PostgreSQL login roles, row-level security on), dropped afterwards."""
    from load import create_database, drop_database

    try:
        url = create_database(admin_url)
    except Exception as exc:  # noqa: BLE001 - no server: say so, the SQLite figures stand
        print(f"PostgreSQL: not measured ({type(exc).__name__}: "
              f"{str(exc).splitlines()[0]})")
        return
    try:
        started = time.perf_counter()
        more = ["--organisations", str(organisations)] if organisations else []
        with tempfile.TemporaryDirectory(prefix="sjr-bench-pg-") as work:
            subprocess.run([SJR, "demo-data", "--db", url, *more], check=True, cwd=work,
                           capture_output=True,
                           env={k: v for k, v in os.environ.items() if k != "SJR_USER"})
        print(f"PostgreSQL demo store (throwaway database) filled in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
        _refresh_figures(url, jobs, "PostgreSQL", skip_force=skip_force)
    finally:
        drop_database(admin_url, url)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=os.environ.get("SJR_DATABASE_URL",
                                                       f"sqlite:///{ROOT / 'data' / 'sjr.db'}"))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--skip-sequential", action="store_true")
    parser.add_argument("--skip-floor", action="store_true")
    parser.add_argument("--skip-force", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true",
                        help="only the SQLite figures")
    parser.add_argument("--postgres-organisations", type=int, default=None,
                        help="organisations in the PostgreSQL demo store (default: the "
                             "generator's national set, as the SQLite demo store)")
    args = parser.parse_args()

    if args.db.startswith("sqlite:///") and not Path(args.db[len("sqlite:///"):]).exists():
        Path(args.db[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        print("building the demo store (sjr demo-data) ...", flush=True)
        subprocess.run([SJR, "demo-data", "--db", args.db], check=True, cwd=ROOT)

    # reports run as the person who starts them: the demo store's programme-team user unless
    # SJR_USER names another (the `sjr report` children inherit it)
    os.environ.setdefault("SJR_USER", "demo-programme")
    engine = "SQLite" if args.db.startswith("sqlite") else "PostgreSQL (--db)"
    with tempfile.TemporaryDirectory(prefix="sjr-bench-") as tmp:
        tmp = Path(tmp)
        db = _copy_sqlite(args.db, tmp) if args.db.startswith("sqlite:///") else args.db
        batch, batch_cpu, n_reports = _refresh_figures(db, args.jobs, engine,
                                                       skip_force=args.skip_force)

        if not args.skip_floor:
            cpu2 = _children_cpu()
            floor = _floor(n_reports, args.jobs, tmp)
            cpu3 = _children_cpu()
            floor_cli = _floor_cli(n_reports, args.jobs, tmp)
            cpu4 = _children_cpu()
            floor_cpu, cli_cpu = cpu3 - cpu2, cpu4 - cpu3
            print(f"  floor (a): {n_reports} papermill CLI runs     {floor_cli:7.1f} s wall "
                  f"{cli_cpu:7.1f} s CPU   ratio {batch / floor_cli:.2f}x wall, "
                  f"{batch_cpu / cli_cpu:.2f}x CPU (target <= 1.50)")
            print(f"  floor (b): {n_reports} execute_notebook runs  {floor:7.1f} s wall "
                  f"{floor_cpu:7.1f} s CPU   ratio {batch / floor:.2f}x wall, "
                  f"{batch_cpu / floor_cpu:.2f}x CPU (target <= 1.50)")
        if not args.skip_sequential:
            sequential, _ = _report_all(db, tmp / "sequential", 1)
            print(f"  sjr report all --jobs 1               {sequential:7.1f} s wall   "
                  f"(parallel speed-up {sequential / batch:.2f}x)")
    if not args.skip_postgres and not args.db.startswith("postgresql"):
        _postgres_figures(os.environ.get("SJR_BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
                          args.postgres_organisations, args.jobs, args.skip_force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
