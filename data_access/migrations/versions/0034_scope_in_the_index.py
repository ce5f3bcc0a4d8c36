"""a lead's or reviewer's scope is an index condition, so other organisations' rows are never
fetched for them (PostgreSQL); every index of the organisation-keyed review data leads with
``organisation_code``

Revision ID: 0034_scope_in_the_index
Revises: 0033_reader_group

Row-level security filters rows after the scan that fetched them, and ``EXPLAIN ANALYZE``
prints how many a scan fetched and how many the policy then removed. A person's own leakproof
conditions go into the index scan, ahead of the policy. As an organisation lead's own role,
``SET enable_seqscan = off; EXPLAIN ANALYZE SELECT 1 FROM reviews WHERE organisation_code =
'<another>' AND death_month = '2021-04'`` printed ``Rows Removed by Filter: 17``: another
organisation's exact review count that month (the insider audit of 2026-12-09, still-open item
1; revision 0033 closed it for researchers and administrators only). The read policies of
leads and reviewers are one ``OR`` over the roles, which no index can use.

So:

- a new cluster-wide ``NOLOGIN`` group, ``sjr_organisation_reader`` (:data:`GROUP`), whose
  members are the persons who read one organisation's data: organisation leads and reviewers
  (:data:`SCOPED_ROLES`). ``sjr_user_add``, ``sjr_user_login`` and
  ``sjr_person_reader_apply()`` (run here and by a restore) make their roles members, as
  revision 0033 does for ``sjr_reader``; ``users.role`` never changes, so membership needs no
  later change;
- on each table of :data:`TABLES` (the review data that carries ``organisation_code``) a
  ``RESTRICTIVE`` policy for that group alone, ``organisation_code = (SELECT
  sjr_person_organisation())``, for every command. The read and write policies are unchanged
  and still decide; this one is a plain conjunct, so the planner puts it into the index scan
  beside the person's own conditions (or, with the person's ``organisation_code = '<another>'``,
  decides from the two that no row can match and scans nothing). It takes nothing a lead or
  reviewer could read or write before: every policy of these tables already gives them their
  own organisation's rows only;
- every index of those tables leads with ``organisation_code``, except the one-column unique
  keys (``review_id``, ``id``, ``answer_id``, ``record_id``), which tell only whether a key
  exists (a person who may insert learns that anyway: ``docs/security.md``, still-open item 3):
  ``reviews (review_stage)``, ``(status)`` and ``(death_month)`` become ``(organisation_code,
  review_stage)`` and ``(organisation_code, status)`` (``(organisation_code, death_month)``
  already exists); the unique key of ``calibration_answers`` becomes ``(organisation_code,
  round_id, case_id, reviewer_id)``, and the primary key of ``calibration_round_members``
  ``(organisation_code, round_id, reviewer_id)``: the same sets, in an order whose first
  column the scope binds. The indexes change on SQLite too (one schema for both); SQLite has
  no roles and no policies.

The programme team is not a member: its policies give it every row of these tables. The
tables whose rows carry no ``organisation_code`` (a review's phases, problems, reasons,
referrals and theme codes; an action's themes and reviews) and ``reviewers`` (a lead reads the
reviewers who reviewed at their organisation, wherever first seen) are not covered: closing the
probe there needs the organisation in their keys (``docs/security.md``, still-open item 1).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from data_access.revisions import earlier_revision

revision = "0034_scope_in_the_index"
down_revision = "0033_reader_group"
branch_labels = None
depends_on = None

GROUP = "sjr_organisation_reader"
"""The NOLOGIN group of the persons who read one organisation's data."""

SCOPED_ROLES = ("organisation_lead", "reviewer")
"""The ``users.role`` values whose roles are members of :data:`GROUP`."""

TABLES = ("reviews", "deaths", "actions", "calibration_answers", "calibration_round_members",
          "training_records")
"""The review data whose rows carry ``organisation_code``, under the restrictive policy."""

POLICY = "organisation_scope"

_SCOPE = "organisation_code = (SELECT sjr_person_organisation())"

_GROUP_SQL = f"""
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{GROUP}') THEN
        BEGIN CREATE ROLE {GROUP} NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
    END IF;
END $$"""

_SCOPED = ", ".join(f"'{role}'" for role in SCOPED_ROLES)
_MEMBER = (f"IF (SELECT role FROM users WHERE username = p_username) IN ({_SCOPED}) THEN\n"
           f"                EXECUTE format('GRANT {GROUP} TO %I', p_db_role);\n"
           "            END IF;")

_REVIEW_INDEXES_OLD = (("review_stage",), ("status",), ("death_month",))
_REVIEW_INDEXES_NEW = (("organisation_code", "review_stage"), ("organisation_code", "status"))
_ANSWERS_KEY_OLD = ("round_id", "case_id", "organisation_code", "reviewer_id")
_ANSWERS_KEY_NEW = ("organisation_code", "round_id", "case_id", "reviewer_id")
_MEMBERS_KEY_OLD = ("round_id", "organisation_code", "reviewer_id")
_MEMBERS_KEY_NEW = ("organisation_code", "round_id", "reviewer_id")


def _user_functions(definer: str, *, member: bool) -> list[str]:
    """Revision 0033's ``sjr_user_add`` and ``sjr_user_login``, with (``member``) the
    :data:`GROUP` membership after its ``sjr_reader`` one."""
    old = earlier_revision("0033_reader_group")
    statements = old._user_functions(definer, member=True)
    if member:
        assert all(statement.count(old._MEMBER) == 1 for statement in statements)
        statements = [statement.replace(old._MEMBER, f"{old._MEMBER}\n            {_MEMBER}")
                      for statement in statements]
    return statements


def _apply(definer: str) -> str:
    """``sjr_person_reader_apply()``: revision 0033's loop for ``sjr_reader``, and the same for
    :data:`GROUP`; returns how many memberships it granted."""
    old = earlier_revision("0033_reader_group")
    body = old._apply(definer)
    loop_start = body.index("            FOR r IN")
    loop_end = body.index("END LOOP;") + len("END LOOP;")
    loop = body[loop_start:loop_end]
    scoped = (loop.replace(f"u.role IN ({old._READING})", f"u.role IN ({_SCOPED})")
              .replace(f"'{old.READER_GROUP}'", f"'{GROUP}'")
              .replace(f"GRANT {old.READER_GROUP} TO", f"GRANT {GROUP} TO"))
    assert scoped.count(GROUP) == 2 and old.READER_GROUP not in scoped
    return body[:loop_end] + "\n" + scoped + body[loop_end:]


def _definer() -> str | None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    schema = bind.execute(sa.text("SELECT quote_ident(current_schema())")).scalar_one()
    return f"SECURITY DEFINER SET search_path = {schema}, pg_temp"


def _index_name(columns: tuple[str, ...]) -> str:
    return op.f("ix_reviews_" + "_".join(columns))


def _answers_key(columns: tuple[str, ...]) -> str:
    # the naming convention's name; beyond PostgreSQL's 63 bytes SQLAlchemy shortens it with
    # a hash, the same way for the model's UniqueConstraint and here
    return op.f("uq_calibration_answers_" + "_".join(columns))


def _keys(answers: tuple[str, ...], answers_old: tuple[str, ...],
          members: tuple[str, ...]) -> None:
    with op.batch_alter_table("calibration_answers") as batch:
        batch.drop_constraint(_answers_key(answers_old), type_="unique")
        batch.create_unique_constraint(_answers_key(answers), list(answers))
    with op.batch_alter_table("calibration_round_members") as batch:
        batch.drop_constraint(op.f("pk_calibration_round_members"), type_="primary")
        batch.create_primary_key(op.f("pk_calibration_round_members"), list(members))


def upgrade() -> None:
    for columns in _REVIEW_INDEXES_OLD:
        op.drop_index(_index_name(columns), table_name="reviews")
    for columns in _REVIEW_INDEXES_NEW:
        op.create_index(_index_name(columns), "reviews", list(columns))
    _keys(_ANSWERS_KEY_NEW, _ANSWERS_KEY_OLD, _MEMBERS_KEY_NEW)
    definer = _definer()
    if definer is None:
        return
    op.execute(_GROUP_SQL)
    for statement in _user_functions(definer, member=True):
        op.execute(statement)
    op.execute(_apply(definer))
    op.execute("REVOKE ALL ON FUNCTION sjr_person_reader_apply() FROM PUBLIC")
    for table in TABLES:
        op.execute(f"CREATE POLICY {POLICY} ON {table} AS RESTRICTIVE FOR ALL TO {GROUP} "
                   f"USING ({_SCOPE}) WITH CHECK ({_SCOPE})")
    op.execute("SELECT sjr_person_reader_apply()")


def downgrade() -> None:
    definer = _definer()
    if definer is not None:
        for table in TABLES:
            op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
        old = earlier_revision("0033_reader_group")
        for statement in old._user_functions(definer, member=True):
            op.execute(statement)
        op.execute(old._apply(definer))
        op.execute("REVOKE ALL ON FUNCTION sjr_person_reader_apply() FROM PUBLIC")
    _keys(_ANSWERS_KEY_OLD, _ANSWERS_KEY_NEW, _MEMBERS_KEY_OLD)
    for columns in _REVIEW_INDEXES_NEW:
        op.drop_index(_index_name(columns), table_name="reviews")
    for columns in _REVIEW_INDEXES_OLD:
        op.create_index(_index_name(columns), "reviews", list(columns))
