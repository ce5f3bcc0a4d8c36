"""Why each synthetic case was reviewed (NQB 2017 review-reason ids), as bit masks.

Bit ``i`` of a mask is ``sjrlib.domain.REVIEW_REASONS[i]``, so turning masks into
``;``-joined text lists the reasons in spec order.
"""

from __future__ import annotations

import numpy as np

from sjrlib.domain import REASON_SEPARATOR, REVIEW_REASONS
from sjrlib.synthetic.params import CalibrationParams

__all__ = ["draw_reasons", "reason_strings"]


def draw_reasons(
    rng: np.random.Generator,
    p: CalibrationParams,
    month: np.ndarray,
    is_ld: np.ndarray,
    smi: np.ndarray,
    elective: np.ndarray,
) -> np.ndarray:
    """Review reasons of each case as a bit mask (bit i = ``REVIEW_REASONS[i]``)."""
    n = len(month)
    bit = {r: np.int64(1) << i for i, r in enumerate(REVIEW_REASONS)}
    names = list(p.reason_weights)
    w_after = np.array([p.reason_weights[r] for r in names], dtype=float)
    w_before = w_after.copy()
    if "medical_examiner" in names and "random_sample" in names:
        w_before[names.index("random_sample")] += w_before[names.index("medical_examiner")]
        w_before[names.index("medical_examiner")] = 0.0
    bits = np.array([bit[r] for r in names], dtype=np.int64)
    me_era = month >= np.datetime64(p.medical_examiner_from, "M")
    primary = np.where(
        me_era,
        rng.choice(len(names), size=n, p=w_after / w_after.sum()),
        rng.choice(len(names), size=n, p=w_before / w_before.sum()),
    )
    mask = np.where(is_ld, bit["learning_disability"], bits[primary])
    extra = np.where(
        me_era,
        rng.choice(len(names), size=n, p=w_after / w_after.sum()),
        rng.choice(len(names), size=n, p=w_before / w_before.sum()),
    )
    mask |= np.where(rng.random(n) < p.extra_reason_share, bits[extra], 0)
    mask |= np.where(smi & (rng.random(n) < p.severe_mental_illness_reason_share),
                     bit["severe_mental_illness"], 0)
    mask |= np.where(elective & (rng.random(n) < 0.7), bit["elective"], 0)
    return mask


def reason_strings(mask: np.ndarray) -> np.ndarray:
    """``;``-joined reason ids in spec order for each bit mask."""
    uniq, inverse = np.unique(mask, return_inverse=True)
    text = np.array([
        REASON_SEPARATOR.join(r for i, r in enumerate(REVIEW_REASONS) if (int(v) >> i) & 1)
        for v in uniq
    ], dtype=object)
    return text[inverse]
