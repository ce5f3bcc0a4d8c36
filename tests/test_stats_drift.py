"""sjrlib.stats.drift: reviewer effects on overall care from double-reviewed cases.

Reference figures and their sources: tests/reference/drift_reference.json.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize
from statsmodels.regression.mixed_linear_model import MixedLM
from strategies import make_reviews

from sjrlib.stats import drift
from sjrlib.stats.agreement import rating_pairs

REFERENCE = json.loads((Path(__file__).parent / "reference" / "drift_reference.json")
                       .read_text())
COLUMNS = ["reviewer_id_1", "reviewer_id_2", "rating_1", "rating_2"]
PAIRS = pd.DataFrame(REFERENCE["pairs"], columns=COLUMNS)
REVIEWERS = ["A", "B", "C", "D"]


def test_balanced_design_closed_form():
    """SS_D = 8 on 3 df and SS_res = 8 on 21 df: s_u^2 = (8/3 - 8/21) / 16 = 1/7,
    s_e^2 = 8/21/2 = 4/21; BLUP(A) = (1/7) / (16/7 + 8/21) * (D'd)_A = -3/7."""
    closed = REFERENCE["closed_form"]
    assert closed["reviewer_variance"] == pytest.approx(1 / 7, abs=1e-12)
    assert closed["residual_variance"] == pytest.approx(4 / 21, abs=1e-12)
    result = drift.drift_from_pairs(PAIRS, min_pairs=12)
    assert result.fitted and result.n_pairs == 24 and result.n_reviewers == 4
    assert result.reviewer_variance == pytest.approx(closed["reviewer_variance"], abs=1e-7)
    assert result.residual_variance == pytest.approx(closed["residual_variance"], abs=1e-7)
    table = result.table.set_index("reviewer_id")
    for r in REVIEWERS:
        assert table.loc[r, "effect"] == pytest.approx(closed["effect"][r], abs=1e-7)
        assert table.loc[r, "std_err"] == pytest.approx(closed["std_err"], abs=1e-7)
        assert table.loc[r, "n_pairs"] == 12
    assert table.loc["A", "ci_upper"] < 0 < table.loc["D", "ci_lower"]
    assert "lower (harsher)" in table.loc["A", "wording"]
    assert "higher (more lenient)" in table.loc["D", "wording"]
    assert table.loc["B", "wording"].startswith("No clear difference")


def test_level_model_agrees():
    """The model as stated (a fixed effect per case, reviewers as groups) fitted directly by
    statsmodels gives the same figures as the difference form the module fits."""
    n = len(PAIRS)
    endog = np.concatenate([PAIRS["rating_1"], PAIRS["rating_2"]]).astype(float)
    exog = np.zeros((2 * n, n))
    exog[np.arange(2 * n), np.concatenate([np.arange(n)] * 2)] = 1
    groups = np.concatenate([PAIRS["reviewer_id_1"], PAIRS["reviewer_id_2"]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = MixedLM(endog, exog, groups=groups, exog_re=np.ones((2 * n, 1))).fit(reml=True)
    recorded = REFERENCE["statsmodels_level_model"]
    assert float(np.asarray(fit.cov_re)[0, 0]) == pytest.approx(recorded["reviewer_variance"],
                                                               abs=1e-6)
    assert float(fit.scale) == pytest.approx(recorded["residual_variance"], abs=1e-6)
    closed = REFERENCE["closed_form"]
    assert recorded["reviewer_variance"] == pytest.approx(closed["reviewer_variance"], abs=1e-5)
    for r in REVIEWERS:
        assert float(np.asarray(fit.random_effects[r])[0]) == pytest.approx(
            closed["effect"][r], abs=1e-5)


def _independent(pairs: pd.DataFrame):
    """REML of the level model = ML of the within-case differences, maximised with scipy on
    the dense covariance (no statsmodels); BLUP and PEV in their direct forms."""
    reviewers = sorted(set(pairs["reviewer_id_1"]) | set(pairs["reviewer_id_2"]))
    idx = {r: k for k, r in enumerate(reviewers)}
    n, k = len(pairs), len(reviewers)
    dm = np.zeros((n, k))
    dm[np.arange(n), pairs["reviewer_id_1"].map(idx)] += 1
    dm[np.arange(n), pairs["reviewer_id_2"].map(idx)] -= 1
    d = (pairs["rating_1"] - pairs["rating_2"]).to_numpy(float)

    def nll(theta):
        su2, s2 = np.exp(theta)
        v = su2 * dm @ dm.T + s2 * np.eye(n)
        _, logdet = np.linalg.slogdet(v)
        return 0.5 * (logdet + d @ np.linalg.solve(v, d))

    best = optimize.minimize(nll, np.log([0.1, 0.5]), method="Nelder-Mead",
                             options={"xatol": 1e-12, "fatol": 1e-14, "maxiter": 20000})
    su2, s2 = np.exp(best.x)
    vinv = np.linalg.inv(su2 * dm @ dm.T + s2 * np.eye(n))
    blup = su2 * dm.T @ vinv @ d
    pev = su2 * np.eye(k) - su2**2 * dm.T @ vinv @ dm
    c = np.eye(k) - 1 / k  # one linked set of reviewers here
    return reviewers, su2, s2 / 2, blup, np.sqrt(np.diag(c @ pev @ c.T))


def _random_pairs(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = np.array(["R1", "R2", "R3", "R4", "R5", "R6"])
    u = np.array([-0.5, 0.0, 0.2, 0.4, -0.2, 0.1])
    a = rng.integers(0, 6, n)
    b = (a + rng.integers(1, 6, n)) % 6
    level = rng.normal(3.5, 0.8, n)
    y1 = np.clip(np.round(level + u[a] + rng.normal(0, 0.6, n)), 1, 5)
    y2 = np.clip(np.round(level + u[b] + rng.normal(0, 0.6, n)), 1, 5)
    return pd.DataFrame({"reviewer_id_1": names[a], "reviewer_id_2": names[b],
                         "rating_1": y1, "rating_2": y2})


@pytest.mark.parametrize("seed", [1, 2])
def test_unbalanced_design_matches_an_independent_fit(seed):
    pairs = _random_pairs(70, seed)
    reviewers, su2, se2, blup, se = _independent(pairs)
    result = drift.drift_from_pairs(pairs, min_pairs=1)
    assert result.reviewer_variance == pytest.approx(su2, rel=1e-5)
    assert result.residual_variance == pytest.approx(se2, rel=1e-5)
    table = result.table.set_index("reviewer_id").loc[reviewers]
    np.testing.assert_allclose(table["effect"], blup, atol=1e-5)
    np.testing.assert_allclose(table["std_err"], se, atol=1e-5)
    assert table["effect"].sum() == pytest.approx(0, abs=1e-9)


def test_thresholds():
    pairs = PAIRS.copy()
    # E joins with 2 pairs: in the model, not listed.
    extra = pd.DataFrame([("E", "A", 3, 3), ("E", "B", 4, 3)], columns=COLUMNS)
    result = drift.drift_from_pairs(pd.concat([pairs, extra], ignore_index=True))
    assert result.n_reviewers == 5 and "E" not in set(result.table["reviewer_id"])
    assert set(result.table["reviewer_id"]) == set(REVIEWERS)  # 12+ pairs each
    few = drift.drift_from_pairs(PAIRS.iloc[:19])
    assert not few.fitted and few.table.empty and "at least 20 pairs" in few.note
    two = drift.drift_from_pairs(PAIRS[(PAIRS["reviewer_id_1"] == "A")
                                       & (PAIRS["reviewer_id_2"] == "B")])
    assert not two.fitted
    none_listed = drift.drift_from_pairs(PAIRS, min_pairs=13)
    assert none_listed.fitted and none_listed.table.empty
    assert "No reviewer has 13 or more" in none_listed.note


def test_no_reviewer_variation_gives_zero_effects():
    # Every pair of reviewers disagrees symmetrically: nothing systematic.
    rows = []
    for r1, r2 in [("A", "B"), ("A", "C"), ("B", "C"), ("C", "D"), ("A", "D"), ("B", "D")]:
        rows += [(r1, r2, 3, 4), (r1, r2, 4, 3), (r1, r2, 3, 3), (r1, r2, 4, 4)]
    result = drift.drift_from_pairs(pd.DataFrame(rows, columns=COLUMNS))
    assert result.reviewer_variance == pytest.approx(0, abs=1e-7)
    assert (result.table["effect"] == 0).all()
    assert "no systematic difference" in result.note


def test_wording_is_a_prompt_not_a_verdict():
    result = drift.drift_from_pairs(PAIRS, min_pairs=12)
    assert "not a judgement of anyone's performance" in result.note
    for text in result.table["wording"]:
        assert "performance" not in text and "poor reviewer" not in text.lower()


def test_from_a_review_frame():
    rows = []
    for i, (r1, r2, y1, y2) in enumerate(REFERENCE["pairs"]):
        rows.append({"review_id": f"V{i}a", "case_id": f"C{i}", "reviewer_id": r1,
                     "review_date": "2024-01-10", "score_overall": y1})
        rows.append({"review_id": f"V{i}b", "case_id": f"C{i}", "reviewer_id": r2,
                     "review_date": "2024-01-20", "score_overall": y2})
    reviews = make_reviews(rows)
    assert len(rating_pairs(reviews)) == 24
    result = drift.reviewer_drift(reviews, min_pairs=12)
    closed = REFERENCE["closed_form"]
    table = result.table.set_index("reviewer_id")
    assert table.loc["A", "effect"] == pytest.approx(closed["effect"]["A"], abs=1e-7)


def test_unlinked_reviewer_sets_are_centred_apart():
    """Two organisations whose reviewers never share a case: each set is compared within."""
    other = PAIRS.replace({"A": "W", "B": "X", "C": "Y", "D": "Z"})
    result = drift.drift_from_pairs(pd.concat([PAIRS, other], ignore_index=True), min_pairs=12)
    table = result.table.set_index("reviewer_id")
    assert table.loc[REVIEWERS, "effect"].sum() == pytest.approx(0, abs=1e-9)
    assert table.loc["A", "std_err"] == pytest.approx(table.loc["W", "std_err"])
    assert table.loc["A", "effect"] == pytest.approx(table.loc["W", "effect"])
