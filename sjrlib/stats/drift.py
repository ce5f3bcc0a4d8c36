"""Reviewer drift: does a reviewer score overall care systematically lower or higher than the
other reviewers of the same cases? (Issue 15, item 6; for organisation leads, privately.)

Only cases reviewed independently by two first-stage reviewers say anything about this: on
them, both reviewers read the same record, so a consistent gap between a reviewer and their
co-reviewers is about how they score, not about the cases they happened to get. The result is
a prompt to bring a reviewer to a calibration session, never a judgement of their performance:
a reviewer can be harsher than colleagues and right.

Model
-----
``score_overall[case c, reviewer r] = a_c + u_r + e_cr`` with a fixed effect ``a_c`` per
double-reviewed case, a random reviewer effect ``u_r ~ N(0, s_u^2)`` and ``e ~ N(0, s_e^2)``.
Why the case is fixed, not a crossed random effect: cases are not given to reviewers at random
(one reviewer may see the sicker wards), and a fixed case effect compares each reviewer only
with the other reviewer *of the same case*, whatever the case mix; a random case effect would
let the case mix leak into ``u_r``.

How it is fitted: with two ratings per case, the within-case differences
``d_c = y_c1 - y_c2 = u_r1 - u_r2 + (e_c1 - e_c2)`` are a full set of error contrasts of that
model, so its REML likelihood is exactly the likelihood of ``d = D u + eta``,
``eta ~ N(0, 2 s_e^2 I)`` (``D`` = cases x reviewers, +1 for the first reviewer of the case, -1
for the second), and the BLUPs of ``u`` with the case effects estimated are the BLUPs of this
model (Searle et al. 1992, ch. 6-7). That model is fitted with
``statsmodels.regression.mixed_linear_model.MixedLM`` (REML; one group, the reviewers as one
variance component with design ``D``). Fitting the level model directly, with one fixed-effect
column per case, gives the same figures on small data (the reference test shows it) but takes
tens of seconds at 400 cases and its optimiser stalls; the difference form takes milliseconds.

Effects and intervals: ``u_r`` is predicted by its BLUP (``random_effects``); its interval is
``BLUP +/- z SE`` with the prediction-error variance ``PEV = (D'D / (2 s_e^2) + I / s_u^2)^-1``
(``random_effects_cov``, which for the difference model accounts for the estimation of the case
effects). Within-case differences say nothing about the common level of a set of reviewers
(only how they differ from one another), so the effect is read against the average of the
reviewers linked to this one by shared cases (the BLUPs already sum to 0 there) and its SE is
that of the contrast, ``sqrt(diag(C PEV C'))`` with ``C = I - J / R`` within each linked set;
the unidentifiable level (``s_u^2 / R``) is left out. As usual the PEV does not account for the
estimation of ``s_u^2`` and ``s_e^2``: the
intervals are somewhat too narrow when there are few reviewers. BLUPs are shrunk towards 0 (a
reviewer with few pairs is pulled towards "like everyone else"), which is the point. Scores are
treated as numbers (1-5); the effect is in points of that scale.

Shown only where there is enough: a reviewer's effect is shown with :data:`MIN_PAIRS` = 10
double-reviewed cases or more (an effect from fewer pairs is mostly noise and would be read as a
verdict); the model is fitted only with at least :data:`MIN_REVIEWERS` = 3 reviewers in pairs
and :data:`MIN_TOTAL_PAIRS` = 20 pairs. Reviewers below the threshold still help estimate the
others (they are in the model) but are not listed.

References
----------
Henderson CR. Best linear unbiased estimation and prediction under a selection model.
Biometrics 1975;31:423-47. Robinson GK. That BLUP is a good thing: the estimation of random
effects. Stat Sci 1991;6:15-32. Searle SR, Casella G, McCulloch CE. Variance Components.
Wiley, 1992 (ch. 7, prediction error variance). Manaseki-Holland S et al. Reviewing deaths in
British and US hospitals: a study of two scales for assessing preventability. BMJ Qual Saf
2017;26:408-16 (single-review reliability about 0.25).
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse, stats
from scipy.sparse.csgraph import connected_components
from statsmodels.regression.mixed_linear_model import MixedLM, VCSpec

from sjrlib.stats.agreement import rating_pairs

__all__ = [
    "MIN_PAIRS",
    "MIN_REVIEWERS",
    "MIN_TOTAL_PAIRS",
    "DriftResult",
    "drift_from_pairs",
    "reviewer_drift",
]

MIN_PAIRS = 10
"""Double-reviewed cases a reviewer needs before their effect is shown."""
MIN_REVIEWERS = 3
"""Reviewers (in at least one pair) needed to fit the model."""
MIN_TOTAL_PAIRS = 20
"""Double-reviewed cases needed to fit the model."""

_NOTE = (
    "How each reviewer's overall care scores compare with those of the other reviewer of the "
    "same cases, from cases reviewed independently by two reviewers (a mixed model with a "
    "reviewer effect, comparing reviewers within each case), relative to the average of the "
    "reviewers they share cases with. Negative = tends to score lower (harsher) than "
    "co-reviewers; positive = higher (more lenient). Estimates are shrunk "
    "towards 0 and shown only for reviewers with {min_pairs} or more double-reviewed cases. "
    "This is a prompt for a calibration conversation, not a judgement of anyone's "
    "performance: a reviewer who differs from colleagues may be the one who is right, and "
    "published reliability of a single review is modest (about 0.25).")


@dataclasses.dataclass(frozen=True)
class DriftResult:
    """What :func:`reviewer_drift` returns."""

    table: pd.DataFrame
    """One row per reviewer with at least ``min_pairs`` pairs: ``reviewer_id``, ``n_pairs``,
    ``effect`` (BLUP, points on the 1-5 overall care scale; negative = harsher),
    ``std_err`` (prediction-error SE), ``ci_lower``, ``ci_upper``, ``wording``."""
    reviewer_variance: float
    """REML estimate of ``s_u^2`` (NaN when not fitted)."""
    residual_variance: float
    """REML estimate of ``s_e^2``."""
    n_pairs: int
    n_reviewers: int
    """Reviewers in at least one pair (all in the model, listed or not)."""
    fitted: bool
    note: str
    """What the table is and is not, for the page; or why there is no table."""


def _wording(effect: float, lo: float, hi: float, level: float) -> str:
    span = f"{level:.0%} interval {lo:+.2f} to {hi:+.2f}"
    if lo > 0:
        return (f"Tends to score overall care higher (more lenient) than co-reviewers of the "
                f"same cases, by about {effect:.2f} points ({span}): worth comparing notes at "
                "a calibration session.")
    if hi < 0:
        return (f"Tends to score overall care lower (harsher) than co-reviewers of the same "
                f"cases, by about {-effect:.2f} points ({span}): worth comparing notes at a "
                "calibration session.")
    return (f"No clear difference from co-reviewers of the same cases (estimate "
            f"{effect:+.2f}, {span}).")


def _empty(pairs: int, reviewers: int, why: str) -> DriftResult:
    table = pd.DataFrame({"reviewer_id": pd.Series(dtype="string"),
                          "n_pairs": pd.Series(dtype=np.int64),
                          **{c: pd.Series(dtype=np.float64)
                             for c in ("effect", "std_err", "ci_lower", "ci_upper")},
                          "wording": pd.Series(dtype="string")})
    return DriftResult(table, np.nan, np.nan, pairs, reviewers, False, why)


_GROUP = 0.0


def _fit_differences(d: np.ndarray, d_mat: np.ndarray, reviewers: np.ndarray) -> Any:
    """REML fit of ``d = D u + eta``, ``u ~ N(0, s_u^2 I)``, ``eta ~ N(0, 2 s_e^2 I)``: one
    group, the reviewers as one variance component with design ``D`` (statsmodels handles the
    low-rank ``D`` by the Woodbury identity: milliseconds for thousands of pairs). None when
    the optimum is on the boundary ``s_u^2 = 0``."""
    n = d.size
    spec = VCSpec(["reviewer"], [[[f"reviewer[{r}]" for r in reviewers]]], [[d_mat]])
    model = MixedLM(d, np.zeros((n, 0)), groups=np.full(n, _GROUP),
                    exog_re=np.zeros((n, 0)), exog_vc=spec)
    with warnings.catch_warnings():
        # Boundary fits (reviewer variance 0) are reported in the result, not as warnings
        # on a lead's page.
        warnings.simplefilter("ignore")
        # Derivative-free: statsmodels' gradient methods stop short of the optimum on this
        # model (on unbalanced test data BFGS ends 12% off and unconverged); the scale is
        # profiled out, so Powell searches one parameter and reaches it to ~1e-8.
        try:
            fit = model.fit(reml=True, method="powell", xtol=1e-12, ftol=1e-14)
            if not fit.converged:
                fit = model.fit(reml=True, method="nm", xtol=1e-12, ftol=1e-14,
                                maxiter=20000)
        except np.linalg.LinAlgError:
            # The optimum is on the boundary s_u^2 = 0, where statsmodels' Hessian (through
            # 1 / s_u^2) is singular: the caller takes the boundary solution.
            return None
        return fit


def _centring(d_mat: np.ndarray) -> np.ndarray:
    """``I - J / R_k`` within each set of reviewers linked by shared cases (connected
    component of the reviewer graph): the matrix turning effects into effects relative to the
    average reviewer they can be compared with."""
    linked = sparse.csr_matrix((np.abs(d_mat).T @ np.abs(d_mat)) > 0)
    _, label = connected_components(linked, directed=False)
    same = (label[:, None] == label[None, :]).astype(np.float64)
    return np.eye(label.size) - same / same.sum(axis=1, keepdims=True)


def drift_from_pairs(
    pairs: pd.DataFrame,
    *,
    min_pairs: int = MIN_PAIRS,
    alpha: float = 0.05,
) -> DriftResult:
    """Reviewer effects from pairs of ratings of the same cases.

    Parameters
    ----------
    pairs : pandas.DataFrame
        One row per double-reviewed case: ``reviewer_id_1``, ``reviewer_id_2``, ``rating_1``,
        ``rating_2`` (as :func:`sjrlib.stats.agreement.rating_pairs` returns); rows with a
        missing rating, or the same reviewer twice, are left out.
    min_pairs : int
        Pairs a reviewer needs to be listed.
    alpha : float
        1 - confidence level of the intervals.

    Returns
    -------
    DriftResult
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha!r}")
    need = ["reviewer_id_1", "reviewer_id_2", "rating_1", "rating_2"]
    missing = [c for c in need if c not in pairs.columns]
    if missing:
        raise ValueError(f"pairs lack the column(s) {missing}; expected {need}")
    r1 = pairs["reviewer_id_1"].astype("string")
    r2 = pairs["reviewer_id_2"].astype("string")
    y1 = pd.to_numeric(pairs["rating_1"], errors="coerce").astype("Float64")
    y2 = pd.to_numeric(pairs["rating_2"], errors="coerce").astype("Float64")
    ok = (r1.notna() & r2.notna() & y1.notna() & y2.notna() & (r1 != r2)).to_numpy(bool)
    r1, r2 = r1[ok].to_numpy(str), r2[ok].to_numpy(str)
    y1 = y1[ok].to_numpy(np.float64)
    y2 = y2[ok].to_numpy(np.float64)
    n = int(ok.sum())
    reviewers = np.unique(np.concatenate([r1, r2])) if n else np.array([], dtype=str)
    note = _NOTE.format(min_pairs=min_pairs)
    if n < MIN_TOTAL_PAIRS or reviewers.size < MIN_REVIEWERS:
        return _empty(n, int(reviewers.size), (
            f"Not enough double-reviewed cases to compare reviewers: {n} pair(s) among "
            f"{reviewers.size} reviewer(s); the comparison needs at least {MIN_TOTAL_PAIRS} "
            f"pairs and {MIN_REVIEWERS} reviewers."))
    index = {r: k for k, r in enumerate(reviewers)}
    d_mat = np.zeros((n, reviewers.size))
    d_mat[np.arange(n), [index[r] for r in r1]] += 1.0
    d_mat[np.arange(n), [index[r] for r in r2]] -= 1.0
    counts = np.abs(d_mat).sum(axis=0).astype(np.int64)
    d = y1 - y2
    fit = _fit_differences(d, d_mat, reviewers)
    if fit is None:  # boundary: no reviewer variance; then REML of s_e^2 is d'd / (2 n)
        s_u2, s_e2 = 0.0, float(d @ d) / (2 * n)
    else:
        s_u2, s_e2 = float(fit.vcomp[0]), float(fit.scale) / 2
    z = float(stats.norm.ppf(1 - alpha / 2))
    if s_u2 <= 1e-10 * max(s_e2, 1e-300):
        effect = np.zeros(reviewers.size)
        se = np.zeros(reviewers.size)
        note += (" The model finds no systematic difference between reviewers (the reviewer "
                 "variance is estimated at 0), so every effect is 0.")
    else:
        effect = np.asarray(fit.random_effects[_GROUP], dtype=np.float64)
        pev = np.asarray(fit.random_effects_cov[_GROUP], dtype=np.float64)
        centre = _centring(d_mat)
        se = np.sqrt(np.clip(np.diag(centre @ pev @ centre.T), 0, None))
    shown = counts >= min_pairs
    level = 1 - alpha
    lo, hi = effect - z * se, effect + z * se
    table = pd.DataFrame({
        "reviewer_id": pd.array(reviewers[shown], dtype="string"),
        "n_pairs": counts[shown],
        "effect": effect[shown], "std_err": se[shown],
        "ci_lower": lo[shown], "ci_upper": hi[shown],
        "wording": pd.array([_wording(e, a, b, level) for e, a, b in
                             zip(effect[shown], lo[shown], hi[shown])], dtype="string"),
    })
    if not shown.any():
        note += f" No reviewer has {min_pairs} or more double-reviewed cases yet."
    return DriftResult(table.reset_index(drop=True), s_u2, s_e2, n, int(reviewers.size), True,
                       note)


def reviewer_drift(
    reviews: pd.DataFrame,
    *,
    min_pairs: int = MIN_PAIRS,
    alpha: float = 0.05,
    include_drafts: bool = False,
) -> DriftResult:
    """Each reviewer's systematic difference from co-reviewers on overall care, with intervals.

    Parameters
    ----------
    reviews : pandas.DataFrame
        Validated review frame (real reviews only: training answers never come here), as the
        caller's scoped session returned it (a lead: their organisation).
    min_pairs : int
        Double-reviewed cases a reviewer needs to be listed (default :data:`MIN_PAIRS`).
    alpha : float
        1 - confidence level.
    include_drafts : bool
        Count draft reviews (default no, as every agreement statistic).

    Returns
    -------
    DriftResult
        ``table`` (reviewer_id, n_pairs, effect, std_err, ci_lower, ci_upper, wording), the
        variance components, counts, whether the model was fitted and a ``note`` for the page.

    Notes
    -----
    The pairs are those of :func:`sjrlib.stats.agreement.rating_pairs`: the first two
    independent first-stage reviews of each case. See the module docstring for the model, why
    the case is a fixed effect, how the intervals are computed, and the thresholds.
    """
    return drift_from_pairs(rating_pairs(reviews, "score_overall",
                                         include_drafts=include_drafts),
                            min_pairs=min_pairs, alpha=alpha)
