"""a review's and an action's child rows carry their organisation, first in every key, so a
lead's or reviewer's scope is an index condition there too (PostgreSQL)

Revision ID: 0035_children_scope
Revises: 0034_scope_in_the_index

Revision 0034 put a lead's and a reviewer's organisation into every index scan of the tables
whose rows carry ``organisation_code``. The child rows of a review (its phase scores, problems,
reasons, referrals and theme codes) and of an action (its themes and reviews) were keyed by
``review_id`` or ``action_id`` alone, so as a lead's own role ``SET enable_seqscan = off;
EXPLAIN ANALYZE SELECT 1 FROM theme_codes WHERE review_id = '<another organisation's review>'
AND theme = 'sepsis'`` still printed, in ``Rows Removed by Filter``, which themes another
organisation's review was coded with (``docs/security.md``, still-open item 1).

So, on each table of :data:`CHILDREN`:

- a ``NOT NULL`` column ``organisation_code``, filled from the review (or action) the row
  belongs to;
- its keys lead with it: the primary key ``(organisation_code, review_id, phase)`` and so on;
  ``theme_codes``' unique key ``(organisation_code, review_id, theme, phase, coded_by)``
  (its one-column index on ``review_id`` goes: the unique key's first two columns serve);
  ``theme_codes``' primary key stays ``id``, a random id that tells nothing;
- its foreign key to its review becomes ``(organisation_code, review_id)`` to a new unique index
  of ``reviews`` on ``(organisation_code, review_id)`` (``action_id`` likewise to ``actions
  (organisation_code, id)``), ``ON DELETE CASCADE ON UPDATE CASCADE``: a child row's
  organisation is its review's, held by the database, and follows it. The one-column indexes
  ``reviews (organisation_code)`` and ``actions (organisation_code)`` go: the new unique
  indexes begin with the same column;
- on PostgreSQL, revision 0034's ``RESTRICTIVE`` policy ``organisation_scope`` for the group
  ``sjr_organisation_reader`` (leads and reviewers). It takes nothing they read or wrote
  before: every policy of these tables gives them rows of their own organisation's reviews and
  actions only.

Every writer of child rows fills the column (the bulk import, ``store.save_review``, theme
coding, actions). The keys change on SQLite too (one schema for both).

And ``sjr_analyse_review_tables(inserted)`` (:func:`_analyse_function`): an import through a
person's role has the review tables analysed, as their owner, when it grew them by half or
more; the owner's import calls it too.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0035_children_scope"
down_revision = "0034_scope_in_the_index"
branch_labels = None
depends_on = None

GROUP = "sjr_organisation_reader"
POLICY = "organisation_scope"
_SCOPE = "organisation_code = (SELECT sjr_person_organisation())"

ANALYSE = "sjr_analyse_review_tables(bigint)"
"""``ANALYZE`` of the review tables, for an import by a person's role (which owns no table):
see :func:`_analyse_function`."""

_ANALYSED = ("reviews", "phase_assessments", "problems", "review_reasons", "referrals")

_CODE_WIDTH = 16
"""Width of ``organisations.code`` (its column's type in revision 0001)."""

CHILDREN: dict[str, dict] = {
    "phase_assessments": {"parent": "reviews", "key": ("review_id", "phase")},
    "problems": {"parent": "reviews", "key": ("review_id", "problem_type")},
    "review_reasons": {"parent": "reviews", "key": ("review_id", "reason")},
    "referrals": {"parent": "reviews", "key": ("review_id", "referral_type")},
    "theme_codes": {"parent": "reviews", "key": ("id",),
                    "unique": ("review_id", "theme", "phase", "coded_by"),
                    "index": ("review_id",)},
    "action_themes": {"parent": "actions", "key": ("action_id", "theme")},
    "action_reviews": {"parent": "actions", "key": ("action_id", "review_id"),
                       "also": "reviews"},
}
"""Each child table: its parent (``reviews`` by ``review_id``, ``actions`` by ``action_id``),
its primary key before this revision (after it: ``organisation_code`` first, but for
``theme_codes``' ``id``), a unique key and an index to lead with the organisation, and
``action_reviews``' second parent."""

_PARENT_COLUMN = {"reviews": ("review_id", "review_id"), "actions": ("action_id", "id")}
"""A parent table: (the child's column, the parent's key column)."""

_OLD_PARENT_INDEX = {"reviews": "ix_reviews_organisation_code",
                     "actions": "ix_actions_organisation_code"}


def _parent_index(parent: str) -> str:
    _child, column = _PARENT_COLUMN[parent]
    return f"ix_{parent}_organisation_code_{column}"


def _fk_name(table: str, parent: str, *, new: bool) -> str:
    column = "organisation_code" if new else _PARENT_COLUMN[parent][0]
    return f"fk_{table}_{column}_{parent}"


def _parents(spec: dict) -> list[str]:
    return [spec["parent"], *([spec["also"]] if "also" in spec else [])]


def _column(*, nullable: bool) -> sa.Column:
    return sa.Column("organisation_code", sa.String(_CODE_WIDTH), nullable=nullable)


def _fill(table: str, spec: dict) -> None:
    child, key = _PARENT_COLUMN[spec["parent"]]
    parent = spec["parent"]
    op.execute(f"UPDATE {table} SET organisation_code = (SELECT p.organisation_code FROM "
               f"{parent} p WHERE p.{key} = {table}.{child})")


def _keys(table: str, spec: dict, *, new: bool, add_column: bool = False) -> None:
    """Drop ``table``'s keys of one shape and create the other's (``new``: leading with
    ``organisation_code``); ``add_column``: add that column first (an empty table: on SQLite
    the table is then made again once, not three times)."""
    lead = ("organisation_code",) if new else ()
    with op.batch_alter_table(table) as batch:
        if add_column:
            batch.add_column(_column(nullable=False))
        for parent in _parents(spec):
            batch.drop_constraint(_fk_name(table, parent, new=not new), type_="foreignkey")
        if "unique" in spec:
            old_unique = (() if new else ("organisation_code",)) + spec["unique"]
            batch.drop_constraint(f"uq_{table}_{'_'.join(old_unique)}", type_="unique")
        if spec["key"] != ("id",):
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(f"pk_{table}", [*lead, *spec["key"]])
        if "unique" in spec:
            unique = lead + spec["unique"]
            batch.create_unique_constraint(f"uq_{table}_{'_'.join(unique)}", list(unique))
        for parent in _parents(spec):
            child, key = _PARENT_COLUMN[parent]
            batch.create_foreign_key(
                _fk_name(table, parent, new=new), parent, [*lead, child],
                [*(("organisation_code",) if new else ()), key], ondelete="CASCADE",
                **({"onupdate": "CASCADE"} if new else {}))


def _refuse_links_across_organisations() -> None:
    """An action's link to a review of another organisation cannot keep a key to both: stop
    with their ids (nothing is changed) rather than drop them. Neither the access layer nor a
    person's role can make one (the insert policy and ``check_action`` refuse it); only the
    owner writing by hand could have."""
    crossing = op.get_bind().execute(sa.text(
        "SELECT l.action_id, l.review_id FROM action_reviews l "
        "JOIN actions a ON a.id = l.action_id JOIN reviews r ON r.review_id = l.review_id "
        "WHERE a.organisation_code <> r.organisation_code ORDER BY 1, 2")).all()
    if crossing:
        shown = "; ".join(f"action {a} -> review {r}" for a, r in crossing[:20])
        raise RuntimeError(
            f"{len(crossing)} action link(s) name a review of another organisation than the "
            f"action's: {shown}. Revision {revision} keys each link to both under one "
            "organisation; remove or correct these links (sjr actions update) and upgrade "
            "again. Nothing was changed.")


def _definer() -> str:
    schema = op.get_bind().execute(sa.text("SELECT quote_ident(current_schema())")).scalar_one()
    return f"SECURITY DEFINER SET search_path = {schema}, pg_temp"


def _analyse_function() -> str:
    """``sjr_analyse_review_tables(p_inserted)``: ``ANALYZE`` the review tables, as their owner,
    when an import of ``p_inserted`` new reviews grew them by half or more (or they were never
    analysed); returns whether it did. An import through a person's own role calls it before
    its commit (``bulk._analyse_grown``; it counts the transaction's own rows). Every scan of a
    lead's or reviewer's is an index scan on their organisation, and without statistics the
    planner took their rows for a row or two: a reviewer's first load after a first import was
    planned as a nested loop that ran for more than 18 minutes."""
    tables = ", ".join(_ANALYSED)
    return f"""
CREATE OR REPLACE FUNCTION {ANALYSE.replace("bigint", "p_inserted bigint")} RETURNS boolean
LANGUAGE plpgsql {_definer()} AS $$
DECLARE stored real;
BEGIN
    SELECT c.reltuples INTO stored FROM pg_class c WHERE c.oid = 'reviews'::regclass;
    IF p_inserted IS NULL OR p_inserted <= 0
       OR (stored >= 0 AND p_inserted < 0.5 * stored) THEN
        RETURN false;
    END IF;
    ANALYZE {tables};
    RETURN true;
END $$"""


def upgrade() -> None:
    _refuse_links_across_organisations()
    for parent in ("reviews", "actions"):
        op.create_index(_parent_index(parent), parent,
                        ["organisation_code", _PARENT_COLUMN[parent][1]], unique=True)
    for table, spec in CHILDREN.items():
        if "index" in spec:
            op.drop_index(f"ix_{table}_{'_'.join(spec['index'])}", table_name=table)
        if op.get_bind().execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first() is None:
            _keys(table, spec, new=True, add_column=True)  # a new store: nothing to fill
            continue
        with op.batch_alter_table(table) as batch:
            batch.add_column(_column(nullable=True))
        _fill(table, spec)
        with op.batch_alter_table(table) as batch:
            batch.alter_column("organisation_code", existing_type=sa.String(_CODE_WIDTH),
                               nullable=False)
        _keys(table, spec, new=True)
    for parent in ("reviews", "actions"):
        op.drop_index(_OLD_PARENT_INDEX[parent], table_name=parent)
    if op.get_bind().dialect.name == "postgresql":
        for table in CHILDREN:
            op.execute(f"CREATE POLICY {POLICY} ON {table} AS RESTRICTIVE FOR ALL TO {GROUP} "
                       f"USING ({_SCOPE}) WITH CHECK ({_SCOPE})")
        op.execute(_analyse_function())
        op.execute(f"REVOKE ALL ON FUNCTION {ANALYSE} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {ANALYSE} TO sjr_person, sjr_service")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {ANALYSE}")
        for table in CHILDREN:
            op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
    for parent in ("reviews", "actions"):
        op.create_index(_OLD_PARENT_INDEX[parent], parent, ["organisation_code"])
    for table, spec in CHILDREN.items():
        _keys(table, spec, new=False)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("organisation_code")
        if "index" in spec:
            op.create_index(f"ix_{table}_{'_'.join(spec['index'])}", table, list(spec["index"]))
    for parent in ("reviews", "actions"):
        op.drop_index(_parent_index(parent), table_name=parent)
