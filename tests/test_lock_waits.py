"""No request waits without end, and an import and a save never deadlock (issue 17 part 2).

On both databases: a request that finds the store held (an import or backup holding the audit
chain lock) waits at most ``SJR_LOCK_WAIT_SECONDS`` and then fails with "the store is busy",
having changed nothing; and the scenario that deadlocked on PostgreSQL (an import of a file
naming a reviewer, and that reviewer's first save at the same time) now runs both to the end,
the save after the import, because every governed call takes the audit chain lock first.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from data_access import audit, open_session
from data_access.faults import describe_fault
from data_access.store import get_engine


@pytest.fixture
def store(populated_db_url, small_data):
    from dashboard_store import add_users

    org = str(small_data.organisations["organisation_code"].iloc[0])
    return populated_db_url, add_users(populated_db_url, org), org


def _hold_audit_lock(url: str, release: threading.Event, held: threading.Event) -> None:
    engine = get_engine(url)
    try:
        with engine.begin() as conn:
            audit.lock(conn)  # what an import or a backup holds for its whole length
            held.set()
            release.wait(60)
    finally:
        engine.dispose()


def test_a_request_behind_a_held_store_gives_up_in_words(store, monkeypatch):
    """A save (reads no longer wait on SQLite: tests/test_audit_queue.py)."""
    from dashboard_store import first_stage_values

    url, users, _ = store
    monkeypatch.setenv("SJR_LOCK_WAIT_SECONDS", "1")
    release, held = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_audit_lock, args=(url, release, held))
    session = open_session(users.reviewer, url, tool="test")
    holder.start()
    try:
        assert held.wait(30)
        started = time.monotonic()
        with pytest.raises(Exception) as info:  # noqa: PT011 - the fault is checked below
            session.save_review(first_stage_values("HELD-1"))
        waited = time.monotonic() - started
    finally:
        release.set()
        holder.join(60)
        session.close()
    message = describe_fault(info.value)
    assert message is not None and "busy" in message and "Try again in a minute" in message
    assert waited < 20  # not the import's length: the lock wait, and the session's own start
    # nothing was half-saved: the save's audit entry is not there, the chain is whole
    engine = get_engine(url)
    try:
        with engine.begin() as conn:
            assert audit.verify(conn).ok
            actions = [r[0] for r in conn.execute(text(
                "SELECT action FROM audit_log ORDER BY id DESC LIMIT 3"))]
    finally:
        engine.dispose()
    assert "save_review" not in actions


def test_an_import_and_a_named_reviewers_first_save_both_finish(store, tmp_path):
    """The scenario of the PostgreSQL deadlock: the import file names reviewer RVW-A, who
    saves their first review while the import runs."""
    from dashboard_store import first_stage_values

    from sjrlib import io
    from sjrlib.synthetic import generate

    url, users, org = store
    more = generate(n_organisations=4, years=1, seed=21).reviews
    codes = list(more["organisation_code"].drop_duplicates())
    engine = get_engine(url)
    with engine.connect() as conn:
        known = [r[0] for r in conn.execute(text("SELECT code FROM organisations ORDER BY code"))]
    engine.dispose()
    more["organisation_code"] = more["organisation_code"].map(dict(zip(codes, known,
                                                                       strict=False)))
    for column in ("review_id", "case_id", "second_review_of"):
        more[column] = "IMP-" + more[column].astype("string")
    mine = (more["organisation_code"] == org) & (more["review_stage"] == "first")
    more.loc[mine[mine].index[:50], "reviewer_id"] = "RVW-A"
    file = tmp_path / "reviews.csv"
    io.write_reviews(more, file)

    outcome: dict[str, object] = {}

    def run_import() -> None:
        try:
            with open_session(users.admin, url, tool="test") as admin:
                outcome["import"] = admin.import_file("reviews", file)
        except Exception as exc:  # noqa: BLE001 - reported below
            outcome["import"] = exc

    worker = threading.Thread(target=run_import)
    worker.start()
    time.sleep(0.5)  # the import is under way
    with open_session(users.reviewer, url, tool="test") as reviewer:
        try:
            saved = reviewer.save_review(first_stage_values("NEW-CASE-1"))
        except Exception as exc:  # noqa: BLE001 - reported below
            saved = exc
    worker.join(300)
    assert not isinstance(outcome.get("import"), Exception), outcome.get("import")
    assert not isinstance(saved, Exception), saved
    assert outcome["import"].inserted == len(more)
    with open_session(users.reviewer, url, tool="test") as reviewer:
        assert reviewer.review(saved[0])["reviewer_id"] == "RVW-A"
