"""Who may produce which report.

There is no system user: a report reads its data as the person who produces it (the identity
``data_access.identity.resolve_username`` finds for the command, or the ``user`` parameter of a
notebook run by hand), through the governed session, and this module decides whether that
person may produce the report asked for:

- the national report, and ``sjr report all``: the programme team only. Its scope is every
  organisation; a user whose scope is narrower (an organisation lead) would otherwise get a
  "national" report over their own organisation, so they are refused, not narrowed.
- a trust (or health board) report: the programme team, or the lead of that organisation.

Anyone else is refused with :class:`data_access.AccessDenied` before any data is read for the
report, and the refusal is written to the audit log (``report.denied``).
"""

from __future__ import annotations

from collections.abc import Sequence

from data_access.roles import ORGANISATION_LEAD, PROGRAMME_TEAM, AccessDenied

__all__ = ["check_report_access", "report_refusal"]


def report_refusal(role: str, scope: Sequence[str] | None, user: str, what: str,
                   codes: Sequence[str] = ()) -> str | None:
    """Why ``user`` (``role``, organisations ``scope``; None = all) may not produce ``what``
    (``"national"``, ``"trust"`` with ``codes``, ``"all"``), or None when they may."""
    if role == PROGRAMME_TEAM and scope is None:
        return None
    if what in ("national", "all"):
        kind = "the national report" if what == "national" else "every report"
        return (f"{user!r} ({role}) may not produce {kind}: it covers all organisations, so "
                "only the programme team may produce it")
    if role == ORGANISATION_LEAD and scope is not None:
        outside = sorted(set(codes) - set(scope))
        if not outside:
            return None
        return (f"{user!r} (lead of {', '.join(scope)}) may only produce their own "
                f"organisation's report, not {', '.join(outside)}")
    return (f"{user!r} ({role}) may not produce trust reports: only the programme team or the "
            "organisation's lead may")


def check_report_access(session, what: str, codes: Sequence[str] = (), *, engine=None,
                        tool: str = "report") -> None:
    """Raise :class:`~data_access.AccessDenied` unless the session's user may produce ``what``.

    Parameters
    ----------
    session
        An open governed session (``data_access.open_session``).
    what
        ``"national"``, ``"trust"`` or ``"all"``.
    codes
        The organisations of a ``"trust"`` request.
    engine
        The engine the session was opened on; when given, a refusal is audited as
        ``report.denied`` (who, the report asked for, why).
    """
    reason = report_refusal(session.role, session.organisation_codes, session.user, what, codes)
    if reason is None:
        return
    if engine is not None:
        from data_access import audit

        with engine.begin() as conn:
            audit.lock(conn)
            audit.append(conn, username=session.user, role=session.role,
                         action="report.denied",
                         scope={"report": what, "organisations": list(codes),
                                "reason": reason}, tool=tool)
    raise AccessDenied(reason)
