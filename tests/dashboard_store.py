"""A small store with users of every dashboard role, for the dashboard tests (not a test file).

Built through the same doors as production: validated imports into a migrated store, the first
administrator bootstrapped, and users added by that administrator through the governed session.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DashboardUsers:
    organisation: str          # the organisation of the reviewers and the lead
    reviewer: str = "reviewer_a"
    second_reviewer: str = "reviewer_b"
    lead: str = "lead_a"
    programme: str = "programme"
    admin: str = "admin"


def populate(url: str, data) -> None:
    """Create the schema in ``url`` and import the synthetic ``data`` (SyntheticData)."""
    from data_access import store
    from sjrlib import schema

    store.init_db(url)
    engine = store.get_engine(url)
    try:
        organisations = schema.validate_organisations(data.organisations)
        store.import_organisations(engine, organisations)
        store.import_deaths(engine, schema.validate_deaths(
            data.deaths, known_organisations=organisations))
        store.import_reviews(engine, schema.validate_reviews(
            data.reviews, known_organisations=organisations))
    finally:
        engine.dispose()


def add_users(url: str, organisation: str) -> DashboardUsers:
    """Register one user per dashboard role (reviewers and lead at ``organisation``)."""
    from data_access import open_session
    from data_access.session import bootstrap_administrator

    users = DashboardUsers(organisation=organisation)
    bootstrap_administrator(users.admin, url)
    with open_session(users.admin, url, tool="test") as admin:
        admin.add_user(users.reviewer, "reviewer", organisation_code=organisation,
                       reviewer_id="RVW-A")
        admin.add_user(users.second_reviewer, "reviewer", organisation_code=organisation,
                       reviewer_id="RVW-B")
        admin.add_user(users.lead, "organisation_lead", organisation_code=organisation,
                       reviewer_id="RVW-L")
        admin.add_user(users.programme, "programme_team")
    return users


def first_stage_values(case_id: str, *, overall: int = 2) -> dict:
    """A complete first-stage review as a values dict (what the form sends to save_review)."""
    return {
        "review_id": f"SJR-T-{case_id}",
        "case_id": case_id,
        "review_stage": "first",
        "status": "submitted",
        "review_date": "2026-11-02",
        "review_reasons": "staff_concern",
        "age_at_death": 77,
        "sex": "male",
        "death_month": "2026-08",
        "admission_type": "emergency",
        "score_admission": 2,
        "comment_admission": "Early warning score rising for 12 hours without escalation.",
        "score_overall": overall,
        "comment_overall": "Failure to escalate a deteriorating patient.",
        "record_quality_score": 2,
        "any_problems": "yes",
        "problem_monitoring": "yes",
    }
