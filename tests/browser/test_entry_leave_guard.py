"""A review form with unsaved typing asks before the page is left, and staying keeps it working.

Before: a reviewer who reloaded the page (or closed the tab, or followed a link) half way
through a review lost everything typed, without a question: the browser asks "Leave site?" only
when a page cancels ``beforeunload``, and Voila's own ``beforeunload`` handler shut the page's
kernel down, so even a page that asked would have been dead had the person stayed.

A real ``sjr serve`` (without pre-heated kernels: every kernel under it is a page's) and headless
Chromium; the kernels are counted from the server's process tree.
"""

from __future__ import annotations

import pytest
from browser_harness import entry_store, settled_kernels
from browser_harness import type_into as _type
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = "review_entry.ipynb"
READY = ".b-submit"
KERNEL_MS = 30_000


@pytest.fixture(scope="module")
def store(tmp_path_factory, small_data):
    return entry_store(tmp_path_factory, small_data, "entry-leave-guard")


@pytest.fixture(scope="module")
def server(start_voila, store):
    url, users = store
    return start_voila(users.reviewer, url)


def _port(server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def _answered(page, dialogs: list[str], answer: str):
    """Answer every dialog the page opens (``accept``: leave; ``dismiss``: stay), noting it;
    returns the handler (``page.remove_listener("dialog", it)``)."""
    def on_dialog(dialog) -> None:
        dialogs.append(dialog.type)
        getattr(dialog, answer)()

    page.on("dialog", on_dialog)
    return on_dialog


def test_unsaved_typing_asks_before_a_reload_and_staying_keeps_the_form(server, open_page):
    page = open_page(server, NOTEBOOK, READY)
    dialogs: list[str] = []
    staying = _answered(page, dialogs, "dismiss")  # "Stay on page"
    _type(page, ".f-case_id", "LEAVE-0001")
    _type(page, ".f-age_at_death", "79")
    page.wait_for_timeout(1_000)  # the values reach the kernel, which arms the guard
    try:
        page.reload(timeout=5_000)
    except PlaywrightTimeout:
        pass  # the person stayed: no new page comes
    assert dialogs == ["beforeunload"]
    # the form is still the one typed into, and its kernel still answers
    expect(page.locator(".f-case_id input")).to_have_value("LEAVE-0001")
    before = page.locator(".sjr-summary").inner_text()
    _type(page, ".f-death_month", "2026-08")
    expect(page.locator(".sjr-summary")).not_to_have_text(before, timeout=KERNEL_MS)
    # then leave after all: Chromium has been seen to crash when a context is closed on a page
    # whose navigation the person had cancelled
    page.remove_listener("dialog", staying)
    _answered(page, dialogs, "accept")
    page.goto("about:blank")
    assert dialogs == ["beforeunload", "beforeunload"]


def test_leaving_with_unsaved_typing_still_shuts_the_kernel_down(server, open_page):
    port = _port(server)
    page = open_page(server, NOTEBOOK, READY)
    open_ = settled_kernels(port)
    dialogs: list[str] = []
    _answered(page, dialogs, "accept")  # "Leave"
    _type(page, ".f-case_id", "LEAVE-0002")
    page.wait_for_timeout(1_000)
    page.goto("about:blank")
    assert dialogs == ["beforeunload"]
    assert settled_kernels(port) == open_ - 1, "the page's kernel was left for the culler"
    assert "403 POST" not in server.log.read_text(errors="replace")


def test_nothing_typed_or_all_saved_leaves_without_a_question(server, open_page):
    port = _port(server)
    page = open_page(server, NOTEBOOK, READY)
    open_ = settled_kernels(port)
    dialogs: list[str] = []
    _answered(page, dialogs, "dismiss")
    page.goto("about:blank")
    assert dialogs == []
    assert settled_kernels(port) == open_ - 1
