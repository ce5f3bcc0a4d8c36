"""Report tables, narrative and stamp on small hand-made frames (no kernel, no database)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from sjrlib import domain
from sjrlib.disclosure import DisclosureRule
from sjrlib.report import narrative, tables
from sjrlib.report.data import snapshot_hash
from sjrlib.report.figures import Chart
from sjrlib.report.stamp import Stamp

RULE = DisclosureRule()


def _lfd_quarters(reviewed, deaths, mltn, avoid):
    rows = []
    for i, (r, d, m, a) in enumerate(zip(reviewed, deaths, mltn, avoid, strict=True)):
        row = {"period": f"2024/25 Q{i + 1}", "deaths_in_scope": d, "reviewed": r,
               "more_likely_than_not": m, "ld_deaths": 3, "ld_reviewed": 2,
               "ld_more_likely_than_not": 0}
        for s in domain.AVOIDABILITY_SCORES:
            row[f"avoidability_{s}"] = a[s - 1]
        row["avoidability_not_scored"] = r - sum(a)
        rows.append(row)
    return pd.DataFrame(rows)


def test_lfd_tables_are_cut_from_one_protected_frame():
    quarters = _lfd_quarters(
        reviewed=[40, 52, 61, 38], deaths=[400, 410, 380, 390], mltn=[3, 9, 0, 12],
        avoid=[(0, 1, 2, 3, 4, 20), (0, 2, 7, 5, 5, 20), (0, 0, 0, 10, 10, 30),
               (1, 5, 6, 10, 4, 10)],
    )
    raw, protected = tables.protect_lfd(quarters, RULE, total_label="2024-25\u00a0total")
    assert raw.loc["2024-25\u00a0total", "reviewed"] == 191
    assert list(protected.index)[0] == "Q1\u00a0Apr\u2060–\u2060Jun\u00a02024"
    headline = tables.lfd_quarterly_table(protected, RULE, total_label="2024-25\u00a0total")
    avoid = tables.lfd_avoidability_table(protected, RULE, total_label="2024-25\u00a0total")
    # "reviewed" is shown in both tables: the same protected values
    assert list(headline.frame["Deaths reviewed (SJR)"]) == list(avoid.frame["Deaths reviewed"])
    for table in (headline, avoid, tables.lfd_ld_table(protected, RULE,
                                                       total_label="2024-25\u00a0total")):
        text = table.text_frame().to_numpy().ravel()
        assert not any(re.fullmatch(r"[1-7]", t) for t in text)
    # learning disability deaths of 3 per quarter: counts and their percentages withheld
    assert set(protected["ld_deaths"].iloc[:4]) == {"*"}
    assert set(protected["ld_percent_reviewed"].iloc[:4]) == {"*"}
    html = headline._repr_html_()
    assert "<caption>" in html and 'class="total"' in html


def test_care_score_table_withholds_small_percentages_and_their_intervals():
    from sjrlib.stats import descriptive

    reviews = pd.DataFrame({
        "review_id": [f"r{i}" for i in range(30)],
        "case_id": [f"c{i}" for i in range(30)],
        "organisation_code": "X01",
        "review_stage": "first",
        "status": "submitted",
        "review_date": pd.Timestamp("2024-06-01"),
        "death_month": "2024-05",
        **{domain.score_column(p): pd.array([pd.NA] * 30, dtype="Int64")
           for p in domain.PHASES},
    })
    reviews[domain.score_column("overall")] = pd.array([1] * 3 + [4] * 27, dtype="Int64")
    reviews[domain.score_column("admission")] = pd.array([2] * 10 + [3] * 20, dtype="Int64")
    distribution = descriptive.care_score_distribution(reviews)
    poor = {p: descriptive.poor_care(reviews, phase=p) for p in domain.PHASES}
    table = tables.care_score_table(distribution, poor, RULE)
    overall = table.frame.loc[domain.label("phase", "overall")]
    assert overall["1 Very poor care"] == "*"
    assert overall["% poor or very poor care"] == "*"  # 3 of 30: the numerator is small
    assert pd.isna(overall["95% confidence interval"])
    # 10 of 30 poor on admission, printed 10 and 30: a percentage to one decimal or to whole
    # numbers fits no other pair of counts within the rounding (a reader taking it for one of
    # exact counts would pin 10 of 30), so it is not printed
    admission = table.frame.loc[domain.label("phase", "admission")]
    assert admission["1 Very poor care"] == 0 and admission["2 Poor care"] == 10
    assert admission["Reviews scoring this phase"] == 30
    assert pd.isna(admission["% poor or very poor care"])
    safe = tables.protect_distribution(distribution, RULE, group="phase")
    row = safe[(safe["phase"] == "overall") & (safe["score"] == 1)].iloc[0]
    assert row["count"] == "*" and np.isnan(row["percent"])


def test_narrative_never_writes_a_small_number():
    assert narrative.count_phrase("*", "deaths") == \
        "a number of deaths (withheld by disclosure control)"
    assert narrative.count_phrase(25, "deaths") == "about 25 deaths"
    assert narrative.count_phrase(0, "deaths") == "no deaths"


def test_spc_sentence_names_months_of_concern_inside_the_period():
    frame = pd.DataFrame({
        "point_type": ["common_cause"] * 10 + ["special_cause_concern"] * 2,
        "outside_limits": [False] * 11 + [True],
    }, index=[f"2024-{m:02d}" for m in range(1, 13)])
    text = narrative.spc_sentence("poor care", frame, improvement="decrease",
                                  period_start="2024-04")
    assert text.startswith("Special cause of concern in poor care: November 2024 and "
                           "December 2024, including a point outside the process limits")
    quiet = frame.assign(point_type="common_cause", outside_limits=False)
    assert "only common cause" in narrative.spc_sentence(
        "poor care", quiet, improvement="decrease", period_start="2024-04")


def test_second_stage_backlog_counts_poor_first_stage_cases_without_second_stage():
    reviews = pd.DataFrame({
        "organisation_code": ["X01"] * 4,
        "case_id": ["a", "b", "c", "a"],
        "review_stage": ["first", "first", "first", "second"],
        "score_overall": pd.array([1, 2, 4, 3], dtype="Int64"),
    })
    assert narrative.second_stage_backlog(reviews) == 1


def test_snapshot_hash_ignores_row_order_but_not_content():
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    assert snapshot_hash(frame) == snapshot_hash(frame.iloc[::-1])
    assert snapshot_hash(frame) != snapshot_hash(frame.assign(a=[1, 2, 4]))


def test_stamp_hides_the_database_password():
    stamp = Stamp({"db": "postgresql+psycopg://u:secret@h/db", "data_file": "/tmp/x.pkl",
                   "period": "2024-25"}, "ab" * 32, 10)
    html = stamp._repr_html_()
    assert "secret" not in html and "x.pkl" not in html
    assert "sjr-generated" in html and "ab" * 32 in html


def test_chart_has_alt_text_and_is_deterministic():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2))
    ax = fig.add_subplot()
    ax.bar([1, 2], [3, 4])
    ax.set_title("Care scores")
    chart = Chart(fig)
    assert chart.png() == chart.png()
    assert 'alt="Care scores"' in chart._repr_html_()


def test_headline_gives_an_interval_only_on_eight_or_more_reviews():
    from sjrlib.report.national import poor_care_sentence

    few = pd.DataFrame({"n": [5], "events": [2], "proportion": [0.4], "ci_lower": [0.12],
                        "ci_upper": [0.77]})
    many = few.assign(n=[50], events=[20])
    assert poor_care_sentence("Scotland", few, 0.95) == (
        "Scotland: 40.0% of 5 first-stage reviews found poor or very poor overall care.")
    assert poor_care_sentence("England", many, 0.95) == (
        "England: 40.0% of 50 first-stage reviews found poor or very poor overall care "
        "(95% CI 12.0-77.0%).")
    assert poor_care_sentence("Wales", few.iloc[:0], 0.95) is None


def _feed_quarters(deaths_rows, review_months):
    from strategies import make_reviews

    from sjrlib.stats.lfd import learning_from_deaths

    deaths = pd.DataFrame(deaths_rows, columns=list(domain.DEATH_COLUMNS)).astype(
        domain.DEATH_DTYPES)
    reviews = make_reviews([dict(death_month=m) for m in review_months])
    return learning_from_deaths(reviews, deaths, period="quarter", by_organisation=False,
                                as_of="2024-09")


def test_a_quarter_missing_a_month_of_the_feed_shows_not_known_and_names_it():
    # May 2024 is missing: Q1's deaths are not known (not 200), nor the year's
    quarters = _feed_quarters([("XAA", "2024-04", 100, 0), ("XAA", "2024-06", 100, 0),
                              ("XAA", "2024-07", 90, 0), ("XAA", "2024-08", 80, 0),
                              ("XAA", "2024-09", 70, 0)], ["2024-04"] * 9 + ["2024-07"] * 10)
    for rule in (RULE, DisclosureRule.off()):
        _, protected = tables.protect_lfd(quarters, rule, total_label="total")
        table = tables.lfd_quarterly_table(protected, rule, total_label="total")
        text = table.text_frame()
        q1 = tables.quarter_label("2024/25 Q1")
        assert text.at[q1, "Deaths in scope"] == "not known"
        assert text.at[q1, "% of deaths reviewed"] == "not known"
        assert text.at["total", "Deaths in scope"] == "not known"
        assert text.at[tables.quarter_label("2024/25 Q2"), "Deaths in scope"] == "240"
        assert "Q1 Apr–Jun 2024: May 2024 missing" in table.note
    clean = _feed_quarters([("XAA", f"2024-0{m}", 100, 0) for m in range(4, 10)], ["2024-04"])
    _, protected = tables.protect_lfd(clean, RULE, total_label="total")
    assert "not known" not in tables.lfd_quarterly_table(protected, RULE,
                                                         total_label="total").note


def test_more_reviews_than_deaths_is_flagged_not_printed_as_a_percentage():
    quarters = _feed_quarters([("XAA", "2024-04", 10, 0), ("XAA", "2024-05", 0, 0),
                              ("XAA", "2024-06", 0, 0)], ["2024-04"] * 30)
    for rule in (RULE, DisclosureRule.off()):
        _, protected = tables.protect_lfd(quarters, rule, total_label="total")
        text = tables.lfd_quarterly_table(protected, rule, total_label="total").text_frame()
        shown = text.at[tables.quarter_label("2024/25 Q1"), "% of deaths reviewed"]
        assert shown == tables.EXCEEDS
        assert "300" not in " ".join(text.to_numpy().ravel())


def _phase_reviews(scores: dict[int, int]) -> pd.DataFrame:
    """First-stage reviews of one organisation with these admission scores (score -> count)."""
    values = [s for s, n in scores.items() for _ in range(n)]
    n = len(values)
    reviews = pd.DataFrame({
        "review_id": [f"r{i}" for i in range(n)], "case_id": [f"c{i}" for i in range(n)],
        "organisation_code": "X01", "review_stage": "first", "status": "submitted",
        "review_date": pd.Timestamp("2024-06-01"), "death_month": "2024-05",
        **{domain.score_column(p): pd.array([pd.NA] * n, dtype="Int64") for p in domain.PHASES},
    })
    reviews[domain.score_column("admission")] = pd.array(values, dtype="Int64")
    return reviews


def test_percent_poor_care_tells_nothing_the_cells_shown_do_not():
    """The audit's XA2 admissions row: 13 and 28 shown as 15 and 30 of 400. A percentage of
    the exact sum rounded (41 -> 40, 10.0%) pinned the exact sum to 41-42; the percentage is now
    of the cells shown (45 of 400), and none when a cell is hidden: two hidden cells' sum
    (e.g. 6 + 7 as 15 of 45) would narrow each."""
    from sjrlib.stats import descriptive

    def admission(scores):
        reviews = _phase_reviews(scores)
        table = tables.care_score_table(
            descriptive.care_score_distribution(reviews),
            {p: descriptive.poor_care(reviews, phase=p) for p in domain.PHASES}, RULE)
        return table.frame.loc[domain.label("phase", "admission")]

    row = admission({1: 13, 2: 28, 3: 200, 4: 159})
    assert (row["1 Very poor care"], row["2 Poor care"], row["Reviews scoring this phase"]) \
        == (15, 30, 400)
    assert row["% poor or very poor care"] == 11.25  # 45 of 400
    both_hidden = admission({1: 6, 2: 7, 3: 20, 4: 12})
    assert both_hidden["1 Very poor care"] == "*" and both_hidden["2 Poor care"] == "*"
    assert both_hidden["% poor or very poor care"] in ("*", None) \
        or pd.isna(both_hidden["% poor or very poor care"])


def _hidden_range(members: list[object], total: object, j: int) -> tuple[int, float]:
    """What a row (or column) of printed cells and its printed total say of member ``j``, a
    ``*``: each printed count is the range its form allows (0; a rounded count; ``*`` = 1 or
    more), and the members add up to the total."""
    from sjrlib.disclosure import count_range

    def bounds(shown):
        lo, hi = count_range(shown, RULE)
        return lo, float("inf") if hi is None else hi

    t_lo, t_hi = bounds(total)
    others = [bounds(m) for i, m in enumerate(members) if i != j]
    return (max(1, t_lo - sum(hi for _, hi in others)),
            t_hi - sum(lo for lo, _ in others))


def test_a_quarters_rounded_total_does_not_narrow_its_hidden_avoidability_cells():
    """The disclosure checker prototype's finding: a quarter of 40 reviewed deaths (38-42
    printed as 40) with avoidability 5 and 6 printed as 20 each (18-22) left its two hidden
    scores 1-5 each, not 1-7 (40 - 18 - 18 = at most 6 for both). Every ``*`` of the
    Learning from Deaths frame (the tables and the workbook are cut from it) now allows at least
    1 to 7 against its row's reviewed total and its column's year total."""
    total = "2024-25\u00a0total"
    quarters = _lfd_quarters(
        reviewed=[40, 60, 60, 60], deaths=[400] * 4, mltn=[4, 20, 20, 20],
        avoid=[(2, 2, 0, 0, 18, 18), (0, 0, 20, 20, 10, 10), (0, 0, 20, 20, 10, 10),
               (0, 0, 20, 20, 10, 10)])
    _, protected = tables.protect_lfd(quarters, RULE, total_label=total)
    parts = tables._AVOIDABILITY_PARTS
    frame = protected[["reviewed", *parts]]
    hidden = 0
    for label in frame.index:
        row = [frame.at[label, c] for c in parts]
        for j, cell in enumerate(row):
            if cell == RULE.symbol:
                hidden += 1
                lo, hi = _hidden_range(row, frame.at[label, "reviewed"], j)
                assert lo == 1 and hi >= RULE.threshold, (label, parts[j], lo, hi)
    body = [r for r in frame.index if r != total]
    for column in frame.columns:
        cells = [frame.at[r, column] for r in body]
        for j, cell in enumerate(cells):
            if cell == RULE.symbol:
                lo, hi = _hidden_range(cells, frame.at[total, column], j)
                assert lo == 1 and hi >= RULE.threshold, (body[j], column, lo, hi)
    assert hidden >= 2


def test_a_quarter_charted_by_month_does_not_narrow_its_hidden_avoidability_cells():
    """The pipeline check's finding (XC2's workbook, 2024-25): a quarter of 38 reviewed deaths
    printed 40 (38-42) and plotted as months of 10, 15 and 10 (at most 41 together), with 35
    not scored (33-37) and three hidden scores: 41 - 33 - 1 - 1 left each 1-6. Protected
    knowing the chart's months, no ``*`` of the quarter is narrowed below 1-7."""
    total = "2024-25\u00a0total"
    quarters = _lfd_quarters(
        reviewed=[38, 60, 60, 60], deaths=[400] * 4, mltn=[1, 20, 20, 20],
        avoid=[(0, 0, 1, 0, 1, 1), (0, 0, 20, 20, 10, 10), (0, 0, 20, 20, 10, 10),
               (0, 0, 20, 20, 10, 10)])
    q1 = tables.quarter_label("2024/25 Q1")
    months = [(8, 12), (13, 17), (8, 12)]  # 10, 15 and 10 as the chart prints them

    from sjrlib.disclosure import count_range

    def widest_star(known):
        _, protected = tables.protect_lfd(quarters, RULE, total_label=total, known=known)
        row = [protected.at[q1, c] for c in tables._AVOIDABILITY_PARTS]
        reviewed = (38, 41)  # what the printed 40 and the months leave
        highs = []
        for j, cell in enumerate(row):
            if cell == RULE.symbol:  # at most the reviewed less every other cell's least
                others = [count_range(c, RULE)[0] for i, c in enumerate(row) if i != j]
                highs.append(reviewed[1] - sum(others))
        return min(highs)

    assert widest_star(None) < RULE.threshold  # the old protection: 1-6
    assert widest_star({(q1, "reviewed"): months}) >= RULE.threshold


def test_a_count_phrase_never_bounds_a_star():
    """A sentence bounding a * ("fewer than 8") bounded the table's * quarters beside it (an
    audit of the demo's reports, 2026-12-06: XJ2's four * quarters each at most 4), and was
    false of a * withheld for differencing."""
    for star in ("*", "\u2020"):
        phrase = narrative.count_phrase(star, "deaths", star)
        assert phrase == "a number of deaths (withheld by disclosure control)"
        assert not re.search(r"fewer|small|less than|under \d", phrase)


def test_more_likely_than_not_does_not_narrow_its_hidden_avoidability_scores():
    """An audit of the demo's reports (2026-12-06), XT9's year: more likely than not 15
    (13-17), avoidability 1 0, 2 ``*``, 3 15 (13-17). The three scores add up to more likely
    than not, so score 2 was at most 17 - 13 = 4. The case here, found by a search against the
    old protection: Q4 prints more likely than not 10 (8-12) and score 3 10 (8-12), so its two
    hidden scores 1 and 2 were at most 3 each. Every ``*`` among scores 1-3 now allows 1 to 7
    against its row's more likely than not."""
    total = "2024-25\u00a0total"
    avoid = [(0, 0, 9, 10, 15, 20), (0, 0, 0, 10, 15, 20), (1, 0, 5, 10, 15, 20),
             (1, 2, 9, 10, 15, 20)]
    quarters = _lfd_quarters(reviewed=[60] * 4, deaths=[400] * 4,
                             mltn=[sum(a[:3]) for a in avoid], avoid=avoid)
    _, protected = tables.protect_lfd(quarters, RULE, total_label=total)
    scores = [f"avoidability_{s}" for s in domain.MORE_LIKELY_THAN_NOT]
    narrowed = []
    for label in protected.index:
        shown = protected.at[label, "more_likely_than_not"]
        row = [protected.at[label, c] for c in scores]
        for j, cell in enumerate(row):
            if cell == RULE.symbol and shown != RULE.symbol:
                lo, hi = _hidden_range(row, shown, j)
                if not (lo == 1 and hi >= RULE.threshold):
                    narrowed.append((label, scores[j], lo, hi))
    assert narrowed == []
    assert protected.at[total, "more_likely_than_not"] != RULE.symbol  # still published


def _lfd_attack(printed: pd.DataFrame, total: str) -> list:
    """The checker's attack (interval propagation, then a trust page's relations taken
    together) on a Learning from Deaths frame as printed: quarters add up to the year,
    avoidability (and not scored) to reviewed, scores 1-3 to more likely than not."""
    from sjrlib.disclosure_check import Problem

    columns = ["reviewed", "more_likely_than_not", *tables._AVOIDABILITY_PARTS]
    problem = Problem()
    for label in printed.index:
        for column in columns:
            problem.count(("XAA", label, column), str(printed.at[label, column]),
                          threshold=RULE.threshold, rounding=RULE.rounding,
                          where=f"{label} {column}")
    body = [r for r in printed.index if r != total]
    for column in columns:
        problem.add_sum([("XAA", r, column) for r in body], ("XAA", total, column), "year")
    for label in printed.index:
        problem.add_sum([("XAA", label, c) for c in tables._AVOIDABILITY_PARTS],
                        ("XAA", label, "reviewed"), "reviewed")
        problem.add_sum([("XAA", label, c) for c in tables._MLTN_PARTS],
                        ("XAA", label, "more_likely_than_not"), "mltn")
    problem.solve()
    while problem.combine():
        problem.solve()
    return problem.solve() + problem.narrowed()


def test_the_year_of_scores_5_and_6_does_not_narrow_their_quarters_through_more_likely_than_not():
    """The checker's finding on the test store (XE6, 2022-23) once it took a page's relations
    together: the year printed avoidability scores 2, 3, 5 and 6 as *, not scored 525 and
    reviewed 540, so the four * add up to 11-19; more likely than not, 10 (8-12), is scores
    2 and 3, so scores 5 and 6 add up to at most 11, and their six * quarters were each 1-6.
    Each relation alone narrowed nothing. Protected with scores 1-3 adding up to more likely
    than not, and attacked with the relations taken together, nothing is narrowed; the same
    counts protected without them are (so the attack can find what it looks for)."""
    total = "2022-23\u00a0total"
    quarters = _lfd_quarters(
        reviewed=[125, 135, 160, 125], deaths=[465, 475, 530, 540], mltn=[2, 1, 3, 3],
        avoid=[(0, 0, 2, 0, 0, 1), (0, 0, 1, 0, 1, 2), (0, 1, 2, 0, 2, 0),
               (0, 2, 1, 0, 1, 1)])
    _, protected = tables.protect_lfd(quarters, RULE, total_label=total)
    assert _lfd_attack(protected, total) == []
    from sjrlib.disclosure import protect_counts

    raw = quarters.set_index(quarters["period"])[list(tables.LFD_COUNTS)].astype(object)
    raw.index.name = None
    raw.loc[total] = raw.sum()
    plain = protect_counts(raw, RULE, columns=list(tables.LFD_COUNTS), total_row=total,
                           total_column="reviewed", parts=tables._AVOIDABILITY_PARTS)
    assert _lfd_attack(plain, total)


def _star_ranges(deaths, reviewed, rule):
    """Every value each ``*`` of a learning disability table's deaths and reviewed columns
    can take, given the printed quarters and year of both and that each quarter's reviewed
    deaths are among its deaths (found by enumerating the quarters, not by the code under
    test). ``deaths`` and ``reviewed``: the printed cells, quarters then the year."""
    def values(cell, most):
        if cell == rule.symbol:
            return range(1, most + 1)  # a * may be a larger count behind a secondary one
        if cell in (0, None):
            return range(0, 1)
        return range(int(cell) - 2, int(cell) + 3)

    year_d, year_r = set(values(deaths[4], 0)), set(values(reviewed[4], 0))
    most = max(year_d)
    quarters = [[(d, r) for d in values(dc, most) for r in values(rc, most) if r <= d]
                for dc, rc in zip(deaths[:4], reviewed[:4], strict=True)]

    def sums(pairs_list):  # every (deaths, reviewed) the quarters can add up to
        reach = {(0, 0)}
        for pairs in pairs_list:
            reach = {(a + d, b + r) for a, b in reach for d, r in pairs if a + d <= most}
        return reach

    seen: dict[tuple[str, int], set[int]] = {}
    for i, pairs in enumerate(quarters):
        rest = sums(quarters[:i] + quarters[i + 1:])
        for d, r in pairs:
            if any(d + a in year_d and r + b in year_r for a, b in rest):
                seen.setdefault(("deaths", i), set()).add(d)
                seen.setdefault(("reviewed", i), set()).add(r)
    return seen


def test_learning_disability_deaths_do_not_narrow_against_their_reviews(monkeypatch):
    """The disclosure audit's XE1 (2026-12-06): learning disability deaths printed 10, *, *, *
    (year 20) beside reviewed 10, *, 0, * (year 20). Q3's reviewed 0 and each quarter's
    reviewed being among its deaths left Q3's deaths * at 1-4: the year's deaths less its
    reviewed is at most 22 - 18. Protected knowing that reviewed deaths are among deaths, no
    * of either column is narrowed inside 1-7 (checked by enumerating the quarters)."""
    total = "2024-25\u00a0total"
    quarters = _lfd_quarters(reviewed=[60] * 4, deaths=[400] * 4, mltn=[20] * 4,
                             avoid=[(0, 0, 20, 20, 10, 10)] * 4)
    quarters["ld_deaths"] = [10, 5, 2, 3]
    quarters["ld_reviewed"] = [10, 5, 0, 3]
    quarters["ld_more_likely_than_not"] = [0, 0, 0, 0]

    def narrowed():
        _, protected = tables.protect_lfd(quarters, RULE, total_label=total)
        deaths, reviewed = list(protected["ld_deaths"]), list(protected["ld_reviewed"])
        out = []
        for (column, i), seen in _star_ranges(deaths, reviewed, RULE).items():
            cell = (deaths if column == "deaths" else reviewed)[i]
            if cell == RULE.symbol and max(seen) < RULE.threshold:
                out.append((column, i, min(seen), max(seen)))
        return deaths, reviewed, out

    with monkeypatch.context() as m:
        m.setattr(tables, "_lfd_among", lambda raw, exceeds: [])
        deaths, reviewed, before = narrowed()
    assert [deaths, reviewed] == [[10, "*", "*", "*", 20], [10, "*", 0, "*", 20]]
    assert ("deaths", 2, 1, 4) in before  # the audit's finding, without the relation
    assert narrowed()[2] == []
