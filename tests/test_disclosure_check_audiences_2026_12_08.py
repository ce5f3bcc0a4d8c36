"""`sjr disclosure check` on a period folder holding one organisation's public page
(``trusts/``, rounded counts) and its organisation-audience page (``organisation/``, exact counts).

The two pages declare the same counts, so the checker keeps one unknown per count. Until
2026-12-08 the unknown also kept the text the first page printed (the organisation page, read
first), and the public page's statements about its own printed counts were read against the
other page's text:

* a themes table's "% of coded reviews", which the public page computes from its printed counts
  (210 coded reviews, 50 with the theme: "24%"), was checked against 211 and 49 (23.2%), found
  not to be of the printed counts, taken for a percentage of exact counts and noted as fitting
  none: 10 "inconsistent" notes on the demo's XA2 (walk-through of 2026-12-07);
* a chart's count the public page prints as 15 was read as the organisation page's 13, a form
  disclosure control never prints, and reported as a leak of the public page.

The expected values are worked by hand from the pages below.
"""

from __future__ import annotations

import html
from pathlib import Path

from typer.testing import CliRunner

from sjrlib.cli import app
from sjrlib.disclosure_check import check_reports

RULE_NOTE = ("Disclosure control: counts from 1 to 7 are shown as * (with a second cell withheld "
             "where a total would reveal one); other counts are rounded to the nearest 5. "
             "Percentages and intervals are computed from the rounded counts shown.")
INTERNAL_NOTE = "For internal governance: apply disclosure control before publishing."
THEMES = "Themes coded in reviews this period (reviews coded by a person)"
THEME_COLUMNS = ["Coded reviews", "Reviews coded with the theme", "% of coded reviews"]
CHART = "Chart data: Recognising and responding to deterioration"
CHART_COLUMNS = ["Coded reviews", "Reviews coded with the theme", "% of coded reviews"]


def _page(path: Path, tables: list[tuple[str, list[str], list[tuple[str, list[str]]], str]]
          ) -> None:
    """A report page, its tables written as sjrlib.report.tables writes them."""
    parts = []
    for caption, columns, rows, note in tables:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        body = "".join(f'<tr><th scope="row">{html.escape(label)}</th>'
                       + "".join(f"<td>{html.escape(v)}</td>" for v in cells) + "</tr>"
                       for label, cells in rows)
        parts.append(f'<table class="sjr-table"><caption>{html.escape(caption)}</caption>'
                     f"<thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>"
                     f'<p class="sjr-note">{html.escape(note)}</p>')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<html><body>{''.join(parts)}</body></html>", encoding="utf-8")


def _themes_pair(folder: Path) -> None:
    # exact: 211 coded, 49 / 27 / 106 with the theme -> rounded 210, 50 / 25 / 105;
    # the public percentages of the printed counts: 50/210 = 23.8 -> "24%" (to whole numbers,
    # as published_rate prints it where one decimal would pin the pair), 25/210 = 11.9 -> "12%",
    # 105/210 = 50.0%
    _page(folder / "trusts" / "XAA.html", [(THEMES, THEME_COLUMNS, [
        ("Recognising and responding to deterioration", ["210", "50", "24%"]),
        ("Recognising dying and end-of-life care", ["210", "25", "12%"]),
        ("Good practice worth sharing", ["210", "105", "50.0%"])], RULE_NOTE)])
    # the exact percentages: 49/211 = 23.2%, 27/211 = 12.8%, 106/211 = 50.2%
    _page(folder / "organisation" / "XAA.html", [(THEMES, THEME_COLUMNS, [
        ("Recognising and responding to deterioration", ["211", "49", "23.2%"]),
        ("Recognising dying and end-of-life care", ["211", "27", "12.8%"]),
        ("Good practice worth sharing", ["211", "106", "50.2%"])], INTERNAL_NOTE)])


def test_public_percentages_are_read_against_the_public_counts(tmp_path):
    _themes_pair(tmp_path)
    findings, n, notes = check_reports([tmp_path])
    assert n == 2
    assert findings == []
    assert notes == []


def test_the_command_prints_no_inconsistency_for_the_pair(tmp_path):
    _themes_pair(tmp_path)
    result = CliRunner().invoke(app, ["disclosure", "check", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "inconsistent" not in result.output
    assert "2 files read: no suppressed or rounded count could be recovered" in result.output


def test_each_page_alone_is_clean_too(tmp_path):
    # controls: the public page alone, and the organisation page alone, give nothing
    _themes_pair(tmp_path)
    assert check_reports([tmp_path], internal=False) == ([], 1, [])
    assert check_reports([tmp_path / "organisation" / "XAA.html"]) == ([], 1, [])


def _chart_pair(folder: Path, public_count: str) -> None:
    rows = [("2025-04", ["40", "10", "25.0%"]), ("2025-05", ["45", "20", "44.4%"])]
    public = [rows[0], ("2025-05", ["45", public_count, "33.3%"])]
    _page(folder / "trusts" / "XAA.html", [(CHART, CHART_COLUMNS, public, RULE_NOTE)])
    # exact: 13 of 45 in May (28.9%); April as printed (40 and 10 are exact there too)
    _page(folder / "organisation" / "XAA.html", [(CHART, CHART_COLUMNS, [
        ("2025-04", ["40", "10", "25.0%"]), ("2025-05", ["45", "13", "28.9%"])],
        INTERNAL_NOTE)])


def test_a_public_chart_count_is_judged_by_what_the_public_page_prints(tmp_path):
    # the public page prints 15 (a multiple of 5: a form control prints); 15/45 = 33.3%
    _chart_pair(tmp_path, "15")
    findings, _, notes = check_reports([tmp_path])
    assert findings == []
    assert notes == []


def test_a_public_chart_count_control_never_prints_is_still_found(tmp_path):
    # control: the public page itself prints 13 (not a multiple of 5): that is a leak of the
    # public page, and it is reported with the text the public page prints
    _chart_pair(tmp_path, "13")
    findings, _, _ = check_reports([tmp_path])
    leaks = [f for f in findings if f.where.startswith("XAA.html")]
    assert [(f.shown, f.value) for f in leaks] == [("13", 13)]
    assert "disclosure control never prints" in leaks[0].how
