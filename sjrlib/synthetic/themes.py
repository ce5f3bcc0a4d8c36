"""Themes for synthetic reviews: what each phrase of the bank expresses, coding as people do,
and a few actions per organisation, some of which work.

The phrase bank (:mod:`sjrlib.synthetic.phrases`) is written by score and phase; this module
adds what a person coding with the codebook of ``shared/spec/learning.md`` would read in each
phrase (:data:`THEME_CUES`, applied to every finding and overall reason: :func:`phrase_themes`),
and from that:

- :func:`review_themes`: the themes each first-stage review's judgement statements express
  (a problem theme for a finding scored 1-3, ``good_practice`` for a phase scored 5);
- :func:`code_reviews`: codes as coders give them: about 70% of submitted first-stage reviews
  coded (the most recent months less: coding lags), a problem theme in a poor phase kept 9 times
  in 10 and in an adequate one a third of the time, good practice noted about half the time, an
  occasional neighbouring theme chosen instead (deterioration for senior review ...), and
  about 15% of coded reviews coded again by a second coder, independently, so coders disagree
  as much as people do (kappa roughly 0.6-0.8);
- :func:`plan_actions` and :func:`apply_actions`: three actions per organisation: one that
  works (its theme becomes rarer after the change month: the finding that expresses it is
  replaced, 4 times in 5, by another finding of the same phase and score, so the text stays
  true to the score), one that does not (no change), and an open one with no measure.

Everything is drawn from one ``numpy`` generator: the same seed gives the same frames.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import pandas as pd

from sjrlib.synthetic.phrases import CLOSINGS, FINDINGS, OVERALL_REASONS

__all__ = [
    "ACTION_TEMPLATES",
    "THEME_CUES",
    "SyntheticLearning",
    "apply_actions",
    "code_reviews",
    "phrase_themes",
    "plan_actions",
    "review_themes",
    "synthetic_learning",
]

THEME_CUES: tuple[tuple[str, str], ...] = (
    (r"news2|deteriorat|outreach|not escalated|no escalation|observations|escalated|"
     r"triggers|bleeding missed|recognised late|obstruction were missed|rising inflammatory|"
     r"not acted on|not recognised for|response to a rising", "deterioration"),
    (r"consultant review|senior review|consultant|no medical review|medical review|"
     r"not reviewed by|weekend|specialist opinion|unsupervised", "senior_review"),
    (r"diagnosis|missed|radiograph|investigation|results|bloods|not recognised for|"
     r"recognised late|potassium|hyperkalaemia|lactate", "diagnosis"),
    (r"sepsis|antibiotic|lactate", "sepsis"),
    (r"medicin|medication|penicillin|anticoagulation|fluid|nephrotoxic|allergy|potassium|"
     r"hyperkalaemia|drugs", "medication"),
    (r"vte|falls|fall with|pressure|frailty", "prevention"),
    (r"ceiling of care|escalation status|dnacpr|treatment escalation|cpr attempted|"
     r"futile escalation|advance decision|critical care", "escalation_planning"),
    (r"dying|palliative|anticipatory|symptom|end-of-life|distress|breathlessness|pain went|"
     r"comfort", "end_of_life"),
    (r"family|relatives", "communication_family"),
    (r"documented|documentation|plan|record|handover|nursing concerns|procedure note|"
     r"no indication", "communication_team"),
    (r"emergency department|corridor|wait|list slot|list availability|theatre space|"
     r"general ward|delayed for 3 days|bed", "patient_flow"),
    (r"procedure|endoscopy|drain|consent|perforation|surgery|laparotomy|anastomotic|"
     r"clotting|postoperative|preoperative|theatre|anaesthe", "procedure"),
)
"""Cues of each theme in the bank's phrases (lower case regular expressions). A phrase
expresses every theme whose cue it contains, as a careful coder reading it would see it;
``tests/test_report_learning.py`` checks every poor-care phrase has at least one."""

_NEIGHBOURS: dict[str, str] = {
    "deterioration": "senior_review", "senior_review": "deterioration",
    "diagnosis": "deterioration", "sepsis": "deterioration", "medication": "prevention",
    "prevention": "medication", "escalation_planning": "end_of_life",
    "end_of_life": "escalation_planning", "communication_family": "end_of_life",
    "communication_team": "senior_review", "patient_flow": "senior_review",
    "procedure": "diagnosis",
}
"""The theme a coder might choose instead of another (the codebook's near neighbours)."""

ACTION_TEMPLATES: dict[str, tuple[str, str]] = {
    "deterioration": ("NEWS2 escalation pathway relaunched with outreach review of every "
                      "score of 5 or more", "Deteriorating patient lead"),
    "senior_review": ("Consultant review within 14 hours of admission audited monthly, "
                      "weekend rota extended", "Clinical director for acute medicine"),
    "diagnosis": ("Results acknowledgement made mandatory in the electronic record before "
                  "handover", "Chief clinical information officer"),
    "sepsis": ("Sepsis screening added to emergency department triage with an antibiotics "
               "timer", "Sepsis lead"),
    "medication": ("Pharmacist review of omitted critical medicines on every ward round",
                   "Chief pharmacist"),
    "prevention": ("Falls and VTE risk assessment made part of the admission checklist",
                   "Director of nursing"),
    "escalation_planning": ("Treatment escalation plan completed for every frail admission "
                            "within 24 hours", "Associate medical director for patient safety"),
    "end_of_life": ("Specialist palliative care referral prompt added for patients "
                    "recognised as dying", "End-of-life care lead"),
    "communication_family": ("Named nurse updates the family daily and records the "
                             "conversation", "Head of patient experience"),
    "communication_team": ("Structured handover tool introduced for night teams",
                           "Medical education lead"),
    "patient_flow": ("Overnight ward moves restricted to clinical need, reviewed weekly",
                     "Director of operations"),
    "procedure": ("Consent and safety checklist audit for every procedure list",
                  "Associate medical director for surgery"),
}
"""Per theme: an action a trust might take, and its owner's role (never a name)."""


@cache
def phrase_themes(phrase: str) -> tuple[str, ...]:
    """The themes a phrase of the bank expresses (:data:`THEME_CUES`), in codebook order."""
    lowered = phrase.lower()
    return tuple(theme for cue, theme in THEME_CUES if re.search(cue, lowered))


@cache
def _lookup() -> tuple[dict[tuple[str, int, str], tuple[str, ...]], dict[int, tuple[str, ...]]]:
    """(phase, score, lower-case finding) -> themes, and per score its closings (lower)."""
    found = {}
    for phase, by_score in FINDINGS.items():
        for score, phrases in by_score.items():
            for phrase in phrases:
                found[(phase, score, phrase.lower())] = phrase_themes(phrase)
    for score, phrases in OVERALL_REASONS.items():
        for phrase in phrases:
            found[("overall", score, phrase.lower())] = phrase_themes(phrase)
    closings = {s: tuple(c.lower() for c in cs if c) for s, cs in CLOSINGS.items()}
    return found, closings


def _findings(comment: str, phase: str, score: int) -> list[str]:
    """The bank findings a comment is made of (lower case), closing remark removed."""
    found, closings = _lookup()
    text = comment.strip().lower()
    for closing in closings.get(score, ()):
        if text.endswith(closing):
            text = text[: -len(closing)].strip()
    text = text.rstrip(".")
    if phase == "overall" and ":" in text:
        text = text.split(":", 1)[1]
    parts = [p.strip() for p in text.split(";")]
    return [p for p in parts if (phase, score, p) in found]


def review_themes(reviews: pd.DataFrame) -> pd.DataFrame:
    """What each submitted or locked first-stage review's statements express.

    Returns
    -------
    pandas.DataFrame
        ``review_id, phase, theme, weight``: one row per review, phase and theme; ``weight``
        is how plainly the phase shows it (1.0 for a finding in a phase scored 1-2, 0.35 for
        one scored 3, 0.5 for good practice in a phase scored 5): the chance a coder codes it.
    """
    from sjrlib.domain import PHASES, comment_column, score_column

    found, _ = _lookup()
    first = reviews[(reviews["review_stage"] == "first").fillna(False)
                    & reviews["status"].isin(["submitted", "locked"]).fillna(False)]
    rows: list[tuple[str, str, str, float]] = []
    for phase in PHASES:
        scores = first[score_column(phase)].to_numpy()
        comments = first[comment_column(phase)].to_numpy()
        for review_id, score, comment in zip(first["review_id"].to_numpy(), scores, comments,
                                             strict=True):
            if comment is None or comment is pd.NA or pd.isna(score):
                continue
            score = int(score)
            if score == 5:
                rows.append((review_id, phase, "good_practice", 0.5))
            if score > 3:
                continue
            weight = 0.9 if score <= 2 else 0.35
            seen = set()
            for finding in _findings(str(comment), phase, score):
                for theme in found[(phase, score, finding)]:
                    if theme not in seen:
                        seen.add(theme)
                        rows.append((review_id, phase, theme, weight))
    return pd.DataFrame(rows, columns=["review_id", "phase", "theme", "weight"])


def code_reviews(reviews: pd.DataFrame, rng: np.random.Generator, *,
                 share: float = 0.7, double: float = 0.15) -> pd.DataFrame:
    """Theme codes as coders would give them (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        ``review_id, theme, phase, coded_by, coded_at, from_suggestion``: ``coded_by`` is the
        organisation's first or second coder (``coder-1-<org>``, ``coder-2-<org>``), never
        a person; ``coded_at`` a time after the review; ``from_suggestion`` says the coder
        accepted a machine suggestion (about 4 codes in 10).
    """
    first = reviews[(reviews["review_stage"] == "first").fillna(False)
                    & reviews["status"].isin(["submitted", "locked"]).fillna(False)]
    last = str(first["death_month"].max())
    months_back = ((int(last[:4]) * 12 + int(last[5:7]))
                   - (first["death_month"].str[:4].astype(int) * 12
                      + first["death_month"].str[5:7].astype(int))).to_numpy()
    chance = np.where(months_back < 3, share * (0.4 + 0.2 * months_back), share)
    coded = first[rng.random(len(first)) < chance]
    twice = set(coded["review_id"][rng.random(len(coded)) < double])
    org_of = dict(zip(coded["review_id"], coded["organisation_code"], strict=True))
    when = dict(zip(coded["review_id"], pd.to_datetime(coded["review_date"]), strict=True))
    truth = review_themes(coded)
    out = []
    for coder in (1, 2):
        rows = truth if coder == 1 else truth[truth["review_id"].isin(twice)]
        keep = rng.random(len(rows)) < rows["weight"].to_numpy()
        swap = rng.random(len(rows)) < 0.07
        themes = np.where(swap, rows["theme"].map(_NEIGHBOURS).fillna(rows["theme"]),
                          rows["theme"])
        part = pd.DataFrame({"review_id": rows["review_id"].to_numpy()[keep],
                             "theme": themes[keep], "phase": rows["phase"].to_numpy()[keep]})
        part = part.drop_duplicates(["review_id", "theme", "phase"])
        part["coded_by"] = [f"coder-{coder}-{org_of[r]}".lower() for r in part["review_id"]]
        days = rng.integers(3, 40, len(part)) + (30 if coder == 2 else 0)
        part["coded_at"] = [(when[r] if not pd.isna(when[r]) else pd.Timestamp("2020-01-01"))
                            + pd.Timedelta(days=int(d), hours=10) for r, d in
                            zip(part["review_id"], days, strict=True)]
        part["from_suggestion"] = rng.random(len(part)) < 0.4
        out.append(part)
    codes = pd.concat(out, ignore_index=True)
    # never after the data's own last day (the generator dates no review after today)
    latest = pd.to_datetime(first["review_date"]).max() + pd.Timedelta(hours=23)
    codes["coded_at"] = pd.to_datetime(codes["coded_at"]).clip(upper=latest).dt.tz_localize("UTC")
    return codes


def plan_actions(reviews: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Three actions per organisation (module docstring), from the themes its reviews show.

    Returns
    -------
    pandas.DataFrame
        ``organisation_code, description, owner_role, status, agreed_on, due_on,
        completed_on, themes, measure, change_month, target, works``; ``works`` (not stored)
        says whether :func:`apply_actions` makes the measure change. A measured action's
        ``target`` (a whole percentage) is 60% of the share of the organisation's reviews
        before the change whose findings strongly express its theme (below the share coded),
        so the impact charts show assurance as well as variation.
    """
    truth = review_themes(reviews)
    truth = truth[(truth["weight"] >= 0.9) & (truth["theme"] != "good_practice")]
    org_of = dict(zip(reviews["review_id"], reviews["organisation_code"], strict=True))
    truth = truth.assign(organisation_code=truth["review_id"].map(org_of))
    months = sorted(reviews["death_month"].dropna().unique())
    change = months[int(len(months) * 0.55)] if months else None
    rows = []
    month_of = dict(zip(reviews["review_id"], reviews["death_month"], strict=True))
    for org, part in truth.groupby("organisation_code", sort=True):
        ranked = part.drop_duplicates(["review_id", "theme"])["theme"].value_counts().index
        # The working action answers a theme with cues of its own: deterioration and senior
        # review run through so many findings, and move with the organisation's own poor-care
        # trend, that an action on them would be hidden by it.
        ranked = sorted((t for t in ranked if t in ACTION_TEMPLATES),
                        key=lambda t: t in ("deterioration", "senior_review"))
        if len(ranked) < 3 or change is None:
            continue
        n_before = int(((reviews["organisation_code"] == org)
                        & (reviews["death_month"] < change)).sum())
        early = part[[str(month_of[r]) < str(change) for r in part["review_id"]]]
        agreed = pd.Timestamp(change + "-01") - pd.Timedelta(days=int(rng.integers(20, 50)))
        done = pd.Timestamp(change + "-01") + pd.Timedelta(days=int(rng.integers(0, 25)))
        for k, (theme, works) in enumerate(((ranked[0], True), (ranked[1], False),
                                            (ranked[2], None))):
            description, owner = ACTION_TEMPLATES[theme]
            measured = works is not None
            rate = early.loc[early["theme"] == theme, "review_id"].nunique() / max(n_before, 1)
            rows.append({
                "organisation_code": org, "description": description, "owner_role": owner,
                "status": "completed" if measured else "open",
                "agreed_on": agreed.date() + pd.Timedelta(days=k).to_pytimedelta(),
                "due_on": (done + pd.Timedelta(days=60)).date(),
                "completed_on": done.date() if measured else None,
                "themes": theme, "measure": f"theme:{theme}" if measured else None,
                "change_month": change if measured else None,
                "target": float(round(60 * rate)) if measured else None,
                "works": bool(works)})
    return pd.DataFrame(rows)


def apply_actions(reviews: pd.DataFrame, actions: pd.DataFrame, rng: np.random.Generator,
                  *, effect: float = 0.8) -> pd.DataFrame:
    """Reviews as they would be had the working actions worked: from the change month on, in
    the action's organisation, a finding expressing its theme is replaced (``effect`` of the
    time) by another finding of the same phase and score that does not."""
    from sjrlib.domain import PHASES, comment_column, score_column

    out = reviews.copy()
    # whole columns as arrays, written back once: a cell set on a copy-on-write frame copies
    # its column every time
    comments = {p: out[comment_column(p)].to_numpy(dtype=object, copy=True) for p in PHASES}
    scores = {p: out[score_column(p)].to_numpy(dtype=float, na_value=np.nan) for p in PHASES}
    for action in actions[actions["works"]].itertuples():
        theme = str(action.themes)
        rows = ((out["organisation_code"] == action.organisation_code)
                & (out["death_month"] >= action.change_month)).fillna(False).to_numpy(bool)
        for phase in PHASES:
            column = comments[phase]
            for i in np.flatnonzero(rows & (scores[phase] <= 3)):
                comment = column[i]
                if comment is None or comment is pd.NA or (isinstance(comment, float)
                                                           and np.isnan(comment)):
                    continue
                column[i] = _replace(str(comment), phase, int(scores[phase][i]), theme, rng,
                                     effect)
    for phase in PHASES:
        out[comment_column(phase)] = pd.array(comments[phase], dtype=out[comment_column(phase)]
                                              .dtype)
    return out


def _replace(comment: str, phase: str, score: int, theme: str, rng: np.random.Generator,
             effect: float) -> str:
    bank = OVERALL_REASONS[score] if phase == "overall" else FINDINGS[phase][score]
    others = [p for p in bank if theme not in phrase_themes(p) and p.lower() not in
              comment.lower()]
    for phrase in bank:
        if theme in phrase_themes(phrase) and others and rng.random() < effect:
            for variant in (phrase, phrase[0].upper() + phrase[1:]):
                if variant in comment:
                    other = others.pop(int(rng.integers(len(others))))
                    if variant != phrase:
                        other = other[0].upper() + other[1:]
                    comment = comment.replace(variant, other, 1)
                    break
    return comment


class SyntheticLearning:
    """Reviews (with the working actions' effect), theme codes and actions for a demo store."""

    def __init__(self, reviews: pd.DataFrame, codes: pd.DataFrame,
                 actions: pd.DataFrame) -> None:
        self.reviews, self.codes, self.actions = reviews, codes, actions


def synthetic_learning(reviews: pd.DataFrame, seed: int) -> SyntheticLearning:
    """Plan the actions, apply the working ones to the reviews, then code the reviews."""
    rng = np.random.default_rng([seed, 13])
    actions = plan_actions(reviews, rng)
    changed = apply_actions(reviews, actions, rng) if len(actions) else reviews
    codes = code_reviews(changed, rng)
    return SyntheticLearning(changed, codes, actions)
