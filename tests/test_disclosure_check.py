"""The attacker (sjrlib.disclosure_check, `sjr disclosure check`) and the control it tests.

Leaky pages are written here by hand, with the true counts known, so the attacker must recover
exactly those; the reports of a small synthetic store (public audience) must give it nothing.
"""

from __future__ import annotations

import html
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from sjrlib.cli import app
from sjrlib.disclosure import (
    DisclosureRule,
    count_range,
    published_rate,
    suppression_mask,
)
from sjrlib.disclosure_check import check_reports

sys.path.insert(0, str(Path(__file__).parent))
import report_store  # noqa: E402

RULE_NOTE = ("Disclosure control: counts from 1 to 7 are shown as * (with a second cell withheld "
             "where a total would reveal one); other counts are rounded to the nearest 5.")
SJR = Path(sys.executable).with_name("sjr")


def _page(path: Path, caption: str, columns: list[str], rows: list[tuple[str, list[str]]],
          *, note: str = RULE_NOTE, totals: tuple[str, ...] = ()) -> Path:
    """A report page with one table, written the way sjrlib.report.tables writes them."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    total = ' class="total"'
    body = "".join(
        f'<tr{total if label in totals else ""}><th scope="row">{html.escape(label)}</th>'
        + "".join(f"<td>{html.escape(v)}</td>" for v in cells) + "</tr>"
        for label, cells in rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'<html><body><table class="sjr-table"><caption>{html.escape(caption)}</caption>'
        f"<thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>"
        f'<p class="sjr-note">{html.escape(note)}</p></body></html>', encoding="utf-8")
    return path


LD = "Deaths of patients with a learning disability"
LD_COLUMNS = [LD, "Reviewed (SJR)", "% reviewed", "More likely than not due to problems in care"]


def test_a_percentage_of_exact_counts_beside_rounded_ones_gives_them_back(tmp_path):
    # the example: 14 deaths, 13 reviewed, printed 15, 15, 92.9%
    _page(tmp_path / "XAA.html", LD, LD_COLUMNS, [("2024-25 total", ["15", "15", "92.9%", "0"])],
          totals=("2024-25 total",))
    findings, n, _ = check_reports([tmp_path])
    assert n == 1
    assert sorted((f.shown, f.value) for f in findings) == [("15", 13), ("15", 14)]
    result = CliRunner().invoke(app, ["disclosure", "check", str(tmp_path)])
    assert result.exit_code == 1
    assert "must be 13" in result.output and "must be 14" in result.output


def test_a_percentage_from_the_printed_counts_gives_nothing_back(tmp_path):
    note = RULE_NOTE + " Percentages and intervals are computed from the rounded counts shown."
    _page(tmp_path / "XAA.html", LD, LD_COLUMNS, [("2024-25 total", ["15", "15", "100.0%", "0"])],
          note=note, totals=("2024-25 total",))
    findings, _, notes = check_reports([tmp_path])
    assert findings == [] and notes == []
    result = CliRunner().invoke(app, ["disclosure", "check", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "no suppressed or rounded count could be recovered" in result.output


def test_a_page_that_claims_printed_counts_but_lies_is_read_at_its_word(tmp_path):
    note = RULE_NOTE + " Percentages and intervals are computed from the rounded counts shown."
    _page(tmp_path / "XAA.html", LD, LD_COLUMNS, [("2024-25 total", ["15", "15", "92.9%", "0"])],
          note=note, totals=("2024-25 total",))
    findings, _, _ = check_reports([tmp_path])
    assert sorted(f.value for f in findings) == [13, 14]


AVOID = "Reviewed deaths by avoidability of death (RCP scale, 1 = definitely avoidable)"
AVOID_COLUMNS = [f"{s} score {s}" for s in range(1, 7)] + ["Not scored", "Deaths reviewed"]


def test_rounded_quarters_against_the_rounded_year(tmp_path):
    # four quarters of 13 reviewed deaths (printed 15) and a year of 52 (printed 50): the only
    # counts that fit are 13 each and 52
    rows = [(f"Q{q}", ["0"] * 6 + ["15", "15"]) for q in range(1, 5)]
    rows.append(("2024-25 total", ["0"] * 6 + ["50", "50"]))
    _page(tmp_path / "XAA.html", AVOID, AVOID_COLUMNS, rows, totals=("2024-25 total",))
    findings, _, _ = check_reports([tmp_path])
    values = {(f.where.split(" | ")[2], f.where.split(" | ")[3]): f.value for f in findings}
    assert values[("Q1", "Deaths reviewed")] == 13
    assert values[("2024-25 total", "Not scored")] == 52
    assert len(findings) == 10


def test_suppressed_cells_against_their_rounded_total(tmp_path):
    # 73 not scored (printed 75) and four scores of 1 (*) add up to 77 reviewed (printed 75)
    rows = [("Q1", ["0", "0", "*", "*", "*", "*", "75", "75"])]
    _page(tmp_path / "XAA.html", AVOID, AVOID_COLUMNS, rows)
    findings, _, _ = check_reports([tmp_path])
    assert sorted(f.value for f in findings) == [1, 1, 1, 1, 73, 77]


def test_a_workbook_storing_four_decimals_gives_both_counts_back(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.title = "Learning from Deaths"
    ws["A2"] = "2024-25. " + RULE_NOTE
    ws.append([])
    ws.append(["Quarter", "Deaths in scope", "Deaths reviewed (SJR)", "% of deaths reviewed"])
    ws.append(["Q1", 305, 35, round(36 / 306, 4)])  # printed 11.8%, stored 0.1176
    wb.save(tmp_path / "XAA-lfd.xlsx")
    findings, n, _ = check_reports([tmp_path])
    assert n == 1
    assert sorted(f.value for f in findings) == [36, 306]


def test_the_national_total_against_every_organisations_cells(tmp_path):
    # three trusts print * for deaths judged definitely avoidable; the national report says 3
    for code in ("XAA", "XBB", "XCC"):
        _page(tmp_path / "trusts" / f"{code}.html", AVOID, AVOID_COLUMNS,
              [("2024-25 total", ["*", "0", "0", "0", "0", "10", "*", "25"])],
              totals=("2024-25 total",))
    (tmp_path / "index.html").write_text("".join(
        f'<a href="trusts/{c}.html">{c}</a>' for c in ("XAA", "XBB", "XCC")))
    _page(tmp_path / "national.html", "Avoidability of death (RCP scale)",
          ["Reviewed deaths", "% of deaths with a score"],
          [("1 Definitely avoidable", ["3", "–"]),
           ("Deaths with an avoidability score", ["–", "–"])],
          note="Counts are shown unrounded.")
    findings, _, _ = check_reports([tmp_path])
    ones = [f for f in findings if "1 score 1" in f.where]
    assert len(ones) == 3 and {f.value for f in ones} == {1}


COMPLETE = "Completeness: reviews still to come, by quarter of death"


def test_completeness_quarters_and_the_national_nation_columns(tmp_path):
    # three boards print * for deaths waiting for a second-stage review in Q1 (and so for the
    # year); the national report's Scotland column says 3: each is 1, quarter and year
    cols = ["Deaths with only a draft review", "Waiting for a second-stage review", "Figures"]
    codes = ("S08000001", "S08000002", "S08000003")
    for code in codes:
        _page(tmp_path / "trusts" / f"{code}.html", COMPLETE, cols,
              [("Q1", ["0", "*", "Final"]), ("Q2", ["0", "0", "Provisional"]),
               ("2024-25 total", ["0", "*", ""])], totals=("2024-25 total",))
    (tmp_path / "index.html").write_text("".join(
        f'<a href="trusts/{c}.html">{c}</a>' for c in codes))
    _page(tmp_path / "national.html", COMPLETE,
          ["Scotland: deaths with only a draft review",
           "Scotland: waiting for a second-stage review", "Figures"],
          [("Q1", ["0", "3", "Final"]), ("Q2", ["0", "0", "Final"])],
          note="Counts are shown unrounded.")
    findings, _, _ = check_reports([tmp_path])
    assert len(findings) == 6 and {f.value for f in findings} == {1}
    assert sum("quarters add up to the year" in str(f) for f in findings) == 3
    assert sum("in the national report = sum of the organisations'" in str(f)
               for f in findings) == 3


# ------------------------------------------------------------------ the control itself
def test_secondary_suppression_holds_against_rounding():
    rule = DisclosureRule()
    table = pd.DataFrame({"n": [13, 13, 13, 13, 52]}, index=["Q1", "Q2", "Q3", "Q4", "year"],
                         dtype=object)
    mask = suppression_mask(table, rule, total_row="year")
    assert mask["n"].sum() >= 1  # nothing is small, yet rounding alone pinned every cell
    from sjrlib.disclosure_check import Problem

    problem = Problem()
    for label, hidden in mask["n"].items():
        lo, hi = (1, None) if hidden else count_range(rule.round(table.at[label, "n"]), rule)
        problem.declare(label, lo, hi, controlled=True)
    problem.add_sum(["Q1", "Q2", "Q3", "Q4"], "year", "quarters")
    assert problem.solve() == []


def test_a_percentage_is_printed_only_as_precisely_as_the_rounding_allows():
    rule = DisclosureRule()
    # 10 of 30: 33.3% and 33% both fit no other pair within the rounding: not printed
    assert published_rate(10, 30, rule) == (None, None)
    # 40 of 120: 33.3% pins 40 of 120, 33% does not
    assert published_rate(40, 120, rule)[0] == "33%"
    # 150 of 1,200: one decimal leaves several pairs
    value, interval = published_rate(150, 1200, rule, alpha=0.05)
    assert value == pytest.approx(12.5) and interval is not None
    # 60 of 150: one decimal would pin the pair, for the percentage and for its interval;
    # whole numbers do not
    assert published_rate(60, 150, rule, alpha=0.05) == ("40%", "33–48%")
    assert published_rate("*", 1200, rule) == ("*", None)
    # an organisation's own report: the exact figures
    assert published_rate(13, 14, DisclosureRule.off(), exact=100 * 13 / 14) == (
        pytest.approx(92.857, abs=1e-3), None)


# -------------------------------------------------------- reports of a synthetic store
@pytest.fixture(scope="module")
def public_reports(tmp_path_factory):
    store = report_store.build(tmp_path_factory.mktemp("store"))
    out = tmp_path_factory.mktemp("reports")
    english = [c for c in store.codes if not c.startswith("S")]
    groups = out / "collaboratives.yaml"
    groups.write_text(
        "collaboratives:\n"
        f"  - {{id: shared, name: A collaborative, members: [{', '.join(reversed(english))}],"
        " agreed_from: '2022-04'}\n"
        f"  - {{id: late, name: A later one, members: [{store.codes[0]}, {store.codes[-1]}],"
        " agreed_from: '2023-01'}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTERHUB_USER",
                                                            "SJR_DATABASE_URL")}
    env["SJR_USER"] = store.programme
    done = subprocess.run(
        [str(SJR), "report", "all", "--db", store.url, "--out", str(out), "--period",
         report_store.PERIOD, "--jobs", "2", "--quiet", "--organisation-reports",
         "--collaboratives", str(groups)],
        env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return out / report_store.PERIOD, store


@pytest.mark.slow
def test_public_reports_of_a_synthetic_store_give_nothing_back(public_reports):
    folder, store = public_reports
    pages = sorted(p.name for p in (folder / "trusts").iterdir())
    assert len(pages) == 2 * len(store.codes)  # a page and a workbook per organisation
    public = [folder / "national.html", folder / "index.html", folder / "trusts",
              folder / "collaborative"]
    findings, n, notes = check_reports(public)
    assert n == 1 + 2 * len(store.codes) + 2
    assert findings == [], "\n".join(map(str, findings))
    assert notes == []
    result = CliRunner().invoke(app, ["disclosure", "check", *map(str, public)])
    assert result.exit_code == 0, result.output


@pytest.mark.slow
def test_a_trust_pages_poor_care_at_first_stage_is_its_overall_scores_as_printed(
        public_reports):
    """The second-stage table's deaths with poor or very poor overall care at first stage are
    the care table's overall scores 1 and 2: printed as their sum as shown (or * with either
    withheld), never as the exact sum rounded on its own, which beside them narrowed a *."""
    from sjrlib.disclosure_pages import read_page

    folder, store = public_reports
    seen = 0
    for code in store.codes:
        tables, _ = read_page(folder / "trusts" / f"{code}.html")
        care = next(t for t in tables if t.caption.startswith("Care scores by phase"))
        second = next(t for t in tables if t.caption.startswith("Second-stage review"))
        cells = [care.cell("Overall assessment of care", c) for c in CARE_COLUMNS[:2]]
        shown = second.cell(FIRST_POOR, "Number")
        expected = "*" if "*" in cells else f"{sum(int(c.replace(',', '')) for c in cells):,}"
        assert shown == expected, (code, cells, shown)
        seen += "*" not in cells
    assert seen  # at least one organisation prints both


@pytest.mark.slow
def test_organisation_reports_are_apart_and_exact(public_reports):
    folder, store = public_reports
    for code in store.codes:
        page = (folder / "organisation" / f"{code}.html").read_text(encoding="utf-8")
        assert "For internal governance" in page
        assert (folder / "organisation" / f"{code}-lfd.xlsx").exists()
    # exact counts are not controlled: the attacker has nothing hidden to recover there
    findings, _, _ = check_reports([folder / "organisation"])
    assert findings == []


@pytest.mark.slow
def test_a_collaborative_report_pools_its_members_without_ranking(public_reports):
    from sjrlib.disclosure_pages import read_page

    folder, store = public_reports
    english = sorted(c for c in store.codes if not c.startswith("S"))
    tables_, _ = read_page(folder / "collaborative" / "shared.html")
    lfd = next(t for t in tables_ if "each member" in t.caption)
    assert [r for r, _ in lfd.rows] == [*english, "All members"]  # by code, not by figures
    assert "not ranking" in lfd.note
    # each member's row is its own public report's year total
    for code in english:
        own, _ = read_page(folder / "trusts" / f"{code}.html")
        quarterly = next(t for t in own if t.caption.startswith("Learning from Deaths: deaths"))
        total = next(r for r, _ in quarterly.rows if r.endswith("total"))
        for column in ("Deaths in scope", "Deaths reviewed (SJR)"):
            mine = lfd.cell(code, column)
            assert mine == quarterly.cell(total, column) or mine == "*"
    late, _ = read_page(folder / "collaborative" / "late.html")
    assert not any("each member" in t.caption for t in late)
    assert any("agreed to share figures from 2023-01" in " ".join(c for _, cs in t.rows
                                                                  for c in cs) for t in late)


@pytest.mark.parametrize("text, message", [
    ("collaboratives:\n  - {id: a, name: A, members: [XAA, XBB], agreed_from: 2023-13}\n",
     "'agreed_from'"),
    ("collaboratives:\n  - {id: a, name: A, members: [XAA], agreed_from: '2023-04'}\n",
     "two or more"),
    ("collaboratives:\n  - {id: a, name: A, members: [XAA, XZZ], agreed_from: '2023-04'}\n",
     "XZZ"),
    ("collaboratives:\n  - {id: A b, name: A, members: [XAA, XBB], agreed_from: '2023-04'}\n",
     "'id'"),
    ("collaboratives:\n  - {id: a, name: A, members: [XAA, XBB]}\n", "'agreed_from' is missing"),
    ("groups: []\n", "expected 'collaboratives:'"),
])
def test_a_bad_collaboratives_file_is_explained(tmp_path, text, message):
    from sjrlib.report.collaborative import load_collaboratives
    from sjrlib.report.params import ParameterError

    path = tmp_path / "collaboratives.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ParameterError, match=message) as error:
        load_collaboratives(path, known=["XAA", "XBB"])
    assert str(path) in str(error.value)


# ----------------------------------------------------- a * narrowed inside 1 to the threshold ----
AVOIDABILITY = "Reviewed deaths by avoidability of death (RCP scale, 1 = definitely avoidable)"
AVOIDABILITY_COLUMNS = ["1 Definitely avoidable", "2 Strong evidence of avoidability",
                        "3 Probably avoidable", "4 Possibly avoidable",
                        "5 Slight evidence of avoidability", "6 Definitely not avoidable",
                        "Not scored", "Deaths reviewed"]


def test_a_hidden_count_narrowed_by_a_rounded_total_is_found(tmp_path):
    """The checker prototype's workbook finding, as a page: a quarter of 40 reviewed deaths
    (38-42) with scores 5 and 6 printed as 20 each (18-22) leaves its two ``*`` at most 5 each.
    Neither is pinned, so the attack used to say nothing; it now reports both as narrowed."""
    _page(tmp_path / "XAA.html", AVOIDABILITY, AVOIDABILITY_COLUMNS,
          [("Q1 Apr–Jun 2024", ["*", "*", "0", "0", "20", "20", "0", "40"])])
    findings, _, _ = check_reports([tmp_path])
    assert sorted((f.shown, f.value, f.high) for f in findings) == [("*", 1, 5), ("*", 1, 5)]
    assert all("narrowed to 1-5" in str(f) for f in findings)
    result = CliRunner().invoke(app, ["disclosure", "check", str(tmp_path)])
    assert result.exit_code == 1 and "narrowed to 1-5" in result.output


def test_rounded_counts_narrowed_within_their_rounding_and_wide_stars_are_accepted(tmp_path):
    """Not findings: rounded counts narrowed inside their rounding (40 = 20 + 20 leaves each 20
    at 18-22 and the 40 at 38-42, or less), and a ``*`` whose range still reaches above the
    threshold (40 less 30 leaves the two ``*`` 1-13 each: either may be a secondary
    suppression of a larger count)."""
    _page(tmp_path / "XAA.html", AVOIDABILITY, AVOIDABILITY_COLUMNS,
          [("Q1 Apr–Jun 2024", ["0", "0", "0", "0", "20", "20", "0", "40"]),
           ("Q2 Jul–Sep 2024", ["*", "*", "0", "0", "0", "30", "0", "40"])])
    findings, _, notes = check_reports([tmp_path])
    assert findings == [] and notes == []


def _fifteen_stars(folder: Path) -> list[str]:
    """Fifteen trusts' pages printing ``*`` for deaths judged definitely avoidable, the
    national page's 15, and the index listing the trusts; returns their codes."""
    codes = [f"XA{i:02d}" for i in range(15)]
    for code in codes:
        _page(folder / "trusts" / f"{code}.html", AVOIDABILITY, AVOIDABILITY_COLUMNS,
              [("2024-25 total", ["*", "0", "0", "0", "0", "*", "30", "40"])],
              totals=("2024-25 total",))
    _page(folder / "national.html", "Avoidability of death (RCP scale; final second-stage "
          "score where there is one)", ["Reviewed deaths"],
          [("1 Definitely avoidable", ["15"]), ("6 Definitely not avoidable", ["135"]),
           ("Deaths with an avoidability score", ["150"])],
          totals=("Deaths with an avoidability score",))
    (folder / "index.html").write_text("".join(f'<a href="trusts/{c}.html"></a>'
                                               for c in codes), encoding="utf-8")
    return codes


def test_a_national_count_that_narrows_every_organisations_star_is_found(tmp_path):
    """The insider audit's attack across reports: fifteen trusts print ``*`` for deaths judged
    definitely avoidable (the index lists all of them), the national report 15 (13-17): each
    ``*`` is 1-3."""
    codes = _fifteen_stars(tmp_path)
    findings, n, _ = check_reports([tmp_path])
    assert n == 16
    narrowed = [f for f in findings if f.narrowed]
    assert {f.key[0] for f in narrowed} == set(codes)
    assert {(f.value, f.high) for f in narrowed if f.key[1] == "av1"} == {(1, 3)}


POOR_CHART = "Chart data: Reviews finding poor or very poor overall care"
CHART_COLUMNS = ["First-stage reviews", "Reviews with poor or very poor overall care",
                 "% of first-stage reviews"]


def _two_trusts(tmp_path: Path, a_rows, b_rows, a_unit: str = "month") -> None:
    _page(tmp_path / "trusts" / "XAA.html", f"{POOR_CHART}, by {a_unit} of death",
          CHART_COLUMNS, a_rows)
    _page(tmp_path / "trusts" / "XBB.html", f"{POOR_CHART}, by month of death",
          CHART_COLUMNS, b_rows)
    (tmp_path / "index.html").write_text('<a href="trusts/XAA.html"></a>'
                                         '<a href="trusts/XBB.html"></a>', encoding="utf-8")


def test_a_national_chart_month_against_the_organisations_months(tmp_path):
    """Trust A's June is not plotted (``*``), trust B's is 10 of 30; the national chart's June,
    10 of 60 (rounded: 8-12), less B's 10 (8-12), leaves A's count 0-4: narrowed. (No
    percentages: printed, they would be read at their word.)"""
    _two_trusts(tmp_path, [("2024-06", ["*", "*", "*"])],
                [("2024-06", ["30", "10", "–"])])
    _page(tmp_path / "national.html", f"{POOR_CHART}, national, by month of death",
          CHART_COLUMNS, [("2024-06", ["60", "10", "–"])])
    findings, n, _ = check_reports([tmp_path])
    assert n == 3
    found = [f for f in findings if f.key[0] == "XAA" and f.key[1].endswith("_k")]
    assert [(f.narrowed, f.value, f.high) for f in found] == [(True, 0, 4)]
    # a national chart whose June is not plotted gives nothing back
    _page(tmp_path / "national.html", f"{POOR_CHART}, national, by month of death",
          CHART_COLUMNS, [("2024-06", ["*", "*", "*"])])
    findings, _, _ = check_reports([tmp_path])
    assert not [f for f in findings if f.key[0] == "XAA"]


def test_a_national_chart_by_month_against_an_organisations_quarter(tmp_path):
    """Trust A charts by quarter (Q1 not plotted), trust B by month (none poor); the national
    chart's months, unrounded, add up to A's quarter: 3."""
    _two_trusts(tmp_path, [("2024/25 Q1", ["*", "*", "*"])],
                [(m, ["30", "0", "–"]) for m in ("2024-04", "2024-05", "2024-06")],
                a_unit="quarter")
    _page(tmp_path / "national.html", f"{POOR_CHART}, national, by month of death",
          CHART_COLUMNS, [("2024-04", ["40", "3", "–"]), ("2024-05", ["40", "0", "–"]),
                          ("2024-06", ["40", "0", "–"])], note="Counts are shown unrounded.")
    findings, _, _ = check_reports([tmp_path])
    found = [f for f in findings if f.key[0] == "XAA" and f.key[1].endswith("_k")]
    assert [(f.narrowed, f.value) for f in found] == [(False, 3)]


def test_the_national_lfd_chart_quarter_against_the_organisations_quarters(tmp_path):
    """Trust A's Q1 "more likely than not" is ``*``, trust B's 10 (8-12); the national LfD
    chart's Q1, 10 (8-12), leaves A's 0-4: a * narrowed inside 1-7. Without that count on the
    chart (``*``), nothing."""
    columns = ["Deaths in scope", "Deaths reviewed (SJR)", "% of deaths reviewed",
               "More likely than not due to problems in care"]
    caption = "Learning from Deaths: deaths in scope and deaths reviewed, by quarter"
    quarter = "Q1 Apr–Jun 2024"
    _page(tmp_path / "trusts" / "XAA.html", caption, columns,
          [(quarter, ["100", "30", "–", "*"])])
    _page(tmp_path / "trusts" / "XBB.html", caption, columns,
          [(quarter, ["100", "30", "–", "10"])])
    (tmp_path / "index.html").write_text('<a href="trusts/XAA.html"></a>'
                                         '<a href="trusts/XBB.html"></a>', encoding="utf-8")
    chart = "Chart data: Learning from Deaths, national, by quarter of death"
    for mltn, found in (("10", [(True, 1, 4)]), ("*", [])):
        _page(tmp_path / "national.html", chart, columns[:2] + columns[3:],
              [(quarter, ["200", "60", mltn])])
        findings, _, _ = check_reports([tmp_path])
        assert [(f.narrowed, f.value, f.high) for f in findings
                if f.key[0] == "XAA" and f.key[1] == "mltn"] == found


def test_pages_beside_the_reports_do_not_hide_the_attack_across_them(tmp_path):
    """A period's folder as ``sjr report all`` writes it also holds the trainer directory and
    the collaboratives' pages: they are not organisations. Counted as ones (without the
    national tables' cells), they made every relation across reports unknown, and the fifteen
    narrowed ``*`` of the test above went unseen."""
    codes = _fifteen_stars(tmp_path)
    _page(tmp_path / "trainers.html", "Tier one trainers", ["Organisation"],
          [("A trainer", ["XA00"])], note="")
    _page(tmp_path / "collaborative" / "shared.html", "Learning from Deaths: A collaborative, "
          "each member and all together", ["Deaths in scope"], [("XA00", ["40"])])
    findings, n, _ = check_reports([tmp_path])
    assert n == 18
    narrowed = [f for f in findings if f.narrowed and f.key[1] == "av1"]
    assert {f.key[0] for f in narrowed} == set(codes)


def test_the_national_lfd_chart_quarters_against_the_nation_table(tmp_path):
    """The nation table withholds England and Scotland's "more likely than not" (``*``); the
    chart's four quarters of the period, printed unrounded, add it back up: 3 (and its rounded
    deaths and reviews too)."""
    chart = _page(tmp_path / "chart.html", "Chart data: Learning from Deaths, national, by "
                  "quarter of death", ["Deaths in scope", "Deaths reviewed (SJR)",
                                       "More likely than not due to problems in care"],
                  [(q, ["100", "30", m]) for q, m in (
                      ("Q1 Apr–Jun 2024", "3"), ("Q2 Jul–Sep 2024", "0"),
                      ("Q3 Oct–Dec 2024", "0"), ("Q4 Jan–Mar 2025", "0"))],
                  note="Counts are shown unrounded.")
    nations = _page(tmp_path / "nations.html", "Learning from Deaths figures by nation",
                    ["Deaths in scope", "Deaths reviewed (SJR)",
                     "More likely than not due to problems in care"],
                    [("England and Scotland", ["400", "120", "*"])])
    _one_page(tmp_path / "national.html",
              "Pooled figures, deaths from April 2024 to March 2025.", nations, chart)
    findings, _, _ = check_reports([tmp_path])
    assert {f.key[1]: f.value for f in findings if f.key[0] == "nation"} == {
        "mltn": 3, "deaths": 400, "reviewed": 120}


def _one_page(path: Path, intro: str, *pages: Path) -> None:
    """The tables of ``pages`` (each written by :func:`_page`) as one page after ``intro``."""
    bodies = [p.read_text(encoding="utf-8").split("<body>")[1].split("</body>")[0]
              for p in pages]
    for p in pages:
        p.unlink()
    path.write_text(f"<html><body><p>{intro}</p>{''.join(bodies)}</body></html>",
                    encoding="utf-8")


def test_the_national_theme_chart_against_the_national_themes_table(tmp_path):
    """The national themes table withholds a theme's count (``*``: a secondary suppression may
    hide any count); the national chart of it, under a rule that does not round, has the
    period's months 8, 0, ...: they add up to the table's count, 8."""
    months = [f"2024-{m:02d}" for m in range(4, 13)] + [f"2025-{m:02d}" for m in range(1, 4)]
    table = _page(tmp_path / "t.html", "Themes coded in reviews: England and Scotland",
                  ["Coded reviews", "Reviews coded with the theme", "% of coded reviews"],
                  [("A rare theme", ["1200", "*", "*"])])
    chart = _page(tmp_path / "c.html", "Chart data: Coded reviews with the theme 'A rare "
                  "theme', England and Scotland, by month of death",
                  ["Coded reviews", "Reviews coded with the theme", "% of coded reviews"],
                  [(m, ["100", "8" if m == "2024-04" else "0", "–"]) for m in months],
                  note="Disclosure control: counts from 1 to 7 are shown as *.")
    _one_page(tmp_path / "national.html",
              "Pooled figures, deaths from April 2024 to March 2025.", table, chart)
    findings, _, _ = check_reports([tmp_path])
    assert [(f.value, f.shown) for f in findings
            if f.key[1].endswith("_poor") and f.key[2] == "A rare theme"] == [(8, "*")]


CARE_COLUMNS = ["1 Very poor care", "2 Poor care", "3 Adequate care", "4 Good care",
                "5 Excellent care", "Reviews scoring this phase"]


def test_a_regions_poor_care_against_its_trusts_care_tables(tmp_path):
    """The index lists trusts under their region's heading, so a reader knows each region's
    trusts. Two London trusts print overall care 10, 0, 10, 0, 0 (15) and 0, *, 0, *, * (10);
    the national London row, 25 reviews (23-27) and 15 poor (13-17): the first's scores 1 and
    3 are at least 8 each, its reviews 16-17, so the second's are at most 11; its score 2 is at
    least 15 - 2 - 9 = 4, which leaves its scores 4 and 5 1-6 each. Without the regions in the
    index the two pages are not tied to London's row."""
    overall = "Overall assessment of care"
    for code, cells in (("XAA", ["10", "0", "10", "0", "0", "15"]),
                        ("XBB", ["0", "*", "0", "*", "*", "10"])):
        _page(tmp_path / "trusts" / f"{code}.html", "Care scores by phase of care", CARE_COLUMNS,
              [(overall, cells)])
    _page(tmp_path / "national.html",
          "Poor or very poor overall care by NHS England region, and Scotland",
          ["Reviews", "Poor or very poor overall care", "% poor or very poor"],
          [("London", ["25", "15", "–"])])
    links = '<ul><li><a href="trusts/XAA.html">A</a></li><li><a href="trusts/XBB.html">B</a>'
    for index, found in ((f"<h2>England</h2><h3>London</h3>{links}</li></ul>", {(1, 6)}),
                         (f"<h2>England</h2>{links}</li></ul>", set())):
        (tmp_path / "index.html").write_text(index, encoding="utf-8")
        findings, n, _ = check_reports([tmp_path])
        assert n == 3
        narrowed = {(f.value, f.high) for f in findings
                    if f.narrowed and f.key[0] == "XBB" and f.key[1] in ("care4", "care5")}
        assert narrowed == found


def test_a_collaboratives_pooled_row_against_its_members_quarters(tmp_path):
    """Two members print deaths judged more likely than not by quarter: XAA ``*`` each (and
    its year), XBB 0, 10, ``*``, ``*`` (15). A collaborative page pooling them at 20 (18-22),
    as it did before 2026-12-05, leaves XAA's year at most 9 and so each quarter 1-6; a page
    withholding the pooled count gives nothing back."""
    columns = ["Deaths in scope", "Deaths reviewed (SJR)", "% of deaths reviewed",
               "More likely than not due to problems in care"]
    caption = "Learning from Deaths: deaths in scope and deaths reviewed, by quarter"
    quarters = ["Q1 Apr–Jun 2024", "Q2 Jul–Sep 2024", "Q3 Oct–Dec 2024", "Q4 Jan–Mar 2025"]
    total = "2024-25 total"
    for code, mltn, year in (("XAA", ["*"] * 4, "*"), ("XBB", ["0", "10", "*", "*"], "15")):
        _page(tmp_path / "trusts" / f"{code}.html", caption, columns,
              [*((q, ["90", "20", "–", m]) for q, m in zip(quarters, mltn, strict=True)),
               (total, ["360", "80", "–", year])], totals=(total,))
    (tmp_path / "index.html").write_text('<a href="trusts/XAA.html"></a>'
                                         '<a href="trusts/XBB.html"></a>', encoding="utf-8")
    for pooled, found in (("20", {(1, 6)}), ("*", set())):
        _page(tmp_path / "collaborative" / "c1.html", "Learning from Deaths: A collaborative, "
              "each member and all together", ["Deaths in scope", "Deaths reviewed (SJR)",
                                               "% of deaths reviewed", columns[3]],
              [("XAA", ["360", "80", "–", "*"]), ("XBB", ["360", "80", "–", "15"]),
               ("All members", ["720", "160", "–", pooled])], totals=("All members",))
        findings, _, _ = check_reports([tmp_path])
        narrowed = {(f.value, f.high) for f in findings
                    if f.narrowed and f.key[0] == "XAA" and f.key[1] == "mltn"}
        assert narrowed == found


def test_the_national_themes_table_against_the_organisations_themes_tables(tmp_path):
    """Fifteen trusts print ``*`` reviews coded with a theme (of 30 coded), a sixteenth says
    none of its reviews is coded yet; the national table's 15 (13-17) for the theme says each
    ``*`` is 1-3. The national table withholding it gives nothing back."""
    from sjrlib.disclosure_check import NONE_CODED, THEMES_TABLE

    columns = ["Coded reviews", "Reviews coded with the theme", "% of coded reviews"]
    codes = [f"XA{i:02d}" for i in range(15)]
    for code in codes:
        _page(tmp_path / "trusts" / f"{code}.html",
              f"{THEMES_TABLE} (reviews coded by a person)", columns,
              [("Communication", ["30", "*", "–"])])
    _page(tmp_path / "trusts" / "XB00.html", "Care scores by phase of care", CARE_COLUMNS,
          [("Overall assessment of care", ["0", "0", "0", "0", "0", "0"])],
          note=f"{NONE_CODED} {RULE_NOTE}")
    (tmp_path / "index.html").write_text("".join(
        f'<a href="trusts/{c}.html"></a>' for c in [*codes, "XB00"]), encoding="utf-8")
    for count, found in (("15", {(1, 3)}), ("*", set())):
        _page(tmp_path / "national.html", "Themes coded in reviews: England and Scotland",
              columns, [("Communication", ["450", count, "–"])])
        findings, _, _ = check_reports([tmp_path])
        narrowed = {(f.value, f.high) for f in findings if f.narrowed and f.key[0] in codes}
        assert narrowed == found


def test_the_national_headline_against_the_organisations_care_tables(tmp_path):
    """Sixteen trusts print one very poor overall care as ``*`` (and a second ``*`` beside it)
    of 20 reviews; the national headline's "England: 4.7% of 320 first-stage reviews found
    poor or very poor overall care" says England's poor care is 15 (13-17): each trust's
    ``*`` 1-2. A headline saying the count is withheld gives nothing back."""
    codes = [f"XA{i:02d}" for i in range(16)]
    for code in codes:
        _page(tmp_path / "trusts" / f"{code}.html", "Care scores by phase of care",
              CARE_COLUMNS, [("Overall assessment of care", ["*", "0", "*", "0", "0", "20"])])
    (tmp_path / "index.html").write_text("".join(
        f'<a href="trusts/{c}.html"></a>' for c in codes), encoding="utf-8")
    for sentence, found in (
            ("England: 4.7% of 320 first-stage reviews found poor or very poor overall care "
             "(95% CI 2.7-7.9%).", {(1, 2)}),
            ("England: 320 first-stage reviews; how many found poor or very poor overall care "
             "is withheld by disclosure control.", set())):
        _page(tmp_path / "national.html", "Reviews by month", ["Reviews"], [("2024-06", ["320"])],
              note=f"{sentence} {RULE_NOTE}")
        findings, _, _ = check_reports([tmp_path])
        narrowed = {(f.value, f.high) for f in findings if f.narrowed and f.key[0] in codes
                    and f.key[1] == "care1"}
        assert narrowed == found


def _tables_page(path: Path, tables: list[tuple[str, list[str], list[tuple[str, list[str]]],
                                                 tuple[str, ...]]]) -> Path:
    """A report page holding several tables (caption, columns, rows, total rows), each with
    the rule's note under it, as a trust report prints them."""
    parts = []
    for caption, columns, rows, totals, *note in tables:
        one = _page(path, caption, columns, rows, totals=totals,
                    note=note[0] if note else RULE_NOTE).read_text(encoding="utf-8")
        parts.append(one.removeprefix("<html><body>").removesuffix("</body></html>"))
    path.write_text("<html><body>" + "".join(parts) + "</body></html>", encoding="utf-8")
    return path


SECOND_STAGE = "Second-stage review: deaths referred, and overall care as judged at second stage"
FIRST_POOR = "Deaths with poor or very poor overall care at first stage"


def test_the_second_stage_tables_poor_care_against_the_care_tables_overall_scores(tmp_path):
    """A trust page prints overall care *, 10, 20, 15, 5 (45)... and, in its second-stage
    table, 10 deaths with poor or very poor overall care at first stage: the same deaths as
    the overall scores 1 and 2 (8-12 of them), so the * of score 1 is at most 12 - 8 = 4.
    Printed as the sum of the two cells as shown (*), nothing is narrowed."""
    from sjrlib.disclosure_check import FIRST_POOR_SHOWN

    overall = "Overall assessment of care"
    derived = f"{RULE_NOTE} {FIRST_POOR_SHOWN} (* when either is withheld)."
    for first_poor, note, found in (("10", RULE_NOTE, {(1, 4)}), ("*", RULE_NOTE, set()),
                                    ("10", derived, set())):
        _tables_page(tmp_path / "trusts" / "XAA.html", [
            ("Care scores by phase of care", CARE_COLUMNS,
             [(overall, ["*", "10", "20", "15", "*", "45"])], ()),
            (SECOND_STAGE, ["Number"],
             [(FIRST_POOR, [first_poor]),
              ("… of which not yet reviewed at second stage", ["*"]),
              ("Overall care at second stage: 2 Poor care", ["*"]),
              ("All second-stage reviews", ["*"])], ("All second-stage reviews",), note),
        ])
        findings, n, _ = check_reports([tmp_path])
        assert n == 1
        narrowed = {(f.value, f.high) for f in findings
                    if f.narrowed and f.key == ("XAA", "care1", overall)}
        assert narrowed == found


def test_an_ext2026_tables_poor_care_is_among_the_care_tables_overall(tmp_path):
    """The reviews an ext2026 question was asked of are among those scoring overall care, and
    so is their poor care. A reader cannot be sure every review was asked, so it is an
    inequality: beside overall *, 10, 20, 15, * (50), a question's 20 poor of 45 asked
    (18-22 of 43-47) make the overall scores 1 + 2 at least 18, so score 1 is at least
    18 - 12 = 6, and the overall reviews at least 48 still; the same page with 10 poor of
    those asked leaves score 1 at 1 or more."""
    from sjrlib import disclosure_check

    overall = "Overall assessment of care"
    ext = "Deaths by family concern, and poor or very poor overall care (ext2026 questions)"
    for asked_poor, lowest in (("20", 6), ("10", 1)):
        _tables_page(tmp_path / "trusts" / "XAA.html", [
            ("Care scores by phase of care", CARE_COLUMNS,
             [(overall, ["*", "10", "20", "15", "*", "50"])], ()),
            (ext, ["Reviews", "Poor or very poor overall care", "% poor or very poor"],
             [("Yes", ["25", asked_poor, "–"]), ("No", ["20", "0", "–"]),
              ("All reviews asked", ["45", asked_poor, "–"])], ("All reviews asked",)),
        ])
        pages, _, _ = disclosure_check._pages([tmp_path])
        reader = disclosure_check._Reader()
        for page in pages:
            reader.read(page)
        reader.problem.solve()
        assert reader.problem.vars[("XAA", "care1", overall)].lo == lowest


THEME_ALL, THEME_POOR, THEME_GOOD = (
    "Themes coded in reviews this period (reviews coded by a person)",
    "Themes among reviews finding poor or very poor overall care",
    "Themes among reviews finding good or excellent overall care")


def test_themes_among_poor_and_good_care_against_the_themes_of_all_coded_reviews(tmp_path):
    """A theme in 10 coded reviews (8-12), 10 of them with poor care (8-12) and * with good
    care: the good-care reviews are others of the 10, so the * is at most 12 - 8 = 4. With the
    poor-care count withheld too, nothing is narrowed."""
    sepsis = "Sepsis recognition and treatment"
    for poor, found in (("10", {(1, 4)}), ("*", set())):
        _tables_page(tmp_path / "trusts" / "XAA.html", [
            (caption, [base, "Reviews coded with the theme", f"% of {base.lower()}"],
             [(sepsis, [n, k, "–"])], ())
            for caption, base, n, k in (
                (THEME_ALL, "Coded reviews", "60", "10"),
                (THEME_POOR, "Coded reviews (poor or very poor care)", "20", poor),
                (THEME_GOOD, "Coded reviews (good or excellent care)", "25", "*"))])
        findings, n, _ = check_reports([tmp_path])
        assert n == 1
        narrowed = {(f.value, f.high) for f in findings if f.narrowed and f.key[0] == "XAA"}
        assert narrowed == found


def _feasible(printed: list[object], rule: DisclosureRule, cap: int = 40) -> list[set[int]]:
    """Brute force, independent of the code under test: every value each printed cell can
    take (``*`` up to ``cap``) with the whole (first) at least the sum of the parts."""
    import itertools

    def values(shown):
        if shown == rule.symbol:
            return range(1, cap + 1)
        r = int(shown)
        if r == 0:
            return [0]
        return [v for v in range(max(r - 3, 0), r + 3)
                if not rule.is_small(v) and rule.round(v) == r]

    seen = [set() for _ in printed]
    for combo in itertools.product(*(values(c) for c in printed)):
        if combo[0] >= sum(combo[1:]):
            for s, v in zip(seen, combo, strict=True):
                s.add(v)
    return seen


def test_withholding_parts_among_a_whole_leaves_nothing_narrowed():
    """Random wholes and two parts of them (the rest not printed), printed under the rule,
    with tables.withhold_among applied: by brute force, every * can still be any of 1 to 7
    and every rounded count still has two values or more. Without the withholding, some
    cases do narrow (so the search can find what it looks for)."""
    import random

    from sjrlib.disclosure import protect_count
    from sjrlib.report import tables

    rule = DisclosureRule()
    rng = random.Random(20261206)
    narrowed_before = 0
    for _ in range(400):
        a, b = rng.choice([0, 1, 2, 3, 5, 7, 8, 9, 10, 12, 14]), rng.randint(0, 14)
        whole = a + b + rng.choice([0, 0, 1, 2, 3, 6])
        exact = [a, b]
        shown = [protect_count(v, rule) for v in exact]
        hide = tables.withhold_among(protect_count(whole, rule), shown, exact, rule)
        after = [rule.symbol if h else s for s, h in zip(shown, hide, strict=True)]

        def leaks(parts, whole=whole):
            printed = [protect_count(whole, rule), *parts]
            # a * whole is at least its parts' least: no control of it can hide that
            least = sum(0 if c == 0 else 1 if c == rule.symbol else int(c) - 2 for c in parts)
            floor = [max(1, least), *([1] * len(parts))]
            for shown_cell, possible, low in zip(printed, _feasible(printed, rule), floor,
                                                 strict=True):
                if shown_cell == rule.symbol and not set(range(low, 8)) <= possible:
                    return True
                if shown_cell not in (rule.symbol, 0) and len(possible) < 2:
                    return True
            return False

        narrowed_before += leaks(shown)
        assert not leaks(after), (whole, exact, shown, after)
    assert narrowed_before > 10


def test_more_likely_than_not_is_its_avoidability_scores_1_to_3_against_the_national_chart(
        tmp_path):
    """Four trusts each print Q1's more likely than not as * beside avoidability scores 2 and
    3 of * each: each trust's is at least 2. The national chart's Q1, 10 (8-12), safe against
    four counts of 1-7, leaves each at most 12 - 3 * 2 = 6: 2-6, and with that each score
    1-5. Read without the relation, nothing is narrowed; with the chart's Q1 withheld,
    nothing either."""
    columns = ["Deaths in scope", "Deaths reviewed (SJR)", "% of deaths reviewed",
               "More likely than not due to problems in care"]
    caption = "Learning from Deaths: deaths in scope and deaths reviewed, by quarter"
    quarter = "Q1 Apr–Jun 2024"
    codes = ("XAA", "XBB", "XCC", "XDD")
    for code in codes:
        _tables_page(tmp_path / "trusts" / f"{code}.html", [
            (caption, columns, [(quarter, ["100", "30", "–", "*"])], ()),
            (AVOID, AVOID_COLUMNS, [(quarter, ["0", "*", "*", "0", "10", "15", "*", "30"])],
             ())])
    (tmp_path / "index.html").write_text(
        "".join(f'<a href="trusts/{c}.html"></a>' for c in codes), encoding="utf-8")
    chart = "Chart data: Learning from Deaths, national, by quarter of death"
    for mltn, found in (("10", {(2, 6)}), ("*", set())):
        _page(tmp_path / "national.html", chart, columns[:2] + columns[3:],
              [(quarter, ["400", "120", mltn])])
        findings, _, _ = check_reports([tmp_path])
        assert {(f.value, f.high) for f in findings
                if f.narrowed and f.key[0] == "XAA" and f.key[1] == "mltn"} == found


def test_a_pages_relations_taken_together_narrow_what_each_alone_does_not(tmp_path,
                                                                         monkeypatch):
    """XE6's page of the test store (2022-23) before its protection took the relations
    together: the year's scores 2, 3, 5 and 6 are *, not scored 525 and reviewed 540, so the
    four add up to 11-19; more likely than not, 10 (8-12), is scores 2 and 3; so scores 5
    and 6 add up to at most 11, and their six * quarters are each 1-6. One relation at a
    time gives each at most 8: found only by the linear programme over the page."""
    from sjrlib import disclosure_check

    lfd = "Learning from Deaths: deaths, case record reviews and avoidability by quarter"
    lfd_columns = ["Deaths in scope", "Deaths reviewed (SJR)", "% of deaths reviewed",
                   "More likely than not due to problems in care"]
    quarters = ["Q1 Apr–Jun 2022", "Q2 Jul–Sep 2022", "Q3 Oct–Dec 2022", "Q4 Jan–Mar 2023"]
    year = "2022-23 total"
    avoid = [["0", "0", "*", "0", "0", "*", "*", "125"],
             ["0", "0", "*", "0", "*", "*", "130", "135"],
             ["0", "*", "*", "0", "*", "0", "155", "160"],
             ["0", "*", "*", "0", "*", "*", "*", "125"],
             ["0", "*", "*", "0", "*", "*", "525", "540"]]
    _tables_page(tmp_path / "trusts" / "XE6.html", [
        (lfd, lfd_columns, [(q, [d, r, "–", "*"]) for q, d, r in zip(
            quarters, ["465", "475", "530", "540"], ["125", "135", "160", "125"],
            strict=True)] + [(year, ["2,005", "540", "–", "10"])], (year,)),
        (AVOID, AVOID_COLUMNS, list(zip([*quarters, year], avoid, strict=True)), (year,))])
    findings, _, _ = check_reports([tmp_path])
    narrowed = {(f.key[1], f.key[2], f.high) for f in findings if f.narrowed}
    assert narrowed == {("av6", quarters[0], 6), ("av5", quarters[1], 6),
                        ("av6", quarters[1], 6), ("av5", quarters[2], 6),
                        ("av5", quarters[3], 6), ("av6", quarters[3], 6)}
    monkeypatch.setattr(disclosure_check.Problem, "combine", lambda self, owner=None: False)
    assert check_reports([tmp_path])[0] == []


def test_a_percentage_of_scores_1_and_2_as_printed_is_not_read_as_one_rounded_count(tmp_path):
    """XI9 in the demo's reports: overall scores 1 and 2 printed 10 and 30 (their sum 36-44)
    with "% poor or very poor care" of their printed sum, 40. Read back as one rounded count
    (38-42) it was too narrow, and beside a question's 45 asked with poor care (43-47) the
    page was "inconsistent" and the relation dropped. Read as the printed cells, the
    question's rows 40, 0 and two * leave each * at 1-5: found."""
    overall = "Overall assessment of care"
    ext = ("Deaths of autistic patients beside patients with a learning disability: reviews "
           "and poor or very poor overall care (ext2026 questions)")
    shown = f"{RULE_NOTE} Percentages and intervals are computed from the rounded counts shown."
    _tables_page(tmp_path / "trusts" / "XI9.html", [
        ("Care scores by phase of care",
         [*CARE_COLUMNS, "% poor or very poor care", "95% confidence interval"],
         [(overall, ["10", "30", "40", "20", "0", "100", "40.0%", "30.9–49.8%"])], (), shown),
        (ext, ["Reviews", "Poor or very poor overall care", "% poor or very poor"],
         [("Learning disability, not autistic", ["*", "*", "–"]),
          ("Autistic, no learning disability", ["0", "0", "–"]),
          ("Learning disability and autistic", ["*", "*", "–"]),
          ("Neither (or not known)", ["85", "40", "–"]),
          ("All reviews asked", ["95", "45", "–"])], ("All reviews asked",), shown)])
    findings, _, notes = check_reports([tmp_path])
    assert notes == []
    assert {(f.key[2].split(" | ")[1], f.high) for f in findings
            if f.narrowed and "Poor or very poor" in f.key[2]} == {
        ("Learning disability, not autistic", 5), ("Learning disability and autistic", 5)}


def test_reviewed_deaths_are_among_the_deaths_of_their_quarter(tmp_path):
    """The disclosure audit's XE1 (2026-12-06): learning disability deaths 10, *, *, * (year
    20) beside reviewed 10, *, 0, * (year 20). A quarter's reviewed deaths are among its
    deaths, so Q3's deaths are at most the year's deaths less its reviewed (22 - 18): its *
    is 1-4. Not where the row says it has more reviewed than deaths (a feed error, flagged
    instead of a percentage): then the relation does not hold, and the page tells nothing."""
    from sjrlib.report.tables import EXCEEDS

    def page(folder, flag_q2):
        rows = [("Q1", ["10", "10", "*", "0"]),
                ("Q2", ["*", "*", EXCEEDS if flag_q2 else "*", "0"]),
                ("Q3", ["*", "0", "*", "0"]), ("Q4", ["*", "*", "*", "0"]),
                ("2024-25 total", ["20", "20", "*", "0"])]
        _page(folder / "XAA.html", LD, LD_COLUMNS, rows, totals=("2024-25 total",))
        return check_reports([folder])[0]

    findings = page(tmp_path / "plain", flag_q2=False)
    assert [(f.where.split(" | ")[2], f.shown, f.value, f.high) for f in findings] == [
        ("Q3", "*", 1, 4)]
    assert "taken together" in findings[0].how
    assert page(tmp_path / "flagged", flag_q2=True) == []


def test_organisation_reports_beside_the_public_ones_are_named_and_can_be_left_out(tmp_path):
    """The walk-through audit (2026-12-06): with a lead's organisation-audience report in the
    period's organisation/ folder, `sjr disclosure check` said only that the folder "counts as
    published", printed notes on "XA2.html" without saying which of the two, and found
    nothing. It now names the organisations, says their withheld cells are not tested, and
    --no-internal tests what the public pages alone give."""
    quarters = [(f"Q{q}", ["0"] * 6 + ["15", "15"]) for q in range(1, 5)]
    _page(tmp_path / "trusts" / "XAA.html", AVOID, AVOID_COLUMNS,
          [*quarters, ("2024-25 total", ["0"] * 6 + ["50", "50"])], totals=("2024-25 total",))
    exact = [(f"Q{q}", ["0"] * 6 + ["13", "13"]) for q in range(1, 5)]
    _page(tmp_path / "organisation" / "XAA.html", AVOID, AVOID_COLUMNS,
          [*exact, ("2024-25 total", ["0"] * 6 + ["52", "52"])], totals=("2024-25 total",),
          note="For internal governance: exact counts.")
    assert check_reports([tmp_path])[0] == []  # the exact counts are published beside them
    assert len(check_reports([tmp_path], internal=False)[0]) == 10
    runner = CliRunner()
    both = runner.invoke(app, ["disclosure", "check", str(tmp_path)])
    assert both.exit_code == 0
    assert "(XAA)" in both.output and "--no-internal" in both.output
    public = runner.invoke(app, ["disclosure", "check", "--no-internal", str(tmp_path)])
    assert public.exit_code == 1 and "10 suppressed or rounded count(s)" in public.output
    assert "left out (--no-internal)" in public.output
