"""What a rendered report says about where its data are, and what they are (walk-through audit of
2026-12-06).

* A store marked synthetic (``sjr demo-data``) gave reports that looked real: no page, index,
  workbook or PDF said the data were fictional. Every output of such a store now carries the
  synthetic-data banner at its top (a page's first line under its title bar, a workbook's first
  row and first note, every PDF page's header), and no output of a real store does.
* The reproducibility stamp printed the store's address (``db='sqlite:////.../sjr.db'``; on
  PostgreSQL user, host and database): a published page names only the kind of store.
* A Scottish health board's page told it to publish "in the Quality Account" (an English
  statutory report) and had a "Quality Account pack" section; it now has the board's framing,
  with the same figures.
* The contents list numbered subsections as sections (1-12, then 14, then 20).

The reports are rendered for real (``sjr report`` through papermill) from two copies of one
small store, one marked synthetic.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import report_store  # noqa: E402

from sjrlib.report.render import SYNTHETIC_NOTICE  # noqa: E402

SJR = Path(sys.executable).with_name("sjr")
BANNER = 'class="sjr-synthetic"'


def _render(store_url: str, codes: list[str], out: Path, user: str) -> Path:
    env = {**os.environ, "SJR_USER": user}
    env.pop("SJR_DATABASE_URL", None)
    for what in (["trust", *codes], ["national"]):
        done = subprocess.run(
            [str(SJR), "report", *what, "--db", store_url, "--out", str(out),
             "--period", report_store.PERIOD, "--quiet", "--jobs", "2"],
            env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
    return out / report_store.PERIOD


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """``{"real": folder, "synthetic": folder, "store": ReportStore, "paths": [...]}``."""
    from data_access import store as data_store
    from data_access.demo import mark_synthetic

    real_dir = tmp_path_factory.mktemp("real-store")
    store = report_store.build(real_dir)
    synthetic_dir = tmp_path_factory.mktemp("synthetic-store")
    synthetic_db = synthetic_dir / "sjr.db"
    shutil.copyfile(store.db_file, synthetic_db)
    synthetic_url = f"sqlite:///{synthetic_db}"
    engine = data_store.get_engine(synthetic_url)
    try:
        with engine.begin() as conn:
            mark_synthetic(conn)
    finally:
        engine.dispose()
    codes = [store.codes[1], store.codes[-1]]  # an English trust, a Scottish board
    out = tmp_path_factory.mktemp("reports")
    return {
        "real": _render(store.url, codes, out / "real", store.programme),
        "synthetic": _render(synthetic_url, codes, out / "synthetic", store.programme),
        "store": store, "codes": codes,
        # what no published file may name: the stores' folders, files and addresses
        "paths": [str(real_dir), str(synthetic_dir), store.url, synthetic_url,
                  str(store.db_file), str(synthetic_db)],
    }


def _published(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _cells(book: Path) -> list[list[str]]:
    from openpyxl import load_workbook

    wb = load_workbook(book, read_only=True)
    try:
        return [[str(v) for row in ws.iter_rows(values_only=True) for v in row if v is not None]
                for ws in wb.worksheets]
    finally:
        wb.close()


def test_every_page_of_a_synthetic_store_carries_the_banner_at_its_top(rendered):
    folder = rendered["synthetic"]
    pages = sorted(folder.rglob("*.html"))
    names = {p.relative_to(folder).as_posix() for p in pages}
    assert {"index.html", "national.html"} <= names
    assert {f"trusts/{c}.html" for c in rendered["codes"]} <= names
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert text.count(BANNER) == 1, page.name
        # under the title bar, before the contents and the report itself
        assert text.index("</header>") < text.index(BANNER) < text.index('<div class="sjr-page">')
        assert "fictional" in text


def test_no_output_of_a_real_store_says_it_is_synthetic(rendered):
    for path in _published(rendered["real"]):
        if path.suffix == ".html":
            text = path.read_text(encoding="utf-8")
        elif path.suffix == ".xlsx":
            text = " ".join(" ".join(sheet) for sheet in _cells(path))
        else:
            continue
        assert BANNER not in text and SYNTHETIC_NOTICE not in text, path.name
        assert "Synthetic demonstration data" not in text, path.name


def test_the_workbook_of_a_synthetic_store_says_so_first(rendered):
    for code in rendered["codes"]:
        sheets = _cells(rendered["synthetic"] / "trusts" / f"{code}-lfd.xlsx")
        assert sheets[0][0] == SYNTHETIC_NOTICE  # the first line of the figures
        assert sheets[0][1].startswith("Learning from Deaths: ")
        assert sheets[1][:2] == ["Synthetic data", SYNTHETIC_NOTICE]  # the first note
        real = _cells(rendered["real"] / "trusts" / f"{code}-lfd.xlsx")
        assert real[0][0].startswith("Learning from Deaths: ")
        assert real[1][0] != "Synthetic data"


def test_the_synthetic_workbook_is_still_read_by_the_disclosure_checker(rendered):
    from sjrlib.disclosure_pages import read_workbook

    code = rendered["codes"][0]
    real, _ = read_workbook(rendered["real"] / "trusts" / f"{code}-lfd.xlsx")
    synthetic, text = read_workbook(rendered["synthetic"] / "trusts" / f"{code}-lfd.xlsx")
    assert SYNTHETIC_NOTICE in text
    assert [(t.columns, t.rows) for t in synthetic] == [(t.columns, t.rows) for t in real]


@pytest.mark.parametrize("kind", ["real", "synthetic"])
def test_no_published_file_names_where_the_store_is(rendered, kind):
    checked = 0
    for path in _published(rendered[kind]):
        if path.suffix in (".html", ".json"):
            text = path.read_text(encoding="utf-8")
        elif path.suffix == ".xlsx":
            text = "\n".join("\n".join(sheet) for sheet in _cells(path))
        else:
            continue
        checked += 1
        for where in rendered["paths"]:
            assert where not in text, f"{path.name} names {where}"
        assert "sjr.db" not in text, path.name
        assert "db=" not in text, path.name
    assert checked >= 6
    page = (rendered[kind] / "trusts" / f"{rendered['codes'][0]}.html").read_text("utf-8")
    assert "store=&#x27;sqlite&#x27;" in page or "store='sqlite'" in page  # the kind only


def test_a_scottish_board_gets_no_quality_account(rendered):
    english, scottish = rendered["codes"]
    for kind in ("real", "synthetic"):
        scot = (rendered[kind] / "trusts" / f"{scottish}.html").read_text("utf-8")
        # nowhere, the ext2026 family table's note included (it cites English guidance and an
        # audit of English Quality Accounts on an English trust's page only)
        body = scot[scot.index("<main>"):]
        assert "Quality Account" not in body
        assert "trusts publish" not in body
        assert "health board" in body
        assert "Learning from deaths summary for the board" in scot
        # the same figures: the items of the pack, without their English item numbers
        assert "Deaths judged more likely than not due to problems in care" in scot
        eng = (rendered[kind] / "trusts" / f"{english}.html").read_text("utf-8")
        assert "Quality Account pack" in eng and "27.1 Deaths in scope" in eng
        assert "The figures trusts publish quarterly" in eng


def test_the_contents_number_sections_only(rendered):
    page = (rendered["real"] / "national.html").read_text("utf-8")
    nav = re.search(r'<nav class="sjr-toc">.*?</nav>', page, re.S).group(0)
    main = page[page.index("<main>"):]
    sections = re.findall(r'<h2 id="', main)
    subsections = re.findall(r'<h3 id="', main)
    assert subsections  # the national report has some
    top = re.sub(r"<ul>.*?</ul>", "", nav[nav.index("<ol>"):], flags=re.S)
    assert top.count("<li>") == len(sections)  # numbered 1..n, no gaps
    assert 'class="sub"' not in top  # a subsection, in a list of its own, takes no number
    assert nav.count('<li class="sub">') == len(subsections)


def test_the_board_pack_of_a_synthetic_store_says_so_on_every_page(rendered, tmp_path):
    pypdf = pytest.importorskip("pypdf")
    if not (os.environ.get("SJR_CHROMIUM") or shutil.which("chromium")):
        pytest.skip("Debian chromium not installed")
    from sjrlib.report.board_pack import SYNTHETIC_WORDS, print_pdfs

    code = rendered["codes"][0]
    for kind in ("synthetic", "real"):
        pdf = print_pdfs([rendered[kind] / "trusts" / f"{code}.html"],
                         out_dir=tmp_path / kind)[0]
        texts = [" ".join((p.extract_text() or "").split())
                 for p in pypdf.PdfReader(str(pdf)).pages]
        assert len(texts) >= 2
        if kind == "synthetic":
            assert all(SYNTHETIC_WORDS in t for t in texts)
            assert "Synthetic demonstration data." in texts[0]
        else:
            assert not any(SYNTHETIC_WORDS in t or "Synthetic demonstration" in t
                           for t in texts)


def test_a_collaborative_page_carries_the_banner_of_a_synthetic_store(tmp_path):
    """Collaborative pages were the one output written without the store's mark (the helper's
    note of 2026-12-06): ``write_collaborative_report(synthetic=)``, which the batch passes
    from the store, gives the banner; a real store's page has none."""
    import pandas as pd

    from sjrlib import domain
    from sjrlib.disclosure import DisclosureRule
    from sjrlib.report.collaborative import Collaborative, write_collaborative_report
    from sjrlib.report.params import parse_period

    group = Collaborative("g", "A group", ("XAA", "XBB"), "2030-04")  # shares nothing yet
    reviews = pd.DataFrame(columns=list(domain.REVIEW_COLUMNS))
    deaths = pd.DataFrame(columns=list(domain.DEATH_COLUMNS))
    period = parse_period("2024-25")
    for synthetic in (True, False):
        path = write_collaborative_report(group, reviews, deaths, {}, period, DisclosureRule(),
                                          tmp_path / f"{synthetic}.html", synthetic=synthetic)
        page = path.read_text(encoding="utf-8")
        assert (BANNER in page) is synthetic and ("figure here is fictional" in page) is synthetic
