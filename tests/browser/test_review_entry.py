"""Review entry in a real browser: Voila served by ``sjr serve``, headless Chromium.

A reviewer fills and submits a first-stage review (seeing field errors and an identifier
warning on the way); a second reviewer completes a second-stage review from the queue. The rows
and the audit entries are then read back through the governed session.
"""

from __future__ import annotations

import re

import pytest
from browser_harness import choose as _choose
from browser_harness import entry_store, screenshot
from browser_harness import tick as _tick
from browser_harness import type_into as _type
from dashboard_store import first_stage_values
from playwright.sync_api import expect

from data_access import open_session

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = "review_entry.ipynb"
READY = ".b-submit"
KERNEL_MS = 30_000  # a kernel round trip on a loaded two-core machine
SUBMITTED = re.compile(r"Review SJR-[\w-]+ submitted")


@pytest.fixture(scope="module")
def store(tmp_path_factory, small_data):
    return entry_store(tmp_path_factory, small_data, "entry")


@pytest.fixture(scope="module")
def reviewer_server(start_voila, store):
    url, users = store
    return start_voila(users.reviewer, url)


@pytest.fixture(scope="module")
def second_reviewer_server(start_voila, store):
    url, users = store
    return start_voila(users.second_reviewer, url)


def _not_applicable(page, *phases: str) -> None:
    for phase in phases:
        _tick(page, f".f-na-{phase}")


def test_first_stage_review_with_errors_identifiers_then_submitted(store, reviewer_server,
                                                                   open_page):
    url, users = store
    page = open_page(reviewer_server, NOTEBOOK, READY)
    expect(page.locator(".sjr-entry")).to_contain_text(f"Signed in as {users.reviewer}")

    # a bad value shows its error beside the field as soon as the field is left
    _type(page, ".f-age_at_death", "12")
    expect(page.locator(".e-age_at_death")).to_contain_text("18-120", timeout=KERNEL_MS)
    expect(page.locator(".e-case_id")).to_have_text("")  # untouched fields stay calm
    page.locator(".b-submit").click()
    expect(page.locator(".sjr-banner")).to_contain_text("Not submitted", timeout=KERNEL_MS)
    expect(page.locator(".e-case_id")).to_have_text("Required")
    expect(page.locator(".e-score_overall")).to_have_text("Required")
    screenshot(page, "entry_1_errors")

    # an identifier typed into a judgement is highlighted and blocks saving
    _type(page, ".f-comment_overall", "Mr Jones, NHS 943 476 5919, waited 6 hours.",
          field="textarea")
    marks = page.locator(".i-comment_overall mark")
    expect(marks).to_have_count(2, timeout=KERNEL_MS)
    expect(page.locator(".i-comment_overall")).to_contain_text("NHS number 943 476 5919")
    expect(page.locator(".b-submit")).to_be_disabled()
    expect(page.locator(".b-save")).to_be_disabled()
    screenshot(page, "entry_2_identifier")

    # now fill the review in properly and submit it
    _type(page, ".f-case_id", "WARD7-0412")
    _type(page, ".f-age_at_death", "81")
    _choose(page, ".f-sex", "Female")
    _type(page, ".f-death_month", "2026-09")
    _choose(page, ".f-admission_type", "Emergency")
    _choose(page, ".f-specialty", "General medicine")
    _tick(page, ".f-reason-family_concern")
    _not_applicable(page, "ongoing", "procedure", "perioperative", "end_of_life")
    _choose(page, ".f-score_admission", "2 · Poor care")
    _type(page, ".f-comment_admission", "Sepsis not recognised at triage; antibiotics "
          "given six hours after arrival.", field="textarea")
    _choose(page, ".f-score_overall", "2 · Poor care")
    _type(page, ".f-comment_overall", "Delayed recognition of sepsis shaped the outcome.",
          field="textarea")
    expect(page.locator(".i-comment_overall mark")).to_have_count(0, timeout=KERNEL_MS)
    _choose(page, ".f-record_quality_score", "3 · Adequate")
    _choose(page, ".f-any_problems", "Yes")
    _tick(page, ".f-present-assessment")
    _choose(page, ".f-problem_assessment", "Probably")
    expect(page.locator(".sjr-summary")).to_contain_text("Ready to submit", timeout=KERNEL_MS)
    page.locator(".b-submit").click()
    banner = page.locator(".sjr-banner")
    expect(banner).to_contain_text(SUBMITTED, timeout=KERNEL_MS)
    expect(banner).to_contain_text("second-stage review queue")
    screenshot(page, "entry_3_submitted")
    review_id = re.search(r"Review (SJR-[\w-]+) submitted", banner.inner_text()).group(1)

    with open_session(users.reviewer, url, tool="test") as s:
        saved = s.review(review_id)
    assert saved["status"] == "submitted" and saved["review_stage"] == "first"
    assert saved["case_id"] == "WARD7-0412" and saved["score_overall"] == 2
    assert saved["comment_overall"] == "Delayed recognition of sepsis shaped the outcome."
    assert saved["problem_assessment"] == "probably"
    with open_session(users.admin, url, tool="test") as admin:
        log = admin.audit_log(username=users.reviewer, action="save_review")
    entry = log[log["scope"].astype(str).str.contains(review_id)]
    assert len(entry) == 1
    assert entry["tool"].iloc[0] == "voila:review_entry"


def test_second_stage_review_from_the_queue(store, second_reviewer_server, open_page):
    url, users = store
    with open_session(users.reviewer, url, tool="test") as s:
        first_id, _ = s.save_review(first_stage_values("BAY3-0077", overall=1))

    page = open_page(second_reviewer_server, NOTEBOOK, READY)
    option = page.locator(".f-queue option", has_text=first_id)
    _choose(page, ".f-queue", option.inner_text().strip())
    page.locator(".b-queue").click()
    expect(page.locator(".sjr-link")).to_contain_text(first_id, timeout=KERNEL_MS)
    expect(page.locator(".sjr-link")).to_contain_text("Very poor care")
    expect(page.locator(".f-case_id input")).to_have_value("BAY3-0077")
    expect(page.locator(".sjr-state")).to_contain_text("Second-stage review")

    _not_applicable(page, "admission", "ongoing", "procedure", "perioperative", "end_of_life")
    _choose(page, ".f-score_overall", "2 · Poor care")
    _type(page, ".f-comment_overall", "Agree that escalation failed; the panel judged care "
          "poor rather than very poor.", field="textarea")
    _choose(page, ".f-record_quality_score", "2 · Poor")
    _choose(page, ".f-any_problems", "Yes")
    _tick(page, ".f-present-monitoring")
    _choose(page, ".f-problem_monitoring", "Yes")
    page.locator(".b-submit").click()
    expect(page.locator(".e-avoidability_score")).to_have_text(
        "Required at a second-stage review", timeout=KERNEL_MS)
    _choose(page, ".f-avoidability_score", "3 · Probably avoidable (more than 50:50)")
    page.locator(".b-submit").click()
    banner = page.locator(".sjr-banner")
    expect(banner).to_contain_text(SUBMITTED, timeout=KERNEL_MS)
    screenshot(page, "entry_4_second_stage")
    second_id = re.search(r"Review (SJR-[\w-]+) submitted", banner.inner_text()).group(1)

    with open_session(users.second_reviewer, url, tool="test") as s:
        saved = s.review(second_id)
        assert first_id not in set(s.second_stage_queue()["review_id"])
    assert saved["review_stage"] == "second" and saved["second_review_of"] == first_id
    assert saved["case_id"] == "BAY3-0077"
    assert saved["avoidability_score"] == 3 and saved["avoidability_scale"] == "rcp"
    with open_session(users.admin, url, tool="test") as admin:
        log = admin.audit_log(username=users.second_reviewer, action="save_review")
    assert log["scope"].astype(str).str.contains(second_id).sum() == 1
