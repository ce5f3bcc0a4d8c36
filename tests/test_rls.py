"""PostgreSQL row-level security: organisation isolation holds even when Python gets it wrong.

Connects as an ordinary login role (not superuser, not table owner, NOBYPASSRLS) that is a
member of ``sjr_service``: the service path, the only one on which the per-transaction settings
(``sjr.organisations``) still scope rows (revision ``0003_security``). A person's own role is
scoped by the database from ``session_user`` whatever it sets: ``tests/test_pg_boundary.py``.
Superusers and owners would bypass the policies.
"""

from __future__ import annotations

import pytest
from access_setup import POSTGRES_URL, build
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from data_access import open_session, store
from data_access.session import _set_row_scope

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set"),
]

RLS_TABLES = ("reviews", "phase_assessments", "problems", "review_reasons", "referrals",
              "deaths")


@pytest.fixture(scope="module")
def gov(tmp_path_factory):
    governed, cleanup = build("postgresql", tmp_path_factory.mktemp("rls"))
    yield governed
    cleanup()


@pytest.fixture
def app(gov):
    engine = create_engine(gov.app_url)
    yield engine
    engine.dispose()


def _counts(conn) -> dict[str, int]:
    return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in RLS_TABLES}


def test_the_application_role_is_ordinary(gov, app):
    with app.connect() as conn:
        row = conn.execute(text("SELECT rolsuper, rolbypassrls FROM pg_roles "
                                "WHERE rolname = current_user")).one()
        owners = set(conn.execute(text("SELECT tableowner FROM pg_tables WHERE tablename = "
                                       "ANY(:t)"), {"t": list(RLS_TABLES)}).scalars())
        user = conn.execute(text("SELECT current_user")).scalar_one()
        enabled = conn.execute(text("SELECT bool_and(relrowsecurity) FROM pg_class "
                                    "WHERE relname = ANY(:t)"), {"t": list(RLS_TABLES)})
        assert enabled.scalar_one()
    assert row == (False, False)
    assert user not in owners


def test_without_a_scope_the_database_shows_nothing(app):
    with app.connect() as conn:
        assert _counts(conn) == dict.fromkeys(RLS_TABLES, 0)


def test_a_scope_shows_exactly_that_organisation_in_every_table(gov, app):
    owner = store.get_engine(gov.owner_url)
    with owner.connect() as conn:
        expected = {
            t: conn.execute(text(
                f"SELECT count(*) FROM {t} x WHERE "
                + ("x.organisation_code = :o" if t in ("reviews", "deaths") else
                   "x.review_id IN (SELECT review_id FROM reviews WHERE organisation_code = :o)")
            ), {"o": gov.org_a}).scalar_one()
            for t in RLS_TABLES
        }
    owner.dispose()
    with app.begin() as conn:
        _set_row_scope(conn, [gov.org_a])
        assert _counts(conn) == expected
        assert set(conn.execute(text("SELECT DISTINCT organisation_code FROM reviews"))
                   .scalars()) == {gov.org_a}
    with app.connect() as conn:  # SET LOCAL: gone with the transaction
        assert _counts(conn)["reviews"] == 0


def test_a_python_bug_that_forgets_the_filter_cannot_leak(gov):
    """Inside a lead's door, call the UNSCOPED store loader with no filter at all."""
    with open_session("lead_a", gov.app_url, tool="test") as s:
        with s._door("reviews", {"test": "forgotten filter"}) as door:
            _set_row_scope(door.conn, s.organisation_codes)
            everything = store.load_reviews(door.conn)
            deaths = store.load_deaths(door.conn)
            door.rows = len(everything)
    assert len(everything) > 0
    assert set(everything["organisation_code"]) == {gov.org_a}
    assert set(deaths["organisation_code"]) == {gov.org_a}
    # ... and the children (phases, problems, reasons) came only from those reviews
    assert everything["score_overall"].notna().all()


def test_a_python_bug_that_widens_the_scope_in_sql_cannot_leak(gov, app):
    with app.begin() as conn:
        _set_row_scope(conn, [gov.org_a])
        rows = conn.execute(text("SELECT count(*) FROM reviews WHERE organisation_code = :b "
                                 "OR 1 = 1 AND organisation_code = :b"),
                            {"b": gov.org_b}).scalar_one()
    assert rows == 0


def test_writes_outside_the_scope_are_refused_by_the_database(gov, app):
    with app.begin() as conn:
        _set_row_scope(conn, [gov.org_a])
        changed = conn.execute(text("UPDATE reviews SET case_id = 'stolen' "
                                    "WHERE organisation_code = :b"), {"b": gov.org_b})
        assert changed.rowcount == 0
        deleted = conn.execute(text("DELETE FROM deaths WHERE organisation_code = :b"),
                               {"b": gov.org_b})
        assert deleted.rowcount == 0
    with pytest.raises(DBAPIError, match="row-level security"):
        with app.begin() as conn:
            _set_row_scope(conn, [gov.org_a])
            conn.execute(text("INSERT INTO deaths VALUES (:b, '2030-01', 1, 0)"),
                         {"b": gov.org_b})
    with pytest.raises(DBAPIError, match="row-level security"):
        with app.begin() as conn:  # moving a row of ours to another organisation
            _set_row_scope(conn, [gov.org_a])
            conn.execute(text("UPDATE deaths SET organisation_code = :b "
                              "WHERE organisation_code = :a AND month = '2021-04'"),
                         {"a": gov.org_a, "b": gov.org_b})


def test_the_application_role_cannot_rewrite_the_audit_log(app):
    for statement in ("UPDATE audit_log SET rows = 0", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="permission denied"):
            with app.begin() as conn:
                conn.execute(text(statement))
