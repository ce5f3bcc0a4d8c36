"""a person's role records no content hash: the hash is the owner's word only (PostgreSQL)

Revision ID: 0028_owner_hashes
Revises: 0027_review_dates

A review's ``content_hash`` (revision ``0010_review_hash``) lets a re-import take a stored
review for unchanged without reading it back, while ``content_hash_version`` equals
``version``. The database cannot recompute the hash (it is pandas' hash of the import's
frame), so a hash says only what its writer claims. Revisions 0013, 0015 and 0021 give a
person's change a new version and clear the hash, but the insider audit of 2026-12-06 (second
round, left open as minor) had a lead rescore a review through its phases and then, in a later
statement, write the old hash back (``SET content_hash = <old>, content_hash_version =
version``): a corrective re-import of the original file found the tampered review "unchanged"
and left it. Allowing a person to set a hash only in the transaction that writes the review's
content would not do: the same person writes the rescoring and the old hash in one
transaction. Any hash a person records is their unchecked word.

Now a person's role records no hash. Their update may leave ``content_hash`` and
``content_hash_version`` as they are or clear the hash (as 0015's trigger does); one that sets
a hash, or makes a kept hash vouch for another version, is refused; so is a new review with a
hash. Both are checked at the end of the statement (constraint triggers whose ``WHEN`` skips
the owner and every row without a hash, so the owner's ``COPY`` stays a bulk insert and a
person's import, which writes no hash, pays nothing). The refusal names only the caller's own
row. The import (``data_access.bulk``) writes no hash on a person's connection: a re-import
by a person trusts the owner's hashes and compares every other review column by column.
Hashes recorded before this revision may be a person's: they are cleared, so the next
re-import compares each review once (as after 0010) and the owner's records it again. The
owner and services are unchanged. SQLite is one person's store (nothing changes there).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028_owner_hashes"
down_revision = "0027_review_dates"
branch_labels = None
depends_on = None

_UPDATED = ("NEW.content_hash IS NOT NULL AND (NEW.content_hash IS DISTINCT FROM "
            "OLD.content_hash OR NEW.content_hash_version IS DISTINCT FROM "
            "OLD.content_hash_version)")
"""A person's update that records a hash: a new one, or a kept one for another version."""


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    schema = bind.execute(sa.text("SELECT quote_ident(current_schema())")).scalar_one()
    owner = bind.execute(sa.text("SELECT current_user")).scalar_one()
    if "'" in owner:  # pragma: no cover - baked into a trigger's WHEN
        raise RuntimeError(f"the owner role's name {owner!r} holds a quote; rename it")
    op.execute(f"""CREATE OR REPLACE FUNCTION sjr_review_hash() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM users WHERE db_role = session_user::text) THEN
                RETURN NULL;  -- a service records its own hashes
            END IF;
            RAISE EXCEPTION 'review %: a content hash is recorded by the store''s owner only; '
                'a person may leave it or clear it (content_hash = NULL)', NEW.review_id
                USING ERRCODE = 'check_violation';
        END $$""")
    op.execute("REVOKE ALL ON FUNCTION sjr_review_hash() FROM PUBLIC")
    person = f"session_user <> '{owner}'"
    op.execute(f"CREATE CONSTRAINT TRIGGER sjr_review_hash_insert AFTER INSERT ON reviews "
               f"FOR EACH ROW WHEN ({person} AND NEW.content_hash IS NOT NULL) "
               f"EXECUTE FUNCTION sjr_review_hash()")
    op.execute(f"CREATE CONSTRAINT TRIGGER sjr_review_hash_update AFTER UPDATE ON reviews "
               f"FOR EACH ROW WHEN ({person} AND {_UPDATED}) "
               f"EXECUTE FUNCTION sjr_review_hash()")
    # hashes recorded so far may be a person's word: the next re-import compares once
    op.execute("UPDATE reviews SET content_hash = NULL, content_hash_version = NULL "
               "WHERE content_hash IS NOT NULL OR content_hash_version IS NOT NULL")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS sjr_review_hash_update ON reviews")
    op.execute("DROP TRIGGER IF EXISTS sjr_review_hash_insert ON reviews")
    op.execute("DROP FUNCTION IF EXISTS sjr_review_hash()")
