"""The report batch end to end: real papermill runs of both notebooks on a small synthetic store,
HTML content, disclosure control of everything below national level, a back-test, failures.

One batch (`sjr report all`, run by a programme-team user as a separate process from another
folder, with relative paths) runs once per module on 3 English trusts and 1 Scottish board over
two financial years; the tests read what it wrote.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
import report_store
from openpyxl import load_workbook
from report_store import HOSTILE_NAME, PERIOD
from typer.testing import CliRunner

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SJR = Path(sys.executable).with_name("sjr")
TRUST_SECTIONS = (
    "What to look at",
    "Learning from Deaths: quarterly figures",
    "Care scores by phase of care",
    "Problems in care and harm",
    "Avoidability of death",
    "Statistical process control charts",
    "Second-stage review findings",
    "Reasons for review",
    "Deaths of patients with a learning disability",
    "About this report",
)
NATIONAL_SECTIONS = (
    "Summary",
    "Learning from Deaths: England, Scotland and together",
    "Poor or very poor care by NHS region",
    "Trends",
    "Reliability of judgements: double-reviewed cases",
    "Ordinal model of overall care",
    "About this report",
)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """3 English trusts (the first named with HTML) and 1 Scottish board, 2 financial years."""
    return report_store.build(tmp_path_factory.mktemp("store"))


@dataclass
class Batch:
    out_dir: Path
    output: str


@pytest.fixture(scope="module")
def batch(store, tmp_path_factory):
    """``sjr report all`` run by a programme-team user from another folder, with a relative
    ``--out`` and a relative SQLite path: every path is the caller's."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    db = os.path.relpath(store.db_file, elsewhere)
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTERHUB_USER",
                                                            "SJR_DATABASE_URL")}
    env["SJR_USER"] = store.programme
    done = subprocess.run(
        [str(SJR), "report", "all", "--db", f"sqlite:///{db}", "--out", "reports",
         "--period", PERIOD, "--jobs", "2", "--quiet"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return Batch(elsewhere / "reports" / PERIOD, done.stdout), store.codes


class _Cells(HTMLParser):
    """Text of every table cell (th and td) of a page, table by table."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag in ("td", "th") and self.tables:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _table_cells(path: Path) -> list[list[str]]:
    parser = _Cells()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.tables


def _small_count(text: str) -> bool:
    """A cell showing a count from 1 to 7 (a bare integer; labels and percentages are not)."""
    return bool(re.fullmatch(r"[1-7]", text.strip()))


def test_every_report_is_written_and_indexed(batch):
    result, codes = batch
    folder = re.escape(str(result.out_dir))
    assert re.search(rf"{len(codes) + 1} reports for {PERIOD} in {folder} \([\d.]+ s\): "
                     rf"{len(codes) + 1} rendered\.\n", result.output), result.output
    out = result.out_dir
    assert out.name == PERIOD
    assert (out / "national.html").exists()
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="national.html"' in index
    for code in codes:
        assert (out / "trusts" / f"{code}.html").exists()
        assert (out / "trusts" / f"{code}-lfd.xlsx").exists()
        assert f'href="trusts/{code}.html"' in index
    assert not list(out.rglob("*.ipynb")), "executed notebooks are not kept"
    written = [p for p in out.rglob("*") if p.is_file()]
    # what each trust report published is kept apart, for the next run's revisions
    kept = {p for p in written if ".history" in p.parts}
    assert {p.relative_to(out / ".history").as_posix() for p in kept} == \
        {f"trusts/{code}.json" for code in codes}
    written = [p for p in written if p not in kept]
    directory = {out / "trainers.html", out / "trainers.csv"}  # the trainer directory (issue 15)
    assert directory <= set(written)
    assert 'href="trainers.html"' in index and 'href="trainers.csv"' in index
    assert {oct(p.stat().st_mode & 0o777) for p in directory} == {"0o600"}
    written = [p for p in written if p not in directory]
    assert out / "manifest.json" in written  # what each report was made from (the refresh's)
    assert len(written) == 2 * len(codes) + 3
    assert {oct(p.stat().st_mode & 0o777) for p in written} == {"0o600"}


@pytest.mark.parametrize("kind", ["trust", "national"])
def test_html_has_sections_no_code_and_no_traceback(batch, kind):
    result, codes = batch
    path = result.out_dir / ("national.html" if kind == "national" else f"trusts/{codes[0]}.html")
    page = path.read_text(encoding="utf-8")
    for section in TRUST_SECTIONS if kind == "trust" else NATIONAL_SECTIONS:
        assert f">{section}<" in page, section
    assert 'class="sjr-toc"' in page
    assert "@media print" in page
    assert "data:image/png;base64," in page
    for forbidden in ("Traceback", "jp-InputArea", "input_area", "display(r.",
                      "from sjrlib", "organisation_code: str", "Warning"):
        assert forbidden not in page, forbidden
    assert "Data snapshot (SHA-256 of the rows used)" in page
    # the hash, and no exact row count beside it (an unrounded count: issue of 2026-12-05)
    assert re.search(r"<code>[0-9a-f]{64}</code>", page)
    assert not re.search(r"[0-9a-f]{64} \([\d,]+ rows\)", page)


def test_national_report_names_no_organisation(batch, store):
    import html

    result, codes = batch
    page = (result.out_dir / "national.html").read_text(encoding="utf-8")
    page = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)  # figures are pixels
    for code in codes:
        assert code not in page
    for name in store.names.values():
        assert name not in page and html.escape(name) not in page


def test_no_small_count_in_any_table_below_national_level(batch):
    result, codes = batch
    checked = 0
    for code in codes:
        for table in _table_cells(result.out_dir / "trusts" / f"{code}.html"):
            for cell in table:
                assert not _small_count(cell), f"{code}: a count {cell!r} in a trust report"
                if re.fullmatch(r"[\d,]+", cell):
                    assert int(cell.replace(",", "")) % 5 == 0, f"{code}: {cell} not rounded"
                    checked += 1
        book = load_workbook(result.out_dir / "trusts" / f"{code}-lfd.xlsx")
        sheet = book["Learning from Deaths"]
        for row in sheet.iter_rows(min_row=5):
            for cell in row[1:]:
                if isinstance(cell.value, int) and "%" not in cell.number_format:
                    assert not 1 <= cell.value <= 7, f"{code}-lfd.xlsx {cell.coordinate}"
                    assert cell.value % 5 == 0
                    checked += 1
    # the regional table of the national report is below national level too
    tables = _table_cells(result.out_dir / "national.html")
    region = next(t for t in tables if any("Region" == c for c in t))
    assert not any(_small_count(c) for c in region)
    assert checked > 50


def test_workbook_matches_the_html_figures(batch):
    result, codes = batch
    code = codes[0]
    sheet = load_workbook(result.out_dir / "trusts" / f"{code}-lfd.xlsx")["Learning from Deaths"]
    rows = [[c.value for c in r] for r in sheet.iter_rows(min_row=5) if r[0].value]
    total = rows[-1]
    assert total[0] == f"{PERIOD} total"  # plain spaces in a workbook, typed in a filter
    tables = _table_cells(result.out_dir / "trusts" / f"{code}.html")
    lfd = next(t for t in tables if "Deaths in scope" in t)
    i = lfd.index(f"{PERIOD}\u00a0total")
    shown = lfd[i + 1: i + 3]
    assert [str(v) if isinstance(v, str) else f"{v:,}" for v in total[1:3]] == shown


def test_back_test_same_inputs_same_report(batch, store, tmp_path):
    """A trust report regenerated alone, in a fresh kernel, equals the batch's copy (all but the
    generation time)."""
    from sjrlib.report.runner import run_reports

    result, codes = batch
    again = run_reports("trust", [codes[1]], db=store.url, out=tmp_path, period=PERIOD,
                        workers=1, warm=False, progress=False, user=store.programme)
    assert again.failed == []

    def stable(path: Path) -> str:
        text = path.read_text(encoding="utf-8")
        # the generation time, and the moment the data were read (the data's as-at moment)
        text = re.sub(r"Data as at [^<]*", "", text)
        return re.sub(r'<td class="sjr-generated">[^<]*</td>', "", text)

    first = stable(result.out_dir / "trusts" / f"{codes[1]}.html")
    second = stable(again.out_dir / "trusts" / f"{codes[1]}.html")
    assert first == second
    a = load_workbook(result.out_dir / "trusts" / f"{codes[1]}-lfd.xlsx")["Learning from Deaths"]
    b = load_workbook(again.out_dir / "trusts" / f"{codes[1]}-lfd.xlsx")["Learning from Deaths"]

    def cells(sheet) -> list[list[object]]:  # the workbook states the as-at moment too
        return [[re.sub(r"Data as at [^.]*UTC\. ", "", c.value) if isinstance(c.value, str)
                 else c.value for c in r] for r in sheet.iter_rows()]

    assert any("Data as at" in str(c.value) for r in a.iter_rows() for c in r)
    assert cells(a) == cells(b)


def test_a_failing_report_does_not_stop_the_batch(batch, tmp_path):
    from sjrlib.report.runner import ReportJob, run_jobs

    result, codes = batch
    good = ReportJob("good", ROOT / "notebooks" / "trust_report.ipynb",
                     {"organisation_code": codes[0], "period": PERIOD,
                      "data_file": str(tmp_path / "missing.pkl")},
                     tmp_path / "bad.html", title="x")
    empty = tmp_path / "empty.ipynb"
    empty.write_text(
        '{"cells": [{"cell_type": "code", "execution_count": null, "id": "a", "metadata": '
        '{"tags": ["parameters"]}, "outputs": [], "source": ["x = 1"]}, {"cell_type": "code", '
        '"execution_count": null, "id": "b", "metadata": {}, "outputs": [], "source": ["x"]}], '
        '"metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", '
        '"language": "python"}}, "nbformat": 4, "nbformat_minor": 5}'
    )
    ok = ReportJob("ok", empty, {"x": 2}, tmp_path / "ok.html", title="ok")
    results = run_jobs([good, ok], workers=1, progress=False)
    assert [r.ok for r in results] == [False, True]
    assert "FileNotFoundError" in results[0].error
    assert not (tmp_path / "bad.html").exists()
    assert "Traceback" not in (tmp_path / "ok.html").read_text()


def test_cli_refuses_bad_parameters_before_running(store, tmp_path, monkeypatch):
    from sjrlib.cli import app

    url = store.url
    monkeypatch.setenv("SJR_USER", store.programme)
    runner = CliRunner()
    unknown = runner.invoke(app, ["report", "trust", "ZZ9", "--db", url, "--out",
                                  str(tmp_path / "r"), "--period", PERIOD])
    assert unknown.exit_code == 2
    assert "unknown organisation 'ZZ9'" in unknown.output
    typo = tmp_path / "typo.yaml"
    typo.write_text("report: trust\ndisclosure_treshold: 5\n")
    bad = runner.invoke(app, ["report", "all", "--db", url, "--out", str(tmp_path / "r"),
                              "--params", str(typo)])
    assert bad.exit_code == 2
    assert "unknown parameter 'disclosure_treshold'" in bad.output
    assert "did you mean 'disclosure_threshold'" in bad.output
    wrong = runner.invoke(app, ["report", "national", "--db", url, "--period", "2022"])
    assert wrong.exit_code == 2 and "financial year" in wrong.output
    assert not (tmp_path / "r").exists()


def test_the_batch_reads_as_the_person_who_ran_it(batch, store):
    from data_access import audit
    from data_access import store as store_module
    from data_access.identity import get_user

    engine = store_module.get_engine(store.url)
    try:
        with engine.connect() as conn:
            reads = audit.entries(conn, username=store.programme)
            verified = audit.verify(conn)
            nobody = get_user(conn, "sjr-reports")
    finally:
        engine.dispose()
    assert nobody is None, "no system user is created"
    assert {"session.open", "reviews", "deaths"} <= set(reads["action"])
    assert set(reads.loc[reads["action"] == "session.open", "tool"]) == {"report"}
    assert verified.ok


class _Active(HTMLParser):
    """Every element, attribute and link of a page that could run or load something."""

    RUNS = {"script", "iframe", "object", "embed", "img", "form", "base", "link", "svg"}

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key.startswith("on"):
                self.found.append(f"{tag} {key}")
            if key in ("href", "src", "action", "formaction") and value is not None:
                bare = re.sub(r"[\x00-\x20]", "", value).lower()
                if bare.startswith(("javascript:", "vbscript:", "data:text")) or \
                        (tag == "img" and not bare.startswith("data:image/png;base64,")):
                    self.found.append(f"{tag} {key}={value}")
        if tag in self.RUNS - {"img"}:
            self.found.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_html_in_an_organisation_name_is_shown_as_text(batch, store):
    result, codes = batch
    assert store.names[codes[0]] == HOSTILE_NAME
    for page in (result.out_dir / "trusts" / f"{codes[0]}.html", result.out_dir / "index.html"):
        parser = _Active()
        parser.feed(page.read_text(encoding="utf-8"))
        assert parser.found == [], page.name
        # the name is there, as the characters it is made of (title, heading, introduction)
        assert HOSTILE_NAME in " ".join(parser.text).replace("\n", " "), page.name
    page = (result.out_dir / "trusts" / f"{codes[0]}.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(2)&gt;" \
        in page
    assert not re.search(r"<a [^>]*javascript", page, re.I)
    book = load_workbook(result.out_dir / "trusts" / f"{codes[0]}-lfd.xlsx")
    title = book["Learning from Deaths"]["A1"]
    assert title.value == f"Learning from Deaths: {HOSTILE_NAME} ({codes[0]})"
    assert title.data_type == "s"
