"""Import benchmark on SQLite and PostgreSQL: a first import, then a no-op re-import.

For each engine, in a fresh process, into an empty store: the generated reviews file (the
foundation benchmark's national synthetic set, cached) imported as ``sjr import reviews FILE``
does it (``sjrlib.io.stream_reviews`` validating block by block into
``data_access.store.import_review_blocks``, one transaction), then the same file again with
``update=True`` (nothing changed: every review is found unchanged by its content hash, revision
``0010_review_hash``, and nothing is written). Then, in another fresh process and store, the
same first import into a store that already holds one review: a first import into an empty
store builds the reviews' indexes (and on PostgreSQL the keys pointing at reviews) once at the
end, any other import checks and indexes row by row, so both are printed. On PostgreSQL also
the first import into a database created with ``LC_COLLATE 'C'`` (text compared byte by byte,
as SQLite compares it; ``docs/scaling.md``). Read + validate alone shows how much of an import
is validation.

On PostgreSQL it also samples both processes' CPU every 0.2 s during the first import and
prints how long each worked alone: the importer at the start, the server at the end (the part
two shared cores cannot overlap). Prints validated reviews/s beside the targets (issue 16:
>= 50,000/s on PostgreSQL on two cores; issue 17: a no-op re-import costs a read, so it should
take less than the first import)
and wall/CPU seconds: CPU microseconds a review of read + validate, and reviews per CPU second of
each import. On a PostgreSQL server on this machine it also reads the CPU seconds of the server
backend that ran the import (``/proc``): ``COPY`` is parsed, checked against the keys and indexed
there, in a process ``getrusage`` does not see (200k reviews, 2-core machine, 2026-12-05
01:26 UTC: into an empty store 4.4 CPU s in the importing process and 3.1 s in the server,
5.3 s wall; into a store holding reviews 4.1 + 9.5 CPU s, 11.1 s wall; ``docs/scaling.md``,
*Imports on PostgreSQL*). PostgreSQL:
``SJR_BENCH_POSTGRES_URL`` (a server where a scratch database may be created and dropped) or
the local server at 127.0.0.1.

Usage: ``python benchmarks/imports.py [--size 200000] [--engines sqlite postgresql]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from foundation import (  # noqa: E402  (sibling script)
    _cpu_s,
    _generated_files,
    _peak_mb,
)
from foundation import _run_child as _foundation_child  # noqa: E402


def _run_child(*args: str) -> dict:
    return _foundation_child(*args, script=__file__)


TARGET_PG_ROWS_PER_S = 50_000
_PG = os.environ.get("SJR_BENCH_POSTGRES_URL",
                     "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
_SCRATCH = "sjr_bench_imports"


_C_COLLATION = "TEMPLATE template0 LC_COLLATE 'C'"
"""A database whose text compares byte by byte (as SQLite's does): the deployment choice
``docs/scaling.md`` weighs, measured beside the server's default."""


def _scratch_url(create: bool, options: str = "") -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(_PG, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {_SCRATCH}"))
            if create:
                conn.execute(text(f"CREATE DATABASE {_SCRATCH} {options}"))
    finally:
        admin.dispose()
    return make_url(_PG).set(database=_SCRATCH).render_as_string(hide_password=False)


def _backend_pid(engine) -> int | None:
    """The PostgreSQL server process behind the engine's (pooled) connection, when the
    server runs on this machine (``/proc``); else None."""
    if engine.dialect.name != "postgresql":
        return None
    from sqlalchemy import text

    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    return pid if Path(f"/proc/{pid}/stat").exists() else None


def _process_cpu(pid: int) -> float | None:
    """CPU seconds so far of process ``pid`` (``/proc``), None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _backend_cpu(engine) -> float | None:
    """CPU seconds so far of the server process behind the engine's connection (else None).
    The import's ``COPY`` is parsed, checked and indexed there, in a process ``getrusage``
    does not see."""
    pid = _backend_pid(engine)
    return None if pid is None else _process_cpu(pid)


_TICK_S = 0.2
_IDLE_CORES = 0.15
"""A process using less than this share of a core over a tick is counted as waiting."""


class _Phases:
    """Samples the importing process's and the server backend's CPU every :data:`_TICK_S`
    while an import runs, to say how long each worked alone: the importer at the start (the
    first block read and validated before any row reaches the server), the server at the end
    (the last ``COPY`` statements and the keys and indexes built before the commit, while the
    importer waits). Two cores shared by both can only be kept busy in between."""

    def __init__(self, backend_pid: int):
        import threading

        self._pid, self._samples, self._stop = backend_pid, [], threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        own = os.getpid()
        while True:
            self._samples.append((time.perf_counter(), _process_cpu(own),
                                  _process_cpu(self._pid)))
            if self._stop.wait(_TICK_S):
                break

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        ticks = [(b[0] - a[0], (b[1] - a[1]) / (b[0] - a[0]), (b[2] - a[2]) / (b[0] - a[0]))
                 for a, b in zip(self._samples, self._samples[1:], strict=False)
                 if None not in (a[1], a[2], b[1], b[2])]
        start = end = 0.0
        for seconds, importer, server in ticks:
            if server >= _IDLE_CORES or importer < _IDLE_CORES:
                break
            start += seconds
        for seconds, importer, server in reversed(ticks):
            if importer >= _IDLE_CORES or server < _IDLE_CORES:
                break
            end += seconds
        return {"importer_alone_s": start, "server_alone_s": end}


def _seed_review(reviews: str, directory: str) -> str:
    """A one-review file: the first review of ``reviews`` under an id and case of its own."""
    import pandas as pd

    first = pd.read_csv(reviews, dtype=str, keep_default_na=False, nrows=1)
    first["review_id"] = "BENCH-SEED-1"
    first["case_id"] = "BENCH-SEED-CASE-1"
    first["second_review_of"] = ""
    first["review_stage"] = "first"
    path = Path(directory) / "seed.csv"
    first.to_csv(path, index=False)
    return str(path)


def _child_imports(organisations: str, deaths: str, reviews: str, url: str,
                   holding: str = "") -> dict:
    """A first import (into an empty store, or with ``holding="holding"`` into one that holds a
    review already: the keys are then checked row by row), then the same file again, unchanged
    (not with ``holding``: ``"first-only"`` is the first import alone)."""
    from data_access import store
    from sjrlib import io

    store.init_db(url)
    engine = store.get_engine(url)
    orgs = io.read_organisations(organisations)
    store.import_organisations(engine, orgs)
    store.import_deaths(engine, io.read_deaths(deaths, known_organisations=orgs))
    if holding == "holding":
        with tempfile.TemporaryDirectory(prefix="sjr-bench-seed-") as tmp:
            store.import_reviews(engine, io.read_reviews(_seed_review(reviews, tmp),
                                                         known_organisations=orgs))
    out = {}
    for name, update in (("first", False), ("again", True))[:1 if holding else 2]:
        server0 = _backend_cpu(engine)
        backend = _backend_pid(engine)
        phases = _Phases(backend) if backend is not None and name == "first" else None
        started, cpu0 = time.perf_counter(), _cpu_s()
        with engine.connect() as conn:
            known_orgs = store.known_organisations(conn)
            known = store.known_review_frame(conn, stage="first")  # as sjr import does
        stream = io.stream_reviews(reviews, known_organisations=known_orgs, known_reviews=known)
        result = store.import_review_blocks(engine, stream, update=update)
        out[name] = {"s": time.perf_counter() - started, "cpu_s": _cpu_s() - cpu0,
                     "inserted": result.inserted, "updated": result.updated,
                     "unchanged": result.unchanged}
        if phases is not None:
            out[name].update(phases.stop())
        server1 = _backend_cpu(engine)
        if server0 is not None and server1 is not None and server1 >= server0:
            out[name]["server_cpu_s"] = server1 - server0
    engine.dispose()
    out["peak_mb"] = _peak_mb()
    return out


def _child_validate(organisations: str, reviews: str) -> dict:
    from sjrlib import io

    orgs = io.read_organisations(organisations)
    started, cpu0 = time.perf_counter(), _cpu_s()
    rows = sum(len(b) for b in io.stream_reviews(reviews, known_organisations=orgs,
                                                  known_reviews={}))
    return {"rows": rows, "s": time.perf_counter() - started, "cpu_s": _cpu_s() - cpu0}


def _print_import(what: str, where: str, run: dict, rows: int, engine: str) -> None:
    rate = rows / run["s"]
    target = (f"(target >= {TARGET_PG_ROWS_PER_S:,}) "
              f"{'OK' if rate >= TARGET_PG_ROWS_PER_S else 'MISS'}"
              if engine == "postgresql" else "(target: no slower than before)")
    print(f"    {what}, {where}:")
    print(f"      {run['s']:6.1f} s wall / {run['cpu_s']:6.1f} s CPU, "
          f"{rate:,.0f} validated reviews/s wall clock {target}")
    if "server_cpu_s" in run:
        both = run["cpu_s"] + run["server_cpu_s"]
        print(f"      + {run['server_cpu_s']:.1f} s CPU in the server's backend: {both:.1f} CPU s "
              f"in all, {rows / both:,.0f} reviews per CPU second (two cores, fully "
              f"overlapped, would give at most {2 * rows / both:,.0f}/s)")
    else:
        print(f"      {rows / run['cpu_s']:,.0f} reviews per CPU second")
    if "server_alone_s" in run:
        middle = run["s"] - run["importer_alone_s"] - run["server_alone_s"]
        print(f"      the importer alone for the first {run['importer_alone_s']:.1f} s, both "
              f"for {middle:.1f} s, the server alone for the last {run['server_alone_s']:.1f} s "
              "(the last COPYs, and into an empty store the keys and indexes built before "
              "the commit)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"],
                        choices=["sqlite", "postgresql"])
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "sjr-foundation-bench")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        child = {"imports": _child_imports, "validate": _child_validate}[kind]
        print(json.dumps(child(*rest)))
        return 0
    files, rows = _generated_files(args.size, args.cache)
    print(f"Import benchmark: {rows:,} reviews (pid {os.getpid()}, {os.cpu_count()} cores; "
          "figures are noisy on a shared machine: compare within a run)")
    alone = _run_child("validate", str(files["organisations"]), str(files["reviews"]))
    print(f"  read + validate alone: {alone['s']:.1f} s wall / {alone['cpu_s']:.1f} s CPU "
          f"({alone['rows'] / alone['s']:,.0f} rows/s wall; "
          f"{alone['cpu_s'] / alone['rows'] * 1e6:.1f} CPU us a review, "
          f"{alone['rows'] / alone['cpu_s']:,.0f} reviews per CPU second)")
    for engine in args.engines:
        got = {}
        runs = ["", "holding"] + (["collate-c"] if engine == "postgresql" else [])
        for run in runs:
            with tempfile.TemporaryDirectory(prefix="sjr-bench-") as tmp:
                url = (f"sqlite:///{Path(tmp) / 'bench.db'}" if engine == "sqlite"
                       else _scratch_url(create=True, options=_C_COLLATION
                                         if run == "collate-c" else ""))
                try:
                    got[run] = _run_child(
                        "imports", str(files["organisations"]), str(files["deaths"]),
                        str(files["reviews"]), url,
                        {"holding": "holding", "collate-c": "first-only"}.get(run, ""))
                finally:
                    if engine == "postgresql":
                        _scratch_url(create=False)
        first, again = got[""]["first"], got[""]["again"]
        print(f"\n  {engine}:")
        _print_import("first import", "into an empty store (indexes, and on PostgreSQL the "
                      "review tables' keys, built at the end)",
                      first, rows, engine)
        _print_import("first import", "into a store that holds reviews (indexed and "
                      "key-checked row by row)", got["holding"]["first"], rows, engine)
        if "collate-c" in got:
            _print_import("first import", "into an empty store in a database created with "
                          "LC_COLLATE 'C' (ids compared byte by byte)",
                          got["collate-c"]["first"], rows, engine)
        print(f"    no-op re-import  : {again['s']:6.1f} s wall / {again['cpu_s']:6.1f} s CPU "
              f"({again['unchanged']:,} unchanged, {again['inserted'] + again['updated']} "
              f"written), {again['s'] / first['s']:.2f}x the first import "
              f"({'OK' if again['s'] < first['s'] else 'MISS'}: target below 1x)")
        print(f"    peak RSS         : {got['']['peak_mb']:,.0f} MB (empty store), "
              f"{got['holding']['peak_mb']:,.0f} MB (holding reviews)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
