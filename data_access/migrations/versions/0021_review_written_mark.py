"""a person's child-row write is a new version however the review was touched before (PostgreSQL)

Revision ID: 0021_review_written_mark
Revises: 0020_action_review_scope

Revision ``0015_review_children`` gave a review a new version (and cleared its hash) when a
person's role wrote one of its phases, problems, reasons or referrals, unless the review row had
already been written by the same transaction (its ``xmin``). The insider audit of 2026-12-06
(second round) first touched the review with an update that changes nothing but the hash
(``UPDATE reviews SET content_hash = content_hash``: revision 0013's stamp lets it through
without a new version, but it rewrites ``xmin``), then rescored the phases: the review kept its
version, its saver and its hash, and a corrective re-import found it "unchanged".

Now "already has its new version in this transaction" is a mark the database writes itself:
``sjr_review_written`` (transaction id, review id), readable and writable by no person, filled
by revision 0013's stamp when it gives a person's update a new version and by its check when a
person inserts a review. A child-row write by a person touches the review unless that mark is
there, so a no-op update (of the hash or of anything) no longer counts. A save or an import
through the access layer writes the review first, so it is still one version per save.
The owner's imports are unchanged (the triggers' ``WHEN`` skips the owner). SQLite is one
person's store (nothing changes there).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_review_written_mark"
down_revision = "0020_action_review_scope"
branch_labels = None
depends_on = None

_MARK = ("INSERT INTO sjr_review_written VALUES (txid_current(), NEW.review_id) "
         "ON CONFLICT DO NOTHING;\n"
         "            IF random() < 0.01 THEN  -- marks of finished transactions\n"
         "                DELETE FROM sjr_review_written\n"
         "                 WHERE txid < txid_snapshot_xmin(txid_current_snapshot());\n"
         "            END IF;")


def _stamp(definer: str, *, mark: bool) -> str:
    return f"""CREATE OR REPLACE FUNCTION sjr_review_stamp() RETURNS trigger
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
            {_MARK if mark else ''}
            RETURN NEW;
        END $$"""


def _check(definer: str, *, mark: bool) -> str:
    return f"""CREATE OR REPLACE FUNCTION sjr_review_check() RETURNS trigger
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
            {"IF TG_OP = 'INSERT' THEN " + _MARK + " END IF;" if mark else ""}
            RETURN NULL;
        END $$"""


def _child(definer: str, *, mark: bool) -> str:
    written = ("NOT EXISTS (SELECT 1 FROM sjr_review_written w WHERE w.txid = txid_current() "
               "AND w.review_id = v_id)") if mark else "NOT sjr_written_here(xmin)"
    return f"""CREATE OR REPLACE FUNCTION sjr_review_child_written() RETURNS trigger
        LANGUAGE plpgsql {definer} AS $$
        DECLARE v_id text;
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM users WHERE db_role = session_user::text) THEN
                RETURN NULL;  -- a service writes its own values
            END IF;
            v_id := CASE WHEN TG_OP = 'DELETE' THEN OLD.review_id ELSE NEW.review_id END;
            -- once per review and transaction: a review this transaction gave a new version
            -- (a save, an import, an earlier child row) is marked so by the database
            UPDATE reviews SET content_hash = NULL, content_hash_version = NULL,
                               updated_at = clock_timestamp()
             WHERE review_id = v_id AND {written};
            RETURN NULL;
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
    # unlogged: a mark matters only while its transaction runs, and no crash outlives one
    op.execute("CREATE UNLOGGED TABLE sjr_review_written (txid bigint NOT NULL, "
               "review_id varchar NOT NULL, PRIMARY KEY (txid, review_id))")
    op.execute("ALTER TABLE sjr_review_written ENABLE ROW LEVEL SECURITY")
    op.execute("REVOKE ALL ON sjr_review_written FROM PUBLIC, sjr_person, sjr_service")
    for statement in (_stamp(definer, mark=True), _check(definer, mark=True),
                      _child(definer, mark=True)):
        op.execute(statement)


def downgrade() -> None:
    definer = _definer()
    if definer is None:
        return
    for statement in (_stamp(definer, mark=False), _check(definer, mark=False),
                      _child(definer, mark=False)):
        op.execute(statement)
    op.execute("DROP TABLE IF EXISTS sjr_review_written")
