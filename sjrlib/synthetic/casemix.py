"""Patient and admission details of synthetic cases (vectorised draws).

Specialty weights, causes of death and places of death are assumptions shaped like an acute
medical take: mostly older emergency medical admissions dying on a ward.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sjrlib.synthetic.params import CalibrationParams

__all__ = ["SPECIALTIES", "LOCATIONS", "CaseMix", "draw_case_mix"]


@dataclass(frozen=True)
class _Specialty:
    weight: float
    causes: tuple[str, ...]
    surgical: bool = False
    location: str | None = None  # where most deaths in this specialty happen, if not a ward


SPECIALTIES: dict[str, _Specialty] = {
    "general_medicine": _Specialty(0.24, (
        "Pneumonia", "Sepsis", "Urosepsis", "Acute kidney injury", "Congestive cardiac failure",
    )),
    "acute_medicine": _Specialty(0.06, ("Sepsis", "Pneumonia", "Pulmonary embolism")),
    "care_of_the_elderly": _Specialty(0.17, (
        "Frailty of old age", "Aspiration pneumonia", "Dementia", "Hospital-acquired pneumonia",
        "Fractured neck of femur",
    )),
    "respiratory_medicine": _Specialty(0.11, (
        "Community-acquired pneumonia", "Exacerbation of COPD", "Lung cancer",
        "Idiopathic pulmonary fibrosis", "COVID-19 pneumonia",
    )),
    "cardiology": _Specialty(0.06, (
        "Acute myocardial infarction", "Congestive cardiac failure", "Aortic stenosis",
        "Ventricular arrhythmia",
    ), location="coronary_care_unit"),
    "gastroenterology": _Specialty(0.05, (
        "Upper gastrointestinal haemorrhage", "Alcohol-related liver disease",
        "Decompensated cirrhosis", "Acute pancreatitis",
    )),
    "oncology": _Specialty(0.06, (
        "Metastatic breast cancer", "Metastatic colorectal cancer", "Neutropenic sepsis",
        "Pancreatic cancer", "Lung cancer",
    )),
    "haematology": _Specialty(0.02, (
        "Acute myeloid leukaemia", "Lymphoma", "Neutropenic sepsis", "Multiple myeloma",
    )),
    "stroke_medicine": _Specialty(0.05, ("Cerebral infarction", "Intracerebral haemorrhage")),
    "nephrology": _Specialty(0.02, (
        "End-stage kidney disease", "Acute kidney injury", "Hyperkalaemia",
    )),
    "critical_care": _Specialty(0.05, (
        "Multi-organ failure", "Septic shock", "Hypoxic brain injury after cardiac arrest",
        "Acute respiratory distress syndrome",
    ), location="critical_care"),
    "emergency_medicine": _Specialty(0.02, (
        "Out-of-hospital cardiac arrest", "Ruptured abdominal aortic aneurysm",
        "Massive pulmonary embolism",
    ), location="emergency_department"),
    "general_surgery": _Specialty(0.04, (
        "Bowel perforation", "Small bowel obstruction", "Ischaemic bowel", "Anastomotic leak",
    ), surgical=True),
    "trauma_and_orthopaedics": _Specialty(0.03, (
        "Fractured neck of femur", "Pulmonary embolism", "Hospital-acquired pneumonia",
    ), surgical=True),
    "vascular_surgery": _Specialty(0.01, (
        "Ruptured abdominal aortic aneurysm", "Critical limb ischaemia",
    ), surgical=True),
    "urology": _Specialty(0.01, ("Urosepsis", "Prostate cancer"), surgical=True),
}
"""Specialty team at death: share of deaths (assumption), causes, surgical flag, usual place."""

LOCATIONS: dict[str, float] = {
    "ward": 0.86,
    "critical_care": 0.06,
    "emergency_department": 0.04,
    "acute_medical_unit": 0.04,
}
"""Place of death for specialties without a usual place of their own (assumption)."""

# Arrival hour weights 0-23 (assumption: emergency arrivals peak late morning to evening).
_ARRIVAL_HOUR_WEIGHTS = np.array([
    2.0, 1.5, 1.2, 1.0, 1.0, 1.0, 1.2, 1.8, 3.0, 4.5, 5.5, 6.0,
    6.0, 6.0, 6.0, 6.0, 6.0, 5.8, 5.5, 5.0, 4.5, 4.0, 3.5, 2.8,
])
# Death hour weights 0-23 (assumption: slightly more deaths in the early morning).
_DEATH_HOUR_WEIGHTS = np.array([1.1] * 7 + [1.0] * 17)


@dataclass(frozen=True)
class CaseMix:
    """Per-case arrays (one element per case)."""

    age: np.ndarray
    sex: np.ndarray
    specialty: np.ndarray
    location: np.ndarray
    admission_type: np.ndarray
    cause_of_death: np.ndarray  # object, None = not recorded
    days_to_death: np.ndarray
    death_date: np.ndarray  # datetime64[D]
    arrival_hour: np.ndarray
    death_hour: np.ndarray
    surgical: np.ndarray  # bool


def _choice(rng: np.random.Generator, table: dict[str, float], n: int) -> np.ndarray:
    keys = np.array(list(table), dtype=object)
    w = np.array(list(table.values()), dtype=float)
    return keys[rng.choice(len(keys), size=n, p=w / w.sum())]


def draw_case_mix(
    rng: np.random.Generator,
    params: CalibrationParams,
    month_start: np.ndarray,
    learning_disability: np.ndarray,
) -> CaseMix:
    """Draw the case-mix fields of ``len(month_start)`` cases.

    Parameters
    ----------
    rng : numpy Generator
    params : calibration
    month_start : datetime64[M] month of death of each case
    learning_disability : bool per case (these patients die younger)
    """
    n = len(month_start)
    anchor = np.where(
        learning_disability, params.learning_disability_age_anchor, params.age_anchor
    )
    age = np.rint(anchor - rng.gamma(params.age_gamma_shape, params.age_gamma_scale, n))
    age = np.clip(age, 18, 110).astype(np.int64)
    sex = _choice(rng, params.sex_distribution, n)

    names = list(SPECIALTIES)
    w = np.array([SPECIALTIES[s].weight for s in names])
    spec_idx = rng.choice(len(names), size=n, p=w / w.sum())
    specialty = np.array(names, dtype=object)[spec_idx]
    surgical = np.array([SPECIALTIES[s].surgical for s in names])[spec_idx]

    location = _choice(rng, LOCATIONS, n)
    cause = np.empty(n, dtype=object)
    for i, name in enumerate(names):
        rows = np.flatnonzero(spec_idx == i)
        spec = SPECIALTIES[name]
        if spec.location is not None:
            usual = rng.random(len(rows)) < 0.85
            location[rows[usual]] = spec.location
        causes = np.array(spec.causes, dtype=object)
        cause[rows] = causes[rng.integers(0, len(causes), len(rows))]
    cause[rng.random(n) >= params.cause_of_death_share] = None

    admission_type = _choice(rng, params.admission_type_distribution, n)
    # Surgical deaths are more often after elective admissions (assumption).
    elective_surgical = surgical & (rng.random(n) < 0.25)
    admission_type[elective_surgical] = "elective"

    log_days = rng.normal(params.days_to_death_log_mean, params.days_to_death_log_sd, n)
    days = np.floor(np.exp(log_days))
    days = np.minimum(days, params.days_to_death_max).astype(np.int64) - 1
    days = np.maximum(days, 0)
    in_ed = location == "emergency_department"
    days[in_ed] = 0

    month_days = ((month_start + 1).astype("datetime64[D]") - month_start.astype("datetime64[D]"))
    day_offset = np.floor(rng.random(n) * month_days.astype(np.int64)).astype(np.int64)
    death_date = month_start.astype("datetime64[D]") + day_offset

    arrival_hour = rng.choice(24, size=n, p=_ARRIVAL_HOUR_WEIGHTS / _ARRIVAL_HOUR_WEIGHTS.sum())
    death_hour = rng.choice(24, size=n, p=_DEATH_HOUR_WEIGHTS / _DEATH_HOUR_WEIGHTS.sum())
    same_day = days == 0
    # Died on the day of arrival: at or after the arrival hour.
    later = arrival_hour + np.floor(rng.random(n) * (24 - arrival_hour)).astype(np.int64)
    death_hour = np.where(same_day, later, death_hour)
    return CaseMix(
        age=age,
        sex=sex,
        specialty=specialty,
        location=location,
        admission_type=admission_type,
        cause_of_death=cause,
        days_to_death=days,
        death_date=death_date,
        arrival_hour=arrival_hour.astype(np.int64),
        death_hour=death_hour.astype(np.int64),
        surgical=surgical,
    )
