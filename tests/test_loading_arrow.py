"""The loaders read Arrow at the speed of the wire and still give today's frames.

``load_reviews`` reads PostgreSQL through ``COPY ... TO STDOUT`` on the session's connection
into Arrow, and SQLite on the connection's cursor into Arrow. Checked here on both databases
against two things written apart from the loader:

- a store written by hand, row by row in SQL, whose expected frame is typed out below (NULLs,
  empty texts, quotes, commas and line breaks in comments, ext2026 answers, referrals, several
  reasons stored out of spec order, a phase row with no score);
- a plain pandas reference (``_reference_reviews``: ``read_sql`` of each table, pivoted with
  ``pivot``) on the synthetic store, under each filter and for an empty result.

Row-level security: a lead's own PostgreSQL role loading with no filter at all still gets only
their organisation's reviews and child rows, so the COPY runs scoped, on the session's
connection.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from access_setup import POSTGRES_URL, _create_pg_database, _drop_pg_database, _populate
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from test_form_versions_store import _load

from data_access import open_session, pg_security, store
from sjrlib import domain

EXTRA = {"version": "Int64", "nation": "string", "region": "string"}
COLUMNS = [*domain.REVIEW_COLUMNS, *EXTRA]
DTYPES = {**domain.REVIEW_DTYPES, **EXTRA}
COMMENT = 'Two\nlines, "quoted", \\N and \\.'


# ------------------------------------------------------------------ the hand-written store ----
def _write_by_hand(url: str) -> None:
    store.init_db(url)
    engine = store.get_engine(url)
    rows = [
        ("organisations", {"code": "XA1", "name": "Alpha", "nation": "england",
                           "region": "North"}),
        ("organisations", {"code": "XB2", "name": "Beta", "nation": "scotland", "region": None}),
        ("organisations", {"code": "XC3", "name": "Gamma", "nation": "england",
                           "region": "South"}),
        ("reviews", {"review_id": "R1", "case_id": "C1", "organisation_code": "XA1",
                     "review_stage": "first", "status": "submitted", "form_version": "ext2026",
                     "review_date": dt.date(2024, 3, 5), "age_at_death": 81, "sex": "female",
                     "death_month": "2024-02", "specialty": "General medicine",
                     "cause_of_death": 'Pneumonia, "aspiration"\nand sepsis',
                     "any_problems": "yes", "avoidability_score": 3,
                     "avoidability_scale": "rcp", "autism": "no",
                     "clinical_frailty_scale": 6, "me_scrutiny": "yes",
                     "family_concern": "unknown", "dying_recognised": "not_applicable",
                     "arrival_hour": 0, "days_to_death": 0}),
        # a second-stage review follows a review of its own organisation (on PostgreSQL the
        # key of second_review_of says so since revision 0037)
        ("reviews", {"review_id": "R2", "organisation_code": "XA1", "review_stage": "second",
                     "second_review_of": "R1", "status": "draft", "form_version": "rcp2017",
                     "death_month": "2024-04"}),
        ("reviews", {"review_id": "R3", "case_id": "", "organisation_code": "XA1",
                     "review_stage": "first", "status": "locked", "form_version": "rcp2017",
                     "death_month": "2024-05", "postcode_district": "AB1",
                     "review_date": dt.date(2023, 12, 31)}),
        ("phase_assessments", {"review_id": "R1", "phase": "admission", "score": 2,
                               "comment": 'Late, "slow"\r\nreview;\tthen\\fine'}),
        ("phase_assessments", {"review_id": "R1", "phase": "overall", "score": 1,
                               "comment": ""}),
        ("phase_assessments", {"review_id": "R3", "phase": "end_of_life", "score": None,
                               "comment": None}),
        ("phase_assessments", {"review_id": "R3", "phase": "ongoing", "score": 5,
                               "comment": "Good care \u2013 caf\u00e9"}),
        ("problems", {"review_id": "R1", "problem_type": "medication", "harm": "probably"}),
        ("problems", {"review_id": "R1", "problem_type": "other", "harm": "no"}),
        ("review_reasons", {"review_id": "R1", "reason": "random_sample"}),
        ("review_reasons", {"review_id": "R1", "reason": "family_concern"}),
        ("review_reasons", {"review_id": "R3", "reason": "medical_examiner"}),
        ("referrals", {"review_id": "R1", "referral_type": "coroner",
                       "referral_status": "made", "referral_reference": "C-1, 2024"}),
        ("referrals", {"review_id": "R1", "referral_type": "leder",
                       "referral_status": "planned", "referral_reference": None}),
    ]
    # a child row carries its review's organisation (revision 0035_children_scope)
    organisation_of = {v["review_id"]: v["organisation_code"] for t, v in rows if t == "reviews"}
    with engine.begin() as conn:
        for table, values in rows:
            if table != "reviews" and "review_id" in values:
                values = {"organisation_code": organisation_of[values["review_id"]], **values}
            names = ", ".join(values)
            conn.execute(text(f"INSERT INTO {table} ({names}) VALUES "
                              f"({', '.join(':' + k for k in values)})"), values)
    engine.dispose()


def _expected_by_hand() -> pd.DataFrame:
    """The frame the hand-written store must load as, typed out."""
    rows = {
        "R1": {"case_id": "C1", "organisation_code": "XA1", "review_stage": "first",
               "status": "submitted", "form_version": "ext2026",
               "review_date": pd.Timestamp("2024-03-05"),
               "review_reasons": "family_concern;random_sample", "age_at_death": 81,
               "sex": "female", "death_month": "2024-02", "specialty": "General medicine",
               "cause_of_death": 'Pneumonia, "aspiration"\nand sepsis', "any_problems": "yes",
               "avoidability_score": 3, "avoidability_scale": "rcp", "autism": "no",
               "clinical_frailty_scale": 6, "me_scrutiny": "yes", "family_concern": "unknown",
               "dying_recognised": "not_applicable", "arrival_hour": 0, "days_to_death": 0,
               "score_admission": 2, "comment_admission": 'Late, "slow"\r\nreview;\tthen\\fine',
               "score_overall": 1, "comment_overall": "",
               "problem_medication": "probably", "problem_other": "no",
               "referral_coroner": "made", "referral_ref_coroner": "C-1, 2024",
               "referral_leder": "planned", "version": 1, "nation": "england",
               "region": "North"},
        "R2": {"organisation_code": "XA1", "review_stage": "second", "second_review_of": "R1",
               "status": "draft", "form_version": "rcp2017", "death_month": "2024-04",
               "version": 1, "nation": "england", "region": "North"},
        "R3": {"case_id": "", "organisation_code": "XA1", "review_stage": "first",
               "status": "locked", "form_version": "rcp2017", "death_month": "2024-05",
               "postcode_district": "AB1", "review_date": pd.Timestamp("2023-12-31"),
               "review_reasons": "medical_examiner", "score_ongoing": 5,
               "comment_ongoing": "Good care \u2013 caf\u00e9", "version": 1,
               "nation": "england", "region": "North"},
    }
    frame = pd.DataFrame([{"review_id": k, **v} for k, v in rows.items()])
    frame = frame.reindex(columns=COLUMNS)
    return frame.astype({c: "object" for c in COLUMNS}).astype(DTYPES)


@pytest.fixture
def by_hand(db_url):
    _write_by_hand(db_url)
    return db_url


def test_a_hand_written_store_loads_as_written(by_hand):
    frame = _load(by_hand)
    assert list(frame.columns) == COLUMNS
    assert {c: str(t) for c, t in frame.dtypes.items()} == DTYPES
    pd.testing.assert_frame_equal(frame, _expected_by_hand())
    assert frame.loc[2, "case_id"] == ""  # an empty text is not missing
    assert frame.loc[0, "comment_overall"] == ""
    assert frame.loc[1, "case_id"] is pd.NA


def test_rows_read_in_many_batches_load_the_same(by_hand, monkeypatch):
    """SQLite's cursor is read a batch of rows at a time and each child column then has one
    chunk a batch; PostgreSQL's COPY is parsed a block of rows at a time, in a thread, while
    the rest arrive. One row a batch, and one row a block, must give the same frame."""
    from data_access import loading

    monkeypatch.setattr(loading, "_FETCH_ROWS", 1)
    monkeypatch.setattr(loading, "_COPY_BLOCK", 1)
    pd.testing.assert_frame_equal(_load(by_hand), _expected_by_hand())


def test_the_frame_select_is_the_frame(by_hand):
    """``review_frame_select`` (what PostgreSQL's loader runs and the benchmark's bare read
    times) read plainly, row tuples through SQLAlchemy, holds the frame's values: the database
    pivots; the loader only types them."""
    from data_access.loading import review_frame_select

    engine = store.get_engine(by_hand)
    try:
        with engine.connect() as conn:
            rows = conn.execute(review_frame_select([])).mappings().all()
    finally:
        engine.dispose()
    expected = _expected_by_hand()
    assert [r["review_id"] for r in rows] == expected["review_id"].tolist()
    assert [r["reason_bits"] for r in rows] == [1 | 1 << 8, None, 1 << 7]
    for row, (_, want) in zip(rows, expected.iterrows(), strict=True):
        for column in COLUMNS:
            if column in ("review_reasons", "review_date"):
                continue
            got, wanted = row[column], want[column]
            assert (got is None and wanted is pd.NA) or got == wanted, (column, got, wanted)


def test_ids_are_in_byte_order_whatever_the_collation():
    """The frame is sorted by ``review_id`` byte by byte, as Arrow sorts; a database sorting
    by a language's collation is put right."""
    import pyarrow as pa

    from data_access.loading import _in_byte_order

    ids = ["a-2", "A1", "b", "B", "\u00e9", "e"]
    columns = {"review_id": pa.chunked_array([ids[:3], ids[3:]]),
               "n": pa.chunked_array([[0, 1, 2], [3, 4, 5]])}
    got = _in_byte_order(columns)
    assert got["review_id"].to_pylist() == ["A1", "B", "a-2", "b", "e", "\u00e9"]
    assert got["n"].to_pylist() == [1, 3, 0, 2, 5, 4]
    ordered = {"review_id": pa.chunked_array([sorted(ids)]), "n": pa.chunked_array([[0] * 6])}
    assert _in_byte_order(ordered) is ordered


@pytest.fixture
def own_process(monkeypatch):
    """Every SQLite load big enough to read in a process of its own; the reads it made."""
    from data_access import loading, sqlite_reader

    made = []
    real = sqlite_reader.read

    def spy(path, statements):
        made.append(path)
        return real(path, statements)

    monkeypatch.setattr(loading, "_OWN_PROCESS_ROWS", 0)
    monkeypatch.setattr(sqlite_reader, "read", spy)
    return made


def test_a_big_sqlite_load_in_its_own_process_loads_the_same(by_hand, own_process):
    """ADBC's SQLite driver in a child process (mapped back through a memory file) gives the
    frame typed out by hand, under filters too; PostgreSQL never uses it."""
    pd.testing.assert_frame_equal(_load(by_hand), _expected_by_hand())
    expected = _expected_by_hand()
    pd.testing.assert_frame_equal(
        _load(by_hand, organisation_codes="XA1", status="locked"),
        expected[expected["review_id"] == "R3"].reset_index(drop=True))
    empty = _load(by_hand, organisation_codes="XC3")
    assert empty.empty and list(empty.columns) == COLUMNS
    if by_hand.startswith("sqlite"):
        assert len(own_process) == 3
    else:
        assert own_process == []


def test_a_transaction_that_wrote_reads_on_its_own_connection(tmp_path, own_process):
    """A child process cannot see what this transaction has not committed; a door's read
    transaction, which has written nothing since it took the lock, reads in the child."""
    from data_access import audit

    url = f"sqlite:///{tmp_path / 'sjr.db'}"
    _write_by_hand(url)
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            assert audit.lock_for_read(conn)
            locked = store.load_reviews(conn)
            assert len(own_process) == 1
            conn.execute(text("INSERT INTO reviews (review_id, organisation_code, "
                              "review_stage, status, death_month) VALUES ('R4', 'XC3', "
                              "'first', 'draft', '2024-06')"))
            written = store.load_reviews(conn)
            assert len(own_process) == 1  # read here: the child would miss R4
            conn.rollback()
    finally:
        engine.dispose()
    pd.testing.assert_frame_equal(locked, _expected_by_hand())
    assert written["review_id"].tolist() == ["R1", "R2", "R3", "R4"]


def test_a_programme_team_door_reads_in_the_child(tmp_path, own_process, monkeypatch):
    """Through the session's door (the audit lock taken, the entry written after the read)
    the load reads in the child and gives what the connection's own read gives."""
    from access_setup import _populate

    from data_access import loading

    url = f"sqlite:///{tmp_path / 'sjr.db'}"
    _populate(url)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    with open_session("national", url, tool="test") as session:
        shown = session.reviews()
    assert len(own_process) == 1 and len(shown) > 0
    monkeypatch.setattr(loading, "_OWN_PROCESS_ROWS", 10**9)
    with open_session("national", url, tool="test") as session:
        here = session.reviews()
    assert len(own_process) == 1
    pd.testing.assert_frame_equal(shown, here)


def test_a_failed_child_reads_on_the_connection_instead(by_hand, own_process, monkeypatch):
    from data_access import sqlite_reader

    def broken(path, statements):
        raise RuntimeError("the SQLite reader process failed: no adbc here")

    monkeypatch.setattr(sqlite_reader, "read", broken)
    if by_hand.startswith("sqlite"):
        with pytest.warns(RuntimeWarning, match="no adbc here"):
            frame = _load(by_hand)
    else:
        frame = _load(by_hand)
    pd.testing.assert_frame_equal(frame, _expected_by_hand())


@pytest.mark.parametrize(("filters", "ids"), [
    ({"organisation_codes": "XA1"}, ["R1", "R2", "R3"]),
    ({"organisation_codes": ["XB2", "XC3"]}, []),
    ({"start_month": "2024-04"}, ["R2", "R3"]),
    ({"end_month": "2024-04"}, ["R1", "R2"]),
    ({"start_month": "2024-03", "end_month": "2024-04"}, ["R2"]),
    ({"stage": "second"}, ["R2"]),
    ({"status": ["submitted", "locked"]}, ["R1", "R3"]),
    ({"organisation_codes": "XA1", "status": "locked", "stage": "first"}, ["R3"]),
    ({"organisation_codes": "XC3"}, []),
])
def test_filters_on_the_hand_written_store(by_hand, filters, ids):
    expected = _expected_by_hand()
    expected = expected[expected["review_id"].isin(ids)].reset_index(drop=True)
    pd.testing.assert_frame_equal(_load(by_hand, **filters), expected)


def test_the_other_loaders_on_the_hand_written_store(by_hand):
    engine = store.get_engine(by_hand)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO deaths (organisation_code, month, deaths_in_scope, "
                              "learning_disability_deaths) VALUES ('XB2', '2024-01', 7, 0), "
                              "('XA1', '2024-02', 12, 1), ('XA1', '2024-01', 10, 0)"))
        with engine.connect() as conn:
            organisations = store.load_organisations(conn)
            some = store.load_organisations(conn, ["XB2"])
            deaths = store.load_deaths(conn, organisation_codes="XA1", end_month="2024-01")
            every = store.load_deaths(conn)
            none = store.load_deaths(conn, organisation_codes="XC3")
    finally:
        engine.dispose()
    expected = pd.DataFrame({"organisation_code": ["XA1", "XB2", "XC3"],
                             "name": ["Alpha", "Beta", "Gamma"],
                             "nation": ["england", "scotland", "england"],
                             "region": ["North", None, "South"]})
    expected = expected.astype(domain.ORGANISATION_DTYPES)[list(domain.ORGANISATION_COLUMNS)]
    pd.testing.assert_frame_equal(organisations, expected)
    pd.testing.assert_frame_equal(some, expected.iloc[[1]].reset_index(drop=True))
    assert deaths.to_dict("list") == {"organisation_code": ["XA1"], "month": ["2024-01"],
                                      "deaths_in_scope": [10],
                                      "learning_disability_deaths": [0]}
    assert every["organisation_code"].tolist() == ["XA1", "XA1", "XB2"]
    assert every["month"].tolist() == ["2024-01", "2024-02", "2024-01"]
    assert {c: str(t) for c, t in every.dtypes.items()} == dict(domain.DEATH_DTYPES)
    assert none.empty and {c: str(t) for c, t in none.dtypes.items()} == dict(
        domain.DEATH_DTYPES)


def test_a_load_inside_a_transaction_sees_its_own_writes(by_hand):
    """An import reads back what it replaces inside its own open transaction: the read must
    stay on that connection (on PostgreSQL, COPY sees the uncommitted rows only there)."""
    engine = store.get_engine(by_hand)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            conn.execute(text("INSERT INTO reviews (review_id, organisation_code, review_stage, "
                              "status, death_month) VALUES ('R4', 'XC3', 'first', 'draft', "
                              "'2024-06')"))
            conn.execute(text("INSERT INTO review_reasons (organisation_code, review_id, "
                              "reason) VALUES ('XC3', 'R4', 'alarm')"))
            inside = store.load_reviews(conn)
            organisations = store.load_organisations(conn, "XC3")
            conn.rollback()
        after = _load(by_hand)
    finally:
        engine.dispose()
    assert inside["review_id"].tolist() == ["R1", "R2", "R3", "R4"]
    assert inside.loc[3, "review_reasons"] == "alarm"
    assert inside.loc[3, "region"] == "South"
    pd.testing.assert_frame_equal(inside.iloc[:3], _expected_by_hand())
    assert organisations["name"].tolist() == ["Gamma"]
    pd.testing.assert_frame_equal(after, _expected_by_hand())


# -------------------------------------------------------- a pandas reference, on synthetic ----
def _reference_reviews(url: str, *, organisation_codes=None, start_month=None,
                       end_month=None, stage=None, status=None) -> pd.DataFrame:
    """Today's review frame, built the plain way: each table read whole with ``read_sql``,
    filtered and pivoted in pandas."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            reviews = pd.read_sql(text("SELECT r.*, o.nation, o.region FROM reviews r JOIN "
                                       "organisations o ON o.code = r.organisation_code"), conn)
            phases = pd.read_sql(text("SELECT * FROM phase_assessments"), conn)
            problems = pd.read_sql(text("SELECT * FROM problems"), conn)
            reasons = pd.read_sql(text("SELECT * FROM review_reasons"), conn)
            referrals = pd.read_sql(text("SELECT * FROM referrals"), conn)
    finally:
        engine.dispose()

    def keep(column, value):
        nonlocal reviews
        if value is not None:
            values = [value] if isinstance(value, str) else list(value)
            reviews = reviews[reviews[column].isin(values)]

    keep("organisation_code", organisation_codes)
    keep("review_stage", stage)
    keep("status", status)
    if start_month is not None:
        reviews = reviews[reviews["death_month"] >= start_month]
    if end_month is not None:
        reviews = reviews[reviews["death_month"] <= end_month]
    out = reviews.sort_values("review_id").set_index("review_id")
    for child, key, values in (
            (phases, "phase", {"score": domain.score_column, "comment": domain.comment_column}),
            (problems, "problem_type", {"harm": domain.problem_column}),
            (referrals, "referral_type", {"referral_status": domain.referral_column,
                                          "referral_reference": domain.referral_ref_column})):
        for value, column_of in values.items():
            wide = child.pivot(index="review_id", columns=key, values=value)
            for item in wide.columns:
                out[column_of(item)] = wide[item].reindex(out.index)
    order = {r: i for i, r in enumerate(domain.REVIEW_REASONS)}
    joined = (reasons.assign(o=reasons["reason"].map(order)).sort_values("o")
              .groupby("review_id")["reason"].agg(domain.REASON_SEPARATOR.join))
    out["review_reasons"] = joined.reindex(out.index)
    out = out.reset_index().reindex(columns=COLUMNS)
    out["review_date"] = pd.to_datetime(out["review_date"])
    for column in COLUMNS:
        if DTYPES[column] == "Int64":
            out[column] = pd.array(out[column].astype("Float64"), dtype="Int64")
        elif DTYPES[column] == "string":
            out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out.astype(DTYPES).reset_index(drop=True)


@pytest.fixture
def synthetic_store(populated_db_url, small_data):
    """The synthetic store, with a few answers the generator never writes: an empty case id,
    a comment with a line break, quotes and a comma, a missing region, ext2026 answers and
    referrals (one review with two)."""
    engine = store.get_engine(populated_db_url)
    with engine.begin() as conn:
        first = conn.execute(text("SELECT min(review_id) FROM reviews")).scalar_one()
        conn.execute(text("UPDATE reviews SET case_id = '' WHERE review_id = :r"),
                     {"r": first})
        conn.execute(text("UPDATE phase_assessments SET comment = :c WHERE review_id = "
                          "(SELECT max(review_id) FROM phase_assessments)"), {"c": COMMENT})
        conn.execute(text("UPDATE organisations SET region = NULL WHERE code = "
                          "(SELECT min(code) FROM organisations)"))
        last = conn.execute(text("SELECT max(review_id) FROM reviews")).scalar_one()
        conn.execute(text("UPDATE reviews SET form_version = 'ext2026', autism = 'yes', "
                          "clinical_frailty_scale = 7, family_involved = 'no_contact' "
                          "WHERE review_id = :r"), {"r": last})
        for review_id, kind, status, reference in (
                (first, "coroner", "made", 'Ref 1, "x"'),
                (first, "other", "considered_not_needed", None), (last, "leder", "planned", "")):
            conn.execute(text("INSERT INTO referrals (organisation_code, review_id, "
                              "referral_type, referral_status, referral_reference) SELECT "
                              "organisation_code, review_id, :t, :s, :f FROM reviews "
                              "WHERE review_id = :r"),
                         {"r": review_id, "t": kind, "s": status, "f": reference})
    engine.dispose()
    return populated_db_url, small_data


def _filters(data) -> list[dict]:
    codes = sorted(data.organisations["organisation_code"])
    months = sorted(data.reviews["death_month"].dropna().unique())
    middle = months[len(months) // 2]
    return [
        {},
        {"organisation_codes": codes[0]},
        {"organisation_codes": codes[1:3], "start_month": middle},
        {"end_month": middle, "stage": "first"},
        {"stage": "second"},
        {"status": ["draft", "locked"]},
        {"organisation_codes": codes[0], "start_month": months[-1], "status": "submitted"},
        {"organisation_codes": "NOT-AN-ORG"},
        {"start_month": "2999-01"},
    ]


def test_the_same_frame_as_the_pandas_reference(synthetic_store):
    url, data = synthetic_store
    for filters in _filters(data):
        loaded = _load(url, **filters)
        reference = _reference_reviews(url, **filters)
        pd.testing.assert_frame_equal(loaded, reference, obj=str(filters))
    everything = _load(url)
    assert len(everything) == len(data.reviews)
    assert everything["review_reasons"].str.contains(";").any()  # multi-valued reasons
    assert everything[[domain.referral_column(t) for t in domain.REFERRAL_TYPES]].notna().any(
        axis=None)
    assert (everything["form_version"] == "ext2026").any()
    assert everything["case_id"].eq("").sum() == 1
    assert everything["region"].isna().any()
    assert (everything.filter(like="comment_") == COMMENT).fillna(False).to_numpy().any()


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set")
def test_a_database_with_an_english_collation_loads_in_byte_order(tmp_path):
    """PostgreSQL sorts the frame by the database's collation; under ICU's en-US ``A1`` comes
    after ``a-2``: the loaded frame is still the one SQLite gives, in byte order."""
    url = _create_pg_database("TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' "
                              "LOCALE 'C.UTF-8'")
    sqlite_url = f"sqlite:///{tmp_path / 'same.db'}"
    try:
        frames = []
        for each in (url, sqlite_url):
            _write_by_hand(each)
            engine = store.get_engine(each)
            with engine.begin() as conn:
                for rid in ("a-2", "A1", "b", "B"):
                    conn.execute(text("INSERT INTO reviews (review_id, organisation_code, "
                                      "review_stage, status, death_month) VALUES (:r, 'XC3', "
                                      "'first', 'draft', '2024-06')"), {"r": rid})
                    conn.execute(text("INSERT INTO phase_assessments (organisation_code, "
                                      "review_id, phase, score) VALUES ('XC3', :r, 'overall', "
                                      ":s)"), {"r": rid, "s": len(rid)})
                if each == url:
                    database_order = conn.execute(text(
                        "SELECT review_id FROM reviews ORDER BY review_id")).scalars().all()
            engine.dispose()
            frames.append(_load(each))
    finally:
        _drop_pg_database(url)
    assert database_order.index("a-2") < database_order.index("A1")  # the collation differs
    assert frames[0]["review_id"].tolist() == ["A1", "B", "R1", "R2", "R3", "a-2", "b"]
    assert frames[0]["score_overall"].tolist()[:2] == [2, 1]
    pd.testing.assert_frame_equal(frames[0], frames[1])


# ---------------------------------------------------------------- row-level security (PG) ----
@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set")
def test_a_leads_load_on_postgresql_sees_only_their_organisation(monkeypatch):
    owner_url = _create_pg_database()
    role = None
    try:
        org_a, org_b, _c, _rid, _other = _populate(owner_url)
        engine = store.get_engine(owner_url)
        with engine.begin() as conn:
            role = pg_security.add_user(conn, acting="admin", username="lead_arrow",
                                        role="organisation_lead", organisation_code=org_a,
                                        reviewer_id=None, tool="test")
        with engine.connect() as conn:
            whole = store.load_reviews(conn)
        engine.dispose()
        assert set(whole["organisation_code"]) >= {org_a, org_b}
        expected = whole[whole["organisation_code"] == org_a].reset_index(drop=True)

        lead_url = make_url(owner_url).set(username=role).render_as_string(hide_password=False)
        lead = store.get_engine(lead_url)
        try:
            with lead.connect() as conn:  # no filter at all: the database scopes the rows
                loaded = store.load_reviews(conn)
                deaths = store.load_deaths(conn)
        finally:
            lead.dispose()
        pd.testing.assert_frame_equal(loaded, expected)
        assert set(deaths["organisation_code"]) == {org_a}

        monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
        monkeypatch.delenv("SJR_USER", raising=False)
        with open_session(None, lead_url, tool="test") as session:
            shown = session.reviews()
        assert set(shown["organisation_code"]) == {org_a}
        assert set(shown["review_id"]) == set(expected["review_id"])
    finally:
        _drop_pg_database(owner_url)
        if role is not None:
            admin = create_engine(make_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
            admin.dispose()

