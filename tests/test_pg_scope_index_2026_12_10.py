"""Revision ``0034_scope_in_the_index``: what ``EXPLAIN ANALYZE`` prints for a lead or a
reviewer does not change when another organisation's rows do.

The insider audit of 2026-12-09 (still-open item 1) read other organisations' exact review
counts as a lead's own role: ``SET enable_seqscan = off; EXPLAIN ANALYZE SELECT 1 FROM reviews
WHERE organisation_code = '<another>' AND death_month = '...'`` printed the rows the index
scan fetched and the policy then removed. Each test here connects as the person's own role
with plain psycopg (no project code in between), runs a probe under three planner settings,
and keeps every count ``EXPLAIN ANALYZE`` printed (each node's actual rows and loops, and the
rows removed). The owner then changes only the other organisation's rows (adds reviews, drops a
deaths month, adds an action and a training record, drops a calibration answer and a round
member), and the probe runs again: the counts must be the same. On revision 0033 they were not.
A structural test holds every index of those tables to leading with ``organisation_code``; the
controls show a lead and a reviewer still read exactly their own rows, and the programme team
every organisation's.
"""

from __future__ import annotations

import re
import uuid

import psycopg
import pytest
from access_setup import (
    POSTGRES_URL,
    _create_pg_database,
    _drop_pg_database,
    _populate,
    drop_pg_store,
)
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from data_access import pg_security, store

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set"),
]

SCOPED_TABLES = ("reviews", "deaths", "actions", "calibration_answers",
                 "calibration_round_members", "training_records")
"""The review data whose rows carry ``organisation_code`` (revision 0034's ``TABLES``)."""
CHILD_TABLES = {"phase_assessments", "problems", "review_reasons", "referrals", "theme_codes",
                "action_themes", "action_reviews"}
"""The child tables under the same policy since revision 0035_children_scope."""

PLANS = (
    ("enable_seqscan = off",),
    ("enable_seqscan = off", "enable_indexscan = off"),  # bitmap scans
    ("enable_seqscan = off", "enable_bitmapscan = off"),  # index scans
)
NO_JIT = "jit = off"
"""Set before each of :data:`PLANS`. With sequential scans off, every plan costs more than
``jit_above_cost``, so PostgreSQL 15 compiled each statement inside the policies' functions,
once a row (about 50 ms each: a reviewer's probe of their organisation's 512 reviews took
60 s). Compiling changes no count a plan prints; the probes see the same without it."""


def set_plan(conn, settings: tuple[str, ...]) -> None:
    """Put the psycopg connection ``conn`` under one of :data:`PLANS`, with :data:`NO_JIT`."""
    for setting in (NO_JIT, *settings):
        conn.execute(f"SET {setting}")

_COUNT = re.compile(r"(?:actual (?:time=\S+ )?rows=(\d+) loops=(\d+))|"
                    r"(Rows Removed by [A-Za-z ]+: \d+)|(never executed)")
_NODE = re.compile(r"^\s*(?:->\s+)?([A-Z][A-Za-z ]+?)(?: using| on|  \(|\s*\(|$)")


class Store:
    def __init__(self, owner_url: str) -> None:
        self.owner_url = owner_url
        self.roles: dict[str, str] = {}
        self.org_a = self.org_b = self.month_b = self.deaths_month_b = ""
        self.reviewer_b = "RV-B-CAL"

    def connect(self, person: str) -> psycopg.Connection:
        url = make_url(self.owner_url)
        return psycopg.connect(host=url.host, port=url.port or 5432, dbname=url.database,
                               user=self.roles[person])

    def owner(self):
        return create_engine(self.owner_url)


def _training_rows(conn, a: str, b: str, reviewer_a: str, reviewer_b: str) -> None:
    """A national calibration round of one fictional case, a member and an answer of each
    organisation, a training record and an action of each (as the owner)."""
    conn.execute(text(
        "INSERT INTO training_cases (case_id, title, summary, fictional, care, score_overall, "
        "panel, case_set) VALUES ('TC-SCOPE-1', 'A fictional case', 'Written for a test.', "
        "true, 'good', 4, 'panel', 'set-1')"))
    conn.execute(text(
        "INSERT INTO calibration_rounds (round_id, name, organisation_code, case_ids, opens_on, "
        "closes_on) VALUES ('R-SCOPE', 'Scope round', NULL, '[\"TC-SCOPE-1\"]', "
        "'2026-01-01', '2026-12-31')"))
    for org, reviewer in ((a, reviewer_a), (b, reviewer_b)):
        conn.execute(text(
            "INSERT INTO calibration_round_members (round_id, organisation_code, reviewer_id) "
            "VALUES ('R-SCOPE', :org, :rv)"), {"org": org, "rv": reviewer})
        conn.execute(text(
            "INSERT INTO calibration_answers (answer_id, round_id, case_id, organisation_code, "
            "reviewer_id, status, score_overall) VALUES (:id, 'R-SCOPE', 'TC-SCOPE-1', :org, "
            ":rv, 'submitted', 3)"), {"id": f"{SCOPE_IDS}{org}", "org": org, "rv": reviewer})
        _training_record(conn, org, reviewer)
        _action(conn, org)


SCOPE_IDS = "zzscope"
"""The ids of the rows the owner adds or removes for the probes begin so: the range the probes
name (``id >= 'zzscope' AND id < 'zzscopf'``, letters only, in the same order under every
collation) holds them and no other row, so a planner that may use a one-column index on the
id prefers it."""


def _training_record(conn, org: str, reviewer: str, record_id: str | None = None) -> None:
    conn.execute(text(
        "INSERT INTO training_records (record_id, organisation_code, reviewer_id, trained_on, "
        "session) VALUES (:id, :org, :rv, '2025-05-01', 'initial')"),
        {"id": record_id or uuid.uuid4().hex[:32], "org": org, "rv": reviewer})


def _action(conn, org: str, action_id: str | None = None) -> None:
    conn.execute(text(
        "INSERT INTO actions (id, organisation_code, description, owner_role, status, "
        "agreed_on, recorded_by, recorded_at, updated_by, updated_at, version) VALUES "
        "(:id, :org, 'Review the sepsis pathway.', 'Medical director', 'open', '2025-06-01', "
        "'owner', now(), 'owner', now(), 1)"), {"id": action_id or uuid.uuid4().hex[:32],
                                                 "org": org})


@pytest.fixture(scope="module")
def pg():
    owner_url = _create_pg_database()
    try:
        a, b, _c, reviewer_a, _other = _populate(owner_url)
        st = Store(owner_url)
        st.org_a, st.org_b = a, b
        engine = store.get_engine(owner_url)
        people = {"p_admin": ("administrator", None, None),
                  "p_lead": ("organisation_lead", a, None),
                  "p_reviewer": ("reviewer", a, reviewer_a),
                  "p_national": ("programme_team", None, None)}
        with engine.begin() as conn:
            for name, (role, org, reviewer) in people.items():
                st.roles[name] = pg_security.add_user(
                    conn, acting="admin", username=name, role=role, organisation_code=org,
                    reviewer_id=reviewer, tool="test")
            st.month_b = conn.execute(text(
                "SELECT death_month FROM reviews WHERE organisation_code = :b "
                "GROUP BY death_month ORDER BY count(*) DESC, death_month LIMIT 1"),
                {"b": b}).scalar_one()
            st.deaths_month_b = conn.execute(text(
                "SELECT min(month) FROM deaths WHERE organisation_code = :b"),
                {"b": b}).scalar_one()
            _training_rows(conn, a, b, reviewer_a, st.reviewer_b)
            conn.execute(text("ANALYZE"))
        engine.dispose()
        yield st
    finally:
        drop_pg_store(owner_url)


def _probes(pg: Store) -> list[tuple[str, dict]]:
    b = {"b": pg.org_b}
    return [
        ("SELECT 1 FROM reviews WHERE organisation_code = %(b)s AND death_month = %(m)s",
         {**b, "m": pg.month_b}),
        ("SELECT 1 FROM reviews WHERE organisation_code = %(b)s", b),
        ("SELECT 1 FROM reviews WHERE status = 'draft'", {}),
        ("SELECT 1 FROM reviews WHERE review_stage = 'second'", {}),
        ("SELECT 1 FROM reviews WHERE death_month = %(m)s", {"m": pg.month_b}),
        ("SELECT 1 FROM deaths WHERE organisation_code = %(b)s AND month = %(m)s",
         {**b, "m": pg.deaths_month_b}),
        ("SELECT 1 FROM actions WHERE organisation_code = %(b)s", b),
        ("SELECT 1 FROM calibration_answers WHERE round_id = 'R-SCOPE' "
         "AND case_id = 'TC-SCOPE-1' AND reviewer_id = %(rv)s", {"rv": pg.reviewer_b}),
        ("SELECT 1 FROM calibration_answers WHERE round_id = 'R-SCOPE'", {}),
        ("SELECT 1 FROM calibration_round_members WHERE round_id = 'R-SCOPE' "
         "AND reviewer_id = %(rv)s", {"rv": pg.reviewer_b}),
        ("SELECT 1 FROM calibration_round_members WHERE round_id = 'R-SCOPE'", {}),
        ("SELECT 1 FROM training_records WHERE organisation_code = %(b)s", b),
        # ids by ranges (revision 0037: no B-tree index on an id alone)
        ("SELECT 1 FROM reviews WHERE review_id >= %(lo)s AND review_id < %(hi)s",
         {"lo": f"{pg.org_b}-SCOPE-0", "hi": f"{pg.org_b}-SCOPE-9"}),
        ("SELECT 1 FROM reviews WHERE review_id > ''", {}),
        *((f"SELECT 1 FROM {table} WHERE {column} >= %(lo)s AND {column} < %(hi)s",
           {"lo": SCOPE_IDS, "hi": SCOPE_IDS[:-1] + "f"})
          for table, column in (("actions", "id"), ("theme_codes", "id"),
                                ("training_records", "record_id"),
                                ("calibration_answers", "answer_id"))),
    ]


def _counts(plan: str) -> list[tuple]:
    """The plan's node types and every count it printed, in order (times left out)."""
    out: list[tuple] = []
    for line in plan.splitlines():
        node = _NODE.match(line)
        if node and ("actual" in line or "never executed" in line):
            out.append(("node", node.group(1).strip()))
        for rows, loops, removed, never in _COUNT.findall(line):
            out.append(("rows", rows, loops) if rows else (removed or never,))
    return out


PERSONS = ("p_lead", "p_reviewer")
"""Whose probes run, each under every one of :data:`PLANS` (the reviewer ran under the first
alone while each plan was compiled, see :data:`NO_JIT`)."""


def _explain(pg, person: str, probes=None) -> dict[tuple[int, int], list[tuple]]:
    """Every count of each probe's plan (``probes(pg)``, default :func:`_probes`) as
    ``person``'s own role, under each of :data:`PLANS`."""
    seen = {}
    with pg.connect(person) as conn:
        for p, settings in enumerate(PLANS):
            set_plan(conn, settings)
            for q, (statement, params) in enumerate((probes or _probes)(pg)):
                rows = conn.execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {statement}",
                                    params).fetchall()
                seen[p, q] = _counts("\n".join(r[0] for r in rows))
            conn.execute("RESET ALL")
    return seen


def _change_the_other_organisation(pg: Store) -> None:
    """As the owner: only organisation B's rows change, each probe's matches among them."""
    engine = pg.owner()
    try:
        with engine.begin() as conn:
            source = conn.execute(text(
                "SELECT review_id FROM reviews WHERE organisation_code = :b "
                "AND death_month = :m ORDER BY review_id LIMIT 1"),
                {"b": pg.org_b, "m": pg.month_b}).scalar_one()
            columns = [c for c in conn.execute(text(
                "SELECT column_name FROM information_schema.columns WHERE table_name = "
                "'reviews' AND table_schema = current_schema() ORDER BY ordinal_position"))
                .scalars() if c not in ("review_id", "status", "review_stage",
                                        "second_review_of")]
            listed = ", ".join(columns)
            for n in range(3):
                conn.execute(text(
                    f"INSERT INTO reviews (review_id, status, review_stage, {listed}) "
                    f"SELECT :id, 'draft', 'second', {listed} FROM reviews "
                    "WHERE review_id = :source"),
                    {"id": f"{pg.org_b}-SCOPE-{n}", "source": source})
            conn.execute(text("DELETE FROM deaths WHERE organisation_code = :b AND month = :m"),
                         {"b": pg.org_b, "m": pg.deaths_month_b})
            _action(conn, pg.org_b, f"{SCOPE_IDS}action")
            conn.execute(text("INSERT INTO codebook_versions (version, codebook, imported_at) "
                              "VALUES ('scope-test', 'themes: []', now()) "
                              "ON CONFLICT DO NOTHING"))
            conn.execute(text(
                "INSERT INTO theme_codes (id, organisation_code, review_id, theme, phase, "
                "codebook_version, coded_by, coded_at) VALUES (:id, :b, :r, 'sepsis', NULL, "
                "'scope-test', 'owner', now())"),
                {"id": f"{SCOPE_IDS}theme", "b": pg.org_b, "r": source})
            _training_record(conn, pg.org_b, pg.reviewer_b, f"{SCOPE_IDS}record")
            conn.execute(text("DELETE FROM calibration_answers WHERE organisation_code = :b"),
                         {"b": pg.org_b})
            conn.execute(text(
                "DELETE FROM calibration_round_members WHERE organisation_code = :b"),
                {"b": pg.org_b})
    finally:
        engine.dispose()


def test_explain_analyze_is_blind_to_other_organisations(pg):
    """Every probe, as the lead's and the reviewer's own roles under three planner settings:
    the counts ``EXPLAIN ANALYZE`` printed are the same before and after the owner changed
    only organisation B's rows. (On revision 0033 the first probe printed ``Rows Removed by
    Filter`` equal to B's reviews that month, and the status and stage probes the national
    counts from their one-column indexes.)"""
    before = {person: _explain(pg, person) for person in PERSONS}
    _change_the_other_organisation(pg)
    after = {person: _explain(pg, person) for person in PERSONS}
    probes = _probes(pg)
    changed = [(person, PLANS[p], probes[q][0])
               for person in before for (p, q), counts in before[person].items()
               if after[person][p, q] != counts]
    assert not changed, changed
    # the probes did run: each printed at least one node with its counts
    assert all(counts for seen in before.values() for counts in seen.values())


def test_every_index_leads_with_the_organisation(pg):
    """On the migrated PostgreSQL store: every index of the organisation-keyed review data
    and of its child tables leads with ``organisation_code``, except an id's one-column hash
    index, which answers ``=`` and never a range (revision 0037; before it the one-column
    B-tree primary keys of reviews, actions, theme codes, training records and calibration
    answers counted ids by ranges)."""
    engine = pg.owner()
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT c.relname, a.amname, i.indnatts, "
                "(SELECT attname FROM pg_attribute WHERE attrelid = t.oid "
                " AND attnum = i.indkey[0]) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
                "JOIN pg_am a ON a.oid = c.relam "
                "WHERE t.relname = ANY(:tables) AND t.relnamespace = "
                "current_schema()::regnamespace"),
                {"tables": [*SCOPED_TABLES, *CHILD_TABLES]}).all()
    finally:
        engine.dispose()
    names = {r[0] for r in rows}
    assert names >= {"ix_reviews_organisation_code_review_id",
                     "ix_reviews_organisation_code_status", "pk_calibration_round_members",
                     "ex_reviews_review_id", "ex_actions_id", "ex_theme_codes_id"}
    assert not names & {"pk_reviews", "pk_actions", "pk_theme_codes", "pk_training_records",
                        "pk_calibration_answers"}
    wrong = [(name, method) for name, method, columns, first in rows
             if first != "organisation_code" and not (method == "hash" and columns == 1)]
    assert not wrong, wrong


def test_sqlite_store_has_the_same_indexes(tmp_path):
    url = f"sqlite:///{tmp_path / 'scope.db'}"
    store.init_db(url)
    engine = store.get_engine(url)
    try:
        found = inspect(engine)
        wrong = []
        for table in SCOPED_TABLES:
            for index in found.get_indexes(table):
                if index["column_names"][0] != "organisation_code":
                    wrong.append((table, index["name"]))
            for unique in found.get_unique_constraints(table):
                if unique["column_names"][0] != "organisation_code":
                    wrong.append((table, unique["name"]))
            key = found.get_pk_constraint(table)["constrained_columns"]
            if len(key) > 1 and key[0] != "organisation_code":
                wrong.append((table, "primary key"))
        assert not wrong, wrong
    finally:
        engine.dispose()


def test_membership_follows_the_role(pg):
    """Leads and reviewers are members of ``sjr_organisation_reader``; the programme team is
    not (its policies give it every organisation)."""
    engine = pg.owner()
    try:
        with engine.connect() as conn:
            member = {person: conn.execute(text(
                "SELECT pg_has_role(:r, :g, 'MEMBER')"),
                {"r": role, "g": pg_security.ORGANISATION_READER_GROUP}).scalar_one()
                for person, role in pg.roles.items()}
    finally:
        engine.dispose()
    assert member == {"p_admin": False, "p_lead": True, "p_reviewer": True,
                      "p_national": False}


def test_a_restore_makes_leads_and_reviewers_members(pg, tmp_path):
    """A restore keeps the source's roles on the same server (taken out of the group first
    here) and makes the leads' and reviewers' members again; the restored store has the
    restrictive policy on every table of the revision."""
    from data_access import backup, open_session

    out = tmp_path / "store.tar"
    with open_session("p_admin", pg.owner_url, tool="test") as admin:
        backup.backup(admin, out)
    group = pg_security.ORGANISATION_READER_GROUP
    owner = create_engine(make_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with owner.connect() as conn:
        for person in ("p_lead", "p_reviewer"):
            conn.execute(text(f'REVOKE {group} FROM "{pg.roles[person]}"'))
    target = _create_pg_database()
    try:
        backup.restore(out, target, user="p_admin", tool="test")
        with owner.connect() as conn:
            member = {person: conn.execute(text("SELECT pg_has_role(:r, :g, 'MEMBER')"),
                                           {"r": role, "g": group}).scalar_one()
                      for person, role in pg.roles.items()}
        assert member == {"p_admin": False, "p_lead": True, "p_reviewer": True,
                          "p_national": False}
        restored = create_engine(target)
        try:
            with restored.connect() as conn:
                tables = set(conn.execute(text(
                    "SELECT tablename FROM pg_policies WHERE policyname = 'organisation_scope' "
                    "AND permissive = 'RESTRICTIVE' AND :g = ANY(roles)"), {"g": group}
                ).scalars())
        finally:
            restored.dispose()
        # and the review's and action's child tables (0035_children_scope)
        assert tables == set(SCOPED_TABLES) | CHILD_TABLES
    finally:
        owner.dispose()
        _drop_pg_database(target)


def test_each_reads_what_they_read_before(pg):
    """Controls: the lead reads exactly their organisation's reviews and deaths, the reviewer
    their own reviews there (and queue items), the programme team every organisation's."""
    engine = pg.owner()
    try:
        with engine.connect() as conn:
            own = conn.execute(text("SELECT count(*) FROM reviews WHERE organisation_code = :a"),
                               {"a": pg.org_a}).scalar_one()
            every = conn.execute(text("SELECT count(*) FROM reviews")).scalar_one()
            deaths_a = conn.execute(text(
                "SELECT count(*) FROM deaths WHERE organisation_code = :a"),
                {"a": pg.org_a}).scalar_one()
    finally:
        engine.dispose()
    with pg.connect("p_lead") as conn:
        assert conn.execute("SELECT count(*) FROM reviews").fetchone()[0] == own
        assert conn.execute("SELECT count(*) FROM deaths").fetchone()[0] == deaths_a
        assert conn.execute("SELECT count(DISTINCT organisation_code) FROM actions"
                            ).fetchone()[0] == 1
    with pg.connect("p_reviewer") as conn:
        orgs = conn.execute("SELECT DISTINCT organisation_code FROM reviews").fetchall()
        assert orgs == [(pg.org_a,)]
    with pg.connect("p_national") as conn:
        assert conn.execute("SELECT count(*) FROM reviews").fetchone()[0] == every
        assert conn.execute("SELECT count(DISTINCT organisation_code) FROM "
                            "calibration_round_members").fetchone()[0] >= 1
