"""What change an SPC p-chart can detect at its own volume (issue 14 part 5).

Checked against the binomial directly and by simulation, not against the function's own
arithmetic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binom

from sjrlib import spc
from sjrlib.report import narrative


def _chart(numerators, n, improvement="decrease"):
    return spc.p_chart(pd.Series(numerators), pd.Series([n] * len(numerators)),
                       improvement=improvement)


def test_a_rise_at_35_reviews_a_month_and_10_percent():
    d = spc.detectable_change(_chart([3, 4, 5, 2, 3, 4, 5, 3, 4, 3, 2, 4], 35))
    assert (d.baseline, d.typical_n, d.direction) == (0.1, 35, 1)
    # limit 0.1 + 3 sqrt(0.09/35) = 0.2521: a point is beyond it with 9 or more of 35
    assert abs(binom.sf(8, 35, d.detected_at) - 0.5) < 1e-9
    assert 0.24 < d.detected_at < 0.25
    assert abs(d.doubling_probability - binom.sf(8, 35, 0.2)) < 1e-12
    # simulation: at the detected rate about half the months cross the chart's own limit
    rng = np.random.default_rng(1)
    points = rng.binomial(35, d.detected_at, 200_000) / 35
    upl = float(_chart([3, 4, 5, 2, 3, 4, 5, 3, 4, 3, 2, 4], 35)["upl"].iloc[-1])
    assert abs((points > upl).mean() - 0.5) < 0.01


def test_a_fall_and_a_limit_at_zero():
    d = spc.detectable_change(_chart([30] * 12, 100, improvement="increase"))
    assert d.direction == -1
    # lower limit 0.3 - 3 sqrt(0.21/100) = 0.1625: beyond it with 16 or fewer of 100
    assert abs(binom.cdf(16, 100, d.detected_at) - 0.5) < 1e-9
    assert abs(d.doubling_probability - binom.cdf(16, 100, 0.15)) < 1e-12
    # at 10 deaths a month and 20% reviewed the lower limit is below 0: no single point falls
    low = spc.detectable_change(_chart([2] * 12, 10, improvement="increase"))
    assert low.detected_at is None and low.doubling_probability is None
    text = narrative.detectability_sentence(_chart([2] * 12, 10, improvement="increase"),
                                            "month", "deaths")
    assert "cannot flag a fall from a single month" in text


def test_the_sentence_says_what_a_quiet_chart_cannot_see():
    chart = _chart([3, 4, 5, 2, 3, 4, 5, 3, 4, 3, 2, 4], 35)
    chart.index = [f"2023-{m:02d}" for m in range(1, 13)]
    text = narrative.spc_sentence("the percentage of reviews finding poor care", chart,
                                  improvement="decrease", period_start="2023-01",
                                  base_noun="reviews")
    assert text.startswith("No evidence of change in the percentage of reviews finding poor")
    assert "detects only large changes: at about 35 reviews a month" in text
    assert "rises to about 25% from 10%" in text
    assert f"probability {binom.sf(8, 35, 0.2):.2f}" in text
    assert "smaller changes can go unseen" in text


def test_not_a_p_chart_gives_no_claim():
    assert spc.detectable_change(spc.xmr(pd.Series(np.arange(12.0)))) is None


def test_a_national_chart_reads_as_words():
    # 3,800 reviews a month at 15%: a doubling is certain to cross the limit in its month
    chart = _chart([570] * 12, 3800)
    chart.index = [f"2023-{m:02d}" for m in range(1, 13)]
    text = narrative.detectability_sentence(chart, "month", "reviews")
    assert "at about 3,800 reviews a month" in text
    assert "a doubling would almost certainly cross it in a given month." in text
    assert "probability 1.00" not in text
