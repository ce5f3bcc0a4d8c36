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
- **load**: ``store.load_reviews`` of the whole store (the review frame: child tables pivoted,
  dtypes set) beside two **bare Arrow reads**, ADBC's ``fetch_arrow_table`` (``adbc-driver-sqlite``,
  ``adbc-driver-postgresql``: the fastest Arrow reader of either database we know) into Arrow
  tables, nothing else (no pandas):

  - of the frame's rows and columns: ``data_access.loading.review_frame_select``, one SELECT
    in which the database pivots the child tables onto the reviews (the target's baseline;
    PostgreSQL's loader reads exactly this, through COPY);
  - of the stored tables it is made of, unpivoted: ``data_access.loading.review_selects``
    (the reviews joined to their organisation, then each child table; SQLite's loader reads
    these and pivots in Arrow, which measures faster there than SQLite's own pivot).

  On SQLite it also prints ``review_selects`` read into Arrow through Python's ``sqlite3``
  (what the loader's own connection can do: ADBC's bundled SQLite must not open the file
  beside Python's in one process, see ``data_access.loading._reader``). Each read runs in a
  fresh process, ``--repeat`` times interleaved; the median is printed. Then the small
  loaders (deaths, organisations), best of 5 in one process, beside ADBC. On PostgreSQL
  (``SJR_BENCH_POSTGRES_URL``, else the local server; ``--no-postgres`` skips it) the same
  files are imported into a throwaway database, read as its owner, and dropped.

Targets: >= 20,000 validated rows/s; < 1 GB peak memory at 1,000,000 reviews;
``load_reviews`` within 1.2x of the bare Arrow read of the same rows and columns (issue 16).

Last load figures: see ``docs/scaling.md`` (both baselines, both databases, 200,000 and
1,000,000 reviews).

Usage: ``python benchmarks/foundation.py [--sizes 100000 1000000] [--cache DIR] [--repeat 3]
[--no-postgres]``
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
from contextlib import contextmanager
from pathlib import Path

TARGET_ROWS_PER_S = 20_000
TARGET_PEAK_MB = 1024
TARGET_LOAD_RATIO = 1.2
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
_GENERATOR = {"n_organisations": 134, "seed": 20261126}


def _peak_mb() -> float:
    """Peak resident memory of this process, or of its biggest child if that was bigger."""
    return max(resource.getrusage(who).ru_maxrss
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024  # KiB


def _cpu_s() -> float:
    """CPU seconds of this process and of the children it has waited for (the SQLite
    loader's reader process): on a busy shared machine, steadier than the wall clock."""
    return sum(usage.ru_utime + usage.ru_stime
               for usage in (resource.getrusage(resource.RUSAGE_SELF),
                             resource.getrusage(resource.RUSAGE_CHILDREN)))


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

    url = db if "://" in db else f"sqlite:///{db}"
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


def _child_load(url: str, how: str) -> dict:
    """One read of the whole store in this fresh process: ``load_reviews``, ``adbc`` (the bare
    Arrow read) or ``sqlite3`` (the same SELECTs into Arrow through Python's driver)."""
    import pyarrow as pa

    from data_access import store
    from data_access.loading import review_frame_select, review_selects

    engine = store.get_engine(url)
    if how in ("adbc_tables", "sqlite3"):  # the stored tables the frame is made of, unpivoted
        queries, how = review_selects([]), how.removesuffix("_tables")
    else:  # the frame's rows and columns, pivoted by the database
        queries = [review_frame_select([])]
    selects = [str(q.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
               for q in queries]
    started, cpu0 = time.perf_counter(), _cpu_s()
    if how == "load_reviews":
        with engine.connect() as conn:
            rows = len(store.load_reviews(conn))
    elif how == "adbc":
        with _adbc_cursor(engine) as cursor:
            rows = _adbc_rows(cursor, selects)
    else:  # "sqlite3" (review_selects: what the SQLite loader reads)
        with engine.connect() as conn:
            cursor = conn.connection.dbapi_connection.cursor()
            tables = []
            for sql in selects:
                cursor.execute(sql)
                names = [d[0] for d in cursor.description]
                tables.append(pa.table(dict(zip(names, map(list, zip(*cursor.fetchall()))))))
            rows = tables[0].num_rows
    done, cpu1 = time.perf_counter(), _cpu_s()
    engine.dispose()
    return {"rows": rows, "s": done - started, "cpu_s": cpu1 - cpu0, "peak_mb": _peak_mb()}


_SMALL = {
    "load_deaths": "SELECT organisation_code, month, deaths_in_scope, learning_disability_deaths "
                   "FROM deaths ORDER BY organisation_code, month",
    "load_organisations": "SELECT code AS organisation_code, name, nation, region "
                          "FROM organisations ORDER BY code",
}


def _child_small(url: str) -> dict:
    """The small loaders, each best of 5 in this process, beside ADBC's bare read of the same
    rows and columns: milliseconds either way, so the ratio is a call's fixed cost."""
    from data_access import store

    engine = store.get_engine(url)
    out = {}
    with engine.connect() as conn:
        for name in _SMALL:
            times = []
            for _ in range(5):
                started = time.perf_counter()
                rows = len(getattr(store, name)(conn))
                times.append(time.perf_counter() - started)
            out[name] = {"rows": rows, "s": min(times)}
    with _adbc_cursor(engine) as cursor:
        for name, sql in _SMALL.items():
            times = []
            for _ in range(5):
                started = time.perf_counter()
                cursor.execute(sql)
                cursor.fetch_arrow_table()
                times.append(time.perf_counter() - started)
            out[name]["adbc_s"] = min(times)
    engine.dispose()
    return out


def _small_figures(url: str, engine_name: str) -> None:
    for name, got in _run_child("small", url).items():
        print(f"  load    : {name} {got['s'] * 1000:6.1f} ms against ADBC's "
              f"{got['adbc_s'] * 1000:.1f} ms for the same {got['rows']:,} rows "
              f"({got['s'] / got['adbc_s']:.1f}x, a call's fixed cost; {engine_name}, "
              "best of 5)")


@contextmanager
def _adbc_cursor(engine):
    """A cursor of ADBC's driver for ``engine``'s database (SQLite or PostgreSQL)."""
    if engine.dialect.name == "sqlite":
        import adbc_driver_sqlite.dbapi as adbc
        target = engine.url.database
    else:
        import adbc_driver_postgresql.dbapi as adbc
        target = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with adbc.connect(target) as conn, conn.cursor() as cursor:
        if engine.dialect.name == "sqlite":
            # one batch per result: the driver types each column from its first batch
            cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(1 << 30)})
        yield cursor


def _adbc_rows(cursor, selects: list[str]) -> int:
    tables = []
    for sql in selects:
        cursor.execute(sql)
        tables.append(cursor.fetch_arrow_table())
    return tables[0].num_rows


def _load_figures(url: str, engine_name: str, hows: tuple[str, ...], repeat: int) -> None:
    """Each read ``repeat`` times, interleaved (so a burst of load on the shared machine hits
    all alike); the medians, and the ratio of ``load_reviews`` to the bare Arrow read."""
    runs: dict[str, list[dict]] = {how: [] for how in hows}
    for _ in range(repeat):
        for how in hows:
            runs[how].append(_run_child("load", url, how))
    median = {how: sorted(r, key=lambda x: x["s"])[len(r) // 2] for how, r in runs.items()}
    words = {"load_reviews": "load_reviews (the review frame)",
             "adbc": "bare Arrow read of the frame's rows and columns: ADBC fetch_arrow_table "
                     "of review_frame_select (the database pivots)",
             "adbc_tables": "bare Arrow read of the stored tables it is made of, unpivoted: "
                            "ADBC fetch_arrow_table of review_selects",
             "sqlite3": "review_selects into Arrow through Python's sqlite3"}
    for how in hows:
        got = median[how]
        print(f"  load    : {got['s']:6.2f} s wall / {got['cpu_s']:6.2f} s CPU, peak "
              f"{got['peak_mb']:,.0f} MB: {words[how]}, {got['rows']:,} reviews "
              f"({engine_name}, median of {repeat})")
    ratio = median["load_reviews"]["s"] / median["adbc"]["s"]
    cpu = median["load_reviews"]["cpu_s"] / median["adbc"]["cpu_s"]
    ok = "OK" if ratio <= TARGET_LOAD_RATIO else "MISS"
    print(f"  load    : {ratio:6.2f}x the bare Arrow read of the frame's rows and columns on "
          f"{engine_name}, wall clock (target <= {TARGET_LOAD_RATIO}x) {ok}; {cpu:.2f}x in "
          "client CPU")
    for how, what in (("adbc_tables", "the bare Arrow read of the stored tables"),
                      ("sqlite3", "the stored tables through sqlite3 into Arrow")):
        if how in median:
            print(f"            {median['load_reviews']['s'] / median[how]['s']:6.2f}x {what}")


def _postgres(admin_url: str, files: dict[str, Path], repeat: int) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = make_url(admin_url)
    name = f"sjr_bench_{os.getpid()}_{int(time.time())}"
    try:
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
    except Exception as error:  # no server: say so, the SQLite figures stand
        print(f"  PostgreSQL at {admin.render_as_string()} not reachable, skipped: "
              f"{str(error).splitlines()[0]}")
        return
    url = admin.set(database=name).render_as_string(hide_password=False)
    try:
        imp = _run_child("import", str(files["organisations"]), str(files["deaths"]),
                         str(files["reviews"]), url)
        print(f"  PostgreSQL ({name}): imported {imp['rows']:,} reviews in "
              f"{imp['total_s']:.0f} s")
        with create_engine(url).connect() as conn:  # statistics, as autovacuum would make
            conn.execute(text("ANALYZE"))
            conn.commit()
        _load_figures(url, "PostgreSQL", ("load_reviews", "adbc", "adbc_tables"), repeat)
        _small_figures(url, "PostgreSQL")
    finally:
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def _run_child(*args: str, script: str = __file__) -> dict:
    """``script --child ARGS`` in a fresh process; the JSON its last line prints."""
    done = subprocess.run([sys.executable, script, "--child", *args], capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise RuntimeError(f"child {args[0]} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _bench(size: int, cache: Path, repeat: int, postgres: str | None) -> None:
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
        _load_figures(f"sqlite:///{db}", "SQLite",
                      ("load_reviews", "adbc", "adbc_tables", "sqlite3"), repeat)
        _small_figures(f"sqlite:///{db}", "SQLite")
    if postgres is not None:
        _postgres(postgres, files, repeat)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "sjr-foundation-bench",
                        help="where generated files are kept between runs")
    parser.add_argument("--repeat", type=int, default=3, help="reads of each kind (median)")
    parser.add_argument("--no-postgres", action="store_true",
                        help="SQLite only (else SJR_BENCH_POSTGRES_URL or the local server)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        child = {"import": _child_import, "validate": _child_validate, "load": _child_load,
                 "small": _child_small,
                 "generate": _generate}
        result = child[kind](*rest)
        print(json.dumps(result))
        return 0
    print(f"Foundation benchmark (pid {os.getpid()}, {os.cpu_count()} cores; "
          "figures are noisy on a shared machine)")
    postgres = None if args.no_postgres else os.environ.get("SJR_BENCH_POSTGRES_URL",
                                                             DEFAULT_POSTGRES)
    for size in args.sizes:
        _bench(size, args.cache, args.repeat, postgres)
    return 0


if __name__ == "__main__":
    sys.exit(main())
