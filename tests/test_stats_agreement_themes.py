"""Per-theme agreement between two coders (sjrlib.stats.agreement.theme_agreement)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sjrlib.stats import agreement as ag

THEMES = ("deterioration", "sepsis", "medication", "good_practice")
A = {"r1": {"deterioration", "sepsis"}, "r2": {"sepsis"}, "r3": set(), "r4": {"medication"},
     "r5": {"deterioration"}, "only_a": {"sepsis"}}
B = {"r1": {"deterioration"}, "r2": {"sepsis"}, "r3": set(), "r4": {"medication", "sepsis"},
     "r5": {"deterioration"}, "only_b": set()}


def test_per_theme_counts_and_coefficients():
    table = ag.theme_agreement(A, B, THEMES).set_index("theme")
    assert table.index.tolist() == list(THEMES)
    assert (table["n"] == 5).all()  # r1..r5 coded by both; only_a / only_b are not
    sepsis = table.loc["sepsis"]
    # sepsis: A = r1 r2, B = r2 r4 -> agree on r2 (yes), r3, r5 (no): 3 of 5.
    assert sepsis[["n_a", "n_b", "n_both"]].tolist() == [2, 2, 1]
    assert sepsis["percent_agreement"] == pytest.approx(3 / 5)
    x = [1, 1, 0, 0, 0]
    y = [0, 1, 0, 1, 0]
    kappa = ag.weighted_kappa(x, y, None, categories=(0, 1))
    ac1 = ag.gwet_ac(x, y, categories=(0, 1))
    assert sepsis["kappa"] == pytest.approx(kappa.kappa)
    assert sepsis["kappa_ci_lower"] == pytest.approx(kappa.ci_lower)
    assert sepsis["ac1"] == pytest.approx(ac1.estimate)
    assert sepsis["ac1_ci_upper"] == pytest.approx(ac1.ci_upper)
    # Hand: pa = 0.6; pi_yes = (2 + 2) / 10 = 0.4; pe = (q / (q (q - 1))) sum pi (1 - pi)
    # = 0.4 * 0.6 + 0.6 * 0.4 = 0.48; AC1 = (0.6 - 0.48) / 0.52.
    assert sepsis["ac1"] == pytest.approx(0.12 / 0.52)
    # good_practice used by nobody: full agreement, kappa undefined, AC1 = 1.
    gp = table.loc["good_practice"]
    assert gp["percent_agreement"] == 1 and np.isnan(gp["kappa"]) and gp["ac1"] == 1


def test_long_frames_and_stored_codes_give_the_same():
    codes = pd.DataFrame({
        "review_id": ["r1", "r1", "r1", "r1", "r2", "r2", "r3"],
        "theme": ["sepsis", "deterioration", "sepsis", "medication", "sepsis", "sepsis",
                  "sepsis"],
        "coded_by": ["x", "x", "y", "z", "y", "x", "x"],
        "coded_at": pd.to_datetime(["2026-01-01", "2026-01-01", "2026-01-02", "2026-01-03",
                                    "2026-01-05", "2026-01-04", "2026-01-01"]),
        "phase": [None, "admission", None, None, None, None, None],
    })
    a, b = ag.theme_code_pairs(codes)
    # r1: x then y (z third, ignored); r2: x (04) before y (05); r3 coded by one person only.
    assert a == {"r1": {"sepsis", "deterioration"}, "r2": {"sepsis"}}
    assert b == {"r1": {"sepsis"}, "r2": {"sepsis"}}
    long_a = pd.DataFrame({"review_id": ["r1", "r1", "r2"],
                           "theme": ["sepsis", "deterioration", "sepsis"]})
    long_b = pd.DataFrame({"review_id": ["r1", "r2"], "theme": ["sepsis", "sepsis"]})
    pd.testing.assert_frame_equal(ag.theme_agreement(long_a, long_b, THEMES),
                                  ag.theme_agreement(a, b, THEMES))
    # A <NA> theme in the long form is "coded, no theme".
    long_b = pd.concat([long_b, pd.DataFrame({"review_id": ["r9"], "theme": [pd.NA]})])
    long_a = pd.concat([long_a, pd.DataFrame({"review_id": ["r9"], "theme": ["sepsis"]})])
    assert ag.theme_agreement(long_a, long_b, THEMES)["n"].iloc[0] == 3


def test_unknown_theme_and_bad_input_are_refused():
    with pytest.raises(ValueError, match="theme 'medication' is not in the themes given"):
        ag.theme_agreement(A, B, ("deterioration",))
    with pytest.raises(ValueError, match="must be a collection"):
        ag.theme_agreement({"r1": "sepsis"}, B, THEMES)
    with pytest.raises(ValueError, match="coded_by"):
        ag.theme_code_pairs(pd.DataFrame({"review_id": ["r1"], "theme": ["sepsis"]}))


def test_no_doubly_coded_review():
    table = ag.theme_agreement({"r1": {"sepsis"}}, {"r2": set()}, THEMES)
    assert (table["n"] == 0).all() and table["ac1"].isna().all()
