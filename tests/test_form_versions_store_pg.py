"""PostgreSQL: referrals follow their review's row-level security (revision 0007_form_versions).

Each person's own database role is tried directly with psycopg, as in
``tests/test_pg_boundary.py``: a referral is read exactly when its review is, written only on a
review the person may write; the service path scopes referrals by its organisations setting.
The expected rows are computed from the frames that were imported, not from the store.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import psycopg
import pytest
from access_setup import POSTGRES_URL, _create_app_role, _create_pg_database, _drop_pg_database
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from data_access import pg_security, store
from data_access.session import _set_row_scope
from sjrlib import domain, schema
from sjrlib.synthetic import generate

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set"),
]


class Store:
    def __init__(self, url: str, reviews: pd.DataFrame, org_a: str, org_b: str,
                 reviewer_id: str) -> None:
        self.url, self.reviews = url, reviews
        self.org_a, self.org_b, self.reviewer_id = org_a, org_b, reviewer_id
        self.roles: dict[str, str] = {}
        self.app_url = ""

    def connect(self, person: str) -> psycopg.Connection:
        url = make_url(self.url)
        return psycopg.connect(host=url.host, port=url.port or 5432, dbname=url.database,
                               user=self.roles[person])


def _referral_rows(reviews: pd.DataFrame) -> set[tuple[str, str]]:
    out = set()
    for kind in domain.REFERRAL_TYPES:
        given = reviews[reviews[domain.referral_column(kind)].notna()]
        out |= {(r, kind) for r in given["review_id"]}
    return out


@pytest.fixture(scope="module")
def pg():
    url = _create_pg_database()
    roles: list[str] = []
    try:
        data = generate(n_organisations=3, years=1, seed=8, start_year=2024, n_scottish=0,
                        today=dt.date(2026, 11, 26))
        organisations = schema.validate_organisations(data.organisations)
        reviews = schema.validate_reviews(data.reviews, known_organisations=organisations)
        store.init_db(url)
        engine = store.get_engine(url)
        store.import_organisations(engine, organisations)
        store.import_reviews(engine, reviews)
        a, b = sorted(organisations["organisation_code"])[:2]
        at_a = reviews[reviews["organisation_code"] == a]
        with_referrals = at_a[at_a["review_id"].isin({r for r, _ in _referral_rows(at_a)})]
        reviewer = with_referrals["reviewer_id"].value_counts().index[0]
        st = Store(url, reviews, a, b, reviewer)
        with engine.begin() as conn:  # the owner (operator) path
            for name, role, org, rid in (("p_lead", "organisation_lead", a, None),
                                         ("p_reviewer", "reviewer", a, reviewer),
                                         ("p_national", "programme_team", None, None),
                                         ("p_researcher", "researcher", None, None)):
                st.roles[name] = pg_security.add_user(
                    conn, acting="admin", username=name, role=role, organisation_code=org,
                    reviewer_id=rid, tool="test")
        roles = list(st.roles.values())
        engine.dispose()
        app_role, st.app_url = _create_app_role(url)
        roles.append(app_role)
        yield st
    finally:
        _drop_pg_database(url)
        admin = create_engine(make_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for role in roles:
                conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


def _visible(conn: psycopg.Connection) -> set[tuple[str, str]]:
    return {(r, t) for r, t in conn.execute("SELECT review_id, referral_type FROM referrals")}


def test_each_person_reads_the_referrals_of_the_reviews_they_read(pg):
    everything = _referral_rows(pg.reviews)
    at_a = _referral_rows(pg.reviews[pg.reviews["organisation_code"] == pg.org_a])
    assert len(at_a) > 5 and len(everything) > len(at_a)
    with pg.connect("p_national") as conn:
        assert _visible(conn) == everything
    with pg.connect("p_lead") as conn:
        assert _visible(conn) == at_a
    with pg.connect("p_researcher") as conn:  # no privilege at all (0033_reader_group)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            _visible(conn)
    with pg.connect("p_reviewer") as conn:
        readable = {r for (r,) in conn.execute("SELECT review_id FROM reviews")}
        seen = _visible(conn)
    assert seen == {(r, t) for r, t in everything if r in readable}
    own = set(pg.reviews.loc[(pg.reviews["reviewer_id"] == pg.reviewer_id)
                             & (pg.reviews["organisation_code"] == pg.org_a), "review_id"])
    assert {r for r, _ in seen} & own


def _free_review(pg, org: str, reviewer: str | None = None) -> str:
    """A review of ``org`` (of ``reviewer``, not locked) with no ``other`` referral yet."""
    r = pg.reviews
    keep = (r["organisation_code"] == org) & r[domain.referral_column("other")].isna() \
        & (r["status"] != "locked")
    if reviewer is not None:
        keep &= r["reviewer_id"] == reviewer
    return str(r.loc[keep, "review_id"].iloc[0])


def _insert(conn: psycopg.Connection, review_id: str) -> None:
    """A referral on ``review_id``, under its own organisation (its key needs it; the
    fixtures' review ids are their organisation's code, a dash, and a number)."""
    with conn.transaction(force_rollback=True):
        conn.execute("INSERT INTO referrals (organisation_code, review_id, referral_type, "
                     "referral_status) VALUES (%s, %s, 'other', 'planned')",
                     (review_id.split("-")[0], review_id))


def _refused(conn: psycopg.Connection, review_id: str) -> None:
    with pytest.raises(psycopg.Error, match="row-level security"):
        _insert(conn, review_id)


def test_referrals_are_written_only_on_reviews_the_person_may_write(pg):
    a_review = _free_review(pg, pg.org_a)
    b_review = _free_review(pg, pg.org_b)
    with pg.connect("p_lead") as conn:
        _insert(conn, a_review)
        _refused(conn, b_review)
        with conn.transaction(force_rollback=True):
            # every referral of the organisation's reviews but the locked ones' (0013_direct_sql)
            at_a = pg.reviews[pg.reviews["organisation_code"] == pg.org_a]
            assert conn.execute("DELETE FROM referrals").rowcount == len(
                _referral_rows(at_a[at_a["status"] != "locked"]))
    with pg.connect("p_reviewer") as conn:
        _insert(conn, _free_review(pg, pg.org_a, pg.reviewer_id))
        others = pg.reviews[(pg.reviews["organisation_code"] == pg.org_a)
                            & (pg.reviews["reviewer_id"] != pg.reviewer_id)]
        _refused(conn, _free_review(pg, pg.org_a, others["reviewer_id"].iloc[0]))
    with pg.connect("p_national") as conn:
        _refused(conn, a_review)
        with conn.transaction(force_rollback=True):
            assert conn.execute("DELETE FROM referrals").rowcount == 0
            assert conn.execute("UPDATE referrals SET referral_status = 'made'").rowcount == 0
    with pg.connect("p_researcher") as conn:  # no privilege at all (0033_reader_group)
        for statement in ("DELETE FROM referrals", "UPDATE referrals SET referral_status = 'made'"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute(statement)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            _insert(conn, a_review)


def test_the_service_path_scopes_referrals_by_organisation(pg):
    app = create_engine(pg.app_url)
    try:
        with app.begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM referrals")).scalar_one() == 0
            _set_row_scope(conn, [pg.org_a])
            rows = {tuple(r) for r in conn.execute(text(
                "SELECT review_id, referral_type FROM referrals"))}
    finally:
        app.dispose()
    assert rows == _referral_rows(pg.reviews[pg.reviews["organisation_code"] == pg.org_a])
