"""approvals: k for k-anonymity of extracts, whether deaths are released; the pseudonym
secrets moved out of the database into the approval key file

Revision ID: 0005_approval_safety
Revises: 0004_store_meta

- ``approvals.k`` (default 5, at least 2): every released combination of quasi-identifiers
  holds at least k cases (:mod:`data_access.anonymity`). Existing approvals get 5.
- ``approvals.deaths`` (default false): whether the approval releases counts of deaths.
  Existing approvals get false: no approved field covered them, so they are no longer released
  until an administrator adds an approval that says so.
- ``approval_secrets`` is emptied and dropped: every secret is first written to the approval
  key file (:mod:`data_access.approval_keys`: ``SJR_KEY_FILE``, else ``<store>.keys`` beside a
  SQLite file, else ``~/.config/sjr/keys/<host>-<port>-<database>.keys`` of whoever runs the
  upgrade, who then hands it to the service that makes extracts). The migration finds the file
  from the connection it runs on, the same way the access layer does later. If the file cannot
  be written the whole upgrade fails and the secrets stay where they were; nothing is lost.
  ``store_meta.approval_keys`` gets the random token that ties a key file to this store.

Downgrade re-creates an empty ``approval_secrets`` and drops the columns; the secrets stay in the
key file (a downgraded store's access layer cannot use them: restore from a backup instead).
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0005_approval_safety"
down_revision = "0004_store_meta"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from data_access.approval_keys import key_file_path, write_keys

    # The secrets first: on SQLite the batch rebuild of ``approvals`` below drops the old table,
    # and its ON DELETE CASCADE would empty approval_secrets before they were saved.
    bind = op.get_bind()
    token = bind.execute(sa.text("SELECT value FROM store_meta WHERE key = 'approval_keys'")
                         ).scalar()
    if token is None:
        token = secrets.token_hex(16)
        bind.execute(sa.text("INSERT INTO store_meta (key, value) VALUES ('approval_keys', :v)"),
                     {"v": token})
    rows = bind.execute(sa.text("SELECT approval_id, secret FROM approval_secrets")).all()
    if rows:
        write_keys(key_file_path(bind.engine.url), token,
                   {str(r[0]): bytes(r[1]) for r in rows})
    op.execute("DELETE FROM approval_secrets")
    op.drop_table("approval_secrets")
    with op.batch_alter_table("approvals") as batch:
        batch.add_column(sa.Column("k", sa.Integer(), server_default=sa.text("5"),
                                   nullable=False))
        batch.add_column(sa.Column("deaths", sa.Boolean(), server_default=sa.false(),
                                   nullable=False))
        batch.create_check_constraint("k", "k >= 2")


def downgrade() -> None:
    op.create_table(
        "approval_secrets",
        sa.Column("approval_id", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["approval_id"], ["approvals.approval_id"], ondelete="CASCADE",
                                name=op.f("fk_approval_secrets_approval_id_approvals")),
        sa.PrimaryKeyConstraint("approval_id", name=op.f("pk_approval_secrets")),
    )
    with op.batch_alter_table("approvals") as batch:
        batch.drop_constraint(op.f("ck_approvals_k"), type_="check")
        batch.drop_column("deaths")
        batch.drop_column("k")
    op.execute("DELETE FROM store_meta WHERE key = 'approval_keys'")
