"""The ``ext2026`` questions of synthetic reviews (``shared/spec/form-versions.md``).

Reviews of deaths from ``CalibrationParams.ext2026_from`` (September 2024, when medical examiner
scrutiny became statutory in England) are entered on the ``ext2026`` form; earlier ones on
``rcp2017``, with every ext2026 answer blank. Every figure is a field of
:class:`~sjrlib.synthetic.params.CalibrationParams` with its source or "assumption"; in short:

- medical examiner scrutiny: England about 94% ``yes`` (one acute trust's medical examiners
  scrutinised 2,687 of 2,856 deaths in 2020-21, Payne-James et al., Med Sci Law 2022,
  doi:10.1177/00258024221087005; statutory for every death not investigated by a coroner from
  9 September 2024); Scotland always ``not_applicable`` (the Death Certification Review Service
  samples certificates instead). A medical examiner concern only after scrutiny: about 85% of
  reviews requested by the medical examiner (review reason ``medical_examiner``; medical
  examiners refer 7-8% of acute deaths for case record review, National Medical Examiner's
  report 2024), about 4% of the rest (assumption).
- family concern: about 95% of reviews requested because the family raised a concern (reason
  ``family_concern``), about 3% of the rest (assumption), so a few % of all reviews beyond the
  family-concern reviews themselves.
- autism: about 1% of reviewed adults (1.1% of adults in England are autistic, Adult
  Psychiatric Morbidity Survey 2014, Brugha et al. 2016; diagnosis is rarer among the old), 20%
  of those with a learning disability (assumption); 3% not known.
- Clinical Frailty Scale: only at 65 and over (the scale is validated for older people), scored
  on about 70% of them (assumption), skewed to moderate and severe frailty (assumption: older
  people dying in hospital are mostly frail).
- family involvement and feedback: about 55% of families told and invited (assumption; NQB 2018
  expects it for every review, and a published audit found only 17% of Quality Accounts
  mentioned families), 90% when the family raised the concern; findings shared with about half
  of the involved families, the rest mostly not yet (assumption).
- treatment escalation plan (e.g. ReSPECT) documented in about 75% of deaths, less often where
  care was poor (assumption); dying recognised in good time in about 85% of deaths with
  end-of-life care, much less often where end-of-life care was poor; ``not_applicable`` for
  most deaths with no end-of-life phase (sudden deaths) (assumption).
- referrals on: rates by stage and finding (first stage; first stage with poor or very poor
  care; second stage; second stage judged more likely than not avoidable), e.g. a patient safety
  incident investigation (PSII) after about 40% of second-stage reviews judging the death more
  likely than not avoidable (assumption). The rules hold by construction: ``coroner`` only for
  English organisations, ``procurator_fiscal`` only for Scottish ones, ``leder`` only when
  learning disability or autism is ``yes`` (about 90% of those: every such death should be
  notified to LeDeR), a ``complaint`` mostly after a family concern.

Drawn from a random stream of its own (``SeedSequence([seed, 2026])``), so the rest of the data
set, and every review before ``ext2026_from``, is exactly what it was before these questions
existed.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from sjrlib.synthetic.params import CalibrationParams

__all__ = ["EXT2026_SEED", "draw_ext2026"]

EXT2026_SEED = 2026
"""Second word of the seed sequence of the ext2026 stream (the first is the data set's seed)."""


def _pick(rng: np.random.Generator, table: Mapping[str, float], n: int) -> np.ndarray:
    keys = np.array(list(table), dtype=object)
    w = np.array(list(table.values()), dtype=float)
    return keys[rng.choice(len(keys), size=n, p=w / w.sum())]


def _pick_where(rng: np.random.Generator, condition: np.ndarray, yes: Mapping[str, float],
                no: Mapping[str, float]) -> np.ndarray:
    """``_pick`` from ``yes`` where ``condition``, else from ``no`` (same draws either way)."""
    a, b = _pick(rng, yes, len(condition)), _pick(rng, no, len(condition))
    return np.where(condition, a, b)


def draw_ext2026(
    rng: np.random.Generator,
    p: CalibrationParams,
    *,
    case: np.ndarray,
    ext: np.ndarray,
    scottish: np.ndarray,
    age: np.ndarray,
    learning_disability: np.ndarray,
    medical_examiner_reason: np.ndarray,
    family_concern_reason: np.ndarray,
    second_stage: np.ndarray,
    overall: np.ndarray,
    end_of_life: np.ndarray,
    avoidability: np.ndarray,
    months_from_end: np.ndarray,
    death_year: np.ndarray,
    referral_types: tuple[str, ...],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The ext2026 answers of every review (``None`` on reviews not on the ext2026 form).

    Parameters
    ----------
    rng
        The ext2026 stream.
    case
        Each review's case (index into per-case draws: a case's facts are the same in every
        review of it).
    ext
        Whether the review is on the ext2026 form.
    scottish, age, learning_disability, medical_examiner_reason, family_concern_reason
        Per review: organisation in Scotland, age at death, the learning disability answer,
        whether the review reasons include ``medical_examiner`` / ``family_concern``.
    second_stage, overall, end_of_life, avoidability
        Per review: second-stage review, overall care score, end-of-life care score (0 when
        not scored), RCP avoidability score (0 when none).
    months_from_end, death_year
        Months from the death to the end of the period (recent referrals are still planned,
        recent findings not yet shared), and the year of death (in reference numbers).
    referral_types
        The referral types of the form, in its order.

    Returns
    -------
    (answers, referral statuses, referral references)
        ``{question id: object array}``, ``{referral type: object array}`` twice.
    """
    n_cases = int(case.max()) + 1 if len(case) else 0
    n = len(case)

    def per_case(values: np.ndarray) -> np.ndarray:
        return values[case]

    def of_case(values: np.ndarray) -> np.ndarray:
        """A per-review fact of the case (the same in each of its reviews), one per case."""
        out = np.zeros(n_cases, dtype=values.dtype)
        out[case] = values
        return out

    # --- facts of the case (drawn once per case) -----------------------------------------
    ld = learning_disability == "yes"
    autism = per_case(_pick(rng, p.autism_given_learning_disability, n_cases))
    other = per_case(_pick(rng, p.autism_otherwise, n_cases))
    autism = np.where(ld, autism, other)
    cfs = per_case(rng.choice(np.arange(1, 10), size=n_cases, p=_norm(p.frailty_distribution)))
    scored = per_case(rng.random(n_cases) < p.frailty_recorded_share)
    cfs = np.where((age >= p.frailty_min_age) & scored, cfs, 0)
    me = np.where(scottish, "not_applicable",
                  per_case(_pick(rng, p.me_scrutiny_england, n_cases)))
    me_concern = per_case(_pick_where(rng, of_case(medical_examiner_reason),
                                      p.me_concern_after_referral, p.me_concern_otherwise))
    me_concern = np.where(me == "yes", me_concern, None)
    family = per_case(_pick_where(rng, of_case(family_concern_reason),
                                  p.family_concern_after_concern, p.family_concern_otherwise))

    # --- what the review found and did ----------------------------------------------------
    involved = _pick_where(rng, family == "yes", p.family_involved_after_concern,
                           p.family_involved)
    feedback = np.empty(n, dtype=object)
    for answer, table in p.family_feedback_by_involvement.items():
        rows = involved == answer
        feedback[rows] = _pick(rng, table, int(rows.sum()))
    recent = months_from_end < p.feedback_pending_months
    feedback = np.where(recent & (feedback == "yes"), "not_yet", feedback)
    plan_yes = np.asarray(p.escalation_plan_by_overall, dtype=float)[np.clip(overall, 1, 5) - 1]
    u = rng.random(n)
    plan = np.where(u < p.escalation_plan_unknown_share, "unknown",
                    np.where(rng.random(n) < plan_yes, "yes", "no"))
    no_share = np.asarray(p.dying_not_recognised_by_end_of_life, dtype=float)[
        np.clip(end_of_life, 1, 5) - 1]
    u = rng.random(n)
    dying = np.where(u < p.dying_recognised_unknown_share, "unknown",
                     np.where(rng.random(n) < no_share, "no", "yes"))
    sudden = _pick(rng, p.dying_recognised_without_end_of_life, n)
    dying = np.where(end_of_life == 0, sudden, dying)

    answers = {
        "autism": autism, "clinical_frailty_scale": np.where(cfs > 0, cfs, np.nan),
        "me_scrutiny": me, "me_concern": me_concern, "family_concern": family,
        "family_involved": involved, "family_feedback": feedback, "escalation_plan": plan,
        "dying_recognised": dying,
    }
    statuses, references = _referrals(
        rng, p, n=n, scottish=scottish, eligible_leder=ld | (autism == "yes"),
        family_concern=family == "yes", second_stage=second_stage, poor=overall <= 2,
        avoidable=(avoidability >= 1) & (avoidability <= 3), recent=recent,
        year=death_year, types=referral_types)
    # object arrays (None = blank; numpy's own text arrays would store None as "None"), blank
    # on every review not on the ext2026 form
    answers = {k: (v if v.dtype.kind == "f" else v.astype(object)) for k, v in answers.items()}
    for values in (*answers.values(), *statuses.values(), *references.values()):
        values[~ext] = np.nan if values.dtype.kind == "f" else None
    return answers, statuses, references


def _norm(weights) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return w / w.sum()


def _referrals(rng: np.random.Generator, p: CalibrationParams, *, n: int, scottish: np.ndarray,
               eligible_leder: np.ndarray, family_concern: np.ndarray,
               second_stage: np.ndarray, poor: np.ndarray, avoidable: np.ndarray,
               recent: np.ndarray, year: np.ndarray, types: tuple[str, ...]
               ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One status (or ``None``) and reference per review and referral type."""
    # column of p.referral_rates: first stage, first stage poor care, second stage, second
    # stage more likely than not avoidable
    which = np.where(second_stage, np.where(avoidable, 3, 2), np.where(poor, 1, 0))
    statuses: dict[str, np.ndarray] = {}
    references: dict[str, np.ndarray] = {}
    for kind in types:
        if kind in p.referral_rates:
            rate = np.asarray(p.referral_rates[kind], dtype=float)[which]
        elif kind in ("coroner", "procurator_fiscal"):
            rate = np.asarray(p.referral_rates_legal, dtype=float)[which]
            rate = rate * (scottish if kind == "procurator_fiscal" else ~scottish)
        elif kind == "leder":
            rate = np.where(eligible_leder, p.leder_referral_share, 0.0)
        elif kind == "complaint":
            rate = np.where(family_concern, p.complaint_after_family_concern,
                            p.complaint_otherwise)
        else:
            raise ValueError(f"no synthetic referral rate for referral type {kind!r}: add it to "
                             "CalibrationParams.referral_rates")
        present = rng.random(n) < rate
        status = _pick_where(rng, recent, p.referral_status_recent, p.referral_status)
        status = np.where(present, status, None).astype(object)
        numbered = present & np.isin(status, ("made", "completed")) & (
            rng.random(n) < p.referral_reference_share)
        prefix = p.referral_reference_prefix.get(kind, "REF")
        serial = rng.integers(1, 1000, n)
        reference = np.full(n, None, dtype=object)
        rows = np.flatnonzero(numbered)
        reference[rows] = [f"{prefix}/{int(y) % 100:02d}/{int(s):03d}"
                           for y, s in zip(year[rows], serial[rows], strict=True)]
        statuses[kind] = status
        references[kind] = reference
    return statuses, references
