"""an import's ANALYZE before its commit takes the statistics of the columns plans turn on only;
autovacuum makes the rest soon after (PostgreSQL)

Revision ID: 0036_analyse_key_columns
Revises: 0035_children_scope

Revision 0035's ``sjr_analyse_review_tables(inserted)`` analyses the five review tables, every
column, before an import that grew them by half or more commits (``bulk._analyse_grown``):
without statistics a lead's or reviewer's first load after a first import had been planned as
a nested loop that ran for more than 18 minutes. What that plan needed was the tables' row
counts and the statistics of the columns the scopes, keys and joins compare
(:data:`KEY_COLUMNS`), not those of the free text and answers, which took most of the time:
at 200,000 reviews, on the two-core machine, all columns 1.6-1.9 s, these 0.8 s
(``docs/scaling.md``).

So the function now analyses :data:`KEY_COLUMNS` only. The rest follows as it did: the rows a
transaction inserts are counted as the table's changes since its last analysis when it commits,
after any ``ANALYZE`` inside it (measured on PostgreSQL 15: 10,000 rows inserted and analysed in
one transaction leave ``n_mod_since_analyze`` at 10,000, whether every column was analysed or
one), so autovacuum analyses the whole tables within a minute or so of the import's commit,
as it did after revision 0035's whole-table ``ANALYZE`` too. The decision (half the stored
count or more) is unchanged.
"""

from __future__ import annotations

from alembic import op

from data_access.revisions import earlier_revision

revision = "0036_analyse_key_columns"
down_revision = "0035_children_scope"
branch_labels = None
depends_on = None

KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "reviews": ("review_id", "organisation_code", "review_stage", "status", "reviewer_id",
                "second_review_of", "case_id", "death_month", "form_version"),
    "phase_assessments": ("organisation_code", "review_id", "phase"),
    "problems": ("organisation_code", "review_id", "problem_type"),
    "review_reasons": ("organisation_code", "review_id", "reason"),
    "referrals": ("organisation_code", "review_id", "referral_type"),
}
"""What the read policies, the keys and the review frame's joins compare, table by table."""


def _analyse_function(tables: str) -> str:
    old = earlier_revision("0035_children_scope")
    body = old._analyse_function()
    whole = f"ANALYZE {', '.join(old._ANALYSED)};"
    assert whole in body, "revision 0035's function changed shape"
    return body.replace(whole, f"ANALYZE {tables};")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    columns = ", ".join(f"{table} ({', '.join(names)})" for table, names in KEY_COLUMNS.items())
    op.execute(_analyse_function(columns))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(earlier_revision("0035_children_scope")._analyse_function())
