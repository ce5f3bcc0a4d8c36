"""The held-out acceptance audit of 2026-12-06, in a real browser (Voila served by
``sjr serve``, headless Chromium): what a clinician did that the form got wrong.

A double-click of *Submit review* sent two clicks to the kernel: the first submitted the
review, the second saved it again and replaced the outcome with "Changes to review ... saved;
it stays submitted" (version 2, two saves in the audit log), so the reviewer never read that
the review was submitted nor that a poor-care case now goes to the second-stage queue.

A second-stage review of one case started from the queue in two tabs and submitted in both made
two second-stage reviews of one first-stage review; the second tab was told "submitted". It is
now told the case already has a second-stage review, and nothing is saved.
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
KERNEL_MS = 30_000
SUBMITTED = re.compile(r"Review (SJR-[\w-]+) submitted")


@pytest.fixture(scope="module")
def store(tmp_path_factory, small_data):
    return entry_store(tmp_path_factory, small_data, "entry-audit-2026-12-06")


@pytest.fixture(scope="module")
def reviewer_server(start_voila, store):
    url, users = store
    return start_voila(users.reviewer, url)


@pytest.fixture(scope="module")
def second_reviewer_server(start_voila, store):
    url, users = store
    return start_voila(users.second_reviewer, url)


def test_double_click_on_submit_submits_once_and_says_submitted(store, reviewer_server,
                                                                open_page):
    url, users = store
    page = open_page(reviewer_server, NOTEBOOK, READY)
    _type(page, ".f-case_id", "DBL-0001")
    _type(page, ".f-age_at_death", "79")
    _choose(page, ".f-sex", "Male")
    _type(page, ".f-death_month", "2026-08")
    _choose(page, ".f-admission_type", "Emergency")
    _choose(page, ".f-specialty", "General medicine")
    _tick(page, ".f-reason-staff_concern")
    for phase in ("admission", "ongoing", "procedure", "perioperative", "end_of_life"):
        _tick(page, f".f-na-{phase}")
    _choose(page, ".f-score_overall", "2 · Poor care")
    _type(page, ".f-comment_overall", "Deterioration not escalated overnight.",
          field="textarea")
    _choose(page, ".f-record_quality_score", "3 · Adequate")
    _choose(page, ".f-any_problems", "No")
    expect(page.locator(".sjr-summary")).to_contain_text("Ready to submit", timeout=KERNEL_MS)

    page.locator(".b-submit").dblclick()
    outcome = page.locator(".sjr-outcome")
    expect(outcome).to_contain_text(SUBMITTED, timeout=KERNEL_MS)
    page.wait_for_timeout(2_000)  # the second click's turn in the kernel
    expect(outcome).to_contain_text(SUBMITTED)
    expect(outcome).to_contain_text("second-stage review queue")
    expect(outcome).not_to_contain_text("Changes to review")
    screenshot(page, "audit_2026_12_06_double_submit")
    review_id = SUBMITTED.search(outcome.inner_text()).group(1)

    with open_session(users.reviewer, url, tool="test") as s:
        mine = s.reviews()
        saved = s.review(review_id)
    assert (mine["case_id"] == "DBL-0001").sum() == 1
    assert saved["status"] == "submitted" and int(saved["version"]) == 1
    with open_session(users.admin, url, tool="test") as admin:
        log = admin.audit_log(username=users.reviewer, action="save_review")
    assert log["scope"].astype(str).str.contains(review_id).sum() == 1


def test_second_stage_of_one_case_from_two_tabs_is_saved_once(store, second_reviewer_server,
                                                              open_page):
    url, users = store
    with open_session(users.reviewer, url, tool="test") as s:
        first_id, _ = s.save_review(first_stage_values("TWO-0007", overall=1))

    tabs = [open_page(second_reviewer_server, NOTEBOOK, READY) for _ in range(2)]
    for page in tabs:
        option = page.locator(".f-queue option", has_text=first_id)
        _choose(page, ".f-queue", option.inner_text().strip())
        page.locator(".b-queue").click()
        expect(page.locator(".sjr-link")).to_contain_text(first_id, timeout=KERNEL_MS)
    for i, page in enumerate(tabs):
        for phase in ("admission", "ongoing", "procedure", "perioperative", "end_of_life"):
            _tick(page, f".f-na-{phase}")
        _choose(page, ".f-score_overall", "2 · Poor care")
        _type(page, ".f-comment_overall", f"Panel judgement, tab {i + 1}.", field="textarea")
        _choose(page, ".f-record_quality_score", "2 · Poor")
        _choose(page, ".f-any_problems", "No")
        _choose(page, ".f-avoidability_score", "3 · Probably avoidable (more than 50:50)")
        expect(page.locator(".sjr-summary")).to_contain_text("Ready to submit",
                                                             timeout=KERNEL_MS)
    first_tab, second_tab = tabs
    first_tab.locator(".b-submit").click()
    expect(first_tab.locator(".sjr-outcome")).to_contain_text(SUBMITTED, timeout=KERNEL_MS)
    second_tab.locator(".b-submit").click()
    outcome = second_tab.locator(".sjr-outcome")
    expect(outcome).to_contain_text("Not saved", timeout=KERNEL_MS)
    expect(outcome).to_contain_text(f"{first_id} already has a second-stage review")
    expect(second_tab.locator(".f-comment_overall textarea")).to_have_value(
        "Panel judgement, tab 2.")  # nothing typed is lost
    screenshot(second_tab, "audit_2026_12_06_second_stage_two_tabs")

    with open_session(users.second_reviewer, url, tool="test") as s:
        mine = s.reviews()
    seconds = mine[(mine["review_stage"] == "second") & (mine["second_review_of"] == first_id)]
    assert len(seconds) == 1
    assert seconds["comment_overall"].iloc[0] == "Panel judgement, tab 1."
