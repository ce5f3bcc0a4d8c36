"""A published chart draws no percentage (nor its limits) that the table beside it prints as –.

Under the default rule (1-7 shown as *, other counts rounded to the nearest 5) a table prints a
percentage of two printed counts only where at least two (count, base) pairs inside their
rounding give the same figure (``sjrlib.disclosure.published_rate``): 10 of 15 is printed "–",
because 10 stands for 8-12 and 15 for 13-17, and 66.7% (or 67%) comes from 10/15 alone:

    b = 13: 67% needs a in [8.65, 8.78]   none    b = 14: a in [9.31, 9.45]   none
    b = 15: a in [9.98, 10.13]            10      b = 16: a in [10.64, 10.80] none
    b = 17: a in [11.31, 11.47]           none

The same holds for 10 of 40 (25%: 10/40 alone; b = 38..42 give a in [9.31, 9.69], [9.56,
9.95], [9.8, 10.2], [10.05, 10.46], [10.29, 10.71]) and 10 of 25 (40%: 10/25 alone), while 20 of
40 (50%: 19/38, 20/40, 21/42) and 20 of 60 are printed. Before this fix the charts beside such
tables drew 66.7%, 25% and 40% all the same (the p-charts of the trust and national reports, the
theme and impact charts, the problems chart, the national Learning from Deaths chart's labels
and the care-score bars). Every expected value below is worked out by hand from those counts.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sjrlib import disclosure, domain, measures, plots
from sjrlib.disclosure import DisclosureRule
from sjrlib.report import tables
from sjrlib.report.learning import PublishedChart

RULE = DisclosureRule()  # 1-7 -> *, others rounded to the nearest 5
EXACT = DisclosureRule.off()  # the organisation's own report
NOT_SHOWN = "whose percentage the table prints as –"


def _words(text: str) -> str:
    return " ".join(text.split())


def _texts(fig) -> list[str]:
    return [_words(t.get_text()) for ax in fig.axes for t in ax.texts] + \
        [_words(t.get_text()) for t in fig.texts]


# ------------------------------------------------------------------------ the one rule ----
def test_the_chart_share_is_the_tables_share():
    published_share, charted_share = disclosure.published_share, disclosure.charted_share
    assert published_share(10, 15, RULE) is None  # the table prints "–"
    assert charted_share(10, 15, RULE) is None
    assert published_share(20, 40, RULE) == pytest.approx(50.0)
    assert charted_share(20, 40, RULE) == pytest.approx(50.0)
    assert published_share("*", 40, RULE) == "*"
    assert charted_share("*", 40, RULE) is None
    assert charted_share(0, 15, RULE) == 0.0  # 0 of anything is 0 whatever the base
    # exact counts (no rule): the table prints 66.7%, so the chart may draw it
    assert charted_share(10, 15, EXACT) == pytest.approx(200 / 3)
    # the table's sentence and the chart's note are the same words
    assert disclosure.PERCENT_PINNED in tables._note(RULE)
    assert disclosure.percent_not_shown(2, "month(s)") == (
        "Not shown: 2 month(s) whose percentage the table prints as – (disclosure control: a "
        "percentage is printed to whole numbers, or not at all, where one decimal would pin "
        "the counts within their rounding).")


# ------------------------------------------------------------- p-charts (PublishedChart) ----
MONTHS = [f"2024-{m:02d}" for m in range(4, 13)] + [f"2025-{m:02d}" for m in range(1, 4)]


def _june_of_15() -> PublishedChart:
    """Twelve months of 20 of 60 (printed as they are), but June 2024: 10 of 15."""
    k, n = [20] * 12, [60] * 12
    k[2], n[2] = 10, 15
    counts = pd.DataFrame({"numerator": k, "denominator": n}, index=MONTHS)
    published = measures.published_counts(counts, RULE, period=(MONTHS[0], MONTHS[-1]))
    assert not published["hidden"].any()  # every count printed: 60s, 20s, 15 and 10
    frame = measures.published_p_chart(published, "decrease")
    return PublishedChart(frame, "Reviews with poor care, by month", RULE,
                          y_label="% of reviews", base="Reviews", what="Poor care")


def test_a_p_chart_plots_no_point_and_no_limits_where_its_table_prints_a_dash():
    chart = _june_of_15()
    table = chart.table().text_frame()
    assert table.loc["2024-06"].tolist() == ["15", "10", "–"]  # counts printed, no %
    assert table.loc["2024-07"].tolist() == ["60", "20", "33%"]
    frame = chart.frame
    june = frame.loc["2024-06"]
    assert math.isnan(june["value"]) and math.isnan(june["lpl"]) and math.isnan(june["upl"])
    assert not june["judged"] and june["point_type"] == "common_cause"
    # the eleven points drawn: 20 of 60 each; the centre line is theirs, 220 / 660 = 1/3
    # (with June's 10 of 15 in it, it was 230 / 675 = 0.3407)
    drawn = frame[frame["judged"]]
    assert len(drawn) == 11 and drawn["value"].tolist() == pytest.approx([1 / 3] * 11)
    assert frame["mean"].dropna().unique().tolist() == pytest.approx([1 / 3])
    assert frame.attrs["unplotted"] == 1 and frame.attrs["hidden"] == 0
    # the picture: eleven markers, and June's percentage (66.7%) is on no line or limit
    ax = chart.figure.axes[0]
    assert sum(len(c.get_offsets()) for c in ax.collections) == 11
    plotted = np.concatenate([line.get_ydata() for line in ax.lines]).astype(float)
    assert not np.isclose(plotted, 200 / 3).any()


def test_the_p_charts_note_says_which_percentages_it_leaves_out_in_the_tables_words():
    note = _june_of_15().note()
    assert "Not shown: 1 month(s) whose percentage the table prints as – (disclosure control: " \
        "a percentage is printed to whole numbers, or not at all, where one decimal would " \
        "pin the counts within their rounding)." in note
    html = _june_of_15()._repr_html_()
    assert NOT_SHOWN in html


def test_an_exact_p_chart_keeps_every_point():
    """The organisation's own report: exact counts, the table prints 66.7%, the chart draws
    it."""
    k, n = [20] * 12, [60] * 12
    k[2], n[2] = 10, 15
    counts = pd.DataFrame({"numerator": k, "denominator": n}, index=MONTHS)
    frame = measures.published_p_chart(measures.published_counts(counts, None), "decrease")
    assert frame.loc["2024-06", "value"] == pytest.approx(2 / 3)
    assert frame.attrs["unplotted"] == 0


# ---------------------------------------------------------------------- problems chart ----
def _problems(n_reviews: int, counts: dict[str, int]) -> pd.DataFrame:
    """``problem_frequency`` of one group: every problem recorded led to no harm."""
    return pd.DataFrame([{
        "problem_type": t, "label": domain.label("problem_type", t), "n_reviews": n_reviews,
        "count": counts.get(t, 0), "percent": 100 * counts.get(t, 0) / n_reviews,
        "ci_lower": 0.0, "ci_upper": 1.0, "harm_no": counts.get(t, 0), "harm_probably": 0,
        "harm_yes": 0} for t in domain.PROBLEM_TYPES])


def test_the_problems_chart_draws_no_bar_whose_percentage_the_table_prints_as_a_dash():
    # 40 reviews: assessment in 10 (25%: printed "–"), medication in 20 (50%: printed)
    frequency = _problems(40, {"assessment": 10, "medication": 20})
    table = tables.problems_table(frequency, RULE).text_frame()["% of reviews"]
    assessment = tables._short_problem("assessment")
    medication = tables._short_problem("medication")
    assert table[assessment] == "–" and table[medication] == "50.0%"
    fig = plots.problem_types(tables.protect_problem_frequency(frequency, RULE))
    widths = [round(p.get_width(), 2) for p in fig.axes[0].patches if p.get_width() > 0]
    assert widths == [50.0]  # medication's bar only (assessment's 25.0 is gone)
    found = _texts(fig)
    assert "25%" not in found and "50%" in found and "–" in found
    assert any("Not shown: 1 problem type(s) " + NOT_SHOWN in t for t in found)


def test_the_problems_chart_on_exact_counts_draws_every_bar():
    frequency = _problems(40, {"assessment": 10, "medication": 20})
    fig = plots.problem_types(tables.protect_problem_frequency(frequency, EXACT))
    widths = sorted(round(p.get_width(), 2) for p in fig.axes[0].patches if p.get_width() > 0)
    assert widths == [25.0, 50.0]
    assert not any(NOT_SHOWN in t for t in _texts(fig))


# ------------------------------------------------- national Learning from Deaths chart ----
def test_the_lfd_chart_labels_no_percentage_reviewed_that_its_table_prints_as_a_dash():
    # published quarters: 20 of 100 ("20%"), 30 of 120 ("25%"), 10 of 15 ("–")
    figures = pd.DataFrame({"period": ["2024/25 Q1", "2024/25 Q2", "2024/25 Q3"],
                            "deaths_in_scope": [100, 120, 15], "reviewed": [20, 30, 10],
                            "more_likely_than_not": [0, 10, 0]}, dtype=object)
    printed = [tables.published_share(r, d, RULE)
               for r, d in zip(figures["reviewed"], figures["deaths_in_scope"], strict=True)]
    assert printed == ["20%", "25%", None]
    found = _texts(plots.lfd_trend(figures, rule=RULE))
    assert {"20%", "25%"} <= set(found) and "67%" not in found
    assert any("Not shown: 1 period(s) " + NOT_SHOWN in t for t in found)
    # on exact counts the table prints 66.7%, and the chart labels it
    assert "67%" in _texts(plots.lfd_trend(figures, rule=EXACT))


# --------------------------------------------------------------------- care-score bars ----
def _care(counts: dict[str, list[int]]) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """``care_score_distribution`` and ``poor_care`` per phase of one group: ``counts`` are
    the reviews giving scores 1-5 per phase (other phases scored in no review)."""
    rows, poor = [], {}
    for phase in domain.PHASES:
        scores = counts.get(phase, [0] * 5)
        n = sum(scores)
        for score, count in zip(domain.CARE_SCORES, scores, strict=True):
            rows.append({"phase": phase, "score": score,
                         "label": domain.label("care_score", score), "count": count,
                         "n_applicable": n, "n_reviews": 65,
                         "percent": 100 * count / n if n else np.nan})
        k = scores[0] + scores[1]
        poor[phase] = pd.DataFrame({"n": [n], "poor": [k], "proportion": [k / n if n else np.nan],
                                    "ci_lower": [np.nan], "ci_upper": [np.nan]})
    return pd.DataFrame(rows), poor


def test_the_care_score_bars_draw_no_phase_whose_poor_care_the_table_prints_as_a_dash():
    # admission: 10 poor (score 2) and 15 good (score 4) of 25: 40.0% poor, printed "–";
    # ongoing care: 20 poor and 20 good of 40: 50.0%, printed
    distribution, poor = _care({"admission": [0, 10, 0, 15, 0], "ongoing": [0, 20, 0, 20, 0]})
    table = tables.care_score_table(distribution, poor, RULE).text_frame()
    pct = table["% poor or very poor care"]
    assert pct[domain.label("phase", "admission")] == "–"
    assert pct[domain.label("phase", "ongoing")] == "50.0%"
    bars = tables.ScoreBars(tables.protect_distribution(distribution, RULE, group="phase"),
                            RULE, title="Care scores")._repr_html_()
    admission = bars.split(domain.label("phase", "admission"))[1].split("sjr-bar-row")[0]
    ongoing = bars.split(domain.label("phase", "ongoing"))[1].split("sjr-bar-row")[0]
    assert "40%" not in admission and "sjr-seg" not in admission  # no segment: it was 40%
    assert "not shown: the table prints – for its % poor or very poor care" in admission
    assert ongoing.count("sjr-seg") == 2 and "50%" in ongoing
    assert "Not shown: 1 phase(s) " + NOT_SHOWN in bars


def test_the_care_score_bars_on_exact_counts_draw_the_phase():
    distribution, poor = _care({"admission": [0, 10, 0, 15, 0], "ongoing": [0, 20, 0, 20, 0]})
    assert tables.care_score_table(distribution, poor, EXACT).text_frame().at[
        domain.label("phase", "admission"), "% poor or very poor care"] == "40.0%"
    bars = tables.ScoreBars(tables.protect_distribution(distribution, EXACT, group="phase"),
                            EXACT, title="Care scores")._repr_html_()
    admission = bars.split(domain.label("phase", "admission"))[1].split("sjr-bar-row")[0]
    assert "40%" in admission and NOT_SHOWN not in bars


# ----------------------------------------------------- a group of 5 reviews, 2 poor care ----
def test_a_group_of_5_reviews_with_2_poor_care_shows_no_percentage_anywhere():
    """The brief's small group under the public rule: its counts are * and every chart draws
    nothing for it (this held before the fix too; kept as a guard)."""
    # care scores: one phase scored in 5 reviews, 2 of them poor (40%)
    distribution, poor = _care({"overall": [0, 2, 3, 0, 0]})
    pct = tables.care_score_table(distribution, poor, RULE).text_frame().at[
        domain.label("phase", "overall"), "% poor or very poor care"]
    assert pct == "*"
    bars = tables.ScoreBars(tables.protect_distribution(distribution, RULE, group="phase"),
                            RULE, title="Care scores")._repr_html_()
    assert "sjr-seg" not in bars and "40%" not in bars
    # problems: 2 of 5 reviews
    fig = plots.problem_types(tables.protect_problem_frequency(
        _problems(5, {"assessment": 2}), RULE))
    assert plots.chart_withheld(fig) == "Fewer than 8 reviews: chart not shown"
    # a p-chart month of 2 of 5 among months of 20 of 60: hidden, with one more beside it
    k, n = [20] * 12, [60] * 12
    k[2], n[2] = 2, 5
    counts = pd.DataFrame({"numerator": k, "denominator": n}, index=MONTHS)
    frame = measures.published_p_chart(
        measures.published_counts(counts, RULE, period=(MONTHS[0], MONTHS[-1])), "decrease")
    assert math.isnan(frame.loc["2024-06", "value"]) and not frame.loc["2024-06", "judged"]
