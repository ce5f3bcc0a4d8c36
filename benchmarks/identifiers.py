"""Benchmark: recall and false positives of the identifier screen, and the bulk screen's speed.

    python benchmarks/identifiers.py [--rows 150000] [--show-misses]

Figures printed (nothing asserted here; tests/test_privacy_corpus.py holds the quality goal):

* **recall** per kind and overall on ``tests/data/identifier_corpus/identifiers.tsv`` (each row:
  kind, the identifier exactly as written, a sentence holding it), for
  :func:`sjrlib.privacy.find_identifiers` (a finding overlapping the identifier counts) and for
  the bulk screen :func:`sjrlib.privacy.contains_identifiers` (the sentence flagged).
* **false-positive rate** on ``clean.tsv`` (clinical judgement sentences with numbers, dates,
  eponyms, drugs, scores, wards, doses, times and history dates, and no identifier): the share
  of sentences with any finding / flagged by the bulk screen.
* **bulk screen time** over ``--rows`` comments (the clean and identifier sentences repeated, so
  about 1 in 2 is a candidate: harsher than real data) and over ``--rows`` synthetic comments
  (``sjrlib.synthetic``), best of 3. Goal: goal recall >= 95% at <= 2% false positives; the
  bulk screen of 150k real-looking comments in about a second.

The corpus was written by hand, independently of the detector: ``identifiers.tsv`` and
``clean.tsv`` before the detector was rewritten (then used to develop it), ``heldout_*.tsv``
afterwards and never tuned on, as a check of how the rules generalise.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "identifier_corpus"
sys.path.insert(0, str(ROOT))

from sjrlib.privacy import contains_identifiers, find_identifiers  # noqa: E402


def load(name: str) -> list[dict[str, str]]:
    """Rows of one corpus file (tab-separated, with a header)."""
    with open(CORPUS / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_MINIMAL))


def measure(prefix: str = "") -> dict:
    """Recall per kind and false-positive rates, for find_identifiers and the bulk screen, on
    ``{prefix}identifiers.tsv`` and ``{prefix}clean.tsv``."""
    identifiers, clean = load(f"{prefix}identifiers.tsv"), load(f"{prefix}clean.tsv")
    flagged = contains_identifiers(pd.Series([r["sentence"] for r in identifiers])).tolist()
    total, found, bulk, misses = Counter(), Counter(), Counter(), []
    for row, screened in zip(identifiers, flagged, strict=True):
        start = row["sentence"].index(row["identifier"])
        end = start + len(row["identifier"])
        hit = any(f.start < end and f.end > start for f in find_identifiers(row["sentence"]))
        total[row["kind"]] += 1
        found[row["kind"]] += hit
        bulk[row["kind"]] += bool(screened)
        if not hit or not screened:
            misses.append((row["kind"], row["identifier"], row["sentence"], hit, bool(screened)))
    clean_found = [r["sentence"] for r in clean if find_identifiers(r["sentence"])]
    clean_bulk = contains_identifiers(pd.Series([r["sentence"] for r in clean])).tolist()
    return {
        "kinds": {k: (total[k], found[k], bulk[k]) for k in sorted(total)},
        "recall_find": sum(found.values()) / sum(total.values()),
        "recall_bulk": sum(bulk.values()) / sum(total.values()),
        "n_identifiers": sum(total.values()),
        "n_clean": len(clean),
        "fp_find": len(clean_found) / len(clean),
        "fp_bulk": sum(clean_bulk) / len(clean),
        "false_positives": clean_found,
        "misses": misses,
    }


def _best_of(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=150_000)
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()

    for prefix, title in (("", "Corpus (written before the detector was changed)"),
                          ("heldout_", "Held-out part (written after, never tuned on)")):
        m = measure(prefix)
        print(f"{title}: {m['n_identifiers']} identifiers, {m['n_clean']} clean sentences")
        print(f"{'kind':<16}{'n':>5}{'find':>9}{'bulk':>9}")
        for kind, (n, f, b) in m["kinds"].items():
            print(f"{kind:<16}{n:>5}{f / n:>9.1%}{b / n:>9.1%}")
        print(f"{'overall':<16}{m['n_identifiers']:>5}{m['recall_find']:>9.1%}"
              f"{m['recall_bulk']:>9.1%}")
        print(f"false positives: find {m['fp_find']:.1%}, bulk {m['fp_bulk']:.1%} "
              f"of {m['n_clean']} clean sentences\n")
        if args.show_misses:
            for kind, ident, sentence, hit, screened in m["misses"]:
                print(f"  MISS {kind} find={hit} bulk={screened}: {ident!r} in {sentence!r}")
            for sentence in m["false_positives"]:
                found = [(f.kind, f.text) for f in find_identifiers(sentence)]
                print(f"  FALSE POSITIVE {found}: {sentence!r}")

    sentences = [r["sentence"] for r in load("clean.tsv") + load("identifiers.tsv")]
    mixed = pd.Series((sentences * (args.rows // len(sentences) + 1))[: args.rows],
                      dtype="string[pyarrow]")
    print(f"bulk screen, {args.rows:,} corpus sentences (about half candidates): "
          f"{_best_of(lambda: contains_identifiers(mixed)):.2f} s")
    from sjrlib import domain, synthetic

    frame = synthetic.generate(n_organisations=30, years=2, seed=1).reviews
    if len(frame):
        comments = pd.concat([frame[domain.comment_column(p)] for p in domain.PHASES])
        comments = comments.dropna().astype("string[pyarrow]").reset_index(drop=True)
        comments = pd.concat([comments] * (args.rows // max(len(comments), 1) + 1))[: args.rows]
        print(f"bulk screen, {len(comments):,} synthetic comments: "
              f"{_best_of(lambda: contains_identifiers(comments)):.2f} s")
        # Real comments rarely repeat: every text distinct, so each candidate is checked.
        distinct = pd.Series([f"{c} Reviewed on day {i % 97}, bed {i}." for i, c in
                              enumerate(comments.tolist())], dtype="string[pyarrow]")
        print(f"bulk screen, {len(distinct):,} distinct synthetic comments: "
              f"{_best_of(lambda: contains_identifiers(distinct), repeat=1):.2f} s")


if __name__ == "__main__":
    main()
