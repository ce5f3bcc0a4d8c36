"""Every "today" a person meets is the date in the UK, not the server's UTC date.

Before, approvals (and training rounds, refresher dates, the action register's default date, a
board pack's printed date) used the server's date: at 00:30 BST on 1 July a server on UTC still
had 30 June, so an approval starting on 1 July was refused as "starts on 2026-07-01", and one
ending on 30 June was still used. The clock is ``sjrlib.rules._utc_now`` (one place to patch).
"""

from __future__ import annotations

import datetime as dt

import pytest

from data_access.approvals import ApprovalRecord, check_usable
from data_access.roles import AccessDenied
from sjrlib import rules


def _half_past_midnight_bst() -> dt.datetime:
    return dt.datetime(2026, 6, 30, 23, 30, tzinfo=dt.UTC)  # 1 July, 00:30 in the UK


def _approval(start: dt.date, end: dt.date) -> ApprovalRecord:
    return ApprovalRecord("A-1", ("researcher_r",), "p", ("XA1",), "2025-04", "2026-03",
                          ("age_at_death",), False, "month", start, end, "active", None)


def test_an_approval_is_judged_on_the_uk_date(monkeypatch):
    monkeypatch.setattr(rules, "_utc_now", _half_past_midnight_bst)
    assert rules.uk_today() == dt.date(2026, 7, 1)
    # (the machine's own date, later than all of these, would give each the other answer)
    today_only = _approval(dt.date(2026, 7, 1), dt.date(2026, 7, 1))
    assert check_usable(today_only, "researcher_r", "A-1") is today_only
    tomorrow_on = _approval(dt.date(2026, 7, 2), dt.date(2099, 12, 31))
    with pytest.raises(AccessDenied, match="starts on 2026-07-02"):
        check_usable(tomorrow_on, "researcher_r", "A-1")
    ended_yesterday = _approval(dt.date(2026, 1, 1), dt.date(2026, 6, 30))
    with pytest.raises(AccessDenied, match="ended on 2026-06-30"):
        check_usable(ended_yesterday, "researcher_r", "A-1")


def test_no_server_date_is_taken_for_today_outside_the_synthetic_data():
    """A guard against a new ``date.today()``: the synthetic data and the demo may use the
    machine's date (they make up dates around it); nothing a person is judged by may."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    allowed = {"sjrlib/synthetic/generator.py", "data_access/demo.py",
               "data_access/training_demo.py"}
    found = [f"{path.relative_to(root)}:{n}"
             for folder in ("sjrlib", "data_access") for path in (root / folder).rglob("*.py")
             if str(path.relative_to(root)) not in allowed
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if "date.today()" in line and not line.lstrip().startswith("#")]
    assert found == []
