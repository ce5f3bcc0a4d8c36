"""When the review form arms its leave guard (``sjrlib.dashboards.leave_guard``): while typing is
unsaved, in the form or put aside, and not otherwise. The browser side (the question, staying,
the kernel shut down on leaving) is tests/browser/test_entry_leave_guard.py."""

from __future__ import annotations

import datetime as dt

import pytest
from dashboard_store import add_users, populate

from data_access import open_session


@pytest.fixture(scope="module")
def entry_store(tmp_path_factory, small_data):
    url = f"sqlite:///{tmp_path_factory.mktemp('leave-guard') / 'sjr.db'}"
    populate(url, small_data)
    return url, add_users(url, str(small_data.organisations["organisation_code"].iloc[0]))


def test_armed_while_typing_is_unsaved_here_or_put_aside(entry_store):
    from sjrlib.dashboards.entry_form import ReviewForm
    from sjrlib.dashboards.leave_guard import LeaveGuard

    url, users = entry_store
    form = ReviewForm(open_session(users.reviewer, url, tool="test"), today=dt.date(2026, 11, 20))
    guard = form.leave_guard
    assert isinstance(guard, LeaveGuard) and guard in form.widget.children
    assert not guard.armed  # a new, empty form: nothing to lose

    form.fields["case_id"].widget.value = "GUARD-0001"
    assert guard.armed
    assert form.save(submit=False)  # saved as a draft
    assert not guard.armed

    form.fields["age_at_death"].widget.value = "81"
    assert guard.armed
    form.new_button.click()  # the unsaved change is put aside; the new form is empty
    assert form._aside and guard.armed
    form.aside_discard.click()
    assert not form._aside and not guard.armed

    form.fields["case_id"].widget.value = "GUARD-0002"
    form.new_button.click()
    form.aside_restore.click()  # back in the form, still unsaved
    assert not form._aside and guard.armed
