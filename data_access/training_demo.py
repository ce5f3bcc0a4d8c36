"""Training data of the demo store: fictional trainers, training records, a calibration round.

Only for a store marked synthetic (``sjr demo-data``): every trainer is a fictional person
(names invented with Faker's ``en_GB`` locale and marked "(fictional)", contacts at the reserved
``.example`` domain) at one of the store's fictional organisations. Everything is written through
the governed sessions of the demo users, so it is audited like real work:

- ``demo-programme`` imports the trainers, the starter set of training cases and the training
  records of every organisation but the demo lead's;
- ``demo-lead`` records their own organisation's training (some reviewers due a refresher),
  creates a calibration round of eight cases for five of its reviewers, and enters the answers
  of the four who scored on paper;
- ``demo-reviewer`` scores the same eight cases in their own session.

Answers differ from the panel's reference the way trained reviewers do (a reviewer-level lean
towards harsher or more lenient scores, plus case-level noise; ``shared/spec/calibration.md``:
holistic agreement is only moderate), so the round's results are not trivially perfect.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text

from sjrlib import domain

__all__ = ["DEMO_OPEN_ROUND", "DEMO_ROUND", "demo_trainers", "seed_demo_training"]

DEMO_ROUND = "DEMO-CAL-2026-1"
_ROUND_CASES = ("TC-2026-01", "TC-2026-02", "TC-2026-03", "TC-2026-05", "TC-2026-06",
                "TC-2026-08", "TC-2026-11", "TC-2026-13")
DEMO_OPEN_ROUND = "DEMO-CAL-2026-2"
"""A second round, open for four weeks from the day the demo store is built, of cases the first
did not use, that the demo reviewer has not answered: what a reviewer tries from the README."""
_OPEN_ROUND_CASES = ("TC-2026-04", "TC-2026-07", "TC-2026-10")
_SEED = 2026


def demo_trainers(organisations: pd.DataFrame, *, seed: int = _SEED) -> pd.DataFrame:
    """Fictional trainers: one or two at most organisations, a few no longer active."""
    from faker import Faker

    fake = Faker("en_GB")
    fake.seed_instance(seed)
    rng = np.random.default_rng(seed)
    rows = []
    for org in organisations.sort_values("organisation_code").itertuples():
        for _ in range(int(rng.choice([0, 1, 1, 2]))):
            first, last = fake.first_name(), fake.last_name()
            word = [w for w in str(org.name).split() if w.upper() != "NHS"][0]
            domain_name = "".join(ch for ch in word.lower() if ch.isalpha())
            trained = dt.date(2017, 1, 1) + dt.timedelta(days=int(rng.integers(0, 9 * 365)))
            rows.append({
                "trainer_id": f"T{len(rows) + 1:04d}",
                "name": f"{first} {last} (fictional)",
                "contact": f"{first.lower()}.{last.lower()}@{domain_name}.example",
                "organisation": str(org.name), "region": str(org.region),
                "trained_on": trained, "active": bool(rng.random() > 0.15)})
    return pd.DataFrame(rows, columns=["trainer_id", "name", "contact", "organisation",
                                       "region", "trained_on", "active"])


def _records(reviewers: pd.DataFrame, trainers: pd.DataFrame, today: dt.date,
             rng: np.random.Generator, prefix: str) -> pd.DataFrame:
    """Training records for about two thirds of ``reviewers`` (organisation_code,
    reviewer_id), by a trainer of their region when there is one."""
    rows = []
    for number, r in enumerate(reviewers.itertuples(), start=1):
        if rng.random() > 0.67:
            continue
        local = trainers[trainers["region"] == r.region]["trainer_id"].tolist() \
            or trainers["trainer_id"].tolist()
        trained = today - dt.timedelta(days=int(rng.integers(60, 5 * 365)))
        refreshers = [trained + dt.timedelta(days=int(d)) for d in (365, 2 * 365)
                      if trained + dt.timedelta(days=int(d)) < today and rng.random() < 0.5]
        rows.append({"record_id": f"{prefix}{number:04d}",
                     "organisation_code": r.organisation_code, "reviewer_id": r.reviewer_id,
                     "trainer_id": str(rng.choice(local)) if local else None,
                     "trained_on": trained.isoformat(),
                     "session": f"SJR reviewer training, {trained:%B %Y}",
                     "refresher_dates": ";".join(d.isoformat() for d in refreshers)})
    return pd.DataFrame(rows, columns=["record_id", "organisation_code", "reviewer_id",
                                       "trainer_id", "trained_on", "session",
                                       "refresher_dates"])


def _answer(case, lean: float, rng: np.random.Generator, themes: list[str]) -> dict:
    """A trained reviewer's answer to ``case``: the reference moved by the reviewer's lean and
    case-level noise; problems and themes mostly agreed, sometimes missed or added."""
    values: dict = {"status": "submitted", "comments": {}}
    for phase, score in case.scores.items():
        given = int(np.clip(round(score + lean + rng.normal(0, 0.6)), 1, 5))
        values[f"score_{phase}"] = given
        values["comments"][phase] = "Training answer: judgement recorded in the session."
    if case.avoidability is not None:
        values["avoidability_score"] = int(np.clip(
            round(case.avoidability - lean + rng.normal(0, 0.8)), 1, 6))
    problems = {k: v for k, v in case.problems.items() if rng.random() < 0.8}
    if rng.random() < 0.15:
        problems.setdefault(str(rng.choice(domain.PROBLEM_TYPES)), "no")
    values["problems"] = problems
    chosen = {t for t in case.themes if rng.random() < 0.75}
    if rng.random() < 0.25:
        chosen.add(str(rng.choice(themes)))
    values["themes"] = sorted(chosen)
    return values


def seed_demo_training(engine: Engine, today: dt.date | None = None) -> bool:
    """Put the demo's training data in a synthetic store that has none; returns whether it did.

    Needs the demo users (:func:`data_access.demo.register_demo_users`).
    """
    from data_access import open_session, training
    from data_access.demo import is_synthetic
    from data_access.training import RoundSpec
    from sjrlib.themes.codebook import shipped_codebook

    today = today or dt.date.today()
    with engine.connect() as conn:
        if not is_synthetic(conn):
            raise PermissionError("demo training data are only for a store marked synthetic")
        if conn.execute(text("SELECT 1 FROM trainers LIMIT 1")).first() is not None:
            return False
    rng = np.random.default_rng(_SEED)
    with open_session("demo-programme", engine, tool="sjr demo-data") as programme:
        organisations = programme.organisations()
        trainers = demo_trainers(organisations)
        programme.import_trainers(trainers, source="demo trainers")
        programme.import_training_cases(training.shipped_cases(), source="starter set 2026")
    with open_session("demo-lead", engine, tool="sjr demo-data") as lead_session:
        lead_org = lead_session.organisation_codes[0]
    # reviewers of the lead's organisation and of up to 24 others (the national demo store has
    # about 135 organisations: reading every review for this would double sjr demo-data's time)
    codes = sorted(set(organisations["organisation_code"].astype(str)) - {lead_org})
    codes = [lead_org, *codes[::max(1, len(codes) // 24)][:24]]
    with open_session("demo-programme", engine, tool="sjr demo-data") as programme:
        reviews = programme.reviews(organisation_codes=codes,
                                    columns=["organisation_code", "reviewer_id"])
    reviewers = (reviews.dropna().drop_duplicates().astype(str)
                 .merge(organisations[["organisation_code", "region"]].astype(str),
                        on="organisation_code")
                 .sort_values(["organisation_code", "reviewer_id"]).reset_index(drop=True))
    with open_session("demo-reviewer", engine, tool="sjr demo-data") as reviewer_session:
        own = reviewer_session.reviews(columns=["reviewer_id"])
    demo_reviewer = str(own["reviewer_id"].iloc[0]) if len(own) else None
    others = reviewers[reviewers["organisation_code"] != lead_org]
    ours = reviewers[reviewers["organisation_code"] == lead_org]
    with open_session("demo-programme", engine, tool="sjr demo-data") as programme:
        programme.import_training_records(_records(others, trainers, today, rng, "DEMO-N"),
                                          source="demo training records")
    group = [r for r in ours["reviewer_id"] if r != demo_reviewer][:4]
    with open_session("demo-lead", engine, tool="sjr demo-data") as lead:
        records = _records(ours, trainers, today, rng, "DEMO-L")
        if demo_reviewer is not None and demo_reviewer not in set(records["reviewer_id"]):
            records.loc[len(records)] = {
                "record_id": "DEMO-L9999", "organisation_code": lead_org,
                "reviewer_id": demo_reviewer, "trainer_id": None,
                "trained_on": (today - dt.timedelta(days=3 * 365)).isoformat(),
                "session": "SJR reviewer training (demonstration)", "refresher_dates": ""}
        lead.import_training_records(records, source="demo training records")
        members = [(lead_org, r) for r in group + ([demo_reviewer] if demo_reviewer else [])]
        lead.create_calibration_round(RoundSpec(
            DEMO_ROUND, "Calibration round 1 (demonstration)", _ROUND_CASES,
            today - dt.timedelta(days=28), today, tuple(members), lead_org))
        lead.create_calibration_round(RoundSpec(
            DEMO_OPEN_ROUND, "Calibration round 2 (demonstration, open)", _OPEN_ROUND_CASES,
            today, today + dt.timedelta(days=28), tuple(members), lead_org))
        cases = {c.case_id: c for c in lead.training_cases(list(_ROUND_CASES), reference=True)}
        themes = [t.id for t in shipped_codebook().active]  # an answer names active themes
        for reviewer in group:
            lean = float(rng.choice([-0.6, -0.3, 0.0, 0.3, 0.6]))
            for case_id in _ROUND_CASES:
                lead.save_calibration_answer(DEMO_ROUND, case_id,
                                             _answer(cases[case_id], lean, rng, themes),
                                             reviewer_id=reviewer)
    if demo_reviewer is not None:
        with open_session("demo-reviewer", engine, tool="sjr demo-data") as reviewer:
            for case_id in _ROUND_CASES:
                reviewer.save_calibration_answer(DEMO_ROUND, case_id,
                                                 _answer(cases[case_id], 0.4, rng, themes))
    return True
