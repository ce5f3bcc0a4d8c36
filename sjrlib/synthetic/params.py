"""Calibration of the synthetic data: every figure is a parameter.

Each default cites ``shared/spec/calibration.md`` ("spec") where the figure comes from a published
source, or says "assumption" where it is our own choice. Change a figure by passing
``CalibrationParams(overall_distribution=(...), ...)`` to :func:`sjrlib.synthetic.generate`.

Probability tables are tuples in the order of their vocabulary (care scores 1-5, avoidability
1-6, ...). They need not sum exactly to 1: they are normalised where they are used.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

# The phases scored besides overall (as ``sjrlib.synthetic.content.OPTIONAL_PHASES``).
_OPTIONAL_PHASES = ("admission", "ongoing", "procedure", "perioperative", "end_of_life")


def _d(**kwargs: float) -> dict[str, float]:
    return dict(kwargs)


@dataclass(frozen=True)
class CalibrationParams:
    """Figures that shape the synthetic data (defaults from the calibration spec).

    Notes
    -----
    Care quality is driven by a latent "true quality" of each case (organisation effect +
    scenario shift + review-reason effect + case effect) plus reviewer error; a review's overall
    score cuts ``latent + error`` at the normal quantiles of ``overall_distribution``. The share
    of the latent variance that is case (not reviewer) variance is ``overall_reliability``, the
    intra-class correlation of two independent first-stage reviews on the latent scale.
    """

    # --- Volumes ------------------------------------------------------------------------------
    # spec "Volumes": an acute trust has roughly 1,000-3,500 adult inpatient deaths a year
    # (assumption in the spec: draw per trust). Drawn from a triangular distribution; the mode
    # is our assumption (more small trusts than large ones), keeping the national total in the
    # spec's 150,000-300,000 reviews for 135 organisations x 5 years.
    deaths_per_year_min: float = 1000.0
    deaths_per_year_mode: float = 1000.0  # assumption
    deaths_per_year_max: float = 3500.0
    # Scottish boards range from island boards to Greater Glasgow (assumption: 200-5,000).
    scotland_deaths_per_year_min: float = 200.0  # assumption
    scotland_deaths_per_year_mode: float = 800.0  # assumption
    scotland_deaths_per_year_max: float = 5000.0  # assumption
    # Winter peak of deaths: relative amplitude of a cosine peaking in January (assumption; UK
    # excess winter mortality is typically 15-20%).
    winter_amplitude: float = 0.12
    # spec "Volumes": trusts review roughly 10-30% of deaths by SJR (assumption in the spec;
    # one trust reported 12%). Triangular per organisation; the mode is our assumption.
    review_share_min: float = 0.10
    review_share_mode: float = 0.10  # assumption: most near the low end (one trust: 12%)
    review_share_max: float = 0.30

    # --- Learning disability --------------------------------------------------------------------
    # Share of deaths in scope of patients with a learning disability (assumption: about 1-2%).
    learning_disability_share: float = 0.015
    # Deaths of people with a learning disability are all meant to be reviewed (NQB 2017; LeDeR):
    # share of them reviewed by SJR (assumption).
    learning_disability_review_share: float = 0.9
    # Share of other reviewed patients whose learning disability status is unknown (assumption).
    learning_disability_unknown_share: float = 0.03
    # Severe mental illness among reviewed patients: yes / unknown (assumption).
    severe_mental_illness_share: float = 0.04
    severe_mental_illness_unknown_share: float = 0.04

    # --- Care scores ----------------------------------------------------------------------------
    # spec "Care scores": overall very poor 3%, poor 12%, adequate 30%, good 40%, excellent 15%
    # (assumption in the spec, guided by Hutchinson 2013 and Roberts 2017).
    overall_distribution: tuple[float, ...] = (0.03, 0.12, 0.30, 0.40, 0.15)
    # spec "Reliability": inter-rater ICC for holistic scores 0.46-0.52 (Hutchinson 2010). Share
    # of latent variance that is the case's own (the latent-scale ICC); the ordinal scores come
    # out a little lower.
    overall_reliability: float = 0.52
    # Part of the reviewer error that is a stable reviewer severity (assumption): SD on the
    # latent scale (total latent variance 1).
    reviewer_severity_sd: float = 0.15
    # Organisations differ (assumption): SD of the organisation effect on the latent scale.
    # 0.25 moves an organisation's poor-care share from 15% to about 10% or 21%.
    organisation_sd: float = 0.25
    # Reviews triggered by a concern or an alarm find worse care (assumption): latent shift.
    concern_effect: float = -0.4
    # spec "Care scores": phase applicability. Procedure 15%, perioperative 10%, end-of-life 85%
    # (assumptions in the spec); admission and ongoing care almost always apply (assumption;
    # ongoing care only for patients who lived beyond the day of arrival).
    phase_applicability: dict[str, float] = field(
        default_factory=lambda: _d(
            admission=0.98, ongoing=0.95, procedure=0.15, perioperative=0.10, end_of_life=0.85
        )
    )
    # spec "Care scores": a phase is rarely two or more points away from overall. Probability
    # of a phase score being overall + offset for offsets -2, -1, 0, +1, +2 (assumption).
    phase_offset_distribution: tuple[float, ...] = (0.02, 0.16, 0.64, 0.16, 0.02)
    # Phases whose scores differ from overall in a published direction get their own offset
    # table (-2..+2), replacing ``phase_offset_distribution`` for that phase.
    # End-of-life care is rated better than the other phases: in one trust's SJRs (Oxford,
    # 2018/19) 96% of end-of-life phases were good or excellent against 50-75% for the other
    # phases (Miller, Yates, Lewis & Lowney, "Help for non-specialists assessing EOLC", BMJ
    # Supportive & Palliative Care 2022, doi:10.1136/bmjspcare-2021-003481); with quality
    # indicators for non-specialist reviewers the same trust's share fell to 68% (Miller et al.,
    # BMJ Support Palliat Care 2021;11(Suppl 1):A35); in another trust every oncology death's
    # end-of-life care was rated very good or excellent though an audit found it variable
    # (Robbins & Tredgett, BMJ Support Palliat Care 2019;9(Suppl 1):A25). Assumption: about 75%
    # good or excellent and about 7% poor or very poor (other phases: about 55% and 15%, as
    # overall, inside the 50-75% above), keeping the phase rarely two points from overall.
    phase_offset_by_phase: dict[str, tuple[float, ...]] = field(
        default_factory=lambda: {"end_of_life": (0.0, 0.02, 0.33, 0.55, 0.10)}
    )
    # Quality of the patient record (assumption): marginal 1-5 and latent correlation with the
    # overall care latent.
    record_quality_distribution: tuple[float, ...] = (0.03, 0.10, 0.35, 0.40, 0.12)
    record_quality_correlation: float = 0.4

    # --- Problems in care -----------------------------------------------------------------------
    # spec "Problems in care": problems are far more frequent when care is poor. P(any problem)
    # by overall score 1-5 (assumption).
    any_problem_by_overall: tuple[float, ...] = (0.97, 0.85, 0.30, 0.07, 0.02)
    # Type mix of problems (spec, PRISM 1 among preventable deaths: monitoring 31.3%, diagnosis
    # 29.7%, drug or fluid management 21.1%; the rest is our assumption). Keys: problem types.
    problem_type_weights: dict[str, float] = field(
        default_factory=lambda: _d(
            assessment=0.297,
            medication=0.211,
            treatment=0.12,  # assumption
            infection=0.06,  # assumption
            procedure=0.04,  # assumption
            monitoring=0.313,
            resuscitation=0.03,  # assumption
            other=0.08,  # assumption
        )
    )
    # Given any problem, chance that each further type is also present, relative to its weight
    # (assumption: poor care tends to have several problems), by overall score 1-5.
    extra_problem_rate_by_overall: tuple[float, ...] = (0.9, 0.6, 0.3, 0.15, 0.1)
    # Harm (no / probably / yes) from a present problem, by overall score 1-5 (assumption).
    harm_by_overall: tuple[tuple[float, float, float], ...] = (
        (0.15, 0.35, 0.50),
        (0.35, 0.40, 0.25),
        (0.75, 0.20, 0.05),
        (0.90, 0.08, 0.02),
        (0.95, 0.05, 0.00),
    )

    # --- Second stage and avoidability ----------------------------------------------------------
    # Share of first-stage reviews with poor or very poor overall care (1-2) that go to a
    # second-stage review (assumption: "a large share"), and of other reviews (local triggers).
    second_stage_share_poor: float = 0.85
    second_stage_share_other: float = 0.01
    # The second-stage overall score is the first-stage one plus an offset -2..+2 (assumption:
    # mostly confirmed, some revised upwards on fuller review).
    second_stage_offset_distribution: tuple[float, ...] = (0.02, 0.13, 0.60, 0.22, 0.03)
    # spec "Avoidability" (PRISM 2, n = 2,400, RCP direction): 6: 90.7%, 5: 3.6%, 4: 2.8%,
    # 3: 1.9%, 2: 1.0%, 1: 0.0%. Conditioned on the second-stage overall score (rows: overall
    # 1-5; columns: RCP avoidability 1-6). Derivation: if every death were scored, the overall
    # mix 3/12/30/40/15% times these rows gives back PRISM 2 (about 1.0/1.9/2.8/3.6% for 2-5
    # and 3.0% "more likely than not", spec: PRISM 2 3.0%, pooled 3.6%).
    avoidability_by_overall: tuple[tuple[float, ...], ...] = (
        (0.01, 0.18, 0.28, 0.25, 0.15, 0.13),
        (0.00, 0.038, 0.086, 0.141, 0.212, 0.523),
        (0.00, 0.00, 0.001, 0.012, 0.012, 0.975),
        (0.00, 0.00, 0.00, 0.00, 0.006, 0.994),
        (0.00, 0.00, 0.00, 0.00, 0.00, 1.00),
    )
    # Days from first-stage to second-stage review (assumption): minimum and mean extra delay.
    second_stage_delay_min_days: int = 7
    second_stage_delay_mean_days: float = 30.0
    second_stage_delay_max_days: int = 120

    # --- Double first-stage reviews (reliability sample) ----------------------------------------
    # Share of cases given a second, independent first-stage review (assumption: 3-5%).
    double_review_share: float = 0.04

    # --- Review reasons -------------------------------------------------------------------------
    # Primary reason mix for reviews not triggered by learning disability (assumption; NQB 2017
    # categories). `medical_examiner` is used only from `medical_examiner_from` (spec: since
    # 2024; the statutory medical examiner system started in September 2024); before that its
    # share goes to `random_sample`.
    reason_weights: dict[str, float] = field(
        default_factory=lambda: _d(
            family_concern=0.07,
            staff_concern=0.05,
            alarm=0.05,
            improvement_focus=0.12,
            medical_examiner=0.25,
            random_sample=0.46,
        )
    )
    medical_examiner_from: str = "2024-09"
    # Chance of one further, secondary reason (assumption).
    extra_reason_share: float = 0.08
    # Share of reviewed patients with a severe mental illness whose review lists that reason.
    severe_mental_illness_reason_share: float = 0.6

    # --- The ext2026 form (shared/spec/form-versions.md; sjrlib.synthetic.ext2026) ---------------
    # Reviews of deaths from this month on are entered on the ext2026 form: the statutory
    # medical examiner system began in England on 9 September 2024 (Death Certification
    # Reforms), and the form's questions follow it; earlier reviews stay rcp2017.
    ext2026_from: str = "2024-09"
    # Autism (Adult Psychiatric Morbidity Survey 2014, Brugha et al. 2016: 1.1% of adults in
    # England are autistic, fewer diagnosed among the old): "yes" among patients without a
    # learning disability about 0.8%, among those with one 20% (assumption); 3% not known.
    autism_otherwise: dict[str, float] = field(
        default_factory=lambda: _d(yes=0.008, no=0.962, unknown=0.03))
    autism_given_learning_disability: dict[str, float] = field(
        default_factory=lambda: _d(yes=0.20, no=0.77, unknown=0.03))
    # Clinical Frailty Scale (Rockwood 2005; version 2.0 wording): only for age 65 and over,
    # recorded on about 70% of them (assumption), scores 1-9 skewed to moderate and severe
    # frailty among older people dying in hospital (assumption).
    frailty_min_age: int = 65
    frailty_recorded_share: float = 0.7
    frailty_distribution: tuple[float, ...] = (0.01, 0.02, 0.05, 0.09, 0.14, 0.21, 0.24, 0.14,
                                               0.10)
    # Medical examiner scrutiny in England: 2,687 of 2,856 deaths (94%) at one acute trust in
    # 2020-21 (Payne-James et al., Med Sci Law 2022, doi:10.1177/00258024221087005), statutory
    # from September 2024 for every death not investigated by a coroner. Scotland: always
    # not_applicable (the Death Certification Review Service samples certificates instead).
    me_scrutiny_england: dict[str, float] = field(
        default_factory=lambda: _d(yes=0.94, no=0.03, unknown=0.03))
    # An ME concern (only after scrutiny): medical examiners refer 7-8% of acute deaths for
    # case record review (National Medical Examiner's report 2024); most reviews they asked for
    # (reason medical_examiner) record their concern, few others (assumption).
    me_concern_after_referral: dict[str, float] = field(
        default_factory=lambda: _d(yes=0.85, no=0.13, unknown=0.02))
    me_concern_otherwise: dict[str, float] = field(
        default_factory=lambda: _d(yes=0.04, no=0.93, unknown=0.03))
    # A family or carers' concern: nearly always on reviews requested for it (reason
    # family_concern), a few % of the others (assumption).
    family_concern_after_concern: dict[str, float] = field(
        default_factory=lambda: _d(yes=0.95, no=0.03, unknown=0.02))
    family_concern_otherwise: dict[str, float] = field(
        default_factory=lambda: _d(yes=0.03, no=0.90, unknown=0.07))
    # Families told of the review and invited to contribute (NQB 2018 guidance expects it for
    # every review; a published audit found only 17% of Quality Accounts mentioned families):
    # about 55% (assumption), 90% when the family raised the concern.
    family_involved: dict[str, float] = field(
        default_factory=lambda: _d(yes=0.55, no=0.22, declined=0.08, no_contact=0.15))
    family_involved_after_concern: dict[str, float] = field(
        default_factory=lambda: _d(yes=0.90, no=0.05, declined=0.05, no_contact=0.0))
    # Findings shared, by involvement (assumption); within the last `feedback_pending_months`
    # of the period a "yes" is still "not_yet".
    family_feedback_by_involvement: dict[str, dict[str, float]] = field(
        default_factory=lambda: {
            "yes": _d(yes=0.50, not_yet=0.42, declined=0.05, not_applicable=0.03),
            "no": _d(yes=0.05, not_yet=0.25, declined=0.0, not_applicable=0.70),
            "declined": _d(yes=0.0, not_yet=0.0, declined=0.60, not_applicable=0.40),
            "no_contact": _d(yes=0.0, not_yet=0.05, declined=0.0, not_applicable=0.95),
        })
    feedback_pending_months: int = 3
    # A treatment escalation plan (e.g. ReSPECT) documented: P(yes) by overall care score 1-5
    # (assumption: about 75% overall, less often where care was poor); not known 5%.
    escalation_plan_by_overall: tuple[float, ...] = (0.45, 0.55, 0.72, 0.82, 0.88)
    escalation_plan_unknown_share: float = 0.05
    # Dying recognised in good time: P(no) by end-of-life care score 1-5 (assumption: about
    # 85% yes overall); not known 3%. Deaths with no end-of-life phase are mostly sudden.
    dying_not_recognised_by_end_of_life: tuple[float, ...] = (0.60, 0.35, 0.12, 0.04, 0.02)
    dying_recognised_unknown_share: float = 0.03
    dying_recognised_without_end_of_life: dict[str, float] = field(
        default_factory=lambda: _d(yes=0.05, no=0.05, not_applicable=0.85, unknown=0.05))
    # Referrals on (assumptions): the chance of each type by (first stage, first stage with
    # poor or very poor overall care, second stage, second stage judged more likely than not
    # avoidable). A PSII after about 40% of the last (PSIRF 2022: investigations for incidents
    # with significant learning), duty of candour after most of them.
    referral_rates: dict[str, tuple[float, float, float, float]] = field(
        default_factory=lambda: {
            "psii": (0.0, 0.03, 0.08, 0.40),
            "thematic_review": (0.01, 0.05, 0.08, 0.15),
            "duty_of_candour": (0.0, 0.02, 0.05, 0.60),
            "mortality_meeting": (0.03, 0.15, 0.25, 0.30),
            "safeguarding": (0.003, 0.01, 0.01, 0.02),
            "other": (0.003, 0.01, 0.02, 0.02),
        })
    # The coroner (England) or the Procurator Fiscal (Scotland), by the same four columns.
    referral_rates_legal: tuple[float, float, float, float] = (0.01, 0.04, 0.06, 0.20)
    # LeDeR: every death of a person with a learning disability or an autistic person should be
    # notified (NHS England LeDeR policy 2021); recorded as a referral on about 90% of them.
    leder_referral_share: float = 0.9
    complaint_after_family_concern: float = 0.35
    complaint_otherwise: float = 0.003
    # Status of a referral (assumption); deaths in the last `feedback_pending_months` months
    # have more planned and fewer completed.
    referral_status: dict[str, float] = field(
        default_factory=lambda: _d(considered_not_needed=0.10, planned=0.15, made=0.40,
                                   completed=0.35))
    referral_status_recent: dict[str, float] = field(
        default_factory=lambda: _d(considered_not_needed=0.10, planned=0.35, made=0.45,
                                   completed=0.10))
    # About half of the made or completed referrals carry a reference such as "PSII/25/041".
    referral_reference_share: float = 0.5
    referral_reference_prefix: dict[str, str] = field(
        default_factory=lambda: {"leder": "LDR", "coroner": "COR", "procurator_fiscal": "PF",
                                 "psii": "PSII", "thematic_review": "TR",
                                 "duty_of_candour": "DOC", "complaint": "CMP",
                                 "mortality_meeting": "MM", "safeguarding": "SG",
                                 "other": "REF"})

    # --- Timing and status ----------------------------------------------------------------------
    # Days from death to first-stage review (assumption): gamma mean and shape, capped.
    review_delay_mean_days: float = 40.0
    review_delay_shape: float = 2.0
    review_delay_max_days: int = 180
    # Status mix (assumption): drafts concentrate in the last `recent_months` of the period;
    # reviews older than `lock_after_months` are locked with `locked_share`.
    draft_share_recent: float = 0.15
    draft_share_older: float = 0.005
    recent_months: int = 3
    locked_share: float = 0.25
    lock_after_months: int = 6

    # --- Organisation change over time (for SPC) ------------------------------------------------
    # Share of organisations given a real change (assumption): a step or a trend, improving or
    # deteriorating, of `change_size` on the latent scale (0.7 moves poor care from about 15%
    # to about 33% or 5%).
    changing_organisation_share: float = 0.08
    change_size: float = 0.7

    # --- Case mix (assumptions) -----------------------------------------------------------------
    # Age at death = anchor - Gamma(shape, scale): skewed old, mean about 80.
    age_anchor: float = 101.0
    age_gamma_shape: float = 2.0
    age_gamma_scale: float = 10.5
    # People with a learning disability die younger (LeDeR: median about 62).
    learning_disability_age_anchor: float = 80.0
    sex_distribution: dict[str, float] = field(
        default_factory=lambda: _d(male=0.505, female=0.49, unknown=0.005)
    )
    admission_type_distribution: dict[str, float] = field(
        default_factory=lambda: _d(emergency=0.90, elective=0.04, transfer=0.05, other=0.01)
    )
    # days from arrival to death = floor(exp(Normal(mean, sd))) - 1: median about 7 days, about
    # 8% die on the day of arrival.
    days_to_death_log_mean: float = 2.1
    days_to_death_log_sd: float = 1.0
    days_to_death_max: int = 365
    # Share of reviews with a recorded cause of death.
    cause_of_death_share: float = 0.75
    # Share of reviews with a postcode district recorded.
    postcode_district_share: float = 0.95

    def __post_init__(self) -> None:
        _check_table("overall_distribution", self.overall_distribution, 5)
        _check_table("phase_offset_distribution", self.phase_offset_distribution, 5)
        for phase, table in self.phase_offset_by_phase.items():
            if phase not in _OPTIONAL_PHASES:
                raise ValueError(
                    f"phase_offset_by_phase: unknown phase {phase!r} (phases: "
                    f"{', '.join(_OPTIONAL_PHASES)})"
                )
            _check_table(f"phase_offset_by_phase[{phase!r}]", tuple(table), 5)
        _check_table("second_stage_offset_distribution", self.second_stage_offset_distribution, 5)
        _check_table("record_quality_distribution", self.record_quality_distribution, 5)
        for i, row in enumerate(self.avoidability_by_overall):
            _check_table(f"avoidability_by_overall[{i}]", row, 6)
        for i, row in enumerate(self.harm_by_overall):
            _check_table(f"harm_by_overall[{i}]", row, 3)
        if not 0 < self.overall_reliability < 1:
            raise ValueError(
                f"overall_reliability must be between 0 and 1, got {self.overall_reliability}"
            )
        if self.organisation_sd**2 >= self.overall_reliability:
            raise ValueError(
                "organisation_sd**2 must be smaller than overall_reliability (the organisation "
                "effect is part of the case variance)"
            )
        if self.reviewer_severity_sd**2 >= 1 - self.overall_reliability:
            raise ValueError(
                "reviewer_severity_sd**2 must be smaller than 1 - overall_reliability (it is part "
                "of the reviewer error)"
            )
        for name in ("deaths_per_year", "scotland_deaths_per_year", "review_share"):
            lo, mode, hi = (getattr(self, f"{name}_{k}") for k in ("min", "mode", "max"))
            if not 0 <= lo <= mode <= hi or lo == hi:
                raise ValueError(f"{name}: need 0 <= min <= mode <= max and min < max")

    def as_dict(self) -> dict[str, object]:
        """All parameters as a plain dict (e.g. to record how a data set was made)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _check_table(name: str, values: tuple[float, ...], length: int) -> None:
    if len(values) != length:
        raise ValueError(f"{name} needs {length} probabilities, got {len(values)}")
    if any(v < 0 for v in values) or sum(values) <= 0:
        raise ValueError(f"{name} must be non-negative with a positive sum, got {values}")
