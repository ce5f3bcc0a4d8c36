"""Reviews streamed into the store while the file is still being validated.

``io.stream_reviews`` yields each block as soon as its rows pass; ``store.import_review_blocks``
writes it into one open transaction (validating the next block in a worker thread meanwhile)
and commits only after the whole file has passed. These tests use blocks of about 1 MB (the
smallest the reader makes), so the small synthetic file is three blocks and a problem in the
last block is found after the first blocks were written.
"""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import select

from data_access import store
from data_access.models import Base
from sjrlib import io
from sjrlib.schema import ValidationFailed

STORE_TABLES = ("organisations", "reviewers", "reviews", "phase_assessments", "problems",
                "review_reasons", "referrals", "deaths")
SMALL_BLOCKS = 1  # bytes: every Arrow read (about 1 MB) is a block of its own


def dump(engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        tables = {n: Base.metadata.tables[n] for n in STORE_TABLES}
        out = {n: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
               for n, t in tables.items()}
        if conn.dialect.name == "sqlite":
            out["indexes"] = conn.exec_driver_sql(
                "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' "
                "ORDER BY name").all()
        else:
            out["indexes"] = conn.exec_driver_sql(
                "SELECT indexname, tablename, indexdef FROM pg_indexes "
                "WHERE schemaname = current_schema() ORDER BY indexname").all()
    return out


@pytest.fixture
def engine(db_url, small_data):
    store.init_db(db_url)
    engine = store.get_engine(db_url)
    store.import_organisations(engine, small_data.organisations)
    store.import_deaths(engine, small_data.deaths)
    yield engine
    engine.dispose()


def _stream(path, engine, **kw):
    with engine.connect() as conn:
        known_orgs = store.known_organisations(conn)
        known = store.known_reviews(conn, stage="first")
    return io.stream_reviews(path, known_organisations=known_orgs, known_reviews=known,
                             block_bytes=SMALL_BLOCKS, **kw)


def _write(frame: pd.DataFrame, path) -> object:
    io.write_reviews(frame, path)
    return path


def test_the_file_is_several_blocks(tmp_path, small_data):
    path = _write(small_data.reviews, tmp_path / "reviews.csv")
    blocks = list(io.stream_reviews(path, known_organisations=small_data.organisations,
                                    block_bytes=SMALL_BLOCKS))
    assert len(blocks) >= 3
    assert sum(len(b) for b in blocks) == len(small_data.reviews)


def test_streamed_import_stores_what_read_reviews_reads(tmp_path, small_data, engine):
    path = _write(small_data.reviews, tmp_path / "reviews.csv")
    before = dump(engine)
    counted: list[int] = []
    result = store.import_review_blocks(engine, _stream(path, engine), progress=counted.append)
    assert result == store.ImportResult(inserted=len(small_data.reviews))
    assert sum(counted) == len(small_data.reviews)
    expected = io.read_reviews(path, known_organisations=small_data.organisations)
    with engine.connect() as conn:
        stored = store.load_reviews(conn)[list(expected.columns)]
    stored = stored.sort_values("review_id", ignore_index=True)
    expected = expected.sort_values("review_id", ignore_index=True)
    pd.testing.assert_frame_equal(stored, expected, check_dtype=False)
    # The reviews table's indexes, dropped for the first load into an empty store, are back
    # exactly as the schema defines them.
    assert dump(engine)["indexes"] == before["indexes"]


def test_an_error_in_the_last_block_rolls_back_the_blocks_already_written(tmp_path, small_data,
                                                                         engine):
    frame = small_data.reviews.copy()
    frame.loc[len(frame) - 3, "score_overall"] = 9
    path = _write(frame, tmp_path / "late_error.csv")
    before = dump(engine)
    with pytest.raises(ValidationFailed) as caught:
        store.import_review_blocks(engine, _stream(path, engine))
    assert [(e.row, e.column) for e in caught.value.errors] == [(len(frame) - 1,
                                                                 "score_overall")]
    assert dump(engine) == before


def test_a_repeated_id_is_reported_by_validation_not_by_the_primary_key(tmp_path, small_data,
                                                                      engine):
    """The first copy of the id is written with its block; the second makes the database
    refuse a later block; the rest of the file is still validated, and the report is the
    validation's (naming both rows), with everything rolled back."""
    frame = small_data.reviews.copy()
    first = frame.index[frame["review_stage"] == "first"]
    frame.loc[first[-1], "review_id"] = frame.loc[first[0], "review_id"]
    path = _write(frame, tmp_path / "repeated.csv")
    before = dump(engine)
    with pytest.raises(ValidationFailed) as caught:
        store.import_review_blocks(engine, _stream(path, engine))
    assert {e.rule for e in caught.value.errors} >= {"review_id_unique"}
    assert dump(engine) == before


def test_a_conflict_is_reported_once_the_file_is_known_to_be_valid(tmp_path, small_data, engine):
    first_half = small_data.reviews.iloc[: len(small_data.reviews) // 2]
    first_half = first_half[first_half["review_stage"] == "first"]
    store.import_reviews(engine, first_half)
    before = dump(engine)
    changed = small_data.reviews.copy()
    changed.loc[changed["review_id"] == first_half["review_id"].iloc[0], "specialty"] = "Other"

    path = _write(changed, tmp_path / "conflict.csv")
    with pytest.raises(store.ImportConflictError) as conflict:
        store.import_review_blocks(engine, _stream(path, engine))
    assert conflict.value.keys == [first_half["review_id"].iloc[0]]
    assert dump(engine) == before

    changed.loc[len(changed) - 2, "age_at_death"] = 12  # and a bad row in the last block
    path = _write(changed, tmp_path / "conflict_and_error.csv")
    with pytest.raises(ValidationFailed) as invalid:
        store.import_review_blocks(engine, _stream(path, engine))
    assert [e.column for e in invalid.value.errors] == ["age_at_death"]
    assert dump(engine) == before


def _with_short_row_near_the_end(small_data, tmp_path):
    """A row near the end without its trailing empty cells (a review with no problems in
    care: the problem and avoidability columns are blank), as some spreadsheets save it."""
    path = _write(small_data.reviews, tmp_path / "short_row.csv")
    lines = path.read_text(encoding="utf-8").split("\n")
    row = next(i for i in range(len(lines) - 3, 0, -1) if lines[i].endswith(",,,"))
    lines[row] = lines[row].rstrip(",")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_a_file_the_streamed_read_cannot_finish_is_read_again_from_the_start(tmp_path,
                                                                           small_data,
                                                                           engine):
    """A short row near the end: the streamed read has yielded blocks when it meets it, says
    RESTART, and the careful read gives the whole file again. Everything is stored once."""
    path = _with_short_row_near_the_end(small_data, tmp_path)
    items = list(_stream(path, engine))
    restarts = [i for i, item in enumerate(items) if item is io.RESTART]
    assert len(restarts) == 1 and restarts[0] >= 2  # blocks were yielded before it

    counted: list[int] = []
    result = store.import_review_blocks(engine, _stream(path, engine), progress=counted.append)
    assert result.inserted == len(small_data.reviews)
    assert sum(counted) == len(small_data.reviews) and min(counted) < 0
    with engine.connect() as conn:
        assert len(store.load_reviews(conn)) == len(small_data.reviews)

    with io.read_reviews_blocks(path, known_organisations=small_data.organisations,
                                block_bytes=SMALL_BLOCKS) as blocks:
        whole = pd.concat(list(blocks), ignore_index=True)
        assert len(blocks) == len(small_data.reviews)
    expected = io.read_reviews(path, known_organisations=small_data.organisations)
    pd.testing.assert_frame_equal(whole, expected)


def test_a_second_stage_review_before_its_first_stage_review_waits_for_it(tmp_path, small_data,
                                                                        engine):
    """Second-stage reviews naming a review of a later block are held back and written last;
    those whose first-stage review is already stored go in with their block."""
    frame = small_data.reviews.copy()
    first = frame[frame["review_stage"] == "first"]
    second_rows = frame.index[frame["review_stage"] == "second"]
    late_target = frame.loc[second_rows[-1], "second_review_of"]
    # the last second-stage review moves to the top; its first-stage review goes to the end
    order = ([second_rows[-1]] + [i for i in frame.index if i not in (second_rows[-1],)])
    frame = frame.loc[order]
    target_row = frame.index[frame["review_id"] == late_target][0]
    frame = pd.concat([frame.drop(index=target_row), frame.loc[[target_row]]], ignore_index=True)
    assert frame.loc[0, "second_review_of"] == late_target == frame.iloc[-1]["review_id"]
    path = _write(frame, tmp_path / "forward.csv")
    # half the first-stage reviews are stored already: their second-stage reviews need not wait
    stored_first = first.iloc[: len(first) // 2]
    store.import_reviews(engine, stored_first)
    result = store.import_review_blocks(engine, _stream(path, engine))
    assert result.inserted == len(frame) - len(stored_first)
    assert result.unchanged == len(stored_first)
    with engine.connect() as conn:
        stored = store.load_reviews(conn).set_index("review_id")
    assert stored.loc[frame.loc[0, "review_id"], "second_review_of"] == late_target
    assert len(stored) == len(frame)
