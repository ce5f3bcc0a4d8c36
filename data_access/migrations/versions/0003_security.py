"""security: per-person database roles, row-level security from the role, database-chained audit

Revision ID: 0003_security
Revises: 0002_governance

Both engines: ``users.db_role`` (nullable, unique), the PostgreSQL role a person logs in as.

On PostgreSQL only (SQLite is the single-user store: whoever opens the file holds it):

- group roles ``sjr_person`` (NOLOGIN; every person's own LOGIN role is a member, created by
  ``sjr_user_add``) and ``sjr_service`` (NOLOGIN; a service's login role, e.g. the extract
  service, is made a member by the operator). Roles are cluster-wide: created only when missing.
- row-level security that decides from ``session_user`` and the ``users`` table, never from a
  setting: the enabled person whose ``db_role`` is ``session_user`` gets programme team: every
  organisation, read only; organisation lead: their organisation, read and write (may lock);
  reviewer: their own reviews at their organisation (written, never locked) and that
  organisation's open second-stage queue items (read only); researcher, administrator: no
  review or death rows. Only members of ``sjr_service`` still scope themselves with
  ``sjr.organisations`` / ``sjr.all_organisations`` (the access layer's service path). Covers
  ``reviews``, ``phase_assessments``, ``problems``, ``review_reasons``, ``deaths``,
  ``reviewers`` and, for reading, ``users`` (a person's own row; every row for an
  administrator), ``approvals`` (administrators; a researcher's own) and ``audit_log``
  (administrators). Owners and superusers bypass row-level security (not FORCEd): the operator.
- person roles get no write privilege on ``users``, ``approvals``, ``approval_secrets``,
  ``audit_log``, ``audit_head`` and no read privilege on ``approval_secrets``. They change them
  only through SECURITY DEFINER functions owned by the owner:
  ``sjr_audit_lock()``, ``sjr_audit_append(...)`` (the database computes id, time, who and
  hash: a person's entry always names that person), ``sjr_user_add``, ``sjr_user_set_disabled``,
  ``sjr_approval_add``, ``sjr_approval_revoke`` (an enabled administrator person, the owner, or a
  service acting for an enabled administrator; each audits itself). Creating and altering LOGIN
  roles needs the owner to hold CREATEROLE (``docs/security-postgresql.md``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_security"
down_revision = "0002_governance"
branch_labels = None
depends_on = None

_REVIEW_TABLES = ("reviews", "phase_assessments", "problems", "review_reasons")
_CHILD_TABLES = ("phase_assessments", "problems", "review_reasons")
_RLS_TABLES = ("reviews", "phase_assessments", "problems", "review_reasons", "deaths")
_GOVERNANCE_RLS = ("users", "approvals", "audit_log", "reviewers")
_PERSON = "SELECT u.* FROM users u WHERE u.db_role = session_user::text AND NOT u.disabled"

_GROUPS = """
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sjr_person') THEN
        BEGIN CREATE ROLE sjr_person NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sjr_service') THEN
        BEGIN CREATE ROLE sjr_service NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO sjr_person, sjr_service',
                   current_database());
END $$"""


def _functions(path: str) -> list[str]:
    """The functions, each with ``SET search_path`` pinned to the store's schema."""
    definer = f"SECURITY DEFINER SET search_path = {path}"
    invoker = f"SET search_path = {path}"
    return [
        # -- who is connected -----------------------------------------------------------------
        f"""CREATE OR REPLACE FUNCTION sjr_is_service() RETURNS boolean
        LANGUAGE sql STABLE {definer} AS $$
            SELECT pg_has_role(session_user, 'sjr_service', 'MEMBER')
               AND NOT EXISTS (SELECT 1 FROM users WHERE db_role = session_user::text)
        $$""",
        f"""CREATE OR REPLACE FUNCTION sjr_is_administrator() RETURNS boolean
        LANGUAGE sql STABLE {definer} AS $$
            SELECT EXISTS ({_PERSON} AND u.role = 'administrator')
        $$""",
        # the person connected (NULL for anyone else); policies call these once per statement
        f"""CREATE OR REPLACE FUNCTION sjr_person_role() RETURNS text
        LANGUAGE sql STABLE {definer} AS $$ SELECT u.role FROM ({_PERSON}) u $$""",
        f"""CREATE OR REPLACE FUNCTION sjr_person_organisation() RETURNS text
        LANGUAGE sql STABLE {definer} AS $$ SELECT u.organisation_code FROM ({_PERSON}) u $$""",
        f"""CREATE OR REPLACE FUNCTION sjr_person_reviewer() RETURNS text
        LANGUAGE sql STABLE {definer} AS $$ SELECT u.reviewer_id FROM ({_PERSON}) u $$""",
        # -- reviews: by the row's own values (reveals nothing but the caller's rights) ------
        f"""CREATE OR REPLACE FUNCTION sjr_reads_review(p_org text, p_reviewer text)
        RETURNS boolean LANGUAGE sql STABLE {definer} AS $$
            SELECT coalesce((SELECT CASE u.role
                WHEN 'programme_team' THEN true
                WHEN 'organisation_lead' THEN u.organisation_code = p_org
                WHEN 'reviewer' THEN u.organisation_code = p_org AND u.reviewer_id = p_reviewer
                ELSE false END FROM ({_PERSON}) u), false)
        $$""",
        f"""CREATE OR REPLACE FUNCTION sjr_writes_review(p_org text, p_reviewer text,
                                                         p_status text)
        RETURNS boolean LANGUAGE sql STABLE {definer} AS $$
            SELECT coalesce((SELECT u.organisation_code = p_org AND (
                    u.role = 'organisation_lead'
                    OR (u.role = 'reviewer' AND u.reviewer_id = p_reviewer
                        AND p_status IS DISTINCT FROM 'locked'))
                FROM ({_PERSON}) u), false)
        $$""",
        # an open second-stage queue item of the reviewer's organisation (read by id)
        f"""CREATE OR REPLACE FUNCTION sjr_queue_item(p_review_id text)
        RETURNS boolean LANGUAGE sql STABLE {definer} AS $$
            SELECT coalesce((SELECT true FROM ({_PERSON}) u JOIN reviews r
                ON r.review_id = p_review_id AND r.organisation_code = u.organisation_code
                WHERE u.role = 'reviewer' AND r.review_stage = 'first'
                  AND r.status IN ('submitted', 'locked')
                  AND EXISTS (SELECT 1 FROM phase_assessments p WHERE p.review_id = r.review_id
                              AND p.phase = 'overall' AND p.score IN (1, 2))
                  AND NOT EXISTS (SELECT 1 FROM reviews s WHERE s.second_review_of = r.review_id
                                  AND s.review_stage = 'second'
                                  AND s.reviewer_id IS DISTINCT FROM u.reviewer_id)), false)
        $$""",
        f"""CREATE OR REPLACE FUNCTION sjr_reads_review_id(p_review_id text)
        RETURNS boolean LANGUAGE sql STABLE {definer} AS $$
            SELECT coalesce((SELECT sjr_reads_review(r.organisation_code, r.reviewer_id)
                             FROM reviews r WHERE r.review_id = p_review_id), false)
                OR sjr_queue_item(p_review_id)
        $$""",
        f"""CREATE OR REPLACE FUNCTION sjr_writes_review_id(p_review_id text)
        RETURNS boolean LANGUAGE sql STABLE {definer} AS $$
            SELECT coalesce((SELECT sjr_writes_review(r.organisation_code, r.reviewer_id,
                                                      r.status)
                             FROM reviews r WHERE r.review_id = p_review_id), false)
        $$""",
        # -- deaths, reviewers ----------------------------------------------------------------
        f"""CREATE OR REPLACE FUNCTION sjr_reads_deaths(p_org text)
        RETURNS boolean LANGUAGE sql STABLE {definer} AS $$
            SELECT coalesce((SELECT u.role = 'programme_team' OR (
                    u.role = 'organisation_lead' AND u.organisation_code = p_org)
                FROM ({_PERSON}) u), false)
        $$""",
        f"""CREATE OR REPLACE FUNCTION sjr_leads(p_org text)
        RETURNS boolean LANGUAGE sql STABLE {definer} AS $$
            SELECT EXISTS ({_PERSON} AND u.role = 'organisation_lead'
                           AND u.organisation_code = p_org)
        $$""",
        f"""CREATE OR REPLACE FUNCTION sjr_reads_reviewer(p_reviewer text, p_org text)
        RETURNS boolean LANGUAGE sql STABLE {definer} AS $$
            SELECT coalesce((SELECT CASE u.role
                WHEN 'programme_team' THEN true
                WHEN 'organisation_lead' THEN u.organisation_code = p_org OR EXISTS (
                    SELECT 1 FROM reviews r WHERE r.reviewer_id = p_reviewer
                    AND r.organisation_code = u.organisation_code)
                WHEN 'reviewer' THEN u.reviewer_id = p_reviewer
                ELSE false END FROM ({_PERSON}) u), false)
        $$""",
        f"""CREATE OR REPLACE FUNCTION sjr_writes_reviewer(p_reviewer text, p_org text)
        RETURNS boolean LANGUAGE sql STABLE {definer} AS $$
            SELECT coalesce((SELECT u.organisation_code = p_org AND (
                    u.role = 'organisation_lead'
                    OR (u.role = 'reviewer' AND u.reviewer_id = p_reviewer))
                FROM ({_PERSON}) u), false)
        $$""",
        # -- governance tables ----------------------------------------------------------------
        f"""CREATE OR REPLACE FUNCTION sjr_reads_user(p_db_role text)
        RETURNS boolean LANGUAGE sql STABLE {definer} AS $$
            SELECT p_db_role = session_user::text OR sjr_is_administrator()
        $$""",
        f"""CREATE OR REPLACE FUNCTION sjr_reads_approval(p_applicants text)
        RETURNS boolean LANGUAGE sql STABLE {definer} AS $$
            SELECT coalesce((SELECT u.role = 'administrator' OR (
                    u.role = 'researcher' AND p_applicants::jsonb ? u.username)
                FROM ({_PERSON}) u), false)
        $$""",
        # -- the audit chain, written by the database -----------------------------------------
        f"""CREATE OR REPLACE FUNCTION sjr_json(v text) RETURNS text
        LANGUAGE sql IMMUTABLE {invoker} AS $$ SELECT coalesce(to_json(v)::text, 'null') $$""",
        f"""CREATE OR REPLACE FUNCTION sjr_audit_lock() RETURNS void
        LANGUAGE plpgsql {definer} AS $$
        BEGIN
            PERFORM 1 FROM audit_head WHERE id = 1 FOR UPDATE;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'the audit chain head is missing: restore audit_head';
            END IF;
        END $$""",
        f"""CREATE OR REPLACE FUNCTION sjr_audit_append(
            p_username text, p_role text, p_action text, p_scope text, p_rows integer,
            p_approval_id text, p_tool text) RETURNS integer
        LANGUAGE plpgsql {definer} AS $$
        DECLARE
            v_name text; v_role text; v_id integer; v_prev text; v_at text; v_hash text;
            v_content text;
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
            SELECT last_id + 1, last_hash INTO v_id, v_prev FROM audit_head WHERE id = 1
               FOR UPDATE;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'the audit chain head is missing: restore audit_head';
            END IF;
            v_at := to_char(clock_timestamp() AT TIME ZONE 'UTC',
                             'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00';
            -- data_access.audit.entry_hash: sorted keys, no spaces, non-ASCII as is
            v_content := '{{"action":' || sjr_json(p_action)
                || ',"approval_id":' || sjr_json(p_approval_id)
                || ',"at":' || sjr_json(v_at)
                || ',"id":' || v_id::text
                || ',"role":' || sjr_json(v_role)
                || ',"rows":' || coalesce(p_rows::text, 'null')
                || ',"scope":' || sjr_json(p_scope)
                || ',"tool":' || sjr_json(p_tool)
                || ',"username":' || sjr_json(v_name) || '}}';
            v_hash := encode(sha256(convert_to(v_prev || v_content, 'UTF8')), 'hex');
            INSERT INTO audit_log (id, at, username, role, action, scope, rows, approval_id,
                                   tool, prev_hash, entry_hash)
            VALUES (v_id, v_at, v_name, v_role, p_action, p_scope, p_rows, p_approval_id,
                    p_tool, v_prev, v_hash);
            UPDATE audit_head SET last_id = v_id, last_hash = v_hash WHERE id = 1;
            RETURN v_id;
        END $$""",
        # -- administration -------------------------------------------------------------------
        # The acting administrator: the enabled administrator person connected; the owner or a
        # superuser (the operator) acting for anyone; a service acting for an enabled
        # administrator. Anyone else is refused.
        f"""CREATE OR REPLACE FUNCTION sjr_administrator(p_acting text) RETURNS text
        LANGUAGE plpgsql STABLE {definer} AS $$
        DECLARE v_name text; v_role text; v_disabled boolean;
        BEGIN
            SELECT username, role, disabled INTO v_name, v_role, v_disabled FROM users
             WHERE db_role = session_user::text;
            IF FOUND THEN
                IF v_role <> 'administrator' OR v_disabled THEN
                    RAISE EXCEPTION 'only an enabled administrator manages users and approvals'
                        USING ERRCODE = 'insufficient_privilege';
                END IF;
                RETURN v_name;
            END IF;
            IF session_user::text = current_user::text OR coalesce(
                    (SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false) THEN
                RETURN p_acting;
            END IF;
            IF NOT pg_has_role(session_user, 'sjr_person', 'MEMBER')
                    AND pg_has_role(session_user, 'sjr_service', 'MEMBER')
                    AND EXISTS (SELECT 1 FROM users WHERE username = p_acting
                                AND role = 'administrator' AND NOT disabled) THEN
                RETURN p_acting;
            END IF;
            RAISE EXCEPTION 'only an enabled administrator manages users and approvals'
                USING ERRCODE = 'insufficient_privilege';
        END $$""",
        f"""CREATE OR REPLACE FUNCTION sjr_user_add(
            p_acting text, p_username text, p_role text, p_organisation text,
            p_reviewer_id text, p_db_role text, p_tool text) RETURNS void
        LANGUAGE plpgsql {definer} AS $$
        DECLARE v_admin text := sjr_administrator(p_acting);
        BEGIN
            IF p_db_role IS NULL OR p_db_role !~ '^sjr_[a-z0-9_]{{1,59}}$' THEN
                RAISE EXCEPTION 'a database role for a person is sjr_ and up to 59 of a-z, 0-9, _';
            END IF;
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_db_role) THEN
                RAISE EXCEPTION 'the database role % exists already', p_db_role;
            END IF;
            IF EXISTS (SELECT 1 FROM users WHERE username = p_username) THEN
                RAISE EXCEPTION 'user % already exists', p_username;
            END IF;
            INSERT INTO users (username, role, organisation_code, reviewer_id, disabled, db_role)
            VALUES (p_username, p_role, p_organisation, p_reviewer_id, false, p_db_role);
            EXECUTE format('CREATE ROLE %I LOGIN IN ROLE sjr_person', p_db_role);
            PERFORM sjr_audit_append(v_admin, 'administrator', 'users.add',
                jsonb_build_object('username', p_username, 'role', p_role,
                                   'organisation_code', p_organisation,
                                   'db_role', p_db_role)::text, 1, NULL, p_tool);
        END $$""",
        # a user registered without a role (before this revision, or by the bootstrap)
        f"""CREATE OR REPLACE FUNCTION sjr_user_login(
            p_acting text, p_username text, p_db_role text, p_tool text) RETURNS void
        LANGUAGE plpgsql {definer} AS $$
        DECLARE v_admin text := sjr_administrator(p_acting); v_disabled boolean;
        BEGIN
            IF p_db_role IS NULL OR p_db_role !~ '^sjr_[a-z0-9_]{{1,59}}$' THEN
                RAISE EXCEPTION 'a database role for a person is sjr_ and up to 59 of a-z, 0-9, _';
            END IF;
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_db_role) THEN
                RAISE EXCEPTION 'the database role % exists already', p_db_role;
            END IF;
            UPDATE users SET db_role = p_db_role WHERE username = p_username
               AND db_role IS NULL RETURNING disabled INTO v_disabled;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'no user % without a database role', p_username;
            END IF;
            EXECUTE format('CREATE ROLE %I ' || CASE WHEN v_disabled THEN 'NOLOGIN'
                           ELSE 'LOGIN' END || ' IN ROLE sjr_person', p_db_role);
            PERFORM sjr_audit_append(v_admin, 'administrator', 'users.login',
                jsonb_build_object('username', p_username, 'db_role', p_db_role)::text, 1,
                NULL, p_tool);
        END $$""",
        f"""CREATE OR REPLACE FUNCTION sjr_user_set_disabled(
            p_acting text, p_username text, p_disabled boolean, p_tool text) RETURNS void
        LANGUAGE plpgsql {definer} AS $$
        DECLARE v_admin text := sjr_administrator(p_acting); v_db_role text;
        BEGIN
            IF p_disabled AND p_username = v_admin THEN
                RAISE EXCEPTION 'an administrator cannot disable themselves';
            END IF;
            UPDATE users SET disabled = p_disabled WHERE username = p_username
            RETURNING db_role INTO v_db_role;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'no user %', p_username;
            END IF;
            IF v_db_role IS NOT NULL AND EXISTS (SELECT 1 FROM pg_roles
                                                 WHERE rolname = v_db_role) THEN
                EXECUTE format('ALTER ROLE %I ' || CASE WHEN p_disabled THEN 'NOLOGIN'
                               ELSE 'LOGIN' END, v_db_role);
            END IF;
            PERFORM sjr_audit_append(v_admin, 'administrator',
                CASE WHEN p_disabled THEN 'users.disable' ELSE 'users.enable' END,
                jsonb_build_object('username', p_username)::text, 1, NULL, p_tool);
        END $$""",
        f"""CREATE OR REPLACE FUNCTION sjr_approval_add(
            p_acting text, p_id text, p_applicants text, p_purpose text, p_organisations text,
            p_period_start text, p_period_end text, p_fields text, p_free_text boolean,
            p_coarsening text, p_start_date date, p_end_date date, p_k integer,
            p_deaths boolean, p_tool text) RETURNS void
        LANGUAGE plpgsql {definer} AS $$
        DECLARE v_admin text := sjr_administrator(p_acting); v_bad text;
        BEGIN
            IF EXISTS (SELECT 1 FROM approvals WHERE approval_id = p_id) THEN
                RAISE EXCEPTION 'approval % already exists', p_id;
            END IF;
            SELECT string_agg(o, ', ') INTO v_bad FROM jsonb_array_elements_text(
                p_organisations::jsonb) o WHERE o NOT IN (SELECT code FROM organisations);
            IF v_bad IS NOT NULL THEN
                RAISE EXCEPTION 'approval %: unknown organisation(s) %', p_id, v_bad;
            END IF;
            SELECT string_agg(a, ', ') INTO v_bad FROM jsonb_array_elements_text(
                p_applicants::jsonb) a WHERE a NOT IN (SELECT username FROM users
                                                       WHERE role = 'researcher');
            IF v_bad IS NOT NULL THEN
                RAISE EXCEPTION 'approval %: applicant(s) % are not registered researchers',
                    p_id, v_bad;
            END IF;
            EXECUTE 'INSERT INTO approvals (approval_id, applicants, purpose, organisations, '
                'period_start, period_end, fields, free_text, date_coarsening, start_date, '
                'end_date, status' || CASE WHEN p_k IS NULL THEN '' ELSE ', k, deaths' END
                || ') VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, ''active'''
                || CASE WHEN p_k IS NULL THEN '' ELSE ', $12, $13' END || ')'
            USING p_id, p_applicants, p_purpose, p_organisations, p_period_start,
                  p_period_end, p_fields, p_free_text, p_coarsening, p_start_date, p_end_date,
                  p_k, p_deaths;
            PERFORM sjr_audit_append(v_admin, 'administrator', 'approvals.add',
                jsonb_build_object('approval', p_id)::text, 1, p_id, p_tool);
        END $$""",
        f"""CREATE OR REPLACE FUNCTION sjr_approval_revoke(
            p_acting text, p_id text, p_reason text, p_tool text) RETURNS void
        LANGUAGE plpgsql {definer} AS $$
        DECLARE v_admin text := sjr_administrator(p_acting);
        BEGIN
            UPDATE approvals SET status = 'revoked', revoked_at = now(),
                   revoked_reason = p_reason
             WHERE approval_id = p_id AND status = 'active';
            IF NOT FOUND THEN
                IF EXISTS (SELECT 1 FROM approvals WHERE approval_id = p_id) THEN
                    RAISE EXCEPTION 'approval % is already revoked', p_id;
                END IF;
                RAISE EXCEPTION 'no approval %', p_id;
            END IF;
            PERFORM sjr_audit_append(v_admin, 'administrator', 'approvals.revoke',
                jsonb_build_object('approval', p_id, 'reason', p_reason)::text, 1, p_id,
                p_tool);
        END $$""",
    ]


_GUARDED = (
    "sjr_audit_lock()",
    "sjr_audit_append(text, text, text, text, integer, text, text)",
    "sjr_administrator(text)",
    "sjr_user_add(text, text, text, text, text, text, text)",
    "sjr_user_set_disabled(text, text, boolean, text)",
    "sjr_user_login(text, text, text, text)",
    "sjr_approval_add(text, text, text, text, text, text, text, text, boolean, text, date, "
    "date, integer, boolean, text)",
    "sjr_approval_revoke(text, text, text, text)",
)
"""Functions only persons and services may call (the predicates of the policies stay public:
they answer only about the caller's own rights)."""

_ALL_FUNCTIONS = _GUARDED + (
    "sjr_is_service()", "sjr_is_administrator()", "sjr_person_role()",
    "sjr_person_organisation()", "sjr_person_reviewer()", "sjr_reads_review(text, text)",
    "sjr_writes_review(text, text, text)", "sjr_queue_item(text)", "sjr_reads_review_id(text)",
    "sjr_writes_review_id(text)", "sjr_reads_deaths(text)", "sjr_leads(text)",
    "sjr_reads_reviewer(text, text)", "sjr_writes_reviewer(text, text)",
    "sjr_reads_user(text)", "sjr_reads_approval(text)", "sjr_json(text)",
)


_ROLE = "(SELECT sjr_person_role())"
_ORG = "(SELECT sjr_person_organisation())"
_REVIEWER = "(SELECT sjr_person_reviewer())"
_SERVICE = "(SELECT sjr_is_service())"
"""Uncorrelated scalar subqueries: PostgreSQL evaluates each once per statement (an InitPlan),
so a policy costs a comparison per row, not a lookup of the person per row."""


def _policies() -> list[str]:
    # The service path: revision 0002's settings (sjr_organisation_visible), for sjr_service
    # members only.
    service = f"{_SERVICE} AND sjr_organisation_visible(organisation_code)"
    review_read = (f"{_ROLE} = 'programme_team' OR (organisation_code = {_ORG} AND ("
                   f"{_ROLE} = 'organisation_lead' OR ({_ROLE} = 'reviewer' AND ("
                   f"reviewer_id = {_REVIEWER} OR sjr_queue_item(review_id)))))")
    review_write = "sjr_writes_review(organisation_code, reviewer_id, status)"
    statements = [f"DROP POLICY IF EXISTS organisation_isolation ON {t}" for t in _RLS_TABLES]
    statements += _person_policies("reviews", service, review_read, review_write, review_write,
                                   delete=f"{_ROLE} = 'organisation_lead' "
                                          f"AND organisation_code = {_ORG}")
    for table in _CHILD_TABLES:
        # a child row is visible exactly when its review is (the subquery is under the
        # reviews policies of whoever asks: service or person alike)
        parent = f"EXISTS (SELECT 1 FROM reviews r WHERE r.review_id = {table}.review_id)"
        write = "sjr_writes_review_id(review_id)"
        statements += [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"CREATE POLICY service_scope ON {table} USING ({_SERVICE} AND {parent}) "
            f"WITH CHECK ({_SERVICE} AND {parent})",
            f"CREATE POLICY person_read ON {table} FOR SELECT USING ({_ROLE} IS NOT NULL AND "
            f"{parent})",
            f"CREATE POLICY person_insert ON {table} FOR INSERT WITH CHECK ({write})",
            f"CREATE POLICY person_update ON {table} FOR UPDATE USING ({write}) "
            f"WITH CHECK ({write})",
            f"CREATE POLICY person_delete ON {table} FOR DELETE USING ({write})",
        ]
    deaths_read = (f"{_ROLE} = 'programme_team' OR ({_ROLE} = 'organisation_lead' "
                   f"AND organisation_code = {_ORG})")
    deaths_write = f"{_ROLE} = 'organisation_lead' AND organisation_code = {_ORG}"
    statements += _person_policies("deaths", service, deaths_read, deaths_write, deaths_write)
    statements += _person_policies(
        "reviewers", _SERVICE,
        "sjr_reads_reviewer(reviewer_id, organisation_code)",
        "sjr_writes_reviewer(reviewer_id, organisation_code)",
        "sjr_writes_reviewer(reviewer_id, organisation_code)")
    for table, read in (("users", "sjr_reads_user(db_role)"),
                        ("approvals", "sjr_reads_approval(applicants)"),
                        ("audit_log", "(SELECT sjr_is_administrator())")):
        statements += [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"CREATE POLICY service_all ON {table} USING ({_SERVICE}) WITH CHECK ({_SERVICE})",
            f"CREATE POLICY person_read ON {table} FOR SELECT USING ({read})",
        ]
    return statements


def _person_policies(table: str, service: str, read: str, write: str, check: str, *,
                     delete: str | None = None) -> list[str]:
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"CREATE POLICY service_scope ON {table} USING ({service}) WITH CHECK ({service})",
        f"CREATE POLICY person_read ON {table} FOR SELECT USING ({read})",
        f"CREATE POLICY person_insert ON {table} FOR INSERT WITH CHECK ({check})",
        f"CREATE POLICY person_update ON {table} FOR UPDATE USING ({write}) WITH CHECK ({check})",
        f"CREATE POLICY person_delete ON {table} FOR DELETE USING ({delete or write})",
    ]


def _grants(schema: str) -> list[str]:
    data = ", ".join(("reviews", "phase_assessments", "problems", "review_reasons", "deaths",
                      "reviewers"))
    statements = [
        f"GRANT USAGE ON SCHEMA {schema} TO sjr_person, sjr_service",
        # nobody but the owner creates objects beside the store's (PostgreSQL 15's default; a
        # warning only when the owner does not own the schema)
        f"REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {data} TO sjr_person",
        "GRANT SELECT ON organisations, alembic_version, users, approvals, audit_log, "
        "audit_head TO sjr_person",
        "REVOKE ALL ON approval_secrets FROM sjr_person",
    ]
    for signature in _GUARDED:
        statements += [f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC",
                       f"GRANT EXECUTE ON FUNCTION {signature} TO sjr_person, sjr_service"]
    return statements


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("db_role", sa.String(length=63), nullable=True))
        batch.create_unique_constraint(op.f("uq_users_db_role"), ["db_role"])
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    schema = bind.execute(sa.text("SELECT quote_ident(current_schema())")).scalar_one()
    op.execute(_GROUPS)
    for statement in _functions(f"{schema}, pg_temp"):
        op.execute(statement)
    for statement in _policies():
        op.execute(statement)
    for statement in _grants(schema):
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table in (*_RLS_TABLES, "reviewers", "users", "approvals", "audit_log"):
            for policy in ("service_scope", "service_all", "person_read", "person_insert",
                           "person_update", "person_delete"):
                op.execute(f"DROP POLICY IF EXISTS {policy} ON {table}")
        for table in ("reviewers", "users", "approvals", "audit_log"):
            op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        op.execute("REVOKE ALL ON ALL TABLES IN SCHEMA "
                   f"{bind.execute(sa.text('SELECT quote_ident(current_schema())')).scalar_one()}"
                   " FROM sjr_person")
        for signature in _ALL_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {signature}")
        # back to revision 0002's policies (the group roles stay: other stores may use them)
        op.execute("""CREATE OR REPLACE FUNCTION sjr_organisation_visible(code text)
            RETURNS boolean LANGUAGE sql STABLE AS $$
            SELECT coalesce(current_setting('sjr.all_organisations', true), '') = 'on'
                OR code = ANY (string_to_array(
                       coalesce(current_setting('sjr.organisations', true), ''), ','))
            $$""")
        for table in _RLS_TABLES:
            condition = (f"EXISTS (SELECT 1 FROM reviews r WHERE r.review_id = {table}.review_id "
                         "AND sjr_organisation_visible(r.organisation_code))"
                         if table in _CHILD_TABLES
                         else "sjr_organisation_visible(organisation_code)")
            op.execute(f"CREATE POLICY organisation_isolation ON {table} "
                       f"USING ({condition}) WITH CHECK ({condition})")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("uq_users_db_role"), type_="unique")
        batch.drop_column("db_role")
