"""Benchmark: theme suggestions, their quality on the evaluation statements and their speed.

    python benchmarks/themes.py [--rows 100000]

Figures printed (nothing asserted here; tests/test_themes.py holds the quality goal):

* **precision and recall** per theme and micro-averaged, on ``tests/data/themes/dev.csv`` (used
  to choose the model's settings), ``heldout.csv`` (written afterwards, only measured) and
  ``heldout2.csv`` (87 statements written later by another hand, only measured), at the
  model's threshold. Goal (issue 13): precision >= 0.75, recall >= 0.80.
* **training time** from the shipped seed (what the first suggestion of a new installation
  costs, once).
* **suggesting for ``--rows`` judgement texts** (synthetic comments of every phase, repeated to
  the size asked, then each made distinct), best of 3, beside the time to **read** the same
  texts from a CSV with pandas.

Last run (2026-12-04, a shared machine under load): training 4.4 s (718 statements); held-out
micro precision 0.877, recall 0.865 (dev 0.871 / 0.837); 100,000 synthetic texts (1,508
distinct) read from CSV in 0.04 s, themes suggested in 1.4 s (each distinct text scored once);
100,000 distinct texts in 16.3 s (6,100 texts/s; the character n-grams take about half).
Re-run the same day with heldout2.csv (micro precision 0.846, recall 0.863; dev and held-out
unchanged) while several test suites ran beside it (a heavily loaded machine: read the times
as ratios): training 5.0 s; 100,000 texts read in 0.14 s, suggested in 3.9 s; 100,000 distinct
texts in 72.7 s.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "themes"
sys.path.insert(0, str(ROOT))

from sjrlib.themes.model import CodedStatement, ThemeModel, train_model  # noqa: E402
from sjrlib.themes.suggest import suggest_many  # noqa: E402


def _statements(name: str) -> list[CodedStatement]:
    with (DATA / name).open(encoding="utf-8", newline="") as fh:
        return [CodedStatement(r["text"], tuple(t for t in r["themes"].split(";") if t))
                for r in csv.DictReader(fh)]


def quality(model: ThemeModel, name: str) -> None:
    """Print precision and recall per theme and micro-averaged on one evaluation file."""
    statements = _statements(name)
    found = suggest_many([s.text for s in statements], model=model)
    print(f"\n{name}: {len(statements)} statements, threshold {model.threshold}")
    print(f"{'theme':22s} {'n':>3s} {'precision':>9s} {'recall':>6s}")
    total = [0, 0, 0]
    for theme in model.themes:
        tp = fp = fn = 0
        for s, got in zip(statements, found):
            shown = theme in {g.theme for g in got}
            tp += shown and theme in s.themes
            fp += shown and theme not in s.themes
            fn += (not shown) and theme in s.themes
        total = [total[0] + tp, total[1] + fp, total[2] + fn]
        print(f"{theme:22s} {tp + fn:3d} {tp / max(tp + fp, 1):9.3f} {tp / max(tp + fn, 1):6.3f}")
    tp, fp, fn = total
    print(f"{'micro-average':22s} {tp + fn:3d} {tp / (tp + fp):9.3f} {tp / (tp + fn):6.3f}")


def _best_of(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()

    start = time.perf_counter()
    model = train_model()
    print(f"training from the seed: {time.perf_counter() - start:.2f} s "
          f"({model.n_seed} statements, {len(model.themes)} themes)")
    for name in ("dev.csv", "heldout.csv", "heldout2.csv"):
        quality(model, name)

    from sjrlib import domain, synthetic

    frame = synthetic.generate(n_organisations=30, years=2, seed=1).reviews
    texts = pd.concat([frame[domain.comment_column(p)] for p in domain.PHASES]).dropna()
    texts = texts.astype(str).reset_index(drop=True)
    texts = pd.concat([texts] * (args.rows // max(len(texts), 1) + 1))[: args.rows]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "texts.csv"
        texts.to_frame("text").to_csv(path, index=False)
        read = _best_of(lambda: pd.read_csv(path, dtype={"text": "string"}))
        values = pd.read_csv(path, dtype={"text": "string"})["text"].fillna("").tolist()
    suggested = _best_of(lambda: suggest_many(values, model=model), repeat=3)
    distinct = len(set(values))
    print(f"\n{len(values):,} judgement texts ({distinct:,} distinct): read from CSV "
          f"{read:.2f} s; suggest themes {suggested:.2f} s "
          f"({len(values) / suggested:,.0f} texts/s)")
    # Real statements are mostly distinct: the same number of texts, each made unique.
    unique = [f"{t} (case {i})" for i, t in enumerate(values)]
    suggested = _best_of(lambda: suggest_many(unique, model=model), repeat=1)
    print(f"{len(unique):,} distinct judgement texts: suggest themes {suggested:.2f} s "
          f"({len(unique) / suggested:,.0f} texts/s)")


if __name__ == "__main__":
    main()
