"""Roles and what each may do (``shared/spec/privacy-and-disclosure.md``, "Roles").

A role is a fixed id; what it permits is written here once, as data, so the session, the CLI and
the tests read the same table. "If a use is not listed, it is not permitted."
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ADMINISTRATOR",
    "AccessDenied",
    "ORGANISATION_LEAD",
    "PERMISSIONS",
    "PROGRAMME_TEAM",
    "RESEARCHER",
    "REVIEWER",
    "ROLES",
    "ROLES_WITH_ORGANISATION",
    "may",
    "with_article",
]

class AccessDenied(PermissionError):
    """The user may not do this: unknown or disabled, wrong role, or outside their scope.

    The message says why, in words the user can act on (e.g. "approval DARG-1 ended on
    2026-03-31"), but never reveals data outside the user's scope.
    """


REVIEWER: Final = "reviewer"
ORGANISATION_LEAD: Final = "organisation_lead"
PROGRAMME_TEAM: Final = "programme_team"
RESEARCHER: Final = "researcher"
ADMINISTRATOR: Final = "administrator"

ROLES: tuple[str, ...] = (REVIEWER, ORGANISATION_LEAD, PROGRAMME_TEAM, RESEARCHER, ADMINISTRATOR)
"""Role ids, in the order of the spec's table."""

ROLES_WITH_ORGANISATION: frozenset[str] = frozenset({REVIEWER, ORGANISATION_LEAD})
"""Roles tied to one organisation: a user with one of these must have an organisation code."""

PERMISSIONS: dict[str, frozenset[str]] = {
    # own reviews, the own organisation's second-stage queue; writes own reviews
    REVIEWER: frozenset(
        {"organisations", "reviews", "review", "save_review", "second_stage_queue",
         "codebook", "code_review", "theme_codes"}
    ),
    # everything of the own organisation, including locking reviews and importing or exporting
    # the organisation's own files
    ORGANISATION_LEAD: frozenset(
        {"organisations", "reviews", "review", "save_review", "lock_review", "deaths",
         "second_stage_queue", "import", "export", "summary",
         "codebook", "code_review", "theme_codes",
         "actions", "actions.record", "actions.update",
         "actions.import"}  # their organisation's action register
    ),
    # all organisations, read only (national reporting)
    PROGRAMME_TEAM: frozenset(
        {"organisations", "reviews", "review", "deaths", "second_stage_queue", "summary",
         "codebook", "codebook.import", "theme_codes",  # the codebook is theirs to edit
         "actions"}  # every organisation's action register, read only
    ),
    # only through an approval: pseudonymised, coarsened, approved columns
    RESEARCHER: frozenset({"organisations", "reviews", "deaths", "approvals", "codebook"}),
    # users, approvals, the audit log; loads files into the store and exports them (the
    # operator's part); backs up and restores the whole store; no review data through the
    # analysis calls
    ADMINISTRATOR: frozenset({"organisations", "users", "approvals", "audit", "import",
                              "export", "summary", "codebook", "backup"}),
}
"""Which session actions (and administrative areas) each role may use."""


def may(role: str, action: str) -> bool:
    """Whether ``role`` may perform ``action`` (an entry of :data:`PERMISSIONS`)."""
    return action in PERMISSIONS.get(role, frozenset())


# -- training and calibration (issue 15; shared/spec/training.md) ----------------------------
# The trainer directory is public by design (every role reads it) and maintained by the
# programme team; training records and calibration answers are scoped like reviews (a reviewer
# their own, a lead their organisation's, the programme team all).
_TRAINING: dict[str, frozenset[str]] = {
    REVIEWER: frozenset({"trainers", "training_records", "training_cases", "calibration_rounds",
                         "calibration_answers", "save_calibration_answer"}),
    ORGANISATION_LEAD: frozenset({"trainers", "training_records", "training_records.import",
                                  "training_cases", "calibration_rounds",
                                  "calibration_rounds.create", "calibration_answers",
                                  "save_calibration_answer"}),
    PROGRAMME_TEAM: frozenset({"trainers", "trainers.import", "training_records",
                               "training_records.import", "training_cases",
                               "training_cases.import", "calibration_rounds",
                               "calibration_rounds.create", "calibration_answers"}),
    RESEARCHER: frozenset({"trainers"}),
    ADMINISTRATOR: frozenset({"trainers"}),
}
for _role, _actions in _TRAINING.items():
    PERMISSIONS[_role] = PERMISSIONS[_role] | _actions
del _role, _actions


def with_article(role: str) -> str:
    """``role`` with its indefinite article, for the sentences of a refusal: "a reviewer",
    "a programme_team", "an organisation_lead", "an administrator"."""
    return f"{'an' if role[:1].lower() in 'aeiou' else 'a'} {role}"
