"""content hash per review, so a no-op re-import costs a read (issue 17 part 6)

Revision ID: 0010_review_hash
Revises: 0009_training

Two nullable columns on ``reviews``:

- ``content_hash``: a 64-bit hash (signed, as BIGINT holds it) of the review's exchange columns
  as an import last wrote them (:func:`data_access.bulk.content_hashes`);
- ``content_hash_version``: the review ``version`` that hash describes. Every other write
  (a reviewer's save, a status change) bumps ``version`` without touching the hash, so the hash
  counts only while the two are equal; no other write path needs to know about it.

Not back-filled here: the hash is of the import's frame, and computing it from stored rows
would put the application's loader inside a migration (frozen schema history) and cost the
time of a full load at ``sjr init-db``. A review without a valid hash is compared column by
column as before, the first time a re-import meets it, and its hash is filled in then (without
a new version or saved-at). Plain ``ALTER TABLE ... ADD COLUMN`` on both engines (a SQLite
batch copy of ``reviews`` would cascade-delete its child rows, see ``0007_form_versions``).
"""

from __future__ import annotations

from alembic import op

revision = "0010_review_hash"
down_revision = "0009_training"
branch_labels = None
depends_on = None

_COLUMNS = (("content_hash", "BIGINT"), ("content_hash_version", "INTEGER"))


def upgrade() -> None:
    for column, ddl in _COLUMNS:
        op.execute(f"ALTER TABLE reviews ADD COLUMN {column} {ddl}")


def downgrade() -> None:
    for column, _ddl in reversed(_COLUMNS):
        op.execute(f"ALTER TABLE reviews DROP COLUMN {column}")
