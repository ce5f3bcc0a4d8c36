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
3. Refresh: only the reports whose inputs changed since the last run into the same folder are
   rendered (:mod:`sjrlib.report.manifest`: each report is keyed on the snapshot of the rows it
   reads, its parameters and the code; a report whose file was deleted or altered is rendered
   again); the others are kept. ``force=True`` (``--force``) renders everything. The batch
   audits what it read (the governed session) and, before anything is written, what it will
   write and keep (``report.write``: period, folder, reports rendered and kept).
4. Execution: worker processes with pre-warmed kernels (:mod:`sjrlib.report.workers`). A
   failing report is recorded and the batch goes on; the summary lists the failures and the
   command exits non-zero. An interrupted batch (Ctrl-C, SIGTERM) removes what its unfinished
   reports had written, keeps what finished, and still writes the index and the manifest.
   ``index.html`` links every report of the period and marks those missing or failed.

Outputs: ``<out>/<period>/national.html``, ``<out>/<period>/trusts/<code>.html``,
``<out>/<period>/trusts/<code>-lfd.xlsx``, ``<out>/<period>/index.html``. Executed notebooks are
not kept. A trust report of the ``organisation`` audience (exact counts, for the organisation's
own committee and board) goes to ``<out>/<period>/organisation/<code>.html`` (and its workbook
beside it), never among the public pages: ``sjr report trust CODE --audience organisation``, or
``sjr report all --organisation-reports`` for every organisation besides the public ones.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sjrlib.report.failures import failure_line
from sjrlib.report.learning import read_learning, write_learning_slices
from sjrlib.report.params import (
    INTERNAL_NOTICE,
    OPTION_NAMES,
    NationalParameters,
    ParameterError,
    TrustParameters,
    check_audience,
    check_organisation,
    latest_financial_year,
    load_parameters,
    parse_period,
)
from sjrlib.report.workers import (
    INTERRUPTED,
    NOT_RUN,
    BatchInterrupted,
    JobResult,
    ReportJob,
    run_jobs,
    terminate_as_exit,
    uninterrupted,
)

__all__ = [
    "BatchInterrupted",
    "BatchResult",
    "EmptyPeriod",
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


class EmptyPeriod(ValueError):
    """The period asked for holds no death and no review in the store (as far as the person
    running the batch may see): nothing is written. The message names the periods it holds."""


def _financial_year(month: str) -> str:
    first = int(month[:4]) - (1 if int(month[5:7]) <= 3 else 0)
    return f"{first}-{(first + 1) % 100:02d}"


def _months_in(frame, column: str, start: str, end: str) -> bool:
    if frame is None or column not in getattr(frame, "columns", ()) or len(frame) == 0:
        return False
    months = frame[column].dropna().astype(str).str[:7]
    return bool(((months >= start) & (months <= end)).any())


def _check_period_has_data(session, period, reviews, deaths, drafts) -> None:
    """Raise :class:`EmptyPeriod` when the store (within the caller's scope) holds no death
    and no review, of any status, in ``period``.

    The batch's own rows are looked at first (they cover the period for every organisation
    of a national or ``all`` batch); only when they have nothing is the whole store read: the
    deaths (monthly counts) and the death month of every review, to say which periods it
    holds. An organisation without rows in a period that others have is not refused here (its
    report says it has none)."""
    start, end = period.start_month, period.end_month
    if (_months_in(deaths, "month", start, end)
            or _months_in(reviews, "death_month", start, end)
            or _months_in(drafts, "death_month", start, end)):
        return
    every_death = session.deaths()
    every_review = session.reviews(columns=["organisation_code", "death_month"])
    if (_months_in(every_death, "month", start, end)
            or _months_in(every_review, "death_month", start, end)):
        return
    months = sorted({str(m)[:7] for m in every_death["month"].dropna()}
                    | {str(m)[:7] for m in every_review["death_month"].dropna()})
    years = sorted({_financial_year(m) for m in months if len(m) == 7 and m[4] == "-"})
    if not years:
        held = "it holds no deaths or reviews at all"
    elif len(years) <= 6:
        held = f"it holds {', '.join(years)}"
    else:
        held = f"it holds {years[0]} to {years[-1]} ({len(years)} financial years)"
    raise EmptyPeriod(f"no deaths and no reviews in the store for {period.label} "
                      f"({start} to {end}); {held}")


@dataclass
class BatchResult:
    """The outcome of :func:`run_reports`."""

    period_label: str
    out_dir: Path
    results: list[JobResult] = field(default_factory=list)
    index: Path | None = None
    seconds: float = 0.0
    interrupted: str | None = None
    """``"SIGINT"`` or ``"SIGTERM"`` when the batch was stopped (what finished is kept, what
    had started is removed); None when it ran to the end."""
    problems: list[str] = field(default_factory=list)
    """What could not be written besides the reports (the index, the manifest): each a
    sentence. The batch then exits non-zero."""
    notes: list[str] = field(default_factory=list)
    """Worth saying, changes no outcome (e.g. an unreadable manifest set aside)."""
    pages: dict[str, Path] = field(default_factory=dict)
    """Each report's page, by report name."""

    @property
    def failed(self) -> list[JobResult]:
        return [r for r in self.results if not r.ok]

    @property
    def kept(self) -> list[JobResult]:
        """Reports unchanged since the last run into this folder, not rendered again."""
        return [r for r in self.results if r.ok and r.kept]

    @property
    def rendered(self) -> list[JobResult]:
        return [r for r in self.results if r.ok and not r.kept]


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


@dataclass
class _Collaborative:
    """One group's collaborative report, planned: what it reads, its key, whether it is kept."""

    name: str
    group: Any
    path: Path
    key: str = ""
    snapshot: str = ""
    rows: int = 0
    current: bool = False
    error: str | None = None
    params: Any = None
    mine: Any = None
    ours: Any = None


def _plan_collaboratives(groups, reviews, deaths, names, period, trust_raw, period_values,
                         known, out_dir: Path, url: str, refresh: _Refresh
                         ) -> list[_Collaborative]:
    """Each group's report: its rows, parameters and key (no kernel: a table or two, from the
    batch's data)."""
    from sjrlib.report.data import snapshot_hash

    planned = []
    for group in groups:
        item = _Collaborative(f"collaborative {group.ident}", group,
                              out_dir / "collaborative" / f"{group.ident}.html")
        planned.append(item)
        try:
            values = {**trust_raw, **period_values, "audience": "collaborative",
                      "organisation_code": group.members[0], "db": url}
            item.params = load_parameters(values, known_organisations=known)
            item.mine = reviews["organisation_code"].astype(str).isin(group.members).fillna(False)
            item.ours = deaths["organisation_code"].astype(str).isin(group.members)
            item.snapshot = snapshot_hash(reviews[item.mine], deaths[item.ours])
            item.rows = int(item.mine.sum() + item.ours.sum())
        except Exception as exc:  # one group failing must not stop the batch
            item.error = failure_line(exc)
            continue
        item.key = refresh.key(
            item.name, {k: v for k, v in values.items() if k != "user"}, item.snapshot,
            organisations=[refresh.organisation_rows.get(c, "") for c in group.members],
            outputs=(item.path,), group=dataclasses.asdict(group),
            names=[names.get(c, c) for c in group.members])
        item.current = refresh.is_current(item.name, item.key, (item.path,))
    return planned


def _write_collaborative(item: _Collaborative, reviews, deaths, names, period, url: str,
                         manifest) -> JobResult:
    from sjrlib.report.collaborative import write_collaborative_report
    from sjrlib.report.stamp import Stamp, store_is_synthetic

    started = time.perf_counter()
    if item.error is not None:
        return JobResult(item.name, False, 0.0, item.error)
    if item.current:
        return JobResult(item.name, True, 0.0, kept=True)
    manifest.forget(item.name)
    group = item.group
    try:
        stamp = Stamp({"collaborative": group.ident, "members": ", ".join(group.members),
                       "agreed_from": group.agreed_from, "period": period.label,
                       "audience": "collaborative", "db": url}, item.snapshot, item.rows)
        write_collaborative_report(
            group, reviews[item.mine], deaths[item.ours], names, period,
            item.params.disclosure_rule(), item.path, stamp=stamp,
            synthetic=store_is_synthetic(url))
    except Exception as exc:  # one group failing must not stop the batch
        return JobResult(item.name, False, time.perf_counter() - started, failure_line(exc))
    manifest.record(item.name, item.key, item.snapshot, (item.path,))
    return JobResult(item.name, True, time.perf_counter() - started)


def _error_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


# --------------------------------------------------------------------------- refresh ----
class _Refresh:
    """What the reports of one output folder are made from, and which are still current."""

    def __init__(self, out_dir: Path, organisations, force: bool) -> None:
        from sjrlib.report.manifest import Manifest, organisation_rows
        from sjrlib.report.stamp import code_version

        self.out_dir = out_dir
        self.force = force
        self.manifest = Manifest.load(out_dir)
        self.code = code_version()
        self.organisation_rows = organisation_rows(organisations)
        self._notebooks: dict[Path, str] = {}

    def notebook(self, path: Path) -> str:
        if path not in self._notebooks:
            self._notebooks[path] = hashlib.sha256(path.read_bytes()).hexdigest()
        return self._notebooks[path]

    def _relative(self, value: Any) -> Any:
        """A path inside the output folder, relative to it: moving the folder changes nothing."""
        if isinstance(value, str) and value.startswith(str(self.out_dir) + os.sep):
            return os.path.relpath(value, self.out_dir)
        return value

    def key(self, name: str, parameters: dict[str, Any], snapshot: str, *,
            organisations: Any, outputs: Sequence[Path], **more: Any) -> str:
        from sjrlib.report.manifest import report_key

        return report_key(
            name=name, snapshot=snapshot, organisations=organisations, code=self.code,
            parameters={k: self._relative(v) for k, v in parameters.items()
                        if k not in _NOT_IN_KEY},
            outputs=[self._relative(str(p)) for p in outputs], **more)

    def job_key(self, job: ReportJob, snapshot: str, organisations: Any) -> str:
        return self.key(job.name, job.parameters, snapshot, organisations=organisations,
                        outputs=(*job.outputs, *job.state_files), title=job.title,
                        kicker=job.kicker, notice=job.notice,
                        notebook=self.notebook(job.notebook))

    def is_current(self, name: str, key: str, outputs: Sequence[Path]) -> bool:
        return not self.force and self.manifest.is_current(name, key, outputs)


_NOT_IN_KEY = frozenset({"data_file", "user"})
"""Parameters that change no figure: the batch's temporary slice, and who ran it."""


# ------------------------------------------------------------------------ planning ----
@contextlib.contextmanager
def _removing(directory: Path):
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


_INTERNAL_PARAMETERS = ("data_file", "lfd_workbook", "published_history")
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
    force: bool = False,
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
    force
        Render every report, even those unchanged since the last run into ``out`` (by
        default only the reports whose data, parameters or code changed are rendered, and any
        whose file was deleted or altered: :mod:`sjrlib.report.manifest`).

    Returns
    -------
    BatchResult
        Also when the batch was interrupted (:attr:`BatchResult.interrupted`): what finished
        is kept and indexed, what had started is removed.

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
    from sjrlib.report.completeness import read_draft_cases

    started = time.perf_counter()
    if what not in ("national", "trust", "all"):
        raise ParameterError(f"unknown report {what!r}: use national, trust CODE or all")
    if what == "trust" and not codes:
        raise ParameterError("name the organisation: sjr report trust CODE")
    check_audience(audience)  # the option's own words, before the files are read
    overrides: dict[str, Any] = {"db": db}
    if period or start_month or end_month:
        # a clear error now, in the command line's words (--start-month, not start_month)
        parse_period(period, start_month, end_month, names=OPTION_NAMES)
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
            username, role = session.user, session.role
            if what == "trust":  # "xa2" for a lead's own XA2: a typo, not another's report
                own = session.organisation_codes or ()
                for code in codes:
                    same = [o for o in own if o.casefold() == code.casefold() and o != code]
                    if same and code not in own:
                        raise ParameterError(f"sjr report trust: unknown organisation {code!r}; "
                                             f"did you mean {same[0]}?")
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
            read_at = report_data.now_utc()
            reviews, deaths, _ = report_data.read_window(
                session, start, the_period.end_month, None if what != "trust" else selected
            )
            learning = read_learning(session, None if what != "trust" else selected)
            drafts = read_draft_cases(session, start, the_period.end_month,
                                      None if what != "trust" else selected, reviews)
            _check_period_has_data(session, the_period, reviews, deaths, drafts)

        out_dir = absolute_path(out) / the_period.label
        # one period for the whole batch, passed explicitly to every notebook
        if "_to_" in the_period.label:
            period_values = {"period": None, "start_month": the_period.start_month,
                             "end_month": the_period.end_month}
        else:
            period_values = {"period": the_period.label, "start_month": None, "end_month": None}
        names = dict(zip(organisations["organisation_code"].astype(str),
                         organisations["name"].astype(str), strict=True))
        jobs = _plan_jobs(what, selected, national, trust_raw, period_values, the_period,
                          notebooks, out_dir, url, username, known, names, organisation_reports)
        refresh = _Refresh(out_dir, organisations, force)
        # the reports show theme codes and actions too (issue 13): a change there re-renders
        frames = [reviews, deaths] + ([] if drafts is None else [drafts])
        to_run, kept = _decide(jobs, refresh, frames, selected,
                               more=[learning.theme_codes, learning.actions],
                               codebook=learning.codebook.version)
        collab = _plan_collaboratives(groups, reviews, deaths, names, the_period, trust_raw,
                                      period_values, known, out_dir, url, refresh)
        # before anything is written: who writes which reports where, which are kept
        _audit_writes(engine, username, role, the_period.label, out_dir, force,
                      [j.name for j, _ in to_run] + [c.name for c in collab if not c.current],
                      [j.name for j in kept] + [c.name for c in collab if c.current])
    finally:
        engine.dispose()

    batch = BatchResult(the_period.label, out_dir)
    batch.pages = {job.name: job.html for job in jobs}
    batch.pages.update((item.name, item.path) for item in collab)
    if refresh.manifest.problem:
        batch.notes.append(refresh.manifest.problem)
    results: dict[str, JobResult] = {j.name: JobResult(j.name, True, 0.0, kept=True)
                                     for j in kept}
    manifest = refresh.manifest

    def record(result: JobResult) -> None:
        job = by_name[result.name]
        if result.ok:
            manifest.record(job.name, keys[job.name], snapshots[job.name],
                            (*job.outputs, *job.state_files))
        else:
            manifest.forget(job.name)

    by_name = {job.name: job for job, _ in to_run}
    keys = {job.name: key for job, (key, _) in to_run}
    snapshots = {job.name: snap for job, (_, snap) in to_run}
    slices = Path(tempfile.mkdtemp(prefix="sjr-report-data-"))
    with terminate_as_exit(), _removing(slices):
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            runnable = []
            if to_run:
                needed = [c for c in selected if any(j.parameters.get("organisation_code") == c
                                                     for j, _ in to_run)]
                paths = report_data.write_slices(reviews, deaths, organisations, needed,
                                                 slices, drafts=drafts, read_at=read_at)
                write_learning_slices(learning, paths)  # issue 13: codes and actions
                for job, _ in to_run:
                    manifest.forget(job.name)  # until it has been written again
                    part = paths["national" if job.name == "national"
                                 else job.parameters["organisation_code"]]
                    runnable.append(dataclasses.replace(
                        job, parameters={**job.parameters, "data_file": str(part)}))
            try:
                ran = run_jobs(runnable, workers=workers, warm=warm, progress=progress,
                               on_result=record)
            except BatchInterrupted as stop:
                ran, batch.interrupted = stop.results, stop.signal_name
                for result in ran:
                    if not result.ok:
                        manifest.forget(result.name)
            results.update((r.name, r) for r in ran)
            if batch.interrupted is None:
                for item in collab:
                    results[item.name] = _write_collaborative(item, reviews, deaths, names,
                                                              the_period, url, manifest)
        except (KeyboardInterrupt, SystemExit) as stop:  # before or after the workers ran
            batch.interrupted = "SIGINT" if isinstance(stop, KeyboardInterrupt) else "SIGTERM"
    with uninterrupted():  # the index and the manifest, even after a Ctrl-C
        order = [j.name for j in jobs] + [c.name for c in collab]
        batch.results = [results.get(name) or JobResult(name, False, 0.0, NOT_RUN)
                         for name in order]
        _finish(batch, manifest, refresh.code, organisations, what, url, username)
    batch.seconds = time.perf_counter() - started
    return batch


def _plan_jobs(what, selected, national, trust_raw, period_values, the_period, notebooks,
               out_dir, url, username, known, names, organisation_reports) -> list[ReportJob]:
    """Every notebook report of the batch, as it would run (its slice filled in later)."""
    jobs: list[ReportJob] = []
    if what in ("national", "all"):
        params = national.model_copy(
            update={**period_values, "data_file": None, "db": url, "user": username}
        )
        jobs.append(ReportJob(
            "national", notebooks / "national_report.ipynb", params.notebook_parameters(),
            out_dir / "national.html",
            title=f"National report: structured judgement reviews, {the_period.label}",
        ))
    trust_file = trust_raw.pop("_file", "parameters")
    variants: list[dict[str, Any]] = [{}]
    if organisation_reports and what == "all":
        variants.append({"audience": "organisation", "disclosure_threshold": None,
                         "disclosure_rounding": None})
    for extra in variants:
        for code in selected:
            values = {**trust_raw, **extra, **period_values, "organisation_code": code,
                      "data_file": None, "user": username}
            folder = "organisation" if values.get("audience") == "organisation" \
                else "trusts"
            workbook = out_dir / folder / f"{code}-lfd.xlsx"
            values["lfd_workbook"] = str(workbook)
            # what this report published, so the next run can say what was revised
            history = out_dir / ".history" / folder / f"{code}.json"
            values["published_history"] = str(history)
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
                state_files=(history,),
            ))
    return jobs


def _decide(jobs: list[ReportJob], refresh: _Refresh, frames, selected, more=(),
            codebook: str = "") -> tuple[list[tuple[ReportJob, tuple[str, str]]],
                                         list[ReportJob]]:
    """Split the jobs into those to render (with their key and snapshot) and those kept.

    ``frames`` are what the stamp's snapshot covers (so the manifest's snapshot is the one the
    page prints); ``more`` are further frames the reports read (each with an
    ``organisation_code``), in the key too, and so is ``codebook``, the version of the store's
    codebook whose labels the reports show (a stored version never changes: importing a new
    one re-renders)."""
    from sjrlib.report.manifest import data_snapshots

    per_code, whole = data_snapshots(frames, selected)
    more_code, more_whole = data_snapshots(list(more), selected)
    every_row = hashlib.sha256("".join(sorted(refresh.organisation_rows.values())).encode())
    to_run, kept = [], []
    for job in jobs:
        if job.name == "national":
            snapshot, other = whole, more_whole
            organisations = every_row.hexdigest()
        else:
            code = job.parameters["organisation_code"]
            snapshot, other = per_code[code], more_code[code]
            organisations = refresh.organisation_rows.get(code, "")
        key = refresh.job_key(job, snapshot, {"organisations": organisations, "more": other,
                                              "codebook": codebook})
        if refresh.is_current(job.name, key, (*job.outputs, *job.state_files)):
            kept.append(job)
        else:
            to_run.append((job, (key, snapshot)))
    return to_run, kept


def _audit_writes(engine, username: str, role: str | None, period: str, out_dir: Path,
                  force: bool, render: list[str], keep: list[str]) -> None:
    """``report.write``: the reports this batch is about to write and those it keeps, before
    any is written (an entry that cannot be written stops the batch: nothing unaudited)."""
    from data_access import audit

    with engine.begin() as conn:
        audit.lock(conn)
        audit.append(conn, username=username, role=role, action="report.write",
                     scope={"period": period, "folder": str(out_dir), "force": force,
                            "render": render, "keep": keep},
                     rows=len(render), tool="report")


def _reports_without_index_rows(manifest, listed: set[str]) -> list[str]:
    """Organisations with a public report in the manifest (an entry named by its code) that
    the index would not list."""
    return sorted(name for name in manifest.entries
                  if name != "national" and " " not in name and name not in listed)


def _finish(batch: BatchResult, manifest, code, organisations, what: str, url: str,
            username: str) -> None:
    """The manifest, the trainer directory and the index, whatever happened to the reports:
    each that cannot be written is a sentence in the summary, never a traceback."""
    from sjrlib.report.render import write_index

    out_dir = batch.out_dir
    if what == "all" and batch.interrupted is None:
        # the trainer directory (issue 15), published beside the reports
        try:
            from sjrlib.report.trainers import write_trainer_directory

            write_trainer_directory(url, username, out_dir, batch.period_label)
        except Exception as exc:
            batch.problems.append(f"the trainer directory was not written ({_error_line(exc)})")
    missing = {r.name: ("not produced: the batch was interrupted"
                        if r.error in (NOT_RUN, INTERRUPTED) else "report failed in this run")
               for r in batch.results if not r.ok}
    # The index is the folder's, not the batch's: one report (a lead's ``trust CODE``, who
    # reads their own organisation only) must not rebuild it as an index of that organisation
    # alone. It lists every organisation an earlier batch listed (the manifest keeps them) and
    # keeps its rules: public pages only (trusts/); an organisation-audience report
    # (organisation/, exact counts, internal) is never linked from it.
    known_before = dict(manifest.index_rows)
    listed = manifest.index_organisations(organisations, replace=what == "all")
    unknown = _reports_without_index_rows(manifest, set(listed["organisation_code"]))
    if (what != "all" and unknown and not known_before
            and (out_dir / "index.html").exists()):
        # an older folder whose manifest has no index rows: its index (made by a batch) is
        # kept rather than replaced by one that would leave these organisations out
        manifest.index_rows = known_before
        batch.index = out_dir / "index.html"
        batch.notes.append(
            f"the index was kept as it was: it lists {len(unknown)} organisation(s) whose "
            "reports this run did not read; `sjr report all` rebuilds it")
    else:
        try:
            batch.index = write_index(out_dir, listed, batch.period_label, missing=missing)
        except OSError as exc:
            batch.problems.append(f"the index was not written ({_error_line(exc)})")
    try:
        manifest.save(code)  # with the index's organisations
    except OSError as exc:
        batch.problems.append(f"the manifest was not written ({_error_line(exc)}): the next "
                              "run renders every report again")
