"""The batch runner behind ``sjr report national|trust CODE|all``.

1. Parameters: ``parameters/national.yaml`` and ``parameters/trust_defaults.yaml`` (or the files
   given) are validated with the command-line values before anything runs; an unknown
   organisation is an error too.
2. Data: the period's rows (and the trend window before it) are read once through the governed
   session as the person who runs the batch (programme team for national and ``all``; the
   programme team or the organisation's lead for a trust report; anyone else is refused before
   anything runs: :mod:`sjrlib.report.access`), and cut into one slice per organisation in a
   private temporary directory (deleted at the end) that each notebook reads. Every path the
   caller gave (``--out``, parameter files, a SQLite ``--db``) is made absolute against the
   caller's working folder first, so the HTML pages and the Learning from Deaths workbooks
   land together under ``--out`` whatever the kernels' working folder.
3. Execution: ``N`` worker processes (one per core by default) each start one pre-warmed kernel
   (:mod:`sjrlib.report.engine`) and run their share of the notebooks through papermill, then
   render each to HTML (:mod:`sjrlib.report.render`). Kernels talk over IPC sockets in a
   per-worker directory and start in that directory: no TCP port races, no shared ``cwd``.
4. A failing report is recorded and the batch goes on; the summary lists the failures and the
   command exits non-zero. ``index.html`` links every report of the period.

Outputs: ``<out>/<period>/national.html``, ``<out>/<period>/trusts/<code>.html``,
``<out>/<period>/trusts/<code>-lfd.xlsx``, ``<out>/<period>/index.html``. Executed notebooks are
not kept. A trust report of the ``organisation`` audience (exact counts, for the organisation's
own committee and board) goes to ``<out>/<period>/organisation/<code>.html`` (and its workbook
beside it), never among the public pages: ``sjr report trust CODE --audience organisation``, or
``sjr report all --organisation-reports`` for every organisation besides the public ones.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import shutil
import signal
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sjrlib.report.learning import read_learning, write_learning_slices
from sjrlib.report.params import (
    INTERNAL_NOTICE,
    NationalParameters,
    ParameterError,
    TrustParameters,
    check_organisation,
    latest_financial_year,
    load_parameters,
    parse_period,
)

__all__ = [
    "BatchResult",
    "JobResult",
    "ReportJob",
    "default_notebooks",
    "run_jobs",
    "run_reports",
]

_ROOT = Path(__file__).resolve().parents[2]


def default_notebooks() -> Path:
    """The folder holding ``trust_report.ipynb`` and ``national_report.ipynb``."""
    return Path(os.environ.get("SJR_NOTEBOOKS", _ROOT / "notebooks"))


def _default_parameter_files() -> list[Path]:
    folder = Path("parameters") if Path("parameters").is_dir() else _ROOT / "parameters"
    return [p for p in (folder / "national.yaml", folder / "trust_defaults.yaml") if p.exists()]


@dataclass(frozen=True)
class ReportJob:
    """One notebook to execute and render."""

    name: str
    notebook: Path
    parameters: dict[str, Any]
    html: Path
    title: str
    kicker: str = "Structured Judgement Review programme"
    extra_outputs: tuple[Path, ...] = ()
    notice: str = ""
    """A banner at the top of the page (e.g. :data:`INTERNAL_NOTICE`); empty: none."""


@dataclass(frozen=True)
class JobResult:
    """How one report went."""

    name: str
    ok: bool
    seconds: float
    error: str | None = None


@dataclass
class BatchResult:
    """The outcome of :func:`run_reports`."""

    period_label: str
    out_dir: Path
    results: list[JobResult] = field(default_factory=list)
    index: Path | None = None
    seconds: float = 0.0

    @property
    def failed(self) -> list[JobResult]:
        return [r for r in self.results if not r.ok]


# ------------------------------------------------------------------------ execution ----
@contextlib.contextmanager
def _terminate_as_exit():
    """Turn SIGTERM into ``SystemExit`` while a batch runs, so ``finally`` blocks still delete
    the private data slices and stop the kernels (forked workers inherit the handler)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _exit(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _short_error(exc: BaseException) -> str:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}".strip()
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def _execute(job: ReportJob, engine_name: str | None) -> None:
    import papermill

    from sjrlib.report.render import write_html

    for stale in (job.html, *job.extra_outputs):
        stale.unlink(missing_ok=True)
    nb = papermill.execute_notebook(
        str(job.notebook), None, parameters=job.parameters, engine_name=engine_name,
        kernel_name="python3", progress_bar=False, log_output=False,
        request_save_on_cell_execute=False,
    )
    write_html(nb, job.html, title=job.title, kicker=job.kicker, notice=job.notice)


def _run_one(job: ReportJob, kernel) -> JobResult:
    from sjrlib.report.engine import ENGINE_NAME

    started = time.perf_counter()
    try:
        _execute(job, ENGINE_NAME)
    except Exception as exc:  # one report failing must not stop the batch
        for partial in (job.html, *job.extra_outputs):
            partial.unlink(missing_ok=True)
        if kernel is not None and not kernel.alive():
            kernel.stop()
            kernel.start()
        return JobResult(job.name, False, time.perf_counter() - started, _short_error(exc))
    return JobResult(job.name, True, time.perf_counter() - started)


def _worker(number: int, workdir: str, jobs: Any, results: Any, warm: bool) -> None:
    """Worker process: one warm kernel, jobs from the queue until a ``None``."""
    from sjrlib.report.engine import WarmKernel, activate

    kernel = None
    try:
        if warm:
            kernel = WarmKernel(Path(workdir) / f"worker-{number}").start()
            activate(kernel)
        while True:
            job = jobs.get()
            if job is None:
                break
            results.put(_run_one(job, kernel))
    except BaseException as exc:  # report the worker's death instead of hanging the batch
        results.put(JobResult(f"worker-{number}", False, 0.0,
                              f"worker failed: {_short_error(exc)}\n{traceback.format_exc()}"))
    finally:
        activate(None)
        if kernel is not None:
            kernel.stop()


def run_jobs(
    jobs: Sequence[ReportJob],
    *,
    workers: int | None = None,
    warm: bool = True,
    progress: bool = True,
    on_result: Callable[[JobResult], None] | None = None,
) -> list[JobResult]:
    """Execute and render ``jobs`` in ``workers`` processes (default: one per core).

    ``warm=False`` runs every notebook in a fresh kernel (papermill's default engine), for
    comparison. Results come back in the order of ``jobs``.
    """
    jobs = list(jobs)
    if not jobs:
        return []
    with _terminate_as_exit():
        return _run_jobs(jobs, workers, warm, progress, on_result)


def _run_jobs(jobs, workers, warm, progress, on_result) -> list[JobResult]:
    from tqdm import tqdm

    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    workdir = tempfile.mkdtemp(prefix="sjr-report-kernels-")
    bar = tqdm(total=len(jobs), desc="reports", unit="report", disable=not progress,
               dynamic_ncols=True)
    done: dict[str, JobResult] = {}
    procs: list = []
    try:
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        job_queue, result_queue = ctx.Queue(), ctx.Queue()
        for job in jobs:
            job_queue.put(job)
        for _ in range(workers):
            job_queue.put(None)
        procs = [ctx.Process(target=_worker, args=(i, workdir, job_queue, result_queue, warm),
                             daemon=True) for i in range(workers)]
        for p in procs:
            p.start()
        names = {j.name for j in jobs}
        while len(done) < len(jobs):
            try:
                result = result_queue.get(timeout=2)
            except queue.Empty:
                if not any(p.is_alive() for p in procs):
                    break
                continue
            if result.name not in names:  # a worker died; its error goes to the summary
                bar.write(result.error or f"{result.name} failed")
                continue
            done[result.name] = result
            bar.update(1)
            if not result.ok:
                bar.write(f"FAILED {result.name}: {result.error}")
            if on_result is not None:
                on_result(result)
        for p in procs:
            p.join(timeout=30)
    finally:
        for p in procs:  # only on an interruption are any still running
            if p.is_alive():
                p.terminate()
                p.join(timeout=30)
        bar.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return [done.get(j.name) or JobResult(j.name, False, 0.0, "not run: its worker stopped")
            for j in jobs]


# -------------------------------------------------------------------- collaboratives ----
def _collaboratives(path: str | Path | None, known: list[str]) -> list:
    from sjrlib.caller_paths import absolute_path
    from sjrlib.report.collaborative import load_collaboratives

    if path is None:
        folder = Path("parameters") if Path("parameters").is_dir() else _ROOT / "parameters"
        default = folder / "collaboratives.yaml"
        if not default.exists():
            return []
        path = default
    return load_collaboratives(absolute_path(path), known)


def _write_collaboratives(groups, reviews, deaths, names, period, trust_raw, period_values,
                          known, out_dir: Path, url: str) -> list[JobResult]:
    """Each group's collaborative report (no kernel: a table or two, from the batch's data)."""
    from sjrlib.report.collaborative import write_collaborative_report
    from sjrlib.report.data import snapshot_hash
    from sjrlib.report.stamp import Stamp

    results = []
    for group in groups:
        started = time.perf_counter()
        name = f"collaborative {group.ident}"
        try:
            values = {**trust_raw, **period_values, "audience": "collaborative",
                      "organisation_code": group.members[0], "db": url}
            params = load_parameters(values, known_organisations=known)
            mine = reviews["organisation_code"].astype(str).isin(group.members).fillna(False)
            ours = deaths["organisation_code"].astype(str).isin(group.members)
            stamp = Stamp({"collaborative": group.ident, "members": ", ".join(group.members),
                           "agreed_from": group.agreed_from, "period": period.label,
                           "audience": "collaborative", "db": url},
                          snapshot_hash(reviews[mine], deaths[ours]),
                          int(mine.sum() + ours.sum()))
            write_collaborative_report(
                group, reviews[mine], deaths[ours], names, period, params.disclosure_rule(),
                out_dir / "collaborative" / f"{group.ident}.html", stamp=stamp)
        except Exception as exc:  # one group failing must not stop the batch
            results.append(JobResult(name, False, time.perf_counter() - started,
                                     _short_error(exc)))
            continue
        results.append(JobResult(name, True, time.perf_counter() - started))
    return results


# ------------------------------------------------------------------------ planning ----
@contextlib.contextmanager
def _removing(directory: Path):
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


_INTERNAL_PARAMETERS = ("data_file", "lfd_workbook")
"""Set by the batch for each notebook; a parameter file that names one is refused (a slice of
the caller's choosing must not be reported as the national picture)."""


def _read_file(path: Path) -> dict[str, Any]:
    from sjrlib.yaml_files import YAMLFileError, load_yaml

    if not path.exists():
        raise ParameterError(f"{path}: parameter file not found")
    try:  # plain data only, and limits on size, nesting and aliases
        raw = load_yaml(path, what="parameter file") or {}
    except YAMLFileError as exc:
        raise ParameterError(str(exc)) from None
    if isinstance(raw, dict):
        named = [k for k in _INTERNAL_PARAMETERS if raw.get(k) is not None]
        if named:
            raise ParameterError(f"{path}: {', '.join(repr(k) for k in named)} is set by "
                                 "`sjr report` itself; remove it from the parameter file")
    return raw


def _load_all(files: Iterable[Path], overrides: dict[str, Any],
              trust_overrides: dict[str, Any]) -> tuple[NationalParameters, dict[str, Any]]:
    national: NationalParameters | None = None
    trust_raw: dict[str, Any] | None = None
    for path in files:
        raw = _read_file(path)
        kind = raw.get("report") if isinstance(raw, dict) else None
        if kind == "trust":
            both = {**overrides, **trust_overrides}
            # checked now with a placeholder code, so a typo fails before anything runs
            load_parameters(path, overrides={**both, "organisation_code": "AAA"})
            trust_raw = {**raw, **{k: v for k, v in both.items() if v is not None}}
            trust_raw["_file"] = str(path)
        else:
            national = load_parameters(path, overrides=overrides)  # type: ignore[assignment]
    if national is None:
        national = load_parameters({"report": "national"}, overrides=overrides)
    if trust_raw is None:
        trust_raw = {"report": "trust",
                     **{k: v for k, v in {**overrides, **trust_overrides}.items()
                        if v is not None}}
    return national, trust_raw


def run_reports(
    what: str,
    codes: Sequence[str] = (),
    *,
    period: str | None = None,
    start_month: str | None = None,
    end_month: str | None = None,
    db: str | None = None,
    out: str | Path = "reports",
    parameter_files: Sequence[str | Path] | None = None,
    workers: int | None = None,
    warm: bool = True,
    progress: bool = True,
    notebooks: str | Path | None = None,
    user: str | None = None,
    audience: str | None = None,
    organisation_reports: bool = False,
    collaboratives: str | Path | None = None,
) -> BatchResult:
    """Plan, check and run a batch of reports; write the index. See the module docstring.

    Parameters
    ----------
    what
        ``"national"``, ``"trust"`` (with ``codes``) or ``"all"``.
    codes
        Organisation codes for ``"trust"``.
    period, start_month, end_month
        Override the parameter files' period (financial year ``"2024-25"`` or months).
    db
        Database URL (else the files', else ``SJR_DATABASE_URL`` / the local default). A
        relative SQLite path is taken from the current working folder.
    out
        Output folder (``reports``), relative to the current working folder.
    parameter_files
        YAML files, each ``report: national`` or ``report: trust`` (defaults for every trust);
        default ``parameters/national.yaml`` and ``parameters/trust_defaults.yaml``.
    workers
        Parallel processes (default one per core).
    user
        Who runs the batch (default: the parameter files' ``user``, else the caller's identity,
        :func:`data_access.identity.resolve_username`). National and ``all``: the programme
        team; a trust report: the programme team or that organisation's lead.
    audience
        The trust reports' audience (``organisation``, ``collaborative``, ``public``), over
        the parameter files'. ``organisation`` reports are written to ``organisation/``.
    organisation_reports
        With ``"all"``: also every organisation's ``organisation``-audience report (exact
        counts) to ``organisation/<code>.html``; it doubles the batch, so it is asked for.
    collaboratives
        With ``"all"``: the groups file (:mod:`sjrlib.report.collaborative`); default
        ``parameters/collaboratives.yaml`` when it exists. Each group's report goes to
        ``collaborative/<id>.html``.

    Raises
    ------
    ParameterError
        Bad parameters or an unknown organisation: raised before any notebook runs.
    data_access.AccessDenied
        No identity, or one that may not produce these reports (audited): raised before any
        notebook runs.
    """
    from data_access import open_session
    from data_access.store import get_engine
    from sjrlib.caller_paths import absolute_database_url, absolute_path
    from sjrlib.report import data as report_data
    from sjrlib.report.access import check_report_access
    from sjrlib.report.render import write_index

    started = time.perf_counter()
    if what not in ("national", "trust", "all"):
        raise ParameterError(f"unknown report {what!r}: use national, trust CODE or all")
    if what == "trust" and not codes:
        raise ParameterError("name the organisation: sjr report trust CODE")
    overrides: dict[str, Any] = {"db": db}
    if period or start_month or end_month:
        parse_period(period, start_month, end_month)  # a clear error now
        overrides.update(period=period, start_month=start_month, end_month=end_month)
    # every path the caller gave is theirs: made absolute here, before a kernel sees it
    files = [absolute_path(f) for f in
             (_default_parameter_files() if parameter_files is None else parameter_files)]
    national, trust_raw = _load_all(files, overrides, {"audience": audience})
    notebooks = absolute_path(notebooks) if notebooks else absolute_path(default_notebooks())
    for name in ("national_report.ipynb", "trust_report.ipynb"):
        if not (notebooks / name).exists():
            raise ParameterError(f"notebook {notebooks / name} not found")
    url = absolute_database_url(national.db)
    trust_raw["db"] = absolute_database_url(trust_raw.get("db") or national.db)
    engine = get_engine(url)
    try:
        # open_session finds the caller (and audits a refusal, no identity included)
        with open_session(user=user or national.user or trust_raw.get("user"), db=engine,
                          tool="report") as session:
            username = session.user
            check_report_access(session, what, codes, engine=engine)
            organisations = session.organisations()
            known = list(organisations["organisation_code"].astype(str))
            if what == "trust":
                for code in codes:
                    check_organisation(code, known, where="sjr report trust")
            if national.period or national.start_month:
                the_period = national.resolved_period()
            else:
                months = session.deaths()["month"].dropna().astype(str)
                the_period = parse_period(latest_financial_year(months))
            trend_months = max(national.trend_months, int(trust_raw.get("trend_months", 36)))
            start = report_data.trend_start(the_period, trend_months)
            selected = known if what == "all" else list(codes) if what == "trust" else []
            groups = _collaboratives(collaboratives, known) if what == "all" else []
            reviews, deaths, _ = report_data.read_window(
                session, start, the_period.end_month, None if what != "trust" else selected
            )
            learning = read_learning(session, None if what != "trust" else selected)
    finally:
        engine.dispose()

    out_dir = absolute_path(out) / the_period.label
    slices = Path(tempfile.mkdtemp(prefix="sjr-report-data-"))
    with _terminate_as_exit(), _removing(slices):
        paths = report_data.write_slices(reviews, deaths, organisations, selected, slices)
        write_learning_slices(learning, paths)  # issue 13: codes and actions
        jobs: list[ReportJob] = []
        # one period for the whole batch, passed explicitly to every notebook
        if "_to_" in the_period.label:
            period_values = {"period": None, "start_month": the_period.start_month,
                             "end_month": the_period.end_month}
        else:
            period_values = {"period": the_period.label, "start_month": None, "end_month": None}
        if what in ("national", "all"):
            params = national.model_copy(
                update={**period_values, "data_file": str(paths["national"]), "db": url,
                        "user": username}
            )
            jobs.append(ReportJob(
                "national", notebooks / "national_report.ipynb", params.notebook_parameters(),
                out_dir / "national.html",
                title=f"National report: structured judgement reviews, {the_period.label}",
            ))
        names = dict(zip(organisations["organisation_code"].astype(str),
                         organisations["name"].astype(str), strict=True))
        trust_file = trust_raw.pop("_file", "parameters")
        variants: list[dict[str, Any]] = [{}]
        if organisation_reports and what == "all":
            variants.append({"audience": "organisation", "disclosure_threshold": None,
                             "disclosure_rounding": None})
        for extra in variants:
            for code in selected:
                values = {**trust_raw, **extra, **period_values, "organisation_code": code,
                          "data_file": str(paths[code]), "user": username}
                folder = "organisation" if values.get("audience") == "organisation" \
                    else "trusts"
                workbook = out_dir / folder / f"{code}-lfd.xlsx"
                values["lfd_workbook"] = str(workbook)
                params = load_parameters(values, known_organisations=known)
                if not isinstance(params, TrustParameters):  # pragma: no cover - schema
                    raise ParameterError(f"{trust_file}: not trust parameters")
                jobs.append(ReportJob(
                    code if folder == "trusts" else f"{code} (organisation)",
                    notebooks / "trust_report.ipynb", params.notebook_parameters(),
                    out_dir / folder / f"{code}.html",
                    title=f"{names.get(code, code)}: structured judgement reviews, "
                          f"{the_period.label}",
                    extra_outputs=(workbook,),
                    notice=INTERNAL_NOTICE if params.internal else "",
                ))
        out_dir.mkdir(parents=True, exist_ok=True)
        results = run_jobs(jobs, workers=workers, warm=warm, progress=progress)
        results += _write_collaboratives(groups, reviews, deaths, names, the_period,
                                         trust_raw, period_values, known, out_dir, url)
    if what == "all":  # the trainer directory (issue 15), published beside the reports
        from sjrlib.report.trainers import write_trainer_directory

        write_trainer_directory(url, username, out_dir, the_period.label)
    index = write_index(out_dir, organisations, the_period.label)
    return BatchResult(the_period.label, out_dir, results, index,
                       time.perf_counter() - started)
