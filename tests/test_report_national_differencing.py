"""The national report's pooled tables against each organisation's own report of the same
counts (``sjrlib.disclosure.differencing_risk``): Learning from Deaths by nation, completeness,
poor care by region, the selected-sample and trend tables. Hand-written stores: sixteen English
trusts with one rare death each (``*`` in their own reports) and one Scottish board without;
a pooled 16 (15 once rounded, 13-17) would say each English ``*`` is 1-2, not 1-7."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sjrlib import domain
from sjrlib.disclosure import DisclosureRule
from sjrlib.report.data import ReportData
from sjrlib.report.national import NationalReport
from sjrlib.report.params import Period

sys.path.insert(0, str(Path(__file__).parent))
from differencing import narrowed  # noqa: E402

RULE = DisclosureRule()
PERIOD = Period("2024-04", "2025-03", "2024-25")
ENGLISH = [f"XA{i:02d}" for i in range(16)]
SCOTTISH = "S08000001"


def _store(rare: int = 1) -> ReportData:
    """Each English trust: 20 reviewed deaths in June 2024, ``rare`` of them with very poor
    overall care, judged definitely avoidable, of a patient with a learning disability (and
    one of those deaths with only a draft review as well); the Scottish board: 40 reviewed
    deaths, none rare. 30 deaths a month in every organisation's feed."""
    reviews, deaths, drafts = [], [], []
    for code in [*ENGLISH, SCOTTISH]:
        n, k = (40, 0) if code == SCOTTISH else (20, rare)
        for i in range(n):
            rare_one = i < k
            reviews.append({
                "review_id": f"{code}-r{i}", "case_id": f"{code}-c{i}",
                "organisation_code": code, "review_stage": "first", "status": "submitted",
                "form_version": "rcp2017", "review_date": pd.Timestamp("2024-08-01"),
                "death_month": "2024-06", "age_at_death": 80,
                "learning_disability": "yes" if rare_one else "no",
                "score_overall": 1 if rare_one else 3,
                "avoidability_score": 1 if rare_one else 6,
                "avoidability_scale": "rcp",
                "region": "Scotland" if code == SCOTTISH else "London",
                "nation": "scotland" if code == SCOTTISH else "england",
            })
        for month in PERIOD.months():
            deaths.append({"organisation_code": code, "month": month, "deaths_in_scope": 30,
                           "learning_disability_deaths": k if month == "2024-06" else 0})
        if k:
            drafts.append({"organisation_code": code, "death_month": "2024-06",
                           "drafts_outstanding": k})
    frame = _review_frame(reviews)
    organisations = pd.DataFrame({
        "organisation_code": [*ENGLISH, SCOTTISH], "name": [*ENGLISH, SCOTTISH],
        "nation": ["england"] * len(ENGLISH) + ["scotland"],
        "region": ["London"] * len(ENGLISH) + ["Scotland"]})
    deaths = pd.DataFrame(deaths).astype({"deaths_in_scope": "Int64",
                                          "learning_disability_deaths": "Int64"})
    drafts = pd.DataFrame(drafts).astype({"drafts_outstanding": "Int64"})
    return ReportData(frame, deaths, organisations, PERIOD, "2023-04", drafts=drafts,
                      read_at="2026-11-01T00:00:00+00:00")


def _review_frame(reviews: list[dict]) -> pd.DataFrame:
    """A review frame of ``reviews`` (dicts of some review columns; the rest blank)."""
    frame = pd.DataFrame(reviews)
    for column in domain.REVIEW_COLUMNS:
        if column not in frame:
            frame[column] = None
    for column in ("age_at_death", *(domain.score_column(p) for p in domain.PHASES),
                   "avoidability_score"):
        frame[column] = frame[column].astype("Int64")
    return frame


def _report(data: ReportData) -> NationalReport:
    params = SimpleNamespace(confidence_level=0.95, disclosure_rule=lambda: RULE)
    return NationalReport(params, data)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def report() -> NationalReport:
    return _report(_store())


def test_lfd_by_nation_withholds_what_would_narrow_a_trusts_own_total(report):
    table = report.lfd_by_nation()
    frame = table.frame
    # each trust: 1 death judged more likely than not, of 1 learning-disability death,
    # reviewed: its own report shows * for each; England's 16 would say each is 1-2
    per_org = [1] * len(ENGLISH)
    assert narrowed(16, per_org, RULE)
    for column in ("More likely than not due to problems in care",
                   "Learning disability deaths", "of which reviewed"):
        assert frame.at["England", column] == RULE.symbol, column
        # and the total row, which is England's plus Scotland's 0
        assert frame.at["England and Scotland", column] == RULE.symbol, column
    assert frame.at["England", "% of reviewed deaths"] == RULE.symbol
    assert "set against every organisation's own report" in table.note
    # counts no trust's report can be narrowed by stay: 320 reviewed = 16 x 20 (each 20)
    assert frame.at["England", "Deaths reviewed (SJR)"] == 320


def test_completeness_withholds_a_nations_pooled_drafts(report):
    table = report.completeness()
    drafts = "England: deaths with only a draft review"
    quarter = table.frame.index[0]  # Q1 2024-25: June's sixteen single drafts
    assert table.frame.at[quarter, drafts] == RULE.symbol
    assert table.frame.at[report.total_label, drafts] == RULE.symbol
    assert "set against every organisation's own report" in table.note


def test_poor_care_by_region_withholds_the_pooled_poor_care(report):
    frame = report.poor_care_by_region().frame
    assert frame.at["London", "Poor or very poor overall care"] == RULE.symbol
    assert frame.at["London", "% poor or very poor"] == RULE.symbol
    assert frame.at["London", "Reviews"] == 320


def test_selected_sample_and_trend_withhold_all_reviewed_poor_care(report):
    sample = report.selected_sample().frame
    assert sample.at["All reviewed deaths", "Poor or very poor overall care"] == RULE.symbol
    trend = report.trend_test()
    if hasattr(trend, "frame"):  # one financial year only: a sentence, no table
        assert trend.frame.at["2024-25", "Poor or very poor"] == RULE.symbol


def test_common_counts_are_not_withheld():
    """Eight rare deaths in each trust (8 is rounded to 10 in its own report): no pooled count
    narrows one of theirs, so nothing is withheld and no note is added."""
    report = _report(_store(rare=8))
    table = report.lfd_by_nation()
    assert table.frame.at["England", "More likely than not due to problems in care"] \
        == RULE.round(16 * 8)
    assert "set against every organisation's own report" not in table.note


# ------------------------------------------------------------------ the trend charts ----
def _drawn_texts(figure) -> list[str]:
    return [t.get_text() for ax in figure.axes for t in ax.texts]


def test_national_poor_care_chart_hides_a_month_that_would_narrow_the_trusts(report):
    # June 2024: each English trust 1 poor of 20 (its own chart: *), Scotland 0 of 40; the
    # national point 16 of 360 (4.4%) would say each trust's * is 1-2
    chart = report.trend_poor_care()
    published = chart.frame.attrs["published"]
    assert bool(published.at["2024-06", "hidden"])
    assert np.isnan(chart.frame.at["2024-06", "proportion"]) \
        if "proportion" in chart.frame else True
    # what the chart does plot is rounded: no exact 16 anywhere in its data table
    table = chart.table().frame
    assert not any(str(v) == "16" for v in table.to_numpy().ravel())
    assert "not plotted" in chart.note()


def test_national_lfd_chart_keeps_what_the_nation_table_withheld(report):
    # the nation table withholds England and Scotland's 16 deaths more likely than not; the
    # chart's quarters of the period must not add back up to it, nor print 16 for June's
    frame = report._lfd_trend.set_index("period")
    assert report.lfd_by_nation().frame.at["England and Scotland",
                                            "More likely than not due to problems in care"] \
        == RULE.symbol
    quarter = "2024/25 Q1"
    assert frame.at[quarter, "more_likely_than_not"] == RULE.symbol
    # and no count is printed exactly where the rule rounds: 680 reviewed in all
    for value in frame["reviewed"]:
        assert value == RULE.symbol or value % RULE.rounding == 0
    chart = report.trend_reviewed()
    texts = _drawn_texts(chart.figure)
    assert "16" not in texts
    assert RULE.symbol in texts
    # the table under the chart prints what the bars draw
    from sjrlib.report.tables import quarter_label

    table = chart.table.frame
    assert table.at[quarter_label(quarter), "More likely than not due to problems in care"] \
        == RULE.symbol
    assert table.at[quarter_label(quarter), "Deaths reviewed (SJR)"] == \
        frame.at[quarter, "reviewed"]
    assert 'class="sjr-chart-data"' in chart._repr_html_()
    # and the share of deaths reviewed each bar is labelled with, of the counts drawn
    for label, row in table.iterrows():
        deaths, reviewed = row["Deaths in scope"], row["Deaths reviewed (SJR)"]
        share = row["% of deaths reviewed"]
        if RULE.symbol in (deaths, reviewed) or deaths is None:
            assert share is None, label
        else:
            assert f"{share:.0f}%" in texts, label
            assert abs(share - 100 * reviewed / deaths) < 0.5, label
    assert table["% of deaths reviewed"].notna().sum() >= 4


def test_pooled_withheld_hides_a_quarter_where_only_the_years_sum_would_narrow():
    # A: 12, 0, 0, 0 (its year 12 printed as 10: 8-12); B: 23, 20, 23, 10 (76: 75, 73-77).
    # No quarter's pooled count narrows anyone (35, 20, 23, 10 against a 0 and a rounded
    # count each), but the year's 88 (90: 88-92) says A's is 11-12: the chart's quarters
    # must not add up to it, so one of them is withheld (the largest, Q1).
    from sjrlib import measures

    counts = {"A": [12, 0, 0, 0], "B": [23, 20, 23, 10]}
    quarters = ["2024/25 Q1", "2024/25 Q2", "2024/25 Q3", "2024/25 Q4"]
    per_org = pd.DataFrame([{"organisation_code": org, "period": q, "count": c}
                            for org, values in counts.items()
                            for q, c in zip(quarters, values, strict=True)])
    out = measures.pooled_withheld(per_org, RULE, period=("2024-04", "2025-03"),
                                   columns=["count"], unit="quarter")
    assert out["count"].tolist() == [True, False, False, False]
    # a national count that narrows on its own is withheld where it is: in Q4 A's 1 (*) beside
    # B's 10 (8-12) makes 11 (10: 8-12), which says A's * is 1-4
    per_org.loc[(per_org["organisation_code"] == "A") & (per_org["period"] == quarters[3]),
                "count"] = 1
    out = measures.pooled_withheld(per_org, RULE, columns=["count"], unit="quarter")
    assert bool(out.at[quarters[3], "count"])


def test_the_national_introduction_names_its_months_as_the_attacker_reads_them(report):
    # "deaths from 2024-04 to 2025-03" was not read as the report's period by sjr disclosure
    # check, so the chart's quarters were never tied to the nation table
    from sjrlib.disclosure_check import _report_period

    text = report.introduction()._repr_html_()
    assert "deaths from April 2024 to March 2025" in text
    assert _report_period(text) == ("2024-04", "2025-03")
    # the number of reviews rounded as every count of the report: 358 reviews read "360"
    assert len(report.reviews) == 360 and "360 reviews" in text
    fewer = _report(_store())
    fewer.reviews = fewer.reviews.iloc[:358]
    assert "360 reviews" in fewer.introduction()._repr_html_()
    assert "358" not in fewer.introduction()._repr_html_()


def _data(reviews: list[dict], nations: dict[str, str]) -> ReportData:
    """A store of ``reviews`` (dicts of review columns; the rest blank) at the organisations
    ``nations`` names (code -> "england" or "scotland"; London or Scotland as region), with 30
    deaths a month in every organisation's feed and none of a learning disability."""
    frame = _review_frame(reviews)
    codes = list(nations)
    organisations = pd.DataFrame({
        "organisation_code": codes, "name": codes, "nation": [nations[c] for c in codes],
        "region": ["Scotland" if nations[c] == "scotland" else "London" for c in codes]})
    deaths = pd.DataFrame([{"organisation_code": c, "month": m, "deaths_in_scope": 30,
                            "learning_disability_deaths": 0}
                           for c in codes for m in PERIOD.months()]).astype(
        {"deaths_in_scope": "Int64", "learning_disability_deaths": "Int64"})
    return ReportData(frame, deaths, organisations, PERIOD, "2023-04",
                      read_at="2026-11-01T00:00:00+00:00")


def _quarterly_store(spec: dict[str, tuple[str, list[int]]]) -> ReportData:
    """Organisations with 20 reviewed deaths in the middle month of each quarter of 2024-25,
    ``spec[code] = (nation, [deaths judged more likely than not in Q1..Q4])`` of them (very
    poor care, definitely avoidable), the rest adequate and not avoidable; 30 deaths a month
    in every organisation's feed."""
    reviews = []
    middles = ["2024-05", "2024-08", "2024-11", "2025-02"]
    for code, (nation, mltn) in spec.items():
        for month, k in zip(middles, mltn, strict=True):
            for i in range(20):
                rare = i < k
                reviews.append({
                    "review_id": f"{code}-{month}-r{i}", "case_id": f"{code}-{month}-c{i}",
                    "organisation_code": code, "review_stage": "first", "status": "submitted",
                    "form_version": "rcp2017", "review_date": pd.Timestamp("2025-04-01"),
                    "death_month": month, "age_at_death": 80, "learning_disability": "no",
                    "score_overall": 1 if rare else 3, "avoidability_score": 1 if rare else 6,
                    "avoidability_scale": "rcp", "nation": nation,
                    "region": "Scotland" if nation == "scotland" else "London"})
    return _data(reviews, {code: nation for code, (nation, _k) in spec.items()})


def test_lfd_by_nation_is_protected_against_every_organisations_quarters():
    """Two English trusts: XA's deaths judged more likely than not 1, 1, 2, 2 by quarter
    (each * in its own report, and its year's 6 too), XB's 0, 10, 1, 3 (0, 10, *, * and 15).
    Each count alone is safe against the trusts' years (England's 20, 18-22, less XB's 15,
    13-17, leaves XA's * 1-7), but XA's four quarters are each at least 1, so its year is at
    least 4, at most 22 - 13 = 9, and each quarter at most 9 - 3 = 6: 1-6, not 1-7. England's
    count (and so both nations') is withheld."""
    from sjrlib.disclosure import count_range

    report = _report(_quarterly_store({
        "XA": ("england", [1, 1, 2, 2]), "XB": ("england", [0, 10, 1, 3]),
        "S1": ("scotland", [0, 0, 0, 0])}))
    quarters = report._lfd_by_org.set_index(["organisation_code", "period"])
    assert list(quarters.loc["XA", "more_likely_than_not"]) == [1, 1, 2, 2]
    column = "More likely than not due to problems in care"
    frame = report.lfd_by_nation().frame
    assert frame.at["England", column] == RULE.symbol
    assert frame.at["England and Scotland", column] == RULE.symbol
    # the count the cell-by-cell check alone would have printed: 20 (18-22)
    assert count_range(RULE.round(20), RULE) == (18, 22)
    assert report._lfd_withheld().at["England", "more_likely_than_not"] == False  # noqa: E712


def test_completeness_is_protected_against_every_organisations_quarters():
    """The same shape in the completeness table: deaths with only a draft review, XA 1, 1, 2,
    2 by quarter (each * in its own report, the period's 6 too), XB 0, 10, 1, 3 (0, 10, *, *
    and 15). England's 20 (18-22) would leave XA's quarters 1-6; it is withheld."""
    data = _quarterly_store({"XA": ("england", [0] * 4), "XB": ("england", [0] * 4),
                             "S1": ("scotland", [0] * 4)})
    middles = ["2024-05", "2024-08", "2024-11", "2025-02"]
    data.drafts = pd.DataFrame(
        [{"organisation_code": code, "death_month": m, "drafts_outstanding": k}
         for code, ks in (("XA", [1, 1, 2, 2]), ("XB", [0, 10, 1, 3]))
         for m, k in zip(middles, ks, strict=True) if k]).astype({"drafts_outstanding": "Int64"})
    report = _report(data)
    drafts = "England: deaths with only a draft review"
    by_org = report._completeness_by_org
    assert by_org["XA"][drafts].tolist() == [1, 1, 2, 2, 6]
    assert by_org["XB"][drafts].tolist() == [0, 10, 1, 3, 14]
    table = report.completeness().frame
    # each count alone is safe against the trusts' own (the period's 20 against * and 15)
    assert not report._completeness_withheld(
        {"England": report._completeness["England"],
         "Scotland": report._completeness["Scotland"]},
        report._completeness[""].index).loc[report.total_label, drafts]
    assert table.at[report.total_label, drafts] == RULE.symbol


def _overall_store(spec: dict[str, list[int]]) -> ReportData:
    """English trusts whose first-stage reviews (June 2024) score overall care 1-5 as many
    times as ``spec[code]`` says (no other phase scored)."""
    reviews = []
    for code, counts in spec.items():
        scores = [score for score, k in enumerate(counts, 1) for _ in range(k)]
        for i, score in enumerate(scores):
            reviews.append({
                "review_id": f"{code}-r{i}", "case_id": f"{code}-c{i}",
                "organisation_code": code, "review_stage": "first", "status": "submitted",
                "form_version": "rcp2017", "review_date": pd.Timestamp("2024-08-01"),
                "death_month": "2024-06", "age_at_death": 80, "learning_disability": "no",
                "score_overall": score, "avoidability_score": 6, "avoidability_scale": "rcp",
                "nation": "england", "region": "London"})
    return _data(reviews, dict.fromkeys(spec, "england"))


def test_care_scores_are_protected_against_every_organisations_table():
    """Overall care scored 1-5: XA 3, 8, 0, 0, 0 (its report: *, *, 0, 0, 0 of 10), XB 2, 2, 0,
    10, 8 (*, *, 0, 10, * of 20). Nationally 5, 10, 0, 10, 8 of 33. Cell by cell the national
    "5 Excellent care", 10 (8-12), is safe; but less XA's 0 it is XB's (8-12), and with XB's
    total 18-22 and its "4" 8-12, XB's scores 1 and 2 are at most 6 together: each * 1-5. The
    national count is withheld, and the chart draws no share of overall care."""
    report = _report(_overall_store({"XA": [3, 8, 0, 0, 0], "XB": [2, 2, 0, 10, 8]}))
    overall = domain.label("phase", "overall")
    frame = report.care_scores().frame
    from sjrlib.report.tables import CARE_SCORE_LABELS

    excellent = CARE_SCORE_LABELS[4]
    assert not report._care_withheld.at[overall, excellent]
    assert frame.at[overall, excellent] == RULE.symbol
    bars = report.care_scores_chart().protected
    rows = bars[bars["phase"] == "overall"]
    assert rows["percent"].isna().all()
    assert (rows.loc[rows["score"] == 5, "count"] == RULE.symbol).all()



def test_the_care_score_chart_withholds_what_the_table_withholds(report):
    """Sixteen trusts' single very poor overall care (each * in its own report): the table
    withholds the national 16 for differencing; the bars drew it (15 of 360, 4%)."""
    from sjrlib.report.tables import CARE_SCORE_LABELS

    overall = domain.label("phase", "overall")
    assert report.care_scores().frame.at[overall, CARE_SCORE_LABELS[0]] == RULE.symbol
    bars = report.care_scores_chart().protected
    rows = bars[bars["phase"] == "overall"]
    assert rows.loc[rows["score"] == 1, "count"].tolist() == [RULE.symbol]
    assert rows["percent"].isna().all()
    assert "4%" not in report.care_scores_chart()._repr_html_()


def test_a_count_withheld_only_by_the_attack_on_every_table_is_explained():
    """A * the pooled attack alone adds (none of the cell-by-cell checks asked for it) stands
    for a count that is not small: the table's note says so, as it does for the others."""
    from sjrlib.report.tables import DIFFERENCING_NOTE

    lfd = _report(_quarterly_store({
        "XA": ("england", [1, 1, 2, 2]), "XB": ("england", [0, 10, 1, 3]),
        "S1": ("scotland", [0, 0, 0, 0])}))
    assert not lfd._lfd_withheld().to_numpy().any()
    assert DIFFERENCING_NOTE in lfd.lfd_by_nation().note


def test_poor_care_by_region_is_protected_against_every_organisations_care_table():
    """Two trusts of one region scoring overall care 8, 0, 8, 0, 0 (their report: 10, 0, 10,
    0, 0 of 15) and 0, 5, 0, 3, 3 (0, *, 0, *, * of 10). The region's 27 reviews (25: 23-27)
    and 13 poor (15: 13-17) are each safe cell by cell. But the first's scores 1 and 3 are at
    least 8 each, so its 15 is 16-17 and the second's reviews at most 11; the region's poor
    care less the first's score 1 (at most 9) puts the second's score 2 at 4 or more, and its
    scores 4 and 5 at 1-6 each, not 1-7. The region's reviews are withheld."""
    from sjrlib.disclosure import count_range

    report = _report(_overall_store({"XA": [8, 0, 8, 0, 0], "XB": [0, 5, 0, 3, 3]}))
    table = report.poor_care_by_region()
    frame = table.frame
    # cell by cell, nothing is at risk: the table would have printed 25 (23-27) and 15
    region = report.reviews["region"].astype("string") == "London"
    assert report._poor_care_withheld(report.reviews[region.to_numpy()]) == (False, False)
    assert count_range(RULE.round(27), RULE) == (23, 27)
    assert frame.at["London", "Reviews"] == RULE.symbol
    assert frame.at["London", "% poor or very poor"] == RULE.symbol
    assert "set against every organisation's own report" in table.note


def test_poor_care_by_region_follows_a_narrowing_through_the_other_cell():
    """Trusts of one region scoring overall care 8, 0, 5, 1, 1 (10, 0, *, *, * of 15) and 10,
    0, 0, 1, 0 (*, 0, 0, *, 0 of 10: its 10 withheld beside its single 4). The region's 20
    poor (18-22) less the first's score 1 (8-12) puts the second's score 1 at 6 or more, so
    its single 4 is 1-6 (its reviews are 8-12), whatever the region's reviews say: withholding
    the region's reviews is not enough, its poor care is withheld too."""
    report = _report(_overall_store({"XA": [8, 0, 5, 1, 1], "XB": [10, 0, 0, 1, 0]}))
    frame = report.poor_care_by_region().frame
    assert frame.at["London", "Poor or very poor overall care"] == RULE.symbol
    assert frame.at["London", "Reviews"] == RULE.symbol


@pytest.mark.filterwarnings("ignore:overflow encountered in exp:RuntimeWarning")  # 2 years
def test_the_trend_table_is_protected_against_every_organisations_care_table_of_the_year():
    """The region case a year at a time: in 2024-25 two trusts score overall care 8, 0, 8, 0,
    0 and 0, 5, 0, 3, 3 (their reports of the year: 10, 0, 10, 0, 0 of 15 and 0, *, 0, *, * of
    10), in 2023-24 twenty adequate reviews each. The trend table's 2024-25 reviews, 27 (25:
    23-27), safe cell by cell, would leave the second trust's scores 4 and 5 1-6: withheld."""
    data = _overall_store({"XA": [8, 0, 8, 0, 0], "XB": [0, 5, 0, 3, 3]})
    rows = [{"review_id": f"{code}-old{i}", "case_id": f"{code}-oldc{i}",
             "organisation_code": code, "review_stage": "first", "status": "submitted",
             "form_version": "rcp2017", "review_date": pd.Timestamp("2023-08-01"),
             "death_month": "2023-06", "age_at_death": 80, "learning_disability": "no",
             "score_overall": 3, "avoidability_score": 6, "avoidability_scale": "rcp",
             "nation": "england", "region": "London"} for code in ("XA", "XB") for i in range(20)]
    both = pd.concat([_review_frame(rows), data.reviews], ignore_index=True)
    report = _report(ReportData(both, data.deaths, data.organisations, PERIOD, "2023-04",
                                read_at="2026-11-01T00:00:00+00:00"))
    table = report.trend_test()
    assert hasattr(table, "frame"), table
    frame = table.frame
    assert frame.at["2023-24", "Reviews"] == 40
    assert frame.at["2024-25", "Reviews"] == RULE.symbol
    assert "set against every organisation's own report" in table.note


def test_the_headline_says_a_count_is_withheld_and_prints_no_figure_the_tables_withhold(report):
    """Sixteen trusts' single very poor overall care and single death judged more likely than
    not (each * in its own report): the headline printed "England: 4.7% of 320" (15 of 320,
    each trust's * 1-2, which the care-score table withholds) and "Fewer than 8 reviewed
    deaths were judged more likely than not" (there are 16). It now says the counts are
    withheld, and why."""
    html = report.summary()._repr_html_()
    assert "4.7%" not in html and "4.2%" not in html
    assert "Fewer than 8 reviewed deaths" not in html
    assert "England: 320 first-stage reviews; how many found poor or very poor overall care " \
           "is withheld by disclosure control" in html
    assert "How many reviewed deaths were judged more likely than not due to problems in care " \
           "is withheld by disclosure control" in html
    # Scotland's none of 40 stays a figure
    assert "Scotland: 0.0% of 40 first-stage reviews" in html
    shown = report._nation_poor_care
    assert shown.at["England", "poor"] == RULE.symbol
    assert shown.at["England and Scotland", "poor"] == RULE.symbol


def test_the_pooled_chart_knows_more_likely_than_not_from_the_avoidability_scores():
    """Four trusts each with Q1's more likely than not 3 (avoidability 2: 1, 3: 2), printed as
    * beside two * scores: a reader knows each is at least 2. The national 12 (printed 10,
    8-12) is safe against four counts of 1-7, but leaves each at most 12 - 3 * 2 = 6 once the
    scores are read beside them: with the bounds, the quarter is withheld."""
    from sjrlib import measures
    from sjrlib.report.national import _with_mltn_bounds

    rule = DisclosureRule()
    by_org = pd.DataFrame({
        "organisation_code": ["XAA", "XBB", "XCC", "XDD"], "period": ["2024/25 Q1"] * 4,
        "more_likely_than_not": [3] * 4, "avoidability_1": [0] * 4,
        "avoidability_2": [1] * 4, "avoidability_3": [2] * 4})
    plain = measures.pooled_withheld(by_org, rule, columns=["more_likely_than_not"],
                                     unit="quarter")
    assert not plain.to_numpy().any()
    known = measures.pooled_withheld(
        _with_mltn_bounds(by_org, rule), rule, columns=["more_likely_than_not"],
        unit="quarter", bounds={"more_likely_than_not": ("_mltn_low", "_mltn_high")})
    assert known.at["2024/25 Q1", "more_likely_than_not"]
