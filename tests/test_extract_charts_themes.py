"""The researcher's theme chart: shares counted by hand on a small extract written here."""

from __future__ import annotations

import pandas as pd

from sjrlib import extract_charts
from sjrlib.plots import chart_withheld
from sjrlib.themes.codebook import shipped_codebook

SHIPPED = shipped_codebook()

REVIEWS = pd.DataFrame({
    "review_id": ["a", "b", "c", "d", "s"],
    "review_stage": ["first", "first", "first", "first", "second"],
})
CODES = pd.DataFrame({
    # a: sepsis twice (two phases) and medication; b: sepsis; c: only a second coder's code;
    # d: not coded; s: a second-stage review (not counted)
    "review_id": ["a", "a", "a", "a", "b", "c", "s"],
    "theme": ["sepsis", "sepsis", "medication", "good_practice", "sepsis", "procedure",
              "sepsis"],
    "phase": ["admission", "ongoing", None, None, None, None, None],
    "codebook_version": ["2026.1"] * 7,
    "coder": pd.array([1, 1, 1, 2, 1, 2, 1], dtype="Int64"),
    "from_suggestion": pd.array([True, False, False, False, True, False, False],
                                dtype="boolean"),
})


def test_theme_shares_count_each_coded_first_stage_review_once_by_its_first_coder():
    table = extract_charts.theme_shares(REVIEWS, CODES)
    # coded by a first coder: a and b (c has only a second coder's code; s is second stage)
    assert table["coded_reviews"].eq(2).all()
    assert table["with_theme"].to_dict() == {"sepsis": 2, "medication": 1}
    assert table.loc["sepsis", "percent"] == 100 and table.loc["medication", "percent"] == 50


def test_the_chart_is_drawn_or_says_why_not():
    fig = extract_charts.theme_chart(REVIEWS, CODES, SHIPPED)
    assert chart_withheld(fig) is None
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["Medicines, fluids and oxygen", "Sepsis recognition and treatment"]
    assert "no theme_codes" in chart_withheld(extract_charts.theme_chart(REVIEWS, None, SHIPPED))
    fig = extract_charts.theme_chart(REVIEWS.drop(columns=["review_stage"]), CODES,
                                     SHIPPED)
    assert chart_withheld(fig).startswith("Your extract has no review_stage (")
    none = CODES[CODES["coder"] == 2]
    assert "No first-stage review" in chart_withheld(
        extract_charts.theme_chart(REVIEWS, none, SHIPPED))


def test_the_chart_is_labelled_by_the_stores_codebook():
    """Before: the bars carried the labels of the codebook shipped with sjr (2026.1) whatever
    the store held: on a store at 2026.2 senior_review kept its old label, a code of nutrition
    (new in 2026.2) showed its bare id and one of patient_flow (retired) read as current.
    Now the chart takes the store's codebook (a researcher's session may read it)."""
    import dataclasses

    from sjrlib.themes.codebook import Theme

    themes = tuple(dataclasses.replace(
        t, retired=t.id == "patient_flow",
        label="Timely senior review" if t.id == "senior_review" else t.label)
        for t in SHIPPED.themes)
    book = dataclasses.replace(SHIPPED, version="2026.2", themes=(*themes, Theme(
        "nutrition", "Nutrition and hydration", "Food and fluids.", ("no MUST score",))))
    codes = CODES.assign(theme=["senior_review", "nutrition", "patient_flow", "sepsis",
                                "senior_review", "sepsis", "sepsis"])
    fig = extract_charts.theme_chart(REVIEWS, codes, book)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["Patient flow and the organisation of care (retired)",
                      "Nutrition and hydration", "Timely senior review"]


def test_every_word_of_the_chart_is_inside_the_picture_2026_12_09():
    """Before: the title was set over the axes, which start after the long theme labels, so
    in the researcher's notebook it ran off the picture ("Themes coded in first-stage reviews
    (% of cod"), and the longest bar's " 42% (636)" could too. Every text is now drawn inside
    the figure (rendered as the notebook shows it: Chart's PNG, no bbox re-layout)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    many = pd.DataFrame({"review_id": [f"r{i}" for i in range(40)],
                         "review_stage": ["first"] * 40})
    themes = [t.id for t in SHIPPED.active]
    codes = pd.DataFrame({
        "review_id": [f"r{i}" for i in range(40) for _ in range(i % 3 + 1)],
        "theme": [themes[(i + k) % len(themes)] for i in range(40) for k in range(i % 3 + 1)],
        "phase": None, "codebook_version": "2026.1",
        "coder": pd.array([1] * sum(i % 3 + 1 for i in range(40)), dtype="Int64"),
        "from_suggestion": False,
    })
    fig = extract_charts.theme_chart(many, codes, SHIPPED)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    ax = fig.axes[0]
    texts = [*fig.texts, ax.title, ax._left_title, *ax.texts, *ax.get_yticklabels()]
    shown = [t for t in texts if t.get_visible() and t.get_text()]
    assert any("Themes coded in first-stage reviews" in t.get_text() for t in shown)
    width, height = fig.bbox.width, fig.bbox.height
    for text in shown:
        box = text.get_window_extent(renderer)
        assert box.x0 >= 0 and box.x1 <= width + 0.5 and box.y1 <= height + 0.5, (
            f"{text.get_text()!r} is drawn outside the picture: {box} in {width}x{height}")
