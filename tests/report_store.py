"""A small store for the report tests (not a test file): 3 English trusts and 1 Scottish board
over two financial years, one of them named with HTML and a ``javascript:`` link, and users of
every role that matters to reports (registered through the governed session, as in production).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HOSTILE_NAME = ("<script>alert(1)</script> & <img src=x onerror=alert(2)> "
                "[click](javascript:alert(3))")
"""An organisation name that would run in a page that did not escape it."""
PERIOD = "2022-23"


@dataclass(frozen=True)
class ReportStore:
    url: str
    db_file: Path
    codes: list[str]          # codes[0] is named HOSTILE_NAME; codes[-1] is Scottish
    names: dict[str, str]
    programme: str            # programme_team
    lead: str                 # organisation_lead of codes[0]
    reviewer: str             # reviewer at codes[0]
    admin: str


def build(folder: Path) -> ReportStore:
    """Create the store in ``folder / "sjr.db"`` and register its users."""
    from dashboard_store import add_users, populate

    from sjrlib.synthetic import generate

    data = generate(n_organisations=4, years=2, seed=3, n_scottish=34)
    assert set(data.organisations["nation"]) == {"england", "scotland"}
    data.organisations.loc[0, "name"] = HOSTILE_NAME
    db_file = folder / "sjr.db"
    url = f"sqlite:///{db_file}"
    populate(url, data)
    codes = list(data.organisations["organisation_code"])
    users = add_users(url, codes[0])
    names = dict(zip(codes, data.organisations["name"], strict=True))
    return ReportStore(url, db_file, codes, names, users.programme, users.lead, users.reviewer,
                       users.admin)
