"""The demo store's users, and the administrator bootstrap that cannot lock anyone out."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from data_access import audit, demo, store
from data_access.identity import add_user, set_disabled
from sjrlib.cli import app

EXPECTED_ROLES = {"demo-admin": "administrator", "demo-programme": "programme_team",
                  "demo-lead": "organisation_lead", "demo-reviewer": "reviewer",
                  "demo-researcher": "researcher"}


def sjr(*args, user=None):
    return CliRunner().invoke(app, [str(a) for a in args],
                              env={"SJR_USER": user, "JUPYTERHUB_USER": None,
                                   "SJR_DATABASE_URL": None, "SJR_CONFIG": "/nonexistent"})


def _users(url) -> pd.DataFrame:
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            return pd.read_sql(text("SELECT username, role, organisation_code, reviewer_id, "
                                    "disabled FROM users ORDER BY username"), conn)
    finally:
        engine.dispose()


def _query(url, sql, **params):
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).all()
    finally:
        engine.dispose()


@pytest.fixture
def demo_url(db_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = sjr("demo-data", "--db", db_url, "--organisations", "4", "--years", "2",
                 "--seed", "3")
    assert result.exit_code == 0, result.output
    return db_url


def test_demo_data_registers_one_user_per_role_and_an_approval(demo_url):
    users = _users(demo_url).set_index("username")
    assert users["role"].to_dict() == EXPECTED_ROLES
    lead_org = users.loc["demo-lead", "organisation_code"]
    assert users.loc["demo-reviewer", "organisation_code"] == lead_org
    assert _query(demo_url, "SELECT nation FROM organisations WHERE code = :c",
                  c=lead_org)[0][0] == "england"
    reviewer = users.loc["demo-reviewer", "reviewer_id"]
    own = _query(demo_url, "SELECT count(*) FROM reviews WHERE reviewer_id = :r "
                 "AND organisation_code = :o", r=reviewer, o=lead_org)[0][0]
    assert own > 0  # the demo reviewer has reviews of their own to open
    approval = _query(demo_url, "SELECT applicants, status FROM approvals "
                      "WHERE approval_id = :a", a=demo.DEMO_APPROVAL)
    assert approval and "demo-researcher" in approval[0][0] and approval[0][1] == "active"
    listed = sjr("users", "list", "--db", demo_url, user="demo-admin")
    assert listed.exit_code == 0, listed.output
    for name in EXPECTED_ROLES:
        assert name in listed.output
    # Every user was added through an audited call, and the chain holds.
    engine = store.get_engine(demo_url)
    try:
        with engine.connect() as conn:
            added = audit.entries(conn, action="users.add")
            assert audit.verify(conn).ok
    finally:
        engine.dispose()
    assert len(added) == len(EXPECTED_ROLES)


def test_each_demo_user_can_do_their_first_thing(demo_url, tmp_path):
    assert sjr("summary", "--db", demo_url, user="demo-programme").exit_code == 0
    assert sjr("summary", "--db", demo_url, user="demo-lead").exit_code == 0
    out = tmp_path / "extract.parquet"
    result = sjr("extract", "--approval", demo.DEMO_APPROVAL, "--out", out, "--db", demo_url,
                 user="demo-researcher")
    assert result.exit_code == 0, result.output
    assert out.exists()
    from data_access.extract import read_extract, read_theme_codes

    codes = read_theme_codes(out)  # the demo approval releases the synthetic codes
    assert len(codes) > 0 and set(codes["review_id"]) <= set(read_extract(out)["review_id"])
    # every column k-anonymity emptied is named where the researcher reads the row count
    frame = read_extract(out)
    empty = [c for c in frame.columns if frame[c].isna().all()]
    assert empty and "dropped, empty in the file" in result.output
    assert all(c in result.output for c in empty), (empty, result.output)
    result = sjr("audit", "verify", "--db", demo_url, user="demo-admin")
    assert result.exit_code == 0 and "intact" in result.output


def test_demo_data_again_leaves_data_and_users_alone(demo_url):
    before = _users(demo_url)
    result = sjr("demo-data", "--db", demo_url)
    assert result.exit_code == 0, result.output
    assert "demo users ready" in result.output
    pd.testing.assert_frame_equal(_users(demo_url), before)


def test_a_store_not_marked_synthetic_never_gets_demo_users(db_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store.init_db(db_url)
    result = sjr("users", "add", "real-admin", "--role", "administrator", "--db", db_url)
    assert result.exit_code == 0, result.output
    result = sjr("demo-data", "--db", db_url, "--organisations", "2", "--years", "1")
    assert result.exit_code == 1, result.output  # refused: make demo stops there
    assert "not a synthetic store" in result.output
    assert _users(db_url)["username"].tolist() == ["real-admin"]
    assert _query(db_url, "SELECT count(*) FROM reviews")[0][0] == 0
    engine = store.get_engine(db_url)
    try:
        with engine.connect() as conn:
            assert not demo.is_synthetic(conn)
    finally:
        engine.dispose()


def test_bootstrap_only_while_no_administrator_is_enabled(db_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store.init_db(db_url)
    engine = store.get_engine(db_url)
    try:
        with engine.begin() as conn:  # a store left by the old report batch: one system user
            add_user(conn, "sjr-reports", "programme_team")
    finally:
        engine.dispose()
    # Only an administrator can be the first: a lead would be a user nobody can manage.
    result = sjr("users", "add", "first-lead", "--role", "programme_team", "--db", db_url)
    assert result.exit_code == 1 and "no administrator" in result.output
    result = sjr("users", "add", "ops", "--role", "administrator", "--db", db_url)
    assert result.exit_code == 0, result.output
    # Now there is one: nobody else can bootstrap.
    result = sjr("users", "add", "intruder", "--role", "administrator", "--db", db_url)
    assert result.exit_code == 1 and "refused" in result.output
    # Its administrator disabled (locked out): the operator may register a new one.
    engine = store.get_engine(db_url)
    try:
        with engine.begin() as conn:
            set_disabled(conn, "ops")
    finally:
        engine.dispose()
    result = sjr("users", "add", "ops2", "--role", "administrator", "--db", db_url)
    assert result.exit_code == 0, result.output
    entries = _query(db_url, "SELECT username, action, scope FROM audit_log "
                     "WHERE action = 'users.add' ORDER BY id")
    assert [e[0] for e in entries] == ["ops", "ops2"]
    assert all('"bootstrap":true' in e[2] for e in entries)
    result = sjr("users", "add", "helper", "--role", "programme_team", "--db", db_url,
                 user="ops2")
    assert result.exit_code == 0, result.output


def test_the_old_report_user_is_disabled_by_the_upgrade(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    from alembic import command

    from data_access import database

    engine = store.get_engine(url)
    try:
        with engine.begin() as conn:
            config = database._alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "0003_security")
            add_user(conn, "sjr-reports", "programme_team")
    finally:
        engine.dispose()
    store.init_db(url)
    users = _users(url).set_index("username")
    assert bool(users.loc["sjr-reports", "disabled"])
    result = sjr("summary", "--db", url, user="sjr-reports")
    assert result.exit_code == 1 and "disabled" in result.output


def test_the_bootstrapped_administrator_signs_in_as_their_own_role_on_postgresql(db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("database roles are PostgreSQL's")
    from sqlalchemy.engine import make_url

    from data_access import open_session
    from data_access.session import bootstrap_administrator

    store.init_db(db_url)
    bootstrap_administrator("ops", db_url)
    role = _query(db_url, "SELECT db_role FROM users WHERE username = 'ops'")[0][0]
    assert role
    own = make_url(db_url).set(username=role).render_as_string(hide_password=False)
    with open_session(db=own, tool="test") as session:  # no name given: the role says who
        assert (session.user, session.role) == ("ops", "administrator")
        session.add_user("helper", "programme_team")
    assert _query(db_url, "SELECT role FROM users WHERE username = 'helper'")[0][0] \
        == "programme_team"


def test_the_demo_reviewer_has_a_round_open_to_score(demo_url):
    import datetime as dt

    from data_access import open_session
    from data_access.training_demo import DEMO_OPEN_ROUND, DEMO_ROUND

    with open_session("demo-reviewer", demo_url, tool="test") as reviewer:
        rounds = reviewer.calibration_rounds().set_index("round_id")
        assert {DEMO_ROUND, DEMO_OPEN_ROUND} <= set(rounds.index)
        today = dt.date.today()
        opened = rounds.loc[DEMO_OPEN_ROUND]
        assert str(opened["opens_on"])[:10] <= today.isoformat() <= str(opened["closes_on"])[:10]
        answers = reviewer.calibration_answers()
        assert set(answers.loc[answers["round_id"] == DEMO_ROUND, "case_id"]) \
            == set(rounds.loc[DEMO_ROUND, "case_ids"])
        assert answers[answers["round_id"] == DEMO_OPEN_ROUND].empty
        assert len(opened["case_ids"]) == 3
