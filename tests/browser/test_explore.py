"""Exploration in a real browser: an organisation lead changes a filter and the chart updates."""

from __future__ import annotations

import pytest
from browser_harness import screenshot
from dashboard_store import add_users, populate
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = "explore.ipynb"
CHART = "img.c-care-scores"
KERNEL_MS = 60_000  # a redraw on a loaded two-core machine


@pytest.fixture(scope="module")
def lead_server(start_voila, tmp_path_factory, small_data):
    url = f"sqlite:///{tmp_path_factory.mktemp('explore-store') / 'sjr.db'}"
    populate(url, small_data)
    users = add_users(url, str(small_data.organisations["organisation_code"].iloc[0]))
    return start_voila(users.lead, url, preheat=True), users


def test_a_filter_change_redraws_the_chart(lead_server, open_page):
    server, users = lead_server
    page = open_page(server, NOTEBOOK, CHART)
    expect(page.locator(".sjr-explore")).to_contain_text(f"Signed in as {users.lead}")
    expect(page.locator(".sjr-explore")).to_contain_text("For internal governance")
    chart = page.locator(CHART)
    before_src = chart.get_attribute("src")
    summary = page.locator(".sjr-summary")
    before_summary = summary.inner_text()
    screenshot(page, "explore_1_all")

    page.locator(".f-admission_type select").select_option(label="Elective")
    expect(summary).not_to_have_text(before_summary, timeout=KERNEL_MS)
    expect(page.locator(CHART)).not_to_have_attribute("src", before_src, timeout=KERNEL_MS)
    assert page.locator(CHART).count() == 1
    screenshot(page, "explore_2_elective")

    page.get_by_role("tab", name="SPC charts").click()  # too few elective deaths a month
    expect(page.locator(".v-spc-charts")).to_contain_text("Too few reviews",
                                                          timeout=KERNEL_MS)
    page.locator(".f-admission_type select").select_option(label="All admission types")
    expect(page.locator("img.c-spc-poor-care")).to_be_visible(timeout=KERNEL_MS)
    expect(page.locator("img.c-spc-reviewed")).to_be_visible(timeout=KERNEL_MS)
    screenshot(page, "explore_3_spc")
    page.get_by_role("tab", name="Reviews").click()
    expect(page.locator(".t-reviews")).to_contain_text("Overall judgement", timeout=KERNEL_MS)
