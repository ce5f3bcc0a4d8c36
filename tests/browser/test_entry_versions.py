"""Form versions and theme coding in the review entry form, in a real browser (issues 12, 13).

Voila served by ``sjr serve``, headless Chromium. A reviewer enters an ``ext2026`` review with a
referral and a frailty score; a lead opens an ``rcp2017`` review, which shows none of the
questions added since and saves as ``rcp2017``; a lead codes a review's themes in the form by
accepting a suggestion. What is checked is what the governed session reads back.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from browser_harness import entry_store, fill, screenshot
from dashboard_store import first_stage_values
from playwright.sync_api import expect

from data_access import open_session

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = "review_entry.ipynb"
READY = ".b-submit"
KERNEL_MS = 30_000
SUBMITTED = re.compile(r"Review [\w-]+ submitted")
SHOTS = Path("/tmp/shots")
EXT2026_ONLY = (".f-autism", ".f-me_scrutiny", ".f-family_concern", ".f-escalation_plan",
                ".f-dying_recognised", ".f-referral")


def shot(page, name: str) -> None:
    """A screenshot in artifacts/screenshots (the harness) and a copy in /tmp/shots."""
    path = screenshot(page, name)
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, SHOTS / path.name)


@pytest.fixture(scope="module")
def entry(tmp_path_factory, small_data, start_voila):
    """``(url, users, servers)``: a store of ``small_data`` and the entry form served to its
    reviewer and to its lead."""
    url, users = entry_store(tmp_path_factory, small_data, "entry-versions")
    return url, users, {"reviewer": start_voila(users.reviewer, url),
                        "lead": start_voila(users.lead, url)}


def test_reviewer_enters_an_ext2026_review_with_a_referral_and_a_frailty_score(
        entry, open_page):
    url, users, servers = entry
    page = open_page(servers["reviewer"], NOTEBOOK, READY)
    expect(page.locator(".sjr-state")).to_contain_text("2026 additions")
    expect(page.locator(".f-form_version select")).to_be_enabled()
    # the frailty score is asked only at 65 and over; the ME concern only after scrutiny
    expect(page.locator(".f-clinical_frailty_scale")).to_be_hidden()
    expect(page.locator(".f-me_concern")).to_be_hidden()

    fill(page, {".f-case_id": "WARD9-0301", ".f-age_at_death": "82"})
    expect(page.locator(".f-clinical_frailty_scale")).to_be_visible(timeout=KERNEL_MS)
    fill(page, {
        ".f-clinical_frailty_scale": "6 · Living with moderate frailty",
        ".f-sex": "Male",
        ".f-death_month": "2026-10",
        ".f-admission_type": "Emergency",
        ".f-specialty": "Care of the elderly (geriatric medicine)",
        ".f-location_of_death": "Ward",
        ".f-learning_disability": "No",
        ".f-autism": "No",
        ".f-reason-family_concern": True,
        **{f".f-na-{phase}": True
           for phase in ("ongoing", "procedure", "perioperative", "end_of_life")},
        ".f-score_admission": "2 · Poor care",
        ".f-comment_admission": "Falls risk not assessed on admission; no bed rails plan or "
                                "lying and standing blood pressure.",
        ".f-score_overall": "2 · Poor care",
        ".f-comment_overall": "A fall on day two was foreseeable and not prevented.",
        ".f-record_quality_score": "3 · Adequate",
        ".f-any_problems": "Yes",
        ".f-present-assessment": True,
        ".f-problem_assessment": "Probably",
        ".f-me_scrutiny": "Yes",
    })
    expect(page.locator(".f-me_concern")).to_be_visible(timeout=KERNEL_MS)
    fill(page, {
        ".f-me_concern": "Yes",
        ".f-family_concern": "Yes",
        ".f-family_involved": "Yes",
        ".f-family_feedback": "Not yet",
        ".f-escalation_plan": "No",
        ".f-dying_recognised": "Not applicable (sudden or unexpected death)",
    })

    # referrals: an English trust offers the coroner, not the Procurator Fiscal; LeDeR only
    # with a learning disability or autism (both answered no here)
    page.locator(".b-referral-add").click()
    types = page.locator(".f-referral-type-0 select option")
    expect(types).to_contain_text(["Coroner (England)"], timeout=KERNEL_MS)
    offered = types.all_inner_texts()
    assert "Procurator Fiscal (Scotland)" not in offered
    assert not any(t.startswith("LeDeR") for t in offered)
    fill(page, {".f-referral-type-0": "Patient safety incident investigation (PSIRF)",
                ".f-referral-value-0": "Made", ".f-referral-companion-0": "PSII-2026-114"})
    expect(page.locator(".sjr-summary")).to_contain_text("Ready to submit", timeout=KERNEL_MS)
    shot(page, "entry_ext2026_filled")
    page.locator(".b-submit").click()
    banner = page.locator(".sjr-banner")
    expect(banner).to_contain_text(SUBMITTED, timeout=KERNEL_MS)
    review_id = re.search(r"Review (SJR-[\w-]+) submitted", banner.inner_text()).group(1)

    with open_session(users.reviewer, url, tool="test") as s:
        saved = s.review(review_id)
    assert saved["form_version"] == "ext2026"
    assert saved["clinical_frailty_scale"] == 6 and saved["specialty"] == "care_of_the_elderly"
    assert saved["me_scrutiny"] == "yes" and saved["me_concern"] == "yes"
    assert saved["family_feedback"] == "not_yet" and saved["dying_recognised"] == "not_applicable"
    assert saved["referral_psii"] == "made" and saved["referral_ref_psii"] == "PSII-2026-114"
    assert saved["referral_coroner"] is None


def test_an_rcp2017_review_opens_and_saves_without_the_new_questions(entry, open_page):
    url, users, servers = entry
    with open_session(users.lead, url, tool="test") as s:
        reviews = s.reviews(status="submitted")
    old = reviews[(reviews["organisation_code"] == users.organisation)
                  & (reviews["review_stage"] == "first")
                  & (reviews["form_version"] == "rcp2017")].iloc[0]
    review_id = str(old["review_id"])

    page = open_page(servers["lead"], NOTEBOOK, READY)
    fill(page, {".f-open-id": review_id})
    page.locator(".b-open").click()
    expect(page.locator(".sjr-banner")).to_contain_text(f"Opened review {review_id}",
                                                        timeout=KERNEL_MS)
    expect(page.locator(".sjr-state")).to_contain_text("RCP 2017 form")
    expect(page.locator(".f-form_version select")).to_be_disabled()
    for css in EXT2026_ONLY:
        expect(page.locator(css)).to_be_hidden()
    expect(page.locator(".f-clinical_frailty_scale")).to_be_hidden()
    shot(page, "entry_rcp2017_opened")
    fill(page, {".f-comment_overall": "Reviewed again at the mortality meeting: care was "
                                      "adequate overall."})
    # a submitted review: Save changes keeps it submitted (no Submit button)
    expect(page.locator(".b-submit")).to_be_hidden()
    page.locator(".b-save").click()
    expect(page.locator(".sjr-outcome")).to_contain_text("stays submitted", timeout=KERNEL_MS)

    with open_session(users.lead, url, tool="test") as s:
        saved = s.review(review_id)
    assert saved["comment_overall"].startswith("Reviewed again at the mortality meeting")
    assert saved["form_version"] == "rcp2017" and saved["status"] == "submitted"
    for column in ("autism", "clinical_frailty_scale", "me_scrutiny", "referral_coroner"):
        assert saved.get(column) is None, column


def test_a_lead_codes_themes_in_the_form_by_accepting_a_suggestion(entry, open_page):
    url, users, servers = entry
    with open_session(users.reviewer, url, tool="test") as s:
        review_id, _ = s.save_review(first_stage_values("BAY5-0042", overall=2))

    page = open_page(servers["lead"], NOTEBOOK, READY)
    fill(page, {".f-open-id": review_id})
    page.locator(".b-open").click()
    expect(page.locator(".sjr-banner")).to_contain_text(f"Opened review {review_id}",
                                                        timeout=KERNEL_MS)
    # first_stage_values' judgements: a rising early warning score not escalated, a failure to
    # escalate a deteriorating patient (the overall judgement suggests it most)
    suggestion = page.locator(".s-deterioration-overall")
    expect(suggestion).to_be_visible(timeout=KERNEL_MS)
    expect(suggestion).to_contain_text("Recognising and responding to deterioration")
    shot(page, "entry_themes_suggested")
    suggestion.locator(".b-accept").click()
    expect(page.locator(".c-deterioration-overall")).to_contain_text(
        "accepted suggestion", timeout=KERNEL_MS)
    expect(page.locator(".s-deterioration-overall")).to_have_count(0)
    fill(page, {".f-theme-add": "Handover, teamwork and documentation"})
    page.locator(".b-theme-add").click()
    expect(page.locator(".c-communication_team-review")).to_contain_text("added by hand",
                                                                         timeout=KERNEL_MS)
    shot(page, "entry_themes_coded")

    with open_session(users.lead, url, tool="test") as s:
        codes = s.theme_codes(review_id)
    got = {(r.theme, None if str(r.phase) == "<NA>" else r.phase, bool(r.from_suggestion))
           for r in codes.itertuples()}
    assert got == {("deterioration", "overall", True), ("communication_team", None, False)}
    with open_session(users.admin, url, tool="test") as admin:
        log = admin.audit_log(username=users.lead, action="code_review")
    assert len(log) == 2 and set(log["tool"]) == {"voila:review_entry"}
