"""persons register reviewers through ``sjr_reviewers_add`` and read, write or probe nothing of
``reviewers`` themselves (PostgreSQL)

Revision ID: 0039_reviewers_by_function
Revises: 0038_people_keys_by_equality

``reviewers`` keys every reviewer id of the store, across organisations, by a one-column
B-tree primary key, which the reviews' foreign key needs. Row-level security filters rows
after the scan that fetched them, and ``EXPLAIN ANALYZE`` prints what the scan fetched, so as
a lead's or reviewer's own role ``SET enable_seqscan = off; EXPLAIN ANALYZE SELECT 1 FROM
reviewers WHERE reviewer_id >= 'A' AND reviewer_id < 'B'`` counted every organisation's
reviewers in that range (``docs/security.md``, still-open item 1), and with sequential scans
the read policy's function ran, and its service check printed "actual rows", only when a row
of the range existed. A key that a foreign key points at cannot be made equality-only
(revisions 0037 and 0038), and the table is not keyed by organisation (a reviewer may review
at several).

No person needs the table itself: the access layer only registers the reviewer a saved or
imported review names, if new. So:

- ``sjr_reader`` (leads, reviewers, the programme team; revision ``0033_reader_group``) loses
  ``SELECT``, ``INSERT``, ``UPDATE`` and ``DELETE`` on ``reviewers``: every statement of a
  person on it, ``EXPLAIN`` included, is refused, as a researcher's was;
- ``sjr_reviewers_add(reviewers text[], organisations text[])`` (definer) registers each
  reviewer not yet registered, first seen at the organisation given, and says nothing of
  those already registered (``ON CONFLICT DO NOTHING``: whether an id was in use elsewhere is
  not its answer). It refuses, in one message, any pair its caller may not write a review of:
  a lead names their own organisation, a reviewer only themselves at theirs (the write policy
  of revision ``0003_security``, ``sjr_writes_reviewer``).

A lead's import that names a reviewer first seen at another organisation is now accepted, as
the store's owner's import and SQLite's always accepted it: it was refused through a lead's role
only because the lead could not see the reviewer's row and tried to add it again
(``pk_reviewers``). The reviews' foreign key to ``reviewers`` still tells whether a reviewer id
is registered when a person's own ``INSERT`` names one without registering it first
(``docs/security.md``, still-open item 3). SQLite is one person's store: nothing changes there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0039_reviewers_by_function"
down_revision = "0038_people_keys_by_equality"
branch_labels = None
depends_on = None

READER_GROUP = "sjr_reader"
PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
"""What ``sjr_reader`` held on ``reviewers`` (revision ``0033_reader_group``)."""
ADD = "sjr_reviewers_add(text[], text[])"
REFUSED = ("you may register only reviewers of your own organisation (a reviewer: only "
           "yourself)")


def _definer() -> str:
    schema = op.get_bind().execute(sa.text("SELECT quote_ident(current_schema())")).scalar_one()
    return f"SECURITY DEFINER SET search_path = {schema}, pg_temp"


def _add_function() -> str:
    return f"""
CREATE OR REPLACE FUNCTION sjr_reviewers_add(p_reviewers text[], p_organisations text[])
RETURNS void LANGUAGE plpgsql {_definer()} AS $$
BEGIN
    IF coalesce(cardinality(p_reviewers), 0) <> coalesce(cardinality(p_organisations), 0) THEN
        RAISE EXCEPTION 'sjr_reviewers_add: give as many organisations as reviewers'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(p_reviewers, p_organisations) AS given(r, o)
               WHERE r IS NOT NULL AND NOT coalesce(sjr_writes_reviewer(r, o), false)) THEN
        RAISE EXCEPTION '{REFUSED}' USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO reviewers (reviewer_id, organisation_code)
    SELECT DISTINCT ON (r) r, o FROM unnest(p_reviewers, p_organisations) AS given(r, o)
    WHERE r IS NOT NULL ORDER BY r
    ON CONFLICT DO NOTHING;
END $$"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_add_function())
    op.execute(f"REVOKE ALL ON FUNCTION {ADD} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {ADD} TO {READER_GROUP}")
    op.execute(f"REVOKE {PRIVILEGES} ON reviewers FROM {READER_GROUP}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"GRANT {PRIVILEGES} ON reviewers TO {READER_GROUP}")
    op.execute(f"DROP FUNCTION IF EXISTS {ADD}")
