"""A bulk import stores every value exactly, on SQLite and through ``COPY`` on PostgreSQL.

``data_access.bulk`` writes a block of 500 rows or more on PostgreSQL as ``COPY ... FROM STDIN``
text built by Arrow kernels: tabs, newlines, carriage returns and backslashes inside values are
escaped, a blank is ``NULL`` and an empty answer is never confused with the text ``\\N``. The
rows are written by hand here (``test_rules.review`` / ``ext``), many enough to take the COPY
path, with the awkward text in reviewers' comments and causes of death.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_import_cli import dump, sjr
from test_reimport import write_reviews
from test_rules import ext, review

from data_access import store

DATA = Path(__file__).parent / "data"
AWKWARD = [
    "Tab\tinside the comment.",
    "Back\\slash, and a literal \\N that is text, not a blank.",
    "Two lines:\nthe second line.",
    "Carriage\r\nreturn and newline.",
    "Quotes \"double\" and 'single'; a semicolon.",
    "Ends with a backslash \\",
    "Accents: Sinéad, Zoë, Łódź; a dash \u2013 and a euro \u20ac.",
]


def _rows(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        make = ext if i % 2 else review
        text = AWKWARD[i % len(AWKWARD)]
        rows.append(make(review_id=f"K{i:04d}", case_id=f"C-{i:05d}",
                         comment_overall=f"{text} ({i})", cause_of_death=text,
                         comment_ongoing="" if i % 3 else f"Ongoing {i}.",
                         score_ongoing="" if i % 3 else str(1 + i % 5)))
    return rows


def _read(text: str) -> str:
    return text.replace("\r\n", "\n")


@pytest.mark.parametrize("n", [620])
def test_awkward_text_is_stored_exactly_and_a_reimport_finds_it_unchanged(db_url, tmp_path, n):
    assert sjr("import", "organisations", DATA / "organisations.csv", "--db", db_url) \
        .exit_code == 0
    rows = _rows(n)
    path = write_reviews(tmp_path / "awkward.csv", rows)
    result = sjr("import", "reviews", path, "--db", db_url)
    assert result.exit_code == 0, result.output
    assert f"{n} inserted" in result.output
    engine = store.get_engine(db_url)
    try:
        with engine.connect() as conn:
            stored = store.load_reviews(conn).set_index("review_id")
    finally:
        engine.dispose()
    for row in rows:
        got = stored.loc[row["review_id"]]
        # the reader turns a CRLF inside a cell into a newline; everything else as written
        assert got["comment_overall"] == _read(row["comment_overall"]), row["review_id"]
        assert got["cause_of_death"] == _read(row["cause_of_death"]), row["review_id"]
        if row["comment_ongoing"]:
            assert got["comment_ongoing"] == row["comment_ongoing"]
            assert got["score_ongoing"] == int(row["score_ongoing"])
        else:
            assert got.isna()["comment_ongoing"] and got.isna()["score_ongoing"]
        assert str(got["review_date"])[:10] == row["review_date"]
        assert got["form_version"] == (row["form_version"] or "rcp2017")
    assert (stored.loc[[r["review_id"] for r in rows if r.get("referral_ref_psii")],
                       "referral_ref_psii"] == "PSII-2024-0042").all()
    before = dump(db_url)
    again = sjr("import", "reviews", path, "--db", db_url, "--update")
    assert f"0 inserted, 0 updated, {n} unchanged" in again.output, again.output
    assert dump(db_url) == before
