"""A report for an organisation named with HTML, opened in headless Chromium: nothing runs.

The name is ``<script>alert(1)</script> & <img src=x onerror=alert(2)>
[click](javascript:alert(3))``. The trust report and the index are produced by the real batch
(``run_reports``, a kernel per report) and opened from disk; every link on the pages is clicked.
A control page that puts the same name into HTML unescaped shows that the harness sees a dialog
when one fires.
"""

from __future__ import annotations

import pytest
import report_store
from report_store import HOSTILE_NAME, PERIOD

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    from sjrlib.report.runner import run_reports

    store = report_store.build(tmp_path_factory.mktemp("store"))
    out = tmp_path_factory.mktemp("reports")
    code = store.codes[0]
    batch = run_reports("trust", [code], db=store.url, out=out, period=PERIOD, workers=1,
                        progress=False, user=store.programme)
    assert batch.failed == []
    return [batch.out_dir / "trusts" / f"{code}.html", batch.out_dir / "index.html"]


def _visit(browser, path) -> tuple[list[str], object]:
    context = browser.new_context()
    page = context.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(path.as_uri(), wait_until="load")  # after every image has loaded or failed
    return dialogs, (context, page)


def test_the_harness_sees_a_dialog_on_an_unescaped_page(browser, tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text(f"<!DOCTYPE html><html><body><h1>{HOSTILE_NAME}</h1></body></html>")
    dialogs, (context, _) = _visit(browser, bad)
    context.close()
    assert dialogs, "the control page must fire a dialog, or the test below proves nothing"


def test_a_hostile_organisation_name_runs_nothing(browser, pages):
    for path in pages:
        dialogs, (context, page) = _visit(browser, path)
        try:
            assert HOSTILE_NAME in page.inner_text("body").replace("\n", " ")
            assert page.locator("script").count() == 0
            assert page.locator("[onerror], [onload], [onclick]").count() == 0
            hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
            assert all(h.startswith(("file://", "https://")) for h in hrefs), hrefs
            for index in range(page.locator("a[href]").count()):
                link = page.locator("a[href]").nth(index)
                if link.is_visible():
                    link.click()  # a javascript: link would run here, synchronously
                    page.goto(path.as_uri(), wait_until="load")
            assert dialogs == [], f"{path.name}: {dialogs}"
        finally:
            context.close()
