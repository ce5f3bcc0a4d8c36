"""The national report's reliability section (issue 14 part 5): fewer coefficients, alpha with
its interval, and agreement on the second-stage trigger, checked against the statistics
computed here from the report's own reviews."""

from __future__ import annotations

import re

import numpy as np
import pytest
import report_store
from report_store import PERIOD

from sjrlib import domain
from sjrlib.disclosure import protect_count
from sjrlib.report.national import national_report
from sjrlib.stats import agreement as ag


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    store = report_store.build(tmp_path_factory.mktemp("store"))
    return national_report({"period": PERIOD, "db": store.url, "user": store.programme})


def test_reliability_table(report):
    table = report.reliability()
    frame = table.frame
    assert list(frame.index) == [
        "Exact agreement (proportion of pairs)", "Weighted kappa (linear)",
        "Krippendorff's alpha (ordinal)", "Intraclass correlation ICC(1,1)",
        "Second-stage trigger (overall care 1-2 or not): Cohen's kappa",
        "Second-stage trigger (overall care 1-2 or not): Gwet's AC1"]
    pairs = ag.rating_pairs(report.reviews).dropna(subset=["rating_1", "rating_2"])
    a = pairs["rating_1"].astype(int).to_numpy()
    b = pairs["rating_2"].astype(int).to_numpy()
    assert len(a) >= 8
    poor_a, poor_b = np.isin(a, domain.POOR_CARE), np.isin(b, domain.POOR_CARE)
    kappa = ag.weighted_kappa(poor_a.astype(float), poor_b.astype(float), None,
                              categories=(0.0, 1.0))
    ac1 = ag.gwet_ac(poor_a, poor_b, categories=(False, True))
    trigger = frame.loc["Second-stage trigger (overall care 1-2 or not): Cohen's kappa"]
    assert trigger["Estimate"] == pytest.approx(kappa.kappa)
    row = frame.loc["Second-stage trigger (overall care 1-2 or not): Gwet's AC1"]
    assert row["Estimate"] == pytest.approx(ac1.estimate)
    ci = [c for c in frame.columns if c.endswith("CI")][0]
    assert row[ci] == f"{ac1.ci_lower:.2f} to {ac1.ci_upper:.2f}"
    alpha_row = frame.loc["Krippendorff's alpha (ordinal)"]
    assert re.fullmatch(r"-?\d\.\d\d to -?\d\.\d\d", alpha_row[ci])  # alpha has its interval
    assert row["Cases"] == protect_count(len(a), report.rule)
    disagree = int((poor_a != poor_b).sum())
    def words(count: int) -> str:  # a sentence's count: 1,750, not 1750
        shown = protect_count(count, report.rule)
        return f"{shown:,}" if isinstance(shown, int) else shown

    assert f"In {words(disagree)} of {words(len(a))} double-reviewed cases" in table.note


def test_reliability_summary_rows(report):
    summary = ag.reliability_summary(report.reviews, n_boot=200)
    assert tuple(summary["statistic"]) == ag.RELIABILITY_STATISTICS
    full = ag.agreement_summary(report.reviews).set_index("statistic")
    short = summary.set_index("statistic")
    for statistic in ("percent_agreement", "kappa_linear", "alpha_ordinal", "icc_1_1"):
        assert short.loc[statistic, "estimate"] == pytest.approx(full.loc[statistic, "estimate"])
    lo, hi = short.loc["alpha_ordinal", ["ci_lower", "ci_upper"]]
    assert lo <= short.loc["alpha_ordinal", "estimate"] <= hi
