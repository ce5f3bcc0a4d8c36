"""The demo store: synthetic data, one user per role, and a default identity for the dashboards.

Only a store that ``sjr demo-data`` filled with synthetic data is *marked synthetic*
(``store_meta.synthetic = 'yes'``); only such a store gets the demo users below, and only there
does ``sjr serve`` sign a visitor in as :data:`DEFAULT_USER` when no identity is configured. A
store that is not marked synthetic never gets either: on real data an identity is always
somebody's, never a default.

The demo users (names fixed, so the README can list them):

- ``demo-admin``: administrator (users, approvals, the audit log, imports and exports);
- ``demo-programme``: programme team (all organisations, national and trust reports);
- ``demo-lead``: organisation lead of one English organisation (its dashboards, reviews, locks,
  its own trust report);
- ``demo-reviewer``: reviewer at the same organisation, under one of its reviewer references
  (their own reviews, the second-stage queue);
- ``demo-researcher``: researcher holding approval ``DEMO-RESEARCH`` over a few organisations,
  some fields and the last two financial years, quarterly dates, no free text.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, text

__all__ = [
    "DEFAULT_USER",
    "DEMO_SIGN_IN_ENV",
    "default_identity",
    "DEMO_APPROVAL",
    "DEMO_USERS",
    "DemoUser",
    "is_synthetic",
    "mark_synthetic",
    "register_demo_users",
]

DEFAULT_USER = "demo-lead"
"""Who a visitor of the dashboards of a synthetic store is when no identity is configured."""

DEMO_SIGN_IN_ENV = "SJR_DEMO_SIGN_IN"
"""Set to ``1`` by ``sjr serve`` when it signed the visitor in as :data:`DEFAULT_USER`, so the
dashboards say so (and how to sign in as another demo user)."""

DEMO_APPROVAL = "DEMO-RESEARCH"

# review_id, review_date, second_review_of, review_sequence, learning_disability because the
# headline statistics the quick-start notebook reproduces need them (ids pseudonymised, dates
# coarsened).
_RESEARCH_FIELDS = (
    "review_id", "review_date", "second_review_of", "review_sequence", "learning_disability",
    "organisation_code", "review_stage", "status", "death_month", "age_at_death", "sex",
    "admission_type", "specialty", "score_admission", "score_ongoing", "score_procedure",
    "score_perioperative", "score_end_of_life", "score_overall", "any_problems",
    "avoidability_score", "avoidability_scale", "reviewer_id", "case_id",
    "theme_codes",  # the reviews' theme codes, a table linked by review_id (docs/themes.md)
)


@dataclass(frozen=True)
class DemoUser:
    """One demo user and what the README says they can do."""

    username: str
    role: str
    can: str


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("demo-admin", "administrator",
             "users, approvals, the audit log; imports and exports"),
    DemoUser("demo-programme", "programme_team",
             "all organisations read only; national and trust reports"),
    DemoUser("demo-lead", "organisation_lead",
             "one English organisation: dashboards, reviews, locking, its trust report"),
    DemoUser("demo-reviewer", "reviewer",
             "the same organisation: own reviews and the second-stage queue"),
    DemoUser("demo-researcher", "researcher",
             f"approval {DEMO_APPROVAL}: extracts of a few organisations, pseudonymised"),
)


def is_synthetic(conn: Connection) -> bool:
    """Whether ``sjr demo-data`` filled this store with synthetic data."""
    row = conn.execute(text("SELECT value FROM store_meta WHERE key = 'synthetic'")).first()
    return row is not None and row[0] == "yes"


def default_identity(url: str, env: Mapping[str, str] | None = None) -> str | None:
    """:data:`DEFAULT_USER` when ``env`` (default: this process's environment) configures no
    identity and the store at ``url`` is marked synthetic; ``None`` otherwise (an identity is
    configured, or the store holds real data, which never gets a default)."""
    from pathlib import Path

    from data_access import store
    from data_access.identity import identity_file, read_identity_file

    env = os.environ if env is None else env
    if any(env.get(name, "").strip() for name in ("JUPYTERHUB_USER", "SJR_USER")):
        return None
    configured = env.get("SJR_CONFIG")
    if read_identity_file(Path(configured).expanduser() if configured else identity_file()):
        return None
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            return DEFAULT_USER if is_synthetic(conn) else None
    except Exception:  # noqa: BLE001 - no store or no schema yet: certainly no default
        return None
    finally:
        engine.dispose()


def mark_synthetic(conn: Connection) -> None:
    """Mark the store as holding synthetic data only (``sjr demo-data``, on an empty store)."""
    if not is_synthetic(conn):
        conn.execute(text("INSERT INTO store_meta (key, value) VALUES ('synthetic', 'yes')"))


def _demo_organisation(conn: Connection) -> tuple[str, str]:
    """The English organisation the demo lead and reviewer belong to, and a reviewer reference
    of it with the most reviews (so the reviewer's own list is not empty)."""
    row = conn.execute(text(
        "SELECT r.organisation_code, r.reviewer_id, count(*) AS n FROM reviews r "
        "JOIN organisations o ON o.code = r.organisation_code WHERE o.nation = 'england' "
        "GROUP BY r.organisation_code, r.reviewer_id "
        "ORDER BY r.organisation_code, n DESC, r.reviewer_id LIMIT 1")).first()
    if row is None:
        raise RuntimeError("the synthetic store has no English organisation with reviews")
    return str(row[0]), str(row[1])


def _research_window(conn: Connection) -> tuple[list[str], str, str]:
    """Three organisations (two English, one Scottish when there is one) and the last two
    financial years of deaths in the store."""
    codes = [r[0] for r in conn.execute(text(
        "SELECT code FROM organisations WHERE nation = 'england' ORDER BY code LIMIT 2"))]
    codes += [r[0] for r in conn.execute(text(
        "SELECT code FROM organisations WHERE nation = 'scotland' ORDER BY code LIMIT 1"))]
    last = conn.execute(text("SELECT max(death_month) FROM reviews")).scalar_one()
    year, month = int(last[:4]), int(last[5:7])
    end_year = year if month >= 4 else year - 1  # the financial year that holds `last` ...
    start = f"{end_year - 1}-04"  # ... and the one before it
    return codes, start, last


def register_demo_users(engine, session, today: dt.date | None = None) -> list[str]:
    """Register the demo users and the researcher's approval, as the demo administrator.

    ``session`` is ``demo-admin``'s governed session on a store marked synthetic; every user
    and the approval are added through it, so each is audited. ``engine`` (the same store)
    only looks up which synthetic organisation and reviewer reference to use. Users that exist
    already are left alone. Returns the names added.
    """
    from data_access.approvals import spec_from_values

    today = today or dt.date.today()
    with engine.connect() as conn:
        if not is_synthetic(conn):
            raise PermissionError("demo users are only for a store marked synthetic")
        organisation, reviewer_id = _demo_organisation(conn)
        codes, start, end = _research_window(conn)
        existing = {r[0] for r in conn.execute(text("SELECT username FROM users"))}
        approved = conn.execute(text("SELECT 1 FROM approvals WHERE approval_id = :a"),
                                {"a": DEMO_APPROVAL}).first() is not None
    added = []
    extra = {"organisation_lead": {"organisation_code": organisation},
             "reviewer": {"organisation_code": organisation, "reviewer_id": reviewer_id}}
    for user in DEMO_USERS:
        if user.username not in existing:
            session.add_user(user.username, user.role, **extra.get(user.role, {}))
            added.append(user.username)
    if not approved:
        session.add_approval(spec_from_values({
            "id": DEMO_APPROVAL, "applicants": ["demo-researcher"],
            "purpose": "Demonstration of researcher access on synthetic data",
            "organisations": codes, "period_start": start, "period_end": end,
            "fields": list(_RESEARCH_FIELDS), "free_text": False,
            "date_coarsening": "quarter", "start_date": today.isoformat(),
            "end_date": (today + dt.timedelta(days=365)).isoformat(),
        }, source="demo approval"))
    from data_access.training_demo import seed_demo_training

    seed_demo_training(engine, today)  # issue 15: fictional trainers, records, a round
    return added
