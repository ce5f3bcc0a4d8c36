"""What a reviewer writes: phase scores, judgement comments, problems, record quality.

Given each review's overall score (and which phases apply to its case), draw the rest of the
review so that it hangs together: phase scores near the overall score, comments that read like
the score, problems far more frequent with poor care, harm more likely with poor care.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from sjrlib.domain import PROBLEM_TYPES, comment_column, problem_column, score_column
from sjrlib.synthetic.params import CalibrationParams
from sjrlib.synthetic.phrases import comment_bank

__all__ = ["OPTIONAL_PHASES", "cut_points", "ordinal_from_latent", "review_content"]

OPTIONAL_PHASES: tuple[str, ...] = ("admission", "ongoing", "procedure", "perioperative",
                                    "end_of_life")
_HARM = np.array(["no", "probably", "yes"], dtype=object)


def cut_points(distribution: tuple[float, ...]) -> np.ndarray:
    """Standard normal cut points that turn N(0, 1) into categories 1..k with these shares."""
    p = np.asarray(distribution, dtype=float)
    cum = np.cumsum(p / p.sum())[:-1]
    return np.array([NormalDist().inv_cdf(min(max(c, 1e-12), 1 - 1e-12)) for c in cum])


def ordinal_from_latent(latent: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Category 1..len(cuts)+1 of each latent value."""
    return np.searchsorted(cuts, latent).astype(np.int64) + 1


def _draw_rows(rng: np.random.Generator, table: np.ndarray, row: np.ndarray) -> np.ndarray:
    """For each element, draw a column index from ``table[row[i]]`` (rows are probabilities)."""
    cum = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(row))[:, None]
    return np.minimum((u > cum[row]).sum(axis=1), table.shape[1] - 1)


def phase_scores(
    rng: np.random.Generator, overall: np.ndarray, params: CalibrationParams
) -> np.ndarray:
    """One score per optional phase (n x 5), each overall + a small offset, within 1-5.

    The offset of a phase is drawn from ``params.phase_offset_by_phase[phase]`` when given
    (end-of-life care is rated better), else from ``params.phase_offset_distribution``.
    """
    u = rng.random((len(overall), len(OPTIONAL_PHASES)))
    off = np.empty(u.shape, dtype=np.int64)
    for j, phase in enumerate(OPTIONAL_PHASES):
        p = np.asarray(params.phase_offset_by_phase.get(phase, params.phase_offset_distribution),
                       dtype=float)
        cdf = np.cumsum(p / p.sum())
        cdf /= cdf[-1]
        off[:, j] = np.searchsorted(cdf, u[:, j], side="right") - 2
    return np.clip(overall[:, None] + off, 1, 5)


def review_content(
    rng: np.random.Generator,
    overall: np.ndarray,
    applies: np.ndarray,
    record_latent: np.ndarray,
    procedural: np.ndarray,
    params: CalibrationParams,
) -> dict[str, np.ndarray]:
    """Draw everything in a review that follows from its overall score.

    Parameters
    ----------
    rng : numpy Generator
    overall : int array (1-5), the overall care score of each review
    applies : bool array (n x 5), whether each optional phase applies (``OPTIONAL_PHASES``)
    record_latent : float array, standard normal latent for the record quality score
    procedural : bool array, whether the case had a procedure or operation (procedure problems
        only happen then)
    params : calibration

    Returns
    -------
    dict of column name -> numpy array: ``score_*`` as float with NaN for not applicable,
    ``comment_*`` as object with None, ``record_quality_score``, ``any_problems``,
    ``problem_*`` (object, None = not present).
    """
    n = len(overall)
    bank = comment_bank()
    out: dict[str, np.ndarray] = {}
    scores = phase_scores(rng, overall, params)
    for j, phase in enumerate(OPTIONAL_PHASES):
        col = np.where(applies[:, j], scores[:, j], 0)
        out[score_column(phase)] = np.where(applies[:, j], scores[:, j], np.nan)
        out[comment_column(phase)] = _comments(rng, bank[phase], col)
    out[score_column("overall")] = overall.astype(float)
    out[comment_column("overall")] = _comments(rng, bank["overall"], overall)

    rq_cuts = cut_points(params.record_quality_distribution)
    out["record_quality_score"] = ordinal_from_latent(record_latent, rq_cuts).astype(float)

    level = overall - 1
    any_problem = rng.random(n) < np.asarray(params.any_problem_by_overall)[level]
    weights = np.array([params.problem_type_weights[t] for t in PROBLEM_TYPES], dtype=float)
    weights = weights / weights.sum()
    proc_col = PROBLEM_TYPES.index("procedure")
    w_plain = weights.copy()
    w_plain[proc_col] = 0.0
    table = np.vstack([w_plain, weights])
    primary = _draw_rows(rng, table, procedural.astype(np.int64))
    extra_rate = np.asarray(params.extra_problem_rate_by_overall)[level]
    harm_table = np.asarray(params.harm_by_overall, dtype=float)
    present_any = np.zeros(n, dtype=bool)
    for k, ptype in enumerate(PROBLEM_TYPES):
        extra = rng.random(n) < extra_rate * weights[k]
        if ptype == "procedure":
            extra &= procedural
        present = any_problem & ((primary == k) | extra)
        present_any |= present
        harm = _HARM[_draw_rows(rng, harm_table, level)]
        out[problem_column(ptype)] = np.where(present, harm, None)
    out["any_problems"] = np.where(present_any, "yes", "no").astype(object)
    return out


def _comments(
    rng: np.random.Generator, bank: dict[int, np.ndarray], scores: np.ndarray
) -> np.ndarray:
    """Pick a comment for each score 1-5 (0 = phase not scored -> None)."""
    out = np.full(len(scores), None, dtype=object)
    for score in range(1, 6):
        rows = np.flatnonzero(scores == score)
        if rows.size:
            choices = bank[score]
            out[rows] = choices[rng.integers(0, len(choices), rows.size)]
    return out
