"""Governed access to the SJR store: the one door (``open_session``) and its refusals.

Notebooks, dashboards and reports read and write review data only through
:func:`open_session`; see ``docs/architecture.md`` ("The one door to the data").
"""

from data_access.extract_service import request_extract
from data_access.roles import AccessDenied
from data_access.session import Session, open_session

__all__ = ["AccessDenied", "Session", "open_session", "request_extract"]
