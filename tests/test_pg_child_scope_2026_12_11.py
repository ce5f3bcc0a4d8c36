"""Revision ``0035_children_scope``: a review's and an action's child rows carry their
organisation, so what ``EXPLAIN ANALYZE`` prints for a lead or a reviewer probing another
organisation's review or action by id does not change when that organisation's child rows do.

``docs/security.md``, still-open item 1 (revision 0034 left it): row-level security filters
rows after the scan fetched them, and the child tables were keyed by ``review_id`` (or
``action_id``) alone. As an organisation lead's own role, ``SET enable_seqscan = off; EXPLAIN
ANALYZE SELECT 1 FROM theme_codes WHERE review_id = '<another organisation's review>' AND theme
= 'sepsis'`` printed ``Rows Removed by Filter``: which themes another organisation's review was
coded with. The same held for ``phase_assessments (review_id, phase)``, ``problems (review_id,
problem_type)``, ``review_reasons (review_id, reason)``, ``referrals (review_id,
referral_type)``, ``action_themes (action_id, theme)`` and ``action_reviews (action_id,
review_id)``.

As ``test_pg_scope_index_2026_12_10`` does for the organisation-keyed tables: each probe runs
as the person's own role with plain psycopg (no project code in between), the lead's and the
reviewer's under three planner settings, and every count ``EXPLAIN ANALYZE``
printed is kept. The owner then changes only organisation B's child rows of the probed review
and action (adds a theme code, deletes a phase row, adds a problem, deletes a reason, adds a
referral, adds two themes and two review links to the action and removes one of each) and the
probes run again: the counts must be the same. Structural tests hold every index of the seven
tables to leading with ``organisation_code`` (but ``theme_codes``' primary key on ``id``), each
table to the restrictive ``organisation_scope`` policy, and the foreign keys to the parent's
``(organisation_code, ...)`` key, on PostgreSQL and on a SQLite store made by the migrations;
an integrity test has a phase row naming another organisation than its review's refused; the
control shows a lead still reads exactly their own organisation's child rows.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid

import psycopg
import pytest
from access_setup import (
    POSTGRES_URL,
    _create_pg_database,
    _populate,
    drop_pg_store,
)
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from test_pg_scope_index_2026_12_10 import PERSONS, PLANS, _explain

from data_access import pg_security, store

_PG = [pytest.mark.postgres,
       pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set")]

REVIEW_CHILDREN = ("theme_codes", "phase_assessments", "problems", "review_reasons",
                   "referrals")
"""A review's child rows (keyed by ``review_id`` and more)."""

ACTION_CHILDREN = ("action_themes", "action_reviews")
"""An action's child rows (keyed by ``action_id`` and more)."""

CHILD_TABLES = REVIEW_CHILDREN + ACTION_CHILDREN
"""The tables revision 0035 gives ``organisation_code``, the scope policy and scoped keys."""

PARENT_KEYS = {"reviews": ("review_id",), "actions": ("id",)}
"""Each parent's own key, which the child's foreign key pairs with ``organisation_code``."""

GROUP = "sjr_organisation_reader"
POLICY = "organisation_scope"

THEMES = ("sepsis", "deterioration", "medication", "diagnosis")
"""Codebook 2026.1 theme ids: the first coded before; the second (probed) and the fourth added
to B's action, the third removed from it (so the action's count changes too)."""


class Store:
    def __init__(self, owner_url: str) -> None:
        self.owner_url = owner_url
        self.roles: dict[str, str] = {}
        self.org_a = self.org_b = ""
        self.review_a = self.review_b = self.review_b2 = self.review_b3 = self.review_b4 = ""
        self.action_a = self.action_b = ""
        self.phase_b = self.reason_b = self.problem_b = ""

    def connect(self, person: str) -> psycopg.Connection:
        url = make_url(self.owner_url)
        return psycopg.connect(host=url.host, port=url.port or 5432, dbname=url.database,
                               user=self.roles[person])

    def owner(self):
        return create_engine(self.owner_url)


def _has_organisation(conn, table: str) -> bool:
    return "organisation_code" in {c["name"] for c in inspect(conn).get_columns(table)}


def _insert(conn, table: str, values: dict, organisation: str) -> None:
    """As the owner: one row of a child table, naming ``organisation_code`` (the parent's
    organisation) where the table has it (revision 0035 on), not before."""
    if _has_organisation(conn, table):
        values = {"organisation_code": organisation, **values}
    columns = ", ".join(values)
    marks = ", ".join(f":{k}" for k in values)
    conn.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({marks})"), values)


def _theme_code(conn, org: str, review: str, theme: str) -> None:
    _insert(conn, "theme_codes", {
        "id": uuid.uuid4().hex, "review_id": review, "theme": theme, "phase": None,
        "codebook_version": "2026.1", "coded_by": "owner-coder",
        "coded_at": dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC), "from_suggestion": False}, org)


def _referral(conn, org: str, review: str, kind: str) -> None:
    _insert(conn, "referrals", {"review_id": review, "referral_type": kind,
                                "referral_status": "made", "referral_reference": None}, org)


def _action(conn, org: str) -> str:
    action_id = uuid.uuid4().hex
    conn.execute(text(
        "INSERT INTO actions (id, organisation_code, description, owner_role, status, "
        "agreed_on, recorded_by, recorded_at, updated_by, updated_at, version) VALUES "
        "(:id, :org, 'Review the sepsis pathway.', 'Medical director', 'open', '2025-06-01', "
        "'owner', now(), 'owner', now(), 1)"), {"id": action_id, "org": org})
    return action_id


def _child_rows(conn, st: Store) -> None:
    """As the owner: make sure organisation B's probed review and action (and organisation A's,
    for the control) have child rows of every kind the fixture data lacks."""
    for org, review in ((st.org_a, st.review_a), (st.org_b, st.review_b)):
        _theme_code(conn, org, review, THEMES[0])
        _referral(conn, org, review, "leder")
    for org, reviews in ((st.org_a, (st.review_a,)),
                         (st.org_b, (st.review_b, st.review_b2))):
        action = _action(conn, org)
        for theme in (THEMES[0], THEMES[2]):
            _insert(conn, "action_themes", {"action_id": action, "theme": theme}, org)
        for review in reviews:
            _insert(conn, "action_reviews", {"action_id": action, "review_id": review}, org)
        if org == st.org_a:
            st.action_a = action
        else:
            st.action_b = action


def _pick_reviews(conn, st: Store) -> None:
    """Organisation B's probed review: it has an admission phase, a problem (and lacks one
    type) and a reason; three more of B's reviews for the action links; one of A's."""
    st.review_b = conn.execute(text(
        "SELECT r.review_id FROM reviews r WHERE r.organisation_code = :b "
        "AND EXISTS (SELECT 1 FROM phase_assessments p WHERE p.review_id = r.review_id "
        "            AND p.phase = 'admission') "
        "AND EXISTS (SELECT 1 FROM problems p WHERE p.review_id = r.review_id) "
        "AND NOT EXISTS (SELECT 1 FROM problems p WHERE p.review_id = r.review_id "
        "                AND p.problem_type = 'resuscitation') "
        "AND EXISTS (SELECT 1 FROM review_reasons x WHERE x.review_id = r.review_id) "
        "ORDER BY r.review_id LIMIT 1"), {"b": st.org_b}).scalar_one()
    st.phase_b, st.problem_b = "admission", "resuscitation"
    st.reason_b = conn.execute(text(
        "SELECT min(reason) FROM review_reasons WHERE review_id = :r"),
        {"r": st.review_b}).scalar_one()
    st.review_b2, st.review_b3, st.review_b4 = conn.execute(text(
        "SELECT review_id FROM reviews WHERE organisation_code = :b AND review_id <> :r "
        "ORDER BY review_id LIMIT 3"), {"b": st.org_b, "r": st.review_b}).scalars().all()
    st.review_a = conn.execute(text(
        "SELECT min(review_id) FROM reviews WHERE organisation_code = :a"),
        {"a": st.org_a}).scalar_one()


@pytest.fixture(scope="module")
def pg():
    if not POSTGRES_URL:
        pytest.skip("SJR_TEST_POSTGRES_URL not set")
    owner_url = _create_pg_database()
    try:
        a, b, _c, reviewer_a, _other = _populate(owner_url)
        st = Store(owner_url)
        st.org_a, st.org_b = a, b
        engine = store.get_engine(owner_url)
        people = {"p_lead": ("organisation_lead", a, None),
                  "p_reviewer": ("reviewer", a, reviewer_a)}
        with engine.begin() as conn:
            for name, (role, org, reviewer) in people.items():
                st.roles[name] = pg_security.add_user(
                    conn, acting="admin", username=name, role=role, organisation_code=org,
                    reviewer_id=reviewer, tool="test")
            _pick_reviews(conn, st)
            _child_rows(conn, st)
            conn.execute(text("ANALYZE"))
        engine.dispose()
        yield st
    finally:
        drop_pg_store(owner_url)


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory):
    """A SQLite store made by the migrations, with the synthetic data."""
    url = f"sqlite:///{tmp_path_factory.mktemp('child_scope') / 'scope.db'}"
    a, b, *_ = _populate(url)
    return url, a, b


def _probes(pg: Store) -> list[tuple[str, dict]]:
    r, act = {"r": pg.review_b}, {"a": pg.action_b}
    return [
        ("SELECT 1 FROM theme_codes WHERE review_id = %(r)s AND theme = %(t)s",
         {**r, "t": THEMES[1]}),
        ("SELECT 1 FROM theme_codes WHERE review_id = %(r)s", r),
        ("SELECT 1 FROM phase_assessments WHERE review_id = %(r)s AND phase = %(p)s",
         {**r, "p": pg.phase_b}),
        ("SELECT 1 FROM phase_assessments WHERE review_id = %(r)s", r),
        ("SELECT 1 FROM problems WHERE review_id = %(r)s AND problem_type = %(p)s",
         {**r, "p": pg.problem_b}),
        ("SELECT 1 FROM problems WHERE review_id = %(r)s", r),
        ("SELECT 1 FROM review_reasons WHERE review_id = %(r)s AND reason = %(x)s",
         {**r, "x": pg.reason_b}),
        ("SELECT 1 FROM review_reasons WHERE review_id = %(r)s", r),
        ("SELECT 1 FROM referrals WHERE review_id = %(r)s AND referral_type = 'coroner'", r),
        ("SELECT 1 FROM referrals WHERE review_id = %(r)s", r),
        ("SELECT 1 FROM action_themes WHERE action_id = %(a)s AND theme = %(t)s",
         {**act, "t": THEMES[1]}),
        ("SELECT 1 FROM action_themes WHERE action_id = %(a)s AND theme = %(t)s",
         {**act, "t": THEMES[2]}),
        ("SELECT 1 FROM action_themes WHERE action_id = %(a)s", act),
        ("SELECT 1 FROM action_reviews WHERE action_id = %(a)s AND review_id = %(r)s",
         {**act, "r": pg.review_b3}),
        ("SELECT 1 FROM action_reviews WHERE action_id = %(a)s AND review_id = %(r)s",
         {**act, "r": pg.review_b2}),
        ("SELECT 1 FROM action_reviews WHERE action_id = %(a)s", act),
        ("SELECT 1 FROM action_reviews WHERE review_id = %(r)s", {"r": pg.review_b2}),
    ]


def _change_the_other_organisation(pg: Store) -> None:
    """As the owner: only organisation B's child rows change, each probe's matches among
    them."""
    engine = pg.owner()
    try:
        with engine.begin() as conn:
            b = pg.org_b
            _theme_code(conn, b, pg.review_b, THEMES[1])
            conn.execute(text("DELETE FROM phase_assessments WHERE review_id = :r "
                              "AND phase = :p"), {"r": pg.review_b, "p": pg.phase_b})
            _insert(conn, "problems", {"review_id": pg.review_b, "problem_type": pg.problem_b,
                                       "harm": "probably"}, b)
            conn.execute(text("DELETE FROM review_reasons WHERE review_id = :r "
                              "AND reason = :x"), {"r": pg.review_b, "x": pg.reason_b})
            _referral(conn, b, pg.review_b, "coroner")
            for theme in (THEMES[1], THEMES[3]):
                _insert(conn, "action_themes", {"action_id": pg.action_b, "theme": theme}, b)
            conn.execute(text("DELETE FROM action_themes WHERE action_id = :a AND theme = :t"),
                         {"a": pg.action_b, "t": THEMES[2]})
            for review in (pg.review_b3, pg.review_b4):
                _insert(conn, "action_reviews", {"action_id": pg.action_b,
                                                 "review_id": review}, b)
            conn.execute(text("DELETE FROM action_reviews WHERE action_id = :a "
                              "AND review_id = :r"), {"a": pg.action_b, "r": pg.review_b2})
    finally:
        engine.dispose()


def _b_children(pg: Store) -> dict[str, int]:
    """As the owner: organisation B's probed review's and action's child rows, per table."""
    engine = pg.owner()
    try:
        with engine.connect() as conn:
            out = {t: conn.execute(text(f"SELECT count(*) FROM {t} WHERE review_id = :r"),
                                   {"r": pg.review_b}).scalar_one() for t in REVIEW_CHILDREN}
            out.update({t: conn.execute(text(f"SELECT count(*) FROM {t} WHERE action_id = :a"),
                                        {"a": pg.action_b}).scalar_one()
                        for t in ACTION_CHILDREN})
    finally:
        engine.dispose()
    return out


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set")
def test_child_probes_are_blind_to_other_organisations(pg):
    """Every probe of another organisation's review or action, as the lead's and the
    reviewer's own roles under three planner settings: the counts ``EXPLAIN ANALYZE``
    printed are the same before and after the owner changed only organisation B's child rows.
    (Before revision 0035 the index on ``review_id`` / ``action_id`` fetched B's rows and the
    policy removed them: ``Rows Removed by Filter`` told which themes, phases, problems,
    reasons and referrals B's review had, and which themes and reviews B's action.)"""
    had = _b_children(pg)
    # B's review and action had child rows of each kind before the change
    assert all(had.values()), had
    before = {person: _explain(pg, person, _probes) for person in PERSONS}
    _change_the_other_organisation(pg)
    assert _b_children(pg) == had | {"theme_codes": had["theme_codes"] + 1,
                                     "phase_assessments": had["phase_assessments"] - 1,
                                     "problems": had["problems"] + 1,
                                     "review_reasons": had["review_reasons"] - 1,
                                     "referrals": had["referrals"] + 1,
                                     "action_themes": had["action_themes"] + 1,
                                     "action_reviews": had["action_reviews"] + 1}
    after = {person: _explain(pg, person, _probes) for person in PERSONS}
    probes = _probes(pg)
    changed = [(person, PLANS[p], probes[q][0], before[person][p, q], after[person][p, q])
               for person in before for (p, q), counts in before[person].items()
               if after[person][p, q] != counts]
    assert not changed, f"{len(changed)} probes changed:\n" + "\n".join(map(str, changed))
    # the probes did run: each printed at least one node with its counts
    assert all(counts for seen in before.values() for counts in seen.values())


def _wrong_leading_columns(found, *, postgres_indexes=None) -> list:
    """``(table, name)`` of the keys and indexes of the seven tables that do not lead with
    ``organisation_code`` (but ``theme_codes``' one-column primary key on ``id``)."""
    wrong = []
    for table in CHILD_TABLES:
        key = found.get_pk_constraint(table)
        columns = key["constrained_columns"]
        if columns[0] != "organisation_code" and not (table == "theme_codes"
                                                      and columns == ["id"]):
            wrong.append((table, key.get("name") or "primary key", columns))
        for index in found.get_indexes(table):
            if index["column_names"][0] != "organisation_code":
                wrong.append((table, index["name"], index["column_names"]))
        for unique in found.get_unique_constraints(table):
            if unique["column_names"][0] != "organisation_code":
                wrong.append((table, unique["name"], unique["column_names"]))
    return wrong


def _wrong_foreign_keys(found) -> list:
    """The seven tables' foreign keys to ``reviews`` or ``actions`` that are not
    ``(organisation_code, <parent key>)`` to the parent's ``(organisation_code, <key>)``, and
    the tables with no such key to each parent they name."""
    wrong = []
    for table in CHILD_TABLES:
        parents = set()
        for fk in found.get_foreign_keys(table):
            parent = fk["referred_table"]
            if parent not in PARENT_KEYS:
                continue
            parents.add(parent)
            if (fk["referred_columns"][:1] != ["organisation_code"]
                    or fk["constrained_columns"][:1] != ["organisation_code"]
                    or len(fk["constrained_columns"]) != 2
                    or fk["referred_columns"][1:] != list(PARENT_KEYS[parent])):
                wrong.append((table, fk["name"], fk["constrained_columns"], parent,
                              fk["referred_columns"]))
        expected = ({"actions", "reviews"} if table == "action_reviews"
                    else {"actions"} if table in ACTION_CHILDREN else {"reviews"})
        if parents != expected:
            wrong.append((table, "parents", sorted(parents)))
    return wrong


def _nullable_organisation(found) -> list:
    """The seven tables with no ``organisation_code`` or a nullable one."""
    out = []
    for table in CHILD_TABLES:
        column = {c["name"]: c for c in found.get_columns(table)}.get("organisation_code")
        if column is None or column["nullable"]:
            out.append((table, "missing" if column is None else "nullable"))
    return out


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set")
def test_child_indexes_lead_with_the_organisation_on_postgresql(pg):
    """On the migrated PostgreSQL store: each of the seven tables has a ``NOT NULL``
    ``organisation_code``, every index of theirs (``pg_index``: keys, unique keys and plain
    indexes alike) leads with it but the one-column hash index that keeps ``theme_codes``'
    ``id`` unique (revision 0037: ``=`` only, never a range), their foreign keys
    to ``reviews`` and ``actions`` pair it with the parent's key, and the restrictive
    ``organisation_scope`` policy holds for ``sjr_organisation_reader`` on each."""
    engine = pg.owner()
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT t.relname, c.relname, "
                "(SELECT amname FROM pg_am WHERE oid = c.relam) = 'hash', "
                "ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY "
                "      AS k(attnum, n) JOIN pg_attribute a ON a.attrelid = t.oid "
                "      AND a.attnum = k.attnum ORDER BY k.n) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
                "WHERE t.relname = ANY(:tables) AND t.relnamespace = "
                "current_schema()::regnamespace"), {"tables": list(CHILD_TABLES)}).all()
            policies = conn.execute(text(
                "SELECT tablename, cmd, qual, with_check FROM pg_policies "
                "WHERE policyname = :p AND permissive = 'RESTRICTIVE' AND :g = ANY(roles) "
                "AND schemaname = current_schema()"), {"p": POLICY, "g": GROUP}).all()
            found = inspect(conn)
            foreign = _wrong_foreign_keys(found)
            nullable = _nullable_organisation(found)
    finally:
        engine.dispose()
    assert {table for table, *_ in rows} == set(CHILD_TABLES)
    wrong = [(table, name, columns) for table, name, hashed, columns in rows
             if columns[:1] != ["organisation_code"]
             and not (table == "theme_codes" and hashed and columns == ["id"])]
    scoped = {table for table, cmd, qual, check in policies
              if cmd == "ALL" and "organisation_code" in qual and "sjr_person_organisation"
              in qual and check is not None and "sjr_person_organisation" in check}
    problems = {"organisation_code missing or nullable": nullable,
                "indexes not leading with organisation_code": wrong,
                "foreign keys without organisation_code": foreign,
                "tables without the restrictive policy": sorted(set(CHILD_TABLES) - scoped)}
    assert not any(problems.values()), problems


def test_child_indexes_lead_with_the_organisation_on_sqlite(sqlite_url):
    """A SQLite store made by the same migrations: the same ``NOT NULL`` column, leading
    columns and foreign keys (SQLite has no policies)."""
    url, _a, _b = sqlite_url
    engine = store.get_engine(url)
    try:
        found = inspect(engine)
        nullable = _nullable_organisation(found)
        wrong = _wrong_leading_columns(found)
        foreign = _wrong_foreign_keys(found)
    finally:
        engine.dispose()
    problems = {"organisation_code missing or nullable": nullable,
                "indexes not leading with organisation_code": wrong,
                "foreign keys without organisation_code": foreign}
    assert not any(problems.values()), problems


def _phase_refused(engine, org_a: str, org_b: str) -> IntegrityError:
    """As the owner: a phase row naming organisation B on a review of A is refused by the
    foreign key, and the same row naming A is accepted (rolled back): the refusal is the
    organisation's, not the row's."""
    with engine.connect() as conn:
        assert _has_organisation(conn, "phase_assessments"), \
            "phase_assessments has no organisation_code"
        review, phase = conn.execute(text(
            "SELECT r.review_id, 'perioperative' FROM reviews r WHERE r.organisation_code = :a "
            "AND NOT EXISTS (SELECT 1 FROM phase_assessments p WHERE p.review_id = r.review_id "
            "AND p.phase = 'perioperative') ORDER BY r.review_id LIMIT 1"),
            {"a": org_a}).one()
    row = {"review_id": review, "phase": phase, "score": 3, "comment": "A test phase."}
    with pytest.raises(IntegrityError) as refused, engine.begin() as conn:
        _insert(conn, "phase_assessments", row, org_b)
    with engine.connect() as conn:
        with conn.begin() as transaction:
            _insert(conn, "phase_assessments", row, org_a)
            transaction.rollback()
        assert conn.execute(text(
            "SELECT count(*) FROM phase_assessments WHERE review_id = :r AND phase = :p"),
            {"r": review, "p": phase}).scalar_one() == 0
    return refused.value


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set")
def test_phase_row_of_another_organisation_is_refused_on_postgresql(pg):
    engine = pg.owner()
    try:
        refused = _phase_refused(engine, pg.org_a, pg.org_b)
    finally:
        engine.dispose()
    assert isinstance(refused.orig, psycopg.errors.ForeignKeyViolation), refused.orig


def test_phase_row_of_another_organisation_is_refused_on_sqlite(sqlite_url):
    url, a, b = sqlite_url
    engine = store.get_engine(url)
    try:
        refused = _phase_refused(engine, a, b)
    finally:
        engine.dispose()
    assert "FOREIGN KEY" in str(refused.orig), refused.orig


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set")
def test_lead_reads_exactly_their_organisations_child_rows(pg):
    """Control: the lead reads every child row of their organisation's reviews and actions and
    no other (the owner's count of rows whose parent is in organisation A), each table holding
    some; the reviewer reads only child rows of A's reviews and actions."""
    engine = pg.owner()
    try:
        with engine.connect() as conn:
            own = {t: conn.execute(text(
                f"SELECT count(*) FROM {t} c JOIN reviews r ON r.review_id = c.review_id "
                "WHERE r.organisation_code = :a"), {"a": pg.org_a}).scalar_one()
                for t in REVIEW_CHILDREN}
            own.update({t: conn.execute(text(
                f"SELECT count(*) FROM {t} c JOIN actions x ON x.id = c.action_id "
                "WHERE x.organisation_code = :a"), {"a": pg.org_a}).scalar_one()
                for t in ACTION_CHILDREN})
            every = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                     for t in CHILD_TABLES}
            reviews_a = set(conn.execute(text(
                "SELECT review_id FROM reviews WHERE organisation_code = :a"),
                {"a": pg.org_a}).scalars())
            actions_a = set(conn.execute(text(
                "SELECT id FROM actions WHERE organisation_code = :a"),
                {"a": pg.org_a}).scalars())
    finally:
        engine.dispose()
    assert all(own.values()), own
    assert all(every[t] > own[t] for t in CHILD_TABLES), (every, own)
    with pg.connect("p_lead") as conn:
        read = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in CHILD_TABLES}
    assert read == own
    with pg.connect("p_reviewer") as conn:
        reviewed = {t: {r[0] for r in conn.execute(f"SELECT DISTINCT review_id FROM {t}")}
                    for t in (*REVIEW_CHILDREN, "action_reviews")}
        acted = {t: {r[0] for r in conn.execute(f"SELECT DISTINCT action_id FROM {t}")}
                 for t in ACTION_CHILDREN}
    assert reviewed["phase_assessments"], "the reviewer reads their own reviews' phases"
    assert all(ids <= reviews_a for ids in reviewed.values()), reviewed
    assert all(ids <= actions_a for ids in acted.values()), acted


def _analyses(pg: Store) -> int:
    """How many times ``reviews`` was analysed, as the statistics report it (a backend reports
    at its end: wait a little for it)."""
    engine = pg.owner()
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(
                "SELECT analyze_count + autoanalyze_count FROM pg_stat_user_tables "
                "WHERE relid = 'reviews'::regclass")).scalar_one())
    finally:
        engine.dispose()


def test_a_persons_import_has_the_review_tables_analysed(pg):
    """An import through a person's role (which owns no table) asks
    ``sjr_analyse_review_tables`` (``bulk._analyse_grown``): the owner's function analyses
    the review tables only when the import grew them by half or more."""
    def called(inserted: int) -> bool:
        with pg.connect("p_lead") as conn:
            done = conn.execute("SELECT sjr_analyse_review_tables(%s)", (inserted,)).fetchone()
            conn.commit()
        return bool(done[0])

    def settled(before: int, expected: int) -> int:
        for _ in range(50):  # the lead's backend reports its statistics as it ends
            now = _analyses(pg)
            if now - before >= expected:
                break
            time.sleep(0.1)
        return now - before

    before = _analyses(pg)
    assert called(1) is False  # one review more: no
    assert called(0) is False
    assert settled(before, 0) == 0
    assert called(1_000_000) is True
    assert settled(before, 1) == 1
