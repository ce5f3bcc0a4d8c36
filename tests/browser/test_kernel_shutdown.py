"""Leaving a dashboard page shuts its kernel down (issue 17 part 1; voila#1458).

A real ``sjr serve`` and a real browser: the page is opened, then left (the browser navigates
away, which fires the page's unload handler as closing a tab does), and the server's kernels
are counted from its process tree. Before the fix every view left a kernel behind for the
15-minute culler.
"""

from __future__ import annotations

import pytest
from browser_harness import settled_kernels as _settle
from dashboard_store import add_users, populate

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = "review_entry.ipynb"
READY = ".b-submit"


def test_leaving_a_page_shuts_its_kernel_down(start_voila, browser, tmp_path_factory,
                                              small_data):
    url = f"sqlite:///{tmp_path_factory.mktemp('shutdown-store') / 'sjr.db'}"
    populate(url, small_data)
    users = add_users(url, str(small_data.organisations["organisation_code"].iloc[0]))
    server = start_voila(users.reviewer, url, preheat=True)
    port = int(server.url.rsplit(":", 1)[1])
    context = browser.new_context()
    try:
        idle = _settle(port)
        for view in range(2):  # a second view: leaving works again, not once only
            page = context.new_page()
            page.goto(server.page_url(NOTEBOOK), wait_until="commit", timeout=120_000)
            page.wait_for_selector(READY, timeout=120_000)
            open_ = _settle(port)
            page.goto("about:blank")  # leave the page: its unload handler runs
            left = _settle(port)
            assert left == open_ - 1, (view, idle, open_, left)
            page.close()
        assert _settle(port) == idle, "a page view left a kernel behind"
    finally:
        context.close()
    assert "403 POST" not in server.log.read_text(errors="replace")
