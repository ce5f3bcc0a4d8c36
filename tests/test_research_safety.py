"""Researchers' safe data: no month back from a quarterly approval, k-anonymous releases that
two approvals cannot link, deaths only when approved, pseudonym secrets outside the store.

The store is the access tests' synthetic one (``access_setup``); the expectations (what a month
is, which groups are too small, which rows are unique) are computed here from the stored rows
with plain pandas, independently of :mod:`data_access.anonymity`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import stat
from pathlib import Path

import pandas as pd
import pytest
from access_setup import _engines, approval, build
from sqlalchemy import inspect, text
from typer.testing import CliRunner

from data_access import AccessDenied, open_session, store
from data_access.approval_keys import KEY_FILE_ENV
from data_access.approvals import ApprovalError, ApprovalSpec

QI_FIELDS = ("organisation_code", "age_at_death", "sex", "postcode_district", "days_to_death",
             "specialty", "death_month", "admission_weekday", "death_weekday", "arrival_hour",
             "death_hour", "location_of_death", "admission_type")
"""The quasi-identifiers the red team linked on (with the organisation), and the admission's
and death's circumstances, which link as well."""
LINK_FIELDS = ("review_id", "case_id", *QI_FIELDS, "score_overall")
QUARTER = ("2021-04", "2021-09")  # two whole quarters of deaths
KEY_FILES: dict = {}
"""Each store's key file (``SJR_KEY_FILE`` while the module's fixture lasts)."""
MONTHS = ("2021-04", "2021-05", "2021-06", "2021-07", "2021-08", "2021-09")


@pytest.fixture(scope="module", params=_engines())
def safe(request, tmp_path_factory):
    """A governed store (SQLite, PostgreSQL) with approvals for these tests, its key file in a
    folder of the test's own (``SJR_KEY_FILE``) for as long as the module runs."""
    folder = tmp_path_factory.mktemp("safe")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_FILE_ENV, str(folder / "keys" / "sjr.keys"))
        gov, cleanup = build(request.param, folder)
        KEY_FILES[gov.owner_url] = folder / "keys" / "sjr.keys"
        try:
            with open_session("admin", gov.app_url, tool="test") as s:
                for name in ("LINK-1", "LINK-2"):
                    s.add_approval(approval(name, ["res2"], [gov.org_a, gov.org_b],
                                            period_start=QUARTER[0], period_end=QUARTER[1],
                                            date_coarsening="quarter", fields=LINK_FIELDS))
                s.add_approval(approval("K2", ["res2"], [gov.org_a, gov.org_b], k=2,
                                        period_start=QUARTER[0], period_end=QUARTER[1],
                                        date_coarsening="quarter", fields=LINK_FIELDS))
                s.add_approval(approval("Q-DEATHS", ["res2"], [gov.org_a], deaths=True,
                                        date_coarsening="quarter",
                                        fields=("review_id", "death_month")))
                s.add_approval(approval("M-DEATHS", ["res2"], [gov.org_a], deaths=True,
                                        fields=("review_id", "death_month")))
            yield gov
        finally:
            cleanup()


def _stored(gov) -> pd.DataFrame:
    """The released reviews of the link approvals, read as the owner (no access layer)."""
    engine = store.get_engine(gov.owner_url)
    try:
        with engine.connect() as conn:
            frame = store.load_reviews(conn, organisation_codes=[gov.org_a, gov.org_b],
                                       start_month=QUARTER[0], end_month=QUARTER[1],
                                       status=["submitted", "locked"])
    finally:
        engine.dispose()
    return frame


def _combination(frame: pd.DataFrame, columns) -> pd.Series:
    return frame[list(columns)].astype("string").fillna("<missing>").agg("|".join, axis=1)


def _unique_in_both(one: pd.DataFrame, two: pd.DataFrame, columns) -> float:
    """The share of cases of ``one`` whose combination of ``columns`` is held by exactly one
    case in ``one`` and exactly one case in ``two``: the cases the two can be linked on."""
    def unique(frame):
        cases = frame.assign(_key=_combination(frame, columns)) \
            .groupby("_key")["case_id"].nunique()
        return set(cases[cases == 1].index)

    keys = _combination(one, columns)
    linked = keys.isin(unique(one) & unique(two))
    return one.loc[linked, "case_id"].nunique() / one["case_id"].nunique()


# --------------------------------------------------------------------- period filters ----
def test_a_quarterly_approval_gives_back_no_month(safe):
    stored = _stored(safe)
    with open_session("res2", safe.app_url, tool="test") as s:
        whole = s.reviews(approval_id="LINK-1", columns=["review_id", "death_month"])
        month_of: dict[str, set[str]] = {}
        refused = 0
        for month in MONTHS:
            try:
                got = s.reviews(approval_id="LINK-1", start_month=month, end_month=month,
                                columns=["review_id"])
            except AccessDenied as exc:
                assert "month of a" in str(exc)
                refused += 1
                continue
            for review in got["review_id"]:
                month_of.setdefault(review, set()).add(month)
        # a month at each end of the request: the first month of a quarter up to each month
        for month in MONTHS:
            with pytest.raises(AccessDenied, match="last month of a"):
                if month not in ("2021-06", "2021-09"):
                    s.reviews(approval_id="LINK-1", start_month="2021-04", end_month=month)
                else:
                    raise AccessDenied("last month of a (whole quarter: allowed below)")
    assert len(whole) > 100 and whole["death_month"].str.fullmatch(r"2021(-Q[23])?").all()
    recovered = [r for r, months in month_of.items() if len(months) == 1]
    assert recovered == [] and refused == len(MONTHS)
    assert len(stored) >= len(whole)  # the months asked for exist in the store


def test_whole_units_are_answered_and_months_where_the_approval_gives_months(safe):
    with open_session("res2", safe.app_url, tool="test") as s:
        unit = s.reviews(approval_id="LINK-1").attrs["disclosure"]["period_unit"]
        if unit == "quarter":
            q2 = s.reviews(approval_id="LINK-1", start_month="2021-04", end_month="2021-06")
            assert len(q2) > 0 and set(q2["death_month"]) == {"2021-Q2"}
        monthly = s.deaths(approval_id="M-DEATHS", start_month="2021-05", end_month="2021-05")
        assert set(monthly["month"]) == {"2021-05"}


def test_deaths_follow_the_quarters_and_only_when_approved(safe):
    engine = store.get_engine(safe.owner_url)
    with engine.connect() as conn:
        deaths = store.load_deaths(conn, organisation_codes=[safe.org_a])
    engine.dispose()
    with open_session("res2", safe.app_url, tool="test") as s:
        for month in ("2021-05", "2021-06"):
            with pytest.raises(AccessDenied, match="month of a quarter"):
                s.deaths(approval_id="Q-DEATHS", start_month=month, end_month=month)
        quarter = s.deaths(approval_id="Q-DEATHS", start_month="2021-04", end_month="2021-06")
        with pytest.raises(AccessDenied, match="does not release counts of deaths"):
            s.deaths(approval_id="LINK-1")
    q2 = deaths[deaths["month"].isin(["2021-04", "2021-05", "2021-06"])]
    assert quarter["month"].tolist() == ["2021-Q2"]
    assert int(quarter["deaths_in_scope"].iloc[0]) == int(q2["deaths_in_scope"].sum()) > 0


# ---------------------------------------------------------------------- k-anonymity ----
def test_every_released_combination_holds_k_cases(safe, tmp_path):
    stored = _stored(safe)
    with open_session("res2", safe.app_url, tool="test") as s:
        result = s.extract("LINK-1", tmp_path / "one.csv")
        k2 = s.reviews(approval_id="K2")
    frame = pd.read_csv(result.path, dtype="string")
    manifest = json.loads(result.manifest.read_text())
    anonymity = manifest["k_anonymity"]
    assert anonymity["k"] == 5
    assert set(anonymity["quasi_identifiers"]) == set(QI_FIELDS) - {"organisation_code"}
    assert set(anonymity["generalised"]) == {"age_at_death", "sex", "postcode_district",
                                             "days_to_death", "specialty", "death_month",
                                             "circumstances"}
    # every combination of the released quasi-identifiers holds at least k distinct cases
    cases = frame.assign(_key=_combination(frame, QI_FIELDS)).groupby("_key")["case_id"] \
        .nunique()
    assert cases.min() >= 5
    # nothing lost unaccounted: released + suppressed = the stored rows in scope
    assert len(frame) + anonymity["suppressed_rows"] == len(stored)
    assert anonymity["suppressed_rows"] <= 0.01 * len(stored)
    # the released values are generalised: no exact age, no full district if areas are given
    assert not frame["age_at_death"].dropna().str.fullmatch(r"\d+").any()
    # the approval's own k is the one applied
    k2_cases = k2.assign(_key=_combination(k2, QI_FIELDS)).groupby("_key")["case_id"].nunique()
    assert k2.attrs["disclosure"]["k"] == 2 and k2_cases.min() >= 2


def test_two_approvals_extracts_cannot_be_linked_on_quasi_identifiers(safe, tmp_path):
    stored = _stored(safe)
    with open_session("res2", safe.app_url, tool="test") as s:
        one = pd.read_csv(s.extract("LINK-1", tmp_path / "one.csv").path, dtype="string")
        two = pd.read_csv(s.extract("LINK-2", tmp_path / "two.csv").path, dtype="string")
    # before: the stored values, coarsened to quarters only, link most cases
    coarse = stored.assign(death_month=pd.PeriodIndex(stored["death_month"], freq="M")
                           .asfreq("Q").strftime("%Y-Q%q"))
    assert _unique_in_both(coarse, coarse, QI_FIELDS) > 0.5
    # after: no case is unique in either extract, so none can be linked
    assert set(one["case_id"]).isdisjoint(set(two["case_id"]))
    assert _unique_in_both(one, two, QI_FIELDS) == 0
    assert _unique_in_both(one, one, QI_FIELDS) == 0


def test_the_same_data_and_approval_give_the_same_extract(safe, tmp_path):
    with open_session("res2", safe.app_url, tool="test") as s:
        first = s.extract("LINK-1", tmp_path / "a.csv")
        second = s.extract("LINK-1", tmp_path / "b.csv")
        narrow = s.reviews(approval_id="LINK-1", organisation_codes=[safe.org_a],
                           columns=["review_id", "age_at_death"])
    assert first.sha256 == second.sha256
    whole = pd.read_csv(first.path, dtype="string").set_index("review_id")
    # a narrower query is a slice of the one release: same generalisation, row by row
    assert (whole.loc[narrow["review_id"], "age_at_death"].fillna("-").tolist()
            == narrow["age_at_death"].fillna("-").tolist())


def test_k_is_checked_and_set_from_the_command_line(safe, tmp_path, monkeypatch):
    from sjrlib.cli import app

    base = dict(id="X", applicants=("res2",), purpose="p", organisations=(safe.org_a,),
                period_start="2021-04", period_end="2021-06", fields=("review_id",),
                start_date=dt.date.today(), end_date=dt.date.today())
    for bad in (0, 1):
        with pytest.raises(ValueError, match="greater than or equal to 2"):
            ApprovalSpec(**base, k=bad)
    assert ApprovalSpec(**base).k == 5 and ApprovalSpec(**base).deaths is False
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    monkeypatch.setenv("SJR_USER", "admin")
    runner = CliRunner()
    args = ["approvals", "add", "--id", "CLI-K", "--applicant", "res2", "--purpose", "p",
            "--organisation", safe.org_a, "--period-start", "2021-04", "--period-end",
            "2021-06", "--field", "review_id", "--start", str(dt.date.today()), "--end",
            str(dt.date.today()), "--db", safe.app_url]
    refused = runner.invoke(app, [*args, "--k", "1"])
    assert refused.exit_code == 1 and "k" in refused.output and "Traceback" not in refused.output
    added = runner.invoke(app, [*args, "--k", "10", "--deaths"])
    assert added.exit_code == 0, added.output
    with open_session("res2", safe.app_url, tool="test") as s:
        mine = s.approvals().set_index("approval_id")
    assert int(mine.loc["CLI-K", "k"]) == 10 and bool(mine.loc["CLI-K", "deaths"])
    assert int(mine.loc["LINK-1", "k"]) == 5 and not bool(mine.loc["LINK-1", "deaths"])


# ------------------------------------------------------------------------- secrets ----
def test_secrets_are_in_the_key_file_not_the_store(safe):
    key_file = KEY_FILES[safe.owner_url]
    assert os.environ[KEY_FILE_ENV] == str(key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    (keys,) = json.loads(key_file.read_text())["stores"].values()  # this store's only
    engine = store.get_engine(safe.owner_url)
    try:
        with engine.connect() as conn:
            assert "approval_secrets" not in inspect(conn).get_table_names()
            stored = store.load_reviews(conn, organisation_codes=[safe.org_a, safe.org_b],
                                        start_month=QUARTER[0], end_month=QUARTER[1],
                                        status=["submitted", "locked"])
            dump = "".join(str(r) for t in inspect(conn).get_table_names()
                           for r in conn.execute(text(f'SELECT * FROM "{t}"')).all())
    finally:
        engine.dispose()
    assert not any(secret in dump or bytes.fromhex(secret).hex() in dump
                   for secret in keys.values())
    with open_session("res2", safe.app_url, tool="test") as s:
        got = s.reviews(approval_id="LINK-1", columns=["review_id"])
    secret = bytes.fromhex(keys["LINK-1"])
    expected = {hmac.new(secret, f"review:{r}".encode(), hashlib.sha256).hexdigest()[:20]
                for r in stored["review_id"]}
    assert len(got) > 0 and set(got["review_id"]) <= expected


def test_a_lost_or_foreign_key_file_is_an_error_not_new_pseudonyms(safe, tmp_path):
    key_file = KEY_FILES[safe.owner_url]
    with open_session("res2", safe.app_url, tool="test") as s:
        before = s.reviews(approval_id="LINK-1", columns=["review_id"])
    moved = key_file.with_name("moved.keys")
    key_file.rename(moved)
    try:
        with open_session("res2", safe.app_url, tool="test") as s:
            with pytest.raises(ApprovalError, match="key file .* is missing"):
                s.reviews(approval_id="LINK-1")
            with pytest.raises(ApprovalError, match="missing"):
                s.extract("LINK-1", tmp_path / "x.csv")
        assert not (tmp_path / "x.csv").exists() and not key_file.exists()
        # another store's key file is told apart
        key_file.write_text(json.dumps({"stores": {"another": {"LINK-1": "00" * 32}}}))
        key_file.chmod(0o600)
        with open_session("res2", safe.app_url, tool="test") as s:
            with pytest.raises(ApprovalError, match="belongs to another store"):
                s.reviews(approval_id="LINK-1")
    finally:
        moved.replace(key_file)
    key_file.chmod(0o644)
    try:
        with open_session("res2", safe.app_url, tool="test") as s:
            with pytest.raises(ApprovalError, match="chmod 600"):
                s.reviews(approval_id="LINK-1")
    finally:
        key_file.chmod(0o600)
    with open_session("res2", safe.app_url, tool="test") as s:
        after = s.reviews(approval_id="LINK-1", columns=["review_id"])
    assert after["review_id"].tolist() == before["review_id"].tolist()


def test_init_db_moves_old_secrets_out_of_the_store(db_url, tmp_path, monkeypatch):
    """A store made before revision 0005 keeps its pseudonyms: ``sjr init-db`` moves each
    secret to the key file and drops the table."""
    from alembic import command

    from data_access import database
    from data_access.approvals import approval_secret, get_approval

    key_file = tmp_path / "private" / "sjr.keys"
    monkeypatch.setenv(KEY_FILE_ENV, str(key_file))
    engine = store.get_engine(db_url)
    old_secret = os.urandom(32)
    try:
        with engine.begin() as conn:
            config = database._alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "0004_store_meta")
            conn.execute(text(
                "INSERT INTO approvals (approval_id, applicants, purpose, organisations, "
                "period_start, period_end, fields, free_text, date_coarsening, start_date, "
                "end_date, status) VALUES ('OLD-1', :a, 'p', :o, '2021-04', '2021-06', :f, "
                "false, 'month', '2026-01-01', '2026-12-31', 'active')"),
                {"a": '["r"]', "o": '["XA1"]', "f": '["review_id"]'})
            conn.execute(text("INSERT INTO approval_secrets (approval_id, secret) "
                              "VALUES ('OLD-1', :s)"), {"s": old_secret})
        assert not key_file.exists()
        runner = CliRunner()
        from sjrlib.cli import app

        done = runner.invoke(app, ["init-db", "--db", db_url])
        assert done.exit_code == 0, done.output
        with engine.connect() as conn:
            assert "approval_secrets" not in inspect(conn).get_table_names()
            assert approval_secret(conn, "OLD-1") == old_secret
            record = get_approval(conn, "OLD-1")
            assert record is not None and record.k == 5 and record.deaths is False
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
        assert list(json.loads(key_file.read_text())["stores"].values()) == [
            {"OLD-1": old_secret.hex()}]
    finally:
        engine.dispose()


def test_reviews_are_chosen_only_by_released_fields(safe):
    """A filter on a field the approval does not release would reveal it row by row."""
    with open_session("res2", safe.app_url, tool="test") as s:
        # Q-DEATHS releases review_id and death_month only
        for kwargs, field in ((dict(organisation_codes=[safe.org_a]), "organisation_code"),
                              (dict(stage="second"), "review_stage"),
                              (dict(status="locked"), "status")):
            with pytest.raises(AccessDenied, match=f"does not release {field}"):
                s.reviews(approval_id="Q-DEATHS", **kwargs)
        assert len(s.reviews(approval_id="Q-DEATHS", start_month="2021-04",
                             end_month="2021-06")) > 0
        # LINK-1 releases organisation_code: a narrower organisation is answered
        assert len(s.reviews(approval_id="LINK-1", organisation_codes=[safe.org_a])) > 0


def _frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["case_id", "organisation_code", "age_at_death", "sex"]) \
        .astype({"case_id": "string", "organisation_code": "string", "age_at_death": "Int64",
                 "sex": "string"})


def test_generalisation_on_a_hand_made_frame():
    from data_access.anonymity import k_anonymise

    fields = ("case_id", "organisation_code", "age_at_death", "sex")
    # six cases aged 80-84 and four aged 85-89, all one sex, one organisation
    rows = [(f"C{i}", "XA1", age, "female")
            for i, age in enumerate([80, 81, 82, 83, 84, 84, 85, 86, 88, 89])]
    done = k_anonymise(_frame(rows), fields=fields, k=5, coarsening="month")
    assert done.levels == {"age_at_death": "10-year band", "sex": "as recorded"}
    assert set(done.columns["age_at_death"]) == {"80-89"} and done.suppressed == 0
    # k=4 holds with 5-year bands: 6 and 4 cases
    done = k_anonymise(_frame(rows), fields=fields, k=4, coarsening="month")
    assert done.levels["age_at_death"] == "5-year band"
    assert sorted(set(done.columns["age_at_death"])) == ["80-84", "85-89"]
    # one case of 40: no band holds it with the others, so age goes (1 row > 1% of 11)
    done = k_anonymise(_frame([*rows, ("C40", "XA1", 40, "female")]), fields=fields, k=5,
                       coarsening="month")
    assert done.levels["age_at_death"] == "dropped" and done.suppressed == 0
    assert done.columns["age_at_death"].isna().all()
    # two reviews of one case count once: five rows of three cases are not 5 cases
    few = _frame([("C1", "XA1", 80, "male"), ("C1", "XA1", 80, "male"),
                  ("C2", "XA1", 81, "male"), ("C2", "XA1", 81, "male"),
                  ("C3", "XA1", 82, "male")])
    done = k_anonymise(few, fields=fields, k=5, coarsening="month")
    assert done.suppressed == 5 and not done.kept.any()
    # organisations are never merged: k holds in each
    split = _frame([(f"C{i}", "XA1" if i < 5 else "XB2", 80, "male") for i in range(9)])
    done = k_anonymise(split, fields=fields, k=5, coarsening="month")
    assert done.kept.tolist() == [True] * 5 + [False] * 4 and done.suppressed == 4


def test_a_larger_k_is_never_less_coarse(safe):
    from data_access.anonymity import LADDERS

    def height(levels: dict) -> int:
        return sum(LADDERS[q].index(level) for q, level in levels.items())

    with open_session("res2", safe.app_url, tool="test") as s:
        k5 = s.reviews(approval_id="LINK-1").attrs["disclosure"]
        k2 = s.reviews(approval_id="K2").attrs["disclosure"]
    assert (k2["k"], k5["k"]) == (2, 5)
    assert height(k2["generalised"]) <= height(k5["generalised"])


def test_one_key_file_serves_two_stores(tmp_path, monkeypatch):
    """One ``SJR_KEY_FILE`` (a service's) keeps each store's keys apart."""
    from data_access.approvals import approval_secret

    monkeypatch.setenv(KEY_FILE_ENV, str(tmp_path / "service.keys"))
    secrets_of = []
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        gov, cleanup = build("sqlite", tmp_path / name)
        engine = store.get_engine(gov.owner_url)
        with engine.connect() as conn:
            secrets_of.append({a: approval_secret(conn, a) for a in ("DARG-1", "DARG-2")})
        engine.dispose()
        cleanup()
    stores = json.loads((tmp_path / "service.keys").read_text())["stores"]
    assert len(stores) == 2
    # the same approval ids in two stores have different secrets
    assert secrets_of[0]["DARG-1"] != secrets_of[1]["DARG-1"]


def test_where_the_key_file_is_by_default(tmp_path, monkeypatch):
    from sqlalchemy.engine import make_url

    from data_access.approval_keys import ApprovalKeyError, key_file_path

    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert key_file_path(make_url("sqlite:////srv/sjr/data/sjr.db")) == \
        Path("/srv/sjr/data/sjr.keys")
    assert key_file_path(make_url("postgresql+psycopg://svc@db.example:6543/sjr")) == \
        tmp_path / "config" / "sjr" / "keys" / "db.example-6543-sjr.keys"
    with pytest.raises(ApprovalKeyError, match="in-memory"):
        key_file_path(make_url("sqlite://"))
    monkeypatch.setenv(KEY_FILE_ENV, str(tmp_path / "chosen.keys"))
    assert key_file_path(make_url("sqlite:////srv/sjr/data/sjr.db")) == tmp_path / "chosen.keys"
    # a real store with no setting: the keys are written beside it, private
    monkeypatch.delenv(KEY_FILE_ENV)
    gov, cleanup = build("sqlite", tmp_path)
    cleanup()
    beside = tmp_path / "sjr.keys"
    assert stat.S_IMODE(beside.stat().st_mode) == 0o600
    assert set(*json.loads(beside.read_text())["stores"].values()) >= {"DARG-1", "DARG-2"}
