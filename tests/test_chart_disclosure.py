"""Charts of monthly percentages must not reveal what disclosure control hides.

Hand-made monthly series (not the synthetic generator) with counts below the threshold. A
p-chart point is numerator / denominator and its process limits (p-bar +/- 3 sqrt(p-bar (1 -
p-bar) / n)) pin its denominator, so a reader with a ruler gets both counts back from an exact
chart: the first test shows that on the exact chart (the organisation's own report), the rest
that the published chart shows only published counts, and that ``sjr disclosure check`` reads
the charts' data tables and catches a chart that shows more.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sjrlib import disclosure_check, measures
from sjrlib.disclosure import DisclosureRule, charted_share
from sjrlib.report import tables
from sjrlib.report.learning import CHART_DATA, PublishedChart
from sjrlib.themes.codebook import shipped_codebook

BOOK = shipped_codebook()

RULE = DisclosureRule()  # 1-7 -> *, others rounded to the nearest 5
OLD_HQIP = DisclosureRule(threshold=4, rounding=1)  # suppress under 5, no rounding
PERIOD = ("2022-04", "2023-03")
MONTHS = [f"2021-{m:02d}" for m in range(4, 13)] + [f"2022-{m:02d}" for m in range(1, 13)] + \
    [f"2023-{m:02d}" for m in range(1, 4)]
THEME = "Sepsis recognition and treatment"


def _counts(k, n) -> pd.DataFrame:
    return pd.DataFrame({"numerator": k, "denominator": n},
                        index=pd.Index(MONTHS[:len(k)], name="month"))


# 24 months: small numerators (0-7) on 12-30 coded reviews a month, as a small trust has
SMALL_K = [2, 0, 5, 3, 7, 1, 4, 6, 2, 3, 5, 1, 4, 2, 6, 0, 3, 7, 2, 5, 1, 3, 4, 2]
SMALL_N = [16, 14, 20, 18, 24, 12, 19, 17, 16, 23, 20, 16, 13, 18, 16, 17, 19, 17, 18, 14,
           11, 15, 17, 12]
# 24 months of larger counts: most months publishable as they are
LARGE_K = [12, 15, 9, 18, 22, 11, 14, 16, 13, 10, 19, 21, 12, 3, 17, 14, 16, 20, 11, 13, 15,
           18, 12, 14]
LARGE_N = [40, 44, 38, 52, 61, 39, 45, 47, 41, 36, 55, 58, 42, 40, 49, 46, 48, 57, 39, 43, 46,
           50, 41, 44]


def _read_back(frame: pd.DataFrame) -> list[tuple[int, int] | None]:
    """What a reader of the picture gets for each point: n from the width of its upper limit
    around the centre line, k = value * n (None where nothing is plotted or the limit is
    clipped)."""
    out = []
    for row in frame.itertuples():
        if not row.judged or not np.isfinite(row.value) or row.upl >= 1 or \
                row.mean in (0, 1):
            out.append(None)
            continue
        n = 9 * row.mean * (1 - row.mean) / (row.upl - row.mean) ** 2
        out.append((round(row.value * n), round(n)))
    return out


def test_an_exact_chart_gives_small_counts_back_through_its_limits():
    """The fact the published chart guards against: on exact counts, the plotted centre line,
    upper limit and value of a month give its count of 1 to 7 and its base back."""
    frame = measures.impact_chart(measures.parse_measure("theme:sepsis", BOOK),
                                  _counts(SMALL_K, SMALL_N), "2022-05")
    got = _read_back(frame)
    pinned = [(k, n) for (k, n), g in zip(zip(SMALL_K, SMALL_N, strict=True), got,
                                          strict=True) if g == (k, n) and 1 <= k <= 7]
    assert len(pinned) >= 15  # nearly every month: e.g. 1 of 12 in September 2021


@pytest.mark.parametrize("k, n", [(SMALL_K, SMALL_N), (LARGE_K, LARGE_N)])
@pytest.mark.parametrize("rule", [RULE, OLD_HQIP])
def test_a_published_chart_plots_only_published_counts(rule, k, n):
    frame = measures.impact_chart(measures.parse_measure("theme:sepsis", BOOK), _counts(k, n),
                                  "2022-05", rule=rule, period=PERIOD)
    published = frame.attrs["published"]
    shown = frame[frame["judged"].to_numpy(bool)]
    assert len(shown) > 0 or rule is RULE and k is SMALL_K
    for label, row in frame.iterrows():
        pub = published.loc[label]
        if pub["hidden"]:  # not plotted, no limits, not judged
            assert math.isnan(row["value"]) and math.isnan(row["upl"]) and not row["judged"]
            continue
        a, b = int(pub["numerator"]), int(pub["denominator"])
        for count in (a, b):  # a form control prints: 0, or above the threshold and rounded
            assert count == 0 or (count > rule.threshold and count % rule.rounding == 0)
        if charted_share(a, b, rule) is None:  # its table prints "–": not plotted either
            assert math.isnan(row["value"]) and math.isnan(row["upl"]) and not row["judged"]
            continue
        assert row["value"] == pytest.approx(a / b)
    # whatever a reader gets off the limits is a published count, never 1 to threshold
    for got in _read_back(frame):
        if got is not None:
            assert not rule.is_small(got[0]) and not rule.is_small(got[1])
            assert got[0] % rule.rounding == 0 and got[1] % rule.rounding == 0
    # centre lines: sums of the published counts of the points shown, per rebase group
    plotted = [not h and charted_share(a, b, rule) is not None for a, b, h in
               zip(published["numerator"], published["denominator"], published["hidden"],
                   strict=True)]
    for _, group in frame[plotted].groupby("rebase_group"):
        rows = published.loc[group.index]
        assert group["mean"].iloc[0] == pytest.approx(rows["numerator"].sum()
                                                      / rows["denominator"].sum())


def test_small_monthly_counts_are_grouped_into_quarters():
    published = measures.published_counts(_counts(SMALL_K, SMALL_N), RULE, period=PERIOD)
    assert published.attrs["unit"] == "quarter"
    assert list(published.index[:2]) == ["2021/22 Q1", "2021/22 Q2"]
    assert published.loc["2021/22 Q1", "first_month"] == "2021-04"
    # 2021/22 Q1: 7 of 50 -> hidden (7 is small); 2021/22 Q2: 11 of 54 -> 10 of 55
    assert published.loc["2021/22 Q1", "hidden"]
    assert published.loc["2021/22 Q2", ["numerator", "denominator"]].tolist() == [10, 55]


def test_one_hidden_month_in_a_year_is_not_left_alone_to_be_subtracted():
    """Under the older HQIP practice (exact counts of 5 or more) one hidden month would be the
    year's count minus the others': a second month of the year is hidden too."""
    k = [12] * 24
    k[15] = 3  # July 2022, in the report's period
    published = measures.published_counts(_counts(k, [40] * 24), OLD_HQIP, period=PERIOD)
    assert published.attrs["unit"] == "month"
    in_period = published.loc[[m for m in published.index if m >= "2022-04"]]
    assert in_period.loc["2022-07", "hidden"] and int(in_period["hidden"].sum()) >= 2
    assert not published.loc[[m for m in published.index if m < "2022-04"], "hidden"].any()


def test_the_exact_chart_is_kept_for_the_organisations_own_report():
    frame = measures.impact_chart(measures.parse_measure("theme:sepsis", BOOK),
                                  _counts(SMALL_K, SMALL_N), "2022-05",
                                  rule=DisclosureRule.off(), period=PERIOD)
    assert frame["numerator"].tolist() == SMALL_K and frame.attrs["unit"] == "month"
    assert not frame.attrs["controlled"]


# ------------------------------------------------------------- the attacker reads charts ----
def _page(tmp_path, rule: DisclosureRule, k, n, *, chart_html: str) -> None:
    """A trust page as published: its introduction (period and rule), the themes table of the
    period (from the exact counts, protected), and the chart with its data table."""
    from sjrlib.report.learning import _protected_table

    inside = [i for i, m in enumerate(MONTHS[:len(k)]) if PERIOD[0] <= m <= PERIOD[1]]
    counts = pd.DataFrame({"n": [sum(n[i] for i in inside)], "count": [sum(k[i] for i in inside)]},
                          index=pd.Index(["sepsis"], name="theme"))
    themes = _protected_table(counts, {"sepsis": THEME}, rule,
                              caption="Themes coded in reviews this period (reviews coded by "
                                      "a person)",
                              base="Coded reviews", what="Reviews coded with the theme", note="")
    intro = (f"<p>Example Trust (XX1), deaths from April 2022 to March 2023. "
             f"{rule.describe()}</p>")
    (tmp_path / "XX1.html").write_text(
        f"<html><body>{intro}{themes._repr_html_()}{chart_html}</body></html>",
        encoding="utf-8")


def _chart(frame, rule) -> PublishedChart:
    return PublishedChart(frame, f"Coded reviews with the theme '{THEME}', by "
                                 f"{frame.attrs['unit']} of death", rule,
                          y_label="% of coded reviews", base="Coded reviews",
                          what="Reviews coded with the theme")


@pytest.mark.parametrize("rule", [RULE, OLD_HQIP])
@pytest.mark.parametrize("k, n", [(SMALL_K, SMALL_N), (LARGE_K, LARGE_N)])
def test_the_checker_reads_the_published_chart_and_finds_nothing(tmp_path, rule, k, n):
    published = measures.published_counts(_counts(k, n), rule, period=PERIOD)
    chart = _chart(measures.published_p_chart(published, "decrease"), rule)
    _page(tmp_path, rule, k, n, chart_html=chart.table()._repr_html_())
    findings, files, _notes = disclosure_check.check_reports([tmp_path])
    assert files == 1 and findings == []


def test_the_checker_catches_a_chart_plotting_exact_counts_on_a_controlled_page(tmp_path):
    """The regression the checker must catch: the chart code ignoring the page's rule."""
    exact = measures.published_p_chart(
        measures.published_counts(_counts(SMALL_K, SMALL_N), None), "decrease")
    chart = _chart(exact, RULE)
    _page(tmp_path, RULE, SMALL_K, SMALL_N, chart_html=chart._repr_html_())
    findings, _files, _notes = disclosure_check.check_reports([tmp_path])
    printed = {(f.where.split(" | ")[2], f.value) for f in findings}
    assert ("2021-09", 1) in printed and ("2021-09", 12) in printed  # 1 of 12 coded reviews


def test_the_checker_subtracts_a_lone_hidden_month_from_the_themes_table(tmp_path):
    """A chart that hid the small month but no second one: the year's count in the themes
    table minus the months shown gives it back."""
    k, n = [12] * 24, [40] * 24
    k[15] = 3
    rows = {}
    for i, m in enumerate(MONTHS):
        rows[m] = {"Coded reviews": n[i], "Reviews coded with the theme":
                   OLD_HQIP.symbol if k[i] == 3 else k[i],
                   "% of coded reviews": OLD_HQIP.symbol if k[i] == 3 else 100 * k[i] / n[i]}
    frame = pd.DataFrame.from_dict(rows, orient="index", dtype=object)
    leaky = tables.ReportTable(frame, caption=CHART_DATA + f"Coded reviews with the theme "
                                                           f"'{THEME}', by month of death",
                               note=tables._note(OLD_HQIP), formats={"% of coded reviews":
                                                                     "percent"})
    _page(tmp_path, OLD_HQIP, k, n, chart_html=leaky._repr_html_())
    findings, _files, _notes = disclosure_check.check_reports([tmp_path])
    assert [(f.where.split(" | ")[2], f.value) for f in findings] == [("2022-07", 3)]


def test_the_checker_adds_a_reviewed_chart_up_to_the_quarters_of_the_lfd_table(tmp_path):
    """The deaths-reviewed chart's months add up to the quarters of the Learning from Deaths
    table: a month hidden alone in its quarter is given back by subtraction (older HQIP rule:
    exact counts of 5 or more); the published chart hides a second month of that quarter."""
    deaths = [150, 140, 160, 145, 150, 155, 160, 150, 145, 170, 150, 140]
    reviewed = [30, 25, 3, 28, 30, 27, 31, 26, 29, 33, 24, 27]
    months = MONTHS[12:]
    quarters = ["Q1\u00a0Apr\u2060–\u2060Jun\u00a02022", "Q2\u00a0Jul\u2060–\u2060Sep\u00a02022",
                "Q3\u00a0Oct\u2060–\u2060Dec\u00a02022", "Q4\u00a0Jan\u2060–\u2060Mar\u00a02023"]
    lfd = pd.DataFrame({"Deaths in scope": [sum(deaths[3 * q:3 * q + 3]) for q in range(4)],
                        "Deaths reviewed (SJR)": [sum(reviewed[3 * q:3 * q + 3])
                                                  for q in range(4)]},
                       index=quarters, dtype=object)
    lfd_table = tables.ReportTable(lfd, caption="Learning from Deaths: deaths, case record "
                                                "reviews and avoidability by quarter",
                                   note=tables._note(OLD_HQIP), index_name="Quarter")
    intro = f"<p>Example Trust (XX1), deaths from April 2022 to March 2023. " \
            f"{OLD_HQIP.describe()}</p>"
    title = "Deaths reviewed by structured judgement review, by month of death"

    def page(chart_table) -> list:
        (tmp_path / "XX1.html").write_text(
            f"<html><body>{intro}{lfd_table._repr_html_()}{chart_table._repr_html_()}"
            "</body></html>", encoding="utf-8")
        return disclosure_check.check_reports([tmp_path])[0]

    rows = {m: {"Deaths in scope": OLD_HQIP.symbol if r == 3 else d,
                "Deaths reviewed (SJR)": OLD_HQIP.symbol if r == 3 else r,
                "% of deaths in scope": OLD_HQIP.symbol if r == 3 else 100 * r / d}
            for m, d, r in zip(months, deaths, reviewed, strict=True)}
    leaky = tables.ReportTable(pd.DataFrame.from_dict(rows, orient="index", dtype=object),
                               caption=CHART_DATA + title, note=tables._note(OLD_HQIP),
                               formats={"% of deaths in scope": "percent"})
    got = {(f.where.split(" | ")[2], f.value) for f in page(leaky)}
    assert ("2022-06", 3) in got and ("2022-06", 160) in got

    counts = pd.DataFrame({"numerator": reviewed, "denominator": deaths},
                          index=pd.Index(months, name="month"))
    published = measures.published_counts(counts, OLD_HQIP, period=PERIOD)
    assert published.attrs["unit"] == "month"
    assert published.loc[["2022-04", "2022-05", "2022-06"], "hidden"].sum() >= 2
    chart = PublishedChart(measures.published_p_chart(published, "increase"), title, OLD_HQIP,
                           y_label="% of deaths in scope", base="Deaths in scope",
                           what="Deaths reviewed (SJR)")
    assert page(chart.table()) == []


def test_what_to_look_at_says_a_withheld_chart_is_not_charted():
    """The report's SPC sentence follows the chart the reader sees: a chart that disclosure
    control leaves too few points to draw is said not to be charted, never described."""
    from sjrlib.report import narrative
    from sjrlib.report.trust import TrustReport

    measure = "the percentage of reviews finding poor or very poor care"
    small = measures.published_p_chart(
        measures.published_counts(_counts(SMALL_K, SMALL_N), RULE, period=PERIOD), "decrease")
    chart = _chart(small, RULE)
    assert chart.withheld  # the small trust's chart is not drawn
    sentence = TrustReport._spc_sentence(chart, measure, small, improvement="decrease",
                                         period_start="2022-04", base_noun="reviews")
    assert sentence.startswith("The percentage of reviews finding poor or very poor care is "
                               "not charted: fewer than 8 points")
    assert "evidence" not in sentence and "special cause" not in sentence.lower()

    large = measures.published_p_chart(
        measures.published_counts(_counts(LARGE_K, LARGE_N), RULE, period=PERIOD), "decrease")
    drawn = _chart(large, RULE)
    assert drawn.withheld is None
    said = TrustReport._spc_sentence(drawn, measure, large, improvement="decrease",
                                     period_start="2022-04", base_noun="reviews")
    assert said == narrative.spc_sentence(measure, large, improvement="decrease",
                                          period_start="2022-04", base_noun="reviews")


def test_skipping_sums_that_pin_nothing_changes_no_chart(monkeypatch):
    """measures.hidden_cells skips a sum with nothing hidden when measures._sum_pins says it
    pins no count; attacking every sum instead (as before the shortcut) hides the same points
    on random charts, sums that pin included (four 13s print 15 each and 50 together)."""
    import random

    from sjrlib import measures
    from sjrlib.disclosure import DisclosureRule

    rule = DisclosureRule()
    rng = random.Random(20261205)
    months = [f"{y}-{m:02d}" for y, m in [(2023, m) for m in range(4, 13)]
              + [(2024, m) for m in range(1, 13)] + [(2025, m) for m in range(1, 4)]]
    pools = [[13], [13, 13, 0], [12, 13, 17, 0], [0, 8, 9, 10, 12, 13, 20, 33],
             [0, 0, 1, 3, 8, 10, 11, 12, 15], [8, 10, 12, 13, 17, 18, 22, 23, 50]]
    cases = []
    for _ in range(150):
        pool = rng.choice(pools)
        window = months[rng.randint(0, 12):]
        k = [rng.choice(pool) for _ in window]
        n = [max(a, rng.choice([30, 40, 8, 12, 5])) for a in k]
        cases.append((pd.DataFrame({"numerator": k, "denominator": n}, index=window),
                      set(rng.sample(window, rng.choice([0, 0, 1, 2]))),
                      rng.choice([("2024-04", "2025-03"), None])))
    fast = [measures.published_counts(c, rule, period=p, withheld=w) for c, w, p in cases]
    assert measures._sum_pins([13, 13, 13, 13], rule)
    monkeypatch.setattr(measures, "_sum_pins", lambda values, rule: True)
    slow = [measures.published_counts(c, rule, period=p, withheld=w) for c, w, p in cases]
    assert all(a.equals(b) for a, b in zip(fast, slow, strict=True))
    assert sum(bool(f["hidden"].any()) for f in fast) > 20  # the charts do hide points


def test_a_published_charts_note_does_not_call_every_hidden_point_small():
    """Under disclosure control a point is hidden beside a small one (so that the year does not
    give it back), and that one rests on 60 cases: its note says "fewer than 8 cases, or
    withheld by disclosure control", not "based on fewer than 8 cases" of both. (20 of 60,
    printed 33%: 10 of 40 is printed "–", and since 2026-12-08 is not plotted either.)"""
    from sjrlib import measures, plots
    from sjrlib.disclosure import DisclosureRule

    months = [f"2024-{m:02d}" for m in range(4, 13)] + [f"2025-{m:02d}" for m in range(1, 4)]
    k = [20] * 12
    k[2] = 3
    counts = pd.DataFrame({"numerator": k, "denominator": [60] * 12}, index=months)
    published = measures.published_counts(counts, DisclosureRule(), period=(months[0],
                                                                            months[-1]))
    assert int(published["hidden"].sum()) == 2  # June's 3, and one beside it
    frame = measures.published_p_chart(published, "decrease")
    fig = plots.spc_chart(frame, title="Poor care, by month", y_label="Poor care")
    notes = " ".join(t.get_text() for t in fig.texts)
    assert "2 point(s) not shown (fewer than 8 cases, or withheld by disclosure control)" \
        in " ".join(notes.split())
