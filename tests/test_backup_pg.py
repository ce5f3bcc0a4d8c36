"""``sjr backup`` / ``sjr restore`` on PostgreSQL (issue 17 part 7): ``pg_dump`` of one snapshot
taken while a lead saves reviews restores (``pg_restore``) into a new empty database whose audit
chain verifies and whose reviews, users and approvals are the source's at the backup's moment,
persons' roles recreated; and the restore drill's SQLite -> PostgreSQL migration."""

from __future__ import annotations

import os
import threading
import time
import uuid

import pandas as pd
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from test_backup import _audit, _cli, _reviews, _table

from data_access import audit, open_session, store

# read here, not imported from conftest: under xdist another folder's conftest can be the one
# a plain `import conftest` finds (tests/browser/conftest.py)
POSTGRES_URL = os.environ.get("SJR_TEST_POSTGRES_URL")

pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set")]


@pytest.fixture()
def pg_demo(postgres_database, tmp_path):
    result = _cli(["demo-data", "--db", postgres_database, "--organisations", "2", "--years",
                   "1", "--seed", "5"], None, tmp_path)
    assert result.exit_code == 0, result.output
    return postgres_database


@pytest.fixture()
def empty_database():
    """A second empty database (the restore's target); dropped afterwards, with the person
    roles a restore created for it."""
    from access_setup import person_roles

    admin_url = make_url(POSTGRES_URL)
    name = f"sjr_restore_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        try:
            persons = person_roles(url)
        except Exception:  # noqa: BLE001 - an empty database has no users table
            persons = []
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            for role in persons:  # CONNECT on another store that shares it (0018)
                if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"),
                                {"r": role}).first():
                    conn.execute(text(f'DROP OWNED BY "{role}"'))
                conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


def _saver(url: str, stop: threading.Event, saved: dict, errors: list) -> threading.Thread:
    lead = open_session("demo-lead", url, tool="test saver")
    mine = lead.reviews()
    ids = list(mine.loc[mine["status"] != "locked", "review_id"].head(5))
    assert ids

    def run() -> None:
        n = 0
        try:
            while not stop.is_set() or n < 10:
                review_id = ids[n % len(ids)]
                current = lead.review(review_id)
                comment = f"saved while a backup runs, pass {n}"
                values = {k: v for k, v in current.items() if k != "version"}
                values["comment_overall"] = comment
                _, version = lead.save_review(values, expected_version=current["version"])
                saved[(review_id, version)] = comment
                n += 1
                time.sleep(0.01)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            lead.close()

    return threading.Thread(target=run)


def _verify(url: str) -> audit.VerifyResult:
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            return audit.verify(conn)
    finally:
        engine.dispose()


def test_pg_backup_during_saves_restores_the_moment_and_verifies(pg_demo, empty_database,
                                                                  tmp_path):
    before = _reviews(pg_demo)
    stop, saved, errors = threading.Event(), {}, []
    thread = _saver(pg_demo, stop, saved, errors)
    thread.start()
    time.sleep(0.3)  # saves under way when the snapshot is taken
    out = tmp_path / "store.sjrbackup"
    started = time.perf_counter()
    result = _cli(["backup", out, "--db", pg_demo], "demo-admin", tmp_path)
    took = time.perf_counter() - started
    stop.set()
    thread.join()
    assert not errors, errors
    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o777 == 0o600
    print(f"backup {out.stat().st_size} bytes in {took:.2f} s")

    result = _cli(["restore", out, "--db", empty_database], "demo-admin", tmp_path)
    assert result.exit_code == 0, result.output
    assert _verify(empty_database).ok

    source_log, copy_log = _audit(pg_demo), _audit(empty_database)
    upto = len(copy_log) - 2  # the restore: session.open and restore
    assert len(source_log) > upto  # the saver went on after the snapshot
    pd.testing.assert_frame_equal(copy_log.iloc[:upto].reset_index(drop=True),
                                  source_log.iloc[:upto].reset_index(drop=True))
    assert copy_log.iloc[upto - 1]["action"] == "backup" or "backup" in set(
        copy_log["action"].iloc[:upto])
    assert copy_log.iloc[-1][["username", "action"]].tolist() == ["demo-admin", "restore"]

    copy = _reviews(empty_database)
    assert len(copy) == len(before)
    merged = copy.merge(before, on="review_id", suffixes=("", "_before"))
    gained = 0
    for row in merged.itertuples():
        if row.version == row.version_before:
            assert (pd.isna(row.comment_overall) and pd.isna(row.comment_overall_before)
                    or row.comment_overall == row.comment_overall_before)
        else:
            assert saved[(row.review_id, row.version)] == row.comment_overall
            gained += row.version - row.version_before
    assert gained > 0
    assert gained == int((copy_log.iloc[:upto]["action"] == "save_review").sum())
    for table in ("users", "approvals", "store_meta"):
        order = {"users": "username", "approvals": "approval_id", "store_meta": "key"}[table]
        pd.testing.assert_frame_equal(
            _table(empty_database, f"SELECT * FROM {table} ORDER BY {order}"),
            _table(pg_demo, f"SELECT * FROM {table} ORDER BY {order}"))


def test_pg_restore_recreates_missing_person_roles_and_keeps_row_security(
        pg_demo, empty_database, tmp_path):
    out = tmp_path / "b.tar"
    assert _cli(["backup", out, "--db", pg_demo], "demo-admin", tmp_path).exit_code == 0
    roles = list(_table(pg_demo, "SELECT db_role FROM users WHERE db_role IS NOT NULL "
                                 "ORDER BY db_role")["db_role"])
    assert roles
    # A new server has none of the source's person roles: drop them (the source's database
    # keeps its rows; its own fixture drops the roles again, IF EXISTS).
    admin = create_engine(make_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for role in roles:  # and its CONNECT on the source's database (0018)
                conn.execute(text(f'DROP OWNED BY "{role}"'))
                conn.execute(text(f'DROP ROLE "{role}"'))
    finally:
        admin.dispose()
    result = _cli(["restore", out, "--db", empty_database], "demo-admin", tmp_path)
    assert result.exit_code == 0, result.output
    found = _table(empty_database,
                   "SELECT r.rolname, r.rolcanlogin, pg_has_role(r.rolname, 'sjr_person', "
                   "'MEMBER') AS person FROM pg_roles r JOIN users u ON u.db_role = r.rolname "
                   "ORDER BY r.rolname")
    assert list(found["rolname"]) == roles
    assert found["person"].all() and found["rolcanlogin"].all()
    # Row-level security holds in the restore: the lead's own role sees only their
    # organisation's reviews.
    lead_role, org = _table(empty_database, "SELECT db_role, organisation_code FROM users "
                                            "WHERE username = 'demo-lead'").iloc[0]
    lead_url = make_url(empty_database).set(username=lead_role).render_as_string(
        hide_password=False)
    engine = create_engine(lead_url)
    try:
        with engine.connect() as conn:
            seen = set(conn.execute(text(
                "SELECT DISTINCT organisation_code FROM reviews")).scalars())
    finally:
        engine.dispose()
    assert seen == {org}


def test_pg_restore_refuses_a_non_empty_database_and_a_non_administrator(
        pg_demo, empty_database, tmp_path):
    out = tmp_path / "b.tar"
    assert _cli(["backup", out, "--db", pg_demo], "demo-admin", tmp_path).exit_code == 0
    entries = len(_audit(pg_demo))
    result = _cli(["restore", out, "--db", pg_demo], "demo-admin", tmp_path)
    assert result.exit_code == 1 and "not empty" in result.output
    log = _audit(pg_demo)
    assert log.iloc[-1]["action"] == "restore.denied" and len(log) == entries + 2
    result = _cli(["restore", out, "--db", empty_database], "demo-lead", tmp_path)
    assert result.exit_code == 1 and "refused" in result.output, result.output
    assert _table(empty_database, "SELECT count(*) AS n FROM information_schema.tables "
                                  "WHERE table_schema = current_schema()")["n"][0] == 0
    # ...and the database takes a proper restore afterwards.
    result = _cli(["restore", out, "--db", empty_database], "demo-admin", tmp_path)
    assert result.exit_code == 0, result.output


def test_pg_backup_refused_to_a_non_administrator_and_audited(pg_demo, tmp_path):
    result = _cli(["backup", tmp_path / "b.tar", "--db", pg_demo], "demo-lead", tmp_path)
    assert result.exit_code == 1 and "refused" in result.output
    assert not (tmp_path / "b.tar").exists()
    last = _audit(pg_demo).iloc[-1]
    assert (last["username"], last["action"]) == ("demo-lead", "backup.denied")


def test_a_pg_backup_is_not_restored_into_sqlite(pg_demo, tmp_path):
    out = tmp_path / "b.tar"
    assert _cli(["backup", out, "--db", pg_demo], "demo-admin", tmp_path).exit_code == 0
    result = _cli(["restore", out, "--db", f"sqlite:///{tmp_path / 'r.db'}"], "demo-admin",
                  tmp_path)
    assert result.exit_code == 1 and "PostgreSQL backup" in result.output
    assert not (tmp_path / "r.db").exists()


def _normal(value):
    """One value as both engines can be compared: booleans as 0/1, times as UTC-naive
    timestamps (SQLite keeps ISO text), JSON as sorted text, numbers as floats."""
    import datetime as dt
    import decimal
    import json
    import re

    if value is None or isinstance(value, float) and pd.isna(value):
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (decimal.Decimal, int, float)):
        return float(value)
    if isinstance(value, str) and re.match(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d", value):
        value = pd.Timestamp(value).to_pydatetime()
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.dumps(json.loads(value), sort_keys=True)
        except ValueError:
            return value
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def _rows(url: str, table: str, columns: list[str], order: list[str]) -> list[tuple]:
    engine = store.get_engine(url)
    names = ", ".join(f'"{c}"' for c in columns)
    by = ", ".join(f'"{c}"' for c in order)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(f'SELECT {names} FROM "{table}" ORDER BY {by}').all()
    finally:
        engine.dispose()
    return [tuple(_normal(v) for v in row) for row in rows]


def test_restore_drill_sqlite_backup_into_postgresql(tmp_path, empty_database):
    """The drill: a SQLite store's backup restored into a new PostgreSQL database carries
    every table (organisations, deaths, reviews and their versions, users, approvals, theme
    codes, actions, training, the audit log) at the same schema revision; the chain verifies,
    each person gets their own LOGIN role, row security holds and the store takes saves."""
    from sqlalchemy import inspect

    source = f"sqlite:///{tmp_path / 'src.db'}"
    result = _cli(["demo-data", "--db", source, "--organisations", "2", "--years", "1",
                   "--seed", "5"], None, tmp_path)
    assert result.exit_code == 0, result.output
    out = tmp_path / "sqlite.sjrbackup"
    assert _cli(["backup", out, "--db", source], "demo-admin", tmp_path).exit_code == 0
    started = time.perf_counter()
    result = _cli(["restore", out, "--db", empty_database], "demo-admin", tmp_path)
    took = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    assert "person database role(s) created" in result.output
    print(f"SQLite backup {out.stat().st_size} bytes restored into PostgreSQL in {took:.1f} s")
    assert _verify(empty_database).ok

    engine = store.get_engine(empty_database)
    try:
        inspector = inspect(engine)
        tables = {t: ([c["name"] for c in inspector.get_columns(t)],
                      inspector.get_pk_constraint(t)["constrained_columns"])
                  for t in inspector.get_table_names()}
    finally:
        engine.dispose()
    for expected in ("organisations", "deaths", "reviews", "phase_assessments", "users",
                     "approvals", "theme_codes", "actions", "training_cases",
                     "codebook_versions", "audit_log", "audit_head", "store_meta",
                     "alembic_version"):
        assert expected in tables, expected
    source_log = _audit(source)
    filled = 0
    for table, (columns, key) in sorted(tables.items()):
        if table in ("users", "audit_log", "audit_head", "audit_queue", "audit_queue_head",
                     "sjr_review_written"):  # PostgreSQL's tables only
            continue
        mine = _rows(source, table, columns, key or columns)
        theirs = _rows(empty_database, table, columns, key or columns)
        assert theirs == mine, table
        filled += bool(mine)
    assert filled >= 10  # organisations, deaths, reviews, versions, approvals, themes, ...
    users_columns = [c for c in tables["users"][0] if c != "db_role"]
    assert (_rows(empty_database, "users", users_columns, ["username"])
            == _rows(source, "users", users_columns, ["username"]))
    log_columns = tables["audit_log"][0]
    copied = _rows(empty_database, "audit_log", log_columns, ["id"])
    assert copied[:len(source_log)] == _rows(source, "audit_log", log_columns, ["id"])
    after = _audit(empty_database).iloc[len(source_log):]
    assert list(after["action"][:2]) == ["session.open", "restore"]
    assert set(after["action"][2:]) == {"users.login"}
    assert len(after) - 2 == len(_table(source, "SELECT username FROM users"))

    # Each person signs in with their own role and sees their organisation only; the
    # migrated store takes a save, audited on the chain it carried over.
    lead_role, org = _table(empty_database, "SELECT db_role, organisation_code FROM users "
                                            "WHERE username = 'demo-lead'").iloc[0]
    assert lead_role.startswith("sjr_demo_lead_")
    lead_engine = create_engine(make_url(empty_database).set(username=lead_role))
    try:
        with lead_engine.connect() as conn:
            assert set(conn.execute(text("SELECT DISTINCT organisation_code FROM reviews")
                                    ).scalars()) == {org}
    finally:
        lead_engine.dispose()
    lead = open_session("demo-lead", empty_database, tool="test")
    try:
        mine = lead.reviews()
        review_id = mine.loc[mine["status"] != "locked", "review_id"].iloc[0]
        current = lead.review(review_id)
        values = {k: v for k, v in current.items() if k != "version"}
        values["comment_overall"] = "saved after the migration"
        lead.save_review(values, expected_version=current["version"])
    finally:
        lead.close()
    assert _verify(empty_database).ok


def test_pg_pseudonyms_are_the_same_after_a_restore(pg_demo, empty_database, tmp_path):
    out = tmp_path / "b.tar"
    assert _cli(["backup", out, "--db", pg_demo], "demo-admin", tmp_path).exit_code == 0
    result = _cli(["restore", out, "--db", empty_database], "demo-admin", tmp_path)
    assert result.exit_code == 0, result.output
    frames = []
    for url, name in ((pg_demo, "before.csv"), (empty_database, "after.csv")):
        result = _cli(["extract", "--approval", "DEMO-RESEARCH", "--out", tmp_path / name,
                       "--db", url], "demo-researcher", tmp_path)
        assert result.exit_code == 0, result.output
        frames.append(pd.read_csv(tmp_path / name, dtype=str))
    assert len(frames[0]) > 0
    pd.testing.assert_frame_equal(frames[0], frames[1])
