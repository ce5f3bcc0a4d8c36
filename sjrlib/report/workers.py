"""Running a batch of report notebooks in worker processes, so that it finishes what it can.

``N`` worker processes (one per core by default) each start one pre-warmed kernel
(:mod:`sjrlib.report.engine`) and run their share of the notebooks through papermill, then
render each to HTML (:mod:`sjrlib.report.render`). Kernels talk over IPC sockets in a
per-worker directory and start in that directory: no TCP port races, no shared ``cwd``.

What can go wrong, and what then happens:

- **A report fails** (a cell raises, the page would hold something active, its folder cannot
  be written, its kernel dies): the report is recorded as failed with one line saying why,
  whatever it had written is removed (as far as the folder allows: a file that cannot be removed
  is named in the error), a dead kernel is restarted, and the worker goes on with the next
  report. Nothing a single report does ends its worker.
- **A worker process dies** (killed, out of memory): the report it was running is failed and
  its files removed, and a new worker takes its place while reports remain.
- **The batch is interrupted** (Ctrl-C, SIGTERM): the workers stop at once (their kernels
  killed first, so nothing more is written), the files of every report that had started but not
  finished are removed (a Learning from Deaths workbook is never left without its page), a
  report's kept history (``state_files``) is put back as it was, and :class:`BatchInterrupted`
  carries what finished. Reports that had not started are left as they were. Workers ignore
  Ctrl-C themselves: the batch decides, so no worker prints a traceback.
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sjrlib.report.failures import failure_line

__all__ = [
    "BatchInterrupted",
    "JobResult",
    "ReportJob",
    "remove_outputs",
    "run_jobs",
    "terminate_as_exit",
    "uninterrupted",
]

INTERRUPTED = "interrupted: what it had written was removed"
NOT_RUN = "not run: the batch was interrupted"


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
    """Files the notebook writes beside the page (the Learning from Deaths workbook): removed
    before it runs and whenever the report does not finish."""
    notice: str = ""
    """A banner at the top of the page (e.g. :data:`INTERNAL_NOTICE`); empty: none."""
    state_files: tuple[Path, ...] = ()
    """Files the notebook reads and rewrites (what the previous run published): put back as
    they were when the report does not finish."""

    @property
    def outputs(self) -> tuple[Path, ...]:
        return (self.html, *self.extra_outputs)


@dataclass(frozen=True)
class JobResult:
    """How one report went."""

    name: str
    ok: bool
    seconds: float
    error: str | None = None
    kept: bool = False
    """Not rendered: unchanged since the last run into the same folder (its files kept)."""


class BatchInterrupted(BaseException):  # noqa: N818 - it is an interruption, like KeyboardInterrupt
    """The batch was stopped by a signal; raised by :func:`run_jobs` after it cleaned up.

    Attributes
    ----------
    signal_name
        ``"SIGINT"`` (Ctrl-C) or ``"SIGTERM"``.
    results
        One per job, in the order of the jobs: the finished ones as they went, the others
        failed with ``INTERRUPTED`` (started; files removed) or ``NOT_RUN``.
    """

    def __init__(self, signal_name: str, results: list[JobResult]) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.results = results

    @property
    def exit_code(self) -> int:
        return 128 + int(getattr(signal, self.signal_name))


@dataclass(frozen=True)
class _Started:
    """A worker's note that it began a report (so an interruption knows what to remove), with
    its child processes (its kernel), to be killed if the worker itself is killed."""

    worker: int
    name: str
    children: tuple[tuple[int, float], ...] = ()


# ------------------------------------------------------------------------ signals ----
@contextlib.contextmanager
def terminate_as_exit():
    """Turn SIGTERM into ``SystemExit`` while a batch runs, so ``finally`` blocks still delete
    the private data slices and stop the workers. Workers set their own handlers."""
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


@contextlib.contextmanager
def uninterrupted():
    """Ignore Ctrl-C and SIGTERM while the batch cleans up: a second Ctrl-C must not leave the
    cleanup half done."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _children() -> tuple[tuple[int, float], ...]:
    """This process's descendants as (pid, start time): a pid alone may be reused."""
    import psutil

    found = []
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                found.append((child.pid, child.create_time()))
    return tuple(found)


def _kill(processes: Sequence[tuple[int, float]], timeout: float = 5.0) -> None:
    """SIGKILL the processes that are still the ones noted (same pid, same start time)."""
    import psutil

    alive = []
    for pid, started in processes:
        with contextlib.suppress(psutil.Error):
            process = psutil.Process(pid)
            if process.create_time() == started:
                process.kill()
                alive.append(process)
    psutil.wait_procs(alive, timeout=timeout)


def _kill_descendants(pid: int | None = None, timeout: float = 5.0) -> None:
    """SIGKILL every process below ``pid`` (default: this one), and wait for them."""
    import psutil

    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(children, timeout=timeout)


def _stop_worker(signum, frame) -> None:  # pragma: no cover - runs in a worker being stopped
    """A worker's SIGTERM: kill its kernels (so they write nothing more), then leave at once.

    No Python clean-up runs: unwinding through the kernel client's asyncio loop is what printed
    pages of asyncio errors on Ctrl-C. The batch removes what the unfinished report wrote."""
    with contextlib.suppress(BaseException):
        _kill_descendants()
    os._exit(128 + signum)


# ------------------------------------------------------------------------ one report ----
def remove_outputs(paths: Sequence[Path]) -> list[str]:
    """Remove ``paths`` and any half-written ``.<name>.<pid>.part`` beside them
    (:mod:`sjrlib.report.private_files`); return a line for each that could not be removed."""
    left = []
    for path in paths:
        try:
            candidates = [path, *path.parent.glob(f".{path.name}.*.part")]
        except OSError:
            candidates = [path]
        for candidate in candidates:
            try:
                candidate.unlink(missing_ok=True)
            except OSError as exc:
                left.append(f"{candidate.name} ({exc.strerror})")
    return left


def _execute(job: ReportJob, engine_name: str | None) -> None:
    import papermill

    from sjrlib.report.render import write_html

    for stale in job.outputs:
        stale.unlink(missing_ok=True)
    nb = papermill.execute_notebook(
        str(job.notebook), None, parameters=job.parameters, engine_name=engine_name,
        kernel_name="python3", progress_bar=False, log_output=False,
        request_save_on_cell_execute=False,
    )
    write_html(nb, job.html, title=job.title, kicker=job.kicker, notice=job.notice)


def _run_one(job: ReportJob, kernel) -> JobResult:
    """Run one report; never raises for anything the report does."""
    from sjrlib.report.engine import ENGINE_NAME

    started = time.perf_counter()
    try:
        _execute(job, ENGINE_NAME)
    except Exception as exc:  # one report failing must not stop the batch
        error = failure_line(exc, job.notebook)
        left = remove_outputs(job.outputs)
        if left:
            error += f"; could not remove {', '.join(left)}"
        if kernel is not None:
            try:
                if not kernel.alive():
                    kernel.stop()
                    kernel.start()
            except Exception as again:  # the next report tries again
                error += f"; its kernel could not be restarted ({failure_line(again)})"
        return JobResult(job.name, False, time.perf_counter() - started, error)
    return JobResult(job.name, True, time.perf_counter() - started)


def _die_with(parent: int) -> None:
    """Linux: SIGTERM this worker when the batch process dies, even by SIGKILL, so no orphan
    worker goes on writing reports."""
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - every Linux has a C library
        return
    if os.getppid() != parent:  # the batch died before the request took effect
        os._exit(1)


def _worker(number: int, workdir: str, jobs: Any, results: Any, warm: bool,
            parent: int) -> None:
    """Worker process: one warm kernel, jobs from the queue until a ``None``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the batch's to handle
    signal.signal(signal.SIGTERM, _stop_worker)
    _die_with(parent)
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
            results.put(_Started(number, job.name, _children()))
            try:
                result = _run_one(job, kernel)
            except Exception as exc:  # pragma: no cover - _run_one catches what reports do
                result = JobResult(job.name, False, 0.0, f"internal error: {failure_line(exc)}")
            results.put(result)
    except Exception as exc:  # report the worker's failure (e.g. no kernel) instead of hanging
        results.put(JobResult(f"worker-{number}", False, 0.0,
                              f"worker failed: {failure_line(exc)}\n{traceback.format_exc()}"))
    finally:
        activate(None)
        if kernel is not None:
            with contextlib.suppress(Exception):
                kernel.stop()


# ------------------------------------------------------------------------ the batch ----
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

    Raises
    ------
    BatchInterrupted
        On Ctrl-C or SIGTERM, once the workers are stopped and the unfinished reports' files
        removed; it carries the results.
    """
    jobs = list(jobs)
    if not jobs:
        return []
    with terminate_as_exit():
        return _Batch(jobs, workers, warm, progress, on_result).run()


def _read_state(jobs: Sequence[ReportJob]) -> dict[Path, bytes | None]:
    state: dict[Path, bytes | None] = {}
    for job in jobs:
        for path in job.state_files:
            try:
                state[path] = path.read_bytes()
            except FileNotFoundError:
                state[path] = None
            except OSError:  # cannot be read: cannot be put back either; leave it alone
                pass
    return state


class _Batch:
    """One run of :func:`run_jobs`: the workers, what they started, what finished."""

    def __init__(self, jobs, workers, warm, progress, on_result) -> None:
        from tqdm import tqdm

        self.jobs = jobs
        self.by_name = {j.name: j for j in jobs}
        self.size = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
        self.warm = warm
        self.on_result = on_result
        self.bar = tqdm(total=len(jobs), desc="reports", unit="report", disable=not progress,
                        dynamic_ncols=True)
        self.done: dict[str, JobResult] = {}
        self.running: dict[int, str] = {}
        self.children: dict[int, tuple[tuple[int, float], ...]] = {}
        self.procs: dict[int, Any] = {}
        self.state = _read_state(jobs)
        self.workdir = ""
        self.ctx: Any = None
        self.job_queue: Any = None
        self.result_queue: Any = None
        self.spawned = 0

    def _spawn(self) -> None:
        number = self.spawned
        self.spawned += 1
        proc = self.ctx.Process(target=_worker, daemon=True,
                                args=(number, self.workdir, self.job_queue, self.result_queue,
                                      self.warm, os.getpid()))
        proc.start()
        self.procs[number] = proc

    def _finish(self, result: JobResult) -> None:
        job = self.by_name[result.name]
        if not result.ok:
            self._put_back(job)
        self.done[result.name] = result
        self.bar.update(1)
        if not result.ok:
            self.bar.write(f"FAILED {result.name}: {result.error}")
        if self.on_result is not None:
            self.on_result(result)

    def _put_back(self, job: ReportJob) -> list[str]:
        """A report that did not finish: its kept history as it was before it ran."""
        from sjrlib.report.private_files import write_private

        left = []
        for path in job.state_files:
            if path not in self.state:
                continue
            try:
                before = self.state[path]
                if before is None:
                    path.unlink(missing_ok=True)
                else:
                    write_private(path, before)
            except OSError as exc:
                left.append(f"{path.name} ({exc.strerror})")
        return left

    def _abandon(self, name: str, error: str) -> None:
        """A report whose worker stopped mid-way: remove what it wrote, record it failed."""
        job = self.by_name[name]
        left = remove_outputs(job.outputs) + self._put_back(job)
        if left:
            error += f"; could not remove or restore {', '.join(left)}"
        self._finish(JobResult(name, False, 0.0, error))

    def _check_workers(self) -> None:
        """Replace a worker that died; fail the report it was running."""
        for number, proc in list(self.procs.items()):
            if proc.is_alive():
                continue
            del self.procs[number]
            name = self.running.pop(number, None)
            if proc.exitcode == 0 and name is None:
                continue  # it finished its share
            how = (f"signal {-proc.exitcode}" if proc.exitcode and proc.exitcode < 0
                   else f"exit code {proc.exitcode}")
            _kill(self.children.pop(number, ()))  # its kernel, orphaned: it writes no more
            if name is not None and name not in self.done:
                self._abandon(name, f"its worker process stopped ({how})")
            if len(self.done) < len(self.jobs) and self.spawned < 3 * self.size + 3:
                self.bar.write(f"a report worker stopped ({how}); starting another")
                self._spawn()

    def _loop(self) -> None:
        self.ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        self.job_queue, self.result_queue = self.ctx.Queue(), self.ctx.Queue()
        for job in self.jobs:
            self.job_queue.put(job)
        for _ in range(3 * self.size + 3):  # one per worker, and for any replacement
            self.job_queue.put(None)
        for _ in range(self.size):
            self._spawn()
        while len(self.done) < len(self.jobs):
            try:
                message = self.result_queue.get(timeout=1)
            except queue.Empty:
                self._check_workers()
                if not self.procs:
                    break
                continue
            if isinstance(message, _Started):
                self.running[message.worker] = message.name
                self.children[message.worker] = message.children
            elif message.name in self.by_name:
                if message.name not in self.done:
                    self._finish(message)
                self.running = {w: n for w, n in self.running.items() if n != message.name}
            else:  # a worker could not start; its error goes to the summary
                self.bar.write(message.error or f"{message.name} failed")
        for proc in self.procs.values():
            proc.join(timeout=30)

    def _stop_workers(self) -> None:
        for number, proc in self.procs.items():
            if proc.is_alive():
                below = None
                with contextlib.suppress(Exception):
                    import psutil

                    below = psutil.Process(proc.pid).children(recursive=True)
                proc.terminate()  # the worker kills its kernels and leaves
                proc.join(timeout=10)
                if proc.is_alive():
                    proc.kill()
                    proc.join(timeout=5)
                for child in below or ():  # a kernel left behind by a worker that hung
                    with contextlib.suppress(Exception):
                        child.kill()
            _kill(self.children.get(number, ()), timeout=1)
        if self.job_queue is not None:
            self.job_queue.cancel_join_thread()  # jobs never taken: do not wait to flush them

    def run(self) -> list[JobResult]:
        interrupted = None
        self.workdir = tempfile.mkdtemp(prefix="sjr-report-kernels-")
        try:
            self._loop()
        except (KeyboardInterrupt, SystemExit) as stop:
            interrupted = "SIGINT" if isinstance(stop, KeyboardInterrupt) else "SIGTERM"
        finally:
            with uninterrupted():
                self._stop_workers()
                results = self._results(interrupted)
                self.bar.close()
                shutil.rmtree(self.workdir, ignore_errors=True)
        if interrupted is not None:
            raise BatchInterrupted(interrupted, results)
        return results

    def _results(self, interrupted: str | None) -> list[JobResult]:
        started = set(self.running.values())
        out = []
        for job in self.jobs:
            result = self.done.get(job.name)
            if result is None and job.name in started:
                left = remove_outputs(job.outputs) + self._put_back(job)
                error = INTERRUPTED if interrupted else "not finished: its worker stopped"
                if left:
                    error += f"; could not remove or restore {', '.join(left)}"
                result = JobResult(job.name, False, 0.0, error)
            elif result is None:
                result = JobResult(job.name, False, 0.0,
                                   NOT_RUN if interrupted else "not run: its worker stopped")
            out.append(result)
        return out
