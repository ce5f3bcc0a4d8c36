"""the audit chain's holder is found by its lock, and a person's LOCK TABLE is ended (PostgreSQL)

Revision ID: 0017_audit_holders
Revises: 0016_free_text_statistics

Revision ``0013_direct_sql`` ended a person who stalled the audit chain, but found the holder by
an advisory "mark" any role may take (``pg_advisory_lock(5458514, 1)``, outside a transaction,
held every caller's ``pg_advisory_xact_lock_shared`` for good), looked only for holders idle in
a transaction since ``state_change`` (a statement every 20 s kept one alive) and only for this
store's users (a person of another store on the server was never ended). A second insider audit
(2026-12-06) confirmed all three, and that any person holding a table's write privilege
(researchers included) could ``LOCK TABLE reviews`` and block everyone. Now:

- **No mark.** ``sjr_audit_lock()`` and ``sjr_audit_enqueue()`` take no advisory lock; a
  holder of a head is found from the head row itself: its ``xmax`` is the locking transaction
  (or a multixact whose members are), mapped to a backend through ``pg_locks``. A lock taken in
  a released savepoint leaves no ``pg_locks`` row; then every backend of this database holding a
  transaction id is a candidate.
- **By the transaction's age.** ``sjr_audit_unstall`` ends a candidate that is a member of
  ``sjr_person`` (of any store) and no enabled administrator of this one, when it has been idle
  in its transaction for ``audit_stall_seconds`` (``store_meta``, default 30) or its
  transaction is older than ``audit_hold_seconds`` (default ten times that), whatever it is
  doing; audited as ``audit.stall_ended``, as before.
- **LOCK TABLE.** Before taking a head, both functions end every non-administrator person that
  holds or waits for a lock of ``SHARE`` mode or stronger on a table of the store (only
  ``LOCK TABLE`` takes one for a person: they own no table and run no DDL), audited as
  ``audit.lock_ended`` with the table and mode. Every audited operation calls one of them
  first, so the next one frees the tables.

Ending another role's backend still needs the owner to hold ``pg_signal_backend`` and
``pg_read_all_stats`` (``docs/security.md``); without them nothing is ended, as before.
SQLite is one person's store (nothing changes there).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_audit_holders"
down_revision = "0016_free_text_statistics"
branch_labels = None
depends_on = None

_ENQUEUE = "sjr_audit_enqueue(text, text, text, text, integer, text, text)"
_MARK = 0x534A52

_NOT_ADMINISTRATOR = """pg_has_role({who}, 'sjr_person', 'MEMBER')
                   AND NOT coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = {who}), false)
                   AND NOT EXISTS (SELECT 1 FROM users u WHERE u.db_role = {who}::text
                                      AND u.role = 'administrator' AND NOT u.disabled)"""
"""A backend that may be ended: a person of any store, not an enabled administrator of this
one (their backup holds the chain for its whole length), never a superuser."""


def _functions(definer: str) -> list[str]:
    return [
        # a person's LOCK TABLE on a table of the store: end it, audited
        f"""CREATE OR REPLACE FUNCTION sjr_audit_unlock_tables() RETURNS integer
        LANGUAGE plpgsql {definer} AS $$
        DECLARE r record; v_ended integer := 0;
        BEGIN
            FOR r IN
                SELECT DISTINCT ON (l.pid) l.pid, a.usename::text AS usename, l.mode,
                       c.relname::text AS relname, l.granted
                  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                  JOIN pg_class c ON c.oid = l.relation
                 WHERE l.locktype = 'relation'
                   AND l.database = (SELECT oid FROM pg_database
                                      WHERE datname = current_database())
                   AND l.mode IN ('ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock',
                                  'AccessExclusiveLock')
                   AND c.relnamespace = current_schema()::regnamespace
                   AND l.pid <> pg_backend_pid()
                   AND {_NOT_ADMINISTRATOR.format(who="a.usename")}
                 ORDER BY l.pid
            LOOP
                BEGIN
                    IF pg_terminate_backend(r.pid, 5000) THEN
                        v_ended := v_ended + 1;
                        PERFORM sjr_audit_enqueue_held(
                            session_user::text, NULL, 'audit.lock_ended',
                            json_build_object('ended', coalesce(
                                (SELECT username FROM users WHERE db_role = r.usename),
                                r.usename), 'table', r.relname, 'mode', r.mode,
                                'granted', r.granted)::text,
                            NULL, NULL, 'database');
                    END IF;
                EXCEPTION WHEN insufficient_privilege THEN
                    NULL;  -- the owner lacks pg_signal_backend: nothing is ended
                END;
            END LOOP;
            RETURN v_ended;
        END $$""",
        # a head of the audit chain held by a stalled person: end that transaction, audited
        f"""CREATE OR REPLACE FUNCTION sjr_audit_unstall(p_head text) RETURNS integer
        LANGUAGE plpgsql {definer} AS $$
        DECLARE
            r record; v_ended integer := 0; v_xmax xid; v_xids xid[]; v_pids integer[];
            v_idle interval := make_interval(secs => greatest(1, coalesce((
                SELECT value::integer FROM store_meta WHERE key = 'audit_stall_seconds'), 30)));
            v_hold interval;
        BEGIN
            v_hold := coalesce(make_interval(secs => (
                SELECT greatest(1, value::integer) FROM store_meta
                 WHERE key = 'audit_hold_seconds')), 10 * v_idle);
            IF p_head = 'audit_head' THEN
                SELECT xmax INTO v_xmax FROM audit_head WHERE id = 1;
            ELSE
                SELECT xmax INTO v_xmax FROM audit_queue_head WHERE id = 1;
            END IF;
            IF v_xmax IS NULL OR v_xmax::text = '0' THEN
                RETURN 0;
            END IF;
            v_xids := ARRAY[v_xmax];
            BEGIN  -- the lockers of a multixact (a lock taken in a savepoint, then updated)
                v_xids := v_xids || ARRAY(SELECT m.xid FROM pg_get_multixact_members(v_xmax) m);
            EXCEPTION WHEN OTHERS THEN
                NULL;  -- a plain transaction id
            END;
            v_pids := ARRAY(SELECT l.pid FROM pg_locks l
                             WHERE l.locktype = 'transactionid' AND l.granted
                               AND l.transactionid = ANY (v_xids)
                               AND l.pid <> pg_backend_pid());
            IF cardinality(v_pids) = 0 THEN
                -- a released savepoint's transaction id has no pg_locks row: any backend of
                -- this database holding a transaction id may be the holder
                v_pids := ARRAY(SELECT a.pid FROM pg_stat_activity a
                                 WHERE a.datname = current_database()
                                   AND a.backend_xid IS NOT NULL
                                   AND a.pid <> pg_backend_pid());
            END IF;
            FOR r IN
                SELECT a.pid, a.usename::text AS usename, a.state, a.state_change,
                       a.xact_start
                  FROM pg_stat_activity a
                 WHERE a.pid = ANY (v_pids)
                   AND {_NOT_ADMINISTRATOR.format(who="a.usename")}
            LOOP
                IF (r.state LIKE 'idle in transaction%'
                        AND r.state_change < clock_timestamp() - v_idle)
                   OR r.xact_start < clock_timestamp() - v_hold
                THEN
                    BEGIN
                        IF pg_terminate_backend(r.pid, 5000) THEN
                            v_ended := v_ended + 1;
                            PERFORM sjr_audit_enqueue_held(
                                session_user::text, NULL, 'audit.stall_ended',
                                json_build_object('ended', coalesce(
                                    (SELECT username FROM users WHERE db_role = r.usename),
                                    r.usename), 'role', (SELECT role FROM users
                                                          WHERE db_role = r.usename),
                                    'head', p_head, 'state', r.state,
                                    'since', r.xact_start)::text,
                                NULL, NULL, 'database');
                        END IF;
                    EXCEPTION WHEN insufficient_privilege THEN
                        NULL;  -- the owner lacks pg_signal_backend: nothing is ended
                    END;
                END IF;
            END LOOP;
            RETURN v_ended;
        END $$""",
        f"""CREATE OR REPLACE FUNCTION sjr_audit_lock() RETURNS void
        LANGUAGE plpgsql {definer} AS $$
        BEGIN
            PERFORM sjr_audit_unlock_tables();
            PERFORM 1 FROM audit_head WHERE id = 1 FOR UPDATE SKIP LOCKED;
            IF NOT FOUND THEN
                PERFORM sjr_audit_unstall('audit_head');
            END IF;
            PERFORM sjr_audit_lock_held();  -- waits for the head (lock_timeout), then flushes
        END $$""",
        f"""CREATE OR REPLACE FUNCTION sjr_audit_enqueue(
            p_username text, p_role text, p_action text, p_scope text, p_rows integer,
            p_approval_id text, p_tool text) RETURNS integer
        LANGUAGE plpgsql {definer} AS $$
        BEGIN
            PERFORM sjr_audit_unlock_tables();
            PERFORM 1 FROM audit_queue_head WHERE id = 1 FOR UPDATE SKIP LOCKED;
            IF NOT FOUND THEN
                PERFORM sjr_audit_unstall('audit_queue_head');
            END IF;
            RETURN sjr_audit_enqueue_held(p_username, p_role, p_action, p_scope, p_rows,
                                          p_approval_id, p_tool);
        END $$""",
    ]


def _old_functions(definer: str) -> list[str]:
    """Revision 0013's lock and enqueue (its unstall is restored by re-running 0013's text)."""
    return [
        f"""CREATE OR REPLACE FUNCTION sjr_audit_lock() RETURNS void
        LANGUAGE plpgsql {definer} AS $$
        BEGIN
            BEGIN
                PERFORM 1 FROM audit_head WHERE id = 1 FOR UPDATE NOWAIT;
            EXCEPTION WHEN lock_not_available THEN
                PERFORM sjr_audit_unstall('audit_head');
            END;
            PERFORM sjr_audit_lock_held();
            PERFORM pg_advisory_xact_lock_shared({_MARK}, 1);
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
            PERFORM pg_advisory_xact_lock_shared({_MARK}, 2);
            RETURN v_seq;
        END $$""",
    ]


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
    for statement in _functions(definer):
        op.execute(statement)
    op.execute("REVOKE ALL ON FUNCTION sjr_audit_unlock_tables() FROM PUBLIC")


def downgrade() -> None:
    definer = _definer()
    if definer is None:
        return
    for statement in _old_functions(definer):
        op.execute(statement)
    op.execute("DROP FUNCTION IF EXISTS sjr_audit_unlock_tables()")
    # sjr_audit_unstall keeps this revision's body: it finds whatever 0013's found, and more
