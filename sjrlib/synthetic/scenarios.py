"""Real changes in care over time at a few organisations, so SPC charts have something to find.

A scenario is a step (from ``start_month`` on) or a linear trend (from ``start_month`` to the end
of the period) in the latent care quality of one organisation, improving or deteriorating by
``CalibrationParams.change_size``. Every other organisation is stable.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd

from sjrlib.synthetic.params import CalibrationParams

__all__ = ["SCENARIO_COLUMNS", "draw_scenarios"]

SCENARIO_COLUMNS: tuple[str, ...] = (
    "organisation_code",
    "kind",
    "direction",
    "start_month",
    "latent_shift",
    "expected_poor_share_before",
    "expected_poor_share_after",
)


def draw_scenarios(
    rng: np.random.Generator,
    codes: np.ndarray,
    org_effect: np.ndarray,
    months: np.ndarray,
    cuts: np.ndarray,
    p: CalibrationParams,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Choose organisations with a real change; return the scenarios frame and the latent
    shift of every organisation in every month (organisations x months)."""
    n, n_months = len(codes), len(months)
    shift = np.zeros((n, n_months))
    k = 0
    if n >= 2 and p.changing_organisation_share > 0:
        k = min(n - 1, max(2, int(round(p.changing_organisation_share * n))))
    kinds = (("step", "deterioration"), ("step", "improvement"),
             ("trend", "deterioration"), ("trend", "improvement"))
    chosen = np.sort(rng.choice(n, size=k, replace=False)) if k else np.array([], dtype=int)
    # Start in the middle third, after a baseline of at least 12 months when the period allows
    # (SPC limits need 12 points) and with at least 8 months after it.
    lo = int(0.35 * n_months)
    if n_months >= 20:
        lo = max(lo, 12)
    hi = min(max(int(0.65 * n_months), lo + 1), max(n_months - 8, lo + 1))
    within_sd = np.sqrt(1 - p.organisation_sd**2)
    poor_cut = cuts[1]  # between "poor" (2) and "adequate" (3)
    rows = []
    for j, org in enumerate(chosen):
        kind, direction = kinds[j % len(kinds)]
        start = int(rng.integers(lo, hi))
        size = p.change_size if direction == "improvement" else -p.change_size
        t = np.arange(n_months)
        if kind == "step":
            shift[org] = np.where(t >= start, size, 0.0)
        else:
            shift[org] = np.where(t >= start, size * (t - start + 1) / (n_months - start), 0.0)
        before = NormalDist().cdf((poor_cut - org_effect[org]) / within_sd)
        after = NormalDist().cdf((poor_cut - org_effect[org] - size) / within_sd)
        rows.append((codes[org], kind, direction,
                     str(np.datetime_as_string(months[start], unit="M")), size, before, after))
    frame = pd.DataFrame(rows, columns=list(SCENARIO_COLUMNS))
    return frame.astype({"organisation_code": "string", "kind": "string",
                         "direction": "string", "start_month": "string",
                         "latent_shift": "float64", "expected_poor_share_before": "float64",
                         "expected_poor_share_after": "float64"}), shift
