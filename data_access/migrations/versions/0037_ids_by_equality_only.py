"""the ids of reviews, actions, theme codes, training records and calibration answers are
unique across organisations through an equality-only (hash) constraint, so no index lists
ids by ranges (PostgreSQL)

Revision ID: 0037_ids_by_equality_only
Revises: 0036_analyse_key_columns

Row-level security filters rows after the scan that fetched them, and ``EXPLAIN ANALYZE``
prints how many the scan fetched; a person's own leakproof conditions go into the index scan,
ahead of the policy (``docs/security.md``, still-open item 1). Revisions 0034 and 0035 made
every index of the organisation-keyed tables lead with ``organisation_code``, which a lead's
or reviewer's policy puts into every scan, except the one-column primary keys: ``reviews
(review_id)``, and the random ids of ``actions``, ``theme_codes``, ``training_records`` and
``calibration_answers``. A B-tree there answers ranges, so as
a lead's own role ``SET enable_seqscan = off; EXPLAIN ANALYZE SELECT 1 FROM reviews WHERE
review_id >= 'XB1-' AND review_id < 'XB1.'`` printed how many reviews every organisation holds
under ids in that range (the whole count of an organisation whose authors begin ids with its
code), and the same of the others gave their national totals.

So, on each table of :data:`KEYS`:

- the primary key on the id alone goes. The key of a row is the unique index
  ``(organisation_code, id)`` the child rows' keys point at (revision 0035; made here for
  the tables of :data:`MADE`, whose rows nothing points at), which also becomes the table's
  ``REPLICA IDENTITY``;
- an id stays unique across organisations through an exclusion constraint ``EXCLUDE USING
  hash (id WITH =)``: a hash index answers ``=`` only, never a range;
- ``reviews.second_review_of`` points at ``(organisation_code, review_id)`` with the review's
  own organisation (a second-stage review follows a first-stage review of its own
  organisation: the import's rules and revision 0030 said so already; the key needs a B-tree
  unique index, and the one-column one is gone).

What stays open, said in ``docs/security.md``: ``=`` is still answered by the hash index, so a
person still learns whether an id they name exists somewhere (as an ``INSERT`` under that id
tells them, still-open item 3), and for ids of a pattern they can guess (``XB1-0001``,
``XB1-0002``, ...), by naming them all in one ``= ANY(...)``, how many exist. The other ids
are random, so for them nothing is left to count.

SQLite is one person's store: nothing changes there, and the models keep its keys (the one
difference the models would see on PostgreSQL, ``second_review_of``'s key, is checked by
``tests/test_store.py``). A first import into an empty store keeps the exclusion constraint
of ``reviews`` while it writes, and analyses ``reviews``' key columns before it checks the keys
it built again at the end (``bulk._pg_keys_rebuilt``): without statistics, the checks of the
keys now pointing at ``(organisation_code, review_id)`` alone sorted the whole table each.
"""

from __future__ import annotations

from alembic import op

revision = "0037_ids_by_equality_only"
down_revision = "0036_analyse_key_columns"
branch_labels = None
depends_on = None

KEYS: dict[str, tuple[str, str]] = {
    "reviews": ("review_id", "ix_reviews_organisation_code_review_id"),
    "actions": ("id", "ix_actions_organisation_code_id"),
    "theme_codes": ("id", "ix_theme_codes_organisation_code_id"),
    "training_records": ("record_id", "ix_training_records_organisation_code_record_id"),
    "calibration_answers": ("answer_id", "ix_calibration_answers_organisation_code_answer_id"),
}
"""Each table's id column and the unique index ``(organisation_code, id)`` that keys it."""

MADE = ("theme_codes", "training_records", "calibration_answers")
"""The tables whose unique index ``(organisation_code, id)`` this revision makes (nothing
points at their rows; the others' index is revision 0035's)."""

_SECOND = "fk_reviews_second_review_of_reviews"


def exclusion(table: str) -> str:
    """The name of ``table``'s equality-only uniqueness constraint of its id."""
    return f"ex_{table}_{KEYS[table][0]}"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE reviews DROP CONSTRAINT {_SECOND}")
    for table, (column, index) in KEYS.items():
        op.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {table} "
                   f"(organisation_code, {column})")
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {exclusion(table)} "
                   f"EXCLUDE USING hash ({column} WITH =)")
        op.execute(f"ALTER TABLE {table} REPLICA IDENTITY USING INDEX {index}")
    op.execute(f"ALTER TABLE reviews ADD CONSTRAINT {_SECOND} FOREIGN KEY "
               "(organisation_code, second_review_of) REFERENCES reviews "
               "(organisation_code, review_id)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE reviews DROP CONSTRAINT {_SECOND}")
    for table, (column, index) in KEYS.items():
        op.execute(f"ALTER TABLE {table} REPLICA IDENTITY DEFAULT")
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {exclusion(table)}")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({column})")
        if table in MADE:
            op.execute(f"DROP INDEX {index}")
    op.execute(f"ALTER TABLE reviews ADD CONSTRAINT {_SECOND} FOREIGN KEY (second_review_of) "
               "REFERENCES reviews (review_id)")
