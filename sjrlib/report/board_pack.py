"""A report page as an A4 PDF a trust board accepts (issue 14 part 7).

``sjr report pdf PAGE...`` prints rendered report pages (an organisation's report for its
mortality committee and board, or any other report page) with headless Chromium:

* A4, the page's own print style (``sjrlib.report.render.CSS``: no table, chart or call-out split
  across pages, a heading kept with what follows it);
* a page of a store marked synthetic carries its red banner on the first page (the page's own,
  printed) and, in the header of every page, "SYNTHETIC DATA: fictional" before the title;
* on every page, a header with the report's title, its **audience** (read from the page: the
  organisation's own report carries the "For internal governance" notice; any other page is
  disclosure-controlled for publication) and the date printed, and a footer "Page N of M".

Chromium is driven through Playwright (its ``page.pdf`` is DevTools' ``Page.printToPDF``, the only
way to get page numbers in a header or footer; Chromium's ``--print-to-pdf`` switch has no
templates). The browser is Debian's ``chromium`` (or ``SJR_CHROMIUM``); nothing is downloaded.

A PDF of an organisation report holds exact counts: it is written like the page itself, mode
0600, never through a symbolic link, and only beside a page the person can already read.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

from sjrlib.report.params import INTERNAL_NOTICE
from sjrlib.report.render import is_synthetic_page
from sjrlib.rules import uk_today

__all__ = ["BoardPackError", "audience_of", "chromium_path", "print_pdf", "print_pdfs"]

PUBLIC_WORDS = "Disclosure-controlled: for publication"
INTERNAL_WORDS = INTERNAL_NOTICE


class BoardPackError(RuntimeError):
    """A page could not be printed (named, with what to do)."""


def chromium_path() -> str:
    """The Chromium to print with: ``SJR_CHROMIUM``, else ``chromium`` on the PATH."""
    found = os.environ.get("SJR_CHROMIUM") or shutil.which("chromium") \
        or shutil.which("chromium-browser")
    if not found:
        raise BoardPackError("printing a PDF needs Chromium: install Debian's `chromium` "
                             "(apt-get install chromium) or set SJR_CHROMIUM to its path")
    return found


def audience_of(page: str) -> str:
    """The audience line of a rendered report page."""
    return INTERNAL_WORDS if 'class="sjr-notice"' in page and INTERNAL_NOTICE in page \
        else PUBLIC_WORDS


_TITLE = re.compile(r"<title>(.*?)</title>", re.S)


def _title_of(page: str, path: Path) -> str:
    found = _TITLE.search(page)
    return html.unescape(found.group(1)).strip() if found else path.stem


SYNTHETIC_WORDS = "SYNTHETIC DATA: fictional"
"""Before the title in the header of every page of a synthetic store's PDF."""


def _header(title: str, audience: str, printed: str, synthetic: bool = False) -> str:
    style = ("font-family: Arial, sans-serif; font-size: 7.5pt; color: #425563; width: 100%; "
             "margin: 0 14mm; display: flex; justify-content: space-between;")
    mark = (f'<b style="color: #d5281b;">{html.escape(SYNTHETIC_WORDS)}</b> &middot; '
            if synthetic else "")
    return (f'<div style="{style}"><span>{mark}{html.escape(title)}</span>'
            f"<span><b>{html.escape(audience)}</b> &middot; printed {html.escape(printed)}"
            "</span></div>")


def _footer(printed: str) -> str:
    style = ("font-family: Arial, sans-serif; font-size: 7.5pt; color: #425563; width: 100%; "
             "margin: 0 14mm; display: flex; justify-content: space-between;")
    return (f'<div style="{style}"><span>Structured Judgement Review programme &middot; '
            f'{html.escape(printed)}</span><span>Page <span class="pageNumber"></span> of '
            '<span class="totalPages"></span></span></div>')


def print_pdfs(pages: Iterable[str | Path], *, out_dir: str | Path | None = None,
               printed: dt.date | None = None) -> list[Path]:
    """Print each rendered report page to ``<name>.pdf`` beside it (or in ``out_dir``).

    Called where an event loop runs in this thread (a Jupyter kernel, or beside another
    Playwright session), it prints in a thread of its own: Playwright's sync API refuses to run
    inside an asyncio loop.

    Raises
    ------
    BoardPackError
        A page that is missing or is not a report page, or Chromium that cannot be found or
        started; nothing is left half-written.
    """
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _print_pdfs(pages, out_dir=out_dir, printed=printed)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(_print_pdfs, pages, out_dir=out_dir, printed=printed).result()


def _print_pdfs(pages: Iterable[str | Path], *, out_dir: str | Path | None,
                printed: dt.date | None) -> list[Path]:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    from sjrlib.report.private_files import write_private

    paths = [Path(p) for p in pages]
    for path in paths:
        if not path.is_file():
            raise BoardPackError(f"{path}: no such report page")
        if path.suffix.lower() not in (".html", ".htm"):
            raise BoardPackError(f"{path}: not a report page (.html)")
    day = printed or uk_today()
    when = f"{day.day} {day:%B %Y}"
    written = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path(),
                                         args=["--headless", "--no-sandbox"])
            try:
                for path in paths:
                    text = path.read_text(encoding="utf-8")
                    if "sjr-page" not in text and "sjr-table" not in text:
                        raise BoardPackError(f"{path}: not a page written by `sjr report`")
                    page = browser.new_page()
                    # the page is self-contained and inert (render.check_inert): no network
                    page.route("**/*", lambda route: route.abort()
                               if not route.request.url.startswith("file:") else
                               route.continue_())
                    page.goto(path.resolve().as_uri(), wait_until="load")
                    pdf = page.pdf(
                        format="A4", print_background=True, display_header_footer=True,
                        header_template=_header(_title_of(text, path), audience_of(text),
                                                when, synthetic=is_synthetic_page(text)),
                        footer_template=_footer(when),
                        margin={"top": "20mm", "bottom": "18mm", "left": "14mm",
                                "right": "14mm"},
                        prefer_css_page_size=False,
                    )
                    page.close()
                    target = (Path(out_dir) if out_dir else path.parent) / f"{path.stem}.pdf"
                    written.append(write_private(target, pdf))
            finally:
                browser.close()
    except PlaywrightError as exc:
        raise BoardPackError(f"Chromium could not print: {str(exc).splitlines()[0]}") from None
    return written


def print_pdf(page: str | Path, **options) -> Path:
    """:func:`print_pdfs` for one page."""
    return print_pdfs([page], **options)[0]
