"""Theme coding in a real browser: Voila served by ``sjr serve``, headless Chromium.

An organisation lead codes the review at the head of the queue with the keyboard (Enter accepts
the focused suggestion, Tab then Enter rejects the next, a theme added by hand for one phase,
N for the next review); the stored codes are read back through the governed session. A reviewer
and a researcher opening the page get one sentence, not a traceback.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from browser_harness import copy_store, screenshot
from dashboard_store import add_users, populate
from playwright.sync_api import expect

from data_access import open_session

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = "coding.ipynb"
READY = ".b-next-review"
KERNEL_MS = 30_000  # a kernel round trip on a loaded two-core machine
SHOTS = Path("/tmp/shots")
PERIOD = "2022-23"  # the financial year of the action (the store's deaths run to March 2023)
PERIOD_MONTHS = ("2022-04", "2023-03")
ACTION = "NEWS2 escalation prompts added to the electronic observations chart"
MEASURE_LABEL = "% of first-stage reviews with poor or very poor overall care"
"""A measure with reviews in every month, so the report can draw its impact chart (a theme
measure needs months of coded reviews; here one review is coded)."""


@pytest.fixture(scope="module")
def store(tmp_path_factory, small_data):
    folder = tmp_path_factory.mktemp("coding-store")
    template = folder / "template.db"
    populate(f"sqlite:///{template}", small_data)
    users = add_users(f"sqlite:///{template}",
                      str(small_data.organisations["organisation_code"].iloc[0]))
    with open_session(users.admin, f"sqlite:///{template}", tool="test") as admin:
        admin.add_user("res_a", "researcher")
    return copy_store(template, tmp_path_factory.mktemp("coding-live")), users


def _shot(page, name: str) -> None:
    """A screenshot in artifacts/screenshots and in /tmp/shots, to be looked at."""
    path = screenshot(page, name)
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, SHOTS / path.name)


def _offers(page) -> list[tuple[str, str]]:
    """(theme, phase) of the suggestions on screen, in order (from their ``s-`` class)."""
    found = []
    for css in page.locator(".sjr-offers .sjr-offer").evaluate_all(
            "rows => rows.map(r => r.className)"):
        key = next(c for c in css.split() if c.startswith("s-"))
        _, theme, phase = key.split("-")
        found.append((theme, phase))
    return found


def _reportable(url: str, lead: str, review_id: str) -> bool:
    """Whether the review counts in the themes of the report of :data:`PERIOD`: a first-stage
    review of a death in the period (the report's themes count those)."""
    with open_session(lead, url, tool="test") as s:
        review = s.review(review_id)
    return review["review_stage"] == "first" and \
        PERIOD_MONTHS[0] <= str(review["death_month"]) <= PERIOD_MONTHS[1]


def _table_rows(table) -> dict[str, list[str]]:
    """A report table's rows: first cell -> the other cells' text."""
    rows = table.locator("tr").evaluate_all(
        "rows => rows.map(r => Array.from(r.cells).map(c => c.innerText.trim()))")
    return {cells[0]: cells[1:] for cells in rows if cells}


def _focused_classes(page) -> str:
    return page.evaluate("() => document.activeElement ? document.activeElement.className : ''")


def test_a_lead_codes_a_review_from_the_queue_with_the_keyboard(store, start_voila,
                                                                open_page, tmp_path):
    url, users = store
    page = open_page(start_voila(users.lead, url), NOTEBOOK, READY)
    app = page.locator(".sjr-coding")
    expect(app).to_contain_text(f"Signed in as {users.lead}")
    progress = page.locator(".sjr-progress")
    expect(progress).to_contain_text(re.compile(r"0 of [\d,]+ submitted reviews coded"))
    total = int(re.search(r"0 of ([\d,]+)", progress.inner_text()).group(1).replace(",", ""))
    shown = page.locator(".sjr-review-id")
    for _ in range(20):  # the lead skips reviews with too few suggestions for this test, or
        # that the report of the period would not count (so the report can show the codes)
        if len(_offers(page)) >= 2 and _reportable(url, users.lead, shown.inner_text()):
            break
        before = shown.inner_text()
        page.keyboard.press("n")
        expect(shown).not_to_have_text(before, timeout=KERNEL_MS)
    review_id = shown.inner_text()
    expect(page.locator(".sjr-judgements")).to_contain_text("Overall assessment of care")
    offers = _offers(page)
    assert len(offers) >= 2
    _shot(page, "coding_1_review")

    # the first suggestion's Accept has the focus: Enter accepts it
    expect(page.locator(".sjr-offers .b-accept").first).to_be_focused(timeout=KERNEL_MS)
    page.keyboard.press("Enter")
    (theme_a, phase_a), (theme_r, phase_r) = offers[0], offers[1]
    expect(page.locator(f".sjr-codes .c-{theme_a}-{phase_a}")).to_contain_text(
        "accepted suggestion", timeout=KERNEL_MS)
    # the focus moves on to the next suggestion's Accept; Tab to its Reject, Enter rejects
    expect(page.locator(f".s-{theme_r}-{phase_r} .b-accept")).to_be_focused(timeout=KERNEL_MS)
    page.keyboard.press("Tab")
    assert "b-reject" in _focused_classes(page)
    page.keyboard.press("Enter")
    expect(page.locator(f".s-{theme_r}-{phase_r}")).to_have_count(0, timeout=KERNEL_MS)

    # a theme added by hand from the codebook, for one phase
    offered = {t for t, _ in offers}
    with open_session(users.lead, url, tool="test") as s:
        book = s.codebook()
    hand = next(t for t in book.active if t.id not in offered)
    page.locator(".f-theme-add select").select_option(label=hand.label)
    page.locator(".f-theme-phase select").select_option(
        label="Phase: Admission and initial management")
    page.locator(".b-theme-add").click()
    expect(page.locator(f".sjr-codes .c-{hand.id}-admission")).to_contain_text(
        "added by hand", timeout=KERNEL_MS)
    expect(progress).to_contain_text(f"1 of {total:,} submitted reviews coded")
    # the chooser is ready for the next theme: both boxes show their blank choice again
    for css, blank in ((".f-theme-add", "— choose a theme —"), (".f-theme-phase", "Whole review")):
        expect(page.locator(f"{css} select option:checked")).to_have_text(blank)
    _shot(page, "coding_2_coded")

    with open_session(users.lead, url, tool="test") as s:
        codes = s.theme_codes(review_id)
    stored = {(str(r.theme), str(r.phase), bool(r.from_suggestion), str(r.coded_by))
              for r in codes.itertuples()}
    assert stored == {(theme_a, phase_a, True, users.lead),
                      (hand.id, "admission", False, users.lead)}

    # N: the next review; the coded one has left the queue
    page.keyboard.press("n")
    expect(shown).not_to_have_text(review_id, timeout=KERNEL_MS)
    expect(page.locator(".sjr-codes")).to_contain_text("None yet")
    with open_session(users.lead, url, tool="test") as s:
        assert review_id not in set(s.reviews(status=["submitted", "locked"])["review_id"]) - \
            set(s.theme_codes()["review_id"])
    with open_session(users.admin, url, tool="test") as admin:
        log = admin.audit_log(username=users.lead, action="code_review")
    entries = log[log["scope"].astype(str).str.contains(review_id)]
    assert len(entries) == 2 and set(entries["tool"]) == {"voila:coding"}
    _shot(page, "coding_3_next")

    # the Actions tab: an action answering the review just coded, with a measure
    page.get_by_role("tab", name="Actions").click()
    page.locator(".f-action-description textarea").fill(ACTION)
    page.locator(".f-action-owner_role input").fill("Deteriorating patient lead")
    page.locator(".f-action-agreed_on input").fill("2022-05-03")
    page.locator(".f-action-theme-deterioration input[type=checkbox]").check()
    page.locator(".f-action-review_ids input").fill(review_id)
    page.locator(".f-action-review_ids input").press("Tab")
    page.locator(".f-action-measure select").select_option(label=MEASURE_LABEL)
    page.locator(".f-action-change_month input").fill("2022-06")
    page.locator(".f-action-change_month input").press("Tab")
    _shot(page, "coding_4_action_form")
    page.locator(".b-action-record").click()
    expect(page.locator(".sjr-action-message")).to_contain_text("Action recorded",
                                                               timeout=KERNEL_MS)
    expect(page.locator(".sjr-actions-table")).to_contain_text(ACTION)
    _shot(page, "coding_5_action_recorded")
    with open_session(users.lead, url, tool="test") as s:
        actions = s.actions()
    assert len(actions) == 1
    action = actions.iloc[0]
    assert action["description"] == ACTION and action["owner_role"] == "Deteriorating patient lead"
    assert action["measure"] == "poor_care:overall" and action["change_month"] == "2022-06"
    assert action["themes"] == "deterioration" and action["review_ids"] == review_id
    assert str(action["agreed_on"]) == "2022-05-03" and action["status"] == "open"

    # the lead's trust report for the year shows the action and its impact chart
    from sjrlib.report.runner import run_reports

    batch = run_reports("trust", [users.organisation], db=url, out=tmp_path / "reports",
                        period=PERIOD, workers=1, progress=False, user=users.lead)
    assert batch.failed == []
    report = page.context.new_page()
    report.goto((batch.out_dir / "trusts" / f"{users.organisation}.html").as_uri(),
                wait_until="load")
    register = report.get_by_role("table", name=re.compile("^Actions agreed"))
    expect(register).to_contain_text(ACTION)
    expect(register.locator("tr", has_text=ACTION)).to_contain_text(MEASURE_LABEL)
    expect(register.locator("tr", has_text=ACTION)).to_contain_text("June 2022")
    expect(report.get_by_role("table", name=re.compile("^Quality Account"))).to_contain_text(
        ACTION)
    # the themes the lead gave are in the report's themes table (one coded review: its count is
    # shown as '*' under the collaborative audience's disclosure control), the rejected one not
    themes = _table_rows(report.get_by_role("table", name=re.compile("^Themes coded in reviews")))
    labels = {t.id: t.label for t in book.themes}
    for theme in (theme_a, hand.id):
        assert themes[labels[theme]][:2] == ["*", "*"], (theme, themes[labels[theme]])
    if theme_r not in (theme_a, hand.id):
        assert themes[labels[theme_r]][1] == "0"
    assert "0" == themes[labels[next(t.id for t in book.active
                                     if t.id not in (theme_a, theme_r, hand.id))]][1]
    impact = report.locator(f"img[alt*='{ACTION}']")  # its impact chart, rebased at the change
    expect(impact).to_have_count(1)
    assert MEASURE_LABEL in impact.get_attribute("alt")
    impact.scroll_into_view_if_needed()
    SHOTS.mkdir(parents=True, exist_ok=True)
    register.screenshot(path=str(SHOTS / "coding_6_trust_report_actions.png"))
    impact.screenshot(path=str(SHOTS / "coding_7_trust_report_impact.png"))


@pytest.mark.parametrize("who, role", [("reviewer_a", "reviewer"), ("res_a", "researcher")])
def test_a_reviewer_or_researcher_gets_a_sentence(store, start_voila, open_page, who, role):
    url, _ = store
    page = open_page(start_voila(who, url), NOTEBOOK, ".sjr-refused")
    refused = page.locator(".sjr-refused")
    expect(refused).to_contain_text("Coding unavailable")
    expect(refused).to_contain_text(f"{who} is signed in as {role}.")
    assert "Traceback" not in page.content() and "Error" not in refused.inner_text()
    assert page.locator(".sjr-coding").count() == 0
    _shot(page, f"coding_refused_{role}")

