"""Benchmark: the full national statistics set on ~1M synthetic reviews, beside loading them.

    python benchmarks/stats.py [--n 1000000] [--repeat 3] [--cache DIR]

Generates a synthetic national data set with ``sjrlib.synthetic.generate`` (fictional
organisations), replicating it (fresh case and review ids per copy, shifted reviewers) until it
holds ``--n`` reviews; writes it once to Parquet; then times (best of ``--repeat``):

* load: ``pandas.read_parquet`` of the reviews (and the small deaths feed);
* stats: ``sjrlib.stats.national.national_statistics`` - every descriptive table by every
  breakdown, Learning from Deaths by organisation and nationally for four period kinds, and the
  inter-rater agreement statistics;
* the ordinal model and trend test, separately (not part of the 2 s target).

Target: stats <= 2 s on 1M reviews. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sjrlib.stats import models  # noqa: E402
from sjrlib.stats.national import national_statistics  # noqa: E402
from sjrlib.synthetic import generate  # noqa: E402


def _replicate(reviews: pd.DataFrame, n: int) -> pd.DataFrame:
    copies = int(np.ceil(n / len(reviews)))
    parts = []
    for i in range(copies):
        part = reviews.copy()
        if i:
            suffix = f"-r{i}"
            for column in ("review_id", "case_id", "second_review_of"):
                part[column] = part[column] + suffix
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    return frame.iloc[:n].reset_index(drop=True)


def _data(n: int, cache: Path) -> tuple[Path, Path]:
    reviews_path = cache / f"reviews_{n}.parquet"
    deaths_path = cache / f"deaths_{n}.parquet"
    if reviews_path.exists() and deaths_path.exists():
        return reviews_path, deaths_path
    t0 = time.perf_counter()
    data = generate(n_organisations=134, years=5, seed=20261126)
    print(f"generate: {len(data.reviews):,} reviews in {time.perf_counter() - t0:.1f} s")
    reviews = _replicate(data.reviews, n)
    reviews.to_parquet(reviews_path, index=False)
    data.deaths.to_parquet(deaths_path, index=False)
    return reviews_path, deaths_path


def _best(fn, repeat: int) -> tuple[tuple[float, float], object]:
    """Best wall-clock and best CPU seconds of ``repeat`` runs, and the last result. CPU time is
    shown too because a shared machine's wall clock says more about the neighbours."""
    wall, cpu, result = float("inf"), float("inf"), None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return (wall, cpu), result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="number of reviews")
    parser.add_argument("--repeat", type=int, default=3, help="timing repetitions (best kept)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="folder for the Parquet files (default: a temporary folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache or Path(tmp)
        cache.mkdir(parents=True, exist_ok=True)
        reviews_path, deaths_path = _data(args.n, cache)

        load_s, (reviews, deaths) = _best(
            lambda: (pd.read_parquet(reviews_path), pd.read_parquet(deaths_path)), args.repeat)
        stats_s, result = _best(lambda: national_statistics(reviews, deaths), args.repeat)
        trend_s, _ = _best(lambda: models.poor_care_trend(reviews, "quarter"), args.repeat)
        sample = reviews.sample(n=min(20_000, len(reviews)), random_state=1)
        model_s, _ = _best(lambda: models.ordinal_regression(sample), 1)

    n_tables = sum(len(getattr(result, f)) for f in (
        "care_scores", "poor_care", "problems", "problems_per_review", "avoidability",
        "more_likely_than_not", "lfd")) + 1
    pairs = int(result.agreement["n"].iloc[0])
    print(f"stats benchmark: {len(reviews):,} reviews, {reviews['organisation_code'].nunique()} "
          f"organisations, {pairs:,} double-reviewed pairs")
    print(f"  {'':40s} {'wall':>8s} {'cpu':>8s}")
    rows = [
        ("load (read_parquet)", load_s),
        (f"national statistics ({n_tables} tables + IRR)", stats_s),
        ("poor-care trend test (quarters)", trend_s),
        (f"ordinal model, {len(sample):,} reviews", model_s),
    ]
    for label, (wall, cpu) in rows:
        print(f"  {label:40s} {wall:7.3f}s {cpu:7.3f}s")
    wall = stats_s[0]
    print(f"  target: national statistics <= 2 s wall: {'met' if wall <= 2 else 'NOT met'} "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
