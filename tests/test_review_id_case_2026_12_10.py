"""A review id typed in the wrong case: the refusal names it as typed and suggests the id that
differs only in case, when (and only when) the person may read that review.

A walkthrough (2026-12-10) typed ``xa2-sjr000001`` where the store holds ``XA2-SJR000001``
(``sjr actions add --review``) and got a bare "not in the scope ... (or does not exist)".
Review ids are case-sensitive keys, so the store does not fold them; it says what to type
instead. A review outside the person's scope is never suggested (nor named). The store is
written by hand: two organisations, four reviews.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pandas as pd
import pytest
from dashboard_store import add_users, populate
from typer.testing import CliRunner

from data_access import AccessDenied, open_session
from sjrlib.cli import app


def _review(review_id: str, organisation: str, reviewer: str, overall: int) -> dict:
    return {"review_id": review_id, "case_id": f"C-{review_id}",
            "organisation_code": organisation, "review_stage": "first", "status": "submitted",
            "reviewer_id": reviewer, "review_date": "2026-03-20",
            "review_reasons": "random_sample", "age_at_death": "80", "death_month": "2026-02",
            "score_overall": str(overall),
            "comment_overall": "Care as described in the judgement statements.",
            "record_quality_score": "4", "any_problems": "no"}


@pytest.fixture
def store(db_url):
    organisations = pd.DataFrame([
        {"organisation_code": code, "name": name, "nation": "england", "region": "London"}
        for code, name in (("RXX", "Example Hospitals"), ("RYY", "Other Hospitals"))])
    deaths = pd.DataFrame([{"organisation_code": code, "month": "2026-02",
                            "deaths_in_scope": "90", "learning_disability_deaths": "1"}
                           for code in ("RXX", "RYY")])
    reviews = pd.DataFrame([
        _review("RXX-SJR000001", "RXX", "RVW-A", 3),  # reviewer_a's own
        _review("RXX-SJR000002", "RXX", "RVW-B", 3),  # a colleague's, not queued
        _review("RXX-SJR000003", "RXX", "RVW-B", 2),  # a colleague's poor care: queued
        _review("RYY-SJR000001", "RYY", "RVW-Y", 3),  # another organisation's
    ])
    populate(db_url, SimpleNamespace(organisations=organisations, deaths=deaths,
                                     reviews=reviews))
    return db_url, add_users(db_url, "RXX")


def _refusal(url: str, user: str, review_id: str) -> str:
    with open_session(user, url, tool="test") as session:
        with pytest.raises(AccessDenied) as refused:
            session.review(review_id)
    return str(refused.value)


def _suggests(message: str) -> list[str]:
    found = re.search(r"did you mean (.*)\?$", message)
    return re.findall(r"'([^']*)'", found.group(1)) if found else []


def test_the_cli_names_the_id_as_typed_and_suggests_the_lead_s_review(store):
    url, users = store
    add = ["actions", "add", "--description", "Sepsis screening added to triage",
           "--owner-role", "Sepsis lead", "--agreed-on", "2026-03-01", "--db", url]
    runner = CliRunner()
    result = runner.invoke(app, [*add, "--review", "rxx-sjr000001"],
                           env={"SJR_USER": users.lead})
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"sjr actions: refused: review 'rxx-sjr000001' is not in the scope of '{users.lead}' "
        "(or does not exist); review ids are case-sensitive: did you mean 'RXX-SJR000001'?")
    with open_session(users.lead, url, tool="test") as lead:
        assert lead.actions().empty  # nothing recorded, no id folded behind the person's back
    result = runner.invoke(app, [*add, "--review", "RXX-SJR000001"],
                           env={"SJR_USER": users.lead})
    assert result.exit_code == 0, result.output
    with open_session(users.lead, url, tool="test") as lead:
        assert lead.actions()["review_ids"].tolist() == ["RXX-SJR000001"]


def test_a_lead_is_offered_their_review_never_another_organisations(store):
    url, users = store
    assert _suggests(_refusal(url, users.lead, "Rxx-Sjr000002")) == ["RXX-SJR000002"]
    for typed in ("ryy-sjr000001", "Ryy-Sjr000001", "RYY-SJR000001", "nosuch"):
        message = _refusal(url, users.lead, typed)
        assert message == (f"review {typed!r} is not in the scope of '{users.lead}' (or does "
                           "not exist)")
        assert "RYY-SJR000001" not in message.replace(typed, "")


def test_a_reviewer_is_offered_only_the_reviews_they_may_read(store):
    url, users = store
    # their own review, and a colleague's in the second-stage queue: suggested
    assert _suggests(_refusal(url, users.reviewer, "rxx-sjr000001")) == ["RXX-SJR000001"]
    assert _suggests(_refusal(url, users.reviewer, "rxx-SJR000003")) == ["RXX-SJR000003"]
    # a colleague's review they may not read: the bare refusal, whatever its case
    message = _refusal(url, users.reviewer, "rxx-sjr000002")
    assert _suggests(message) == [] and "RXX-SJR000002" not in message
    with open_session(users.reviewer, url, tool="test") as session:
        assert session.review("RXX-SJR000001")["review_id"] == "RXX-SJR000001"


def test_the_entry_forms_open_box_says_it_too(store):
    """The review entry form's "Id of the review to open" shows the session's refusal."""
    import html

    from sjrlib.dashboards.entry_form import ReviewForm

    url, users = store
    form = ReviewForm(open_session(users.reviewer, url, tool="test"))
    form.open_id.value = "rxx-sjr000001"
    form._open_by_id()
    assert form.review_id is None
    assert ("review 'rxx-sjr000001' is not in the scope of 'reviewer_a' (or does not exist); "
            "review ids are case-sensitive: did you mean 'RXX-SJR000001'?") in \
        html.unescape(form.banner.value)
    form.open_id.value = "RXX-SJR000001"
    form._open_by_id()
    assert form.review_id == "RXX-SJR000001"
