"""Revision ``0038_people_keys_by_equality``: no index lists user names or approval ids by
ranges to a person's own role.

``users`` and ``approvals`` are readable to every person's role (each reads their own row, a
researcher the approvals naming them), and row-level security filters rows after the scan
that fetched them. With the one-column B-tree primary keys, ``EXPLAIN ANALYZE`` of a range
condition printed how many rows of that range the index scan fetched before the policy
removed them: halving the range each time spelled out every approval id and user name. Each
probe here runs as a researcher's and a lead's own role (plain psycopg, no project code in
between) under three planner settings; the owner adds an approval naming someone else and a
user under ids inside the probed range, then renames them to ids outside it, and the counts
``EXPLAIN ANALYZE`` printed must be the same both times. On revision 0037 they were not (the
index scan's ``actual rows`` was 1 inside, 0 outside). The organisation and the persons are
written here by hand, not taken from the synthetic generator.
"""

from __future__ import annotations

import psycopg
import pytest
from access_setup import POSTGRES_URL, _create_pg_database, drop_pg_store
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from test_pg_scope_index_2026_12_10 import PLANS, _counts, set_plan

from data_access import pg_security, store
from sjrlib import io

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set"),
]

PROBES = {
    "approvals": "SELECT 1 FROM approvals WHERE approval_id >= 'zzp' AND approval_id < 'zzq'",
    "users": "SELECT 1 FROM users WHERE username >= 'zzp' AND username < 'zzq'",
}
"""A range of ids, letters only (the same order under every collation)."""
INSIDE = {"approvals": "zzp-hidden-study", "users": "zzp.hidden.person"}
OUTSIDE = {"approvals": "aa-hidden-study", "users": "aa.hidden.person"}


def _approval(conn, approval_id: str, applicant: str) -> None:
    """As the owner: an active approval of ``applicant`` for a study of QQ1's reviews."""
    conn.execute(text(
        "INSERT INTO approvals (approval_id, applicants, purpose, organisations, period_start, "
        "period_end, fields, free_text, date_coarsening, start_date, end_date, k, status, "
        "created_at) VALUES (:id, :applicants, 'A study.', '[\"QQ1\"]', '2024-04', "
        "'2025-03', '[\"review_id\"]', false, 'month', '2026-01-01', '2027-12-31', 5, "
        "'active', now())"), {"id": approval_id, "applicants": f'["{applicant}"]'})


@pytest.fixture(scope="module")
def pg(tmp_path_factory):
    owner_url = _create_pg_database()
    csv = tmp_path_factory.mktemp("orgs") / "organisations.csv"
    csv.write_text("organisation_code,name,nation,region\n"
                   "QQ1,Quarry Hill Hospitals NHS Trust,england,North East and Yorkshire\n",
                   encoding="utf-8")
    try:
        store.init_db(owner_url)
        engine = store.get_engine(owner_url)
        roles = {}
        with engine.begin() as conn:
            store.import_organisations(conn, io.read_organisations(csv))
            for name, role, org in (("admin.one", "administrator", None),
                                    ("researcher.one", "researcher", None),
                                    ("lead.one", "organisation_lead", "QQ1")):
                roles[name] = pg_security.add_user(
                    conn, acting="admin.one", username=name, role=role, organisation_code=org,
                    reviewer_id=None, tool="test")
            _approval(conn, "STUDY-OWN", "researcher.one")
        engine.dispose()
        yield owner_url, roles
    finally:
        drop_pg_store(owner_url)


def _explain(owner_url: str, role: str) -> dict[tuple[str, int], list[tuple]]:
    url = make_url(owner_url)
    seen = {}
    with psycopg.connect(host=url.host, port=url.port or 5432, dbname=url.database,
                         user=role) as conn:
        for p, settings in enumerate(PLANS):
            set_plan(conn, settings)
            for table, probe in PROBES.items():
                rows = conn.execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {probe}")
                seen[table, p] = _counts("\n".join(r[0] for r in rows.fetchall()))
            conn.execute("RESET ALL")
    return seen


def _place(owner_url: str, ids: dict[str, str], previous: dict[str, str] | None) -> None:
    """As the owner: the hidden approval (naming someone else) and the hidden user under
    ``ids``, renamed from ``previous`` if given, else added."""
    engine = create_engine(owner_url)
    try:
        with engine.begin() as conn:
            if previous:
                conn.execute(text("UPDATE approvals SET approval_id = :new WHERE approval_id "
                                  "= :old"), {"new": ids["approvals"],
                                               "old": previous["approvals"]})
                conn.execute(text("UPDATE users SET username = :new WHERE username = :old"),
                             {"new": ids["users"], "old": previous["users"]})
                return
            _approval(conn, ids["approvals"], "someone.else")
            conn.execute(text("INSERT INTO users (username, role, disabled, created_at) "
                              "VALUES (:name, 'researcher', false, now())"),
                         {"name": ids["users"]})
    finally:
        engine.dispose()


def test_explain_analyze_does_not_spell_out_names_or_approval_ids(pg):
    owner_url, roles = pg
    people = (roles["researcher.one"], roles["lead.one"])
    _place(owner_url, INSIDE, None)
    inside = {role: _explain(owner_url, role) for role in people}
    _place(owner_url, OUTSIDE, INSIDE)
    outside = {role: _explain(owner_url, role) for role in people}
    changed = [(role, table, PLANS[p]) for role in people
               for (table, p), counts in inside[role].items()
               if outside[role][table, p] != counts]
    assert not changed, changed
    assert all(counts for seen in inside.values() for counts in seen.values())


def test_people_keys_are_unique_by_equality_only(pg):
    """The keys still refuse a second row under a name or id in use, and no B-tree index is
    left on either (the hash index of each exclusion constraint answers ``=`` only)."""
    owner_url, _roles = pg
    engine = create_engine(owner_url)
    try:
        with engine.connect() as conn:
            methods = dict(conn.execute(text(
                "SELECT c.relname, a.amname FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
                "JOIN pg_attribute t ON t.attrelid = i.indrelid AND t.attnum = i.indkey[0] "
                "WHERE i.indrelid IN ('users'::regclass, 'approvals'::regclass) "
                "AND t.attname IN ('username', 'approval_id')")).all())
        assert methods == {"ex_users_username": "hash", "ex_approvals_approval_id": "hash"}
        for statement in (
                "INSERT INTO users (username, role, disabled, created_at) "
                "VALUES ('researcher.one', 'researcher', false, now())",
                "INSERT INTO approvals SELECT * FROM approvals WHERE approval_id = 'STUDY-OWN'"):
            with pytest.raises(Exception, match="ex_(users_username|approvals_approval_id)"), \
                    engine.begin() as conn:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def test_a_researcher_still_reads_their_own_approval_by_its_id(pg):
    owner_url, roles = pg
    url = make_url(owner_url)
    with psycopg.connect(host=url.host, port=url.port or 5432, dbname=url.database,
                         user=roles["researcher.one"]) as conn:
        own = conn.execute("SELECT approval_id FROM approvals").fetchall()
        named = conn.execute("SELECT username FROM users").fetchall()
    assert own == [("STUDY-OWN",)] and named == [("researcher.one",)]

