"""Charts are rendered for real (PNG in tmp_path) and their texts, titles and bars inspected.

Tables come from the real statistics functions (sjrlib.stats) on small hand-made review frames,
or are written by hand where a test is about one cell (suppression, small numbers).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Rectangle
from strategies import make_reviews

from sjrlib import domain, plots, spc
from sjrlib.disclosure import DisclosureRule, protect_counts
from sjrlib.stats import descriptive, lfd

WITHHELD_REVIEWS = "Fewer than 8 reviews: chart not shown"


def render(fig: Figure, path) -> None:
    fig.savefig(path, dpi=60)
    assert path.stat().st_size > 2000


def texts(fig: Figure) -> list[str]:
    found = [t.get_text() for t in fig.texts]
    if fig.get_suptitle():
        found.append(fig.get_suptitle())
    for legend in fig.legends:
        found += [t.get_text() for t in legend.get_texts()]
    for ax in fig.axes:
        found += [t.get_text() for t in ax.texts]
        found += [ax.get_title(loc) for loc in ("left", "center", "right")]
        found += [t.get_text() for t in ax.get_yticklabels() + ax.get_xticklabels()]
        found += [ax.get_xlabel(), ax.get_ylabel()]
        legend = ax.get_legend()
        if legend is not None:
            found += [t.get_text() for t in legend.get_texts()]
    return [t for t in found if t]


def bars(fig: Figure) -> list[Rectangle]:
    """Drawn bars (not the axes background, not legend handles)."""
    return [p for ax in fig.axes for p in ax.patches if isinstance(p, Rectangle)]


def overall_reviews(scores: list[int]) -> pd.DataFrame:
    return make_reviews([{"score_overall": s} for s in scores])


# --- care scores -------------------------------------------------------------------------------


def test_care_scores_by_phase(tmp_path):
    # 20 reviews: overall 2 x 4, 3 x 6, 4 x 10; admission scored in 10 of them (all 4).
    rows = [{"score_overall": s} for s in [2] * 4 + [3] * 6 + [4] * 10]
    for row in rows[:10]:
        row["score_admission"] = 4
    table = descriptive.care_score_distribution(make_reviews(rows),
                                                phases=["admission", "overall"])
    fig = plots.care_scores_by_phase(table)
    render(fig, tmp_path / "care.png")
    assert plots.chart_withheld(fig) is None
    found = texts(fig)
    assert "Care scores by phase of care (20 reviews)" in found
    assert {"20%", "30%", "50%", "100%", "n = 20", "n = 10"} <= set(found)
    assert "Admission and initial\nmanagement" in found
    assert "Overall assessment of\ncare" in found
    assert {domain.label("care_score", s) for s in domain.CARE_SCORES} <= set(found)
    # non-zero segments only: overall 3, admission 1
    widths = sorted(round(b.get_width()) for b in bars(fig))
    assert widths == [20, 30, 50, 100]


def test_care_scores_on_seven_reviews_are_not_drawn(tmp_path):
    table = descriptive.care_score_distribution(overall_reviews([3] * 7), phases=["overall"])
    fig = plots.care_scores_by_phase(table)
    render(fig, tmp_path / "few.png")
    assert plots.chart_withheld(fig) == WITHHELD_REVIEWS
    assert WITHHELD_REVIEWS in texts(fig)
    assert bars(fig) == []


def test_a_phase_scored_in_fewer_than_8_reviews_gets_no_bar(tmp_path):
    rows = [{"score_overall": 4} for _ in range(12)]
    for row in rows[:5]:
        row["score_procedure"] = 3
    table = descriptive.care_score_distribution(make_reviews(rows),
                                                phases=["procedure", "overall"])
    fig = plots.care_scores_by_phase(table)
    render(fig, tmp_path / "phase.png")
    assert "Scored in fewer than 8 reviews: not shown" in texts(fig)
    assert [round(b.get_width()) for b in bars(fig)] == [100]


def test_suppressed_care_score_cells_draw_no_bar(tmp_path):
    # 30 reviews: 3 very poor (suppressed, 1-7), 12 adequate, 15 good
    table = descriptive.care_score_distribution(
        overall_reviews([1] * 3 + [3] * 12 + [4] * 15), phases=["overall"])
    protected = protect_counts(table, DisclosureRule(), columns=["count"])
    assert protected["count"].tolist()[0] == "*"
    fig = plots.care_scores_by_phase(protected)
    render(fig, tmp_path / "suppressed.png")
    # No bar at all for the phase: bars of 40% and 50% would give the withheld 10% (3) back.
    assert list(bars(fig)) == []
    # a * may stand for a count withheld beside a small one, or for differencing: not "1 to 7"
    assert any("Not shown: some scores are withheld by disclosure control" in t
               for t in texts(fig))
    assert any("1 suppressed value" in t and "no bar drawn" in t for t in texts(fig))


def test_care_score_rows_keep_their_places_whatever_is_drawn(tmp_path):
    # Phases without a bar (too few reviews, a withheld cell) still get their evenly spaced
    # row, and the axes sit in the same place (a fixed layout), bars or not.
    full = descriptive.care_score_distribution(
        make_reviews([{"score_overall": 4, "score_admission": 3} for _ in range(12)]),
        phases=["admission", "overall"])
    rows = [{"score_overall": 4} for _ in range(12)]
    rows[0]["score_admission"] = 3
    sparse = descriptive.care_score_distribution(make_reviews(rows),
                                                 phases=["admission", "overall"])
    figures = [plots.care_scores_by_phase(t) for t in (full, sparse)]
    for i, fig in enumerate(figures):
        render(fig, tmp_path / f"rows{i}.png")
        assert fig.axes[0].get_ylim() == (1.5, -0.5)  # admission on top, overall below
    assert len(bars(figures[0])) == 2 and len(bars(figures[1])) == 1
    assert figures[0].axes[0].get_position().bounds == figures[1].axes[0].get_position().bounds


def test_care_scores_refuse_several_groups():
    table = descriptive.care_score_distribution(
        make_reviews([{"score_overall": 3, "organisation_code": o} for o in ["XAA", "XAB"] * 8]),
        by="organisation_code")
    with pytest.raises(ValueError, match="one group at a time"):
        plots.care_scores_by_phase(table)


# --- problems -----------------------------------------------------------------------------------


def test_problem_types_split_by_harm(tmp_path):
    # 20 reviews; monitoring problems in 10 of them: harm no x 2, probably x 3, yes x 5
    rows = [{"score_overall": 3} for _ in range(20)]
    for row, harm in zip(rows, ["no"] * 2 + ["probably"] * 3 + ["yes"] * 5, strict=False):
        row["problem_monitoring"] = harm
    table = descriptive.problem_frequency(make_reviews(rows))
    fig = plots.problem_types(table)
    render(fig, tmp_path / "problems.png")
    found = texts(fig)
    assert "Problems in care, and whether they led to harm (20 reviews)" in found
    assert "Problem in clinical monitoring" in found  # the "(including ...)" part is dropped
    assert "Led to harm: Probably" in found
    assert sorted(round(b.get_width()) for b in bars(fig)) == [10, 15, 25]
    assert "50%" in found


def test_problem_types_suppressed_harm_cell(tmp_path):
    table = pd.DataFrame({
        "problem_type": list(domain.PROBLEM_TYPES),
        "label": [domain.label("problem_type", t) for t in domain.PROBLEM_TYPES],
        "n_reviews": [40] * 8,
        "count": [10, 0, 0, 0, 0, 0, 0, 0],
        "harm_no": [10, 0, 0, 0, 0, 0, 0, 0],
        "harm_probably": ["*", 0, 0, 0, 0, 0, 0, 0],
        "harm_yes": [0] * 8,
    })
    fig = plots.problem_types(table)
    render(fig, tmp_path / "problems_suppressed.png")
    assert [round(b.get_width()) for b in bars(fig)] == [25]
    assert any("suppressed" in t for t in texts(fig))


def test_problem_types_on_few_reviews():
    table = descriptive.problem_frequency(overall_reviews([3] * 5))
    assert plots.chart_withheld(plots.problem_types(table)) == WITHHELD_REVIEWS


# --- avoidability -------------------------------------------------------------------------------


def test_avoidability(tmp_path):
    rows = [{"score_overall": 2, "avoidability_score": s} for s in [2] * 3 + [4] * 2 + [6] * 5]
    table = descriptive.avoidability_distribution(make_reviews(rows))
    fig = plots.avoidability(table)
    render(fig, tmp_path / "avoid.png")
    found = texts(fig)
    assert "Avoidability of death in reviewed cases (10 cases with a score)" in found
    assert "More likely than not due to problems in care (1-3)" in found
    heights = [b.get_height() for b in bars(fig)]
    assert sorted(heights) == [0, 0, 0, 2, 3, 5]
    hatched = [b.get_height() for b in bars(fig) if b.get_hatch()]
    assert sorted(hatched) == [0, 0, 3]  # scores 1-3 are hatched as well as coloured


def test_avoidability_on_few_scored_cases():
    rows = [{"score_overall": 2, "avoidability_score": 3} for _ in range(7)]
    table = descriptive.avoidability_distribution(make_reviews(rows))
    fig = plots.avoidability(table)
    assert plots.chart_withheld(fig) == (
        "Fewer than 8 cases with an avoidability score: chart not shown"
    )


# --- Learning from Deaths -----------------------------------------------------------------------


def lfd_table() -> pd.DataFrame:
    return pd.DataFrame({
        "period": ["2023/24 Q1", "2023/24 Q2", "2023/24 Q3"],
        "deaths_in_scope": pd.array([100, 120, 80], dtype="Int64"),
        "reviewed": [20, 30, 10],
        "more_likely_than_not": [2, 0, 1],
    })


def test_lfd_trend(tmp_path):
    fig = plots.lfd_trend(lfd_table())
    render(fig, tmp_path / "lfd.png")
    found = texts(fig)
    assert {"20%", "25%", "12%", "Deaths in scope", "Deaths reviewed", "2023/24 Q2"} <= set(found)
    assert sorted(b.get_height() for b in bars(fig)) == [0, 1, 2, 10, 20, 30, 80, 100, 120]


def test_lfd_trend_from_the_statistics():
    reviews = make_reviews([{"score_overall": 3, "death_month": m, "case_id": f"C{i}"}
                            for i, m in enumerate(["2023-04"] * 5 + ["2023-07"] * 5)])
    # every month of both quarters in the feed (a quarter missing a month has no known deaths)
    months = ["2023-04", "2023-05", "2023-06", "2023-07", "2023-08", "2023-09"]
    deaths = pd.DataFrame({"organisation_code": ["XAA"] * 6, "month": months,
                           "deaths_in_scope": pd.array([50, 0, 0, 40, 0, 0], dtype="Int64"),
                           "learning_disability_deaths": pd.array([1, 0, 0, 0, 0, 0],
                                                                  dtype="Int64")})
    table = lfd.learning_from_deaths(reviews, deaths, period="quarter")
    fig = plots.lfd_trend(table)
    assert plots.chart_withheld(fig) is None
    assert {"10%", "12%"} <= set(texts(fig))


def test_lfd_trend_needs_8_reviewed_deaths_and_one_organisation():
    small = lfd_table().assign(reviewed=[3, 2, 2])
    assert plots.chart_withheld(plots.lfd_trend(small)) == (
        "Fewer than 8 reviewed deaths: chart not shown"
    )
    two = pd.concat([lfd_table().assign(organisation_code="XAA"),
                     lfd_table().assign(organisation_code="XAB")])
    with pytest.raises(ValueError, match="one organisation at a time"):
        plots.lfd_trend(two)


def test_lfd_suppressed_cells(tmp_path):
    table = lfd_table().astype({"more_likely_than_not": object})
    table.loc[0, "more_likely_than_not"] = "*"
    fig = plots.lfd_trend(table)
    render(fig, tmp_path / "lfd_suppressed.png")
    assert sorted(b.get_height() for b in bars(fig)) == [0, 1, 10, 20, 30, 80, 100, 120]
    assert any("1 suppressed value" in t for t in texts(fig))


# --- SPC -----------------------------------------------------------------------------------------


def point_colours(fig: Figure) -> dict[str, int]:
    """Number of points drawn per colour (hex), from the scatter collections of the chart."""
    from matplotlib.colors import to_hex

    counts: dict[str, int] = {}
    ax = fig.axes[0]
    for coll in ax.collections:
        if isinstance(coll, PathCollection):
            colour = to_hex(coll.get_facecolor()[0]).upper()
            counts[colour] = counts.get(colour, 0) + len(coll.get_offsets())
    return counts


def test_spc_chart_making_data_count_style(tmp_path):
    months = pd.period_range("2023-01", periods=14, freq="M").astype(str)
    y = pd.Series([4, 6] * 6 + [20, 5], index=months)
    frame = spc.xmr(y, target=25, fix_after_n_points=12)
    fig = plots.spc_chart(frame, title="Days from death to review, by month", y_label="Days")
    render(fig, tmp_path / "spc.png")
    found = texts(fig)
    assert "Days from death to review, by month" in found
    assert "Common cause variation" in found and "Special cause: improvement" in found
    # 13 grey common-cause points and one blue improvement point (20 > upl 10.32)
    assert point_colours(fig) == {"#A6A6A6": 13, "#00B0F0": 1}
    # icons: a variation icon and an assurance icon, each a circle in its own axes
    icon_axes = [ax for ax in fig.axes[1:] if any(isinstance(p, Circle) for p in ax.patches)]
    assert len(icon_axes) == 2
    # the last point (5) is common cause, whatever came before
    assert any("Variation at the latest point: common cause" in t for t in found)
    assert any("Assurance: the process will consistently fail the target" in t for t in found)
    assert "2023-01" in found


def test_spc_chart_percent_labels_are_distinct(tmp_path):
    # A p-chart on many reviews spans a few points (here about 15-17%): whole-percent labels on
    # half-point ticks repeated themselves ("16%, 16%"), which misreads the scale.
    months = pd.period_range("2023-01", periods=24, freq="M").astype(str)
    poor = pd.Series([1550, 1600, 1700, 1580, 1650, 1620] * 4, index=months)
    frame = spc.p_chart(poor, pd.Series([10_000] * 24, index=months), improvement="decrease")
    fig = plots.spc_chart(frame, title="Poor care, by month", y_label="% of reviews")
    render(fig, tmp_path / "percent.png")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_text()]
    assert len(labels) >= 3 and len(set(labels)) == len(labels), labels
    assert all(label.endswith("%") for label in labels)


def test_spc_chart_variation_icon_for_a_concern_low():
    # improvement "increase", last point far below -> concern, low: the icon shows "L"
    frame = spc.xmr([4, 6] * 6 + [-10])
    fig = plots.spc_chart(frame, title="t", y_label="y")
    icon_texts = [t.get_text() for ax in fig.axes[1:] for t in ax.texts]
    assert icon_texts == ["L"]
    assert point_colours(fig)["#E46C0A"] == 1
    assert any("special cause concern (lower values)" in t for t in texts(fig))


def test_spc_chart_p_chart_hides_points_on_few_cases(tmp_path):
    n = [40] * 11 + [5]
    x = [4] * 11 + [1]
    frame = spc.p_chart(pd.Series(x, index=range(12)), pd.Series(n, index=range(12)),
                        improvement="decrease")
    fig = plots.spc_chart(frame, title="Poor care, by month", y_label="Poor or very poor care")
    render(fig, tmp_path / "p.png")
    assert sum(point_colours(fig).values()) == 11
    assert any("1 point(s) based on fewer than 8 cases not shown" in t for t in texts(fig))
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_text()]
    assert labels and all(label.endswith("%") for label in labels)  # a p-chart in percent


def test_spc_chart_on_fewer_than_8_points():
    fig = plots.spc_chart(spc.xmr([1, 2, 3, 4, 5, 6, 7]), title="t", y_label="y")
    assert plots.chart_withheld(fig) == "Fewer than 8 points: chart not shown"


def test_spc_chart_with_rebase_draws_two_sets_of_limits(tmp_path):
    frame = spc.xmr(np.r_[[4, 6] * 6, [14, 16] * 6], rebase=[12])
    fig = plots.spc_chart(frame, title="t", y_label="y")
    render(fig, tmp_path / "rebase.png")
    ax = fig.axes[0]
    means = [line for line in ax.lines if line.get_color() in ("#000000", "k", "black")]
    assert len(means) == 2
    assert {round(float(np.nanmean(m.get_ydata()))) for m in means} == {5, 15}


def _inside(fig: Figure, bbox) -> bool:
    width, height = fig.canvas.get_width_height()
    return bbox.x0 >= -1 and bbox.y0 >= -1 and bbox.x1 <= width + 1 and bbox.y1 <= height + 1


@pytest.mark.parametrize("case", ["long_title", "large_values", "every_legend_entry",
                                  "hidden_points", "three_notes"])
def test_spc_chart_layout_keeps_every_text_in_the_figure(tmp_path, case):
    # The SPC layout is worked out from the widths of its texts (no tight_layout at each
    # draw): whatever the labels, nothing may be cut off at the figure's edge, the legend and
    # icons stay right of the plot, and the note stays below the x labels.
    months = pd.period_range("2021-04", periods=60, freq="M").astype(str)
    if case == "long_title":
        frame = spc.xmr(pd.Series([4, 6] * 30, index=months))
        kwargs = {"title": "A chart title long enough to wrap onto a second line, as a "
                           "national title by month of death does", "y_label": "Days"}
    elif case == "large_values":
        frame = spc.xmr(pd.Series(np.linspace(120_000, 150_000, 60), index=months))
        kwargs = {"title": "Deaths in scope", "y_label": "Deaths"}
    elif case == "every_legend_entry":
        y = pd.Series([4, 6] * 6 + [20, 5, 30, 31, 32, 29, 33, 35], index=months[:20])
        frame = spc.xmr(y, target=25, fix_after_n_points=12, rebase=[months[12]])
        kwargs = {"title": "Days from death to review", "y_label": "Days"}
    else:
        n = pd.Series([40] * 11 + [5], index=months[:12])
        frame = spc.p_chart(pd.Series([4] * 11 + [1], index=n.index), n,
                            improvement="decrease", target=0.2 if case == "three_notes" else None)
        kwargs = {"title": "Poor care, by month", "y_label": "Poor or very poor care"}
    fig = plots.spc_chart(frame, **kwargs)
    if case == "three_notes":  # variation, assurance and hidden points: two lines
        assert fig.texts[0].get_text().count("\n") == 1
    render(fig, tmp_path / f"{case}.png")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    ax = fig.axes[0]
    low, high = sorted(ax.get_ylim())
    y_ticks = [t for t in ax.get_yticklabels() if low <= t.get_position()[1] <= high]
    shown = [t for t in [*fig.texts, *ax.texts, ax.title, ax._left_title, ax.xaxis.label,
                         ax.yaxis.label, *ax.get_xticklabels(), *y_ticks]
             if t.get_text() and t.get_visible()]
    for text in shown:
        assert _inside(fig, text.get_window_extent(renderer)), text.get_text()
    plot = ax.get_window_extent(renderer)
    legend = ax.get_legend().get_window_extent(renderer)
    assert _inside(fig, legend) and legend.x0 >= plot.x1
    for icon in fig.axes[1:]:
        box = icon.get_window_extent(renderer)
        assert _inside(fig, box) and box.x0 >= plot.x1
    note = fig.texts[0].get_window_extent(renderer)
    lowest_tick = min(t.get_window_extent(renderer).y0 for t in ax.get_xticklabels()
                      if t.get_text())
    assert note.y1 <= lowest_tick


def test_care_scores_texts_fit_and_do_not_overlap_the_legend(tmp_path):
    # A national table (six-digit counts): every text inside the figure, and the legend over
    # the bars clear of the "n = ..." labels and of the title.
    rows = [{"score_overall": s, "score_admission": s} for s in (1, 2, 3, 4, 5)]
    table = descriptive.care_score_distribution(make_reviews(rows),
                                                phases=["admission", "overall"])
    table[["count", "n_applicable", "n_reviews"]] *= 54_321
    fig = plots.care_scores_by_phase(table)
    render(fig, tmp_path / "national.png")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    ax = fig.axes[0]
    shown = [t for t in [*ax.texts, ax._left_title, *ax.get_yticklabels(), ax.xaxis.label]
             if t.get_text()]
    assert "n = 271605" in [t.get_text() for t in shown]
    legend = ax.get_legend().get_window_extent(renderer)
    assert _inside(fig, legend)
    for text in shown:
        box = text.get_window_extent(renderer)
        assert _inside(fig, box), text.get_text()
        assert not box.overlaps(legend), text.get_text()


def test_spc_chart_draws_no_limit_for_a_point_on_fewer_than_8_cases(tmp_path):
    # 11 months on 40 reviews, the 11th far above the rest (20/40: special cause of concern),
    # then a month on 5 reviews: no marker and no limit there, and the icon speaks for the
    # latest month that rests on 8 or more reviews.
    n = pd.Series([40] * 11 + [5], index=range(12))
    frame = spc.p_chart(pd.Series([4] * 10 + [20, 1], index=n.index), n,
                        improvement="decrease")
    fig = plots.spc_chart(frame, title="Poor care, by month", y_label="Poor or very poor care")
    render(fig, tmp_path / "few.png")
    limit_lines = [line for line in fig.axes[0].lines
                   if line.get_color() == plots.SPC_COLOURS["limits"]]
    assert len(limit_lines) == 2  # lower and upper
    for line in limit_lines:
        y = np.asarray(line.get_ydata(), dtype=float)
        assert np.isnan(y[11]) and np.isfinite(y[:11]).all()
    icon_texts = [t.get_text() for ax in fig.axes[1:] for t in ax.texts]
    assert icon_texts == ["H"]
    assert any("special cause concern (higher values)" in t for t in texts(fig))
    assert any("not judged for special cause" in " ".join(t.split()) for t in texts(fig))


def test_spc_chart_with_too_few_points_on_8_cases_is_withheld():
    n = pd.Series([40] * 7 + [5] * 5, index=range(12))
    frame = spc.p_chart(pd.Series([4] * 12, index=n.index), n)
    assert plots.chart_withheld(plots.spc_chart(frame, title="t", y_label="y")) == \
        "Fewer than 8 points on 8 or more cases: chart not shown"
