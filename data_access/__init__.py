"""Governed access to the SJR store: the one door (``open_session``) and its refusals.

Notebooks, dashboards and reports read and write review data only through
:func:`open_session`; see ``docs/architecture.md`` ("The one door to the data").
"""

from data_access.roles import AccessDenied
from data_access.session import Session, open_session

__all__ = ["AccessDenied", "Session", "open_session", "request_extract"]


def __getattr__(name: str):
    # imported when first asked for: the extract service's chain (approvals, the extract
    # writer) costs every dashboard kernel about half a CPU second at start, and only the
    # researchers' quick start uses it
    if name == "request_extract":
        from data_access.extract_service import request_extract

        return request_extract
    raise AttributeError(f"module 'data_access' has no attribute {name!r}")
