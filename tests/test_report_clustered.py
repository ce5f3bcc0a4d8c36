"""The national report's pooled intervals allow for clustering by organisation: checked against
statsmodels' cluster-robust fit on the report's own reviews, and against the published counts."""

from __future__ import annotations

import re

import numpy as np
import pytest
import report_store
import statsmodels.api as sm
from report_store import PERIOD
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from sjrlib.report.national import national_report


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    store = report_store.build(tmp_path_factory.mktemp("store"))
    return national_report({"period": PERIOD, "db": store.url, "user": store.programme})


def _england_reviews(report):
    # one row per primary first-stage review with an overall score, written out here rather
    # than taken from sjrlib.stats.clustered: drafts out, the earliest first-stage review of
    # each case (review_date, then review_id)
    r = report.reviews
    r = r[(r["status"].astype(str) != "draft") & (r["review_stage"].astype(str) == "first")]
    r = r.sort_values(["organisation_code", "case_id", "review_date", "review_id"])
    r = r.drop_duplicates(["organisation_code", "case_id"])
    r = r[r["score_overall"].notna()]
    nation = r["organisation_code"].astype(str).map(report.nation_of)
    return r[(nation == "england").to_numpy()]


def test_england_sentence_is_cluster_robust(report):
    rows = _england_reviews(report)
    y = rows["score_overall"].astype(int).isin([1, 2]).to_numpy(float)
    groups = rows["organisation_code"].astype(str).to_numpy()
    fit = sm.OLS(y, np.ones((y.size, 1))).fit(cov_type="cluster", cov_kwds={"groups": groups})
    p = y.mean()
    deff = fit.bse[0] ** 2 / (p * (1 - p) / y.size)
    assert report._pooled["England"].design_effect == pytest.approx(deff, rel=1e-9)
    sentence = next(s for s in report.summary().sentences if str(s).startswith("England:"))
    m = re.search(r"([\d.]+)% of ([\d,]+) first-stage reviews.*CI ([\d.]+)-([\d.]+)%.*"
                  r"design effect ([\d.]+)\)", str(sentence))
    assert m, sentence
    assert float(m.group(5)) == pytest.approx(deff, abs=0.05)
    # the interval: Wilson on the published counts over the design effect, t on G-1 df
    n_pub = int(m.group(2).replace(",", ""))
    k_pub = round(float(m.group(1)) * n_pub / 100)
    g = len(set(groups))
    alpha_z = 2 * stats.norm.sf(stats.t.ppf(0.975, g - 1))
    m_eff = n_pub / max(deff, 1.0)
    lo, hi = proportion_confint(k_pub / n_pub * m_eff, m_eff, alpha=alpha_z, method="wilson")
    assert (float(m.group(3)), float(m.group(4))) == pytest.approx(
        (round(100 * lo, 1), round(100 * hi, 1)), abs=0.051)


def test_region_table_says_method_and_design_effect(report):
    table = report.poor_care_by_region()
    assert "cluster-robust" in table.note and "design effect" in table.note
    assert "Design effect" in table.frame.columns
    assert not any("confidence interval" in c for c in table.frame.columns)
    shown = table.frame[table.frame.iloc[:, 3].notna()]
    for _label, row in shown.iterrows():
        # intervals only where the percentage is shown, on 8 or more reviews
        assert row["% poor or very poor"] not in (None, "*")
        assert int(row["Reviews"]) >= 8


def test_trend_note_is_clustered(report):
    note = report.trend_test().note
    assert "cluster-robust" in note and "Cochran-Armitage" in note
