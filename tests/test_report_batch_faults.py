"""A report batch finishes what it can (issue 17 part 5), each fault injected for real.

- a report's kernel killed mid-report (SIGKILL from inside the notebook): that report fails,
  what it wrote is removed, the kernel is restarted and the next reports run;
- a worker process killed mid-report: that report fails and is cleaned up, another worker
  takes over, the batch finishes;
- Ctrl-C (SIGINT to the batch's process group) and SIGTERM in the middle of a report: the
  workers and their kernels stop, the unfinished report's files are removed (its workbook too,
  written before its page), its kept history is put back, what finished stays, and no traceback
  or asyncio noise is printed;
- a read-only output folder (chmod; as root the batch runs without CAP_DAC_OVERRIDE through
  ``setpriv``, so the permission bits bind): every report that cannot be written fails with one
  line, no worker dies, the summary and (where the folder allows) the index are still written;
- ``sjr report all`` interrupted by Ctrl-C: exit 130, a summary of what ran, every trust either
  with its page and workbook or with neither.

The notebooks here are tiny and real (a parameters cell and one cell that writes files, sleeps
or kills its own kernel); the last two tests run the real batch on the small report store.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import report_store
from report_store import PERIOD

pytestmark = pytest.mark.slow

SJR = Path(sys.executable).with_name("sjr")
NOISE = ("Traceback", "asyncio", "Task was destroyed", "Exception ignored", "Future exception",
         "KeyboardInterrupt")

WORK = """
import os, signal, time
from pathlib import Path
Path(pidfile).write_text(f"{os.getpid()} {os.getppid()}")
if history:
    Path(history).write_text("rewritten by an unfinished run")
if book:
    Path(book).write_bytes(b"workbook")
if kill_kernel:
    os.kill(os.getpid(), signal.SIGKILL)
time.sleep(pause)
"""


def _notebook(path: Path) -> Path:
    cells = [
        {"cell_type": "code", "execution_count": None, "id": "p",
         "metadata": {"tags": ["parameters"]}, "outputs": [],
         "source": "pidfile = ''\nbook = ''\nhistory = ''\npause = 0\nkill_kernel = False"},
        {"cell_type": "code", "execution_count": None, "id": "w", "metadata": {},
         "outputs": [], "source": WORK},
    ]
    path.write_text(json.dumps({
        "cells": cells, "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"},
                     "language_info": {"name": "python"}}}))
    return path


def _job(tmp: Path, name: str, notebook: Path, *, pause: float = 0, kill_kernel: bool = False,
         history: bool = False):
    from sjrlib.report.workers import ReportJob

    book = tmp / f"{name}-lfd.xlsx"
    kept = tmp / f"{name}-published.json"
    return ReportJob(
        name, notebook,
        {"pidfile": str(tmp / f"{name}.pid"), "book": str(book), "pause": pause,
         "kill_kernel": kill_kernel, "history": str(kept) if history else ""},
        tmp / f"{name}.html", title=name, extra_outputs=(book,),
        state_files=(kept,) if history else ())


def _wait_for(path: Path, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.1)


def _pids(path: Path) -> tuple[int, int]:
    _wait_for(path)
    for _ in range(100):
        text = path.read_text().split()
        if len(text) == 2:
            return int(text[0]), int(text[1])
        time.sleep(0.05)
    raise AssertionError(f"{path} incomplete")


def _gone(pid: int, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def test_a_killed_kernel_fails_only_its_report(tmp_path):
    from sjrlib.report.workers import run_jobs

    notebook = _notebook(tmp_path / "work.ipynb")
    jobs = [_job(tmp_path, "first", notebook),
            _job(tmp_path, "killed", notebook, kill_kernel=True),
            _job(tmp_path, "after", notebook)]
    results = run_jobs(jobs, workers=1, progress=False)
    assert [r.ok for r in results] == [True, False, True], results
    assert "kernel" in results[1].error.lower() or "Dead" in results[1].error, results[1].error
    assert not (tmp_path / "killed-lfd.xlsx").exists(), "a workbook without its page"
    assert not (tmp_path / "killed.html").exists()
    for name in ("first", "after"):
        assert (tmp_path / f"{name}.html").exists() and (tmp_path / f"{name}-lfd.xlsx").exists()
    # the same worker went on, in a new kernel
    assert _pids(tmp_path / "first.pid")[1] == _pids(tmp_path / "after.pid")[1]
    assert _pids(tmp_path / "first.pid")[0] != _pids(tmp_path / "after.pid")[0]


def test_a_killed_worker_is_replaced_and_its_report_cleaned_up(tmp_path):
    from sjrlib.report.workers import run_jobs

    notebook = _notebook(tmp_path / "work.ipynb")
    (tmp_path / "slow-published.json").write_text("as published before")
    jobs = [_job(tmp_path, "slow", notebook, pause=300, history=True),
            _job(tmp_path, "after", notebook)]

    def kill_the_worker() -> None:
        _wait_for(tmp_path / "slow-lfd.xlsx")
        _, worker = _pids(tmp_path / "slow.pid")
        os.kill(worker, signal.SIGKILL)

    killer = threading.Thread(target=kill_the_worker, daemon=True)
    killer.start()
    started = time.monotonic()
    results = run_jobs(jobs, workers=1, progress=False)
    killer.join(timeout=5)
    assert time.monotonic() - started < 200, "the batch waited for the killed report"
    assert [r.ok for r in results] == [False, True], results
    assert "its worker process stopped (signal 9)" in results[0].error
    assert not (tmp_path / "slow-lfd.xlsx").exists()
    assert (tmp_path / "slow-published.json").read_text() == "as published before"
    assert (tmp_path / "after.html").exists()
    kernel, _ = _pids(tmp_path / "slow.pid")
    assert _gone(kernel), "the killed worker's kernel is left running"


def _ctrl_c_as_in_a_terminal() -> None:
    """The batch's Ctrl-C as a person at a terminal has it: a test run started in the
    background by a non-interactive shell (``make test &``) ignores SIGINT, and every process
    it starts inherits that, so the batch would never see the Ctrl-C these tests send."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


RUN_JOBS = """
import json, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_report_batch_faults import _job, _notebook
from sjrlib.report.workers import BatchInterrupted, run_jobs

tmp = Path(sys.argv[1])
notebook = _notebook(tmp / "work.ipynb")
jobs = [_job(tmp, "done", notebook), _job(tmp, "slow", notebook, pause=300, history=True),
        _job(tmp, "later", notebook)]
try:
    run_jobs(jobs, workers=1, progress=False)
except BatchInterrupted as stop:
    print(json.dumps({{"signal": stop.signal_name,
                      "results": [[r.name, r.ok, r.error] for r in stop.results]}}))
    sys.exit(stop.exit_code)
print("not interrupted")
"""


@pytest.mark.parametrize("how", ["SIGINT to the group (Ctrl-C)", "SIGTERM"])
def test_an_interrupted_batch_removes_what_it_did_not_finish(tmp_path, how):
    from sjrlib.report.workers import INTERRUPTED, NOT_RUN

    (tmp_path / "slow-published.json").write_text("as published before")
    script = tmp_path / "batch.py"
    script.write_text(RUN_JOBS.format(tests=str(Path(__file__).parent)))
    process = subprocess.Popen([sys.executable, str(script), str(tmp_path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True, preexec_fn=_ctrl_c_as_in_a_terminal)
    try:
        _wait_for(tmp_path / "slow-lfd.xlsx")  # its workbook is written, its page is not
        kernel, worker = _pids(tmp_path / "slow.pid")
        assert (tmp_path / "slow-published.json").read_text() == \
            "rewritten by an unfinished run"
        if how == "SIGTERM":
            process.send_signal(signal.SIGTERM)
        else:
            os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == (143 if how == "SIGTERM" else 130), out + err
    for noise in NOISE:
        assert noise not in err, err
    report = json.loads(out.strip().splitlines()[-1])
    assert report["signal"] == ("SIGTERM" if how == "SIGTERM" else "SIGINT")
    assert report["results"] == [["done", True, None], ["slow", False, INTERRUPTED],
                                 ["later", False, NOT_RUN]]
    assert (tmp_path / "done.html").exists() and (tmp_path / "done-lfd.xlsx").exists()
    assert not (tmp_path / "slow-lfd.xlsx").exists(), "a workbook left without its report"
    assert not list(tmp_path.glob(".*.part"))
    assert (tmp_path / "slow-published.json").read_text() == "as published before"
    assert not (tmp_path / "later.pid").exists(), "a report started after the interruption"
    assert _gone(kernel) and _gone(worker), "a kernel or worker outlived the batch"


# ------------------------------------------------------------- the real batch, faults ----
@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return report_store.build(tmp_path_factory.mktemp("store"))


def _env(store) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTERHUB_USER",
                                                            "SJR_DATABASE_URL")}
    env["SJR_USER"] = store.programme
    return env


def _without_root_override() -> list[str]:
    """As root, permission bits do not bind; the batch runs without the capabilities that
    override them, so a chmod means what it says."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:  # pragma: no cover - util-linux is on these machines
        pytest.skip("running as root without setpriv: a read-only folder cannot be made")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]


@pytest.fixture(scope="module")
def first_batch(store, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    done = subprocess.run([str(SJR), "report", "all", "--db", store.url, "--out", str(out),
                           "--period", PERIOD, "--jobs", "2", "--quiet"],
                          env=_env(store), capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def _copy(first_batch: Path, tmp_path: Path) -> Path:
    out = tmp_path / "reports"
    shutil.copytree(first_batch, out)
    return out


def _chmod_tree(folder: Path, mode: int) -> None:
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir():
            path.chmod(mode)


def test_a_read_only_trusts_folder_fails_its_reports_not_the_workers(store, first_batch,
                                                                     tmp_path):
    out = _copy(first_batch, tmp_path)
    trusts = out / PERIOD / "trusts"
    trusts.chmod(0o555)
    try:
        done = subprocess.run(
            [*_without_root_override(), str(SJR), "report", "all", "--db", store.url, "--out",
             str(out), "--period", PERIOD, "--jobs", "2", "--quiet", "--force"],
            env=_env(store), capture_output=True, text=True, timeout=1200)
    finally:
        trusts.chmod(0o755)
    text = done.stdout + done.stderr
    assert done.returncode == 1, text
    assert "Traceback" not in text
    assert f"{len(store.codes) + 1} reports for {PERIOD} in " in done.stdout, text
    assert f": 1 rendered, {len(store.codes)} failed." in done.stdout, text
    for code in store.codes:  # each report ran and failed on its own: no worker died
        assert (f"FAILED {code}: cannot write {trusts / code}.html: permission denied. Give "
                "the report folder write permission") in done.stderr, text
    assert "worker failed" not in text and "FAILED worker-" not in text
    index = (out / PERIOD / "index.html").read_text(encoding="utf-8")
    assert 'href="national.html"' in index
    for code in store.codes:
        assert f"({code}) (report failed in this run)" in index
        assert f'href="trusts/{code}.html"' not in index
    manifest = json.loads((out / PERIOD / "manifest.json").read_text())["reports"]
    assert set(manifest) == {"national"}, "a failed report is rendered again next time"


def test_a_read_only_output_folder_still_gives_a_summary(store, first_batch, tmp_path):
    out = _copy(first_batch, tmp_path)
    _chmod_tree(out, 0o555)
    try:
        done = subprocess.run(
            [*_without_root_override(), str(SJR), "report", "all", "--db", store.url, "--out",
             str(out), "--period", PERIOD, "--jobs", "2", "--quiet", "--force"],
            env=_env(store), capture_output=True, text=True, timeout=1200)
    finally:
        _chmod_tree(out, 0o755)
    text = done.stdout + done.stderr
    assert done.returncode == 1, text
    assert "Traceback" not in text
    assert f": 0 rendered, {len(store.codes) + 1} failed." in done.stdout, text
    summary = [line for line in done.stderr.splitlines() if line.startswith("  FAILED ")]
    assert len(summary) == len(store.codes) + 1, text
    assert "Not written: the index was not written (PermissionError" in done.stderr, text
    assert "Not written: the manifest was not written" in done.stderr, text


def test_ctrl_c_on_sjr_report_all(store, first_batch, tmp_path):
    out = _copy(first_batch, tmp_path)
    folder = out / PERIOD
    before = (folder / "national.html").stat().st_mtime_ns
    process = subprocess.Popen(
        [str(SJR), "report", "all", "--db", store.url, "--out", str(out), "--period", PERIOD,
         "--jobs", "1", "--quiet", "--force"],
        env=_env(store), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=_ctrl_c_as_in_a_terminal)
    try:
        deadline = time.monotonic() + 600
        while (folder / "national.html").stat().st_mtime_ns == before \
                if (folder / "national.html").exists() else True:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.1)
        batch = psutil.Process(process.pid).children(recursive=True)
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        stdout, stderr = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130, stdout + stderr
    for noise in NOISE:
        assert noise not in stderr, stderr
    assert "Interrupted (Ctrl-C)" in stderr, stderr
    assert f"reports for {PERIOD}" in stderr and "are complete" in stderr
    assert (folder / "index.html").exists()
    for code in store.codes:
        page, book = folder / "trusts" / f"{code}.html", folder / "trusts" / f"{code}-lfd.xlsx"
        assert page.exists() == book.exists(), f"{code}: a workbook without its page or back"
    assert not list(folder.rglob(".*.part"))
    assert all(_gone(p.pid) for p in batch), "a worker or kernel outlived the batch"
