"""No forgotten door: every public method of the session writes an audit entry.

The methods are found by introspection, so a method added to :class:`Session` without a row in
``CALLS`` below fails this test until someone says how to call it, and then it must audit.
Refused calls are audited too (``<action>.denied``).
"""

from __future__ import annotations

import inspect
import uuid

import pytest
from access_setup import approval, governed_fresh  # noqa: F401  (governed_fresh: fixture)
from sqlalchemy import text

from data_access import AccessDenied, open_session, store
from data_access.session import Session
from sjrlib import io

NOT_DATA_ACCESS = {"close"}
"""Public methods that touch no data (closing the session)."""


def _public_methods() -> list[str]:
    return sorted(
        name for name, member in inspect.getmembers(Session, inspect.isfunction)
        if not name.startswith("_") and name not in NOT_DATA_ACCESS
    )


def _calls(gov, tmp_path, owner):
    """method -> (user allowed, call, action recorded, user refused or None)."""
    with owner.connect() as conn:
        own = conn.execute(text("SELECT min(review_id) FROM reviews WHERE organisation_code = :o "
                                "AND status = 'submitted'"), {"o": gov.org_a}).scalar_one()
        to_lock = conn.execute(text("SELECT max(review_id) FROM reviews WHERE "
                                    "organisation_code = :o AND status = 'submitted'"),
                               {"o": gov.org_a}).scalar_one()

    organisations_file = tmp_path / "organisations.csv"
    with owner.connect() as conn:
        io.write_organisations(store.load_organisations(conn), organisations_file)

    def save(s):
        values = s.review(own)
        return s.save_review(values, expected_version=int(values["version"]))

    def lock(s):
        with owner.connect() as conn:
            version = conn.execute(text("SELECT version FROM reviews WHERE review_id = :r"),
                                   {"r": to_lock}).scalar_one()
        return s.lock_review(to_lock, expected_version=int(version))

    return {
        "organisations": ("national", lambda s: s.organisations(), "organisations", None),
        "reviews": ("national", lambda s: s.reviews(), "reviews", "admin"),
        "deaths": ("lead_a", lambda s: s.deaths(), "deaths", "reviewer_a"),
        "review": ("lead_a", lambda s: s.review(own), "review", "admin"),
        "second_stage_queue": ("lead_a", lambda s: s.second_stage_queue(),
                               "second_stage_queue", "res2"),
        "save_review": ("lead_a", save, "save_review", "national"),
        "lock_review": ("lead_a", lock, "lock_review", "reviewer_a"),
        "approvals": ("res2", lambda s: s.approvals(), "approvals", "lead_a"),
        "extract": ("res2", lambda s: s.extract("DARG-2", tmp_path / "x.csv"), "extract",
                    "national"),
        "users": ("admin", lambda s: s.users(), "users.list", "national"),
        "add_user": ("admin", lambda s: s.add_user("newcomer", "programme_team"), "users.add",
                     "lead_a"),
        "disable_user": ("admin", lambda s: s.disable_user("res_none"), "users.disable",
                         "lead_a"),
        "enable_user": ("admin", lambda s: s.enable_user("gone"), "users.enable", "lead_a"),
        "add_approval": ("admin", lambda s: s.add_approval(approval("DARG-NEW", ["res2"],
                                                                    [gov.org_a])),
                         "approvals.add", "res2"),
        "revoke_approval": ("admin", lambda s: s.revoke_approval("DARG-1", "ended early"),
                            "approvals.revoke", "res1"),
        "audit_log": ("admin", lambda s: s.audit_log(), "audit.show", "national"),
        "verify_audit": ("admin", lambda s: s.verify_audit(), "audit.verify", "lead_a"),
        "import_file": ("admin", lambda s: s.import_file("organisations", organisations_file),
                        "import.organisations", "lead_a"),
        "export": ("lead_a", lambda s: s.export("reviews"), "export.reviews", "reviewer_a"),
        "summary": ("national", lambda s: s.summary(), "summary", "res2"),
        "backup_keys": ("admin", lambda s: s.backup_keys("store.tar"), "backup", "lead_a"),
        "refuse_restore": ("admin", lambda s: _refused(lambda: s.refuse_restore(
            "store.tar", "the store exists")), "restore.denied", None),
        "verify_restore": ("admin", lambda s: s.verify_restore("store.tar", keys=0,
                                                               backup_audit_head=None),
                           "restore", "national"),
        "codebook": ("res2", lambda s: s.codebook(), "codebook", None),
        "import_codebook": ("national", lambda s: s.import_codebook(_next_codebook()),
                            "codebook.import", "lead_a"),
        "code_review": ("lead_a", lambda s: s.code_review(own, "sepsis", phase="admission"),
                        "code_review", "national"),
        "theme_codes": ("lead_a", lambda s: s.theme_codes(), "theme_codes", "res2"),
        "record_action": ("lead_a", lambda s: s.record_action(
            "Sepsis screening added to triage", owner_role="Sepsis lead", agreed_on="2021-06-01",
            themes=["sepsis"], review_ids=[own], measure="theme:sepsis", change_month="2021-07"),
            "actions.record", "national"),
        "update_action": ("lead_a", lambda s: s.update_action(
            _an_action(owner, gov.org_a), expected_version=1, status="in_progress"),
            "actions.update", "reviewer_a"),
        "actions": ("lead_a", lambda s: s.actions(), "actions", "res2"),
        "import_actions": ("lead_a", lambda s: s.import_actions(_register_rows()),
                           "actions.import", "national"),
        # training and calibration (issue 15)
        "trainers": ("res2", lambda s: s.trainers(), "trainers", None),
        "import_trainers": ("national", lambda s: s.import_trainers(_trainers()),
                            "trainers.import", "lead_a"),
        "training_records": ("lead_a", lambda s: s.training_records(), "training_records",
                             "res2"),
        "import_training_records": ("lead_a", lambda s: s.import_training_records(
            _training_record(gov)), "training_records.import", "reviewer_a"),
        "training_cases": ("reviewer_a", lambda s: s.training_cases(), "training_cases",
                           "admin"),
        "import_training_cases": ("national", lambda s: s.import_training_cases(_cases()),
                                  "training_cases.import", "lead_a"),
        "calibration_rounds": ("reviewer_a", lambda s: s.calibration_rounds(),
                               "calibration_rounds", "res2"),
        "create_calibration_round": ("lead_a", lambda s: (
            _calibration_round(gov), s.create_calibration_round(_round_spec(gov))),
            "calibration_rounds.create", "reviewer_a"),
        "save_calibration_answer": ("reviewer_a", lambda s: s.save_calibration_answer(
            _calibration_round(gov), "TC-2026-02", {"score_overall": 2}),
            "save_calibration_answer", "national"),
        "calibration_answers": ("lead_a", lambda s: s.calibration_answers(),
                                "calibration_answers", "admin"),
        "calibration_data": ("reviewer_a", lambda s: s.calibration_data(),
                             "calibration_data", "res2"),
    }


def _trainers():
    import pandas as pd

    return pd.DataFrame([{"trainer_id": "T-PATHS", "name": "Test Trainer (fictional)",
                          "contact": "trainer@paths.example", "organisation": "Test Trust",
                          "region": "London", "trained_on": "2020-01-01", "active": "yes"}])


def _cases():
    from data_access.training import shipped_cases

    return shipped_cases()


def _training_record(gov):
    import pandas as pd

    return pd.DataFrame([{"record_id": None, "organisation_code": gov.org_a,
                          "reviewer_id": gov.reviewer_id, "trainer_id": None,
                          "trained_on": "2024-01-10", "session": "Paths session",
                          "refresher_dates": ""}])


def _round_spec(gov, round_id: str | None = None):
    import datetime as dt

    from data_access.training import RoundSpec

    today = dt.date.today()
    return RoundSpec(round_id or f"R-{uuid.uuid4().hex[:8]}", "Paths round",
                     ("TC-2026-01", "TC-2026-02"), today - dt.timedelta(days=1),
                     today + dt.timedelta(days=1), ((gov.org_a, gov.reviewer_id),), gov.org_a)


def _calibration_round(gov) -> str:
    """A round with reviewer_a in it, its cases stored (made by the programme team once)."""
    with open_session("national", gov.app_url, tool="test") as national:
        if "PATHS" not in set(national.calibration_rounds()["round_id"]):
            national.import_training_cases(_cases())
            national.create_calibration_round(_round_spec(gov, "PATHS"))
    return "PATHS"


def _register_rows():
    """One new action as a register file's rows (import_actions)."""
    import pandas as pd

    return pd.DataFrame([{"description": "Falls huddle", "owner_role": "Ward manager",
                          "agreed_on": "2021-05-01"}])


def _an_action(owner, organisation: str) -> str:
    """An action of ``organisation`` at version 1, written as the owner (update_action's row)."""
    from data_access.actions import check_action, insert_action
    from sjrlib.themes.codebook import shipped_codebook

    values = check_action({"description": "Handover checklist", "owner_role": "Matron",
                           "agreed_on": "2021-05-01"}, codebook=shipped_codebook())
    with owner.begin() as conn:
        return insert_action(conn, organisation, values, user="lead_a")


def _next_codebook():
    """The shipped codebook as a new version (every theme kept), for import_codebook."""
    import dataclasses

    from sjrlib.themes.codebook import shipped_codebook

    return dataclasses.replace(shipped_codebook(), version="2099.1")


def _refused(call) -> None:
    """A call whose job is to refuse (and audit the refusal)."""
    with pytest.raises(AccessDenied):
        call()


def _last(owner) -> tuple[int, str, str]:
    with owner.connect() as conn:
        row = conn.execute(text("SELECT id, username, action FROM audit_log "
                                "ORDER BY id DESC LIMIT 1")).one()
    return int(row[0]), row[1], row[2]


def test_every_public_method_is_audited(governed_fresh, tmp_path):  # noqa: F811
    gov = governed_fresh
    owner = store.get_engine(gov.owner_url)
    try:
        calls = _calls(gov, tmp_path, owner)
        methods = _public_methods()
        missing = [m for m in methods if m not in calls]
        assert not missing, f"say how to call (and so test the auditing of) {missing}"
        for name in methods:
            user, call, action, refused_user = calls[name]
            with open_session(user, gov.app_url, tool="test") as s:
                before, _, _ = _last(owner)
                call(s)
                after, who, what = _last(owner)
            assert (who, what) == (user, action), name
            assert after > before, name
            if refused_user is None:
                continue
            with open_session(refused_user, gov.app_url, tool="test") as s:
                with pytest.raises(AccessDenied):
                    call(s)
            assert _last(owner)[1:] == (refused_user, f"{action}.denied"), name
        with owner.connect() as conn:
            from data_access import audit

            assert audit.verify(conn).ok
    finally:
        owner.dispose()


def test_the_introspection_sees_the_contract_methods():
    """Guard against the test above passing vacuously."""
    assert {"reviews", "deaths", "organisations", "review", "save_review", "lock_review",
            "second_stage_queue", "extract"} <= set(_public_methods())


def test_disabling_or_revoking_takes_effect_in_open_sessions(governed_fresh):  # noqa: F811
    gov = governed_fresh
    lead = open_session("lead_a", gov.app_url, tool="test")
    researcher = open_session("res2", gov.app_url, tool="test")
    assert len(lead.reviews()) > 0 and len(researcher.reviews()) > 0
    with open_session("admin", gov.app_url, tool="test") as admin:
        admin.disable_user("lead_a")
        admin.revoke_approval("DARG-2", "study closed")
    with pytest.raises(AccessDenied, match="disabled"):
        lead.reviews()
    with pytest.raises(AccessDenied, match="disabled"):
        lead.review("anything")
    with pytest.raises(AccessDenied, match="no active"):
        researcher.reviews()
    with pytest.raises(AccessDenied, match="revoked"):
        researcher.reviews(approval_id="DARG-2")
    lead.close()
    researcher.close()
    with pytest.raises(AccessDenied, match="disabled"):
        open_session("lead_a", gov.app_url)
