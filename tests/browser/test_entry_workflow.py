"""The review entry form's workflow in a real browser (the walk-through audit of 2026-12-06):
Voila served by ``sjr serve``, headless Chromium.

A reviewer types a month of death in the future and is told so on the month itself, in the
counter and beside the buttons; submits once it is corrected, and is told so beside the
buttons; saves a change to the submitted review, which stays submitted; takes it back to draft
only through the confirmation. A locked review opens read-only with a notice. Inputs are found
by their accessible names, as a screen reader names them.
"""

from __future__ import annotations

import datetime as dt
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


@pytest.fixture(scope="module")
def store(tmp_path_factory, small_data):
    return entry_store(tmp_path_factory, small_data, "entry-workflow")


@pytest.fixture(scope="module")
def reviewer_server(start_voila, store):
    url, users = store
    return start_voila(users.reviewer, url)


def _month(months_from_now: int) -> str:
    today = dt.date.today()
    n = today.year * 12 + today.month - 1 + months_from_now
    return f"{n // 12:04d}-{n % 12 + 1:02d}"


def _saves(url: str, admin: str, review_id: str) -> list[str]:
    with open_session(admin, url, tool="test") as s:
        log = s.audit_log(action="save_review")
    return [str(scope) for act, scope in zip(log["action"], log["scope"], strict=True)
            if act == "save_review" and review_id in str(scope)]


def test_future_month_submit_save_changes_and_back_to_draft(store, reviewer_server,
                                                           open_page):
    url, users = store
    page = open_page(reviewer_server, NOTEBOOK, READY)
    # inputs by their accessible names (the form's own labels)
    expect(page.get_by_label("Age at death", exact=True)).to_have_count(1)
    expect(page.get_by_label("Id of the review to open")).to_have_attribute(
        "placeholder", re.compile("XA2-SJR"))
    page.get_by_label("Case reference", exact=True).fill("WARD9-0101")
    page.get_by_label("Case reference", exact=True).press("Tab")
    _type(page, ".f-age_at_death", "79")
    _choose(page, ".f-sex", "Male")
    _type(page, ".f-death_month", _month(2))  # in the future
    _choose(page, ".f-admission_type", "Emergency")
    _tick(page, ".f-reason-family_concern")
    for phase in ("admission", "ongoing", "procedure", "perioperative", "end_of_life"):
        _tick(page, f".f-na-{phase}")
    _choose(page, ".f-score_overall", "4 · Good care")
    _type(page, ".f-comment_overall", "Timely escalation and clear communication.",
          field="textarea")
    _choose(page, ".f-record_quality_score", "4 · Good")
    _choose(page, ".f-any_problems", "No")

    # the month itself says what is wrong, and the counter names it
    expect(page.locator(".e-death_month")).to_contain_text("cannot be in the future",
                                                           timeout=KERNEL_MS)
    expect(page.locator(".sjr-summary")).to_contain_text("Month of death")
    page.locator(".b-submit").click()
    outcome = page.locator(".sjr-outcome")
    expect(outcome).to_contain_text("Not submitted", timeout=KERNEL_MS)
    expect(outcome).to_contain_text("Month of death")
    expect(page.locator(".e-review_date")).to_have_text("")
    screenshot(page, "entry_workflow_1_future_month")

    _type(page, ".f-death_month", _month(-2))
    expect(page.locator(".sjr-summary")).to_contain_text("Ready to submit", timeout=KERNEL_MS)
    page.locator(".b-submit").click()
    expect(outcome).to_contain_text(re.compile(r"Review SJR-\w+ submitted"), timeout=KERNEL_MS)
    expect(page.locator(".b-submit")).to_be_hidden()
    expect(page.locator(".b-save")).to_have_text("Save changes")
    expect(page.locator(".sjr-summary")).not_to_contain_text("Ready to submit")
    screenshot(page, "entry_workflow_2_submitted")
    review_id = re.search(r"Review (SJR-\w+) submitted", outcome.inner_text()).group(1)

    # a change to the submitted review keeps it submitted
    _type(page, ".f-comment_overall", "Timely escalation; family kept informed.",
          field="textarea")
    page.locator(".b-save").click()
    expect(outcome).to_contain_text("stays submitted", timeout=KERNEL_MS)
    with open_session(users.reviewer, url, tool="test") as s:
        saved = s.review(review_id)
    assert saved["status"] == "submitted" and saved["version"] == 2
    assert saved["comment_overall"] == "Timely escalation; family kept informed."

    # back to draft only through the confirmation, which says what it means
    page.locator(".b-withdraw").click()
    expect(page.locator(".sjr-withdraw")).to_contain_text(
        "left out of every published figure", timeout=KERNEL_MS)
    screenshot(page, "entry_workflow_3_withdraw_asked")
    with open_session(users.reviewer, url, tool="test") as s:
        assert s.review(review_id)["status"] == "submitted"
    page.locator(".b-withdraw-confirm").click()
    expect(outcome).to_contain_text("returned to draft", timeout=KERNEL_MS)
    expect(page.locator(".b-save")).to_have_text("Save draft")
    expect(page.locator(".b-submit")).to_be_visible()
    with open_session(users.reviewer, url, tool="test") as s:
        saved = s.review(review_id)
    assert saved["status"] == "draft" and saved["version"] == 3
    saves = _saves(url, users.admin, review_id)
    assert len(saves) == 3 and "submitted -> draft" in saves[-1]


def test_a_locked_review_opens_read_only(store, reviewer_server, open_page):
    url, users = store
    with open_session(users.reviewer, url, tool="test") as s:
        review_id, version = s.save_review(first_stage_values("LOCK-0201", overall=4))
    with open_session(users.lead, url, tool="test") as s:
        s.lock_review(review_id, expected_version=version)

    page = open_page(reviewer_server, NOTEBOOK, READY)
    _type(page, ".f-open-id", review_id)
    page.locator(".b-open").click()
    expect(page.locator(".sjr-locked")).to_contain_text("is locked", timeout=KERNEL_MS)
    expect(page.locator(".f-case_id input")).to_have_value("LOCK-0201")
    expect(page.locator(".f-case_id input")).to_be_disabled()
    expect(page.locator(".f-comment_overall textarea")).to_be_disabled()
    expect(page.locator(".f-score_overall select")).to_be_disabled()
    expect(page.locator(".f-reason-staff_concern input")).to_be_disabled()
    expect(page.locator(".b-save")).to_be_hidden()
    expect(page.locator(".sjr-summary")).to_contain_text("Locked")
    screenshot(page, "entry_workflow_4_locked")
