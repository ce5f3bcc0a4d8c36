"""A governed store for the access, audit and RLS tests: data, users, approvals, an app role.

``governed`` (module scope, one per engine) builds a small synthetic store (3 organisations,
1 year), registers one user of every role and approvals in every state, and, on PostgreSQL,
creates an ordinary login role (not superuser, not owner) that the sessions connect as, so
row-level security is in force exactly as in a deployment. Tests that change data take
``governed_fresh`` (function scope) instead.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from data_access import store
from data_access.approvals import ApprovalSpec, add_approval, revoke_approval
from data_access.identity import add_user, set_disabled

POSTGRES_URL = os.environ.get("SJR_TEST_POSTGRES_URL")
TODAY = dt.date.today()


@dataclass(frozen=True)
class Governed:
    """URLs and the names the tests need."""

    engine_name: str
    owner_url: str  # migrations, imports, tampering: the table owner (superuser on PostgreSQL)
    app_url: str  # what sessions connect as: an ordinary role on PostgreSQL
    org_a: str
    org_b: str
    org_c: str
    reviewer_id: str  # reviewer_a's pseudonymous reference (organisation A)
    other_reviewer_id: str  # another reviewer of organisation A


_DATA: dict = {}


def synthetic():
    """The synthetic data set, validated once per test process: (organisations, deaths,
    reviews) frames."""
    if not _DATA:
        from sjrlib import schema
        from sjrlib.synthetic import generate

        data = generate(n_organisations=3, years=1, seed=7, n_scottish=0)
        organisations = schema.validate_organisations(data.organisations)
        _DATA["frames"] = (
            organisations,
            schema.validate_deaths(data.deaths, known_organisations=organisations),
            schema.validate_reviews(data.reviews, known_organisations=organisations),
        )
    return _DATA["frames"]


def _engines():
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not POSTGRES_URL, reason="SJR_TEST_POSTGRES_URL not set"),
        ]),
    ]


def approval(approval_id: str, applicants, organisations, **overrides) -> ApprovalSpec:
    values = dict(
        id=approval_id, applicants=tuple(applicants), purpose="test purpose",
        organisations=tuple(organisations), period_start="2021-04", period_end="2022-03",
        fields=("review_id", "case_id", "organisation_code", "death_month", "score_overall"),
        free_text=False, date_coarsening="month",
        start_date=TODAY - dt.timedelta(days=30), end_date=TODAY + dt.timedelta(days=365),
    )
    values.update(overrides)
    return ApprovalSpec(**values)


def _populate(owner_url: str) -> tuple[str, str, str, str, str]:
    organisations, deaths, reviews = synthetic()
    store.init_db(owner_url)
    engine = store.get_engine(owner_url)
    try:
        store.import_organisations(engine, organisations)
        store.import_deaths(engine, deaths)
        store.import_reviews(engine, reviews)
        a, b, c = sorted(organisations["organisation_code"])[:3]
        counts = reviews[reviews["organisation_code"] == a]["reviewer_id"]
        reviewers = counts.value_counts().index.tolist()
        with engine.begin() as conn:
            add_user(conn, "admin", "administrator")
            add_user(conn, "lead_a", "organisation_lead", organisation_code=a)
            add_user(conn, "lead_b", "organisation_lead", organisation_code=b)
            add_user(conn, "reviewer_a", "reviewer", organisation_code=a,
                     reviewer_id=reviewers[0])
            add_user(conn, "national", "programme_team")
            add_user(conn, "res1", "researcher")
            add_user(conn, "res2", "researcher")
            add_user(conn, "res_none", "researcher")
            add_user(conn, "gone", "organisation_lead", organisation_code=a)
            set_disabled(conn, "gone")
            add_approval(conn, approval(
                "DARG-1", ["res1"], [a, b], period_end="2021-09", date_coarsening="quarter",
                free_text=True,
                fields=("review_id", "case_id", "second_review_of", "reviewer_id",
                        "organisation_code", "review_stage", "review_date", "death_month",
                        "age_at_death", "score_overall", "comment_overall",
                        "avoidability_score")))
            add_approval(conn, approval("DARG-2", ["res1", "res2"], [a, b, c]))
            add_approval(conn, approval("DARG-OLD", ["res1"], [a], start_date=dt.date(2020, 1, 1),
                                        end_date=dt.date(2020, 12, 31)))
            add_approval(conn, approval("DARG-REV", ["res2"], [a]))
            revoke_approval(conn, "DARG-REV", "consent withdrawn")
            add_approval(conn, approval("DARG-LATER", ["res2"], [a],
                                        start_date=TODAY + dt.timedelta(days=10),
                                        end_date=TODAY + dt.timedelta(days=400)))
    finally:
        engine.dispose()
    return a, b, c, reviewers[0], reviewers[1]


def _create_app_role(owner_url: str) -> tuple[str, str]:
    """An ordinary login role with table privileges only; its URL."""
    role = f"sjr_app_{uuid.uuid4().hex[:10]}"
    engine = create_engine(owner_url, isolation_level="AUTOCOMMIT")
    database = make_url(owner_url).database
    with engine.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOBYPASSRLS'))
        conn.execute(text(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"'))
        conn.execute(text(f'GRANT USAGE ON SCHEMA public TO "{role}"'))
        conn.execute(text(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public '
                          f'TO "{role}"'))
        # the application may append to the audit log, never change it
        conn.execute(text(f'REVOKE UPDATE, DELETE ON audit_log FROM "{role}"'))
        # a service role (revision 0003_security): it may scope rows with sjr.organisations
        conn.execute(text(f'GRANT sjr_service TO "{role}"'))
    engine.dispose()
    return role, make_url(owner_url).set(username=role).render_as_string(hide_password=False)


def _drop_app_role(owner_url: str, role: str) -> None:
    engine = create_engine(owner_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP OWNED BY "{role}"'))
        conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
    engine.dispose()


def _create_pg_database(options: str = "") -> str:
    """A new, empty PostgreSQL database (``options``: the rest of its ``CREATE DATABASE``)."""
    admin_url = make_url(POSTGRES_URL)
    name = f"sjr_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" {options}'))
    admin.dispose()
    return admin_url.set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(url: str) -> None:
    admin = create_engine(make_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def build(engine_name: str, folder) -> tuple[Governed, callable]:
    """Build a governed store; return it and its clean-up."""
    if engine_name == "sqlite":
        owner_url = f"sqlite:///{folder / 'sjr.db'}"
        a, b, c, rid, other = _populate(owner_url)
        return Governed("sqlite", owner_url, owner_url, a, b, c, rid, other), lambda: None
    owner_url = _create_pg_database()
    role = None
    try:
        a, b, c, rid, other = _populate(owner_url)
        role, app_url = _create_app_role(owner_url)
    except BaseException:
        _drop_pg_database(owner_url)
        raise

    def cleanup() -> None:
        drop_pg_store(owner_url)
        _drop_app_role_cluster(role)

    return Governed("postgresql", owner_url, app_url, a, b, c, rid, other), cleanup


def person_roles(url: str) -> list[str]:
    """The persons' LOGIN roles a store's users name (``users.db_role``): cluster-wide, so a
    test drops them with its database."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT db_role FROM users WHERE db_role IS NOT NULL"))
                        .scalars())
    except Exception:  # no users table (yet)
        return []
    finally:
        engine.dispose()


def drop_pg_store(owner_url: str) -> None:
    """Drop a test's PostgreSQL store and the persons' LOGIN roles its users name (made by
    ``users add``, revision 0003_security: cluster-wide, so they go with the database)."""
    persons = person_roles(owner_url)
    _drop_pg_database(owner_url)
    for person in persons:
        _drop_app_role_cluster(person)


def _drop_app_role_cluster(role: str) -> None:
    # the role's privileges went with its database; the role itself is cluster-wide
    admin = create_engine(make_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
    admin.dispose()


@pytest.fixture(scope="module", params=_engines())
def governed(request, tmp_path_factory):
    """A governed store shared by the tests of one module (read-only tests only)."""
    gov, cleanup = build(request.param, tmp_path_factory.mktemp("governed"))
    yield gov
    cleanup()


@pytest.fixture(params=_engines())
def governed_fresh(request, tmp_path):
    """A governed store of its own, for tests that change data."""
    gov, cleanup = build(request.param, tmp_path)
    yield gov
    cleanup()
