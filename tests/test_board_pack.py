"""The board pack: an organisation's report printed as an A4 PDF by headless Chromium, and the
Learning from Deaths workbook opened by a real spreadsheet program (issue 14 part 7).

The reports are rendered for real (papermill through ``sjr report``) from a small synthetic
store; the PDF is read back with pypdf, page by page, as a board secretary would check it.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sjrlib.cli import app

sys.path.insert(0, str(Path(__file__).parent))
import report_store  # noqa: E402

pypdf = pytest.importorskip("pypdf")
CHROMIUM = os.environ.get("SJR_CHROMIUM") or shutil.which("chromium")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed "
                                    "(.ci/run installs it)")
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """A public and an organisation report of one trust, and its workbooks."""
    folder = tmp_path_factory.mktemp("board")
    store = report_store.build(folder)
    code = store.codes[1]
    env = {**os.environ, "SJR_USER": store.programme}
    out = folder / "reports"
    for audience in ("public", "organisation"):
        done = subprocess.run(
            [str(Path(sys.executable).with_name("sjr")), "report", "trust", code, "--db",
             store.url, "--out", str(out), "--period", report_store.PERIOD, "--quiet",
             "--audience", audience],
            env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
    base = out / report_store.PERIOD
    return {"public": base / "trusts" / f"{code}.html",
            "organisation": base / "organisation" / f"{code}.html",
            "workbook": base / "organisation" / f"{code}-lfd.xlsx",
            "public_workbook": base / "trusts" / f"{code}-lfd.xlsx"}


def _pages(pdf: Path) -> list[str]:
    return [re.sub(r"\s+", " ", page.extract_text() or "")
            for page in pypdf.PdfReader(str(pdf)).pages]


@needs_chromium
def test_the_organisation_report_prints_as_a_board_pack(reports, tmp_path):
    page = reports["organisation"]
    result = CliRunner().invoke(app, ["report", "pdf", str(page), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    pdf = tmp_path / f"{page.stem}.pdf"
    assert f"Wrote {pdf}" in result.output
    assert pdf.stat().st_mode & 0o777 == 0o600
    reader = pypdf.PdfReader(str(pdf))
    assert len(reader.pages) >= 4
    for p in reader.pages:  # A4 portrait: 595 x 842 points
        assert abs(float(p.mediabox.width) - 595) < 2 and abs(float(p.mediabox.height) - 842) < 2
    texts = _pages(pdf)
    today = dt.date.today()
    for n, text in enumerate(texts, start=1):
        assert f"Page {n} of {len(texts)}" in text
        assert f"printed {today.day} {today:%B %Y}" in text
        assert "For internal governance" in text
    # no table split across pages: each table's caption and its last row are on one page
    html = page.read_text(encoding="utf-8")
    tables = re.findall(r"<caption>(.*?)</caption>.*?</tbody>", html, re.S)
    assert len(tables) >= 6
    for block in re.findall(r"<caption>(.*?)</caption>(.*?)</tbody>", html, re.S):
        caption, body = block
        rows = re.findall(r'<th scope="row">(.*?)</th>', body)
        if not rows:
            continue
        head = _words(caption)[:5]
        last = _words(rows[-1])[:3]
        on = [i for i, t in enumerate(texts) if head in _words(t)]
        assert on, f"caption {caption!r} not found in the PDF"
        assert any(last in _words(texts[i]) for i in on), \
            f"table {caption!r} is split across pages"


def _words(text: str) -> str:
    import html as h

    return " ".join(re.sub(r"[^\w%*]+", " ", h.unescape(text)).split())


@needs_chromium
def test_a_public_page_says_it_is_disclosure_controlled(reports, tmp_path):
    result = CliRunner().invoke(app, ["report", "pdf", str(reports["public"]),
                                      "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    texts = _pages(tmp_path / f"{reports['public'].stem}.pdf")
    assert all("Disclosure-controlled: for publication" in t for t in texts)
    assert not any("For internal governance" in t for t in texts)


@needs_chromium
def test_a_page_prints_where_an_event_loop_runs(reports, tmp_path):
    """As from a notebook (a kernel runs an asyncio loop) or beside a browser test's
    Playwright session: the sync API would refuse to run in this thread."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from sjrlib.report.board_pack import print_pdf

    async def in_a_loop() -> Path:
        return print_pdf(reports["public"], out_dir=tmp_path)

    with ThreadPoolExecutor(1) as pool:  # a thread of its own: this one may hold a loop
        pdf = pool.submit(asyncio.run, in_a_loop()).result()
    assert pdf == tmp_path / f"{reports['public'].stem}.pdf"
    assert all("Disclosure-controlled: for publication" in t for t in _pages(pdf))


def test_what_cannot_be_printed_is_named_in_one_line(tmp_path):
    missing = tmp_path / "nothing.html"
    result = CliRunner().invoke(app, ["report", "pdf", str(missing)])
    assert result.exit_code == 1
    assert result.output.strip() == f"{missing}: no such report page"
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    result = CliRunner().invoke(app, ["report", "pdf", str(other)])
    assert result.exit_code == 1 and "not a report page (.html)" in result.output
    assert "Traceback" not in result.output


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice not installed (.ci/run installs "
                    "libreoffice-calc-nogui)")
@pytest.mark.parametrize("which", ["workbook", "public_workbook"])
def test_libreoffice_opens_the_workbook_and_keeps_every_figure(reports, tmp_path, which):
    from openpyxl import load_workbook

    source = reports[which]
    book = load_workbook(source, data_only=False)
    profile = tmp_path / "profile"
    for index, sheet in enumerate(book.worksheets, start=1):
        out = tmp_path / f"sheet{index}"
        out.mkdir()
        # LibreOffice 7.2+: the 12th token of the CSV filter options picks the sheet
        options = f"44,34,76,1,,0,false,true,false,false,false,{index}"
        done = subprocess.run(
            [SOFFICE, f"-env:UserInstallation={profile.as_uri()}", "--headless",
             "--convert-to", f"csv:Text - txt - csv (StarCalc):{options}", "--outdir",
             str(out), str(source)],
            capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr
        written = list(out.glob("*.csv"))
        assert len(written) == 1, (done.stdout, done.stderr)
        with written[0].open(encoding="utf-8") as fh:
            office = list(csv.reader(fh))
        for row in sheet.iter_rows():
            for cell in row:
                value = cell.value
                if value is None:
                    continue
                shown = office[cell.row - 1][cell.column - 1] \
                    if cell.row - 1 < len(office) and cell.column - 1 < len(office[cell.row - 1]) \
                    else ""
                if isinstance(value, str) and value.startswith("="):
                    assert shown != "" and not shown.startswith(("#", "Err:")), \
                        f"{sheet.title}!{cell.coordinate}: {value} gives {shown!r}"
                elif isinstance(value, (int, float)):
                    assert float(shown.replace(",", "").rstrip("%")) == pytest.approx(
                        value * (100 if shown.endswith("%") else 1), rel=1e-9, abs=1e-9), \
                        f"{sheet.title}!{cell.coordinate}: {value} shown as {shown!r}"
                else:
                    assert shown == str(value).strip() or str(value).strip() in shown, \
                        f"{sheet.title}!{cell.coordinate}: {value!r} shown as {shown!r}"
