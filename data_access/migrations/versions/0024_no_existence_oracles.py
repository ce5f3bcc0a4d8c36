"""a person's refused theme code or calibration answer tells nothing of other organisations

Revision ID: 0024_no_existence_oracles
Revises: 0023_share_update_exclusive

Two BEFORE INSERT triggers run as the owner before row-level security checks the row:
revision ``0019_theme_code_coder``'s ``sjr_theme_code_stamp`` refused a code on a review that
is not submitted or locked (``check_violation``), while a submitted review of another
organisation passed it and was refused by the policy (``insufficient_privilege``); revision
``0014_calibration_answers``' ``sjr_calibration_answer_check`` said whether a reviewer of another
organisation is a member of a round. The insider audit of 2026-12-06 (second round) counted
another organisation's submitted reviews and read its round members that way. Now each trigger
first asks what the policy asks of the caller (a lead of the review's organisation, or the
reviewer of their own review; an answer of the caller's organisation, by a lead or the
reviewer themselves) and refuses anything else with one ``insufficient_privilege``, whether the
named row exists or not; only what passes is checked further, on rows the caller may read. The
owner and services are unchanged. SQLite is one person's store (nothing changes there).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024_no_existence_oracles"
down_revision = "0023_share_update_exclusive"
branch_labels = None
depends_on = None

_ROLE = "sjr_person_role()"
_ORG = "sjr_person_organisation()"
_REVIEWER = "sjr_person_reviewer()"
_IN_ROUND = ("{case} IN (SELECT jsonb_array_elements_text(r.case_ids::jsonb) "
             "FROM calibration_rounds r WHERE r.round_id = {round})")


def _theme_code_stamp(definer: str, *, scoped: bool) -> str:
    mine = (f""" AND (({_ROLE} = 'organisation_lead' AND r.organisation_code = {_ORG})
                                   OR ({_ROLE} = 'reviewer' AND r.organisation_code = {_ORG}
                                       AND r.reviewer_id = {_REVIEWER}))""" if scoped else "")
    error = ("'theme code: not a submitted or locked review you may code' "
             "USING ERRCODE = 'insufficient_privilege'" if scoped else
             "'theme code: themes are coded on submitted or locked reviews' "
             "USING ERRCODE = 'check_violation'")
    return f"""CREATE OR REPLACE FUNCTION sjr_theme_code_stamp() RETURNS trigger
        LANGUAGE plpgsql {definer} AS $$
        DECLARE v_name text;
        BEGIN
            SELECT username INTO v_name FROM users WHERE db_role = session_user::text;
            IF NOT FOUND THEN
                RETURN NEW;  -- a service writes its own values
            END IF;
            IF NOT EXISTS (SELECT 1 FROM reviews r WHERE r.review_id = NEW.review_id
                              AND r.status IN ('submitted', 'locked'){mine}) THEN
                RAISE EXCEPTION {error};
            END IF;
            NEW.coded_by := v_name;
            NEW.coded_at := now();
            RETURN NEW;
        END $$"""


def _answer_check(definer: str, *, scoped: bool) -> str:
    in_round = _IN_ROUND.format(case="NEW.case_id", round="NEW.round_id")
    guard = f"""IF NEW.organisation_code IS DISTINCT FROM {_ORG} OR NOT (
                    {_ROLE} = 'organisation_lead' OR ({_ROLE} = 'reviewer'
                    AND NEW.reviewer_id IS NOT DISTINCT FROM {_REVIEWER})) THEN
                RAISE EXCEPTION 'calibration answer: not yours to write'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;""" if scoped else ""
    return f"""CREATE OR REPLACE FUNCTION sjr_calibration_answer_check() RETURNS trigger
        LANGUAGE plpgsql {definer} AS $$
        DECLARE v_name text; v_role text; v_opens date; v_closes date;
        BEGIN
            SELECT username, role INTO v_name, v_role FROM users
             WHERE db_role = session_user::text;
            IF NOT FOUND THEN
                RETURN NEW;  -- the owner or a service writes its own values
            END IF;
            {guard}
            SELECT opens_on, closes_on INTO v_opens, v_closes FROM calibration_rounds
             WHERE round_id = NEW.round_id;
            IF NOT FOUND OR NOT ({in_round}) THEN
                RAISE EXCEPTION 'calibration answer: case % is not in round %',
                    NEW.case_id, NEW.round_id USING ERRCODE = 'check_violation';
            END IF;
            IF NOT EXISTS (SELECT 1 FROM calibration_round_members m
                            WHERE m.round_id = NEW.round_id
                              AND m.organisation_code = NEW.organisation_code
                              AND m.reviewer_id = NEW.reviewer_id) THEN
                RAISE EXCEPTION 'calibration answer: reviewer % is not a member of round %',
                    NEW.reviewer_id, NEW.round_id USING ERRCODE = 'check_violation';
            END IF;
            IF current_date < v_opens OR (v_role = 'reviewer' AND current_date > v_closes) THEN
                RAISE EXCEPTION 'calibration answer: round % is open from % to %',
                    NEW.round_id, v_opens, v_closes USING ERRCODE = 'check_violation';
            END IF;
            NEW.answered_by := v_name;
            NEW.answered_at := now();
            RETURN NEW;
        END $$"""


def _definer() -> str | None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    schema = bind.execute(sa.text("SELECT quote_ident(current_schema())")).scalar_one()
    return f"SECURITY DEFINER SET search_path = {schema}, pg_temp"


def upgrade() -> None:
    definer = _definer()
    if definer is None:
        return
    op.execute(_theme_code_stamp(definer, scoped=True))
    op.execute(_answer_check(definer, scoped=True))


def downgrade() -> None:
    definer = _definer()
    if definer is None:
        return
    op.execute(_theme_code_stamp(definer, scoped=False))
    op.execute(_answer_check(definer, scoped=False))
