"""Run every notebook in ``notebooks/`` under nbval, on a small demo store, as the role it is for.

Loaded only where the notebooks run (``make test``'s second pytest run)::

    python -m pytest -p nbval -p tests.notebooks.nbval_demo --nbval-lax notebooks/

Before any notebook runs, ``sjr demo-data`` builds a small synthetic store (4 organisations,
2 financial years) in a temporary folder, with its demo users. Each notebook's kernel then
starts with ``SJR_DATABASE_URL`` pointing at that store and ``SJR_USER`` set to the demo user the
notebook is for (:data:`NOTEBOOKS`), and the notebook's ``parameters`` cell gets the parameters
a real run would be given (as papermill would inject them). Kernels write their caches
(Jupyter, IPython, matplotlib) and outputs (the researcher's extract) in the temporary folder.

A notebook that is not listed in :data:`NOTEBOOKS` fails: every notebook is run as someone.
``--nbval-lax`` checks that every cell runs without an error, not what it prints.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

STORE_ENV = "SJR_NBVAL_DEMO_DIR"
"""Set by the process that built the demo store, so that xdist workers use the same one."""


@dataclass(frozen=True)
class NotebookRun:
    """Who runs a notebook and with which parameters (values: text or ``{placeholder}``)."""

    user: str
    parameters: dict[str, str] = field(default_factory=dict)


NOTEBOOKS: dict[str, NotebookRun] = {
    # The researcher quick start, as the demo researcher holding approval DEMO-RESEARCH; the
    # extract is written in the temporary folder, not beside the notebook.
    "researcher_quickstart.ipynb": NotebookRun(
        "demo-researcher", {"extract_file": "{workdir}/extract.parquet"}),
    # The reports, as the programme team, for the store's last financial year.
    "national_report.ipynb": NotebookRun("demo-programme", {"period": "{period}"}),
    "trust_report.ipynb": NotebookRun(
        "demo-programme", {"organisation_code": "{organisation}", "period": "{period}"}),
    # The dashboards' notebooks, headless (widgets built, no browser), as their users.
    "explore.ipynb": NotebookRun("demo-lead"),
    "review_entry.ipynb": NotebookRun("demo-reviewer"),
    "coding.ipynb": NotebookRun("demo-lead"),
    "calibration.ipynb": NotebookRun("demo-reviewer"),
}

_CACHE_VARS = {"JUPYTER_CONFIG_DIR": "jupyter-config", "JUPYTER_DATA_DIR": "jupyter-data",
               "JUPYTER_RUNTIME_DIR": "jupyter-runtime", "IPYTHONDIR": "ipython",
               "MPLCONFIGDIR": "matplotlib"}
_IDENTITY_VARS = ("JUPYTERHUB_USER", "SJR_USER", "SJR_DATABASE_URL", "SJR_CONFIG",
                  "SJR_DEMO_SIGN_IN")


@dataclass
class _DemoStore:
    workdir: Path
    url: str
    period: str
    organisation: str
    owner: bool  # this process built it (and removes it)


def _sjr() -> list[str]:
    script = Path(sys.executable).with_name("sjr")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sjrlib.cli"]


def _build_store(workdir: Path) -> None:
    """``sjr demo-data`` on a new SQLite store in ``workdir`` (its CSVs go there too)."""
    env = {k: v for k, v in os.environ.items() if k not in _IDENTITY_VARS}
    result = subprocess.run(
        [*_sjr(), "demo-data", "--db", f"sqlite:///{workdir / 'demo.db'}",
         "--organisations", "4", "--years", "2"],
        cwd=workdir, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise pytest.UsageError(
            f"nbval demo store: `sjr demo-data` failed in {workdir}:\n{result.stdout}"
            f"{result.stderr}")


def _describe_store(workdir: Path, owner: bool) -> _DemoStore:
    """The last whole financial year of the store and the demo lead's organisation."""
    db = workdir / "demo.db"
    with sqlite3.connect(db) as conn:
        last = conn.execute("SELECT max(death_month) FROM reviews").fetchone()[0]
        organisation = conn.execute(
            "SELECT organisation_code FROM users WHERE username = 'demo-lead'").fetchone()[0]
    year, month = int(last[:4]), int(last[5:7])
    first = year - 1 if month >= 3 else year - 2  # the last April-March year that has ended
    period = f"{first}-{(first + 1) % 100:02d}"
    return _DemoStore(workdir, f"sqlite:///{db}", period, organisation, owner)


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.hasplugin("nbval"):
        raise pytest.UsageError("tests.notebooks.nbval_demo needs nbval: add -p nbval")
    existing = os.environ.get(STORE_ENV)
    if existing:  # an xdist worker: the controller built it
        store = _describe_store(Path(existing), owner=False)
    else:
        workdir = Path(tempfile.mkdtemp(prefix="sjr-nbval-"))
        _build_store(workdir)
        store = _describe_store(workdir, owner=True)
        os.environ[STORE_ENV] = str(workdir)
    for var, sub in _CACHE_VARS.items():
        (store.workdir / sub).mkdir(exist_ok=True)
        os.environ[var] = str(store.workdir / sub)
    config.stash[_STORE] = store


def pytest_unconfigure(config: pytest.Config) -> None:
    store = config.stash.get(_STORE, None)
    if store is not None and store.owner:
        os.environ.pop(STORE_ENV, None)
        shutil.rmtree(store.workdir, ignore_errors=True)


_STORE = pytest.StashKey[_DemoStore]()


def _run_for(item: pytest.Item) -> NotebookRun | None:
    path = Path(str(item.path))
    return NOTEBOOKS.get(path.name) if path.suffix == ".ipynb" else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Inject each notebook's parameters at the end of its ``parameters`` cell."""
    store = config.stash[_STORE]
    values = {"workdir": str(store.workdir), "period": store.period,
              "organisation": store.organisation}
    for item in items:
        run = _run_for(item)
        cell = getattr(item, "cell", None)
        if run is None or cell is None or "parameters" not in cell.metadata.get("tags", []):
            continue
        lines = [f"{name} = {value.format(**values)!r}" for name, value in run.parameters.items()]
        if lines:
            cell.source = "\n".join([cell.source, "# Parameters injected by nbval_demo", *lines])


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before a notebook's kernel starts (its first cell), set who runs it and on which store."""
    path = Path(str(item.path))
    if path.suffix != ".ipynb" or getattr(item.parent, "kernel", None) is not None:
        return
    run = _run_for(item)
    if run is None:
        pytest.fail(f"{path.name}: no demo user for this notebook; add it to NOTEBOOKS in "
                    "tests/notebooks/nbval_demo.py", pytrace=False)
    store = item.config.stash[_STORE]
    for var in _IDENTITY_VARS:
        os.environ.pop(var, None)
    os.environ["SJR_DATABASE_URL"] = store.url
    os.environ["SJR_USER"] = run.user
    os.environ["SJR_CONFIG"] = str(store.workdir / "no-identity-file")


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Say how many notebooks and cells ran, and on what."""
    passed: dict[str, int] = {}
    failed: set[str] = set()
    for outcome in ("passed", "failed", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            if ".ipynb::" not in nodeid or getattr(report, "when", "call") != "call":
                continue
            notebook = nodeid.split("::")[0]
            passed.setdefault(notebook, 0)
            if outcome == "passed":
                passed[notebook] += 1
            else:
                failed.add(notebook)
    store = config.stash.get(_STORE, None)
    terminalreporter.write_line(
        f"nbval: {len(passed)} notebooks, {sum(passed.values())} cells run without error"
        f"{f', {len(failed)} notebooks failed' if failed else ''}"
        f" (demo store, period {store.period if store else '?'})")
