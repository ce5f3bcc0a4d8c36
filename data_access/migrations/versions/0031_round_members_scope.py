"""an organisation lead enrols reviewers only in their own organisation's calibration rounds

Revision ID: 0031_round_members_scope
Revises: 0030_queue_and_import_stamps

Revision ``0009_training`` let a lead write a row of ``calibration_round_members`` for a reviewer
of their organisation in any round. The insider audit of 2026-12-09 had the lead of one
organisation enrol their reviewers in another organisation's open round and then enter answers
there (revision ``0014_calibration_answers`` asks only that the reviewer be a member), so that
round's results, read whole by the programme team, held answers its organisation never asked
for. The access layer never does this: a lead creates rounds of their own organisation, of its
reviewers only, members with the round (``Session.create_calibration_round``). Now a lead's
insert or update of a member names a round of the lead's organisation as well; the programme
team writes any, as before, and a lead may still remove their own organisation's reviewers. The
owner and services are unchanged. SQLite is one person's store (nothing changes there).
"""

from __future__ import annotations

from alembic import op

revision = "0031_round_members_scope"
down_revision = "0030_queue_and_import_stamps"
branch_labels = None
depends_on = None

_ROLE = "(SELECT sjr_person_role())"
_ORG = "(SELECT sjr_person_organisation())"


def _write(*, own_round: bool) -> str:
    """Revision 0009's write condition for members, and with ``own_round`` the round's."""
    round_ = (" AND EXISTS (SELECT 1 FROM calibration_rounds r "
              "WHERE r.round_id = calibration_round_members.round_id "
              f"AND r.organisation_code = {_ORG})") if own_round else ""
    return (f"{_ROLE} = 'programme_team' OR ({_ROLE} = 'organisation_lead' AND "
            f"organisation_code = {_ORG}{round_})")


def _policies(*, own_round: bool) -> list[str]:
    write = _write(own_round=own_round)
    return [
        "DROP POLICY IF EXISTS person_insert ON calibration_round_members",
        "DROP POLICY IF EXISTS person_update ON calibration_round_members",
        f"CREATE POLICY person_insert ON calibration_round_members FOR INSERT "
        f"WITH CHECK ({write})",
        # the rows a lead may update are their organisation's (as before); what they become
        # must be a member of one of their organisation's rounds
        f"CREATE POLICY person_update ON calibration_round_members FOR UPDATE "
        f"USING ({_write(own_round=False)}) WITH CHECK ({write})",
    ]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in _policies(own_round=True):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in _policies(own_round=False):
        op.execute(statement)
