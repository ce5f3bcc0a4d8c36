"""The national report says what its figures can and cannot claim (issue 14 part 5): the
reviewed deaths are a selected sample, with the further (random) sample shown apart; the
ordinal model is checked for proportional odds and allows for testing many terms at once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import report_store  # noqa: E402
from differencing import narrowed as _narrowed  # noqa: E402


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from sjrlib.report.national import national_report

    store = report_store.build(tmp_path_factory.mktemp("national"))
    return national_report(dict(period=report_store.PERIOD, db=store.url,
                                user=store.programme))


def test_the_further_sample_is_shown_apart_from_deaths_reviewed_for_a_reason(report):
    from sjrlib.stats import clustered

    table = report.selected_sample()
    frame = table.frame
    sample, reason, every = frame.index
    assert sample.startswith("Reviewed only as a further sample")
    assert every == "All reviewed deaths" and table.total_rows == ["All reviewed deaths"]
    # the counts, worked out here from the reviews themselves, before disclosure control
    outcomes = clustered.poor_care_outcomes(report.reviews, columns=["review_reasons"])
    only = outcomes[outcomes["review_reasons"] == "random_sample"]
    rule = report.rule
    assert frame.at[sample, "Reviews"] == rule.round(len(only))
    assert frame.at[sample, "Poor or very poor overall care"] == rule.round(int(only["poor"].sum()))
    assert frame.at[every, "Reviews"] == rule.round(len(outcomes))
    # the percentage is of the counts shown, never of the hidden exact ones
    k, n = frame.at[sample, "Poor or very poor overall care"], frame.at[sample, "Reviews"]
    assert abs(frame.at[sample, "% poor or very poor"] - 100 * k / n) < 0.5
    assert "selected sample" in table.note and "clustering" in table.note.lower()


def test_the_ordinal_model_checks_proportional_odds_and_multiple_testing(report):
    table = report.ordinal_model()
    assert "p value (Holm)" in table.frame.columns
    assert "Same odds ratio at every cut point (Brant p)" in table.frame.columns
    assert "Proportional-odds check (Brant test" in table.note
    assert "overall chi-squared" in table.note
    # four organisations: too few clusters for a robust variance, and the note says so
    assert "with fewer than 20 organisations a cluster-robust variance cannot be trusted" \
        in table.note
    assert f"{len(table.frame)} terms are tested at once" in table.note
    holm = [float(p.lstrip("<")) for p in table.frame["p value (Holm)"]]
    raw = [float(p.lstrip("<")) for p in table.frame["p value"]]
    assert all(h >= r for h, r in zip(holm, raw, strict=True))
    # the number of reviews is a count, printed as the tables print it (rounded), not exact
    import re

    n = re.match(r"([\d,]+) first-stage reviews \((\d+|fewer than 8) with a missing", table.note)
    assert n is not None and int(n.group(1).replace(",", "")) % report.rule.rounding == 0


def test_pooled_care_scores_have_intervals_clustered_by_organisation(report):
    from sjrlib.stats import clustered

    table = report.care_scores()
    column = "95% CI, clustered by organisation"
    assert column in table.frame.columns and "Design effect" in table.frame.columns
    assert "95% confidence interval" not in table.frame.columns
    assert "clustering of reviews by organisation" in table.note
    overall = table.frame.loc["Overall assessment of care"]
    # worked out here: the design effect of the overall score's poor care, and the Wilson
    # interval on the effective number of reviews of the counts as shown
    part = clustered.poor_care_outcomes(report.reviews)
    fit = clustered.clustered_proportion(part["poor"], part["organisation_code"])
    assert overall["Design effect"] == f"{fit.design_effect:.1f}"
    base = overall["Reviews scoring this phase"]
    share = overall["% poor or very poor care"]
    k = round(share * base / 100)
    lo, hi = clustered.effective_wilson(k, base, fit.design_effect, fit.n_clusters, 0.05)
    assert overall[column] == report_interval_text(lo[0], hi[0])


def report_interval_text(lo, hi):
    from sjrlib.report.national import interval_text

    return interval_text(lo, hi)


def test_no_national_count_narrows_an_organisations_own_cell(report):
    """The insider audit's attack (national count minus every organisation's report): every
    avoidability and problem count the national report publishes either leaves each
    organisation's own cell as wide as its report shows it, or is withheld."""
    from sjrlib.stats import descriptive

    rule = report.rule
    table = report.avoidability().frame
    dist = descriptive.avoidability_distribution(report.reviews, by="organisation_code")
    checked = withheld = 0
    for score, rows in dist.groupby("score"):
        label = f"{int(score)} {rows['label'].iloc[0]}"
        counts = [int(c) for c in rows["count"]]
        if _narrowed(sum(counts), counts, rule):
            assert table.at[label, "Reviewed deaths"] == rule.symbol, label
            withheld += 1
        checked += 1
    problems = report.problems().frame
    freq = descriptive.problem_frequency(report.reviews, by="organisation_code")
    for _problem_type, rows in freq.groupby("problem_type"):
        counts = [int(c) for c in rows["harm_yes"]]
        label = rows["label"].iloc[0].split(" (")[0]
        if _narrowed(sum(counts), counts, rule):
            assert problems.at[label, "Led to harm: Yes"] == rule.symbol, label
            withheld += 1
        checked += 1
    assert checked >= 14
    assert withheld  # the 4-organisation store has such cells: the test is not idle


def test_no_other_pooled_count_narrows_an_organisations_own_cell(report):
    """The same attack on the national report's other pooled tables, each against the figure
    every organisation's own report prints: Learning from Deaths by nation (the period total
    row of each organisation's quarterly table), completeness by nation and quarter, and poor
    care by region (an organisation prints its reviews scoring overall care and, apart, its
    scores 1 and 2: a reader adds their ranges)."""
    from sjrlib.report import completeness
    from sjrlib.stats import descriptive
    from sjrlib.stats._reviews import financial_quarter
    from sjrlib.stats.lfd import learning_from_deaths

    rule = report.rule
    checked = withheld = 0

    def check(shown, per_org):
        nonlocal checked, withheld
        checked += 1
        if _narrowed(sum(per_org), per_org, rule):
            assert shown == rule.symbol
            withheld += 1

    nation = dict(report.nation_of)
    groups = {"England": [c for c in nation if nation[c] == "england"],
              "Scotland": [c for c in nation if nation[c] == "scotland"],
              "England and Scotland": list(nation)}
    lfd = learning_from_deaths(report.reviews, report.deaths, period="quarter",
                               as_of=report.period.end_month)
    lfd = lfd[lfd["period"].isin({financial_quarter(m) for m in report.period.months()})]
    table = report.lfd_by_nation().frame
    for column, field in (("Deaths reviewed (SJR)", "reviewed"),
                          ("More likely than not due to problems in care",
                           "more_likely_than_not"),
                          ("Learning disability deaths", "ld_deaths"),
                          ("of which reviewed", "ld_reviewed")):
        totals = lfd.groupby("organisation_code")[field].sum()
        for name, codes in groups.items():
            check(table.at[name, column], [int(totals.get(c, 0)) for c in codes])
    as_at = completeness.as_at_date(report.data.read_at)
    drafts = report.data.drafts
    if drafts is None:
        drafts = completeness.draft_cases(report.reviews.iloc[0:0], report.reviews)
    done = {c: completeness.quarter_completeness(
        *(f[f["organisation_code"].astype(str) == c]
          for f in (report.reviews, report.deaths, drafts)),
        report.period.months(), as_at) for c in nation}
    frame = report.completeness().frame
    for name in ("England", "Scotland"):
        for field, column in (("drafts_outstanding", f"{name}: deaths with only a draft review"),
                              ("awaiting_second_stage",
                               f"{name}: waiting for a second-stage review")):
            for i, label in enumerate(frame.index[:-1]):
                check(frame.at[label, column],
                      [int(done[c][field].iloc[i]) for c in groups[name]])
            check(frame.at[report.total_label, column],
                  [int(done[c][field].sum()) for c in groups[name]])
    regions = report.poor_care_by_region().frame
    dist = descriptive.care_score_distribution(report.reviews, by=["region", "organisation_code"],
                                               phases=["overall"])
    for region, part in dist.groupby("region", observed=True):
        cells = [int(c) for c in part.loc[part["score"].isin([1, 2]), "count"]]
        check(regions.at[str(region), "Poor or very poor overall care"], cells)
    assert checked >= 30
    assert withheld  # the 4-organisation store has such cells: the test is not idle

