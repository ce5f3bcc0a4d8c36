"""Explicit judgement statements for synthetic reviews, by phase of care and care score.

A phase comment is two different findings for the phase and score, joined by a semicolon; the
overall comment is a verdict and its main reason; either is optionally followed by a closing
remark for the score level, so poor care reads poor and good care reads
good. The phrases name roles ("the registrar"), never people, and contain no dates, record
numbers or long digit runs, so the identifier detector has nothing to find in them.

:func:`comment_bank` returns, for each phase and score, every assembled comment as a numpy
object array; the generator picks from it with vectorised random indices.
"""

from __future__ import annotations

from functools import cache
from itertools import permutations

import numpy as np

from sjrlib.domain import PHASES

__all__ = ["CLOSINGS", "FINDINGS", "OVERALL_REASONS", "OVERALL_VERDICTS", "comment_bank"]

FINDINGS: dict[str, dict[int, tuple[str, ...]]] = {
    "admission": {
        5: (
            "seen by the admitting consultant within 4 hours with a clear working diagnosis",
            "sepsis recognised in the emergency department and antibiotics given within the "
            "first hour",
            "thorough clerking with full medicines reconciliation and a frailty assessment",
            "ceiling of care discussed early with the patient and family and clearly recorded",
            "investigations requested promptly and results acted on the same evening",
            "VTE and falls risk assessed and documented on admission",
        ),
        4: (
            "prompt senior review within 12 hours of admission",
            "appropriate initial investigations and fluids started in the emergency department",
            "sepsis bundle completed and antibiotics given within 2 hours",
            "clear management plan documented by the medical registrar",
            "escalation status documented on the admission proforma",
            "VTE risk assessment completed on admission",
        ),
        3: (
            "initial assessment reasonable but consultant review took 16 hours",
            "plan documented but with little detail on escalation status",
            "antibiotics given, though not within the target time",
            "clerking adequate; medication history incomplete",
            "chest radiograph not reviewed until the following morning",
            "frailty not formally assessed, but the initial plan was appropriate",
        ),
        2: (
            "consultant review did not happen until day 2",
            "antibiotics delayed by 5 hours despite documented suspicion of sepsis",
            "no VTE risk assessment and no falls assessment on admission",
            "raised lactate on arrival was not repeated or acted on",
            "no working diagnosis recorded and no plan for the first night",
            "long wait in the emergency department without repeat observations",
        ),
        1: (
            "sepsis not recognised despite NEWS2 of 8 on arrival; no antibiotics for 11 hours",
            "critically high potassium on the admission bloods was not acted on",
            "no senior review for more than 24 hours after admission",
            "clear signs of bowel obstruction were missed at clerking",
            "left in an emergency department corridor for 14 hours without observations",
            "a documented penicillin allergy was overlooked and penicillin prescribed",
        ),
    },
    "ongoing": {
        5: (
            "daily consultant-led ward rounds with clear, updated plans",
            "deterioration on day 4 recognised early and escalated promptly to outreach",
            "excellent input from physiotherapy, dietetics and the frailty team",
            "fluid balance and observations meticulously recorded throughout",
            "family kept informed at every stage with conversations documented",
            "medicines reviewed daily and nephrotoxic drugs stopped when kidney function fell",
        ),
        4: (
            "regular senior reviews with plans that were followed through",
            "NEWS2 escalations responded to within the hour",
            "appropriate response to the worsening renal function",
            "good communication with the family documented by the ward sister",
            "medicines reviewed and adjusted appropriately",
            "nutrition and pressure area care well documented",
        ),
        3: (
            "care largely appropriate, though weekend reviews were brief",
            "observations recorded but fluid balance charts incomplete",
            "response to a rising NEWS2 adequate but slower than expected",
            "plans documented but not always updated after investigations",
            "some delay in obtaining a specialist opinion",
            "pressure area checks documented only intermittently",
        ),
        2: (
            "deterioration on day 3 was not escalated despite NEWS2 of 7; no documented response "
            "for 6 hours",
            "no consultant review over the weekend despite ongoing concerns",
            "fluid balance not monitored despite acute kidney injury",
            "hospital-acquired pneumonia recognised late",
            "anticoagulation omitted for 3 days without a documented reason",
            "nursing concerns about new confusion were not reviewed by the medical team",
        ),
        1: (
            "repeated high NEWS2 scores over 2 days with no escalation to the medical team",
            "hyperkalaemia on day 2 not acted on for more than 24 hours",
            "no medical review documented for 3 consecutive days",
            "signs of gastrointestinal bleeding missed and anticoagulation continued",
            "outreach not called despite clear triggers on the observation chart",
            "an unwitnessed fall with head injury was not followed by a scan or neuro observations",
        ),
    },
    "procedure": {
        5: (
            "procedure performed promptly by an experienced operator",
            "endoscopy within 12 hours with haemostasis achieved and a clear follow-up plan",
            "risks discussed with the patient and family and consent documented in full",
            "safety checklist completed and post-procedure monitoring exemplary",
        ),
        4: (
            "appropriate indication and consent documented",
            "procedure performed without delay and complications watched for",
            "safety checklist completed and post-procedure plan clear",
            "drain inserted under ultrasound guidance with a good procedure note",
        ),
        3: (
            "procedure indicated, but the consent form lacked detail on risks",
            "some delay to the procedure because of list availability",
            "post-procedure observations recorded but less often than planned",
            "procedure note brief but adequate",
        ),
        2: (
            "procedure delayed by 2 days awaiting a list slot",
            "clotting not checked before the chest drain was inserted",
            "no consent documented before the procedure",
            "post-procedure bleeding recognised late",
        ),
        1: (
            "procedure undertaken by an unsupervised junior with no indication documented",
            "perforation after endoscopy not recognised for 2 days",
            "chest drain inserted on the wrong side",
            "anticoagulation not stopped before the procedure, followed by major bleeding",
        ),
    },
    "perioperative": {
        5: (
            "surgery within 24 hours with the consultant surgeon and anaesthetist present",
            "thorough preoperative risk assessment with a frailty score and shared decisions",
            "excellent postoperative care with early mobilisation and good pain control",
            "risk of death discussed openly and documented before theatre",
        ),
        4: (
            "preoperative assessment complete and risks discussed",
            "appropriate anaesthetic plan and postoperative level of care",
            "postoperative observations and analgesia well managed",
            "hip fracture surgery within the target time",
        ),
        3: (
            "surgery appropriate though delayed by 30 hours for theatre space",
            "risk assessment recorded, but no formal frailty score",
            "postoperative care adequate with gaps in the observation chart on the first night",
            "anaesthetic record adequate",
        ),
        2: (
            "surgery delayed for 3 days with no documented reason",
            "no preoperative risk assessment for a high-risk patient",
            "postoperative deterioration not reviewed by the surgical team for 8 hours",
            "returned to a general ward although critical care had been advised",
        ),
        1: (
            "high-risk laparotomy without consultant involvement or a critical care bed",
            "anastomotic leak not recognised for 3 days despite rising inflammatory markers",
            "no postoperative medical review for 48 hours",
            "surgery went ahead without correcting severe anaemia and without documented consent",
        ),
    },
    "end_of_life": {
        5: (
            "dying recognised early and discussed sensitively with the family",
            "personalised end-of-life care plan with anticipatory medicines prescribed",
            "symptoms well controlled with close involvement of the palliative care team",
            "the wish to have family present was honoured, with open visiting",
            "side room provided and spiritual needs supported by the chaplain",
        ),
        4: (
            "treatment escalation plan and DNACPR decision discussed with the family",
            "anticipatory medicines prescribed in good time",
            "comfort-focused care with regular symptom review",
            "family kept informed as the patient deteriorated",
            "mouth care and repositioning documented regularly",
        ),
        3: (
            "dying recognised, but only in the final 24 hours",
            "anticipatory medicines prescribed, though symptom review was infrequent",
            "DNACPR decision documented but the discussion with the family not recorded",
            "care appropriate, though no side room was available",
            "palliative care team contacted late",
        ),
        2: (
            "dying not recognised until the final hours; observations and blood tests continued",
            "no anticipatory medicines prescribed despite visible distress",
            "no documented DNACPR discussion with the family",
            "family not told of the deterioration until after the death",
            "breathlessness poorly controlled overnight without medical review",
        ),
        1: (
            "died in distress with no symptom control for several hours",
            "futile escalation despite an advance decision refusing treatment",
            "no recognition of dying and no communication with the family",
            "CPR attempted contrary to a documented DNACPR decision",
            "repeated calls from the nurse in charge about pain went unanswered overnight",
        ),
    },
}
"""Findings by phase and care score (lower case; the first of a comment is capitalised)."""

OVERALL_VERDICTS: dict[int, tuple[str, ...]] = {
    5: ("Excellent care throughout", "Exemplary care", "Care of the highest standard"),
    4: ("Good care overall", "Care of a good standard", "Good care"),
    3: ("Adequate care overall", "Adequate care", "Acceptable care"),
    2: ("Poor care overall", "Poor care", "Care fell below the expected standard"),
    1: ("Very poor care", "Very poor care overall", "Care fell far below the expected standard"),
}
OVERALL_REASONS: dict[int, tuple[str, ...]] = {
    5: (
        "timely senior decisions and clear communication with the family",
        "an expected death managed with dignity and compassion",
        "well-coordinated care across all teams from admission to death",
        "early recognition of dying and excellent symptom control",
    ),
    4: (
        "decisions were timely and well documented",
        "appropriate escalation and a well-managed death",
        "only minor gaps in documentation",
        "good multidisciplinary working and communication with the family",
    ),
    3: (
        "some delays that did not change the outcome",
        "room for improvement in documentation",
        "earlier recognition of dying would have helped",
        "minor lapses in monitoring",
    ),
    2: (
        "delayed escalation and missed opportunities to treat sepsis",
        "mainly the failure to respond to deterioration",
        "gaps in monitoring and senior review",
        "problems in more than one phase of care",
    ),
    1: (
        "repeated failures to recognise and respond to deterioration",
        "timely treatment might have changed the outcome",
        "serious omissions in monitoring and medication",
        "no senior review at critical points in the admission",
    ),
}
"""The overall comment is "<verdict>: <reason>." plus an optional closing remark."""

CLOSINGS: dict[int, tuple[str, ...]] = {
    5: ("", "Noted as good practice to share with the ward team.", "Thanks sent to the team."),
    4: ("", "", "No specific learning beyond minor documentation points."),
    3: ("", "", "Learning point fed back to the ward team."),
    2: (
        "",
        "Learning shared at the directorate mortality meeting.",
        "Second-stage review recommended.",
    ),
    1: (
        "Escalated to the patient safety team.",
        "Second-stage review recommended; reported as a patient safety incident.",
        "Discussed with the consultant responsible and the clinical governance lead.",
    ),
}
"""Optional closing remark by care score (empty string = none)."""


def _assemble(findings: tuple[str, ...], closings: tuple[str, ...]) -> list[str]:
    out = []
    for a, b in permutations(findings, 2):
        body = f"{a[0].upper()}{a[1:]}; {b}."
        for c in closings:
            out.append(f"{body} {c}" if c else body)
    return out


def _assemble_overall(score: int) -> list[str]:
    return [
        f"{v}: {r}. {c}" if c else f"{v}: {r}."
        for v in OVERALL_VERDICTS[score]
        for r in OVERALL_REASONS[score]
        for c in CLOSINGS[score]
    ]


@cache
def comment_bank() -> dict[str, dict[int, np.ndarray]]:
    """Every assembled comment, ``bank[phase][score] -> numpy object array``."""
    missing = set(PHASES) - set(FINDINGS) - {"overall"}
    if missing:
        raise KeyError(f"no findings written for phases {sorted(missing)}")
    bank = {
        phase: {
            score: np.array(_assemble(FINDINGS[phase][score], CLOSINGS[score]), dtype=object)
            for score in range(1, 6)
        }
        for phase in PHASES
        if phase != "overall"
    }
    bank["overall"] = {
        score: np.array(_assemble_overall(score), dtype=object) for score in range(1, 6)
    }
    return bank
