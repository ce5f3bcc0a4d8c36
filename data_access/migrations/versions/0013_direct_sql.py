"""direct SQL: what a person's own database role may do without the access layer (PostgreSQL)

Revision ID: 0013_direct_sql
Revises: 0012_action_target

On PostgreSQL every person connects as their own database role (revision ``0003_security``), so
anything the access layer refuses must also be refused by the database, or a person with
``psql`` and their own credentials does it anyway. An insider audit (2026-12-05) found five
such gaps; this revision closes them in the database (``docs/security.md``):

- **Locked reviews are final for persons.** No person updates or deletes a locked review, or
  writes its phases, problems, reasons or referrals, except in the transaction that stores it
  (a lead's import of reviews that were locked elsewhere); a lead may still lock a review
  (``UPDATE ... SET status = 'locked'`` of an unlocked one). Before, a lead could rescore a locked
  review and set it back to ``submitted``.
- **Who saved and which version is the database's.** On a person's update of ``reviews`` a
  trigger sets ``version`` (the stored version + 1), ``updated_at``, ``updated_by`` (the
  person's user name) and keeps ``created_at``; a person's new review must be version 1 saved by
  that person (checked at the end of the statement: a BEFORE INSERT trigger would make the
  owner's ``COPY`` insert row by row). An import recording the hash of an unchanged review
  (``content_hash`` alone) is not a new version. The owner and services are unchanged (the
  triggers' ``WHEN`` skips the owner without a call).
- **A second-stage review names a first-stage review of the same organisation and case, by
  another reviewer** (``sjrlib.rules``' ``second_review_of_*`` rules, and the session's check
  that nobody second-stages their own review), checked at the end of each statement by a
  constraint trigger, so a file's first- and second-stage reviews may come in any order. Before,
  a lead of one organisation could name another organisation's review and so take it off that
  organisation's second-stage queue.
- **A submitted calibration answer is final**: persons update or delete only draft answers.
- **A reviewer reads a training case's reference answers only after submitting an answer to
  it.** The reference columns of ``training_cases`` are no longer granted to persons; they are
  read through ``sjr_training_cases()``, which gives them to the programme team and leads, and to
  a reviewer for the cases they have a submitted answer to (``data_access.training.load_cases``).

- **A person cannot stall the audit chain.** ``sjr_audit_lock()`` and ``sjr_audit_enqueue()``
  lock the chain head (or the queue head) for the rest of the caller's transaction, as they must
  (the chain is ordered by commit). A person who took one and left the transaction open (or
  asleep in ``pg_sleep``) made every audited operation of every other user fail with "the store
  is busy". Now a caller who finds a head locked first ends the holder's transaction when the
  holder is a person other than an administrator and has been idle in that transaction for
  ``audit_stall_seconds`` (``store_meta``, default 30) or in one statement for ten times that,
  and records it in the audit queue (``audit.stall_ended``, naming whose transaction). Nothing
  the product does holds a head idle that long except an administrator's backup. Ending another
  role's backend needs the owner to hold ``pg_signal_backend`` and to see other roles'
  activity (``pg_read_all_stats``): the operator grants both (``docs/security.md``); without
  them, callers wait and fail as before.

SQLite is one person's store on one machine (whoever opens the file holds all of it): nothing
changes there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_direct_sql"
down_revision = "0012_action_target"
branch_labels = None
depends_on = None

_ROLE = "(SELECT sjr_person_role())"
_ORG = "(SELECT sjr_person_organisation())"
_REVIEWER = "(SELECT sjr_person_reviewer())"

_MARK = 0x534A52
"""The advisory lock class (``SJR``) by which a holder of an audit chain head is found: a person
has no UPDATE on the heads, so a head is locked only through the functions, which take the
mark (objid 1: ``audit_head``, 2: ``audit_queue_head``) with it."""

_ENQUEUE = "sjr_audit_enqueue(text, text, text, text, integer, text, text)"

_CHILD_TABLES = ("phase_assessments", "problems", "review_reasons", "referrals")

_CASE_PUBLIC = ("case_id", "title", "summary", "fictional", "panel", "case_set", "imported_by",
                "imported_at")
"""The columns of ``training_cases`` every person reads; the rest are the panel's reference."""

_CASE_REFERENCE = ("care", "score_admission", "score_ongoing", "score_procedure",
                   "score_perioperative", "score_end_of_life", "score_overall",
                   "avoidability_score", "problems", "themes")


def _functions(path: str, owner: str) -> list[str]:
    definer = f"SECURITY DEFINER SET search_path = {path}"
    reference = ", ".join(f"CASE WHEN shown THEN c.{c} END" for c in _CASE_REFERENCE)
    reference_types = ", ".join(
        f"{c} {'varchar' if c == 'care' else 'text' if c in ('problems', 'themes') else 'integer'}"
        for c in _CASE_REFERENCE)
    return [
        # whether a row version (its xmin) was written by the caller's own transaction: a row
        # the caller sees whose transaction is still in progress can only be the caller's own
        # (or one of its subtransactions'); MVCC hides every other transaction's
        f"""CREATE OR REPLACE FUNCTION sjr_written_here(p_xmin xid) RETURNS boolean
        LANGUAGE plpgsql VOLATILE {definer} AS $$
        DECLARE v_now bigint := txid_current(); v_txid bigint;
        BEGIN
            v_txid := (v_now >> 32 << 32) | p_xmin::text::bigint;
            IF v_txid > v_now + 2147483648 THEN
                v_txid := v_txid - 4294967296;  -- written in the previous epoch
            END IF;
            RETURN coalesce(txid_status(v_txid) = 'in progress', false);
        EXCEPTION WHEN OTHERS THEN
            RETURN false;
        END $$""",
        # a review's content (its child rows) is written only while the review is not locked,
        # or in the transaction that stores it (a lead's import of reviews locked already)
        f"""CREATE OR REPLACE FUNCTION sjr_writes_review_content(p_review_id text)
        RETURNS boolean LANGUAGE sql VOLATILE {definer} AS $$
            SELECT coalesce((SELECT sjr_writes_review(r.organisation_code, r.reviewer_id,
                                                      r.status)
                                    AND CASE WHEN r.status IS DISTINCT FROM 'locked' THEN true
                                             ELSE sjr_written_here(r.xmin) END
                             FROM reviews r WHERE r.review_id = p_review_id), false)
        $$""",
        # version, times and who saved: set by the database on a person's update (a BEFORE
        # INSERT trigger would make the owner's COPY insert row by row, so inserts are checked
        # after the statement instead, below)
        f"""CREATE OR REPLACE FUNCTION sjr_review_stamp() RETURNS trigger
        LANGUAGE plpgsql {definer} AS $$
        DECLARE v_name text;
        BEGIN
            SELECT username INTO v_name FROM users WHERE db_role = session_user::text;
            IF NOT FOUND THEN
                RETURN NEW;  -- the owner or a service writes its own values
            END IF;
            IF to_jsonb(NEW) - '{{content_hash,content_hash_version}}'::text[]
                    = to_jsonb(OLD) - '{{content_hash,content_hash_version}}'::text[] THEN
                RETURN NEW;  -- an import recording the hash of an unchanged review
            END IF;
            NEW.version := OLD.version + 1;
            NEW.created_at := OLD.created_at;
            NEW.updated_at := now();
            NEW.updated_by := v_name;
            RETURN NEW;
        END $$""",
        # at the end of each statement, on the rows a person's role wrote: a new review is
        # version 1 saved by that person; second_review_of names a first-stage review of the
        # same organisation and case by another reviewer (read as the owner: the named review
        # may be outside the writer's scope, and the answer says nothing about it beyond "not
        # one you may name")
        f"""CREATE OR REPLACE FUNCTION sjr_review_check() RETURNS trigger
        LANGUAGE plpgsql {definer} AS $$
        DECLARE v_name text;
        BEGIN
            SELECT username INTO v_name FROM users WHERE db_role = session_user::text;
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
                       AND f.reviewer_id IS DISTINCT FROM NEW.reviewer_id)) THEN
                RAISE EXCEPTION 'review %: second_review_of must name a first-stage review of '
                    'the same organisation and case, by another reviewer', NEW.review_id
                    USING ERRCODE = 'check_violation';
            END IF;
            RETURN NULL;
        END $$""",
        # a head of the audit chain held by a stalled person: end that transaction, audited
        f"""CREATE OR REPLACE FUNCTION sjr_audit_unstall(p_head text) RETURNS integer
        LANGUAGE plpgsql {definer} AS $$
        DECLARE
            r record; v_ended integer := 0;
            v_idle interval := make_interval(secs => greatest(1, coalesce((
                SELECT value::integer FROM store_meta WHERE key = 'audit_stall_seconds'), 30)));
        BEGIN
            -- the holders: whoever holds a head also holds its advisory mark (see the callers)
            FOR r IN
                SELECT a.pid, u.username, u.role, a.state, a.state_change, a.query_start
                  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                  JOIN users u ON u.db_role = a.usename::text
                 WHERE l.locktype = 'advisory' AND l.granted AND l.classid = {_MARK}
                   AND l.objid = (CASE p_head WHEN 'audit_head' THEN 1 ELSE 2 END)
                   AND l.objsubid = 2 AND l.database = (SELECT oid FROM pg_database
                                                         WHERE datname = current_database())
                   AND l.pid <> pg_backend_pid() AND u.role <> 'administrator'
            LOOP
                IF (r.state LIKE 'idle in transaction%'
                        AND r.state_change < clock_timestamp() - v_idle)
                   OR (r.state = 'active' AND r.query_start < clock_timestamp() - 10 * v_idle)
                THEN
                    IF pg_terminate_backend(r.pid, 5000) THEN
                        v_ended := v_ended + 1;
                        PERFORM sjr_audit_enqueue_held(
                            session_user::text, NULL, 'audit.stall_ended',
                            json_build_object('ended', r.username, 'role', r.role,
                                              'head', p_head, 'state', r.state,
                                              'since', r.state_change)::text,
                            NULL, NULL, 'database');
                    END IF;
                END IF;
            END LOOP;
            RETURN v_ended;
        END $$""",
        # sjr_audit_lock() and sjr_audit_enqueue() (revision 0011): end a stall, then lock
        f"""CREATE OR REPLACE FUNCTION sjr_audit_lock() RETURNS void
        LANGUAGE plpgsql {definer} AS $$
        BEGIN
            BEGIN
                PERFORM 1 FROM audit_head WHERE id = 1 FOR UPDATE NOWAIT;
            EXCEPTION WHEN lock_not_available THEN
                PERFORM sjr_audit_unstall('audit_head');
            END;
            PERFORM sjr_audit_lock_held();
            PERFORM pg_advisory_xact_lock_shared({_MARK}, 1);  -- "holds audit_head"
        END $$""",
        f"""CREATE OR REPLACE FUNCTION sjr_audit_enqueue(
            p_username text, p_role text, p_action text, p_scope text, p_rows integer,
            p_approval_id text, p_tool text) RETURNS integer
        LANGUAGE plpgsql {definer} AS $$
        DECLARE v_seq integer;
        BEGIN
            BEGIN
                PERFORM 1 FROM audit_queue_head WHERE id = 1 FOR UPDATE NOWAIT;
            EXCEPTION WHEN lock_not_available THEN
                PERFORM sjr_audit_unstall('audit_queue_head');
            END;
            v_seq := sjr_audit_enqueue_held(p_username, p_role, p_action, p_scope, p_rows,
                                            p_approval_id, p_tool);
            PERFORM pg_advisory_xact_lock_shared({_MARK}, 2);  -- "holds audit_queue_head"
            RETURN v_seq;
        END $$""",
        # the training cases with the reference answers the caller may see
        f"""CREATE OR REPLACE FUNCTION sjr_training_cases()
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
                               AND a.reviewer_id = {_REVIEWER})
                        ELSE false END) AS shown
                      FROM training_cases c
                     WHERE {_ROLE} IS NOT NULL
                        OR NOT pg_has_role(session_user, 'sjr_person', 'MEMBER')
                        OR session_user = '{owner}') c
             ORDER BY c.case_id
        $$""",
    ]


def _policies() -> list[str]:
    review_write = "sjr_writes_review(organisation_code, reviewer_id, status)"
    unlocked = "status IS DISTINCT FROM 'locked'"
    statements = [
        "DROP POLICY IF EXISTS person_update ON reviews",
        "DROP POLICY IF EXISTS person_delete ON reviews",
        f"CREATE POLICY person_update ON reviews FOR UPDATE USING ({review_write} AND {unlocked}) "
        f"WITH CHECK ({review_write})",
        f"CREATE POLICY person_delete ON reviews FOR DELETE USING ({_ROLE} = 'organisation_lead' "
        f"AND organisation_code = {_ORG} AND {unlocked})",
    ]
    write = "sjr_writes_review_content(review_id)"
    for table in _CHILD_TABLES:
        statements += [f"DROP POLICY IF EXISTS {p} ON {table}"
                       for p in ("person_insert", "person_update", "person_delete")]
        statements += [
            f"CREATE POLICY person_insert ON {table} FOR INSERT WITH CHECK ({write})",
            f"CREATE POLICY person_update ON {table} FOR UPDATE USING ({write}) "
            f"WITH CHECK ({write})",
            f"CREATE POLICY person_delete ON {table} FOR DELETE USING ({write})",
        ]
    answer_write = (f"organisation_code = {_ORG} AND ({_ROLE} = 'organisation_lead' OR "
                    f"({_ROLE} = 'reviewer' AND reviewer_id = {_REVIEWER}))")
    statements += [
        "DROP POLICY IF EXISTS person_update ON calibration_answers",
        "DROP POLICY IF EXISTS person_delete ON calibration_answers",
        f"CREATE POLICY person_update ON calibration_answers FOR UPDATE "
        f"USING ({answer_write} AND status = 'draft') WITH CHECK ({answer_write})",
        f"CREATE POLICY person_delete ON calibration_answers FOR DELETE "
        f"USING ({answer_write} AND status = 'draft')",
    ]
    return statements


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    schema = bind.execute(sa.text("SELECT quote_ident(current_schema())")).scalar_one()
    owner = bind.execute(sa.text("SELECT current_user")).scalar_one()
    if "'" in owner:  # pragma: no cover - baked into a trigger's WHEN and a function
        raise RuntimeError(f"the owner role's name {owner!r} holds a quote; rename it")
    # revision 0011's lock and enqueue, kept under new names behind the stall check
    op.execute("ALTER FUNCTION sjr_audit_lock() RENAME TO sjr_audit_lock_held")
    op.execute(f"ALTER FUNCTION {_ENQUEUE} RENAME TO sjr_audit_enqueue_held")
    for signature in ("sjr_audit_lock_held()", _ENQUEUE.replace("enqueue", "enqueue_held")):
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC, sjr_person, sjr_service")
    for statement in _functions(f"{schema}, pg_temp", owner):
        op.execute(statement)
    for statement in _policies():
        op.execute(statement)
    person = f"session_user <> '{owner}'"
    op.execute(f"CREATE TRIGGER sjr_review_stamp BEFORE UPDATE ON reviews "
               f"FOR EACH ROW WHEN ({person}) EXECUTE FUNCTION sjr_review_stamp()")
    op.execute(f"CREATE CONSTRAINT TRIGGER sjr_review_check AFTER INSERT OR UPDATE "
               f"ON reviews FOR EACH ROW WHEN ({person}) EXECUTE FUNCTION sjr_review_check()")
    op.execute("REVOKE SELECT ON training_cases FROM sjr_person")
    op.execute(f"GRANT SELECT ({', '.join(_CASE_PUBLIC)}) ON training_cases TO sjr_person")
    for signature in ("sjr_writes_review_content(text)", "sjr_training_cases()",
                      "sjr_written_here(xid)", "sjr_audit_lock()", _ENQUEUE):
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO sjr_person, sjr_service")
    for signature in ("sjr_review_stamp()", "sjr_review_check()",
                      "sjr_audit_unstall(text)"):
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS sjr_review_check ON reviews")
    op.execute("DROP TRIGGER IF EXISTS sjr_review_stamp ON reviews")
    op.execute("GRANT SELECT ON training_cases TO sjr_person")
    for statement in _policies():  # revision 0003's and 0009's policies again
        if statement.startswith("CREATE POLICY"):
            statement = (statement.replace(" AND status IS DISTINCT FROM 'locked'", "")
                         .replace(" AND status = 'draft'", "")
                         .replace("sjr_writes_review_content(", "sjr_writes_review_id("))
        op.execute(statement)
    for signature in ("sjr_training_cases()", "sjr_review_check()", "sjr_review_stamp()",
                      "sjr_writes_review_content(text)", "sjr_written_here(xid)",
                      "sjr_audit_lock()", _ENQUEUE, "sjr_audit_unstall(text)"):
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    op.execute("ALTER FUNCTION sjr_audit_lock_held() RENAME TO sjr_audit_lock")
    op.execute(f"ALTER FUNCTION {_ENQUEUE.replace('enqueue', 'enqueue_held')} "
               "RENAME TO sjr_audit_enqueue")
    for signature in ("sjr_audit_lock()", _ENQUEUE):
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO sjr_person, sjr_service")
