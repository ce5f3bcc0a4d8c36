"""a reviewer second-stages only from their queue; the database names who imported a codebook

Revision ID: 0030_queue_and_import_stamps
Revises: 0029_person_connection_limit

The insider audit of 2026-12-09 (PostgreSQL, each person's own role with plain psql):

- **A reviewer second-staged reviews outside their queue, and used the check as an oracle.**
  Revision ``0013_direct_sql``'s check asks only that ``second_review_of`` name a first-stage
  review of the same organisation and case by another reviewer. A reviewer's role inserted a
  second-stage review of a colleague's review that is not in their second-stage queue (overall
  care 3-5, or already second-staged by another reviewer), which the access layer refuses
  (``Session.save_review`` reads the named review through the queue); and, trying case ids one
  after another and rolling back, learnt which of their colleagues' reviews (ids they cannot
  read) exist and of which case. Now, for a reviewer's role, a new ``second_review_of`` (an
  insert, or an update that changes it or the stage) must also name a review in their own
  second-stage queue (``sjr_queue_item``) that no other second-stage review names yet (as
  ``Session._refuse_a_second_review``); every refusal reads the same, whatever the named id
  holds. Organisation leads, who read every review of their organisation, are checked as
  before; a reviewer's update that leaves ``second_review_of`` as it is is not checked again
  (the first stage may have left the queue since, as the access layer allows).
- **The programme team dated a codebook into the future.** ``codebook_versions.imported_by``
  and ``imported_at`` were whatever the caller wrote, and the latest codebook is the one
  imported last (``ORDER BY imported_at DESC``): a codebook inserted with ``imported_at`` in
  2999 stayed "the latest" for every person whatever was imported after it, and no person may
  delete it. ``trainers.updated_by/updated_at`` and ``training_cases.imported_by/imported_at``
  were the caller's too (credited to an administrator, dated years back), as revision
  ``0026_recorded_stamps`` found for actions and training records. Now, as there, a trigger
  sets them for a person's role: their user name, now. A codebook dated after this revision
  runs is dated now (what no import could have written).

The owner and services are unchanged. SQLite is one person's store (nothing changes there).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030_queue_and_import_stamps"
down_revision = "0029_person_connection_limit"
branch_labels = None
depends_on = None

_MARK = ("INSERT INTO sjr_review_written VALUES (txid_current(), NEW.review_id) "
         "ON CONFLICT DO NOTHING;\n"
         "            IF random() < 0.01 THEN  -- marks of finished transactions\n"
         "                DELETE FROM sjr_review_written\n"
         "                 WHERE txid < txid_snapshot_xmin(txid_current_snapshot());\n"
         "            END IF;")
"""Revision ``0021_review_written_mark``'s mark of a person's new review, unchanged."""

_REFUSED = ("RAISE EXCEPTION 'review %: second_review_of must name a first-stage review of '\n"
            "                    'the same organisation and case, by another reviewer{tail}', "
            "NEW.review_id\n"
            "                    USING ERRCODE = 'check_violation';")


def _check(definer: str, *, queue: bool) -> str:
    """``sjr_review_check()``: revision 0021's, and with ``queue`` the reviewer's queue. One
    ``RAISE`` for every refusal of ``second_review_of``: the error's context names the line
    that raised, so two would tell the caller which test failed."""
    refused = _REFUSED.format(
        tail=" (for a reviewer, one in their second-stage queue)" if queue else "")
    # a reviewer names only a review of their own second-stage queue that no other
    # second-stage review names yet
    reviewer = """ OR (v_role = 'reviewer' AND (TG_OP = 'INSERT'
                        OR NEW.second_review_of IS DISTINCT FROM OLD.second_review_of
                        OR NEW.review_stage IS DISTINCT FROM OLD.review_stage) AND (
                    NOT sjr_queue_item(NEW.second_review_of) OR EXISTS (
                    SELECT 1 FROM reviews s WHERE s.second_review_of = NEW.second_review_of
                       AND s.review_stage = 'second' AND s.review_id <> NEW.review_id)))""" \
        if queue else ""
    return f"""CREATE OR REPLACE FUNCTION sjr_review_check() RETURNS trigger
        LANGUAGE plpgsql {definer} AS $$
        DECLARE v_name text; v_role text;
        BEGIN
            SELECT username, role INTO v_name, v_role FROM users
             WHERE db_role = session_user::text;
            IF NOT FOUND THEN
                RETURN NULL;
            END IF;
            IF TG_OP = 'INSERT' AND (NEW.version IS DISTINCT FROM 1
                                     OR NEW.updated_by IS DISTINCT FROM v_name) THEN
                RAISE EXCEPTION 'review %: a new review is version 1, saved by %',
                    NEW.review_id, v_name USING ERRCODE = 'check_violation';
            END IF;
            IF NEW.second_review_of IS NOT NULL AND (
                    NEW.review_stage IS DISTINCT FROM 'second' OR NOT EXISTS (
                    SELECT 1 FROM reviews f
                     WHERE f.review_id = NEW.second_review_of
                       AND f.organisation_code = NEW.organisation_code
                       AND f.case_id = NEW.case_id
                       AND f.review_stage = 'first'
                       AND f.reviewer_id IS DISTINCT FROM NEW.reviewer_id){reviewer}) THEN
                {refused}
            END IF;
            IF TG_OP = 'INSERT' THEN {_MARK} END IF;
            RETURN NULL;
        END $$"""


_STAMPS = {
    "codebook_versions": ("INSERT", """NEW.imported_by := v_name;
            NEW.imported_at := now();"""),
    "trainers": ("INSERT OR UPDATE", """NEW.updated_by := v_name;
            NEW.updated_at := now();"""),
    "training_cases": ("INSERT OR UPDATE", """NEW.imported_by := v_name;
            NEW.imported_at := now();"""),
}
"""Per table: the statements stamped and what a person's row gets (``v_name``: their name)."""


def _context() -> tuple[str, str] | None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    schema = bind.execute(sa.text("SELECT quote_ident(current_schema())")).scalar_one()
    owner = bind.execute(sa.text("SELECT current_user")).scalar_one()
    if "'" in owner:  # pragma: no cover - baked into a trigger's WHEN
        raise RuntimeError(f"the owner role's name {owner!r} holds a quote; rename it")
    return f"SECURITY DEFINER SET search_path = {schema}, pg_temp", owner


def upgrade() -> None:
    context = _context()
    if context is None:
        return
    definer, owner = context
    op.execute(_check(definer, queue=True))
    for table, (events, body) in _STAMPS.items():
        op.execute(f"""CREATE OR REPLACE FUNCTION sjr_{table}_stamp() RETURNS trigger
        LANGUAGE plpgsql {definer} AS $$
        DECLARE v_name text;
        BEGIN
            SELECT username INTO v_name FROM users WHERE db_role = session_user::text;
            IF NOT FOUND THEN
                RETURN NEW;  -- a service writes its own values
            END IF;
            {body}
            RETURN NEW;
        END $$""")
        op.execute(f"REVOKE ALL ON FUNCTION sjr_{table}_stamp() FROM PUBLIC")
        op.execute(f"CREATE TRIGGER sjr_{table}_stamp BEFORE {events} ON {table} "
                   f"FOR EACH ROW WHEN (session_user <> '{owner}') "
                   f"EXECUTE FUNCTION sjr_{table}_stamp()")
    # a codebook dated in the future stays "the latest" whatever comes after it: none could
    # have been imported so, so it is dated now
    op.execute("UPDATE codebook_versions SET imported_at = now() WHERE imported_at > now()")


def downgrade() -> None:
    context = _context()
    if context is None:
        return
    definer, _owner = context
    for table in _STAMPS:
        op.execute(f"DROP TRIGGER IF EXISTS sjr_{table}_stamp ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS sjr_{table}_stamp()")
    op.execute(_check(definer, queue=False))
