"""How a bulk import writes on PostgreSQL: keys built once at the end of a first import, and
``COPY`` statements run by a worker thread while the next one's text is built.

- A first import into an empty store drops the foreign keys of the tables it fills (to
  ``reviews``, ``organisations`` and ``reviewers``), the child tables' primary keys and
  ``reviews``' secondary indexes, and creates them again from their own definitions before the
  commit (``bulk._pg_keys_rebuilt``): the schema afterwards is the schema before, the keys
  hold, and a row that breaks one fails the whole import.
- It does so only when nobody is reading the review tables (it would otherwise queue every later
  reader behind its lock) and only for the tables' owner; else the keys are checked row by row.
  A reader of ``organisations`` or ``reviewers`` keeps only the keys to those two row-checked.
- ``bulk._copy_writer``: a statement after a COPY sees the COPY's rows; a COPY's error is raised in
  the importing thread and leaves nothing behind.

The reviews are hand-written (``test_import_copy._rows``), the organisations the hand-made file
of ``tests/data``.
"""

from __future__ import annotations

import time

import psycopg
import pyarrow as pa
import pytest
from access_setup import POSTGRES_URL
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from test_import_cli import sjr
from test_import_copy import DATA, _rows
from test_reimport import write_reviews
from test_rules import review, second

from data_access import bulk, store
from data_access.database import _ORGANISATIONS, _PHASES


def _pg(test):
    """A PostgreSQL test: skipped unless ``SJR_TEST_POSTGRES_URL`` is set."""
    return pytest.mark.postgres(pytest.mark.skipif(
        not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set")(test))

_SCHEMA = """
SELECT 'key', conrelid::regclass::text, conname, pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = current_schema()::regnamespace
UNION ALL
SELECT 'index', tablename, indexname, indexdef FROM pg_indexes
WHERE schemaname = current_schema()
ORDER BY 1, 2, 3
"""


@pytest.fixture
def pg_url(postgres_database):
    """An empty store with the hand-made organisations (PostgreSQL)."""
    assert sjr("import", "organisations", DATA / "organisations.csv",
               "--db", postgres_database).exit_code == 0
    return postgres_database


@pytest.fixture
def engine(pg_url):
    engine = store.get_engine(pg_url)
    yield engine
    engine.dispose()


def _schema(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(_SCHEMA)]


def _import(engine, path, statements: list[str] | None = None) -> store.ImportResult:
    """``path`` imported as ``sjr import reviews`` does; the SQL it sent in ``statements``."""
    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    if statements is not None:
        event.listen(engine, "before_cursor_execute", seen)
    try:
        with engine.connect() as conn:
            known_orgs = store.known_organisations(conn)
        from sjrlib import io

        return store.import_review_blocks(engine, io.stream_reviews(
            path, known_organisations=known_orgs, known_reviews={}))
    finally:
        if statements is not None:
            event.remove(engine, "before_cursor_execute", seen)


_CHILDREN = ("phase_assessments", "problems", "referrals", "review_reasons")
_LOOKUP_KEYS = ("fk_reviews_organisation_code_organisations", "fk_reviews_reviewer_id_reviewers")


def _dropped(statements: list[str]) -> list[str]:
    return [s for s in statements if "DROP CONSTRAINT" in s or s.startswith("DROP INDEX")]


@_pg
def test_a_first_import_builds_the_keys_at_the_end_and_leaves_the_schema_as_it_was(
        engine, tmp_path):
    before = _schema(engine)
    statements: list[str] = []
    result = _import(engine, write_reviews(tmp_path / "r.csv", _rows(620)), statements)
    assert result == store.ImportResult(inserted=620)
    dropped = _dropped(statements)
    # the four child tables' foreign keys and primary keys, reviews' three foreign keys and
    # four secondary indexes (each leading with organisation_code since revision
    # 0034_scope_in_the_index); not reviews' primary key, which other keys point at
    constraints = sorted(s.rsplit('"', 2)[1] for s in dropped if "DROP CONSTRAINT" in s)
    assert constraints == sorted(
        [f"fk_{t}_organisation_code_reviews" for t in _CHILDREN] + [f"pk_{t}" for t in _CHILDREN]
        + ["fk_reviews_second_review_of_reviews", *_LOOKUP_KEYS]), constraints
    # (reviews' unique (organisation_code, review_id), which the child rows' keys point at,
    # stays, as its primary key does: revision 0035_children_scope)
    assert sum(s.startswith("DROP INDEX") for s in dropped) == 3, dropped
    assert _schema(engine) == before
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM phase_assessments").scalar() > 620
        with pytest.raises(IntegrityError, match="fk_phase_assessments_organisation_code_reviews"):
            conn.exec_driver_sql("INSERT INTO phase_assessments (organisation_code, review_id, "
                                 "phase, score) VALUES ('XM1', 'NO-SUCH-REVIEW', 'admission', 3)")
        conn.rollback()
        stored = conn.exec_driver_sql("SELECT organisation_code, review_id, phase FROM "
                                      "phase_assessments LIMIT 1").one()
        with pytest.raises(IntegrityError, match="pk_phase_assessments"):
            conn.exec_driver_sql("INSERT INTO phase_assessments (organisation_code, review_id, "
                                 "phase, score) VALUES (%(o)s, %(r)s, %(p)s, 3)",
                                 {"o": stored[0], "r": stored[1], "p": stored[2]})
        conn.rollback()
        with pytest.raises(IntegrityError, match=_LOOKUP_KEYS[0]):
            conn.exec_driver_sql(_UNKNOWN_ORGANISATION)
    # the store is no longer empty: the next import checks its keys row by row
    more = [dict(r, review_id=f"M{i:04d}", case_id=f"D-{i:05d}")
            for i, r in enumerate(_rows(600))]
    statements.clear()
    assert _import(engine, write_reviews(tmp_path / "m.csv", more), statements) \
        == store.ImportResult(inserted=600)
    assert _dropped(statements) == []
    assert _schema(engine) == before


_UNKNOWN_ORGANISATION = ("INSERT INTO reviews (review_id, organisation_code, review_stage, status) "
                         "VALUES ('R-1', 'ZZ999', 'first', 'submitted')")


@_pg
@pytest.mark.parametrize("constraint, table, statements", [
    ("fk_phase_assessments_organisation_code_reviews", "phase_assessments",
     ["INSERT INTO phase_assessments (organisation_code, review_id, phase, score) "
      "VALUES ('XM1', 'NO-SUCH-REVIEW', 'admission', 3)"]),
    # no key is there to refuse the second row until the end
    ("pk_review_reasons", "review_reasons",
     ["INSERT INTO review_reasons (organisation_code, review_id, reason) "
      "VALUES ('XM1', 'R-1', 'random_sample')"] * 2),
    (_LOOKUP_KEYS[0], "reviews", [_UNKNOWN_ORGANISATION]),
], ids=["foreign-key", "primary-key", "key-to-organisations"])
def test_a_row_that_breaks_a_rebuilt_key_fails_the_whole_import(engine, constraint, table,
                                                                 statements):
    before = _schema(engine)
    with pytest.raises(IntegrityError, match=constraint), \
            engine.begin() as conn, bulk._pg_keys_rebuilt(conn):
        for statement in statements:
            conn.exec_driver_sql(statement)
    assert _schema(engine) == before
    with engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() == 0


@_pg
def test_a_reader_of_the_review_tables_is_not_locked_out(engine, pg_url, tmp_path, monkeypatch):
    monkeypatch.setattr(bulk, "_KEYS_LOCK_WAIT", "200ms")
    reader = store.get_engine(pg_url)
    try:
        with reader.connect() as held:
            held.exec_driver_sql("SELECT count(*) FROM reviews").scalar()  # holds ACCESS SHARE
            statements: list[str] = []
            result = _import(engine, write_reviews(tmp_path / "r.csv", _rows(620)), statements)
            assert result == store.ImportResult(inserted=620)
            assert _dropped(statements) == []  # the lock was not had: keys checked row by row
            # the reader's transaction goes on, and reads the committed import
            assert held.exec_driver_sql("SELECT count(*) FROM reviews").scalar() == 620
    finally:
        reader.dispose()


def _organisations(codes: list[str]) -> list[pa.Array]:
    """``code``, ``name``, ``nation`` columns of made-up organisations."""
    return [pa.array(codes), pa.array([f"Trust {c}" for c in codes]),
            pa.array(["england"] * len(codes))]


@_pg
def test_a_statement_after_a_copy_sees_its_rows(engine):
    with engine.connect() as conn:  # never committed
        known = conn.exec_driver_sql("SELECT count(*) FROM organisations").scalar()
        with bulk._copy_writer(conn):
            writer = conn.info[bulk._COPY_WRITER]
            bulk._copy(conn, _ORGANISATIONS, ("code", "name", "nation"),
                       _organisations([f"Z{i:04d}" for i in range(900)]))

            def late() -> None:  # a COPY whose worker is slow to start
                time.sleep(0.3)
                cursor = conn.connection.driver_connection.cursor()
                with cursor.copy("COPY organisations (code, name, nation) FROM STDIN") as c:
                    c.write(bulk._copy_text(_organisations(["LATE1", "LATE2"])))
                cursor.close()

            writer.submit(late)
            # asked of SQLAlchemy right away: waits for both COPYs before it
            assert conn.exec_driver_sql("SELECT count(*) FROM organisations").scalar() \
                == known + 902
        assert bulk._COPY_WRITER not in conn.info


@_pg
def test_a_copy_that_fails_in_the_worker_raises_here_and_leaves_nothing(engine):
    with engine.connect() as conn:
        known = conn.exec_driver_sql("SELECT count(*) FROM organisations").scalar()
        codes = [f"Y{i:04d}" for i in range(700)]
    # the driver's own error, as from a COPY run in this thread
    with pytest.raises(psycopg.errors.UniqueViolation, match="pk_organisations"), \
            engine.begin() as conn, bulk._copy_writer(conn):
        bulk._copy(conn, _ORGANISATIONS, ("code", "name", "nation"), _organisations(codes))
        bulk._copy(conn, _ORGANISATIONS, ("code", "name", "nation"),
                   _organisations(codes[:1] + [f"X{i:04d}" for i in range(600)]))
        bulk._copy(conn, _PHASES, ("review_id", "phase", "score"),
                   [pa.array(["NONE"] * 600), pa.array(["admission"] * 600),
                    pa.array([3] * 600)])
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM organisations").scalar() == known


@_pg
@pytest.mark.parametrize("lookup", ["organisations", "reviewers"])
def test_a_reader_of_organisations_or_reviewers_keeps_only_their_keys_row_checked(
        engine, pg_url, tmp_path, monkeypatch, lookup):
    """Dropping a review's key to ``organisations`` or ``reviewers`` locks that table, which
    the review form, training and approvals read: held by a reader, both stay and are checked
    row by row, and the keys to ``reviews`` are still built at the end."""
    monkeypatch.setattr(bulk, "_KEYS_LOCK_WAIT", "200ms")
    before = _schema(engine)
    reader = store.get_engine(pg_url)
    try:
        with reader.connect() as held:
            held.exec_driver_sql(f"SELECT count(*) FROM {lookup}").scalar()  # ACCESS SHARE
            statements: list[str] = []
            result = _import(engine, write_reviews(tmp_path / "r.csv", _rows(620)), statements)
            assert result == store.ImportResult(inserted=620)
            constraints = {s.rsplit('"', 2)[1] for s in _dropped(statements)
                           if "DROP CONSTRAINT" in s}
            assert "fk_reviews_second_review_of_reviews" in constraints
            assert len(constraints) == 9 and not constraints & set(_LOOKUP_KEYS), constraints
            # the reader was not kept waiting: it reads on, and sees the committed import
            assert held.exec_driver_sql("SELECT count(*) FROM reviews").scalar() == 620
    finally:
        reader.dispose()
    assert _schema(engine) == before


def test_a_second_stage_file_finds_its_first_stage_reviews_in_a_store_read_as_a_frame(
        db_url, tmp_path):
    """``sjr import reviews`` reads the stored first-stage reviews as Arrow-backed frame
    (``store.known_review_frame``), not a dict: a second-stage review in a later file still
    finds its first-stage review there, and one naming no stored review is refused by row."""
    assert sjr("import", "organisations", DATA / "organisations.csv", "--db", db_url) \
        .exit_code == 0
    firsts = [review(review_id=f"F{i}", case_id=f"C-{i:04d}") for i in range(3)]
    assert sjr("import", "reviews", write_reviews(tmp_path / "first.csv", firsts),
               "--db", db_url).exit_code == 0
    ok = write_reviews(tmp_path / "second.csv",
                       [second(review_id="S1", second_review_of="F1", case_id="C-0001")])
    result = sjr("import", "reviews", ok, "--db", db_url)
    assert result.exit_code == 0, result.output
    assert "1 inserted" in result.output
    bad = write_reviews(tmp_path / "orphan.csv",
                        [second(review_id="S2", second_review_of="F9", case_id="C-0009")])
    refused = sjr("import", "reviews", bad, "--db", db_url)
    assert refused.exit_code != 0
    assert "orphan.csv" in refused.output and "second_review_of" in refused.output
    assert "row 2" in refused.output or "line 2" in refused.output, refused.output


@pytest.mark.parametrize("second_first", [True, False])
def test_a_second_stage_review_is_stored_after_the_review_it_follows_in_either_file_order(
        db_url, tmp_path, second_first):
    """Keys hold at every insert (SQLite checks each row as it goes in): a second-stage review
    listed before the first-stage review it follows is moved after it; listed after it, the
    file's order is kept."""
    assert sjr("import", "organisations", DATA / "organisations.csv", "--db", db_url) \
        .exit_code == 0
    rows = _rows(598)
    pair = [second(review_id="S1", second_review_of="F1", case_id="C-0001"),
            review(review_id="F1", case_id="C-0001")]
    rows = pair + rows if second_first else rows + pair[::-1]
    result = sjr("import", "reviews", write_reviews(tmp_path / "r.csv", rows), "--db", db_url)
    assert result.exit_code == 0, result.output
    assert "600 inserted" in result.output
    engine = store.get_engine(db_url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT second_review_of FROM reviews WHERE review_id "
                                        "= 'S1'").scalar() == "F1"
    finally:
        engine.dispose()


def test_a_reference_without_a_referral_in_a_bulk_import_is_refused_and_nothing_written(
        db_url, tmp_path):
    """The referral rows of a bulk import are built as Arrow columns for ``COPY``
    (PostgreSQL) or as tuples (SQLite); a reference with no status has no row to go in, so
    both refuse the import, naming the column, rather than lose it."""
    from sjrlib import io

    assert sjr("import", "organisations", DATA / "organisations.csv", "--db", db_url) \
        .exit_code == 0
    frame = io.read_reviews(write_reviews(tmp_path / "r.csv", _rows(620)))
    plain = frame.index[frame["referral_psii"].isna()][0]
    frame.loc[plain, "referral_ref_psii"] = "PSII/26/009"
    engine = store.get_engine(db_url)
    try:
        with pytest.raises(store.StoreError, match="referral_ref_psii"):
            store.import_reviews(engine, frame)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM reviews").scalar() == 0
            assert conn.exec_driver_sql("SELECT count(*) FROM referrals").scalar() == 0
    finally:
        engine.dispose()


@pytest.mark.parametrize("values, start, length, expected", [
    (["plain", "text", None, ""], 0, 4, False),
    (["a\tb"], 0, 1, True),
    (["line\nbreak"], 0, 1, True),
    (["carriage\rreturn"], 0, 1, True),
    (["back\\slash"], 0, 1, True),
    (["a\tb", "clean", "also clean"], 1, 2, False),  # the tab lies before the slice
    (["clean", "clean", "x\\y"], 0, 2, False),  # the backslash lies after it
    (["clean", "x\ny", "clean"], 1, 1, True),
    ([None, None], 0, 2, False),
])
def test_needs_escape_looks_only_at_the_values_of_the_slice(values, start, length, expected):
    array = pa.array(values, type=pa.string()).slice(start, length)
    assert bulk._needs_escape(array) is expected
    # and COPY's text of the slice, written out here by hand, is what is sent
    escaped = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
    lines = ["\\N" if v is None else "".join(escaped.get(ch, ch) for ch in v)
             for v in values[start:start + length]]
    assert bytes(bulk._copy_text([array])).decode() == "".join(f"{line}\n" for line in lines)
