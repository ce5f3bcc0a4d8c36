"""Benchmark: the Voila dashboards in headless Chromium, and saving reviews.

    python benchmarks/dashboards.py [--db URL] [--repeat 5] [--saves 100] [--only redraw]

Figures printed (nothing asserted):

* **time to interactive** of ``review_entry.ipynb`` and ``explore.ipynb`` beside an empty
  notebook that displays one widget, all served by one ``sjr serve`` (as ``make serve`` runs it):
  from navigation start to the dashboard's first usable widget (the submit button; the first
  chart). Median of ``--repeat`` page loads each, interleaved. Target: <= 1.5 x the empty
  notebook.
* **filter redraw** on the exploration page, for an organisation lead (one organisation, the
  common case) and the programme team (all organisations, the worst case): a filter change to
  the new chart on screen, in the browser (first time for each choice, then back to an earlier
  choice), and the same in process (``Explorer`` without a browser; the tab on screen first,
  then every tab), p50/p95 with CPU seconds beside wall seconds. Target: < 1 s.
  ``--only redraw`` runs this part alone.
* **save latency** over ``--saves`` saves of one review: the form's save (widgets -> values ->
  validation -> governed ``save_review`` -> audit) and ``Session.save_review`` alone, p50/p95.
  Target: p95 <= 100 ms.

Data: ``--db`` (e.g. ``sqlite:///data/sjr.db`` after ``make demo``), else the demo data set
(``sjrlib.synthetic.generate()``, 134 organisations, 5 years) built once into
``bench-results/dashboards-demo.db``. Benchmark users are registered in (a scratch copy of) it
if missing: ``bench_lead``, organisation lead of the organisation with most reviews,
``bench_programme`` (programme team) and ``bench_admin``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
EMPTY_NOTEBOOK = (
    "import ipywidgets\n"
    "ready = ipywidgets.Label('ready')\n"
    "ready.add_class('bench-ready')\n"
    "ready"
)
PAGES = {  # notebook -> selector of its first usable widget
    "empty.ipynb": ".bench-ready",
    "review_entry.ipynb": ".b-submit",
    "explore.ipynb": "img.c-care-scores",
}
TOKEN = secrets.token_urlsafe(32)
"""The token the servers started here ask for (``SJR_SERVE_TOKEN``, as ``sjr serve``)."""
LEAD = "bench_lead"
PROGRAMME = "bench_programme"
ROLES = {LEAD: "organisation lead", PROGRAMME: "programme team"}
CHANGES: list[tuple[str, int]] = (
    [("admission_type", i) for i in (1, 2, 3, 4, 0)]
    + [("specialty", i) for i in (1, 2, 3, 4, 5, 0)]
    + [("start_month", 0), ("start_month", -12), ("start_month", -24)]
    + [("admission_type", i) for i in (1, 2)])
"""Filter changes timed, as (filter, option index; negative from the end): each admission type,
five specialties, the whole period, the last 12 months, back to the default 24, and two
admission types again. A change to a filter state seen before (drawn from the view cache) is
timed apart from a change to a new one."""
REFILL_SECONDS = 20
"""Pause before each pre-heated page view: Voila refills a dashboard's pool (runs the notebook
again) after each view, which takes several seconds on two busy cores."""


def _demo_db() -> str:
    path = ROOT / "bench-results" / "dashboards-demo.db"
    url = f"sqlite:///{path}"
    if not path.exists():
        from sjrlib.synthetic import generate

        sys.path.insert(0, str(ROOT / "tests"))
        from dashboard_store import populate

        path.parent.mkdir(parents=True, exist_ok=True)
        print("building the demo data set once (a few minutes) ...", flush=True)
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        populate(f"sqlite:///{partial}", generate())
        partial.rename(path)
    return url


def _ensure_users(url: str) -> str:
    """Register the benchmark's lead (at the organisation with most reviews); its code."""
    from sqlalchemy import text

    from data_access.identity import add_user, get_user
    from data_access.store import get_engine

    engine = get_engine(url)
    try:
        with engine.begin() as conn:
            code = conn.execute(text(
                "SELECT organisation_code FROM reviews GROUP BY organisation_code "
                "ORDER BY count(*) DESC LIMIT 1")).scalar_one()
            if get_user(conn, LEAD) is None:
                add_user(conn, LEAD, "organisation_lead", organisation_code=code,
                         reviewer_id="BENCH-LEAD")
            if get_user(conn, PROGRAMME) is None:
                add_user(conn, PROGRAMME, "programme_team")
            if get_user(conn, "bench_admin") is None:
                add_user(conn, "bench_admin", "administrator")
    finally:
        engine.dispose()
    return code


def _notebooks(folder: Path) -> Path:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    for name in ("review_entry.ipynb", "explore.ipynb"):
        shutil.copy(ROOT / "notebooks" / name, folder / name)
    nb = new_notebook(cells=[new_code_cell(EMPTY_NOTEBOOK)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, folder / "empty.ipynb")
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(url: str, notebooks: Path, home: Path, preheat: bool, user: str = LEAD
           ) -> tuple[subprocess.Popen, int]:
    """Voila as ``sjr serve`` runs it (``sjrlib.dashboards.voila_xsrf``, asking for
    :data:`TOKEN`), with the empty notebook pre-heated like the dashboards (so the comparison
    is like for like)."""
    from sjrlib.dashboards.serve import DASHBOARDS, TOKEN_ENV, voila_argv, voila_environment

    port = _free_port()
    env = voila_environment(url)
    env.pop("JUPYTERHUB_USER", None)
    env.update(SJR_USER=user, JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_DATA_DIR=str(home / "data"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               IPYTHONDIR=str(home / "ipython"), MPLCONFIGDIR=str(home / "mpl"),
               **{TOKEN_ENV: TOKEN})
    argv = voila_argv(port=port, notebooks_dir=notebooks, preheat=preheat,
                      preheated=(*DASHBOARDS, "empty.ipynb"))
    process = subprocess.Popen(
        [sys.executable, "-m", "sjrlib.dashboards.voila_xsrf", *argv], env=env, cwd=str(notebooks),
        stdout=(home / f"voila-{user}.log").open("w"), stderr=subprocess.STDOUT,
        start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process, port
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("sjr serve did not start; see " + str(home / f"voila-{user}.log"))


def _open(browser, port: int, notebook: str) -> tuple[float, object, object]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    start = time.perf_counter()
    page.goto(f"http://127.0.0.1:{port}/voila/render/{notebook}?token={TOKEN}",
              wait_until="commit",
              timeout=180_000)
    page.wait_for_selector(PAGES[notebook], timeout=180_000)
    return time.perf_counter() - start, page, context


def _close(page, context) -> None:
    page.close(run_before_unload=True)
    context.close()


def _quantiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered), p95


def _stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def _tree_cpu(process: subprocess.Popen) -> float:
    """CPU seconds used so far by the server and its kernels."""
    import psutil

    total = 0.0
    root = psutil.Process(process.pid)
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def _wait_idle(process: subprocess.Popen, most: float = 180.0) -> float:
    """Wait until the server and its kernels are idle (a pre-heated kernel refilling the pool
    runs the whole notebook, which is not the case timed), or ``most`` seconds; the seconds
    waited."""
    start = time.monotonic()
    time.sleep(REFILL_SECONDS / 4)
    while time.monotonic() - start < most:
        before = _tree_cpu(process)
        time.sleep(2.0)
        if _tree_cpu(process) - before < 0.1:
            break
    return time.monotonic() - start


def _line(what: str, values: list[float], cpu: list[float] | None = None) -> str:
    p50, p95 = _quantiles(values)
    text = f"  {what} ({len(values)}): p50 {p50:.2f} s, p95 {p95:.2f} s"
    if cpu is not None:
        c50, c95 = _quantiles(cpu)
        text += f" (CPU p50 {c50:.2f} s, p95 {c95:.2f} s)"
    return text + "   target < 1 s"


def _timed_changes(options: dict[str, int], selected: dict[str, int]
                   ) -> list[tuple[str, int, bool]]:
    """``CHANGES`` as (filter, option index, new filter state?), given each filter's number
    of options and the index selected when the page opens."""
    state = dict(selected)
    seen = {tuple(sorted(state.items()))}
    out = []
    for name, index in CHANGES:
        index = index if index >= 0 else options[name] + index
        state[name] = index
        key = tuple(sorted(state.items()))
        out.append((name, index, key not in seen))
        seen.add(key)
    return out


def _browser_redraws(browser, port: int, process: subprocess.Popen, role: str) -> None:
    """Filter changes on the exploration page: time to the new chart on screen."""
    chart = PAGES["explore.ipynb"]
    waited = _wait_idle(process)
    _, page, context = _open(browser, port, "explore.ipynb")
    waited += _wait_idle(process)  # the pool refills (runs the notebook again) after a view
    first, again = [], []
    cpu = _tree_cpu(process)
    names = {name for name, _ in CHANGES}
    options = {n: page.locator(f".f-{n} select option").count() for n in names}
    selected = {n: page.locator(f".f-{n} select").evaluate("s => s.selectedIndex")
                for n in names}
    for name, index, new in _timed_changes(options, selected):
        src = page.locator(chart).get_attribute("src")
        start = time.perf_counter()
        page.locator(f".f-{name} select").select_option(index=index)
        page.wait_for_function(
            "([s, old]) => { const i = document.querySelector(s);"
            " return i && i.getAttribute('src') !== old; }",
            arg=[chart, src], timeout=60_000)
        (first if new else again).append(time.perf_counter() - start)
    cpu = _tree_cpu(process) - cpu
    _close(page, context)
    print(f"  {role}: server idle after {waited:.0f} s; load average "
          f"{os.getloadavg()[0]:.1f}; server and kernel CPU {cpu:.2f} s over "
          f"{sum(first) + sum(again):.2f} s of timed changes")
    print(_line(f"{role}: filter change -> new chart in the browser, first time", first))
    print(_line(f"{role}: filter change -> new chart in the browser, back to an earlier "
                "choice", again))


def browser_figures(url: str, repeat: int, preheat: bool, pages: bool = True,
                    redraw: bool = True) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="sjr-bench-") as tmp:
        tmp = Path(tmp)
        (tmp / "nb").mkdir()
        notebooks = _notebooks(tmp / "nb")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            if pages:
                process, port = _serve(url, notebooks, tmp, preheat)
                try:
                    _page_figures(browser, port, repeat, preheat)
                finally:
                    _stop(process)
            if redraw:
                print("filter redraw on the exploration page (pre-heated kernel, "
                      f"load average {os.getloadavg()[0]:.1f})")
                for user, role in ROLES.items():
                    process, port = _serve(url, notebooks, tmp, True, user)
                    try:
                        _browser_redraws(browser, port, process, role)
                    finally:
                        _stop(process)
            browser.close()


def _page_figures(browser, port: int, repeat: int, preheat: bool) -> None:
    _close(*_open(browser, port, "empty.ipynb")[1:])  # warm the server's caches
    times: dict[str, list[float]] = {name: [] for name in PAGES}
    for _ in range(repeat):
        for name in PAGES:
            if preheat:  # a page view while its pool refills is not the case timed
                time.sleep(REFILL_SECONDS)
            seconds, page, context = _open(browser, port, name)
            times[name].append(seconds)
            _close(page, context)
    empty = statistics.median(times["empty.ipynb"])
    how = "pre-heated kernels" if preheat else "no pre-heating"
    print(f"{'time to interactive, ' + how + ' (median of ' + str(repeat) + ')':<52}"
          f"{'seconds':>8}  {'x empty':>8}   target <= 1.5 x")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<50}{median:8.2f}  {median / empty:8.2f}")


def process_redraws(url: str) -> None:
    """Filter changes on an ``Explorer`` without a browser, for both roles: the tab on
    screen when the page opens, then every tab."""
    from data_access import open_session
    from sjrlib.dashboards.explore import TABS, Explorer

    print("filter redraw in process (Explorer without a browser)")
    for user, role in ROLES.items():
        with open_session(user, url, tool="benchmark") as session:
            explorer = Explorer(session)
            worst = ("", 0.0)
            for number, tab in enumerate(TABS):
                explorer.tabs.selected_index = number
                wall, cpu = [], []
                filters = explorer.filters
                changes = _timed_changes({n: len(b.options) for n, b in filters.items()},
                                         {n: b.index for n, b in filters.items()})
                for name, option, new in changes:
                    start, start_cpu = time.perf_counter(), time.process_time()
                    filters[name].index = option
                    if new:
                        wall.append(time.perf_counter() - start)
                        cpu.append(time.process_time() - start_cpu)
                if number == 0:
                    print(_line(f"{role}: filter change -> redrawn tab ({tab}), first time",
                                wall, cpu))
                    every_wall, every_cpu = list(wall), list(cpu)
                else:
                    every_wall += wall
                    every_cpu += cpu
                if _quantiles(wall)[1] > worst[1]:
                    worst = (tab, _quantiles(wall)[1])
            print(_line(f"{role}: filter change -> redrawn tab, every tab, first time",
                        every_wall, every_cpu) + f"; slowest p95: {worst[0]}")


def process_figures(url: str, saves: int) -> None:
    import datetime as dt

    from data_access import open_session
    from sjrlib.dashboards.entry_form import ReviewForm

    with open_session(LEAD, url, tool="benchmark") as session:
        form = ReviewForm(session, today=dt.date.today())
        month = (dt.date.today().replace(day=1) - dt.timedelta(days=40)).strftime("%Y-%m")
        with form.holding_checks():
            f = form.fields
            f["case_id"].value = "BENCH-0001"
            f["reviewer_id"].value = "BENCH-LEAD"
            f["age_at_death"].value = 80
            f["death_month"].value = month
            form.reason_boxes["random_sample"].value = True
            for phase in ("admission", "ongoing", "procedure", "perioperative",
                          "end_of_life"):
                form._na[phase].value = True
            f["score_overall"].value = 4
            f["comment_overall"].value = "Good care throughout."
            f["record_quality_score"].value = 4
            f["any_problems"].value = "no"
        form_times, session_times = [], []
        for i in range(saves):
            f["comment_overall"].value = f"Good care throughout (revision {i})."
            start = time.perf_counter()
            if not form.save(submit=False):
                raise RuntimeError(f"save failed: {form.banner.value}")
            form_times.append(time.perf_counter() - start)
        values = {**form.values(), "status": "draft"}
        version = form.version
        for i in range(saves):
            values["comment_overall"] = f"Good care throughout (session revision {i})."
            start = time.perf_counter()
            _, version = session.save_review(values, expected_version=version)
            session_times.append(time.perf_counter() - start)
    for what, values in (("form save (validate + governed save + audit)", form_times),
                         ("Session.save_review alone", session_times)):
        p50, p95 = _quantiles(values)
        print(f"  {what}, {len(values)} saves: p50 {p50 * 1000:.0f} ms, "
              f"p95 {p95 * 1000:.0f} ms   target p95 <= 100 ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="database URL (default: the demo data set, built once)")
    parser.add_argument("--repeat", type=int, default=5, help="page loads per dashboard")
    parser.add_argument("--saves", type=int, default=100, help="saves to time")
    parser.add_argument("--no-browser", action="store_true", help="in-process figures only")
    parser.add_argument("--no-preheat", action="store_true",
                        help="time pages without pre-heated kernels too")
    parser.add_argument("--only", choices=("redraw",),
                        help="run one part: 'redraw' = filter redraw (browser and in process, "
                             "both roles)")
    args = parser.parse_args()
    url = args.db or _demo_db()
    with tempfile.TemporaryDirectory(prefix="sjr-bench-db-") as work:
        return _run(_scratch_copy(url, Path(work)), args)


def _scratch_copy(url: str, folder: Path) -> str:
    """A SQLite store is copied, so the benchmark's users and saves stay out of it."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        print(f"note: {parsed.render_as_string()} is not SQLite: benchmark users and one "
              "draft review are written to it")
        return url
    copy = folder / "bench.db"
    shutil.copyfile(parsed.database, copy)
    return f"sqlite:///{copy}"


def _run(url: str, args: argparse.Namespace) -> int:
    code = _ensure_users(url)
    print(f"data: {url} (lead of {code}); {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    if not args.no_browser:
        if not Path(CHROMIUM).exists():
            print(f"{CHROMIUM} absent: browser figures skipped (apt-get install chromium)")
        else:
            redraw_only = args.only == "redraw"
            browser_figures(url, args.repeat, preheat=True, pages=not redraw_only)
            if args.no_preheat and not redraw_only:
                browser_figures(url, args.repeat, preheat=False, redraw=False)
    process_redraws(url)
    if args.only is None:
        process_figures(url, args.saves)
    return 0


if __name__ == "__main__":
    sys.exit(main())
