"""governance: users, approvals, approval secrets, hash-chained audit log, row-level security

Revision ID: 0002_governance
Revises: 0001_store

Besides the tables of :mod:`data_access.governance_models` this revision adds:

- triggers that make ``audit_log`` append-only (UPDATE and DELETE refused; TRUNCATE too on
  PostgreSQL). Someone with DDL rights can drop them: the hash chain is what then reveals
  tampering (``sjr audit verify``).
- on PostgreSQL only, row-level security for organisation isolation on ``reviews``,
  ``phase_assessments``, ``problems``, ``review_reasons`` and ``deaths``. A row is visible (and
  writable) when the transaction has set ``sjr.all_organisations = 'on'`` or its organisation is
  in the comma-separated ``sjr.organisations``; :func:`data_access.open_session` sets both with
  ``set_config(..., true)`` (``SET LOCAL``) at the start of every transaction. Policies bind
  roles that neither own the tables nor are superusers: the application connects as such a role
  (see ``docs/architecture.md``), migrations and imports run as the owner.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_governance"
down_revision = "0001_store"
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64
RLS_TABLES = ("reviews", "phase_assessments", "problems", "review_reasons", "deaths")
_CHILD_TABLES = ("phase_assessments", "problems", "review_reasons")

_VISIBLE_FUNCTION = """
CREATE OR REPLACE FUNCTION sjr_organisation_visible(code text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('sjr.all_organisations', true), '') = 'on'
        OR code = ANY (string_to_array(
               coalesce(current_setting('sjr.organisations', true), ''), ','))
$$
"""

_PG_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION sjr_audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("organisation_code", sa.String(length=16), nullable=True),
        sa.Column("reviewer_id", sa.String(length=64), nullable=True),
        sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.CheckConstraint(
            "role IN ('reviewer', 'organisation_lead', 'programme_team', 'researcher', "
            "'administrator')",
            name=op.f("ck_users_role"),
        ),
        sa.CheckConstraint(
            "role NOT IN ('reviewer', 'organisation_lead') OR organisation_code IS NOT NULL",
            name=op.f("ck_users_organisation_for_role"),
        ),
        sa.CheckConstraint("role <> 'reviewer' OR reviewer_id IS NOT NULL",
                           name=op.f("ck_users_reviewer_id_for_reviewer")),
        sa.ForeignKeyConstraint(["organisation_code"], ["organisations.code"],
                                name=op.f("fk_users_organisation_code_organisations")),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_users")),
    )
    op.create_table(
        "approvals",
        sa.Column("approval_id", sa.String(length=64), nullable=False),
        sa.Column("applicants", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("organisations", sa.Text(), nullable=False),
        sa.Column("period_start", sa.String(length=7), nullable=False),
        sa.Column("period_end", sa.String(length=7), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("free_text", sa.Boolean(), nullable=False),
        sa.Column("date_coarsening", sa.String(length=8), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.CheckConstraint("status IN ('active', 'revoked')", name=op.f("ck_approvals_status")),
        sa.CheckConstraint("date_coarsening IN ('month', 'quarter')",
                           name=op.f("ck_approvals_date_coarsening")),
        sa.CheckConstraint("end_date >= start_date", name=op.f("ck_approvals_dates")),
        sa.CheckConstraint("period_end >= period_start", name=op.f("ck_approvals_period")),
        sa.PrimaryKeyConstraint("approval_id", name=op.f("pk_approvals")),
    )
    op.create_table(
        "approval_secrets",
        sa.Column("approval_id", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["approval_id"], ["approvals.approval_id"], ondelete="CASCADE",
                                name=op.f("fk_approval_secrets_approval_id_approvals")),
        sa.PrimaryKeyConstraint("approval_id", name=op.f("pk_approval_secrets")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("approval_id", sa.String(length=64), nullable=True),
        sa.Column("tool", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.execute(
        sa.text("INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, 0, :h)").bindparams(
            h=GENESIS_HASH
        )
    )

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{operation.lower()} BEFORE {operation} "
                "ON audit_log BEGIN "
                f"SELECT RAISE(ABORT, 'the audit log is append-only: {operation} refused'); END"
            )
    elif dialect == "postgresql":
        op.execute(_PG_APPEND_ONLY)
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION sjr_audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION sjr_audit_log_append_only()"
        )
        _enable_row_level_security()


def _enable_row_level_security() -> None:
    op.execute(_VISIBLE_FUNCTION)
    for table in RLS_TABLES:
        if table in _CHILD_TABLES:
            condition = (
                f"EXISTS (SELECT 1 FROM reviews r WHERE r.review_id = {table}.review_id "
                "AND sjr_organisation_visible(r.organisation_code))"
            )
        else:
            condition = "sjr_organisation_visible(organisation_code)"
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY organisation_isolation ON {table} "
            f"USING ({condition}) WITH CHECK ({condition})"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in RLS_TABLES:
            op.execute(f"DROP POLICY IF EXISTS organisation_isolation ON {table}")
            op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        op.execute("DROP FUNCTION IF EXISTS sjr_organisation_visible(text)")
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS sjr_audit_log_append_only()")
    elif dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    op.drop_table("audit_head")
    op.drop_table("audit_log")
    op.drop_table("approval_secrets")
    op.drop_table("approvals")
    op.drop_table("users")
