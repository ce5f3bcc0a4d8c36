"""The store on real SQLite and PostgreSQL: schema, imports, loads, optimistic locking."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from data_access import database, store
from data_access.models import Base
from sjrlib import domain, schema
from sjrlib.rules import KNOWN_REVIEW_COLUMNS

STORE_TABLES = ("organisations", "reviewers", "reviews", "phase_assessments", "problems",
                "review_reasons", "referrals", "deaths")


def dump(engine) -> dict[str, list[tuple]]:
    """Every row of every store table, in key order: the store's whole content."""
    out = {}
    with engine.connect() as conn:
        for name in STORE_TABLES:
            table = Base.metadata.tables[name]
            out[name] = [tuple(r) for r in conn.execute(
                select(table).order_by(*table.primary_key.columns))]
    return out


@pytest.fixture
def engine(populated_db_url):
    eng = store.get_engine(populated_db_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def valid(small_data):
    """small_data as validated frames (what imports take)."""
    organisations = schema.validate_organisations(small_data.organisations)
    return {
        "organisations": organisations,
        "deaths": schema.validate_deaths(small_data.deaths, known_organisations=organisations),
        "reviews": schema.validate_reviews(small_data.reviews, known_organisations=organisations),
    }


def _reviews(engine, **filters) -> pd.DataFrame:
    with engine.connect() as conn:
        return store.load_reviews(conn, **filters)


# ------------------------------------------------------------------------------ schema ----
def test_migrations_build_the_schema_of_the_models_from_empty(db_url):
    store.init_db(db_url)
    store.init_db(db_url)  # idempotent
    engine = store.get_engine(db_url)
    try:
        with engine.connect() as conn:
            assert set(STORE_TABLES) <= set(inspect(conn).get_table_names())
            head = ScriptDirectory.from_config(database._alembic_config()).get_current_head()
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
            diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)

        def table_of(diff):
            item = diff[0] if isinstance(diff, list) else diff
            obj = item[1] if item[0] not in ("modify_nullable", "modify_type",
                                              "modify_default") else None
            name = getattr(obj, "name", None) if obj is not None else item[2]
            return getattr(getattr(obj, "table", None), "name", name)

        diffs = [d for d in diffs if table_of(d) in STORE_TABLES]
        if engine.dialect.name == "postgresql":  # revision 0037: the organisation's own review
            second = [d for d in diffs if d[0] in ("remove_fk", "add_fk")
                      and d[1].name == "fk_reviews_second_review_of_reviews"]
            assert [(d[0], [c.name for c in d[1].columns]) for d in second] == [
                ("remove_fk", ["organisation_code", "second_review_of"]),
                ("add_fk", ["second_review_of"])]
            diffs = [d for d in diffs if not any(d is s for s in second)]
        assert diffs == []
    finally:
        engine.dispose()


def test_constraints_refuse_values_outside_the_domain(populated_db_url):
    engine = store.get_engine(populated_db_url)
    try:
        with engine.connect() as conn:
            review_id = conn.execute(text("SELECT review_id FROM reviews LIMIT 1")).scalar()
        bad = [
            ("UPDATE phase_assessments SET score = 7 WHERE review_id = :r", {}),
            ("UPDATE reviews SET age_at_death = 17 WHERE review_id = :r", {}),
            ("UPDATE reviews SET avoidability_score = 0, avoidability_scale = 'rcp' "
             "WHERE review_id = :r", {}),
            ("UPDATE reviews SET organisation_code = 'ZZZ' WHERE review_id = :r", {}),
            ("UPDATE reviews SET status = 'approved' WHERE review_id = :r", {}),
            ("INSERT INTO review_reasons (organisation_code, review_id, reason) VALUES ("
             "(SELECT organisation_code FROM reviews WHERE review_id = :r), :r, 'curiosity')",
             {}),
        ]
        for sql, _ in bad:
            with pytest.raises(IntegrityError), engine.begin() as conn:
                conn.execute(text(sql), {"r": review_id})
    finally:
        engine.dispose()


def test_database_url_precedence(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SJR_DATABASE_URL", raising=False)
    assert store.database_url() == "sqlite:///data/sjr.db"
    assert (tmp_path / "data").is_dir()
    monkeypatch.setenv("SJR_DATABASE_URL", "postgresql://u@h:5432/x")
    assert store.database_url() == "postgresql+psycopg://u@h:5432/x"
    assert store.database_url("sqlite:///other.db") == "sqlite:///other.db"


# ------------------------------------------------------------------------------ imports ----
def test_load_gives_back_exactly_what_was_imported(engine, valid):
    loaded = _reviews(engine)
    expected = valid["reviews"].sort_values("review_id", ignore_index=True)
    pd.testing.assert_frame_equal(loaded[list(domain.REVIEW_COLUMNS)], expected)
    assert (loaded["version"] == 1).all()
    organisations = valid["organisations"].set_index("organisation_code")
    assert loaded["nation"].tolist() == organisations.loc[loaded["organisation_code"],
                                                          "nation"].tolist()
    with engine.connect() as conn:
        pd.testing.assert_frame_equal(
            store.load_deaths(conn),
            valid["deaths"].sort_values(["organisation_code", "month"], ignore_index=True))
        pd.testing.assert_frame_equal(
            store.load_organisations(conn),
            valid["organisations"].sort_values("organisation_code", ignore_index=True))


def test_load_filters_match_filtering_in_pandas(engine, valid):
    everything = _reviews(engine)
    org = everything["organisation_code"].iloc[0]
    months = sorted(everything["death_month"].unique())
    start, end = months[3], months[-4]
    got = _reviews(engine, organisation_codes=[org], start_month=start, end_month=end,
                   stage="first", status=["submitted", "locked"])
    keep = ((everything["organisation_code"] == org) & (everything["death_month"] >= start)
            & (everything["death_month"] <= end) & (everything["review_stage"] == "first")
            & everything["status"].isin(["submitted", "locked"]))
    assert len(got) > 0
    pd.testing.assert_frame_equal(got, everything[keep].reset_index(drop=True))
    assert _reviews(engine, organisation_codes=[]).empty
    assert list(_reviews(engine, organisation_codes=[]).columns) == list(everything.columns)


def test_identical_reimport_changes_nothing(engine, valid):
    before = dump(engine)
    for kind, importer in (("organisations", store.import_organisations),
                           ("deaths", store.import_deaths), ("reviews", store.import_reviews)):
        result = importer(engine, valid[kind])
        assert result == store.ImportResult(0, 0, len(valid[kind]))
    assert dump(engine) == before


def test_changed_reimport_without_update_fails_and_changes_nothing(engine, valid):
    before = dump(engine)
    reviews = valid["reviews"].copy()
    changed = reviews["review_id"].iloc[[2, 5]].tolist()
    reviews.loc[reviews.index[2], "comment_overall"] = "A different judgement."
    reviews.loc[reviews.index[5], "age_at_death"] = 99 if reviews["age_at_death"].iloc[5] != 99 \
        else 98
    new = reviews.iloc[[0]].assign(review_id="NEW-0001", review_stage="first",
                                   second_review_of=pd.NA)
    with pytest.raises(store.ImportConflictError) as caught:
        store.import_reviews(engine, pd.concat([new, reviews], ignore_index=True))
    assert sorted(caught.value.keys) == sorted(changed)
    assert all(review_id in str(caught.value) for review_id in changed)
    deaths = valid["deaths"].copy()
    deaths.loc[deaths.index[0], "deaths_in_scope"] += 1
    with pytest.raises(store.ImportConflictError):
        store.import_deaths(engine, deaths)
    organisations = valid["organisations"].assign(name="Renamed")
    with pytest.raises(store.ImportConflictError):
        store.import_organisations(engine, organisations)
    assert dump(engine) == before


def test_update_replaces_changed_reviews_and_bumps_their_version(engine, valid):
    reviews = valid["reviews"].copy()
    at = reviews.index[reviews["status"] != "locked"][3]
    target = reviews.at[at, "review_id"]
    reviews.loc[at, "comment_overall"] = "Rewritten after discussion."
    reviews.loc[at, "review_reasons"] = "random_sample"
    result = store.import_reviews(engine, reviews, update=True)
    assert result == store.ImportResult(0, 1, len(reviews) - 1)
    loaded = _reviews(engine).set_index("review_id")
    assert loaded.at[target, "version"] == 2
    assert loaded.at[target, "comment_overall"] == "Rewritten after discussion."
    assert loaded.at[target, "review_reasons"] == "random_sample"
    assert (loaded.drop(index=target)["version"] == 1).all()


def test_update_refuses_to_replace_a_locked_review(engine, valid):
    reviews = valid["reviews"].copy()
    at = reviews.index[reviews["status"] == "locked"][0]
    reviews.loc[at, "comment_overall"] = "Rewritten after locking."
    before = dump(engine)
    with pytest.raises(store.ImportConflictError, match="locked") as caught:
        store.import_reviews(engine, reviews, update=True)
    assert caught.value.keys == [reviews.at[at, "review_id"]]
    assert dump(engine) == before


def test_audit_hook_runs_in_the_transaction_and_can_veto(engine, valid):
    calls = []
    reviews = valid["reviews"].copy()
    reviews.loc[reviews.index[0], "comment_overall"] = "Changed."
    before = dump(engine)

    def refuse(conn, action, rows):
        calls.append((action, rows))
        conn.execute(text("SELECT 1"))  # the connection is usable inside the transaction
        raise RuntimeError("audit log unavailable")

    with pytest.raises(RuntimeError):
        store.import_reviews(engine, reviews, update=True, on_write=refuse)
    assert calls == [("import_reviews", 1)]
    assert dump(engine) == before
    store.import_reviews(engine, valid["reviews"], on_write=refuse)  # nothing written: no call
    assert len(calls) == 1


def test_known_reviews_and_organisations(engine, valid):
    reviews = valid["reviews"]
    first = reviews[reviews["review_stage"] == "first"]
    with engine.connect() as conn:
        known = store.known_reviews(conn, [*first["review_id"].iloc[:3], "NOT-STORED"])
        assert set(known) == set(first["review_id"].iloc[:3])
        review_id = first["review_id"].iloc[0]
        assert known[review_id] == (first["case_id"].iloc[0], "first")
        assert set(store.known_reviews(conn, stage="first")) == set(first["review_id"])
        assert store.known_organisations(conn) == set(valid["organisations"]["organisation_code"])


def test_known_review_frame_holds_what_known_reviews_gives(engine):
    with engine.connect() as conn:
        for stage in (None, "first", "second"):
            frame = store.known_review_frame(conn, stage=stage)
            assert list(frame.columns) == list(KNOWN_REVIEW_COLUMNS)
            assert frame.index.name == "review_id"
            assert {i: (c, s) for i, c, s, *_ in frame.itertuples()} \
                == store.known_reviews(conn, stage=stage), stage
            assert all(str(frame[c].dtype) == "string" for c in frame.columns)
        nothing = store.known_review_frame(conn, stage="no such stage")
        assert nothing.empty and list(nothing.columns) == list(KNOWN_REVIEW_COLUMNS)


# -------------------------------------------------------------------- one review at a time --
def _one(engine, review_id=None) -> dict:
    frame = _reviews(engine)
    row = frame.iloc[0] if review_id is None else frame.set_index("review_id").loc[review_id]
    values = row.to_dict()
    values.setdefault("review_id", review_id)
    return values


def test_save_review_new_update_and_status(engine):
    values = _one(engine)
    new = dict(values, review_id="NEW-0002", case_id="CASE-NEW", second_review_of=None,
               review_stage="first", status="draft")
    with engine.begin() as conn:
        assert store.save_review(conn, new, None, saved_by="alice") == ("NEW-0002", 1)
    with pytest.raises(store.StaleReviewError, match="already exists"), \
            engine.begin() as conn:
        store.save_review(conn, new, None)
    with engine.begin() as conn:
        assert store.save_review(conn, dict(new, comment_overall="Edited."), 1) == ("NEW-0002", 2)
        assert store.set_status(conn, "NEW-0002", "submitted", expected_version=2) == 3
    stored = _one(engine, "NEW-0002")
    assert (stored["comment_overall"], stored["status"], stored["version"]) == \
        ("Edited.", "submitted", 3)
    with pytest.raises(store.ReviewNotFoundError), engine.begin() as conn:
        store.save_review(conn, dict(new, review_id="NOPE"), 1)


def test_second_of_two_sessions_gets_stale_error_and_first_save_survives(populated_db_url):
    first_engine = store.get_engine(populated_db_url)
    second_engine = store.get_engine(populated_db_url)
    try:
        mine, theirs = _one(first_engine), _one(second_engine)
        assert mine["version"] == theirs["version"] == 1
        with first_engine.begin() as conn:
            store.save_review(conn, dict(mine, comment_overall="First save."), 1,
                              saved_by="alice")
        with pytest.raises(store.StaleReviewError) as caught, second_engine.begin() as conn:
            store.save_review(conn, dict(theirs, comment_overall="Second save."), 1,
                              saved_by="bob")
        error = caught.value
        assert (error.current_version, error.expected_version, error.updated_by) == (2, 1, "alice")
        assert "alice" in str(error) and "version 2" in str(error)
        stored = _one(first_engine, mine["review_id"])
        assert (stored["comment_overall"], stored["version"]) == ("First save.", 2)
    finally:
        first_engine.dispose()
        second_engine.dispose()


def test_concurrent_saves_in_open_transactions_never_overwrite(populated_db_url):
    """Two sessions save at the same moment: the second waits for the first, then is refused."""
    engines = [store.get_engine(populated_db_url) for _ in range(2)]
    values = _one(engines[0])
    outcome = {}

    def second_session():
        try:
            with engines[1].begin() as conn:
                store.save_review(conn, dict(values, comment_overall="Bob's."), 1,
                                  saved_by="bob")
            outcome["second"] = "saved"
        except store.StaleReviewError as exc:
            outcome["second"] = exc
    try:
        with engines[0].begin() as conn:
            store.save_review(conn, dict(values, comment_overall="Alice's."), 1,
                              saved_by="alice")
            worker = threading.Thread(target=second_session)
            worker.start()
            time.sleep(0.5)  # let the second session reach its UPDATE and wait on our lock
        worker.join(60)
        assert isinstance(outcome["second"], store.StaleReviewError)
        stored = _one(engines[0], values["review_id"])
        assert (stored["comment_overall"], stored["version"]) == ("Alice's.", 2)
    finally:
        for e in engines:
            e.dispose()
