"""The seaborn charts: what they draw from hand-written tables, and the fewer-than-8 rule."""

from __future__ import annotations

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest

from sjrlib import plots_seaborn
from sjrlib.disclosure import DisclosureRule
from sjrlib.plots import CARE_SCORE_COLOURS, chart_withheld


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def _all_text(fig) -> str:
    parts = [t.get_text() for t in fig.texts]
    parts += [fig._suptitle.get_text()] if fig._suptitle is not None else []
    parts += [fig._supxlabel.get_text()] if fig._supxlabel is not None else []
    for ax in fig.axes:
        parts += [ax.get_title(loc="left"), ax.get_title()]
    return "\n".join(parts)


# 12 pairs: (first, second) - 5 exact, 5 one apart, 2 two or more apart.
PAIRS = pd.DataFrame({
    "rating_1": [4, 4, 4, 3, 5, 2, 3, 4, 5, 1, 2, 3, pd.NA],
    "rating_2": [4, 4, 3, 3, 5, 3, 4, 5, 4, 3, 5, 3, 4],
}, dtype="Int64")


def test_agreement_heatmap_counts_pairs_and_states_agreement():
    fig = plots_seaborn.agreement_heatmap(PAIRS)
    assert chart_withheld(fig) is None
    cells = _texts(fig)[:25]  # the annotations, row by row (first reviewer 1..5)
    grid = [[int(c) for c in cells[r * 5:(r + 1) * 5]] for r in range(5)]
    assert grid[3] == [0, 0, 1, 2, 1]  # first reviewer 4: 4,4 -> 4; 3; 5
    assert grid[0] == [0, 0, 1, 0, 0]  # 1 -> 3
    assert sum(map(sum, grid)) == 12  # the pair with a blank is left out
    text = _all_text(fig)
    assert "12 double-reviewed cases" in text
    assert "exact agreement 42%" in text  # 5 of 12
    assert "within one point 83%" in text  # 10 of 12


def test_agreement_heatmap_applies_disclosure_control():
    fig = plots_seaborn.agreement_heatmap(PAIRS, rule=DisclosureRule(threshold=1, rounding=1))
    texts = _texts(fig)
    assert texts.count("*") == 8  # every cell holding exactly one pair
    assert "2" in texts[:25]
    text = _all_text(fig)
    assert "exact agreement" not in text and "about 12" in text


def test_agreement_heatmap_with_every_count_suppressed_is_withheld():
    fig = plots_seaborn.agreement_heatmap(PAIRS, rule=DisclosureRule(threshold=2, rounding=1))
    assert chart_withheld(fig) == ("Every count of two reviewers' scores is from 1 to 2 "
                                   "(disclosure control): chart not shown")


def test_agreement_heatmap_needs_eight_pairs():
    fig = plots_seaborn.agreement_heatmap(PAIRS.iloc[[0, 1, 2, 3, 4, 5, 6, 12]])  # 7 complete
    assert chart_withheld(fig) == "Fewer than 8 double-reviewed cases: chart not shown"


def _distribution(phase: str, counts: list[int]) -> pd.DataFrame:
    n = sum(counts)
    return pd.DataFrame({"phase": phase, "score": range(1, 6), "count": counts,
                         "n_applicable": n, "percent": [100 * c / n for c in counts]})


def test_phase_distributions_draw_one_panel_per_phase_in_the_care_score_colours():
    table = pd.concat([_distribution("admission", [1, 2, 3, 2, 2]),
                       _distribution("end_of_life", [0, 0, 2, 4, 4]),
                       _distribution("procedure", [1, 1, 1, 1, 0])])  # 4 reviews: left out
    fig = plots_seaborn.phase_distributions(table)
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.axison]
    assert titles == ["Admission and initial management\nn = 10; 40% good or excellent",
                      "End-of-life care\nn = 10; 80% good or excellent"]
    eol = [ax for ax in fig.axes if ax.get_title(loc="left").startswith("End-of-life")][0]
    heights = [round(p.get_height()) for p in eol.patches]
    assert heights == [0, 0, 20, 40, 40]
    colours = [mcolors.to_hex(p.get_facecolor()) for p in eol.patches]
    assert colours == [CARE_SCORE_COLOURS[s].lower() for s in range(1, 6)]
    assert "Not shown (fewer than 8 reviews): Care during a procedure." in _all_text(fig)


def test_phase_distributions_with_no_phase_of_eight_reviews_are_withheld():
    fig = plots_seaborn.phase_distributions(_distribution("admission", [1, 1, 1, 1, 1]))
    assert chart_withheld(fig) == "Fewer than 8 reviews in every phase: chart not shown"


def test_poor_care_trend_leaves_out_small_periods_and_draws_one_line_per_group():
    table = pd.DataFrame({
        "death_month": ["2024-Q1", "2024-Q2", "2024-Q3"] * 2,
        "organisation_code": ["A"] * 3 + ["B"] * 3,
        "n": [20, 5, 30, 10, 12, 14], "poor": [2, 1, 6, 1, 3, 2],
        "proportion": [0.1, 0.2, 0.2, 0.1, 0.25, 1 / 7],
        "ci_lower": [0.03, 0.04, 0.1, 0.02, 0.09, 0.04],
        "ci_upper": [0.3, 0.6, 0.37, 0.4, 0.53, 0.4],
    })
    fig = plots_seaborn.poor_care_trend(table, by="organisation_code")
    ax = fig.axes[0]
    lines = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()
             if not line.get_label().startswith("_")}
    # A's Q2 (5 reviews) is not drawn, and its line breaks there: no segment runs across it
    assert lines == {"A": pytest.approx([10.0, np.nan, 20.0], nan_ok=True),
                     "B": pytest.approx([10.0, 25.0, 100 / 7])}
    assert "1 point(s) on fewer than 8 reviews not drawn." in _all_text(fig)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2024-Q1", "2024-Q2", "2024-Q3"]


def test_five_years_of_months_are_labelled_without_overlap_and_gaps_break_the_line():
    """60 months: a tick at each, at most 16 labels (every 4th, from the first); an
    organisation with no reviews for two years has no line across those years."""
    months = [f"{y}-{m:02d}" for y in range(2021, 2026) for m in range(1, 13)]
    rows = [{"death_month": month, "organisation_code": code, "n": 20, "poor": 4,
             "proportion": 0.2, "ci_lower": 0.08, "ci_upper": 0.42}
            for code in ("A", "B") for month in months
            if not (code == "B" and "2022-01" <= month <= "2023-12")]
    fig = plots_seaborn.poor_care_trend(pd.DataFrame(rows), by="organisation_code")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == months[::4] and len(labels) == 15
    assert set(ax.get_xticks()) | set(ax.get_xticks(minor=True)) == set(range(60))
    b = next(line for line in ax.get_lines() if line.get_label() == "B")
    y = np.asarray(b.get_ydata(), dtype=float)
    assert np.isnan(y[12:36]).all() and not np.isnan(y[:12]).any() \
        and not np.isnan(y[36:]).any()


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match=r"needs column\(s\) \['rating_2'\]"):
        plots_seaborn.agreement_heatmap(PAIRS[["rating_1"]])


def test_set_theme_makes_a_notebook_show_figures_as_images():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        fig = plots_seaborn.agreement_heatmap(PAIRS)
        before, _ = shell.display_formatter.format(fig)
        assert "image/png" not in before  # JupyterLab would print "<Figure size ...>"
        plots_seaborn.set_theme()
        after, _ = shell.display_formatter.format(fig)
        assert after["image/png"]
    finally:
        InteractiveShell.clear_instance()
        import seaborn as sns

        sns.reset_orig()
