"""the read-audit queue: reads audited without waiting for an import (issue 17 part 2)

Revision ID: 0011_audit_queue
Revises: 0010_review_hash

A read that finds the audit chain locked by an import or a backup (which hold it for their
whole length) is audited in an audit queue instead of waiting, and the queue is flushed into the
audit log, in order and unchanged, by the next transaction that holds the lock
(:mod:`data_access.audit`). Queue entries are hash-chained like the log (``entry_hash`` over the
entry with its queue sequence number as ``id``), from a queue head row (last sequence and hash).

Both engines: two columns on ``audit_head`` record, in the flushing transaction, the queue
sequence number and hash of the last entry flushed:

- ``queue_seq`` (0: none yet): a flush copies only queue entries after it, so a crash between
  the flush's commit and the queue's clean-up never copies an entry twice;
- ``queue_hash`` (64 zeros: none yet): where the queue's chain continues from, anchoring it to
  the log, so a queue rewritten after a flush does not verify.

SQLite keeps the queue in a file of its own beside the store (a reader cannot write the store
while an import holds it). PostgreSQL keeps it in two tables, ``audit_queue`` and
``audit_queue_head``, written only by the owner's functions:

- ``sjr_audit_enqueue(...)``: appends an entry (same arguments and the same naming rule as
  ``sjr_audit_append``: a person's own role is named whatever it claims), locking only the
  queue head row, never ``audit_head``;
- ``sjr_audit_lock()`` (replaced): locks ``audit_head`` as before, then flushes the queue
  (``sjr_audit_flush()``): copies the intact entries after ``queue_seq`` into the log and
  deletes them, in the same transaction, stopping before an entry whose chain does not check.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_audit_queue"
down_revision = "0010_review_hash"
branch_labels = None
depends_on = None

_GENESIS = "0" * 64
_COLUMNS = (("queue_seq", "INTEGER NOT NULL DEFAULT 0"),
            ("queue_hash", f"VARCHAR(64) NOT NULL DEFAULT '{_GENESIS}'"))
_ENQUEUE = "sjr_audit_enqueue(text, text, text, text, integer, text, text)"
_HASH = "sjr_audit_hash(text, integer, text, text, text, text, text, integer, text, text)"
_SERVICE = "(SELECT sjr_is_service())"


def _functions(path: str) -> list[str]:
    definer = f"SECURITY DEFINER SET search_path = {path}"
    invoker = f"SET search_path = {path}"
    return [
        # data_access.audit.entry_hash: sorted keys, no spaces, non-ASCII as is
        f"""CREATE OR REPLACE FUNCTION sjr_audit_hash(
            p_prev text, p_id integer, p_at text, p_username text, p_role text, p_action text,
            p_scope text, p_rows integer, p_approval_id text, p_tool text) RETURNS text
        LANGUAGE sql IMMUTABLE {invoker} AS $$
            SELECT encode(sha256(convert_to(p_prev || '{{"action":' || sjr_json(p_action)
                || ',"approval_id":' || sjr_json(p_approval_id)
                || ',"at":' || sjr_json(p_at)
                || ',"id":' || p_id::text
                || ',"role":' || sjr_json(p_role)
                || ',"rows":' || coalesce(p_rows::text, 'null')
                || ',"scope":' || sjr_json(p_scope)
                || ',"tool":' || sjr_json(p_tool)
                || ',"username":' || sjr_json(p_username) || '}}', 'UTF8')), 'hex')
        $$""",
        f"""CREATE OR REPLACE FUNCTION sjr_audit_enqueue(
            p_username text, p_role text, p_action text, p_scope text, p_rows integer,
            p_approval_id text, p_tool text) RETURNS integer
        LANGUAGE plpgsql {definer} AS $$
        DECLARE
            v_name text; v_role text; v_seq integer; v_prev text; v_at text; v_hash text;
        BEGIN
            SELECT username, role INTO v_name, v_role FROM users
             WHERE db_role = session_user::text;
            IF NOT FOUND THEN
                IF pg_has_role(session_user, 'sjr_person', 'MEMBER') AND NOT coalesce(
                        (SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false) THEN
                    RAISE EXCEPTION 'database role % is no person of this store', session_user
                        USING ERRCODE = 'insufficient_privilege';
                END IF;
                v_name := p_username;  -- the owner or a service names whom it acts for
                v_role := p_role;
            END IF;
            IF v_name IS NULL OR p_action IS NULL OR p_tool IS NULL THEN
                RAISE EXCEPTION 'an audit entry needs a user, an action and a tool';
            END IF;
            IF p_scope IS NULL OR jsonb_typeof(p_scope::jsonb) IS DISTINCT FROM 'object' THEN
                RAISE EXCEPTION 'an audit entry''s scope is a JSON object';
            END IF;
            SELECT last_seq + 1, last_hash INTO v_seq, v_prev FROM audit_queue_head
             WHERE id = 1 FOR UPDATE;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'the audit queue head is missing: restore audit_queue_head';
            END IF;
            v_at := to_char(clock_timestamp() AT TIME ZONE 'UTC',
                             'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00';
            v_hash := sjr_audit_hash(v_prev, v_seq, v_at, v_name, v_role, p_action, p_scope,
                                     p_rows, p_approval_id, p_tool);
            INSERT INTO audit_queue (seq, at, username, role, action, scope, rows, approval_id,
                                     tool, prev_hash, entry_hash)
            VALUES (v_seq, v_at, v_name, v_role, p_action, p_scope, p_rows, p_approval_id,
                    p_tool, v_prev, v_hash);
            UPDATE audit_queue_head SET last_seq = v_seq, last_hash = v_hash WHERE id = 1;
            RETURN v_seq;
        END $$""",
        f"""CREATE OR REPLACE FUNCTION sjr_audit_flush() RETURNS integer
        LANGUAGE plpgsql {definer} AS $$
        DECLARE
            v_id integer; v_prev text; v_seq integer; v_qprev text; v_hash text;
            v_count integer := 0; r record;
        BEGIN
            SELECT last_id, last_hash, queue_seq, queue_hash
              INTO v_id, v_prev, v_seq, v_qprev FROM audit_head WHERE id = 1 FOR UPDATE;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'the audit chain head is missing: restore audit_head';
            END IF;
            FOR r IN SELECT * FROM audit_queue WHERE seq > v_seq ORDER BY seq LOOP
                -- stop before an entry whose chain does not check: it stays for verify
                EXIT WHEN r.seq <> v_seq + 1 OR r.prev_hash <> v_qprev
                    OR r.entry_hash <> sjr_audit_hash(r.prev_hash, r.seq, r.at, r.username,
                        r.role, r.action, r.scope, r.rows, r.approval_id, r.tool);
                v_id := v_id + 1;
                v_hash := sjr_audit_hash(v_prev, v_id, r.at, r.username, r.role, r.action,
                                         r.scope, r.rows, r.approval_id, r.tool);
                INSERT INTO audit_log (id, at, username, role, action, scope, rows,
                                       approval_id, tool, prev_hash, entry_hash)
                VALUES (v_id, r.at, r.username, r.role, r.action, r.scope, r.rows,
                        r.approval_id, r.tool, v_prev, v_hash);
                v_prev := v_hash; v_seq := r.seq; v_qprev := r.entry_hash;
                v_count := v_count + 1;
            END LOOP;
            IF v_count > 0 THEN
                UPDATE audit_head SET last_id = v_id, last_hash = v_prev, queue_seq = v_seq,
                       queue_hash = v_qprev WHERE id = 1;
                DELETE FROM audit_queue WHERE seq <= v_seq;
            END IF;
            RETURN v_count;
        END $$""",
        f"""CREATE OR REPLACE FUNCTION sjr_audit_lock() RETURNS void
        LANGUAGE plpgsql {definer} AS $$
        BEGIN
            PERFORM 1 FROM audit_head WHERE id = 1 FOR UPDATE;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'the audit chain head is missing: restore audit_head';
            END IF;
            PERFORM sjr_audit_flush();
        END $$""",
    ]


def upgrade() -> None:
    # plain ADD COLUMN on both engines (no SQLite batch copy of the chain head)
    for column, ddl in _COLUMNS:
        op.execute(f"ALTER TABLE audit_head ADD COLUMN {column} {ddl}")
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # SQLite's queue is a file of its own (data_access.audit.queue_path)
    schema = bind.execute(sa.text("SELECT quote_ident(current_schema())")).scalar_one()
    op.execute("CREATE TABLE audit_queue (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, "
               "username TEXT NOT NULL, role TEXT, action TEXT NOT NULL, scope TEXT NOT NULL, "
               "rows INTEGER, approval_id TEXT, tool TEXT NOT NULL, prev_hash TEXT NOT NULL, "
               "entry_hash TEXT NOT NULL)")
    op.execute("CREATE TABLE audit_queue_head (id INTEGER PRIMARY KEY CHECK (id = 1), "
               "last_seq INTEGER NOT NULL, last_hash TEXT NOT NULL)")
    op.execute(f"INSERT INTO audit_queue_head VALUES (1, 0, '{_GENESIS}')")
    for statement in _functions(f"{schema}, pg_temp"):
        op.execute(statement)
    for table in ("audit_queue", "audit_queue_head"):  # as audit_log: administrators read
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY service_all ON {table} USING ({_SERVICE}) "
                   f"WITH CHECK ({_SERVICE})")
        op.execute(f"CREATE POLICY person_read ON {table} FOR SELECT "
                   "USING ((SELECT sjr_is_administrator()))")
        op.execute(f"GRANT SELECT ON {table} TO sjr_person")
    for signature in (_ENQUEUE, "sjr_audit_flush()"):
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO sjr_person, sjr_service")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        schema = bind.execute(sa.text("SELECT quote_ident(current_schema())")).scalar_one()
        definer = f"SECURITY DEFINER SET search_path = {schema}, pg_temp"
        op.execute(f"""CREATE OR REPLACE FUNCTION sjr_audit_lock() RETURNS void
        LANGUAGE plpgsql {definer} AS $$
        BEGIN
            PERFORM 1 FROM audit_head WHERE id = 1 FOR UPDATE;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'the audit chain head is missing: restore audit_head';
            END IF;
        END $$""")
        for signature in (_ENQUEUE, "sjr_audit_flush()", _HASH):
            op.execute(f"DROP FUNCTION IF EXISTS {signature}")
        op.execute("DROP TABLE IF EXISTS audit_queue")
        op.execute("DROP TABLE IF EXISTS audit_queue_head")
    for column, _ddl in reversed(_COLUMNS):
        op.execute(f"ALTER TABLE audit_head DROP COLUMN {column}")
