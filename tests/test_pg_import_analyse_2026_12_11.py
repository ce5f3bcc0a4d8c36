"""An owner's import that grows the review tables by half or more has them analysed before it
commits (``bulk._analyse_grown``); a small one leaves it to autovacuum.

Without statistics the planner took a reviewer's rows of each child table for a row or two
(revision ``0035_children_scope`` makes every scan of theirs an index scan on their
organisation) and planned the review frame's load as a nested loop computing each child
table's groups again per review: a reviewer's load of 1,938 reviews right after a first import
ran for more than 18 minutes. The reviews are hand-written (``test_import_copy._rows``).
"""

from __future__ import annotations

import time

import pytest
from access_setup import POSTGRES_URL
from test_import_cli import sjr
from test_import_copy import DATA, _rows
from test_reimport import write_reviews

from data_access import store

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set"),
]

TABLES = ("reviews", "phase_assessments", "problems", "review_reasons", "referrals")

# pg_class.reltuples is -1 until a table is first vacuumed, analysed or indexed (a first
# import's keys, built at its end, set it too: on 2202439 the first import left 300, and only
# the last check, 700 after a growing import, failed); the count it holds is the count the
# last of those saw. Autovacuum cannot get in first: it analyses a table only after its
# changes are committed, and only after at least a minute's nap here.
_STATISTICS = ("SELECT relname, reltuples FROM pg_class WHERE oid = ANY(%(t)s::regclass[]) "
               "ORDER BY relname")


def _statistics(engine) -> dict[str, float]:
    with engine.connect() as conn:
        return dict(conn.exec_driver_sql(_STATISTICS, {"t": list(TABLES)}).all())


def _import(url: str, path) -> None:
    assert sjr("import", "reviews", path, "--db", url).exit_code == 0


def test_an_import_that_grows_the_store_analyses_it(postgres_database, tmp_path):
    url = postgres_database
    assert sjr("import", "organisations", DATA / "organisations.csv", "--db", url
               ).exit_code == 0
    engine = store.get_engine(url)
    try:
        assert set(_statistics(engine).values()) == {-1.0}  # a new store: never analysed
        first = _rows(300)
        _import(url, write_reviews(tmp_path / "first.csv", first))
        after_first = _statistics(engine)
        assert after_first["reviews"] == 300, after_first
        assert after_first["phase_assessments"] > 300, after_first  # several phases a review
        assert after_first["review_reasons"] > 0, after_first
        # 100 more (a third of 300): not analysed again
        more = [dict(r, review_id=f"M{i:04d}", case_id=f"D-{i:05d}")
                for i, r in enumerate(_rows(100))]
        _import(url, write_reviews(tmp_path / "more.csv", more))
        assert _statistics(engine) == after_first
        # 300 more (three fifths of 400): analysed
        most = [dict(r, review_id=f"N{i:04d}", case_id=f"E-{i:05d}")
                for i, r in enumerate(_rows(300))]
        _import(url, write_reviews(tmp_path / "most.csv", most))
        assert _statistics(engine)["reviews"] == 700
    finally:
        engine.dispose()


# What the planner needs before the commit (revision 0036_analyse_key_columns): the columns
# the scopes, keys and joins compare. The answers and free text are left to autovacuum, which
# analyses the whole tables after the commit (the import's rows count as changes then).
_COLUMNS = ("SELECT tablename, attname FROM pg_stats WHERE schemaname = current_schema() "
            "AND tablename = ANY(%(t)s)")


def test_an_import_analyses_the_key_columns_before_its_commit(postgres_database, tmp_path):
    url = postgres_database
    assert sjr("import", "organisations", DATA / "organisations.csv", "--db", url
               ).exit_code == 0
    _import(url, write_reviews(tmp_path / "first.csv", _rows(300)))
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            analysed = set(conn.exec_driver_sql(_COLUMNS, {"t": list(TABLES)}).all())
        changed = _changes_counted(engine)
    finally:
        engine.dispose()
    for column in ("review_id", "organisation_code", "review_stage", "status", "reviewer_id"):
        assert ("reviews", column) in analysed, sorted(analysed)
    for table, column in (("phase_assessments", "phase"), ("problems", "problem_type"),
                          ("review_reasons", "reason"), ("phase_assessments", "review_id")):
        assert (table, column) in analysed, sorted(analysed)
    for column in ("specialty", "cause_of_death", "age_at_death", "avoidability_score"):
        assert ("reviews", column) not in analysed  # autovacuum's, after the commit
    assert ("phase_assessments", "comment") not in analysed
    # the import's rows still count as changes since the last analysis: autovacuum will come
    assert changed >= 300, changed


def _changes_counted(engine) -> int:
    """``reviews``' changes since its last analysis, once the importing backend has reported
    them (a backend sends its counts at most once a second, or when idle or gone)."""
    deadline = time.monotonic() + 30
    with engine.connect() as conn:
        while True:
            conn.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
            changed = conn.exec_driver_sql(
                "SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = 'reviews'"
            ).scalar()
            if (changed or 0) >= 300 or time.monotonic() > deadline:
                return int(changed or 0)
            time.sleep(0.2)
