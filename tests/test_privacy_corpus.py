"""The identifier screen on a hand-written corpus (tests/data/identifier_corpus, written before
the detector was changed and independently of it), and the bulk screen agreeing with
find_identifiers on the corpus and on random texts."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from sjrlib import privacy
from sjrlib.privacy import contains_identifiers, find_identifiers, mask, redact

CORPUS = Path(__file__).parent / "data" / "identifier_corpus"


def _rows(name: str) -> list[dict[str, str]]:
    with open(CORPUS / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


IDENTIFIERS = _rows("identifiers.tsv")
CLEAN = [r["sentence"] for r in _rows("clean.tsv")]


def _found(row: dict[str, str]) -> bool:
    start = row["sentence"].index(row["identifier"])
    end = start + len(row["identifier"])
    return any(f.start < end and f.end > start for f in find_identifiers(row["sentence"]))


def test_the_corpus_is_what_it_says():
    assert len(IDENTIFIERS) >= 150 and len(CLEAN) >= 150
    kinds = Counter(r["kind"] for r in IDENTIFIERS)
    assert set(kinds) == {"nhs_number", "chi_number", "phone", "email", "postcode",
                          "hospital_number", "date_of_birth", "name", "address"}
    assert all(r["identifier"] in r["sentence"] for r in IDENTIFIERS)


def test_recall_at_least_95_percent_and_false_positives_at_most_2_percent():
    missed = [(r["kind"], r["identifier"]) for r in IDENTIFIERS if not _found(r)]
    recall = 1 - len(missed) / len(IDENTIFIERS)
    flagged = [s for s in CLEAN if find_identifiers(s)]
    assert recall >= 0.95, missed
    assert len(flagged) / len(CLEAN) <= 0.02, flagged
    for kind in {r["kind"] for r in IDENTIFIERS}:  # no kind left far behind
        rows = [r for r in IDENTIFIERS if r["kind"] == kind]
        assert sum(map(_found, rows)) / len(rows) >= 0.85, kind


def test_the_bulk_screen_agrees_with_find_identifiers_on_the_whole_corpus():
    texts = [r["sentence"] for r in IDENTIFIERS] + CLEAN
    expected = [bool(find_identifiers(t)) for t in texts]
    assert contains_identifiers(pd.Series(texts)).tolist() == expected
    assert contains_identifiers(pd.Series(texts, dtype="string[pyarrow]")).tolist() == expected


# Random texts built from the pieces identifiers are made of, written as people write them
# (no-break and thin spaces, en dashes, dots, brackets, titles, cue words, first names).
_PIECES = st.sampled_from([
    " ", "  ", "\u00a0", "\u2009", "-", "\u2013", "\u2014", "\u2212", ".", "/", ",", ":", "(",
    ")", "+", "@", "'", "\u2019", "0", "1", "4", "7", "9", "44", "943", "476", "5919", "0161",
    "07700", "900123", "1951", "03", "12", "Apr", "April", "3rd", "of", "the", "DOB", "born",
    "d.o.b.", "Mr", "MRS", "mrs", "Dr", "Sister", "daughter", "seen by", "NOK", "patient",
    "John", "JOHN", "Smith", "SMITH", "o'neill", "Jane", "Doe", "Parkinson", "'s", "disease",
    "Hospital", "Ward", "Flat", "High", "Street", "Road", "LS1", "4AP", "sw1a", "1aa", "MRN",
    "no", "hosp", "number", "CABG", "admitted", "on", "in", "é", "_", "x", "A", "Z", "q",
])


@settings(deadline=None, max_examples=300)
@given(st.lists(_PIECES, min_size=1, max_size=14).map("".join))
def test_the_bulk_screen_never_misses_what_find_identifiers_finds(text):
    # Past _SMALL texts, so the RE2 pre-filter is used (below it every text is checked fully).
    clean = (CLEAN * 2)[: privacy._SMALL + 1]
    texts = pd.Series([text, *clean], dtype="string[pyarrow]")
    expected = [bool(find_identifiers(text))] + [False] * len(clean)
    assert contains_identifiers(texts).tolist() == expected


def test_small_and_large_inputs_take_the_two_paths_alike():
    texts = [r["sentence"] for r in IDENTIFIERS[:60]] + CLEAN[:60] + [None, 9434765919]
    small = contains_identifiers(pd.Series(texts, dtype=object)).tolist()
    large = contains_identifiers(pd.Series(texts * 3, dtype=object)).tolist()
    assert small == large[: len(texts)] and small[-1] is True and small[-2] is False


def test_findings_point_at_the_text_as_written():
    for row in IDENTIFIERS:
        for f in find_identifiers(row["sentence"]):
            assert row["sentence"][f.start : f.end] == f.text


def test_masks_and_redactions_never_carry_the_identifier():
    for row in IDENTIFIERS:
        text = row["sentence"]
        findings = find_identifiers(text)
        assert row["identifier"] not in redact(text)
        for f in findings:
            if sum(c.isalnum() for c in f.text) >= 4:
                assert mask(f) != f.text and len(mask(f)) == len(f.text)
