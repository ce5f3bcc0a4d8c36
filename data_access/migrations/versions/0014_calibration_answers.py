"""calibration answers: a person answers only a case of a round they are in, while it is open

Revision ID: 0014_calibration_answers
Revises: 0013_direct_sql

An insider audit (2026-12-06) found that revision ``0013_direct_sql``'s promise, "a reviewer
reads a training case's reference answers only after submitting an answer to it", could be
bought with a throwaway answer: with plain SQL a reviewer inserted a submitted answer to the
cases of an open round under an old, closed round that does not hold them, read the panel's
reference answers through ``sjr_training_cases()``, and then submitted those answers in the
open round (100% agreement). The access layer checks the round, the membership and the window
(``Session.save_calibration_answer``); the database did not. Now, for a person's own role:

- a row of ``calibration_answers`` names a case of its round, for a reviewer who is a member
  of that round, and is written only from the day the round opens (and, by a reviewer, only
  until it closes; a lead may enter answers given on paper later, as the access layer lets
  them); ``answered_by`` and ``answered_at`` are the database's (the person's user name, now);
- ``sjr_training_cases()`` shows a reviewer a case's reference answers only for a submitted
  answer in a round that holds that case.

The owner and services are unchanged. SQLite is one person's store (nothing changes there).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_calibration_answers"
down_revision = "0013_direct_sql"
branch_labels = None
depends_on = None

_ROLE = "(SELECT sjr_person_role())"
_ORG = "(SELECT sjr_person_organisation())"
_REVIEWER = "(SELECT sjr_person_reviewer())"

_CASE_REFERENCE = ("care", "score_admission", "score_ongoing", "score_procedure",
                   "score_perioperative", "score_end_of_life", "score_overall",
                   "avoidability_score", "problems", "themes")
"""As revision ``0013_direct_sql``: the reference columns ``sjr_training_cases()`` gives."""

_IN_ROUND = ("{case} IN (SELECT jsonb_array_elements_text(r.case_ids::jsonb) "
             "FROM calibration_rounds r WHERE r.round_id = {round})")
"""Whether a case is one of a round's (``case_ids`` is a JSON list)."""


def _training_cases(definer: str, owner: str, *, in_round: bool) -> str:
    reference = ", ".join(f"CASE WHEN shown THEN c.{c} END" for c in _CASE_REFERENCE)
    reference_types = ", ".join(
        f"{c} {'varchar' if c == 'care' else 'text' if c in ('problems', 'themes') else 'integer'}"
        for c in _CASE_REFERENCE)
    held = (" AND " + _IN_ROUND.format(case="a.case_id", round="a.round_id")) if in_round else ""
    return f"""CREATE OR REPLACE FUNCTION sjr_training_cases()
        RETURNS TABLE (case_id varchar, title varchar, summary text, panel varchar,
                       case_set varchar, {reference_types})
        LANGUAGE sql STABLE {definer} AS $$
            SELECT c.case_id, c.title, c.summary, c.panel, c.case_set, {reference}
              FROM (SELECT c.*, (CASE
                        WHEN NOT pg_has_role(session_user, 'sjr_person', 'MEMBER')
                             OR session_user = '{owner}' THEN true
                        WHEN {_ROLE} IN ('programme_team', 'organisation_lead') THEN true
                        WHEN {_ROLE} = 'reviewer' THEN EXISTS (
                            SELECT 1 FROM calibration_answers a
                             WHERE a.case_id = c.case_id AND a.status = 'submitted'
                               AND a.organisation_code = {_ORG}
                               AND a.reviewer_id = {_REVIEWER}{held})
                        ELSE false END) AS shown
                      FROM training_cases c
                     WHERE {_ROLE} IS NOT NULL
                        OR NOT pg_has_role(session_user, 'sjr_person', 'MEMBER')
                        OR session_user = '{owner}') c
             ORDER BY c.case_id
        $$"""


def _answer_check(definer: str) -> str:
    in_round = _IN_ROUND.format(case="NEW.case_id", round="NEW.round_id")
    return f"""CREATE OR REPLACE FUNCTION sjr_calibration_answer_check() RETURNS trigger
        LANGUAGE plpgsql {definer} AS $$
        DECLARE v_name text; v_role text; v_opens date; v_closes date;
        BEGIN
            SELECT username, role INTO v_name, v_role FROM users
             WHERE db_role = session_user::text;
            IF NOT FOUND THEN
                RETURN NEW;  -- the owner or a service writes its own values
            END IF;
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


def _context() -> tuple[str, str] | None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    schema = bind.execute(sa.text("SELECT quote_ident(current_schema())")).scalar_one()
    owner = bind.execute(sa.text("SELECT current_user")).scalar_one()
    if "'" in owner:  # pragma: no cover - baked into a trigger's WHEN and a function
        raise RuntimeError(f"the owner role's name {owner!r} holds a quote; rename it")
    return f"SECURITY DEFINER SET search_path = {schema}, pg_temp", owner


def upgrade() -> None:
    context = _context()
    if context is None:
        return
    definer, owner = context
    op.execute(_training_cases(definer, owner, in_round=True))
    op.execute(_answer_check(definer))
    op.execute("REVOKE ALL ON FUNCTION sjr_calibration_answer_check() FROM PUBLIC")
    op.execute(f"CREATE TRIGGER sjr_calibration_answer_check BEFORE INSERT OR UPDATE "
               f"ON calibration_answers FOR EACH ROW WHEN (session_user <> '{owner}') "
               f"EXECUTE FUNCTION sjr_calibration_answer_check()")


def downgrade() -> None:
    context = _context()
    if context is None:
        return
    definer, owner = context
    op.execute("DROP TRIGGER IF EXISTS sjr_calibration_answer_check ON calibration_answers")
    op.execute("DROP FUNCTION IF EXISTS sjr_calibration_answer_check()")
    op.execute(_training_cases(definer, owner, in_round=False))
