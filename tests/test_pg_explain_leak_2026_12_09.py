"""The insider audit of 2026-12-09, still-open item 1, for researchers and administrators:
``EXPLAIN ANALYZE`` counted rows that row-level security hides.

Row-level security filters rows after the scan that fetched them, and ``EXPLAIN ANALYZE``
prints ``Rows Removed by Filter``. A researcher's own role (which reads no review row) typed
``SET enable_seqscan = off; EXPLAIN ANALYZE SELECT 1 FROM theme_codes WHERE review_id = ...
AND theme = 'sepsis'`` and learnt which themes another organisation's review was coded with;
the same on ``reviews`` by organisation and month gave exact review counts. Revision
``0033_reader_group`` takes every privilege on the review data from ``sjr_person`` and gives
it to ``sjr_reader``, whose members are the persons who read some of it (programme team, leads,
reviewers): a researcher's or administrator's ``EXPLAIN`` (and any statement) on those tables is
refused before anything is scanned. Each test connects as the person's own role with plain
psycopg (no project code in between). The controls show the reading roles keep what they had,
and the access layer still answers researchers and administrators as before.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from access_setup import (
    POSTGRES_URL,
    _create_pg_database,
    _drop_pg_database,
    _populate,
    approval,
    drop_pg_store,
)
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from data_access import approval_keys, open_session, pg_security, store

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set"),
]

REVIEW_DATA = ("reviews", "phase_assessments", "problems", "review_reasons", "referrals",
               "deaths", "reviewers", "theme_codes", "actions", "action_themes",
               "action_reviews", "calibration_answers", "calibration_round_members",
               "training_records")
"""The tables whose read policies give a researcher and an administrator no row."""

NOT_READING = ("p_researcher", "p_admin")
READING = ("p_lead", "p_national", "p_reviewer")


class Store:
    def __init__(self, owner_url: str) -> None:
        self.owner_url = owner_url
        self.roles: dict[str, str] = {}
        self.org_a = self.org_b = self.review_b = self.month_b = ""

    def connect(self, person: str, **kwargs) -> psycopg.Connection:
        url = make_url(self.owner_url)
        return psycopg.connect(host=url.host, port=url.port or 5432, dbname=url.database,
                               user=self.roles[person], **kwargs)

    def url_of(self, person: str) -> str:
        return make_url(self.owner_url).set(username=self.roles[person]).render_as_string(
            hide_password=False)


@pytest.fixture(scope="module")
def pg():
    owner_url = _create_pg_database()
    try:
        a, b, _c, rid, _other = _populate(owner_url)
        st = Store(owner_url)
        st.org_a, st.org_b = a, b
        engine = store.get_engine(owner_url)
        people = {"p_admin": ("administrator", None, None),
                  "p_researcher": ("researcher", None, None),
                  "p_lead": ("organisation_lead", a, None),
                  "p_reviewer": ("reviewer", a, rid),
                  "p_national": ("programme_team", None, None)}
        with engine.begin() as conn:  # the owner (operator) path of the functions
            for name, (role, org, reviewer) in people.items():
                st.roles[name] = pg_security.add_user(
                    conn, acting="admin", username=name, role=role, organisation_code=org,
                    reviewer_id=reviewer, tool="test")
            pg_security.add_approval(conn, approval("DARG-X", ["p_researcher"], [a, b]),
                                     acting="admin", tool="test")
            approval_keys.add_key(conn, "DARG-X")
            st.review_b, st.month_b = conn.execute(text(
                "SELECT review_id, death_month FROM reviews WHERE organisation_code = :b "
                "ORDER BY review_id LIMIT 1"), {"b": b}).one()
            for coder in ("coder-1", "coder-2"):  # two codes of 'sepsis' on one review of b
                conn.execute(text(
                    "INSERT INTO theme_codes (id, organisation_code, review_id, theme, phase, "
                    "codebook_version, coded_by, coded_at) SELECT :id, :b, :rid, 'sepsis', "
                    "'overall', version, :by, now() FROM codebook_versions ORDER BY "
                    "imported_at LIMIT 1"),
                    {"id": uuid.uuid4().hex, "b": b, "rid": st.review_b, "by": coder})
        engine.dispose()
        yield st
    finally:
        drop_pg_store(owner_url)


def _probes(pg: Store) -> list[tuple[str, tuple]]:
    return [
        ("EXPLAIN ANALYZE SELECT 1 FROM theme_codes WHERE review_id = %s AND theme = 'sepsis'",
         (pg.review_b,)),
        ("EXPLAIN ANALYZE SELECT 1 FROM reviews WHERE organisation_code = %s "
         "AND death_month = %s", (pg.org_b, pg.month_b)),
    ]


@pytest.mark.parametrize("person", NOT_READING)
def test_explain_analyze_of_the_review_data_is_refused(pg, person):
    """The audit's two probes, as the researcher's and the administrator's own roles: refused
    ("permission denied"), where the old grants printed ``Rows Removed by Filter: 2``."""
    for statement, params in _probes(pg):
        with pg.connect(person) as conn:
            conn.execute("SET enable_seqscan = off")
            with pytest.raises(psycopg.errors.InsufficientPrivilege,
                               match="permission denied"):
                conn.execute(statement, params)


@pytest.mark.parametrize("person", NOT_READING)
@pytest.mark.parametrize("table", REVIEW_DATA)
def test_no_privilege_at_all_on_the_review_data(pg, person, table):
    """Not even ``SELECT`` (nor any column of it) on any table whose rows they never read:
    ``EXPLAIN`` and ``SELECT`` are refused, and ``COPY`` too."""
    with pg.connect(person, autocommit=True) as conn:
        held = conn.execute(
            "SELECT has_any_column_privilege(%s, 'SELECT, INSERT, UPDATE, REFERENCES'), "
            "has_table_privilege(%s, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, "
            "TRIGGER')", (table, table)).fetchone()
        assert held == (False, False)
        for statement in (f"EXPLAIN SELECT 1 FROM {table}", f"SELECT count(*) FROM {table}",
                          f"COPY {table} TO STDOUT"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_control_the_reading_roles_still_read_and_explain(pg):
    """Control: a lead's and the programme team's own queries work as before (their rows,
    ``EXPLAIN ANALYZE`` of their own queries), and a reviewer reads their own reviews."""
    with pg.connect("p_lead") as conn:
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN ANALYZE SELECT 1 FROM reviews WHERE organisation_code = %s",
            (pg.org_a,)))
        assert "actual" in plan
        own = conn.execute("SELECT count(*), count(DISTINCT organisation_code) FROM reviews"
                           ).fetchone()
        assert own[0] > 0 and own[1] == 1
        assert conn.execute("SELECT count(*) FROM deaths").fetchone()[0] > 0
    with pg.connect("p_national") as conn:
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN ANALYZE SELECT 1 FROM theme_codes WHERE review_id = %s "
            "AND theme = 'sepsis'", (pg.review_b,)))
        assert "actual" in plan
        assert conn.execute("SELECT count(*) FROM theme_codes WHERE review_id = %s",
                            (pg.review_b,)).fetchone()[0] == 2
        assert conn.execute("SELECT count(DISTINCT organisation_code) FROM reviews"
                            ).fetchone()[0] > 2
    with pg.connect("p_reviewer") as conn:
        assert conn.execute("SELECT count(*) FROM reviews").fetchone()[0] > 0


def test_membership_follows_the_users_role(pg):
    """``sjr_user_add`` and ``sjr_user_login`` make a reading person's new role a member of
    ``sjr_reader``, and no other; the revision made the existing ones members."""
    engine = store.get_engine(pg.owner_url)
    try:
        with engine.begin() as conn:
            for name, role in (("p_new_national", "programme_team"),
                               ("p_new_researcher", "researcher")):
                pg.roles[name] = pg_security.add_user(
                    conn, acting="admin", username=name, role=role, organisation_code=None,
                    reviewer_id=None, tool="test")
            for name, role, org in (("p_late_lead", "organisation_lead", pg.org_a),
                                    ("p_late_admin", "administrator", None)):
                conn.execute(text("INSERT INTO users (username, role, organisation_code, "
                                  "disabled) VALUES (:u, :r, :o, false)"),
                             {"u": name, "r": role, "o": org})
                pg.roles[name] = pg_security.give_login(conn, acting="admin", username=name,
                                                        tool="test")
        with engine.connect() as conn:
            member = dict(conn.execute(text(
                "SELECT username, pg_has_role(db_role, :group, 'MEMBER') FROM users "
                "WHERE db_role IS NOT NULL"), {"group": "sjr_reader"}).all())
    finally:
        engine.dispose()
    for name in (*READING, "p_new_national", "p_late_lead"):
        assert member[name] is True, name
    for name in (*NOT_READING, "p_new_researcher", "p_late_admin"):
        assert member[name] is False, name
    with pg.connect("p_late_lead") as conn:
        assert conn.execute("SELECT count(*) FROM reviews").fetchone()[0] > 0
    with pg.connect("p_new_researcher") as conn, \
            pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("EXPLAIN ANALYZE SELECT 1 FROM reviews")


def test_control_the_access_layer_answers_them_as_before(pg, tmp_path):
    """Control: through the access layer on their own roles, the administrator's summary
    counts nothing and their export holds no review, and the researcher's reviews and
    extract hold no row (their extracts come from the extract service), as before."""
    with open_session(None, pg.url_of("p_admin"), tool="test") as admin:
        totals = admin.summary()["totals"]
        assert int(totals["count"].sum()) == 0
        assert len(admin.export("reviews")) == 0
    with open_session(None, pg.url_of("p_researcher"), tool="test") as researcher:
        assert len(researcher.reviews(approval_id="DARG-X")) == 0
        result = researcher.extract("DARG-X", tmp_path / "extract.csv")
        assert result.rows == 0


def test_a_restore_makes_only_the_reading_persons_members(pg, tmp_path):
    """A restore makes its persons' roles itself (missing ones) or keeps them (here: the
    source's, on the same server, taken out of the group first): each reading person's role is
    made a member of ``sjr_reader`` again, and the researcher's and administrator's are not."""
    from data_access import backup

    out = tmp_path / "store.tar"
    # the operator's backup (pg_dump reads every table: an administrator's own role never
    # could, before this revision either: training_cases grants persons some columns only)
    with open_session("p_admin", pg.owner_url, tool="test") as admin:
        backup.backup(admin, out)
    owner = create_engine(make_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with owner.connect() as conn:
        for person in READING:
            conn.execute(text(f'REVOKE sjr_reader FROM "{pg.roles[person]}"'))
    target = _create_pg_database()
    try:
        backup.restore(out, target, user="p_admin", tool="test")
        with owner.connect() as conn:
            member = {person: conn.execute(text("SELECT pg_has_role(:r, 'sjr_reader', "
                                                "'MEMBER')"), {"r": role}).scalar_one()
                      for person, role in pg.roles.items() if person in (*READING,
                                                                          *NOT_READING)}
        assert member == {**dict.fromkeys(READING, True), **dict.fromkeys(NOT_READING, False)}
        url = make_url(target)
        for person, readable in (("p_lead", True), ("p_researcher", False)):
            with psycopg.connect(host=url.host, port=url.port or 5432, dbname=url.database,
                                 user=pg.roles[person]) as conn:
                if readable:
                    assert conn.execute("SELECT count(*) FROM reviews").fetchone()[0] > 0
                else:
                    with pytest.raises(psycopg.errors.InsufficientPrivilege):
                        conn.execute("EXPLAIN ANALYZE SELECT 1 FROM reviews")
    finally:
        owner.dispose()
        _drop_pg_database(target)
