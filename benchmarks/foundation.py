"""Foundation benchmark: validated import throughput, peak memory, and load time of the store.

For each size (default 100,000 and 1,000,000 reviews) it generates the exchange files with the
synthetic generator (the national set of 134 organisations over as many years as the size takes,
the reviews cut at the size; made once and cached), then in a fresh process for each
measurement:

- **import**: ``sjrlib.io.stream_reviews`` (read + the full validation of the whole file,
  with the store's known organisations, a block at a time) into
  ``data_access.store.import_review_blocks`` (each block written into one transaction as it
  passes, while the next is validated) into a fresh SQLite file, i.e. what
  ``sjr import reviews FILE`` does; prints rows/s end to end and peak RSS (``ru_maxrss``);
  then read + validate alone, to show the split.
- **load**: ``store.load_reviews`` (the review frame: child tables pivoted, dtypes set) beside a
  bare ``pandas.read_sql("SELECT * FROM reviews")`` of the reviews table alone.

Targets: >= 20,000 validated rows/s; < 1 GB peak memory at 1,000,000 reviews.

Usage: ``python benchmarks/foundation.py [--sizes 100000 1000000] [--cache DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_ROWS_PER_S = 20_000
TARGET_PEAK_MB = 1024
_GENERATOR = {"n_organisations": 134, "seed": 20261126}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _cpu_s() -> float:
    """CPU seconds of this process: on a busy shared machine, steadier than the wall clock."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ------------------------------------------------------------------------------ data files ----
def _generated_files(size: int, cache: Path) -> tuple[dict[str, Path], int]:
    """:func:`_generate` in a child process: the generator's memory must not be this process's,
    whose peak RSS every measuring child (fork + exec) inherits in ``ru_maxrss``."""
    names = {k: cache / f"generated_{size}_{k}.csv" for k in ("organisations", "deaths",
                                                               "reviews")}
    counted = cache / f"generated_{size}.rows"
    if not (all(p.exists() for p in names.values()) and counted.exists()):
        done = subprocess.run([sys.executable, __file__, "--child", "generate", str(size),
                               str(cache)], text=True, capture_output=True)
        if done.returncode != 0:
            raise RuntimeError(f"generating the data failed:\n{done.stderr[-4000:]}")
        print(done.stdout.strip().splitlines()[0])
    return names, int(counted.read_text())


def _generate(size: str, cache: str) -> dict:
    """Exchange files of about ``size`` generated reviews (made once, kept in ``cache``).

    The national synthetic set (134 organisations) over as many financial years as it takes
    (about 55,000 reviews a year), ending March 2026; the reviews file is the first ``size``
    rows, less second-stage reviews whose first-stage review falls beyond the cut.
    """

    from sjrlib import io, synthetic

    size, cache = int(size), Path(cache)
    names = {k: cache / f"generated_{size}_{k}.csv" for k in ("organisations", "deaths",
                                                               "reviews")}
    cache.mkdir(parents=True, exist_ok=True)
    years = max(1, -(-size // 50_000))
    options = {**_GENERATOR, "years": years, "start_year": 2026 - years}
    started = time.perf_counter()
    data = synthetic.generate(**options)
    reviews = data.reviews.iloc[:size]
    linked = reviews["second_review_of"].notna()
    reviews = reviews[~linked | reviews["second_review_of"].isin(reviews["review_id"])]
    io.write_organisations(data.organisations, names["organisations"])
    io.write_deaths(data.deaths, names["deaths"])
    io.write_reviews(reviews, names["reviews"])
    (cache / f"generated_{size}.rows").write_text(str(len(reviews)))
    print(f"  generated {options}: {len(data.reviews):,} reviews in "
          f"{time.perf_counter() - started:.0f} s; the first {len(reviews):,} kept")
    return {"rows": len(reviews)}


# -------------------------------------------------------------------------- measurements ----
def _child_import(organisations: str, deaths: str, reviews: str, db: str) -> dict:
    from data_access import store
    from sjrlib import io

    url = f"sqlite:///{db}"
    store.init_db(url)
    engine = store.get_engine(url)
    orgs = io.read_organisations(organisations)
    store.import_organisations(engine, orgs)
    store.import_deaths(engine, io.read_deaths(deaths, known_organisations=orgs))
    started, cpu0 = time.perf_counter(), _cpu_s()
    # What `sjr import reviews FILE` does: the file validated block by block, each block
    # written into one open transaction as soon as it passes (the next block is validated
    # meanwhile, in a worker thread); committed once the whole file has passed.
    with engine.connect() as conn:
        known_orgs = store.known_organisations(conn)
        known = store.known_reviews(conn, stage="first")
    stream = io.stream_reviews(reviews, known_organisations=known_orgs, known_reviews=known)
    result = store.import_review_blocks(engine, stream)
    stored, cpu1 = time.perf_counter(), _cpu_s()
    engine.dispose()
    return {"rows": result.inserted, "total_s": stored - started, "cpu_s": cpu1 - cpu0,
            "peak_mb": _peak_mb()}


def _child_validate(organisations: str, reviews: str) -> dict:
    """Read and validate alone (the stream consumed, nothing stored): the import's other half."""
    from sjrlib import io

    orgs = io.read_organisations(organisations)
    started, cpu0 = time.perf_counter(), _cpu_s()
    rows = sum(len(b) for b in io.stream_reviews(reviews, known_organisations=orgs,
                                                  known_reviews={}))
    return {"rows": rows, "s": time.perf_counter() - started, "cpu_s": _cpu_s() - cpu0,
            "peak_mb": _peak_mb()}


def _child_load(db: str, how: str) -> dict:
    import pandas as pd

    from data_access import store

    engine = store.get_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        started, cpu0 = time.perf_counter(), _cpu_s()
        if how == "load_reviews":
            frame = store.load_reviews(conn)
        else:
            frame = pd.read_sql("SELECT * FROM reviews", conn)
        done, cpu1 = time.perf_counter(), _cpu_s()
    engine.dispose()
    return {"rows": len(frame), "s": done - started, "cpu_s": cpu1 - cpu0,
            "peak_mb": _peak_mb()}


def _run_child(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise RuntimeError(f"child {args[0]} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _bench(size: int, cache: Path) -> None:
    files, rows = _generated_files(size, cache)
    reviews = files["reviews"]
    mb = reviews.stat().st_size / 1e6
    print(f"\n{rows:,} reviews ({mb:,.0f} MB CSV) into a fresh SQLite database")
    with tempfile.TemporaryDirectory(prefix="sjr-bench-") as tmp:
        db = str(Path(tmp) / "bench.db")
        imp = _run_child("import", str(files["organisations"]), str(files["deaths"]),
                         str(reviews), db)
        alone = _run_child("validate", str(files["organisations"]), str(reviews))
        rate = imp["rows"] / imp["total_s"]
        print(f"  import  : {rate:>9,.0f} validated rows/s end to end, wall clock "
              f"(target >= {TARGET_ROWS_PER_S:,}) {'OK' if rate >= TARGET_ROWS_PER_S else 'MISS'}")
        print(f"            {imp['total_s']:.1f} s wall / {imp['cpu_s']:.1f} s CPU (validation "
              "and storing overlap on two threads, so CPU may exceed wall)")
        print(f"            of which read+validate alone: {alone['s']:.1f} s wall / "
              f"{alone['cpu_s']:.1f} s CPU ({alone['rows'] / alone['s']:,.0f} rows/s)")
        ok = imp["peak_mb"] < TARGET_PEAK_MB
        print(f"  memory  : {imp['peak_mb']:>9,.0f} MB peak RSS of the import process "
              f"(target < {TARGET_PEAK_MB:,} MB at 1M) {'OK' if ok else 'MISS'}")
        for how, what in (("load_reviews", "load_reviews (whole review frame, children "
                                           "pivoted)"),
                          ("read_sql", "bare pandas.read_sql of the reviews table alone")):
            got = _run_child("load", db, how)
            print(f"  load    : {got['s']:6.1f} s wall / {got['cpu_s']:6.1f} s CPU, peak "
                  f"{got['peak_mb']:,.0f} MB: {what}, {got['rows']:,} rows")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "sjr-foundation-bench",
                        help="where generated files are kept between runs")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        child = {"import": _child_import, "validate": _child_validate, "load": _child_load,
                 "generate": _generate}
        result = child[kind](*rest)
        print(json.dumps(result))
        return 0
    print(f"Foundation benchmark (pid {os.getpid()}, {os.cpu_count()} cores; "
          "figures are noisy on a shared machine)")
    for size in args.sizes:
        _bench(size, args.cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())
