"""What JupyterHub starts for one person: decided from the SJR users table.

``deploy/jupyterhub_config.py`` calls :func:`spawn_plan` from its ``pre_spawn_hook`` with the
hub's own database credentials (``SJR_SERVICE_DATABASE_URL``, a service or owner role, never a
person's). The plan says which interface the person's single-user server offers:

- organisation leads and the programme team: the Voila dashboards only, opening on the
  exploration dashboard (no JupyterLab, no notebook interface, no terminals);
- reviewers: the dashboards only, opening on the review entry form;
- researchers: JupyterLab, opening on their copy of the researcher quick-start notebook; their
  extracts come from the extract service (:mod:`data_access.extract_service`), because their
  own database role reads no review rows;
- administrators, unknown and disabled names: no server at all (:class:`SpawnRefused`).
  Administration is done with ``sjr`` on the operator's machine.

:func:`person_database_url` fills the per-person database URL template, so each person's kernels
connect as that person's own database role.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, inspect, text

from data_access.identity import UserRecord, get_user
from data_access.roles import (
    ADMINISTRATOR,
    ORGANISATION_LEAD,
    PROGRAMME_TEAM,
    RESEARCHER,
    REVIEWER,
)

__all__ = [
    "DASHBOARDS",
    "LAB",
    "QUICKSTART_NOTEBOOK",
    "SpawnPlan",
    "SpawnRefused",
    "person_database_url",
    "spawn_plan",
]

DASHBOARDS = "dashboards"
"""Interface: the Voila dashboards only."""
LAB = "lab"
"""Interface: JupyterLab."""
QUICKSTART_NOTEBOOK = "researcher_quickstart.ipynb"

_DEFAULT_URLS = {
    ORGANISATION_LEAD: (DASHBOARDS, "/voila/render/explore.ipynb"),
    PROGRAMME_TEAM: (DASHBOARDS, "/voila/render/explore.ipynb"),
    REVIEWER: (DASHBOARDS, "/voila/render/review_entry.ipynb"),
    RESEARCHER: (LAB, f"/lab/tree/{QUICKSTART_NOTEBOOK}"),
}


class SpawnRefused(PermissionError):
    """This person gets no server; the message says why, in words they can act on."""


@dataclass(frozen=True)
class SpawnPlan:
    """What one person's single-user server offers and how its kernels connect."""

    username: str
    role: str
    interface: str  # DASHBOARDS or LAB
    default_url: str
    db_role: str | None  # the person's own database role (users.db_role), if any


def _db_role(conn: Connection, username: str) -> str | None:
    """``users.db_role`` of ``username`` (``None`` on a store without the column, or unset)."""
    columns = {c["name"] for c in inspect(conn).get_columns("users")}
    if "db_role" not in columns:
        return None
    return conn.execute(text("SELECT db_role FROM users WHERE username = :u"),
                        {"u": username}).scalar_one_or_none()


def spawn_plan(username: str, engine: Engine) -> SpawnPlan:
    """Decide what the hub starts for ``username``.

    Parameters
    ----------
    username
        The name the hub's authenticator signed in.
    engine
        The SJR store, opened with the hub's own (service or owner) credentials.

    Raises
    ------
    SpawnRefused
        An unknown or disabled name, or an administrator (no server under the hub).
    """
    with engine.connect() as conn:
        user: UserRecord | None = get_user(conn, username)
        db_role = _db_role(conn, username) if user is not None else None
    if user is None:
        raise SpawnRefused(f"Access denied: {username!r} is not a registered SJR user. Ask an "
                           "SJR administrator to register you (`sjr users add`).")
    if user.disabled:
        raise SpawnRefused(f"Access denied: the SJR user {username!r} is disabled.")
    if user.role == ADMINISTRATOR or user.role not in _DEFAULT_URLS:
        raise SpawnRefused(f"Access denied: {username!r} is an SJR {user.role}; administration "
                           "is done with `sjr` on the operator's machine, not through the hub.")
    interface, default_url = _DEFAULT_URLS[user.role]
    return SpawnPlan(username, user.role, interface, default_url, db_role)


def person_database_url(template: str, plan: SpawnPlan) -> str:
    """The database URL of one person's server: ``template`` with ``{db_role}`` and ``{user}``
    filled in.

    Raises
    ------
    SpawnRefused
        The template names ``{db_role}`` and the person has no database role yet.
    """
    if "{db_role}" in template and not plan.db_role:
        raise SpawnRefused(f"Access denied: {plan.username!r} has no database role yet; an "
                           "administrator registers one with `sjr users add` on PostgreSQL.")
    return template.replace("{db_role}", plan.db_role or "").replace("{user}", plan.username)
