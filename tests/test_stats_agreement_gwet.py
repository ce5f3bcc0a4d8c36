"""Gwet's AC1/AC2 (sjrlib.stats.agreement.gwet_ac, gwet_ac_raters).

Reference values with their sources are in tests/reference/gwet_ac.json: irrCAC (Python 0.4.4)
at full precision, and the outputs printed in the irrCAC 1.0 (R) vignettes by Gwet.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import ratings_pairs

from sjrlib import domain
from sjrlib.stats import agreement as ag

REFERENCE = json.loads((Path(__file__).parent / "reference" / "gwet_ac.json").read_text())
CASES = REFERENCE["cases"]


def _run(case) -> ag.GwetResult:
    ratings = [[np.nan if v is None else v for v in row] for row in case["ratings"]]
    if len(ratings[0]) == 2:
        a, b = zip(*ratings, strict=True)
        return ag.gwet_ac(list(a), list(b), categories=case["categories"],
                          weights=case["weights"])
    return ag.gwet_ac_raters(np.array(ratings, dtype=object), categories=case["categories"],
                             weights=case["weights"])


@pytest.mark.parametrize("case", CASES, ids=[f"{c['name']}-{c['weights']}-{len(c['categories'])}"
                                             for c in CASES])
def test_matches_irrcac(case):
    ours, theirs = _run(case), case["irrCAC_python"]
    assert ours.estimate == pytest.approx(theirs["coefficient_value"], abs=1e-9)
    assert ours.se == ours.standard_error == pytest.approx(theirs["se"], abs=1e-9)
    assert ours.pa == pytest.approx(theirs["pa"], abs=1e-9)
    assert ours.pe == pytest.approx(theirs["pe"], abs=1e-9)
    assert ours.ci_low == pytest.approx(theirs["confidence_interval"][0], abs=1e-9)
    assert ours.ci_high == pytest.approx(theirs["confidence_interval"][1], abs=1e-9)
    assert ours.p_value == pytest.approx(theirs["p_value"], abs=1e-9)
    assert ours.coefficient == theirs["coefficient_name"]


@pytest.mark.parametrize("case", [c for c in CASES if c["published"] and "coeff.se" in
                                  c["published"]], ids=lambda c: c["weights"])
def test_published_raw_output(case):
    """gwet.ac1.raw(cac.raw4raters) as printed in the irrCAC vignettes (5 decimals for the
    coefficient and SE, 3 for the interval, 7 for pa and pe)."""
    ours, pub = _run(case), case["published"]
    assert round(ours.estimate, 5) == pytest.approx(pub["coeff.val"], abs=1e-12)
    assert round(ours.se, 5) == pytest.approx(pub["coeff.se"], abs=1e-12)
    assert round(ours.pa, 7) == pytest.approx(pub["pa"], abs=1e-12)
    assert round(ours.pe, 7) == pytest.approx(pub["pe"], abs=1e-12)
    assert [round(ours.ci_lower, 3), round(ours.ci_upper, 3)] == pub["conf.int"]
    assert ours.p_value == pytest.approx(pub["p.value"], rel=1e-6)


@pytest.mark.parametrize("case", [c for c in CASES if c["published"] and "coeff.se_table" in
                                  c["published"]], ids=lambda c: c["weights"])
def test_published_table_output(case):
    """gwet.ac1.table(cont3x3abstractors): same coefficient; Gwet's (2008) two-rater variance
    is the raw-data variance times (n - 1) / n."""
    ours, pub = _run(case), case["published"]
    n = ours.n
    assert n == 100 and ours.n_pairs == 100
    assert ours.estimate == pytest.approx(pub["coeff.val"], abs=5e-8)
    assert ours.se * math.sqrt((n - 1) / n) == pytest.approx(pub["coeff.se_table"], abs=5e-9)


def test_two_raters_is_the_raters_function_on_two_columns():
    case = next(c for c in CASES if c["name"].startswith("cont4x4"))
    a, b = zip(*case["ratings"], strict=True)
    two = ag.gwet_ac(a, b, categories=case["categories"])
    many = ag.gwet_ac_raters(np.array(case["ratings"], dtype=object),
                             categories=case["categories"])
    assert two == many


def test_missing_ratings_as_irrcac():
    # Subject 3 rated by nobody: dropped. Subject 4 rated by one rater: counts in n and in the
    # chance agreement, not in pa.
    result = ag.gwet_ac([1, 2, None, 2, 1], [1, 2, np.nan, pd.NA, 2], categories=(1, 2, 3))
    assert (result.n, result.n_pairs) == (4, 3)
    assert result.pa == pytest.approx(2 / 3)
    # pi_k = mean over the 4 subjects of each subject's share: 1 -> (1 + 0 + 0 + .5)/4
    pi = np.array([1.5, 2.5, 0]) / 4
    assert result.pe == pytest.approx((pi * (1 - pi)).sum() / 2)
    assert result.estimate == pytest.approx((2 / 3 - result.pe) / (1 - result.pe))


def test_categories_fix_the_scale_and_unknown_ratings_are_refused():
    used = ag.gwet_ac([1, 2, 2, 3], [1, 2, 3, 3], categories=(1, 2, 3))
    scale = ag.gwet_ac([1, 2, 2, 3], [1, 2, 3, 3], categories=domain.CARE_SCORES)
    assert used.pa == scale.pa and used.pe != scale.pe  # q enters the chance agreement
    with pytest.raises(ValueError, match=r"rating 6 \(subject 2, rater 1\) is not one of"):
        ag.gwet_ac([1, 6], [1, 2], categories=domain.CARE_SCORES)
    with pytest.raises(ValueError, match="at least two categories"):
        ag.gwet_ac([1, 1], [1, 1], categories=(1,))
    with pytest.raises(ValueError, match="weights must be one of"):
        ag.gwet_ac([1, 2], [1, 2], categories=(1, 2), weights="ordinal")
    with pytest.raises(ValueError, match="equal length"):
        ag.gwet_ac([1, 2], [1], categories=(1, 2))


def test_labels_weighted_by_their_order():
    labels = ("very poor", "poor", "adequate", "good", "excellent")
    a, b = [1, 2, 3, 4, 5, 3, 2], [2, 2, 4, 4, 3, 3, 1]
    for weights in ag.GWET_WEIGHTS:
        by_value = ag.gwet_ac(a, b, categories=domain.CARE_SCORES, weights=weights)
        by_label = ag.gwet_ac([labels[x - 1] for x in a], [labels[x - 1] for x in b],
                              categories=labels, weights=weights)
        assert by_label == by_value


def test_linear_weights_on_two_categories_are_ac1():
    a, b = [True, False, True, True], [True, True, True, False]
    assert ag.gwet_ac(a, b, categories=(False, True), weights="linear").estimate == \
        ag.gwet_ac(a, b, categories=(False, True)).estimate


def test_prevalence_paradox():
    """95 pairs agree 'not poor', 1 agrees 'poor', 4 disagree: kappa is low, AC1 high (the
    reason the spec asks for AC1 beside kappa)."""
    a = [0] * 95 + [1] + [0, 0, 1, 1]
    b = [0] * 95 + [1] + [1, 1, 0, 0]
    kappa = ag.weighted_kappa(a, b, None, categories=(0, 1)).kappa
    ac1 = ag.gwet_ac(a, b, categories=(0, 1)).estimate
    assert kappa < 0.35 < 0.9 < ac1


def test_undefined_and_small_cases():
    none_paired = ag.gwet_ac([1, None], [None, 2], categories=(1, 2))
    assert np.isnan(none_paired.estimate) and none_paired.n_pairs == 0
    one = ag.gwet_ac([1], [1], categories=(1, 2))
    assert one.estimate == 1 and np.isnan(one.ci_lower)
    same = ag.gwet_ac([3] * 10, [3] * 10, categories=domain.CARE_SCORES)
    assert same.estimate == 1 and same.pe == 0 and same.interval == (1.0, 1.0)


@settings(deadline=None, max_examples=60)
@given(ratings_pairs, st.sampled_from(ag.GWET_WEIGHTS))
def test_interval_contains_estimate_and_is_symmetric_in_raters(pair, weights):
    a, b = pair
    ab = ag.gwet_ac(a, b, categories=domain.CARE_SCORES, weights=weights)
    ba = ag.gwet_ac(b, a, categories=domain.CARE_SCORES, weights=weights)
    assert ab.estimate == pytest.approx(ba.estimate) and ab.se == pytest.approx(ba.se)
    assert ab.ci_lower <= ab.estimate + 1e-12 and ab.ci_upper <= 1
    assert ab.estimate <= ab.ci_upper + 1e-12 or ab.ci_upper == 1
    assert 0 <= ab.pe < 1 and 0 <= ab.pa <= 1
