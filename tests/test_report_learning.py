"""The learning sections of the reports (sjrlib/report/learning.py) on a demo store.

One demo store (``sjr demo-data``: synthetic reviews, theme codes, actions) and one batch of
reports (``sjr report all``) serve the module: every trust report and the national report are
read for their learning sections, for judgement text (none may appear), and by the disclosure
checker (which must read the theme tables and find nothing). The batch writes every
organisation's ``organisation``-audience report too (``--organisation-reports``): every page and
workbook of it is searched for the judgement text stored in the demo store.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from data_access import store
from sjrlib.cli import app
from sjrlib.synthetic.phrases import FINDINGS, OVERALL_REASONS
from sjrlib.themes.codebook import shipped_codebook

PERIOD = "2022-23"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("learning")
    url = f"sqlite:///{folder / 'sjr.db'}"
    made = CliRunner().invoke(app, ["demo-data", "--db", url, "--organisations", "4",
                                    "--years", "2", "--seed", "13"], env={"SJR_USER": None})
    assert made.exit_code == 0, made.output
    return folder, url


@pytest.fixture(scope="module")
def reports(demo):
    folder, url = demo
    out = folder / "reports"
    ran = CliRunner().invoke(app, ["report", "all", "--db", url, "--out", str(out), "--period",
                                   PERIOD, "--quiet", "--jobs", "1", "--organisation-reports"],
                             env={"SJR_USER": "demo-programme", "JUPYTERHUB_USER": None})
    assert ran.exit_code == 0, ran.output
    return out / PERIOD


def _statements() -> list[str]:
    """Every judgement finding and overall reason the generator writes (lower case)."""
    found = [p for by_score in FINDINGS.values() for phrases in by_score.values()
             for p in phrases]
    found += [p for phrases in OVERALL_REASONS.values() for p in phrases]
    return sorted({p.lower() for p in found if len(p) > 20})


def _text(path) -> str:
    import html

    return html.unescape(re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8"))).lower()


def test_every_trust_report_shows_themes_actions_and_the_pack_and_no_judgement_text(reports):
    pages = sorted((reports / "trusts").glob("*.html"))
    assert len(pages) >= 4
    statements = _statements()
    for page in pages:
        body = _text(page)
        for heading in ("themes coded in reviews this period", "themes among reviews finding "
                        "poor or very poor overall care", "good practice noted by reviewers",
                        "actions agreed in response to learning",
                        "quality account pack: learning from deaths",
                        "27.6 impact of the actions", "the review as a whole"):
            assert heading in body, (page.name, heading)
        quoted = [s for s in statements if s in body]
        assert not quoted, (page.name, quoted[:3])


def test_the_national_report_pools_themes_names_no_organisation_and_quotes_nothing(reports,
                                                                                   demo):
    body = _text(reports / "national.html")
    for heading in ("themes coded in reviews: england and scotland",
                    "themes coded in reviews: england", "agreement between coders, by theme",
                    "gwet's ac1", "cohen's kappa"):
        assert heading in body, heading
    assert not [s for s in _statements() if s in body]
    engine = store.get_engine(demo[1])
    try:
        with engine.connect() as conn:
            names = [r[0].lower() for r in conn.execute(text("SELECT name FROM organisations"))]
            descriptions = [r[0].lower() for r in conn.execute(text(
                "SELECT description FROM actions"))]
    finally:
        engine.dispose()
    section = body[body.index("themes: what was learnt nationally"):]
    assert not [n for n in names if n in section]
    assert not [d for d in descriptions if d in section]  # trusts' actions stay theirs


def _stored_judgements(url: str) -> list[str]:
    """Every sentence of 25 characters or more of the free text stored in the demo store
    (lower case): the explicit judgements as reviewers wrote them, whatever their source."""
    from sjrlib.form.registry import registry

    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            reviews = store.load_reviews(conn)
    finally:
        engine.dispose()
    columns = [c for c in registry().free_text_columns() if c in reviews.columns]
    assert "comment_overall" in columns
    texts = pd.concat([reviews[c] for c in columns]).dropna().astype(str)
    sentences = {p.strip().lower() for t in texts for p in re.split(r"(?<=[.;!?])\s+", t)}
    return sorted(p for p in sentences if len(p) >= 25)


def _workbook_text(path) -> str:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        return "\n".join(str(v) for sheet in book.worksheets for row in sheet.iter_rows(
            values_only=True) for v in row if v is not None).lower()
    finally:
        book.close()


def test_no_report_of_any_audience_quotes_a_stored_judgement(reports, demo):
    """Every trust report (collaborative and organisation audience), its workbook, the
    national report and the index: no sentence of the stored judgement text appears."""
    stored = _stored_judgements(demo[1])
    assert len(stored) > 50
    pages = sorted(reports.rglob("*.html"))
    workbooks = sorted(reports.rglob("*.xlsx"))
    assert len(list((reports / "trusts").glob("*.html"))) >= 4
    assert len(list((reports / "organisation").glob("*.html"))) >= 4
    assert len(workbooks) >= 4 and (reports / "national.html") in pages
    for path in pages + workbooks:
        body = _text(path) if path.suffix == ".html" else _workbook_text(path)
        quoted = [s for s in stored if s in body]
        assert not quoted, (path.relative_to(reports), quoted[:3])


def test_impact_charts_are_rebased_at_the_change_and_read_in_words(reports, demo):
    """A measured action's impact: its chart (rebased at the change month) and a sentence
    giving the centre lines before and after and the variation icon of the latest point."""
    engine = store.get_engine(demo[1])
    try:
        with engine.connect() as conn:
            measured = conn.execute(text(
                "SELECT organisation_code, description, change_month FROM actions WHERE "
                "measure IS NOT NULL AND status <> 'dropped'")).all()
    finally:
        engine.dispose()
    assert measured
    months = ("January February March April May June July August September October "
              "November December").split()
    seen = 0
    # the organisation's own report draws the exact chart; a published one (trusts/) only
    # what disclosure control publishes, and says so where that is too little to draw it
    for folder in ("organisation", "trusts"):
        for code, description, change in measured:
            page = reports / folder / f"{code}.html"
            raw = page.read_text(encoding="utf-8")
            when = f"{months[int(change[5:]) - 1]} {change[:4]}"
            if f"Impact of &#x27;{description}" not in raw and \
                    f"Impact of '{description}" not in raw:
                continue  # no data in the report's window for this measure
            seen += folder == "organisation"
            body = _text(page)
            assert f"rebased at {when}".lower() in body or when.lower() in body
            sentence = re.search(re.escape(f"'{description.lower()}'") + r"[^.]*?centre line "
                                 r"of \d+% before " + re.escape(when.lower()) + r" and \d+% from "
                                 r"then; latest point: [a-z ]+", body)
            withheld = folder == "trusts" and re.search(
                re.escape(f"'{description.lower()}'") + r"[^.]*?too few months or quarters "
                r"have counts that disclosure control lets the chart show", body)
            assert sentence or withheld, (folder, code, description)
    assert seen >= 2


def test_published_reports_pass_the_disclosure_check_which_reads_the_theme_tables(reports):
    from sjrlib import disclosure_check

    # what is published: not organisation/ (exact counts, for the organisation's own board)
    public = [reports / "index.html", reports / "trusts", reports / "national.html"]
    findings, files, _notes = disclosure_check.check_reports(public)
    assert files >= 5
    assert [f for f in findings if not f.narrowed] == []  # none pinned (narrowed: below)


def test_published_reports_narrow_no_hidden_count(reports):
    """On this store (seed 13, 2022-23) the national problems and avoidability tables, set
    against every trust's own (the problem row total less its harm answers; a trust's year
    of avoidability 2 and its quarters), narrowed 22 trust `*` to 1-4 or 1-6 until the
    national tables were protected with every organisation's printed cells beside them
    (``pooled``, :func:`sjrlib.disclosure.suppression_mask`)."""
    from sjrlib import disclosure_check

    public = [reports / "index.html", reports / "trusts", reports / "national.html"]
    findings, _, _ = disclosure_check.check_reports(public)
    assert findings == [], "\n".join(map(str, findings))
    ran = CliRunner().invoke(app, ["disclosure", "check", *map(str, public)])
    assert ran.exit_code == 0, ran.output


def test_the_checker_reads_a_theme_table_and_finds_a_leak_in_it(tmp_path):
    from sjrlib import disclosure_check
    from sjrlib.disclosure import DisclosureRule
    from sjrlib.report import tables

    rule = DisclosureRule(threshold=7, rounding=1)  # an exact percentage of an exact base
    leaky = pd.DataFrame({"Coded reviews": {"Sepsis recognition and treatment": 40},
                          "Reviews coded with the theme": {"Sepsis recognition and "
                                                           "treatment": rule.symbol},
                          "% of coded reviews": {"Sepsis recognition and treatment": 7.5}},
                         dtype=object)
    table = tables.ReportTable(leaky, caption="Themes coded in reviews this period",
                               note=tables._note(rule, ""),
                               formats={"% of coded reviews": "percent"})
    (tmp_path / "page.html").write_text(f"<html><body>{table._repr_html_()}</body></html>",
                                        encoding="utf-8")
    findings, files, _ = disclosure_check.check_reports([tmp_path])
    assert files == 1 and [f.value for f in findings] == [3]  # 7.5% of 40 is 3


def test_theme_counts_are_the_first_coders_codes_in_the_store(demo):
    from sjrlib.report.trust import trust_report

    _folder, url = demo
    engine = store.get_engine(url)
    try:
        with engine.connect() as conn:
            org = conn.execute(text("SELECT organisation_code FROM users WHERE username = "
                                    "'demo-lead'")).scalar_one()
            codes = pd.read_sql(text(
                "SELECT t.review_id, t.theme, t.coded_by, t.coded_at FROM theme_codes t JOIN "
                "reviews r USING (review_id) WHERE r.organisation_code = :o AND "
                "r.review_stage = 'first' AND r.status <> 'draft' AND r.death_month BETWEEN "
                "'2022-04' AND '2023-03'"), conn, params={"o": org})
    finally:
        engine.dispose()
    report = trust_report(dict(organisation_code=org, db=url, user="demo-lead",
                               period=PERIOD, audience="organisation",
                               disclosure_threshold=None, disclosure_rounding=None))
    table = report.learning.themes_table().frame
    codes = codes.sort_values("coded_at", kind="stable")
    first = codes.groupby("review_id")["coded_by"].transform("first")
    mine = codes[codes["coded_by"] == first].drop_duplicates(["review_id", "theme"])
    assert int(table["Coded reviews"].iloc[0]) == codes["review_id"].nunique()
    labels = {t.id: t.label for t in __import__("sjrlib.themes.codebook", fromlist=["x"])
              .shipped_codebook().themes}
    for theme, n in mine["theme"].value_counts().items():
        assert int(table.loc[labels[theme], "Reviews coded with the theme"]) == n, theme
    pack = report.learning.quality_account().frame
    assert list(pack.index)[:3] == ["27.1 Deaths in scope", "27.2 Case record reviews",
                                    "27.3 Deaths judged more likely than not due to problems "
                                    "in care"]
    impact = report.learning.impact_charts()
    assert len(impact) == 4  # two measured actions: a chart and its sentence each
    assert "centre line" in impact[1].text


def test_the_pooled_themes_table_does_not_narrow_an_organisations_hidden_count():
    """Fifteen organisations each print one review coded with a rare theme as `*` (1-7) in
    their own themes table; a pooled 15 (13-17 once rounded) would tell each of them it is 1-3.
    The national table withholds that count (and its percentage) and says why; the common
    theme and the coded reviews stay shown."""
    from sjrlib.disclosure import DisclosureRule
    from sjrlib.report import learning, tables

    rule = DisclosureRule()
    coded, phased = [], []
    for org in range(15):
        for i in range(30):
            review = f"R{org:02d}-{i:02d}"
            coded.append({"review_id": review, "organisation_code": f"XQ{org:02d}"})
            if i == 0:
                phased.append({"review_id": review, "theme": "rare"})
            if i < 20:
                phased.append({"review_id": review, "theme": "common"})
    coded, phased = pd.DataFrame(coded), pd.DataFrame(phased)
    themes = ["rare", "common"]
    withheld = learning._differencing_withheld(coded, phased, themes, rule)
    assert withheld.to_dict("index") == {"rare": {"n": False, "count": True},
                                         "common": {"n": False, "count": False}}
    counts = learning._theme_counts(coded, phased, themes)
    table = learning._protected_table(
        counts, {}, rule, caption="Themes", base="Coded reviews",
        what="Reviews coded with the theme", note="Pooled.", withheld=withheld)
    shown = table.frame
    assert shown.loc["rare", "Reviews coded with the theme"] == "*"
    assert shown.loc["rare", "% of coded reviews"] == "*"
    assert shown.loc["common", "Reviews coded with the theme"] == 300
    assert shown.loc["rare", "Coded reviews"] == 450
    assert tables.DIFFERENCING_NOTE in table.note
    # the theme in three organisations only: the pooled 3 is a * of its own (primary
    # suppression), not one withheld for differencing
    phased = phased[(phased["theme"] != "rare") | phased["review_id"].str[1:3].isin(
        ["00", "01", "02"])]
    assert not learning._differencing_withheld(coded, phased, themes, rule).to_numpy().any()


def test_the_national_theme_chart_hides_a_month_that_would_narrow_an_organisations_own():
    """The same fifteen organisations, all their coded reviews of June 2024: each one's own
    chart of the rare theme hides June's 1 (of 30); the national chart's June, 15 of 450
    (15 of 450 once rounded), would say each is 1-3. It is not plotted, and a second month
    beside it is not either (the year's total is known). The common theme's June stays."""
    from sjrlib.disclosure import DisclosureRule
    from sjrlib.report import learning

    rule = DisclosureRule()
    months = [f"2024-{m:02d}" for m in range(4, 13)] + [f"2025-{m:02d}" for m in range(1, 4)]
    coded, phased = [], []
    for org in range(15):
        for month in months:
            for i in range(30):
                review = f"R{org:02d}-{month}-{i:02d}"
                coded.append({"review_id": review, "organisation_code": f"XQ{org:02d}",
                              "death_month": month})
                if i == 0 and month == "2024-06":
                    phased.append({"review_id": review, "theme": "rare"})
                if i < 20:
                    phased.append({"review_id": review, "theme": "common"})
                if i < 10 and month != "2024-06":
                    phased.append({"review_id": review, "theme": "rare"})
    coded, phased = pd.DataFrame(coded), pd.DataFrame(phased)
    period = ("2024-04", "2025-03")
    pooled = learning._Monthly(coded, phased, months, rule, period, pooled=True)
    frame = pooled.chart("rare", "decrease")
    published = frame.attrs["published"]
    assert bool(published.at["2024-06", "hidden"])
    assert int(published["hidden"].sum()) >= 2
    assert not published.loc[published["hidden"], "numerator"].notna().any()
    assert not pooled.chart("common", "decrease").attrs["published"]["hidden"].any()
    # without the organisations' own charts beside it, June's 15 of 450 would be plotted
    plain = learning._Monthly(coded, phased, months, rule, period)
    assert not plain.chart("rare", "decrease").attrs["published"]["hidden"].any()


def test_the_pooled_themes_table_reads_each_organisations_chart_of_its_top_themes():
    """XA codes 30 reviews a month, 8 of them with sepsis in June and 8 in September: its table
    prints 15 (13-17), its chart of the theme (one of its top themes) 10 (8-12) in each of the
    two months and 0 in the others, so its count is at least 16. XB codes 4 with sepsis (``*``;
    no chart). The national 20 (18-22) is safe against the two tables cell by cell (XB's
    1-9), but less XA's 16 or more it leaves XB's ``*`` 1-6: it is withheld."""
    from types import SimpleNamespace

    from sjrlib.disclosure import DisclosureRule
    from sjrlib.report import learning

    rule = DisclosureRule()
    months = [f"2024-{m:02d}" for m in range(4, 13)] + [f"2025-{m:02d}" for m in range(1, 4)]
    reviews, codes = [], []
    for code, hits in (("XA", {"2024-06": 8, "2024-09": 8}), ("XB", {"2024-06": 4})):
        for month in months:
            for i in range(30):
                review = f"{code}-{month}-{i:02d}"
                reviews.append({"review_id": review, "organisation_code": code,
                                "review_stage": "first", "death_month": month})
                theme = "sepsis" if i < hits.get(month, 0) else "communication"
                codes.append({"review_id": review, "organisation_code": code, "theme": theme,
                              "phase": None, "coded_by": "coder", "coded_at": "2025-05-01",
                              "from_suggestion": False})
    reviews = pd.DataFrame(reviews)
    report = SimpleNamespace(
        rule=rule, reviews=reviews, window_reviews=reviews, nation_of={"XA": "england",
                                                                      "XB": "england"},
        data=SimpleNamespace(theme_codes=pd.DataFrame(codes), trend_start="2024-04",
                             codebook=shipped_codebook()),
        period=SimpleNamespace(start_month="2024-04", end_month="2025-03"))
    national = learning.NationalLearning(report)
    printed = national._printed_by_org
    assert printed["XA"].at["sepsis", "count"] == 15
    assert printed["XA"].attrs["parts"][("sepsis", "count")].count(10) == 2
    assert printed["XB"].at["sepsis", "count"] == rule.symbol
    assert not learning._differencing_withheld(national.coded, national.phased, national.themes,
                                               rule).at["sepsis", "count"]
    table = national.themes_table()
    label = national.labels["sepsis"]
    assert table.frame.at[label, "Reviews coded with the theme"] == rule.symbol
    assert table.frame.at[label, "Coded reviews"] == 720
    assert "set against every organisation's own report" in table.note
