"""Calibration in a real browser: Voila served by ``sjr serve``, headless Chromium (issue 15).

On a demo store (``sjr demo-data``: fictional trainers, the starter cases, a completed round),
the lead opens a new round of two fictional cases for the demo reviewer. The reviewer scores
both in the ordinary review entry form, marked as training, and submits them; the panel's
reference appears beside each answer and the reviewer's own results on the page. The answers
are read back through the governed session as training answers, and no review was written.
The lead then sees their team's results and who is due a refresher.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from browser_harness import screenshot
from playwright.sync_api import expect
from sqlalchemy import text
from typer.testing import CliRunner

from data_access import open_session, store
from data_access.training import RoundSpec
from sjrlib.cli import app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = "calibration.ipynb"
KERNEL_MS = 60_000
ROUND = "BROWSER-ROUND"
CASES = ("TC-2026-04", "TC-2026-07")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("calibration-store")
    url = f"sqlite:///{folder / 'sjr.db'}"
    result = CliRunner().invoke(app, ["demo-data", "--db", url, "--organisations", "3",
                                      "--years", "1", "--seed", "5"], env={"SJR_USER": None})
    assert result.exit_code == 0, result.output
    with open_session("demo-reviewer", url, tool="test") as reviewer:
        org = reviewer.organisation_codes[0]
        me = str(reviewer.reviews(columns=["reviewer_id"])["reviewer_id"].iloc[0])
    today = dt.date.today()
    with open_session("demo-lead", url, tool="test") as lead:
        lead.create_calibration_round(RoundSpec(
            ROUND, "Browser round", CASES, today, today + dt.timedelta(days=7),
            ((org, me),), org))
    return url, me


def _score(page, phase: str, label: str, comment: str) -> None:
    page.select_option(f".sjr-training-entry .f-score_{phase} select", label=label)
    box = page.locator(f".sjr-training-entry .f-comment_{phase} textarea")
    box.fill(comment)
    box.press("Tab")  # the judgement reaches the kernel on leaving the box


def test_a_reviewer_completes_a_round_and_sees_their_results(demo, start_voila, open_page):
    url, me = demo
    page = open_page(start_voila("demo-reviewer", url), NOTEBOOK, ".sjr-training-entry")
    page.select_option(".cal-round select", label="Browser round ("
                       f"{dt.date.today():%d %b} to "
                       f"{dt.date.today() + dt.timedelta(days=7):%d %b %Y})")
    panel = ("5 Excellent care", "1 Very poor care")  # the reference answers of the two cases
    for case_id, overall, theirs in zip(CASES, ("5 · Excellent care", "2 · Poor care"), panel,
                                        strict=True):
        page.select_option(".cal-case select", label=next(
            o for o in page.locator(".cal-case select option").all_inner_texts()
            if o.startswith(case_id)))
        form = page.locator(".sjr-training-entry")
        expect(form.locator(".sjr-state")).to_contain_text(f"Case {case_id}", timeout=KERNEL_MS)
        expect(form.locator(".sjr-state")).to_contain_text("training answer, draft")
        expect(form.locator(".sjr-training")).to_contain_text("Training — not a real review")
        expect(form.locator(".sjr-case")).to_contain_text("The patient")  # the fictional summary
        # the entry form asks the judgement, not the case details of a real review
        expect(form.locator(".f-case_id")).to_have_count(0)
        expect(form.locator(".f-record_quality_score")).to_have_count(0)
        _score(page, "admission", "4 · Good care", "Prompt assessment, clear plan.")
        for phase in ("ongoing", "procedure", "perioperative"):
            page.locator(f".sjr-training-entry .f-na-{phase} input").check()
        _score(page, "end_of_life", "4 · Good care", "Symptoms controlled, family involved.")
        _score(page, "overall", overall, "Overall judgement for the training case.")
        page.select_option(".sjr-training-entry .f-any_problems select", label="No")
        page.select_option(".sjr-training-entry .f-avoidability_score select",
                           label="6 · Definitely not avoidable")
        page.locator(".sjr-training-entry .f-training-theme-good_practice input").check()
        page.locator(".sjr-training-entry .b-submit").click()
        expect(form.locator(".sjr-banner")).to_contain_text(
            f"Training answer to {case_id} submitted", timeout=KERNEL_MS)
        reference = page.locator(".cal-reference")
        expect(reference).to_contain_text("The panel's reference answers", timeout=KERNEL_MS)
        expect(reference).to_contain_text(re.compile(  # the panel's, then theirs
            rf"Overall assessment of care\s*{theirs}\s*{overall.replace(' ·', '')}"))
        expect(form.locator(".b-submit")).to_be_disabled()
        expect(form.locator(".f-score_overall select")).to_be_disabled()
    results = page.locator(".cal-results")
    expect(results).to_contain_text("Your scores against the panel", timeout=KERNEL_MS)
    # both answers compared (refreshed after each submission): overall 5 = panel's 5, and 2
    # beside the panel's 1 (one point more lenient, both trigger a second stage: one answer
    # differing is too few to call the reviewer more lenient); avoidability 6 beside 6 and
    # beside the panel's 2
    expect(results).to_contain_text(re.compile(
        rf"{ROUND}\s*Overall assessment of care\s*2\s*50%\s*100%\s*too few differences"),
        timeout=KERNEL_MS)
    expect(results).to_contain_text(re.compile(rf"{ROUND}\s*2 of 2\s*1 of 2"))
    expect(results).to_contain_text("Second-stage trigger (overall care 1-2) agreed")
    screenshot(page, "calibration-reviewer", selector=".sjr-calibration")
    with open_session("demo-reviewer", url, tool="test") as reviewer:
        answers = reviewer.calibration_answers(ROUND)
    assert sorted(answers["case_id"]) == list(CASES)
    assert set(answers["status"]) == {"submitted"} and set(answers["reviewer_id"]) == {me}
    assert answers.set_index("case_id").loc["TC-2026-07", "score_overall"] == 2
    assert answers["score_ongoing"].isna().all()  # not applicable
    assert answers["comments"].map(lambda c: "admission" in c).all()
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            saved = conn.execute(text(
                "SELECT count(*) FROM audit_log WHERE action = 'save_calibration_answer' AND "
                "username = 'demo-reviewer' AND tool = 'voila:calibration'")).scalar_one()
            reviews = conn.execute(text(
                "SELECT count(*) FROM audit_log WHERE action = 'save_review'")).scalar_one()
    finally:
        engine.dispose()
    assert saved == 2 and reviews == 0


def test_a_lead_sees_their_team(demo, start_voila, open_page):
    url, me = demo
    page = open_page(start_voila("demo-lead", url), NOTEBOOK, ".cal-results table")
    results = page.locator(".cal-results")
    expect(results).to_contain_text("Your reviewers against the panel")
    expect(results).to_contain_text(me)
    expect(results).to_contain_text("Krippendorff's alpha (ordinal)")
    expect(page.locator(".cal-training")).to_contain_text("Due a refresher")
    expect(page.locator(".sjr-training-entry")).to_have_count(0)  # leads read results here
    screenshot(page, "calibration-lead", selector=".sjr-calibration")


def test_the_programme_team_sees_no_organisation(demo, start_voila, open_page):
    url, _ = demo
    page = open_page(start_voila("demo-programme", url), NOTEBOOK, ".cal-results table")
    expect(page.locator(".cal-results")).to_contain_text("the distribution")
    expect(page.locator(".cal-training")).to_contain_text("Training capacity by region")
    with open_session("demo-programme", url, tool="test") as national:
        organisations = national.organisations()
    # the results and the capacity (the trainer directory below them is public by design)
    shown = page.locator(".cal-results").inner_text() + page.locator(".cal-training").inner_text()
    expect(page.locator(".cal-directory")).to_contain_text("(fictional)")
    for code, name in zip(organisations["organisation_code"], organisations["name"],
                          strict=True):
        assert str(code) not in shown and str(name) not in shown
