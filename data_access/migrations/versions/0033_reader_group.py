"""no privilege on the review data for the persons who read none of it (PostgreSQL)

Revision ID: 0033_reader_group
Revises: 0032_rounds_keep_answers

Row-level security filters rows after the scan that fetched them, and ``EXPLAIN ANALYZE``
prints how many the scan fetched and how many the policy then removed (``Rows Removed by
Filter``). A person's own leakproof conditions on an indexed column go into the index scan,
ahead of the policy. The insider audit of 2026-12-09 did it as a researcher's own role, who
reads no review row: ``SET enable_seqscan = off; EXPLAIN ANALYZE SELECT 1 FROM theme_codes
WHERE review_id = '...' AND theme = 'sepsis'`` printed ``Rows Removed by Filter: 2``, and the
same on ``reviews`` by organisation and month gave every organisation's exact review counts.
``EXPLAIN`` needs only ``SELECT``, and no setting turns it off.

A role without ``SELECT`` on a table gets "permission denied" for ``EXPLAIN`` (and any
statement) on it before anything is scanned. So the privileges that revisions 0003-0009 granted
to ``sjr_person`` on the tables where researchers and administrators read no row now go to a
new cluster-wide ``NOLOGIN`` group, ``sjr_reader``, made a member of which are exactly the
persons whose ``users.role`` reads some of those rows: the programme team, organisation leads
and reviewers (:data:`READING_ROLES`). Their privileges, and the policies, are unchanged.

- the tables (:data:`TABLES`, with the privileges each had): the reviews and their phases,
  problems, reasons and referrals; deaths; reviewers; theme codes; actions and their themes and
  reviews; calibration answers and round members; training records: every table whose read
  policy gives a researcher and an administrator no row. ``calibration_rounds``,
  ``codebook_versions``, ``trainers`` and ``training_cases`` stay with ``sjr_person`` (their read
  policies give every enabled person every row), as do ``users``, ``approvals``, the audit
  tables, ``organisations`` and ``store_meta``;
- ``sjr_reader`` is created if missing (roles are cluster-wide, as revision ``0003_security``
  does for ``sjr_person``) and kept on downgrade (other stores on the server may use it);
- ``sjr_user_add`` and ``sjr_user_login`` (revision ``0029_person_connection_limit``'s,
  otherwise unchanged) make the new role a member of ``sjr_reader`` when the user's role is a
  reading role; ``users.role`` never changes after ``sjr_user_add`` (no function, command or
  privilege changes it), so membership needs no later change;
- ``sjr_person_reader_apply()`` (owner only) makes every reading person's role of this store
  a member: run here for the existing roles and by a restore
  (:func:`data_access.backup.restore`), whose roles are created outside these functions.

A disabled reading person keeps the membership (their role is ``NOLOGIN`` and the policies give
them no row). On downgrade the grants go back to ``sjr_person``; the memberships are left as they
are (``sjr_reader`` then holds nothing in this store, and a restore beside this store on the
same server shares the roles). No policy, function body or trigger reading these tables runs
with the caller's privileges (every one is ``SECURITY DEFINER``), so nothing a researcher or
administrator calls reads them through their role. SQLite is one person's store (nothing
changes there).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from data_access.revisions import earlier_revision

revision = "0033_reader_group"
down_revision = "0032_rounds_keep_answers"
branch_labels = None
depends_on = None

READER_GROUP = "sjr_reader"
"""The NOLOGIN group whose members read (some) review data."""

READING_ROLES = ("programme_team", "organisation_lead", "reviewer")
"""The ``users.role`` values whose read policies give some rows of :data:`TABLES`."""

_ALL = "SELECT, INSERT, UPDATE, DELETE"
_NO_UPDATE = "SELECT, INSERT, DELETE"
TABLES: dict[str, str] = {
    "reviews": _ALL, "phase_assessments": _ALL, "problems": _ALL, "review_reasons": _ALL,
    "referrals": _ALL, "deaths": _ALL, "reviewers": _ALL, "theme_codes": _NO_UPDATE,
    "actions": _ALL, "action_themes": _NO_UPDATE, "action_reviews": _NO_UPDATE,
    "calibration_answers": _ALL, "calibration_round_members": _ALL, "training_records": _ALL,
}
"""The tables no researcher or administrator reads a row of, with what ``sjr_person`` held on
each (revisions 0003, 0006-0009)."""

_GROUP = f"""
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{READER_GROUP}') THEN
        BEGIN CREATE ROLE {READER_GROUP} NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
    END IF;
END $$"""

_READING = ", ".join(f"'{role}'" for role in READING_ROLES)
_MEMBER = (f"IF (SELECT role FROM users WHERE username = p_username) IN ({_READING}) THEN\n"
           f"                EXECUTE format('GRANT {READER_GROUP} TO %I', p_db_role);\n"
           "            END IF;")


def _user_functions(definer: str, *, member: bool) -> list[str]:
    """``sjr_user_add`` and ``sjr_user_login`` of revision 0029, with (``member``) the
    ``sjr_reader`` membership after the ``CONNECT`` grant."""
    old = earlier_revision("0029_person_connection_limit")
    statements = []
    for statement in old._functions(definer):
        if not any(f"FUNCTION {name}(" in statement for name in ("sjr_user_add",
                                                                 "sjr_user_login")):
            continue
        if member:
            assert statement.count(old._GRANT) == 1
            statement = statement.replace(old._GRANT, f"{old._GRANT}\n            {_MEMBER}")
        statements.append(statement)
    assert len(statements) == 2
    return statements


def _apply(definer: str) -> str:
    return f"""CREATE OR REPLACE FUNCTION sjr_person_reader_apply() RETURNS integer
        LANGUAGE plpgsql {definer} AS $$
        DECLARE v_changed integer := 0; r record;
        BEGIN
            FOR r IN SELECT p.rolname FROM users u JOIN pg_roles p ON p.rolname = u.db_role
                      WHERE u.role IN ({_READING})
                        AND NOT p.rolsuper AND p.rolname <> current_user
                        AND pg_has_role(p.oid, 'sjr_person', 'MEMBER')
                        AND NOT EXISTS (SELECT 1 FROM pg_auth_members m
                                         WHERE m.member = p.oid
                                           AND m.roleid = '{READER_GROUP}'::regrole)
                      ORDER BY p.rolname
            LOOP
                EXECUTE format('GRANT {READER_GROUP} TO %I', r.rolname);
                v_changed := v_changed + 1;
            END LOOP;
            RETURN v_changed;
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
    op.execute(_GROUP)
    for table, privileges in TABLES.items():
        op.execute(f"GRANT {privileges} ON {table} TO {READER_GROUP}")
        op.execute(f"REVOKE ALL ON {table} FROM sjr_person")
    for statement in _user_functions(definer, member=True):
        op.execute(statement)
    op.execute(_apply(definer))
    op.execute("REVOKE ALL ON FUNCTION sjr_person_reader_apply() FROM PUBLIC")
    op.execute("SELECT sjr_person_reader_apply()")


def downgrade() -> None:
    definer = _definer()
    if definer is None:
        return
    for statement in _user_functions(definer, member=False):
        op.execute(statement)
    op.execute("DROP FUNCTION IF EXISTS sjr_person_reader_apply()")
    for table, privileges in TABLES.items():
        op.execute(f"GRANT {privileges} ON {table} TO sjr_person")
        op.execute(f"REVOKE ALL ON {table} FROM {READER_GROUP}")
