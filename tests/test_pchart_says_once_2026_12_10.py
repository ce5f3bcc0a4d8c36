"""A published p-chart says once that a period is withheld, not twice.

A walkthrough (2026-12-10) read a trust report's p-chart whose withheld quarter was told twice:
in the picture's own note ("1 point(s) not shown (fewer than 8 cases, or withheld by
disclosure control) ...") and, right under it, in the caption (what disclosure control did,
and why each period is missing). The caption says it, with the reason; the picture's note now
counts only points the caption does not explain. Counts are written by hand.
"""

from __future__ import annotations

import re

import pandas as pd

from sjrlib import measures
from sjrlib.disclosure import DisclosureRule
from sjrlib.report.learning import PublishedChart

# 2022/23 Q1 to 2024/25 Q4, by month: 36 months
MONTHS = [f"{y}-{m:02d}" for y in range(2022, 2026) for m in range(1, 13)][3:39]


def _chart(k: list[int], n: list[int], rule: DisclosureRule) -> PublishedChart:
    counts = pd.DataFrame({"numerator": k, "denominator": n}, index=MONTHS)
    published = measures.published_counts(counts, rule, period=("2024-04", "2025-03"))
    frame = measures.published_p_chart(published, "decrease")
    return PublishedChart(frame, "Reviews with poor care", rule, y_label="% of reviews",
                          base="Reviews", what="Poor care")


def _picture(chart: PublishedChart) -> str:
    return " ".join(" ".join(t.get_text() for t in chart.figure.texts).split())


def _caption(chart: PublishedChart) -> str:
    found = re.search(r'<figcaption class="sjr-note">(.*?)</figcaption>', chart._repr_html_(),
                      re.S)
    return found.group(1) if found else ""


def test_a_quarter_whose_percentage_is_withheld_is_said_once():
    # every month 10 of 30 but a third of them 6 of 30 (a small count): months are grouped
    # into quarters, 25 of 90 each (printed 28%); 2023/24 Q2 is 3 + 3 + 4 of 5 + 5 + 5, so
    # 10 of 15, whose percentage the table prints as "–" (10/15 alone gives 67%)
    k, n = [6 if i % 3 == 0 else 10 for i in range(36)], [30] * 36
    k[15:18], n[15:18] = [3, 3, 4], [5, 5, 5]
    chart = _chart(k, n, DisclosureRule())
    assert chart.frame.attrs["unit"] == "quarter"
    assert (chart.frame.attrs["hidden"], chart.frame.attrs["unplotted"]) == (0, 1)
    assert chart.table().text_frame().loc["2023/24 Q2"].tolist() == ["15", "10", "–"]
    assert "Not shown: 1 quarter(s) whose percentage the table prints as –" in _caption(chart)
    assert "point(s)" not in _picture(chart)  # said once, in the caption


def test_hidden_quarters_are_said_once():
    # the same, but 2023/24 Q2 is 1 + 1 + 1 of 2 + 2 + 2 (3 of 6: small) and so hidden, with
    # a second quarter of that year hidden beside it so that the year's total does not give
    # it back
    k, n = [6 if i % 3 == 0 else 10 for i in range(36)], [30] * 36
    k[15:18], n[15:18] = [1, 1, 1], [2, 2, 2]
    chart = _chart(k, n, DisclosureRule())
    assert chart.frame.attrs["unit"] == "quarter" and chart.frame.attrs["hidden"] == 2
    assert "2 quarter(s) whose count is 1 to 7" in _caption(chart)
    assert "point(s)" not in _picture(chart)


def test_a_point_the_caption_does_not_explain_is_still_noted_on_the_picture():
    """Under a rule suppressing 1-5 only, June 2024's 6 reviews (none with poor care) are
    printed, rounded to 5: not withheld, so the caption does not mention them, but 5 cases are
    too few for a point (fewer than 8): the picture's note says that, in those words. Every
    other month: 20 of 60, printed as it is (33%)."""
    k, n = [20] * 36, [60] * 36
    k[26], n[26] = 0, 6  # 2024-06
    chart = _chart(k, n, DisclosureRule(threshold=5))
    assert chart.frame.attrs["unit"] == "month"
    assert (chart.frame.attrs["hidden"], chart.frame.attrs["unplotted"]) == (0, 0)
    assert "not plotted" not in _caption(chart) and "Not shown" not in _caption(chart)
    assert "1 point(s) based on fewer than 8 cases not shown" in _picture(chart)
