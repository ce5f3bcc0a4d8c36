"""The first run of a newcomer: `make demo`, then `make serve` with no identity at all.

On a store marked synthetic, ``sjr serve`` signs the visitor in as ``demo-lead`` and the page
says so; the exploration dashboard shows that organisation's data. On a store of real data
(not marked synthetic) nobody is signed in by default.
"""

from __future__ import annotations

import pytest
from browser_harness import screenshot
from playwright.sync_api import expect
from sqlalchemy import text
from typer.testing import CliRunner

from data_access import store
from sjrlib.cli import app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHART = "img.c-care-scores"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("first-run")
    url = f"sqlite:///{folder / 'sjr.db'}"
    result = CliRunner().invoke(app, ["demo-data", "--db", url, "--organisations", "3",
                                      "--years", "2", "--seed", "5"],
                                env={"SJR_USER": None, "SJR_DATABASE_URL": None})
    assert result.exit_code == 0, result.output
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            lead_org = conn.execute(text("SELECT organisation_code FROM users "
                                         "WHERE username = 'demo-lead'")).scalar_one()
    finally:
        engine.dispose()
    return url, lead_org


def test_no_identity_on_the_demo_store_is_demo_lead_and_says_so(demo_db, start_voila,
                                                                 open_page):
    url, lead_org = demo_db
    server = start_voila(None, url, preheat=True)
    page = open_page(server, "explore.ipynb", CHART)
    notice = page.locator(".sjr-banner-warn").first
    expect(notice).to_contain_text("signed in as demo-lead")
    expect(notice).to_contain_text("SJR_USER=demo-reviewer make serve")
    expect(page.locator(".sjr-explore")).to_contain_text("Signed in as demo-lead")
    expect(page.locator(".sjr-explore")).to_contain_text(lead_org)
    expect(page.locator(CHART)).to_be_visible()
    screenshot(page, "first_run_explore_as_demo_lead")


def test_no_identity_on_a_real_store_signs_nobody_in(tmp_path, start_voila, open_page,
                                                     small_data):
    from dashboard_store import add_users, populate

    url = f"sqlite:///{tmp_path / 'real.db'}"
    populate(url, small_data)  # the same data, but not marked synthetic
    add_users(url, str(small_data.organisations["organisation_code"].iloc[0]))
    server = start_voila(None, url)
    page = open_page(server, "explore.ipynb", "text=Exploration unavailable")
    expect(page.locator("body")).to_contain_text("no user identity")
    assert page.locator(".sjr-banner-warn").count() == 0
