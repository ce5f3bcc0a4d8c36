"""the audit chain's fallback ends only a possible holder, and reads take the chain in no savepoint

Revision ID: 0022_audit_holder_scope
Revises: 0021_review_written_mark

Revision ``0017_audit_holders`` finds whoever holds a head of the audit chain from the head's
``xmax`` through ``pg_locks``; when the head was locked in a savepoint that was then released,
that transaction id has no ``pg_locks`` row, and 0017 took every backend of the database with a
transaction id as a holder. The insider audit of 2026-12-06 (second round) had a reviewer take
the chain that way (as the access layer's read path did, ``data_access.audit._pg_lock_for_read``)
and a researcher's next audited call then ended a lead who was idle in a transaction of their
own, touching nothing of the chain. Now:

- the fallback takes as candidates only backends of this database whose top-level transaction
  id is as old as the locking one or older (a subtransaction's id is assigned after its
  parent's, so the holder is among them; a bystander whose transaction began later is not),
  and the ``pg_locks`` lookup is limited to backends of this database;
- the access layer's read path takes the chain through ``sjr_audit_try_lock(ms)``, which tries
  the head (``SKIP LOCKED``) for that long in the caller's own transaction, no savepoint: the
  product's own holds are always found through ``pg_locks``, and the fallback serves only a
  person who took the head in a savepoint on purpose.

SQLite is one person's store (nothing changes there).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_audit_holder_scope"
down_revision = "0021_review_written_mark"
branch_labels = None
depends_on = None

_NOT_ADMINISTRATOR = """pg_has_role({who}, 'sjr_person', 'MEMBER')
                   AND NOT coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = {who}), false)
                   AND NOT EXISTS (SELECT 1 FROM users u WHERE u.db_role = {who}::text
                                      AND u.role = 'administrator' AND NOT u.disabled)"""


def _unstall(definer: str, *, scoped: bool) -> str:
    if scoped:
        locks = """v_pids := ARRAY(SELECT l.pid FROM pg_locks l
                             JOIN pg_stat_activity a ON a.pid = l.pid
                             WHERE l.locktype = 'transactionid' AND l.granted
                               AND l.transactionid = ANY (v_xids)
                               AND a.datname = current_database()
                               AND l.pid <> pg_backend_pid());"""
        fallback = """v_pids := ARRAY(SELECT a.pid FROM pg_stat_activity a
                                 WHERE a.datname = current_database()
                                   AND a.backend_xid IS NOT NULL
                                   AND EXISTS (SELECT 1 FROM unnest(v_xids) x
                                                WHERE age(a.backend_xid) >= age(x))
                                   AND a.pid <> pg_backend_pid());"""
    else:
        locks = """v_pids := ARRAY(SELECT l.pid FROM pg_locks l
                             WHERE l.locktype = 'transactionid' AND l.granted
                               AND l.transactionid = ANY (v_xids)
                               AND l.pid <> pg_backend_pid());"""
        fallback = """v_pids := ARRAY(SELECT a.pid FROM pg_stat_activity a
                                 WHERE a.datname = current_database()
                                   AND a.backend_xid IS NOT NULL
                                   AND a.pid <> pg_backend_pid());"""
    return f"""CREATE OR REPLACE FUNCTION sjr_audit_unstall(p_head text) RETURNS integer
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
            {locks}
            IF cardinality(v_pids) = 0 THEN
                -- a released savepoint's transaction id has no pg_locks row: the holder is a
                -- backend of this database whose transaction began no later than that id
                {fallback}
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
        END $$"""


def _try_lock(definer: str) -> str:
    return f"""CREATE OR REPLACE FUNCTION sjr_audit_try_lock(p_wait_ms integer)
        RETURNS boolean LANGUAGE plpgsql {definer} AS $$
        DECLARE v_until timestamptz := clock_timestamp()
                                       + make_interval(secs => greatest(p_wait_ms, 0) / 1000.0);
                v_first boolean := true;
        BEGIN
            PERFORM sjr_audit_unlock_tables();
            IF NOT EXISTS (SELECT 1 FROM audit_head WHERE id = 1) THEN
                PERFORM sjr_audit_lock_held();  -- says the head is missing
            END IF;
            LOOP
                PERFORM 1 FROM audit_head WHERE id = 1 FOR UPDATE SKIP LOCKED;
                IF FOUND THEN
                    PERFORM sjr_audit_lock_held();  -- ours already: flushes the queue
                    RETURN true;
                END IF;
                IF v_first THEN
                    PERFORM sjr_audit_unstall('audit_head');
                    v_first := false;
                END IF;
                EXIT WHEN clock_timestamp() >= v_until;
                PERFORM pg_sleep(0.01);
            END LOOP;
            RETURN false;
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
    op.execute(_unstall(definer, scoped=True))
    op.execute(_try_lock(definer))
    op.execute("REVOKE ALL ON FUNCTION sjr_audit_try_lock(integer) FROM PUBLIC")
    op.execute("GRANT EXECUTE ON FUNCTION sjr_audit_try_lock(integer) TO sjr_person, sjr_service")


def downgrade() -> None:
    definer = _definer()
    if definer is None:
        return
    op.execute("DROP FUNCTION IF EXISTS sjr_audit_try_lock(integer)")
    op.execute(_unstall(definer, scoped=False))
