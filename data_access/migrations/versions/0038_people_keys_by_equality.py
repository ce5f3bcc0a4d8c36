"""user names and approval ids are unique through an equality-only (hash) constraint, so no
index lists them by ranges to every person (PostgreSQL)

Revision ID: 0038_people_keys_by_equality
Revises: 0037_ids_by_equality_only

``users`` and ``approvals`` are readable to every person's role (``sjr_person`` keeps
``SELECT`` there: each person reads their own row, a researcher the approvals naming them, an
administrator all), and row-level security filters rows after the scan that fetched them, so
a person's own range conditions went into their one-column B-tree primary keys ahead of the
policy (``docs/security.md``, still-open item 1). As a researcher's own role, ``SET
enable_seqscan = off; EXPLAIN ANALYZE SELECT 1 FROM approvals WHERE approval_id >= 'A' AND
approval_id < 'B'`` printed how many approvals hold ids in that range, whoever they name:
halving the range each time spelled out every approval id of the store, and the same on
``users`` every user name.

So, as revision ``0037_ids_by_equality_only`` did for the review data, each table of
:data:`KEYS` loses its primary key, and its key stays unique through an exclusion constraint
``EXCLUDE USING hash (key WITH =)``: a hash index answers ``=`` only, never a range. Nothing
points at either table (no foreign key needs a B-tree there), and every write of them goes
through the administrator's definer functions, which look a row up by ``=``. With no unique
B-tree index on a column that is never blank, both tables' ``REPLICA IDENTITY`` is ``FULL``
(the whole row identifies it to logical replication, if any is set up). ``users`` keeps
``uq_users_db_role``: the role names it lists by ranges are every role's to read in
``pg_roles`` anyway (item 7).

What stays open, said in ``docs/security.md``: ``=`` still answers (whether a name or an id one
guesses is in use), and a sequential scan's ``Rows Removed by Filter`` still gives how many
rows each table holds, as the statistics views do (item 6). SQLite is one person's store and
keeps its keys; the models keep them too (autogenerate does not compare primary keys).
"""

from __future__ import annotations

from alembic import op

revision = "0038_people_keys_by_equality"
down_revision = "0037_ids_by_equality_only"
branch_labels = None
depends_on = None

KEYS: dict[str, str] = {"users": "username", "approvals": "approval_id"}
"""Each table and the column its primary key was on."""

READ_POLICIES = {"users": "sjr_reads_user(text)", "approvals": "sjr_reads_approval(text)"}
"""The function of each table's person read policy."""
POLICY_COST = 0.01
"""Their planner cost: a hundredth of one comparison's (PostgreSQL's default for a function is
100 comparisons), so the policy is checked first on every row the scan reads."""


def exclusion(table: str) -> str:
    """The name of ``table``'s equality-only uniqueness constraint of its key."""
    return f"ex_{table}_{KEYS[table]}"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in KEYS.items():
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {exclusion(table)} "
                   f"EXCLUDE USING hash ({column} WITH =)")
        op.execute(f"ALTER TABLE {table} REPLICA IDENTITY FULL")
        op.execute(f"ALTER FUNCTION {READ_POLICIES[table]} COST {POLICY_COST}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in KEYS.items():
        op.execute(f"ALTER FUNCTION {READ_POLICIES[table]} COST 100")
        op.execute(f"ALTER TABLE {table} REPLICA IDENTITY DEFAULT")
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {exclusion(table)}")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({column})")
