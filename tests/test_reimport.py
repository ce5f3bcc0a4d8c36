"""Re-importing a file: unchanged reviews are found by their content hash and never rewritten
(issue 17 part 6; ``data_access.bulk``, revision ``0010_review_hash``).

Inputs are written by hand here (rows from ``test_rules.review`` / ``second`` / ``ext``), not
drawn from the synthetic generator; every import goes through ``sjr import`` (the governed
session) into real SQLite and PostgreSQL stores, and what the store holds is compared table by
table, every column (``version``, ``updated_at``, ``updated_by``, the hash) and every child row.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text
from test_import_cli import dump, sjr
from test_rules import TODAY, ext, review, second

from data_access import audit, bulk, store
from data_access.models import Base
from sjrlib import domain
from sjrlib.schema import validate_reviews

DATA = Path(__file__).parent / "data"


def _rows() -> list[dict]:
    """Four reviews: a 2017 first-stage review with a problem, its second-stage review, and
    two ext2026 reviews with referrals and (one) two reasons."""
    return [
        review(),
        second(),
        ext(review_id="E1", case_id="C-0003", referral_complaint="planned",
            referral_ref_complaint="CMP 5521"),
        ext(review_id="E2", case_id="C-0004", review_reasons="family_concern;learning_disability",
            learning_disability="yes", problem_medication="yes", any_problems="yes"),
    ]


def write_reviews(path: Path, rows: list[dict]) -> Path:
    """Hand-written review rows as an exchange-format CSV (blank where a row says nothing)."""
    columns = list(domain.REVIEW_COLUMNS)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})
    return path


def _changed(rows: list[dict], review_id: str, **changes: str) -> list[dict]:
    return [dict(r, **changes) if r["review_id"] == review_id else r for r in rows]


@pytest.fixture
def stored(db_url, tmp_path):
    """A store holding the four reviews, and their file."""
    assert sjr("import", "organisations", DATA / "organisations.csv", "--db", db_url) \
        .exit_code == 0
    path = write_reviews(tmp_path / "reviews.csv", _rows())
    first = sjr("import", "reviews", path, "--db", db_url)
    assert first.exit_code == 0, first.output
    assert "4 inserted, 0 updated, 0 unchanged" in first.output
    return path


def _reviews(url: str) -> dict[str, tuple]:
    return {row[0]: row for row in dump(url)["reviews"]}


def _children(url: str, review_id: str) -> dict[str, list[tuple]]:
    return {name: [r for r in rows if r[0] == review_id] for name, rows in dump(url).items()
            if name in ("phase_assessments", "problems", "review_reasons", "referrals")}


def _sql(url: str, sql: str, **params) -> list[tuple]:
    engine = store.get_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(sql), params)
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()


def _import_audits(url: str) -> pd.DataFrame:
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            return audit.entries(conn, action="import.reviews")
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------ no-op ----
@pytest.mark.parametrize("update", [False, True], ids=["plain", "update"])
def test_an_identical_reimport_writes_nothing(db_url, stored, update):
    before = dump(db_url)
    args = ("--update",) if update else ()
    result = sjr("import", "reviews", stored, "--db", db_url, *args)
    assert result.exit_code == 0, result.output
    assert "0 inserted, 0 updated, 4 unchanged" in result.output
    # every column of every stored row, versions, saved-at and saver included, and every
    # child row, exactly as before
    assert dump(db_url) == before
    entries = _import_audits(db_url)
    assert list(entries["rows"]) == [4, 0]  # the audit claims no row written


def test_the_first_import_records_each_reviews_hash_for_its_version(db_url, stored):
    rows = _sql(db_url, "SELECT review_id, version, content_hash, content_hash_version "
                        "FROM reviews ORDER BY review_id")
    assert [r[0] for r in rows] == ["E1", "E2", "R1", "R2"]
    assert all(r[2] is not None and r[3] == r[1] == 1 for r in rows)
    assert len({r[2] for r in rows}) == 4


# ------------------------------------------------------------------- changed reviews ----
def test_one_changed_field_updates_that_review_only(db_url, stored, tmp_path):
    before = _reviews(db_url)
    children = {r: _children(db_url, r) for r in before}
    path = write_reviews(tmp_path / "changed.csv", _changed(
        _rows(), "E1", comment_overall="Adequate care; escalation was timely on review."))
    refused = sjr("import", "reviews", path, "--db", db_url)
    assert refused.exit_code == 1 and "E1" in refused.output and "--update" in refused.output
    assert _reviews(db_url) == before

    result = sjr("import", "reviews", path, "--db", db_url, "--update")
    assert result.exit_code == 0, result.output
    assert "0 inserted, 1 updated, 3 unchanged" in result.output
    after = _reviews(db_url)
    for review_id in ("E2", "R1", "R2"):
        assert after[review_id] == before[review_id], review_id
        assert _children(db_url, review_id) == children[review_id], review_id
    names = list(Base.metadata.tables["reviews"].columns.keys())
    old, new = dict(zip(names, before["E1"], strict=True)), dict(zip(names, after["E1"],
                                                                     strict=True))
    assert new["version"] == 2 and new["content_hash_version"] == 2
    assert new["updated_at"] != old["updated_at"]
    assert new["content_hash"] != old["content_hash"]
    assert [r[3] for r in _children(db_url, "E1")["phase_assessments"] if r[1] == "overall"] \
        == ["Adequate care; escalation was timely on review."]
    audits = _import_audits(db_url)
    # the refused run is recorded as such (import.reviews.rejected), without rows
    assert list(audits["action"]) == ["import.reviews", "import.reviews.rejected",
                                      "import.reviews"]
    assert list(audits.loc[audits["action"] == "import.reviews", "rows"]) == [4, 1]

    again = sjr("import", "reviews", path, "--db", db_url, "--update")
    assert "0 inserted, 0 updated, 4 unchanged" in again.output
    assert _reviews(db_url) == after


# a child row: its own columns, then its review's organisation (0035_children_scope)
CHILD_CHANGES = {
    "problem": ("R1", {"problem_monitoring": "yes"}, "problems",
                [("R1", "monitoring", "yes", "RXX")]),
    "problem-added": ("E2", {"problem_infection": "probably"}, "problems",
                      [("E2", "infection", "probably", "RXX"), ("E2", "medication", "yes", "RXX"),
                       ("E2", "monitoring", "probably", "RXX")]),
    "referral-status": ("E1", {"referral_complaint": "made"}, "referrals", None),
    "referral-reference": ("E1", {"referral_ref_complaint": "CMP 5522"}, "referrals", None),
    "reason-added": ("R1", {"review_reasons": "random_sample;alarm"}, "review_reasons",
                     [("R1", "alarm", "RXX"), ("R1", "random_sample", "RXX")]),
    "reason-removed": ("E2", {"review_reasons": "family_concern"}, "review_reasons",
                       [("E2", "family_concern", "RXX")]),
}


@pytest.mark.parametrize("case", CHILD_CHANGES, ids=list(CHILD_CHANGES))
def test_a_change_held_only_in_child_rows_is_found(db_url, stored, tmp_path, case):
    review_id, changes, table, expected = CHILD_CHANGES[case]
    before = dump(db_url)
    path = write_reviews(tmp_path / f"{case}.csv", _changed(_rows(), review_id, **changes))
    refused = sjr("import", "reviews", path, "--db", db_url)
    assert refused.exit_code == 1 and review_id in refused.output, refused.output
    assert dump(db_url) == before

    result = sjr("import", "reviews", path, "--db", db_url, "--update")
    assert result.exit_code == 0, result.output
    assert "0 inserted, 1 updated, 3 unchanged" in result.output
    rows = sorted(r for r in dump(db_url)[table] if r[0] == review_id)
    if expected is None:  # referrals: (review, type, status, reference, organisation)
        complaint = [r for r in rows if r[1] == "complaint"]
        assert complaint == [("E1", "complaint", changes.get("referral_complaint", "planned"),
                              changes.get("referral_ref_complaint", "CMP 5521"), "RXX")]
    else:
        assert [tuple(r) for r in rows] == expected
    assert _reviews(db_url)[review_id][1:] != {r[0]: r for r in before["reviews"]}[
        review_id][1:]


# ------------------------------------------------------------------------ all or nothing ----
def test_a_reimport_refused_anywhere_stores_nothing(db_url, stored, tmp_path):
    before = dump(db_url)
    new = ext(review_id="E3", case_id="C-0005")
    # a changed review and a new one, then a row that fails validation: nothing at all
    rows = _changed(_rows(), "R1", comment_overall="Changed.") + [new, dict(
        ext(review_id="E4", case_id="C-0006"), sex="M")]
    bad = sjr("import", "reviews", write_reviews(tmp_path / "bad.csv", rows), "--db", db_url,
              "--update")
    assert bad.exit_code == 1 and "bad.csv, row 7, column sex" in bad.output, bad.output
    assert dump(db_url) == before
    # a conflict (changed without --update) beside a new review: the new one is not stored
    conflict = sjr("import", "reviews", write_reviews(tmp_path / "conflict.csv",
                                               _changed(_rows(), "R1", comment_overall="X.")
                                               + [new]), "--db", db_url)
    assert conflict.exit_code == 1 and "R1" in conflict.output
    assert dump(db_url) == before
    # unchanged reviews beside a new one: one inserted, nothing else touched
    added = sjr("import", "reviews", write_reviews(tmp_path / "added.csv", [*_rows(), new]),
                "--db", db_url)
    assert added.exit_code == 0 and "1 inserted, 0 updated, 4 unchanged" in added.output
    after = dump(db_url)
    assert {k: v for k, v in _reviews(db_url).items() if k != "E3"} == _reviews_of(before)
    assert len(after["reviews"]) == 5


def _reviews_of(dumped: dict[str, list[tuple]]) -> dict[str, tuple]:
    return {row[0]: row for row in dumped["reviews"]}


def test_reasons_listed_in_another_order_are_no_change(db_url, stored, tmp_path):
    """The hash differs (the file's text differs), so the review is compared: the store keeps
    reasons as a set, so it is unchanged, and nothing of it is rewritten."""
    before = dump(db_url)
    path = write_reviews(tmp_path / "reordered.csv", _changed(
        _rows(), "E2", review_reasons="learning_disability; family_concern"))
    result = sjr("import", "reviews", path, "--db", db_url)
    assert result.exit_code == 0, result.output
    assert "0 inserted, 0 updated, 4 unchanged" in result.output
    names = list(Base.metadata.tables["reviews"].columns.keys())
    content = [i for i, n in enumerate(names) if n != "content_hash"]
    after = dump(db_url)
    assert [tuple(r[i] for i in content) for r in after["reviews"]] == \
        [tuple(r[i] for i in content) for r in before["reviews"]]
    assert {k: v for k, v in after.items() if k != "reviews"} == \
        {k: v for k, v in before.items() if k != "reviews"}


# -------------------------------------------------------- hashes that do not vouch ----
def test_a_review_saved_since_the_import_is_compared_not_trusted_by_its_hash(db_url, stored):
    """A reviewer's save changes the review and bumps its version but not the hash: the old
    file then differs from the store, and the re-import must say so."""
    engine = store.get_engine(db_url)
    try:
        with engine.begin() as conn:
            values = store.load_reviews(conn).set_index("review_id").loc["E2"].to_dict()
            values["review_id"] = "E2"
            values["comment_overall"] = "Edited by the reviewer after the import."
            assert store.save_review(conn, values, 1, saved_by="REV-07") == ("E2", 2)
    finally:
        engine.dispose()
    before = dump(db_url)
    refused = sjr("import", "reviews", stored, "--db", db_url)
    assert refused.exit_code == 1 and "E2" in refused.output, refused.output
    assert dump(db_url) == before
    result = sjr("import", "reviews", stored, "--db", db_url, "--update")
    assert "0 inserted, 1 updated, 3 unchanged" in result.output, result.output
    assert _reviews(db_url)["E2"][1:] != _reviews_of(before)["E2"][1:]
    assert _sql(db_url, "SELECT version, content_hash_version FROM reviews "
                        "WHERE review_id = 'E2'") == [(3, 3)]


def test_reviews_stored_without_a_hash_are_compared_then_given_one(db_url, stored):
    """A store from before revision 0010 has no hashes: the first re-import compares every
    review column by column, writes nothing of the reviews, and records their hashes."""
    _sql(db_url, "UPDATE reviews SET content_hash = NULL, content_hash_version = NULL")
    before = dump(db_url)
    result = sjr("import", "reviews", stored, "--db", db_url, "--update")
    assert result.exit_code == 0, result.output
    assert "0 inserted, 0 updated, 4 unchanged" in result.output
    after = dump(db_url)
    names = list(Base.metadata.tables["reviews"].columns.keys())
    hashed = [names.index("content_hash"), names.index("content_hash_version")]

    def without_hash(rows):
        return [tuple(v for i, v in enumerate(r) if i not in hashed) for r in rows]

    assert without_hash(after["reviews"]) == without_hash(before["reviews"])
    assert {k: v for k, v in after.items() if k != "reviews"} == \
        {k: v for k, v in before.items() if k != "reviews"}
    assert all(r[hashed[0]] is not None and r[hashed[1]] == 1 for r in after["reviews"])
    assert list(_import_audits(db_url)["rows"]) == [4, 0]


# --------------------------------------------------------------------------- the hash ----
def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = validate_reviews(pd.DataFrame(rows), today=TODAY)
    return bulk._conform(frame, domain.REVIEW_COLUMNS, domain.REVIEW_DTYPES, "review")


def test_the_hash_tells_blanks_from_text_and_sees_every_column():
    base = _frame([review()])
    same = bulk.content_hashes(_frame([review()]))
    assert (bulk.content_hashes(base) == same).all()
    for column, value in (("comment_ongoing", "None"), ("comment_ongoing", "nan"),
                          ("comment_ongoing", ""), ("score_ongoing", "0")):
        other = base.copy()
        other[column] = pd.array([value], dtype=base[column].dtype)
        assert (bulk.content_hashes(other) != same).all(), (column, value)
    for column in domain.REVIEW_COLUMNS:  # a change in any one column changes the hash
        other = base.copy()
        if base[column].isna().iloc[0]:
            continue
        other[column] = pd.array([None], dtype=base[column].dtype)
        assert (bulk.content_hashes(other) != same).all(), column
